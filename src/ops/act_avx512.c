/* Activations over contiguous floats with AVX-512 vectors. Called through
 * kn_act_apply only on CPUs with AVX-512F, and directly by the AVX-512
 * depthwise kernel. Sigmoid and SiLU use the inline exp below instead of a
 * library call (SLEEF's expf was a call per vector): they run on most
 * activations of networks like EfficientNet, where inlining took the exp
 * from 129M instructions per 4 runs to a part of the activation loop.
 * Measured over every float in (-86, 0]: exp within 1.26 ulp of the double
 * result, sigmoid within 1.5 ulp (tests/unit/test_act.c checks 4 ulp). */
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

/* One loop per activation (act is a constant in each copy), the tail
 * through masked loads and stores. */
static inline __attribute__((always_inline)) void act_loop(const kn_epilogue *ep, float *x, int64_t n, kn_act act)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, act_vec(ep, _mm512_loadu_ps(x + i), act));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(x + i, m, act_vec(ep, _mm512_maskz_loadu_ps(m, x + i), act));
    }
}

void kn_act_apply_avx512(const kn_epilogue *ep, float *x, int64_t n)
{
    switch (ep->act) {
    case KN_ACT_NONE: return;
    case KN_ACT_RELU: act_loop(ep, x, n, KN_ACT_RELU); return;
    case KN_ACT_CLIP: act_loop(ep, x, n, KN_ACT_CLIP); return;
    case KN_ACT_LEAKY_RELU: act_loop(ep, x, n, KN_ACT_LEAKY_RELU); return;
    case KN_ACT_SIGMOID: act_loop(ep, x, n, KN_ACT_SIGMOID); return;
    case KN_ACT_SILU: act_loop(ep, x, n, KN_ACT_SILU); return;
    case KN_ACT_HARD_SIGMOID: act_loop(ep, x, n, KN_ACT_HARD_SIGMOID); return;
    case KN_ACT_HARD_SWISH: act_loop(ep, x, n, KN_ACT_HARD_SWISH); return;
    }
}
