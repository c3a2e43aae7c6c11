/* The depthwise plane context and the portable plane kernel (instantiated
 * by conv_fast.c as kn_dw_plane_generic). The AVX2 / AVX-512 kernels are
 * the vector ones of conv_dw_simd.h; they fall back to this one for rows
 * too wide for their buffer. */
#ifndef KN_CONV_DW_IMPL_H
#define KN_CONV_DW_IMPL_H

#include "ops/conv_fast.h"

typedef struct kn_dw_ctx {
    int64_t C, H, W, KH, KW, OH, OW;
    kn_conv2d_geom g;
    const float *x, *w, *bias, *residual;
    float *y;
    const kn_epilogue *act;
} kn_dw_ctx;

void kn_dw_plane_generic(void *arg, size_t plane);
void kn_dw_plane_avx2(void *arg, size_t plane);
void kn_dw_plane_avx512(void *arg, size_t plane);

/* One output plane. Rows are accumulated tap by tap so the inner loop runs
 * over contiguous output columns (vectorizable for stride 1); the columns
 * whose taps fall in the padding are clipped per tap instead of tested per
 * element. */
#define KN_DW_DEFINE(suffix)                                                                 \
    void kn_dw_plane_##suffix(void *arg, size_t plane)                                      \
    {                                                                                        \
        const kn_dw_ctx *d = arg;                                                            \
        int64_t c = (int64_t)plane % d->C;                                                   \
        const float *xp = d->x + (int64_t)plane * d->H * d->W;                               \
        const float *wp = d->w + c * d->KH * d->KW;                                          \
        float *yp = d->y + (int64_t)plane * d->OH * d->OW;                                   \
        float b = d->bias ? d->bias[c] : 0.0f;                                               \
        const kn_conv2d_geom *g = &d->g;                                                     \
        for (int64_t oh = 0; oh < d->OH; oh++) {                                             \
            float *restrict yr = yp + oh * d->OW;                                            \
            for (int64_t ow = 0; ow < d->OW; ow++)                                           \
                yr[ow] = b;                                                                  \
            for (int64_t kh = 0; kh < d->KH; kh++) {                                         \
                int64_t ih = oh * g->SH - g->PT + kh * g->DH;                                \
                if (ih < 0 || ih >= d->H)                                                    \
                    continue;                                                                \
                const float *restrict xr = xp + ih * d->W;                                   \
                for (int64_t kw = 0; kw < d->KW; kw++) {                                     \
                    float wv = wp[kh * d->KW + kw];                                          \
                    int64_t off = kw * g->DW - g->PL;                                        \
                    int64_t lo = off >= 0 ? 0 : (-off + g->SW - 1) / g->SW;                  \
                    int64_t hi = d->W - off <= 0 ? 0 : (d->W - off + g->SW - 1) / g->SW;     \
                    if (hi > d->OW)                                                          \
                        hi = d->OW;                                                          \
                    if (g->SW == 1) {                                                        \
                        const float *restrict xs = xr + off;                                 \
                        for (int64_t ow = lo; ow < hi; ow++)                                 \
                            yr[ow] += wv * xs[ow];                                           \
                    } else {                                                                 \
                        for (int64_t ow = lo; ow < hi; ow++)                                 \
                            yr[ow] += wv * xr[ow * g->SW + off];                             \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
            if (d->residual) {                                                               \
                const float *rr = d->residual + (int64_t)plane * d->OH * d->OW + oh * d->OW; \
                for (int64_t ow = 0; ow < d->OW; ow++)                                       \
                    yr[ow] += rr[ow];                                                        \
            }                                                                                \
            if (d->act)                                                                      \
                kn_act_apply(d->act, yr, d->OW);                                             \
        }                                                                                    \
    }

#endif
