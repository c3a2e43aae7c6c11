/* Narrow element types (core/dtype_small.c): every float8 / float4 code
 * decoded against the formulas of ONNX's float8 / float4 documentation,
 * float -> code checked against a brute-force nearest-value search over all
 * codes, e8m0 rounding modes, integer wrapping, packing; and ops on narrow
 * tensors either move them intact or refuse them. */
#include "harness.h"

#include "core/dtype_small.h"

#include <float.h>
#include <math.h>

static const kiln_dtype F8[] = {KILN_DTYPE_FLOAT8E4M3FN, KILN_DTYPE_FLOAT8E4M3FNUZ, KILN_DTYPE_FLOAT8E5M2,
                                KILN_DTYPE_FLOAT8E5M2FNUZ};
static const kiln_dtype MINIS[] = {KILN_DTYPE_FLOAT8E4M3FN, KILN_DTYPE_FLOAT8E4M3FNUZ, KILN_DTYPE_FLOAT8E5M2,
                                   KILN_DTYPE_FLOAT8E5M2FNUZ, KILN_DTYPE_FLOAT4E2M1};

/* ---- reference: the documented formulas, written out per type ------------- */

static int ncodes(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT4E2M1 ? 16 : 256;
}

static double ref_decode(kiln_dtype dt, unsigned c)
{
    if (dt == KILN_DTYPE_FLOAT4E2M1) {
        static const double mag[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6}; /* the table of float4.md */
        return (c & 8) ? -mag[c & 7] : mag[c & 7];
    }
    double s = (c & 0x80) ? -1.0 : 1.0;
    unsigned e4 = (c >> 3) & 0xF, m3 = c & 7, e5 = (c >> 2) & 0x1F, m2 = c & 3;
    switch (dt) {
    case KILN_DTYPE_FLOAT8E4M3FN:
        if (e4 == 15 && m3 == 7)
            return NAN;
        return e4 ? s * pow(2, (int)e4 - 7) * (1 + m3 / 8.0) : s * pow(2, -6) * (m3 / 8.0);
    case KILN_DTYPE_FLOAT8E4M3FNUZ:
        if (c == 0x80)
            return NAN;
        return e4 ? s * pow(2, (int)e4 - 8) * (1 + m3 / 8.0) : s * pow(2, -7) * (m3 / 8.0);
    case KILN_DTYPE_FLOAT8E5M2:
        if (e5 == 31)
            return m2 ? NAN : s * INFINITY;
        return e5 ? s * pow(2, (int)e5 - 15) * (1 + m2 / 4.0) : s * pow(2, -14) * (m2 / 4.0);
    case KILN_DTYPE_FLOAT8E5M2FNUZ:
        if (c == 0x80)
            return NAN;
        return e5 ? s * pow(2, (int)e5 - 16) * (1 + m2 / 4.0) : s * pow(2, -15) * (m2 / 4.0);
    default:
        return NAN;
    }
}

static unsigned sign_bit(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT4E2M1 ? 8u : 0x80u;
}

static unsigned max_code(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT8E4M3FN: return 0x7e;
    case KILN_DTYPE_FLOAT8E5M2: return 0x7b;
    case KILN_DTYPE_FLOAT4E2M1: return 0x7;
    default: return 0x7f;
    }
}

static bool unsigned_zero(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT8E4M3FNUZ || dt == KILN_DTYPE_FLOAT8E5M2FNUZ;
}

/* The code a value beyond the largest finite one becomes. */
static unsigned ref_overflow(kiln_dtype dt, bool neg, bool saturate)
{
    unsigned s = neg ? sign_bit(dt) : 0;
    if (saturate || dt == KILN_DTYPE_FLOAT4E2M1)
        return s | max_code(dt);
    if (dt == KILN_DTYPE_FLOAT8E5M2)
        return s | 0x7c; /* inf */
    if (dt == KILN_DTYPE_FLOAT8E4M3FN)
        return s | 0x7f;
    return 0x80;
}

/* Nearest finite code by exhaustive search; a tie goes to the code with an
 * even last mantissa bit. Beyond the largest value, round-to-nearest-even
 * against the next value up (max + one ulp) decides overflow. */
static unsigned ref_encode(kiln_dtype dt, double x, bool saturate)
{
    bool neg = signbit(x);
    double a = fabs(x);
    unsigned mc = max_code(dt);
    double max = ref_decode(dt, mc), below = ref_decode(dt, mc - 1), ulp = max - below;
    /* the value above max, were the exponent unbounded, is max + ulp: from
     * an all-ones mantissa the step into the next binade is one ulp too */
    double mid = max + ulp / 2;
    if (isinf(x) || a > mid || (a == mid && (mc & 1)))
        return ref_overflow(dt, neg, saturate);
    unsigned best = 0;
    double best_d = INFINITY;
    for (unsigned c = 0; c <= mc; c++) {
        double d = fabs(ref_decode(dt, c) - a);
        if (d < best_d || (d == best_d && !(c & 1))) {
            best = c;
            best_d = d;
        }
    }
    if (best == 0)
        return unsigned_zero(dt) ? 0 : (neg ? sign_bit(dt) : 0);
    return (neg ? sign_bit(dt) : 0) | best;
}

/* ---- decode ---------------------------------------------------------------- */

static void test_decode_all_codes(void **state)
{
    (void)state;
    for (size_t t = 0; t < sizeof MINIS / sizeof MINIS[0]; t++) {
        kiln_dtype dt = MINIS[t];
        for (int c = 0; c < ncodes(dt); c++) {
            double want = ref_decode(dt, (unsigned)c);
            float got = kn_small_to_float(dt, (uint8_t)c);
            if (isnan(want)) {
                if (!isnan(got))
                    fail_msg("%s code 0x%02x: got %g, expected NaN", kiln_dtype_name(dt), c, got);
            } else if ((double)got != want || !signbit(got) != !signbit(want)) {
                fail_msg("%s code 0x%02x: got %g, expected %g", kiln_dtype_name(dt), c, got, want);
            }
        }
    }
}

static void test_decode_documented_limits(void **state)
{
    (void)state;
    /* the Max / Min rows of the float8 documentation */
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E4M3FN, 0x7e) == 448.0f);
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E4M3FN, 0x01) == ldexpf(1, -9));
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E5M2, 0x7b) == 57344.0f);
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E5M2, 0x01) == ldexpf(1, -16));
    assert_true(isinf(kn_small_to_float(KILN_DTYPE_FLOAT8E5M2, 0x7c)));
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E5M2, 0xfc) < 0);
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E4M3FNUZ, 0x7f) == 240.0f);
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E4M3FNUZ, 0x01) == ldexpf(1, -10));
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E5M2FNUZ, 0x7f) == 57344.0f);
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E5M2FNUZ, 0x01) == ldexpf(1, -17));
    assert_true(isnan(kn_small_to_float(KILN_DTYPE_FLOAT8E4M3FNUZ, 0x80)));
    assert_true(isnan(kn_small_to_float(KILN_DTYPE_FLOAT8E5M2FNUZ, 0x80)));
    assert_true(isnan(kn_small_to_float(KILN_DTYPE_FLOAT8E4M3FN, 0xff)));
    float nz = kn_small_to_float(KILN_DTYPE_FLOAT8E4M3FN, 0x80);
    assert_true(nz == 0.0f && signbit(nz));
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT4E2M1, 0x7) == 6.0f);
    assert_true(kn_small_to_float(KILN_DTYPE_FLOAT4E2M1, 0xf) == -6.0f);
}

/* ---- encode ---------------------------------------------------------------- */

static void check_encode(kiln_dtype dt, float x, bool saturate)
{
    unsigned want = ref_encode(dt, (double)x, saturate);
    unsigned got = kn_float_to_small(dt, x, saturate);
    if (got != want)
        fail_msg("%s(%.9g, saturate %d): got 0x%02x, expected 0x%02x", kiln_dtype_name(dt), (double)x, saturate,
                 got, want);
}

static void test_encode_against_search(void **state)
{
    (void)state;
    uint32_t seed = 12345;
    for (size_t t = 0; t < sizeof MINIS / sizeof MINIS[0]; t++) {
        kiln_dtype dt = MINIS[t];
        unsigned mc = max_code(dt);
        for (int sat = 0; sat <= 1; sat++) {
            for (unsigned c = 0; c <= mc; c++) {
                float v = (float)ref_decode(dt, c);
                float next = c < mc ? (float)ref_decode(dt, c + 1) : v * 2;
                float mid = (v + next) / 2; /* exact: few mantissa bits */
                float probes[] = {v, mid, nextafterf(mid, 0), nextafterf(mid, INFINITY), nextafterf(v, INFINITY)};
                for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
                    check_encode(dt, probes[k], sat);
                    check_encode(dt, -probes[k], sat);
                }
            }
            float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e-40f, -1e-40f, 1e-7f, 1e6f};
            for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++)
                check_encode(dt, specials[k], sat);
            float max = (float)ref_decode(dt, mc);
            for (int k = 0; k < 4000; k++) {
                seed = seed * 1664525u + 1013904223u;
                float u = (float)(seed >> 8) / 16777216.0f;                     /* [0, 1) */
                float x = ldexpf(u, (int)(seed % 40) - 24) * (seed & 1 ? -1.0f : 1.0f); /* many binades */
                check_encode(dt, x, sat);
                check_encode(dt, (u * 2.5f - 1.25f) * max, sat);
            }
        }
    }
}

static void test_encode_round_trip(void **state)
{
    (void)state;
    for (size_t t = 0; t < sizeof MINIS / sizeof MINIS[0]; t++) {
        kiln_dtype dt = MINIS[t];
        for (int c = 0; c < ncodes(dt); c++) {
            float v = kn_small_to_float(dt, (uint8_t)c);
            if (isnan(v) || isinf(v))
                continue;
            for (int sat = 0; sat <= 1; sat++)
                if (kn_float_to_small(dt, v, sat) != c)
                    fail_msg("%s code 0x%02x (%g) does not round-trip", kiln_dtype_name(dt), c, v);
        }
    }
}

static void test_encode_nan_inf_rules(void **state)
{
    (void)state;
    /* the saturate / no-saturate tables of ONNX's float8 documentation, with
     * infinities saturating as the reference implementation clips them */
    struct {
        kiln_dtype dt;
        uint8_t nan, inf_sat, ninf_sat, inf_nosat, ninf_nosat;
    } rows[] = {
        {KILN_DTYPE_FLOAT8E4M3FN, 0x7f, 0x7e, 0xfe, 0x7f, 0xff},
        {KILN_DTYPE_FLOAT8E4M3FNUZ, 0x80, 0x7f, 0xff, 0x80, 0x80},
        {KILN_DTYPE_FLOAT8E5M2, 0x7e, 0x7b, 0xfb, 0x7c, 0xfc},
        {KILN_DTYPE_FLOAT8E5M2FNUZ, 0x80, 0x7f, 0xff, 0x80, 0x80},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        kiln_dtype dt = rows[i].dt;
        assert_int_equal(kn_float_to_small(dt, NAN, true), rows[i].nan);
        assert_int_equal(kn_float_to_small(dt, NAN, false), rows[i].nan);
        assert_int_equal(kn_float_to_small(dt, INFINITY, true), rows[i].inf_sat);
        assert_int_equal(kn_float_to_small(dt, -INFINITY, true), rows[i].ninf_sat);
        assert_int_equal(kn_float_to_small(dt, INFINITY, false), rows[i].inf_nosat);
        assert_int_equal(kn_float_to_small(dt, -INFINITY, false), rows[i].ninf_nosat);
        /* -0 keeps its sign only where the format has one */
        assert_int_equal(kn_float_to_small(dt, -0.0f, true), dt == KILN_DTYPE_FLOAT8E4M3FNUZ ||
                                                                     dt == KILN_DTYPE_FLOAT8E5M2FNUZ ? 0x00 : 0x80);
        /* a tiny negative value underflows to (signed or unsigned) zero, never to NaN */
        assert_int_equal(kn_float_to_small(dt, -1e-30f, false), dt == KILN_DTYPE_FLOAT8E4M3FNUZ ||
                                                                       dt == KILN_DTYPE_FLOAT8E5M2FNUZ ? 0x00 : 0x80);
    }
    /* -NaN keeps its sign in the formats with signed NaNs */
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E4M3FN, -NAN, true), 0xff);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E5M2, -NAN, true), 0xfe);
    /* float4e2m1 saturates always; NaN becomes 0x8 like the ONNX test data */
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT4E2M1, INFINITY, false), 0x7);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT4E2M1, -INFINITY, false), 0xf);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT4E2M1, 100.0f, false), 0x7);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT4E2M1, NAN, true), 0x8);
}

static void test_encode_ties_to_even(void **state)
{
    (void)state;
    /* e4m3fn: 464 lies halfway between 448 (mantissa 110) and 480 (would be
     * 111, the NaN code): even wins, so 464 still saturates-free to 448 */
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E4M3FN, 464.0f, false), 0x7e);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E4M3FN, nextafterf(464.0f, 1e9f), false), 0x7f);
    /* e5m2: 61440 is halfway between 57344 (odd) and 65536: overflow */
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E5M2, 61440.0f, false), 0x7c);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E5M2, 61440.0f, true), 0x7b);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E5M2, nextafterf(61440.0f, 0), false), 0x7b);
    /* 1.0625 is halfway between 1 (0x38, even) and 1.125 (0x39) in e4m3fn */
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E4M3FN, 1.0625f, true), 0x38);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E4M3FN, 1.1875f, true), 0x3a);
    /* subnormal ties: 2^-10 is half of e4m3fn's smallest step, rounds to 0 */
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E4M3FN, ldexpf(1, -10), true), 0x00);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E4M3FN, ldexpf(3, -10), true), 0x02);
    /* float4: 0.25 -> 0, 0.75 -> 1, 2.5 -> 2, 3.5 -> 4, 5 -> 4 */
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT4E2M1, 0.25f, true), 0x0);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT4E2M1, 0.75f, true), 0x2);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT4E2M1, 2.5f, true), 0x4);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT4E2M1, -3.5f, true), 0xe);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT4E2M1, 5.0f, true), 0x6);
}

/* ---- e8m0 ------------------------------------------------------------------ */

static void test_e8m0(void **state)
{
    (void)state;
    for (int c = 0; c < 255; c++)
        assert_true(kn_small_to_float(KILN_DTYPE_FLOAT8E8M0, (uint8_t)c) == ldexpf(1.0f, c - 127));
    assert_true(isnan(kn_small_to_float(KILN_DTYPE_FLOAT8E8M0, 0xff)));
    for (int c = 1; c < 255; c++) { /* powers of two are exact in every mode */
        float v = ldexpf(1.0f, c - 127);
        assert_int_equal(kn_float_to_e8m0(v, true, KN_E8M0_UP), c);
        assert_int_equal(kn_float_to_e8m0(v, true, KN_E8M0_DOWN), c);
        assert_int_equal(kn_float_to_e8m0(v, true, KN_E8M0_NEAREST), c);
    }
    assert_int_equal(kn_float_to_e8m0(1.1f, true, KN_E8M0_UP), 128);
    assert_int_equal(kn_float_to_e8m0(1.1f, true, KN_E8M0_DOWN), 127);
    assert_int_equal(kn_float_to_e8m0(1.1f, true, KN_E8M0_NEAREST), 127);
    assert_int_equal(kn_float_to_e8m0(1.5f, true, KN_E8M0_NEAREST), 128);
    assert_int_equal(kn_float_to_e8m0(1.49f, true, KN_E8M0_NEAREST), 127);
    assert_int_equal(kn_float_to_e8m0(-4.0f, true, KN_E8M0_UP), 129); /* no sign bit: magnitude */
    assert_int_equal(kn_float_to_e8m0(0.0f, true, KN_E8M0_UP), 0);
    assert_int_equal(kn_float_to_e8m0(NAN, true, KN_E8M0_UP), 0xff);
    assert_int_equal(kn_float_to_e8m0(INFINITY, true, KN_E8M0_DOWN), 0xff);
    /* above 2^127: saturate keeps the largest power, otherwise NaN */
    assert_int_equal(kn_float_to_e8m0(FLT_MAX, true, KN_E8M0_UP), 0xfe);
    assert_int_equal(kn_float_to_e8m0(FLT_MAX, false, KN_E8M0_UP), 0xff);
    assert_int_equal(kn_float_to_e8m0(FLT_MAX, false, KN_E8M0_NEAREST), 0xff);
    assert_int_equal(kn_float_to_e8m0(FLT_MAX, false, KN_E8M0_DOWN), 0xfe);
    /* the ONNX test data: [0, 0.124, 0.25, 0.5, 1.1, 2, 4, 8] round up */
    float in[] = {0.0f, 0.124f, 0.25f, 0.5f, 1.1f, 2.0f, 4.0f, 8.0f};
    uint8_t want[] = {0x00, 0x7c, 0x7d, 0x7e, 0x80, 0x80, 0x81, 0x82};
    for (int i = 0; i < 8; i++)
        assert_int_equal(kn_float_to_e8m0(in[i], true, KN_E8M0_UP), want[i]);
    assert_int_equal(kn_float_to_small(KILN_DTYPE_FLOAT8E8M0, 0.124f, true), 0x7c);
}

/* ---- integers and packing ------------------------------------------------- */

static void test_int_wrap(void **state)
{
    (void)state;
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_INT4, 7), 7);
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_INT4, 8), -8);
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_INT4, -9), 7);
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_INT4, 15), -1);
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_UINT4, -1), 15);
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_UINT4, 16), 0);
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_INT2, 2), -2);
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_INT2, -3), 1);
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_UINT2, -3), 1);
    assert_int_equal(kn_small_int_wrap(KILN_DTYPE_UINT2, INT64_MIN), 0);
    int32_t lo, hi;
    kn_small_int_range(KILN_DTYPE_INT2, &lo, &hi);
    assert_int_equal(lo, -2);
    assert_int_equal(hi, 1);
}

static void test_pack_unpack(void **state)
{
    (void)state;
    assert_int_equal(kn_small_packed_bytes(KILN_DTYPE_INT4, 1), 1);
    assert_int_equal(kn_small_packed_bytes(KILN_DTYPE_INT4, 3), 2);
    assert_int_equal(kn_small_packed_bytes(KILN_DTYPE_INT4, 17), 9);
    assert_int_equal(kn_small_packed_bytes(KILN_DTYPE_UINT2, 1), 1);
    assert_int_equal(kn_small_packed_bytes(KILN_DTYPE_UINT2, 3), 1);
    assert_int_equal(kn_small_packed_bytes(KILN_DTYPE_UINT2, 17), 5);
    assert_int_equal(kn_small_packed_bytes(KILN_DTYPE_FLOAT8E5M2, 17), 17);
    assert_int_equal(kn_small_packed_bytes(KILN_DTYPE_FLOAT, 17), 17); /* not small: as is */

    /* ONNX test data: int4 [-9..15] wraps and packs as 87 a9 cb ed 0f 21 ... */
    const uint8_t packed4[] = {0x87, 0xa9, 0xcb, 0xed, 0x0f, 0x21, 0x43, 0x65, 0x87};
    uint8_t u[18];
    kn_small_unpack(KILN_DTYPE_INT4, packed4, 17, u);
    for (int i = 0; i < 17; i++)
        assert_int_equal((int8_t)u[i], kn_small_int_wrap(KILN_DTYPE_INT4, i - 9));
    kn_small_unpack(KILN_DTYPE_UINT4, packed4, 3, u);
    assert_int_equal(u[0], 7);
    assert_int_equal(u[1], 8);
    assert_int_equal(u[2], 9);

    uint8_t back[10] = {0};
    for (size_t n = 1; n <= 17; n += 2) { /* 1, 3, ..., 17: odd counts need the pad nibble zero */
        kn_small_unpack(KILN_DTYPE_INT4, packed4, n, u);
        memset(back, 0xAA, sizeof back);
        kn_small_pack(KILN_DTYPE_INT4, u, n, back);
        size_t nb = kn_small_packed_bytes(KILN_DTYPE_INT4, n);
        for (size_t b = 0; b + 1 < nb; b++)
            assert_int_equal(back[b], packed4[b]);
        assert_int_equal(back[nb - 1], n % 2 ? (packed4[nb - 1] & 0x0f) : packed4[nb - 1]);
        assert_int_equal(back[nb], 0xAA); /* nothing written past the packed size */
    }

    /* uint2: [1,2,3,0, 1,2,3] packs to 39 39 (pad bits zero) */
    const uint8_t u2[] = {1, 2, 3, 0, 1, 2, 3};
    uint8_t p2[2];
    kn_small_pack(KILN_DTYPE_UINT2, u2, 7, p2);
    assert_int_equal(p2[0], 0x39);
    assert_int_equal(p2[1], 0x39);
    kn_small_unpack(KILN_DTYPE_INT2, p2, 7, u);
    const int8_t i2[] = {1, -2, -1, 0, 1, -2, -1};
    for (int i = 0; i < 7; i++)
        assert_int_equal((int8_t)u[i], i2[i]);
    for (size_t n = 1; n <= 17; n++) {
        uint8_t vals[17], pk[5], un[17];
        for (size_t i = 0; i < n; i++)
            vals[i] = (uint8_t)((i * 7 + 1) & 3);
        kn_small_pack(KILN_DTYPE_UINT2, vals, n, pk);
        kn_small_unpack(KILN_DTYPE_UINT2, pk, n, un);
        assert_memory_equal(vals, un, n);
        if (n % 4)
            assert_int_equal(pk[n / 4] >> (2 * (n % 4)), 0);
    }
    /* packing keeps only the low bits of an element */
    const uint8_t wide[] = {0xF7, 0x1C};
    uint8_t one;
    kn_small_pack(KILN_DTYPE_FLOAT4E2M1, wide, 2, &one);
    assert_int_equal(one, 0xC7);
}

static void test_dtype_facts(void **state)
{
    (void)state;
    for (int d = KILN_DTYPE_FLOAT8E4M3FN; d <= KILN_DTYPE_INT2; d++) {
        assert_true(kn_dtype_known((kiln_dtype)d));
        assert_true(kn_dtype_is_small((kiln_dtype)d));
        assert_int_equal(kiln_dtype_size((kiln_dtype)d), 1);
        assert_string_not_equal(kiln_dtype_name((kiln_dtype)d), "unknown");
    }
    assert_false(kn_dtype_known((kiln_dtype)27));
    assert_false(kn_dtype_is_small(KILN_DTYPE_INT8));
    assert_string_equal(kiln_dtype_name(KILN_DTYPE_FLOAT8E4M3FN), "float8e4m3fn");
    assert_string_equal(kiln_dtype_name(KILN_DTYPE_INT2), "int2");
    for (size_t t = 0; t < sizeof F8 / sizeof F8[0]; t++)
        assert_int_equal(kn_dtype_packed_bits(F8[t]), 8);
    assert_int_equal(kn_dtype_packed_bits(KILN_DTYPE_FLOAT4E2M1), 4);
    assert_int_equal(kn_dtype_packed_bits(KILN_DTYPE_UINT2), 2);
    /* generic element access goes through the codecs */
    kiln_tensor *t;
    assert_int_equal(kn_tensor_new(KILN_DTYPE_FLOAT8E5M2, 1, (int64_t[]){3}, &t), KILN_OK);
    kn_tensor_set_f64(t, 0, 1.5);
    kn_tensor_set_f64(t, 1, 1e9); /* saturates */
    kn_tensor_set_f64(t, 2, -0.0);
    assert_true(kn_tensor_get_f64(t, 0) == 1.5);
    assert_true(kn_tensor_get_f64(t, 1) == 57344.0);
    assert_int_equal(((uint8_t *)t->data)[2], 0x80);
    kn_tensor_free(t);
    assert_int_equal(kn_tensor_new(KILN_DTYPE_INT4, 1, (int64_t[]){2}, &t), KILN_OK);
    kn_tensor_set_f64(t, 0, 9.0);
    kn_tensor_set_f64(t, 1, NAN);
    assert_true(kn_tensor_get_f64(t, 0) == -7.0);
    assert_true(kn_tensor_get_f64(t, 1) == 0.0);
    kn_tensor_free(t);
}

/* ---- ops on narrow tensors --------------------------------------------------- */

/* Data-movement ops carry the unpacked bytes through; ops that compute
 * refuse the narrow types instead of reading their bytes as something else. */
static void test_ops_move_or_refuse(void **state)
{
    (void)state;
    static const kiln_dtype dts[] = {KILN_DTYPE_FLOAT8E4M3FN, KILN_DTYPE_INT4, KILN_DTYPE_FLOAT4E2M1,
                                     KILN_DTYPE_UINT2, KILN_DTYPE_FLOAT8E8M0};
    const uint8_t codes[6] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06}; /* valid in every type here */
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        kiln_dtype dt = dts[d];
        uint8_t vals[6];
        for (int i = 0; i < 6; i++)
            vals[i] = kn_dtype_is_small_int(dt) ? (uint8_t)kn_small_int_wrap(dt, codes[i]) : codes[i];
        kiln_tensor *x = kt_tensor(dt, KT_DIMS(2, 3), vals);
        kiln_tensor *out[1] = {NULL};

        kt_node *n = kt_node_new("Transpose", 21);
        assert_int_equal(kt_run(n, 1, &x, 1, out), KILN_OK);
        assert_int_equal(out[0]->dtype, dt);
        const uint8_t want_t[6] = {vals[0], vals[3], vals[1], vals[4], vals[2], vals[5]};
        assert_memory_equal(out[0]->data, want_t, 6);
        kn_tensor_free(out[0]);
        kt_node_free(n);

        n = kt_node_new("Gather", 13);
        kt_attr_int(n, "axis", 1);
        kiln_tensor *idx = kt_i64(KT_DIMS(2), (int64_t[]){2, 0});
        assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, idx}, 1, out), KILN_OK);
        const uint8_t want_g[4] = {vals[2], vals[0], vals[5], vals[3]};
        assert_memory_equal(out[0]->data, want_g, 4);
        kn_tensor_free(out[0]);
        kn_tensor_free(idx);
        kt_node_free(n);

        n = kt_node_new("Identity", 21);
        assert_int_equal(kt_run(n, 1, &x, 1, out), KILN_OK);
        assert_memory_equal(out[0]->data, vals, 6);
        kn_tensor_free(out[0]);
        kt_node_free(n);

        static const char *computing[] = {"Add", "Mul", "MatMul", "Max", "Equal", "Less"};
        for (size_t k = 0; k < sizeof computing / sizeof computing[0]; k++) {
            n = kt_node_new(computing[k], 21);
            out[0] = NULL;
            if (kt_run(n, 2, (kiln_tensor *[]){x, x}, 1, out) == KILN_OK)
                fail_msg("%s accepted %s", computing[k], kiln_dtype_name(dt));
            kn_tensor_free(out[0]);
            kt_node_free(n);
        }
        static const char *unary[] = {"Relu", "Abs", "Neg", "Sqrt", "ReduceSum", "ReduceMax", "Softmax",
                                      "ArgMax", "Clip", "Sign", "IsNaN", "Floor"};
        for (size_t k = 0; k < sizeof unary / sizeof unary[0]; k++) {
            n = kt_node_new(unary[k], 21);
            out[0] = NULL;
            if (kt_run(n, 1, &x, 1, out) == KILN_OK)
                fail_msg("%s accepted %s", unary[k], kiln_dtype_name(dt));
            kn_tensor_free(out[0]);
            kt_node_free(n);
        }
        kn_tensor_free(x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_all_codes),
        cmocka_unit_test(test_decode_documented_limits),
        cmocka_unit_test(test_encode_against_search),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_encode_nan_inf_rules),
        cmocka_unit_test(test_encode_ties_to_even),
        cmocka_unit_test(test_e8m0),
        cmocka_unit_test(test_int_wrap),
        cmocka_unit_test(test_pack_unpack),
        cmocka_unit_test(test_dtype_facts),
        cmocka_unit_test(test_ops_move_or_refuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
