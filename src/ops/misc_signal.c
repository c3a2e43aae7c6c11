/* Signal ops: DFT, STFT, HannWindow / HammingWindow / BlackmanWindow and
 * MelWeightMatrix. The transforms are direct O(n^2) DFTs in double: a
 * clear reference an FFT can later be tested against. Complex tensors are
 * real tensors with a trailing dimension of 2 (real, imaginary); a trailing
 * dimension of 1 means a real signal. */
#include "ops/misc_ops.h"

#include <math.h>
#include <string.h>

#define TWO_PI 6.283185307179586476925286766559

/* e^{sign * 2 pi i k t / n}, reducing k*t mod n first for accuracy. */
static void twiddle(int64_t k, int64_t t, int64_t n, double sign, double *re, double *im)
{
    double a = TWO_PI * (double)((k % n) * (t % n) % n) / (double)n;
    *re = cos(a);
    *im = sign * sin(a);
}

/* out[k] = scale * sum_t in[t] e^{sign 2 pi i k t / n}, t < m, k < n_out. */
static void dft_1d(const double *in, int64_t m, int64_t n, int64_t n_out, double sign, double scale, double *out)
{
    for (int64_t k = 0; k < n_out; k++) {
        double sr = 0.0, si = 0.0;
        for (int64_t t = 0; t < m && t < n; t++) {
            double wr, wi;
            twiddle(k, t, n, sign, &wr, &wi);
            sr += in[2 * t] * wr - in[2 * t + 1] * wi;
            si += in[2 * t] * wi + in[2 * t + 1] * wr;
        }
        out[2 * k] = sr * scale;
        out[2 * k + 1] = si * scale;
    }
}

/* ---- DFT --------------------------------------------------------------- */

typedef struct dft_params {
    int64_t axis; /* opset < 20: from the attribute */
    int64_t inverse, onesided;
} dft_params;

kiln_status kn_misc_dft_parse(kn_node *n)
{
    dft_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "inverse", 0, &p->inverse);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "onesided", 0, &p->onesided);
    if (s == KILN_OK && n->opset < 20)
        s = kn_attr_get_int(n, "axis", 1, &p->axis);
    if (s == KILN_OK && n->opset >= 20 && kn_node_attr(n, "axis"))
        s = kn_misc_node_error(n, KILN_ERROR_MODEL, "attribute 'axis' became an input in opset 20");
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

typedef struct dft_geom {
    int axis;
    int64_t m;     /* input length along axis */
    int64_t n;     /* transform length */
    int64_t n_out; /* output length along axis */
    int out_last;  /* 1 (real) or 2 (complex) */
} dft_geom;

static kiln_status dft_geometry(const kn_op_ctx *c, dft_geom *g)
{
    const dft_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    int r = x->rank;
    if (r < 2 || (x->dims[r - 1] != 1 && x->dims[r - 1] != 2))
        return kn_misc_error(c, KILN_ERROR_SHAPE, "input must be [..., signal, 1 or 2]");
    int64_t axis = p->axis;
    if (c->node->opset >= 20) {
        axis = -2;
        if (c->n_in > 2 && c->in[2])
            KN_TRY(kn_misc_scalar_i64(c, 2, &axis));
    }
    if (axis < 0)
        axis += r;
    if (axis < 0 || axis > r - 2)
        return kn_misc_error(c, KILN_ERROR_MODEL, "axis %lld is outside the signal dimensions", (long long)axis);
    g->axis = (int)axis;
    g->m = x->dims[axis];
    bool irfft = p->inverse && p->onesided;
    g->n = irfft ? 2 * (g->m - 1) : g->m;
    if (c->n_in > 1 && c->in[1])
        KN_TRY(kn_misc_scalar_i64(c, 1, &g->n));
    if (g->n < 1)
        return kn_misc_error(c, KILN_ERROR_MODEL, "dft_length %lld must be positive", (long long)g->n);
    if (irfft && x->dims[r - 1] != 2)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "inverse onesided DFT needs a complex input");
    g->n_out = (p->onesided && !p->inverse) ? g->n / 2 + 1 : g->n;
    g->out_last = irfft ? 1 : 2;
    return KILN_OK;
}

kiln_status kn_misc_dft_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, c->node->opset >= 20 ? 3 : 2, 1, 1));
    dft_geom g;
    KN_TRY(dft_geometry(c, &g));
    const kiln_tensor *x = c->in[0];
    int64_t dims[KN_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[g.axis] = g.n_out;
    dims[x->rank - 1] = g.out_last;
    return kn_set_output(c, 0, x->dtype, x->rank, dims);
}

/* Complex input line of length m from x at (outer o, inner i). */
static void load_line(const kiln_tensor *x, int64_t base, int64_t stride, int64_t m, double *buf)
{
    int64_t last = x->dims[x->rank - 1];
    for (int64_t t = 0; t < m; t++) {
        int64_t at = base + t * stride;
        buf[2 * t] = kn_tensor_get_f64(x, at * last);
        buf[2 * t + 1] = last == 2 ? kn_tensor_get_f64(x, at * last + 1) : 0.0;
    }
}

/* Inverse real transform of a half spectrum: the missing half is the
 * conjugate mirror, and the imaginary parts of the DC (and Nyquist) terms
 * cannot contribute to a real signal, so they are dropped (as numpy's irfft). */
static void irfft_1d(const double *in, int64_t m, int64_t n, double *full, double *out)
{
    for (int64_t k = 0; k <= n / 2; k++) {
        full[2 * k] = k < m ? in[2 * k] : 0.0;
        full[2 * k + 1] = k < m ? in[2 * k + 1] : 0.0;
    }
    full[1] = 0.0;
    if (n % 2 == 0)
        full[n + 1] = 0.0;
    for (int64_t k = n / 2 + 1; k < n; k++) {
        full[2 * k] = full[2 * (n - k)];
        full[2 * k + 1] = -full[2 * (n - k) + 1];
    }
    dft_1d(full, n, n, n, 1.0, 1.0 / (double)n, out);
}

kiln_status kn_misc_dft_run(kn_op_ctx *c)
{
    const dft_params *p = c->params;
    dft_geom g;
    KN_TRY(dft_geometry(c, &g));
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < g.axis; i++)
        outer *= x->dims[i];
    for (int i = g.axis + 1; i < x->rank - 1; i++)
        inner *= x->dims[i];
    int64_t len = KN_MAX(g.m, g.n);
    double *buf = kn_malloc((size_t)len * 2 * sizeof(double));
    double *full = kn_malloc((size_t)len * 2 * sizeof(double));
    double *res = kn_malloc((size_t)len * 2 * sizeof(double));
    if (!buf || !full || !res) {
        kn_free(buf);
        kn_free(full);
        kn_free(res);
        return KN_NOMEM();
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            load_line(x, o * g.m * inner + i, inner, g.m, buf);
            if (p->inverse && p->onesided)
                irfft_1d(buf, g.m, g.n, full, res);
            else if (p->inverse)
                dft_1d(buf, g.m, g.n, g.n_out, 1.0, 1.0 / (double)g.n, res);
            else
                dft_1d(buf, g.m, g.n, g.n_out, -1.0, 1.0, res);
            for (int64_t k = 0; k < g.n_out; k++) {
                int64_t at = (o * g.n_out * inner + k * inner + i) * g.out_last;
                kn_tensor_set_f64(y, at, res[2 * k]);
                if (g.out_last == 2)
                    kn_tensor_set_f64(y, at + 1, res[2 * k + 1]);
            }
        }
    kn_free(buf);
    kn_free(full);
    kn_free(res);
    return KILN_OK;
}

/* ---- STFT -------------------------------------------------------------- */

typedef struct stft_params {
    int64_t onesided;
} stft_params;

kiln_status kn_misc_stft_parse(kn_node *n)
{
    stft_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_int(n, "onesided", 1, &p->onesided);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

typedef struct stft_geom {
    int64_t step, frame_len, frames, bins;
} stft_geom;

static kiln_status stft_geometry(const kn_op_ctx *c, stft_geom *g)
{
    const stft_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    const kiln_tensor *win = c->n_in > 2 ? c->in[2] : NULL;
    if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
        return kn_misc_error(c, KILN_ERROR_SHAPE, "signal must be [batch, length, 1 or 2]");
    KN_TRY(kn_misc_scalar_i64(c, 1, &g->step));
    g->frame_len = -1;
    if (win) {
        if (win->rank != 1)
            return kn_misc_error(c, KILN_ERROR_SHAPE, "window has rank %d, expected 1", win->rank);
        g->frame_len = win->dims[0];
    }
    if (c->n_in > 3 && c->in[3]) {
        int64_t fl;
        KN_TRY(kn_misc_scalar_i64(c, 3, &fl));
        if (win && fl != g->frame_len)
            return kn_misc_error(c, KILN_ERROR_SHAPE, "frame_length %lld differs from the window length %lld",
                                 (long long)fl, (long long)g->frame_len);
        g->frame_len = fl;
    }
    if (g->frame_len < 0)
        return kn_misc_error(c, KILN_ERROR_MODEL, "needs a window or a frame_length");
    if (g->step < 1 || g->frame_len < 1 || g->frame_len > x->dims[1])
        return kn_misc_error(c, KILN_ERROR_SHAPE, "frame_step %lld / frame_length %lld do not fit a signal of %lld",
                             (long long)g->step, (long long)g->frame_len, (long long)x->dims[1]);
    g->frames = (x->dims[1] - g->frame_len) / g->step + 1;
    g->bins = p->onesided ? g->frame_len / 2 + 1 : g->frame_len;
    return KILN_OK;
}

kiln_status kn_misc_stft_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 4, 1, 1));
    if (c->n_in > 2 && c->in[2])
        KN_TRY(kn_misc_check_float(c, 2));
    stft_geom g;
    KN_TRY(stft_geometry(c, &g));
    int64_t dims[4] = {c->in[0]->dims[0], g.frames, g.bins, 2};
    return kn_set_output(c, 0, c->in[0]->dtype, 4, dims);
}

kiln_status kn_misc_stft_run(kn_op_ctx *c)
{
    stft_geom g;
    KN_TRY(stft_geometry(c, &g));
    const kiln_tensor *x = c->in[0];
    const kiln_tensor *win = c->n_in > 2 ? c->in[2] : NULL;
    kiln_tensor *y = c->out[0];
    int64_t B = x->dims[0], L = x->dims[1];
    double *buf = kn_malloc((size_t)g.frame_len * 2 * sizeof(double));
    double *res = kn_malloc((size_t)g.frame_len * 2 * sizeof(double));
    if (!buf || !res) {
        kn_free(buf);
        kn_free(res);
        return KN_NOMEM();
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t f = 0; f < g.frames; f++) {
            load_line(x, b * L + f * g.step, 1, g.frame_len, buf);
            if (win)
                for (int64_t t = 0; t < g.frame_len; t++) {
                    double w = kn_tensor_get_f64(win, t);
                    buf[2 * t] *= w;
                    buf[2 * t + 1] *= w;
                }
            dft_1d(buf, g.frame_len, g.frame_len, g.bins, -1.0, 1.0, res);
            for (int64_t k = 0; k < g.bins; k++) {
                int64_t at = ((b * g.frames + f) * g.bins + k) * 2;
                kn_tensor_set_f64(y, at, res[2 * k]);
                kn_tensor_set_f64(y, at + 1, res[2 * k + 1]);
            }
        }
    kn_free(buf);
    kn_free(res);
    return KILN_OK;
}

/* ---- window functions -------------------------------------------------- */

typedef enum window_kind { WIN_HANN, WIN_HAMMING, WIN_BLACKMAN } window_kind;

typedef struct window_params {
    window_kind kind;
    int64_t periodic;
    kiln_dtype dtype;
} window_params;

static kiln_status output_datatype(kn_node *n, kiln_dtype *out)
{
    int64_t dt;
    KN_TRY(kn_attr_get_int(n, "output_datatype", KILN_DTYPE_FLOAT, &dt));
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16)
        return kn_misc_node_error(n, KILN_ERROR_UNSUPPORTED, "output_datatype %lld is not supported", (long long)dt);
    *out = (kiln_dtype)dt;
    return KILN_OK;
}

kiln_status kn_misc_window_parse(kn_node *n)
{
    window_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->kind = !strcmp(n->op_type, "HannWindow") ? WIN_HANN
              : !strcmp(n->op_type, "HammingWindow") ? WIN_HAMMING
                                                      : WIN_BLACKMAN;
    kiln_status s = kn_attr_get_int(n, "periodic", 1, &p->periodic);
    if (s == KILN_OK)
        s = output_datatype(n, &p->dtype);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status window_size(const kn_op_ctx *c, int64_t *size)
{
    KN_TRY(kn_misc_scalar_i64(c, 0, size));
    if (*size < 0)
        return kn_misc_error(c, KILN_ERROR_SHAPE, "size %lld is negative", (long long)*size);
    return KILN_OK;
}

kiln_status kn_misc_window_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const window_params *p = c->params;
    int64_t size;
    KN_TRY(window_size(c, &size));
    return kn_set_output(c, 0, p->dtype, 1, &size);
}

kiln_status kn_misc_window_run(kn_op_ctx *c)
{
    const window_params *p = c->params;
    int64_t size;
    KN_TRY(window_size(c, &size));
    /* periodic windows are one sample of a window of size + 1 */
    int64_t n = p->periodic ? size : size - 1;
    for (int64_t i = 0; i < size; i++) {
        double a = n > 0 ? TWO_PI * (double)i / (double)n : 0.0, v;
        switch (p->kind) {
        case WIN_HANN: v = 0.5 - 0.5 * cos(a); break;
        case WIN_HAMMING: v = 25.0 / 46.0 - 21.0 / 46.0 * cos(a); break;
        default: v = 0.42 - 0.5 * cos(a) + 0.08 * cos(2.0 * a); break;
        }
        if (n == 0)
            v = 1.0; /* a one-point symmetric window */
        kn_tensor_set_f64(c->out[0], i, v);
    }
    return KILN_OK;
}

/* ---- MelWeightMatrix --------------------------------------------------- */

typedef struct mel_params {
    kiln_dtype dtype;
} mel_params;

kiln_status kn_misc_melweight_parse(kn_node *n)
{
    mel_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = output_datatype(n, &p->dtype);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

typedef struct mel_args {
    int64_t bins, dft_length, rate;
    double lo, hi;
} mel_args;

static kiln_status mel_args_of(const kn_op_ctx *c, mel_args *a)
{
    KN_TRY(kn_misc_scalar_i64(c, 0, &a->bins));
    KN_TRY(kn_misc_scalar_i64(c, 1, &a->dft_length));
    KN_TRY(kn_misc_scalar_i64(c, 2, &a->rate));
    KN_TRY(kn_misc_scalar_f64(c, 3, &a->lo));
    KN_TRY(kn_misc_scalar_f64(c, 4, &a->hi));
    if (a->bins < 1 || a->dft_length < 1 || a->rate < 1 || a->lo < 0 || a->hi < a->lo)
        return kn_misc_error(c, KILN_ERROR_MODEL, "invalid mel parameters (bins %lld, dft_length %lld, rate %lld)",
                             (long long)a->bins, (long long)a->dft_length, (long long)a->rate);
    return KILN_OK;
}

kiln_status kn_misc_melweight_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 5, 5, 1, 1));
    const mel_params *p = c->params;
    mel_args a;
    KN_TRY(mel_args_of(c, &a));
    int64_t dims[2] = {a.dft_length / 2 + 1, a.bins};
    return kn_set_output(c, 0, p->dtype, 2, dims);
}

/* Triangular filters on the mel scale, computed the way the ONNX reference
 * does (including its step of (high - low) / (bins + 2) and the floored
 * FFT bin of each edge), so results match the official tests bit for bit. */
kiln_status kn_misc_melweight_run(kn_op_ctx *c)
{
    mel_args a;
    KN_TRY(mel_args_of(c, &a));
    kiln_tensor *y = c->out[0];
    int64_t rows = a.dft_length / 2 + 1, nb = a.bins;
    int64_t *edge = kn_malloc((size_t)(nb + 2) * sizeof(int64_t));
    if (!edge)
        return KN_NOMEM();
    double lo_mel = 2595.0 * log10(1.0 + a.lo / 700.0), hi_mel = 2595.0 * log10(1.0 + a.hi / 700.0);
    double step = (hi_mel - lo_mel) / (double)(nb + 2);
    for (int64_t i = 0; i < nb + 2; i++) {
        double hz = 700.0 * (pow(10.0, ((double)i * step + lo_mel) / 2595.0) - 1.0);
        edge[i] = (int64_t)floor((double)(a.dft_length + 1) * hz / (double)a.rate);
    }
    for (int64_t i = 0; i < rows * nb; i++)
        kn_tensor_set_f64(y, i, 0.0);
    for (int64_t i = 0; i < nb; i++) {
        int64_t l = edge[i], m = edge[i + 1], h = edge[i + 2];
        if (l < 0 || m >= rows || h > rows) {
            kn_free(edge);
            return kn_misc_error(c, KILN_ERROR_MODEL, "mel filter %lld falls outside the %lld spectrogram bins",
                                 (long long)i, (long long)rows);
        }
        if (m == l)
            kn_tensor_set_f64(y, m * nb + i, 1.0);
        else
            for (int64_t j = l; j <= m; j++)
                kn_tensor_set_f64(y, j * nb + i, (double)(j - l) / (double)(m - l));
        for (int64_t j = m; j < h; j++)
            kn_tensor_set_f64(y, j * nb + i, (double)(h - j) / (double)(h - m));
    }
    kn_free(edge);
    return KILN_OK;
}
