/* Optional ops: Optional, OptionalHasElement, OptionalGetElement.
 *
 * An optional is a rank-0 tensor of dtype KN_DTYPE_OPTIONAL whose data is a
 * kn_list of 0 or 1 item, a tensor or a sequence (core.h). From opset 18,
 * OptionalHasElement and OptionalGetElement also take plain tensors and
 * sequences (always "present"); kiln accepts them at every opset. */
#include "ops/families.h"

/* ---- Optional ------------------------------------------------------------------ */

static kiln_status optional_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 0, 1, 1, 1));
    const kiln_tensor *x = c->n_in ? c->in[0] : NULL;
    if (x && x->dtype == KN_DTYPE_OPTIONAL)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (Optional): input is an optional, expected a tensor or sequence",
                        c->node->name);
    KN_TRY(kn_inputs_known(c));
    return kn_set_output(c, 0, KN_DTYPE_OPTIONAL, 0, NULL);
}

static kiln_status optional_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->n_in ? c->in[0] : NULL;
    kn_list *l = c->out[0]->data;
    /* Without an input the optional is empty; the type attribute only
     * declares what it could hold. */
    if (!x)
        return KILN_OK;
    l->elem = x->dtype;
    return kn_list_push_copy(l, x);
}

/* ---- OptionalHasElement ---------------------------------------------------------- */

static kiln_status has_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 0, 1, 1, 1));
    return kn_set_output(c, 0, KILN_DTYPE_BOOL, 0, NULL);
}

static kiln_status has_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->n_in ? c->in[0] : NULL;
    bool has = x != NULL;
    if (x && x->dtype == KN_DTYPE_OPTIONAL) {
        const kn_list *l = x->data;
        if (!l)
            return kn_error(KILN_ERROR_INTERNAL, "node '%s' (OptionalHasElement): optional without data",
                            c->node->name);
        has = l->n > 0;
    }
    *(uint8_t *)c->out[0]->data = has;
    return KILN_OK;
}

/* ---- OptionalGetElement ------------------------------------------------------------ */

/* The value handed out: the optional's item, or the input itself. */
static kiln_status get_value(const kn_op_ctx *c, const kiln_tensor **out)
{
    const kiln_tensor *x = c->in[0];
    if (x->dtype != KN_DTYPE_OPTIONAL) {
        *out = x;
        return KILN_OK;
    }
    const kn_list *l = x->data;
    if (!l)
        return KN_NEED_VALUE;
    if (l->n == 0)
        return kn_error(KILN_ERROR_ARGUMENT, "node '%s' (OptionalGetElement): the optional is empty", c->node->name);
    *out = l->items[0];
    return KILN_OK;
}

static kiln_status get_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *v = NULL;
    KN_TRY(get_value(c, &v));
    if (kn_dtype_is_container(v->dtype) && !v->data)
        return KN_NEED_VALUE;
    return kn_set_output(c, 0, v->dtype, v->rank, v->dims);
}

static kiln_status get_run(kn_op_ctx *c)
{
    const kiln_tensor *v = NULL;
    KN_TRY(get_value(c, &v));
    return kn_tensor_copy_data(c->out[0], v);
}

const kn_op kn_ops_optional[] = {
    {.domain = "", .name = "Optional", .since_min = 15, .since_max = 0, .infer = optional_infer,
     .run = optional_run, .flags = KN_OP_CONTAINERS},
    {.domain = "", .name = "OptionalHasElement", .since_min = 15, .since_max = 0, .infer = has_infer,
     .run = has_run, .flags = KN_OP_CONTAINERS},
    {.domain = "", .name = "OptionalGetElement", .since_min = 15, .since_max = 0, .infer = get_infer,
     .run = get_run, .flags = KN_OP_CONTAINERS},
};
KN_FAMILY_COUNT(optional);
