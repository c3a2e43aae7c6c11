/* Depthwise plane kernel compiled with AVX2 enabled (see conv_dw_impl.h);
 * called only when the session's ISA is AVX2. */
#include "ops/conv_dw_impl.h"

#pragma GCC optimize("tree-vectorize")
KN_DW_DEFINE(avx2)
