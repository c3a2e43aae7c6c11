/* Sampling-grid ops: GridSample (any spatial rank), AffineGrid (2-D and
 * 3-D) and Col2Im. GridSample follows the ONNX reference implementation
 * (itself PyTorch's grid_sampler) step by step: denormalize, round for
 * nearest, fold out-of-range coordinates for border/reflection padding,
 * then interpolate with padding-aware pixel fetches. Separable weights over
 * all 2^r (linear) or 4^r (cubic) neighbours give the same result as the
 * reference's nested 1-D interpolation. */
#include "ops/misc_ops.h"

#include <math.h>
#include <string.h>

/* ---- GridSample -------------------------------------------------------- */

typedef enum gs_mode { GS_LINEAR, GS_NEAREST, GS_CUBIC } gs_mode;
typedef enum gs_pad { GS_ZEROS, GS_BORDER, GS_REFLECTION } gs_pad;

typedef struct gridsample_params {
    gs_mode mode;
    gs_pad pad;
    int64_t align_corners;
} gridsample_params;

kiln_status kn_misc_gridsample_parse(kn_node *n)
{
    gridsample_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    const char *mode, *pad;
    kiln_status s = kn_attr_get_string(n, "mode", "linear", &mode);
    if (s == KILN_OK)
        s = kn_attr_get_string(n, "padding_mode", "zeros", &pad);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "align_corners", 0, &p->align_corners);
    if (s == KILN_OK) {
        /* opset 16 spelled the modes bilinear / bicubic */
        if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear"))
            p->mode = GS_LINEAR;
        else if (!strcmp(mode, "nearest"))
            p->mode = GS_NEAREST;
        else if (!strcmp(mode, "cubic") || !strcmp(mode, "bicubic"))
            p->mode = GS_CUBIC;
        else
            s = kn_misc_node_error(n, KILN_ERROR_UNSUPPORTED, "mode '%s' is not supported", mode);
    }
    if (s == KILN_OK) {
        if (!strcmp(pad, "zeros"))
            p->pad = GS_ZEROS;
        else if (!strcmp(pad, "border"))
            p->pad = GS_BORDER;
        else if (!strcmp(pad, "reflection"))
            p->pad = GS_REFLECTION;
        else
            s = kn_misc_node_error(n, KILN_ERROR_UNSUPPORTED, "padding_mode '%s' is not supported", pad);
    }
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

kiln_status kn_misc_gridsample_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    KN_TRY(kn_misc_check_float(c, 1));
    const kiln_tensor *x = c->in[0], *g = c->in[1];
    int r = x->rank - 2;
    if (r < 1)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "X has rank %d, expected at least 3", x->rank);
    if (c->node->opset < 20 && r != 2)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "X has rank %d, opset %d needs 4", x->rank, c->node->opset);
    if (g->rank != r + 2 || g->dims[0] != x->dims[0] || g->dims[r + 1] != r)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "grid must be [N, ..., %d] with %d spatial dims", r, r);
    int64_t dims[KN_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < r; i++)
        dims[2 + i] = g->dims[1 + i];
    return kn_set_output(c, 0, x->dtype, x->rank, dims);
}

static double gs_reflect(double x, double lo, double hi)
{
    double rng = hi - lo;
    if (x < lo) {
        double dx = lo - x;
        int64_t n = (int64_t)(dx / rng);
        double r = dx - (double)n * rng;
        return n % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        double dx = x - hi;
        int64_t n = (int64_t)(dx / rng);
        double r = dx - (double)n * rng;
        return n % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

static void cubic_coeffs(double x, double *w)
{
    const double A = -0.75;
    x = fabs(x);
    w[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
    w[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
    w[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
    w[3] = ((A * (2 - x) - 5 * A) * (2 - x) + 8 * A) * (2 - x) - 4 * A;
}

typedef struct gs_geom {
    int r;
    const int64_t *dims; /* spatial dims of X */
    double lo[KN_MAX_RANK], hi[KN_MAX_RANK];
    gs_pad pad;
} gs_geom;

/* Index along spatial dim d after padding, or -1 for a zero pixel. */
static int64_t gs_index(const gs_geom *g, int d, int64_t i)
{
    int64_t n = g->dims[d];
    switch (g->pad) {
    case GS_ZEROS: return i >= 0 && i < n ? i : -1;
    case GS_BORDER: return i < 0 ? 0 : i > n - 1 ? n - 1 : i;
    default: {
        int64_t k = (int64_t)gs_reflect((double)i, g->lo[d], g->hi[d]);
        return k < 0 ? 0 : k > n - 1 ? n - 1 : k;
    }
    }
}


/* One output point of one channel plane (X data at base). */
static double gs_sample(const gridsample_params *p, const gs_geom *g, const kiln_tensor *x, int64_t base,
                        const double *coord)
{
    int r = g->r, taps = p->mode == GS_LINEAR ? 2 : p->mode == GS_CUBIC ? 4 : 1;
    int64_t first[KN_MAX_RANK];
    double w[KN_MAX_RANK][4];
    for (int d = 0; d < r; d++) {
        double v = coord[d];
        if (p->mode == GS_NEAREST) {
            first[d] = (int64_t)v; /* already rounded and folded; truncate as the reference does */
            w[d][0] = 1.0;
        } else {
            double f = floor(v), t = v - f;
            first[d] = (int64_t)f - (p->mode == GS_CUBIC ? 1 : 0);
            if (p->mode == GS_CUBIC) {
                cubic_coeffs(t, w[d]);
            } else {
                w[d][0] = 1.0 - t;
                w[d][1] = t;
            }
        }
    }
    int64_t strides[KN_MAX_RANK];
    kn_contiguous_strides(r, g->dims, strides);
    int combos = 1;
    for (int d = 0; d < r; d++)
        combos *= taps;
    double acc = 0.0;
    for (int k = 0; k < combos; k++) {
        int rest = k;
        double wt = 1.0;
        int64_t off = 0;
        bool zero = false;
        for (int d = r - 1; d >= 0; d--) {
            int t = rest % taps;
            rest /= taps;
            wt *= w[d][t];
            int64_t i = gs_index(g, d, first[d] + t);
            if (i < 0)
                zero = true;
            else
                off += i * strides[d];
        }
        if (!zero && wt != 0.0)
            acc += wt * kn_tensor_get_f64(x, base + off);
    }
    return acc;
}

kiln_status kn_misc_gridsample_run(kn_op_ctx *c)
{
    const gridsample_params *p = c->params;
    const kiln_tensor *x = c->in[0], *grid = c->in[1];
    kiln_tensor *y = c->out[0];
    gs_geom g = {.r = x->rank - 2, .dims = x->dims + 2, .pad = p->pad};
    int r = g.r;
    for (int d = 0; d < r; d++) {
        g.lo[d] = p->align_corners ? 0.0 : -0.5;
        g.hi[d] = p->align_corners ? (double)g.dims[d] - 1.0 : (double)g.dims[d] - 0.5;
    }
    int64_t N = x->dims[0], C = x->dims[1], plane = 1, points = 1;
    for (int d = 0; d < r; d++) {
        plane *= g.dims[d];
        points *= grid->dims[1 + d];
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t pt = 0; pt < points; pt++) {
            double coord[KN_MAX_RANK];
            for (int d = 0; d < r; d++) {
                /* grid's last axis lists coordinates innermost dimension first (x, y, ...) */
                double v = kn_tensor_get_f64(grid, (n * points + pt) * r + (r - 1 - d));
                double len = (double)g.dims[d];
                v = p->align_corners ? (v + 1.0) / 2.0 * (len - 1.0) : ((v + 1.0) * len - 1.0) / 2.0;
                if (p->mode == GS_NEAREST)
                    v = nearbyint(v); /* half to even, as the official test data (2-D and 3-D) */
                if (v < g.lo[d] || v > g.hi[d]) {
                    if (p->pad == GS_BORDER)
                        v = v < 0.0 ? 0.0 : v > len - 1.0 ? len - 1.0 : v;
                    else if (p->pad == GS_REFLECTION)
                        v = gs_reflect(v, g.lo[d], g.hi[d]);
                }
                coord[d] = v;
            }
            for (int64_t ch = 0; ch < C; ch++)
                kn_tensor_set_f64(y, (n * C + ch) * points + pt,
                                  gs_sample(p, &g, x, (n * C + ch) * plane, coord));
        }
    return KILN_OK;
}

/* ---- AffineGrid -------------------------------------------------------- */

typedef struct affinegrid_params {
    int64_t align_corners;
} affinegrid_params;

kiln_status kn_misc_affinegrid_parse(kn_node *n)
{
    affinegrid_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "align_corners", 0, &p->align_corners);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status affine_size(const kn_op_ctx *c, int64_t *size, int *r)
{
    size_t n;
    KN_TRY(kn_input_ints(c, 1, size, KN_MAX_RANK, &n));
    const kiln_tensor *theta = c->in[0];
    if (n != 4 && n != 5)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "size has %zu values, expected 4 or 5", n);
    *r = (int)n - 2;
    if (theta->rank != 3 || theta->dims[0] != size[0] || theta->dims[1] != *r || theta->dims[2] != *r + 1)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "theta must be [%lld, %d, %d]", (long long)size[0], *r, *r + 1);
    for (size_t i = 0; i < n; i++)
        if (size[i] < 0)
            return kn_misc_error(c, KILN_ERROR_SHAPE, "size[%zu] is negative", i);
    return KILN_OK;
}

kiln_status kn_misc_affinegrid_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    static const kiln_dtype ok[] = {KILN_DTYPE_INT64, KILN_DTYPE_UNDEFINED};
    KN_TRY(kn_check_dtype(c, 1, ok));
    int64_t size[KN_MAX_RANK];
    int r;
    KN_TRY(affine_size(c, size, &r));
    int64_t dims[KN_MAX_RANK];
    dims[0] = size[0];
    for (int i = 0; i < r; i++)
        dims[1 + i] = size[2 + i];
    dims[r + 1] = r;
    return kn_set_output(c, 0, c->in[0]->dtype, r + 2, dims);
}

/* Normalized coordinate of pixel i of n: pixel centres (or corners when
 * aligned) spread over [-1, 1]. */
static double affine_base(int64_t i, int64_t n, bool align)
{
    if (align)
        return n > 1 ? -1.0 + 2.0 * (double)i / (double)(n - 1) : 0.0;
    return -1.0 + (2.0 * (double)i + 1.0) / (double)n;
}

kiln_status kn_misc_affinegrid_run(kn_op_ctx *c)
{
    const affinegrid_params *p = c->params;
    const kiln_tensor *theta = c->in[0];
    kiln_tensor *y = c->out[0];
    int64_t size[KN_MAX_RANK];
    int r;
    KN_TRY(affine_size(c, size, &r));
    const int64_t *sp = size + 2;
    int64_t points = 1;
    for (int d = 0; d < r; d++)
        points *= sp[d];
    for (int64_t n = 0; n < size[0]; n++)
        for (int64_t pt = 0; pt < points; pt++) {
            /* base point (x, y[, z], 1): x runs along the last spatial dim */
            double base[4];
            int64_t rest = pt;
            for (int d = r - 1; d >= 0; d--) {
                base[r - 1 - d] = affine_base(rest % sp[d], sp[d], p->align_corners != 0);
                rest /= sp[d];
            }
            base[r] = 1.0;
            for (int i = 0; i < r; i++) {
                double acc = 0.0;
                for (int j = 0; j <= r; j++)
                    acc += kn_tensor_get_f64(theta, (n * r + i) * (r + 1) + j) * base[j];
                kn_tensor_set_f64(y, (n * points + pt) * r + i, acc);
            }
        }
    return KILN_OK;
}

/* ---- Col2Im ------------------------------------------------------------ */

typedef struct col2im_geom {
    int r;
    int64_t image[KN_MAX_RANK], block[KN_MAX_RANK];
    int64_t dil[KN_MAX_RANK], stride[KN_MAX_RANK], pad_begin[KN_MAX_RANK];
    int64_t blocks[KN_MAX_RANK]; /* sliding positions per dim */
    int64_t C, block_size, L;
} col2im_geom;

kiln_status kn_misc_col2im_parse(kn_node *n)
{
    const int64_t *v;
    size_t count;
    KN_TRY(kn_attr_get_ints(n, "dilations", &v, &count));
    KN_TRY(kn_attr_get_ints(n, "pads", &v, &count));
    return kn_attr_get_ints(n, "strides", &v, &count);
}

static kiln_status col2im_attr(const kn_op_ctx *c, const char *name, size_t want, int64_t def, int64_t *out)
{
    const int64_t *v;
    size_t count;
    KN_TRY(kn_attr_get_ints(c->node, name, &v, &count));
    if (v && count != want)
        return kn_misc_error(c, KILN_ERROR_MODEL, "attribute '%s' has %zu values, expected %zu", name, count, want);
    for (size_t i = 0; i < want; i++)
        out[i] = v ? v[i] : def;
    return KILN_OK;
}

static kiln_status col2im_geometry(const kn_op_ctx *c, col2im_geom *g)
{
    const kiln_tensor *x = c->in[0];
    size_t ni, nb;
    KN_TRY(kn_input_ints(c, 1, g->image, KN_MAX_RANK, &ni));
    KN_TRY(kn_input_ints(c, 2, g->block, KN_MAX_RANK, &nb));
    if (ni != nb || ni < 1 || ni + 2 > KN_MAX_RANK)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "image_shape (%zu values) and block_shape (%zu) must match", ni, nb);
    int r = g->r = (int)ni;
    int64_t pads[2 * KN_MAX_RANK];
    KN_TRY(col2im_attr(c, "dilations", ni, 1, g->dil));
    KN_TRY(col2im_attr(c, "strides", ni, 1, g->stride));
    KN_TRY(col2im_attr(c, "pads", 2 * ni, 0, pads));
    if (x->rank != 3)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "input has rank %d, expected 3", x->rank);
    g->block_size = 1;
    g->L = 1;
    for (int d = 0; d < r; d++) {
        if (g->block[d] < 1 || g->dil[d] < 1 || g->stride[d] < 1 || g->image[d] < 0)
            return kn_misc_error(c, KILN_ERROR_MODEL, "block, dilation and stride must be positive");
        g->pad_begin[d] = pads[d];
        int64_t span = g->dil[d] * (g->block[d] - 1) + 1;
        int64_t room = g->image[d] + pads[d] + pads[r + d] - span;
        g->blocks[d] = room < 0 ? 0 : room / g->stride[d] + 1;
        g->block_size *= g->block[d];
        g->L *= g->blocks[d];
    }
    if (x->dims[1] % g->block_size != 0)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "input dim 1 (%lld) is not a multiple of the block size %lld",
                             (long long)x->dims[1], (long long)g->block_size);
    if (x->dims[2] != g->L)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "input dim 2 is %lld, the image holds %lld blocks",
                             (long long)x->dims[2], (long long)g->L);
    g->C = x->dims[1] / g->block_size;
    return KILN_OK;
}

kiln_status kn_misc_col2im_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, 3, 1, 1));
    col2im_geom g;
    KN_TRY(col2im_geometry(c, &g));
    int64_t dims[KN_MAX_RANK];
    dims[0] = c->in[0]->dims[0];
    dims[1] = g.C;
    for (int d = 0; d < g.r; d++)
        dims[2 + d] = g.image[d];
    return kn_set_output(c, 0, c->in[0]->dtype, g.r + 2, dims);
}

/* Sums every column entry back onto the image pixel it was taken from. */
kiln_status kn_misc_col2im_run(kn_op_ctx *c)
{
    col2im_geom g;
    KN_TRY(col2im_geometry(c, &g));
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    int64_t N = x->dims[0], img = 1;
    for (int d = 0; d < g.r; d++)
        img *= g.image[d];
    int64_t ny = kn_tensor_count(y);
    double *acc = kn_calloc((size_t)(ny > 0 ? ny : 1), sizeof(double));
    if (!acc)
        return KN_NOMEM();
    int64_t istr[KN_MAX_RANK];
    kn_contiguous_strides(g.r, g.image, istr);
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < g.C; ch++)
            for (int64_t kb = 0; kb < g.block_size; kb++)
                for (int64_t l = 0; l < g.L; l++) {
                    int64_t rk = kb, rl = l, off = 0;
                    bool inside = true;
                    for (int d = g.r - 1; d >= 0; d--) {
                        int64_t k = rk % g.block[d], b = rl % g.blocks[d];
                        rk /= g.block[d];
                        rl /= g.blocks[d];
                        int64_t pos = b * g.stride[d] - g.pad_begin[d] + k * g.dil[d];
                        if (pos < 0 || pos >= g.image[d])
                            inside = false;
                        off += pos * istr[d];
                    }
                    if (inside)
                        acc[(n * g.C + ch) * img + off] +=
                            kn_tensor_get_f64(x, ((n * g.C + ch) * g.block_size + kb) * g.L + l);
                }
    for (int64_t i = 0; i < ny; i++)
        kn_tensor_set_f64(y, i, acc[i]);
    kn_free(acc);
    return KILN_OK;
}
