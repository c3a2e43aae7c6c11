/* ONNX loader: ModelProto -> graph IR, built from protobuf-c structs in C,
 * plus hostile inputs (truncation, garbage, bad sizes, external data paths
 * escaping the model folder) and allocation-failure injection. */
#include "harness.h"

#include "onnx/onnx_import.h"

#include <math.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a test model: protobuf-c structs wired into one ModelProto ---- */

#define TM_SLOTS 12

typedef struct tm {
    Onnx__ModelProto model;
    Onnx__OperatorSetIdProto opset[4];
    Onnx__OperatorSetIdProto *opset_p[4];
    Onnx__GraphProto graph;
    Onnx__NodeProto node[TM_SLOTS];
    Onnx__NodeProto *node_p[TM_SLOTS];
    char *node_in[TM_SLOTS][4], *node_out[TM_SLOTS][4];
    Onnx__ValueInfoProto vi[TM_SLOTS];
    Onnx__ValueInfoProto *in_p[TM_SLOTS], *out_p[TM_SLOTS], *vinfo_p[TM_SLOTS];
    Onnx__TypeProto type[TM_SLOTS];
    Onnx__TypeProto__Tensor tt[TM_SLOTS];
    Onnx__TensorShapeProto shape[TM_SLOTS];
    Onnx__TensorShapeProto__Dimension dim[TM_SLOTS][KN_MAX_RANK + 2];
    Onnx__TensorShapeProto__Dimension *dim_p[TM_SLOTS][KN_MAX_RANK + 2];
    int n_vi;
    Onnx__TensorProto init[TM_SLOTS];
    Onnx__TensorProto *init_p[TM_SLOTS];
    Onnx__StringStringEntryProto ext[TM_SLOTS][3];
    Onnx__StringStringEntryProto *ext_p[TM_SLOTS][3];
} tm;

/* A value_info; dims of -1 become the symbol "batch". */
static Onnx__ValueInfoProto *tm_vi(tm *m, const char *name, int elem, int rank, const int64_t *dims)
{
    int k = m->n_vi++;
    assert_true(k < TM_SLOTS && rank <= KN_MAX_RANK + 2);
    onnx__value_info_proto__init(&m->vi[k]);
    onnx__type_proto__init(&m->type[k]);
    onnx__type_proto__tensor__init(&m->tt[k]);
    onnx__tensor_shape_proto__init(&m->shape[k]);
    m->vi[k].name = (char *)name;
    m->vi[k].type = &m->type[k];
    m->type[k].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    m->type[k].tensor_type = &m->tt[k];
    m->tt[k].has_elem_type = 1;
    m->tt[k].elem_type = elem;
    if (rank >= 0) {
        m->tt[k].shape = &m->shape[k];
        m->shape[k].n_dim = (size_t)rank;
        m->shape[k].dim = m->dim_p[k];
        for (int i = 0; i < rank; i++) {
            Onnx__TensorShapeProto__Dimension *d = &m->dim[k][i];
            onnx__tensor_shape_proto__dimension__init(d);
            if (dims[i] < 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = "batch";
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            }
            m->dim_p[k][i] = d;
        }
    }
    return &m->vi[k];
}

static void tm_input(tm *m, Onnx__ValueInfoProto *vi)
{
    m->in_p[m->graph.n_input++] = vi;
}

static void tm_output(tm *m, Onnx__ValueInfoProto *vi)
{
    m->out_p[m->graph.n_output++] = vi;
}

static Onnx__NodeProto *tm_node(tm *m, const char *name, const char *op, const char *in0, const char *in1,
                                const char *out0)
{
    size_t k = m->graph.n_node++;
    assert_true(k < TM_SLOTS);
    Onnx__NodeProto *n = &m->node[k];
    onnx__node_proto__init(n);
    n->name = (char *)name;
    n->op_type = (char *)op;
    n->input = m->node_in[k];
    n->output = m->node_out[k];
    if (in0)
        m->node_in[k][n->n_input++] = (char *)in0;
    if (in1)
        m->node_in[k][n->n_input++] = (char *)in1;
    m->node_out[k][n->n_output++] = (char *)out0;
    m->node_p[k] = n;
    return n;
}

static Onnx__TensorProto *tm_init_raw(tm *m, const char *name, int dtype, int rank, const int64_t *dims,
                                      const void *raw, size_t bytes)
{
    size_t k = m->graph.n_initializer++;
    assert_true(k < TM_SLOTS);
    Onnx__TensorProto *t = &m->init[k];
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)rank;
    t->dims = (int64_t *)dims;
    if (raw) {
        t->has_raw_data = 1;
        t->raw_data.data = (uint8_t *)raw;
        t->raw_data.len = bytes;
    }
    m->init_p[k] = t;
    return t;
}

static void tm_external(tm *m, Onnx__TensorProto *t, const char *location, const char *offset, const char *length)
{
    size_t k = (size_t)(t - m->init);
    const char *keys[3] = {"location", "offset", "length"};
    const char *vals[3] = {location, offset, length};
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = m->ext_p[k];
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        Onnx__StringStringEntryProto *e = &m->ext[k][t->n_external_data];
        onnx__string_string_entry_proto__init(e);
        e->key = (char *)keys[i];
        e->value = (char *)vals[i];
        m->ext_p[k][t->n_external_data++] = e;
    }
}

static const int64_t dims_b3[2] = {-1, 3};

/* x:float[batch,3] -> Relu -> y:float[batch,3], opset 13, IR 8. */
static void tm_init(tm *m)
{
    memset(m, 0, sizeof *m);
    onnx__model_proto__init(&m->model);
    onnx__graph_proto__init(&m->graph);
    onnx__operator_set_id_proto__init(&m->opset[0]);
    m->opset[0].domain = "";
    m->opset[0].has_version = 1;
    m->opset[0].version = 13;
    m->opset_p[0] = &m->opset[0];
    m->model.n_opset_import = 1;
    m->model.opset_import = m->opset_p;
    m->model.has_ir_version = 1;
    m->model.ir_version = 8;
    m->model.producer_name = "kiln-test";
    m->model.producer_version = "1.0";
    m->model.domain = "test.domain";
    m->model.has_model_version = 1;
    m->model.model_version = 5;
    m->model.doc_string = "a doc";
    m->model.graph = &m->graph;
    m->graph.name = "main";
    m->graph.node = m->node_p;
    m->graph.input = m->in_p;
    m->graph.output = m->out_p;
    m->graph.value_info = m->vinfo_p;
    m->graph.initializer = m->init_p;
    tm_input(m, tm_vi(m, "x", KILN_DTYPE_FLOAT, 2, dims_b3));
    tm_output(m, tm_vi(m, "y", KILN_DTYPE_FLOAT, 2, dims_b3));
    tm_node(m, "relu1", "Relu", "x", NULL, "y");
}

static uint8_t *pack_model(const Onnx__ModelProto *mp, size_t *size)
{
    *size = onnx__model_proto__get_packed_size(mp);
    uint8_t *b = malloc(*size ? *size : 1);
    assert_non_null(b);
    assert_int_equal(onnx__model_proto__pack(mp, b), *size);
    return b;
}

static kiln_status load_proto(const Onnx__ModelProto *mp, const char *base_dir, kn_model_file *mf)
{
    size_t size;
    uint8_t *b = pack_model(mp, &size);
    memset(mf, 0, sizeof *mf);
    kiln_status s = kn_onnx_import(b, size, base_dir, mf);
    free(b);
    return s;
}

static kiln_status load(tm *m, const char *base_dir, kn_model_file *mf)
{
    return load_proto(&m->model, base_dir, mf);
}

static void expect_error(tm *m, const char *base_dir, kiln_status code, const char *needle)
{
    kn_model_file mf;
    kiln_status s = load(m, base_dir, &mf);
    if (s == KILN_OK)
        kn_model_file_clear(&mf);
    if (s != code || !strstr(kiln_last_error(), needle))
        fail_msg("expected status %d with '%s', got %d: %s", (int)code, needle, (int)s, kiln_last_error());
    assert_null(strchr(kiln_last_error(), '\n'));
}

static const kn_value *value(const kn_graph *g, const char *name)
{
    int v = kn_graph_find(g, name);
    if (v < 0)
        fail_msg("value '%s' missing", name);
    return &g->values[v];
}

/* ---- valid models ---- */

static void test_valid_relu(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    kn_graph *g = mf.graph;
    assert_int_equal(mf.ir_version, 8);
    assert_int_equal(mf.model_version, 5);
    assert_string_equal(mf.producer_name, "kiln-test");
    assert_string_equal(mf.producer_version, "1.0");
    assert_string_equal(mf.domain, "test.domain");
    assert_string_equal(mf.doc_string, "a doc");
    assert_int_equal(mf.node_count, 1);
    assert_int_equal(mf.param_count, 0);
    assert_int_equal(g->n_opsets, 1);
    assert_string_equal(g->opsets[0].domain, "");
    assert_int_equal(g->opsets[0].version, 13);
    assert_int_equal(g->n_inputs, 1);
    const kn_value *x = &g->values[g->inputs[0]];
    assert_string_equal(x->name, "x");
    assert_true(x->is_graph_input);
    assert_int_equal(x->dtype, KILN_DTYPE_FLOAT);
    assert_int_equal(x->rank, 2);
    assert_int_equal(x->dims[0].value, -1);
    assert_string_equal(x->dims[0].symbol, "batch");
    assert_int_equal(x->dims[1].value, 3);
    assert_null(x->dims[1].symbol);
    assert_int_equal(g->n_outputs, 1);
    const kn_value *y = &g->values[g->outputs[0]];
    assert_string_equal(y->name, "y");
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT);
    assert_int_equal(y->rank, 2);
    assert_int_equal(g->n_nodes, 1);
    assert_string_equal(g->nodes[0].name, "relu1");
    assert_string_equal(g->nodes[0].op_type, "Relu");
    assert_string_equal(g->nodes[0].domain, "");
    assert_int_equal(g->nodes[0].opset, 13);
    assert_int_equal(g->nodes[0].in[0], g->inputs[0]);
    assert_int_equal(g->nodes[0].out[0], g->outputs[0]);
    kn_model_file_clear(&mf);
    assert_null(mf.graph);
}

static void test_missing_metadata_is_empty(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    m.model.producer_name = NULL;
    m.model.producer_version = NULL;
    m.model.domain = NULL;
    m.model.doc_string = NULL;
    m.model.has_model_version = 0;
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    assert_string_equal(mf.producer_name, "");
    assert_string_equal(mf.producer_version, "");
    assert_string_equal(mf.domain, "");
    assert_string_equal(mf.doc_string, "");
    assert_int_equal(mf.model_version, 0);
    kn_model_file_clear(&mf);
}

static void test_ir_versions_load(void **state)
{
    (void)state;
    for (int ir = 3; ir <= 11; ir++) {
        tm m;
        tm_init(&m);
        m.model.ir_version = ir;
        kn_model_file mf;
        assert_int_equal(load(&m, NULL, &mf), KILN_OK);
        assert_int_equal(mf.ir_version, ir);
        kn_model_file_clear(&mf);
    }
}

static void test_opsets_and_domains(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    m.opset[0].domain = "ai.onnx";
    onnx__operator_set_id_proto__init(&m.opset[1]);
    m.opset[1].domain = "com.microsoft";
    m.opset[1].has_version = 1;
    m.opset[1].version = 1;
    m.opset_p[1] = &m.opset[1];
    m.model.n_opset_import = 2;
    m.node[0].domain = "ai.onnx";
    Onnx__NodeProto *n = tm_node(&m, "", "Gelu", "y", NULL, "z");
    n->domain = "com.microsoft";
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    kn_graph *g = mf.graph;
    assert_int_equal(g->n_opsets, 2);
    assert_string_equal(g->opsets[0].domain, "");
    assert_string_equal(g->opsets[1].domain, "com.microsoft");
    assert_string_equal(g->nodes[0].domain, "");
    assert_int_equal(g->nodes[0].opset, 13);
    assert_string_equal(g->nodes[1].domain, "com.microsoft");
    assert_int_equal(g->nodes[1].opset, 1);
    /* empty names in the file get generated ones */
    assert_true(strlen(g->nodes[1].name) > 0);
    kn_model_file_clear(&mf);
}

static void test_no_default_opset_refused(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    m.opset[0].domain = "com.microsoft";
    expect_error(&m, NULL, KILN_ERROR_MODEL, "relu1");
    tm_init(&m);
    m.model.n_opset_import = 0;
    expect_error(&m, NULL, KILN_ERROR_MODEL, "no opset for the default ONNX domain");
}

static void test_no_graph_refused(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    m.model.graph = NULL;
    expect_error(&m, NULL, KILN_ERROR_MODEL, "no graph");
}

static void test_initializers_and_params(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    static const float w[6] = {1, 2, 3, 4, 5, 6};
    static const int64_t wd[2] = {2, 3};
    static const int64_t sd[1] = {4};
    static const int32_t sh[4] = {1, 2, 3, 4};
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 2, wd, w, sizeof w);
    tm_init_raw(&m, "s", KILN_DTYPE_INT32, 1, sd, sh, sizeof sh);
    tm_node(&m, "add", "Add", "y", "w", "z");
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    const kn_value *wv = value(mf.graph, "w");
    assert_non_null(wv->constant);
    assert_true(wv->is_initializer);
    assert_false(wv->is_graph_input);
    assert_int_equal(wv->dtype, KILN_DTYPE_FLOAT);
    assert_int_equal(wv->rank, 2);
    assert_int_equal(wv->dims[0].value, 2);
    assert_int_equal(wv->dims[1].value, 3);
    kt_assert_f32_close(wv->constant, w, 6, 0, 0);
    assert_string_equal(kiln_tensor_name(wv->constant), "w");
    assert_int_equal(mf.param_count, 10);
    assert_int_equal(mf.param_bytes, 40);
    assert_int_equal(mf.node_count, 2);
    assert_int_equal(mf.graph->n_inputs, 1);
    kn_model_file_clear(&mf);
}

/* IR < 4 models list initializers among the graph inputs too. */
static void test_initializer_listed_as_input(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    m.model.ir_version = 3;
    static const float w[3] = {1, 2, 3};
    static const int64_t wd[1] = {3};
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 1, wd, w, sizeof w);
    tm_input(&m, tm_vi(&m, "w", KILN_DTYPE_FLOAT, 1, wd));
    tm_node(&m, "add", "Add", "y", "w", "z");
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    assert_int_equal(mf.graph->n_inputs, 1);
    assert_string_equal(mf.graph->values[mf.graph->inputs[0]].name, "x");
    const kn_value *wv = value(mf.graph, "w");
    assert_non_null(wv->constant);
    assert_false(wv->is_graph_input);
    kn_model_file_clear(&mf);
}

/* Each dtype through its typed field (not raw_data). */
static void test_typed_fields(void **state)
{
    (void)state;
    static const int64_t d3[1] = {3};
    static float f[3] = {1.5f, -2, 3};
    static double dd[3] = {1.25, -2, 1e300};
    static int32_t i32[3] = {-7, 0, 2000000000};
    static int32_t i16[3] = {-300, 0, 300};
    static int32_t i8[3] = {-128, 5, 127};
    static int32_t u8[3] = {0, 200, 255};
    static int32_t u16[3] = {0, 40000, 65535};
    static int32_t bo[3] = {0, 1, 7};
    static int32_t h[3] = {0x3c00, 0xc000, 0x7bff}; /* 1, -2, 65504 */
    static int64_t i64[3] = {INT64_MIN, 0, INT64_MAX};
    static uint64_t u32[3] = {0, 4000000000u, 7};
    static uint64_t u64[3] = {0, UINT64_MAX, 42};
    static float c64[6] = {1, 2, 3, 4, 5, 6};
    static ProtobufCBinaryData strs[3] = {{1, (uint8_t *)"a"}, {0, NULL}, {3, (uint8_t *)"xyz"}};

    struct {
        int dtype;
        int field; /* 0 float 1 double 2 int32 3 int64 4 uint64 5 string */
        void *data;
    } cases[] = {
        {KILN_DTYPE_FLOAT, 0, f},    {KILN_DTYPE_DOUBLE, 1, dd},   {KILN_DTYPE_INT32, 2, i32},
        {KILN_DTYPE_INT16, 2, i16},  {KILN_DTYPE_INT8, 2, i8},     {KILN_DTYPE_UINT8, 2, u8},
        {KILN_DTYPE_UINT16, 2, u16}, {KILN_DTYPE_BOOL, 2, bo},     {KILN_DTYPE_FLOAT16, 2, h},
        {KILN_DTYPE_BFLOAT16, 2, h}, {KILN_DTYPE_INT64, 3, i64},   {KILN_DTYPE_UINT32, 4, u32},
        {KILN_DTYPE_UINT64, 4, u64}, {KILN_DTYPE_STRING, 5, strs}, {KILN_DTYPE_COMPLEX64, 0, c64},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tm m;
        tm_init(&m);
        Onnx__TensorProto *t = tm_init_raw(&m, "w", cases[c].dtype, 1, d3, NULL, 0);
        size_t n = cases[c].dtype == KILN_DTYPE_COMPLEX64 ? 6 : 3;
        switch (cases[c].field) {
        case 0: t->n_float_data = n; t->float_data = cases[c].data; break;
        case 1: t->n_double_data = n; t->double_data = cases[c].data; break;
        case 2: t->n_int32_data = n; t->int32_data = cases[c].data; break;
        case 3: t->n_int64_data = n; t->int64_data = cases[c].data; break;
        case 4: t->n_uint64_data = n; t->uint64_data = cases[c].data; break;
        case 5: t->n_string_data = n; t->string_data = cases[c].data; break;
        }
        kn_model_file mf;
        if (load(&m, NULL, &mf) != KILN_OK)
            fail_msg("dtype %d: %s", cases[c].dtype, kiln_last_error());
        const kiln_tensor *w = value(mf.graph, "w")->constant;
        assert_int_equal(w->dtype, cases[c].dtype);
        assert_int_equal(w->rank, 1);
        assert_int_equal(w->dims[0], 3);
        const void *d = w->data;
        switch (cases[c].dtype) {
        case KILN_DTYPE_FLOAT: assert_memory_equal(d, f, sizeof f); break;
        case KILN_DTYPE_DOUBLE: assert_memory_equal(d, dd, sizeof dd); break;
        case KILN_DTYPE_INT32: assert_memory_equal(d, i32, sizeof i32); break;
        case KILN_DTYPE_INT16: {
            const int16_t e[3] = {-300, 0, 300};
            assert_memory_equal(d, e, sizeof e);
            break;
        }
        case KILN_DTYPE_INT8: {
            const int8_t e[3] = {-128, 5, 127};
            assert_memory_equal(d, e, sizeof e);
            break;
        }
        case KILN_DTYPE_UINT8: {
            const uint8_t e[3] = {0, 200, 255};
            assert_memory_equal(d, e, sizeof e);
            break;
        }
        case KILN_DTYPE_UINT16: {
            const uint16_t e[3] = {0, 40000, 65535};
            assert_memory_equal(d, e, sizeof e);
            break;
        }
        case KILN_DTYPE_BOOL: {
            const uint8_t e[3] = {0, 1, 1};
            assert_memory_equal(d, e, sizeof e);
            break;
        }
        case KILN_DTYPE_FLOAT16: {
            const uint16_t *u = d;
            assert_true(kn_half_to_float(u[0]) == 1.0f && kn_half_to_float(u[1]) == -2.0f &&
                        kn_half_to_float(u[2]) == 65504.0f);
            break;
        }
        case KILN_DTYPE_BFLOAT16: {
            const uint16_t e[3] = {0x3c00, 0xc000, 0x7bff};
            assert_memory_equal(d, e, sizeof e);
            break;
        }
        case KILN_DTYPE_INT64: assert_memory_equal(d, i64, sizeof i64); break;
        case KILN_DTYPE_UINT32: {
            const uint32_t e[3] = {0, 4000000000u, 7};
            assert_memory_equal(d, e, sizeof e);
            break;
        }
        case KILN_DTYPE_UINT64: assert_memory_equal(d, u64, sizeof u64); break;
        case KILN_DTYPE_STRING: {
            char *const *s = d;
            assert_string_equal(s[0], "a");
            assert_string_equal(s[1], "");
            assert_string_equal(s[2], "xyz");
            break;
        }
        case KILN_DTYPE_COMPLEX64: assert_memory_equal(d, c64, sizeof c64); break;
        }
        kn_model_file_clear(&mf);
    }
}

static void test_typed_field_count_mismatch(void **state)
{
    (void)state;
    static const int64_t d3[2] = {2, 3};
    static float f[5] = {1, 2, 3, 4, 5};
    tm m;
    tm_init(&m);
    Onnx__TensorProto *t = tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 2, d3, NULL, 0);
    t->n_float_data = 5;
    t->float_data = f;
    expect_error(&m, NULL, KILN_ERROR_MODEL, "initializer 'w': float_data has 5 values, dims [2,3] of float32 need 6");
    /* data in the wrong field counts as missing */
    t->n_float_data = 0;
    t->n_int64_data = 6;
    static int64_t i[6];
    t->int64_data = i;
    expect_error(&m, NULL, KILN_ERROR_MODEL, "float_data has 0 values");
}

static void test_raw_data_size_mismatch(void **state)
{
    (void)state;
    static const int64_t d[2] = {2, 3};
    static const uint8_t raw[10];
    tm m;
    tm_init(&m);
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 2, d, raw, sizeof raw);
    expect_error(&m, NULL, KILN_ERROR_MODEL, "initializer 'w': raw_data has 10 bytes, dims [2,3] of float32 need 24");
}

static void test_bad_dims(void **state)
{
    (void)state;
    tm m;
    static const int64_t neg[2] = {2, -3};
    tm_init(&m);
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 2, neg, "", 0);
    expect_error(&m, NULL, KILN_ERROR_MODEL, "initializer 'w': negative dimension in dims [2,-3]");

    static const int64_t big[2] = {INT64_MAX, 2};
    tm_init(&m);
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 2, big, "", 0);
    expect_error(&m, NULL, KILN_ERROR_MODEL, "overflow");

    /* the element count fits int64 but the byte size does not fit size_t */
    static const int64_t bytes_big[2] = {(int64_t)1 << 31, (int64_t)1 << 31};
    tm_init(&m);
    tm_init_raw(&m, "w", KILN_DTYPE_DOUBLE, 2, bytes_big, "", 0);
    expect_error(&m, NULL, KILN_ERROR_MODEL, "initializer 'w'");

    /* a zero dim makes the product 0 whatever the others say */
    static const int64_t zero[3] = {0, INT64_MAX, INT64_MAX};
    tm_init(&m);
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 3, zero, "", 0);
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    assert_int_equal(kn_tensor_count(value(mf.graph, "w")->constant), 0);
    kn_model_file_clear(&mf);

    static const int64_t r9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    tm_init(&m);
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 9, r9, "\0\0\0\0", 4);
    expect_error(&m, NULL, KILN_ERROR_UNSUPPORTED, "initializer 'w': rank 9");

    tm_init(&m);
    m.in_p[0] = tm_vi(&m, "x", KILN_DTYPE_FLOAT, 9, r9);
    expect_error(&m, NULL, KILN_ERROR_UNSUPPORTED, "graph input 'x': rank 9");
}

static void test_unknown_dtypes(void **state)
{
    (void)state;
    static const int64_t d[1] = {4};
    tm m;
    tm_init(&m);
    tm_init_raw(&m, "w", 27, 1, d, "abcd", 4); /* past FLOAT8E8M0 / INT2: newer than kiln */
    expect_error(&m, NULL, KILN_ERROR_UNSUPPORTED, "initializer 'w': data_type 27");

    tm_init(&m);
    tm_init_raw(&m, "w", 0, 1, d, "abcd", 4);
    expect_error(&m, NULL, KILN_ERROR_MODEL, "initializer 'w': data_type is not set");

    /* declared types kiln does not know are merely unknown */
    tm_init(&m);
    m.tt[0].elem_type = 27;
    m.tt[1].elem_type = 99;
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    assert_int_equal(value(mf.graph, "x")->dtype, KILN_DTYPE_UNDEFINED);
    assert_int_equal(value(mf.graph, "y")->dtype, KILN_DTYPE_UNDEFINED);
    kn_model_file_clear(&mf);
}

/* 4-bit and 2-bit initializers are packed in the file (first element in the
 * low bits, odd counts padded) and unpacked in memory; raw_data of the wrong
 * packed size is refused. */
static void test_narrow_initializers(void **state)
{
    (void)state;
    static const int64_t d3[1] = {3}, d5[1] = {5};
    static const uint8_t i4[2] = {0x9f, 0x07}, u2[2] = {0xe4, 0x01}, f8[3] = {0x38, 0x80, 0x7f};
    tm m;
    tm_init(&m);
    tm_init_raw(&m, "a", KILN_DTYPE_INT4, 1, d3, i4, sizeof i4);
    tm_init_raw(&m, "b", KILN_DTYPE_UINT2, 1, d5, u2, sizeof u2);
    tm_init_raw(&m, "c", KILN_DTYPE_FLOAT8E4M3FN, 1, d3, f8, sizeof f8);
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    const kiln_tensor *a = value(mf.graph, "a")->constant, *b = value(mf.graph, "b")->constant;
    const kiln_tensor *c = value(mf.graph, "c")->constant;
    assert_int_equal(a->nbytes, 3);
    const int8_t *av = a->data;
    assert_int_equal(av[0], -1);
    assert_int_equal(av[1], -7);
    assert_int_equal(av[2], 7);
    const uint8_t *bv = b->data;
    static const uint8_t bwant[5] = {0, 1, 2, 3, 1};
    for (int i = 0; i < 5; i++)
        assert_int_equal(bv[i], bwant[i]);
    assert_true(kn_tensor_get_f64(c, 0) == 1.0);
    assert_true(isnan(kn_tensor_get_f64(c, 2)));
    kn_model_file_clear(&mf);

    tm_init(&m);
    static const uint8_t i4_long[3] = {0x9f, 0x07, 0x00};
    tm_init_raw(&m, "a", KILN_DTYPE_INT4, 1, d3, i4_long, sizeof i4_long); /* 3 elements pack into 2 bytes */
    expect_error(&m, NULL, KILN_ERROR_MODEL, "raw_data has 3 bytes, dims [3] of int4 need 2");

    /* int32_data: one float8 code per entry; one packed byte per entry for
     * 4-bit and 2-bit types */
    int32_t f8_i32[3] = {0x38, 0x80, 0x7f}, i4_i32[2] = {0x9f, 0x07};
    tm_init(&m);
    Onnx__TensorProto *t = tm_init_raw(&m, "c", KILN_DTYPE_FLOAT8E4M3FN, 1, d3, NULL, 0);
    t->n_int32_data = 3;
    t->int32_data = f8_i32;
    t = tm_init_raw(&m, "a", KILN_DTYPE_INT4, 1, d3, NULL, 0);
    t->n_int32_data = 2;
    t->int32_data = i4_i32;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    assert_memory_equal(value(mf.graph, "c")->constant->data, f8, 3);
    assert_memory_equal(value(mf.graph, "a")->constant->data, ((int8_t[]){-1, -7, 7}), 3);
    kn_model_file_clear(&mf);
    tm_init(&m);
    t = tm_init_raw(&m, "a", KILN_DTYPE_INT4, 1, d3, NULL, 0);
    t->n_int32_data = 3; /* one per element is wrong: they are packed */
    t->int32_data = f8_i32;
    expect_error(&m, NULL, KILN_ERROR_MODEL, "int32_data has 3 values, dims [3] of int4 need 2");
}

/* A model with an int4 graph input and an int4 initializer runs, and
 * kiln_model_save writes the initializer packed again: the reloaded model
 * gives the same answer. */
static void test_narrow_model_save(void **state)
{
    (void)state;
    static const int64_t d3[1] = {3};
    static const uint8_t w4[2] = {0x9f, 0x07}; /* -1, -7, 7 */
    static const float two = 2.0f;
    tm m;
    tm_init(&m);
    m.graph.n_input = m.graph.n_output = m.graph.n_node = 0;
    m.opset[0].version = 21;
    tm_input(&m, tm_vi(&m, "q", KILN_DTYPE_INT4, 1, d3));
    tm_output(&m, tm_vi(&m, "y", KILN_DTYPE_FLOAT, 1, d3));
    tm_init_raw(&m, "w", KILN_DTYPE_INT4, 1, d3, w4, sizeof w4);
    tm_init_raw(&m, "s", KILN_DTYPE_FLOAT, 0, NULL, &two, sizeof two);
    tm_node(&m, "dq_w", "DequantizeLinear", "w", "s", "dw");
    tm_node(&m, "dq_q", "DequantizeLinear", "q", "s", "dq");
    tm_node(&m, "add", "Add", "dw", "dq", "y");
    size_t size;
    uint8_t *bytes = pack_model(&m.model, &size);
    kiln_options *o;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_opt_level(o, 0), KILN_OK); /* keep the int4 initializer */
    kiln_model *model;
    if (kiln_model_load_buffer(bytes, size, NULL, o, &model) != KILN_OK)
        fail_msg("%s", kiln_last_error());
    free(bytes);
    kiln_value_info vi;
    assert_int_equal(kiln_model_input_info(model, 0, &vi), KILN_OK);
    assert_int_equal(vi.dtype, KILN_DTYPE_INT4);

    kiln_tensor *q;
    assert_int_equal(kiln_tensor_create(KILN_DTYPE_INT4, 1, d3, &q), KILN_OK);
    memcpy(kiln_tensor_data(q), (int8_t[]){-8, 0, 3}, 3);
    char path[] = "/tmp/kiln_narrow_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(kiln_model_save(model, path), KILN_OK);
    kiln_model *back;
    if (kiln_model_load(path, o, &back) != KILN_OK)
        fail_msg("%s", kiln_last_error());
    const kiln_model *models[2] = {model, back};
    for (int k = 0; k < 2; k++) {
        kiln_context *c;
        assert_int_equal(kiln_context_create(models[k], &c), KILN_OK);
        const char *in_names[1] = {"q"};
        kiln_tensor *y = NULL;
        if (kiln_context_run(c, 1, in_names, (const kiln_tensor *const *)&q, 1, NULL, &y) != KILN_OK)
            fail_msg("%s", kiln_last_error());
        kt_assert_f32_close(y, (float[]){-18, -14, 20}, 3, 0, 0);
        kiln_tensor_release(y);
        kiln_context_release(c);
    }
    /* the file holds w as 2 packed bytes */
    void *file;
    size_t fsize;
    assert_int_equal(kn_read_file(path, 0, &file, &fsize), KILN_OK);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, fsize, file);
    assert_non_null(mp);
    bool found = false;
    for (size_t i = 0; i < mp->graph->n_initializer; i++) {
        const Onnx__TensorProto *t = mp->graph->initializer[i];
        if (strcmp(t->name, "w") != 0)
            continue;
        found = true;
        assert_int_equal(t->data_type, KILN_DTYPE_INT4);
        assert_int_equal(t->raw_data.len, 2);
        assert_memory_equal(t->raw_data.data, w4, 2);
    }
    assert_true(found);
    onnx__model_proto__free_unpacked(mp, NULL);
    kn_free(file);
    unlink(path);
    kiln_tensor_release(q);
    kiln_model_release(back);
    kiln_model_release(model);
    kiln_options_release(o);
}

static void test_value_info_hints(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    tm_node(&m, "r2", "Relu", "y", NULL, "z");
    m.graph.n_output = 0;
    tm_output(&m, tm_vi(&m, "z", KILN_DTYPE_FLOAT, -1, NULL));
    static const int64_t yd[2] = {7, 3};
    m.vinfo_p[m.graph.n_value_info++] = tm_vi(&m, "y", KILN_DTYPE_FLOAT, 2, yd);
    m.vinfo_p[m.graph.n_value_info++] = tm_vi(&m, "unused", KILN_DTYPE_INT64, 0, NULL);
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    const kn_value *y = value(mf.graph, "y");
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT);
    assert_int_equal(y->rank, 2);
    assert_int_equal(y->dims[0].value, 7);
    assert_int_equal(kn_graph_find(mf.graph, "unused"), -1);
    const kn_value *z = value(mf.graph, "z");
    assert_true(z->is_graph_output);
    assert_int_equal(z->dtype, KILN_DTYPE_FLOAT);
    assert_int_equal(z->rank, -1);
    kn_model_file_clear(&mf);
}

static void test_constant_node_and_optional_io(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    Onnx__NodeProto *n = tm_node(&m, "c", "Constant", NULL, NULL, "k");
    Onnx__AttributeProto a = ONNX__ATTRIBUTE_PROTO__INIT;
    Onnx__AttributeProto *ap = &a;
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    static const int64_t d[1] = {2};
    static float v[2] = {4, 5};
    t.n_dims = 1;
    t.dims = (int64_t *)d;
    t.has_data_type = 1;
    t.data_type = KILN_DTYPE_FLOAT;
    t.n_float_data = 2;
    t.float_data = v;
    a.name = "value";
    a.has_type = 1;
    a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    a.t = &t;
    n->n_attribute = 1;
    n->attribute = &ap;
    Onnx__NodeProto *clip = tm_node(&m, "clip", "Clip", "y", "", "z");
    clip->input[clip->n_input++] = "k";
    kn_model_file mf;
    assert_int_equal(load(&m, NULL, &mf), KILN_OK);
    kn_graph *g = mf.graph;
    assert_int_equal(g->n_nodes, 3);
    assert_string_equal(g->nodes[1].op_type, "Constant");
    assert_int_equal(g->nodes[1].n_in, 0);
    const kn_attr *va = kn_node_attr(&g->nodes[1], "value");
    assert_non_null(va);
    assert_int_equal(va->type, KN_ATTR_TENSOR);
    kt_assert_f32_close(va->t, v, 2, 0, 0);
    assert_null(value(g, "k")->constant);
    assert_int_equal(g->nodes[2].n_in, 3);
    assert_int_equal(g->nodes[2].in[1], -1);
    kn_model_file_clear(&mf);
}

/* Every attribute type, including a subgraph reading an outer-scope value. */
static void test_attributes_every_type(void **state)
{
    (void)state;
    tm m;
    tm_init(&m);
    /* subgraph: out_s = Identity(x) where x is the outer graph's input */
    Onnx__GraphProto sub = ONNX__GRAPH_PROTO__INIT;
    Onnx__NodeProto sn = ONNX__NODE_PROTO__INIT;
    Onnx__NodeProto *snp = &sn;
    char *sin[1] = {"x"}, *sout[1] = {"out_s"};
    sn.op_type = "Identity";
    sn.n_input = 1;
    sn.input = sin;
    sn.n_output = 1;
    sn.output = sout;
    sub.name = "body";
    sub.n_node = 1;
    sub.node = &snp;
    Onnx__ValueInfoProto *so = tm_vi(&m, "out_s", KILN_DTYPE_FLOAT, -1, NULL);
    sub.n_output = 1;
    sub.output = &so;
    Onnx__GraphProto *graphs[2] = {&sub, &sub};

    static const int64_t d1[1] = {1};
    static float tv[1] = {9};
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    t.n_dims = 1;
    t.dims = (int64_t *)d1;
    t.has_data_type = 1;
    t.data_type = KILN_DTYPE_FLOAT;
    t.n_float_data = 1;
    t.float_data = tv;
    Onnx__TensorProto *tensors[2] = {&t, &t};
    static float fl[2] = {0.5f, 1.5f};
    static int64_t in[3] = {1, -2, 3};
    ProtobufCBinaryData strs[2] = {{2, (uint8_t *)"ab"}, {3, (uint8_t *)"c\0d"}};

    Onnx__AttributeProto a[13];
    Onnx__AttributeProto *ap[13];
    const char *names[13] = {"f", "i", "s", "t", "g", "floats", "ints", "strings", "tensors", "graphs",
                             "sparse", "tp", "untyped"};
    for (int i = 0; i < 13; i++) {
        onnx__attribute_proto__init(&a[i]);
        a[i].name = (char *)names[i];
        a[i].has_type = 1;
        ap[i] = &a[i];
    }
    a[0].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a[0].has_f = 1, a[0].f = 0.25f;
    a[1].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a[1].has_i = 1, a[1].i = -42;
    a[2].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, a[2].has_s = 1;
    a[2].s.data = (uint8_t *)"hello";
    a[2].s.len = 5;
    a[3].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, a[3].t = &t;
    a[4].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH, a[4].g = &sub;
    a[5].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS, a[5].n_floats = 2, a[5].floats = fl;
    a[6].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, a[6].n_ints = 3, a[6].ints = in;
    a[7].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS, a[7].n_strings = 2, a[7].strings = strs;
    a[8].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS, a[8].n_tensors = 2, a[8].tensors = tensors;
    a[9].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS, a[9].n_graphs = 2, a[9].graphs = graphs;
    a[10].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR;
    a[11].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO;
    /* files older than AttributeProto.type: the set field says the type */
    a[12].has_type = 0;
    a[12].n_ints = 1;
    a[12].ints = in;

    Onnx__NodeProto *n = tm_node(&m, "custom", "Loop", "y", NULL, "z");
    n->n_attribute = 13;
    n->attribute = ap;
    kn_model_file mf;
    if (load(&m, NULL, &mf) != KILN_OK)
        fail_msg("%s", kiln_last_error());
    kn_graph *g = mf.graph;
    const kn_node *node = &g->nodes[1];
    assert_int_equal(node->n_attrs, 13);
    const kn_attr *at;
    at = kn_node_attr(node, "f");
    assert_int_equal(at->type, KN_ATTR_FLOAT);
    assert_true(at->f == 0.25f);
    at = kn_node_attr(node, "i");
    assert_int_equal(at->type, KN_ATTR_INT);
    assert_int_equal(at->i, -42);
    at = kn_node_attr(node, "s");
    assert_int_equal(at->type, KN_ATTR_STRING);
    assert_string_equal(at->s, "hello");
    assert_int_equal(at->s_len, 5);
    at = kn_node_attr(node, "t");
    assert_int_equal(at->type, KN_ATTR_TENSOR);
    kt_assert_f32_close(at->t, tv, 1, 0, 0);
    at = kn_node_attr(node, "g");
    assert_int_equal(at->type, KN_ATTR_GRAPH);
    assert_non_null(at->g);
    assert_ptr_equal(at->g->parent, g);
    assert_string_equal(at->g->name, "body");
    assert_int_equal(at->g->n_nodes, 1);
    assert_int_equal(at->g->nodes[0].opset, 13);
    assert_int_equal(at->g->n_outputs, 1);
    assert_int_equal(kn_graph_topo_order(at->g, (int[1]){0}, (int[1]){0}), KILN_OK);
    at = kn_node_attr(node, "floats");
    assert_int_equal(at->type, KN_ATTR_FLOATS);
    assert_int_equal(at->count, 2);
    assert_true(at->floats[1] == 1.5f);
    at = kn_node_attr(node, "ints");
    assert_int_equal(at->type, KN_ATTR_INTS);
    assert_int_equal(at->count, 3);
    assert_int_equal(at->ints[1], -2);
    at = kn_node_attr(node, "strings");
    assert_int_equal(at->type, KN_ATTR_STRINGS);
    assert_int_equal(at->count, 2);
    assert_string_equal(at->strings[0], "ab");
    at = kn_node_attr(node, "tensors");
    assert_int_equal(at->type, KN_ATTR_TENSORS);
    assert_int_equal(at->count, 2);
    kt_assert_f32_close(at->tensors[1], tv, 1, 0, 0);
    at = kn_node_attr(node, "graphs");
    assert_int_equal(at->type, KN_ATTR_GRAPHS);
    assert_int_equal(at->count, 2);
    assert_ptr_equal(at->graphs[1]->parent, g);
    assert_int_equal(kn_node_attr(node, "sparse")->type, KN_ATTR_SPARSE_TENSOR);
    assert_int_equal(kn_node_attr(node, "tp")->type, KN_ATTR_TYPE_PROTO);
    assert_int_equal(kn_node_attr(node, "untyped")->type, KN_ATTR_INTS);
    kn_model_file_clear(&mf);

    /* an error inside a subgraph names the node and attribute holding it */
    sn.op_type = "";
    expect_error(&m, NULL, KILN_ERROR_MODEL, "node 'custom' (Loop) attribute 'g'");
    sn.op_type = "Identity";
    /* repeated attribute names */
    a[1].name = "f";
    expect_error(&m, NULL, KILN_ERROR_MODEL, "attribute 'f' is given twice");
}

static void test_duplicate_names(void **state)
{
    (void)state;
    static const float w[1] = {1};
    static const int64_t d[1] = {1};
    tm m;
    tm_init(&m);
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 1, d, w, 4);
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 1, d, w, 4);
    expect_error(&m, NULL, KILN_ERROR_MODEL, "duplicate initializer 'w'");

    tm_init(&m);
    tm_input(&m, tm_vi(&m, "x", KILN_DTYPE_FLOAT, 2, dims_b3));
    expect_error(&m, NULL, KILN_ERROR_MODEL, "duplicate graph input 'x'");

    tm_init(&m);
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 1, d, w, 4);
    tm_node(&m, "bad", "Relu", "x", NULL, "w");
    expect_error(&m, NULL, KILN_ERROR_MODEL, "node 'bad' (Relu): output 'w' redefines an initializer");

    tm_init(&m);
    tm_node(&m, "bad", "Relu", "y", NULL, "x");
    expect_error(&m, NULL, KILN_ERROR_MODEL, "node 'bad' (Relu): output 'x' redefines a graph input");

    tm_init(&m);
    tm_node(&m, "again", "Relu", "x", NULL, "y");
    expect_error(&m, NULL, KILN_ERROR_MODEL, "output 'y' is already produced by node 'relu1'");

    tm_init(&m);
    m.init_p[0] = NULL;
    tm_init_raw(&m, "", KILN_DTYPE_FLOAT, 1, d, w, 4);
    expect_error(&m, NULL, KILN_ERROR_MODEL, "initializer #0 has no name");
}

/* ---- hostile bytes ---- */

/* A model touching most decoding paths, for truncation and fuzzing. */
static uint8_t *rich_model(size_t *size)
{
    static tm m;
    tm_init(&m);
    static const float w[6] = {1, 2, 3, 4, 5, 6};
    static const int64_t wd[2] = {2, 3};
    static int64_t ints[2] = {1, 2};
    tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 2, wd, w, sizeof w);
    Onnx__NodeProto *n = tm_node(&m, "add", "Add", "y", "w", "z");
    static Onnx__AttributeProto a[2];
    static Onnx__AttributeProto *ap[2] = {&a[0], &a[1]};
    static Onnx__GraphProto sub;
    static Onnx__NodeProto sn;
    static Onnx__NodeProto *snp = &sn;
    static char *sin[1] = {"x"}, *sout[1] = {"o"};
    onnx__graph_proto__init(&sub);
    onnx__node_proto__init(&sn);
    sn.op_type = "Identity";
    sn.n_input = 1, sn.input = sin, sn.n_output = 1, sn.output = sout;
    sub.n_node = 1, sub.node = &snp;
    onnx__attribute_proto__init(&a[0]);
    onnx__attribute_proto__init(&a[1]);
    a[0].name = "axes", a[0].has_type = 1, a[0].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a[0].n_ints = 2, a[0].ints = ints;
    a[1].name = "body", a[1].has_type = 1, a[1].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH, a[1].g = &sub;
    n->n_attribute = 2;
    n->attribute = ap;
    return pack_model(&m.model, size);
}

static void check_clean(kiln_status s, kn_model_file *mf)
{
    if (s == KILN_OK) {
        assert_non_null(mf->graph);
        kn_model_file_clear(mf);
        return;
    }
    if (s != KILN_ERROR_PARSE && s != KILN_ERROR_MODEL && s != KILN_ERROR_UNSUPPORTED && s != KILN_ERROR_LIMIT)
        fail_msg("unexpected status %d: %s", (int)s, kiln_last_error());
    assert_null(strchr(kiln_last_error(), '\n'));
}

static void test_every_prefix(void **state)
{
    (void)state;
    size_t size;
    uint8_t *full = rich_model(&size);
    kn_model_file mf;
    memset(&mf, 0, sizeof mf);
    assert_int_equal(kn_onnx_import(full, size, NULL, &mf), KILN_OK);
    kn_model_file_clear(&mf);
    int parse_errors = 0;
    for (size_t len = 0; len < size; len++) {
        /* a private copy so valgrind sees any read past the prefix */
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, full, len);
        memset(&mf, 0, sizeof mf);
        kiln_status s = kn_onnx_import(b, len, NULL, &mf);
        check_clean(s, &mf);
        if (s == KILN_ERROR_PARSE) {
            parse_errors++;
            if (len)
                assert_string_equal(kiln_last_error(), "not a valid ONNX model: protobuf decoding failed");
        }
        free(b);
    }
    assert_true(parse_errors > 0);
    free(full);
}

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static void test_garbage_and_mutations(void **state)
{
    (void)state;
    kn_model_file mf;
    for (int it = 0; it < 2000; it++) {
        size_t len = rng() % 256;
        uint8_t *b = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            b[i] = (uint8_t)rng();
        memset(&mf, 0, sizeof mf);
        check_clean(kn_onnx_import(b, len, NULL, &mf), &mf);
        free(b);
    }
    size_t size;
    uint8_t *full = rich_model(&size);
    for (int it = 0; it < 3000; it++) {
        uint8_t *b = malloc(size);
        memcpy(b, full, size);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips; f++)
            b[rng() % size] = (uint8_t)rng();
        memset(&mf, 0, sizeof mf);
        check_clean(kn_onnx_import(b, size, NULL, &mf), &mf);
        free(b);
    }
    free(full);
}

/* Message nesting deep enough to blow protobuf-c's recursion is refused
 * before decoding. */
static void test_deep_nesting(void **state)
{
    (void)state;
    enum { DEPTH = 60 }; /* 3 messages per level: Graph -> Node -> Attribute */
    static Onnx__GraphProto g[DEPTH];
    static Onnx__NodeProto n[DEPTH];
    static Onnx__NodeProto *np[DEPTH];
    static Onnx__AttributeProto a[DEPTH];
    static Onnx__AttributeProto *ap[DEPTH];
    static char *out[1] = {"o"};
    for (int levels = 10; levels <= DEPTH; levels += DEPTH - 10) {
        for (int i = 0; i < levels; i++) {
            onnx__graph_proto__init(&g[i]);
            onnx__node_proto__init(&n[i]);
            onnx__attribute_proto__init(&a[i]);
            n[i].op_type = "If";
            n[i].n_output = 1;
            n[i].output = out;
            np[i] = &n[i];
            g[i].n_node = 1;
            g[i].node = &np[i];
            if (i + 1 < levels) {
                a[i].name = "then_branch";
                a[i].has_type = 1;
                a[i].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
                a[i].g = &g[i + 1];
                ap[i] = &a[i];
                n[i].n_attribute = 1;
                n[i].attribute = &ap[i];
            }
        }
        tm m;
        tm_init(&m);
        m.model.graph = &g[0];
        kn_model_file mf;
        kiln_status s = load(&m, NULL, &mf);
        if (levels == 10) {
            if (s != KILN_OK)
                fail_msg("%s", kiln_last_error());
            kn_model_file_clear(&mf);
        } else {
            assert_int_equal(s, KILN_ERROR_PARSE);
        }
    }
    /* raw bytes: field 7 (graph) nested 100000 times */
    size_t len = 100000 * 2;
    uint8_t *b = malloc(len);
    for (size_t i = 0; i < len; i += 2) {
        b[i] = (7 << 3) | 2;
        b[i + 1] = 0;
    }
    kn_model_file mf;
    check_clean(kn_onnx_import(b, len, NULL, &mf), &mf);
    free(b);
}

/* Every allocation the import makes may fail: the result is NOMEM and
 * nothing leaks (valgrind checks the latter). */
static void test_allocation_failures(void **state)
{
    (void)state;
    size_t size;
    uint8_t *b = rich_model(&size);
    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
        kn_model_file mf;
        memset(&mf, 0, sizeof mf);
        kn_alloc_fail_at(nth);
        kiln_status s = kn_onnx_import(b, size, NULL, &mf);
        kn_alloc_fail_at(0);
        if (s == KILN_OK) {
            kn_model_file_clear(&mf);
            break;
        }
        assert_int_equal(s, KILN_ERROR_NOMEM);
        assert_null(mf.graph);
        failures++;
        assert_true(nth < 100000);
    }
    assert_true(failures > 20);
    free(b);
}

/* ---- external data ---- */

typedef struct tmpdir {
    char root[64];   /* holds model/ and outside.bin */
    char model[128]; /* the model folder */
} tmpdir;

static void write_bytes(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
}

static void tmpdir_make(tmpdir *t)
{
    snprintf(t->root, sizeof t->root, "/tmp/kiln_loader_XXXXXX");
    assert_non_null(mkdtemp(t->root));
    snprintf(t->model, sizeof t->model, "%s/model", t->root);
    assert_int_equal(mkdir(t->model, 0755), 0);
}

static void tmpdir_remove(tmpdir *t)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->root);
    assert_int_equal(system(cmd), 0);
}

static void test_external_data(void **state)
{
    (void)state;
    tmpdir td;
    tmpdir_make(&td);
    char path[256];
    float data[8] = {0, 0, 1, 2, 3, 4, 5, 6}; /* 8 bytes of padding, then 6 floats */
    snprintf(path, sizeof path, "%s/weights.bin", td.model);
    write_bytes(path, data, sizeof data);
    snprintf(path, sizeof path, "%s/sub", td.model);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sub/w2.bin", td.model);
    write_bytes(path, data + 2, 24);
    snprintf(path, sizeof path, "%s/outside.bin", td.root);
    write_bytes(path, data, sizeof data);
    snprintf(path, sizeof path, "%s/link.bin", td.model);
    char target[256];
    snprintf(target, sizeof target, "%s/outside.bin", td.root);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof path, "%s/inlink.bin", td.model);
    assert_int_equal(symlink("weights.bin", path), 0);

    static const int64_t wd[2] = {2, 3};
    tm m;
    tm_init(&m);
    Onnx__TensorProto *t = tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 2, wd, NULL, 0);
    tm_external(&m, t, "weights.bin", "8", "24");
    kn_model_file mf;
    if (load(&m, td.model, &mf) != KILN_OK)
        fail_msg("%s", kiln_last_error());
    kt_assert_f32_close(value(mf.graph, "w")->constant, data + 2, 6, 0, 0);
    kn_model_file_clear(&mf);

    struct {
        const char *loc, *off, *len;
        kiln_status expect;
        const char *needle;
    } cases[] = {
        {"sub/w2.bin", NULL, NULL, KILN_OK, ""},
        {"./sub/w2.bin", "0", "24", KILN_OK, ""},
        {"inlink.bin", "8", NULL, KILN_OK, ""},
        {target, "8", NULL, KILN_ERROR_MODEL, "initializer 'w': external data path"},
        {"../outside.bin", "8", NULL, KILN_ERROR_MODEL, "contains '..'"},
        {"sub/../../outside.bin", "8", NULL, KILN_ERROR_MODEL, "contains '..'"},
        {"link.bin", "8", NULL, KILN_ERROR_MODEL, "'link.bin' resolves outside the model folder"},
        {"weights.bin", "16", NULL, KILN_ERROR_MODEL, "past its end"},
        {"weights.bin", "99999999999999999999", NULL, KILN_ERROR_MODEL, "offset"},
        {"weights.bin", "-8", NULL, KILN_ERROR_MODEL, "offset '-8'"},
        {"weights.bin", "0", "20", KILN_ERROR_MODEL, "length 20"},
        {"missing.bin", NULL, NULL, KILN_ERROR_IO, "missing.bin"},
        {"sub", NULL, NULL, KILN_ERROR_MODEL, "not a regular file"},
        {"", NULL, NULL, KILN_ERROR_MODEL, "no location"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tm_init(&m);
        t = tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 2, wd, NULL, 0);
        tm_external(&m, t, cases[i].loc, cases[i].off, cases[i].len);
        if (cases[i].expect == KILN_OK) {
            if (load(&m, td.model, &mf) != KILN_OK)
                fail_msg("%s: %s", cases[i].loc, kiln_last_error());
            kt_assert_f32_close(value(mf.graph, "w")->constant, data + 2, 6, 0, 0);
            kn_model_file_clear(&mf);
        } else {
            expect_error(&m, td.model, cases[i].expect, cases[i].needle);
        }
    }
    /* no folder to resolve in: refused */
    tm_init(&m);
    t = tm_init_raw(&m, "w", KILN_DTYPE_FLOAT, 2, wd, NULL, 0);
    tm_external(&m, t, "weights.bin", "8", NULL);
    expect_error(&m, NULL, KILN_ERROR_MODEL, "initializer 'w': uses external data 'weights.bin'");

    /* packed 4-bit external data: 5 int4 take 3 bytes, the length says so */
    static const uint8_t packed[3] = {0x21, 0x43, 0x0f};
    snprintf(path, sizeof path, "%s/int4.bin", td.model);
    write_bytes(path, packed, sizeof packed);
    static const int64_t d5[1] = {5};
    tm_init(&m);
    t = tm_init_raw(&m, "w", KILN_DTYPE_INT4, 1, d5, NULL, 0);
    tm_external(&m, t, "int4.bin", "0", "3");
    if (load(&m, td.model, &mf) != KILN_OK)
        fail_msg("%s", kiln_last_error());
    const kiln_tensor *w4 = value(mf.graph, "w")->constant;
    assert_int_equal(w4->nbytes, 5);
    assert_memory_equal(w4->data, ((int8_t[]){1, 2, 3, 4, -1}), 5);
    kn_model_file_clear(&mf);
    tm_init(&m);
    t = tm_init_raw(&m, "w", KILN_DTYPE_INT4, 1, d5, NULL, 0);
    tm_external(&m, t, "int4.bin", "0", "5"); /* the unpacked size is not the file's */
    expect_error(&m, td.model, KILN_ERROR_MODEL, "length 5");
    tmpdir_remove(&td);
}

/* ---- kn_read_file ---- */

static void test_read_file(void **state)
{
    (void)state;
    tmpdir td;
    tmpdir_make(&td);
    char path[256];
    snprintf(path, sizeof path, "%s/f.bin", td.model);
    write_bytes(path, "hello world", 11);
    void *data = (void *)0x1;
    size_t size = 77;
    assert_int_equal(kn_read_file(path, 0, &data, &size), KILN_OK);
    assert_int_equal(size, 11);
    assert_memory_equal(data, "hello world", 11);
    kn_free(data);
    data = (void *)0x1;
    assert_int_equal(kn_read_file(path, 10, &data, &size), KILN_ERROR_IO);
    assert_non_null(strstr(kiln_last_error(), path));
    assert_ptr_equal(data, (void *)0x1);
    assert_int_equal(kn_read_file(td.model, 0, &data, &size), KILN_ERROR_IO);
    assert_non_null(strstr(kiln_last_error(), strerror(EISDIR)));
    snprintf(path, sizeof path, "%s/missing", td.model);
    assert_int_equal(kn_read_file(path, 0, &data, &size), KILN_ERROR_IO);
    assert_non_null(strstr(kiln_last_error(), path));
    assert_non_null(strstr(kiln_last_error(), strerror(ENOENT)));
    assert_ptr_equal(data, (void *)0x1);
    assert_int_equal(size, 11);
    snprintf(path, sizeof path, "%s/empty", td.model);
    write_bytes(path, "", 0);
    assert_int_equal(kn_read_file(path, 0, &data, &size), KILN_OK);
    assert_int_equal(size, 0);
    kn_free(data);
    tmpdir_remove(&td);
}

/* kn_file_map: regular files are mapped, the rest falls back to reads
 * with the same errors; release is idempotent. */
static void test_file_map(void **state)
{
    (void)state;
    tmpdir td;
    tmpdir_make(&td);
    char path[256];
    snprintf(path, sizeof path, "%s/f.bin", td.model);
    write_bytes(path, "hello world", 11);
    kn_file_bytes f;
    assert_int_equal(kn_file_map(path, 0, &f), KILN_OK);
    assert_true(f.mapped);
    assert_int_equal(f.size, 11);
    assert_memory_equal(f.data, "hello world", 11);
    kn_file_release(&f);
    assert_null(f.data);
    kn_file_release(&f);
    assert_int_equal(kn_file_map(path, 11, &f), KILN_OK);
    kn_file_release(&f);
    assert_int_equal(kn_file_map(path, 10, &f), KILN_ERROR_IO);
    assert_non_null(strstr(kiln_last_error(), path));
    assert_null(f.data);
    assert_int_equal(kn_file_map(td.model, 0, &f), KILN_ERROR_IO);
    assert_non_null(strstr(kiln_last_error(), strerror(EISDIR)));
    snprintf(path, sizeof path, "%s/missing", td.model);
    assert_int_equal(kn_file_map(path, 0, &f), KILN_ERROR_IO);
    assert_non_null(strstr(kiln_last_error(), strerror(ENOENT)));
    snprintf(path, sizeof path, "%s/empty", td.model);
    write_bytes(path, "", 0);
    assert_int_equal(kn_file_map(path, 0, &f), KILN_OK);
    assert_false(f.mapped);
    assert_int_equal(f.size, 0);
    kn_file_release(&f);
    tmpdir_remove(&td);
}

static void test_null_arguments(void **state)
{
    (void)state;
    kn_model_file mf;
    assert_int_equal(kn_onnx_import(NULL, 10, NULL, &mf), KILN_ERROR_ARGUMENT);
    assert_int_equal(kn_onnx_import("x", 1, NULL, NULL), KILN_ERROR_ARGUMENT);
    assert_int_equal(kn_onnx_import("", 0, NULL, &mf), KILN_ERROR_PARSE);
    kn_model_file_clear(NULL);
    kiln_tensor *t;
    assert_int_equal(kn_tensor_from_proto(NULL, NULL, &t), KILN_ERROR_ARGUMENT);
}

/* The bundled test models load through the same path. */
static void test_bundled_models(void **state)
{
    (void)state;
    const char *src = getenv("KILN_SOURCE_DIR");
    char path[512];
    const char *names[] = {"add_const.onnx", "two_inputs.onnx", "shape_chain.onnx", "relu_chain.onnx",
                           "nonzero.onnx", "unsupported.onnx"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/tests/data/%s", src ? src : "/work/main", names[i]);
        void *data;
        size_t size;
        assert_int_equal(kn_read_file(path, 0, &data, &size), KILN_OK);
        kn_model_file mf;
        if (kn_onnx_import(data, size, NULL, &mf) != KILN_OK)
            fail_msg("%s: %s", names[i], kiln_last_error());
        assert_true(mf.graph->n_nodes > 0);
        assert_true(mf.graph->n_outputs > 0);
        kn_model_file_clear(&mf);
        kn_free(data);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_relu),
        cmocka_unit_test(test_missing_metadata_is_empty),
        cmocka_unit_test(test_ir_versions_load),
        cmocka_unit_test(test_opsets_and_domains),
        cmocka_unit_test(test_no_default_opset_refused),
        cmocka_unit_test(test_no_graph_refused),
        cmocka_unit_test(test_initializers_and_params),
        cmocka_unit_test(test_initializer_listed_as_input),
        cmocka_unit_test(test_typed_fields),
        cmocka_unit_test(test_typed_field_count_mismatch),
        cmocka_unit_test(test_raw_data_size_mismatch),
        cmocka_unit_test(test_bad_dims),
        cmocka_unit_test(test_unknown_dtypes),
        cmocka_unit_test(test_narrow_initializers),
        cmocka_unit_test(test_narrow_model_save),
        cmocka_unit_test(test_value_info_hints),
        cmocka_unit_test(test_constant_node_and_optional_io),
        cmocka_unit_test(test_attributes_every_type),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_garbage_and_mutations),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_external_data),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_file_map),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_bundled_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
