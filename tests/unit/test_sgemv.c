/* The packed matrix-vector product (sgemv.c, per-ISA panel kernels) against
 * a double-precision dot product: row counts around the panel heights (6,
 * 16), K with every remainder of the 4- and 8-step loops, the epilogue
 * (bias, residual, activation), identical bits for 1 and 2 threads on a
 * matrix large enough to split; and the 1x1-image Conv (squeeze-excitation
 * shape) that takes this path, against the reference convolution. */
#include "harness.h"
#include "ops/sgemv.h"
#include "runtime/runtime.h"

#include <math.h>

static void check(kn_isa_level isa, int64_t M, int64_t K, bool epilogue, pthreadpool_t pool)
{
    kiln_tensor *a = kt_f32_random(KT_DIMS(M, K), (uint32_t)(M * 131 + K), -1, 1);
    kiln_tensor *x = kt_f32_random(KT_DIMS(K), 5, -1, 1);
    kiln_tensor *b = kt_f32_random(KT_DIMS(M), 6, -1, 1);
    kiln_tensor *r = kt_f32_random(KT_DIMS(M), 7, -1, 1);
    kiln_tensor *y1 = kt_f32(KT_DIMS(M), NULL), *y2 = kt_f32(KT_DIMS(M), NULL);
    kn_packed_a p;
    assert_int_equal(kn_sgemm_pack_a(isa, M, K, a->data, K, false, &p), KILN_OK);
    kn_epilogue ep = {.bias = b->data, .residual = r->data, .act = KN_ACT_CLIP, .alpha = -3.0f, .beta = 2.0f};
    kn_sgemv_packed(&p, x->data, y1->data, epilogue ? &ep : NULL, NULL);
    kn_sgemv_packed(&p, x->data, y2->data, epilogue ? &ep : NULL, pool);
    assert_memory_equal(y1->data, y2->data, y1->nbytes);
    const float *ad = a->data, *xd = x->data, *bd = b->data, *rd = r->data, *yd = y1->data;
    for (int64_t m = 0; m < M; m++) {
        double s = 0.0, mag = 0.0;
        for (int64_t k = 0; k < K; k++) {
            s += (double)ad[m * K + k] * xd[k];
            mag += fabs((double)ad[m * K + k] * xd[k]);
        }
        if (epilogue) {
            s += (double)bd[m] + rd[m];
            s = s < -3.0 ? -3.0 : (s > 2.0 ? 2.0 : s);
        }
        if (fabs(yd[m] - s) > 1e-5 * (mag + 1.0))
            fail_msg("isa %d M %lld K %lld row %lld: got %.9g want %.9g", (int)isa, (long long)M, (long long)K,
                     (long long)m, yd[m], s);
    }
    kn_packed_a_free(&p);
    kn_tensor_free(a);
    kn_tensor_free(x);
    kn_tensor_free(b);
    kn_tensor_free(r);
    kn_tensor_free(y1);
    kn_tensor_free(y2);
}

static void test_against_dot_products(void **state)
{
    (void)state;
    const int64_t Ms[] = {1, 5, 6, 7, 12, 13, 15, 16, 17, 25, 33, 100}, Ks[] = {1, 3, 4, 5, 7, 8, 9, 12, 17, 64, 131};
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++) {
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
                check((kn_isa_level)isa, Ms[mi], Ks[ki], (mi + ki) % 2 == 0, pool);
        /* large enough for the parallel split (a classifier layer) */
        check((kn_isa_level)isa, 1000, 1280, true, pool);
        check((kn_isa_level)isa, 301, 1001, false, pool);
    }
    pthreadpool_destroy(pool);
}

/* Conv [N, C, 1, 1] with a 1x1 kernel (squeeze-excitation), constant
 * weights: the packed GEMV path, against the reference (weights not
 * constant), as Conv with bias and as FusedConv with SiLU and a residual. */
static void test_conv_1x1_image(void **state)
{
    (void)state;
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    const int64_t Ns[] = {1, 2}, Cs[] = {1, 7, 40}, Ms[] = {1, 13, 96};
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++)
        for (size_t ni = 0; ni < 2; ni++)
            for (size_t ci = 0; ci < 3; ci++)
                for (size_t mi = 0; mi < 3; mi++)
                    for (int fused = 0; fused < 2; fused++) {
                        int64_t N = Ns[ni], C = Cs[ci], M = Ms[mi];
                        kiln_tensor *in[4];
                        in[0] = kt_f32_random(KT_DIMS(N, C, 1, 1), 1, -2, 2);
                        in[1] = kt_f32_random(KT_DIMS(M, C, 1, 1), 2, -1, 1);
                        in[2] = kt_f32_random(KT_DIMS(M), 3, -1, 1);
                        in[3] = kt_f32_random(KT_DIMS(N, M, 1, 1), 4, -1, 1);
                        kt_node *ref = fused ? kt_node_new_domain("kiln", "FusedConv", 1) : kt_node_new("Conv", 11);
                        kt_node *fast = fused ? kt_node_new_domain("kiln", "FusedConv", 1) : kt_node_new("Conv", 11);
                        if (fused) {
                            kt_attr_string(ref, "activation", "SiLU");
                            kt_attr_string(fast, "activation", "SiLU");
                        }
                        int n_in = fused ? 4 : 3;
                        kiln_tensor *want = NULL, *got = NULL;
                        assert_int_equal(kt_run_ex(ref, KN_ISA_GENERIC, 1, n_in, in, 1, &want), KILN_OK);
                        assert_int_equal(kt_run_const(fast, (kn_isa_level)isa, 6u, n_in, in, 1, &got), KILN_OK);
                        kt_assert_tensors_close(got, want, 1e-5, 1e-5);
                        kn_tensor_free(want);
                        kn_tensor_free(got);
                        kt_node_free(ref);
                        kt_node_free(fast);
                        for (int i = 0; i < 4; i++)
                            kn_tensor_free(in[i]);
                    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_dot_products),
        cmocka_unit_test(test_conv_1x1_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
