/* Misc family: OneHot, Compress, Unique, LpNormalization, ReverseSequence,
 * Det, CenterCropPad, Einsum, NonMaxSuppression, RoiAlign, DFT, STFT,
 * window functions, MelWeightMatrix, GridSample, AffineGrid, Col2Im.
 * Expected values are hand-computed or (GridSample, AffineGrid, Col2Im,
 * DFT) taken from numpy / PyTorch once and written down here. */
#include "harness.h"

#include <math.h>

static void free_all(kiln_tensor **ts, int n)
{
    for (int i = 0; i < n; i++)
        kn_tensor_free(ts[i]);
}

static kiln_tensor *run1(kt_node *n, int n_in, kiln_tensor **in)
{
    kiln_tensor *out = NULL;
    kiln_status s = kt_run(n, n_in, in, 1, &out);
    if (s != KILN_OK)
        fail_msg("status %d: %s", (int)s, kiln_last_error());
    kt_node_free(n);
    free_all(in, n_in);
    return out;
}

static kiln_status run_fail(kt_node *n, int n_in, kiln_tensor **in)
{
    kiln_tensor *out = NULL;
    kiln_status s = kt_run(n, n_in, in, 1, &out);
    if (s == KILN_OK)
        kn_tensor_free(out);
    kt_node_free(n);
    free_all(in, n_in);
    return s;
}

static kiln_tensor *scalar_f32(float v)
{
    return kt_f32(0, NULL, &v);
}

static kiln_tensor *scalar_i64(int64_t v)
{
    return kt_i64(0, NULL, &v);
}

/* ---- OneHot ------------------------------------------------------------ */

static void test_onehot(void **state)
{
    (void)state;
    /* axis default -1, negative index wraps, out-of-range index -> all off */
    kt_node *n = kt_node_new("OneHot", 11);
    kiln_tensor *in[3] = {kt_i64(KT_DIMS(3), (int64_t[]){0, -1, 7}), scalar_f32(4),
                          kt_f32(KT_DIMS(2), (float[]){-1, 5})};
    kiln_tensor *y = run1(n, 3, in);
    kt_assert_shape(y, KT_DIMS(3, 4));
    kt_assert_f32_close(y, (float[]){5, -1, -1, -1, -1, -1, -1, 5, -1, -1, -1, -1}, 12, 0, 0);
    kn_tensor_free(y);

    /* axis 0 on 2-D float indices, int32 values */
    n = kt_node_new("OneHot", 11);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *in2[3] = {kt_f32(KT_DIMS(1, 2), (float[]){1, 2}), kt_i64(KT_DIMS(1), (int64_t[]){3}),
                           kt_i32(KT_DIMS(2), (int32_t[]){0, 1})};
    y = run1(n, 3, in2);
    kt_assert_shape(y, KT_DIMS(3, 1, 2));
    const int32_t *d = y->data;
    int32_t want[6] = {0, 0, 1, 0, 0, 1};
    for (int i = 0; i < 6; i++)
        assert_int_equal(d[i], want[i]);
    kn_tensor_free(y);

    /* values with 3 entries is a model error */
    n = kt_node_new("OneHot", 11);
    kiln_tensor *bad[3] = {kt_i64(KT_DIMS(1), (int64_t[]){0}), scalar_f32(2), kt_f32(KT_DIMS(3), NULL)};
    assert_int_equal(run_fail(n, 3, bad), KILN_ERROR_SHAPE);
    /* depth 0 */
    n = kt_node_new("OneHot", 11);
    kiln_tensor *bad2[3] = {kt_i64(KT_DIMS(1), (int64_t[]){0}), scalar_f32(0), kt_f32(KT_DIMS(2), NULL)};
    assert_int_equal(run_fail(n, 3, bad2), KILN_ERROR_SHAPE);
}

/* ---- Compress ---------------------------------------------------------- */

static void test_compress(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Compress", 11);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6}),
                          kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(3), (uint8_t[]){1, 0, 1})};
    kiln_tensor *y = run1(n, 2, in);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_f32_close(y, (float[]){1, 3, 4, 6}, 4, 0, 0);
    kn_tensor_free(y);

    /* no axis: flattened; a short condition keeps only its true entries */
    n = kt_node_new("Compress", 11);
    kiln_tensor *in2[2] = {kt_i64(KT_DIMS(2, 2), (int64_t[]){7, 8, 9, 10}),
                           kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(3), (uint8_t[]){0, 1, 1})};
    y = run1(n, 2, in2);
    kt_assert_shape(y, KT_DIMS(2));
    kt_assert_i64_equal(y, (int64_t[]){8, 9}, 2);
    kn_tensor_free(y);

    /* all false -> empty */
    n = kt_node_new("Compress", 11);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *in3[2] = {kt_f32(KT_DIMS(2, 3), NULL), kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), (uint8_t[]){0, 0})};
    y = run1(n, 2, in3);
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);

    /* a true entry beyond the axis */
    n = kt_node_new("Compress", 11);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *bad[2] = {kt_f32(KT_DIMS(2, 3), NULL), kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(3), (uint8_t[]){0, 0, 1})};
    assert_int_equal(run_fail(n, 2, bad), KILN_ERROR_SHAPE);
    /* condition must be bool */
    n = kt_node_new("Compress", 11);
    kiln_tensor *bad2[2] = {kt_f32(KT_DIMS(2), NULL), kt_i64(KT_DIMS(2), NULL)};
    assert_int_equal(run_fail(n, 2, bad2), KILN_ERROR_DTYPE);
}

/* ---- Unique ------------------------------------------------------------ */

static void run_unique(kt_node *n, kiln_tensor *x, kiln_tensor **out)
{
    kiln_tensor *in[1] = {x};
    kiln_status s = kt_run(n, 1, in, 4, out);
    if (s != KILN_OK)
        fail_msg("status %d: %s", (int)s, kiln_last_error());
    kt_node_free(n);
    kn_tensor_free(x);
}

static void test_unique(void **state)
{
    (void)state;
    kiln_tensor *o[4];
    /* spec example: sorted=0 keeps first-occurrence order */
    kt_node *n = kt_node_new("Unique", 11);
    kt_attr_int(n, "sorted", 0);
    run_unique(n, kt_f32(KT_DIMS(6), (float[]){2, 1, 1, 3, 4, 3}), o);
    kt_assert_f32_close(o[0], (float[]){2, 1, 3, 4}, 4, 0, 0);
    kt_assert_i64_equal(o[1], (int64_t[]){0, 1, 3, 4}, 4);
    kt_assert_i64_equal(o[2], (int64_t[]){0, 1, 1, 2, 3, 2}, 6);
    kt_assert_i64_equal(o[3], (int64_t[]){1, 2, 2, 1}, 4);
    free_all(o, 4);

    /* sorted (default) */
    n = kt_node_new("Unique", 11);
    run_unique(n, kt_i64(KT_DIMS(7), (int64_t[]){5, -2, 5, 0, -2, 9, 5}), o);
    kt_assert_i64_equal(o[0], (int64_t[]){-2, 0, 5, 9}, 4);
    kt_assert_i64_equal(o[1], (int64_t[]){1, 3, 0, 5}, 4);
    kt_assert_i64_equal(o[2], (int64_t[]){2, 0, 2, 1, 0, 3, 2}, 7);
    kt_assert_i64_equal(o[3], (int64_t[]){2, 1, 3, 1}, 4);
    free_all(o, 4);

    /* rows along axis 0, spec example */
    n = kt_node_new("Unique", 11);
    kt_attr_int(n, "axis", 0);
    run_unique(n, kt_f32(KT_DIMS(3, 3), (float[]){1, 0, 0, 1, 0, 0, 2, 3, 4}), o);
    kt_assert_shape(o[0], KT_DIMS(2, 3));
    kt_assert_f32_close(o[0], (float[]){1, 0, 0, 2, 3, 4}, 6, 0, 0);
    kt_assert_i64_equal(o[1], (int64_t[]){0, 2}, 2);
    kt_assert_i64_equal(o[2], (int64_t[]){0, 0, 1}, 3);
    kt_assert_i64_equal(o[3], (int64_t[]){2, 1}, 2);
    free_all(o, 4);

    /* columns along axis -1, unsorted: columns (1,3) (0,5) (1,3) */
    n = kt_node_new("Unique", 11);
    kt_attr_int(n, "axis", -1);
    kt_attr_int(n, "sorted", 0);
    run_unique(n, kt_f32(KT_DIMS(2, 3), (float[]){1, 0, 1, 3, 5, 3}), o);
    kt_assert_shape(o[0], KT_DIMS(2, 2));
    kt_assert_f32_close(o[0], (float[]){1, 0, 3, 5}, 4, 0, 0);
    kt_assert_i64_equal(o[2], (int64_t[]){0, 1, 0}, 3);
    free_all(o, 4);

    /* empty input */
    n = kt_node_new("Unique", 11);
    run_unique(n, kt_f32(KT_DIMS(0), NULL), o);
    kt_assert_shape(o[0], KT_DIMS(0));
    kt_assert_shape(o[2], KT_DIMS(0));
    free_all(o, 4);
}

/* ---- LpNormalization --------------------------------------------------- */

static void test_lpnorm(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("LpNormalization", 1);
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(2, 2), (float[]){3, 4, 0, 0})};
    kiln_tensor *y = run1(n, 1, in);
    kt_assert_f32_close(y, (float[]){0.6f, 0.8f, 0, 0}, 4, 1e-6, 0); /* zero norm -> zeros */
    kn_tensor_free(y);

    n = kt_node_new("LpNormalization", 1);
    kt_attr_int(n, "p", 1);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *in2[1] = {kt_f32(KT_DIMS(2, 2), (float[]){1, -2, 3, 2})};
    y = run1(n, 1, in2);
    kt_assert_f32_close(y, (float[]){0.25f, -0.5f, 0.75f, 0.5f}, 4, 1e-6, 0);
    kn_tensor_free(y);

    n = kt_node_new("LpNormalization", 1);
    kt_attr_int(n, "p", 3);
    kiln_tensor *bad[1] = {kt_f32(KT_DIMS(2), NULL)};
    assert_int_equal(run_fail(n, 1, bad), KILN_ERROR_UNSUPPORTED);
    n = kt_node_new("LpNormalization", 1);
    kiln_tensor *bad2[1] = {kt_i64(KT_DIMS(2), NULL)};
    assert_int_equal(run_fail(n, 1, bad2), KILN_ERROR_DTYPE);
}

/* ---- ReverseSequence --------------------------------------------------- */

static void test_reverse_sequence(void **state)
{
    (void)state;
    /* time_axis 0, batch_axis 1 (defaults): [T=3, B=2, 1] */
    kt_node *n = kt_node_new("ReverseSequence", 10);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(3, 2, 1), (float[]){0, 10, 1, 11, 2, 12}),
                          kt_i64(KT_DIMS(2), (int64_t[]){3, 2})};
    kiln_tensor *y = run1(n, 2, in);
    kt_assert_f32_close(y, (float[]){2, 11, 1, 10, 0, 12}, 6, 0, 0);
    kn_tensor_free(y);

    n = kt_node_new("ReverseSequence", 10);
    kt_attr_int(n, "batch_axis", 0);
    kt_attr_int(n, "time_axis", 1);
    kiln_tensor *in2[2] = {kt_i64(KT_DIMS(2, 3), (int64_t[]){1, 2, 3, 4, 5, 6}),
                           kt_i64(KT_DIMS(2), (int64_t[]){1, 0})};
    y = run1(n, 2, in2);
    kt_assert_i64_equal(y, (int64_t[]){1, 2, 3, 4, 5, 6}, 6);
    kn_tensor_free(y);

    n = kt_node_new("ReverseSequence", 10);
    kiln_tensor *bad[2] = {kt_f32(KT_DIMS(3, 2), NULL), kt_i64(KT_DIMS(2), (int64_t[]){4, 1})};
    assert_int_equal(run_fail(n, 2, bad), KILN_ERROR_SHAPE);
    n = kt_node_new("ReverseSequence", 10);
    kt_attr_int(n, "batch_axis", 0);
    kiln_tensor *bad2[2] = {kt_f32(KT_DIMS(3, 2), NULL), kt_i64(KT_DIMS(3), NULL)};
    assert_int_equal(run_fail(n, 2, bad2), KILN_ERROR_MODEL);
}

/* ---- Det --------------------------------------------------------------- */

static void test_det(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Det", 11);
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(2, 3, 3), (float[]){2, 1, 0, 1, 3, 1, 0, 1, 4, 0, 1, 0, 1, 0, 0, 0, 0, 1})};
    kiln_tensor *y = run1(n, 1, in);
    kt_assert_shape(y, KT_DIMS(2));
    kt_assert_f32_close(y, (float[]){18, -1}, 2, 1e-6, 1e-6);
    kn_tensor_free(y);

    n = kt_node_new("Det", 11);
    kiln_tensor *in2[1] = {kt_f32(KT_DIMS(2, 2), (float[]){1, 2, 2, 4})};
    y = run1(n, 1, in2);
    kt_assert_shape(y, 0, NULL);
    kt_assert_f32_close(y, (float[]){0}, 1, 0, 1e-6);
    kn_tensor_free(y);

    n = kt_node_new("Det", 11);
    kiln_tensor *bad[1] = {kt_f32(KT_DIMS(2, 3), NULL)};
    assert_int_equal(run_fail(n, 1, bad), KILN_ERROR_SHAPE);
}

/* ---- CenterCropPad ----------------------------------------------------- */

static void test_center_crop_pad(void **state)
{
    (void)state;
    /* crop 5 -> 2 starts at 1; pad 2 -> 5 puts 1 zero first */
    kt_node *n = kt_node_new("CenterCropPad", 18);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(5, 2), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9}),
                          kt_i64(KT_DIMS(2), (int64_t[]){2, 5})};
    kiln_tensor *y = run1(n, 2, in);
    kt_assert_shape(y, KT_DIMS(2, 5));
    kt_assert_f32_close(y, (float[]){0, 2, 3, 0, 0, 0, 4, 5, 0, 0}, 10, 0, 0);
    kn_tensor_free(y);

    n = kt_node_new("CenterCropPad", 18);
    kt_attr_ints(n, "axes", (int64_t[]){-1}, 1);
    kiln_tensor *in2[2] = {kt_i64(KT_DIMS(2, 3), (int64_t[]){1, 2, 3, 4, 5, 6}), kt_i64(KT_DIMS(1), (int64_t[]){1})};
    y = run1(n, 2, in2);
    kt_assert_shape(y, KT_DIMS(2, 1));
    kt_assert_i64_equal(y, (int64_t[]){2, 5}, 2);
    kn_tensor_free(y);

    n = kt_node_new("CenterCropPad", 18);
    kiln_tensor *bad[2] = {kt_f32(KT_DIMS(2, 3), NULL), kt_i64(KT_DIMS(1), (int64_t[]){1})};
    assert_int_equal(run_fail(n, 2, bad), KILN_ERROR_SHAPE);
}

/* ---- Einsum ------------------------------------------------------------ */

static kiln_tensor *einsum(const char *eq, int n_in, kiln_tensor **in)
{
    kt_node *n = kt_node_new("Einsum", 12);
    kt_attr_string(n, "equation", eq);
    return run1(n, n_in, in);
}

static void test_einsum(void **state)
{
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 2, 1, 0, 3};
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(2, 3), a), kt_f32(KT_DIMS(3, 2), b)};
    kiln_tensor *y = einsum("ij,jk->ik", 2, in);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_f32_close(y, (float[]){5, 11, 14, 23}, 4, 1e-6, 0);
    kn_tensor_free(y);

    /* implicit output: labels appearing once, alphabetical -> "ki" */
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(2, 3), a), kt_f32(KT_DIMS(3, 2), b)};
    y = einsum("ij,jk", 2, in2);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_f32_close(y, (float[]){5, 11, 14, 23}, 4, 1e-6, 0);
    kn_tensor_free(y);
    kiln_tensor *in2b[2] = {kt_f32(KT_DIMS(3, 2), b), kt_f32(KT_DIMS(2, 3), a)};
    y = einsum("kj,ik", 2, in2b); /* implicit output "ij": sum_k a[i,k] b[k,j] */
    kt_assert_f32_close(y, (float[]){5, 11, 14, 23}, 4, 1e-6, 0);
    kn_tensor_free(y);

    /* trace (diagonal + sum) and transpose */
    kiln_tensor *in3[1] = {kt_f32(KT_DIMS(3, 3), (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9})};
    y = einsum("ii", 1, in3);
    kt_assert_shape(y, 0, NULL);
    kt_assert_f32_close(y, (float[]){15}, 1, 1e-6, 0);
    kn_tensor_free(y);
    kiln_tensor *in4[1] = {kt_f32(KT_DIMS(2, 3), a)};
    y = einsum("ij -> ji", 1, in4);
    kt_assert_f32_close(y, (float[]){1, 4, 2, 5, 3, 6}, 6, 0, 0);
    kn_tensor_free(y);

    /* ellipsis with broadcasting: [2,1,2] and [3,2] batch-broadcast */
    kiln_tensor *in5[2] = {kt_f32(KT_DIMS(2, 1, 2), (float[]){1, 2, 3, 4}),
                           kt_f32(KT_DIMS(3, 2), (float[]){1, 1, 0, 1, 2, 0})};
    y = einsum("...j,...j->...", 2, in5);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, (float[]){3, 2, 2, 7, 4, 6}, 6, 1e-6, 0);
    kn_tensor_free(y);

    /* double, outer product */
    double u[2] = {1, 2}, v[3] = {3, 4, 5};
    kiln_tensor *in6[2] = {kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2), u), kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(3), v)};
    y = einsum("i,j->ij", 2, in6);
    assert_int_equal(y->dtype, KILN_DTYPE_DOUBLE);
    const double *yd = y->data;
    double want[6] = {3, 4, 5, 6, 8, 10};
    for (int i = 0; i < 6; i++)
        assert_true(yd[i] == want[i]);
    kn_tensor_free(y);

    /* errors: mismatched sizes, rank vs term, bad character */
    kt_node *n = kt_node_new("Einsum", 12);
    kt_attr_string(n, "equation", "ij,jk->ik");
    kiln_tensor *bad[2] = {kt_f32(KT_DIMS(2, 3), NULL), kt_f32(KT_DIMS(2, 2), NULL)};
    assert_int_equal(run_fail(n, 2, bad), KILN_ERROR_SHAPE);
    n = kt_node_new("Einsum", 12);
    kt_attr_string(n, "equation", "ijk->i");
    kiln_tensor *bad2[1] = {kt_f32(KT_DIMS(2, 3), NULL)};
    assert_int_equal(run_fail(n, 1, bad2), KILN_ERROR_SHAPE);
    n = kt_node_new("Einsum", 12);
    kt_attr_string(n, "equation", "i1->i");
    kiln_tensor *bad3[1] = {kt_f32(KT_DIMS(2), NULL)};
    assert_int_equal(run_fail(n, 1, bad3), KILN_ERROR_MODEL);
}

/* ---- NonMaxSuppression ------------------------------------------------- */

static void test_nms(void **state)
{
    (void)state;
    /* the spec's suppress-by-IOU example with a score threshold */
    float boxes[24] = {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, -0.1f, 1, 0.9f, 0, 10, 1, 11, 0, 10.1f, 1, 11.1f, 0, 100, 1, 101};
    float scores[6] = {0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f};
    kt_node *n = kt_node_new("NonMaxSuppression", 11);
    kiln_tensor *in[5] = {kt_f32(KT_DIMS(1, 6, 4), boxes), kt_f32(KT_DIMS(1, 1, 6), scores),
                          kt_i64(KT_DIMS(1), (int64_t[]){3}), kt_f32(KT_DIMS(1), (float[]){0.5f}),
                          kt_f32(KT_DIMS(1), (float[]){0.4f})};
    kiln_tensor *y = run1(n, 5, in);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_i64_equal(y, (int64_t[]){0, 0, 3, 0, 0, 0}, 6);
    kn_tensor_free(y);

    /* center-point boxes, max_output omitted -> nothing selected */
    n = kt_node_new("NonMaxSuppression", 11);
    kt_attr_int(n, "center_point_box", 1);
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(1, 1, 4), (float[]){0.5f, 0.5f, 1, 1}), kt_f32(KT_DIMS(1, 1, 1), (float[]){1})};
    y = run1(n, 2, in2);
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);

    /* two classes, center-point boxes: identical boxes collapse per class */
    n = kt_node_new("NonMaxSuppression", 11);
    kt_attr_int(n, "center_point_box", 1);
    kiln_tensor *in3[4] = {kt_f32(KT_DIMS(1, 2, 4), (float[]){0.5f, 0.5f, 1, 1, 0.5f, 0.5f, 1, 1}),
                           kt_f32(KT_DIMS(1, 2, 2), (float[]){0.1f, 0.2f, 0.7f, 0.3f}),
                           kt_i64(KT_DIMS(1), (int64_t[]){5}), kt_f32(KT_DIMS(1), (float[]){0.5f})};
    y = run1(n, 4, in3);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_i64_equal(y, (int64_t[]){0, 0, 1, 0, 1, 0}, 6);
    kn_tensor_free(y);

    n = kt_node_new("NonMaxSuppression", 11);
    kiln_tensor *bad[2] = {kt_f32(KT_DIMS(1, 2, 4), NULL), kt_f32(KT_DIMS(1, 1, 3), NULL)};
    assert_int_equal(run_fail(n, 2, bad), KILN_ERROR_SHAPE);
}

/* ---- RoiAlign ---------------------------------------------------------- */

static void test_roialign(void **state)
{
    (void)state;
    /* 1x1x2x2 image; half_pixel ROI over the whole image with one 1x1 bin
     * sampled 2x2: samples at 0.25/0.75 of [-0.5, 1.5] = 0 and 1 -> mean */
    kt_node *n = kt_node_new("RoiAlign", 16);
    kt_attr_int(n, "sampling_ratio", 2);
    kiln_tensor *in[3] = {kt_f32(KT_DIMS(1, 1, 2, 2), (float[]){1, 2, 3, 4}),
                          kt_f32(KT_DIMS(1, 4), (float[]){0, 0, 2, 2}), kt_i64(KT_DIMS(1), (int64_t[]){0})};
    kiln_tensor *y = run1(n, 3, in);
    kt_assert_shape(y, KT_DIMS(1, 1, 1, 1));
    kt_assert_f32_close(y, (float[]){2.5f}, 1, 1e-6, 0);
    kn_tensor_free(y);

    /* max mode, 2x2 output, output_half_pixel: each bin samples pixel centres exactly */
    n = kt_node_new("RoiAlign", 16);
    kt_attr_string(n, "mode", "max");
    kt_attr_string(n, "coordinate_transformation_mode", "output_half_pixel");
    kt_attr_int(n, "output_height", 2);
    kt_attr_int(n, "output_width", 2);
    kt_attr_int(n, "sampling_ratio", 1);
    kiln_tensor *in2[3] = {kt_f32(KT_DIMS(1, 1, 2, 2), (float[]){1, 2, 3, 4}),
                           kt_f32(KT_DIMS(1, 4), (float[]){-0.5f, -0.5f, 1.5f, 1.5f}),
                           kt_i64(KT_DIMS(1), (int64_t[]){0})};
    y = run1(n, 3, in2);
    kt_assert_f32_close(y, (float[]){1, 2, 3, 4}, 4, 1e-6, 0);
    kn_tensor_free(y);

    n = kt_node_new("RoiAlign", 16);
    kt_attr_string(n, "mode", "median");
    kiln_tensor *bad[3] = {kt_f32(KT_DIMS(1, 1, 2, 2), NULL), kt_f32(KT_DIMS(1, 4), NULL), kt_i64(KT_DIMS(1), NULL)};
    assert_int_equal(run_fail(n, 3, bad), KILN_ERROR_UNSUPPORTED);
    n = kt_node_new("RoiAlign", 16);
    kiln_tensor *bad2[3] = {kt_f32(KT_DIMS(1, 1, 2, 2), NULL), kt_f32(KT_DIMS(1, 4), NULL),
                            kt_i64(KT_DIMS(1), (int64_t[]){3})};
    assert_int_equal(run_fail(n, 3, bad2), KILN_ERROR_SHAPE);
}

/* ---- DFT / STFT -------------------------------------------------------- */

static void test_dft(void **state)
{
    (void)state;
    /* forward on a real signal along axis 1 (opset 17 attribute) */
    kt_node *n = kt_node_new("DFT", 17);
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(1, 4, 1), (float[]){1, 2, 3, 4})};
    kiln_tensor *y = run1(n, 1, in);
    kt_assert_shape(y, KT_DIMS(1, 4, 2));
    kt_assert_f32_close(y, (float[]){10, 0, -2, 2, -2, 0, -2, -2}, 8, 1e-6, 1e-5);
    kn_tensor_free(y);

    /* onesided with dft_length 5 (zero padding), axis as opset-20 input */
    n = kt_node_new("DFT", 20);
    kt_attr_int(n, "onesided", 1);
    kiln_tensor *in2[3] = {kt_f32(KT_DIMS(1, 3, 1), (float[]){1, 2, 3}), scalar_i64(5), scalar_i64(-2)};
    y = run1(n, 3, in2);
    kt_assert_shape(y, KT_DIMS(1, 3, 2));
    /* numpy: rfft([1,2,3,0,0]) */
    kt_assert_f32_close(y, (float[]){6, 0, -0.80901699f, -3.66546879f, 0.30901699f, 1.67759904f}, 6, 1e-5, 1e-5);
    kn_tensor_free(y);

    /* inverse onesided (irfft) of the half spectrum of [1,2,3,4] */
    n = kt_node_new("DFT", 17);
    kt_attr_int(n, "inverse", 1);
    kt_attr_int(n, "onesided", 1);
    kiln_tensor *in3[1] = {kt_f32(KT_DIMS(1, 3, 2), (float[]){10, 0, -2, 2, -2, 0})};
    y = run1(n, 1, in3);
    kt_assert_shape(y, KT_DIMS(1, 4, 1));
    kt_assert_f32_close(y, (float[]){1, 2, 3, 4}, 4, 1e-5, 1e-5);
    kn_tensor_free(y);

    /* full inverse recovers the signal */
    n = kt_node_new("DFT", 17);
    kt_attr_int(n, "inverse", 1);
    kiln_tensor *in4[1] = {kt_f32(KT_DIMS(1, 4, 2), (float[]){10, 0, -2, 2, -2, 0, -2, -2})};
    y = run1(n, 1, in4);
    kt_assert_f32_close(y, (float[]){1, 0, 2, 0, 3, 0, 4, 0}, 8, 1e-5, 1e-5);
    kn_tensor_free(y);

    /* axis on the complex dimension */
    n = kt_node_new("DFT", 17);
    kt_attr_int(n, "axis", 2);
    kiln_tensor *bad[1] = {kt_f32(KT_DIMS(1, 4, 1), NULL)};
    assert_int_equal(run_fail(n, 1, bad), KILN_ERROR_MODEL);
    n = kt_node_new("DFT", 17);
    kiln_tensor *bad2[1] = {kt_f32(KT_DIMS(1, 4, 3), NULL)};
    assert_int_equal(run_fail(n, 1, bad2), KILN_ERROR_SHAPE);
}

static void test_stft(void **state)
{
    (void)state;
    /* signal of 6, frames of 4 every 2 -> 2 frames, 3 onesided bins */
    kt_node *n = kt_node_new("STFT", 17);
    kiln_tensor *in[4] = {kt_f32(KT_DIMS(1, 6, 1), (float[]){1, 2, 3, 4, 5, 6}), scalar_i64(2),
                          kt_f32(KT_DIMS(4), (float[]){1, 1, 1, 1}), NULL};
    kiln_tensor *y = run1(n, 3, in);
    kt_assert_shape(y, KT_DIMS(1, 2, 3, 2));
    /* fft([1,2,3,4]) and fft([3,4,5,6]) first 3 bins */
    kt_assert_f32_close(y, (float[]){10, 0, -2, 2, -2, 0, 18, 0, -2, 2, -2, 0}, 12, 1e-5, 1e-5);
    kn_tensor_free(y);

    /* frame_length without window, onesided=0 */
    n = kt_node_new("STFT", 17);
    kt_attr_int(n, "onesided", 0);
    kiln_tensor *in2[4] = {kt_f32(KT_DIMS(1, 2, 1), (float[]){1, -1}), scalar_i64(1), NULL, scalar_i64(2)};
    y = run1(n, 4, in2);
    kt_assert_shape(y, KT_DIMS(1, 1, 2, 2));
    kt_assert_f32_close(y, (float[]){0, 0, 2, 0}, 4, 1e-6, 1e-6);
    kn_tensor_free(y);

    n = kt_node_new("STFT", 17);
    kiln_tensor *bad[2] = {kt_f32(KT_DIMS(1, 6, 1), NULL), scalar_i64(2)};
    assert_int_equal(run_fail(n, 2, bad), KILN_ERROR_MODEL);
}

/* ---- windows, MelWeightMatrix ------------------------------------------ */

static kiln_tensor *window(const char *op, int64_t periodic, int32_t size)
{
    kt_node *n = kt_node_new(op, 17);
    kt_attr_int(n, "periodic", periodic);
    kiln_tensor *in[1] = {kt_i32(0, NULL, &size)};
    return run1(n, 1, in);
}

static void test_windows(void **state)
{
    (void)state;
    kiln_tensor *y = window("HannWindow", 1, 4);
    kt_assert_f32_close(y, (float[]){0, 0.5f, 1, 0.5f}, 4, 1e-6, 1e-6);
    kn_tensor_free(y);
    y = window("HannWindow", 0, 5);
    kt_assert_f32_close(y, (float[]){0, 0.5f, 1, 0.5f, 0}, 5, 1e-6, 1e-6);
    kn_tensor_free(y);
    y = window("HammingWindow", 1, 4); /* alpha 25/46 */
    kt_assert_f32_close(y, (float[]){4.0f / 46, 25.0f / 46, 1, 25.0f / 46}, 4, 1e-6, 1e-6);
    kn_tensor_free(y);
    y = window("BlackmanWindow", 0, 5);
    kt_assert_f32_close(y, (float[]){0, 0.34f, 1, 0.34f, 0}, 5, 1e-5, 1e-6);
    kn_tensor_free(y);
    y = window("BlackmanWindow", 1, 0);
    kt_assert_shape(y, KT_DIMS(0));
    kn_tensor_free(y);

    kt_node *n = kt_node_new("HannWindow", 17);
    kt_attr_int(n, "output_datatype", KILN_DTYPE_DOUBLE);
    int32_t three = 3;
    kiln_tensor *in[1] = {kt_i32(0, NULL, &three)};
    y = run1(n, 1, in);
    assert_int_equal(y->dtype, KILN_DTYPE_DOUBLE);
    assert_true(fabs(((double *)y->data)[1] - 0.75) < 1e-12);
    kn_tensor_free(y);

    n = kt_node_new("HannWindow", 17);
    kt_attr_int(n, "output_datatype", KILN_DTYPE_STRING);
    kiln_tensor *bad[1] = {kt_i32(0, NULL, &three)};
    assert_int_equal(run_fail(n, 1, bad), KILN_ERROR_UNSUPPORTED);
}

static void test_mel(void **state)
{
    (void)state;
    /* 2 mel bins over a dft of 8 at 8 kHz from 0 to 4 kHz: edges (hz from
     * the mel scale, bin = floor(9 * hz / 8000)) are 0, 0, 1, 2 */
    int32_t bins = 2, dft = 8, rate = 8000;
    kt_node *n = kt_node_new("MelWeightMatrix", 17);
    kiln_tensor *in[5] = {kt_i32(0, NULL, &bins), kt_i32(0, NULL, &dft), kt_i32(0, NULL, &rate), scalar_f32(0),
                          scalar_f32(4000)};
    kiln_tensor *y = run1(n, 5, in);
    kt_assert_shape(y, KT_DIMS(5, 2));
    /* filter 0: l=m=0 -> w[0]=1, then falls 0->1: w[0]=1; filter 1: rises 0..1: w[0]=0,w[1]=1, falls 1->2: w[1]=1 */
    kt_assert_f32_close(y, (float[]){1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 10, 0, 1e-6);
    kn_tensor_free(y);
}

/* ---- GridSample / AffineGrid / Col2Im ---------------------------------- */

static kiln_tensor *gridsample(const char *mode, const char *pad)
{
    kt_node *n = kt_node_new("GridSample", 20);
    kt_attr_string(n, "mode", mode);
    kt_attr_string(n, "padding_mode", pad);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(1, 1, 2, 3), (float[]){0, 1, 2, 3, 4, 5}),
                          kt_f32(KT_DIMS(1, 1, 4, 2), (float[]){-1, -1, 0.2f, 0.1f, 1, 1, 1.5f, 0})};
    return run1(n, 2, in);
}

static void test_gridsample(void **state)
{
    (void)state;
    /* values from torch.nn.functional.grid_sample(align_corners=False) */
    struct {
        const char *mode, *pad;
        float want[4];
    } cases[] = {
        {"linear", "zeros", {0, 3.1f, 1.25f, 0}},
        {"linear", "border", {0, 3.1f, 5, 3.5f}},
        {"bilinear", "reflection", {0, 3.1f, 5, 3.25f}},
        {"nearest", "zeros", {0, 4, 0, 0}},
        {"nearest", "border", {0, 4, 5, 2}},
        {"cubic", "zeros", {-0.1875f, 4.0128856f, 1.4375f, -0.43835449f}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_tensor *y = gridsample(cases[i].mode, cases[i].pad);
        kt_assert_shape(y, KT_DIMS(1, 1, 1, 4));
        kt_assert_f32_close(y, cases[i].want, 4, 1e-5, 1e-5);
        kn_tensor_free(y);
    }

    kt_node *n = kt_node_new("GridSample", 20);
    kt_attr_string(n, "mode", "area");
    kiln_tensor *bad[2] = {kt_f32(KT_DIMS(1, 1, 2, 2), NULL), kt_f32(KT_DIMS(1, 1, 1, 2), NULL)};
    assert_int_equal(run_fail(n, 2, bad), KILN_ERROR_UNSUPPORTED);
    n = kt_node_new("GridSample", 20);
    kiln_tensor *bad2[2] = {kt_f32(KT_DIMS(1, 1, 2, 2), NULL), kt_f32(KT_DIMS(1, 1, 1, 3), NULL)};
    assert_int_equal(run_fail(n, 2, bad2), KILN_ERROR_SHAPE);
}

static void test_affine_grid(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("AffineGrid", 20);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(1, 2, 3), (float[]){1, 0.5f, 0.1f, 0, 2, -0.2f}),
                          kt_i64(KT_DIMS(4), (int64_t[]){1, 1, 2, 3})};
    kiln_tensor *y = run1(n, 2, in);
    kt_assert_shape(y, KT_DIMS(1, 2, 3, 2));
    /* torch.nn.functional.affine_grid(align_corners=False) */
    kt_assert_f32_close(y, (float[]){-0.81666666f, -1.2f, -0.15f, -1.2f, 0.51666671f, -1.2f, -0.31666669f, 0.8f,
                                     0.35f, 0.8f, 1.01666665f, 0.8f},
                        12, 1e-5, 1e-6);
    kn_tensor_free(y);

    /* identity theta with aligned corners spans exactly [-1, 1] */
    n = kt_node_new("AffineGrid", 20);
    kt_attr_int(n, "align_corners", 1);
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(1, 2, 3), (float[]){1, 0, 0, 0, 1, 0}),
                           kt_i64(KT_DIMS(4), (int64_t[]){1, 3, 2, 2})};
    y = run1(n, 2, in2);
    kt_assert_f32_close(y, (float[]){-1, -1, 1, -1, -1, 1, 1, 1}, 8, 0, 1e-6);
    kn_tensor_free(y);

    n = kt_node_new("AffineGrid", 20);
    kiln_tensor *bad[2] = {kt_f32(KT_DIMS(1, 2, 3), NULL), kt_i64(KT_DIMS(5), (int64_t[]){1, 1, 2, 2, 2})};
    assert_int_equal(run_fail(n, 2, bad), KILN_ERROR_SHAPE);
}

static void test_col2im(void **state)
{
    (void)state;
    /* torch.nn.functional.fold(arange(1,17).reshape(1,4,4), (3,3), (2,2)) */
    kiln_tensor *x = kt_f32(KT_DIMS(1, 4, 4), NULL);
    for (int i = 0; i < 16; i++)
        ((float *)x->data)[i] = (float)(i + 1);
    kt_node *n = kt_node_new("Col2Im", 18);
    kiln_tensor *in[3] = {x, kt_i64(KT_DIMS(2), (int64_t[]){3, 3}), kt_i64(KT_DIMS(2), (int64_t[]){2, 2})};
    kiln_tensor *y = run1(n, 3, in);
    kt_assert_shape(y, KT_DIMS(1, 1, 3, 3));
    kt_assert_f32_close(y, (float[]){1, 7, 6, 12, 34, 22, 11, 27, 16}, 9, 0, 1e-6);
    kn_tensor_free(y);

    /* 1-D with stride 2 and padding 1: image 4, block 2 -> positions -1..4 */
    n = kt_node_new("Col2Im", 18);
    kt_attr_ints(n, "strides", (int64_t[]){2}, 1);
    kt_attr_ints(n, "pads", (int64_t[]){1, 1}, 2);
    kiln_tensor *in2[3] = {kt_f32(KT_DIMS(1, 2, 3), (float[]){1, 2, 3, 10, 20, 30}),
                           kt_i64(KT_DIMS(1), (int64_t[]){4}), kt_i64(KT_DIMS(1), (int64_t[]){2})};
    y = run1(n, 3, in2);
    kt_assert_shape(y, KT_DIMS(1, 1, 4));
    /* block b at 2b-1: k=0 -> 2b-1, k=1 -> 2b; pixel 0 <- 10, 1 <- 2, 2 <- 20, 3 <- 3 */
    kt_assert_f32_close(y, (float[]){10, 2, 20, 3}, 4, 0, 0);
    kn_tensor_free(y);

    n = kt_node_new("Col2Im", 18);
    kiln_tensor *bad[3] = {kt_f32(KT_DIMS(1, 4, 5), NULL), kt_i64(KT_DIMS(2), (int64_t[]){3, 3}),
                           kt_i64(KT_DIMS(2), (int64_t[]){2, 2})};
    assert_int_equal(run_fail(n, 3, bad), KILN_ERROR_SHAPE);
}

/* Einsum with empty dims: a contraction over a 0-size label gives zeros, a
 * 0-size free label an empty result; repeated output labels are refused. */
static void test_einsum_edge_cases(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(2, 0), NULL), kt_f32(KT_DIMS(0, 3), NULL)};
    kiln_tensor *y = einsum("ij,jk->ik", 2, in);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0);
    kn_tensor_free(y);
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(0, 2), NULL), kt_f32(KT_DIMS(2, 3), NULL)};
    y = einsum("ij,jk->ik", 2, in2);
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);
    /* sum of everything to a scalar, integers */
    kiln_tensor *in3[1] = {kt_i64(KT_DIMS(2, 2), (int64_t[]){1, 2, 3, 4})};
    y = einsum("ij->", 1, in3);
    assert_int_equal(y->rank, 0);
    kt_assert_i64_equal(y, (int64_t[]){10}, 1);
    kn_tensor_free(y);
    /* ellipsis broadcasting a 1 against 3 in a batch dim */
    kiln_tensor *in4[2] = {kt_f32(KT_DIMS(1, 2), (float[]){1, 2}), kt_f32(KT_DIMS(3, 2), (float[]){1, 0, 0, 1, 1, 1})};
    y = einsum("...i,...i->...", 2, in4);
    kt_assert_shape(y, KT_DIMS(3));
    kt_assert_f32_close(y, (float[]){1, 2, 3}, 3, 0, 0);
    kn_tensor_free(y);
    kt_node *n = kt_node_new("Einsum", 12);
    kt_attr_string(n, "equation", "ij->ii");
    kiln_tensor *bad[1] = {kt_f32(KT_DIMS(2, 2), NULL)};
    assert_int_not_equal(run_fail(n, 1, bad), KILN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_onehot),         cmocka_unit_test(test_compress),
        cmocka_unit_test(test_unique),         cmocka_unit_test(test_lpnorm),
        cmocka_unit_test(test_reverse_sequence), cmocka_unit_test(test_det),
        cmocka_unit_test(test_center_crop_pad), cmocka_unit_test(test_einsum), cmocka_unit_test(test_einsum_edge_cases),
        cmocka_unit_test(test_nms),            cmocka_unit_test(test_roialign),
        cmocka_unit_test(test_dft),            cmocka_unit_test(test_stft),
        cmocka_unit_test(test_windows),        cmocka_unit_test(test_mel),
        cmocka_unit_test(test_gridsample),     cmocka_unit_test(test_affine_grid),
        cmocka_unit_test(test_col2im),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
