/* Activations over contiguous floats with AVX2 vectors. Called through
 * kn_act_apply only on CPUs with AVX2, and directly by the AVX2 depthwise
 * kernel. Sigmoid and SiLU use the inline exp below instead of a library
 * call: they run on most activations of networks like EfficientNet. */
#include "ops/sgemm.h"

#include <immintrin.h>

/* e^x for x <= 0 (NaN propagates): x = n ln2 + r with |r| <= ln2 / 2
 * (ln2 split in two for an exact n ln2), e^r from Cephes' degree-5
 * polynomial (about 1 ulp), 2^n through the exponent bits. Below -87.3 the
 * input is clamped, giving about 1e-38 instead of a denormal or 0. */
static inline __m256 exp_nonpos(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* 1 / (1 + e^-x) from z = e^-|x|, which cannot overflow: 1 / (1 + z) for
 * x >= 0, z / (1 + z) for x < 0. */
static inline __m256 sigmoid_vec(__m256 v)
{
    __m256 z = exp_nonpos(_mm256_or_ps(v, _mm256_set1_ps(-0.0f)));
    __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), z));
    return _mm256_blendv_ps(s, _mm256_mul_ps(z, s), v);
}

static inline __attribute__((always_inline)) __m256 act_vec(const kn_epilogue *ep, __m256 v, kn_act act)
{
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    switch (act) {
    case KN_ACT_NONE: return v;
    case KN_ACT_RELU: return _mm256_max_ps(v, zero);
    case KN_ACT_CLIP: return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(ep->alpha)), _mm256_set1_ps(ep->beta));
    case KN_ACT_LEAKY_RELU: {
        __m256 neg = _mm256_cmp_ps(v, zero, _CMP_LT_OQ);
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(ep->alpha)), neg);
    }
    case KN_ACT_SIGMOID: return sigmoid_vec(v);
    case KN_ACT_SILU: return _mm256_mul_ps(v, sigmoid_vec(v));
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

/* One loop per activation (act is a constant in each copy), the tail
 * through masked loads and stores. */
static inline __attribute__((always_inline)) void act_loop(const kn_epilogue *ep, float *x, int64_t n, kn_act act)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        _mm256_storeu_ps(x + i, act_vec(ep, a, act));
        _mm256_storeu_ps(x + i + 8, act_vec(ep, b, act));
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, act_vec(ep, _mm256_loadu_ps(x + i), act));
    if (i < n) {
        static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
        __m256i m = _mm256_loadu_si256((const __m256i *)(ones + 8 - (n - i)));
        _mm256_maskstore_ps(x + i, m, act_vec(ep, _mm256_maskload_ps(x + i, m), act));
    }
}

void kn_act_apply_avx2(const kn_epilogue *ep, float *x, int64_t n)
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
