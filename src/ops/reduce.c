/* Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
 * ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare, and
 * ArgMax / ArgMin.
 *
 * `axes` is an attribute up to opset 12 (ReduceSum) / 17 (the others) and an
 * optional int64 input from then on; parse branches on the opset so infer
 * and run see one list either way. No axes means "all axes", unless
 * noop_with_empty_axes is set, which makes the op an identity.
 *
 * Kernel: the input is viewed as kept and reduced dimensions (adjacent
 * dimensions of the same kind merged, size-1 ones dropped); each output
 * element folds its reduced elements, gathered a span at a time into a small
 * buffer. Floating inputs fold in double; integer inputs fold exactly in
 * int64 (wrapping like the C types would), except L2 / LogSum / LogSumExp,
 * which are real-valued and truncated back. An empty reduce set yields the
 * op's identity (0 for sums, 1 for products, -inf/+inf or the integer type's
 * limit for Max/Min, -inf for the logs, NaN for Mean). */
#include "ops/families.h"

#include <math.h>
#include <string.h>

typedef enum rd_kind {
    RD_SUM,
    RD_MEAN,
    RD_MAX,
    RD_MIN,
    RD_PROD,
    RD_L1,
    RD_L2,
    RD_LOGSUM,
    RD_LOGSUMEXP,
    RD_SUMSQ
} rd_kind;

static const struct {
    const char *name;
    rd_kind kind;
    int axes_input_since; /* first opset where axes is an input */
} rd_table[] = {
    {"ReduceSum", RD_SUM, 13},         {"ReduceMean", RD_MEAN, 18},   {"ReduceMax", RD_MAX, 18},
    {"ReduceMin", RD_MIN, 18},         {"ReduceProd", RD_PROD, 18},   {"ReduceL1", RD_L1, 18},
    {"ReduceL2", RD_L2, 18},           {"ReduceLogSum", RD_LOGSUM, 18}, {"ReduceLogSumExp", RD_LOGSUMEXP, 18},
    {"ReduceSumSquare", RD_SUMSQ, 18},
};

typedef struct rd_params {
    rd_kind kind;
    bool axes_from_input;
    int64_t keepdims, noop_empty;
    size_t n_axes; /* attribute form */
    int64_t axes[KN_MAX_RANK];
} rd_params;

static kiln_status rd_parse(kn_node *n)
{
    rd_params p = {0};
    size_t k = 0;
    while (k < sizeof rd_table / sizeof rd_table[0] && strcmp(rd_table[k].name, n->op_type) != 0)
        k++;
    if (k == sizeof rd_table / sizeof rd_table[0])
        return kn_error(KILN_ERROR_INTERNAL, "node '%s': %s is not a reduction", n->name, n->op_type);
    p.kind = rd_table[k].kind;
    p.axes_from_input = n->opset >= rd_table[k].axes_input_since;
    KN_TRY(kn_attr_get_int(n, "keepdims", 1, &p.keepdims));
    KN_TRY(kn_attr_get_int(n, "noop_with_empty_axes", 0, &p.noop_empty));
    if (!p.axes_from_input) {
        const int64_t *axes;
        KN_TRY(kn_attr_get_ints(n, "axes", &axes, &p.n_axes));
        if (p.n_axes > KN_MAX_RANK)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %zu axes, at most %d allowed", n->name, n->op_type,
                            p.n_axes, KN_MAX_RANK);
        if (p.n_axes)
            memcpy(p.axes, axes, p.n_axes * sizeof(int64_t));
    } else if (kn_node_attr(n, "axes")) {
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): attribute 'axes' is an input since opset %d", n->name,
                        n->op_type, rd_table[k].axes_input_since);
    }
    rd_params *pp = kn_malloc(sizeof *pp);
    if (!pp)
        return KN_NOMEM();
    *pp = p;
    n->params = pp;
    return KILN_OK;
}

/* Which axes reduce; *identity when the op passes the input through. */
static kiln_status rd_axes(const kn_op_ctx *c, bool *mask, bool *identity)
{
    const rd_params *p = c->params;
    int rank = c->in[0]->rank;
    int64_t axes[KN_MAX_RANK + 1];
    size_t n_axes = 0;
    if (p->axes_from_input) {
        if (c->n_in > 1 && c->in[1]) {
            if (c->in[1]->rank > 1)
                return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): axes must be 1-D", c->node->name,
                                c->node->op_type);
            KN_TRY(kn_input_ints(c, 1, axes, KN_MAX_RANK + 1, &n_axes));
        }
    } else {
        n_axes = p->n_axes;
        memcpy(axes, p->axes, n_axes * sizeof(int64_t));
    }
    *identity = n_axes == 0 && p->noop_empty;
    for (int i = 0; i < rank; i++)
        mask[i] = n_axes == 0;
    for (size_t i = 0; i < n_axes; i++) {
        int a;
        KN_TRY(kn_norm_axis(c, axes[i], rank, &a));
        /* as in the reference (numpy): an axis named twice is an error, not
         * a set union */
        if (mask[a])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): axis %d is listed twice in axes", c->node->name,
                            c->node->op_type, a);
        mask[a] = true;
    }
    return KILN_OK;
}

/* X's dtypes (kn_op.types): what the reduction loads; max/min also bool. */
static const kiln_dtype numeric[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_INT32,
                                     KILN_DTYPE_INT64, KILN_DTYPE_INT8,  KILN_DTYPE_UINT8,   KILN_DTYPE_UNDEFINED};
static const kiln_dtype with_bool[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16,
                                       KILN_DTYPE_INT32, KILN_DTYPE_INT64,  KILN_DTYPE_INT8,
                                       KILN_DTYPE_UINT8, KILN_DTYPE_BOOL,   KILN_DTYPE_UNDEFINED};

static kiln_status rd_infer(kn_op_ctx *c)
{
    const rd_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, p->axes_from_input ? 2 : 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    bool mask[KN_MAX_RANK], identity;
    KN_TRY(rd_axes(c, mask, &identity));
    if (identity)
        return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
    int64_t dims[KN_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!mask[i])
            dims[r++] = x->dims[i];
        else if (p->keepdims)
            dims[r++] = 1;
    }
    return kn_set_output(c, 0, x->dtype, r, dims);
}

/* ---- kernel ----------------------------------------------------------- */

#define SPAN 256

typedef struct rd_job {
    rd_kind kind;
    kiln_dtype dtype;
    bool int_path; /* exact int64 folding */
    const void *x;
    void *y;
    int n_kept, n_red;
    int64_t kept_dims[KN_MAX_RANK], kept_strides[KN_MAX_RANK];
    int64_t red_dims[KN_MAX_RANK], red_strides[KN_MAX_RANK];
    int64_t red_count;
    int64_t out_count, chunk;
} rd_job;

static bool is_float(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16;
}

static void gather_f64(kiln_dtype dt, const void *x, int64_t off, int64_t n, int64_t st, double *b)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: {
        const float *s = (const float *)x + off;
        for (int64_t k = 0; k < n; k++)
            b[k] = s[k * st];
        break;
    }
    case KILN_DTYPE_DOUBLE: {
        const double *s = (const double *)x + off;
        for (int64_t k = 0; k < n; k++)
            b[k] = s[k * st];
        break;
    }
    case KILN_DTYPE_FLOAT16: {
        const uint16_t *s = (const uint16_t *)x + off;
        for (int64_t k = 0; k < n; k++)
            b[k] = kn_half_to_float(s[k * st]);
        break;
    }
    default: {
        const kiln_tensor t = {.dtype = dt, .data = (void *)x};
        for (int64_t k = 0; k < n; k++)
            b[k] = (double)kn_tensor_get_i64(&t, off + k * st);
        break;
    }
    }
}

static void gather_i64(kiln_dtype dt, const void *x, int64_t off, int64_t n, int64_t st, int64_t *b)
{
    switch (dt) {
    case KILN_DTYPE_INT32: {
        const int32_t *s = (const int32_t *)x + off;
        for (int64_t k = 0; k < n; k++)
            b[k] = s[k * st];
        break;
    }
    case KILN_DTYPE_INT64: {
        const int64_t *s = (const int64_t *)x + off;
        for (int64_t k = 0; k < n; k++)
            b[k] = s[k * st];
        break;
    }
    case KILN_DTYPE_INT8: {
        const int8_t *s = (const int8_t *)x + off;
        for (int64_t k = 0; k < n; k++)
            b[k] = s[k * st];
        break;
    }
    default: { /* UINT8, BOOL */
        const uint8_t *s = (const uint8_t *)x + off;
        for (int64_t k = 0; k < n; k++)
            b[k] = s[k * st];
        break;
    }
    }
}

typedef struct acc_f {
    double v, m;
} acc_f;

static acc_f acc_f_init(rd_kind kind)
{
    acc_f a = {0.0, -INFINITY};
    if (kind == RD_PROD)
        a.v = 1.0;
    else if (kind == RD_MAX)
        a.v = -INFINITY;
    else if (kind == RD_MIN)
        a.v = INFINITY;
    return a;
}

static void acc_f_fold(rd_kind kind, acc_f *a, const double *b, int64_t n)
{
    double v = a->v;
    switch (kind) {
    case RD_SUM:
    case RD_MEAN:
    case RD_LOGSUM:
        for (int64_t k = 0; k < n; k++)
            v += b[k];
        break;
    case RD_L1:
        for (int64_t k = 0; k < n; k++)
            v += fabs(b[k]);
        break;
    case RD_L2:
    case RD_SUMSQ:
        for (int64_t k = 0; k < n; k++)
            v += b[k] * b[k];
        break;
    case RD_PROD:
        for (int64_t k = 0; k < n; k++)
            v *= b[k];
        break;
    case RD_MAX:
        for (int64_t k = 0; k < n; k++)
            if (b[k] > v || isnan(b[k]))
                v = b[k];
        break;
    case RD_MIN:
        for (int64_t k = 0; k < n; k++)
            if (b[k] < v || isnan(b[k]))
                v = b[k];
        break;
    case RD_LOGSUMEXP: {
        /* Online: v is the sum of exp(x - m) for the running max m. */
        double m = a->m;
        for (int64_t k = 0; k < n; k++) {
            double x = b[k];
            if (x == -INFINITY)
                continue;
            if (x > m || isnan(x)) {
                v = v * exp(m - x) + 1.0;
                m = x;
            } else {
                v += exp(x - m);
            }
        }
        a->m = m;
        break;
    }
    }
    a->v = v;
}

static double acc_f_final(rd_kind kind, const acc_f *a, int64_t n)
{
    switch (kind) {
    case RD_MEAN:
        return a->v / (double)n;
    case RD_L2:
        return sqrt(a->v);
    case RD_LOGSUM:
        return log(a->v);
    case RD_LOGSUMEXP:
        return a->v == 0.0 ? -INFINITY : a->m + log(a->v);
    default:
        return a->v;
    }
}

static int64_t acc_i_init(rd_kind kind)
{
    return kind == RD_PROD ? 1 : kind == RD_MAX ? INT64_MIN : kind == RD_MIN ? INT64_MAX : 0;
}

static int64_t acc_i_fold(rd_kind kind, int64_t acc, const int64_t *b, int64_t n)
{
    uint64_t v = (uint64_t)acc; /* wrap instead of overflowing */
    switch (kind) {
    case RD_SUM:
    case RD_MEAN:
        for (int64_t k = 0; k < n; k++)
            v += (uint64_t)b[k];
        return (int64_t)v;
    case RD_L1:
        for (int64_t k = 0; k < n; k++)
            v += (uint64_t)(b[k] < 0 ? -(uint64_t)b[k] : (uint64_t)b[k]);
        return (int64_t)v;
    case RD_SUMSQ:
        for (int64_t k = 0; k < n; k++)
            v += (uint64_t)b[k] * (uint64_t)b[k];
        return (int64_t)v;
    case RD_PROD:
        for (int64_t k = 0; k < n; k++)
            v *= (uint64_t)b[k];
        return (int64_t)v;
    case RD_MAX:
        for (int64_t k = 0; k < n; k++)
            acc = b[k] > acc ? b[k] : acc;
        return acc;
    case RD_MIN:
        for (int64_t k = 0; k < n; k++)
            acc = b[k] < acc ? b[k] : acc;
        return acc;
    default:
        return acc;
    }
}

/* Largest / smallest value of an integer dtype (empty Max / Min). */
static int64_t int_limit(kiln_dtype dt, bool lowest)
{
    switch (dt) {
    case KILN_DTYPE_INT32: return lowest ? INT32_MIN : INT32_MAX;
    case KILN_DTYPE_INT8: return lowest ? INT8_MIN : INT8_MAX;
    case KILN_DTYPE_UINT8: return lowest ? 0 : UINT8_MAX;
    case KILN_DTYPE_BOOL: return lowest ? 0 : 1;
    default: return lowest ? INT64_MIN : INT64_MAX;
    }
}

static void store(kiln_dtype dt, void *y, int64_t i, double vf, int64_t vi, bool from_int)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: ((float *)y)[i] = (float)vf; break;
    case KILN_DTYPE_DOUBLE: ((double *)y)[i] = vf; break;
    case KILN_DTYPE_FLOAT16: ((uint16_t *)y)[i] = kn_float_to_half((float)vf); break;
    default: {
        /* Real-valued results on integer inputs truncate like a C cast;
         * +-inf / NaN (log of 0, ...) have no integer value and give 0. */
        int64_t v = from_int ? vi : (isfinite(vf) ? (int64_t)vf : 0);
        switch (dt) {
        case KILN_DTYPE_INT32: ((int32_t *)y)[i] = (int32_t)v; break;
        case KILN_DTYPE_INT64: ((int64_t *)y)[i] = v; break;
        case KILN_DTYPE_INT8: ((int8_t *)y)[i] = (int8_t)v; break;
        case KILN_DTYPE_UINT8: ((uint8_t *)y)[i] = (uint8_t)v; break;
        case KILN_DTYPE_BOOL: ((uint8_t *)y)[i] = v != 0; break;
        default: break;
        }
    }
    }
}

/* Fold every reduced element of the output whose kept offset is base. */
static void reduce_one(const rd_job *j, int64_t base, int64_t out_index)
{
    double bf[SPAN];
    int64_t bi[SPAN];
    acc_f af = acc_f_init(j->kind);
    int64_t ai = acc_i_init(j->kind);
    if (j->red_count > 0) {
        int last = j->n_red - 1;
        int64_t span_n = last >= 0 ? j->red_dims[last] : 1, span_st = last >= 0 ? j->red_strides[last] : 1;
        int64_t idx[KN_MAX_RANK] = {0};
        int64_t off = base;
        for (;;) {
            for (int64_t s = 0; s < span_n; s += SPAN) {
                int64_t n = KN_MIN(SPAN, span_n - s);
                if (j->int_path) {
                    gather_i64(j->dtype, j->x, off + s * span_st, n, span_st, bi);
                    ai = acc_i_fold(j->kind, ai, bi, n);
                } else {
                    gather_f64(j->dtype, j->x, off + s * span_st, n, span_st, bf);
                    acc_f_fold(j->kind, &af, bf, n);
                }
            }
            int k = last - 1;
            for (; k >= 0; k--) {
                idx[k]++;
                off += j->red_strides[k];
                if (idx[k] < j->red_dims[k])
                    break;
                off -= j->red_strides[k] * j->red_dims[k];
                idx[k] = 0;
            }
            if (k < 0)
                break;
        }
    }
    if (j->int_path) {
        if (j->red_count == 0 && (j->kind == RD_MAX || j->kind == RD_MIN))
            ai = int_limit(j->dtype, j->kind == RD_MAX);
        else if (j->kind == RD_MEAN)
            ai = j->red_count ? ai / j->red_count : 0;
        store(j->dtype, j->y, out_index, 0.0, ai, true);
    } else {
        store(j->dtype, j->y, out_index, acc_f_final(j->kind, &af, j->red_count), 0, false);
    }
}

static void reduce_chunk(void *ctx, size_t chunk)
{
    const rd_job *j = ctx;
    int64_t begin = (int64_t)chunk * j->chunk, end = KN_MIN(begin + j->chunk, j->out_count);
    for (int64_t o = begin; o < end; o++) {
        int64_t base = 0, rem = o;
        for (int k = j->n_kept - 1; k >= 0; k--) {
            base += (rem % j->kept_dims[k]) * j->kept_strides[k];
            rem /= j->kept_dims[k];
        }
        reduce_one(j, base, o);
    }
}

static kiln_status rd_run(kn_op_ctx *c)
{
    const rd_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    bool mask[KN_MAX_RANK], identity;
    KN_TRY(rd_axes(c, mask, &identity));
    if (identity) {
        if (y->nbytes)
            memcpy(y->data, x->data, y->nbytes);
        return KILN_OK;
    }
    rd_job j = {.kind = p->kind, .dtype = x->dtype, .x = x->data, .y = y->data, .red_count = 1};
    bool real_valued = p->kind == RD_L2 || p->kind == RD_LOGSUM || p->kind == RD_LOGSUMEXP;
    j.int_path = !is_float(x->dtype) && !real_valued;
    j.out_count = kn_tensor_count(y);
    if (j.out_count == 0)
        return KILN_OK;
    /* Merge runs of adjacent kept (or reduced) dims; size-1 dims vanish. */
    int64_t strides[KN_MAX_RANK];
    kn_contiguous_strides(x->rank, x->dims, strides);
    int prev = -1; /* 0 kept, 1 reduced */
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] == 1)
            continue;
        int kind = mask[i] ? 1 : 0;
        int64_t *dims = kind ? j.red_dims : j.kept_dims, *st = kind ? j.red_strides : j.kept_strides;
        int *n = kind ? &j.n_red : &j.n_kept;
        if (kind == prev && st[*n - 1] == x->dims[i] * strides[i]) {
            dims[*n - 1] *= x->dims[i];
            st[*n - 1] = strides[i];
        } else {
            dims[*n] = x->dims[i];
            st[*n] = strides[i];
            (*n)++;
        }
        prev = kind;
        if (kind)
            j.red_count *= x->dims[i];
    }
    int64_t work = j.out_count * KN_MAX(j.red_count, 1);
    size_t chunks = 1;
    if (c->pool && work >= 65536)
        chunks = (size_t)KN_MIN(j.out_count, 64);
    j.chunk = (j.out_count + (int64_t)chunks - 1) / (int64_t)chunks;
    chunks = (size_t)((j.out_count + j.chunk - 1) / j.chunk);
    kn_parallel_for(c->pool, chunks, reduce_chunk, &j);
    return KILN_OK;
}

/* ---- ArgMax / ArgMin -------------------------------------------------- */

typedef struct arg_params {
    int64_t axis, keepdims, select_last;
} arg_params;

static kiln_status arg_parse(kn_node *n)
{
    arg_params p;
    KN_TRY(kn_attr_get_int(n, "axis", 0, &p.axis));
    KN_TRY(kn_attr_get_int(n, "keepdims", 1, &p.keepdims));
    KN_TRY(kn_attr_get_int(n, "select_last_index", 0, &p.select_last));
    arg_params *pp = kn_malloc(sizeof *pp);
    if (!pp)
        return KN_NOMEM();
    *pp = p;
    n->params = pp;
    return KILN_OK;
}

static kiln_status arg_infer(kn_op_ctx *c)
{
    const arg_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    if (x->dims[axis] == 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): axis %d is empty, so there is no index to return",
                        c->node->name, c->node->op_type, axis);
    int64_t dims[KN_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != axis)
            dims[r++] = x->dims[i];
        else if (p->keepdims)
            dims[r++] = 1;
    }
    return kn_set_output(c, 0, KILN_DTYPE_INT64, r, dims);
}

static kiln_status arg_run(kn_op_ctx *c, bool want_max)
{
    const arg_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int64_t *y = c->out[0]->data;
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    int64_t outer = 1, n = x->dims[axis], inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    bool floats = is_float(x->dtype);
    double bf[SPAN];
    int64_t bi[SPAN];
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t off = o * n * inner + i, best = 0;
            double best_f = 0.0;
            int64_t best_i = 0;
            for (int64_t s = 0; s < n; s += SPAN) {
                int64_t m = KN_MIN(SPAN, n - s);
                if (floats)
                    gather_f64(x->dtype, x->data, off + s * inner, m, inner, bf);
                else
                    gather_i64(x->dtype, x->data, off + s * inner, m, inner, bi);
                for (int64_t k = 0; k < m; k++) {
                    bool first = s + k == 0, better, tie;
                    if (floats) {
                        better = want_max ? bf[k] > best_f : bf[k] < best_f;
                        tie = bf[k] == best_f;
                    } else {
                        better = want_max ? bi[k] > best_i : bi[k] < best_i;
                        tie = bi[k] == best_i;
                    }
                    if (first || better || (tie && p->select_last)) {
                        best = s + k;
                        if (floats)
                            best_f = bf[k];
                        else
                            best_i = bi[k];
                    }
                }
            }
            y[o * inner + i] = best;
        }
    }
    return KILN_OK;
}

static kiln_status argmax_run(kn_op_ctx *c)
{
    return arg_run(c, true);
}

static kiln_status argmin_run(kn_op_ctx *c)
{
    return arg_run(c, false);
}

#define REDUCE_OP(nm, types_)                                                                                 \
    {.domain = "", .name = nm, .since_min = 1, .since_max = 0, .parse = rd_parse, .infer = rd_infer,          \
     .run = rd_run, .types = types_}

const kn_op kn_ops_reduce[] = {
    REDUCE_OP("ReduceSum", numeric),       REDUCE_OP("ReduceMean", numeric),
    REDUCE_OP("ReduceMax", with_bool),     REDUCE_OP("ReduceMin", with_bool),
    REDUCE_OP("ReduceProd", numeric),      REDUCE_OP("ReduceL1", numeric),
    REDUCE_OP("ReduceL2", numeric),        REDUCE_OP("ReduceLogSum", numeric),
    REDUCE_OP("ReduceLogSumExp", numeric), REDUCE_OP("ReduceSumSquare", numeric),
    {.domain = "", .name = "ArgMax", .since_min = 1, .since_max = 0, .parse = arg_parse, .infer = arg_infer,
     .run = argmax_run, .types = numeric},
    {.domain = "", .name = "ArgMin", .since_min = 1, .since_max = 0, .parse = arg_parse, .infer = arg_infer,
     .run = argmin_run, .types = numeric},
};
KN_FAMILY_COUNT(reduce);
