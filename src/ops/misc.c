/* Misc family: ops that fit no other family. This file holds the one
 * descriptor table and the small ops (OneHot, Compress, Unique,
 * LpNormalization, ReverseSequence, Det, CenterCropPad); the larger kernels
 * live in misc_*.c behind misc_ops.h. Random ops (Bernoulli, RandomUniform,
 * ...) are deliberately absent: their official tests compare values drawn
 * from numpy's generator, which no other implementation reproduces. */
#include "ops/families.h"
#include "ops/misc_ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- shared helpers --------------------------------------------------- */

static kiln_status misc_verror(const kn_node *n, kiln_status code, const char *fmt, va_list ap)
{
    char msg[384];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return kn_error(code, "node '%s' (%s): %s", n->name, n->op_type, msg);
}

kiln_status kn_misc_node_error(const kn_node *n, kiln_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_status s = misc_verror(n, code, fmt, ap);
    va_end(ap);
    return s;
}

kiln_status kn_misc_error(const kn_op_ctx *c, kiln_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_status s = misc_verror(c->node, code, fmt, ap);
    va_end(ap);
    return s;
}

kiln_status kn_misc_check_float(const kn_op_ctx *c, int i)
{
    return kn_check_dtype(c, i, kn_types_float);
}

static kiln_status scalar_input(const kn_op_ctx *c, int i)
{
    const kiln_tensor *t = c->in[i];
    if (t->dtype == KILN_DTYPE_STRING || kiln_dtype_size(t->dtype) == 0 || t->dtype == KILN_DTYPE_COMPLEX64 ||
        t->dtype == KILN_DTYPE_COMPLEX128)
        return kn_misc_error(c, KILN_ERROR_DTYPE, "input %d has dtype %s, expected a number", i,
                             kiln_dtype_name(t->dtype));
    if (kn_tensor_count(t) != 1)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "input %d must hold exactly one value, has %lld", i,
                             (long long)kn_tensor_count(t));
    return t->data ? KILN_OK : KN_NEED_VALUE;
}

kiln_status kn_misc_scalar_i64(const kn_op_ctx *c, int i, int64_t *out)
{
    KN_TRY(scalar_input(c, i));
    *out = kn_tensor_get_i64(c->in[i], 0);
    return KILN_OK;
}

kiln_status kn_misc_scalar_f64(const kn_op_ctx *c, int i, double *out)
{
    KN_TRY(scalar_input(c, i));
    *out = kn_tensor_get_f64(c->in[i], 0);
    return KILN_OK;
}

static int64_t prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

/* Data-movement ops copy elements by size (strings as pointers, see
 * KN_OP_BORROWS_STRINGS). */
static kiln_status movable(const kn_op_ctx *c, int i)
{
    kiln_dtype dt = c->in[i]->dtype;
    if (kn_elem_size(dt) == 0)
        return kn_misc_error(c, KILN_ERROR_UNSUPPORTED, "dtype %s is not supported", kiln_dtype_name(dt));
    return KILN_OK;
}

typedef struct axis_params {
    int64_t axis;
    bool has_axis;
    int64_t flag; /* op-specific int attribute (Unique: sorted, LpNorm: p) */
} axis_params;

static kiln_status axis_params_new(kn_node *n, int64_t def_axis, axis_params **out)
{
    axis_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "axis", def_axis, &p->axis);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    p->has_axis = kn_node_attr(n, "axis") != NULL;
    *out = p;
    return KILN_OK;
}

/* ---- OneHot ------------------------------------------------------------ */

static kiln_status onehot_parse(kn_node *n)
{
    axis_params *p;
    KN_TRY(axis_params_new(n, -1, &p));
    n->params = p;
    return KILN_OK;
}

static kiln_status onehot_shape(kn_op_ctx *c, int *axis, int64_t *depth)
{
    const axis_params *p = c->params;
    const kiln_tensor *ind = c->in[0], *values = c->in[2];
    if (kn_tensor_count(values) != 2)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "values must hold 2 elements (off, on), has %lld",
                             (long long)kn_tensor_count(values));
    KN_TRY(kn_norm_axis(c, p->axis, ind->rank + 1, axis));
    kiln_status s = kn_misc_scalar_f64(c, 1, &(double){0});
    if (s != KILN_OK)
        return s;
    double d = kn_tensor_get_f64(c->in[1], 0);
    if (!(d >= 1.0) || d > 1e15)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "depth must be positive, is %g", d);
    *depth = (int64_t)d;
    return KILN_OK;
}

static kiln_status onehot_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, 3, 1, 1));
    KN_TRY(movable(c, 2));
    int axis;
    int64_t depth;
    KN_TRY(onehot_shape(c, &axis, &depth));
    const kiln_tensor *ind = c->in[0];
    int64_t dims[KN_MAX_RANK];
    int rank = ind->rank + 1;
    if (rank > KN_MAX_RANK)
        return kn_misc_error(c, KILN_ERROR_UNSUPPORTED, "output rank %d exceeds %d", rank, KN_MAX_RANK);
    for (int i = 0, j = 0; i < rank; i++)
        dims[i] = i == axis ? depth : ind->dims[j++];
    return kn_set_output(c, 0, c->in[2]->dtype, rank, dims);
}

static kiln_status onehot_run(kn_op_ctx *c)
{
    int axis;
    int64_t depth;
    KN_TRY(onehot_shape(c, &axis, &depth));
    const kiln_tensor *ind = c->in[0], *values = c->in[2];
    size_t esz = kn_elem_size(values->dtype);
    const char *off = values->data, *on = off + esz;
    char *y = c->out[0]->data;
    int64_t outer = prod(ind->dims, 0, axis), inner = prod(ind->dims, axis, ind->rank);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t d = 0; d < depth; d++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t k = kn_tensor_get_i64(ind, o * inner + i);
                if (k < 0)
                    k += depth; /* negative indices count from the end (opset 11) */
                memcpy(y + (size_t)((o * depth + d) * inner + i) * esz, k == d ? on : off, esz);
            }
    return KILN_OK;
}

/* ---- Compress ---------------------------------------------------------- */

static kiln_status compress_parse(kn_node *n)
{
    axis_params *p;
    KN_TRY(axis_params_new(n, 0, &p));
    n->params = p;
    return KILN_OK;
}

/* Kept count along the axis of length len; a condition longer than the
 * axis is accepted only where its extra entries are false (as numpy does). */
static kiln_status compress_count(const kn_op_ctx *c, int64_t len, int64_t *count)
{
    const kiln_tensor *cond = c->in[1];
    const uint8_t *b = cond->data;
    int64_t n = kn_tensor_count(cond), k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!b[i])
            continue;
        if (i >= len)
            return kn_misc_error(c, KILN_ERROR_SHAPE, "condition selects index %lld, beyond the axis length %lld",
                                 (long long)i, (long long)len);
        k++;
    }
    *count = k;
    return KILN_OK;
}

static kiln_status compress_geometry(const kn_op_ctx *c, int64_t *outer, int64_t *len, int64_t *inner, int *axis)
{
    const axis_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    if (!p->has_axis) {
        *axis = -1;
        *outer = *inner = 1;
        *len = kn_tensor_count(x);
        return KILN_OK;
    }
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, axis));
    *outer = prod(x->dims, 0, *axis);
    *len = x->dims[*axis];
    *inner = prod(x->dims, *axis + 1, x->rank);
    return KILN_OK;
}

static kiln_status compress_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    static const kiln_dtype ok[] = {KILN_DTYPE_BOOL, KILN_DTYPE_UNDEFINED};
    KN_TRY(kn_check_dtype(c, 1, ok));
    if (c->in[1]->rank != 1)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "condition has rank %d, expected 1", c->in[1]->rank);
    int64_t outer, len, inner, count;
    int axis;
    KN_TRY(compress_geometry(c, &outer, &len, &inner, &axis));
    if (!c->in[1]->data)
        return KN_NEED_VALUE;
    KN_TRY(compress_count(c, len, &count));
    const kiln_tensor *x = c->in[0];
    if (axis < 0)
        return kn_set_output(c, 0, x->dtype, 1, &count);
    int64_t dims[KN_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = count;
    return kn_set_output(c, 0, x->dtype, x->rank, dims);
}

static kiln_status compress_run(kn_op_ctx *c)
{
    int64_t outer, len, inner, count;
    int axis;
    KN_TRY(compress_geometry(c, &outer, &len, &inner, &axis));
    KN_TRY(compress_count(c, len, &count));
    const kiln_tensor *x = c->in[0];
    const uint8_t *b = c->in[1]->data;
    int64_t nb = KN_MIN(kn_tensor_count(c->in[1]), len);
    size_t esz = kn_elem_size(x->dtype), row = (size_t)inner * esz;
    const char *src = x->data;
    char *dst = c->out[0]->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < nb; i++)
            if (b[i]) {
                memcpy(dst, src + (size_t)(o * len + i) * row, row);
                dst += row;
            }
    return KILN_OK;
}

/* ---- Unique ------------------------------------------------------------ */

static kiln_status unique_parse(kn_node *n)
{
    axis_params *p;
    KN_TRY(axis_params_new(n, 0, &p));
    kiln_status s = kn_attr_get_int(n, "sorted", 1, &p->flag);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* Slices along the axis: slice k holds elements (o, k, i) for all o, i. */
typedef struct unique_view {
    const kiln_tensor *x;
    int64_t outer, n, inner;
} unique_view;

static int elem_cmp(const kiln_tensor *x, int64_t a, int64_t b)
{
    switch (x->dtype) {
    case KILN_DTYPE_INT64: {
        int64_t u = ((const int64_t *)x->data)[a], v = ((const int64_t *)x->data)[b];
        return (u > v) - (u < v);
    }
    case KILN_DTYPE_UINT64: {
        uint64_t u = ((const uint64_t *)x->data)[a], v = ((const uint64_t *)x->data)[b];
        return (u > v) - (u < v);
    }
    default: {
        double u = kn_tensor_get_f64(x, a), v = kn_tensor_get_f64(x, b);
        return (u > v) - (u < v);
    }
    }
}

static int slice_cmp(const unique_view *v, int64_t a, int64_t b)
{
    for (int64_t o = 0; o < v->outer; o++)
        for (int64_t i = 0; i < v->inner; i++) {
            int r = elem_cmp(v->x, (o * v->n + a) * v->inner + i, (o * v->n + b) * v->inner + i);
            if (r)
                return r;
        }
    return 0;
}

/* Stable merge sort of slice indices by slice content. */
static void unique_sort(const unique_view *v, int64_t *idx, int64_t *tmp, int64_t n)
{
    if (n < 2)
        return;
    int64_t h = n / 2;
    unique_sort(v, idx, tmp, h);
    unique_sort(v, idx + h, tmp, n - h);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = slice_cmp(v, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

/* Merge sort of plain int64 values. */
static void sort_i64(int64_t *a, int64_t *tmp, int64_t n)
{
    if (n < 2)
        return;
    int64_t h = n / 2;
    sort_i64(a, tmp, h);
    sort_i64(a + h, tmp, n - h);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = a[j] < a[i] ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

/* first[u]: slice index of unique u's first occurrence (output order);
 * inverse[k]: unique of slice k; counts[u]. Arrays hold n entries each. */
typedef struct unique_result {
    int64_t count;
    int64_t *first, *inverse, *counts;
} unique_result;

static void unique_result_free(unique_result *r)
{
    kn_free(r->first);
    kn_free(r->inverse);
    kn_free(r->counts);
}

static kiln_status unique_view_of(const kn_op_ctx *c, unique_view *v)
{
    const axis_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    v->x = x;
    if (!p->has_axis) {
        v->outer = v->inner = 1;
        v->n = kn_tensor_count(x);
        return KILN_OK;
    }
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    v->outer = prod(x->dims, 0, axis);
    v->n = x->dims[axis];
    v->inner = prod(x->dims, axis + 1, x->rank);
    return KILN_OK;
}

static kiln_status unique_compute(const kn_op_ctx *c, const unique_view *v, unique_result *r)
{
    const axis_params *p = c->params;
    int64_t n = v->n;
    size_t sz = (size_t)(n > 0 ? n : 1) * sizeof(int64_t);
    int64_t *idx = kn_malloc(sz), *tmp = kn_malloc(sz);
    r->first = kn_malloc(sz);
    r->inverse = kn_malloc(sz);
    r->counts = kn_malloc(sz);
    r->count = 0;
    if (!idx || !tmp || !r->first || !r->inverse || !r->counts) {
        kn_free(idx);
        kn_free(tmp);
        unique_result_free(r);
        return KN_NOMEM();
    }
    for (int64_t k = 0; k < n; k++)
        idx[k] = k;
    unique_sort(v, idx, tmp, n);
    /* Runs of equal slices; stability makes each run start at its first occurrence. */
    int64_t u = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k == 0 || slice_cmp(v, idx[k - 1], idx[k]) != 0) {
            r->first[u] = idx[k];
            r->counts[u] = 0;
            u++;
        }
        r->counts[u - 1]++;
        tmp[idx[k]] = u - 1; /* run of slice idx[k] */
    }
    r->count = u;
    if (p->flag) {
        memcpy(r->inverse, tmp, (size_t)n * sizeof(int64_t));
    } else {
        /* Unsorted: runs in order of first occurrence. Sorting the first
         * indices (distinct values) gives that order; pos maps run -> rank. */
        int64_t *order = idx, *pos = kn_malloc(sz);
        if (!pos) {
            kn_free(idx);
            kn_free(tmp);
            unique_result_free(r);
            return KN_NOMEM();
        }
        memcpy(order, r->first, (size_t)u * sizeof(int64_t));
        sort_i64(order, pos, u);
        /* order[k] = k-th smallest first index; find each run's rank */
        for (int64_t k = 0; k < u; k++) {
            int64_t run = tmp[order[k]];
            pos[run] = k;
        }
        for (int64_t k = 0; k < u; k++) {
            int64_t run = tmp[order[k]];
            r->first[k] = order[k];
            order[k] = r->counts[run];
        }
        memcpy(r->counts, order, (size_t)u * sizeof(int64_t));
        for (int64_t k = 0; k < n; k++)
            r->inverse[k] = pos[tmp[k]];
        kn_free(pos);
    }
    kn_free(idx);
    kn_free(tmp);
    return KILN_OK;
}

static kiln_status unique_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 4));
    const kiln_tensor *x = c->in[0];
    unique_view v;
    KN_TRY(unique_view_of(c, &v));
    if (!x->data)
        return KN_NEED_VALUE;
    unique_result r;
    KN_TRY(unique_compute(c, &v, &r));
    int64_t u = r.count;
    unique_result_free(&r);
    const axis_params *p = c->params;
    kiln_status s = KILN_OK;
    if (p->has_axis) {
        int axis;
        KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
        int64_t dims[KN_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = u;
        s = kn_set_output(c, 0, x->dtype, x->rank, dims);
    } else {
        s = kn_set_output(c, 0, x->dtype, 1, &u);
    }
    if (s == KILN_OK && c->n_out > 1 && c->out[1])
        s = kn_set_output(c, 1, KILN_DTYPE_INT64, 1, &u);
    if (s == KILN_OK && c->n_out > 2 && c->out[2])
        s = kn_set_output(c, 2, KILN_DTYPE_INT64, 1, &v.n);
    if (s == KILN_OK && c->n_out > 3 && c->out[3])
        s = kn_set_output(c, 3, KILN_DTYPE_INT64, 1, &u);
    return s;
}

static kiln_status unique_run(kn_op_ctx *c)
{
    unique_view v;
    KN_TRY(unique_view_of(c, &v));
    unique_result r;
    KN_TRY(unique_compute(c, &v, &r));
    int64_t u = r.count;
    kiln_tensor *y = c->out[0];
    size_t esz = kiln_dtype_size(v.x->dtype), row = (size_t)v.inner * esz;
    if (y && kn_tensor_count(y) != v.outer * u * v.inner) {
        unique_result_free(&r);
        return kn_misc_error(c, KILN_ERROR_INTERNAL, "input changed after shape inference");
    }
    if (y)
        for (int64_t o = 0; o < v.outer; o++)
            for (int64_t k = 0; k < u; k++)
                memcpy((char *)y->data + (size_t)(o * u + k) * row,
                       (const char *)v.x->data + (size_t)(o * v.n + r.first[k]) * row, row);
    if (c->n_out > 1 && c->out[1])
        memcpy(c->out[1]->data, r.first, (size_t)u * sizeof(int64_t));
    if (c->n_out > 2 && c->out[2])
        memcpy(c->out[2]->data, r.inverse, (size_t)v.n * sizeof(int64_t));
    if (c->n_out > 3 && c->out[3])
        memcpy(c->out[3]->data, r.counts, (size_t)u * sizeof(int64_t));
    unique_result_free(&r);
    return KILN_OK;
}

/* ---- LpNormalization --------------------------------------------------- */

static kiln_status lpnorm_parse(kn_node *n)
{
    axis_params *p;
    KN_TRY(axis_params_new(n, -1, &p));
    kiln_status s = kn_attr_get_int(n, "p", 2, &p->flag);
    if (s == KILN_OK && p->flag != 1 && p->flag != 2)
        s = kn_misc_node_error(n, KILN_ERROR_UNSUPPORTED, "p=%lld is not supported (only 1 and 2)",
                               (long long)p->flag);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status lpnorm_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const axis_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
}

/* A zero norm gives zeros rather than 0/0 = NaN, as ONNX Runtime does. */
static kiln_status lpnorm_run(kn_op_ctx *c)
{
    const axis_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    int64_t outer = prod(x->dims, 0, axis), len = x->dims[axis], inner = prod(x->dims, axis + 1, x->rank);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            double norm = 0.0;
            for (int64_t k = 0; k < len; k++) {
                double v = kn_tensor_get_f64(x, base + k * inner);
                norm += p->flag == 1 ? fabs(v) : v * v;
            }
            if (p->flag == 2)
                norm = sqrt(norm);
            for (int64_t k = 0; k < len; k++) {
                double v = kn_tensor_get_f64(x, base + k * inner);
                kn_tensor_set_f64(y, base + k * inner, norm != 0.0 ? v / norm : 0.0);
            }
        }
    return KILN_OK;
}

/* ---- ReverseSequence --------------------------------------------------- */

typedef struct revseq_params {
    int64_t batch_axis, time_axis;
} revseq_params;

static kiln_status revseq_parse(kn_node *n)
{
    revseq_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "batch_axis", 1, &p->batch_axis);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "time_axis", 0, &p->time_axis);
    if (s == KILN_OK && ((p->batch_axis != 0 && p->batch_axis != 1) || (p->time_axis != 0 && p->time_axis != 1) ||
                         p->batch_axis == p->time_axis))
        s = kn_misc_node_error(n, KILN_ERROR_MODEL, "batch_axis=%lld and time_axis=%lld must be 0 and 1 in some order",
                               (long long)p->batch_axis, (long long)p->time_axis);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status revseq_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    static const kiln_dtype ok[] = {KILN_DTYPE_INT64, KILN_DTYPE_INT32, KILN_DTYPE_UNDEFINED};
    KN_TRY(kn_check_dtype(c, 1, ok));
    const revseq_params *p = c->params;
    const kiln_tensor *x = c->in[0], *lens = c->in[1];
    if (x->rank < 2)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "input has rank %d, expected at least 2", x->rank);
    if (lens->rank != 1 || lens->dims[0] != x->dims[p->batch_axis])
        return kn_misc_error(c, KILN_ERROR_SHAPE, "sequence_lens must have shape [%lld]",
                             (long long)x->dims[p->batch_axis]);
    return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
}

static kiln_status revseq_run(kn_op_ctx *c)
{
    const revseq_params *p = c->params;
    const kiln_tensor *x = c->in[0], *lens = c->in[1];
    size_t esz = kn_elem_size(x->dtype);
    int64_t T = x->dims[p->time_axis], B = x->dims[p->batch_axis];
    int64_t inner = prod(x->dims, 2, x->rank);
    int64_t st = p->time_axis == 0 ? B * inner : inner, sb = p->batch_axis == 0 ? T * inner : inner;
    size_t row = (size_t)inner * esz;
    for (int64_t b = 0; b < B; b++) {
        int64_t len = kn_tensor_get_i64(lens, b);
        if (len < 0 || len > T)
            return kn_misc_error(c, KILN_ERROR_SHAPE, "sequence_lens[%lld]=%lld is outside [0, %lld]", (long long)b,
                                 (long long)len, (long long)T);
        for (int64_t t = 0; t < T; t++) {
            int64_t from = t < len ? len - 1 - t : t;
            memcpy((char *)c->out[0]->data + (size_t)(b * sb + t * st) * esz,
                   (const char *)x->data + (size_t)(b * sb + from * st) * esz, row);
        }
    }
    return KILN_OK;
}

/* ---- Det --------------------------------------------------------------- */

static kiln_status det_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
        return kn_misc_error(c, KILN_ERROR_SHAPE, "input must be [*, M, M]");
    return kn_set_output(c, 0, x->dtype, x->rank - 2, x->dims);
}

static kiln_status det_prepare(kn_op_ctx *c)
{
    int64_t m = c->in[0]->dims[c->in[0]->rank - 1];
    c->scratch_size = (size_t)(m * m) * sizeof(double);
    return KILN_OK;
}

/* LU decomposition with partial pivoting; a in row-major order, destroyed. */
static double det_lu(double *a, int64_t m)
{
    double det = 1.0;
    for (int64_t k = 0; k < m; k++) {
        int64_t piv = k;
        for (int64_t i = k + 1; i < m; i++)
            if (fabs(a[i * m + k]) > fabs(a[piv * m + k]))
                piv = i;
        if (a[piv * m + k] == 0.0)
            return 0.0;
        if (piv != k) {
            for (int64_t j = 0; j < m; j++) {
                double t = a[k * m + j];
                a[k * m + j] = a[piv * m + j];
                a[piv * m + j] = t;
            }
            det = -det;
        }
        det *= a[k * m + k];
        for (int64_t i = k + 1; i < m; i++) {
            double f = a[i * m + k] / a[k * m + k];
            for (int64_t j = k + 1; j < m; j++)
                a[i * m + j] -= f * a[k * m + j];
        }
    }
    return det;
}

static kiln_status det_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    int64_t m = x->dims[x->rank - 1], mats = prod(x->dims, 0, x->rank - 2);
    if (c->scratch_size < (size_t)(m * m) * sizeof(double))
        return kn_misc_error(c, KILN_ERROR_INTERNAL, "scratch too small");
    double *a = c->scratch;
    for (int64_t b = 0; b < mats; b++) {
        for (int64_t i = 0; i < m * m; i++)
            a[i] = kn_tensor_get_f64(x, b * m * m + i);
        kn_tensor_set_f64(c->out[0], b, det_lu(a, m));
    }
    return KILN_OK;
}

/* ---- CenterCropPad ----------------------------------------------------- */

static kiln_status ccp_parse(kn_node *n)
{
    const int64_t *axes;
    size_t count;
    return kn_attr_get_ints(n, "axes", &axes, &count);
}

static kiln_status ccp_shape(const kn_op_ctx *c, int64_t *dims)
{
    const kiln_tensor *x = c->in[0];
    const int64_t *axes;
    size_t n_axes;
    KN_TRY(kn_attr_get_ints(c->node, "axes", &axes, &n_axes));
    int64_t shape[KN_MAX_RANK];
    size_t n;
    KN_TRY(kn_input_ints(c, 1, shape, KN_MAX_RANK, &n));
    size_t want = axes ? n_axes : (size_t)x->rank;
    if (n != want)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "shape has %zu values, expected %zu", n, want);
    memcpy(dims, x->dims, sizeof(int64_t) * KN_MAX_RANK);
    bool seen[KN_MAX_RANK] = {false};
    for (size_t i = 0; i < n; i++) {
        int a = (int)i;
        if (axes)
            KN_TRY(kn_norm_axis(c, axes[i], x->rank, &a));
        if (seen[a])
            return kn_misc_error(c, KILN_ERROR_MODEL, "axis %d repeats", a);
        seen[a] = true;
        if (shape[i] < 0)
            return kn_misc_error(c, KILN_ERROR_SHAPE, "shape[%zu]=%lld is negative", i, (long long)shape[i]);
        dims[a] = shape[i];
    }
    return KILN_OK;
}

static kiln_status ccp_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    static const kiln_dtype ok[] = {KILN_DTYPE_INT64, KILN_DTYPE_INT32, KILN_DTYPE_UNDEFINED};
    KN_TRY(kn_check_dtype(c, 1, ok));
    int64_t dims[KN_MAX_RANK];
    KN_TRY(ccp_shape(c, dims));
    return kn_set_output(c, 0, c->in[0]->dtype, c->in[0]->rank, dims);
}

/* Crops start at floor((in - out) / 2), pads put floor((out - in) / 2)
 * zeros first; the overlapping box is copied row by row. */
static kiln_status ccp_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    int r = x->rank;
    size_t esz = kn_elem_size(x->dtype);
    memset(y->data, 0, y->nbytes); /* zeros; NULL strings, copied as "" */
    if (kn_tensor_count(y) == 0 || kn_tensor_count(x) == 0)
        return KILN_OK;
    if (r == 0) {
        memcpy(y->data, x->data, esz);
        return KILN_OK;
    }
    int64_t src0[KN_MAX_RANK], dst0[KN_MAX_RANK], len[KN_MAX_RANK], xs[KN_MAX_RANK], ys[KN_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int64_t din = x->dims[i], dout = y->dims[i];
        src0[i] = din > dout ? (din - dout) / 2 : 0;
        dst0[i] = dout > din ? (dout - din) / 2 : 0;
        len[i] = KN_MIN(din, dout);
    }
    kn_contiguous_strides(r, x->dims, xs);
    kn_contiguous_strides(r, y->dims, ys);
    int64_t rows = prod(len, 0, r - 1), coord[KN_MAX_RANK] = {0};
    for (int64_t k = 0; k < rows; k++) {
        int64_t so = 0, d = 0;
        for (int i = 0; i < r; i++) {
            so += (src0[i] + coord[i]) * xs[i];
            d += (dst0[i] + coord[i]) * ys[i];
        }
        memcpy((char *)y->data + (size_t)d * esz, (const char *)x->data + (size_t)so * esz,
               (size_t)len[r - 1] * esz);
        for (int i = r - 2; i >= 0; i--) {
            if (++coord[i] < len[i])
                break;
            coord[i] = 0;
        }
    }
    return KILN_OK;
}

/* ---- descriptors ------------------------------------------------------- */

#define MISC_OP(nm, since, hooks, types_) \
    {.domain = "", .name = nm, .since_min = since, .parse = kn_misc_##hooks##_parse, \
     .infer = kn_misc_##hooks##_infer, .run = kn_misc_##hooks##_run, .types = types_}

/* Input 0's dtypes (kn_op.types). Data movement (Compress, ReverseSequence,
 * CenterCropPad) takes every fixed-size type, Unique every comparable one;
 * the generators (windows, MelWeightMatrix) list their size input's. */
static const kiln_dtype onehot_types[] = {KILN_DTYPE_INT64,  KILN_DTYPE_INT32,  KILN_DTYPE_INT8,   KILN_DTYPE_UINT8,
                                          KILN_DTYPE_INT16,  KILN_DTYPE_UINT16, KILN_DTYPE_UINT32, KILN_DTYPE_UINT64,
                                          KILN_DTYPE_FLOAT,  KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16,
                                          KILN_DTYPE_UNDEFINED};

const kn_op kn_ops_misc[] = {
    {.domain = "", .name = "OneHot", .since_min = 9, .parse = onehot_parse, .infer = onehot_infer,
     .run = onehot_run, .types = onehot_types, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Compress", .since_min = 9, .parse = compress_parse, .infer = compress_infer,
     .run = compress_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Unique", .since_min = 11, .parse = unique_parse, .infer = unique_infer,
     .run = unique_run, .types = kn_types_plain},
    {.domain = "", .name = "LpNormalization", .since_min = 1, .parse = lpnorm_parse, .infer = lpnorm_infer,
     .run = lpnorm_run, .types = kn_types_float},
    {.domain = "", .name = "ReverseSequence", .since_min = 10, .parse = revseq_parse, .infer = revseq_infer,
     .run = revseq_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "Det", .since_min = 11, .infer = det_infer, .prepare = det_prepare, .run = det_run,
     .types = kn_types_float},
    {.domain = "", .name = "CenterCropPad", .since_min = 18, .parse = ccp_parse, .infer = ccp_infer,
     .run = ccp_run, .types = kn_types_movable, .flags = KN_OP_BORROWS_STRINGS},
    MISC_OP("Einsum", 12, einsum, kn_misc_einsum_types),
    MISC_OP("NonMaxSuppression", 10, nms, kn_types_float),
    MISC_OP("RoiAlign", 10, roialign, kn_types_float),
    MISC_OP("DFT", 17, dft, kn_types_float),
    MISC_OP("STFT", 17, stft, kn_types_float),
    MISC_OP("HannWindow", 17, window, kn_types_index),
    MISC_OP("HammingWindow", 17, window, kn_types_index),
    MISC_OP("BlackmanWindow", 17, window, kn_types_index),
    MISC_OP("MelWeightMatrix", 17, melweight, kn_types_plain),
    MISC_OP("GridSample", 16, gridsample, kn_types_float),
    MISC_OP("AffineGrid", 20, affinegrid, kn_types_float),
    MISC_OP("Col2Im", 18, col2im, kn_types_float),
};
KN_FAMILY_COUNT(misc);
