/* Blocked-layout pass (pass "nchwc"): chains of 2-D float convolutions and
 * the pools and activations between them run on blocked tensors
 * ([N][C/16][H][W][16], src/ops/nchwc.h) instead of NCHW, with reorders
 * only where a chain meets the rest of the graph. On a blocked tensor a conv
 * kernel broadcasts an input value against 16 output channels' weights and
 * stores whole vectors: no im2col packing per call and activations that
 * stay in cache from one layer to the next (as ONNX Runtime's NCHWc
 * transformer does for MLAS).
 *
 * Walking the nodes in order, a node joins the blocked world when:
 *   Conv / kiln.FusedConv: float 4-D constant weight, group 1 or depthwise,
 *     and a residual (if any) that is itself blocked with the same channels
 *     -> kiln.NchwcConv. Its input is reordered (kiln.ReorderInput) unless
 *     already blocked; a group-1 conv on fewer than 16 plain channels (the
 *     RGB stem) reads NCHW directly (nchw_input).
 *   MaxPool / AveragePool (2-D, no Indices), GlobalAveragePool,
 *     GlobalMaxPool on a blocked input -> kiln.Nchwc<pool>.
 *   Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh on a
 *     blocked input: unchanged, elementwise on the blocked bytes.
 *   Concat on channels of blocked inputs whose channel counts are whole
 *     blocks: unchanged (the blocks of each input are contiguous per image).
 *   Mul of a blocked tensor by a blocked [N, C, 1, 1] one (the scale of a
 *     squeeze-excitation block) -> kiln.NchwcChannelMul.
 * Any other reader of a value produced blocked, and graph outputs, get a
 * kiln.ReorderOutput back to NCHW. Shapes are not known yet (they are at
 * plan time), so channel counts come from conv weights and a "spatially
 * 1 x 1" flag from global pools; the ops' infer checks the rest. */
#include "graph/passes.h"
#include "ops/op.h"

#include <stdio.h>
#include <string.h>

#define BLOCK 16

/* What the pass knows of a value: for an original value, its blocked
 * stand-in; for a blocked one, its logical channels and spatial shape. */
typedef struct vinfo {
    int blk;        /* original value -> its blocked value, or -1 */
    bool from_nchw; /* original value: blk made by a ReorderInput */
    int64_t chans;  /* blocked value: logical channels */
    bool one;       /* blocked value: known to be 1 x 1 spatially */
} vinfo;

typedef struct pass {
    kn_graph *g;
    int cap;
    vinfo *v; /* by value index */
    int convs, pools, others, reorders_in, reorders_out;
} pass;

static bool is_op(const kn_node *n, const char *domain, const char *type)
{
    return !n->dead && strcmp(n->domain, domain) == 0 && strcmp(n->op_type, type) == 0;
}

static kiln_status grow(pass *p)
{
    if (p->g->n_values < p->cap)
        return KILN_OK;
    int cap = p->g->n_values * 2 + 16;
    vinfo *v = kn_realloc(p->v, (size_t)cap * sizeof *v);
    if (!v)
        return KN_NOMEM();
    for (int i = p->cap; i < cap; i++)
        v[i] = (vinfo){.blk = -1};
    p->v = v;
    p->cap = cap;
    return KILN_OK;
}

/* A new blocked value standing for original value v. */
static kiln_status new_blocked(pass *p, int v, int64_t chans, bool one, int *out)
{
    char hint[256];
    snprintf(hint, sizeof hint, "%s_nchwc", p->g->values[v].name);
    KN_TRY(kn_graph_new_value(p->g, hint, out));
    KN_TRY(grow(p));
    p->g->values[*out].dtype = KILN_DTYPE_FLOAT;
    p->v[*out].chans = chans;
    p->v[*out].one = one;
    p->v[v].blk = *out;
    return KILN_OK;
}

/* Blocked form of plain value v (channels known from the reader's weight):
 * one kiln.ReorderInput per value, shared by its readers. */
static kiln_status reorder_in(pass *p, int v, int64_t chans, int *out)
{
    if (p->v[v].blk >= 0) {
        *out = p->v[v].blk;
        return KILN_OK;
    }
    int b, node;
    KN_TRY(new_blocked(p, v, chans, false, &b));
    p->v[v].from_nchw = true;
    char name[256];
    snprintf(name, sizeof name, "%s/reorder_in", p->g->values[v].name);
    KN_TRY(kn_graph_add_node(p->g, name, "ReorderInput", "kiln", 1, &v, 1, &b, &node));
    p->g->nodes[node].opset = 1;
    p->reorders_in++;
    *out = b;
    return KILN_OK;
}

/* No explicit padding (a 1x1 kernel then keeps a 1x1 input 1x1; every
 * auto_pad mode pads a 1x1 kernel by 0, and the node's own parse already
 * refused unknown modes). */
static bool pads_zero(const kn_node *n)
{
    const kn_attr *a = kn_node_attr(n, "pads");
    if (a && a->type == KN_ATTR_INTS)
        for (size_t k = 0; k < a->count; k++)
            if (a->ints[k] != 0)
                return false;
    return true;
}

static kiln_status try_conv(pass *p, int i)
{
    kn_graph *g = p->g;
    kn_node *n = &g->nodes[i];
    bool fused = is_op(n, "kiln", "FusedConv");
    if (n->n_out != 1 || n->out[0] < 0 || n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0)
        return KILN_OK;
    const kiln_tensor *w = g->values[n->in[1]].constant;
    if (!w || w->dtype != KILN_DTYPE_FLOAT || w->rank != 4 || kn_tensor_count(w) == 0)
        return KILN_OK;
    if (n->n_in > 2 && n->in[2] >= 0) {
        const kiln_tensor *b = g->values[n->in[2]].constant;
        if (!b || b->dtype != KILN_DTYPE_FLOAT || b->rank != 1 || b->dims[0] != w->dims[0])
            return KILN_OK;
    }
    int64_t group;
    if (kn_attr_get_int(n, "group", 1, &group) != KILN_OK)
        return KILN_OK; /* the node's parse refused it already */
    int64_t M = w->dims[0], C = w->dims[1] * group;
    bool depthwise = group > 1 && w->dims[1] == 1 && M == group;
    if (group != 1 && !depthwise)
        return KILN_OK;
    const kn_attr *ks = kn_node_attr(n, "kernel_shape");
    if (ks && ks->count != 2)
        return KILN_OK;
    int x = n->in[0], r = fused && n->n_in > 3 ? n->in[3] : -1;
    if (r >= 0) {
        /* a broadcasting or plain residual stays on the NCHW path */
        int rb = p->v[r].blk;
        if (rb < 0 || p->v[r].from_nchw || p->v[rb].chans != M || p->v[rb].one)
            return KILN_OK;
    }
    if (p->v[x].blk >= 0 && p->v[p->v[x].blk].chans != C)
        return KILN_OK; /* channel mismatch: let Conv report it */
    int xb = x;
    bool nchw_input = false, one = false;
    if (p->v[x].blk >= 0) {
        xb = p->v[x].blk;
        one = p->v[xb].one && w->dims[2] == 1 && w->dims[3] == 1 && pads_zero(n);
    } else if (!depthwise && C < BLOCK) {
        nchw_input = true;
    } else {
        KN_TRY(reorder_in(p, x, C, &xb));
    }
    int y = g->nodes[i].out[0], yb;
    KN_TRY(new_blocked(p, y, M, one, &yb));
    int rb = r >= 0 ? p->v[r].blk : -1;
    n = &g->nodes[i];
    int in[4] = {xb, n->in[1], n->n_in > 2 ? n->in[2] : -1, rb};
    KN_TRY(kn_node_set_inputs(n, rb >= 0 ? 4 : 3, in));
    n->out[0] = yb;
    if (!fused) {
        KN_TRY(kn_node_add_attr_string(n, "activation", ""));
        KN_TRY(kn_node_add_attr_float(n, "activation_alpha", 0.0f));
        KN_TRY(kn_node_add_attr_float(n, "activation_beta", 0.0f));
    }
    KN_TRY(kn_node_add_attr_int(n, "nchw_input", nchw_input));
    KN_TRY(kn_node_retype(&g->nodes[i], "kiln", "NchwcConv", 1));
    p->convs++;
    return KILN_OK;
}

static kiln_status try_pool(pass *p, int i, const char *type, bool global)
{
    kn_graph *g = p->g;
    kn_node *n = &g->nodes[i];
    int x = n->n_in == 1 ? n->in[0] : -1;
    if (x < 0 || p->v[x].blk < 0 || n->n_out < 1 || n->out[0] < 0)
        return KILN_OK;
    if (n->n_out > 1 && n->out[1] >= 0)
        return KILN_OK; /* MaxPool's Indices are NCHW positions */
    if (!global) {
        const kn_attr *ks = kn_node_attr(n, "kernel_shape");
        if (!ks || ks->count != 2)
            return KILN_OK;
    }
    int xb = p->v[x].blk, y = n->out[0], yb;
    KN_TRY(new_blocked(p, y, p->v[xb].chans, global || p->v[xb].one, &yb));
    n = &g->nodes[i];
    KN_TRY(kn_node_set_inputs(n, 1, &xb));
    n->out[0] = yb;
    n->n_out = 1;
    KN_TRY(kn_node_retype(&g->nodes[i], "kiln", type, 1));
    p->pools++;
    return KILN_OK;
}

static bool is_unary_act(const kn_node *n)
{
    static const char *const acts[] = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh"};
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++)
        if (is_op(n, "", acts[k]))
            return true;
    return false;
}

/* Elementwise on the blocked bytes: only input 0 is the tensor (Clip's
 * bounds are scalars). */
static kiln_status try_unary(pass *p, int i)
{
    kn_graph *g = p->g;
    kn_node *n = &g->nodes[i];
    int x = n->n_in >= 1 ? n->in[0] : -1;
    if (x < 0 || p->v[x].blk < 0 || n->n_out != 1 || n->out[0] < 0)
        return KILN_OK;
    for (int k = 1; k < n->n_in; k++)
        if (n->in[k] >= 0 && !g->values[n->in[k]].constant)
            return KILN_OK;
    int xb = p->v[x].blk, yb;
    KN_TRY(new_blocked(p, n->out[0], p->v[xb].chans, p->v[xb].one, &yb));
    n = &g->nodes[i];
    n->in[0] = xb;
    n->out[0] = yb;
    p->others++;
    return KILN_OK;
}

static kiln_status try_concat(pass *p, int i)
{
    kn_graph *g = p->g;
    kn_node *n = &g->nodes[i];
    int64_t axis;
    if (kn_attr_get_int(n, "axis", 0, &axis) != KILN_OK || (axis != 1 && axis != -3) || n->n_out != 1 || n->out[0] < 0 || n->n_in < 1)
        return KILN_OK;
    int64_t total = 0;
    bool one = true;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0 || p->v[v].blk < 0 || p->v[p->v[v].blk].chans % BLOCK)
            return KILN_OK;
        total += p->v[p->v[v].blk].chans;
        one = one && p->v[p->v[v].blk].one;
    }
    int yb;
    KN_TRY(new_blocked(p, n->out[0], total, one, &yb));
    n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++)
        n->in[k] = p->v[n->in[k]].blk;
    n->out[0] = yb;
    p->others++;
    return KILN_OK;
}

static kiln_status try_channel_mul(pass *p, int i)
{
    kn_graph *g = p->g;
    kn_node *n = &g->nodes[i];
    if (n->n_in != 2 || n->n_out != 1 || n->out[0] < 0 || n->in[0] < 0 || n->in[1] < 0)
        return KILN_OK;
    int a = p->v[n->in[0]].blk, b = p->v[n->in[1]].blk;
    if (a < 0 || b < 0 || p->v[a].chans != p->v[b].chans || p->v[a].one == p->v[b].one)
        return KILN_OK;
    int x = p->v[a].one ? b : a, s = p->v[a].one ? a : b, yb;
    KN_TRY(new_blocked(p, n->out[0], p->v[x].chans, false, &yb));
    n = &g->nodes[i];
    int in[2] = {x, s};
    KN_TRY(kn_node_set_inputs(n, 2, in));
    n->out[0] = yb;
    KN_TRY(kn_node_retype(&g->nodes[i], "kiln", "NchwcChannelMul", 1));
    p->others++;
    return KILN_OK;
}

static kiln_status visit(pass *p, int i)
{
    const kn_node *n = &p->g->nodes[i];
    if (n->dead)
        return KILN_OK;
    if (is_op(n, "", "Conv") || is_op(n, "kiln", "FusedConv"))
        return try_conv(p, i);
    if (is_op(n, "", "MaxPool"))
        return try_pool(p, i, "NchwcMaxPool", false);
    if (is_op(n, "", "AveragePool"))
        return try_pool(p, i, "NchwcAveragePool", false);
    if (is_op(n, "", "GlobalAveragePool"))
        return try_pool(p, i, "NchwcGlobalAveragePool", true);
    if (is_op(n, "", "GlobalMaxPool"))
        return try_pool(p, i, "NchwcGlobalMaxPool", true);
    if (is_unary_act(n))
        return try_unary(p, i);
    if (is_op(n, "", "Concat"))
        return try_concat(p, i);
    if (is_op(n, "", "Mul"))
        return try_channel_mul(p, i);
    return KILN_OK;
}

/* Readers left on the plain value (and graph outputs) get it back through
 * one kiln.ReorderOutput. */
static kiln_status reorders_out(pass *p, int n_values)
{
    kn_graph *g = p->g;
    kn_graph_build_uses(g);
    for (int v = 0; v < n_values; v++) {
        if (p->v[v].blk < 0 || p->v[v].from_nchw)
            continue;
        if (g->values[v].n_consumers == 0 && !g->values[v].is_graph_output)
            continue;
        int b = p->v[v].blk, node;
        char name[256];
        snprintf(name, sizeof name, "%s/reorder_out", g->values[v].name);
        KN_TRY(kn_graph_add_node(g, name, "ReorderOutput", "kiln", 1, &b, 1, &v, &node));
        g->nodes[node].opset = 1;
        KN_TRY(kn_node_add_attr_int(&g->nodes[node], "channels", p->v[b].chans));
        p->reorders_out++;
    }
    return KILN_OK;
}

kiln_status kn_pass_nchwc(kn_graph *g, bool *changed)
{
    *changed = false;
    if (!kn_op_find("kiln", "NchwcConv", 1))
        return KILN_OK;
    pass p = {.g = g};
    kiln_status s = grow(&p);
    int n_nodes = g->n_nodes, n_values = g->n_values;
    for (int i = 0; s == KILN_OK && i < n_nodes; i++)
        s = visit(&p, i);
    if (s == KILN_OK && p.convs > 0) {
        s = kn_graph_ensure_opset(g, "kiln", 1);
        if (s == KILN_OK)
            s = reorders_out(&p, n_values);
        if (s == KILN_OK) {
            kn_graph_log(g, "nchwc: %d convs, %d pools, %d other nodes blocked; %d reorders in, %d out", p.convs,
                         p.pools, p.others, p.reorders_in, p.reorders_out);
            *changed = true;
            s = kn_graph_compact(g);
        }
    }
    kn_free(p.v);
    return s;
}
