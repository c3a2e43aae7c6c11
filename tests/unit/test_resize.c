/* Resize, and Upsample / Resize-10 rewritten into it. Expected values are
 * hand-computed or taken from the ONNX backend tests (whose outputs the ONNX
 * reference implementation produced). */
#include "harness.h"

static const float X16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* Resize at opset 19 with [X, roi, scales, sizes]; NULL entries omitted. */
static kiln_status resize(kt_node *n, kiln_tensor *x, kiln_tensor *roi, kiln_tensor *scales, kiln_tensor *sizes,
                          kiln_tensor **out)
{
    kiln_tensor *in[4] = {x, roi, scales, sizes};
    int n_in = sizes ? 4 : scales ? 3 : roi ? 2 : 1;
    return kt_run(n, n_in, in, 1, out);
}

static kiln_tensor *scales4(float a, float b, float c, float d)
{
    return kt_f32(KT_DIMS(4), (float[]){a, b, c, d});
}

static void test_nearest_upsample_scales(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 19);
    kt_attr_string(n, "mode", "nearest");
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 2), X16);
    kiln_tensor *s = scales4(1, 1, 2, 3);
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 4, 6));
    kt_assert_f32_close(y, (float[]){1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}, 24, 0,
                        0);
    kn_tensor_free(y);
    kn_tensor_free(s);
    kn_tensor_free(x);
    kt_node_free(n);
}

/* Output size is floor(in * scale): 2*0.6 -> 1, 4*0.6 -> 2. */
static void test_linear_downsample_scales(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 13);
    kt_attr_string(n, "mode", "linear");
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 4), X16);
    kiln_tensor *s = scales4(1, 1, 0.6f, 0.6f);
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 1, 2));
    kt_assert_f32_close(y, (float[]){2.6666667f, 4.3333335f}, 2, 1e-6, 1e-6);
    kn_tensor_free(y);
    kn_tensor_free(s);
    kn_tensor_free(x);
    kt_node_free(n);
}

static void test_linear_align_corners(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 13);
    kt_attr_string(n, "mode", "linear");
    kt_attr_string(n, "coordinate_transformation_mode", "align_corners");
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 2), X16);
    kiln_tensor *s = scales4(1, 1, 2, 2);
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_f32_close(y, (float[]){1, 1.333333f, 1.666667f, 2, 1.666667f, 2, 2.333333f, 2.666667f, 2.333333f,
                                     2.666667f, 3, 3.333333f, 3, 3.333333f, 3.666667f, 4},
                        16, 1e-5, 1e-6);
    kn_tensor_free(y);
    kn_tensor_free(s);
    kn_tensor_free(x);
    kt_node_free(n);
}

static const float CUBIC_UP[64] = {
    0.4726562f, 0.7695312f, 1.246094f, 1.875f,    2.28125f,  2.910156f, 3.386719f, 3.683594f, 1.660156f, 1.957031f,
    2.433594f,  3.0625f,    3.46875f,  4.097656f, 4.574219f, 4.871094f, 3.566406f, 3.863281f, 4.339844f, 4.96875f,
    5.375f,     6.003906f,  6.480469f, 6.777344f, 6.082031f, 6.378906f, 6.855469f, 7.484375f, 7.890625f, 8.519531f,
    8.996094f,  9.292969f,  7.707031f, 8.003906f, 8.480469f, 9.109375f, 9.515625f, 10.14453f, 10.62109f, 10.91797f,
    10.22266f,  10.51953f,  10.99609f, 11.625f,   12.03125f, 12.66016f, 13.13672f, 13.43359f, 12.12891f, 12.42578f,
    12.90234f,  13.53125f,  13.9375f,  14.56641f, 15.04297f, 15.33984f, 13.31641f, 13.61328f, 14.08984f, 14.71875f,
    15.125f,    15.75391f,  16.23047f, 16.52734f};

static void test_cubic_upsample(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 19);
    kt_attr_string(n, "mode", "cubic");
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 4, 4), X16);
    kiln_tensor *s = scales4(1, 1, 2, 2);
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 8, 8));
    kt_assert_f32_close(y, CUBIC_UP, 64, 1e-5, 1e-5);
    kn_tensor_free(y);
    kn_tensor_free(s);
    kn_tensor_free(x);
    kt_node_free(n);
}

static void test_cubic_exclude_outside(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 13);
    kt_attr_string(n, "mode", "cubic");
    kt_attr_float(n, "cubic_coeff_a", -0.5f);
    kt_attr_int(n, "exclude_outside", 1);
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 4, 4), X16);
    kiln_tensor *s = scales4(1, 1, 0.8f, 0.8f);
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 3, 3));
    kt_assert_f32_close(y,
                        (float[]){1.368127f, 2.669501f, 4.013337f, 6.573625f, 7.875f, 9.218835f, 11.94897f,
                                  13.25034f, 14.59418f},
                        9, 1e-5, 1e-5);
    kn_tensor_free(y);
    kn_tensor_free(s);
    kn_tensor_free(x);
    kt_node_free(n);
}

static void test_linear_antialias(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 18);
    kt_attr_string(n, "mode", "linear");
    kt_attr_int(n, "antialias", 1);
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 4, 4), X16);
    kiln_tensor *s = scales4(1, 1, 0.6f, 0.6f);
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 2, 2));
    kt_assert_f32_close(y, (float[]){2.875f, 4.5f, 9.375f, 11.0f}, 4, 1e-5, 1e-5);
    kn_tensor_free(y);
    kn_tensor_free(s);
    kn_tensor_free(x);
    kt_node_free(n);
}

static void test_tf_crop_and_resize_extrapolation(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 13);
    kt_attr_string(n, "mode", "linear");
    kt_attr_string(n, "coordinate_transformation_mode", "tf_crop_and_resize");
    kt_attr_float(n, "extrapolation_value", 10.0f);
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 4, 4), X16);
    kiln_tensor *roi = kt_f32(KT_DIMS(8), (float[]){0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f});
    kiln_tensor *sizes = kt_i64(KT_DIMS(4), (int64_t[]){1, 1, 3, 3});
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, roi, NULL, sizes, &y), KILN_OK);
    kt_assert_f32_close(y, (float[]){7.6f, 10, 10, 12.4f, 10, 10, 10, 10, 10}, 9, 1e-5, 1e-5);
    kn_tensor_free(y);
    kn_tensor_free(sizes);
    kn_tensor_free(roi);
    kn_tensor_free(x);
    kt_node_free(n);
}

/* axes + not_larger: scale = min(1/2, 3/4) = 0.5 for both axes. */
static void test_sizes_keep_aspect_not_larger(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 18);
    kt_attr_string(n, "mode", "nearest");
    kt_attr_ints(n, "axes", (int64_t[]){2, 3}, 2);
    kt_attr_string(n, "keep_aspect_ratio_policy", "not_larger");
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 4), X16);
    kiln_tensor *sizes = kt_i64(KT_DIMS(2), (int64_t[]){1, 3});
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, NULL, sizes, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 1, 2));
    kt_assert_f32_close(y, (float[]){1, 3}, 2, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(sizes);
    kn_tensor_free(x);
    kt_node_free(n);
}

static void test_nearest_modes(void **state)
{
    (void)state;
    /* 1-D, asymmetric, x = o * 4/8 = 0, 0.5, 1, ...: the tie goes up with
     * round_prefer_ceil and down with round_prefer_floor */
    const char *modes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const float want[4][8] = {{1, 1, 2, 2, 3, 3, 4, 4}, {1, 2, 2, 3, 3, 4, 4, 4},
                              {1, 1, 2, 2, 3, 3, 4, 4}, {1, 2, 2, 3, 3, 4, 4, 4}};
    for (int m = 0; m < 4; m++) {
        kt_node *n = kt_node_new("Resize", 13);
        kt_attr_string(n, "coordinate_transformation_mode", "asymmetric");
        kt_attr_string(n, "nearest_mode", modes[m]);
        kiln_tensor *x = kt_f32(KT_DIMS(4), X16);
        kiln_tensor *sizes = kt_i64(KT_DIMS(1), (int64_t[]){8});
        kiln_tensor *y = NULL;
        assert_int_equal(resize(n, x, NULL, NULL, sizes, &y), KILN_OK);
        kt_assert_f32_close(y, want[m], 8, 0, 0);
        kn_tensor_free(y);
        kn_tensor_free(sizes);
        kn_tensor_free(x);
        kt_node_free(n);
    }
}

/* Nearest moves bytes, so it works for any dtype. */
static void test_nearest_uint8(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 13);
    uint8_t v[3] = {10, 20, 30};
    kiln_tensor *x = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(1, 3), v);
    kiln_tensor *s = kt_f32(KT_DIMS(2), (float[]){2, 2});
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 6));
    kt_assert_i64_equal(y, (int64_t[]){10, 10, 20, 20, 30, 30, 10, 10, 20, 20, 30, 30}, 12);
    kn_tensor_free(y);
    kn_tensor_free(s);
    kn_tensor_free(x);
    kt_node_free(n);
}

/* Any axis may be resized, not only H and W: here axis 1 of a rank-3
 * tensor with an odd inner size. half_pixel, 2 -> 4: x = -0.25, 0.25, 0.75,
 * 1.25 -> weights of rows a, b: 1|0, .75|.25, .25|.75, 0|1. */
static void test_linear_middle_axis(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 13);
    kt_attr_string(n, "mode", "linear");
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 2, 17), 5, -1, 1);
    kiln_tensor *s = kt_f32(KT_DIMS(3), (float[]){1, 2, 1});
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 4, 17));
    const float *xd = x->data;
    float want[2 * 4 * 17];
    const float wa[4] = {1, 0.75f, 0.25f, 0};
    for (int b = 0; b < 2; b++)
        for (int o = 0; o < 4; o++)
            for (int k = 0; k < 17; k++)
                want[(b * 4 + o) * 17 + k] =
                    wa[o] * xd[(b * 2 + 0) * 17 + k] + (1 - wa[o]) * xd[(b * 2 + 1) * 17 + k];
    kt_assert_f32_close(y, want, 2 * 4 * 17, 1e-6, 1e-6);
    kn_tensor_free(y);
    kn_tensor_free(s);
    kn_tensor_free(x);
    kt_node_free(n);
}

static void test_linear_float16(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 13);
    kt_attr_string(n, "mode", "linear");
    kt_attr_string(n, "coordinate_transformation_mode", "align_corners");
    uint16_t h[2] = {kn_float_to_half(1.0f), kn_float_to_half(4.0f)};
    kiln_tensor *x = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2), h);
    kiln_tensor *sizes = kt_i64(KT_DIMS(1), (int64_t[]){4});
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, NULL, sizes, &y), KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
    const uint16_t *d = y->data;
    float want[4] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++)
        assert_true(kn_half_to_float(d[i]) == want[i]);
    kn_tensor_free(y);
    kn_tensor_free(sizes);
    kn_tensor_free(x);
    kt_node_free(n);
}

static void test_empty_output_and_identity(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 13);
    kt_attr_string(n, "mode", "linear");
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 4), X16);
    kiln_tensor *s = scales4(1, 1, 0.4f, 1);
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 0, 4));
    kn_tensor_free(y);
    kn_tensor_free(s);
    s = scales4(1, 1, 1, 1);
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_OK);
    kt_assert_tensors_close(y, x, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(s);
    kn_tensor_free(x);
    kt_node_free(n);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 2), X16);
    kiln_tensor *s = scales4(1, 1, 2, 2);
    kiln_tensor *sizes = kt_i64(KT_DIMS(4), (int64_t[]){1, 1, 4, 4});
    kiln_tensor *y = NULL;

    kt_node *n = kt_node_new("Resize", 13);
    assert_int_equal(resize(n, x, NULL, s, sizes, &y), KILN_ERROR_MODEL); /* both */
    assert_int_equal(resize(n, x, NULL, NULL, NULL, &y), KILN_ERROR_MODEL); /* neither */
    kiln_tensor *s3 = kt_f32(KT_DIMS(3), (float[]){1, 2, 2});
    assert_int_equal(resize(n, x, NULL, s3, NULL, &y), KILN_ERROR_SHAPE);
    kn_tensor_free(s3);
    kiln_tensor *neg = scales4(1, 1, -2, 2);
    assert_int_equal(resize(n, x, NULL, neg, NULL, &y), KILN_ERROR_MODEL);
    kn_tensor_free(neg);
    kt_node_free(n);

    n = kt_node_new("Resize", 13);
    kt_attr_string(n, "mode", "bicubic");
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(kiln_last_error(), "bicubic"));
    kt_node_free(n);

    n = kt_node_new("Resize", 13);
    kt_attr_string(n, "mode", "linear");
    kiln_tensor *xi = kt_i32(KT_DIMS(1, 1, 2, 2), (int32_t[]){1, 2, 3, 4});
    assert_int_equal(resize(n, xi, NULL, s, NULL, &y), KILN_ERROR_UNSUPPORTED);
    kn_tensor_free(xi);
    kt_node_free(n);

    n = kt_node_new("Resize", 13);
    kt_attr_string(n, "coordinate_transformation_mode", "tf_crop_and_resize");
    assert_int_equal(resize(n, x, NULL, s, NULL, &y), KILN_ERROR_MODEL); /* no roi */
    kt_node_free(n);

    kn_tensor_free(sizes);
    kn_tensor_free(s);
    kn_tensor_free(x);
}

/* Upsample-7 keeps scales in an attribute; the rewrite makes it a
 * Resize-11 with asymmetric coordinates: output i reads floor(i / scale). */
static void test_upsample7_nearest(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Upsample", 7);
    kt_attr_floats(n, "scales", (float[]){1, 1, 2, 3}, 4);
    kt_attr_string(n, "mode", "nearest");
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 2), X16);
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 1, &x, 1, &y), KILN_OK);
    kn_node *node = kt_node_get(n);
    assert_string_equal(node->op_type, "Resize");
    assert_int_equal(node->opset, 11);
    kt_assert_shape(y, KT_DIMS(1, 1, 4, 6));
    kt_assert_f32_close(y, (float[]){1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}, 24, 0,
                        0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    kt_node_free(n);
}

/* Upsample-9 linear: x_in = i / 2, so [1, 1.5, 2, 2] along each axis. */
static void test_upsample9_linear(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Upsample", 9);
    kt_attr_string(n, "mode", "linear");
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(1, 1, 2, 2), X16), scales4(1, 1, 2, 2)};
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 4, 4));
    kt_assert_f32_close(y, (float[]){1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 3, 3.5f, 4, 4, 3, 3.5f, 4, 4}, 16, 1e-6, 1e-6);
    kn_tensor_free(y);
    kn_tensor_free(in[0]);
    kn_tensor_free(in[1]);
    kt_node_free(n);
}

static void test_resize10(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 10);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(1, 1, 2, 2), X16), scales4(1, 1, 2, 3)};
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_OK);
    assert_int_equal(kt_node_get(n)->opset, 11);
    kt_assert_f32_close(y, (float[]){1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}, 24, 0,
                        0);
    kn_tensor_free(y);
    kn_tensor_free(in[0]);
    kn_tensor_free(in[1]);
    kt_node_free(n);
}

/* Opset 11 passes an empty scales tensor when sizes is used. */
static void test_opset11_empty_scales(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Resize", 11);
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 2), X16);
    kiln_tensor *roi = kt_f32(KT_DIMS(0), NULL);
    kiln_tensor *s = kt_f32(KT_DIMS(0), NULL);
    kiln_tensor *sizes = kt_i64(KT_DIMS(4), (int64_t[]){1, 1, 1, 1});
    kiln_tensor *y = NULL;
    assert_int_equal(resize(n, x, roi, s, sizes, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 1, 1));
    kt_assert_f32_close(y, (float[]){1}, 1, 0, 0); /* half_pixel: x = 0.5, the tie rounds down */
    kn_tensor_free(y);
    kn_tensor_free(sizes);
    kn_tensor_free(s);
    kn_tensor_free(roi);
    kn_tensor_free(x);
    kt_node_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nearest_upsample_scales),
        cmocka_unit_test(test_linear_downsample_scales),
        cmocka_unit_test(test_linear_align_corners),
        cmocka_unit_test(test_cubic_upsample),
        cmocka_unit_test(test_cubic_exclude_outside),
        cmocka_unit_test(test_linear_antialias),
        cmocka_unit_test(test_tf_crop_and_resize_extrapolation),
        cmocka_unit_test(test_sizes_keep_aspect_not_larger),
        cmocka_unit_test(test_nearest_modes),
        cmocka_unit_test(test_nearest_uint8),
        cmocka_unit_test(test_linear_middle_axis),
        cmocka_unit_test(test_linear_float16),
        cmocka_unit_test(test_empty_output_and_identity),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_upsample7_nearest),
        cmocka_unit_test(test_upsample9_linear),
        cmocka_unit_test(test_resize10),
        cmocka_unit_test(test_opset11_empty_scales),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
