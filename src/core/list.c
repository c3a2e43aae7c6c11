/* Sequence and optional values: a kn_list of owned tensors stored as the
 * data of a rank-0 tensor of dtype KN_DTYPE_SEQUENCE / KN_DTYPE_OPTIONAL
 * (see core.h). */
#include "core/core.h"

#include <string.h>

bool kn_dtype_is_container(kiln_dtype dtype)
{
    return dtype == KN_DTYPE_SEQUENCE || dtype == KN_DTYPE_OPTIONAL;
}

kn_list *kn_list_of(const kiln_tensor *t)
{
    return t && kn_dtype_is_container(t->dtype) ? t->data : NULL;
}

kiln_status kn_list_new(kiln_dtype kind, kiln_dtype elem, kiln_tensor **out)
{
    if (!kn_dtype_is_container(kind))
        return kn_error(KILN_ERROR_INTERNAL, "kn_list_new: dtype %d is not a sequence or optional", (int)kind);
    kiln_tensor *t;
    KN_TRY(kn_tensor_new(kind, 0, NULL, &t));
    ((kn_list *)t->data)->elem = elem;
    *out = t;
    return KILN_OK;
}

kiln_status kn_list_insert(kn_list *l, int64_t pos, kiln_tensor *item)
{
    if (pos < 0 || pos > l->n) {
        kn_tensor_free(item);
        return kn_error(KILN_ERROR_INTERNAL, "kn_list_insert: position %lld outside [0, %lld]", (long long)pos,
                        (long long)l->n);
    }
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 4;
        size_t bytes;
        kiln_tensor **items = NULL;
        if (kn_mul_size((size_t)cap, sizeof *items, &bytes))
            items = kn_realloc(l->items, bytes);
        if (!items) {
            kn_tensor_free(item);
            return KN_NOMEM();
        }
        l->items = items;
        l->cap = cap;
    }
    memmove(l->items + pos + 1, l->items + pos, (size_t)(l->n - pos) * sizeof *l->items);
    l->items[pos] = item;
    l->n++;
    return KILN_OK;
}

kiln_status kn_list_push_copy(kn_list *l, const kiln_tensor *item)
{
    kiln_tensor *copy;
    KN_TRY(kn_tensor_clone(item, &copy));
    return kn_list_insert(l, l->n, copy);
}

kiln_status kn_list_copy(kn_list *dst, const kn_list *src)
{
    dst->elem = src->elem;
    for (int64_t i = 0; i < src->n; i++)
        KN_TRY(kn_list_push_copy(dst, src->items[i]));
    return KILN_OK;
}

void kn_list_clear(kn_list *l)
{
    if (!l)
        return;
    for (int64_t i = 0; i < l->n; i++)
        kn_tensor_free(l->items[i]);
    kn_free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

/* ---- public API ---- */

KILN_API kiln_value_kind kiln_tensor_kind(const kiln_tensor *value)
{
    if (value && value->dtype == KN_DTYPE_SEQUENCE)
        return KILN_VALUE_SEQUENCE;
    if (value && value->dtype == KN_DTYPE_OPTIONAL)
        return KILN_VALUE_OPTIONAL;
    return KILN_VALUE_TENSOR;
}

KILN_API size_t kiln_tensor_item_count(const kiln_tensor *value)
{
    const kn_list *l = kn_list_of(value);
    return l ? (size_t)l->n : 0;
}

KILN_API const kiln_tensor *kiln_tensor_item(const kiln_tensor *value, size_t index)
{
    const kn_list *l = kn_list_of(value);
    return l && index < (size_t)l->n ? l->items[index] : NULL;
}

kiln_status kn_tensor_copy_data(kiln_tensor *dst, const kiln_tensor *src)
{
    if (dst->dtype != src->dtype || !kn_same_shape(dst, src) || dst->nbytes != src->nbytes)
        return kn_error(KILN_ERROR_INTERNAL, "kn_tensor_copy_data: tensors differ in dtype or shape");
    if (kn_dtype_is_container(src->dtype)) {
        kn_list_clear(dst->data);
        return kn_list_copy(dst->data, src->data);
    }
    if (src->dtype == KILN_DTYPE_STRING) {
        char **d = dst->data;
        char *const *s = src->data;
        for (int64_t i = 0; i < kn_tensor_count(src); i++) {
            kn_free(d[i]);
            d[i] = kn_strdup(s[i] ? s[i] : "");
            if (!d[i])
                return KN_NOMEM();
        }
        return KILN_OK;
    }
    if (src->nbytes)
        memcpy(dst->data, src->data, src->nbytes);
    return KILN_OK;
}

KILN_API kiln_status kiln_sequence_create(kiln_dtype elem_dtype, size_t n, const kiln_tensor *const *items,
                                          kiln_tensor **out)
{
    if (!out || (n && !items))
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_sequence_create: NULL argument");
    if (elem_dtype != KILN_DTYPE_UNDEFINED && !kn_dtype_known(elem_dtype))
        return kn_error(KILN_ERROR_DTYPE, "kiln_sequence_create: unknown dtype %d", (int)elem_dtype);
    kiln_dtype dt = elem_dtype;
    for (size_t i = 0; i < n; i++) {
        const kiln_tensor *t = items[i];
        if (!t)
            return kn_error(KILN_ERROR_ARGUMENT, "kiln_sequence_create: item %zu is NULL", i);
        if (!kn_dtype_known(t->dtype))
            return kn_error(KILN_ERROR_DTYPE, "kiln_sequence_create: item %zu is a %s, expected a tensor", i,
                            kiln_dtype_name(t->dtype));
        if (dt != KILN_DTYPE_UNDEFINED && t->dtype != dt)
            return kn_error(KILN_ERROR_DTYPE, "kiln_sequence_create: item %zu is %s, expected %s", i,
                            kiln_dtype_name(t->dtype), kiln_dtype_name(dt));
        if (t->nbytes && !t->data)
            return kn_error(KILN_ERROR_ARGUMENT, "kiln_sequence_create: item %zu has no data", i);
        dt = t->dtype;
    }
    kiln_tensor *s;
    KN_TRY(kn_list_new(KN_DTYPE_SEQUENCE, dt, &s));
    for (size_t i = 0; i < n; i++) {
        kiln_status st = kn_list_push_copy(s->data, items[i]);
        if (st != KILN_OK) {
            kn_tensor_free(s);
            return st;
        }
    }
    *out = s;
    return KILN_OK;
}

KILN_API kiln_status kiln_optional_create(const kiln_tensor *value, kiln_tensor **out)
{
    if (!out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_optional_create: NULL argument");
    if (value && value->dtype != KN_DTYPE_SEQUENCE && !kn_dtype_known(value->dtype))
        return kn_error(KILN_ERROR_DTYPE, "kiln_optional_create: value is a%s %s, expected a tensor or sequence",
                        value->dtype == KN_DTYPE_OPTIONAL ? "n" : "", kiln_dtype_name(value->dtype));
    if (value && !kn_dtype_is_container(value->dtype) && value->nbytes && !value->data)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_optional_create: value has no data");
    kiln_tensor *o;
    KN_TRY(kn_list_new(KN_DTYPE_OPTIONAL, value ? value->dtype : KILN_DTYPE_UNDEFINED, &o));
    kiln_status st = value ? kn_list_push_copy(o->data, value) : KILN_OK;
    if (st != KILN_OK) {
        kn_tensor_free(o);
        return st;
    }
    *out = o;
    return KILN_OK;
}
