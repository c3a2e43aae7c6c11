/* The AVX2 form of the blocked depthwise convolution (nchwc_dw.c), laid out
 * as the AVX-512 one (nchwc_dw_avx512.c): a pixel of a 16-channel block is
 * two ymm, so a tap is two FMAs of input and weight halves. Per output
 * row: the kernel rows inside the input are found once; the border pixels
 * (some tap in the left or right padding) clip their tap columns; the
 * interior pixels go in blocks of 4 and 1 (8 accumulators of the 16
 * registers) with no tests. Small stride-1 maps instead go through a
 * zero-bordered copy (dw_small_task). For 3x3 and 5x5 with stride 1 or 2
 * the taps are unrolled with constant offsets, so an input vector loaded
 * once serves every neighbouring pixel whose window covers it; weights are
 * FMA memory operands (9 pairs would not fit the registers). Residual,
 * ReLU and Clip are applied in registers before the one store; other
 * activations run over the finished row while it is in L1 through
 * kn_act_apply_avx2, as the NCHW AVX2 path applies them. Called only when
 * the session's ISA is AVX2 or better. */
#include "ops/nchwc_dw_impl.h"
#include "ops/sgemm.h"

#include <immintrin.h>
#include <math.h>

enum { B = KN_NCHWC_BLOCK, RMAX = 4 };

typedef struct v16 {
    __m256 a, b;
} v16;

static inline __attribute__((always_inline)) v16 ld(const float *p)
{
    return (v16){_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
}
static inline __attribute__((always_inline)) void st(float *p, v16 v)
{
    _mm256_storeu_ps(p, v.a);
    _mm256_storeu_ps(p + 8, v.b);
}
static inline __attribute__((always_inline)) v16 fma16(v16 x, v16 w, v16 acc)
{
    return (v16){_mm256_fmadd_ps(x.a, w.a, acc.a), _mm256_fmadd_ps(x.b, w.b, acc.b)};
}

/* One output row: x is the input plane, the row's window starts at input
 * row ih0 (may lie outside the input; only kernel rows k0 .. k1 are read).
 * res is the residual row or NULL; clip: min(max(v, lo), hi) before the
 * store (ReLU is lo = 0, hi = inf). */
typedef struct dw_row {
    const float *x, *w, *bias, *res;
    float *y;
    int64_t W, DH, k0, k1, PL, ih0;
    bool clip;
    float lo, hi;
} dw_row;

static inline __attribute__((always_inline)) void dw_store(const dw_row *r, v16 v, int64_t ow)
{
    if (r->res) {
        v.a = _mm256_add_ps(v.a, _mm256_loadu_ps(r->res + ow * B));
        v.b = _mm256_add_ps(v.b, _mm256_loadu_ps(r->res + ow * B + 8));
    }
    if (r->clip) {
        const __m256 lo = _mm256_set1_ps(r->lo), hi = _mm256_set1_ps(r->hi);
        v.a = _mm256_min_ps(_mm256_max_ps(v.a, lo), hi);
        v.b = _mm256_min_ps(_mm256_max_ps(v.b, lo), hi);
    }
    st(r->y + ow * B, v);
}

/* R interior pixels from ow: every tap inside the input. KH > 0: all KH
 * kernel rows are inside (k0 = 0, k1 = KH). KH = 0: rows k0 .. k1. Only
 * the first n pixels are stored. */
static inline __attribute__((always_inline)) void dw_block(const dw_row *r, int64_t ow, int KH, int KW, int SW,
                                                           int DW, int R, int n)
{
    v16 acc[RMAX];
    const v16 b = ld(r->bias);
#pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        acc[i] = b;
    const float *x0 = r->x + (ow * SW - r->PL) * B;
    const int64_t k0 = KH ? 0 : r->k0, k1 = KH ? KH : r->k1;
#pragma GCC unroll 8
    for (int64_t kh = k0; kh < k1; kh++) {
        const float *xr = x0 + (r->ih0 + kh * r->DH) * r->W * B, *wr = r->w + kh * KW * B;
#pragma GCC unroll 8
        for (int kw = 0; kw < KW; kw++) {
            const v16 wv = ld(wr + kw * B);
#pragma GCC unroll 4
            for (int i = 0; i < R; i++)
                acc[i] = fma16(ld(xr + (i * SW + kw * DW) * B), wv, acc[i]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
        if (i >= n)
            break;
        dw_store(r, acc[i], ow + i);
    }
}

static inline __attribute__((always_inline)) void dw_blocks(const dw_row *r, int64_t lo, int64_t hi, int KH, int KW,
                                                            int SW, int DW)
{
    int64_t ow = lo;
    for (; ow + RMAX <= hi; ow += RMAX)
        dw_block(r, ow, KH, KW, SW, DW, RMAX, RMAX);
    for (; ow < hi; ow++)
        dw_block(r, ow, KH, KW, SW, DW, 1, 1);
}

/* One border pixel: only the tap columns inside the input. */
static inline __attribute__((always_inline)) void dw_pixel(const dw_row *r, int64_t ow, int64_t KW, int64_t SW,
                                                           int64_t DW)
{
    v16 acc = ld(r->bias);
    const int64_t iw0 = ow * SW - r->PL;
    const int64_t kw0 = iw0 >= 0 ? 0 : (-iw0 + DW - 1) / DW;
    const int64_t kw1 = r->W - 1 - iw0 < 0 ? 0 : KN_MIN(KW, (r->W - 1 - iw0) / DW + 1);
    for (int64_t kh = r->k0; kh < r->k1; kh++) {
        const float *xr = r->x + ((r->ih0 + kh * r->DH) * r->W + iw0 + kw0 * DW) * B, *wr = r->w + kh * KW * B;
        for (int64_t kw = kw0; kw < kw1; kw++)
            acc = fma16(ld(xr + (kw - kw0) * DW * B), ld(wr + kw * B), acc);
    }
    dw_store(r, acc, ow);
}

/* Small maps (7x7, 14x14): most pixels touch the padding, so the task's
 * input rows are copied into a zero-bordered buffer where every pixel is
 * interior, and each row runs in 4-pixel blocks, the last one storing only
 * the pixels that exist (the others read the buffer's slack; a padding tap
 * adds 0 * w). Stride 1 only, as in the AVX-512 form. */
#define DW_SMALL_OW 16
#define DW_SMALL_FLOATS 8192 /* 32 KiB on the stack, as conv_dw_simd.h */

static bool dw_small_dims(const kn_nchwc_dw_ctx *d, int64_t rows, int64_t *Hp, int64_t *Wp)
{
    const kn_conv2d_geom *g = &d->g;
    if (d->OW > DW_SMALL_OW || g->SH != 1 || g->SW != 1 || g->DH > 4 || g->DW > 4 || d->p->KH > 9 || d->p->KW > 9)
        return false;
    *Hp = (rows - 1) * g->SH + (d->p->KH - 1) * g->DH + 1;
    *Wp = (d->OW - 1) * g->SW + (d->p->KW - 1) * g->DW + 1;
    const int64_t slack = (RMAX * g->SW + d->p->KW * g->DW) * B;
    return *Hp <= DW_SMALL_FLOATS / B && *Hp * *Wp * B + slack <= DW_SMALL_FLOATS;
}

static inline __attribute__((always_inline)) void dw_small_rows(const dw_row *row, int64_t rows, int64_t SH,
                                                                int64_t OW, int KH, int KW, int SW, int DW)
{
    dw_row copy = *row, *r = &copy;
    float *y = r->y;
    const float *res = r->res;
    for (int64_t i = 0; i < rows; i++) {
        r->ih0 = i * SH;
        r->y = y + i * OW * B;
        r->res = res ? res + i * OW * B : NULL;
        for (int64_t ow = 0; ow < OW; ow += RMAX)
            dw_block(r, ow, KH, KW, SW, DW, RMAX, (int)KN_MIN(OW - ow, (int64_t)RMAX));
    }
}

typedef void (*dw_small_fn)(const dw_row *r, int64_t rows, int64_t SH, int64_t OW, int KW, int SW, int DW);

#define DW_SMALL_SPECIALIZE(k, st)                                                                             \
    static void dw_small_##k##s##st(const dw_row *r, int64_t rows, int64_t SH, int64_t OW, int KW, int SW,   \
                                      int DW)                                                                \
    {                                                                                                        \
        (void)KW, (void)SW, (void)DW;                                                                        \
        dw_small_rows(r, rows, SH, OW, k, k, st, 1);                                                         \
    }
DW_SMALL_SPECIALIZE(3, 1)
DW_SMALL_SPECIALIZE(5, 1)

static void dw_small_any(const dw_row *r, int64_t rows, int64_t SH, int64_t OW, int KW, int SW, int DW)
{
    dw_small_rows(r, rows, SH, OW, 0, KW, SW, DW);
}

/* Output rows [oh0, oh1) through the zero-bordered buffer; r has the
 * plane's weights, bias and epilogue. */
static void dw_small_task(const kn_nchwc_dw_ctx *d, const dw_row *r, const float *x, const float *res, float *y,
                          int64_t oh0, int64_t oh1)
{
    const kn_conv2d_geom *g = &d->g;
    const int64_t KH = d->p->KH, KW = d->p->KW, W = d->W, OW = d->OW;
    int64_t Hp, Wp;
    dw_small_dims(d, oh1 - oh0, &Hp, &Wp);
    float buf[DW_SMALL_FLOATS] __attribute__((aligned(32)));
    const int64_t ih0 = oh0 * g->SH - g->PT;
    const v16 z = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < Hp; i++) {
        const int64_t ih = ih0 + i;
        float *dst = buf + i * Wp * B;
        /* columns [c0, c1) of the padded row are input columns [c0 - PL, c1 - PL) */
        const int64_t c0 = ih >= 0 && ih < d->H ? KN_MIN(KN_MAX(g->PL, (int64_t)0), Wp) : Wp;
        const int64_t c1 = KN_MAX(KN_MIN(g->PL + W, Wp), c0);
        for (int64_t j = 0; j < c0; j++)
            st(dst + j * B, z);
        for (int64_t j = c0; j < c1; j++)
            st(dst + j * B, ld(x + (ih * W + j - g->PL) * B));
        for (int64_t j = c1; j < Wp; j++)
            st(dst + j * B, z);
    }
    /* the slack the last block reads past the rows: finite, never stored */
    const int64_t slack = (RMAX * g->SW + KW * g->DW) * B;
    for (int64_t j = 0; j < slack; j += B)
        st(buf + Hp * Wp * B + j, z);
    dw_row rr = *r;
    rr.x = buf;
    rr.W = Wp;
    rr.PL = 0;
    rr.k0 = 0;
    rr.k1 = KH;
    rr.y = y + oh0 * OW * B;
    rr.res = res ? res + oh0 * OW * B : NULL;
    dw_small_fn fn = dw_small_any;
    if (g->DH == 1 && g->DW == 1 && KH == KW && g->SW == 1) {
        if (KH == 3)
            fn = dw_small_3s1;
        else if (KH == 5)
            fn = dw_small_5s1;
    }
    fn(&rr, oh1 - oh0, g->SH, OW, (int)KW, (int)g->SW, (int)g->DW);
}

/* Output rows [oh0, oh1) of one plane. r is a copy (the output stores
 * cannot alias it, so its fields stay in registers); KW, SW, DW are
 * constants where inlined from the specialized copies below, KH too (0
 * for any). */
static inline __attribute__((always_inline)) void dw_rows(const kn_nchwc_dw_ctx *d, const dw_row *row, int64_t oh0,
                                                          int64_t oh1, int KH, int KW, int SW, int DW)
{
    dw_row copy = *row, *r = &copy;
    const kn_conv2d_geom *g = &d->g;
    const int64_t OW = d->OW, kw = d->p->KW, sw = g->SW, dw = g->DW;
    int64_t lo, hi;
    kn_nchwc_interior(d->g.PL, d->g.SW, d->g.DW, d->p->KW, d->W, d->OW, &lo, &hi);
    float *y = r->y;
    const float *res = r->res;
    const bool act_row = d->act && !r->clip;
    for (int64_t oh = oh0; oh < oh1; oh++) {
        r->ih0 = oh * g->SH - g->PT;
        kn_nchwc_taps(r->ih0, d->g.DH, d->p->KH, d->H, &r->k0, &r->k1);
        r->y = y + oh * OW * B;
        r->res = res ? res + oh * OW * B : NULL;
        for (int64_t ow = 0; ow < lo; ow++)
            dw_pixel(r, ow, kw, sw, dw);
        if (KH && r->k0 == 0 && r->k1 == KH)
            dw_blocks(r, lo, hi, KH, KW, SW, DW);
        else
            dw_blocks(r, lo, hi, 0, KW, SW, DW);
        for (int64_t ow = hi; ow < OW; ow++)
            dw_pixel(r, ow, kw, sw, dw);
        if (act_row)
            kn_act_apply_avx2(d->act, r->y, OW * B);
    }
}

typedef void (*dw_rows_fn)(const kn_nchwc_dw_ctx *d, const dw_row *r, int64_t oh0, int64_t oh1);

#define DW_SPECIALIZE(k, st)                                                                                   \
    static void dw_rows_##k##s##st(const kn_nchwc_dw_ctx *d, const dw_row *r, int64_t oh0, int64_t oh1)     \
    {                                                                                                          \
        dw_rows(d, r, oh0, oh1, k, k, st, 1);                                                                  \
    }
DW_SPECIALIZE(3, 1)
DW_SPECIALIZE(3, 2)
DW_SPECIALIZE(5, 1)
DW_SPECIALIZE(5, 2)

static void dw_rows_any(const kn_nchwc_dw_ctx *d, const dw_row *r, int64_t oh0, int64_t oh1)
{
    dw_rows(d, r, oh0, oh1, 0, (int)d->p->KW, (int)d->g.SW, (int)d->g.DW);
}

void kn_nchwc_dw_task_avx2(void *ctx, size_t task)
{
    const kn_nchwc_dw_ctx *d = ctx;
    const kn_nchwc_dw *p = d->p;
    const kn_conv2d_geom *g = &d->g;
    const int64_t plane = (int64_t)task / d->chunks, chunk = (int64_t)task % d->chunks, cb = plane % d->CB;
    const int64_t H = d->H, W = d->W, OW = d->OW, KW = p->KW;
    const float *res = d->residual ? d->residual + plane * d->OH * OW * B : NULL;
    float *y = d->y + plane * d->OH * OW * B;
    const int64_t oh0 = chunk * d->rows, oh1 = KN_MIN(d->OH, oh0 + d->rows);
    const kn_act act = d->act ? d->act->act : KN_ACT_NONE;
    dw_row r = {
        .x = d->x + plane * H * W * B,
        .w = p->w + cb * p->KH * KW * B,
        .bias = p->bias + cb * B,
        .W = W,
        .DH = g->DH,
        .PL = g->PL,
        .clip = act == KN_ACT_RELU || act == KN_ACT_CLIP,
        .lo = act == KN_ACT_CLIP ? d->act->alpha : 0.0f,
        .hi = act == KN_ACT_CLIP ? d->act->beta : INFINITY,
    };
    int64_t Hp, Wp;
    /* decided by the shape and the chunk size alone (not by the chunk),
     * so every thread count takes the same path */
    if (dw_small_dims(d, d->rows, &Hp, &Wp)) {
        dw_small_task(d, &r, r.x, res, y, oh0, oh1);
        if (d->act && !r.clip)
            kn_act_apply_avx2(d->act, y + oh0 * OW * B, (oh1 - oh0) * OW * B);
        return;
    }
    dw_rows_fn fn = dw_rows_any;
    if (g->DW == 1 && KW == 3 && p->KH == 3 && g->SW == 1)
        fn = dw_rows_3s1;
    else if (g->DW == 1 && KW == 3 && p->KH == 3 && g->SW == 2)
        fn = dw_rows_3s2;
    else if (g->DW == 1 && KW == 5 && p->KH == 5 && g->SW == 1)
        fn = dw_rows_5s1;
    else if (g->DW == 1 && KW == 5 && p->KH == 5 && g->SW == 2)
        fn = dw_rows_5s2;
    r.y = y;
    r.res = res;
    fn(d, &r, oh0, oh1);
}
