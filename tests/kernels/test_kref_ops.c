/* The reference operations one at a time: activations at hand-checked points (NaN, ±Inf, ±0
 * included), softmax with huge logits, the epilogue with and without bias and with rounding
 * for the next layer, and the packed GEMM against a double product on odd sizes. */
#include <errno.h>

#include "kernels/kern_act.h"
#include "kernels/kref.h"
#include "kt_kern.h"

#define NEAR(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol) * (1.0 + fabs((double)(b))))

static void test_activations(void)
{
    /* relu */
    KT_ASSERT(kern_act_relu(2.5f) == 2.5f);
    KT_ASSERT(kern_act_relu(-2.5f) == 0.0f);
    KT_ASSERT(isnan(kern_act_relu(NAN)));
    KT_ASSERT(kern_act_relu(INFINITY) == INFINITY);
    KT_ASSERT(kern_act_relu(-INFINITY) == 0.0f);
    KT_ASSERT(signbit(kern_act_relu(-0.0f))); /* -0 is not < 0: passes through */

    /* gelu (erf form): values from 0.5·x·(1 + erf(x/√2)) */
    KT_ASSERT(kern_act_gelu(0.0f) == 0.0f);
    KT_ASSERT(NEAR(kern_act_gelu(1.0f), 0.8413447460685429, 1e-6));
    KT_ASSERT(NEAR(kern_act_gelu(-1.0f), -0.15865525393145707, 1e-6));
    KT_ASSERT(NEAR(kern_act_gelu(3.0f), 2.9959502244520623, 1e-6));
    KT_ASSERT(NEAR(kern_act_gelu(-3.0f), -0.004049775547937, 1e-5));
    /* not the tanh approximation, which gives 0.8411920 at 1 */
    KT_ASSERT(fabs((double)kern_act_gelu(1.0f) - 0.841192) > 1e-4);
    /* for very negative x the erfc form keeps relative precision: -10·Φ(-10) = -7.6e-23 */
    KT_ASSERT(NEAR(kern_act_gelu(-10.0f) / -7.619853024160527e-23f, 1.0, 1e-4));
    KT_ASSERT(kern_act_gelu(INFINITY) == INFINITY);
    KT_ASSERT(kern_act_gelu(-INFINITY) == 0.0f);
    KT_ASSERT(isnan(kern_act_gelu(NAN)));
    KT_ASSERT(kern_act_gelu(1e30f) == 1e30f);

    /* tanh */
    KT_ASSERT(NEAR(kern_act_tanh(0.5f), 0.46211715726000974, 1e-6));
    KT_ASSERT(kern_act_tanh(INFINITY) == 1.0f && kern_act_tanh(-INFINITY) == -1.0f);
    KT_ASSERT(kern_act_tanh(100.0f) == 1.0f);
    KT_ASSERT(isnan(kern_act_tanh(NAN)));

    /* sigmoid */
    KT_ASSERT(kern_act_sigmoid(0.0f) == 0.5f);
    KT_ASSERT(NEAR(kern_act_sigmoid(2.0f), 0.8807970779778823, 1e-6));
    KT_ASSERT(NEAR(kern_act_sigmoid(-2.0f), 0.11920292202211755, 1e-6));
    KT_ASSERT(kern_act_sigmoid(-200.0f) == 0.0f); /* exp overflows to Inf: exactly 0, not NaN */
    KT_ASSERT(kern_act_sigmoid(200.0f) == 1.0f);
    KT_ASSERT(kern_act_sigmoid(INFINITY) == 1.0f && kern_act_sigmoid(-INFINITY) == 0.0f);
    KT_ASSERT(isnan(kern_act_sigmoid(NAN)));

    KT_ASSERT(kern_act_apply(KERN_ACT_NONE, -3.0f) == -3.0f);
    KT_ASSERT(kern_act_apply(KERN_ACT_RELU, -3.0f) == 0.0f);
    KT_ASSERT(isnan(kern_max_nan(NAN, 1.0f)) && isnan(kern_max_nan(1.0f, NAN)));
    KT_ASSERT(kern_max_nan(-1.0f, 2.0f) == 2.0f && kern_max_nan(INFINITY, 2.0f) == INFINITY);

    /* Every activation against the double formula over a sweep. The tolerance grows with x²:
     * rounding the argument of expf/erfcf to f32 costs relative accuracy in proportion to the
     * function's condition number, about 2x² for erfc(x/√2) far out in the tail. */
    for (int a = 0; a < KERN_ACT_COUNT; a++)
        for (float x = -20.0f; x <= 20.0f; x += 0.37f) {
            double want = kt_act_d((enum kern_act)a, (double)x);
            double got = (double)kern_act_apply((enum kern_act)a, x);
            double tol = 1e-6 * (1.0 + (double)x * (double)x);
            KT_ASSERT_MSG(fabs(got - want) <= tol * fabs(want) + 1e-30, "%s(%g) = %.9g, want %.9g",
                          kern_act_str((enum kern_act)a), (double)x, got, want);
        }
}

static void test_softmax(void)
{
    /* Huge logits: exp(1000) overflows unless the maximum is subtracted. */
    float y[2][3] = {{1000.0f, 999.0f, 998.0f}, {-1000.0f, -1001.0f, -1002.0f}};
    kref_softmax(&y[0][0], 0, 2, 3);
    double e1 = exp(-1.0), e2 = exp(-2.0), s = 1.0 + e1 + e2;
    for (int r = 0; r < 2; r++) {
        KT_ASSERT(NEAR(y[r][0], 1.0 / s, 1e-6));
        KT_ASSERT(NEAR(y[r][1], e1 / s, 1e-6));
        KT_ASSERT(NEAR(y[r][2], e2 / s, 1e-6));
    }
    /* A row of one column is 1; a row of equal values is uniform. */
    float one[1] = {-3e38f};
    kref_softmax(one, 0, 1, 1);
    KT_ASSERT(one[0] == 1.0f);
    float eq[4] = {7, 7, 7, 7};
    kref_softmax(eq, 0, 1, 4);
    for (int i = 0; i < 4; i++)
        KT_ASSERT(eq[i] == 0.25f);
    /* NaN anywhere → the whole row NaN; +Inf → NaN (Inf - Inf); -Inf → exactly 0. */
    float nan_row[3] = {1.0f, NAN, 2.0f}, inf_row[3] = {1.0f, INFINITY, 2.0f},
          ninf_row[3] = {0.0f, -INFINITY, 0.0f};
    kref_softmax(nan_row, 0, 1, 3);
    kref_softmax(inf_row, 0, 1, 3);
    kref_softmax(ninf_row, 0, 1, 3);
    for (int i = 0; i < 3; i++)
        KT_ASSERT(isnan(nan_row[i]) && isnan(inf_row[i]));
    KT_ASSERT(ninf_row[0] == 0.5f && ninf_row[1] == 0.0f && ninf_row[2] == 0.5f);
    /* Only rows [r0, r1) are touched. */
    float part[3][2] = {{1, 2}, {1, 2}, {1, 2}};
    kref_softmax(&part[0][0], 1, 2, 2);
    KT_ASSERT(part[0][0] == 1.0f && part[2][1] == 2.0f && part[1][0] + part[1][1] == 1.0f);
    /* A wide row of large random logits against double. */
    uint32_t n = 16385;
    float *w = kt_rand_floats(n, -80.0f, 80.0f);
    double *want = kt_malloc(n * sizeof *want);
    double mx = -HUGE_VAL, sum = 0.0;
    for (uint32_t i = 0; i < n; i++)
        mx = fmax(mx, (double)w[i]);
    for (uint32_t i = 0; i < n; i++)
        sum += exp((double)w[i] - mx);
    for (uint32_t i = 0; i < n; i++)
        want[i] = exp((double)w[i] - mx) / sum;
    kref_softmax(w, 0, 1, n);
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        KT_ASSERT_MSG(fabs((double)w[i] - want[i]) <= 1e-5 * want[i] + 1e-38, "col %u: %g vs %g", i,
                      (double)w[i], want[i]);
        total += (double)w[i];
    }
    KT_ASSERT(fabs(total - 1.0) < 1e-5);
    free(want);
    free(w);
}

static void test_bias_act(void)
{
    float y[2][3] = {{-1, 0, 1}, {2, -3, 4}};
    float bias[3] = {0.5f, -0.5f, 0.25f};
    /* Columns [1, 3) only, with bias, relu. */
    kref_bias_act(&y[0][0], 2, 3, 1, 3, bias, KERN_ACT_RELU, KERN_DTYPE_F32);
    KT_ASSERT(y[0][0] == -1 && y[0][1] == 0 && y[0][2] == 1.25f);
    KT_ASSERT(y[1][0] == 2 && y[1][1] == 0 && y[1][2] == 4.25f);
    /* No bias, no activation: unchanged. */
    float z[3] = {1.5f, -2.5f, 3.5f};
    kref_bias_act(z, 1, 3, 0, 3, NULL, KERN_ACT_NONE, KERN_DTYPE_F32);
    KT_ASSERT(z[0] == 1.5f && z[1] == -2.5f && z[2] == 3.5f);
    /* Rounded for a bf16 / f16 next layer. */
    float r[2] = {1.0f + 0x1p-8f + 0x1p-12f, 1.0f + 0x1p-12f};
    kref_bias_act(r, 1, 2, 0, 2, NULL, KERN_ACT_NONE, KERN_DTYPE_BF16);
    KT_ASSERT(r[0] == 1.0f + 0x1p-7f && r[1] == 1.0f);
    float h[1] = {1.0f + 0x1p-12f};
    kref_bias_act(h, 1, 1, 0, 1, NULL, KERN_ACT_NONE, KERN_DTYPE_F16);
    KT_ASSERT(h[0] == 1.0f);
    /* NaN from the bias propagates through every activation. */
    for (int a = 0; a < KERN_ACT_COUNT; a++) {
        float v[1] = {1.0f}, b[1] = {NAN};
        kref_bias_act(v, 1, 1, 0, 1, b, (enum kern_act)a, KERN_DTYPE_F32);
        KT_ASSERT_MSG(isnan(v[0]), "%s", kern_act_str((enum kern_act)a));
    }
}

/* Y = X·Wᵀ: packed GEMM vs naive vs double, on sizes around every block edge. */
static void gemm_case(uint32_t rows, uint32_t k, uint32_t n, enum kern_dtype dt)
{
    float *x = kt_rand_floats((size_t)rows * k, -1.0f, 1.0f);
    float *wf = kt_rand_floats((size_t)n * k, -1.0f, 1.0f);
    kref_round(dt, wf, wf, (size_t)n * k);
    void *wb = kt_malloc((size_t)n * k * kern_dtype_size(dt));
    kern_from_f32(dt, wf, wb, (size_t)n * k);
    float *packed = kt_malloc(kref_packed_floats(n, k) * sizeof *packed);
    kref_pack(wb, dt, n, k, packed);
    float *y = kt_guarded_new((size_t)rows * n, sizeof(float));
    float *yi = kt_guarded_inner(y, sizeof(float));
    /* Two halves of the panels, as two threads would. */
    uint32_t p = kref_panels(n);
    kref_gemm_packed(x, rows, k, packed, n, 0, p / 2, yi);
    kref_gemm_packed(x, rows, k, packed, n, p / 2, p, yi);
    kt_guarded_check("gemm", y, (size_t)rows * n, sizeof(float));
    float *yn = kt_malloc((size_t)rows * n * sizeof *yn);
    kref_gemm_naive(x, rows, k, wf, n, yn);
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t o = 0; o < n; o++) {
            double s = 0.0, mag = 0.0;
            for (uint32_t i = 0; i < k; i++) {
                double t = (double)x[(size_t)r * k + i] * (double)wf[(size_t)o * k + i];
                s += t;
                mag += fabs(t);
            }
            /* f32 accumulation of k terms: error well under k·2^-24 of Σ|x·w|. */
            double tol = 2.0 * (double)k * 0x1p-24 * mag + 1e-30;
            double got = (double)yi[(size_t)r * n + o], naive = (double)yn[(size_t)r * n + o];
            KT_ASSERT_MSG(fabs(got - s) <= tol, "gemm %ux%ux%u %s [%u,%u]: %.9g vs %.9g (tol %.3g)",
                          rows, k, n, kern_dtype_str(dt), r, o, got, s, tol);
            KT_ASSERT(fabs(naive - s) <= tol);
        }
    free(yn);
    free(y);
    free(packed);
    free(wb);
    free(wf);
    free(x);
}

static void test_gemm(void)
{
    const uint32_t sizes[][3] = {
        {1, 1, 1},   {1, 7, 3},    {3, 16, 16},  {4, 17, 15},   {5, 255, 33},
        {7, 256, 1}, {9, 257, 47}, {130, 3, 17}, {129, 513, 5}, {2, 1000, 100},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int dt = 0; dt < KERN_DTYPE_COUNT; dt++)
            gemm_case(sizes[i][0], sizes[i][1], sizes[i][2], (enum kern_dtype)dt);
    for (int i = 0; i < 6; i++)
        gemm_case(kt_odd(1, 150), kt_odd(1, 600), kt_odd(1, 80),
                  (enum kern_dtype)kt_range(0, KERN_DTYPE_COUNT - 1));
}

/* A 2×3 weight worked by hand, with an f16 weight that is not exact in bf16. */
static void test_gemm_hand(void)
{
    const float w[2][3] = {{1, 2, 3}, {-1, 0.5f, 0.25f}};
    const float x[2][3] = {{1, 1, 1}, {2, -4, 8}};
    float packed[KREF_NR * 3];
    kref_pack(w, KERN_DTYPE_F32, 2, 3, packed);
    KT_ASSERT(packed[0] == 1 && packed[1] == -1 && packed[2] == 0 && packed[KREF_NR] == 2);
    float y[2][2];
    kref_gemm_packed(&x[0][0], 2, 3, packed, 2, 0, 1, &y[0][0]);
    KT_ASSERT(y[0][0] == 6 && y[0][1] == -0.25f);
    KT_ASSERT(y[1][0] == 2 - 8 + 24 && y[1][1] == -2 - 2 + 2);
    uint16_t h[2] = {kern_f32_to_f16(1.5f), kern_f32_to_f16(-0.125f)};
    float p2[KREF_NR * 2];
    kref_pack(h, KERN_DTYPE_F16, 1, 2, p2);
    KT_ASSERT(p2[0] == 1.5f && p2[KREF_NR] == -0.125f);
}

int main(int argc, char **argv)
{
    kt_seed_init(argc, argv);
    KT_RUN(test_activations);
    KT_RUN(test_softmax);
    KT_RUN(test_bias_act);
    KT_RUN(test_gemm_hand);
    KT_RUN(test_gemm);
    return 0;
}
