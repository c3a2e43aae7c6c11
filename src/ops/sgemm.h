/* Single-precision GEMM for the conv and matmul kernels:
 *     C[M,N] = A[M,K] * B[K,N]   (+ per-row bias, + residual, activation)
 * A is usually the weights, packed once at prepare time into MR-row panels;
 * B is packed per call into NR-column panels, either from a row-major matrix
 * or straight from a convolution input (implicit im2col), so no im2col
 * buffer is needed. Micro-kernels exist per ISA (generic C, AVX2+FMA,
 * AVX-512F); the generic one is the reference the others are tested against. */
#ifndef KN_SGEMM_H
#define KN_SGEMM_H

#include "core/core.h"
#include "ops/op.h"

typedef enum kn_act {
    KN_ACT_NONE = 0,
    KN_ACT_RELU,
    KN_ACT_CLIP,        /* min(max(x, alpha), beta) */
    KN_ACT_LEAKY_RELU,  /* x < 0 ? alpha * x : x */
    KN_ACT_SIGMOID,
    KN_ACT_HARD_SIGMOID, /* max(0, min(1, alpha * x + beta)) */
    KN_ACT_HARD_SWISH,   /* x * max(0, min(1, x / 6 + 1/2)) */
    KN_ACT_SILU          /* x * sigmoid(x) */
} kn_act;

/* Applied to each output element in order: + bias[row], + residual, act. */
typedef struct kn_epilogue {
    const float *bias;     /* [M] or NULL */
    const float *residual; /* [M, N] with leading dimension ldr, or NULL */
    int64_t ldr;
    kn_act act;
    float alpha, beta;
} kn_epilogue;

/* Apply the activation of ep to n contiguous values: the vector form for
 * the CPU (AVX-512 / AVX2 with an inline vector exp), else the plain C reference. */
void kn_act_apply(const kn_epilogue *ep, float *x, int64_t n);
void kn_act_apply_ref(const kn_epilogue *ep, float *x, int64_t n);
void kn_act_apply_avx2(const kn_epilogue *ep, float *x, int64_t n);
void kn_act_apply_avx512(const kn_epilogue *ep, float *x, int64_t n);
float kn_act_scalar(const kn_epilogue *ep, float x);

/* Micro-kernel geometry for an ISA. */
int kn_sgemm_mr(kn_isa_level isa);
int kn_sgemm_nr(kn_isa_level isa);

/* A packed into MR-row panels: panel p holds rows [p*MR, p*MR+MR) as K
 * groups of MR floats (zero-padded past M). */
typedef struct kn_packed_a {
    float *data;
    int64_t M, K;
    int mr;
    kn_isa_level isa;
} kn_packed_a;

kiln_status kn_sgemm_pack_a(kn_isa_level isa, int64_t M, int64_t K, const float *A, int64_t lda, bool trans_a,
                            kn_packed_a *out);
void kn_packed_a_free(kn_packed_a *p);

/* Where B comes from. */
typedef enum kn_bsrc_kind {
    KN_BSRC_MATRIX = 0, /* B[k][n] = data[k * ld + n] (or data[n * ld + k] if trans) */
    KN_BSRC_CONV2D      /* B[(c, kh, kw)][(oh, ow)] = x[c][oh*sh - ph + kh*dh][ow*sw - pw + kw*dw] */
} kn_bsrc_kind;

typedef struct kn_bsrc {
    kn_bsrc_kind kind;
    const float *data;
    int64_t ld;
    bool trans;
    /* conv2d geometry (one image, one group) */
    int64_t C, H, W, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW;
} kn_bsrc;

/* Scratch bytes kn_sgemm_run needs for this N and K with up to threads
 * tasks at once (a packing slot each). */
size_t kn_sgemm_scratch_bytes(kn_isa_level isa, int64_t N, int64_t K, size_t threads);
/* Threads of a pool (1 for NULL), for sizing scratch. */
size_t kn_pool_threads(pthreadpool_t pool);

/* C = A * B with epilogue ep (may be NULL). scratch: scratch_bytes from
 * kn_sgemm_scratch_bytes, 64-byte aligned (fewer slots than pool threads
 * only costs waiting). Results do not depend on the pool's thread count. */
void kn_sgemm_run(const kn_packed_a *A, int64_t N, const kn_bsrc *B, float *C, int64_t ldc, const kn_epilogue *ep,
                  void *scratch, size_t scratch_bytes, pthreadpool_t pool);

/* Plain triple-loop reference (for tests): C = A*B (+ep), row-major. */
void kn_sgemm_naive(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float *C, int64_t ldc, const kn_epilogue *ep);

/* Micro-kernels: C[mr x nr] (leading dim ldc) = or += Ap[K x MR] * Bp[K x NR].
 * m, n <= MR, NR are the valid rows/cols; accumulate adds to C. When ep is
 * not NULL the epilogue is applied to the tile (rows from row0, columns
 * from col0 of the whole output) before it is stored. */
typedef void (*kn_sgemm_kernel_fn)(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                                   bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0);
void kn_sgemm_kernel_generic(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                             bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0);
void kn_sgemm_kernel_avx2(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                          bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0);
void kn_sgemm_kernel_avx512(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                            bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0);
/* Transposed AVX-512 kernel for few columns: C[m x n] (m <= 32, n <=
 * KN_SGEMM_TR_COLS) from two 16-row A panels a_next floats apart (the second
 * unused when m <= 16) and a B panel packed KN_SGEMM_TR_STRIDE wide. */
#define KN_SGEMM_TR_COLS 14
#define KN_SGEMM_TR_STRIDE 16
void kn_sgemm_kernel_t_avx512(int64_t K, const float *Ap, int64_t a_next, const float *Bp, float *C, int64_t ldc,
                              int m, int n, bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0);
/* AVX-512 B packer: columns [n0, n0 + cols), k rows [k0, k0 + kc), into
 * dst as kc rows of stride floats (16 or 32; zero past cols). _ok tells
 * whether it handles a source (implicit im2col with horizontal stride 1 or
 * 2, or a row-major matrix); others take the generic packer. */
bool kn_sgemm_pack_b_avx512_ok(const kn_bsrc *B);
void kn_sgemm_pack_b_avx512(const kn_bsrc *B, int64_t n0, int cols, int64_t k0, int64_t kc, float *dst, int stride);
/* The epilogue on an m x n tile already stored in C (reference; kernels use
 * it for activations they do not vectorize). */
void kn_epilogue_tile(const kn_epilogue *ep, float *C, int64_t ldc, int64_t row0, int64_t col0, int m, int n);

#define KN_SGEMM_MR_GENERIC 4
#define KN_SGEMM_NR_GENERIC 8
#define KN_SGEMM_MR_AVX2 6
#define KN_SGEMM_NR_AVX2 16
#define KN_SGEMM_MR_AVX512 16
#define KN_SGEMM_NR_AVX512 32

#endif
