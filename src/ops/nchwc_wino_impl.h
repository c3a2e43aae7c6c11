/* Private to nchwc_wino.c / nchwc_wino_avx512.c: the state of one run.
 *
 * The tiles of all images are numbered together (image, tile row, tile
 * column) and run in spans of consecutive tiles. A span's transformed
 * input is V [16][CB][T][16] and its products Mo [16][MB][T][16] (xi =
 * 4 * row + column of the 4x4 transform, T the span's tiles): V_xi is then
 * a blocked [1, C, 1, T] tensor and Mo_xi the output of the 1x1 conv U_xi
 * over it (xi's a little further apart than that, see vs). */
#ifndef KN_NCHWC_WINO_IMPL_H
#define KN_NCHWC_WINO_IMPL_H

#include "ops/nchwc.h"

typedef struct kn_nchwc_wino_ctx {
    const kn_nchwc_wino *p;
    int64_t H, W, OH, OW, PT, PL;
    int64_t TH, TW, CB, MB; /* tiles per column and row, blocks */
    int64_t t0, T;          /* the span: first tile, tiles */
    /* floats between V_xi and V_xi+1, Mo_xi and Mo_xi+1: a line more than
     * the data, so the transforms' 16 streams do not all map to the same
     * L1 set (T * 64 bytes is often a multiple of 4 KiB) */
    int64_t vs, ms;
    const float *x;
    float *y;
    int64_t ys_img; /* floats between y's images */
    const float *res;
    const kn_epilogue *act; /* NULL: none */
    float *V, *Mo;
} kn_nchwc_wino_ctx;

/* Row k of B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] as z[p] + z[q]
 * (s > 0) or z[p] - z[q]: the one-xi input transform below computes its
 * value with exactly the operations of the whole one. */
static const int kn_wino_bt[4][3] = {{0, 2, -1}, {1, 2, 1}, {2, 1, -1}, {1, 3, -1}};

/* Input transform of block cb, the span's tiles. */
void kn_nchwc_wino_in_avx512(const kn_nchwc_wino_ctx *c, int64_t cb);
/* Only V_xi, every block (the same values as kn_nchwc_wino_in_avx512). */
void kn_nchwc_wino_in_xi_avx512(const kn_nchwc_wino_ctx *c, int xi);
/* Output transform of block mb plus bias, residual and activation. */
void kn_nchwc_wino_out_avx512(const kn_nchwc_wino_ctx *c, int64_t mb);

#endif
