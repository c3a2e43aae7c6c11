/* Placeholder until the pool family lands. */
#include "ops/families.h"

const kn_op kn_ops_pool[1] = {{0}};
const size_t kn_ops_pool_count = 0;
