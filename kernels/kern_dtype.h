/**
 * @file kern_dtype.h
 * @brief Conversions between f32 and the 16-bit dtypes (IEEE binary16 "f16",
 *        bfloat16 "bf16"), element-wise and over little-endian byte arrays.
 *
 * All narrowing conversions round to nearest, ties to even (what CUDA's
 * `__float2half_rn` and `__float2bfloat16_rn` do), keep signed zeros,
 * infinities and subnormals, overflow to ±Inf, and turn any NaN into a quiet
 * NaN of the same sign. Widening is exact.
 *
 * @locality any thread; no state.
 */
#ifndef KERN_DTYPE_H
#define KERN_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kern_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief bf16 bits → f32 (exact). */
float kern_bf16_to_f32(uint16_t h);
/** @brief f32 → bf16 bits, round to nearest even. */
uint16_t kern_f32_to_bf16(float f);
/** @brief f16 bits → f32 (exact, subnormals included). */
float kern_f16_to_f32(uint16_t h);
/** @brief f32 → f16 bits, round to nearest even; overflow gives ±Inf. */
uint16_t kern_f32_to_f16(float f);

/** @brief Round an f32 value to `dt` and back: the value a layer of that dtype computes with. */
float kern_round_to(enum kern_dtype dt, float f);

/**
 * @brief Widen `n` little-endian elements of `dt` to f32.
 * @param src  borrowed, n·kern_dtype_size(dt) bytes, any alignment
 * @param dst  n floats; must not overlap src
 * @returns 0, or -EINVAL for a dtype out of range.
 */
int kern_to_f32(enum kern_dtype dt, const void *src, float *dst, size_t n);

/**
 * @brief Narrow `n` floats to little-endian elements of `dt` (f32 is copied).
 * @param dst  n·kern_dtype_size(dt) bytes, any alignment; must not overlap src
 * @returns 0, or -EINVAL for a dtype out of range.
 */
int kern_from_f32(enum kern_dtype dt, const float *src, void *dst, size_t n);

#ifdef __cplusplus
}
#endif

#endif
