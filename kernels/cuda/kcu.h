/**
 * @file kcu.h
 * @brief Internals of the CUDA backend. The only header of kfleet that names
 *        CUDA and cuBLAS types; included by kernels/cuda/ alone.
 *
 * Error handling: every CUDA and cuBLAS call goes through CUDA_CHECK /
 * CUBLAS_CHECK (or their _GOTO forms in functions with a cleanup label). They
 * record "file:line: statement: error name (text)" for kern_last_error() and
 * make the enclosing function return a negative errno: -ENOMEM for an
 * allocation failure, -ENODEV when there is no usable device or driver,
 * -ENOTSUP for an operation the device or library cannot do, -EIO for anything
 * else (a device fault: fatal, the worker exits). Nothing here aborts.
 */
#ifndef KCU_H
#define KCU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "kernels/kern_backend_impl.h"
#include "kernels/kern_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Record a CUDA failure; @returns the errno it maps to. */
int kcu_cuda_fail(cudaError_t e, const char *stmt, const char *file, int line);
/** @brief Record a cuBLAS failure; @returns the errno it maps to. */
int kcu_cublas_fail(cublasStatus_t s, const char *stmt, const char *file, int line);

#define CUDA_CHECK(stmt)                                             \
    do {                                                             \
        cudaError_t kcu_e_ = (stmt);                                 \
        if (kcu_e_ != cudaSuccess)                                   \
            return kcu_cuda_fail(kcu_e_, #stmt, __FILE__, __LINE__); \
    } while (0)

#define CUBLAS_CHECK(stmt)                                             \
    do {                                                               \
        cublasStatus_t kcu_s_ = (stmt);                                \
        if (kcu_s_ != CUBLAS_STATUS_SUCCESS)                           \
            return kcu_cublas_fail(kcu_s_, #stmt, __FILE__, __LINE__); \
    } while (0)

/** Sets `rc` and jumps to `label` on failure. */
#define CUDA_CHECK_GOTO(rc, stmt, label)                             \
    do {                                                             \
        cudaError_t kcu_e_ = (stmt);                                 \
        if (kcu_e_ != cudaSuccess) {                                 \
            (rc) = kcu_cuda_fail(kcu_e_, #stmt, __FILE__, __LINE__); \
            goto label;                                              \
        }                                                            \
    } while (0)

#define CUBLAS_CHECK_GOTO(rc, stmt, label)                             \
    do {                                                               \
        cublasStatus_t kcu_s_ = (stmt);                                \
        if (kcu_s_ != CUBLAS_STATUS_SUCCESS) {                         \
            (rc) = kcu_cublas_fail(kcu_s_, #stmt, __FILE__, __LINE__); \
            goto label;                                                \
        }                                                              \
    } while (0)

/* ---- allocation: every device, pinned-host and handle allocation goes through these, so that
 * a test can count them (kcu_alloc_stats() in kcu_testing.h) ---- */

/** @returns 0 or -ENOMEM / -EIO. */
int kcu_dev_alloc(void **p, size_t bytes);
/** NULL is a no-op. */
void kcu_dev_free(void *p);
/** Pinned (page-locked) host memory. @returns 0 or -ENOMEM / -EIO. */
int kcu_host_alloc(void **p, size_t bytes);
void kcu_host_free(void *p);
int kcu_stream_create(cudaStream_t *s);
void kcu_stream_destroy(cudaStream_t s);
int kcu_event_create(cudaEvent_t *e);
void kcu_event_destroy(cudaEvent_t e);
int kcu_blas_create(cublasHandle_t *h);
void kcu_blas_destroy(cublasHandle_t h);

/* ---- kernels (kcu_act.cu, kcu_softmax.cu) ---- */

/**
 * out[r, c] = convert(out_dt, act(y[r, c] + bias[c])) for rows × n elements.
 * `bias` may be NULL; `out` is f32, f16 or bf16 per out_dt and may equal `y` only when
 * out_dt is f32 (in place).
 */
cudaError_t kcu_launch_bias_act(const float *y, const float *bias, void *out,
                                enum kern_dtype out_dt, uint32_t rows, uint32_t n,
                                enum kern_act act, cudaStream_t stream);

/** Numerically stable row softmax of y [rows, n], in place (NaN-propagating maximum). */
cudaError_t kcu_launch_softmax(float *y, uint32_t rows, uint32_t n, cudaStream_t stream);

/* ---- GEMM (kcu_gemm.c) ---- */

/**
 * y [rows, n] (f32) = x [rows, k] · wᵀ, w [n, k] row-major; w and x both of dtype `dt`
 * (x already rounded to it). f32 uses TF32 tensor cores when `tf32`.
 * @returns 0, or an errno from CUBLAS_CHECK.
 */
int kcu_gemm(cublasHandle_t h, enum kern_dtype dt, bool tf32, const void *w, const void *x,
             float *y, uint32_t rows, uint32_t k, uint32_t n);

/* ---- the backend ---- */

struct kcu_ctx {
    int device;
    int cc; /* compute capability × 10 + minor, e.g. 90 */
    bool allow_tf32, warmup;
    size_t total_mem;
    char desc[160];
};

struct kcu_layer {
    const void *w; /* device, [out, in] of dt, inside the arena */
    const float *bias;
    uint32_t in, out;
    enum kern_dtype dt;
    enum kern_act act;
};

struct kcu_weights {
    struct kcu_ctx *ctx;
    cudaStream_t stream;
    cublasHandle_t blas;
    struct kcu_layer *layers; /* host array */
    uint32_t n_layers;
    enum kern_final final;
    uint32_t max_rows, in_width, out_width, max_width;

    void *arena; /* one device allocation: weights, biases, activations, cuBLAS workspace */
    size_t arena_size;
    /* act[0] holds a layer's input (f32 or the layer's dtype), act[1] the GEMM's f32 output;
     * the last layer's epilogue and the softmax work in place in act[1]. */
    void *act[2];
    void *workspace;
    size_t workspace_size;

    float *in_stage, *out_stage; /* pinned host, max_rows rows each */
    float *pending_out;          /* kern_run()'s out, filled at sync */
    float *bias_tmp;             /* during a load: one bias widened to f32 (widest layer) */
    uint32_t pending_rows;
};

/** Enqueue in_stage rows → act[0] (converted to layer 0's dtype). */
int kcu_enqueue_input(struct kcu_weights *w, uint32_t rows);
/** Enqueue the layers and the final op; the result is left in act[1]. */
int kcu_enqueue_layers(struct kcu_weights *w, uint32_t rows);
/** Enqueue act[1] → out_stage. */
int kcu_enqueue_output(struct kcu_weights *w, uint32_t rows);

/** Bytes of the arena a load of (m, max_rows) takes. */
size_t kcu_arena_size(const struct kern_model *m, uint32_t max_rows, size_t workspace_size);

/** The cuBLAS workspace each weights handle gets (NVIDIA's recommendation for Hopper). */
#define KCU_WORKSPACE_BYTES ((size_t)32 << 20)

#ifdef __cplusplus
}
#endif

#endif
