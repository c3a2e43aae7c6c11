/* TensorProto -> kiln_tensor. The data may sit in raw_data (little-endian
 * bytes), in one of the typed repeated fields (which one depends on the
 * dtype, see onnx.proto), or in an external file. */
#include "core/dtype_small.h"
#include "onnx/onnx_import.h"

#include <stdio.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw_data is little-endian and copied as is: kiln needs a little-endian host"
#endif

static void dims_str(const Onnx__TensorProto *p, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < p->n_dims && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? "," : "", (long long)p->dims[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* Which typed field holds the elements of dtype, and how many entries one
 * element takes (complex numbers are stored as (real, imaginary) pairs). */
typedef enum { F_FLOAT, F_DOUBLE, F_INT32, F_INT64, F_UINT64, F_STRING } typed_field;

static typed_field field_for(kiln_dtype dt, size_t *per_elem)
{
    *per_elem = 1;
    switch (dt) {
    case KILN_DTYPE_FLOAT: return F_FLOAT;
    case KILN_DTYPE_COMPLEX64: *per_elem = 2; return F_FLOAT;
    case KILN_DTYPE_DOUBLE: return F_DOUBLE;
    case KILN_DTYPE_COMPLEX128: *per_elem = 2; return F_DOUBLE;
    case KILN_DTYPE_INT64: return F_INT64;
    case KILN_DTYPE_UINT32: case KILN_DTYPE_UINT64: return F_UINT64;
    case KILN_DTYPE_STRING: return F_STRING;
    default: return F_INT32; /* int8/uint8/int16/uint16/int32/bool/float16/bfloat16 */
    }
}

static const char *field_name(typed_field f)
{
    static const char *names[] = {"float_data", "double_data", "int32_data", "int64_data", "uint64_data",
                                  "string_data"};
    return names[f];
}

static size_t field_len(const Onnx__TensorProto *p, typed_field f)
{
    switch (f) {
    case F_FLOAT: return p->n_float_data;
    case F_DOUBLE: return p->n_double_data;
    case F_INT32: return p->n_int32_data;
    case F_INT64: return p->n_int64_data;
    case F_UINT64: return p->n_uint64_data;
    case F_STRING: return p->n_string_data;
    }
    return 0;
}

static kiln_status copy_strings(const Onnx__TensorProto *p, kiln_tensor *t, size_t count)
{
    char **dst = t->data;
    for (size_t i = 0; i < count; i++) {
        const ProtobufCBinaryData *s = &p->string_data[i];
        dst[i] = kn_strndup(s->len ? (const char *)s->data : "", s->len);
        if (!dst[i])
            return KN_NOMEM();
    }
    return KILN_OK;
}

/* Typed fields hold wider values than the element (int32 for int8, ...):
 * narrow each one to the element type. */
static void copy_typed(const Onnx__TensorProto *p, kiln_tensor *t, size_t count)
{
    void *d = t->data;
    switch (t->dtype) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_COMPLEX64:
        memcpy(d, p->float_data, t->nbytes);
        break;
    case KILN_DTYPE_DOUBLE: case KILN_DTYPE_COMPLEX128:
        memcpy(d, p->double_data, t->nbytes);
        break;
    case KILN_DTYPE_INT64:
        memcpy(d, p->int64_data, t->nbytes);
        break;
    case KILN_DTYPE_UINT64:
        memcpy(d, p->uint64_data, t->nbytes);
        break;
    case KILN_DTYPE_UINT32:
        for (size_t i = 0; i < count; i++)
            ((uint32_t *)d)[i] = (uint32_t)p->uint64_data[i];
        break;
    case KILN_DTYPE_INT32:
        memcpy(d, p->int32_data, t->nbytes);
        break;
    case KILN_DTYPE_INT16:
        for (size_t i = 0; i < count; i++)
            ((int16_t *)d)[i] = (int16_t)p->int32_data[i];
        break;
    case KILN_DTYPE_UINT16: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16:
        for (size_t i = 0; i < count; i++)
            ((uint16_t *)d)[i] = (uint16_t)p->int32_data[i];
        break;
    case KILN_DTYPE_INT8:
        for (size_t i = 0; i < count; i++)
            ((int8_t *)d)[i] = (int8_t)p->int32_data[i];
        break;
    case KILN_DTYPE_UINT8:
        for (size_t i = 0; i < count; i++)
            ((uint8_t *)d)[i] = (uint8_t)p->int32_data[i];
        break;
    case KILN_DTYPE_BOOL:
        for (size_t i = 0; i < count; i++)
            ((uint8_t *)d)[i] = p->int32_data[i] != 0;
        break;
    default:
        break;
    }
}

/* Narrow types: int32_data holds one float8 code per entry, or one packed
 * byte (two 4-bit / four 2-bit elements) per entry. */
static kiln_status copy_typed_small(const Onnx__TensorProto *p, kiln_tensor *t, size_t count)
{
    size_t stored = kn_small_packed_bytes(t->dtype, count);
    uint8_t *bytes = kn_malloc(stored ? stored : 1);
    if (!bytes)
        return KN_NOMEM();
    for (size_t i = 0; i < stored; i++)
        bytes[i] = (uint8_t)p->int32_data[i];
    kn_small_unpack(t->dtype, bytes, count, t->data);
    kn_free(bytes);
    return KILN_OK;
}

/* dtype and shape checks; the tensor gets its storage only once the data
 * source is known to hold that many bytes, so a hostile header cannot make
 * kiln allocate more than the file provides. */
static kiln_status new_tensor_for(const Onnx__TensorProto *p, const char *label, kiln_tensor **out)
{
    int32_t code = p->has_data_type ? p->data_type : 0;
    if (code == 0)
        return kn_error(KILN_ERROR_MODEL, "%s: data_type is not set", label);
    if (!kn_dtype_known((kiln_dtype)code))
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: data_type %d is not supported", label, (int)code);
    kiln_dtype dt = (kiln_dtype)code;
    if (p->n_dims > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: rank %zu exceeds kiln's limit of %d", label, p->n_dims,
                        KN_MAX_RANK);
    char dbuf[256];
    for (size_t i = 0; i < p->n_dims; i++) {
        if (p->dims[i] < 0) {
            dims_str(p, dbuf, sizeof dbuf);
            return kn_error(KILN_ERROR_MODEL, "%s: negative dimension in dims %s", label, dbuf);
        }
    }
    int64_t count;
    size_t bytes;
    if (!kn_shape_count((int)p->n_dims, p->dims, &count) || !kn_dtype_bytes(dt, count, &bytes)) {
        dims_str(p, dbuf, sizeof dbuf);
        return kn_error(KILN_ERROR_MODEL, "%s: dims %s of %s overflow the addressable size", label, dbuf,
                        kiln_dtype_name(dt));
    }
    kiln_tensor *t = kn_calloc(1, sizeof *t);
    if (!t)
        return KN_NOMEM();
    kiln_status s = kn_tensor_set_shape(t, dt, (int)p->n_dims, p->dims);
    if (s != KILN_OK) {
        kn_free(t);
        return s;
    }
    *out = t;
    return KILN_OK;
}

static kiln_status alloc_data(kiln_tensor *t)
{
    t->data = kn_aligned_alloc(t->nbytes);
    if (!t->data)
        return KN_NOMEM();
    t->owns_data = true;
    /* zeroed pointers let a partially copied string tensor be freed */
    if (t->dtype == KILN_DTYPE_STRING)
        memset(t->data, 0, t->nbytes);
    return KILN_OK;
}

/* take: p itself, when the tensor may keep p's raw_data buffer. */
static kiln_status fill_data(const Onnx__TensorProto *p, Onnx__TensorProto *take, const char *base_dir,
                             const char *label, kiln_tensor *t)
{
    char dbuf[256];
    size_t count = (size_t)kn_tensor_count(t);
    /* 4-bit and 2-bit elements are packed in files, unpacked in memory */
    bool packed = kn_dtype_packed_bits(t->dtype) == 4 || kn_dtype_packed_bits(t->dtype) == 2;
    size_t stored = packed ? kn_small_packed_bytes(t->dtype, count) : t->nbytes;
    bool external = p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (external) {
        if (t->dtype == KILN_DTYPE_STRING)
            return kn_error(KILN_ERROR_MODEL, "%s: string tensors cannot use external data", label);
        void *raw;
        KN_TRY(kn_external_data_read(p, base_dir, label, stored, &raw));
        if (!packed) {
            t->data = raw;
            t->owns_data = true;
            return KILN_OK;
        }
        kiln_status s = alloc_data(t);
        if (s == KILN_OK)
            kn_small_unpack(t->dtype, raw, count, t->data);
        kn_aligned_free(raw);
        return s;
    }
    if (p->has_raw_data) {
        if (t->dtype == KILN_DTYPE_STRING)
            return kn_error(KILN_ERROR_MODEL, "%s: string tensors cannot use raw_data", label);
        if (p->raw_data.len != stored) {
            dims_str(p, dbuf, sizeof dbuf);
            return kn_error(KILN_ERROR_MODEL, "%s: raw_data has %zu bytes, dims %s of %s need %zu", label,
                            p->raw_data.len, dbuf, kiln_dtype_name(t->dtype), stored);
        }
        if (take && !packed && t->nbytes && take->raw_data.data && (uintptr_t)take->raw_data.data % 64 == 0) {
            t->data = take->raw_data.data;
            t->owns_data = true;
            take->raw_data.data = NULL;
            take->raw_data.len = 0;
            return KILN_OK;
        }
        KN_TRY(alloc_data(t));
        if (packed)
            kn_small_unpack(t->dtype, p->raw_data.data, count, t->data);
        else if (t->nbytes)
            memcpy(t->data, p->raw_data.data, t->nbytes);
        return KILN_OK;
    }
    size_t per;
    typed_field f = field_for(t->dtype, &per);
    size_t have = field_len(p, f), need = packed ? stored : count * per;
    if (have != need) {
        dims_str(p, dbuf, sizeof dbuf);
        return kn_error(KILN_ERROR_MODEL, "%s: %s has %zu values, dims %s of %s need %zu", label, field_name(f),
                        have, dbuf, kiln_dtype_name(t->dtype), need);
    }
    KN_TRY(alloc_data(t));
    if (f == F_STRING)
        return copy_strings(p, t, count);
    if (count && kn_dtype_is_small(t->dtype))
        return copy_typed_small(p, t, count);
    if (count)
        copy_typed(p, t, count);
    return KILN_OK;
}

static kiln_status decode(const Onnx__TensorProto *p, Onnx__TensorProto *take, const char *base_dir,
                          const char *label, kiln_tensor **out)
{
    if (!p || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kn_tensor_decode: NULL argument");
    if (!label)
        label = "tensor";
    kiln_tensor *t;
    KN_TRY(new_tensor_for(p, label, &t));
    kiln_status s = fill_data(p, take, base_dir, label, t);
    if (s == KILN_OK && p->name && *p->name) {
        t->name = kn_strdup(p->name);
        if (!t->name)
            s = KN_NOMEM();
    }
    if (s != KILN_OK) {
        kn_tensor_free(t);
        return s;
    }
    *out = t;
    return KILN_OK;
}

kiln_status kn_tensor_decode(const Onnx__TensorProto *p, const char *base_dir, const char *label,
                             kiln_tensor **out)
{
    return decode(p, NULL, base_dir, label, out);
}

kiln_status kn_tensor_decode_take(Onnx__TensorProto *p, const char *base_dir, const char *label, kiln_tensor **out)
{
    return decode(p, p, base_dir, label, out);
}

kiln_status kn_tensor_from_proto(const Onnx__TensorProto *p, const char *base_dir, kiln_tensor **out)
{
    if (!p || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kn_tensor_from_proto: NULL argument");
    char label[300];
    snprintf(label, sizeof label, "tensor '%.256s'", p->name ? p->name : "");
    return kn_tensor_decode(p, base_dir, label, out);
}
