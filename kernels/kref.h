/**
 * @file kref.h
 * @brief The reference backend's operations, exposed for its tests and
 *        benchmarks (and as the definition every other backend is compared
 *        with). The worker uses them only through kern_backend.h.
 *
 * Matrices are row-major f32. A layer's weight W is [n, k] (nn.Linear:
 * n outputs, k inputs) and the product is Y[rows, n] = X[rows, k] · Wᵀ.
 * For speed W is kept "packed": panels of KREF_NR output columns, each panel
 * k × KREF_NR floats (column j of the panel is W's row p·KREF_NR + j), the
 * last panel padded with zeros.
 */
#ifndef KREF_H
#define KREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kern_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Output columns per packed panel. */
#define KREF_NR 16u

/** @brief Panels of a packed [n, k] weight. */
static inline uint32_t kref_panels(uint32_t n)
{
    return (n + KREF_NR - 1) / KREF_NR;
}

/** @brief Floats a packed [n, k] weight takes. */
static inline size_t kref_packed_floats(uint32_t n, uint32_t k)
{
    return (size_t)kref_panels(n) * KREF_NR * k;
}

/**
 * @brief Pack a weight given as `dt` little-endian bytes, [n, k] row-major,
 *        into panels (widening f16/bf16 exactly).
 * @param w    borrowed, n·k elements, any alignment
 * @param dst  kref_packed_floats(n, k) floats
 */
void kref_pack(const void *w, enum kern_dtype dt, uint32_t n, uint32_t k, float *dst);

/**
 * @brief Y[:, p0·NR … min(p1·NR, n)) = X · Wᵀ for the panels [p0, p1) of a
 *        packed weight: cache-blocked, vectorised, single-threaded. Threads
 *        split a product by panels.
 * @param x  rows × k, row stride k
 * @param y  rows × n, row stride n; the columns of other panels are untouched
 */
void kref_gemm_packed(const float *x, uint32_t rows, uint32_t k, const float *packed, uint32_t n,
                      uint32_t p0, uint32_t p1, float *y);

/** @brief Y = X · Wᵀ, the textbook triple loop over an unpacked f32 W [n, k]. For comparison. */
void kref_gemm_naive(const float *x, uint32_t rows, uint32_t k, const float *w, uint32_t n,
                     float *y);

/**
 * @brief The layer epilogue on columns [c0, c1) of Y [rows, n]:
 *        y = round_to(out_dt, act(y + bias)).
 * @param bias    n floats, or NULL
 * @param out_dt  the dtype the next layer computes with (F32 = no rounding)
 */
void kref_bias_act(float *y, uint32_t rows, uint32_t n, uint32_t c0, uint32_t c1, const float *bias,
                   enum kern_act act, enum kern_dtype out_dt);

/** @brief Numerically stable softmax of rows [r0, r1) of Y [*, n], in place. */
void kref_softmax(float *y, uint32_t r0, uint32_t r1, uint32_t n);

/** @brief dst[i] = kern_round_to(dt, src[i]) for n floats (src == dst allowed). */
void kref_round(enum kern_dtype dt, const float *src, float *dst, size_t n);

/** A fixed set of threads that run one job at a time. */
struct kref_pool;

/** @brief A job: called once on each of `nthreads` threads, with tid 0 … nthreads-1. */
typedef void (*kref_job_fn)(void *arg, unsigned tid, unsigned nthreads);

/**
 * @brief Start `threads` - 1 worker threads (the caller is the other one).
 * @param threads  1 … 64; 0 = one per online CPU, capped at 64
 * @returns new (kref_pool_free()), or NULL with errstr filled.
 */
struct kref_pool *kref_pool_new(unsigned threads, char *errstr, size_t errstr_size);

/** @brief Stop and join the threads. NULL is a no-op. */
void kref_pool_free(struct kref_pool *pool);

/** @brief Threads in the pool, the caller included. */
unsigned kref_pool_threads(const struct kref_pool *pool);

/**
 * @brief Run fn on `nthreads` threads (1 … kref_pool_threads()), the caller
 *        being tid 0, and return when all have finished. Concurrent callers
 *        take turns.
 */
void kref_pool_run(struct kref_pool *pool, kref_job_fn fn, void *arg, unsigned nthreads);

#ifdef __cplusplus
}
#endif

#endif
