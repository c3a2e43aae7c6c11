/* LinearAttention (opset 27): the recurrent form of linear attention with a
 * per-head state S [d_k, d_v], the building block of RetNet / GLA / DeltaNet
 * / Gated DeltaNet layers. Inputs are 3-D [batch, seq, heads * size]:
 * query (q_num_heads), key and value (kv_num_heads); query head h reads KV
 * head h / (q_num_heads / kv_num_heads). Per time step t and KV head:
 *   gated rules:  S *= exp(decay_t)   (decay per head or per key feature)
 *   delta rules:  v_t = beta_t * (v_t - S^T (erase_t * k_t))
 *   all rules:    S += k_t v_t^T
 *   output:       o_t = scale * S^T q_t   (scale default 1/sqrt(d_k))
 * update_rule: linear, gated, delta, gated_delta (default); decay is
 * required exactly for the gated rules, beta for the delta rules,
 * erase_gate is allowed only with them. past_state [batch, kv_heads, d_k,
 * d_v] seeds the state (zeros otherwise) and present_state returns it.
 * The recurrence runs in float32 (double for double inputs), as the
 * reference does; chunk_size is a tuning hint without effect on results. */
#include "ops/families.h"

#include <math.h>
#include <string.h>

enum { LA_GATED = 1, LA_DELTA = 2 };

typedef struct la_params {
    int64_t q_heads, kv_heads;
    float scale;
    unsigned rule; /* LA_GATED | LA_DELTA */
} la_params;

static kiln_status la_parse(kn_node *n)
{
    la_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    const char *rule = NULL;
    int64_t chunk = 0;
    kiln_status s;
    if ((s = kn_attr_get_int(n, "q_num_heads", 0, &p->q_heads)) != KILN_OK ||
        (s = kn_attr_get_int(n, "kv_num_heads", 0, &p->kv_heads)) != KILN_OK ||
        (s = kn_attr_get_int(n, "chunk_size", 0, &chunk)) != KILN_OK ||
        (s = kn_attr_get_float(n, "scale", 0.0f, &p->scale)) != KILN_OK ||
        (s = kn_attr_get_string(n, "update_rule", "gated_delta", &rule)) != KILN_OK) {
        kn_free(p);
        return s;
    }
    const char *why = NULL;
    if (strcmp(rule, "linear") == 0)
        p->rule = 0;
    else if (strcmp(rule, "gated") == 0)
        p->rule = LA_GATED;
    else if (strcmp(rule, "delta") == 0)
        p->rule = LA_DELTA;
    else if (strcmp(rule, "gated_delta") == 0)
        p->rule = LA_GATED | LA_DELTA;
    else
        why = "update_rule must be linear, gated, delta or gated_delta";
    if (!why && (p->q_heads <= 0 || p->kv_heads <= 0 || p->q_heads % p->kv_heads))
        why = "q_num_heads and kv_num_heads are required, positive, and q_num_heads a multiple of kv_num_heads";
    if (!why && !isfinite(p->scale))
        why = "scale must be finite";
    if (why) {
        kn_free(p);
        return kn_error(KILN_ERROR_MODEL, "node '%s' (LinearAttention): %s", n->name, why);
    }
    n->params = p;
    return KILN_OK;
}

typedef struct la_geom {
    int64_t B, T, qH, kvH, dk, dv;
    int64_t decay_last, beta_last; /* 0 when absent */
} la_geom;

static const kiln_tensor *la_in(const kn_op_ctx *c, int i)
{
    return i < c->n_in ? c->in[i] : NULL;
}

static kiln_status la_bad(const kn_op_ctx *c, kiln_status code, const char *what)
{
    return kn_error(code, "node '%s' (LinearAttention): %s", c->node->name, what);
}

static kiln_status la_geometry(const kn_op_ctx *c, la_geom *g)
{
    const la_params *p = c->params;
    const kiln_tensor *q = c->in[0], *k = c->in[1], *v = c->in[2];
    const kiln_tensor *past = la_in(c, 3), *decay = la_in(c, 4), *beta = la_in(c, 5), *erase = la_in(c, 6);
    if (q->rank != 3 || k->rank != 3 || v->rank != 3)
        return la_bad(c, KILN_ERROR_SHAPE, "query, key and value must be 3-D [batch, seq, heads * size]");
    if (k->dtype != q->dtype || v->dtype != q->dtype)
        return la_bad(c, KILN_ERROR_DTYPE, "query, key and value must have the same element type");
    g->B = q->dims[0];
    g->T = q->dims[1];
    g->qH = p->q_heads;
    g->kvH = p->kv_heads;
    for (int i = 0; i < 2; i++)
        if (k->dims[i] != q->dims[i] || v->dims[i] != q->dims[i])
            return la_bad(c, KILN_ERROR_SHAPE, "query, key and value must agree in batch and sequence length");
    if (q->dims[2] % g->qH || k->dims[2] % g->kvH || v->dims[2] % g->kvH)
        return la_bad(c, KILN_ERROR_SHAPE, "hidden sizes are not multiples of the head counts");
    g->dk = q->dims[2] / g->qH;
    g->dv = v->dims[2] / g->kvH;
    if (k->dims[2] / g->kvH != g->dk)
        return la_bad(c, KILN_ERROR_SHAPE, "query and key head sizes differ");
    if (!(p->rule & LA_GATED) != !decay)
        return la_bad(c, KILN_ERROR_MODEL, "decay is required by the gated update rules and forbidden otherwise");
    if (!(p->rule & LA_DELTA) != !beta)
        return la_bad(c, KILN_ERROR_MODEL, "beta is required by the delta update rules and forbidden otherwise");
    if (erase && !(p->rule & LA_DELTA))
        return la_bad(c, KILN_ERROR_MODEL, "erase_gate is only allowed with the delta update rules");
    g->decay_last = g->beta_last = 0;
    if (decay) {
        if (decay->rank != 3 || decay->dims[0] != g->B || decay->dims[1] != g->T ||
            (decay->dims[2] != g->kvH && decay->dims[2] != g->kvH * g->dk) || decay->dtype != q->dtype)
            return la_bad(c, KILN_ERROR_SHAPE, "decay must be [batch, seq, kv_heads] or [batch, seq, kv_heads * d_k]");
        g->decay_last = decay->dims[2];
    }
    if (beta) {
        if (beta->rank != 3 || beta->dims[0] != g->B || beta->dims[1] != g->T ||
            (beta->dims[2] != g->kvH && beta->dims[2] != 1) || beta->dtype != q->dtype)
            return la_bad(c, KILN_ERROR_SHAPE, "beta must be [batch, seq, kv_heads] or [batch, seq, 1]");
        g->beta_last = beta->dims[2];
    }
    if (erase && (erase->rank != 3 || erase->dims[0] != g->B || erase->dims[1] != g->T ||
                  erase->dims[2] != g->kvH * g->dk || erase->dtype != q->dtype))
        return la_bad(c, KILN_ERROR_SHAPE, "erase_gate must be [batch, seq, kv_heads * d_k]");
    if (past && (past->rank != 4 || past->dims[0] != g->B || past->dims[1] != g->kvH || past->dims[2] != g->dk ||
                 past->dims[3] != g->dv ||
                 (past->dtype != KILN_DTYPE_FLOAT && past->dtype != KILN_DTYPE_FLOAT16 &&
                  past->dtype != KILN_DTYPE_BFLOAT16 && past->dtype != KILN_DTYPE_DOUBLE)))
        return la_bad(c, KILN_ERROR_SHAPE, "past_state must be a float [batch, kv_heads, d_k, d_v] tensor");
    return KILN_OK;
}

static kiln_status la_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, 7, 1, 2));
    la_geom g;
    KN_TRY(la_geometry(c, &g));
    int64_t hidden;
    if (!kn_mul_i64(g.qH, g.dv, &hidden))
        return la_bad(c, KILN_ERROR_SHAPE, "output size overflows");
    KN_TRY(kn_set_output(c, 0, c->in[0]->dtype, 3, (int64_t[]){g.B, g.T, hidden}));
    const kiln_tensor *past = la_in(c, 3);
    if (c->n_out > 1 && c->out[1])
        KN_TRY(kn_set_output(c, 1, past ? past->dtype : c->in[0]->dtype, 4, (int64_t[]){g.B, g.kvH, g.dk, g.dv}));
    return KILN_OK;
}

static kiln_status la_prepare(kn_op_ctx *c)
{
    la_geom g;
    KN_TRY(la_geometry(c, &g));
    /* One KV head's state plus the corrected value row. */
    size_t n;
    if (!kn_mul_size((size_t)g.dk, (size_t)g.dv, &n) || !kn_add_size(n, (size_t)g.dv, &n) ||
        !kn_mul_size(n, sizeof(double), &c->scratch_size))
        return la_bad(c, KILN_ERROR_SHAPE, "state size overflows");
    return KILN_OK;
}

/* Round v to the compute precision: float32 unless the inputs are double. */
static double la_r(bool f64, double v)
{
    return f64 ? v : (double)(float)v;
}

static kiln_status la_run(kn_op_ctx *c)
{
    const la_params *p = c->params;
    la_geom g;
    KN_TRY(la_geometry(c, &g));
    const kiln_tensor *q = c->in[0], *k = c->in[1], *v = c->in[2];
    const kiln_tensor *past = la_in(c, 3), *decay = la_in(c, 4), *beta = la_in(c, 5), *erase = la_in(c, 6);
    kiln_tensor *y = c->out[0], *present = c->n_out > 1 ? c->out[1] : NULL;
    bool f64 = q->dtype == KILN_DTYPE_DOUBLE;
    double scale = p->scale != 0.0f ? (double)p->scale : 1.0 / sqrt((double)KN_MAX(g.dk, 1));
    scale = la_r(f64, scale);
    int64_t rep = g.qH / g.kvH;
    double *S = c->scratch, *vt = S + g.dk * g.dv;
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t kh = 0; kh < g.kvH; kh++) {
            int64_t soff = (b * g.kvH + kh) * g.dk * g.dv;
            for (int64_t i = 0; i < g.dk * g.dv; i++)
                S[i] = past ? la_r(f64, kn_tensor_get_f64(past, soff + i)) : 0.0;
            for (int64_t t = 0; t < g.T; t++) {
                int64_t kbase = (b * g.T + t) * g.kvH * g.dk + kh * g.dk;
                int64_t vbase = (b * g.T + t) * g.kvH * g.dv + kh * g.dv;
                if (decay)
                    for (int64_t d = 0; d < g.dk; d++) {
                        int64_t di = g.decay_last == g.kvH ? (b * g.T + t) * g.kvH + kh : kbase + d;
                        double f = la_r(f64, exp(kn_tensor_get_f64(decay, di)));
                        for (int64_t m = 0; m < g.dv; m++)
                            S[d * g.dv + m] = la_r(f64, S[d * g.dv + m] * f);
                    }
                for (int64_t m = 0; m < g.dv; m++)
                    vt[m] = kn_tensor_get_f64(v, vbase + m);
                if (beta) {
                    double bt = kn_tensor_get_f64(beta, (b * g.T + t) * g.beta_last + (g.beta_last == 1 ? 0 : kh));
                    for (int64_t m = 0; m < g.dv; m++) {
                        double r = 0.0;
                        for (int64_t d = 0; d < g.dk; d++) {
                            double kd = kn_tensor_get_f64(k, kbase + d);
                            if (erase)
                                kd = la_r(f64, kn_tensor_get_f64(erase, kbase + d) * kd);
                            r += S[d * g.dv + m] * kd;
                        }
                        vt[m] = la_r(f64, bt * la_r(f64, vt[m] - la_r(f64, r)));
                    }
                }
                for (int64_t d = 0; d < g.dk; d++) {
                    double kd = kn_tensor_get_f64(k, kbase + d);
                    for (int64_t m = 0; m < g.dv; m++)
                        S[d * g.dv + m] = la_r(f64, S[d * g.dv + m] + la_r(f64, kd * vt[m]));
                }
                for (int64_t hq = kh * rep; hq < (kh + 1) * rep; hq++) {
                    int64_t qbase = (b * g.T + t) * g.qH * g.dk + hq * g.dk;
                    int64_t ybase = (b * g.T + t) * g.qH * g.dv + hq * g.dv;
                    for (int64_t m = 0; m < g.dv; m++) {
                        double o = 0.0;
                        for (int64_t d = 0; d < g.dk; d++)
                            o += kn_tensor_get_f64(q, qbase + d) * S[d * g.dv + m];
                        kn_tensor_set_f64(y, ybase + m, la_r(f64, scale * la_r(f64, o)));
                    }
                }
            }
            if (present)
                for (int64_t i = 0; i < g.dk * g.dv; i++)
                    kn_tensor_set_f64(present, soff + i, S[i]);
        }
    return KILN_OK;
}

const kn_op kn_ops_linear_attention[] = {
    {.domain = "", .name = "LinearAttention", .since_min = 27, .since_max = 0, .parse = la_parse, .infer = la_infer,
     .prepare = la_prepare, .run = la_run, .types = kn_types_float, .type_input = 0},
};
KN_FAMILY_COUNT(linear_attention);
