/* The fused layer epilogue: bias, activation and the conversion to the dtype the next layer
 * multiplies in, in one pass over the GEMM's output, so that the activations make one round
 * trip through device memory per layer. The activation functions are the reference's own
 * (kern_act.h), compiled for the device.
 *
 * Not cuBLASLt's bias+activation epilogues: they cannot write the next layer's bf16/f16 input
 * alongside, and their GELU is the tanh approximation, not the erf form the model contract
 * fixes. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/kcu.h"
#include "kernels/kern_act.h"

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v)
{
    return v;
}
template <> __device__ __forceinline__ __half from_f32<__half>(float v)
{
    return __float2half_rn(v);
}
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v)
{
    return __float2bfloat16_rn(v);
}

/* Threads stride over columns (x) and blocks over rows (y), so the bias of a column is loaded
 * once per thread and no index needs a division. No __restrict__ on y and out: the last
 * layer's epilogue runs in place. `act` is uniform across the grid, so the switch inside
 * kern_act_apply costs no divergence. */
template <typename T>
__global__ void bias_act_kernel(const float *y, const float *__restrict__ bias, T *out,
                                uint32_t rows, uint32_t n, enum kern_act act)
{
    for (uint32_t c = blockIdx.x * blockDim.x + threadIdx.x; c < n; c += gridDim.x * blockDim.x) {
        float b = bias ? bias[c] : 0.0f;
        for (uint32_t r = blockIdx.y; r < rows; r += gridDim.y) {
            uint64_t i = (uint64_t)r * n + c;
            out[i] = from_f32<T>(kern_act_apply(act, y[i] + b));
        }
    }
}

template <typename T>
static cudaError_t launch(const float *y, const float *bias, void *out, uint32_t rows, uint32_t n,
                          enum kern_act act, cudaStream_t stream)
{
    const unsigned threads = 256;
    /* Every column gets a thread (n ≤ KERN_MAX_WIDTH: at most 256 blocks across); rows get
     * blocks up to about 64K blocks in all, enough to fill any current GPU many times over,
     * and the row loop covers the rest. */
    unsigned bx = (n + threads - 1) / threads;
    unsigned by = 65536u / bx;
    if (by > rows)
        by = rows;
    if (by > 65535u)
        by = 65535u;
    if (by == 0)
        by = 1;
    dim3 grid(bx, by);
    bias_act_kernel<T><<<grid, threads, 0, stream>>>(y, bias, (T *)out, rows, n, act);
    return cudaGetLastError();
}

extern "C" cudaError_t kcu_launch_bias_act(const float *y, const float *bias, void *out,
                                           enum kern_dtype out_dt, uint32_t rows, uint32_t n,
                                           enum kern_act act, cudaStream_t stream)
{
    if (rows == 0 || n == 0)
        return cudaSuccess;
    switch (out_dt) {
    case KERN_DTYPE_F16: return launch<__half>(y, bias, out, rows, n, act, stream);
    case KERN_DTYPE_BF16: return launch<__nv_bfloat16>(y, bias, out, rows, n, act, stream);
    case KERN_DTYPE_F32:
    default: return launch<float>(y, bias, out, rows, n, act, stream);
    }
}
