/* The packed-GEMM convolution (conv_fast.c) of every ISA this CPU has
 * against the reference kernel (conv_ref.c) on awkward shapes: channel
 * counts 1, 3, 17, groups, depthwise, strides, asymmetric pads, dilations,
 * with bias, residual and activations; 1 and 2 threads give identical bits. */
#include "harness.h"
#include "ops/conv_fast.h"
#include "ops/conv_ref.h"
#include "runtime/runtime.h"

#include <math.h>

typedef struct conv_case {
    int64_t N, C, H, W, M, group, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW;
} conv_case;

static const conv_case cases[] = {
    {1, 1, 5, 5, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},      {1, 3, 17, 13, 17, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {2, 17, 9, 11, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},    {1, 8, 10, 10, 12, 2, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
    {1, 5, 12, 9, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     {1, 6, 15, 15, 6, 6, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1},
    {1, 4, 13, 14, 7, 1, 3, 2, 1, 2, 2, 0, 1, 1, 2, 3},    {3, 32, 7, 7, 40, 1, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1},
    {1, 64, 14, 14, 33, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  {1, 3, 31, 29, 16, 1, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1},
    {2, 17, 9, 8, 17, 17, 3, 3, 2, 2, 1, 0, 1, 1, 1, 1},    {1, 3, 11, 17, 3, 3, 5, 3, 1, 3, 0, 2, 2, 1, 2, 1},
    /* few output pixels and many channels: the transposed AVX-512 path
     * (7x7 maps as in ResNet's last stage, stride 2 with 25 pixels, and a
     * stride-3 source it leaves to the generic packer) */
    {1, 24, 7, 7, 48, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    {2, 40, 9, 9, 70, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {1, 5, 20, 20, 32, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1},   {1, 33, 7, 7, 100, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    {1, 16, 14, 14, 64, 1, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1},  {1, 8, 3, 40, 36, 1, 3, 3, 1, 2, 1, 1, 1, 1, 1, 2},
};

static void check_case(const conv_case *k, kn_isa_level isa, kn_act act)
{
    int64_t OH = (k->H + k->PT + k->PB - k->DH * (k->KH - 1) - 1) / k->SH + 1;
    int64_t OW = (k->W + k->PL + k->PR - k->DW * (k->KW - 1) - 1) / k->SW + 1;
    kiln_tensor *x = kt_f32_random(KT_DIMS(k->N, k->C, k->H, k->W), 1, -1, 1);
    kiln_tensor *w = kt_f32_random(KT_DIMS(k->M, k->C / k->group, k->KH, k->KW), 2, -1, 1);
    kiln_tensor *b = kt_f32_random(KT_DIMS(k->M), 3, -1, 1);
    kiln_tensor *r = kt_f32_random(KT_DIMS(k->N, k->M, OH, OW), 4, -1, 1);
    kiln_tensor *want = kt_f32(KT_DIMS(k->N, k->M, OH, OW), NULL);
    kiln_tensor *got = kt_f32(KT_DIMS(k->N, k->M, OH, OW), NULL);
    kiln_tensor *got2 = kt_f32(KT_DIMS(k->N, k->M, OH, OW), NULL);
    const kn_conv2d_geom rg = {k->SH, k->SW, k->DH, k->DW, k->PT, k->PL};
    kt_conv2d_ref(k->N, k->C, k->M, k->group, k->H, k->W, k->KH, k->KW, &rg, OH, OW,
                  x->data, w->data, b->data, want->data);
    kn_epilogue ep = {.act = act, .alpha = act == KN_ACT_CLIP ? 0.0f : 0.1f, .beta = act == KN_ACT_CLIP ? 0.3f : 0.5f};
    float *wd = want->data;
    const float *rd = r->data;
    bool with_residual = act != KN_ACT_NONE;
    for (int64_t i = 0; i < kn_tensor_count(want); i++)
        wd[i] = kn_act_scalar(&ep, wd[i] + (with_residual ? rd[i] : 0.0f));

    kn_conv2d_packed *p;
    assert_int_equal(kn_conv2d_pack(k->M, k->C, k->group, k->KH, k->KW, w->data, b->data, isa, &p), KILN_OK);
    kn_conv2d_geom g = {k->SH, k->SW, k->DH, k->DW, k->PT, k->PL};
    size_t sbytes = kn_conv2d_scratch(p, OH, OW, 2);
    void *scratch = kn_aligned_alloc(sbytes);
    kn_conv2d_run(p, &g, k->N, k->H, k->W, OH, OW, x->data, got->data, with_residual ? rd : NULL, &ep, scratch,
                  sbytes, NULL);
    pthreadpool_t pool = pthreadpool_create(2);
    kn_conv2d_run(p, &g, k->N, k->H, k->W, OH, OW, x->data, got2->data, with_residual ? rd : NULL, &ep, scratch,
                  sbytes, pool);
    pthreadpool_destroy(pool);
    kt_assert_tensors_close(got, want, 1e-4, 1e-4);
    assert_memory_equal(got->data, got2->data, got->nbytes);
    if (k->group == k->C && k->M == k->C) {
        /* the direct depthwise kernel, same contract */
        memset(got->data, 0, got->nbytes);
        kn_depthwise2d_run(k->N, k->C, k->H, k->W, k->KH, k->KW, &g, OH, OW, x->data, w->data, b->data, got->data,
                           with_residual ? rd : NULL, &ep, isa, NULL);
        kt_assert_tensors_close(got, want, 1e-4, 1e-4);
    }
    kn_aligned_free(scratch);
    kn_conv2d_packed_free(p);
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
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            print_message("isa %d case %zu\n", isa, i);
            check_case(&cases[i], (kn_isa_level)isa, KN_ACT_NONE);
            check_case(&cases[i], (kn_isa_level)isa, i % 2 ? KN_ACT_RELU : KN_ACT_CLIP);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
