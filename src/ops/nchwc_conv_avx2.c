/* AVX2+FMA kernel of the blocked convolution (nchwc_conv.c), on the same
 * packed weights as the AVX-512 one (nchwc_conv_impl.h). A 16-channel
 * output block is two ymm, so with 16 registers a tile is F output blocks
 * by P consecutive output pixels (row-major, so a tile may continue on the
 * next row) with F * P * 2 accumulators: per input step (block cb, tap kh
 * kw, lane ic) the tile loads its F blocks' weight vectors from the
 * group's [nfg][16] row and broadcasts each pixel's input value once
 * against them. The pixels of a task are taken SUPER at a time, and each
 * group of up to SUPER pixels runs through every block of the group (F
 * blocks per tile) while its input is in L1. Bias plus residual starts the
 * accumulators; ReLU / Clip are applied before the one store of each
 * vector, other activations through kn_act_apply_avx2 over the stored
 * tile, as the NCHW AVX2 path applies them.
 *
 * Reductions whose weights would not stay in L2 run in passes over slices
 * of the input blocks, the partial sums kept in y between passes (stored
 * and reloaded exactly, so the same operations as in one pass). While a
 * tile computes, the weights of the next pass and the next pixels' input
 * lines are prefetched.
 *
 * Tiles whose pixels have every tap inside the input run with no checks.
 * The others (image borders) run over the union of their pixels' valid
 * taps, and a pixel's broadcast reads a zero for taps in the padding.
 * Called only when the session's ISA is AVX2 or better. */
#include "ops/nchwc_conv_impl.h"
#include "ops/sgemm.h"

#include <immintrin.h>

/* Block x pixel tile shapes: F = 1 with up to 6 pixels (12 accumulators, 2
 * weight vectors, 1 broadcast) or F = 2 with up to 3. */
#ifndef KN_NCHWC_AVX2_F
#define KN_NCHWC_AVX2_F 1
#endif
#define TF KN_NCHWC_AVX2_F
#define TP (6 / TF)
#define SUPER 6
/* weight bytes of one pass (see nchwc_conv_avx512.c) */
#define KN_NCHWC_WSLICE (256 * 1024)

typedef struct tile_args {
    const kn_nchwc_conv_ctx *c;
    const float *x; /* image n */
    const float *w; /* the group's weights, offset to the tile's first block */
    const float *bias;
    float *y; /* the tile's first block and pixel */
    const float *res;
    const float *zeros; /* what a tap in the padding broadcasts */
    const char *pf, *pf_end; /* next pass's weights to prefetch, this tile's share */
    int64_t nfg;             /* blocks of the group: the weight row stride is nfg * 16 */
    int64_t kh_lo, kh_hi, kw_lo, kw_hi;
    int64_t cb0, cb1;
    bool first, last;
    /* per pixel of the tile: window origin (input row, column; offset in x) */
    int64_t ih[SUPER], iw[SUPER], xo[SUPER];
} tile_args;

static const float zeros[16] __attribute__((aligned(64)));

static inline __attribute__((always_inline)) void tile(const tile_args *a, const int LC, const int F, const int P,
                                                       const bool checked)
{
    const kn_nchwc_conv_ctx *c = a->c;
    const int64_t KH = c->p->KH, KW = c->p->KW, vs = a->nfg * 16, ws = LC * vs;
    const int64_t rs = c->DH * c->xs_row, cs = c->DW * c->xs_pix;
    const uint64_t H = (uint64_t)c->H, W = (uint64_t)c->W;
    __m256 acc[2 * TF * TP];
    if (a->first) {
        /* the residual joins the bias before the sum: read before this
         * tile's y is first written, so y may be the residual */
#pragma GCC unroll 2
        for (int f = 0; f < F; f++) {
            const __m256 b0 = _mm256_loadu_ps(a->bias + f * 16), b1 = _mm256_loadu_ps(a->bias + f * 16 + 8);
#pragma GCC unroll 6
            for (int q = 0; q < P; q++) {
                __m256 v0 = b0, v1 = b1;
                if (a->res) {
                    const float *r = a->res + f * c->ys_blk + q * 16;
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(r));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(r + 8));
                }
                acc[2 * (f * P + q)] = v0;
                acc[2 * (f * P + q) + 1] = v1;
            }
        }
    } else {
#pragma GCC unroll 2
        for (int f = 0; f < F; f++)
#pragma GCC unroll 6
            for (int q = 0; q < P; q++) {
                acc[2 * (f * P + q)] = _mm256_loadu_ps(a->y + f * c->ys_blk + q * 16);
                acc[2 * (f * P + q) + 1] = _mm256_loadu_ps(a->y + f * c->ys_blk + q * 16 + 8);
            }
    }
    const float *base[SUPER];
#pragma GCC unroll 6
    for (int q = 0; q < P; q++)
        base[q] = checked ? a->x : a->x + a->xo[q];
    const char *pf = a->pf, *pfe = a->pf_end;
    for (int64_t cb = a->cb0; cb < a->cb1; cb++) {
        const float *wc = a->w + cb * KH * KW * ws;
        for (int64_t kh = a->kh_lo; kh < a->kh_hi; kh++) {
            const float *wr = wc + kh * KW * ws;
            const int64_t tr = cb * c->xs_cb + kh * rs;
            bool rok[SUPER];
            if (checked) {
#pragma GCC unroll 6
                for (int q = 0; q < P; q++)
                    rok[q] = (uint64_t)(a->ih[q] + kh * c->DH) < H;
            }
            for (int64_t kw = a->kw_lo; kw < a->kw_hi; kw++) {
                const float *wp = wr + kw * ws;
                const int64_t t = tr + kw * cs;
                const float *xp[SUPER];
#pragma GCC unroll 6
                for (int q = 0; q < P; q++) {
                    if (checked) {
                        /* a select in integers, not a branch per load */
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
                    __m256 wv[2 * TF];
#pragma GCC unroll 2
                    for (int f = 0; f < F; f++) {
                        wv[2 * f] = _mm256_loadu_ps(wp + ic * vs + f * 16);
                        wv[2 * f + 1] = _mm256_loadu_ps(wp + ic * vs + f * 16 + 8);
                    }
#pragma GCC unroll 6
                    for (int q = 0; q < P; q++) {
                        const __m256 xv = _mm256_broadcast_ss(xp[q] + ic);
#pragma GCC unroll 2
                        for (int f = 0; f < F; f++) {
                            acc[2 * (f * P + q)] = _mm256_fmadd_ps(wv[2 * f], xv, acc[2 * (f * P + q)]);
                            acc[2 * (f * P + q) + 1] = _mm256_fmadd_ps(wv[2 * f + 1], xv, acc[2 * (f * P + q) + 1]);
                        }
                    }
                }
            }
        }
    }
    const kn_epilogue *act = a->last ? c->act : NULL;
    const kn_act kind = act ? act->act : KN_ACT_NONE;
    const __m256 lo = _mm256_set1_ps(kind == KN_ACT_CLIP ? act->alpha : 0.0f);
    const __m256 hi = _mm256_set1_ps(kind == KN_ACT_CLIP ? act->beta : __builtin_inff());
#pragma GCC unroll 2
    for (int f = 0; f < F; f++) {
        float *y = a->y + f * c->ys_blk;
#pragma GCC unroll 6
        for (int q = 0; q < P; q++) {
            __m256 v0 = acc[2 * (f * P + q)], v1 = acc[2 * (f * P + q) + 1];
            if (kind == KN_ACT_RELU || kind == KN_ACT_CLIP) {
                v0 = _mm256_min_ps(_mm256_max_ps(v0, lo), hi);
                v1 = _mm256_min_ps(_mm256_max_ps(v1, lo), hi);
            }
            _mm256_storeu_ps(y + q * 16, v0);
            _mm256_storeu_ps(y + q * 16 + 8, v1);
        }
    }
    if (kind != KN_ACT_NONE && kind != KN_ACT_RELU && kind != KN_ACT_CLIP)
        for (int f = 0; f < F; f++)
            kn_act_apply_avx2(act, a->y + f * c->ys_blk, (int64_t)P * 16);
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
TILE_DEF(16, 1, 1)
TILE_DEF(16, 1, 2)
TILE_DEF(16, 1, 3)
TILE_DEF(16, 1, 4)
TILE_DEF(16, 1, 5)
TILE_DEF(16, 1, 6)
TILE_DEF(1, 1, 1)
TILE_DEF(1, 1, 2)
TILE_DEF(1, 1, 3)
TILE_DEF(1, 1, 4)
TILE_DEF(1, 1, 5)
TILE_DEF(1, 1, 6)
#if TF == 2
TILE_DEF(16, 2, 1)
TILE_DEF(16, 2, 2)
TILE_DEF(16, 2, 3)
TILE_DEF(1, 2, 1)
TILE_DEF(1, 2, 2)
TILE_DEF(1, 2, 3)
#define F2_PTRS(T, LC) {T##_##LC##_2_1, T##_##LC##_2_2, T##_##LC##_2_3, NULL, NULL, NULL}
#else
#define F2_PTRS(T, LC) {NULL, NULL, NULL, NULL, NULL, NULL}
#endif

#define F1_PTRS(T, LC) {T##_##LC##_1_1, T##_##LC##_1_2, T##_##LC##_1_3, T##_##LC##_1_4, T##_##LC##_1_5, T##_##LC##_1_6}

/* [checked][LC == 1][F - 1][P - 1] */
static const tile_fn tiles[2][2][2][SUPER] = {
    {{F1_PTRS(tile, 16), F2_PTRS(tile, 16)}, {F1_PTRS(tile, 1), F2_PTRS(tile, 1)}},
    {{F1_PTRS(tilec, 16), F2_PTRS(tilec, 16)}, {F1_PTRS(tilec, 1), F2_PTRS(tilec, 1)}},
};

/* The next pixels' input, into L1 while this group of pixels computes: for
 * each run of them within one output row, every input row of the window
 * and every column from the run's first tap to its last, in every block of
 * the pass; and the residual lines. */
static inline void prefetch_next(const kn_nchwc_conv_ctx *c, const tile_args *a, int64_t nfg, int64_t oh,
                                 int64_t ow, int64_t np, const float *res)
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
        for (int64_t f = 0; f < nfg; f++)
            for (int64_t q = 0; q < pixels; q++)
                _mm_prefetch((const char *)(res + f * c->ys_blk + q * KN_NCHWC_BLOCK), _MM_HINT_T0);
}

static void range_pass(const kn_nchwc_conv_ctx *c, const tile_args *ap, int64_t y0, int64_t s, int64_t e,
                       const char *nb, const char *ne)
{
    const kn_nchwc_conv *p = c->p;
    const int64_t nfg = ap->nfg;
    tile_args a = *ap;
    /* tiles of this pass: per group of pixels, ceil(nfg / TF) block tiles
     * of SUPER / TP pixel tiles each */
    const int64_t ntiles = (e - s + SUPER - 1) / SUPER * ((nfg + TF - 1) / TF) * (SUPER / TP);
    const int64_t share = ((ne - nb) / ntiles + 64) & ~(int64_t)63;
    a.pf = nb;
    int64_t oh = s / c->OW, ow = s % c->OW;
    for (int64_t i = s; i < e;) {
        const int np = (int)KN_MIN(e - i, (int64_t)SUPER);
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
        float *yi = c->y + y0 + i * KN_NCHWC_BLOCK;
        const float *ri = c->res ? c->res + y0 + i * KN_NCHWC_BLOCK : NULL;
        if (c->Lc == KN_NCHWC_BLOCK)
            prefetch_next(c, &a, nfg, oh, ow, KN_MIN(e - i - np, (int64_t)SUPER),
                          ri ? ri + np * KN_NCHWC_BLOCK : NULL);
        const tile_args pix = a;
        for (int64_t f0 = 0; f0 < nfg; f0 += TF) {
            const int F = (int)KN_MIN(nfg - f0, (int64_t)TF);
            for (int q0 = 0; q0 < np; q0 += TP) {
                const int P = KN_MIN(np - q0, TP);
                tile_args t = pix;
                t.w = pix.w + f0 * KN_NCHWC_BLOCK;
                t.bias = pix.bias + f0 * KN_NCHWC_BLOCK;
                t.y = yi + f0 * c->ys_blk + q0 * KN_NCHWC_BLOCK;
                t.res = ri ? ri + f0 * c->ys_blk + q0 * KN_NCHWC_BLOCK : NULL;
                for (int q = 0; q < P; q++)
                    t.ih[q] = pix.ih[q0 + q], t.iw[q] = pix.iw[q0 + q], t.xo[q] = pix.xo[q0 + q];
                t.pf = a.pf;
                t.pf_end = a.pf + KN_MIN(share, ne - a.pf);
                tiles[!inside][c->Lc == 1][F - 1][P - 1](&t);
                a.pf = t.pf_end;
            }
        }
        i += np;
    }
}

void kn_nchwc_conv_range_avx2(const kn_nchwc_conv_ctx *c, int64_t n, int64_t g, int64_t s, int64_t e)
{
    const kn_nchwc_conv *p = c->p;
    const int64_t nfg = kn_nchwc_group_blocks(c, g);
    tile_args a = {.c = c, .x = c->x + n * c->xs_img, .w = p->w + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK * c->KK,
                   .bias = p->bias + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK, .zeros = zeros, .nfg = nfg};
    const int64_t y0 = n * c->ys_img + g * KN_NCHWC_GROUP * c->ys_blk;
    /* passes over slices of the input blocks whose weights fit in L2, of
     * equal length, as in the AVX-512 kernel */
    const int64_t per_cb = p->KH * p->KW * c->Lc * nfg * KN_NCHWC_BLOCK * (int64_t)sizeof(float);
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
        range_pass(c, &a, y0, s, e, nb, ne);
    }
}
