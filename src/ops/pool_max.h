/* Vectorized float32 2-D MaxPool (dilation 1, strides 1 or 2, no Indices)
 * compiled per ISA from pool_max_impl.h; pool.c chooses it. */
#ifndef KN_POOL_MAX_H
#define KN_POOL_MAX_H

#include "ops/op.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct kn_maxpool2d {
    const float *x;
    float *y;
    int64_t H, W, OH, OW, KH, KW, SH, SW, PT, PL;
} kn_maxpool2d;

/* Whether the row buffers of the kernels hold this geometry. */
bool kn_maxpool2d_fits(const kn_maxpool2d *m);
/* kn_parallel_fn over the N * C planes. */
void kn_maxpool2d_plane_generic(void *arg, size_t plane);
void kn_maxpool2d_plane_avx2(void *arg, size_t plane);
void kn_maxpool2d_plane_avx512(void *arg, size_t plane);

#endif
