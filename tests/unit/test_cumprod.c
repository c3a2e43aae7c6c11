/* CumProd (opset 26), which shares CumSum's kernel: exclusive/reverse,
 * every axis incl. negative ones, integer wrap-around, float types, empty
 * tensors and refused inputs. */
#include "harness.h"

static kiln_status cumprod_run(int exclusive, int reverse, kiln_tensor *x, kiln_tensor *axis, kiln_tensor **y)
{
    kt_node *n = kt_node_new("CumProd", 26);
    if (exclusive >= 0)
        kt_attr_int(n, "exclusive", exclusive);
    if (reverse >= 0)
        kt_attr_int(n, "reverse", reverse);
    *y = NULL;
    kiln_status s = kt_run(n, 2, (kiln_tensor *[]){x, axis}, 1, y);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(axis);
    return s;
}

static kiln_tensor *cumprod(int exclusive, int reverse, int64_t axis, kiln_tensor *x)
{
    kiln_tensor *y;
    assert_int_equal(cumprod_run(exclusive, reverse, x, kt_i64(0, NULL, &axis), &y), KILN_OK);
    return y;
}

static void test_modes_1d(void **state)
{
    (void)state;
    const float x[5] = {1, 2, 3, 4, 5};
    static const float want[4][5] = {
        {1, 2, 6, 24, 120}, {1, 1, 2, 6, 24}, {120, 120, 60, 20, 5}, {120, 60, 20, 5, 1}};
    for (int m = 0; m < 4; m++) {
        kiln_tensor *y = cumprod(m & 1, m >> 1, 0, kt_f32(KT_DIMS(5), x));
        kt_assert_f32_close(y, want[m], 5, 0, 0);
        kn_tensor_free(y);
    }
    /* attributes absent = 0 */
    kiln_tensor *y;
    assert_int_equal(cumprod_run(-1, -1, kt_f32(KT_DIMS(5), x), kt_i32(0, NULL, (int32_t[]){0}), &y), KILN_OK);
    kt_assert_f32_close(y, want[0], 5, 0, 0);
    kn_tensor_free(y);
}

/* [2, 3, 2]: every axis, positive and negative, against a direct loop. */
static void test_axes_3d(void **state)
{
    (void)state;
    const int64_t dims[3] = {2, 3, 2};
    double x[12];
    for (int i = 0; i < 12; i++)
        x[i] = 0.5 + 0.25 * i;
    for (int axis = -3; axis < 3; axis++) {
        int a = axis < 0 ? axis + 3 : axis;
        int64_t inner = 1, len = dims[a];
        for (int i = a + 1; i < 3; i++)
            inner *= dims[i];
        double want[12];
        for (int i = 0; i < 12; i++) {
            int64_t k = (i / inner) % len, first = i - k * inner;
            want[i] = 1;
            for (int64_t j = 0; j <= k; j++)
                want[i] *= x[first + j * inner];
        }
        kiln_tensor *y = cumprod(0, 0, axis, kt_tensor(KILN_DTYPE_DOUBLE, 3, dims, x));
        assert_int_equal(y->dtype, KILN_DTYPE_DOUBLE);
        for (int i = 0; i < 12; i++)
            assert_true(((double *)y->data)[i] == want[i]);
        kn_tensor_free(y);
    }
}

static void test_integers(void **state)
{
    (void)state;
    kiln_tensor *y = cumprod(1, 0, 0, kt_i32(KT_DIMS(2, 3), (int32_t[]){1, 2, 3, 4, 5, 6}));
    assert_int_equal(y->dtype, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y, (int64_t[]){1, 1, 1, 1, 2, 3}, 6);
    kn_tensor_free(y);
    /* overflow wraps as two's complement, never traps */
    y = cumprod(0, 0, 0, kt_i32(KT_DIMS(3), (int32_t[]){65536, 65536, -3}));
    kt_assert_i64_equal(y, (int64_t[]){65536, 0, 0}, 3);
    kn_tensor_free(y);
    y = cumprod(0, 1, 0, kt_i64(KT_DIMS(3), (int64_t[]){INT64_MAX, 2, -1}));
    kt_assert_i64_equal(y, (int64_t[]){2, -2, -1}, 3);
    kn_tensor_free(y);
    uint64_t u[3] = {3, UINT64_MAX, 2};
    y = cumprod(0, 0, -1, kt_tensor(KILN_DTYPE_UINT64, KT_DIMS(3), u));
    assert_true(((uint64_t *)y->data)[1] == UINT64_MAX - 2 && ((uint64_t *)y->data)[2] == UINT64_MAX - 5);
    kn_tensor_free(y);
}

static void test_half_and_zero(void **state)
{
    (void)state;
    uint16_t h[4];
    const float v[4] = {2, 0, 3, 0.5f};
    for (int i = 0; i < 4; i++)
        h[i] = kn_float_to_half(v[i]);
    kiln_tensor *y = cumprod(0, 1, 0, kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(4), h));
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
    const float want[4] = {0, 0, 1.5f, 0.5f};
    for (int i = 0; i < 4; i++)
        assert_true(kn_half_to_float(((uint16_t *)y->data)[i]) == want[i]);
    kn_tensor_free(y);
}

static void test_empty(void **state)
{
    (void)state;
    kiln_tensor *y = cumprod(0, 0, 1, kt_f32(KT_DIMS(2, 0), NULL));
    kt_assert_shape(y, KT_DIMS(2, 0));
    kn_tensor_free(y);
    y = cumprod(1, 1, 0, kt_f32(KT_DIMS(0, 3), NULL));
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *y;
    assert_int_equal(cumprod_run(0, 0, kt_f32(KT_DIMS(3), NULL), kt_i64(0, NULL, (int64_t[]){1}), &y),
                     KILN_ERROR_MODEL);
    assert_int_equal(cumprod_run(0, 0, kt_f32(KT_DIMS(3), NULL), kt_i64(0, NULL, (int64_t[]){-2}), &y),
                     KILN_ERROR_MODEL);
    assert_int_equal(cumprod_run(0, 0, kt_f32(KT_DIMS(3), NULL), kt_i64(KT_DIMS(2), (int64_t[]){0, 0}), &y),
                     KILN_ERROR_SHAPE);
    assert_int_equal(cumprod_run(0, 0, kt_f32(0, NULL, NULL), kt_i64(0, NULL, (int64_t[]){0}), &y),
                     KILN_ERROR_SHAPE);
    assert_int_equal(cumprod_run(0, 0, kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), NULL), kt_i64(0, NULL, (int64_t[]){0}),
                                 &y),
                     KILN_ERROR_DTYPE);
    assert_int_equal(cumprod_run(0, 0, kt_f32(KT_DIMS(2), NULL), kt_f32(0, NULL, NULL), &y), KILN_ERROR_DTYPE);
    /* CumProd first appears in opset 26 */
    assert_null(kn_op_find("", "CumProd", 25));
    assert_non_null(kn_op_find("", "CumProd", 26));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_1d),      cmocka_unit_test(test_axes_3d), cmocka_unit_test(test_integers),
        cmocka_unit_test(test_half_and_zero), cmocka_unit_test(test_empty),   cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
