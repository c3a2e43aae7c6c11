/* RNN, GRU and LSTM: hand-computed single-unit cases for each cell,
 * direction / sequence_lens / layout handling with a linear (Affine) cell
 * whose hidden state is a running sum, activation parameters, clip,
 * peepholes, input_forget, linear_before_reset, float64, empty sequences and
 * errors. */
#include "harness.h"

#include <math.h>

static double sig(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* An "activations" STRINGS attribute (the harness has no builder for it):
 * add a STRING attribute and turn it into a list in place. */
static void attr_strings(kt_node *n, const char *name, const char *const *v, size_t count)
{
    kt_attr_string(n, name, "");
    kn_node *node = kt_node_get(n);
    kn_attr *a = &node->attrs[node->n_attrs - 1];
    kn_free(a->s);
    a->s = NULL;
    a->s_len = 0;
    a->type = KN_ATTR_STRINGS;
    a->strings = kn_calloc(count, sizeof(char *));
    assert_non_null(a->strings);
    for (size_t i = 0; i < count; i++) {
        a->strings[i] = kn_strdup(v[i]);
        assert_non_null(a->strings[i]);
    }
    a->count = count;
}

static void free_all(kiln_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        kn_tensor_free(t[i]);
}

static void test_rnn_hand_computed(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("RNN", 14);
    kt_attr_int(n, "hidden_size", 1);
    kiln_tensor *in[4] = {kt_f32(KT_DIMS(2, 1, 1), (float[]){1, -1}), kt_f32(KT_DIMS(1, 1, 1), (float[]){2}),
                          kt_f32(KT_DIMS(1, 1, 1), (float[]){0.5f}), kt_f32(KT_DIMS(1, 2), (float[]){0.1f, 0.2f})};
    kiln_tensor *out[2] = {NULL, NULL};
    assert_int_equal(kt_run(n, 4, in, 2, out), KILN_OK);
    double h1 = tanh(2.0 + 0.3), h2 = tanh(-2.0 + 0.5 * h1 + 0.3);
    kt_assert_shape(out[0], KT_DIMS(2, 1, 1, 1));
    kt_assert_shape(out[1], KT_DIMS(1, 1, 1));
    kt_assert_f32_close(out[0], (float[]){(float)h1, (float)h2}, 2, 1e-6, 1e-6);
    kt_assert_f32_close(out[1], (float[]){(float)h2}, 1, 1e-6, 1e-6);
    free_all(out, 2);
    free_all(in, 4);
    kt_node_free(n);
}

/* Affine(alpha 1, beta 0) with W = R = 1 makes h_t = x_t + h_{t-1}: the
 * output is a running sum whose order shows which steps ran, and when. */
static kt_node *summing_rnn(const char *direction, int64_t layout, int dirs)
{
    kt_node *n = kt_node_new("RNN", 14);
    kt_attr_int(n, "hidden_size", 1);
    kt_attr_string(n, "direction", direction);
    kt_attr_int(n, "layout", layout);
    static const char *const acts[] = {"Affine", "Affine"};
    attr_strings(n, "activations", acts, (size_t)dirs);
    kt_attr_floats(n, "activation_alpha", (float[]){1, 1}, (size_t)dirs);
    kt_attr_floats(n, "activation_beta", (float[]){0, 0}, (size_t)dirs);
    return n;
}

static void test_rnn_directions_and_sequence_lens(void **state)
{
    (void)state;
    /* seq 3, batch 2: batch 0 = 1 2 3 (len 3), batch 1 = 10 20 30 (len 1) */
    float xs[6] = {1, 10, 2, 20, 3, 30};
    kiln_tensor *seq = kt_i32(KT_DIMS(2), (int32_t[]){3, 1});
    struct {
        const char *dir;
        int dirs;
        float y[12];
        float yh[4];
    } cases[] = {
        {"forward", 1, {1, 10, 3, 0, 6, 0}, {6, 10}},
        {"reverse", 1, {6, 10, 5, 0, 3, 0}, {6, 10}},
        /* Y [seq, dirs, batch, 1]: forward then reverse per step */
        {"bidirectional", 2, {1, 10, 6, 10, 3, 0, 5, 0, 6, 0, 3, 0}, {6, 10, 6, 10}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int d = cases[c].dirs;
        kt_node *n = summing_rnn(cases[c].dir, 0, d);
        kiln_tensor *in[5] = {kt_f32(KT_DIMS(3, 2, 1), xs), kt_f32(KT_DIMS(d, 1, 1), (float[]){1, 1}),
                              kt_f32(KT_DIMS(d, 1, 1), (float[]){1, 1}), NULL, seq};
        kiln_tensor *out[2] = {NULL, NULL};
        assert_int_equal(kt_run(n, 5, in, 2, out), KILN_OK);
        kt_assert_shape(out[0], KT_DIMS(3, d, 2, 1));
        kt_assert_f32_close(out[0], cases[c].y, 6 * d, 0, 1e-6);
        kt_assert_f32_close(out[1], cases[c].yh, 2 * d, 0, 1e-6);
        free_all(out, 2);
        free_all(in, 3);
        kt_node_free(n);
    }
    kn_tensor_free(seq);
}

static void test_rnn_layout_batch_first(void **state)
{
    (void)state;
    /* the bidirectional case above with X as [batch, seq, input] and an
     * initial state [batch, dirs, hidden] */
    kt_node *n = summing_rnn("bidirectional", 1, 2);
    kiln_tensor *in[6] = {kt_f32(KT_DIMS(2, 3, 1), (float[]){1, 2, 3, 10, 20, 30}),
                          kt_f32(KT_DIMS(2, 1, 1), (float[]){1, 1}),
                          kt_f32(KT_DIMS(2, 1, 1), (float[]){1, 1}),
                          NULL,
                          kt_i32(KT_DIMS(2), (int32_t[]){3, 1}),
                          kt_f32(KT_DIMS(2, 2, 1), (float[]){100, 200, 1000, 2000})};
    kiln_tensor *out[2] = {NULL, NULL};
    assert_int_equal(kt_run(n, 6, in, 2, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(2, 3, 2, 1));
    kt_assert_shape(out[1], KT_DIMS(2, 2, 1));
    /* batch 0 fwd from 100: 101 103 106; rev from 200: 206 205 203.
     * batch 1 fwd from 1000: 1010; rev from 2000: 2010; rest zero. */
    kt_assert_f32_close(out[0], (float[]){101, 206, 103, 205, 106, 203, 1010, 2010, 0, 0, 0, 0}, 12, 0, 1e-4);
    kt_assert_f32_close(out[1], (float[]){106, 206, 1010, 2010}, 4, 0, 1e-4);
    free_all(out, 2);
    free_all(in, 6);
    kt_node_free(n);
}

static void test_rnn_clip_and_activation_params(void **state)
{
    (void)state;
    /* clip bounds the activation input: 10 * 1 -> 2, then ScaledTanh
     * alpha * tanh(beta * x) with the attribute values */
    kt_node *n = kt_node_new("RNN", 14);
    kt_attr_int(n, "hidden_size", 1);
    kt_attr_float(n, "clip", 2.0f);
    static const char *const acts[] = {"ScaledTanh"};
    attr_strings(n, "activations", acts, 1);
    kt_attr_floats(n, "activation_alpha", (float[]){3}, 1);
    kt_attr_floats(n, "activation_beta", (float[]){0.5f}, 1);
    kiln_tensor *in[3] = {kt_f32(KT_DIMS(1, 1, 1), (float[]){1}), kt_f32(KT_DIMS(1, 1, 1), (float[]){10}),
                          kt_f32(KT_DIMS(1, 1, 1), (float[]){0})};
    kiln_tensor *out[2] = {NULL, NULL};
    assert_int_equal(kt_run(n, 3, in, 2, out), KILN_OK);
    kt_assert_f32_close(out[1], (float[]){(float)(3 * tanh(0.5 * 2))}, 1, 1e-6, 1e-6);
    free_all(out, 2);
    free_all(in, 3);
    kt_node_free(n);
}

/* One LSTM step with H = I = 1 and zero weights except the bias, so every
 * gate is sigmoid/tanh of known numbers. */
static void lstm_case(bool peepholes, bool input_forget)
{
    kt_node *n = kt_node_new("LSTM", 14);
    kt_attr_int(n, "hidden_size", 1);
    kt_attr_int(n, "input_forget", input_forget);
    /* B = Wb (i o f c) then Rb */
    float wb[4] = {0.5f, -0.25f, 1.0f, 0.75f};
    kiln_tensor *in[8] = {kt_f32(KT_DIMS(1, 1, 1), (float[]){1}),
                          kt_f32(KT_DIMS(1, 4, 1), (float[]){0.1f, 0.2f, 0.3f, 0.4f}),
                          kt_f32(KT_DIMS(1, 4, 1), (float[]){0.5f, 0.6f, 0.7f, 0.8f}),
                          kt_f32(KT_DIMS(1, 8), (float[]){wb[0], wb[1], wb[2], wb[3], 0, 0, 0, 0}),
                          NULL,
                          kt_f32(KT_DIMS(1, 1, 1), (float[]){0.5f}),
                          kt_f32(KT_DIMS(1, 1, 1), (float[]){2}),
                          peepholes ? kt_f32(KT_DIMS(1, 3), (float[]){0.3f, -0.2f, 0.1f}) : NULL};
    kiln_tensor *out[3] = {NULL, NULL, NULL};
    assert_int_equal(kt_run(n, 8, in, 3, out), KILN_OK);
    double x = 1, h0 = 0.5, c0 = 2;
    double pi = peepholes ? 0.3 : 0, po = peepholes ? -0.2 : 0, pf = peepholes ? 0.1 : 0;
    double it = sig(0.1 * x + 0.5 * h0 + wb[0] + pi * c0);
    double ft = input_forget ? 1 - it : sig(0.3 * x + 0.7 * h0 + wb[2] + pf * c0);
    double ct = tanh(0.4 * x + 0.8 * h0 + wb[3]);
    double c1 = ft * c0 + it * ct;
    double ot = sig(0.2 * x + 0.6 * h0 + wb[1] + po * c1);
    double h1 = ot * tanh(c1);
    kt_assert_shape(out[0], KT_DIMS(1, 1, 1, 1));
    kt_assert_f32_close(out[0], (float[]){(float)h1}, 1, 1e-6, 1e-6);
    kt_assert_f32_close(out[1], (float[]){(float)h1}, 1, 1e-6, 1e-6);
    kt_assert_f32_close(out[2], (float[]){(float)c1}, 1, 1e-6, 1e-6);
    free_all(out, 3);
    free_all(in, 8);
    kt_node_free(n);
}

static void test_lstm_hand_computed(void **state)
{
    (void)state;
    lstm_case(false, false);
    lstm_case(true, false);
    lstm_case(true, true);
}

static void gru_case(int64_t lbr)
{
    kt_node *n = kt_node_new("GRU", 14);
    kt_attr_int(n, "hidden_size", 1);
    kt_attr_int(n, "linear_before_reset", lbr);
    /* W, R rows z r h; B = Wb then Rb */
    kiln_tensor *in[6] = {kt_f32(KT_DIMS(1, 1, 1), (float[]){1.5f}),
                          kt_f32(KT_DIMS(1, 3, 1), (float[]){0.1f, 0.2f, 0.3f}),
                          kt_f32(KT_DIMS(1, 3, 1), (float[]){0.4f, 0.5f, 0.6f}),
                          kt_f32(KT_DIMS(1, 6), (float[]){0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 0.7f}),
                          NULL,
                          kt_f32(KT_DIMS(1, 1, 1), (float[]){-0.8f})};
    kiln_tensor *out[2] = {NULL, NULL};
    assert_int_equal(kt_run(n, 6, in, 2, out), KILN_OK);
    double x = 1.5, h = -0.8;
    double z = sig(0.1 * x + 0.4 * h + 0.01 + 0.04);
    double r = sig(0.2 * x + 0.5 * h + 0.02 + 0.05);
    double cand = lbr ? tanh(0.3 * x + 0.03 + r * (0.6 * h + 0.7)) : tanh(0.3 * x + 0.6 * (r * h) + 0.7 + 0.03);
    double h1 = (1 - z) * cand + z * h;
    kt_assert_f32_close(out[1], (float[]){(float)h1}, 1, 1e-6, 1e-6);
    free_all(out, 2);
    free_all(in, 6);
    kt_node_free(n);
}

static void test_gru_hand_computed(void **state)
{
    (void)state;
    gru_case(0);
    gru_case(1);
}

static void test_double_and_shared_activation_list(void **state)
{
    (void)state;
    /* bidirectional with one direction's activation list: both use Relu */
    kt_node *n = kt_node_new("RNN", 14);
    kt_attr_int(n, "hidden_size", 2);
    kt_attr_string(n, "direction", "bidirectional");
    static const char *const acts[] = {"Relu"};
    attr_strings(n, "activations", acts, 1);
    double xw[2 * 2 * 1] = {1, -1, 2, 0.5};
    kiln_tensor *in[3] = {kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1, 1, 1), (double[]){3}),
                          kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 2, 1), xw),
                          kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(2, 2, 2), NULL)};
    kiln_tensor *out[2] = {NULL, NULL};
    assert_int_equal(kt_run(n, 3, in, 2, out), KILN_OK);
    assert_int_equal(out[1]->dtype, KILN_DTYPE_DOUBLE);
    const double *yh = out[1]->data;
    double want[4] = {3, 0, 6, 1.5};
    for (int i = 0; i < 4; i++)
        assert_true(fabs(yh[i] - want[i]) < 1e-12);
    free_all(out, 2);
    free_all(in, 3);
    kt_node_free(n);
}

static void test_empty_sequence(void **state)
{
    (void)state;
    /* zero steps: Y is empty, Y_h / Y_c are the initial state */
    kt_node *n = kt_node_new("LSTM", 14);
    kt_attr_int(n, "hidden_size", 2);
    kiln_tensor *in[7] = {kt_f32(KT_DIMS(0, 1, 3), NULL), kt_f32_random(KT_DIMS(1, 8, 3), 1, -1, 1),
                          kt_f32_random(KT_DIMS(1, 8, 2), 2, -1, 1), NULL, NULL,
                          kt_f32(KT_DIMS(1, 1, 2), (float[]){0.5f, -0.5f}),
                          kt_f32(KT_DIMS(1, 1, 2), (float[]){1, 2})};
    kiln_tensor *out[3] = {NULL, NULL, NULL};
    assert_int_equal(kt_run(n, 7, in, 3, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(0, 1, 1, 2));
    kt_assert_f32_close(out[1], (float[]){0.5f, -0.5f}, 2, 0, 0);
    kt_assert_f32_close(out[2], (float[]){1, 2}, 2, 0, 0);
    free_all(out, 3);
    free_all(in, 7);
    kt_node_free(n);
}

static kiln_status run_status(kt_node *n, int n_in, kiln_tensor **in, int n_out)
{
    kiln_tensor *out[3] = {NULL, NULL, NULL};
    kiln_status s = kt_run(n, n_in, in, n_out, out);
    free_all(out, n_out);
    return s;
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 1, 3), NULL);
    kiln_tensor *w = kt_f32(KT_DIMS(1, 4, 3), NULL), *r = kt_f32(KT_DIMS(1, 4, 4), NULL);
    kiln_tensor *w_bad = kt_f32(KT_DIMS(1, 4, 2), NULL);
    kiln_tensor *seq_bad = kt_i32(KT_DIMS(1), (int32_t[]){5});
    kiln_tensor *r_i64 = kt_i64(KT_DIMS(1, 4, 4), NULL);

    kt_node *n = kt_node_new("RNN", 14);
    kt_attr_int(n, "hidden_size", 4);
    assert_int_equal(run_status(n, 3, (kiln_tensor *[]){x, w, r}, 2), KILN_OK);
    assert_int_equal(run_status(n, 3, (kiln_tensor *[]){x, w_bad, r}, 2), KILN_ERROR_SHAPE);
    assert_int_equal(run_status(n, 3, (kiln_tensor *[]){x, w, r_i64}, 2), KILN_ERROR_DTYPE);
    assert_int_equal(run_status(n, 5, (kiln_tensor *[]){x, w, r, NULL, seq_bad}, 2), KILN_ERROR_ARGUMENT);
    kt_node_free(n);

    n = kt_node_new("RNN", 14);
    kt_attr_string(n, "direction", "sideways");
    assert_int_equal(run_status(n, 3, (kiln_tensor *[]){x, w, r}, 2), KILN_ERROR_MODEL);
    kt_node_free(n);

    n = kt_node_new("RNN", 14);
    static const char *const unknown[] = {"Swish"};
    attr_strings(n, "activations", unknown, 1);
    assert_int_equal(run_status(n, 3, (kiln_tensor *[]){x, w, r}, 2), KILN_ERROR_UNSUPPORTED);
    kt_node_free(n);

    n = kt_node_new("GRU", 14);
    static const char *const too_few[] = {"Sigmoid"};
    attr_strings(n, "activations", too_few, 1);
    assert_int_equal(run_status(n, 3, (kiln_tensor *[]){x, w, r}, 2), KILN_ERROR_MODEL);
    kt_node_free(n);

    /* LSTM needs 4 gates: the RNN-shaped W does not fit */
    n = kt_node_new("LSTM", 14);
    kt_attr_int(n, "hidden_size", 4);
    assert_int_equal(run_status(n, 3, (kiln_tensor *[]){x, w, r}, 3), KILN_ERROR_SHAPE);
    kt_node_free(n);

    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(r);
    kn_tensor_free(w_bad);
    kn_tensor_free(seq_bad);
    kn_tensor_free(r_i64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn_hand_computed),
        cmocka_unit_test(test_rnn_directions_and_sequence_lens),
        cmocka_unit_test(test_rnn_layout_batch_first),
        cmocka_unit_test(test_rnn_clip_and_activation_params),
        cmocka_unit_test(test_lstm_hand_computed),
        cmocka_unit_test(test_gru_hand_computed),
        cmocka_unit_test(test_double_and_shared_activation_list),
        cmocka_unit_test(test_empty_sequence),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
