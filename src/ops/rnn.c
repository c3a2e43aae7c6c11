/* Placeholder until the rnn family lands. */
#include "ops/families.h"

const kn_op kn_ops_rnn[1] = {{0}};
const size_t kn_ops_rnn_count = 0;
