/* bench/swap — the store + loader part of a swap, by stage, for models of
 * 64 MiB, 256 MiB and 1 GiB (ARCHITECTURE §9, issue 6):
 *
 *   published version -> loader_fetch_load: store_fetch (manifest, signature,
 *   chunks fetched with parallel ranged GETs and hashed as they arrive, cache
 *   writes) with each layer loaded as soon as the chunks under it are
 *   verified, then warm-up + golden check (the first golden batch is the
 *   warm-up) -> first response (one row through the new weights)
 *
 * In the pipeline, "load" is the loading work (begin, every layer, end),
 * mostly overlapped with the fetch; alone, it is loader_load's
 * kern_weights_load on the fetched blob.
 *
 * Each stage is also measured alone in the same run (a plain parallel GET of
 * every chunk; one SHA-256 pass over the blob on one core; load, warm-up,
 * golden and one row again on the loaded model), and the pipeline's wall time
 * is printed as a ratio to the slowest stage alone (the pipelining floor: 1.0
 * is the best a perfect overlap could do) and to the sum of the stages
 * (sequential: < 1 means the stages overlap). A second, warm swap (every
 * chunk already in the cache: a rollback or a restart) is reported beside it.
 *
 * The store is the devstack's S3 (KFLEET_S3_*) when set, else a file:// store
 * in a temporary directory. Kafka is not part of this measurement (see
 * docs/model-store.md): the worker's own figures (rollout.done timings) add
 * the claim and the flip.
 *
 *   bench_swap [--sizes 64,256,1024] [--backend ref|cuda|auto] [--parallel N]
 *              [--part-mib N] [--repeat N] [--sequential]
 *
 * --sequential swaps the way the worker did before the pipeline (store_fetch,
 * then loader_load), for a before/after on the same machine.
 *
 * Every figure is the median of --repeat runs (default 3), each with a fresh
 * cache, of one fixture published once per size.
 */
#include "common/kf_clock.h"
#include "common/s3io.h"
#include "tests/worker/store/kt_fixture.h"
#include "worker/loader.h"
#include "worker/store.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define DIE(...)                                     \
    do {                                             \
        fprintf(stderr, "bench_swap: " __VA_ARGS__); \
        fputc('\n', stderr);                         \
        exit(1);                                     \
    } while (0)

/* --sequential: store_fetch then loader_load, as before the pipeline, for comparison. */
static bool sequential;

/* One swap: fetch, verify and load (pipelined unless --sequential). */
static int swap(model_store *st, const struct kt_version *v, struct kern_backend *be,
                uint32_t max_rows, struct store_version **sv, struct slot_version **slv,
                struct loader_timings *lt, enum ctl_stage *stage, char *err, size_t err_size)
{
    if (!sequential)
        return loader_fetch_load(be, st, v->model, v->version, &v->ref, max_rows, NULL, NULL, sv,
                                 slv, lt, stage, err, err_size);
    int rc = store_fetch(st, v->model, v->version, &v->ref, sv, stage, err, err_size);
    return rc ? rc : loader_load(be, *sv, max_rows, slv, lt, stage, err, err_size);
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

/* f32 MLP of about @p mib MiB: square layers of width W, then W -> 16. */
static struct kt_spec spec_for(unsigned mib, const char *model, uint64_t seed)
{
    uint32_t w = mib >= 64 ? 4096 : 1024;
    uint64_t per_layer = (uint64_t)w * w * 4;
    uint32_t n = (uint32_t)(((uint64_t)mib << 20) / per_layer);
    if (n < 1)
        n = 1;
    if (n + 1 > KT_MAX_LAYERS)
        DIE("%u MiB is too large for the fixture", mib);
    struct kt_spec s = {
        .model = model,
        .version = "v1",
        .seq = 1,
        .input_width = w,
        .n_layers = n + 1,
        .dtype = SCHEMA_DTYPE_F32,
        .act = ARCH_ACT_RELU,
        .softmax = true,
        .seed = seed,
        .chunk_size = mib >= 64 ? 64u << 20 : 1u << 20, /* the publisher's default: 64 MiB */
        .golden_rows = 2,
        .atol = 1e-3,
        .rtol = 1e-3,
    };
    for (uint32_t i = 0; i < n; i++)
        s.widths[i] = w;
    s.widths[n] = 16;
    return s;
}

/* Only uint64_t fields: the medians are taken field by field. */
struct result {
    uint64_t mib, chunks, blob, repeat;
    /* the pipeline */
    uint64_t total_us, fetch_us, verify_us, hash_us, load_us, warmup_us, validate_us, first_us;
    /* alone */
    uint64_t a_fetch_us, a_write_us, a_hash_us, a_load_us, a_warmup_us, a_validate_us, a_first_us;
    /* warm: everything from the cache */
    uint64_t w_total_us, w_fetch_us, w_hash_us;
};

/* Every chunk with plain parallel ranged GETs, no hashing, no cache. */
static uint64_t fetch_alone(objstore *os, const struct kt_version *v, size_t part, uint8_t *dst)
{
    char err[512], key[128];
    int64_t t0 = kf_clock_mono_us();
    struct s3io *s3 = objstore_s3(os);
    for (size_t i = 0; i < v->m->n_chunks; i++) {
        const struct manifest_chunk *c = &v->m->chunks[i];
        snprintf(key, sizeof(key), "blobs/sha256/%s", c->sha256);
        int rc =
            s3 ? s3io_get_parallel(s3, key, c->size, part, dst + c->offset, 0, err, sizeof(err))
               : objstore_get_range(os, key, 0, (size_t)c->size, dst + c->offset, err, sizeof(err));
        if (rc)
            DIE("fetch alone: %s", err);
    }
    return (uint64_t)(kf_clock_mono_us() - t0);
}

/* The cache writes alone: every chunk to a temporary file and renamed. */
static uint64_t write_alone(const struct kt_version *v)
{
    char *dir = kt_tmpdir("bench-swap-write");
    char tmp[PATH_MAX], path[PATH_MAX];
    int64_t t0 = kf_clock_mono_us();
    for (size_t i = 0; i < v->m->n_chunks; i++) {
        const struct manifest_chunk *c = &v->m->chunks[i];
        snprintf(tmp, sizeof(tmp), "%s/tmp.%zu", dir, i);
        snprintf(path, sizeof(path), "%s/%.64s", dir, c->sha256);
        FILE *f = fopen(tmp, "wb");
        if (!f || fwrite(v->blob.ptr + c->offset, 1, (size_t)c->size, f) != c->size || fclose(f) ||
            rename(tmp, path))
            DIE("cache write alone: %s", strerror(errno));
    }
    uint64_t us = (uint64_t)(kf_clock_mono_us() - t0);
    kt_rmtree(dir);
    free(dir);
    return us;
}

/* One cold swap, the stages alone, and one warm swap, with a fresh cache. */
static void measure_once(const struct kt_version *vp, objstore *os, struct kern_backend *be,
                         const crypto_keyring *ring, unsigned parallel, size_t part,
                         struct result *r)
{
    const struct kt_version v = *vp; /* read-only view */
    char err[1024];
    const uint32_t input_width = (uint32_t)v.m->arch.input_width;
    char *cache = kt_tmpdir("bench-swap");
    struct store_conf c = {
        .os = os,
        .cache_dir = cache,
        .trusted = ring,
        .parallel = parallel,
        .part_size = part,
        .deadline_ms = 600000,
        .keep_versions = 2,
    };
    model_store *st = store_new(&c, err, sizeof(err));
    if (!st)
        DIE("store_new: %s", err);

    /* The pipeline, cold cache. */
    const uint32_t max_rows = 64;
    struct store_version *sv;
    struct slot_version *slv;
    struct loader_timings lt;
    enum ctl_stage stage;
    int64_t t0 = kf_clock_mono_us();
    if (swap(st, &v, be, max_rows, &sv, &slv, &lt, &stage, err, sizeof(err)))
        DIE("swap (%s): %s", ctl_stage2str(stage), err);
    float *in, *out;
    struct kern_weights *w = loader_weights(slv);
    kern_weights_io(w, &in, &out);
    int64_t t1 = kf_clock_mono_us();
    memcpy(in, v.m->golden.inputs, (size_t)input_width * sizeof(float));
    if (kern_forward(be, w, in, 1, out))
        DIE("first response: %s", kern_last_error());
    int64_t t2 = kf_clock_mono_us();
    r->total_us = (uint64_t)(t2 - t0);
    r->first_us = (uint64_t)(t2 - t1);
    r->fetch_us = sv->timings.fetch_us;
    r->verify_us = sv->timings.verify_us;
    r->hash_us = sv->timings.hash_us;
    r->load_us = lt.load_us;
    r->warmup_us = lt.warmup_us;
    r->validate_us = lt.validate_us;

    /* The stages alone. */
    uint8_t *buf = malloc(v.blob.len);
    if (!buf)
        DIE("out of memory");
    r->a_fetch_us = fetch_alone(os, &v, part, buf);
    free(buf);
    r->a_write_us = write_alone(&v);
    uint8_t d[CRYPTO_SHA256_LEN];
    int64_t h0 = kf_clock_mono_us();
    crypto_sha256_digest(sv->blob, sv->blob_size, d);
    r->a_hash_us = (uint64_t)(kf_clock_mono_us() - h0);
    loader_version_free(slv);
    if (loader_load(be, sv, max_rows, &slv, &lt, &stage, err, sizeof(err)))
        DIE("loader_load again: %s", err);
    r->a_load_us = lt.load_us;
    r->a_warmup_us = lt.warmup_us;
    r->a_validate_us = lt.validate_us;
    w = loader_weights(slv);
    kern_weights_io(w, &in, &out);
    memcpy(in, v.m->golden.inputs, (size_t)input_width * sizeof(float));
    h0 = kf_clock_mono_us();
    kern_forward(be, w, in, 1, out);
    r->a_first_us = (uint64_t)(kf_clock_mono_us() - h0);
    loader_version_free(slv);
    store_version_free(sv);

    /* Warm: a second swap to the same version, all chunks from the cache. */
    t0 = kf_clock_mono_us();
    if (swap(st, &v, be, max_rows, &sv, &slv, &lt, &stage, err, sizeof(err)))
        DIE("warm swap (%s): %s", ctl_stage2str(stage), err);
    w = loader_weights(slv);
    kern_weights_io(w, &in, &out);
    memcpy(in, v.m->golden.inputs, (size_t)input_width * sizeof(float));
    kern_forward(be, w, in, 1, out);
    r->w_total_us = (uint64_t)(kf_clock_mono_us() - t0);
    r->w_fetch_us = sv->timings.fetch_us;
    r->w_hash_us = sv->timings.hash_us;
    if (sv->counts.bytes_fetched)
        DIE("warm swap fetched %llu bytes", (unsigned long long)sv->counts.bytes_fetched);
    loader_version_free(slv);
    store_version_free(sv);

    store_free(st);
    kt_rmtree(cache);
    free(cache);
}

#define N_FIELDS (sizeof(struct result) / sizeof(uint64_t))

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void run_size(unsigned mib, unsigned repeat, objstore *os, struct kern_backend *be,
                     const crypto_keyring *ring, const struct crypto_ed25519_key *key,
                     unsigned parallel, size_t part, struct result *r)
{
    char model[64], err[1024];
    uint64_t seed = (uint64_t)kf_clock_wall_ms() ^ ((uint64_t)getpid() << 20) ^ mib;
    snprintf(model, sizeof(model), "bench-swap-%u-%llx", mib, (unsigned long long)seed);
    struct kt_spec s = spec_for(mib, model, seed);
    fprintf(stderr, "bench_swap: %u MiB: building and publishing %s ...\n", mib, model);
    struct kt_version v;
    kt_version_build(&s, key, &v);
    kt_version_publish(os, &v);

    /* Each figure is the median of @p repeat runs (shared machines drift). */
    struct result *runs = calloc(repeat, sizeof(*runs));
    if (!runs)
        DIE("out of memory");
    for (unsigned k = 0; k < repeat; k++) {
        fprintf(stderr, "bench_swap: %u MiB: run %u of %u\n", mib, k + 1, repeat);
        measure_once(&v, os, be, ring, parallel, part, &runs[k]);
    }
    uint64_t col[64];
    for (size_t f = 0; f < N_FIELDS; f++) {
        for (unsigned k = 0; k < repeat; k++)
            col[k] = ((const uint64_t *)&runs[k])[f];
        qsort(col, repeat, sizeof(col[0]), cmp_u64);
        ((uint64_t *)r)[f] = col[repeat / 2];
    }
    free(runs);
    r->mib = mib;
    r->chunks = v.m->n_chunks;
    r->blob = v.blob.len;
    r->repeat = repeat;

    /* Leave the shared bucket as it was. */
    for (size_t i = 0; i < v.m->n_chunks; i++) {
        char k[128];
        snprintf(k, sizeof(k), "blobs/sha256/%s", v.m->chunks[i].sha256);
        objstore_delete(os, k, err, sizeof(err));
    }
    objstore_delete(os, v.ref.key, err, sizeof(err));
    char sk[CTL_KEY_CAP];
    snprintf(sk, sizeof(sk), "models/%s/v1/manifest.sig", v.model);
    objstore_delete(os, sk, err, sizeof(err));
    kt_version_fini(&v);
}

static uint64_t max_u(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static void print_result(const struct result *r)
{
    uint64_t stages[] = {r->a_fetch_us,  r->a_write_us,    r->a_hash_us, r->a_load_us,
                         r->a_warmup_us, r->a_validate_us, r->a_first_us};
    const char *names[] = {"fetch",   "cache write", "verify",        "load",
                           "warm-up", "validate",    "first response"};
    uint64_t sum = 0, slowest = 0;
    int si = 0;
    for (int i = 0; i < 7; i++) {
        sum += stages[i];
        if (stages[i] > slowest) {
            slowest = stages[i];
            si = i;
        }
    }
    printf("\n### %llu MiB (%llu bytes, %llu chunks; medians of %llu runs)\n\n",
           (unsigned long long)r->mib, (unsigned long long)r->blob, (unsigned long long)r->chunks,
           (unsigned long long)r->repeat);
    printf("| stage | in the pipeline (ms) | alone (ms) |\n|---|---:|---:|\n");
    printf("| fetch (manifest + chunks; in the pipeline with hashing and cache writes "
           "overlapped) | %.1f | %.1f |\n",
           ms(r->fetch_us), ms(r->a_fetch_us));
    printf("| cache write (chunk files, temp + rename) | (in fetch) | %.1f |\n", ms(r->a_write_us));
    printf("| verify (SHA-256 of every chunk; in the pipeline: summed over threads) | %.1f | "
           "%.1f |\n",
           ms(r->hash_us), ms(r->a_hash_us));
    printf("| load (layer by layer; in the pipeline overlapped with the fetch) | %.1f | %.1f |\n",
           ms(r->load_us), ms(r->a_load_us));
    printf("| warm-up (the first golden batch) | %.1f | %.1f |\n", ms(r->warmup_us),
           ms(r->a_warmup_us));
    printf("| validate (later golden batches, comparison) | %.1f | %.1f |\n", ms(r->validate_us),
           ms(r->a_validate_us));
    printf("| first response (1 row) | %.1f | %.1f |\n", ms(r->first_us), ms(r->a_first_us));
    printf("| **published → first response** | **%.1f** | sum %.1f, slowest %.1f (%s) |\n",
           ms(r->total_us), ms(sum), ms(slowest), names[si]);
    printf("\nratio to the slowest stage alone: **%.2f**; ratio to the sum of the stages: "
           "**%.2f**; throughput %.0f MiB/s end to end\n",
           (double)r->total_us / (double)max_u(slowest, 1), (double)r->total_us / (double)sum,
           (double)r->blob / 1048576.0 / ((double)r->total_us / 1e6));
    printf("warm swap (every chunk re-verified from the cache): %.1f ms (store %.1f ms, of which "
           "hashing %.1f ms summed over threads), %.2f of the cold one\n",
           ms(r->w_total_us), ms(r->w_fetch_us), ms(r->w_hash_us),
           (double)r->w_total_us / (double)r->total_us);
}

int main(int argc, char **argv)
{
    const char *sizes = "64,256,1024", *backend = "auto";
    unsigned parallel = 8, repeat = 3;
    size_t part_mib = 8;
    static const struct option opts[] = {
        {"sizes", required_argument, NULL, 's'},    {"backend", required_argument, NULL, 'b'},
        {"parallel", required_argument, NULL, 'p'}, {"part-mib", required_argument, NULL, 'm'},
        {"repeat", required_argument, NULL, 'r'},   {"sequential", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "s:b:p:m:r:h", opts, NULL)) != -1) {
        switch (o) {
        case 's': sizes = optarg; break;
        case 'b': backend = optarg; break;
        case 'p': parallel = (unsigned)atoi(optarg); break;
        case 'm': part_mib = (size_t)atoi(optarg); break;
        case 'r': repeat = (unsigned)atoi(optarg); break;
        case 'S': sequential = true; break;
        case 'h':
            printf("usage: bench_swap [--sizes 64,256,1024] [--backend ref|cuda|auto] "
                   "[--parallel N] [--part-mib N] [--repeat N] [--sequential]\n");
            return 0;
        default: return 2;
        }
    }
    if (repeat < 1 || repeat > 64 || parallel < 1 || part_mib < 1) {
        fprintf(stderr, "bench_swap: --repeat 1..64, --parallel and --part-mib >= 1\n");
        return 2;
    }

    char err[512], url[PATH_MAX + 16];
    const char *ep = getenv("KFLEET_S3_ENDPOINT"), *bucket = getenv("KFLEET_S3_BUCKET");
    char *root = NULL;
    struct objstore_s3_opts s3o = {
        .endpoint = ep,
        .access_key = getenv("KFLEET_S3_ACCESS_KEY"),
        .secret_key = getenv("KFLEET_S3_SECRET_KEY"),
        .timeout_ms = 120000,
        .max_parallel = (int)parallel,
    };
    if (ep && *ep && bucket && *bucket) {
        snprintf(url, sizeof(url), "s3://%s", bucket);
    } else {
        root = kt_tmpdir("bench-swap-store");
        snprintf(url, sizeof(url), "file://%s", root);
    }
    objstore *os = objstore_new(url, &s3o, err, sizeof(err));
    if (!os)
        DIE("objstore_new %s: %s", url, err);
    struct kern_backend *be = kern_backend_new(backend, NULL, err, sizeof(err));
    if (!be)
        DIE("backend %s: %s", backend, err);
    struct crypto_ed25519_key key;
    kt_key(&key, 42);
    crypto_keyring *ring = crypto_keyring_new();
    if (!ring || crypto_keyring_add(ring, &key))
        DIE("keyring");

    struct utsname u;
    uname(&u);
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    printf("## bench/swap — %s\n\n", date);
    printf("machine: %s %s, %ld CPUs; backend %s (%s); store %s (S3 signing %s); %u fetch "
           "threads, %zu MiB ranged GETs\n",
           u.nodename, u.machine, sysconf(_SC_NPROCESSORS_ONLN), kern_backend_name(be),
           kern_backend_device(be), url, objstore_s3(os) ? s3io_signing(objstore_s3(os)) : "none",
           parallel, part_mib);
    printf("swap: %s\n", sequential ? "sequential (store_fetch, then loader_load)"
                                    : "pipelined (loader_fetch_load)");

    char *list = strdup(sizes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        struct result r;
        run_size((unsigned)atoi(tok), repeat, os, be, ring, &key, parallel, part_mib << 20, &r);
        print_result(&r);
        fflush(stdout);
    }
    free(list);
    crypto_keyring_free(ring);
    kern_backend_free(be);
    objstore_free(os);
    if (root) {
        kt_rmtree(root);
        free(root);
    }
    return 0;
}
