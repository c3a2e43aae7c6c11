/* Cache-blocked reference SGEMM in plain C (see gemm_ref.h).
 * Blocking follows the usual GotoBLAS scheme: a KC x NC slab of op(B) and an
 * MC x KC block of op(A) are packed into panels the micro-kernel streams
 * through linearly; the MR x NR micro-tile accumulates in a small local
 * array that the compiler keeps in vector registers at -O2. Packing also
 * absorbs the transposes, so all four transA/transB forms run at one speed.
 * The buffers live on the stack (about 192 KB), so the routine needs no heap
 * and cannot fail. */
#include "ops/gemm_ref.h"

#include <stddef.h>

#define MR 8
#define NR 8
#define KC 256
#define NC 128 /* multiple of NR */
#define MC 64  /* multiple of MR */

static inline float a_at(bool ta, const float *A, int64_t lda, int64_t m, int64_t k)
{
    return ta ? A[k * lda + m] : A[m * lda + k];
}

/* Panels of NR columns: panel q holds kc rows of NR floats, zero-padded. */
static void pack_b(bool tb, const float *B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *Bp)
{
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        float *dst = Bp + (j0 / NR) * kc * NR;
        int64_t w = nc - j0 < NR ? nc - j0 : NR;
        if (!tb) {
            for (int64_t p = 0; p < kc; p++) {
                const float *src = B + (k0 + p) * ldb + n0 + j0;
                float *d = dst + p * NR;
                int64_t j = 0;
                for (; j < w; j++)
                    d[j] = src[j];
                for (; j < NR; j++)
                    d[j] = 0.0f;
            }
        } else {
            for (int64_t j = 0; j < NR; j++) {
                if (j < w) {
                    const float *src = B + (n0 + j0 + j) * ldb + k0;
                    for (int64_t p = 0; p < kc; p++)
                        dst[p * NR + j] = src[p];
                } else {
                    for (int64_t p = 0; p < kc; p++)
                        dst[p * NR + j] = 0.0f;
                }
            }
        }
    }
}

/* Panels of MR rows: panel q holds kc groups of MR floats, zero-padded. */
static void pack_a(bool ta, const float *A, int64_t lda, int64_t m0, int64_t mc, int64_t k0, int64_t kc, float *Ap)
{
    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        float *dst = Ap + (i0 / MR) * kc * MR;
        int64_t h = mc - i0 < MR ? mc - i0 : MR;
        for (int64_t p = 0; p < kc; p++) {
            float *d = dst + p * MR;
            int64_t i = 0;
            for (; i < h; i++)
                d[i] = a_at(ta, A, lda, m0 + i0 + i, k0 + p);
            for (; i < MR; i++)
                d[i] = 0.0f;
        }
    }
}

static void micro_kernel(int64_t kc, const float *restrict a, const float *restrict b, float out[MR][NR])
{
    float acc[MR][NR] = {{0}};
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = b + p * NR;
        const float *ap = a + p * MR;
        for (int i = 0; i < MR; i++) {
            float ai = ap[i];
            for (int j = 0; j < NR; j++)
                acc[i][j] += ai * bp[j];
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            out[i][j] = acc[i][j];
}

/* Write an m x n corner of the tile: the first K block applies beta, later
 * ones accumulate. */
static void store_tile(float tile[MR][NR], int64_t m, int64_t n, float alpha, float beta, bool first, float *C,
                       int64_t ldc)
{
    for (int64_t i = 0; i < m; i++) {
        float *c = C + i * ldc;
        if (!first)
            for (int64_t j = 0; j < n; j++)
                c[j] += alpha * tile[i][j];
        else if (beta == 0.0f)
            for (int64_t j = 0; j < n; j++)
                c[j] = alpha * tile[i][j];
        else
            for (int64_t j = 0; j < n; j++)
                c[j] = alpha * tile[i][j] + beta * c[j];
    }
}

static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

/* Row-vector shapes (M of 1) would waste most of a padded micro-tile,
 * so they run unpacked. The summation order per element is the same as the
 * blocked path's (K blocks of KC, each summed from zero in order), so results
 * are bitwise identical however a caller splits M or N. */
static void gemm_row(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    float acc[NC];
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int64_t kc = K - k0 < KC ? K - k0 : KC;
        for (int64_t i = 0; i < M; i++) {
            for (int64_t n0 = 0; n0 < N; n0 += NC) {
                int64_t nc = N - n0 < NC ? N - n0 : NC;
                if (!tb) {
                    for (int64_t j = 0; j < nc; j++)
                        acc[j] = 0.0f;
                    for (int64_t p = 0; p < kc; p++) {
                        float a = a_at(ta, A, lda, i, k0 + p);
                        const float *b = B + (k0 + p) * ldb + n0;
                        for (int64_t j = 0; j < nc; j++)
                            acc[j] += a * b[j];
                    }
                } else {
                    for (int64_t j = 0; j < nc; j++) {
                        const float *b = B + (n0 + j) * ldb + k0;
                        float s = 0.0f;
                        for (int64_t p = 0; p < kc; p++)
                            s += a_at(ta, A, lda, i, k0 + p) * b[p];
                        acc[j] = s;
                    }
                }
                float *c = C + i * ldc + n0;
                for (int64_t j = 0; j < nc; j++) {
                    if (k0 != 0)
                        c[j] += alpha * acc[j];
                    else if (beta == 0.0f)
                        c[j] = alpha * acc[j];
                    else
                        c[j] = alpha * acc[j] + beta * c[j];
                }
            }
        }
    }
}

/* N == 1: accumulate a block of rows at once so the adds are independent. */
static void gemm_column(bool ta, bool tb, int64_t M, int64_t K, float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    /* Rows of A (not transposed) are separate streams; a few at a time keep
     * them all in cache, while a transposed A is contiguous along M. */
    int64_t blk = ta ? NC : MR;
    float acc[NC];
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int64_t kc = K - k0 < KC ? K - k0 : KC;
        for (int64_t m0 = 0; m0 < M; m0 += blk) {
            int64_t mc = M - m0 < blk ? M - m0 : blk;
            for (int64_t i = 0; i < mc; i++)
                acc[i] = 0.0f;
            for (int64_t p = 0; p < kc; p++) {
                float b = tb ? B[k0 + p] : B[(k0 + p) * ldb];
                if (ta) {
                    const float *a = A + (k0 + p) * lda + m0;
                    for (int64_t i = 0; i < mc; i++)
                        acc[i] += a[i] * b;
                } else {
                    const float *a = A + m0 * lda + k0 + p;
                    for (int64_t i = 0; i < mc; i++)
                        acc[i] += a[i * lda] * b;
                }
            }
            for (int64_t i = 0; i < mc; i++) {
                float *c = C + (m0 + i) * ldc;
                if (k0 != 0)
                    *c += alpha * acc[i];
                else if (beta == 0.0f)
                    *c = alpha * acc[i];
                else
                    *c = alpha * acc[i] + beta * *c;
            }
        }
    }
}

void kn_sgemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    if (N == 1) {
        gemm_column(trans_a, trans_b, M, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (M == 1) {
        gemm_row(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    _Alignas(64) float Bp[KC * NC];
    _Alignas(64) float Ap[MC * KC];
    float tile[MR][NR];
    for (int64_t n0 = 0; n0 < N; n0 += NC) {
        int64_t nc = N - n0 < NC ? N - n0 : NC;
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
            int64_t kc = K - k0 < KC ? K - k0 : KC;
            pack_b(trans_b, B, ldb, k0, kc, n0, nc, Bp);
            for (int64_t m0 = 0; m0 < M; m0 += MC) {
                int64_t mc = M - m0 < MC ? M - m0 : MC;
                pack_a(trans_a, A, lda, m0, mc, k0, kc, Ap);
                for (int64_t j0 = 0; j0 < nc; j0 += NR) {
                    int64_t w = nc - j0 < NR ? nc - j0 : NR;
                    const float *bp = Bp + (j0 / NR) * kc * NR;
                    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
                        int64_t h = mc - i0 < MR ? mc - i0 : MR;
                        micro_kernel(kc, Ap + (i0 / MR) * kc * MR, bp, tile);
                        store_tile(tile, h, w, alpha, beta, k0 == 0, C + (m0 + i0) * ldc + n0 + j0, ldc);
                    }
                }
            }
        }
    }
}

void kn_dgemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double *A,
                  int64_t lda, const double *B, int64_t ldb, double beta, double *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        double *c = C + i * ldc;
        for (int64_t j = 0; j < N; j++)
            c[j] = beta == 0.0 ? 0.0 : beta * c[j];
        for (int64_t p = 0; p < K; p++) {
            double a = alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]);
            if (!trans_b) {
                const double *b = B + p * ldb;
                for (int64_t j = 0; j < N; j++)
                    c[j] += a * b[j];
            } else {
                for (int64_t j = 0; j < N; j++)
                    c[j] += a * B[j * ldb + p];
            }
        }
    }
}
