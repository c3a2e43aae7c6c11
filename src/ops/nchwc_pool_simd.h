/* The blocked pools and channel scale, written once over a 16-lane vector
 * type for the ISA files that include this (nchwc_pool_avx2.c,
 * nchwc_pool_avx512.c). Before including, a file defines v16 and its
 * operations -- ld, st, splat, vmax(v, acc) ("v > acc ? v : acc", so NaN
 * taps never replace the running maximum), vadd, vmul, vdiv, vmin,
 * ninf_mask (bit l set: lane l is -inf) -- and KN_POOL_ISA(name), the
 * name with its ISA suffix. Same operations in the same order as the
 * portable forms of nchwc_pool.c; lanes that end at -inf are settled by
 * kn_nchwc_max_fixup. */
#ifndef KN_NCHWC_POOL_SIMD_H
#define KN_NCHWC_POOL_SIMD_H

#include "ops/nchwc_pool_impl.h"

#define B KN_NCHWC_BLOCK

static inline void store_max(float *yo, v16 acc, const float *xw, int64_t W, int64_t DH, int64_t DW, int64_t nh,
                             int64_t nw)
{
    st(yo, acc);
    unsigned m = ninf_mask(acc);
    while (m) {
        int l = __builtin_ctz(m);
        yo[l] = kn_nchwc_max_fixup(xw, W, DH, DW, nh, nw, l);
        m &= m - 1;
    }
}

/* One output vector, any window position (the columns near the left and
 * right edges, rows without a tap list). */
static void pool_one(const kn_nchwc_pool_job *j, const float *x, float *yo, int64_t ih0, int64_t khl, int64_t nh,
                     int64_t cnt_h, int64_t ow)
{
    const int64_t W = j->W, DH = j->DH, DW = j->DW;
    const int64_t iw0 = ow * j->SW - j->PL;
    int64_t kwl, kwh;
    kn_nchwc_taps(iw0, DW, j->KW, W, &kwl, &kwh);
    const int64_t nw = kwh - kwl;
    /* an empty window reads nothing (its result is NaN): keep xw inside x */
    const float *xw = nh && nw ? x + ((ih0 + khl * DH) * W + iw0 + kwl * DW) * B : x;
    if (j->max) {
        v16 acc = splat(-INFINITY);
        for (int64_t kh = 0; kh < nh; kh++)
            for (int64_t kw = 0; kw < nw; kw++)
                acc = vmax(ld(xw + (kh * DH * W + kw * DW) * B), acc);
        store_max(yo, acc, xw, W, DH, DW, nh, nw);
    } else {
        v16 acc = splat(0.0f);
        for (int64_t kh = 0; kh < nh; kh++)
            for (int64_t kw = 0; kw < nw; kw++)
                acc = vadd(acc, ld(xw + (kh * DH * W + kw * DW) * B));
        const int64_t cnt_w = j->count_include_pad ? kn_nchwc_taps_in_pad(iw0, DW, j->KW, W, j->PR) : nw;
        st(yo, vdiv(acc, splat((float)(cnt_h * cnt_w))));
    }
}

/* taps of a window held in the offset list of the interior loop */
#define MAX_TAPS 64

void KN_POOL_ISA(kn_nchwc_pool_task)(void *arg, size_t task)
{
    const kn_nchwc_pool_job *j = arg;
    const int64_t plane = (int64_t)task / j->chunks, chunk = (int64_t)task % j->chunks;
    const int64_t oh0 = chunk * j->rows, oh1 = oh0 + j->rows < j->OH ? oh0 + j->rows : j->OH;
    const int64_t W = j->W, OW = j->OW, KW = j->KW, DH = j->DH, DW = j->DW, SW = j->SW;
    const float *x = j->x + plane * j->H * W * B;
    float *y = j->y + plane * j->OH * OW * B;
    int64_t owa, owb;
    kn_nchwc_interior(j->PL, SW, DW, KW, W, OW, &owa, &owb);
    int64_t off[MAX_TAPS];
    for (int64_t oh = oh0; oh < oh1; oh++) {
        const int64_t ih0 = oh * j->SH - j->PT;
        int64_t khl, khh;
        kn_nchwc_taps(ih0, DH, j->KH, j->H, &khl, &khh);
        const int64_t nh = khh - khl, nt = nh * KW;
        const int64_t cnt_h = j->count_include_pad ? kn_nchwc_taps_in_pad(ih0, DH, j->KH, j->H, j->PB) : nh;
        float *yr = y + oh * OW * B;
        int64_t a = owa, b = owb;
        if (nt == 0 || nt > MAX_TAPS)
            a = b = OW;
        for (int64_t ow = 0; ow < a; ow++)
            pool_one(j, x, yr + ow * B, ih0, khl, nh, cnt_h, ow);
        for (int64_t kh = 0, t = 0; kh < nh && nt <= MAX_TAPS; kh++)
            for (int64_t kw = 0; kw < KW; kw++)
                off[t++] = (kh * DH * W + kw * DW) * B;
        /* the window of column ow (interior) starts at xr + (ow - a) * SW * B */
        const float *xr = a < b ? x + ((ih0 + khl * DH) * W + a * SW - j->PL) * B : x;
        const int64_t step = SW * B;
        int64_t ow = a;
        if (j->max) {
            const v16 ninf = splat(-INFINITY);
            for (; ow + 4 <= b; ow += 4, xr += 4 * step) {
                v16 a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
                for (int64_t t = 0; t < nt; t++) {
                    const float *q = xr + off[t];
                    a0 = vmax(ld(q), a0);
                    a1 = vmax(ld(q + step), a1);
                    a2 = vmax(ld(q + 2 * step), a2);
                    a3 = vmax(ld(q + 3 * step), a3);
                }
                float *yo = yr + ow * B;
                st(yo, a0);
                st(yo + B, a1);
                st(yo + 2 * B, a2);
                st(yo + 3 * B, a3);
                if (ninf_mask(vmin(vmin(a0, a1), vmin(a2, a3))))
                    for (int q = 0; q < 4; q++)
                        store_max(yo + q * B, ld(yo + q * B), xr + q * step, W, DH, DW, nh, KW);
            }
            for (; ow < b; ow++, xr += step) {
                v16 a0 = ninf;
                for (int64_t t = 0; t < nt; t++)
                    a0 = vmax(ld(xr + off[t]), a0);
                store_max(yr + ow * B, a0, xr, W, DH, DW, nh, KW);
            }
        } else {
            const v16 div = splat((float)(cnt_h * KW));
            for (; ow + 4 <= b; ow += 4, xr += 4 * step) {
                v16 a0 = splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
                for (int64_t t = 0; t < nt; t++) {
                    const float *q = xr + off[t];
                    a0 = vadd(a0, ld(q));
                    a1 = vadd(a1, ld(q + step));
                    a2 = vadd(a2, ld(q + 2 * step));
                    a3 = vadd(a3, ld(q + 3 * step));
                }
                float *yo = yr + ow * B;
                st(yo, vdiv(a0, div));
                st(yo + B, vdiv(a1, div));
                st(yo + 2 * B, vdiv(a2, div));
                st(yo + 3 * B, vdiv(a3, div));
            }
            for (; ow < b; ow++, xr += step) {
                v16 a0 = splat(0.0f);
                for (int64_t t = 0; t < nt; t++)
                    a0 = vadd(a0, ld(xr + off[t]));
                st(yr + ow * B, vdiv(a0, div));
            }
        }
        for (ow = b; ow < OW; ow++)
            pool_one(j, x, yr + ow * B, ih0, khl, nh, cnt_h, ow);
    }
}

void KN_POOL_ISA(kn_nchwc_mul_task)(void *arg, size_t task)
{
    const kn_nchwc_plane_job *j = arg;
    const int64_t plane = (int64_t)task / j->runs, run = (int64_t)task % j->runs;
    const int64_t p0 = run * KN_NCHWC_MUL_RUN, p1 = p0 + KN_NCHWC_MUL_RUN < j->HW ? p0 + KN_NCHWC_MUL_RUN : j->HW;
    const float *x = j->x + plane * j->HW * B;
    float *y = j->y + plane * j->HW * B;
    const v16 s = ld(j->s + plane * B);
    for (int64_t p = p0; p < p1; p++)
        st(y + p * B, vmul(ld(x + p * B), s));
}

#endif
