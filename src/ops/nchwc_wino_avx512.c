/* AVX-512 transforms of the Winograd F(2x2, 3x3) convolution
 * (nchwc_wino.c): a 16-lane vector is one pixel of a block, so both
 * transforms are vector adds and subtracts, the 16 channels of a block at
 * once. The epilogue applies act_vec, as kn_act_apply_avx512 does. Called
 * only when the session's ISA is AVX-512. */
#include "ops/act_avx512.h"
#include "ops/nchwc_wino_impl.h"

#include <immintrin.h>

void kn_nchwc_wino_in_avx512(const kn_nchwc_wino_ctx *c, int64_t cb)
{
    const int64_t per_img = c->TH * c->TW, H = c->H, W = c->W;
    const int64_t vs = c->vs;
    const __m512 zero = _mm512_setzero_ps();
    int64_t gt = c->t0, n = gt / per_img, th = gt % per_img / c->TW, tw = gt % c->TW;
    for (int64_t t = 0; t < c->T; t++) {
        const float *xb = c->x + (n * c->CB + cb) * H * W * KN_NCHWC_BLOCK;
        const int64_t ih0 = 2 * th - c->PT, iw0 = 2 * tw - c->PL;
        __m512 d[4][4];
        if (ih0 >= 0 && ih0 + 4 <= H && iw0 >= 0 && iw0 + 4 <= W) {
            const float *q = xb + (ih0 * W + iw0) * KN_NCHWC_BLOCK;
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    d[i][j] = _mm512_loadu_ps(q + (i * W + j) * KN_NCHWC_BLOCK);
        } else {
            for (int i = 0; i < 4; i++) {
                const bool rok = (uint64_t)(ih0 + i) < (uint64_t)H;
                for (int j = 0; j < 4; j++)
                    d[i][j] = rok && (uint64_t)(iw0 + j) < (uint64_t)W
                                  ? _mm512_loadu_ps(xb + ((ih0 + i) * W + iw0 + j) * KN_NCHWC_BLOCK)
                                  : zero;
            }
        }
        /* the columns two tiles on, which the hardware prefetcher does not
         * see coming in time from four rows of one plane */
        if (ih0 >= 0 && ih0 + 4 <= H && iw0 + 10 <= W) {
            const float *q = xb + (ih0 * W + iw0 + 8) * KN_NCHWC_BLOCK;
            for (int i = 0; i < 4; i++) {
                _mm_prefetch((const char *)(q + i * W * KN_NCHWC_BLOCK), _MM_HINT_T0);
                _mm_prefetch((const char *)(q + (i * W + 1) * KN_NCHWC_BLOCK), _MM_HINT_T0);
            }
        }
        __m512 e[4][4];
        for (int j = 0; j < 4; j++) {
            e[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
            e[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
            e[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
            e[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
        }
        float *v = c->V + (cb * c->T + t) * KN_NCHWC_BLOCK;
        for (int i = 0; i < 4; i++) {
            _mm512_storeu_ps(v + (i * 4 + 0) * vs, _mm512_sub_ps(e[i][0], e[i][2]));
            _mm512_storeu_ps(v + (i * 4 + 1) * vs, _mm512_add_ps(e[i][1], e[i][2]));
            _mm512_storeu_ps(v + (i * 4 + 2) * vs, _mm512_sub_ps(e[i][2], e[i][1]));
            _mm512_storeu_ps(v + (i * 4 + 3) * vs, _mm512_sub_ps(e[i][1], e[i][3]));
        }
        if (++tw == c->TW) {
            tw = 0;
            if (++th == c->TH)
                th = 0, n++;
        }
    }
}

static inline __attribute__((always_inline)) __m512 bt_row(int k, __m512 a, __m512 b)
{
    return kn_wino_bt[k][2] > 0 ? _mm512_add_ps(a, b) : _mm512_sub_ps(a, b);
}

void kn_nchwc_wino_in_xi_avx512(const kn_nchwc_wino_ctx *c, int xi)
{
    const int64_t per_img = c->TH * c->TW, H = c->H, W = c->W;
    const int i = xi / 4, j = xi % 4;
    const int r0 = kn_wino_bt[i][0], r1 = kn_wino_bt[i][1], c0 = kn_wino_bt[j][0], c1 = kn_wino_bt[j][1];
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t cb = 0; cb < c->CB; cb++) {
        int64_t gt = c->t0, n = gt / per_img, th = gt % per_img / c->TW, tw = gt % c->TW;
        float *v = c->V + xi * c->vs + cb * c->T * KN_NCHWC_BLOCK;
        for (int64_t t = 0; t < c->T; t++, v += KN_NCHWC_BLOCK) {
            const float *xb = c->x + (n * c->CB + cb) * H * W * KN_NCHWC_BLOCK;
            const int64_t ih0 = 2 * th - c->PT, iw0 = 2 * tw - c->PL;
            const int rows[2] = {r0, r1}, cols[2] = {c0, c1};
            __m512 d[2][2];
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    const int64_t ih = ih0 + rows[a], iw = iw0 + cols[b];
                    d[a][b] = (uint64_t)ih < (uint64_t)H && (uint64_t)iw < (uint64_t)W
                                  ? _mm512_loadu_ps(xb + (ih * W + iw) * KN_NCHWC_BLOCK)
                                  : zero;
                }
            _mm512_storeu_ps(v, bt_row(j, bt_row(i, d[0][0], d[1][0]), bt_row(i, d[0][1], d[1][1])));
            if (++tw == c->TW) {
                tw = 0;
                if (++th == c->TH)
                    th = 0, n++;
            }
        }
    }
}

/* GCC emits prefetchw for _MM_HINT_ET0 only with -mprfchw, which the
 * AVX-512 flags do not include; every AVX-512 CPU has the instruction. */
static inline __attribute__((always_inline)) void prefetchw(const float *p)
{
    __asm__ volatile("prefetchw %0" ::"m"(*(const char *)p));
}

static inline __attribute__((always_inline)) void out_run(const kn_nchwc_wino_ctx *c, int64_t mb, const kn_act kind)
{
    const int64_t per_img = c->TH * c->TW, plane = c->OH * c->OW;
    const int64_t ms = c->ms;
    const __m512 bias = _mm512_loadu_ps(c->p->bias + mb * KN_NCHWC_BLOCK);
    int64_t gt = c->t0, n = gt / per_img, th = gt % per_img / c->TW, tw = gt % c->TW;
    for (int64_t t = 0; t < c->T; t++) {
        const int64_t oh0 = 2 * th, ow0 = 2 * tw;
        const float *m = c->Mo + (mb * c->T + t) * KN_NCHWC_BLOCK;
        __m512 s[2][4], o[2][2];
        for (int j = 0; j < 4; j++) {
            const __m512 m0 = _mm512_loadu_ps(m + j * ms), m1 = _mm512_loadu_ps(m + (4 + j) * ms);
            const __m512 m2 = _mm512_loadu_ps(m + (8 + j) * ms), m3 = _mm512_loadu_ps(m + (12 + j) * ms);
            s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
            s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        for (int i = 0; i < 2; i++) {
            o[i][0] = _mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]);
            o[i][1] = _mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]);
        }
        const int64_t yo = n * c->ys_img + mb * plane * KN_NCHWC_BLOCK;
        /* two tiles on: the residual, and the output lines to own before
         * they are stored */
        if (oh0 + 2 <= c->OH && ow0 + 6 <= c->OW) {
            const int64_t o = yo + (oh0 * c->OW + ow0 + 4) * KN_NCHWC_BLOCK;
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) {
                    const int64_t q = o + (i * c->OW + j) * KN_NCHWC_BLOCK;
                    if (c->res)
                        _mm_prefetch((const char *)(c->res + q), _MM_HINT_T0);
                    prefetchw(c->y + q);
                }
        }
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                if (oh0 + i >= c->OH || ow0 + j >= c->OW)
                    continue;
                const int64_t off = yo + ((oh0 + i) * c->OW + ow0 + j) * KN_NCHWC_BLOCK;
                __m512 v = _mm512_add_ps(o[i][j], bias);
                if (c->res)
                    v = _mm512_add_ps(v, _mm512_loadu_ps(c->res + off));
                _mm512_storeu_ps(c->y + off, act_vec(c->act, v, kind));
            }
        if (++tw == c->TW) {
            tw = 0;
            if (++th == c->TH)
                th = 0, n++;
        }
    }
}

void kn_nchwc_wino_out_avx512(const kn_nchwc_wino_ctx *c, int64_t mb)
{
    /* the activation's kind a constant in each copy of the loop */
    switch (c->act ? c->act->act : KN_ACT_NONE) {
    case KN_ACT_NONE: out_run(c, mb, KN_ACT_NONE); break;
    case KN_ACT_RELU: out_run(c, mb, KN_ACT_RELU); break;
    case KN_ACT_CLIP: out_run(c, mb, KN_ACT_CLIP); break;
    default: out_run(c, mb, c->act->act); break;
    }
}
