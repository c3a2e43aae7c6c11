/* Plain C reference GEMMs, row-major, BLAS semantics:
 *     C = alpha * op(A) * op(B) + beta * C,  op(X) = X or X^T
 * op(A) is M x K, op(B) is K x N, C is M x N. When beta == 0, C is not read
 * (so NaNs in an uninitialized C do not leak through).
 * kn_sgemm_ref is cache-blocked so it can carry whole models until the fast
 * packed kernels (sgemm.h) take over, and it is the yardstick they are tested
 * against. It needs no heap memory and is safe to call from pool threads;
 * each output element's arithmetic does not depend on how M or N are split,
 * so callers may parallelize over row or column blocks. */
#ifndef KN_GEMM_REF_H
#define KN_GEMM_REF_H

#include <stdbool.h>
#include <stdint.h>

void kn_sgemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Same contract in double precision (unblocked loop order, contiguous inner). */
void kn_dgemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double *A,
                  int64_t lda, const double *B, int64_t ldb, double beta, double *C, int64_t ldc);

#endif
