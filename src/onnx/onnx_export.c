/* Writes the IR back as ONNX. The protobuf-c structs built here borrow
 * strings and tensor data from the graph; only the struct memory is ours,
 * tracked in a list and freed after packing. */
#include "core/dtype_small.h"
#include "graph/scope.h"
#include "onnx/onnx_export.h"
#include "onnx/onnx.pb-c.h"

#include <stdio.h>
#include <string.h>

typedef struct exporter {
    void **allocs;
    size_t n, cap;
    bool failed;
} exporter;

static void *ex_alloc(exporter *ex, size_t size)
{
    if (ex->failed)
        return NULL;
    if (ex->n == ex->cap) {
        size_t cap = ex->cap ? ex->cap * 2 : 256;
        void **a = kn_realloc(ex->allocs, cap * sizeof *a);
        if (!a) {
            ex->failed = true;
            return NULL;
        }
        ex->allocs = a;
        ex->cap = cap;
    }
    void *p = kn_calloc(1, size ? size : 1);
    if (!p) {
        ex->failed = true;
        return NULL;
    }
    ex->allocs[ex->n++] = p;
    return p;
}

/* Declares `type *var`, allocated and initialized (NULL on failure). */
#define EX_NEW(var, ex, type, init)          \
    type *var = ex_alloc(ex, sizeof(type));  \
    if (var)                                 \
    init(var)

static Onnx__TensorProto *tensor_proto(exporter *ex, const kiln_tensor *t, const char *name)
{
    EX_NEW(p, ex, Onnx__TensorProto, onnx__tensor_proto__init);
    if (!p)
        return NULL;
    p->n_dims = (size_t)t->rank;
    p->dims = ex_alloc(ex, sizeof(int64_t) * (size_t)(t->rank ? t->rank : 1));
    if (!p->dims)
        return NULL;
    memcpy(p->dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    p->has_data_type = 1;
    p->data_type = (int32_t)t->dtype;
    p->name = (char *)name;
    if (t->dtype == KILN_DTYPE_STRING) {
        int64_t n = kn_tensor_count(t);
        p->n_string_data = (size_t)n;
        p->string_data = ex_alloc(ex, sizeof(ProtobufCBinaryData) * (size_t)(n ? n : 1));
        if (!p->string_data)
            return NULL;
        char *const *s = t->data;
        for (int64_t i = 0; i < n; i++) {
            p->string_data[i].data = (uint8_t *)(s[i] ? s[i] : "");
            p->string_data[i].len = s[i] ? strlen(s[i]) : 0;
        }
    } else if (kn_dtype_packed_bits(t->dtype) == 4 || kn_dtype_packed_bits(t->dtype) == 2) {
        /* unpacked in memory, packed in the file */
        size_t count = (size_t)kn_tensor_count(t), nb = kn_small_packed_bytes(t->dtype, count);
        uint8_t *packed = ex_alloc(ex, nb);
        if (!packed)
            return NULL;
        kn_small_pack(t->dtype, t->data, count, packed);
        p->has_raw_data = 1;
        p->raw_data.data = packed;
        p->raw_data.len = nb;
    } else {
        p->has_raw_data = 1;
        p->raw_data.data = t->data;
        p->raw_data.len = t->nbytes;
    }
    return p;
}

/* A sequence or optional value's type: sequence_type / optional_type around
 * the item tensor type (dtype as declared, shape not kept). */
static Onnx__ValueInfoProto *container_info(exporter *ex, const kn_value *v, Onnx__ValueInfoProto *vi,
                                            Onnx__TypeProto *tp, Onnx__TypeProto__Tensor *tt)
{
    EX_NEW(item, ex, Onnx__TypeProto, onnx__type_proto__init);
    if (!item)
        return NULL;
    item->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    item->tensor_type = tt;
    if (v->item_dtype != KILN_DTYPE_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)v->item_dtype;
    }
    if (v->dtype == KN_DTYPE_SEQUENCE || v->item_is_sequence) {
        EX_NEW(seq, ex, Onnx__TypeProto__Sequence, onnx__type_proto__sequence__init);
        EX_NEW(holder, ex, Onnx__TypeProto, onnx__type_proto__init);
        if (!seq || !holder)
            return NULL;
        seq->elem_type = item;
        holder->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
        holder->sequence_type = seq;
        item = holder;
    }
    if (v->dtype == KN_DTYPE_SEQUENCE) {
        *tp = *item;
        return vi;
    }
    EX_NEW(opt, ex, Onnx__TypeProto__Optional, onnx__type_proto__optional__init);
    if (!opt)
        return NULL;
    opt->elem_type = item;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
    tp->optional_type = opt;
    return vi;
}

static Onnx__ValueInfoProto *value_info(exporter *ex, const kn_value *v)
{
    EX_NEW(vi, ex, Onnx__ValueInfoProto, onnx__value_info_proto__init);
    EX_NEW(tp, ex, Onnx__TypeProto, onnx__type_proto__init);
    EX_NEW(tt, ex, Onnx__TypeProto__Tensor, onnx__type_proto__tensor__init);
    if (!vi || !tp || !tt)
        return NULL;
    vi->name = v->name;
    vi->type = tp;
    if (kn_dtype_is_container(v->dtype))
        return container_info(ex, v, vi, tp, tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    const kiln_tensor *c = v->constant;
    kiln_dtype dtype = v->dtype != KILN_DTYPE_UNDEFINED ? v->dtype : c ? c->dtype : KILN_DTYPE_UNDEFINED;
    if (dtype != KILN_DTYPE_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)dtype;
    }
    int rank = v->rank >= 0 ? v->rank : c ? c->rank : -1;
    if (rank < 0)
        return vi;
    EX_NEW(sh, ex, Onnx__TensorShapeProto, onnx__tensor_shape_proto__init);
    if (!sh)
        return NULL;
    tt->shape = sh;
    sh->n_dim = (size_t)rank;
    sh->dim = ex_alloc(ex, sizeof(void *) * (size_t)(rank ? rank : 1));
    if (!sh->dim)
        return NULL;
    for (int d = 0; d < rank; d++) {
        EX_NEW(dim, ex, Onnx__TensorShapeProto__Dimension, onnx__tensor_shape_proto__dimension__init);
        if (!dim)
            return NULL;
        if (v->rank >= 0 && v->dims[d].symbol) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = v->dims[d].symbol;
        } else {
            int64_t val = v->rank >= 0 ? v->dims[d].value : c->dims[d];
            if (val >= 0) {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dim->dim_value = val;
            }
        }
        sh->dim[d] = dim;
    }
    return vi;
}

static Onnx__GraphProto *graph_proto(exporter *ex, const kn_graph *g);

/* protobuf-c allocation in the exporter's list, freed with the rest. */
static void *ex_pb_alloc(void *data, size_t size)
{
    return ex_alloc(data, size);
}

static void ex_pb_free(void *data, void *ptr)
{
    KN_UNUSED(data);
    KN_UNUSED(ptr);
}

static kiln_status attr_proto(exporter *ex, const kn_node *n, const kn_attr *a, Onnx__AttributeProto **out)
{
    EX_NEW(p, ex, Onnx__AttributeProto, onnx__attribute_proto__init);
    if (!p)
        return KN_NOMEM();
    p->name = a->name;
    p->has_type = 1;
    p->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case KN_ATTR_FLOAT: p->has_f = 1; p->f = a->f; break;
    case KN_ATTR_INT: p->has_i = 1; p->i = a->i; break;
    case KN_ATTR_STRING:
        p->has_s = 1;
        p->s.data = (uint8_t *)a->s;
        p->s.len = a->s_len;
        break;
    case KN_ATTR_TENSOR:
        p->t = tensor_proto(ex, a->t, a->t->name);
        break;
    case KN_ATTR_GRAPH:
        p->g = graph_proto(ex, a->g);
        break;
    case KN_ATTR_FLOATS: p->n_floats = a->count; p->floats = a->floats; break;
    case KN_ATTR_INTS: p->n_ints = a->count; p->ints = a->ints; break;
    case KN_ATTR_STRINGS:
        p->n_strings = a->count;
        p->strings = ex_alloc(ex, sizeof(ProtobufCBinaryData) * (a->count ? a->count : 1));
        for (size_t i = 0; p->strings && i < a->count; i++) {
            p->strings[i].data = (uint8_t *)a->strings[i];
            p->strings[i].len = strlen(a->strings[i]);
        }
        break;
    case KN_ATTR_TENSORS:
        p->n_tensors = a->count;
        p->tensors = ex_alloc(ex, sizeof(void *) * (a->count ? a->count : 1));
        for (size_t i = 0; p->tensors && i < a->count; i++)
            p->tensors[i] = tensor_proto(ex, a->tensors[i], a->tensors[i]->name);
        break;
    case KN_ATTR_GRAPHS:
        p->n_graphs = a->count;
        p->graphs = ex_alloc(ex, sizeof(void *) * (a->count ? a->count : 1));
        for (size_t i = 0; p->graphs && i < a->count; i++)
            p->graphs[i] = graph_proto(ex, a->graphs[i]);
        break;
    case KN_ATTR_TYPE_PROTO: { /* packed by the importer (none if the file had none) */
        if (!a->s)
            break;
        ProtobufCAllocator pa = {ex_pb_alloc, ex_pb_free, ex};
        p->tp = (Onnx__TypeProto *)protobuf_c_message_unpack(&onnx__type_proto__descriptor, &pa, a->s_len,
                                                             (const uint8_t *)a->s);
        if (!p->tp && !ex->failed)
            return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): attribute '%s' holds no valid type", n->name,
                            n->op_type, a->name);
        break;
    }
    default:
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): attribute '%s' of type %d cannot be written",
                        n->name, n->op_type, a->name, (int)a->type);
    }
    if (ex->failed)
        return KN_NOMEM();
    *out = p;
    return KILN_OK;
}

static Onnx__NodeProto *node_proto(exporter *ex, const kn_graph *g, const kn_node *n, kiln_status *st)
{
    EX_NEW(p, ex, Onnx__NodeProto, onnx__node_proto__init);
    if (!p)
        return NULL;
    p->name = n->name;
    p->op_type = n->op_type;
    p->domain = n->domain[0] ? n->domain : NULL;
    p->n_input = (size_t)kn_node_declared_inputs(n); /* without hidden outer-scope inputs */
    p->input = ex_alloc(ex, sizeof(char *) * (size_t)(n->n_in ? n->n_in : 1));
    p->n_output = (size_t)n->n_out;
    p->output = ex_alloc(ex, sizeof(char *) * (size_t)(n->n_out ? n->n_out : 1));
    p->n_attribute = (size_t)n->n_attrs;
    p->attribute = ex_alloc(ex, sizeof(void *) * (size_t)(n->n_attrs ? n->n_attrs : 1));
    if (!p->input || !p->output || !p->attribute)
        return NULL;
    for (int i = 0; i < n->n_in; i++)
        p->input[i] = n->in[i] >= 0 ? g->values[n->in[i]].name : "";
    for (int i = 0; i < n->n_out; i++)
        p->output[i] = n->out[i] >= 0 ? g->values[n->out[i]].name : "";
    p->n_attribute = 0;
    for (int i = 0; i < n->n_attrs; i++) {
        if (kn_attr_is_internal(&n->attrs[i]))
            continue;
        *st = attr_proto(ex, n, &n->attrs[i], &p->attribute[p->n_attribute++]);
        if (*st != KILN_OK)
            return NULL;
    }
    return p;
}

/* ---- kiln.FusedConv -> Conv [+ Add] [+ activation] ---------------------- */

typedef struct node_list {
    Onnx__NodeProto **nodes;
    size_t n;
    Onnx__TensorProto **inits;
    size_t n_inits;
} node_list;

static char *ex_name(exporter *ex, const char *base, const char *suffix)
{
    size_t n = strlen(base) + strlen(suffix) + 1;
    char *s = ex_alloc(ex, n);
    if (s)
        snprintf(s, n, "%s%s", base, suffix);
    return s;
}

static Onnx__NodeProto *simple_node(exporter *ex, const char *op, const char *name, int n_in, const char **in,
                                    const char *out)
{
    EX_NEW(p, ex, Onnx__NodeProto, onnx__node_proto__init);
    if (!p)
        return NULL;
    p->op_type = (char *)op;
    p->name = (char *)name;
    p->n_input = (size_t)n_in;
    p->input = ex_alloc(ex, sizeof(char *) * (size_t)n_in);
    p->n_output = 1;
    p->output = ex_alloc(ex, sizeof(char *));
    if (!p->input || !p->output)
        return NULL;
    for (int i = 0; i < n_in; i++)
        p->input[i] = (char *)in[i];
    p->output[0] = (char *)out;
    return p;
}

static Onnx__AttributeProto *float_attr(exporter *ex, const char *name, float v)
{
    EX_NEW(a, ex, Onnx__AttributeProto, onnx__attribute_proto__init);
    if (!a)
        return NULL;
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = v;
    return a;
}

static Onnx__TensorProto *scalar_f32(exporter *ex, const char *name, float v)
{
    EX_NEW(t, ex, Onnx__TensorProto, onnx__tensor_proto__init);
    float *d = ex_alloc(ex, sizeof(float));
    if (!t || !d)
        return NULL;
    *d = v;
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = KILN_DTYPE_FLOAT;
    t->has_raw_data = 1;
    t->raw_data.data = (uint8_t *)d;
    t->raw_data.len = sizeof(float);
    return t;
}

static kiln_status expand_fused_conv(exporter *ex, const kn_graph *g, const kn_node *n, node_list *out)
{
    kiln_status st = KILN_OK;
    const kn_attr *act_a = kn_node_attr(n, "activation");
    const kn_attr *al = kn_node_attr(n, "activation_alpha"), *be = kn_node_attr(n, "activation_beta");
    const char *act = act_a && act_a->s ? act_a->s : "";
    float alpha = al ? al->f : 0.0f, beta = be ? be->f : 0.0f;
    bool residual = n->n_in > 3 && n->in[3] >= 0;
    const char *final = g->values[n->out[0]].name;
    const char *cur = (residual || act[0]) ? ex_name(ex, final, "__conv") : final;
    /* the Conv, with Conv's own attributes only */
    kn_node conv = *n;
    conv.op_type = "Conv";
    conv.domain = "";
    conv.n_in = n->n_in > 3 ? 3 : n->n_in;
    kn_attr attrs[64];
    int na = 0;
    for (int i = 0; i < n->n_attrs && na < 64; i++)
        if (strncmp(n->attrs[i].name, "activation", 10) != 0)
            attrs[na++] = n->attrs[i];
    conv.attrs = attrs;
    conv.n_attrs = na;
    Onnx__NodeProto *cp = node_proto(ex, g, &conv, &st);
    if (!cp)
        return st != KILN_OK ? st : KN_NOMEM();
    cp->output[0] = (char *)cur;
    out->nodes[out->n++] = cp;
    if (residual) {
        const char *next = act[0] ? ex_name(ex, final, "__add") : final;
        const char *in[2] = {cur, g->values[n->in[3]].name};
        Onnx__NodeProto *p = simple_node(ex, "Add", ex_name(ex, n->name, "__add"), 2, in, next);
        if (!p)
            return KN_NOMEM();
        out->nodes[out->n++] = p;
        cur = next;
    }
    if (!act[0])
        return ex->failed ? KN_NOMEM() : KILN_OK;
    const char *in1[1] = {cur};
    Onnx__NodeProto *p = NULL;
    if (strcmp(act, "SiLU") == 0) {
        const char *sig = ex_name(ex, final, "__sigmoid");
        Onnx__NodeProto *s = simple_node(ex, "Sigmoid", ex_name(ex, n->name, "__sigmoid"), 1, in1, sig);
        const char *in2[2] = {cur, sig};
        p = simple_node(ex, "Mul", ex_name(ex, n->name, "__mul"), 2, in2, final);
        if (!s || !p)
            return KN_NOMEM();
        out->nodes[out->n++] = s;
    } else if (strcmp(act, "Clip") == 0) {
        if (kn_graph_opset(g, "") >= 11) {
            const char *mn = ex_name(ex, final, "__clip_min"), *mx = ex_name(ex, final, "__clip_max");
            const char *in3[3] = {cur, mn, mx};
            p = simple_node(ex, "Clip", ex_name(ex, n->name, "__clip"), 3, in3, final);
            Onnx__TensorProto *t1 = scalar_f32(ex, mn, alpha), *t2 = scalar_f32(ex, mx, beta);
            if (!p || !t1 || !t2)
                return KN_NOMEM();
            out->inits[out->n_inits++] = t1;
            out->inits[out->n_inits++] = t2;
        } else {
            p = simple_node(ex, "Clip", ex_name(ex, n->name, "__clip"), 1, in1, final);
            if (!p)
                return KN_NOMEM();
            p->n_attribute = 2;
            p->attribute = ex_alloc(ex, 2 * sizeof(void *));
            if (!p->attribute)
                return KN_NOMEM();
            p->attribute[0] = float_attr(ex, "min", alpha);
            p->attribute[1] = float_attr(ex, "max", beta);
        }
    } else {
        p = simple_node(ex, act, ex_name(ex, n->name, "__act"), 1, in1, final);
        if (!p)
            return KN_NOMEM();
        int nattr = strcmp(act, "LeakyRelu") == 0 ? 1 : strcmp(act, "HardSigmoid") == 0 ? 2 : 0;
        if (nattr) {
            p->n_attribute = (size_t)nattr;
            p->attribute = ex_alloc(ex, (size_t)nattr * sizeof(void *));
            if (!p->attribute)
                return KN_NOMEM();
            p->attribute[0] = float_attr(ex, "alpha", alpha);
            if (nattr == 2)
                p->attribute[1] = float_attr(ex, "beta", beta);
        }
    }
    out->nodes[out->n++] = p;
    return ex->failed ? KN_NOMEM() : KILN_OK;
}

static Onnx__GraphProto *graph_proto(exporter *ex, const kn_graph *g)
{
    EX_NEW(p, ex, Onnx__GraphProto, onnx__graph_proto__init);
    if (!p)
        return NULL;
    p->name = g->name ? g->name : "kiln";
    /* Constants that live nodes or outputs read become initializers. */
    bool *used = ex_alloc(ex, sizeof(bool) * (size_t)(g->n_values ? g->n_values : 1));
    if (!used)
        return NULL;
    int n_nodes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        n_nodes++;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0)
                used[n->in[k]] = true;
    }
    for (int i = 0; i < g->n_outputs; i++)
        used[g->outputs[i]] = true;
    size_t n_init = 0;
    for (int v = 0; v < g->n_values; v++)
        if (used[v] && g->values[v].constant)
            n_init++;
    /* a fused node expands to at most 4 nodes and 2 constants */
    p->initializer = ex_alloc(ex, sizeof(void *) * (n_init + 2 * (size_t)n_nodes + 1));
    p->node = ex_alloc(ex, sizeof(void *) * (size_t)(4 * n_nodes + 1));
    p->input = ex_alloc(ex, sizeof(void *) * (size_t)(g->n_inputs ? g->n_inputs : 1));
    p->output = ex_alloc(ex, sizeof(void *) * (size_t)(g->n_outputs ? g->n_outputs : 1));
    if (!p->initializer || !p->node || !p->input || !p->output)
        return NULL;
    for (int v = 0; v < g->n_values; v++)
        if (used[v] && g->values[v].constant)
            p->initializer[p->n_initializer++] = tensor_proto(ex, g->values[v].constant, g->values[v].name);
    for (int i = 0; i < g->n_inputs; i++)
        p->input[p->n_input++] = value_info(ex, &g->values[g->inputs[i]]);
    for (int i = 0; i < g->n_outputs; i++)
        p->output[p->n_output++] = value_info(ex, &g->values[g->outputs[i]]);
    kiln_status st = KILN_OK;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead)
            continue;
        if (strcmp(g->nodes[i].domain, "kiln") == 0 && strcmp(g->nodes[i].op_type, "FusedConv") == 0) {
            node_list nl = {p->node, p->n_node, p->initializer, p->n_initializer};
            st = expand_fused_conv(ex, g, &g->nodes[i], &nl);
            if (st != KILN_OK) {
                ex->failed = true;
                return NULL;
            }
            p->n_node = nl.n;
            p->n_initializer = nl.n_inits;
            continue;
        }
        if (strcmp(g->nodes[i].domain, "kiln") == 0) {
            kn_error(KILN_ERROR_INTERNAL, "node '%s': kiln-internal op %s has no ONNX form", g->nodes[i].name,
                     g->nodes[i].op_type);
            ex->failed = true;
            return NULL;
        }
        Onnx__NodeProto *np = node_proto(ex, g, &g->nodes[i], &st);
        if (!np) {
            if (st != KILN_OK)
                ex->failed = true;
            return NULL;
        }
        p->node[p->n_node++] = np;
    }
    return ex->failed ? NULL : p;
}

kiln_status kn_onnx_export(const kn_graph *g, const kn_export_meta *meta, void **data, size_t *size)
{
    exporter ex = {0};
    kiln_status st = KILN_OK;
    kn_error_clear();
    EX_NEW(m, &ex, Onnx__ModelProto, onnx__model_proto__init);
    if (m) {
        m->has_ir_version = 1;
        m->ir_version = meta->ir_version;
        m->producer_name = (char *)meta->producer_name;
        m->producer_version = (char *)meta->producer_version;
        m->domain = meta->domain && meta->domain[0] ? (char *)meta->domain : NULL;
        m->has_model_version = meta->model_version != 0;
        m->model_version = meta->model_version;
        m->doc_string = meta->doc_string && meta->doc_string[0] ? (char *)meta->doc_string : NULL;
        m->opset_import = ex_alloc(&ex, sizeof(void *) * (size_t)(g->n_opsets ? g->n_opsets : 1));
        for (int i = 0; m->opset_import && i < g->n_opsets; i++) {
            if (strcmp(g->opsets[i].domain, "kiln") == 0)
                continue; /* kiln's fused nodes are written as standard ops */
            EX_NEW(o, &ex, Onnx__OperatorSetIdProto, onnx__operator_set_id_proto__init);
            if (!o)
                break;
            o->domain = g->opsets[i].domain;
            o->has_version = 1;
            o->version = g->opsets[i].version;
            m->opset_import[m->n_opset_import++] = o;
        }
        m->graph = graph_proto(&ex, g);
    }
    if (ex.failed || !m || !m->graph) {
        /* a message from attr_proto explains unsupported attributes */
        st = kn_error_message()[0] ? KILN_ERROR_UNSUPPORTED : KN_NOMEM();
    } else {
        size_t n = onnx__model_proto__get_packed_size(m);
        uint8_t *buf = kn_malloc(n ? n : 1);
        if (!buf) {
            st = KN_NOMEM();
        } else {
            onnx__model_proto__pack(m, buf);
            *data = buf;
            *size = n;
        }
    }
    for (size_t i = 0; i < ex.n; i++)
        kn_free(ex.allocs[i]);
    kn_free(ex.allocs);
    return st;
}
