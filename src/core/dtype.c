/* Element type facts and scalar conversions. */
#include "core/core.h"
#include "core/dtype_small.h"

#include <math.h>
#include <string.h>

KILN_API size_t kiln_dtype_size(kiln_dtype dtype)
{
    switch (dtype) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_INT32: case KILN_DTYPE_UINT32: return 4;
    case KILN_DTYPE_UINT8: case KILN_DTYPE_INT8: case KILN_DTYPE_BOOL: return 1;
    /* unpacked in memory: one byte per element, see kiln.h */
    case KILN_DTYPE_FLOAT8E4M3FN: case KILN_DTYPE_FLOAT8E4M3FNUZ: case KILN_DTYPE_FLOAT8E5M2:
    case KILN_DTYPE_FLOAT8E5M2FNUZ: case KILN_DTYPE_UINT4: case KILN_DTYPE_INT4: case KILN_DTYPE_FLOAT4E2M1:
    case KILN_DTYPE_FLOAT8E8M0: case KILN_DTYPE_UINT2: case KILN_DTYPE_INT2: return 1;
    case KILN_DTYPE_UINT16: case KILN_DTYPE_INT16: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: return 2;
    case KILN_DTYPE_INT64: case KILN_DTYPE_UINT64: case KILN_DTYPE_DOUBLE: case KILN_DTYPE_COMPLEX64: return 8;
    case KILN_DTYPE_COMPLEX128: return 16;
    case KILN_DTYPE_STRING: case KILN_DTYPE_UNDEFINED: return 0;
    }
    return 0;
}

KILN_API const char *kiln_dtype_name(kiln_dtype dtype)
{
    switch (dtype) {
    case KILN_DTYPE_UNDEFINED: return "undefined";
    case KILN_DTYPE_FLOAT: return "float32";
    case KILN_DTYPE_UINT8: return "uint8";
    case KILN_DTYPE_INT8: return "int8";
    case KILN_DTYPE_UINT16: return "uint16";
    case KILN_DTYPE_INT16: return "int16";
    case KILN_DTYPE_INT32: return "int32";
    case KILN_DTYPE_INT64: return "int64";
    case KILN_DTYPE_STRING: return "string";
    case KILN_DTYPE_BOOL: return "bool";
    case KILN_DTYPE_FLOAT16: return "float16";
    case KILN_DTYPE_DOUBLE: return "float64";
    case KILN_DTYPE_UINT32: return "uint32";
    case KILN_DTYPE_UINT64: return "uint64";
    case KILN_DTYPE_COMPLEX64: return "complex64";
    case KILN_DTYPE_COMPLEX128: return "complex128";
    case KILN_DTYPE_BFLOAT16: return "bfloat16";
    case KILN_DTYPE_FLOAT8E4M3FN: return "float8e4m3fn";
    case KILN_DTYPE_FLOAT8E4M3FNUZ: return "float8e4m3fnuz";
    case KILN_DTYPE_FLOAT8E5M2: return "float8e5m2";
    case KILN_DTYPE_FLOAT8E5M2FNUZ: return "float8e5m2fnuz";
    case KILN_DTYPE_UINT4: return "uint4";
    case KILN_DTYPE_INT4: return "int4";
    case KILN_DTYPE_FLOAT4E2M1: return "float4e2m1";
    case KILN_DTYPE_FLOAT8E8M0: return "float8e8m0";
    case KILN_DTYPE_UINT2: return "uint2";
    case KILN_DTYPE_INT2: return "int2";
    }
    /* internal kinds, named in error messages */
    if (dtype == KN_DTYPE_SEQUENCE)
        return "sequence";
    if (dtype == KN_DTYPE_OPTIONAL)
        return "optional";
    return "unknown";
}

bool kn_dtype_known(kiln_dtype dtype)
{
    return dtype >= KILN_DTYPE_FLOAT && dtype <= KILN_DTYPE_INT2;
}

bool kn_dtype_bytes(kiln_dtype dtype, int64_t count, size_t *bytes)
{
    if (count < 0)
        return false;
    size_t es = dtype == KILN_DTYPE_STRING ? sizeof(char *) : kiln_dtype_size(dtype);
    if (kn_dtype_is_container(dtype)) /* the one element is the kn_list */
        es = sizeof(kn_list);
    if (es == 0)
        return false;
    return kn_mul_size((size_t)count, es, bytes);
}

float kn_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            /* subnormal: renormalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t kn_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* below smallest normal half: subnormal or zero */
        float a;
        memcpy(&a, &absx, 4);
        /* scale so the subnormal unit is 1, round to nearest even */
        float scaled = a * 16777216.0f; /* 2^24 */
        uint32_t m = (uint32_t)nearbyintf(scaled);
        return (uint16_t)(sign | m);
    }
    uint32_t exp = ((absx >> 23) - 112) << 10;
    uint32_t man = (absx >> 13) & 0x3ff;
    uint32_t rest = absx & 0x1fff;
    uint32_t h = exp | man;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

float kn_bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t kn_float_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    uint32_t lsb = (x >> 16) & 1;
    x += 0x7fff + lsb;
    return (uint16_t)(x >> 16);
}

double kn_tensor_get_f64(const kiln_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case KILN_DTYPE_FLOAT: return ((const float *)d)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)d)[i];
    case KILN_DTYPE_FLOAT16: return kn_half_to_float(((const uint16_t *)d)[i]);
    case KILN_DTYPE_BFLOAT16: return kn_bf16_to_float(((const uint16_t *)d)[i]);
    case KILN_DTYPE_INT8: return ((const int8_t *)d)[i];
    case KILN_DTYPE_UINT8: return ((const uint8_t *)d)[i];
    case KILN_DTYPE_BOOL: return ((const uint8_t *)d)[i] != 0;
    case KILN_DTYPE_INT16: return ((const int16_t *)d)[i];
    case KILN_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)d)[i];
    case KILN_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case KILN_DTYPE_INT64: return (double)((const int64_t *)d)[i];
    case KILN_DTYPE_UINT64: return (double)((const uint64_t *)d)[i];
    case KILN_DTYPE_INT4: case KILN_DTYPE_INT2: return ((const int8_t *)d)[i];
    case KILN_DTYPE_UINT4: case KILN_DTYPE_UINT2: return ((const uint8_t *)d)[i];
    default:
        if (kn_dtype_is_small_float(t->dtype))
            return kn_small_to_float(t->dtype, ((const uint8_t *)d)[i]);
        return 0.0;
    }
}

int64_t kn_tensor_get_i64(const kiln_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case KILN_DTYPE_INT64: return ((const int64_t *)d)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)d)[i];
    case KILN_DTYPE_UINT64: return (int64_t)((const uint64_t *)d)[i];
    default: {
        double v = kn_tensor_get_f64(t, i);
        if (v != v)
            return 0;
        if (v >= 9.2e18)
            return INT64_MAX;
        if (v <= -9.2e18)
            return INT64_MIN;
        return (int64_t)v;
    }
    }
}

void kn_tensor_set_f64(kiln_tensor *t, int64_t i, double v)
{
    void *d = t->data;
    switch (t->dtype) {
    case KILN_DTYPE_FLOAT: ((float *)d)[i] = (float)v; break;
    case KILN_DTYPE_DOUBLE: ((double *)d)[i] = v; break;
    case KILN_DTYPE_FLOAT16: ((uint16_t *)d)[i] = kn_float_to_half((float)v); break;
    case KILN_DTYPE_BFLOAT16: ((uint16_t *)d)[i] = kn_float_to_bf16((float)v); break;
    case KILN_DTYPE_INT8: ((int8_t *)d)[i] = (int8_t)v; break;
    case KILN_DTYPE_UINT8: ((uint8_t *)d)[i] = (uint8_t)v; break;
    case KILN_DTYPE_BOOL: ((uint8_t *)d)[i] = v != 0.0; break;
    case KILN_DTYPE_INT16: ((int16_t *)d)[i] = (int16_t)v; break;
    case KILN_DTYPE_UINT16: ((uint16_t *)d)[i] = (uint16_t)v; break;
    case KILN_DTYPE_INT32: ((int32_t *)d)[i] = (int32_t)v; break;
    case KILN_DTYPE_UINT32: ((uint32_t *)d)[i] = (uint32_t)v; break;
    case KILN_DTYPE_INT64: ((int64_t *)d)[i] = (int64_t)v; break;
    case KILN_DTYPE_UINT64: ((uint64_t *)d)[i] = (uint64_t)v; break;
    case KILN_DTYPE_INT4: case KILN_DTYPE_INT2: case KILN_DTYPE_UINT4: case KILN_DTYPE_UINT2:
        ((uint8_t *)d)[i] = (uint8_t)kn_small_int_wrap(t->dtype, isfinite(v) && fabs(v) < 9e18 ? (int64_t)v : 0);
        break;
    default:
        if (kn_dtype_is_small_float(t->dtype)) /* saturating, ONNX's default */
            ((uint8_t *)d)[i] = kn_float_to_small(t->dtype, (float)v, true);
        break;
    }
}
