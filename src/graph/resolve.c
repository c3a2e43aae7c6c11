/* Binding nodes to op descriptors: look each op up at the model's opset,
 * rewrite old forms through the op's upgrade hook, parse attributes. Ops
 * kiln lacks are collected (all of them, not just the first). */
#include "graph/graph.h"
#include "graph/scope.h"
#include "ops/op.h"
#include "runtime/runtime.h"

#include <stdio.h>
#include <string.h>

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static void sb_add(strbuf *b, const char *text)
{
    size_t n = strlen(text);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *s = kn_realloc(b->s, cap);
        if (!s)
            return; /* best effort: the message is shortened, the status stays */
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

/* Subgraph nodes (If/Loop/Scan bodies) are resolved before their owner is
 * parsed, so the owner's parse sees a runnable body; an op the body lacks
 * makes the owner unsupported. Upgrades may append nodes: sort again. */
static kiln_status resolve_subgraph(kn_graph *sub, const kn_node *owner, char *why, size_t why_size)
{
    char *unsupported = NULL;
    kiln_status s = kn_graph_resolve_ops(sub, false, &unsupported);
    kn_free(unsupported);
    if (s == KILN_ERROR_UNSUPPORTED) {
        const char *msg = kn_error_message();
        if (strncmp(msg, "unsupported: ", 13) == 0)
            msg += 13;
        snprintf(why, why_size, "%s (in a subgraph of %s '%s')", msg, owner->op_type, owner->name);
        return s;
    }
    KN_TRY(s);
    return kn_graph_compact(sub);
}

static kiln_status resolve_subgraphs(const kn_node *n, char *why, size_t why_size)
{
    for (int a = 0; a < n->n_attrs; a++) {
        const kn_attr *at = &n->attrs[a];
        if (at->type == KN_ATTR_GRAPH && at->g)
            KN_TRY(resolve_subgraph(at->g, n, why, why_size));
        for (size_t k = 0; at->type == KN_ATTR_GRAPHS && k < at->count; k++)
            KN_TRY(resolve_subgraph(at->graphs[k], n, why, why_size));
    }
    return KILN_OK;
}

static kiln_status resolve_node(kn_graph *g, int i, char *why, size_t why_size)
{
    kn_node *n = &g->nodes[i];
    const kn_op *op = kn_op_find(n->domain, n->op_type, n->opset);
    if (!op) {
        if (kn_op_known(n->domain, n->op_type))
            snprintf(why, why_size, "%s%s%s (opset %d not supported)", n->domain, n->domain[0] ? "." : "",
                     n->op_type, n->opset);
        else
            snprintf(why, why_size, "%s%s%s", n->domain, n->domain[0] ? "." : "", n->op_type);
        return KILN_ERROR_UNSUPPORTED;
    }
    for (int round = 0; op->upgrade && round < 4; round++) {
        kiln_status s = op->upgrade(g, i);
        if (s != KILN_OK)
            return s;
        n = &g->nodes[i];
        const kn_op *next = kn_op_find(n->domain, n->op_type, n->opset);
        if (!next) {
            snprintf(why, why_size, "%s (after upgrade to opset %d)", n->op_type, n->opset);
            return KILN_ERROR_UNSUPPORTED;
        }
        if (next == op)
            break;
        op = next;
    }
    if (!op->infer || !op->run) {
        snprintf(why, why_size, "%s (opset %d not supported)", n->op_type, n->opset);
        return KILN_ERROR_UNSUPPORTED;
    }
    KN_TRY(resolve_subgraphs(n, why, why_size));
    n->op = op;
    if (op->parse) {
        kiln_status s = op->parse(n);
        if (s == KILN_ERROR_UNSUPPORTED) {
            n->op = NULL;
            snprintf(why, why_size, "%s", kn_error_message());
        }
        return s;
    }
    return KILN_OK;
}

kiln_status kn_graph_resolve_ops(kn_graph *g, bool allow_unsupported, char **unsupported)
{
    /* Subgraph reads of outer values become inputs first: they order nodes. */
    bool bound = false;
    KN_TRY(kn_graph_bind_scopes(g, &bound));
    if (bound)
        KN_TRY(kn_graph_compact(g));
    strbuf list = {0};
    int n_unsupported = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        /* Already-resolved nodes keep their parsed params: passes call this
         * again for the nodes they rewrote. */
        if (g->nodes[i].dead || g->nodes[i].op)
            continue;
        char why[512];
        kiln_status s = resolve_node(g, i, why, sizeof why);
        if (s == KILN_ERROR_UNSUPPORTED) {
            g->nodes[i].op = NULL;
            /* one entry per distinct reason */
            if (!list.s || !strstr(list.s, why)) {
                if (n_unsupported++)
                    sb_add(&list, "; ");
                sb_add(&list, why);
            }
            continue;
        }
        if (s != KILN_OK) {
            kn_free(list.s);
            return s;
        }
    }
    if (n_unsupported && !allow_unsupported) {
        kiln_status s = kn_error(KILN_ERROR_UNSUPPORTED, "unsupported: %s", list.s ? list.s : "?");
        kn_free(list.s);
        return s;
    }
    *unsupported = list.s;
    return KILN_OK;
}
