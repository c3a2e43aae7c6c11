/* AVX-512 row kernel of the blocked convolution (nchwc_conv.c). A tile is
 * F output blocks (F * 16 output channels) by P consecutive output pixels
 * of one row, F * P accumulators in registers: per input step (block cb,
 * tap kh kw, lane ic) F weight vectors are loaded and each pixel's input
 * value is broadcast once against them. Bias starts the accumulators;
 * residual and the activation (act_vec, as kn_act_apply_avx512) are
 * applied before the one store of each vector.
 *
 * Rows whose kh taps reach the padding just skip those taps. Columns whose
 * kw taps all lie inside the input row take the wide tiles with no checks;
 * the few border columns go one pixel at a time over their valid kw taps.
 * Called only when the session's ISA is AVX-512. */
#include "ops/act_avx512.h"
#include "ops/nchwc_conv_impl.h"

#include <immintrin.h>

typedef struct tile_args {
    const kn_nchwc_conv_ctx *c;
    const float *x;  /* image n, first pixel's window origin (row ih0, column iw0) */
    const float *w;  /* the group's weights */
    const float *bias;
    float *y;        /* first block of the group, first pixel */
    const float *res;
    int64_t kh_lo, kh_hi, kw_lo, kw_hi;
} tile_args;

/* The window origin may lie in the padding (negative offsets from the
 * image): pointers are formed only for taps inside the image. */
static inline __attribute__((always_inline)) void tile(const tile_args *a, int64_t xo, const int LC, const int F,
                                                       const int P)
{
    const kn_nchwc_conv_ctx *c = a->c;
    const int64_t KH = c->p->KH, KW = c->p->KW, ws = (int64_t)LC * F * 16;
    const int64_t px = c->SW * c->xs_pix, rs = c->DH * c->xs_row, cs = c->DW * c->xs_pix;
    __m512 acc[32];
#pragma GCC unroll 32
    for (int f = 0; f < F; f++) {
        __m512 b = _mm512_loadu_ps(a->bias + f * 16);
#pragma GCC unroll 32
        for (int q = 0; q < P; q++)
            acc[f * P + q] = b;
    }
    for (int64_t cb = 0; cb < c->CBn; cb++) {
        const float *wc = a->w + cb * KH * KW * ws;
        const int64_t xc = xo + cb * c->xs_cb;
        for (int64_t kh = a->kh_lo; kh < a->kh_hi; kh++) {
            const float *wr = wc + kh * KW * ws;
            const int64_t xr = xc + kh * rs;
            for (int64_t kw = a->kw_lo; kw < a->kw_hi; kw++) {
                const float *wp = wr + kw * ws, *xp = a->x + (xr + kw * cs);
#pragma GCC unroll 16
                for (int ic = 0; ic < LC; ic++) {
                    __m512 wv[4];
#pragma GCC unroll 4
                    for (int f = 0; f < F; f++)
                        wv[f] = _mm512_loadu_ps(wp + (ic * F + f) * 16);
#pragma GCC unroll 32
                    for (int q = 0; q < P; q++) {
                        __m512 xv = _mm512_set1_ps(xp[q * px + ic]);
#pragma GCC unroll 4
                        for (int f = 0; f < F; f++)
                            acc[f * P + q] = _mm512_fmadd_ps(wv[f], xv, acc[f * P + q]);
                    }
                }
            }
        }
    }
    const kn_epilogue *act = c->act;
#pragma GCC unroll 4
    for (int f = 0; f < F; f++) {
        float *y = a->y + f * c->ys_blk;
        const float *r = a->res ? a->res + f * c->ys_blk : NULL;
#pragma GCC unroll 32
        for (int q = 0; q < P; q++) {
            __m512 v = acc[f * P + q];
            if (r)
                v = _mm512_add_ps(v, _mm512_loadu_ps(r + q * 16));
            if (act)
                v = act_vec(act, v, act->act);
            _mm512_storeu_ps(y + q * 16, v);
        }
    }
}

typedef void (*tile_fn)(const tile_args *a, int64_t xo);

#define TILE_DEF(LC, F, P)                                                                              \
    __attribute__((noinline)) static void tile_##LC##_##F##_##P(const tile_args *a, int64_t xo)        \
    {                                                                                                   \
        tile(a, xo, LC, F, P);                                                                          \
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

#define TILE_PTRS(LC, F)                                                                                \
    {                                                                                                   \
        tile_##LC##_##F##_1, tile_##LC##_##F##_2, tile_##LC##_##F##_3, tile_##LC##_##F##_4,             \
            tile_##LC##_##F##_5, tile_##LC##_##F##_6, tile_##LC##_##F##_7, tile_##LC##_##F##_8          \
    }

/* [LC == 1][F - 1][P - 1] */
static const tile_fn tiles[2][4][8] = {
    {TILE_PTRS(16, 1), TILE_PTRS(16, 2), TILE_PTRS(16, 3), TILE_PTRS(16, 4)},
    {TILE_PTRS(1, 1), TILE_PTRS(1, 2), TILE_PTRS(1, 3), TILE_PTRS(1, 4)},
};

/* Widest tile per F: F * P accumulators plus F weights in 32 registers. */
static const int tile_pmax[4] = {8, 8, 8, 6};

void kn_nchwc_conv_row_avx512(const kn_nchwc_conv_ctx *c, int64_t n, int64_t g, int64_t oh, int64_t ow0,
                              int64_t ow1)
{
    const kn_nchwc_conv *p = c->p;
    const int F = (int)kn_nchwc_group_blocks(c, g), pmax = tile_pmax[F - 1];
    const tile_fn *fns = tiles[c->Lc == 1][F - 1];
    const int64_t ih0 = oh * c->SH - c->PT;
    tile_args a = {.c = c, .x = c->x + n * c->xs_img, .w = p->w + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK * c->KK,
                   .bias = p->bias + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK};
    kn_nchwc_tap_range(ih0, c->DH, p->KH, c->H, &a.kh_lo, &a.kh_hi);
    const int64_t y0 = n * c->ys_img + g * KN_NCHWC_GROUP * c->ys_blk + oh * c->OW * KN_NCHWC_BLOCK;
    const int64_t xrow = ih0 * c->xs_row;
    const int64_t ia = KN_MAX(ow0, KN_MIN(ow1, c->ow_a)), ib = KN_MAX(ia, KN_MIN(ow1, c->ow_b));
    for (int64_t ow = ow0; ow < ow1;) {
        const int64_t iw0 = ow * c->SW - c->PL;
        a.y = c->y + y0 + ow * KN_NCHWC_BLOCK;
        a.res = c->res ? c->res + y0 + ow * KN_NCHWC_BLOCK : NULL;
        int64_t np;
        if (ow >= ia && ow < ib) {
            np = KN_MIN(ib - ow, (int64_t)pmax);
            a.kw_lo = 0, a.kw_hi = p->KW;
        } else {
            np = 1;
            kn_nchwc_tap_range(iw0, c->DW, p->KW, c->W, &a.kw_lo, &a.kw_hi);
        }
        fns[np - 1](&a, xrow + iw0 * c->xs_pix);
        ow += np;
    }
}
