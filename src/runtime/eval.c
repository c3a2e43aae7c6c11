/* One-off evaluation of a node on known data: constant folding at load and
 * plan time, and steps whose shapes depend on run-time values. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <string.h>

static void free_state(const kn_op *op, void *state)
{
    if (!state)
        return;
    if (op->free_state)
        op->free_state(state);
    else
        kn_free(state);
}

kiln_status kn_eval_node(const kn_graph *g, const kn_node *node, const kiln_tensor *const *in, kiln_tensor **out,
                         pthreadpool_t pool, kn_isa_level isa)
{
    const kn_op *op = node->op;
    if (!op || !op->infer || !op->run)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s': op %s is not supported", node->name, node->op_type);
    kiln_tensor *outs[64] = {0};
    if (node->n_out > 64)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): %d outputs exceed kiln's limit of 64", node->name,
                        node->op_type, node->n_out);
    kiln_status s = KILN_OK;
    for (int i = 0; i < node->n_out && s == KILN_OK; i++) {
        if (node->out[i] < 0)
            continue;
        outs[i] = kn_calloc(1, sizeof(kiln_tensor));
        if (!outs[i])
            s = KN_NOMEM();
    }
    kn_op_ctx c = {.graph = g, .node = node, .params = node->params, .n_in = node->n_in, .in = in,
                   .n_out = node->n_out, .out = outs, .pool = pool, .isa = isa};
    if (s == KILN_OK)
        s = kn_op_infer(op, &c);
    if (s == KN_NEED_VALUE)
        s = kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): shape still unknown with all input values known",
                     node->name, node->op_type);
    if (s == KILN_OK && op->prepare)
        s = op->prepare(&c);
    /* Shapes come from the model: check them against the limits before the
     * (possibly huge) allocation, not after. */
    const struct kiln_options *limits = kn_limits_active();
    size_t cap = kn_fold_cap_get();
    for (int i = 0; i < node->n_out && s == KILN_OK; i++) {
        if (!outs[i])
            continue;
        s = kn_limit_tensor(limits, node, g->values[node->out[i]].name, outs[i]);
        if (s == KILN_OK && cap && outs[i]->nbytes > cap)
            s = kn_error(KILN_ERROR_LIMIT, "node '%s' (%s): output of %zu bytes is above the folding cap of %zu",
                         node->name, node->op_type, outs[i]->nbytes, cap);
    }
    if (s == KILN_OK && c.scratch_size) {
        char what[160];
        snprintf(what, sizeof what, "node '%s' (%s): scratch buffer", node->name, node->op_type);
        s = kn_limit_arena(limits, c.scratch_size, what);
    }
    for (int i = 0; i < node->n_out && s == KILN_OK; i++)
        if (outs[i])
            s = kn_tensor_alloc_data(outs[i]);
    if (s == KILN_OK && c.scratch_size) {
        c.scratch = kn_aligned_alloc(c.scratch_size);
        if (!c.scratch)
            s = KN_NOMEM();
    }
    if (s == KILN_OK)
        s = op->run(&c);
    s = kn_op_own_strings(op, node, node->n_out, outs, s);
    kn_aligned_free(c.scratch);
    free_state(op, c.state);
    for (int i = 0; i < node->n_out; i++) {
        if (s == KILN_OK)
            out[i] = outs[i];
        else
            kn_tensor_free(outs[i]);
    }
    return s;
}
