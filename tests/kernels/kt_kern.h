/**
 * @file kt_kern.h
 * @brief Helpers shared by the kernels tests: a seeded PRNG (`--seed N`
 *        replays a run), random models, a double-precision forward pass,
 *        guard buffers and error measures.
 *
 * Everything is static inline: each test is one translation unit.
 */
#ifndef KT_KERN_H
#define KT_KERN_H

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kern_dtype.h"
#include "kernels/kern_model.h"
#include "tests/lib/kf_test.h"

/* ---- seeded randomness ---- */

static uint64_t kt_rng_state;

/** @brief Seed from `--seed N` in argv, else from the clock; print it either way. */
static inline uint64_t kt_seed_init(int argc, char **argv)
{
    uint64_t seed = 0;
    bool given = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 0);
            given = true;
        } else if (!strncmp(argv[i], "--seed=", 7)) {
            seed = strtoull(argv[i] + 7, NULL, 0);
            given = true;
        }
    }
    if (!given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed =
            ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
    kt_rng_state = seed ? seed : 1;
    printf("# seed %" PRIu64 " (replay with --seed %" PRIu64 ")\n", seed, seed);
    fflush(stdout);
    return seed;
}

/** @brief splitmix64. */
static inline uint64_t kt_rand64(void)
{
    uint64_t z = (kt_rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/** @brief Uniform in [lo, hi). */
static inline float kt_uniform(float lo, float hi)
{
    double u = (double)(kt_rand64() >> 11) * 0x1p-53;
    return (float)((double)lo + u * ((double)hi - (double)lo));
}

/** @brief Uniform integer in [lo, hi]. */
static inline uint32_t kt_range(uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(kt_rand64() % ((uint64_t)hi - lo + 1));
}

/** @brief An odd size in [lo, hi] (lo, hi ≥ 1). */
static inline uint32_t kt_odd(uint32_t lo, uint32_t hi)
{
    uint32_t v = kt_range(lo, hi);
    return v % 2 ? v : (v + 1 <= hi ? v + 1 : v - 1);
}

/** @brief malloc that fails the test (99: a fixture problem) instead of returning NULL. */
static inline void *kt_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(KF_TEST_HARD_ERROR);
    }
    return p;
}

/** @brief n floats uniform in [lo, hi). */
static inline float *kt_rand_floats(size_t n, float lo, float hi)
{
    float *p = kt_malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = kt_uniform(lo, hi);
    return p;
}

/* ---- random models ---- */

/** A model and the storage its pointers borrow. */
struct kt_model {
    struct kern_model m;
    struct kern_layer *layers;
    void **bufs; /* weight and bias bytes */
    uint32_t n_bufs;
};

/**
 * @brief A random model: widths[0] is the input width, widths[1 … n] the layers'
 *        outputs. Weights U(-a, a) with a = 1/√in (PyTorch's nn.Linear init),
 *        biases the same, stored in `dt`; activations from `acts` (n entries),
 *        bias on a layer when `bias` (or randomly when `bias` < 0).
 */
static inline void kt_model_make(struct kt_model *km, uint32_t n, const uint32_t *widths,
                                 enum kern_dtype dt, const enum kern_act *acts, int bias,
                                 enum kern_final fin)
{
    memset(km, 0, sizeof *km);
    km->layers = kt_malloc(n * sizeof *km->layers);
    km->bufs = kt_malloc(2 * n * sizeof *km->bufs);
    for (uint32_t i = 0; i < n; i++) {
        struct kern_layer *l = &km->layers[i];
        memset(l, 0, sizeof *l);
        l->in_width = widths[i];
        l->out_width = widths[i + 1];
        l->weight_dtype = dt;
        l->bias_dtype = dt;
        l->act = acts[i];
        float a = 1.0f / sqrtf((float)l->in_width);
        size_t nw = (size_t)l->out_width * l->in_width;
        float *f = kt_rand_floats(nw, -a, a);
        void *wb = kt_malloc(nw * kern_dtype_size(dt));
        kern_from_f32(dt, f, wb, nw);
        free(f);
        l->weight = wb;
        km->bufs[km->n_bufs++] = wb;
        if (bias > 0 || (bias < 0 && kt_rand64() % 2)) {
            float *bf = kt_rand_floats(l->out_width, -a, a);
            void *bb = kt_malloc(l->out_width * kern_dtype_size(dt));
            kern_from_f32(dt, bf, bb, l->out_width);
            free(bf);
            l->bias = bb;
            km->bufs[km->n_bufs++] = bb;
        }
    }
    km->m.input_width = widths[0];
    km->m.n_layers = n;
    km->m.layers = km->layers;
    km->m.final = fin;
}

static inline void kt_model_fini(struct kt_model *km)
{
    for (uint32_t i = 0; i < km->n_bufs; i++)
        free(km->bufs[i]);
    free(km->bufs);
    free(km->layers);
}

/* ---- the double-precision forward pass ---- */

static inline double kt_act_d(enum kern_act act, double x)
{
    switch (act) {
    case KERN_ACT_RELU: return x < 0 ? 0.0 : x;
    case KERN_ACT_GELU:
        if (isinf(x))
            return x > 0 ? x : 0.0;
        return 0.5 * x * erfc(-x / sqrt(2.0));
    case KERN_ACT_TANH: return tanh(x);
    case KERN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case KERN_ACT_NONE:
    default: return x;
    }
}

/** @brief A bound on how much an activation can magnify a perturbation of its input. */
static inline double kt_act_lipschitz(enum kern_act act)
{
    switch (act) {
    case KERN_ACT_GELU: return 1.13;
    case KERN_ACT_SIGMOID: return 0.25;
    case KERN_ACT_NONE:
    case KERN_ACT_RELU:
    case KERN_ACT_TANH:
    default: return 1.0;
    }
}

/**
 * @brief The model in double precision on rows × input_width inputs: each
 *        layer's input rounded to its weight dtype (through f32, as the
 *        contract says), everything else in double. out: rows × output_width.
 *
 * `mag` (optional, same shape) receives the scale that rounding errors of any
 * correct implementation are proportional to: Σ|x|·|w| + |b| per layer, the
 * inputs' magnitudes carried through the layers with each activation's
 * Lipschitz bound. A dot product with cancellation has a small value but a
 * large magnitude, and an error relative to its value means nothing. After a
 * softmax the scale is the probability itself.
 */
static inline void kt_forward_double(const struct kern_model *m, const float *in, uint32_t rows,
                                     double *out, double *mag)
{
    uint32_t maxw = kern_model_max_width(m);
    size_t cap = (size_t)rows * maxw;
    double *x = kt_malloc(cap * sizeof *x), *y = kt_malloc(cap * sizeof *y);
    double *xm = kt_malloc(cap * sizeof *xm), *ym = kt_malloc(cap * sizeof *ym);
    float *wrow = kt_malloc((size_t)maxw * sizeof *wrow);
    for (size_t i = 0; i < (size_t)rows * m->input_width; i++) {
        x[i] = (double)in[i];
        xm[i] = fabs((double)in[i]);
    }
    for (uint32_t li = 0; li < m->n_layers; li++) {
        const struct kern_layer *l = &m->layers[li];
        size_t es = kern_dtype_size(l->weight_dtype);
        double lip = kt_act_lipschitz(l->act);
        for (size_t i = 0; i < (size_t)rows * l->in_width; i++) {
            x[i] = (double)kern_round_to(l->weight_dtype, (float)x[i]);
            if (!(xm[i] >= fabs(x[i]))) /* NaN-safe max */
                xm[i] = fabs(x[i]);
        }
        for (uint32_t o = 0; o < l->out_width; o++) {
            kern_to_f32(l->weight_dtype, (const char *)l->weight + (size_t)o * l->in_width * es,
                        wrow, l->in_width);
            float b = 0.0f;
            if (l->bias)
                kern_to_f32(l->bias_dtype,
                            (const char *)l->bias + (size_t)o * kern_dtype_size(l->bias_dtype), &b,
                            1);
            for (uint32_t r = 0; r < rows; r++) {
                double s = 0.0, sm = 0.0;
                const double *xr = x + (size_t)r * l->in_width;
                const double *xmr = xm + (size_t)r * l->in_width;
                for (uint32_t k = 0; k < l->in_width; k++) {
                    s += xr[k] * (double)wrow[k];
                    sm += xmr[k] * fabs((double)wrow[k]);
                }
                y[(size_t)r * l->out_width + o] = kt_act_d(l->act, s + (double)b);
                ym[(size_t)r * l->out_width + o] = lip * (sm + fabs((double)b));
            }
        }
        double *t = x;
        x = y;
        y = t;
        t = xm;
        xm = ym;
        ym = t;
    }
    uint32_t n = kern_model_output_width(m);
    for (uint32_t r = 0; r < rows; r++) {
        double *xr = x + (size_t)r * n, *xmr = xm + (size_t)r * n;
        if (m->final == KERN_FINAL_SOFTMAX) {
            double mx = xr[0];
            for (uint32_t c = 1; c < n; c++)
                mx = (xr[c] > mx || isnan(xr[c])) ? xr[c] : mx;
            double s = 0.0;
            for (uint32_t c = 0; c < n; c++)
                s += exp(xr[c] - mx);
            for (uint32_t c = 0; c < n; c++) {
                xr[c] = exp(xr[c] - mx) / s;
                xmr[c] = fabs(xr[c]);
            }
        }
        memcpy(out + (size_t)r * n, xr, n * sizeof *xr);
        if (mag)
            memcpy(mag + (size_t)r * n, xmr, n * sizeof *xmr);
    }
    free(wrow);
    free(ym);
    free(xm);
    free(y);
    free(x);
}

/* ---- comparisons ---- */

enum kt_class { KT_FINITE, KT_NAN, KT_PINF, KT_NINF };

static inline enum kt_class kt_classify(double v)
{
    if (isnan(v))
        return KT_NAN;
    if (isinf(v))
        return v > 0 ? KT_PINF : KT_NINF;
    return KT_FINITE;
}

/**
 * @brief Compare rows × n values row by row: NaN/±Inf at the same positions,
 *        and |got - want| ≤ tol · (the row's largest finite scale), where the
 *        scale of an element is mag[i] (see kt_forward_double()) or, with mag
 *        NULL, |want[i]|; a row whose scale is 0 uses 1. Fails the test at the
 *        first offending element.
 * @returns the largest error seen, as a fraction of its row's scale.
 */
static inline double kt_check_rows(const char *what, const float *got, const double *want,
                                   const double *mag, uint32_t rows, uint32_t n, double tol)
{
    double worst = 0.0;
    for (uint32_t r = 0; r < rows; r++) {
        double scale = 0.0;
        for (uint32_t c = 0; c < n; c++) {
            size_t i = (size_t)r * n + c;
            double s = mag ? mag[i] : fabs(want[i]);
            if (isfinite(s) && s > scale)
                scale = s;
        }
        if (scale == 0.0)
            scale = 1.0;
        for (uint32_t c = 0; c < n; c++) {
            size_t i = (size_t)r * n + c;
            double g = (double)got[i], w = want[i];
            KT_ASSERT_MSG(kt_classify(g) == kt_classify(w),
                          "%s: row %u col %u: got %g, want %g (NaN/Inf position differs)", what, r,
                          c, g, w);
            if (kt_classify(w) != KT_FINITE)
                continue;
            double e = fabs(g - w) / scale;
            if (e > worst)
                worst = e;
            KT_ASSERT_MSG(e <= tol,
                          "%s: row %u col %u: got %.9g, want %.9g: error %.3g of the row's "
                          "scale %.3g > tolerance %.3g",
                          what, r, c, g, w, e, scale, tol);
        }
    }
    return worst;
}

/* ---- guard elements around outputs ---- */

#define KT_GUARD 64u
#define KT_GUARD_BYTE 0xA5u

/** @brief A buffer of KT_GUARD + n + KT_GUARD elements of `es` bytes: guards set, inside poisoned
 * with NaN bytes. */
static inline void *kt_guarded_new(size_t n, size_t es)
{
    unsigned char *p = kt_malloc((n + 2 * KT_GUARD) * es);
    memset(p, KT_GUARD_BYTE, KT_GUARD * es);
    memset(p + (KT_GUARD + n) * es, KT_GUARD_BYTE, KT_GUARD * es);
    /* 0xFF bytes are a NaN in f32, f16 and bf16: an element the code under test forgets to
     * write shows up as a NaN where the reference has a number. */
    memset(p + KT_GUARD * es, 0xFF, n * es);
    return p;
}

/** @brief The inside of a guarded buffer. */
static inline void *kt_guarded_inner(void *p, size_t es)
{
    return (unsigned char *)p + KT_GUARD * es;
}

/** @brief Fail the test if a guard byte changed. */
static inline void kt_guarded_check(const char *what, const void *p, size_t n, size_t es)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < KT_GUARD * es; i++) {
        KT_ASSERT_MSG(b[i] == KT_GUARD_BYTE, "%s: guard byte %zu before the output overwritten",
                      what, KT_GUARD * es - i);
        KT_ASSERT_MSG(b[(KT_GUARD + n) * es + i] == KT_GUARD_BYTE,
                      "%s: guard byte %zu after the output overwritten", what, i);
    }
}

#endif
