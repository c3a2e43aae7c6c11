/* AVX-512 kernel of the blocked convolution (nchwc_conv.c). A tile is F
 * output blocks (F * 16 output channels) by P consecutive output pixels
 * (row-major, so a tile may continue on the next row), F * P accumulators
 * in registers: per input step (block cb, tap kh kw, lane ic) F weight
 * vectors are loaded and each pixel's input value is broadcast once
 * against them. Bias plus residual starts the accumulators; ReLU / Clip
 * are applied before the one store of each vector, other activations
 * (act_vec, as kn_act_apply_avx512) over the stored tile.
 *
 * Reductions whose weights would not stay in L2 run in passes over slices
 * of the input blocks, the partial sums kept in y between passes. While a
 * tile computes, the weights of the next pass and the next tile's input
 * and residual lines are prefetched.
 *
 * Tiles whose pixels have every tap inside the input run with no checks.
 * The others (image borders) run over the union of their pixels' valid
 * taps, and a pixel's broadcast reads a zero vector for taps in the
 * padding: a few scalar selects per tap instead of a narrower, slower
 * tile. Pointwise convolutions (1x1, no padding) run a row of tiles per
 * call instead (pw_run). Called only when the session's ISA is AVX-512. */
#include "ops/act_avx512.h"
#include "ops/nchwc_conv_impl.h"

#include <immintrin.h>

#define PMAX 8
/* Weight bytes of one pass: a quarter of Zen 4's L2, room for the next
 * slice being prefetched and the pass's input (256 to 512 KiB measured
 * alike on ResNet-50's 3x3 512 layers; 64 KiB was slower). */
#define KN_NCHWC_WSLICE (256 * 1024)

typedef struct tile_args {
    const kn_nchwc_conv_ctx *c;
    const float *x; /* image n */
    const float *w; /* the group's weights */
    const float *bias;
    float *y;       /* first block of the group, first pixel */
    const float *res;
    const float *zeros; /* 16: what a tap in the padding broadcasts */
    /* weights the next pass reads, prefetched to L2 a line per input step:
     * this tile's share of them */
    const char *pf, *pf_end;
    int64_t kh_lo, kh_hi, kw_lo, kw_hi;
    int64_t cb0, cb1; /* input blocks of this pass */
    bool first, last; /* first pass starts from bias + residual, last applies the activation */
    /* per pixel: window origin (input row, column; offset in x) */
    int64_t ih[PMAX], iw[PMAX], xo[PMAX];
} tile_args;

static const float zeros[16] __attribute__((aligned(64)));

/* n vectors at y through act_vec, as kn_act_apply_avx512 does. */
__attribute__((noinline)) static void act_vectors(const kn_epilogue *act, float *y, int n)
{
    for (int i = 0; i < n; i++)
        _mm512_storeu_ps(y + i * 16, act_vec(act, _mm512_loadu_ps(y + i * 16), act->act));
}

static inline __attribute__((always_inline)) void tile(const tile_args *a, const int LC, const int F, const int P,
                                                       const bool checked)
{
    const kn_nchwc_conv_ctx *c = a->c;
    const int64_t KH = c->p->KH, KW = c->p->KW, ws = (int64_t)LC * F * 16;
    const int64_t rs = c->DH * c->xs_row, cs = c->DW * c->xs_pix;
    const uint64_t H = (uint64_t)c->H, W = (uint64_t)c->W;
    __m512 acc[32];
    if (a->first) {
        /* the residual joins the bias before the sum: read before this
         * tile's y is first written, so y may be the residual */
#pragma GCC unroll 4
        for (int f = 0; f < F; f++) {
            __m512 b = _mm512_loadu_ps(a->bias + f * 16);
#pragma GCC unroll 8
            for (int q = 0; q < P; q++)
                acc[f * P + q] = a->res ? _mm512_add_ps(b, _mm512_loadu_ps(a->res + f * c->ys_blk + q * 16)) : b;
        }
    } else {
#pragma GCC unroll 4
        for (int f = 0; f < F; f++)
#pragma GCC unroll 8
            for (int q = 0; q < P; q++)
                acc[f * P + q] = _mm512_loadu_ps(a->y + f * c->ys_blk + q * 16);
    }
    /* unchecked: every window origin is inside the image */
    const float *base[PMAX];
#pragma GCC unroll 8
    for (int q = 0; q < P; q++)
        base[q] = checked ? a->x : a->x + a->xo[q];
    const char *pf = a->pf, *pfe = a->pf_end;
    for (int64_t cb = a->cb0; cb < a->cb1; cb++) {
        const float *wc = a->w + cb * KH * KW * ws;
        for (int64_t kh = a->kh_lo; kh < a->kh_hi; kh++) {
            const float *wr = wc + kh * KW * ws;
            const int64_t tr = cb * c->xs_cb + kh * rs;
            bool rok[PMAX];
            if (checked) {
#pragma GCC unroll 8
                for (int q = 0; q < P; q++)
                    rok[q] = (uint64_t)(a->ih[q] + kh * c->DH) < H;
            }
            for (int64_t kw = a->kw_lo; kw < a->kw_hi; kw++) {
                const float *wp = wr + kw * ws;
                const int64_t t = tr + kw * cs;
                const float *xp[PMAX];
#pragma GCC unroll 8
                for (int q = 0; q < P; q++) {
                    if (checked) {
                        /* a select in integers: as a conditional, GCC
                         * duplicates the 16 loads into both branches */
                        const uintptr_t ok =
                            (uintptr_t)0 - (uintptr_t)(rok[q] & ((uint64_t)(a->iw[q] + kw * c->DW) < W));
                        const uintptr_t in = (uintptr_t)a->x + (uintptr_t)(a->xo[q] + t) * sizeof(float);
                        const uintptr_t z = (uintptr_t)a->zeros;
                        xp[q] = (const float *)(z ^ ((in ^ z) & ok));
                    } else
                        xp[q] = base[q] + t;
                }
#pragma GCC unroll 16
                for (int ic = 0; ic < LC; ic++) {
                    _mm_prefetch(pf, _MM_HINT_T1);
                    pf += pf < pfe ? 64 : 0;
                    __m512 wv[4];
#pragma GCC unroll 4
                    for (int f = 0; f < F; f++)
                        wv[f] = _mm512_loadu_ps(wp + (ic * F + f) * 16);
#pragma GCC unroll 8
                    for (int q = 0; q < P; q++) {
                        __m512 xv = _mm512_set1_ps(xp[q][ic]);
#pragma GCC unroll 4
                        for (int f = 0; f < F; f++)
                            acc[f * P + q] = _mm512_fmadd_ps(wv[f], xv, acc[f * P + q]);
                    }
                }
            }
        }
    }
    /* ReLU and Clip in registers; the other activations (act_vec, long)
     * over the stored tile, still in L1, from one out-of-line copy */
    const kn_epilogue *act = a->last ? c->act : NULL;
    const kn_act kind = act ? act->act : KN_ACT_NONE;
    const __m512 lo = _mm512_set1_ps(kind == KN_ACT_CLIP ? act->alpha : 0.0f);
    const __m512 hi = _mm512_set1_ps(kind == KN_ACT_CLIP ? act->beta : __builtin_inff());
#pragma GCC unroll 4
    for (int f = 0; f < F; f++) {
        float *y = a->y + f * c->ys_blk;
#pragma GCC unroll 8
        for (int q = 0; q < P; q++) {
            __m512 v = acc[f * P + q];
            if (kind == KN_ACT_RELU || kind == KN_ACT_CLIP)
                v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            _mm512_storeu_ps(y + q * 16, v);
        }
    }
    if (kind != KN_ACT_NONE && kind != KN_ACT_RELU && kind != KN_ACT_CLIP)
        for (int f = 0; f < F; f++)
            act_vectors(act, a->y + f * c->ys_blk, P);
}

typedef void (*tile_fn)(const tile_args *a);

#define TILE_DEF(LC, F, P)                                                                              \
    __attribute__((noinline)) static void tile_##LC##_##F##_##P(const tile_args *a)                    \
    {                                                                                                   \
        tile(a, LC, F, P, false);                                                                       \
    }                                                                                                   \
    __attribute__((noinline)) static void tilec_##LC##_##F##_##P(const tile_args *a)                   \
    {                                                                                                   \
        tile(a, LC, F, P, true);                                                                        \
    }
#define TILE_ROW(LC, F)                                                                                 \
    TILE_DEF(LC, F, 1)                                                                                  \
    TILE_DEF(LC, F, 2)                                                                                  \
    TILE_DEF(LC, F, 3)                                                                                  \
    TILE_DEF(LC, F, 4) TILE_DEF(LC, F, 5) TILE_DEF(LC, F, 6) TILE_DEF(LC, F, 7) TILE_DEF(LC, F, 8)
TILE_ROW(16, 1)
TILE_ROW(16, 2)
TILE_ROW(16, 3)
TILE_ROW(16, 4)
TILE_ROW(1, 1)
TILE_ROW(1, 2)
TILE_ROW(1, 3)
TILE_ROW(1, 4)

#define TILE_PTRS(T, LC, F)                                                                             \
    {                                                                                                   \
        T##_##LC##_##F##_1, T##_##LC##_##F##_2, T##_##LC##_##F##_3, T##_##LC##_##F##_4,                 \
            T##_##LC##_##F##_5, T##_##LC##_##F##_6, T##_##LC##_##F##_7, T##_##LC##_##F##_8              \
    }

/* [checked][LC == 1][F - 1][P - 1] */
static const tile_fn tiles[2][2][4][PMAX] = {
    {{TILE_PTRS(tile, 16, 1), TILE_PTRS(tile, 16, 2), TILE_PTRS(tile, 16, 3), TILE_PTRS(tile, 16, 4)},
     {TILE_PTRS(tile, 1, 1), TILE_PTRS(tile, 1, 2), TILE_PTRS(tile, 1, 3), TILE_PTRS(tile, 1, 4)}},
    {{TILE_PTRS(tilec, 16, 1), TILE_PTRS(tilec, 16, 2), TILE_PTRS(tilec, 16, 3), TILE_PTRS(tilec, 16, 4)},
     {TILE_PTRS(tilec, 1, 1), TILE_PTRS(tilec, 1, 2), TILE_PTRS(tilec, 1, 3), TILE_PTRS(tilec, 1, 4)}},
};

/* Pointwise convolutions (1x1, every pixel inside the input) run whole
 * rows of tiles in one call: no window or tap bookkeeping, a pixel's input
 * is one line per block, and the loop over tiles costs a few instructions
 * instead of a call with its arguments rebuilt (ResNet's 1x1 layers on
 * 64 or 128 input channels have only 64 or 128 input steps per tile). */
typedef struct pw_args {
    const kn_nchwc_conv_ctx *c;
    const float *x; /* image n, block cb0 */
    const float *w; /* the group's weights, block cb0 */
    const float *bias;
    float *y;         /* the group's first plane, pixel 0 */
    const float *res; /* like y, or NULL */
    int64_t ncb;      /* input blocks of this pass */
    int64_t oh, ow;   /* the first tile's first output pixel */
    int64_t ntiles;
    bool first, last;
    /* the next pass's weights, share bytes per tile (see tile_args) */
    const char *pf, *pf_end;
    int64_t share;
} pw_args;

/* GCC emits prefetchw for _MM_HINT_ET0 only with -mprfchw, which the
 * AVX-512 flags do not include; every AVX-512 CPU has the instruction. */
static inline __attribute__((always_inline)) void pw_prefetchw(const float *p)
{
    __asm__ volatile("prefetchw %0" ::"m"(*(const char *)p));
}

static inline __attribute__((always_inline)) void pw_offsets(const kn_nchwc_conv_ctx *c, int P, int64_t *oh,
                                                             int64_t *ow, int64_t *xo)
{
    for (int q = 0; q < P; q++) {
        xo[q] = (*oh * c->SH * c->W + *ow * c->SW) * KN_NCHWC_BLOCK;
        if (++*ow == c->OW)
            *ow = 0, ++*oh;
    }
}

static inline __attribute__((always_inline)) void pw_run(const pw_args *a, const int F, const int P)
{
    const kn_nchwc_conv_ctx *c = a->c;
    const int64_t ys = c->ys_blk, xs = c->xs_cb, ws = 16 * F * 16;
    const kn_epilogue *act = a->last ? c->act : NULL;
    const kn_act kind = act ? act->act : KN_ACT_NONE;
    const float lo_s = kind == KN_ACT_CLIP ? act->alpha : 0.0f;
    const float hi_s = kind == KN_ACT_CLIP ? act->beta : __builtin_inff();
    int64_t oh = a->oh, ow = a->ow, xo[PMAX], xn[PMAX];
    pw_offsets(c, P, &oh, &ow, xo);
    const char *pf = a->pf, *pfe = a->pf;
    for (int64_t t = 0; t < a->ntiles; t++) {
        const int64_t pix = (oh * c->OW + ow - P) * KN_NCHWC_BLOCK; /* this tile's first output pixel */
        float *y = a->y + pix;
        const float *res = a->res ? a->res + pix : NULL;
        /* the next tile's input offsets (past the last tile computed but
         * not used) */
        pw_offsets(c, P, &oh, &ow, xn);
        const bool more = t + 1 < a->ntiles;
        /* residual and output lines to prefetch per input block */
        const int64_t rpc = more && a->first && res ? (F * P + a->ncb - 1) / a->ncb : 0;
        const int64_t wpc = more && a->first ? (F * P + a->ncb - 1) / a->ncb : 0;
        pfe = KN_MIN(pfe + a->share, a->pf_end);
        __m512 acc[32];
#pragma GCC unroll 4
        for (int f = 0; f < F; f++) {
            const __m512 b = _mm512_loadu_ps(a->bias + f * 16);
#pragma GCC unroll 8
            for (int q = 0; q < P; q++)
                acc[f * P + q] = a->first ? b : _mm512_loadu_ps(y + f * ys + q * 16);
        }
        const float *xp[PMAX];
#pragma GCC unroll 8
        for (int q = 0; q < P; q++)
            xp[q] = a->x + xo[q];
        const float *wp = a->w;
        for (int64_t cb = 0; cb < a->ncb; cb++, wp += ws) {
            /* the next tile's input and residual lines into L1 while this
             * one computes, and its output lines for writing (prefetchw:
             * the stores then find them owned; ResNet-50's 1x1 layers 2-7%
             * faster in the model), spread over the blocks (all at once at
             * the tile's start measured 2-5% slower with cold caches) */
            if (more) {
#pragma GCC unroll 8
                for (int q = 0; q < P; q++)
                    _mm_prefetch((const char *)(a->x + cb * xs + xn[q]), _MM_HINT_T0);
                for (int64_t k = cb * rpc, ke = KN_MIN(k + rpc, (int64_t)(F * P)); k < ke; k++)
                    _mm_prefetch((const char *)(res + P * 16 + (k / P) * ys + (k % P) * 16), _MM_HINT_T0);
                for (int64_t k = cb * wpc, ke = KN_MIN(k + wpc, (int64_t)(F * P)); k < ke; k++)
                    pw_prefetchw(y + P * 16 + (k / P) * ys + (k % P) * 16);
            }
            /* not unrolled: unrolled 16 times, GCC spilled accumulators
             * (ResNet-50's 1x1 layers on 7x7 and 14x14 planes 2-4% slower) */
#pragma GCC unroll 1
            for (int ic = 0; ic < 16; ic++) {
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += pf < pfe ? 64 : 0;
                __m512 wv[4];
#pragma GCC unroll 4
                for (int f = 0; f < F; f++)
                    wv[f] = _mm512_loadu_ps(wp + (ic * F + f) * 16);
#pragma GCC unroll 8
                for (int q = 0; q < P; q++) {
                    const __m512 xv = _mm512_set1_ps(xp[q][ic]);
#pragma GCC unroll 4
                    for (int f = 0; f < F; f++)
                        acc[f * P + q] = _mm512_fmadd_ps(wv[f], xv, acc[f * P + q]);
                }
            }
#pragma GCC unroll 8
            for (int q = 0; q < P; q++)
                xp[q] += xs;
        }
        /* the residual last, as a sum into y would be: read before this
         * tile's y is written, so y may be the residual. The clamp bounds
         * are set here, not before the loop: 24 accumulators, 4 weights and
         * a broadcast leave no register for them, and GCC spilled
         * accumulators instead (layers with long reductions 2-4% slower) */
        const __m512 lo = _mm512_set1_ps(lo_s), hi = _mm512_set1_ps(hi_s);
#pragma GCC unroll 4
        for (int f = 0; f < F; f++)
#pragma GCC unroll 8
            for (int q = 0; q < P; q++) {
                __m512 v = acc[f * P + q];
                if (a->first && res)
                    v = _mm512_add_ps(v, _mm512_loadu_ps(res + f * ys + q * 16));
                if (kind == KN_ACT_RELU)
                    v = _mm512_max_ps(v, lo);
                else if (kind == KN_ACT_CLIP)
                    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
                _mm512_storeu_ps(y + f * ys + q * 16, v);
            }
        if (kind != KN_ACT_NONE && kind != KN_ACT_RELU && kind != KN_ACT_CLIP)
            for (int f = 0; f < F; f++)
                act_vectors(act, y + f * ys, P);
#pragma GCC unroll 8
        for (int q = 0; q < P; q++)
            xo[q] = xn[q];
    }
}

typedef void (*pw_fn)(const pw_args *a);

#define PW_DEF(F, P)                                                                                    \
    __attribute__((noinline)) static void pw_##F##_##P(const pw_args *a)                               \
    {                                                                                                   \
        pw_run(a, F, P);                                                                                \
    }
PW_DEF(1, 8)
PW_DEF(2, 8)
PW_DEF(3, 8)
PW_DEF(4, 6)

static const pw_fn pw_runs[4] = {pw_1_8, pw_2_8, pw_3_8, pw_4_6};

/* Widest tile per F: F * P accumulators, F weights and a broadcast in 32
 * registers. */
static const int tile_pmax[4] = {8, 8, 8, 6};

/* The next tile's input, into L1 while this tile computes: for each run
 * of its pixels within one output row, every input row of the window and
 * every column from the run's first tap to its last, in every block of the
 * pass (the hardware prefetcher does not follow that many planes; the
 * first tap alone left stride-2 and 3x3 windows mostly to demand misses).
 * And the residual lines. */
static inline void prefetch_next(const kn_nchwc_conv_ctx *c, const tile_args *a, int F, int64_t oh, int64_t ow,
                                 int64_t np, const float *res)
{
    const kn_nchwc_conv *p = c->p;
    const int64_t pixels = np;
    while (np > 0) {
        const int64_t run = KN_MIN(np, c->OW - ow);
        const int64_t ih0 = oh * c->SH - c->PT;
        const int64_t iwa = KN_MAX(ow * c->SW - c->PL, (int64_t)0);
        const int64_t iwb = KN_MIN((ow + run - 1) * c->SW - c->PL + (p->KW - 1) * c->DW, c->W - 1);
        for (int64_t kh = 0; kh < p->KH; kh++) {
            const int64_t ih = ih0 + kh * c->DH;
            if (ih < 0 || ih >= c->H)
                continue;
            const float *row = a->x + ih * c->xs_row;
            for (int64_t cb = a->cb0; cb < a->cb1; cb++)
                for (int64_t iw = iwa; iw <= iwb; iw++)
                    _mm_prefetch((const char *)(row + cb * c->xs_cb + iw * c->xs_pix), _MM_HINT_T0);
        }
        np -= run;
        ow = 0;
        oh++;
    }
    if (a->first && res)
        for (int f = 0; f < F; f++)
            for (int64_t q = 0; q < pixels; q++)
                _mm_prefetch((const char *)(res + f * c->ys_blk + q * KN_NCHWC_BLOCK), _MM_HINT_T0);
}

static void range_pass(const kn_nchwc_conv_ctx *c, tile_args *ap, int F, int pmax, int64_t y0, int64_t s,
                       int64_t e, const char *nb, const char *ne)
{
    const kn_nchwc_conv *p = c->p;
    tile_args a = *ap;
    const int64_t ntiles = (e - s + pmax - 1) / pmax;
    const int64_t share = ((ne - nb) / ntiles + 64) & ~(int64_t)63;
    a.pf = nb;
    int64_t oh = s / c->OW, ow = s % c->OW;
    if (c->pointwise && e - s >= pmax) {
        const int64_t nt = (e - s) / pmax;
        const pw_args pa = {.c = c, .x = a.x + a.cb0 * c->xs_cb, .w = a.w + a.cb0 * 16 * F * 16,
                            .bias = a.bias, .y = c->y + y0, .res = c->res ? c->res + y0 : NULL,
                            .ncb = a.cb1 - a.cb0, .oh = oh, .ow = ow, .ntiles = nt, .first = a.first,
                            .last = a.last, .pf = nb, .pf_end = ne, .share = share};
        pw_runs[F - 1](&pa);
        s += nt * pmax;
        oh = s / c->OW, ow = s % c->OW;
        a.pf = nb + KN_MIN(nt * share, ne - nb);
    }
    for (int64_t i = s; i < e;) {
        const int np = (int)KN_MIN(e - i, (int64_t)pmax);
        bool inside = true;
        for (int q = 0; q < np; q++) {
            inside &= oh >= c->oh_a && oh < c->oh_b && ow >= c->ow_a && ow < c->ow_b;
            a.ih[q] = oh * c->SH - c->PT;
            a.iw[q] = ow * c->SW - c->PL;
            a.xo[q] = a.ih[q] * c->xs_row + a.iw[q] * c->xs_pix;
            if (++ow == c->OW)
                ow = 0, oh++;
        }
        if (inside) {
            a.kh_lo = 0, a.kh_hi = p->KH, a.kw_lo = 0, a.kw_hi = p->KW;
        } else {
            /* the union of the pixels' valid taps */
            a.kh_lo = p->KH, a.kh_hi = 0, a.kw_lo = p->KW, a.kw_hi = 0;
            for (int q = 0; q < np; q++) {
                int64_t lo, hi;
                kn_nchwc_taps(a.ih[q], c->DH, p->KH, c->H, &lo, &hi);
                if (lo < hi)
                    a.kh_lo = KN_MIN(a.kh_lo, lo), a.kh_hi = KN_MAX(a.kh_hi, hi);
                kn_nchwc_taps(a.iw[q], c->DW, p->KW, c->W, &lo, &hi);
                if (lo < hi)
                    a.kw_lo = KN_MIN(a.kw_lo, lo), a.kw_hi = KN_MAX(a.kw_hi, hi);
            }
        }
        a.y = c->y + y0 + i * KN_NCHWC_BLOCK;
        a.res = c->res ? c->res + y0 + i * KN_NCHWC_BLOCK : NULL;
        a.pf_end = a.pf + KN_MIN(share, ne - a.pf);
        if (c->Lc == KN_NCHWC_BLOCK)
            prefetch_next(c, &a, F, oh, ow, KN_MIN(e - i - np, (int64_t)pmax),
                          a.res ? a.res + np * KN_NCHWC_BLOCK : NULL);
        tiles[!inside][c->Lc == 1][F - 1][np - 1](&a);
        a.pf = a.pf_end;
        i += np;
    }
}

void kn_nchwc_conv_range_avx512(const kn_nchwc_conv_ctx *c, int64_t n, int64_t g, int64_t s, int64_t e)
{
    const kn_nchwc_conv *p = c->p;
    const int F = (int)kn_nchwc_group_blocks(c, g), pmax = tile_pmax[F - 1];
    tile_args a = {.c = c, .x = c->x + n * c->xs_img, .w = p->w + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK * c->KK,
                   .bias = p->bias + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK, .zeros = zeros};
    const int64_t y0 = n * c->ys_img + g * KN_NCHWC_GROUP * c->ys_blk;
    /* passes over slices of the input blocks whose weights fit in L2 next
     * to the pixels' input, partial sums kept in y between passes (stored
     * and reloaded exactly: the same operations as in one pass) */
    const int64_t per_cb = p->KH * p->KW * c->Lc * F * KN_NCHWC_BLOCK * (int64_t)sizeof(float);
    /* as many passes as the slice size needs, of equal length (8 blocks
     * in 7 + 1 left a pass too short to pay for its partial-sum round trip) */
    const int64_t cbmax = KN_MAX((int64_t)1, KN_NCHWC_WSLICE / per_cb);
    const int64_t npass = (c->CBn + cbmax - 1) / cbmax, cbc = (c->CBn + npass - 1) / npass;
    for (a.cb0 = 0; a.cb0 < c->CBn; a.cb0 += cbc) {
        a.cb1 = KN_MIN(a.cb0 + cbc, c->CBn);
        a.first = a.cb0 == 0;
        a.last = a.cb1 == c->CBn;
        /* what comes next from memory: the next slice, or after the last
         * one the next group's first slice (the thread's next task if this
         * chunk ends the plane), or this group's first slice again */
        const char *w = (const char *)a.w, *nb = w, *ne = w;
        if (!a.last) {
            nb = w + a.cb1 * per_cb;
            ne = w + KN_MIN(a.cb1 + cbc, c->CBn) * per_cb;
        } else if (e == c->OH * c->OW && g + 1 < c->G) {
            const int64_t F2 = kn_nchwc_group_blocks(c, g + 1);
            const int64_t per_cb2 = p->KH * p->KW * c->Lc * F2 * KN_NCHWC_BLOCK * (int64_t)sizeof(float);
            nb = (const char *)(a.w + KN_NCHWC_GROUP * KN_NCHWC_BLOCK * c->KK);
            ne = nb + KN_MIN(KN_MAX((int64_t)1, KN_NCHWC_WSLICE / per_cb2), c->CBn) * per_cb2;
        } else if (cbc < c->CBn) {
            ne = w + cbc * per_cb;
        }
        range_pass(c, &a, F, pmax, y0, s, e, nb, ne);
    }
}
