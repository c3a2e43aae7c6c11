/* AVX-512F micro-kernel: 12 rows x 32 columns (24 accumulators in zmm). */
#include "ops/sgemm.h"

#include <immintrin.h>
#include <string.h>

#define ROW(i)                                                   \
    do {                                                         \
        __m512 a = _mm512_set1_ps(Ap[i]);                        \
        c##i##0 = _mm512_fmadd_ps(a, b0, c##i##0);               \
        c##i##1 = _mm512_fmadd_ps(a, b1, c##i##1);               \
    } while (0)

/* bias + residual + (ReLU | clip | leaky ReLU) on one row's two vectors,
 * in registers; other activations run after the store. */
static inline void row_epilogue(const kn_epilogue *ep, __m512 *v, int64_t row, int64_t col, __mmask16 m0,
                                __mmask16 m1)
{
    if (ep->bias) {
        __m512 b = _mm512_set1_ps(ep->bias[row]);
        v[0] = _mm512_add_ps(v[0], b);
        v[1] = _mm512_add_ps(v[1], b);
    }
    if (ep->residual) {
        const float *r = ep->residual + row * ep->ldr + col;
        v[0] = _mm512_add_ps(v[0], _mm512_maskz_loadu_ps(m0, r));
        v[1] = _mm512_add_ps(v[1], _mm512_maskz_loadu_ps(m1, r + 16));
    }
    switch (ep->act) {
    case KN_ACT_RELU:
        v[0] = _mm512_max_ps(v[0], _mm512_setzero_ps());
        v[1] = _mm512_max_ps(v[1], _mm512_setzero_ps());
        break;
    case KN_ACT_CLIP: {
        __m512 lo = _mm512_set1_ps(ep->alpha), hi = _mm512_set1_ps(ep->beta);
        v[0] = _mm512_min_ps(_mm512_max_ps(v[0], lo), hi);
        v[1] = _mm512_min_ps(_mm512_max_ps(v[1], lo), hi);
        break;
    }
    case KN_ACT_LEAKY_RELU: {
        __m512 a = _mm512_set1_ps(ep->alpha), z = _mm512_setzero_ps();
        for (int k = 0; k < 2; k++) {
            __mmask16 neg = _mm512_cmp_ps_mask(v[k], z, _CMP_LT_OQ);
            v[k] = _mm512_mask_mul_ps(v[k], neg, v[k], a);
        }
        break;
    }
    default: break;
    }
}

static bool act_in_registers(kn_act act)
{
    return act == KN_ACT_NONE || act == KN_ACT_RELU || act == KN_ACT_CLIP || act == KN_ACT_LEAKY_RELU;
}

void kn_sgemm_kernel_avx512(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                            bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(),
           c11 = _mm512_setzero_ps(), c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(),
           c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps(), c40 = _mm512_setzero_ps(),
           c41 = _mm512_setzero_ps(), c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps(),
           c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps(), c70 = _mm512_setzero_ps(),
           c71 = _mm512_setzero_ps(), c80 = _mm512_setzero_ps(), c81 = _mm512_setzero_ps(),
           c90 = _mm512_setzero_ps(), c91 = _mm512_setzero_ps();
    __m512 c100 = _mm512_setzero_ps(), c101 = _mm512_setzero_ps(), c110 = _mm512_setzero_ps(),
           c111 = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
        ROW(0);
        ROW(1);
        ROW(2);
        ROW(3);
        ROW(4);
        ROW(5);
        ROW(6);
        ROW(7);
        ROW(8);
        ROW(9);
        ROW(10);
        ROW(11);
        Ap += 12;
        Bp += 32;
    }
    __m512 acc[12][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41},   {c50, c51},
                         {c60, c61}, {c70, c71}, {c80, c81}, {c90, c91}, {c100, c101}, {c110, c111}};
    /* Masked loads/stores keep partial tiles inside C's bounds. */
    __mmask16 m0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
    __mmask16 m1 = (__mmask16)(n >= 32 ? 0xffff : n > 16 ? (1u << (n - 16)) - 1 : 0);
    for (int i = 0; i < m; i++) {
        float *c = C + i * ldc;
        if (accumulate) {
            acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_maskz_loadu_ps(m0, c));
            acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_maskz_loadu_ps(m1, c + 16));
        }
        if (ep)
            row_epilogue(ep, acc[i], row0 + i, col0, m0, m1);
        _mm512_mask_storeu_ps(c, m0, acc[i][0]);
        _mm512_mask_storeu_ps(c + 16, m1, acc[i][1]);
    }
    if (ep && !act_in_registers(ep->act))
        for (int i = 0; i < m; i++)
            kn_act_apply(ep, C + i * ldc, n);
}
