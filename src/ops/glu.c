/* Gated linear units: SwiGLU (opset 28), y = Swish(a, alpha) * b with
 * Swish(a) = a * sigmoid(alpha * a), alpha default 1. The spec defines it
 * by that function body (Swish then Mul), so a and b broadcast like Mul's
 * operands. One fused pass: the gate is never materialized. float16 and
 * bfloat16 compute in float32. */
#include "ops/elementwise.h"
#include "ops/families.h"

#include <tgmath.h>

typedef struct glu_params {
    float alpha;
} glu_params;

static kiln_status glu_parse(kn_node *n)
{
    glu_params *p = kn_malloc(sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_float(n, "alpha", 1.0f, &p->alpha);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status glu_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    KN_TRY(kn_check_dtype(c, 0, kn_types_float));
    const kiln_tensor *a = c->in[0], *b = c->in[1];
    if (b->dtype != a->dtype)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): b has dtype %s but a has %s", c->node->name,
                        c->node->op_type, kiln_dtype_name(b->dtype), kiln_dtype_name(a->dtype));
    int rank;
    int64_t dims[KN_MAX_RANK];
    KN_TRY(kn_broadcast_shape(c, a->rank, a->dims, b->rank, b->dims, &rank, dims));
    return kn_set_output(c, 0, a->dtype, rank, dims);
}

#define ID(v) (v)
/* sigmoid in the form that cannot overflow exp */
#define SIG(z) ((z) >= 0 ? (CT)1 / ((CT)1 + exp(-(z))) : exp(z) / ((CT)1 + exp(z)))

#define SWIGLU_FN(SUF, T, CT_, LOAD, STORE)                                                            \
    static void swiglu_##SUF(void *out_, const void *const *in_, const int64_t *st_, int64_t n_,       \
                             const void *ctx_)                                                         \
    {                                                                                                  \
        typedef CT_ CT;                                                                                \
        const CT alpha = (CT)((const glu_params *)ctx_)->alpha;                                        \
        const T *a_ = in_[0], *b_ = in_[1];                                                            \
        T *o_ = out_;                                                                                  \
        for (int64_t i_ = 0; i_ < n_; i_++) {                                                          \
            CT a = (CT)LOAD(a_[i_ * st_[0]]), b = (CT)LOAD(b_[i_ * st_[1]]);                           \
            o_[i_] = STORE(a * SIG(alpha * a) * b);                                                    \
        }                                                                                              \
    }
SWIGLU_FN(f32, float, float, ID, ID)
SWIGLU_FN(f64, double, double, ID, ID)
SWIGLU_FN(f16, uint16_t, float, kn_half_to_float, kn_float_to_half)
SWIGLU_FN(bf16, uint16_t, float, kn_bf16_to_float, kn_float_to_bf16)

static kiln_status glu_run(kn_op_ctx *c)
{
    const kiln_tensor *a = c->in[0], *b = c->in[1];
    kiln_tensor *y = c->out[0];
    kn_ew_row_fn fn;
    switch (y->dtype) {
    case KILN_DTYPE_FLOAT: fn = swiglu_f32; break;
    case KILN_DTYPE_DOUBLE: fn = swiglu_f64; break;
    case KILN_DTYPE_FLOAT16: fn = swiglu_f16; break;
    default: fn = swiglu_bf16; break;
    }
    size_t es = kiln_dtype_size(y->dtype);
    kn_ew_operand ops[2] = {{a->data, es, a->rank, a->dims}, {b->data, es, b->rank, b->dims}};
    kn_ew_broadcast(2, ops, y->data, es, y->rank, y->dims, fn, c->params, c->pool);
    return KILN_OK;
}

const kn_op kn_ops_glu[] = {
    {.domain = "", .name = "SwiGLU", .since_min = 28, .parse = glu_parse, .infer = glu_infer, .run = glu_run,
     .types = kn_types_float},
};
KN_FAMILY_COUNT(glu);
