/* Dropout: the inference identity (all opsets, masks of both types) and
 * training mode: numpy-compatible seeded masks (np.random.seed(s);
 * np.random.uniform(0, 1, n) >= ratio), scaling, reproducibility, fresh
 * masks without a seed, drop statistics, NaN/-0 semantics, float types
 * and refused inputs. */
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

static kiln_tensor *ones_f32(int64_t n)
{
    kiln_tensor *t = kt_f32(KT_DIMS(n), NULL);
    for (int64_t i = 0; i < n; i++)
        ((float *)t->data)[i] = 1.0f;
    return t;
}

static kiln_tensor *bool_scalar(bool v)
{
    uint8_t b = v;
    return kt_tensor(KILN_DTYPE_BOOL, 0, NULL, &b);
}

/* Runs Dropout (opset 13 unless noted) with x, ratio and training_mode;
 * frees the inputs; out[1] is the mask when n_out is 2. */
static kiln_status dropout(int opset, bool seeded, int64_t seed, kiln_tensor *x, kiln_tensor *ratio,
                           kiln_tensor *training, int n_out, kiln_tensor **out)
{
    kt_node *n = kt_node_new("Dropout", opset);
    if (seeded)
        kt_attr_int(n, "seed", seed);
    out[0] = out[1] = NULL;
    int n_in = training ? 3 : (ratio ? 2 : 1);
    kiln_status s = kt_run(n, n_in, (kiln_tensor *[]){x, ratio, training}, n_out, out);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(ratio);
    kn_tensor_free(training);
    return s;
}

static void test_inference_identity(void **state)
{
    (void)state;
    kiln_tensor *out[2];
    assert_int_equal(dropout(13, false, 0, iota_f32(KT_DIMS(2, 3)), kt_f32(0, NULL, (float[]){0.5f}), NULL, 2, out),
                     KILN_OK);
    for (int i = 0; i < 6; i++) {
        assert_true(((float *)out[0]->data)[i] == (float)i);
        assert_int_equal(((uint8_t *)out[1]->data)[i], 1);
    }
    assert_int_equal(out[1]->dtype, KILN_DTYPE_BOOL);
    kn_tensor_free(out[0]);
    kn_tensor_free(out[1]);
    /* training_mode false; integer data moves unchanged */
    assert_int_equal(dropout(12, true, 3, kt_i32(KT_DIMS(3), (int32_t[]){7, -8, 9}), NULL, bool_scalar(false), 1, out),
                     KILN_OK);
    kt_assert_i64_equal(out[0], (int64_t[]){7, -8, 9}, 3);
    kn_tensor_free(out[0]);
    /* opset 7: ratio attribute, mask of the input's type */
    kt_node *n = kt_node_new("Dropout", 7);
    kt_attr_float(n, "ratio", 0.2f);
    kiln_tensor *x = iota_f32(KT_DIMS(4));
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){x}, 2, out), KILN_OK);
    kt_assert_f32_close(out[0], (float[]){0, 1, 2, 3}, 4, 0, 0);
    kt_assert_f32_close(out[1], (float[]){1, 1, 1, 1}, 4, 0, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(out[1]);
    kn_tensor_free(x);
    kt_node_free(n);
    /* training with ratio 0 keeps everything */
    assert_int_equal(dropout(13, false, 0, iota_f32(KT_DIMS(3)), kt_f32(0, NULL, (float[]){0.0f}), bool_scalar(true),
                             1, out),
                     KILN_OK);
    kt_assert_f32_close(out[0], (float[]){0, 1, 2}, 3, 0, 0);
    kn_tensor_free(out[0]);
}

/* numpy: seed 0 -> 0.5488135, 0.71518937, 0.60276338, 0.54488318,
 * 0.4236548; seed 42 -> 0.37454012, 0.95071431, 0.73199394, 0.59865848,
 * 0.15601864. */
static void test_numpy_compatible_masks(void **state)
{
    (void)state;
    kiln_tensor *out[2];
    assert_int_equal(dropout(13, true, 0, ones_f32(5), kt_f32(0, NULL, (float[]){0.5f}), bool_scalar(true), 2, out),
                     KILN_OK);
    kt_assert_f32_close(out[0], (float[]){2, 2, 2, 2, 0}, 5, 0, 0);
    kt_assert_i64_equal(out[1], (int64_t[]){1, 1, 1, 1, 0}, 5);
    kn_tensor_free(out[0]);
    kn_tensor_free(out[1]);
    assert_int_equal(dropout(22, true, 0, ones_f32(5), kt_f32(0, NULL, (float[]){0.6f}), bool_scalar(true), 1, out),
                     KILN_OK);
    kt_assert_f32_close(out[0], (float[]){0, 2.5f, 2.5f, 0, 0}, 5, 1e-6, 0);
    kn_tensor_free(out[0]);
    assert_int_equal(dropout(13, true, 42, ones_f32(5), kt_f32(0, NULL, (float[]){0.5f}), bool_scalar(true), 1, out),
                     KILN_OK);
    kt_assert_f32_close(out[0], (float[]){0, 2, 2, 2, 0}, 5, 0, 0);
    kn_tensor_free(out[0]);
    /* ratio defaults to 0.5 when omitted */
    kiln_tensor *x = ones_f32(5);
    assert_int_equal(dropout(13, true, 42, x, NULL, bool_scalar(true), 1, out), KILN_OK);
    kt_assert_f32_close(out[0], (float[]){0, 2, 2, 2, 0}, 5, 0, 0);
    kn_tensor_free(out[0]);
}

static void test_statistics_and_reproducibility(void **state)
{
    (void)state;
    enum { N = 200000 };
    kiln_tensor *a[2], *b[2], *c[2];
    assert_int_equal(dropout(13, true, 7, ones_f32(N), kt_f32(0, NULL, (float[]){0.3f}), bool_scalar(true), 2, a),
                     KILN_OK);
    assert_int_equal(dropout(13, true, 7, ones_f32(N), kt_f32(0, NULL, (float[]){0.3f}), bool_scalar(true), 2, b),
                     KILN_OK);
    assert_memory_equal(a[0]->data, b[0]->data, a[0]->nbytes);
    int64_t kept = 0;
    const float scale = (float)(1.0 / (1.0 - (double)0.3f));
    for (int64_t i = 0; i < N; i++) {
        float v = ((float *)a[0]->data)[i];
        uint8_t m = ((uint8_t *)a[1]->data)[i];
        assert_true(m ? v == scale : v == 0.0f);
        kept += m;
    }
    /* 0.7 * N kept; 5 standard deviations is about 0.005 * N */
    assert_true(llabs(kept - (int64_t)(0.7 * N)) < N / 200);
    kn_tensor_free(b[0]);
    kn_tensor_free(b[1]);
    /* without a seed, two runs draw different masks */
    assert_int_equal(dropout(13, false, 0, ones_f32(N), kt_f32(0, NULL, (float[]){0.3f}), bool_scalar(true), 2, b),
                     KILN_OK);
    assert_int_equal(dropout(13, false, 0, ones_f32(N), kt_f32(0, NULL, (float[]){0.3f}), bool_scalar(true), 2, c),
                     KILN_OK);
    assert_true(memcmp(b[1]->data, c[1]->data, N) != 0);
    for (int i = 0; i < 2; i++) {
        kn_tensor_free(a[i]);
        kn_tensor_free(b[i]);
        kn_tensor_free(c[i]);
    }
    /* a mask must never be computed once at plan time */
    assert_true(kn_op_find("", "Dropout", 13)->flags & KN_OP_NO_FOLD);
}

/* y = x * mask * scale: a dropped NaN stays NaN, a dropped negative is -0. */
static void test_nan_and_negative_zero(void **state)
{
    (void)state;
    kiln_tensor *out[2];
    /* seed 0, ratio 0.5: elements 4 and 6 are dropped */
    assert_int_equal(dropout(13, true, 0, kt_f32(KT_DIMS(7), (float[]){NAN, -1, 1, 1, -3, NAN, NAN}),
                             kt_f32(0, NULL, (float[]){0.5f}), bool_scalar(true), 2, out),
                     KILN_OK);
    const float *y = out[0]->data;
    const uint8_t *m = out[1]->data;
    assert_true(isnan(y[0]) && y[1] == -2.0f);
    assert_int_equal(m[4], 0);
    assert_true(y[4] == 0.0f && signbit(y[4]));
    assert_true(isnan(y[5]));
    assert_int_equal(m[6], 0);
    assert_true(isnan(y[6]));
    kn_tensor_free(out[0]);
    kn_tensor_free(out[1]);
}

static void test_float_types(void **state)
{
    (void)state;
    kiln_tensor *out[2];
    double xd[5] = {1, 2, 3, 4, 5};
    assert_int_equal(dropout(13, true, 0, kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(5), xd),
                             kt_tensor(KILN_DTYPE_DOUBLE, 0, NULL, (double[]){0.5}), bool_scalar(true), 1, out),
                     KILN_OK);
    const double want[5] = {2, 4, 6, 8, 0};
    for (int i = 0; i < 5; i++)
        assert_true(((double *)out[0]->data)[i] == want[i]);
    kn_tensor_free(out[0]);
    uint16_t h[5];
    for (int i = 0; i < 5; i++)
        h[i] = kn_float_to_half((float)xd[i]);
    assert_int_equal(dropout(13, true, 0, kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(5), h),
                             kt_f32(0, NULL, (float[]){0.5f}), bool_scalar(true), 1, out),
                     KILN_OK);
    for (int i = 0; i < 5; i++)
        assert_true(kn_half_to_float(((uint16_t *)out[0]->data)[i]) == (float)want[i]);
    kn_tensor_free(out[0]);
    /* empty input */
    assert_int_equal(dropout(13, true, 0, kt_f32(KT_DIMS(0, 2), NULL), NULL, bool_scalar(true), 2, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(0, 2));
    kt_assert_shape(out[1], KT_DIMS(0, 2));
    kn_tensor_free(out[0]);
    kn_tensor_free(out[1]);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *out[2];
    assert_int_equal(dropout(13, true, 0, ones_f32(3), kt_f32(0, NULL, (float[]){1.0f}), bool_scalar(true), 1, out),
                     KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kiln_last_error(), "ratio"));
    assert_int_equal(dropout(13, true, 0, ones_f32(3), kt_f32(0, NULL, (float[]){-0.25f}), bool_scalar(true), 1, out),
                     KILN_ERROR_ARGUMENT);
    assert_int_equal(dropout(13, true, 0, ones_f32(3), kt_f32(0, NULL, (float[]){NAN}), bool_scalar(true), 1, out),
                     KILN_ERROR_ARGUMENT);
    assert_int_equal(dropout(13, true, 0, ones_f32(3), kt_f32(KT_DIMS(2), NULL), bool_scalar(true), 1, out),
                     KILN_ERROR_SHAPE);
    assert_int_equal(dropout(13, true, 0, ones_f32(3), kt_f32(0, NULL, (float[]){0.5f}),
                             kt_f32(0, NULL, (float[]){1.0f}), 1, out),
                     KILN_ERROR_DTYPE);
    assert_int_equal(dropout(13, true, 0, ones_f32(3), kt_i64(0, NULL, (int64_t[]){0}), bool_scalar(true), 1, out),
                     KILN_ERROR_DTYPE);
    /* random masks on integers are not defined */
    assert_int_equal(dropout(13, true, 0, kt_i32(KT_DIMS(3), NULL), NULL, bool_scalar(true), 1, out),
                     KILN_ERROR_UNSUPPORTED);
    /* training_mode is an opset 12 input */
    assert_int_equal(dropout(11, false, 0, ones_f32(3), kt_f32(0, NULL, (float[]){0.5f}), NULL, 1, out),
                     KILN_ERROR_MODEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inference_identity),
        cmocka_unit_test(test_numpy_compatible_masks),
        cmocka_unit_test(test_statistics_and_reproducibility),
        cmocka_unit_test(test_nan_and_negative_zero),
        cmocka_unit_test(test_float_types),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
