/* The blocked-layout pass (src/graph/nchwc.c) on the bundled models, at
 * level 3 so it runs on any CPU: which nodes it converts and which it
 * leaves, that the results match the unblocked graph (level 1) and do not
 * depend on the thread count, and that a blocked model refuses to be saved
 * while one loaded with the pass disabled saves. */
#include "harness.h"
#include "runtime/runtime.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *path_of(const char *rel)
{
    static char buf[4096];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/%s", src ? src : KILN_TEST_SOURCE_DIR, rel);
    return buf;
}

static kiln_model *load(const char *rel, int level, int threads, bool disable_nchwc)
{
    kiln_options *o = NULL;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_opt_level(o, level), KILN_OK);
    assert_int_equal(kiln_options_set_threads(o, threads), KILN_OK);
    if (disable_nchwc)
        assert_int_equal(kiln_options_disable_pass(o, "nchwc"), KILN_OK);
    kiln_model *m = NULL;
    if (kiln_model_load(path_of(rel), o, &m) != KILN_OK)
        fail_msg("loading %s: %s", rel, kiln_last_error());
    kiln_options_release(o);
    return m;
}

/* How many nodes of domain.op the model runs. */
static size_t count_op(const kiln_model *m, const char *domain, const char *op)
{
    size_t n = 0, total = 0;
    assert_int_equal(kiln_model_op_stats(m, 1, &n), KILN_OK);
    for (size_t i = 0; i < n; i++) {
        kiln_op_stat st;
        assert_int_equal(kiln_model_op_stat(m, 1, i, &st), KILN_OK);
        if (!strcmp(st.domain, domain) && !strcmp(st.op_type, op))
            total += st.count;
    }
    return total;
}

static void test_tiny_blocks_nodes(void **state)
{
    (void)state;
    kiln_model *m = load("models/tiny_blocks/model.onnx", 3, 1, false);
    /* every conv blocked, none left on the NCHW path */
    assert_int_equal(count_op(m, "kiln", "NchwcConv"), 11);
    assert_int_equal(count_op(m, "", "Conv") + count_op(m, "kiln", "FusedConv"), 0);
    assert_int_equal(count_op(m, "kiln", "NchwcMaxPool"), 1);
    assert_int_equal(count_op(m, "kiln", "NchwcAveragePool"), 1);
    assert_int_equal(count_op(m, "kiln", "NchwcGlobalAveragePool"), 1);
    assert_int_equal(count_op(m, "kiln", "NchwcChannelMul"), 1);
    /* the RGB stem reads NCHW: nothing to reorder in; one reorder out, for
     * the graph output */
    assert_int_equal(count_op(m, "kiln", "ReorderInput"), 0);
    assert_int_equal(count_op(m, "kiln", "ReorderOutput"), 1);
    kiln_model_release(m);

    m = load("models/tiny_blocks/model.onnx", 3, 1, true);
    assert_int_equal(count_op(m, "kiln", "NchwcConv"), 0);
    assert_int_equal(count_op(m, "kiln", "ReorderOutput"), 0);
    kiln_model_release(m);
    m = load("models/tiny_blocks/model.onnx", 1, 1, false);
    assert_int_equal(count_op(m, "kiln", "NchwcConv"), 0);
    kiln_model_release(m);
}

/* Blocked (level 3, 1 and 2 threads) against unblocked and unfused
 * (level 1) on inputs other than the test data's. */
static void check_same_results(const char *rel, int rank, const int64_t *dims, uint32_t seed)
{
    kiln_tensor *x = kt_f32_random(rank, dims, seed, -2, 2);
    kiln_model *plain = load(rel, 1, 1, false), *b1 = load(rel, 3, 1, false), *b2 = load(rel, 3, 2, false);
    assert_true(count_op(b1, "kiln", "NchwcConv") > 0);
    kiln_tensor *want = kt_run_model(plain, x), *got1 = kt_run_model(b1, x), *got2 = kt_run_model(b2, x);
    kt_assert_tensors_close(got1, want, 1e-4, 1e-4);
    assert_int_equal(got1->nbytes, got2->nbytes);
    assert_memory_equal(got1->data, got2->data, got1->nbytes);
    kiln_tensor_release(want);
    kiln_tensor_release(got1);
    kiln_tensor_release(got2);
    kiln_model_release(plain);
    kiln_model_release(b1);
    kiln_model_release(b2);
    kiln_tensor_release(x);
}

static void test_same_results(void **state)
{
    (void)state;
    check_same_results("models/tiny_blocks/model.onnx", 4, (int64_t[]){2, 3, 33, 33}, 77);
    check_same_results("models/tiny_blocks/model.onnx", 4, (int64_t[]){2, 3, 33, 33}, 78);
    check_same_results("models/tiny_cnn/model.onnx", 4, (int64_t[]){1, 3, 32, 32}, 79);
    check_same_results("models/tiny_mobilenet/model.onnx", 4, (int64_t[]){1, 3, 32, 32}, 80);
}

/* tiny_blocks (batch 2): the fire module's expand convs write their halves
 * of the Concat in place, as strided slices, and the residual conv writes
 * over its residual (test_same_results checks the values). */
static void test_outputs_in_place(void **state)
{
    (void)state;
    kiln_model *m = load("models/tiny_blocks/model.onnx", 3, 2, false);
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 3, 33, 33), 81, -2, 2);
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    const char *in = "input", *out = "output";
    const kiln_tensor *ins[1] = {x};
    kiln_tensor *y = NULL;
    assert_int_equal(kiln_context_run(c, 1, &in, ins, 1, &out, &y), KILN_OK);
    int slices = 0, strided = 0, over = 0;
    for (int i = 0; i < c->plan->n_slots; i++) {
        slices += c->plan->slots[i].alias != 0 && !c->plan->slots[i].in_place;
        over += c->plan->slots[i].in_place;
    }
    for (int i = 0; i < c->plan->n_steps; i++)
        strided += c->plan->steps[i].out_stride != 0;
    assert_int_equal(slices, 2);
    assert_int_equal(strided, 2);
    assert_int_equal(over, 1);
    kiln_tensor_release(y);
    kiln_tensor_release(x);
    kiln_context_release(c);
    kiln_model_release(m);
}

/* kiln_model_save writes ONNX; the blocked ops are not ONNX. */
static void test_save(void **state)
{
    (void)state;
    char out[] = "/tmp/kiln_nchwc_saveXXXXXX";
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    unlink(out);
    kiln_model *m = load("models/tiny_cnn/model.onnx", 3, 1, false);
    assert_int_equal(kiln_model_save(m, out), KILN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(kiln_last_error(), "nchwc"));
    assert_int_equal(access(out, F_OK), -1); /* nothing written */
    kiln_model_release(m);
    m = load("models/tiny_cnn/model.onnx", 3, 1, true);
    assert_int_equal(kiln_model_save(m, out), KILN_OK);
    kiln_model_release(m);
    /* what was saved is plain ONNX that loads (and blocks again) */
    kiln_model *saved = NULL;
    assert_int_equal(kiln_model_load(out, NULL, &saved), KILN_OK);
    assert_int_equal(count_op(saved, "kiln", "NchwcConv") + count_op(saved, "", "Conv") +
                         count_op(saved, "kiln", "FusedConv"),
                     4);
    kiln_model_release(saved);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_blocks_nodes),
        cmocka_unit_test(test_same_results),
        cmocka_unit_test(test_outputs_in_place),
        cmocka_unit_test(test_save),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
