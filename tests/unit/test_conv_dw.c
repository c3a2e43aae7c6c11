/* The depthwise kernels (kn_depthwise2d_run: the portable one and the
 * vector ones of conv_dw_simd.h for every ISA this CPU has) against the
 * reference convolution (conv_ref.c) on shapes that hit the vector kernel's
 * edges: widths below, at and just past multiples of 8 and 16 (masked
 * tails, the 4-vector blocks), strides 1, 2, 3 (column phases), 3x3, 5x5,
 * 1x1, 7x7 and 3x2 filters, dilation, asymmetric and large pads, planes
 * taller than one block of the row buffer, rows too wide for it (the
 * portable fallback), residual and every fused activation. 1 and 2 threads
 * must give identical bits. */
#include "harness.h"
#include "ops/conv_fast.h"
#include "ops/conv_ref.h"
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
    {1, 5, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 4, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 2, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 2, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 2, 17, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 3, 15, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 2, 20, 65, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 2, 12, 130, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1},
    {1, 2, 13, 131, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 3, 14, 14, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1},
    {1, 3, 15, 15, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1},
    {1, 2, 28, 28, 5, 5, 2, 2, 1, 2, 2, 1, 1, 1},
    {1, 2, 11, 19, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1},
    {1, 17, 9, 10, 3, 2, 1, 2, 2, 0, 1, 1, 2, 3},
    {1, 3, 11, 17, 5, 3, 1, 3, 0, 2, 2, 1, 2, 1},
    {1, 2, 10, 40, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1},
    {1, 2, 9, 9, 3, 3, 1, 1, 4, 5, 3, 6, 1, 1},
    {1, 2, 9, 9, 3, 3, 2, 2, 4, 5, 3, 6, 1, 1},
    {1, 2, 5, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 2, 6, 47, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 2, 6, 64, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1},
    {1, 2, 6, 23, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1},
    /* taller than one row block: several blocks with halo rows */
    {1, 2, 150, 112, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 2, 151, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    /* rows wider than the buffer: the portable kernel */
    {1, 2, 4, 5000, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
};

static void check(const dw_case *k, kn_isa_level isa, kn_act act, bool residual, bool bias, pthreadpool_t pool)
{
    int64_t OH = (k->H + k->PT + k->PB - k->DH * (k->KH - 1) - 1) / k->SH + 1;
    int64_t OW = (k->W + k->PL + k->PR - k->DW * (k->KW - 1) - 1) / k->SW + 1;
    kiln_tensor *x = kt_f32_random(KT_DIMS(k->N, k->C, k->H, k->W), 11, -2, 2);
    kiln_tensor *w = kt_f32_random(KT_DIMS(k->C, 1, k->KH, k->KW), 12, -1, 1);
    kiln_tensor *b = kt_f32_random(KT_DIMS(k->C), 13, -1, 1);
    kiln_tensor *r = kt_f32_random(KT_DIMS(k->N, k->C, OH, OW), 14, -1, 1);
    kiln_tensor *want = kt_f32(KT_DIMS(k->N, k->C, OH, OW), NULL);
    kiln_tensor *got = kt_f32(KT_DIMS(k->N, k->C, OH, OW), NULL);
    kiln_tensor *got2 = kt_f32(KT_DIMS(k->N, k->C, OH, OW), NULL);
    const kn_conv2d_geom rg = {k->SH, k->SW, k->DH, k->DW, k->PT, k->PL};
    kt_conv2d_ref(k->N, k->C, k->C, k->C, k->H, k->W, k->KH, k->KW, &rg, OH, OW,
                  x->data, w->data, bias ? b->data : NULL, want->data);
    kn_epilogue ep = {.act = act, .alpha = act == KN_ACT_CLIP ? -0.5f : 0.2f, .beta = act == KN_ACT_CLIP ? 0.7f : 0.5f};
    float *wd = want->data;
    const float *rd = r->data;
    for (int64_t i = 0; i < kn_tensor_count(want); i++)
        wd[i] = kn_act_scalar(&ep, wd[i] + (residual ? rd[i] : 0.0f));
    kn_conv2d_geom g = {k->SH, k->SW, k->DH, k->DW, k->PT, k->PL};
    /* NaN everywhere first: every output element must be written */
    float *gd = got->data, *gd2 = got2->data;
    for (int64_t i = 0; i < kn_tensor_count(got); i++)
        gd[i] = gd2[i] = NAN;
    kn_depthwise2d_run(k->N, k->C, k->H, k->W, k->KH, k->KW, &g, OH, OW, x->data, w->data, bias ? b->data : NULL,
                       got->data, residual ? rd : NULL, act == KN_ACT_NONE ? NULL : &ep, isa, NULL);
    kn_depthwise2d_run(k->N, k->C, k->H, k->W, k->KH, k->KW, &g, OH, OW, x->data, w->data, bias ? b->data : NULL,
                       got2->data, residual ? rd : NULL, act == KN_ACT_NONE ? NULL : &ep, isa, pool);
    kt_assert_tensors_close(got, want, 1e-5, 1e-5);
    assert_memory_equal(got->data, got2->data, got->nbytes);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(b);
    kn_tensor_free(r);
    kn_tensor_free(want);
    kn_tensor_free(got);
    kn_tensor_free(got2);
}

static void test_against_reference(void **state)
{
    (void)state;
    static const kn_act acts[] = {KN_ACT_NONE, KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_SILU, KN_ACT_SIGMOID,
                                  KN_ACT_LEAKY_RELU, KN_ACT_HARD_SWISH};
    const size_t n_acts = sizeof acts / sizeof acts[0];
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            /* every case plain, and with a rotating activation and residual */
            check(&cases[i], (kn_isa_level)isa, KN_ACT_NONE, false, true, pool);
            check(&cases[i], (kn_isa_level)isa, acts[1 + i % (n_acts - 1)], i % 2 == 0, i % 3 != 0, pool);
        }
    /* every activation on one shape with a tail and two row blocks */
    static const dw_case k = {1, 3, 70, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++)
        for (size_t a = 0; a < n_acts; a++)
            check(&k, (kn_isa_level)isa, acts[a], true, true, pool);
    pthreadpool_destroy(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
