/**
 * @file kern_act.h
 * @brief The activation functions, written once and compiled both by the C
 *        compiler (reference backend) and by nvcc (CUDA kernels), so the two
 *        backends cannot drift apart in what they compute.
 *
 * Semantics (see kern_model.h): NaN propagates through every activation;
 * relu(-0) = -0; gelu is the exact erf form with gelu(+Inf) = +Inf and
 * gelu(-Inf) = 0; sigmoid(±Inf) = 1 or 0.
 *
 * Comparisons are written so that NaN falls through to the propagating branch:
 * fmaxf() would drop a NaN, which is why it is not used.
 */
#ifndef KERN_ACT_H
#define KERN_ACT_H

#include <math.h>

#include "kernels/kern_model.h"

#ifdef __CUDACC__
#define KERN_HD __host__ __device__ __forceinline__
#else
#define KERN_HD static inline
#endif

KERN_HD float kern_act_relu(float x)
{
    return x < 0.0f ? 0.0f : x;
}

KERN_HD float kern_act_gelu(float x)
{
    /* 0.5·x·erfc(-x/√2) equals 0.5·x·(1 + erf(x/√2)) and keeps precision for negative x;
     * it still gives -Inf·0 = NaN at -Inf, hence the explicit case. */
    if (isinf(x))
        return x > 0.0f ? x : 0.0f;
    return 0.5f * x * erfcf(-x * 0.70710678118654752f);
}

KERN_HD float kern_act_tanh(float x)
{
    return tanhf(x);
}

KERN_HD float kern_act_sigmoid(float x)
{
    /* exp(-x) overflows to +Inf for very negative x, giving exactly 0: fine. */
    return 1.0f / (1.0f + expf(-x));
}

KERN_HD float kern_act_apply(enum kern_act act, float x)
{
    switch (act) {
    case KERN_ACT_RELU: return kern_act_relu(x);
    case KERN_ACT_GELU: return kern_act_gelu(x);
    case KERN_ACT_TANH: return kern_act_tanh(x);
    case KERN_ACT_SIGMOID: return kern_act_sigmoid(x);
    case KERN_ACT_NONE:
    default: return x;
    }
}

/** @brief max that propagates NaN (either argument NaN → NaN), for softmax. */
KERN_HD float kern_max_nan(float a, float b)
{
    return (a > b || a != a) ? a : b;
}

#endif
