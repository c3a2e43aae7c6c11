/* SequenceProto and OptionalProto (onnx-data.proto) -> sequence / optional
 * values (core.h). Debian's onnx.proto, from which the protobuf-c code is
 * generated, lacks these two messages, so their few fields are decoded from
 * the wire format here; the TensorProtos inside go through the generated
 * code. Field numbers (the same in both messages): 1 name, 2 elem_type,
 * 3 tensor(s), 4 sparse tensor(s), 5 sequence(s), 6 map(s), 7 optional(s). */
#include "onnx/onnx_import.h"

#include <stdio.h>

/* elem_type values of both messages */
enum { ELEM_UNDEFINED = 0, ELEM_TENSOR = 1, ELEM_SPARSE = 2, ELEM_SEQUENCE = 3, ELEM_MAP = 4, ELEM_OPTIONAL = 5 };

static kiln_status decode(const uint8_t *p, const uint8_t *end, kiln_dtype kind, const char *base_dir,
                          const char *label, kiln_tensor **out);

static kiln_status bad(const char *label, const char *what)
{
    return kn_error(KILN_ERROR_PARSE, "%s: %s", label, what);
}

static kiln_status decode_tensor(const uint8_t *p, size_t size, const char *base_dir, const char *label,
                                 kiln_tensor **out)
{
    kn_pb_alloc a;
    ProtobufCMessage *msg;
    KN_TRY(kn_pb_unpack(&onnx__tensor_proto__descriptor, p, size, &a, label, &msg));
    kiln_status s = kn_tensor_decode((const Onnx__TensorProto *)msg, base_dir, label, out);
    protobuf_c_message_free_unpacked(msg, &a.base);
    if (s == KILN_ERROR_MODEL) { /* in a data file, a bad tensor is bad bytes (as in tensor_file.c) */
        char why[1024];
        snprintf(why, sizeof why, "%s", kn_error_message());
        s = kn_error(KILN_ERROR_PARSE, "%s", why);
    }
    return s;
}

/* One field's payload: a tensor (3), or in an optional a sequence (5),
 * becomes an item of l. Sparse tensors, maps and deeper nesting (sequences
 * of sequences, optionals of optionals) are not supported, which also
 * bounds the recursion. */
static kiln_status add_item(kn_list *l, kiln_dtype kind, uint64_t field, const uint8_t *p, size_t size,
                            const char *base_dir, const char *label)
{
    char sub[700];
    snprintf(sub, sizeof sub, "%.600s item %lld", label, (long long)l->n);
    kiln_tensor *item = NULL;
    if (field == 3)
        KN_TRY(decode_tensor(p, size, base_dir, sub, &item));
    else if (field == 5 && kind == KN_DTYPE_OPTIONAL)
        KN_TRY(decode(p, p + size, KN_DTYPE_SEQUENCE, base_dir, sub, &item));
    else
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: holds %s, kiln supports tensors and sequences of tensors",
                        label, field == 4 ? "sparse tensors" : field == 6 ? "maps" : "nested sequences or optionals");
    if (l->n && (l->items[0]->dtype != item->dtype)) {
        kn_tensor_free(item);
        return bad(label, "items of different types");
    }
    l->elem = item->dtype;
    return kn_list_insert(l, l->n, item);
}

static kiln_status decode_fields(const uint8_t *p, const uint8_t *end, kiln_dtype kind, const char *base_dir,
                                 const char *label, kn_list *l)
{
    uint64_t elem_type = ELEM_UNDEFINED;
    while (p < end) {
        uint64_t tag, v;
        if (!kn_pb_read_varint(&p, end, &tag))
            return bad(label, "protobuf decoding failed");
        uint64_t field = tag >> 3;
        switch (tag & 7) {
        case 0:
            if (!kn_pb_read_varint(&p, end, &v))
                return bad(label, "protobuf decoding failed");
            if (field == 2)
                elem_type = v;
            break;
        case 1:
        case 5: {
            size_t n = (tag & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < n)
                return bad(label, "protobuf decoding failed");
            p += n;
            break;
        }
        case 2:
            if (!kn_pb_read_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return bad(label, "protobuf decoding failed");
            if (field >= 3 && field <= 7) {
                if (kind == KN_DTYPE_OPTIONAL && l->n)
                    return bad(label, "an optional with more than one value");
                KN_TRY(add_item(l, kind, field, p, (size_t)v, base_dir, label));
            }
            p += v;
            break;
        default:
            return bad(label, "protobuf decoding failed");
        }
    }
    if (elem_type != ELEM_UNDEFINED && elem_type != ELEM_TENSOR && elem_type != ELEM_SEQUENCE)
        return kn_error(KILN_ERROR_UNSUPPORTED, "%s: element type %llu (sparse tensor, map or optional) is not "
                        "supported", label, (unsigned long long)elem_type);
    return KILN_OK;
}

static kiln_status decode(const uint8_t *p, const uint8_t *end, kiln_dtype kind, const char *base_dir,
                          const char *label, kiln_tensor **out)
{
    kiln_tensor *t;
    KN_TRY(kn_list_new(kind, KILN_DTYPE_UNDEFINED, &t));
    kiln_status s = decode_fields(p, end, kind, base_dir, label, t->data);
    if (s != KILN_OK) {
        kn_tensor_free(t);
        return s;
    }
    *out = t;
    return KILN_OK;
}

kiln_status kn_value_decode(const void *data, size_t size, kiln_dtype kind, const char *base_dir, const char *label,
                            kiln_tensor **out)
{
    if (!kn_dtype_is_container(kind))
        return kn_error(KILN_ERROR_INTERNAL, "kn_value_decode: dtype %d is not a sequence or optional", (int)kind);
    const uint8_t *p = size ? data : (const uint8_t *)"";
    return decode(p, p + size, kind, base_dir, label, out);
}
