/* Constant, ConstantOfShape, Cast, CastLike, Pad. Expected Pad values come
 * from numpy.pad on the same inputs. */
#include "harness.h"

#include <math.h>

static const float X12[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; /* arange(12).reshape(3,4) */

static kiln_status run1(kt_node *n, int n_in, kiln_tensor *const *in, kiln_tensor **out)
{
    return kt_run(n, n_in, in, 1, out);
}

/* ---- Constant ------------------------------------------------------------ */

static void test_constant_tensor(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Constant", 13);
    kiln_tensor *v = kt_f32(KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    kt_attr_tensor(n, "value", v);
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 0, NULL, &out), KILN_OK);
    kt_assert_tensors_close(out, v, 0, 0);
    kn_tensor_free(out);
    kn_tensor_free(v);
    kt_node_free(n);
}

static void test_constant_value_float_and_ints(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Constant", 13);
    kt_attr_float(n, "value_float", 2.5f);
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 0, NULL, &out), KILN_OK);
    assert_int_equal(out->rank, 0);
    kt_assert_f32_close(out, (float[]){2.5f}, 1, 0, 0);
    kn_tensor_free(out);
    kt_node_free(n);

    n = kt_node_new("Constant", 13);
    kt_attr_ints(n, "value_ints", (int64_t[]){-3, 0, 7}, 3);
    assert_int_equal(run1(n, 0, NULL, &out), KILN_OK);
    assert_int_equal(out->dtype, KILN_DTYPE_INT64);
    kt_assert_shape(out, KT_DIMS(3));
    kt_assert_i64_equal(out, (int64_t[]){-3, 0, 7}, 3);
    kn_tensor_free(out);
    kt_node_free(n);

    n = kt_node_new("Constant", 13);
    kt_attr_int(n, "value_int", 42);
    assert_int_equal(run1(n, 0, NULL, &out), KILN_OK);
    assert_int_equal(out->rank, 0);
    kt_assert_i64_equal(out, (int64_t[]){42}, 1);
    kn_tensor_free(out);
    kt_node_free(n);
}

static void test_constant_errors(void **state)
{
    (void)state;
    kiln_tensor *out = NULL;
    kt_node *n = kt_node_new("Constant", 13);
    assert_int_equal(run1(n, 0, NULL, &out), KILN_ERROR_MODEL);
    kt_node_free(n);

    n = kt_node_new("Constant", 13);
    kt_attr_float(n, "value_float", 1.0f);
    kt_attr_int(n, "value_int", 1);
    assert_int_equal(run1(n, 0, NULL, &out), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "value_int"));
    kt_node_free(n);

    /* value_string works (test_string_move.c), but must be a string */
    n = kt_node_new("Constant", 13);
    kt_attr_int(n, "value_string", 1);
    assert_int_equal(run1(n, 0, NULL, &out), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "value_string"));
    kt_node_free(n);
}

/* ---- ConstantOfShape ------------------------------------------------------- */

static void test_constant_of_shape_default(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("ConstantOfShape", 9);
    kiln_tensor *shape = kt_i64(KT_DIMS(2), (int64_t[]){3, 5});
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 1, &shape, &out), KILN_OK);
    assert_int_equal(out->dtype, KILN_DTYPE_FLOAT);
    kt_assert_shape(out, KT_DIMS(3, 5));
    float zeros[15] = {0};
    kt_assert_f32_close(out, zeros, 15, 0, 0);
    kn_tensor_free(out);
    kn_tensor_free(shape);
    kt_node_free(n);
}

static void test_constant_of_shape_value(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("ConstantOfShape", 9);
    kiln_tensor *v = kt_i32(KT_DIMS(1), (int32_t[]){-7});
    kt_attr_tensor(n, "value", v);
    kiln_tensor *shape = kt_i64(KT_DIMS(3), (int64_t[]){2, 1, 3});
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 1, &shape, &out), KILN_OK);
    assert_int_equal(out->dtype, KILN_DTYPE_INT32);
    kt_assert_shape(out, KT_DIMS(2, 1, 3));
    kt_assert_i64_equal(out, (int64_t[]){-7, -7, -7, -7, -7, -7}, 6);
    kn_tensor_free(out);
    kn_tensor_free(shape);

    /* empty shape -> scalar; a zero dim -> empty tensor */
    shape = kt_i64(KT_DIMS(0), NULL);
    assert_int_equal(run1(n, 1, &shape, &out), KILN_OK);
    assert_int_equal(out->rank, 0);
    kt_assert_i64_equal(out, (int64_t[]){-7}, 1);
    kn_tensor_free(out);
    kn_tensor_free(shape);
    shape = kt_i64(KT_DIMS(2), (int64_t[]){4, 0});
    assert_int_equal(run1(n, 1, &shape, &out), KILN_OK);
    kt_assert_shape(out, KT_DIMS(4, 0));
    kn_tensor_free(out);
    kn_tensor_free(shape);

    shape = kt_i64(KT_DIMS(2), (int64_t[]){4, -1});
    assert_int_equal(run1(n, 1, &shape, &out), KILN_ERROR_SHAPE);
    kn_tensor_free(shape);
    kn_tensor_free(v);
    kt_node_free(n);
}

static void test_constant_of_shape_bad_value(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("ConstantOfShape", 9);
    kiln_tensor *v = kt_f32(KT_DIMS(2), (float[]){1, 2});
    kt_attr_tensor(n, "value", v);
    kiln_tensor *shape = kt_i64(KT_DIMS(1), (int64_t[]){3});
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 1, &shape, &out), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "value"));
    kn_tensor_free(shape);
    kn_tensor_free(v);
    kt_node_free(n);
}

/* ---- Cast ------------------------------------------------------------------ */

static kiln_tensor *cast(kiln_tensor *x, kiln_dtype to)
{
    kt_node *n = kt_node_new("Cast", 13);
    kt_attr_int(n, "to", to);
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 1, &x, &out), KILN_OK);
    assert_int_equal(out->dtype, to);
    kt_assert_shape(out, x->rank, x->dims);
    kt_node_free(n);
    return out;
}

static void test_cast_float_to_int_truncates_and_saturates(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(9), (float[]){1.9f, -1.9f, 0.5f, -0.5f, NAN, INFINITY, -INFINITY, 3e9f, -3e9f});
    kiln_tensor *y = cast(x, KILN_DTYPE_INT32);
    const int32_t *d = y->data;
    int32_t want[9] = {1, -1, 0, 0, 0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN};
    for (int i = 0; i < 9; i++)
        assert_int_equal(d[i], want[i]);
    kn_tensor_free(y);

    y = cast(x, KILN_DTYPE_UINT8);
    const uint8_t *u = y->data;
    uint8_t want_u8[9] = {1, 0, 0, 0, 0, 255, 0, 255, 0};
    for (int i = 0; i < 9; i++)
        assert_int_equal(u[i], want_u8[i]);
    kn_tensor_free(y);

    y = cast(x, KILN_DTYPE_INT64);
    kt_assert_i64_equal(y, (int64_t[]){1, -1, 0, 0, 0, INT64_MAX, INT64_MIN, 3000000000LL, -3000000000LL}, 9);
    kn_tensor_free(y);

    y = cast(x, KILN_DTYPE_BOOL);
    const uint8_t *b = y->data;
    uint8_t want_b[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int i = 0; i < 9; i++)
        assert_int_equal(b[i], want_b[i]);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_cast_half_and_bfloat(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(5), (float[]){1.0f, -2.5f, 65504.0f, 1e6f, 0.1f});
    kiln_tensor *h = cast(x, KILN_DTYPE_FLOAT16);
    const uint16_t *hd = h->data;
    assert_int_equal(hd[0], 0x3C00);
    assert_int_equal(hd[1], 0xC100);
    assert_int_equal(hd[2], 0x7BFF);
    assert_int_equal(hd[3], 0x7C00); /* overflow -> inf */
    kiln_tensor *back = cast(h, KILN_DTYPE_FLOAT);
    kt_assert_f32_close(back, (float[]){1.0f, -2.5f, 65504.0f, INFINITY, 0.1f}, 5, 1e-3, 0);
    kn_tensor_free(back);
    kn_tensor_free(h);

    kiln_tensor *bf = cast(x, KILN_DTYPE_BFLOAT16);
    const uint16_t *bd = bf->data;
    assert_int_equal(bd[0], 0x3F80);
    assert_int_equal(bd[1], 0xC020);
    back = cast(bf, KILN_DTYPE_FLOAT);
    kt_assert_f32_close(back, (float[]){1.0f, -2.5f, 65536.0f, 999424.0f, 0.10009765625f}, 5, 0, 0);
    kn_tensor_free(back);
    kn_tensor_free(bf);
    kn_tensor_free(x);
}

/* A double just above a float16 rounding tie: rounding through float32
 * first would land on the tie and round to even (down). */
static void test_cast_double_to_half_rounds_once(void **state)
{
    (void)state;
    double v = 1.0 + ldexp(1.0, -11) + ldexp(1.0, -40);
    kiln_tensor *x = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1), &v);
    kiln_tensor *h = cast(x, KILN_DTYPE_FLOAT16);
    assert_int_equal(((const uint16_t *)h->data)[0], 0x3C01);
    kn_tensor_free(h);
    kn_tensor_free(x);
}

static void test_cast_integers(void **state)
{
    (void)state;
    kiln_tensor *x = kt_i64(KT_DIMS(4), (int64_t[]){300, -1, 0, 4294967297LL});
    kiln_tensor *y = cast(x, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y, (int64_t[]){300, -1, 0, 1}, 4); /* wraps modulo 2^32 */
    kn_tensor_free(y);
    y = cast(x, KILN_DTYPE_UINT8);
    const uint8_t *u = y->data;
    assert_int_equal(u[0], 44);
    assert_int_equal(u[1], 255);
    kn_tensor_free(y);
    y = cast(x, KILN_DTYPE_BOOL);
    const uint8_t *b = y->data;
    assert_int_equal(b[0], 1);
    assert_int_equal(b[2], 0);
    kn_tensor_free(y);
    y = cast(x, KILN_DTYPE_FLOAT);
    kt_assert_f32_close(y, (float[]){300, -1, 0, 4294967297.0f}, 4, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);

    uint64_t big = UINT64_MAX;
    x = kt_tensor(KILN_DTYPE_UINT64, KT_DIMS(1), &big);
    y = cast(x, KILN_DTYPE_DOUBLE);
    assert_true(((const double *)y->data)[0] == 18446744073709551616.0);
    kn_tensor_free(y);
    kn_tensor_free(x);

    uint8_t flags[3] = {0, 1, 1};
    x = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(3), flags);
    y = cast(x, KILN_DTYPE_FLOAT);
    kt_assert_f32_close(y, (float[]){0, 1, 1}, 3, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_cast_empty_and_same(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(0, 3), NULL);
    kiln_tensor *y = cast(x, KILN_DTYPE_INT64);
    assert_int_equal(kn_tensor_count(y), 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    x = kt_f32(KT_DIMS(2), (float[]){1.5f, -0.0f});
    y = cast(x, KILN_DTYPE_FLOAT);
    kt_assert_tensors_close(y, x, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_cast_unsupported(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2), NULL);
    kiln_tensor *out = NULL;
    kt_node *n = kt_node_new("Cast", 25);
    kt_attr_int(n, "to", 27); /* newer than kiln */
    assert_int_equal(run1(n, 1, &x, &out), KILN_ERROR_UNSUPPORTED);
    kt_node_free(n);
    n = kt_node_new("Cast", 25);
    kt_attr_int(n, "to", KILN_DTYPE_FLOAT8E8M0);
    kt_attr_string(n, "round_mode", "sideways");
    assert_int_equal(run1(n, 1, &x, &out), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "round_mode 'sideways'"));
    kt_node_free(n);
    n = kt_node_new("Cast", 13);
    assert_int_equal(run1(n, 1, &x, &out), KILN_ERROR_MODEL); /* missing 'to' */
    kt_node_free(n);
    kn_tensor_free(x);
}

static void test_castlike(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("CastLike", 15);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(3), (float[]){2.7f, -2.7f, 0}), kt_i64(KT_DIMS(1), NULL)};
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 2, in, &out), KILN_OK);
    assert_int_equal(out->dtype, KILN_DTYPE_INT64);
    kt_assert_i64_equal(out, (int64_t[]){2, -2, 0}, 3);
    kn_tensor_free(out);
    kn_tensor_free(in[0]);
    kn_tensor_free(in[1]);
    kt_node_free(n);
}

/* ---- Cast with the narrow types --------------------------------------------- */

static kiln_tensor *cast_to(kiln_tensor *x, int64_t to, int saturate, const char *round_mode)
{
    kt_node *n = kt_node_new("Cast", 25);
    kt_attr_int(n, "to", to);
    if (saturate >= 0)
        kt_attr_int(n, "saturate", saturate);
    if (round_mode)
        kt_attr_string(n, "round_mode", round_mode);
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 1, &x, &out), KILN_OK);
    assert_int_equal(out->dtype, (kiln_dtype)to);
    kt_node_free(n);
    return out;
}

static void assert_bytes(const kiln_tensor *t, const uint8_t *want, size_t n)
{
    assert_int_equal(t->nbytes, n);
    for (size_t i = 0; i < n; i++)
        if (((const uint8_t *)t->data)[i] != want[i])
            fail_msg("byte %zu: got 0x%02x, expected 0x%02x", i, ((const uint8_t *)t->data)[i], want[i]);
}

static void test_cast_float8_saturate(void **state)
{
    (void)state;
    /* 1, 1e6, inf, -inf, NaN, -1e-7, 464 (a tie that stays 448 in e4m3fn) */
    kiln_tensor *x = kt_f32(KT_DIMS(7), (float[]){1.0f, 1e6f, INFINITY, -INFINITY, NAN, -1e-7f, 464.0f});
    kiln_tensor *y = cast_to(x, KILN_DTYPE_FLOAT8E4M3FN, -1, NULL); /* saturate defaults to 1 */
    assert_bytes(y, (uint8_t[]){0x38, 0x7e, 0x7e, 0xfe, 0x7f, 0x80, 0x7e}, 7);
    kn_tensor_free(y);
    y = cast_to(x, KILN_DTYPE_FLOAT8E4M3FN, 0, NULL);
    assert_bytes(y, (uint8_t[]){0x38, 0x7f, 0x7f, 0xff, 0x7f, 0x80, 0x7e}, 7);
    kn_tensor_free(y);
    y = cast_to(x, KILN_DTYPE_FLOAT8E5M2, 0, NULL);
    assert_bytes(y, (uint8_t[]){0x3c, 0x7c, 0x7c, 0xfc, 0x7e, 0x80, 0x5f}, 7);
    kn_tensor_free(y);
    y = cast_to(x, KILN_DTYPE_FLOAT8E4M3FNUZ, 0, NULL);
    assert_bytes(y, (uint8_t[]){0x40, 0x80, 0x80, 0x80, 0x80, 0x00, 0x80}, 7);
    kn_tensor_free(y);
    y = cast_to(x, KILN_DTYPE_FLOAT8E5M2FNUZ, 1, NULL);
    assert_bytes(y, (uint8_t[]){0x40, 0x7f, 0x7f, 0xff, 0x80, 0x00, 0x63}, 7);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_cast_float8_sources_and_double_rounding(void **state)
{
    (void)state;
    /* float8 -> float is exact, NaN codes become NaN */
    kiln_tensor *x = kt_tensor(KILN_DTYPE_FLOAT8E5M2, KT_DIMS(4), (uint8_t[]){0x3c, 0x01, 0xfc, 0x7f});
    kiln_tensor *y = cast_to(x, KILN_DTYPE_FLOAT, -1, NULL);
    const float *f = y->data;
    assert_true(f[0] == 1.0f && f[1] == ldexpf(1, -16) && isinf(f[2]) && f[2] < 0 && isnan(f[3]));
    kn_tensor_free(y);
    /* float8 -> float8 goes through the exact value: e5m2 inf saturates to e4m3fn's max */
    y = cast_to(x, KILN_DTYPE_FLOAT8E4M3FN, 1, NULL);
    assert_bytes(y, (uint8_t[]){0x38, 0x00, 0xfe, 0x7f}, 4);
    kn_tensor_free(y);
    /* float8 -> int: truncation like every float source */
    kn_tensor_free(x);
    x = kt_tensor(KILN_DTYPE_FLOAT4E2M1, KT_DIMS(3), (uint8_t[]){0x5, 0xd, 0x1});
    y = cast_to(x, KILN_DTYPE_INT32, -1, NULL);
    assert_int_equal(((int32_t *)y->data)[0], 3);
    assert_int_equal(((int32_t *)y->data)[1], -3);
    assert_int_equal(((int32_t *)y->data)[2], 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    /* double just above the e4m3fn midpoint 1.0625: rounding to float32
     * first would land on the tie and give 1.0 */
    double d[2] = {1.0625 + 1e-12, 1.0625};
    x = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2), d);
    y = cast_to(x, KILN_DTYPE_FLOAT8E4M3FN, 1, NULL);
    assert_bytes(y, (uint8_t[]){0x39, 0x38}, 2);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_cast_small_ints(void **state)
{
    (void)state;
    /* floats round half to even, then wrap: 2.5->2, 3.5->4->-4 (int4: 4 fits), -9->7, 15->-1 */
    kiln_tensor *x = kt_f32(KT_DIMS(6), (float[]){2.5f, 3.5f, -9.0f, 15.0f, NAN, -0.5f});
    kiln_tensor *y = cast_to(x, KILN_DTYPE_INT4, -1, NULL);
    const int8_t *v = y->data;
    int8_t want4[6] = {2, 4, 7, -1, 0, 0};
    for (int i = 0; i < 6; i++)
        assert_int_equal(v[i], want4[i]);
    kn_tensor_free(y);
    y = cast_to(x, KILN_DTYPE_UINT2, -1, NULL);
    assert_bytes(y, (uint8_t[]){2, 0, 3, 3, 0, 0}, 6);
    kn_tensor_free(y);
    kn_tensor_free(x);
    /* integer sources keep the low bits */
    x = kt_i64(KT_DIMS(4), (int64_t[]){7, 8, -3, 300});
    y = cast_to(x, KILN_DTYPE_INT2, -1, NULL);
    const int8_t *w = y->data;
    int8_t want2[4] = {-1, 0, 1, 0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i], want2[i]);
    kn_tensor_free(x);
    /* and back: int2 -> int64 sign-extends, uint4 -> float is exact */
    x = y;
    y = cast_to(x, KILN_DTYPE_INT64, -1, NULL);
    kt_assert_i64_equal(y, (int64_t[]){-1, 0, 1, 0}, 4);
    kn_tensor_free(y);
    kn_tensor_free(x);
    x = kt_tensor(KILN_DTYPE_UINT4, KT_DIMS(2), (uint8_t[]){15, 9});
    y = cast_to(x, KILN_DTYPE_FLOAT16, -1, NULL);
    assert_true(kn_half_to_float(((uint16_t *)y->data)[0]) == 15.0f);
    assert_true(kn_half_to_float(((uint16_t *)y->data)[1]) == 9.0f);
    kn_tensor_free(y);
    y = cast_to(x, KILN_DTYPE_BOOL, -1, NULL);
    assert_bytes(y, (uint8_t[]){1, 1}, 2);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_cast_e8m0_round_modes(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(4), (float[]){1.1f, 1.5f, 3.0e38f, 0.0f});
    kiln_tensor *y = cast_to(x, KILN_DTYPE_FLOAT8E8M0, -1, NULL); /* "up", saturating */
    assert_bytes(y, (uint8_t[]){128, 128, 254, 0}, 4);
    kn_tensor_free(y);
    y = cast_to(x, KILN_DTYPE_FLOAT8E8M0, 1, "down");
    assert_bytes(y, (uint8_t[]){127, 127, 254, 0}, 4);
    kn_tensor_free(y);
    y = cast_to(x, KILN_DTYPE_FLOAT8E8M0, 0, "nearest");
    assert_bytes(y, (uint8_t[]){127, 128, 255, 0}, 4);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_castlike_narrow(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("CastLike", 25);
    kt_attr_int(n, "saturate", 0);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(2), (float[]){1e6f, 0.5f}),
                          kt_tensor(KILN_DTYPE_FLOAT8E4M3FN, KT_DIMS(1), (uint8_t[]){0})};
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 2, in, &out), KILN_OK);
    assert_int_equal(out->dtype, KILN_DTYPE_FLOAT8E4M3FN);
    assert_bytes(out, (uint8_t[]){0x7f, 0x30}, 2); /* saturate 0: overflow is NaN */
    kn_tensor_free(out);
    kn_tensor_free(in[0]);
    kn_tensor_free(in[1]);
    kt_node_free(n);
}

/* ---- Cast to and from STRING ---------------------------------------------- */

static kiln_tensor *strings(int64_t n, const char *const *v)
{
    kiln_tensor *t;
    assert_int_equal(kn_tensor_new(KILN_DTYPE_STRING, 1, &n, &t), KILN_OK);
    for (int64_t i = 0; i < n; i++)
        assert_non_null(((char **)t->data)[i] = kn_strdup(v[i]));
    return t;
}

static void assert_strings(const kiln_tensor *t, const char *const *want, int64_t n)
{
    assert_int_equal(t->dtype, KILN_DTYPE_STRING);
    assert_int_equal(kn_tensor_count(t), n);
    for (int64_t i = 0; i < n; i++)
        if (strcmp(((char *const *)t->data)[i], want[i]) != 0)
            fail_msg("element %lld: got \"%s\", expected \"%s\"", (long long)i, ((char *const *)t->data)[i],
                     want[i]);
}

static void test_cast_to_string(void **state)
{
    (void)state;
    /* numpy's str(): shortest round-trip digits, positional in [1e-4, 1e16) */
    kiln_tensor *x = kt_f32(KT_DIMS(12), (float[]){0.5f, 100.0f, 1e-5f, 1.5e16f, -0.0f, NAN, -INFINITY, 0.1f,
                                                   0.9767611f, 0.039187793f, 123456.79f, -2.5e-4f});
    kiln_tensor *y = cast_to(x, KILN_DTYPE_STRING, -1, NULL);
    assert_strings(y, (const char *[]){"0.5", "100.0", "1e-05", "1.5e+16", "-0.0", "nan", "-inf", "0.1",
                                       "0.9767611", "0.039187793", "123456.79", "-0.00025"},
                   12);
    kn_tensor_free(y);
    kn_tensor_free(x);
    /* digits as the source type needs them: float16 0.1 and double 0.1 */
    x = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2), (uint16_t[]){kn_float_to_half(0.1f), kn_float_to_half(65504.0f)});
    y = cast_to(x, KILN_DTYPE_STRING, -1, NULL);
    assert_strings(y, (const char *[]){"0.1", "65500.0"}, 2);
    kn_tensor_free(y);
    kn_tensor_free(x);
    x = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2), (double[]){0.1, 1.0 / 3.0});
    y = cast_to(x, KILN_DTYPE_STRING, -1, NULL);
    assert_strings(y, (const char *[]){"0.1", "0.3333333333333333"}, 2);
    kn_tensor_free(y);
    kn_tensor_free(x);
    x = kt_i64(KT_DIMS(2), (int64_t[]){-42, INT64_MAX});
    y = cast_to(x, KILN_DTYPE_STRING, -1, NULL);
    assert_strings(y, (const char *[]){"-42", "9223372036854775807"}, 2);
    kn_tensor_free(y);
    kn_tensor_free(x);
    x = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), (uint8_t[]){1, 0});
    y = cast_to(x, KILN_DTYPE_STRING, -1, NULL);
    assert_strings(y, (const char *[]){"True", "False"}, 2);
    kn_tensor_free(y);
    kn_tensor_free(x);
    x = kt_tensor(KILN_DTYPE_FLOAT8E4M3FN, KT_DIMS(2), (uint8_t[]){0x7e, 0x01});
    y = cast_to(x, KILN_DTYPE_STRING, -1, NULL);
    assert_strings(y, (const char *[]){"448.0", "0.001953125"}, 2); /* the exact value 2^-9 */
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_cast_from_string(void **state)
{
    (void)state;
    const char *in[] = {" 3.5 ", "1E8", "+INF", "-inf", "nAn", "-1e-5", "INF"};
    kiln_tensor *x = strings(7, in);
    kiln_tensor *y = cast_to(x, KILN_DTYPE_FLOAT, -1, NULL);
    const float *f = y->data;
    assert_true(f[0] == 3.5f && f[1] == 1e8f && isinf(f[2]) && f[2] > 0 && isinf(f[3]) && f[3] < 0);
    assert_true(isnan(f[4]) && f[5] == -1e-5f && isinf(f[6]));
    kn_tensor_free(y);
    kn_tensor_free(x);
    /* integers keep 64 bits; "100.5" to an integer truncates like a float */
    const char *ints[] = {"9007199254740993", "-7", "100.5"};
    x = strings(3, ints);
    y = cast_to(x, KILN_DTYPE_INT64, -1, NULL);
    kt_assert_i64_equal(y, (int64_t[]){9007199254740993LL, -7, 100}, 3);
    kn_tensor_free(y);
    /* string -> string copies */
    y = cast_to(x, KILN_DTYPE_STRING, -1, NULL);
    assert_strings(y, ints, 3);
    kn_tensor_free(y);
    kn_tensor_free(x);
    /* not a number: refused, naming the element */
    const char *bad[] = {"1", "twelve"};
    x = strings(2, bad);
    kt_node *n = kt_node_new("Cast", 13);
    kt_attr_int(n, "to", KILN_DTYPE_FLOAT);
    kiln_tensor *out = NULL;
    assert_int_equal(run1(n, 1, &x, &out), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kiln_last_error(), "element 1, \"twelve\", is not a number"));
    kt_node_free(n);
    kn_tensor_free(x);
    /* CastLike takes only the type of a string 'like' input */
    n = kt_node_new("CastLike", 15);
    kiln_tensor *cl[2] = {kt_f32(KT_DIMS(1), (float[]){2.25f}), strings(1, (const char *[]){"x"})};
    assert_int_equal(run1(n, 2, cl, &out), KILN_OK);
    assert_strings(out, (const char *[]){"2.25"}, 1);
    kn_tensor_free(out);
    kn_tensor_free(cl[0]);
    kn_tensor_free(cl[1]);
    kt_node_free(n);
}

/* ---- Pad ------------------------------------------------------------------- */

static kiln_tensor *pad_run_mode(const char *mode, kiln_tensor *x, const int64_t *pads, int npads,
                                 kiln_status want)
{
    kt_node *n = kt_node_new("Pad", 13);
    kt_attr_string(n, "mode", mode);
    kiln_tensor *in[2] = {x, kt_i64(KT_DIMS(npads), pads)};
    kiln_tensor *out = NULL;
    assert_int_equal(kt_run(n, 2, in, 1, &out), want);
    kn_tensor_free(in[1]);
    kt_node_free(n);
    return out;
}

static void test_pad_modes(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), X12);
    const int64_t pads[4] = {1, 2, 0, 1};
    kiln_tensor *y = pad_run_mode("reflect", x, pads, 4, KILN_OK);
    kt_assert_shape(y, KT_DIMS(4, 7));
    kt_assert_f32_close(y, (float[]){6, 5, 4, 5, 6, 7, 6, 2, 1, 0, 1, 2, 3, 2, 6, 5, 4, 5, 6, 7, 6, 10, 9, 8, 9, 10,
                                     11, 10},
                        28, 0, 0);
    kn_tensor_free(y);
    y = pad_run_mode("edge", x, pads, 4, KILN_OK);
    kt_assert_f32_close(y, (float[]){0, 0, 0, 1, 2, 3, 3, 0, 0, 0, 1, 2, 3, 3, 4, 4, 4, 5, 6, 7, 7, 8, 8, 8, 9, 10,
                                     11, 11},
                        28, 0, 0);
    kn_tensor_free(y);
    y = pad_run_mode("wrap", x, pads, 4, KILN_OK);
    kt_assert_f32_close(y, (float[]){10, 11, 8, 9, 10, 11, 8, 2, 3, 0, 1, 2, 3, 0, 6, 7, 4, 5, 6, 7, 4, 10, 11, 8,
                                     9, 10, 11, 8},
                        28, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

static void test_pad_constant_value(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Pad", 13);
    kiln_tensor *in[3] = {kt_f32(KT_DIMS(3, 4), X12), kt_i64(KT_DIMS(4), (int64_t[]){0, 1, 1, 0}),
                          kt_f32(0, NULL, (float[]){9})};
    kiln_tensor *out = NULL;
    assert_int_equal(kt_run(n, 3, in, 1, &out), KILN_OK);
    kt_assert_shape(out, KT_DIMS(4, 5));
    kt_assert_f32_close(out, (float[]){9, 0, 1, 2, 3, 9, 4, 5, 6, 7, 9, 8, 9, 10, 11, 9, 9, 9, 9, 9}, 20, 0, 0);
    kn_tensor_free(out);
    /* without constant_value the pad is zero */
    assert_int_equal(kt_run(n, 2, in, 1, &out), KILN_OK);
    kt_assert_f32_close(out, (float[]){0, 0, 1, 2, 3, 0, 4, 5, 6, 7, 0, 8, 9, 10, 11, 0, 0, 0, 0, 0}, 20, 0, 0);
    kn_tensor_free(out);
    for (int i = 0; i < 3; i++)
        kn_tensor_free(in[i]);
    kt_node_free(n);
}

/* Pads longer than the axis reflect periodically, as numpy does. */
static void test_pad_reflect_wide(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(3), (float[]){0, 1, 2});
    kiln_tensor *y = pad_run_mode("reflect", x, (int64_t[]){5, 4}, 2, KILN_OK);
    kt_assert_f32_close(y, (float[]){1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2}, 12, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

/* Negative pads crop first; edge then repeats the new border. */
static void test_pad_negative_crops(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), X12);
    kiln_tensor *y = pad_run_mode("edge", x, (int64_t[]){0, -1, 0, 1}, 4, KILN_OK);
    kt_assert_shape(y, KT_DIMS(3, 4));
    kt_assert_f32_close(y, (float[]){1, 2, 3, 3, 5, 6, 7, 7, 9, 10, 11, 11}, 12, 0, 0);
    kn_tensor_free(y);
    y = pad_run_mode("constant", x, (int64_t[]){-1, 0, -1, -2}, 4, KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 2));
    kt_assert_f32_close(y, (float[]){4, 5}, 2, 0, 0);
    kn_tensor_free(y);
    pad_run_mode("constant", x, (int64_t[]){-2, 0, -2, 0}, 4, KILN_ERROR_SHAPE);
    kn_tensor_free(x);
}

static void test_pad_axes_input(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Pad", 18);
    kiln_tensor *in[4] = {kt_f32(KT_DIMS(3, 4), X12), kt_i64(KT_DIMS(2), (int64_t[]){1, 0}),
                          kt_f32(0, NULL, (float[]){-1}), kt_i64(KT_DIMS(1), (int64_t[]){-1})};
    kiln_tensor *out = NULL;
    assert_int_equal(kt_run(n, 4, in, 1, &out), KILN_OK);
    kt_assert_shape(out, KT_DIMS(3, 5));
    kt_assert_f32_close(out, (float[]){-1, 0, 1, 2, 3, -1, 4, 5, 6, 7, -1, 8, 9, 10, 11}, 15, 0, 0);
    kn_tensor_free(out);
    for (int i = 0; i < 4; i++)
        kn_tensor_free(in[i]);
    kt_node_free(n);
}

static void test_pad_int_and_bool(void **state)
{
    (void)state;
    kiln_tensor *x = kt_i32(KT_DIMS(2, 2), (int32_t[]){1, 2, 3, 4});
    kiln_tensor *y = pad_run_mode("reflect", x, (int64_t[]){1, 1, 0, 0}, 4, KILN_OK);
    kt_assert_shape(y, KT_DIMS(3, 3));
    kt_assert_i64_equal(y, (int64_t[]){4, 3, 4, 2, 1, 2, 4, 3, 4}, 9);
    kn_tensor_free(y);
    kn_tensor_free(x);

    uint8_t b[2] = {1, 0};
    x = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), b);
    y = pad_run_mode("edge", x, (int64_t[]){2, 1}, 2, KILN_OK);
    const uint8_t *d = y->data;
    uint8_t want[5] = {1, 1, 1, 0, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(d[i], want[i]);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

/* Opset 2..10: pads and value attributes become inputs. */
static void test_pad_old_opset_upgrade(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Pad", 2);
    kt_attr_ints(n, "pads", (int64_t[]){0, 1, 1, 0}, 4);
    kt_attr_float(n, "value", 9.0f);
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), X12);
    kiln_tensor *out = NULL;
    assert_int_equal(kt_run(n, 1, &x, 1, &out), KILN_OK);
    assert_int_equal(kt_node_get(n)->opset, 11);
    assert_null(kn_node_attr(kt_node_get(n), "pads"));
    kt_assert_f32_close(out, (float[]){9, 0, 1, 2, 3, 9, 4, 5, 6, 7, 9, 8, 9, 10, 11, 9, 9, 9, 9, 9}, 20, 0, 0);
    kn_tensor_free(out);
    kt_node_free(n);

    n = kt_node_new("Pad", 2);
    kt_attr_ints(n, "pads", (int64_t[]){1, 2, 0, 1}, 4);
    kt_attr_string(n, "mode", "reflect");
    assert_int_equal(kt_run(n, 1, &x, 1, &out), KILN_OK);
    kt_assert_f32_close(out, (float[]){6, 5, 4, 5, 6, 7, 6, 2, 1, 0, 1, 2, 3, 2, 6, 5, 4, 5, 6, 7, 6, 10, 9, 8, 9,
                                       10, 11, 10},
                        28, 0, 0);
    kn_tensor_free(out);
    kt_node_free(n);
    kn_tensor_free(x);
}

static void test_pad_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), X12);
    pad_run_mode("constant", x, (int64_t[]){1, 1}, 2, KILN_ERROR_SHAPE); /* 2 pads for rank 2 */
    pad_run_mode("mirror", x, (int64_t[]){1, 1, 1, 1}, 4, KILN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(kiln_last_error(), "mirror"));
    kn_tensor_free(x);
    x = kt_f32(KT_DIMS(0, 2), NULL);
    pad_run_mode("edge", x, (int64_t[]){1, 0, 0, 0}, 4, KILN_ERROR_SHAPE);
    kiln_tensor *y = pad_run_mode("constant", x, (int64_t[]){1, 0, 0, 0}, 4, KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 2));
    kt_assert_f32_close(y, (float[]){0, 0}, 2, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
}

/* Rank 3 with an odd inner size: every axis padded at once. */
static void test_pad_rank3_constant(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 3, 17), 3, -1, 1);
    kiln_tensor *y = pad_run_mode("constant", x, (int64_t[]){1, 0, 2, 0, 1, 1}, 6, KILN_OK);
    kt_assert_shape(y, KT_DIMS(3, 4, 20));
    const float *xd = x->data, *yd = y->data;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 20; k++) {
                int si = i - 1, sj = j, sk = k - 2;
                float want = (si >= 0 && si < 2 && sj < 3 && sk >= 0 && sk < 17) ? xd[(si * 3 + sj) * 17 + sk] : 0.0f;
                assert_true(yd[(i * 4 + j) * 20 + k] == want);
            }
    kn_tensor_free(y);
    kn_tensor_free(x);
}

/* Pad: empty inputs grow by the pads (constant mode; edge and reflect have
 * nothing to copy from), negative axes, pads defaulting to no change. */
static void test_pad_edge_cases(void **state)
{
    (void)state;
    /* pads are [begin_0, begin_1, end_0, end_1] */
    kiln_tensor *e = kt_f32(KT_DIMS(0, 2), NULL);
    kiln_tensor *y = pad_run_mode("constant", e, (int64_t[]){1, 0, 1, 1}, 4, KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0);
    kn_tensor_free(y);
    assert_null(pad_run_mode("reflect", e, (int64_t[]){1, 0, 1, 0}, 4, KILN_ERROR_SHAPE));
    kn_tensor_free(e);
    /* all-zero pads: a copy */
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), X12);
    y = pad_run_mode("edge", x, (int64_t[]){0, 0, 0, 0}, 4, KILN_OK);
    kt_assert_f32_close(y, X12, 12, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    /* opset 18 axes [-2]: pads only the rows, edge mode */
    kt_node *n = kt_node_new("Pad", 18);
    kt_attr_string(n, "mode", "edge");
    kiln_tensor *in[4] = {kt_f32(KT_DIMS(2, 2), (float[]){1, 2, 3, 4}), kt_i64(KT_DIMS(2), (int64_t[]){1, 1}), NULL,
                          kt_i64(KT_DIMS(1), (int64_t[]){-2})};
    kiln_tensor *out = NULL;
    assert_int_equal(kt_run(n, 4, in, 1, &out), KILN_OK);
    kt_assert_shape(out, KT_DIMS(4, 2));
    kt_assert_f32_close(out, (float[]){1, 2, 1, 2, 3, 4, 3, 4}, 8, 0, 0);
    kn_tensor_free(out);
    kt_node_free(n);
    /* an axis outside the rank */
    n = kt_node_new("Pad", 18);
    kn_tensor_free(in[3]);
    in[3] = kt_i64(KT_DIMS(1), (int64_t[]){2});
    assert_int_not_equal(kt_run(n, 4, in, 1, &out), KILN_OK);
    kt_node_free(n);
    for (int i = 0; i < 4; i++)
        kn_tensor_free(in[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_tensor),
        cmocka_unit_test(test_constant_value_float_and_ints),
        cmocka_unit_test(test_constant_errors),
        cmocka_unit_test(test_constant_of_shape_default),
        cmocka_unit_test(test_constant_of_shape_value),
        cmocka_unit_test(test_constant_of_shape_bad_value),
        cmocka_unit_test(test_cast_float_to_int_truncates_and_saturates),
        cmocka_unit_test(test_cast_half_and_bfloat),
        cmocka_unit_test(test_cast_double_to_half_rounds_once),
        cmocka_unit_test(test_cast_integers),
        cmocka_unit_test(test_cast_empty_and_same),
        cmocka_unit_test(test_cast_unsupported),
        cmocka_unit_test(test_castlike),
        cmocka_unit_test(test_cast_float8_saturate),
        cmocka_unit_test(test_cast_float8_sources_and_double_rounding),
        cmocka_unit_test(test_cast_small_ints),
        cmocka_unit_test(test_cast_e8m0_round_modes),
        cmocka_unit_test(test_castlike_narrow),
        cmocka_unit_test(test_cast_to_string),
        cmocka_unit_test(test_cast_from_string),
        cmocka_unit_test(test_pad_modes),
        cmocka_unit_test(test_pad_constant_value),
        cmocka_unit_test(test_pad_reflect_wide),
        cmocka_unit_test(test_pad_negative_crops),
        cmocka_unit_test(test_pad_axes_input),
        cmocka_unit_test(test_pad_int_and_bool),
        cmocka_unit_test(test_pad_old_opset_upgrade),
        cmocka_unit_test(test_pad_errors),
        cmocka_unit_test(test_pad_rank3_constant),
        cmocka_unit_test(test_pad_edge_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
