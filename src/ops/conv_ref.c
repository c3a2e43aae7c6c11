/* Reference kernels for convolution and pooling (see conv_ref.h).
 *
 * Conv: per image, an im2col matrix of all groups is built in scratch
 * (rows = input channel x kernel tap, columns = output positions), then each
 * task multiplies a block of up to 4 output channels by one chunk of
 * columns, so a column chunk is loaded once for 4 accumulators.
 * ConvTranspose: one task per (image, output channel) scatters every input
 * tap into its output plane. Pools: one task per (image, channel) plane. */
#include "ops/conv_ref.h"

#include <math.h>
#include <string.h>

kiln_status kn_window_dim(const kn_node *n, int i, int nsp, kn_auto_pad auto_pad, int64_t in, int64_t k, int64_t s,
                          int64_t d, const int64_t *pads, size_t n_pads, bool ceil_mode, int64_t *out,
                          int64_t *pad_begin, int64_t *pad_end)
{
    int64_t eff = (k - 1) * d + 1;
    if (auto_pad == KN_AUTO_PAD_SAME_UPPER || auto_pad == KN_AUTO_PAD_SAME_LOWER) {
        *out = kn_ceil_div(in, s);
        int64_t total = KN_MAX(0, (*out - 1) * s + eff - in);
        *pad_begin = auto_pad == KN_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pad_end = total - *pad_begin;
        return KILN_OK;
    }
    int64_t pb = 0, pe = 0;
    if (auto_pad == KN_AUTO_PAD_NOTSET && n_pads) {
        pb = pads[i];
        pe = pads[i + nsp];
    }
    int64_t span = in + pb + pe - eff;
    if (span < 0)
        return kn_error(KILN_ERROR_SHAPE,
                        "node '%s' (%s): spatial dim %d is %lld (padded %lld), smaller than the kernel extent %lld",
                        n->name, n->op_type, i, (long long)in, (long long)(in + pb + pe), (long long)eff);
    if (ceil_mode && auto_pad != KN_AUTO_PAD_VALID) {
        *out = kn_ceil_div(span, s) + 1;
        if ((*out - 1) * s >= in + pb) /* the last window would start in the trailing pad */
            (*out)--;
    } else {
        *out = span / s + 1;
    }
    *pad_begin = pb;
    *pad_end = pe;
    return KILN_OK;
}

kiln_status kn_parse_auto_pad(const kn_node *n, kn_auto_pad *out)
{
    const char *s;
    KN_TRY(kn_attr_get_string(n, "auto_pad", "NOTSET", &s));
    if (!strcmp(s, "NOTSET") || !strcmp(s, ""))
        *out = KN_AUTO_PAD_NOTSET;
    else if (!strcmp(s, "SAME_UPPER"))
        *out = KN_AUTO_PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER"))
        *out = KN_AUTO_PAD_SAME_LOWER;
    else if (!strcmp(s, "VALID"))
        *out = KN_AUTO_PAD_VALID;
    else
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                        n->name, n->op_type, s);
    return KILN_OK;
}

/* The geometry padded to 3 spatial dimensions (leading ones). */
typedef struct geom3 {
    int64_t in[3], out[3], k[3], s[3], d[3], p[3], pe[3];
} geom3;

static void geom3_fill(int nsp, const int64_t *in, const int64_t *out, const int64_t *k, const int64_t *s,
                       const int64_t *d, const int64_t *p, const int64_t *pe, geom3 *g)
{
    int off = 3 - nsp;
    for (int i = 0; i < 3; i++) {
        int j = i - off;
        bool real = j >= 0;
        g->in[i] = real ? in[j] : 1;
        g->out[i] = real ? out[j] : 1;
        g->k[i] = real ? k[j] : 1;
        g->s[i] = real ? s[j] : 1;
        g->d[i] = real ? d[j] : 1;
        g->p[i] = real ? p[j] : 0;
        g->pe[i] = real && pe ? pe[j] : 0;
    }
}

static void conv_geom3(const kn_conv_params *p, geom3 *g)
{
    geom3_fill(p->nsp, p->in, p->out, p->k, p->stride, p->dil, p->pad, NULL, g);
}

/* [lo, hi): the positions o in [0, n_o) whose source o*s - p + t lies in
 * [0, n_src). */
static void valid_range(int64_t n_o, int64_t n_src, int64_t s, int64_t p, int64_t t, int64_t *lo, int64_t *hi)
{
    int64_t a = KN_MIN(n_o, KN_MAX(0, kn_ceil_div(p - t, s)));
    int64_t b = KN_MIN(n_o, kn_floor_div(n_src - 1 + p - t, s) + 1);
    *lo = a;
    *hi = KN_MAX(a, b);
}

/* ---- Conv ------------------------------------------------------------- */

/* Columns per GEMM tile: a compile-time constant so the inner loops
 * vectorize at -O2; a shorter last tile takes the generic loop. */
#define CONV_TILE 64

static bool conv_is_pointwise(const geom3 *g)
{
    for (int i = 0; i < 3; i++)
        if (g->k[i] != 1 || g->s[i] != 1 || g->p[i] != 0 || g->out[i] != g->in[i])
            return false;
    return true;
}

bool kn_conv_ref_scratch_bytes(const kn_conv_params *p, size_t *bytes)
{
    geom3 g;
    conv_geom3(p, &g);
    if (conv_is_pointwise(&g)) {
        *bytes = 0;
        return true;
    }
    size_t n = (size_t)p->C;
    for (int i = 0; i < 3; i++)
        if (!kn_mul_size(n, (size_t)g.k[i], &n) || !kn_mul_size(n, (size_t)g.out[i], &n))
            return false;
    return kn_mul_size(n, sizeof(float), bytes);
}

typedef struct conv_job {
    geom3 g;
    int64_t C, M, group, Cg, Mg, K, P; /* K: rows per group, P: output positions */
    int64_t mblocks, tiles;
    const float *x, *w, *b;
    const float *col; /* im2col matrix of the current image (or x itself) */
    float *colbuf, *y;
} conv_job;

/* Row r = (c, kd, kh, kw) of the im2col matrix of one image. */
static void im2col_row(void *ctx, size_t r)
{
    const conv_job *j = ctx;
    const geom3 *g = &j->g;
    int64_t ksp = g->k[0] * g->k[1] * g->k[2];
    int64_t c = (int64_t)r / ksp, t = (int64_t)r % ksp;
    int64_t kw = t % g->k[2], kh = (t / g->k[2]) % g->k[1], kd = t / (g->k[2] * g->k[1]);
    const float *xc = j->x + c * g->in[0] * g->in[1] * g->in[2];
    float *row = j->colbuf + (int64_t)r * j->P;
    int64_t lo, hi;
    valid_range(g->out[2], g->in[2], g->s[2], g->p[2], kw * g->d[2], &lo, &hi);
    for (int64_t od = 0; od < g->out[0]; od++) {
        int64_t id = od * g->s[0] - g->p[0] + kd * g->d[0];
        for (int64_t oh = 0; oh < g->out[1]; oh++) {
            int64_t ih = oh * g->s[1] - g->p[1] + kh * g->d[1];
            float *dst = row + (od * g->out[1] + oh) * g->out[2];
            if (id < 0 || id >= g->in[0] || ih < 0 || ih >= g->in[1]) {
                memset(dst, 0, (size_t)g->out[2] * sizeof(float));
                continue;
            }
            const float *src = xc + (id * g->in[1] + ih) * g->in[2];
            int64_t off = kw * g->d[2] - g->p[2];
            for (int64_t ow = 0; ow < lo; ow++)
                dst[ow] = 0.0f;
            if (g->s[2] == 1 && hi > lo)
                memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof(float));
            else
                for (int64_t ow = lo; ow < hi; ow++)
                    dst[ow] = src[ow * g->s[2] + off];
            for (int64_t ow = hi; ow < g->out[2]; ow++)
                dst[ow] = 0.0f;
        }
    }
}

/* acc[r][0..CONV_TILE) = sum_k w[r][k] * col[k][0..CONV_TILE) for 4 rows. */
static void gemm_tile4(const float *w, int64_t K, const float *col, int64_t P, float acc[4][CONV_TILE])
{
    memset(acc, 0, 4 * CONV_TILE * sizeof(float));
    const float *w0 = w, *w1 = w + K, *w2 = w + 2 * K, *w3 = w + 3 * K;
    for (int64_t k = 0; k < K; k++) {
        const float *src = col + k * P;
        float a = w0[k], b = w1[k], c = w2[k], d = w3[k];
        for (int i = 0; i < CONV_TILE; i++) {
            float s = src[i];
            acc[0][i] += a * s;
            acc[1][i] += b * s;
            acc[2][i] += c * s;
            acc[3][i] += d * s;
        }
    }
}

static void gemm_tile1(const float *w, int64_t K, const float *col, int64_t P, float acc[CONV_TILE])
{
    memset(acc, 0, CONV_TILE * sizeof(float));
    for (int64_t k = 0; k < K; k++) {
        const float *src = col + k * P;
        float a = w[k];
        for (int i = 0; i < CONV_TILE; i++)
            acc[i] += a * src[i];
    }
}

/* The short last tile: n < CONV_TILE columns, one row at a time. */
static void gemm_tail(const float *w, int64_t K, const float *col, int64_t P, int64_t n, float *acc)
{
    memset(acc, 0, (size_t)n * sizeof(float));
    for (int64_t k = 0; k < K; k++) {
        const float *src = col + k * P;
        float a = w[k];
        for (int64_t i = 0; i < n; i++)
            acc[i] += a * src[i];
    }
}

/* Task = (group, block of 4 output channels, column tile) of one image. */
static void conv_gemm_task(void *ctx, size_t t)
{
    const conv_job *j = ctx;
    int64_t tile = (int64_t)t % j->tiles;
    int64_t mb = ((int64_t)t / j->tiles) % j->mblocks;
    int64_t gi = (int64_t)t / (j->tiles * j->mblocks);
    int64_t m0 = gi * j->Mg + mb * 4, rows = KN_MIN(4, j->Mg - mb * 4);
    int64_t p0 = tile * CONV_TILE, n = KN_MIN(CONV_TILE, j->P - p0);
    const float *col = j->col + gi * j->K * j->P + p0;
    float acc[4][CONV_TILE];
    if (n == CONV_TILE && rows == 4)
        gemm_tile4(j->w + m0 * j->K, j->K, col, j->P, acc);
    else
        for (int64_t r = 0; r < rows; r++) {
            if (n == CONV_TILE)
                gemm_tile1(j->w + (m0 + r) * j->K, j->K, col, j->P, acc[r]);
            else
                gemm_tail(j->w + (m0 + r) * j->K, j->K, col, j->P, n, acc[r]);
        }
    for (int64_t r = 0; r < rows; r++) {
        float bias = j->b ? j->b[m0 + r] : 0.0f;
        float *dst = j->y + (m0 + r) * j->P + p0;
        for (int64_t i = 0; i < n; i++)
            dst[i] = acc[r][i] + bias;
    }
}

void kn_conv_ref_f32(const kn_conv_params *p, const float *x, const float *w, const float *b, float *y,
                     void *scratch, pthreadpool_t pool)
{
    conv_job j;
    memset(&j, 0, sizeof j);
    conv_geom3(p, &j.g);
    j.C = p->C;
    j.M = p->M;
    j.group = p->group;
    j.Cg = p->C / p->group;
    j.Mg = p->M / p->group;
    j.K = j.Cg * j.g.k[0] * j.g.k[1] * j.g.k[2];
    j.P = j.g.out[0] * j.g.out[1] * j.g.out[2];
    j.mblocks = (j.Mg + 3) / 4;
    j.tiles = (j.P + CONV_TILE - 1) / CONV_TILE;
    j.w = w;
    j.b = b;
    j.colbuf = scratch;
    int64_t in_plane = j.g.in[0] * j.g.in[1] * j.g.in[2];
    bool pointwise = conv_is_pointwise(&j.g);
    if (j.P == 0 || j.M == 0)
        return;
    for (int64_t n = 0; n < p->N; n++) {
        j.x = x + n * j.C * in_plane;
        j.y = y + n * j.M * j.P;
        if (pointwise) {
            j.col = j.x;
        } else {
            kn_parallel_for(pool, (size_t)(j.C * j.g.k[0] * j.g.k[1] * j.g.k[2]), im2col_row, &j);
            j.col = j.colbuf;
        }
        kn_parallel_for(pool, (size_t)(j.group * j.mblocks * j.tiles), conv_gemm_task, &j);
    }
}

/* ---- ConvTranspose ---------------------------------------------------- */

typedef struct convt_job {
    geom3 g;
    int64_t C, M, Cg, Mg, N;
    const float *x, *w, *b;
    float *y;
} convt_job;

/* Task = (image, output channel): the whole output plane. */
static void convt_task(void *ctx, size_t t)
{
    const convt_job *j = ctx;
    const geom3 *g = &j->g;
    int64_t n = (int64_t)t / j->M, m = (int64_t)t % j->M;
    int64_t gi = m / j->Mg, mm = m % j->Mg;
    int64_t ksp = g->k[0] * g->k[1] * g->k[2];
    int64_t in_plane = g->in[0] * g->in[1] * g->in[2];
    int64_t out_plane = g->out[0] * g->out[1] * g->out[2];
    float *yp = j->y + (n * j->M + m) * out_plane;
    float bias = j->b ? j->b[m] : 0.0f;
    for (int64_t i = 0; i < out_plane; i++)
        yp[i] = bias;
    for (int64_t c = 0; c < j->Cg; c++) {
        int64_t ci = gi * j->Cg + c;
        const float *xc = j->x + (n * j->C + ci) * in_plane;
        const float *wk = j->w + (ci * j->Mg + mm) * ksp;
        for (int64_t kd = 0; kd < g->k[0]; kd++)
            for (int64_t kh = 0; kh < g->k[1]; kh++)
                for (int64_t kw = 0; kw < g->k[2]; kw++) {
                    float wv = wk[(kd * g->k[1] + kh) * g->k[2] + kw];
                    /* input iw lands on ow = iw*s - p + kw*d; keep ow in range */
                    int64_t off = kw * g->d[2] - g->p[2];
                    int64_t lo = KN_MAX(0, kn_ceil_div(-off, g->s[2]));
                    int64_t hi = KN_MIN(g->in[2], kn_floor_div(g->out[2] - 1 - off, g->s[2]) + 1);
                    for (int64_t id = 0; id < g->in[0]; id++) {
                        int64_t od = id * g->s[0] - g->p[0] + kd * g->d[0];
                        if (od < 0 || od >= g->out[0])
                            continue;
                        for (int64_t ih = 0; ih < g->in[1]; ih++) {
                            int64_t oh = ih * g->s[1] - g->p[1] + kh * g->d[1];
                            if (oh < 0 || oh >= g->out[1])
                                continue;
                            const float *src = xc + (id * g->in[1] + ih) * g->in[2];
                            float *dst = yp + (od * g->out[1] + oh) * g->out[2];
                            for (int64_t iw = lo; iw < hi; iw++)
                                dst[iw * g->s[2] + off] += wv * src[iw];
                        }
                    }
                }
    }
}

void kn_conv_transpose_ref_f32(const kn_conv_params *p, const float *x, const float *w, const float *b,
                               float *y, pthreadpool_t pool)
{
    convt_job j;
    memset(&j, 0, sizeof j);
    conv_geom3(p, &j.g);
    j.N = p->N;
    j.C = p->C;
    j.M = p->M;
    j.Cg = p->C / p->group;
    j.Mg = p->M / p->group;
    j.x = x;
    j.w = w;
    j.b = b;
    j.y = y;
    if (j.g.out[0] * j.g.out[1] * j.g.out[2] == 0)
        return;
    kn_parallel_for(pool, (size_t)(j.N * j.M), convt_task, &j);
}

/* ---- pooling ---------------------------------------------------------- */

typedef struct pool_job {
    const kn_pool_params *p;
    geom3 g;
    kiln_dtype dtype;
    const void *x;
    void *y;
    int64_t *indices;
} pool_job;

static inline double pool_load(kiln_dtype t, const void *x, int64_t i)
{
    switch (t) {
    case KILN_DTYPE_FLOAT: return ((const float *)x)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)x)[i];
    case KILN_DTYPE_FLOAT16: return kn_half_to_float(((const uint16_t *)x)[i]);
    case KILN_DTYPE_INT8: return ((const int8_t *)x)[i];
    case KILN_DTYPE_UINT8: return ((const uint8_t *)x)[i];
    default: return 0.0;
    }
}

static inline void pool_store(kiln_dtype t, void *y, int64_t i, double v)
{
    switch (t) {
    case KILN_DTYPE_FLOAT: ((float *)y)[i] = (float)v; break;
    case KILN_DTYPE_DOUBLE: ((double *)y)[i] = v; break;
    case KILN_DTYPE_FLOAT16: ((uint16_t *)y)[i] = kn_float_to_half((float)v); break;
    /* integers only come from MaxPool, so v is one of the inputs (or NaN) */
    case KILN_DTYPE_INT8: ((int8_t *)y)[i] = isnan(v) ? 0 : (int8_t)v; break;
    case KILN_DTYPE_UINT8: ((uint8_t *)y)[i] = isnan(v) ? 0 : (uint8_t)v; break;
    default: break;
    }
}

/* Taps of one window along one dimension: the first, how many, how many
 * lie inside the input, and how many inside the padded input. */
typedef struct taps {
    int64_t start, n_in_pad;
} taps;

static taps window_taps(const geom3 *g, int dim, int64_t o)
{
    taps t;
    t.start = o * g->s[dim] - g->p[dim];
    t.n_in_pad = 0;
    for (int64_t k = 0; k < g->k[dim]; k++) {
        int64_t pos = t.start + k * g->d[dim];
        if (pos < g->in[dim] + g->pe[dim])
            t.n_in_pad++;
    }
    return t;
}

static void pool_plane(void *ctx, size_t plane)
{
    const pool_job *j = ctx;
    const kn_pool_params *p = j->p;
    const geom3 *g = &j->g;
    int64_t in_plane = g->in[0] * g->in[1] * g->in[2];
    int64_t out_plane = g->out[0] * g->out[1] * g->out[2];
    int64_t xbase = (int64_t)plane * in_plane, ybase = (int64_t)plane * out_plane;
    double lp = (double)p->p;
    for (int64_t od = 0; od < g->out[0]; od++) {
        taps td = window_taps(g, 0, od);
        for (int64_t oh = 0; oh < g->out[1]; oh++) {
            taps th = window_taps(g, 1, oh);
            for (int64_t ow = 0; ow < g->out[2]; ow++) {
                taps tw = window_taps(g, 2, ow);
                double acc = 0.0, best = 0.0;
                int64_t best_i = -1, count = 0;
                for (int64_t kd = 0; kd < g->k[0]; kd++) {
                    int64_t id = td.start + kd * g->d[0];
                    if (id < 0 || id >= g->in[0])
                        continue;
                    for (int64_t kh = 0; kh < g->k[1]; kh++) {
                        int64_t ih = th.start + kh * g->d[1];
                        if (ih < 0 || ih >= g->in[1])
                            continue;
                        for (int64_t kw = 0; kw < g->k[2]; kw++) {
                            int64_t iw = tw.start + kw * g->d[2];
                            if (iw < 0 || iw >= g->in[2])
                                continue;
                            int64_t i = (id * g->in[1] + ih) * g->in[2] + iw;
                            double v = pool_load(j->dtype, j->x, xbase + i);
                            count++;
                            if (p->kind == KN_POOL_MAX) {
                                /* NaN inputs are skipped unless nothing else is seen */
                                if (best_i < 0 || v > best || (isnan(best) && !isnan(v))) {
                                    best = v;
                                    best_i = p->indices_col_major ? (iw * g->in[1] + ih) * g->in[0] + id : i;
                                }
                            } else if (p->kind == KN_POOL_AVG) {
                                acc += v;
                            } else {
                                acc += pow(fabs(v), lp);
                            }
                        }
                    }
                }
                int64_t o = ybase + (od * g->out[1] + oh) * g->out[2] + ow;
                double r;
                if (p->kind == KN_POOL_MAX) {
                    r = best_i < 0 ? NAN : best;
                    if (j->indices)
                        j->indices[o] = best_i < 0 ? -1 : xbase + best_i;
                } else if (p->kind == KN_POOL_AVG) {
                    int64_t div = p->count_include_pad ? td.n_in_pad * th.n_in_pad * tw.n_in_pad : count;
                    r = div > 0 ? acc / (double)div : NAN;
                } else {
                    r = pow(acc, 1.0 / lp);
                }
                pool_store(j->dtype, j->y, o, r);
            }
        }
    }
}

void kn_pool_ref(const kn_pool_params *p, kiln_dtype dtype, const void *x, void *y, int64_t *indices,
                 pthreadpool_t pool)
{
    pool_job j = {.p = p, .dtype = dtype, .x = x, .y = y, .indices = indices};
    geom3_fill(p->nsp, p->in, p->out, p->k, p->stride, p->dil, p->pad, p->pad_end, &j.g);
    if (j.g.out[0] * j.g.out[1] * j.g.out[2] == 0)
        return;
    kn_parallel_for(pool, (size_t)(p->N * p->C), pool_plane, &j);
}

kiln_status kn_attr_get_spatial_ints(const kn_node *n, const char *name, size_t max, int64_t min_value,
                                     int64_t *dst, size_t *count)
{
    const int64_t *v;
    KN_TRY(kn_attr_get_ints(n, name, &v, count));
    if (*count > max)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (%s): %s has %zu entries; at most %d spatial dimensions are supported", n->name,
                        n->op_type, name, *count, KN_CONV_MAX_SPATIAL);
    for (size_t i = 0; i < *count; i++) {
        if (v[i] < min_value)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %s[%zu] is %lld, must be at least %lld", n->name,
                            n->op_type, name, i, (long long)v[i], (long long)min_value);
        dst[i] = v[i];
    }
    return KILN_OK;
}
