/* MaxPool / AveragePool / LpPool and the Global forms: hand-computed cases
 * (ceil_mode, pads, count_include_pad, auto_pad, dilations, Indices in both
 * storage orders), a naive comparison on 1-D / 3-D, dtypes, errors. */
#include "harness.h"
#include "ops/conv_ref.h"

#include <math.h>

static kt_node *pool_node(const char *op, int opset, int nsp, const int64_t *k, const int64_t *s,
                          const int64_t *pads)
{
    kt_node *n = kt_node_new(op, opset);
    if (k)
        kt_attr_ints(n, "kernel_shape", k, (size_t)nsp);
    if (s)
        kt_attr_ints(n, "strides", s, (size_t)nsp);
    if (pads)
        kt_attr_ints(n, "pads", pads, 2 * (size_t)nsp);
    return n;
}

static kiln_tensor *run1(kt_node *n, kiln_tensor *x)
{
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 1, &x, 1, &y), KILN_OK);
    return y;
}

static kiln_tensor *ramp(int rank, const int64_t *dims, float start)
{
    kiln_tensor *t = kt_f32(rank, dims, NULL);
    for (int64_t i = 0; i < kn_tensor_count(t); i++)
        ((float *)t->data)[i] = start + (float)i;
    return t;
}

/* 5x5 ramp 1..25, kernel 2, stride 2: maxima and their flat indices in
 * row-major and column-major order. */
static void test_maxpool_indices(void **state)
{
    (void)state;
    kiln_tensor *x = ramp(KT_DIMS(1, 1, 5, 5), 1.0f);
    for (int order = 0; order < 2; order++) {
        kt_node *n = pool_node("MaxPool", 12, 2, (int64_t[]){2, 2}, (int64_t[]){2, 2}, NULL);
        kt_attr_int(n, "storage_order", order);
        kiln_tensor *out[2] = {NULL, NULL};
        assert_int_equal(kt_run(n, 1, &x, 2, out), KILN_OK);
        kt_assert_shape(out[0], KT_DIMS(1, 1, 2, 2));
        kt_assert_f32_close(out[0], (float[]){7, 9, 17, 19}, 4, 0, 0);
        assert_int_equal(out[1]->dtype, KILN_DTYPE_INT64);
        static const int64_t rows[4] = {6, 8, 16, 18}, cols[4] = {6, 16, 8, 18};
        kt_assert_i64_equal(out[1], order ? cols : rows, 4);
        kn_tensor_free(out[0]);
        kn_tensor_free(out[1]);
        kt_node_free(n);
    }
    kn_tensor_free(x);
    /* indices count N and C: second channel of a second image */
    x = ramp(KT_DIMS(2, 2, 2, 2), 0.0f);
    kt_node *n = pool_node("MaxPool", 12, 2, (int64_t[]){2, 2}, NULL, NULL);
    kiln_tensor *out[2] = {NULL, NULL};
    assert_int_equal(kt_run(n, 1, &x, 2, out), KILN_OK);
    kt_assert_i64_equal(out[1], (int64_t[]){3, 7, 11, 15}, 4);
    kn_tensor_free(out[0]);
    kn_tensor_free(out[1]);
    kt_node_free(n);
    kn_tensor_free(x);
}

/* ceil_mode: 4x4, k3 s2 -> 2x2 (floor would give 1x1); a window that would
 * start past the input is dropped (2x2, k1 s2 -> 1x1). */
static void test_pool_ceil_mode(void **state)
{
    (void)state;
    kiln_tensor *x = ramp(KT_DIMS(1, 1, 4, 4), 1.0f);
    kt_node *n = pool_node("MaxPool", 12, 2, (int64_t[]){3, 3}, (int64_t[]){2, 2}, NULL);
    kt_attr_int(n, "ceil_mode", 1);
    kiln_tensor *y = run1(n, x);
    kt_assert_shape(y, KT_DIMS(1, 1, 2, 2));
    kt_assert_f32_close(y, (float[]){11, 12, 15, 16}, 4, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    /* average over the cut windows counts only real elements */
    n = pool_node("AveragePool", 11, 2, (int64_t[]){3, 3}, (int64_t[]){2, 2}, NULL);
    kt_attr_int(n, "ceil_mode", 1);
    y = run1(n, x);
    kt_assert_f32_close(y, (float[]){6, 7.5f, 12, 13.5f}, 4, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);

    x = ramp(KT_DIMS(1, 1, 2, 2), 1.0f);
    n = pool_node("MaxPool", 22, 2, (int64_t[]){1, 1}, (int64_t[]){2, 2}, NULL);
    kt_attr_int(n, "ceil_mode", 1);
    y = run1(n, x);
    kt_assert_shape(y, KT_DIMS(1, 1, 1, 1));
    kt_assert_f32_close(y, (float[]){1}, 1, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    /* last window starts on the trailing pad: dropped; count_include_pad
     * divides by the 9 taps of the padded input */
    n = pool_node("AveragePool", 22, 2, (int64_t[]){3, 3}, (int64_t[]){3, 3}, (int64_t[]){1, 1, 1, 1});
    kt_attr_int(n, "ceil_mode", 1);
    kt_attr_int(n, "count_include_pad", 1);
    y = run1(n, x);
    kt_assert_shape(y, KT_DIMS(1, 1, 1, 1));
    kt_assert_f32_close(y, (float[]){10.0f / 9.0f}, 1, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
}

/* 3x3 ones padded by 1, kernel 3: corners see 4 real values of 9 taps. */
static void test_avgpool_count_include_pad(void **state)
{
    (void)state;
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 3, 3), ones);
    for (int inc = 0; inc < 2; inc++) {
        kt_node *n = pool_node("AveragePool", 7 + inc * 12, 2, (int64_t[]){3, 3}, NULL, (int64_t[]){1, 1, 1, 1});
        kt_attr_int(n, "count_include_pad", inc);
        kiln_tensor *y = run1(n, x);
        kt_assert_shape(y, KT_DIMS(1, 1, 3, 3));
        float c = inc ? 4.0f / 9 : 1, e = inc ? 6.0f / 9 : 1;
        float expect[9] = {c, e, c, e, 1, e, c, e, c};
        kt_assert_f32_close(y, expect, 9, 1e-6, 0);
        kn_tensor_free(y);
        kt_node_free(n);
    }
    kn_tensor_free(x);
}

/* SAME_UPPER pads the end, SAME_LOWER the start (1-D, kernel 2). */
static void test_pool_auto_pad(void **state)
{
    (void)state;
    float xv[4] = {4, 1, 3, 2};
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 4), xv);
    const char *modes[3] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
    static const float max_e[3][4] = {{4, 3, 3, 2}, {4, 4, 3, 3}, {4, 3, 3, 0}};
    static const float avg_e[3][4] = {{2.5f, 2, 2.5f, 2}, {4, 2.5f, 2, 2.5f}, {2.5f, 2, 2.5f, 0}};
    for (int i = 0; i < 3; i++) {
        for (int op = 0; op < 2; op++) {
            kt_node *n = pool_node(op ? "AveragePool" : "MaxPool", 22, 1, (int64_t[]){2}, NULL, NULL);
            kt_attr_string(n, "auto_pad", modes[i]);
            kiln_tensor *y = run1(n, x);
            int64_t len = i == 2 ? 3 : 4;
            kt_assert_shape(y, 3, (int64_t[]){1, 1, len});
            kt_assert_f32_close(y, op ? avg_e[i] : max_e[i], len, 1e-6, 0);
            kn_tensor_free(y);
            kt_node_free(n);
        }
    }
    kn_tensor_free(x);
    /* stride 2 SAME on 5: ceil(5/2) = 3 outputs, total pad 1 */
    x = ramp(KT_DIMS(1, 1, 5, 5), 1.0f);
    kt_node *n = pool_node("MaxPool", 22, 2, (int64_t[]){3, 3}, (int64_t[]){2, 2}, NULL);
    kt_attr_string(n, "auto_pad", "SAME_UPPER");
    kiln_tensor *y = run1(n, x);
    kt_assert_shape(y, KT_DIMS(1, 1, 3, 3));
    kt_assert_f32_close(y, (float[]){7, 9, 10, 17, 19, 20, 22, 24, 25}, 9, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
}

static void test_pool_dilations(void **state)
{
    (void)state;
    kiln_tensor *x = ramp(KT_DIMS(1, 1, 4, 4), 1.0f);
    kt_node *n = pool_node("MaxPool", 12, 2, (int64_t[]){2, 2}, (int64_t[]){1, 1}, NULL);
    kt_attr_ints(n, "dilations", (int64_t[]){2, 2}, 2);
    kiln_tensor *y = run1(n, x);
    kt_assert_shape(y, KT_DIMS(1, 1, 2, 2));
    kt_assert_f32_close(y, (float[]){11, 12, 15, 16}, 4, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    n = pool_node("AveragePool", 19, 2, (int64_t[]){2, 2}, (int64_t[]){1, 1}, NULL);
    kt_attr_ints(n, "dilations", (int64_t[]){2, 2}, 2);
    y = run1(n, x);
    kt_assert_f32_close(y, (float[]){6, 7, 10, 11}, 4, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
}

/* Naive 3-D average / max with explicit pads, stride and dilation. */
static void naive_pool3(const float *x, int64_t C, const int64_t *in, const int64_t *k, const int64_t *s,
                        const int64_t *d, const int64_t *pb, const int64_t *out, bool max, float *y)
{
    for (int64_t c = 0; c < C; c++)
        for (int64_t a = 0; a < out[0]; a++)
            for (int64_t b = 0; b < out[1]; b++)
                for (int64_t e = 0; e < out[2]; e++) {
                    double acc = max ? -INFINITY : 0;
                    int64_t cnt = 0;
                    for (int64_t i = 0; i < k[0]; i++)
                        for (int64_t j = 0; j < k[1]; j++)
                            for (int64_t l = 0; l < k[2]; l++) {
                                int64_t p0 = a * s[0] - pb[0] + i * d[0], p1 = b * s[1] - pb[1] + j * d[1],
                                        p2 = e * s[2] - pb[2] + l * d[2];
                                if (p0 < 0 || p0 >= in[0] || p1 < 0 || p1 >= in[1] || p2 < 0 || p2 >= in[2])
                                    continue;
                                double v = x[((c * in[0] + p0) * in[1] + p1) * in[2] + p2];
                                acc = max ? fmax(acc, v) : acc + v;
                                cnt++;
                            }
                    y[((c * out[0] + a) * out[1] + b) * out[2] + e] = (float)(max ? acc : acc / (double)cnt);
                }
}

static void test_pool_3d_matches_naive(void **state)
{
    (void)state;
    int64_t in[3] = {7, 9, 6}, k[3] = {3, 2, 3}, s[3] = {2, 1, 3}, d[3] = {1, 2, 1};
    int64_t pads[6] = {1, 0, 2, 1, 1, 0}, out[3];
    for (int i = 0; i < 3; i++)
        out[i] = (in[i] + pads[i] + pads[i + 3] - ((k[i] - 1) * d[i] + 1)) / s[i] + 1;
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 3, 7, 9, 6), 5, -2, 2);
    float *expect = malloc(2 * 3 * 7 * 9 * 6 * sizeof(float));
    assert_non_null(expect);
    for (int op = 0; op < 2; op++) {
        kt_node *n = pool_node(op ? "AveragePool" : "MaxPool", 19, 3, k, s, pads);
        kt_attr_ints(n, "dilations", d, 3);
        kiln_tensor *y = NULL, *y2 = NULL;
        assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 1, 1, &x, 1, &y), KILN_OK);
        assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 3, 1, &x, 1, &y2), KILN_OK);
        kt_assert_shape(y, 5, (int64_t[]){2, 3, out[0], out[1], out[2]});
        int64_t plane = out[0] * out[1] * out[2];
        for (int64_t nb = 0; nb < 2; nb++)
            naive_pool3((float *)x->data + nb * 3 * 7 * 9 * 6, 3, in, k, s, d, pads, out, op == 0,
                        expect + nb * 3 * plane);
        kt_assert_f32_close(y, expect, 2 * 3 * plane, 1e-5, 1e-6);
        assert_memory_equal(y->data, y2->data, y->nbytes);
        kn_tensor_free(y);
        kn_tensor_free(y2);
        kt_node_free(n);
    }
    free(expect);
    kn_tensor_free(x);
}

static void test_global_pools(void **state)
{
    (void)state;
    kiln_tensor *x = ramp(KT_DIMS(2, 3, 2, 2, 2), 0.0f);
    kt_node *n = kt_node_new("GlobalAveragePool", 1);
    kiln_tensor *y = run1(n, x);
    kt_assert_shape(y, KT_DIMS(2, 3, 1, 1, 1));
    kt_assert_f32_close(y, (float[]){3.5f, 11.5f, 19.5f, 27.5f, 35.5f, 43.5f}, 6, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    n = kt_node_new("GlobalMaxPool", 22);
    y = run1(n, x);
    kt_assert_f32_close(y, (float[]){7, 15, 23, 31, 39, 47}, 6, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
    /* 1-D and a plane of 17 */
    x = ramp(KT_DIMS(1, 2, 17), 1.0f);
    n = kt_node_new("GlobalAveragePool", 22);
    y = run1(n, x);
    kt_assert_shape(y, KT_DIMS(1, 2, 1));
    kt_assert_f32_close(y, (float[]){9, 26}, 2, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    n = kt_node_new("GlobalLpPool", 2);
    y = run1(n, x);
    double s0 = 0, s1 = 0;
    for (int i = 1; i <= 17; i++) {
        s0 += (double)i * i;
        s1 += (double)(i + 17) * (i + 17);
    }
    kt_assert_f32_close(y, (float[]){(float)sqrt(s0), (float)sqrt(s1)}, 2, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
}

static void test_lppool(void **state)
{
    (void)state;
    float xv[4] = {3, -4, 1, 2};
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 4), xv);
    kt_node *n = pool_node("LpPool", 18, 1, (int64_t[]){2}, (int64_t[]){2}, NULL);
    kiln_tensor *y = run1(n, x);
    kt_assert_f32_close(y, (float[]){5, sqrtf(5)}, 2, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    /* p = 3, padding counts as zero */
    n = pool_node("LpPool", 22, 1, (int64_t[]){2}, (int64_t[]){2}, (int64_t[]){1, 1});
    kt_attr_int(n, "p", 3);
    y = run1(n, x);
    kt_assert_f32_close(y, (float[]){3, cbrtf(65), 2}, 3, 1e-5, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    /* LpPool-1 declares p as a float */
    n = pool_node("LpPool", 1, 1, (int64_t[]){2}, (int64_t[]){2}, NULL);
    kt_attr_float(n, "p", 1.0f);
    y = run1(n, x);
    kt_assert_f32_close(y, (float[]){7, 3}, 2, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    n = pool_node("LpPool", 1, 1, (int64_t[]){2}, NULL, NULL);
    kt_attr_float(n, "p", 1.5f);
    kiln_tensor *out = NULL;
    assert_int_equal(kt_run(n, 1, &x, 1, &out), KILN_ERROR_UNSUPPORTED);
    kt_node_free(n);
    kn_tensor_free(x);
}

static void test_pool_dtypes(void **state)
{
    (void)state;
    uint8_t u[6] = {5, 200, 7, 255, 0, 9};
    int8_t s[6] = {-5, -100, 7, -128, 0, 9};
    kiln_tensor *xu = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(1, 1, 6), u);
    kiln_tensor *xs = kt_tensor(KILN_DTYPE_INT8, KT_DIMS(1, 1, 6), s);
    kt_node *n = pool_node("MaxPool", 12, 1, (int64_t[]){2}, (int64_t[]){2}, (int64_t[]){0, 0});
    kiln_tensor *y = run1(n, xu);
    assert_int_equal(y->dtype, KILN_DTYPE_UINT8);
    assert_memory_equal(y->data, ((uint8_t[]){200, 255, 9}), 3);
    kn_tensor_free(y);
    y = run1(n, xs);
    assert_memory_equal(y->data, ((int8_t[]){-5, 7, 9}), 3);
    kn_tensor_free(y);
    kt_node_free(n);
    /* AveragePool refuses integers */
    n = pool_node("AveragePool", 19, 1, (int64_t[]){2}, NULL, NULL);
    assert_int_equal(kt_run(n, 1, &xu, 1, &y), KILN_ERROR_DTYPE);
    kt_node_free(n);
    kn_tensor_free(xu);
    kn_tensor_free(xs);
    /* double and half */
    double dv[4] = {1, 2, 3, 4.5};
    kiln_tensor *xd = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1, 1, 4), dv);
    n = pool_node("AveragePool", 19, 1, (int64_t[]){2}, (int64_t[]){2}, NULL);
    y = run1(n, xd);
    assert_int_equal(y->dtype, KILN_DTYPE_DOUBLE);
    assert_true(((double *)y->data)[0] == 1.5 && ((double *)y->data)[1] == 3.75);
    kn_tensor_free(y);
    uint16_t hv[4];
    for (int i = 0; i < 4; i++)
        hv[i] = kn_float_to_half((float)dv[i]);
    kiln_tensor *xh = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(1, 1, 4), hv);
    y = run1(n, xh);
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
    assert_true(kn_half_to_float(((uint16_t *)y->data)[1]) == 3.75f);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(xd);
    kn_tensor_free(xh);
}

/* NaN inputs are skipped by MaxPool unless the window holds nothing else. */
static void test_maxpool_nan(void **state)
{
    (void)state;
    float xv[4] = {NAN, 1, NAN, NAN};
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 4), xv);
    kt_node *n = pool_node("MaxPool", 12, 1, (int64_t[]){2}, (int64_t[]){2}, NULL);
    kiln_tensor *y = run1(n, x);
    assert_true(((float *)y->data)[0] == 1.0f);
    assert_true(isnan(((float *)y->data)[1]));
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
}

static void expect_fail(kt_node *n, kiln_tensor *x, kiln_status want, const char *msg)
{
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 1, &x, 1, &y), want);
    if (!strstr(kn_error_message(), msg))
        fail_msg("message '%s' lacks '%s'", kn_error_message(), msg);
    kt_node_free(n);
}

static void test_pool_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(1, 2, 4, 4), NULL);
    expect_fail(kt_node_new("MaxPool", 12), x, KILN_ERROR_MODEL, "node 'test_node' (MaxPool): missing attribute kernel_shape");
    expect_fail(pool_node("MaxPool", 12, 1, (int64_t[]){2}, NULL, NULL), x, KILN_ERROR_SHAPE,
                "kernel_shape has 1 entries but the input has 2 spatial dims");
    expect_fail(pool_node("AveragePool", 12, 2, (int64_t[]){5, 2}, NULL, NULL), x, KILN_ERROR_SHAPE,
                "smaller than the kernel extent 5");
    kt_node *n = pool_node("MaxPool", 12, 2, (int64_t[]){2, 2}, NULL, NULL);
    kt_attr_int(n, "ceil_mode", 2);
    expect_fail(n, x, KILN_ERROR_MODEL, "ceil_mode is 2");
    n = pool_node("MaxPool", 12, 2, (int64_t[]){2, 2}, (int64_t[]){1, 0}, NULL);
    expect_fail(n, x, KILN_ERROR_MODEL, "strides[1] is 0");
    n = pool_node("MaxPool", 12, 2, (int64_t[]){2, 2}, NULL, NULL);
    kt_attr_string(n, "auto_pad", "bogus");
    expect_fail(n, x, KILN_ERROR_MODEL, "auto_pad 'bogus'");
    kn_tensor_free(x);
    x = kt_f32(KT_DIMS(4, 4), NULL);
    expect_fail(pool_node("MaxPool", 12, 2, (int64_t[]){2, 2}, NULL, NULL), x, KILN_ERROR_SHAPE,
                "input has 2 dims, expected at least 3");
    kn_tensor_free(x);
    /* a signed integer, but not the 8-bit one kiln's MaxPool takes */
    x = kt_i32(KT_DIMS(1, 1, 4, 4), NULL);
    expect_fail(pool_node("MaxPool", 12, 2, (int64_t[]){2, 2}, NULL, NULL), x, KILN_ERROR_UNSUPPORTED, "int32");
    kn_tensor_free(x);
    /* no kind of integer for AveragePool */
    x = kt_i32(KT_DIMS(1, 1, 4, 4), NULL);
    expect_fail(pool_node("AveragePool", 12, 2, (int64_t[]){2, 2}, NULL, NULL), x, KILN_ERROR_DTYPE, "int32");
    kn_tensor_free(x);
}

static void test_pool_empty(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(0, 3, 4, 4), NULL);
    kt_node *n = pool_node("MaxPool", 12, 2, (int64_t[]){2, 2}, NULL, NULL);
    kiln_tensor *y = run1(n, x);
    kt_assert_shape(y, KT_DIMS(0, 3, 3, 3));
    kn_tensor_free(y);
    kt_node_free(n);
    n = kt_node_new("GlobalAveragePool", 22);
    y = run1(n, x);
    kt_assert_shape(y, KT_DIMS(0, 3, 1, 1));
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
}

/* The float32 global-pool fast path against the reference kernel, on odd
 * plane sizes, with NaN inputs. */
static void test_global_fast_path_matches_reference(void **state)
{
    (void)state;
    const int64_t sizes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 17, 13, 1}, {3, 4, 9, 9}};
    const char *ops[] = {"GlobalAveragePool", "GlobalMaxPool"};
    for (size_t o = 0; o < 2; o++)
        for (size_t k = 0; k < 4; k++) {
            kiln_tensor *x = kt_f32_random(4, sizes[k], (uint32_t)(k + 3), -5, 5);
            float *xd = x->data;
            if (kn_tensor_count(x) > 4)
                xd[3] = NAN;
            kt_node *n = kt_node_new(ops[o], 13);
            kiln_tensor *y = NULL;
            assert_int_equal(kt_run(n, 1, &x, 1, &y), KILN_OK);
            kn_pool_params p = {.nsp = 1, .kind = o ? KN_POOL_MAX : KN_POOL_AVG, .N = sizes[k][0],
                                .C = sizes[k][1]};
            p.in[0] = p.k[0] = sizes[k][2] * sizes[k][3];
            p.out[0] = p.stride[0] = p.dil[0] = 1;
            kiln_tensor *want = kt_f32(KT_DIMS(sizes[k][0], sizes[k][1], 1, 1), NULL);
            kn_pool_ref(&p, KILN_DTYPE_FLOAT, x->data, want->data, NULL, NULL);
            kt_assert_tensors_close(y, want, 1e-5, 1e-6);
            kn_tensor_free(x);
            kn_tensor_free(y);
            kn_tensor_free(want);
            kt_node_free(n);
        }
}

/* The 2-D float32 MaxPool fast path (no Indices) against the reference on
 * odd shapes: strides, pads, dilations, ceil_mode, NaN inputs. */
static void test_maxpool2d_fast_path_matches_reference(void **state)
{
    (void)state;
    struct { int64_t N, C, H, W, K, S, P, D, ceil; } cases[] = {
        {1, 1, 5, 5, 3, 2, 1, 1, 0}, {2, 3, 17, 13, 3, 2, 1, 1, 1}, {1, 4, 9, 11, 2, 2, 0, 1, 1},
        {1, 2, 12, 12, 3, 1, 1, 2, 0}, {1, 1, 7, 7, 5, 3, 2, 1, 1}, {1, 64, 112, 112, 3, 2, 1, 1, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        kiln_tensor *x = kt_f32_random(KT_DIMS(cases[k].N, cases[k].C, cases[k].H, cases[k].W), (uint32_t)k, -5, 5);
        ((float *)x->data)[1] = NAN;
        int64_t ks[2] = {cases[k].K, cases[k].K}, st[2] = {cases[k].S, cases[k].S};
        int64_t pads[4] = {cases[k].P, cases[k].P, cases[k].P, cases[k].P}, dil[2] = {cases[k].D, cases[k].D};
        kt_node *fast = kt_node_new("MaxPool", 12), *ref = kt_node_new("MaxPool", 12);
        kt_node *nodes[2] = {fast, ref};
        for (int i = 0; i < 2; i++) {
            kt_attr_ints(nodes[i], "kernel_shape", ks, 2);
            kt_attr_ints(nodes[i], "strides", st, 2);
            kt_attr_ints(nodes[i], "pads", pads, 4);
            kt_attr_ints(nodes[i], "dilations", dil, 2);
            kt_attr_int(nodes[i], "ceil_mode", cases[k].ceil);
        }
        kiln_tensor *got = NULL, *outs[2] = {NULL, NULL};
        assert_int_equal(kt_run(fast, 1, &x, 1, &got), KILN_OK);
        /* asking for Indices takes the reference kernel */
        assert_int_equal(kt_run(ref, 1, &x, 2, outs), KILN_OK);
        kt_assert_tensors_close(got, outs[0], 0, 0);
        kn_tensor_free(x);
        kn_tensor_free(got);
        kn_tensor_free(outs[0]);
        kn_tensor_free(outs[1]);
        kt_node_free(fast);
        kt_node_free(ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool2d_fast_path_matches_reference),
        cmocka_unit_test(test_global_fast_path_matches_reference),
        cmocka_unit_test(test_maxpool_indices),     cmocka_unit_test(test_pool_ceil_mode),
        cmocka_unit_test(test_avgpool_count_include_pad), cmocka_unit_test(test_pool_auto_pad),
        cmocka_unit_test(test_pool_dilations),      cmocka_unit_test(test_pool_3d_matches_naive),
        cmocka_unit_test(test_global_pools),        cmocka_unit_test(test_lppool),
        cmocka_unit_test(test_pool_dtypes),         cmocka_unit_test(test_maxpool_nan),
        cmocka_unit_test(test_pool_errors),         cmocka_unit_test(test_pool_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
