/* Optimization passes: every fused model gives the unoptimized model's
 * outputs; folds happen where they should and are blocked where a
 * precondition fails; the optimized model written back as ONNX runs the
 * same. Models: tests/data/fusion (make_fusion_models.py). */
#include "harness.h"
#include "runtime/runtime.h"

#include <math.h>
#include <unistd.h>

static const char *path_of(const char *name)
{
    static char buf[4096];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/tests/data/fusion/%s.onnx", src ? src : KILN_TEST_SOURCE_DIR, name);
    return buf;
}

static kiln_model *load_level_ex(const char *path, int level, bool blocked)
{
    kiln_options *o;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_opt_level(o, level), KILN_OK);
    if (!blocked)
        assert_int_equal(kiln_options_disable_pass(o, "nchwc"), KILN_OK);
    kiln_model *m = NULL;
    if (kiln_model_load(path, o, &m) != KILN_OK)
        fail_msg("load %s at level %d: %s", path, level, kiln_last_error());
    kiln_options_release(o);
    return m;
}

static kiln_model *load_level(const char *path, int level)
{
    return load_level_ex(path, level, true);
}

static size_t count_op(const kiln_model *m, const char *op)
{
    size_t n, total = 0;
    assert_int_equal(kiln_model_op_stats(m, 1, &n), KILN_OK);
    for (size_t i = 0; i < n; i++) {
        kiln_op_stat st;
        assert_int_equal(kiln_model_op_stat(m, 1, i, &st), KILN_OK);
        if (strcmp(st.op_type, op) == 0)
            total += st.count;
    }
    return total;
}

#define MAX_IO 4

/* Run m on deterministic random inputs of the declared shapes. */
static void run_model(const kiln_model *m, kiln_tensor **outs)
{
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    size_t ni = kiln_model_input_count(m), no = kiln_model_output_count(m);
    const char *names[MAX_IO];
    kiln_tensor *ins[MAX_IO];
    for (size_t i = 0; i < ni; i++) {
        kiln_value_info vi;
        assert_int_equal(kiln_model_input_info(m, i, &vi), KILN_OK);
        names[i] = vi.name;
        ins[i] = kt_f32_random((int)vi.rank, vi.dims, (uint32_t)(i + 11), -1, 1);
    }
    for (size_t i = 0; i < no; i++)
        outs[i] = NULL;
    if (kiln_context_run(c, ni, names, (const kiln_tensor *const *)ins, no, NULL, outs) != KILN_OK)
        fail_msg("run: %s", kiln_last_error());
    for (size_t i = 0; i < ni; i++)
        kiln_tensor_release(ins[i]);
    kiln_context_release(c);
}

/* Outputs at levels 1 to 3 (and after a save/reload) match level 0. A
 * model in the blocked layout (level 3 on any CPU, 2 on AVX-512) cannot be
 * saved, so the saved one is loaded without pass "nchwc". */
static void check_equivalent(const char *name)
{
    print_message("model %s\n", name);
    kiln_model *ref = load_level(path_of(name), 0);
    kiln_tensor *want[MAX_IO], *got[MAX_IO];
    run_model(ref, want);
    size_t no = kiln_model_output_count(ref);
    for (int level = 1; level <= 3; level++) {
        kiln_model *m = load_level(path_of(name), level);
        run_model(m, got);
        for (size_t i = 0; i < no; i++) {
            kt_assert_tensors_close(got[i], want[i], 1e-4, 1e-5);
            kiln_tensor_release(got[i]);
        }
        kiln_model_release(m);
        m = load_level_ex(path_of(name), level, false);
        /* written as standard ONNX and loaded back unoptimized: same answer */
        char tmp[] = "/tmp/kiln_passes_XXXXXX";
        int fd = mkstemp(tmp);
        assert_true(fd >= 0);
        close(fd);
        if (kiln_model_save(m, tmp) != KILN_OK)
            fail_msg("save %s: %s", name, kiln_last_error());
        kiln_model *back = load_level(tmp, 0);
        assert_int_equal(count_op(back, "FusedConv"), 0);
        run_model(back, got);
        for (size_t i = 0; i < no; i++) {
            kt_assert_tensors_close(got[i], want[i], 1e-4, 1e-5);
            kiln_tensor_release(got[i]);
        }
        kiln_model_release(back);
        unlink(tmp);
        kiln_model_release(m);
    }
    for (size_t i = 0; i < no; i++)
        kiln_tensor_release(want[i]);
    kiln_model_release(ref);
}

static size_t bn_after_level1(const char *name)
{
    kiln_model *m = load_level(path_of(name), 1);
    size_t n = count_op(m, "BatchNormalization");
    kiln_model_release(m);
    return n;
}

static void test_folds(void **state)
{
    (void)state;
    const char *folded[] = {"conv_bn", "conv_bn_nobias_group2", "conv_bn_depthwise", "convtranspose_bn",
                            "convtranspose_bn_group2", "convtranspose_bn_depthwise", "gemm_bn",
                            "gemm_transb_c_bn", "matmul_add_bn", "shared_weight",
                            "weight_graph_output"};
    for (size_t i = 0; i < sizeof folded / sizeof folded[0]; i++) {
        if (bn_after_level1(folded[i]) != 0)
            fail_msg("%s: BatchNormalization was not folded", folded[i]);
        check_equivalent(folded[i]);
    }
    kiln_model *m = load_level(path_of("matmul_add_bn"), 1);
    assert_int_equal(count_op(m, "MatMul"), 0);
    assert_int_equal(count_op(m, "Add"), 0);
    assert_int_equal(count_op(m, "Gemm"), 1);
    assert_true(kiln_model_pass_log_count(m) > 0);
    kiln_model_release(m);
}

static void test_blocked(void **state)
{
    (void)state;
    const char *blocked[] = {"block_two_consumers", "block_graph_output", "block_runtime_weight",
                             "block_training_bn"};
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++) {
        if (bn_after_level1(blocked[i]) != 1)
            fail_msg("%s: BatchNormalization was folded though it must not be", blocked[i]);
        if (strcmp(blocked[i], "block_training_bn") != 0)
            check_equivalent(blocked[i]);
    }
}

static void test_epilogues(void **state)
{
    (void)state;
    const char *cases[] = {"residual_relu", "conv_relu6", "conv_hardswish", "conv_silu",
                           "conv_add_broadcast_leaky"};
    bool have_fused = kn_op_find("kiln", "FusedConv", 1) != NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_equivalent(cases[i]);
        kiln_model *m = load_level_ex(path_of(cases[i]), 2, false);
        if (have_fused) {
            if (count_op(m, "FusedConv") != 1)
                fail_msg("%s: expected one FusedConv", cases[i]);
            assert_int_equal(count_op(m, "Relu") + count_op(m, "Clip") + count_op(m, "HardSwish") +
                                 count_op(m, "Sigmoid") + count_op(m, "LeakyRelu") + count_op(m, "Add") +
                                 count_op(m, "BatchNormalization"),
                             0);
        }
        kiln_model_release(m);
    }
}

static void test_disable_pass(void **state)
{
    (void)state;
    kiln_options *o;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_disable_pass(o, "fuse-bn"), KILN_OK);
    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load(path_of("conv_bn"), o, &m), KILN_OK);
    assert_int_equal(count_op(m, "BatchNormalization"), 1);
    kiln_model_release(m);
    kiln_options_release(o);
}

/* Worst relative difference between level-0 and level-2 outputs of a model
 * folder (model.onnx + test_data_set_0/input_0.pb). */
static double opt_worst_rel(const char *dir, size_t *bn_after, size_t *relu_after)
{
    char path[4096], in_path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    snprintf(in_path, sizeof in_path, "%s/test_data_set_0/input_0.pb", dir);
    kiln_tensor *x = NULL;
    if (kiln_tensor_read_file(in_path, &x) != KILN_OK)
        fail_msg("%s: %s", in_path, kiln_last_error());
    kiln_tensor *outs[2][MAX_IO];
    kiln_model *models[2] = {load_level(path, 0), load_level(path, 2)};
    for (int k = 0; k < 2; k++) {
        kiln_context *c;
        assert_int_equal(kiln_context_create(models[k], &c), KILN_OK);
        kiln_value_info vi;
        assert_int_equal(kiln_model_input_info(models[k], 0, &vi), KILN_OK);
        const char *name = vi.name;
        size_t no = kiln_model_output_count(models[k]);
        for (size_t i = 0; i < no; i++)
            outs[k][i] = NULL;
        if (kiln_context_run(c, 1, &name, (const kiln_tensor *const *)&x, no, NULL, outs[k]) != KILN_OK)
            fail_msg("%s: %s", path, kiln_last_error());
        kiln_context_release(c);
    }
    double worst = 0.0, scale = 0.0;
    size_t no = kiln_model_output_count(models[0]);
    for (size_t i = 0; i < no; i++) {
        const float *a = outs[0][i]->data, *b = outs[1][i]->data;
        int64_t n = kn_tensor_count(outs[0][i]);
        for (int64_t j = 0; j < n; j++)
            scale = fmax(scale, fabs(a[j]));
        for (int64_t j = 0; j < n; j++)
            worst = fmax(worst, fabs((double)a[j] - b[j]));
        kiln_tensor_release(outs[0][i]);
        kiln_tensor_release(outs[1][i]);
    }
    *bn_after = count_op(models[1], "BatchNormalization");
    *relu_after = count_op(models[1], "Relu");
    kiln_model_release(models[0]);
    kiln_model_release(models[1]);
    kiln_tensor_release(x);
    /* relative to the output's magnitude: outputs of random-weight models
     * are small and cross zero, so element-wise relative error is noise */
    return scale > 0 ? worst / scale : worst;
}

/* Bundled models (and, with KILN_BENCH_MODELS=dir, the exported benchmark
 * models): level 2 agrees with level 0 to 1e-4 relative. */
static void test_models_agree(void **state)
{
    (void)state;
    const char *src = getenv("KILN_SOURCE_DIR");
    const char *bundled[] = {"tiny_cnn", "tiny_mobilenet", "tiny_mlp_ln", "reshape_chain"};
    char dir[4096];
    size_t bn, relu;
    for (size_t i = 0; i < sizeof bundled / sizeof bundled[0]; i++) {
        snprintf(dir, sizeof dir, "%s/models/%s", src ? src : KILN_TEST_SOURCE_DIR, bundled[i]);
        double w = opt_worst_rel(dir, &bn, &relu);
        print_message("%s: worst |opt2 - opt0| / max|opt0| = %.3g\n", bundled[i], w);
        assert_true(w < 1e-4);
        assert_int_equal(bn, 0);
    }
    const char *bench = getenv("KILN_BENCH_MODELS");
    if (!bench)
        return;
    const char *big[] = {"resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0", "squeezenet1_1"};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        snprintf(dir, sizeof dir, "%s/%s", bench, big[i]);
        double w = opt_worst_rel(dir, &bn, &relu);
        print_message("%s: worst |opt2 - opt0| / max|opt0| = %.3g\n", big[i], w);
        assert_true(w < 1e-4);
        assert_int_equal(bn, 0);
        if (!strcmp(big[i], "resnet50"))
            assert_int_equal(relu, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folds),
        cmocka_unit_test(test_blocked),
        cmocka_unit_test(test_epilogues),
        cmocka_unit_test(test_disable_pass),
        cmocka_unit_test(test_models_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
