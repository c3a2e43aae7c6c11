/* The blocked (NCHWc) group-1 convolution (kn_nchwc_conv_*, portable, AVX2
 * and AVX-512 forms) against the NCHW reference convolution (conv_ref.c),
 * with the test's own reorders to and from the blocked layout. Shapes hit
 * the kernel's edges: input channels 1, 3, 16, 17, 33 (pad lanes of the
 * last block), output channels giving groups of 1 to 4 blocks and a partial
 * last group, planes 1, 3, 7, 17 and 56-ish wide (border columns, tiles of
 * every width, long flattened 1x1 rows split into chunks), strides 1, 2,
 * 3, symmetric, asymmetric and large pads, dilation, 1x1, 3x3, 5x5, 7x7
 * and 3x2 kernels, pointwise 1x1 shapes (stride 1, 2, 3x2, one pixel to
 * 55 wide, reductions in passes), plain NCHW input (stems), residual, every activation,
 * N = 2. 1 and 2 threads must give identical bits, so must y given as
 * its own residual (in place), every output element
 * (pad lanes included) must be written, and pad lanes hold act(0). */
#include "harness.h"
#include "ops/conv_ref.h"
#include "ops/nchwc.h"
#include "runtime/runtime.h"

#include <math.h>

typedef struct conv_case {
    int64_t N, C, M, H, W, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW;
    bool nchw;
} conv_case;

static const conv_case cases[] = {
    /* N  C   M    H   W  KH KW SH SW PT PL PB PR DH DW nchw */
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    {1, 1, 16, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {1, 3, 17, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {2, 16, 32, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {1, 17, 48, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false},
    {1, 33, 64, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {1, 16, 65, 17, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false},
    {1, 17, 130, 9, 11, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    {2, 33, 100, 7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    {1, 32, 80, 56, 56, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    /* two groups, several chunks, two images: tasks ordered (image, chunk,
     * group) since all weights fit in L2 */
    {2, 16, 72, 20, 21, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {1, 32, 64, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {1, 16, 64, 57, 55, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false},
    {1, 24, 64, 56, 56, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, false},
    {1, 17, 33, 17, 17, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, false},
    {1, 3, 20, 17, 19, 5, 5, 3, 3, 2, 1, 0, 2, 1, 1, false},
    {1, 16, 16, 17, 17, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, false},
    {1, 17, 40, 9, 10, 3, 2, 1, 2, 2, 0, 1, 1, 2, 3, false},
    {1, 3, 70, 11, 17, 5, 3, 1, 3, 0, 2, 2, 1, 2, 1, false},
    {1, 16, 16, 9, 9, 3, 3, 1, 1, 4, 5, 3, 6, 1, 1, false},
    {1, 17, 32, 9, 9, 3, 3, 2, 2, 4, 5, 3, 6, 1, 1, false},
    {1, 16, 16, 5, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false},
    {1, 33, 16, 3, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {1, 16, 16, 5, 6, 3, 3, 1, 1, 1, 0, 1, 2, 2, 2, false},
    {1, 1, 64, 12, 12, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, false},
    /* long reductions: the AVX-512 kernel splits them into passes */
    {1, 130, 70, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {2, 1100, 64, 5, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    {1, 300, 20, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false},
    /* pointwise (1x1, no padding: the AVX-512 row-of-tiles path): a
     * single pixel, planes narrower and wider than a tile with partial
     * last tiles, tiles across rows, chunks and N = 2, strides 2 and 3x2,
     * channels not whole blocks, every group width; a reduction in two
     * passes; and bottom/right padding only (not pointwise: rows of bias) */
    {1, 20, 70, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    {1, 17, 64, 7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    {2, 33, 50, 17, 17, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    {1, 64, 256, 13, 55, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    {1, 40, 80, 17, 55, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, false},
    {1, 16, 36, 7, 13, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, false},
    {2, 48, 30, 9, 9, 1, 1, 3, 2, 0, 0, 0, 0, 1, 1, false},
    {1, 1100, 70, 7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
    {1, 1040, 64, 9, 9, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, false},
    {1, 24, 40, 8, 9, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, false},
    /* plain NCHW input (stems) */
    {1, 3, 64, 29, 29, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, true},
    {2, 1, 17, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true},
    {1, 4, 32, 17, 23, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true},
    {1, 3, 100, 9, 9, 3, 2, 1, 3, 1, 0, 2, 1, 2, 1, true},
    {1, 17, 16, 10, 10, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, true},
    {1, 2, 48, 3, 3, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, true},
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

/* blocked -> [N, C, H, W]; pad lanes must equal pad_want (up to 1e-6). */
static void from_blocked(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float *y, float pad_want)
{
    const int64_t CB = kn_nchwc_blocks(C);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < CB * 16; c++)
            for (int64_t i = 0; i < H * W; i++) {
                float v = x[((n * CB + c / 16) * H * W + i) * 16 + c % 16];
                if (c < C)
                    y[(n * C + c) * H * W + i] = v;
                else if (!(fabsf(v - pad_want) <= 1e-6f))
                    fail_msg("pad lane %lld of pixel %lld: %g, expected %g", (long long)c, (long long)i, v,
                             pad_want);
            }
}

static void check(const conv_case *k, kn_isa_level isa, kn_act act, bool residual, bool bias, pthreadpool_t pool)
{
    const int64_t OH = (k->H + k->PT + k->PB - k->DH * (k->KH - 1) - 1) / k->SH + 1;
    const int64_t OW = (k->W + k->PL + k->PR - k->DW * (k->KW - 1) - 1) / k->SW + 1;
    const int64_t MB = kn_nchwc_blocks(k->M), yn = k->N * MB * 16 * OH * OW;
    /* weights scaled so outputs stay near 1 whatever the reduction length */
    const float ws = 1.0f / sqrtf((float)(k->C * k->KH * k->KW));
    kiln_tensor *x = kt_f32_random(KT_DIMS(k->N, k->C, k->H, k->W), 21, -2, 2);
    kiln_tensor *w = kt_f32_random(KT_DIMS(k->M, k->C, k->KH, k->KW), 22, -ws, ws);
    kiln_tensor *b = kt_f32_random(KT_DIMS(k->M), 23, -1, 1);
    kiln_tensor *r = kt_f32_random(KT_DIMS(k->N, k->M, OH, OW), 24, -1, 1);
    kiln_tensor *want = kt_f32(KT_DIMS(k->N, k->M, OH, OW), NULL);
    kiln_tensor *got = kt_f32(KT_DIMS(k->N, k->M, OH, OW), NULL);
    const kn_conv2d_geom rg = {k->SH, k->SW, k->DH, k->DW, k->PT, k->PL};
    kt_conv2d_ref(k->N, k->C, k->M, 1, k->H, k->W, k->KH, k->KW, &rg, OH, OW,
                  x->data, w->data, bias ? b->data : NULL, want->data);
    kn_epilogue ep = {.act = act, .alpha = act == KN_ACT_CLIP ? -0.5f : 0.2f, .beta = act == KN_ACT_CLIP ? 0.7f : 0.5f};
    float *wd = want->data;
    const float *rd = r->data;
    for (int64_t i = 0; i < kn_tensor_count(want); i++)
        wd[i] = kn_act_scalar(&ep, wd[i] + (residual ? rd[i] : 0.0f));

    kn_nchwc_conv *p;
    assert_int_equal(kn_nchwc_conv_pack(k->M, k->C, k->KH, k->KW, w->data, bias ? b->data : NULL, k->nchw, isa, &p),
                     KILN_OK);
    float *xb = k->nchw ? NULL : to_blocked(k->N, k->C, k->H, k->W, x->data, 0.0f);
    float *rb = to_blocked(k->N, k->M, OH, OW, rd, 0.0f);
    float *y1 = kn_aligned_alloc((size_t)yn * sizeof(float)), *y2 = kn_aligned_alloc((size_t)yn * sizeof(float));
    assert_non_null(y1);
    assert_non_null(y2);
    /* NaN everywhere first: every output element must be written */
    for (int64_t i = 0; i < yn; i++)
        y1[i] = y2[i] = NAN;
    kn_conv2d_geom g = {k->SH, k->SW, k->DH, k->DW, k->PT, k->PL};
    const float *xin = k->nchw ? x->data : xb;
    const kn_epilogue *epp = act == KN_ACT_NONE ? NULL : &ep;
    kn_nchwc_conv_run(p, &g, k->N, k->H, k->W, OH, OW, xin, y1, residual ? rb : NULL, epp, NULL);
    kn_nchwc_conv_run(p, &g, k->N, k->H, k->W, OH, OW, xin, y2, residual ? rb : NULL, epp, pool);
    assert_memory_equal(y1, y2, (size_t)yn * sizeof(float));
    if (residual) {
        /* in place: y is the residual */
        memcpy(y2, rb, (size_t)yn * sizeof(float));
        kn_nchwc_conv_run(p, &g, k->N, k->H, k->W, OH, OW, xin, y2, y2, epp, pool);
        assert_memory_equal(y1, y2, (size_t)yn * sizeof(float));
    }
    from_blocked(k->N, k->M, OH, OW, y1, got->data, kn_act_scalar(&ep, 0.0f));
    kt_assert_tensors_close(got, want, 1e-4, 1e-5);

    kn_nchwc_conv_free(p);
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

/* The forms this CPU can run: the portable one, AVX2 and AVX-512 if
 * present. */
static int n_isas(kn_isa_level *isas)
{
    int n = 0;
    const kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++)
        isas[n++] = (kn_isa_level)isa;
    return n;
}

static void test_against_reference(void **state)
{
    (void)state;
    static const kn_act acts[] = {KN_ACT_NONE, KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_SILU, KN_ACT_SIGMOID,
                                  KN_ACT_LEAKY_RELU, KN_ACT_HARD_SWISH, KN_ACT_HARD_SIGMOID};
    const size_t n_acts = sizeof acts / sizeof acts[0];
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level isas[3];
    const int ni = n_isas(isas);
    for (int j = 0; j < ni; j++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            /* every case plain, and with a rotating activation and residual */
            check(&cases[i], isas[j], KN_ACT_NONE, false, true, pool);
            check(&cases[i], isas[j], acts[1 + i % (n_acts - 1)], i % 2 == 0, i % 3 != 0, pool);
        }
    pthreadpool_destroy(pool);
}

static void test_every_activation(void **state)
{
    (void)state;
    static const kn_act acts[] = {KN_ACT_NONE, KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_SILU, KN_ACT_SIGMOID,
                                  KN_ACT_LEAKY_RELU, KN_ACT_HARD_SWISH, KN_ACT_HARD_SIGMOID};
    /* border columns, interior tiles and a partial group, blocked and
     * plain; pointwise with stride 1 and 2 */
    static const conv_case k[] = {
        {2, 17, 80, 9, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
        {1, 33, 100, 9, 17, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false},
        {1, 20, 52, 11, 15, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, false},
        {1, 3, 40, 13, 13, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, true},
    };
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level isas[3];
    const int ni = n_isas(isas);
    for (int j = 0; j < ni; j++)
        for (size_t c = 0; c < sizeof k / sizeof k[0]; c++)
            for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
                check(&k[c], isas[j], acts[a], true, true, pool);
                check(&k[c], isas[j], acts[a], false, a % 2 == 0, pool);
            }
    pthreadpool_destroy(pool);
}

/* The vector epilogues apply the activation as kn_act_apply_avx512 /
 * kn_act_apply_avx2 do (the NCHW paths' activations): the same bits as the
 * activation run separately over the pre-activation output. */
static void epilogue_matches_act_apply(kn_isa_level isa, void (*apply)(const kn_epilogue *, float *, int64_t))
{
    const conv_case k = {1, 20, 50, 8, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false};
    const int64_t n = kn_nchwc_blocks(k.M) * 16 * k.H * k.W;
    kiln_tensor *x = kt_f32_random(KT_DIMS(1, k.C, k.H, k.W), 31, -2, 2);
    kiln_tensor *w = kt_f32_random(KT_DIMS(k.M, k.C, 3, 3), 32, -0.2f, 0.2f);
    kiln_tensor *b = kt_f32_random(KT_DIMS(k.M), 33, -1, 1);
    float *xb = to_blocked(1, k.C, k.H, k.W, x->data, 0.0f);
    float *y0 = kn_aligned_alloc((size_t)n * sizeof(float)), *y1 = kn_aligned_alloc((size_t)n * sizeof(float));
    assert_non_null(y0);
    assert_non_null(y1);
    kn_nchwc_conv *p;
    assert_int_equal(kn_nchwc_conv_pack(k.M, k.C, 3, 3, w->data, b->data, false, isa, &p), KILN_OK);
    kn_conv2d_geom g = {1, 1, 1, 1, 1, 1};
    static const kn_act acts[] = {KN_ACT_SILU, KN_ACT_SIGMOID, KN_ACT_HARD_SWISH, KN_ACT_LEAKY_RELU,
                                  KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_HARD_SIGMOID};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        kn_epilogue ep = {.act = acts[a], .alpha = 0.2f, .beta = 0.5f};
        kn_nchwc_conv_run(p, &g, 1, k.H, k.W, k.H, k.W, xb, y0, NULL, NULL, NULL);
        apply(&ep, y0, n);
        kn_nchwc_conv_run(p, &g, 1, k.H, k.W, k.H, k.W, xb, y1, NULL, &ep, NULL);
        assert_memory_equal(y0, y1, (size_t)n * sizeof(float));
    }
    kn_nchwc_conv_free(p);
    kn_aligned_free(xb);
    kn_aligned_free(y0);
    kn_aligned_free(y1);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(b);
}

static void test_avx512_epilogue_matches_act_apply(void **state)
{
    (void)state;
    if (kn_cpu_isa(KILN_ISA_AUTO) < KN_ISA_AVX512)
        skip();
    epilogue_matches_act_apply(KN_ISA_AVX512, kn_act_apply_avx512);
}

static void test_avx2_epilogue_matches_act_apply(void **state)
{
    (void)state;
    if (kn_cpu_isa(KILN_ISA_AUTO) < KN_ISA_AVX2)
        skip();
    epilogue_matches_act_apply(KN_ISA_AVX2, kn_act_apply_avx2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_every_activation),
        cmocka_unit_test(test_avx512_epilogue_matches_act_apply),
        cmocka_unit_test(test_avx2_epilogue_matches_act_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
