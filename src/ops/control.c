/* Control flow: If, Loop and Scan, whose bodies are subgraphs.
 *
 * Output shapes depend on the data (which branch, how many iterations), so
 * infer() returns KN_NEED_VALUE until every input is known; then it runs
 * the body with the subgraph interpreter, sets the output shapes from the
 * results and keeps the results in c->state, and run() hands them over.
 * (kn_eval_node calls infer, prepare, run and free_state on one context.)
 *
 * Values the bodies read from enclosing graphs arrive as the node's hidden
 * inputs after its declared ones (graph/scope.h), in the order of
 * kn_node_outer_names(). Sequence and optional values (core.h) pass
 * through as loop-carried values, branch results and scan states; they
 * cannot be scanned or stacked. */
#include "graph/scope.h"
#include "ops/families.h"
#include "runtime/subgraph.h"

#include <string.h>

#define CTL_MAX_SCAN 64

typedef struct ctl_params {
    const kn_graph *body[2]; /* If: then, else; Loop/Scan: body */
    int n_declared;          /* inputs declared in the model */
    int n_outer;             /* hidden outer-scope inputs that follow */
    const char **outer_names;
    /* Scan */
    int n_scan_in, n_scan_out;
    int64_t in_axis[CTL_MAX_SCAN], in_dir[CTL_MAX_SCAN];
    int64_t out_axis[CTL_MAX_SCAN], out_dir[CTL_MAX_SCAN];
} ctl_params;

/* Results computed by infer, handed over by run. */
typedef struct ctl_state {
    int n;
    kiln_tensor **t;
} ctl_state;

static void free_results(kiln_tensor **t, int n)
{
    if (!t)
        return;
    for (int i = 0; i < n; i++)
        kn_tensor_free(t[i]);
    kn_free(t);
}

static void ctl_free_state(void *state)
{
    ctl_state *s = state;
    if (!s)
        return;
    free_results(s->t, s->n);
    kn_free(s);
}

static void ctl_free_params(void *params)
{
    ctl_params *p = params;
    if (!p)
        return;
    kn_free(p->outer_names);
    kn_free(p);
}

/* ---- parse -------------------------------------------------------------- */

static kiln_status get_graph(const kn_node *n, const char *name, const kn_graph **out)
{
    const kn_attr *a = kn_node_attr(n, name);
    if (!a)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): missing attribute %s", n->name, n->op_type, name);
    if (a->type != KN_ATTR_GRAPH || !a->g)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): attribute %s is not a graph", n->name, n->op_type, name);
    for (int i = 0; i < a->g->n_nodes; i++)
        if (!a->g->nodes[i].dead && !a->g->nodes[i].op)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): %s node '%s' (%s) is not supported", n->name,
                            n->op_type, name, a->g->nodes[i].name, a->g->nodes[i].op_type);
    *out = a->g;
    return KILN_OK;
}

static kiln_status parse_common(kn_node *n, ctl_params **out)
{
    ctl_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_node_outer_names(n, &p->outer_names, &p->n_outer);
    p->n_declared = kn_node_declared_inputs(n);
    if (s == KILN_OK && p->n_declared + p->n_outer != n->n_in)
        s = kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): %d outer-scope values of the subgraphs are not bound as inputs",
                     n->name, n->op_type, p->n_outer);
    if (s != KILN_OK) {
        ctl_free_params(p);
        return s;
    }
    *out = p;
    return KILN_OK;
}

static kiln_status if_parse(kn_node *n)
{
    ctl_params *p;
    KN_TRY(parse_common(n, &p));
    kiln_status s = get_graph(n, "then_branch", &p->body[0]);
    if (s == KILN_OK)
        s = get_graph(n, "else_branch", &p->body[1]);
    for (int b = 0; b < 2 && s == KILN_OK; b++)
        if (p->body[b]->n_outputs != n->n_out || p->body[b]->n_inputs != 0)
            s = kn_error(KILN_ERROR_MODEL, "node '%s' (If): %s has %d inputs and %d outputs, expected 0 and %d",
                         n->name, b ? "else_branch" : "then_branch", p->body[b]->n_inputs, p->body[b]->n_outputs,
                         n->n_out);
    if (s == KILN_OK && p->n_declared != 1)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (If): %d inputs, expected 1 (cond)", n->name, p->n_declared);
    if (s != KILN_OK) {
        ctl_free_params(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status loop_parse(kn_node *n)
{
    ctl_params *p;
    KN_TRY(parse_common(n, &p));
    kiln_status s = get_graph(n, "body", &p->body[0]);
    const kn_graph *b = p->body[0];
    int n_carried = p->n_declared - 2;
    if (s == KILN_OK && n_carried < 0)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (Loop): %d inputs, expected at least 2 (M, cond)", n->name,
                     p->n_declared);
    if (s == KILN_OK && (b->n_inputs != n_carried + 2 || b->n_outputs < n_carried + 1 || n->n_out != b->n_outputs - 1))
        s = kn_error(KILN_ERROR_MODEL,
                     "node '%s' (Loop): body has %d inputs and %d outputs; with %d loop-carried values the node "
                     "needs %d body inputs and %d outputs = body outputs - 1",
                     n->name, b->n_inputs, b->n_outputs, n_carried, n_carried + 2, n->n_out);
    if (s != KILN_OK) {
        ctl_free_params(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status get_scan_ints(const kn_node *n, const char *name, int64_t def, int want, int64_t *dst)
{
    const int64_t *v;
    size_t count;
    KN_TRY(kn_attr_get_ints(n, name, &v, &count));
    if (v && count != (size_t)want)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (Scan): %s has %zu entries, expected %d", n->name, name, count,
                        want);
    for (int i = 0; i < want; i++) {
        dst[i] = v ? v[i] : def;
        if (strstr(name, "direction") && dst[i] != 0 && dst[i] != 1)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (Scan): %s[%d] is %lld, expected 0 or 1", n->name, name, i,
                            (long long)dst[i]);
    }
    return KILN_OK;
}

static kiln_status scan_parse_attrs(kn_node *n, ctl_params *p)
{
    KN_TRY(get_graph(n, "body", &p->body[0]));
    int64_t m;
    KN_TRY(kn_attr_require_int(n, "num_scan_inputs", &m));
    const kn_graph *b = p->body[0];
    bool v8 = n->opset < 9;
    int n_state_scan = p->n_declared - (v8 ? 1 : 0);
    if (m < 1 || m > n_state_scan || m > CTL_MAX_SCAN)
        return kn_error(m > CTL_MAX_SCAN ? KILN_ERROR_UNSUPPORTED : KILN_ERROR_MODEL,
                        "node '%s' (Scan): num_scan_inputs %lld does not fit %d inputs", n->name, (long long)m,
                        n_state_scan);
    p->n_scan_in = (int)m;
    int n_state = n_state_scan - p->n_scan_in;
    if (b->n_inputs != n_state_scan || b->n_outputs != n->n_out || n->n_out < n_state)
        return kn_error(KILN_ERROR_MODEL,
                        "node '%s' (Scan): body has %d inputs and %d outputs, the node %d state + scan inputs and "
                        "%d outputs",
                        n->name, b->n_inputs, b->n_outputs, n_state_scan, n->n_out);
    p->n_scan_out = n->n_out - n_state;
    if (p->n_scan_out > CTL_MAX_SCAN)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (Scan): %d scan outputs exceed kiln's limit of %d",
                        n->name, p->n_scan_out, CTL_MAX_SCAN);
    if (v8) {
        KN_TRY(get_scan_ints(n, "directions", 0, p->n_scan_in, p->in_dir));
        return KILN_OK;
    }
    KN_TRY(get_scan_ints(n, "scan_input_axes", 0, p->n_scan_in, p->in_axis));
    KN_TRY(get_scan_ints(n, "scan_input_directions", 0, p->n_scan_in, p->in_dir));
    KN_TRY(get_scan_ints(n, "scan_output_axes", 0, p->n_scan_out, p->out_axis));
    KN_TRY(get_scan_ints(n, "scan_output_directions", 0, p->n_scan_out, p->out_dir));
    return KILN_OK;
}

static kiln_status scan_parse(kn_node *n)
{
    ctl_params *p;
    KN_TRY(parse_common(n, &p));
    kiln_status s = scan_parse_attrs(n, p);
    if (s != KILN_OK) {
        ctl_free_params(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* Body nodes get the per-model preparation main-graph nodes get. */
static kiln_status finalize_graph(const kn_graph *g, kn_isa_level isa)
{
    for (int i = 0; i < g->n_nodes; i++) {
        kn_node *n = &g->nodes[i];
        if (!n->dead && n->op && n->op->finalize)
            KN_TRY(n->op->finalize(g, n, isa));
    }
    return KILN_OK;
}

static kiln_status ctl_finalize(const kn_graph *g, kn_node *node, kn_isa_level isa)
{
    KN_UNUSED(g);
    const ctl_params *p = node->params;
    for (int b = 0; b < 2; b++)
        if (p->body[b])
            KN_TRY(finalize_graph(p->body[b], isa));
    return KILN_OK;
}

/* ---- shared run-time helpers -------------------------------------------- */

/* In infer, data is NULL for values not known yet (empty tensors need none). */
static kiln_status require_all_inputs(const kn_op_ctx *c)
{
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i] && !c->in[i]->data && c->in[i]->nbytes)
            return KN_NEED_VALUE;
    return KILN_OK;
}

static kiln_status new_exec(const kn_op_ctx *c, const kn_graph *body, kn_subgraph_exec **out)
{
    const ctl_params *p = c->params;
    kn_scope scope = {p->n_outer, p->outer_names, c->in + p->n_declared};
    return kn_subgraph_exec_new(body, &scope, c->pool, c->isa, out);
}

static bool truth(const kiln_tensor *t)
{
    if (t->dtype == KILN_DTYPE_BOOL || t->dtype == KILN_DTYPE_UINT8 || t->dtype == KILN_DTYPE_INT8)
        return ((const uint8_t *)t->data)[0] != 0;
    return kn_tensor_get_f64(t, 0) != 0.0;
}

static kiln_status check_flag(const kn_op_ctx *c, const kiln_tensor *t, const char *what)
{
    if (kn_tensor_count(t) != 1)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): %s has %lld elements, expected 1", c->node->name,
                        c->node->op_type, what, (long long)kn_tensor_count(t));
    if (t->dtype == KILN_DTYPE_STRING || !kn_dtype_known(t->dtype))
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): %s has dtype %s, expected bool", c->node->name,
                        c->node->op_type, what, kiln_dtype_name(t->dtype));
    return KILN_OK;
}

/* Set the outputs' shapes from results and keep the results for run();
 * takes ownership of results. */
static kiln_status publish(kn_op_ctx *c, kiln_tensor **results)
{
    kiln_status s = KILN_OK;
    for (int i = 0; i < c->n_out && s == KILN_OK; i++)
        if (c->out[i])
            s = kn_set_output(c, i, results[i]->dtype, results[i]->rank, results[i]->dims);
    ctl_state *st = s == KILN_OK ? kn_malloc(sizeof *st) : NULL;
    if (s == KILN_OK && !st)
        s = KN_NOMEM();
    if (s != KILN_OK) {
        free_results(results, c->n_out);
        return s;
    }
    st->n = c->n_out;
    st->t = results;
    c->state = st;
    return KILN_OK;
}

static kiln_status copy_elems(kiln_tensor *dst, int64_t dst_off, const kiln_tensor *src, int64_t src_off,
                              int64_t count)
{
    if (count <= 0)
        return KILN_OK;
    if (src->dtype == KILN_DTYPE_STRING) {
        char **d = (char **)dst->data + dst_off;
        char *const *s = (char *const *)src->data + src_off;
        for (int64_t i = 0; i < count; i++) {
            kn_free(d[i]);
            d[i] = kn_strdup(s[i] ? s[i] : "");
            if (!d[i])
                return KN_NOMEM();
        }
        return KILN_OK;
    }
    size_t es = kiln_dtype_size(src->dtype);
    memcpy((char *)dst->data + (size_t)dst_off * es, (const char *)src->data + (size_t)src_off * es,
           (size_t)count * es);
    return KILN_OK;
}

static kiln_status ctl_prepare(kn_op_ctx *c)
{
    /* Nothing to choose; present so the planner keeps the state when infer
     * could compute the results at plan time. */
    KN_UNUSED(c);
    return KILN_OK;
}

static kiln_status ctl_run(kn_op_ctx *c)
{
    ctl_state *st = c->state;
    if (!st)
        return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): run without results from infer", c->node->name,
                        c->node->op_type);
    for (int i = 0; i < c->n_out; i++) {
        kiln_tensor *o = c->out[i], *r = st->t[i];
        if (!o)
            continue;
        if (o->dtype != r->dtype || !kn_same_shape(o, r))
            return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): output %d changed shape", c->node->name,
                            c->node->op_type, i);
        /* An output allocated for this evaluation only can take the buffer
         * over; planned (arena) outputs get a copy. Sequences and optionals
         * are never planned (plan.c), so they are always taken over. */
        if (kn_dtype_is_container(o->dtype) && !(o->owns_data && r->owns_data))
            return kn_error(KILN_ERROR_INTERNAL, "node '%s' (%s): output %d is a %s in a planned buffer",
                            c->node->name, c->node->op_type, i, kiln_dtype_name(o->dtype));
        if (o->owns_data && r->owns_data && o->dtype != KILN_DTYPE_STRING) {
            void *d = o->data;
            o->data = r->data;
            r->data = d;
            continue;
        }
        KN_TRY(copy_elems(o, 0, r, 0, kn_tensor_count(r)));
    }
    return KILN_OK;
}

/* ---- If ------------------------------------------------------------------ */

static kiln_status if_infer(kn_op_ctx *c)
{
    const ctl_params *p = c->params;
    KN_TRY(require_all_inputs(c));
    if (!c->in[0])
        return kn_error(KILN_ERROR_MODEL, "node '%s' (If): missing cond", c->node->name);
    KN_TRY(check_flag(c, c->in[0], "cond"));
    const kn_graph *branch = p->body[truth(c->in[0]) ? 0 : 1];
    kn_subgraph_exec *e;
    KN_TRY(new_exec(c, branch, &e));
    kiln_tensor **res = kn_calloc((size_t)(c->n_out ? c->n_out : 1), sizeof *res);
    kiln_status s = res ? kn_subgraph_exec_run(e, NULL, 0, res) : KN_NOMEM();
    kn_subgraph_exec_free(e);
    if (s != KILN_OK) {
        kn_free(res);
        return kn_error_prefix(s, "node '%s' (If)", c->node->name);
    }
    return publish(c, res);
}

/* ---- stacking per-iteration tensors --------------------------------------- */

/* parts[0..count) (same dtype and shape) stacked along a new axis. */
static kiln_status stack(const kn_op_ctx *c, kiln_tensor *const *parts, int64_t count, int axis, kiln_tensor **out)
{
    const kiln_tensor *p0 = parts[0];
    if (kn_dtype_is_container(p0->dtype))
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): a scan output is a %s; only tensors can be stacked",
                        c->node->name, c->node->op_type, kiln_dtype_name(p0->dtype));
    for (int64_t t = 1; t < count; t++)
        if (parts[t]->dtype != p0->dtype || !kn_same_shape(parts[t], p0)) {
            char a[64], b[64];
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): iteration %lld produced %s %s, earlier ones %s %s",
                            c->node->name, c->node->op_type, (long long)t, kiln_dtype_name(parts[t]->dtype),
                            kn_shape_str(parts[t], a, sizeof a), kiln_dtype_name(p0->dtype),
                            kn_shape_str(p0, b, sizeof b));
        }
    if (p0->rank + 1 > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): stacked output would exceed rank %d", c->node->name,
                        c->node->op_type, KN_MAX_RANK);
    int64_t dims[KN_MAX_RANK] = {0};
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < p0->rank; d++) {
        dims[d < axis ? d : d + 1] = p0->dims[d];
        if (d < axis)
            outer *= p0->dims[d];
        else
            inner *= p0->dims[d];
    }
    dims[axis] = count;
    KN_TRY(kn_tensor_new(p0->dtype, p0->rank + 1, dims, out));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t t = 0; t < count; t++) {
            kiln_status s = copy_elems(*out, (o * count + t) * inner, parts[t], o * inner, inner);
            if (s != KILN_OK) {
                kn_tensor_free(*out);
                return s;
            }
        }
    return KILN_OK;
}

/* Element i of x along axis (that axis removed). */
static kiln_status slice(const kiln_tensor *x, int axis, int64_t i, kiln_tensor **out)
{
    int64_t dims[KN_MAX_RANK] = {0};
    int64_t outer = 1, inner = 1;
    for (int d = 0, k = 0; d < x->rank; d++) {
        if (d == axis)
            continue;
        dims[k++] = x->dims[d];
        if (d < axis)
            outer *= x->dims[d];
        else
            inner *= x->dims[d];
    }
    KN_TRY(kn_tensor_new(x->dtype, x->rank - 1, dims, out));
    int64_t n = x->dims[axis];
    for (int64_t o = 0; o < outer; o++) {
        kiln_status s = copy_elems(*out, o * inner, x, (o * n + i) * inner, inner);
        if (s != KILN_OK) {
            kn_tensor_free(*out);
            return s;
        }
    }
    return KILN_OK;
}

/* A stacked output of zero iterations: the shape the body declares for the
 * per-iteration value, with 0 inserted at axis. */
static kiln_status empty_stack(const kn_op_ctx *c, const kn_graph *body, int body_out, int axis, kiln_tensor **out)
{
    const kn_value *v = &body->values[body->outputs[body_out]];
    if (v->rank < 0 || !kn_dtype_known(v->dtype) || v->rank + 1 > KN_MAX_RANK || axis > v->rank)
        return kn_error(KILN_ERROR_UNSUPPORTED,
                        "node '%s' (%s): no iterations ran and the body does not declare the type of '%s'",
                        c->node->name, c->node->op_type, v->name);
    int64_t dims[KN_MAX_RANK] = {0};
    for (int d = 0; d < v->rank; d++)
        dims[d < axis ? d : d + 1] = v->dims[d].value > 0 && !v->dims[d].symbol ? v->dims[d].value : 0;
    dims[axis] = 0;
    return kn_tensor_new(v->dtype, v->rank + 1, dims, out);
}

/* Per-iteration tensors of one scan output. */
typedef struct parts {
    kiln_tensor **t;
    int64_t n, cap;
} parts;

static kiln_status parts_push(parts *p, kiln_tensor *t)
{
    if (p->n == p->cap) {
        int64_t cap = p->cap ? 2 * p->cap : 16;
        kiln_tensor **nt = kn_realloc(p->t, (size_t)cap * sizeof *nt);
        if (!nt) {
            kn_tensor_free(t);
            return KN_NOMEM();
        }
        p->t = nt;
        p->cap = cap;
    }
    p->t[p->n++] = t;
    return KILN_OK;
}

static void parts_free(parts *p, int count)
{
    for (int k = 0; k < count; k++) {
        for (int64_t i = 0; i < p[k].n; i++)
            kn_tensor_free(p[k].t[i]);
        kn_free(p[k].t);
    }
    kn_free(p);
}

/* ---- Loop ------------------------------------------------------------------ */

typedef struct loop_run {
    int n_carried, n_scan;
    const kiln_tensor **cur; /* current loop-carried values */
    kiln_tensor **owned;     /* those computed by the body */
    parts *scans;
    kiln_tensor **body_out;
} loop_run;

static void loop_run_free(loop_run *r)
{
    if (r->owned)
        for (int i = 0; i < r->n_carried; i++)
            kn_tensor_free(r->owned[i]);
    kn_free(r->owned);
    kn_free(r->cur);
    kn_free(r->body_out);
    if (r->scans)
        parts_free(r->scans, r->n_scan);
}

static kiln_status loop_iterate(kn_op_ctx *c, kn_subgraph_exec *e, loop_run *r, int64_t trip_max, bool cond_used,
                                bool cond)
{
    int n_body_in = 2 + r->n_carried;
    const kiln_tensor **body_in = kn_calloc((size_t)n_body_in, sizeof *body_in);
    kiln_tensor *iter = NULL, *cond_in = NULL;
    kiln_status s = body_in ? KILN_OK : KN_NOMEM();
    if (s == KILN_OK)
        s = kn_tensor_new(KILN_DTYPE_INT64, 0, NULL, &iter);
    if (s == KILN_OK)
        s = kn_tensor_new(KILN_DTYPE_BOOL, 0, NULL, &cond_in);
    for (int64_t it = 0; s == KILN_OK && it < trip_max && (!cond_used || cond); it++) {
        *(int64_t *)iter->data = it;
        *(uint8_t *)cond_in->data = cond;
        body_in[0] = iter;
        body_in[1] = cond_in;
        for (int i = 0; i < r->n_carried; i++)
            body_in[2 + i] = r->cur[i];
        s = kn_subgraph_exec_run(e, body_in, n_body_in, r->body_out);
        if (s != KILN_OK)
            break;
        s = check_flag(c, r->body_out[0], "body output cond");
        if (s == KILN_OK)
            cond = truth(r->body_out[0]);
        kn_tensor_free(r->body_out[0]);
        for (int i = 0; i < r->n_carried; i++) {
            kn_tensor_free(r->owned[i]);
            r->owned[i] = r->body_out[1 + i];
            r->cur[i] = r->owned[i];
        }
        for (int k = 0; k < r->n_scan; k++)
            if (s == KILN_OK)
                s = parts_push(&r->scans[k], r->body_out[1 + r->n_carried + k]);
            else
                kn_tensor_free(r->body_out[1 + r->n_carried + k]);
    }
    kn_tensor_free(iter);
    kn_tensor_free(cond_in);
    kn_free(body_in);
    return s;
}

static kiln_status loop_results(kn_op_ctx *c, loop_run *r, kiln_tensor **res)
{
    const ctl_params *p = c->params;
    kiln_status s = KILN_OK;
    for (int i = 0; i < r->n_carried && s == KILN_OK; i++) {
        if (r->owned[i]) {
            res[i] = r->owned[i];
            r->owned[i] = NULL;
        } else {
            s = kn_tensor_clone(c->in[2 + i], &res[i]);
        }
    }
    for (int k = 0; k < r->n_scan && s == KILN_OK; k++) {
        kiln_tensor **dst = &res[r->n_carried + k];
        if (r->scans[k].n)
            s = stack(c, r->scans[k].t, r->scans[k].n, 0, dst);
        else
            s = empty_stack(c, p->body[0], 1 + r->n_carried + k, 0, dst);
    }
    return s;
}

static kiln_status loop_infer(kn_op_ctx *c)
{
    const ctl_params *p = c->params;
    KN_TRY(require_all_inputs(c));
    const kiln_tensor *m = c->in[0], *cond = c->in[1];
    if (!m && !cond)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (Loop): neither M nor cond is given (an infinite loop)",
                        c->node->name);
    int64_t trip_max = INT64_MAX;
    if (m) {
        if (kn_tensor_count(m) != 1 || (m->dtype != KILN_DTYPE_INT64 && m->dtype != KILN_DTYPE_INT32))
            return kn_error(KILN_ERROR_MODEL, "node '%s' (Loop): M must be one int64, got %s with %lld elements",
                            c->node->name, kiln_dtype_name(m->dtype), (long long)kn_tensor_count(m));
        trip_max = kn_tensor_get_i64(m, 0);
    }
    if (cond)
        KN_TRY(check_flag(c, cond, "cond"));
    loop_run r = {.n_carried = p->n_declared - 2};
    r.n_scan = c->n_out - r.n_carried;
    for (int i = 0; i < r.n_carried; i++)
        if (!c->in[2 + i])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (Loop): loop-carried input %d is missing", c->node->name, i);
    r.cur = kn_calloc((size_t)r.n_carried + 1, sizeof *r.cur);
    r.owned = kn_calloc((size_t)r.n_carried + 1, sizeof *r.owned);
    r.scans = kn_calloc((size_t)r.n_scan + 1, sizeof *r.scans);
    r.body_out = kn_calloc((size_t)p->body[0]->n_outputs + 1, sizeof *r.body_out);
    kiln_tensor **res = kn_calloc((size_t)c->n_out + 1, sizeof *res);
    kn_subgraph_exec *e = NULL;
    kiln_status s = r.cur && r.owned && r.scans && r.body_out && res ? KILN_OK : KN_NOMEM();
    for (int i = 0; s == KILN_OK && i < r.n_carried; i++)
        r.cur[i] = c->in[2 + i];
    if (s == KILN_OK)
        s = new_exec(c, p->body[0], &e);
    if (s == KILN_OK)
        s = loop_iterate(c, e, &r, trip_max, cond != NULL, cond ? truth(cond) : true);
    if (s == KILN_OK)
        s = loop_results(c, &r, res);
    kn_subgraph_exec_free(e);
    loop_run_free(&r);
    if (s != KILN_OK) {
        free_results(res, c->n_out);
        return kn_error_prefix(s, "node '%s' (Loop)", c->node->name);
    }
    return publish(c, res);
}

/* ---- Scan ------------------------------------------------------------------ */

/* One scan over states and scan inputs (no batch axis): res receives the
 * final states then the stacked scan outputs. */
typedef struct scan_job {
    int n_state, n_in, n_out;
    const kiln_tensor *const *state;
    const kiln_tensor *const *in;
    int in_axis[CTL_MAX_SCAN], out_axis[CTL_MAX_SCAN];
    const int64_t *in_dir, *out_dir;
} scan_job;

static kiln_status scan_length(const kn_op_ctx *c, const scan_job *j, int64_t *len)
{
    for (int k = 0; k < j->n_in; k++) {
        int64_t n = j->in[k]->dims[j->in_axis[k]];
        if (k && n != *len)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (Scan): scan input %d has %lld steps, scan input 0 has %lld",
                            c->node->name, k, (long long)n, (long long)*len);
        *len = n;
    }
    return KILN_OK;
}

static kiln_status scan_step(kn_subgraph_exec *e, const scan_job *j, int64_t t, int64_t len,
                             const kiln_tensor **body_in, kiln_tensor **body_out)
{
    kiln_tensor *slices[CTL_MAX_SCAN] = {0};
    kiln_status s = KILN_OK;
    for (int k = 0; k < j->n_in && s == KILN_OK; k++) {
        s = slice(j->in[k], j->in_axis[k], j->in_dir[k] ? len - 1 - t : t, &slices[k]);
        body_in[j->n_state + k] = slices[k];
    }
    if (s == KILN_OK)
        s = kn_subgraph_exec_run(e, body_in, j->n_state + j->n_in, body_out);
    for (int k = 0; k < j->n_in; k++)
        kn_tensor_free(slices[k]);
    return s;
}

static kiln_status scan_once(const kn_op_ctx *c, kn_subgraph_exec *e, const scan_job *j, kiln_tensor **res)
{
    int64_t len = 0;
    KN_TRY(scan_length(c, j, &len));
    int n_body_out = j->n_state + j->n_out;
    const kiln_tensor **body_in = kn_calloc((size_t)(j->n_state + j->n_in), sizeof *body_in);
    kiln_tensor **body_out = kn_calloc((size_t)n_body_out, sizeof *body_out);
    kiln_tensor **owned = kn_calloc((size_t)j->n_state + 1, sizeof *owned);
    parts *scans = kn_calloc((size_t)j->n_out + 1, sizeof *scans);
    kiln_status s = body_in && body_out && owned && scans ? KILN_OK : KN_NOMEM();
    for (int i = 0; s == KILN_OK && i < j->n_state; i++)
        body_in[i] = j->state[i];
    for (int64_t t = 0; s == KILN_OK && t < len; t++) {
        s = scan_step(e, j, t, len, body_in, body_out);
        if (s != KILN_OK)
            break;
        for (int i = 0; i < j->n_state; i++) {
            kn_tensor_free(owned[i]);
            owned[i] = body_out[i];
            body_in[i] = owned[i];
        }
        for (int k = 0; k < j->n_out; k++)
            if (s == KILN_OK)
                s = parts_push(&scans[k], body_out[j->n_state + k]);
            else
                kn_tensor_free(body_out[j->n_state + k]);
    }
    for (int i = 0; i < j->n_state && s == KILN_OK; i++) {
        if (owned[i]) {
            res[i] = owned[i];
            owned[i] = NULL;
        } else {
            s = kn_tensor_clone(j->state[i], &res[i]);
        }
    }
    for (int k = 0; k < j->n_out && s == KILN_OK; k++) {
        kiln_tensor **dst = &res[j->n_state + k];
        const ctl_params *p = c->params;
        const kn_value *declared = &p->body[0]->values[p->body[0]->outputs[j->n_state + k]];
        if (!scans[k].n && declared->rank < 0) { /* refused there: shape unknown */
            s = empty_stack(c, p->body[0], j->n_state + k, 0, dst);
            continue;
        }
        int rank = (scans[k].n ? scans[k].t[0]->rank : declared->rank) + 1;
        int64_t ax = j->out_axis[k];
        if (ax < -rank || ax >= rank) {
            s = kn_error(KILN_ERROR_MODEL, "node '%s' (Scan): scan_output_axes[%d] = %lld is out of range for rank %d",
                         c->node->name, k, (long long)ax, rank);
            break;
        }
        if (ax < 0)
            ax += rank;
        if (!scans[k].n) {
            s = empty_stack(c, p->body[0], j->n_state + k, (int)ax, dst);
            continue;
        }
        if (j->out_dir[k]) /* reverse: the last iteration comes first */
            for (int64_t a = 0, b = scans[k].n - 1; a < b; a++, b--) {
                kiln_tensor *tmp = scans[k].t[a];
                scans[k].t[a] = scans[k].t[b];
                scans[k].t[b] = tmp;
            }
        s = stack(c, scans[k].t, scans[k].n, (int)ax, dst);
    }
    if (s != KILN_OK)
        for (int i = 0; i < n_body_out; i++) {
            kn_tensor_free(res[i]);
            res[i] = NULL;
        }
    if (owned)
        for (int i = 0; i < j->n_state; i++)
            kn_tensor_free(owned[i]);
    kn_free(owned);
    kn_free(body_in);
    kn_free(body_out);
    if (scans)
        parts_free(scans, j->n_out);
    return s;
}

static kiln_status scan_job_init(const kn_op_ctx *c, const kiln_tensor *const *state, const kiln_tensor *const *in,
                                 bool normalize, scan_job *j)
{
    const ctl_params *p = c->params;
    j->n_state = c->n_out - p->n_scan_out;
    j->n_in = p->n_scan_in;
    j->n_out = p->n_scan_out;
    j->state = state;
    j->in = in;
    j->in_dir = p->in_dir;
    j->out_dir = p->out_dir;
    for (int k = 0; k < j->n_in; k++) {
        if (!in[k])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (Scan): scan input %d is missing", c->node->name, k);
        if (in[k]->rank < 1)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (Scan): scan input %d is a scalar", c->node->name, k);
        j->in_axis[k] = 0;
        if (normalize)
            KN_TRY(kn_norm_axis(c, p->in_axis[k], in[k]->rank, &j->in_axis[k]));
    }
    for (int k = 0; k < j->n_out; k++)
        j->out_axis[k] = normalize ? (int)p->out_axis[k] : 0;
    for (int i = 0; i < j->n_state; i++)
        if (!state[i])
            return kn_error(KILN_ERROR_MODEL, "node '%s' (Scan): state input %d is missing", c->node->name, i);
    return KILN_OK;
}

/* Scan-8: every input has a leading batch axis; scan one batch entry at a
 * time and stack the results. */
static kiln_status scan8_batched(const kn_op_ctx *c, kn_subgraph_exec *e, kiln_tensor **res)
{
    const ctl_params *p = c->params;
    int n_state = c->n_out - p->n_scan_out, n_all = n_state + p->n_scan_in;
    const kiln_tensor *const *all = c->in + 1;
    int64_t batch = -1;
    for (int i = 0; i < n_all; i++) {
        if (!all[i] || all[i]->rank < 1 + (i >= n_state))
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (Scan): input %d lacks the batch axis", c->node->name, i + 1);
        if (batch >= 0 && all[i]->dims[0] != batch)
            return kn_error(KILN_ERROR_SHAPE, "node '%s' (Scan): input %d has batch %lld, expected %lld",
                            c->node->name, i + 1, (long long)all[i]->dims[0], (long long)batch);
        batch = all[i]->dims[0];
    }
    if (batch <= 0)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (Scan): empty batch", c->node->name);
    const kiln_tensor *lens = c->in[0];
    for (int64_t b = 0; lens && b < kn_tensor_count(lens); b++)
        if (kn_tensor_get_i64(lens, b) != all[n_state]->dims[1])
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (Scan): sequence_lens shorter than the scan axis",
                            c->node->name);
    kiln_tensor **slices = kn_calloc((size_t)n_all, sizeof *slices);
    parts *per = kn_calloc((size_t)c->n_out, sizeof *per);
    kiln_tensor **one = kn_calloc((size_t)c->n_out, sizeof *one);
    kiln_status s = slices && per && one ? KILN_OK : KN_NOMEM();
    for (int64_t b = 0; b < batch && s == KILN_OK; b++) {
        for (int i = 0; i < n_all && s == KILN_OK; i++) {
            kn_tensor_free(slices[i]);
            slices[i] = NULL;
            s = slice(all[i], 0, b, &slices[i]);
        }
        scan_job j;
        if (s == KILN_OK)
            s = scan_job_init(c, (const kiln_tensor *const *)slices, (const kiln_tensor *const *)slices + n_state,
                              false, &j);
        if (s == KILN_OK)
            s = scan_once(c, e, &j, one);
        for (int i = 0; i < c->n_out; i++) {
            if (s == KILN_OK)
                s = parts_push(&per[i], one[i]);
            else
                kn_tensor_free(one[i]);
            one[i] = NULL;
        }
    }
    for (int i = 0; i < c->n_out && s == KILN_OK; i++)
        s = stack(c, per[i].t, per[i].n, 0, &res[i]);
    for (int i = 0; slices && i < n_all; i++)
        kn_tensor_free(slices[i]);
    kn_free(slices);
    kn_free(one);
    if (per)
        parts_free(per, c->n_out);
    return s;
}

static kiln_status scan_infer(kn_op_ctx *c)
{
    const ctl_params *p = c->params;
    KN_TRY(require_all_inputs(c));
    kiln_tensor **res = kn_calloc((size_t)c->n_out + 1, sizeof *res);
    if (!res)
        return KN_NOMEM();
    kn_subgraph_exec *e = NULL;
    kiln_status s = new_exec(c, p->body[0], &e);
    if (s == KILN_OK && c->node->opset < 9) {
        s = scan8_batched(c, e, res);
    } else if (s == KILN_OK) {
        int n_state = c->n_out - p->n_scan_out;
        scan_job j;
        s = scan_job_init(c, c->in, c->in + n_state, true, &j);
        if (s == KILN_OK)
            s = scan_once(c, e, &j, res);
    }
    kn_subgraph_exec_free(e);
    if (s != KILN_OK) {
        free_results(res, c->n_out);
        return kn_error_prefix(s, "node '%s' (Scan)", c->node->name);
    }
    return publish(c, res);
}

const kn_op kn_ops_control[] = {
    {.domain = "", .name = "If", .since_min = 1, .since_max = 0, .parse = if_parse, .free_params = ctl_free_params,
     .infer = if_infer, .prepare = ctl_prepare, .free_state = ctl_free_state, .run = ctl_run,
     .finalize = ctl_finalize, .flags = KN_OP_CONTAINERS},
    {.domain = "", .name = "Loop", .since_min = 1, .since_max = 0, .parse = loop_parse,
     .free_params = ctl_free_params, .infer = loop_infer, .prepare = ctl_prepare, .free_state = ctl_free_state,
     .run = ctl_run, .finalize = ctl_finalize, .flags = KN_OP_CONTAINERS},
    {.domain = "", .name = "Scan", .since_min = 8, .since_max = 0, .parse = scan_parse,
     .free_params = ctl_free_params, .infer = scan_infer, .prepare = ctl_prepare, .free_state = ctl_free_state,
     .run = ctl_run, .finalize = ctl_finalize, .flags = KN_OP_CONTAINERS},
};
KN_FAMILY_COUNT(control);
