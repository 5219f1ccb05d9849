/* bench/kernels: what one dense layer costs, as ratios to baselines measured in the same run
 * (ARCHITECTURE §9).
 *
 * GPU part (CUDA backend): a W×W layer (bias + relu) for batch rows {1, 8, 32, 128, 512, 2048}
 * × W {1024, 4096, 8192} × {f32, tf32, bf16}; achieved TFLOP/s as a ratio to cuBLAS's own
 * 8192³ GEMM in the same mode, and GB/s of weights streamed as a ratio to a device-to-device
 * copy (bytes read + written). Device time only (CUDA events, warm-up, median).
 *
 * CPU part (reference backend): the same layer's GFLOP/s as a ratio to the reference's own
 * large-GEMM rate (512 × 2048 × 2048 with the same threads), and the blocked GEMM against the
 * textbook triple loop on one thread.
 *
 * usage: bench_kernels [--cpu] [--gpu] [--quick] [--threads N] [--out FILE]
 *   default: both parts; the GPU part says "skipped: no GPU" where there is none. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kern_backend.h"
#include "kernels/kern_dtype.h"
#include "kernels/kref.h"
/* The GPU part times through kcu_testing.h (cuBLAS alone, a copy, the device part of a forward
 * pass), which only a test build has (-Dtest_hooks=true). */
#define BENCH_GPU (KERN_HAVE_CUDA && KFLEET_TEST_HOOKS)
#if BENCH_GPU
#include "kernels/cuda/kcu_testing.h"
#endif

static FILE *out_md; /* --out: the tables again, as markdown */

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void emit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (out_md) {
        va_start(ap, fmt);
        vfprintf(out_md, fmt, ap);
        va_end(ap);
    }
    fflush(stdout);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static float uniform(float a)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(((double)(rng >> 11) * 0x1p-53 * 2.0 - 1.0) * (double)a);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* A W×W layer with bias and relu, weights U(-1/√W, 1/√W) stored in dt. */
struct layer_model {
    struct kern_layer l;
    struct kern_model m;
    void *w, *b;
};

static void layer_make(struct layer_model *lm, uint32_t width, enum kern_dtype dt)
{
    size_t n = (size_t)width * width, es = kern_dtype_size(dt);
    float a = 1.0f / sqrtf((float)width);
    float *tmp = xmalloc(((size_t)1 << 20) * sizeof *tmp);
    lm->w = xmalloc(n * es);
    for (size_t off = 0; off < n; off += (size_t)1 << 20) {
        size_t m = n - off < ((size_t)1 << 20) ? n - off : ((size_t)1 << 20);
        for (size_t i = 0; i < m; i++)
            tmp[i] = uniform(a);
        kern_from_f32(dt, tmp, (char *)lm->w + off * es, m);
    }
    lm->b = xmalloc(width * es);
    for (uint32_t i = 0; i < width; i++)
        tmp[i] = uniform(a);
    kern_from_f32(dt, tmp, lm->b, width);
    free(tmp);
    lm->l = (struct kern_layer){.out_width = width,
                                .in_width = width,
                                .weight_dtype = dt,
                                .bias_dtype = dt,
                                .weight = lm->w,
                                .bias = lm->b,
                                .act = KERN_ACT_RELU};
    lm->m = (struct kern_model){.input_width = width, .n_layers = 1, .layers = &lm->l};
}

static void layer_free(struct layer_model *lm)
{
    free(lm->w);
    free(lm->b);
}

static float *random_rows(uint32_t rows, uint32_t width)
{
    float *x = xmalloc((size_t)rows * width * sizeof *x);
    for (size_t i = 0; i < (size_t)rows * width; i++)
        x[i] = uniform(1.0f);
    return x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef void (*cpu_fn)(void *arg);

/* Seconds per call of fn, the mean over as many calls as fit in min_s (at least one). */
static double mean_time(cpu_fn fn, void *arg, double min_s)
{
    int n = 0;
    double t0 = now_s(), t;
    do {
        fn(arg);
        n++;
        t = now_s() - t0;
    } while (t < min_s);
    return t / n;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A rate and its ratio to a baseline timed right beside it: rounds alternate baseline and
 * subject, and the ratio is the median of the rounds' ratios, so that a shared machine's
 * drifting load (other builds, other tests) cancels out of it. */
struct paired {
    double rate, base_rate, ratio; /* GFLOP/s, GFLOP/s, rate / base_rate */
};

#define ROUNDS 7

static struct paired time_paired(cpu_fn fn, void *arg, double flop, cpu_fn base_fn, void *base_arg,
                                 double base_flop, double min_s)
{
    double rate[ROUNDS], base[ROUNDS], ratio[ROUNDS];
    fn(arg); /* warm-up: caches, page faults, the pool's threads */
    base_fn(base_arg);
    for (int r = 0; r < ROUNDS; r++) {
        base[r] = base_flop / mean_time(base_fn, base_arg, min_s) * 1e-9;
        rate[r] = flop / mean_time(fn, arg, min_s) * 1e-9;
        ratio[r] = rate[r] / base[r];
    }
    return (struct paired){median(rate, ROUNDS), median(base, ROUNDS), median(ratio, ROUNDS)};
}

/* ---- CPU ---- */

struct fwd_arg {
    struct kern_backend *be;
    struct kern_weights *w;
    const float *x;
    float *y;
    uint32_t rows;
};

static void fwd_fn(void *p)
{
    struct fwd_arg *a = p;
    if (kern_forward(a->be, a->w, a->x, a->rows, a->y)) {
        fprintf(stderr, "forward failed: %s\n", kern_last_error());
        exit(1);
    }
}

struct gemm_arg {
    const float *x, *w, *packed;
    float *y;
    uint32_t rows, k, n;
};

static void naive_fn(void *p)
{
    struct gemm_arg *a = p;
    kref_gemm_naive(a->x, a->rows, a->k, a->w, a->n, a->y);
}

static void packed_fn(void *p)
{
    struct gemm_arg *a = p;
    kref_gemm_packed(a->x, a->rows, a->k, a->packed, a->n, 0, kref_panels(a->n), a->y);
}

/* A W×W layer loaded on a backend, with input and output for `rows` rows. */
struct cpu_case {
    struct layer_model lm;
    struct fwd_arg a;
    double flop;
};

static int case_init(struct cpu_case *c, struct kern_backend *be, uint32_t width,
                     enum kern_dtype dt, uint32_t rows)
{
    char err[256];
    layer_make(&c->lm, width, dt);
    c->a = (struct fwd_arg){.be = be, .rows = rows};
    if (kern_weights_load(be, &c->lm.m, rows, &c->a.w, err, sizeof err)) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    c->a.x = random_rows(rows, width);
    c->a.y = xmalloc((size_t)rows * width * sizeof(float));
    c->flop = 2.0 * rows * (double)width * width;
    return 0;
}

static void case_fini(struct cpu_case *c)
{
    kern_weights_free(c->a.be, c->a.w);
    free((void *)c->a.x);
    free(c->a.y);
    layer_free(&c->lm);
}

static int cpu_part(unsigned threads, bool quick)
{
    double min_s = quick ? 0.02 : 0.1;
    char err[256];
    struct kern_backend_config cfg_all = {.threads = threads}, cfg_one = {.threads = 1};
    struct kern_backend *bes[2] = {
        kern_backend_new("ref", &cfg_one, err, sizeof err),
        kern_backend_new("ref", &cfg_all, err, sizeof err),
    };
    if (!bes[0] || !bes[1]) {
        fprintf(stderr, "ref backend: %s\n", err);
        return 1;
    }
    emit("\n## CPU: reference backend (%s)\n\n", kern_backend_device(bes[1]));

    /* Blocked vs naive GEMM, one thread, 128 × 1024 × 1024. */
    {
        uint32_t rows = 128, k = 1024, n = 1024;
        struct gemm_arg a = {.rows = rows, .k = k, .n = n};
        float *x = random_rows(rows, k), *wf = random_rows(n, k);
        float *packed = xmalloc(kref_packed_floats(n, k) * sizeof *packed);
        kref_pack(wf, KERN_DTYPE_F32, n, k, packed);
        a.x = x;
        a.w = wf;
        a.packed = packed;
        a.y = xmalloc((size_t)rows * n * sizeof *a.y);
        double flop = 2.0 * rows * k * n;
        struct paired p = time_paired(packed_fn, &a, flop, naive_fn, &a, flop, min_s);
        emit("GEMM %u×%u×%u, 1 thread: naive %.2f GFLOP/s, blocked %.2f GFLOP/s: blocked/naive "
             "= %.1f×\n\n",
             rows, k, n, p.base_rate, p.rate, p.ratio);
        free(a.y);
        free(packed);
        free(wf);
        free(x);
    }

    /* The baseline: the reference's own rate on a large, square-ish layer (256 rows × 2048²),
     * per thread count, timed beside every case. */
    struct cpu_case base[2];
    for (int b = 0; b < 2; b++)
        if (case_init(&base[b], bes[b], 2048, KERN_DTYPE_F32, 256))
            return 1;

    emit("| dtype | width | rows | 1 thread GFLOP/s | / large GEMM | all threads GFLOP/s | / "
         "large GEMM |\n");
    emit("|---|---:|---:|---:|---:|---:|---:|\n");
    const uint32_t widths[] = {1024, 4096};
    const uint32_t rows_list[] = {1, 8, 32, 128, 512};
    const enum kern_dtype dts[] = {KERN_DTYPE_F32, KERN_DTYPE_BF16};
    double base_rate[2] = {0, 0};
    for (size_t d = 0; d < 2; d++)
        for (size_t wi = 0; wi < 2; wi++)
            for (size_t r = 0; r < sizeof rows_list / sizeof rows_list[0]; r++) {
                if (quick && widths[wi] == 4096 && rows_list[r] > 128)
                    continue;
                struct paired p[2];
                for (int b = 0; b < 2; b++) {
                    struct cpu_case c;
                    if (case_init(&c, bes[b], widths[wi], dts[d], rows_list[r]))
                        return 1;
                    p[b] =
                        time_paired(fwd_fn, &c.a, c.flop, fwd_fn, &base[b].a, base[b].flop, min_s);
                    base_rate[b] = p[b].base_rate;
                    case_fini(&c);
                }
                emit("| %s | %u | %u | %.2f | %.2f | %.2f | %.2f |\n", kern_dtype_str(dts[d]),
                     widths[wi], rows_list[r], p[0].rate, p[0].ratio, p[1].rate, p[1].ratio);
            }
    emit("\nLarge GEMM = a 256 × 2048 × 2048 layer on the same backend, timed alternately with "
         "each case (%d rounds, median of the per-round ratios); last seen at %.2f GFLOP/s on 1 "
         "thread, %.2f on all.\n",
         ROUNDS, base_rate[0], base_rate[1]);
    for (int b = 0; b < 2; b++) {
        case_fini(&base[b]);
        kern_backend_free(bes[b]);
    }
    return 0;
}

/* ---- GPU ---- */

#if BENCH_GPU
struct mode {
    const char *name;
    enum kern_dtype dt;
    bool tf32;
};

static int gpu_part(bool quick)
{
    const struct mode modes[] = {
        {"f32", KERN_DTYPE_F32, false},
        {"tf32", KERN_DTYPE_F32, true},
        {"bf16", KERN_DTYPE_BF16, false},
    };
    const uint32_t widths[] = {1024, 4096, 8192};
    const uint32_t rows_list[] = {1, 8, 32, 128, 512, 2048};
    unsigned reps = quick ? 10 : 50;
    char err[256];

    emit("\n## GPU: CUDA backend\n\n");
    struct kcu_timing t;
    size_t copy_bytes = (size_t)1 << 30;
    if (kcu_bench_copy(copy_bytes, reps, &t)) {
        fprintf(stderr, "copy baseline: %s\n", kern_last_error());
        return 1;
    }
    double copy_gbs = 2.0 * (double)copy_bytes / (t.median_ms * 1e-3) * 1e-9;
    emit("Device-to-device copy of 1 GiB: %.0f GB/s (read + write), median of %u\n", copy_gbs,
         t.reps);
    double peak[3];
    for (int m = 0; m < 3; m++) {
        if (kcu_bench_gemm(modes[m].dt, modes[m].tf32, 8192, 8192, 8192, quick ? 5 : 20, &t)) {
            fprintf(stderr, "cuBLAS %s baseline: %s\n", modes[m].name, kern_last_error());
            return 1;
        }
        peak[m] = 2.0 * 8192.0 * 8192.0 * 8192.0 / (t.median_ms * 1e-3) * 1e-12;
        emit("cuBLAS 8192³ GEMM, %s: %.1f TFLOP/s (median %.3f ms of %u)\n", modes[m].name, peak[m],
             t.median_ms, t.reps);
    }
    emit("\n| mode | width | rows | median µs | TFLOP/s | / cuBLAS 8192³ | weights GB/s | / D2D "
         "copy |\n");
    emit("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int m = 0; m < 3; m++) {
        struct kern_backend_config cfg = {.allow_tf32 = modes[m].tf32};
        struct kern_backend *be = kern_backend_new("cuda", &cfg, err, sizeof err);
        if (!be) {
            fprintf(stderr, "cuda backend: %s\n", err);
            return 1;
        }
        for (size_t wi = 0; wi < 3; wi++) {
            uint32_t width = widths[wi];
            struct layer_model lm;
            layer_make(&lm, width, modes[m].dt);
            struct kern_weights *w;
            if (kern_weights_load(be, &lm.m, 2048, &w, err, sizeof err)) {
                fprintf(stderr, "load: %s\n", err);
                return 1;
            }
            float *x = random_rows(2048, width);
            float *y = xmalloc((size_t)2048 * width * sizeof *y);
            /* One real forward pass puts random input in the device buffers; a one-layer model
             * leaves it there, so every timed run multiplies the same non-zero data. */
            if (kern_forward(be, w, x, 2048, y)) {
                fprintf(stderr, "forward: %s\n", kern_last_error());
                return 1;
            }
            for (size_t r = 0; r < sizeof rows_list / sizeof rows_list[0]; r++) {
                uint32_t rows = rows_list[r];
                if (kcu_bench_forward(be, w, rows, reps, &t)) {
                    fprintf(stderr, "bench: %s\n", kern_last_error());
                    return 1;
                }
                double s = t.median_ms * 1e-3;
                double tflops = 2.0 * rows * (double)width * width / s * 1e-12;
                double wgbs =
                    (double)width * width * (double)kern_dtype_size(modes[m].dt) / s * 1e-9;
                emit("| %s | %u | %u | %.1f | %.2f | %.3f | %.0f | %.3f |\n", modes[m].name, width,
                     rows, t.median_ms * 1e3, tflops, tflops / peak[m], wgbs, wgbs / copy_gbs);
            }
            free(y);
            free(x);
            kern_weights_free(be, w);
            layer_free(&lm);
        }
        kern_backend_free(be);
    }
    emit("\nOne layer = cuBLAS GEMM + fused bias/relu epilogue (+ conversion for bf16), device "
         "time, median of %u.\n",
         reps);
    return 0;
}
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_kernels [--cpu] [--gpu] [--quick] [--threads N] [--out FILE]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cpu", no_argument, NULL, 'c'},
        {"gpu", no_argument, NULL, 'g'},
        {"quick", no_argument, NULL, 'q'},
        {"threads", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool cpu = false, gpu = false, quick = false;
    unsigned threads = 0;
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "cgqt:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cpu = true; break;
        case 'g': gpu = true; break;
        case 'q': quick = true; break;
        case 't': threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!cpu && !gpu)
        cpu = gpu = true;
    if (out && !(out_md = fopen(out, "w"))) {
        fprintf(stderr, "%s: %s\n", out, strerror(errno));
        return 1;
    }
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    char host[64] = "?";
    gethostname(host, sizeof host - 1);
    emit("# bench/kernels — %s on %s\n", date, host);
    int rc = 0;
    if (gpu) {
        int p = kern_backend_probe("cuda");
        if (p) {
            emit("\n## GPU: skipped: no GPU (%s)\n",
                 p == -ENOTSUP ? "CUDA backend not built" : kern_last_error());
        } else {
#if BENCH_GPU
            rc |= gpu_part(quick);
#else
            emit("\n## GPU: skipped: needs a test build (meson configure -Dtest_hooks=true)\n");
#endif
        }
    }
    if (cpu)
        rc |= cpu_part(threads, quick);
    if (out_md)
        fclose(out_md);
    return rc;
}
