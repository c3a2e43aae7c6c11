/* NumPy .npy files: "\x93NUMPY", version, header length, a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, then
 * the raw C-order data. The header is parsed strictly: it comes from
 * untrusted files, and anything unexpected is refused rather than guessed. */
#include "onnx/onnx_import.h"

#include <stdio.h>
#include <string.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

typedef struct npy_type {
    const char *code; /* without the byte-order character */
    kiln_dtype dtype;
} npy_type;

static const npy_type npy_types[] = {
    {"f4", KILN_DTYPE_FLOAT},     {"f8", KILN_DTYPE_DOUBLE},     {"f2", KILN_DTYPE_FLOAT16},
    {"i8", KILN_DTYPE_INT64},     {"i4", KILN_DTYPE_INT32},      {"i2", KILN_DTYPE_INT16},
    {"i1", KILN_DTYPE_INT8},      {"u1", KILN_DTYPE_UINT8},      {"u2", KILN_DTYPE_UINT16},
    {"u4", KILN_DTYPE_UINT32},    {"u8", KILN_DTYPE_UINT64},     {"b1", KILN_DTYPE_BOOL},
    {"c8", KILN_DTYPE_COMPLEX64}, {"c16", KILN_DTYPE_COMPLEX128},
};

typedef struct npy_header {
    kiln_dtype dtype;
    bool big_endian;
    int rank;
    int64_t dims[KN_MAX_RANK];
} npy_header;

/* ---- a tiny cursor over the header text ---- */

typedef struct cursor {
    const char *p, *end;
    const char *label;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static bool accept_word(cursor *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return true;
    }
    return false;
}

static kiln_status bad(const cursor *c, const char *what)
{
    return kn_error(KILN_ERROR_PARSE, "%s: invalid .npy header: %s", c->label, what);
}

/* A quoted string without escapes into buf. */
static kiln_status read_string(cursor *c, char *buf, size_t size)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return bad(c, "expected a quoted string");
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= size)
            return bad(c, "string too long or escaped");
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return bad(c, "unterminated string");
    c->p++;
    buf[n] = 0;
    return KILN_OK;
}

static kiln_status read_dim(cursor *c, int64_t *out)
{
    skip_ws(c);
    int64_t v = 0;
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int d = *c->p - '0';
        if (v > (INT64_MAX - d) / 10)
            return bad(c, "dimension too large");
        v = v * 10 + d;
        c->p++;
    }
    if (c->p == start)
        return bad(c, "expected a dimension");
    if (c->p < c->end && *c->p == 'L') /* Python 2 long literal */
        c->p++;
    *out = v;
    return KILN_OK;
}

static kiln_status read_shape(cursor *c, npy_header *h)
{
    if (!accept(c, '('))
        return bad(c, "shape is not a tuple");
    h->rank = 0;
    if (accept(c, ')'))
        return KILN_OK;
    for (;;) {
        int64_t d = 0;
        KN_TRY(read_dim(c, &d));
        if (h->rank == KN_MAX_RANK)
            return kn_error(KILN_ERROR_UNSUPPORTED, "%s: .npy rank exceeds kiln's limit of %d", c->label,
                            KN_MAX_RANK);
        h->dims[h->rank++] = d;
        if (accept(c, ')'))
            return KILN_OK;
        if (!accept(c, ','))
            return bad(c, "expected ',' or ')' in shape");
        if (accept(c, ')'))
            return KILN_OK;
    }
}

static kiln_status parse_descr(cursor *c, const char *s, npy_header *h)
{
    char order = s[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: .npy dtype '%s' is not supported", c->label, s);
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
        if (strcmp(s + 1, npy_types[i].code) == 0) {
            h->dtype = npy_types[i].dtype;
            h->big_endian = order == '>' && kiln_dtype_size(h->dtype) > 1;
            return KILN_OK;
        }
    }
    return kn_error(KILN_ERROR_UNSUPPORTED, "%s: .npy dtype '%s' is not supported", c->label, s);
}

static kiln_status parse_dict(cursor *c, npy_header *h)
{
    bool seen_descr = false, seen_order = false, seen_shape = false;
    if (!accept(c, '{'))
        return bad(c, "expected '{'");
    while (!accept(c, '}')) {
        char key[32], val[32];
        KN_TRY(read_string(c, key, sizeof key));
        if (!accept(c, ':'))
            return bad(c, "expected ':'");
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            KN_TRY(read_string(c, val, sizeof val));
            KN_TRY(parse_descr(c, val, h));
            seen_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
            if (accept_word(c, "True"))
                return kn_error(KILN_ERROR_UNSUPPORTED, "%s: .npy files in Fortran order are not supported",
                                c->label);
            if (!accept_word(c, "False"))
                return bad(c, "fortran_order is not True or False");
            seen_order = true;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            KN_TRY(read_shape(c, h));
            seen_shape = true;
        } else {
            return bad(c, "unknown or repeated key");
        }
        if (!accept(c, ',')) {
            if (!accept(c, '}'))
                return bad(c, "expected ',' or '}'");
            break;
        }
    }
    skip_ws(c);
    if (c->p != c->end)
        return bad(c, "text after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return bad(c, "descr, fortran_order or shape missing");
    return KILN_OK;
}

static void swap_bytes(void *data, size_t count, size_t elem)
{
    uint8_t *p = data;
    for (size_t i = 0; i < count; i++, p += elem)
        for (size_t a = 0, b = elem - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

kiln_status kn_npy_parse(const void *data, size_t size, const char *label, kiln_tensor **out)
{
    const uint8_t *b = data;
    if (size < 10 || memcmp(b, npy_magic, 6) != 0)
        return kn_error(KILN_ERROR_PARSE, "%s: not a .npy file", label);
    uint8_t major = b[6];
    size_t header_len, start;
    if (major == 1) {
        header_len = (size_t)b[8] | (size_t)b[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12)
            return kn_error(KILN_ERROR_PARSE, "%s: truncated .npy header", label);
        header_len = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        start = 12;
    } else {
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported", label, major,
                        b[7]);
    }
    if (header_len > size - start)
        return kn_error(KILN_ERROR_PARSE, "%s: truncated .npy header", label);
    npy_header h;
    memset(&h, 0, sizeof h);
    cursor c = {(const char *)b + start, (const char *)b + start + header_len, label};
    KN_TRY(parse_dict(&c, &h));

    int64_t count;
    size_t nbytes;
    if (!kn_shape_count(h.rank, h.dims, &count) || !kn_dtype_bytes(h.dtype, count, &nbytes))
        return kn_error(KILN_ERROR_PARSE, "%s: .npy shape overflows the addressable size", label);
    size_t have = size - start - header_len;
    if (have != nbytes)
        return kn_error(KILN_ERROR_PARSE, "%s: .npy data has %zu bytes, its shape of %s needs %zu", label, have,
                        kiln_dtype_name(h.dtype), nbytes);
    kiln_tensor *t;
    KN_TRY(kn_tensor_new(h.dtype, h.rank, h.dims, &t));
    if (nbytes)
        memcpy(t->data, b + start + header_len, nbytes);
    if (h.big_endian) {
        /* complex numbers are two floats, each swapped on its own */
        bool cplx = h.dtype == KILN_DTYPE_COMPLEX64 || h.dtype == KILN_DTYPE_COMPLEX128;
        size_t unit = kiln_dtype_size(h.dtype) / (cplx ? 2 : 1);
        swap_bytes(t->data, nbytes / unit, unit);
    }
    if (h.dtype == KILN_DTYPE_BOOL)
        for (size_t i = 0; i < nbytes; i++)
            ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    *out = t;
    return KILN_OK;
}

static const char *npy_descr(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: return "<f4";
    case KILN_DTYPE_DOUBLE: return "<f8";
    case KILN_DTYPE_FLOAT16: return "<f2";
    case KILN_DTYPE_INT64: return "<i8";
    case KILN_DTYPE_INT32: return "<i4";
    case KILN_DTYPE_INT16: return "<i2";
    case KILN_DTYPE_INT8: return "|i1";
    case KILN_DTYPE_UINT8: return "|u1";
    case KILN_DTYPE_UINT16: return "<u2";
    case KILN_DTYPE_UINT32: return "<u4";
    case KILN_DTYPE_UINT64: return "<u8";
    case KILN_DTYPE_BOOL: return "|b1";
    case KILN_DTYPE_COMPLEX64: return "<c8";
    case KILN_DTYPE_COMPLEX128: return "<c16";
    default: return NULL;
    }
}

kiln_status kn_npy_header(const kiln_tensor *t, char **header, size_t *size)
{
    const char *descr = npy_descr(t->dtype);
    if (!descr)
        return kn_error(KILN_ERROR_UNSUPPORTED, ".npy has no dtype for %s tensors", kiln_dtype_name(t->dtype));
    char dict[512];
    size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->rank; i++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", t->rank == 1 ? "," : "");
    /* numpy pads with spaces so the data starts 64-byte aligned, '\n' last */
    size_t total = (10 + n + 1 + 63) / 64 * 64;
    char *h = kn_malloc(total);
    if (!h)
        return KN_NOMEM();
    size_t hl = total - 10;
    memcpy(h, npy_magic, 6);
    h[6] = 1;
    h[7] = 0;
    h[8] = (char)(hl & 0xff);
    h[9] = (char)(hl >> 8);
    memcpy(h + 10, dict, n);
    memset(h + 10 + n, ' ', total - 10 - n - 1);
    h[total - 1] = '\n';
    *header = h;
    *size = total;
    return KILN_OK;
}
