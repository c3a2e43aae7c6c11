/* BitwiseAnd/Or/Xor/Not (opset 18) on every integer type with numpy
 * broadcasting, and BitCast (opset 26): bit patterns kept, same-width rule,
 * scalars, empty tensors, refused types. */
#include "harness.h"

#include <math.h>

static kiln_status run_op(kt_node *n, int n_in, kiln_tensor **in, kiln_tensor **y)
{
    *y = NULL;
    kiln_status s = kt_run(n, n_in, in, 1, y);
    kt_node_free(n);
    for (int i = 0; i < n_in; i++)
        kn_tensor_free(in[i]);
    return s;
}

static kiln_tensor *binop(const char *op, kiln_tensor *a, kiln_tensor *b)
{
    kiln_tensor *y;
    kiln_status s = run_op(kt_node_new(op, 18), 2, (kiln_tensor *[]){a, b}, &y);
    if (s != KILN_OK)
        fail_msg("%s: %s", op, kiln_last_error());
    return y;
}

static void test_hand_computed_int32(void **state)
{
    (void)state;
    const int32_t a[4] = {0x0F0F, -1, 12, INT32_MIN}, b[4] = {0x00FF, 0x1234, 10, -1};
    kiln_tensor *y = binop("BitwiseAnd", kt_i32(KT_DIMS(4), a), kt_i32(KT_DIMS(4), b));
    assert_int_equal(y->dtype, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y, (int64_t[]){0x000F, 0x1234, 8, INT32_MIN}, 4);
    kn_tensor_free(y);
    y = binop("BitwiseOr", kt_i32(KT_DIMS(4), a), kt_i32(KT_DIMS(4), b));
    kt_assert_i64_equal(y, (int64_t[]){0x0FFF, -1, 14, -1}, 4);
    kn_tensor_free(y);
    y = binop("BitwiseXor", kt_i32(KT_DIMS(4), a), kt_i32(KT_DIMS(4), b));
    kt_assert_i64_equal(y, (int64_t[]){0x0FF0, ~0x1234, 6, INT32_MAX}, 4);
    kn_tensor_free(y);
    y = NULL;
    assert_int_equal(run_op(kt_node_new("BitwiseNot", 18), 1, (kiln_tensor *[]){kt_i32(KT_DIMS(4), a)}, &y), KILN_OK);
    kt_assert_i64_equal(y, (int64_t[]){~0x0F0F, 0, -13, INT32_MAX}, 4);
    kn_tensor_free(y);
}

/* Every integer type against a byte-wise reference, broadcasting [2,3] with
 * [3] and with a scalar. */
static void test_all_types_broadcast(void **state)
{
    (void)state;
    static const kiln_dtype types[] = {KILN_DTYPE_INT8,  KILN_DTYPE_INT16,  KILN_DTYPE_INT32,  KILN_DTYPE_INT64,
                                       KILN_DTYPE_UINT8, KILN_DTYPE_UINT16, KILN_DTYPE_UINT32, KILN_DTYPE_UINT64};
    static const char *ops[] = {"BitwiseAnd", "BitwiseOr", "BitwiseXor"};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        size_t es = kiln_dtype_size(types[t]);
        unsigned char a[6 * 8], b[3 * 8];
        for (size_t i = 0; i < sizeof a; i++)
            a[i] = (unsigned char)(i * 37 + 11);
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(i * 91 + 200);
        for (int o = 0; o < 3; o++) {
            for (int scalar = 0; scalar < 2; scalar++) {
                kiln_tensor *bt = scalar ? kt_tensor(types[t], 0, NULL, b) : kt_tensor(types[t], KT_DIMS(3), b);
                kiln_tensor *y = binop(ops[o], kt_tensor(types[t], KT_DIMS(2, 3), a), bt);
                kt_assert_shape(y, KT_DIMS(2, 3));
                assert_int_equal(y->dtype, types[t]);
                const unsigned char *yv = y->data;
                for (size_t i = 0; i < 6 * es; i++) {
                    unsigned char x = a[i], z = b[scalar ? i % es : i % (3 * es)];
                    unsigned char want = o == 0 ? (x & z) : o == 1 ? (x | z) : (x ^ z);
                    assert_int_equal(yv[i], want);
                }
                kn_tensor_free(y);
            }
        }
        kiln_tensor *y = NULL;
        assert_int_equal(
            run_op(kt_node_new("BitwiseNot", 18), 1, (kiln_tensor *[]){kt_tensor(types[t], KT_DIMS(2, 3), a)}, &y),
            KILN_OK);
        for (size_t i = 0; i < 6 * es; i++)
            assert_int_equal(((unsigned char *)y->data)[i], (unsigned char)~a[i]);
        kn_tensor_free(y);
    }
}

static void test_bitwise_empty_and_errors(void **state)
{
    (void)state;
    kiln_tensor *y = binop("BitwiseXor", kt_i64(KT_DIMS(0, 3), NULL), kt_i64(KT_DIMS(1, 3), NULL));
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);
    /* floats and bools have no bits to operate on here */
    assert_int_equal(run_op(kt_node_new("BitwiseAnd", 18), 2, (kiln_tensor *[]){kt_f32(KT_DIMS(2), NULL),
                                                                                  kt_f32(KT_DIMS(2), NULL)}, &y),
                     KILN_ERROR_DTYPE);
    assert_int_equal(run_op(kt_node_new("BitwiseNot", 18), 1,
                            (kiln_tensor *[]){kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), NULL)}, &y),
                     KILN_ERROR_DTYPE);
    /* mixed types and shapes that do not broadcast */
    assert_int_equal(run_op(kt_node_new("BitwiseOr", 18), 2, (kiln_tensor *[]){kt_i32(KT_DIMS(2), NULL),
                                                                                 kt_i64(KT_DIMS(2), NULL)}, &y),
                     KILN_ERROR_DTYPE);
    assert_int_equal(run_op(kt_node_new("BitwiseOr", 18), 2, (kiln_tensor *[]){kt_i32(KT_DIMS(2), NULL),
                                                                                 kt_i32(KT_DIMS(3), NULL)}, &y),
                     KILN_ERROR_SHAPE);
    assert_null(kn_op_find("", "BitwiseAnd", 17));
}

/* ---- BitCast -------------------------------------------------------------- */

static kiln_status bitcast(int64_t to, kiln_tensor *x, kiln_tensor **y)
{
    kt_node *n = kt_node_new("BitCast", 26);
    kt_attr_int(n, "to", to);
    return run_op(n, 1, (kiln_tensor *[]){x}, y);
}

static void test_bitcast_patterns(void **state)
{
    (void)state;
    kiln_tensor *y;
    assert_int_equal(bitcast(KILN_DTYPE_INT32, kt_f32(KT_DIMS(2, 2), (float[]){1.0f, -2.5f, 0.0f, -0.0f}), &y),
                     KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_i64_equal(y, (int64_t[]){0x3F800000, (int32_t)0xC0200000u, 0, INT32_MIN}, 4);
    kn_tensor_free(y);
    /* NaN payloads survive, which a value cast could not promise */
    assert_int_equal(bitcast(KILN_DTYPE_FLOAT, kt_i32(0, NULL, (int32_t[]){0x7FC01234}), &y), KILN_OK);
    kt_assert_shape(y, 0, NULL);
    uint32_t bits;
    memcpy(&bits, y->data, 4);
    assert_int_equal(bits, 0x7FC01234u);
    kn_tensor_free(y);
    assert_int_equal(bitcast(KILN_DTYPE_FLOAT16, kt_tensor(KILN_DTYPE_INT16, KT_DIMS(1), (int16_t[]){0x3C00}), &y),
                     KILN_OK);
    assert_true(kn_half_to_float(((uint16_t *)y->data)[0]) == 1.0f);
    kn_tensor_free(y);
    uint64_t u = 0x8000000000000000ull;
    assert_int_equal(bitcast(KILN_DTYPE_DOUBLE, kt_tensor(KILN_DTYPE_UINT64, KT_DIMS(1), &u), &y), KILN_OK);
    assert_true(((double *)y->data)[0] == 0.0 && signbit(((double *)y->data)[0]));
    kn_tensor_free(y);
    assert_int_equal(bitcast(KILN_DTYPE_UINT8, kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(3), (uint8_t[]){1, 0, 1}), &y),
                     KILN_OK);
    kt_assert_i64_equal(y, (int64_t[]){1, 0, 1}, 3);
    kn_tensor_free(y);
    assert_int_equal(bitcast(KILN_DTYPE_INT8, kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(0), NULL), &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(0));
    kn_tensor_free(y);
}

static void test_bitcast_errors(void **state)
{
    (void)state;
    kiln_tensor *y;
    assert_int_equal(bitcast(KILN_DTYPE_INT64, kt_f32(KT_DIMS(2), NULL), &y), KILN_ERROR_DTYPE);
    assert_non_null(strstr(kn_error_message(), "bit width"));
    assert_int_equal(bitcast(KILN_DTYPE_STRING, kt_f32(KT_DIMS(2), NULL), &y), KILN_ERROR_MODEL);
    assert_int_equal(bitcast(0, kt_f32(KT_DIMS(2), NULL), &y), KILN_ERROR_MODEL);
    assert_int_equal(bitcast(17, kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(2), NULL), &y), KILN_ERROR_UNSUPPORTED);
    assert_int_equal(bitcast(1000, kt_f32(KT_DIMS(2), NULL), &y), KILN_ERROR_UNSUPPORTED);
    /* 'to' is required */
    assert_int_equal(run_op(kt_node_new("BitCast", 26), 1, (kiln_tensor *[]){kt_f32(KT_DIMS(2), NULL)}, &y),
                     KILN_ERROR_MODEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed_int32), cmocka_unit_test(test_all_types_broadcast),
        cmocka_unit_test(test_bitwise_empty_and_errors), cmocka_unit_test(test_bitcast_patterns),
        cmocka_unit_test(test_bitcast_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
