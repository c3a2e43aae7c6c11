/* The tensor type: internal helpers and the public kiln_tensor_* calls
 * (file formats live in src/onnx). */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

bool kn_shape_count(int rank, const int64_t *dims, int64_t *count)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || !kn_mul_i64(n, dims[i], &n))
            return false;
    }
    *count = n;
    return true;
}

int64_t kn_tensor_count(const kiln_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->dims[i];
    return n;
}

kiln_status kn_tensor_set_shape(kiln_tensor *t, kiln_dtype dtype, int rank, const int64_t *dims)
{
    if (rank < 0 || rank > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "tensor rank %d exceeds kiln's limit of %d", rank,
                        KN_MAX_RANK);
    int64_t count;
    if (!kn_shape_count(rank, dims, &count))
        return kn_error(KILN_ERROR_SHAPE, "tensor dims are negative or their product overflows");
    size_t bytes;
    if (!kn_dtype_bytes(dtype, count, &bytes))
        return kn_error(KILN_ERROR_DTYPE, "tensor of dtype %s (%d) with %lld elements has no valid size",
                        kiln_dtype_name(dtype), (int)dtype, (long long)count);
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    for (int i = rank; i < KN_MAX_RANK; i++)
        t->dims[i] = 0;
    t->nbytes = bytes;
    return KILN_OK;
}

kiln_status kn_tensor_alloc_data(kiln_tensor *t)
{
    void *p = kn_aligned_alloc(t->nbytes);
    if (!p)
        return KN_NOMEM();
    memset(p, 0, t->nbytes);
    if (t->owns_data)
        kn_aligned_free(t->data);
    t->data = p;
    t->owns_data = true;
    return KILN_OK;
}

kiln_status kn_tensor_new_view(kiln_dtype dtype, int rank, const int64_t *dims, void *data,
                               kiln_tensor **out)
{
    kiln_tensor *t = kn_calloc(1, sizeof *t);
    if (!t)
        return KN_NOMEM();
    kiln_status s = kn_tensor_set_shape(t, dtype, rank, dims);
    if (s != KILN_OK) {
        kn_free(t);
        return s;
    }
    t->data = data;
    *out = t;
    return KILN_OK;
}

kiln_status kn_tensor_new(kiln_dtype dtype, int rank, const int64_t *dims, kiln_tensor **out)
{
    kiln_tensor *t;
    KN_TRY(kn_tensor_new_view(dtype, rank, dims, NULL, &t));
    kiln_status s = kn_tensor_alloc_data(t);
    if (s != KILN_OK) {
        kn_free(t);
        return s;
    }
    *out = t;
    return KILN_OK;
}

kiln_status kn_tensor_clone(const kiln_tensor *src, kiln_tensor **out)
{
    kiln_tensor *t;
    KN_TRY(kn_tensor_new(src->dtype, src->rank, src->dims, &t));
    if (src->dtype == KILN_DTYPE_STRING) {
        char **d = t->data;
        char *const *s = src->data;
        int64_t n = kn_tensor_count(src);
        for (int64_t i = 0; i < n; i++) {
            d[i] = kn_strdup(s[i] ? s[i] : "");
            if (!d[i]) {
                kn_tensor_free(t);
                return KN_NOMEM();
            }
        }
    } else if (kn_dtype_is_container(src->dtype)) {
        kiln_status s = src->data ? kn_list_copy(t->data, src->data) : KILN_OK;
        if (s != KILN_OK) {
            kn_tensor_free(t);
            return s;
        }
    } else if (src->nbytes) {
        memcpy(t->data, src->data, src->nbytes);
    }
    if (src->name) {
        t->name = kn_strdup(src->name);
        if (!t->name) {
            kn_tensor_free(t);
            return KN_NOMEM();
        }
    }
    *out = t;
    return KILN_OK;
}

void kn_tensor_free(kiln_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data) {
        if (t->dtype == KILN_DTYPE_STRING && t->data) {
            char **s = t->data;
            int64_t n = (int64_t)(t->nbytes / sizeof(char *));
            for (int64_t i = 0; i < n; i++)
                kn_free(s[i]);
        }
        if (kn_dtype_is_container(t->dtype))
            kn_list_clear(t->data);
        kn_aligned_free(t->data);
    }
    kn_free(t->name);
    kn_free(t);
}

bool kn_same_shape(const kiln_tensor *a, const kiln_tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

const char *kn_shape_str(const kiln_tensor *t, char *buf, size_t size)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "[");
    for (int i = 0; i < t->rank; i++)
        n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%lld", i ? "," : "",
                              (long long)t->dims[i]);
    snprintf(buf + n, n < size ? size - n : 0, "]");
    return buf;
}

/* ---- public API ---- */

KILN_API kiln_status kiln_tensor_create(kiln_dtype dtype, size_t rank, const int64_t *dims,
                                        kiln_tensor **out)
{
    if (!out || (rank && !dims))
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_tensor_create: NULL argument");
    if (rank > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "kiln_tensor_create: rank %zu exceeds %d", rank, KN_MAX_RANK);
    if (!kn_dtype_known(dtype))
        return kn_error(KILN_ERROR_DTYPE, "kiln_tensor_create: unknown dtype %d", (int)dtype);
    return kn_tensor_new(dtype, (int)rank, dims, out);
}

KILN_API kiln_status kiln_tensor_wrap(kiln_dtype dtype, size_t rank, const int64_t *dims, void *data,
                                      size_t bytes, kiln_tensor **out)
{
    if (!out || (rank && !dims))
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_tensor_wrap: NULL argument");
    if (rank > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "kiln_tensor_wrap: rank %zu exceeds %d", rank, KN_MAX_RANK);
    if (!kn_dtype_known(dtype) || dtype == KILN_DTYPE_STRING)
        return kn_error(KILN_ERROR_DTYPE, "kiln_tensor_wrap: dtype %s cannot wrap caller memory",
                        kiln_dtype_name(dtype));
    kiln_tensor *t;
    KN_TRY(kn_tensor_new_view(dtype, (int)rank, dims, data, &t));
    if (t->nbytes != bytes || (bytes && !data)) {
        size_t need = t->nbytes;
        kn_tensor_free(t);
        return kn_error(KILN_ERROR_SHAPE, "kiln_tensor_wrap: buffer has %zu bytes, shape needs %zu", bytes,
                        need);
    }
    *out = t;
    return KILN_OK;
}

KILN_API void kiln_tensor_release(kiln_tensor *tensor)
{
    kn_tensor_free(tensor);
}

/* Sequence/optional handles (list.c) show their element dtype and no data:
 * callers that only know tensors never read a kn_list as elements. */
KILN_API kiln_dtype kiln_tensor_dtype(const kiln_tensor *t)
{
    if (t && kn_dtype_is_container(t->dtype)) {
        const kn_list *l = t->data;
        return l && !kn_dtype_is_container(l->elem) ? l->elem : KILN_DTYPE_UNDEFINED;
    }
    return t ? t->dtype : KILN_DTYPE_UNDEFINED;
}

KILN_API size_t kiln_tensor_rank(const kiln_tensor *t)
{
    return t ? (size_t)t->rank : 0;
}

KILN_API const int64_t *kiln_tensor_dims(const kiln_tensor *t)
{
    return t ? t->dims : NULL;
}

KILN_API int64_t kiln_tensor_element_count(const kiln_tensor *t)
{
    return t && !kn_dtype_is_container(t->dtype) ? kn_tensor_count(t) : 0;
}

KILN_API size_t kiln_tensor_byte_size(const kiln_tensor *t)
{
    return t && !kn_dtype_is_container(t->dtype) ? t->nbytes : 0;
}

KILN_API void *kiln_tensor_data(kiln_tensor *t)
{
    return t && !kn_dtype_is_container(t->dtype) ? t->data : NULL;
}

KILN_API const void *kiln_tensor_const_data(const kiln_tensor *t)
{
    return t && !kn_dtype_is_container(t->dtype) ? t->data : NULL;
}

KILN_API const char *kiln_tensor_name(const kiln_tensor *t)
{
    return t ? t->name : NULL;
}
