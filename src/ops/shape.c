/* Shape family: ops that change how elements are laid out or described but
 * never compute on them (Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
 * Expand, Tile, Shape, Size, Identity, DepthToSpace, SpaceToDepth,
 * EyeLike). Kernels move elements by byte size, so every fixed-size dtype
 * works; STRING elements move as pointers, which kn_eval_node then replaces
 * by owned copies (KN_OP_BORROWS_STRINGS). */
#include "ops/families.h"

#include <stdio.h>
#include <string.h>

/* ---- shared helpers --------------------------------------------------- */

#define MAX_VIEW_RANK (2 * KN_MAX_RANK)

static const char *dims_str(int rank, const int64_t *dims, char *buf, size_t size)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int i = 0; i < rank && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}

/* Byte size of input i's elements (a pointer for STRING); unknown dtypes are refused. */
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

/* An INTS attribute of an old opset becomes a constant int64 input at
 * position pos (the form later opsets use); absent attributes stay absent. */
static kiln_status attr_to_input(kn_graph *g, int node, const char *attr, int pos)
{
    kn_node *n = &g->nodes[node];
    const int64_t *vals;
    size_t count;
    KN_TRY(kn_attr_get_ints(n, attr, &vals, &count));
    if (!kn_node_attr(n, attr))
        return KILN_OK;
    int64_t dim = (int64_t)count;
    kiln_tensor *t;
    KN_TRY(kn_tensor_new(KILN_DTYPE_INT64, 1, &dim, &t));
    if (count)
        memcpy(t->data, vals, count * sizeof(int64_t));
    int v;
    KN_TRY(kn_graph_add_constant(g, attr, t, &v));
    n = &g->nodes[node];
    int in[KN_MAX_RANK + 4];
    int n_in = KN_MAX(n->n_in, pos + 1);
    if (n_in > (int)(sizeof in / sizeof in[0]))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): too many inputs", n->name, n->op_type);
    for (int i = 0; i < n_in; i++)
        in[i] = i < n->n_in ? n->in[i] : -1;
    in[pos] = v;
    KN_TRY(kn_node_set_inputs(n, n_in, in));
    kn_node_remove_attr(n, attr);
    return KILN_OK;
}

static kiln_status copy_input(kn_op_ctx *c)
{
    if (c->out[0]->nbytes)
        memcpy(c->out[0]->data, c->in[0]->data, c->out[0]->nbytes);
    return KILN_OK;
}

/* ---- Reshape ---------------------------------------------------------- */

static kiln_status reshape_upgrade(kn_graph *g, int node)
{
    KN_TRY(attr_to_input(g, node, "shape", 1));
    kn_node *n = &g->nodes[node];
    kn_node_remove_attr(n, "consumed_inputs");
    n->opset = 5;
    return KILN_OK;
}

typedef struct reshape_params {
    int64_t allowzero;
} reshape_params;

static kiln_status reshape_parse(kn_node *n)
{
    reshape_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = KILN_OK;
    if (n->opset >= 14)
        s = kn_attr_get_int(n, "allowzero", 0, &p->allowzero);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status reshape_error(const kn_op_ctx *c, const char *why, size_t n_shape, const int64_t *shape)
{
    char a[160], b[160];
    const kiln_tensor *x = c->in[0];
    return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): cannot reshape %s (%lld elements) to %s%s%s", c->node->name,
                    c->node->op_type, dims_str(x->rank, x->dims, a, sizeof a), (long long)kn_tensor_count(x),
                    dims_str((int)n_shape, shape, b, sizeof b), why[0] ? ": " : "", why);
}

static kiln_status reshape_infer(kn_op_ctx *c)
{
    const reshape_params *p = c->params;
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int64_t shape[KN_MAX_RANK + 1];
    size_t n;
    kiln_status s = kn_input_ints(c, 1, shape, KN_MAX_RANK + 1, &n);
    if (s != KILN_OK)
        return s;
    if (n > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): target shape has %zu dims, kiln's limit is %d",
                        c->node->name, c->node->op_type, n, KN_MAX_RANK);
    const kiln_tensor *x = c->in[0];
    int64_t dims[KN_MAX_RANK];
    int infer_at = -1;
    bool has_zero = false;
    int64_t known = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t d = shape[i];
        if (d == 0 && !(p && p->allowzero)) {
            if ((int)i >= x->rank)
                return reshape_error(c, "a 0 copies an input dim that does not exist", n, shape);
            d = x->dims[i];
        }
        if (d == -1) {
            if (infer_at >= 0)
                return reshape_error(c, "more than one -1", n, shape);
            infer_at = (int)i;
            dims[i] = -1;
            continue;
        }
        if (d < 0)
            return reshape_error(c, "negative dim", n, shape);
        if (d == 0)
            has_zero = true;
        if (!kn_mul_i64(known, d, &known))
            return reshape_error(c, "element count overflows", n, shape);
        dims[i] = d;
    }
    int64_t total = kn_tensor_count(x);
    if (infer_at >= 0) {
        if (has_zero && p && p->allowzero)
            return reshape_error(c, "allowzero forbids 0 together with -1", n, shape);
        if (known == 0 || total % known != 0)
            return reshape_error(c, "", n, shape);
        dims[infer_at] = total / known;
    } else if (known != total) {
        return reshape_error(c, "", n, shape);
    }
    return kn_set_output(c, 0, x->dtype, (int)n, dims);
}

/* ---- Flatten ---------------------------------------------------------- */

typedef struct axis_params {
    int64_t axis;
} axis_params;

static kiln_status parse_axis(kn_node *n, int64_t def)
{
    axis_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "axis", def, &p->axis);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status flatten_parse(kn_node *n)
{
    return parse_axis(n, 1);
}

static kiln_status flatten_infer(kn_op_ctx *c)
{
    const axis_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const kiln_tensor *x = c->in[0];
    int64_t axis = p->axis;
    if (axis < -(int64_t)x->rank || axis > x->rank)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): axis %lld out of range for rank %d", c->node->name,
                        c->node->op_type, (long long)axis, x->rank);
    if (axis < 0)
        axis += x->rank;
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->rank; i++)
        dims[i < axis ? 0 : 1] *= x->dims[i];
    return kn_set_output(c, 0, x->dtype, 2, dims);
}

/* ---- Transpose -------------------------------------------------------- */

static kiln_status transpose_perm(const kn_op_ctx *c, int rank, int *perm)
{
    const int64_t *p;
    size_t count;
    KN_TRY(kn_attr_get_ints(c->node, "perm", &p, &count));
    if (!p) {
        for (int i = 0; i < rank; i++)
            perm[i] = rank - 1 - i;
        return KILN_OK;
    }
    if ((int)count != rank)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): perm has %zu entries for rank %d", c->node->name,
                        c->node->op_type, count, rank);
    bool seen[KN_MAX_RANK] = {false};
    for (int i = 0; i < rank; i++) {
        int64_t a = p[i] < 0 ? p[i] + rank : p[i];
        if (a < 0 || a >= rank || seen[a])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): perm is not a permutation of 0..%d", c->node->name,
                            c->node->op_type, rank - 1);
        seen[a] = true;
        perm[i] = (int)a;
    }
    return KILN_OK;
}

static kiln_status transpose_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const kiln_tensor *x = c->in[0];
    int perm[KN_MAX_RANK];
    KN_TRY(transpose_perm(c, x->rank, perm));
    int64_t dims[KN_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = x->dims[perm[i]];
    return kn_set_output(c, 0, x->dtype, x->rank, dims);
}

static kiln_status transpose_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int perm[KN_MAX_RANK];
    KN_TRY(transpose_perm(c, x->rank, perm));
    int64_t in_strides[KN_MAX_RANK], strides[KN_MAX_RANK];
    kn_contiguous_strides(x->rank, x->dims, in_strides);
    for (int i = 0; i < x->rank; i++)
        strides[i] = in_strides[perm[i]];
    kn_copy_view(c->out[0]->data, x->data, x->rank, c->out[0]->dims, strides, esz);
    return KILN_OK;
}

/* ---- Squeeze / Unsqueeze ---------------------------------------------- */

static kiln_status axes_upgrade(kn_graph *g, int node)
{
    KN_TRY(attr_to_input(g, node, "axes", 1));
    g->nodes[node].opset = 13;
    return KILN_OK;
}

/* Normalized, duplicate-free axes from input 1 against rank. */
static kiln_status read_axes(const kn_op_ctx *c, int rank, bool *mark, size_t *n_axes)
{
    int64_t axes[KN_MAX_RANK + 1];
    size_t n;
    kiln_status s = kn_input_ints(c, 1, axes, KN_MAX_RANK + 1, &n);
    if (s != KILN_OK)
        return s;
    for (int i = 0; i < rank; i++)
        mark[i] = false;
    for (size_t i = 0; i < n; i++) {
        int a;
        KN_TRY(kn_norm_axis(c, axes[i], rank, &a));
        if (mark[a])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): axis %lld appears twice", c->node->name,
                            c->node->op_type, (long long)axes[i]);
        mark[a] = true;
    }
    *n_axes = n;
    return KILN_OK;
}

static kiln_status squeeze_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 2, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const kiln_tensor *x = c->in[0];
    bool mark[KN_MAX_RANK];
    if (c->n_in > 1 && c->in[1]) {
        size_t n;
        kiln_status s = read_axes(c, x->rank, mark, &n);
        if (s != KILN_OK)
            return s;
        for (int i = 0; i < x->rank; i++)
            if (mark[i] && x->dims[i] != 1)
                return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): cannot squeeze axis %d of size %lld",
                                c->node->name, c->node->op_type, i, (long long)x->dims[i]);
    } else {
        for (int i = 0; i < x->rank; i++)
            mark[i] = x->dims[i] == 1;
    }
    int64_t dims[KN_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!mark[i])
            dims[r++] = x->dims[i];
    return kn_set_output(c, 0, x->dtype, r, dims);
}

static kiln_status unsqueeze_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const kiln_tensor *x = c->in[0];
    const kiln_tensor *axes = c->in[1];
    int64_t n_axes = kn_tensor_count(axes);
    int64_t out_rank = x->rank + n_axes;
    if (out_rank > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): result rank %lld exceeds kiln's limit of %d",
                        c->node->name, c->node->op_type, (long long)out_rank, KN_MAX_RANK);
    bool mark[KN_MAX_RANK];
    size_t n;
    kiln_status s = read_axes(c, (int)out_rank, mark, &n);
    if (s != KILN_OK)
        return s;
    int64_t dims[KN_MAX_RANK];
    int k = 0;
    for (int i = 0; i < out_rank; i++)
        dims[i] = mark[i] ? 1 : x->dims[k++];
    return kn_set_output(c, 0, x->dtype, (int)out_rank, dims);
}

/* ---- Expand ----------------------------------------------------------- */

static kiln_status expand_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const kiln_tensor *x = c->in[0];
    int64_t shape[KN_MAX_RANK + 1];
    size_t n;
    kiln_status s = kn_input_ints(c, 1, shape, KN_MAX_RANK + 1, &n);
    if (s != KILN_OK)
        return s;
    if (n > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): shape has %zu dims, kiln's limit is %d",
                        c->node->name, c->node->op_type, n, KN_MAX_RANK);
    for (size_t i = 0; i < n; i++)
        if (shape[i] < 0)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): shape has negative dim %lld", c->node->name,
                            c->node->op_type, (long long)shape[i]);
    int r;
    int64_t dims[KN_MAX_RANK];
    KN_TRY(kn_broadcast_shape(c, x->rank, x->dims, (int)n, shape, &r, dims));
    return kn_set_output(c, 0, x->dtype, r, dims);
}

static kiln_status expand_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int64_t strides[KN_MAX_RANK];
    kn_broadcast_strides(x->rank, x->dims, y->rank, y->dims, strides);
    kn_copy_view(y->data, x->data, y->rank, y->dims, strides, esz);
    return KILN_OK;
}

/* ---- Tile ------------------------------------------------------------- */

static kiln_status tile_repeats(const kn_op_ctx *c, int64_t *reps)
{
    const kiln_tensor *x = c->in[0];
    size_t n;
    kiln_status s = kn_input_ints(c, 1, reps, KN_MAX_RANK, &n);
    if (s != KILN_OK)
        return s;
    if ((int)n != x->rank)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): repeats has %zu values for rank %d", c->node->name,
                        c->node->op_type, n, x->rank);
    for (size_t i = 0; i < n; i++)
        if (reps[i] < 0)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): repeats[%zu] is negative (%lld)", c->node->name,
                            c->node->op_type, i, (long long)reps[i]);
    return KILN_OK;
}

static kiln_status tile_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const kiln_tensor *x = c->in[0];
    int64_t reps[KN_MAX_RANK], dims[KN_MAX_RANK];
    kiln_status s = tile_repeats(c, reps);
    if (s != KILN_OK)
        return s;
    for (int i = 0; i < x->rank; i++)
        if (!kn_mul_i64(x->dims[i], reps[i], &dims[i]))
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): tiled dim %d overflows", c->node->name,
                            c->node->op_type, i);
    return kn_set_output(c, 0, x->dtype, x->rank, dims);
}

/* The output seen as [r0,d0,r1,d1,...]: repeat axes have stride 0. */
static kiln_status tile_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    int64_t reps[KN_MAX_RANK];
    KN_TRY(tile_repeats(c, reps));
    int64_t in_strides[KN_MAX_RANK], vdims[MAX_VIEW_RANK], vstrides[MAX_VIEW_RANK];
    kn_contiguous_strides(x->rank, x->dims, in_strides);
    for (int i = 0; i < x->rank; i++) {
        vdims[2 * i] = reps[i];
        vstrides[2 * i] = 0;
        vdims[2 * i + 1] = x->dims[i];
        vstrides[2 * i + 1] = in_strides[i];
    }
    kn_copy_view(c->out[0]->data, x->data, 2 * x->rank, vdims, vstrides, esz);
    return KILN_OK;
}

/* ---- Shape / Size ----------------------------------------------------- */

/* Opset 15 start/end: negative counts from the back, then clamp to [0, rank]. */
static int64_t shape_clamp(int64_t v, int rank)
{
    if (v < 0)
        v += rank;
    return v < 0 ? 0 : v > rank ? rank : v;
}

static kiln_status shape_range(const kn_op_ctx *c, int64_t *start, int64_t *end)
{
    int rank = c->in[0]->rank;
    int64_t s = 0, e = rank;
    if (c->node->opset >= 15) {
        KN_TRY(kn_attr_get_int(c->node, "start", 0, &s));
        KN_TRY(kn_attr_get_int(c->node, "end", rank, &e));
    }
    *start = shape_clamp(s, rank);
    *end = shape_clamp(e, rank);
    if (*end < *start)
        *end = *start;
    return KILN_OK;
}

static kiln_status shape_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    int64_t s, e;
    KN_TRY(shape_range(c, &s, &e));
    int64_t n = e - s;
    return kn_set_output(c, 0, KILN_DTYPE_INT64, 1, &n);
}

static kiln_status shape_run(kn_op_ctx *c)
{
    int64_t s, e;
    KN_TRY(shape_range(c, &s, &e));
    int64_t *y = c->out[0]->data;
    for (int64_t i = s; i < e; i++)
        y[i - s] = c->in[0]->dims[i];
    return KILN_OK;
}

static kiln_status size_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    return kn_set_output(c, 0, KILN_DTYPE_INT64, 0, NULL);
}

static kiln_status size_run(kn_op_ctx *c)
{
    *(int64_t *)c->out[0]->data = kn_tensor_count(c->in[0]);
    return KILN_OK;
}

/* ---- Identity --------------------------------------------------------- */

static kiln_status identity_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    if (kn_dtype_is_container(c->in[0]->dtype)) /* sequence or optional: copied in identity_run */
        return c->in[0]->data ? kn_set_output(c, 0, c->in[0]->dtype, 0, NULL) : KN_NEED_VALUE;
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const kiln_tensor *x = c->in[0];
    return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
}

static kiln_status identity_run(kn_op_ctx *c)
{
    if (kn_dtype_is_container(c->in[0]->dtype))
        return kn_list_copy(c->out[0]->data, c->in[0]->data);
    return copy_input(c);
}

/* ---- DepthToSpace / SpaceToDepth -------------------------------------- */

typedef struct block_params {
    int64_t blocksize;
    bool crd; /* DepthToSpace mode CRD (else DCR) */
} block_params;

static kiln_status block_parse(kn_node *n)
{
    block_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    const char *mode = "DCR";
    kiln_status s = kn_attr_require_int(n, "blocksize", &p->blocksize);
    if (s == KILN_OK && p->blocksize <= 0)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): blocksize must be positive, got %lld", n->name, n->op_type,
                     (long long)p->blocksize);
    if (s == KILN_OK && strcmp(n->op_type, "DepthToSpace") == 0)
        s = kn_attr_get_string(n, "mode", "DCR", &mode);
    if (s == KILN_OK) {
        if (strcmp(mode, "CRD") == 0)
            p->crd = true;
        else if (strcmp(mode, "DCR") != 0)
            s = kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): mode '%s' is not supported", n->name,
                         n->op_type, mode);
    }
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status block_check(const kn_op_ctx *c, size_t *esz)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    KN_TRY(elem_size(c, 0, esz));
    if (c->in[0]->rank != 4)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has rank %d, expected 4 (NCHW)", c->node->name,
                        c->node->op_type, c->in[0]->rank);
    return KILN_OK;
}

static kiln_status d2s_infer(kn_op_ctx *c)
{
    const block_params *p = c->params;
    size_t esz;
    KN_TRY(block_check(c, &esz));
    const int64_t *d = c->in[0]->dims, b = p->blocksize;
    if (d[1] % (b * b) != 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): channels %lld not divisible by blocksize^2 = %lld",
                        c->node->name, c->node->op_type, (long long)d[1], (long long)(b * b));
    int64_t dims[4] = {d[0], d[1] / (b * b), d[2] * b, d[3] * b};
    return kn_set_output(c, 0, c->in[0]->dtype, 4, dims);
}

/* The output read as [N, C', H, b, W, b]; the input channel of (c', b1, b2)
 * is (b1*b + b2)*C' + c' in DCR mode and c'*b*b + b1*b + b2 in CRD mode. */
static kiln_status d2s_run(kn_op_ctx *c)
{
    const block_params *p = c->params;
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const int64_t *d = c->in[0]->dims, b = p->blocksize;
    int64_t C = d[1] / (b * b), H = d[2], W = d[3], HW = H * W;
    int64_t vdims[6] = {d[0], C, H, b, W, b};
    int64_t vstr[6] = {d[1] * HW, p->crd ? b * b * HW : HW, W, p->crd ? b * HW : b * C * HW, 1,
                       p->crd ? HW : C * HW};
    kn_copy_view(c->out[0]->data, c->in[0]->data, 6, vdims, vstr, esz);
    return KILN_OK;
}

static kiln_status s2d_infer(kn_op_ctx *c)
{
    const block_params *p = c->params;
    size_t esz;
    KN_TRY(block_check(c, &esz));
    const int64_t *d = c->in[0]->dims, b = p->blocksize;
    if (d[2] % b != 0 || d[3] % b != 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): spatial dims %lldx%lld not divisible by blocksize %lld",
                        c->node->name, c->node->op_type, (long long)d[2], (long long)d[3], (long long)b);
    int64_t dims[4] = {d[0], d[1] * b * b, d[2] / b, d[3] / b};
    return kn_set_output(c, 0, c->in[0]->dtype, 4, dims);
}

/* The output read as [N, b, b, C, H/b, W/b] (output channel (b1*b + b2)*C + c). */
static kiln_status s2d_run(kn_op_ctx *c)
{
    const block_params *p = c->params;
    size_t esz;
    KN_TRY(elem_size(c, 0, &esz));
    const int64_t *d = c->in[0]->dims, b = p->blocksize;
    int64_t C = d[1], H = d[2], W = d[3];
    int64_t vdims[6] = {d[0], b, b, C, H / b, W / b};
    int64_t vstr[6] = {C * H * W, W, 1, H * W, b * W, b};
    kn_copy_view(c->out[0]->data, c->in[0]->data, 6, vdims, vstr, esz);
    return KILN_OK;
}

/* ---- EyeLike ---------------------------------------------------------- */

static kiln_status eyelike_dtype(const kn_op_ctx *c, kiln_dtype *out)
{
    int64_t dt;
    KN_TRY(kn_attr_get_int(c->node, "dtype", c->in[0]->dtype, &dt));
    kiln_dtype d = (kiln_dtype)dt;
    if (d == KILN_DTYPE_STRING || !kn_dtype_known(d) || kiln_dtype_size(d) == 0 || d == KILN_DTYPE_COMPLEX64 ||
        d == KILN_DTYPE_COMPLEX128)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): dtype %lld is not supported", c->node->name,
                        c->node->op_type, (long long)dt);
    *out = d;
    return KILN_OK;
}

static kiln_status eyelike_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    if (c->in[0]->rank != 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has rank %d, expected 2", c->node->name,
                        c->node->op_type, c->in[0]->rank);
    kiln_dtype dt = KILN_DTYPE_UNDEFINED;
    KN_TRY(eyelike_dtype(c, &dt));
    return kn_set_output(c, 0, dt, 2, c->in[0]->dims);
}

static kiln_status eyelike_run(kn_op_ctx *c)
{
    kiln_tensor *y = c->out[0];
    int64_t k;
    KN_TRY(kn_attr_get_int(c->node, "k", 0, &k));
    if (y->nbytes)
        memset(y->data, 0, y->nbytes);
    int64_t rows = y->dims[0], cols = y->dims[1];
    for (int64_t i = 0; i < rows; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < cols)
            kn_tensor_set_f64(y, i * cols + j, 1.0);
    }
    return KILN_OK;
}

/* ---- descriptors ------------------------------------------------------ */

/* Data movement works on every fixed-size type and on strings;
 * Shape and Size read only dims, so they take any type (types NULL). */
const kn_op kn_ops_shape[] = {
    {.domain = "", .name = "Reshape", .since_min = 1, .since_max = 4, .upgrade = reshape_upgrade},
    {.domain = "", .name = "Reshape", .since_min = 5, .parse = reshape_parse, .infer = reshape_infer,
     .run = copy_input, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Flatten", .since_min = 1, .parse = flatten_parse, .infer = flatten_infer,
     .run = copy_input, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Transpose", .since_min = 1, .infer = transpose_infer, .run = transpose_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Squeeze", .since_min = 1, .since_max = 12, .upgrade = axes_upgrade},
    {.domain = "", .name = "Squeeze", .since_min = 13, .infer = squeeze_infer, .run = copy_input, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Unsqueeze", .since_min = 1, .since_max = 12, .upgrade = axes_upgrade},
    {.domain = "", .name = "Unsqueeze", .since_min = 13, .infer = unsqueeze_infer, .run = copy_input, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Expand", .since_min = 8, .infer = expand_infer, .run = expand_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Tile", .since_min = 6, .infer = tile_infer, .run = tile_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Shape", .since_min = 1, .infer = shape_infer, .run = shape_run,
     .flags = KN_OP_SHAPE_ONLY},
    {.domain = "", .name = "Size", .since_min = 1, .infer = size_infer, .run = size_run, .flags = KN_OP_SHAPE_ONLY},
    {.domain = "", .name = "Identity", .since_min = 1, .infer = identity_infer, .run = identity_run,
     .flags = KN_OP_CONTAINERS | KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "DepthToSpace", .since_min = 1, .parse = block_parse, .infer = d2s_infer,
     .run = d2s_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "SpaceToDepth", .since_min = 1, .parse = block_parse, .infer = s2d_infer,
     .run = s2d_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "EyeLike", .since_min = 9, .infer = eyelike_infer, .run = eyelike_run,
     .flags = KN_OP_SHAPE_ONLY, .types = kn_types_fixed},
};
KN_FAMILY_COUNT(shape);
