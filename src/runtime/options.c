/* Load options (kiln_options_*). */
#include "runtime/runtime.h"

#include <string.h>

void kn_options_defaults(struct kiln_options *o)
{
    memset(o, 0, sizeof *o);
    o->opt_level = 2;
    o->isa = KILN_ISA_AUTO;
}

bool kn_options_pass_enabled(const struct kiln_options *o, const char *pass)
{
    for (int i = 0; i < o->n_disabled; i++)
        if (strcmp(o->disabled[i], pass) == 0)
            return false;
    return true;
}

KILN_API kiln_status kiln_options_create(kiln_options **out)
{
    if (!out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_options_create: out is NULL");
    kiln_options *o = kn_malloc(sizeof *o);
    if (!o)
        return KN_NOMEM();
    kn_options_defaults(o);
    *out = o;
    return KILN_OK;
}

KILN_API void kiln_options_release(kiln_options *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->n_disabled; i++)
        kn_free(o->disabled[i]);
    kn_free(o);
}

KILN_API kiln_status kiln_options_set_threads(kiln_options *o, int threads)
{
    if (!o || threads < 0 || threads > 1024)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_options_set_threads: threads must be 0..1024, got %d", threads);
    o->threads = threads;
    return KILN_OK;
}

KILN_API kiln_status kiln_options_set_opt_level(kiln_options *o, int level)
{
    if (!o || level < 0 || level > 3)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_options_set_opt_level: level must be 0..3, got %d", level);
    o->opt_level = level;
    return KILN_OK;
}

KILN_API kiln_status kiln_options_disable_pass(kiln_options *o, const char *pass)
{
    if (!o || !pass)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_options_disable_pass: NULL argument");
    if (o->n_disabled == KN_MAX_DISABLED_PASSES)
        return kn_error(KILN_ERROR_LIMIT, "kiln_options_disable_pass: at most %d passes can be disabled",
                        KN_MAX_DISABLED_PASSES);
    char *p = kn_strdup(pass);
    if (!p)
        return KN_NOMEM();
    o->disabled[o->n_disabled++] = p;
    return KILN_OK;
}

KILN_API kiln_status kiln_options_set_isa(kiln_options *o, kiln_isa isa)
{
    if (!o || isa < KILN_ISA_AUTO || isa > KILN_ISA_AVX512)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_options_set_isa: unknown ISA %d", (int)isa);
    o->isa = isa;
    return KILN_OK;
}

KILN_API kiln_status kiln_options_set_allow_unsupported(kiln_options *o, int allow)
{
    if (!o)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_options_set_allow_unsupported: options is NULL");
    o->allow_unsupported = allow != 0;
    return KILN_OK;
}

KILN_API kiln_status kiln_options_set_thread_pool(kiln_options *o, void *pthreadpool)
{
    if (!o)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_options_set_thread_pool: options is NULL");
    o->host_pool = pthreadpool;
    return KILN_OK;
}

static const char *const limit_names[3] = {"KILN_LIMIT_MODEL_BYTES", "KILN_LIMIT_TENSOR_ELEMENTS",
                                           "KILN_LIMIT_ARENA_BYTES"};

KILN_API kiln_status kiln_options_set_limit(kiln_options *o, kiln_limit limit, uint64_t value)
{
    if (!o)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_options_set_limit: options is NULL");
    if ((int)limit < 0 || (int)limit > KILN_LIMIT_ARENA_BYTES)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_options_set_limit: unknown limit %d", (int)limit);
    o->limits[limit] = value;
    return KILN_OK;
}

static _Thread_local const struct kiln_options *active_limits;

const struct kiln_options *kn_limits_enter(const struct kiln_options *o)
{
    const struct kiln_options *previous = active_limits;
    active_limits = o;
    return previous;
}

void kn_limits_leave(const struct kiln_options *previous)
{
    active_limits = previous;
}

static _Thread_local size_t fold_cap;

size_t kn_fold_cap_enter(size_t max_bytes)
{
    size_t previous = fold_cap;
    fold_cap = max_bytes;
    return previous;
}

void kn_fold_cap_leave(size_t previous)
{
    fold_cap = previous;
}

size_t kn_fold_cap_get(void)
{
    return fold_cap;
}

const struct kiln_options *kn_limits_active(void)
{
    return active_limits;
}

kiln_status kn_limit_tensor(const struct kiln_options *o, const kn_node *node, const char *value_name,
                            const kiln_tensor *t)
{
    if (!o || !o->limits[KILN_LIMIT_TENSOR_ELEMENTS] || !t)
        return KILN_OK;
    uint64_t max = o->limits[KILN_LIMIT_TENSOR_ELEMENTS];
    int64_t count = kn_tensor_count(t);
    if (count >= 0 && (uint64_t)count <= max)
        return KILN_OK;
    char shape[128];
    kn_shape_str(t, shape, sizeof shape);
    if (node)
        return kn_error(KILN_ERROR_LIMIT,
                        "node '%s' (%s): output '%s' of shape %s has %lld elements, above the limit of %llu (%s)",
                        node->name, node->op_type, value_name ? value_name : "?", shape, (long long)count,
                        (unsigned long long)max, limit_names[KILN_LIMIT_TENSOR_ELEMENTS]);
    return kn_error(KILN_ERROR_LIMIT, "tensor '%s' of shape %s has %lld elements, above the limit of %llu (%s)",
                    value_name ? value_name : "?", shape, (long long)count, (unsigned long long)max,
                    limit_names[KILN_LIMIT_TENSOR_ELEMENTS]);
}

kiln_status kn_limit_arena(const struct kiln_options *o, size_t bytes, const char *what)
{
    if (!o || !o->limits[KILN_LIMIT_ARENA_BYTES] || (uint64_t)bytes <= o->limits[KILN_LIMIT_ARENA_BYTES])
        return KILN_OK;
    return kn_error(KILN_ERROR_LIMIT, "%s needs %zu bytes, above the limit of %llu (%s)", what, bytes,
                    (unsigned long long)o->limits[KILN_LIMIT_ARENA_BYTES], limit_names[KILN_LIMIT_ARENA_BYTES]);
}

const char *kn_limit_name(kiln_limit limit)
{
    return limit_names[limit];
}
