/* Host-registered operators. Each registration becomes a kn_op whose hooks
 * adapt kiln's internal op interface to the public callback signatures, so
 * the planner and executor treat custom ops like built-in ones. */
#include "ops/custom_ops.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

typedef struct custom_entry {
    kn_op op; /* first member: node->op points at the entry */
    kiln_custom_op desc;
    char *domain;
    char *op_type;
} custom_entry;

/* Entries are never removed: nodes of loaded models point at them. The lock
 * guards the array; lookups happen at load time only, so it is never on the
 * run path. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static custom_entry **entries;
static size_t n_entries, cap_entries;
static atomic_size_t n_published; /* lets lookups skip the lock when empty */

static const custom_entry *entry_of(const kn_op_ctx *c)
{
    return (const custom_entry *)c->node->op;
}

/* The callback's message, prefixed with the node; a default when the
 * callback failed without setting one. */
static kiln_status custom_failure(const kn_op_ctx *c, kiln_status s, const char *hook)
{
    const custom_entry *e = entry_of(c);
    if (!kn_error_message()[0])
        kn_error(s, "custom op %s failed with status %d", hook, (int)s);
    return kn_error_prefix(s, "node '%s' (%s%s%s)", c->node->name, e->domain, e->domain[0] ? ":" : "",
                           e->op_type);
}

static kiln_status custom_infer(kn_op_ctx *c)
{
    const custom_entry *e = entry_of(c);
    kiln_shape shapes[64];
    if (c->n_out > 64)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): more than 64 outputs", c->node->name,
                        c->node->op_type);
    memset(shapes, 0, sizeof shapes);
    kn_error_clear();
    kiln_status s = e->desc.infer(e->desc.user_data, (const kiln_op_node *)c->node, (size_t)c->n_in, c->in,
                                  (size_t)c->n_out, shapes);
    if (s != KILN_OK)
        return custom_failure(c, s, "infer");
    for (int i = 0; i < c->n_out; i++) {
        if (!c->out[i])
            continue;
        if (!kn_dtype_known(shapes[i].dtype))
            return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): infer left output %d without a valid dtype (%d)",
                            c->node->name, e->op_type, i, (int)shapes[i].dtype);
        if (shapes[i].rank > KILN_MAX_RANK)
            return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): infer gave output %d rank %zu, above %d",
                            c->node->name, e->op_type, i, shapes[i].rank, KILN_MAX_RANK);
        KN_TRY(kn_set_output(c, i, shapes[i].dtype, (int)shapes[i].rank, shapes[i].dims));
    }
    return KILN_OK;
}

static kiln_status custom_run(kn_op_ctx *c)
{
    const custom_entry *e = entry_of(c);
    kn_error_clear();
    kiln_status s = e->desc.run(e->desc.user_data, (const kiln_op_node *)c->node, (size_t)c->n_in, c->in,
                                (size_t)c->n_out, c->out);
    return s == KILN_OK ? KILN_OK : custom_failure(c, s, "run");
}

static const char *norm_domain(const char *domain)
{
    return !domain || strcmp(domain, "ai.onnx") == 0 ? "" : domain;
}

static bool ranges_overlap(const kiln_custom_op *a, const kiln_custom_op *b)
{
    long a_hi = a->until_version ? a->until_version : (long)1 << 30;
    long b_hi = b->until_version ? b->until_version : (long)1 << 30;
    return a->since_version <= b_hi && b->since_version <= a_hi;
}

static kiln_status check_desc(const kiln_custom_op *d)
{
    if (!d)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_register_op: descriptor is NULL");
    if (d->struct_size < sizeof(kiln_custom_op))
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_register_op: struct_size is %zu, expected %zu", d->struct_size,
                        sizeof(kiln_custom_op));
    if (!d->op_type || !d->op_type[0] || !d->domain)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_register_op: domain and op_type are required");
    if (!d->infer || !d->run)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_register_op: op '%s' needs both infer and run", d->op_type);
    if (d->since_version < 1 || (d->until_version && d->until_version < d->since_version))
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_register_op: op '%s' has an empty version range [%d, %d]",
                        d->op_type, d->since_version, d->until_version);
    return KILN_OK;
}

static kiln_status add_entry(custom_entry *e)
{
    for (size_t i = 0; i < n_entries; i++) {
        const custom_entry *o = entries[i];
        if (strcmp(o->domain, e->domain) == 0 && strcmp(o->op_type, e->op_type) == 0 &&
            ranges_overlap(&o->desc, &e->desc))
            return kn_error(KILN_ERROR_ARGUMENT, "kiln_register_op: '%s%s%s' versions %d..%d are already registered",
                            e->domain, e->domain[0] ? ":" : "", e->op_type, o->desc.since_version,
                            o->desc.until_version);
    }
    if (n_entries == cap_entries) {
        size_t cap = cap_entries ? 2 * cap_entries : 8;
        custom_entry **grown = kn_realloc(entries, cap * sizeof *grown);
        if (!grown)
            return KN_NOMEM();
        entries = grown;
        cap_entries = cap;
    }
    entries[n_entries++] = e;
    atomic_store(&n_published, n_entries);
    return KILN_OK;
}

KILN_API kiln_status kiln_register_op(const kiln_custom_op *d)
{
    KN_TRY(check_desc(d));
    custom_entry *e = kn_calloc(1, sizeof *e);
    if (!e)
        return KN_NOMEM();
    /* Only the fields this library knows; a newer caller's extra ones are
     * beyond struct_size of ours. */
    memcpy(&e->desc, d, sizeof e->desc);
    e->domain = kn_strdup(norm_domain(d->domain));
    e->op_type = kn_strdup(d->op_type);
    if (!e->domain || !e->op_type) {
        kn_free(e->domain);
        kn_free(e->op_type);
        kn_free(e);
        return KN_NOMEM();
    }
    e->desc.domain = e->domain;
    e->desc.op_type = e->op_type;
    e->op = (kn_op){.domain = e->domain, .name = e->op_type, .since_min = d->since_version,
                    .since_max = d->until_version, .infer = custom_infer, .run = custom_run,
                    .flags = (d->flags & KILN_CUSTOM_OP_NO_FOLD) ? KN_OP_NO_FOLD : 0u};
    pthread_mutex_lock(&lock);
    kiln_status s = add_entry(e);
    pthread_mutex_unlock(&lock);
    if (s != KILN_OK) {
        kn_free(e->domain);
        kn_free(e->op_type);
        kn_free(e);
    }
    return s;
}

const kn_op *kn_custom_op_find(const char *domain, const char *name, int64_t opset)
{
    if (!atomic_load(&n_published))
        return NULL;
    domain = norm_domain(domain);
    const kn_op *found = NULL;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_entries && !found; i++) {
        const kn_op *op = &entries[i]->op;
        if (strcmp(op->name, name) == 0 && strcmp(op->domain, domain) == 0 && opset >= op->since_min &&
            (!op->since_max || opset <= op->since_max))
            found = op;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

bool kn_custom_op_known(const char *domain, const char *name)
{
    if (!atomic_load(&n_published))
        return false;
    domain = norm_domain(domain);
    bool known = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_entries && !known; i++)
        known = strcmp(entries[i]->op.name, name) == 0 && strcmp(entries[i]->op.domain, domain) == 0;
    pthread_mutex_unlock(&lock);
    return known;
}

/* ---- the node as custom ops see it -------------------------------------- */

KILN_API kiln_status kiln_set_error(kiln_status code, const char *message)
{
    return kn_error(code, "%s", message ? message : "");
}

KILN_API const char *kiln_op_node_name(const kiln_op_node *node)
{
    return node ? ((const kn_node *)node)->name : NULL;
}

static kiln_status node_args(const kiln_op_node *node, const char *name, const void *out, const char *fn)
{
    if (!node || !name || !out)
        return kn_error(KILN_ERROR_ARGUMENT, "%s: NULL argument", fn);
    return KILN_OK;
}

KILN_API kiln_status kiln_op_node_attr_int(const kiln_op_node *node, const char *name, int64_t def, int64_t *out)
{
    KN_TRY(node_args(node, name, out, "kiln_op_node_attr_int"));
    return kn_attr_get_int((const kn_node *)node, name, def, out);
}

KILN_API kiln_status kiln_op_node_attr_float(const kiln_op_node *node, const char *name, float def, float *out)
{
    KN_TRY(node_args(node, name, out, "kiln_op_node_attr_float"));
    return kn_attr_get_float((const kn_node *)node, name, def, out);
}

KILN_API kiln_status kiln_op_node_attr_string(const kiln_op_node *node, const char *name, const char *def,
                                              const char **out)
{
    KN_TRY(node_args(node, name, out, "kiln_op_node_attr_string"));
    return kn_attr_get_string((const kn_node *)node, name, def, out);
}
