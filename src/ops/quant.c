/* Quantization ops: QuantizeLinear, DequantizeLinear (per tensor, per axis
 * and blocked), DynamicQuantizeLinear, MatMulInteger, QLinearMatMul,
 * ConvInteger and QLinearConv. Reference kernels: products accumulate in
 * int32, requantization rounds half to even and saturates.
 *
 * Quantized element types: uint8, int8, uint16, int16 (and int32 as a
 * DequantizeLinear input); QuantizeLinear / DequantizeLinear also take
 * int4, uint4, int2, uint2 (rounded and saturated like the others) and the
 * float8 types and float4e2m1 (x / scale converted with round to nearest
 * even, saturating unless `saturate` is 0 for float8; float4 always
 * saturates).
 *
 * Rounding follows the ONNX reference: QuantizeLinear divides in float32
 * before rounding; the QLinear ops form the multiplier
 * x_scale * w_scale / y_scale in the scales' precision (float16 scales round
 * after each operation, as numpy does) and apply it to the int32
 * accumulator in double. */
#include "core/dtype_small.h"
#include "ops/conv_ref.h"
#include "ops/families.h"

#include <math.h>
#include <string.h>

/* ---- element access -------------------------------------------------------- */

/* float8 (not e8m0, a scale format) and float4e2m1 */
static bool is_quant_float(kiln_dtype t)
{
    return kn_dtype_is_small_float(t) && t != KILN_DTYPE_FLOAT8E8M0;
}

static bool is_quant_type(kiln_dtype t)
{
    return t == KILN_DTYPE_UINT8 || t == KILN_DTYPE_INT8 || t == KILN_DTYPE_UINT16 || t == KILN_DTYPE_INT16 ||
           kn_dtype_is_small_int(t) || is_quant_float(t);
}

static bool is_scale_type(kiln_dtype t)
{
    return t == KILN_DTYPE_FLOAT || t == KILN_DTYPE_FLOAT16 || t == KILN_DTYPE_BFLOAT16;
}

static void quant_range(kiln_dtype t, int32_t *lo, int32_t *hi)
{
    switch (t) {
    case KILN_DTYPE_INT8:
        *lo = -128, *hi = 127;
        break;
    case KILN_DTYPE_UINT16:
        *lo = 0, *hi = 65535;
        break;
    case KILN_DTYPE_INT16:
        *lo = -32768, *hi = 32767;
        break;
    case KILN_DTYPE_INT32:
        *lo = INT32_MIN, *hi = INT32_MAX;
        break;
    case KILN_DTYPE_INT4: case KILN_DTYPE_UINT4: case KILN_DTYPE_INT2: case KILN_DTYPE_UINT2:
        kn_small_int_range(t, lo, hi);
        break;
    default:
        *lo = 0, *hi = 255;
        break;
    }
}

static int32_t qget(const kiln_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case KILN_DTYPE_UINT8:
        return ((const uint8_t *)t->data)[i];
    case KILN_DTYPE_INT8:
        return ((const int8_t *)t->data)[i];
    case KILN_DTYPE_UINT16:
        return ((const uint16_t *)t->data)[i];
    case KILN_DTYPE_INT16:
        return ((const int16_t *)t->data)[i];
    case KILN_DTYPE_INT32:
        return ((const int32_t *)t->data)[i];
    case KILN_DTYPE_INT4: case KILN_DTYPE_INT2: /* unpacked, sign-extended */
        return ((const int8_t *)t->data)[i];
    case KILN_DTYPE_UINT4: case KILN_DTYPE_UINT2:
        return ((const uint8_t *)t->data)[i];
    default:
        return 0;
    }
}

/* Round half to even, add the zero point, saturate, store. */
static void qput(kiln_tensor *t, int64_t i, double v, int32_t zp)
{
    int32_t lo, hi;
    quant_range(t->dtype, &lo, &hi);
    double r = nearbyint(v) + zp;
    r = r < lo ? lo : r > hi ? hi : r;
    switch (t->dtype) {
    case KILN_DTYPE_UINT8:
        ((uint8_t *)t->data)[i] = (uint8_t)r;
        break;
    case KILN_DTYPE_INT8:
        ((int8_t *)t->data)[i] = (int8_t)r;
        break;
    case KILN_DTYPE_UINT16:
        ((uint16_t *)t->data)[i] = (uint16_t)r;
        break;
    case KILN_DTYPE_INT16:
        ((int16_t *)t->data)[i] = (int16_t)r;
        break;
    case KILN_DTYPE_INT4: case KILN_DTYPE_INT2:
        ((int8_t *)t->data)[i] = (int8_t)r;
        break;
    case KILN_DTYPE_UINT4: case KILN_DTYPE_UINT2:
        ((uint8_t *)t->data)[i] = (uint8_t)r;
        break;
    default:
        break;
    }
}

static float fget(const kiln_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case KILN_DTYPE_FLOAT:
        return ((const float *)t->data)[i];
    case KILN_DTYPE_FLOAT16:
        return kn_half_to_float(((const uint16_t *)t->data)[i]);
    case KILN_DTYPE_BFLOAT16:
        return kn_bf16_to_float(((const uint16_t *)t->data)[i]);
    case KILN_DTYPE_DOUBLE:
        return (float)((const double *)t->data)[i];
    case KILN_DTYPE_INT32:
        return (float)((const int32_t *)t->data)[i];
    default:
        return 0;
    }
}

static void fput(kiln_tensor *t, int64_t i, float v)
{
    switch (t->dtype) {
    case KILN_DTYPE_FLOAT:
        ((float *)t->data)[i] = v;
        break;
    case KILN_DTYPE_FLOAT16:
        ((uint16_t *)t->data)[i] = kn_float_to_half(v);
        break;
    case KILN_DTYPE_BFLOAT16:
        ((uint16_t *)t->data)[i] = kn_float_to_bf16(v);
        break;
    default:
        break;
    }
}

/* Round a float to the precision of dtype (float16 / bfloat16 arithmetic). */
static float in_precision(kiln_dtype t, float v)
{
    if (t == KILN_DTYPE_FLOAT16)
        return kn_half_to_float(kn_float_to_half(v));
    if (t == KILN_DTYPE_BFLOAT16)
        return kn_bf16_to_float(kn_float_to_bf16(v));
    return v;
}

static const kiln_tensor *opt_in(const kn_op_ctx *c, int i)
{
    return i < c->n_in ? c->in[i] : NULL;
}

static kiln_status unsupported_dtype(const kn_op_ctx *c, const char *what, kiln_dtype t)
{
    return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): %s of type %s is not supported", c->node->name,
                    c->node->op_type, what, kiln_dtype_name(t));
}

/* ---- QuantizeLinear / DequantizeLinear ------------------------------------- */

typedef struct ql_params {
    int64_t axis, block_size, output_dtype;
    int64_t saturate;  /* QuantizeLinear to float8 */
    int64_t precision; /* QuantizeLinear: dtype the division runs in, 0 = float32 */
} ql_params;

static kiln_status ql_parse(kn_node *n)
{
    ql_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "axis", 1, &p->axis);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "block_size", 0, &p->block_size);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "output_dtype", 0, &p->output_dtype);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "saturate", 1, &p->saturate);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "precision", 0, &p->precision);
    if (s == KILN_OK && p->precision != 0 && !is_scale_type((kiln_dtype)p->precision))
        s = kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): precision %lld is not supported", n->name, n->op_type,
                     (long long)p->precision);
    if (s == KILN_OK && p->block_size < 0)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): block_size is %lld", n->name, n->op_type,
                     (long long)p->block_size);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

typedef enum q_mode { Q_TENSOR, Q_AXIS, Q_BLOCK } q_mode;

/* How element idx of x finds its scale: x viewed as [outer, n, inner]
 * around the axis; blocks of bs along the axis share a scale (nb blocks). */
typedef struct q_geom {
    q_mode mode;
    int64_t n, inner, nb, bs;
} q_geom;

static int64_t q_index(const q_geom *g, int64_t idx)
{
    if (g->mode == Q_TENSOR)
        return 0;
    int64_t k = (idx / g->inner) % g->n;
    if (g->mode == Q_AXIS)
        return k;
    int64_t o = idx / (g->inner * g->n), i = idx % g->inner;
    return (o * g->nb + k / g->bs) * g->inner + i;
}

static kiln_status q_geometry(const kn_op_ctx *c, int scale_in, int zp_in, q_geom *g)
{
    const ql_params *p = c->params;
    const kn_node *n = c->node;
    const kiln_tensor *x = c->in[0], *s = c->in[scale_in], *zp = opt_in(c, zp_in);
    char b1[96], b2[96];
    memset(g, 0, sizeof *g);
    g->n = g->inner = g->nb = g->bs = 1;
    /* a one-element zero point may be [1] next to a scalar scale or the
     * other way round (ONNX's own test data does it; the reference reads
     * both as scalars) */
    bool both_single = zp && kn_tensor_count(s) == 1 && kn_tensor_count(zp) == 1 && s->rank <= 1 && zp->rank <= 1;
    if (zp && !both_single && !kn_same_shape(s, zp))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): zero point has shape %s but scale has %s", n->name,
                        n->op_type, kn_shape_str(zp, b1, sizeof b1), kn_shape_str(s, b2, sizeof b2));
    if (p->block_size == 0 && kn_tensor_count(s) == 1 && s->rank <= 1) {
        g->mode = Q_TENSOR;
        return KILN_OK;
    }
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, x->rank, &axis));
    g->n = x->dims[axis];
    for (int i = axis + 1; i < x->rank; i++)
        g->inner *= x->dims[i];
    if (p->block_size == 0) {
        if (s->rank != 1 || s->dims[0] != g->n)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): scale has shape %s, expected a scalar or [%lld]",
                            n->name, n->op_type, kn_shape_str(s, b1, sizeof b1), (long long)g->n);
        g->mode = Q_AXIS;
        return KILN_OK;
    }
    g->mode = Q_BLOCK;
    g->bs = p->block_size;
    g->nb = (g->n + g->bs - 1) / g->bs;
    bool ok = s->rank == x->rank;
    for (int i = 0; ok && i < x->rank; i++)
        ok = s->dims[i] == (i == axis ? g->nb : x->dims[i]);
    if (!ok)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): scale has shape %s, expected %s with dim %d = %lld blocks",
                        n->name, n->op_type, kn_shape_str(s, b1, sizeof b1), kn_shape_str(x, b2, sizeof b2), axis,
                        (long long)g->nb);
    return KILN_OK;
}

/* Input 0's dtypes (kn_op.types). */
static const kiln_dtype quantize_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16, KILN_DTYPE_INT32,
                                            KILN_DTYPE_UNDEFINED};
static const kiln_dtype dequantize_types[] = {
    KILN_DTYPE_UINT8,          KILN_DTYPE_INT8,      KILN_DTYPE_UINT16,          KILN_DTYPE_INT16,
    KILN_DTYPE_INT32,          KILN_DTYPE_UINT4,     KILN_DTYPE_INT4,            KILN_DTYPE_UINT2,
    KILN_DTYPE_INT2,           KILN_DTYPE_FLOAT8E4M3FN, KILN_DTYPE_FLOAT8E4M3FNUZ, KILN_DTYPE_FLOAT8E5M2,
    KILN_DTYPE_FLOAT8E5M2FNUZ, KILN_DTYPE_FLOAT4E2M1, KILN_DTYPE_UNDEFINED};
static const kiln_dtype int8_types[] = {KILN_DTYPE_UINT8, KILN_DTYPE_INT8, KILN_DTYPE_UNDEFINED};
static const kiln_dtype dynq_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_UNDEFINED};

static kiln_status quantize_infer(kn_op_ctx *c)
{
    const ql_params *p = c->params;
    KN_TRY(kn_check_arity(c, 2, 3, 1, 1));
    const kiln_tensor *s = c->in[1], *zp = opt_in(c, 2);
    if (!is_scale_type(s->dtype))
        return unsupported_dtype(c, "y_scale", s->dtype);
    kiln_dtype out = p->output_dtype ? (kiln_dtype)p->output_dtype : zp ? zp->dtype : KILN_DTYPE_UINT8;
    if (zp && p->output_dtype && zp->dtype != (kiln_dtype)p->output_dtype)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): y_zero_point is %s but output_dtype is %lld", c->node->name,
                        c->node->op_type, kiln_dtype_name(zp->dtype), (long long)p->output_dtype);
    if (!is_quant_type(out))
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): output type %d is not supported", c->node->name,
                        c->node->op_type, (int)out);
    q_geom g;
    KN_TRY(q_geometry(c, 1, 2, &g));
    return kn_set_output(c, 0, out, c->in[0]->rank, c->in[0]->dims);
}

/* The ONNX spec requires float8 zero points to be zero: they shift nothing. */
static kiln_status check_float8_zero_point(const kn_op_ctx *c, const kiln_tensor *zp, const char *what)
{
    if (!zp || !is_quant_float(zp->dtype) || zp->dtype == KILN_DTYPE_FLOAT4E2M1)
        return KILN_OK;
    int64_t n = kn_tensor_count(zp);
    for (int64_t i = 0; i < n; i++)
        if (kn_small_to_float(zp->dtype, ((const uint8_t *)zp->data)[i]) != 0.0f)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %s of type %s must be zero", c->node->name,
                            c->node->op_type, what, kiln_dtype_name(zp->dtype));
    return KILN_OK;
}

static float zp_float(const kiln_tensor *zp, int64_t q)
{
    return zp ? kn_small_to_float(zp->dtype, ((const uint8_t *)zp->data)[q]) : 0.0f;
}

static kiln_status quantize_run(kn_op_ctx *c)
{
    const ql_params *p = c->params;
    const kiln_tensor *x = c->in[0], *s = c->in[1], *zp = opt_in(c, 2);
    kiln_tensor *y = c->out[0];
    q_geom g;
    KN_TRY(q_geometry(c, 1, 2, &g));
    KN_TRY(check_float8_zero_point(c, zp, "y_zero_point"));
    kiln_dtype prec = p->precision ? (kiln_dtype)p->precision : KILN_DTYPE_FLOAT;
    bool to_float = is_quant_float(y->dtype);
    int64_t count = kn_tensor_count(x);
    for (int64_t i = 0; i < count; i++) {
        int64_t q = q_index(&g, i);
        /* division in float32 (or the precision attribute's type) first,
         * then round: what the reference does */
        float v = in_precision(prec, in_precision(prec, fget(x, i)) / in_precision(prec, fget(s, q)));
        if (to_float)
            ((uint8_t *)y->data)[i] = kn_float_to_small(y->dtype, v + zp_float(zp, q), p->saturate != 0);
        else
            qput(y, i, v, zp ? qget(zp, q) : 0);
    }
    return KILN_OK;
}

static kiln_status dequantize_infer(kn_op_ctx *c)
{
    const ql_params *p = c->params;
    KN_TRY(kn_check_arity(c, 2, 3, 1, 1));
    const kiln_tensor *x = c->in[0], *s = c->in[1], *zp = opt_in(c, 2);
    if (!is_scale_type(s->dtype))
        return unsupported_dtype(c, "x_scale", s->dtype);
    if (zp && zp->dtype != x->dtype)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): x_zero_point is %s but x is %s", c->node->name,
                        c->node->op_type, kiln_dtype_name(zp->dtype), kiln_dtype_name(x->dtype));
    kiln_dtype out = p->output_dtype ? (kiln_dtype)p->output_dtype : s->dtype;
    if (!is_scale_type(out))
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): output type %d is not supported", c->node->name,
                        c->node->op_type, (int)out);
    q_geom g;
    KN_TRY(q_geometry(c, 1, 2, &g));
    return kn_set_output(c, 0, out, x->rank, x->dims);
}

static kiln_status dequantize_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0], *s = c->in[1], *zp = opt_in(c, 2);
    kiln_tensor *y = c->out[0];
    q_geom g;
    KN_TRY(q_geometry(c, 1, 2, &g));
    KN_TRY(check_float8_zero_point(c, zp, "x_zero_point"));
    int64_t count = kn_tensor_count(x);
    if (is_quant_float(x->dtype)) {
        const uint8_t *xv = x->data;
        for (int64_t i = 0; i < count; i++) {
            int64_t q = q_index(&g, i);
            fput(y, i, (kn_small_to_float(x->dtype, xv[i]) - zp_float(zp, q)) * fget(s, q));
        }
        return KILN_OK;
    }
    for (int64_t i = 0; i < count; i++) {
        int64_t q = q_index(&g, i);
        /* the difference in integers: int32 inputs would lose bits in float */
        int64_t d = (int64_t)qget(x, i) - (zp ? qget(zp, q) : 0);
        fput(y, i, (float)d * fget(s, q));
    }
    return KILN_OK;
}

/* ---- DynamicQuantizeLinear ------------------------------------------------- */

static kiln_status dynq_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 3));
    KN_TRY(kn_set_output(c, 0, KILN_DTYPE_UINT8, c->in[0]->rank, c->in[0]->dims));
    if (c->n_out > 1 && c->out[1])
        KN_TRY(kn_set_output(c, 1, KILN_DTYPE_FLOAT, 0, NULL));
    if (c->n_out > 2 && c->out[2])
        KN_TRY(kn_set_output(c, 2, KILN_DTYPE_UINT8, 0, NULL));
    return KILN_OK;
}

static kiln_status dynq_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    const float *xd = x->data;
    int64_t count = kn_tensor_count(x);
    /* the range always includes 0 so that 0 is exactly representable */
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < count; i++) {
        lo = xd[i] < lo ? xd[i] : lo;
        hi = xd[i] > hi ? xd[i] : hi;
    }
    float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    float zpf = nearbyintf(-lo / scale);
    uint8_t zp = (uint8_t)(zpf < 0 ? 0 : zpf > 255 ? 255 : zpf);
    for (int64_t i = 0; i < count; i++)
        qput(c->out[0], i, xd[i] / scale, zp);
    if (c->n_out > 1 && c->out[1])
        *(float *)c->out[1]->data = scale;
    if (c->n_out > 2 && c->out[2])
        *(uint8_t *)c->out[2]->data = zp;
    return KILN_OK;
}

/* ---- integer matrix products -------------------------------------------------
 * MatMulInteger and QLinearMatMul share the numpy matmul geometry and the
 * int32 accumulation. Zero points (and QLinearMatMul's scales) of A may be
 * per tensor or per row; those of B per tensor or per column. */

typedef enum qp_mode { QP_TENSOR, QP_VEC, QP_BATCHED } qp_mode;

typedef struct mm_geom {
    int rank;                   /* output rank */
    int64_t dims[KN_MAX_RANK];  /* output dims */
    int64_t M, N, K, batch;     /* batch: product of output batch dims */
    int64_t a_str[KN_MAX_RANK], b_str[KN_MAX_RANK]; /* batch strides (elements of A / B matrices) */
    int nb;                                         /* batch rank */
    int64_t bdims[KN_MAX_RANK];
} mm_geom;

static kiln_status mm_geometry(const kn_op_ctx *c, const kiln_tensor *a, const kiln_tensor *b, mm_geom *g)
{
    const kn_node *n = c->node;
    memset(g, 0, sizeof *g);
    if (a->rank < 1 || b->rank < 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): matmul inputs must have at least 1 dim", n->name,
                        n->op_type);
    int ra = a->rank, rb = b->rank;
    g->M = ra >= 2 ? a->dims[ra - 2] : 1;
    g->K = a->dims[ra - 1];
    int64_t kb = rb >= 2 ? b->dims[rb - 2] : b->dims[0];
    g->N = rb >= 2 ? b->dims[rb - 1] : 1;
    if (kb != g->K)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): inner dimensions differ (%lld vs %lld)", n->name,
                        n->op_type, (long long)g->K, (long long)kb);
    int bra = ra > 2 ? ra - 2 : 0, brb = rb > 2 ? rb - 2 : 0;
    KN_TRY(kn_broadcast_shape(c, bra, a->dims, brb, b->dims, &g->nb, g->bdims));
    /* strides in whole matrices of each operand along the output batch dims */
    int64_t ea[KN_MAX_RANK] = {0}, eb[KN_MAX_RANK] = {0};
    kn_broadcast_strides(bra, a->dims, g->nb, g->bdims, ea);
    kn_broadcast_strides(brb, b->dims, g->nb, g->bdims, eb);
    memcpy(g->a_str, ea, sizeof ea);
    memcpy(g->b_str, eb, sizeof eb);
    g->batch = 1;
    for (int i = 0; i < g->nb; i++) {
        g->batch *= g->bdims[i];
        g->dims[g->rank++] = g->bdims[i];
    }
    if (ra >= 2)
        g->dims[g->rank++] = g->M;
    if (rb >= 2)
        g->dims[g->rank++] = g->N;
    return KILN_OK;
}

/* Batch index bi of the output -> matrix index within A and B. */
static void mm_batch_offsets(const mm_geom *g, int64_t bi, int64_t *ma, int64_t *mb)
{
    int64_t ia = 0, ib = 0;
    for (int d = g->nb - 1; d >= 0; d--) {
        int64_t k = bi % g->bdims[d];
        bi /= g->bdims[d];
        ia += k * g->a_str[d];
        ib += k * g->b_str[d];
    }
    *ma = ia;
    *mb = ib;
}

/* How a zero point / scale of an operand is laid out: for A per row (1-D
 * [M], or the operand's shape with the last dim 1), for B per column (1-D
 * [N], or the operand's shape with dim -2 equal to 1). */
static kiln_status qp_mode_of(const kn_op_ctx *c, const char *what, const kiln_tensor *q, const kiln_tensor *op,
                              bool is_a, int64_t len, qp_mode *mode)
{
    if (!q || kn_tensor_count(q) == 1) {
        *mode = QP_TENSOR;
        return KILN_OK;
    }
    if (q->rank == 1 && q->dims[0] == len) {
        *mode = QP_VEC;
        return KILN_OK;
    }
    if (q->rank == op->rank && op->rank >= 2) {
        bool ok = true;
        for (int i = 0; ok && i < op->rank; i++) {
            int64_t want = op->dims[i];
            if (i == op->rank - (is_a ? 1 : 2))
                want = 1;
            ok = q->dims[i] == want;
        }
        if (ok) {
            *mode = QP_BATCHED;
            return KILN_OK;
        }
    }
    char buf[96];
    return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): %s of shape %s is neither per tensor nor per %s",
                    c->node->name, c->node->op_type, what, kn_shape_str(q, buf, sizeof buf), is_a ? "row" : "column");
}

/* Index into a per-row / per-column parameter for matrix m (of the operand)
 * and row/column j. */
static int64_t qp_index(qp_mode mode, int64_t matrix, int64_t len, int64_t j)
{
    return mode == QP_TENSOR ? 0 : mode == QP_VEC ? j : matrix * len + j;
}

typedef struct mm_quant {
    qp_mode a_zp, b_zp;
} mm_quant;

/* acc[M x N] of output batch bi: sum_k (a - a_zp)(b - b_zp) in int32. */
static void mm_int_block(const mm_geom *g, const kiln_tensor *a, const kiln_tensor *b, const kiln_tensor *azp,
                         const kiln_tensor *bzp, const mm_quant *q, int64_t bi, int32_t *acc)
{
    int64_t ma, mb;
    mm_batch_offsets(g, bi, &ma, &mb);
    const int64_t M = g->M, N = g->N, K = g->K;
    for (int64_t i = 0; i < M; i++) {
        int32_t za = azp ? qget(azp, qp_index(q->a_zp, ma, M, i)) : 0;
        for (int64_t j = 0; j < N; j++) {
            int32_t zb = bzp ? qget(bzp, qp_index(q->b_zp, mb, N, j)) : 0;
            int32_t s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (qget(a, (ma * M + i) * K + k) - za) * (qget(b, (mb * K + k) * N + j) - zb);
            acc[i * N + j] = s;
        }
    }
}

static kiln_status check_int8ish(const kn_op_ctx *c, int i, const char *what)
{
    kiln_dtype t = c->in[i]->dtype;
    if (t != KILN_DTYPE_UINT8 && t != KILN_DTYPE_INT8)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): %s is %s, expected uint8 or int8", c->node->name,
                        c->node->op_type, what, kiln_dtype_name(t));
    return KILN_OK;
}

static kiln_status check_same_type(const kn_op_ctx *c, int i, int like, const char *what)
{
    if (opt_in(c, i) && c->in[i]->dtype != c->in[like]->dtype)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): %s is %s, expected %s like its input", c->node->name,
                        c->node->op_type, what, kiln_dtype_name(c->in[i]->dtype),
                        kiln_dtype_name(c->in[like]->dtype));
    return KILN_OK;
}

static kiln_status matmulint_quant(const kn_op_ctx *c, mm_geom *g, mm_quant *q)
{
    const kiln_tensor *a = c->in[0], *b = c->in[1];
    KN_TRY(mm_geometry(c, a, b, g));
    KN_TRY(qp_mode_of(c, "a_zero_point", opt_in(c, 2), a, true, g->M, &q->a_zp));
    return qp_mode_of(c, "b_zero_point", opt_in(c, 3), b, false, g->N, &q->b_zp);
}

static kiln_status matmulint_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 4, 1, 1));
    KN_TRY(check_int8ish(c, 1, "B"));
    KN_TRY(check_same_type(c, 2, 0, "a_zero_point"));
    KN_TRY(check_same_type(c, 3, 1, "b_zero_point"));
    mm_geom g;
    mm_quant q;
    KN_TRY(matmulint_quant(c, &g, &q));
    return kn_set_output(c, 0, KILN_DTYPE_INT32, g.rank, g.dims);
}

static kiln_status matmulint_run(kn_op_ctx *c)
{
    mm_geom g;
    mm_quant q;
    KN_TRY(matmulint_quant(c, &g, &q));
    int32_t *y = c->out[0]->data;
    for (int64_t bi = 0; bi < g.batch; bi++)
        mm_int_block(&g, c->in[0], c->in[1], opt_in(c, 2), opt_in(c, 3), &q, bi, y + bi * g.M * g.N);
    return KILN_OK;
}

/* QLinearMatMul inputs: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp. */
static kiln_status qlmm_quant(const kn_op_ctx *c, mm_geom *g, mm_quant *q, qp_mode *a_s, qp_mode *b_s)
{
    const kiln_tensor *a = c->in[0], *b = c->in[3];
    KN_TRY(mm_geometry(c, a, b, g));
    KN_TRY(qp_mode_of(c, "a_zero_point", c->in[2], a, true, g->M, &q->a_zp));
    KN_TRY(qp_mode_of(c, "b_zero_point", c->in[5], b, false, g->N, &q->b_zp));
    KN_TRY(qp_mode_of(c, "a_scale", c->in[1], a, true, g->M, a_s));
    KN_TRY(qp_mode_of(c, "b_scale", c->in[4], b, false, g->N, b_s));
    if (kn_tensor_count(c->in[6]) != 1 || kn_tensor_count(c->in[7]) != 1)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): only per-tensor y_scale / y_zero_point are supported",
                        c->node->name, c->node->op_type);
    return KILN_OK;
}

static kiln_status qlmm_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 8, 8, 1, 1));
    KN_TRY(check_int8ish(c, 3, "b"));
    KN_TRY(check_int8ish(c, 7, "y_zero_point"));
    KN_TRY(check_same_type(c, 2, 0, "a_zero_point"));
    KN_TRY(check_same_type(c, 5, 3, "b_zero_point"));
    for (int i = 1; i <= 6; i += i == 1 ? 3 : 2)
        if (!is_scale_type(c->in[i]->dtype))
            return unsupported_dtype(c, i == 1 ? "a_scale" : i == 4 ? "b_scale" : "y_scale", c->in[i]->dtype);
    mm_geom g;
    mm_quant q;
    qp_mode as, bs;
    KN_TRY(qlmm_quant(c, &g, &q, &as, &bs));
    return kn_set_output(c, 0, c->in[7]->dtype, g.rank, g.dims);
}

static kiln_status qlmm_prepare(kn_op_ctx *c)
{
    mm_geom g;
    mm_quant q;
    qp_mode as, bs;
    KN_TRY(qlmm_quant(c, &g, &q, &as, &bs));
    c->scratch_size = (size_t)(g.M * g.N) * sizeof(int32_t);
    return KILN_OK;
}

/* multiplier a_scale * b_scale / y_scale, each operation rounded to the
 * scales' type as the reference computes it */
static float requant_multiplier(kiln_dtype t, float sa, float sb, float sy)
{
    return in_precision(t, in_precision(t, sa * sb) / sy);
}

static kiln_status qlmm_run(kn_op_ctx *c)
{
    mm_geom g;
    mm_quant q;
    qp_mode as, bs;
    KN_TRY(qlmm_quant(c, &g, &q, &as, &bs));
    const kiln_tensor *sa = c->in[1], *sb = c->in[4], *sy = c->in[6];
    kiln_tensor *y = c->out[0];
    int32_t *acc = c->scratch;
    int32_t yzp = qget(c->in[7], 0);
    float ys = fget(sy, 0);
    for (int64_t bi = 0; bi < g.batch; bi++) {
        mm_int_block(&g, c->in[0], c->in[3], c->in[2], c->in[5], &q, bi, acc);
        int64_t ma, mb;
        mm_batch_offsets(&g, bi, &ma, &mb);
        for (int64_t i = 0; i < g.M; i++)
            for (int64_t j = 0; j < g.N; j++) {
                float m = requant_multiplier(sy->dtype, fget(sa, qp_index(as, ma, g.M, i)),
                                             fget(sb, qp_index(bs, mb, g.N, j)), ys);
                qput(y, (bi * g.M + i) * g.N + j, (double)acc[i * g.N + j] * m, yzp);
            }
    }
    return KILN_OK;
}

/* ---- ConvInteger / QLinearConv ----------------------------------------------- */

typedef struct qconv_attrs {
    kn_auto_pad auto_pad;
    int64_t group;
    size_t n_kernel, n_strides, n_dil, n_pads;
    int64_t kernel[KN_CONV_MAX_SPATIAL], strides[KN_CONV_MAX_SPATIAL], dil[KN_CONV_MAX_SPATIAL];
    int64_t pads[2 * KN_CONV_MAX_SPATIAL];
} qconv_attrs;

static kiln_status qconv_parse(kn_node *n)
{
    qconv_attrs *a = kn_calloc(1, sizeof *a);
    if (!a)
        return KN_NOMEM();
    kiln_status s = kn_parse_auto_pad(n, &a->auto_pad);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "group", 1, &a->group);
    if (s == KILN_OK && a->group < 1)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): group is %lld, must be at least 1", n->name, n->op_type,
                     (long long)a->group);
    if (s == KILN_OK)
        s = kn_attr_get_spatial_ints(n, "kernel_shape", KN_CONV_MAX_SPATIAL, 1, a->kernel, &a->n_kernel);
    if (s == KILN_OK)
        s = kn_attr_get_spatial_ints(n, "strides", KN_CONV_MAX_SPATIAL, 1, a->strides, &a->n_strides);
    if (s == KILN_OK)
        s = kn_attr_get_spatial_ints(n, "dilations", KN_CONV_MAX_SPATIAL, 1, a->dil, &a->n_dil);
    if (s == KILN_OK)
        s = kn_attr_get_spatial_ints(n, "pads", 2 * KN_CONV_MAX_SPATIAL, 0, a->pads, &a->n_pads);
    if (s != KILN_OK) {
        kn_free(a);
        return s;
    }
    n->params = a;
    return KILN_OK;
}

static kiln_status check_count(const kn_node *n, const char *name, size_t got, size_t want)
{
    if (got != 0 && got != want)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %s has %zu entries, expected %zu", n->name, n->op_type,
                        name, got, want);
    return KILN_OK;
}

/* Conv geometry of x [N, C, in...] and w [M, C/group, k...]. */
static kiln_status qconv_geometry(const kn_op_ctx *c, const kiln_tensor *x, const kiln_tensor *w, kn_conv_params *p)
{
    const qconv_attrs *a = c->params;
    const kn_node *n = c->node;
    memset(p, 0, sizeof *p);
    if (x->rank < 3 || w->rank != x->rank)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has %d dims and weight %d; expected equal ranks >= 3",
                        n->name, n->op_type, x->rank, w->rank);
    p->nsp = x->rank - 2;
    if (p->nsp > KN_CONV_MAX_SPATIAL)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): %d spatial dimensions (at most %d supported)",
                        n->name, n->op_type, p->nsp, KN_CONV_MAX_SPATIAL);
    p->N = x->dims[0];
    p->C = x->dims[1];
    p->M = w->dims[0];
    p->group = a->group;
    if (p->M % a->group != 0 || p->C != w->dims[1] * a->group)
        return kn_error(KILN_ERROR_SHAPE,
                        "node '%s' (%s): input has %lld channels and weight %lld x %lld, which does not fit group %lld",
                        n->name, n->op_type, (long long)p->C, (long long)p->M, (long long)w->dims[1],
                        (long long)a->group);
    int nsp = p->nsp;
    KN_TRY(check_count(n, "kernel_shape", a->n_kernel, (size_t)nsp));
    KN_TRY(check_count(n, "strides", a->n_strides, (size_t)nsp));
    KN_TRY(check_count(n, "dilations", a->n_dil, (size_t)nsp));
    KN_TRY(check_count(n, "pads", a->n_pads, 2 * (size_t)nsp));
    for (int i = 0; i < nsp; i++) {
        p->k[i] = w->dims[2 + i];
        if (p->k[i] < 1 || (a->n_kernel && a->kernel[i] != p->k[i]))
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): kernel dim %d is %lld, kernel_shape says %lld",
                            n->name, n->op_type, i, (long long)p->k[i], (long long)(a->n_kernel ? a->kernel[i] : 0));
        int64_t pad_end;
        p->in[i] = x->dims[2 + i];
        p->stride[i] = a->n_strides ? a->strides[i] : 1;
        p->dil[i] = a->n_dil ? a->dil[i] : 1;
        KN_TRY(kn_window_dim(n, i, nsp, a->auto_pad, p->in[i], p->k[i], p->stride[i], p->dil[i], a->pads, a->n_pads,
                             false, &p->out[i], &p->pad[i], &pad_end));
    }
    return KILN_OK;
}

/* Per tensor or per output channel ([M]) zero point / scale of the weight. */
static kiln_status per_channel(const kn_op_ctx *c, const char *what, const kiln_tensor *t, int64_t M)
{
    if (!t || kn_tensor_count(t) == 1 || (t->rank == 1 && t->dims[0] == M))
        return KILN_OK;
    char buf[96];
    return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %s has shape %s, expected a scalar or [%lld]", c->node->name,
                    c->node->op_type, what, kn_shape_str(t, buf, sizeof buf), (long long)M);
}

static kiln_status per_tensor(const kn_op_ctx *c, const char *what, const kiln_tensor *t)
{
    if (!t || kn_tensor_count(t) == 1)
        return KILN_OK;
    char buf[96];
    return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %s has shape %s, expected one element", c->node->name,
                    c->node->op_type, what, kn_shape_str(t, buf, sizeof buf));
}

static int64_t chan_index(const kiln_tensor *t, int64_t m)
{
    return kn_tensor_count(t) == 1 ? 0 : m;
}

/* acc[N, M, out...] = conv(x - x_zp, w - w_zp[m]) in int32. Padding taps
 * hold the zero point, so they contribute nothing and are skipped. */
static void conv_int_ref(const kn_conv_params *p, const kiln_tensor *x, const kiln_tensor *w,
                         const kiln_tensor *xzp, const kiln_tensor *wzp, int32_t *acc)
{
    int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1},
            pd[3] = {0, 0, 0};
    int off = 3 - p->nsp;
    for (int i = 0; i < p->nsp; i++) {
        in[off + i] = p->in[i];
        out[off + i] = p->out[i];
        k[off + i] = p->k[i];
        st[off + i] = p->stride[i];
        dl[off + i] = p->dil[i];
        pd[off + i] = p->pad[i];
    }
    int64_t cg = p->C / p->group, mg = p->M / p->group;
    int64_t in_sz = in[0] * in[1] * in[2], out_sz = out[0] * out[1] * out[2], k_sz = k[0] * k[1] * k[2];
    int32_t zx = xzp ? qget(xzp, 0) : 0;
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t m = 0; m < p->M; m++) {
            int64_t g = m / mg;
            int32_t zw = wzp ? qget(wzp, chan_index(wzp, m)) : 0;
            int32_t *dst = acc + (n * p->M + m) * out_sz;
            for (int64_t o0 = 0; o0 < out[0]; o0++)
                for (int64_t o1 = 0; o1 < out[1]; o1++)
                    for (int64_t o2 = 0; o2 < out[2]; o2++) {
                        int32_t s = 0;
                        for (int64_t ci = 0; ci < cg; ci++) {
                            int64_t xbase = (n * p->C + g * cg + ci) * in_sz;
                            int64_t wbase = (m * cg + ci) * k_sz;
                            for (int64_t k0 = 0; k0 < k[0]; k0++) {
                                int64_t i0 = o0 * st[0] - pd[0] + k0 * dl[0];
                                if (i0 < 0 || i0 >= in[0])
                                    continue;
                                for (int64_t k1 = 0; k1 < k[1]; k1++) {
                                    int64_t i1 = o1 * st[1] - pd[1] + k1 * dl[1];
                                    if (i1 < 0 || i1 >= in[1])
                                        continue;
                                    for (int64_t k2 = 0; k2 < k[2]; k2++) {
                                        int64_t i2 = o2 * st[2] - pd[2] + k2 * dl[2];
                                        if (i2 < 0 || i2 >= in[2])
                                            continue;
                                        int32_t xv = qget(x, xbase + (i0 * in[1] + i1) * in[2] + i2) - zx;
                                        int32_t wv = qget(w, wbase + (k0 * k[1] + k1) * k[2] + k2) - zw;
                                        s += xv * wv;
                                    }
                                }
                            }
                        }
                        dst[(o0 * out[1] + o1) * out[2] + o2] = s;
                    }
        }
}

static void conv_out_dims(const kn_conv_params *p, int64_t *dims)
{
    dims[0] = p->N;
    dims[1] = p->M;
    for (int i = 0; i < p->nsp; i++)
        dims[2 + i] = p->out[i];
}

static kiln_status convint_check(const kn_op_ctx *c, kn_conv_params *p)
{
    KN_TRY(qconv_geometry(c, c->in[0], c->in[1], p));
    KN_TRY(per_tensor(c, "x_zero_point", opt_in(c, 2)));
    return per_channel(c, "w_zero_point", opt_in(c, 3), p->M);
}

static kiln_status convint_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 4, 1, 1));
    KN_TRY(check_int8ish(c, 1, "w"));
    KN_TRY(check_same_type(c, 2, 0, "x_zero_point"));
    KN_TRY(check_same_type(c, 3, 1, "w_zero_point"));
    kn_conv_params p;
    KN_TRY(convint_check(c, &p));
    int64_t dims[KN_CONV_MAX_SPATIAL + 2];
    conv_out_dims(&p, dims);
    return kn_set_output(c, 0, KILN_DTYPE_INT32, p.nsp + 2, dims);
}

static kiln_status convint_run(kn_op_ctx *c)
{
    kn_conv_params p;
    KN_TRY(convint_check(c, &p));
    if (kn_tensor_count(c->out[0]) == 0)
        return KILN_OK;
    conv_int_ref(&p, c->in[0], c->in[1], opt_in(c, 2), opt_in(c, 3), c->out[0]->data);
    return KILN_OK;
}

/* QLinearConv inputs: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B]. */
static kiln_status qlconv_check(const kn_op_ctx *c, kn_conv_params *p)
{
    KN_TRY(qconv_geometry(c, c->in[0], c->in[3], p));
    KN_TRY(per_tensor(c, "x_scale", c->in[1]));
    KN_TRY(per_tensor(c, "x_zero_point", c->in[2]));
    KN_TRY(per_channel(c, "w_scale", c->in[4], p->M));
    KN_TRY(per_channel(c, "w_zero_point", c->in[5], p->M));
    KN_TRY(per_tensor(c, "y_scale", c->in[6]));
    KN_TRY(per_tensor(c, "y_zero_point", c->in[7]));
    const kiln_tensor *b = opt_in(c, 8);
    if (b && (b->rank != 1 || b->dims[0] != p->M)) {
        char buf[96];
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): bias has shape %s, expected [%lld]", c->node->name,
                        c->node->op_type, kn_shape_str(b, buf, sizeof buf), (long long)p->M);
    }
    return KILN_OK;
}

static kiln_status qlconv_infer(kn_op_ctx *c)
{
    static const kiln_dtype bias_t[] = {KILN_DTYPE_INT32, KILN_DTYPE_UNDEFINED};
    KN_TRY(kn_check_arity(c, 8, 9, 1, 1));
    KN_TRY(check_int8ish(c, 3, "w"));
    KN_TRY(check_int8ish(c, 7, "y_zero_point"));
    KN_TRY(check_same_type(c, 2, 0, "x_zero_point"));
    KN_TRY(check_same_type(c, 5, 3, "w_zero_point"));
    if (opt_in(c, 8))
        KN_TRY(kn_check_dtype(c, 8, bias_t));
    for (int i = 1; i <= 6; i += i == 1 ? 3 : 2)
        if (!is_scale_type(c->in[i]->dtype))
            return unsupported_dtype(c, i == 1 ? "x_scale" : i == 4 ? "w_scale" : "y_scale", c->in[i]->dtype);
    kn_conv_params p;
    KN_TRY(qlconv_check(c, &p));
    int64_t dims[KN_CONV_MAX_SPATIAL + 2];
    conv_out_dims(&p, dims);
    return kn_set_output(c, 0, c->in[7]->dtype, p.nsp + 2, dims);
}

static kiln_status qlconv_prepare(kn_op_ctx *c)
{
    size_t n = (size_t)kn_tensor_count(c->out[0]);
    if (!kn_mul_size(n, sizeof(int32_t), &c->scratch_size))
        return kn_error(KILN_ERROR_LIMIT, "node '%s' (%s): output too large", c->node->name, c->node->op_type);
    return KILN_OK;
}

static kiln_status qlconv_run(kn_op_ctx *c)
{
    kn_conv_params p;
    KN_TRY(qlconv_check(c, &p));
    kiln_tensor *y = c->out[0];
    int64_t count = kn_tensor_count(y);
    if (count == 0)
        return KILN_OK;
    int32_t *acc = c->scratch;
    conv_int_ref(&p, c->in[0], c->in[3], c->in[2], c->in[5], acc);
    const kiln_tensor *ws = c->in[4], *b = opt_in(c, 8);
    float xs = fget(c->in[1], 0), ys = fget(c->in[6], 0);
    int32_t yzp = qget(c->in[7], 0);
    int64_t plane = count / (p.N * p.M);
    for (int64_t n = 0; n < p.N; n++)
        for (int64_t m = 0; m < p.M; m++) {
            float mult = requant_multiplier(c->in[6]->dtype, xs, fget(ws, chan_index(ws, m)), ys);
            int32_t bias = b ? ((const int32_t *)b->data)[m] : 0;
            int64_t base = (n * p.M + m) * plane;
            for (int64_t i = 0; i < plane; i++)
                qput(y, base + i, (double)(acc[base + i] + bias) * mult, yzp);
        }
    return KILN_OK;
}

const kn_op kn_ops_quant[] = {
    {.domain = "", .name = "QuantizeLinear", .since_min = 10, .since_max = 0, .parse = ql_parse,
     .infer = quantize_infer, .run = quantize_run, .types = quantize_types},
    {.domain = "", .name = "DequantizeLinear", .since_min = 10, .since_max = 0, .parse = ql_parse,
     .infer = dequantize_infer, .run = dequantize_run, .types = dequantize_types},
    {.domain = "", .name = "DynamicQuantizeLinear", .since_min = 11, .since_max = 0, .infer = dynq_infer,
     .run = dynq_run, .types = dynq_types},
    {.domain = "", .name = "MatMulInteger", .since_min = 10, .since_max = 0, .infer = matmulint_infer,
     .run = matmulint_run, .types = int8_types},
    {.domain = "", .name = "QLinearMatMul", .since_min = 10, .since_max = 0, .infer = qlmm_infer,
     .prepare = qlmm_prepare, .run = qlmm_run, .types = int8_types},
    {.domain = "", .name = "ConvInteger", .since_min = 10, .since_max = 0, .parse = qconv_parse,
     .infer = convint_infer, .run = convint_run, .types = int8_types},
    {.domain = "", .name = "QLinearConv", .since_min = 10, .since_max = 0, .parse = qconv_parse,
     .infer = qlconv_infer, .prepare = qlconv_prepare, .run = qlconv_run, .types = int8_types},
};
KN_FAMILY_COUNT(quant);
