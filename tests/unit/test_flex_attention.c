/* FlexAttention's score_mod / prob_mod subgraphs end to end through the
 * loader, scope binding and the planner, on the model
 * tests/data/attention/make_models.py writes: score_mod adds a main-graph
 * input (outer scope), prob_mod doubles the probabilities. */
#include "harness.h"

#include "runtime/runtime.h"

#include <math.h>

static kiln_model *load(const char *name)
{
    char path[1024];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/data/attention/%s.onnx", src ? src : KILN_TEST_SOURCE_DIR, name);
    kiln_model *m = NULL;
    if (kiln_model_load(path, NULL, &m) != KILN_OK)
        fail_msg("loading %s: %s", name, kiln_last_error());
    return m;
}

/* Y for the model: softmax(QK^T / 2 + bias) * 2 times V, in double. */
static void reference(const float *q, const float *k, const float *v, const float *bias, float *want)
{
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 3; i++) {
            double s[5], mx = -INFINITY, sum = 0;
            for (int j = 0; j < 5; j++) {
                double dot = 0;
                for (int d = 0; d < 4; d++)
                    dot += (double)q[(h * 3 + i) * 4 + d] * k[j * 4 + d];
                s[j] = dot / 2.0 + bias[i * 5 + j]; /* default scale 1/sqrt(4) */
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int j = 0; j < 5; j++)
                sum += s[j] = exp(s[j] - mx);
            for (int e = 0; e < 2; e++) {
                double acc = 0;
                for (int j = 0; j < 5; j++)
                    acc += 2.0 * s[j] / sum * v[j * 2 + e];
                want[(h * 3 + i) * 2 + e] = (float)acc;
            }
        }
}

static void test_score_and_prob_mods(void **state)
{
    (void)state;
    kiln_model *m = load("flex_mods");
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    kiln_tensor *in[4] = {kt_f32_random(KT_DIMS(1, 2, 3, 4), 1, -1, 1), kt_f32_random(KT_DIMS(1, 1, 5, 4), 2, -1, 1),
                          kt_f32_random(KT_DIMS(1, 1, 5, 2), 3, -1, 1), kt_f32_random(KT_DIMS(3, 5), 4, -3, 3)};
    const char *names[4] = {"Q", "K", "V", "bias"};
    kiln_tensor *out[1] = {NULL};
    float want[12];
    /* the outer value changes between runs and the subgraph sees each */
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            for (int i = 0; i < 15; i++)
                ((float *)in[3]->data)[i] = i % 4 == 0 ? -INFINITY : 0.5f * (float)i;
        if (kiln_context_run(ctx, 4, names, (const kiln_tensor *const *)in, 1, NULL, out) != KILN_OK)
            fail_msg("run: %s", kiln_last_error());
        reference(in[0]->data, in[1]->data, in[2]->data, in[3]->data, want);
        kt_assert_shape(out[0], KT_DIMS(1, 2, 3, 2));
        kt_assert_f32_close(out[0], want, 12, 1e-5, 1e-6);
        kiln_tensor_release(out[0]);
        out[0] = NULL;
    }
    for (int i = 0; i < 4; i++)
        kn_tensor_free(in[i]);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_and_prob_mods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
