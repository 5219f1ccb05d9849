/* f16 / bf16 conversions: hand-checked values, every 16-bit pattern round-tripped, and f32 →
 * f16 / bf16 against an independent rounding written with double arithmetic (and against the
 * compiler's _Float16 where it has one). */
#include <errno.h>
#include <float.h>
#include <math.h>

#include "kt_kern.h"

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_hand_checked(void)
{
    /* f16 */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(0.0f), 0x0000);
    KT_ASSERT_INT_EQ(kern_f32_to_f16(-0.0f), 0x8000);
    KT_ASSERT_INT_EQ(kern_f32_to_f16(1.0f), 0x3c00);
    KT_ASSERT_INT_EQ(kern_f32_to_f16(-2.0f), 0xc000);
    KT_ASSERT_INT_EQ(kern_f32_to_f16(65504.0f), 0x7bff);  /* largest finite */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(65519.99f), 0x7bff); /* just below the tie */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(65520.0f), 0x7c00);  /* tie to even: Inf */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(1e10f), 0x7c00);     /* overflow */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(-INFINITY), 0xfc00);
    KT_ASSERT_INT_EQ(kern_f32_to_f16(0x1p-14f), 0x0400);        /* smallest normal */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(0x1p-24f), 0x0001);        /* smallest subnormal */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(0x1p-25f), 0x0000);        /* tie → even (0) */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(0x1.8p-25f), 0x0001);      /* above the tie */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(0x1.8p-24f), 0x0002);      /* 1.5 ulp: tie → even (2) */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(0x1p-30f), 0x0000);        /* underflow */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie → even (down) */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(1.0f + 0x3p-11f), 0x3c02); /* tie → even (up) */
    KT_ASSERT_INT_EQ(kern_f32_to_f16(0x1.ffcp-15f), 0x0400);    /* subnormal rounds up to normal */
    uint16_t h = kern_f32_to_f16(NAN);
    KT_ASSERT((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0);
    KT_ASSERT(kern_f32_to_f16(-NAN) & 0x8000);
    /* A signalling NaN whose payload sits in the low bits only must not become Inf. */
    h = kern_f32_to_f16(from_bits(0x7f800001u));
    KT_ASSERT((h & 0x7c00) == 0x7c00 && (h & 0x200));

    KT_ASSERT(kern_f16_to_f32(0x3c00) == 1.0f);
    KT_ASSERT(kern_f16_to_f32(0x0001) == 0x1p-24f);
    KT_ASSERT(kern_f16_to_f32(0x03ff) == 0x3ffp-24f);
    KT_ASSERT(kern_f16_to_f32(0x7bff) == 65504.0f);
    KT_ASSERT(isinf(kern_f16_to_f32(0x7c00)) && kern_f16_to_f32(0x7c00) > 0);
    KT_ASSERT(isnan(kern_f16_to_f32(0x7e00)));
    KT_ASSERT(bits(kern_f16_to_f32(0x8000)) == 0x80000000u);

    /* bf16 */
    KT_ASSERT_INT_EQ(kern_f32_to_bf16(1.0f), 0x3f80);
    KT_ASSERT_INT_EQ(kern_f32_to_bf16(-0.0f), 0x8000);
    KT_ASSERT_INT_EQ(kern_f32_to_bf16(from_bits(0x3f808000u)), 0x3f80); /* tie → even (down) */
    KT_ASSERT_INT_EQ(kern_f32_to_bf16(from_bits(0x3f818000u)), 0x3f82); /* tie → even (up) */
    KT_ASSERT_INT_EQ(kern_f32_to_bf16(from_bits(0x3f808001u)), 0x3f81);
    KT_ASSERT_INT_EQ(kern_f32_to_bf16(FLT_MAX), 0x7f80); /* rounds to Inf */
    KT_ASSERT_INT_EQ(kern_f32_to_bf16(INFINITY), 0x7f80);
    KT_ASSERT_INT_EQ(kern_f32_to_bf16(from_bits(0x00000001u)), 0x0000); /* f32 denormal */
    KT_ASSERT_INT_EQ(kern_f32_to_bf16(from_bits(0x00018000u)), 0x0002); /* denormal, tie up */
    uint16_t b = kern_f32_to_bf16(from_bits(0x7f800001u));              /* sNaN with low payload */
    KT_ASSERT((b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0);
    KT_ASSERT(kern_f32_to_bf16(-NAN) & 0x8000);
    KT_ASSERT(kern_bf16_to_f32(0x3f80) == 1.0f);
    KT_ASSERT(kern_bf16_to_f32(0x0001) == from_bits(0x00010000u));

    KT_ASSERT(kern_round_to(KERN_DTYPE_F32, 0.1f) == 0.1f);
    KT_ASSERT(kern_round_to(KERN_DTYPE_BF16, 1.0f + 0x1p-9f) == 1.0f);
    KT_ASSERT(kern_round_to(KERN_DTYPE_F16, 1.0f + 0x1p-12f) == 1.0f);
}

/* Every f16 / bf16 bit pattern widens and narrows back to itself (NaN: to a NaN). */
static void test_round_trip_all(void)
{
    for (uint32_t u = 0; u < 65536; u++) {
        uint16_t h = (uint16_t)u;
        float f = kern_f16_to_f32(h);
        bool nan16 = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (nan16) {
            KT_ASSERT_MSG(isnan(f), "f16 %04x: not NaN", u);
            KT_ASSERT(isnan(kern_f16_to_f32(kern_f32_to_f16(f))));
        } else {
            KT_ASSERT_MSG(kern_f32_to_f16(f) == h, "f16 %04x -> %a -> %04x", u, (double)f,
                          kern_f32_to_f16(f));
        }
        float g = kern_bf16_to_f32(h);
        bool nanb = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        if (nanb)
            KT_ASSERT(isnan(g) && isnan(kern_bf16_to_f32(kern_f32_to_bf16(g))));
        else
            KT_ASSERT_MSG(kern_f32_to_bf16(g) == h, "bf16 %04x -> %04x", u, kern_f32_to_bf16(g));
    }
}

/* Round-to-nearest-even to a grid, computed in double: the value of a float is exact in
 * double, and so are the two candidates and their midpoint. */
static double rne_f16_double(float f)
{
    double a = fabs((double)f);
    if (a >= 65520.0)
        return copysign(HUGE_VAL, (double)f);
    int e;
    frexp(a, &e);                        /* a = m · 2^e, m in [0.5, 1) */
    int q = e - 11 < -24 ? -24 : e - 11; /* quantum exponent: 11 significant bits, or subnormal */
    double quantum = ldexp(1.0, q);
    double lo = floor(a / quantum) * quantum, hi = lo + quantum;
    double r;
    if (a - lo < hi - a)
        r = lo;
    else if (a - lo > hi - a)
        r = hi;
    else
        r = fmod(lo / quantum, 2.0) == 0.0 ? lo : hi;
    return copysign(r, (double)f);
}

static double rne_bf16_double(float f)
{
    double a = fabs((double)f);
    if (a == 0.0)
        return (double)f;
    int e;
    frexp(a, &e);
    int q = e - 8 < -133 ? -133 : e - 8; /* 8 significant bits; f32's subnormal quantum 2^-133 */
    double quantum = ldexp(1.0, q);
    double lo = floor(a / quantum) * quantum, hi = lo + quantum;
    double r;
    if (a - lo < hi - a)
        r = lo;
    else if (a - lo > hi - a)
        r = hi;
    else
        r = fmod(lo / quantum, 2.0) == 0.0 ? lo : hi;
    if (r > (double)FLT_MAX)
        r = HUGE_VAL;
    return copysign(r, (double)f);
}

static float random_float_bits(void)
{
    /* Uniform over bit patterns hits every exponent, subnormals and specials included. */
    return from_bits((uint32_t)kt_rand64());
}

static void test_against_double(void)
{
    for (int i = 0; i < 2000000; i++) {
        float f = random_float_bits();
        if (i % 4 == 1) /* and many values in f16's range */
            f = ldexpf(kt_uniform(-1.0f, 1.0f), (int)kt_range(0, 45) - 28);
        if (isnan(f))
            continue;
        double want16 = rne_f16_double(f);
        double got16 = (double)kern_f16_to_f32(kern_f32_to_f16(f));
        KT_ASSERT_MSG(got16 == want16 && signbit(got16) == signbit(want16), "f16(%a) = %a, want %a",
                      (double)f, got16, want16);
        double wantb = rne_bf16_double(f);
        double gotb = (double)kern_bf16_to_f32(kern_f32_to_bf16(f));
        KT_ASSERT_MSG(gotb == wantb && signbit(gotb) == signbit(wantb), "bf16(%a) = %a, want %a",
                      (double)f, gotb, wantb);
#ifdef __FLT16_MAX__
        _Float16 c = (_Float16)f;
        uint16_t cb;
        memcpy(&cb, &c, sizeof cb);
        KT_ASSERT_MSG(cb == kern_f32_to_f16(f), "f16(%a): %04x, compiler says %04x", (double)f,
                      kern_f32_to_f16(f), cb);
#endif
    }
}

static void test_bulk(void)
{
    const float src[5] = {1.0f, -2.5f, 0x1p-24f, INFINITY, 3.0f};
    unsigned char bytes[20];
    float back[5];
    for (int dt = 0; dt < KERN_DTYPE_COUNT; dt++) {
        KT_ASSERT_INT_EQ(kern_from_f32((enum kern_dtype)dt, src, bytes, 5), 0);
        /* Any alignment: read back from an odd address too. */
        unsigned char odd[21];
        memcpy(odd + 1, bytes, sizeof bytes);
        KT_ASSERT_INT_EQ(kern_to_f32((enum kern_dtype)dt, odd + 1, back, 5), 0);
        for (int i = 0; i < 5; i++)
            KT_ASSERT(back[i] == kern_round_to((enum kern_dtype)dt, src[i]));
    }
    /* Little-endian on the wire: 1.0f16 is 0x3c00 → bytes 00 3c. */
    kern_from_f32(KERN_DTYPE_F16, src, bytes, 1);
    KT_ASSERT(bytes[0] == 0x00 && bytes[1] == 0x3c);
    kern_from_f32(KERN_DTYPE_F32, src, bytes, 1);
    KT_ASSERT(bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x80 && bytes[3] == 0x3f);
    KT_ASSERT_INT_EQ(kern_to_f32((enum kern_dtype)7, bytes, back, 1), -EINVAL);
    KT_ASSERT_INT_EQ(kern_from_f32((enum kern_dtype)7, src, bytes, 1), -EINVAL);
}

int main(int argc, char **argv)
{
    kt_seed_init(argc, argv);
    KT_RUN(test_hand_checked);
    KT_RUN(test_round_trip_all);
    KT_RUN(test_against_double);
    KT_RUN(test_bulk);
    return 0;
}
