/* Fast 2-D convolution on the packed GEMM (sgemm.h): weights packed once per
 * group, input read through implicit im2col (or directly for 1x1 stride-1
 * unpadded convs), bias / residual / activation applied in the GEMM
 * epilogue while the tile is in cache. */
#ifndef KN_CONV_FAST_H
#define KN_CONV_FAST_H

#include "ops/sgemm.h"

typedef struct kn_conv2d_geom {
    int64_t C, M, group;   /* input channels, output channels, groups */
    int64_t KH, KW, SH, SW, DH, DW;
    int64_t PT, PL;        /* top / left padding (bottom/right follow from the output size) */
} kn_conv2d_geom;

typedef struct kn_conv2d_packed {
    kn_conv2d_geom geom;
    kn_isa_level isa;
    kn_packed_a *w; /* one per group */
    float *bias;    /* [M] or NULL (owned copy) */
} kn_conv2d_packed;

/* Pack weights [M, C/group, KH, KW] (and copy bias [M], may be NULL). */
kiln_status kn_conv2d_pack(const kn_conv2d_geom *g, const float *weights, const float *bias, kn_isa_level isa,
                           kn_conv2d_packed **out);
void kn_conv2d_packed_free(kn_conv2d_packed *p);

/* Scratch bytes for one call on an input of H x W giving OH x OW. */
size_t kn_conv2d_scratch(const kn_conv2d_packed *p, int64_t OH, int64_t OW);

/* y[N, M, OH, OW] = conv(x[N, C, H, W]) + bias (+ residual[N, M, OH, OW]),
 * then the activation of ep (ep may be NULL; its bias/residual fields are
 * ignored: pass residual here). */
void kn_conv2d_run(const kn_conv2d_packed *p, int64_t N, int64_t H, int64_t W, int64_t OH, int64_t OW,
                   const float *x, float *y, const float *residual, const kn_epilogue *act, void *scratch,
                   pthreadpool_t pool);

#endif
