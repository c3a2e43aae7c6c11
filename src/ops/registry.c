/* The one table of operators: every op family file exports an array of
 * descriptors, listed here. Lookup picks the descriptor whose opset range
 * covers the version the model imports. */
#include "ops/op.h"
#include "ops/custom_ops.h"
#include "ops/families.h"

#include <string.h>

typedef struct family {
    const kn_op *ops;
    const size_t *count;
} family;

#define FAMILY(x) {kn_ops_##x, &kn_ops_##x##_count},
static const family families[] = {KN_OP_FAMILIES(FAMILY)};
#undef FAMILY

#define N_FAMILIES (sizeof families / sizeof families[0])

const kn_op *kn_op_find(const char *domain, const char *name, int64_t opset)
{
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    /* The host's registrations first, so it can replace a kernel. */
    const kn_op *custom = kn_custom_op_find(domain, name, opset);
    if (custom)
        return custom;
    for (size_t f = 0; f < N_FAMILIES; f++) {
        for (size_t i = 0; i < *families[f].count; i++) {
            const kn_op *op = &families[f].ops[i];
            if (strcmp(op->name, name) != 0 || strcmp(op->domain, domain) != 0)
                continue;
            if (opset < op->since_min || (op->since_max && opset > op->since_max))
                continue;
            return op;
        }
    }
    return NULL;
}

bool kn_op_known(const char *domain, const char *name)
{
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    if (kn_custom_op_known(domain, name))
        return true;
    for (size_t f = 0; f < N_FAMILIES; f++)
        for (size_t i = 0; i < *families[f].count; i++)
            if (strcmp(families[f].ops[i].name, name) == 0 && strcmp(families[f].ops[i].domain, domain) == 0)
                return true;
    return false;
}

size_t kn_op_count(void)
{
    size_t n = 0;
    for (size_t f = 0; f < N_FAMILIES; f++)
        n += *families[f].count;
    return n;
}

const kn_op *kn_op_at(size_t i)
{
    for (size_t f = 0; f < N_FAMILIES; f++) {
        if (i < *families[f].count)
            return &families[f].ops[i];
        i -= *families[f].count;
    }
    return NULL;
}
