/* The reference element-wise operations: the layer epilogue and the softmax. They define
 * the semantics the CUDA kernels are tested against, so they favour clarity; they are a
 * small part of the time next to the GEMM. */
#include <math.h>

#include "kernels/kern_act.h"
#include "kernels/kern_dtype.h"
#include "kernels/kref.h"

void kref_bias_act(float *y, uint32_t rows, uint32_t n, uint32_t c0, uint32_t c1, const float *bias,
                   enum kern_act act, enum kern_dtype out_dt)
{
    for (uint32_t r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * n;
        for (uint32_t c = c0; c < c1; c++) {
            float v = bias ? yr[c] + bias[c] : yr[c];
            yr[c] = kern_round_to(out_dt, kern_act_apply(act, v));
        }
    }
}

void kref_softmax(float *y, uint32_t r0, uint32_t r1, uint32_t n)
{
    for (uint32_t r = r0; r < r1; r++) {
        float *yr = y + (size_t)r * n;
        /* Subtracting the row maximum keeps every exponent ≤ 0: no overflow for large logits,
         * and at least one term equals 1, so the sum is never 0. The maximum propagates NaN;
         * a +Inf makes Inf - Inf = NaN, and the whole row NaN, on purpose. */
        float m = yr[0];
        for (uint32_t c = 1; c < n; c++)
            m = kern_max_nan(m, yr[c]);
        /* Accumulate in double: the reference should not be the one that loses digits on a
         * 16384-wide row. */
        double s = 0.0;
        for (uint32_t c = 0; c < n; c++) {
            float e = expf(yr[c] - m);
            yr[c] = e;
            s += (double)e;
        }
        float inv = (float)(1.0 / s);
        for (uint32_t c = 0; c < n; c++)
            yr[c] *= inv;
    }
}

void kref_round(enum kern_dtype dt, const float *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = kern_round_to(dt, src[i]);
}
