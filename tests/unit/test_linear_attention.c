/* LinearAttention against the recurrence written out in double here: every
 * update rule, decay per head and per key feature, beta per head and
 * shared, erase_gate, GQA, a past state, explicit scale, chained calls, and
 * refused input combinations. */
#include "harness.h"

#include <math.h>

enum { GATED = 1, DELTA = 2 };

typedef struct la_case {
    int64_t B, T, qH, kvH, dk, dv;
    unsigned rule;
    const float *q, *k, *v, *past, *decay, *beta, *erase;
    int64_t decay_last, beta_last;
    double scale; /* 0: default */
} la_case;

static void reference(const la_case *c, float *y, float *present)
{
    int64_t rep = c->qH / c->kvH;
    double scale = c->scale != 0 ? c->scale : 1.0 / sqrt((double)c->dk);
    double *S = calloc((size_t)(c->dk * c->dv), sizeof(double)), *vt = calloc((size_t)c->dv, sizeof(double));
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t g = 0; g < c->kvH; g++) {
            for (int64_t i = 0; i < c->dk * c->dv; i++)
                S[i] = c->past ? c->past[(b * c->kvH + g) * c->dk * c->dv + i] : 0;
            for (int64_t t = 0; t < c->T; t++) {
                const float *kt = c->k + (b * c->T + t) * c->kvH * c->dk + g * c->dk;
                const float *vr = c->v + (b * c->T + t) * c->kvH * c->dv + g * c->dv;
                if (c->rule & GATED)
                    for (int64_t d = 0; d < c->dk; d++) {
                        double f = exp(c->decay_last == c->kvH ? c->decay[(b * c->T + t) * c->kvH + g]
                                                               : c->decay[(b * c->T + t) * c->kvH * c->dk + g * c->dk + d]);
                        for (int64_t m = 0; m < c->dv; m++)
                            S[d * c->dv + m] *= f;
                    }
                for (int64_t m = 0; m < c->dv; m++)
                    vt[m] = vr[m];
                if (c->rule & DELTA) {
                    double bt = c->beta[(b * c->T + t) * c->beta_last + (c->beta_last == 1 ? 0 : g)];
                    for (int64_t m = 0; m < c->dv; m++) {
                        double r = 0;
                        for (int64_t d = 0; d < c->dk; d++)
                            r += S[d * c->dv + m] * kt[d] *
                                 (c->erase ? c->erase[(b * c->T + t) * c->kvH * c->dk + g * c->dk + d] : 1.0);
                        vt[m] = bt * (vt[m] - r);
                    }
                }
                for (int64_t d = 0; d < c->dk; d++)
                    for (int64_t m = 0; m < c->dv; m++)
                        S[d * c->dv + m] += kt[d] * vt[m];
                for (int64_t h = g * rep; h < (g + 1) * rep; h++)
                    for (int64_t m = 0; m < c->dv; m++) {
                        double o = 0;
                        for (int64_t d = 0; d < c->dk; d++)
                            o += c->q[(b * c->T + t) * c->qH * c->dk + h * c->dk + d] * S[d * c->dv + m];
                        y[(b * c->T + t) * c->qH * c->dv + h * c->dv + m] = (float)(scale * o);
                    }
            }
            for (int64_t i = 0; i < c->dk * c->dv; i++)
                present[(b * c->kvH + g) * c->dk * c->dv + i] = (float)S[i];
        }
    free(S);
    free(vt);
}

static const char *rule_name(unsigned rule)
{
    static const char *names[] = {"linear", "gated", "delta", "gated_delta"};
    return names[rule];
}

static void test_rules_match_naive(void **state)
{
    (void)state;
    enum { B = 2, T = 5, qH = 4, kvH = 2, dk = 3, dv = 2 };
    kiln_tensor *q = kt_f32_random(KT_DIMS(B, T, qH * dk), 1, -1, 1), *k = kt_f32_random(KT_DIMS(B, T, kvH * dk), 2, -1, 1),
                *v = kt_f32_random(KT_DIMS(B, T, kvH * dv), 3, -1, 1),
                *past = kt_f32_random(KT_DIMS(B, kvH, dk, dv), 4, -1, 1),
                *decay_h = kt_f32_random(KT_DIMS(B, T, kvH), 5, -0.5f, 0),
                *decay_d = kt_f32_random(KT_DIMS(B, T, kvH * dk), 6, -0.5f, 0),
                *beta_h = kt_f32_random(KT_DIMS(B, T, kvH), 7, 0, 1), *beta_1 = kt_f32_random(KT_DIMS(B, T, 1), 8, 0, 1),
                *erase = kt_f32_random(KT_DIMS(B, T, kvH * dk), 9, 0, 1);
    float y[B * T * qH * dv], pres[B * kvH * dk * dv];
    for (unsigned rule = 0; rule < 4; rule++)
        for (int variant = 0; variant < 2; variant++) {
            /* variant 1: per-head decay, shared beta, erase gate, past, scale */
            kiln_tensor *decay = rule & GATED ? (variant ? decay_h : decay_d) : NULL;
            kiln_tensor *beta = rule & DELTA ? (variant ? beta_1 : beta_h) : NULL;
            kiln_tensor *eg = rule & DELTA && variant ? erase : NULL;
            kt_node *n = kt_node_new("LinearAttention", 27);
            kt_attr_int(n, "q_num_heads", qH);
            kt_attr_int(n, "kv_num_heads", kvH);
            kt_attr_string(n, "update_rule", rule_name(rule));
            if (variant)
                kt_attr_float(n, "scale", 0.75f);
            kiln_tensor *out[2];
            kiln_tensor *in[7] = {q, k, v, variant ? past : NULL, decay, beta, eg};
            int n_in = eg ? 7 : beta ? 6 : decay ? 5 : 4;
            assert_int_equal(kt_run(n, n_in, in, 2, out), KILN_OK);
            la_case c = {B, T, qH, kvH, dk, dv, rule, q->data, k->data, v->data, variant ? past->data : NULL,
                         decay ? decay->data : NULL, beta ? beta->data : NULL, eg ? eg->data : NULL,
                         decay ? decay->dims[2] : 0, beta ? beta->dims[2] : 0, variant ? 0.75 : 0};
            reference(&c, y, pres);
            kt_assert_shape(out[0], KT_DIMS(B, T, qH * dv));
            kt_assert_shape(out[1], KT_DIMS(B, kvH, dk, dv));
            kt_assert_f32_close(out[0], y, B * T * qH * dv, 1e-4, 1e-5);
            kt_assert_f32_close(out[1], pres, B * kvH * dk * dv, 1e-4, 1e-5);
            kn_tensor_free(out[0]);
            kn_tensor_free(out[1]);
            kt_node_free(n);
        }
    kiln_tensor *all[] = {q, k, v, past, decay_h, decay_d, beta_h, beta_1, erase};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        kn_tensor_free(all[i]);
}

/* Without decay or delta the state is just sum_t k_t v_t^T. */
static void test_linear_hand_computed(void **state)
{
    (void)state;
    kiln_tensor *q = kt_f32(KT_DIMS(1, 2, 1), (float[]){1, 2}), *k = kt_f32(KT_DIMS(1, 2, 1), (float[]){3, 4}),
                *v = kt_f32(KT_DIMS(1, 2, 1), (float[]){5, 6});
    kt_node *n = kt_node_new("LinearAttention", 27);
    kt_attr_int(n, "q_num_heads", 1);
    kt_attr_int(n, "kv_num_heads", 1);
    kt_attr_string(n, "update_rule", "linear");
    kiln_tensor *out[2];
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){q, k, v}, 2, out), KILN_OK);
    /* S1 = 15, o1 = 1 * 15; S2 = 15 + 24 = 39, o2 = 2 * 39 (scale 1/sqrt(1)) */
    kt_assert_f32_close(out[0], (float[]){15, 78}, 2, 0, 0);
    kt_assert_f32_close(out[1], (float[]){39}, 1, 0, 0);
    kn_tensor_free(out[0]);
    kn_tensor_free(out[1]);
    kt_node_free(n);
    kn_tensor_free(q);
    kn_tensor_free(k);
    kn_tensor_free(v);
}

static kiln_status run_la(const char *rule, int64_t qh, int64_t kvh, int n_in, kiln_tensor *const *in)
{
    kt_node *n = kt_node_new("LinearAttention", 27);
    if (qh)
        kt_attr_int(n, "q_num_heads", qh);
    if (kvh)
        kt_attr_int(n, "kv_num_heads", kvh);
    if (rule)
        kt_attr_string(n, "update_rule", rule);
    kiln_tensor *out[2];
    kiln_status s = kt_run(n, n_in, in, 2, out);
    if (s == KILN_OK) {
        kn_tensor_free(out[0]);
        kn_tensor_free(out[1]);
    }
    kt_node_free(n);
    return s;
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(1, 2, 4), NULL), *decay = kt_f32(KT_DIMS(1, 2, 2), NULL),
                *beta = kt_f32(KT_DIMS(1, 2, 2), NULL), *bad_past = kt_f32(KT_DIMS(1, 2, 2, 3), NULL),
                *bad_beta = kt_f32(KT_DIMS(1, 2, 3), NULL);
    /* gated_delta (default) needs decay and beta */
    assert_int_equal(run_la(NULL, 2, 2, 3, (kiln_tensor *[]){x, x, x}), KILN_ERROR_MODEL);
    assert_non_null(strstr(kn_error_message(), "decay"));
    /* linear forbids them */
    assert_int_equal(run_la("linear", 2, 2, 6, (kiln_tensor *[]){x, x, x, NULL, NULL, beta}), KILN_ERROR_MODEL);
    /* heads are required and must divide */
    assert_int_equal(run_la("linear", 0, 2, 3, (kiln_tensor *[]){x, x, x}), KILN_ERROR_MODEL);
    assert_int_equal(run_la("linear", 3, 2, 3, (kiln_tensor *[]){x, x, x}), KILN_ERROR_MODEL);
    assert_int_equal(run_la("softmax", 2, 2, 3, (kiln_tensor *[]){x, x, x}), KILN_ERROR_MODEL);
    /* shapes */
    assert_int_equal(run_la("linear", 2, 2, 4, (kiln_tensor *[]){x, x, x, bad_past}), KILN_ERROR_SHAPE);
    assert_int_equal(run_la(NULL, 2, 2, 6, (kiln_tensor *[]){x, x, x, NULL, decay, bad_beta}), KILN_ERROR_SHAPE);
    /* the well-formed call works */
    assert_int_equal(run_la(NULL, 2, 2, 6, (kiln_tensor *[]){x, x, x, NULL, decay, beta}), KILN_OK);
    kn_tensor_free(x);
    kn_tensor_free(decay);
    kn_tensor_free(beta);
    kn_tensor_free(bad_past);
    kn_tensor_free(bad_beta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_match_naive),
        cmocka_unit_test(test_linear_hand_computed),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
