/* Internal interface between misc.c (which holds the one kn_ops_misc[]
 * descriptor table) and the helper files that hold the larger misc kernels:
 * misc_einsum.c, misc_detect.c (NonMaxSuppression, RoiAlign), misc_signal.c
 * (DFT, STFT, window functions, MelWeightMatrix) and misc_grid.c
 * (GridSample, AffineGrid, Col2Im). */
#ifndef KN_MISC_OPS_H
#define KN_MISC_OPS_H

#include "ops/op.h"

/* kn_error with the "node 'x' (Op): " prefix. */
kiln_status kn_misc_node_error(const kn_node *n, kiln_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
kiln_status kn_misc_error(const kn_op_ctx *c, kiln_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fail with KILN_ERROR_DTYPE unless input i is float32/float64/float16/bfloat16. */
kiln_status kn_misc_check_float(const kn_op_ctx *c, int i);
/* Scalar (or one-element) input i as int64 / double; KN_NEED_VALUE if unknown. */
kiln_status kn_misc_scalar_i64(const kn_op_ctx *c, int i, int64_t *out);
kiln_status kn_misc_scalar_f64(const kn_op_ctx *c, int i, double *out);
extern const kiln_dtype kn_misc_einsum_types[];

#define KN_MISC_HOOKS(name)                    \
    kiln_status kn_misc_##name##_parse(kn_node *n); \
    kiln_status kn_misc_##name##_infer(kn_op_ctx *c); \
    kiln_status kn_misc_##name##_run(kn_op_ctx *c);

KN_MISC_HOOKS(einsum)
KN_MISC_HOOKS(nms)
KN_MISC_HOOKS(roialign)
KN_MISC_HOOKS(dft)
KN_MISC_HOOKS(stft)
KN_MISC_HOOKS(window)
KN_MISC_HOOKS(melweight)
KN_MISC_HOOKS(gridsample)
KN_MISC_HOOKS(affinegrid)
KN_MISC_HOOKS(col2im)

#undef KN_MISC_HOOKS

#endif
