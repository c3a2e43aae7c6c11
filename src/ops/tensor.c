/* Ops that make or convert whole tensors: Constant, ConstantOfShape, Cast,
 * CastLike, Pad. */
#include "core/dtype_small.h"
#include "ops/cast_string.h"
#include "ops/families.h"

#include <math.h>
#include <string.h>

#define OP_FMT "node '%s' (%s): "
#define OP_ARGS(n) (n)->name, (n)->op_type

/* Dtypes every op here can hold as plain fixed-size elements: those of
 * kn_types_plain, which the descriptors list for input 0. */
static bool plain_dtype(kiln_dtype dt)
{
    return kn_dtype_known(dt) && dt != KILN_DTYPE_STRING && dt != KILN_DTYPE_COMPLEX64 &&
           dt != KILN_DTYPE_COMPLEX128;
}

static kiln_status require_plain_input(const kn_op_ctx *c, int i)
{
    const kiln_tensor *t = c->in[i];
    if (t && !plain_dtype(t->dtype))
        return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "input %d has dtype %s, which kiln does not support here",
                        OP_ARGS(c->node), i, kiln_dtype_name(t->dtype));
    return KILN_OK;
}

/* ======================================================================
 * Constant
 * ==================================================================== */

typedef struct constant_params {
    kiln_tensor *value;
} constant_params;

static void constant_free(void *p)
{
    constant_params *cp = p;
    if (!cp)
        return;
    kn_tensor_free(cp->value);
    kn_free(cp);
}

/* The value_* attributes (opset 12) become a tensor like `value` would be. */
static kiln_status constant_from_attr(const kn_node *n, const kn_attr *a, kiln_tensor **out)
{
    int64_t len = (int64_t)a->count;
    switch (a->type) {
    case KN_ATTR_TENSOR:
        if (!a->t)
            return kn_error(KILN_ERROR_MODEL, OP_FMT "attribute 'value' holds no tensor", OP_ARGS(n));
        if (!plain_dtype(a->t->dtype) && a->t->dtype != KILN_DTYPE_STRING)
            return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "constant of dtype %s is not supported", OP_ARGS(n),
                            kiln_dtype_name(a->t->dtype));
        return kn_tensor_clone(a->t, out);
    case KN_ATTR_STRING:
    case KN_ATTR_STRINGS: {
        bool one = a->type == KN_ATTR_STRING;
        KN_TRY(kn_tensor_new(KILN_DTYPE_STRING, one ? 0 : 1, &len, out));
        char **d = (*out)->data;
        for (size_t i = 0; i < (one ? 1 : a->count); i++) {
            const char *s = one ? a->s : a->strings[i];
            if (!(d[i] = kn_strdup(s ? s : ""))) {
                kn_tensor_free(*out); /* frees the copies made so far */
                *out = NULL;
                return KN_NOMEM();
            }
        }
        return KILN_OK;
    }
    case KN_ATTR_FLOAT:
        KN_TRY(kn_tensor_new(KILN_DTYPE_FLOAT, 0, NULL, out));
        *(float *)(*out)->data = a->f;
        return KILN_OK;
    case KN_ATTR_INT:
        KN_TRY(kn_tensor_new(KILN_DTYPE_INT64, 0, NULL, out));
        *(int64_t *)(*out)->data = a->i;
        return KILN_OK;
    case KN_ATTR_FLOATS:
        KN_TRY(kn_tensor_new(KILN_DTYPE_FLOAT, 1, &len, out));
        if (len)
            memcpy((*out)->data, a->floats, a->count * sizeof(float));
        return KILN_OK;
    case KN_ATTR_INTS:
        KN_TRY(kn_tensor_new(KILN_DTYPE_INT64, 1, &len, out));
        if (len)
            memcpy((*out)->data, a->ints, a->count * sizeof(int64_t));
        return KILN_OK;
    default:
        return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "attribute '%s' of this type is not supported", OP_ARGS(n),
                        a->name);
    }
}

static kiln_status constant_parse(kn_node *n)
{
    static const struct {
        const char *name;
        kn_attr_type type;
    } kinds[] = {{"value", KN_ATTR_TENSOR},        {"value_float", KN_ATTR_FLOAT},
                 {"value_floats", KN_ATTR_FLOATS}, {"value_int", KN_ATTR_INT},
                 {"value_ints", KN_ATTR_INTS},     {"value_string", KN_ATTR_STRING},
                 {"value_strings", KN_ATTR_STRINGS}, {"sparse_value", KN_ATTR_SPARSE_TENSOR}};
    const kn_attr *found = NULL;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const kn_attr *a = kn_node_attr(n, kinds[k].name);
        if (!a)
            continue;
        if (found)
            return kn_error(KILN_ERROR_MODEL, OP_FMT "has both '%s' and '%s'; exactly one value attribute is allowed",
                            OP_ARGS(n), found->name, a->name);
        if (a->type != kinds[k].type)
            return kn_error(KILN_ERROR_MODEL, OP_FMT "attribute '%s' has the wrong type", OP_ARGS(n), a->name);
        found = a;
    }
    if (!found)
        return kn_error(KILN_ERROR_MODEL, OP_FMT "has no value attribute", OP_ARGS(n));
    if (found->type == KN_ATTR_SPARSE_TENSOR)
        return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "attribute '%s' is not supported", OP_ARGS(n), found->name);
    constant_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = constant_from_attr(n, found, &p->value);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status constant_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 0, 0, 1, 1));
    const kiln_tensor *v = ((const constant_params *)c->params)->value;
    return kn_set_output(c, 0, v->dtype, v->rank, v->dims);
}

static kiln_status constant_run(kn_op_ctx *c)
{
    const kiln_tensor *v = ((const constant_params *)c->params)->value;
    if (v->nbytes)
        memcpy(c->out[0]->data, v->data, v->nbytes);
    return KILN_OK;
}

/* ======================================================================
 * ConstantOfShape
 * ==================================================================== */

static kiln_status cos_parse(kn_node *n)
{
    const kiln_tensor *v = NULL;
    KN_TRY(kn_attr_get_tensor(n, "value", &v));
    if (!v)
        return KILN_OK;
    if (!plain_dtype(v->dtype))
        return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "value of dtype %s is not supported", OP_ARGS(n),
                        kiln_dtype_name(v->dtype));
    if (kn_tensor_count(v) != 1)
        return kn_error(KILN_ERROR_MODEL, OP_FMT "attribute 'value' must hold exactly one element, has %lld",
                        OP_ARGS(n), (long long)kn_tensor_count(v));
    return KILN_OK;
}

static const kiln_tensor *cos_value(const kn_node *n)
{
    const kn_attr *a = kn_node_attr(n, "value");
    return a ? a->t : NULL;
}

static kiln_status cos_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *shape = c->in[0];
    if (shape->rank != 1)
        return kn_error(KILN_ERROR_SHAPE, OP_FMT "shape input must be 1-D, has rank %d", OP_ARGS(c->node),
                        shape->rank);
    int64_t dims[KN_MAX_RANK];
    size_t n = 0;
    if (shape->dims[0] > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "output rank %lld exceeds %d", OP_ARGS(c->node),
                        (long long)shape->dims[0], KN_MAX_RANK);
    KN_TRY(kn_input_ints(c, 0, dims, KN_MAX_RANK, &n));
    for (size_t i = 0; i < n; i++)
        if (dims[i] < 0)
            return kn_error(KILN_ERROR_SHAPE, OP_FMT "shape has negative dimension %lld", OP_ARGS(c->node),
                            (long long)dims[i]);
    const kiln_tensor *v = cos_value(c->node);
    return kn_set_output(c, 0, v ? v->dtype : KILN_DTYPE_FLOAT, (int)n, dims);
}

static kiln_status cos_run(kn_op_ctx *c)
{
    kiln_tensor *out = c->out[0];
    const kiln_tensor *v = cos_value(c->node);
    int64_t count = kn_tensor_count(out);
    if (!v) {
        memset(out->data, 0, out->nbytes);
        return KILN_OK;
    }
    size_t es = kiln_dtype_size(v->dtype);
    unsigned char *d = out->data;
    for (int64_t i = 0; i < count; i++)
        memcpy(d + (size_t)i * es, v->data, es);
    return KILN_OK;
}

/* ======================================================================
 * Cast, CastLike
 *
 * Every element goes through one of three carriers: double for floating
 * sources, int64 bits (plus an unsigned flag) for integer and bool sources.
 * Float to integer truncates toward zero like C, but NaN becomes 0 and values
 * beyond the target's range saturate to its limits, so nothing is undefined.
 * Integer to narrower integer wraps modulo 2^bits (two's complement), as
 * numpy and ONNX Runtime do. Anything to bool is "!= 0" (NaN is true).
 *
 * The narrow types (core/dtype_small.h): float8 / float4 sources decode
 * exactly; float8 targets round to nearest even and honour `saturate`,
 * float8e8m0 its `round_mode`; int4 / int2 targets round floats to nearest
 * even and then wrap like the other integers (the ONNX int4 / int2 rule).
 * ==================================================================== */

typedef struct cast_params {
    int64_t to;    /* Cast only; CastLike takes its target from input 1 */
    bool saturate; /* float8 targets */
    kn_e8m0_round round_mode;
} cast_params;

/* Conversions outside Cast (Pad's value) use ONNX's defaults. */
static const cast_params cast_defaults = {.to = 0, .saturate = true, .round_mode = KN_E8M0_UP};

static bool is_float_dtype(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 ||
           dt == KILN_DTYPE_BFLOAT16 || kn_dtype_is_small_float(dt);
}

/* double -> float rounding toward zero with the lowest bit set when inexact
 * ("round to odd"): a later rounding to float16/bfloat16 then gives the same
 * result as rounding the double directly, avoiding double rounding. */
static float double_to_float_odd(double v)
{
    float f = (float)v;
    if (isnan(v) || isinf(f) || (double)f == v)
        return f;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if (fabs((double)f) > fabs(v))
        bits--; /* step the magnitude down: truncation toward zero */
    bits |= 1;
    memcpy(&f, &bits, 4);
    return f;
}

static int64_t sat_i64(double v, double lo, double hi_excl, int64_t lo_i, int64_t hi_i)
{
    if (isnan(v))
        return 0;
    if (v <= lo)
        return lo_i;
    if (v >= hi_excl)
        return hi_i;
    return (int64_t)v;
}

static uint64_t sat_u64(double v, double hi_excl, uint64_t hi_u)
{
    if (isnan(v) || v <= 0.0)
        return 0;
    if (v >= hi_excl)
        return hi_u;
    return (uint64_t)v;
}

/* Round half to even, then keep the target's low bits. */
static uint8_t double_to_small_int(kiln_dtype dt, double v)
{
    if (!isfinite(v))
        return 0;
    double r = fmod(nearbyint(v), 256.0); /* exact; enough bits for 4-bit and 2-bit wrapping */
    return (uint8_t)kn_small_int_wrap(dt, (int64_t)r);
}

static uint8_t double_to_small_float(kiln_dtype dt, double v, const cast_params *p)
{
    if (dt == KILN_DTYPE_FLOAT8E8M0) /* the reference rounds to float32 first */
        return kn_float_to_e8m0((float)v, p->saturate, p->round_mode);
    return kn_float_to_small(dt, double_to_float_odd(v), p->saturate);
}

static void store_from_double(void *dst, kiln_dtype dt, int64_t i, double v, const cast_params *p)
{
    if (kn_dtype_is_small_float(dt)) {
        ((uint8_t *)dst)[i] = double_to_small_float(dt, v, p);
        return;
    }
    if (kn_dtype_is_small_int(dt)) {
        ((uint8_t *)dst)[i] = double_to_small_int(dt, v);
        return;
    }
    switch (dt) {
    case KILN_DTYPE_FLOAT: ((float *)dst)[i] = (float)v; break;
    case KILN_DTYPE_DOUBLE: ((double *)dst)[i] = v; break;
    case KILN_DTYPE_FLOAT16: ((uint16_t *)dst)[i] = kn_float_to_half(double_to_float_odd(v)); break;
    case KILN_DTYPE_BFLOAT16: ((uint16_t *)dst)[i] = kn_float_to_bf16(double_to_float_odd(v)); break;
    case KILN_DTYPE_BOOL: ((uint8_t *)dst)[i] = v != 0.0; break;
    case KILN_DTYPE_INT8: ((int8_t *)dst)[i] = (int8_t)sat_i64(v, -128.0, 128.0, INT8_MIN, INT8_MAX); break;
    case KILN_DTYPE_INT16:
        ((int16_t *)dst)[i] = (int16_t)sat_i64(v, -32768.0, 32768.0, INT16_MIN, INT16_MAX);
        break;
    case KILN_DTYPE_INT32:
        ((int32_t *)dst)[i] = (int32_t)sat_i64(v, -2147483648.0, 2147483648.0, INT32_MIN, INT32_MAX);
        break;
    case KILN_DTYPE_INT64:
        ((int64_t *)dst)[i] = sat_i64(v, -9223372036854775808.0, 9223372036854775808.0, INT64_MIN, INT64_MAX);
        break;
    case KILN_DTYPE_UINT8: ((uint8_t *)dst)[i] = (uint8_t)sat_u64(v, 256.0, UINT8_MAX); break;
    case KILN_DTYPE_UINT16: ((uint16_t *)dst)[i] = (uint16_t)sat_u64(v, 65536.0, UINT16_MAX); break;
    case KILN_DTYPE_UINT32: ((uint32_t *)dst)[i] = (uint32_t)sat_u64(v, 4294967296.0, UINT32_MAX); break;
    case KILN_DTYPE_UINT64: ((uint64_t *)dst)[i] = sat_u64(v, 18446744073709551616.0, UINT64_MAX); break;
    default: break;
    }
}

/* bits is the value as int64, or for uint64 sources the raw bits (is_u64). */
static void store_from_int(void *dst, kiln_dtype dt, int64_t i, int64_t bits, bool is_u64, const cast_params *p)
{
    uint64_t u = (uint64_t)bits;
    if (kn_dtype_is_small_float(dt)) {
        ((uint8_t *)dst)[i] = double_to_small_float(dt, is_u64 ? (double)u : (double)bits, p);
        return;
    }
    if (kn_dtype_is_small_int(dt)) {
        ((uint8_t *)dst)[i] = (uint8_t)kn_small_int_wrap(dt, bits);
        return;
    }
    switch (dt) {
    case KILN_DTYPE_FLOAT: ((float *)dst)[i] = is_u64 ? (float)u : (float)bits; break;
    case KILN_DTYPE_DOUBLE: ((double *)dst)[i] = is_u64 ? (double)u : (double)bits; break;
    case KILN_DTYPE_FLOAT16:
        ((uint16_t *)dst)[i] = kn_float_to_half(is_u64 ? (float)u : (float)bits);
        break;
    case KILN_DTYPE_BFLOAT16:
        ((uint16_t *)dst)[i] = kn_float_to_bf16(is_u64 ? (float)u : (float)bits);
        break;
    case KILN_DTYPE_BOOL: ((uint8_t *)dst)[i] = bits != 0; break;
    case KILN_DTYPE_INT8: ((uint8_t *)dst)[i] = (uint8_t)u; break;
    case KILN_DTYPE_UINT8: ((uint8_t *)dst)[i] = (uint8_t)u; break;
    case KILN_DTYPE_INT16: ((uint16_t *)dst)[i] = (uint16_t)u; break;
    case KILN_DTYPE_UINT16: ((uint16_t *)dst)[i] = (uint16_t)u; break;
    case KILN_DTYPE_INT32: ((uint32_t *)dst)[i] = (uint32_t)u; break;
    case KILN_DTYPE_UINT32: ((uint32_t *)dst)[i] = (uint32_t)u; break;
    case KILN_DTYPE_INT64: ((int64_t *)dst)[i] = bits; break;
    case KILN_DTYPE_UINT64: ((uint64_t *)dst)[i] = u; break;
    default: break;
    }
}

static int64_t load_int_bits(const void *src, kiln_dtype dt, int64_t i)
{
    switch (dt) {
    case KILN_DTYPE_BOOL: return ((const uint8_t *)src)[i] != 0;
    case KILN_DTYPE_INT8: return ((const int8_t *)src)[i];
    case KILN_DTYPE_UINT8: return ((const uint8_t *)src)[i];
    case KILN_DTYPE_INT16: return ((const int16_t *)src)[i];
    case KILN_DTYPE_UINT16: return ((const uint16_t *)src)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)src)[i];
    case KILN_DTYPE_UINT32: return ((const uint32_t *)src)[i];
    case KILN_DTYPE_INT64: return ((const int64_t *)src)[i];
    case KILN_DTYPE_UINT64: return (int64_t)((const uint64_t *)src)[i];
    case KILN_DTYPE_INT4: case KILN_DTYPE_INT2: return ((const int8_t *)src)[i];
    case KILN_DTYPE_UINT4: case KILN_DTYPE_UINT2: return ((const uint8_t *)src)[i];
    default: return 0;
    }
}

static double load_float(const void *src, kiln_dtype dt, int64_t i)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: return ((const float *)src)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)src)[i];
    case KILN_DTYPE_FLOAT16: return kn_half_to_float(((const uint16_t *)src)[i]);
    case KILN_DTYPE_BFLOAT16: return kn_bf16_to_float(((const uint16_t *)src)[i]);
    default: return kn_dtype_is_small_float(dt) ? kn_small_to_float(dt, ((const uint8_t *)src)[i]) : 0.0;
    }
}

/* Reference kernel: convert count elements of src (dtype sd) into dst (dd). */
static void cast_ref(const void *src, kiln_dtype sd, void *dst, kiln_dtype dd, int64_t count, const cast_params *p)
{
    if (sd == dd) {
        if (count > 0)
            memcpy(dst, src, (size_t)count * kiln_dtype_size(sd));
        return;
    }
    if (sd == KILN_DTYPE_FLOAT && dd == KILN_DTYPE_FLOAT16) {
        const float *s = src;
        uint16_t *d = dst;
        for (int64_t i = 0; i < count; i++)
            d[i] = kn_float_to_half(s[i]);
        return;
    }
    if (sd == KILN_DTYPE_FLOAT16 && dd == KILN_DTYPE_FLOAT) {
        const uint16_t *s = src;
        float *d = dst;
        for (int64_t i = 0; i < count; i++)
            d[i] = kn_half_to_float(s[i]);
        return;
    }
    if (is_float_dtype(sd)) {
        for (int64_t i = 0; i < count; i++)
            store_from_double(dst, dd, i, load_float(src, sd, i), p);
        return;
    }
    bool is_u64 = sd == KILN_DTYPE_UINT64;
    for (int64_t i = 0; i < count; i++)
        store_from_int(dst, dd, i, load_int_bits(src, sd, i), is_u64, p);
}

static kiln_status check_cast_target(const kn_node *n, int64_t to)
{
    if (to <= 0 || to > KILN_DTYPE_INT2 || (!plain_dtype((kiln_dtype)to) && to != KILN_DTYPE_STRING))
        return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "cast to dtype %lld is not supported", OP_ARGS(n),
                        (long long)to);
    return KILN_OK;
}

/* saturate and round_mode, shared by Cast and CastLike. */
static kiln_status cast_common_parse(kn_node *n, int64_t to)
{
    int64_t saturate;
    KN_TRY(kn_attr_get_int(n, "saturate", 1, &saturate));
    const char *rm;
    KN_TRY(kn_attr_get_string(n, "round_mode", "up", &rm));
    kn_e8m0_round mode;
    if (strcmp(rm, "up") == 0)
        mode = KN_E8M0_UP;
    else if (strcmp(rm, "down") == 0)
        mode = KN_E8M0_DOWN;
    else if (strcmp(rm, "nearest") == 0)
        mode = KN_E8M0_NEAREST;
    else
        return kn_error(KILN_ERROR_MODEL, OP_FMT "round_mode '%s' is not one of up, down, nearest", OP_ARGS(n), rm);
    cast_params *p = kn_malloc(sizeof *p);
    if (!p)
        return KN_NOMEM();
    *p = (cast_params){.to = to, .saturate = saturate != 0, .round_mode = mode};
    n->params = p;
    return KILN_OK;
}

static kiln_status cast_parse(kn_node *n)
{
    int64_t to;
    KN_TRY(kn_attr_require_int(n, "to", &to));
    KN_TRY(check_cast_target(n, to));
    return cast_common_parse(n, to);
}

/* Cast's operands: plain elements or strings (parsed / formatted). */
static kiln_status require_castable_input(const kn_op_ctx *c, int i)
{
    const kiln_tensor *t = c->in[i];
    if (t && t->dtype == KILN_DTYPE_STRING)
        return KILN_OK;
    return require_plain_input(c, i);
}

/* A STRING result owns one allocation per element, which an arena buffer
 * could not free: computed at run time (a dynamic step, own buffers) or
 * folded when the input is constant. */
static kiln_status cast_set_output(kn_op_ctx *c, kiln_dtype to)
{
    const kiln_tensor *x = c->in[0];
    if (to == KILN_DTYPE_STRING && !x->data)
        return KN_NEED_VALUE;
    return kn_set_output(c, 0, to, x->rank, x->dims);
}

static kiln_status cast_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    KN_TRY(require_castable_input(c, 0));
    return cast_set_output(c, (kiln_dtype)((const cast_params *)c->params)->to);
}

static bool is_int_dtype(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_INT8: case KILN_DTYPE_INT16: case KILN_DTYPE_INT32: case KILN_DTYPE_INT64:
    case KILN_DTYPE_UINT8: case KILN_DTYPE_UINT16: case KILN_DTYPE_UINT32: case KILN_DTYPE_UINT64:
        return true;
    default:
        return kn_dtype_is_small_int(dt);
    }
}

static kiln_status cast_to_string(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    char **dst = c->out[0]->data;
    int64_t n = kn_tensor_count(x);
    char buf[64];
    for (int64_t i = 0; i < n; i++) {
        const char *s = buf;
        if (x->dtype == KILN_DTYPE_STRING)
            s = ((char *const *)x->data)[i] ? ((char *const *)x->data)[i] : "";
        else
            kn_cast_format(x->dtype, x->data, i, buf, sizeof buf);
        kn_free(dst[i]);
        dst[i] = kn_strdup(s);
        if (!dst[i])
            return KN_NOMEM();
    }
    return KILN_OK;
}

static kiln_status cast_from_string(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    const char *const *src = x->data;
    int64_t n = kn_tensor_count(x);
    for (int64_t i = 0; i < n; i++) {
        const char *s = src[i] ? src[i] : "";
        double v;
        int64_t iv;
        bool is_int;
        if (!kn_cast_parse(s, &v, &iv, &is_int))
            return kn_error(KILN_ERROR_ARGUMENT, OP_FMT "element %lld, \"%.40s\", is not a number", OP_ARGS(c->node),
                            (long long)i, s);
        if (is_int && is_int_dtype(y->dtype))
            store_from_int(y->data, y->dtype, i, iv, false, c->params);
        else
            store_from_double(y->data, y->dtype, i, v, c->params);
    }
    return KILN_OK;
}

static kiln_status cast_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    if (y->dtype == KILN_DTYPE_STRING)
        return cast_to_string(c);
    if (x->dtype == KILN_DTYPE_STRING)
        return cast_from_string(c);
    cast_ref(x->data, x->dtype, y->data, y->dtype, kn_tensor_count(x), c->params);
    return KILN_OK;
}

static kiln_status castlike_parse(kn_node *n)
{
    return cast_common_parse(n, 0);
}

static kiln_status castlike_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    KN_TRY(require_castable_input(c, 0));
    KN_TRY(require_castable_input(c, 1));
    return cast_set_output(c, c->in[1]->dtype);
}

/* ======================================================================
 * Pad
 * ==================================================================== */

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

static kiln_status pad_mode_parse(const kn_node *n, pad_mode *mode)
{
    const char *s;
    KN_TRY(kn_attr_get_string(n, "mode", "constant", &s));
    if (strcmp(s, "constant") == 0)
        *mode = PAD_CONSTANT;
    else if (strcmp(s, "reflect") == 0)
        *mode = PAD_REFLECT;
    else if (strcmp(s, "edge") == 0)
        *mode = PAD_EDGE;
    else if (strcmp(s, "wrap") == 0)
        *mode = PAD_WRAP;
    else
        return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "mode '%s' is not supported", OP_ARGS(n), s);
    return KILN_OK;
}

/* Opset 1..10 carry pads (opset 1: paddings) and value as attributes; the
 * opset-11 form takes them as inputs. */
static kiln_status pad_upgrade(kn_graph *g, int node)
{
    kn_node *n = &g->nodes[node];
    const int64_t *pads = NULL;
    size_t npads = 0;
    const char *pads_name = kn_node_attr(n, "pads") ? "pads" : "paddings";
    KN_TRY(kn_attr_get_ints(n, pads_name, &pads, &npads));
    if (!pads)
        return kn_error(KILN_ERROR_MODEL, OP_FMT "missing attribute 'pads'", OP_ARGS(n));
    float value;
    KN_TRY(kn_attr_get_float(n, "value", 0.0f, &value));
    if (n->n_in < 1 || n->in[0] < 0)
        return kn_error(KILN_ERROR_MODEL, OP_FMT "missing data input", OP_ARGS(n));

    int64_t len = (int64_t)npads;
    kiln_tensor *pt;
    KN_TRY(kn_tensor_new(KILN_DTYPE_INT64, 1, &len, &pt));
    if (npads)
        memcpy(pt->data, pads, npads * sizeof(int64_t));
    int pads_idx;
    KN_TRY(kn_graph_add_constant(g, "pads", pt, &pads_idx));

    int ins[3] = {g->nodes[node].in[0], pads_idx, -1};
    int n_in = 2;
    if (value != 0.0f) {
        /* The value input must match the data dtype; when the loader does not
         * know it yet, float32 is converted at run time by pad_value(). */
        kiln_dtype dt = g->values[ins[0]].dtype;
        if (!plain_dtype(dt))
            dt = KILN_DTYPE_FLOAT;
        kiln_tensor *vt;
        KN_TRY(kn_tensor_new(dt, 0, NULL, &vt));
        store_from_double(vt->data, dt, 0, value, &cast_defaults);
        int v_idx;
        KN_TRY(kn_graph_add_constant(g, "pad_value", vt, &v_idx));
        ins[2] = v_idx;
        n_in = 3;
    }
    n = &g->nodes[node];
    KN_TRY(kn_node_set_inputs(n, n_in, ins));
    kn_node_remove_attr(n, "pads");
    kn_node_remove_attr(n, "paddings");
    kn_node_remove_attr(n, "value");
    n->opset = 11;
    return KILN_OK;
}

static kiln_status pad_parse(kn_node *n)
{
    pad_mode mode = PAD_CONSTANT;
    KN_TRY(pad_mode_parse(n, &mode));
    pad_mode *p = kn_malloc(sizeof *p);
    if (!p)
        return KN_NOMEM();
    *p = mode;
    n->params = p;
    return KILN_OK;
}

/* Per axis: pads at the begin and end (negative crops). */
typedef struct pad_geom {
    int rank;
    int64_t begin[KN_MAX_RANK], end[KN_MAX_RANK];
    int64_t out[KN_MAX_RANK];
} pad_geom;

static kiln_status pad_geometry(const kn_op_ctx *c, pad_geom *pg)
{
    const kn_node *n = c->node;
    const kiln_tensor *x = c->in[0];
    int rank = x->rank;
    int64_t pads[2 * KN_MAX_RANK];
    size_t npads = 0;
    KN_TRY(kn_input_ints(c, 1, pads, 2 * KN_MAX_RANK, &npads));
    int axes[KN_MAX_RANK];
    size_t naxes = (size_t)rank;
    for (int i = 0; i < rank; i++)
        axes[i] = i;
    if (c->n_in > 3 && c->in[3]) {
        int64_t raw[KN_MAX_RANK];
        KN_TRY(kn_input_ints(c, 3, raw, KN_MAX_RANK, &naxes));
        bool seen[KN_MAX_RANK] = {false};
        for (size_t i = 0; i < naxes; i++) {
            KN_TRY(kn_norm_axis(c, raw[i], rank, &axes[i]));
            if (seen[axes[i]])
                return kn_error(KILN_ERROR_MODEL, OP_FMT "axis %lld repeated in axes", OP_ARGS(n),
                                (long long)raw[i]);
            seen[axes[i]] = true;
        }
    }
    if (npads != 2 * naxes)
        return kn_error(KILN_ERROR_SHAPE, OP_FMT "pads has %zu values, expected %zu (2 per padded axis)",
                        OP_ARGS(n), npads, 2 * naxes);
    pg->rank = rank;
    for (int i = 0; i < rank; i++)
        pg->begin[i] = pg->end[i] = 0;
    for (size_t i = 0; i < naxes; i++) {
        pg->begin[axes[i]] = pads[i];
        pg->end[axes[i]] = pads[naxes + i];
    }
    pad_mode mode = *(const pad_mode *)c->params;
    for (int i = 0; i < rank; i++) {
        int64_t d = x->dims[i] + pg->begin[i] + pg->end[i];
        if (d < 0)
            return kn_error(KILN_ERROR_SHAPE, OP_FMT "pads %lld,%lld crop more than axis %d's %lld elements",
                            OP_ARGS(n), (long long)pg->begin[i], (long long)pg->end[i], i, (long long)x->dims[i]);
        int64_t kept = x->dims[i] - KN_MAX(-pg->begin[i], 0) - KN_MAX(-pg->end[i], 0);
        if (mode != PAD_CONSTANT && kept <= 0 && d > 0)
            return kn_error(KILN_ERROR_SHAPE, OP_FMT "cannot pad empty axis %d in a non-constant mode", OP_ARGS(n),
                            i);
        pg->out[i] = d;
    }
    return KILN_OK;
}

static kiln_status pad_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 4, 1, 1));
    if (c->n_in > 2 && c->in[2]) {
        if (c->in[0]->dtype == KILN_DTYPE_STRING) {
            if (c->in[2]->dtype != KILN_DTYPE_STRING)
                return kn_error(KILN_ERROR_DTYPE, OP_FMT "constant_value has dtype %s, data is string",
                                OP_ARGS(c->node), kiln_dtype_name(c->in[2]->dtype));
        } else {
            KN_TRY(require_plain_input(c, 2));
        }
        if (kn_tensor_count(c->in[2]) > 1)
            return kn_error(KILN_ERROR_SHAPE, OP_FMT "constant_value must be a scalar", OP_ARGS(c->node));
    }
    pad_geom pg;
    KN_TRY(pad_geometry(c, &pg));
    return kn_set_output(c, 0, c->in[0]->dtype, pg.rank, pg.out);
}

/* Source index along one axis for output index o, or -1 for the constant.
 * Negative pads crop first; the pad modes then see only the kept range
 * [lo, lo + m) (what ONNX Runtime does). */
static int64_t pad_source(int64_t o, int64_t begin, int64_t lo, int64_t m, pad_mode mode)
{
    int64_t j = o - KN_MAX(begin, 0);
    if (j >= 0 && j < m)
        return lo + j;
    switch (mode) {
    case PAD_CONSTANT: return -1;
    case PAD_EDGE: return lo + (j < 0 ? 0 : m - 1);
    case PAD_WRAP: return lo + ((j % m) + m) % m;
    case PAD_REFLECT: {
        if (m == 1)
            return lo;
        int64_t p = 2 * (m - 1);
        j = ((j % p) + p) % p;
        return lo + (j < m ? j : p - j);
    }
    }
    return -1;
}

/* The constant_value input as bytes of the data dtype (for STRING, the
 * value's pointer, copied by kn_eval_node; NULL without a value, i.e. ""). */
static void pad_value(const kn_op_ctx *c, kiln_dtype dt, unsigned char *bytes)
{
    memset(bytes, 0, 16);
    const kiln_tensor *v = c->n_in > 2 ? c->in[2] : NULL;
    if (!v || kn_tensor_count(v) < 1)
        return;
    if (v->dtype == dt)
        memcpy(bytes, v->data, kn_elem_size(dt));
    else
        cast_ref(v->data, v->dtype, bytes, dt, 1, &cast_defaults);
}

static kiln_status pad_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    pad_mode mode = *(const pad_mode *)c->params;
    pad_geom pg;
    KN_TRY(pad_geometry(c, &pg));
    size_t es = kn_elem_size(x->dtype);
    unsigned char value[16];
    pad_value(c, x->dtype, value);
    int64_t total = kn_tensor_count(y);
    if (total == 0)
        return KILN_OK;
    int rank = pg.rank;
    if (rank == 0) {
        memcpy(y->data, x->data, es);
        return KILN_OK;
    }
    int64_t lo[KN_MAX_RANK], m[KN_MAX_RANK], xs[KN_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        lo[i] = KN_MAX(-pg.begin[i], 0);
        m[i] = x->dims[i] - lo[i] - KN_MAX(-pg.end[i], 0);
    }
    kn_contiguous_strides(rank, x->dims, xs);
    int last = rank - 1;
    int64_t row = pg.out[last];
    int64_t rows = total / row;
    int64_t idx[KN_MAX_RANK] = {0}; /* output index over the leading axes */
    const unsigned char *src = x->data;
    unsigned char *dst = y->data;
    /* the contiguous middle of every row, copied at once */
    int64_t mid_lo = KN_MAX(pg.begin[last], 0), mid_n = m[last] > 0 ? m[last] : 0;
    for (int64_t r = 0; r < rows; r++) {
        unsigned char *d = dst + (size_t)(r * row) * es;
        int64_t base = 0;
        bool constant_row = false;
        for (int a = 0; a < last; a++) {
            int64_t s = pad_source(idx[a], pg.begin[a], lo[a], m[a], mode);
            if (s < 0) {
                constant_row = true;
                break;
            }
            base += s * xs[a];
        }
        if (constant_row) {
            for (int64_t o = 0; o < row; o++)
                memcpy(d + (size_t)o * es, value, es);
        } else {
            for (int64_t o = 0; o < row; o++) {
                if (o == mid_lo && mid_n > 0) {
                    memcpy(d + (size_t)o * es, src + (size_t)(base + lo[last]) * es, (size_t)mid_n * es);
                    o += mid_n - 1;
                    continue;
                }
                int64_t s = pad_source(o, pg.begin[last], lo[last], m[last], mode);
                memcpy(d + (size_t)o * es, s < 0 ? value : src + (size_t)(base + s) * es, es);
            }
        }
        for (int a = last - 1; a >= 0; a--) {
            if (++idx[a] < pg.out[a])
                break;
            idx[a] = 0;
        }
    }
    return KILN_OK;
}

/* ====================================================================== */

static const kiln_dtype pad_types[] = {KILN_DTYPE_FLOAT,  KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16,
                                       KILN_DTYPE_INT8,   KILN_DTYPE_INT16,  KILN_DTYPE_INT32,   KILN_DTYPE_INT64,
                                       KILN_DTYPE_UINT8,  KILN_DTYPE_UINT16, KILN_DTYPE_UINT32,  KILN_DTYPE_UINT64,
                                       KILN_DTYPE_BOOL,   KILN_DTYPE_STRING, KILN_DTYPE_UNDEFINED};

const kn_op kn_ops_tensor[] = {
    {.domain = "", .name = "Constant", .since_min = 1, .since_max = 0, .parse = constant_parse,
     .free_params = constant_free, .infer = constant_infer, .run = constant_run, .flags = KN_OP_BORROWS_STRINGS},
    {.domain = "", .name = "ConstantOfShape", .since_min = 9, .since_max = 0, .parse = cos_parse,
     .infer = cos_infer, .run = cos_run, .types = kn_types_index},
    {.domain = "", .name = "Cast", .since_min = 6, .since_max = 0, .parse = cast_parse, .infer = cast_infer,
     .run = cast_run, .types = kn_types_cast},
    {.domain = "", .name = "CastLike", .since_min = 15, .since_max = 0, .parse = castlike_parse,
     .infer = castlike_infer, .run = cast_run, .types = kn_types_cast},
    {.domain = "", .name = "Pad", .since_min = 1, .since_max = 10, .upgrade = pad_upgrade},
    {.domain = "", .name = "Pad", .since_min = 11, .since_max = 0, .parse = pad_parse, .infer = pad_infer,
     .run = pad_run, .types = pad_types, .flags = KN_OP_BORROWS_STRINGS},
};
KN_FAMILY_COUNT(tensor);
