/* Unary elementwise ops: activations, math functions, predicates, Clip.
 *
 * Each op is a formula over x (of compute type CT) and its parsed attributes
 * p, instantiated by macro per dtype: float32/float64 compute in their own
 * precision (tgmath picks expf vs exp), float16/bfloat16 compute in float32.
 * Integer variants exist where the spec allows them (Neg, Abs, Sign, Relu,
 * Clip). A dtype without a kernel is refused in infer. */
#include "ops/elementwise.h"
#include "ops/families.h"

#include <float.h>
#include <string.h>
#include <tgmath.h>

struct unary_def;

typedef struct unary_params {
    const struct unary_def *def;
    float a, b; /* op-specific float attributes (alpha/beta, alpha/gamma, bias/lambd) */
    int i0, i1; /* op-specific flags (Gelu tanh, IsInf detect_negative/positive) */
} unary_params;

typedef struct unary_def {
    const char *name;
    kiln_status (*parse)(const kn_node *n, unary_params *p); /* optional */
    bool out_bool;
    kn_ew_row_fn k[KN_EW_DTYPES]; /* by input dtype */
} unary_def;

/* ---- kernel generation ------------------------------------------------- */

#define ID(v) (v)
#define BOOL_STORE(v) ((uint8_t)((v) != 0))

#define UNARY_FN(NAME, SUF, T_IN, CT_, T_OUT, LOAD, STORE, EXPR)                                        \
    static void NAME##_##SUF(void *out_, const void *const *in_, const int64_t *st_, int64_t n_,        \
                             const void *ctx_)                                                          \
    {                                                                                                   \
        typedef CT_ CT;                                                                                 \
        const unary_params *p = ctx_;                                                                   \
        const T_IN *a_ = in_[0];                                                                        \
        T_OUT *o_ = out_;                                                                               \
        (void)p;                                                                                        \
        (void)st_;                                                                                      \
        for (int64_t i_ = 0; i_ < n_; i_++) {                                                           \
            CT x = (CT)LOAD(a_[i_]);                                                                    \
            o_[i_] = STORE(EXPR);                                                                       \
        }                                                                                               \
    }

#define UNARY_FLOAT(NAME, EXPR)                                                                 \
    UNARY_FN(NAME, f32, float, float, float, ID, ID, EXPR)                                      \
    UNARY_FN(NAME, f64, double, double, double, ID, ID, EXPR)                                   \
    UNARY_FN(NAME, f16, uint16_t, float, uint16_t, kn_half_to_float, kn_float_to_half, EXPR)    \
    UNARY_FN(NAME, bf16, uint16_t, float, uint16_t, kn_bf16_to_float, kn_float_to_bf16, EXPR)

#define UNARY_FLOAT_PRED(NAME, EXPR)                                                \
    UNARY_FN(NAME, f32, float, float, uint8_t, ID, BOOL_STORE, EXPR)                \
    UNARY_FN(NAME, f64, double, double, uint8_t, ID, BOOL_STORE, EXPR)              \
    UNARY_FN(NAME, f16, uint16_t, float, uint8_t, kn_half_to_float, BOOL_STORE, EXPR) \
    UNARY_FN(NAME, bf16, uint16_t, float, uint8_t, kn_bf16_to_float, BOOL_STORE, EXPR)

#define UNARY_SIGNED(NAME, EXPR)                                     \
    UNARY_FN(NAME, i8, int8_t, int8_t, int8_t, ID, ID, EXPR)         \
    UNARY_FN(NAME, i16, int16_t, int16_t, int16_t, ID, ID, EXPR)     \
    UNARY_FN(NAME, i32, int32_t, int32_t, int32_t, ID, ID, EXPR)     \
    UNARY_FN(NAME, i64, int64_t, int64_t, int64_t, ID, ID, EXPR)

#define UNARY_UNSIGNED(NAME, EXPR)                                   \
    UNARY_FN(NAME, u8, uint8_t, uint8_t, uint8_t, ID, ID, EXPR)      \
    UNARY_FN(NAME, u16, uint16_t, uint16_t, uint16_t, ID, ID, EXPR)  \
    UNARY_FN(NAME, u32, uint32_t, uint32_t, uint32_t, ID, ID, EXPR)  \
    UNARY_FN(NAME, u64, uint64_t, uint64_t, uint64_t, ID, ID, EXPR)

#define K_FLOAT(NAME)                                                                                   \
    [KILN_DTYPE_FLOAT] = NAME##_f32, [KILN_DTYPE_DOUBLE] = NAME##_f64, [KILN_DTYPE_FLOAT16] = NAME##_f16, \
    [KILN_DTYPE_BFLOAT16] = NAME##_bf16
#define K_SIGNED(NAME)                                                                                  \
    [KILN_DTYPE_INT8] = NAME##_i8, [KILN_DTYPE_INT16] = NAME##_i16, [KILN_DTYPE_INT32] = NAME##_i32,    \
    [KILN_DTYPE_INT64] = NAME##_i64
#define K_UNSIGNED(NAME)                                                                                \
    [KILN_DTYPE_UINT8] = NAME##_u8, [KILN_DTYPE_UINT16] = NAME##_u16, [KILN_DTYPE_UINT32] = NAME##_u32, \
    [KILN_DTYPE_UINT64] = NAME##_u64

/* Clamp to [0, 1] keeping NaN (fmin/fmax would turn NaN into a bound). */
static inline float clamp01f(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }
static inline double clamp01d(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }
#define CLAMP01(v) _Generic((v), double: clamp01d, default: clamp01f)(v)

/* log(1 + e^x) without overflow for large x. */
#define SOFTPLUS(v) ((v) > 0 ? (v) + log1p(exp(-(v))) : log1p(exp(v)))

/* Wrapping negation: C's -x overflows (undefined) for the most negative
 * value; ONNX runtimes wrap, so negate in unsigned arithmetic. */
#define INT_NEG(v) ((CT)(0u - (uint64_t)(v)))

UNARY_FLOAT(relu, x < 0 ? (CT)0 : x)
UNARY_SIGNED(relu, x < 0 ? (CT)0 : x)
UNARY_FLOAT(leaky, x < 0 ? x * (CT)p->a : x)
UNARY_FLOAT(sigmoid, x >= 0 ? (CT)1 / ((CT)1 + exp(-x)) : exp(x) / ((CT)1 + exp(x)))
UNARY_FLOAT(hsigmoid, CLAMP01((CT)p->a * x + (CT)p->b))
UNARY_FLOAT(hswish, x * CLAMP01(x * (CT)(1.0 / 6.0) + (CT)0.5))
UNARY_FLOAT(tanh_, tanh(x))
UNARY_FLOAT(sqrt_, sqrt(x))
UNARY_FLOAT(exp_, exp(x))
UNARY_FLOAT(log_, log(x))
UNARY_FLOAT(neg, -x)
UNARY_SIGNED(neg, INT_NEG(x))
UNARY_FLOAT(abs_, fabs(x))
UNARY_SIGNED(abs_, x < 0 ? INT_NEG(x) : x)
UNARY_UNSIGNED(abs_, x)
UNARY_FLOAT(recip, (CT)1 / x)
UNARY_FLOAT(erf_, erf(x))
UNARY_FLOAT(gelu, p->i0 ? (CT)0.5 * x * ((CT)1 + tanh((CT)0.7978845608028654 * (x + (CT)0.044715 * x * x * x)))
                        : (CT)0.5 * x * ((CT)1 + erf(x * (CT)0.7071067811865476)))
UNARY_FLOAT(elu, x < 0 ? (CT)p->a * expm1(x) : x)
UNARY_FLOAT(selu, x <= 0 ? (CT)p->b * ((CT)p->a * expm1(x)) : (CT)p->b * x)
UNARY_FLOAT(softplus, SOFTPLUS(x))
UNARY_FLOAT(softsign, x / ((CT)1 + fabs(x)))
UNARY_FLOAT(floor_, floor(x))
UNARY_FLOAT(ceil_, ceil(x))
/* nearbyint rounds half to even in the default rounding mode, as ONNX asks. */
UNARY_FLOAT(round_, nearbyint(x))
UNARY_FLOAT(sign, x > 0 ? (CT)1 : (x < 0 ? (CT)-1 : x))
UNARY_SIGNED(sign, (CT)((x > 0) - (x < 0)))
UNARY_UNSIGNED(sign, (CT)(x > 0))
UNARY_FLOAT(sin_, sin(x))
UNARY_FLOAT(cos_, cos(x))
UNARY_FLOAT(tan_, tan(x))
UNARY_FLOAT(asin_, asin(x))
UNARY_FLOAT(acos_, acos(x))
UNARY_FLOAT(atan_, atan(x))
UNARY_FLOAT(sinh_, sinh(x))
UNARY_FLOAT(cosh_, cosh(x))
UNARY_FLOAT(asinh_, asinh(x))
UNARY_FLOAT(acosh_, acosh(x))
UNARY_FLOAT(atanh_, atanh(x))
UNARY_FLOAT_PRED(isnan_, isnan(x))
UNARY_FLOAT_PRED(isinf_, isinf(x) && ((x < 0 && p->i0) || (x > 0 && p->i1)))
UNARY_FN(not_, b, uint8_t, uint8_t, uint8_t, ID, ID, (CT)!x)
UNARY_FLOAT(mish, x * tanh(SOFTPLUS(x)))
UNARY_FLOAT(threlu, x > (CT)p->a ? x : (CT)0)
UNARY_FLOAT(celu, x > 0 ? x : (CT)p->a * expm1(x / (CT)p->a))
UNARY_FLOAT(shrink, x < -(CT)p->b ? x + (CT)p->a : (x > (CT)p->b ? x - (CT)p->a : (CT)0))
/* x * sigmoid(alpha * x), the sigmoid in the form that cannot overflow */
#define SWISH_SIG(z) ((z) >= 0 ? (CT)1 / ((CT)1 + exp(-(z))) : exp(z) / ((CT)1 + exp(z)))
UNARY_FLOAT(swish, x * SWISH_SIG((CT)p->a * x))
UNARY_SIGNED(bnot, (CT)~x)
UNARY_UNSIGNED(bnot, (CT)~x)

/* ---- attribute parsing ------------------------------------------------- */

static kiln_status two_floats(const kn_node *n, unary_params *p, const char *na, float da, const char *nb, float db)
{
    KN_TRY(kn_attr_get_float(n, na, da, &p->a));
    if (nb)
        KN_TRY(kn_attr_get_float(n, nb, db, &p->b));
    return KILN_OK;
}

static kiln_status parse_leaky(const kn_node *n, unary_params *p) { return two_floats(n, p, "alpha", 0.01f, NULL, 0); }
static kiln_status parse_alpha1(const kn_node *n, unary_params *p) { return two_floats(n, p, "alpha", 1.0f, NULL, 0); }
static kiln_status parse_hsigmoid(const kn_node *n, unary_params *p)
{
    return two_floats(n, p, "alpha", 0.2f, "beta", 0.5f);
}
static kiln_status parse_selu(const kn_node *n, unary_params *p)
{
    return two_floats(n, p, "alpha", 1.67326319217681884765625f, "gamma", 1.05070102214813232421875f);
}
static kiln_status parse_shrink(const kn_node *n, unary_params *p)
{
    return two_floats(n, p, "bias", 0.0f, "lambd", 0.5f);
}

static kiln_status parse_gelu(const kn_node *n, unary_params *p)
{
    const char *mode;
    KN_TRY(kn_attr_get_string(n, "approximate", "none", &mode));
    if (strcmp(mode, "none") == 0)
        p->i0 = 0;
    else if (strcmp(mode, "tanh") == 0)
        p->i0 = 1;
    else
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (Gelu): approximate='%s' is not supported (none|tanh)",
                        n->name, mode);
    return KILN_OK;
}

static kiln_status parse_isinf(const kn_node *n, unary_params *p)
{
    int64_t neg, pos;
    KN_TRY(kn_attr_get_int(n, "detect_negative", 1, &neg));
    KN_TRY(kn_attr_get_int(n, "detect_positive", 1, &pos));
    p->i0 = neg != 0;
    p->i1 = pos != 0;
    return KILN_OK;
}

/* ---- op table ---------------------------------------------------------- */

static const unary_def defs[] = {
    {"Relu", NULL, false, {K_FLOAT(relu), K_SIGNED(relu)}},
    {"LeakyRelu", parse_leaky, false, {K_FLOAT(leaky)}},
    {"Sigmoid", NULL, false, {K_FLOAT(sigmoid)}},
    {"HardSigmoid", parse_hsigmoid, false, {K_FLOAT(hsigmoid)}},
    {"HardSwish", NULL, false, {K_FLOAT(hswish)}},
    {"Tanh", NULL, false, {K_FLOAT(tanh_)}},
    {"Sqrt", NULL, false, {K_FLOAT(sqrt_)}},
    {"Exp", NULL, false, {K_FLOAT(exp_)}},
    {"Log", NULL, false, {K_FLOAT(log_)}},
    {"Neg", NULL, false, {K_FLOAT(neg), K_SIGNED(neg)}},
    {"Abs", NULL, false, {K_FLOAT(abs_), K_SIGNED(abs_), K_UNSIGNED(abs_)}},
    {"Reciprocal", NULL, false, {K_FLOAT(recip)}},
    {"Erf", NULL, false, {K_FLOAT(erf_)}},
    {"Gelu", parse_gelu, false, {K_FLOAT(gelu)}},
    {"Elu", parse_alpha1, false, {K_FLOAT(elu)}},
    {"Selu", parse_selu, false, {K_FLOAT(selu)}},
    {"Softplus", NULL, false, {K_FLOAT(softplus)}},
    {"Softsign", NULL, false, {K_FLOAT(softsign)}},
    {"Floor", NULL, false, {K_FLOAT(floor_)}},
    {"Ceil", NULL, false, {K_FLOAT(ceil_)}},
    {"Round", NULL, false, {K_FLOAT(round_)}},
    {"Sign", NULL, false, {K_FLOAT(sign), K_SIGNED(sign), K_UNSIGNED(sign)}},
    {"Sin", NULL, false, {K_FLOAT(sin_)}},
    {"Cos", NULL, false, {K_FLOAT(cos_)}},
    {"Tan", NULL, false, {K_FLOAT(tan_)}},
    {"Asin", NULL, false, {K_FLOAT(asin_)}},
    {"Acos", NULL, false, {K_FLOAT(acos_)}},
    {"Atan", NULL, false, {K_FLOAT(atan_)}},
    {"Sinh", NULL, false, {K_FLOAT(sinh_)}},
    {"Cosh", NULL, false, {K_FLOAT(cosh_)}},
    {"Asinh", NULL, false, {K_FLOAT(asinh_)}},
    {"Acosh", NULL, false, {K_FLOAT(acosh_)}},
    {"Atanh", NULL, false, {K_FLOAT(atanh_)}},
    {"IsNaN", NULL, true, {K_FLOAT(isnan_)}},
    {"IsInf", parse_isinf, true, {K_FLOAT(isinf_)}},
    {"Not", NULL, false, {[KILN_DTYPE_BOOL] = not__b}},
    {"Mish", NULL, false, {K_FLOAT(mish)}},
    {"ThresholdedRelu", parse_alpha1, false, {K_FLOAT(threlu)}},
    {"Celu", parse_alpha1, false, {K_FLOAT(celu)}},
    {"Shrink", parse_shrink, false, {K_FLOAT(shrink)}},
    {"Swish", parse_alpha1, false, {K_FLOAT(swish)}},
    {"BitwiseNot", NULL, false, {K_SIGNED(bnot), K_UNSIGNED(bnot)}},
};

static const unary_def *find_def(const char *op_type)
{
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (strcmp(defs[i].name, op_type) == 0)
            return &defs[i];
    return NULL;
}

/* ---- hooks -------------------------------------------------------------- */

static kiln_status unary_parse(kn_node *n)
{
    const unary_def *def = find_def(n->op_type);
    if (!def)
        return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): no unary definition", n->name, n->op_type);
    unary_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->def = def;
    if (def->parse) {
        kiln_status s = def->parse(n, p);
        if (s != KILN_OK) {
            kn_free(p);
            return s;
        }
    }
    n->params = p;
    return KILN_OK;
}

static kn_ew_row_fn kernel_for(const unary_def *def, kiln_dtype dt)
{
    return (unsigned)dt < KN_EW_DTYPES ? def->k[dt] : NULL;
}

/* A dtype the op could never take (strings, bool into math) is a model
 * error; a numeric dtype the spec may allow but kiln lacks is unsupported. */
static kiln_status dtype_refused(const kn_op_ctx *c, int input, kiln_dtype dt, bool numeric_op)
{
    bool numeric = kn_ew_is_float(dt) || kn_ew_is_int(dt);
    kiln_status code = numeric_op && numeric ? KILN_ERROR_UNSUPPORTED : KILN_ERROR_DTYPE;
    return kn_error(code, "node '%s' (%s): input %d has dtype %s, which kiln does not support for this op",
                    c->node->name, c->node->op_type, input, kiln_dtype_name(dt));
}

static kiln_status unary_infer(kn_op_ctx *c)
{
    const unary_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    if (!kernel_for(p->def, x->dtype))
        return dtype_refused(c, 0, x->dtype, p->def->k[KILN_DTYPE_FLOAT] != NULL);
    kiln_dtype out = p->def->out_bool ? KILN_DTYPE_BOOL : x->dtype;
    return kn_set_output(c, 0, out, x->rank, x->dims);
}

static kiln_status unary_run(kn_op_ctx *c)
{
    const unary_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    kn_ew_map(x->data, kiln_dtype_size(x->dtype), y->data, kiln_dtype_size(y->dtype), kn_tensor_count(x),
              kernel_for(p->def, x->dtype), p, c->pool);
    return KILN_OK;
}

/* ---- Clip ----------------------------------------------------------------
 * Opset 11 turned the min/max attributes into optional inputs; the old form
 * is rewritten at load. Bounds are read at run time (they may be computed)
 * and converted to X's dtype: the upgrade creates float32 bounds whatever
 * X's float type is. min > max yields max everywhere, as the spec says. */

typedef struct clip_ctx {
    bool has_lo, has_hi;
    double flo, fhi;
    int64_t ilo, ihi;
    uint64_t ulo, uhi;
} clip_ctx;

#define CLIP_FN(SUF, T, CT_, LOAD, STORE, LO, HI)                                                      \
    static void clip_##SUF(void *out_, const void *const *in_, const int64_t *st_, int64_t n_,         \
                           const void *ctx_)                                                           \
    {                                                                                                  \
        typedef CT_ CT;                                                                                \
        const clip_ctx *q = ctx_;                                                                      \
        const T *a_ = in_[0];                                                                          \
        T *o_ = out_;                                                                                  \
        CT lo = (CT)q->LO, hi = (CT)q->HI;                                                             \
        (void)st_;                                                                                     \
        for (int64_t i_ = 0; i_ < n_; i_++) {                                                          \
            CT x = (CT)LOAD(a_[i_]);                                                                   \
            if (q->has_lo && x < lo)                                                                   \
                x = lo;                                                                                \
            if (q->has_hi && x > hi)                                                                   \
                x = hi;                                                                                \
            o_[i_] = STORE(x);                                                                         \
        }                                                                                              \
    }

CLIP_FN(f32, float, float, ID, ID, flo, fhi)
CLIP_FN(f64, double, double, ID, ID, flo, fhi)
CLIP_FN(f16, uint16_t, float, kn_half_to_float, kn_float_to_half, flo, fhi)
CLIP_FN(bf16, uint16_t, float, kn_bf16_to_float, kn_float_to_bf16, flo, fhi)
CLIP_FN(i8, int8_t, int8_t, ID, ID, ilo, ihi)
CLIP_FN(i16, int16_t, int16_t, ID, ID, ilo, ihi)
CLIP_FN(i32, int32_t, int32_t, ID, ID, ilo, ihi)
CLIP_FN(i64, int64_t, int64_t, ID, ID, ilo, ihi)
CLIP_FN(u8, uint8_t, uint8_t, ID, ID, ulo, uhi)
CLIP_FN(u16, uint16_t, uint16_t, ID, ID, ulo, uhi)
CLIP_FN(u32, uint32_t, uint32_t, ID, ID, ulo, uhi)
CLIP_FN(u64, uint64_t, uint64_t, ID, ID, ulo, uhi)

static const kn_ew_row_fn clip_k[KN_EW_DTYPES] = {K_FLOAT(clip), K_SIGNED(clip), K_UNSIGNED(clip)};

static kiln_status clip_upgrade(kn_graph *g, int ni)
{
    kn_node *n = &g->nodes[ni];
    const bool has_lo = kn_node_attr(n, "min") != NULL, has_hi = kn_node_attr(n, "max") != NULL;
    float bound[2];
    KN_TRY(kn_attr_get_float(n, "min", -FLT_MAX, &bound[0]));
    KN_TRY(kn_attr_get_float(n, "max", FLT_MAX, &bound[1]));
    int in[3] = {n->n_in > 0 ? n->in[0] : -1, -1, -1};
    const bool present[2] = {has_lo, has_hi};
    static const char *const hint[2] = {"clip_min", "clip_max"};
    for (int k = 0; k < 2; k++) {
        if (!present[k])
            continue;
        kiln_tensor *t = NULL;
        KN_TRY(kn_tensor_new(KILN_DTYPE_FLOAT, 0, NULL, &t));
        *(float *)t->data = bound[k];
        KN_TRY(kn_graph_add_constant(g, hint[k], t, &in[1 + k]));
    }
    n = &g->nodes[ni];
    KN_TRY(kn_node_set_inputs(n, has_hi ? 3 : (has_lo ? 2 : 1), in));
    kn_node_remove_attr(n, "min");
    kn_node_remove_attr(n, "max");
    n->opset = 11;
    return KILN_OK;
}

static kiln_status clip_check_bound(const kn_op_ctx *c, int i)
{
    const kiln_tensor *t = i < c->n_in ? c->in[i] : NULL;
    if (!t)
        return KILN_OK;
    if (!kn_ew_is_float(t->dtype) && !kn_ew_is_int(t->dtype))
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (Clip): %s has dtype %s", c->node->name,
                        i == 1 ? "min" : "max", kiln_dtype_name(t->dtype));
    if (kn_tensor_count(t) != 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (Clip): %s must be a scalar, has %lld elements",
                        c->node->name, i == 1 ? "min" : "max", (long long)kn_tensor_count(t));
    return KILN_OK;
}

static kiln_status clip_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 3, 1, 1));
    const kiln_tensor *x = c->in[0];
    if ((unsigned)x->dtype >= KN_EW_DTYPES || !clip_k[x->dtype])
        return dtype_refused(c, 0, x->dtype, true);
    KN_TRY(clip_check_bound(c, 1));
    KN_TRY(clip_check_bound(c, 2));
    return kn_set_output(c, 0, x->dtype, x->rank, x->dims);
}

static void clip_read_bound(const kiln_tensor *t, bool is_lo, bool *has, double *f, int64_t *i, uint64_t *u)
{
    *has = t != NULL;
    if (!t)
        return;
    *f = kn_tensor_get_f64(t, 0);
    if (kn_ew_is_float(t->dtype) && *f != *f) {
        /* a NaN bound on an integer X bounds nothing (found by fuzzing:
         * converting NaN to an integer is undefined behaviour) */
        *i = is_lo ? INT64_MIN : INT64_MAX;
        *u = is_lo ? 0 : UINT64_MAX;
    } else if (kn_ew_is_float(t->dtype)) {
        /* float bounds on an integer X: clamp to what int64 can hold */
        *i = *f <= -9.2e18 ? INT64_MIN : (*f >= 9.2e18 ? INT64_MAX : (int64_t)*f);
        *u = *f <= 0 ? 0 : (*f >= 1.8e19 ? UINT64_MAX : (uint64_t)*f);
    } else if (t->dtype == KILN_DTYPE_UINT64) {
        *u = ((const uint64_t *)t->data)[0];
        *i = *u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)*u;
    } else {
        *i = kn_tensor_get_i64(t, 0);
        *u = *i < 0 ? 0 : (uint64_t)*i;
    }
}

static kiln_status clip_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    clip_ctx q = {0};
    clip_read_bound(c->n_in > 1 ? c->in[1] : NULL, true, &q.has_lo, &q.flo, &q.ilo, &q.ulo);
    clip_read_bound(c->n_in > 2 ? c->in[2] : NULL, false, &q.has_hi, &q.fhi, &q.ihi, &q.uhi);
    size_t es = kiln_dtype_size(x->dtype);
    kn_ew_map(x->data, es, c->out[0]->data, es, kn_tensor_count(x), clip_k[x->dtype], &q, c->pool);
    return KILN_OK;
}

/* ---- descriptors -------------------------------------------------------- */

/* TYPES must list exactly the dtypes the op's kernel table (defs) fills. */
#define U(NAME, SINCE, TYPES)                                                                              \
    {.domain = "", .name = NAME, .since_min = SINCE, .parse = unary_parse, .infer = unary_infer, .run = unary_run, \
     .types = TYPES}

const kn_op kn_ops_unary[] = {
    U("Relu", 6, kn_types_signed),
    U("LeakyRelu", 6, kn_types_float),
    U("Sigmoid", 6, kn_types_float),
    U("HardSigmoid", 6, kn_types_float),
    U("HardSwish", 14, kn_types_float),
    U("Tanh", 6, kn_types_float),
    U("Sqrt", 6, kn_types_float),
    U("Exp", 6, kn_types_float),
    U("Log", 6, kn_types_float),
    U("Neg", 6, kn_types_signed),
    U("Abs", 6, kn_types_numeric),
    U("Reciprocal", 6, kn_types_float),
    U("Erf", 9, kn_types_float),
    U("Gelu", 20, kn_types_float),
    U("Elu", 6, kn_types_float),
    U("Selu", 6, kn_types_float),
    U("Softplus", 1, kn_types_float),
    U("Softsign", 1, kn_types_float),
    U("Floor", 6, kn_types_float),
    U("Ceil", 6, kn_types_float),
    U("Round", 11, kn_types_float),
    U("Sign", 9, kn_types_numeric),
    U("Sin", 7, kn_types_float),
    U("Cos", 7, kn_types_float),
    U("Tan", 7, kn_types_float),
    U("Asin", 7, kn_types_float),
    U("Acos", 7, kn_types_float),
    U("Atan", 7, kn_types_float),
    U("Sinh", 9, kn_types_float),
    U("Cosh", 9, kn_types_float),
    U("Asinh", 9, kn_types_float),
    U("Acosh", 9, kn_types_float),
    U("Atanh", 9, kn_types_float),
    U("IsNaN", 9, kn_types_float),
    U("IsInf", 10, kn_types_float),
    U("Not", 1, kn_types_bool),
    U("Mish", 18, kn_types_float),
    U("ThresholdedRelu", 10, kn_types_float),
    U("Celu", 12, kn_types_float),
    U("Shrink", 9, kn_types_float),
    U("Swish", 24, kn_types_float),
    U("BitwiseNot", 18, kn_types_int),
    {.domain = "", .name = "Clip", .since_min = 6, .since_max = 10, .upgrade = clip_upgrade},
    {.domain = "", .name = "Clip", .since_min = 11, .infer = clip_infer, .run = clip_run, .types = kn_types_numeric},
};
KN_FAMILY_COUNT(unary);
