/* The public view of the op table (kiln_op_count / kiln_op_get_info), read
 * by `kiln ops` and scripts/operators_report.py to generate
 * docs/operators.md from the descriptors themselves. */
#include "ops/op.h"

KILN_API size_t kiln_op_count(void)
{
    return kn_op_count();
}

KILN_API kiln_status kiln_op_get_info(size_t index, kiln_op_info *out)
{
    if (!out)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_op_get_info: NULL argument");
    const kn_op *op = kn_op_at(index);
    if (!op)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_op_get_info: index %zu out of range (%zu ops)", index,
                        kn_op_count());
    size_t n = 0;
    while (op->types && op->types[n] != KILN_DTYPE_UNDEFINED)
        n++;
    *out = (kiln_op_info){.domain = op->domain,
                          .name = op->name,
                          .since_min = op->since_min,
                          .since_max = op->since_max,
                          .dtypes = n ? op->types : NULL,
                          .n_dtypes = n,
                          .dtype_input = op->type_input,
                          .fast = (op->flags & KN_OP_FAST) != 0,
                          .upgrade_only = op->upgrade && !op->infer};
    return KILN_OK;
}
