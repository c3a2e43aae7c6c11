/* The vector depthwise plane kernel, written once over a few macros and
 * compiled per ISA by conv_dw_avx2.c / conv_dw_avx512.c, which define:
 *
 *   KN_DW_V, KN_DW_VW          vector type and its float count
 *   KN_DW_LOAD / STORE / SET1 / FMA(a, b, c) = a * b + c / ADD / MIN / MAX
 *   KN_DW_MASK, KN_DW_TAIL(n)  a mask of the first n lanes (0 < n < VW)
 *   KN_DW_LOAD_M / STORE_M     masked load (other lanes 0) and store
 *   KN_DW_DEINTERLEAVE(p, e, o) even / odd floats of p[0 .. 2 VW)
 *   KN_DW_DEINTERLEAVE_M(p, n, e, o) the same of p[0 .. n), zeros after
 *   KN_DW_ACT                  the ISA's kn_act_apply_* for other activations
 *
 * Each block of input rows a block of output rows needs is first copied
 * into a zero-padded buffer on the stack, split by column phase for strided
 * convolutions (phase p, slot j holds padded column j * SW + p), so every
 * tap of every output vector is one contiguous unaligned load: no padding
 * tests and no gathers in the inner loop. Each output vector keeps its
 * accumulator in a register over all taps (bias first), and residual and
 * ReLU / Clip are applied before the one store; other activations run on
 * the finished rows while they are in L1. Four independent accumulators
 * per pass (four vectors of a row, or one vector of four rows for the
 * columns past the last whole 4-vector block) keep the FMA units busy.
 * Shapes whose rows do not fit the buffer use the portable kernel. */
#ifndef KN_CONV_DW_SIMD_H
#define KN_CONV_DW_SIMD_H

#include "ops/conv_dw_impl.h"

/* 32 KiB: a block of padded rows stays in L1 next to the output rows. */
#define KN_DW_BUF_FLOATS 8192
/* Past the buffer, for whole-vector zero stores that run over a row's end. */
#define KN_DW_SLACK 64
#define KN_DW_MAX_TAPS 64
/* -O2 does not unroll the tap loops; unrolled, the weights and offsets of
 * the specialized 3x3 and 5x5 copies become immediates and loads. */
#define KN_DW_UNROLL _Pragma("GCC unroll 32")

static inline float dw_at(const float *xr, int64_t W, int64_t c)
{
    return c >= 0 && c < W ? xr[c] : 0.0f;
}

/* Zeros over [dst, dst + n) rounded up to whole vectors: the buffer has
 * KN_DW_SLACK floats past its end, and rows are filled in increasing
 * order, so the excess only touches what is written next. Pads are at most
 * a vector or two wide: one store before any loop (which GCC would turn
 * into a memset call). */
static inline void dw_zero_up(float *dst, int64_t n)
{
    if (n <= 0)
        return;
    KN_DW_STORE(dst, KN_DW_SET1(0.0f));
    for (int64_t j = KN_DW_VW; j < n; j += KN_DW_VW)
        KN_DW_STORE(dst + j, KN_DW_SET1(0.0f));
}

/* The input rows [r0, r0 + rows) of padded coordinates (input row r - PT)
 * into buf, rowf floats apart: SW phases of Wq floats each, phase p slot j
 * holding padded column j * SW + p. One call per block of rows. */
__attribute__((noinline)) static void dw_fill_rows(const kn_dw_ctx *d, const float *xp, int64_t r0, int64_t rows,
                                                   float *buf, int64_t Wq)
{
    const int64_t S = d->g.SW, PL = d->g.PL, W = d->W, rowf = S * Wq;
    if (S == 1) {
        /* per row: zeros over the left pad, the row (its last vector
         * masked on the load side only: the input may end there), zeros
         * from the row's end to Wq, each store free to run past what it
         * covers into the parts written after it */
        const int64_t n = KN_MAX(KN_MIN(W, Wq - PL), (int64_t)0), nf = n / KN_DW_VW * KN_DW_VW, done = PL + n;
        const KN_DW_MASK m = KN_DW_TAIL(n > nf ? n - nf : 1);
        for (int64_t i = 0; i < rows; i++) {
            float *dst = buf + i * rowf;
            const int64_t ih = r0 + i - d->g.PT;
            if (ih < 0 || ih >= d->H) {
                dw_zero_up(dst, Wq);
                continue;
            }
            const float *xr = xp + ih * W;
            dw_zero_up(dst, PL);
            for (int64_t j = 0; j < nf; j += KN_DW_VW)
                KN_DW_STORE(dst + PL + j, KN_DW_LOAD(xr + j));
            if (nf < n)
                KN_DW_STORE(dst + PL + nf, KN_DW_LOAD_M(xr + nf, m));
            dw_zero_up(dst + done, Wq - done);
        }
        return;
    }
    for (int64_t i = 0; i < rows; i++) {
        float *dst = buf + i * rowf;
        const int64_t ih = r0 + i - d->g.PT;
        if (ih < 0 || ih >= d->H) {
            dw_zero_up(dst, rowf);
            continue;
        }
        const float *xr = xp + ih * W;
        if (S == 2) {
            /* even[j] = x[2j - PL], odd[j] = x[2j + 1 - PL] */
            float *ev = dst, *od = dst + Wq;
            int64_t j = 0;
            for (; j < Wq && 2 * j - PL < 0; j++) {
                ev[j] = dw_at(xr, W, 2 * j - PL);
                od[j] = dw_at(xr, W, 2 * j + 1 - PL);
            }
            /* the right edge through masked loads (missing columns read
             * as the zero padding); the phases end with masked stores, as
             * the odd phase follows the even one */
            for (; j < Wq; j += KN_DW_VW) {
                int64_t base = 2 * j - PL, n = KN_MIN(KN_MAX(W - base, (int64_t)0), 2 * KN_DW_VW);
                KN_DW_V e = KN_DW_SET1(0.0f), o = e;
                if (n == 2 * KN_DW_VW)
                    KN_DW_DEINTERLEAVE(xr + base, e, o);
                else if (n > 0)
                    KN_DW_DEINTERLEAVE_M(xr + base, n, e, o);
                if (Wq - j >= KN_DW_VW) {
                    KN_DW_STORE(ev + j, e);
                    KN_DW_STORE(od + j, o);
                } else {
                    KN_DW_MASK m = KN_DW_TAIL(Wq - j);
                    KN_DW_STORE_M(ev + j, e, m);
                    KN_DW_STORE_M(od + j, o, m);
                }
            }
            continue;
        }
        for (int64_t p = 0; p < S; p++)
            for (int64_t j = 0; j < Wq; j++)
                dst[p * Wq + j] = dw_at(xr, W, j * S + p - PL);
    }
}

typedef struct dw_row_args {
    const float *rb;  /* buffer row of the output row's first tap row */
    const int32_t *off;
    const float *w;
    float bias;
    const float *res; /* residual row or NULL */
    float *y;
    int64_t OW;
    int64_t rstep;    /* buffer floats between consecutive output rows' taps */
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

static inline __attribute__((always_inline)) void dw_store_tail(const dw_row_args *a, KN_DW_V v, int64_t ow)
{
    KN_DW_MASK m = KN_DW_TAIL(a->OW - ow);
    if (a->res)
        v = KN_DW_ADD(v, KN_DW_LOAD_M(a->res + ow, m));
    if (a->clip)
        v = KN_DW_MIN(KN_DW_MAX(v, KN_DW_SET1(a->lo)), KN_DW_SET1(a->hi));
    KN_DW_STORE_M(a->y + ow, v, m);
}

/* Columns [0, OW rounded down to 4 vectors) of one output row, four
 * vectors at a time: four independent FMA chains sharing each weight
 * broadcast. Named accumulators: an array indexed in a loop ends up on the
 * stack at -O2. T is a constant in the specialized copies, so the tap loops
 * unroll. */
static inline __attribute__((always_inline)) void dw_row_blocks(const dw_row_args *a, int T)
{
    const float *rb = a->rb;
    const int64_t OW4 = a->OW / (4 * KN_DW_VW) * (4 * KN_DW_VW);
    for (int64_t ow = 0; ow < OW4; ow += 4 * KN_DW_VW) {
        KN_DW_V a0 = KN_DW_SET1(a->bias), a1 = a0, a2 = a0, a3 = a0;
        KN_DW_UNROLL
        for (int k = 0; k < T; k++) {
            KN_DW_V wv = KN_DW_SET1(a->w[k]);
            const float *p = rb + a->off[k] + ow;
            a0 = KN_DW_FMA(KN_DW_LOAD(p), wv, a0);
            a1 = KN_DW_FMA(KN_DW_LOAD(p + KN_DW_VW), wv, a1);
            a2 = KN_DW_FMA(KN_DW_LOAD(p + 2 * KN_DW_VW), wv, a2);
            a3 = KN_DW_FMA(KN_DW_LOAD(p + 3 * KN_DW_VW), wv, a3);
        }
        KN_DW_STORE(a->y + ow, dw_post(a, a0, ow));
        KN_DW_STORE(a->y + ow + KN_DW_VW, dw_post(a, a1, ow + KN_DW_VW));
        KN_DW_STORE(a->y + ow + 2 * KN_DW_VW, dw_post(a, a2, ow + 2 * KN_DW_VW));
        KN_DW_STORE(a->y + ow + 3 * KN_DW_VW, dw_post(a, a3, ow + 3 * KN_DW_VW));
    }
}

/* Columns [ow0, OW) of one row, a vector at a time; even and odd taps in
 * two chains, so the FMA latency is not paid once per tap. */
static inline __attribute__((always_inline)) void dw_row_rest(const dw_row_args *a, int T, int64_t ow0)
{
    for (int64_t ow = ow0; ow < a->OW; ow += KN_DW_VW) {
        KN_DW_V e = KN_DW_SET1(a->bias), o = KN_DW_SET1(0.0f);
        int k = 0;
        KN_DW_UNROLL
        for (; k + 2 <= T; k += 2) {
            e = KN_DW_FMA(KN_DW_LOAD(a->rb + a->off[k] + ow), KN_DW_SET1(a->w[k]), e);
            o = KN_DW_FMA(KN_DW_LOAD(a->rb + a->off[k + 1] + ow), KN_DW_SET1(a->w[k + 1]), o);
        }
        if (k < T)
            e = KN_DW_FMA(KN_DW_LOAD(a->rb + a->off[k] + ow), KN_DW_SET1(a->w[k]), e);
        KN_DW_V v = KN_DW_ADD(e, o);
        if (ow + KN_DW_VW <= a->OW)
            KN_DW_STORE(a->y + ow, dw_post(a, v, ow));
        else
            dw_store_tail(a, v, ow);
    }
}

/* Columns [ow0, OW) of four consecutive output rows (a->rb, a->y, a->res
 * at the first), a vector at a time: the four rows' chains share each
 * weight broadcast. */
static inline __attribute__((always_inline)) void dw_row4(dw_row_args *a, int T, int64_t ow0)
{
    const int64_t OW = a->OW, rs = a->rstep;
    for (int64_t ow = ow0; ow < OW; ow += KN_DW_VW) {
        KN_DW_V a0 = KN_DW_SET1(a->bias), a1 = a0, a2 = a0, a3 = a0;
        KN_DW_UNROLL
        for (int k = 0; k < T; k++) {
            KN_DW_V wv = KN_DW_SET1(a->w[k]);
            const float *p = a->rb + a->off[k] + ow;
            a0 = KN_DW_FMA(KN_DW_LOAD(p), wv, a0);
            a1 = KN_DW_FMA(KN_DW_LOAD(p + rs), wv, a1);
            a2 = KN_DW_FMA(KN_DW_LOAD(p + 2 * rs), wv, a2);
            a3 = KN_DW_FMA(KN_DW_LOAD(p + 3 * rs), wv, a3);
        }
        KN_DW_V acc[4] = {a0, a1, a2, a3};
        float *y = a->y;
        const float *res = a->res;
        KN_DW_UNROLL
        for (int r = 0; r < 4; r++) {
            a->y = y + r * OW;
            a->res = res ? res + r * OW : NULL;
            if (ow + KN_DW_VW <= OW)
                KN_DW_STORE(a->y + ow, dw_post(a, acc[r], ow));
            else
                dw_store_tail(a, acc[r], ow);
        }
        a->y = y;
        a->res = res;
    }
}

/* Output rows [0, nr) of a block. By fours: each row's whole 4-vector
 * blocks, then the remaining columns of the four rows together; the last
 * rows one by one. */
static inline __attribute__((always_inline)) void dw_rows(dw_row_args *a, const float *rb0, float *y0,
                                                          const float *r0, int64_t nr, int T)
{
    const int64_t OW = a->OW, OW4 = OW / (4 * KN_DW_VW) * (4 * KN_DW_VW);
    int64_t i = 0;
    for (; i + 4 <= nr; i += 4) {
        for (int64_t r = i; r < i + 4 && OW4 > 0; r++) {
            a->rb = rb0 + r * a->rstep;
            a->y = y0 + r * OW;
            a->res = r0 ? r0 + r * OW : NULL;
            dw_row_blocks(a, T);
        }
        if (OW4 < OW) {
            a->rb = rb0 + i * a->rstep;
            a->y = y0 + i * OW;
            a->res = r0 ? r0 + i * OW : NULL;
            dw_row4(a, T, OW4);
        }
    }
    for (; i < nr; i++) {
        a->rb = rb0 + i * a->rstep;
        a->y = y0 + i * OW;
        a->res = r0 ? r0 + i * OW : NULL;
        dw_row_blocks(a, T);
        dw_row_rest(a, T, OW4);
    }
}

__attribute__((noinline)) static void dw_rows_9(dw_row_args *a, const float *rb0, float *y0, const float *r0,
                                                int64_t nr)
{
    dw_rows(a, rb0, y0, r0, nr, 9);
}

__attribute__((noinline)) static void dw_rows_25(dw_row_args *a, const float *rb0, float *y0, const float *r0,
                                                 int64_t nr)
{
    dw_rows(a, rb0, y0, r0, nr, 25);
}

__attribute__((noinline)) static void dw_rows_any(dw_row_args *a, const float *rb0, float *y0, const float *r0,
                                                  int64_t nr, int T)
{
    dw_rows(a, rb0, y0, r0, nr, T);
}

#define KN_DW_SIMD_DEFINE(linkage, name)                                                               \
    linkage void name(void *arg, size_t plane)                                                         \
    {                                                                                                  \
        const kn_dw_ctx *d = arg;                                                                      \
        const kn_conv2d_geom *g = &d->g;                                                               \
        const int64_t S = g->SW, T = d->KH * d->KW;                                                    \
        const int64_t owv = (d->OW + KN_DW_VW - 1) / KN_DW_VW * KN_DW_VW;                              \
        const int64_t Wq = owv + (d->KW - 1) * g->DW / S; /* slots the rounded-up row reads */         \
        const int64_t rowf = S * Wq, span = (d->KH - 1) * g->DH + 1;                                   \
        if (T > KN_DW_MAX_TAPS || span > KN_DW_BUF_FLOATS || rowf * span > KN_DW_BUF_FLOATS) {         \
            kn_dw_plane_generic(arg, plane);                                                           \
            return;                                                                                    \
        }                                                                                              \
        _Alignas(64) float buf[KN_DW_BUF_FLOATS + KN_DW_SLACK];                                        \
        int32_t off[KN_DW_MAX_TAPS];                                                                   \
        int64_t c = (int64_t)plane % d->C;                                                             \
        const float *xp = d->x + (int64_t)plane * d->H * d->W;                                         \
        float *yp = d->y + (int64_t)plane * d->OH * d->OW;                                             \
        const float *rp = d->residual ? d->residual + (int64_t)plane * d->OH * d->OW : NULL;           \
        for (int64_t kh = 0; kh < d->KH; kh++)                                                         \
            for (int64_t kw = 0; kw < d->KW; kw++) {                                                   \
                int64_t col = kw * g->DW;                                                              \
                off[kh * d->KW + kw] = (int32_t)(kh * g->DH * rowf + (col % S) * Wq + col / S);        \
            }                                                                                          \
        dw_row_args a = {.off = off, .w = d->w + c * T, .bias = d->bias ? d->bias[c] : 0.0f,           \
                         .OW = d->OW, .rstep = g->SH * rowf};                                          \
        if (d->act && (d->act->act == KN_ACT_RELU || d->act->act == KN_ACT_CLIP)) {                    \
            a.clip = 1;                                                                                \
            a.lo = d->act->act == KN_ACT_RELU ? 0.0f : d->act->alpha;                                  \
            a.hi = d->act->act == KN_ACT_RELU ? __builtin_inff() : d->act->beta;                       \
        }                                                                                              \
        /* output rows per block: their input rows fill the buffer */                                  \
        const int64_t R = (KN_DW_BUF_FLOATS / rowf - span) / g->SH + 1;                                \
        for (int64_t oh0 = 0; oh0 < d->OH; oh0 += R) {                                                 \
            int64_t nr = KN_MIN(R, d->OH - oh0), rows = (nr - 1) * g->SH + span;                       \
            dw_fill_rows(d, xp, oh0 * g->SH, rows, buf, Wq);                                           \
            float *y0 = yp + oh0 * d->OW;                                                              \
            const float *r0 = rp ? rp + oh0 * d->OW : NULL;                                            \
            if (T == 9)                                                                                \
                dw_rows_9(&a, buf, y0, r0, nr);                                                        \
            else if (T == 25)                                                                          \
                dw_rows_25(&a, buf, y0, r0, nr);                                                       \
            else                                                                                       \
                dw_rows_any(&a, buf, y0, r0, nr, (int)T);                                              \
            if (d->act && !a.clip)                                                                     \
                KN_DW_ACT(d->act, y0, nr * d->OW);                                                     \
        }                                                                                              \
    }

#endif
