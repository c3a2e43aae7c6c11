/* Softmax, LogSoftmax, Hardmax: both axis semantics (opset >= 13 one axis,
 * older ones the 2-D coercion), stability, dtypes, errors. */
#include "harness.h"

#include <math.h>

enum { SOFTMAX, LOGSOFTMAX, HARDMAX };
static const char *op_names[] = {"Softmax", "LogSoftmax", "Hardmax"};

/* Straightforward double-precision reference over (outer, n, inner). */
static void reference(int kind, const float *x, int64_t outer, int64_t n, int64_t inner, float *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *r = x + o * n * inner + i;
            float *w = y + o * n * inner + i;
            double mx = r[0];
            int64_t arg = 0;
            for (int64_t k = 1; k < n; k++)
                if (r[k * inner] > mx) {
                    mx = r[k * inner];
                    arg = k;
                }
            double s = 0;
            for (int64_t k = 0; k < n; k++)
                s += exp(r[k * inner] - mx);
            for (int64_t k = 0; k < n; k++) {
                if (kind == SOFTMAX)
                    w[k * inner] = (float)(exp(r[k * inner] - mx) / s);
                else if (kind == LOGSOFTMAX)
                    w[k * inner] = (float)(r[k * inner] - mx - log(s));
                else
                    w[k * inner] = k == arg ? 1.0f : 0.0f;
            }
        }
}

static kiln_tensor *run1(const char *op, int opset, bool set_axis, int64_t axis, kiln_tensor *x, kiln_status want)
{
    kt_node *n = kt_node_new(op, opset);
    if (set_axis)
        kt_attr_int(n, "axis", axis);
    kiln_tensor *out[1] = {NULL};
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){x}, 1, out), want);
    kt_node_free(n);
    return out[0];
}

static void test_softmax_hand_computed(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 3), (float[]){1, 2, 3, 0, 0, 0});
    kiln_tensor *y = run1("Softmax", 13, false, 0, x, KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, (float[]){0.09003057f, 0.24472847f, 0.66524096f, 1 / 3.f, 1 / 3.f, 1 / 3.f}, 6, 1e-6,
                        1e-7);
    kn_tensor_free(y);
    y = run1("LogSoftmax", 13, false, 0, x, KILN_OK);
    kt_assert_f32_close(y, (float[]){-2.40760596f, -1.40760596f, -0.40760596f, -1.09861229f, -1.09861229f, -1.09861229f},
                        6, 1e-6, 1e-6);
    kn_tensor_free(y);
    y = run1("Hardmax", 13, false, 0, x, KILN_OK);
    kt_assert_f32_close(y, (float[]){0, 0, 1, 1, 0, 0}, 6, 0, 0); /* ties: first index */
    kn_tensor_free(y);
    kn_tensor_free(x);
}

/* Every axis of a [3,4,5] input in both semantics, all three ops. */
static void test_all_axes_both_semantics(void **state)
{
    (void)state;
    const int64_t dims[3] = {3, 4, 5};
    kiln_tensor *x = kt_f32_random(3, dims, 21, -3, 3);
    float want[60];
    for (int kind = 0; kind < 3; kind++)
        for (int axis = -3; axis < 3; axis++) {
            int a = axis < 0 ? axis + 3 : axis;
            int64_t outer = 1, n = dims[a], inner = 1, tail = 1;
            for (int i = 0; i < a; i++)
                outer *= dims[i];
            for (int i = a + 1; i < 3; i++)
                inner *= dims[i];
            for (int i = a; i < 3; i++)
                tail *= dims[i];
            /* opset 13: one axis */
            reference(kind, x->data, outer, n, inner, want);
            kiln_tensor *y = run1(op_names[kind], 13, true, axis, x, KILN_OK);
            kt_assert_f32_close(y, want, 60, 1e-5, 1e-6);
            kn_tensor_free(y);
            /* opset 11 / 1: everything from axis on is one row */
            reference(kind, x->data, outer, tail, 1, want);
            y = run1(op_names[kind], 11, true, axis, x, KILN_OK);
            kt_assert_f32_close(y, want, 60, 1e-5, 1e-6);
            kn_tensor_free(y);
            y = run1(op_names[kind], 1, true, axis, x, KILN_OK);
            kt_assert_f32_close(y, want, 60, 1e-5, 1e-6);
            kn_tensor_free(y);
        }
    kn_tensor_free(x);
}

static void test_default_axis_depends_on_opset(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 3, 4), 5, -2, 2);
    float want[24];
    reference(SOFTMAX, x->data, 2, 12, 1, want); /* old default axis 1, coerced */
    kiln_tensor *y = run1("Softmax", 12, false, 0, x, KILN_OK);
    kt_assert_f32_close(y, want, 24, 1e-5, 1e-7);
    kn_tensor_free(y);
    reference(SOFTMAX, x->data, 6, 4, 1, want); /* new default axis -1 */
    y = run1("Softmax", 13, false, 0, x, KILN_OK);
    kt_assert_f32_close(y, want, 24, 1e-5, 1e-7);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_large_numbers_stable(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 4), (float[]){0, 1, 2, 3, 10000, 10001, 10002, 10003});
    kiln_tensor *y = run1("Softmax", 13, false, 0, x, KILN_OK);
    const float w[4] = {0.0320586f, 0.08714432f, 0.23688282f, 0.64391426f};
    kt_assert_f32_close(y, (float[]){w[0], w[1], w[2], w[3], w[0], w[1], w[2], w[3]}, 8, 1e-5, 1e-7);
    kn_tensor_free(y);
    y = run1("LogSoftmax", 13, false, 0, x, KILN_OK);
    const float l[4] = {-3.4401896f, -2.4401896f, -1.4401897f, -0.4401897f};
    kt_assert_f32_close(y, (float[]){l[0], l[1], l[2], l[3], l[0], l[1], l[2], l[3]}, 8, 1e-5, 1e-6);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_long_rows_and_odd_sizes(void **state)
{
    (void)state;
    for (int64_t n = 1; n <= 1025; n = n * 2 + 1) {
        kiln_tensor *x = kt_f32_random(KT_DIMS(3, n), (uint32_t)n, -20, 20);
        float *want = malloc(sizeof(float) * (size_t)(3 * n));
        for (int kind = 0; kind < 3; kind++) {
            reference(kind, x->data, 3, n, 1, want);
            kiln_tensor *y = run1(op_names[kind], 13, false, 0, x, KILN_OK);
            kt_assert_f32_close(y, want, 3 * n, 1e-5, 1e-6);
            kn_tensor_free(y);
        }
        free(want);
        kn_tensor_free(x);
    }
}

static void test_empty_and_scalar(void **state)
{
    (void)state;
    kiln_tensor *e = kt_f32(KT_DIMS(0, 3), NULL);
    kiln_tensor *y = run1("Softmax", 13, false, 0, e, KILN_OK);
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);
    kiln_tensor *e2 = kt_f32(KT_DIMS(2, 0), NULL);
    y = run1("Hardmax", 11, false, 0, e2, KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 0));
    kn_tensor_free(y);
    kiln_tensor *s = kt_f32(0, NULL, (float[]){42});
    y = run1("Softmax", 13, false, 0, s, KILN_OK);
    kt_assert_shape(y, 0, NULL);
    kt_assert_f32_close(y, (float[]){1}, 1, 0, 0);
    kn_tensor_free(y);
    y = run1("LogSoftmax", 13, false, 0, s, KILN_OK);
    kt_assert_f32_close(y, (float[]){0}, 1, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(e);
    kn_tensor_free(e2);
    kn_tensor_free(s);
}

static void test_double_and_half(void **state)
{
    (void)state;
    kiln_tensor *d = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(3), (double[]){1, 2, 3});
    kiln_tensor *y = run1("Softmax", 13, false, 0, d, KILN_OK);
    kiln_tensor *w = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(3),
                               (double[]){0.090030573170380462, 0.24472847105479767, 0.66524095577481771});
    kt_assert_tensors_close(y, w, 1e-14, 0);
    kn_tensor_free(y);
    kn_tensor_free(w);
    uint16_t h[3] = {kn_float_to_half(1), kn_float_to_half(2), kn_float_to_half(3)};
    kiln_tensor *hx = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(3), h);
    y = run1("LogSoftmax", 13, false, 0, hx, KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
    const uint16_t *yh = y->data;
    assert_true(fabs(kn_half_to_float(yh[0]) + 2.4076f) < 2e-3 && fabs(kn_half_to_float(yh[2]) + 0.4076f) < 1e-3);
    kn_tensor_free(y);
    kn_tensor_free(hx);
    kn_tensor_free(d);
}

/* Parallel rows (pool of 2) match the single-threaded result. */
static void test_threads(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32_random(KT_DIMS(64, 7, 33), 3, -5, 5);
    kiln_tensor *a[1], *b[1];
    kt_node *n = kt_node_new("Softmax", 13);
    kt_attr_int(n, "axis", 1);
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 0, 1, (kiln_tensor *[]){x}, 1, a), KILN_OK);
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 2, 1, (kiln_tensor *[]){x}, 1, b), KILN_OK);
    assert_memory_equal(a[0]->data, b[0]->data, a[0]->nbytes);
    kn_tensor_free(a[0]);
    kn_tensor_free(b[0]);
    kt_node_free(n);
    kn_tensor_free(x);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 3), NULL);
    assert_null(run1("Softmax", 13, true, 2, x, KILN_ERROR_MODEL));
    assert_non_null(strstr(kn_error_message(), "axis"));
    assert_null(run1("LogSoftmax", 11, true, -3, x, KILN_ERROR_MODEL));
    kiln_tensor *i = kt_i64(KT_DIMS(2), NULL);
    assert_null(run1("Hardmax", 13, false, 0, i, KILN_ERROR_DTYPE));
    kt_node *n = kt_node_new("Softmax", 13);
    kt_attr_float(n, "axis", 1.0f);
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){x}, 1, out), KILN_ERROR_MODEL);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_hand_computed),
        cmocka_unit_test(test_all_axes_both_semantics),
        cmocka_unit_test(test_default_axis_depends_on_opset),
        cmocka_unit_test(test_large_numbers_stable),
        cmocka_unit_test(test_long_rows_and_odd_sizes),
        cmocka_unit_test(test_empty_and_scalar),
        cmocka_unit_test(test_double_and_half),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
