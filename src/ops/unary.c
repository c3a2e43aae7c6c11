/* Placeholder until the unary family lands. */
#include "ops/families.h"

const kn_op kn_ops_unary[1] = {{0}};
const size_t kn_ops_unary_count = 0;
