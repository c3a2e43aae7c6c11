/* Helpers shared by the unary and binary elementwise families: a row-kernel
 * type, a contiguous chunked map, and the numpy broadcasting loop that
 * coalesces dimensions so the common patterns (same shape, scalar operand,
 * per-channel bias) reach the row kernel as long contiguous rows. */
#ifndef KN_ELEMENTWISE_H
#define KN_ELEMENTWISE_H

#include "ops/op.h"

/* Computes n output elements. in[k] points at input k's first element for
 * this row and stride[k] is its element stride along the row, which is
 * always 0 (broadcast) or 1 (contiguous). ctx is the op's parameters. */
typedef void (*kn_ew_row_fn)(void *out, const void *const *in, const int64_t *stride, int64_t n,
                             const void *ctx);

#define KN_EW_MAX_INPUTS 3

/* An input as the loop sees it: dims may differ from the tensor's own (the
 * legacy opset < 7 broadcast forms reshape an operand without moving data). */
typedef struct kn_ew_operand {
    const void *data;
    size_t elem_size;
    int rank;
    const int64_t *dims;
} kn_ew_operand;

/* out (rank_out/dims_out, contiguous, elem_size out_elem) = fn over the
 * inputs broadcast to the output shape. Inputs may alias the output only
 * when they have exactly the output's shape (the row kernels read element i
 * before writing element i). Splits large work over pool. */
void kn_ew_broadcast(int n_in, const kn_ew_operand *in, void *out, size_t out_elem, int rank_out,
                     const int64_t *dims_out, kn_ew_row_fn fn, const void *ctx, pthreadpool_t pool);

/* out[i] = fn(in[i]) for n contiguous elements (unary ops), chunked over pool. */
void kn_ew_map(const void *in, size_t in_elem, void *out, size_t out_elem, int64_t n, kn_ew_row_fn fn,
               const void *ctx, pthreadpool_t pool);

bool kn_ew_is_float(kiln_dtype dt);
bool kn_ew_is_int(kiln_dtype dt);
bool kn_ew_is_signed_int(kiln_dtype dt);

/* The dtype enum is small and dense; kernel tables are indexed by it. */
#define KN_EW_DTYPES 17

#endif
