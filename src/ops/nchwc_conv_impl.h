/* Private to nchwc_conv.c and its kernels (nchwc_conv_avx512.c,
 * nchwc_conv_avx2.c): the packed weight layout and the per-call context
 * they share.
 *
 * Weights: output blocks are taken in groups of up to KN_NCHWC_GROUP (the
 * last group may be smaller, nfg blocks). Within a group the layout is
 * [CBn][KH][KW][Lc][nfg][16]: for each input step (block cb and lane ic, or
 * plain channel c for nchw_input, where CBn = C and Lc = 1) the nfg weight
 * vectors the micro-kernel loads together are adjacent, and the whole group
 * is read sequentially. Group g starts at g * KN_NCHWC_GROUP * 16 * KK
 * floats, KK = CBn * KH * KW * Lc. */
#ifndef KN_NCHWC_CONV_IMPL_H
#define KN_NCHWC_CONV_IMPL_H

#include "ops/nchwc.h"

#define KN_NCHWC_GROUP 4

typedef struct kn_nchwc_conv_ctx {
    const kn_nchwc_conv *p;
    int64_t H, W, OH, OW;
    int64_t SH, SW, DH, DW, PT, PL;
    int64_t CBn, Lc, MB, G, KK;
    int64_t xs_img, xs_cb, xs_row, xs_pix; /* x strides in floats */
    int64_t ys_img, ys_blk;                /* y (and residual) strides */
    /* output rows [oh_a, oh_b) have every kh tap inside the input, columns
     * [ow_a, ow_b) every kw tap */
    int64_t oh_a, oh_b, ow_a, ow_b;
    bool pointwise; /* 1x1 kernel, blocked input, every pixel inside the input */
    /* a task computes chunk consecutive pixels (row-major) of one plane */
    int64_t chunk, nchunks;
    bool chunk_outer; /* task order (image, chunk, group), see conv_task_run */
    const float *x;
    float *y;
    const float *res;
    const kn_epilogue *act; /* NULL: none */
} kn_nchwc_conv_ctx;

static inline int64_t kn_nchwc_group_blocks(const kn_nchwc_conv_ctx *c, int64_t g)
{
    int64_t r = c->MB - g * KN_NCHWC_GROUP;
    return r < KN_NCHWC_GROUP ? r : KN_NCHWC_GROUP;
}

/* Output pixels [s, e) (row-major over OH x OW) of image n, output blocks
 * of group g. */
void kn_nchwc_conv_range_avx512(const kn_nchwc_conv_ctx *c, int64_t n, int64_t g, int64_t s, int64_t e);
void kn_nchwc_conv_range_avx2(const kn_nchwc_conv_ctx *c, int64_t n, int64_t g, int64_t s, int64_t e);

/* Pixels per task: about this many, in whole tiles of every width the
 * kernels use (6 and 8: multiples of 24), or the whole plane if small. */
#define KN_NCHWC_CHUNK 96

/* Weights of all groups at most this many bytes: every group runs per pixel
 * chunk (half of a 1 MiB L2; the rest holds the chunk's input rows and
 * output). */
#define KN_NCHWC_L2_WEIGHTS (512.0 * 1024.0)

#endif
