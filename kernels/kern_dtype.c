/* Bit-level f16/bf16 conversions. Written out by hand rather than with _Float16 or
 * F16C intrinsics so that the reference gives the same bits on every compiler and host,
 * and so that the CUDA backend's conversions (__float2half_rn, __float2bfloat16_rn) have a
 * fixed target to be compared against. */
#include "kernels/kern_dtype.h"

#include <errno.h>
#include <string.h>

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float kern_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t kern_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep the sign, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    /* Round to nearest even: add 0x7fff plus the lowest kept bit. A carry into the exponent
     * is the right answer, including overflow to Inf. */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float kern_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) /* Inf or NaN; a NaN keeps its payload */
        return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0)
            return bits_f32(sign);
        /* Subnormal: man · 2^-24, exact in f32. */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t kern_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: quiet, keep the top payload bits */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* ≥ 65520 rounds to Inf (65504 is the largest f16) */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* Result is subnormal or zero: value = m · 2^-24, m < 1024. Shift the full 24-bit
         * significand right and round to nearest even on the bits shifted out. */
        uint32_t exp = a >> 23;
        if (exp < 102) /* below half the smallest subnormal (2^-25): zero */
            return sign;
        uint32_t sig = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - exp; /* 14 … 24 */
        uint32_t m = sig >> shift;
        uint32_t rem = sig & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (m & 1u)))
            m++;
        return (uint16_t)(sign | m);
    }
    /* Normal: rebias the exponent (127 → 15) and round the 13 dropped bits; a carry into
     * the exponent is correct, up to Inf (excluded above). */
    a -= 112u << 23;
    a += 0xfffu + ((a >> 13) & 1u);
    return (uint16_t)(sign | (a >> 13));
}

float kern_round_to(enum kern_dtype dt, float f)
{
    switch (dt) {
    case KERN_DTYPE_F16: return kern_f16_to_f32(kern_f32_to_f16(f));
    case KERN_DTYPE_BF16: return kern_bf16_to_f32(kern_f32_to_bf16(f));
    case KERN_DTYPE_F32:
    default: return f;
    }
}

/* Little-endian loads and stores from byte arrays: weights come straight out of a
 * safetensors file and need not be aligned. */
static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int kern_to_f32(enum kern_dtype dt, const void *src, float *dst, size_t n)
{
    const unsigned char *p = src;
    switch (dt) {
    case KERN_DTYPE_F32:
        for (size_t i = 0; i < n; i++)
            dst[i] = bits_f32(le32(p + 4 * i));
        return 0;
    case KERN_DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = kern_f16_to_f32(le16(p + 2 * i));
        return 0;
    case KERN_DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            dst[i] = kern_bf16_to_f32(le16(p + 2 * i));
        return 0;
    }
    return -EINVAL;
}

int kern_from_f32(enum kern_dtype dt, const float *src, void *dst, size_t n)
{
    unsigned char *p = dst;
    switch (dt) {
    case KERN_DTYPE_F32:
        for (size_t i = 0; i < n; i++) {
            uint32_t u = f32_bits(src[i]);
            p[4 * i] = (unsigned char)u;
            p[4 * i + 1] = (unsigned char)(u >> 8);
            p[4 * i + 2] = (unsigned char)(u >> 16);
            p[4 * i + 3] = (unsigned char)(u >> 24);
        }
        return 0;
    case KERN_DTYPE_F16:
    case KERN_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = dt == KERN_DTYPE_F16 ? kern_f32_to_f16(src[i]) : kern_f32_to_bf16(src[i]);
            p[2 * i] = (unsigned char)h;
            p[2 * i + 1] = (unsigned char)(h >> 8);
        }
        return 0;
    }
    return -EINVAL;
}
