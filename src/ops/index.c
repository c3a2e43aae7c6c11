/* Index family: ops that select, combine or scatter elements by position
 * (Concat, Split, Slice, Gather*, Scatter*, Range, NonZero, Trilu, CumSum,
 * CumProd, TopK). Data movement is by element byte size, so any fixed-size dtype
 * works; STRING elements move as pointers that kn_eval_node replaces by
 * owned copies (KN_OP_BORROWS_STRINGS).
 * These ops run at plan time on shape subgraphs (Shape -> Gather -> Concat
 * -> Reshape), so everything on int64 is exact. */
#include "ops/families.h"

#include <math.h>
#include <string.h>

/* ---- shared helpers --------------------------------------------------- */

#define MAX_SPLIT_OUTPUTS 256

static kiln_status elem_size(const kn_op_ctx *c, int i, size_t *esz)
{
    kiln_dtype dt = c->in[i]->dtype;
    size_t s = kn_elem_size(dt);
    if (s == 0)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): input %d has dtype %s, which kiln cannot move",
                        c->node->name, c->node->op_type, i, kiln_dtype_name(dt));
    *esz = s;
    return KILN_OK;
}

static kiln_status check_index_dtype(const kn_op_ctx *c, int i)
{
    static const kiln_dtype ok[] = {KILN_DTYPE_INT64, KILN_DTYPE_INT32, KILN_DTYPE_UNDEFINED};
    return kn_check_dtype(c, i, ok);
}

static int64_t index_at(const kiln_tensor *t, int64_t i)
{
    return t->dtype == KILN_DTYPE_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

/* Index value v along a dim of size n: negatives count from the end. */
static kiln_status resolve_index(const kn_op_ctx *c, int64_t v, int64_t n, int64_t *out)
{
    int64_t r = v < 0 ? v + n : v;
    if (r < 0 || r >= n)
        return kn_error(KILN_ERROR_ARGUMENT, "node '%s' (%s): index %lld out of range for dim of size %lld",
                        c->node->name, c->node->op_type, (long long)v, (long long)n);
    *out = r;
    return KILN_OK;
}

static int64_t prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= dims[i];
    return p;
}

/* An INTS attribute of an old opset becomes a constant int64 input at pos. */
static kiln_status attr_to_input(kn_graph *g, int node, const char *attr, int pos, bool required)
{
    kn_node *n = &g->nodes[node];
    const int64_t *vals;
    size_t count;
    KN_TRY(kn_attr_get_ints(n, attr, &vals, &count));
    if (!kn_node_attr(n, attr)) {
        if (required)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): missing required attribute '%s'", n->name,
                            n->op_type, attr);
        return KILN_OK;
    }
    int64_t dim = (int64_t)count;
    kiln_tensor *t;
    KN_TRY(kn_tensor_new(KILN_DTYPE_INT64, 1, &dim, &t));
    if (count)
        memcpy(t->data, vals, count * sizeof(int64_t));
    int v;
    KN_TRY(kn_graph_add_constant(g, attr, t, &v));
    n = &g->nodes[node];
    int in[8];
    int n_in = KN_MAX(n->n_in, pos + 1);
    if (n_in > 8)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): too many inputs", n->name, n->op_type);
    for (int i = 0; i < n_in; i++)
        in[i] = i < n->n_in ? n->in[i] : -1;
    in[pos] = v;
    KN_TRY(kn_node_set_inputs(n, n_in, in));
    kn_node_remove_attr(n, attr);
    return KILN_OK;
}

typedef struct axis_params {
    int64_t axis;
} axis_params;

static kiln_status parse_axis(kn_node *n, int64_t def, bool required)
{
    axis_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = required ? kn_attr_require_int(n, "axis", &p->axis) : kn_attr_get_int(n, "axis", def, &p->axis);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* ---- Concat ----------------------------------------------------------- */

static kiln_status concat_parse(kn_node *n)
{
    return parse_axis(n, 1, n->opset >= 4);
}

static kiln_status concat_infer(kn_op_ctx *c)
{
    const axis_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, c->n_in, 1, 1));
    const kiln_tensor *x0 = c->in[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    if (x0->rank == 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): cannot concatenate scalars", c->node->name,
                        c->node->op_type);
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x0->rank, &axis));
    int64_t dims[KN_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < c->n_in; i++) {
        const kiln_tensor *x = c->in[i];
        if (!x)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): input %d is missing", c->node->name,
                            c->node->op_type, i);
        if (x->dtype != x0->dtype)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input %d has dtype %s, input 0 has %s", c->node->name,
                            c->node->op_type, i, kiln_dtype_name(x->dtype), kiln_dtype_name(x0->dtype));
        if (x->rank != x0->rank)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input %d has rank %d, input 0 has %d", c->node->name,
                            c->node->op_type, i, x->rank, x0->rank);
        for (int k = 0; k < x0->rank; k++)
            if (k != axis && x->dims[k] != x0->dims[k])
                return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input %d has dim %d = %lld, input 0 has %lld",
                                c->node->name, c->node->op_type, i, k, (long long)x->dims[k],
                                (long long)x0->dims[k]);
        dims[axis] += x->dims[axis];
    }
    return kn_set_output(c, 0, x0->dtype, x0->rank, dims);
}

/* An input whose producer the planner pointed into the output (see
 * concat_input_slice) is already there: its data is the first slice's
 * place. */
static kiln_status concat_run(kn_op_ctx *c)
{
    const axis_params *p = c->params;
    kiln_tensor *y = c->out[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, y->rank, &axis));
    int64_t outer = prod(y->dims, 0, axis), inner = prod(y->dims, axis + 1, y->rank);
    const size_t row = (size_t)(y->dims[axis] * inner) * esz;
    size_t at = 0;
    for (int i = 0; i < c->n_in; i++) {
        const size_t chunk = (size_t)(c->in[i]->dims[axis] * inner) * esz;
        char *d = (char *)y->data + at;
        at += chunk;
        if (!chunk || c->in[i]->data == d)
            continue;
        for (int64_t o = 0; o < outer; o++)
            memcpy(d + (size_t)o * row, (const char *)c->in[i]->data + (size_t)o * chunk, chunk);
    }
    return KILN_OK;
}

static bool concat_input_slice(const kn_op_ctx *c, int i, size_t *offset, size_t *slices, size_t *stride)
{
    const axis_params *p = c->params;
    const kiln_tensor *y = c->out[0];
    size_t esz = kn_elem_size(y->dtype);
    int axis;
    /* infer() checked the axis already */
    if (!esz || i >= c->n_in || !c->in[i] || kn_norm_axis(c, p->axis, y->rank, &axis) != KILN_OK)
        return false;
    const int64_t inner = prod(y->dims, axis + 1, y->rank);
    size_t at = 0;
    for (int k = 0; k < i; k++)
        at += (size_t)(c->in[k]->dims[axis] * inner) * esz;
    *offset = at;
    *slices = (size_t)prod(y->dims, 0, axis);
    *stride = (size_t)(y->dims[axis] * inner) * esz;
    return true;
}

/* ---- Split ------------------------------------------------------------ */

static kiln_status split_upgrade(kn_graph *g, int node)
{
    KN_TRY(attr_to_input(g, node, "split", 1, false));
    g->nodes[node].opset = 13;
    return KILN_OK;
}

typedef struct split_params {
    int64_t axis;
    int64_t num_outputs; /* opset 18; 0 when absent */
} split_params;

static kiln_status split_parse(kn_node *n)
{
    split_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "axis", 0, &p->axis);
    if (s == KILN_OK && n->opset >= 18)
        s = kn_attr_get_int(n, "num_outputs", 0, &p->num_outputs);
    if (s == KILN_OK && p->num_outputs < 0)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): num_outputs is negative", n->name, n->op_type);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status split_sizes(const kn_op_ctx *c, int *axis_out, int64_t *sizes)
{
    const split_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    int64_t dim = x->dims[axis];
    int n_out = c->n_out;
    if (n_out > MAX_SPLIT_OUTPUTS)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): %d outputs exceed kiln's limit of %d",
                        c->node->name, c->node->op_type, n_out, MAX_SPLIT_OUTPUTS);
    if (c->n_in > 1 && c->in[1]) {
        size_t n;
        kiln_status s = kn_input_ints(c, 1, sizes, MAX_SPLIT_OUTPUTS, &n);
        if (s != KILN_OK)
            return s;
        if ((int)n != n_out)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): split has %zu entries for %d outputs", c->node->name,
                            c->node->op_type, n, n_out);
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            if (sizes[i] < 0)
                return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): split[%zu] is negative", c->node->name,
                                c->node->op_type, i);
            sum += sizes[i];
        }
        if (sum != dim)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): split sums to %lld but axis %d has size %lld",
                            c->node->name, c->node->op_type, (long long)sum, axis, (long long)dim);
    } else if (p->num_outputs) {
        if (p->num_outputs != n_out)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): num_outputs is %lld but the node has %d outputs",
                            c->node->name, c->node->op_type, (long long)p->num_outputs, n_out);
        /* Opset 18: chunks of ceil(dim / n); the last takes what is left. */
        int64_t chunk = (dim + n_out - 1) / n_out, left = dim;
        for (int i = 0; i < n_out; i++) {
            sizes[i] = KN_MIN(chunk, left);
            left -= sizes[i];
        }
    } else {
        if (n_out < 1 || dim % n_out != 0)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): axis %d of size %lld does not split evenly into %d",
                            c->node->name, c->node->op_type, axis, (long long)dim, n_out);
        for (int i = 0; i < n_out; i++)
            sizes[i] = dim / n_out;
    }
    *axis_out = axis;
    return KILN_OK;
}

static kiln_status split_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 2, 1, MAX_SPLIT_OUTPUTS));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const kiln_tensor *x = c->in[0];
    if (x->rank == 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): cannot split a scalar", c->node->name, c->node->op_type);
    int64_t sizes[MAX_SPLIT_OUTPUTS];
    int axis;
    kiln_status s = split_sizes(c, &axis, sizes);
    if (s != KILN_OK)
        return s;
    int64_t dims[KN_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 0; i < c->n_out; i++) {
        dims[axis] = sizes[i];
        KN_TRY(kn_set_output(c, i, x->dtype, x->rank, dims));
    }
    return KILN_OK;
}

static kiln_status split_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int64_t sizes[MAX_SPLIT_OUTPUTS];
    int axis;
    KN_TRY(split_sizes(c, &axis, sizes));
    int64_t outer = prod(x->dims, 0, axis), inner = prod(x->dims, axis + 1, x->rank);
    size_t row = (size_t)(x->dims[axis] * inner) * esz;
    size_t offset = 0;
    for (int i = 0; i < c->n_out; i++) {
        size_t chunk = (size_t)(sizes[i] * inner) * esz;
        if (c->out[i] && chunk) {
            char *d = c->out[i]->data;
            for (int64_t o = 0; o < outer; o++)
                memcpy(d + (size_t)o * chunk, (const char *)x->data + (size_t)o * row + offset, chunk);
        }
        offset += chunk;
    }
    return KILN_OK;
}

/* ---- Slice ------------------------------------------------------------ */

static kiln_status slice_upgrade(kn_graph *g, int node)
{
    KN_TRY(attr_to_input(g, node, "starts", 1, true));
    KN_TRY(attr_to_input(g, node, "ends", 2, true));
    KN_TRY(attr_to_input(g, node, "axes", 3, false));
    g->nodes[node].opset = 10;
    return KILN_OK;
}

/* Per axis: first element, step and length of the selection, following the
 * spec: negative starts/ends count from the end, then starts clamp to
 * [0, dim] and ends to [0, dim] for positive steps; [0, dim-1] and
 * [-1, dim-1] for negative steps. */
static kiln_status slice_compute(const kn_op_ctx *c, int64_t *start, int64_t *step, int64_t *len)
{
    const kiln_tensor *x = c->in[0];
    int r = x->rank;
    int64_t starts[KN_MAX_RANK + 1], ends[KN_MAX_RANK + 1], axes[KN_MAX_RANK + 1], steps[KN_MAX_RANK + 1];
    size_t n, n_ends, n_axes, n_steps;
    kiln_status s = kn_input_ints(c, 1, starts, KN_MAX_RANK + 1, &n);
    if (s == KILN_OK)
        s = kn_input_ints(c, 2, ends, KN_MAX_RANK + 1, &n_ends);
    bool has_axes = c->n_in > 3 && c->in[3], has_steps = c->n_in > 4 && c->in[4];
    if (s == KILN_OK && has_axes)
        s = kn_input_ints(c, 3, axes, KN_MAX_RANK + 1, &n_axes);
    if (s == KILN_OK && has_steps)
        s = kn_input_ints(c, 4, steps, KN_MAX_RANK + 1, &n_steps);
    if (s != KILN_OK)
        return s;
    if (n_ends != n || (has_axes && n_axes != n) || (has_steps && n_steps != n))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): starts, ends, axes and steps differ in length",
                        c->node->name, c->node->op_type);
    if ((int)n > r)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %zu starts for rank %d", c->node->name,
                        c->node->op_type, n, r);
    bool seen[KN_MAX_RANK] = {false};
    for (int a = 0; a < r; a++) {
        start[a] = 0;
        step[a] = 1;
        len[a] = x->dims[a];
    }
    for (size_t i = 0; i < n; i++) {
        int a = (int)i;
        if (has_axes)
            KN_TRY(kn_norm_axis(c, axes[i], r, &a));
        if (seen[a])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): axis %d appears twice", c->node->name,
                            c->node->op_type, a);
        seen[a] = true;
        int64_t dim = x->dims[a], st = has_steps ? steps[i] : 1, b = starts[i], e = ends[i];
        if (st == 0)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): step for axis %d is 0", c->node->name,
                            c->node->op_type, a);
        if (b < 0)
            b += dim;
        if (e < 0)
            e += dim;
        int64_t count = 0;
        if (st > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            if (e > b)
                count = (e - b - 1) / st + 1;
        } else {
            b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            uint64_t mag = (uint64_t)0 - (uint64_t)st;
            if (dim > 0 && b > e)
                count = (int64_t)((uint64_t)(b - e - 1) / mag) + 1;
        }
        start[a] = count ? b : 0;
        step[a] = st;
        len[a] = count;
    }
    return KILN_OK;
}

static kiln_status slice_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, 5, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    for (int i = 1; i < c->n_in; i++)
        KN_TRY(check_index_dtype(c, i));
    int64_t start[KN_MAX_RANK], step[KN_MAX_RANK], len[KN_MAX_RANK];
    kiln_status s = slice_compute(c, start, step, len);
    if (s != KILN_OK)
        return s;
    return kn_set_output(c, 0, c->in[0]->dtype, c->in[0]->rank, len);
}

static kiln_status slice_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int64_t start[KN_MAX_RANK], step[KN_MAX_RANK], len[KN_MAX_RANK], strides[KN_MAX_RANK];
    KN_TRY(slice_compute(c, start, step, len));
    kn_contiguous_strides(x->rank, x->dims, strides);
    int64_t base = 0;
    for (int a = 0; a < x->rank; a++) {
        base += start[a] * strides[a];
        strides[a] *= step[a];
    }
    if (prod(len, 0, x->rank) == 0)
        return KILN_OK;
    kn_copy_view(c->out[0]->data, (const char *)x->data + base * (int64_t)esz, x->rank, len, strides, esz);
    return KILN_OK;
}

/* ---- Gather ----------------------------------------------------------- */

static kiln_status axis0_parse(kn_node *n)
{
    return parse_axis(n, 0, false);
}

static kiln_status gather_infer(kn_op_ctx *c)
{
    const axis_params *p = c->params;
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    KN_TRY(check_index_dtype(c, 1));
    const kiln_tensor *x = c->in[0], *ind = c->in[1];
    if (x->rank == 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): data is a scalar", c->node->name, c->node->op_type);
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    int rank = x->rank - 1 + ind->rank;
    if (rank > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): result rank %d exceeds kiln's limit of %d",
                        c->node->name, c->node->op_type, rank, KN_MAX_RANK);
    int64_t dims[KN_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++)
        dims[k++] = x->dims[i];
    for (int i = 0; i < ind->rank; i++)
        dims[k++] = ind->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        dims[k++] = x->dims[i];
    return kn_set_output(c, 0, x->dtype, rank, dims);
}

static kiln_status gather_run(kn_op_ctx *c)
{
    const axis_params *p = c->params;
    const kiln_tensor *x = c->in[0], *ind = c->in[1];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    int64_t outer = prod(x->dims, 0, axis), inner = prod(x->dims, axis + 1, x->rank), dim = x->dims[axis];
    int64_t n_idx = kn_tensor_count(ind);
    size_t chunk = (size_t)inner * esz;
    char *d = c->out[0]->data;
    const char *src = x->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < n_idx; j++) {
            int64_t k = 0;
            KN_TRY(resolve_index(c, index_at(ind, j), dim, &k));
            if (chunk)
                memcpy(d, src + (size_t)((o * dim + k) * inner) * esz, chunk);
            d += chunk;
        }
    }
    return KILN_OK;
}

/* ---- GatherElements --------------------------------------------------- */

static kiln_status gather_elements_infer(kn_op_ctx *c)
{
    const axis_params *p = c->params;
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    KN_TRY(check_index_dtype(c, 1));
    const kiln_tensor *x = c->in[0], *ind = c->in[1];
    if (ind->rank != x->rank || x->rank == 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): indices rank %d must equal data rank %d (>= 1)",
                        c->node->name, c->node->op_type, ind->rank, x->rank);
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    for (int i = 0; i < x->rank; i++)
        if (i != axis && ind->dims[i] > x->dims[i])
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): indices dim %d (%lld) exceeds data dim (%lld)",
                            c->node->name, c->node->op_type, i, (long long)ind->dims[i], (long long)x->dims[i]);
    return kn_set_output(c, 0, x->dtype, ind->rank, ind->dims);
}

/* Walks every position of idx_t (row-major) and calls visit with the
 * matching element offset in a tensor of dims/strides where the axis
 * coordinate is replaced by the resolved index value. */
typedef kiln_status (*elem_visit)(void *ctx, int64_t pos, int64_t target);

static kiln_status walk_elements(const kn_op_ctx *c, const kiln_tensor *idx_t, int axis, const int64_t *dims,
                                 elem_visit visit, void *ctx)
{
    int r = idx_t->rank;
    int64_t n = kn_tensor_count(idx_t), strides[KN_MAX_RANK], coord[KN_MAX_RANK] = {0};
    kn_contiguous_strides(r, dims, strides);
    for (int64_t pos = 0; pos < n; pos++) {
        int64_t k = 0;
        KN_TRY(resolve_index(c, index_at(idx_t, pos), dims[axis], &k));
        int64_t off = 0;
        for (int i = 0; i < r; i++)
            off += (i == axis ? k : coord[i]) * strides[i];
        KN_TRY(visit(ctx, pos, off));
        for (int i = r - 1; i >= 0; i--) {
            if (++coord[i] < idx_t->dims[i])
                break;
            coord[i] = 0;
        }
    }
    return KILN_OK;
}

typedef struct move_ctx {
    char *dst;
    const char *src;
    size_t esz;
} move_ctx;

static kiln_status gather_elem_visit(void *ctx, int64_t pos, int64_t target)
{
    move_ctx *m = ctx;
    kn_copy_elem(m->dst + (size_t)pos * m->esz, m->src + (size_t)target * m->esz, m->esz);
    return KILN_OK;
}

static kiln_status gather_elements_run(kn_op_ctx *c)
{
    const axis_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    move_ctx m = {c->out[0]->data, x->data, esz};
    return walk_elements(c, c->in[1], axis, x->dims, gather_elem_visit, &m);
}

/* ---- GatherND --------------------------------------------------------- */

typedef struct batch_params {
    int64_t batch_dims;
} batch_params;

static kiln_status gather_nd_parse(kn_node *n)
{
    batch_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "batch_dims", 0, &p->batch_dims);
    if (s == KILN_OK && p->batch_dims < 0)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): batch_dims is negative", n->name, n->op_type);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status gather_nd_infer(kn_op_ctx *c)
{
    const batch_params *p = c->params;
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    static const kiln_dtype i64[] = {KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};
    KN_TRY(kn_check_dtype(c, 1, i64));
    const kiln_tensor *x = c->in[0], *ind = c->in[1];
    int b = (int)p->batch_dims, r = x->rank, q = ind->rank;
    if (q < 1 || r < 1 || p->batch_dims >= KN_MIN(q, r))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): batch_dims %lld too large for data rank %d, indices rank %d",
                        c->node->name, c->node->op_type, (long long)p->batch_dims, r, q);
    int64_t m = ind->dims[q - 1];
    if (m < 1 || m > r - b)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): indices last dim %lld must be in [1, %d]", c->node->name,
                        c->node->op_type, (long long)m, r - b);
    for (int i = 0; i < b; i++)
        if (ind->dims[i] != x->dims[i])
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): batch dim %d differs (%lld vs %lld)", c->node->name,
                            c->node->op_type, i, (long long)ind->dims[i], (long long)x->dims[i]);
    int64_t dims[2 * KN_MAX_RANK];
    int k = 0;
    for (int i = 0; i < q - 1; i++)
        dims[k++] = ind->dims[i];
    for (int i = b + (int)m; i < r; i++)
        dims[k++] = x->dims[i];
    if (k > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): result rank %d exceeds kiln's limit of %d",
                        c->node->name, c->node->op_type, k, KN_MAX_RANK);
    return kn_set_output(c, 0, x->dtype, k, dims);
}

static kiln_status gather_nd_run(kn_op_ctx *c)
{
    const batch_params *p = c->params;
    const kiln_tensor *x = c->in[0], *ind = c->in[1];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int b = (int)p->batch_dims, r = x->rank, q = ind->rank;
    int m = (int)ind->dims[q - 1];
    int64_t strides[KN_MAX_RANK];
    kn_contiguous_strides(r, x->dims, strides);
    int64_t n_batch = prod(x->dims, 0, b), batch_size = prod(x->dims, b, r);
    int64_t per_batch = prod(ind->dims, b, q - 1), slice = prod(x->dims, b + m, r);
    const int64_t *iv = ind->data;
    const char *src = x->data;
    char *d = c->out[0]->data;
    size_t chunk = (size_t)slice * esz;
    for (int64_t bi = 0; bi < n_batch; bi++) {
        for (int64_t t = 0; t < per_batch; t++, iv += m) {
            int64_t off = bi * batch_size;
            for (int k = 0; k < m; k++) {
                int64_t v = 0;
                KN_TRY(resolve_index(c, iv[k], x->dims[b + k], &v));
                off += v * strides[b + k];
            }
            if (chunk)
                memcpy(d, src + (size_t)off * esz, chunk);
            d += chunk;
        }
    }
    return KILN_OK;
}

/* ---- scatter reductions ----------------------------------------------- */

typedef enum reduction { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } reduction;

typedef struct scatter_params {
    int64_t axis;
    reduction red;
} scatter_params;

static kiln_status scatter_parse(kn_node *n)
{
    scatter_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    const char *red = "none";
    kiln_status s = kn_attr_get_int(n, "axis", 0, &p->axis);
    if (s == KILN_OK)
        s = kn_attr_get_string(n, "reduction", "none", &red);
    if (s == KILN_OK) {
        static const char *names[] = {"none", "add", "mul", "max", "min"};
        int found = -1;
        for (int i = 0; i < 5; i++)
            if (strcmp(red, names[i]) == 0)
                found = i;
        if (found < 0)
            s = kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): reduction '%s' is not supported", n->name,
                         n->op_type, red);
        p->red = (reduction)(found < 0 ? 0 : found);
    }
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

#define COMBINE_NATIVE(T)                          \
    do {                                           \
        T *d = dst;                                \
        const T *s = src;                          \
        for (int64_t i = 0; i < n; i++) {          \
            T a = d[i], b = s[i];                  \
            switch (red) {                         \
            case RED_ADD: d[i] = (T)(a + b); break; \
            case RED_MUL: d[i] = (T)(a * b); break; \
            case RED_MAX: d[i] = a > b ? a : b; break; \
            case RED_MIN: d[i] = a < b ? a : b; break; \
            default: d[i] = b; break;              \
            }                                      \
        }                                          \
    } while (0)

static float combine_f(reduction red, float a, float b)
{
    switch (red) {
    case RED_ADD: return a + b;
    case RED_MUL: return a * b;
    case RED_MAX: return a > b ? a : b;
    case RED_MIN: return a < b ? a : b;
    default: return b;
    }
}

/* dst[i] = dst[i] (red) src[i] for n elements of dtype. Unsigned wrap is
 * used for integer add/mul so overflow is defined. */
static void combine(kiln_dtype dt, reduction red, void *dst, const void *src, int64_t n)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: COMBINE_NATIVE(float); break;
    case KILN_DTYPE_DOUBLE: COMBINE_NATIVE(double); break;
    case KILN_DTYPE_INT8: COMBINE_NATIVE(int8_t); break;
    case KILN_DTYPE_UINT8: COMBINE_NATIVE(uint8_t); break;
    case KILN_DTYPE_INT16: COMBINE_NATIVE(int16_t); break;
    case KILN_DTYPE_UINT16: COMBINE_NATIVE(uint16_t); break;
    case KILN_DTYPE_INT32: COMBINE_NATIVE(int32_t); break;
    case KILN_DTYPE_UINT32: COMBINE_NATIVE(uint32_t); break;
    case KILN_DTYPE_INT64: COMBINE_NATIVE(int64_t); break;
    case KILN_DTYPE_UINT64: COMBINE_NATIVE(uint64_t); break;
    case KILN_DTYPE_FLOAT16:
    case KILN_DTYPE_BFLOAT16: {
        uint16_t *d = dst;
        const uint16_t *s = src;
        bool half = dt == KILN_DTYPE_FLOAT16;
        for (int64_t i = 0; i < n; i++) {
            float a = half ? kn_half_to_float(d[i]) : kn_bf16_to_float(d[i]);
            float b = half ? kn_half_to_float(s[i]) : kn_bf16_to_float(s[i]);
            float r = combine_f(red, a, b);
            d[i] = half ? kn_float_to_half(r) : kn_float_to_bf16(r);
        }
        break;
    }
    default: break;
    }
}

static kiln_status check_reduction_dtype(const kn_op_ctx *c, reduction red)
{
    kiln_dtype dt = c->in[0]->dtype;
    if (red == RED_NONE)
        return KILN_OK;
    switch (dt) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_DOUBLE: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16:
    case KILN_DTYPE_INT8: case KILN_DTYPE_UINT8: case KILN_DTYPE_INT16: case KILN_DTYPE_UINT16:
    case KILN_DTYPE_INT32: case KILN_DTYPE_UINT32: case KILN_DTYPE_INT64: case KILN_DTYPE_UINT64:
        return KILN_OK;
    default:
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): reduction on dtype %s is not supported",
                        c->node->name, c->node->op_type, kiln_dtype_name(dt));
    }
}

static void scatter_apply(kiln_dtype dt, reduction red, size_t esz, char *dst, const char *src, int64_t n)
{
    if (red == RED_NONE) {
        if (n)
            memcpy(dst, src, (size_t)n * esz);
    } else {
        combine(dt, red, dst, src, n);
    }
}

/* ---- ScatterND -------------------------------------------------------- */

static kiln_status scatter_nd_infer(kn_op_ctx *c)
{
    const scatter_params *p = c->params;
    KN_TRY(kn_check_arity(c, 3, 3, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    static const kiln_dtype i64[] = {KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};
    KN_TRY(kn_check_dtype(c, 1, i64));
    KN_TRY(check_reduction_dtype(c, p->red));
    const kiln_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
    int r = x->rank, q = ind->rank;
    if (upd->dtype != x->dtype)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): updates dtype %s differs from data dtype %s",
                        c->node->name, c->node->op_type, kiln_dtype_name(upd->dtype), kiln_dtype_name(x->dtype));
    if (q < 1 || r < 1 || ind->dims[q - 1] > r)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): indices of rank %d do not fit data of rank %d",
                        c->node->name, c->node->op_type, q, r);
    int m = (int)ind->dims[q - 1];
    int urank = q - 1 + r - m;
    bool ok = upd->rank == urank;
    for (int i = 0; ok && i < q - 1; i++)
        ok = upd->dims[i] == ind->dims[i];
    for (int i = 0; ok && i < r - m; i++)
        ok = upd->dims[q - 1 + i] == x->dims[m + i];
    if (!ok)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): updates shape must be indices.shape[:-1] + data.shape[%d:]",
                        c->node->name, c->node->op_type, m);
    return kn_set_output(c, 0, x->dtype, r, x->dims);
}

static kiln_status scatter_nd_run(kn_op_ctx *c)
{
    const scatter_params *p = c->params;
    const kiln_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    char *d = c->out[0]->data;
    if (x->nbytes)
        memcpy(d, x->data, x->nbytes);
    int r = x->rank, q = ind->rank, m = (int)ind->dims[q - 1];
    int64_t strides[KN_MAX_RANK];
    kn_contiguous_strides(r, x->dims, strides);
    int64_t n_tuples = prod(ind->dims, 0, q - 1), slice = prod(x->dims, m, r);
    const int64_t *iv = ind->data;
    const char *u = upd->data;
    for (int64_t t = 0; t < n_tuples; t++, iv += m, u += (size_t)slice * esz) {
        int64_t off = 0;
        for (int k = 0; k < m; k++) {
            int64_t v = 0;
            KN_TRY(resolve_index(c, iv[k], x->dims[k], &v));
            off += v * strides[k];
        }
        scatter_apply(x->dtype, p->red, esz, d + (size_t)off * esz, u, slice);
    }
    return KILN_OK;
}

/* ---- ScatterElements (and the deprecated Scatter) ---------------------- */

static kiln_status scatter_upgrade(kn_graph *g, int node)
{
    kn_node *n = &g->nodes[node];
    char *name = kn_strdup("ScatterElements");
    if (!name)
        return KN_NOMEM();
    kn_free(n->op_type);
    n->op_type = name;
    n->opset = 11;
    return KILN_OK;
}

static kiln_status scatter_elements_infer(kn_op_ctx *c)
{
    const scatter_params *p = c->params;
    KN_TRY(kn_check_arity(c, 3, 3, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    KN_TRY(check_index_dtype(c, 1));
    KN_TRY(check_reduction_dtype(c, p->red));
    const kiln_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
    if (upd->dtype != x->dtype)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): updates dtype %s differs from data dtype %s",
                        c->node->name, c->node->op_type, kiln_dtype_name(upd->dtype), kiln_dtype_name(x->dtype));
    if (x->rank < 1 || ind->rank != x->rank || !kn_same_shape(ind, upd))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): indices and updates must share a shape of data's rank %d",
                        c->node->name, c->node->op_type, x->rank);
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    for (int i = 0; i < x->rank; i++)
        if (i != axis && ind->dims[i] > x->dims[i])
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): indices dim %d (%lld) exceeds data dim (%lld)",
                            c->node->name, c->node->op_type, i, (long long)ind->dims[i], (long long)x->dims[i]);
    return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
}

typedef struct scatter_ctx {
    char *dst;
    const char *upd;
    size_t esz;
    kiln_dtype dtype;
    reduction red;
} scatter_ctx;

static kiln_status scatter_elem_visit(void *ctx, int64_t pos, int64_t target)
{
    scatter_ctx *s = ctx;
    scatter_apply(s->dtype, s->red, s->esz, s->dst + (size_t)target * s->esz, s->upd + (size_t)pos * s->esz, 1);
    return KILN_OK;
}

static kiln_status scatter_elements_run(kn_op_ctx *c)
{
    const scatter_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    if (x->nbytes)
        memcpy(c->out[0]->data, x->data, x->nbytes);
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    scatter_ctx s = {c->out[0]->data, c->in[2]->data, esz, x->dtype, p->red};
    return walk_elements(c, c->in[1], axis, x->dims, scatter_elem_visit, &s);
}

/* ---- Range ------------------------------------------------------------ */

static bool range_is_float(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 ||
           dt == KILN_DTYPE_BFLOAT16;
}

static kiln_status range_count(const kn_op_ctx *c, int64_t *count)
{
    const kiln_tensor *st = c->in[0], *li = c->in[1], *de = c->in[2];
    if (!st->data || !li->data || !de->data)
        return KN_NEED_VALUE;
    kiln_dtype dt = st->dtype;
    if (range_is_float(dt)) {
        double n;
        if (dt == KILN_DTYPE_DOUBLE) {
            double s = kn_tensor_get_f64(st, 0), l = kn_tensor_get_f64(li, 0), d = kn_tensor_get_f64(de, 0);
            if (d == 0.0)
                goto zero_delta;
            n = ceil((l - s) / d);
        } else {
            /* The spec's function body computes the count in float. */
            float s = (float)kn_tensor_get_f64(st, 0), l = (float)kn_tensor_get_f64(li, 0);
            float d = (float)kn_tensor_get_f64(de, 0);
            if (d == 0.0f)
                goto zero_delta;
            n = ceilf((l - s) / d);
        }
        if (n != n || n > 1e15)
            return kn_error(KILN_ERROR_LIMIT, "node '%s' (%s): range has no finite length", c->node->name,
                            c->node->op_type);
        *count = n > 0 ? (int64_t)n : 0;
        return KILN_OK;
    }
    int64_t s = kn_tensor_get_i64(st, 0), l = kn_tensor_get_i64(li, 0), d = kn_tensor_get_i64(de, 0);
    if (d == 0)
        goto zero_delta;
    /* Exact integer ceil((l - s) / d) without overflow. */
    int64_t n = 0;
    if (d > 0 && l > s)
        n = (int64_t)(((uint64_t)l - (uint64_t)s - 1) / (uint64_t)d) + 1;
    else if (d < 0 && l < s)
        n = (int64_t)(((uint64_t)s - (uint64_t)l - 1) / ((uint64_t)0 - (uint64_t)d)) + 1;
    *count = n;
    return KILN_OK;
zero_delta:
    return kn_error(KILN_ERROR_ARGUMENT, "node '%s' (%s): delta is 0", c->node->name, c->node->op_type);
}

static kiln_status range_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, 3, 1, 1));
    for (int i = 0; i < 3; i++) {
        if (c->in[i]->dtype != c->in[0]->dtype)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): start, limit and delta must share a dtype",
                            c->node->name, c->node->op_type);
        if (kn_tensor_count(c->in[i]) != 1)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input %d must be a scalar", c->node->name,
                            c->node->op_type, i);
    }
    int64_t n;
    kiln_status s = range_count(c, &n);
    if (s != KILN_OK)
        return s;
    return kn_set_output(c, 0, c->in[0]->dtype, 1, &n);
}

static kiln_status range_run(kn_op_ctx *c)
{
    kiln_tensor *y = c->out[0];
    int64_t n = kn_tensor_count(y);
    if (range_is_float(y->dtype)) {
        double s = kn_tensor_get_f64(c->in[0], 0), d = kn_tensor_get_f64(c->in[2], 0);
        for (int64_t i = 0; i < n; i++)
            kn_tensor_set_f64(y, i, s + (double)i * d);
        return KILN_OK;
    }
    int64_t s = kn_tensor_get_i64(c->in[0], 0), d = kn_tensor_get_i64(c->in[2], 0);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
        switch (y->dtype) {
        case KILN_DTYPE_INT64: ((int64_t *)y->data)[i] = v; break;
        case KILN_DTYPE_INT32: ((int32_t *)y->data)[i] = (int32_t)v; break;
        default: ((int16_t *)y->data)[i] = (int16_t)v; break;
        }
    }
    return KILN_OK;
}

/* ---- NonZero ---------------------------------------------------------- */

static bool nonzero_at(const kiln_tensor *x, int64_t i)
{
    /* Through double so -0.0 counts as zero and NaN as nonzero. */
    return kn_tensor_get_f64(x, i) != 0.0;
}

static kiln_status nonzero_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    if (!x->data)
        return KN_NEED_VALUE;
    int64_t n = kn_tensor_count(x), nnz = 0;
    for (int64_t i = 0; i < n; i++)
        nnz += nonzero_at(x, i);
    int64_t dims[2] = {x->rank, nnz};
    return kn_set_output(c, 0, KILN_DTYPE_INT64, 2, dims);
}

static kiln_status nonzero_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    int64_t *y = c->out[0]->data;
    int64_t n = kn_tensor_count(x), nnz = c->out[0]->dims[1], k = 0;
    int64_t coord[KN_MAX_RANK] = {0};
    for (int64_t i = 0; i < n; i++) {
        if (nonzero_at(x, i)) {
            if (k >= nnz)
                return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): input changed after shape inference",
                                c->node->name, c->node->op_type);
            for (int d = 0; d < x->rank; d++)
                y[d * nnz + k] = coord[d];
            k++;
        }
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++coord[d] < x->dims[d])
                break;
            coord[d] = 0;
        }
    }
    return KILN_OK;
}

/* ---- Trilu ------------------------------------------------------------ */

typedef struct trilu_params {
    int64_t upper;
} trilu_params;

static kiln_status trilu_parse(kn_node *n)
{
    trilu_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "upper", 1, &p->upper);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status trilu_k(const kn_op_ctx *c, int64_t *k)
{
    *k = 0;
    if (c->n_in < 2 || !c->in[1])
        return KILN_OK;
    int64_t v[2];
    size_t n;
    kiln_status s = kn_input_ints(c, 1, v, 2, &n);
    if (s != KILN_OK)
        return s;
    if (n != 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): k must be a scalar", c->node->name, c->node->op_type);
    *k = v[0];
    return KILN_OK;
}

static kiln_status trilu_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 2, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const kiln_tensor *x = c->in[0];
    if (x->rank < 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has rank %d, expected at least 2", c->node->name,
                        c->node->op_type, x->rank);
    if (c->n_in > 1 && c->in[1]) {
        KN_TRY(check_index_dtype(c, 1));
        int64_t k = 0;
        kiln_status s = trilu_k(c, &k);
        if (s != KILN_OK && s != KN_NEED_VALUE)
            return s;
    }
    return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
}

/* Row i keeps columns j with j - i >= k (upper) or j - i <= k (lower). */
static kiln_status trilu_run(kn_op_ctx *c)
{
    const trilu_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int64_t k = 0;
    KN_TRY(trilu_k(c, &k));
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t mats = prod(x->dims, 0, x->rank - 2);
    int64_t lim = rows + cols + 1;
    k = k < -lim ? -lim : k > lim ? lim : k; /* keeps i + k from overflowing */
    const char *src = x->data;
    char *dst = c->out[0]->data;
    for (int64_t m = 0; m < mats; m++) {
        for (int64_t i = 0; i < rows; i++) {
            size_t row = (size_t)((m * rows + i) * cols) * esz;
            int64_t from, to; /* kept columns [from, to) */
            if (p->upper) {
                from = KN_MIN(KN_MAX(i + k, 0), cols);
                to = cols;
            } else {
                from = 0;
                to = KN_MIN(KN_MAX(i + k + 1, 0), cols);
            }
            memset(dst + row, 0, (size_t)cols * esz); /* NULL strings: "" */
            if (to > from)
                memcpy(dst + row + (size_t)from * esz, src + row + (size_t)from * esz, (size_t)(to - from) * esz);
        }
    }
    return KILN_OK;
}

/* ---- CumSum, CumProd ------------------------------------------------- */

typedef struct cumsum_params {
    int64_t exclusive, reverse;
    bool prod; /* CumProd: running product, exclusive start 1 */
} cumsum_params;

static kiln_status cumsum_parse(kn_node *n)
{
    cumsum_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->prod = strcmp(n->op_type, "CumProd") == 0;
    kiln_status s = kn_attr_get_int(n, "exclusive", 0, &p->exclusive);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "reverse", 0, &p->reverse);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status cumsum_axis(const kn_op_ctx *c, int *axis)
{
    int64_t v[2];
    size_t n;
    kiln_status s = kn_input_ints(c, 1, v, 2, &n);
    if (s != KILN_OK)
        return s;
    if (n != 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): axis must be a scalar", c->node->name, c->node->op_type);
    return kn_norm_axis(c, v[0], c->in[0]->rank, axis);
}

static const kiln_dtype cum_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16,
                                       KILN_DTYPE_INT32, KILN_DTYPE_INT64, KILN_DTYPE_UINT32, KILN_DTYPE_UINT64,
                                       KILN_DTYPE_UNDEFINED};

static kiln_status cumsum_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    KN_TRY(check_index_dtype(c, 1));
    const kiln_tensor *x = c->in[0];
    if (x->rank == 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input is a scalar", c->node->name, c->node->op_type);
    int axis;
    kiln_status s = cumsum_axis(c, &axis);
    if (s != KILN_OK && s != KN_NEED_VALUE)
        return s;
    return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
}

/* One line of len elements spaced by stride; acc is the running sum or
 * product (integers wrap: ACC is unsigned). */
#define CUMSUM_LINE(T, ACC, LOAD, STORE)                                          \
    do {                                                                          \
        const T *xs = (const T *)x->data + base;                                  \
        T *ys = (T *)y->data + base;                                              \
        ACC acc = p->prod ? 1 : 0;                                                \
        for (int64_t j = 0; j < len; j++) {                                       \
            int64_t at = (p->reverse ? len - 1 - j : j) * inner;                  \
            ACC v = LOAD(xs[at]);                                                 \
            if (p->exclusive)                                                     \
                ys[at] = STORE(acc);                                              \
            acc = p->prod ? (ACC)(acc * v) : (ACC)(acc + v);                      \
            if (!p->exclusive)                                                    \
                ys[at] = STORE(acc);                                              \
        }                                                                         \
    } while (0)

#define AS_IS(v) (v)

static kiln_status cumsum_run(kn_op_ctx *c)
{
    const cumsum_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    int axis;
    KN_TRY(cumsum_axis(c, &axis));
    int64_t outer = prod(x->dims, 0, axis), len = x->dims[axis], inner = prod(x->dims, axis + 1, x->rank);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * len * inner + in;
            switch (x->dtype) {
            case KILN_DTYPE_FLOAT: CUMSUM_LINE(float, float, AS_IS, AS_IS); break;
            case KILN_DTYPE_DOUBLE: CUMSUM_LINE(double, double, AS_IS, AS_IS); break;
            case KILN_DTYPE_FLOAT16: CUMSUM_LINE(uint16_t, float, kn_half_to_float, kn_float_to_half); break;
            case KILN_DTYPE_BFLOAT16: CUMSUM_LINE(uint16_t, float, kn_bf16_to_float, kn_float_to_bf16); break;
            case KILN_DTYPE_INT32: CUMSUM_LINE(int32_t, uint32_t, (uint32_t), (int32_t)); break;
            case KILN_DTYPE_UINT32: CUMSUM_LINE(uint32_t, uint32_t, AS_IS, AS_IS); break;
            case KILN_DTYPE_INT64: CUMSUM_LINE(int64_t, uint64_t, (uint64_t), (int64_t)); break;
            case KILN_DTYPE_UINT64: CUMSUM_LINE(uint64_t, uint64_t, AS_IS, AS_IS); break;
            default:
                return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): dtype %s is not supported", c->node->name,
                                c->node->op_type, kiln_dtype_name(x->dtype));
            }
        }
    }
    return KILN_OK;
}

/* ---- TopK ------------------------------------------------------------- */

static kiln_status topk_upgrade(kn_graph *g, int node)
{
    kn_node *n = &g->nodes[node];
    int64_t k = 0;
    KN_TRY(kn_attr_require_int(n, "k", &k));
    int64_t one = 1;
    kiln_tensor *t;
    KN_TRY(kn_tensor_new(KILN_DTYPE_INT64, 1, &one, &t));
    *(int64_t *)t->data = k;
    int v;
    KN_TRY(kn_graph_add_constant(g, "k", t, &v));
    n = &g->nodes[node];
    int in[2] = {n->n_in > 0 ? n->in[0] : -1, v};
    KN_TRY(kn_node_set_inputs(n, 2, in));
    kn_node_remove_attr(n, "k");
    n->opset = 10;
    return KILN_OK;
}

typedef struct topk_params {
    int64_t axis, largest, sorted;
} topk_params;

static kiln_status topk_parse(kn_node *n)
{
    topk_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "axis", -1, &p->axis);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "largest", 1, &p->largest);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "sorted", 1, &p->sorted);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status topk_shape(const kn_op_ctx *c, int *axis, int64_t *k)
{
    const topk_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    if (x->rank == 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input is a scalar", c->node->name, c->node->op_type);
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, axis));
    int64_t v[2];
    size_t n;
    kiln_status s = kn_input_ints(c, 1, v, 2, &n);
    if (s != KILN_OK)
        return s;
    if (n != 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): k must hold one value", c->node->name, c->node->op_type);
    if (v[0] < 0 || v[0] > x->dims[*axis])
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): k = %lld out of range for axis of size %lld",
                        c->node->name, c->node->op_type, (long long)v[0], (long long)x->dims[*axis]);
    *k = v[0];
    return KILN_OK;
}

static kiln_status topk_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 2));
    int axis;
    int64_t k = 0;
    kiln_status s = topk_shape(c, &axis, &k);
    if (s != KILN_OK)
        return s;
    const kiln_tensor *x = c->in[0];
    int64_t dims[KN_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = k;
    KN_TRY(kn_set_output(c, 0, x->dtype, x->rank, dims));
    return kn_set_output(c, 1, KILN_DTYPE_INT64, x->rank, dims);
}

static kiln_status topk_prepare(kn_op_ctx *c)
{
    const topk_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    c->scratch_size = 2 * (size_t)(x->dims[axis] ? x->dims[axis] : 1) * sizeof(int64_t);
    return KILN_OK;
}

typedef struct topk_cmp {
    const kiln_tensor *x;
    int64_t base, stride;
    bool largest;
} topk_cmp;

/* Whether element a must come before element b; NaN ranks above every
 * number (it comes first for largest, last for smallest). */
static bool topk_before(const topk_cmp *t, int64_t a, int64_t b)
{
    int64_t ia = t->base + a * t->stride, ib = t->base + b * t->stride;
    int cmp;
    switch (t->x->dtype) {
    case KILN_DTYPE_INT64: {
        int64_t va = ((const int64_t *)t->x->data)[ia], vb = ((const int64_t *)t->x->data)[ib];
        cmp = (va > vb) - (va < vb);
        break;
    }
    case KILN_DTYPE_UINT64: {
        uint64_t va = ((const uint64_t *)t->x->data)[ia], vb = ((const uint64_t *)t->x->data)[ib];
        cmp = (va > vb) - (va < vb);
        break;
    }
    default: {
        double va = kn_tensor_get_f64(t->x, ia), vb = kn_tensor_get_f64(t->x, ib);
        bool na = va != va, nb = vb != vb;
        if (na || nb)
            cmp = na - nb;
        else
            cmp = (va > vb) - (va < vb);
        break;
    }
    }
    return t->largest ? cmp > 0 : cmp < 0;
}

/* Stable merge sort of idx[0..n) (ties keep the smaller index first). */
static void topk_sort(const topk_cmp *t, int64_t *idx, int64_t *tmp, int64_t n)
{
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = KN_MIN(lo + width, n), hi = KN_MIN(lo + 2 * width, n);
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = topk_before(t, idx[j], idx[i]) ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[o++] = idx[i++];
            while (j < hi)
                tmp[o++] = idx[j++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof *idx);
    }
}

static kiln_status topk_run(kn_op_ctx *c)
{
    const topk_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int axis;
    int64_t k = 0;
    KN_TRY(topk_shape(c, &axis, &k));
    size_t esz = kiln_dtype_size(x->dtype);
    int64_t outer = prod(x->dims, 0, axis), len = x->dims[axis], inner = prod(x->dims, axis + 1, x->rank);
    if (c->scratch_size < 2 * (size_t)len * sizeof(int64_t))
        return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): scratch too small", c->node->name, c->node->op_type);
    int64_t *idx = c->scratch, *tmp = idx + len;
    kiln_tensor *vals = c->out[0], *inds = c->n_out > 1 ? c->out[1] : NULL;
    topk_cmp t = {x, 0, inner, p->largest != 0};
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in = 0; in < inner; in++) {
            t.base = o * len * inner + in;
            for (int64_t j = 0; j < len; j++)
                idx[j] = j;
            topk_sort(&t, idx, tmp, len);
            int64_t out_base = o * k * inner + in;
            for (int64_t j = 0; j < k; j++) {
                int64_t at = out_base + j * inner;
                if (vals)
                    kn_copy_elem((char *)vals->data + (size_t)at * esz,
                              (const char *)x->data + (size_t)(t.base + idx[j] * inner) * esz, esz);
                if (inds)
                    ((int64_t *)inds->data)[at] = idx[j];
            }
        }
    }
    return KILN_OK;
}

/* ---- descriptors ------------------------------------------------------ */

/* Input 0's dtypes (kn_op.types). Data movement takes every fixed-size type
 * and strings; the others list what their kernels compute. */
static const kiln_dtype range_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16,
                                         KILN_DTYPE_INT16, KILN_DTYPE_INT32,  KILN_DTYPE_INT64,   KILN_DTYPE_UNDEFINED};

const kn_op kn_ops_index[] = {
    {.domain = "", .name = "Concat", .since_min = 1, .parse = concat_parse, .infer = concat_infer,
     .run = concat_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS,
     .input_slice = concat_input_slice},
    {.domain = "", .name = "Split", .since_min = 1, .since_max = 12, .upgrade = split_upgrade},
    {.domain = "", .name = "Split", .since_min = 13, .parse = split_parse, .infer = split_infer, .run = split_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Slice", .since_min = 1, .since_max = 9, .upgrade = slice_upgrade},
    {.domain = "", .name = "Slice", .since_min = 10, .infer = slice_infer, .run = slice_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Gather", .since_min = 1, .parse = axis0_parse, .infer = gather_infer,
     .run = gather_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "GatherElements", .since_min = 11, .parse = axis0_parse, .infer = gather_elements_infer,
     .run = gather_elements_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "GatherND", .since_min = 11, .parse = gather_nd_parse, .infer = gather_nd_infer,
     .run = gather_nd_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "ScatterND", .since_min = 11, .parse = scatter_parse, .infer = scatter_nd_infer,
     .run = scatter_nd_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Scatter", .since_min = 9, .since_max = 10, .upgrade = scatter_upgrade},
    {.domain = "", .name = "ScatterElements", .since_min = 11, .parse = scatter_parse,
     .infer = scatter_elements_infer, .run = scatter_elements_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Range", .since_min = 11, .infer = range_infer, .run = range_run, .types = range_types},
    {.domain = "", .name = "NonZero", .since_min = 9, .infer = nonzero_infer, .run = nonzero_run, .types = kn_types_plain},
    {.domain = "", .name = "Trilu", .since_min = 14, .parse = trilu_parse, .infer = trilu_infer, .run = trilu_run,
     .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "CumSum", .since_min = 11, .parse = cumsum_parse, .infer = cumsum_infer,
     .run = cumsum_run, .types = cum_types},
    {.domain = "", .name = "CumProd", .since_min = 26, .parse = cumsum_parse, .infer = cumsum_infer,
     .run = cumsum_run, .types = cum_types},
    {.domain = "", .name = "TopK", .since_min = 1, .since_max = 9, .upgrade = topk_upgrade},
    {.domain = "", .name = "TopK", .since_min = 10, .parse = topk_parse, .infer = topk_infer,
     .prepare = topk_prepare, .run = topk_run, .types = kn_types_numeric},
};
KN_FAMILY_COUNT(index);
