/* Write new BN statistics into the ORIGINAL model bytes: decode the
 * ModelProto with protobuf-c (which keeps unknown fields and repacks them),
 * swap the data of the mean/var initializers, repack. Everything else —
 * nodes, attributes, other initializers, opsets, metadata, training info,
 * functions — is repacked from what was decoded, untouched. */
#include "recal/recal.h"

#include "onnx/onnx_import.h"

#include <string.h>

static bool is_bn(const Onnx__NodeProto *n)
{
    return n->op_type && strcmp(n->op_type, "BatchNormalization") == 0 &&
           (!n->domain || n->domain[0] == 0 || strcmp(n->domain, "ai.onnx") == 0);
}

static int count_graph_uses(const Onnx__GraphProto *g, const char *name, int depth);

static int count_attr_uses(const Onnx__AttributeProto *a, const char *name, int depth)
{
    int uses = 0;
    if (a->g)
        uses += count_graph_uses(a->g, name, depth + 1);
    for (size_t i = 0; i < a->n_graphs; i++)
        uses += count_graph_uses(a->graphs[i], name, depth + 1);
    return uses;
}

/* Node inputs reading name, subgraphs included (they may read outer
 * values), and graph outputs naming it. */
static int count_graph_uses(const Onnx__GraphProto *g, const char *name, int depth)
{
    if (!g || depth > KN_PB_MAX_DEPTH)
        return 0;
    int uses = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        for (size_t k = 0; k < n->n_input; k++)
            if (n->input[k] && strcmp(n->input[k], name) == 0)
                uses++;
        for (size_t k = 0; k < n->n_attribute; k++)
            uses += count_attr_uses(n->attribute[k], name, depth);
    }
    for (size_t i = 0; i < g->n_output; i++)
        if (g->output[i]->name && strcmp(g->output[i]->name, name) == 0)
            uses++;
    return uses;
}

static Onnx__TensorProto *find_initializer(const Onnx__GraphProto *g, const char *name, int *copies)
{
    Onnx__TensorProto *found = NULL;
    *copies = 0;
    for (size_t i = 0; i < g->n_initializer; i++) {
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0) {
            found = g->initializer[i];
            (*copies)++;
        }
    }
    return found;
}

static const Onnx__NodeProto *find_bn_reading(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (is_bn(n) && ((n->n_input > 3 && strcmp(n->input[3], name) == 0) ||
                         (n->n_input > 4 && strcmp(n->input[4], name) == 0)))
            return n;
    }
    return NULL;
}

/* Where the original data of a replaced initializer is kept, to be put back
 * before protobuf-c frees the message. */
typedef struct saved_data {
    Onnx__TensorProto *t;
    protobuf_c_boolean has_raw;
    ProtobufCBinaryData raw;
    size_t n_float;
    float *floats;
    size_t n_external;
    Onnx__StringStringEntryProto **external;
    protobuf_c_boolean has_location;
    Onnx__TensorProto__DataLocation location;
} saved_data;

static kiln_status check_update(const Onnx__GraphProto *g, const kn_stat_update *u, Onnx__TensorProto **out)
{
    int copies = 0;
    Onnx__TensorProto *t = find_initializer(g, u->init_name, &copies);
    const Onnx__NodeProto *bn = find_bn_reading(g, u->init_name);
    if (!bn)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (BatchNormalization): no BatchNormalization node reads '%s'",
                        u->bn_name, u->init_name);
    if (!t)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (BatchNormalization): '%s' is not an initializer of the main graph", u->bn_name,
                        u->init_name);
    if (copies > 1)
        return kn_error(KILN_ERROR_MODEL, "initializer '%s' is defined %d times", u->init_name, copies);
    int uses = count_graph_uses(g, u->init_name, 0);
    if (uses != 1)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (BatchNormalization): initializer '%s' is read %d times; a shared statistic "
                        "cannot be recalibrated for one layer",
                        u->bn_name, u->init_name, uses);
    if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || t->n_dims != 1 ||
        t->dims[0] != u->count)
        return kn_error(KILN_ERROR_UNSUPPORTED, "initializer '%s' is not float32[%lld]", u->init_name,
                        (long long)u->count);
    *out = t;
    return KILN_OK;
}

static void restore(saved_data *s, int n)
{
    for (int i = 0; i < n; i++) {
        Onnx__TensorProto *t = s[i].t;
        kn_free(t->raw_data.data);
        t->has_raw_data = s[i].has_raw;
        t->raw_data = s[i].raw;
        t->n_float_data = s[i].n_float;
        t->float_data = s[i].floats;
        t->n_external_data = s[i].n_external;
        t->external_data = s[i].external;
        t->has_data_location = s[i].has_location;
        t->data_location = s[i].location;
    }
}

/* Little-endian float32 bytes, as TensorProto.raw_data stores them. */
static void put_floats(uint8_t *dst, const float *v, int64_t count)
{
    for (int64_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        dst[4 * i] = (uint8_t)bits;
        dst[4 * i + 1] = (uint8_t)(bits >> 8);
        dst[4 * i + 2] = (uint8_t)(bits >> 16);
        dst[4 * i + 3] = (uint8_t)(bits >> 24);
    }
}

static kiln_status apply(Onnx__ModelProto *model, const kn_stat_update *updates, int n_updates, saved_data *saved,
                         int *n_saved, void **out, size_t *out_size)
{
    const Onnx__GraphProto *g = model->graph;
    if (!g)
        return kn_error(KILN_ERROR_MODEL, "model has no graph");
    for (int i = 0; i < n_updates; i++) {
        Onnx__TensorProto *t = NULL;
        KN_TRY(check_update(g, &updates[i], &t));
        for (int k = 0; k < *n_saved; k++)
            if (saved[k].t == t)
                return kn_error(KILN_ERROR_UNSUPPORTED, "initializer '%s' is both a mean and a variance",
                                updates[i].init_name);
        size_t bytes = (size_t)updates[i].count * 4;
        uint8_t *raw = kn_malloc(bytes ? bytes : 1);
        if (!raw)
            return KN_NOMEM();
        put_floats(raw, updates[i].values, updates[i].count);
        saved_data *s = &saved[(*n_saved)++];
        *s = (saved_data){t, t->has_raw_data, t->raw_data, t->n_float_data, t->float_data, t->n_external_data,
                          t->external_data, t->has_data_location, t->data_location};
        t->has_raw_data = 1;
        t->raw_data.data = raw;
        t->raw_data.len = bytes;
        t->n_float_data = 0;
        t->float_data = NULL;
        /* Externally stored statistics become inline: the external file is
         * shared with the input model and must not change. */
        t->n_external_data = 0;
        t->external_data = NULL;
        if (t->has_data_location)
            t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
    }
    size_t size = onnx__model_proto__get_packed_size(model);
    uint8_t *buf = kn_malloc(size ? size : 1);
    if (!buf)
        return KN_NOMEM();
    size_t packed = onnx__model_proto__pack(model, buf);
    if (packed != size) {
        kn_free(buf);
        return kn_error(KILN_ERROR_INTERNAL, "model repacking wrote %zu of %zu bytes", packed, size);
    }
    *out = buf;
    *out_size = size;
    return KILN_OK;
}

kiln_status kn_recal_writeback(const void *model, size_t size, const kn_stat_update *updates, int n_updates,
                               void **out, size_t *out_size)
{
    kn_pb_alloc alloc;
    kn_pb_alloc_init(&alloc);
    ProtobufCMessage *msg = NULL;
    KN_TRY(kn_pb_unpack(&onnx__model_proto__descriptor, model, size, &alloc, "model", &msg));
    saved_data *saved = kn_calloc((size_t)(n_updates > 0 ? n_updates : 1), sizeof *saved);
    if (!saved) {
        protobuf_c_message_free_unpacked(msg, &alloc.base);
        return KN_NOMEM();
    }
    int n_saved = 0;
    kiln_status st = apply((Onnx__ModelProto *)msg, updates, n_updates, saved, &n_saved, out, out_size);
    restore(saved, n_saved);
    kn_free(saved);
    protobuf_c_message_free_unpacked(msg, &alloc.base);
    return st;
}
