/* Placeholder until the tensor family lands. */
#include "ops/families.h"

const kn_op kn_ops_tensor[1] = {{0}};
const size_t kn_ops_tensor_count = 0;
