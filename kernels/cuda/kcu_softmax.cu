/* Row softmax, numerically stable: one block per row, three passes over the row (maximum,
 * sum of exponentials, normalise), the row staying in L2 between them. Rows of up to 64K
 * floats fit L2 many times over, so a single-pass online softmax would save little here.
 *
 * The maximum propagates NaN like the reference's (fmaxf would drop it), and a +Inf makes
 * the whole row NaN, as Inf - Inf does in the reference. */
#include "kernels/cuda/kcu.h"
#include "kernels/kern_act.h"

#define THREADS 256

/* Reduce v over the block; `identity` fills the lanes of warp 0 that have no warp behind them. */
template <typename Op> __device__ float block_reduce(float v, Op op, float identity, float *shared)
{
    for (int off = 16; off > 0; off >>= 1)
        v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
    unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0)
        shared[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < THREADS / 32 ? shared[lane] : identity;
        for (int off = 16; off > 0; off >>= 1)
            v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
        if (lane == 0)
            shared[0] = v;
    }
    __syncthreads();
    v = shared[0];
    __syncthreads(); /* shared[] is reused by the next reduction */
    return v;
}

struct max_op {
    __device__ float operator()(float a, float b) const
    {
        return kern_max_nan(a, b);
    }
};

struct sum_op {
    __device__ float operator()(float a, float b) const
    {
        return a + b;
    }
};

__global__ void __launch_bounds__(THREADS) softmax_kernel(float *y, uint32_t rows, uint32_t n)
{
    __shared__ float shared[THREADS / 32];
    for (uint32_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float *row = y + (uint64_t)r * n;
        float m = row[0];
        for (uint32_t c = threadIdx.x; c < n; c += THREADS)
            m = kern_max_nan(m, row[c]);
        m = block_reduce(m, max_op(), -INFINITY, shared);
        float s = 0.0f;
        for (uint32_t c = threadIdx.x; c < n; c += THREADS)
            s += expf(row[c] - m);
        s = block_reduce(s, sum_op(), 0.0f, shared);
        float inv = 1.0f / s;
        for (uint32_t c = threadIdx.x; c < n; c += THREADS)
            row[c] = expf(row[c] - m) * inv;
    }
}

extern "C" cudaError_t kcu_launch_softmax(float *y, uint32_t rows, uint32_t n, cudaStream_t stream)
{
    if (rows == 0 || n == 0)
        return cudaSuccess;
    unsigned blocks = rows < 65535u ? rows : 65535u;
    softmax_kernel<<<blocks, THREADS, 0, stream>>>(y, rows, n);
    return cudaGetLastError();
}
