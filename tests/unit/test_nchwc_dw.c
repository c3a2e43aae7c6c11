/* The blocked (NCHWc) depthwise convolution, plain C, AVX2 and AVX-512
 * forms (every one this CPU has), against the reference convolution
 * (conv_ref.c, group == C on NCHW data) through test-local reorders:
 * channel counts with pad lanes (1, 3, 17, 33) and without (16), widths
 * that end the vector kernels' 8- and 4-pixel blocks at every remainder,
 * small maps (the vector forms' zero-bordered buffer), strides 1-3, 1x1 to
 * 7x7 and 3x2 filters, dilation, asymmetric pads and pads wider than the
 * kernel (windows wholly outside the input), residual and every
 * activation, two images. Pad lanes of the input and residual hold finite
 * junk (the packed zero weights must cancel it); pad lanes of the output
 * must be finite; 1 and 2 threads must give identical bits. */
#include "harness.h"
#include "ops/conv_ref.h"
#include "ops/nchwc.h"
#include "runtime/runtime.h"

#include <math.h>

typedef struct dw_case {
    int64_t N, C, H, W, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW;
} dw_case;

static const dw_case cases[] = {
    /* N  C   H    W   KH KW SH SW PT PL PB PR DH DW */
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    {1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {2, 3, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {2, 17, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 16, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 33, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 17, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 17, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 17, 17, 17, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1},
    {1, 3, 5, 21, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 22, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 23, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 25, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 26, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 27, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 29, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 30, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 3, 5, 31, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1},
    {1, 3, 5, 34, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 33, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 17, 57, 57, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 3, 14, 14, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1},
    {1, 17, 15, 15, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1},
    {1, 16, 28, 28, 5, 5, 2, 2, 1, 2, 2, 1, 1, 1},
    {1, 3, 19, 23, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1},
    {2, 3, 7, 7, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1},
    {1, 3, 11, 19, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1},
    {1, 17, 9, 10, 3, 2, 1, 2, 2, 0, 1, 1, 2, 3},
    {1, 3, 11, 17, 5, 3, 1, 3, 0, 2, 2, 1, 2, 1},
    {1, 3, 10, 40, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1},
    {1, 3, 17, 30, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
    {1, 3, 17, 30, 5, 5, 2, 2, 1, 3, 3, 1, 1, 2},
    {1, 3, 9, 9, 3, 3, 1, 1, 4, 5, 3, 6, 1, 1},
    {1, 3, 9, 9, 3, 3, 2, 2, 4, 5, 3, 6, 1, 1},
    {1, 3, 5, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 3, 1, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 6, 47, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 3, 6, 64, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1},
    {2, 33, 6, 23, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1},
    {1, 3, 7, 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    /* small maps through the zero-bordered buffer: any kernel, dilation, pads past the kernel */
    {1, 17, 9, 10, 3, 2, 1, 1, 2, 0, 1, 1, 2, 3},
    {1, 3, 9, 9, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1},
    {2, 33, 7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    {1, 3, 6, 6, 3, 3, 1, 1, 4, 5, 3, 6, 1, 1},
    {1, 3, 12, 5, 5, 5, 1, 1, 0, 4, 2, 1, 1, 1},
    /* more rows than one task holds: several row chunks per plane */
    {1, 2, 150, 120, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
};

/* NCHW -> blocked; pad lanes get finite junk (not zero) so that a kernel
 * relying on them being zero fails. */
static float *to_blocked(int64_t N, int64_t C, int64_t H, int64_t W, const float *x)
{
    const int64_t CB = kn_nchwc_blocks(C), HW = H * W;
    float *y = kn_aligned_alloc((size_t)(N * CB * HW * KN_NCHWC_BLOCK) * sizeof(float));
    assert_non_null(y);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < CB * KN_NCHWC_BLOCK; c++)
            for (int64_t i = 0; i < HW; i++)
                y[((n * CB + c / KN_NCHWC_BLOCK) * HW + i) * KN_NCHWC_BLOCK + c % KN_NCHWC_BLOCK] =
                    c < C ? x[(n * C + c) * HW + i] : 3.0f + (float)((c + i) % 5);
    return y;
}

/* blocked -> NCHW; fails the test on a non-finite pad lane. */
static void from_blocked(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float *y)
{
    const int64_t CB = kn_nchwc_blocks(C), HW = H * W;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < CB * KN_NCHWC_BLOCK; c++)
            for (int64_t i = 0; i < HW; i++) {
                float v = x[((n * CB + c / KN_NCHWC_BLOCK) * HW + i) * KN_NCHWC_BLOCK + c % KN_NCHWC_BLOCK];
                if (c < C)
                    y[(n * C + c) * HW + i] = v;
                else if (!isfinite(v))
                    fail_msg("pad lane %lld of pixel %lld is %g", (long long)c, (long long)i, (double)v);
            }
}

static void check(const dw_case *k, kn_isa_level isa, kn_act act, bool residual, bool bias, pthreadpool_t pool)
{
    const int64_t OH = (k->H + k->PT + k->PB - k->DH * (k->KH - 1) - 1) / k->SH + 1;
    const int64_t OW = (k->W + k->PL + k->PR - k->DW * (k->KW - 1) - 1) / k->SW + 1;
    const int64_t ysize = k->N * kn_nchwc_blocks(k->C) * OH * OW * KN_NCHWC_BLOCK;
    kiln_tensor *x = kt_f32_random(KT_DIMS(k->N, k->C, k->H, k->W), 11, -2, 2);
    kiln_tensor *w = kt_f32_random(KT_DIMS(k->C, 1, k->KH, k->KW), 12, -1, 1);
    kiln_tensor *b = kt_f32_random(KT_DIMS(k->C), 13, -1, 1);
    kiln_tensor *r = kt_f32_random(KT_DIMS(k->N, k->C, OH, OW), 14, -1, 1);
    kiln_tensor *want = kt_f32(KT_DIMS(k->N, k->C, OH, OW), NULL);
    kiln_tensor *got = kt_f32(KT_DIMS(k->N, k->C, OH, OW), NULL);
    const kn_conv2d_geom rg = {k->SH, k->SW, k->DH, k->DW, k->PT, k->PL};
    kt_conv2d_ref(k->N, k->C, k->C, k->C, k->H, k->W, k->KH, k->KW, &rg, OH, OW,
                  x->data, w->data, bias ? b->data : NULL, want->data);
    kn_epilogue ep = {.act = act, .alpha = act == KN_ACT_CLIP ? -0.5f : 0.2f, .beta = act == KN_ACT_CLIP ? 0.7f : 0.5f};
    float *wd = want->data;
    const float *rd = r->data;
    for (int64_t i = 0; i < kn_tensor_count(want); i++)
        wd[i] = kn_act_scalar(&ep, wd[i] + (residual ? rd[i] : 0.0f));

    float *xb = to_blocked(k->N, k->C, k->H, k->W, x->data);
    float *rb = to_blocked(k->N, k->C, OH, OW, r->data);
    float *y1 = kn_aligned_alloc((size_t)ysize * sizeof(float)), *y2 = kn_aligned_alloc((size_t)ysize * sizeof(float));
    assert_non_null(y1);
    assert_non_null(y2);
    /* NaN everywhere first: every output lane, pad lanes included, must be written */
    for (int64_t i = 0; i < ysize; i++)
        y1[i] = y2[i] = NAN;
    kn_nchwc_dw *p = NULL;
    assert_int_equal(kn_nchwc_dw_pack(k->C, k->KH, k->KW, w->data, bias ? b->data : NULL, isa, &p), KILN_OK);
    kn_conv2d_geom g = {k->SH, k->SW, k->DH, k->DW, k->PT, k->PL};
    const kn_epilogue *epp = act == KN_ACT_NONE ? NULL : &ep;
    kn_nchwc_dw_run(p, &g, k->N, k->H, k->W, OH, OW, xb, y1, residual ? rb : NULL, epp, NULL);
    kn_nchwc_dw_run(p, &g, k->N, k->H, k->W, OH, OW, xb, y2, residual ? rb : NULL, epp, pool);
    assert_memory_equal(y1, y2, (size_t)ysize * sizeof(float));
    from_blocked(k->N, k->C, OH, OW, y1, got->data);
    kt_assert_tensors_close(got, want, 1e-5, 1e-5);

    kn_nchwc_dw_free(p);
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

static const kn_act acts[] = {KN_ACT_NONE,       KN_ACT_RELU,       KN_ACT_CLIP,       KN_ACT_LEAKY_RELU,
                              KN_ACT_SIGMOID,    KN_ACT_HARD_SIGMOID, KN_ACT_HARD_SWISH, KN_ACT_SILU};
#define N_ACTS (sizeof acts / sizeof acts[0])

static void test_against_reference(void **state)
{
    (void)state;
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            /* every case plain, and with a rotating activation and residual */
            check(&cases[i], (kn_isa_level)isa, KN_ACT_NONE, false, true, pool);
            check(&cases[i], (kn_isa_level)isa, acts[1 + i % (N_ACTS - 1)], i % 2 == 0, i % 3 != 0, pool);
        }
    pthreadpool_destroy(pool);
}

/* every activation, with and without residual, on 3x3 and 5x5 shapes with
 * borders, whole 8-pixel blocks and remainders, and small maps */
static void test_activations(void **state)
{
    (void)state;
    static const dw_case ks[] = {
        {2, 17, 13, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
        {1, 33, 12, 29, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1},
        {1, 17, 7, 7, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1},
        {1, 17, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    };
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++)
        for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
            for (size_t a = 0; a < N_ACTS; a++)
                for (int res = 0; res < 2; res++)
                    check(&ks[i], (kn_isa_level)isa, acts[a], res, true, pool);
    pthreadpool_destroy(pool);
}

/* every allocation of the packer failing in turn: an error, no leak */
static void test_pack_nomem(void **state)
{
    (void)state;
    float w[2 * 9] = {0}, b[2] = {0};
    for (uint64_t nth = 1;; nth++) {
        kn_nchwc_dw *p = NULL;
        kn_alloc_fail_at(nth);
        kiln_status s = kn_nchwc_dw_pack(2, 3, 3, w, b, KN_ISA_GENERIC, &p);
        kn_alloc_fail_at(0);
        if (s == KILN_OK) {
            assert_true(nth > 1);
            kn_nchwc_dw_free(p);
            break;
        }
        assert_int_equal(s, KILN_ERROR_NOMEM);
        assert_null(p);
    }
    kn_nchwc_dw *p = NULL;
    assert_int_equal(kn_nchwc_dw_pack(0, 3, 3, w, b, KN_ISA_GENERIC, &p), KILN_ERROR_ARGUMENT);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_pack_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
