/* The planner: for concrete input shapes, walk the graph once, fold what is
 * already known (constants, shape computations), infer every other shape,
 * let kernels prepare, and give every intermediate buffer an offset in one
 * arena by liveness, so a run allocates nothing. Steps whose shapes depend on
 * run-time values stay dynamic and are evaluated with per-run buffers. */
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KN_ALIGN 64

/* Saturates instead of wrapping, so an absurd size fails the arena
 * allocation (or the arena limit) rather than planning a tiny buffer. */
static size_t align_up(size_t n)
{
    if (n > SIZE_MAX - KN_ALIGN)
        return SIZE_MAX - KN_ALIGN + 1;
    return (n + KN_ALIGN - 1) & ~(size_t)(KN_ALIGN - 1);
}

static void slot_set_desc(kn_slot *s, const kiln_tensor *t)
{
    s->t.dtype = t->dtype;
    s->t.rank = t->rank;
    memcpy(s->t.dims, t->dims, sizeof s->t.dims);
    s->t.nbytes = t->nbytes;
    s->t.data = t->data;
    s->t.owns_data = false;
    s->t.name = NULL;
}

static void free_state(const kn_op *op, void *state)
{
    if (!state)
        return;
    if (op && op->free_state)
        op->free_state(state);
    else
        kn_free(state);
}

void kn_plan_release_dynamic(kn_plan *p)
{
    if (!p->slots) /* a plan whose slot allocation failed */
        return;
    for (int i = 0; i < p->n_slots; i++) {
        kn_slot *s = &p->slots[i];
        if (s->kind == KN_SLOT_DYNAMIC) {
            kn_tensor_free(s->folded);
            s->folded = NULL;
            s->t.data = NULL;
        }
    }
}

void kn_plan_free(kn_plan *p, const kn_graph *g)
{
    (void)g;
    if (!p)
        return;
    kn_plan_release_dynamic(p);
    if (p->slots)
        for (int i = 0; i < p->n_slots; i++)
            if (p->slots[i].kind == KN_SLOT_FOLDED)
                kn_tensor_free(p->slots[i].folded);
    if (p->steps)
        for (int i = 0; i < p->n_steps; i++)
            free_state(p->steps[i].op, p->steps[i].state);
    kn_free(p->slots);
    kn_free(p->steps);
    kn_free(p->input_shapes);
    kn_aligned_free(p->arena);
    kn_free(p);
}

bool kn_plan_matches(const kn_plan *p, const kiln_tensor *const *inputs)
{
    for (size_t i = 0; i < p->n_inputs; i++) {
        const kiln_tensor *a = &p->input_shapes[i], *b = inputs[i];
        if (a->dtype != b->dtype || !kn_same_shape(a, b))
            return false;
    }
    return true;
}

/* A bound input must fit what the model declares. */
static kiln_status check_input(const kn_value *v, const kiln_tensor *t)
{
    if (v->dtype != KILN_DTYPE_UNDEFINED && t->dtype != v->dtype)
        return kn_error(KILN_ERROR_DTYPE, "input '%s': got %s, model expects %s", v->name, kiln_dtype_name(t->dtype),
                        kiln_dtype_name(v->dtype));
    if (v->rank >= 0 && t->rank != v->rank)
        return kn_error(KILN_ERROR_SHAPE, "input '%s': got rank %d, model expects rank %d", v->name, t->rank,
                        v->rank);
    if (v->rank >= 0)
        for (int d = 0; d < v->rank; d++)
            if (v->dims[d].value >= 0 && !v->dims[d].symbol && t->dims[d] != v->dims[d].value)
                return kn_error(KILN_ERROR_SHAPE, "input '%s': dim %d is %lld, model expects %lld", v->name, d,
                                (long long)t->dims[d], (long long)v->dims[d].value);
    if (t->nbytes && !t->data)
        return kn_error(KILN_ERROR_ARGUMENT, "input '%s': tensor has no data", v->name);
    return KILN_OK;
}

typedef struct interval {
    int slot; /* -1 - step index for scratch */
    int def, last;
    size_t size, offset;
} interval;

static int by_size_desc(const void *a, const void *b)
{
    const interval *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->def - y->def;
}

/* Greedy by size (as TFLite's arena planner): biggest buffers first, each at
 * the lowest offset that does not overlap a placed buffer alive at the same
 * time. */
static kiln_status assign_offsets(interval *iv, int n, size_t *total)
{
    qsort(iv, (size_t)n, sizeof *iv, by_size_desc);
    size_t end = 0;
    int *placed = kn_malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!placed)
        return KN_NOMEM();
    int n_placed = 0;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (int k = 0; k < n_placed; k++) {
                const interval *o = &iv[placed[k]];
                if (o->last < iv[i].def || o->def > iv[i].last)
                    continue;
                if (off < o->offset + o->size && o->offset < off + iv[i].size) {
                    off = o->offset + o->size;
                    moved = true;
                }
            }
        }
        iv[i].offset = off;
        size_t top;
        if (!kn_add_size(off, iv[i].size, &top)) {
            kn_free(placed);
            return kn_error(KILN_ERROR_NOMEM, "activation arena size overflows");
        }
        if (top > end)
            end = top;
        placed[n_placed++] = i;
    }
    kn_free(placed);
    *total = end;
    return KILN_OK;
}

static kiln_status plan_steps(kn_plan *p, const struct kiln_model *m, pthreadpool_t pool)
{
    const kn_graph *g = m->graph;
    const kiln_tensor *ins[256];
    kiln_tensor *outs[64];
    kiln_tensor out_desc[64];
    for (int n = 0; n < g->n_nodes; n++) {
        const kn_node *node = &g->nodes[n];
        if (node->dead)
            continue;
        if (!node->op || !node->op->infer)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s': op %s (opset %d) is not supported", node->name,
                            node->op_type, node->opset);
        if (node->n_in > 256 || node->n_out > 64)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): too many inputs or outputs", node->name,
                            node->op_type);
        bool all_known = true, any_dynamic = false;
        for (int i = 0; i < node->n_in; i++) {
            int v = node->in[i];
            if (v < 0) {
                ins[i] = NULL;
                continue;
            }
            kn_slot *s = &p->slots[v];
            if (s->kind == KN_SLOT_UNUSED)
                return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): input '%s' is not available", node->name,
                                node->op_type, g->values[v].name);
            if (s->kind != KN_SLOT_CONST && s->kind != KN_SLOT_FOLDED)
                all_known = false;
            if (s->kind == KN_SLOT_DYNAMIC)
                any_dynamic = true;
            ins[i] = &s->t;
        }
        const kn_op *op = node->op;
        bool shape_only = (op->flags & KN_OP_SHAPE_ONLY) && !any_dynamic;
        if ((all_known || shape_only) && !(op->flags & KN_OP_NO_FOLD)) {
            kiln_tensor *res[64] = {0};
            kiln_status st = kn_eval_node(g, node, ins, res, pool, m->isa);
            if (st != KILN_OK)
                return st;
            for (int i = 0; i < node->n_out; i++) {
                int v = node->out[i];
                if (v < 0) {
                    kn_tensor_free(res[i]);
                    continue;
                }
                kn_slot *s = &p->slots[v];
                s->kind = KN_SLOT_FOLDED;
                s->folded = res[i];
                slot_set_desc(s, res[i]);
            }
            continue;
        }
        kn_step *step = &p->steps[p->n_steps];
        memset(step, 0, sizeof *step);
        step->node = n;
        step->op = op;
        kiln_status st = KN_NEED_VALUE;
        kn_op_ctx c = {.graph = g, .node = node, .params = node->params, .n_in = node->n_in, .in = ins,
                       .n_out = node->n_out, .out = outs, .pool = pool, .isa = m->isa};
        if (!any_dynamic) {
            for (int i = 0; i < node->n_out; i++) {
                memset(&out_desc[i], 0, sizeof out_desc[i]);
                outs[i] = node->out[i] >= 0 ? &out_desc[i] : NULL;
            }
            st = kn_op_infer(op, &c);
            if (st != KILN_OK && st != KN_NEED_VALUE)
                return st;
            for (int i = 0; st == KILN_OK && i < node->n_out; i++)
                if (outs[i])
                    st = kn_limit_tensor(&m->options, node, g->values[node->out[i]].name, outs[i]);
            /* Sequences and optionals own their items: they are made per
             * run (dynamic step), never placed in the arena. */
            for (int i = 0; st == KILN_OK && i < node->n_out; i++)
                if (outs[i] && kn_dtype_is_container(outs[i]->dtype))
                    st = KN_NEED_VALUE;
            if (st != KILN_OK && st != KN_NEED_VALUE)
                return st;
            /* Ownership rule for strings: a STRING tensor owns its strings
             * (core.h), an arena buffer cannot. So steps producing strings
             * run as dynamic steps: each run's outputs are owned tensors that
             * the next run (or kn_plan_release_dynamic) frees, holding fresh
             * copies (written by the kernel, or by kn_op_own_strings after
             * a KN_OP_BORROWS_STRINGS kernel), never borrowed pointers. */
            for (int i = 0; st == KILN_OK && i < node->n_out; i++)
                if (outs[i] && outs[i]->dtype == KILN_DTYPE_STRING)
                    st = KN_NEED_VALUE;
        }
        if (st == KN_NEED_VALUE) {
            step->dynamic = true;
            for (int i = 0; i < node->n_out; i++)
                if (node->out[i] >= 0)
                    p->slots[node->out[i]].kind = KN_SLOT_DYNAMIC;
        } else {
            for (int i = 0; i < node->n_out; i++) {
                int v = node->out[i];
                if (v < 0)
                    continue;
                kn_slot *s = &p->slots[v];
                s->kind = KN_SLOT_ARENA;
                slot_set_desc(s, &out_desc[i]);
                s->t.data = NULL;
                s->def_step = p->n_steps;
                s->last_step = p->n_steps;
                outs[i] = &s->t;
            }
            if (op->prepare) {
                st = op->prepare(&c);
                step->state = c.state;
                if (st != KILN_OK)
                    return st;
            }
            step->scratch_size = c.scratch_size;
        }
        for (int i = 0; i < node->n_in; i++) {
            int v = node->in[i];
            if (v >= 0 && p->slots[v].kind == KN_SLOT_ARENA)
                p->slots[v].last_step = p->n_steps;
        }
        p->n_steps++;
    }
    return KILN_OK;
}

/* Concat without the copy: where an input's only reader is a Concat, its
 * producer writes straight into its slice of the Concat's output (one
 * buffer, alive from the first such producer on), and the Concat skips it.
 * With several images per slice (dims before the axis > 1, as batch N with
 * axis 1) only producers that write a strided output qualify. Slices start
 * 64-byte aligned like every arena buffer, for the kernels' sake. A
 * Concat's output that itself holds slices is not made a slice in turn. */
static kiln_status place_concat_inputs(kn_plan *p, const struct kiln_model *m)
{
    const kn_graph *g = m->graph;
    const kiln_tensor *ins[256];
    /* readers counted here, not taken from kn_value.n_consumers, which
     * passes only refresh when they need it */
    int *readers = kn_calloc((size_t)(g->n_values ? g->n_values : 1), sizeof(int));
    if (!readers)
        return KN_NOMEM();
    for (int n = 0; n < g->n_nodes; n++)
        if (!g->nodes[n].dead)
            for (int i = 0; i < g->nodes[n].n_in; i++)
                if (g->nodes[n].in[i] >= 0)
                    readers[g->nodes[n].in[i]]++;
    for (int i = 0; i < g->n_outputs; i++)
        readers[g->outputs[i]]++;
    for (int si = 0; si < p->n_steps; si++) {
        const kn_step *st = &p->steps[si];
        const kn_node *node = &g->nodes[st->node];
        if (st->dynamic || !st->op->input_slice || node->n_out < 1 || node->out[0] < 0 || node->n_in > 256)
            continue;
        kn_slot *out = &p->slots[node->out[0]];
        if (out->kind != KN_SLOT_ARENA || out->alias)
            continue;
        for (int i = 0; i < node->n_in; i++)
            ins[i] = node->in[i] >= 0 ? &p->slots[node->in[i]].t : NULL;
        kiln_tensor *outs[1] = {&out->t};
        const kn_op_ctx c = {.graph = g, .node = node, .params = node->params, .n_in = node->n_in, .in = ins,
                             .n_out = 1, .out = outs, .isa = m->isa};
        for (int i = 0; i < node->n_in; i++) {
            const int v = node->in[i];
            if (v < 0)
                continue;
            kn_slot *s = &p->slots[v];
            if (s->kind != KN_SLOT_ARENA || s->alias || s->has_aliases || !s->t.nbytes || readers[v] != 1)
                continue;
            kn_step *ps = &p->steps[s->def_step];
            const kn_node *pn = &g->nodes[ps->node];
            size_t off, slices, stride;
            if (!st->op->input_slice(&c, i, &off, &slices, &stride) || off % KN_ALIGN)
                continue;
            if (slices > 1) {
                if (pn->out[0] != v || !ps->op->strided_output || !ps->op->strided_output(pn) || stride % KN_ALIGN)
                    continue;
                ps->out_stride = stride;
            }
            s->alias = node->out[0] + 1;
            s->alias_offset = off;
            out->has_aliases = true;
            if (s->def_step < out->def_step)
                out->def_step = s->def_step;
        }
    }
    kn_free(readers);
    return KILN_OK;
}

/* Outputs written over an input: where a step is the last reader of the
 * input its op names (a conv's residual), the output takes over that
 * buffer instead of one of its own, so the output's lines are in cache
 * already instead of being read in from memory before each store (ResNet's
 * 64->256 1x1 convs on 56x56 with residual: 1.13 -> 0.98 ms with cold
 * caches). Chains (each block's output the next one's residual) share one
 * buffer. A Concat's slices are not taken over (they may be strided), a
 * Concat's output may be (a dense buffer like any other). */
static void place_in_place_outputs(kn_plan *p, const kn_graph *g)
{
    for (int si = 0; si < p->n_steps; si++) {
        const kn_step *st = &p->steps[si];
        const kn_node *node = &g->nodes[st->node];
        if (st->dynamic || !st->op->in_place_input || node->n_out < 1 || node->out[0] < 0)
            continue;
        const int k = st->op->in_place_input(node);
        if (k < 0 || k >= node->n_in || node->in[k] < 0)
            continue;
        const int v = node->in[k];
        bool once = true;
        for (int i = 0; i < node->n_in; i++)
            once &= i == k || node->in[i] != v;
        kn_slot *s = &p->slots[v], *o = &p->slots[node->out[0]];
        if (!once || s->kind != KN_SLOT_ARENA || o->kind != KN_SLOT_ARENA || s->last_step != si ||
            s->t.nbytes != o->t.nbytes || o->alias || o->has_aliases || (s->alias && !s->in_place))
            continue;
        const int root = s->alias ? s->alias - 1 : v;
        kn_slot *r = &p->slots[root];
        o->alias = root + 1;
        o->alias_offset = 0;
        o->in_place = true;
        r->has_aliases = true;
        if (o->last_step > r->last_step)
            r->last_step = o->last_step;
    }
}

static kiln_status plan_memory(kn_plan *p, const struct kiln_model *m)
{
    const kn_graph *g = m->graph;
    for (int i = 0; i < g->n_outputs; i++) {
        kn_slot *s = &p->slots[g->outputs[i]];
        if (s->kind == KN_SLOT_ARENA)
            s->last_step = p->n_steps;
    }
    if (m->options.opt_level >= 1) {
        KN_TRY(place_concat_inputs(p, m));
        place_in_place_outputs(p, g);
    }
    int n = 0;
    for (int i = 0; i < p->n_slots; i++)
        if (p->slots[i].kind == KN_SLOT_ARENA && !p->slots[i].alias)
            n++;
    for (int i = 0; i < p->n_steps; i++)
        if (p->steps[i].scratch_size)
            n++;
    interval *iv = kn_malloc((size_t)(n ? n : 1) * sizeof *iv);
    if (!iv)
        return KN_NOMEM();
    int k = 0;
    for (int i = 0; i < p->n_slots; i++) {
        kn_slot *s = &p->slots[i];
        if (s->kind == KN_SLOT_ARENA && !s->alias)
            iv[k++] = (interval){i, s->def_step, s->last_step, align_up(s->t.nbytes), 0};
    }
    for (int i = 0; i < p->n_steps; i++)
        if (p->steps[i].scratch_size)
            iv[k++] = (interval){-1 - i, i, i, align_up(p->steps[i].scratch_size), 0};
    size_t total = 0;
    kiln_status st = assign_offsets(iv, n, &total);
    if (st == KILN_OK)
        st = kn_limit_arena(&m->options, total, "the activation arena");
    if (st == KILN_OK) {
        p->arena_size = total;
        p->arena = kn_aligned_alloc(total ? total : KN_ALIGN);
        if (!p->arena)
            st = kn_error(KILN_ERROR_NOMEM, "cannot allocate the %zu-byte activation arena", total);
    }
    if (st == KILN_OK) {
        for (int i = 0; i < n; i++) {
            if (iv[i].slot >= 0) {
                kn_slot *s = &p->slots[iv[i].slot];
                s->offset = iv[i].offset;
                s->t.data = (char *)p->arena + iv[i].offset;
            } else {
                p->steps[-1 - iv[i].slot].scratch_offset = iv[i].offset;
            }
        }
        for (int i = 0; i < p->n_slots; i++) {
            kn_slot *s = &p->slots[i];
            if (s->kind == KN_SLOT_ARENA && s->alias) {
                s->offset = p->slots[s->alias - 1].offset + s->alias_offset;
                s->t.data = (char *)p->arena + s->offset;
            }
        }
    }
    kn_free(iv);
    return st;
}

kiln_status kn_plan_build(const struct kiln_model *m, const kiln_tensor *const *inputs, pthreadpool_t pool,
                          kn_plan **out)
{
    const kn_graph *g = m->graph;
    kn_plan *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->n_slots = g->n_values;
    p->slots = kn_calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *p->slots);
    p->steps = kn_calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *p->steps);
    p->n_inputs = m->n_inputs;
    p->input_shapes = kn_calloc(m->n_inputs ? m->n_inputs : 1, sizeof(kiln_tensor));
    kiln_status st = KILN_OK;
    if (!p->slots || !p->steps || !p->input_shapes)
        st = KN_NOMEM();
    for (int v = 0; st == KILN_OK && v < g->n_values; v++) {
        if (g->values[v].constant) {
            p->slots[v].kind = KN_SLOT_CONST;
            slot_set_desc(&p->slots[v], g->values[v].constant);
        }
    }
    for (size_t i = 0; st == KILN_OK && i < m->n_inputs; i++) {
        int v = m->inputs[i].value;
        st = check_input(&g->values[v], inputs[i]);
        if (st != KILN_OK)
            break;
        kn_slot *s = &p->slots[v];
        s->kind = KN_SLOT_INPUT;
        slot_set_desc(s, inputs[i]);
        s->t.data = NULL; /* bound per run; unknown while planning */
        kiln_tensor *shape = &p->input_shapes[i];
        shape->dtype = inputs[i]->dtype;
        shape->rank = inputs[i]->rank;
        memcpy(shape->dims, inputs[i]->dims, sizeof shape->dims);
    }
    const struct kiln_options *outer = kn_limits_enter(&m->options);
    if (st == KILN_OK)
        st = plan_steps(p, m, pool);
    kn_limits_leave(outer);
    if (st == KILN_OK)
        st = plan_memory(p, m);
    if (st != KILN_OK) {
        kn_plan_free(p, g);
        return st;
    }
    *out = p;
    return KILN_OK;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Arithmetic of a planned Conv / Gemm / MatMul step (2 per multiply-add). */
static double step_flops(const kn_graph *g, const kn_node *n, const kn_plan *p)
{
    const kn_slot *out = n->n_out > 0 && n->out[0] >= 0 ? &p->slots[n->out[0]] : NULL;
    const kn_slot *w = n->n_in > 1 && n->in[1] >= 0 ? &p->slots[n->in[1]] : NULL;
    const kn_slot *a = n->n_in > 0 && n->in[0] >= 0 ? &p->slots[n->in[0]] : NULL;
    if (!out || !w || !a)
        return 0.0;
    double outputs = (double)kn_tensor_count(&out->t);
    (void)g;
    if (strcmp(n->op_type, "Conv") == 0 || strcmp(n->op_type, "FusedConv") == 0 ||
        strcmp(n->op_type, "NchwcConv") == 0) {
        double per = 1.0; /* weight elements per output channel = Cin/group * k */
        for (int i = 1; i < w->t.rank; i++)
            per *= (double)w->t.dims[i];
        /* a blocked output counts channels up to a whole block */
        if (n->op_type[0] == 'N' && out->t.rank == 4 && out->t.dims[1] > 0 && w->t.rank == 4)
            outputs = outputs / (double)out->t.dims[1] * (double)w->t.dims[0];
        return 2.0 * outputs * per;
    }
    if (strcmp(n->op_type, "Gemm") == 0 || strcmp(n->op_type, "MatMul") == 0) {
        /* K is A's last dim (Gemm with transA reads dim 0: close enough) */
        int64_t k = a->t.rank ? a->t.dims[a->t.rank - 1] : 1;
        return 2.0 * outputs * (double)k;
    }
    return 0.0;
}

void kn_plan_reset_profile(kn_plan *p, const kn_graph *g)
{
    for (int i = 0; i < p->n_steps; i++) {
        p->steps[i].calls = 0;
        p->steps[i].total_ms = 0.0;
        p->steps[i].flops = step_flops(g, &g->nodes[p->steps[i].node], p);
    }
}

kiln_status kn_plan_run(kn_plan *p, const struct kiln_model *m, const kiln_tensor *const *inputs,
                        pthreadpool_t pool, atomic_int *interrupt)
{
    return kn_plan_run_ex(p, m, inputs, pool, interrupt, false);
}

kiln_status kn_plan_run_ex(kn_plan *p, const struct kiln_model *m, const kiln_tensor *const *inputs,
                           pthreadpool_t pool, atomic_int *interrupt, bool profile)
{
    const kn_graph *g = m->graph;
    const kiln_tensor *ins[256];
    kiln_tensor *outs[64];
    for (size_t i = 0; i < m->n_inputs; i++)
        p->slots[m->inputs[i].value].t.data = inputs[i]->data;
    for (int si = 0; si < p->n_steps; si++) {
        if (interrupt && atomic_load_explicit(interrupt, memory_order_relaxed))
            return kn_error(KILN_ERROR_INTERRUPTED, "run interrupted");
        kn_step *step = &p->steps[si];
        const kn_node *node = &g->nodes[step->node];
        for (int i = 0; i < node->n_in; i++)
            ins[i] = node->in[i] >= 0 ? &p->slots[node->in[i]].t : NULL;
        double t0 = profile ? now_ms() : 0.0;
        if (step->dynamic) {
            kiln_tensor *res[64] = {0};
            const struct kiln_options *outer = kn_limits_enter(&m->options);
            kiln_status st = kn_eval_node(g, node, ins, res, pool, m->isa);
            kn_limits_leave(outer);
            if (st != KILN_OK)
                return st;
            for (int i = 0; i < node->n_out; i++) {
                int v = node->out[i];
                if (v < 0) {
                    kn_tensor_free(res[i]);
                    continue;
                }
                kn_slot *s = &p->slots[v];
                kn_tensor_free(s->folded);
                s->folded = res[i];
                slot_set_desc(s, res[i]);
            }
            if (profile) {
                step->calls++;
                step->total_ms += now_ms() - t0;
            }
            continue;
        }
        for (int i = 0; i < node->n_out; i++)
            outs[i] = node->out[i] >= 0 ? &p->slots[node->out[i]].t : NULL;
        kn_op_ctx c = {.graph = g, .node = node, .params = node->params, .n_in = node->n_in, .in = ins,
                       .n_out = node->n_out, .out = outs, .state = step->state,
                       .scratch = step->scratch_size ? (char *)p->arena + step->scratch_offset : NULL,
                       .scratch_size = step->scratch_size, .pool = pool, .isa = m->isa,
                       .out_stride = step->out_stride};
        kiln_status st = step->op->run(&c);
        if (st != KILN_OK)
            return st;
        if (profile) {
            step->calls++;
            step->total_ms += now_ms() - t0;
        }
    }
    return KILN_OK;
}
