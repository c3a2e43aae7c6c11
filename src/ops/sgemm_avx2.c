/* AVX2+FMA micro-kernel: 6 rows x 16 columns (12 accumulators in ymm). */
#include "ops/sgemm.h"

#include <immintrin.h>
#include <string.h>

void kn_sgemm_kernel_avx2(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                          bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m256 b0 = _mm256_loadu_ps(Bp), b1 = _mm256_loadu_ps(Bp + 8);
        __m256 a;
        a = _mm256_broadcast_ss(Ap + 0);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(Ap + 1);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(Ap + 2);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(Ap + 3);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(Ap + 4);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(Ap + 5);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
        Ap += 6;
        Bp += 16;
    }
    __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (m == 6 && n == 16) {
        for (int i = 0; i < 6; i++) {
            float *c = C + i * ldc;
            if (accumulate) {
                acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(c));
                acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(c + 8));
            }
            if (ep) {
                if (ep->bias) {
                    __m256 b = _mm256_set1_ps(ep->bias[row0 + i]);
                    acc[i][0] = _mm256_add_ps(acc[i][0], b);
                    acc[i][1] = _mm256_add_ps(acc[i][1], b);
                }
                if (ep->residual) {
                    const float *r = ep->residual + (row0 + i) * ep->ldr + col0;
                    acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(r));
                    acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(r + 8));
                }
                if (ep->act == KN_ACT_RELU) {
                    acc[i][0] = _mm256_max_ps(acc[i][0], _mm256_setzero_ps());
                    acc[i][1] = _mm256_max_ps(acc[i][1], _mm256_setzero_ps());
                } else if (ep->act == KN_ACT_CLIP) {
                    __m256 lo = _mm256_set1_ps(ep->alpha), hi = _mm256_set1_ps(ep->beta);
                    acc[i][0] = _mm256_min_ps(_mm256_max_ps(acc[i][0], lo), hi);
                    acc[i][1] = _mm256_min_ps(_mm256_max_ps(acc[i][1], lo), hi);
                }
            }
            _mm256_storeu_ps(c, acc[i][0]);
            _mm256_storeu_ps(c + 8, acc[i][1]);
        }
        if (ep && ep->act != KN_ACT_NONE && ep->act != KN_ACT_RELU && ep->act != KN_ACT_CLIP)
            for (int i = 0; i < 6; i++)
                kn_act_apply(ep, C + i * ldc, 16);
        return;
    }
    float tile[6][16];
    for (int i = 0; i < 6; i++) {
        _mm256_storeu_ps(tile[i], acc[i][0]);
        _mm256_storeu_ps(tile[i] + 8, acc[i][1]);
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + tile[i][j] : tile[i][j];
    if (ep)
        kn_epilogue_tile(ep, C, ldc, row0, col0, m, n);
}
