/* The vector depthwise plane kernel, written once over a few macros and
 * compiled per ISA by conv_dw_avx2.c / conv_dw_avx512.c, which define:
 *
 *   KN_DW_V, KN_DW_VW          vector type and its float count
 *   KN_DW_LOAD / STORE / SET1 / FMA(a, b, c) = a * b + c / ADD / MIN / MAX
 *   KN_DW_MASK, KN_DW_TAIL(n)  a mask of the first n lanes (0 < n < VW)
 *   KN_DW_LOAD_M / STORE_M     masked load (other lanes 0) and store
 *   KN_DW_DEINTERLEAVE(p, e, o) even / odd floats of p[0 .. 2 VW)
 *   KN_DW_ACT                  the ISA's kn_act_apply_* for other activations
 *
 * Each block of input rows a block of output rows needs is first copied
 * into a zero-padded buffer on the stack, split by column phase for strided
 * convolutions (phase p, slot j holds padded column j * SW + p), so every
 * tap of every output vector is one contiguous unaligned load: no padding
 * tests and no gathers in the inner loop. Each output vector keeps its
 * accumulator in a register over all taps (bias first), and residual and
 * ReLU / Clip are applied before the one store; other activations run on
 * the finished rows while they are in L1. Shapes whose rows do not fit the
 * buffer use the portable kernel. */
#ifndef KN_CONV_DW_SIMD_H
#define KN_CONV_DW_SIMD_H

#include "ops/conv_dw_impl.h"

#include <string.h>

/* 32 KiB: a block of padded rows stays in L1 next to the output rows. */
#define KN_DW_BUF_FLOATS 8192
#define KN_DW_MAX_TAPS 64
/* Output vectors computed together: enough independent FMA chains to hide
 * the FMA latency, few enough registers for AVX2. */
#define KN_DW_NB 4

static inline float dw_at(const float *xr, int64_t W, int64_t c)
{
    return c >= 0 && c < W ? xr[c] : 0.0f;
}

/* Padded row r (input row r - PT) into dst: SW phases of Wq floats. */
static void dw_fill_row(const kn_dw_ctx *d, const float *xp, int64_t r, float *dst, int64_t Wq)
{
    const int64_t S = d->g.SW, PL = d->g.PL, W = d->W, ih = r - d->g.PT;
    if (ih < 0 || ih >= d->H) {
        memset(dst, 0, (size_t)(S * Wq) * sizeof(float));
        return;
    }
    const float *xr = xp + ih * W;
    if (S == 1) {
        /* dst[j] = x[j - PL]: zeros, a copy, zeros */
        int64_t lo = KN_MIN(PL, Wq), n = KN_MAX((int64_t)0, KN_MIN(W, Wq - PL));
        memset(dst, 0, (size_t)lo * sizeof(float));
        if (n > 0)
            memcpy(dst + PL, xr, (size_t)n * sizeof(float));
        int64_t done = lo + n;
        memset(dst + done, 0, (size_t)(Wq - done) * sizeof(float));
        return;
    }
    if (S == 2) {
        /* even[j] = x[2j - PL], odd[j] = x[2j + 1 - PL] */
        float *ev = dst, *od = dst + Wq;
        int64_t j = 0;
        for (; j < Wq && 2 * j - PL < 0; j++) {
            ev[j] = dw_at(xr, W, 2 * j - PL);
            od[j] = dw_at(xr, W, 2 * j + 1 - PL);
        }
        for (; j + KN_DW_VW <= Wq && 2 * j - PL + 2 * KN_DW_VW <= W; j += KN_DW_VW) {
            KN_DW_V e, o;
            KN_DW_DEINTERLEAVE(xr + 2 * j - PL, e, o);
            KN_DW_STORE(ev + j, e);
            KN_DW_STORE(od + j, o);
        }
        for (; j < Wq; j++) {
            ev[j] = dw_at(xr, W, 2 * j - PL);
            od[j] = dw_at(xr, W, 2 * j + 1 - PL);
        }
        return;
    }
    for (int64_t p = 0; p < S; p++)
        for (int64_t j = 0; j < Wq; j++)
            dst[p * Wq + j] = dw_at(xr, W, j * S + p - PL);
}

typedef struct dw_row_args {
    const float *rb;  /* buffer row of the output row's first tap row */
    const int32_t *off;
    const float *w;
    float bias;
    const float *res; /* residual row or NULL */
    float *y;
    int64_t OW;
    int clip;         /* 1: min(max(v, lo), hi) before the store */
    float lo, hi;
} dw_row_args;

static inline __attribute__((always_inline)) KN_DW_V dw_post(const dw_row_args *a, KN_DW_V v, int64_t ow)
{
    if (a->res)
        v = KN_DW_ADD(v, KN_DW_LOAD(a->res + ow));
    if (a->clip)
        v = KN_DW_MIN(KN_DW_MAX(v, KN_DW_SET1(a->lo)), KN_DW_SET1(a->hi));
    return v;
}

/* One output row over T taps; T constant in the specialized copies so the
 * tap loop unrolls. */
static inline __attribute__((always_inline)) void dw_row(const dw_row_args *a, int T)
{
    const float *rb = a->rb;
    const int64_t OW = a->OW;
    int64_t ow = 0;
    for (; ow + KN_DW_NB * KN_DW_VW <= OW; ow += KN_DW_NB * KN_DW_VW) {
        KN_DW_V acc[KN_DW_NB];
        for (int b = 0; b < KN_DW_NB; b++)
            acc[b] = KN_DW_SET1(a->bias);
        for (int k = 0; k < T; k++) {
            KN_DW_V wv = KN_DW_SET1(a->w[k]);
            const float *p = rb + a->off[k] + ow;
            for (int b = 0; b < KN_DW_NB; b++)
                acc[b] = KN_DW_FMA(KN_DW_LOAD(p + b * KN_DW_VW), wv, acc[b]);
        }
        for (int b = 0; b < KN_DW_NB; b++)
            KN_DW_STORE(a->y + ow + b * KN_DW_VW, dw_post(a, acc[b], ow + b * KN_DW_VW));
    }
    for (; ow + KN_DW_VW <= OW; ow += KN_DW_VW) {
        KN_DW_V acc = KN_DW_SET1(a->bias);
        for (int k = 0; k < T; k++)
            acc = KN_DW_FMA(KN_DW_LOAD(rb + a->off[k] + ow), KN_DW_SET1(a->w[k]), acc);
        KN_DW_STORE(a->y + ow, dw_post(a, acc, ow));
    }
    if (ow < OW) {
        /* the buffer has slack for a whole vector; only the store (and the
         * residual read) must stop at OW */
        KN_DW_MASK m = KN_DW_TAIL(OW - ow);
        KN_DW_V acc = KN_DW_SET1(a->bias);
        for (int k = 0; k < T; k++)
            acc = KN_DW_FMA(KN_DW_LOAD(rb + a->off[k] + ow), KN_DW_SET1(a->w[k]), acc);
        if (a->res)
            acc = KN_DW_ADD(acc, KN_DW_LOAD_M(a->res + ow, m));
        if (a->clip)
            acc = KN_DW_MIN(KN_DW_MAX(acc, KN_DW_SET1(a->lo)), KN_DW_SET1(a->hi));
        KN_DW_STORE_M(a->y + ow, acc, m);
    }
}

static void dw_row_9(const dw_row_args *a)
{
    dw_row(a, 9);
}

static void dw_row_25(const dw_row_args *a)
{
    dw_row(a, 25);
}

static void dw_row_any(const dw_row_args *a, int T)
{
    dw_row(a, T);
}

#define KN_DW_SIMD_DEFINE(linkage, name)                                                               \
    linkage void name(void *arg, size_t plane)                                                         \
    {                                                                                                  \
        const kn_dw_ctx *d = arg;                                                                      \
        const kn_conv2d_geom *g = &d->g;                                                               \
        const int64_t S = g->SW, T = d->KH * d->KW;                                                    \
        const int64_t owv = (d->OW + KN_DW_VW - 1) / KN_DW_VW * KN_DW_VW;                              \
        const int64_t Wq = owv + (d->KW - 1) * g->DW / S; /* slots the rounded-up row reads */      \
        const int64_t rowf = S * Wq, span = (d->KH - 1) * g->DH + 1;                                   \
        if (T > KN_DW_MAX_TAPS || span > KN_DW_BUF_FLOATS || rowf * span > KN_DW_BUF_FLOATS) {         \
            kn_dw_plane_generic(arg, plane);                                                           \
            return;                                                                                    \
        }                                                                                              \
        _Alignas(64) float buf[KN_DW_BUF_FLOATS];                                                      \
        int32_t off[KN_DW_MAX_TAPS];                                                                   \
        int64_t c = (int64_t)plane % d->C;                                                             \
        const float *xp = d->x + (int64_t)plane * d->H * d->W;                                         \
        const float *wp = d->w + c * T;                                                                \
        float *yp = d->y + (int64_t)plane * d->OH * d->OW;                                             \
        const float *rp = d->residual ? d->residual + (int64_t)plane * d->OH * d->OW : NULL;           \
        for (int64_t kh = 0; kh < d->KH; kh++)                                                         \
            for (int64_t kw = 0; kw < d->KW; kw++) {                                                   \
                int64_t col = kw * g->DW;                                                              \
                off[kh * d->KW + kw] = (int32_t)(kh * g->DH * rowf + (col % S) * Wq + col / S);        \
            }                                                                                          \
        dw_row_args a = {.off = off, .w = wp, .bias = d->bias ? d->bias[c] : 0.0f, .OW = d->OW};    \
        if (d->act && (d->act->act == KN_ACT_RELU || d->act->act == KN_ACT_CLIP)) {                    \
            a.clip = 1;                                                                                \
            a.lo = d->act->act == KN_ACT_RELU ? 0.0f : d->act->alpha;                                  \
            a.hi = d->act->act == KN_ACT_RELU ? __builtin_inff() : d->act->beta;                       \
        }                                                                                              \
        /* output rows per block: their input rows fill the buffer */                                \
        const int64_t R = (KN_DW_BUF_FLOATS / rowf - span) / g->SH + 1;                                \
        for (int64_t oh0 = 0; oh0 < d->OH; oh0 += R) {                                                 \
            int64_t nr = KN_MIN(R, d->OH - oh0), rows = (nr - 1) * g->SH + span;                        \
            for (int64_t i = 0; i < rows; i++)                                                         \
                dw_fill_row(d, xp, oh0 * g->SH + i, buf + i * rowf, Wq);                               \
            for (int64_t i = 0; i < nr; i++) {                                                         \
                int64_t oh = oh0 + i;                                                                  \
                a.rb = buf + i * g->SH * rowf;                                                         \
                a.y = yp + oh * d->OW;                                                                 \
                a.res = rp ? rp + oh * d->OW : NULL;                                                   \
                if (T == 9)                                                                            \
                    dw_row_9(&a);                                                                      \
                else if (T == 25)                                                                      \
                    dw_row_25(&a);                                                                     \
                else                                                                                   \
                    dw_row_any(&a, (int)T);                                                            \
            }                                                                                          \
            if (d->act && !a.clip)                                                                     \
                KN_DW_ACT(d->act, yp + oh0 * d->OW, nr * d->OW);                                       \
        }                                                                                              \
    }

#endif
