/* MaxUnpool: round trip with MaxPool's Indices (batch and channels > 1, so
 * indices are flat over the whole tensor), 1-D/3-D, strides and pads, the
 * output_shape input (coordinates kept in a larger output), dtypes, empty
 * inputs and refused attributes, shapes and indices. */
#include "harness.h"

static kt_node *unpool_node(int opset, const int64_t *kernel, const int64_t *strides, const int64_t *pads, int nsp)
{
    kt_node *n = kt_node_new("MaxUnpool", opset);
    if (kernel)
        kt_attr_ints(n, "kernel_shape", kernel, (size_t)nsp);
    if (strides)
        kt_attr_ints(n, "strides", strides, (size_t)nsp);
    if (pads)
        kt_attr_ints(n, "pads", pads, 2 * (size_t)nsp);
    return n;
}

static kiln_status unpool(kt_node *n, int n_in, kiln_tensor **in, kiln_tensor **y)
{
    *y = NULL;
    kiln_status s = kt_run(n, n_in, in, 1, y);
    kt_node_free(n);
    for (int i = 0; i < n_in; i++)
        kn_tensor_free(in[i]);
    return s;
}

static void test_roundtrip_with_maxpool(void **state)
{
    (void)state;
    const int64_t k[2] = {2, 2};
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 3, 4, 6), 5, -1, 1);
    kt_node *pool = kt_node_new("MaxPool", 12);
    kt_attr_ints(pool, "kernel_shape", k, 2);
    kt_attr_ints(pool, "strides", k, 2);
    kiln_tensor *po[2] = {NULL, NULL};
    assert_int_equal(kt_run(pool, 1, (kiln_tensor *[]){x}, 2, po), KILN_OK);
    kt_node_free(pool);
    kiln_tensor *y;
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 2, (kiln_tensor *[]){po[0], po[1]}, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 3, 4, 6));
    /* every window keeps exactly its max at the max's position */
    const float *xv = x->data, *yv = y->data;
    int kept = 0;
    for (int i = 0; i < 2 * 3 * 4 * 6; i++) {
        if (yv[i] != 0.0f) {
            assert_true(yv[i] == xv[i]);
            kept++;
        }
    }
    assert_int_equal(kept, 2 * 3 * 2 * 3);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_spec_example_and_output_shape(void **state)
{
    (void)state;
    const int64_t k[2] = {2, 2};
    const float xv[4] = {5, 6, 7, 8};
    const int64_t iv[4] = {5, 7, 13, 15};
    kiln_tensor *y;
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 2,
                            (kiln_tensor *[]){kt_f32(KT_DIMS(1, 1, 2, 2), xv), kt_i64(KT_DIMS(1, 1, 2, 2), iv)}, &y),
                     KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 4, 4));
    kt_assert_f32_close(y, (float[]){0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 7, 0, 8}, 16, 0, 0);
    kn_tensor_free(y);
    /* a larger output keeps each index's (row, col) of the inferred 4x4 */
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 3,
                            (kiln_tensor *[]){kt_f32(KT_DIMS(1, 1, 2, 2), xv), kt_i64(KT_DIMS(1, 1, 2, 2), iv),
                                              kt_i64(KT_DIMS(4), (int64_t[]){1, 1, 5, 6})},
                            &y),
                     KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 5, 6));
    float want[30] = {0};
    want[1 * 6 + 1] = 5;
    want[1 * 6 + 3] = 6;
    want[3 * 6 + 1] = 7;
    want[3 * 6 + 3] = 8;
    kt_assert_f32_close(y, want, 30, 0, 0);
    kn_tensor_free(y);
}

/* 1-D with default strides (1) and pads; 3-D with pads; double. */
static void test_1d_3d_pads(void **state)
{
    (void)state;
    kiln_tensor *y;
    /* kernel 3, stride 1: [1,1,3] -> [1,1,5] */
    assert_int_equal(unpool(unpool_node(9, (int64_t[]){3}, NULL, NULL, 1), 2,
                            (kiln_tensor *[]){kt_f32(KT_DIMS(1, 1, 3), (float[]){1, 2, 3}),
                                              kt_i64(KT_DIMS(1, 1, 3), (int64_t[]){2, 2, 4})},
                            &y),
                     KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 5));
    kt_assert_f32_close(y, (float[]){0, 0, 2, 0, 3}, 5, 0, 0); /* repeated index: last write wins */
    kn_tensor_free(y);
    /* 3-D: kernel 2, stride 2, pads 1 at begin and end of depth: D = (2-1)*2 - 2 + 2 = 2 */
    double xd[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t id[8];
    for (int i = 0; i < 8; i++)
        id[i] = 31 - i * 4;
    assert_int_equal(unpool(unpool_node(22, (int64_t[]){2, 2, 2}, (int64_t[]){2, 2, 2}, (int64_t[]){1, 0, 0, 1, 0, 0}, 3),
                            2,
                            (kiln_tensor *[]){kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1, 1, 2, 2, 2), xd),
                                              kt_i64(KT_DIMS(1, 1, 2, 2, 2), id)},
                            &y),
                     KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 2, 4, 4));
    const double *yv = y->data;
    for (int i = 0; i < 32; i++)
        assert_true(yv[i] == ((31 - i) % 4 == 0 ? xd[(31 - i) / 4] : 0.0));
    kn_tensor_free(y);
    /* empty batch */
    assert_int_equal(unpool(unpool_node(11, (int64_t[]){2}, (int64_t[]){2}, NULL, 1), 2,
                            (kiln_tensor *[]){kt_f32(KT_DIMS(0, 2, 3), NULL), kt_i64(KT_DIMS(0, 2, 3), NULL)}, &y),
                     KILN_OK);
    kt_assert_shape(y, KT_DIMS(0, 2, 6));
    kn_tensor_free(y);
}

static void test_errors(void **state)
{
    (void)state;
    const int64_t k[2] = {2, 2};
    kiln_tensor *y;
#define X4() kt_f32(KT_DIMS(1, 1, 2, 2), NULL)
#define I4(...) kt_i64(KT_DIMS(1, 1, 2, 2), (int64_t[]){__VA_ARGS__})
    /* index outside the unpooled 4x4 tensor, or negative */
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 2, (kiln_tensor *[]){X4(), I4(0, 1, 2, 16)}, &y),
                     KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kn_error_message(), "index 16"));
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 2, (kiln_tensor *[]){X4(), I4(0, -1, 2, 3)}, &y),
                     KILN_ERROR_ARGUMENT);
    /* output_shape smaller than the unpooled size, or of the wrong length */
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 3,
                            (kiln_tensor *[]){X4(), I4(0, 1, 2, 3), kt_i64(KT_DIMS(4), (int64_t[]){1, 1, 3, 4})}, &y),
                     KILN_ERROR_SHAPE);
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 3,
                            (kiln_tensor *[]){X4(), I4(0, 1, 2, 3), kt_i64(KT_DIMS(2), (int64_t[]){4, 4})}, &y),
                     KILN_ERROR_SHAPE);
    /* opset 9 has no output_shape input */
    assert_int_equal(unpool(unpool_node(9, k, k, NULL, 2), 3,
                            (kiln_tensor *[]){X4(), I4(0, 1, 2, 3), kt_i64(KT_DIMS(4), (int64_t[]){1, 1, 4, 4})}, &y),
                     KILN_ERROR_MODEL);
    /* I of the wrong type or shape */
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 2,
                            (kiln_tensor *[]){X4(), kt_i32(KT_DIMS(1, 1, 2, 2), NULL)}, &y),
                     KILN_ERROR_DTYPE);
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 2,
                            (kiln_tensor *[]){X4(), kt_i64(KT_DIMS(1, 1, 2, 1), NULL)}, &y),
                     KILN_ERROR_SHAPE);
    /* rank does not fit kernel_shape; integer X */
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 2,
                            (kiln_tensor *[]){kt_f32(KT_DIMS(1, 4), NULL), kt_i64(KT_DIMS(1, 4), NULL)}, &y),
                     KILN_ERROR_SHAPE);
    assert_int_equal(unpool(unpool_node(11, k, k, NULL, 2), 2,
                            (kiln_tensor *[]){kt_i64(KT_DIMS(1, 1, 2, 2), NULL), I4(0, 1, 2, 3)}, &y),
                     KILN_ERROR_DTYPE);
    /* attributes */
    assert_int_equal(unpool(unpool_node(11, NULL, NULL, NULL, 2), 2, (kiln_tensor *[]){X4(), I4(0, 1, 2, 3)}, &y),
                     KILN_ERROR_MODEL);
    assert_int_equal(unpool(unpool_node(11, (int64_t[]){2, 0}, NULL, NULL, 2), 2,
                            (kiln_tensor *[]){X4(), I4(0, 1, 2, 3)}, &y),
                     KILN_ERROR_MODEL);
    assert_int_equal(unpool(unpool_node(11, k, (int64_t[]){1, -1}, NULL, 2), 2,
                            (kiln_tensor *[]){X4(), I4(0, 1, 2, 3)}, &y),
                     KILN_ERROR_MODEL);
    assert_int_equal(unpool(unpool_node(11, k, NULL, (int64_t[]){0, 0, -1, 0}, 2), 2,
                            (kiln_tensor *[]){X4(), I4(0, 1, 2, 3)}, &y),
                     KILN_ERROR_MODEL);
    /* pads larger than the unpooled extent; huge strides must not overflow */
    assert_int_equal(unpool(unpool_node(11, k, NULL, (int64_t[]){5, 0, 0, 0}, 2), 2,
                            (kiln_tensor *[]){X4(), I4(0, 1, 2, 3)}, &y),
                     KILN_ERROR_SHAPE);
    assert_int_equal(unpool(unpool_node(11, k, (int64_t[]){INT64_MAX, 1}, NULL, 2), 2,
                            (kiln_tensor *[]){X4(), I4(0, 1, 2, 3)}, &y),
                     KILN_ERROR_SHAPE);
#undef X4
#undef I4
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_with_maxpool),
        cmocka_unit_test(test_spec_example_and_output_shape),
        cmocka_unit_test(test_1d_3d_pads),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
