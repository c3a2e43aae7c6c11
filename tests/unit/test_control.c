/* If / Loop / Scan end to end through the loader, scope binding and the
 * planner, on the models tests/data/control/make_models.py writes. Every
 * body reads values of an enclosing graph by name. */
#include "harness.h"

#include "graph/scope.h"
#include "runtime/runtime.h"

#include <unistd.h>

static void model_path(const char *name, char *buf, size_t size)
{
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(buf, size, "%s/tests/data/control/%s.onnx", src ? src : KILN_TEST_SOURCE_DIR, name);
}

static kiln_model *load(const char *name)
{
    char path[1024];
    model_path(name, path, sizeof path);
    kiln_model *m = NULL;
    kiln_status s = kiln_model_load(path, NULL, &m);
    if (s != KILN_OK)
        fail_msg("loading %s: %s", name, kiln_last_error());
    return m;
}

/* Runs with all model inputs in order; outputs created by kiln. */
static kiln_status run(kiln_context *ctx, int n_in, kiln_tensor *const *in, int n_out, kiln_tensor **out)
{
    for (int i = 0; i < n_out; i++)
        out[i] = NULL;
    const char *names[8];
    kiln_value_info info;
    for (int i = 0; i < n_in; i++) {
        assert_int_equal(kiln_model_input_info(ctx->model, (size_t)i, &info), KILN_OK);
        names[i] = info.name;
    }
    return kiln_context_run(ctx, (size_t)n_in, names, (const kiln_tensor *const *)in, (size_t)n_out, NULL, out);
}

static kiln_tensor *bool_scalar(bool v)
{
    uint8_t b = v;
    return kt_tensor(KILN_DTYPE_BOOL, 0, NULL, &b);
}

static const kn_node *find_node(const kn_graph *g, const char *op_type)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && strcmp(g->nodes[i].op_type, op_type) == 0)
            return &g->nodes[i];
    return NULL;
}

static void check_if_outer(kiln_model *m)
{
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    const float xv[6] = {1, 2, 3, 4, 5, 6};
    kiln_tensor *in[2] = {bool_scalar(true), kt_f32(KT_DIMS(2, 3), xv)};
    kiln_tensor *out[1];
    assert_int_equal(run(ctx, 2, in, 1, out), KILN_OK);
    const float sq2[6] = {2, 8, 18, 32, 50, 72}; /* (x + x) * x */
    kt_assert_shape(out[0], KT_DIMS(2, 3));
    kt_assert_f32_close(out[0], sq2, 6, 0, 0);
    kiln_tensor_release(out[0]);

    /* The other branch has another shape: the context follows at run time. */
    kn_tensor_free(in[0]);
    in[0] = bool_scalar(false);
    assert_int_equal(run(ctx, 2, in, 1, out), KILN_OK);
    const float max3[3] = {12, 15, 18}; /* max over axis 0 of 3x */
    kt_assert_shape(out[0], KT_DIMS(1, 3));
    kt_assert_f32_close(out[0], max3, 3, 0, 0);
    kiln_tensor_release(out[0]);
    kn_tensor_free(in[0]);
    kn_tensor_free(in[1]);
    kiln_context_release(ctx);
}

static void test_if_reads_outer_scope(void **state)
{
    (void)state;
    kiln_model *m = load("if_outer");
    /* The branches read c, y and z of the main graph (z also through the
     * nested If of the else branch): they become hidden inputs, never
     * declared ones. y = Identity(x) is eliminated, so an Identity must
     * keep the name y the subgraphs read. */
    const kn_node *n = find_node(m->graph, "If");
    assert_non_null(n);
    assert_int_equal(kn_node_declared_inputs(n), 1);
    assert_int_equal(n->n_in, 4);
    check_if_outer(m);
    kiln_model_release(m);
}

static void test_if_saved_model_has_no_hidden_inputs(void **state)
{
    (void)state;
    kiln_model *m = load("if_outer");
    char path[] = "/tmp/kiln_test_control_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(kiln_model_save(m, path), KILN_OK);
    kiln_model_release(m);
    /* Were the hidden inputs written, the If would declare 3 inputs and the
     * reload would refuse it. */
    kiln_model *again = NULL;
    kiln_status s = kiln_model_load(path, NULL, &again);
    unlink(path);
    if (s != KILN_OK)
        fail_msg("reloading the saved model: %s", kiln_last_error());
    const kn_node *n = find_node(again->graph, "If");
    assert_non_null(n);
    assert_int_equal(kn_node_declared_inputs(n), 1);
    assert_int_equal(n->n_in, 4);
    check_if_outer(again);
    kiln_model_release(again);
}

/* The loop the model encodes, step by step. */
static int64_t loop_reference(int64_t trip, const float x[2], float acc[2], float *scans)
{
    float w[2] = {x[0] * x[0], x[1] * x[1]};
    acc[0] = x[0];
    acc[1] = x[1];
    bool cond = true;
    int64_t it = 0;
    for (; it < trip && cond; it++) {
        for (int k = 0; k < 2; k++) {
            acc[k] = acc[k] + w[k] + (float)it;
            scans[2 * it + k] = acc[k];
        }
        cond = acc[0] + acc[1] < 100.0f;
    }
    return it;
}

static void check_loop(kiln_context *ctx, int64_t trip, const float x[2], int64_t expect_iters)
{
    kiln_tensor *in[2] = {kt_i64(0, NULL, &trip), kt_f32(KT_DIMS(2), x)};
    kiln_tensor *out[2];
    assert_int_equal(run(ctx, 2, in, 2, out), KILN_OK);
    float acc[2], scans[64];
    int64_t iters = loop_reference(trip, x, acc, scans);
    assert_int_equal(iters, expect_iters);
    kt_assert_shape(out[0], KT_DIMS(2));
    kt_assert_f32_close(out[0], acc, 2, 0, 0);
    kt_assert_shape(out[1], 2, (int64_t[]){iters, 2});
    kt_assert_f32_close(out[1], scans, 2 * iters, 0, 0);
    for (int i = 0; i < 2; i++) {
        kiln_tensor_release(out[i]);
        kn_tensor_free(in[i]);
    }
}

static void test_loop_trip_count_cond_and_scan_outputs(void **state)
{
    (void)state;
    kiln_model *m = load("loop_outer");
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    check_loop(ctx, 5, (const float[]){1, 2}, 5);    /* stops at M */
    check_loop(ctx, 5, (const float[]){10, 20}, 1);  /* cond false after one */
    check_loop(ctx, 1, (const float[]){0.5f, -3}, 1);
    /* no iteration: the initial value, and scans [0, 2] as the body declares */
    check_loop(ctx, 0, (const float[]){3, 4}, 0);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

static void test_loop_without_bounds_is_refused(void **state)
{
    (void)state;
    kiln_model *m = load("loop_forever");
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(1), (const float[]){1})};
    kiln_tensor *out[1];
    assert_int_equal(run(ctx, 1, in, 1, out), KILN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(kiln_last_error(), "infinite"));
    kn_tensor_free(in[0]);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

static void test_scan_axes_and_directions(void **state)
{
    (void)state;
    kiln_model *m = load("scan_axes");
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    for (int64_t len = 0; len <= 3; len += 3) {
        const float init[2] = {1, -2};
        float xs[6], ys[6];
        for (int i = 0; i < 6; i++) {
            xs[i] = (float)(i + 1);     /* [len, 2] */
            ys[i] = (float)(10 - 2 * i); /* [2, len] */
        }
        kiln_tensor *in[3] = {kt_f32(KT_DIMS(2), init), kt_f32(2, (int64_t[]){len, 2}, xs),
                              kt_f32(2, (int64_t[]){2, len}, ys)};
        kiln_tensor *out[2];
        kiln_status s = run(ctx, 3, in, 2, out);
        if (s != KILN_OK)
            fail_msg("len %lld: %s", (long long)len, kiln_last_error());
        /* reference: ys backwards along axis 1, outputs stacked backwards
         * along the last axis */
        float st[2] = {init[0], init[1]}, outs[6];
        for (int64_t t = 0; t < len; t++)
            for (int k = 0; k < 2; k++) {
                st[k] += xs[t * 2 + k] * ys[k * len + (len - 1 - t)];
                outs[k * len + (len - 1 - t)] = st[k] - init[k];
            }
        kt_assert_shape(out[0], KT_DIMS(2));
        kt_assert_f32_close(out[0], st, 2, 0, 0);
        kt_assert_shape(out[1], 2, (int64_t[]){2, len});
        kt_assert_f32_close(out[1], outs, 2 * len, 0, 0);
        for (int i = 0; i < 3; i++)
            kn_tensor_free(in[i]);
        for (int i = 0; i < 2; i++)
            kiln_tensor_release(out[i]);
    }
    kiln_context_release(ctx);
    kiln_model_release(m);
}

static void test_scan_lengths_must_agree(void **state)
{
    (void)state;
    kiln_model *m = load("scan_axes");
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    kiln_tensor *in[3] = {kt_f32(KT_DIMS(2), NULL), kt_f32(KT_DIMS(3, 2), NULL), kt_f32(KT_DIMS(2, 4), NULL)};
    kiln_tensor *out[2];
    assert_int_equal(run(ctx, 3, in, 2, out), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kiln_last_error(), "Scan"));
    /* the context stays usable */
    kn_tensor_free(in[2]);
    in[2] = kt_f32(KT_DIMS(2, 3), NULL);
    assert_int_equal(run(ctx, 3, in, 2, out), KILN_OK);
    kt_assert_shape(out[1], KT_DIMS(2, 3));
    for (int i = 0; i < 3; i++)
        kn_tensor_free(in[i]);
    for (int i = 0; i < 2; i++)
        kiln_tensor_release(out[i]);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

/* Load, plan and run a model once; outputs[0] kept when it succeeds. */
static kiln_status load_and_run(const char *name, int n_in, kiln_tensor *const *in, int n_out, kiln_tensor **out)
{
    char path[1024];
    model_path(name, path, sizeof path);
    kiln_model *m = NULL;
    kiln_context *ctx = NULL;
    kiln_status s = kiln_model_load(path, NULL, &m);
    if (s == KILN_OK)
        s = kiln_context_create(m, &ctx);
    if (s == KILN_OK)
        s = run(ctx, n_in, in, n_out, out);
    kiln_context_release(ctx);
    kiln_model_release(m);
    return s;
}

/* Every allocation of loading and running the subgraphs may fail: each
 * failure must come back as a clean NOMEM (ASan builds see the leaks). */
static void check_alloc_failures(const char *name, int n_in, kiln_tensor *const *in, int n_out)
{
    kiln_tensor *ref[4], *got[4];
    assert_int_equal(load_and_run(name, n_in, in, n_out, ref), KILN_OK);
    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
        kn_alloc_fail_at(nth);
        kiln_status s = load_and_run(name, n_in, in, n_out, got);
        bool injected = kn_alloc_count() >= nth;
        kn_alloc_fail_at(0);
        if (s == KILN_OK) {
            for (int i = 0; i < n_out; i++) {
                kt_assert_tensors_close(got[i], ref[i], 0, 0);
                kiln_tensor_release(got[i]);
            }
            if (!injected)
                break;
            continue;
        }
        if (s != KILN_ERROR_NOMEM)
            fail_msg("%s: allocation %llu failed: %s (%s), expected NOMEM", name, (unsigned long long)nth,
                     kiln_status_string(s), kiln_last_error());
        failures++;
        assert_true(nth < 100000);
    }
    assert_true(failures > 20);
    for (int i = 0; i < n_out; i++)
        kiln_tensor_release(ref[i]);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    const float xv[6] = {1, 2, 3, 4, 5, 6};
    kiln_tensor *if_in[2] = {bool_scalar(false), kt_f32(KT_DIMS(2, 3), xv)};
    check_alloc_failures("if_outer", 2, if_in, 1);
    int64_t trip = 3;
    kiln_tensor *loop_in[2] = {kt_i64(0, NULL, &trip), kt_f32(KT_DIMS(2), xv)};
    check_alloc_failures("loop_outer", 2, loop_in, 2);
    kiln_tensor *scan_in[3] = {kt_f32(KT_DIMS(2), xv), kt_f32(KT_DIMS(3, 2), xv), kt_f32(KT_DIMS(2, 3), xv)};
    check_alloc_failures("scan_axes", 3, scan_in, 2);
    for (int i = 0; i < 2; i++) {
        kn_tensor_free(if_in[i]);
        kn_tensor_free(loop_in[i]);
    }
    for (int i = 0; i < 3; i++)
        kn_tensor_free(scan_in[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_if_reads_outer_scope),
        cmocka_unit_test(test_if_saved_model_has_no_hidden_inputs),
        cmocka_unit_test(test_loop_trip_count_cond_and_scan_outputs),
        cmocka_unit_test(test_loop_without_bounds_is_refused),
        cmocka_unit_test(test_scan_axes_and_directions),
        cmocka_unit_test(test_scan_lengths_must_agree),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
