/* The GEMM kernels of every ISA this CPU has, against the naive reference,
 * on awkward sizes; implicit im2col against an explicit one; epilogues;
 * identical results for 1 and 2 threads. */
#include "harness.h"
#include "ops/sgemm.h"
#include "runtime/runtime.h"

#include <math.h>

static float *rnd(int64_t n, uint32_t seed)
{
    kiln_tensor *t = kt_f32_random(1, &n, seed, -1, 1);
    float *d = malloc((size_t)(n ? n : 1) * sizeof(float));
    memcpy(d, t->data, (size_t)n * sizeof(float));
    kn_tensor_free(t);
    return d;
}

static void check_close(const float *got, const float *want, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (fabsf(got[i] - want[i]) > 1e-4f + 1e-4f * fabsf(want[i]))
            fail_msg("%s: element %lld got %g want %g", what, (long long)i, got[i], want[i]);
}

static int n_isas(kn_isa_level *isas)
{
    int n = 0;
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int i = KN_ISA_GENERIC; i <= (int)best; i++)
        isas[n++] = (kn_isa_level)i;
    return n;
}

static void run_case(kn_isa_level isa, int64_t M, int64_t N, int64_t K, const kn_epilogue *ep, pthreadpool_t pool)
{
    float *A = rnd(M * K, (uint32_t)(M * 7 + K)), *B = rnd(K * N, (uint32_t)(N * 3 + K));
    float *C = calloc((size_t)(M * N + 1), sizeof(float)), *R = calloc((size_t)(M * N + 1), sizeof(float));
    kn_packed_a pa;
    assert_int_equal(kn_sgemm_pack_a(isa, M, K, A, K, false, &pa), KILN_OK);
    size_t sbytes = kn_sgemm_scratch_bytes(isa, N, K, 2);
    void *scratch = kn_aligned_alloc(sbytes);
    kn_bsrc src = {.kind = KN_BSRC_MATRIX, .data = B, .ld = N};
    kn_sgemm_run(&pa, N, &src, C, N, ep, scratch, sbytes, pool);
    kn_sgemm_naive(M, N, K, A, K, B, N, R, N, ep);
    char what[96];
    snprintf(what, sizeof what, "isa %d M %lld N %lld K %lld", isa, (long long)M, (long long)N, (long long)K);
    check_close(C, R, M * N, what);
    kn_aligned_free(scratch);
    kn_packed_a_free(&pa);
    free(A);
    free(B);
    free(C);
    free(R);
}

static void test_odd_shapes_all_isas(void **state)
{
    (void)state;
    kn_isa_level isas[3];
    int ni = n_isas(isas);
    const int64_t sizes[] = {1, 3, 5, 6, 12, 13, 17, 31, 33, 64, 100};
    for (int i = 0; i < ni; i++)
        for (size_t a = 0; a < 11; a++)
            for (size_t b = 0; b < 11; b += 2)
                for (size_t c = 0; c < 11; c += 3)
                    run_case(isas[i], sizes[a], sizes[b], sizes[c], NULL, NULL);
    /* K beyond one cache block, N beyond one task */
    for (int i = 0; i < ni; i++)
        run_case(isas[i], 37, 300, 600, NULL, NULL);
}

static void test_epilogues(void **state)
{
    (void)state;
    kn_isa_level isas[3];
    int ni = n_isas(isas);
    /* the second shape takes the transposed AVX-512 path (few columns) */
    for (int shape = 0; shape < 2; shape++) {
        int64_t M = shape ? 40 : 19, N = shape ? 20 : 45, K = shape ? 300 : 23;
        float *bias = rnd(M, 99), *res = rnd(M * N, 98);
        kn_act acts[] = {KN_ACT_NONE, KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_LEAKY_RELU, KN_ACT_SIGMOID,
                         KN_ACT_HARD_SIGMOID, KN_ACT_HARD_SWISH, KN_ACT_SILU};
        for (int i = 0; i < ni; i++)
            for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
                kn_epilogue ep = {.bias = bias, .residual = a % 2 ? res : NULL, .ldr = N, .act = acts[a],
                                  .alpha = acts[a] == KN_ACT_CLIP ? 0.0f : 0.2f,
                                  .beta = acts[a] == KN_ACT_CLIP ? 0.5f : 0.5f};
                run_case(isas[i], M, N, K, &ep, NULL);
            }
        free(bias);
        free(res);
    }
}

/* Implicit im2col (strides, pads, dilations) against an explicit im2col. */
static void test_conv_source(void **state)
{
    (void)state;
    kn_isa_level isas[3];
    int ni = n_isas(isas);
    struct { int64_t C, H, W, KH, KW, SH, SW, PH, PW, DH, DW; } cases[] = {
        {3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1}, {5, 10, 6, 3, 2, 2, 1, 0, 1, 1, 1},
        {2, 9, 9, 3, 3, 2, 2, 2, 2, 2, 2}, {17, 5, 5, 1, 1, 1, 1, 0, 0, 1, 1},
        {4, 11, 13, 5, 5, 3, 2, 2, 1, 1, 2},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int64_t C = cases[t].C, H = cases[t].H, W = cases[t].W, KH = cases[t].KH, KW = cases[t].KW;
        int64_t OH = (H + 2 * cases[t].PH - cases[t].DH * (KH - 1) - 1) / cases[t].SH + 1;
        int64_t OW = (W + 2 * cases[t].PW - cases[t].DW * (KW - 1) - 1) / cases[t].SW + 1;
        int64_t K = C * KH * KW, N = OH * OW, M = 7;
        float *x = rnd(C * H * W, 5), *w = rnd(M * K, 6);
        float *col = calloc((size_t)(K * N), sizeof(float));
        for (int64_t c = 0; c < C; c++)
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++)
                    for (int64_t oh = 0; oh < OH; oh++)
                        for (int64_t ow = 0; ow < OW; ow++) {
                            int64_t ih = oh * cases[t].SH - cases[t].PH + kh * cases[t].DH;
                            int64_t iw = ow * cases[t].SW - cases[t].PW + kw * cases[t].DW;
                            col[((c * KH + kh) * KW + kw) * N + oh * OW + ow] =
                                ih >= 0 && ih < H && iw >= 0 && iw < W ? x[(c * H + ih) * W + iw] : 0.0f;
                        }
        float *want = calloc((size_t)(M * N), sizeof(float));
        kn_sgemm_naive(M, N, K, w, K, col, N, want, N, NULL);
        for (int i = 0; i < ni; i++) {
            kn_packed_a pa;
            assert_int_equal(kn_sgemm_pack_a(isas[i], M, K, w, K, false, &pa), KILN_OK);
            float *got = calloc((size_t)(M * N), sizeof(float));
            size_t sbytes = kn_sgemm_scratch_bytes(isas[i], N, K, 1);
            void *scratch = kn_aligned_alloc(sbytes);
            kn_bsrc src = {.kind = KN_BSRC_CONV2D, .data = x, .C = C, .H = H, .W = W, .KH = KH, .KW = KW,
                           .OH = OH, .OW = OW, .SH = cases[t].SH, .SW = cases[t].SW, .PH = cases[t].PH,
                           .PW = cases[t].PW, .DH = cases[t].DH, .DW = cases[t].DW};
            kn_sgemm_run(&pa, N, &src, got, N, NULL, scratch, sbytes, NULL);
            check_close(got, want, M * N, "conv source");
            kn_aligned_free(scratch);
            kn_packed_a_free(&pa);
            free(got);
        }
        free(x);
        free(w);
        free(col);
        free(want);
    }
}

static void check_threads_identical(int64_t M, int64_t N, int64_t K)
{
    kn_isa_level isa = kn_cpu_isa(KILN_ISA_AUTO);
    float *A = rnd(M * K, 1), *B = rnd(K * N, 2);
    float *C1 = calloc((size_t)(M * N), sizeof(float)), *C2 = calloc((size_t)(M * N), sizeof(float));
    kn_packed_a pa;
    assert_int_equal(kn_sgemm_pack_a(isa, M, K, A, K, false, &pa), KILN_OK);
    size_t sbytes = kn_sgemm_scratch_bytes(isa, N, K, 2);
    void *scratch = kn_aligned_alloc(sbytes);
    kn_bsrc src = {.kind = KN_BSRC_MATRIX, .data = B, .ld = N};
    kn_sgemm_run(&pa, N, &src, C1, N, NULL, scratch, sbytes, NULL);
    pthreadpool_t pool = pthreadpool_create(2);
    kn_sgemm_run(&pa, N, &src, C2, N, NULL, scratch, sbytes, pool);
    pthreadpool_destroy(pool);
    assert_memory_equal(C1, C2, (size_t)(M * N) * sizeof(float));
    kn_aligned_free(scratch);
    kn_packed_a_free(&pa);
    free(A);
    free(B);
    free(C1);
    free(C2);
}

static void test_threads_bitwise_identical(void **state)
{
    (void)state;
    check_threads_identical(70, 333, 300);
    check_threads_identical(300, 49, 700); /* transposed path on AVX-512 */
    /* transposed path split in 16-row panels: 10 panels as 5 + 5 (the
     * second task starts at an odd panel), 11 as 6 + 5 with a short last
     * panel, 63 as 32 + 31 */
    check_threads_identical(160, 49, 600);
    check_threads_identical(170, 14, 520);
    check_threads_identical(1000, 98, 300);
    pthreadpool_t pool = pthreadpool_create(2);
    run_case(kn_cpu_isa(KILN_ISA_AUTO), 170, 49, 600, NULL, pool);
    run_case(kn_cpu_isa(KILN_ISA_AUTO), 1000, 98, 300, NULL, pool);
    pthreadpool_destroy(pool);
}

/* Vector activations (inline vector exp) against the scalar reference, every
 * length 1..67 so the masked tails are covered. */
static void test_vector_activations(void **state)
{
    (void)state;
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    kn_act acts[] = {KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_LEAKY_RELU, KN_ACT_SIGMOID,
                     KN_ACT_HARD_SIGMOID, KN_ACT_HARD_SWISH, KN_ACT_SILU};
    for (int isa = KN_ISA_AVX2; isa <= (int)best; isa++)
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
            for (int64_t n = 1; n < 68; n++) {
                kn_epilogue ep = {.act = acts[a], .alpha = acts[a] == KN_ACT_CLIP ? -0.5f : 0.1f, .beta = 0.5f};
                float *x = rnd(n, (uint32_t)(n * 31 + a)), *y = malloc((size_t)n * sizeof(float));
                for (int64_t i = 0; i < n; i++)
                    x[i] *= 20.0f; /* saturating range of sigmoid too */
                memcpy(y, x, (size_t)n * sizeof(float));
                kn_act_apply_ref(&ep, x, n);
                if (isa == KN_ISA_AVX512)
                    kn_act_apply_avx512(&ep, y, n);
                else
                    kn_act_apply_avx2(&ep, y, n);
                for (int64_t i = 0; i < n; i++)
                    if (fabsf(x[i] - y[i]) > 1e-6f + 2e-6f * fabsf(x[i]))
                        fail_msg("isa %d act %d n %lld: element %lld got %.9g want %.9g", isa, (int)acts[a],
                                 (long long)n, (long long)i, y[i], x[i]);
                free(x);
                free(y);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_odd_shapes_all_isas),
        cmocka_unit_test(test_epilogues),
        cmocka_unit_test(test_conv_source),
        cmocka_unit_test(test_threads_bitwise_identical),
        cmocka_unit_test(test_vector_activations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
