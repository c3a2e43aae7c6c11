/* Runtime: load -> plan -> run through the public API, on tiny models from
 * tests/data (regenerate with tests/data/make_test_models.py). */
#include "harness.h"
#include "runtime/runtime.h"

#include <math.h>

static char *data_path(const char *name)
{
    static char buf[4096];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/tests/data/%s", src ? src : KILN_TEST_SOURCE_DIR, name);
    return buf;
}

static kiln_model *load(const char *name)
{
    kiln_model *m = NULL;
    kiln_status s = kiln_model_load(data_path(name), NULL, &m);
    if (s != KILN_OK)
        fail_msg("loading %s: %s", name, kiln_last_error());
    return m;
}

static kiln_tensor *run1(kiln_context *c, const char *in_name, const kiln_tensor *x, const char *out_name)
{
    kiln_tensor *y = NULL;
    kiln_status s = kiln_context_run(c, 1, &in_name, &x, 1, &out_name, &y);
    if (s != KILN_OK)
        fail_msg("run: %s", kiln_last_error());
    return y;
}

/* Alternating Relu/Neg: the answer is -relu(x) after an even count of pairs,
 * and the arena holds two [N,16] buffers, not twelve. */
static void test_relu_chain_and_arena_reuse(void **state)
{
    (void)state;
    kiln_model *m = load("relu_chain.onnx");
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    kiln_tensor *x = kt_f32_random(KT_DIMS(3, 16), 1, -1, 1);
    kiln_tensor *y = run1(c, "x", x, "y");
    const float *xd = x->data, *yd = y->data;
    for (int i = 0; i < 48; i++) {
        /* relu, neg, relu(neg) = 0 for positive... six rounds of relu then neg */
        float v = xd[i];
        for (int k = 0; k < 12; k++)
            v = k % 2 == 0 ? (v > 0 ? v : 0) : -v;
        assert_float_equal(yd[i], v, 0);
    }
    size_t one = 3 * 16 * sizeof(float);
    size_t arena = kiln_context_arena_bytes(c);
    assert_true(arena >= one);
    assert_true(arena <= 2 * 256); /* two 192-byte buffers aligned to 64 */
    kiln_tensor_release(y);

    /* A new batch size re-plans without reloading. */
    kiln_tensor *x2 = kt_f32_random(KT_DIMS(7, 16), 2, -1, 1);
    y = run1(c, "x", x2, "y");
    kt_assert_shape(y, KT_DIMS(7, 16));
    assert_true(kiln_context_arena_bytes(c) >= 7 * 16 * sizeof(float));
    kiln_tensor_release(y);
    kiln_tensor_release(x);
    kiln_tensor_release(x2);
    kiln_context_release(c);
    kiln_model_release(m);
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape folds at plan time: one step remains. */
static void test_shape_chain_folds(void **state)
{
    (void)state;
    kiln_model *m = load("shape_chain.onnx");
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    kiln_tensor *x = kt_f32_random(KT_DIMS(5, 3, 4), 3, -1, 1);
    kiln_tensor *y = run1(c, "x", x, "y");
    kt_assert_shape(y, KT_DIMS(5, 12));
    kt_assert_f32_close(y, x->data, 60, 0, 0);
    assert_int_equal(c->plan->n_steps, 1);
    kiln_tensor_release(y);
    kiln_tensor_release(x);
    kiln_context_release(c);
    kiln_model_release(m);
}

/* Identity and Dropout vanish at load; outputs named in the file survive. */
static void test_eliminations_keep_outputs(void **state)
{
    (void)state;
    kiln_model *m = load("add_const.onnx");
    size_t n;
    assert_int_equal(kiln_model_op_stats(m, 1, &n), KILN_OK);
    for (size_t i = 0; i < n; i++) {
        kiln_op_stat st;
        assert_int_equal(kiln_model_op_stat(m, 1, i, &st), KILN_OK);
        assert_string_not_equal(st.op_type, "Dropout");
    }
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    float xv[6] = {0, 1, 2, 3, 4, 5};
    kiln_tensor *x = kt_f32(KT_DIMS(2, 3), xv);
    const char *in = "x";
    kiln_tensor *outs[2] = {NULL, NULL};
    assert_int_equal(kiln_context_run(c, 1, &in, (const kiln_tensor *const *)&x, 2, NULL, outs), KILN_OK);
    float a[6], y[6];
    for (int i = 0; i < 6; i++) {
        a[i] = xv[i] + (float)(i % 3 + 1);
        y[i] = a[i] * (float)(i % 3 + 1);
    }
    kt_assert_f32_close(outs[0], y, 6, 0, 0);
    kt_assert_f32_close(outs[1], a, 6, 0, 0);
    kiln_tensor_release(outs[0]);
    kiln_tensor_release(outs[1]);

    /* Into a caller buffer (zero copy). */
    float buf[6];
    kiln_tensor *wrapped;
    assert_int_equal(kiln_tensor_wrap(KILN_DTYPE_FLOAT, 2, (int64_t[]){2, 3}, buf, sizeof buf, &wrapped), KILN_OK);
    const char *yname = "y";
    kiln_tensor *o = wrapped;
    assert_int_equal(kiln_context_run(c, 1, &in, (const kiln_tensor *const *)&x, 1, &yname, &o), KILN_OK);
    assert_ptr_equal(o, wrapped);
    for (int i = 0; i < 6; i++)
        assert_float_equal(buf[i], y[i], 0);
    kiln_tensor_release(wrapped);
    kiln_tensor_release(x);
    kiln_context_release(c);
    kiln_model_release(m);
}

static void test_bad_inputs_leave_context_usable(void **state)
{
    (void)state;
    kiln_model *m = load("two_inputs.onnx");
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    kiln_tensor *a = kt_f32_random(KT_DIMS(2, 4), 4, -1, 1);
    kiln_tensor *b = kt_f32_random(KT_DIMS(1, 4), 5, -1, 1);
    kiln_tensor *bad_shape = kt_f32(KT_DIMS(1, 5), NULL);
    kiln_tensor *bad_dtype = kt_i64(KT_DIMS(1, 4), NULL);
    const kiln_tensor *ins[2] = {a, b};
    const char *names[2] = {"a", "b"};
    kiln_tensor *out = (kiln_tensor *)0x1; /* must stay untouched on error */
    kiln_tensor *sentinel = out;

    const char *unknown[2] = {"a", "zzz"};
    assert_int_equal(kiln_context_run(c, 2, unknown, ins, 1, NULL, &out), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kiln_last_error(), "zzz"));
    assert_int_equal(kiln_context_run(c, 1, names, ins, 1, NULL, &out), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kiln_last_error(), "'b'"));
    const char *dup[2] = {"a", "a"};
    assert_int_equal(kiln_context_run(c, 2, dup, ins, 1, NULL, &out), KILN_ERROR_ARGUMENT);
    ins[1] = bad_shape;
    assert_int_equal(kiln_context_run(c, 2, names, ins, 1, NULL, &out), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kiln_last_error(), "input 'b'"));
    ins[1] = bad_dtype;
    assert_int_equal(kiln_context_run(c, 2, names, ins, 1, NULL, &out), KILN_ERROR_DTYPE);
    assert_ptr_equal(out, sentinel);

    ins[1] = b;
    out = NULL;
    assert_int_equal(kiln_context_run(c, 2, names, ins, 1, NULL, &out), KILN_OK);
    float expect[8];
    for (int i = 0; i < 8; i++)
        expect[i] = ((float *)a->data)[i] + ((float *)b->data)[i % 4];
    kt_assert_f32_close(out, expect, 8, 0, 0);
    kiln_tensor_release(out);
    kiln_tensor_release(a);
    kiln_tensor_release(b);
    kiln_tensor_release(bad_shape);
    kiln_tensor_release(bad_dtype);
    kiln_context_release(c);
    kiln_model_release(m);
}

static void test_dynamic_step(void **state)
{
    (void)state;
    kiln_model *m = load("nonzero.onnx");
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    float xv[4] = {0, 2, 0, 3};
    kiln_tensor *x = kt_f32(KT_DIMS(4), xv);
    kiln_tensor *y = run1(c, "x", x, "y");
    kt_assert_shape(y, KT_DIMS(1, 2));
    kt_assert_i64_equal(y, (int64_t[]){-1, -3}, 2);
    kiln_tensor_release(y);
    /* same shape, other data: the same plan gives other output shapes */
    float xv2[4] = {1, 1, 1, 0};
    memcpy(x->data, xv2, sizeof xv2);
    y = run1(c, "x", x, "y");
    kt_assert_i64_equal(y, (int64_t[]){0, -1, -2}, 3);
    kiln_tensor_release(y);
    kiln_tensor_release(x);
    kiln_context_release(c);
    kiln_model_release(m);
}

static void test_unsupported_ops_all_listed(void **state)
{
    (void)state;
    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load(data_path("unsupported.onnx"), NULL, &m), KILN_ERROR_UNSUPPORTED);
    assert_null(m);
    assert_non_null(strstr(kiln_last_error(), "FooBar"));
    assert_non_null(strstr(kiln_last_error(), "BazQux"));

    kiln_options *o;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_allow_unsupported(o, 1), KILN_OK);
    assert_int_equal(kiln_model_load(data_path("unsupported.onnx"), o, &m), KILN_OK);
    size_t n, unsupported = 0;
    assert_int_equal(kiln_model_op_stats(m, 0, &n), KILN_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        kiln_op_stat st;
        assert_int_equal(kiln_model_op_stat(m, 0, i, &st), KILN_OK);
        unsupported += !st.supported;
    }
    assert_int_equal(unsupported, 2);
    kiln_context *c = NULL;
    assert_int_equal(kiln_context_create(m, &c), KILN_ERROR_UNSUPPORTED);
    assert_null(c);
    kiln_model_release(m);
    kiln_options_release(o);
}

static void test_missing_file(void **state)
{
    (void)state;
    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load("/nonexistent/model.onnx", NULL, &m), KILN_ERROR_IO);
    assert_null(m);
    assert_non_null(strstr(kiln_last_error(), "/nonexistent/model.onnx"));
    kiln_model_release(NULL);
    kiln_context_release(NULL);
    kiln_options_release(NULL);
    kiln_tensor_release(NULL);
}

/* An interrupt only affects the run in progress: the context stays usable. */
static void test_interrupt_flag_resets(void **state)
{
    (void)state;
    kiln_model *m = load("relu_chain.onnx");
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    kiln_context_interrupt(c);
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 16), 9, -1, 1);
    kiln_tensor *y = run1(c, "x", x, "y");
    kiln_tensor_release(y);
    kiln_tensor_release(x);
    kiln_context_release(c);
    kiln_model_release(m);
}

/* Slots the planner made slices of a Concat's output (their producers
 * write in place). */
static int count_slices(const kiln_context *c)
{
    int n = 0;
    for (int i = 0; i < c->plan->n_slots; i++)
        n += c->plan->slots[i].alias != 0;
    return n;
}

/* concat_slices.onnx (make_test_models.py says which inputs qualify): the
 * results are the same whether producers write in place or not, and with
 * N = 1 exactly a, b and e do; optimization level 0 copies everything, as
 * does N = 3 (strided slices, which these ops do not write). */
static void test_concat_slices(void **state)
{
    (void)state;
    for (int level = 0; level <= 1; level++) {
        kiln_options *o = NULL;
        assert_int_equal(kiln_options_create(&o), KILN_OK);
        assert_int_equal(kiln_options_set_opt_level(o, level), KILN_OK);
        kiln_model *m = NULL;
        assert_int_equal(kiln_model_load(data_path("concat_slices.onnx"), o, &m), KILN_OK);
        kiln_options_release(o);
        kiln_context *c;
        assert_int_equal(kiln_context_create(m, &c), KILN_OK);
        for (int64_t N = 1; N <= 3; N += 2) {
            kiln_tensor *x = kt_f32_random(KT_DIMS(N, 4, 4), 5, -2, 2), *v = kt_f32_random(KT_DIMS(N, 3), 6, -2, 2);
            const char *in_names[2] = {"x", "v"}, *out_names[3] = {"y", "c", "z"};
            const kiln_tensor *ins[2] = {x, v};
            kiln_tensor *outs[3] = {0};
            assert_int_equal(kiln_context_run(c, 2, in_names, ins, 3, out_names, outs), KILN_OK);
            const float *xd = x->data, *vd = v->data, *y = outs[0]->data, *cd = outs[1]->data, *z = outs[2]->data;
            for (int64_t n = 0; n < N; n++) {
                for (int k = 0; k < 16; k++) {
                    const float t = xd[n * 16 + k], sig = 1.0f / (1.0f + expf(-t));
                    assert_float_equal(y[n * 64 + k], t > 0 ? t : 0, 0);
                    assert_float_equal(y[n * 64 + 16 + k], -t, 0);
                    assert_float_equal(y[n * 64 + 32 + k], t, 0);
                    assert_float_equal(y[n * 64 + 48 + k], cd[n * 16 + k], 0);
                    assert_float_equal(cd[n * 16 + k], sig, 1e-6);
                }
                for (int k = 0; k < 3; k++) {
                    assert_float_equal(z[n * 6 + k], expf(vd[n * 3 + k]), 1e-5 * expf(vd[n * 3 + k]));
                    assert_float_equal(z[n * 6 + 3 + k], fabsf(vd[n * 3 + k]), 0);
                }
            }
            assert_int_equal(count_slices(c), level == 1 && N == 1 ? 3 : 0);
            for (int i = 0; i < 3; i++)
                kiln_tensor_release(outs[i]);
            kiln_tensor_release(x);
            kiln_tensor_release(v);
        }
        kiln_context_release(c);
        kiln_model_release(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu_chain_and_arena_reuse), cmocka_unit_test(test_shape_chain_folds),
        cmocka_unit_test(test_eliminations_keep_outputs),  cmocka_unit_test(test_bad_inputs_leave_context_usable),
        cmocka_unit_test(test_dynamic_step),               cmocka_unit_test(test_unsupported_ops_all_listed),
        cmocka_unit_test(test_missing_file),               cmocka_unit_test(test_interrupt_flag_resets),
        cmocka_unit_test(test_concat_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
