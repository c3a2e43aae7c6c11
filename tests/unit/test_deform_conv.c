/* DeformConv: zero offsets equal Conv (groups, strides, dilations, pads),
 * fractional offsets interpolate bilinearly, the mask scales, samples
 * outside the image read zero, and inconsistent shapes are refused. */
#include "harness.h"

static void set_geometry(kt_node *n)
{
    kt_attr_ints(n, "strides", (int64_t[]){2, 1}, 2);
    kt_attr_ints(n, "dilations", (int64_t[]){1, 2}, 2);
    kt_attr_ints(n, "pads", (int64_t[]){1, 0, 0, 2}, 4);
    kt_attr_int(n, "group", 2);
}

static void test_zero_offset_is_conv(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 4, 5, 6), 1, -1, 1);
    kiln_tensor *w = kt_f32_random(KT_DIMS(6, 2, 3, 2), 2, -1, 1);
    kiln_tensor *b = kt_f32_random(KT_DIMS(6), 3, -1, 1);
    kiln_tensor *ref[1], *got[1];
    kt_node *conv = kt_node_new("Conv", 11);
    set_geometry(conv);
    kiln_tensor *cin[3] = {x, w, b};
    assert_int_equal(kt_run(conv, 3, cin, 1, ref), KILN_OK);
    /* out: (5+1-3)/2+1 = 2 rows, (6+2-3)/1+1 = 6 columns; 2 offset groups */
    kt_assert_shape(ref[0], KT_DIMS(2, 6, 2, 6));
    kiln_tensor *off = kt_f32(KT_DIMS(2, 2 * 3 * 2 * 2, 2, 6), NULL);
    kt_node *dc = kt_node_new("DeformConv", 19);
    set_geometry(dc);
    kt_attr_int(dc, "offset_group", 2);
    kiln_tensor *din[3] = {x, w, off};
    assert_int_equal(kt_run(dc, 3, din, 1, got), KILN_OK);
    kn_tensor_free(got[0]);
    kiln_tensor *din_b[4] = {x, w, off, b};
    assert_int_equal(kt_run(dc, 4, din_b, 1, got), KILN_OK);
    kt_assert_tensors_close(got[0], ref[0], 1e-5, 1e-5);
    kn_tensor_free(got[0]);
    kn_tensor_free(ref[0]);
    kn_tensor_free(off);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(b);
    kt_node_free(conv);
    kt_node_free(dc);
}

static void test_fractional_offset_and_mask(void **state)
{
    (void)state;
    /* 1x1 kernel on a 2x2 image [[1, 2], [3, 4]]: the one tap of output
     * (0, 0) moves by (0.5, 0.25); output (1, 1) by (0.5, 0): half of the
     * sample lies below the image, which reads zero */
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 2), (float[]){1, 2, 3, 4});
    kiln_tensor *w = kt_f32(KT_DIMS(1, 1, 1, 1), (float[]){2});
    kiln_tensor *off = kt_f32(KT_DIMS(1, 2, 2, 2), (float[]){0.5f, 0, 0, 0.5f, 0.25f, 0, 0, 0});
    kiln_tensor *mask = kt_f32(KT_DIMS(1, 1, 2, 2), (float[]){1, 1, 0.5f, 1});
    kt_node *dc = kt_node_new("DeformConv", 19);
    kiln_tensor *in[5] = {x, w, off, NULL, mask}, *out[1];
    assert_int_equal(kt_run(dc, 5, in, 1, out), KILN_OK);
    /* (0,0): bilinear at y .5, x .25 = 1*.375+2*.125+3*.375+4*.125 = 2.25 */
    kt_assert_f32_close(out[0], (float[]){4.5f, 4, 3, 4}, 4, 1e-6, 1e-6);
    kn_tensor_free(out[0]);
    kt_node_free(dc);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(off);
    kn_tensor_free(mask);
}

static void test_far_offsets_read_zero(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32_random(KT_DIMS(1, 1, 3, 3), 4, 1, 2);
    kiln_tensor *w = kt_f32(KT_DIMS(1, 1, 2, 2), (float[]){1, 1, 1, 1});
    kiln_tensor *off = kt_f32(KT_DIMS(1, 8, 2, 2), NULL);
    float *o = off->data;
    for (int i = 0; i < 32; i++)
        o[i] = i % 2 ? -1e6f : 1e6f;
    kiln_tensor *b = kt_f32(KT_DIMS(1), (float[]){0.5f});
    kt_node *dc = kt_node_new("DeformConv", 19);
    kiln_tensor *in[4] = {x, w, off, b}, *out[1];
    assert_int_equal(kt_run(dc, 4, in, 1, out), KILN_OK);
    kt_assert_f32_close(out[0], (float[]){0.5f, 0.5f, 0.5f, 0.5f}, 4, 0, 0);
    kn_tensor_free(out[0]);
    kt_node_free(dc);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(off);
    kn_tensor_free(b);
}

static void test_refused(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(1, 2, 3, 3), NULL);
    kiln_tensor *w = kt_f32(KT_DIMS(1, 2, 2, 2), NULL);
    kiln_tensor *off = kt_f32(KT_DIMS(1, 6, 2, 2), NULL); /* needs 8 channels */
    kiln_tensor *out[1];
    kt_node *dc = kt_node_new("DeformConv", 19);
    kiln_tensor *in[3] = {x, w, off};
    assert_int_equal(kt_run(dc, 3, in, 1, out), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kn_error_message(), "offset"));
    kt_node_free(dc);
    /* offset_group must divide the channels */
    dc = kt_node_new("DeformConv", 19);
    kt_attr_int(dc, "offset_group", 3);
    assert_int_equal(kt_run(dc, 3, in, 1, out), KILN_ERROR_SHAPE);
    kt_node_free(dc);
    /* 1-D and 3-D attributes are not implemented */
    dc = kt_node_new("DeformConv", 19);
    kt_attr_ints(dc, "strides", (int64_t[]){1, 1, 1}, 3);
    assert_int_equal(kt_run(dc, 3, in, 1, out), KILN_ERROR_UNSUPPORTED);
    kt_node_free(dc);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(off);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_offset_is_conv),
        cmocka_unit_test(test_fractional_offset_and_mask),
        cmocka_unit_test(test_far_offsets_read_zero),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
