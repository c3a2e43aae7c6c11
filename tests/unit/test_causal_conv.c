/* CausalConvWithState against a naive loop: zero and given past state,
 * bias, SiLU (and its alias swish), kernel size 1 (empty state), inputs
 * shorter than the state, chained calls equal one long call, refused
 * inputs. */
#include "harness.h"

#include <math.h>

static void reference(const float *x, const float *w, const float *bias, const float *past, int64_t B, int64_t C,
                      int64_t L, int64_t K, bool silu, float *y, float *present)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            /* padded[t] = past for t < K-1, then x */
#define PADDED(t) ((t) < K - 1 ? (past ? past[(b * C + c) * (K - 1) + (t)] : 0.0f) : x[(b * C + c) * L + (t) - (K - 1)])
            for (int64_t t = 0; t < L; t++) {
                double acc = bias ? bias[c] : 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)w[c * K + k] * PADDED(t + k);
                if (silu)
                    acc = acc / (1 + exp(-acc));
                y[(b * C + c) * L + t] = (float)acc;
            }
            for (int64_t k = 0; k < K - 1; k++)
                present[(b * C + c) * (K - 1) + k] = PADDED(L + k);
#undef PADDED
        }
}

static kiln_status run_ccs(const char *act, int n_in, kiln_tensor *const *in, kiln_tensor **out)
{
    kt_node *n = kt_node_new("CausalConvWithState", 27);
    if (act)
        kt_attr_string(n, "activation", act);
    kiln_status s = kt_run(n, n_in, in, 2, out);
    kt_node_free(n);
    return s;
}

static void test_matches_naive(void **state)
{
    (void)state;
    enum { B = 2, C = 3, L = 5, K = 4 };
    kiln_tensor *x = kt_f32_random(KT_DIMS(B, C, L), 1, -2, 2), *w = kt_f32_random(KT_DIMS(C, 1, K), 2, -1, 1),
                *bias = kt_f32_random(KT_DIMS(C), 3, -1, 1), *past = kt_f32_random(KT_DIMS(B, C, K - 1), 4, -2, 2);
    static const char *acts[] = {NULL, "none", "silu", "swish"};
    float y[B * C * L], pres[B * C * (K - 1)];
    for (int a = 0; a < 4; a++)
        for (int with = 0; with < 2; with++) {
            kiln_tensor *out[2];
            kiln_tensor *in[4] = {x, w, with ? bias : NULL, with ? past : NULL};
            assert_int_equal(run_ccs(acts[a], 4, in, out), KILN_OK);
            reference(x->data, w->data, with ? bias->data : NULL, with ? past->data : NULL, B, C, L, K, a >= 2, y,
                      pres);
            kt_assert_shape(out[0], KT_DIMS(B, C, L));
            kt_assert_shape(out[1], KT_DIMS(B, C, K - 1));
            kt_assert_f32_close(out[0], y, B * C * L, 1e-5, 1e-6);
            kt_assert_f32_close(out[1], pres, B * C * (K - 1), 0, 0);
            kn_tensor_free(out[0]);
            kn_tensor_free(out[1]);
        }
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(bias);
    kn_tensor_free(past);
}

/* Feeding a sequence in two calls, the state carried, equals one call. */
static void test_chained_calls_and_short_inputs(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32_random(KT_DIMS(1, 2, 7), 5, -1, 1), *w = kt_f32_random(KT_DIMS(2, 1, 5), 6, -1, 1);
    kiln_tensor *whole[2];
    assert_int_equal(run_ccs("silu", 2, (kiln_tensor *[]){x, w}, whole), KILN_OK);
    /* pieces of 2 (shorter than the state of 4) and 5 */
    kiln_tensor *x1 = kt_f32(KT_DIMS(1, 2, 2), NULL), *x2 = kt_f32(KT_DIMS(1, 2, 5), NULL);
    for (int c = 0; c < 2; c++)
        for (int t = 0; t < 7; t++) {
            float v = ((const float *)x->data)[c * 7 + t];
            if (t < 2)
                ((float *)x1->data)[c * 2 + t] = v;
            else
                ((float *)x2->data)[c * 5 + t - 2] = v;
        }
    kiln_tensor *p1[2], *p2[2];
    assert_int_equal(run_ccs("silu", 2, (kiln_tensor *[]){x1, w}, p1), KILN_OK);
    kt_assert_shape(p1[1], KT_DIMS(1, 2, 4));
    /* the state after 2 inputs is two zeros then the inputs */
    kt_assert_f32_close(p1[1], (float[]){0, 0, ((float *)x1->data)[0], ((float *)x1->data)[1], 0, 0,
                                         ((float *)x1->data)[2], ((float *)x1->data)[3]},
                        8, 0, 0);
    assert_int_equal(run_ccs("silu", 4, (kiln_tensor *[]){x2, w, NULL, p1[1]}, p2), KILN_OK);
    kt_assert_tensors_close(p2[1], whole[1], 0, 0);
    for (int c = 0; c < 2; c++)
        for (int t = 0; t < 7; t++) {
            float got = t < 2 ? ((float *)p1[0]->data)[c * 2 + t] : ((float *)p2[0]->data)[c * 5 + t - 2];
            assert_true(fabsf(got - ((float *)whole[0]->data)[c * 7 + t]) < 1e-6f);
        }
    for (int i = 0; i < 2; i++) {
        kn_tensor_free(whole[i]);
        kn_tensor_free(p1[i]);
        kn_tensor_free(p2[i]);
    }
    kn_tensor_free(x);
    kn_tensor_free(x1);
    kn_tensor_free(x2);
    kn_tensor_free(w);
}

/* Kernel size 1 is a per-channel scale with an empty state. */
static void test_kernel_one(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(1, 2, 3), (float[]){1, 2, 3, 4, 5, 6}), *w = kt_f32(KT_DIMS(2, 1, 1), (float[]){2, -1});
    kiln_tensor *out[2];
    assert_int_equal(run_ccs(NULL, 2, (kiln_tensor *[]){x, w}, out), KILN_OK);
    kt_assert_f32_close(out[0], (float[]){2, 4, 6, -4, -5, -6}, 6, 0, 0);
    kt_assert_shape(out[1], KT_DIMS(1, 2, 0));
    kn_tensor_free(out[0]);
    kn_tensor_free(out[1]);
    kn_tensor_free(x);
    kn_tensor_free(w);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(1, 2, 3), NULL), *w = kt_f32(KT_DIMS(2, 1, 3), NULL),
                *w2 = kt_f32(KT_DIMS(2, 2, 3), NULL), *past = kt_f32(KT_DIMS(1, 2, 3), NULL),
                *bias = kt_f32(KT_DIMS(3), NULL);
    kiln_tensor *out[2];
    assert_int_equal(run_ccs(NULL, 2, (kiln_tensor *[]){x, w2}, out), KILN_ERROR_SHAPE);
    assert_int_equal(run_ccs(NULL, 4, (kiln_tensor *[]){x, w, NULL, past}, out), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kn_error_message(), "past_state"));
    assert_int_equal(run_ccs(NULL, 3, (kiln_tensor *[]){x, w, bias}, out), KILN_ERROR_SHAPE);
    assert_int_equal(run_ccs("relu", 2, (kiln_tensor *[]){x, w}, out), KILN_ERROR_UNSUPPORTED);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(w2);
    kn_tensor_free(past);
    kn_tensor_free(bias);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_naive),
        cmocka_unit_test(test_chained_calls_and_short_inputs),
        cmocka_unit_test(test_kernel_one),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
