/* Hostile models and inputs through the public API: each model of
 * tests/data/hostile (made by make_hostile_models.py) is wrong in one way and
 * must give one clear error (or, for NaN / zero-size data, a result), never a
 * crash; a 10k-node chain loads and runs; bad run-time inputs leave the
 * context usable; the resource limits stop a model before it allocates. */
#include "harness.h"

#include "onnx/onnx.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *src_dir(void)
{
    const char *src = getenv("KILN_SOURCE_DIR");
    return src ? src : KILN_TEST_SOURCE_DIR;
}

static char *hostile_path(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/tests/data/hostile/%s.onnx", src_dir(), name);
    return buf;
}

static kiln_model *load_ok(const char *path, const kiln_options *o)
{
    kiln_model *m = NULL;
    if (kiln_model_load(path, o, &m) != KILN_OK)
        fail_msg("loading %s: %s", path, kiln_last_error());
    return m;
}

static void expect_text(const char *needle)
{
    if (!strstr(kiln_last_error(), needle))
        fail_msg("error message '%s' does not contain '%s'", kiln_last_error(), needle);
}

/* ---- models refused at load ---- */

static void test_refused_at_load(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        kiln_status status;
        const char *needle;
    } cases[] = {
        {"ext_absolute", KILN_ERROR_MODEL, "external data path '/etc/passwd' is absolute"},
        {"ext_dotdot", KILN_ERROR_MODEL, "contains '..'"},
        {"dims_overflow", KILN_ERROR_MODEL, "initializer 'w': dims [4611686018427387904,8]"},
        {"raw_short", KILN_ERROR_MODEL, "raw_data has 20 bytes, dims [2,3] of float32 need 24"},
        {"raw_long", KILN_ERROR_MODEL, "raw_data has 28 bytes, dims [2,3] of float32 need 24"},
        {"cycle", KILN_ERROR_MODEL, "cycle"},
        {"self_loop", KILN_ERROR_MODEL, "cycle through node 'self'"},
        {"attr_string_for_ints", KILN_ERROR_MODEL, "attribute 'kernel_shape' is string, expected ints"},
        {"attr_float_for_ints", KILN_ERROR_MODEL, "attribute 'strides' is float, expected ints"},
        {"attr_ints_for_int", KILN_ERROR_MODEL, "attribute 'axis' is ints, expected int"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_model *m = (kiln_model *)0x1;
        kiln_status s = kiln_model_load(hostile_path(cases[i].name), NULL, &m);
        if (s != cases[i].status)
            fail_msg("%s: status %s (%s), expected %s", cases[i].name, kiln_status_string(s), kiln_last_error(),
                     kiln_status_string(cases[i].status));
        assert_ptr_equal(m, (kiln_model *)0x1);
        expect_text(cases[i].needle);
        expect_text(cases[i].name); /* the file is named */
    }
}

/* The model folder holds a symlink to a file outside it. */
static void test_external_symlink_out(void **state)
{
    (void)state;
    char root[] = "/tmp/kiln_hostile_XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[64], cmd[8400], outside[128], link[128], model[128];
    snprintf(dir, sizeof dir, "%s/model", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(outside, sizeof outside, "%s/secret.bin", root);
    FILE *f = fopen(outside, "wb");
    assert_non_null(f);
    float secret[6] = {1, 2, 3, 4, 5, 6};
    fwrite(secret, sizeof secret, 1, f);
    fclose(f);
    snprintf(link, sizeof link, "%s/link.bin", dir);
    assert_int_equal(symlink(outside, link), 0);
    snprintf(model, sizeof model, "%s/m.onnx", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", hostile_path("ext_symlink"), model);
    assert_int_equal(system(cmd), 0);
    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load(model, NULL, &m), KILN_ERROR_MODEL);
    expect_text("'link.bin' resolves outside the model folder");
    /* the same file, really inside the folder, loads */
    unlink(link);
    snprintf(cmd, sizeof cmd, "mv '%s' '%s'", outside, link);
    assert_int_equal(system(cmd), 0);
    m = load_ok(model, NULL);
    kiln_model_release(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* ---- models that load but cannot run: one clear error per run ---- */

static void test_refused_at_run(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        kiln_dtype dtype;
        kiln_status status;
        const char *needle;
    } cases[] = {
        {"shape_overflow", KILN_DTYPE_UNDEFINED, KILN_ERROR_SHAPE, "node 'cos' (ConstantOfShape)"},
        {"reshape_overflow", KILN_DTYPE_FLOAT, KILN_ERROR_SHAPE, "node 'reshape' (Reshape)"},
        {"conv_int64", KILN_DTYPE_INT64, KILN_ERROR_DTYPE, "node 'conv' (Conv): input 0 has dtype int64"},
        {"add_mixed", KILN_DTYPE_FLOAT, KILN_ERROR_DTYPE, "node 'add' (Add): input 1 has dtype int64"},
        {"attr_bad_perm", KILN_DTYPE_FLOAT, KILN_ERROR_MODEL, "node 'tr' (Transpose): perm"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_model *m = load_ok(hostile_path(cases[i].name), NULL);
        kiln_context *c;
        assert_int_equal(kiln_context_create(m, &c), KILN_OK);
        size_t n_in = kiln_model_input_count(m);
        kiln_tensor *x = NULL;
        const char *name = "x";
        if (n_in) {
            kiln_value_info vi;
            assert_int_equal(kiln_model_input_info(m, 0, &vi), KILN_OK);
            assert_int_equal(vi.dtype, cases[i].dtype);
            assert_int_equal(kiln_tensor_create(vi.dtype, (size_t)vi.rank, vi.dims, &x), KILN_OK);
        }
        kiln_tensor *y = NULL;
        /* twice: a failed plan must not leave a half-made one behind */
        for (int k = 0; k < 2; k++) {
            kiln_status s = kiln_context_run(c, n_in, &name, (const kiln_tensor *const *)&x, 1, NULL, &y);
            if (s != cases[i].status)
                fail_msg("%s: status %s (%s), expected %s", cases[i].name, kiln_status_string(s), kiln_last_error(),
                         kiln_status_string(cases[i].status));
            expect_text(cases[i].needle);
            assert_null(y);
        }
        kiln_tensor_release(x);
        kiln_context_release(c);
        kiln_model_release(m);
    }
}

/* ---- a 10k-node chain: no recursion depth anywhere ---- */

#define CHAIN 10000

static void test_long_chain(void **state)
{
    (void)state;
    static Onnx__NodeProto nodes[CHAIN];
    static Onnx__NodeProto *node_p[CHAIN];
    static char names[CHAIN + 1][16];
    static char *ins[CHAIN], *outs[CHAIN];
    for (int i = 0; i <= CHAIN; i++)
        snprintf(names[i], sizeof names[i], i == 0 ? "x" : i == CHAIN ? "y" : "t%d", i);
    for (int i = 0; i < CHAIN; i++) {
        onnx__node_proto__init(&nodes[i]);
        nodes[i].op_type = i % 2 == 0 ? "Relu" : "Neg";
        ins[i] = names[i];
        outs[i] = names[i + 1];
        nodes[i].n_input = nodes[i].n_output = 1;
        nodes[i].input = &ins[i];
        nodes[i].output = &outs[i];
        node_p[i] = &nodes[i];
    }
    Onnx__TensorShapeProto__Dimension d[2], *dp[2] = {&d[0], &d[1]};
    for (int i = 0; i < 2; i++) {
        onnx__tensor_shape_proto__dimension__init(&d[i]);
        d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d[i].dim_value = i == 0 ? 2 : 8;
    }
    Onnx__TensorShapeProto shape;
    onnx__tensor_shape_proto__init(&shape);
    shape.n_dim = 2;
    shape.dim = dp;
    Onnx__TypeProto__Tensor tt;
    onnx__type_proto__tensor__init(&tt);
    tt.has_elem_type = 1;
    tt.elem_type = KILN_DTYPE_FLOAT;
    tt.shape = &shape;
    Onnx__TypeProto type;
    onnx__type_proto__init(&type);
    type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type.tensor_type = &tt;
    Onnx__ValueInfoProto in, out, *in_p = &in, *out_p = &out;
    onnx__value_info_proto__init(&in);
    onnx__value_info_proto__init(&out);
    in.name = "x";
    out.name = "y";
    in.type = out.type = &type;
    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = "chain";
    g.n_node = CHAIN;
    g.node = node_p;
    g.n_input = g.n_output = 1;
    g.input = &in_p;
    g.output = &out_p;
    Onnx__OperatorSetIdProto opset, *opset_p = &opset;
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = "";
    opset.has_version = 1;
    opset.version = 13;
    Onnx__ModelProto mp;
    onnx__model_proto__init(&mp);
    mp.has_ir_version = 1;
    mp.ir_version = 8;
    mp.n_opset_import = 1;
    mp.opset_import = &opset_p;
    mp.graph = &g;
    size_t size = onnx__model_proto__get_packed_size(&mp);
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    onnx__model_proto__pack(&mp, buf);

    for (int level = 0; level <= 2; level += 2) {
        kiln_options *o;
        assert_int_equal(kiln_options_create(&o), KILN_OK);
        assert_int_equal(kiln_options_set_opt_level(o, level), KILN_OK);
        kiln_model *m = NULL;
        if (kiln_model_load_buffer(buf, size, NULL, o, &m) != KILN_OK)
            fail_msg("10k chain, level %d: %s", level, kiln_last_error());
        kiln_model_meta meta;
        assert_int_equal(kiln_model_meta_get(m, &meta), KILN_OK);
        assert_int_equal(meta.node_count, CHAIN);
        kiln_context *c;
        assert_int_equal(kiln_context_create(m, &c), KILN_OK);
        kiln_tensor *x = kt_f32_random(KT_DIMS(2, 8), 3, -1, 1), *y = NULL;
        const char *name = "x";
        if (kiln_context_run(c, 1, &name, (const kiln_tensor *const *)&x, 1, NULL, &y) != KILN_OK)
            fail_msg("10k chain run: %s", kiln_last_error());
        /* an even number of Relu/Neg pairs: relu(-relu(v)) = 0 after the first pair */
        float expect[16];
        for (int i = 0; i < 16; i++) {
            float v = ((float *)x->data)[i];
            v = v > 0 ? v : 0;
            expect[i] = -v > 0 ? -v : 0;
            expect[i] = -expect[i];
        }
        kt_assert_f32_close(y, expect, 16, 0, 0);
        kiln_tensor_release(x);
        kiln_tensor_release(y);
        kiln_context_release(c);
        kiln_model_release(m);
        kiln_options_release(o);
    }
    free(buf);
}

/* ---- zero-size tensors and NaN / Inf data ---- */

static void test_zero_size(void **state)
{
    (void)state;
    kiln_model *m = load_ok(hostile_path("zero_size"), NULL);
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    for (int64_t n = 0; n <= 2; n += 2) {
        kiln_tensor *x = kt_f32_random(KT_DIMS(n, 3), 1, -1, 1);
        kiln_tensor *outs[2] = {NULL, NULL};
        const char *name = "x";
        if (kiln_context_run(c, 1, &name, (const kiln_tensor *const *)&x, 2, NULL, outs) != KILN_OK)
            fail_msg("zero_size, N=%lld: %s", (long long)n, kiln_last_error());
        kt_assert_shape(outs[0], KT_DIMS(n, 4));
        kt_assert_shape(outs[1], KT_DIMS(1, 1));
        float sum = 0;
        for (int64_t i = 0; i < n * 3; i++)
            sum += 4 * (((float *)x->data)[i] > 0 ? ((float *)x->data)[i] : 0);
        kt_assert_f32_close(outs[1], &sum, 1, 1e-5, 1e-5);
        kiln_tensor_release(outs[0]);
        kiln_tensor_release(outs[1]);
        kiln_tensor_release(x);
    }
    kiln_context_release(c);
    kiln_model_release(m);
}

static void test_nan_inf_propagate(void **state)
{
    (void)state;
    kiln_model *m = load_ok(hostile_path("nan_inf"), NULL);
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    float v[16] = {NAN, 1, 2, 3, INFINITY, -INFINITY, 0, -1, /* row 1 */ INFINITY, INFINITY, -INFINITY, 3e38f,
                   -3e38f, 1e-45f, NAN, -0.0f};
    kiln_tensor *x = kt_f32(KT_DIMS(2, 8), v);
    kiln_tensor *outs[9] = {0};
    const char *name = "x";
    if (kiln_context_run(c, 1, &name, (const kiln_tensor *const *)&x, 9, NULL, outs) != KILN_OK)
        fail_msg("nan_inf: %s", kiln_last_error());
    const float *sm = outs[0]->data;
    assert_true(isnan(sm[0])); /* a NaN in a Softmax row makes the row NaN */
    const float *sq = outs[6]->data;
    assert_true(isnan(sq[0]) && isnan(sq[7]) && isinf(sq[4]));
    const float *rm = outs[5]->data;
    kt_assert_shape(outs[5], KT_DIMS(2));
    assert_true(isnan(rm[1]) || (isinf(rm[1]) && rm[1] > 0)); /* +Inf, or the row's NaN */
    for (int i = 0; i < 9; i++)
        kiln_tensor_release(outs[i]);
    kiln_tensor_release(x);
    kiln_context_release(c);
    kiln_model_release(m);
}

/* ---- bad run-time inputs: one clear error, the context stays usable ---- */

static void test_bad_runtime_inputs(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/models/tiny_cnn/model.onnx", src_dir());
    kiln_model *m = load_ok(path, NULL);
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    kiln_tensor *good = kt_f32_random(KT_DIMS(1, 3, 32, 32), 5, -1, 1);
    kiln_tensor *batch2 = kt_f32_random(KT_DIMS(2, 3, 32, 32), 5, -1, 1);
    kiln_tensor *channels = kt_f32_random(KT_DIMS(1, 4, 32, 32), 5, -1, 1);
    kiln_tensor *rank3 = kt_f32_random(KT_DIMS(3, 32, 32), 5, -1, 1);
    kiln_tensor *ints = kt_i64(KT_DIMS(1, 3, 32, 32), NULL);
    kiln_tensor *ref = NULL, *y = NULL;
    const char *name = "input", *wrong = "image";
    const kiln_tensor *in = good;
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &ref), KILN_OK);

    static const struct {
        int which;
        kiln_status status;
        const char *needle;
    } cases[] = {
        {0, KILN_ERROR_ARGUMENT, "unknown input 'image'"},
        {1, KILN_ERROR_SHAPE, "input 'input': dim 0 is 2, model expects 1"},
        {2, KILN_ERROR_SHAPE, "input 'input': dim 1 is 4, model expects 3"},
        {3, KILN_ERROR_SHAPE, "input 'input': got rank 3, model expects rank 4"},
        {4, KILN_ERROR_DTYPE, "input 'input': got int64, model expects float32"},
        {5, KILN_ERROR_ARGUMENT, "NULL name or tensor"},
        {6, KILN_ERROR_ARGUMENT, "input 'input' was not given"},
    };
    const kiln_tensor *bad[] = {good, batch2, channels, rank3, ints, NULL, good};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        in = bad[cases[i].which];
        kiln_status s = kiln_context_run(c, cases[i].which == 6 ? 0 : 1, cases[i].which == 0 ? &wrong : &name, &in,
                                         1, NULL, &y);
        if (s != cases[i].status)
            fail_msg("case %zu: status %s (%s)", i, kiln_status_string(s), kiln_last_error());
        expect_text(cases[i].needle);
        assert_null(y);
        /* usable afterwards, same answer */
        in = good;
        assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_OK);
        kt_assert_tensors_close(y, ref, 0, 0);
        kiln_tensor_release(y);
        y = NULL;
    }
    kiln_tensor_release(ref);
    kiln_tensor_release(good);
    kiln_tensor_release(batch2);
    kiln_tensor_release(channels);
    kiln_tensor_release(rank3);
    kiln_tensor_release(ints);
    kiln_context_release(c);
    kiln_model_release(m);
}

/* ---- limits ---- */

static kiln_options *limited(kiln_limit which, uint64_t value)
{
    kiln_options *o;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_limit(o, which, value), KILN_OK);
    return o;
}

static void test_limit_arguments(void **state)
{
    (void)state;
    kiln_options *o;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_limit(NULL, KILN_LIMIT_MODEL_BYTES, 1), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_options_set_limit(o, (kiln_limit)3, 1), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_options_set_limit(o, (kiln_limit)-1, 1), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_options_set_limit(o, KILN_LIMIT_ARENA_BYTES, 0), KILN_OK);
    kiln_options_release(o);
}

static void test_limit_model_bytes(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/models/tiny_cnn/model.onnx", src_dir());
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    kiln_options *o = limited(KILN_LIMIT_MODEL_BYTES, (uint64_t)st.st_size - 1);
    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load(path, o, &m), KILN_ERROR_LIMIT);
    expect_text("KILN_LIMIT_MODEL_BYTES");
    expect_text("tiny_cnn");
    assert_null(m);
    char buf[64] = {0};
    assert_int_not_equal(kiln_model_load_buffer(buf, sizeof buf, NULL, o, &m), KILN_ERROR_LIMIT);
    kiln_options_release(o);
    o = limited(KILN_LIMIT_MODEL_BYTES, 63);
    assert_int_equal(kiln_model_load_buffer(buf, sizeof buf, NULL, o, &m), KILN_ERROR_LIMIT);
    expect_text("model is 64 bytes, above the limit of 63");
    kiln_options_release(o);
    o = limited(KILN_LIMIT_MODEL_BYTES, (uint64_t)st.st_size);
    m = load_ok(path, o);
    kiln_model_release(m);
    kiln_options_release(o);
}

static void test_limit_tensor_elements(void **state)
{
    (void)state;
    char path[4096];
    /* an initializer: tiny_cnn's largest weight has 16*16*3*3 = 2304 */
    snprintf(path, sizeof path, "%s/models/tiny_cnn/model.onnx", src_dir());
    kiln_options *o = limited(KILN_LIMIT_TENSOR_ELEMENTS, 1000);
    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load(path, o, &m), KILN_ERROR_LIMIT);
    expect_text("KILN_LIMIT_TENSOR_ELEMENTS");
    kiln_options_release(o);

    /* a 10^10-element ConstantOfShape: refused when planned, before allocating */
    o = limited(KILN_LIMIT_TENSOR_ELEMENTS, 1 << 20);
    m = load_ok(hostile_path("huge_constant"), o);
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    kiln_tensor *y = NULL;
    assert_int_equal(kiln_context_run(c, 0, NULL, NULL, 1, NULL, &y), KILN_ERROR_LIMIT);
    expect_text("node 'cos' (ConstantOfShape): output 'y' of shape [100000,100000] has 10000000000 elements");
    kiln_context_release(c);
    kiln_model_release(m);
    kiln_options_release(o);

    /* an intermediate sized by the input: the context stays usable */
    snprintf(path, sizeof path, "%s/tests/data/relu_chain.onnx", src_dir());
    o = limited(KILN_LIMIT_TENSOR_ELEMENTS, 160);
    m = load_ok(path, o);
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    kiln_tensor *big = kt_f32_random(KT_DIMS(11, 16), 1, -1, 1), *small = kt_f32_random(KT_DIMS(10, 16), 1, -1, 1);
    const char *name = "x";
    const kiln_tensor *in = big;
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_ERROR_LIMIT);
    expect_text("176 elements, above the limit of 160");
    in = small;
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_OK);
    kiln_tensor_release(y);
    kiln_tensor_release(big);
    kiln_tensor_release(small);
    kiln_context_release(c);
    kiln_model_release(m);
    kiln_options_release(o);
}

static void test_limit_arena_bytes(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/relu_chain.onnx", src_dir());
    kiln_options *o = limited(KILN_LIMIT_ARENA_BYTES, 4096);
    kiln_model *m = load_ok(path, o);
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    /* two live [N,16] float buffers: N = 32 needs exactly 4096 bytes, 33 more */
    kiln_tensor *big = kt_f32_random(KT_DIMS(33, 16), 1, -1, 1), *fits = kt_f32_random(KT_DIMS(32, 16), 1, -1, 1);
    const char *name = "x";
    const kiln_tensor *in = big;
    kiln_tensor *y = NULL;
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_ERROR_LIMIT);
    expect_text("the activation arena needs");
    expect_text("KILN_LIMIT_ARENA_BYTES");
    assert_int_equal(kiln_context_arena_bytes(c), 0);
    in = fits;
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_OK);
    assert_true(kiln_context_arena_bytes(c) <= 4096);
    kiln_tensor_release(y);
    kiln_tensor_release(big);
    kiln_tensor_release(fits);
    kiln_context_release(c);
    kiln_model_release(m);
    kiln_options_release(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_at_load),
        cmocka_unit_test(test_external_symlink_out),
        cmocka_unit_test(test_refused_at_run),
        cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_zero_size),
        cmocka_unit_test(test_nan_inf_propagate),
        cmocka_unit_test(test_bad_runtime_inputs),
        cmocka_unit_test(test_limit_arguments),
        cmocka_unit_test(test_limit_model_bytes),
        cmocka_unit_test(test_limit_tensor_elements),
        cmocka_unit_test(test_limit_arena_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
