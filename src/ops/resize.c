/* Placeholder until the resize family lands. */
#include "ops/families.h"

const kn_op kn_ops_resize[1] = {{0}};
const size_t kn_ops_resize_count = 0;
