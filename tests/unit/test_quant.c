/* Quantization ops: rounding (half to even) and saturation, per-tensor /
 * per-axis / blocked scales, DynamicQuantizeLinear's range, integer matmul
 * with per-row / per-column zero points and broadcasting, the QLinear
 * requantization, integer convolution with groups, padding and per-channel
 * zero points, and errors. */
#include "harness.h"

#include <math.h>

static kiln_tensor *u8(int rank, const int64_t *dims, const uint8_t *v)
{
    return kt_tensor(KILN_DTYPE_UINT8, rank, dims, v);
}
static kiln_tensor *i8(int rank, const int64_t *dims, const int8_t *v)
{
    return kt_tensor(KILN_DTYPE_INT8, rank, dims, v);
}

static void assert_bytes(const kiln_tensor *t, kiln_dtype dtype, const void *want, size_t n)
{
    assert_int_equal(t->dtype, dtype);
    assert_int_equal(t->nbytes, n);
    assert_memory_equal(t->data, want, n);
}

static void assert_i32(const kiln_tensor *t, const int32_t *want, int64_t n)
{
    assert_int_equal(t->dtype, KILN_DTYPE_INT32);
    assert_int_equal(kn_tensor_count(t), n);
    for (int64_t i = 0; i < n; i++)
        if (((const int32_t *)t->data)[i] != want[i])
            fail_msg("element %lld: got %d, want %d", (long long)i, ((const int32_t *)t->data)[i], want[i]);
}

static kiln_tensor *run1(kt_node *n, int n_in, kiln_tensor **in, kiln_status want)
{
    kiln_tensor *out[1] = {NULL};
    assert_int_equal(kt_run(n, n_in, in, 1, out), want);
    return out[0];
}

static void free_n(kiln_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        kn_tensor_free(t[i]);
}

static void test_quantize_round_and_saturate(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("QuantizeLinear", 13);
    /* x / 2: 0, 0.5, 1.25, 1.75, -0.5, -2.5, 500, -500 */
    kiln_tensor *in[3] = {kt_f32(KT_DIMS(8), (float[]){0, 1, 2.5f, 3.5f, -1, -5, 1000, -1000}),
                          kt_f32(KT_DIMS(), (float[]){2}), u8(KT_DIMS(), (uint8_t[]){128})};
    kiln_tensor *y = run1(n, 3, in, KILN_OK);
    assert_bytes(y, KILN_DTYPE_UINT8, (uint8_t[]){128, 128, 129, 130, 128, 126, 255, 0}, 8);
    kn_tensor_free(y);
    kn_tensor_free(in[2]);
    /* int8 zero point: the output is int8 */
    in[2] = i8(KT_DIMS(), (int8_t[]){-1});
    y = run1(n, 3, in, KILN_OK);
    assert_bytes(y, KILN_DTYPE_INT8, (int8_t[]){-1, -1, 0, 1, -1, -3, 127, -128}, 8);
    kn_tensor_free(y);
    /* no zero point: uint8 with zero point 0 */
    y = run1(n, 2, in, KILN_OK);
    assert_bytes(y, KILN_DTYPE_UINT8, (uint8_t[]){0, 0, 1, 2, 0, 0, 255, 0}, 8);
    kn_tensor_free(y);
    kt_node_free(n);
    free_n(in, 3);
}

static void test_quantize_axis_block_and_16bit(void **state)
{
    (void)state;
    /* per axis 1 of [2, 3]: scales 1, 2, 4 */
    kt_node *n = kt_node_new("QuantizeLinear", 13);
    kiln_tensor *in[3] = {kt_f32(KT_DIMS(2, 3), (float[]){8, 8, 8, -8, -8, -8}),
                          kt_f32(KT_DIMS(3), (float[]){1, 2, 4}), i8(KT_DIMS(3), (int8_t[]){0, 1, 2})};
    kiln_tensor *y = run1(n, 3, in, KILN_OK);
    assert_bytes(y, KILN_DTYPE_INT8, (int8_t[]){8, 5, 4, -8, -3, 0}, 6);
    kn_tensor_free(y);
    kt_node_free(n);
    /* negative axis picks the same */
    n = kt_node_new("QuantizeLinear", 13);
    kt_attr_int(n, "axis", -1);
    y = run1(n, 3, in, KILN_OK);
    assert_bytes(y, KILN_DTYPE_INT8, (int8_t[]){8, 5, 4, -8, -3, 0}, 6);
    kn_tensor_free(y);
    kt_node_free(n);
    free_n(in, 3);

    /* blocks of 2 along axis 1 of [1, 5]: scales per block 1, 10, 100 (last block short) */
    n = kt_node_new("QuantizeLinear", 21);
    kt_attr_int(n, "axis", 1);
    kt_attr_int(n, "block_size", 2);
    kt_attr_int(n, "output_dtype", KILN_DTYPE_INT16);
    kiln_tensor *b_in[2] = {kt_f32(KT_DIMS(1, 5), (float[]){3, 4, 30, 40, 300}),
                            kt_f32(KT_DIMS(1, 3), (float[]){1, 10, 100})};
    y = run1(n, 2, b_in, KILN_OK);
    assert_bytes(y, KILN_DTYPE_INT16, (int16_t[]){3, 4, 3, 4, 3}, 10);
    kn_tensor_free(y);
    kt_node_free(n);
    free_n(b_in, 2);

    /* uint16 saturates at 65535 */
    n = kt_node_new("QuantizeLinear", 21);
    kiln_tensor *u_in[3] = {kt_f32(KT_DIMS(2), (float[]){1e9f, 70000}), kt_f32(KT_DIMS(), (float[]){1}),
                            kt_tensor(KILN_DTYPE_UINT16, KT_DIMS(), (uint16_t[]){0})};
    y = run1(n, 3, u_in, KILN_OK);
    assert_bytes(y, KILN_DTYPE_UINT16, (uint16_t[]){65535, 65535}, 4);
    kn_tensor_free(y);
    kt_node_free(n);
    free_n(u_in, 3);
}

static void test_dequantize(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("DequantizeLinear", 13);
    kiln_tensor *in[3] = {i8(KT_DIMS(2, 2), (int8_t[]){-128, 0, 127, 5}), kt_f32(KT_DIMS(2), (float[]){0.5f, 2}),
                          i8(KT_DIMS(2), (int8_t[]){0, 5})};
    kt_attr_int(n, "axis", -1);
    kiln_tensor *y = run1(n, 3, in, KILN_OK);
    kt_assert_f32_close(y, (float[]){-64, -10, 63.5f, 0}, 4, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    free_n(in, 3);

    /* int32 input, no zero point; empty input */
    n = kt_node_new("DequantizeLinear", 13);
    kiln_tensor *i32_in[2] = {kt_i32(KT_DIMS(2), (int32_t[]){-1000000, 7}), kt_f32(KT_DIMS(), (float[]){0.25f})};
    y = run1(n, 2, i32_in, KILN_OK);
    kt_assert_f32_close(y, (float[]){-250000, 1.75f}, 2, 0, 0);
    kn_tensor_free(y);
    kiln_tensor *e_in[2] = {u8(KT_DIMS(0, 3), NULL), i32_in[1]};
    y = run1(n, 2, e_in, KILN_OK);
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);
    kn_tensor_free(e_in[0]);
    kt_node_free(n);
    free_n(i32_in, 2);
}

static void test_dynamic_quantize(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("DynamicQuantizeLinear", 11);
    kiln_tensor *x = kt_f32(KT_DIMS(6), (float[]){0, 2, -3, -2.5f, 1.34f, 0.5f});
    kiln_tensor *out[3] = {NULL, NULL, NULL};
    assert_int_equal(kt_run(n, 1, &x, 3, out), KILN_OK);
    /* the ONNX documentation's example */
    assert_bytes(out[0], KILN_DTYPE_UINT8, (uint8_t[]){153, 255, 0, 26, 221, 179}, 6);
    kt_assert_f32_close(out[1], (float[]){0.0196078438f}, 1, 1e-7, 0);
    assert_bytes(out[2], KILN_DTYPE_UINT8, (uint8_t[]){153}, 1);
    free_n(out, 3);
    kn_tensor_free(x);
    /* all zeros: scale 1 rather than a division by zero */
    x = kt_f32(KT_DIMS(3), NULL);
    assert_int_equal(kt_run(n, 1, &x, 3, out), KILN_OK);
    assert_bytes(out[0], KILN_DTYPE_UINT8, (uint8_t[]){0, 0, 0}, 3);
    kt_assert_f32_close(out[1], (float[]){1}, 1, 0, 0);
    free_n(out, 3);
    kn_tensor_free(x);
    kt_node_free(n);
}

static void test_matmul_integer(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("MatMulInteger", 10);
    /* A [2, 2, 3] uint8 with per-row zero points [2]; B [3, 2] int8 with per-column [2] */
    kiln_tensor *in[4] = {u8(KT_DIMS(2, 2, 3), (uint8_t[]){1, 2, 3, 4, 5, 6, 10, 10, 10, 0, 0, 0}),
                          i8(KT_DIMS(3, 2), (int8_t[]){1, -1, 2, -2, 3, -3}), u8(KT_DIMS(2), (uint8_t[]){1, 2}),
                          i8(KT_DIMS(2), (int8_t[]){0, -1})};
    kiln_tensor *y = run1(n, 4, in, KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 2, 2));
    /* rows minus zp: [0 1 2], [2 3 4], [9 9 9], [-2 -2 -2];
     * B columns minus zp: [1 2 3], [0 -1 -2] */
    assert_i32(y, (int32_t[]){8, -5, 20, -11, 54, -27, -12, 6}, 8);
    kn_tensor_free(y);
    /* 1-D A, no zero points */
    kiln_tensor *v_in[2] = {u8(KT_DIMS(3), (uint8_t[]){1, 1, 200}), in[1]};
    y = run1(n, 2, v_in, KILN_OK);
    kt_assert_shape(y, KT_DIMS(2));
    assert_i32(y, (int32_t[]){603, -603}, 2);
    kn_tensor_free(y);
    kn_tensor_free(v_in[0]);
    /* mismatched inner dimension */
    kiln_tensor *bad[2] = {u8(KT_DIMS(2, 4), NULL), in[1]};
    assert_null(run1(n, 2, bad, KILN_ERROR_SHAPE));
    kn_tensor_free(bad[0]);
    kt_node_free(n);
    free_n(in, 4);
}

static void test_qlinear_matmul(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("QLinearMatMul", 10);
    /* the ONNX documentation's 2-D example */
    kiln_tensor *in[8] = {u8(KT_DIMS(2, 4), (uint8_t[]){208, 236, 0, 238, 3, 214, 255, 29}),
                          kt_f32(KT_DIMS(1), (float[]){0.0066f}),
                          u8(KT_DIMS(1), (uint8_t[]){113}),
                          u8(KT_DIMS(4, 3), (uint8_t[]){152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247}),
                          kt_f32(KT_DIMS(1), (float[]){0.00705f}),
                          u8(KT_DIMS(1), (uint8_t[]){114}),
                          kt_f32(KT_DIMS(1), (float[]){0.0107f}),
                          u8(KT_DIMS(1), (uint8_t[]){118})};
    kiln_tensor *y = run1(n, 8, in, KILN_OK);
    assert_bytes(y, KILN_DTYPE_UINT8, (uint8_t[]){168, 115, 255, 1, 66, 151}, 6);
    kn_tensor_free(y);
    /* a y_zero_point of another type than the output range is refused */
    kiln_tensor *f = in[7];
    in[7] = kt_f32(KT_DIMS(1), (float[]){1});
    assert_null(run1(n, 8, in, KILN_ERROR_DTYPE));
    kn_tensor_free(in[7]);
    in[7] = f;
    kt_node_free(n);
    free_n(in, 8);
}

static void test_conv_integer(void **state)
{
    (void)state;
    /* the ONNX documentation's example with padding: x 2..10, zp 1, w ones */
    kt_node *n = kt_node_new("ConvInteger", 10);
    kt_attr_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    kiln_tensor *in[3] = {u8(KT_DIMS(1, 1, 3, 3), (uint8_t[]){2, 3, 4, 5, 6, 7, 8, 9, 10}),
                          u8(KT_DIMS(1, 1, 2, 2), (uint8_t[]){1, 1, 1, 1}), u8(KT_DIMS(), (uint8_t[]){1})};
    kiln_tensor *y = run1(n, 3, in, KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 4, 4));
    assert_i32(y, (int32_t[]){1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}, 16);
    kn_tensor_free(y);
    kt_node_free(n);
    free_n(in, 3);

    /* group 2, stride 2 (1-D), int8 weights with per-channel zero points */
    n = kt_node_new("ConvInteger", 10);
    kt_attr_int(n, "group", 2);
    kt_attr_ints(n, "strides", (int64_t[]){2}, 1);
    kiln_tensor *g_in[4] = {u8(KT_DIMS(1, 2, 5), (uint8_t[]){1, 2, 3, 4, 5, 10, 20, 30, 40, 50}),
                            i8(KT_DIMS(2, 1, 2), (int8_t[]){1, 2, -1, 3}), u8(KT_DIMS(), (uint8_t[]){0}),
                            i8(KT_DIMS(2), (int8_t[]){0, 1})};
    y = run1(n, 4, g_in, KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 2, 2));
    /* channel 0: w 1 2 on (1,2), (3,4); channel 1: w -2 2 on (10,20), (30,40) */
    assert_i32(y, (int32_t[]){5, 11, 20, 20}, 4);
    kn_tensor_free(y);
    /* a weight zero point per channel of the wrong length */
    kn_tensor_free(g_in[3]);
    g_in[3] = i8(KT_DIMS(3), NULL);
    assert_null(run1(n, 4, g_in, KILN_ERROR_SHAPE));
    kt_node_free(n);
    free_n(g_in, 4);
}

static void test_qlinear_conv(void **state)
{
    (void)state;
    /* 1x1 conv, 2 output channels with per-channel weight scales and a bias:
     * y = round((x - 10) * w * xs * ws[m] / ys + bias term) + yzp */
    kt_node *n = kt_node_new("QLinearConv", 10);
    kiln_tensor *in[9] = {u8(KT_DIMS(1, 1, 1, 3), (uint8_t[]){10, 13, 255}),
                          kt_f32(KT_DIMS(), (float[]){0.5f}),
                          u8(KT_DIMS(), (uint8_t[]){10}),
                          i8(KT_DIMS(2, 1, 1, 1), (int8_t[]){2, -3}),
                          kt_f32(KT_DIMS(2), (float[]){1, 0.25f}),
                          i8(KT_DIMS(2), (int8_t[]){0, 0}),
                          kt_f32(KT_DIMS(), (float[]){1}),
                          i8(KT_DIMS(), (int8_t[]){5}),
                          kt_i32(KT_DIMS(2), (int32_t[]){1, 2})};
    kiln_tensor *y = run1(n, 9, in, KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 2, 1, 3));
    /* channel 0: acc = 2 * (0, 3, 245) + 1 -> * 0.5 = 0.5, 3.5, 245.5 -> 0, 4, 246 (+5, saturate 127)
     * channel 1: acc = -3 * (0, 3, 245) + 2 -> * 0.125 = 0.25, -0.875, -91.625 -> 0, -1, -92 (+5) */
    assert_bytes(y, KILN_DTYPE_INT8, (int8_t[]){5, 9, 127, 5, 4, -87}, 6);
    kn_tensor_free(y);
    kt_node_free(n);
    free_n(in, 9);
}

/* ---- narrow types ---------------------------------------------------------- */

static void test_quantize_narrow_ints(void **state)
{
    (void)state;
    /* x / 2 = 0, 1.25, 2.5, 3.5, -7.5, 100, -100: round half to even, + zp, saturate */
    kiln_tensor *x = kt_f32(KT_DIMS(7), (float[]){0, 2.5f, 5, 7, -15, 200, -200});
    kiln_tensor *s = kt_f32(KT_DIMS(), (float[]){2});
    kt_node *n = kt_node_new("QuantizeLinear", 25);
    kiln_tensor *zp = kt_tensor(KILN_DTYPE_INT4, KT_DIMS(1), (int8_t[]){1}); /* [1] beside a scalar scale */
    kiln_tensor *y = run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_OK);
    assert_bytes(y, KILN_DTYPE_INT4, (int8_t[]){1, 2, 3, 5, -7, 7, -8}, 7);
    kn_tensor_free(y);
    kn_tensor_free(zp);
    zp = kt_tensor(KILN_DTYPE_UINT2, KT_DIMS(), (uint8_t[]){1});
    y = run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_OK);
    assert_bytes(y, KILN_DTYPE_UINT2, (uint8_t[]){1, 2, 3, 3, 0, 3, 0}, 7);
    kn_tensor_free(y);
    kn_tensor_free(zp);
    kt_node_free(n);
    /* output_dtype without a zero point; blocked scales along axis 1 */
    n = kt_node_new("QuantizeLinear", 25);
    kt_attr_int(n, "output_dtype", KILN_DTYPE_UINT4);
    kt_attr_int(n, "axis", 1);
    kt_attr_int(n, "block_size", 2);
    kiln_tensor *xb = kt_f32(KT_DIMS(2, 3), (float[]){1, 2, 30, 4, 5, 6});
    kiln_tensor *sb = kt_f32(KT_DIMS(2, 2), (float[]){1, 10, 2, 4});
    y = run1(n, 2, (kiln_tensor *[]){xb, sb}, KILN_OK);
    assert_bytes(y, KILN_DTYPE_UINT4, (uint8_t[]){1, 2, 3, 2, 2, 2}, 6);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(xb);
    kn_tensor_free(sb);
    kn_tensor_free(x);
    kn_tensor_free(s);
}

static void test_quantize_float8_and_float4(void **state)
{
    (void)state;
    /* x / 2 = 0, 0.5, 1, 50000, 224, -1e9 */
    kiln_tensor *x = kt_f32(KT_DIMS(6), (float[]){0, 1, 2, 100000, 448, -2e9f});
    kiln_tensor *s = kt_f32(KT_DIMS(), (float[]){2});
    kiln_tensor *zp = kt_tensor(KILN_DTYPE_FLOAT8E4M3FN, KT_DIMS(), (uint8_t[]){0});
    kt_node *n = kt_node_new("QuantizeLinear", 21);
    kiln_tensor *y = run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_OK); /* saturates by default */
    assert_bytes(y, KILN_DTYPE_FLOAT8E4M3FN, (uint8_t[]){0x00, 0x30, 0x38, 0x7e, 0x76, 0xfe}, 6);
    kn_tensor_free(y);
    kt_node_free(n);
    n = kt_node_new("QuantizeLinear", 21);
    kt_attr_int(n, "saturate", 0);
    y = run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_OK);
    assert_bytes(y, KILN_DTYPE_FLOAT8E4M3FN, (uint8_t[]){0x00, 0x30, 0x38, 0x7f, 0x76, 0xff}, 6);
    kn_tensor_free(y);
    kn_tensor_free(zp);
    /* a float8 zero point must be zero */
    zp = kt_tensor(KILN_DTYPE_FLOAT8E5M2, KT_DIMS(), (uint8_t[]){0x3c});
    assert_null(run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_ERROR_MODEL));
    assert_non_null(strstr(kiln_last_error(), "must be zero"));
    kn_tensor_free(zp);
    kt_node_free(n);
    /* float4: the zero point is added; out of range saturates to +-6 */
    n = kt_node_new("QuantizeLinear", 25);
    zp = kt_tensor(KILN_DTYPE_FLOAT4E2M1, KT_DIMS(), (uint8_t[]){0x2}); /* 1.0 */
    y = run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_OK);
    assert_bytes(y, KILN_DTYPE_FLOAT4E2M1, (uint8_t[]){0x2, 0x3, 0x4, 0x7, 0x7, 0xf}, 6);
    kn_tensor_free(y);
    kn_tensor_free(zp);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(s);
}

static void test_quantize_precision(void **state)
{
    (void)state;
    /* x is cast to the precision type before dividing: 2049 is exact in
     * float32 but becomes 2048 in float16 */
    kiln_tensor *x = kt_f32(KT_DIMS(1), (float[]){2049});
    kiln_tensor *s = kt_f32(KT_DIMS(), (float[]){1});
    kiln_tensor *zp = kt_tensor(KILN_DTYPE_INT16, KT_DIMS(), (int16_t[]){0});
    kt_node *n = kt_node_new("QuantizeLinear", 25);
    kiln_tensor *y = run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_OK);
    assert_bytes(y, KILN_DTYPE_INT16, (int16_t[]){2049}, 2);
    kn_tensor_free(y);
    kt_node_free(n);
    n = kt_node_new("QuantizeLinear", 25);
    kt_attr_int(n, "precision", KILN_DTYPE_FLOAT16);
    y = run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_OK);
    assert_bytes(y, KILN_DTYPE_INT16, (int16_t[]){2048}, 2);
    kn_tensor_free(y);
    kt_node_free(n);
    n = kt_node_new("QuantizeLinear", 25);
    kt_attr_int(n, "precision", KILN_DTYPE_INT8);
    assert_null(run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_ERROR_UNSUPPORTED));
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(s);
    kn_tensor_free(zp);
}

static void test_dequantize_narrow(void **state)
{
    (void)state;
    kiln_tensor *s = kt_f32(KT_DIMS(), (float[]){2});
    kt_node *n = kt_node_new("DequantizeLinear", 25);
    kiln_tensor *x = kt_tensor(KILN_DTYPE_INT4, KT_DIMS(4), (int8_t[]){-8, -1, 0, 7});
    kiln_tensor *zp = kt_tensor(KILN_DTYPE_INT4, KT_DIMS(), (int8_t[]){-1});
    kiln_tensor *y = run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_OK);
    kt_assert_f32_close(y, (float[]){-14, 0, 2, 16}, 4, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    kn_tensor_free(zp);
    x = kt_tensor(KILN_DTYPE_UINT2, KT_DIMS(4), (uint8_t[]){0, 1, 2, 3});
    y = run1(n, 2, (kiln_tensor *[]){x, s}, KILN_OK);
    kt_assert_f32_close(y, (float[]){0, 2, 4, 6}, 4, 0, 0);
    kn_tensor_free(y);
    kn_tensor_free(x);
    /* float8: decoded exactly; NaN stays NaN */
    x = kt_tensor(KILN_DTYPE_FLOAT8E5M2, KT_DIMS(3), (uint8_t[]){0x3c, 0xc0, 0x7f});
    y = run1(n, 2, (kiln_tensor *[]){x, s}, KILN_OK);
    const float *f = y->data;
    assert_true(f[0] == 2.0f && f[1] == -4.0f && isnan(f[2]));
    kn_tensor_free(y);
    /* a mismatched zero point type is refused */
    zp = kt_tensor(KILN_DTYPE_INT4, KT_DIMS(), (int8_t[]){0});
    assert_null(run1(n, 3, (kiln_tensor *[]){x, s, zp}, KILN_ERROR_DTYPE));
    kn_tensor_free(zp);
    kn_tensor_free(x);
    /* float4 with a float16 scale gives float16 */
    kiln_tensor *s16 = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(), (uint16_t[]){kn_float_to_half(0.5f)});
    x = kt_tensor(KILN_DTYPE_FLOAT4E2M1, KT_DIMS(2), (uint8_t[]){0x7, 0x9});
    y = run1(n, 2, (kiln_tensor *[]){x, s16}, KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
    assert_true(kn_half_to_float(((uint16_t *)y->data)[0]) == 3.0f);
    assert_true(kn_half_to_float(((uint16_t *)y->data)[1]) == -0.25f);
    kn_tensor_free(y);
    kn_tensor_free(x);
    kn_tensor_free(s16);
    /* e8m0 is a scale format, not a quantized one: not in the op's type list */
    x = kt_tensor(KILN_DTYPE_FLOAT8E8M0, KT_DIMS(1), (uint8_t[]){127});
    assert_null(run1(n, 2, (kiln_tensor *[]){x, s}, KILN_ERROR_DTYPE));
    kn_tensor_free(x);
    kt_node_free(n);
    kn_tensor_free(s);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 3), NULL), *s1 = kt_f32(KT_DIMS(), (float[]){1});
    kiln_tensor *s_bad = kt_f32(KT_DIMS(4), (float[]){1, 1, 1, 1});
    kiln_tensor *zp2 = u8(KT_DIMS(2), NULL);
    kt_node *n = kt_node_new("QuantizeLinear", 13);
    /* scale neither scalar nor [dims[axis]] */
    assert_null(run1(n, 2, (kiln_tensor *[]){x, s_bad}, KILN_ERROR_SHAPE));
    /* zero point shape differs from the scale's */
    assert_null(run1(n, 3, (kiln_tensor *[]){x, s1, zp2}, KILN_ERROR_SHAPE));
    /* x of a type QuantizeLinear does not take */
    assert_null(run1(n, 2, (kiln_tensor *[]){zp2, s1}, KILN_ERROR_DTYPE));
    kt_node_free(n);
    /* a float output type */
    n = kt_node_new("QuantizeLinear", 21);
    kt_attr_int(n, "output_dtype", KILN_DTYPE_FLOAT);
    assert_null(run1(n, 2, (kiln_tensor *[]){x, s1}, KILN_ERROR_UNSUPPORTED));
    kt_node_free(n);
    /* DequantizeLinear of float32: not an ONNX x type (the float8 ones are
     * refused when their tensors load) */
    n = kt_node_new("DequantizeLinear", 13);
    assert_null(run1(n, 2, (kiln_tensor *[]){x, s1}, KILN_ERROR_DTYPE));
    assert_non_null(strstr(kiln_last_error(), "int32"));
    kt_node_free(n);
    /* MatMulInteger of floats */
    n = kt_node_new("MatMulInteger", 10);
    assert_null(run1(n, 2, (kiln_tensor *[]){x, x}, KILN_ERROR_DTYPE));
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(s1);
    kn_tensor_free(s_bad);
    kn_tensor_free(zp2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_round_and_saturate),
        cmocka_unit_test(test_quantize_axis_block_and_16bit),
        cmocka_unit_test(test_dequantize),
        cmocka_unit_test(test_dynamic_quantize),
        cmocka_unit_test(test_matmul_integer),
        cmocka_unit_test(test_qlinear_matmul),
        cmocka_unit_test(test_conv_integer),
        cmocka_unit_test(test_qlinear_conv),
        cmocka_unit_test(test_quantize_narrow_ints),
        cmocka_unit_test(test_quantize_float8_and_float4),
        cmocka_unit_test(test_quantize_precision),
        cmocka_unit_test(test_dequantize_narrow),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
