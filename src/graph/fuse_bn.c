/* BatchNormalization folding (pass "fuse-bn"): an inference-mode BN that
 * follows Conv, ConvTranspose, Gemm or a 2-D MatMul(+Add) is folded into the
 * producer's weights and bias:
 *     s  = scale / sqrt(var + eps)
 *     W' = W * s          (per output channel)
 *     b' = (b - mean) * s + B
 * computed in double, stored as float32. The folded weight and bias are
 * new values; a weight read by another node too is copied first, so it
 * never changes, one read only by the folded node is rescaled in place. */
#include "graph/passes.h"
#include "ops/op.h"

#include <math.h>
#include <string.h>

typedef struct bn_consts {
    const kiln_tensor *scale, *bias, *mean, *var;
    double eps;
    int64_t channels;
} bn_consts;

static const kiln_tensor *const_f32(const kn_graph *g, const kn_node *n, int i)
{
    if (i >= n->n_in || n->in[i] < 0)
        return NULL;
    const kiln_tensor *t = g->values[n->in[i]].constant;
    return t && t->dtype == KILN_DTYPE_FLOAT ? t : NULL;
}

static bool is_op(const kn_node *n, const char *type)
{
    return !n->dead && n->domain[0] == 0 && strcmp(n->op_type, type) == 0;
}

/* The BN must be a plain inference BN with constant float parameters of
 * one length. */
static bool bn_foldable(const kn_graph *g, const kn_node *bn, bn_consts *c)
{
    if (bn->n_in != 5 || bn->in[0] < 0)
        return false;
    for (int i = 1; i < bn->n_out; i++)
        if (bn->out[i] >= 0)
            return false; /* training outputs requested */
    int64_t training = 0, spatial = 1;
    float eps = 1e-5f;
    if (kn_attr_get_int(bn, "training_mode", 0, &training) != KILN_OK || training)
        return false;
    if (kn_attr_get_int(bn, "spatial", 1, &spatial) != KILN_OK || !spatial)
        return false;
    if (kn_attr_get_float(bn, "epsilon", 1e-5f, &eps) != KILN_OK)
        return false;
    c->scale = const_f32(g, bn, 1);
    c->bias = const_f32(g, bn, 2);
    c->mean = const_f32(g, bn, 3);
    c->var = const_f32(g, bn, 4);
    if (!c->scale || !c->bias || !c->mean || !c->var)
        return false;
    c->channels = kn_tensor_count(c->scale);
    if (c->scale->rank != 1 || kn_tensor_count(c->bias) != c->channels || kn_tensor_count(c->mean) != c->channels ||
        kn_tensor_count(c->var) != c->channels)
        return false;
    c->eps = eps;
    return true;
}

/* The producer's output feeds only this BN and is not a graph output. */
static bool single_use(const kn_graph *g, int value)
{
    const kn_value *v = &g->values[value];
    return v->n_consumers == 1 && !v->is_graph_output;
}

static double bn_s(const bn_consts *c, int64_t k)
{
    const float *scale = c->scale->data, *var = c->var->data;
    return (double)scale[k] / sqrt((double)var[k] + c->eps);
}

/* p[j] = (float)((double)p[j] * s). GCC's -O2 leaves the scalar loop
 * unvectorized, and for large models it was a tenth of the load; vector
 * conversions round like the scalar ones, so the result is the same. */
static void scale_row(float *p, int64_t n, double s)
{
    typedef float v4f __attribute__((vector_size(16)));
    typedef double v4d __attribute__((vector_size(32)));
    const v4d sv = {s, s, s, s};
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        v4f x;
        memcpy(&x, p + j, sizeof x);
        v4f r = __builtin_convertvector(__builtin_convertvector(x, v4d) * sv, v4f);
        memcpy(p + j, &r, sizeof r);
    }
    for (; j < n; j++)
        p[j] = (float)((double)p[j] * s);
}

/* b'[k] = (b[k] - mean[k]) * s[k] + B[k]; b may be NULL (zero). */
static kiln_status folded_bias(const bn_consts *c, const float *b, double b_scale, kiln_tensor **out)
{
    kiln_tensor *t;
    KN_TRY(kn_tensor_new(KILN_DTYPE_FLOAT, 1, &c->channels, &t));
    float *d = t->data;
    const float *mean = c->mean->data, *beta = c->bias->data;
    for (int64_t k = 0; k < c->channels; k++) {
        double bk = b ? b_scale * (double)b[k] : 0.0;
        d[k] = (float)((bk - mean[k]) * bn_s(c, k) + beta[k]);
    }
    *out = t;
    return KILN_OK;
}

/* The weight to fold into: the constant itself when node input i is its only
 * reader (it then moves to the folded value, which saves a model-sized copy
 * and keeps the file's float32 original out of memory), else a copy so a
 * weight shared with another node stays unchanged. */
static kiln_status take_weight(kn_graph *g, int node, int i, kiln_tensor **out)
{
    kn_value *v = &g->values[g->nodes[node].in[i]];
    if (v->n_consumers == 1 && !v->is_graph_output && v->constant->owns_data) {
        *out = v->constant;
        v->constant = NULL;
        return KILN_OK;
    }
    return kn_tensor_clone(v->constant, out);
}

/* Replace node n's input i with a new constant, and make n write the BN's
 * output (so the BN output's name, perhaps a graph output, survives). */
static kiln_status set_const_input(kn_graph *g, int node, int i, kiln_tensor *t, const char *hint)
{
    int v;
    KN_TRY(kn_graph_add_constant(g, hint, t, &v));
    kn_node *n = &g->nodes[node];
    if (i >= n->n_in) {
        int in[8];
        for (int k = 0; k < n->n_in; k++)
            in[k] = n->in[k];
        for (int k = n->n_in; k <= i; k++)
            in[k] = -1;
        in[i] = v;
        return kn_node_set_inputs(n, i + 1, in);
    }
    n->in[i] = v;
    return KILN_OK;
}

/* Give node the folded weight (input 1) and bias (input 2); takes both
 * tensors whatever happens. */
static kiln_status set_folded(kn_graph *g, int node, kiln_tensor *w, kiln_tensor *b)
{
    kn_free(w->name);
    w->name = NULL;
    kiln_status st = set_const_input(g, node, 1, w, "bn_folded_w");
    if (st == KILN_OK)
        return set_const_input(g, node, 2, b, "bn_folded_b");
    kn_tensor_free(b);
    return st;
}

static void take_bn_output(kn_graph *g, int producer, int bn)
{
    g->nodes[producer].out[0] = g->nodes[bn].out[0];
    g->nodes[bn].dead = true;
}

/* Conv: W [M, C/g, k...], per output channel m = dim 0. */
static kiln_status fold_conv(kn_graph *g, int conv, const bn_consts *c, bool *done)
{
    kn_node *n = &g->nodes[conv];
    const kiln_tensor *w = const_f32(g, n, 1);
    const kiln_tensor *b = n->n_in > 2 && n->in[2] >= 0 ? const_f32(g, n, 2) : NULL;
    bool has_b_input = n->n_in > 2 && n->in[2] >= 0;
    if (!w || w->rank < 3 || w->dims[0] != c->channels || (has_b_input && (!b || kn_tensor_count(b) != c->channels)))
        return KILN_OK;
    kiln_tensor *w2, *b2;
    KN_TRY(folded_bias(c, b ? b->data : NULL, 1.0, &b2));
    kiln_status st = take_weight(g, conv, 1, &w2);
    if (st != KILN_OK) {
        kn_tensor_free(b2);
        return st;
    }
    int64_t per = kn_tensor_count(w2) / c->channels;
    float *wd = w2->data;
    for (int64_t m = 0; m < c->channels; m++)
        scale_row(wd + m * per, per, bn_s(c, m));
    st = set_folded(g, conv, w2, b2);
    *done = st == KILN_OK;
    return st;
}

/* ConvTranspose: W [C_in, M/g, k...]; output channel of W[c][j] is
 * (c / (C_in/g)) * (M/g) + j — scaling along dim 0 would be wrong for g > 1. */
static kiln_status fold_conv_transpose(kn_graph *g, int ct, const bn_consts *c, bool *done)
{
    kn_node *n = &g->nodes[ct];
    const kiln_tensor *w = const_f32(g, n, 1);
    const kiln_tensor *b = n->n_in > 2 && n->in[2] >= 0 ? const_f32(g, n, 2) : NULL;
    bool has_b_input = n->n_in > 2 && n->in[2] >= 0;
    int64_t group = 1;
    KN_TRY(kn_attr_get_int(n, "group", 1, &group));
    if (!w || w->rank < 3 || group < 1 || w->dims[0] % group != 0 || w->dims[1] * group != c->channels ||
        (has_b_input && (!b || kn_tensor_count(b) != c->channels)))
        return KILN_OK;
    kiln_tensor *w2, *b2;
    KN_TRY(folded_bias(c, b ? b->data : NULL, 1.0, &b2));
    kiln_status st = take_weight(g, ct, 1, &w2);
    if (st != KILN_OK) {
        kn_tensor_free(b2);
        return st;
    }
    int64_t cin = w2->dims[0], mg = w2->dims[1], cin_g = cin / group;
    int64_t per = kn_tensor_count(w2) / (cin * mg);
    float *wd = w2->data;
    for (int64_t ci = 0; ci < cin; ci++)
        for (int64_t j = 0; j < mg; j++)
            scale_row(wd + (ci * mg + j) * per, per, bn_s(c, (ci / cin_g) * mg + j));
    st = set_folded(g, ct, w2, b2);
    *done = st == KILN_OK;
    return st;
}

/* Gemm: Y = alpha * A' B' + beta * C with B' = transB ? B^T : B, [K, N].
 * BN on 2-D [M, N] scales column n of B'. C folds only if it is per-column
 * (N elements) or a scalar; beta is folded into the new C. */
static kiln_status fold_gemm(kn_graph *g, int gi, const bn_consts *c, bool *done)
{
    kn_node *n = &g->nodes[gi];
    const kiln_tensor *w = const_f32(g, n, 1);
    int64_t trans_b = 0;
    float beta = 1.0f;
    KN_TRY(kn_attr_get_int(n, "transB", 0, &trans_b));
    KN_TRY(kn_attr_get_float(n, "beta", 1.0f, &beta));
    bool has_c = n->n_in > 2 && n->in[2] >= 0;
    const kiln_tensor *cc = has_c ? const_f32(g, n, 2) : NULL;
    if (!w || w->rank != 2 || (has_c && !cc))
        return KILN_OK;
    int64_t N = trans_b ? w->dims[0] : w->dims[1], K = trans_b ? w->dims[1] : w->dims[0];
    if (N != c->channels)
        return KILN_OK;
    int64_t cn = cc ? kn_tensor_count(cc) : 0;
    if (cc && !(cn == 1 || (cn == N && cc->dims[cc->rank - 1] == N && (cc->rank == 1 || cc->dims[0] == 1))))
        return KILN_OK;
    kiln_tensor *w2, *b2;
    float *cfull = NULL;
    if (cc) {
        cfull = kn_malloc((size_t)N * sizeof(float));
        if (!cfull)
            return KN_NOMEM();
        for (int64_t j = 0; j < N; j++)
            cfull[j] = ((const float *)cc->data)[cn == 1 ? 0 : j];
    }
    kiln_status st = folded_bias(c, cfull, beta, &b2);
    kn_free(cfull);
    if (st != KILN_OK)
        return st;
    st = take_weight(g, gi, 1, &w2);
    if (st != KILN_OK) {
        kn_tensor_free(b2);
        return st;
    }
    float *wd = w2->data;
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) {
            float *p = trans_b ? &wd[j * K + k] : &wd[k * N + j];
            *p = (float)((double)*p * bn_s(c, j));
        }
    st = set_folded(g, gi, w2, b2);
    if (st == KILN_OK) {
        n = &g->nodes[gi];
        st = kn_node_add_attr_float(n, "beta", 1.0f);
        kn_node_unresolve(n);
    }
    *done = st == KILN_OK;
    return st;
}

/* Rank of a value when it is certain without shape inference. */
static int known_rank(const kn_graph *g, int v)
{
    const kn_value *val = &g->values[v];
    if (val->rank >= 0)
        return val->rank;
    if (val->producer >= 0) {
        const kn_node *p = &g->nodes[val->producer];
        if (is_op(p, "Flatten") || is_op(p, "Gemm"))
            return 2;
    }
    return -1;
}

/* MatMul(A 2-D, W [K, N]) (+ Add(bias [N])) + BN -> Gemm(A, W', b'). */
static kiln_status fold_matmul(kn_graph *g, int mm, int add, const bn_consts *c, bool *done)
{
    kn_node *n = &g->nodes[mm];
    if (n->n_in != 2 || n->in[0] < 0 || known_rank(g, n->in[0]) != 2)
        return KILN_OK;
    const kiln_tensor *w = const_f32(g, n, 1);
    if (!w || w->rank != 2 || w->dims[1] != c->channels)
        return KILN_OK;
    const kiln_tensor *bias = NULL;
    if (add >= 0) {
        const kn_node *a = &g->nodes[add];
        int other = a->in[0] == n->out[0] ? 1 : 0;
        bias = const_f32(g, a, other);
        if (!bias || kn_tensor_count(bias) != c->channels || bias->dims[bias->rank - 1] != c->channels)
            return KILN_OK;
    }
    kiln_tensor *w2, *b2;
    KN_TRY(folded_bias(c, bias ? bias->data : NULL, 1.0, &b2));
    char *gemm = kn_strdup("Gemm");
    if (!gemm) {
        kn_tensor_free(b2);
        return KN_NOMEM();
    }
    kiln_status st = take_weight(g, mm, 1, &w2);
    if (st != KILN_OK) {
        kn_free(gemm);
        kn_tensor_free(b2);
        return st;
    }
    float *wd = w2->data;
    for (int64_t k = 0; k < w2->dims[0]; k++)
        for (int64_t j = 0; j < c->channels; j++)
            wd[k * c->channels + j] = (float)((double)wd[k * c->channels + j] * bn_s(c, j));
    n = &g->nodes[mm];
    kn_free(n->op_type);
    n->op_type = gemm;
    kn_node_unresolve(n);
    st = set_folded(g, mm, w2, b2);
    if (st == KILN_OK && add >= 0)
        g->nodes[add].dead = true;
    *done = st == KILN_OK;
    return st;
}

kiln_status kn_pass_fuse_bn(kn_graph *g, bool *changed)
{
    *changed = false;
    kn_graph_build_uses(g);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!is_op(&g->nodes[i], "BatchNormalization"))
            continue;
        bn_consts c;
        if (!bn_foldable(g, &g->nodes[i], &c))
            continue;
        int x = g->nodes[i].in[0];
        int p = g->values[x].producer;
        if (p < 0 || !single_use(g, x) || g->nodes[p].n_out != 1 || g->nodes[p].dead)
            continue;
        bool done = false;
        const kn_node *prod = &g->nodes[p];
        if (is_op(prod, "Conv"))
            KN_TRY(fold_conv(g, p, &c, &done));
        else if (is_op(prod, "ConvTranspose"))
            KN_TRY(fold_conv_transpose(g, p, &c, &done));
        else if (is_op(prod, "Gemm"))
            KN_TRY(fold_gemm(g, p, &c, &done));
        else if (is_op(prod, "MatMul"))
            KN_TRY(fold_matmul(g, p, -1, &c, &done));
        else if (is_op(prod, "Add") && prod->n_in == 2) {
            /* MatMul -> Add(bias) -> BN */
            for (int k = 0; k < 2 && !done; k++) {
                int mv = prod->in[k];
                int mm = mv >= 0 ? g->values[mv].producer : -1;
                if (mm >= 0 && is_op(&g->nodes[mm], "MatMul") && single_use(g, mv))
                    KN_TRY(fold_matmul(g, mm, p, &c, &done));
                if (done) {
                    kn_graph_log(g, "fuse-bn: %s and bias Add '%s' folded into MatMul '%s' (now Gemm)",
                                 g->nodes[i].name, g->nodes[p].name, g->nodes[mm].name);
                    /* the MatMul (now Gemm) takes over the BN output */
                    g->nodes[mm].out[0] = g->nodes[i].out[0];
                    g->nodes[i].dead = true;
                }
            }
            if (done) {
                *changed = true;
                kn_graph_build_uses(g);
            }
            continue;
        }
        if (done) {
            kn_graph_log(g, "fuse-bn: %s folded into %s '%s'", g->nodes[i].name, g->nodes[p].op_type,
                         g->nodes[p].name);
            take_bn_output(g, p, i);
            *changed = true;
            kn_graph_build_uses(g);
        }
    }
    if (*changed)
        return kn_graph_compact(g);
    return KILN_OK;
}
