/* Optimizer steps of the ai.onnx.preview.training domain (version 1):
 * Adagrad, Momentum (standard and Nesterov) and Adam. Each takes the
 * learning rate R and step count T (scalars), then n tensors X to update,
 * their n gradients G and their optimizer state (one group for Adagrad's H
 * and Momentum's V, two for Adam's V and H), and returns the n updated X
 * followed by the updated state groups. All tensors of one X share its
 * shape and dtype (float or double); the formulas run in double.
 *
 * With g = norm_coefficient * x + G (L2 regularization's gradient):
 *   Adagrad:  h' = h + g^2;  x' = x - R / (1 + T * decay_factor) * g / (sqrt(h') + epsilon)
 *   Momentum: v' = alpha * v + (T > 0 ? beta : 1) * g;
 *             x' = x - R * v' (standard), x - R * (g + alpha * v') (nesterov)
 *   Adam:     v' = alpha * v + (1 - alpha) * g;  h' = beta * h + (1 - beta) * g^2;
 *             r = T > 0 ? R * sqrt(1 - beta^T) / (1 - alpha^T) : R;
 *             x' = (1 - norm_coefficient_post) * (x - r * v' / (sqrt(h') + epsilon)) */
#include "ops/families.h"

#include <math.h>
#include <string.h>

typedef enum opt_kind { OPT_ADAGRAD, OPT_MOMENTUM, OPT_ADAM } opt_kind;

typedef struct opt_params {
    opt_kind kind;
    float alpha, beta, epsilon, decay, norm, norm_post;
    bool nesterov;
} opt_params;

/* State groups per X (besides its gradient). */
static int state_groups(opt_kind k)
{
    return k == OPT_ADAM ? 2 : 1;
}

static kiln_status require_float(const kn_node *n, const char *name, float *out)
{
    if (!kn_node_attr(n, name))
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): missing attribute %s", n->name, n->op_type, name);
    return kn_attr_get_float(n, name, 0.0f, out);
}

static kiln_status opt_parse_into(const kn_node *n, opt_params *p)
{
    if (strcmp(n->op_type, "Adagrad") == 0) {
        p->kind = OPT_ADAGRAD;
        KN_TRY(kn_attr_get_float(n, "decay_factor", 0.0f, &p->decay));
        KN_TRY(kn_attr_get_float(n, "epsilon", 0.0f, &p->epsilon));
        KN_TRY(kn_attr_get_float(n, "norm_coefficient", 0.0f, &p->norm));
    } else if (strcmp(n->op_type, "Momentum") == 0) {
        p->kind = OPT_MOMENTUM;
        KN_TRY(require_float(n, "alpha", &p->alpha));
        KN_TRY(require_float(n, "beta", &p->beta));
        KN_TRY(require_float(n, "norm_coefficient", &p->norm));
        const char *mode;
        KN_TRY(kn_attr_get_string(n, "mode", NULL, &mode));
        if (!mode)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (Momentum): missing attribute mode", n->name);
        if (strcmp(mode, "nesterov") == 0)
            p->nesterov = true;
        else if (strcmp(mode, "standard") != 0)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (Momentum): mode '%s' is not standard or nesterov",
                            n->name, mode);
    } else {
        p->kind = OPT_ADAM;
        KN_TRY(kn_attr_get_float(n, "alpha", 0.9f, &p->alpha));
        KN_TRY(kn_attr_get_float(n, "beta", 0.999f, &p->beta));
        KN_TRY(kn_attr_get_float(n, "epsilon", 0.0f, &p->epsilon));
        KN_TRY(kn_attr_get_float(n, "norm_coefficient", 0.0f, &p->norm));
        KN_TRY(kn_attr_get_float(n, "norm_coefficient_post", 0.0f, &p->norm_post));
    }
    return KILN_OK;
}

static kiln_status opt_parse(kn_node *n)
{
    opt_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = opt_parse_into(n, p);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static const kiln_dtype opt_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_UNDEFINED};
static const kiln_dtype step_types[] = {KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};

static kiln_status check_scalar(const kn_op_ctx *c, int i, const char *what)
{
    if (kn_tensor_count(c->in[i]) != 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %s must hold one value, has %lld", c->node->name,
                        c->node->op_type, what, (long long)kn_tensor_count(c->in[i]));
    return KILN_OK;
}

/* Number of tensors X the node updates. */
static int opt_count(const kn_op_ctx *c)
{
    return (c->n_in - 2) / (2 + state_groups(((const opt_params *)c->params)->kind));
}

static kiln_status opt_infer(kn_op_ctx *c)
{
    const opt_params *p = c->params;
    const int groups = 2 + state_groups(p->kind);
    if (c->n_in < 2 + groups || (c->n_in - 2) % groups != 0)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %d inputs; expected R, T and %d groups of n tensors",
                        c->node->name, c->node->op_type, c->n_in, groups);
    const int n = opt_count(c);
    const int n_out = n * (groups - 1);
    if (c->n_out < 1 || c->n_out > n_out)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %d outputs, at most %d for %d updated tensors",
                        c->node->name, c->node->op_type, c->n_out, n_out, n);
    for (int i = 0; i < c->n_in; i++)
        if (!c->in[i])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): input %d is missing", c->node->name,
                            c->node->op_type, i);
    KN_TRY(kn_check_dtype(c, 0, opt_types));
    KN_TRY(check_scalar(c, 0, "R"));
    KN_TRY(kn_check_dtype(c, 1, step_types));
    KN_TRY(check_scalar(c, 1, "T"));
    for (int i = 0; i < n; i++) {
        const kiln_tensor *x = c->in[2 + i];
        KN_TRY(kn_check_dtype(c, 2 + i, opt_types));
        for (int g = 1; g < groups; g++) {
            const kiln_tensor *t = c->in[2 + g * n + i];
            char a[96], b[96];
            if (t->dtype != x->dtype || !kn_same_shape(t, x))
                return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input %d (%s %s) does not match X input %d (%s %s)",
                                c->node->name, c->node->op_type, 2 + g * n + i, kiln_dtype_name(t->dtype),
                                kn_shape_str(t, b, sizeof b), 2 + i, kiln_dtype_name(x->dtype),
                                kn_shape_str(x, a, sizeof a));
        }
        /* outputs: X'_i, then the state groups in input order */
        for (int g = 0; g < groups - 1; g++)
            KN_TRY(kn_set_output(c, g * n + i, x->dtype, x->rank, x->dims));
    }
    return KILN_OK;
}

static double ld(const kiln_tensor *t, int64_t i)
{
    return t->dtype == KILN_DTYPE_DOUBLE ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

static void st(kiln_tensor *t, int64_t i, double v)
{
    if (!t)
        return; /* omitted optional output */
    if (t->dtype == KILN_DTYPE_DOUBLE)
        ((double *)t->data)[i] = v;
    else
        ((float *)t->data)[i] = (float)v;
}

static kiln_status opt_run(kn_op_ctx *c)
{
    const opt_params *p = c->params;
    const int n = opt_count(c);
    const double r = ld(c->in[0], 0);
    const int64_t t = ((const int64_t *)c->in[1]->data)[0];
    const double alpha = p->alpha, beta = p->beta, eps = p->epsilon, norm = p->norm;
    double rate = r;
    if (p->kind == OPT_ADAGRAD)
        rate = r / (1.0 + (double)t * p->decay);
    else if (p->kind == OPT_ADAM && t > 0)
        rate = r * sqrt(1.0 - pow(beta, (double)t)) / (1.0 - pow(alpha, (double)t));
    const double mom_beta = t > 0 ? beta : 1.0;
    for (int i = 0; i < n; i++) {
        const kiln_tensor *x = c->in[2 + i], *g = c->in[2 + n + i], *s1 = c->in[2 + 2 * n + i];
        const kiln_tensor *s2 = p->kind == OPT_ADAM ? c->in[2 + 3 * n + i] : NULL;
        kiln_tensor *x_out = i < c->n_out ? c->out[i] : NULL;
        kiln_tensor *s1_out = n + i < c->n_out ? c->out[n + i] : NULL;
        kiln_tensor *s2_out = s2 && 2 * n + i < c->n_out ? c->out[2 * n + i] : NULL;
        const int64_t count = kn_tensor_count(x);
        for (int64_t k = 0; k < count; k++) {
            const double xv = ld(x, k), gr = norm * xv + ld(g, k);
            switch (p->kind) {
            case OPT_ADAGRAD: {
                const double h = ld(s1, k) + gr * gr;
                st(x_out, k, xv - rate * gr / (sqrt(h) + eps));
                st(s1_out, k, h);
                break;
            }
            case OPT_MOMENTUM: {
                const double v = alpha * ld(s1, k) + mom_beta * gr;
                st(x_out, k, p->nesterov ? xv - r * (gr + alpha * v) : xv - r * v);
                st(s1_out, k, v);
                break;
            }
            case OPT_ADAM: {
                const double v = alpha * ld(s1, k) + (1.0 - alpha) * gr;
                const double h = beta * ld(s2, k) + (1.0 - beta) * gr * gr;
                st(x_out, k, (1.0 - p->norm_post) * (xv - rate * v / (sqrt(h) + eps)));
                st(s1_out, k, v);
                st(s2_out, k, h);
                break;
            }
            }
        }
    }
    return KILN_OK;
}

#define OPT(NAME)                                                                                     \
    {.domain = "ai.onnx.preview.training", .name = NAME, .since_min = 1, .parse = opt_parse,             \
     .infer = opt_infer, .run = opt_run, .types = opt_types, .type_input = 2}

const kn_op kn_ops_training[] = {OPT("Adagrad"), OPT("Momentum"), OPT("Adam")};
KN_FAMILY_COUNT(training);
