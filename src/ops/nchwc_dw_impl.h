/* What nchwc_dw.c shares with its per-ISA kernels: one task is a chunk of
 * output rows of one (image, channel block) plane. */
#ifndef KN_NCHWC_DW_IMPL_H
#define KN_NCHWC_DW_IMPL_H

#include "ops/nchwc.h"

typedef struct kn_nchwc_dw_ctx {
    const kn_nchwc_dw *p;
    kn_conv2d_geom g;
    int64_t H, W, OH, OW, CB;
    int64_t rows;   /* output rows per task */
    int64_t chunks; /* tasks per plane: ceil(OH / rows) */
    const float *x, *residual;
    float *y;
    const kn_epilogue *act; /* NULL for none */
} kn_nchwc_dw_ctx;

void kn_nchwc_dw_task_generic(void *ctx, size_t task);
void kn_nchwc_dw_task_avx512(void *ctx, size_t task);
void kn_nchwc_dw_task_avx2(void *ctx, size_t task);

#endif
