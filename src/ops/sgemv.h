/* Matrix-vector products on weights packed for the GEMM (kn_packed_a):
 * batch-1 fully connected layers and 1x1 convolutions over a 1x1 image
 * (squeeze-excitation). kn_sgemm_run would pad the single column of B to a
 * whole NR-column panel (16 or 32) and do that many times the work; here
 * each weight is read once and used once. */
#ifndef KN_SGEMV_H
#define KN_SGEMV_H

#include "ops/sgemm.h"

/* y[m] = act(sum_k A[m][k] x[k] + bias[m] + residual[m]) for the M rows of
 * A; ep may be NULL (its ldr is ignored). Parallel over row panels when the
 * matrix is large enough to pay for it; bitwise the same for any thread
 * count. */
void kn_sgemv_packed(const kn_packed_a *A, const float *x, float *y, const kn_epilogue *ep, pthreadpool_t pool);

/* One panel of A->mr rows into out[0 .. mr): the per-ISA kernels. */
void kn_sgemv_panel_generic(const float *panel, int mr, int64_t K, const float *x, float *out);
void kn_sgemv_panel_avx2(const float *panel, int mr, int64_t K, const float *x, float *out);
void kn_sgemv_panel_avx512(const float *panel, int mr, int64_t K, const float *x, float *out);

#endif
