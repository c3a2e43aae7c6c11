/* Elimination pass: nodes that do nothing at inference (Identity, Dropout
 * without training) and nodes whose results nobody reads. */
#include "graph/passes.h"
#include "ops/op.h"

#include <string.h>

/* Dropout is a no-op unless training_mode (opset 12+ input 2) is a constant
 * true; with a non-constant training_mode we keep it (the op decides). */
static bool dropout_is_identity(const kn_graph *g, const kn_node *n)
{
    if (n->n_out > 1 && n->out[1] >= 0 && g->values[n->out[1]].n_consumers > 0)
        return false; /* mask is used */
    if (n->n_in > 2 && n->in[2] >= 0) {
        const kiln_tensor *t = g->values[n->in[2]].constant;
        if (!t || t->dtype != KILN_DTYPE_BOOL || kn_tensor_count(t) != 1)
            return false;
        if (((const uint8_t *)t->data)[0])
            return false;
    }
    return true;
}

static bool is_graph_output(const kn_graph *g, int v)
{
    return g->values[v].is_graph_output;
}

kiln_status kn_pass_eliminate(kn_graph *g, bool *changed)
{
    *changed = false;
    kn_graph_build_uses(g);
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *n = &g->nodes[i];
        if (n->dead || n->domain[0] != 0 || n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0)
            continue;
        bool identity = strcmp(n->op_type, "Identity") == 0 && n->n_out == 1;
        bool dropout = strcmp(n->op_type, "Dropout") == 0 && dropout_is_identity(g, n);
        if (!identity && !dropout)
            continue;
        int in = n->in[0], out = n->out[0];
        /* Keeping graph output names stable matters more than one copy. */
        if (is_graph_output(g, out))
            continue;
        kn_graph_replace_uses(g, out, in);
        kn_graph_log(g, "eliminate: %s '%s' removed", n->op_type, n->name);
        n->dead = true;
        *changed = true;
    }
    /* Dead code, to a fixed point (a sweep backwards catches chains at once). */
    kn_graph_build_uses(g);
    bool again = true;
    while (again) {
        again = false;
        for (int i = g->n_nodes - 1; i >= 0; i--) {
            kn_node *n = &g->nodes[i];
            if (n->dead)
                continue;
            bool used = false;
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k] >= 0 && (g->values[n->out[k]].n_consumers > 0 || is_graph_output(g, n->out[k])))
                    used = true;
            if (used)
                continue;
            n->dead = true;
            kn_graph_log(g, "eliminate: %s '%s' removed (its outputs are unused)", n->op_type, n->name);
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0)
                    g->values[n->in[k]].n_consumers--;
            *changed = again = true;
        }
    }
    return kn_graph_compact(g);
}
