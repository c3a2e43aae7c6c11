/* Subgraph interpreter; see subgraph.h. */
#include "runtime/subgraph.h"

#include <string.h>

struct kn_subgraph_exec {
    const kn_graph *g;
    pthreadpool_t pool;
    kn_isa_level isa;
    const kiln_tensor **bound; /* per value: constant or outer-scope tensor */
    int *uses;                 /* per value: node-input and graph-output reads */
    /* per run */
    const kiln_tensor **vals;
    kiln_tensor **owned;
    int *left;
};

void kn_subgraph_exec_free(kn_subgraph_exec *e)
{
    if (!e)
        return;
    kn_free(e->bound);
    kn_free(e->uses);
    kn_free(e->vals);
    kn_free(e->owned);
    kn_free(e->left);
    kn_free(e);
}

static const kiln_tensor *scope_find(const kn_scope *s, const char *name)
{
    for (int i = 0; s && i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return s->values[i];
    return NULL;
}

kiln_status kn_subgraph_exec_new(const kn_graph *sub, const kn_scope *outer, pthreadpool_t pool,
                                 kn_isa_level isa, kn_subgraph_exec **out)
{
    kn_subgraph_exec *e = kn_calloc(1, sizeof *e);
    if (!e)
        return KN_NOMEM();
    size_t nv = (size_t)(sub->n_values ? sub->n_values : 1);
    e->g = sub;
    e->pool = pool;
    e->isa = isa;
    e->bound = kn_calloc(nv, sizeof *e->bound);
    e->uses = kn_calloc(nv, sizeof *e->uses);
    e->vals = kn_calloc(nv, sizeof *e->vals);
    e->owned = kn_calloc(nv, sizeof *e->owned);
    e->left = kn_calloc(nv, sizeof *e->left);
    if (!e->bound || !e->uses || !e->vals || !e->owned || !e->left) {
        kn_subgraph_exec_free(e);
        return KN_NOMEM();
    }
    for (int n = 0; n < sub->n_nodes; n++) {
        const kn_node *node = &sub->nodes[n];
        for (int i = 0; i < node->n_in && !node->dead; i++)
            if (node->in[i] >= 0)
                e->uses[node->in[i]]++;
    }
    for (int i = 0; i < sub->n_outputs; i++)
        e->uses[sub->outputs[i]]++;
    for (int v = 0; v < sub->n_values; v++) {
        const kn_value *val = &sub->values[v];
        if (val->constant)
            e->bound[v] = val->constant;
        else if (!val->is_graph_input && val->producer < 0 && e->uses[v])
            e->bound[v] = scope_find(outer, val->name);
    }
    *out = e;
    return KILN_OK;
}

/* One read of value v is done: free it if nothing else reads it. */
static void release(kn_subgraph_exec *e, int v)
{
    if (--e->left[v] == 0 && e->owned[v]) {
        kn_tensor_free(e->owned[v]);
        e->owned[v] = NULL;
        e->vals[v] = NULL;
    }
}

static kiln_status eval_nodes(kn_subgraph_exec *e)
{
    const kn_graph *g = e->g;
    const kiln_tensor *ins[256];
    kiln_tensor *res[64];
    for (int n = 0; n < g->n_nodes; n++) {
        const kn_node *node = &g->nodes[n];
        if (node->dead)
            continue;
        if (node->n_in > 256 || node->n_out > 64)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): too many inputs or outputs", node->name,
                            node->op_type);
        for (int i = 0; i < node->n_in; i++) {
            int v = node->in[i];
            ins[i] = v >= 0 ? e->vals[v] : NULL;
            if (v >= 0 && !ins[i])
                return kn_error(KILN_ERROR_MODEL, "subgraph '%s': node '%s' (%s) reads '%s', which is not available",
                                g->name ? g->name : "", node->name, node->op_type, g->values[v].name);
        }
        memset(res, 0, sizeof res);
        KN_TRY(kn_eval_node(g, node, ins, res, e->pool, e->isa));
        for (int i = 0; i < node->n_out; i++) {
            int v = node->out[i];
            if (v < 0 || e->left[v] == 0) {
                kn_tensor_free(res[i]);
                continue;
            }
            kn_tensor_free(e->owned[v]);
            e->owned[v] = res[i];
            e->vals[v] = res[i];
        }
        for (int i = 0; i < node->n_in; i++)
            if (node->in[i] >= 0)
                release(e, node->in[i]);
    }
    return KILN_OK;
}

/* The graph output's tensor for the caller: the intermediate itself when
 * this is its last read, else a copy. */
static kiln_status take_output(kn_subgraph_exec *e, int v, kiln_tensor **out)
{
    if (!e->vals[v])
        return kn_error(KILN_ERROR_MODEL, "subgraph '%s': output '%s' is not computed", e->g->name ? e->g->name : "",
                        e->g->values[v].name);
    if (e->left[v] == 1 && e->owned[v]) {
        *out = e->owned[v];
        e->owned[v] = NULL;
        e->vals[v] = NULL;
        e->left[v] = 0;
        return KILN_OK;
    }
    KN_TRY(kn_tensor_clone(e->vals[v], out));
    e->left[v]--;
    return KILN_OK;
}

kiln_status kn_subgraph_exec_run(kn_subgraph_exec *e, const kiln_tensor *const *inputs, int n_inputs,
                                 kiln_tensor **outputs)
{
    const kn_graph *g = e->g;
    if (n_inputs != g->n_inputs)
        return kn_error(KILN_ERROR_MODEL, "subgraph '%s': takes %d inputs, given %d", g->name ? g->name : "",
                        g->n_inputs, n_inputs);
    size_t nv = (size_t)g->n_values;
    memcpy(e->vals, e->bound, nv * sizeof *e->vals);
    memcpy(e->left, e->uses, nv * sizeof *e->left);
    memset(e->owned, 0, nv * sizeof *e->owned);
    for (int i = 0; i < n_inputs; i++)
        e->vals[g->inputs[i]] = inputs[i];
    for (int i = 0; i < g->n_outputs; i++)
        outputs[i] = NULL;
    kiln_status st = eval_nodes(e);
    for (int i = 0; i < g->n_outputs && st == KILN_OK; i++)
        st = take_output(e, g->outputs[i], &outputs[i]);
    for (int v = 0; v < g->n_values; v++) {
        kn_tensor_free(e->owned[v]);
        e->owned[v] = NULL;
    }
    if (st != KILN_OK)
        for (int i = 0; i < g->n_outputs; i++) {
            kn_tensor_free(outputs[i]);
            outputs[i] = NULL;
        }
    return st;
}
