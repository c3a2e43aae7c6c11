/* Packed GEMV panel kernel with AVX-512 (see sgemv.h). A 16-row panel
 * (KN_SGEMM_MR_AVX512) stores k-major groups of 16 floats: one vector per k,
 * multiplied by x[k] broadcast, with four independent accumulators over k so
 * the FMA latency is hidden; the loads stream the weights once. */
#include "ops/sgemv.h"

#include <immintrin.h>

void kn_sgemv_panel_avx512(const float *panel, int mr, int64_t K, const float *x, float *out)
{
    if (mr != 16) {
        kn_sgemv_panel_generic(panel, mr, K, x, out);
        return;
    }
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
        const float *p = panel + k * 16;
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p), _mm512_set1_ps(x[k]), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 16), _mm512_set1_ps(x[k + 1]), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 32), _mm512_set1_ps(x[k + 2]), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 48), _mm512_set1_ps(x[k + 3]), a3);
    }
    for (; k < K; k++)
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(panel + k * 16), _mm512_set1_ps(x[k]), a0);
    _mm512_storeu_ps(out, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}
