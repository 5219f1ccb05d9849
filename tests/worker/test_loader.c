/* The loader on the reference backend (or $KFLEET_TEST_BACKEND): good
 * versions of every dtype load and pass their golden check; a golden
 * mismatch is refused at stage validate naming the worst element; golden
 * rows beyond max_rows run in batches; the slot destroys what it loads;
 * the in-place fit decision. */
#include "common/kf_clock.h"
#include "tests/lib/kf_test.h"
#include "tests/worker/store/kt_fixture.h"
#include "worker/loader.h"
#include "worker/slot.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

static struct crypto_ed25519_key key;
static struct kern_backend *be;
static uint64_t run_seed;

static float *test_inputs(size_t n)
{
    float *x = malloc(n * sizeof(*x));
    KT_ASSERT(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)((run_seed + i * 2654435761u) % 2001) / 1000.0 - 1.0);
    return x;
}

static struct kt_spec spec(const char *version, enum schema_dtype dt, enum arch_act act,
                           bool softmax, uint32_t golden_rows)
{
    return (struct kt_spec){
        .model = "loader",
        .version = version,
        .seq = 1,
        .input_width = 24,
        .n_layers = 3,
        .widths = {40, 33, 7},
        .dtype = dt,
        .act = act,
        .softmax = softmax,
        .seed = run_seed,
        .chunk_size = 1000,
        .golden_rows = golden_rows,
        /* f16/bf16: backends differ only in the order of the f32 sum */
        .atol = 1e-4,
        .rtol = 1e-3,
    };
}

static void check_loads(const struct kt_spec *s, uint32_t max_rows)
{
    struct kt_version v;
    kt_version_build(s, &key, &v);
    struct store_version *sv = kt_store_version(&v);
    struct slot_version *out = NULL;
    struct loader_timings t;
    enum ctl_stage stage = CTL_STAGE_HEALTH;
    char err[1024];
    int rc = loader_load(be, sv, max_rows, &out, &t, &stage, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "%s (%s, %s): stage %s: %s", s->version, schema_dtype2str(s->dtype),
                  arch_act2str(s->act), ctl_stage2str(stage), err);
    KT_ASSERT_STR_EQ(out->version, s->version);
    KT_ASSERT_STR_EQ(out->manifest_sha256, v.ref.sha256);
    KT_ASSERT_INT_EQ(out->seq, 1);
    KT_ASSERT_INT_EQ(out->input_width, 24);
    KT_ASSERT_INT_EQ(out->output_width, 7);
    KT_ASSERT(out->weight_bytes >= v.blob.len / (s->dtype == SCHEMA_DTYPE_F32 ? 1 : 2));
    KT_ASSERT(out->destroy && out->impl);
    struct kern_weights *w = loader_weights(out);
    KT_ASSERT(w);
    KT_ASSERT_INT_EQ(kern_weights_max_rows(w), max_rows);

    /* The loaded weights answer like the golden vectors, with the blob gone. */
    uint32_t rows = max_rows < v.m->golden.rows ? max_rows : (uint32_t)v.m->golden.rows;
    float got[64 * 7];
    store_version_free(sv);
    KT_ASSERT_INT_EQ(kern_forward(be, w, v.m->golden.inputs, rows, got), 0);
    for (uint32_t i = 0; i < rows * 7u; i++)
        KT_ASSERT(fabsf(got[i] - v.m->golden.outputs[i]) <=
                  1e-4f + 1e-3f * fabsf(v.m->golden.outputs[i]));
    printf("  %s %s/%s max_rows %u: load %llu us, warm-up %llu us, validate %llu us\n",
           kern_backend_name(be), schema_dtype2str(s->dtype), arch_act2str(s->act), max_rows,
           (unsigned long long)t.load_us, (unsigned long long)t.warmup_us,
           (unsigned long long)t.validate_us);
    loader_version_free(out);
    kt_version_fini(&v);
}

static void test_good_versions(void)
{
    const enum schema_dtype dts[] = {SCHEMA_DTYPE_F32, SCHEMA_DTYPE_F16, SCHEMA_DTYPE_BF16};
    const enum arch_act acts[] = {ARCH_ACT_RELU, ARCH_ACT_GELU, ARCH_ACT_TANH, ARCH_ACT_SIGMOID,
                                  ARCH_ACT_NONE};
    for (size_t d = 0; d < 3; d++) {
        for (size_t a = 0; a < 5; a++) {
            struct kt_spec s = spec("v1", dts[d], acts[a], a % 2 == 0, 6);
            check_loads(&s, 16);
        }
    }
    /* More golden rows than max_rows: validated in batches. */
    struct kt_spec s = spec("v2", SCHEMA_DTYPE_F32, ARCH_ACT_RELU, true, 11);
    check_loads(&s, 3);
    s.no_bias = true;
    check_loads(&s, 1);
}

static void test_golden_mismatch(void)
{
    struct kt_version v;
    struct kt_spec s = spec("bad", SCHEMA_DTYPE_F32, ARCH_ACT_RELU, false, 4);
    s.golden_skew = 0.5f;
    kt_version_build(&s, &key, &v);
    struct store_version *sv = kt_store_version(&v);
    struct slot_version *out = (void *)1;
    enum ctl_stage stage = CTL_STAGE_HEALTH;
    char err[1024];
    int rc = loader_load(be, sv, 8, &out, NULL, &stage, err, sizeof(err));
    printf("  golden mismatch: %d stage %s: %s\n", rc, ctl_stage2str(stage), err);
    KT_ASSERT_INT_EQ(rc, -EBADMSG);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_VALIDATE);
    KT_ASSERT(out == NULL);
    KT_ASSERT(strstr(err, "1 of 28 values") && strstr(err, "row 0 column 0"));

    /* A tiny error in another place, within a looser tolerance elsewhere:
     * the worst one is named, not the first. */
    store_version_free(sv);
    kt_version_fini(&v);
    s.golden_skew = 0;
    s.version = "bad2";
    kt_version_build(&s, &key, &v);
    sv = kt_store_version(&v);
    sv->manifest->golden.outputs[3] += 0.001f;
    sv->manifest->golden.outputs[9] += 0.25f;
    rc = loader_load(be, sv, 8, &out, NULL, &stage, err, sizeof(err));
    KT_ASSERT_INT_EQ(rc, -EBADMSG);
    KT_ASSERT_MSG(strstr(err, "2 of 28 values") && strstr(err, "row 1 column 2"), "%s", err);
    store_version_free(sv);
    kt_version_fini(&v);
}

static void test_slot_owns_the_version(void)
{
    struct kt_version v;
    struct kt_spec s = spec("v3", SCHEMA_DTYPE_BF16, ARCH_ACT_GELU, true, 4);
    kt_version_build(&s, &key, &v);
    struct store_version *sv = kt_store_version(&v);
    struct slot_version *out;
    char err[1024];
    KT_ASSERT_INT_EQ(loader_load(be, sv, 4, &out, NULL, NULL, err, sizeof(err)), 0);
    store_version_free(sv);
    model_slot *slot = slot_new("loader");
    slot_activate(slot, out); /* steals */
    struct slot_version *a = slot_acquire(slot, NULL);
    KT_ASSERT(a == out && loader_weights(a));
    slot_release(slot, a);
    slot_free(slot); /* destroys the version: ASan/valgrind see a leak otherwise */
    kt_version_fini(&v);
}

/* A version name of the longest length the schema allows (docs/schema.md)
 * loads whole: slots once kept 64 bytes and cut longer names short. */
static void test_long_version_name(void)
{
    char name[SCHEMA_NAME_MAX + 1];
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    struct kt_version v;
    struct kt_spec s = spec(name, SCHEMA_DTYPE_F32, ARCH_ACT_RELU, false, 2);
    kt_version_build(&s, &key, &v);
    struct store_version *sv = kt_store_version(&v);
    struct slot_version *out = NULL;
    enum ctl_stage stage = CTL_STAGE_HEALTH;
    char err[1024];
    KT_ASSERT_MSG(loader_load(be, sv, 4, &out, NULL, &stage, err, sizeof(err)) == 0, "%s", err);
    KT_ASSERT_STR_EQ(out->version, name);
    loader_version_free(out);
    KT_ASSERT_INT_EQ(loader_load(be, sv, 0, &out, NULL, &stage, err, sizeof(err)), -EINVAL);
    store_version_free(sv);
    kt_version_fini(&v);
}

static void test_fits_inplace(void)
{
    struct kt_version v;
    struct kt_spec s = spec("v4", SCHEMA_DTYPE_F32, ARCH_ACT_RELU, false, 2);
    kt_version_build(&s, &key, &v);
    struct store_version *sv = kt_store_version(&v);
    char err[512];
    bool fits = false;
    uint64_t need = 0;
    KT_ASSERT_INT_EQ(loader_fits_inplace(be, sv, 64, 0, 0, &fits, &need, err, sizeof(err)), 0);
    KT_ASSERT(need >= v.blob.len);
    if (kern_backend_supports(be, KERN_CAP_DEVICE_MEMORY)) {
        KT_ASSERT(fits); /* a few KiB on a GPU */
    } else {
        KT_ASSERT(fits); /* unlimited budget */
        KT_ASSERT_INT_EQ(
            loader_fits_inplace(be, sv, 64, need + 100, 100, &fits, NULL, err, sizeof(err)), 0);
        KT_ASSERT(fits);
        KT_ASSERT_INT_EQ(
            loader_fits_inplace(be, sv, 64, need + 100, 101, &fits, NULL, err, sizeof(err)), 0);
        KT_ASSERT(!fits);
        KT_ASSERT_INT_EQ(
            loader_fits_inplace(be, sv, 64, need, need * 2, &fits, NULL, err, sizeof(err)), 0);
        KT_ASSERT(!fits);
    }
    KT_ASSERT_INT_EQ(loader_fits_inplace(be, sv, 0, 0, 0, &fits, NULL, err, sizeof(err)), -EINVAL);
    store_version_free(sv);
    kt_version_fini(&v);
}

/* ---- the pipelined load (loader_fetch_load) over a file:// store ---- */

struct pstore {
    char *root, *cache;
    objstore *os;
    model_store *st;
    crypto_keyring *ring;
};

static void pstore_init(struct pstore *ps)
{
    char url[PATH_MAX + 16], err[512];
    ps->root = kt_tmpdir("loader-root");
    ps->cache = kt_tmpdir("loader-cache");
    snprintf(url, sizeof(url), "file://%s", ps->root);
    ps->os = objstore_new(url, NULL, err, sizeof(err));
    KT_ASSERT_MSG(ps->os, "objstore_new: %s", err);
    ps->ring = crypto_keyring_new();
    KT_ASSERT(ps->ring && !crypto_keyring_add(ps->ring, &key));
    struct store_conf c = {
        .os = ps->os,
        .cache_dir = ps->cache,
        .trusted = ps->ring,
        .parallel = 4,
        .part_size = 128, /* parts of chunks of 300: layers span chunks and parts */
        .deadline_ms = 10000,
    };
    ps->st = store_new(&c, err, sizeof(err));
    KT_ASSERT_MSG(ps->st, "store_new: %s", err);
}

static void pstore_fini(struct pstore *ps)
{
    store_free(ps->st);
    crypto_keyring_free(ps->ring);
    objstore_free(ps->os);
    kt_rmtree(ps->root);
    kt_rmtree(ps->cache);
    free(ps->root);
    free(ps->cache);
}

struct decided {
    int calls;
    bool answer;
    bool blob_ok;
};

static bool decide(void *ctx, const struct store_version *sv)
{
    struct decided *d = ctx;
    d->calls++;
    d->blob_ok = sv->manifest && sv->blob && sv->blob_size == sv->manifest->blob_size;
    return d->answer;
}

/* The pipelined load answers exactly as the sequential one, for every dtype. */
static void test_pipelined_same_outputs(void)
{
    struct pstore ps;
    pstore_init(&ps);
    const enum schema_dtype dts[] = {SCHEMA_DTYPE_F32, SCHEMA_DTYPE_F16, SCHEMA_DTYPE_BF16};
    for (size_t d = 0; d < 3; d++) {
        char version[16];
        snprintf(version, sizeof(version), "p%zu", d);
        struct kt_spec s = spec(version, dts[d], ARCH_ACT_GELU, d != 1, 6);
        s.chunk_size = 300;
        struct kt_version v;
        kt_version_build(&s, &key, &v);
        kt_version_publish(ps.os, &v);
        struct store_version *sv = NULL;
        struct slot_version *pipe = NULL, *seq = NULL;
        struct loader_timings t;
        struct decided dc = {.answer = true};
        enum ctl_stage stage = CTL_STAGE_HEALTH;
        char err[1024];
        int rc = loader_fetch_load(be, ps.st, v.model, v.version, &v.ref, 4, decide, &dc, &sv,
                                   &pipe, &t, &stage, err, sizeof(err));
        KT_ASSERT_MSG(rc == 0, "%s: stage %s: %s", version, ctl_stage2str(stage), err);
        KT_ASSERT(pipe && sv);
        KT_ASSERT_INT_EQ(dc.calls, 1);
        KT_ASSERT(dc.blob_ok);
        KT_ASSERT_STR_EQ(pipe->version, version);
        KT_ASSERT_STR_EQ(pipe->manifest_sha256, v.ref.sha256);
        KT_ASSERT_INT_EQ(loader_load(be, sv, 4, &seq, NULL, &stage, err, sizeof(err)), 0);
        KT_ASSERT_INT_EQ(pipe->weight_bytes, seq->weight_bytes);
        store_version_free(sv);

        float *x = test_inputs(4 * 24u);
        float a[4 * 7], b[4 * 7];
        KT_ASSERT_INT_EQ(kern_forward(be, loader_weights(pipe), x, 4, a), 0);
        KT_ASSERT_INT_EQ(kern_forward(be, loader_weights(seq), x, 4, b), 0);
        KT_ASSERT_MSG(!memcmp(a, b, sizeof(a)), "%s: pipelined and sequential loads differ",
                      version);
        printf("  pipelined %s: %zu chunks, load %llu us, warm-up %llu us, validate %llu us\n",
               schema_dtype2str(dts[d]), v.m->n_chunks, (unsigned long long)t.load_us,
               (unsigned long long)t.warmup_us, (unsigned long long)t.validate_us);
        free(x);
        loader_version_free(pipe);
        loader_version_free(seq);
        kt_version_fini(&v);
    }
    pstore_fini(&ps);
}

/* Failures: a tampered last chunk (after the earlier layers were loaded) fails at verify with
 * everything freed (ASan's leak check); a missing chunk at fetch; a golden mismatch at validate;
 * a decide that says no fetches only. */
static void test_pipelined_failures(void)
{
    struct pstore ps;
    pstore_init(&ps);
    struct kt_spec s = spec("t1", SCHEMA_DTYPE_F32, ARCH_ACT_RELU, true, 4);
    s.chunk_size = 300;
    struct kt_version v;
    kt_version_build(&s, &key, &v);
    kt_version_publish(ps.os, &v);
    size_t last = v.m->n_chunks - 1;
    kt_tamper_chunk(ps.os, &v, last);
    struct store_version *sv = (void *)1;
    struct slot_version *out = (void *)1;
    enum ctl_stage stage = CTL_STAGE_HEALTH;
    char err[1024], want[64];
    int rc = loader_fetch_load(be, ps.st, v.model, v.version, &v.ref, 4, NULL, NULL, &sv, &out,
                               NULL, &stage, err, sizeof(err));
    printf("  tampered chunk: %d stage %s: %s\n", rc, ctl_stage2str(stage), err);
    KT_ASSERT_INT_EQ(rc, -EBADMSG);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_VERIFY);
    KT_ASSERT(out == NULL && sv == NULL);
    snprintf(want, sizeof(want), "chunk %zu of %zu", last, v.m->n_chunks);
    KT_ASSERT_MSG(strstr(err, want), "%s", err);

    /* The chunk object gone: stage fetch. */
    char k[128];
    snprintf(k, sizeof(k), "blobs/sha256/%s", v.m->chunks[last].sha256);
    KT_ASSERT_INT_EQ(objstore_delete(ps.os, k, err, sizeof(err)), 0);
    rc = loader_fetch_load(be, ps.st, v.model, v.version, &v.ref, 4, NULL, NULL, NULL, &out, NULL,
                           &stage, err, sizeof(err));
    printf("  missing chunk: %d stage %s: %s\n", rc, ctl_stage2str(stage), err);
    KT_ASSERT(rc < 0 && out == NULL);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_FETCH);
    kt_version_fini(&v);

    /* Golden mismatch: the fetch succeeds, the version is refused at validate and its fetched
     * blob is still handed back. */
    s.version = "t2";
    s.golden_skew = 0.5f;
    kt_version_build(&s, &key, &v);
    kt_version_publish(ps.os, &v);
    rc = loader_fetch_load(be, ps.st, v.model, v.version, &v.ref, 4, NULL, NULL, &sv, &out, NULL,
                           &stage, err, sizeof(err));
    KT_ASSERT_INT_EQ(rc, -EBADMSG);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_VALIDATE);
    KT_ASSERT(out == NULL && sv != NULL);
    store_version_free(sv);
    kt_version_fini(&v);

    /* decide says no (a hand-off): fetched and verified, nothing loaded. */
    s.version = "t3";
    s.golden_skew = 0;
    kt_version_build(&s, &key, &v);
    kt_version_publish(ps.os, &v);
    struct decided dc = {.answer = false};
    rc = loader_fetch_load(be, ps.st, v.model, v.version, &v.ref, 4, decide, &dc, &sv, &out, NULL,
                           &stage, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "%s", err);
    KT_ASSERT(out == NULL && sv != NULL && dc.calls == 1);
    KT_ASSERT_INT_EQ(sv->blob_size, v.blob.len);
    store_version_free(sv);
    KT_ASSERT_INT_EQ(loader_fetch_load(be, ps.st, v.model, v.version, &v.ref, 0, NULL, NULL, NULL,
                                       &out, NULL, &stage, err, sizeof(err)),
                     -EINVAL);
    kt_version_fini(&v);
    pstore_fini(&ps);
}

int main(void)
{
    run_seed = (uint64_t)kf_clock_wall_ms() ^ ((uint64_t)getpid() << 32);
    printf("# seed %llu\n", (unsigned long long)run_seed);
    kt_key(&key, 7);
    const char *name = getenv("KFLEET_TEST_BACKEND");
    char err[512];
    be = kern_backend_new(name && *name ? name : "ref", NULL, err, sizeof(err));
    KT_ASSERT_MSG(be, "backend: %s", err);
    printf("# backend %s (%s)\n", kern_backend_name(be), kern_backend_device(be));
    KT_RUN(test_good_versions);
    KT_RUN(test_golden_mismatch);
    KT_RUN(test_slot_owns_the_version);
    KT_RUN(test_long_version_name);
    KT_RUN(test_fits_inplace);
    KT_RUN(test_pipelined_same_outputs);
    KT_RUN(test_pipelined_failures);
    kern_backend_free(be);
    return 0;
}
