/* Packed GEMV panel kernel with AVX2 (see sgemv.h). A 6-row panel stores
 * k-major groups of 6 floats, so 4 consecutive k fill exactly 3 vectors;
 * each vector is multiplied by x spread to match ([x0 x6, x1 x2], ...) and
 * the lanes of a row are summed at the end. */
#include "ops/sgemv.h"

#include <immintrin.h>

void kn_sgemv_panel_avx2(const float *panel, int mr, int64_t K, const float *x, float *out)
{
    if (mr != 6) {
        kn_sgemv_panel_generic(panel, mr, K, x, out);
        return;
    }
    const __m256i i0 = _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 1, 1);
    const __m256i i1 = _mm256_setr_epi32(1, 1, 1, 1, 2, 2, 2, 2);
    const __m256i i2 = _mm256_setr_epi32(2, 2, 3, 3, 3, 3, 3, 3);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, b0 = a0, b1 = a0, b2 = a0;
    int64_t k = 0;
    /* two sets of accumulators: six independent FMA chains */
    for (; k + 8 <= K; k += 8) {
        const float *p = panel + k * 6;
        __m256 xa = _mm256_castps128_ps256(_mm_loadu_ps(x + k));
        __m256 xb = _mm256_castps128_ps256(_mm_loadu_ps(x + k + 4));
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_permutevar8x32_ps(xa, i0), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 8), _mm256_permutevar8x32_ps(xa, i1), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 16), _mm256_permutevar8x32_ps(xa, i2), a2);
        b0 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 24), _mm256_permutevar8x32_ps(xb, i0), b0);
        b1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 32), _mm256_permutevar8x32_ps(xb, i1), b1);
        b2 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 40), _mm256_permutevar8x32_ps(xb, i2), b2);
    }
    for (; k + 4 <= K; k += 4) {
        const float *p = panel + k * 6;
        __m256 xa = _mm256_castps128_ps256(_mm_loadu_ps(x + k));
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_permutevar8x32_ps(xa, i0), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 8), _mm256_permutevar8x32_ps(xa, i1), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 16), _mm256_permutevar8x32_ps(xa, i2), a2);
    }
    float f[24];
    _mm256_storeu_ps(f, _mm256_add_ps(a0, b0));
    _mm256_storeu_ps(f + 8, _mm256_add_ps(a1, b1));
    _mm256_storeu_ps(f + 16, _mm256_add_ps(a2, b2));
    for (int r = 0; r < 6; r++)
        out[r] = (f[r] + f[6 + r]) + (f[12 + r] + f[18 + r]);
    for (; k < K; k++)
        for (int r = 0; r < 6; r++)
            out[r] += panel[k * 6 + r] * x[k];
}
