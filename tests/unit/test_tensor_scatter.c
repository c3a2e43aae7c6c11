/* TensorScatter: linear and circular cache writes per batch, default write
 * indices and axis, heads before the sequence axis, non-float types,
 * refused writes and attributes. */
#include "harness.h"

static kiln_tensor *run_ts(const char *mode, bool set_axis, int64_t axis, int n_in, kiln_tensor *const *in,
                           kiln_status want)
{
    kt_node *n = kt_node_new("TensorScatter", 24);
    if (mode)
        kt_attr_string(n, "mode", mode);
    if (set_axis)
        kt_attr_int(n, "axis", axis);
    kiln_tensor *y[1] = {NULL};
    assert_int_equal(kt_run(n, n_in, in, 1, y), want);
    kt_node_free(n);
    return y[0];
}

/* cache [2, 4, 2] = 0..15, update [2, 2, 2] = 100.. */
static void make(kiln_tensor **cache, kiln_tensor **upd)
{
    float c[16], u[8];
    for (int i = 0; i < 16; i++)
        c[i] = (float)i;
    for (int i = 0; i < 8; i++)
        u[i] = 100.0f + (float)i;
    *cache = kt_f32(KT_DIMS(2, 4, 2), c);
    *upd = kt_f32(KT_DIMS(2, 2, 2), u);
}

static void test_linear_and_default_indices(void **state)
{
    (void)state;
    kiln_tensor *cache, *upd;
    make(&cache, &upd);
    kiln_tensor *idx = kt_i64(KT_DIMS(2), (int64_t[]){1, 2});
    kiln_tensor *y = run_ts(NULL, false, 0, 3, (kiln_tensor *[]){cache, upd, idx}, KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 4, 2));
    kt_assert_f32_close(y, (float[]){0, 1, 100, 101, 102, 103, 6, 7, 8, 9, 10, 11, 104, 105, 106, 107}, 16, 0, 0);
    kn_tensor_free(y);
    /* no write_indices: both batches write at 0 */
    y = run_ts("linear", false, 0, 2, (kiln_tensor *[]){cache, upd}, KILN_OK);
    kt_assert_f32_close(y, (float[]){100, 101, 102, 103, 4, 5, 6, 7, 104, 105, 106, 107, 12, 13, 14, 15}, 16, 0, 0);
    kn_tensor_free(y);
    /* the cache input itself is untouched */
    assert_true(((const float *)cache->data)[2] == 2.0f);
    kn_tensor_free(idx);
    kn_tensor_free(cache);
    kn_tensor_free(upd);
}

static void test_circular_wraps(void **state)
{
    (void)state;
    kiln_tensor *cache, *upd;
    make(&cache, &upd);
    kiln_tensor *idx = kt_i64(KT_DIMS(2), (int64_t[]){3, 6}); /* 6 wraps to 2 */
    kiln_tensor *y = run_ts("circular", false, 0, 3, (kiln_tensor *[]){cache, upd, idx}, KILN_OK);
    kt_assert_f32_close(y, (float[]){102, 103, 2, 3, 4, 5, 100, 101, 8, 9, 10, 11, 104, 105, 106, 107}, 16, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(idx);
    kn_tensor_free(cache);
    kn_tensor_free(upd);
}

/* [batch, heads, seq, size] with the default axis -2, int64 elements. */
static void test_heads_before_axis_int64(void **state)
{
    (void)state;
    int64_t c[2 * 2 * 3], u[2 * 2 * 1];
    for (int i = 0; i < 12; i++)
        c[i] = i;
    for (int i = 0; i < 4; i++)
        u[i] = -1 - i;
    kiln_tensor *cache = kt_i64(KT_DIMS(2, 2, 3, 1), c), *upd = kt_i64(KT_DIMS(2, 2, 1, 1), u),
                *idx = kt_i64(KT_DIMS(2), (int64_t[]){2, 0});
    kiln_tensor *y = run_ts(NULL, false, 0, 3, (kiln_tensor *[]){cache, upd, idx}, KILN_OK);
    kt_assert_i64_equal(y, (int64_t[]){0, 1, -1, 3, 4, -2, -3, 7, 8, -4, 10, 11}, 12);
    kn_tensor_free(y);
    /* the same through axis 2 and axis -2 explicitly */
    for (int64_t axis = -2; axis <= 2; axis += 4) {
        y = run_ts(NULL, true, axis, 3, (kiln_tensor *[]){cache, upd, idx}, KILN_OK);
        kt_assert_i64_equal(y, (int64_t[]){0, 1, -1, 3, 4, -2, -3, 7, 8, -4, 10, 11}, 12);
        kn_tensor_free(y);
    }
    kn_tensor_free(cache);
    kn_tensor_free(upd);
    kn_tensor_free(idx);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *cache, *upd;
    make(&cache, &upd);
    kiln_tensor *idx = kt_i64(KT_DIMS(2), (int64_t[]){3, 0}), *neg = kt_i64(KT_DIMS(2), (int64_t[]){-1, 0}),
                *long_upd = kt_f32(KT_DIMS(2, 5, 2), NULL), *idx3 = kt_i64(KT_DIMS(3), NULL);
    /* linear: rows 3 and 4 of a 4-row cache */
    run_ts(NULL, false, 0, 3, (kiln_tensor *[]){cache, upd, idx}, KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kn_error_message(), "write index 3"));
    run_ts(NULL, false, 0, 3, (kiln_tensor *[]){cache, upd, neg}, KILN_ERROR_ARGUMENT);
    /* the batch axis, an update longer than the cache, indices per batch */
    run_ts(NULL, true, 0, 3, (kiln_tensor *[]){cache, upd, idx}, KILN_ERROR_MODEL);
    run_ts(NULL, false, 0, 2, (kiln_tensor *[]){cache, long_upd}, KILN_ERROR_SHAPE);
    run_ts(NULL, false, 0, 3, (kiln_tensor *[]){cache, upd, idx3}, KILN_ERROR_SHAPE);
    run_ts("ring", false, 0, 3, (kiln_tensor *[]){cache, upd, idx}, KILN_ERROR_MODEL);
    kn_tensor_free(idx);
    kn_tensor_free(neg);
    kn_tensor_free(long_upd);
    kn_tensor_free(idx3);
    kn_tensor_free(cache);
    kn_tensor_free(upd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_and_default_indices),
        cmocka_unit_test(test_circular_wraps),
        cmocka_unit_test(test_heads_before_axis_int64),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
