/* ai.onnx.preview.training optimizers: Adagrad, Momentum (standard and
 * Nesterov) and Adam against the spec's formulas, with T = 0 and T > 0,
 * several tensors per node, default attributes, double, empty tensors,
 * omitted trailing outputs and refused inputs. */
#include "harness.h"

#include <math.h>

#define DOMAIN "ai.onnx.preview.training"

static kiln_tensor *scalar_f32(float v)
{
    return kt_f32(0, NULL, &v);
}

static kiln_tensor *scalar_i64(int64_t v)
{
    return kt_i64(0, NULL, &v);
}

/* Runs the node (freed), frees the inputs; outputs into out. */
static kiln_status run_opt(kt_node *n, int n_in, kiln_tensor **in, int n_out, kiln_tensor **out)
{
    for (int i = 0; i < n_out; i++)
        out[i] = NULL;
    kiln_status s = kt_run(n, n_in, in, n_out, out);
    kt_node_free(n);
    for (int i = 0; i < n_in; i++)
        kn_tensor_free(in[i]);
    return s;
}

static void free_outs(kiln_tensor **out, int n)
{
    for (int i = 0; i < n; i++)
        kn_tensor_free(out[i]);
}

static void test_adagrad(void **state)
{
    (void)state;
    for (int64_t t = 0; t <= 3; t += 3) {
        kt_node *n = kt_node_new_domain(DOMAIN, "Adagrad", 1);
        kt_attr_float(n, "decay_factor", 0.1f);
        kt_attr_float(n, "epsilon", 1e-5f);
        kt_attr_float(n, "norm_coefficient", 0.001f);
        const float x[3] = {1, -2, 0.5f}, g[3] = {-1, 0.25f, 3}, h[3] = {2, 0, 1};
        kiln_tensor *out[2];
        assert_int_equal(run_opt(n, 5,
                                 (kiln_tensor *[]){scalar_f32(0.1f), scalar_i64(t), kt_f32(KT_DIMS(3), x),
                                                   kt_f32(KT_DIMS(3), g), kt_f32(KT_DIMS(3), h)},
                                 2, out),
                         KILN_OK);
        float wx[3], wh[3];
        for (int i = 0; i < 3; i++) {
            double gr = 0.001 * x[i] + g[i], hn = h[i] + gr * gr;
            wh[i] = (float)hn;
            wx[i] = (float)(x[i] - 0.1 / (1 + t * 0.1) * gr / (sqrt(hn) + 1e-5));
        }
        kt_assert_f32_close(out[0], wx, 3, 1e-6, 1e-7);
        kt_assert_f32_close(out[1], wh, 3, 1e-6, 1e-7);
        if (t == 0) /* ONNX's own example */
            assert_true(fabsf(((float *)out[0]->data)[0] - 1.0576962f) < 1e-6f);
        free_outs(out, 2);
    }
}

static void test_momentum_modes(void **state)
{
    (void)state;
    const float x[2] = {1.2f, 2.8f}, g[2] = {-0.94f, -2.5f}, v[2] = {1.7f, 3.6f};
    for (int nesterov = 0; nesterov < 2; nesterov++)
        for (int64_t t = 0; t <= 1; t++) {
            kt_node *n = kt_node_new_domain(DOMAIN, "Momentum", 1);
            kt_attr_float(n, "alpha", 0.95f);
            kt_attr_float(n, "beta", 0.1f);
            kt_attr_float(n, "norm_coefficient", 0.001f);
            kt_attr_string(n, "mode", nesterov ? "nesterov" : "standard");
            kiln_tensor *out[2];
            assert_int_equal(run_opt(n, 5,
                                     (kiln_tensor *[]){scalar_f32(0.1f), scalar_i64(t), kt_f32(KT_DIMS(2), x),
                                                       kt_f32(KT_DIMS(2), g), kt_f32(KT_DIMS(2), v)},
                                     2, out),
                             KILN_OK);
            float wx[2], wv[2];
            for (int i = 0; i < 2; i++) {
                /* the gradient's coefficient is 1 on the first step */
                double gr = 0.001 * x[i] + g[i], vn = 0.95 * v[i] + (t > 0 ? 0.1 : 1.0) * gr;
                wv[i] = (float)vn;
                wx[i] = (float)(nesterov ? x[i] - 0.1 * (gr + 0.95 * vn) : x[i] - 0.1 * vn);
            }
            kt_assert_f32_close(out[0], wx, 2, 1e-6, 1e-7);
            kt_assert_f32_close(out[1], wv, 2, 1e-6, 1e-7);
            free_outs(out, 2);
        }
}

/* Two tensors (shapes [1] and [2,2]), bias correction at T = 5, post
 * regularization, default alpha/beta, in double. */
static void test_adam_multiple_double(void **state)
{
    (void)state;
    kt_node *n = kt_node_new_domain(DOMAIN, "Adam", 1);
    kt_attr_float(n, "epsilon", 0.01f);
    kt_attr_float(n, "norm_coefficient", 0.001f);
    kt_attr_float(n, "norm_coefficient_post", 0.02f);
    double x1 = 1, g1 = -1, v1 = 2, h1 = 0.5;
    double x2[4] = {1, 2, -3, 0}, g2[4] = {-1, -3, 0.5, 2}, v2[4] = {4, 1, 0, -1}, h2[4] = {1, 10, 0, 3};
    double r = 0.1;
    kiln_tensor *in[10] = {kt_tensor(KILN_DTYPE_DOUBLE, 0, NULL, &r),
                           scalar_i64(5),
                           kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1), &x1),
                           kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 2), x2),
                           kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1), &g1),
                           kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 2), g2),
                           kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1), &v1),
                           kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 2), v2),
                           kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1), &h1),
                           kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 2), h2)};
    kiln_tensor *out[6];
    assert_int_equal(run_opt(n, 10, in, 6, out), KILN_OK);
    const double a = (double)0.9f, b = (double)0.999f, eps = (double)0.01f, nc = (double)0.001f,
                 post = (double)0.02f;
    const double rate = 0.1 * sqrt(1 - pow(b, 5)) / (1 - pow(a, 5));
    for (int k = 0; k < 5; k++) {
        int tensor = k == 0 ? 0 : 1, i = k == 0 ? 0 : k - 1;
        double xv = tensor ? x2[i] : x1, gv = tensor ? g2[i] : g1, vv = tensor ? v2[i] : v1, hv = tensor ? h2[i] : h1;
        double gr = nc * xv + gv, vn = a * vv + (1 - a) * gr, hn = b * hv + (1 - b) * gr * gr;
        double xn = (1 - post) * (xv - rate * vn / (sqrt(hn) + eps));
        assert_int_equal(out[tensor]->dtype, KILN_DTYPE_DOUBLE);
        assert_true(fabs(((double *)out[tensor]->data)[i] - xn) < 1e-12);
        assert_true(fabs(((double *)out[2 + tensor]->data)[i] - vn) < 1e-12);
        assert_true(fabs(((double *)out[4 + tensor]->data)[i] - hn) < 1e-12);
    }
    kt_assert_shape(out[1], KT_DIMS(2, 2));
    kt_assert_shape(out[5], KT_DIMS(2, 2));
    free_outs(out, 6);
}

/* Only X' requested (trailing state outputs omitted); empty X. */
static void test_omitted_outputs_and_empty(void **state)
{
    (void)state;
    kt_node *n = kt_node_new_domain(DOMAIN, "Adam", 1);
    kiln_tensor *out[3];
    assert_int_equal(run_opt(n, 6,
                             (kiln_tensor *[]){scalar_f32(0.5f), scalar_i64(0), kt_f32(KT_DIMS(1), (float[]){1}),
                                               kt_f32(KT_DIMS(1), (float[]){2}), kt_f32(KT_DIMS(1), (float[]){0}),
                                               kt_f32(KT_DIMS(1), (float[]){0})},
                             1, out),
                     KILN_OK);
    /* defaults: v = 0.1 * 2, h = 0.001 * 4, epsilon 0 */
    kt_assert_f32_close(out[0], (float[]){(float)(1 - 0.5 * 0.2 / sqrt((double)(1 - 0.999f) * 4))}, 1, 1e-5, 0);
    kn_tensor_free(out[0]);
    n = kt_node_new_domain(DOMAIN, "Adagrad", 1);
    assert_int_equal(run_opt(n, 5,
                             (kiln_tensor *[]){scalar_f32(0.5f), scalar_i64(0), kt_f32(KT_DIMS(0, 3), NULL),
                                               kt_f32(KT_DIMS(0, 3), NULL), kt_f32(KT_DIMS(0, 3), NULL)},
                             2, out),
                     KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(0, 3));
    kt_assert_shape(out[1], KT_DIMS(0, 3));
    free_outs(out, 2);
}

static kt_node *momentum(const char *mode)
{
    kt_node *n = kt_node_new_domain(DOMAIN, "Momentum", 1);
    kt_attr_float(n, "alpha", 0.9f);
    kt_attr_float(n, "beta", 0.1f);
    kt_attr_float(n, "norm_coefficient", 0);
    if (mode)
        kt_attr_string(n, "mode", mode);
    return n;
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *out[4];
#define V2() kt_f32(KT_DIMS(2), NULL)
    /* Momentum's attributes are all required; mode is one of two */
    assert_int_equal(run_opt(momentum(NULL), 5, (kiln_tensor *[]){scalar_f32(1), scalar_i64(0), V2(), V2(), V2()}, 2,
                             out),
                     KILN_ERROR_MODEL);
    assert_int_equal(run_opt(momentum("fast"), 5, (kiln_tensor *[]){scalar_f32(1), scalar_i64(0), V2(), V2(), V2()},
                             2, out),
                     KILN_ERROR_MODEL);
    kt_node *n = kt_node_new_domain(DOMAIN, "Momentum", 1);
    kt_attr_string(n, "mode", "standard");
    assert_int_equal(run_opt(n, 5, (kiln_tensor *[]){scalar_f32(1), scalar_i64(0), V2(), V2(), V2()}, 2, out),
                     KILN_ERROR_MODEL);
    /* inputs not in groups of three */
    assert_int_equal(run_opt(momentum("standard"), 4, (kiln_tensor *[]){scalar_f32(1), scalar_i64(0), V2(), V2()}, 2,
                             out),
                     KILN_ERROR_MODEL);
    /* too many outputs */
    assert_int_equal(run_opt(momentum("standard"), 5, (kiln_tensor *[]){scalar_f32(1), scalar_i64(0), V2(), V2(), V2()},
                             3, out),
                     KILN_ERROR_MODEL);
    /* gradient of another shape or dtype */
    assert_int_equal(run_opt(momentum("standard"), 5,
                             (kiln_tensor *[]){scalar_f32(1), scalar_i64(0), V2(), kt_f32(KT_DIMS(3), NULL), V2()}, 2,
                             out),
                     KILN_ERROR_SHAPE);
    assert_int_equal(run_opt(momentum("standard"), 5,
                             (kiln_tensor *[]){scalar_f32(1), scalar_i64(0), V2(),
                                               kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2), NULL), V2()},
                             2, out),
                     KILN_ERROR_SHAPE);
    /* R must be one value; T must be int64; X must be float */
    assert_int_equal(run_opt(momentum("standard"), 5, (kiln_tensor *[]){V2(), scalar_i64(0), V2(), V2(), V2()}, 2, out),
                     KILN_ERROR_SHAPE);
    assert_int_equal(run_opt(momentum("standard"), 5,
                             (kiln_tensor *[]){scalar_f32(1), kt_i32(0, NULL, (int32_t[]){0}), V2(), V2(), V2()}, 2,
                             out),
                     KILN_ERROR_DTYPE);
    assert_int_equal(run_opt(momentum("standard"), 5,
                             (kiln_tensor *[]){scalar_f32(1), scalar_i64(0), kt_i64(KT_DIMS(2), NULL),
                                               kt_i64(KT_DIMS(2), NULL), kt_i64(KT_DIMS(2), NULL)},
                             2, out),
                     KILN_ERROR_DTYPE);
    /* the ops live only in the training domain */
    assert_null(kn_op_find("", "Adam", 18));
    assert_non_null(kn_op_find(DOMAIN, "Adam", 1));
#undef V2
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adagrad),
        cmocka_unit_test(test_momentum_modes),
        cmocka_unit_test(test_adam_multiple_double),
        cmocka_unit_test(test_omitted_outputs_and_empty),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
