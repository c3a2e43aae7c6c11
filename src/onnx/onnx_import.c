/* ModelProto -> graph IR. Order matters: opsets first (nodes look up their
 * opset when added), then initializers, graph inputs and outputs (so a node
 * writing one of them is caught), then nodes, then value_info hints. */
#include "onnx/onnx_import.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

typedef struct import_ctx {
    const char *base_dir;
    int64_t param_count, param_bytes;
    ProtobufCAllocator *pb; /* allocator of the unpacked message */
} import_ctx;

static kiln_status import_graph(import_ctx *c, const Onnx__GraphProto *gp, kn_graph *g);

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static const char *norm_domain(const char *d)
{
    return d && strcmp(d, "ai.onnx") != 0 ? d : "";
}

static kiln_status dup_str(const char *s, char **out)
{
    *out = kn_strdup(str_or_empty(s));
    return *out ? KILN_OK : KN_NOMEM();
}

/* Once a tensor is decoded, elements it did not take over from the unpacked
 * message are dead weight: freeing them now, not with the whole message,
 * keeps the model's parameters in memory once instead of twice while the
 * graph is built.
 * protobuf-c's free skips the NULL fields later. */
static void drop_payload(const import_ctx *c, Onnx__TensorProto *tp)
{
    ProtobufCAllocator *a = c->pb;
    void **fields[] = {(void **)&tp->raw_data.data, (void **)&tp->float_data, (void **)&tp->int32_data,
                       (void **)&tp->int64_data, (void **)&tp->double_data, (void **)&tp->uint64_data};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (*fields[i])
            a->free(a->allocator_data, *fields[i]);
        *fields[i] = NULL;
    }
    tp->raw_data.len = 0;
    tp->n_float_data = tp->n_int32_data = tp->n_int64_data = tp->n_double_data = tp->n_uint64_data = 0;
}

/* ---- value types ---- */

static void clear_dims(kn_value *v)
{
    for (int d = 0; d < KN_MAX_RANK; d++) {
        kn_free(v->dims[d].symbol);
        v->dims[d].symbol = NULL;
        v->dims[d].value = 0;
    }
}

/* Copy a declared tensor type onto v. Sequences and optionals get the
 * internal dtypes KN_DTYPE_SEQUENCE / KN_DTYPE_OPTIONAL (their item types
 * are checked by the ops at run time); maps and element types kiln does not
 * know leave dtype UNDEFINED. strict: a shape kiln cannot represent is an
 * error rather than a hint to drop. */
static kiln_status apply_type(kn_value *v, const Onnx__TypeProto *tp, const char *what, bool strict)
{
    if (tp && (tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ||
               tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE)) {
        bool seq = tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
        v->dtype = seq ? KN_DTYPE_SEQUENCE : KN_DTYPE_OPTIONAL;
        v->rank = -1;
        const Onnx__TypeProto *item = seq ? (tp->sequence_type ? tp->sequence_type->elem_type : NULL)
                                          : (tp->optional_type ? tp->optional_type->elem_type : NULL);
        v->item_is_sequence = !seq && item && item->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
        if (v->item_is_sequence) /* an optional sequence: its items */
            item = item->sequence_type ? item->sequence_type->elem_type : NULL;
        if (item && item->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && item->tensor_type &&
            item->tensor_type->has_elem_type && kn_dtype_known((kiln_dtype)item->tensor_type->elem_type))
            v->item_dtype = (kiln_dtype)item->tensor_type->elem_type;
        return KILN_OK;
    }
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return KILN_OK;
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type && kn_dtype_known((kiln_dtype)tt->elem_type))
        v->dtype = (kiln_dtype)tt->elem_type;
    if (!tt->shape)
        return KILN_OK;
    size_t rank = tt->shape->n_dim;
    if (rank > KN_MAX_RANK) {
        if (strict)
            return kn_error(KILN_ERROR_UNSUPPORTED, "%s '%s': rank %zu exceeds kiln's limit of %d", what, v->name,
                            rank, KN_MAX_RANK);
        return KILN_OK;
    }
    kn_dim dims[KN_MAX_RANK];
    memset(dims, 0, sizeof dims);
    for (size_t i = 0; i < rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        dims[i].value = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0) {
            dims[i].value = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param &&
                   *d->dim_param) {
            dims[i].symbol = kn_strdup(d->dim_param);
            if (!dims[i].symbol) {
                for (size_t j = 0; j < i; j++)
                    kn_free(dims[j].symbol);
                return KN_NOMEM();
            }
        }
    }
    clear_dims(v);
    memcpy(v->dims, dims, sizeof dims);
    v->rank = (int)rank;
    return KILN_OK;
}

/* ---- attributes ---- */

/* Files written before AttributeProto.type existed say the type only by
 * which field is set. */
static int infer_attr_type(const Onnx__AttributeProto *ap)
{
    if (ap->n_floats) return KN_ATTR_FLOATS;
    if (ap->n_ints) return KN_ATTR_INTS;
    if (ap->n_strings) return KN_ATTR_STRINGS;
    if (ap->n_tensors) return KN_ATTR_TENSORS;
    if (ap->n_graphs) return KN_ATTR_GRAPHS;
    if (ap->t) return KN_ATTR_TENSOR;
    if (ap->g) return KN_ATTR_GRAPH;
    if (ap->has_s) return KN_ATTR_STRING;
    if (ap->has_i) return KN_ATTR_INT;
    if (ap->has_f) return KN_ATTR_FLOAT;
    return KN_ATTR_UNDEFINED;
}

static kiln_status import_subgraph(import_ctx *c, kn_graph *parent, const Onnx__GraphProto *gp, const char *where,
                                   kn_graph **out)
{
    if (!gp)
        return kn_error(KILN_ERROR_MODEL, "%s: graph attribute has no graph", where);
    kn_graph *sub;
    KN_TRY(kn_graph_new(&sub));
    /* Before any node is added: subgraph nodes take their opset from the
     * enclosing graph and may read its values. */
    sub->parent = parent;
    kiln_status s = import_graph(c, gp, sub);
    if (s != KILN_OK) {
        kn_graph_free(sub);
        return kn_error_prefix(s, "%s", where);
    }
    *out = sub;
    return KILN_OK;
}

static kiln_status copy_array(const void *src, size_t count, size_t elem, void **out)
{
    void *p = kn_malloc((count ? count : 1) * elem);
    if (!p)
        return KN_NOMEM();
    if (count)
        memcpy(p, src, count * elem);
    *out = p;
    return KILN_OK;
}

static kiln_status convert_attr_value(import_ctx *c, kn_graph *g, const Onnx__AttributeProto *ap,
                                      const char *where, kn_attr *a)
{
    char label[800];
    switch (a->type) {
    case KN_ATTR_FLOAT:
        a->f = ap->f;
        return KILN_OK;
    case KN_ATTR_INT:
        a->i = ap->i;
        return KILN_OK;
    case KN_ATTR_STRING:
        a->s = kn_strndup(ap->s.len ? (const char *)ap->s.data : "", ap->s.len);
        a->s_len = ap->s.len;
        return a->s ? KILN_OK : KN_NOMEM();
    case KN_ATTR_TENSOR:
        if (!ap->t)
            return kn_error(KILN_ERROR_MODEL, "%s: tensor attribute has no tensor", where);
        KN_TRY(kn_tensor_decode_take(ap->t, c->base_dir, where, &a->t));
        drop_payload(c, ap->t);
        return KILN_OK;
    case KN_ATTR_GRAPH:
        return import_subgraph(c, g, ap->g, where, &a->g);
    case KN_ATTR_FLOATS:
        a->count = ap->n_floats;
        return copy_array(ap->floats, ap->n_floats, sizeof(float), (void **)&a->floats);
    case KN_ATTR_INTS:
        a->count = ap->n_ints;
        return copy_array(ap->ints, ap->n_ints, sizeof(int64_t), (void **)&a->ints);
    case KN_ATTR_STRINGS:
        a->strings = kn_calloc(ap->n_strings ? ap->n_strings : 1, sizeof(char *));
        if (!a->strings)
            return KN_NOMEM();
        a->count = ap->n_strings;
        for (size_t i = 0; i < ap->n_strings; i++) {
            const ProtobufCBinaryData *s = &ap->strings[i];
            a->strings[i] = kn_strndup(s->len ? (const char *)s->data : "", s->len);
            if (!a->strings[i])
                return KN_NOMEM();
        }
        return KILN_OK;
    case KN_ATTR_TENSORS:
        a->tensors = kn_calloc(ap->n_tensors ? ap->n_tensors : 1, sizeof(kiln_tensor *));
        if (!a->tensors)
            return KN_NOMEM();
        a->count = ap->n_tensors;
        for (size_t i = 0; i < ap->n_tensors; i++) {
            snprintf(label, sizeof label, "%.700s[%zu]", where, i);
            KN_TRY(kn_tensor_decode(ap->tensors[i], c->base_dir, label, &a->tensors[i]));
        }
        return KILN_OK;
    case KN_ATTR_GRAPHS:
        a->graphs = kn_calloc(ap->n_graphs ? ap->n_graphs : 1, sizeof(kn_graph *));
        if (!a->graphs)
            return KN_NOMEM();
        a->count = ap->n_graphs;
        for (size_t i = 0; i < ap->n_graphs; i++) {
            snprintf(label, sizeof label, "%.700s[%zu]", where, i);
            KN_TRY(import_subgraph(c, g, ap->graphs[i], label, &a->graphs[i]));
        }
        return KILN_OK;
    case KN_ATTR_TYPE_PROTO:
        /* Kept packed (s, s_len) only to be written back when the model is
         * saved (Optional's type); no op reads it. */
        if (!ap->tp)
            return KILN_OK; /* written back as found: type only */
        a->s_len = onnx__type_proto__get_packed_size(ap->tp);
        a->s = kn_malloc(a->s_len + 1);
        if (!a->s)
            return KN_NOMEM();
        onnx__type_proto__pack(ap->tp, (uint8_t *)a->s);
        a->s[a->s_len] = 0;
        return KILN_OK;
    default:
        /* Sparse tensors and lists of type protos: no op kiln runs reads
         * them, so only the type is kept for an op to refuse by name. */
        return KILN_OK;
    }
}

static kiln_status convert_attr(import_ctx *c, kn_graph *g, const Onnx__AttributeProto *ap, const char *node_label,
                                kn_attr *a)
{
    if (!ap->name || !*ap->name)
        return kn_error(KILN_ERROR_MODEL, "%s: attribute with no name", node_label);
    a->name = kn_strdup(ap->name);
    if (!a->name)
        return KN_NOMEM();
    int type = ap->has_type ? (int)ap->type : infer_attr_type(ap);
    a->type = type >= KN_ATTR_FLOAT && type <= KN_ATTR_TYPE_PROTOS ? (kn_attr_type)type : KN_ATTR_UNDEFINED;
    char where[700];
    snprintf(where, sizeof where, "%.400s attribute '%.200s'", node_label, ap->name);
    return convert_attr_value(c, g, ap, where, a);
}

static void free_attrs(kn_attr *attrs, size_t n)
{
    if (!attrs)
        return;
    for (size_t i = 0; i < n; i++)
        kn_attr_clear(&attrs[i]);
    kn_free(attrs);
}

static kiln_status convert_attrs(import_ctx *c, kn_graph *g, const Onnx__NodeProto *np, const char *node_label,
                                 kn_attr **out)
{
    if (np->n_attribute > INT_MAX)
        return kn_error(KILN_ERROR_LIMIT, "%s: too many attributes", node_label);
    kn_attr *attrs = kn_calloc(np->n_attribute ? np->n_attribute : 1, sizeof *attrs);
    if (!attrs)
        return KN_NOMEM();
    kiln_status s = KILN_OK;
    for (size_t i = 0; i < np->n_attribute && s == KILN_OK; i++) {
        s = convert_attr(c, g, np->attribute[i], node_label, &attrs[i]);
        for (size_t j = 0; j < i && s == KILN_OK; j++)
            if (strcmp(attrs[j].name, attrs[i].name) == 0)
                s = kn_error(KILN_ERROR_MODEL, "%s: attribute '%s' is given twice", node_label, attrs[i].name);
    }
    if (s != KILN_OK) {
        free_attrs(attrs, np->n_attribute);
        return s;
    }
    *out = attrs;
    return KILN_OK;
}

/* ---- nodes ---- */

static kiln_status node_inputs(kn_graph *g, const Onnx__NodeProto *np, int *in)
{
    for (size_t i = 0; i < np->n_input; i++) {
        const char *name = np->input[i];
        in[i] = -1;
        if (name && *name)
            KN_TRY(kn_graph_value(g, name, &in[i]));
    }
    return KILN_OK;
}

/* Outputs must be new values: not an initializer, a graph input or another
 * node's output. The node's future index marks the values it produces. */
static kiln_status node_outputs(kn_graph *g, const Onnx__NodeProto *np, const char *node_label, int *out)
{
    int self = g->n_nodes;
    for (size_t i = 0; i < np->n_output; i++) {
        const char *name = np->output[i];
        out[i] = -1;
        if (!name || !*name)
            continue;
        int v = kn_graph_find(g, name);
        if (v >= 0) {
            const kn_value *val = &g->values[v];
            if (val->constant)
                return kn_error(KILN_ERROR_MODEL, "%s: output '%s' redefines an initializer", node_label, name);
            if (val->is_graph_input)
                return kn_error(KILN_ERROR_MODEL, "%s: output '%s' redefines a graph input", node_label, name);
            if (val->producer == self)
                return kn_error(KILN_ERROR_MODEL, "%s: output '%s' is listed twice", node_label, name);
            if (val->producer >= 0)
                return kn_error(KILN_ERROR_MODEL, "%s: output '%s' is already produced by node '%s'", node_label,
                                name, g->nodes[val->producer].name);
        } else {
            KN_TRY(kn_graph_value(g, name, &v));
        }
        g->values[v].producer = self;
        out[i] = v;
    }
    return KILN_OK;
}

static kiln_status import_node(import_ctx *c, kn_graph *g, const Onnx__NodeProto *np, size_t index)
{
    char label[400];
    const char *op = str_or_empty(np->op_type);
    const char *domain = norm_domain(np->domain);
    if (np->name && *np->name)
        snprintf(label, sizeof label, "node '%.200s' (%.100s)", np->name, op);
    else
        snprintf(label, sizeof label, "node #%zu (%.100s)", index, op);
    if (!*op)
        return kn_error(KILN_ERROR_MODEL, "%s: no op_type", label);
    if (!*domain && kn_graph_opset(g, "") <= 0)
        return kn_error(KILN_ERROR_MODEL, "%s: the model imports no opset for the default ONNX domain", label);
    if (np->n_input > INT_MAX / 2 || np->n_output > INT_MAX / 2)
        return kn_error(KILN_ERROR_LIMIT, "%s: too many inputs or outputs", label);
    int *in = kn_malloc((np->n_input ? np->n_input : 1) * sizeof(int));
    int *out = kn_malloc((np->n_output ? np->n_output : 1) * sizeof(int));
    kn_attr *attrs = NULL;
    kiln_status s = in && out ? KILN_OK : KN_NOMEM();
    if (s == KILN_OK)
        s = node_inputs(g, np, in);
    if (s == KILN_OK)
        s = node_outputs(g, np, label, out);
    if (s == KILN_OK)
        s = convert_attrs(c, g, np, label, &attrs);
    int idx = -1;
    if (s == KILN_OK)
        s = kn_graph_add_node(g, np->name, op, domain, (int)np->n_input, in, (int)np->n_output, out, &idx);
    if (s == KILN_OK) {
        g->nodes[idx].attrs = attrs;
        g->nodes[idx].n_attrs = (int)np->n_attribute;
    } else {
        free_attrs(attrs, np->n_attribute);
    }
    kn_free(in);
    kn_free(out);
    return s;
}

/* ---- graph ---- */

static kiln_status import_initializers(import_ctx *c, const Onnx__GraphProto *gp, kn_graph *g)
{
    char label[300];
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name)
            return kn_error(KILN_ERROR_MODEL, "graph '%s': initializer #%zu has no name", g->name, i);
        if (kn_graph_find(g, tp->name) >= 0)
            return kn_error(KILN_ERROR_MODEL, "graph '%s': duplicate initializer '%s'", g->name, tp->name);
        snprintf(label, sizeof label, "initializer '%.256s'", tp->name);
        kiln_tensor *t;
        KN_TRY(kn_tensor_decode_take(gp->initializer[i], c->base_dir, label, &t));
        drop_payload(c, gp->initializer[i]);
        int v;
        kiln_status s = kn_graph_value(g, tp->name, &v);
        if (s != KILN_OK) {
            kn_tensor_free(t);
            return s;
        }
        kn_value *val = &g->values[v];
        val->constant = t;
        val->is_initializer = true;
        val->dtype = t->dtype;
        val->rank = t->rank;
        for (int d = 0; d < t->rank; d++)
            val->dims[d].value = t->dims[d];
        c->param_count += kn_tensor_count(t);
        c->param_bytes += (int64_t)t->nbytes;
    }
    if (gp->n_sparse_initializer)
        return kn_error(KILN_ERROR_UNSUPPORTED, "graph '%s': sparse initializer '%s' is not supported", g->name,
                        gp->sparse_initializer[0]->values ? str_or_empty(gp->sparse_initializer[0]->values->name)
                                                          : "");
    return KILN_OK;
}

static kiln_status import_inputs(const Onnx__GraphProto *gp, kn_graph *g)
{
    g->inputs = kn_malloc((gp->n_input ? gp->n_input : 1) * sizeof(int));
    if (!g->inputs)
        return KN_NOMEM();
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !*vi->name)
            return kn_error(KILN_ERROR_MODEL, "graph '%s': input #%zu has no name", g->name, i);
        int v = kn_graph_find(g, vi->name);
        /* IR < 4 lists initializers among the inputs too: they stay constants. */
        if (v >= 0 && g->values[v].is_initializer)
            continue;
        if (v >= 0)
            return kn_error(KILN_ERROR_MODEL, "graph '%s': duplicate graph input '%s'", g->name, vi->name);
        KN_TRY(kn_graph_value(g, vi->name, &v));
        g->values[v].is_graph_input = true;
        g->inputs[g->n_inputs++] = v;
        KN_TRY(apply_type(&g->values[v], vi->type, "graph input", true));
    }
    return KILN_OK;
}

static kiln_status import_outputs(const Onnx__GraphProto *gp, kn_graph *g)
{
    g->outputs = kn_malloc((gp->n_output ? gp->n_output : 1) * sizeof(int));
    if (!g->outputs)
        return KN_NOMEM();
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi->name || !*vi->name)
            return kn_error(KILN_ERROR_MODEL, "graph '%s': output #%zu has no name", g->name, i);
        int v;
        KN_TRY(kn_graph_value(g, vi->name, &v));
        g->values[v].is_graph_output = true;
        g->outputs[g->n_outputs++] = v;
        if (!g->values[v].constant)
            KN_TRY(apply_type(&g->values[v], vi->type, "graph output", true));
    }
    return KILN_OK;
}

/* value_info only refines values the graph uses and declares nothing. */
static kiln_status import_value_info(const Onnx__GraphProto *gp, kn_graph *g)
{
    for (size_t i = 0; i < gp->n_value_info; i++) {
        const Onnx__ValueInfoProto *vi = gp->value_info[i];
        int v = vi->name && *vi->name ? kn_graph_find(g, vi->name) : -1;
        if (v < 0 || g->values[v].constant || g->values[v].is_graph_input)
            continue;
        KN_TRY(apply_type(&g->values[v], vi->type, "value_info", false));
    }
    return KILN_OK;
}

static kiln_status import_graph(import_ctx *c, const Onnx__GraphProto *gp, kn_graph *g)
{
    KN_TRY(dup_str(gp->name, &g->name));
    if (gp->n_node > INT_MAX / 2 || gp->n_initializer + gp->n_input + gp->n_output > INT_MAX / 2)
        return kn_error(KILN_ERROR_LIMIT, "graph '%s': too many nodes or values", g->name);
    KN_TRY(import_initializers(c, gp, g));
    KN_TRY(import_inputs(gp, g));
    KN_TRY(import_outputs(gp, g));
    for (size_t i = 0; i < gp->n_node; i++)
        KN_TRY(import_node(c, g, gp->node[i], i));
    return import_value_info(gp, g);
}

/* ---- model ---- */

static kiln_status import_opsets(const Onnx__ModelProto *mp, kn_graph *g)
{
    g->opsets = kn_calloc(mp->n_opset_import ? mp->n_opset_import : 1, sizeof(kn_opset));
    if (!g->opsets)
        return KN_NOMEM();
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        kn_opset *dst = &g->opsets[g->n_opsets];
        KN_TRY(dup_str(norm_domain(o->domain), &dst->domain));
        dst->version = o->has_version ? o->version : 0;
        g->n_opsets++;
    }
    return KILN_OK;
}

static kiln_status import_model(const Onnx__ModelProto *mp, const char *base_dir, ProtobufCAllocator *pb,
                                kn_model_file *mf)
{
    mf->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    mf->model_version = mp->has_model_version ? mp->model_version : 0;
    KN_TRY(dup_str(mp->producer_name, &mf->producer_name));
    KN_TRY(dup_str(mp->producer_version, &mf->producer_version));
    KN_TRY(dup_str(mp->domain, &mf->domain));
    KN_TRY(dup_str(mp->doc_string, &mf->doc_string));
    if (!mp->graph)
        return kn_error(KILN_ERROR_MODEL, "model has no graph");
    KN_TRY(kn_graph_new(&mf->graph));
    KN_TRY(import_opsets(mp, mf->graph));
    import_ctx c = {.base_dir = base_dir, .pb = pb};
    KN_TRY(import_graph(&c, mp->graph, mf->graph));
    mf->param_count = c.param_count;
    mf->param_bytes = c.param_bytes;
    mf->node_count = (size_t)mf->graph->n_nodes;
    return KILN_OK;
}

kiln_status kn_onnx_import_release(const void *data, size_t size, const char *base_dir, void (*release)(void *),
                                   void *release_arg, kn_model_file *out)
{
    kiln_status s = KILN_OK;
    if ((!data && size) || !out)
        s = kn_error(KILN_ERROR_ARGUMENT, "kn_onnx_import: NULL argument");
    else if (size == 0)
        s = kn_error(KILN_ERROR_PARSE, "not a valid ONNX model: no bytes");
    kn_pb_alloc a;
    ProtobufCMessage *msg = NULL;
    if (s == KILN_OK)
        s = kn_pb_unpack(&onnx__model_proto__descriptor, data, size, &a, "not a valid ONNX model", &msg);
    if (release)
        release(release_arg);
    if (s != KILN_OK)
        return s;
    kn_model_file mf;
    memset(&mf, 0, sizeof mf);
    s = import_model((const Onnx__ModelProto *)msg, base_dir, &a.base, &mf);
    protobuf_c_message_free_unpacked(msg, &a.base);
    if (s != KILN_OK) {
        kn_model_file_clear(&mf);
        return s;
    }
    *out = mf;
    return KILN_OK;
}

kiln_status kn_onnx_import(const void *data, size_t size, const char *base_dir, kn_model_file *out)
{
    return kn_onnx_import_release(data, size, base_dir, NULL, NULL, out);
}

void kn_model_file_clear(kn_model_file *m)
{
    if (!m)
        return;
    kn_graph_free(m->graph);
    kn_free(m->producer_name);
    kn_free(m->producer_version);
    kn_free(m->domain);
    kn_free(m->doc_string);
    memset(m, 0, sizeof *m);
}
