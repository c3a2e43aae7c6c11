/* Activations over contiguous floats with AVX2 vectors; exp from SLEEF
 * (1-ulp accuracy). Called through kn_act_apply only on CPUs with AVX2. */
#include "ops/sgemm.h"

#include <immintrin.h>
#include <sleef.h>

static inline __m256 act_vec(const kn_epilogue *ep, __m256 v)
{
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    switch (ep->act) {
    case KN_ACT_NONE: return v;
    case KN_ACT_RELU: return _mm256_max_ps(v, zero);
    case KN_ACT_CLIP: return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(ep->alpha)), _mm256_set1_ps(ep->beta));
    case KN_ACT_LEAKY_RELU: {
        __m256 neg = _mm256_cmp_ps(v, zero, _CMP_LT_OQ);
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(ep->alpha)), neg);
    }
    case KN_ACT_SIGMOID: return _mm256_div_ps(one, _mm256_add_ps(one, Sleef_expf8_u10avx2(_mm256_sub_ps(zero, v))));
    case KN_ACT_SILU: return _mm256_div_ps(v, _mm256_add_ps(one, Sleef_expf8_u10avx2(_mm256_sub_ps(zero, v))));
    case KN_ACT_HARD_SIGMOID: {
        __m256 t = _mm256_add_ps(_mm256_mul_ps(v, _mm256_set1_ps(ep->alpha)), _mm256_set1_ps(ep->beta));
        return _mm256_min_ps(_mm256_max_ps(t, zero), one);
    }
    case KN_ACT_HARD_SWISH: {
        __m256 t = _mm256_add_ps(_mm256_div_ps(v, _mm256_set1_ps(6.0f)), _mm256_set1_ps(0.5f));
        return _mm256_mul_ps(v, _mm256_min_ps(_mm256_max_ps(t, zero), one));
    }
    }
    return v;
}

void kn_act_apply_avx2(const kn_epilogue *ep, float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, act_vec(ep, _mm256_loadu_ps(x + i)));
    if (i < n) {
        float tail[8] = {0};
        for (int64_t k = i; k < n; k++)
            tail[k - i] = x[k];
        _mm256_storeu_ps(tail, act_vec(ep, _mm256_loadu_ps(tail)));
        for (int64_t k = i; k < n; k++)
            x[k] = tail[k - i];
    }
}
