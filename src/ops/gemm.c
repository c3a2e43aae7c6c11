/* Placeholder until the gemm family lands. */
#include "ops/families.h"

const kn_op kn_ops_gemm[1] = {{0}};
const size_t kn_ops_gemm_count = 0;
