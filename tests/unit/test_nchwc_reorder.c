/* NCHW <-> NCHWc reorders (nchwc_reorder*.c) at every ISA this CPU has,
 * against the index formula of the blocked layout: channel counts around
 * the 16-lane block (pad lanes must come out as +0.0f, and reorder_out
 * must drop whatever they hold), pixel counts below, at and past 16-pixel
 * tiles (8-pixel for AVX2) and 256-pixel tasks, two images, 1 and 2
 * threads bit for bit. */
#include "harness.h"
#include "ops/nchwc.h"
#include "runtime/runtime.h"

#include <math.h>

static void check(int64_t N, int64_t C, int64_t H, int64_t W, kn_isa_level isa, pthreadpool_t pool)
{
    const int64_t HW = H * W, CB = kn_nchwc_blocks(C);
    const int64_t nb = N * CB * HW * 16, nx = N * C * HW;
    kiln_tensor *xt = kt_f32_random(KT_DIMS(N, C, H, W), (uint32_t)(C * 131 + HW), -3.0f, 3.0f);
    const float *x = xt->data;
    float *b1 = test_malloc((size_t)nb * sizeof(float)), *b2 = test_malloc((size_t)nb * sizeof(float));
    float *z1 = test_malloc((size_t)nx * sizeof(float)), *z2 = test_malloc((size_t)nx * sizeof(float));
    /* NaN first: every element must be written */
    for (int64_t i = 0; i < nb; i++)
        b1[i] = b2[i] = NAN;
    kn_nchwc_reorder_in(N, C, H, W, x, b1, isa, NULL);
    kn_nchwc_reorder_in(N, C, H, W, x, b2, isa, pool);
    for (int64_t n = 0; n < N; n++)
        for (int64_t cb = 0; cb < CB; cb++)
            for (int64_t p = 0; p < HW; p++)
                for (int64_t l = 0; l < 16; l++) {
                    const int64_t c = cb * 16 + l, i = ((n * CB + cb) * HW + p) * 16 + l;
                    const float want = c < C ? x[(n * C + c) * HW + p] : 0.0f;
                    if (memcmp(&b1[i], &want, sizeof want) != 0)
                        fail_msg("in: N %lld C %lld HW %lld isa %d: n %lld c %lld p %lld: %g, want %g",
                                 (long long)N, (long long)C, (long long)HW, (int)isa, (long long)n, (long long)c,
                                 (long long)p, b1[i], want);
                }
    assert_memory_equal(b1, b2, (size_t)nb * sizeof(float));
    /* round trip, with NaN in the pad lanes: they must be dropped */
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < HW; p++)
            for (int64_t l = C % 16 ? C % 16 : 16; l < 16; l++)
                b1[((n * CB + CB - 1) * HW + p) * 16 + l] = NAN;
    for (int64_t i = 0; i < nx; i++)
        z1[i] = z2[i] = NAN;
    kn_nchwc_reorder_out(N, C, H, W, b1, z1, isa, NULL);
    kn_nchwc_reorder_out(N, C, H, W, b1, z2, isa, pool);
    if (memcmp(z1, x, (size_t)nx * sizeof(float)) != 0)
        fail_msg("out: N %lld C %lld HW %lld isa %d: round trip differs", (long long)N, (long long)C,
                 (long long)HW, (int)isa);
    assert_memory_equal(z1, z2, (size_t)nx * sizeof(float));
    test_free(b1);
    test_free(b2);
    test_free(z1);
    test_free(z2);
    kn_tensor_free(xt);
}

static void test_reorders(void **state)
{
    (void)state;
    static const int64_t cs[] = {1, 3, 15, 16, 17, 33, 64};
    static const int64_t hws[][2] = {{1, 1}, {1, 3}, {17, 1}, {7, 7}, {56, 56}, {16, 17}, {3, 95}};
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++)
        for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++)
            for (size_t s = 0; s < sizeof hws / sizeof hws[0]; s++)
                for (int64_t N = 1; N <= 2; N++)
                    check(N, cs[c], hws[s][0], hws[s][1], (kn_isa_level)isa, pool);
    pthreadpool_destroy(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reorders)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
