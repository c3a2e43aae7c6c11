/* RotaryEmbedding (opset 23): rotates the first rotary_embedding_dim
 * features of every head by per-position angles given as cos/sin caches.
 * Input is 4-D [batch, heads, seq, head_size] or 3-D [batch, seq, hidden]
 * with num_heads. With position_ids [batch, seq] the caches are tables
 * [max_position, rotary_dim / 2] indexed by them; without, they already are
 * [batch, seq, rotary_dim / 2]. Pairs are (x[k], x[k + rotary_dim/2]) or,
 * interleaved, (x[2k], x[2k+1]):
 *     x1' = cos * x1 - sin * x2,   x2' = sin * x1 + cos * x2
 * Features past rotary_dim pass through. float16 / bfloat16 / float32 round
 * every step to float32 as the reference does; double stays double. */
#include "ops/families.h"

static const kiln_dtype rope_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16, KILN_DTYPE_DOUBLE,
                                        KILN_DTYPE_UNDEFINED};

typedef struct rope_params {
    int64_t interleaved, rotary_dim, num_heads;
} rope_params;

static kiln_status rope_parse(kn_node *n)
{
    rope_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s;
    if ((s = kn_attr_get_int(n, "interleaved", 0, &p->interleaved)) != KILN_OK ||
        (s = kn_attr_get_int(n, "rotary_embedding_dim", 0, &p->rotary_dim)) != KILN_OK ||
        (s = kn_attr_get_int(n, "num_heads", 0, &p->num_heads)) != KILN_OK) {
        kn_free(p);
        return s;
    }
    const char *why = NULL;
    if (p->interleaved != 0 && p->interleaved != 1)
        why = "interleaved must be 0 or 1";
    else if (p->rotary_dim < 0 || p->rotary_dim % 2)
        why = "rotary_embedding_dim must be even and >= 0";
    else if (p->num_heads < 0)
        why = "num_heads must be >= 0";
    if (why) {
        kn_free(p);
        return kn_error(KILN_ERROR_MODEL, "node '%s' (RotaryEmbedding): %s", n->name, why);
    }
    n->params = p;
    return KILN_OK;
}

typedef struct rope_geom {
    int64_t B, H, S, D, R; /* R: rotary dim */
} rope_geom;

static kiln_status rope_bad(const kn_op_ctx *c, kiln_status code, const char *what)
{
    return kn_error(code, "node '%s' (RotaryEmbedding): %s", c->node->name, what);
}

static kiln_status rope_geometry(const kn_op_ctx *c, rope_geom *g)
{
    const rope_params *p = c->params;
    const kiln_tensor *x = c->in[0], *cs = c->in[1], *sn = c->in[2];
    const kiln_tensor *pos = c->n_in > 3 ? c->in[3] : NULL;
    if (x->rank == 4) {
        g->B = x->dims[0];
        g->H = x->dims[1];
        g->S = x->dims[2];
        g->D = x->dims[3];
        if (p->num_heads && p->num_heads != g->H)
            return rope_bad(c, KILN_ERROR_SHAPE, "num_heads disagrees with the 4-D input");
    } else if (x->rank == 3) {
        if (p->num_heads <= 0)
            return rope_bad(c, KILN_ERROR_MODEL, "3-D input needs the num_heads attribute");
        if (x->dims[2] % p->num_heads)
            return rope_bad(c, KILN_ERROR_SHAPE, "hidden size is not a multiple of num_heads");
        g->B = x->dims[0];
        g->S = x->dims[1];
        g->H = p->num_heads;
        g->D = x->dims[2] / p->num_heads;
    } else {
        return rope_bad(c, KILN_ERROR_SHAPE, "input must be 3-D or 4-D");
    }
    g->R = p->rotary_dim ? p->rotary_dim : g->D;
    if (g->R > g->D || g->R % 2)
        return rope_bad(c, KILN_ERROR_SHAPE, "rotary_embedding_dim must be even and <= head size");
    if (cs->dtype != x->dtype || sn->dtype != x->dtype)
        return rope_bad(c, KILN_ERROR_DTYPE, "cos_cache and sin_cache must have the input's element type");
    if (cs->rank != sn->rank || !kn_same_shape(cs, sn))
        return rope_bad(c, KILN_ERROR_SHAPE, "cos_cache and sin_cache shapes differ");
    if (pos) {
        if (pos->dtype != KILN_DTYPE_INT64 || pos->rank != 2 || pos->dims[0] != g->B || pos->dims[1] != g->S)
            return rope_bad(c, KILN_ERROR_SHAPE, "position_ids must be int64 [batch, seq]");
        if (cs->rank != 2 || cs->dims[1] != g->R / 2)
            return rope_bad(c, KILN_ERROR_SHAPE, "with position_ids the caches must be [max_position, rotary_dim/2]");
    } else if (cs->rank != 3 || cs->dims[0] != g->B || cs->dims[1] != g->S || cs->dims[2] != g->R / 2) {
        return rope_bad(c, KILN_ERROR_SHAPE, "without position_ids the caches must be [batch, seq, rotary_dim/2]");
    }
    return KILN_OK;
}

static kiln_status rope_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, 4, 1, 1));
    rope_geom g;
    KN_TRY(rope_geometry(c, &g));
    return kn_set_output(c, 0, c->in[0]->dtype, c->in[0]->rank, c->in[0]->dims);
}

static kiln_status rope_run(kn_op_ctx *c)
{
    const rope_params *p = c->params;
    const kiln_tensor *x = c->in[0], *cs = c->in[1], *sn = c->in[2];
    const kiln_tensor *pos = c->n_in > 3 ? c->in[3] : NULL;
    kiln_tensor *y = c->out[0];
    rope_geom g;
    KN_TRY(rope_geometry(c, &g));
    bool f64 = x->dtype == KILN_DTYPE_DOUBLE;
    int64_t half = g.R / 2;
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t s = 0; s < g.S; s++) {
            int64_t row; /* row of the caches */
            if (pos) {
                int64_t id = ((const int64_t *)pos->data)[b * g.S + s];
                if (id < 0 || id >= cs->dims[0])
                    return kn_error(KILN_ERROR_ARGUMENT,
                                    "node '%s' (RotaryEmbedding): position id %lld outside the caches' %lld rows",
                                    c->node->name, (long long)id, (long long)cs->dims[0]);
                row = id;
            } else {
                row = b * g.S + s;
            }
            for (int64_t h = 0; h < g.H; h++) {
                int64_t base = x->rank == 4 ? ((b * g.H + h) * g.S + s) * g.D : (b * g.S + s) * g.H * g.D + h * g.D;
                for (int64_t k = 0; k < half; k++) {
                    int64_t i1 = p->interleaved ? 2 * k : k, i2 = p->interleaved ? 2 * k + 1 : k + half;
                    double cv = kn_tensor_get_f64(cs, row * half + k), sv = kn_tensor_get_f64(sn, row * half + k);
                    double x1 = kn_tensor_get_f64(x, base + i1), x2 = kn_tensor_get_f64(x, base + i2);
                    double r, im;
                    if (f64) {
                        r = cv * x1 - sv * x2;
                        im = sv * x1 + cv * x2;
                    } else {
                        r = (float)((float)(cv * x1) - (float)(sv * x2));
                        im = (float)((float)(sv * x1) + (float)(cv * x2));
                    }
                    kn_tensor_set_f64(y, base + i1, r);
                    kn_tensor_set_f64(y, base + i2, im);
                }
                for (int64_t d = g.R; d < g.D; d++)
                    kn_tensor_set_f64(y, base + d, kn_tensor_get_f64(x, base + d));
            }
        }
    return KILN_OK;
}

const kn_op kn_ops_rotary[] = {
    {.domain = "", .name = "RotaryEmbedding", .since_min = 23, .since_max = 0, .parse = rope_parse,
     .infer = rope_infer, .run = rope_run, .types = rope_types, .type_input = 0},
};
KN_FAMILY_COUNT(rotary);
