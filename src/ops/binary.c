/* Placeholder until the binary family lands. */
#include "ops/families.h"

const kn_op kn_ops_binary[1] = {{0}};
const size_t kn_ops_binary_count = 0;
