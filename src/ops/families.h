/* The op family files. Each src/ops/<family>.c defines
 *   const kn_op kn_ops_<family>[];  const size_t kn_ops_<family>_count;
 * Adding a family: add it to this list and create the file. */
#ifndef KN_FAMILIES_H
#define KN_FAMILIES_H

#include "ops/op.h"

#define KN_OP_FAMILIES(X) \
    X(unary)              \
    X(binary)             \
    X(conv)               \
    X(nchwc)              \
    X(pool)               \
    X(gemm)               \
    X(norm)               \
    X(softmax)            \
    X(reduce)             \
    X(shape)              \
    X(index)              \
    X(tensor)             \
    X(resize)             \
    X(rnn)                \
    X(quant)              \
    X(misc)               \
    X(control)            \
    X(attention)          \
    X(rotary)             \
    X(tensor_scatter)     \
    X(causal_conv)        \
    X(linear_attention)   \
    X(flex_attention)     \
    X(loss)               \
    X(bitcast)            \
    X(glu)                \
    X(unpool)             \
    X(training)           \
    X(dropout)            \
    X(string)             \
    X(tfidf)              \
    X(ml)                 \
    X(deform_conv)        \
    X(image_decoder)      \
    X(sequence)           \
    X(optional)

#define KN_DECLARE_FAMILY(x)          \
    extern const kn_op kn_ops_##x[]; \
    extern const size_t kn_ops_##x##_count;
KN_OP_FAMILIES(KN_DECLARE_FAMILY)
#undef KN_DECLARE_FAMILY

/* Use at the end of a family file: KN_FAMILY_COUNT(unary); */
#define KN_FAMILY_COUNT(x) const size_t kn_ops_##x##_count = sizeof kn_ops_##x / sizeof kn_ops_##x[0]

#endif
