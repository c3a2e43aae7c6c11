/* The 2-D MaxPool plane kernel, written once over a few macros and compiled
 * per ISA by pool_max_generic.c / pool_max_avx2.c / pool_max_avx512.c:
 *
 *   MP_V, MP_VW               vector type and its float count
 *   MP_LOAD / STORE / SET1    unaligned load / store, broadcast
 *   MP_MAX(a, b)              a > b ? a : b per lane (x86 max semantics: a
 *                             NaN a yields b, so NaN taps are skipped)
 *   MP_LOAD_T(p, n) / MP_STORE_T(p, v, n)  first n lanes (0 < n < VW)
 *   MP_DEINTERLEAVE(p, e, o)  even / odd floats of p[0 .. 2 VW)
 *   MP_HAS_NEGINF(v)          any lane equal to -inf
 *   MP_FN                     the function's name
 *
 * Per output row, the vertical maxima of the window's rows that lie inside
 * the input go into a row buffer (contiguous vectors), bordered by -inf
 * where the left pad and the right / ceil_mode overhang are; stride 2 then
 * splits the buffer into even and odd columns so every horizontal tap is a
 * contiguous load. Maxima start at -inf, so NaN taps never win; an output
 * that stays -inf (all taps NaN or -inf, or a window entirely in the pads)
 * is recomputed by the scalar rule of the reference, which makes NaN of a
 * window without a number. */
#include "ops/pool_max.h"

#include <math.h>

#define MP_BUF 4096

bool kn_maxpool2d_fits(const kn_maxpool2d *m);

static float mp_scalar(const kn_maxpool2d *m, const float *x, int64_t oh, int64_t ow)
{
    float best = 0.0f;
    bool any = false;
    for (int64_t kh = 0; kh < m->KH; kh++) {
        int64_t ih = oh * m->SH - m->PT + kh;
        if (ih < 0 || ih >= m->H)
            continue;
        for (int64_t kw = 0; kw < m->KW; kw++) {
            int64_t iw = ow * m->SW - m->PL + kw;
            if (iw < 0 || iw >= m->W)
                continue;
            float v = x[ih * m->W + iw];
            if (v == v && (!any || v > best)) {
                best = v;
                any = true;
            }
        }
    }
    return any ? best : NAN;
}

static inline int64_t mp_up(int64_t v, int64_t q)
{
    return (v + q - 1) / q * q;
}

/* Floats of the row buffer the geometry needs (whole vectors). */
static inline int64_t mp_row_len(const kn_maxpool2d *m, int64_t vw)
{
    int64_t owr = mp_up(m->OW, vw);
    int64_t need_h = m->SW == 1 ? owr + m->KW : 2 * mp_up(owr + (m->KW - 1) / 2 + 1, vw);
    int64_t need_v = m->PL + mp_up(m->W, vw);
    return mp_up(need_h > need_v ? need_h : need_v, 2 * vw);
}

void MP_FN(void *arg, size_t plane)
{
    const kn_maxpool2d *m = arg;
    const int64_t H = m->H, W = m->W, OW = m->OW, KW = m->KW, PL = m->PL;
    const float *x = m->x + (int64_t)plane * H * W;
    float *y = m->y + (int64_t)plane * m->OH * OW;
    _Alignas(64) float rb[MP_BUF + 2 * MP_VW];
    _Alignas(64) float ev[MP_BUF / 2 + 2 * MP_VW], od[MP_BUF / 2 + 2 * MP_VW];
    const int64_t L = mp_row_len(m, MP_VW), owr = mp_up(OW, MP_VW);
    const int64_t wf = W / MP_VW * MP_VW;
    const MP_V ninf = MP_SET1(-INFINITY);
    for (int64_t i = 0; i < PL; i++)
        rb[i] = -INFINITY;
    for (int64_t oh = 0; oh < m->OH; oh++) {
        float *yr = y + oh * OW;
        const int64_t h0 = oh * m->SH - m->PT;
        const int64_t kh_lo = h0 < 0 ? -h0 : 0, kh_hi = H - h0 < m->KH ? H - h0 : m->KH;
        if (kh_lo >= kh_hi) {
            for (int64_t ow = 0; ow < OW; ow++)
                yr[ow] = NAN;
            continue;
        }
        const float *x0 = x + (h0 + kh_lo) * W;
        const int64_t nr = kh_hi - kh_lo;
        for (int64_t w = 0; w < wf; w += MP_VW) {
            MP_V v = ninf;
            for (int64_t r = 0; r < nr; r++)
                v = MP_MAX(MP_LOAD(x0 + r * W + w), v);
            MP_STORE(rb + PL + w, v);
        }
        if (wf < W) {
            MP_V v = ninf;
            for (int64_t r = 0; r < nr; r++)
                v = MP_MAX(MP_LOAD_T(x0 + r * W + wf, W - wf), v);
            MP_STORE(rb + PL + wf, v);
        }
        /* unaligned whole-vector stores: rb has room past L */
        for (int64_t i = PL + W; i < L; i += MP_VW)
            MP_STORE(rb + i, ninf);
        const float *taps[2] = {rb, rb};
        if (m->SW == 2) {
            for (int64_t j = 0; 2 * j < L; j += MP_VW) {
                MP_V e, o;
                MP_DEINTERLEAVE(rb + 2 * j, e, o);
                MP_STORE(ev + j, e);
                MP_STORE(od + j, o);
            }
            taps[0] = ev;
            taps[1] = od;
        }
        for (int64_t ow = 0; ow < owr; ow += MP_VW) {
            MP_V v = ninf;
            if (m->SW == 1) {
                for (int64_t k = 0; k < KW; k++)
                    v = MP_MAX(MP_LOAD(rb + ow + k), v);
            } else {
                for (int64_t k = 0; k < KW; k++)
                    v = MP_MAX(MP_LOAD(taps[k & 1] + ow + k / 2), v);
            }
            const int64_t n = OW - ow < MP_VW ? OW - ow : MP_VW;
            if (n == MP_VW)
                MP_STORE(yr + ow, v);
            else
                MP_STORE_T(yr + ow, v, n);
            if (MP_HAS_NEGINF(v))
                for (int64_t i = 0; i < n; i++)
                    if (yr[ow + i] == -INFINITY)
                        yr[ow + i] = mp_scalar(m, x, oh, ow + i);
        }
    }
}
