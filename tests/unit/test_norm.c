/* BatchNormalization (inference, spatial=0, training mode, old forms),
 * LayerNormalization, InstanceNormalization, GroupNormalization, LRN,
 * MeanVarianceNormalization. */
#include "harness.h"

#include <math.h>

static void free_all(kiln_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        kn_tensor_free(t[i]);
}

/* ---- BatchNormalization ------------------------------------------------ */

static void test_bn_inference_hand_computed(void **state)
{
    (void)state;
    static const int opsets[] = {6, 7, 9, 14, 15};
    for (size_t k = 0; k < sizeof opsets / sizeof opsets[0]; k++) {
        kt_node *n = kt_node_new("BatchNormalization", opsets[k]);
        kt_attr_float(n, "epsilon", 0.5f);
        if (opsets[k] < 7)
            kt_attr_int(n, "is_test", 1);
        kiln_tensor *in[5] = {kt_f32(KT_DIMS(1, 2, 1, 2), (float[]){1, 3, -1, 5}), kt_f32(KT_DIMS(2), (float[]){2, 1}),
                              kt_f32(KT_DIMS(2), (float[]){0, 10}), kt_f32(KT_DIMS(2), (float[]){1, 1}),
                              kt_f32(KT_DIMS(2), (float[]){3.5f, 0.5f})};
        kiln_tensor *y[1];
        assert_int_equal(kt_run(n, 5, in, 1, y), KILN_OK);
        /* c0: (x-1)/2*2 = x-1; c1: (x-1)/1*1+10 */
        kt_assert_f32_close(y[0], (float[]){0, 2, 8, 14}, 4, 1e-6, 1e-6);
        kn_tensor_free(y[0]);
        free_all(in, 5);
        kt_node_free(n);
    }
}

static void bn_reference(const float *x, int64_t N, int64_t C, int64_t S, const float *scale, const float *bias,
                         const double *mean, const double *var, double eps, float *y)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < S; s++) {
                int64_t i = (n * C + c) * S + s;
                y[i] = (float)((x[i] - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]);
            }
}

static void test_bn_ranks(void **state)
{
    (void)state;
    static const int64_t shapes[][6] = {{2, 4, 3}, {3, 4, 5, 1, 1}, {4, 2, 3, 3, 4, 5}};
    for (size_t k = 0; k < 3; k++) {
        int rank = (int)shapes[k][0];
        const int64_t *dims = &shapes[k][1];
        int64_t C = dims[1], N = dims[0], S = 1;
        for (int i = 2; i < rank; i++)
            S *= dims[i];
        kiln_tensor *in[5] = {kt_f32_random(rank, dims, 1, -2, 2), kt_f32_random(1, &C, 2, 0.5f, 2),
                              kt_f32_random(1, &C, 3, -1, 1), kt_f32_random(1, &C, 4, -1, 1),
                              kt_f32_random(1, &C, 5, 0.1f, 2)};
        double mean[8], var[8];
        for (int64_t c = 0; c < C; c++) {
            mean[c] = ((float *)in[3]->data)[c];
            var[c] = ((float *)in[4]->data)[c];
        }
        float *want = malloc(sizeof(float) * (size_t)(N * C * S));
        bn_reference(in[0]->data, N, C, S, in[1]->data, in[2]->data, mean, var, 1e-5, want);
        kt_node *n = kt_node_new("BatchNormalization", 15);
        kiln_tensor *y[1];
        assert_int_equal(kt_run(n, 5, in, 1, y), KILN_OK);
        kt_assert_shape(y[0], rank, dims);
        kt_assert_f32_close(y[0], want, N * C * S, 1e-5, 1e-5);
        kn_tensor_free(y[0]);
        kt_node_free(n);
        free(want);
        free_all(in, 5);
    }
}

/* Opset 7 spatial=0: statistics per (channel, position). */
static void test_bn_spatial0(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("BatchNormalization", 7);
    kt_attr_int(n, "spatial", 0);
    kt_attr_float(n, "epsilon", 0.0f);
    kiln_tensor *in[5] = {kt_f32(KT_DIMS(2, 2, 2), (float[]){1, 2, 3, 4, 5, 6, 7, 8}),
                          kt_f32(KT_DIMS(2, 2), (float[]){1, 2, 1, 2}), kt_f32(KT_DIMS(2, 2), (float[]){0, 0, 1, 1}),
                          kt_f32(KT_DIMS(2, 2), (float[]){1, 2, 3, 4}), kt_f32(KT_DIMS(2, 2), (float[]){1, 4, 1, 4})};
    kiln_tensor *y[1];
    assert_int_equal(kt_run(n, 5, in, 1, y), KILN_OK);
    /* element j of each sample: (x - mean[j]) / sqrt(var[j]) * scale[j] + bias[j] */
    kt_assert_f32_close(y[0], (float[]){0, 0, 1, 1, 4, 4, 5, 5}, 8, 1e-6, 1e-6);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    free_all(in, 5);
}

static void test_bn_training_mode(void **state)
{
    (void)state;
    const int64_t N = 2, C = 3, S = 20;
    kiln_tensor *in[5] = {kt_f32_random(KT_DIMS(2, 3, 4, 5), 7, -3, 3), kt_f32_random(KT_DIMS(3), 8, 0.5f, 1.5f),
                          kt_f32_random(KT_DIMS(3), 9, -1, 1), kt_f32_random(KT_DIMS(3), 10, -1, 1),
                          kt_f32_random(KT_DIMS(3), 11, 0.5f, 1)};
    const float *x = in[0]->data, *rm = in[3]->data, *rv = in[4]->data;
    double bm[3] = {0}, bv[3] = {0};
    for (int64_t c = 0; c < C; c++) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t s = 0; s < S; s++)
                bm[c] += x[(n * C + c) * S + s];
        bm[c] /= (double)(N * S);
        for (int64_t n = 0; n < N; n++)
            for (int64_t s = 0; s < S; s++) {
                double d = x[(n * C + c) * S + s] - bm[c];
                bv[c] += d * d;
            }
        bv[c] /= (double)(N * S);
    }
    float want[120], want_rm[3], want_rv[3];
    bn_reference(x, N, C, S, in[1]->data, in[2]->data, bm, bv, 1e-2, want);
    for (int c = 0; c < 3; c++) {
        want_rm[c] = (float)(rm[c] * 0.8 + bm[c] * 0.2);
        want_rv[c] = (float)(rv[c] * 0.8 + bv[c] * 0.2);
    }
    kt_node *n = kt_node_new("BatchNormalization", 15);
    kt_attr_int(n, "training_mode", 1);
    kt_attr_float(n, "epsilon", 1e-2f);
    kt_attr_float(n, "momentum", 0.8f);
    kiln_tensor *y[3];
    assert_int_equal(kt_run(n, 5, in, 3, y), KILN_OK);
    kt_assert_f32_close(y[0], want, 120, 1e-5, 1e-5);
    kt_assert_shape(y[1], KT_DIMS(3));
    kt_assert_f32_close(y[1], want_rm, 3, 1e-6, 1e-6);
    kt_assert_f32_close(y[2], want_rv, 3, 1e-6, 1e-6);
    free_all(y, 3);
    kt_node_free(n);
    /* opset 6, is_test=0 (the default): normalize with batch statistics */
    n = kt_node_new("BatchNormalization", 6);
    kt_attr_float(n, "epsilon", 1e-2f);
    assert_int_equal(kt_run(n, 5, in, 1, y), KILN_OK);
    kt_assert_f32_close(y[0], want, 120, 1e-5, 1e-5);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    free_all(in, 5);
}

static void test_bn_errors_and_dtypes(void **state)
{
    (void)state;
    kiln_tensor *p3 = kt_f32(KT_DIMS(3), (float[]){1, 1, 1}), *p2 = kt_f32(KT_DIMS(2), (float[]){1, 1});
    kiln_tensor *x = kt_f32(KT_DIMS(1, 3, 2), NULL), *x1 = kt_f32(KT_DIMS(3), NULL), *y[5];
    kt_node *n = kt_node_new("BatchNormalization", 15);
    assert_int_equal(kt_run(n, 5, (kiln_tensor *[]){x, p3, p3, p3, p2}, 1, y), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kn_error_message(), "var"));
    assert_int_equal(kt_run(n, 5, (kiln_tensor *[]){x1, p3, p3, p3, p3}, 1, y), KILN_ERROR_SHAPE);
    assert_int_equal(kt_run(n, 4, (kiln_tensor *[]){x, p3, p3, p3}, 1, y), KILN_ERROR_MODEL);
    kt_node_free(n);
    n = kt_node_new("BatchNormalization", 9);
    assert_int_equal(kt_run(n, 5, (kiln_tensor *[]){x, p3, p3, p3, p3}, 5, y), KILN_ERROR_UNSUPPORTED);
    kt_node_free(n);
    /* float64 data with float32 statistics (opset 15 allows mixing) */
    kiln_tensor *xd = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1, 3, 1), (double[]){1, 2, 3});
    kiln_tensor *m = kt_f32(KT_DIMS(3), (float[]){1, 1, 1});
    n = kt_node_new("BatchNormalization", 15);
    kt_attr_float(n, "epsilon", 0.0f);
    assert_int_equal(kt_run(n, 5, (kiln_tensor *[]){xd, p3, p3, m, p3}, 1, y), KILN_OK);
    kiln_tensor *w = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1, 3, 1), (double[]){1, 2, 3});
    kt_assert_tensors_close(y[0], w, 1e-12, 0);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    kn_tensor_free(w);
    kn_tensor_free(xd);
    kn_tensor_free(m);
    kiln_tensor *xi = kt_i64(KT_DIMS(1, 3), NULL);
    n = kt_node_new("BatchNormalization", 15);
    assert_int_equal(kt_run(n, 5, (kiln_tensor *[]){xi, p3, p3, p3, p3}, 1, y), KILN_ERROR_DTYPE);
    kt_node_free(n);
    kn_tensor_free(xi);
    kn_tensor_free(p3);
    kn_tensor_free(p2);
    kn_tensor_free(x);
    kn_tensor_free(x1);
}

/* ---- LayerNormalization ------------------------------------------------ */

static void check_layernorm(int rank, const int64_t *dims, int64_t axis, bool with_bias, bool scalar_scale)
{
    int a = (int)(axis < 0 ? axis + rank : axis);
    int64_t rows = 1, D = 1;
    for (int i = 0; i < rank; i++)
        *(i < a ? &rows : &D) *= dims[i];
    kiln_tensor *x = kt_f32_random(rank, dims, 31, -2, 2);
    kiln_tensor *scale = scalar_scale ? kt_f32(KT_DIMS(1), (float[]){1.5f}) : kt_f32_random(rank - a, dims + a, 32, 0, 2);
    kiln_tensor *bias = with_bias ? kt_f32_random(rank - a, dims + a, 33, -1, 1) : NULL;
    float *want = malloc(sizeof(float) * (size_t)(rows * D)), *wm = malloc(sizeof(float) * (size_t)rows);
    float *wi = malloc(sizeof(float) * (size_t)rows);
    const float *xd = x->data, *sd = scale->data, *bd = bias ? bias->data : NULL;
    for (int64_t r = 0; r < rows; r++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < D; i++)
            m += xd[r * D + i];
        m /= (double)D;
        for (int64_t i = 0; i < D; i++)
            v += (xd[r * D + i] - m) * (xd[r * D + i] - m);
        v /= (double)D;
        double inv = 1 / sqrt(v + 1e-5);
        wm[r] = (float)m;
        wi[r] = (float)inv;
        for (int64_t i = 0; i < D; i++)
            want[r * D + i] = (float)((xd[r * D + i] - m) * inv * sd[scalar_scale ? 0 : i] + (bd ? bd[i] : 0));
    }
    kt_node *n = kt_node_new("LayerNormalization", 17);
    kt_attr_int(n, "axis", axis);
    kiln_tensor *y[3];
    assert_int_equal(kt_run(n, bias ? 3 : 2, (kiln_tensor *[]){x, scale, bias}, 3, y), KILN_OK);
    kt_assert_f32_close(y[0], want, rows * D, 1e-5, 1e-5);
    int64_t sdims[KN_MAX_RANK];
    for (int i = 0; i < rank; i++)
        sdims[i] = i < a ? dims[i] : 1;
    kt_assert_shape(y[1], rank, sdims);
    kt_assert_f32_close(y[1], wm, rows, 1e-5, 1e-6);
    kt_assert_f32_close(y[2], wi, rows, 1e-5, 1e-6);
    free_all(y, 3);
    kt_node_free(n);
    free(want);
    free(wm);
    free(wi);
    kn_tensor_free(x);
    kn_tensor_free(scale);
    kn_tensor_free(bias);
}

static void test_layernorm(void **state)
{
    (void)state;
    for (int64_t axis = -4; axis < 4; axis++)
        check_layernorm(KT_DIMS(2, 3, 4, 5), axis, true, false);
    check_layernorm(KT_DIMS(3, 4), -1, false, false);
    check_layernorm(KT_DIMS(3, 17), 1, true, true);
    check_layernorm(KT_DIMS(1, 1), 1, true, false);
}

static void test_layernorm_hand_and_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(1, 2), (float[]){1, 3}), *s = kt_f32(KT_DIMS(2), (float[]){1, 2}), *y[1];
    kt_node *n = kt_node_new("LayerNormalization", 17);
    kt_attr_float(n, "epsilon", 0.0f);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, s}, 1, y), KILN_OK);
    kt_assert_f32_close(y[0], (float[]){-1, 2}, 2, 1e-6, 1e-6);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    kiln_tensor *bad = kt_f32(KT_DIMS(3), NULL);
    n = kt_node_new("LayerNormalization", 17);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, bad}, 1, y), KILN_ERROR_SHAPE);
    kt_node_free(n);
    n = kt_node_new("LayerNormalization", 17);
    kt_attr_int(n, "stash_type", 0);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, s}, 1, y), KILN_ERROR_UNSUPPORTED);
    kt_node_free(n);
    n = kt_node_new("LayerNormalization", 17);
    kt_attr_int(n, "axis", 2);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, s}, 1, y), KILN_ERROR_MODEL);
    kt_node_free(n);
    kn_tensor_free(bad);
    kn_tensor_free(x);
    kn_tensor_free(s);
}

static void test_rmsnorm(void **state)
{
    (void)state;
    /* rows [3,4] and [0,0]: rms 3.5355 and 0 */
    kiln_tensor *x = kt_f32(KT_DIMS(2, 2), (float[]){3, 4, 0, 0}), *s = kt_f32(KT_DIMS(2), (float[]){1, 2}), *y[1];
    kt_node *n = kt_node_new("RMSNormalization", 23);
    kt_attr_float(n, "epsilon", 0.0f);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, s}, 1, y), KILN_OK);
    float r = sqrtf(12.5f);
    kt_assert_f32_close(y[0], (float[]){3 / r, 8 / r, NAN, NAN}, 4, 1e-6, 1e-6);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    n = kt_node_new("RMSNormalization", 23);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *s4 = kt_f32(KT_DIMS(1), (float[]){1});
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, s4}, 1, y), KILN_OK);
    float r2 = sqrtf(25.0f / 4);
    kt_assert_f32_close(y[0], (float[]){3 / r2, 4 / r2, 0, 0}, 4, 1e-6, 1e-6);
    kn_tensor_free(y[0]);
    /* no bias input and no statistics outputs */
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){x, s4, s4}, 1, y), KILN_ERROR_MODEL);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(s);
    kn_tensor_free(s4);
}

/* ---- InstanceNormalization / GroupNormalization ------------------------ */

static void test_instancenorm(void **state)
{
    (void)state;
    /* The spec's example. */
    kiln_tensor *x = kt_f32(KT_DIMS(1, 2, 1, 3), (float[]){-1, 0, 1, 2, 3, 4});
    kiln_tensor *s = kt_f32(KT_DIMS(2), (float[]){1, 1.5f}), *b = kt_f32(KT_DIMS(2), (float[]){0, 1}), *y[1];
    kt_node *n = kt_node_new("InstanceNormalization", 6);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){x, s, b}, 1, y), KILN_OK);
    kt_assert_f32_close(y[0], (float[]){-1.22473562f, 0, 1.22473562f, -0.83710337f, 1, 2.83710337f}, 6, 1e-5, 1e-5);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    kiln_tensor *bad = kt_f32(KT_DIMS(3), NULL);
    n = kt_node_new("InstanceNormalization", 22);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){x, bad, b}, 1, y), KILN_ERROR_SHAPE);
    kt_node_free(n);
    kn_tensor_free(bad);
    kn_tensor_free(x);
    kn_tensor_free(s);
    kn_tensor_free(b);
}

static void test_groupnorm(void **state)
{
    (void)state;
    const int64_t N = 2, C = 4, S = 3, G = 2;
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 4, 3), 41, -2, 2);
    kiln_tensor *sc = kt_f32_random(KT_DIMS(4), 42, 0.5f, 1.5f), *bi = kt_f32_random(KT_DIMS(4), 43, -1, 1);
    kiln_tensor *sg = kt_f32(KT_DIMS(2), (float[]){2, 3}), *bg = kt_f32(KT_DIMS(2), (float[]){-1, 1});
    float want21[24], want18[24];
    const float *xd = x->data, *sd = sc->data, *bd = bi->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            const float *blk = xd + (n * C + g * 2) * S;
            double m = 0, v = 0;
            for (int i = 0; i < 6; i++)
                m += blk[i];
            m /= 6;
            for (int i = 0; i < 6; i++)
                v += (blk[i] - m) * (blk[i] - m);
            v /= 6;
            for (int i = 0; i < 6; i++) {
                int64_t c = g * 2 + i / 3, at = (n * C + g * 2) * S + i;
                double z = (blk[i] - m) / sqrt(v + 1e-2);
                want21[at] = (float)(z * sd[c] + bd[c]);
                want18[at] = (float)(z * (g ? 3 : 2) + (g ? 1 : -1));
            }
        }
    kiln_tensor *y[1];
    kt_node *n = kt_node_new("GroupNormalization", 21);
    kt_attr_int(n, "num_groups", 2);
    kt_attr_float(n, "epsilon", 1e-2f);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){x, sc, bi}, 1, y), KILN_OK);
    kt_assert_f32_close(y[0], want21, 24, 1e-5, 1e-5);
    kn_tensor_free(y[0]);
    /* per-channel parameters are wrong at opset 21 only when counts differ */
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){x, sg, bg}, 1, y), KILN_ERROR_SHAPE);
    kt_node_free(n);
    n = kt_node_new("GroupNormalization", 18);
    kt_attr_int(n, "num_groups", 2);
    kt_attr_float(n, "epsilon", 1e-2f);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){x, sg, bg}, 1, y), KILN_OK);
    kt_assert_f32_close(y[0], want18, 24, 1e-5, 1e-5);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    n = kt_node_new("GroupNormalization", 21);
    kt_attr_int(n, "num_groups", 3);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){x, sc, bi}, 1, y), KILN_ERROR_SHAPE);
    kt_node_free(n);
    n = kt_node_new("GroupNormalization", 21);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){x, sc, bi}, 1, y), KILN_ERROR_MODEL); /* num_groups missing */
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(sc);
    kn_tensor_free(bi);
    kn_tensor_free(sg);
    kn_tensor_free(bg);
}

/* ---- LRN / MVN ---------------------------------------------------------- */

static void check_lrn(int64_t size, float alpha, float beta, float bias)
{
    const int64_t N = 2, C = 5, S = 6;
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 5, 2, 3), 51, -2, 2), *y[1];
    const float *xd = x->data;
    float want[60];
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < S; s++) {
                double sq = 0;
                for (int64_t j = c - lo; j <= c + hi; j++)
                    if (j >= 0 && j < C)
                        sq += (double)xd[(n * C + j) * S + s] * xd[(n * C + j) * S + s];
                int64_t at = (n * C + c) * S + s;
                want[at] = (float)(xd[at] / pow(bias + alpha / (double)size * sq, beta));
            }
    kt_node *n = kt_node_new("LRN", 13);
    kt_attr_int(n, "size", size);
    kt_attr_float(n, "alpha", alpha);
    kt_attr_float(n, "beta", beta);
    kt_attr_float(n, "bias", bias);
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){x}, 1, y), KILN_OK);
    kt_assert_f32_close(y[0], want, 60, 1e-5, 1e-6);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    kn_tensor_free(x);
}

static void test_lrn(void **state)
{
    (void)state;
    check_lrn(3, 0.0002f, 0.5f, 2.0f);
    check_lrn(4, 0.5f, 0.75f, 1.0f);
    check_lrn(1, 1.0f, 1.0f, 1.0f);
    kiln_tensor *x = kt_f32(KT_DIMS(1, 2, 1, 1), (float[]){1, 1}), *y[1];
    kt_node *n = kt_node_new("LRN", 13);
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){x}, 1, y), KILN_ERROR_MODEL); /* size required */
    kt_node_free(n);
    n = kt_node_new("LRN", 13);
    kt_attr_int(n, "size", 2);
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){x}, 1, y), KILN_OK);
    /* defaults alpha 1e-4, beta 0.75, bias 1: window {0,1} for c0, {1} for c1 */
    kt_assert_f32_close(y[0], (float[]){(float)(1 / pow(1 + 1e-4, 0.75)), (float)(1 / pow(1 + 0.5e-4, 0.75))}, 2,
                        1e-7, 0);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    kn_tensor_free(x);
}

static void test_mvn(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 3, 2, 2), 61, -1, 1), *y[1];
    const float *xd = x->data;
    float want[24];
    for (int c = 0; c < 3; c++) { /* default axes [0, 2, 3]: per channel */
        double m = 0, v = 0;
        for (int n = 0; n < 2; n++)
            for (int s = 0; s < 4; s++)
                m += xd[(n * 3 + c) * 4 + s];
        m /= 8;
        for (int n = 0; n < 2; n++)
            for (int s = 0; s < 4; s++)
                v += (xd[(n * 3 + c) * 4 + s] - m) * (xd[(n * 3 + c) * 4 + s] - m);
        double sd = sqrt(v / 8) + 1e-9;
        for (int n = 0; n < 2; n++)
            for (int s = 0; s < 4; s++)
                want[(n * 3 + c) * 4 + s] = (float)((xd[(n * 3 + c) * 4 + s] - m) / sd);
    }
    kt_node *n = kt_node_new("MeanVarianceNormalization", 13);
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){x}, 1, y), KILN_OK);
    kt_assert_f32_close(y[0], want, 24, 1e-5, 1e-5);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    n = kt_node_new("MeanVarianceNormalization", 9);
    kt_attr_ints(n, "axes", (int64_t[]){-1}, 1);
    kiln_tensor *r = kt_f32(KT_DIMS(2, 2), (float[]){1, 3, 5, 5});
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){r}, 1, y), KILN_OK);
    kt_assert_f32_close(y[0], (float[]){-1, 1, 0, 0}, 4, 1e-6, 1e-6);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    kn_tensor_free(r);
    kn_tensor_free(x);
}

static void test_half_precision(void **state)
{
    (void)state;
    uint16_t h[4] = {kn_float_to_half(1), kn_float_to_half(3), kn_float_to_half(-1), kn_float_to_half(5)};
    kiln_tensor *x = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2, 2), h);
    kiln_tensor *s = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(2), (uint16_t[]){kn_float_to_half(1), kn_float_to_half(1)});
    kiln_tensor *y[1];
    kt_node *n = kt_node_new("LayerNormalization", 17);
    kt_attr_float(n, "epsilon", 0.0f);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, s}, 1, y), KILN_OK);
    assert_int_equal(y[0]->dtype, KILN_DTYPE_FLOAT16);
    const uint16_t *yh = y[0]->data;
    assert_true(kn_half_to_float(yh[0]) == -1 && kn_half_to_float(yh[1]) == 1 && kn_half_to_float(yh[2]) == -1 &&
                kn_half_to_float(yh[3]) == 1);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(s);
}

/* A standalone inference BN with constant parameters runs as a scale-shift
 * precomputed at load (finalize); it must match the reference path. */
static void test_bn_precomputed_matches_reference(void **state)
{
    (void)state;
    const int64_t shapes[][4] = {{1, 3, 5, 7}, {2, 17, 3, 1}, {4, 1, 1, 1}};
    for (size_t k = 0; k < 3; k++) {
        int64_t C = shapes[k][1];
        kiln_tensor *in[5];
        in[0] = kt_f32_random(4, shapes[k], 1, -3, 3);
        in[1] = kt_f32_random(KT_DIMS(C), 2, 0.5f, 1.5f);
        in[2] = kt_f32_random(KT_DIMS(C), 3, -1, 1);
        in[3] = kt_f32_random(KT_DIMS(C), 4, -1, 1);
        in[4] = kt_f32_random(KT_DIMS(C), 5, 0.1f, 2.0f);
        kt_node *ref = kt_node_new("BatchNormalization", 15), *fast = kt_node_new("BatchNormalization", 15);
        kiln_tensor *want = NULL, *got = NULL;
        assert_int_equal(kt_run(ref, 5, in, 1, &want), KILN_OK);
        assert_int_equal(kt_run_const(fast, KN_ISA_GENERIC, 0x1eu, 5, in, 1, &got), KILN_OK);
        kt_assert_tensors_close(got, want, 1e-5, 1e-6);
        for (int i = 0; i < 5; i++)
            kn_tensor_free(in[i]);
        kn_tensor_free(want);
        kn_tensor_free(got);
        kt_node_free(ref);
        kt_node_free(fast);
    }
}

/* LayerNormalization: default axis -1, negative axes, scale and bias
 * broadcast to the normalized shape, empty batches, the Mean/InvStdDev
 * outputs' shapes. */
static void test_layernorm_edge_cases(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 2), (float[]){1, 3, 2, 6}), *y[3];
    kiln_tensor *s = kt_f32(KT_DIMS(2), (float[]){1, 1}), *b = kt_f32(KT_DIMS(1), (float[]){0.5f});
    kt_node *n = kt_node_new("LayerNormalization", 17);
    kt_attr_float(n, "epsilon", 0.0f);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){x, s, b}, 3, y), KILN_OK);
    kt_assert_f32_close(y[0], (float[]){-0.5f, 1.5f, -0.5f, 1.5f}, 4, 1e-6, 1e-6);
    kt_assert_shape(y[1], KT_DIMS(2, 1));
    kt_assert_f32_close(y[1], (float[]){2, 4}, 2, 1e-6, 0);
    kt_assert_f32_close(y[2], (float[]){1, 0.5f}, 2, 1e-6, 0);
    for (int i = 0; i < 3; i++)
        kn_tensor_free(y[i]);
    kt_node_free(n);
    /* axis -2 normalizes the whole [2,2] */
    kiln_tensor *s4 = kt_f32(KT_DIMS(2, 2), (float[]){1, 1, 1, 1});
    n = kt_node_new("LayerNormalization", 17);
    kt_attr_int(n, "axis", -2);
    kt_attr_float(n, "epsilon", 0.0f);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, s4}, 1, y), KILN_OK);
    float r = 1.0f / sqrtf(3.5f);
    kt_assert_f32_close(y[0], (float[]){-2 * r, 0, -r, 3 * r}, 4, 1e-6, 1e-6);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    /* an empty batch */
    kiln_tensor *e = kt_f32(KT_DIMS(0, 2), NULL);
    n = kt_node_new("LayerNormalization", 17);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){e, s}, 3, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(0, 2));
    kt_assert_shape(y[1], KT_DIMS(0, 1));
    for (int i = 0; i < 3; i++)
        kn_tensor_free(y[i]);
    kt_node_free(n);
    /* axis -3 is outside the rank */
    n = kt_node_new("LayerNormalization", 17);
    kt_attr_int(n, "axis", -3);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, s}, 1, y), KILN_ERROR_MODEL);
    kt_node_free(n);
    kn_tensor_free(e);
    kn_tensor_free(s4);
    kn_tensor_free(b);
    kn_tensor_free(s);
    kn_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bn_precomputed_matches_reference),
        cmocka_unit_test(test_bn_inference_hand_computed),
        cmocka_unit_test(test_bn_ranks),
        cmocka_unit_test(test_bn_spatial0),
        cmocka_unit_test(test_bn_training_mode),
        cmocka_unit_test(test_bn_errors_and_dtypes),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_layernorm_hand_and_errors),
        cmocka_unit_test(test_layernorm_edge_cases),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_instancenorm),
        cmocka_unit_test(test_groupnorm),
        cmocka_unit_test(test_lrn),
        cmocka_unit_test(test_mvn),
        cmocka_unit_test(test_half_precision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
