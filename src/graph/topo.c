/* Topological ordering (Kahn's algorithm, iterative so 10k-node chains do not
 * recurse) with cycle and dangling-input detection. */
#include "graph/graph.h"

#include <string.h>

/* Subgraphs (If/Loop bodies) may read names of any enclosing graph. */
static bool in_outer_scope(const kn_graph *g, const char *name)
{
    for (const kn_graph *p = g->parent; p; p = p->parent)
        if (kn_graph_find(p, name) >= 0)
            return true;
    return false;
}

kiln_status kn_graph_topo_order(const kn_graph *g, int *order, int *count)
{
    int nv = g->n_values, nn = g->n_nodes;
    int *producer = kn_malloc((size_t)(nv ? nv : 1) * sizeof(int));
    int *pending = kn_calloc((size_t)(nn ? nn : 1), sizeof(int));
    int *first_use = kn_malloc((size_t)(nv ? nv : 1) * sizeof(int));
    int n_edges = 0;
    for (int n = 0; n < nn; n++)
        if (!g->nodes[n].dead)
            n_edges += g->nodes[n].n_in;
    int *next_use = kn_malloc((size_t)(n_edges ? n_edges : 1) * sizeof(int));
    int *use_node = kn_malloc((size_t)(n_edges ? n_edges : 1) * sizeof(int));
    kiln_status st = KILN_OK;
    if (!producer || !pending || !first_use || !next_use || !use_node) {
        st = KN_NOMEM();
        goto done;
    }
    for (int v = 0; v < nv; v++) {
        producer[v] = -1;
        first_use[v] = -1;
    }
    for (int n = 0; n < nn; n++) {
        const kn_node *node = &g->nodes[n];
        if (node->dead)
            continue;
        for (int i = 0; i < node->n_out; i++) {
            int v = node->out[i];
            if (v < 0)
                continue;
            if (producer[v] >= 0) {
                st = kn_error(KILN_ERROR_MODEL, "value '%s' is produced by two nodes: '%s' and '%s'",
                              g->values[v].name, g->nodes[producer[v]].name, node->name);
                goto done;
            }
            if (g->values[v].constant || g->values[v].is_graph_input) {
                st = kn_error(KILN_ERROR_MODEL, "node '%s' writes '%s', which is a graph input or initializer",
                              node->name, g->values[v].name);
                goto done;
            }
            producer[v] = n;
        }
    }
    int e = 0;
    for (int n = 0; n < nn; n++) {
        const kn_node *node = &g->nodes[n];
        if (node->dead)
            continue;
        for (int i = 0; i < node->n_in; i++) {
            int v = node->in[i];
            if (v < 0)
                continue;
            if (producer[v] < 0) {
                const kn_value *val = &g->values[v];
                if (!val->constant && !val->is_graph_input && !in_outer_scope(g, val->name)) {
                    st = kn_error(KILN_ERROR_MODEL, "node '%s' (%s) reads '%s', which no node, input or initializer provides",
                                  node->name, node->op_type, val->name);
                    goto done;
                }
                continue;
            }
            pending[n]++;
            use_node[e] = n;
            next_use[e] = first_use[v];
            first_use[v] = e;
            e++;
        }
    }
    /* order doubles as the work queue */
    int head = 0, tail = 0;
    for (int n = 0; n < nn; n++)
        if (!g->nodes[n].dead && pending[n] == 0)
            order[tail++] = n;
    while (head < tail) {
        const kn_node *node = &g->nodes[order[head++]];
        for (int i = 0; i < node->n_out; i++) {
            int v = node->out[i];
            if (v < 0)
                continue;
            for (int u = first_use[v]; u >= 0; u = next_use[u])
                if (--pending[use_node[u]] == 0)
                    order[tail++] = use_node[u];
        }
    }
    int live = 0;
    for (int n = 0; n < nn; n++)
        if (!g->nodes[n].dead)
            live++;
    if (tail != live) {
        for (int n = 0; n < nn; n++) {
            if (!g->nodes[n].dead && pending[n] > 0) {
                st = kn_error(KILN_ERROR_MODEL, "graph has a cycle through node '%s' (%s)", g->nodes[n].name,
                              g->nodes[n].op_type);
                break;
            }
        }
        goto done;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        const kn_value *val = &g->values[v];
        if (producer[v] < 0 && !val->constant && !val->is_graph_input &&
            !in_outer_scope(g, val->name)) {
            st = kn_error(KILN_ERROR_MODEL, "graph output '%s' is not produced by any node", val->name);
            goto done;
        }
    }
    *count = tail;
done:
    kn_free(producer);
    kn_free(pending);
    kn_free(first_use);
    kn_free(next_use);
    kn_free(use_node);
    return st;
}

kiln_status kn_graph_compact(kn_graph *g)
{
    int *order = kn_malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof(int));
    if (!order)
        return KN_NOMEM();
    int count = 0;
    kiln_status s = kn_graph_topo_order(g, order, &count);
    if (s != KILN_OK) {
        kn_free(order);
        return s;
    }
    kn_node *nodes = kn_malloc((size_t)(g->cap_nodes ? g->cap_nodes : 1) * sizeof(kn_node));
    if (!nodes) {
        kn_free(order);
        return KN_NOMEM();
    }
    char *keep = kn_calloc((size_t)(g->n_nodes ? g->n_nodes : 1), 1);
    if (!keep) {
        kn_free(order);
        kn_free(nodes);
        return KN_NOMEM();
    }
    for (int i = 0; i < count; i++) {
        nodes[i] = g->nodes[order[i]];
        keep[order[i]] = 1;
    }
    /* free dead nodes' contents */
    for (int n = 0; n < g->n_nodes; n++) {
        if (!keep[n]) {
            kn_node_clear(&g->nodes[n]);
        }
    }
    kn_free(keep);
    kn_free(g->nodes);
    g->nodes = nodes;
    g->n_nodes = count;
    kn_free(order);
    kn_graph_build_uses(g);
    return KILN_OK;
}
