/* CausalConvWithState (opset 27): a depthwise causal 1-D convolution that
 * carries its left context between calls, as used by state-space and
 * linear-attention language models (Mamba, GatedDeltaNet) for decoding.
 *   input [B, C, L], weight [C, 1, K], bias [C] (optional),
 *   past_state [B, C, K-1] (optional, zeros when absent)
 * The padded sequence is past_state followed by input; output[b, c, t] =
 * bias[c] + sum_k weight[c, 0, k] * padded[b, c, t + k], optionally passed
 * through SiLU ("silu" or its alias "swish"), and present_state is the last
 * K-1 positions of the padded sequence. Float types compute in float32
 * (double in double), as the reference does. */
#include "ops/families.h"

#include <math.h>
#include <string.h>

typedef struct ccs_params {
    bool silu;
} ccs_params;

static kiln_status ccs_parse(kn_node *n)
{
    const char *act = NULL;
    KN_TRY(kn_attr_get_string(n, "activation", "none", &act));
    if (strcmp(act, "none") != 0 && strcmp(act, "silu") != 0 && strcmp(act, "swish") != 0)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (CausalConvWithState): activation '%s' is not none, silu or swish", n->name, act);
    ccs_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->silu = strcmp(act, "none") != 0;
    n->params = p;
    return KILN_OK;
}

static const kiln_tensor *ccs_in(const kn_op_ctx *c, int i)
{
    return i < c->n_in ? c->in[i] : NULL;
}

static kiln_status ccs_bad(const kn_op_ctx *c, kiln_status code, const char *what)
{
    return kn_error(code, "node '%s' (CausalConvWithState): %s", c->node->name, what);
}

static kiln_status ccs_check(const kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0], *w = c->in[1], *bias = ccs_in(c, 2), *past = ccs_in(c, 3);
    if (x->rank != 3)
        return ccs_bad(c, KILN_ERROR_SHAPE, "input must be 3-D [batch, channels, length]");
    if (w->rank != 3 || w->dims[0] != x->dims[1] || w->dims[1] != 1 || w->dims[2] < 1)
        return ccs_bad(c, KILN_ERROR_SHAPE, "weight must be [channels, 1, kernel_size] with kernel_size >= 1");
    if (w->dtype != x->dtype)
        return ccs_bad(c, KILN_ERROR_DTYPE, "weight must have the input's element type");
    if (bias && (bias->dtype != x->dtype || bias->rank != 1 || bias->dims[0] != x->dims[1]))
        return ccs_bad(c, KILN_ERROR_SHAPE, "bias must be [channels] of the input's element type");
    if (past && (past->dtype != x->dtype || past->rank != 3 || past->dims[0] != x->dims[0] ||
                 past->dims[1] != x->dims[1] || past->dims[2] != w->dims[2] - 1))
        return ccs_bad(c, KILN_ERROR_SHAPE, "past_state must be [batch, channels, kernel_size - 1]");
    return KILN_OK;
}

static kiln_status ccs_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 4, 1, 2));
    KN_TRY(ccs_check(c));
    const kiln_tensor *x = c->in[0];
    KN_TRY(kn_set_output(c, 0, x->dtype, 3, x->dims));
    if (c->n_out > 1 && c->out[1])
        KN_TRY(kn_set_output(c, 1, x->dtype, 3, (int64_t[]){x->dims[0], x->dims[1], c->in[1]->dims[2] - 1}));
    return KILN_OK;
}

static kiln_status ccs_prepare(kn_op_ctx *c)
{
    /* One channel's padded sequence: K-1+L values. */
    size_t n;
    if (!kn_add_size((size_t)c->in[0]->dims[2], (size_t)(c->in[1]->dims[2] - 1), &n) ||
        !kn_mul_size(n, sizeof(double), &c->scratch_size))
        return ccs_bad(c, KILN_ERROR_SHAPE, "sequence too long");
    return KILN_OK;
}

static kiln_status ccs_run(kn_op_ctx *c)
{
    const ccs_params *p = c->params;
    KN_TRY(ccs_check(c));
    const kiln_tensor *x = c->in[0], *w = c->in[1], *bias = ccs_in(c, 2), *past = ccs_in(c, 3);
    kiln_tensor *y = c->out[0], *present = c->n_out > 1 ? c->out[1] : NULL;
    int64_t B = x->dims[0], C = x->dims[1], L = x->dims[2], K = w->dims[2];
    bool f64 = x->dtype == KILN_DTYPE_DOUBLE;
    double *pad = c->scratch;
    for (int64_t b = 0; b < B; b++)
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t bc = b * C + ch;
            for (int64_t k = 0; k < K - 1; k++)
                pad[k] = past ? kn_tensor_get_f64(past, bc * (K - 1) + k) : 0.0;
            for (int64_t t = 0; t < L; t++)
                pad[K - 1 + t] = kn_tensor_get_f64(x, bc * L + t);
            double bv = bias ? kn_tensor_get_f64(bias, ch) : 0.0;
            for (int64_t t = 0; t < L; t++) {
                double acc;
                if (f64) {
                    acc = 0.0;
                    for (int64_t k = 0; k < K; k++)
                        acc += kn_tensor_get_f64(w, ch * K + k) * pad[t + k];
                    acc += bv;
                    if (p->silu)
                        acc = acc / (1.0 + exp(-acc));
                } else {
                    float a = 0.0f;
                    for (int64_t k = 0; k < K; k++)
                        a += (float)kn_tensor_get_f64(w, ch * K + k) * (float)pad[t + k];
                    a += (float)bv;
                    /* The reference rounds the convolution to the input
                     * type before the activation. */
                    if (x->dtype == KILN_DTYPE_FLOAT16)
                        a = kn_half_to_float(kn_float_to_half(a));
                    else if (x->dtype == KILN_DTYPE_BFLOAT16)
                        a = kn_bf16_to_float(kn_float_to_bf16(a));
                    if (p->silu)
                        a = a / (1.0f + expf(-a));
                    acc = a;
                }
                kn_tensor_set_f64(y, bc * L + t, acc);
            }
            if (present)
                for (int64_t k = 0; k < K - 1; k++)
                    kn_tensor_set_f64(present, bc * (K - 1) + k, pad[L + k]);
        }
    return KILN_OK;
}

const kn_op kn_ops_causal_conv[] = {
    {.domain = "", .name = "CausalConvWithState", .since_min = 27, .since_max = 0, .parse = ccs_parse,
     .infer = ccs_infer, .prepare = ccs_prepare, .run = ccs_run, .types = kn_types_float, .type_input = 0},
};
KN_FAMILY_COUNT(causal_conv);
