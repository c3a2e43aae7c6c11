/* Detection ops: NonMaxSuppression and RoiAlign, following ONNX Runtime's
 * CPU kernels (which the ONNX reference implementation mirrors). */
#include "ops/misc_ops.h"

#include <math.h>
#include <string.h>

/* ---- NonMaxSuppression ------------------------------------------------- */

typedef struct nms_params {
    int64_t center_point_box;
} nms_params;

kiln_status kn_misc_nms_parse(kn_node *n)
{
    nms_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "center_point_box", 0, &p->center_point_box);
    if (s == KILN_OK && p->center_point_box != 0 && p->center_point_box != 1)
        s = kn_misc_node_error(n, KILN_ERROR_MODEL, "center_point_box must be 0 or 1, is %lld",
                               (long long)p->center_point_box);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

typedef struct nms_args {
    int64_t max_out;
    double iou, score;
    bool has_score;
} nms_args;

static kiln_status nms_args_of(const kn_op_ctx *c, nms_args *a)
{
    a->max_out = 0;
    a->iou = 0.0;
    a->score = 0.0;
    a->has_score = false;
    if (c->n_in > 2 && c->in[2])
        KN_TRY(kn_misc_scalar_i64(c, 2, &a->max_out));
    if (c->n_in > 3 && c->in[3])
        KN_TRY(kn_misc_scalar_f64(c, 3, &a->iou));
    if (c->n_in > 4 && c->in[4]) {
        KN_TRY(kn_misc_scalar_f64(c, 4, &a->score));
        a->has_score = true;
    }
    if (a->iou < 0.0 || a->iou > 1.0)
        return kn_misc_error(c, KILN_ERROR_MODEL, "iou_threshold %g is outside [0, 1]", a->iou);
    return KILN_OK;
}

/* Box as (ymin, xmin, ymax, xmax). */
static void nms_box(const kn_op_ctx *c, int64_t at, double *b)
{
    const nms_params *p = c->params;
    const kiln_tensor *boxes = c->in[0];
    double v[4];
    for (int i = 0; i < 4; i++)
        v[i] = kn_tensor_get_f64(boxes, at * 4 + i);
    if (p->center_point_box) { /* [x_center, y_center, width, height] */
        b[0] = v[1] - v[3] / 2;
        b[2] = v[1] + v[3] / 2;
        b[1] = v[0] - v[2] / 2;
        b[3] = v[0] + v[2] / 2;
    } else { /* any diagonal pair of corners */
        b[0] = fmin(v[0], v[2]);
        b[2] = fmax(v[0], v[2]);
        b[1] = fmin(v[1], v[3]);
        b[3] = fmax(v[1], v[3]);
    }
}

static double nms_iou(const double *a, const double *b)
{
    double ih = fmin(a[2], b[2]) - fmax(a[0], b[0]);
    double iw = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    if (ih <= 0 || iw <= 0)
        return 0.0;
    double inter = ih * iw;
    double area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    double uni = area_a + area_b - inter;
    return uni > 0 ? inter / uni : 0.0;
}

/* Selects boxes for every (batch, class); writes triples to out (may be NULL
 * to count only), returns the count through *total. */
static kiln_status nms_select(const kn_op_ctx *c, int64_t *out, int64_t *total)
{
    nms_args a;
    KN_TRY(nms_args_of(c, &a));
    const kiln_tensor *scores = c->in[1];
    int64_t B = scores->dims[0], C = scores->dims[1], N = scores->dims[2];
    *total = 0;
    if (a.max_out <= 0 || N == 0)
        return KILN_OK;
    int64_t *cand = kn_malloc((size_t)N * sizeof(int64_t));
    int64_t *sel = kn_malloc((size_t)N * sizeof(int64_t));
    double *box = kn_malloc((size_t)N * 4 * sizeof(double));
    double *sc = kn_malloc((size_t)N * sizeof(double));
    if (!cand || !sel || !box || !sc) {
        kn_free(cand);
        kn_free(sel);
        kn_free(box);
        kn_free(sc);
        return KN_NOMEM();
    }
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < N; i++)
            nms_box(c, b * N + i, box + i * 4);
        for (int64_t cl = 0; cl < C; cl++) {
            int64_t nc = 0;
            for (int64_t i = 0; i < N; i++) {
                sc[i] = kn_tensor_get_f64(scores, (b * C + cl) * N + i);
                if (!a.has_score || sc[i] > a.score)
                    cand[nc++] = i;
            }
            /* stable insertion by descending score: ties keep box order */
            for (int64_t i = 1; i < nc; i++) {
                int64_t x = cand[i], j = i - 1;
                while (j >= 0 && sc[cand[j]] < sc[x]) {
                    cand[j + 1] = cand[j];
                    j--;
                }
                cand[j + 1] = x;
            }
            int64_t ns = 0;
            for (int64_t i = 0; i < nc && ns < a.max_out; i++) {
                bool keep = true;
                for (int64_t j = 0; j < ns && keep; j++)
                    keep = nms_iou(box + cand[i] * 4, box + sel[j] * 4) <= a.iou;
                if (keep)
                    sel[ns++] = cand[i];
            }
            for (int64_t j = 0; j < ns; j++) {
                if (out) {
                    out[*total * 3 + 0] = b;
                    out[*total * 3 + 1] = cl;
                    out[*total * 3 + 2] = sel[j];
                }
                (*total)++;
            }
        }
    }
    kn_free(cand);
    kn_free(sel);
    kn_free(box);
    kn_free(sc);
    return KILN_OK;
}

kiln_status kn_misc_nms_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 5, 1, 1));
    KN_TRY(kn_misc_check_float(c, 1));
    const kiln_tensor *boxes = c->in[0], *scores = c->in[1];
    if (boxes->rank != 3 || boxes->dims[2] != 4)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "boxes must be [batch, boxes, 4]");
    if (scores->rank != 3 || scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
        return kn_misc_error(c, KILN_ERROR_SHAPE, "scores must be [batch, classes, boxes] matching boxes");
    if (!boxes->data || !scores->data)
        return KN_NEED_VALUE;
    int64_t total;
    KN_TRY(nms_select(c, NULL, &total));
    int64_t dims[2] = {total, 3};
    return kn_set_output(c, 0, KILN_DTYPE_INT64, 2, dims);
}

kiln_status kn_misc_nms_run(kn_op_ctx *c)
{
    int64_t total;
    KN_TRY(nms_select(c, NULL, &total));
    if (total != c->out[0]->dims[0])
        return kn_misc_error(c, KILN_ERROR_INTERNAL, "input changed after shape inference");
    return nms_select(c, c->out[0]->data, &total);
}

/* ---- RoiAlign ---------------------------------------------------------- */

typedef struct roialign_params {
    bool max_mode, half_pixel;
    int64_t out_h, out_w, sampling_ratio;
    float spatial_scale;
} roialign_params;

kiln_status kn_misc_roialign_parse(kn_node *n)
{
    roialign_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    const char *mode, *ctm;
    /* opset 16 added half_pixel and made it the default; before, the only
     * behaviour was what is now called output_half_pixel */
    kiln_status s = kn_attr_get_string(n, "mode", "avg", &mode);
    if (s == KILN_OK)
        s = kn_attr_get_string(n, "coordinate_transformation_mode", n->opset >= 16 ? "half_pixel" : "output_half_pixel",
                               &ctm);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "output_height", 1, &p->out_h);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "output_width", 1, &p->out_w);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "sampling_ratio", 0, &p->sampling_ratio);
    if (s == KILN_OK)
        s = kn_attr_get_float(n, "spatial_scale", 1.0f, &p->spatial_scale);
    if (s == KILN_OK) {
        if (strcmp(mode, "avg") && strcmp(mode, "max"))
            s = kn_misc_node_error(n, KILN_ERROR_UNSUPPORTED, "mode '%s' is not supported", mode);
        else if (strcmp(ctm, "half_pixel") && strcmp(ctm, "output_half_pixel"))
            s = kn_misc_node_error(n, KILN_ERROR_UNSUPPORTED, "coordinate_transformation_mode '%s' is not supported",
                                   ctm);
        else if (p->out_h < 1 || p->out_w < 1 || p->sampling_ratio < 0)
            s = kn_misc_node_error(n, KILN_ERROR_MODEL, "output_height/output_width must be >= 1, sampling_ratio >= 0");
    }
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    p->max_mode = !strcmp(mode, "max");
    p->half_pixel = !strcmp(ctm, "half_pixel");
    n->params = p;
    return KILN_OK;
}

kiln_status kn_misc_roialign_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 3, 3, 1, 1));
    KN_TRY(kn_misc_check_float(c, 1));
    static const kiln_dtype ok[] = {KILN_DTYPE_INT64, KILN_DTYPE_INT32, KILN_DTYPE_UNDEFINED};
    KN_TRY(kn_check_dtype(c, 2, ok));
    const roialign_params *p = c->params;
    const kiln_tensor *x = c->in[0], *rois = c->in[1], *bi = c->in[2];
    if (x->rank != 4)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "X has rank %d, expected 4", x->rank);
    if (rois->rank != 2 || rois->dims[1] != 4)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "rois must be [num_rois, 4]");
    if (bi->rank != 1 || bi->dims[0] != rois->dims[0])
        return kn_misc_error(c, KILN_ERROR_SHAPE, "batch_indices must be [num_rois]");
    int64_t dims[4] = {rois->dims[0], x->dims[1], p->out_h, p->out_w};
    return kn_set_output(c, 0, x->dtype, 4, dims);
}

typedef struct roi_sample {
    int64_t pos[4];
    double w[4];
} roi_sample;

static void roi_sample_at(double y, double x, int64_t H, int64_t W, roi_sample *s)
{
    memset(s, 0, sizeof *s);
    if (y < -1.0 || y > (double)H || x < -1.0 || x > (double)W)
        return;
    y = fmax(y, 0.0);
    x = fmax(x, 0.0);
    int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
    if (yl >= H - 1) {
        yh = yl = H - 1;
        y = (double)yl;
    } else {
        yh = yl + 1;
    }
    if (xl >= W - 1) {
        xh = xl = W - 1;
        x = (double)xl;
    } else {
        xh = xl + 1;
    }
    double ly = y - (double)yl, lx = x - (double)xl, hy = 1.0 - ly, hx = 1.0 - lx;
    s->pos[0] = yl * W + xl;
    s->pos[1] = yl * W + xh;
    s->pos[2] = yh * W + xl;
    s->pos[3] = yh * W + xh;
    s->w[0] = hy * hx;
    s->w[1] = hy * lx;
    s->w[2] = ly * hx;
    s->w[3] = ly * lx;
}

kiln_status kn_misc_roialign_run(kn_op_ctx *c)
{
    const roialign_params *p = c->params;
    const kiln_tensor *x = c->in[0], *rois = c->in[1], *bi = c->in[2];
    kiln_tensor *y = c->out[0];
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], R = rois->dims[0];
    int64_t PH = p->out_h, PW = p->out_w;
    double scale = p->spatial_scale, off = p->half_pixel ? 0.5 : 0.0;
    for (int64_t r = 0; r < R; r++) {
        int64_t b = kn_tensor_get_i64(bi, r);
        if (b < 0 || b >= N)
            return kn_misc_error(c, KILN_ERROR_SHAPE, "batch_indices[%lld]=%lld is outside [0, %lld)", (long long)r,
                                 (long long)b, (long long)N);
        double x0 = kn_tensor_get_f64(rois, r * 4 + 0) * scale - off;
        double y0 = kn_tensor_get_f64(rois, r * 4 + 1) * scale - off;
        double x1 = kn_tensor_get_f64(rois, r * 4 + 2) * scale - off;
        double y1 = kn_tensor_get_f64(rois, r * 4 + 3) * scale - off;
        double rw = x1 - x0, rh = y1 - y0;
        if (!p->half_pixel) { /* malformed ROIs become 1x1 */
            rw = fmax(rw, 1.0);
            rh = fmax(rh, 1.0);
        }
        double bh = rh / (double)PH, bw = rw / (double)PW;
        int64_t gh = p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rh / (double)PH);
        int64_t gw = p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rw / (double)PW);
        double count = (double)KN_MAX(gh * gw, 1);
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t base = (b * C + ch) * H * W;
            for (int64_t ph = 0; ph < PH; ph++)
                for (int64_t pw = 0; pw < PW; pw++) {
                    double acc = 0.0;
                    bool first = true;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        double yy = y0 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double xx = x0 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            roi_sample s;
                            roi_sample_at(yy, xx, H, W, &s);
                            double v[4];
                            for (int k = 0; k < 4; k++)
                                v[k] = s.w[k] * kn_tensor_get_f64(x, base + s.pos[k]);
                            if (!p->max_mode) {
                                acc += v[0] + v[1] + v[2] + v[3];
                            } else {
                                /* max of the weighted corners, as ONNX Runtime does */
                                double m = fmax(fmax(v[0], v[1]), fmax(v[2], v[3]));
                                acc = first ? m : fmax(acc, m);
                                first = false;
                            }
                        }
                    }
                    if (!p->max_mode)
                        acc /= count;
                    kn_tensor_set_f64(y, ((r * C + ch) * PH + ph) * PW + pw, acc);
                }
        }
    }
    return KILN_OK;
}
