/* Winograd F(2x2, 3x3) convolution in the blocked layout (nchwc.h): weight
 * transform and packing, the portable transforms and the driver. The
 * AVX-512 transforms are in nchwc_wino_avx512.c; the 16 products run on
 * kn_nchwc_conv's pointwise kernels (nchwc_conv*.c).
 *
 * A run goes over spans of consecutive tiles (nchwc_wino_impl.h), each in
 * three steps: the input transform, the 16 products, the output transform.
 * A span's length depends only on the shape, and every step computes an
 * element the same way whichever thread runs it and however the work is
 * split (a span per thread, or a span's 16 products over the threads), so
 * results do not depend on the thread count. */
#include "ops/nchwc_wino_impl.h"

#include <stdatomic.h>
#include <string.h>

/* Bytes of V + Mo per span: most of a 1 MiB L2, so the products read the
 * input transform's output from L2 (384 KiB to 3 MiB measured alike on
 * ResNet's 56x56 and 28x28 layers, once the xi were spread over L1 sets). */
#define KN_WINO_SPAN_BYTES (768 * 1024)
/* But at least this many tiles, and enough for V + Mo to be half the
 * weights' size: the 16 U_xi are read once per span, and with 512
 * channels (16 MiB) they cost more than V + Mo in L3 (ResNet-50's 7x7
 * layers at batch 8, 128 tiles: 14.2 ms in spans of 32, 11.3 in one). */
#define KN_WINO_SPAN_MIN 48
/* and at most this many bytes of V + Mo */
#define KN_WINO_SPAN_MAX_BYTES (8.0 * 1024 * 1024)

/* G of F(2, 3): U = G g G^T. */
static const double wino_g[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

kiln_status kn_nchwc_wino_pack(int64_t M, int64_t C, const float *w, const float *bias, kn_isa_level isa,
                               kn_nchwc_wino **out)
{
    *out = NULL;
    if (M <= 0 || C <= 0)
        return kn_error(KILN_ERROR_ARGUMENT, "nchwc winograd: empty weights [%lld, %lld, 3, 3]", (long long)M,
                        (long long)C);
    const int64_t MB = kn_nchwc_blocks(M);
    size_t mc, ubytes, bbytes;
    if (!kn_mul_size((size_t)M, (size_t)C, &mc) || !kn_mul_size(mc, 16 * sizeof(float), &ubytes) ||
        !kn_mul_size((size_t)MB * KN_NCHWC_BLOCK, sizeof(float), &bbytes))
        return KN_NOMEM();
    kn_nchwc_wino *p = kn_calloc(1, sizeof *p);
    float *u = kn_malloc(ubytes);
    if (!p || !u) {
        kn_free(p);
        kn_free(u);
        return KN_NOMEM();
    }
    p->M = M, p->C = C, p->isa = isa;
    p->bias = kn_aligned_alloc(bbytes);
    if (!p->bias) {
        kn_free(u);
        kn_nchwc_wino_free(p);
        return KN_NOMEM();
    }
    memset(p->bias, 0, bbytes);
    if (bias)
        memcpy(p->bias, bias, (size_t)M * sizeof(float));
    /* in double, rounded once: U's 16 values for each (m, c), as [16][M][C] */
    for (size_t k = 0; k < mc; k++) {
        const float *g = w + k * 9;
        double t[4][3];
        for (int i = 0; i < 4; i++)
            for (int b = 0; b < 3; b++)
                t[i][b] = wino_g[i][0] * g[b] + wino_g[i][1] * g[3 + b] + wino_g[i][2] * g[6 + b];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                u[(size_t)(i * 4 + j) * mc + k] =
                    (float)(t[i][0] * wino_g[j][0] + t[i][1] * wino_g[j][1] + t[i][2] * wino_g[j][2]);
    }
    kiln_status s = KILN_OK;
    for (int xi = 0; xi < 16 && s == KILN_OK; xi++)
        s = kn_nchwc_conv_pack(M, C, 1, 1, u + (size_t)xi * mc, NULL, false, isa, &p->u[xi]);
    kn_free(u);
    if (s != KILN_OK) {
        kn_nchwc_wino_free(p);
        return s;
    }
    *out = p;
    return KILN_OK;
}

void kn_nchwc_wino_free(kn_nchwc_wino *p)
{
    if (!p)
        return;
    for (int xi = 0; xi < 16; xi++)
        kn_nchwc_conv_free(p->u[xi]);
    kn_aligned_free(p->bias);
    kn_free(p);
}

/* V = B^T d B, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], one lane at a
 * time; taps outside the input read as zero. */
static void in_generic(const kn_nchwc_wino_ctx *c, int64_t cb)
{
    const int64_t per_img = c->TH * c->TW;
    for (int64_t t = 0; t < c->T; t++) {
        const int64_t gt = c->t0 + t, n = gt / per_img, r = gt % per_img;
        const int64_t ih0 = 2 * (r / c->TW) - c->PT, iw0 = 2 * (r % c->TW) - c->PL;
        const float *xb = c->x + (n * c->CB + cb) * c->H * c->W * KN_NCHWC_BLOCK;
        float *v = c->V + (cb * c->T + t) * KN_NCHWC_BLOCK;
        const int64_t vs = c->vs;
        for (int l = 0; l < KN_NCHWC_BLOCK; l++) {
            float d[4][4], e[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    const int64_t ih = ih0 + i, iw = iw0 + j;
                    d[i][j] = ih >= 0 && ih < c->H && iw >= 0 && iw < c->W
                                  ? xb[(ih * c->W + iw) * KN_NCHWC_BLOCK + l]
                                  : 0.0f;
                }
            for (int j = 0; j < 4; j++) {
                e[0][j] = d[0][j] - d[2][j];
                e[1][j] = d[1][j] + d[2][j];
                e[2][j] = d[2][j] - d[1][j];
                e[3][j] = d[1][j] - d[3][j];
            }
            for (int i = 0; i < 4; i++) {
                v[(i * 4 + 0) * vs + l] = e[i][0] - e[i][2];
                v[(i * 4 + 1) * vs + l] = e[i][1] + e[i][2];
                v[(i * 4 + 2) * vs + l] = e[i][2] - e[i][1];
                v[(i * 4 + 3) * vs + l] = e[i][1] - e[i][3];
            }
        }
    }
}

static inline float bt_row(int k, float a, float b)
{
    return kn_wino_bt[k][2] > 0 ? a + b : a - b;
}

/* V_xi alone, xi = 4 i + j: (B^T d B)[i][j] from the four taps it uses. */
static void in_xi_generic(const kn_nchwc_wino_ctx *c, int xi)
{
    const int64_t per_img = c->TH * c->TW;
    const int *ri = kn_wino_bt[xi / 4], *rj = kn_wino_bt[xi % 4];
    for (int64_t cb = 0; cb < c->CB; cb++)
        for (int64_t t = 0; t < c->T; t++) {
            const int64_t gt = c->t0 + t, n = gt / per_img, r = gt % per_img;
            const int64_t ih0 = 2 * (r / c->TW) - c->PT, iw0 = 2 * (r % c->TW) - c->PL;
            const float *xb = c->x + (n * c->CB + cb) * c->H * c->W * KN_NCHWC_BLOCK;
            float *v = c->V + xi * c->vs + (cb * c->T + t) * KN_NCHWC_BLOCK;
            for (int l = 0; l < KN_NCHWC_BLOCK; l++) {
                float d[2][2]; /* rows ri[0], ri[1] x columns rj[0], rj[1] */
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        const int64_t ih = ih0 + ri[a], iw = iw0 + rj[b];
                        d[a][b] = ih >= 0 && ih < c->H && iw >= 0 && iw < c->W
                                      ? xb[(ih * c->W + iw) * KN_NCHWC_BLOCK + l]
                                      : 0.0f;
                    }
                v[l] = bt_row(xi % 4, bt_row(xi / 4, d[0][0], d[1][0]), bt_row(xi / 4, d[0][1], d[1][1]));
            }
        }
}

/* Y = A^T m A, A^T = [1 1 1 0; 0 1 -1 -1], then + bias + residual and the
 * activation; outputs of edge tiles past OH x OW are dropped. */
static void out_generic(const kn_nchwc_wino_ctx *c, int64_t mb)
{
    const int64_t per_img = c->TH * c->TW, plane = c->OH * c->OW;
    const int64_t ms = c->ms;
    const float *bias = c->p->bias + mb * KN_NCHWC_BLOCK;
    for (int64_t t = 0; t < c->T; t++) {
        const int64_t gt = c->t0 + t, n = gt / per_img, r = gt % per_img;
        const int64_t oh0 = 2 * (r / c->TW), ow0 = 2 * (r % c->TW);
        const float *m = c->Mo + (mb * c->T + t) * KN_NCHWC_BLOCK;
        const int64_t yo = n * c->ys_img + mb * plane * KN_NCHWC_BLOCK;
        for (int l = 0; l < KN_NCHWC_BLOCK; l++) {
            float s[2][4], o[2][2];
            for (int j = 0; j < 4; j++) {
                const float m0 = m[j * ms + l], m1 = m[(4 + j) * ms + l], m2 = m[(8 + j) * ms + l],
                            m3 = m[(12 + j) * ms + l];
                s[0][j] = m0 + m1 + m2;
                s[1][j] = m1 - m2 - m3;
            }
            for (int i = 0; i < 2; i++) {
                o[i][0] = s[i][0] + s[i][1] + s[i][2];
                o[i][1] = s[i][1] - s[i][2] - s[i][3];
            }
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) {
                    if (oh0 + i >= c->OH || ow0 + j >= c->OW)
                        continue;
                    const int64_t off = yo + ((oh0 + i) * c->OW + ow0 + j) * KN_NCHWC_BLOCK + l;
                    float v = o[i][j] + bias[l];
                    if (c->res)
                        v += c->res[off];
                    if (c->act)
                        v = kn_act_scalar(c->act, v);
                    c->y[off] = v;
                }
        }
    }
}

static void in_block(const kn_nchwc_wino_ctx *c, int64_t cb)
{
    if (c->p->isa == KN_ISA_AVX512)
        kn_nchwc_wino_in_avx512(c, cb);
    else
        in_generic(c, cb);
}

static void out_block(const kn_nchwc_wino_ctx *c, int64_t mb)
{
    if (c->p->isa == KN_ISA_AVX512)
        kn_nchwc_wino_out_avx512(c, mb);
    else
        out_generic(c, mb);
}

/* Product xi: the span's tiles as the pixels of a [1, C, 1, T] input. */
static void product(const kn_nchwc_wino_ctx *c, int xi)
{
    static const kn_conv2d_geom one = {1, 1, 1, 1, 0, 0};
    kn_nchwc_conv_run(c->p->u[xi], &one, 1, 1, c->T, 1, c->T, c->V + (int64_t)xi * c->vs,
                      c->Mo + (int64_t)xi * c->ms, NULL, NULL, NULL);
}

static void set_span(kn_nchwc_wino_ctx *c, int64_t t0, int64_t T, float *buf, size_t vn)
{
    c->t0 = t0;
    c->T = T;
    c->vs = c->CB * T * KN_NCHWC_BLOCK + KN_NCHWC_BLOCK;
    c->ms = c->MB * T * KN_NCHWC_BLOCK + KN_NCHWC_BLOCK;
    c->V = buf;
    c->Mo = buf + vn;
}

/* Fewer spans than threads: one region of 16 tasks per span, task xi
 * transforming its own V_xi and running its product; the task that
 * finishes last runs the output transform (one region instead of three,
 * whose barriers each waited for a thread another process held). */
typedef struct xi_run {
    const kn_nchwc_wino_ctx *c;
    atomic_int done;
} xi_run;

static void xi_task(void *arg, size_t xi)
{
    xi_run *r = arg;
    const kn_nchwc_wino_ctx *c = r->c;
    if (c->p->isa == KN_ISA_AVX512)
        kn_nchwc_wino_in_xi_avx512(c, (int)xi);
    else
        in_xi_generic(c, (int)xi);
    product(c, (int)xi);
    if (atomic_fetch_add_explicit(&r->done, 1, memory_order_acq_rel) == 15)
        for (int64_t mb = 0; mb < c->MB; mb++)
            out_block(c, mb);
}

/* Spans run in parallel, each by one thread in a scratch slot of its own:
 * at most as many run at once as the pool has threads, so a task finds a
 * free slot on its first pass (which slot it takes changes no result). */
typedef struct span_run {
    kn_nchwc_wino_ctx c;
    int64_t span, total;
    float *buf;
    size_t vn, slot; /* floats: Mo's offset in a slot, a slot */
    int nslots;
    atomic_int *busy;
} span_run;

static void span_task(void *arg, size_t i)
{
    span_run *r = arg;
    int s = 0;
    for (;; s = (s + 1) % r->nslots)
        if (atomic_load_explicit(&r->busy[s], memory_order_relaxed) == 0 &&
            atomic_exchange_explicit(&r->busy[s], 1, memory_order_acquire) == 0)
            break;
    kn_nchwc_wino_ctx c = r->c;
    const int64_t t0 = (int64_t)i * r->span;
    set_span(&c, t0, KN_MIN(r->span, r->total - t0), r->buf + (size_t)s * r->slot, r->vn);
    for (int64_t cb = 0; cb < c.CB; cb++)
        in_block(&c, cb);
    for (int xi = 0; xi < 16; xi++)
        product(&c, xi);
    for (int64_t mb = 0; mb < c.MB; mb++)
        out_block(&c, mb);
    atomic_store_explicit(&r->busy[s], 0, memory_order_release);
}

kiln_status kn_nchwc_wino_run(const kn_nchwc_wino *p, int64_t PT, int64_t PL, int64_t N, int64_t H, int64_t W,
                              int64_t OH, int64_t OW, const float *x, float *y, int64_t ys_img, const float *residual,
                              const kn_epilogue *act, pthreadpool_t pool)
{
    if (N <= 0 || OH <= 0 || OW <= 0)
        return KILN_OK;
    kn_nchwc_wino_ctx c = {
        .p = p, .H = H, .W = W, .OH = OH, .OW = OW, .PT = PT, .PL = PL, .TH = (OH + 1) / 2, .TW = (OW + 1) / 2,
        .CB = kn_nchwc_blocks(p->C), .MB = kn_nchwc_blocks(p->M), .x = x, .y = y, .res = residual,
        .act = act && act->act != KN_ACT_NONE ? act : NULL,
    };
    c.ys_img = ys_img > 0 ? ys_img : c.MB * OH * OW * KN_NCHWC_BLOCK;
    const int64_t total = N * c.TH * c.TW;
    /* spans of equal length, whole tiles of the pointwise kernels (6 and 8
     * pixels: multiples of 24) */
    const int64_t per_tile = 16 * KN_NCHWC_BLOCK * (c.CB + c.MB) * (int64_t)sizeof(float);
    const double wbytes = 16.0 * (double)(c.CB * c.MB) * 256.0 * sizeof(float);
    const int64_t t_w = (int64_t)(KN_MIN(wbytes / 2, KN_WINO_SPAN_MAX_BYTES) / (double)per_tile);
    const int64_t tmax = KN_MAX(KN_MAX((int64_t)KN_WINO_SPAN_MIN, t_w), KN_WINO_SPAN_BYTES / per_tile / 24 * 24);
    /* an even number of spans, for two threads (or four) to share evenly
     * in one region (ResNet-50's 3x3 512 layers at batch 8: 3 spans left
     * one of two threads idle for a third of the time) */
    int64_t nspan = (total + tmax - 1) / tmax;
    nspan += nspan > 1 && nspan % 2;
    int64_t span = (total + nspan - 1) / nspan;
    /* rounded up to whole tiles of the pointwise kernel where that keeps
     * the count (49 tiles in two: 25 + 24, not 48 + 1) */
    for (int64_t q = 24; q >= 6; q -= 18) {
        const int64_t r = (span + q - 1) / q * q;
        if ((total + r - 1) / r == nspan) {
            span = r;
            break;
        }
    }
    span = KN_MIN(span, total);
    const int64_t nsp = (total + span - 1) / span;
    /* At least as many spans as threads: one parallel region over the
     * spans, each span's steps by one thread (three regions per span, their
     * barriers each waiting for a thread another process held, took
     * ResNet's 56x56 layers from 1.2 to 1.9 ms on 2 threads). Fewer: a
     * region per span (xi_task). Both compute every element the same way. */
    const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
    const bool by_span = nsp >= (int64_t)threads;
    const int nslots = by_span ? (int)KN_MIN((int64_t)threads, nsp) : 1;
    size_t vn, mn, slot, bytes;
    if (!kn_mul_size((size_t)span * (size_t)c.CB + 1, 16 * KN_NCHWC_BLOCK, &vn) ||
        !kn_mul_size((size_t)span * (size_t)c.MB + 1, 16 * KN_NCHWC_BLOCK, &mn) ||
        !kn_mul_size(vn + mn, (size_t)nslots, &bytes) || !kn_mul_size(bytes, sizeof(float), &bytes))
        return KN_NOMEM();
    slot = vn + mn;
    float *buf = kn_aligned_alloc(bytes);
    atomic_int *busy = kn_calloc((size_t)nslots, sizeof *busy);
    if (!buf || !busy) {
        kn_aligned_free(buf);
        kn_free(busy);
        return KN_NOMEM();
    }
    if (by_span) {
        span_run r = {.c = c, .span = span, .total = total, .buf = buf, .vn = vn, .slot = slot, .nslots = nslots,
                      .busy = busy};
        kn_parallel_for(pool, (size_t)nsp, span_task, &r);
    } else {
        for (int64_t t0 = 0; t0 < total; t0 += span) {
            set_span(&c, t0, KN_MIN(span, total - t0), buf, vn);
            xi_run r = {.c = &c};
            atomic_init(&r.done, 0);
            kn_parallel_for(pool, 16, xi_task, &r);
        }
    }
    kn_aligned_free(buf);
    kn_free(busy);
    return KILN_OK;
}

/* Measured on Zen 4 (1 thread, CPU time, best of 15-20, 3x3 pad 1, batch
 * 1, direct vs Winograd ms): ResNet's layers 64 on 56x56 2.05 vs 1.25,
 * 128 on 28x28 2.0 vs 1.08, 256 on 14x14 2.04 vs 1.10, 512 on 7x7 2.2 vs
 * 1.7; 32 channels 1.3x faster from 14x14 up, even on 7x7; 16 channels
 * 0.74-0.9x (the transforms cost as much as the products save). Small
 * planes: 64 channels 1.38x on 4x4 but 0.73x on 3x3, 512 channels 1.16x
 * on 4x4 but 0.78x on 3x3, and 0.6x on 2x2, 0.1x on 1x1 (16 products per
 * channel pair where the direct conv has one tap inside the input). The
 * input's plane is unknown when the graph has no static shapes there (so
 * far every model tried): then channels alone decide. */
bool kn_nchwc_wino_wins(int64_t M, int64_t C, int64_t H, int64_t W, kn_isa_level isa)
{
    const bool wide = C >= 64 && M >= 64;
    if (isa != KN_ISA_AVX512)
        return false;
    if (H <= 0 || W <= 0)
        return wide;
    return wide ? H >= 4 && W >= 4 : C >= 32 && M >= 32 && H * W >= 196;
}
