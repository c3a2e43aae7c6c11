/* Resize (opset 11+ semantics), with Resize-10 and Upsample-7/9 rewritten
 * into that form at load.
 *
 * Every resized axis gets a table of taps: for each output index, the input
 * indices and weights that make it (1 tap for nearest, 2 for linear, 4 for
 * cubic, more for antialiased downsampling). Nearest gathers directly, for
 * any dtype; linear and cubic apply the tables one axis at a time (the
 * interpolation is separable), last axis first as the ONNX reference does,
 * computing in float32. */
#include "ops/families.h"

#include <math.h>
#include <string.h>

#define OP_FMT "node '%s' (%s): "
#define OP_ARGS(n) (n)->name, (n)->op_type

typedef enum rs_mode { RS_NEAREST, RS_LINEAR, RS_CUBIC } rs_mode;
typedef enum rs_coord {
    CT_HALF_PIXEL,
    CT_HALF_PIXEL_SYMMETRIC,
    CT_PYTORCH_HALF_PIXEL,
    CT_ALIGN_CORNERS,
    CT_ASYMMETRIC,
    CT_TF_HALF_PIXEL_FOR_NN,
    CT_TF_CROP_AND_RESIZE
} rs_coord;
typedef enum rs_nearest { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL } rs_nearest;
typedef enum rs_keep { KEEP_STRETCH, KEEP_NOT_LARGER, KEEP_NOT_SMALLER } rs_keep;

typedef struct resize_params {
    rs_mode mode;
    rs_coord coord;
    rs_nearest nearest;
    rs_keep keep;
    float cubic_a;
    bool exclude_outside;
    bool antialias;
    float extrapolation;
    int n_axes; /* 0: all axes */
    int64_t axes[KN_MAX_RANK];
} resize_params;

/* ---- attributes ---------------------------------------------------------- */

static kiln_status pick(const kn_node *n, const char *attr, const char *def, const char *const *names, int count,
                        int *out)
{
    const char *s;
    KN_TRY(kn_attr_get_string(n, attr, def, &s));
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return KILN_OK;
        }
    return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "%s '%s' is not supported", OP_ARGS(n), attr, s);
}

static kiln_status resize_parse(kn_node *n)
{
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {"half_pixel",   "half_pixel_symmetric", "pytorch_half_pixel",
                                         "align_corners", "asymmetric",          "tf_half_pixel_for_nn",
                                         "tf_crop_and_resize"};
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    static const char *const keeps[] = {"stretch", "not_larger", "not_smaller"};
    resize_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    int mode = 0, coord = 0, nearest = 0, keep = 0;
    int64_t exclude = 0, antialias = 0;
    const int64_t *axes = NULL;
    size_t n_axes = 0;
    kiln_status s = pick(n, "mode", "nearest", modes, 3, &mode);
    if (s == KILN_OK)
        s = pick(n, "coordinate_transformation_mode", "half_pixel", coords, 7, &coord);
    if (s == KILN_OK)
        s = pick(n, "nearest_mode", "round_prefer_floor", nearests, 4, &nearest);
    if (s == KILN_OK)
        s = pick(n, "keep_aspect_ratio_policy", "stretch", keeps, 3, &keep);
    if (s == KILN_OK)
        s = kn_attr_get_float(n, "cubic_coeff_a", -0.75f, &p->cubic_a);
    if (s == KILN_OK)
        s = kn_attr_get_float(n, "extrapolation_value", 0.0f, &p->extrapolation);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "exclude_outside", 0, &exclude);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "antialias", 0, &antialias);
    if (s == KILN_OK)
        s = kn_attr_get_ints(n, "axes", &axes, &n_axes);
    if (s == KILN_OK && n_axes > KN_MAX_RANK)
        s = kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "%zu axes, at most %d supported", OP_ARGS(n), n_axes,
                     KN_MAX_RANK);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    p->mode = (rs_mode)mode;
    p->coord = (rs_coord)coord;
    p->nearest = (rs_nearest)nearest;
    p->keep = (rs_keep)keep;
    p->exclude_outside = exclude != 0;
    p->antialias = antialias != 0 && p->mode != RS_NEAREST; /* antialias only filters linear/cubic */
    p->n_axes = (int)n_axes;
    for (size_t i = 0; i < n_axes; i++)
        p->axes[i] = axes[i];
    n->params = p;
    return KILN_OK;
}

/* ---- geometry -------------------------------------------------------------- */

typedef struct rs_geom {
    int rank;
    int64_t in[KN_MAX_RANK], out[KN_MAX_RANK];
    double scale[KN_MAX_RANK];
    double roi_start[KN_MAX_RANK], roi_end[KN_MAX_RANK];
} rs_geom;

static const kiln_tensor *nonempty_input(const kn_op_ctx *c, int i)
{
    if (i >= c->n_in || !c->in[i])
        return NULL;
    return kn_tensor_count(c->in[i]) > 0 ? c->in[i] : NULL;
}

static kiln_status read_floats(const kn_op_ctx *c, int i, double *vals, int expect)
{
    const kiln_tensor *t = c->in[i];
    if (t->dtype != KILN_DTYPE_FLOAT && t->dtype != KILN_DTYPE_DOUBLE && t->dtype != KILN_DTYPE_FLOAT16 &&
        t->dtype != KILN_DTYPE_BFLOAT16)
        return kn_error(KILN_ERROR_DTYPE, OP_FMT "input %d must be floating point, got %s", OP_ARGS(c->node), i,
                        kiln_dtype_name(t->dtype));
    if (!t->data)
        return KN_NEED_VALUE;
    if (kn_tensor_count(t) != expect)
        return kn_error(KILN_ERROR_SHAPE, OP_FMT "input %d has %lld values, expected %d", OP_ARGS(c->node), i,
                        (long long)kn_tensor_count(t), expect);
    for (int k = 0; k < expect; k++)
        vals[k] = kn_tensor_get_f64(t, k);
    return KILN_OK;
}

/* The resized axes (in the order scales/sizes/roi list them). */
static kiln_status resize_axes(const kn_op_ctx *c, int rank, int *axes, int *n_axes)
{
    const resize_params *p = c->params;
    if (p->n_axes == 0) {
        for (int i = 0; i < rank; i++)
            axes[i] = i;
        *n_axes = rank;
        return KILN_OK;
    }
    bool seen[KN_MAX_RANK] = {false};
    for (int i = 0; i < p->n_axes; i++) {
        KN_TRY(kn_norm_axis(c, p->axes[i], rank, &axes[i]));
        if (seen[axes[i]])
            return kn_error(KILN_ERROR_MODEL, OP_FMT "axis %lld repeated in axes", OP_ARGS(c->node),
                            (long long)p->axes[i]);
        seen[axes[i]] = true;
    }
    *n_axes = p->n_axes;
    return KILN_OK;
}

/* Output shape and per-axis scale as the ONNX reference derives them; roi
 * only when need_roi (it does not affect the shape). */
static kiln_status resize_geometry(const kn_op_ctx *c, bool need_roi, rs_geom *g)
{
    const resize_params *p = c->params;
    const kn_node *n = c->node;
    const kiln_tensor *x = c->in[0];
    int rank = x->rank;
    int axes[KN_MAX_RANK], na = 0;
    KN_TRY(resize_axes(c, rank, axes, &na));
    g->rank = rank;
    for (int i = 0; i < rank; i++) {
        g->in[i] = g->out[i] = x->dims[i];
        g->scale[i] = 1.0;
        g->roi_start[i] = 0.0;
        g->roi_end[i] = 1.0;
    }
    const kiln_tensor *scales = nonempty_input(c, 2), *sizes = nonempty_input(c, 3);
    if (scales && sizes)
        return kn_error(KILN_ERROR_MODEL, OP_FMT "both scales and sizes are given", OP_ARGS(n));
    if (!scales && !sizes)
        return kn_error(KILN_ERROR_MODEL, OP_FMT "needs scales or sizes", OP_ARGS(n));
    if (scales) {
        double s[KN_MAX_RANK];
        KN_TRY(read_floats(c, 2, s, na));
        for (int i = 0; i < na; i++) {
            int a = axes[i];
            if (!(s[i] > 0.0) || isinf(s[i]))
                return kn_error(KILN_ERROR_MODEL, OP_FMT "scale %g for axis %d must be positive", OP_ARGS(n), s[i],
                                a);
            double o = floor((double)g->in[a] * s[i]);
            if (o > 9.0e15)
                return kn_error(KILN_ERROR_SHAPE, OP_FMT "scale %g makes axis %d too large", OP_ARGS(n), s[i], a);
            g->scale[a] = s[i];
            g->out[a] = (int64_t)o;
        }
    } else {
        int64_t sz[KN_MAX_RANK];
        size_t count = 0;
        KN_TRY(kn_input_ints(c, 3, sz, KN_MAX_RANK, &count));
        if ((int)count != na)
            return kn_error(KILN_ERROR_SHAPE, OP_FMT "sizes has %zu values, expected %d", OP_ARGS(n), count, na);
        for (int i = 0; i < na; i++) {
            if (sz[i] < 0)
                return kn_error(KILN_ERROR_SHAPE, OP_FMT "negative size %lld", OP_ARGS(n), (long long)sz[i]);
            if (g->in[axes[i]] == 0 && sz[i] != 0)
                return kn_error(KILN_ERROR_SHAPE, OP_FMT "cannot resize empty axis %d to %lld", OP_ARGS(n),
                                axes[i], (long long)sz[i]);
        }
        if (p->keep == KEEP_STRETCH) {
            for (int i = 0; i < na; i++) {
                int a = axes[i];
                g->out[a] = sz[i];
                g->scale[a] = g->in[a] ? (double)sz[i] / (double)g->in[a] : 1.0;
            }
        } else {
            double sc = 0.0;
            for (int i = 0; i < na; i++) {
                int a = axes[i];
                double r = g->in[a] ? (double)sz[i] / (double)g->in[a] : 1.0;
                if (i == 0 || (p->keep == KEEP_NOT_LARGER ? r < sc : r > sc))
                    sc = r;
            }
            for (int i = 0; i < na; i++) {
                int a = axes[i];
                g->scale[a] = sc;
                g->out[a] = (int64_t)(sc * (double)g->in[a] + 0.5);
            }
        }
    }
    if (need_roi && p->coord == CT_TF_CROP_AND_RESIZE) {
        const kiln_tensor *roi = nonempty_input(c, 1);
        if (!roi)
            return kn_error(KILN_ERROR_MODEL, OP_FMT "tf_crop_and_resize needs the roi input", OP_ARGS(n));
        double r[2 * KN_MAX_RANK];
        KN_TRY(read_floats(c, 1, r, 2 * na));
        for (int i = 0; i < na; i++) {
            g->roi_start[axes[i]] = r[i];
            g->roi_end[axes[i]] = r[na + i];
        }
    }
    return KILN_OK;
}

/* ---- tap tables ------------------------------------------------------------ */

/* Where output index o along an axis falls in the input (ONNX's
 * coordinate_transformation_mode); *outside set when tf_crop_and_resize
 * lands outside the image. */
static double source_coord(const resize_params *p, const rs_geom *g, int a, int64_t o, bool *outside)
{
    double in = (double)g->in[a], s = g->scale[a], x = (double)o;
    double out_f = s * in; /* the reference uses the unrounded output length */
    *outside = false;
    switch (p->coord) {
    case CT_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case CT_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)g->out[a] / out_f;
        double center = in / 2.0;
        return center * (1.0 - adjustment) + (x + 0.5) / s - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL: return out_f > 1.0 ? (x + 0.5) / s - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: return out_f == 1.0 ? 0.0 : x * (in - 1.0) / (out_f - 1.0);
    case CT_ASYMMETRIC: return x / s;
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    case CT_TF_CROP_AND_RESIZE: {
        double r0 = g->roi_start[a], r1 = g->roi_end[a];
        double xo = out_f == 1.0 ? (r1 - r0) * (in - 1.0) / 2.0 : x * (r1 - r0) * (in - 1.0) / (out_f - 1.0);
        xo += r0 * (in - 1.0);
        *outside = xo < 0.0 || xo > in - 1.0;
        return xo;
    }
    }
    return 0.0;
}

static double cubic_kernel(double x, double A)
{
    x = fabs(x);
    if (x <= 1.0)
        return ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    return 0.0;
}

/* First tap offset (relative to floor) and tap count for an axis. */
static void tap_window(const resize_params *p, double scale, int *first, int *count)
{
    if (p->mode == RS_NEAREST) {
        *first = 0;
        *count = 1;
        return;
    }
    double s = p->antialias ? KN_MIN(scale, 1.0) : 1.0;
    double support = p->mode == RS_LINEAR ? 1.0 : 2.0;
    int start = (int)floor(-support / s) + 1;
    *first = start;
    *count = 2 - 2 * start;
}

typedef struct rs_taps {
    int count;        /* taps per output index */
    int64_t *idx;     /* [out * count], clamped to [0, in) */
    float *w;         /* [out * count] */
    uint8_t *outside; /* [out] */
    bool identity;    /* output index o copies input o: the axis can be skipped */
} rs_taps;

static int64_t nearest_index(rs_nearest mode, double x)
{
    double f = floor(x);
    if (x == f)
        return (int64_t)f;
    double ratio = x - f;
    bool up;
    switch (mode) {
    case NM_ROUND_PREFER_FLOOR: up = ratio > 0.5; break;
    case NM_ROUND_PREFER_CEIL: up = ratio >= 0.5; break;
    case NM_FLOOR: up = false; break;
    default: up = true; break;
    }
    return (int64_t)f + (up ? 1 : 0);
}

static int64_t clamp_index(double v, int64_t n)
{
    if (!(v > 0.0)) /* also NaN */
        return 0;
    if (v >= (double)(n - 1))
        return n - 1;
    return (int64_t)v;
}

static void build_taps(const resize_params *p, const rs_geom *g, int a, rs_taps *t)
{
    int64_t in = g->in[a], out = g->out[a];
    int first, count;
    tap_window(p, g->scale[a], &first, &count);
    double s = p->antialias ? KN_MIN(g->scale[a], 1.0) : 1.0;
    t->count = count;
    t->identity = in == out;
    for (int64_t o = 0; o < out; o++) {
        bool outside;
        double x = source_coord(p, g, a, o, &outside);
        int64_t *idx = t->idx + o * count;
        float *w = t->w + o * count;
        t->outside[o] = outside;
        if (p->mode == RS_NEAREST) {
            double ni = (double)nearest_index(p->nearest, x);
            idx[0] = clamp_index(ni, in);
            w[0] = 1.0f;
            if (idx[0] != o || outside)
                t->identity = false;
            continue;
        }
        /* The reference keeps ratio in (0, 1]: an integral x sits at the
         * right end of its window. */
        double base = floor(x), ratio = x - base;
        if (ratio == 0.0) {
            base -= 1.0;
            ratio = 1.0;
        }
        double wt[64], sum = 0.0;
        double raw_idx[64];
        for (int k = 0; k < count && k < 64; k++) {
            double d = s * ((double)(first + k) - ratio);
            wt[k] = p->mode == RS_LINEAR ? KN_MAX(0.0, 1.0 - fabs(d)) : cubic_kernel(d, p->cubic_a);
            raw_idx[k] = base + (double)(first + k);
            if (p->exclude_outside && (raw_idx[k] < 0.0 || raw_idx[k] > (double)(in - 1)))
                wt[k] = 0.0;
            sum += wt[k];
        }
        for (int k = 0; k < count && k < 64; k++) {
            double wk = sum != 0.0 ? wt[k] / sum : 0.0;
            w[k] = (float)wk;
            idx[k] = clamp_index(raw_idx[k], in);
            if (outside || (wk != 0.0 && (idx[k] != o || wk != 1.0)))
                t->identity = false;
        }
    }
}

/* ---- scratch layout -------------------------------------------------------- */

typedef struct rs_layout {
    size_t taps_off[KN_MAX_RANK]; /* byte offsets of each axis' tables */
    int tap_count[KN_MAX_RANK];
    size_t buf_off[2]; /* float ping-pong buffers (linear/cubic only) */
    size_t buf_elems;
    size_t total;
} rs_layout;

static size_t align64(size_t v)
{
    return (v + 63) & ~(size_t)63;
}

static kiln_status resize_layout(const kn_op_ctx *c, const rs_geom *g, rs_layout *l)
{
    const resize_params *p = c->params;
    size_t off = 0;
    for (int a = 0; a < g->rank; a++) {
        int first, count;
        tap_window(p, g->scale[a], &first, &count);
        if (count > 64)
            return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "antialiased downsampling by %g on axis %d needs %d taps, "
                            "at most 64 supported", OP_ARGS(c->node), g->scale[a], a, count);
        l->tap_count[a] = count;
        l->taps_off[a] = off;
        size_t n = (size_t)g->out[a] * (size_t)count;
        off = align64(off + n * sizeof(int64_t));
        off = align64(off + n * sizeof(float));
        off = align64(off + (size_t)g->out[a]);
    }
    l->buf_elems = 0;
    if (p->mode != RS_NEAREST) {
        /* largest tensor along the way: after resizing axes k.. of rank */
        size_t biggest = 0;
        for (int k = g->rank; k >= 0; k--) {
            size_t e = 1;
            for (int i = 0; i < g->rank; i++)
                e *= (size_t)(i >= k ? g->out[i] : g->in[i]);
            biggest = KN_MAX(biggest, e);
        }
        l->buf_elems = biggest;
    }
    for (int b = 0; b < 2; b++) {
        l->buf_off[b] = off;
        off = align64(off + l->buf_elems * sizeof(float));
    }
    l->total = off;
    return KILN_OK;
}

static void layout_taps(const rs_layout *l, const rs_geom *g, unsigned char *base, int a, rs_taps *t)
{
    size_t n = (size_t)g->out[a] * (size_t)l->tap_count[a];
    unsigned char *q = base + l->taps_off[a];
    t->idx = (int64_t *)q;
    q += align64(n * sizeof(int64_t));
    t->w = (float *)q;
    q += align64(n * sizeof(float));
    t->outside = q;
}

/* ---- kernels --------------------------------------------------------------- */

/* Nearest: one gather over the output, any element size. */
static void nearest_gather(const rs_geom *g, const rs_taps *taps, const unsigned char *src, unsigned char *dst,
                           size_t es, const unsigned char *extrap)
{
    int rank = g->rank;
    int64_t xs[KN_MAX_RANK];
    kn_contiguous_strides(rank, g->in, xs);
    int last = rank - 1;
    int64_t row = g->out[last];
    int64_t rows = 1;
    for (int a = 0; a < last; a++)
        rows *= g->out[a];
    int64_t o[KN_MAX_RANK] = {0};
    const rs_taps *tl = &taps[last];
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = 0;
        bool outside = false;
        for (int a = 0; a < last; a++) {
            base += taps[a].idx[o[a]] * xs[a];
            outside |= taps[a].outside[o[a]] != 0;
        }
        unsigned char *d = dst + (size_t)(r * row) * es;
        for (int64_t j = 0; j < row; j++) {
            const unsigned char *s = outside || tl->outside[j] ? extrap : src + (size_t)(base + tl->idx[j]) * es;
            memcpy(d + (size_t)j * es, s, es);
        }
        for (int a = last - 1; a >= 0; a--) {
            if (++o[a] < g->out[a])
                break;
            o[a] = 0;
        }
    }
}

/* One separable pass along axis a: dims -> dims with dims[a] = out. */
static void interp_pass(const int64_t *dims, int rank, int a, int64_t out, const rs_taps *t, const float *src,
                        float *dst)
{
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < a; i++)
        outer *= dims[i];
    for (int i = a + 1; i < rank; i++)
        inner *= dims[i];
    int64_t n_in = dims[a];
    for (int64_t b = 0; b < outer; b++) {
        const float *sb = src + b * n_in * inner;
        for (int64_t o = 0; o < out; o++) {
            float *d = dst + (b * out + o) * inner;
            const int64_t *idx = t->idx + o * t->count;
            const float *w = t->w + o * t->count;
            if (inner == 1) {
                float acc = 0.0f;
                for (int k = 0; k < t->count; k++)
                    acc += w[k] * sb[idx[k]];
                d[0] = acc;
                continue;
            }
            for (int64_t j = 0; j < inner; j++)
                d[j] = 0.0f;
            for (int k = 0; k < t->count; k++) {
                if (w[k] == 0.0f)
                    continue;
                const float *s = sb + idx[k] * inner;
                float wk = w[k];
                for (int64_t j = 0; j < inner; j++)
                    d[j] += wk * s[j];
            }
        }
    }
}

static void to_float(const void *src, kiln_dtype dt, float *dst, int64_t n)
{
    if (dt == KILN_DTYPE_FLOAT) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = dt == KILN_DTYPE_FLOAT16 ? kn_half_to_float(h[i]) : kn_bf16_to_float(h[i]);
}

static void from_float(const float *src, kiln_dtype dt, void *dst, int64_t n)
{
    if (dt == KILN_DTYPE_FLOAT) {
        if (dst != src)
            memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = dt == KILN_DTYPE_FLOAT16 ? kn_float_to_half(src[i]) : kn_float_to_bf16(src[i]);
}

/* tf_crop_and_resize: any coordinate outside the crop yields the
 * extrapolation value exactly (the passes only approximate it). */
static void apply_extrapolation(const rs_geom *g, const rs_taps *taps, float *y, float value)
{
    bool any = false;
    for (int a = 0; a < g->rank; a++)
        for (int64_t o = 0; o < g->out[a] && !any; o++)
            any = taps[a].outside[o] != 0;
    if (!any)
        return;
    int64_t total = 1;
    for (int a = 0; a < g->rank; a++)
        total *= g->out[a];
    int64_t o[KN_MAX_RANK] = {0};
    for (int64_t i = 0; i < total; i++) {
        bool out = false;
        for (int a = 0; a < g->rank; a++)
            out |= taps[a].outside[o[a]] != 0;
        if (out)
            y[i] = value;
        for (int a = g->rank - 1; a >= 0; a--) {
            if (++o[a] < g->out[a])
                break;
            o[a] = 0;
        }
    }
}

/* ---- hooks ----------------------------------------------------------------- */

static bool interp_dtype(kiln_dtype dt)
{
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16;
}

static kiln_status resize_infer(kn_op_ctx *c)
{
    const resize_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, 4, 1, 1));
    const kiln_tensor *x = c->in[0];
    if (p->mode == RS_NEAREST) {
        if (x->dtype == KILN_DTYPE_STRING || !kn_dtype_known(x->dtype))
            return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "input dtype %s is not supported", OP_ARGS(c->node),
                            kiln_dtype_name(x->dtype));
    } else if (!interp_dtype(x->dtype)) {
        return kn_error(KILN_ERROR_UNSUPPORTED, OP_FMT "%s interpolation of %s is not supported", OP_ARGS(c->node),
                        p->mode == RS_LINEAR ? "linear" : "cubic", kiln_dtype_name(x->dtype));
    }
    if (x->rank == 0)
        return kn_error(KILN_ERROR_SHAPE, OP_FMT "input must have rank >= 1", OP_ARGS(c->node));
    rs_geom g;
    KN_TRY(resize_geometry(c, false, &g));
    return kn_set_output(c, 0, x->dtype, g.rank, g.out);
}

static kiln_status resize_prepare(kn_op_ctx *c)
{
    rs_geom g;
    kiln_status s = resize_geometry(c, false, &g);
    if (s == KN_NEED_VALUE)
        return KILN_OK; /* run() allocates for itself */
    KN_TRY(s);
    rs_layout l;
    KN_TRY(resize_layout(c, &g, &l));
    c->scratch_size = l.total;
    return KILN_OK;
}

static kiln_status resize_run(kn_op_ctx *c)
{
    const resize_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    rs_geom g;
    KN_TRY(resize_geometry(c, true, &g));
    if (kn_tensor_count(y) == 0)
        return KILN_OK;
    rs_layout l;
    KN_TRY(resize_layout(c, &g, &l));
    unsigned char *mem = c->scratch;
    unsigned char *owned = NULL;
    if (!mem || c->scratch_size < l.total) {
        owned = kn_aligned_alloc(l.total ? l.total : 64);
        if (!owned)
            return KN_NOMEM();
        mem = owned;
    }
    rs_taps taps[KN_MAX_RANK];
    for (int a = 0; a < g.rank; a++) {
        layout_taps(&l, &g, mem, a, &taps[a]);
        build_taps(p, &g, a, &taps[a]);
    }
    if (p->mode == RS_NEAREST) {
        size_t es = kiln_dtype_size(x->dtype);
        unsigned char extrap[16] = {0};
        kiln_tensor ev = {.dtype = x->dtype, .rank = 0, .data = extrap};
        kn_tensor_set_f64(&ev, 0, p->extrapolation);
        nearest_gather(&g, taps, x->data, y->data, es, extrap);
        kn_aligned_free(owned);
        return KILN_OK;
    }
    float *bufs[2] = {(float *)(mem + l.buf_off[0]), (float *)(mem + l.buf_off[1])};
    int64_t dims[KN_MAX_RANK];
    for (int a = 0; a < g.rank; a++)
        dims[a] = g.in[a];
    const float *cur = x->data;
    int which = 0;
    if (x->dtype != KILN_DTYPE_FLOAT) {
        to_float(x->data, x->dtype, bufs[0], kn_tensor_count(x));
        cur = bufs[0];
        which = 1;
    }
    for (int a = g.rank - 1; a >= 0; a--) {
        if (taps[a].identity)
            continue;
        bool final = true; /* passes run from the last axis down */
        for (int b = a - 1; b >= 0 && final; b--)
            if (!taps[b].identity)
                final = false;
        float *dst = final && y->dtype == KILN_DTYPE_FLOAT ? y->data : bufs[which];
        interp_pass(dims, g.rank, a, g.out[a], &taps[a], cur, dst);
        dims[a] = g.out[a];
        cur = dst;
        which ^= 1;
    }
    float *result = (float *)cur;
    if (y->dtype == KILN_DTYPE_FLOAT && cur != y->data) {
        memcpy(y->data, cur, y->nbytes); /* no pass ran: every axis is the identity */
        result = y->data;
    }
    if (p->coord == CT_TF_CROP_AND_RESIZE)
        apply_extrapolation(&g, taps, result, p->extrapolation);
    if (y->dtype != KILN_DTYPE_FLOAT)
        from_float(result, y->dtype, y->data, kn_tensor_count(y));
    kn_aligned_free(owned);
    return KILN_OK;
}

/* ---- old forms --------------------------------------------------------------- */

/* Rewrite into the Resize-11 input list [X, roi (none), scales], with the
 * coordinate mapping the old ops used: output index i reads input
 * floor(i / scale) for nearest, and linear interpolates at i / scale. */
static kiln_status to_resize11(kn_graph *g, int node, int scales_value)
{
    kn_node *n = &g->nodes[node];
    int ins[3] = {n->in[0], -1, scales_value};
    KN_TRY(kn_node_set_inputs(n, 3, ins));
    const char *mode;
    KN_TRY(kn_attr_get_string(n, "mode", "nearest", &mode));
    if (strcmp(mode, "bilinear") == 0) { /* Upsample-1 spelling */
        kn_node_remove_attr(n, "mode");
        KN_TRY(kn_node_add_attr_string(n, "mode", "linear"));
    }
    kn_node_remove_attr(n, "coordinate_transformation_mode");
    kn_node_remove_attr(n, "nearest_mode");
    KN_TRY(kn_node_add_attr_string(n, "coordinate_transformation_mode", "asymmetric"));
    KN_TRY(kn_node_add_attr_string(n, "nearest_mode", "floor"));
    if (strcmp(n->op_type, "Resize") != 0) {
        char *name = kn_strdup("Resize");
        if (!name)
            return KN_NOMEM();
        kn_free(n->op_type);
        n->op_type = name;
    }
    n->opset = 11;
    return KILN_OK;
}

static kiln_status resize10_upgrade(kn_graph *g, int node)
{
    kn_node *n = &g->nodes[node];
    if (n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0)
        return kn_error(KILN_ERROR_MODEL, OP_FMT "needs inputs X and scales", OP_ARGS(n));
    return to_resize11(g, node, n->in[1]);
}

static kiln_status upsample_upgrade(kn_graph *g, int node)
{
    kn_node *n = &g->nodes[node];
    if (n->n_in < 1 || n->in[0] < 0)
        return kn_error(KILN_ERROR_MODEL, OP_FMT "missing input X", OP_ARGS(n));
    if (n->n_in >= 2 && n->in[1] >= 0) /* opset 9: scales is an input */
        return to_resize11(g, node, n->in[1]);
    const float *scales = NULL;
    size_t count = 0;
    KN_TRY(kn_attr_get_floats(n, "scales", &scales, &count));
    if (!scales) {
        /* Upsample-1: height_scale / width_scale on NCHW */
        float hs, ws;
        KN_TRY(kn_attr_get_float(n, "height_scale", 0.0f, &hs));
        KN_TRY(kn_attr_get_float(n, "width_scale", 0.0f, &ws));
        if (hs <= 0.0f || ws <= 0.0f)
            return kn_error(KILN_ERROR_MODEL, OP_FMT "missing attribute 'scales'", OP_ARGS(n));
        float four[4] = {1.0f, 1.0f, hs, ws};
        int64_t len = 4;
        kiln_tensor *t;
        KN_TRY(kn_tensor_new(KILN_DTYPE_FLOAT, 1, &len, &t));
        memcpy(t->data, four, sizeof four);
        int v;
        KN_TRY(kn_graph_add_constant(g, "upsample_scales", t, &v));
        n = &g->nodes[node];
        kn_node_remove_attr(n, "height_scale");
        kn_node_remove_attr(n, "width_scale");
        return to_resize11(g, node, v);
    }
    int64_t len = (int64_t)count;
    kiln_tensor *t;
    KN_TRY(kn_tensor_new(KILN_DTYPE_FLOAT, 1, &len, &t));
    if (count)
        memcpy(t->data, scales, count * sizeof(float));
    int v;
    KN_TRY(kn_graph_add_constant(g, "upsample_scales", t, &v));
    n = &g->nodes[node];
    kn_node_remove_attr(n, "scales");
    return to_resize11(g, node, v);
}

const kn_op kn_ops_resize[] = {
    {.domain = "", .name = "Upsample", .since_min = 1, .since_max = 10, .upgrade = upsample_upgrade},
    {.domain = "", .name = "Resize", .since_min = 10, .since_max = 10, .upgrade = resize10_upgrade},
    {.domain = "", .name = "Resize", .since_min = 11, .since_max = 0, .parse = resize_parse,
     .infer = resize_infer, .prepare = resize_prepare, .run = resize_run, .types = kn_types_fixed},
};
KN_FAMILY_COUNT(resize);
