/* Softmax, LogSoftmax and Hardmax.
 * Opset 13 normalizes along one axis (default -1). Before 13 the input is
 * coerced to 2-D at `axis` (default 1) and each row of the flattened
 * [prod(dims[:axis]), prod(dims[axis:])] matrix is normalized as a whole.
 * Both reduce to the same kernel over (outer, n, inner) with n elements
 * strided by inner: the old form is just inner = 1 and n = the whole tail.
 * Stable: the row max is subtracted before exponentiating. float16 runs
 * through float32 in scratch memory. */
#include "ops/families.h"

#include <math.h>

typedef enum sm_kind { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX } sm_kind;

typedef struct sm_params {
    int64_t axis;
} sm_params;

static kiln_status sm_parse(kn_node *n)
{
    sm_params *p = kn_malloc(sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "axis", n->opset >= 13 ? -1 : 1, &p->axis);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

typedef struct sm_geom {
    int64_t outer, n, inner;
} sm_geom;

static kiln_status sm_geometry(const kn_op_ctx *c, sm_geom *g)
{
    const sm_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int rank = x->rank;
    int axis = 0;
    if (rank == 0) {
        /* A scalar is a single row of one element in both semantics. */
        g->outer = g->n = g->inner = 1;
        return KILN_OK;
    }
    KN_TRY(kn_norm_axis(c, p->axis, rank, &axis));
    g->outer = g->n = g->inner = 1;
    for (int i = 0; i < axis; i++)
        g->outer *= x->dims[i];
    if (c->node->opset >= 13) {
        g->n = x->dims[axis];
        for (int i = axis + 1; i < rank; i++)
            g->inner *= x->dims[i];
    } else {
        for (int i = axis; i < rank; i++)
            g->n *= x->dims[i];
    }
    return KILN_OK;
}

/* X's dtypes (kn_op.types): the row kernels' float32/float64, float16 widened. */
static const kiln_dtype sm_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_UNDEFINED};

static kiln_status sm_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    sm_geom g;
    KN_TRY(sm_geometry(c, &g));
    return kn_set_output(c, 0, c->in[0]->dtype, c->in[0]->rank, c->in[0]->dims);
}

static kiln_status sm_prepare(kn_op_ctx *c)
{
    if (c->in[0]->dtype == KILN_DTYPE_FLOAT16)
        c->scratch_size = 2 * (size_t)kn_tensor_count(c->in[0]) * sizeof(float);
    return KILN_OK;
}

/* One strided row: x[k * stride], k < n. Sums run in double so long rows
 * keep float32 accuracy. */
#define SM_ROW(name, T, EXP, LOG)                                                                \
    static void name(sm_kind kind, const T *x, T *y, int64_t n, int64_t stride)                  \
    {                                                                                            \
        T mx = x[0];                                                                             \
        int64_t arg = 0;                                                                         \
        for (int64_t k = 1; k < n; k++)                                                          \
            if (x[k * stride] > mx) {                                                            \
                mx = x[k * stride];                                                              \
                arg = k;                                                                         \
            }                                                                                    \
        if (kind == SM_HARDMAX) {                                                                \
            for (int64_t k = 0; k < n; k++)                                                      \
                y[k * stride] = (T)(k == arg);                                                   \
            return;                                                                              \
        }                                                                                        \
        double sum = 0.0;                                                                        \
        if (kind == SM_SOFTMAX) {                                                                \
            for (int64_t k = 0; k < n; k++) {                                                    \
                T e = EXP(x[k * stride] - mx);                                                   \
                y[k * stride] = e;                                                               \
                sum += e;                                                                        \
            }                                                                                    \
            T inv = (T)(1.0 / sum);                                                              \
            for (int64_t k = 0; k < n; k++)                                                      \
                y[k * stride] *= inv;                                                            \
        } else {                                                                                 \
            for (int64_t k = 0; k < n; k++)                                                      \
                sum += EXP(x[k * stride] - mx);                                                  \
            /* x - mx is exact; folding mx into the log term would round. */                     \
            T lse = (T)LOG(sum);                                                                 \
            for (int64_t k = 0; k < n; k++)                                                      \
                y[k * stride] = (x[k * stride] - mx) - lse;                                      \
        }                                                                                        \
    }
SM_ROW(row_f32, float, expf, log)
SM_ROW(row_f64, double, exp, log)

typedef struct sm_job {
    sm_kind kind;
    bool f64;
    const void *x;
    void *y;
    sm_geom g;
} sm_job;

static void sm_item(void *ctx, size_t item)
{
    const sm_job *j = ctx;
    int64_t o = (int64_t)item / j->g.inner, i = (int64_t)item % j->g.inner;
    int64_t off = o * j->g.n * j->g.inner + i;
    if (j->f64)
        row_f64(j->kind, (const double *)j->x + off, (double *)j->y + off, j->g.n, j->g.inner);
    else
        row_f32(j->kind, (const float *)j->x + off, (float *)j->y + off, j->g.n, j->g.inner);
}

static kiln_status sm_run_kind(kn_op_ctx *c, sm_kind kind)
{
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    int64_t count = kn_tensor_count(x);
    if (count == 0)
        return KILN_OK;
    sm_job j = {.kind = kind, .f64 = x->dtype == KILN_DTYPE_DOUBLE, .x = x->data, .y = y->data};
    KN_TRY(sm_geometry(c, &j.g));
    float *xf = NULL, *yf = NULL;
    if (x->dtype == KILN_DTYPE_FLOAT16) {
        xf = c->scratch;
        yf = xf + count;
        for (int64_t i = 0; i < count; i++)
            xf[i] = kn_half_to_float(((const uint16_t *)x->data)[i]);
        j.x = xf;
        j.y = yf;
    }
    kn_parallel_for(count >= 4096 ? c->pool : NULL, (size_t)(j.g.outer * j.g.inner), sm_item, &j);
    if (yf)
        for (int64_t i = 0; i < count; i++)
            ((uint16_t *)y->data)[i] = kn_float_to_half(yf[i]);
    return KILN_OK;
}

static kiln_status softmax_run(kn_op_ctx *c)
{
    return sm_run_kind(c, SM_SOFTMAX);
}

static kiln_status logsoftmax_run(kn_op_ctx *c)
{
    return sm_run_kind(c, SM_LOGSOFTMAX);
}

static kiln_status hardmax_run(kn_op_ctx *c)
{
    return sm_run_kind(c, SM_HARDMAX);
}

const kn_op kn_ops_softmax[] = {
    {.domain = "", .name = "Softmax", .since_min = 1, .since_max = 0, .parse = sm_parse, .infer = sm_infer,
     .prepare = sm_prepare, .run = softmax_run, .types = sm_types},
    {.domain = "", .name = "LogSoftmax", .since_min = 1, .since_max = 0, .parse = sm_parse, .infer = sm_infer,
     .prepare = sm_prepare, .run = logsoftmax_run, .types = sm_types},
    {.domain = "", .name = "Hardmax", .since_min = 1, .since_max = 0, .parse = sm_parse, .infer = sm_infer,
     .prepare = sm_prepare, .run = hardmax_run, .types = sm_types},
};
KN_FAMILY_COUNT(softmax);
