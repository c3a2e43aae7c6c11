/* Placeholder until the misc family lands. */
#include "ops/families.h"

const kn_op kn_ops_misc[1] = {{0}};
const size_t kn_ops_misc_count = 0;
