/* A .npy array read batch by batch: only the header is parsed at open, and
 * each batch is read with one fseeko + fread, so memory stays bounded by
 * the batch whatever the array's length. */
#include "data/data.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define NPY_MAX_HEADER (1u << 20)

static kiln_status bad(const char *path, const char *what)
{
    return kn_error(KILN_ERROR_PARSE, "%s: bad .npy header: %s", path, what);
}

/* Value text after 'key': in the header dict, or NULL. */
static const char *find_key(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

static kiln_status parse_header(const char *path, const char *h, kn_npy_stream *s)
{
    const char *d = find_key(h, "descr");
    if (!d || *d != '\'')
        return bad(path, "no 'descr'");
    d++;
    char order = *d;
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return bad(path, "unknown byte order");
    if (strncmp(d + 1, "f4'", 3) == 0)
        s->dtype = KILN_DTYPE_FLOAT;
    else if (strncmp(d + 1, "f8'", 3) == 0)
        s->dtype = KILN_DTYPE_DOUBLE;
    else
        return kn_error(KILN_ERROR_DTYPE, "%s: array dtype '%.8s' is not supported; use float32 or float64", path, d);
    s->big_endian = order == '>';
    const char *f = find_key(h, "fortran_order");
    if (!f)
        return bad(path, "no 'fortran_order'");
    if (strncmp(f, "True", 4) == 0)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: Fortran-order arrays are not supported", path);
    if (strncmp(f, "False", 5) != 0)
        return bad(path, "bad 'fortran_order'");
    const char *p = find_key(h, "shape");
    if (!p || *p != '(')
        return bad(path, "no 'shape'");
    p++;
    s->rank = 0;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == ')')
            break;
        if (*p < '0' || *p > '9')
            return bad(path, "bad shape");
        int64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return bad(path, "dimension too large");
            v = v * 10 + (*p++ - '0');
        }
        if (s->rank == KN_MAX_RANK)
            return kn_error(KILN_ERROR_UNSUPPORTED, "%s: array rank above %d", path, KN_MAX_RANK);
        s->dims[s->rank++] = v;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p != ')')
            return bad(path, "bad shape");
    }
    if (s->rank < 1)
        return kn_error(KILN_ERROR_SHAPE, "%s: a 0-d array holds no samples; expected [N, ...]", path);
    size_t elems = 1;
    for (int i = 1; i < s->rank; i++)
        if (!kn_mul_size(elems, (size_t)s->dims[i], &elems))
            return bad(path, "sample size overflows");
    if (!kn_mul_size(elems, s->dtype == KILN_DTYPE_FLOAT ? 4 : 8, &s->sample_bytes))
        return bad(path, "sample size overflows");
    return KILN_OK;
}

kiln_status kn_npy_stream_open(const char *path, kn_npy_stream *s)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f)
        return kn_error(KILN_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t pre[12];
    char *header = NULL;
    kiln_status st = KILN_OK;
    size_t got = fread(pre, 1, 10, f);
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        st = kn_error(KILN_ERROR_PARSE, "%s: not a .npy file", path);
    uint64_t hlen = 0, start = 10;
    if (st == KILN_OK) {
        if (pre[6] == 1) {
            hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
        } else if (pre[6] == 2 || pre[6] == 3) {
            if (fread(pre + 10, 1, 2, f) != 2)
                st = bad(path, "truncated");
            hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
            start = 12;
        } else {
            st = kn_error(KILN_ERROR_UNSUPPORTED, "%s: .npy version %d is not supported", path, pre[6]);
        }
    }
    if (st == KILN_OK && (hlen == 0 || hlen > NPY_MAX_HEADER))
        st = bad(path, "header length out of range");
    if (st == KILN_OK && !(header = kn_malloc(hlen + 1)))
        st = KN_NOMEM();
    if (st == KILN_OK && fread(header, 1, hlen, f) != hlen)
        st = bad(path, "truncated");
    if (st == KILN_OK) {
        header[hlen] = 0;
        st = parse_header(path, header, s);
    }
    kn_free(header);
    struct stat sb;
    if (st == KILN_OK && fstat(fileno(f), &sb) != 0)
        st = kn_error(KILN_ERROR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (st == KILN_OK) {
        s->data_offset = start + hlen;
        uint64_t have = (uint64_t)sb.st_size > s->data_offset ? (uint64_t)sb.st_size - s->data_offset : 0;
        uint64_t need = 0;
        if (s->sample_bytes && (uint64_t)s->dims[0] > UINT64_MAX / s->sample_bytes)
            st = bad(path, "array size overflows");
        else
            need = (uint64_t)s->dims[0] * s->sample_bytes;
        if (st == KILN_OK && have < need)
            st = kn_error(KILN_ERROR_PARSE, "%s: truncated: the header promises %llu data bytes, the file has %llu",
                          path, (unsigned long long)need, (unsigned long long)have);
    }
    if (st == KILN_OK && !(s->path = kn_strdup(path)))
        st = KN_NOMEM();
    if (st != KILN_OK) {
        fclose(f);
        kn_free(s->path);
        memset(s, 0, sizeof *s);
        return st;
    }
    s->f = f;
    return KILN_OK;
}

static void swap(uint8_t *p, size_t n, size_t elem)
{
    for (size_t i = 0; i < n; i++, p += elem)
        for (size_t a = 0, b = elem - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

kiln_status kn_npy_stream_read(kn_npy_stream *s, int64_t first, int64_t count, float *dst)
{
    if (first < 0 || count < 0 || first + count > s->dims[0])
        return kn_error(KILN_ERROR_ARGUMENT, "%s: samples %lld..%lld out of range (%lld)", s->path, (long long)first,
                        (long long)(first + count), (long long)s->dims[0]);
    size_t bytes = (size_t)count * s->sample_bytes;
    size_t elems = bytes / (s->dtype == KILN_DTYPE_FLOAT ? 4 : 8);
    /* float32 is read straight into dst; float64 needs a staging buffer. */
    void *buf = s->dtype == KILN_DTYPE_FLOAT ? (void *)dst : kn_malloc(bytes ? bytes : 1);
    if (!buf)
        return KN_NOMEM();
    kiln_status st = KILN_OK;
    if (fseeko(s->f, (off_t)(s->data_offset + (uint64_t)first * s->sample_bytes), SEEK_SET) != 0 ||
        fread(buf, 1, bytes, s->f) != bytes)
        st = kn_error(KILN_ERROR_IO, "%s: cannot read samples %lld..%lld (file changed or truncated?)", s->path,
                      (long long)first, (long long)(first + count));
    if (st == KILN_OK && s->big_endian)
        swap(buf, elems, s->dtype == KILN_DTYPE_FLOAT ? 4 : 8);
    if (st == KILN_OK && s->dtype == KILN_DTYPE_DOUBLE) {
        const double *d = buf;
        for (size_t i = 0; i < elems; i++)
            dst[i] = (float)d[i];
    }
    if (buf != dst)
        kn_free(buf);
    return st;
}

void kn_npy_stream_close(kn_npy_stream *s)
{
    if (s->f)
        fclose(s->f);
    kn_free(s->path);
    memset(s, 0, sizeof *s);
}
