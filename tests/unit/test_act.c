/* The vector activations' own exp (act_avx2.c / act_avx512.c) against
 * double precision over the whole float range that matters: a dense sweep
 * of [-100, 100] (sigmoid saturating on both sides, the exp clamp near
 * -87.3), the exact powers of two around the reduction's rounding points,
 * and the special values (signed zeros, infinities, NaN). */
#include "harness.h"
#include "ops/sgemm.h"
#include "runtime/runtime.h"

#include <math.h>

static double want(kn_act act, double x)
{
    double s = 1.0 / (1.0 + exp(-x));
    return act == KN_ACT_SILU ? x * s : s;
}

static void apply(kn_isa_level isa, const kn_epilogue *ep, float *x, int64_t n)
{
    if (isa == KN_ISA_AVX512)
        kn_act_apply_avx512(ep, x, n);
    else
        kn_act_apply_avx2(ep, x, n);
}

static void test_sigmoid_silu_accuracy(void **state)
{
    (void)state;
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    const int64_t n = 200001; /* odd: a masked tail */
    float *in = kn_malloc((size_t)n * sizeof(float)), *y = kn_malloc((size_t)n * sizeof(float));
    assert_non_null(in);
    assert_non_null(y);
    for (int64_t i = 0; i < n; i++)
        in[i] = -100.0f + 200.0f * (float)i / (float)(n - 1);
    static const kn_act acts[] = {KN_ACT_SIGMOID, KN_ACT_SILU};
    for (int isa = KN_ISA_AVX2; isa <= (int)best; isa++)
        for (size_t a = 0; a < 2; a++) {
            kn_epilogue ep = {.act = acts[a]};
            memcpy(y, in, (size_t)n * sizeof(float));
            apply((kn_isa_level)isa, &ep, y, n);
            for (int64_t i = 0; i < n; i++) {
                double w = want(acts[a], in[i]);
                /* 4 float ulps relative; below 1e-30 the clamped exp only
                 * has to stay tiny */
                double tol = fabs(w) > 1e-30 ? 4.8e-7 * fabs(w) : 1e-30 * (1.0 + fabs(in[i]));
                if (!(fabs(y[i] - w) <= tol))
                    fail_msg("isa %d act %d x %.9g: got %.9g want %.9g", isa, (int)acts[a], in[i], y[i], w);
            }
        }
    kn_free(in);
    kn_free(y);
}

static void test_special_values(void **state)
{
    (void)state;
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    const float x[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 88.5f, -88.5f, 87.3f, -87.3f, 1e-30f, -1e-30f,
                       0.34657359f, -0.34657359f, 0.5f, -0.5f, 1.0f, -1.0f};
    const int64_t n = (int64_t)(sizeof x / sizeof x[0]);
    for (int isa = KN_ISA_AVX2; isa <= (int)best; isa++) {
        float s[sizeof x / sizeof x[0]], u[sizeof x / sizeof x[0]];
        memcpy(s, x, sizeof x);
        memcpy(u, x, sizeof x);
        apply((kn_isa_level)isa, &(kn_epilogue){.act = KN_ACT_SIGMOID}, s, n);
        apply((kn_isa_level)isa, &(kn_epilogue){.act = KN_ACT_SILU}, u, n);
        assert_true(s[0] == 0.5f && s[1] == 0.5f);
        assert_true(s[2] == 1.0f);
        assert_true(s[3] >= 0.0f && s[3] < 1e-37f);
        assert_true(isnan(s[4]) && isnan(u[4]));
        assert_true(u[0] == 0.0f && u[2] == INFINITY);
        assert_true(s[5] == 1.0f && u[5] == 88.5f);
        for (int64_t i = 5; i < n; i++) {
            assert_true(fabs(s[i] - want(KN_ACT_SIGMOID, x[i])) <= 4.8e-7 * want(KN_ACT_SIGMOID, x[i]) + 1e-37);
            double wu = want(KN_ACT_SILU, x[i]);
            assert_true(fabs(u[i] - wu) <= 4.8e-7 * fabs(wu) + 1e-35);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigmoid_silu_accuracy),
        cmocka_unit_test(test_special_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
