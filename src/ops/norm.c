/* Normalizations: BatchNormalization, LayerNormalization, RMSNormalization,
 * InstanceNormalization, GroupNormalization, LRN, MeanVarianceNormalization.
 *
 * Statistics are gathered in double; the normalization is applied as one
 * multiply-add per element, y = x * a + b, with a = scale / sqrt(var + eps)
 * and b = bias - mean * a precomputed per channel (or per group / element).
 * float32 has direct loops; float64 and float16 go through per-element
 * load/store helpers, which is slower but keeps one kernel per op. */
#include "ops/families.h"

#include <math.h>
#include <string.h>

/* X's dtypes (kn_op.types, what ldx/stx load and store); the parameter
 * inputs take the same list (need_float). */
static const kiln_dtype float_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16,
                                         KILN_DTYPE_UNDEFINED};

static inline double ldx(const void *x, kiln_dtype dt, int64_t i)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: return ((const float *)x)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)x)[i];
    default: return kn_half_to_float(((const uint16_t *)x)[i]);
    }
}

static inline void stx(void *y, kiln_dtype dt, int64_t i, double v)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: ((float *)y)[i] = (float)v; break;
    case KILN_DTYPE_DOUBLE: ((double *)y)[i] = v; break;
    default: ((uint16_t *)y)[i] = kn_float_to_half((float)v); break;
    }
}

/* Mean and biased variance of n contiguous elements starting at off. */
static void moments(const void *x, kiln_dtype dt, int64_t off, int64_t n, double *mean, double *var)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += ldx(x, dt, off + i);
    double m = n ? s / (double)n : 0.0, q = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = ldx(x, dt, off + i) - m;
        q += d * d;
    }
    *mean = m;
    *var = n ? q / (double)n : 0.0;
}

/* y[off + i] = x[off + i] * a + b for n contiguous elements. */
static void affine(const void *x, void *y, kiln_dtype dt, int64_t off, int64_t n, double a, double b)
{
    if (dt == KILN_DTYPE_FLOAT) {
        const float *xs = (const float *)x + off;
        float *ys = (float *)y + off;
        float af = (float)a, bf = (float)b;
        for (int64_t i = 0; i < n; i++)
            ys[i] = xs[i] * af + bf;
        return;
    }
    for (int64_t i = 0; i < n; i++)
        stx(y, dt, off + i, ldx(x, dt, off + i) * a + b);
}

static int64_t prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= dims[i];
    return p;
}

static kiln_status need_float(const kn_op_ctx *c, int first, int last)
{
    for (int i = first; i <= last && i < c->n_in; i++)
        KN_TRY(kn_check_dtype(c, i, float_types));
    return KILN_OK;
}

/* ---- BatchNormalization ------------------------------------------------ */

typedef struct bn_params {
    float epsilon, momentum;
    bool training;   /* normalize with batch statistics */
    bool per_element; /* opset < 9 spatial = 0 */
    /* Standalone inference BN with constant parameters: y = x * k + t per
     * channel, k and t computed once at load (in double) by finalize. */
    float *k, *t;
    int64_t channels;
} bn_params;

static void bn_free_params(void *params)
{
    bn_params *p = params;
    if (p) {
        kn_free(p->k);
        kn_free(p->t);
    }
    kn_free(p);
}

static kiln_status bn_finalize(const kn_graph *g, kn_node *n, kn_isa_level isa)
{
    (void)isa;
    bn_params *p = n->params;
    if (!p || p->training || p->per_element || n->n_in != 5)
        return KILN_OK;
    const kiln_tensor *t[5] = {NULL};
    for (int i = 1; i < 5; i++) {
        t[i] = n->in[i] >= 0 ? g->values[n->in[i]].constant : NULL;
        if (!t[i] || t[i]->dtype != KILN_DTYPE_FLOAT || kn_tensor_count(t[i]) != kn_tensor_count(t[1]))
            return KILN_OK;
    }
    int64_t C = kn_tensor_count(t[1]);
    float *k = kn_malloc((size_t)(C ? C : 1) * sizeof(float)), *sh = kn_malloc((size_t)(C ? C : 1) * sizeof(float));
    if (!k || !sh) {
        kn_free(k);
        kn_free(sh);
        return KN_NOMEM();
    }
    const float *scale = t[1]->data, *bias = t[2]->data, *mean = t[3]->data, *var = t[4]->data;
    for (int64_t ch = 0; ch < C; ch++) {
        double kk = (double)scale[ch] / sqrt((double)var[ch] + (double)p->epsilon);
        k[ch] = (float)kk;
        sh[ch] = (float)((double)bias[ch] - (double)mean[ch] * kk);
    }
    kn_free(p->k);
    kn_free(p->t);
    p->k = k;
    p->t = sh;
    p->channels = C;
    return KILN_OK;
}

typedef struct bn_fast_ctx {
    const float *x, *k, *t;
    float *y;
    int64_t C, S;
} bn_fast_ctx;

static void bn_fast_plane(void *arg, size_t plane)
{
    const bn_fast_ctx *f = arg;
    int64_t ch = (int64_t)plane % f->C;
    const float *x = f->x + (int64_t)plane * f->S;
    float *y = f->y + (int64_t)plane * f->S;
    float k = f->k[ch], t = f->t[ch];
    for (int64_t i = 0; i < f->S; i++)
        y[i] = x[i] * k + t;
}

static kiln_status bn_parse(kn_node *n)
{
    bn_params p = {0};
    KN_TRY(kn_attr_get_float(n, "epsilon", 1e-5f, &p.epsilon));
    KN_TRY(kn_attr_get_float(n, "momentum", 0.9f, &p.momentum));
    int64_t spatial = 1, is_test = 1, training_mode = 0;
    if (n->opset < 9)
        KN_TRY(kn_attr_get_int(n, "spatial", 1, &spatial));
    if (n->opset < 7)
        KN_TRY(kn_attr_get_int(n, "is_test", 0, &is_test));
    if (n->opset >= 14)
        KN_TRY(kn_attr_get_int(n, "training_mode", 0, &training_mode));
    p.per_element = spatial == 0;
    p.training = !is_test || training_mode != 0;
    int n_out = n->n_out;
    while (n_out > 0 && n->out[n_out - 1] < 0)
        n_out--;
    /* Before opset 14 extra outputs meant training-time saved statistics whose
     * exact definition the spec left open; kiln only runs inference there. */
    if (n->opset < 14 && n_out > 1)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (BatchNormalization): training outputs (%d outputs) at opset %d", n->name, n_out,
                        n->opset);
    if (p.training && p.per_element)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (BatchNormalization): training mode with spatial=0", n->name);
    bn_params *pp = kn_calloc(1, sizeof *pp);
    if (!pp)
        return KN_NOMEM();
    *pp = p;
    n->params = pp;
    return KILN_OK;
}

static kiln_status bn_infer(kn_op_ctx *c)
{
    const bn_params *p = c->params;
    const char *name = c->node->name;
    KN_TRY(kn_check_arity(c, 5, 5, 1, p->training && c->node->opset >= 14 ? 3 : 1));
    KN_TRY(need_float(c, 1, 4));
    const kiln_tensor *x = c->in[0];
    if (x->rank < 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (BatchNormalization): input has rank %d, expected >= 2", name,
                        x->rank);
    int64_t C = x->dims[1];
    int64_t want = p->per_element ? prod(x->dims, 1, x->rank) : C;
    static const char *what[] = {"", "scale", "bias", "mean", "var"};
    for (int i = 1; i < 5; i++) {
        int64_t n = kn_tensor_count(c->in[i]);
        bool ok = n == want || (p->per_element && n == C);
        if (!ok)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (BatchNormalization): %s has %lld elements, expected %lld",
                            name, what[i], (long long)n, (long long)want);
    }
    KN_TRY(kn_set_output(c, 0, x->dtype, x->rank, x->dims));
    KN_TRY(kn_set_output(c, 1, c->in[3]->dtype, 1, &C));
    return kn_set_output(c, 2, c->in[4]->dtype, 1, &C);
}

static kiln_status bn_prepare(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    c->scratch_size = 2 * (size_t)KN_MAX(prod(x->dims, 1, x->rank), 1) * sizeof(double);
    return KILN_OK;
}

/* Per-channel batch mean and biased variance over N and the spatial dims. */
static void bn_batch_stats(const kiln_tensor *x, double *mean, double *var)
{
    int64_t N = x->dims[0], C = x->dims[1], S = prod(x->dims, 2, x->rank);
    for (int64_t ch = 0; ch < C; ch++) {
        double s = 0.0, q = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++)
                s += ldx(x->data, x->dtype, (n * C + ch) * S + i);
        double m = N * S > 0 ? s / (double)(N * S) : 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++) {
                double d = ldx(x->data, x->dtype, (n * C + ch) * S + i) - m;
                q += d * d;
            }
        mean[ch] = m;
        var[ch] = N * S > 0 ? q / (double)(N * S) : 0.0;
    }
}

static kiln_status bn_run(kn_op_ctx *c)
{
    const bn_params *p = c->params;
    const kiln_tensor *x = c->in[0], *scale = c->in[1], *bias = c->in[2], *mean = c->in[3], *var = c->in[4];
    int64_t N = x->dims[0], C = x->dims[1], S = prod(x->dims, 2, x->rank);
    if (p->k && x->dtype == KILN_DTYPE_FLOAT && p->channels == C) {
        bn_fast_ctx f = {x->data, p->k, p->t, c->out[0]->data, C, S};
        kn_parallel_for(c->pool, (size_t)(N * C), bn_fast_plane, &f);
        return KILN_OK;
    }
    int64_t P = kn_tensor_count(scale);
    bool per_elem = P != C; /* spatial=0 with [C, D1, ...] parameters */
    double *a = c->scratch, *b = a + KN_MAX(P, 1);
    if (p->training) {
        /* a and b first hold the batch statistics. */
        bn_batch_stats(x, a, b);
        for (int64_t ch = 0; ch < C; ch++) {
            double bm = a[ch], bv = b[ch], mom = p->momentum;
            if (c->n_out > 1 && c->out[1])
                kn_tensor_set_f64(c->out[1], ch, kn_tensor_get_f64(mean, ch) * mom + bm * (1.0 - mom));
            if (c->n_out > 2 && c->out[2])
                kn_tensor_set_f64(c->out[2], ch, kn_tensor_get_f64(var, ch) * mom + bv * (1.0 - mom));
            double k = kn_tensor_get_f64(scale, ch) / sqrt(bv + (double)p->epsilon);
            a[ch] = k;
            b[ch] = kn_tensor_get_f64(bias, ch) - bm * k;
        }
    } else {
        for (int64_t i = 0; i < P; i++) {
            double k = kn_tensor_get_f64(scale, i) / sqrt(kn_tensor_get_f64(var, i) + (double)p->epsilon);
            a[i] = k;
            b[i] = kn_tensor_get_f64(bias, i) - kn_tensor_get_f64(mean, i) * k;
        }
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t off = (n * C + ch) * S;
            if (!per_elem) {
                affine(x->data, c->out[0]->data, x->dtype, off, S, a[ch], b[ch]);
                continue;
            }
            for (int64_t i = 0; i < S; i++)
                affine(x->data, c->out[0]->data, x->dtype, off + i, 1, a[ch * S + i], b[ch * S + i]);
        }
    return KILN_OK;
}

/* ---- LayerNormalization ------------------------------------------------ */

typedef struct ln_params {
    int64_t axis;
    float epsilon;
    bool rms; /* RMSNormalization: no centering, x / sqrt(mean(x^2) + eps) */
} ln_params;

static kiln_status ln_parse(kn_node *n)
{
    ln_params p = {.rms = strcmp(n->op_type, "RMSNormalization") == 0};
    int64_t stash;
    KN_TRY(kn_attr_get_int(n, "axis", -1, &p.axis));
    KN_TRY(kn_attr_get_float(n, "epsilon", 1e-5f, &p.epsilon));
    KN_TRY(kn_attr_get_int(n, "stash_type", 1, &stash));
    if (stash != 1)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): stash_type %lld (only 1, float)", n->name,
                        n->op_type, (long long)stash);
    ln_params *pp = kn_malloc(sizeof *pp);
    if (!pp)
        return KN_NOMEM();
    *pp = p;
    n->params = pp;
    return KILN_OK;
}

/* Whether t broadcasts unidirectionally to dims[from:rank]. */
static bool broadcasts_to(const kiln_tensor *t, const int64_t *dims, int from, int rank)
{
    if (t->rank > rank - from)
        return false;
    for (int i = 0; i < t->rank; i++) {
        int64_t want = dims[rank - t->rank + i];
        if (t->dims[i] != want && t->dims[i] != 1)
            return false;
    }
    return true;
}

static kiln_status ln_infer(kn_op_ctx *c)
{
    const ln_params *p = c->params;
    KN_TRY(kn_check_arity(c, 2, p->rms ? 2 : 3, 1, p->rms ? 1 : 3));
    KN_TRY(need_float(c, 1, 2));
    const kiln_tensor *x = c->in[0];
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    for (int i = 1; i < 3 && i < c->n_in; i++)
        if (c->in[i] && !broadcasts_to(c->in[i], x->dims, axis, x->rank))
            return kn_error(KILN_ERROR_SHAPE,
                            "node '%s' (%s): input %d does not broadcast to the normalized shape", c->node->name,
                            c->node->op_type, i);
    int64_t stat[KN_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        stat[i] = i < axis ? x->dims[i] : 1;
    KN_TRY(kn_set_output(c, 0, x->dtype, x->rank, x->dims));
    KN_TRY(kn_set_output(c, 1, KILN_DTYPE_FLOAT, x->rank, stat));
    return kn_set_output(c, 2, KILN_DTYPE_FLOAT, x->rank, stat);
}

static kiln_status ln_prepare(kn_op_ctx *c)
{
    const ln_params *p = c->params;
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, c->in[0]->rank, &axis));
    c->scratch_size = 2 * (size_t)KN_MAX(prod(c->in[0]->dims, axis, c->in[0]->rank), 1) * sizeof(double);
    return KILN_OK;
}

/* Expand t (broadcasting to dims[from:rank]) into n doubles; absent -> def. */
static void expand_param(const kiln_tensor *t, const int64_t *dims, int from, int rank, double def, double *out)
{
    int64_t n = prod(dims, from, rank);
    if (!t) {
        for (int64_t i = 0; i < n; i++)
            out[i] = def;
        return;
    }
    int64_t st[KN_MAX_RANK];
    kn_broadcast_strides(t->rank, t->dims, rank - from, dims + from, st);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, off = 0;
        for (int k = rank - from - 1; k >= 0; k--) {
            off += (rem % dims[from + k]) * st[k];
            rem /= dims[from + k];
        }
        out[i] = kn_tensor_get_f64(t, off);
    }
}

static kiln_status ln_run(kn_op_ctx *c)
{
    const ln_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    int64_t rows = prod(x->dims, 0, axis), D = prod(x->dims, axis, x->rank);
    double *sc = c->scratch, *bi = sc + KN_MAX(D, 1);
    expand_param(c->in[1], x->dims, axis, x->rank, 1.0, sc);
    expand_param(c->n_in > 2 ? c->in[2] : NULL, x->dims, axis, x->rank, 0.0, bi);
    float *mean_out = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
    float *inv_out = c->n_out > 2 && c->out[2] ? c->out[2]->data : NULL;
    for (int64_t r = 0; r < rows; r++) {
        double m = 0.0, v = 0.0;
        if (p->rms) {
            for (int64_t i = 0; i < D; i++) {
                double e = ldx(x->data, x->dtype, r * D + i);
                v += e * e;
            }
            v = D ? v / (double)D : 0.0;
        } else {
            moments(x->data, x->dtype, r * D, D, &m, &v);
        }
        double inv = 1.0 / sqrt(v + (double)p->epsilon);
        if (mean_out)
            mean_out[r] = (float)m;
        if (inv_out)
            inv_out[r] = (float)inv;
        for (int64_t i = 0; i < D; i++)
            stx(y->data, y->dtype, r * D + i, (ldx(x->data, x->dtype, r * D + i) - m) * inv * sc[i] + bi[i]);
    }
    return KILN_OK;
}

/* ---- InstanceNormalization and GroupNormalization ---------------------- */

typedef struct gn_params {
    float epsilon;
    int64_t groups; /* 0: one group per channel (InstanceNormalization) */
} gn_params;

static kiln_status in_parse(kn_node *n)
{
    gn_params p = {0};
    KN_TRY(kn_attr_get_float(n, "epsilon", 1e-5f, &p.epsilon));
    gn_params *pp = kn_malloc(sizeof *pp);
    if (!pp)
        return KN_NOMEM();
    *pp = p;
    n->params = pp;
    return KILN_OK;
}

static kiln_status gn_parse(kn_node *n)
{
    gn_params p = {0};
    int64_t stash;
    KN_TRY(kn_attr_get_float(n, "epsilon", 1e-5f, &p.epsilon));
    KN_TRY(kn_attr_require_int(n, "num_groups", &p.groups));
    KN_TRY(kn_attr_get_int(n, "stash_type", 1, &stash));
    if (p.groups <= 0)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (GroupNormalization): num_groups %lld must be positive", n->name,
                        (long long)p.groups);
    if (stash != 1)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (GroupNormalization): stash_type %lld (only 1, float)",
                        n->name, (long long)stash);
    gn_params *pp = kn_malloc(sizeof *pp);
    if (!pp)
        return KN_NOMEM();
    *pp = p;
    n->params = pp;
    return KILN_OK;
}

/* Scale and bias have one value per channel, except GroupNormalization
 * before opset 21, which has one per group. */
static int64_t gn_param_count(const kn_op_ctx *c)
{
    const gn_params *p = c->params;
    if (p->groups && c->node->opset < 21)
        return p->groups;
    return c->in[0]->dims[1];
}

static kiln_status gn_infer(kn_op_ctx *c)
{
    const gn_params *p = c->params;
    KN_TRY(kn_check_arity(c, 3, 3, 1, 1));
    KN_TRY(need_float(c, 1, 2));
    const kiln_tensor *x = c->in[0];
    if (x->rank < 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has rank %d, expected >= 2", c->node->name,
                        c->node->op_type, x->rank);
    if (p->groups && x->dims[1] % p->groups != 0)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (GroupNormalization): %lld channels do not split into %lld groups",
                        c->node->name, (long long)x->dims[1], (long long)p->groups);
    int64_t want = gn_param_count(c);
    for (int i = 1; i < 3; i++)
        if (kn_tensor_count(c->in[i]) != want)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %s has %lld elements, expected %lld", c->node->name,
                            c->node->op_type, i == 1 ? "scale" : "bias", (long long)kn_tensor_count(c->in[i]),
                            (long long)want);
    return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
}

static kiln_status gn_run(kn_op_ctx *c)
{
    const gn_params *p = c->params;
    const kiln_tensor *x = c->in[0], *scale = c->in[1], *bias = c->in[2];
    int64_t N = x->dims[0], C = x->dims[1], S = prod(x->dims, 2, x->rank);
    int64_t G = p->groups ? p->groups : C, cpg = G ? C / G : 0;
    bool per_group = gn_param_count(c) != C;
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            int64_t off = (n * C + g * cpg) * S;
            double m, v;
            moments(x->data, x->dtype, off, cpg * S, &m, &v);
            double inv = 1.0 / sqrt(v + (double)p->epsilon);
            for (int64_t k = 0; k < cpg; k++) {
                int64_t pi = per_group ? g : g * cpg + k;
                double a = kn_tensor_get_f64(scale, pi) * inv;
                affine(x->data, c->out[0]->data, x->dtype, off + k * S, S, a, kn_tensor_get_f64(bias, pi) - m * a);
            }
        }
    return KILN_OK;
}

/* ---- LRN --------------------------------------------------------------- */

typedef struct lrn_params {
    float alpha, beta, bias;
    int64_t size;
} lrn_params;

static kiln_status lrn_parse(kn_node *n)
{
    lrn_params p;
    KN_TRY(kn_attr_get_float(n, "alpha", 1e-4f, &p.alpha));
    KN_TRY(kn_attr_get_float(n, "beta", 0.75f, &p.beta));
    KN_TRY(kn_attr_get_float(n, "bias", 1.0f, &p.bias));
    KN_TRY(kn_attr_require_int(n, "size", &p.size));
    if (p.size <= 0)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (LRN): size %lld must be positive", n->name, (long long)p.size);
    lrn_params *pp = kn_malloc(sizeof *pp);
    if (!pp)
        return KN_NOMEM();
    *pp = p;
    n->params = pp;
    return KILN_OK;
}

static kiln_status lrn_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    if (x->rank < 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (LRN): input has rank %d, expected >= 2", c->node->name,
                        x->rank);
    return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
}

static kiln_status lrn_run(kn_op_ctx *c)
{
    const lrn_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int64_t N = x->dims[0], C = x->dims[1], S = prod(x->dims, 2, x->rank);
    /* Window [c - floor((size-1)/2), c + ceil((size-1)/2)], clipped. */
    int64_t lo = (p->size - 1) / 2, hi = p->size - 1 - lo;
    double k = (double)p->alpha / (double)p->size;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t i = 0; i < S; i++) {
                double sq = 0.0;
                for (int64_t j = KN_MAX(0, ch - lo); j <= KN_MIN(C - 1, ch + hi); j++) {
                    double v = ldx(x->data, x->dtype, (n * C + j) * S + i);
                    sq += v * v;
                }
                int64_t at = (n * C + ch) * S + i;
                stx(c->out[0]->data, x->dtype, at, ldx(x->data, x->dtype, at) / pow((double)p->bias + k * sq, p->beta));
            }
    return KILN_OK;
}

/* ---- MeanVarianceNormalization ----------------------------------------- */

typedef struct mvn_params {
    size_t n_axes;
    int64_t axes[KN_MAX_RANK];
} mvn_params;

static kiln_status mvn_parse(kn_node *n)
{
    mvn_params p = {0};
    const int64_t *axes;
    KN_TRY(kn_attr_get_ints(n, "axes", &axes, &p.n_axes));
    if (!kn_node_attr(n, "axes")) {
        static const int64_t def[] = {0, 2, 3};
        axes = def;
        p.n_axes = 3;
    }
    if (p.n_axes > KN_MAX_RANK)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (MeanVarianceNormalization): %zu axes", n->name, p.n_axes);
    memcpy(p.axes, axes, p.n_axes * sizeof(int64_t));
    mvn_params *pp = kn_malloc(sizeof *pp);
    if (!pp)
        return KN_NOMEM();
    *pp = p;
    n->params = pp;
    return KILN_OK;
}

/* Strides into the compact array of statistics (0 along reduced axes). */
static kiln_status mvn_layout(const kn_op_ctx *c, int64_t *stat_strides, int64_t *n_stats, int64_t *n_reduced)
{
    const mvn_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    bool red[KN_MAX_RANK] = {false};
    for (size_t i = 0; i < p->n_axes; i++) {
        int a;
        KN_TRY(kn_norm_axis(c, p->axes[i], x->rank, &a));
        red[a] = true;
    }
    int64_t s = 1, r = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        stat_strides[i] = red[i] ? 0 : s;
        if (red[i])
            r *= x->dims[i];
        else
            s *= x->dims[i];
    }
    *n_stats = s;
    *n_reduced = r;
    return KILN_OK;
}

static kiln_status mvn_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    int64_t st[KN_MAX_RANK], n_stats, n_red;
    KN_TRY(mvn_layout(c, st, &n_stats, &n_red));
    return kn_set_output(c, 0, c->in[0]->dtype, c->in[0]->rank, c->in[0]->dims);
}

static kiln_status mvn_prepare(kn_op_ctx *c)
{
    int64_t st[KN_MAX_RANK], n_stats, n_red;
    KN_TRY(mvn_layout(c, st, &n_stats, &n_red));
    c->scratch_size = 2 * (size_t)KN_MAX(n_stats, 1) * sizeof(double);
    return KILN_OK;
}

/* Visit every element in order with its statistics slot. */
#define MVN_FOR_EACH(x, st, BODY)                                                                              \
    do {                                                                                                       \
        int64_t idx_[KN_MAX_RANK] = {0}, slot = 0, count_ = kn_tensor_count(x);                               \
        for (int64_t e = 0; e < count_; e++) {                                                                 \
            BODY;                                                                                              \
            for (int k_ = (x)->rank - 1; k_ >= 0; k_--) {                                                      \
                slot += (st)[k_];                                                                              \
                if (++idx_[k_] < (x)->dims[k_])                                                                \
                    break;                                                                                     \
                slot -= (st)[k_] * (x)->dims[k_];                                                              \
                idx_[k_] = 0;                                                                                  \
            }                                                                                                  \
        }                                                                                                      \
    } while (0)

static kiln_status mvn_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    int64_t st[KN_MAX_RANK], n_stats, n_red;
    KN_TRY(mvn_layout(c, st, &n_stats, &n_red));
    double *mean = c->scratch, *sd = mean + KN_MAX(n_stats, 1);
    memset(mean, 0, 2 * (size_t)KN_MAX(n_stats, 1) * sizeof(double));
    MVN_FOR_EACH(x, st, mean[slot] += ldx(x->data, x->dtype, e));
    for (int64_t i = 0; i < n_stats; i++)
        mean[i] /= (double)n_red;
    MVN_FOR_EACH(x, st, {
        double d = ldx(x->data, x->dtype, e) - mean[slot];
        sd[slot] += d * d;
    });
    /* The spec's function body: (X - E[X]) / (sqrt(Var[X]) + 1e-9). */
    for (int64_t i = 0; i < n_stats; i++)
        sd[i] = sqrt(sd[i] / (double)n_red) + 1e-9;
    MVN_FOR_EACH(x, st, stx(y->data, y->dtype, e, (ldx(x->data, x->dtype, e) - mean[slot]) / sd[slot]));
    return KILN_OK;
}

const kn_op kn_ops_norm[] = {
    {.domain = "", .name = "BatchNormalization", .since_min = 1, .since_max = 0, .parse = bn_parse,
     .infer = bn_infer, .prepare = bn_prepare, .run = bn_run, .free_params = bn_free_params,
     .finalize = bn_finalize, .types = float_types, .flags = KN_OP_FAST},
    {.domain = "", .name = "LayerNormalization", .since_min = 17, .since_max = 0, .parse = ln_parse,
     .infer = ln_infer, .prepare = ln_prepare, .run = ln_run, .types = float_types},
    {.domain = "", .name = "RMSNormalization", .since_min = 23, .since_max = 0, .parse = ln_parse,
     .infer = ln_infer, .prepare = ln_prepare, .run = ln_run, .types = float_types},
    {.domain = "", .name = "InstanceNormalization", .since_min = 1, .since_max = 0, .parse = in_parse,
     .infer = gn_infer, .run = gn_run, .types = float_types},
    {.domain = "", .name = "GroupNormalization", .since_min = 18, .since_max = 0, .parse = gn_parse,
     .infer = gn_infer, .run = gn_run, .types = float_types},
    {.domain = "", .name = "LRN", .since_min = 1, .since_max = 0, .parse = lrn_parse, .infer = lrn_infer,
     .run = lrn_run, .types = float_types},
    {.domain = "", .name = "MeanVarianceNormalization", .since_min = 9, .since_max = 0, .parse = mvn_parse,
     .infer = mvn_infer, .prepare = mvn_prepare, .run = mvn_run, .types = float_types},
};
KN_FAMILY_COUNT(norm);
