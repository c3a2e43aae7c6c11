/* ai.onnx.ml ops: LabelEncoder, TreeEnsemble, Binarizer, ArrayFeatureExtractor. */
#include "harness.h"

#include <float.h>
#include <math.h>

static void assert_strs(const kiln_tensor *t, const char *const *want, int64_t n)
{
    assert_int_equal(t->dtype, KILN_DTYPE_STRING);
    assert_int_equal(kn_tensor_count(t), n);
    char *const *d = t->data;
    for (int64_t i = 0; i < n; i++)
        if (!d[i] || strcmp(d[i], want[i]) != 0)
            fail_msg("element %lld: got \"%s\", expected \"%s\"", (long long)i, d[i] ? d[i] : "(null)", want[i]);
}

static kt_node *ml_node(const char *op, int opset)
{
    return kt_node_new_domain("ai.onnx.ml", op, opset);
}

/* ---- LabelEncoder ---- */

static void test_label_int_to_string_default(void **state)
{
    (void)state;
    kt_node *n = ml_node("LabelEncoder", 2);
    /* key 3 repeats: the last value wins */
    kt_attr_ints(n, "keys_int64s", (int64_t[]){3, -1, 3}, 3);
    kt_attr_strings(n, "values_strings", (const char *[]){"x", "neg", "three"}, 3);
    kiln_tensor *in[1] = {kt_i64(KT_DIMS(2, 2), (int64_t[]){3, 7, -1, 3})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(2, 2));
    assert_strs(out[0], (const char *[]){"three", "_Unused", "neg", "three"}, 4);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    kt_node_free(n);
}

static void test_label_float_keys_nan_and_default(void **state)
{
    (void)state;
    kt_node *n = ml_node("LabelEncoder", 4);
    kt_attr_floats(n, "keys_floats", (float[]){NAN, 0.5f, -2.0f}, 3);
    kt_attr_floats(n, "values_floats", (float[]){10, 20, 30}, 3);
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(4), (float[]){-2.0f, NAN, 1.0f, 0.5f})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    const float *y = out[0]->data;
    assert_true(y[0] == 30 && y[1] == 10 && y[3] == 20);
    assert_true(y[2] == 0.0f && signbit(y[2])); /* default_float is -0.0 */
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    kt_node_free(n);
}

static void test_label_tensor_attrs(void **state)
{
    (void)state;
    kt_node *n = ml_node("LabelEncoder", 4);
    kiln_tensor *keys = kt_tensor(KILN_DTYPE_INT16, KT_DIMS(2), (int16_t[]){5, 6});
    kiln_tensor *vals = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2), (double[]){0.25, 0.5});
    kiln_tensor *def = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1), (double[]){9});
    kt_attr_tensor(n, "keys_tensor", keys);
    kt_attr_tensor(n, "values_tensor", vals);
    kt_attr_tensor(n, "default_tensor", def);
    kiln_tensor *in[1] = {kt_tensor(KILN_DTYPE_INT16, KT_DIMS(3), (int16_t[]){6, 0, 5})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    assert_int_equal(out[0]->dtype, KILN_DTYPE_DOUBLE);
    const double *y = out[0]->data;
    assert_true(y[0] == 0.5 && y[1] == 9 && y[2] == 0.25);
    kn_tensor_free(out[0]);
    /* a string input against integer keys is refused */
    kn_tensor_free(in[0]);
    in[0] = kt_strings(KT_DIMS(1), (const char *[]){"5"});
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_DTYPE);
    kn_tensor_free(in[0]);
    kn_tensor_free(keys);
    kn_tensor_free(vals);
    kn_tensor_free(def);
    kt_node_free(n);
}

static void test_label_bad_attrs(void **state)
{
    (void)state;
    kiln_tensor *in[1] = {kt_i64(KT_DIMS(1), (int64_t[]){1})};
    kiln_tensor *out[1];
    kt_node *n = ml_node("LabelEncoder", 2);
    kt_attr_ints(n, "keys_int64s", (int64_t[]){1, 2}, 2);
    kt_attr_ints(n, "values_int64s", (int64_t[]){1}, 1);
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_MODEL);
    kt_node_free(n);
    n = ml_node("LabelEncoder", 2);
    kt_attr_ints(n, "keys_int64s", (int64_t[]){1}, 1);
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_MODEL);
    assert_non_null(strstr(kn_error_message(), "values"));
    kt_node_free(n);
    kn_tensor_free(in[0]);
}

/* ---- TreeEnsemble ---- */

/* Two stumps on feature 0 / 1: tree A (root 0): x0 <= 1 ? leaf0 (w 1, t0)
 * : leaf1 (w 3, t0); tree B (root 1): x1 < 0 ? leaf2 (w 5, t0) : leaf3
 * (w -2, t1). */
static kt_node *stumps(int64_t aggregate, const int64_t *tracks)
{
    kt_node *n = ml_node("TreeEnsemble", 5);
    kiln_tensor *splits = kt_f32(KT_DIMS(2), (float[]){1, 0});
    kiln_tensor *modes = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(2), (uint8_t[]){0, 1});
    kiln_tensor *weights = kt_f32(KT_DIMS(4), (float[]){1, 3, 5, -2});
    kt_attr_tensor(n, "nodes_splits", splits);
    kt_attr_tensor(n, "nodes_modes", modes);
    kt_attr_tensor(n, "leaf_weights", weights);
    kt_attr_ints(n, "nodes_featureids", (int64_t[]){0, 1}, 2);
    kt_attr_ints(n, "nodes_truenodeids", (int64_t[]){0, 2}, 2);
    kt_attr_ints(n, "nodes_falsenodeids", (int64_t[]){1, 3}, 2);
    kt_attr_ints(n, "nodes_trueleafs", (int64_t[]){1, 1}, 2);
    kt_attr_ints(n, "nodes_falseleafs", (int64_t[]){1, 1}, 2);
    kt_attr_ints(n, "leaf_targetids", (int64_t[]){0, 0, 0, 1}, 4);
    kt_attr_ints(n, "tree_roots", (int64_t[]){0, 1}, 2);
    kt_attr_int(n, "n_targets", 2);
    kt_attr_int(n, "aggregate_function", aggregate);
    if (tracks)
        kt_attr_ints(n, "nodes_missing_value_tracks_true", tracks, 2);
    kn_tensor_free(splits);
    kn_tensor_free(modes);
    kn_tensor_free(weights);
    return n;
}

static void run_stumps(int64_t aggregate, const int64_t *tracks, const float *x, const float *want)
{
    kt_node *n = stumps(aggregate, tracks);
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(2, 2), x)};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(2, 2));
    kt_assert_f32_close(out[0], want, 4, 1e-6, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    kt_node_free(n);
}

static void test_tree_aggregates(void **state)
{
    (void)state;
    const float x[] = {0, -1, 2, 4};
    /* row 0: leaves 0 (1,t0) and 2 (5,t0); row 1: leaves 1 (3,t0) and 3 (-2,t1) */
    run_stumps(1, NULL, x, (float[]){6, 0, 3, -2});                 /* SUM */
    run_stumps(0, NULL, x, (float[]){3, 0, 1.5f, -1});              /* AVERAGE */
    run_stumps(2, NULL, x, (float[]){1, FLT_MAX, 3, -2});           /* MIN */
    run_stumps(3, NULL, x, (float[]){5, -FLT_MAX, 3, -2});          /* MAX */
}

static void test_tree_missing_values(void **state)
{
    (void)state;
    const float x[] = {NAN, NAN, 0, 0};
    /* NaN compares false unless the node tracks missing values as true */
    run_stumps(1, NULL, x, (float[]){3, -2, 1, -2});
    run_stumps(1, (int64_t[]){1, 1}, x, (float[]){6, 0, 1, -2});
}

static void test_tree_post_transforms(void **state)
{
    (void)state;
    const float x[] = {0, -1, 2, 4};
    /* raw SUM rows: {6, 0} and {3, -2} */
    const int64_t posts[3] = {1, 2, 3};
    double e6 = exp(6.0), e5 = exp(5.0);
    const float want[3][4] = {
        {(float)(e6 / (e6 + 1)), (float)(1 / (e6 + 1)), (float)(e5 / (e5 + 1)), (float)(1 / (e5 + 1))}, /* SOFTMAX */
        {(float)(1 / (1 + exp(-6.0))), 0.5f, (float)(1 / (1 + exp(-3.0))), (float)(1 / (1 + exp(2.0)))}, /* LOGISTIC */
        {1, 0, (float)(e5 / (e5 + 1)), (float)(1 / (e5 + 1))}, /* SOFTMAX_ZERO: the zero stays zero */
    };
    for (int k = 0; k < 3; k++) {
        kt_node *n = stumps(1, NULL);
        kt_attr_int(n, "post_transform", posts[k]);
        kiln_tensor *in[1] = {kt_f32(KT_DIMS(2, 2), x)};
        kiln_tensor *out[1];
        assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
        kt_assert_f32_close(out[0], want[k], 4, 1e-5, 1e-7);
        kn_tensor_free(out[0]);
        kn_tensor_free(in[0]);
        kt_node_free(n);
    }
}

static void test_tree_probit(void **state)
{
    (void)state;
    /* one node sending x <= 0.5 to a leaf of weight 0.975, else 0.5 */
    kt_node *n = ml_node("TreeEnsemble", 5);
    kiln_tensor *splits = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1), (double[]){0.5});
    kiln_tensor *modes = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(1), (uint8_t[]){0});
    kiln_tensor *weights = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(3), (double[]){0.975, 0.5, 0.001});
    kt_attr_tensor(n, "nodes_splits", splits);
    kt_attr_tensor(n, "nodes_modes", modes);
    kt_attr_tensor(n, "leaf_weights", weights);
    kt_attr_ints(n, "nodes_featureids", (int64_t[]){0}, 1);
    kt_attr_ints(n, "nodes_truenodeids", (int64_t[]){0}, 1);
    kt_attr_ints(n, "nodes_falsenodeids", (int64_t[]){1}, 1);
    kt_attr_ints(n, "nodes_trueleafs", (int64_t[]){1}, 1);
    kt_attr_ints(n, "nodes_falseleafs", (int64_t[]){1}, 1);
    kt_attr_ints(n, "leaf_targetids", (int64_t[]){0, 0, 0}, 3);
    kt_attr_ints(n, "tree_roots", (int64_t[]){0}, 1);
    kt_attr_int(n, "n_targets", 1);
    kt_attr_int(n, "post_transform", 4);
    kiln_tensor *in[1] = {kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 1), (double[]){0, 1})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    const double *y = out[0]->data;
    assert_true(fabs(y[0] - 1.959963984540054) < 1e-9); /* the 97.5% normal quantile */
    assert_true(fabs(y[1]) < 1e-12);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    kn_tensor_free(splits);
    kn_tensor_free(modes);
    kn_tensor_free(weights);
    kt_node_free(n);
}

static void test_tree_refused(void **state)
{
    (void)state;
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(1, 2), (float[]){0, 0})};
    kiln_tensor *out[1];
    /* leaf index out of range */
    kt_node *n = stumps(1, NULL);
    kn_node_remove_attr(kt_node_get(n), "leaf_targetids");
    kt_attr_ints(n, "leaf_targetids", (int64_t[]){0, 0, 0, 2}, 4);
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_MODEL);
    assert_non_null(strstr(kn_error_message(), "leaf_targetids"));
    kt_node_free(n);
    /* a cycle: node 0's false branch leads back to node 0 */
    n = stumps(1, NULL);
    kn_node_remove_attr(kt_node_get(n), "nodes_falseleafs");
    kn_node_remove_attr(kt_node_get(n), "nodes_falsenodeids");
    kt_attr_ints(n, "nodes_falseleafs", (int64_t[]){0, 1}, 2);
    kt_attr_ints(n, "nodes_falsenodeids", (int64_t[]){0, 3}, 2);
    kiln_tensor *big = kt_f32(KT_DIMS(1, 2), (float[]){5, 0});
    assert_int_equal(kt_run(n, 1, &big, 1, out), KILN_ERROR_MODEL);
    assert_non_null(strstr(kn_error_message(), "cycle"));
    kn_tensor_free(big);
    kt_node_free(n);
    /* a feature the input lacks, a post transform ONNX lacks */
    n = stumps(1, NULL);
    kiln_tensor *narrow = kt_f32(KT_DIMS(1, 1), (float[]){0});
    assert_int_equal(kt_run(n, 1, &narrow, 1, out), KILN_ERROR_SHAPE);
    kn_tensor_free(narrow);
    kt_node_free(n);
    n = stumps(1, NULL);
    kt_attr_int(n, "post_transform", 5);
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_MODEL);
    kt_node_free(n);
    kn_tensor_free(in[0]);
}

static void test_tree_membership_double(void **state)
{
    (void)state;
    kt_node *n = ml_node("TreeEnsemble", 5);
    kiln_tensor *splits = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1), (double[]){0});
    kiln_tensor *modes = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(1), (uint8_t[]){6});
    kiln_tensor *weights = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2), (double[]){1, 2});
    kiln_tensor *members = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(3), (double[]){4, 0.1, NAN});
    kt_attr_tensor(n, "nodes_splits", splits);
    kt_attr_tensor(n, "nodes_modes", modes);
    kt_attr_tensor(n, "leaf_weights", weights);
    kt_attr_tensor(n, "membership_values", members);
    kt_attr_ints(n, "nodes_featureids", (int64_t[]){0}, 1);
    kt_attr_ints(n, "nodes_truenodeids", (int64_t[]){0}, 1);
    kt_attr_ints(n, "nodes_falsenodeids", (int64_t[]){1}, 1);
    kt_attr_ints(n, "nodes_trueleafs", (int64_t[]){1}, 1);
    kt_attr_ints(n, "nodes_falseleafs", (int64_t[]){1}, 1);
    kt_attr_ints(n, "leaf_targetids", (int64_t[]){0, 0}, 2);
    kt_attr_ints(n, "tree_roots", (int64_t[]){0}, 1);
    kt_attr_int(n, "n_targets", 1);
    kiln_tensor *in[1] = {kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(3, 1), (double[]){0.1, 4, 5})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    const double *y = out[0]->data;
    assert_true(y[0] == 1 && y[1] == 1 && y[2] == 2);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    kn_tensor_free(splits);
    kn_tensor_free(modes);
    kn_tensor_free(weights);
    kn_tensor_free(members);
    kt_node_free(n);
}

/* ---- Binarizer, ArrayFeatureExtractor ---- */

static void test_binarizer(void **state)
{
    (void)state;
    kt_node *n = ml_node("Binarizer", 1);
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(4), (float[]){-1, 0, 0.5f, NAN})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK); /* threshold defaults to 0 */
    kt_assert_f32_close(out[0], (float[]){0, 0, 1, 0}, 4, 0, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    kt_attr_float(n, "threshold", 2.0f);
    in[0] = kt_i64(KT_DIMS(3), (int64_t[]){1, 2, 3});
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    kt_assert_i64_equal(out[0], (int64_t[]){0, 0, 1}, 3);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    in[0] = kt_strings(KT_DIMS(1), (const char *[]){"1"});
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_DTYPE);
    kn_tensor_free(in[0]);
    kt_node_free(n);
}

static void test_array_feature_extractor(void **state)
{
    (void)state;
    kt_node *n = ml_node("ArrayFeatureExtractor", 1);
    kiln_tensor *in[2] = {kt_strings(KT_DIMS(3), (const char *[]){"a", "b", "c"}),
                          kt_i64(KT_DIMS(1, 3), (int64_t[]){2, 0, 2})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 2, in, 1, out), KILN_OK); /* 1-D input: one row */
    kt_assert_shape(out[0], KT_DIMS(1, 3));
    assert_strs(out[0], (const char *[]){"c", "a", "c"}, 3);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    in[0] = kt_i32(KT_DIMS(2, 1, 3), (int32_t[]){1, 2, 3, 4, 5, 6});
    assert_int_equal(kt_run(n, 2, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(2, 1, 3));
    kt_assert_i64_equal(out[0], (int64_t[]){3, 1, 3, 6, 4, 6}, 6);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[1]);
    in[1] = kt_i64(KT_DIMS(1), (int64_t[]){3});
    assert_int_equal(kt_run(n, 2, in, 1, out), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kn_error_message(), "index 3"));
    kn_tensor_free(in[0]);
    kn_tensor_free(in[1]);
    kt_node_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_int_to_string_default),
        cmocka_unit_test(test_label_float_keys_nan_and_default),
        cmocka_unit_test(test_label_tensor_attrs),
        cmocka_unit_test(test_label_bad_attrs),
        cmocka_unit_test(test_tree_aggregates),
        cmocka_unit_test(test_tree_missing_values),
        cmocka_unit_test(test_tree_post_transforms),
        cmocka_unit_test(test_tree_probit),
        cmocka_unit_test(test_tree_refused),
        cmocka_unit_test(test_tree_membership_double),
        cmocka_unit_test(test_binarizer),
        cmocka_unit_test(test_array_feature_extractor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
