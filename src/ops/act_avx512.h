/* The AVX-512 activation of one vector, shared by kn_act_apply_avx512 and
 * the GEMM micro-kernel's in-register epilogue: both must give the same bits
 * for the same input, so there is one definition. Include only from files
 * compiled for AVX-512F. */
#ifndef KN_ACT_AVX512_H
#define KN_ACT_AVX512_H

#include "ops/sgemm.h"

#include <immintrin.h>

/* e^x for x <= 0 (NaN propagates): x = n ln2 + r with |r| <= ln2 / 2
 * (ln2 split in two for an exact n ln2), e^r from Cephes' degree-5
 * polynomial (about 1 ulp), times 2^n by scalef. Below -87.3 the input is
 * clamped, giving about 1e-38 instead of a denormal or 0 (as in the AVX2
 * form). */
static inline __m512 exp_nonpos(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(-87.3f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* 1 / (1 + e^-x) from z = e^-|x|, which cannot overflow: 1 / (1 + z) for
 * x >= 0, z / (1 + z) for x < 0. */
static inline __m512 sigmoid_vec(__m512 v)
{
    __m512 z = exp_nonpos(_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v),
                                                              _mm512_set1_epi32((int)0x80000000u))));
    __m512 s = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), z));
    __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_mul_ps(s, neg, z, s);
}

static inline __attribute__((always_inline)) __m512 act_vec(const kn_epilogue *ep, __m512 v, kn_act act)
{
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    switch (act) {
    case KN_ACT_NONE: return v;
    case KN_ACT_RELU: return _mm512_max_ps(v, zero);
    case KN_ACT_CLIP: return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(ep->alpha)), _mm512_set1_ps(ep->beta));
    case KN_ACT_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(ep->alpha));
    }
    case KN_ACT_SIGMOID: return sigmoid_vec(v);
    case KN_ACT_SILU: return _mm512_mul_ps(v, sigmoid_vec(v));
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

#endif
