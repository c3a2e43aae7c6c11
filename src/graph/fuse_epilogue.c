/* Epilogue fusion (pass "fuse-epilogue", optimization level 2): a Conv whose
 * result goes only into a residual Add and/or an activation becomes one
 * kiln.FusedConv node that applies bias, residual and activation while the
 * output tile is still in registers. Patterns (each intermediate must have
 * exactly one consumer and not be a graph output):
 *     Conv -> act                       act: Relu, LeakyRelu, Clip (constant
 *     Conv -> Add(other) [-> act]            bounds), Sigmoid, HardSigmoid,
 *     Conv -> Sigmoid, Mul(conv, sigmoid)    HardSwish; the last is SiLU
 * FusedConv keeps Conv's attributes and adds "activation" (the original op
 * type, or "SiLU") with its parameters, so the model can be written back as
 * standard ops (onnx_export.c expands it). */
#include "graph/passes.h"
#include "ops/op.h"

#include <stdio.h>
#include <string.h>

static bool is_op(const kn_node *n, const char *type)
{
    return !n->dead && n->domain[0] == 0 && strcmp(n->op_type, type) == 0;
}

/* The only live consumer node of value v, or -1. */
static int sole_consumer(const kn_graph *g, int v)
{
    if (g->values[v].n_consumers != 1 || g->values[v].is_graph_output)
        return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == v)
                return i;
    }
    return -1;
}

static bool const_scalar(const kn_graph *g, const kn_node *n, int i, float *out)
{
    if (i >= n->n_in || n->in[i] < 0)
        return false;
    const kiln_tensor *t = g->values[n->in[i]].constant;
    if (!t || t->dtype != KILN_DTYPE_FLOAT || kn_tensor_count(t) != 1)
        return false;
    *out = ((const float *)t->data)[0];
    return true;
}

/* Whether node a is an activation the epilogue can apply; sets its attrs. */
static bool activation_of(const kn_graph *g, const kn_node *a, float *alpha, float *beta)
{
    if (a->n_out != 1 || a->n_in < 1)
        return false;
    if (is_op(a, "Relu") || is_op(a, "Sigmoid") || is_op(a, "HardSwish"))
        return a->n_in == 1;
    if (is_op(a, "LeakyRelu"))
        return kn_attr_get_float(a, "alpha", 0.01f, alpha) == KILN_OK;
    if (is_op(a, "HardSigmoid"))
        return kn_attr_get_float(a, "alpha", 0.2f, alpha) == KILN_OK &&
               kn_attr_get_float(a, "beta", 0.5f, beta) == KILN_OK;
    if (is_op(a, "Clip")) {
        /* upgraded to the input form at load (opset 11+) */
        *alpha = -3.402823466e38f;
        *beta = 3.402823466e38f;
        if (a->n_in > 1 && a->in[1] >= 0 && !const_scalar(g, a, 1, alpha))
            return false;
        if (a->n_in > 2 && a->in[2] >= 0 && !const_scalar(g, a, 2, beta))
            return false;
        return true;
    }
    return false;
}

/* Turn Conv node c into kiln.FusedConv writing value out. */
static kiln_status make_fused(kn_graph *g, int c, int residual, const char *act, float alpha, float beta, int out)
{
    KN_TRY(kn_graph_ensure_opset(g, "kiln", 1));
    kn_node *n = &g->nodes[c];
    int in[4] = {n->in[0], n->in[1], n->n_in > 2 ? n->in[2] : -1, residual};
    KN_TRY(kn_node_set_inputs(n, residual >= 0 ? 4 : 3, in));
    KN_TRY(kn_node_retype(n, "kiln", "FusedConv", 1)); /* re-resolved after the pass */
    KN_TRY(kn_node_add_attr_string(n, "activation", act ? act : ""));
    KN_TRY(kn_node_add_attr_float(n, "activation_alpha", alpha));
    KN_TRY(kn_node_add_attr_float(n, "activation_beta", beta));
    n->out[0] = out;
    return KILN_OK;
}

static kiln_status fuse_one(kn_graph *g, int c, bool *done)
{
    kn_node *conv = &g->nodes[c];
    if (conv->n_out != 1 || conv->n_in < 2 || conv->in[1] < 0)
        return KILN_OK;
    const kiln_tensor *w = g->values[conv->in[1]].constant;
    if (!w || w->dtype != KILN_DTYPE_FLOAT || w->rank != 4)
        return KILN_OK; /* the fused kernel is the 2-D float one */
    int x = conv->out[0];
    int next = sole_consumer(g, x);
    int residual = -1, tail = x, killed[2] = {-1, -1};
    const char *act = NULL;
    float alpha = 0, beta = 0;
    if (next >= 0 && is_op(&g->nodes[next], "Add") && g->nodes[next].n_in == 2 && g->nodes[next].n_out == 1) {
        const kn_node *add = &g->nodes[next];
        residual = add->in[0] == x ? add->in[1] : add->in[0];
        if (residual == x || residual < 0)
            return KILN_OK; /* x + x */
        tail = add->out[0];
        killed[0] = next;
        next = sole_consumer(g, tail);
    }
    if (next >= 0 && activation_of(g, &g->nodes[next], &alpha, &beta)) {
        act = g->nodes[next].op_type;
        killed[1] = next;
        tail = g->nodes[next].out[0];
    } else if (residual < 0 && g->values[x].n_consumers == 2 && !g->values[x].is_graph_output) {
        /* SiLU: x * Sigmoid(x) */
        int sig = -1, mul = -1;
        for (int i = 0; i < g->n_nodes; i++) {
            const kn_node *n = &g->nodes[i];
            if (is_op(n, "Sigmoid") && n->in[0] == x)
                sig = i;
        }
        if (sig >= 0) {
            int s = g->nodes[sig].out[0];
            mul = sole_consumer(g, s);
            if (mul >= 0 && is_op(&g->nodes[mul], "Mul") && g->nodes[mul].n_in == 2 &&
                ((g->nodes[mul].in[0] == x && g->nodes[mul].in[1] == s) ||
                 (g->nodes[mul].in[1] == x && g->nodes[mul].in[0] == s))) {
                act = "SiLU";
                killed[0] = sig;
                killed[1] = mul;
                tail = g->nodes[mul].out[0];
            }
        }
    }
    if (tail == x)
        return KILN_OK;
    char desc[256];
    snprintf(desc, sizeof desc, "%s%s%s", residual >= 0 ? "+residual Add" : "", residual >= 0 && act ? " " : "",
             act ? act : "");
    kn_graph_log(g, "fuse-epilogue: Conv '%s' takes %s", g->nodes[c].name, desc);
    for (int k = 0; k < 2; k++)
        if (killed[k] >= 0)
            g->nodes[killed[k]].dead = true;
    KN_TRY(make_fused(g, c, residual, act, alpha, beta, tail));
    *done = true;
    return KILN_OK;
}

kiln_status kn_pass_fuse_epilogue(kn_graph *g, bool *changed)
{
    *changed = false;
    if (!kn_op_find("kiln", "FusedConv", 1))
        return KILN_OK;
    kn_graph_build_uses(g);
    int n = g->n_nodes;
    for (int i = 0; i < n; i++) {
        if (!is_op(&g->nodes[i], "Conv"))
            continue;
        bool done = false;
        KN_TRY(fuse_one(g, i, &done));
        if (done) {
            *changed = true;
            kn_graph_build_uses(g);
        }
    }
    if (*changed)
        return kn_graph_compact(g);
    return KILN_OK;
}
