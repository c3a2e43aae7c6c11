/* Activations over contiguous floats with AVX-512 vectors. Called through
 * kn_act_apply only on CPUs with AVX-512F, and directly by the AVX-512
 * depthwise kernel. Sigmoid and SiLU use the inline exp of act_avx512.h instead of a
 * library call (SLEEF's expf was a call per vector): they run on most
 * activations of networks like EfficientNet, where inlining took the exp
 * from 129M instructions per 4 runs to a part of the activation loop.
 * Measured over every float in (-86, 0]: exp within 1.26 ulp of the double
 * result, sigmoid within 1.5 ulp (tests/unit/test_act.c checks 4 ulp). */
#include "ops/act_avx512.h"

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
