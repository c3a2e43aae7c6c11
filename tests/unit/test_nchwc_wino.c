/* The blocked Winograd F(2x2, 3x3) convolution (kn_nchwc_wino_*, portable
 * and AVX-512 forms) against the NCHW reference convolution (conv_ref.c),
 * with the test's own reorders to and from the blocked layout. Shapes:
 * planes 1, 2, 3, 7, 14, 17 and 56-ish (odd sizes: edge tiles half outside
 * the output), pads 0 and 1, asymmetric and one-sided, channels 16, 17, 33
 * and 64 (pad lanes, one to four blocks), N = 2 (tiles of two images in one
 * span), spans split over the tiles; residual (also in place), every
 * activation, the strided output of a channel Concat. 1, 2 and 4 threads
 * (a span per thread, or a span's products over the threads) must give
 * identical bits, every output element (pad lanes included) must be
 * written and pad lanes hold act(0).
 *
 * Tolerance: relative 1e-4, absolute 5e-5 on outputs of magnitude about 1
 * (inputs in [-2, 2], weights scaled by 1 / sqrt(9 C), reductions of 144
 * to 2700 terms). The direct kernels pass with 1e-5 absolute; Winograd's
 * transforms add and subtract terms up to 4 times larger than the plain
 * products before they cancel, so its rounding error is a few times larger
 * (measured: between 2e-6 and 1e-5 absolute on these cases), but it stays
 * float rounding -- a wrong tap or transform coefficient is off by the size
 * of a weight times an input, 1e-2 or more (G's 0.5 as 0.5001 already
 * fails). */
#include "harness.h"
#include "ops/conv_ref.h"
#include "ops/nchwc.h"
#include "runtime/runtime.h"

#include <math.h>

typedef struct wino_case {
    int64_t N, C, M, H, W, PT, PL, PB, PR;
} wino_case;

static const wino_case cases[] = {
    /* N  C   M   H   W  PT PL PB PR */
    {1, 16, 16, 1, 1, 1, 1, 1, 1},
    {1, 17, 16, 2, 2, 1, 1, 1, 1},
    {1, 16, 17, 3, 3, 1, 1, 1, 1},
    {2, 33, 64, 7, 7, 1, 1, 1, 1},
    {1, 64, 33, 14, 14, 1, 1, 1, 1},
    {1, 17, 64, 17, 17, 1, 1, 1, 1},
    {2, 64, 64, 14, 14, 1, 1, 1, 1},
    {1, 16, 64, 56, 56, 1, 1, 1, 1},
    {1, 33, 17, 57, 55, 1, 1, 1, 1},
    /* no padding, one-sided and asymmetric */
    {1, 16, 16, 3, 3, 0, 0, 0, 0},
    {1, 17, 33, 7, 8, 0, 0, 0, 0},
    {2, 33, 16, 17, 14, 0, 1, 1, 0},
    {1, 16, 33, 7, 9, 1, 0, 0, 1},
    {1, 64, 64, 14, 17, 0, 1, 0, 1},
    {1, 16, 17, 1, 7, 1, 1, 1, 1},
    {1, 17, 16, 7, 2, 1, 0, 1, 1},
    /* several spans: 784 tiles of 16 -> 64 channels */
    {2, 16, 64, 56, 56, 1, 1, 1, 1},
    /* a wide layer: spans of the smallest length */
    {1, 300, 200, 9, 11, 1, 1, 1, 1},
};

/* x [N, C, H, W] -> blocked [N][CB][H][W][16], pad lanes set to pad. */
static float *to_blocked(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float pad)
{
    const int64_t CB = kn_nchwc_blocks(C);
    float *y = kn_aligned_alloc((size_t)(N * CB * H * W * 16) * sizeof(float));
    assert_non_null(y);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < CB * 16; c++)
            for (int64_t i = 0; i < H * W; i++)
                y[((n * CB + c / 16) * H * W + i) * 16 + c % 16] = c < C ? x[(n * C + c) * H * W + i] : pad;
    return y;
}

/* blocked (image n at n * ys_img floats) -> [N, C, H, W]; pad lanes must
 * equal pad_want (up to 1e-6). */
static void from_blocked(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, int64_t ys_img, float *y,
                         float pad_want)
{
    const int64_t CB = kn_nchwc_blocks(C);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < CB * 16; c++)
            for (int64_t i = 0; i < H * W; i++) {
                float v = x[n * ys_img + ((c / 16) * H * W + i) * 16 + c % 16];
                if (c < C)
                    y[(n * C + c) * H * W + i] = v;
                else if (!(fabsf(v - pad_want) <= 1e-6f))
                    fail_msg("pad lane %lld of pixel %lld: %g, expected %g", (long long)c, (long long)i, v,
                             pad_want);
            }
}

/* strided: image n of y at n * (its size + 3 blocks), the gaps must stay
 * untouched */
/* pool: 2 threads; pool4: 4, fewer than some shapes' spans (the span's
 * products split over the threads rather than a span per thread) */
static pthreadpool_t pool4;

static void check(const wino_case *k, kn_isa_level isa, kn_act act, bool residual, bool bias, bool strided,
                  pthreadpool_t pool)
{
    const int64_t OH = k->H + k->PT + k->PB - 2, OW = k->W + k->PL + k->PR - 2;
    const int64_t MB = kn_nchwc_blocks(k->M), img = MB * 16 * OH * OW;
    const int64_t ys_img = strided ? img + 3 * 16 * OH * OW : img, yn = k->N * ys_img;
    const float ws = 1.0f / sqrtf((float)(k->C * 9));
    kiln_tensor *x = kt_f32_random(KT_DIMS(k->N, k->C, k->H, k->W), 41, -2, 2);
    kiln_tensor *w = kt_f32_random(KT_DIMS(k->M, k->C, 3, 3), 42, -ws, ws);
    kiln_tensor *b = kt_f32_random(KT_DIMS(k->M), 43, -1, 1);
    kiln_tensor *r = kt_f32_random(KT_DIMS(k->N, k->M, OH, OW), 44, -1, 1);
    kiln_tensor *want = kt_f32(KT_DIMS(k->N, k->M, OH, OW), NULL);
    kiln_tensor *got = kt_f32(KT_DIMS(k->N, k->M, OH, OW), NULL);
    const kn_conv2d_geom rg = {1, 1, 1, 1, k->PT, k->PL};
    kt_conv2d_ref(k->N, k->C, k->M, 1, k->H, k->W, 3, 3, &rg, OH, OW, x->data, w->data, bias ? b->data : NULL,
                  want->data);
    kn_epilogue ep = {.act = act, .alpha = act == KN_ACT_CLIP ? -0.5f : 0.2f, .beta = act == KN_ACT_CLIP ? 0.7f : 0.5f};
    float *wd = want->data;
    const float *rd = r->data;
    for (int64_t i = 0; i < kn_tensor_count(want); i++)
        wd[i] = kn_act_scalar(&ep, wd[i] + (residual ? rd[i] : 0.0f));

    kn_nchwc_wino *p;
    assert_int_equal(kn_nchwc_wino_pack(k->M, k->C, w->data, bias ? b->data : NULL, isa, &p), KILN_OK);
    float *xb = to_blocked(k->N, k->C, k->H, k->W, x->data, 0.0f);
    float *rb = to_blocked(k->N, k->M, OH, OW, rd, 0.0f);
    float *y1 = kn_aligned_alloc((size_t)yn * sizeof(float)), *y2 = kn_aligned_alloc((size_t)yn * sizeof(float));
    assert_non_null(y1);
    assert_non_null(y2);
    for (int64_t i = 0; i < yn; i++)
        y1[i] = y2[i] = NAN;
    const kn_epilogue *epp = act == KN_ACT_NONE ? NULL : &ep;
    const float *rin = residual ? rb : NULL;
    const int64_t ys = strided ? ys_img : 0;
    assert_int_equal(kn_nchwc_wino_run(p, k->PT, k->PL, k->N, k->H, k->W, OH, OW, xb, y1, ys, rin, epp, NULL),
                     KILN_OK);
    assert_int_equal(kn_nchwc_wino_run(p, k->PT, k->PL, k->N, k->H, k->W, OH, OW, xb, y2, ys, rin, epp, pool),
                     KILN_OK);
    for (int64_t i = 0; i < yn; i++)
        if (memcmp(&y1[i], &y2[i], sizeof(float)) != 0)
            fail_msg("1 and 2 threads differ at %lld: %a vs %a", (long long)i, y1[i], y2[i]);
    assert_int_equal(kn_nchwc_wino_run(p, k->PT, k->PL, k->N, k->H, k->W, OH, OW, xb, y2, ys, rin, epp, pool4),
                     KILN_OK);
    assert_memory_equal(y1, y2, (size_t)yn * sizeof(float));
    if (strided)
        for (int64_t n = 0; n < k->N; n++)
            for (int64_t i = img; i < ys_img; i++)
                if (!isnan(y1[n * ys_img + i]))
                    fail_msg("strided output: gap of image %lld written at %lld", (long long)n, (long long)i);
    if (residual) {
        /* in place: y is the residual */
        memcpy(y2, rb, (size_t)yn * sizeof(float));
        assert_int_equal(kn_nchwc_wino_run(p, k->PT, k->PL, k->N, k->H, k->W, OH, OW, xb, y2, 0, y2, epp, pool),
                         KILN_OK);
        assert_memory_equal(y1, y2, (size_t)yn * sizeof(float));
    }
    from_blocked(k->N, k->M, OH, OW, y1, ys_img, got->data, kn_act_scalar(&ep, 0.0f));
    kt_assert_tensors_close(got, want, 1e-4, 5e-5);

    kn_nchwc_wino_free(p);
    kn_aligned_free(xb);
    kn_aligned_free(rb);
    kn_aligned_free(y1);
    kn_aligned_free(y2);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(b);
    kn_tensor_free(r);
    kn_tensor_free(want);
    kn_tensor_free(got);
}

/* The forms this CPU can run: the portable one and AVX-512 if present. */
static int n_isas(kn_isa_level *isas)
{
    int n = 0;
    isas[n++] = KN_ISA_GENERIC;
    if (kn_cpu_isa(KILN_ISA_AUTO) >= KN_ISA_AVX512)
        isas[n++] = KN_ISA_AVX512;
    return n;
}

static const kn_act acts[] = {KN_ACT_NONE, KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_SILU, KN_ACT_SIGMOID,
                              KN_ACT_LEAKY_RELU, KN_ACT_HARD_SWISH, KN_ACT_HARD_SIGMOID};
#define N_ACTS (sizeof acts / sizeof acts[0])

static void test_against_reference(void **state)
{
    (void)state;
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level isas[2];
    const int ni = n_isas(isas);
    for (int j = 0; j < ni; j++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            /* every case plain, and with a rotating activation and residual */
            check(&cases[i], isas[j], KN_ACT_NONE, false, true, false, pool);
            check(&cases[i], isas[j], acts[1 + i % (N_ACTS - 1)], i % 2 == 0, i % 3 != 0, false, pool);
        }
    pthreadpool_destroy(pool);
}

static void test_every_activation(void **state)
{
    (void)state;
    /* edge tiles on both sides, partial blocks, two images */
    static const wino_case k[] = {
        {2, 17, 40, 9, 13, 1, 1, 1, 1},
        {1, 64, 64, 7, 7, 1, 1, 1, 1},
    };
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level isas[2];
    const int ni = n_isas(isas);
    for (int j = 0; j < ni; j++)
        for (size_t c = 0; c < sizeof k / sizeof k[0]; c++)
            for (size_t a = 0; a < N_ACTS; a++) {
                check(&k[c], isas[j], acts[a], true, true, false, pool);
                check(&k[c], isas[j], acts[a], false, a % 2 == 0, false, pool);
            }
    pthreadpool_destroy(pool);
}

static void test_strided_output(void **state)
{
    (void)state;
    static const wino_case k[] = {
        {2, 17, 40, 9, 13, 1, 1, 1, 1},
        {2, 64, 64, 14, 14, 1, 1, 1, 1},
    };
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level isas[2];
    const int ni = n_isas(isas);
    for (int j = 0; j < ni; j++)
        for (size_t c = 0; c < sizeof k / sizeof k[0]; c++)
            check(&k[c], isas[j], KN_ACT_RELU, false, true, true, pool);
    pthreadpool_destroy(pool);
}

/* The AVX-512 epilogue applies act_vec, as kn_act_apply_avx512 does: the
 * same bits as the activation run separately over the pre-activation
 * output. */
static void test_avx512_epilogue_matches_act_apply(void **state)
{
    (void)state;
    if (kn_cpu_isa(KILN_ISA_AUTO) < KN_ISA_AVX512)
        skip();
    const int64_t C = 20, M = 50, H = 8, W = 9;
    const int64_t n = kn_nchwc_blocks(M) * 16 * H * W;
    kiln_tensor *x = kt_f32_random(KT_DIMS(1, C, H, W), 51, -2, 2);
    kiln_tensor *w = kt_f32_random(KT_DIMS(M, C, 3, 3), 52, -0.2f, 0.2f);
    kiln_tensor *b = kt_f32_random(KT_DIMS(M), 53, -1, 1);
    float *xb = to_blocked(1, C, H, W, x->data, 0.0f);
    float *y0 = kn_aligned_alloc((size_t)n * sizeof(float)), *y1 = kn_aligned_alloc((size_t)n * sizeof(float));
    assert_non_null(y0);
    assert_non_null(y1);
    kn_nchwc_wino *p;
    assert_int_equal(kn_nchwc_wino_pack(M, C, w->data, b->data, KN_ISA_AVX512, &p), KILN_OK);
    static const kn_act va[] = {KN_ACT_SILU, KN_ACT_SIGMOID, KN_ACT_HARD_SWISH, KN_ACT_LEAKY_RELU,
                                KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_HARD_SIGMOID};
    for (size_t a = 0; a < sizeof va / sizeof va[0]; a++) {
        kn_epilogue ep = {.act = va[a], .alpha = 0.2f, .beta = 0.5f};
        assert_int_equal(kn_nchwc_wino_run(p, 1, 1, 1, H, W, H, W, xb, y0, 0, NULL, NULL, NULL), KILN_OK);
        kn_act_apply_avx512(&ep, y0, n);
        assert_int_equal(kn_nchwc_wino_run(p, 1, 1, 1, H, W, H, W, xb, y1, 0, NULL, &ep, NULL), KILN_OK);
        assert_memory_equal(y0, y1, (size_t)n * sizeof(float));
    }
    kn_nchwc_wino_free(p);
    kn_aligned_free(xb);
    kn_aligned_free(y0);
    kn_aligned_free(y1);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(b);
}

/* The Winograd run against the direct blocked conv on a ResNet-like layer
 * (64 channels, 14x14 and 56x56): the error relative to the output's
 * magnitude stays at float rounding level. */
static void test_matches_direct(void **state)
{
    (void)state;
    static const int64_t sizes[] = {14, 56};
    kn_isa_level isas[2];
    const int ni = n_isas(isas);
    for (int j = 0; j < ni; j++)
        for (size_t s = 0; s < 2; s++) {
            const int64_t C = 64, M = 64, H = sizes[s], n = M * H * H;
            const float ws = 1.0f / sqrtf((float)(C * 9));
            kiln_tensor *x = kt_f32_random(KT_DIMS(1, C, H, H), 61, -2, 2);
            kiln_tensor *w = kt_f32_random(KT_DIMS(M, C, 3, 3), 62, -ws, ws);
            float *xb = to_blocked(1, C, H, H, x->data, 0.0f);
            float *y0 = kn_aligned_alloc((size_t)n * sizeof(float)), *y1 = kn_aligned_alloc((size_t)n * sizeof(float));
            assert_non_null(y0);
            assert_non_null(y1);
            kn_nchwc_wino *p;
            kn_nchwc_conv *d;
            assert_int_equal(kn_nchwc_wino_pack(M, C, w->data, NULL, isas[j], &p), KILN_OK);
            assert_int_equal(kn_nchwc_conv_pack(M, C, 3, 3, w->data, NULL, false, isas[j], &d), KILN_OK);
            const kn_conv2d_geom g = {1, 1, 1, 1, 1, 1};
            kn_nchwc_conv_run(d, &g, 1, H, H, H, H, xb, y0, NULL, NULL, NULL);
            assert_int_equal(kn_nchwc_wino_run(p, 1, 1, 1, H, H, H, H, xb, y1, 0, NULL, NULL, NULL), KILN_OK);
            double err = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) {
                err = fmax(err, fabs((double)y1[i] - (double)y0[i]));
                mag = fmax(mag, fabs((double)y0[i]));
            }
            if (!(err <= 2e-5 * mag))
                fail_msg("%lldx%lld: max error %g of max magnitude %g", (long long)H, (long long)H, err, mag);
            kn_nchwc_wino_free(p);
            kn_nchwc_conv_free(d);
            kn_aligned_free(xb);
            kn_aligned_free(y0);
            kn_aligned_free(y1);
            kn_tensor_free(x);
            kn_tensor_free(w);
        }
}

int main(void)
{
    pool4 = pthreadpool_create(4);
    assert_non_null(pool4);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_every_activation),
        cmocka_unit_test(test_strided_output),
        cmocka_unit_test(test_avx512_epilogue_matches_act_apply),
        cmocka_unit_test(test_matches_direct),
    };
    const int failed = cmocka_run_group_tests(tests, NULL, NULL);
    pthreadpool_destroy(pool4);
    return failed;
}
