/**
 * @file kcu_testing.h
 * @brief Hooks into the CUDA backend for its tests and benchmarks: allocation
 *        counters, each operation run alone on host data, and device-side
 *        timings. Plain C, no CUDA types; built only when CUDA is (KERN_HAVE_CUDA).
 *
 * Every function that touches the device returns 0 or a negative errno as
 * in kern_backend.h (-ENODEV: no usable device; -EIO: device failure), with
 * the detail in kern_last_error().
 *
 * "Guarded" buffers: a host buffer of guard + count + guard elements whose
 * first and last `guard` elements the test fills with a pattern. The whole
 * buffer goes to the device and comes back, so a kernel that writes outside
 * its `count` elements changes the pattern.
 */
#ifndef KCU_TESTING_H
#define KCU_TESTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kern_backend.h"
#include "kernels/kern_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Calls made through the backend's allocator since the process started. */
struct kcu_alloc_stats {
    uint64_t dev_alloc, dev_free;   /**< cudaMalloc / cudaFree */
    uint64_t host_alloc, host_free; /**< cudaHostAlloc / cudaFreeHost */
    uint64_t handles;               /**< streams, events, cuBLAS handles created */
};

/** @brief Read the counters. */
void kcu_alloc_stats(struct kcu_alloc_stats *st);

/**
 * @brief Select device `device` for the calling thread and check it can run
 *        this build's kernels.
 * @returns 0, or -ENODEV (no GPU, no driver, or an architecture this build
 *          has no code for), with the reason in kern_last_error().
 */
int kcu_test_init(int device);

/**
 * @brief y = x · wᵀ through the backend's cuBLAS call, alone.
 * @param w      n × k elements of dt, little-endian
 * @param x      rows × k floats; converted to dt on the host (round to nearest even) first
 * @param y      guarded: guard + rows·n + guard floats
 */
int kcu_test_gemm(enum kern_dtype dt, bool tf32, const void *w, const float *x, float *y,
                  uint32_t rows, uint32_t k, uint32_t n, size_t guard);

/**
 * @brief out = convert(out_dt, act(y + bias)) through the fused epilogue kernel.
 * @param y     rows × n floats
 * @param bias  n floats or NULL
 * @param out   guarded, elements of out_dt: guard + rows·n + guard
 */
int kcu_test_bias_act(const float *y, const float *bias, enum kern_act act, enum kern_dtype out_dt,
                      void *out, uint32_t rows, uint32_t n, size_t guard);

/** @brief y = softmax(x) row-wise through the softmax kernel; y guarded. */
int kcu_test_softmax(const float *x, float *y, uint32_t rows, uint32_t n, size_t guard);

/** @brief Timings of repeated runs (CUDA events around each run, after warm-up). */
struct kcu_timing {
    double median_ms, min_ms, max_ms;
    unsigned reps;
};

/**
 * @brief cuBLAS alone: y[m, n] = x[m, k] · w[n, k]ᵀ in dt (f32 with tf32 or
 *        not), on random data, the baseline the backend is compared with.
 */
int kcu_bench_gemm(enum kern_dtype dt, bool tf32, uint32_t m, uint32_t n, uint32_t k, unsigned reps,
                   struct kcu_timing *t);

/** @brief A device-to-device cudaMemcpyAsync of `bytes` (the bandwidth baseline). */
int kcu_bench_copy(size_t bytes, unsigned reps, struct kcu_timing *t);

/**
 * @brief The device part of a forward pass (layers + final op, no host copies)
 *        on `rows` rows of the handle's current input (run kern_forward() once
 *        first to put real data there). For a one-layer model the input is not
 *        overwritten, so every repetition computes on the same data.
 * @param be  a "cuda" backend; w loaded by it
 */
int kcu_bench_forward(struct kern_backend *be, struct kern_weights *w, uint32_t rows, unsigned reps,
                      struct kcu_timing *t);

#ifdef __cplusplus
}
#endif

#endif
