/* Fast 2-D convolution on the packed GEMM (sgemm.h): weights packed once per
 * group, input read through implicit im2col (or directly for 1x1 stride-1
 * unpadded convs), bias / residual / activation applied in the GEMM
 * epilogue while the tile is in cache. */
#ifndef KN_CONV_FAST_H
#define KN_CONV_FAST_H

#include "ops/sgemm.h"

/* Per-call geometry: strides, dilations, top/left padding (bottom/right
 * follow from the output size). */
typedef struct kn_conv2d_geom {
    int64_t SH, SW, DH, DW, PT, PL;
} kn_conv2d_geom;

/* Weights packed once per model: depend only on the weight tensor. */
typedef struct kn_conv2d_packed {
    int64_t C, M, group, KH, KW;
    kn_isa_level isa;
    kn_packed_a *w; /* one per group */
    float *bias;    /* [M] or NULL (owned copy) */
} kn_conv2d_packed;

/* Pack weights [M, C/group, KH, KW] (and copy bias [M], may be NULL). */
kiln_status kn_conv2d_pack(int64_t M, int64_t C, int64_t group, int64_t KH, int64_t KW, const float *weights,
                           const float *bias, kn_isa_level isa, kn_conv2d_packed **out);
void kn_conv2d_packed_free(kn_conv2d_packed *p);

/* Scratch bytes for one call on an input of H x W giving OH x OW. */
size_t kn_conv2d_scratch(const kn_conv2d_packed *p, int64_t OH, int64_t OW, size_t threads);

/* y[N, M, OH, OW] = conv(x[N, C, H, W]) + bias (+ residual[N, M, OH, OW]),
 * then the activation of ep (ep may be NULL; its bias/residual fields are
 * ignored: pass residual here). */
void kn_conv2d_run(const kn_conv2d_packed *p, const kn_conv2d_geom *g, int64_t N, int64_t H, int64_t W,
                   int64_t OH, int64_t OW,
                   const float *x, float *y, const float *residual, const kn_epilogue *act, void *scratch,
                   size_t scratch_bytes, pthreadpool_t pool);

/* The activation of a kiln.FusedConv (or kiln.NchwcConv) node from the
 * attributes the fuse-epilogue pass set: activation, activation_alpha,
 * activation_beta. */
kiln_status kn_conv_parse_activation(const kn_node *n, kn_epilogue *ep);

/* Depthwise 2-D convolution (group == C == M): one KHxKW filter per
 * channel, computed directly (a GEMM with one row per group would waste
 * the micro-kernel). w [C, 1, KH, KW], bias [C] or NULL, residual like y or
 * NULL, act may be NULL. Parallel over (image, channel) planes. */
void kn_depthwise2d_run(int64_t N, int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, const kn_conv2d_geom *g,
                        int64_t OH, int64_t OW, const float *x, const float *w, const float *bias, float *y,
                        const float *residual, const kn_epilogue *act, kn_isa_level isa, pthreadpool_t pool);

#endif
