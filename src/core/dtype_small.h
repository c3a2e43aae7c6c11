/* The narrow element types of ONNX 1.15+: float8 (e4m3fn, e4m3fnuz, e5m2,
 * e5m2fnuz, e8m0), float4e2m1, and the 4-bit and 2-bit integers.
 *
 * In memory kiln keeps every one of them unpacked, one element per byte:
 * float8 / float4 as their bit code (float4 in the low nibble), int4 / int2
 * as a sign-extended int8, uint4 / uint2 as a uint8. Only TensorProto data
 * is packed (two 4-bit or four 2-bit elements per byte, first element in the
 * lowest bits); kn_small_unpack / kn_small_pack convert at the file edge. */
#ifndef KN_DTYPE_SMALL_H
#define KN_DTYPE_SMALL_H

#include "core/core.h"

/* Any of the types above. */
bool kn_dtype_is_small(kiln_dtype dt);
/* float8 (all five) and float4e2m1. */
bool kn_dtype_is_small_float(kiln_dtype dt);
/* int4, uint4, int2, uint2. */
bool kn_dtype_is_small_int(kiln_dtype dt);

/* Bits one element takes in a TensorProto: 4, 2, or 8 for float8 (and 0
 * for types that are not small). */
int kn_dtype_packed_bits(kiln_dtype dt);
/* Bytes count elements of dt take packed (count itself for float8). */
size_t kn_small_packed_bytes(kiln_dtype dt, size_t count);
/* packed (kn_small_packed_bytes(dt, count) bytes) -> count unpacked bytes,
 * and back; padding bits of the last packed byte are written as zero. */
void kn_small_unpack(kiln_dtype dt, const uint8_t *packed, size_t count, uint8_t *out);
void kn_small_pack(kiln_dtype dt, const uint8_t *unpacked, size_t count, uint8_t *packed);

/* Range of the integer types (int4 [-8, 7], uint2 [0, 3], ...). */
void kn_small_int_range(kiln_dtype dt, int32_t *lo, int32_t *hi);
/* v modulo 2^bits in the type's range (two's complement for the signed
 * ones): what a cast to the type keeps. */
int32_t kn_small_int_wrap(kiln_dtype dt, int64_t v);

/* The exact value of a float8 / float4 code (NaN for NaN codes). */
float kn_small_to_float(kiln_dtype dt, uint8_t code);

/* float -> float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz) or float4e2m1, rounding
 * to nearest even. saturate (the ONNX Cast attribute): values beyond the
 * largest finite one, infinities included, become +-max; otherwise they
 * become inf (e5m2) or NaN (the rest). float4e2m1 has neither, so it always
 * saturates, and NaN becomes code 0x8 (as the ONNX reference, ml_dtypes,
 * does). e8m0 is converted with round mode "up". */
uint8_t kn_float_to_small(kiln_dtype dt, float f, bool saturate);

/* float8e8m0: a power of two 2^(code - 127), 0xFF is NaN; no sign, no zero.
 * The Cast attribute round_mode picks how the float's mantissa rounds the
 * exponent; saturate keeps 2^127 from rounding up into NaN. */
typedef enum kn_e8m0_round { KN_E8M0_UP, KN_E8M0_DOWN, KN_E8M0_NEAREST } kn_e8m0_round;
uint8_t kn_float_to_e8m0(float f, bool saturate, kn_e8m0_round mode);

#endif
