/* Graph passes. Each takes a resolved graph (ops looked up, attributes
 * parsed), rewrites it in place and reports whether it changed anything.
 * Pass names (for kiln_options_disable_pass): "eliminate", "constant-folding",
 * "fuse-bn", "fuse-epilogue", "nchwc". */
#ifndef KN_PASSES_H
#define KN_PASSES_H

#include "graph/graph.h"

/* Remove Identity, inference-mode Dropout, and nodes whose outputs nobody uses. */
kiln_status kn_pass_eliminate(kn_graph *g, bool *changed);
/* Evaluate nodes whose inputs are all constants; their outputs become constants. */
kiln_status kn_pass_const_fold(kn_graph *g, bool *changed);

/* Fold inference BatchNormalization into a preceding Conv, ConvTranspose,
 * Gemm or 2-D MatMul(+Add). Nodes it rewrites get node->op = NULL and must be
 * re-resolved (kn_graph_resolve_ops) before planning. */
kiln_status kn_pass_fuse_bn(kn_graph *g, bool *changed);

/* Fuse residual Add and activations into the producing Conv as
 * kiln.FusedConv (re-resolve afterwards, as for fuse-bn). */
kiln_status kn_pass_fuse_epilogue(kn_graph *g, bool *changed);

/* Run conv chains in the blocked channel layout (src/ops/nchwc.h): convs,
 * pools and activations between reorders (re-resolve afterwards). The
 * model loader runs it after the other passes, at level 2 on AVX-512 CPUs
 * and at level 3 on any; models keeping its kiln.Nchwc* nodes cannot be
 * saved as ONNX. */
kiln_status kn_pass_nchwc(kn_graph *g, bool *changed);

#endif
