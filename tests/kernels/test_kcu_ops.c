/* gpu suite: every CUDA operation alone against its reference, on fresh random inputs of odd
 * sizes (seed printed, --seed replays), with NaN/Inf positions compared and guard elements
 * around every output. Exits 77 where there is no usable GPU. */
#include <errno.h>

#include "kernels/cuda/kcu_testing.h"
#include "kernels/kern_act.h"
#include "kernels/kern_backend.h"
#include "kernels/kref.h"
#include "kt_kern.h"

/* GEMM tolerance, as a fraction of Σ|x·w| for each output: f32 and the 16-bit types (whose
 * products are exact in f32) differ from the double sum only by f32 accumulation, in whatever
 * order and with whatever rounding the tensor cores use; TF32 rounds both inputs to 10-bit
 * mantissas first. A wrong layout, leading dimension or dtype gives errors of order 1. */
static double gemm_tol(enum kern_dtype dt, bool tf32)
{
    if (dt == KERN_DTYPE_F32 && tf32)
        return 2e-3;
    return 3e-5;
}

static void gemm_case(enum kern_dtype dt, bool tf32, uint32_t rows, uint32_t k, uint32_t n)
{
    float *x = kt_rand_floats((size_t)rows * k, -1.0f, 1.0f);
    float *wf = kt_rand_floats((size_t)n * k, -1.0f, 1.0f);
    kref_round(dt, x, x, (size_t)rows * k);
    kref_round(dt, wf, wf, (size_t)n * k);
    void *wb = kt_malloc((size_t)n * k * kern_dtype_size(dt));
    kern_from_f32(dt, wf, wb, (size_t)n * k);
    /* Sprinkle specials: a NaN in one row of X, an Inf in another (if there are rows enough). */
    if (rows >= 3) {
        x[(size_t)1 * k + kt_range(0, k - 1)] = NAN;
        x[(size_t)2 * k + kt_range(0, k - 1)] = INFINITY;
    }
    float *g = kt_guarded_new((size_t)rows * n, sizeof(float));
    int rc = kcu_test_gemm(dt, tf32, wb, x, g, rows, k, n, KT_GUARD);
    KT_ASSERT_MSG(rc == 0, "kcu_test_gemm: %d %s", rc, kern_last_error());
    char what[96];
    snprintf(what, sizeof what, "gemm %s%s %ux%ux%u", kern_dtype_str(dt), tf32 ? " (tf32)" : "",
             rows, k, n);
    kt_guarded_check(what, g, (size_t)rows * n, sizeof(float));
    const float *y = kt_guarded_inner(g, sizeof(float));
    double tol = gemm_tol(dt, tf32), worst = 0.0;
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t o = 0; o < n; o++) {
            double s = 0.0, mag = 0.0;
            for (uint32_t i = 0; i < k; i++) {
                double t = (double)x[(size_t)r * k + i] * (double)wf[(size_t)o * k + i];
                s += t;
                mag += fabs(t);
            }
            double got = (double)y[(size_t)r * n + o];
            KT_ASSERT_MSG(kt_classify(got) == kt_classify(s), "%s [%u,%u]: got %g want %g", what, r,
                          o, got, s);
            if (!isfinite(s))
                continue;
            double e = fabs(got - s) / (mag + 1e-30);
            worst = e > worst ? e : worst;
            KT_ASSERT_MSG(e <= tol, "%s [%u,%u]: got %.9g want %.9g, error %.3g > %.3g", what, r, o,
                          got, s, e, tol);
        }
    printf("#   %s: max error %.3g of Σ|x·w|\n", what, worst);
    free(g);
    free(wb);
    free(wf);
    free(x);
}

static void test_gemm(void)
{
    for (int dt = 0; dt < KERN_DTYPE_COUNT; dt++)
        for (int t = 0; t < (dt == KERN_DTYPE_F32 ? 2 : 1); t++) {
            gemm_case((enum kern_dtype)dt, t, 1, 1, 1);
            gemm_case((enum kern_dtype)dt, t, 1, kt_odd(1, 4099), kt_odd(1, 999));
            for (int i = 0; i < 4; i++)
                gemm_case((enum kern_dtype)dt, t, kt_odd(1, 301), kt_odd(1, 1025), kt_odd(1, 513));
        }
}

/* Units in the last place between two values of a dtype, through their ordered bit patterns. */
static int64_t ordered(enum kern_dtype dt, double v)
{
    if (dt == KERN_DTYPE_F32) {
        float f = (float)v;
        int32_t i;
        memcpy(&i, &f, sizeof i);
        return i < 0 ? (int64_t)INT32_MIN - i : i;
    }
    uint16_t h = dt == KERN_DTYPE_F16 ? kern_f32_to_f16((float)v) : kern_f32_to_bf16((float)v);
    return (h & 0x8000) ? -(int64_t)(h & 0x7fff) : (int64_t)h;
}

static void bias_act_case(enum kern_act act, enum kern_dtype out_dt, bool bias, uint32_t rows,
                          uint32_t n)
{
    float *y = kt_rand_floats((size_t)rows * n, -8.0f, 8.0f);
    float *b = bias ? kt_rand_floats(n, -1.0f, 1.0f) : NULL;
    /* Specials in the input, including where the activation treats them specially. */
    y[0] = NAN;
    if (rows * n > 3) {
        y[1] = INFINITY;
        y[2] = -INFINITY;
        y[3] = -0.0f;
    }
    size_t es = kern_dtype_size(out_dt);
    void *g = kt_guarded_new((size_t)rows * n, es);
    int rc = kcu_test_bias_act(y, b, act, out_dt, g, rows, n, KT_GUARD);
    KT_ASSERT_MSG(rc == 0, "kcu_test_bias_act: %d %s", rc, kern_last_error());
    char what[96];
    snprintf(what, sizeof what, "bias_act %s → %s%s %ux%u", kern_act_str(act),
             kern_dtype_str(out_dt), bias ? " +bias" : "", rows, n);
    kt_guarded_check(what, g, (size_t)rows * n, es);
    float *got = kt_malloc((size_t)rows * n * sizeof *got);
    kern_to_f32(out_dt, kt_guarded_inner(g, es), got, (size_t)rows * n);
    float *want = kt_malloc((size_t)rows * n * sizeof *want);
    memcpy(want, y, (size_t)rows * n * sizeof *want);
    kref_bias_act(want, rows, n, 0, n, b, act, out_dt);
    /* relu and none are exact; the others call expf/erfcf/tanhf, each within a few ulp (CUDA's
     * erfcf: 4) of the true value on both sides; after rounding to f16/bf16 that is at most
     * one unit. The tanh approximation of gelu would be thousands of f32 ulp off. */
    int64_t max_ulp = act == KERN_ACT_NONE || act == KERN_ACT_RELU ? 0
                      : out_dt == KERN_DTYPE_F32                   ? 16
                                                                   : 1;
    for (size_t i = 0; i < (size_t)rows * n; i++) {
        KT_ASSERT_MSG(kt_classify((double)got[i]) == kt_classify((double)want[i]),
                      "%s [%zu]: got %g want %g", what, i, (double)got[i], (double)want[i]);
        if (!isfinite(want[i]))
            continue;
        int64_t d = ordered(out_dt, (double)got[i]) - ordered(out_dt, (double)want[i]);
        KT_ASSERT_MSG(llabs(d) <= max_ulp, "%s [%zu] (x=%g): got %.9g want %.9g: %lld ulp", what, i,
                      (double)y[i], (double)got[i], (double)want[i], (long long)d);
    }
    free(want);
    free(got);
    free(g);
    free(b);
    free(y);
}

static void test_bias_act(void)
{
    for (int a = 0; a < KERN_ACT_COUNT; a++)
        for (int dt = 0; dt < KERN_DTYPE_COUNT; dt++)
            for (int bias = 0; bias < 2; bias++) {
                bias_act_case((enum kern_act)a, (enum kern_dtype)dt, bias, 1, 1);
                bias_act_case((enum kern_act)a, (enum kern_dtype)dt, bias, kt_odd(1, 99),
                              kt_odd(1, 1999));
            }
    /* More than one grid's worth of elements: the grid-stride loop. */
    bias_act_case(KERN_ACT_GELU, KERN_DTYPE_BF16, true, 4097, 4099);
}

static void softmax_case(uint32_t rows, uint32_t n, float spread)
{
    float *x = kt_rand_floats((size_t)rows * n, -spread, spread);
    if (rows >= 4) {
        x[(size_t)1 * n + kt_range(0, n - 1)] = NAN;
        x[(size_t)2 * n + kt_range(0, n - 1)] = INFINITY;
        x[(size_t)3 * n + kt_range(0, n - 1)] = -INFINITY;
    }
    float *g = kt_guarded_new((size_t)rows * n, sizeof(float));
    int rc = kcu_test_softmax(x, g, rows, n, KT_GUARD);
    KT_ASSERT_MSG(rc == 0, "kcu_test_softmax: %d %s", rc, kern_last_error());
    char what[64];
    snprintf(what, sizeof what, "softmax %ux%u (±%g)", rows, n, (double)spread);
    kt_guarded_check(what, g, (size_t)rows * n, sizeof(float));
    const float *got = kt_guarded_inner(g, sizeof(float));
    kref_softmax(x, 0, rows, n); /* in place: x is now the reference */
    for (size_t i = 0; i < (size_t)rows * n; i++) {
        KT_ASSERT_MSG(kt_classify((double)got[i]) == kt_classify((double)x[i]),
                      "%s [%zu]: got %g want %g", what, i, (double)got[i], (double)x[i]);
        if (isfinite(x[i]))
            KT_ASSERT_MSG(fabs((double)got[i] - (double)x[i]) <= 1e-5 * fabs((double)x[i]) + 1e-38,
                          "%s [%zu]: got %.9g want %.9g", what, i, (double)got[i], (double)x[i]);
    }
    free(g);
    free(x);
}

static void test_softmax(void)
{
    softmax_case(1, 1, 1.0f);
    softmax_case(kt_odd(5, 77), kt_odd(1, 31), 3.0f);
    softmax_case(kt_odd(5, 77), kt_odd(200, 3000), 3.0f);
    softmax_case(7, 16385, 80.0f); /* wide rows, large logits */
    softmax_case(3, 5, 1e30f);     /* logits that overflow exp() without the max */
    softmax_case(66000, 3, 2.0f);  /* more rows than one grid */
}

int main(int argc, char **argv)
{
    int rc = kcu_test_init(0);
    if (rc) {
        printf("no usable GPU (%s): skipping\n", kern_last_error());
        return KF_TEST_SKIP;
    }
    kt_seed_init(argc, argv);
    KT_RUN(test_gemm);
    KT_RUN(test_bias_act);
    KT_RUN(test_softmax);
    return 0;
}
