/* BitCast (opset 26): the input's bytes reinterpreted as another element
 * type of the same bit width, shape unchanged. Unlike Cast no value is
 * converted, so a bool read back from a uint8 of 2 keeps the byte 2.
 * kiln stores every dtype little endian (the spec's byte order) on the
 * x86-64 hosts it runs on, so the output is a plain byte copy. Types kiln
 * cannot hold (float8, 4-bit, ...) are refused as unsupported. */
#include "ops/families.h"

#include <string.h>

/* Every fixed-size type kiln holds; strings are pointers, not bits. */
static const kiln_dtype bitcast_types[] = {
    KILN_DTYPE_FLOAT,  KILN_DTYPE_UINT8,  KILN_DTYPE_INT8,      KILN_DTYPE_UINT16,     KILN_DTYPE_INT16,
    KILN_DTYPE_INT32,  KILN_DTYPE_INT64,  KILN_DTYPE_BOOL,      KILN_DTYPE_FLOAT16,    KILN_DTYPE_DOUBLE,
    KILN_DTYPE_UINT32, KILN_DTYPE_UINT64, KILN_DTYPE_COMPLEX64, KILN_DTYPE_COMPLEX128, KILN_DTYPE_BFLOAT16,
    KILN_DTYPE_UNDEFINED};

static bool bitcast_type(int64_t dt)
{
    for (const kiln_dtype *t = bitcast_types; *t != KILN_DTYPE_UNDEFINED; t++)
        if ((int64_t)*t == dt)
            return true;
    return false;
}

static kiln_status bitcast_parse(kn_node *n)
{
    int64_t to;
    KN_TRY(kn_attr_require_int(n, "to", &to));
    if (to == KILN_DTYPE_STRING || to <= KILN_DTYPE_UNDEFINED)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (BitCast): 'to' = %lld is not a fixed-size element type",
                        n->name, (long long)to);
    if (!bitcast_type(to))
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (BitCast): target dtype %lld is not supported", n->name,
                        (long long)to);
    int64_t *p = kn_malloc(sizeof *p);
    if (!p)
        return KN_NOMEM();
    *p = to;
    n->params = p;
    return KILN_OK;
}

static kiln_status bitcast_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    KN_TRY(kn_check_dtype(c, 0, bitcast_types));
    const kiln_tensor *x = c->in[0];
    kiln_dtype to = (kiln_dtype)*(const int64_t *)c->params;
    if (kiln_dtype_size(to) != kiln_dtype_size(x->dtype))
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (BitCast): %s (%zu bytes) and %s (%zu bytes) differ in bit width",
                        c->node->name, kiln_dtype_name(x->dtype), kiln_dtype_size(x->dtype), kiln_dtype_name(to),
                        kiln_dtype_size(to));
    return kn_set_output(c, 0, to, x->rank, x->dims);
}

static kiln_status bitcast_run(kn_op_ctx *c)
{
    if (c->out[0]->nbytes)
        memcpy(c->out[0]->data, c->in[0]->data, c->out[0]->nbytes);
    return KILN_OK;
}

const kn_op kn_ops_bitcast[] = {
    {.domain = "", .name = "BitCast", .since_min = 26, .parse = bitcast_parse, .infer = bitcast_infer,
     .run = bitcast_run, .types = bitcast_types},
};
KN_FAMILY_COUNT(bitcast);
