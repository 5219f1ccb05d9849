/* The model store against a file:// object store in a temporary directory:
 * a good version, each way a version must be refused (with its stage), the
 * delta update, the cache (warm restart, corruption, eviction), concurrent
 * fetches, and an unreachable S3 endpoint (nothing listens on :19099). */
#include "common/kf_clock.h"
#include "tests/lib/kf_test.h"
#include "tests/worker/store/kt_fixture.h"
#include "worker/store.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static struct crypto_ed25519_key trusted_key, other_key;
static crypto_keyring *ring;
static uint64_t run_seed;

struct env {
    char *root, *cache;
    char url[PATH_MAX + 16];
    objstore *os;
    model_store *st;
};

static void env_open_store(struct env *e, unsigned keep, int deadline_ms)
{
    char err[512];
    struct store_conf c = {
        .os = e->os,
        .cache_dir = e->cache,
        .trusted = ring,
        .parallel = 4,
        .part_size = 200, /* does not divide the 512-byte chunks: parts of odd sizes */
        .deadline_ms = deadline_ms,
        .keep_versions = keep,
    };
    e->st = store_new(&c, err, sizeof(err));
    KT_ASSERT_MSG(e->st, "store_new: %s", err);
}

static void env_init(struct env *e, unsigned keep)
{
    memset(e, 0, sizeof(*e));
    e->root = kt_tmpdir("store-root");
    e->cache = kt_tmpdir("store-cache");
    snprintf(e->url, sizeof(e->url), "file://%s", e->root);
    char err[512];
    e->os = objstore_new(e->url, NULL, err, sizeof(err));
    KT_ASSERT_MSG(e->os, "objstore_new: %s", err);
    env_open_store(e, keep, 10000);
}

static void env_fini(struct env *e)
{
    store_free(e->st);
    objstore_free(e->os);
    kt_rmtree(e->root);
    kt_rmtree(e->cache);
    free(e->root);
    free(e->cache);
}

/* 16 -> 32 -> 8, f32: 3232 bytes in 7 chunks of 512. */
static struct kt_spec small_spec(const char *model, const char *version, uint64_t seq,
                                 uint64_t seed)
{
    return (struct kt_spec){
        .model = model,
        .version = version,
        .seq = seq,
        .input_width = 16,
        .n_layers = 2,
        .widths = {32, 8},
        .dtype = SCHEMA_DTYPE_F32,
        .act = ARCH_ACT_RELU,
        .softmax = true,
        .seed = run_seed ^ seed,
        .chunk_size = 512,
        .golden_rows = 5,
    };
}

static bool cached_chunk(const struct env *e, const char *hex)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/sha256/%s", e->cache, hex);
    return access(path, F_OK) == 0;
}

/* Temporary files left in the chunk cache (a failed fetch must remove its own). */
static int tmp_files(const struct env *e)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/sha256", e->cache);
    DIR *d = opendir(path);
    KT_ASSERT(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strstr(de->d_name, "~tmp~") != NULL;
    closedir(d);
    return n;
}

static int fetch(struct env *e, const struct kt_version *v, struct store_version **sv,
                 enum ctl_stage *stage, char *err, size_t err_size)
{
    return store_fetch(e->st, v->model, v->version, &v->ref, sv, stage, err, err_size);
}

static void expect_refused(struct env *e, const struct kt_version *v, int want_err,
                           enum ctl_stage want_stage, const char *want_text)
{
    struct store_version *sv = (void *)1;
    enum ctl_stage stage = CTL_STAGE_HEALTH;
    char err[1024] = "";
    int rc = fetch(e, v, &sv, &stage, err, sizeof(err));
    printf("  refused: %d (%s) stage %s: %s\n", rc, strerror(-rc), ctl_stage2str(stage), err);
    KT_ASSERT_INT_EQ(rc, want_err);
    KT_ASSERT_INT_EQ(stage, want_stage);
    KT_ASSERT(sv == NULL);
    KT_ASSERT_MSG(strstr(err, want_text), "reason \"%s\" lacks \"%s\"", err, want_text);
    /* Nothing of a refused version is recorded as cached. */
    struct store_cached_version *cv = NULL;
    KT_ASSERT_INT_EQ(store_cached_list(e->st, v->model, &cv), 0);
    free(cv);
}

static void test_good_version(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v;
    struct kt_spec s = small_spec("good", "v1", 1, 1);
    kt_version_build(&s, &trusted_key, &v);
    KT_ASSERT_INT_EQ(v.m->n_chunks, 7);
    kt_version_publish(e.os, &v);

    struct store_version *sv;
    enum ctl_stage stage;
    char err[1024];
    int rc = fetch(&e, &v, &sv, &stage, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "store_fetch: %s", err);
    KT_ASSERT_STR_EQ(sv->model, "good");
    KT_ASSERT_STR_EQ(sv->version, "v1");
    KT_ASSERT_STR_EQ(sv->manifest_sha256, v.ref.sha256);
    KT_ASSERT_STR_EQ(sv->key_id, trusted_key.key_id);
    KT_ASSERT_INT_EQ(sv->seq, 1);
    KT_ASSERT_INT_EQ(sv->blob_size, v.blob.len);
    KT_ASSERT(!memcmp(sv->blob, v.blob.ptr, v.blob.len));
    KT_ASSERT_INT_EQ(sv->counts.chunks_fetched, 7);
    KT_ASSERT_INT_EQ(sv->counts.bytes_fetched, v.blob.len);
    KT_ASSERT_INT_EQ(sv->counts.chunks_reused, 0);
    KT_ASSERT(!sv->counts.manifest_cached);
    KT_ASSERT(sv->timings.total_us >= sv->timings.fetch_us);
    for (size_t i = 0; i < v.m->n_chunks; i++)
        KT_ASSERT(cached_chunk(&e, v.m->chunks[i].sha256));
    store_version_free(sv);

    /* Again: everything from the cache, re-verified; nothing downloaded. */
    struct objstore_counts c0, c1;
    objstore_counts(e.os, &c0);
    rc = fetch(&e, &v, &sv, &stage, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "store_fetch: %s", err);
    objstore_counts(e.os, &c1);
    KT_ASSERT_INT_EQ(c1.gets, c0.gets);
    KT_ASSERT(sv->counts.manifest_cached);
    KT_ASSERT_INT_EQ(sv->counts.chunks_reused, 7);
    KT_ASSERT_INT_EQ(sv->counts.bytes_fetched, 0);
    KT_ASSERT_INT_EQ(sv->counts.bytes_reused, v.blob.len);
    KT_ASSERT(!memcmp(sv->blob, v.blob.ptr, v.blob.len));
    store_version_free(sv);

    struct store_cached_version *cv;
    KT_ASSERT_INT_EQ(store_cached_list(e.st, "good", &cv), 1);
    KT_ASSERT_STR_EQ(cv[0].version, "v1");
    KT_ASSERT_STR_EQ(cv[0].manifest_sha256, v.ref.sha256);
    free(cv);

    /* An empty key in the reference means the standard layout. */
    struct ctl_manifest_ref ref = v.ref;
    ref.key[0] = '\0';
    ref.size = 0;
    KT_ASSERT_INT_EQ(store_fetch(e.st, "good", "v1", &ref, &sv, &stage, err, sizeof(err)), 0);
    store_version_free(sv);
    kt_version_fini(&v);
    env_fini(&e);
}

static void test_tampered_chunk(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v;
    struct kt_spec s = small_spec("tampered", "v1", 1, 2);
    kt_version_build(&s, &trusted_key, &v);
    kt_version_publish(e.os, &v);
    kt_tamper_chunk(e.os, &v, 3);
    expect_refused(&e, &v, -EBADMSG, CTL_STAGE_VERIFY, "chunk 3 of 7");
    KT_ASSERT(!cached_chunk(&e, v.m->chunks[3].sha256));
    KT_ASSERT_INT_EQ(tmp_files(&e), 0);
    kt_version_fini(&v);
    env_fini(&e);
}

/* What store_fetch_progress told its callback. */
struct progress {
    const struct kt_version *v;
    atomic_int in_call; /* calls must never overlap */
    int calls;
    uint64_t last;
    bool bad; /* a call broke the contract (checked after the fetch: asserts abort) */
    char why[256];
};

static void on_verified(void *ctx, const struct store_version *sv, uint64_t verified)
{
    struct progress *p = ctx;
    if (atomic_fetch_add(&p->in_call, 1) != 0 && !p->bad) {
        p->bad = true;
        snprintf(p->why, sizeof(p->why), "two calls at once");
    }
    bool boundary = verified == p->v->m->blob_size;
    for (size_t i = 0; i < p->v->m->n_chunks; i++)
        boundary |= verified == p->v->m->chunks[i].offset;
    if (p->bad) {
    } else if (verified <= p->last || verified > sv->blob_size) {
        p->bad = true;
        snprintf(p->why, sizeof(p->why), "%llu after %llu (blob %zu)", (unsigned long long)verified,
                 (unsigned long long)p->last, sv->blob_size);
    } else if (!boundary) {
        p->bad = true;
        snprintf(p->why, sizeof(p->why), "%llu is not a chunk boundary",
                 (unsigned long long)verified);
    } else if (memcmp(sv->blob, p->v->blob.ptr, (size_t)verified)) {
        /* Every reported byte is final and the publisher's. */
        p->bad = true;
        snprintf(p->why, sizeof(p->why), "bytes below %llu differ from the published blob",
                 (unsigned long long)verified);
    }
    p->last = verified;
    p->calls++;
    atomic_fetch_sub(&p->in_call, 1);
}

static int fetch_progress(struct env *e, const struct kt_version *v, struct progress *p,
                          struct store_version **sv, enum ctl_stage *stage, char *err,
                          size_t err_size)
{
    memset(p, 0, sizeof(*p));
    p->v = v;
    int rc = store_fetch_progress(e->st, v->model, v->version, &v->ref, on_verified, p, sv, stage,
                                  err, err_size);
    printf("  progress: %d calls, last %llu of %llu bytes\n", p->calls, (unsigned long long)p->last,
           (unsigned long long)v->m->blob_size);
    KT_ASSERT_MSG(!p->bad, "on_verified: %s", p->why);
    return rc;
}

/* The verified prefix: monotonic, at chunk boundaries, only published bytes, up to the whole
 * blob — fetched, from the cache, and mixed; a tampered chunk stops it before that chunk. */
static void test_progress(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v;
    struct kt_spec s = small_spec("progress", "v1", 1, 11);
    kt_version_build(&s, &trusted_key, &v);
    kt_version_publish(e.os, &v);
    struct progress p;
    struct store_version *sv;
    enum ctl_stage stage;
    char err[1024];
    for (int round = 0; round < 3; round++) {
        if (round == 2) { /* one chunk from the store, the others from the cache */
            char path[PATH_MAX + 128];
            snprintf(path, sizeof(path), "%s/sha256/%s", e.cache, v.m->chunks[0].sha256);
            KT_ASSERT(unlink(path) == 0);
        }
        KT_ASSERT_MSG(fetch_progress(&e, &v, &p, &sv, &stage, err, sizeof(err)) == 0, "%s", err);
        KT_ASSERT(p.calls >= 1);
        KT_ASSERT_INT_EQ(p.last, v.m->blob_size);
        KT_ASSERT_INT_EQ(sv->counts.chunks_reused, round == 0 ? 0 : round == 1 ? 7 : 6);
        store_version_free(sv);
    }
    /* Plain store_fetch is store_fetch_progress with no callback. */
    KT_ASSERT_INT_EQ(fetch(&e, &v, &sv, &stage, err, sizeof(err)), 0);
    store_version_free(sv);
    kt_version_fini(&v);

    /* Chunk 3 of 7 tampered: the prefix never reaches it, and the fetch fails at verify. */
    s = small_spec("progress-tampered", "v1", 1, 12);
    kt_version_build(&s, &trusted_key, &v);
    kt_version_publish(e.os, &v);
    kt_tamper_chunk(e.os, &v, 3);
    sv = (void *)1;
    int rc = fetch_progress(&e, &v, &p, &sv, &stage, err, sizeof(err));
    KT_ASSERT_INT_EQ(rc, -EBADMSG);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_VERIFY);
    KT_ASSERT(sv == NULL);
    KT_ASSERT_MSG(p.last <= v.m->chunks[3].offset, "reported %llu, chunk 3 starts at %llu",
                  (unsigned long long)p.last, (unsigned long long)v.m->chunks[3].offset);
    kt_version_fini(&v);
    env_fini(&e);
}

static void test_bad_signature(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v;
    struct kt_spec s = small_spec("badsig", "v1", 1, 3);
    kt_version_build(&s, &trusted_key, &v);
    kt_version_bad_sig(&v, &trusted_key);
    kt_version_publish(e.os, &v);
    expect_refused(&e, &v, -EBADMSG, CTL_STAGE_VERIFY, "bad signature");
    kt_version_fini(&v);
    env_fini(&e);
}

static void test_unknown_key(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v;
    struct kt_spec s = small_spec("unknownkey", "v1", 1, 4);
    kt_version_build(&s, &other_key, &v);
    kt_version_publish(e.os, &v);
    expect_refused(&e, &v, -ENOKEY, CTL_STAGE_VERIFY, other_key.key_id);
    kt_version_fini(&v);
    env_fini(&e);
}

static void test_manifest_digest_mismatch(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v;
    struct kt_spec s = small_spec("digest", "v1", 1, 5);
    kt_version_build(&s, &trusted_key, &v);
    kt_version_publish(e.os, &v);
    v.ref.sha256[0] = v.ref.sha256[0] == '0' ? '1' : '0';
    expect_refused(&e, &v, -EBADMSG, CTL_STAGE_VERIFY, "differs from the announced");
    /* Larger than announced: refused before it is read whole. */
    crypto_sha256_hex(v.manifest.ptr, v.manifest.len, v.ref.sha256);
    v.ref.size = v.manifest.len - 1;
    expect_refused(&e, &v, -EBADMSG, CTL_STAGE_VERIFY, "larger than");
    kt_version_fini(&v);
    env_fini(&e);
}

static void test_unsigned_and_misnamed(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v;
    struct kt_spec s = small_spec("unsigned", "v1", 1, 6);
    kt_version_build(&s, &trusted_key, &v);
    kt_version_publish(e.os, &v);
    char err[512];
    KT_ASSERT_INT_EQ(objstore_delete(e.os, "models/unsigned/v1/manifest.sig", err, sizeof(err)), 0);
    expect_refused(&e, &v, -EBADMSG, CTL_STAGE_VERIFY, "unsigned");

    /* A validly signed manifest of another model, announced under this name. */
    struct kt_version w;
    struct kt_spec s2 = small_spec("other", "v1", 1, 7);
    kt_version_build(&s2, &trusted_key, &w);
    kt_version_publish(e.os, &w);
    struct store_version *sv;
    enum ctl_stage stage;
    KT_ASSERT_INT_EQ(store_fetch(e.st, "unsigned", "v1", &w.ref, &sv, &stage, err, sizeof(err)),
                     -EPROTO);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_VERIFY);
    KT_ASSERT(strstr(err, "other/v1"));

    /* A chunk missing from the store: a fetch failure, not a verify one. */
    struct kt_version x;
    struct kt_spec s3 = small_spec("missing", "v1", 1, 8);
    kt_version_build(&s3, &trusted_key, &x);
    kt_version_publish(e.os, &x);
    char key[128];
    snprintf(key, sizeof(key), "blobs/sha256/%s", x.m->chunks[5].sha256);
    KT_ASSERT_INT_EQ(objstore_delete(e.os, key, err, sizeof(err)), 0);
    expect_refused(&e, &x, -ENOENT, CTL_STAGE_FETCH, "chunk 5 of 7");
    KT_ASSERT_INT_EQ(tmp_files(&e), 0);

    /* Bad arguments. */
    struct ctl_manifest_ref bad = v.ref;
    strcpy(bad.sha256, "xyz");
    KT_ASSERT_INT_EQ(store_fetch(e.st, "m", "v1", &bad, &sv, &stage, err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(store_fetch(e.st, "../m", "v1", &v.ref, &sv, &stage, err, sizeof(err)),
                     -EINVAL);
    KT_ASSERT_INT_EQ(store_fetch_cached(e.st, "m/x", NULL, NULL, &sv, &stage, err, sizeof(err)),
                     -EINVAL);
    kt_version_fini(&v);
    kt_version_fini(&w);
    kt_version_fini(&x);
    env_fini(&e);
}

static void test_delta_update(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v1, v2;
    struct kt_spec s = small_spec("delta", "v1", 1, 9);
    kt_version_build(&s, &trusted_key, &v1);
    s.version = "v2";
    s.seq = 2;
    s.tweak_last = 3; /* the last bias: the final chunk only */
    kt_version_build(&s, &trusted_key, &v2);
    uint64_t up1 = kt_version_publish(e.os, &v1), up2 = kt_version_publish(e.os, &v2);
    KT_ASSERT_INT_EQ(up1, v1.blob.len);
    KT_ASSERT(up2 < v2.blob.len);

    struct store_version *sv;
    enum ctl_stage stage;
    char err[1024];
    KT_ASSERT_INT_EQ(fetch(&e, &v1, &sv, &stage, err, sizeof(err)), 0);
    store_version_free(sv);
    int rc = fetch(&e, &v2, &sv, &stage, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "store_fetch v2: %s", err);
    printf("  delta: fetched %llu bytes (%u chunks), reused %llu bytes (%u chunks) of %zu\n",
           (unsigned long long)sv->counts.bytes_fetched, sv->counts.chunks_fetched,
           (unsigned long long)sv->counts.bytes_reused, sv->counts.chunks_reused, v2.blob.len);
    KT_ASSERT_INT_EQ(sv->counts.bytes_fetched, up2);
    KT_ASSERT(sv->counts.bytes_fetched < v2.blob.len);
    KT_ASSERT_INT_EQ(sv->counts.bytes_fetched + sv->counts.bytes_reused, v2.blob.len);
    KT_ASSERT_INT_EQ(sv->counts.chunks_fetched, 1);
    KT_ASSERT(!memcmp(sv->blob, v2.blob.ptr, v2.blob.len));
    store_version_free(sv);
    kt_version_fini(&v1);
    kt_version_fini(&v2);
    env_fini(&e);
}

static void corrupt_file(const char *path)
{
    FILE *f = fopen(path, "r+b");
    KT_ASSERT_MSG(f, "open %s", path);
    int c = fgetc(f);
    fseek(f, 0, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void test_warm_cache_restart(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v1, v2;
    struct kt_spec s = small_spec("warm", "v1", 1, 10);
    kt_version_build(&s, &trusted_key, &v1);
    s = small_spec("warm", "v2", 2, 11); /* no chunk in common with v1 */
    kt_version_build(&s, &trusted_key, &v2);
    kt_version_publish(e.os, &v1);
    kt_version_publish(e.os, &v2);
    struct store_version *sv;
    enum ctl_stage stage;
    char err[1024];
    KT_ASSERT_INT_EQ(fetch(&e, &v1, &sv, &stage, err, sizeof(err)), 0);
    store_version_free(sv);
    KT_ASSERT_INT_EQ(fetch(&e, &v2, &sv, &stage, err, sizeof(err)), 0);
    store_version_free(sv);

    /* "Restart" with the objects gone: a store over an empty directory. */
    store_free(e.st);
    objstore_free(e.os);
    kt_rmtree(e.root);
    e.os = objstore_new(e.url, NULL, err, sizeof(err));
    KT_ASSERT(e.os);
    env_open_store(&e, 3, 10000);

    int rc = store_fetch_cached(e.st, "warm", NULL, NULL, &sv, &stage, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "store_fetch_cached: %s", err);
    KT_ASSERT_STR_EQ(sv->version, "v2");
    KT_ASSERT_INT_EQ(sv->counts.bytes_fetched, 0);
    KT_ASSERT(!memcmp(sv->blob, v2.blob.ptr, v2.blob.len));
    store_version_free(sv);
    KT_ASSERT_INT_EQ(
        store_fetch_cached(e.st, "warm", "v1", v1.ref.sha256, &sv, &stage, err, sizeof(err)), 0);
    KT_ASSERT_STR_EQ(sv->version, "v1");
    store_version_free(sv);
    /* store_fetch of a cached version needs no object store either. */
    KT_ASSERT_INT_EQ(fetch(&e, &v2, &sv, &stage, err, sizeof(err)), 0);
    KT_ASSERT(sv->counts.manifest_cached);
    store_version_free(sv);

    /* The control log names another manifest for v1: refused. */
    KT_ASSERT_INT_EQ(
        store_fetch_cached(e.st, "warm", "v1", v2.ref.sha256, &sv, &stage, err, sizeof(err)),
        -EBADMSG);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_VERIFY);
    KT_ASSERT_INT_EQ(store_fetch_cached(e.st, "warm", "v9", NULL, &sv, &stage, err, sizeof(err)),
                     -ENOENT);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_FETCH);
    KT_ASSERT_INT_EQ(store_fetch_cached(e.st, "cold", NULL, NULL, &sv, &stage, err, sizeof(err)),
                     -ENOENT);

    /* A corrupted chunk of v2: v2 is refused from the cache, and the newest
     * verified version is v1. */
    char path[PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/sha256/%s", e.cache, v2.m->chunks[2].sha256);
    corrupt_file(path);
    rc = store_fetch_cached(e.st, "warm", "v2", NULL, &sv, &stage, err, sizeof(err));
    printf("  corrupted cache: %d stage %s: %s\n", rc, ctl_stage2str(stage), err);
    KT_ASSERT_INT_EQ(rc, -EBADMSG);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_VERIFY);
    KT_ASSERT(strstr(err, "corrupt"));
    KT_ASSERT(!cached_chunk(&e, v2.m->chunks[2].sha256)); /* removed, never served */
    rc = store_fetch_cached(e.st, "warm", NULL, NULL, &sv, &stage, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "store_fetch_cached: %s", err);
    KT_ASSERT_STR_EQ(sv->version, "v1");
    store_version_free(sv);

    /* A key no longer trusted: the cached versions are refused too. */
    crypto_keyring *empty = crypto_keyring_new();
    struct store_conf c = {.os = e.os, .cache_dir = e.cache, .trusted = empty};
    model_store *st2 = store_new(&c, err, sizeof(err));
    KT_ASSERT(st2);
    rc = store_fetch_cached(st2, "warm", NULL, NULL, &sv, &stage, err, sizeof(err));
    KT_ASSERT_INT_EQ(rc, -ENOKEY);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_VERIFY);
    store_free(st2);
    crypto_keyring_free(empty);
    kt_version_fini(&v1);
    kt_version_fini(&v2);
    env_fini(&e);
}

static void test_corrupt_cache_refetched(void)
{
    struct env e;
    env_init(&e, 3);
    struct kt_version v;
    struct kt_spec s = small_spec("refetch", "v1", 1, 12);
    kt_version_build(&s, &trusted_key, &v);
    kt_version_publish(e.os, &v);
    struct store_version *sv;
    enum ctl_stage stage;
    char err[1024], path[PATH_MAX + 128];
    KT_ASSERT_INT_EQ(fetch(&e, &v, &sv, &stage, err, sizeof(err)), 0);
    store_version_free(sv);
    snprintf(path, sizeof(path), "%s/sha256/%s", e.cache, v.m->chunks[4].sha256);
    corrupt_file(path);
    snprintf(path, sizeof(path), "%s/sha256/%s", e.cache, v.m->chunks[6].sha256);
    KT_ASSERT(truncate(path, 10) == 0);
    int rc = fetch(&e, &v, &sv, &stage, err, sizeof(err));
    KT_ASSERT_MSG(rc == 0, "store_fetch: %s", err);
    KT_ASSERT_INT_EQ(sv->counts.chunks_corrupt, 2);
    KT_ASSERT_INT_EQ(sv->counts.chunks_fetched, 2);
    KT_ASSERT_INT_EQ(sv->counts.chunks_reused, 5);
    KT_ASSERT(!memcmp(sv->blob, v.blob.ptr, v.blob.len));
    store_version_free(sv);
    /* Repaired: a third fetch reuses everything. */
    KT_ASSERT_INT_EQ(fetch(&e, &v, &sv, &stage, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(sv->counts.chunks_reused, 7);
    store_version_free(sv);
    kt_version_fini(&v);
    env_fini(&e);
}

static int count_chunk_files(const struct env *e)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof(cmd), "ls %s/sha256 | wc -l", e->cache);
    FILE *p = popen(cmd, "r");
    int n = -1;
    KT_ASSERT(p && fscanf(p, "%d", &n) == 1);
    pclose(p);
    return n;
}

static void test_eviction(void)
{
    struct env e;
    env_init(&e, 2);
    struct kt_version v[3];
    const char *names[] = {"v1", "v2", "v3"};
    struct store_version *sv;
    enum ctl_stage stage;
    char err[1024];
    for (int i = 0; i < 3; i++) {
        struct kt_spec s = small_spec("evict", names[i], (uint64_t)i + 1, 20 + (uint64_t)i);
        kt_version_build(&s, &trusted_key, &v[i]);
        kt_version_publish(e.os, &v[i]);
        KT_ASSERT_INT_EQ(fetch(&e, &v[i], &sv, &stage, err, sizeof(err)), 0);
        store_version_free(sv);
    }
    struct store_cached_version *cv;
    KT_ASSERT_INT_EQ(store_cached_list(e.st, "evict", &cv), 2);
    KT_ASSERT_STR_EQ(cv[0].version, "v3");
    KT_ASSERT_STR_EQ(cv[1].version, "v2");
    free(cv);
    for (size_t k = 0; k < v[0].m->n_chunks; k++)
        KT_ASSERT(!cached_chunk(&e, v[0].m->chunks[k].sha256));
    for (size_t k = 0; k < v[1].m->n_chunks; k++)
        KT_ASSERT(cached_chunk(&e, v[1].m->chunks[k].sha256));
    KT_ASSERT_INT_EQ(count_chunk_files(&e), 14);

    /* A rollback fetches v1 again: it stays (it was just fetched), with the
     * newest other one; v2 goes. */
    KT_ASSERT_INT_EQ(fetch(&e, &v[0], &sv, &stage, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(sv->counts.chunks_fetched, 7);
    store_version_free(sv);
    KT_ASSERT_INT_EQ(store_cached_list(e.st, "evict", &cv), 2);
    KT_ASSERT_STR_EQ(cv[0].version, "v3");
    KT_ASSERT_STR_EQ(cv[1].version, "v1");
    free(cv);
    KT_ASSERT_INT_EQ(count_chunk_files(&e), 14);

    /* Another model's versions are not touched by this model's eviction. */
    struct kt_version o;
    struct kt_spec s = small_spec("evict-other", "v1", 1, 30);
    kt_version_build(&s, &trusted_key, &o);
    kt_version_publish(e.os, &o);
    KT_ASSERT_INT_EQ(fetch(&e, &o, &sv, &stage, err, sizeof(err)), 0);
    store_version_free(sv);
    KT_ASSERT_INT_EQ(count_chunk_files(&e), 21);
    for (int i = 0; i < 3; i++)
        kt_version_fini(&v[i]);
    kt_version_fini(&o);
    env_fini(&e);
}

struct conc_arg {
    struct env *e;
    struct kt_version *v;
    int rounds;
    int failures;
};

static void *conc_main(void *p)
{
    struct conc_arg *a = p;
    for (int r = 0; r < a->rounds; r++) {
        struct store_version *sv;
        enum ctl_stage stage;
        char err[1024];
        if (fetch(a->e, a->v, &sv, &stage, err, sizeof(err)) ||
            memcmp(sv->blob, a->v->blob.ptr, a->v->blob.len)) {
            fprintf(stderr, "concurrent fetch %s: %s\n", a->v->model, err);
            a->failures++;
            continue;
        }
        store_version_free(sv);
    }
    return NULL;
}

static void test_concurrent_fetches(void)
{
    struct env e;
    env_init(&e, 1);
    enum { N = 4 };
    struct kt_version v[N];
    struct conc_arg a[N];
    pthread_t t[N];
    char model[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(model[i], sizeof(model[i]), "conc%d", i);
        struct kt_spec s = small_spec(model[i], "v1", 1, 40 + (uint64_t)i);
        kt_version_build(&s, &trusted_key, &v[i]);
        kt_version_publish(e.os, &v[i]);
        a[i] = (struct conc_arg){&e, &v[i], 20, 0};
    }
    for (int i = 0; i < N; i++)
        KT_ASSERT(!pthread_create(&t[i], NULL, conc_main, &a[i]));
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        KT_ASSERT_INT_EQ(a[i].failures, 0);
    }
    KT_ASSERT_INT_EQ(count_chunk_files(&e), 7 * N);
    for (int i = 0; i < N; i++)
        kt_version_fini(&v[i]);
    env_fini(&e);
}

static void test_s3_unreachable(void)
{
    /* Nothing listens on 127.0.0.1:19099: connection refused, retried with
     * back-off until the deadline, then stage fetch with the reason. */
    char err[1024];
    struct objstore_s3_opts o = {
        .endpoint = "127.0.0.1:19099",
        .access_key = "x",
        .secret_key = "y",
        .timeout_ms = 500,
    };
    objstore *os = objstore_new("s3://kfleet", &o, err, sizeof(err));
    KT_ASSERT_MSG(os, "objstore_new: %s", err);
    char *cache = kt_tmpdir("store-unreach");
    const int deadline_ms = 1500;
    struct store_conf c = {
        .os = os, .cache_dir = cache, .trusted = ring, .deadline_ms = deadline_ms};
    model_store *st = store_new(&c, err, sizeof(err));
    KT_ASSERT(st);
    struct kt_version v;
    struct kt_spec s = small_spec("unreach", "v1", 1, 50);
    kt_version_build(&s, &trusted_key, &v);
    struct store_version *sv;
    enum ctl_stage stage = CTL_STAGE_HEALTH;
    int64_t t0 = kf_clock_mono_us();
    int rc = store_fetch(st, "unreach", "v1", &v.ref, &sv, &stage, err, sizeof(err));
    int64_t ms = (kf_clock_mono_us() - t0) / 1000;
    printf("  unreachable: %d stage %s after %lld ms: %s\n", rc, ctl_stage2str(stage),
           (long long)ms, err);
    KT_ASSERT(rc == -ECONNREFUSED || rc == -ETIMEDOUT);
    KT_ASSERT_INT_EQ(stage, CTL_STAGE_FETCH);
    KT_ASSERT(strstr(err, "unreachable") || strstr(err, "too slow"));
    KT_ASSERT_MSG(ms >= deadline_ms - 100, "gave up after %lld ms, before the deadline",
                  (long long)ms);
    KT_ASSERT_MSG(ms <= deadline_ms + 1500, "gave up after %lld ms, long after the deadline",
                  (long long)ms);
    kt_version_fini(&v);
    store_free(st);
    objstore_free(os);
    kt_rmtree(cache);
    free(cache);
}

int main(void)
{
    run_seed = (uint64_t)kf_clock_wall_ms() ^ ((uint64_t)getpid() << 32);
    printf("# seed %llu\n", (unsigned long long)run_seed);
    kt_key(&trusted_key, 1);
    kt_key(&other_key, 2);
    ring = crypto_keyring_new();
    KT_ASSERT(ring && !crypto_keyring_add(ring, &trusted_key));
    KT_RUN(test_good_version);
    KT_RUN(test_tampered_chunk);
    KT_RUN(test_progress);
    KT_RUN(test_bad_signature);
    KT_RUN(test_unknown_key);
    KT_RUN(test_manifest_digest_mismatch);
    KT_RUN(test_unsigned_and_misnamed);
    KT_RUN(test_delta_update);
    KT_RUN(test_warm_cache_restart);
    KT_RUN(test_corrupt_cache_refetched);
    KT_RUN(test_eviction);
    KT_RUN(test_concurrent_fetches);
    KT_RUN(test_s3_unreachable);
    crypto_keyring_free(ring);
    return 0;
}
