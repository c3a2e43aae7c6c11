/* Binding subgraphs to their enclosing scope; see scope.h. */
#include "graph/scope.h"
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>

typedef struct name_set {
    const char **names;
    int n, cap;
} name_set;

static kiln_status set_add(name_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return KILN_OK;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        const char **p = kn_realloc(s->names, (size_t)cap * sizeof *p);
        if (!p)
            return KN_NOMEM();
        s->names = p;
        s->cap = cap;
    }
    s->names[s->n++] = name;
    return KILN_OK;
}

/* A value the subgraph reads but neither computes nor declares: it comes
 * from an enclosing graph. */
static bool defined_inside(const kn_graph *g, int v, const bool *produced)
{
    const kn_value *val = &g->values[v];
    return produced[v] || val->constant || val->is_graph_input;
}

static kiln_status add_free_names(const kn_graph *g, name_set *s)
{
    bool *produced = kn_calloc((size_t)(g->n_values ? g->n_values : 1), sizeof(bool));
    if (!produced)
        return KN_NOMEM();
    for (int n = 0; n < g->n_nodes; n++) {
        const kn_node *node = &g->nodes[n];
        if (node->dead)
            continue;
        for (int i = 0; i < node->n_out; i++)
            if (node->out[i] >= 0)
                produced[node->out[i]] = true;
    }
    kiln_status st = KILN_OK;
    for (int n = 0; n < g->n_nodes && st == KILN_OK; n++) {
        const kn_node *node = &g->nodes[n];
        if (node->dead)
            continue;
        for (int i = 0; i < node->n_in && st == KILN_OK; i++)
            if (node->in[i] >= 0 && !defined_inside(g, node->in[i], produced))
                st = set_add(s, g->values[node->in[i]].name);
    }
    for (int i = 0; i < g->n_outputs && st == KILN_OK; i++)
        if (!defined_inside(g, g->outputs[i], produced))
            st = set_add(s, g->values[g->outputs[i]].name);
    kn_free(produced);
    return st;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The node's subgraphs, over its GRAPH and GRAPHS attributes in order. */
static int subgraph_count(const kn_node *n)
{
    int count = 0;
    for (int a = 0; a < n->n_attrs; a++) {
        const kn_attr *at = &n->attrs[a];
        if (at->type == KN_ATTR_GRAPH && at->g)
            count++;
        else if (at->type == KN_ATTR_GRAPHS)
            count += (int)at->count;
    }
    return count;
}

static kn_graph *subgraph_at(const kn_node *n, int k)
{
    for (int a = 0; a < n->n_attrs; a++) {
        const kn_attr *at = &n->attrs[a];
        if (at->type == KN_ATTR_GRAPH && at->g) {
            if (k-- == 0)
                return at->g;
        } else if (at->type == KN_ATTR_GRAPHS) {
            if ((size_t)k < at->count)
                return at->graphs[k];
            k -= (int)at->count;
        }
    }
    return NULL;
}

kiln_status kn_node_outer_names(const kn_node *n, const char ***names, int *count)
{
    name_set s = {0};
    kiln_status st = KILN_OK;
    for (int k = 0; k < subgraph_count(n) && st == KILN_OK; k++)
        st = add_free_names(subgraph_at(n, k), &s);
    if (st != KILN_OK) {
        kn_free(s.names);
        return st;
    }
    /* Sorted, so the order does not depend on how passes reorder nodes. */
    if (s.n > 1)
        qsort(s.names, (size_t)s.n, sizeof *s.names, cmp_names);
    *names = s.names;
    *count = s.n;
    return KILN_OK;
}

static kiln_status bind_node(kn_graph *g, int index)
{
    kn_node *n = &g->nodes[index];
    for (int k = 0; k < subgraph_count(n); k++) {
        bool inner = false;
        KN_TRY(kn_graph_bind_scopes(subgraph_at(n, k), &inner));
        KN_TRY(kn_graph_compact(subgraph_at(n, k)));
    }
    const char **names = NULL;
    int count = 0;
    KN_TRY(kn_node_outer_names(n, &names, &count));
    int *in = kn_malloc((size_t)(n->n_in + count + 1) * sizeof(int));
    kiln_status st = in ? KILN_OK : KN_NOMEM();
    if (st == KILN_OK)
        memcpy(in, n->in, (size_t)n->n_in * sizeof(int));
    /* In a subgraph this creates a value that is itself an outer-scope
     * reference, which the enclosing node then binds in turn. */
    for (int i = 0; i < count && st == KILN_OK; i++)
        st = kn_graph_value(g, names[i], &in[n->n_in + i]);
    n = &g->nodes[index];
    if (st == KILN_OK)
        st = kn_node_set_inputs(n, n->n_in + count, in);
    if (st == KILN_OK)
        st = kn_node_add_attr_int(n, KN_ATTR_HIDDEN_INPUTS, count);
    kn_free(in);
    kn_free(names);
    return st;
}

kiln_status kn_graph_bind_scopes(kn_graph *g, bool *bound)
{
    *bound = false;
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        if (n->dead || subgraph_count(n) == 0 || kn_node_attr(n, KN_ATTR_HIDDEN_INPUTS))
            continue;
        KN_TRY(bind_node(g, i));
        *bound = true;
    }
    return KILN_OK;
}

/* Identity(from) -> the value named name, which hidden input k of node
 * reads from now on. */
static kiln_status restore_name(kn_graph *g, int node, int k, const char *name)
{
    int declared = kn_node_declared_inputs(&g->nodes[node]);
    int from = g->nodes[node].in[declared + k], to;
    KN_TRY(kn_graph_value(g, name, &to));
    const kn_value *v = &g->values[to];
    if (v->constant || v->is_graph_input || v->producer >= 0)
        return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): subgraphs read '%s', now computed as '%s'",
                        g->nodes[node].name, g->nodes[node].op_type, name, g->values[from].name);
    int idx;
    KN_TRY(kn_graph_add_node(g, NULL, "Identity", "", 1, &from, 1, &to, &idx));
    g->values[to].producer = idx;
    g->nodes[node].in[declared + k] = to;
    kn_graph_log(g, "scope: Identity '%s' keeps the name '%s' that subgraphs of '%s' read", g->nodes[idx].name,
                 name, g->nodes[node].name);
    return KILN_OK;
}

kiln_status kn_graph_restore_scope_names(kn_graph *g)
{
    bool added = false;
    kn_graph_build_uses(g);
    int n_nodes = g->n_nodes;
    for (int i = 0; i < n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        if (n->dead || !kn_node_attr(n, KN_ATTR_HIDDEN_INPUTS))
            continue;
        const char **names;
        int count;
        KN_TRY(kn_node_outer_names(n, &names, &count));
        int declared = kn_node_declared_inputs(n);
        kiln_status st = count == n->n_in - declared
                             ? KILN_OK
                             : kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): %d hidden inputs for %d outer names",
                                        n->name, n->op_type, n->n_in - declared, count);
        for (int k = 0; k < count && st == KILN_OK; k++) {
            int v = g->nodes[i].in[declared + k];
            if (strcmp(g->values[v].name, names[k]) != 0) {
                st = restore_name(g, i, k, names[k]);
                added = true;
            }
        }
        kn_free(names);
        KN_TRY(st);
    }
    if (!added)
        return KILN_OK;
    char *unsupported = NULL;
    KN_TRY(kn_graph_resolve_ops(g, true, &unsupported));
    kn_free(unsupported);
    return kn_graph_compact(g);
}

int kn_node_declared_inputs(const kn_node *n)
{
    const kn_attr *a = kn_node_attr(n, KN_ATTR_HIDDEN_INPUTS);
    if (!a || a->type != KN_ATTR_INT || a->i < 0 || a->i > n->n_in)
        return n->n_in;
    return n->n_in - (int)a->i;
}

bool kn_attr_is_internal(const kn_attr *a)
{
    return strcmp(a->name, KN_ATTR_HIDDEN_INPUTS) == 0;
}
