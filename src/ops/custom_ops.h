/* Operators registered by the host (kiln_register_op) or by plugins; the
 * registry searches them before kiln's own table. */
#ifndef KN_CUSTOM_OPS_H
#define KN_CUSTOM_OPS_H

#include "ops/op.h"

/* domain already normalized ("ai.onnx" -> ""). NULL if none registered. */
const kn_op *kn_custom_op_find(const char *domain, const char *name, int64_t opset);
bool kn_custom_op_known(const char *domain, const char *name);

#endif
