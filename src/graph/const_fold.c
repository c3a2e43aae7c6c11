/* Constant folding at load: a node whose inputs are all constants is
 * evaluated once and its outputs become constants. Shape computations that
 * depend on input shapes are folded later, per plan, by the planner. */
#include "graph/passes.h"
#include "runtime/runtime.h"

#include <string.h>

/* Folding must not turn a small graph into a huge file-sized constant
 * (ConstantOfShape, Expand, Tile of a scalar). */
#define KN_FOLD_MAX_BYTES ((size_t)64 << 20)

static bool foldable(const kn_graph *g, const kn_node *n)
{
    if (n->dead || !n->op || !n->op->infer || !n->op->run || (n->op->flags & KN_OP_NO_FOLD))
        return false;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0 && !g->values[n->in[i]].constant)
            return false;
    return true;
}

kiln_status kn_pass_const_fold(kn_graph *g, bool *changed)
{
    *changed = false;
    const kiln_tensor *ins[256];
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *n = &g->nodes[i];
        if (!foldable(g, n) || n->n_in > 256 || n->n_out > 64)
            continue;
        for (int k = 0; k < n->n_in; k++)
            ins[k] = n->in[k] >= 0 ? g->values[n->in[k]].constant : NULL;
        kiln_tensor *res[64] = {0};
        /* the cap stops a huge constant before it is allocated, not after */
        size_t outer = kn_fold_cap_enter(KN_FOLD_MAX_BYTES);
        kiln_status s = kn_eval_node(g, n, ins, res, NULL, KN_ISA_GENERIC);
        kn_fold_cap_leave(outer);
        if (s == KILN_ERROR_NOMEM)
            return s;
        if (s != KILN_OK)
            continue; /* leave it to run time, which reports the error in context */
        bool small = true;
        for (int k = 0; k < n->n_out; k++)
            if (res[k] && (res[k]->nbytes > KN_FOLD_MAX_BYTES || kn_dtype_is_container(res[k]->dtype)))
                small = false; /* model constants are tensors (saved as TensorProto) */
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (!small || v < 0) {
                kn_tensor_free(res[k]);
                continue;
            }
            kn_value *val = &g->values[v];
            val->constant = res[k];
            val->producer = -1;
        }
        if (small) {
            kn_graph_log(g, "constant-folding: %s '%s' evaluated at load", n->op_type, n->name);
            n->dead = true;
            *changed = true;
        }
    }
    if (*changed)
        return kn_graph_compact(g);
    return KILN_OK;
}
