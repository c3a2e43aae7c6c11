/* TensorScatter (opset 24): writes update into a copy of past_cache along
 * the sequence axis (default -2; axis 0 is the batch and not allowed), at
 * write_indices[b] for batch b (default 0). mode "linear" refuses writes
 * past the cache's end; "circular" wraps them around (ring-buffer caches).
 * All other dimensions of update must equal the cache's. Any element type:
 * elements are moved, never converted. */
#include "ops/families.h"

#include <string.h>

typedef struct ts_params {
    int64_t axis;
    bool circular;
} ts_params;

static kiln_status ts_parse(kn_node *n)
{
    ts_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    const char *mode = NULL;
    kiln_status s;
    if ((s = kn_attr_get_int(n, "axis", -2, &p->axis)) != KILN_OK ||
        (s = kn_attr_get_string(n, "mode", "linear", &mode)) != KILN_OK) {
        kn_free(p);
        return s;
    }
    if (strcmp(mode, "linear") != 0 && strcmp(mode, "circular") != 0) {
        kn_free(p);
        return kn_error(KILN_ERROR_MODEL, "node '%s' (TensorScatter): mode '%s' is not linear or circular", n->name,
                        mode);
    }
    p->circular = strcmp(mode, "circular") == 0;
    n->params = p;
    return KILN_OK;
}

static kiln_status ts_bad(const kn_op_ctx *c, kiln_status code, const char *what)
{
    return kn_error(code, "node '%s' (TensorScatter): %s", c->node->name, what);
}

static kiln_status ts_check(const kn_op_ctx *c, int *axis_out)
{
    const ts_params *p = c->params;
    const kiln_tensor *cache = c->in[0], *upd = c->in[1];
    const kiln_tensor *idx = c->n_in > 2 ? c->in[2] : NULL;
    if (cache->rank < 2)
        return ts_bad(c, KILN_ERROR_SHAPE, "past_cache needs a batch and a sequence axis (rank >= 2)");
    int axis;
    KN_TRY(kn_norm_axis(c, p->axis, cache->rank, &axis));
    if (axis == 0)
        return ts_bad(c, KILN_ERROR_MODEL, "axis must not be the batch axis 0");
    if (cache->dtype == KILN_DTYPE_STRING)
        return ts_bad(c, KILN_ERROR_UNSUPPORTED, "string caches are not supported");
    if (upd->dtype != cache->dtype || upd->rank != cache->rank)
        return ts_bad(c, KILN_ERROR_SHAPE, "update must have past_cache's element type and rank");
    for (int i = 0; i < cache->rank; i++)
        if (i == axis ? upd->dims[i] > cache->dims[i] : upd->dims[i] != cache->dims[i])
            return ts_bad(c, KILN_ERROR_SHAPE,
                          "update must match past_cache except along axis, where it may not be longer");
    if (idx && (idx->dtype != KILN_DTYPE_INT64 || idx->rank != 1 || idx->dims[0] != cache->dims[0]))
        return ts_bad(c, KILN_ERROR_SHAPE, "write_indices must be int64 of shape [batch]");
    *axis_out = axis;
    return KILN_OK;
}

static kiln_status ts_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 3, 1, 1));
    int axis;
    KN_TRY(ts_check(c, &axis));
    return kn_set_output(c, 0, c->in[0]->dtype, c->in[0]->rank, c->in[0]->dims);
}

static kiln_status ts_run(kn_op_ctx *c)
{
    const ts_params *p = c->params;
    const kiln_tensor *cache = c->in[0], *upd = c->in[1];
    const kiln_tensor *idx = c->n_in > 2 ? c->in[2] : NULL;
    kiln_tensor *out = c->out[0];
    int axis;
    KN_TRY(ts_check(c, &axis));
    memcpy(out->data, cache->data, cache->nbytes);
    if (kn_tensor_count(upd) == 0)
        return KILN_OK;
    size_t esz = upd->nbytes / (size_t)kn_tensor_count(upd);
    /* [outer, seq, inner]: outer spans the batch and the axes before the
     * sequence axis, the batch being the slowest part of it. */
    int64_t B = cache->dims[0], per_batch = 1, inner = 1;
    for (int i = 1; i < axis; i++)
        per_batch *= cache->dims[i];
    for (int i = axis + 1; i < cache->rank; i++)
        inner *= cache->dims[i];
    int64_t max_len = cache->dims[axis], len = upd->dims[axis];
    size_t row = (size_t)inner * esz;
    for (int64_t b = 0; b < B; b++) {
        int64_t start = idx ? ((const int64_t *)idx->data)[b] : 0;
        if (p->circular) /* len > 0 here, so max_len > 0 */
            start = (start % max_len + max_len) % max_len;
        else if (start < 0 || start > max_len - len)
            return kn_error(KILN_ERROR_ARGUMENT,
                            "node '%s' (TensorScatter): write index %lld for batch %lld does not fit %lld new "
                            "entries in a cache of %lld",
                            c->node->name, (long long)start, (long long)b, (long long)len, (long long)max_len);
        for (int64_t o = 0; o < per_batch; o++) {
            int64_t outer = b * per_batch + o;
            for (int64_t s = 0; s < len; s++) {
                int64_t dst = start + s;
                if (dst >= max_len)
                    dst -= max_len; /* circular: len <= max_len, so one wrap */
                memcpy((char *)out->data + (size_t)(outer * max_len + dst) * row,
                       (const char *)upd->data + (size_t)(outer * len + s) * row, row);
            }
        }
    }
    return KILN_OK;
}

const kn_op kn_ops_tensor_scatter[] = {
    {.domain = "", .name = "TensorScatter", .since_min = 24, .since_max = 0, .parse = ts_parse, .infer = ts_infer,
     .run = ts_run},
};
KN_FAMILY_COUNT(tensor_scatter);
