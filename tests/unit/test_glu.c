/* Swish (opset 24, unary family) and SwiGLU (opset 28): default and custom
 * alpha, extreme inputs without overflow, broadcasting of the gate's
 * operands, float types, empty tensors and refused inputs. */
#include "harness.h"

#include <math.h>

static double swish_ref(double x, double alpha)
{
    return x / (1.0 + exp(-alpha * x));
}

static kiln_tensor *run_swish(bool set_alpha, float alpha, kiln_tensor *x)
{
    kt_node *n = kt_node_new("Swish", 24);
    if (set_alpha)
        kt_attr_float(n, "alpha", alpha);
    kiln_tensor *y = NULL;
    kiln_status s = kt_run(n, 1, (kiln_tensor *[]){x}, 1, &y);
    kt_node_free(n);
    kn_tensor_free(x);
    if (s != KILN_OK)
        fail_msg("Swish: %s", kiln_last_error());
    return y;
}

static kiln_status run_swiglu(bool set_alpha, float alpha, kiln_tensor *a, kiln_tensor *b, kiln_tensor **y)
{
    kt_node *n = kt_node_new("SwiGLU", 28);
    if (set_alpha)
        kt_attr_float(n, "alpha", alpha);
    *y = NULL;
    kiln_status s = kt_run(n, 2, (kiln_tensor *[]){a, b}, 1, y);
    kt_node_free(n);
    kn_tensor_free(a);
    kn_tensor_free(b);
    return s;
}

static void test_swish_values(void **state)
{
    (void)state;
    const float x[7] = {-3, -0.5f, 0, 0.5f, 3, 4, 5};
    for (int k = 0; k < 3; k++) {
        const float alpha = k == 0 ? 1.0f : (k == 1 ? 0.5f : -2.0f);
        kiln_tensor *y = run_swish(k != 0, alpha, kt_f32(KT_DIMS(7), x));
        float want[7];
        for (int i = 0; i < 7; i++)
            want[i] = (float)swish_ref(x[i], alpha);
        kt_assert_f32_close(y, want, 7, 1e-6, 1e-7);
        kn_tensor_free(y);
    }
}

/* Huge |alpha * x| must give x or 0 (signed), never NaN from inf/inf. */
static void test_swish_extremes(void **state)
{
    (void)state;
    kiln_tensor *y = run_swish(false, 0, kt_f32(KT_DIMS(4), (float[]){-1e30f, 1e30f, -200.0f, 200.0f}));
    const float *v = y->data;
    assert_true(v[0] == 0.0f && signbit(v[0]));
    assert_true(v[1] == 1e30f);
    assert_true(v[2] == 0.0f);
    assert_true(v[3] == 200.0f);
    kn_tensor_free(y);
    y = run_swish(false, 0, kt_f32(KT_DIMS(0), NULL));
    kt_assert_shape(y, KT_DIMS(0));
    kn_tensor_free(y);
}

static void test_swish_types(void **state)
{
    (void)state;
    double xd[3] = {-1.5, 0.25, 2};
    kiln_tensor *y = run_swish(true, 1.5f, kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(3), xd));
    for (int i = 0; i < 3; i++)
        assert_true(fabs(((double *)y->data)[i] - swish_ref(xd[i], 1.5)) < 1e-15);
    kn_tensor_free(y);
    uint16_t h[3];
    for (int i = 0; i < 3; i++)
        h[i] = kn_float_to_bf16((float)xd[i]);
    y = run_swish(false, 0, kt_tensor(KILN_DTYPE_BFLOAT16, KT_DIMS(3), h));
    for (int i = 0; i < 3; i++)
        assert_true(fabs(kn_bf16_to_float(((uint16_t *)y->data)[i]) - swish_ref(xd[i], 1)) < 1e-2);
    kn_tensor_free(y);
    kt_node *n = kt_node_new("Swish", 24);
    kiln_tensor *in = kt_i32(KT_DIMS(2), NULL), *out = NULL;
    assert_int_not_equal(kt_run(n, 1, (kiln_tensor *[]){in}, 1, &out), KILN_OK);
    kt_node_free(n);
    kn_tensor_free(in);
    assert_null(kn_op_find("", "Swish", 23));
}

static void test_swiglu_values_and_broadcast(void **state)
{
    (void)state;
    const float a[8] = {1, -2, 3, 4, -1, 2, -3, 0.5f}, b[8] = {0.5f, 1, -1, 2, 2, -1, 0.5f, 1};
    kiln_tensor *y;
    for (int k = 0; k < 2; k++) {
        const float alpha = k ? 0.5f : 1.0f;
        assert_int_equal(run_swiglu(k, alpha, kt_f32(KT_DIMS(2, 4), a), kt_f32(KT_DIMS(2, 4), b), &y), KILN_OK);
        float want[8];
        for (int i = 0; i < 8; i++)
            want[i] = (float)(swish_ref(a[i], alpha) * b[i]);
        kt_assert_f32_close(y, want, 8, 1e-6, 1e-7);
        kn_tensor_free(y);
    }
    /* b [4] broadcast over a [2,4]; a [2,1] broadcast over b [1,4] */
    assert_int_equal(run_swiglu(false, 0, kt_f32(KT_DIMS(2, 4), a), kt_f32(KT_DIMS(4), b), &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 4));
    float want[8];
    for (int i = 0; i < 8; i++)
        want[i] = (float)(swish_ref(a[i], 1) * b[i % 4]);
    kt_assert_f32_close(y, want, 8, 1e-6, 1e-7);
    kn_tensor_free(y);
    assert_int_equal(run_swiglu(false, 0, kt_f32(KT_DIMS(2, 1), a), kt_f32(KT_DIMS(1, 4), b), &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 4));
    for (int i = 0; i < 8; i++)
        want[i] = (float)(swish_ref(a[i / 4], 1) * b[i % 4]);
    kt_assert_f32_close(y, want, 8, 1e-6, 1e-7);
    kn_tensor_free(y);
    assert_int_equal(run_swiglu(false, 0, kt_f32(KT_DIMS(0, 4), NULL), kt_f32(KT_DIMS(4), b), &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(0, 4));
    kn_tensor_free(y);
}

static void test_swiglu_half_and_errors(void **state)
{
    (void)state;
    uint16_t a[2] = {kn_float_to_half(3.0f), kn_float_to_half(-1.0f)}, b[2] = {kn_float_to_half(-1.0f),
                                                                               kn_float_to_half(2.0f)};
    kiln_tensor *y;
    assert_int_equal(run_swiglu(false, 0, kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2), a),
                                kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2), b), &y),
                     KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
    assert_true(fabs(kn_half_to_float(((uint16_t *)y->data)[0]) + 2.8577223) < 2e-3);
    assert_true(fabs(kn_half_to_float(((uint16_t *)y->data)[1]) + 0.5378828) < 1e-3);
    kn_tensor_free(y);
    assert_int_equal(run_swiglu(false, 0, kt_f32(KT_DIMS(2), NULL), kt_f32(KT_DIMS(3), NULL), &y), KILN_ERROR_SHAPE);
    assert_int_equal(run_swiglu(false, 0, kt_f32(KT_DIMS(2), NULL), kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2), NULL), &y),
                     KILN_ERROR_DTYPE);
    assert_int_equal(run_swiglu(false, 0, kt_i64(KT_DIMS(2), NULL), kt_i64(KT_DIMS(2), NULL), &y), KILN_ERROR_DTYPE);
    assert_null(kn_op_find("", "SwiGLU", 27));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swish_values),
        cmocka_unit_test(test_swish_extremes),
        cmocka_unit_test(test_swish_types),
        cmocka_unit_test(test_swiglu_values_and_broadcast),
        cmocka_unit_test(test_swiglu_half_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
