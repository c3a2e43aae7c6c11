/* Sequence ops: SequenceConstruct, SequenceEmpty, SequenceAt,
 * SequenceInsert, SequenceErase, SequenceLength, SplitToSequence,
 * ConcatFromSequence and SequenceMap.
 *
 * A sequence is a rank-0 tensor of dtype KN_DTYPE_SEQUENCE whose data is a
 * kn_list of owned tensors (core.h). What a sequence holds is only known
 * with its data, so infer() returns KN_NEED_VALUE until every input is
 * known and the planner runs these nodes as dynamic steps; outputs that
 * are sequences are then allocated empty and run() fills them. Sequences
 * are values: every op copies what it keeps, inputs are never modified. */
#include "graph/scope.h"
#include "ops/families.h"
#include "runtime/subgraph.h"

#include <string.h>

/* A sequence counts against KILN_LIMIT_TENSOR_ELEMENTS with all its items'
 * elements together, so a loop growing a sequence stops at the limit as a
 * growing tensor would. adding: an item about to join l (may be NULL). */
static kiln_status check_limit(const kn_op_ctx *c, const kn_list *l, const kiln_tensor *adding)
{
    const struct kiln_options *o = kn_limits_active();
    uint64_t max = o ? o->limits[KILN_LIMIT_TENSOR_ELEMENTS] : 0;
    if (!max)
        return KILN_OK;
    uint64_t total = adding ? (uint64_t)kn_tensor_count(adding) : 0;
    for (int64_t i = 0; i < l->n && total <= max; i++)
        total += (uint64_t)kn_tensor_count(l->items[i]);
    if (total <= max)
        return KILN_OK;
    return kn_error(KILN_ERROR_LIMIT, "node '%s' (%s): the output sequence would hold more than %llu elements (%s)",
                    c->node->name, c->node->op_type, (unsigned long long)max,
                    kn_limit_name(KILN_LIMIT_TENSOR_ELEMENTS));
}

static const char *node_op(const kn_op_ctx *c)
{
    return c->node->op_type;
}

/* Input i as a sequence (known data), or a clear error for anything else. */
static kiln_status seq_input(const kn_op_ctx *c, int i, const kn_list **out)
{
    const kiln_tensor *t = i < c->n_in ? c->in[i] : NULL;
    if (!t)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): input %d (a sequence) is missing", c->node->name,
                        node_op(c), i);
    if (t->dtype != KN_DTYPE_SEQUENCE)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input %d is %s %s, expected a sequence", c->node->name,
                        node_op(c), i, kn_dtype_is_container(t->dtype) ? "an" : "a tensor of",
                        kiln_dtype_name(t->dtype));
    if (!t->data)
        return KN_NEED_VALUE;
    *out = t->data;
    return KILN_OK;
}

/* Input i as a tensor (not a sequence/optional). */
static kiln_status tensor_input(const kn_op_ctx *c, int i, const char *what)
{
    if (c->in[i] && kn_dtype_is_container(c->in[i]->dtype))
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): %s is a%s %s, expected a tensor", c->node->name,
                        node_op(c), what, c->in[i]->dtype == KN_DTYPE_OPTIONAL ? "n" : "",
                        kiln_dtype_name(c->in[i]->dtype));
    return KILN_OK;
}

/* A tensor entering sequence l must have its element type. */
static kiln_status check_elem(const kn_op_ctx *c, const kn_list *l, const kiln_tensor *t, const char *what)
{
    kiln_dtype want = l->n ? l->items[0]->dtype : l->elem;
    if (want != KILN_DTYPE_UNDEFINED && t->dtype != want)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): %s is %s, the sequence holds %s", c->node->name,
                        node_op(c), what, kiln_dtype_name(t->dtype), kiln_dtype_name(want));
    return KILN_OK;
}

/* The scalar position input i (int32/int64, one element); *given false if
 * the input is omitted. */
static kiln_status position_input(const kn_op_ctx *c, int i, bool *given, int64_t *pos)
{
    *given = i < c->n_in && c->in[i];
    if (!*given)
        return KILN_OK;
    const kiln_tensor *t = c->in[i];
    KN_TRY(tensor_input(c, i, "position"));
    if ((t->dtype != KILN_DTYPE_INT64 && t->dtype != KILN_DTYPE_INT32) || kn_tensor_count(t) != 1)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): position must be one int32 or int64, got %s with %lld "
                        "elements", c->node->name, node_op(c), kiln_dtype_name(t->dtype),
                        (long long)kn_tensor_count(t));
    if (!t->data)
        return KN_NEED_VALUE;
    *pos = kn_tensor_get_i64(t, 0);
    return KILN_OK;
}

/* pos in [-n, n - 1 + extra] (extra 1 where the end is a valid insertion
 * point) to [0, n - 1 + extra]. */
static kiln_status norm_position(const kn_op_ctx *c, int64_t pos, int64_t n, int extra, int64_t *out)
{
    if (pos < -n || pos > n - 1 + extra)
        return kn_error(KILN_ERROR_ARGUMENT, "node '%s' (%s): position %lld is out of range for a sequence of %lld "
                        "tensors (accepted: %lld to %lld)", c->node->name, node_op(c), (long long)pos,
                        (long long)n, (long long)-n, (long long)(n - 1 + extra));
    *out = pos < 0 ? pos + n : pos;
    return KILN_OK;
}

/* infer for ops whose single output is a sequence made by run(). */
static kiln_status seq_output(kn_op_ctx *c)
{
    return kn_set_output(c, 0, KN_DTYPE_SEQUENCE, 0, NULL);
}

static kn_list *out_list(kn_op_ctx *c, int i)
{
    return c->out[i]->data;
}

/* ---- SequenceEmpty --------------------------------------------------------- */

static kiln_status empty_parse(kn_node *n)
{
    int64_t dt;
    KN_TRY(kn_attr_get_int(n, "dtype", KILN_DTYPE_FLOAT, &dt));
    if (dt < 0 || dt > 0xffff || !kn_dtype_known((kiln_dtype)dt))
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (SequenceEmpty): dtype %lld is not supported", n->name,
                        (long long)dt);
    kiln_dtype *p = kn_malloc(sizeof *p);
    if (!p)
        return KN_NOMEM();
    *p = (kiln_dtype)dt;
    n->params = p;
    return KILN_OK;
}

static kiln_status empty_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 0, 0, 1, 1));
    return seq_output(c);
}

static kiln_status empty_run(kn_op_ctx *c)
{
    out_list(c, 0)->elem = *(const kiln_dtype *)c->params;
    return KILN_OK;
}

/* ---- SequenceConstruct --------------------------------------------------- */

static kiln_status construct_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, c->n_in, 1, 1));
    for (int i = 0; i < c->n_in; i++) {
        if (!c->in[i])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (SequenceConstruct): input %d is missing", c->node->name, i);
        KN_TRY(tensor_input(c, i, "an input"));
        if (c->in[i]->dtype != c->in[0]->dtype)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (SequenceConstruct): input %d is %s, input 0 is %s",
                            c->node->name, i, kiln_dtype_name(c->in[i]->dtype), kiln_dtype_name(c->in[0]->dtype));
    }
    KN_TRY(kn_inputs_known(c));
    return seq_output(c);
}

static kiln_status construct_run(kn_op_ctx *c)
{
    kn_list *l = out_list(c, 0);
    l->elem = c->in[0]->dtype;
    for (int i = 0; i < c->n_in; i++) {
        KN_TRY(check_limit(c, l, c->in[i]));
        KN_TRY(kn_list_push_copy(l, c->in[i]));
    }
    return KILN_OK;
}

/* ---- SequenceLength ------------------------------------------------------- */

static kiln_status length_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kn_list *l;
    KN_TRY(seq_input(c, 0, &l));
    return kn_set_output(c, 0, KILN_DTYPE_INT64, 0, NULL);
}

static kiln_status length_run(kn_op_ctx *c)
{
    *(int64_t *)c->out[0]->data = ((const kn_list *)c->in[0]->data)->n;
    return KILN_OK;
}

/* ---- SequenceAt ------------------------------------------------------------ */

static kiln_status at_item(const kn_op_ctx *c, const kiln_tensor **item)
{
    const kn_list *l;
    KN_TRY(seq_input(c, 0, &l));
    bool given;
    int64_t pos = 0;
    KN_TRY(position_input(c, 1, &given, &pos));
    if (!given)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (SequenceAt): position is missing", c->node->name);
    KN_TRY(norm_position(c, pos, l->n, 0, &pos));
    *item = l->items[pos];
    return KILN_OK;
}

static kiln_status at_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    const kiln_tensor *item = NULL;
    KN_TRY(at_item(c, &item));
    return kn_set_output(c, 0, item->dtype, item->rank, item->dims);
}

static kiln_status at_run(kn_op_ctx *c)
{
    const kiln_tensor *item = NULL;
    KN_TRY(at_item(c, &item));
    return kn_tensor_copy_data(c->out[0], item);
}

/* ---- SequenceInsert / SequenceErase ---------------------------------------- */

static kiln_status insert_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 3, 1, 1));
    const kn_list *l;
    KN_TRY(seq_input(c, 0, &l));
    KN_TRY(tensor_input(c, 1, "the tensor to insert"));
    KN_TRY(check_elem(c, l, c->in[1], "the tensor to insert"));
    bool given;
    int64_t pos = 0;
    KN_TRY(position_input(c, 2, &given, &pos));
    if (given)
        KN_TRY(norm_position(c, pos, l->n, 1, &pos));
    KN_TRY(kn_inputs_known(c));
    return seq_output(c);
}

static kiln_status insert_run(kn_op_ctx *c)
{
    const kn_list *src = c->in[0]->data;
    kn_list *l = out_list(c, 0);
    bool given;
    int64_t pos = src->n;
    KN_TRY(position_input(c, 2, &given, &pos));
    KN_TRY(norm_position(c, pos, src->n, 1, &pos));
    KN_TRY(check_limit(c, src, c->in[1]));
    KN_TRY(kn_list_copy(l, src));
    l->elem = c->in[1]->dtype;
    kiln_tensor *t;
    KN_TRY(kn_tensor_clone(c->in[1], &t));
    return kn_list_insert(l, pos, t);
}

static kiln_status erase_position(const kn_op_ctx *c, const kn_list *l, int64_t *pos)
{
    bool given;
    *pos = -1; /* default: the last tensor */
    KN_TRY(position_input(c, 1, &given, pos));
    if (l->n == 0)
        return kn_error(KILN_ERROR_ARGUMENT, "node '%s' (SequenceErase): the sequence is empty", c->node->name);
    return norm_position(c, *pos, l->n, 0, pos);
}

static kiln_status erase_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 2, 1, 1));
    const kn_list *l;
    KN_TRY(seq_input(c, 0, &l));
    int64_t pos;
    KN_TRY(erase_position(c, l, &pos));
    return seq_output(c);
}

static kiln_status erase_run(kn_op_ctx *c)
{
    const kn_list *src = c->in[0]->data;
    kn_list *l = out_list(c, 0);
    int64_t pos;
    KN_TRY(erase_position(c, src, &pos));
    l->elem = src->elem;
    for (int64_t i = 0; i < src->n; i++)
        if (i != pos)
            KN_TRY(kn_list_push_copy(l, src->items[i]));
    return KILN_OK;
}

/* ---- SplitToSequence -------------------------------------------------------- */

typedef struct split_params {
    int64_t axis, keepdims;
} split_params;

static kiln_status split_parse(kn_node *n)
{
    split_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "axis", 0, &p->axis);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "keepdims", 1, &p->keepdims);
    if (s == KILN_OK && p->keepdims != 0 && p->keepdims != 1)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (SplitToSequence): keepdims is %lld, expected 0 or 1", n->name,
                     (long long)p->keepdims);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* Chunk sizes along the axis: from split (scalar: equal chunks, the last
 * one smaller; 1-D: the sizes, which must add up to the axis) or 1 each. */
typedef struct split_plan {
    int axis;
    bool squeeze;
    int64_t n;
    int64_t *sizes; /* n entries, kn_malloc'd */
} split_plan;

static kiln_status split_make_plan(const kn_op_ctx *c, split_plan *sp)
{
    const split_params *p = c->params;
    const kiln_tensor *x = c->in[0], *split = c->n_in > 1 ? c->in[1] : NULL;
    KN_TRY(tensor_input(c, 0, "input"));
    if (x->rank < 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (SplitToSequence): input is a scalar", c->node->name);
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    int64_t dim = x->dims[axis], n = 0, scalar = 0;
    if (split) {
        KN_TRY(tensor_input(c, 1, "split"));
        if ((split->dtype != KILN_DTYPE_INT64 && split->dtype != KILN_DTYPE_INT32) || split->rank > 1)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (SplitToSequence): split must be an int32/int64 scalar or "
                            "1-D tensor, got %s of rank %d", c->node->name, kiln_dtype_name(split->dtype),
                            split->rank);
        if (!split->data && split->nbytes)
            return KN_NEED_VALUE;
        if (split->rank == 0) {
            scalar = kn_tensor_get_i64(split, 0);
            if (scalar <= 0)
                return kn_error(KILN_ERROR_MODEL, "node '%s' (SplitToSequence): split is %lld, expected > 0",
                                c->node->name, (long long)scalar);
            n = dim / scalar + (dim % scalar != 0);
        } else {
            n = split->dims[0];
        }
    } else {
        n = dim;
    }
    int64_t *sizes = kn_malloc((size_t)(n ? n : 1) * sizeof *sizes);
    if (!sizes)
        return KN_NOMEM();
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!split)
            sizes[i] = 1;
        else if (split->rank == 0)
            sizes[i] = KN_MIN(scalar, dim - i * scalar);
        else
            sizes[i] = kn_tensor_get_i64(split, i);
        if (sizes[i] < 0 || sizes[i] > dim - total) {
            kn_free(sizes);
            return kn_error(KILN_ERROR_MODEL, "node '%s' (SplitToSequence): split sizes do not add up to the %lld "
                            "entries of axis %d (or one is negative)", c->node->name, (long long)dim, axis);
        }
        total += sizes[i];
    }
    if (total != dim) {
        kn_free(sizes);
        return kn_error(KILN_ERROR_MODEL, "node '%s' (SplitToSequence): split sizes add up to %lld, axis %d has %lld",
                        c->node->name, (long long)total, axis, (long long)dim);
    }
    sp->axis = axis;
    sp->squeeze = !split && !p->keepdims; /* keepdims applies only without split */
    sp->n = n;
    sp->sizes = sizes;
    return KILN_OK;
}

static kiln_status split_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 2, 1, 1));
    split_plan sp;
    KN_TRY(split_make_plan(c, &sp));
    kn_free(sp.sizes);
    KN_TRY(kn_inputs_known(c));
    return seq_output(c);
}

static kiln_status split_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    split_plan sp;
    KN_TRY(split_make_plan(c, &sp));
    kn_list *l = out_list(c, 0);
    l->elem = x->dtype;
    int64_t strides[KN_MAX_RANK];
    kn_contiguous_strides(x->rank, x->dims, strides);
    size_t esz = x->dtype == KILN_DTYPE_STRING ? sizeof(char *) : kiln_dtype_size(x->dtype);
    kiln_status s = KILN_OK;
    int64_t start = 0;
    for (int64_t k = 0; k < sp.n && s == KILN_OK; k++) {
        int64_t dims[KN_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[sp.axis] = sp.sizes[k];
        kiln_tensor *part = NULL;
        s = kn_tensor_new(x->dtype, x->rank, dims, &part);
        if (s != KILN_OK)
            break;
        if (kn_tensor_count(part)) {
            const char *src = (const char *)x->data + (size_t)(start * strides[sp.axis]) * esz;
            kn_copy_view(part->data, src, x->rank, dims, strides, esz);
        }
        if (x->dtype == KILN_DTYPE_STRING) { /* the view copied the input's pointers: own copies */
            char **d = part->data;
            for (int64_t i = 0, n = kn_tensor_count(part); i < n; i++) {
                char *dup = kn_strdup(d[i] ? d[i] : "");
                if (!dup) {
                    for (int64_t j = i; j < n; j++)
                        d[j] = NULL; /* still the input's: not ours to free */
                    s = KN_NOMEM();
                    break;
                }
                d[i] = dup;
            }
        }
        if (s == KILN_OK && sp.squeeze) {
            for (int d = sp.axis; d + 1 < x->rank; d++)
                part->dims[d] = part->dims[d + 1];
            part->dims[--part->rank] = 0;
        }
        if (s != KILN_OK) {
            kn_tensor_free(part);
            break;
        }
        s = kn_list_insert(l, l->n, part);
        start += sp.sizes[k];
    }
    kn_free(sp.sizes);
    return s;
}

/* ---- ConcatFromSequence ------------------------------------------------------ */

typedef struct concat_params {
    int64_t axis, new_axis;
} concat_params;

static kiln_status concat_parse(kn_node *n)
{
    concat_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_require_int(n, "axis", &p->axis);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "new_axis", 0, &p->new_axis);
    if (s == KILN_OK && p->new_axis != 0 && p->new_axis != 1)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (ConcatFromSequence): new_axis is %lld, expected 0 or 1", n->name,
                     (long long)p->new_axis);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* Output shape and normalized axis; items must agree on dtype and on every
 * dim but the axis (all dims with new_axis). */
static kiln_status concat_shape(const kn_op_ctx *c, const kn_list *l, int *axis_out, int *rank_out, int64_t *dims)
{
    const concat_params *p = c->params;
    if (l->n == 0)
        return kn_error(KILN_ERROR_ARGUMENT, "node '%s' (ConcatFromSequence): the sequence is empty", c->node->name);
    const kiln_tensor *t0 = l->items[0];
    int rank = t0->rank + (int)p->new_axis;
    if (rank < 1 || rank > KN_MAX_RANK)
        return kn_error(rank < 1 ? KILN_ERROR_SHAPE : KILN_ERROR_UNSUPPORTED,
                        "node '%s' (ConcatFromSequence): cannot concatenate tensors of rank %d", c->node->name,
                        t0->rank);
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, rank, &axis));
    int64_t total = 0;
    for (int64_t i = 0; i < l->n; i++) {
        const kiln_tensor *t = l->items[i];
        bool same = t->dtype == t0->dtype && t->rank == t0->rank;
        for (int d = 0; same && d < t0->rank; d++)
            same = t->dims[d] == t0->dims[d] || (!p->new_axis && d == axis);
        if (!same) {
            char a[128], b[128];
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (ConcatFromSequence): tensor %lld is %s%s, tensor 0 is %s%s",
                            c->node->name, (long long)i, kiln_dtype_name(t->dtype), kn_shape_str(t, a, sizeof a),
                            kiln_dtype_name(t0->dtype), kn_shape_str(t0, b, sizeof b));
        }
        int64_t share = p->new_axis ? 1 : t->dims[axis];
        if (share > INT64_MAX - total)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (ConcatFromSequence): the concatenated axis overflows",
                            c->node->name);
        total += share;
    }
    /* new_axis inserts the axis before t0's dim `axis`; else it replaces it */
    for (int d = 0, k = 0; d < rank; d++) {
        if (d == axis) {
            dims[d] = total;
            k += !p->new_axis;
        } else {
            dims[d] = t0->dims[k++];
        }
    }
    *axis_out = axis;
    *rank_out = rank;
    return KILN_OK;
}

static kiln_status concat_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kn_list *l;
    KN_TRY(seq_input(c, 0, &l));
    int axis, rank;
    int64_t dims[KN_MAX_RANK];
    KN_TRY(concat_shape(c, l, &axis, &rank, dims));
    return kn_set_output(c, 0, l->items[0]->dtype, rank, dims);
}

static kiln_status concat_run(kn_op_ctx *c)
{
    const kn_list *l = c->in[0]->data;
    kiln_tensor *y = c->out[0];
    int axis, rank;
    int64_t dims[KN_MAX_RANK];
    KN_TRY(concat_shape(c, l, &axis, &rank, dims));
    /* y viewed as [outer, total, inner]; item i fills [outer, its share, inner]. */
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= dims[d];
    for (int d = axis + 1; d < rank; d++)
        inner *= dims[d];
    bool strings = y->dtype == KILN_DTYPE_STRING;
    size_t esz = strings ? sizeof(char *) : kiln_dtype_size(y->dtype);
    int64_t offset = 0;
    for (int64_t i = 0; i < l->n; i++) {
        const kiln_tensor *t = l->items[i];
        int64_t share = ((const concat_params *)c->params)->new_axis ? 1 : t->dims[axis];
        for (int64_t o = 0; o < outer && share; o++) {
            char *dst = (char *)y->data + (size_t)((o * dims[axis] + offset) * inner) * esz;
            const char *src = (const char *)t->data + (size_t)(o * share * inner) * esz;
            if (!strings) {
                memcpy(dst, src, (size_t)(share * inner) * esz);
                continue;
            }
            char **d = (char **)dst;
            char *const *s = (char *const *)src;
            for (int64_t e = 0; e < share * inner; e++) {
                d[e] = kn_strdup(s[e] ? s[e] : "");
                if (!d[e])
                    return KN_NOMEM();
            }
        }
        offset += share;
    }
    return KILN_OK;
}

/* ---- SequenceMap -------------------------------------------------------------- */

typedef struct map_params {
    const kn_graph *body;
    int n_declared; /* inputs declared in the model */
    int n_outer;    /* hidden outer-scope inputs that follow */
    const char **outer_names;
} map_params;

static void map_free_params(void *params)
{
    map_params *p = params;
    if (!p)
        return;
    kn_free(p->outer_names);
    kn_free(p);
}

static kiln_status map_parse_body(kn_node *n, map_params *p)
{
    KN_TRY(kn_node_outer_names(n, &p->outer_names, &p->n_outer));
    p->n_declared = kn_node_declared_inputs(n);
    if (p->n_declared + p->n_outer != n->n_in)
        return kn_error(KILN_ERROR_INTERNAL, "node '%s' (SequenceMap): outer-scope values of the body are not bound",
                        n->name);
    const kn_attr *a = kn_node_attr(n, "body");
    if (!a || a->type != KN_ATTR_GRAPH || !a->g)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (SequenceMap): attribute body is missing or not a graph",
                        n->name);
    p->body = a->g;
    for (int i = 0; i < p->body->n_nodes; i++)
        if (!p->body->nodes[i].dead && !p->body->nodes[i].op)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (SequenceMap): body node '%s' (%s) is not supported",
                            n->name, p->body->nodes[i].name, p->body->nodes[i].op_type);
    if (p->n_declared < 1 || p->body->n_inputs != p->n_declared || p->body->n_outputs != n->n_out)
        return kn_error(KILN_ERROR_MODEL,
                        "node '%s' (SequenceMap): %d inputs and %d outputs, the body has %d and %d (they must match)",
                        n->name, p->n_declared, n->n_out, p->body->n_inputs, p->body->n_outputs);
    return KILN_OK;
}

static kiln_status map_parse(kn_node *n)
{
    map_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = map_parse_body(n, p);
    if (s != KILN_OK) {
        map_free_params(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* Body nodes get the per-model preparation main-graph nodes get. */
static kiln_status map_finalize(const kn_graph *g, kn_node *node, kn_isa_level isa)
{
    KN_UNUSED(g);
    const kn_graph *body = ((const map_params *)node->params)->body;
    for (int i = 0; i < body->n_nodes; i++) {
        kn_node *n = &body->nodes[i];
        if (!n->dead && n->op && n->op->finalize)
            KN_TRY(n->op->finalize(body, n, isa));
    }
    return KILN_OK;
}

/* Iterations: the length of input 0, which every other sequence input must
 * share (tensor inputs are passed whole to each iteration). */
static kiln_status map_length(const kn_op_ctx *c, int64_t *len)
{
    const map_params *p = c->params;
    const kn_list *l0;
    KN_TRY(seq_input(c, 0, &l0));
    for (int i = 1; i < p->n_declared; i++) {
        const kiln_tensor *t = c->in[i];
        if (!t)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (SequenceMap): input %d is missing", c->node->name, i);
        if (t->dtype == KN_DTYPE_OPTIONAL)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (SequenceMap): input %d is an optional, expected a sequence "
                            "or tensor", c->node->name, i);
        const kn_list *l = kn_list_of(t);
        if (t->dtype == KN_DTYPE_SEQUENCE && !l)
            return KN_NEED_VALUE;
        if (l && l->n != l0->n)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (SequenceMap): sequence input %d has %lld tensors, input 0 "
                            "has %lld", c->node->name, i, (long long)l->n, (long long)l0->n);
    }
    *len = l0->n;
    return KILN_OK;
}

static kiln_status map_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, c->n_in, 1, c->n_out));
    int64_t len;
    KN_TRY(map_length(c, &len));
    KN_TRY(kn_inputs_known(c));
    for (int i = 0; i < c->n_out; i++)
        KN_TRY(kn_set_output(c, i, KN_DTYPE_SEQUENCE, 0, NULL));
    return KILN_OK;
}

static kiln_status map_iterations(kn_op_ctx *c, kn_subgraph_exec *e, int64_t len, const kiln_tensor **body_in,
                                  kiln_tensor **body_out)
{
    const map_params *p = c->params;
    for (int64_t it = 0; it < len; it++) {
        for (int i = 0; i < p->n_declared; i++) {
            const kn_list *l = kn_list_of(c->in[i]);
            body_in[i] = l ? l->items[it] : c->in[i];
        }
        KN_TRY(kn_subgraph_exec_run(e, body_in, p->n_declared, body_out));
        kiln_status s = KILN_OK;
        for (int k = 0; k < c->n_out; k++) {
            kiln_tensor *r = body_out[k];
            body_out[k] = NULL;
            if (s == KILN_OK && kn_dtype_is_container(r->dtype))
                s = kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (SequenceMap): body output %d is a %s; sequences "
                             "of tensors only", c->node->name, k, kiln_dtype_name(r->dtype));
            if (s != KILN_OK || !c->out[k]) {
                kn_tensor_free(r);
                continue;
            }
            kn_list *l = out_list(c, k);
            if (l->n && l->items[0]->dtype != r->dtype)
                s = kn_error(KILN_ERROR_DTYPE, "node '%s' (SequenceMap): body output %d is %s in iteration %lld, "
                             "%s before", c->node->name, k, kiln_dtype_name(r->dtype), (long long)it,
                             kiln_dtype_name(l->items[0]->dtype));
            l->elem = r->dtype;
            if (s == KILN_OK)
                s = check_limit(c, l, r);
            if (s == KILN_OK)
                s = kn_list_insert(l, l->n, r);
            else
                kn_tensor_free(r);
        }
        KN_TRY(s);
    }
    return KILN_OK;
}

static kiln_status map_run(kn_op_ctx *c)
{
    const map_params *p = c->params;
    int64_t len;
    KN_TRY(map_length(c, &len));
    /* With no iteration the outputs' item types come from the body. */
    for (int k = 0; k < c->n_out; k++) {
        kiln_dtype dt = p->body->values[p->body->outputs[k]].dtype;
        if (c->out[k] && kn_dtype_known(dt))
            out_list(c, k)->elem = dt;
    }
    kn_scope scope = {p->n_outer, p->outer_names, c->in + p->n_declared};
    kn_subgraph_exec *e = NULL;
    KN_TRY(kn_subgraph_exec_new(p->body, &scope, c->pool, c->isa, &e));
    const kiln_tensor **body_in = kn_calloc((size_t)p->n_declared, sizeof *body_in);
    kiln_tensor **body_out = kn_calloc((size_t)c->n_out, sizeof *body_out);
    kiln_status s = body_in && body_out ? map_iterations(c, e, len, body_in, body_out) : KN_NOMEM();
    kn_free(body_in);
    kn_free(body_out);
    kn_subgraph_exec_free(e);
    if (s != KILN_OK)
        return kn_error_prefix(s, "node '%s' (SequenceMap)", c->node->name);
    return KILN_OK;
}

#define SEQ_OP(nm, since, ...) \
    {.domain = "", .name = nm, .since_min = since, .since_max = 0, .flags = KN_OP_CONTAINERS, __VA_ARGS__}

/* Items are moved, never computed on: every tensor type. .types can only
 * name the dtypes of a tensor input (type_input); ops whose first input is
 * a sequence leave it NULL and check items themselves. */
static const kiln_dtype item_types[] = {
    KILN_DTYPE_FLOAT,  KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16,   KILN_DTYPE_BFLOAT16,   KILN_DTYPE_INT8,
    KILN_DTYPE_INT16,  KILN_DTYPE_INT32,  KILN_DTYPE_INT64,     KILN_DTYPE_UINT8,      KILN_DTYPE_UINT16,
    KILN_DTYPE_UINT32, KILN_DTYPE_UINT64, KILN_DTYPE_BOOL,      KILN_DTYPE_STRING,     KILN_DTYPE_COMPLEX64,
    KILN_DTYPE_COMPLEX128, KILN_DTYPE_UNDEFINED};

const kn_op kn_ops_sequence[] = {
    SEQ_OP("SequenceEmpty", 11, .parse = empty_parse, .infer = empty_infer, .run = empty_run),
    SEQ_OP("SequenceConstruct", 11, .infer = construct_infer, .run = construct_run, .types = item_types),
    SEQ_OP("SequenceLength", 11, .infer = length_infer, .run = length_run),
    SEQ_OP("SequenceAt", 11, .infer = at_infer, .run = at_run),
    SEQ_OP("SequenceInsert", 11, .infer = insert_infer, .run = insert_run, .types = item_types, .type_input = 1),
    SEQ_OP("SequenceErase", 11, .infer = erase_infer, .run = erase_run),
    SEQ_OP("SplitToSequence", 11, .parse = split_parse, .infer = split_infer, .run = split_run,
           .types = item_types),
    SEQ_OP("ConcatFromSequence", 11, .parse = concat_parse, .infer = concat_infer, .run = concat_run),
    SEQ_OP("SequenceMap", 17, .parse = map_parse, .free_params = map_free_params, .infer = map_infer,
           .run = map_run, .finalize = map_finalize),
};
KN_FAMILY_COUNT(sequence);
