/* Binary and n-ary elementwise ops with numpy broadcasting: arithmetic,
 * comparisons, logic, Max/Min/Sum/Mean, Pow, Mod, PRelu, BitShift,
 * BitwiseAnd/Or/Xor, Where.
 *
 * Each op is a formula over x and y (of compute type CT), instantiated by
 * macro per dtype into a row kernel; kn_ew_broadcast (elementwise.c) feeds
 * those rows after coalescing dimensions, so same-shape, scalar and
 * per-channel operands all run as plain contiguous loops.
 *
 * Integer semantics (chosen to match ONNX Runtime / numpy and never trap):
 *  - Add/Sub/Mul wrap around (computed in uint64_t, no signed overflow).
 *  - Div truncates toward zero like C; x / 0 is defined as 0 and
 *    INT_MIN / -1 wraps to INT_MIN, instead of the CPU trap C would give.
 *  - Mod with fmod=0 takes the divisor's sign (Python), fmod=1 the
 *    dividend's (C); x mod 0 is defined as 0.
 *  - Pow on integers is exact repeated multiplication (wrapping); a
 *    negative exponent gives 0 unless the base is 1 or -1.
 *  - BitShift by at least the bit width gives 0.
 *
 * Opset < 7 forms: Add/Sub/Mul/Div/Pow/And/Or/Xor/Equal/Less/Greater had a
 * `broadcast` attribute with an optional `axis` placing B's dims inside A's;
 * PRelu's slope of shape [C] applied per channel (axis 1). Both are read as
 * a reshaped view of the operand, no data moves. */
#include "ops/elementwise.h"
#include "ops/families.h"

#include <string.h>
#include <tgmath.h>

/* -O2 leaves loops with a runtime trip count scalar; the row kernels are
 * plain elementwise loops (no reductions), so vectorizing them changes no
 * result bit. Matters for large per-channel products such as the
 * squeeze-excitation scaling of EfficientNet. */
#pragma GCC optimize("tree-vectorize")

typedef enum bin_kind {
    BK_PLAIN,    /* two inputs, same dtype */
    BK_POW,      /* two inputs, exponent dtype may differ */
    BK_PRELU,    /* slope broadcasts to X only */
    BK_VARIADIC, /* Max/Min/Sum/Mean: 1..n inputs */
    BK_WHERE
} bin_kind;

struct binary_def;

typedef struct binary_params {
    const struct binary_def *def;
    const kn_ew_row_fn *k;  /* kernel table chosen by attributes */
    bool legacy_bcast;      /* opset < 7 broadcast=1 */
    int64_t legacy_axis;    /* -1: align B to the right */
} binary_params;

typedef struct binary_def {
    const char *name;
    bin_kind kind;
    bool out_bool;
    bool legacy_attrs; /* had broadcast/axis before opset 7 */
    const kn_ew_row_fn *k;
    const kn_ew_row_fn *k_alt; /* Mod fmod=1, BitShift RIGHT */
} binary_def;

/* ---- kernel generation ------------------------------------------------- */

#define ID(v) (v)
#define BOOL_STORE(v) ((uint8_t)((v) != 0))

#define BIN_FN(NAME, SUF, T_IN, CT_, T_OUT, LOAD, STORE, EXPR)                                          \
    static void NAME##_##SUF(void *out_, const void *const *in_, const int64_t *st_, int64_t n_,        \
                             const void *ctx_)                                                          \
    {                                                                                                   \
        typedef CT_ CT;                                                                                 \
        const T_IN *a_ = in_[0], *b_ = in_[1];                                                          \
        T_OUT *o_ = out_;                                                                               \
        (void)ctx_;                                                                                     \
        if (st_[0] && st_[1]) {                                                                         \
            for (int64_t i_ = 0; i_ < n_; i_++) {                                                       \
                CT x = (CT)LOAD(a_[i_]), y = (CT)LOAD(b_[i_]);                                          \
                o_[i_] = STORE(EXPR);                                                                   \
            }                                                                                           \
        } else if (st_[0]) {                                                                            \
            const CT y = (CT)LOAD(b_[0]);                                                               \
            for (int64_t i_ = 0; i_ < n_; i_++) {                                                       \
                CT x = (CT)LOAD(a_[i_]);                                                                \
                o_[i_] = STORE(EXPR);                                                                   \
            }                                                                                           \
        } else if (st_[1]) {                                                                            \
            const CT x = (CT)LOAD(a_[0]);                                                               \
            for (int64_t i_ = 0; i_ < n_; i_++) {                                                       \
                CT y = (CT)LOAD(b_[i_]);                                                                \
                o_[i_] = STORE(EXPR);                                                                   \
            }                                                                                           \
        } else {                                                                                        \
            const CT x = (CT)LOAD(a_[0]), y = (CT)LOAD(b_[0]);                                          \
            const T_OUT v_ = STORE(EXPR);                                                               \
            for (int64_t i_ = 0; i_ < n_; i_++)                                                         \
                o_[i_] = v_;                                                                            \
        }                                                                                               \
    }

#define BIN_FLOAT(NAME, EXPR)                                                                \
    BIN_FN(NAME, f32, float, float, float, ID, ID, EXPR)                                     \
    BIN_FN(NAME, f64, double, double, double, ID, ID, EXPR)                                  \
    BIN_FN(NAME, f16, uint16_t, float, uint16_t, kn_half_to_float, kn_float_to_half, EXPR)   \
    BIN_FN(NAME, bf16, uint16_t, float, uint16_t, kn_bf16_to_float, kn_float_to_bf16, EXPR)
#define BIN_SIGNED(NAME, EXPR)                                  \
    BIN_FN(NAME, i8, int8_t, int8_t, int8_t, ID, ID, EXPR)      \
    BIN_FN(NAME, i16, int16_t, int16_t, int16_t, ID, ID, EXPR)  \
    BIN_FN(NAME, i32, int32_t, int32_t, int32_t, ID, ID, EXPR)  \
    BIN_FN(NAME, i64, int64_t, int64_t, int64_t, ID, ID, EXPR)
#define BIN_UNSIGNED(NAME, EXPR)                                   \
    BIN_FN(NAME, u8, uint8_t, uint8_t, uint8_t, ID, ID, EXPR)      \
    BIN_FN(NAME, u16, uint16_t, uint16_t, uint16_t, ID, ID, EXPR)  \
    BIN_FN(NAME, u32, uint32_t, uint32_t, uint32_t, ID, ID, EXPR)  \
    BIN_FN(NAME, u64, uint64_t, uint64_t, uint64_t, ID, ID, EXPR)
#define BIN_INT(NAME, EXPR) BIN_SIGNED(NAME, EXPR) BIN_UNSIGNED(NAME, EXPR)

/* Predicates: output bool. */
#define CMP_FLOAT(NAME, EXPR)                                                         \
    BIN_FN(NAME, f32, float, float, uint8_t, ID, BOOL_STORE, EXPR)                    \
    BIN_FN(NAME, f64, double, double, uint8_t, ID, BOOL_STORE, EXPR)                  \
    BIN_FN(NAME, f16, uint16_t, float, uint8_t, kn_half_to_float, BOOL_STORE, EXPR)   \
    BIN_FN(NAME, bf16, uint16_t, float, uint8_t, kn_bf16_to_float, BOOL_STORE, EXPR)
#define CMP_INT(NAME, EXPR)                                                  \
    BIN_FN(NAME, i8, int8_t, int8_t, uint8_t, ID, BOOL_STORE, EXPR)          \
    BIN_FN(NAME, i16, int16_t, int16_t, uint8_t, ID, BOOL_STORE, EXPR)       \
    BIN_FN(NAME, i32, int32_t, int32_t, uint8_t, ID, BOOL_STORE, EXPR)       \
    BIN_FN(NAME, i64, int64_t, int64_t, uint8_t, ID, BOOL_STORE, EXPR)       \
    BIN_FN(NAME, u8, uint8_t, uint8_t, uint8_t, ID, BOOL_STORE, EXPR)        \
    BIN_FN(NAME, u16, uint16_t, uint16_t, uint8_t, ID, BOOL_STORE, EXPR)     \
    BIN_FN(NAME, u32, uint32_t, uint32_t, uint8_t, ID, BOOL_STORE, EXPR)     \
    BIN_FN(NAME, u64, uint64_t, uint64_t, uint8_t, ID, BOOL_STORE, EXPR)
#define CMP_ALL(NAME, EXPR) CMP_FLOAT(NAME, EXPR) CMP_INT(NAME, EXPR)
#define BIN_BOOL(NAME, EXPR) BIN_FN(NAME, b, uint8_t, uint8_t, uint8_t, ID, BOOL_STORE, EXPR)

#define K_FLOAT(NAME)                                                                                   \
    [KILN_DTYPE_FLOAT] = NAME##_f32, [KILN_DTYPE_DOUBLE] = NAME##_f64, [KILN_DTYPE_FLOAT16] = NAME##_f16, \
    [KILN_DTYPE_BFLOAT16] = NAME##_bf16
#define K_SIGNED(NAME)                                                                                  \
    [KILN_DTYPE_INT8] = NAME##_i8, [KILN_DTYPE_INT16] = NAME##_i16, [KILN_DTYPE_INT32] = NAME##_i32,    \
    [KILN_DTYPE_INT64] = NAME##_i64
#define K_UNSIGNED(NAME)                                                                                \
    [KILN_DTYPE_UINT8] = NAME##_u8, [KILN_DTYPE_UINT16] = NAME##_u16, [KILN_DTYPE_UINT32] = NAME##_u32, \
    [KILN_DTYPE_UINT64] = NAME##_u64
#define K_NUMERIC(NAME) K_FLOAT(NAME), K_SIGNED(NAME), K_UNSIGNED(NAME)

/* Wrapping integer arithmetic through uint64_t (signed overflow is UB in C). */
#define WRAP(op) ((CT)((uint64_t)x op (uint64_t)y))
#define INT_NEG(v) ((CT)(0u - (uint64_t)(v)))

/* Python-style float modulo: the result takes the divisor's sign. */
static inline float pymodf(float x, float y)
{
    float r = fmodf(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
static inline double pymodd(double x, double y)
{
    double r = fmod(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
#define PYMOD(x, y) _Generic((x), double: pymodd, default: pymodf)(x, y)

/* Python-style integer modulo; the y == -1 guard avoids INT_MIN % -1. */
#define SIGNED_PYMOD                                                          \
    (y == 0 || y == -1 ? (CT)0                                                \
                       : (CT)(x % y + ((x % y != 0 && ((x % y < 0) != (y < 0))) ? y : 0)))

BIN_FLOAT(add, x + y)
BIN_INT(add, WRAP(+))
BIN_FLOAT(sub, x - y)
BIN_INT(sub, WRAP(-))
BIN_FLOAT(mul, x * y)
BIN_INT(mul, WRAP(*))
BIN_FLOAT(div, x / y)
BIN_SIGNED(div, y == 0 ? (CT)0 : (y == -1 ? INT_NEG(x) : (CT)(x / y)))
BIN_UNSIGNED(div, y == 0 ? (CT)0 : (CT)(x / y))
BIN_FLOAT(mod, PYMOD(x, y))
BIN_SIGNED(mod, SIGNED_PYMOD)
BIN_UNSIGNED(mod, y == 0 ? (CT)0 : (CT)(x % y))
BIN_FLOAT(fmod_, fmod(x, y))
BIN_SIGNED(fmod_, y == 0 || y == -1 ? (CT)0 : (CT)(x % y))
/* numpy's maximum/minimum propagate NaN from either side. */
BIN_FLOAT(max_, (x > y || x != x) ? x : y)
BIN_INT(max_, x > y ? x : y)
BIN_FLOAT(min_, (x < y || x != x) ? x : y)
BIN_INT(min_, x < y ? x : y)
BIN_FLOAT(pow_, pow(x, y))
BIN_FLOAT(prelu, x < 0 ? x * y : x)
BIN_SIGNED(prelu, x < 0 ? WRAP(*) : x)
BIN_UNSIGNED(prelu, ((void)y, x))
CMP_ALL(eq, x == y)
BIN_BOOL(eq, x == y)
CMP_ALL(lt, x < y)
CMP_ALL(gt, x > y)
CMP_ALL(le, x <= y)
CMP_ALL(ge, x >= y)
BIN_BOOL(and_, x && y)
BIN_BOOL(or_, x || y)
BIN_BOOL(xor_, !x != !y)
BIN_UNSIGNED(shl, y >= sizeof(CT) * 8 ? (CT)0 : (CT)(x << y))
BIN_UNSIGNED(shr, y >= sizeof(CT) * 8 ? (CT)0 : (CT)(x >> y))
BIN_INT(band, (CT)(x & y))
BIN_INT(bor, (CT)(x | y))
BIN_INT(bxor, (CT)(x ^ y))

/* STRING tensors hold char* per element. */
static void eq_str(void *out_, const void *const *in_, const int64_t *st_, int64_t n_, const void *ctx_)
{
    const char *const *a = in_[0], *const *b = in_[1];
    uint8_t *o = out_;
    (void)ctx_;
    for (int64_t i = 0; i < n_; i++) {
        const char *x = a[i * st_[0]], *y = b[i * st_[1]];
        o[i] = (x && y) ? strcmp(x, y) == 0 : x == y;
    }
}

static const kn_ew_row_fn add_k[KN_EW_DTYPES] = {K_NUMERIC(add)};
static const kn_ew_row_fn sub_k[KN_EW_DTYPES] = {K_NUMERIC(sub)};
static const kn_ew_row_fn mul_k[KN_EW_DTYPES] = {K_NUMERIC(mul)};
static const kn_ew_row_fn div_k[KN_EW_DTYPES] = {K_NUMERIC(div)};
static const kn_ew_row_fn mod_k[KN_EW_DTYPES] = {K_NUMERIC(mod)};
static const kn_ew_row_fn fmod_k[KN_EW_DTYPES] = {K_FLOAT(fmod_), K_SIGNED(fmod_), K_UNSIGNED(mod)};
static const kn_ew_row_fn max_k[KN_EW_DTYPES] = {K_NUMERIC(max_)};
static const kn_ew_row_fn min_k[KN_EW_DTYPES] = {K_NUMERIC(min_)};
static const kn_ew_row_fn sum_k[KN_EW_DTYPES] = {K_NUMERIC(add)};
static const kn_ew_row_fn mean_k[KN_EW_DTYPES] = {K_FLOAT(add)};
static const kn_ew_row_fn pow_k[KN_EW_DTYPES] = {K_FLOAT(pow_)};
static const kn_ew_row_fn prelu_k[KN_EW_DTYPES] = {K_NUMERIC(prelu)};
static const kn_ew_row_fn eq_k[KN_EW_DTYPES] = {K_NUMERIC(eq), [KILN_DTYPE_BOOL] = eq_b,
                                                [KILN_DTYPE_STRING] = eq_str};
static const kn_ew_row_fn lt_k[KN_EW_DTYPES] = {K_NUMERIC(lt)};
static const kn_ew_row_fn gt_k[KN_EW_DTYPES] = {K_NUMERIC(gt)};
static const kn_ew_row_fn le_k[KN_EW_DTYPES] = {K_NUMERIC(le)};
static const kn_ew_row_fn ge_k[KN_EW_DTYPES] = {K_NUMERIC(ge)};
static const kn_ew_row_fn and_k[KN_EW_DTYPES] = {[KILN_DTYPE_BOOL] = and__b};
static const kn_ew_row_fn or_k[KN_EW_DTYPES] = {[KILN_DTYPE_BOOL] = or__b};
static const kn_ew_row_fn xor_k[KN_EW_DTYPES] = {[KILN_DTYPE_BOOL] = xor__b};
static const kn_ew_row_fn shl_k[KN_EW_DTYPES] = {K_UNSIGNED(shl)};
static const kn_ew_row_fn shr_k[KN_EW_DTYPES] = {K_UNSIGNED(shr)};
static const kn_ew_row_fn band_k[KN_EW_DTYPES] = {K_SIGNED(band), K_UNSIGNED(band)};
static const kn_ew_row_fn bor_k[KN_EW_DTYPES] = {K_SIGNED(bor), K_UNSIGNED(bor)};
static const kn_ew_row_fn bxor_k[KN_EW_DTYPES] = {K_SIGNED(bxor), K_UNSIGNED(bxor)};

/* ---- Pow with mixed dtypes ------------------------------------------------
 * Output has the base's dtype. Integer ** integer is exact; anything
 * involving a float computes in double and converts (truncating for an
 * integer base, as numpy's astype does). */

typedef struct pow_ctx {
    kiln_dtype ta, tb;
} pow_ctx;

static double load_f64(const void *p, kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: return *(const float *)p;
    case KILN_DTYPE_DOUBLE: return *(const double *)p;
    case KILN_DTYPE_FLOAT16: return kn_half_to_float(*(const uint16_t *)p);
    case KILN_DTYPE_BFLOAT16: return kn_bf16_to_float(*(const uint16_t *)p);
    case KILN_DTYPE_INT8: return *(const int8_t *)p;
    case KILN_DTYPE_INT16: return *(const int16_t *)p;
    case KILN_DTYPE_INT32: return *(const int32_t *)p;
    case KILN_DTYPE_INT64: return (double)*(const int64_t *)p;
    case KILN_DTYPE_UINT8: return *(const uint8_t *)p;
    case KILN_DTYPE_UINT16: return *(const uint16_t *)p;
    case KILN_DTYPE_UINT32: return *(const uint32_t *)p;
    case KILN_DTYPE_UINT64: return (double)*(const uint64_t *)p;
    default: return 0;
    }
}

static int64_t load_i64(const void *p, kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_INT8: return *(const int8_t *)p;
    case KILN_DTYPE_INT16: return *(const int16_t *)p;
    case KILN_DTYPE_INT32: return *(const int32_t *)p;
    case KILN_DTYPE_INT64: return *(const int64_t *)p;
    case KILN_DTYPE_UINT8: return *(const uint8_t *)p;
    case KILN_DTYPE_UINT16: return *(const uint16_t *)p;
    case KILN_DTYPE_UINT32: return *(const uint32_t *)p;
    case KILN_DTYPE_UINT64: return (int64_t)*(const uint64_t *)p;
    default: return 0;
    }
}

static void store_i64(void *p, kiln_dtype dt, int64_t v)
{
    switch (dt) {
    case KILN_DTYPE_INT8: *(int8_t *)p = (int8_t)v; break;
    case KILN_DTYPE_INT16: *(int16_t *)p = (int16_t)v; break;
    case KILN_DTYPE_INT32: *(int32_t *)p = (int32_t)v; break;
    case KILN_DTYPE_INT64: *(int64_t *)p = v; break;
    case KILN_DTYPE_UINT8: *(uint8_t *)p = (uint8_t)v; break;
    case KILN_DTYPE_UINT16: *(uint16_t *)p = (uint16_t)v; break;
    case KILN_DTYPE_UINT32: *(uint32_t *)p = (uint32_t)v; break;
    case KILN_DTYPE_UINT64: *(uint64_t *)p = (uint64_t)v; break;
    default: break;
    }
}

static void store_f64(void *p, kiln_dtype dt, double v)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: *(float *)p = (float)v; break;
    case KILN_DTYPE_DOUBLE: *(double *)p = v; break;
    case KILN_DTYPE_FLOAT16: *(uint16_t *)p = kn_float_to_half((float)v); break;
    case KILN_DTYPE_BFLOAT16: *(uint16_t *)p = kn_float_to_bf16((float)v); break;
    default:
        /* float result into an integer base: truncate, saturating where C
         * would be undefined (NaN, out of range) */
        store_i64(p, dt, v != v ? 0 : (v <= -9.2e18 ? INT64_MIN : (v >= 9.2e18 ? INT64_MAX : (int64_t)v)));
        break;
    }
}

static int64_t ipow(int64_t base, int64_t e)
{
    if (e < 0)
        return base == 1 ? 1 : (base == -1 ? ((e & 1) ? -1 : 1) : 0);
    uint64_t r = 1, b = (uint64_t)base;
    while (e) {
        if (e & 1)
            r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

static void pow_mixed(void *out_, const void *const *in_, const int64_t *st_, int64_t n_, const void *ctx_)
{
    const pow_ctx *q = ctx_;
    size_t ea = kiln_dtype_size(q->ta), eb = kiln_dtype_size(q->tb);
    const char *a = in_[0], *b = in_[1];
    char *o = out_;
    bool ints = kn_ew_is_int(q->ta) && kn_ew_is_int(q->tb);
    for (int64_t i = 0; i < n_; i++) {
        const void *pa = a + (size_t)(i * st_[0]) * ea, *pb = b + (size_t)(i * st_[1]) * eb;
        if (ints)
            store_i64(o + (size_t)i * ea, q->ta, ipow(load_i64(pa, q->ta), load_i64(pb, q->tb)));
        else
            store_f64(o + (size_t)i * ea, q->ta, pow(load_f64(pa, q->ta), load_f64(pb, q->tb)));
    }
}

/* ---- Where ----------------------------------------------------------------
 * Moves elements by size, so any fixed-size dtype works. */

#define WHERE_FN(SUF, T)                                                                              \
    static void where_##SUF(void *out_, const void *const *in_, const int64_t *st_, int64_t n_,       \
                            const void *ctx_)                                                         \
    {                                                                                                 \
        const uint8_t *c_ = in_[0];                                                                   \
        const T *a_ = in_[1], *b_ = in_[2];                                                           \
        T *o_ = out_;                                                                                 \
        (void)ctx_;                                                                                   \
        for (int64_t i_ = 0; i_ < n_; i_++)                                                           \
            o_[i_] = c_[i_ * st_[0]] ? a_[i_ * st_[1]] : b_[i_ * st_[2]];                             \
    }
WHERE_FN(1, uint8_t)
WHERE_FN(2, uint16_t)
WHERE_FN(4, uint32_t)
WHERE_FN(8, uint64_t)

static kn_ew_row_fn where_kernel(kiln_dtype dt)
{
    switch (kn_elem_size(dt)) { /* STRING: pointers, owned copies made by kn_eval_node */
    case 1: return where_1;
    case 2: return where_2;
    case 4: return where_4;
    case 8: return where_8;
    default: return NULL;
    }
}

/* ---- op table ---------------------------------------------------------- */

static const binary_def defs[] = {
    {"Add", BK_PLAIN, false, true, add_k, NULL},
    {"Sub", BK_PLAIN, false, true, sub_k, NULL},
    {"Mul", BK_PLAIN, false, true, mul_k, NULL},
    {"Div", BK_PLAIN, false, true, div_k, NULL},
    {"Mod", BK_PLAIN, false, false, mod_k, fmod_k},
    {"Pow", BK_POW, false, true, pow_k, NULL},
    {"PRelu", BK_PRELU, false, false, prelu_k, NULL},
    {"Max", BK_VARIADIC, false, false, max_k, NULL},
    {"Min", BK_VARIADIC, false, false, min_k, NULL},
    {"Sum", BK_VARIADIC, false, false, sum_k, NULL},
    {"Mean", BK_VARIADIC, false, false, mean_k, NULL},
    {"Equal", BK_PLAIN, true, true, eq_k, NULL},
    {"Less", BK_PLAIN, true, true, lt_k, NULL},
    {"Greater", BK_PLAIN, true, true, gt_k, NULL},
    {"LessOrEqual", BK_PLAIN, true, false, le_k, NULL},
    {"GreaterOrEqual", BK_PLAIN, true, false, ge_k, NULL},
    {"And", BK_PLAIN, true, true, and_k, NULL},
    {"Or", BK_PLAIN, true, true, or_k, NULL},
    {"Xor", BK_PLAIN, true, true, xor_k, NULL},
    {"BitShift", BK_PLAIN, false, false, shl_k, shr_k},
    {"BitwiseAnd", BK_PLAIN, false, false, band_k, NULL},
    {"BitwiseOr", BK_PLAIN, false, false, bor_k, NULL},
    {"BitwiseXor", BK_PLAIN, false, false, bxor_k, NULL},
    {"Where", BK_WHERE, false, false, NULL, NULL},
};

static const binary_def *find_def(const char *op_type)
{
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (strcmp(defs[i].name, op_type) == 0)
            return &defs[i];
    return NULL;
}

/* ---- parse --------------------------------------------------------------- */

static kiln_status parse_alt(const kn_node *n, const binary_def *def, binary_params *p)
{
    if (strcmp(def->name, "Mod") == 0) {
        int64_t fm;
        KN_TRY(kn_attr_get_int(n, "fmod", 0, &fm));
        if (fm != 0 && fm != 1)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (Mod): fmod must be 0 or 1, got %lld", n->name,
                            (long long)fm);
        p->k = fm ? def->k_alt : def->k;
    } else if (strcmp(def->name, "BitShift") == 0) {
        const char *dir;
        KN_TRY(kn_attr_get_string(n, "direction", NULL, &dir));
        if (!dir)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (BitShift): missing required attribute 'direction'",
                            n->name);
        if (strcmp(dir, "LEFT") == 0)
            p->k = def->k;
        else if (strcmp(dir, "RIGHT") == 0)
            p->k = def->k_alt;
        else
            return kn_error(KILN_ERROR_MODEL, "node '%s' (BitShift): direction '%s' is not LEFT or RIGHT",
                            n->name, dir);
    }
    return KILN_OK;
}

static kiln_status binary_parse_into(const kn_node *n, const binary_def *def, binary_params *p)
{
    p->def = def;
    p->k = def->k;
    p->legacy_axis = -1;
    KN_TRY(parse_alt(n, def, p));
    if (def->legacy_attrs && n->opset < 7) {
        int64_t bc;
        KN_TRY(kn_attr_get_int(n, "broadcast", 0, &bc));
        p->legacy_bcast = bc != 0;
        if (p->legacy_bcast && kn_node_attr(n, "axis")) {
            KN_TRY(kn_attr_get_int(n, "axis", -1, &p->legacy_axis));
            if (p->legacy_axis < 0)
                return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): negative legacy broadcast axis %lld",
                                n->name, n->op_type, (long long)p->legacy_axis);
        }
    }
    return KILN_OK;
}

static kiln_status binary_parse(kn_node *n)
{
    const binary_def *def = find_def(n->op_type);
    if (!def)
        return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): no binary definition", n->name, n->op_type);
    binary_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = binary_parse_into(n, def, p);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* ---- shapes ---------------------------------------------------------------- */

/* Input i's dims as the broadcasting loop should see them (the legacy forms
 * view operand 1 with extra trailing 1s). */
static kiln_status operand_shape(const kn_op_ctx *c, int i, int *rank, int64_t *dims)
{
    const binary_params *p = c->params;
    const kiln_tensor *t = c->in[i], *a = c->in[0];
    *rank = t->rank;
    for (int d = 0; d < t->rank; d++)
        dims[d] = t->dims[d];
    if (i != 1)
        return KILN_OK;
    int trailing = 0;
    if (p->def->kind == BK_PRELU && c->node->opset < 7 && t->rank == 1 && a->rank >= 2 && t->dims[0] != 1)
        trailing = a->rank - 2; /* per-channel slope [C] -> [C,1,...] */
    else if (p->legacy_bcast && p->legacy_axis >= 0) {
        if (p->legacy_axis + t->rank > a->rank)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): legacy broadcast axis %lld does not fit B's rank %d "
                            "inside A's rank %d", c->node->name, c->node->op_type, (long long)p->legacy_axis,
                            t->rank, a->rank);
        trailing = a->rank - (int)p->legacy_axis - t->rank;
    }
    for (int d = 0; d < trailing; d++)
        dims[(*rank)++] = 1;
    return KILN_OK;
}

static kiln_status broadcast_all(const kn_op_ctx *c, int first, int last, int *rank, int64_t *dims)
{
    *rank = 0;
    for (int i = first; i <= last; i++) {
        if (!c->in[i])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): input %d is missing", c->node->name,
                            c->node->op_type, i);
        int r;
        int64_t d[KN_MAX_RANK];
        KN_TRY(operand_shape(c, i, &r, d));
        KN_TRY(kn_broadcast_shape(c, *rank, dims, r, d, rank, dims));
    }
    return KILN_OK;
}

/* A dtype of a class the op has no kernels for (float into And, bool into
 * Add) is a model error; a missing member of a class the op handles is
 * reported as unsupported. */
static kiln_status dtype_refused(const kn_op_ctx *c, int input, kiln_dtype dt)
{
    const kn_ew_row_fn *k = ((const binary_params *)c->params)->k;
    bool handles_class = (kn_ew_is_float(dt) && k && k[KILN_DTYPE_FLOAT]) ||
                         (kn_ew_is_int(dt) && k && (k[KILN_DTYPE_INT32] || k[KILN_DTYPE_UINT32]));
    kiln_status code = handles_class ? KILN_ERROR_UNSUPPORTED : KILN_ERROR_DTYPE;
    return kn_error(code, "node '%s' (%s): input %d has dtype %s, which kiln does not support for this op",
                    c->node->name, c->node->op_type, input, kiln_dtype_name(dt));
}

static kiln_status same_dtypes(const kn_op_ctx *c, int first, int last)
{
    for (int i = first + 1; i <= last; i++)
        if (c->in[i]->dtype != c->in[first]->dtype)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input %d has dtype %s but input %d has %s",
                            c->node->name, c->node->op_type, i, kiln_dtype_name(c->in[i]->dtype), first,
                            kiln_dtype_name(c->in[first]->dtype));
    return KILN_OK;
}

static bool has_kernel(const kn_ew_row_fn *k, kiln_dtype dt)
{
    return (unsigned)dt < KN_EW_DTYPES && k[dt] != NULL;
}

static kiln_status binary_infer(kn_op_ctx *c)
{
    const binary_params *p = c->params;
    const binary_def *def = p->def;
    int rank;
    int64_t dims[KN_MAX_RANK];
    kiln_dtype out_dt;
    switch (def->kind) {
    case BK_VARIADIC:
        KN_TRY(kn_check_arity(c, 1, c->n_in, 1, 1));
        KN_TRY(broadcast_all(c, 0, c->n_in - 1, &rank, dims));
        KN_TRY(same_dtypes(c, 0, c->n_in - 1));
        out_dt = c->in[0]->dtype;
        if (!has_kernel(p->k, out_dt))
            return dtype_refused(c, 0, out_dt);
        break;
    case BK_WHERE:
        KN_TRY(kn_check_arity(c, 3, 3, 1, 1));
        if (c->in[0]->dtype != KILN_DTYPE_BOOL)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (Where): condition has dtype %s, expected bool",
                            c->node->name, kiln_dtype_name(c->in[0]->dtype));
        KN_TRY(same_dtypes(c, 1, 2));
        out_dt = c->in[1]->dtype;
        if (!where_kernel(out_dt))
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (Where): dtype %s is not supported", c->node->name,
                            kiln_dtype_name(out_dt));
        KN_TRY(broadcast_all(c, 0, 2, &rank, dims));
        break;
    case BK_POW:
        KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
        out_dt = c->in[0]->dtype;
        for (int i = 0; i < 2; i++)
            if (!kn_ew_is_float(c->in[i]->dtype) && !kn_ew_is_int(c->in[i]->dtype))
                return dtype_refused(c, i, c->in[i]->dtype);
        KN_TRY(broadcast_all(c, 0, 1, &rank, dims));
        break;
    default:
        KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
        KN_TRY(same_dtypes(c, 0, 1));
        if (!has_kernel(p->k, c->in[0]->dtype))
            return dtype_refused(c, 0, c->in[0]->dtype);
        out_dt = def->out_bool ? KILN_DTYPE_BOOL : c->in[0]->dtype;
        KN_TRY(broadcast_all(c, 0, 1, &rank, dims));
        if (def->kind == BK_PRELU) {
            const kiln_tensor *x = c->in[0];
            bool same = rank == x->rank;
            for (int d = 0; same && d < rank; d++)
                same = dims[d] == x->dims[d];
            char a[96], b[96];
            if (!same)
                return kn_error(KILN_ERROR_SHAPE, "node '%s' (PRelu): slope %s does not broadcast to X %s",
                                c->node->name, kn_shape_str(c->in[1], b, sizeof b), kn_shape_str(x, a, sizeof a));
        }
        break;
    }
    return kn_set_output(c, 0, out_dt, rank, dims);
}

/* ---- run ------------------------------------------------------------------ */

typedef struct operand_buf {
    kn_ew_operand op[KN_EW_MAX_INPUTS];
    int64_t dims[KN_EW_MAX_INPUTS][KN_MAX_RANK];
} operand_buf;

static kiln_status make_operand(const kn_op_ctx *c, int i, operand_buf *b, int slot)
{
    const kiln_tensor *t = c->in[i];
    KN_TRY(operand_shape(c, i, &b->op[slot].rank, b->dims[slot]));
    b->op[slot].data = t->data;
    b->op[slot].elem_size = t->dtype == KILN_DTYPE_STRING ? sizeof(char *) : kiln_dtype_size(t->dtype);
    b->op[slot].dims = b->dims[slot];
    return KILN_OK;
}

static void copy_row(void *out_, const void *const *in_, const int64_t *st_, int64_t n_, const void *ctx_)
{
    size_t es = *(const size_t *)ctx_;
    (void)st_;
    memcpy(out_, in_[0], (size_t)n_ * es);
}

/* Mean = Sum / n, dividing in place by a scalar of the output dtype. */
static void divide_by_count(kn_op_ctx *c, int n)
{
    kiln_tensor *y = c->out[0];
    unsigned char scalar[8];
    switch (y->dtype) {
    case KILN_DTYPE_FLOAT: { float v = (float)n; memcpy(scalar, &v, sizeof v); break; }
    case KILN_DTYPE_DOUBLE: { double v = n; memcpy(scalar, &v, sizeof v); break; }
    case KILN_DTYPE_FLOAT16: { uint16_t v = kn_float_to_half((float)n); memcpy(scalar, &v, sizeof v); break; }
    default: { uint16_t v = kn_float_to_bf16((float)n); memcpy(scalar, &v, sizeof v); break; }
    }
    size_t es = kiln_dtype_size(y->dtype);
    kn_ew_operand ops[2] = {{y->data, es, y->rank, y->dims}, {scalar, es, 0, NULL}};
    kn_ew_broadcast(2, ops, y->data, es, y->rank, y->dims, div_k[y->dtype], NULL, c->pool);
}

static kiln_status run_variadic(kn_op_ctx *c, const binary_params *p)
{
    kiln_tensor *y = c->out[0];
    size_t es = kiln_dtype_size(y->dtype);
    kn_ew_row_fn fn = p->k[y->dtype];
    operand_buf b;
    if (c->n_in == 1) {
        KN_TRY(make_operand(c, 0, &b, 0));
        kn_ew_broadcast(1, b.op, y->data, es, y->rank, y->dims, copy_row, &es, c->pool);
        return KILN_OK;
    }
    KN_TRY(make_operand(c, 0, &b, 0));
    KN_TRY(make_operand(c, 1, &b, 1));
    kn_ew_broadcast(2, b.op, y->data, es, y->rank, y->dims, fn, NULL, c->pool);
    /* Fold the rest into the output, which has the full broadcast shape. */
    for (int i = 2; i < c->n_in; i++) {
        b.op[0] = (kn_ew_operand){y->data, es, y->rank, y->dims};
        KN_TRY(make_operand(c, i, &b, 1));
        kn_ew_broadcast(2, b.op, y->data, es, y->rank, y->dims, fn, NULL, c->pool);
    }
    if (strcmp(p->def->name, "Mean") == 0)
        divide_by_count(c, c->n_in);
    return KILN_OK;
}

static kiln_status binary_run(kn_op_ctx *c)
{
    const binary_params *p = c->params;
    kiln_tensor *y = c->out[0];
    size_t es = kn_elem_size(y->dtype);
    operand_buf b;
    switch (p->def->kind) {
    case BK_VARIADIC:
        return run_variadic(c, p);
    case BK_WHERE:
        for (int i = 0; i < 3; i++)
            KN_TRY(make_operand(c, i, &b, i));
        kn_ew_broadcast(3, b.op, y->data, es, y->rank, y->dims, where_kernel(y->dtype), NULL, c->pool);
        return KILN_OK;
    case BK_POW: {
        KN_TRY(make_operand(c, 0, &b, 0));
        KN_TRY(make_operand(c, 1, &b, 1));
        pow_ctx q = {c->in[0]->dtype, c->in[1]->dtype};
        kn_ew_row_fn fn = q.ta == q.tb && has_kernel(p->k, q.ta) ? p->k[q.ta] : pow_mixed;
        kn_ew_broadcast(2, b.op, y->data, es, y->rank, y->dims, fn, &q, c->pool);
        return KILN_OK;
    }
    default:
        KN_TRY(make_operand(c, 0, &b, 0));
        KN_TRY(make_operand(c, 1, &b, 1));
        kn_ew_broadcast(2, b.op, y->data, es, y->rank, y->dims, p->k[c->in[0]->dtype], NULL, c->pool);
        return KILN_OK;
    }
}

/* ---- descriptors -------------------------------------------------------- */

/* TYPES (of input TI) must list exactly the dtypes the op's kernel table in
 * defs fills; Pow's base takes any numeric type (pow_mixed), Where any type
 * where_kernel can move. */
#define B(NAME, SINCE, TYPES, TI)                                                                         \
    {.domain = "", .name = NAME, .since_min = SINCE, .parse = binary_parse, .infer = binary_infer, .run = binary_run, \
     .types = TYPES, .type_input = TI}

static const kiln_dtype equal_types[] = {KILN_DTYPE_FLOAT,  KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16,
                                         KILN_DTYPE_INT8,   KILN_DTYPE_INT16,  KILN_DTYPE_INT32,   KILN_DTYPE_INT64,
                                         KILN_DTYPE_UINT8,  KILN_DTYPE_UINT16, KILN_DTYPE_UINT32,  KILN_DTYPE_UINT64,
                                         KILN_DTYPE_BOOL,   KILN_DTYPE_STRING, KILN_DTYPE_UNDEFINED};
static const kiln_dtype unsigned_types[] = {KILN_DTYPE_UINT8, KILN_DTYPE_UINT16, KILN_DTYPE_UINT32, KILN_DTYPE_UINT64,
                                            KILN_DTYPE_UNDEFINED};
static const kiln_dtype where_types[] = {KILN_DTYPE_FLOAT,  KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16,
                                         KILN_DTYPE_INT8,   KILN_DTYPE_INT16,  KILN_DTYPE_INT32,   KILN_DTYPE_INT64,
                                         KILN_DTYPE_UINT8,  KILN_DTYPE_UINT16, KILN_DTYPE_UINT32,  KILN_DTYPE_UINT64,
                                         KILN_DTYPE_BOOL,   KILN_DTYPE_COMPLEX64, KILN_DTYPE_STRING,
                                         KILN_DTYPE_UNDEFINED};

const kn_op kn_ops_binary[] = {
    B("Add", 1, kn_types_numeric, 0),
    B("Sub", 1, kn_types_numeric, 0),
    B("Mul", 1, kn_types_numeric, 0),
    B("Div", 1, kn_types_numeric, 0),
    B("Mod", 10, kn_types_numeric, 0),
    B("Pow", 1, kn_types_numeric, 0),
    B("PRelu", 1, kn_types_numeric, 0),
    B("Max", 1, kn_types_numeric, 0),
    B("Min", 1, kn_types_numeric, 0),
    B("Sum", 1, kn_types_numeric, 0),
    B("Mean", 1, kn_types_float, 0),
    B("Equal", 1, equal_types, 0),
    B("Less", 1, kn_types_numeric, 0),
    B("Greater", 1, kn_types_numeric, 0),
    B("LessOrEqual", 12, kn_types_numeric, 0),
    B("GreaterOrEqual", 12, kn_types_numeric, 0),
    B("And", 1, kn_types_bool, 0),
    B("Or", 1, kn_types_bool, 0),
    B("Xor", 1, kn_types_bool, 0),
    B("BitShift", 11, unsigned_types, 0),
    {.domain = "", .name = "Where", .since_min = 9, .parse = binary_parse, .infer = binary_infer, .run = binary_run,
     .types = where_types, .type_input = 1, .flags = KN_OP_BORROWS_STRINGS},
    B("BitwiseAnd", 18, kn_types_int, 0),
    B("BitwiseOr", 18, kn_types_int, 0),
    B("BitwiseXor", 18, kn_types_int, 0),
};
KN_FAMILY_COUNT(binary);
