/* Packed GEMV panel kernel with AVX-512 (see sgemv.h). A 12-row panel
 * stores k-major groups of 12 floats, so 4 consecutive k fill exactly 3
 * vectors; each vector is multiplied by x spread to match ([x0 x12, x1 x4],
 * ...) and the lanes of a row are summed at the end. */
#include "ops/sgemv.h"

#include <immintrin.h>

void kn_sgemv_panel_avx512(const float *panel, int mr, int64_t K, const float *x, float *out)
{
    if (mr != 12) {
        kn_sgemv_panel_generic(panel, mr, K, x, out);
        return;
    }
    const __m512i i0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1);
    const __m512i i1 = _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2);
    const __m512i i2 = _mm512_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, b0 = a0, b1 = a0, b2 = a0;
    int64_t k = 0;
    /* two sets of accumulators: six independent FMA chains */
    for (; k + 8 <= K; k += 8) {
        const float *p = panel + k * 12;
        __m512 xa = _mm512_castps128_ps512(_mm_loadu_ps(x + k));
        __m512 xb = _mm512_castps128_ps512(_mm_loadu_ps(x + k + 4));
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p), _mm512_permutexvar_ps(i0, xa), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 16), _mm512_permutexvar_ps(i1, xa), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 32), _mm512_permutexvar_ps(i2, xa), a2);
        b0 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 48), _mm512_permutexvar_ps(i0, xb), b0);
        b1 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 64), _mm512_permutexvar_ps(i1, xb), b1);
        b2 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 80), _mm512_permutexvar_ps(i2, xb), b2);
    }
    for (; k + 4 <= K; k += 4) {
        const float *p = panel + k * 12;
        __m512 xa = _mm512_castps128_ps512(_mm_loadu_ps(x + k));
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p), _mm512_permutexvar_ps(i0, xa), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 16), _mm512_permutexvar_ps(i1, xa), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 32), _mm512_permutexvar_ps(i2, xa), a2);
    }
    float f[48];
    _mm512_storeu_ps(f, _mm512_add_ps(a0, b0));
    _mm512_storeu_ps(f + 16, _mm512_add_ps(a1, b1));
    _mm512_storeu_ps(f + 32, _mm512_add_ps(a2, b2));
    for (int r = 0; r < 12; r++)
        out[r] = (f[r] + f[12 + r]) + (f[24 + r] + f[36 + r]);
    for (; k < K; k++)
        for (int r = 0; r < 12; r++)
            out[r] += panel[k * 12 + r] * x[k];
}
