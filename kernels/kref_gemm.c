/* The reference GEMM. Y = X·Wᵀ with W packed into panels of KREF_NR output columns, so that
 * the inner loop is a broadcast of one X element times a contiguous row of the panel: no
 * horizontal sums, and the compiler's vector code does not depend on -ffast-math.
 *
 * Blocking: k in slices of KC so that one panel slice (KC·NR floats, 16 KiB) stays in L1
 * while the rows of a row block stream past it; rows in blocks of MC so that the X block
 * (MC·KC floats, 128 KiB) stays in L2 while every panel is applied to it. The micro-kernel
 * keeps an MR × NR tile of Y in registers for a whole k slice.
 *
 * The vector type is GCC/Clang's generic vector extension: 8 floats, which the baseline
 * x86-64 build computes as two SSE halves and the AVX2 clone (target_clones, where the
 * compiler and the C library support it) as one register. Results do not depend on which
 * clone runs: there is no FMA contraction in ISO C mode, and each lane's sum runs in k order. */
#include <string.h>

#include "kernels/kern_dtype.h"
#include "kernels/kref.h"

#define MR 4u
#define NR KREF_NR
#define KC 256u
#define MC 128u

typedef float v8f __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define KREF_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef KREF_CLONES
#define KREF_CLONES
#endif

void kref_pack(const void *w, enum kern_dtype dt, uint32_t n, uint32_t k, float *dst)
{
    const unsigned char *src = w;
    size_t es = kern_dtype_size(dt);
    /* Only the last panel's columns beyond n are not written below: zero those, not the whole
     * buffer (a second pass over every byte of the weights, and at load that is most of it). */
    for (uint32_t o = n; o < kref_panels(n) * NR; o++) {
        float *col = dst + (size_t)(o / NR) * NR * k + o % NR;
        for (uint32_t i = 0; i < k; i++)
            col[(size_t)i * NR] = 0.0f;
    }
    for (uint32_t o = 0; o < n; o++) {
        float *col = dst + (size_t)(o / NR) * NR * k + o % NR;
        const unsigned char *row = src + (size_t)o * k * es;
        /* Widen a chunk of the row at a time, then scatter it down the panel column. */
        float buf[256];
        for (uint32_t i0 = 0; i0 < k; i0 += 256) {
            uint32_t m = k - i0 < 256 ? k - i0 : 256;
            kern_to_f32(dt, row + (size_t)i0 * es, buf, m);
            for (uint32_t i = 0; i < m; i++)
                col[(size_t)(i0 + i) * NR] = buf[i];
        }
    }
}

/* Vector loads and stores as memcpy (no alignment assumed, no aliasing questions); macros
 * rather than functions because passing a 32-byte vector by value is an ABI question on a
 * baseline x86-64 build (-Wpsabi). */
#define LOAD8(v, p) memcpy(&(v), (p), sizeof(v8f))
#define STORE8(p, v) memcpy((p), &(v), sizeof(v8f))

/* One MR_ × NR tile: rows x[0 … MR_) (stride ldx), the panel slice b (kl × NR), into y
 * (stride ldy), `first` overwriting rather than accumulating; only nr ≤ NR columns of y are
 * written. Inlined into each caller with a constant MR_, so a batch of one row does not pay
 * for four. */
static inline __attribute__((always_inline)) void micro(const float *x, size_t ldx, const float *b,
                                                        uint32_t kl, float *y, size_t ldy,
                                                        int first, uint32_t nr, const uint32_t MR_)
{
    v8f c[MR][2];
    for (uint32_t i = 0; i < MR_; i++)
        c[i][0] = c[i][1] = (v8f){0};
    for (uint32_t kk = 0; kk < kl; kk++) {
        v8f b0, b1;
        LOAD8(b0, b + (size_t)kk * NR);
        LOAD8(b1, b + (size_t)kk * NR + 8);
        for (uint32_t i = 0; i < MR_; i++) {
            float a = x[i * ldx + kk];
            c[i][0] += a * b0;
            c[i][1] += a * b1;
        }
    }
    for (uint32_t i = 0; i < MR_; i++) {
        float *yr = y + i * ldy;
        if (nr == NR) {
            if (!first) {
                v8f y0, y1;
                LOAD8(y0, yr);
                LOAD8(y1, yr + 8);
                c[i][0] += y0;
                c[i][1] += y1;
            }
            STORE8(yr, c[i][0]);
            STORE8(yr + 8, c[i][1]);
        } else {
            float t[NR];
            STORE8(t, c[i][0]);
            STORE8(t + 8, c[i][1]);
            for (uint32_t j = 0; j < nr; j++)
                yr[j] = first ? t[j] : yr[j] + t[j];
        }
    }
}

/* Static, and called through kref_gemm_packed() below: Clang (14) emits the resolver of a
 * target_clones function only in a translation unit that calls it. */
KREF_CLONES
static void gemm_packed(const float *x, uint32_t rows, uint32_t k, const float *packed, uint32_t n,
                        uint32_t p0, uint32_t p1, float *y)
{
    for (uint32_t kb = 0; kb < k; kb += KC) {
        uint32_t kl = k - kb < KC ? k - kb : KC;
        int first = kb == 0;
        for (uint32_t rb = 0; rb < rows; rb += MC) {
            uint32_t re = rows - rb < MC ? rows : rb + MC;
            for (uint32_t p = p0; p < p1; p++) {
                const float *b = packed + (size_t)p * NR * k + (size_t)kb * NR;
                uint32_t c0 = p * NR;
                uint32_t nr = n - c0 < NR ? n - c0 : NR;
                for (uint32_t r = rb; r < re; r += MR) {
                    const float *xr = x + (size_t)r * k + kb;
                    float *yr = y + (size_t)r * n + c0;
                    switch (re - r < MR ? re - r : MR) {
                    case 1: micro(xr, k, b, kl, yr, n, first, nr, 1); break;
                    case 2: micro(xr, k, b, kl, yr, n, first, nr, 2); break;
                    case 3: micro(xr, k, b, kl, yr, n, first, nr, 3); break;
                    default: micro(xr, k, b, kl, yr, n, first, nr, MR); break;
                    }
                }
            }
        }
    }
}

void kref_gemm_packed(const float *x, uint32_t rows, uint32_t k, const float *packed, uint32_t n,
                      uint32_t p0, uint32_t p1, float *y)
{
    gemm_packed(x, rows, k, packed, n, p0, p1, y);
}

void kref_gemm_naive(const float *x, uint32_t rows, uint32_t k, const float *w, uint32_t n,
                     float *y)
{
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t o = 0; o < n; o++) {
            float s = 0.0f;
            for (uint32_t i = 0; i < k; i++)
                s += x[(size_t)r * k + i] * w[(size_t)o * k + i];
            y[(size_t)r * n + o] = s;
        }
}
