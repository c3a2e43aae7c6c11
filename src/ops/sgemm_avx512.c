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

void kn_sgemm_kernel_avx512(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                            bool accumulate)
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
    if (n == 32) {
        for (int i = 0; i < m; i++) {
            float *c = C + i * ldc;
            if (accumulate) {
                acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(c));
                acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(c + 16));
            }
            _mm512_storeu_ps(c, acc[i][0]);
            _mm512_storeu_ps(c + 16, acc[i][1]);
        }
        return;
    }
    /* Partial tile: masked loads/stores keep us inside C's bounds. */
    __mmask16 m0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
    __mmask16 m1 = (__mmask16)(n >= 32 ? 0xffff : n > 16 ? (1u << (n - 16)) - 1 : 0);
    for (int i = 0; i < m; i++) {
        float *c = C + i * ldc;
        if (accumulate) {
            acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_maskz_loadu_ps(m0, c));
            acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_maskz_loadu_ps(m1, c + 16));
        }
        _mm512_mask_storeu_ps(c, m0, acc[i][0]);
        _mm512_mask_storeu_ps(c + 16, m1, acc[i][1]);
    }
}
