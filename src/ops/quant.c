/* Placeholder until the quant family lands. */
#include "ops/families.h"

const kn_op kn_ops_quant[1] = {{0}};
const size_t kn_ops_quant_count = 0;
