/* Unary elementwise ops: every formula against a double-precision reference,
 * dtype variants (float64, float16, ints), attributes and defaults, Clip in
 * both opset forms, empty and scalar tensors, and refused inputs. */
#include "harness.h"

#include <float.h>
#include <math.h>

#define N_SAMPLES 17
/* Odd count (not a multiple of 8/16) mixing signs, zero and halves. */
static const float samples[N_SAMPLES] = {-3.5f, -2.5f, -1.5f, -0.75f, -0.5f, -0.1f, 0.0f,  0.1f, 0.3f,
                                         0.5f,  0.75f, 1.0f,  1.5f,   2.5f,  3.0f,  4.25f, 7.0f};

static kiln_tensor *run1(kt_node *n, kiln_tensor *x)
{
    kiln_tensor *y = NULL;
    kiln_tensor *in[1] = {x};
    kiln_status s = kt_run(n, 1, in, 1, &y);
    if (s != KILN_OK)
        fail_msg("run failed: %s", kiln_last_error());
    return y;
}

typedef double (*ref_fn)(double x);

static double r_relu(double x) { return x < 0 ? 0 : x; }
/* attributes are float32, so the references use float32-rounded constants */
static double r_leaky_default(double x) { return x < 0 ? (double)0.01f * x : x; }
static double r_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double r_hsigmoid_default(double x) { return fmax(0, fmin(1, (double)0.2f * x + 0.5)); }
static double r_hswish(double x) { return x * fmax(0, fmin(1, x / 6 + 0.5)); }
static double r_neg(double x) { return -x; }
static double r_recip(double x) { return 1 / x; }
static double r_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_elu_default(double x) { return x < 0 ? exp(x) - 1 : x; }
static double r_selu_default(double x)
{
    const double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
    return x <= 0 ? g * (a * exp(x) - a) : g * x;
}
static double r_softplus(double x) { return log(exp(x) + 1); }
static double r_softsign(double x) { return x / (1 + fabs(x)); }
static double r_sign(double x) { return x > 0 ? 1 : (x < 0 ? -1 : 0); }
static double r_mish(double x) { return x * tanh(log1p(exp(x))); }
static double r_threlu_default(double x) { return x > 1 ? x : 0; }
static double r_celu_default(double x) { return fmax(0, x) + fmin(0, exp(x) - 1); }
static double r_shrink_default(double x) { return x < -0.5 ? x : (x > 0.5 ? x : 0); }

typedef struct ref_case {
    const char *op;
    int opset;
    ref_fn ref;
    double lo, hi; /* inputs outside are skipped (domain limits) */
} ref_case;

static const ref_case ref_cases[] = {
    {"Relu", 14, r_relu, -1e9, 1e9},
    {"LeakyRelu", 16, r_leaky_default, -1e9, 1e9},
    {"Sigmoid", 13, r_sigmoid, -1e9, 1e9},
    {"HardSigmoid", 6, r_hsigmoid_default, -1e9, 1e9},
    {"HardSwish", 14, r_hswish, -1e9, 1e9},
    {"Tanh", 13, tanh, -1e9, 1e9},
    {"Sqrt", 13, sqrt, 0, 1e9},
    {"Exp", 13, exp, -1e9, 1e9},
    {"Log", 13, log, 1e-9, 1e9},
    {"Neg", 13, r_neg, -1e9, 1e9},
    {"Abs", 13, fabs, -1e9, 1e9},
    {"Reciprocal", 13, r_recip, -1e9, 1e9},
    {"Erf", 13, erf, -1e9, 1e9},
    {"Gelu", 20, r_gelu, -1e9, 1e9},
    {"Elu", 22, r_elu_default, -1e9, 1e9},
    {"Selu", 22, r_selu_default, -1e9, 1e9},
    {"Softplus", 22, r_softplus, -1e9, 1e9},
    {"Softsign", 22, r_softsign, -1e9, 1e9},
    {"Floor", 13, floor, -1e9, 1e9},
    {"Ceil", 13, ceil, -1e9, 1e9},
    {"Sign", 13, r_sign, -1e9, 1e9},
    {"Sin", 22, sin, -1e9, 1e9},
    {"Cos", 22, cos, -1e9, 1e9},
    {"Tan", 22, tan, -1e9, 1e9},
    {"Asin", 22, asin, -1, 1},
    {"Acos", 22, acos, -1, 1},
    {"Atan", 22, atan, -1e9, 1e9},
    {"Sinh", 22, sinh, -1e9, 1e9},
    {"Cosh", 22, cosh, -1e9, 1e9},
    {"Asinh", 22, asinh, -1e9, 1e9},
    {"Acosh", 22, acosh, 1, 1e9},
    {"Atanh", 22, atanh, -0.99, 0.99},
    {"Mish", 22, r_mish, -1e9, 1e9},
    {"ThresholdedRelu", 22, r_threlu_default, -1e9, 1e9},
    {"Celu", 12, r_celu_default, -1e9, 1e9},
    {"Shrink", 9, r_shrink_default, -1e9, 1e9},
};

static int domain_samples(const ref_case *rc, float *x, float *want)
{
    int n = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        if (samples[i] < rc->lo || samples[i] > rc->hi)
            continue;
        x[n] = samples[i];
        want[n] = (float)rc->ref(samples[i]);
        n++;
    }
    return n;
}

static void test_formulas_f32(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof ref_cases / sizeof ref_cases[0]; c++) {
        const ref_case *rc = &ref_cases[c];
        float x[N_SAMPLES], want[N_SAMPLES];
        int n = domain_samples(rc, x, want);
        kt_node *node = kt_node_new(rc->op, rc->opset);
        kiln_tensor *in = kt_f32(KT_DIMS(n), x);
        kiln_tensor *y = run1(node, in);
        kt_assert_shape(y, KT_DIMS(n));
        kt_assert_f32_close(y, want, n, 1e-5, 1e-6);
        kn_tensor_free(in);
        kn_tensor_free(y);
        kt_node_free(node);
    }
}

/* Same formulas in float64 (tighter) and float16 (compute in float32). */
static void test_formulas_f64_f16(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof ref_cases / sizeof ref_cases[0]; c++) {
        const ref_case *rc = &ref_cases[c];
        float xf[N_SAMPLES], wf[N_SAMPLES];
        int n = domain_samples(rc, xf, wf);
        double xd[N_SAMPLES];
        uint16_t xh[N_SAMPLES];
        for (int i = 0; i < n; i++) {
            xd[i] = xf[i];
            xh[i] = kn_float_to_half(xf[i]);
        }
        kt_node *node = kt_node_new(rc->op, rc->opset);
        kiln_tensor *in = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(n), xd);
        kiln_tensor *y = run1(node, in);
        assert_int_equal(y->dtype, KILN_DTYPE_DOUBLE);
        for (int i = 0; i < n; i++) {
            double want = rc->ref(xd[i]);
            if (fabs(((double *)y->data)[i] - want) > 1e-12 + 1e-12 * fabs(want))
                fail_msg("%s f64 element %d: got %.17g want %.17g", rc->op, i, ((double *)y->data)[i], want);
        }
        kn_tensor_free(in);
        kn_tensor_free(y);

        in = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(n), xh);
        y = run1(node, in);
        assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
        for (int i = 0; i < n; i++) {
            double got = kn_half_to_float(((uint16_t *)y->data)[i]);
            double want = rc->ref(kn_half_to_float(xh[i]));
            if (fabs(got - want) > 2e-3 + 2e-3 * fabs(want))
                fail_msg("%s f16 element %d: got %g want %g", rc->op, i, got, want);
        }
        kn_tensor_free(in);
        kn_tensor_free(y);
        kt_node_free(node);
    }
}

static void test_attributes(void **state)
{
    (void)state;
    float x[] = {-2, -0.5f, 0, 0.5f, 1.5f, 3};
    struct {
        const char *op;
        const char *a;
        float av;
        const char *b;
        float bv;
        float want[6];
    } cases[] = {
        {"LeakyRelu", "alpha", 0.1f, NULL, 0, {-0.2f, -0.05f, 0, 0.5f, 1.5f, 3}},
        {"HardSigmoid", "alpha", 0.5f, "beta", 0.6f, {0, 0.35f, 0.6f, 0.85f, 1, 1}},
        {"Elu", "alpha", 2.0f, NULL, 0, {2 * expm1f(-2), 2 * expm1f(-0.5f), 0, 0.5f, 1.5f, 3}},
        {"Selu", "alpha", 2.0f, "gamma", 3.0f, {6 * expm1f(-2), 6 * expm1f(-0.5f), 0, 1.5f, 4.5f, 9}},
        {"ThresholdedRelu", "alpha", 0.5f, NULL, 0, {0, 0, 0, 0, 1.5f, 3}},
        {"Celu", "alpha", 2.0f, NULL, 0, {2 * expm1f(-1), 2 * expm1f(-0.25f), 0, 0.5f, 1.5f, 3}},
        {"Shrink", "lambd", 1.0f, "bias", 0.5f, {-1.5f, 0, 0, 0, 1.0f, 2.5f}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        kt_node *n = kt_node_new(cases[c].op, 22);
        kt_attr_float(n, cases[c].a, cases[c].av);
        if (cases[c].b)
            kt_attr_float(n, cases[c].b, cases[c].bv);
        kiln_tensor *in = kt_f32(KT_DIMS(2, 3), x);
        kiln_tensor *y = run1(n, in);
        kt_assert_shape(y, KT_DIMS(2, 3));
        kt_assert_f32_close(y, cases[c].want, 6, 1e-5, 1e-6);
        kn_tensor_free(in);
        kn_tensor_free(y);
        kt_node_free(n);
    }
}

static void test_gelu_tanh(void **state)
{
    (void)state;
    float x[] = {-1, 0, 1, 2.5f};
    float want[4];
    for (int i = 0; i < 4; i++) {
        double v = x[i];
        want[i] = (float)(0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    }
    kt_node *n = kt_node_new("Gelu", 20);
    kt_attr_string(n, "approximate", "tanh");
    kiln_tensor *in = kt_f32(KT_DIMS(4), x);
    kiln_tensor *y = run1(n, in);
    kt_assert_f32_close(y, want, 4, 1e-6, 1e-6);
    kn_tensor_free(y);
    kt_node_free(n);

    n = kt_node_new("Gelu", 20);
    kt_attr_string(n, "approximate", "sigmoid");
    kiln_tensor *ins[1] = {in};
    assert_int_equal(kt_run(n, 1, ins, 1, &y), KILN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(kiln_last_error(), "approximate"));
    kn_tensor_free(in);
    kt_node_free(n);
}

static void test_round_half_even(void **state)
{
    (void)state;
    float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.4f, 2.6f, -2.6f};
    float want[] = {0, 2, 2, -0.0f, -2, -2, 0, 3, -3};
    kt_node *n = kt_node_new("Round", 11);
    kiln_tensor *in = kt_f32(KT_DIMS(9), x);
    kiln_tensor *y = run1(n, in);
    kt_assert_f32_close(y, want, 9, 0, 0);
    kn_tensor_free(in);
    kn_tensor_free(y);
    kt_node_free(n);
}

static void test_nan_inf_predicates(void **state)
{
    (void)state;
    float x[] = {-1.2f, NAN, INFINITY, 2.8f, -INFINITY, INFINITY};
    kiln_tensor *in = kt_f32(KT_DIMS(6), x);
    struct {
        const char *op;
        int neg, pos; /* -1: attribute absent */
        uint8_t want[6];
    } cases[] = {
        {"IsNaN", -1, -1, {0, 1, 0, 0, 0, 0}},
        {"IsInf", -1, -1, {0, 0, 1, 0, 1, 1}},
        {"IsInf", 1, 0, {0, 0, 0, 0, 1, 0}},
        {"IsInf", 0, 1, {0, 0, 1, 0, 0, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        kt_node *n = kt_node_new(cases[c].op, 20);
        if (cases[c].neg >= 0)
            kt_attr_int(n, "detect_negative", cases[c].neg);
        if (cases[c].pos >= 0)
            kt_attr_int(n, "detect_positive", cases[c].pos);
        kiln_tensor *y = run1(n, in);
        assert_int_equal(y->dtype, KILN_DTYPE_BOOL);
        assert_memory_equal(y->data, cases[c].want, 6);
        kn_tensor_free(y);
        kt_node_free(n);
    }
    kn_tensor_free(in);
}

static void test_not(void **state)
{
    (void)state;
    uint8_t x[] = {0, 1, 1, 0, 1};
    uint8_t want[] = {1, 0, 0, 1, 0};
    kt_node *n = kt_node_new("Not", 1);
    kiln_tensor *in = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(5), x);
    kiln_tensor *y = run1(n, in);
    assert_int_equal(y->dtype, KILN_DTYPE_BOOL);
    assert_memory_equal(y->data, want, 5);
    kn_tensor_free(in);
    kn_tensor_free(y);
    kt_node_free(n);
}

/* Neg/Abs wrap at the most negative value instead of overflowing. */
static void test_int_variants(void **state)
{
    (void)state;
    int64_t x64[] = {INT64_MIN, -7, 0, 5, INT64_MAX};
    struct {
        const char *op;
        int64_t want[5];
    } cases[] = {
        {"Neg", {INT64_MIN, 7, 0, -5, -INT64_MAX}},
        {"Abs", {INT64_MIN, 7, 0, 5, INT64_MAX}},
        {"Sign", {-1, -1, 0, 1, 1}},
        {"Relu", {0, 0, 0, 5, INT64_MAX}},
    };
    kiln_tensor *in = kt_i64(KT_DIMS(5), x64);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        kt_node *n = kt_node_new(cases[c].op, 14);
        kiln_tensor *y = run1(n, in);
        assert_int_equal(y->dtype, KILN_DTYPE_INT64);
        kt_assert_i64_equal(y, cases[c].want, 5);
        kn_tensor_free(y);
        kt_node_free(n);
    }
    kn_tensor_free(in);

    int8_t x8[] = {-128, -3, 0, 4, 127};
    int8_t neg8[] = {-128, 3, 0, -4, -127};
    kt_node *n = kt_node_new("Neg", 13);
    in = kt_tensor(KILN_DTYPE_INT8, KT_DIMS(5), x8);
    kiln_tensor *y = run1(n, in);
    assert_memory_equal(y->data, neg8, 5);
    kn_tensor_free(in);
    kn_tensor_free(y);
    kt_node_free(n);

    int32_t x32[] = {-9, 0, 9};
    int32_t abs32[] = {9, 0, 9};
    n = kt_node_new("Abs", 13);
    in = kt_i32(KT_DIMS(3), x32);
    y = run1(n, in);
    assert_memory_equal(y->data, abs32, sizeof abs32);
    kn_tensor_free(in);
    kn_tensor_free(y);
    kt_node_free(n);
}

static kiln_tensor *scalar_f32(float v)
{
    return kt_f32(0, NULL, &v);
}

static void test_clip_inputs(void **state)
{
    (void)state;
    float x[] = {-3, -1, 0, 1, 3, NAN};
    kiln_tensor *in = kt_f32(KT_DIMS(6), x);
    kiln_tensor *lo = scalar_f32(-1.5f), *hi = scalar_f32(2.0f), *big_lo = scalar_f32(5.0f);
    struct {
        kiln_tensor *lo, *hi;
        float want[6];
    } cases[] = {
        {lo, hi, {-1.5f, -1, 0, 1, 2, NAN}},
        {NULL, hi, {-3, -1, 0, 1, 2, NAN}},
        {lo, NULL, {-1.5f, -1, 0, 1, 3, NAN}},
        {NULL, NULL, {-3, -1, 0, 1, 3, NAN}},
        {big_lo, hi, {2, 2, 2, 2, 2, NAN}}, /* min > max: every value becomes max */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        kt_node *n = kt_node_new("Clip", 13);
        kiln_tensor *ins[3] = {in, cases[c].lo, cases[c].hi};
        kiln_tensor *y = NULL;
        assert_int_equal(kt_run(n, 3, ins, 1, &y), KILN_OK);
        kt_assert_f32_close(y, cases[c].want, 6, 0, 0);
        kn_tensor_free(y);
        kt_node_free(n);
    }
    kn_tensor_free(in);
    kn_tensor_free(lo);
    kn_tensor_free(hi);
    kn_tensor_free(big_lo);
}

static void test_clip_int8(void **state)
{
    (void)state;
    int8_t x[] = {-128, -5, 0, 5, 127};
    int8_t lo_v = -4, want[] = {-4, -4, 0, 5, 127};
    kiln_tensor *in = kt_tensor(KILN_DTYPE_INT8, KT_DIMS(5), x);
    kiln_tensor *lo = kt_tensor(KILN_DTYPE_INT8, 0, NULL, &lo_v);
    kt_node *n = kt_node_new("Clip", 13);
    kiln_tensor *ins[2] = {in, lo};
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_INT8);
    assert_memory_equal(y->data, want, 5);
    kn_tensor_free(in);
    kn_tensor_free(lo);
    kn_tensor_free(y);
    kt_node_free(n);
}

/* Opset 6 attributes become constant inputs; the node is then at opset 11. */
static void test_clip_upgrade(void **state)
{
    (void)state;
    float x[] = {-1, -0.25f, 0.25f, 1};
    kiln_tensor *in = kt_f32(KT_DIMS(2, 2), x);
    kt_node *n = kt_node_new("Clip", 6);
    kt_attr_float(n, "min", -0.5f);
    kt_attr_float(n, "max", 0.5f);
    kiln_tensor *y = run1(n, in);
    float want[] = {-0.5f, -0.25f, 0.25f, 0.5f};
    kt_assert_f32_close(y, want, 4, 0, 0);
    kn_node *node = kt_node_get(n);
    assert_int_equal(node->opset, 11);
    assert_int_equal(node->n_in, 3);
    assert_null(kn_node_attr(node, "min"));
    kn_tensor_free(y);
    kt_node_free(n);

    /* only max given: min stays omitted */
    n = kt_node_new("Clip", 6);
    kt_attr_float(n, "max", 0.0f);
    y = run1(n, in);
    float want2[] = {-1, -0.25f, 0, 0};
    kt_assert_f32_close(y, want2, 4, 0, 0);
    assert_int_equal(kt_node_get(n)->in[1], -1);
    kn_tensor_free(y);
    kt_node_free(n);

    /* float32 bounds from the upgrade applied to a float64 X */
    double xd[] = {-1, 1};
    kiln_tensor *ind = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2), xd);
    n = kt_node_new("Clip", 6);
    kt_attr_float(n, "min", -0.5f);
    y = run1(n, ind);
    assert_true(((double *)y->data)[0] == -0.5 && ((double *)y->data)[1] == 1.0);
    kn_tensor_free(y);
    kn_tensor_free(ind);
    kt_node_free(n);
    kn_tensor_free(in);
}

static void test_clip_bad_bound(void **state)
{
    (void)state;
    float x[] = {1, 2};
    float b[] = {0, 1};
    kiln_tensor *in = kt_f32(KT_DIMS(2), x);
    kiln_tensor *lo = kt_f32(KT_DIMS(2), b);
    kt_node *n = kt_node_new("Clip", 13);
    kiln_tensor *ins[2] = {in, lo};
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kiln_last_error(), "min"));
    kn_tensor_free(in);
    kn_tensor_free(lo);
    kt_node_free(n);
}

static void test_empty_and_scalar(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Exp", 13);
    kiln_tensor *in = kt_f32(KT_DIMS(0, 3), NULL);
    kiln_tensor *y = run1(n, in);
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(in);
    kn_tensor_free(y);

    float v = 1.0f;
    in = kt_f32(0, NULL, &v);
    y = run1(n, in);
    assert_int_equal(y->rank, 0);
    float want = expf(1.0f);
    kt_assert_f32_close(y, &want, 1, 1e-6, 0);
    kn_tensor_free(in);
    kn_tensor_free(y);
    kt_node_free(n);
}

/* A tensor big enough to be split over threads gives the same result. */
static void test_threaded_large(void **state)
{
    (void)state;
    int64_t count = 3 * 70001;
    kiln_tensor *in = kt_f32_random(KT_DIMS(3, 70001), 7, -4, 4);
    kt_node *n = kt_node_new("Sigmoid", 13);
    kiln_tensor *ins[1] = {in};
    kiln_tensor *y1 = NULL, *y2 = NULL;
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 1, 1, ins, 1, &y1), KILN_OK);
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 2, 1, ins, 1, &y2), KILN_OK);
    const float *x = in->data;
    float *want = malloc(sizeof(float) * (size_t)count);
    for (int64_t i = 0; i < count; i++)
        want[i] = (float)(1 / (1 + exp(-(double)x[i])));
    kt_assert_f32_close(y1, want, count, 1e-6, 1e-7);
    kt_assert_f32_close(y2, want, count, 1e-6, 1e-7);
    free(want);
    kn_tensor_free(in);
    kn_tensor_free(y1);
    kn_tensor_free(y2);
    kt_node_free(n);
}

static void test_refused(void **state)
{
    (void)state;
    int32_t xi[] = {1, 4};
    uint8_t xb[] = {1, 0};
    float xf[] = {1, 2};
    kiln_tensor *ti = kt_i32(KT_DIMS(2), xi);
    kiln_tensor *tb = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), xb);
    kiln_tensor *tf = kt_f32(KT_DIMS(2), xf);
    kiln_tensor *y = NULL;

    /* Sqrt is defined on floats only: an integer is a dtype error, and the
     * message lists what the op takes */
    kt_node *n = kt_node_new("Sqrt", 13);
    kiln_tensor *ins[2] = {ti, tf};
    assert_int_equal(kt_run(n, 1, ins, 1, &y), KILN_ERROR_DTYPE);
    assert_non_null(strstr(kiln_last_error(), "int32"));
    assert_non_null(strstr(kiln_last_error(), "float32, float64, float16, bfloat16"));
    kt_node_free(n);

    n = kt_node_new("Exp", 13);
    ins[0] = tb;
    assert_int_equal(kt_run(n, 1, ins, 1, &y), KILN_ERROR_DTYPE);
    kt_node_free(n);

    n = kt_node_new("Not", 1);
    ins[0] = tf;
    assert_int_equal(kt_run(n, 1, ins, 1, &y), KILN_ERROR_DTYPE);
    kt_node_free(n);

    /* two inputs to a unary op */
    n = kt_node_new("Relu", 14);
    ins[0] = tf;
    ins[1] = tf;
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_MODEL);
    kt_node_free(n);

    /* attribute of the wrong type */
    n = kt_node_new("LeakyRelu", 16);
    kt_attr_int(n, "alpha", 1);
    assert_int_equal(kt_run(n, 1, ins, 1, &y), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "alpha"));
    kt_node_free(n);

    /* before the op existed */
    n = kt_node_new("HardSwish", 13);
    assert_int_equal(kt_run(n, 1, ins, 1, &y), KILN_ERROR_UNSUPPORTED);
    kt_node_free(n);

    kn_tensor_free(ti);
    kn_tensor_free(tb);
    kn_tensor_free(tf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formulas_f32),   cmocka_unit_test(test_formulas_f64_f16),
        cmocka_unit_test(test_attributes),     cmocka_unit_test(test_gelu_tanh),
        cmocka_unit_test(test_round_half_even), cmocka_unit_test(test_nan_inf_predicates),
        cmocka_unit_test(test_not),            cmocka_unit_test(test_int_variants),
        cmocka_unit_test(test_clip_inputs),    cmocka_unit_test(test_clip_int8),
        cmocka_unit_test(test_clip_upgrade),   cmocka_unit_test(test_clip_bad_bound),
        cmocka_unit_test(test_empty_and_scalar), cmocka_unit_test(test_threaded_large),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
