/* Safe protobuf decoding: an allocator that goes through kn_malloc (so
 * allocation-failure injection covers decoding) and a wire-format pre-check
 * that bounds message nesting before protobuf-c recurses into it. */
#include "onnx/onnx_import.h"

/* Aligned like tensor data, so a decoded tensor can keep the buffer
 * protobuf-c copied its raw_data into (kn_tensor_decode_take) instead of
 * copying the elements once more. */
static void *pb_alloc(void *data, size_t size)
{
    kn_pb_alloc *a = data;
    void *p = kn_aligned_alloc(size);
    if (!p)
        a->failed = true;
    return p;
}

static void pb_free(void *data, void *ptr)
{
    KN_UNUSED(data);
    kn_aligned_free(ptr);
}

void kn_pb_alloc_init(kn_pb_alloc *a)
{
    a->base.alloc = pb_alloc;
    a->base.free = pb_free;
    a->base.allocator_data = a;
    a->failed = false;
}

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

static bool wire_ok(const uint8_t *p, const uint8_t *end, const ProtobufCMessageDescriptor *desc, int depth)
{
    if (depth > KN_PB_MAX_DEPTH)
        return false;
    while (p < end) {
        uint64_t tag, v;
        if (!read_varint(&p, end, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
            return false;
        switch (tag & 7) {
        case 0:
            if (!read_varint(&p, end, &v))
                return false;
            break;
        case 1:
            if (end - p < 8)
                return false;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return false;
            p += 4;
            break;
        case 2: {
            if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return false;
            const ProtobufCFieldDescriptor *f =
                desc ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3)) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && !wire_ok(p, p + v, f->descriptor, depth + 1))
                return false;
            p += v;
            break;
        }
        default: /* groups (3, 4) are not used by ONNX; 6, 7 do not exist */
            return false;
        }
    }
    return true;
}

bool kn_pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    return read_varint(p, end, v);
}

bool kn_pb_wire_ok(const uint8_t *data, size_t size, const ProtobufCMessageDescriptor *desc)
{
    if (size && !data)
        return false;
    return wire_ok(data, data + size, desc, 0);
}

kiln_status kn_pb_unpack(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                         kn_pb_alloc *a, const char *what, ProtobufCMessage **out)
{
    kn_pb_alloc_init(a);
    if (!kn_pb_wire_ok(data, size, desc))
        return kn_error(KILN_ERROR_PARSE, "%s: protobuf decoding failed", what);
    /* protobuf-c reads from a non-NULL pointer even for zero bytes. */
    static const uint8_t empty[1];
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a->base, size, size ? data : empty);
    if (!m) {
        if (a->failed)
            return KN_NOMEM();
        return kn_error(KILN_ERROR_PARSE, "%s: protobuf decoding failed", what);
    }
    *out = m;
    return KILN_OK;
}
