/* MaxPool (with optional Indices), AveragePool, LpPool and their Global
 * forms, 1-D to 3-D spatial (Global: any rank). The kernel is the reference
 * kn_pool_ref in conv_ref.c; Global pools are one window over the flattened
 * spatial plane. */
#include "ops/conv_ref.h"
#include "ops/families.h"
#include "ops/pool_max.h"

#include <math.h>
#include <string.h>

typedef struct pool_attrs {
    kn_pool_kind kind;
    bool global;
    kn_auto_pad auto_pad;
    int64_t ceil_mode, count_include_pad, storage_order, p;
    size_t n_kernel, n_strides, n_dil, n_pads;
    int64_t kernel[KN_CONV_MAX_SPATIAL], strides[KN_CONV_MAX_SPATIAL], dil[KN_CONV_MAX_SPATIAL];
    int64_t pads[2 * KN_CONV_MAX_SPATIAL];
} pool_attrs;

static kiln_status check_flag(const kn_node *n, const char *name, int64_t v)
{
    if (v != 0 && v != 1)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %s is %lld, expected 0 or 1", n->name, n->op_type, name,
                        (long long)v);
    return KILN_OK;
}

/* LpPool-1 declares p as a float; later versions as an int. */
static kiln_status parse_p(const kn_node *n, int64_t *p)
{
    const kn_attr *a = kn_node_attr(n, "p");
    if (a && a->type == KN_ATTR_FLOAT) {
        if (a->f != floorf(a->f) || a->f < 1.0f || a->f > 64.0f)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): p = %g is not a supported integer exponent",
                            n->name, n->op_type, (double)a->f);
        *p = (int64_t)a->f;
        return KILN_OK;
    }
    KN_TRY(kn_attr_get_int(n, "p", 2, p));
    if (*p < 1)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): p is %lld, must be at least 1", n->name, n->op_type,
                        (long long)*p);
    return KILN_OK;
}

static kiln_status parse_attrs(const kn_node *n, pool_attrs *a)
{
    const char *op = n->op_type;
    a->global = !strncmp(op, "Global", 6);
    const char *base = a->global ? op + 6 : op;
    a->kind = !strcmp(base, "MaxPool") ? KN_POOL_MAX : !strcmp(base, "LpPool") ? KN_POOL_LP : KN_POOL_AVG;
    a->p = 2;
    if (a->kind == KN_POOL_LP)
        KN_TRY(parse_p(n, &a->p));
    if (a->global)
        return KILN_OK;
    KN_TRY(kn_parse_auto_pad(n, &a->auto_pad));
    KN_TRY(kn_attr_get_spatial_ints(n, "kernel_shape", KN_CONV_MAX_SPATIAL, 1, a->kernel, &a->n_kernel));
    if (a->n_kernel == 0)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): missing attribute kernel_shape", n->name, op);
    KN_TRY(kn_attr_get_spatial_ints(n, "strides", KN_CONV_MAX_SPATIAL, 1, a->strides, &a->n_strides));
    KN_TRY(kn_attr_get_spatial_ints(n, "dilations", KN_CONV_MAX_SPATIAL, 1, a->dil, &a->n_dil));
    KN_TRY(kn_attr_get_spatial_ints(n, "pads", 2 * KN_CONV_MAX_SPATIAL, 0, a->pads, &a->n_pads));
    KN_TRY(kn_attr_get_int(n, "ceil_mode", 0, &a->ceil_mode));
    KN_TRY(check_flag(n, "ceil_mode", a->ceil_mode));
    KN_TRY(kn_attr_get_int(n, "count_include_pad", 0, &a->count_include_pad));
    KN_TRY(check_flag(n, "count_include_pad", a->count_include_pad));
    KN_TRY(kn_attr_get_int(n, "storage_order", 0, &a->storage_order));
    KN_TRY(check_flag(n, "storage_order", a->storage_order));
    return KILN_OK;
}

static kiln_status pool_parse(kn_node *n)
{
    pool_attrs *a = kn_calloc(1, sizeof *a);
    if (!a)
        return KN_NOMEM();
    kiln_status s = parse_attrs(n, a);
    if (s != KILN_OK) {
        kn_free(a);
        return s;
    }
    n->params = a;
    return KILN_OK;
}

static kiln_status check_len(const kn_node *n, const char *name, size_t got, size_t want)
{
    if (got != 0 && got != want)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %s has %zu entries, expected %zu", n->name, n->op_type,
                        name, got, want);
    return KILN_OK;
}

/* A global pool is one window covering the whole plane, flattened to 1-D. */
static void global_geometry(const kiln_tensor *x, kn_pool_params *p)
{
    int64_t plane = 1;
    for (int i = 2; i < x->rank; i++)
        plane *= x->dims[i];
    p->nsp = 1;
    p->in[0] = p->k[0] = plane;
    p->out[0] = 1;
    p->stride[0] = p->dil[0] = 1;
}

static kiln_status pool_geometry(const kn_op_ctx *c, kn_pool_params *p)
{
    const pool_attrs *a = c->params;
    const kn_node *n = c->node;
    const kiln_tensor *x = c->in[0];
    memset(p, 0, sizeof *p);
    p->kind = a->kind;
    p->p = a->p;
    p->count_include_pad = a->count_include_pad != 0;
    p->indices_col_major = a->storage_order != 0;
    if (x->rank < (a->global ? 2 : 3))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input has %d dims, expected at least %d", n->name,
                        n->op_type, x->rank, a->global ? 2 : 3);
    p->N = x->dims[0];
    p->C = x->dims[1];
    if (a->global) {
        global_geometry(x, p);
        return KILN_OK;
    }
    int nsp = x->rank - 2;
    if (nsp > KN_CONV_MAX_SPATIAL)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): %d spatial dimensions (at most %d supported)",
                        n->name, n->op_type, nsp, KN_CONV_MAX_SPATIAL);
    p->nsp = nsp;
    if (a->n_kernel != (size_t)nsp)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): kernel_shape has %zu entries but the input has %d spatial dims",
                        n->name, n->op_type, a->n_kernel, nsp);
    KN_TRY(check_len(n, "strides", a->n_strides, (size_t)nsp));
    KN_TRY(check_len(n, "dilations", a->n_dil, (size_t)nsp));
    KN_TRY(check_len(n, "pads", a->n_pads, 2 * (size_t)nsp));
    for (int i = 0; i < nsp; i++) {
        p->in[i] = x->dims[2 + i];
        p->k[i] = a->kernel[i];
        p->stride[i] = a->n_strides ? a->strides[i] : 1;
        p->dil[i] = a->n_dil ? a->dil[i] : 1;
        KN_TRY(kn_window_dim(n, i, nsp, a->auto_pad, p->in[i], p->k[i], p->stride[i], p->dil[i], a->pads, a->n_pads,
                             a->ceil_mode, &p->out[i], &p->pad[i], &p->pad_end[i]));
    }
    return KILN_OK;
}

/* X's dtypes (kn_op.types): what kn_pool_ref computes on; max also takes
 * 8-bit integers (opset 12). */
static const kiln_dtype float_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16,
                                         KILN_DTYPE_UNDEFINED};
static const kiln_dtype max_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT16,
                                       KILN_DTYPE_INT8,  KILN_DTYPE_UINT8,  KILN_DTYPE_UNDEFINED};

static kiln_status pool_infer(kn_op_ctx *c)
{
    const pool_attrs *a = c->params;
    bool with_indices = a->kind == KN_POOL_MAX && !a->global;
    KN_TRY(kn_check_arity(c, 1, 1, 1, with_indices ? 2 : 1));
    kn_pool_params p;
    KN_TRY(pool_geometry(c, &p));
    const kiln_tensor *x = c->in[0];
    int64_t dims[KN_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 2; i < x->rank; i++)
        dims[i] = a->global ? 1 : p.out[i - 2];
    KN_TRY(kn_set_output(c, 0, x->dtype, x->rank, dims));
    if (c->n_out > 1 && c->out[1])
        KN_TRY(kn_set_output(c, 1, KILN_DTYPE_INT64, x->rank, dims));
    return KILN_OK;
}

typedef struct global_ctx {
    const float *x;
    float *y;
    int64_t plane;
    bool max;
} global_ctx;

#define GLOBAL_POOL_MIN_PARALLEL (64 * 1024) /* floats */
#define MAXPOOL_MIN_PARALLEL (64 * 1024)     /* input floats */

/* GlobalAveragePool / GlobalMaxPool on float32: one contiguous reduction
 * per (image, channel) plane; four partial sums keep the loop vectorizable
 * and independent of the thread count. */
static void global_plane(void *arg, size_t i)
{
    const global_ctx *g = arg;
    const float *x = g->x + (int64_t)i * g->plane;
    int64_t n = g->plane, k = 0;
    if (g->max) {
        /* NaN inputs are skipped, as in the reference kernel */
        float m = 0.0f;
        bool any = false;
        for (k = 0; k < n; k++)
            if (x[k] == x[k] && (!any || x[k] > m)) {
                m = x[k];
                any = true;
            }
        g->y[i] = any ? m : NAN;
        return;
    }
    float acc[8] = {0};
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += x[k + j];
    float sum = 0.0f;
    for (int j = 0; j < 8; j++)
        sum += acc[j];
    for (; k < n; k++)
        sum += x[k];
    g->y[i] = sum / (float)n;
}

typedef struct max2d_ctx {
    const kn_pool_params *p;
    const float *x;
    float *y;
} max2d_ctx;

/* 2-D float32 MaxPool without Indices where the vector kernel does not
 * apply (dilations, very wide rows): the max over the window's taps that
 * fall inside the input (padding and the ceil_mode overhang never win),
 * NaN skipped and an empty window NaN, as in the reference. The valid kw
 * range is computed per output column instead of testing every tap. */
static void max2d_plane(void *arg, size_t plane)
{
    const max2d_ctx *m = arg;
    const kn_pool_params *p = m->p;
    int64_t H = p->in[0], W = p->in[1], OH = p->out[0], OW = p->out[1];
    const float *x = m->x + (int64_t)plane * H * W;
    float *y = m->y + (int64_t)plane * OH * OW;
    for (int64_t oh = 0; oh < OH; oh++) {
        int64_t h0 = oh * p->stride[0] - p->pad[0];
        for (int64_t ow = 0; ow < OW; ow++) {
            int64_t w0 = ow * p->stride[1] - p->pad[1];
            int64_t kw_lo = w0 >= 0 ? 0 : (-w0 + p->dil[1] - 1) / p->dil[1];
            int64_t kw_hi = W - w0 <= 0 ? 0 : KN_MIN(p->k[1], (W - w0 + p->dil[1] - 1) / p->dil[1]);
            float best = 0.0f;
            bool any = false;
            for (int64_t kh = 0; kh < p->k[0]; kh++) {
                int64_t ih = h0 + kh * p->dil[0];
                if (ih < 0 || ih >= H)
                    continue;
                const float *row = x + ih * W + w0;
                for (int64_t kw = kw_lo; kw < kw_hi; kw++) {
                    float v = row[kw * p->dil[1]];
                    if (v == v && (!any || v > best)) {
                        best = v;
                        any = true;
                    }
                }
            }
            y[oh * OW + ow] = any ? best : NAN;
        }
    }
}

static kiln_status pool_run(kn_op_ctx *c)
{
    kn_pool_params p;
    KN_TRY(pool_geometry(c, &p));
    const pool_attrs *a = c->params;
    if (a->global && (a->kind == KN_POOL_AVG || a->kind == KN_POOL_MAX) && c->in[0]->dtype == KILN_DTYPE_FLOAT) {
        const kiln_tensor *x = c->in[0];
        int64_t planes = x->dims[0] * x->dims[1];
        int64_t plane = planes ? kn_tensor_count(x) / planes : 0;
        if (plane > 0) {
            global_ctx g = {x->data, c->out[0]->data, plane, a->kind == KN_POOL_MAX};
            /* The squeeze of a squeeze-excitation block on a 7x7 map (1152
             * x 49 floats) reads in a few microseconds: less than a
             * parallel region costs, so small inputs stay on the caller. */
            bool small = planes * plane < GLOBAL_POOL_MIN_PARALLEL;
            kn_parallel_for(small ? NULL : c->pool, (size_t)planes, global_plane, &g);
            return KILN_OK;
        }
    }
    int64_t *indices = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
    if (!a->global && a->kind == KN_POOL_MAX && !indices && p.nsp == 2 && c->in[0]->dtype == KILN_DTYPE_FLOAT) {
        kn_maxpool2d v = {c->in[0]->data, c->out[0]->data, p.in[0], p.in[1], p.out[0], p.out[1], p.k[0], p.k[1],
                          p.stride[0], p.stride[1], p.pad[0], p.pad[1]};
        if (p.dil[0] == 1 && p.dil[1] == 1 && kn_maxpool2d_fits(&v)) {
            kn_parallel_fn plane = c->isa == KN_ISA_AVX512 ? kn_maxpool2d_plane_avx512
                                   : c->isa == KN_ISA_AVX2 ? kn_maxpool2d_plane_avx2
                                                           : kn_maxpool2d_plane_generic;
            /* a plane per task: the same result for any thread count; small
             * inputs read faster than a parallel region starts */
            bool small = kn_tensor_count(c->in[0]) < MAXPOOL_MIN_PARALLEL;
            kn_parallel_for(small ? NULL : c->pool, (size_t)(p.N * p.C), plane, &v);
            return KILN_OK;
        }
        max2d_ctx m = {&p, c->in[0]->data, c->out[0]->data};
        kn_parallel_for(c->pool, (size_t)(p.N * p.C), max2d_plane, &m);
        return KILN_OK;
    }
    kn_pool_ref(&p, c->in[0]->dtype, c->in[0]->data, c->out[0]->data, indices, c->pool);
    return KILN_OK;
}

#define POOL_OP(op_name, since, types_, flags_)                                                           \
    {.domain = "", .name = op_name, .since_min = since, .since_max = 0, .parse = pool_parse,            \
     .infer = pool_infer, .run = pool_run, .types = types_, .flags = flags_}

/* GlobalAveragePool's float32 plane sum and the float32 2-D MaxPool
 * (pool_max_impl.h) are vectorized kernels; GlobalMaxPool is a scalar loop. */
const kn_op kn_ops_pool[] = {
    POOL_OP("MaxPool", 1, max_types, KN_OP_FAST),
    POOL_OP("AveragePool", 1, float_types, 0),
    POOL_OP("LpPool", 1, float_types, 0),
    POOL_OP("GlobalMaxPool", 1, max_types, 0),
    POOL_OP("GlobalAveragePool", 1, float_types, KN_OP_FAST),
    POOL_OP("GlobalLpPool", 1, float_types, 0),
};
KN_FAMILY_COUNT(pool);
