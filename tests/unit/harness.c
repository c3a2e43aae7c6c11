#include "harness.h"
#include "ops/conv_ref.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct kt_node {
    kn_graph *g;
    int node;
};

kt_node *kt_node_new_domain(const char *domain, const char *op_type, int opset)
{
    kt_node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    assert_int_equal(kn_graph_new(&n->g), KILN_OK);
    n->g->opsets = kn_calloc(1, sizeof(kn_opset));
    n->g->opsets[0].domain = kn_strdup(domain);
    n->g->opsets[0].version = opset;
    n->g->n_opsets = 1;
    assert_int_equal(kn_graph_add_node(n->g, "test_node", op_type, domain, 0, NULL, 0, NULL, &n->node), KILN_OK);
    return n;
}

kt_node *kt_node_new(const char *op_type, int opset)
{
    return kt_node_new_domain("", op_type, opset);
}

void kt_node_free(kt_node *n)
{
    if (!n)
        return;
    kn_graph_free(n->g);
    free(n);
}

kn_node *kt_node_get(kt_node *n)
{
    return &n->g->nodes[n->node];
}

void kt_attr_int(kt_node *n, const char *name, int64_t v)
{
    assert_int_equal(kn_node_add_attr_int(kt_node_get(n), name, v), KILN_OK);
}

void kt_attr_float(kt_node *n, const char *name, float v)
{
    assert_int_equal(kn_node_add_attr_float(kt_node_get(n), name, v), KILN_OK);
}

void kt_attr_ints(kt_node *n, const char *name, const int64_t *v, size_t count)
{
    assert_int_equal(kn_node_add_attr_ints(kt_node_get(n), name, v, count), KILN_OK);
}

void kt_attr_floats(kt_node *n, const char *name, const float *v, size_t count)
{
    kn_node *node = kt_node_get(n);
    assert_int_equal(kn_node_add_attr_ints(node, name, NULL, 0), KILN_OK);
    kn_attr *a = &node->attrs[node->n_attrs - 1];
    kn_free(a->ints);
    a->ints = NULL;
    a->type = KN_ATTR_FLOATS;
    a->floats = kn_malloc((count ? count : 1) * sizeof(float));
    if (count)
        memcpy(a->floats, v, count * sizeof(float));
    a->count = count;
}

void kt_attr_string(kt_node *n, const char *name, const char *s)
{
    assert_int_equal(kn_node_add_attr_string(kt_node_get(n), name, s), KILN_OK);
}

void kt_attr_strings(kt_node *n, const char *name, const char *const *s, size_t count)
{
    kn_node *node = kt_node_get(n);
    assert_int_equal(kn_node_add_attr_int(node, name, 0), KILN_OK);
    kn_attr *a = &node->attrs[node->n_attrs - 1];
    a->type = KN_ATTR_STRINGS;
    a->strings = kn_calloc(count ? count : 1, sizeof(char *));
    assert_non_null(a->strings);
    for (size_t i = 0; i < count; i++) {
        a->strings[i] = kn_strdup(s[i]);
        assert_non_null(a->strings[i]);
    }
    a->count = count;
}

void kt_attr_tensor(kt_node *n, const char *name, const kiln_tensor *t)
{
    kn_node *node = kt_node_get(n);
    assert_int_equal(kn_node_add_attr_int(node, name, 0), KILN_OK);
    kn_attr *a = &node->attrs[node->n_attrs - 1];
    a->type = KN_ATTR_TENSOR;
    assert_int_equal(kn_tensor_clone(t, &a->t), KILN_OK);
}

static void free_state(const kn_op *op, void *state)
{
    if (!state)
        return;
    if (op->free_state)
        op->free_state(state);
    else
        kn_free(state);
}

static kiln_status run_impl(kt_node *tn, kn_isa_level isa, int threads, unsigned const_mask, int n_in,
                            kiln_tensor *const *inputs, int n_out, kiln_tensor **outputs);

kiln_status kt_run_ex(kt_node *tn, kn_isa_level isa, int threads, int n_in, kiln_tensor *const *inputs, int n_out,
                      kiln_tensor **outputs)
{
    return run_impl(tn, isa, threads, 0, n_in, inputs, n_out, outputs);
}

kiln_status kt_run_const(kt_node *tn, kn_isa_level isa, unsigned const_mask, int n_in, kiln_tensor *const *inputs,
                         int n_out, kiln_tensor **outputs)
{
    return run_impl(tn, isa, 0, const_mask, n_in, inputs, n_out, outputs);
}

static kiln_status run_impl(kt_node *tn, kn_isa_level isa, int threads, unsigned const_mask, int n_in,
                            kiln_tensor *const *inputs, int n_out, kiln_tensor **outputs)
{
    kn_graph *g = tn->g;
    kn_node *node = kt_node_get(tn);
    int in_idx[16], out_idx[16];
    assert_true(n_in <= 16 && n_out <= 16);
    for (int i = 0; i < n_in; i++) {
        char name[32];
        snprintf(name, sizeof name, "in%d", i);
        if (!inputs[i]) {
            in_idx[i] = -1;
            continue;
        }
        int v = kn_graph_find(g, name);
        if (v < 0) {
            assert_int_equal(kn_graph_value(g, name, &v), KILN_OK);
        }
        if (const_mask & (1u << i)) {
            if (!g->values[v].constant)
                assert_int_equal(kn_tensor_clone(inputs[i], &g->values[v].constant), KILN_OK);
        } else {
            g->values[v].is_graph_input = true;
        }
        in_idx[i] = v;
    }
    for (int i = 0; i < n_out; i++) {
        char name[32];
        snprintf(name, sizeof name, "out%d", i);
        assert_int_equal(kn_graph_value(g, name, &out_idx[i]), KILN_OK);
    }
    node = kt_node_get(tn);
    assert_int_equal(kn_node_set_inputs(node, n_in, in_idx), KILN_OK);
    kn_free(node->out);
    node->out = kn_malloc(sizeof(int) * (size_t)(n_out ? n_out : 1));
    memcpy(node->out, out_idx, sizeof(int) * (size_t)n_out);
    node->n_out = n_out;

    const kn_op *op = kn_op_find(node->domain, node->op_type, node->opset);
    if (!op)
        return kn_error(KILN_ERROR_UNSUPPORTED, "no kernel for %s at opset %d", node->op_type, node->opset);
    for (int round = 0; op->upgrade && round < 4; round++) {
        KN_TRY(op->upgrade(g, tn->node));
        node = kt_node_get(tn);
        const kn_op *next = kn_op_find(node->domain, node->op_type, node->opset);
        if (!next)
            return kn_error(KILN_ERROR_UNSUPPORTED, "no kernel for upgraded %s", node->op_type);
        if (next == op)
            break;
        op = next;
    }
    if (!op->infer || !op->run)
        return kn_error(KILN_ERROR_INTERNAL, "%s: descriptor has no kernel after upgrade", node->op_type);
    node->op = op;
    if (node->params) {
        if (op->free_params)
            op->free_params(node->params);
        else
            kn_free(node->params);
        node->params = NULL;
    }
    if (op->parse)
        KN_TRY(op->parse(node));
    if (const_mask && op->finalize)
        KN_TRY(op->finalize(g, node, isa));

    /* Inputs after upgrade: constants from the graph or the caller's tensors. */
    const kiln_tensor *ins[16] = {0};
    for (int i = 0; i < node->n_in; i++) {
        int v = node->in[i];
        if (v < 0)
            continue;
        if (g->values[v].constant)
            ins[i] = g->values[v].constant;
        else {
            int k = -1;
            for (int j = 0; j < n_in; j++)
                if (in_idx[j] == v)
                    k = j;
            assert_true(k >= 0);
            ins[i] = inputs[k];
        }
    }
    kiln_tensor *outs[16] = {0};
    for (int i = 0; i < n_out; i++) {
        outs[i] = kn_calloc(1, sizeof(kiln_tensor));
        assert_non_null(outs[i]);
    }
    pthreadpool_t pool = threads > 1 ? pthreadpool_create((size_t)threads) : NULL;
    kn_op_ctx c = {.graph = g, .node = node, .params = node->params, .n_in = node->n_in, .in = ins,
                   .n_out = n_out, .out = outs, .pool = pool, .isa = isa};
    kiln_status s = kn_op_infer(op, &c); /* the generic .types check, as the planner does */
    if (s == KILN_OK && op->prepare)
        s = op->prepare(&c);
    if (s == KILN_OK) {
        for (int i = 0; i < n_out && s == KILN_OK; i++)
            s = kn_tensor_alloc_data(outs[i]);
    }
    if (s == KILN_OK && c.scratch_size) {
        c.scratch = kn_aligned_alloc(c.scratch_size);
        assert_non_null(c.scratch);
    }
    if (s == KILN_OK)
        s = op->run(&c);
    s = kn_op_own_strings(op, node, n_out, outs, s); /* as kn_eval_node does */
    kn_aligned_free(c.scratch);
    free_state(op, c.state);
    if (pool)
        pthreadpool_destroy(pool);
    for (int i = 0; i < n_out; i++) {
        if (s == KILN_OK)
            outputs[i] = outs[i];
        else
            kn_tensor_free(outs[i]);
    }
    return s;
}

kiln_status kt_run(kt_node *n, int n_in, kiln_tensor *const *inputs, int n_out, kiln_tensor **outputs)
{
    return kt_run_ex(n, KN_ISA_GENERIC, 0, n_in, inputs, n_out, outputs);
}

kiln_tensor *kt_tensor(kiln_dtype dtype, int rank, const int64_t *dims, const void *data)
{
    kiln_tensor *t = NULL;
    assert_int_equal(kn_tensor_new(dtype, rank, dims, &t), KILN_OK);
    if (data && t->nbytes)
        memcpy(t->data, data, t->nbytes);
    return t;
}

kiln_tensor *kt_strings(int rank, const int64_t *dims, const char *const *s)
{
    kiln_tensor *t = kt_tensor(KILN_DTYPE_STRING, rank, dims, NULL);
    char **d = t->data;
    for (int64_t i = 0; i < kn_tensor_count(t); i++) {
        d[i] = kn_strdup(s[i]);
        assert_non_null(d[i]);
    }
    return t;
}

kiln_tensor *kt_f32(int rank, const int64_t *dims, const float *data)
{
    return kt_tensor(KILN_DTYPE_FLOAT, rank, dims, data);
}

kiln_tensor *kt_i64(int rank, const int64_t *dims, const int64_t *data)
{
    return kt_tensor(KILN_DTYPE_INT64, rank, dims, data);
}

kiln_tensor *kt_i32(int rank, const int64_t *dims, const int32_t *data)
{
    return kt_tensor(KILN_DTYPE_INT32, rank, dims, data);
}

kiln_tensor *kt_f32_random(int rank, const int64_t *dims, uint32_t seed, float lo, float hi)
{
    kiln_tensor *t = kt_f32(rank, dims, NULL);
    float *d = t->data;
    uint32_t x = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < kn_tensor_count(t); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d[i] = lo + (hi - lo) * (float)((x >> 8) * (1.0 / 16777216.0));
    }
    return t;
}

void kt_assert_shape(const kiln_tensor *t, int rank, const int64_t *dims)
{
    char a[128], b[128];
    kiln_tensor tmp = {.rank = rank};
    for (int i = 0; i < rank; i++)
        tmp.dims[i] = dims[i];
    if (!kn_same_shape(t, &tmp))
        fail_msg("shape %s, expected %s", kn_shape_str(t, a, sizeof a), kn_shape_str(&tmp, b, sizeof b));
}

static void close_check(double got, double want, double rtol, double atol, int64_t i)
{
    if (isnan(want) && isnan(got))
        return;
    if (isinf(want) && got == want)
        return;
    if (!(fabs(got - want) <= atol + rtol * fabs(want)))
        fail_msg("element %lld: got %.9g, expected %.9g", (long long)i, got, want);
}

void kt_assert_f32_close(const kiln_tensor *t, const float *expect, int64_t count, double rtol, double atol)
{
    assert_int_equal(t->dtype, KILN_DTYPE_FLOAT);
    if (kn_tensor_count(t) != count)
        fail_msg("element count %lld, expected %lld", (long long)kn_tensor_count(t), (long long)count);
    const float *d = t->data;
    for (int64_t i = 0; i < count; i++)
        close_check(d[i], expect[i], rtol, atol, i);
}

void kt_assert_tensors_close(const kiln_tensor *got, const kiln_tensor *expect, double rtol, double atol)
{
    if (got->dtype != expect->dtype)
        fail_msg("dtype %s, expected %s", kiln_dtype_name(got->dtype), kiln_dtype_name(expect->dtype));
    kt_assert_shape(got, expect->rank, expect->dims);
    int64_t n = kn_tensor_count(got);
    for (int64_t i = 0; i < n; i++)
        close_check(kn_tensor_get_f64(got, i), kn_tensor_get_f64(expect, i), rtol, atol, i);
}

void kt_assert_i64_equal(const kiln_tensor *t, const int64_t *expect, int64_t count)
{
    if (kn_tensor_count(t) != count)
        fail_msg("element count %lld, expected %lld", (long long)kn_tensor_count(t), (long long)count);
    for (int64_t i = 0; i < count; i++)
        if (kn_tensor_get_i64(t, i) != expect[i])
            fail_msg("element %lld: got %lld, expected %lld", (long long)i, (long long)kn_tensor_get_i64(t, i),
                     (long long)expect[i]);
}

void kt_conv2d_ref(int64_t N, int64_t C, int64_t M, int64_t group, int64_t H, int64_t W, int64_t KH, int64_t KW,
                   const kn_conv2d_geom *g, int64_t OH, int64_t OW, const float *x, const float *w, const float *b,
                   float *y)
{
    kn_conv_params p = {.nsp = 2, .N = N, .C = C, .M = M, .group = group};
    p.in[0] = H, p.in[1] = W, p.out[0] = OH, p.out[1] = OW, p.k[0] = KH, p.k[1] = KW;
    p.stride[0] = g->SH, p.stride[1] = g->SW, p.dil[0] = g->DH, p.dil[1] = g->DW, p.pad[0] = g->PT, p.pad[1] = g->PL;
    size_t bytes = 0;
    assert_true(kn_conv_ref_scratch_bytes(&p, &bytes));
    void *scratch = kn_aligned_alloc(bytes ? bytes : 64);
    assert_non_null(scratch);
    kn_conv_ref_f32(&p, x, w, b, y, scratch, NULL);
    kn_aligned_free(scratch);
}

kiln_tensor *kt_run_model(const kiln_model *m, const kiln_tensor *x)
{
    kiln_context *c = NULL;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    kiln_value_info in;
    assert_int_equal(kiln_model_input_info(m, 0, &in), KILN_OK);
    kiln_tensor *y = NULL;
    if (kiln_context_run(c, 1, &in.name, &x, 1, NULL, &y) != KILN_OK)
        fail_msg("run: %s", kiln_last_error());
    kiln_context_release(c);
    return y;
}
