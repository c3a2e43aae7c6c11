/* Placeholder until the conv family lands. */
#include "ops/families.h"

const kn_op kn_ops_conv[1] = {{0}};
const size_t kn_ops_conv_count = 0;
