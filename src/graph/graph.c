/* Graph IR storage: values, nodes, name lookup, attributes. */
#include "graph/graph.h"
#include "ops/op.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

kiln_status kn_graph_new(kn_graph **out)
{
    kn_graph *g = kn_calloc(1, sizeof *g);
    if (!g)
        return KN_NOMEM();
    *out = g;
    return KILN_OK;
}

void kn_attr_clear(kn_attr *a)
{
    kn_free(a->name);
    kn_free(a->s);
    kn_tensor_free(a->t);
    kn_graph_free(a->g);
    kn_free(a->floats);
    kn_free(a->ints);
    if (a->strings)
        for (size_t i = 0; i < a->count; i++)
            kn_free(a->strings[i]);
    kn_free(a->strings);
    if (a->tensors)
        for (size_t i = 0; i < a->count; i++)
            kn_tensor_free(a->tensors[i]);
    kn_free(a->tensors);
    if (a->graphs)
        for (size_t i = 0; i < a->count; i++)
            kn_graph_free(a->graphs[i]);
    kn_free(a->graphs);
    memset(a, 0, sizeof *a);
}

void kn_node_unresolve(kn_node *n)
{
    if (n->params) {
        if (n->op && n->op->free_params)
            n->op->free_params(n->params);
        else
            kn_free(n->params);
        n->params = NULL;
    }
    n->op = NULL;
}

kiln_status kn_node_retype(kn_node *n, const char *domain, const char *op_type, int opset)
{
    char *t = kn_strdup(op_type), *d = kn_strdup(domain);
    if (!t || !d) {
        kn_free(t);
        kn_free(d);
        return KN_NOMEM();
    }
    kn_free(n->op_type);
    kn_free(n->domain);
    n->op_type = t;
    n->domain = d;
    n->opset = opset;
    kn_node_unresolve(n);
    return KILN_OK;
}

void kn_node_clear(kn_node *n)
{
    kn_node_unresolve(n);
    for (int i = 0; i < n->n_attrs; i++)
        kn_attr_clear(&n->attrs[i]);
    kn_free(n->attrs);
    kn_free(n->name);
    kn_free(n->op_type);
    kn_free(n->domain);
    kn_free(n->in);
    kn_free(n->out);
    memset(n, 0, sizeof *n);
}

void kn_graph_free(kn_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_values; i++) {
        kn_value *v = &g->values[i];
        kn_free(v->name);
        for (int d = 0; d < KN_MAX_RANK; d++)
            kn_free(v->dims[d].symbol);
        kn_tensor_free(v->constant);
    }
    kn_free(g->values);
    for (int i = 0; i < g->n_nodes; i++)
        kn_node_clear(&g->nodes[i]);
    kn_free(g->nodes);
    kn_free(g->inputs);
    kn_free(g->outputs);
    for (int i = 0; i < g->n_opsets; i++)
        kn_free(g->opsets[i].domain);
    kn_free(g->opsets);
    kn_free(g->hash);
    kn_free(g->name);
    for (int i = 0; i < g->n_log; i++)
        kn_free(g->log[i]);
    kn_free(g->log);
    kn_free(g);
}

void kn_graph_log(kn_graph *g, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **log = kn_realloc(g->log, (size_t)(g->n_log + 1) * sizeof *log);
    if (!log)
        return;
    g->log = log;
    if ((g->log[g->n_log] = kn_strdup(line)) != NULL)
        g->n_log++;
}

int kn_graph_find(const kn_graph *g, const char *name)
{
    if (!g->hash_cap || !name)
        return -1;
    size_t mask = (size_t)g->hash_cap - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        int v = g->hash[i];
        if (v < 0)
            return -1;
        if (strcmp(g->values[v].name, name) == 0)
            return v;
    }
}

static kiln_status hash_insert(kn_graph *g, int index)
{
    if ((g->n_values + 1) * 2 > g->hash_cap) {
        int cap = g->hash_cap ? g->hash_cap * 2 : 64;
        while (cap < (g->n_values + 1) * 2)
            cap *= 2;
        int *h = kn_malloc((size_t)cap * sizeof *h);
        if (!h)
            return KN_NOMEM();
        for (int i = 0; i < cap; i++)
            h[i] = -1;
        kn_free(g->hash);
        g->hash = h;
        g->hash_cap = cap;
        for (int v = 0; v < g->n_values; v++) {
            if (v == index)
                continue;
            size_t mask = (size_t)cap - 1;
            size_t i = hash_name(g->values[v].name) & mask;
            while (h[i] >= 0)
                i = (i + 1) & mask;
            h[i] = v;
        }
    }
    size_t mask = (size_t)g->hash_cap - 1;
    size_t i = hash_name(g->values[index].name) & mask;
    while (g->hash[i] >= 0)
        i = (i + 1) & mask;
    g->hash[i] = index;
    return KILN_OK;
}

static kiln_status append_value(kn_graph *g, const char *name, int *index)
{
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 64;
        kn_value *nv = kn_realloc(g->values, (size_t)cap * sizeof *nv);
        if (!nv)
            return KN_NOMEM();
        g->values = nv;
        g->cap_values = cap;
    }
    kn_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = kn_strdup(name);
    if (!v->name)
        return KN_NOMEM();
    v->rank = -1;
    v->producer = -1;
    int idx = g->n_values;
    /* hash_insert rehashes values [0, n_values) except idx, then inserts idx */
    g->n_values++;
    kiln_status s = hash_insert(g, idx);
    if (s != KILN_OK) {
        g->n_values--;
        kn_free(v->name);
        return s;
    }
    *index = idx;
    return KILN_OK;
}

kiln_status kn_graph_value(kn_graph *g, const char *name, int *index)
{
    int v = kn_graph_find(g, name);
    if (v >= 0) {
        *index = v;
        return KILN_OK;
    }
    return append_value(g, name, index);
}

kiln_status kn_graph_new_value(kn_graph *g, const char *hint, int *index)
{
    char name[256];
    do {
        snprintf(name, sizeof name, "%.200s__kiln%d", hint ? hint : "v", g->name_counter++);
    } while (kn_graph_find(g, name) >= 0);
    return append_value(g, name, index);
}

kiln_status kn_graph_add_constant(kn_graph *g, const char *hint, kiln_tensor *t, int *index)
{
    int v;
    kiln_status s = kn_graph_new_value(g, hint, &v);
    if (s != KILN_OK) {
        kn_tensor_free(t);
        return s;
    }
    kn_value *val = &g->values[v];
    val->constant = t;
    val->dtype = t->dtype;
    val->rank = t->rank;
    for (int i = 0; i < t->rank; i++)
        val->dims[i].value = t->dims[i];
    *index = v;
    return KILN_OK;
}

kiln_status kn_node_set_inputs(kn_node *n, int n_in, const int *in)
{
    int *a = kn_malloc((size_t)(n_in ? n_in : 1) * sizeof *a);
    if (!a)
        return KN_NOMEM();
    if (n_in)
        memcpy(a, in, (size_t)n_in * sizeof *a);
    kn_free(n->in);
    n->in = a;
    n->n_in = n_in;
    return KILN_OK;
}

kiln_status kn_graph_add_node(kn_graph *g, const char *name, const char *op_type, const char *domain,
                              int n_in, const int *in, int n_out, const int *out, int *index)
{
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        kn_node *nn = kn_realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn)
            return KN_NOMEM();
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    kn_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    char gen[64];
    if (!name || !*name) {
        snprintf(gen, sizeof gen, "%.40s_%d", op_type, g->n_nodes);
        name = gen;
    }
    n->name = kn_strdup(name);
    n->op_type = kn_strdup(op_type);
    n->domain = kn_strdup(domain && strcmp(domain, "ai.onnx") != 0 ? domain : "");
    n->in = kn_malloc((size_t)(n_in ? n_in : 1) * sizeof(int));
    n->out = kn_malloc((size_t)(n_out ? n_out : 1) * sizeof(int));
    if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) {
        kn_node_clear(n);
        return KN_NOMEM();
    }
    if (n_in)
        memcpy(n->in, in, (size_t)n_in * sizeof(int));
    if (n_out)
        memcpy(n->out, out, (size_t)n_out * sizeof(int));
    n->n_in = n_in;
    n->n_out = n_out;
    n->opset = (int)kn_graph_opset(g, n->domain);
    *index = g->n_nodes++;
    return KILN_OK;
}

const kn_attr *kn_node_attr(const kn_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

void kn_node_remove_attr(kn_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++) {
        if (strcmp(n->attrs[i].name, name) == 0) {
            kn_attr_clear(&n->attrs[i]);
            memmove(&n->attrs[i], &n->attrs[i + 1], (size_t)(n->n_attrs - i - 1) * sizeof(kn_attr));
            n->n_attrs--;
            return;
        }
    }
}

static kiln_status new_attr(kn_node *n, const char *name, kn_attr_type type, kn_attr **out)
{
    kn_node_remove_attr(n, name);
    kn_attr *a = kn_realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a);
    if (!a)
        return KN_NOMEM();
    n->attrs = a;
    kn_attr *at = &a[n->n_attrs];
    memset(at, 0, sizeof *at);
    at->name = kn_strdup(name);
    if (!at->name)
        return KN_NOMEM();
    at->type = type;
    n->n_attrs++;
    *out = at;
    return KILN_OK;
}

kiln_status kn_node_add_attr_int(kn_node *n, const char *name, int64_t v)
{
    kn_attr *a;
    KN_TRY(new_attr(n, name, KN_ATTR_INT, &a));
    a->i = v;
    return KILN_OK;
}

kiln_status kn_node_add_attr_float(kn_node *n, const char *name, float v)
{
    kn_attr *a;
    KN_TRY(new_attr(n, name, KN_ATTR_FLOAT, &a));
    a->f = v;
    return KILN_OK;
}

kiln_status kn_node_add_attr_ints(kn_node *n, const char *name, const int64_t *v, size_t count)
{
    kn_attr *a;
    KN_TRY(new_attr(n, name, KN_ATTR_INTS, &a));
    a->ints = kn_malloc((count ? count : 1) * sizeof(int64_t));
    if (!a->ints)
        return KN_NOMEM();
    if (count)
        memcpy(a->ints, v, count * sizeof(int64_t));
    a->count = count;
    return KILN_OK;
}

kiln_status kn_node_add_attr_string(kn_node *n, const char *name, const char *s)
{
    kn_attr *a;
    KN_TRY(new_attr(n, name, KN_ATTR_STRING, &a));
    a->s = kn_strdup(s);
    if (!a->s)
        return KN_NOMEM();
    a->s_len = strlen(s);
    return KILN_OK;
}

int64_t kn_graph_opset(const kn_graph *g, const char *domain)
{
    for (; g; g = g->parent) {
        for (int i = 0; i < g->n_opsets; i++)
            if (strcmp(g->opsets[i].domain, domain) == 0)
                return g->opsets[i].version;
        if (g->n_opsets)
            break;
    }
    return 0;
}

void kn_graph_build_uses(kn_graph *g)
{
    for (int i = 0; i < g->n_values; i++) {
        g->values[i].n_consumers = 0;
        if (!g->values[i].constant && !g->values[i].is_graph_input)
            g->values[i].producer = -1;
    }
    for (int n = 0; n < g->n_nodes; n++) {
        kn_node *node = &g->nodes[n];
        if (node->dead)
            continue;
        for (int i = 0; i < node->n_in; i++)
            if (node->in[i] >= 0)
                g->values[node->in[i]].n_consumers++;
        for (int i = 0; i < node->n_out; i++)
            if (node->out[i] >= 0)
                g->values[node->out[i]].producer = n;
    }
    for (int i = 0; i < g->n_outputs; i++)
        g->values[g->outputs[i]].n_consumers++;
}

void kn_graph_replace_uses(kn_graph *g, int from, int to)
{
    for (int n = 0; n < g->n_nodes; n++) {
        kn_node *node = &g->nodes[n];
        if (node->dead)
            continue;
        for (int i = 0; i < node->n_in; i++)
            if (node->in[i] == from)
                node->in[i] = to;
    }
}

void kn_node_kill(kn_graph *g, int node)
{
    g->nodes[node].dead = true;
}

kiln_status kn_graph_ensure_opset(kn_graph *g, const char *domain, int64_t version)
{
    if (kn_graph_opset(g, domain) > 0)
        return KILN_OK;
    kn_opset *o = kn_realloc(g->opsets, (size_t)(g->n_opsets + 1) * sizeof *o);
    if (!o)
        return KN_NOMEM();
    g->opsets = o;
    o[g->n_opsets].domain = kn_strdup(domain);
    if (!o[g->n_opsets].domain)
        return KN_NOMEM();
    o[g->n_opsets].version = version;
    g->n_opsets++;
    return KILN_OK;
}
