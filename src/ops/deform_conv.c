/* DeformConv (opset 19), 2-D: a convolution whose kernel taps sample the
 * input at learned fractional offsets, optionally scaled by a mask.
 *
 * For kernel tap (a, b) of output pixel (i, j) in offset group g, the
 * sampling point is
 *   y = i*stride_h - pad_top  + a*dilation_h + offset[n, ((g*kh + a)*kw + b)*2 + 0, i, j]
 *   x = j*stride_w - pad_left + b*dilation_w + offset[n, ((g*kh + a)*kw + b)*2 + 1, i, j]
 * and the input is read there bilinearly, with zeros outside (GridSample
 * with align_corners and zero padding, as the reference does). The samples
 * times the mask (n, g*kh*kw + a*kw + b, i, j) form an im2col matrix in
 * scratch memory, which each group's weights multiply: a plain reference
 * kernel, no vectorized path. */
#include "ops/families.h"

#include <math.h>
#include <string.h>

typedef struct dc_params {
    int64_t group, offset_group;
    int64_t kernel[2], dil[2], stride[2], pads[4];
    bool has_kernel;
} dc_params;

static kiln_status dc_ints(const kn_node *n, const char *name, size_t want, int64_t def, int64_t *out, bool *present)
{
    const int64_t *v;
    size_t k;
    KN_TRY(kn_attr_get_ints(n, name, &v, &k));
    if (present)
        *present = k > 0;
    if (!k) {
        for (size_t i = 0; i < want; i++)
            out[i] = def;
        return KILN_OK;
    }
    if (k != want)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): attribute '%s' has %zu values; kiln supports 2-D "
                        "DeformConv (%zu values)", n->name, n->op_type, name, k, want);
    memcpy(out, v, want * sizeof(int64_t));
    return KILN_OK;
}

static kiln_status dc_parse(kn_node *n)
{
    dc_params p = {0};
    KN_TRY(kn_attr_get_int(n, "group", 1, &p.group));
    KN_TRY(kn_attr_get_int(n, "offset_group", 1, &p.offset_group));
    KN_TRY(dc_ints(n, "kernel_shape", 2, 0, p.kernel, &p.has_kernel));
    KN_TRY(dc_ints(n, "dilations", 2, 1, p.dil, NULL));
    KN_TRY(dc_ints(n, "strides", 2, 1, p.stride, NULL));
    KN_TRY(dc_ints(n, "pads", 4, 0, p.pads, NULL));
    if (p.group < 1 || p.offset_group < 1)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): group and offset_group must be positive", n->name,
                        n->op_type);
    for (int i = 0; i < 2; i++)
        if (p.dil[i] < 1 || p.stride[i] < 1 || p.dil[i] > INT32_MAX || p.stride[i] > INT32_MAX)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): dilations and strides must be positive", n->name,
                            n->op_type);
    for (int i = 0; i < 4; i++)
        if (p.pads[i] < 0 || p.pads[i] > INT32_MAX)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): pads must be in [0, 2^31)", n->name, n->op_type);
    dc_params *q = kn_malloc(sizeof *q);
    if (!q)
        return KN_NOMEM();
    *q = p;
    n->params = q;
    return KILN_OK;
}

/* Shapes resolved from the inputs. */
typedef struct dc_geom {
    int64_t n, c, h, w, oc, kh, kw, oh, ow, cpg, ocpg, cpog;
} dc_geom;

static kiln_status dc_geometry(const kn_op_ctx *c, dc_geom *g)
{
    const dc_params *p = c->params;
    const kiln_tensor *x = c->in[0], *w = c->in[1], *off = c->in[2], *b = c->n_in > 3 ? c->in[3] : NULL,
                      *mask = c->n_in > 4 ? c->in[4] : NULL;
    const char *nm = c->node->name, *op = c->node->op_type;
    if (x->rank != 4)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): input has rank %d; kiln supports 2-D (rank 4)", nm,
                        op, x->rank);
    if (w->rank != 4 || off->rank != 4)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): W and offset must have rank 4", nm, op);
    for (int i = 1; i < 5 && i < c->n_in; i++)
        if (c->in[i] && c->in[i]->dtype != x->dtype)
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input %d is %s, X is %s", nm, op, i,
                            kiln_dtype_name(c->in[i]->dtype), kiln_dtype_name(x->dtype));
    g->n = x->dims[0];
    g->c = x->dims[1];
    g->h = x->dims[2];
    g->w = x->dims[3];
    g->oc = w->dims[0];
    g->kh = p->has_kernel ? p->kernel[0] : w->dims[2];
    g->kw = p->has_kernel ? p->kernel[1] : w->dims[3];
    if (g->kh != w->dims[2] || g->kw != w->dims[3])
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): kernel_shape does not match W", nm, op);
    if (g->c % p->group || g->oc % p->group || w->dims[1] != g->c / p->group)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %lld input and %lld output channels do not fit group %lld "
                        "with W of %lld channels", nm, op, (long long)g->c, (long long)g->oc, (long long)p->group,
                        (long long)w->dims[1]);
    if (g->c % p->offset_group)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %lld channels are not divisible by offset_group %lld", nm,
                        op, (long long)g->c, (long long)p->offset_group);
    g->cpg = g->c / p->group;
    g->ocpg = g->oc / p->group;
    g->cpog = g->c / p->offset_group;
    int64_t span[2], in[2] = {g->h, g->w}, out[2];
    for (int i = 0; i < 2; i++) {
        int64_t k = i ? g->kw : g->kh;
        if (k < 1 || k > INT32_MAX)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): kernel size %lld", nm, op, (long long)k);
        span[i] = (k - 1) * p->dil[i] + 1;
        int64_t padded = in[i] + p->pads[i] + p->pads[i + 2];
        out[i] = padded < span[i] ? 0 : (padded - span[i]) / p->stride[i] + 1;
    }
    g->oh = out[0];
    g->ow = out[1];
    int64_t taps = p->offset_group * g->kh * g->kw;
    if (off->dims[0] != g->n || off->dims[1] != taps * 2 || off->dims[2] != g->oh || off->dims[3] != g->ow)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): offset must be [%lld, %lld, %lld, %lld]", nm, op,
                        (long long)g->n, (long long)(taps * 2), (long long)g->oh, (long long)g->ow);
    if (mask && (mask->rank != 4 || mask->dims[0] != g->n || mask->dims[1] != taps || mask->dims[2] != g->oh ||
                 mask->dims[3] != g->ow))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): mask must be [%lld, %lld, %lld, %lld]", nm, op,
                        (long long)g->n, (long long)taps, (long long)g->oh, (long long)g->ow);
    if (b && kn_tensor_count(b) != g->oc)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): B has %lld values for %lld output channels", nm, op,
                        (long long)kn_tensor_count(b), (long long)g->oc);
    return KILN_OK;
}

static const kiln_dtype dc_types[] = {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, KILN_DTYPE_UNDEFINED};

static kiln_status dc_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, 5, 1, 1));
    dc_geom g;
    KN_TRY(dc_geometry(c, &g));
    int64_t dims[4] = {g.n, g.oc, g.oh, g.ow};
    return kn_set_output(c, 0, c->in[0]->dtype, 4, dims);
}

static kiln_status dc_prepare(kn_op_ctx *c)
{
    dc_geom g;
    KN_TRY(dc_geometry(c, &g));
    /* one factor at a time: with N or M zero the output is empty and its
     * shape check cannot catch a huge oh * ow */
    size_t bytes = kiln_dtype_size(c->in[0]->dtype);
    if (!kn_mul_size(bytes, (size_t)g.c, &bytes) || !kn_mul_size(bytes, (size_t)g.kh, &bytes) ||
        !kn_mul_size(bytes, (size_t)g.kw, &bytes) || !kn_mul_size(bytes, (size_t)g.oh, &bytes) ||
        !kn_mul_size(bytes, (size_t)g.ow, &bytes))
        return kn_error(KILN_ERROR_LIMIT, "node '%s' (%s): sampling buffer size overflows", c->node->name,
                        c->node->op_type);
    c->scratch_size = bytes;
    return KILN_OK;
}

#define DC_KERNEL(T, NAME)                                                                                      \
    static T NAME##_sample(const T *img, int64_t h, int64_t w, double y, double x)                              \
    {                                                                                                           \
        if (!(y > -1.0 && y < (double)h && x > -1.0 && x < (double)w))                                          \
            return 0; /* also NaN */                                                                            \
        double fy = floor(y), fx = floor(x);                                                                    \
        int64_t y0 = (int64_t)fy, x0 = (int64_t)fx;                                                             \
        double ly = y - fy, lx = x - fx, v = 0;                                                                 \
        for (int dy = 0; dy < 2; dy++)                                                                          \
            for (int dx = 0; dx < 2; dx++) {                                                                    \
                int64_t yy = y0 + dy, xx = x0 + dx;                                                             \
                if (yy < 0 || yy >= h || xx < 0 || xx >= w)                                                     \
                    continue;                                                                                   \
                v += (dy ? ly : 1 - ly) * (dx ? lx : 1 - lx) * (double)img[yy * w + xx];                        \
            }                                                                                                   \
        return (T)v;                                                                                            \
    }                                                                                                           \
    static void NAME(const dc_params *p, const dc_geom *g, const T *x, const T *wt, const T *off, const T *bias, \
                     const T *mask, T *y, T *col)                                                               \
    {                                                                                                           \
        int64_t k = g->kh * g->kw, npix = g->oh * g->ow;                                                        \
        for (int64_t n = 0; n < g->n; n++) {                                                                    \
            /* col[(ch*k + tap) * npix + pix]: masked samples */                                                \
            for (int64_t ch = 0; ch < g->c; ch++) {                                                             \
                int64_t og = ch / g->cpog;                                                                      \
                const T *img = x + (n * g->c + ch) * g->h * g->w;                                               \
                for (int64_t a = 0; a < g->kh; a++)                                                             \
                    for (int64_t b = 0; b < g->kw; b++) {                                                       \
                        int64_t tap = (og * g->kh + a) * g->kw + b;                                             \
                        const T *dy = off + ((n * p->offset_group * k * 2) + tap * 2) * npix;                   \
                        const T *dx = dy + npix;                                                                \
                        const T *m = mask ? mask + (n * p->offset_group * k + tap) * npix : NULL;               \
                        T *dst = col + (ch * k + a * g->kw + b) * npix;                                         \
                        for (int64_t i = 0; i < g->oh; i++)                                                     \
                            for (int64_t j = 0; j < g->ow; j++) {                                               \
                                int64_t q = i * g->ow + j;                                                      \
                                double sy = (double)(i * p->stride[0] - p->pads[0] + a * p->dil[0]) + dy[q];    \
                                double sx = (double)(j * p->stride[1] - p->pads[1] + b * p->dil[1]) + dx[q];    \
                                T v = NAME##_sample(img, g->h, g->w, sy, sx);                                   \
                                dst[q] = m ? v * m[q] : v;                                                      \
                            }                                                                                   \
                    }                                                                                           \
            }                                                                                                   \
            for (int64_t o = 0; o < g->oc; o++) {                                                               \
                int64_t grp = o / g->ocpg;                                                                      \
                T *out = y + (n * g->oc + o) * npix;                                                            \
                for (int64_t q = 0; q < npix; q++)                                                              \
                    out[q] = bias ? bias[o] : 0;                                                                \
                const T *wrow = wt + o * g->cpg * k;                                                            \
                const T *cg = col + grp * g->cpg * k * npix;                                                    \
                for (int64_t r = 0; r < g->cpg * k; r++) {                                                      \
                    T wv = wrow[r];                                                                             \
                    const T *cr = cg + r * npix;                                                                \
                    for (int64_t q = 0; q < npix; q++)                                                          \
                        out[q] += wv * cr[q];                                                                   \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }

DC_KERNEL(float, dc_f32)
DC_KERNEL(double, dc_f64)

static kiln_status dc_run(kn_op_ctx *c)
{
    dc_geom g;
    KN_TRY(dc_geometry(c, &g));
    const kiln_tensor *b = c->n_in > 3 ? c->in[3] : NULL, *m = c->n_in > 4 ? c->in[4] : NULL;
    if (c->in[0]->dtype == KILN_DTYPE_FLOAT)
        dc_f32(c->params, &g, c->in[0]->data, c->in[1]->data, c->in[2]->data, b ? b->data : NULL,
               m ? m->data : NULL, c->out[0]->data, c->scratch);
    else
        dc_f64(c->params, &g, c->in[0]->data, c->in[1]->data, c->in[2]->data, b ? b->data : NULL,
               m ? m->data : NULL, c->out[0]->data, c->scratch);
    return KILN_OK;
}

const kn_op kn_ops_deform_conv[] = {
    {.domain = "", .name = "DeformConv", .since_min = 19, .parse = dc_parse, .infer = dc_infer,
     .prepare = dc_prepare, .run = dc_run, .types = dc_types},
};
KN_FAMILY_COUNT(deform_conv);
