/* MaxUnpool (opsets 9, 11, 22): the partial inverse of MaxPool. Every value
 * of X goes to the position its index names, the rest of the output is 0.
 *
 * Indices are flat positions in the tensor MaxPool was applied to, whose
 * shape MaxUnpool infers as (X_d - 1) * stride - pad_begin - pad_end +
 * kernel per spatial dim (N and C kept). An explicit output_shape input
 * (opset 11+) may be larger in any dim; the inferred block then sits at the
 * origin of the larger zero tensor, each index keeping its coordinates, as
 * the ONNX reference implementation and its test data do.
 * Elements move by byte size, so the kernel is dtype-agnostic. */
#include "ops/families.h"

#include <string.h>

#define UNPOOL_FMT "node '%s' (MaxUnpool): "

typedef struct unpool_params {
    int n_spatial;
    int64_t kernel[KN_MAX_RANK], strides[KN_MAX_RANK], pads[2 * KN_MAX_RANK];
} unpool_params;

static kiln_status unpool_parse_into(const kn_node *n, unpool_params *p)
{
    const int64_t *v;
    size_t count;
    KN_TRY(kn_attr_get_ints(n, "kernel_shape", &v, &count));
    if (count == 0)
        return kn_error(KILN_ERROR_MODEL, UNPOOL_FMT "missing attribute kernel_shape", n->name);
    if (count > KN_MAX_RANK - 2)
        return kn_error(KILN_ERROR_UNSUPPORTED, UNPOOL_FMT "%zu spatial dims, at most %d supported", n->name, count,
                        KN_MAX_RANK - 2);
    p->n_spatial = (int)count;
    for (size_t i = 0; i < count; i++) {
        if (v[i] < 1)
            return kn_error(KILN_ERROR_MODEL, UNPOOL_FMT "kernel_shape[%zu] = %lld must be positive", n->name, i,
                            (long long)v[i]);
        p->kernel[i] = v[i];
        p->strides[i] = 1;
        p->pads[i] = p->pads[i + count] = 0;
    }
    KN_TRY(kn_attr_get_ints(n, "strides", &v, &count));
    if (v) {
        if (count != (size_t)p->n_spatial)
            return kn_error(KILN_ERROR_MODEL, UNPOOL_FMT "strides has %zu values for %d spatial dims", n->name, count,
                            p->n_spatial);
        for (size_t i = 0; i < count; i++) {
            if (v[i] < 1)
                return kn_error(KILN_ERROR_MODEL, UNPOOL_FMT "strides[%zu] = %lld must be positive", n->name, i,
                                (long long)v[i]);
            p->strides[i] = v[i];
        }
    }
    KN_TRY(kn_attr_get_ints(n, "pads", &v, &count));
    if (v) {
        if (count != 2 * (size_t)p->n_spatial)
            return kn_error(KILN_ERROR_MODEL, UNPOOL_FMT "pads has %zu values for %d spatial dims", n->name, count,
                            p->n_spatial);
        for (size_t i = 0; i < count; i++) {
            if (v[i] < 0)
                return kn_error(KILN_ERROR_MODEL, UNPOOL_FMT "pads[%zu] = %lld is negative", n->name, i,
                                (long long)v[i]);
            p->pads[i] = v[i];
        }
    }
    return KILN_OK;
}

static kiln_status unpool_parse(kn_node *n)
{
    unpool_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = unpool_parse_into(n, p);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

/* The shape of the tensor the indices refer to. */
static kiln_status inferred_shape(const kn_op_ctx *c, int64_t *dims)
{
    const unpool_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int d = 0; d < p->n_spatial; d++) {
        int64_t span;
        /* attributes are bounded only by int64: check every step */
        if (!kn_mul_i64(x->dims[d + 2] - 1, p->strides[d], &span) || span > INT64_MAX / 4 ||
            p->pads[d] > INT64_MAX / 4 || p->pads[d + p->n_spatial] > INT64_MAX / 4 || p->kernel[d] > INT64_MAX / 4)
            return kn_error(KILN_ERROR_SHAPE, UNPOOL_FMT "output dim %d overflows", c->node->name, d + 2);
        dims[d + 2] = span - p->pads[d] - p->pads[d + p->n_spatial] + p->kernel[d];
        if (dims[d + 2] < 0)
            return kn_error(KILN_ERROR_SHAPE, UNPOOL_FMT "spatial dim %d unpools to a negative size",
                            c->node->name, d);
    }
    return KILN_OK;
}

static kiln_status unpool_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, c->node->opset >= 11 ? 3 : 2, 1, 1));
    KN_TRY(kn_check_dtype(c, 0, kn_types_float));
    const unpool_params *p = c->params;
    const kiln_tensor *x = c->in[0], *ind = c->in[1];
    char a[96], b[96];
    if (x->rank != p->n_spatial + 2)
        return kn_error(KILN_ERROR_SHAPE, UNPOOL_FMT "X %s has rank %d, kernel_shape needs %d", c->node->name,
                        kn_shape_str(x, a, sizeof a), x->rank, p->n_spatial + 2);
    if (ind->dtype != KILN_DTYPE_INT64)
        return kn_error(KILN_ERROR_DTYPE, UNPOOL_FMT "I has dtype %s, expected int64", c->node->name,
                        kiln_dtype_name(ind->dtype));
    if (!kn_same_shape(x, ind))
        return kn_error(KILN_ERROR_SHAPE, UNPOOL_FMT "I %s does not have X's shape %s", c->node->name,
                        kn_shape_str(ind, b, sizeof b), kn_shape_str(x, a, sizeof a));
    int64_t dims[KN_MAX_RANK];
    KN_TRY(inferred_shape(c, dims));
    if (c->n_in > 2 && c->in[2]) {
        int64_t want[KN_MAX_RANK];
        size_t count;
        KN_TRY(kn_input_ints(c, 2, want, KN_MAX_RANK, &count));
        if (count != (size_t)x->rank)
            return kn_error(KILN_ERROR_SHAPE, UNPOOL_FMT "output_shape has %zu values, X has rank %d", c->node->name,
                            count, x->rank);
        for (int d = 0; d < x->rank; d++) {
            if (want[d] < dims[d])
                return kn_error(KILN_ERROR_SHAPE,
                                UNPOOL_FMT "output_shape[%d] = %lld is smaller than the unpooled size %lld",
                                c->node->name, d, (long long)want[d], (long long)dims[d]);
            dims[d] = want[d];
        }
    }
    return kn_set_output(c, 0, x->dtype, x->rank, dims);
}

static kiln_status unpool_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0], *ind = c->in[1];
    kiln_tensor *y = c->out[0];
    int64_t src[KN_MAX_RANK];
    KN_TRY(inferred_shape(c, src));
    int64_t total;
    if (!kn_shape_count(x->rank, src, &total))
        return kn_error(KILN_ERROR_SHAPE, UNPOOL_FMT "unpooled size overflows", c->node->name);
    memset(y->data, 0, y->nbytes);
    const bool same = memcmp(src, y->dims, sizeof(int64_t) * (size_t)x->rank) == 0;
    const size_t esz = kiln_dtype_size(x->dtype);
    const int64_t *iv = ind->data;
    const int64_t count = kn_tensor_count(x);
    for (int64_t i = 0; i < count; i++) {
        int64_t at = iv[i];
        if (at < 0 || at >= total)
            return kn_error(KILN_ERROR_ARGUMENT, UNPOOL_FMT "index %lld at element %lld is outside [0, %lld)",
                            c->node->name, (long long)at, (long long)i, (long long)total);
        if (!same) {
            /* keep the coordinates, re-linearized in the larger output */
            int64_t rest = at, out = 0, scale = 1;
            for (int d = x->rank - 1; d >= 0; d--) {
                out += (rest % src[d]) * scale;
                rest /= src[d];
                scale *= y->dims[d];
            }
            at = out;
        }
        memcpy((char *)y->data + (size_t)at * esz, (const char *)x->data + (size_t)i * esz, esz);
    }
    return KILN_OK;
}

const kn_op kn_ops_unpool[] = {
    {.domain = "", .name = "MaxUnpool", .since_min = 9, .parse = unpool_parse, .infer = unpool_infer,
     .run = unpool_run, .types = kn_types_float},
};
KN_FAMILY_COUNT(unpool);
