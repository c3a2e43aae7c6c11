/* Depthwise plane kernel compiled with AVX512 enabled (see conv_dw_impl.h);
 * called only when the session's ISA is AVX512. */
#include "ops/conv_dw_impl.h"

#pragma GCC optimize("tree-vectorize")
KN_DW_DEFINE(avx512)
