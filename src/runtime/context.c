/* kiln_context: per-request state (plan, arena, thread pool) over a shared
 * immutable model. Re-plans when input shapes change. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <string.h>

/* Switch to the host's pool, or to one of kiln's own when host_pool is NULL
 * (none for a single thread). The old pool is kept until the new one
 * exists, so a failure changes nothing. */
static kiln_status attach_pool(kiln_context *c, pthreadpool_t host_pool)
{
    pthreadpool_t pool = host_pool;
    int threads = c->model->threads;
    if (!host_pool && threads > 1) {
        pool = pthreadpool_create((size_t)threads);
        if (!pool)
            return kn_error(KILN_ERROR_NOMEM, "cannot create a pool of %d threads", threads);
    }
    if (c->pool && c->own_pool)
        pthreadpool_destroy(c->pool);
    c->pool = pool;
    c->own_pool = pool && !host_pool;
    return KILN_OK;
}

KILN_API kiln_status kiln_context_set_thread_pool(kiln_context *c, void *pthreadpool)
{
    if (!c)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_context_set_thread_pool: context is NULL");
    return attach_pool(c, pthreadpool);
}

KILN_API kiln_status kiln_context_create(const kiln_model *m, kiln_context **out)
{
    if (!m || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_context_create: NULL argument");
    if (m->unsupported)
        return kn_error(KILN_ERROR_UNSUPPORTED, "model cannot run: unsupported: %s", m->unsupported);
    kiln_context *c = kn_calloc(1, sizeof *c);
    if (!c)
        return KN_NOMEM();
    c->model = m;
    kiln_status s = attach_pool(c, m->options.host_pool);
    if (s != KILN_OK) {
        kn_free(c);
        return s;
    }
    atomic_init(&c->interrupt, 0);
    *out = c;
    return KILN_OK;
}

KILN_API void kiln_context_release(kiln_context *c)
{
    if (!c)
        return;
    kn_plan_free(c->plan, c->model->graph);
    if (c->pool && c->own_pool)
        pthreadpool_destroy(c->pool);
    kn_free(c);
}

KILN_API void kiln_context_interrupt(kiln_context *c)
{
    if (c)
        atomic_store(&c->interrupt, 1);
}

KILN_API size_t kiln_context_arena_bytes(const kiln_context *c)
{
    return c && c->plan ? c->plan->arena_size : 0;
}

static int find_output(const kiln_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_outputs; i++)
        if (strcmp(m->outputs[i].info.name, name) == 0)
            return (int)i;
    return -1;
}

/* Order the caller's inputs as the model declares them. */
static kiln_status bind_inputs(const kiln_model *m, size_t n, const char *const *names,
                               const kiln_tensor *const *inputs, const kiln_tensor **ordered)
{
    for (size_t i = 0; i < m->n_inputs; i++)
        ordered[i] = NULL;
    for (size_t k = 0; k < n; k++) {
        if (!names || !names[k] || !inputs || !inputs[k])
            return kn_error(KILN_ERROR_ARGUMENT, "kiln_context_run: input %zu has a NULL name or tensor", k);
        size_t i = 0;
        while (i < m->n_inputs && strcmp(m->inputs[i].info.name, names[k]) != 0)
            i++;
        if (i == m->n_inputs)
            return kn_error(KILN_ERROR_ARGUMENT, "unknown input '%s' (model inputs: %s%s)", names[k],
                            m->n_inputs ? m->inputs[0].info.name : "none", m->n_inputs > 1 ? ", ..." : "");
        if (ordered[i])
            return kn_error(KILN_ERROR_ARGUMENT, "input '%s' given twice", names[k]);
        ordered[i] = inputs[k];
    }
    for (size_t i = 0; i < m->n_inputs; i++)
        if (!ordered[i])
            return kn_error(KILN_ERROR_ARGUMENT, "input '%s' was not given", m->inputs[i].info.name);
    return KILN_OK;
}

/* Check a caller tensor against the output, or clone the output when the
 * caller gave none. Caller buffers are written only after every requested
 * output passed, so a failure leaves all of them untouched. */
static kiln_status prepare_out(const kiln_tensor *src, const char *name, bool values, kiln_tensor **dst)
{
    char a[128], b[128];
    if (kn_dtype_is_container(src->dtype)) {
        if (!values)
            return kn_error(KILN_ERROR_UNSUPPORTED,
                            "output '%s' is a%s %s; kiln_context_run returns tensors only (use kiln_context_run_values)",
                            name, src->dtype == KN_DTYPE_OPTIONAL ? "n" : "", kiln_dtype_name(src->dtype));
        if (*dst)
            return kn_error(KILN_ERROR_ARGUMENT, "output '%s' is a %s: pass NULL for kiln to create it", name,
                            kiln_dtype_name(src->dtype));
        return kn_tensor_clone(src, dst);
    }
    if (*dst) {
        kiln_tensor *d = *dst;
        if (d->dtype != src->dtype)
            return kn_error(KILN_ERROR_DTYPE, "output '%s': caller tensor is %s, output is %s", name,
                            kiln_dtype_name(d->dtype), kiln_dtype_name(src->dtype));
        if (!kn_same_shape(d, src))
            return kn_error(KILN_ERROR_SHAPE, "output '%s': caller tensor has shape %s, output has %s", name,
                            kn_shape_str(d, a, sizeof a), kn_shape_str(src, b, sizeof b));
        if (src->dtype == KILN_DTYPE_STRING)
            return kn_error(KILN_ERROR_UNSUPPORTED, "output '%s': string outputs need a kiln-owned tensor", name);
        return KILN_OK;
    }
    return kn_tensor_clone(src, dst);
}

/* One line per new plan: the shapes and what they cost. */
static void log_plan(const kn_plan *p, const kiln_model *m)
{
    if (!kn_log_enabled(KILN_LOG_DEBUG))
        return;
    char shapes[512] = "", dims[128];
    size_t used = 0;
    for (size_t i = 0; i < p->n_inputs && used < sizeof shapes; i++) {
        int n = snprintf(shapes + used, sizeof shapes - used, "%s%s%s", i ? ", " : "", m->inputs[i].info.name,
                         kn_shape_str(&p->input_shapes[i], dims, sizeof dims));
        if (n > 0)
            used += (size_t)n;
    }
    int dynamic = 0;
    for (int i = 0; i < p->n_steps; i++)
        dynamic += p->steps[i].dynamic;
    kn_log(KILN_LOG_DEBUG, "plan for %s: %d steps (%d dynamic), arena %zu bytes", shapes, p->n_steps, dynamic,
           p->arena_size);
}

/* values: sequence and optional outputs may be returned (API version 3). */
static kiln_status context_run(kiln_context *c, size_t n_inputs, const char *const *input_names,
                               const kiln_tensor *const *inputs, size_t n_outputs, const char *const *output_names,
                               kiln_tensor **outputs, bool values)
{
    if (!c || (n_outputs && !outputs))
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_context_run: NULL argument");
    const kiln_model *m = c->model;
    if (!output_names && n_outputs != m->n_outputs)
        return kn_error(KILN_ERROR_ARGUMENT,
                        "kiln_context_run: without output names, ask for all %zu outputs (got %zu)", m->n_outputs,
                        n_outputs);
    int out_index[64];
    if (n_outputs > 64)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_context_run: at most 64 outputs per call");
    for (size_t i = 0; i < n_outputs; i++) {
        if (!output_names) {
            out_index[i] = (int)i;
            continue;
        }
        if (!output_names[i])
            return kn_error(KILN_ERROR_ARGUMENT, "kiln_context_run: output name %zu is NULL", i);
        out_index[i] = find_output(m, output_names[i]);
        if (out_index[i] < 0)
            return kn_error(KILN_ERROR_ARGUMENT, "unknown output '%s'", output_names[i]);
    }
    const kiln_tensor *ordered[256];
    if (m->n_inputs > 256)
        return kn_error(KILN_ERROR_UNSUPPORTED, "model has more than 256 inputs");
    KN_TRY(bind_inputs(m, n_inputs, input_names, inputs, ordered));

    atomic_store(&c->interrupt, 0);
    if (!c->plan || !kn_plan_matches(c->plan, ordered)) {
        kn_plan_free(c->plan, m->graph);
        c->plan = NULL;
        kiln_status ps = kn_plan_build(m, ordered, c->pool, &c->plan);
        if (ps != KILN_OK) {
            kn_log(KILN_LOG_ERROR, "planning failed: %s", kn_error_message());
            return ps;
        }
        kn_plan_reset_profile(c->plan, m->graph);
        log_plan(c->plan, m);
    }
    kiln_status s = kn_plan_run_ex(c->plan, m, ordered, c->pool, &c->interrupt, c->profiling);
    /* Hand back fresh tensors only if every output succeeds: on error the
     * caller's out-parameters stay untouched. */
    kiln_tensor *made[64] = {0};
    for (size_t i = 0; s == KILN_OK && i < n_outputs; i++) {
        const kn_slot *slot = &c->plan->slots[m->outputs[out_index[i]].value];
        made[i] = outputs[i];
        s = prepare_out(&slot->t, m->outputs[out_index[i]].info.name, values, &made[i]);
    }
    if (s == KILN_OK) {
        for (size_t i = 0; i < n_outputs; i++) {
            const kiln_tensor *src = &c->plan->slots[m->outputs[out_index[i]].value].t;
            if (made[i] == outputs[i] && src->nbytes)
                memcpy(outputs[i]->data, src->data, src->nbytes);
            outputs[i] = made[i];
        }
    } else {
        for (size_t i = 0; i < n_outputs; i++)
            if (made[i] && made[i] != outputs[i])
                kn_tensor_free(made[i]);
    }
    kn_plan_release_dynamic(c->plan);
    return s;
}

KILN_API kiln_status kiln_context_run(kiln_context *c, size_t n_inputs, const char *const *input_names,
                                      const kiln_tensor *const *inputs, size_t n_outputs,
                                      const char *const *output_names, kiln_tensor **outputs)
{
    return context_run(c, n_inputs, input_names, inputs, n_outputs, output_names, outputs, false);
}

KILN_API kiln_status kiln_context_run_values(kiln_context *c, size_t n_inputs, const char *const *input_names,
                                             const kiln_tensor *const *inputs, size_t n_outputs,
                                             const char *const *output_names, kiln_tensor **outputs)
{
    return context_run(c, n_inputs, input_names, inputs, n_outputs, output_names, outputs, true);
}

KILN_API kiln_status kiln_context_enable_profiling(kiln_context *c, int enable)
{
    if (!c)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_context_enable_profiling: context is NULL");
    c->profiling = enable != 0;
    if (c->plan)
        kn_plan_reset_profile(c->plan, c->model->graph);
    return KILN_OK;
}

KILN_API size_t kiln_context_profile_count(const kiln_context *c)
{
    return c && c->plan ? (size_t)c->plan->n_steps : 0;
}

KILN_API kiln_status kiln_context_profile_entry(const kiln_context *c, size_t index, kiln_profile_entry *out)
{
    if (!c || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_context_profile_entry: NULL argument");
    if (!c->plan || index >= (size_t)c->plan->n_steps)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_context_profile_entry: index %zu out of range", index);
    const kn_step *st = &c->plan->steps[index];
    const kn_node *n = &c->model->graph->nodes[st->node];
    out->node_name = n->name;
    out->op_type = n->op_type;
    out->calls = st->calls;
    out->total_ms = st->total_ms;
    out->flops = st->flops;
    return KILN_OK;
}
