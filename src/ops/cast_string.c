/* Numbers <-> text for Cast to and from STRING (see cast_string.h). */
#include "ops/cast_string.h"

#include "core/dtype_small.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double float_value(kiln_dtype dt, const void *data, int64_t i)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: return ((const float *)data)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)data)[i];
    case KILN_DTYPE_FLOAT16: return kn_half_to_float(((const uint16_t *)data)[i]);
    case KILN_DTYPE_BFLOAT16: return kn_bf16_to_float(((const uint16_t *)data)[i]);
    default: return kn_small_to_float(dt, ((const uint8_t *)data)[i]);
    }
}

/* Does the decimal d denote element i again once rounded to dt? */
static bool reads_back(kiln_dtype dt, double d, const void *data, int64_t i)
{
    switch (dt) {
    case KILN_DTYPE_DOUBLE: return d == ((const double *)data)[i];
    case KILN_DTYPE_FLOAT16: return kn_float_to_half((float)d) == ((const uint16_t *)data)[i];
    case KILN_DTYPE_BFLOAT16: return kn_float_to_bf16((float)d) == ((const uint16_t *)data)[i];
    /* float and the narrow floats, whose exact values float holds: digits
     * of the value itself rather than of some nearby decimal that happens
     * to round to the same 8-bit code */
    default: return (float)d == (float)float_value(dt, data, i);
    }
}

static void format_float(kiln_dtype dt, const void *data, int64_t i, char *buf, size_t size)
{
    double v = float_value(dt, data, i);
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v < 0 ? "-inf" : "inf");
        return;
    }
    if (v == 0) {
        snprintf(buf, size, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* fewest significant digits that read back as the same value */
    char sci[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(sci, sizeof sci, "%.*e", p - 1, v);
        if (reads_back(dt, strtod(sci, NULL), data, i))
            break;
    }
    /* sci is [-]d[.ddd]e[+-]xx: split into digits and exponent */
    bool neg = sci[0] == '-';
    char digits[24];
    size_t nd = 0;
    const char *p = sci + (neg ? 1 : 0);
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p) && nd + 1 < sizeof digits)
            digits[nd++] = *p;
    int exp10 = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    /* at most 1 + 17 digits + 16 zeros + ".0" + exponent: fits 64 */
    char out[64];
    size_t used = 0;
#define PUT(...) (used += (size_t)snprintf(out + used, used < sizeof out ? sizeof out - used : 0, __VA_ARGS__))
    if (neg)
        PUT("-");
    double a = fabs(v);
    if (a >= 1e-4 && a < 1e16) {
        if (exp10 >= 0) {
            for (int k = 0; k <= exp10; k++)
                PUT("%c", (size_t)k < nd ? digits[k] : '0');
            PUT(".");
            if ((size_t)exp10 + 1 < nd)
                PUT("%s", digits + exp10 + 1);
            else
                PUT("0");
        } else {
            PUT("0.");
            for (int k = 0; k < -exp10 - 1; k++)
                PUT("0");
            PUT("%s", digits);
        }
    } else {
        PUT("%c", digits[0]);
        if (nd > 1)
            PUT(".%s", digits + 1);
        PUT("e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
#undef PUT
    snprintf(buf, size, "%s", out);
}

void kn_cast_format(kiln_dtype dt, const void *data, int64_t i, char *buf, size_t size)
{
    switch (dt) {
    case KILN_DTYPE_BOOL: snprintf(buf, size, "%s", ((const uint8_t *)data)[i] ? "True" : "False"); return;
    case KILN_DTYPE_INT8: case KILN_DTYPE_INT4: case KILN_DTYPE_INT2:
        snprintf(buf, size, "%d", ((const int8_t *)data)[i]);
        return;
    case KILN_DTYPE_UINT8: case KILN_DTYPE_UINT4: case KILN_DTYPE_UINT2:
        snprintf(buf, size, "%u", ((const uint8_t *)data)[i]);
        return;
    case KILN_DTYPE_INT16: snprintf(buf, size, "%d", ((const int16_t *)data)[i]); return;
    case KILN_DTYPE_UINT16: snprintf(buf, size, "%u", ((const uint16_t *)data)[i]); return;
    case KILN_DTYPE_INT32: snprintf(buf, size, "%d", ((const int32_t *)data)[i]); return;
    case KILN_DTYPE_UINT32: snprintf(buf, size, "%u", ((const uint32_t *)data)[i]); return;
    case KILN_DTYPE_INT64: snprintf(buf, size, "%lld", (long long)((const int64_t *)data)[i]); return;
    case KILN_DTYPE_UINT64: snprintf(buf, size, "%llu", (unsigned long long)((const uint64_t *)data)[i]); return;
    default: format_float(dt, data, i, buf, size); return;
    }
}

bool kn_cast_parse(const char *s, double *value, int64_t *as_int, bool *is_int)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s)
        return false;
    const char *rest = end;
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest)
        return false;
    *value = d;
    *is_int = false;
    /* plain integers keep all 64 bits (a double holds 53) */
    const char *q = s + (*s == '+' || *s == '-');
    bool all_digits = isdigit((unsigned char)*q) != 0;
    for (; q < end && all_digits; q++)
        all_digits = isdigit((unsigned char)*q) != 0;
    if (all_digits) {
        errno = 0;
        long long ll = strtoll(s, NULL, 10);
        if (errno == 0) {
            *as_int = ll;
            *is_int = true;
        }
    }
    return true;
}
