/* The model store and loader against the real S3Proxy of the devstack:
 * published -> fetched with parallel ranged GETs -> verified -> loaded ->
 * golden-checked; each refusal with its stage; the delta update; then S3
 * "down" (an endpoint nothing listens on) with the warm cache. */
#include "common/kf_clock.h"
#include "tests/lib/kf_test.h"
#include "tests/worker/store/kt_fixture.h"
#include "worker/loader.h"
#include "worker/store.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static struct crypto_ed25519_key trusted_key, other_key;
static crypto_keyring *ring;
static uint64_t run_seed;
static objstore *os;
static char *cache;
static model_store *st;
static struct kern_backend *be;
static char prefix[64];

/* Every object this run uploaded, deleted at the end (chunks are unique to
 * the run's seed, so no other test's objects are touched). */
static char **uploaded;
static size_t n_uploaded;

static void remember(const char *key)
{
    uploaded = realloc(uploaded, (n_uploaded + 1) * sizeof(*uploaded));
    KT_ASSERT(uploaded && (uploaded[n_uploaded] = strdup(key)));
    n_uploaded++;
}

static void publish(const struct kt_version *v)
{
    kt_version_publish(os, v);
    char key[512];
    for (size_t i = 0; i < v->m->n_chunks; i++) {
        snprintf(key, sizeof(key), "blobs/sha256/%s", v->m->chunks[i].sha256);
        remember(key);
    }
    remember(v->ref.key);
    snprintf(key, sizeof(key), "models/%s/%s/manifest.sig", v->model, v->version);
    remember(key);
}

/* 256 -> 512 -> 256 -> 10, f32: about 1 MiB in 64 KiB chunks. */
static struct kt_spec spec(const char *name, const char *version, uint64_t seq, uint64_t seed)
{
    static char models[16][96];
    static int next;
    char *model = models[next++ % 16];
    snprintf(model, sizeof(models[0]), "%s-%s", prefix, name);
    return (struct kt_spec){
        .model = model,
        .version = version,
        .seq = seq,
        .input_width = 256,
        .n_layers = 3,
        .widths = {512, 256, 10},
        .dtype = SCHEMA_DTYPE_F32,
        .act = ARCH_ACT_GELU,
        .softmax = true,
        .seed = run_seed ^ seed,
        .chunk_size = 64 << 10,
        .golden_rows = 8,
    };
}

static model_store *open_store(objstore *o, int deadline_ms)
{
    char err[512];
    struct store_conf c = {
        .os = o,
        .cache_dir = cache,
        .trusted = ring,
        .parallel = 8,
        .part_size = 24 << 10, /* three ranged GETs per chunk */
        .deadline_ms = deadline_ms,
        .keep_versions = 3,
    };
    model_store *s = store_new(&c, err, sizeof(err));
    KT_ASSERT_MSG(s, "store_new: %s", err);
    return s;
}

/* fetch + load + golden check, the worker's path; returns the stage reached. */
static int fetch_and_load(const struct kt_version *v, enum ctl_stage *stage, char *err,
                          size_t err_size, struct store_version **svp)
{
    struct store_version *sv = NULL;
    int rc = store_fetch(st, v->model, v->version, &v->ref, &sv, stage, err, err_size);
    if (!rc) {
        struct slot_version *sl = NULL;
        rc = loader_load(be, sv, 16, &sl, NULL, stage, err, err_size);
        loader_version_free(sl);
    }
    if (svp)
        *svp = sv;
    else
        store_version_free(sv);
    return rc;
}

static void expect_refused(const struct kt_version *v, int want, enum ctl_stage want_stage,
                           const char *text)
{
    enum ctl_stage stage = CTL_STAGE_HEALTH;
    char err[1024] = "";
    int rc = fetch_and_load(v, &stage, err, sizeof(err), NULL);
    printf("  %s/%s refused: %d stage %s: %s\n", v->model, v->version, rc, ctl_stage2str(stage),
           err);
    KT_ASSERT_INT_EQ(rc, want);
    KT_ASSERT_INT_EQ(stage, want_stage);
    KT_ASSERT_MSG(strstr(err, text), "reason lacks \"%s\"", text);
}

static struct kt_version good1, good2;

static void test_good_and_delta(void)
{
    struct kt_spec s = spec("good", "v1", 1, 1);
    kt_version_build(&s, &trusted_key, &good1);
    s.version = "v2";
    s.seq = 2;
    s.tweak_last = 2;
    kt_version_build(&s, &trusted_key, &good2);
    publish(&good1);
    publish(&good2);
    printf("  %zu chunks, %zu bytes\n", good1.m->n_chunks, good1.blob.len);
    KT_ASSERT(good1.m->n_chunks >= 16);

    struct objstore_counts c0, c1;
    objstore_counts(os, &c0);
    struct store_version *sv;
    enum ctl_stage stage;
    char err[1024];
    int rc = fetch_and_load(&good1, &stage, err, sizeof(err), &sv);
    KT_ASSERT_MSG(rc == 0, "v1: stage %s: %s", ctl_stage2str(stage), err);
    objstore_counts(os, &c1);
    KT_ASSERT(!memcmp(sv->blob, good1.blob.ptr, good1.blob.len));
    KT_ASSERT_INT_EQ(sv->counts.bytes_fetched, good1.blob.len);
    /* Ranged GETs of 24 KiB: three per 64 KiB chunk, plus manifest and signature. */
    printf("  v1: %llu GETs, fetch %llu us, verify %llu us (hash %llu us)\n",
           (unsigned long long)(c1.gets - c0.gets), (unsigned long long)sv->timings.fetch_us,
           (unsigned long long)sv->timings.verify_us, (unsigned long long)sv->timings.hash_us);
    KT_ASSERT(c1.gets - c0.gets >= 3 * (good1.m->n_chunks - 1) + 2);
    store_version_free(sv);

    rc = fetch_and_load(&good2, &stage, err, sizeof(err), &sv);
    KT_ASSERT_MSG(rc == 0, "v2: stage %s: %s", ctl_stage2str(stage), err);
    printf("  delta: fetched %llu bytes (%u chunks), reused %llu bytes (%u chunks)\n",
           (unsigned long long)sv->counts.bytes_fetched, sv->counts.chunks_fetched,
           (unsigned long long)sv->counts.bytes_reused, sv->counts.chunks_reused);
    KT_ASSERT(sv->counts.bytes_fetched < good2.blob.len);
    KT_ASSERT_INT_EQ(sv->counts.chunks_fetched, 1);
    KT_ASSERT(!memcmp(sv->blob, good2.blob.ptr, good2.blob.len));
    store_version_free(sv);
}

static void test_refusals(void)
{
    struct kt_version v;
    struct kt_spec s = spec("tampered", "v1", 1, 2);
    kt_version_build(&s, &trusted_key, &v);
    publish(&v);
    kt_tamper_chunk(os, &v, 5);
    expect_refused(&v, -EBADMSG, CTL_STAGE_VERIFY, "chunk 5 of");
    kt_version_fini(&v);

    s = spec("badsig", "v1", 1, 3);
    kt_version_build(&s, &trusted_key, &v);
    kt_version_bad_sig(&v, &trusted_key);
    publish(&v);
    expect_refused(&v, -EBADMSG, CTL_STAGE_VERIFY, "bad signature");
    kt_version_fini(&v);

    s = spec("unknownkey", "v1", 1, 4);
    kt_version_build(&s, &other_key, &v);
    publish(&v);
    expect_refused(&v, -ENOKEY, CTL_STAGE_VERIFY, other_key.key_id);
    kt_version_fini(&v);

    s = spec("digest", "v1", 1, 5);
    kt_version_build(&s, &trusted_key, &v);
    publish(&v);
    v.ref.sha256[10] = v.ref.sha256[10] == 'a' ? 'b' : 'a';
    expect_refused(&v, -EBADMSG, CTL_STAGE_VERIFY, "differs from the announced");
    kt_version_fini(&v);

    s = spec("golden", "v1", 1, 6);
    s.golden_skew = 0.25f;
    kt_version_build(&s, &trusted_key, &v);
    publish(&v);
    expect_refused(&v, -EBADMSG, CTL_STAGE_VALIDATE, "row 0 column 0");
    kt_version_fini(&v);
}

static void test_s3_down(void)
{
    char err[1024];
    struct objstore_s3_opts o = {
        .endpoint = "127.0.0.1:19099",
        .access_key = getenv("KFLEET_S3_ACCESS_KEY"),
        .secret_key = getenv("KFLEET_S3_SECRET_KEY"),
        .timeout_ms = 500,
    };
    char url[128];
    snprintf(url, sizeof(url), "s3://%s", getenv("KFLEET_S3_BUCKET"));
    objstore *down = objstore_new(url, &o, err, sizeof(err));
    KT_ASSERT_MSG(down, "objstore_new: %s", err);
    const int deadline_ms = 2000;
    model_store *s2 = open_store(down, deadline_ms);

    /* Warm cache: the newest verified version, without S3. */
    struct store_version *sv;
    enum ctl_stage stage;
    int rc = store_fetch_cached(s2, good2.model, NULL, NULL, &sv, &stage, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "store_fetch_cached: %s", err);
    KT_ASSERT_STR_EQ(sv->version, "v2");
    KT_ASSERT(!memcmp(sv->blob, good2.blob.ptr, good2.blob.len));
    struct slot_version *sl;
    KT_ASSERT_INT_EQ(loader_load(be, sv, 16, &sl, NULL, &stage, err, sizeof(err)), 0);
    loader_version_free(sl);
    store_version_free(sv);

    /* A version the cache does not hold: stage fetch, within the deadline. */
    struct kt_version v;
    struct kt_spec s = spec("down", "v1", 1, 7);
    kt_version_build(&s, &trusted_key, &v);
    int64_t t0 = kf_clock_mono_us();
    rc = store_fetch(s2, v.model, v.version, &v.ref, &sv, &stage, err, sizeof(err));
    long long ms = (long long)((kf_clock_mono_us() - t0) / 1000);
    printf("  S3 down: %d stage %s after %lld ms: %s\n", rc, ctl_stage2str(stage), ms, err);
    KT_ASSERT(rc == -ECONNREFUSED || rc == -ETIMEDOUT);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_FETCH);
    KT_ASSERT(ms >= deadline_ms - 100 && ms <= deadline_ms + 1500);
    kt_version_fini(&v);
    store_free(s2);
    objstore_free(down);
}

int main(void)
{
    const char *endpoint = kt_service_env("KFLEET_S3_ENDPOINT");
    const char *bucket = kt_service_env("KFLEET_S3_BUCKET");
    const char *ak = kt_service_env("KFLEET_S3_ACCESS_KEY");
    const char *sk = kt_service_env("KFLEET_S3_SECRET_KEY");
    run_seed = (uint64_t)kf_clock_wall_ms() ^ ((uint64_t)getpid() << 32);
    printf("# seed %llu\n", (unsigned long long)run_seed);
    snprintf(prefix, sizeof(prefix), "kt-store-%llx", (unsigned long long)run_seed);

    char err[512], url[128];
    snprintf(url, sizeof(url), "s3://%s", bucket);
    struct objstore_s3_opts o = {.endpoint = endpoint,
                                 .access_key = ak,
                                 .secret_key = sk,
                                 .https = kt_s3_https(),
                                 .signature_v2 = kt_s3_sigv2(),
                                 .ca_file = kt_s3_ca_file()};
    os = objstore_new(url, &o, err, sizeof(err));
    if (!os) {
        fprintf(stderr, "objstore_new: %s\n", err);
        return KF_TEST_HARD_ERROR;
    }
    if (objstore_head(os, "kfleet-store-probe", NULL, err, sizeof(err)) == -ECONNREFUSED) {
        fprintf(stderr, "S3 at %s is not answering: %s\n", endpoint, err);
        return KF_TEST_HARD_ERROR;
    }
    kt_key(&trusted_key, 11);
    kt_key(&other_key, 12);
    ring = crypto_keyring_new();
    KT_ASSERT(ring && !crypto_keyring_add(ring, &trusted_key));
    cache = kt_tmpdir("store-s3");
    st = open_store(os, 30000);
    be = kern_backend_new("ref", NULL, err, sizeof(err));
    KT_ASSERT_MSG(be, "backend: %s", err);

    KT_RUN(test_good_and_delta);
    KT_RUN(test_refusals);
    KT_RUN(test_s3_down);

    for (size_t i = 0; i < n_uploaded; i++) {
        objstore_delete(os, uploaded[i], err, sizeof(err));
        free(uploaded[i]);
    }
    free(uploaded);
    kt_version_fini(&good1);
    kt_version_fini(&good2);
    kern_backend_free(be);
    store_free(st);
    objstore_free(os);
    crypto_keyring_free(ring);
    kt_rmtree(cache);
    free(cache);
    return 0;
}
