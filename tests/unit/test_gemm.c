/* Gemm / MatMul ops and the reference SGEMM they run on. */
#include "harness.h"
#include "runtime/runtime.h"

#include "ops/gemm_ref.h"

#include <math.h>

/* Double-precision triple loop: the yardstick. */
static void naive(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, double beta, const float *C0, double *out)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t p = 0; p < K; p++)
                s += (double)(ta ? A[p * lda + i] : A[i * lda + p]) * (double)(tb ? B[j * ldb + p] : B[p * ldb + j]);
            out[i * N + j] = alpha * s + (beta != 0.0 ? beta * C0[i * N + j] : 0.0);
        }
}

static float *random_floats(int64_t n, uint32_t seed)
{
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    assert_non_null(v);
    uint32_t x = seed * 2654435761u + 1u;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v[i] = (float)((x >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
    }
    return v;
}

static void check_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta)
{
    float *A = random_floats(M * K, 1), *B = random_floats(K * N, 2), *C = random_floats(M * N, 3);
    float *C0 = malloc(sizeof(float) * (size_t)(M * N > 0 ? M * N : 1));
    double *want = malloc(sizeof(double) * (size_t)(M * N > 0 ? M * N : 1));
    memcpy(C0, C, sizeof(float) * (size_t)(M * N));
    if (beta == 0.0f)
        for (int64_t i = 0; i < M * N; i++)
            C[i] = NAN; /* must not be read */
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, want);
    kn_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
    for (int64_t i = 0; i < M * N; i++)
        if (!(fabs(C[i] - want[i]) <= 1e-4 * (1.0 + sqrt((double)K))))
            fail_msg("ta=%d tb=%d M=%lld N=%lld K=%lld: element %lld got %g want %g", ta, tb, (long long)M,
                     (long long)N, (long long)K, (long long)i, C[i], want[i]);
    free(A);
    free(B);
    free(C);
    free(C0);
    free(want);
}

static void test_sgemm_ref_shapes(void **state)
{
    (void)state;
    static const int64_t sizes[][3] = {{1, 1, 1},   {3, 5, 7},    {17, 9, 33},  {1, 70, 300}, {65, 1, 257},
                                       {130, 3, 1}, {8, 8, 8},    {67, 133, 513}, {2, 300, 5}, {100, 129, 64}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int t = 0; t < 4; t++) {
            check_sgemm(t & 1, t & 2, sizes[s][0], sizes[s][1], sizes[s][2], 1.0f, 0.0f);
            check_sgemm(t & 1, t & 2, sizes[s][0], sizes[s][1], sizes[s][2], 0.5f, -1.5f);
        }
}

static void test_sgemm_ref_k_zero_scales_c(void **state)
{
    (void)state;
    float C[4] = {1, 2, 3, 4};
    kn_sgemm_ref(false, false, 2, 2, 0, 1.0f, NULL, 1, NULL, 1, 2.0f, C, 2);
    assert_true(C[0] == 2.0f && C[3] == 8.0f);
    kn_sgemm_ref(false, false, 2, 2, 0, 1.0f, NULL, 1, NULL, 1, 0.0f, C, 2);
    assert_true(C[0] == 0.0f && C[3] == 0.0f);
}

/* Rows and columns computed alone (thin paths) equal the blocked result bit
 * for bit, so callers may split the work any way. */
static void test_sgemm_ref_split_invariant(void **state)
{
    (void)state;
    const int64_t M = 9, N = 11, K = 600;
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        float *A = random_floats(M * K, 5), *B = random_floats(K * N, 6);
        float full[9 * 11], part[11];
        int64_t lda = ta ? M : K, ldb = tb ? K : N;
        kn_sgemm_ref(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, full, N);
        for (int64_t i = 0; i < M; i++) {
            kn_sgemm_ref(ta, tb, 1, N, K, 1.0f, ta ? A + i : A + i * lda, lda, B, ldb, 0.0f, part, N);
            assert_memory_equal(part, full + i * N, sizeof(float) * (size_t)N);
        }
        for (int64_t j = 0; j < N; j++) {
            float col[9];
            kn_sgemm_ref(ta, tb, M, 1, K, 1.0f, A, lda, tb ? B + j * ldb : B + j, ldb, 0.0f, col, 1);
            for (int64_t i = 0; i < M; i++)
                assert_memory_equal(&col[i], &full[i * N + j], sizeof(float));
        }
        free(A);
        free(B);
    }
}

static void test_dgemm_ref(void **state)
{
    (void)state;
    const double A[6] = {1, 2, 3, 4, 5, 6}; /* 2x3 */
    const double B[6] = {1, 0, 0, 1, 1, 1}; /* 3x2 */
    double C[4] = {1, 1, 1, 1};
    kn_dgemm_ref(false, false, 2, 2, 3, 2.0, A, 3, B, 2, 1.0, C, 2);
    /* A*B = [[4,5],[10,11]] */
    assert_true(C[0] == 9 && C[1] == 11 && C[2] == 21 && C[3] == 23);
    double Ct[4];
    kn_dgemm_ref(true, true, 2, 2, 3, 1.0, B, 2, A, 3, 0.0, Ct, 2); /* (A*B)^T */
    assert_true(Ct[0] == 4 && Ct[1] == 10 && Ct[2] == 5 && Ct[3] == 11);
}

/* ---- Gemm op ---------------------------------------------------------- */

static void test_gemm_hand_computed(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Gemm", 13);
    kiln_tensor *a = kt_f32(KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    kiln_tensor *b = kt_f32(KT_DIMS(3, 2), (float[]){1, 0, 0, 1, 1, 1});
    kiln_tensor *c = kt_f32(KT_DIMS(2), (float[]){10, 20});
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){a, b, c}, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(2, 2));
    kt_assert_f32_close(out[0], (float[]){14, 25, 20, 31}, 4, 0, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(a);
    kn_tensor_free(b);
    kn_tensor_free(c);
    kt_node_free(n);
}

/* Every attribute and bias form against the double reference. */
static void test_gemm_attributes_and_bias_forms(void **state)
{
    (void)state;
    const int64_t M = 5, N = 7, K = 19;
    static const int64_t c_shapes[][3] = {{-1}, {0}, {1, 1}, {1, 7}, {2, 1, 7}, {2, 5, 1}, {2, 5, 7}, {2, 1, 1}};
    for (int t = 0; t < 4; t++)
        for (size_t cs = 0; cs < sizeof c_shapes / sizeof c_shapes[0]; cs++) {
            bool ta = t & 1, tb = t & 2;
            kt_node *n = kt_node_new("Gemm", 13);
            kt_attr_int(n, "transA", ta);
            kt_attr_int(n, "transB", tb);
            kt_attr_float(n, "alpha", 0.75f);
            kt_attr_float(n, "beta", -2.0f);
            kiln_tensor *a = ta ? kt_f32_random(KT_DIMS(K, M), 1, -1, 1) : kt_f32_random(KT_DIMS(M, K), 1, -1, 1);
            kiln_tensor *b = tb ? kt_f32_random(KT_DIMS(N, K), 2, -1, 1) : kt_f32_random(KT_DIMS(K, N), 2, -1, 1);
            kiln_tensor *c = NULL;
            int c_rank = (int)c_shapes[cs][0];
            if (c_rank >= 0)
                c = kt_f32_random(c_rank, &c_shapes[cs][1], 3, -1, 1);
            float cfull[5 * 7];
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    float v = 0.0f;
                    if (c) {
                        const float *cd = c->data;
                        int64_t ci = c->rank == 2 ? (c->dims[0] == 1 ? 0 : i) : 0;
                        int64_t cj = c->rank >= 1 ? (c->dims[c->rank - 1] == 1 ? 0 : j) : 0;
                        int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
                        v = cd[ci * cn + cj];
                    }
                    cfull[i * N + j] = v;
                }
            double want[5 * 7];
            naive(ta, tb, M, N, K, 0.75, a->data, ta ? M : K, b->data, tb ? K : N, c ? -2.0 : 0.0, cfull, want);
            float wantf[5 * 7];
            for (int i = 0; i < M * N; i++)
                wantf[i] = (float)want[i];
            kiln_tensor *out[1];
            assert_int_equal(kt_run(n, c ? 3 : 2, (kiln_tensor *[]){a, b, c}, 1, out), KILN_OK);
            kt_assert_shape(out[0], KT_DIMS(M, N));
            kt_assert_f32_close(out[0], wantf, M * N, 1e-5, 1e-5);
            kn_tensor_free(out[0]);
            kn_tensor_free(a);
            kn_tensor_free(b);
            kn_tensor_free(c);
            kt_node_free(n);
        }
}

static void test_gemm_opset6_broadcast_attr(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Gemm", 6);
    kt_attr_int(n, "broadcast", 1);
    kt_attr_int(n, "transB", 1);
    kiln_tensor *a = kt_f32(KT_DIMS(1, 2), (float[]){1, 2});
    kiln_tensor *b = kt_f32(KT_DIMS(3, 2), (float[]){1, 1, 2, 2, 3, 3});
    kiln_tensor *c = kt_f32(KT_DIMS(3), (float[]){0.5f, 0.25f, 0});
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){a, b, c}, 1, out), KILN_OK);
    kt_assert_f32_close(out[0], (float[]){3.5f, 6.25f, 9}, 3, 0, 0);
    kn_tensor_free(out[0]);
    kt_node_free(n);
    /* Before opset 11, C is required. */
    n = kt_node_new("Gemm", 9);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){a, b}, 1, out), KILN_ERROR_MODEL);
    kt_node_free(n);
    kn_tensor_free(a);
    kn_tensor_free(b);
    kn_tensor_free(c);
}

static void test_gemm_errors(void **state)
{
    (void)state;
    kiln_tensor *a = kt_f32(KT_DIMS(2, 3), NULL), *b = kt_f32(KT_DIMS(4, 2), NULL), *b3 = kt_f32(KT_DIMS(3, 2), NULL);
    kiln_tensor *bad_c = kt_f32(KT_DIMS(3), NULL), *a3 = kt_f32(KT_DIMS(1, 2, 3), NULL);
    kiln_tensor *bi = kt_i64(KT_DIMS(3, 2), NULL);
    kiln_tensor *out[1];
    kt_node *n = kt_node_new("Gemm", 13);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){a, b}, 1, out), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kn_error_message(), "test_node"));
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){a, b3, bad_c}, 1, out), KILN_ERROR_SHAPE);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){a3, b3}, 1, out), KILN_ERROR_SHAPE);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){a, bi}, 1, out), KILN_ERROR_DTYPE);
    kt_node_free(n);
    n = kt_node_new("Gemm", 13);
    kt_attr_float(n, "alpha", 1.0f);
    kt_attr_int(n, "beta", 1); /* wrong attribute type */
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){a, b3}, 1, out), KILN_ERROR_MODEL);
    kt_node_free(n);
    kn_tensor_free(a);
    kn_tensor_free(b);
    kn_tensor_free(b3);
    kn_tensor_free(bad_c);
    kn_tensor_free(a3);
    kn_tensor_free(bi);
}

static void test_gemm_double_and_half(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Gemm", 13);
    kt_attr_int(n, "transA", 1);
    kiln_tensor *a = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 2), (double[]){1, 2, 3, 4}); /* A^T = [[1,3],[2,4]] */
    kiln_tensor *b = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 1), (double[]){1, 1});
    kiln_tensor *c = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1), (double[]){0.5});
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){a, b, c}, 1, out), KILN_OK);
    kiln_tensor *want = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 1), (double[]){4.5, 6.5});
    kt_assert_tensors_close(out[0], want, 0, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(want);
    kt_node_free(n);
    uint16_t ha[4], hb[2], hc[1], hw[2];
    for (int i = 0; i < 4; i++)
        ha[i] = kn_float_to_half((float)(i + 1));
    hb[0] = hb[1] = kn_float_to_half(1.0f);
    hc[0] = kn_float_to_half(0.5f);
    hw[0] = kn_float_to_half(4.5f);
    hw[1] = kn_float_to_half(6.5f);
    kiln_tensor *fa = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2, 2), ha), *fb = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2, 1), hb);
    kiln_tensor *fc = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(1), hc), *fw = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2, 1), hw);
    n = kt_node_new("Gemm", 13);
    kt_attr_int(n, "transA", 1);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){fa, fb, fc}, 1, out), KILN_OK);
    kt_assert_tensors_close(out[0], fw, 0, 0);
    kn_tensor_free(out[0]);
    kt_node_free(n);
    kn_tensor_free(a);
    kn_tensor_free(b);
    kn_tensor_free(c);
    kn_tensor_free(fa);
    kn_tensor_free(fb);
    kn_tensor_free(fc);
    kn_tensor_free(fw);
}

/* ---- MatMul ----------------------------------------------------------- */

/* Numpy matmul by brute force (float inputs, double sums). */
static void matmul_expect(const kiln_tensor *a, const kiln_tensor *b, const kiln_tensor *y, float *out)
{
    int ar = a->rank, br = b->rank;
    int64_t M = ar == 1 ? 1 : a->dims[ar - 2], K = a->dims[ar - 1], N = br == 1 ? 1 : b->dims[br - 1];
    int yr = y->rank - (ar > 1) - (br > 1); /* batch rank */
    int64_t batches = 1;
    for (int i = 0; i < yr; i++)
        batches *= y->dims[i];
    const float *A = a->data, *B = b->data;
    for (int64_t bt = 0; bt < batches; bt++) {
        int64_t ao = 0, bo = 0, rem = bt, as = M * K, bs = K * N;
        for (int i = yr - 1; i >= 0; i--) {
            int64_t idx = rem % y->dims[i];
            rem /= y->dims[i];
            int ai = i - (yr - (ar - 2)), bi = i - (yr - (br - 2));
            if (ai >= 0) {
                ao += (a->dims[ai] == 1 ? 0 : idx) * as;
                as *= a->dims[ai];
            }
            if (bi >= 0) {
                bo += (b->dims[bi] == 1 ? 0 : idx) * bs;
                bs *= b->dims[bi];
            }
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t p = 0; p < K; p++)
                    s += (double)A[ao + i * K + p] * B[bo + p * N + j];
                out[bt * M * N + i * N + j] = (float)s;
            }
    }
}

static void check_matmul(int ra, const int64_t *da, int rb, const int64_t *db, int ry, const int64_t *dy, int threads)
{
    kt_node *n = kt_node_new("MatMul", 13);
    kiln_tensor *a = kt_f32_random(ra, da, 11, -1, 1), *b = kt_f32_random(rb, db, 12, -1, 1);
    kiln_tensor *out[1];
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, threads, 2, (kiln_tensor *[]){a, b}, 1, out), KILN_OK);
    kt_assert_shape(out[0], ry, dy);
    int64_t cnt = kn_tensor_count(out[0]);
    float *want = malloc(sizeof(float) * (size_t)(cnt ? cnt : 1));
    matmul_expect(a, b, out[0], want);
    kt_assert_f32_close(out[0], want, cnt, 1e-5, 1e-5);
    free(want);
    kn_tensor_free(out[0]);
    kn_tensor_free(a);
    kn_tensor_free(b);
    kt_node_free(n);
}

static void test_matmul_shapes(void **state)
{
    (void)state;
    check_matmul(KT_DIMS(3), KT_DIMS(3), 0, NULL, 1);
    check_matmul(KT_DIMS(4), KT_DIMS(2, 4, 1), KT_DIMS(2, 1), 1);
    check_matmul(KT_DIMS(3, 4), KT_DIMS(4, 3), KT_DIMS(3, 3), 1);
    check_matmul(KT_DIMS(2, 3, 4), KT_DIMS(2, 4, 3), KT_DIMS(2, 3, 3), 1);
    check_matmul(KT_DIMS(1, 2, 4, 3), KT_DIMS(3), KT_DIMS(1, 2, 4), 1);
    check_matmul(KT_DIMS(3, 1, 3, 4), KT_DIMS(1, 2, 4, 2), KT_DIMS(3, 2, 3, 2), 1);
    check_matmul(KT_DIMS(5), KT_DIMS(5, 17), KT_DIMS(17), 1);
    check_matmul(KT_DIMS(17, 5), KT_DIMS(5), KT_DIMS(17), 1);
    /* batched A against one B (folded into one tall GEMM) */
    check_matmul(KT_DIMS(2, 3, 5, 7), KT_DIMS(7, 9), KT_DIMS(2, 3, 5, 9), 1);
    /* one A against batched B */
    check_matmul(KT_DIMS(5, 7), KT_DIMS(3, 7, 9), KT_DIMS(3, 5, 9), 1);
    /* empty dims */
    check_matmul(KT_DIMS(0, 3), KT_DIMS(3, 4), KT_DIMS(0, 4), 1);
    check_matmul(KT_DIMS(2, 0), KT_DIMS(0, 4), KT_DIMS(2, 4), 1);
    check_matmul(KT_DIMS(0, 2, 3), KT_DIMS(3, 4), KT_DIMS(0, 2, 4), 1);
    /* rank 8 batch broadcast */
    check_matmul(KT_DIMS(2, 1, 2, 1, 2, 1, 3, 2), KT_DIMS(1, 2, 1, 2, 1, 2, 2, 3), KT_DIMS(2, 2, 2, 2, 2, 2, 3, 3), 1);
}

/* Threaded runs split the work but must give the same bits. */
static void test_matmul_threads_identical(void **state)
{
    (void)state;
    kiln_tensor *a = kt_f32_random(KT_DIMS(3, 150, 300), 7, -1, 1), *b = kt_f32_random(KT_DIMS(300, 260), 8, -1, 1);
    kiln_tensor *b3 = kt_f32_random(KT_DIMS(3, 300, 260), 9, -1, 1);
    kiln_tensor *one[1], *two[1];
    kt_node *n = kt_node_new("MatMul", 13);
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 0, 2, (kiln_tensor *[]){a, b}, 1, one), KILN_OK);
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 2, 2, (kiln_tensor *[]){a, b}, 1, two), KILN_OK);
    assert_memory_equal(one[0]->data, two[0]->data, one[0]->nbytes);
    kn_tensor_free(one[0]);
    kn_tensor_free(two[0]);
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 0, 2, (kiln_tensor *[]){a, b3}, 1, one), KILN_OK);
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 2, 2, (kiln_tensor *[]){a, b3}, 1, two), KILN_OK);
    assert_memory_equal(one[0]->data, two[0]->data, one[0]->nbytes);
    kn_tensor_free(one[0]);
    kn_tensor_free(two[0]);
    kt_node_free(n);
    check_matmul(KT_DIMS(2, 130, 70), KT_DIMS(70, 300), KT_DIMS(2, 130, 300), 2);
    check_matmul(KT_DIMS(1, 700), KT_DIMS(700, 1000), KT_DIMS(1, 1000), 2);
    kn_tensor_free(a);
    kn_tensor_free(b);
    kn_tensor_free(b3);
}

static void test_matmul_int_and_half(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("MatMul", 13);
    kiln_tensor *a = kt_i64(KT_DIMS(2, 2), (int64_t[]){1, 2, 3, 4});
    kiln_tensor *b = kt_i64(KT_DIMS(2), (int64_t[]){10, -1});
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){a, b}, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(2));
    kt_assert_i64_equal(out[0], (int64_t[]){8, 26}, 2);
    kn_tensor_free(out[0]);
    kiln_tensor *ai = kt_i32(KT_DIMS(1, 2), (int32_t[]){-3, 5});
    kiln_tensor *bi = kt_i32(KT_DIMS(2, 1), (int32_t[]){2, 2});
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){ai, bi}, 1, out), KILN_OK);
    assert_int_equal(out[0]->dtype, KILN_DTYPE_INT32);
    assert_int_equal(((int32_t *)out[0]->data)[0], 4);
    kn_tensor_free(out[0]);
    /* mixed dtypes are refused */
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){a, bi}, 1, out), KILN_ERROR_DTYPE);
    uint16_t h[4] = {kn_float_to_half(1), kn_float_to_half(2), kn_float_to_half(3), kn_float_to_half(4)};
    kiln_tensor *ha = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2, 2), h);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){ha, ha}, 1, out), KILN_OK);
    assert_int_equal(out[0]->dtype, KILN_DTYPE_FLOAT16);
    const uint16_t *y = out[0]->data;
    assert_true(kn_half_to_float(y[0]) == 7 && kn_half_to_float(y[1]) == 10 && kn_half_to_float(y[2]) == 15 &&
                kn_half_to_float(y[3]) == 22);
    kn_tensor_free(out[0]);
    kt_node_free(n);
    kn_tensor_free(a);
    kn_tensor_free(b);
    kn_tensor_free(ai);
    kn_tensor_free(bi);
    kn_tensor_free(ha);
}

static void test_matmul_errors(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("MatMul", 13);
    kiln_tensor *a = kt_f32(KT_DIMS(2, 3), NULL), *b = kt_f32(KT_DIMS(4, 2), NULL);
    kiln_tensor *s = kt_f32(0, NULL, NULL), *ba = kt_f32(KT_DIMS(2, 2, 3), NULL), *bb = kt_f32(KT_DIMS(3, 3, 2), NULL);
    kiln_tensor *u8 = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(3, 2), NULL);
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){a, b}, 1, out), KILN_ERROR_SHAPE);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){s, b}, 1, out), KILN_ERROR_SHAPE);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){ba, bb}, 1, out), KILN_ERROR_SHAPE);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){a, u8}, 1, out), KILN_ERROR_DTYPE);
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){a}, 1, out), KILN_ERROR_MODEL);
    kt_node_free(n);
    kn_tensor_free(a);
    kn_tensor_free(b);
    kn_tensor_free(s);
    kn_tensor_free(ba);
    kn_tensor_free(bb);
    kn_tensor_free(u8);
}

/* Fully connected layers on the packed GEMM (constant B, finalize packs it)
 * against the reference path, for every ISA, transB both ways, batch 1 and
 * 5, with and without C. */
static void test_gemm_packed_fc_matches_reference(void **state)
{
    (void)state;
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    const int64_t Ms[] = {1, 5}, Ns[] = {1, 17, 40}, Ks[] = {3, 33};
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++)
        for (int tb = 0; tb < 2; tb++)
            for (int withc = 0; withc < 2; withc++)
                for (size_t mi = 0; mi < 2; mi++)
                    for (size_t ni = 0; ni < 3; ni++)
                        for (size_t ki = 0; ki < 2; ki++) {
                            int64_t M = Ms[mi], N = Ns[ni], K = Ks[ki];
                            kiln_tensor *in[3];
                            in[0] = kt_f32_random(KT_DIMS(M, K), 1, -1, 1);
                            in[1] = tb ? kt_f32_random(KT_DIMS(N, K), 2, -1, 1) : kt_f32_random(KT_DIMS(K, N), 2, -1, 1);
                            in[2] = kt_f32_random(KT_DIMS(N), 3, -1, 1);
                            kiln_tensor *want = NULL, *got = NULL;
                            kt_node *ref = kt_node_new("Gemm", 13), *fast = kt_node_new("Gemm", 13);
                            kt_attr_int(ref, "transB", tb);
                            kt_attr_int(fast, "transB", tb);
                            kt_attr_float(ref, "beta", 0.5f);
                            kt_attr_float(fast, "beta", 0.5f);
                            assert_int_equal(kt_run(ref, 2 + withc, in, 1, &want), KILN_OK);
                            assert_int_equal(kt_run_const(fast, (kn_isa_level)isa, 6u, 2 + withc, in, 1, &got),
                                             KILN_OK);
                            kt_assert_tensors_close(got, want, 1e-5, 1e-5);
                            for (int i = 0; i < 3; i++)
                                kn_tensor_free(in[i]);
                            kn_tensor_free(want);
                            kn_tensor_free(got);
                            kt_node_free(ref);
                            kt_node_free(fast);
                        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_packed_fc_matches_reference),
        cmocka_unit_test(test_sgemm_ref_shapes),
        cmocka_unit_test(test_sgemm_ref_k_zero_scales_c),
        cmocka_unit_test(test_sgemm_ref_split_invariant),
        cmocka_unit_test(test_dgemm_ref),
        cmocka_unit_test(test_gemm_hand_computed),
        cmocka_unit_test(test_gemm_attributes_and_bias_forms),
        cmocka_unit_test(test_gemm_opset6_broadcast_attr),
        cmocka_unit_test(test_gemm_errors),
        cmocka_unit_test(test_gemm_double_and_half),
        cmocka_unit_test(test_matmul_shapes),
        cmocka_unit_test(test_matmul_threads_identical),
        cmocka_unit_test(test_matmul_int_and_half),
        cmocka_unit_test(test_matmul_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
