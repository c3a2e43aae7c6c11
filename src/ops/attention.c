/* Attention (opset 23, 24): scaled dot-product attention over 3-D
 * [batch, seq, heads * head_size] or 4-D [batch, heads, seq, head_size]
 * Q/K/V, with grouped KV heads (query head h reads KV head h / (q_heads /
 * kv_heads)), a KV cache (past_key/past_value concatenated in front of K/V
 * and returned as present_key/present_value), a bool or additive attn_mask
 * broadcast to [batch, q_heads, q_seq, total_seq] (its last dimension may
 * be shorter and is padded with -inf), is_causal, softcap, the optional
 * qk_matmul_output (mode 0: scaled QK^T, 1: after softcap, 2: after the
 * bias, 3: after softmax) and opset 24's nonpad_kv_seqlen.
 *
 * Semantics follow the operator's function body in ONNX 1.23 where it
 * differs from the older reference implementation: the causal frontier is
 * bottom-right aligned (key j is visible from query i when j <= i + offset,
 * offset = past length, else nonpad_kv_seqlen[b] - q_seq, else 0), and a
 * query row whose bias is -inf everywhere gets all-zero probabilities (and
 * so a zero output row) instead of NaN.
 *
 * float16 / bfloat16 / float32 compute in float32, double in double; the
 * two GEMMs per head run on kiln's reference GEMMs (gemm_ref.h). */
#include "ops/families.h"
#include "ops/gemm_ref.h"
#include "ops/sgemm.h"

#include <math.h>
#include <string.h>

/* Query rows per scores block: bounds the slot at AT_QBLOCK * total_seq. */
#define AT_QBLOCK 64

typedef struct at_params {
    int64_t is_causal, q_heads, kv_heads, qk_mode, softmax_precision;
    float scale; /* 0: 1/sqrt(head_size) */
    float softcap;
} at_params;

typedef struct at_geom {
    int rank;
    int64_t B, qH, kvH, Sq, Skv, P, T, D, Dv;
} at_geom;

/* Everything a task needs; buffers hold AT_REAL of the compute type. */
typedef struct at_work {
    const at_params *p;
    at_geom g;
    double scale;
    const void *q, *k, *v;
    void *y;
    const void *mask; /* [.., mask_len] converted, NULL if absent */
    int64_t mstride[3], mask_len;
    bool causal;
    const int64_t *causal_off; /* [B] */
    const int64_t *nonpad;     /* [B] or NULL */
    bool softmax_double;
    kiln_tensor *qk_out;
    void *slots;
    size_t slot_bytes, n_tasks;
} at_work;

static kiln_status at_parse(kn_node *n)
{
    at_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s;
    if ((s = kn_attr_get_int(n, "is_causal", 0, &p->is_causal)) != KILN_OK ||
        (s = kn_attr_get_int(n, "q_num_heads", 0, &p->q_heads)) != KILN_OK ||
        (s = kn_attr_get_int(n, "kv_num_heads", 0, &p->kv_heads)) != KILN_OK ||
        (s = kn_attr_get_int(n, "qk_matmul_output_mode", 0, &p->qk_mode)) != KILN_OK ||
        (s = kn_attr_get_int(n, "softmax_precision", 0, &p->softmax_precision)) != KILN_OK ||
        (s = kn_attr_get_float(n, "scale", 0.0f, &p->scale)) != KILN_OK ||
        (s = kn_attr_get_float(n, "softcap", 0.0f, &p->softcap)) != KILN_OK) {
        kn_free(p);
        return s;
    }
    const char *why = NULL;
    if (p->is_causal != 0 && p->is_causal != 1)
        why = "is_causal must be 0 or 1";
    else if (p->q_heads < 0 || p->kv_heads < 0)
        why = "q_num_heads and kv_num_heads must not be negative";
    else if (p->qk_mode < 0 || p->qk_mode > 3)
        why = "qk_matmul_output_mode must be 0, 1, 2 or 3";
    else if (p->softcap < 0 || isnan(p->softcap))
        why = "softcap must be >= 0";
    else if (!isfinite(p->scale))
        why = "scale must be finite";
    if (why) {
        kn_free(p);
        return kn_error(KILN_ERROR_MODEL, "node '%s' (Attention): %s", n->name, why);
    }
    int64_t sp = p->softmax_precision;
    if (sp != 0 && sp != KILN_DTYPE_FLOAT && sp != KILN_DTYPE_FLOAT16 && sp != KILN_DTYPE_BFLOAT16 &&
        sp != KILN_DTYPE_DOUBLE) {
        kn_free(p);
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (Attention): softmax_precision %lld is not a float type",
                        n->name, (long long)sp);
    }
    n->params = p;
    return KILN_OK;
}

static const kiln_tensor *at_in(const kn_op_ctx *c, int i)
{
    return i < c->n_in ? c->in[i] : NULL;
}

static kiln_status at_bad(const kn_op_ctx *c, kiln_status code, const char *what)
{
    return kn_error(code, "node '%s' (Attention): %s", c->node->name, what);
}

static kiln_status at_geometry(const kn_op_ctx *c, at_geom *g)
{
    const at_params *p = c->params;
    const kiln_tensor *Q = c->in[0], *K = c->in[1], *V = c->in[2];
    if (Q->rank != 3 && Q->rank != 4)
        return at_bad(c, KILN_ERROR_SHAPE, "Q must be 3-D or 4-D");
    if (K->rank != Q->rank || V->rank != Q->rank)
        return at_bad(c, KILN_ERROR_SHAPE, "Q, K and V must have the same rank");
    if (K->dtype != Q->dtype || V->dtype != Q->dtype)
        return at_bad(c, KILN_ERROR_DTYPE, "Q, K and V must have the same element type");
    g->rank = Q->rank;
    g->B = Q->dims[0];
    if (K->dims[0] != g->B || V->dims[0] != g->B)
        return at_bad(c, KILN_ERROR_SHAPE, "Q, K and V must have the same batch size");
    if (g->rank == 3) {
        if (p->q_heads <= 0 || p->kv_heads <= 0)
            return at_bad(c, KILN_ERROR_MODEL, "3-D inputs need q_num_heads and kv_num_heads attributes");
        g->qH = p->q_heads;
        g->kvH = p->kv_heads;
        if (Q->dims[2] % g->qH || K->dims[2] % g->kvH || V->dims[2] % g->kvH)
            return at_bad(c, KILN_ERROR_SHAPE, "hidden sizes of Q, K, V are not multiples of the head counts");
        g->Sq = Q->dims[1];
        g->Skv = K->dims[1];
        g->D = Q->dims[2] / g->qH;
        if (K->dims[2] / g->kvH != g->D)
            return at_bad(c, KILN_ERROR_SHAPE, "Q and K head sizes differ");
        if (V->dims[1] != g->Skv)
            return at_bad(c, KILN_ERROR_SHAPE, "K and V sequence lengths differ");
        g->Dv = V->dims[2] / g->kvH;
    } else {
        g->qH = Q->dims[1];
        g->kvH = K->dims[1];
        g->Sq = Q->dims[2];
        g->Skv = K->dims[2];
        g->D = Q->dims[3];
        g->Dv = V->dims[3];
        if (V->dims[1] != g->kvH || V->dims[2] != g->Skv)
            return at_bad(c, KILN_ERROR_SHAPE, "K and V must agree in heads and sequence length");
        if (K->dims[3] != g->D)
            return at_bad(c, KILN_ERROR_SHAPE, "Q and K head sizes differ");
        if ((p->q_heads && p->q_heads != g->qH) || (p->kv_heads && p->kv_heads != g->kvH))
            return at_bad(c, KILN_ERROR_SHAPE, "q_num_heads / kv_num_heads disagree with the 4-D input shapes");
    }
    if (g->kvH <= 0 || g->qH % g->kvH)
        return at_bad(c, KILN_ERROR_SHAPE, "q heads must be a multiple of kv heads (and kv heads > 0)");
    const kiln_tensor *pk = at_in(c, 4), *pv = at_in(c, 5);
    if (!pk != !pv)
        return at_bad(c, KILN_ERROR_MODEL, "past_key and past_value must be given together");
    g->P = 0;
    if (pk) {
        if (pk->rank != 4 || pv->rank != 4 || pk->dtype != Q->dtype || pv->dtype != Q->dtype)
            return at_bad(c, KILN_ERROR_SHAPE, "past_key / past_value must be 4-D of Q's element type");
        g->P = pk->dims[2];
        if (pk->dims[0] != g->B || pk->dims[1] != g->kvH || pk->dims[3] != g->D || pv->dims[0] != g->B ||
            pv->dims[1] != g->kvH || pv->dims[2] != g->P || pv->dims[3] != g->Dv)
            return at_bad(c, KILN_ERROR_SHAPE,
                          "past_key / past_value must be [batch, kv_heads, past, head_size / v_head_size]");
    }
    if (g->P > INT64_MAX - g->Skv)
        return at_bad(c, KILN_ERROR_SHAPE, "total sequence length overflows");
    g->T = g->P + g->Skv;
    const kiln_tensor *m = at_in(c, 3);
    if (m) {
        if (m->dtype != KILN_DTYPE_BOOL && m->dtype != KILN_DTYPE_FLOAT && m->dtype != KILN_DTYPE_FLOAT16 &&
            m->dtype != KILN_DTYPE_BFLOAT16 && m->dtype != KILN_DTYPE_DOUBLE)
            return at_bad(c, KILN_ERROR_DTYPE, "attn_mask must be bool or a float type");
        if (m->rank < 1 || m->rank > 4)
            return at_bad(c, KILN_ERROR_SHAPE, "attn_mask must have 1 to 4 dimensions");
        if (m->dims[m->rank - 1] > g->T)
            return at_bad(c, KILN_ERROR_SHAPE, "attn_mask's last dimension exceeds the total sequence length");
        const int64_t want[3] = {g->B, g->qH, g->Sq};
        for (int k = 0; k < m->rank - 1; k++) {
            int64_t d = m->dims[m->rank - 2 - k], t = want[2 - k];
            if (d != 1 && d != t)
                return at_bad(c, KILN_ERROR_SHAPE,
                              "attn_mask does not broadcast to [batch, q_heads, q_seq, total_seq]");
        }
    }
    const kiln_tensor *np = at_in(c, 6);
    if (np) {
        if (c->node->opset < 24)
            return at_bad(c, KILN_ERROR_MODEL, "nonpad_kv_seqlen needs opset 24");
        if (np->dtype != KILN_DTYPE_INT64 || np->rank != 1 || np->dims[0] != g->B)
            return at_bad(c, KILN_ERROR_SHAPE, "nonpad_kv_seqlen must be int64 of shape [batch]");
    }
    return KILN_OK;
}

static kiln_status at_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, c->node->opset >= 24 ? 7 : 6, 1, 4));
    at_geom g;
    KN_TRY(at_geometry(c, &g));
    kiln_dtype dt = c->in[0]->dtype;
    if (g.rank == 3) {
        int64_t hidden;
        if (!kn_mul_i64(g.qH, g.Dv, &hidden))
            return at_bad(c, KILN_ERROR_SHAPE, "output size overflows");
        KN_TRY(kn_set_output(c, 0, dt, 3, (int64_t[]){g.B, g.Sq, hidden}));
    } else {
        KN_TRY(kn_set_output(c, 0, dt, 4, (int64_t[]){g.B, g.qH, g.Sq, g.Dv}));
    }
    if (c->n_out > 1 && c->out[1])
        KN_TRY(kn_set_output(c, 1, dt, 4, (int64_t[]){g.B, g.kvH, g.T, g.D}));
    if (c->n_out > 2 && c->out[2])
        KN_TRY(kn_set_output(c, 2, dt, 4, (int64_t[]){g.B, g.kvH, g.T, g.Dv}));
    if (c->n_out > 3 && c->out[3])
        KN_TRY(kn_set_output(c, 3, dt, 4, (int64_t[]){g.B, g.qH, g.Sq, g.T}));
    return KILN_OK;
}

/* Byte layout of the scratch: working copies of Q, K, V (with the past),
 * the output before conversion, the converted mask, per-batch offsets, and
 * one scores slot per task. */
typedef struct at_layout {
    size_t q, k, v, y, mask, off, slots, slot_bytes, total;
    size_t n_tasks;
} at_layout;

static bool at_add(size_t *total, size_t count, size_t esz, size_t *at)
{
    size_t bytes;
    if (!kn_mul_size(count, esz, &bytes) || !kn_add_size(bytes, 63, &bytes))
        return false;
    *at = *total;
    return kn_add_size(*total, bytes & ~(size_t)63, total);
}

static kiln_status at_plan(const kn_op_ctx *c, const at_geom *g, size_t threads, at_layout *L)
{
    size_t esz = c->in[0]->dtype == KILN_DTYPE_DOUBLE ? sizeof(double) : sizeof(float);
    int64_t nq, nk, nv, ny, nm = 0;
    const kiln_tensor *m = at_in(c, 3);
    if (!kn_shape_count(4, (int64_t[]){g->B, g->qH, g->Sq, g->D}, &nq) ||
        !kn_shape_count(4, (int64_t[]){g->B, g->kvH, g->T, g->D}, &nk) ||
        !kn_shape_count(4, (int64_t[]){g->B, g->kvH, g->T, g->Dv}, &nv) ||
        !kn_shape_count(4, (int64_t[]){g->B, g->qH, g->Sq, g->Dv}, &ny) ||
        (m && !kn_shape_count(m->rank, m->dims, &nm)))
        return at_bad(c, KILN_ERROR_SHAPE, "tensor sizes overflow");
    int64_t pairs;
    if (!kn_mul_i64(g->B, g->qH, &pairs))
        return at_bad(c, KILN_ERROR_SHAPE, "tensor sizes overflow");
    L->n_tasks = KN_MAX((size_t)1, KN_MIN(threads, (size_t)pairs));
    size_t t = 0, slot_elems = 0, slot_bytes = 0;
    bool ok = at_add(&t, (size_t)nq, esz, &L->q) && at_add(&t, (size_t)nk, esz, &L->k) &&
              at_add(&t, (size_t)nv, esz, &L->v) && at_add(&t, (size_t)ny, esz, &L->y) &&
              at_add(&t, (size_t)nm, esz, &L->mask) && at_add(&t, (size_t)g->B, sizeof(int64_t), &L->off) &&
              kn_mul_size((size_t)KN_MIN((int64_t)AT_QBLOCK, g->Sq), (size_t)g->T, &slot_elems) &&
              kn_mul_size(slot_elems, esz, &slot_bytes) && kn_add_size(slot_bytes, 63, &slot_bytes);
    L->slot_bytes = slot_bytes & ~(size_t)63;
    ok = ok && at_add(&t, L->n_tasks, L->slot_bytes, &L->slots);
    if (!ok)
        return at_bad(c, KILN_ERROR_SHAPE, "scratch size overflows");
    L->total = t;
    return KILN_OK;
}

static kiln_status at_prepare(kn_op_ctx *c)
{
    at_geom g;
    KN_TRY(at_geometry(c, &g));
    at_layout L;
    KN_TRY(at_plan(c, &g, kn_pool_threads(c->pool), &L));
    c->scratch_size = L.total;
    return KILN_OK;
}

#define AT_REAL float
#define AT_SFX _f32
#define AT_GEMM kn_sgemm_ref
#define AT_EXP expf
#define AT_TANH tanhf
#include "ops/attention_impl.h"
#undef AT_REAL
#undef AT_SFX
#undef AT_GEMM
#undef AT_EXP
#undef AT_TANH

#define AT_REAL double
#define AT_SFX _f64
#define AT_GEMM kn_dgemm_ref
#define AT_EXP exp
#define AT_TANH tanh
#include "ops/attention_impl.h"
#undef AT_REAL
#undef AT_SFX
#undef AT_GEMM
#undef AT_EXP
#undef AT_TANH

/* dst[i] = element i of t in the working type. */
static void at_load(void *dst, bool f64, int64_t i, double v)
{
    if (f64)
        ((double *)dst)[i] = v;
    else
        ((float *)dst)[i] = (float)v;
}

/* Copy a 3-D [B, S, heads * size] or 4-D [B, heads, S, size] tensor into
 * the working buffer dst laid out [B, heads, dst_seq, size] starting at
 * sequence position seq0 (so the past and the new keys share one buffer). */
static void at_gather(void *dst, bool f64, const kiln_tensor *t, int64_t heads, int64_t size, int64_t dst_seq,
                      int64_t seq0)
{
    int64_t B = t->dims[0];
    int64_t S = t->rank == 3 ? t->dims[1] : t->dims[2];
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t s = 0; s < S; s++) {
                int64_t src = t->rank == 3 ? (b * S + s) * heads * size + h * size : ((b * heads + h) * S + s) * size;
                int64_t d = ((b * heads + h) * dst_seq + seq0 + s) * size;
                for (int64_t e = 0; e < size; e++)
                    at_load(dst, f64, d + e, kn_tensor_get_f64(t, src + e));
            }
}

static void at_put(kiln_tensor *out, const void *src, bool f64, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        kn_tensor_set_f64(out, i, f64 ? ((const double *)src)[i] : ((const float *)src)[i]);
}

static kiln_status at_run(kn_op_ctx *c)
{
    const at_params *p = c->params;
    at_geom g;
    KN_TRY(at_geometry(c, &g));
    at_layout L;
    KN_TRY(at_plan(c, &g, kn_pool_threads(c->pool), &L));
    if (c->scratch_size < L.total) /* fewer tasks than threads is fine */
        KN_TRY(at_plan(c, &g, 1, &L));
    if (c->scratch_size < L.total)
        return at_bad(c, KILN_ERROR_INTERNAL, "scratch too small");
    char *base = c->scratch;
    bool f64 = c->in[0]->dtype == KILN_DTYPE_DOUBLE;
    at_work w = {.p = p, .g = g, .q = base + L.q, .k = base + L.k, .v = base + L.v, .y = base + L.y,
                 .slots = base + L.slots, .slot_bytes = L.slot_bytes, .n_tasks = L.n_tasks};
    w.scale = p->scale != 0.0f ? (double)p->scale : 1.0 / sqrt((double)g.D);
    if (p->scale == 0.0f && g.D == 0)
        w.scale = 1.0;
    w.softmax_double = p->softmax_precision == KILN_DTYPE_DOUBLE;

    at_gather(base + L.q, f64, c->in[0], g.qH, g.D, g.Sq, 0);
    const kiln_tensor *pk = at_in(c, 4), *pv = at_in(c, 5);
    if (pk) {
        at_gather(base + L.k, f64, pk, g.kvH, g.D, g.T, 0);
        at_gather(base + L.v, f64, pv, g.kvH, g.Dv, g.T, 0);
    }
    at_gather(base + L.k, f64, c->in[1], g.kvH, g.D, g.T, g.P);
    at_gather(base + L.v, f64, c->in[2], g.kvH, g.Dv, g.T, g.P);

    const kiln_tensor *m = at_in(c, 3);
    if (m) {
        int64_t n = kn_tensor_count(m);
        for (int64_t i = 0; i < n; i++) {
            double v = kn_tensor_get_f64(m, i);
            if (m->dtype == KILN_DTYPE_BOOL)
                v = v != 0 ? 0.0 : -INFINITY;
            at_load(base + L.mask, f64, i, v);
        }
        /* Broadcast strides over (batch, head, query row); the last
         * dimension is contiguous and never broadcast (it is padded). */
        int64_t len = m->dims[m->rank - 1], stride = len;
        w.mask_len = len;
        for (int k = 2; k >= 0; k--) {
            int md = m->rank - 1 - (3 - k); /* mask dim aligned with target dim k */
            int64_t d = md >= 0 ? m->dims[md] : 1;
            w.mstride[k] = d == 1 ? 0 : stride;
            stride *= d;
        }
        w.mask = base + L.mask;
    }
    int64_t *off = (int64_t *)(base + L.off);
    const kiln_tensor *np = at_in(c, 6);
    if (np) {
        const int64_t *nv = np->data;
        for (int64_t b = 0; b < g.B; b++)
            if (nv[b] < 0 || nv[b] > g.T)
                return kn_error(KILN_ERROR_ARGUMENT,
                                "node '%s' (Attention): nonpad_kv_seqlen[%lld] = %lld is outside [0, %lld]",
                                c->node->name, (long long)b, (long long)nv[b], (long long)g.T);
        w.nonpad = nv;
    }
    w.causal = p->is_causal != 0;
    for (int64_t b = 0; b < g.B; b++)
        off[b] = pk ? g.P : np ? w.nonpad[b] - g.Sq : 0;
    w.causal_off = off;
    w.qk_out = c->n_out > 3 ? c->out[3] : NULL;

    size_t pairs = (size_t)(g.B * g.qH);
    if (pairs > 0)
        kn_parallel_for(L.n_tasks > 1 ? c->pool : NULL, L.n_tasks, f64 ? at_task_f64 : at_task_f32, &w);

    /* Y from [B, qH, Sq, Dv] into its layout and type. */
    kiln_tensor *Y = c->out[0];
    if (g.rank == 4) {
        at_put(Y, w.y, f64, kn_tensor_count(Y));
    } else {
        for (int64_t b = 0; b < g.B; b++)
            for (int64_t h = 0; h < g.qH; h++)
                for (int64_t s = 0; s < g.Sq; s++) {
                    int64_t src = ((b * g.qH + h) * g.Sq + s) * g.Dv;
                    int64_t dst = (b * g.Sq + s) * g.qH * g.Dv + h * g.Dv;
                    for (int64_t e = 0; e < g.Dv; e++)
                        kn_tensor_set_f64(Y, dst + e,
                                          f64 ? ((const double *)w.y)[src + e] : ((const float *)w.y)[src + e]);
                }
    }
    /* The working K/V are exactly the present caches (conversions to the
     * compute type and back are exact). */
    if (c->n_out > 1 && c->out[1])
        at_put(c->out[1], w.k, f64, kn_tensor_count(c->out[1]));
    if (c->n_out > 2 && c->out[2])
        at_put(c->out[2], w.v, f64, kn_tensor_count(c->out[2]));
    return KILN_OK;
}

const kn_op kn_ops_attention[] = {
    {.domain = "", .name = "Attention", .since_min = 23, .since_max = 0, .parse = at_parse, .infer = at_infer,
     .prepare = at_prepare, .run = at_run, .types = kn_types_float, .type_input = 0},
};
KN_FAMILY_COUNT(attention);
