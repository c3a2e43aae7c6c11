/* Narrow element types: codes <-> float, integer wrapping, packing. The
 * float formats are described by one table of (mantissa bits, bias, NaN
 * style, largest finite code) and converted by one generic routine. */
#include "core/dtype_small.h"

#include <math.h>
#include <string.h>

bool kn_dtype_is_small_float(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT8E4M3FN: case KILN_DTYPE_FLOAT8E4M3FNUZ: case KILN_DTYPE_FLOAT8E5M2:
    case KILN_DTYPE_FLOAT8E5M2FNUZ: case KILN_DTYPE_FLOAT8E8M0: case KILN_DTYPE_FLOAT4E2M1:
        return true;
    default:
        return false;
    }
}

bool kn_dtype_is_small_int(kiln_dtype dt)
{
    return dt == KILN_DTYPE_INT4 || dt == KILN_DTYPE_UINT4 || dt == KILN_DTYPE_INT2 || dt == KILN_DTYPE_UINT2;
}

bool kn_dtype_is_small(kiln_dtype dt)
{
    return kn_dtype_is_small_float(dt) || kn_dtype_is_small_int(dt);
}

int kn_dtype_packed_bits(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_INT4: case KILN_DTYPE_UINT4: case KILN_DTYPE_FLOAT4E2M1: return 4;
    case KILN_DTYPE_INT2: case KILN_DTYPE_UINT2: return 2;
    default: return kn_dtype_is_small(dt) ? 8 : 0;
    }
}

size_t kn_small_packed_bytes(kiln_dtype dt, size_t count)
{
    int bits = kn_dtype_packed_bits(dt);
    if (bits == 4)
        return count / 2 + count % 2;
    if (bits == 2)
        return count / 4 + (count % 4 != 0);
    return count;
}

static uint8_t sign_extend(unsigned v, int bits)
{
    unsigned m = 1u << (bits - 1);
    return (uint8_t)(int8_t)((int)(v ^ m) - (int)m);
}

void kn_small_unpack(kiln_dtype dt, const uint8_t *packed, size_t count, uint8_t *out)
{
    int bits = kn_dtype_packed_bits(dt);
    if (bits == 8 || bits == 0) {
        if (count)
            memcpy(out, packed, count);
        return;
    }
    bool is_signed = dt == KILN_DTYPE_INT4 || dt == KILN_DTYPE_INT2;
    unsigned per = 8u / (unsigned)bits, mask = (1u << bits) - 1;
    for (size_t i = 0; i < count; i++) {
        unsigned v = (packed[i / per] >> ((i % per) * (unsigned)bits)) & mask;
        out[i] = is_signed ? sign_extend(v, bits) : (uint8_t)v;
    }
}

void kn_small_pack(kiln_dtype dt, const uint8_t *unpacked, size_t count, uint8_t *packed)
{
    int bits = kn_dtype_packed_bits(dt);
    if (bits == 8 || bits == 0) {
        if (count)
            memcpy(packed, unpacked, count);
        return;
    }
    unsigned per = 8u / (unsigned)bits, mask = (1u << bits) - 1;
    size_t nbytes = kn_small_packed_bytes(dt, count);
    memset(packed, 0, nbytes);
    for (size_t i = 0; i < count; i++)
        packed[i / per] |= (uint8_t)((unpacked[i] & mask) << ((i % per) * (unsigned)bits));
}

void kn_small_int_range(kiln_dtype dt, int32_t *lo, int32_t *hi)
{
    switch (dt) {
    case KILN_DTYPE_INT4: *lo = -8, *hi = 7; break;
    case KILN_DTYPE_UINT4: *lo = 0, *hi = 15; break;
    case KILN_DTYPE_INT2: *lo = -2, *hi = 1; break;
    case KILN_DTYPE_UINT2: *lo = 0, *hi = 3; break;
    default: *lo = 0, *hi = 0; break;
    }
}

int32_t kn_small_int_wrap(kiln_dtype dt, int64_t v)
{
    int bits = kn_dtype_packed_bits(dt);
    unsigned low = (unsigned)((uint64_t)v & ((1u << bits) - 1));
    if (dt == KILN_DTYPE_INT4 || dt == KILN_DTYPE_INT2)
        return (int8_t)sign_extend(low, bits);
    return (int32_t)low;
}

/* ---- float formats --------------------------------------------------------- */

typedef enum nan_style {
    NAN_IEEE, /* e5m2: exponent all ones is inf (mantissa 0) or NaN */
    NAN_FN,   /* e4m3fn: only S.1111.111 is NaN, no inf */
    NAN_UZ,   /* *fnuz: 0x80 (negative zero's code) is the one NaN, no -0 */
    NAN_NONE  /* float4e2m1: no NaN, no inf */
} nan_style;

typedef struct mini_format {
    int man_bits, exp_bits, bias;
    nan_style nan;
    uint8_t max_code; /* largest finite magnitude */
} mini_format;

static bool format_of(kiln_dtype dt, mini_format *f)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT8E4M3FN: *f = (mini_format){3, 4, 7, NAN_FN, 0x7e}; return true;
    case KILN_DTYPE_FLOAT8E4M3FNUZ: *f = (mini_format){3, 4, 8, NAN_UZ, 0x7f}; return true;
    case KILN_DTYPE_FLOAT8E5M2: *f = (mini_format){2, 5, 15, NAN_IEEE, 0x7b}; return true;
    case KILN_DTYPE_FLOAT8E5M2FNUZ: *f = (mini_format){2, 5, 16, NAN_UZ, 0x7f}; return true;
    case KILN_DTYPE_FLOAT4E2M1: *f = (mini_format){1, 2, 1, NAN_NONE, 0x7}; return true;
    default: return false;
    }
}

/* Value of a magnitude code (sign bit clear), specials excluded. */
static float mini_magnitude(const mini_format *f, unsigned code)
{
    unsigned exp = code >> f->man_bits, man = code & ((1u << f->man_bits) - 1);
    if (exp == 0)
        return ldexpf((float)man, 1 - f->bias - f->man_bits);
    return ldexpf((float)(man | (1u << f->man_bits)), (int)exp - f->bias - f->man_bits);
}

float kn_small_to_float(kiln_dtype dt, uint8_t code)
{
    if (dt == KILN_DTYPE_FLOAT8E8M0)
        return code == 0xFF ? NAN : ldexpf(1.0f, (int)code - 127);
    mini_format f;
    if (!format_of(dt, &f))
        return NAN;
    int total = 1 + f.exp_bits + f.man_bits;
    unsigned sign_bit = 1u << (total - 1), mag = code & (sign_bit - 1);
    bool neg = (code & sign_bit) != 0;
    unsigned exp_all = (1u << f.exp_bits) - 1;
    switch (f.nan) {
    case NAN_IEEE:
        if ((mag >> f.man_bits) == exp_all)
            return (mag & ((1u << f.man_bits) - 1)) ? NAN : (neg ? -INFINITY : INFINITY);
        break;
    case NAN_FN:
        if (mag == sign_bit - 1)
            return NAN;
        break;
    case NAN_UZ:
        if (code == sign_bit)
            return NAN;
        break;
    case NAN_NONE:
        break;
    }
    float v = mini_magnitude(&f, mag);
    return neg ? -v : v;
}

/* The code of a value already on the format's grid (0 < r <= max). */
static unsigned mini_encode_exact(const mini_format *f, float r)
{
    int e;
    frexpf(r, &e); /* r = m * 2^e, m in [0.5, 1): the unbiased exponent is e - 1 */
    int ue = e - 1;
    if (ue < 1 - f->bias)
        return (unsigned)ldexpf(r, f->bias - 1 + f->man_bits); /* subnormal: exponent field 0 */
    unsigned man = (unsigned)ldexpf(r, f->man_bits - ue) - (1u << f->man_bits);
    return ((unsigned)(ue + f->bias) << f->man_bits) | man;
}

uint8_t kn_float_to_small(kiln_dtype dt, float x, bool saturate)
{
    if (dt == KILN_DTYPE_FLOAT8E8M0)
        return kn_float_to_e8m0(x, saturate, KN_E8M0_UP);
    mini_format f;
    if (!format_of(dt, &f))
        return 0;
    int total = 1 + f.exp_bits + f.man_bits;
    unsigned sign_bit = 1u << (total - 1);
    unsigned sign = signbit(x) ? sign_bit : 0;
    unsigned nan_code = f.nan == NAN_IEEE ? sign | (sign_bit - 2) /* quiet: top mantissa bit */
                        : f.nan == NAN_FN ? sign | (sign_bit - 1)
                                          : sign_bit; /* UZ; and float4's stand-in, -0 */
    if (isnan(x))
        return (uint8_t)nan_code;
    /* what is left beyond the largest finite value */
    unsigned overflow = saturate || f.nan == NAN_NONE ? sign | f.max_code
                        : f.nan == NAN_IEEE           ? sign | (((1u << f.exp_bits) - 1) << f.man_bits)
                                                      : nan_code;
    if (isinf(x))
        return (uint8_t)overflow;
    float a = fabsf(x);
    float r = 0.0f;
    if (a != 0.0f) {
        /* round on the grid of a's binade (the subnormal grid below the
         * smallest normal); nearbyintf rounds half to even */
        int e;
        frexpf(a, &e);
        int ue = KN_MAX(e - 1, 1 - f.bias);
        int q = ue - f.man_bits;
        r = ldexpf(nearbyintf(ldexpf(a, -q)), q);
    }
    if (r == 0.0f)
        return (uint8_t)(f.nan == NAN_UZ ? 0 : sign);
    if (r > mini_magnitude(&f, f.max_code))
        return (uint8_t)overflow;
    return (uint8_t)(sign | mini_encode_exact(&f, r));
}

uint8_t kn_float_to_e8m0(float x, bool saturate, kn_e8m0_round mode)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    unsigned exp = (bits >> 23) & 0xFF, frac = bits & 0x7FFFFF;
    if (exp == 0xFF)
        return 0xFF; /* NaN and inf */
    bool up = false;
    switch (mode) {
    case KN_E8M0_UP:
        up = frac != 0;
        break;
    case KN_E8M0_DOWN:
        break;
    case KN_E8M0_NEAREST: {
        /* the ONNX reference's guard / round / sticky rule; normal numbers
         * carry an implicit 1 as the kept lowest bit, so their ties go up */
        bool g = (frac & 0x400000) != 0, r = (frac & 0x200000) != 0, s = (frac & 0x1FFFFF) != 0;
        up = g && (r || s || exp > 0);
        break;
    }
    }
    if (up && saturate && exp == 0xFE)
        up = false;
    return (uint8_t)(exp + (up ? 1 : 0));
}
