/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: reductions,
 * weights, ignore_index (also negative and matching no target), N-d
 * targets, int32 targets, the optional log_prob output, other float types,
 * empty batches and refused inputs. */
#include "harness.h"

#include <math.h>

static kt_node *loss_node(const char *op, const char *reduction, bool set_ii, int64_t ii)
{
    kt_node *n = kt_node_new(op, op[0] == 'N' ? 22 : 13);
    if (reduction)
        kt_attr_string(n, "reduction", reduction);
    if (set_ii)
        kt_attr_int(n, "ignore_index", ii);
    return n;
}

/* Runs a loss with one output; returns it (NULL when the run fails). */
static kiln_tensor *run_loss(const char *op, const char *reduction, bool set_ii, int64_t ii, kiln_tensor *x,
                             kiln_tensor *t, kiln_tensor *w, kiln_status want)
{
    kt_node *n = loss_node(op, reduction, set_ii, ii);
    kiln_tensor *out[1] = {NULL};
    assert_int_equal(kt_run(n, w ? 3 : 2, (kiln_tensor *[]){x, t, w}, 1, out), want);
    kt_node_free(n);
    return out[0];
}

/* x [3, 4] log-probabilities; targets 2, 0, 3; weights by class. */
static const float nll_x[12] = {-1.0f, -2.0f, -0.5f, -3.0f, -0.25f, -1.5f, -2.5f, -4.0f, -0.7f, -0.9f, -1.1f, -1.3f};
static const int64_t nll_t[3] = {2, 0, 3};
static const float nll_w[4] = {0.5f, 1.0f, 2.0f, 4.0f};

static void test_nll_reductions(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), nll_x), *t = kt_i64(KT_DIMS(3), nll_t);
    kiln_tensor *w = kt_f32(KT_DIMS(4), nll_w);
    kiln_tensor *y = run_loss("NegativeLogLikelihoodLoss", "none", false, 0, x, t, NULL, KILN_OK);
    kt_assert_shape(y, KT_DIMS(3));
    kt_assert_f32_close(y, (float[]){0.5f, 0.25f, 1.3f}, 3, 1e-6, 0);
    kn_tensor_free(y);
    y = run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, x, t, NULL, KILN_OK);
    kt_assert_shape(y, 0, NULL);
    kt_assert_f32_close(y, (float[]){2.05f}, 1, 1e-6, 0);
    kn_tensor_free(y);
    /* default reduction is mean */
    y = run_loss("NegativeLogLikelihoodLoss", NULL, false, 0, x, t, NULL, KILN_OK);
    kt_assert_f32_close(y, (float[]){2.05f / 3}, 1, 1e-6, 0);
    kn_tensor_free(y);
    /* weighted: the mean divides by the sum of the weights used */
    y = run_loss("NegativeLogLikelihoodLoss", "none", false, 0, x, t, w, KILN_OK);
    kt_assert_f32_close(y, (float[]){1.0f, 0.125f, 5.2f}, 3, 1e-6, 0);
    kn_tensor_free(y);
    y = run_loss("NegativeLogLikelihoodLoss", "mean", false, 0, x, t, w, KILN_OK);
    kt_assert_f32_close(y, (float[]){6.325f / 6.5f}, 1, 1e-6, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    kn_tensor_free(t);
    kn_tensor_free(w);
}

static void test_nll_ignore_index(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), nll_x), *w = kt_f32(KT_DIMS(4), nll_w);
    /* a negative ignore_index is a legal marker, not a class */
    kiln_tensor *t = kt_i64(KT_DIMS(3), (int64_t[]){2, -1, 3});
    kiln_tensor *y = run_loss("NegativeLogLikelihoodLoss", "none", true, -1, x, t, NULL, KILN_OK);
    kt_assert_f32_close(y, (float[]){0.5f, 0.0f, 1.3f}, 3, 1e-6, 0);
    kn_tensor_free(y);
    y = run_loss("NegativeLogLikelihoodLoss", "mean", true, -1, x, t, NULL, KILN_OK);
    kt_assert_f32_close(y, (float[]){1.8f / 2}, 1, 1e-6, 0);
    kn_tensor_free(y);
    y = run_loss("NegativeLogLikelihoodLoss", "mean", true, -1, x, t, w, KILN_OK);
    kt_assert_f32_close(y, (float[]){6.2f / 6.0f}, 1, 1e-6, 0);
    kn_tensor_free(y);
    /* without ignore_index, -1 is an out-of-range class */
    assert_null(run_loss("NegativeLogLikelihoodLoss", "none", false, 0, x, t, NULL, KILN_ERROR_ARGUMENT));
    assert_non_null(strstr(kn_error_message(), "target -1"));
    kn_tensor_free(t);
    /* a valid class can be the ignored one */
    t = kt_i64(KT_DIMS(3), (int64_t[]){2, 0, 2});
    y = run_loss("NegativeLogLikelihoodLoss", "sum", true, 2, x, t, w, KILN_OK);
    kt_assert_f32_close(y, (float[]){0.125f}, 1, 1e-6, 0);
    kn_tensor_free(y);
    kn_tensor_free(t);
    /* every target ignored: the mean is 0/0 */
    t = kt_i64(KT_DIMS(3), (int64_t[]){7, 7, 7});
    y = run_loss("NegativeLogLikelihoodLoss", "mean", true, 7, x, t, NULL, KILN_OK);
    assert_true(isnan(((float *)y->data)[0]));
    kn_tensor_free(y);
    y = run_loss("NegativeLogLikelihoodLoss", "sum", true, 7, x, t, NULL, KILN_OK);
    kt_assert_f32_close(y, (float[]){0.0f}, 1, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(t);
    kn_tensor_free(x);
    kn_tensor_free(w);
}

/* [N, C, d1, d2] against a direct loop; int32 targets. */
static void test_nll_nd_targets(void **state)
{
    (void)state;
    enum { N = 2, C = 3, D1 = 2, D2 = 5 };
    kiln_tensor *x = kt_f32_random(KT_DIMS(N, C, D1, D2), 7, -3, 0);
    int32_t tv[N * D1 * D2];
    for (int i = 0; i < N * D1 * D2; i++)
        tv[i] = (int32_t)((i * 7 + 1) % C);
    kiln_tensor *t = kt_i32(KT_DIMS(N, D1, D2), tv);
    const float *xv = x->data;
    float want[N * D1 * D2];
    double sum = 0;
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D1 * D2; d++) {
            int i = n * D1 * D2 + d;
            want[i] = -xv[(n * C + tv[i]) * D1 * D2 + d];
            sum += want[i];
        }
    kiln_tensor *y = run_loss("NegativeLogLikelihoodLoss", "none", false, 0, x, t, NULL, KILN_OK);
    kt_assert_shape(y, KT_DIMS(N, D1, D2));
    kt_assert_f32_close(y, want, N * D1 * D2, 1e-6, 0);
    kn_tensor_free(y);
    y = run_loss("NegativeLogLikelihoodLoss", "mean", false, 0, x, t, NULL, KILN_OK);
    kt_assert_f32_close(y, (float[]){(float)(sum / (N * D1 * D2))}, 1, 1e-6, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    kn_tensor_free(t);
}

/* SCE = NLL(LogSoftmax(x, axis=1)); both outputs, N-d, weights, ii. */
static void test_sce_matches_reference(void **state)
{
    (void)state;
    enum { N = 3, C = 4, D = 3 };
    kiln_tensor *x = kt_f32_random(KT_DIMS(N, C, D), 11, -4, 4);
    int64_t tv[N * D] = {0, 1, 2, 3, 2, 1, 1, 3, 0};
    kiln_tensor *t = kt_i64(KT_DIMS(N, D), tv), *w = kt_f32(KT_DIMS(C), nll_w);
    const float *xv = x->data;
    float lp[N * C * D], want[N * D];
    double sum = 0, wsum = 0;
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int k = 0; k < C; k++)
                s += exp(xv[(n * C + k) * D + d]);
            for (int k = 0; k < C; k++)
                lp[(n * C + k) * D + d] = (float)(xv[(n * C + k) * D + d] - log(s));
            int64_t cls = tv[n * D + d];
            double l = cls == 1 ? 0.0 : -lp[(n * C + cls) * D + d] * nll_w[cls];
            want[n * D + d] = (float)l;
            sum += l;
            wsum += cls == 1 ? 0 : nll_w[cls];
        }
    kt_node *node = loss_node("SoftmaxCrossEntropyLoss", "none", true, 1);
    kiln_tensor *out[2] = {NULL, NULL};
    assert_int_equal(kt_run(node, 3, (kiln_tensor *[]){x, t, w}, 2, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(N, D));
    kt_assert_f32_close(out[0], want, N * D, 1e-5, 1e-6);
    kt_assert_shape(out[1], KT_DIMS(N, C, D));
    kt_assert_f32_close(out[1], lp, N * C * D, 1e-5, 1e-6);
    kn_tensor_free(out[0]);
    kn_tensor_free(out[1]);
    kt_node_free(node);
    kiln_tensor *y = run_loss("SoftmaxCrossEntropyLoss", "mean", true, 1, x, t, w, KILN_OK);
    kt_assert_f32_close(y, (float[]){(float)(sum / wsum)}, 1, 1e-5, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    kn_tensor_free(t);
    kn_tensor_free(w);
}

static void test_sce_large_scores_stable(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 3), (float[]){1000, 1001, 1002, -1000, -1001, -1002});
    kiln_tensor *t = kt_i64(KT_DIMS(2), (int64_t[]){2, 2});
    kiln_tensor *y = run_loss("SoftmaxCrossEntropyLoss", "none", false, 0, x, t, NULL, KILN_OK);
    kt_assert_f32_close(y, (float[]){0.40760596f, 2.40760596f}, 2, 1e-6, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    kn_tensor_free(t);
}

static void test_double_and_half(void **state)
{
    (void)state;
    double xd[6] = {-1, -2, -3, -0.5, -0.25, -0.125};
    kiln_tensor *x = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 3), xd);
    kiln_tensor *t = kt_i64(KT_DIMS(2), (int64_t[]){1, 2});
    kiln_tensor *y = run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, x, t, NULL, KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_DOUBLE);
    assert_true(fabs(((double *)y->data)[0] - 2.125) < 1e-15);
    kn_tensor_free(y);
    kn_tensor_free(x);
    uint16_t xh[6];
    for (int i = 0; i < 6; i++)
        xh[i] = kn_float_to_half((float)xd[i]);
    x = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2, 3), xh);
    y = run_loss("SoftmaxCrossEntropyLoss", "none", false, 0, x, t, NULL, KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
    double lse0 = log(exp(-1.0) + exp(-2.0) + exp(-3.0));
    assert_true(fabs(kn_half_to_float(((uint16_t *)y->data)[0]) - (lse0 + 2.0)) < 2e-3);
    kn_tensor_free(y);
    kn_tensor_free(x);
    kn_tensor_free(t);
}

static void test_empty_batch(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(0, 3, 2), NULL);
    kiln_tensor *t = kt_i64(KT_DIMS(0, 2), NULL);
    kiln_tensor *y = run_loss("SoftmaxCrossEntropyLoss", "none", false, 0, x, t, NULL, KILN_OK);
    kt_assert_shape(y, KT_DIMS(0, 2));
    kn_tensor_free(y);
    y = run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, x, t, NULL, KILN_OK);
    kt_assert_f32_close(y, (float[]){0.0f}, 1, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    kn_tensor_free(t);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), nll_x), *t = kt_i64(KT_DIMS(3), nll_t);
    /* class out of range */
    kiln_tensor *bad = kt_i64(KT_DIMS(3), (int64_t[]){0, 4, 1});
    assert_null(run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, x, bad, NULL, KILN_ERROR_ARGUMENT));
    assert_null(run_loss("SoftmaxCrossEntropyLoss", "sum", false, 0, x, bad, NULL, KILN_ERROR_ARGUMENT));
    kn_tensor_free(bad);
    /* target shape does not match */
    bad = kt_i64(KT_DIMS(4), NULL);
    assert_null(run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, x, bad, NULL, KILN_ERROR_SHAPE));
    assert_non_null(strstr(kn_error_message(), "target"));
    kn_tensor_free(bad);
    bad = kt_i64(KT_DIMS(3, 1), NULL);
    assert_null(run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, x, bad, NULL, KILN_ERROR_SHAPE));
    kn_tensor_free(bad);
    /* float target */
    bad = kt_f32(KT_DIMS(3), NULL);
    assert_null(run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, x, bad, NULL, KILN_ERROR_DTYPE));
    kn_tensor_free(bad);
    /* weight of the wrong length or type */
    bad = kt_f32(KT_DIMS(3), NULL);
    assert_null(run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, x, t, bad, KILN_ERROR_SHAPE));
    assert_non_null(strstr(kn_error_message(), "weight"));
    kn_tensor_free(bad);
    bad = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(4), NULL);
    assert_null(run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, x, t, bad, KILN_ERROR_DTYPE));
    kn_tensor_free(bad);
    /* rank-1 input has no class axis */
    bad = kt_f32(KT_DIMS(4), NULL);
    assert_null(run_loss("NegativeLogLikelihoodLoss", "sum", false, 0, bad, t, NULL, KILN_ERROR_SHAPE));
    kn_tensor_free(bad);
    /* integer scores */
    bad = kt_i64(KT_DIMS(3, 4), NULL);
    assert_null(run_loss("SoftmaxCrossEntropyLoss", "sum", false, 0, bad, t, NULL, KILN_ERROR_DTYPE));
    kn_tensor_free(bad);
    /* unknown reduction */
    assert_null(run_loss("SoftmaxCrossEntropyLoss", "max", false, 0, x, t, NULL, KILN_ERROR_MODEL));
    assert_non_null(strstr(kn_error_message(), "reduction"));
    kn_tensor_free(x);
    kn_tensor_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nll_reductions),      cmocka_unit_test(test_nll_ignore_index),
        cmocka_unit_test(test_nll_nd_targets),      cmocka_unit_test(test_sce_matches_reference),
        cmocka_unit_test(test_sce_large_scores_stable), cmocka_unit_test(test_double_and_half),
        cmocka_unit_test(test_empty_batch),         cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
