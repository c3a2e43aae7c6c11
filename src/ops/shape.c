/* Placeholder until the shape family lands. */
#include "ops/families.h"

const kn_op kn_ops_shape[1] = {{0}};
const size_t kn_ops_shape_count = 0;
