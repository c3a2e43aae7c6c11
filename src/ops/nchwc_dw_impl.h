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

/* Output columns whose taps all lie inside the input row: [*lo, *hi). */
static inline void kn_nchwc_dw_interior(const kn_nchwc_dw_ctx *d, int64_t *lo, int64_t *hi)
{
    const kn_conv2d_geom *g = &d->g;
    int64_t l = g->PL > 0 ? (g->PL + g->SW - 1) / g->SW : 0;
    int64_t last = d->W - 1 + g->PL - (d->p->KW - 1) * g->DW; /* ow * SW must not pass it */
    int64_t h = last < 0 ? 0 : last / g->SW + 1;
    h = KN_MIN(h, d->OW);
    l = KN_MIN(l, h);
    *lo = l;
    *hi = h;
}

/* Kernel rows [*k0, *k1) whose input row ih0 + kh * DH lies inside the input. */
static inline void kn_nchwc_dw_krows(const kn_nchwc_dw_ctx *d, int64_t ih0, int64_t *k0, int64_t *k1)
{
    const int64_t DH = d->g.DH;
    int64_t a = ih0 >= 0 ? 0 : (-ih0 + DH - 1) / DH;
    int64_t b = d->H - 1 - ih0 < 0 ? 0 : KN_MIN(d->p->KH, (d->H - 1 - ih0) / DH + 1);
    *k0 = a;
    *k1 = KN_MAX(a, b);
}

void kn_nchwc_dw_task_generic(void *ctx, size_t task);
void kn_nchwc_dw_task_avx512(void *ctx, size_t task);

#endif
