/* Shared helpers of the kiln command line; see cli_util.h. */
#include "cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- errors ------------------------------------------------------------ */

int cli_fail(const char *what_fmt, ...)
{
    va_list ap;
    va_start(ap, what_fmt);
    fputs("kiln: ", stderr);
    vfprintf(stderr, what_fmt, ap);
    va_end(ap);
    const char *msg = kiln_last_error();
    fprintf(stderr, ": %s\n", msg && *msg ? msg : "unknown error");
    return CLI_EXIT_FAIL;
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kiln: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kiln: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd)
        fprintf(stderr, "Try 'kiln %s --help'.\n", cmd);
    else
        fputs("Try 'kiln --help'.\n", stderr);
    return CLI_EXIT_USAGE;
}

/* ---- argument scanning ------------------------------------------------- */

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->argc = argc;
    p->argv = argv;
    p->cmd = cmd;
}

cli_arg_kind cli_next(cli_parser *p, const char **text)
{
    p->inline_value = NULL;
    while (p->pos < p->argc) {
        const char *a = p->argv[p->pos++];
        if (p->options_done || a[0] != '-' || a[1] == 0) {
            *text = a;
            return CLI_ARG_POSITIONAL;
        }
        if (strcmp(a, "--") == 0) {
            p->options_done = true;
            continue;
        }
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        if (eq) {
            size_t n = (size_t)(eq - a);
            if (n >= sizeof p->name_buf)
                n = sizeof p->name_buf - 1;
            memcpy(p->name_buf, a, n);
            p->name_buf[n] = 0;
            p->inline_value = eq + 1;
            *text = p->name_buf;
        } else {
            *text = a;
        }
        return CLI_ARG_OPTION;
    }
    return CLI_ARG_END;
}

bool cli_option_value(cli_parser *p, const char *option, const char **value)
{
    if (p->inline_value) {
        *value = p->inline_value;
        p->inline_value = NULL;
        return true;
    }
    if (p->pos >= p->argc) {
        cli_usage_error(p->cmd, "option %s needs a value", option);
        return false;
    }
    *value = p->argv[p->pos++];
    return true;
}

bool cli_option_no_value(cli_parser *p, const char *option)
{
    if (p->inline_value) {
        cli_usage_error(p->cmd, "option %s takes no value", option);
        return false;
    }
    return true;
}

bool cli_parse_int(const char *cmd, const char *option, const char *text, int64_t min, int64_t max,
                   int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno == ERANGE || v < min || v > max) {
        cli_usage_error(cmd, "%s: '%s' is not an integer in %lld..%lld", option, text, (long long)min,
                        (long long)max);
        return false;
    }
    *out = (int64_t)v;
    return true;
}

bool cli_parse_isa(const char *cmd, const char *option, const char *text, kiln_isa *out)
{
    static const struct {
        const char *name;
        kiln_isa isa;
    } names[] = {{"auto", KILN_ISA_AUTO}, {"generic", KILN_ISA_GENERIC}, {"avx2", KILN_ISA_AVX2},
                 {"avx512", KILN_ISA_AVX512}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].isa;
            return true;
        }
    cli_usage_error(cmd, "%s: '%s' is not one of auto, generic, avx2, avx512", option, text);
    return false;
}

bool cli_parse_nonneg_double(const char *cmd, const char *option, const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno == ERANGE || !isfinite(v) || v < 0) {
        cli_usage_error(cmd, "%s: '%s' is not a non-negative number", option, text);
        return false;
    }
    *out = v;
    return true;
}

/* ---- formatting -------------------------------------------------------- */

/* snprintf that keeps appending at *used and never overruns. */
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
    if (*used >= size)
        *used = size;
}

const char *cli_format_info_type(const kiln_value_info *info, char *buf, size_t size)
{
    size_t used = 0;
    append(buf, size, &used, "%s[", kiln_dtype_name(info->dtype));
    if (info->rank < 0) {
        append(buf, size, &used, "...]");
        return buf;
    }
    for (int64_t d = 0; d < info->rank; d++) {
        const char *sep = d ? "," : "";
        if (info->dims && info->dims[d] >= 0)
            append(buf, size, &used, "%s%lld", sep, (long long)info->dims[d]);
        else if (info->dim_names && info->dim_names[d])
            append(buf, size, &used, "%s%s", sep, info->dim_names[d]);
        else
            append(buf, size, &used, "%s?", sep);
    }
    append(buf, size, &used, "]");
    return buf;
}

const char *cli_format_tensor_type(const kiln_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    size_t rank = kiln_tensor_rank(t);
    const int64_t *dims = kiln_tensor_dims(t);
    append(buf, size, &used, "%s[", kiln_dtype_name(kiln_tensor_dtype(t)));
    for (size_t d = 0; d < rank; d++)
        append(buf, size, &used, "%s%lld", d ? "," : "", (long long)dims[d]);
    append(buf, size, &used, "]");
    return buf;
}

const char *cli_format_index(size_t rank, const int64_t *dims, int64_t flat, char *buf, size_t size)
{
    int64_t idx[64];
    if (rank > 64)
        rank = 64;
    for (size_t d = rank; d-- > 0;) {
        int64_t n = dims[d] > 0 ? dims[d] : 1;
        idx[d] = flat % n;
        flat /= n;
    }
    size_t used = 0;
    append(buf, size, &used, "[");
    for (size_t d = 0; d < rank; d++)
        append(buf, size, &used, "%s%lld", d ? "," : "", (long long)idx[d]);
    append(buf, size, &used, "]");
    return buf;
}

const char *cli_format_bytes(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%.0f B", bytes);
    else
        snprintf(buf, size, "%.1f %s", bytes, units[u]);
    return buf;
}

const char *cli_format_count(double count, char *buf, size_t size)
{
    static const char *const units[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (count >= 1000 && u < 4) {
        count /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%.0f", count);
    else
        snprintf(buf, size, "%.1f %s", count, units[u]);
    return buf;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    unsigned cp = c & (0x3Fu >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            p++;
        } else if (c == '\n') {
            fputs("\\n", f);
            p++;
        } else if (c == '\t') {
            fputs("\\t", f);
            p++;
        } else if (c == '\r') {
            fputs("\\r", f);
            p++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(f, "\\u%04x", c);
            p++;
        } else {
            size_t n = utf8_sequence(p);
            if (n == 0) {
                fputs("\\ufffd", f);
                p++;
            } else {
                fwrite(p, 1, n, f);
                p += n;
            }
        }
    }
    fputc('"', f);
}

void cli_sanitize_name(const char *name, const char *fallback, char *buf, size_t size)
{
    if (size == 0)
        return;
    if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        snprintf(buf, size, "%s", fallback);
        return;
    }
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++) {
        char c = name[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
        buf[i] = keep ? c : '_';
    }
    buf[i] = 0;
}

/* ---- elements ---------------------------------------------------------- */

bool cli_dtype_is_narrow_float(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT8E4M3FN: case KILN_DTYPE_FLOAT8E4M3FNUZ: case KILN_DTYPE_FLOAT8E5M2:
    case KILN_DTYPE_FLOAT8E5M2FNUZ: case KILN_DTYPE_FLOAT8E8M0: case KILN_DTYPE_FLOAT4E2M1:
        return true;
    default:
        return false;
    }
}

bool cli_dtype_is_float(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 ||
           dt == KILN_DTYPE_BFLOAT16 || cli_dtype_is_narrow_float(dt);
}

bool cli_dtype_is_integer(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_INT8: case KILN_DTYPE_UINT8: case KILN_DTYPE_INT16: case KILN_DTYPE_UINT16:
    case KILN_DTYPE_INT32: case KILN_DTYPE_UINT32: case KILN_DTYPE_INT64: case KILN_DTYPE_UINT64:
    case KILN_DTYPE_INT4: case KILN_DTYPE_UINT4: case KILN_DTYPE_INT2: case KILN_DTYPE_UINT2:
        return true;
    default:
        return false;
    }
}

bool cli_dtype_is_complex(kiln_dtype dt)
{
    return dt == KILN_DTYPE_COMPLEX64 || dt == KILN_DTYPE_COMPLEX128;
}

float cli_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    float mag;
    if (exp == 0)
        mag = ldexpf((float)mant, -24);
    else if (exp == 31)
        mag = mant ? NAN : INFINITY;
    else
        mag = ldexpf((float)(mant | 0x400), (int)exp - 25);
    return sign ? -mag : mag;
}

uint16_t cli_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    float a = fabsf(f);
    if (isnan(f))
        return (uint16_t)(sign | 0x7E00);
    if (a >= 65520.0f)
        return (uint16_t)(sign | 0x7C00);
    if (a < ldexpf(1.0f, -14)) {
        /* subnormal: a multiple of 2^-24, rounded to nearest even by rintf */
        return (uint16_t)(sign | (uint16_t)rintf(a * ldexpf(1.0f, 24)));
    }
    int e;
    float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    uint32_t mant = (uint32_t)rintf(ldexpf(m, 11)); /* 11 significant bits */
    if (mant == 2048) {
        mant = 1024;
        e++;
    }
    uint32_t exp = (uint32_t)(e - 1 + 15);
    if (exp >= 31)
        return (uint16_t)(sign | 0x7C00);
    return (uint16_t)(sign | (exp << 10) | (mant & 0x3FF));
}

static float bf16_to_float(uint16_t b)
{
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* Value of a float8 / float4 code, from the formats' definitions (ONNX
 * docs: float8.md, float4.md): exponent bits, mantissa bits, bias. */
static double narrow_float(kiln_dtype dt, unsigned c)
{
    int eb, mb, bias;
    switch (dt) {
    case KILN_DTYPE_FLOAT8E8M0: return c == 0xFF ? NAN : ldexp(1.0, (int)c - 127);
    case KILN_DTYPE_FLOAT8E4M3FN: eb = 4, mb = 3, bias = 7; break;
    case KILN_DTYPE_FLOAT8E4M3FNUZ: eb = 4, mb = 3, bias = 8; break;
    case KILN_DTYPE_FLOAT8E5M2: eb = 5, mb = 2, bias = 15; break;
    case KILN_DTYPE_FLOAT8E5M2FNUZ: eb = 5, mb = 2, bias = 16; break;
    case KILN_DTYPE_FLOAT4E2M1: eb = 2, mb = 1, bias = 1; break;
    default: return NAN;
    }
    unsigned sign = 1u << (eb + mb), mag = c & (sign - 1);
    unsigned exp = mag >> mb, man = mag & ((1u << mb) - 1), exp_max = (1u << eb) - 1;
    bool uz = dt == KILN_DTYPE_FLOAT8E4M3FNUZ || dt == KILN_DTYPE_FLOAT8E5M2FNUZ;
    if (uz && c == sign)
        return NAN;
    if (dt == KILN_DTYPE_FLOAT8E4M3FN && mag == sign - 1)
        return NAN;
    if (dt == KILN_DTYPE_FLOAT8E5M2 && exp == exp_max)
        return man ? NAN : (c & sign) ? -INFINITY : INFINITY;
    double v = exp ? ldexp((double)(man | (1u << mb)), (int)exp - bias - mb) : ldexp((double)man, 1 - bias - mb);
    return (c & sign) ? -v : v;
}

double cli_element_double(kiln_dtype dt, const void *data, int64_t i)
{
    if (cli_dtype_is_narrow_float(dt))
        return narrow_float(dt, ((const uint8_t *)data)[i]);
    switch (dt) {
    case KILN_DTYPE_FLOAT: return ((const float *)data)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)data)[i];
    case KILN_DTYPE_FLOAT16: return cli_half_to_float(((const uint16_t *)data)[i]);
    case KILN_DTYPE_BFLOAT16: return bf16_to_float(((const uint16_t *)data)[i]);
    case KILN_DTYPE_INT8: return ((const int8_t *)data)[i];
    case KILN_DTYPE_UINT8: return ((const uint8_t *)data)[i];
    case KILN_DTYPE_INT16: return ((const int16_t *)data)[i];
    case KILN_DTYPE_UINT16: return ((const uint16_t *)data)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)data)[i];
    case KILN_DTYPE_UINT32: return ((const uint32_t *)data)[i];
    case KILN_DTYPE_INT64: return (double)((const int64_t *)data)[i];
    case KILN_DTYPE_UINT64: return (double)((const uint64_t *)data)[i];
    case KILN_DTYPE_BOOL: return ((const uint8_t *)data)[i] ? 1.0 : 0.0;
    /* kiln keeps 4-bit and 2-bit integers unpacked, one byte each */
    case KILN_DTYPE_INT4: case KILN_DTYPE_INT2: return ((const int8_t *)data)[i];
    case KILN_DTYPE_UINT4: case KILN_DTYPE_UINT2: return ((const uint8_t *)data)[i];
    default: return NAN;
    }
}

/* ---- comparison -------------------------------------------------------- */

/* Real and imaginary parts as parallel scalars: complex64 is float pairs. */
static double component(kiln_dtype dt, const void *data, int64_t i)
{
    if (dt == KILN_DTYPE_COMPLEX64)
        return ((const float *)data)[i];
    if (dt == KILN_DTYPE_COMPLEX128)
        return ((const double *)data)[i];
    return cli_element_double(dt, data, i);
}

static bool close_enough(double got, double exp, double rtol, double atol)
{
    if (isnan(exp) || isnan(got))
        return isnan(exp) && isnan(got);
    if (isinf(exp) || isinf(got))
        return got == exp;
    return fabs(got - exp) <= atol + rtol * fabs(exp);
}

/* Bit-exact comparison of integer element i (two's complement or unsigned). */
static bool int_equal(kiln_dtype dt, const void *a, const void *b, int64_t i)
{
    size_t es = kiln_dtype_size(dt);
    if (dt == KILN_DTYPE_BOOL)
        return (((const uint8_t *)a)[i] != 0) == (((const uint8_t *)b)[i] != 0);
    return memcmp((const char *)a + (size_t)i * es, (const char *)b + (size_t)i * es, es) == 0;
}

/* The shortest decimal that reads back as the same value of dtype, so
 * float32 3.03 prints as "3.03" rather than "3.02999997". */
static void format_real(kiln_dtype dt, double v, char *buf, size_t size)
{
    bool single = dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_COMPLEX128;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (single ? (float)back == (float)v : back == v)
            return;
    }
}

static void format_int(kiln_dtype dt, const void *data, int64_t i, char *buf, size_t size)
{
    if (dt == KILN_DTYPE_INT64)
        snprintf(buf, size, "%lld", (long long)((const int64_t *)data)[i]);
    else if (dt == KILN_DTYPE_UINT64)
        snprintf(buf, size, "%llu", (unsigned long long)((const uint64_t *)data)[i]);
    else if (dt == KILN_DTYPE_BOOL)
        snprintf(buf, size, "%s", ((const uint8_t *)data)[i] ? "true" : "false");
    else
        snprintf(buf, size, "%.0f", cli_element_double(dt, data, i));
}

static void compare_strings(const kiln_tensor *got, const kiln_tensor *exp, int64_t n, cli_compare_result *r)
{
    /* kiln stores STRING elements as one char* each */
    const char *const *g = kiln_tensor_const_data(got);
    const char *const *e = kiln_tensor_const_data(exp);
    for (int64_t i = 0; i < n; i++) {
        const char *gs = g && g[i] ? g[i] : "";
        const char *es = e && e[i] ? e[i] : "";
        if (strcmp(gs, es) != 0) {
            if (r->mismatches++ == 0) {
                char idx[128];
                cli_format_index(kiln_tensor_rank(exp), kiln_tensor_dims(exp), i, idx, sizeof idx);
                snprintf(r->message, sizeof r->message, "element %lld %s: got \"%.80s\", expected \"%.80s\"",
                         (long long)i, idx, gs, es);
            }
        }
    }
}

static void compare_numbers(const kiln_tensor *got, const kiln_tensor *exp, int64_t n, double rtol, double atol,
                            cli_compare_result *r)
{
    kiln_dtype dt = kiln_tensor_dtype(exp);
    const void *g = kiln_tensor_const_data(got);
    const void *e = kiln_tensor_const_data(exp);
    bool exact = cli_dtype_is_integer(dt) || dt == KILN_DTYPE_BOOL;
    int64_t per = cli_dtype_is_complex(dt) ? 2 : 1;
    for (int64_t k = 0; k < n * per; k++) {
        int64_t i = k / per;
        bool ok;
        double gv = 0, ev = 0;
        if (exact) {
            ok = int_equal(dt, g, e, i);
        } else {
            gv = component(dt, g, k);
            ev = component(dt, e, k);
            /* a narrow float's expected value is its code: no tolerance */
            ok = cli_dtype_is_narrow_float(dt) ? gv == ev || (isnan(gv) && isnan(ev))
                                               : close_enough(gv, ev, rtol, atol);
            if (isfinite(gv) && isfinite(ev)) {
                double abs_err = fabs(gv - ev);
                if (abs_err > r->worst_abs)
                    r->worst_abs = abs_err;
                if (ev != 0 && abs_err / fabs(ev) > r->worst_rel)
                    r->worst_rel = abs_err / fabs(ev);
            }
        }
        if (ok)
            continue;
        if (r->mismatches++ > 0)
            continue;
        char idx[128], gs[64], es[64];
        cli_format_index(kiln_tensor_rank(exp), kiln_tensor_dims(exp), i, idx, sizeof idx);
        if (exact) {
            format_int(dt, g, i, gs, sizeof gs);
            format_int(dt, e, i, es, sizeof es);
        } else {
            format_real(dt, gv, gs, sizeof gs);
            format_real(dt, ev, es, sizeof es);
        }
        snprintf(r->message, sizeof r->message, "element %lld %s%s: got %s, expected %s", (long long)i, idx,
                 per == 2 ? (k % 2 ? " (imaginary)" : " (real)") : "", gs, es);
    }
}

void cli_compare(const kiln_tensor *got, const kiln_tensor *expected, double rtol, double atol,
                 cli_compare_result *r)
{
    memset(r, 0, sizeof *r);
    char a[256], b[256];
    kiln_dtype dt = kiln_tensor_dtype(expected);
    if (kiln_tensor_dtype(got) != dt) {
        snprintf(r->message, sizeof r->message, "dtype mismatch: got %s, expected %s",
                 cli_format_tensor_type(got, a, sizeof a), cli_format_tensor_type(expected, b, sizeof b));
        return;
    }
    size_t rank = kiln_tensor_rank(expected);
    bool same_shape = kiln_tensor_rank(got) == rank;
    for (size_t d = 0; same_shape && d < rank; d++)
        same_shape = kiln_tensor_dims(got)[d] == kiln_tensor_dims(expected)[d];
    if (!same_shape) {
        snprintf(r->message, sizeof r->message, "shape mismatch: got %s, expected %s",
                 cli_format_tensor_type(got, a, sizeof a), cli_format_tensor_type(expected, b, sizeof b));
        return;
    }
    int64_t n = kiln_tensor_element_count(expected);
    if (dt == KILN_DTYPE_STRING)
        compare_strings(got, expected, n, r);
    else if (cli_dtype_is_float(dt) || cli_dtype_is_integer(dt) || cli_dtype_is_complex(dt) ||
             dt == KILN_DTYPE_BOOL)
        compare_numbers(got, expected, n, rtol, atol, r);
    else {
        snprintf(r->message, sizeof r->message, "cannot compare dtype %s", kiln_dtype_name(dt));
        return;
    }
    if (r->mismatches > 0) {
        size_t used = strlen(r->message);
        if (cli_dtype_is_float(dt) || cli_dtype_is_complex(dt))
            append(r->message, sizeof r->message, &used, " (worst abs err %.3g, rel %.3g; %lld of %lld differ)",
                   r->worst_abs, r->worst_rel, (long long)r->mismatches, (long long)n);
        else
            append(r->message, sizeof r->message, &used, " (%lld of %lld differ)", (long long)r->mismatches,
                   (long long)n);
        return;
    }
    r->ok = true;
}

/* ---- files and time ---------------------------------------------------- */

bool cli_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool cli_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool cli_make_dirs(const char *path)
{
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!p) {
        errno = ENOMEM;
        return false;
    }
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0)
            continue;
        char saved = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            free(p);
            errno = err;
            return false;
        }
        p[i] = saved;
    }
    free(p);
    if (!cli_is_dir(path)) {
        errno = ENOTDIR;
        return false;
    }
    return true;
}

bool cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

char *cli_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a == 0 || dir[a - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}
