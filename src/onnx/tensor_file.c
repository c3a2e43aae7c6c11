/* Public tensor file calls: TensorProto (.pb) and NumPy (.npy), read by
 * content and written atomically. */
#include "core/dtype_small.h"
#include "onnx/onnx_import.h"

#include <stdio.h>
#include <string.h>

static bool is_npy(const void *data, size_t size)
{
    return size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0;
}

/* A file that decodes as protobuf but is no usable TensorProto (no dtype,
 * sizes that disagree) is reported as unparseable: for a standalone file
 * that is the more useful answer than "invalid model". */
static kiln_status read_pb(const void *data, size_t size, const char *base_dir, const char *label, kiln_tensor **out)
{
    char what[600];
    snprintf(what, sizeof what, "%s: not a valid TensorProto", label);
    kn_pb_alloc a;
    ProtobufCMessage *msg;
    KN_TRY(kn_pb_unpack(&onnx__tensor_proto__descriptor, data, size, &a, what, &msg));
    const Onnx__TensorProto *p = (const Onnx__TensorProto *)msg;
    char tlabel[600];
    snprintf(tlabel, sizeof tlabel, "%s: tensor '%.256s'", label, p->name ? p->name : "");
    kiln_status s = kn_tensor_decode(p, base_dir, tlabel, out);
    protobuf_c_message_free_unpacked(msg, &a.base);
    if (s == KILN_ERROR_MODEL) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", kn_error_message());
        s = kn_error(KILN_ERROR_PARSE, "%s", msg);
    }
    return s;
}

static kiln_status dir_of(const char *path, char **out)
{
    char *dir = kn_strdup(path);
    if (!dir)
        return KN_NOMEM();
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        slash[1] = 0;
    else
        *slash = 0;
    *out = dir;
    return KILN_OK;
}

KILN_API kiln_status kiln_tensor_read_file(const char *path, kiln_tensor **out)
{
    if (!path || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_tensor_read_file: NULL argument");
    void *data;
    size_t size;
    KN_TRY(kn_read_file(path, 0, &data, &size));
    kiln_status s;
    kiln_tensor *t = NULL;
    if (is_npy(data, size)) {
        s = kn_npy_parse(data, size, path, &t);
    } else {
        char *dir = NULL;
        s = dir_of(path, &dir);
        if (s == KILN_OK) {
            s = read_pb(data, size, dir, path, &t);
            kn_free(dir);
        }
    }
    kn_free(data);
    if (s == KILN_OK)
        *out = t;
    return s;
}

KILN_API kiln_status kiln_value_read_file(const char *path, kiln_value_kind kind, kiln_tensor **out)
{
    if (kind == KILN_VALUE_TENSOR)
        return kiln_tensor_read_file(path, out);
    if (!path || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_value_read_file: NULL argument");
    if (kind != KILN_VALUE_SEQUENCE && kind != KILN_VALUE_OPTIONAL)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_value_read_file: unknown kind %d", (int)kind);
    void *data;
    size_t size;
    KN_TRY(kn_read_file(path, 0, &data, &size));
    char *dir = NULL;
    kiln_tensor *t = NULL;
    kiln_status s = dir_of(path, &dir);
    if (s == KILN_OK)
        s = kn_value_decode(data, size, kind == KILN_VALUE_SEQUENCE ? KN_DTYPE_SEQUENCE : KN_DTYPE_OPTIONAL, dir,
                            path, &t);
    kn_free(dir);
    kn_free(data);
    if (s == KILN_OK)
        *out = t;
    return s;
}

KILN_API kiln_status kiln_tensor_read_pb_buffer(const void *data, size_t size, kiln_tensor **out)
{
    if ((!data && size) || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_tensor_read_pb_buffer: NULL argument");
    return read_pb(data, size, NULL, "TensorProto buffer", out);
}

static kiln_status check_writable(const kiln_tensor *t, const char *path, const char *fn)
{
    if (!t || !path)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: NULL argument", fn);
    if (!kn_dtype_known(t->dtype) || t->rank < 0 || t->rank > KN_MAX_RANK)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: %s: tensor has dtype %d and rank %d", fn, path, (int)t->dtype,
                        t->rank);
    if (t->nbytes && !t->data)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: %s: tensor has no data", fn, path);
    return KILN_OK;
}

KILN_API kiln_status kiln_tensor_write_pb(const kiln_tensor *tensor, const char *name, const char *path)
{
    KN_TRY(check_writable(tensor, path, "kiln_tensor_write_pb"));
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = (size_t)tensor->rank;
    tp.dims = (int64_t *)tensor->dims;
    tp.has_data_type = 1;
    tp.data_type = (int32_t)tensor->dtype;
    tp.name = name ? (char *)name : NULL;
    ProtobufCBinaryData *strings = NULL;
    uint8_t *packed = NULL;
    int bits = kn_dtype_packed_bits(tensor->dtype);
    if (bits == 4 || bits == 2) { /* unpacked in memory, packed in the file */
        size_t count = (size_t)kn_tensor_count(tensor), nb = kn_small_packed_bytes(tensor->dtype, count);
        packed = kn_malloc(nb ? nb : 1);
        if (!packed)
            return KN_NOMEM();
        kn_small_pack(tensor->dtype, tensor->data, count, packed);
        tp.has_raw_data = 1;
        tp.raw_data.len = nb;
        tp.raw_data.data = packed;
    } else if (tensor->dtype == KILN_DTYPE_STRING) {
        size_t count = (size_t)kn_tensor_count(tensor);
        strings = kn_calloc(count ? count : 1, sizeof *strings);
        if (!strings)
            return KN_NOMEM();
        char *const *s = tensor->data;
        for (size_t i = 0; i < count; i++) {
            strings[i].data = (uint8_t *)(s[i] ? s[i] : "");
            strings[i].len = s[i] ? strlen(s[i]) : 0;
        }
        tp.n_string_data = count;
        tp.string_data = strings;
    } else {
        tp.has_raw_data = 1;
        tp.raw_data.len = tensor->nbytes;
        tp.raw_data.data = tensor->data;
    }
    size_t size = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = kn_malloc(size);
    kiln_status s = buf ? KILN_OK : KN_NOMEM();
    if (s == KILN_OK) {
        onnx__tensor_proto__pack(&tp, buf);
        kn_chunk chunk = {buf, size};
        s = kn_write_file_atomic(path, &chunk, 1);
    }
    kn_free(buf);
    kn_free(strings);
    kn_free(packed);
    return s;
}

KILN_API kiln_status kiln_tensor_write_npy(const kiln_tensor *tensor, const char *path)
{
    KN_TRY(check_writable(tensor, path, "kiln_tensor_write_npy"));
    char *header;
    size_t hsize;
    kiln_status s = kn_npy_header(tensor, &header, &hsize);
    if (s != KILN_OK)
        return kn_error_prefix(s, "%s", path);
    kn_chunk chunks[2] = {{header, hsize}, {tensor->data, tensor->nbytes}};
    s = kn_write_file_atomic(path, chunks, 2);
    kn_free(header);
    return s;
}
