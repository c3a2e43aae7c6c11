/* Index family: Concat, Split, Slice, Gather, GatherElements, GatherND,
 * ScatterND, ScatterElements (and Scatter), Range, NonZero, Trilu, CumSum,
 * TopK. Spec examples, clamping corner cases, old-opset forms, errors. */
#include "harness.h"

#include <math.h>

static kiln_tensor *iota_f32(int rank, const int64_t *dims)
{
    kiln_tensor *t = kt_f32(rank, dims, NULL);
    float *d = t->data;
    for (int64_t i = 0; i < kn_tensor_count(t); i++)
        d[i] = (float)i;
    return t;
}

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

static kiln_tensor *i64s(int64_t n, const int64_t *v)
{
    return kt_i64(1, &n, v);
}

/* ---- Concat ----------------------------------------------------------- */

static void test_concat_axes(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in[3] = {kt_i64(KT_DIMS(2, 1), (int64_t[]){1, 2}), kt_i64(KT_DIMS(2, 0), NULL),
                          kt_i64(KT_DIMS(2, 2), (int64_t[]){3, 4, 5, 6})};
    kiln_tensor *y = run1(n, 3, in);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_i64_equal(y, (int64_t[]){1, 3, 4, 2, 5, 6}, 6);
    kn_tensor_free(y);
    n = kt_node_new("Concat", 11);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *in2[2] = {i64s(2, (int64_t[]){-1, 3}), i64s(1, (int64_t[]){7})};
    y = run1(n, 2, in2);
    kt_assert_i64_equal(y, (int64_t[]){-1, 3, 7}, 3);
    kn_tensor_free(y);
    /* opset 1: axis defaults to 1 */
    kiln_tensor *in3[2] = {iota_f32(KT_DIMS(2, 1)), iota_f32(KT_DIMS(2, 1))};
    y = run1(kt_node_new("Concat", 1), 2, in3);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_f32_close(y, (float[]){0, 0, 1, 1}, 4, 0, 0);
    kn_tensor_free(y);
}

static void test_concat_errors(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(2, 3)), iota_f32(KT_DIMS(2, 4))};
    assert_int_equal(run_fail(n, 2, in), KILN_ERROR_SHAPE);
    n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *in2[2] = {iota_f32(KT_DIMS(2)), i64s(1, (int64_t[]){1})};
    assert_int_equal(run_fail(n, 2, in2), KILN_ERROR_DTYPE);
    kiln_tensor *in3[1] = {iota_f32(KT_DIMS(2))};
    assert_int_equal(run_fail(kt_node_new("Concat", 13), 1, in3), KILN_ERROR_MODEL); /* axis required */
}

/* ---- Split ------------------------------------------------------------ */

static void run_split(kt_node *n, int n_in, kiln_tensor **in, int n_out, kiln_tensor **outs)
{
    kiln_status s = kt_run(n, n_in, in, n_out, outs);
    if (s != KILN_OK)
        fail_msg("status %d: %s", (int)s, kiln_last_error());
    kt_node_free(n);
    free_all(in, n_in);
}

static void test_split_forms(void **state)
{
    (void)state;
    kiln_tensor *o[4];
    /* equal parts along axis 1 */
    kt_node *n = kt_node_new("Split", 13);
    kt_attr_int(n, "axis", 1);
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(2, 6))};
    run_split(n, 1, in, 2, o);
    kt_assert_shape(o[0], KT_DIMS(2, 3));
    kt_assert_f32_close(o[0], (float[]){0, 1, 2, 6, 7, 8}, 6, 0, 0);
    kt_assert_f32_close(o[1], (float[]){3, 4, 5, 9, 10, 11}, 6, 0, 0);
    free_all(o, 2);
    /* opset 18 num_outputs, uneven last chunk: 7 -> 2,2,2,1 */
    n = kt_node_new("Split", 18);
    kt_attr_int(n, "num_outputs", 4);
    kiln_tensor *in2[1] = {iota_f32(KT_DIMS(7))};
    run_split(n, 1, in2, 4, o);
    kt_assert_shape(o[2], KT_DIMS(2));
    kt_assert_shape(o[3], KT_DIMS(1));
    kt_assert_f32_close(o[3], (float[]){6}, 1, 0, 0);
    free_all(o, 4);
    /* split input with a zero-size part */
    kiln_tensor *in3[2] = {iota_f32(KT_DIMS(5)), i64s(3, (int64_t[]){2, 0, 3})};
    run_split(kt_node_new("Split", 13), 2, in3, 3, o);
    kt_assert_shape(o[1], KT_DIMS(0));
    kt_assert_f32_close(o[2], (float[]){2, 3, 4}, 3, 0, 0);
    free_all(o, 3);
    /* opset 11 split attribute, negative axis */
    n = kt_node_new("Split", 11);
    kt_attr_ints(n, "split", (int64_t[]){1, 2}, 2);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in4[1] = {iota_f32(KT_DIMS(2, 3))};
    run_split(n, 1, in4, 2, o);
    kt_assert_f32_close(o[0], (float[]){0, 3}, 2, 0, 0);
    kt_assert_f32_close(o[1], (float[]){1, 2, 4, 5}, 4, 0, 0);
    free_all(o, 2);
}

static void test_split_errors(void **state)
{
    (void)state;
    kiln_tensor *o[2];
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(5)), i64s(2, (int64_t[]){2, 2})};
    kt_node *n = kt_node_new("Split", 13);
    assert_int_equal(kt_run(n, 2, in, 2, o), KILN_ERROR_SHAPE);
    kt_node_free(n);
    free_all(in, 2);
    kiln_tensor *in2[1] = {iota_f32(KT_DIMS(5))};
    n = kt_node_new("Split", 13);
    assert_int_equal(kt_run(n, 1, in2, 2, o), KILN_ERROR_SHAPE); /* 5 does not split in 2 */
    kt_node_free(n);
    free_all(in2, 1);
}

/* ---- Slice ------------------------------------------------------------ */

static kiln_tensor *slice5(kiln_tensor *x, int64_t n, const int64_t *starts, const int64_t *ends,
                           const int64_t *axes, const int64_t *steps)
{
    kiln_tensor *in[5] = {x, i64s(n, starts), i64s(n, ends), axes ? i64s(n, axes) : NULL,
                          steps ? i64s(n, steps) : NULL};
    return run1(kt_node_new("Slice", 13), 5, in);
}

static void test_slice_spec_example(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 4), (float[]){1, 2, 3, 4, 5, 6, 7, 8});
    kiln_tensor *y = slice5(x, 2, (int64_t[]){1, 0}, (int64_t[]){2, 3}, (int64_t[]){0, 1}, (int64_t[]){1, 2});
    kt_assert_shape(y, KT_DIMS(1, 2));
    kt_assert_f32_close(y, (float[]){5, 7}, 2, 0, 0);
    kn_tensor_free(y);
    /* negative start, default axes/steps: x[:, -3:] ... via axes [1] */
    x = kt_f32(KT_DIMS(2, 4), (float[]){1, 2, 3, 4, 5, 6, 7, 8});
    y = slice5(x, 1, (int64_t[]){-3}, (int64_t[]){INT64_MAX}, (int64_t[]){-1}, NULL);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, (float[]){2, 3, 4, 6, 7, 8}, 6, 0, 0);
    kn_tensor_free(y);
}

static void test_slice_clamping(void **state)
{
    (void)state;
    /* full reverse with INT64_MIN end */
    kiln_tensor *y = slice5(iota_f32(KT_DIMS(10)), 1, (int64_t[]){-1}, (int64_t[]){INT64_MIN}, NULL,
                            (int64_t[]){-1});
    kt_assert_shape(y, KT_DIMS(10));
    kt_assert_f32_close(y, (float[]){9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 10, 0, 0);
    kn_tensor_free(y);
    /* step -3 from 8 to 0 exclusive */
    y = slice5(iota_f32(KT_DIMS(10)), 1, (int64_t[]){8}, (int64_t[]){0}, NULL, (int64_t[]){-3});
    kt_assert_f32_close(y, (float[]){8, 5, 2}, 3, 0, 0);
    kn_tensor_free(y);
    /* start beyond the end for a negative step clamps to dim-1 */
    y = slice5(iota_f32(KT_DIMS(4)), 1, (int64_t[]){100}, (int64_t[]){-100}, NULL, (int64_t[]){-2});
    kt_assert_f32_close(y, (float[]){3, 1}, 2, 0, 0);
    kn_tensor_free(y);
    /* out-of-range start: empty */
    y = slice5(iota_f32(KT_DIMS(10)), 1, (int64_t[]){1000}, (int64_t[]){1000}, NULL, (int64_t[]){1});
    kt_assert_shape(y, KT_DIMS(0));
    kn_tensor_free(y);
    /* end before start with positive step: empty */
    y = slice5(iota_f32(KT_DIMS(10)), 1, (int64_t[]){5}, (int64_t[]){2}, NULL, NULL);
    kt_assert_shape(y, KT_DIMS(0));
    kn_tensor_free(y);
    /* huge step takes one element */
    y = slice5(iota_f32(KT_DIMS(10)), 1, (int64_t[]){2}, (int64_t[]){INT64_MAX}, NULL, (int64_t[]){INT64_MAX});
    kt_assert_f32_close(y, (float[]){2}, 1, 0, 0);
    kn_tensor_free(y);
    y = slice5(iota_f32(KT_DIMS(10)), 1, (int64_t[]){9}, (int64_t[]){INT64_MIN}, NULL, (int64_t[]){INT64_MIN});
    kt_assert_f32_close(y, (float[]){9}, 1, 0, 0);
    kn_tensor_free(y);
}

static void test_slice_int32_and_old_form(void **state)
{
    (void)state;
    kiln_tensor *in[3] = {kt_i64(KT_DIMS(4), (int64_t[]){2, 3, 224, 224}), kt_i32(KT_DIMS(1), (int32_t[]){2}),
                          kt_i32(KT_DIMS(1), (int32_t[]){INT32_MAX})};
    kiln_tensor *y = run1(kt_node_new("Slice", 11), 3, in);
    kt_assert_i64_equal(y, (int64_t[]){224, 224}, 2);
    kn_tensor_free(y);
    kt_node *n = kt_node_new("Slice", 1);
    kt_attr_ints(n, "starts", (int64_t[]){0, 1}, 2);
    kt_attr_ints(n, "ends", (int64_t[]){1, 1000}, 2);
    kt_attr_ints(n, "axes", (int64_t[]){0, 1}, 2);
    kiln_tensor *in2[1] = {iota_f32(KT_DIMS(2, 3))};
    y = run1(n, 1, in2);
    kt_assert_shape(y, KT_DIMS(1, 2));
    kt_assert_f32_close(y, (float[]){1, 2}, 2, 0, 0);
    kn_tensor_free(y);
    n = kt_node_new("Slice", 9);
    kt_attr_ints(n, "ends", (int64_t[]){1}, 1);
    kiln_tensor *in3[1] = {iota_f32(KT_DIMS(2))};
    assert_int_equal(run_fail(n, 1, in3), KILN_ERROR_MODEL); /* starts missing */
}

static void test_slice_errors(void **state)
{
    (void)state;
    kiln_tensor *in[5] = {iota_f32(KT_DIMS(4)), i64s(1, (int64_t[]){0}), i64s(1, (int64_t[]){4}), NULL,
                          i64s(1, (int64_t[]){0})};
    assert_int_equal(run_fail(kt_node_new("Slice", 13), 5, in), KILN_ERROR_MODEL);
    kiln_tensor *in2[4] = {iota_f32(KT_DIMS(4, 2)), i64s(2, (int64_t[]){0, 0}), i64s(2, (int64_t[]){1, 1}),
                           i64s(2, (int64_t[]){1, -1})};
    assert_int_equal(run_fail(kt_node_new("Slice", 13), 4, in2), KILN_ERROR_MODEL);
    kiln_tensor *in3[3] = {iota_f32(KT_DIMS(4)), i64s(1, (int64_t[]){0}), i64s(2, (int64_t[]){1, 1})};
    assert_int_equal(run_fail(kt_node_new("Slice", 13), 3, in3), KILN_ERROR_MODEL);
}

/* ---- Gather family ---------------------------------------------------- */

static void test_gather(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(3, 2), (float[]){1, 2, 3, 4, 5, 6}),
                          kt_i64(KT_DIMS(2, 2), (int64_t[]){0, 1, 1, 2})};
    kiln_tensor *y = run1(kt_node_new("Gather", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(2, 2, 2));
    kt_assert_f32_close(y, (float[]){1, 2, 3, 4, 3, 4, 5, 6}, 8, 0, 0);
    kn_tensor_free(y);
    /* Shape -> Gather(scalar -1) gives a scalar */
    kiln_tensor *in2[2] = {kt_i64(KT_DIMS(3), (int64_t[]){3, 4, 5}), kt_i64(0, NULL, (int64_t[]){-1})};
    y = run1(kt_node_new("Gather", 13), 2, in2);
    assert_int_equal(y->rank, 0);
    kt_assert_i64_equal(y, (int64_t[]){5}, 1);
    kn_tensor_free(y);
    kt_node *n = kt_node_new("Gather", 11);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in3[2] = {iota_f32(KT_DIMS(2, 3)), kt_i32(KT_DIMS(2), (int32_t[]){2, 0})};
    y = run1(n, 2, in3);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_f32_close(y, (float[]){2, 0, 5, 3}, 4, 0, 0);
    kn_tensor_free(y);
    kiln_tensor *in4[2] = {iota_f32(KT_DIMS(3)), kt_i64(KT_DIMS(1), (int64_t[]){3})};
    assert_int_equal(run_fail(kt_node_new("Gather", 13), 2, in4), KILN_ERROR_ARGUMENT);
    kiln_tensor *in5[2] = {iota_f32(KT_DIMS(3)), kt_f32(KT_DIMS(1), NULL)};
    assert_int_equal(run_fail(kt_node_new("Gather", 13), 2, in5), KILN_ERROR_DTYPE);
}

static void test_gather_elements(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("GatherElements", 13);
    kt_attr_int(n, "axis", 1);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(2, 2), (float[]){1, 2, 3, 4}),
                          kt_i64(KT_DIMS(2, 2), (int64_t[]){0, 0, 1, 0})};
    kiln_tensor *y = run1(n, 2, in);
    kt_assert_f32_close(y, (float[]){1, 1, 4, 3}, 4, 0, 0);
    kn_tensor_free(y);
    kiln_tensor *in2[2] = {iota_f32(KT_DIMS(3, 3)), kt_i32(KT_DIMS(2, 3), (int32_t[]){-1, -2, 0, -2, 0, 0})};
    y = run1(kt_node_new("GatherElements", 13), 2, in2);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, (float[]){6, 4, 2, 3, 1, 2}, 6, 0, 0);
    kn_tensor_free(y);
    kiln_tensor *in3[2] = {iota_f32(KT_DIMS(3, 3)), kt_i32(KT_DIMS(1, 1), (int32_t[]){3})};
    assert_int_equal(run_fail(kt_node_new("GatherElements", 13), 2, in3), KILN_ERROR_ARGUMENT);
}

static void test_gather_nd(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {kt_i32(KT_DIMS(2, 2), (int32_t[]){0, 1, 2, 3}),
                          kt_i64(KT_DIMS(2, 2), (int64_t[]){0, 0, 1, 1})};
    kiln_tensor *y = run1(kt_node_new("GatherND", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(2));
    kt_assert_i64_equal(y, (int64_t[]){0, 3}, 2);
    kn_tensor_free(y);
    kiln_tensor *in2[2] = {kt_i32(KT_DIMS(2, 2), (int32_t[]){0, 1, 2, 3}),
                           kt_i64(KT_DIMS(2, 1), (int64_t[]){1, -2})};
    y = run1(kt_node_new("GatherND", 13), 2, in2);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_i64_equal(y, (int64_t[]){2, 3, 0, 1}, 4);
    kn_tensor_free(y);
    kt_node *n = kt_node_new("GatherND", 12);
    kt_attr_int(n, "batch_dims", 1);
    kiln_tensor *in3[2] = {kt_i32(KT_DIMS(2, 2, 2), (int32_t[]){0, 1, 2, 3, 4, 5, 6, 7}),
                           kt_i64(KT_DIMS(2, 1), (int64_t[]){1, 0})};
    y = run1(n, 2, in3);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_i64_equal(y, (int64_t[]){2, 3, 4, 5}, 4);
    kn_tensor_free(y);
    kiln_tensor *in4[2] = {kt_i32(KT_DIMS(2, 2), NULL), kt_i64(KT_DIMS(1, 3), (int64_t[]){0, 0, 0})};
    assert_int_equal(run_fail(kt_node_new("GatherND", 13), 2, in4), KILN_ERROR_SHAPE);
}

/* ---- Scatter family --------------------------------------------------- */

static void test_scatter_nd(void **state)
{
    (void)state;
    kiln_tensor *in[3] = {kt_f32(KT_DIMS(8), (float[]){1, 2, 3, 4, 5, 6, 7, 8}),
                          kt_i64(KT_DIMS(4, 1), (int64_t[]){4, 3, 1, 7}), kt_f32(KT_DIMS(4), (float[]){9, 10, 11, 12})};
    kiln_tensor *y = run1(kt_node_new("ScatterND", 13), 3, in);
    kt_assert_f32_close(y, (float[]){1, 11, 3, 10, 9, 6, 7, 12}, 8, 0, 0);
    kn_tensor_free(y);
    kt_node *n = kt_node_new("ScatterND", 16);
    kt_attr_string(n, "reduction", "add");
    kiln_tensor *in2[3] = {kt_i64(KT_DIMS(3), (int64_t[]){1, 2, 3}), kt_i64(KT_DIMS(2, 1), (int64_t[]){1, 1}),
                           kt_i64(KT_DIMS(2), (int64_t[]){5, 6})};
    y = run1(n, 3, in2);
    kt_assert_i64_equal(y, (int64_t[]){1, 13, 3}, 3);
    kn_tensor_free(y);
    n = kt_node_new("ScatterND", 16);
    kt_attr_string(n, "reduction", "mul");
    kiln_tensor *in3[3] = {kt_f32(KT_DIMS(2, 2), (float[]){1, 2, 3, 4}), kt_i64(KT_DIMS(2, 1), (int64_t[]){1, 1}),
                           kt_f32(KT_DIMS(2, 2), (float[]){2, 3, 4, 5})};
    y = run1(n, 3, in3);
    kt_assert_f32_close(y, (float[]){1, 2, 24, 60}, 4, 0, 0);
    kn_tensor_free(y);
    n = kt_node_new("ScatterND", 18);
    kt_attr_string(n, "reduction", "max");
    kiln_tensor *in4[3] = {kt_f32(KT_DIMS(2, 2), (float[]){1, 2, 3, 4}), kt_i64(KT_DIMS(1, 2), (int64_t[]){0, 1}),
                           kt_f32(KT_DIMS(1), (float[]){7})};
    y = run1(n, 3, in4);
    kt_assert_f32_close(y, (float[]){1, 7, 3, 4}, 4, 0, 0);
    kn_tensor_free(y);
    n = kt_node_new("ScatterND", 18);
    kt_attr_string(n, "reduction", "xor");
    kiln_tensor *in5[3] = {kt_f32(KT_DIMS(2), NULL), kt_i64(KT_DIMS(1, 1), NULL), kt_f32(KT_DIMS(1), NULL)};
    assert_int_equal(run_fail(n, 3, in5), KILN_ERROR_UNSUPPORTED);
    kiln_tensor *in6[3] = {kt_f32(KT_DIMS(2), NULL), kt_i64(KT_DIMS(1, 1), NULL), kt_f32(KT_DIMS(2), NULL)};
    assert_int_equal(run_fail(kt_node_new("ScatterND", 13), 3, in6), KILN_ERROR_SHAPE);
}

static void test_scatter_elements(void **state)
{
    (void)state;
    kiln_tensor *in[3] = {kt_f32(KT_DIMS(3, 3), NULL), kt_i64(KT_DIMS(2, 3), (int64_t[]){1, 0, 2, 0, 2, 1}),
                          kt_f32(KT_DIMS(2, 3), (float[]){1, 1.1f, 1.2f, 2, 2.1f, 2.2f})};
    kiln_tensor *y = run1(kt_node_new("ScatterElements", 13), 3, in);
    kt_assert_f32_close(y, (float[]){2, 1.1f, 0, 1, 0, 2.2f, 0, 2.1f, 1.2f}, 9, 0, 0);
    kn_tensor_free(y);
    static const char *reds[] = {"add", "max", "min", "mul"};
    static const float want[4] = {5.2f, 2.1f, 1.1f, 2 * 1.1f * 2.1f};
    for (int r = 0; r < 4; r++) {
        kt_node *n = kt_node_new("ScatterElements", 18);
        kt_attr_int(n, "axis", 1);
        kt_attr_string(n, "reduction", reds[r]);
        kiln_tensor *in2[3] = {kt_f32(KT_DIMS(1, 5), (float[]){1, 2, 3, 4, 5}), kt_i64(KT_DIMS(1, 2), (int64_t[]){1, -4}),
                               kt_f32(KT_DIMS(1, 2), (float[]){1.1f, 2.1f})};
        y = run1(n, 3, in2);
        kt_assert_f32_close(y, (float[]){1, want[r], 3, 4, 5}, 5, 1e-6, 0);
        kn_tensor_free(y);
    }
    /* deprecated Scatter (opset 10) becomes ScatterElements */
    kt_node *n = kt_node_new("Scatter", 10);
    kt_attr_int(n, "axis", 1);
    kiln_tensor *in3[3] = {kt_f32(KT_DIMS(1, 5), (float[]){1, 2, 3, 4, 5}), kt_i32(KT_DIMS(1, 2), (int32_t[]){1, 3}),
                           kt_f32(KT_DIMS(1, 2), (float[]){1.1f, 2.1f})};
    y = run1(n, 3, in3);
    kt_assert_f32_close(y, (float[]){1, 1.1f, 3, 2.1f, 5}, 5, 0, 0);
    kn_tensor_free(y);
    uint8_t b[2] = {0, 1};
    n = kt_node_new("ScatterElements", 18);
    kt_attr_string(n, "reduction", "add");
    kiln_tensor *in4[3] = {kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), b), kt_i64(KT_DIMS(1), (int64_t[]){0}),
                           kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(1), b)};
    assert_int_equal(run_fail(n, 3, in4), KILN_ERROR_UNSUPPORTED);
}

/* ---- Range / NonZero -------------------------------------------------- */

static kiln_tensor *range_i64(int64_t s, int64_t l, int64_t d)
{
    kiln_tensor *in[3] = {kt_i64(0, NULL, &s), kt_i64(0, NULL, &l), kt_i64(0, NULL, &d)};
    return run1(kt_node_new("Range", 11), 3, in);
}

static void test_range(void **state)
{
    (void)state;
    kiln_tensor *y = range_i64(10, 4, -3);
    kt_assert_i64_equal(y, (int64_t[]){10, 7}, 2);
    kn_tensor_free(y);
    y = range_i64(INT64_MAX - 5, INT64_MAX, 2);
    kt_assert_i64_equal(y, (int64_t[]){INT64_MAX - 5, INT64_MAX - 3, INT64_MAX - 1}, 3);
    kn_tensor_free(y);
    y = range_i64(5, 1, 1);
    kt_assert_shape(y, KT_DIMS(0));
    kn_tensor_free(y);
    kiln_tensor *in[3] = {kt_f32(0, NULL, (float[]){3}), kt_f32(0, NULL, (float[]){9}), kt_f32(0, NULL, (float[]){3})};
    y = run1(kt_node_new("Range", 11), 3, in);
    kt_assert_f32_close(y, (float[]){3, 6}, 2, 0, 0);
    kn_tensor_free(y);
    kiln_tensor *in2[3] = {kt_i32(0, NULL, (int32_t[]){0}), kt_i32(0, NULL, (int32_t[]){-5}),
                           kt_i32(0, NULL, (int32_t[]){-2})};
    y = run1(kt_node_new("Range", 11), 3, in2);
    assert_int_equal(y->dtype, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y, (int64_t[]){0, -2, -4}, 3);
    kn_tensor_free(y);
    int64_t s = 0, l = 3, d = 0;
    kiln_tensor *in3[3] = {kt_i64(0, NULL, &s), kt_i64(0, NULL, &l), kt_i64(0, NULL, &d)};
    assert_int_equal(run_fail(kt_node_new("Range", 11), 3, in3), KILN_ERROR_ARGUMENT);
    kiln_tensor *in4[3] = {kt_i64(0, NULL, &s), kt_i32(0, NULL, (int32_t[]){3}), kt_i64(0, NULL, &l)};
    assert_int_equal(run_fail(kt_node_new("Range", 11), 3, in4), KILN_ERROR_DTYPE);
}

static void test_nonzero(void **state)
{
    (void)state;
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(2, 2), (float[]){1, -0.0f, NAN, 3})};
    kiln_tensor *y = run1(kt_node_new("NonZero", 13), 1, in);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_i64_equal(y, (int64_t[]){0, 1, 1, 0, 0, 1}, 6);
    kn_tensor_free(y);
    kiln_tensor *in2[1] = {kt_i32(KT_DIMS(3), NULL)};
    y = run1(kt_node_new("NonZero", 9), 1, in2);
    kt_assert_shape(y, KT_DIMS(1, 0));
    kn_tensor_free(y);
    /* unknown data at plan time: the shape waits for it */
    const kn_op *op = kn_op_find("", "NonZero", 13);
    kt_node *tn = kt_node_new("NonZero", 13);
    kiln_tensor x = {.dtype = KILN_DTYPE_FLOAT, .rank = 1, .dims = {4}}, out = {0};
    const kiln_tensor *ins[1] = {&x};
    kiln_tensor *outs[1] = {&out};
    kn_op_ctx c = {.node = kt_node_get(tn), .n_in = 1, .in = ins, .n_out = 1, .out = outs};
    assert_int_equal(op->infer(&c), KN_NEED_VALUE);
    kt_node_free(tn);
}

/* ---- Trilu / CumSum --------------------------------------------------- */

static kiln_tensor *trilu(int upper, bool has_k, int64_t k, kiln_tensor *x)
{
    kt_node *n = kt_node_new("Trilu", 14);
    if (upper >= 0)
        kt_attr_int(n, "upper", upper);
    kiln_tensor *in[2] = {x, has_k ? kt_i64(0, NULL, &k) : NULL};
    return run1(n, 2, in);
}

static void test_trilu(void **state)
{
    (void)state;
    kiln_tensor *y = trilu(-1, false, 0, iota_f32(KT_DIMS(3, 4)));
    kt_assert_f32_close(y, (float[]){0, 1, 2, 3, 0, 5, 6, 7, 0, 0, 10, 11}, 12, 0, 0);
    kn_tensor_free(y);
    y = trilu(0, true, -1, iota_f32(KT_DIMS(3, 4)));
    kt_assert_f32_close(y, (float[]){0, 0, 0, 0, 4, 0, 0, 0, 8, 9, 0, 0}, 12, 0, 0);
    kn_tensor_free(y);
    y = trilu(1, true, 2, iota_f32(KT_DIMS(3, 4)));
    kt_assert_f32_close(y, (float[]){0, 0, 2, 3, 0, 0, 0, 7, 0, 0, 0, 0}, 12, 0, 0);
    kn_tensor_free(y);
    y = trilu(0, true, INT64_MAX, iota_f32(KT_DIMS(2, 2)));
    kt_assert_f32_close(y, (float[]){0, 1, 2, 3}, 4, 0, 0);
    kn_tensor_free(y);
    y = trilu(1, true, INT64_MIN, iota_f32(KT_DIMS(2, 2)));
    kt_assert_f32_close(y, (float[]){0, 1, 2, 3}, 4, 0, 0);
    kn_tensor_free(y);
    y = trilu(1, false, 0, iota_f32(KT_DIMS(2, 2, 2)));
    kt_assert_f32_close(y, (float[]){0, 1, 0, 3, 4, 5, 0, 7}, 8, 0, 0);
    kn_tensor_free(y);
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(3))};
    assert_int_equal(run_fail(kt_node_new("Trilu", 14), 1, in), KILN_ERROR_SHAPE);
}

static kiln_tensor *cumsum(int exclusive, int reverse, int64_t axis, kiln_tensor *x)
{
    kt_node *n = kt_node_new("CumSum", 14);
    if (exclusive)
        kt_attr_int(n, "exclusive", 1);
    if (reverse)
        kt_attr_int(n, "reverse", 1);
    kiln_tensor *in[2] = {x, kt_i32(0, NULL, (int32_t[]){(int32_t)axis})};
    return run1(n, 2, in);
}

static void test_cumsum(void **state)
{
    (void)state;
    const float x[5] = {1, 2, 3, 4, 5};
    static const float want[4][5] = {
        {1, 3, 6, 10, 15}, {0, 1, 3, 6, 10}, {15, 14, 12, 9, 5}, {14, 12, 9, 5, 0}};
    for (int m = 0; m < 4; m++) {
        kiln_tensor *y = cumsum(m & 1, m >> 1, 0, kt_f32(KT_DIMS(5), x));
        kt_assert_f32_close(y, want[m], 5, 0, 0);
        kn_tensor_free(y);
    }
    kiln_tensor *y = cumsum(0, 0, 0, kt_f32(KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6}));
    kt_assert_f32_close(y, (float[]){1, 2, 3, 5, 7, 9}, 6, 0, 0);
    kn_tensor_free(y);
    y = cumsum(0, 0, -1, kt_i32(KT_DIMS(2, 3), (int32_t[]){1, 2, 3, 4, 5, 6}));
    assert_int_equal(y->dtype, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y, (int64_t[]){1, 3, 6, 4, 9, 15}, 6);
    kn_tensor_free(y);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(3), x), kt_i32(0, NULL, (int32_t[]){1})};
    assert_int_equal(run_fail(kt_node_new("CumSum", 14), 2, in), KILN_ERROR_MODEL);
}

/* ---- TopK ------------------------------------------------------------- */

static void run_topk(kt_node *n, int n_in, kiln_tensor **in, kiln_tensor **o)
{
    kiln_status s = kt_run(n, n_in, in, 2, o);
    if (s != KILN_OK)
        fail_msg("status %d: %s", (int)s, kiln_last_error());
    kt_node_free(n);
    free_all(in, n_in);
}

static void test_topk(void **state)
{
    (void)state;
    kiln_tensor *o[2];
    kt_node *n = kt_node_new("TopK", 11);
    kt_attr_int(n, "axis", 1);
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(3, 4)), kt_i64(KT_DIMS(1), (int64_t[]){3})};
    run_topk(n, 2, in, o);
    kt_assert_shape(o[0], KT_DIMS(3, 3));
    kt_assert_f32_close(o[0], (float[]){3, 2, 1, 7, 6, 5, 11, 10, 9}, 9, 0, 0);
    kt_assert_i64_equal(o[1], (int64_t[]){3, 2, 1, 3, 2, 1, 3, 2, 1}, 9);
    free_all(o, 2);
    /* ties: the smaller index first, for largest and smallest */
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(5), (float[]){2, 1, 2, 1, 2}), kt_i64(KT_DIMS(1), (int64_t[]){3})};
    run_topk(kt_node_new("TopK", 11), 2, in2, o);
    kt_assert_f32_close(o[0], (float[]){2, 2, 2}, 3, 0, 0);
    kt_assert_i64_equal(o[1], (int64_t[]){0, 2, 4}, 3);
    free_all(o, 2);
    n = kt_node_new("TopK", 11);
    kt_attr_int(n, "largest", 0);
    kiln_tensor *in3[2] = {kt_f32(KT_DIMS(5), (float[]){2, 1, 2, 1, 2}), kt_i64(KT_DIMS(1), (int64_t[]){2})};
    run_topk(n, 2, in3, o);
    kt_assert_i64_equal(o[1], (int64_t[]){1, 3}, 2);
    free_all(o, 2);
    /* int64 values beyond double precision; axis 0 of a column */
    n = kt_node_new("TopK", 11);
    kt_attr_int(n, "largest", 0);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *in4[2] = {kt_i64(KT_DIMS(2, 1), (int64_t[]){INT64_MAX, INT64_MAX - 1}),
                           kt_i64(KT_DIMS(1), (int64_t[]){1})};
    run_topk(n, 2, in4, o);
    kt_assert_i64_equal(o[0], (int64_t[]){INT64_MAX - 1}, 1);
    kt_assert_i64_equal(o[1], (int64_t[]){1}, 1);
    free_all(o, 2);
    /* opset 1: k attribute */
    n = kt_node_new("TopK", 1);
    kt_attr_int(n, "k", 2);
    kiln_tensor *in5[1] = {kt_f32(KT_DIMS(2, 3), (float[]){1, 9, 5, 7, 3, 8})};
    run_topk(n, 1, in5, o);
    kt_assert_f32_close(o[0], (float[]){9, 5, 8, 7}, 4, 0, 0);
    kt_assert_i64_equal(o[1], (int64_t[]){1, 2, 2, 0}, 4);
    free_all(o, 2);
    n = kt_node_new("TopK", 11);
    kiln_tensor *in6[2] = {kt_f32(KT_DIMS(3), NULL), kt_i64(KT_DIMS(1), (int64_t[]){4})};
    assert_int_equal(kt_run(n, 2, in6, 2, o), KILN_ERROR_SHAPE);
    kt_node_free(n);
    free_all(in6, 2);
}

/* ---- spec edge cases: negative axes, empty tensors, defaults ----------- */

static void test_concat_edge_cases(void **state)
{
    (void)state;
    /* every input empty along the axis: an empty result of the joint shape */
    kt_node *n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", 1);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(2, 0), NULL), kt_f32(KT_DIMS(2, 0), NULL)};
    kiln_tensor *y = run1(n, 2, in);
    kt_assert_shape(y, KT_DIMS(2, 0));
    kn_tensor_free(y);
    /* empty along another axis than the concatenated one */
    n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(0, 2), NULL), kt_f32(KT_DIMS(0, 3), NULL)};
    y = run1(n, 2, in2);
    kt_assert_shape(y, KT_DIMS(0, 5));
    kn_tensor_free(y);
    /* one input is a copy; axis -rank is axis 0 */
    n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", -2);
    kiln_tensor *in3[1] = {iota_f32(KT_DIMS(2, 3))};
    y = run1(n, 1, in3);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, (float[]){0, 1, 2, 3, 4, 5}, 6, 0, 0);
    kn_tensor_free(y);
    n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", -2);
    kiln_tensor *in4[2] = {iota_f32(KT_DIMS(1, 2)), iota_f32(KT_DIMS(2, 2))};
    y = run1(n, 2, in4);
    kt_assert_f32_close(y, (float[]){0, 1, 0, 1, 2, 3}, 6, 0, 0);
    kn_tensor_free(y);
    /* axis outside [-rank, rank) */
    n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", -3);
    kiln_tensor *in5[2] = {iota_f32(KT_DIMS(1, 2)), iota_f32(KT_DIMS(1, 2))};
    assert_int_equal(run_fail(n, 2, in5), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "axis"));
}

static void test_split_edge_cases(void **state)
{
    (void)state;
    kiln_tensor *o[3];
    /* split input along a negative axis */
    kt_node *n = kt_node_new("Split", 13);
    kt_attr_int(n, "axis", -2);
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(3, 2)), i64s(2, (int64_t[]){1, 2})};
    run_split(n, 2, in, 2, o);
    kt_assert_shape(o[0], KT_DIMS(1, 2));
    kt_assert_shape(o[1], KT_DIMS(2, 2));
    kt_assert_f32_close(o[1], (float[]){2, 3, 4, 5}, 4, 0, 0);
    free_all(o, 2);
    /* default axis 0 and equal parts from the output count, empty other dim */
    kiln_tensor *in2[1] = {kt_f32(KT_DIMS(4, 0), NULL)};
    run_split(kt_node_new("Split", 13), 1, in2, 2, o);
    kt_assert_shape(o[0], KT_DIMS(2, 0));
    kt_assert_shape(o[1], KT_DIMS(2, 0));
    free_all(o, 2);
    /* axis out of range */
    n = kt_node_new("Split", 13);
    kt_attr_int(n, "axis", 2);
    kiln_tensor *in3[1] = {iota_f32(KT_DIMS(2, 2))};
    assert_int_equal(kt_run(n, 1, in3, 2, o), KILN_ERROR_MODEL);
    kt_node_free(n);
    free_all(in3, 1);
}

static void test_slice_edge_cases(void **state)
{
    (void)state;
    /* an input already empty in another dim stays empty there */
    kiln_tensor *y = slice5(kt_f32(KT_DIMS(0, 3), NULL), 1, (int64_t[]){1}, (int64_t[]){3}, (int64_t[]){-1}, NULL);
    kt_assert_shape(y, KT_DIMS(0, 2));
    kn_tensor_free(y);
    /* several negative axes with negative steps */
    y = slice5(iota_f32(KT_DIMS(2, 3)), 2, (int64_t[]){-1, -1}, (int64_t[]){INT64_MIN, INT64_MIN},
               (int64_t[]){-2, -1}, (int64_t[]){-1, -2});
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_f32_close(y, (float[]){5, 3, 2, 0}, 4, 0, 0);
    kn_tensor_free(y);
    /* the same axis twice is refused */
    kiln_tensor *in[4] = {iota_f32(KT_DIMS(4)), i64s(2, (int64_t[]){0, 1}), i64s(2, (int64_t[]){2, 3}),
                          i64s(2, (int64_t[]){0, -1})};
    assert_int_equal(run_fail(kt_node_new("Slice", 13), 4, in), KILN_ERROR_MODEL);
}

static void test_gather_edge_cases(void **state)
{
    (void)state;
    /* empty indices: the indices' shape replaces the axis */
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(3, 2)), kt_i64(KT_DIMS(0), NULL)};
    kiln_tensor *y = run1(kt_node_new("Gather", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(0, 2));
    kn_tensor_free(y);
    kt_node *n = kt_node_new("Gather", 13);
    kt_attr_int(n, "axis", 1);
    kiln_tensor *in2[2] = {iota_f32(KT_DIMS(3, 2)), kt_i64(KT_DIMS(2, 0), NULL)};
    y = run1(n, 2, in2);
    kt_assert_shape(y, KT_DIMS(3, 2, 0));
    kn_tensor_free(y);
    /* data empty in a dim other than the axis */
    n = kt_node_new("Gather", 13);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in3[2] = {kt_f32(KT_DIMS(0, 3), NULL), kt_i64(KT_DIMS(1), (int64_t[]){2})};
    y = run1(n, 2, in3);
    kt_assert_shape(y, KT_DIMS(0, 1));
    kn_tensor_free(y);
    /* -dim is the first element; -dim-1 is out of range */
    kiln_tensor *in4[2] = {iota_f32(KT_DIMS(3)), kt_i64(KT_DIMS(2), (int64_t[]){-3, -1})};
    y = run1(kt_node_new("Gather", 13), 2, in4);
    kt_assert_f32_close(y, (float[]){0, 2}, 2, 0, 0);
    kn_tensor_free(y);
    kiln_tensor *in5[2] = {iota_f32(KT_DIMS(3)), kt_i64(KT_DIMS(1), (int64_t[]){-4})};
    assert_int_equal(run_fail(kt_node_new("Gather", 13), 2, in5), KILN_ERROR_ARGUMENT);
    /* axis outside [-rank, rank) */
    n = kt_node_new("Gather", 13);
    kt_attr_int(n, "axis", -3);
    kiln_tensor *in6[2] = {iota_f32(KT_DIMS(3, 2)), kt_i64(KT_DIMS(1), (int64_t[]){0})};
    assert_int_equal(run_fail(n, 2, in6), KILN_ERROR_MODEL);
    /* bool data moves like any fixed-size type */
    kiln_tensor *in7[2] = {kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(3), (uint8_t[]){1, 0, 1}),
                           kt_i64(KT_DIMS(2), (int64_t[]){1, 2})};
    y = run1(kt_node_new("Gather", 13), 2, in7);
    assert_int_equal(y->dtype, KILN_DTYPE_BOOL);
    assert_memory_equal(y->data, ((uint8_t[]){0, 1}), 2);
    kn_tensor_free(y);
}

static void test_topk_edge_cases(void **state)
{
    (void)state;
    kiln_tensor *o[2];
    /* k = 0: empty values and indices */
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(3, 4)), kt_i64(KT_DIMS(1), (int64_t[]){0})};
    run_topk(kt_node_new("TopK", 11), 2, in, o);
    kt_assert_shape(o[0], KT_DIMS(3, 0));
    kt_assert_shape(o[1], KT_DIMS(3, 0));
    assert_int_equal(o[1]->dtype, KILN_DTYPE_INT64);
    free_all(o, 2);
    /* explicit negative axis, smallest, on an integer input */
    kt_node *n = kt_node_new("TopK", 11);
    kt_attr_int(n, "axis", -2);
    kt_attr_int(n, "largest", 0);
    kiln_tensor *in2[2] = {kt_i32(KT_DIMS(3, 2), (int32_t[]){5, -1, 3, 7, 4, 0}), kt_i64(KT_DIMS(1), (int64_t[]){2})};
    run_topk(n, 2, in2, o);
    kt_assert_shape(o[0], KT_DIMS(2, 2));
    kt_assert_i64_equal(o[0], (int64_t[]){3, -1, 4, 0}, 4);
    kt_assert_i64_equal(o[1], (int64_t[]){1, 0, 2, 2}, 4);
    free_all(o, 2);
    /* an input empty in another dim */
    kiln_tensor *in3[2] = {kt_f32(KT_DIMS(0, 4), NULL), kt_i64(KT_DIMS(1), (int64_t[]){2})};
    run_topk(kt_node_new("TopK", 11), 2, in3, o);
    kt_assert_shape(o[0], KT_DIMS(0, 2));
    free_all(o, 2);
    /* negative k and an axis outside the rank are refused */
    n = kt_node_new("TopK", 11);
    kiln_tensor *in4[2] = {iota_f32(KT_DIMS(3)), kt_i64(KT_DIMS(1), (int64_t[]){-1})};
    assert_int_equal(kt_run(n, 2, in4, 2, o), KILN_ERROR_SHAPE);
    kt_node_free(n);
    free_all(in4, 2);
    n = kt_node_new("TopK", 11);
    kt_attr_int(n, "axis", 1);
    kiln_tensor *in5[2] = {iota_f32(KT_DIMS(3)), kt_i64(KT_DIMS(1), (int64_t[]){1})};
    assert_int_equal(kt_run(n, 2, in5, 2, o), KILN_ERROR_MODEL);
    kt_node_free(n);
    free_all(in5, 2);
}

static void test_cumsum_edge_cases(void **state)
{
    (void)state;
    /* empty input */
    kiln_tensor *y = cumsum(1, 1, 0, kt_f32(KT_DIMS(0), NULL));
    kt_assert_shape(y, KT_DIMS(0));
    kn_tensor_free(y);
    y = cumsum(0, 0, 1, kt_f32(KT_DIMS(0, 3), NULL));
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);
    /* negative axis with exclusive + reverse on 2-D, int64 data */
    y = cumsum(1, 1, -2, kt_i64(KT_DIMS(3, 2), (int64_t[]){1, 2, 3, 4, 5, 6}));
    kt_assert_i64_equal(y, (int64_t[]){8, 10, 5, 6, 0, 0}, 6);
    kn_tensor_free(y);
    /* axis given as int64 */
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(2, 2), (float[]){1, 2, 3, 4}), kt_i64(0, NULL, (int64_t[]){-1})};
    y = run1(kt_node_new("CumSum", 14), 2, in);
    kt_assert_f32_close(y, (float[]){1, 3, 3, 7}, 4, 0, 0);
    kn_tensor_free(y);
    /* axis outside [-rank, rank) */
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(2, 2), NULL), kt_i64(0, NULL, (int64_t[]){2})};
    assert_int_equal(run_fail(kt_node_new("CumSum", 14), 2, in2), KILN_ERROR_MODEL);
    /* a dtype CumSum has no kernel for */
    kiln_tensor *in3[2] = {kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), NULL), kt_i64(0, NULL, (int64_t[]){0})};
    assert_int_equal(run_fail(kt_node_new("CumSum", 14), 2, in3), KILN_ERROR_DTYPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concat_axes),
        cmocka_unit_test(test_concat_errors),
        cmocka_unit_test(test_split_forms),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_slice_spec_example),
        cmocka_unit_test(test_slice_clamping),
        cmocka_unit_test(test_slice_int32_and_old_form),
        cmocka_unit_test(test_slice_errors),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_gather_elements),
        cmocka_unit_test(test_gather_nd),
        cmocka_unit_test(test_scatter_nd),
        cmocka_unit_test(test_scatter_elements),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_nonzero),
        cmocka_unit_test(test_trilu),
        cmocka_unit_test(test_cumsum),
        cmocka_unit_test(test_topk),
        cmocka_unit_test(test_concat_edge_cases),
        cmocka_unit_test(test_split_edge_cases),
        cmocka_unit_test(test_slice_edge_cases),
        cmocka_unit_test(test_gather_edge_cases),
        cmocka_unit_test(test_topk_edge_cases),
        cmocka_unit_test(test_cumsum_edge_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
