/* Loss functions: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
 * (opsets 12, 13, 22; the versions only widen the type lists).
 *
 * Both see the input as [N, C, D] with D = prod(d1..dk) and the target as
 * [N, D]: the class axis is 1 and every other position is one sample.
 * SoftmaxCrossEntropyLoss is NLL over LogSoftmax(scores, axis=1), computed
 * per sample from one log-sum-exp, so the full log_prob tensor is only
 * written when its optional output is requested.
 *
 * Sums and the log-sum-exp run in double whatever the element type, so
 * float32 results do not depend on the summation order. A target equal to
 * ignore_index contributes 0 to the loss and 0 to the mean's denominator;
 * mean = sum(loss) / sum(weight[target]), which is NaN when every target is
 * ignored (0/0), as in the spec's function body and PyTorch. Any other
 * target outside [0, C) is an error, never an out-of-bounds read. */
#include "ops/families.h"

#include <math.h>
#include <string.h>

typedef enum loss_reduction { LOSS_NONE, LOSS_SUM, LOSS_MEAN } loss_reduction;

typedef struct loss_params {
    loss_reduction reduction;
    int64_t ignore_index;
    bool has_ignore;
} loss_params;

static kiln_status loss_parse(kn_node *n)
{
    const char *red;
    KN_TRY(kn_attr_get_string(n, "reduction", "mean", &red));
    loss_reduction r;
    if (strcmp(red, "none") == 0)
        r = LOSS_NONE;
    else if (strcmp(red, "sum") == 0)
        r = LOSS_SUM;
    else if (strcmp(red, "mean") == 0)
        r = LOSS_MEAN;
    else
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): reduction '%s' is not none, sum or mean", n->name,
                        n->op_type, red);
    loss_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->reduction = r;
    p->has_ignore = kn_node_attr(n, "ignore_index") != NULL;
    kiln_status s = kn_attr_get_int(n, "ignore_index", 0, &p->ignore_index);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static const kiln_dtype loss_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16,
                                        KILN_DTYPE_UNDEFINED};
static const kiln_dtype target_types[] = {KILN_DTYPE_INT32, KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};

/* Input [N, C, d1..dk], target [N, d1..dk], weight [C] (optional, input 2). */
static kiln_status loss_check(kn_op_ctx *c)
{
    KN_TRY(kn_check_dtype(c, 0, loss_types));
    KN_TRY(kn_check_dtype(c, 1, target_types));
    const kiln_tensor *x = c->in[0], *t = c->in[1], *w = c->n_in > 2 ? c->in[2] : NULL;
    char a[96], b[96];
    if (x->rank < 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input %s needs at least 2 dims [N, C, ...]", c->node->name,
                        c->node->op_type, kn_shape_str(x, a, sizeof a));
    bool fits = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int i = 1; fits && i < t->rank; i++)
        fits = t->dims[i] == x->dims[i + 1];
    if (!fits)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): target %s does not match input %s without its class dim",
                        c->node->name, c->node->op_type, kn_shape_str(t, b, sizeof b), kn_shape_str(x, a, sizeof a));
    if (w) {
        if (w->dtype != x->dtype)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): weight has dtype %s but input has %s", c->node->name,
                            c->node->op_type, kiln_dtype_name(w->dtype), kiln_dtype_name(x->dtype));
        if (w->rank != 1 || w->dims[0] != x->dims[1])
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): weight %s must be [C] with C = %lld", c->node->name,
                            c->node->op_type, kn_shape_str(w, b, sizeof b), (long long)x->dims[1]);
    }
    const loss_params *p = c->params;
    if (p->reduction == LOSS_NONE)
        return kn_set_output(c, 0, x->dtype, t->rank, t->dims);
    return kn_set_output(c, 0, x->dtype, 0, NULL);
}

static kiln_status nll_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 3, 1, 1));
    return loss_check(c);
}

static kiln_status sce_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 3, 1, 2));
    KN_TRY(loss_check(c));
    const kiln_tensor *x = c->in[0];
    return kn_set_output(c, 1, x->dtype, x->rank, x->dims);
}

/* Element access by dtype: losses are not a hot path, and one loop over
 * doubles keeps the four float types on a single code path. */
static double load(const void *data, kiln_dtype dt, int64_t i)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: return ((const float *)data)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)data)[i];
    case KILN_DTYPE_FLOAT16: return kn_half_to_float(((const uint16_t *)data)[i]);
    default: return kn_bf16_to_float(((const uint16_t *)data)[i]);
    }
}

static void store(void *data, kiln_dtype dt, int64_t i, double v)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: ((float *)data)[i] = (float)v; break;
    case KILN_DTYPE_DOUBLE: ((double *)data)[i] = v; break;
    case KILN_DTYPE_FLOAT16: ((uint16_t *)data)[i] = kn_float_to_half((float)v); break;
    default: ((uint16_t *)data)[i] = kn_float_to_bf16((float)v); break;
    }
}

static int64_t load_target(const kiln_tensor *t, int64_t i)
{
    return t->dtype == KILN_DTYPE_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

/* The shared loss loop. With softmax, the input holds scores and log_prob
 * (may be NULL) receives LogSoftmax over the class axis; without, the input
 * already holds log-probabilities. */
static kiln_status loss_run(kn_op_ctx *c, bool softmax)
{
    const loss_params *p = c->params;
    const kiln_tensor *x = c->in[0], *t = c->in[1], *w = c->n_in > 2 ? c->in[2] : NULL;
    kiln_tensor *y = c->out[0];
    kiln_tensor *log_prob = softmax && c->n_out > 1 ? c->out[1] : NULL;
    const kiln_dtype dt = x->dtype;
    const int64_t n_batch = x->dims[0], classes = x->dims[1];
    int64_t inner = 1;
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    double total = 0.0, weight_sum = 0.0;
    for (int64_t n = 0; n < n_batch; n++) {
        const int64_t base = n * classes * inner;
        for (int64_t d = 0; d < inner; d++) {
            double lse = 0.0;
            if (softmax && classes > 0) {
                double mx = load(x->data, dt, base + d);
                for (int64_t k = 1; k < classes; k++)
                    mx = fmax(mx, load(x->data, dt, base + k * inner + d));
                double s = 0.0;
                for (int64_t k = 0; k < classes; k++)
                    s += exp(load(x->data, dt, base + k * inner + d) - mx);
                lse = mx + log(s);
                if (log_prob)
                    for (int64_t k = 0; k < classes; k++)
                        store(log_prob->data, dt, base + k * inner + d,
                              load(x->data, dt, base + k * inner + d) - lse);
            }
            const int64_t ti = n * inner + d;
            const int64_t cls = load_target(t, ti);
            double loss = 0.0, weight = 0.0;
            if (!(p->has_ignore && cls == p->ignore_index)) {
                if (cls < 0 || cls >= classes)
                    return kn_error(KILN_ERROR_ARGUMENT,
                                    "node '%s' (%s): target %lld at element %lld is outside [0, %lld) and is not "
                                    "ignore_index",
                                    c->node->name, c->node->op_type, (long long)cls, (long long)ti,
                                    (long long)classes);
                weight = w ? load(w->data, dt, cls) : 1.0;
                loss = -(load(x->data, dt, base + cls * inner + d) - lse) * weight;
            }
            if (p->reduction == LOSS_NONE)
                store(y->data, dt, ti, loss);
            total += loss;
            weight_sum += weight;
        }
    }
    if (p->reduction == LOSS_SUM)
        store(y->data, dt, 0, total);
    else if (p->reduction == LOSS_MEAN)
        store(y->data, dt, 0, total / weight_sum);
    return KILN_OK;
}

static kiln_status nll_run(kn_op_ctx *c)
{
    return loss_run(c, false);
}

static kiln_status sce_run(kn_op_ctx *c)
{
    return loss_run(c, true);
}

const kn_op kn_ops_loss[] = {
    {.domain = "", .name = "NegativeLogLikelihoodLoss", .since_min = 12, .parse = loss_parse, .infer = nll_infer,
     .run = nll_run, .types = loss_types},
    {.domain = "", .name = "SoftmaxCrossEntropyLoss", .since_min = 12, .parse = loss_parse, .infer = sce_infer,
     .run = sce_run, .types = loss_types},
};
KN_FAMILY_COUNT(loss);
