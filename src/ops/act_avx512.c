/* Activations over contiguous floats with AVX512 vectors; exp from SLEEF
 * (1-ulp accuracy). Called through kn_act_apply only on CPUs with AVX512. */
#include "ops/sgemm.h"

#include <immintrin.h>
#include <sleef.h>

static inline __m512 act_vec(const kn_epilogue *ep, __m512 v)
{
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    switch (ep->act) {
    case KN_ACT_NONE: return v;
    case KN_ACT_RELU: return _mm512_max_ps(v, zero);
    case KN_ACT_CLIP: return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(ep->alpha)), _mm512_set1_ps(ep->beta));
    case KN_ACT_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(ep->alpha));
    }
    case KN_ACT_SIGMOID: return _mm512_div_ps(one, _mm512_add_ps(one, Sleef_expf16_u10avx512f(_mm512_sub_ps(zero, v))));
    case KN_ACT_SILU: return _mm512_div_ps(v, _mm512_add_ps(one, Sleef_expf16_u10avx512f(_mm512_sub_ps(zero, v))));
    case KN_ACT_HARD_SIGMOID: {
        __m512 t = _mm512_add_ps(_mm512_mul_ps(v, _mm512_set1_ps(ep->alpha)), _mm512_set1_ps(ep->beta));
        return _mm512_min_ps(_mm512_max_ps(t, zero), one);
    }
    case KN_ACT_HARD_SWISH: {
        __m512 t = _mm512_add_ps(_mm512_div_ps(v, _mm512_set1_ps(6.0f)), _mm512_set1_ps(0.5f));
        return _mm512_mul_ps(v, _mm512_min_ps(_mm512_max_ps(t, zero), one));
    }
    }
    return v;
}

void kn_act_apply_avx512(const kn_epilogue *ep, float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, act_vec(ep, _mm512_loadu_ps(x + i)));
    if (i < n) {
        float tail[16] = {0};
        for (int64_t k = i; k < n; k++)
            tail[k - i] = x[k];
        _mm512_storeu_ps(tail, act_vec(ep, _mm512_loadu_ps(tail)));
        for (int64_t k = i; k < n; k++)
            x[k] = tail[k - i];
    }
}
