/* FlexAttention (ai.onnx.preview, version 1): attention whose scores and
 * probabilities pass through user subgraphs, as torch.nn.attention's
 * flex_attention does:
 *   scores = scale * Q K^T             [batch, q_heads, L, S]
 *   scores = score_mod(scores)         optional graph attribute
 *   probs  = softmax(scores, axis=-1)
 *   probs  = prob_mod(probs)           optional graph attribute
 *   Y      = probs V
 * Q [batch, q_heads, L, E], K [batch, kv_heads, S, E], V [batch, kv_heads,
 * S, Ev]; query head h reads KV head h / (q_heads / kv_heads). scale
 * defaults to 1/sqrt(E). As in the operator's function body, scores and
 * probabilities (and so the subgraphs' tensors) are float32 for float16 /
 * bfloat16 / float32 inputs and double for double, and the softmax is the
 * plain one (a row masked to -inf everywhere gives NaN). Each subgraph takes
 * one tensor and must return one of the same shape and type; it may read
 * values of the enclosing graph (bound as hidden inputs, graph/scope.h). */
#include "graph/scope.h"
#include "ops/families.h"
#include "ops/gemm_ref.h"
#include "runtime/subgraph.h"

#include <math.h>

typedef struct fa_params {
    float scale; /* 0: 1/sqrt(E) */
    const kn_graph *mod[2]; /* score_mod, prob_mod (NULL if absent) */
    int n_declared, n_outer;
    const char **outer_names;
} fa_params;

static const char *const fa_mod_names[2] = {"score_mod", "prob_mod"};

static void fa_free_params(void *params)
{
    fa_params *p = params;
    if (!p)
        return;
    kn_free(p->outer_names);
    kn_free(p);
}

static kiln_status fa_get_mod(const kn_node *n, const char *name, const kn_graph **out)
{
    *out = NULL;
    const kn_attr *a = kn_node_attr(n, name);
    if (!a)
        return KILN_OK;
    if (a->type != KN_ATTR_GRAPH || !a->g)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (FlexAttention): attribute %s is not a graph", n->name, name);
    if (a->g->n_inputs != 1 || a->g->n_outputs != 1)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (FlexAttention): %s has %d inputs and %d outputs, expected 1 and 1",
                        n->name, name, a->g->n_inputs, a->g->n_outputs);
    for (int i = 0; i < a->g->n_nodes; i++)
        if (!a->g->nodes[i].dead && !a->g->nodes[i].op)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (FlexAttention): %s node '%s' (%s) is not supported",
                            n->name, name, a->g->nodes[i].name, a->g->nodes[i].op_type);
    *out = a->g;
    return KILN_OK;
}

static kiln_status fa_parse(kn_node *n)
{
    fa_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_float(n, "scale", 0.0f, &p->scale);
    for (int m = 0; m < 2 && s == KILN_OK; m++)
        s = fa_get_mod(n, fa_mod_names[m], &p->mod[m]);
    if (s == KILN_OK)
        s = kn_node_outer_names(n, &p->outer_names, &p->n_outer);
    p->n_declared = kn_node_declared_inputs(n);
    if (s == KILN_OK && p->n_declared + p->n_outer != n->n_in)
        s = kn_error(KILN_ERROR_INTERNAL, "node '%s' (FlexAttention): outer-scope values of the subgraphs are not bound",
                     n->name);
    if (s == KILN_OK && !isfinite(p->scale))
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (FlexAttention): scale must be finite", n->name);
    if (s != KILN_OK) {
        fa_free_params(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* Subgraph nodes get the per-model preparation main-graph nodes get. */
static kiln_status fa_finalize(const kn_graph *g, kn_node *node, kn_isa_level isa)
{
    KN_UNUSED(g);
    const fa_params *p = node->params;
    for (int m = 0; m < 2; m++)
        for (int i = 0; p->mod[m] && i < p->mod[m]->n_nodes; i++) {
            kn_node *n = &p->mod[m]->nodes[i];
            if (!n->dead && n->op && n->op->finalize)
                KN_TRY(n->op->finalize(p->mod[m], n, isa));
        }
    return KILN_OK;
}

static kiln_status fa_bad(const kn_op_ctx *c, kiln_status code, const char *what)
{
    return kn_error(code, "node '%s' (FlexAttention): %s", c->node->name, what);
}

static kiln_status fa_check(const kn_op_ctx *c)
{
    const fa_params *p = c->params;
    if (p->n_declared != 3)
        return fa_bad(c, KILN_ERROR_MODEL, "expects exactly the inputs Q, K, V");
    const kiln_tensor *Q = c->in[0], *K = c->in[1], *V = c->in[2];
    if (!Q || !K || !V)
        return fa_bad(c, KILN_ERROR_MODEL, "Q, K and V are required");
    if (Q->rank != 4 || K->rank != 4 || V->rank != 4)
        return fa_bad(c, KILN_ERROR_SHAPE, "Q, K and V must be 4-D [batch, heads, seq, head_size]");
    if (K->dtype != Q->dtype || V->dtype != Q->dtype)
        return fa_bad(c, KILN_ERROR_DTYPE, "Q, K and V must have the same element type");
    if (K->dims[0] != Q->dims[0] || V->dims[0] != Q->dims[0] || V->dims[1] != K->dims[1] ||
        V->dims[2] != K->dims[2] || K->dims[3] != Q->dims[3])
        return fa_bad(c, KILN_ERROR_SHAPE, "Q, K, V disagree in batch, heads, key length or head size");
    if (K->dims[1] <= 0 || Q->dims[1] % K->dims[1])
        return fa_bad(c, KILN_ERROR_SHAPE, "q heads must be a multiple of kv heads (and kv heads > 0)");
    return KILN_OK;
}

static kiln_status fa_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, c->n_in, 1, 1));
    KN_TRY(fa_check(c));
    const kiln_tensor *Q = c->in[0], *V = c->in[2];
    return kn_set_output(c, 0, Q->dtype, 4, (int64_t[]){Q->dims[0], Q->dims[1], Q->dims[2], V->dims[3]});
}

/* t converted to a new dense tensor of the working type. */
static kiln_status fa_convert(const kiln_tensor *t, kiln_dtype wt, kiln_tensor **out)
{
    KN_TRY(kn_tensor_new(wt, t->rank, t->dims, out));
    int64_t n = kn_tensor_count(t);
    for (int64_t i = 0; i < n; i++)
        kn_tensor_set_f64(*out, i, kn_tensor_get_f64(t, i));
    return KILN_OK;
}

/* Run subgraph m on *t and replace *t by its result. */
static kiln_status fa_apply_mod(const kn_op_ctx *c, int m, kiln_tensor **t)
{
    const fa_params *p = c->params;
    kn_scope scope = {p->n_outer, p->outer_names, c->in + p->n_declared};
    kn_subgraph_exec *e = NULL;
    KN_TRY(kn_subgraph_exec_new(p->mod[m], &scope, c->pool, c->isa, &e));
    kiln_tensor *res = NULL;
    kiln_status s = kn_subgraph_exec_run(e, (const kiln_tensor *const *)t, 1, &res);
    kn_subgraph_exec_free(e);
    if (s != KILN_OK)
        return kn_error_prefix(s, "node '%s' (FlexAttention): %s: ", c->node->name, fa_mod_names[m]);
    if (!res || res->dtype != (*t)->dtype || !kn_same_shape(res, *t)) {
        kn_tensor_free(res);
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (FlexAttention): %s must return a tensor of its input's shape and type",
                        c->node->name, fa_mod_names[m]);
    }
    kn_tensor_free(*t);
    *t = res;
    return KILN_OK;
}

static void fa_softmax_rows(kiln_tensor *t, int64_t rows, int64_t n)
{
    bool f64 = t->dtype == KILN_DTYPE_DOUBLE;
    for (int64_t r = 0; r < rows; r++) {
        if (f64) {
            double *x = (double *)t->data + r * n;
            double mx = n ? x[0] : 0, sum = 0;
            for (int64_t j = 1; j < n; j++)
                mx = x[j] > mx ? x[j] : mx;
            for (int64_t j = 0; j < n; j++)
                sum += x[j] = exp(x[j] - mx);
            for (int64_t j = 0; j < n; j++)
                x[j] /= sum;
        } else {
            float *x = (float *)t->data + r * n;
            float mx = n ? x[0] : 0;
            double sum = 0;
            for (int64_t j = 1; j < n; j++)
                mx = x[j] > mx ? x[j] : mx;
            for (int64_t j = 0; j < n; j++)
                sum += x[j] = expf(x[j] - mx);
            float inv = (float)(1.0 / sum);
            for (int64_t j = 0; j < n; j++)
                x[j] *= inv;
        }
    }
}

static kiln_status fa_run(kn_op_ctx *c)
{
    const fa_params *p = c->params;
    KN_TRY(fa_check(c));
    const kiln_tensor *Q = c->in[0], *K = c->in[1], *V = c->in[2];
    int64_t B = Q->dims[0], Hq = Q->dims[1], L = Q->dims[2], E = Q->dims[3];
    int64_t Hkv = K->dims[1], S = K->dims[2], Ev = V->dims[3], rep = Hq / Hkv;
    bool f64 = Q->dtype == KILN_DTYPE_DOUBLE;
    kiln_dtype wt = f64 ? KILN_DTYPE_DOUBLE : KILN_DTYPE_FLOAT;
    double scale = p->scale != 0.0f ? (double)p->scale : 1.0 / sqrt((double)KN_MAX(E, 1));
    kiln_tensor *q = NULL, *k = NULL, *v = NULL, *sc = NULL, *y = NULL;
    kiln_status s = fa_convert(Q, wt, &q);
    if (s == KILN_OK)
        s = fa_convert(K, wt, &k);
    if (s == KILN_OK)
        s = fa_convert(V, wt, &v);
    if (s == KILN_OK)
        s = kn_tensor_new(wt, 4, (int64_t[]){B, Hq, L, S}, &sc);
    if (s == KILN_OK)
        s = kn_tensor_new(wt, 4, (int64_t[]){B, Hq, L, Ev}, &y);
    for (int64_t b = 0; s == KILN_OK && b < B; b++)
        for (int64_t h = 0; h < Hq; h++) {
            int64_t qo = (b * Hq + h) * L * E, ko = (b * Hkv + h / rep) * S * E, so = (b * Hq + h) * L * S;
            if (f64)
                kn_dgemm_ref(false, true, L, S, E, scale, (double *)q->data + qo, E, (double *)k->data + ko, E, 0,
                             (double *)sc->data + so, S);
            else
                kn_sgemm_ref(false, true, L, S, E, (float)scale, (float *)q->data + qo, E, (float *)k->data + ko, E,
                             0, (float *)sc->data + so, S);
        }
    if (s == KILN_OK && p->mod[0])
        s = fa_apply_mod(c, 0, &sc);
    if (s == KILN_OK)
        fa_softmax_rows(sc, B * Hq * L, S);
    if (s == KILN_OK && p->mod[1])
        s = fa_apply_mod(c, 1, &sc);
    for (int64_t b = 0; s == KILN_OK && b < B; b++)
        for (int64_t h = 0; h < Hq; h++) {
            int64_t so = (b * Hq + h) * L * S, vo = (b * Hkv + h / rep) * S * Ev, yo = (b * Hq + h) * L * Ev;
            if (f64)
                kn_dgemm_ref(false, false, L, Ev, S, 1, (double *)sc->data + so, S, (double *)v->data + vo, Ev, 0,
                             (double *)y->data + yo, Ev);
            else
                kn_sgemm_ref(false, false, L, Ev, S, 1, (float *)sc->data + so, S, (float *)v->data + vo, Ev, 0,
                             (float *)y->data + yo, Ev);
        }
    if (s == KILN_OK) {
        int64_t n = kn_tensor_count(y);
        for (int64_t i = 0; i < n; i++)
            kn_tensor_set_f64(c->out[0], i, kn_tensor_get_f64(y, i));
    }
    kn_tensor_free(q);
    kn_tensor_free(k);
    kn_tensor_free(v);
    kn_tensor_free(sc);
    kn_tensor_free(y);
    return s;
}

const kn_op kn_ops_flex_attention[] = {
    {.domain = "ai.onnx.preview", .name = "FlexAttention", .since_min = 1, .since_max = 0, .parse = fa_parse,
     .free_params = fa_free_params, .infer = fa_infer, .run = fa_run,
     .finalize = fa_finalize, .types = kn_types_float, .type_input = 0},
};
KN_FAMILY_COUNT(flex_attention);
