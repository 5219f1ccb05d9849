/* The layer product through cuBLAS. Our matrices are row-major and cuBLAS's column-major: a
 * row-major Y [rows, n] is the column-major Yᵀ [n, rows], and Yᵀ = W · Xᵀ where the row-major
 * W [n, k] read column-major is Wᵀ (so op T) and the row-major X [rows, k] read column-major is
 * already Xᵀ (op N). One "TN" GEMM, no transposes in memory.
 *
 * 16-bit weights multiply 16-bit activations (the previous epilogue rounded them) with f32
 * accumulation and an f32 output: cublasGemmEx with CUBLAS_COMPUTE_32F, on tensor cores. f32
 * uses CUBLAS_COMPUTE_32F, or CUBLAS_COMPUTE_32F_FAST_TF32 when the backend allows TF32. */
#include "kernels/cuda/kcu.h"

int kcu_gemm(cublasHandle_t h, enum kern_dtype dt, bool tf32, const void *w, const void *x,
             float *y, uint32_t rows, uint32_t k, uint32_t n)
{
    const float alpha = 1.0f, beta = 0.0f;
    cudaDataType_t t;
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    switch (dt) {
    case KERN_DTYPE_F16: t = CUDA_R_16F; break;
    case KERN_DTYPE_BF16: t = CUDA_R_16BF; break;
    case KERN_DTYPE_F32:
    default:
        t = CUDA_R_32F;
        if (tf32)
            compute = CUBLAS_COMPUTE_32F_FAST_TF32;
        break;
    }
    CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)rows, (int)k, &alpha, w, t,
                              (int)k, x, t, (int)k, &beta, y, CUDA_R_32F, (int)n, compute,
                              CUBLAS_GEMM_DEFAULT));
    return 0;
}
