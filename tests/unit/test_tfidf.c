/* TfIdfVectorizer: n-gram counting over int and string rows, skips,
 * weighting modes, and refused attributes. */
#include "harness.h"

/* pool: unigrams {a, b}, bigrams {(a,b), (b,c)}; columns 0..3 */
static kt_node *string_node(const char *mode, int64_t min_n, int64_t max_n, int64_t skip)
{
    kt_node *n = kt_node_new("TfIdfVectorizer", 9);
    kt_attr_int(n, "min_gram_length", min_n);
    kt_attr_int(n, "max_gram_length", max_n);
    kt_attr_int(n, "max_skip_count", skip);
    kt_attr_string(n, "mode", mode);
    kt_attr_ints(n, "ngram_counts", (int64_t[]){0, 2}, 2);
    kt_attr_ints(n, "ngram_indexes", (int64_t[]){0, 1, 2, 3}, 4);
    kt_attr_strings(n, "pool_strings", (const char *[]){"a", "b", "a", "b", "b", "c"}, 6);
    return n;
}

static void test_strings_tf_with_skip(void **state)
{
    (void)state;
    kt_node *n = string_node("TF", 1, 2, 1);
    kiln_tensor *in[1] = {kt_strings(KT_DIMS(2, 4), (const char *[]){"a", "b", "x", "c", "a", "x", "b", "a"})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(2, 4));
    /* row 0: a, b once each; (a,b) at distance 1, (b,c) at distance 2.
     * row 1: a twice, b once; (a,b) at distance 2 only (skip 1). */
    kt_assert_f32_close(out[0], (float[]){1, 1, 1, 1, 2, 1, 1, 0}, 8, 0, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    kt_node_free(n);
}

static void test_int_idf_tfidf_weights(void **state)
{
    (void)state;
    const char *modes[] = {"IDF", "TFIDF"};
    const float want[2][3] = {{0.5f, 0, 4}, {1.0f, 0, 4}};
    for (int m = 0; m < 2; m++) {
        kt_node *n = kt_node_new("TfIdfVectorizer", 9);
        kt_attr_int(n, "min_gram_length", 1);
        kt_attr_int(n, "max_gram_length", 1);
        kt_attr_int(n, "max_skip_count", 0);
        kt_attr_string(n, "mode", modes[m]);
        kt_attr_ints(n, "ngram_counts", (int64_t[]){0}, 1);
        /* unigram 7 -> column 2, 9 -> column 0, 5 -> column 1 */
        kt_attr_ints(n, "ngram_indexes", (int64_t[]){2, 0, 1}, 3);
        kt_attr_ints(n, "pool_int64s", (int64_t[]){7, 9, 5}, 3);
        kt_attr_floats(n, "weights", (float[]){0.5f, 2.0f, 4.0f}, 3);
        kiln_tensor *in[1] = {kt_i32(KT_DIMS(4), (int32_t[]){9, 9, 7, 1})};
        kiln_tensor *out[1];
        assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
        kt_assert_shape(out[0], KT_DIMS(3));
        kt_assert_f32_close(out[0], want[m], 3, 0, 0);
        kn_tensor_free(out[0]);
        kn_tensor_free(in[0]);
        kt_node_free(n);
    }
}

static void test_huge_skip_count(void **state)
{
    (void)state;
    /* skips beyond the row are pointless, not an overflow */
    kt_node *n = string_node("TF", 2, 2, INT64_MAX);
    kiln_tensor *in[1] = {kt_strings(KT_DIMS(4), (const char *[]){"a", "x", "x", "b"})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    kt_assert_f32_close(out[0], (float[]){0, 0, 1, 0}, 4, 0, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    kt_node_free(n);
}

static void test_empty_rows_and_scalar(void **state)
{
    (void)state;
    kt_node *n = string_node("TF", 1, 2, 0);
    kiln_tensor *in[1] = {kt_tensor(KILN_DTYPE_STRING, KT_DIMS(3, 0), NULL)};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(3, 4));
    kt_assert_f32_close(out[0], (float[12]){0}, 12, 0, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    in[0] = kt_strings(0, NULL, (const char *[]){"b"});
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(4));
    kt_assert_f32_close(out[0], (float[]){0, 1, 0, 0}, 4, 0, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(in[0]);
    kt_node_free(n);
}

static void test_refused(void **state)
{
    (void)state;
    kiln_tensor *out[1];
    /* int input against a string pool */
    kt_node *n = string_node("TF", 1, 2, 0);
    kiln_tensor *in[1] = {kt_i64(KT_DIMS(2), (int64_t[]){1, 2})};
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_DTYPE);
    kt_node_free(n);
    /* bad mode, min > max, rank 3 */
    n = string_node("BM25", 1, 2, 0);
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_MODEL);
    kt_node_free(n);
    n = string_node("TF", 3, 2, 0);
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_MODEL);
    kt_node_free(n);
    kn_tensor_free(in[0]);
    n = string_node("TF", 1, 2, 0);
    in[0] = kt_tensor(KILN_DTYPE_STRING, KT_DIMS(1, 1, 1), NULL);
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_SHAPE);
    kt_node_free(n);
    kn_tensor_free(in[0]);
    /* ngram_counts past the pool, too few ngram_indexes */
    n = kt_node_new("TfIdfVectorizer", 9);
    kt_attr_int(n, "min_gram_length", 1);
    kt_attr_int(n, "max_gram_length", 2);
    kt_attr_int(n, "max_skip_count", 0);
    kt_attr_string(n, "mode", "TF");
    kt_attr_ints(n, "ngram_counts", (int64_t[]){0, 9}, 2);
    kt_attr_ints(n, "ngram_indexes", (int64_t[]){0}, 1);
    kt_attr_ints(n, "pool_int64s", (int64_t[]){1, 2, 3}, 3);
    in[0] = kt_i64(KT_DIMS(2), (int64_t[]){1, 2});
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_MODEL);
    assert_non_null(strstr(kn_error_message(), "ngram_counts"));
    kt_node_free(n);
    kn_tensor_free(in[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_tf_with_skip),
        cmocka_unit_test(test_int_idf_tfidf_weights),
        cmocka_unit_test(test_huge_skip_count),
        cmocka_unit_test(test_empty_rows_and_scalar),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
