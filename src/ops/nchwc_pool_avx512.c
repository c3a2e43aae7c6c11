/* AVX-512 forms of the blocked pools and channel scale (nchwc_pool.c has
 * the portable ones, with the same operations in the same order): every
 * window tap is one 16-channel vector load. _mm512_max_ps(v, acc) is
 * "v > acc ? v : acc", so NaN taps never replace the running maximum;
 * lanes that end at -inf are settled by kn_nchwc_max_fixup. Called only
 * when the session's ISA is AVX-512. */
#include "ops/nchwc_pool_impl.h"

#include <immintrin.h>

#define B KN_NCHWC_BLOCK

static inline void store_max(float *yo, __m512 acc, const float *xw, int64_t W, int64_t DH, int64_t DW, int64_t nh,
                             int64_t nw)
{
    _mm512_storeu_ps(yo, acc);
    __mmask16 m = _mm512_cmp_ps_mask(acc, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
    while (m) {
        int l = __builtin_ctz(m);
        yo[l] = kn_nchwc_max_fixup(xw, W, DH, DW, nh, nw, l);
        m &= (__mmask16)(m - 1);
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
        __m512 acc = _mm512_set1_ps(-INFINITY);
        for (int64_t kh = 0; kh < nh; kh++)
            for (int64_t kw = 0; kw < nw; kw++)
                acc = _mm512_max_ps(_mm512_loadu_ps(xw + (kh * DH * W + kw * DW) * B), acc);
        store_max(yo, acc, xw, W, DH, DW, nh, nw);
    } else {
        __m512 acc = _mm512_setzero_ps();
        for (int64_t kh = 0; kh < nh; kh++)
            for (int64_t kw = 0; kw < nw; kw++)
                acc = _mm512_add_ps(acc, _mm512_loadu_ps(xw + (kh * DH * W + kw * DW) * B));
        const int64_t cnt_w = j->count_include_pad ? kn_nchwc_taps_in_pad(iw0, DW, j->KW, W, j->PR) : nw;
        _mm512_storeu_ps(yo, _mm512_div_ps(acc, _mm512_set1_ps((float)(cnt_h * cnt_w))));
    }
}

/* taps of a window held in the offset list of the interior loop */
#define MAX_TAPS 64

void kn_nchwc_pool_task_avx512(void *arg, size_t task)
{
    const kn_nchwc_pool_job *j = arg;
    const int64_t plane = (int64_t)task / j->chunks, chunk = (int64_t)task % j->chunks;
    const int64_t oh0 = chunk * j->rows, oh1 = oh0 + j->rows < j->OH ? oh0 + j->rows : j->OH;
    const int64_t W = j->W, OW = j->OW, KW = j->KW, DH = j->DH, DW = j->DW, SW = j->SW;
    const float *x = j->x + plane * j->H * W * B;
    float *y = j->y + plane * j->OH * OW * B;
    /* interior columns [owa, owb): every horizontal tap inside the input */
    int64_t owa = (j->PL + SW - 1) / SW, owb = W - 1 - (KW - 1) * DW + j->PL;
    owb = owb < 0 ? 0 : owb / SW + 1;
    if (owa > OW)
        owa = OW;
    if (owb > OW)
        owb = OW;
    if (owb < owa)
        owb = owa;
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
            const __m512 ninf = _mm512_set1_ps(-INFINITY);
            for (; ow + 4 <= b; ow += 4, xr += 4 * step) {
                __m512 a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
                for (int64_t t = 0; t < nt; t++) {
                    const float *q = xr + off[t];
                    a0 = _mm512_max_ps(_mm512_loadu_ps(q), a0);
                    a1 = _mm512_max_ps(_mm512_loadu_ps(q + step), a1);
                    a2 = _mm512_max_ps(_mm512_loadu_ps(q + 2 * step), a2);
                    a3 = _mm512_max_ps(_mm512_loadu_ps(q + 3 * step), a3);
                }
                float *yo = yr + ow * B;
                _mm512_storeu_ps(yo, a0);
                _mm512_storeu_ps(yo + B, a1);
                _mm512_storeu_ps(yo + 2 * B, a2);
                _mm512_storeu_ps(yo + 3 * B, a3);
                __m512 lo = _mm512_min_ps(_mm512_min_ps(a0, a1), _mm512_min_ps(a2, a3));
                if (_mm512_cmp_ps_mask(lo, ninf, _CMP_EQ_OQ))
                    for (int q = 0; q < 4; q++)
                        store_max(yo + q * B, _mm512_loadu_ps(yo + q * B), xr + q * step, W, DH, DW, nh, KW);
            }
            for (; ow < b; ow++, xr += step) {
                __m512 a0 = ninf;
                for (int64_t t = 0; t < nt; t++)
                    a0 = _mm512_max_ps(_mm512_loadu_ps(xr + off[t]), a0);
                store_max(yr + ow * B, a0, xr, W, DH, DW, nh, KW);
            }
        } else {
            const __m512 div = _mm512_set1_ps((float)(cnt_h * KW));
            for (; ow + 4 <= b; ow += 4, xr += 4 * step) {
                __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                for (int64_t t = 0; t < nt; t++) {
                    const float *q = xr + off[t];
                    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(q));
                    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(q + step));
                    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(q + 2 * step));
                    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(q + 3 * step));
                }
                float *yo = yr + ow * B;
                _mm512_storeu_ps(yo, _mm512_div_ps(a0, div));
                _mm512_storeu_ps(yo + B, _mm512_div_ps(a1, div));
                _mm512_storeu_ps(yo + 2 * B, _mm512_div_ps(a2, div));
                _mm512_storeu_ps(yo + 3 * B, _mm512_div_ps(a3, div));
            }
            for (; ow < b; ow++, xr += step) {
                __m512 a0 = _mm512_setzero_ps();
                for (int64_t t = 0; t < nt; t++)
                    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(xr + off[t]));
                _mm512_storeu_ps(yr + ow * B, _mm512_div_ps(a0, div));
            }
        }
        for (ow = b; ow < OW; ow++)
            pool_one(j, x, yr + ow * B, ih0, khl, nh, cnt_h, ow);
    }
}

void kn_nchwc_global_task_avx512(void *arg, size_t task)
{
    const kn_nchwc_plane_job *j = arg;
    const float *x = j->x + (int64_t)task * j->HW * B;
    float *y = j->y + (int64_t)task * B;
    const int64_t HW = j->HW;
    __m512 a[KN_NCHWC_GLOBAL_ACC];
    for (int i = 0; i < KN_NCHWC_GLOBAL_ACC; i++)
        a[i] = _mm512_set1_ps(j->max ? -INFINITY : 0.0f);
    int64_t p = 0;
    if (j->max) {
        for (; p + KN_NCHWC_GLOBAL_ACC <= HW; p += KN_NCHWC_GLOBAL_ACC)
            for (int i = 0; i < KN_NCHWC_GLOBAL_ACC; i++)
                a[i] = _mm512_max_ps(_mm512_loadu_ps(x + (p + i) * B), a[i]);
        for (int i = 0; p < HW; p++, i++)
            a[i] = _mm512_max_ps(_mm512_loadu_ps(x + p * B), a[i]);
        for (int w = KN_NCHWC_GLOBAL_ACC / 2; w >= 1; w /= 2)
            for (int i = 0; i < w; i++)
                a[i] = _mm512_max_ps(a[2 * i], a[2 * i + 1]);
        store_max(y, a[0], x, HW, 1, 1, 1, HW);
    } else {
        for (; p + KN_NCHWC_GLOBAL_ACC <= HW; p += KN_NCHWC_GLOBAL_ACC)
            for (int i = 0; i < KN_NCHWC_GLOBAL_ACC; i++)
                a[i] = _mm512_add_ps(a[i], _mm512_loadu_ps(x + (p + i) * B));
        for (int i = 0; p < HW; p++, i++)
            a[i] = _mm512_add_ps(a[i], _mm512_loadu_ps(x + p * B));
        for (int w = KN_NCHWC_GLOBAL_ACC / 2; w >= 1; w /= 2)
            for (int i = 0; i < w; i++)
                a[i] = _mm512_add_ps(a[2 * i], a[2 * i + 1]);
        _mm512_storeu_ps(y, _mm512_div_ps(a[0], _mm512_set1_ps((float)HW)));
    }
}

void kn_nchwc_mul_task_avx512(void *arg, size_t task)
{
    const kn_nchwc_plane_job *j = arg;
    const int64_t plane = (int64_t)task / j->runs, run = (int64_t)task % j->runs;
    const int64_t p0 = run * KN_NCHWC_MUL_RUN, p1 = p0 + KN_NCHWC_MUL_RUN < j->HW ? p0 + KN_NCHWC_MUL_RUN : j->HW;
    const float *x = j->x + plane * j->HW * B;
    float *y = j->y + plane * j->HW * B;
    const __m512 s = _mm512_loadu_ps(j->s + plane * B);
    for (int64_t p = p0; p < p1; p++)
        _mm512_storeu_ps(y + p * B, _mm512_mul_ps(_mm512_loadu_ps(x + p * B), s));
}
