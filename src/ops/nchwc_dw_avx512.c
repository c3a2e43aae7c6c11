/* The AVX-512 form of the blocked depthwise convolution (nchwc_dw.c): one
 * zmm is one pixel of a 16-channel block, so a tap is one FMA of an input
 * pixel vector and a weight vector. Per output row: the kernel rows inside
 * the input are found once; the border pixels (some tap in the left or
 * right padding) test each tap; the interior pixels go in blocks of 8, 4
 * and 1 with one accumulator each and no tests. For 3x3 and 5x5 with
 * stride 1 or 2 (MobileNet / EfficientNet) the taps are unrolled with
 * constant offsets, so an input vector loaded once serves every
 * neighbouring pixel whose window covers it. Residual and activation are
 * applied over the finished row while it is in L1, with act_vec, so they
 * equal kn_act_apply_avx512 bit for bit. Called only when the session's
 * ISA is AVX-512. */
#include "ops/act_avx512.h"
#include "ops/nchwc_dw_impl.h"

#include <immintrin.h>

enum { B = KN_NCHWC_BLOCK };

/* Where one output row reads and writes: x is the input plane, the row's
 * window starts at input row ih0 (may lie outside the input; only kernel
 * rows k0 .. k1 are read). */
typedef struct dw_row {
    const float *x, *w, *bias;
    float *y;
    int64_t W, DH, k0, k1, PL, ih0;
} dw_row;

/* R interior pixels from ow: every tap inside the input. */
static inline __attribute__((always_inline)) void dw_block(const dw_row *r, int64_t ow, int KW, int SW, int DW, int R)
{
    __m512 acc[8];
    const __m512 b = _mm512_loadu_ps(r->bias);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
        acc[i] = b;
    const float *x0 = r->x + (ow * SW - r->PL) * B;
    for (int64_t kh = r->k0; kh < r->k1; kh++) {
        const float *xr = x0 + (r->ih0 + kh * r->DH) * r->W * B, *wr = r->w + kh * KW * B;
#pragma GCC unroll 8
        for (int kw = 0; kw < KW; kw++) {
            const __m512 wv = _mm512_loadu_ps(wr + kw * B);
#pragma GCC unroll 8
            for (int i = 0; i < R; i++)
                acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(xr + (i * SW + kw * DW) * B), wv, acc[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
        _mm512_storeu_ps(r->y + (ow + i) * B, acc[i]);
}

/* Interior pixels [lo, hi): KW, SW, DW are constants where inlined from the
 * specialized copies below. */
static inline __attribute__((always_inline)) void dw_interior(const dw_row *r, int64_t lo, int64_t hi, int KW, int SW,
                                                              int DW)
{
    int64_t ow = lo;
    for (; ow + 8 <= hi; ow += 8)
        dw_block(r, ow, KW, SW, DW, 8);
    if (ow + 4 <= hi) {
        dw_block(r, ow, KW, SW, DW, 4);
        ow += 4;
    }
    for (; ow < hi; ow++)
        dw_block(r, ow, KW, SW, DW, 1);
}

typedef void (*dw_interior_fn)(const dw_row *r, int64_t lo, int64_t hi, int KW, int SW, int DW);

#define DW_SPECIALIZE(kw, sw)                                                                             \
    static void dw_interior_##kw##s##sw(const dw_row *r, int64_t lo, int64_t hi, int KW, int SW, int DW) \
    {                                                                                                     \
        (void)KW, (void)SW, (void)DW;                                                                     \
        dw_interior(r, lo, hi, kw, sw, 1);                                                                \
    }
DW_SPECIALIZE(3, 1)
DW_SPECIALIZE(3, 2)
DW_SPECIALIZE(5, 1)
DW_SPECIALIZE(5, 2)

static void dw_interior_any(const dw_row *r, int64_t lo, int64_t hi, int KW, int SW, int DW)
{
    dw_interior(r, lo, hi, KW, SW, DW);
}

/* One border pixel: taps in the left / right padding skipped. */
static void dw_pixel(const dw_row *r, int64_t ow, int64_t KW, int64_t SW, int64_t DW)
{
    __m512 acc = _mm512_loadu_ps(r->bias);
    const int64_t iw0 = ow * SW - r->PL;
    for (int64_t kh = r->k0; kh < r->k1; kh++) {
        const float *xr = r->x + (r->ih0 + kh * r->DH) * r->W * B, *wr = r->w + kh * KW * B;
        for (int64_t kw = 0; kw < KW; kw++) {
            const int64_t iw = iw0 + kw * DW;
            if (iw >= 0 && iw < r->W)
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(xr + iw * B), _mm512_loadu_ps(wr + kw * B), acc);
        }
    }
    _mm512_storeu_ps(r->y + ow * B, acc);
}

#define DW_EPILOGUE_CASE(A)                                                      \
    case A:                                                                      \
        for (int64_t i = 0; i < n; i++) {                                        \
            __m512 v = _mm512_loadu_ps(y + i * B);                               \
            if (res)                                                             \
                v = _mm512_add_ps(v, _mm512_loadu_ps(res + i * B));              \
            _mm512_storeu_ps(y + i * B, act_vec(ep, v, A));                      \
        }                                                                        \
        break;

/* y[0 .. n pixels) = act(y + res), the activation fixed per loop. */
static void dw_epilogue(float *y, const float *res, int64_t n, const kn_epilogue *ep)
{
    switch (ep ? ep->act : KN_ACT_NONE) {
        DW_EPILOGUE_CASE(KN_ACT_NONE)
        DW_EPILOGUE_CASE(KN_ACT_RELU)
        DW_EPILOGUE_CASE(KN_ACT_CLIP)
        DW_EPILOGUE_CASE(KN_ACT_LEAKY_RELU)
        DW_EPILOGUE_CASE(KN_ACT_SIGMOID)
        DW_EPILOGUE_CASE(KN_ACT_HARD_SIGMOID)
        DW_EPILOGUE_CASE(KN_ACT_HARD_SWISH)
        DW_EPILOGUE_CASE(KN_ACT_SILU)
    }
}

void kn_nchwc_dw_task_avx512(void *ctx, size_t task)
{
    const kn_nchwc_dw_ctx *d = ctx;
    const kn_nchwc_dw *p = d->p;
    const kn_conv2d_geom *g = &d->g;
    const int64_t plane = (int64_t)task / d->chunks, chunk = (int64_t)task % d->chunks, cb = plane % d->CB;
    const int64_t H = d->H, W = d->W, OW = d->OW, KW = p->KW;
    const float *x = d->x + plane * H * W * B;
    const float *res = d->residual ? d->residual + plane * d->OH * OW * B : NULL;
    float *y = d->y + plane * d->OH * OW * B;
    const int64_t oh0 = chunk * d->rows, oh1 = KN_MIN(d->OH, oh0 + d->rows);
    int64_t lo, hi;
    kn_nchwc_dw_interior(d, &lo, &hi);
    dw_interior_fn interior = dw_interior_any;
    if (g->DW == 1 && KW == 3 && g->SW == 1)
        interior = dw_interior_3s1;
    else if (g->DW == 1 && KW == 3 && g->SW == 2)
        interior = dw_interior_3s2;
    else if (g->DW == 1 && KW == 5 && g->SW == 1)
        interior = dw_interior_5s1;
    else if (g->DW == 1 && KW == 5 && g->SW == 2)
        interior = dw_interior_5s2;
    dw_row r = {.x = x, .w = p->w + cb * p->KH * KW * B, .bias = p->bias + cb * B, .W = W, .DH = g->DH, .PL = g->PL};
    for (int64_t oh = oh0; oh < oh1; oh++) {
        r.ih0 = oh * g->SH - g->PT;
        kn_nchwc_dw_krows(d, r.ih0, &r.k0, &r.k1);
        r.y = y + oh * OW * B;
        for (int64_t ow = 0; ow < lo; ow++)
            dw_pixel(&r, ow, KW, g->SW, g->DW);
        interior(&r, lo, hi, (int)KW, (int)g->SW, (int)g->DW);
        for (int64_t ow = hi; ow < OW; ow++)
            dw_pixel(&r, ow, KW, g->SW, g->DW);
        if (res || d->act)
            dw_epilogue(r.y, res ? res + oh * OW * B : NULL, OW, d->act);
    }
}
