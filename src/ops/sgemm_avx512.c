/* AVX-512F micro-kernels. A is packed in 16-row panels; the main kernel
 * takes 8 of those rows x 32 columns (16 accumulators in zmm) per call and
 * runs twice per panel, which measures as fast as one 12 x 32 pass while the
 * 16-row panels also serve the transposed kernel below. Edge variants
 * compute only 4 rows and/or 16 columns: ResNet's 196-pixel layers end in a
 * 4-column panel where the full tile would waste 3/4 of the FMAs. Each
 * element accumulates in the same order whichever variant runs, so the
 * variant never changes a result. */
#include "ops/act_avx512.h"
#include "ops/sgemm.h"

#include <immintrin.h>
#include <string.h>

/* The exp-based and hard activations: out of line, so the ReLU / clip
 * epilogue below stays inlined in the kernels (with act_vec's whole switch
 * inside, row_epilogue became a call per row with the vectors through the
 * stack). */
static __attribute__((noinline)) void row_act(const kn_epilogue *ep, __m512 *v, __mmask16 m0, __mmask16 m1)
{
    if (m0)
        v[0] = act_vec(ep, v[0], ep->act);
    if (m1)
        v[1] = act_vec(ep, v[1], ep->act);
}

/* bias + residual + activation on one row's two vectors, in registers
 * (the activation is act_vec, as in kn_act_apply_avx512; lanes past n are
 * computed on zeros and not stored). */
static inline __attribute__((always_inline)) void row_epilogue(const kn_epilogue *ep, __m512 *v, int64_t row, int64_t col, __mmask16 m0,
                                __mmask16 m1)
{
    if (ep->bias) {
        __m512 b = _mm512_set1_ps(ep->bias[row]);
        v[0] = _mm512_add_ps(v[0], b);
        v[1] = _mm512_add_ps(v[1], b);
    }
    if (ep->residual) {
        const float *r = ep->residual + row * ep->ldr + col;
        v[0] = _mm512_add_ps(v[0], _mm512_maskz_loadu_ps(m0, r));
        v[1] = _mm512_add_ps(v[1], _mm512_maskz_loadu_ps(m1, r + 16));
    }
    switch (ep->act) {
    case KN_ACT_RELU:
        v[0] = _mm512_max_ps(v[0], _mm512_setzero_ps());
        v[1] = _mm512_max_ps(v[1], _mm512_setzero_ps());
        break;
    case KN_ACT_CLIP: {
        __m512 lo = _mm512_set1_ps(ep->alpha), hi = _mm512_set1_ps(ep->beta);
        v[0] = _mm512_min_ps(_mm512_max_ps(v[0], lo), hi);
        v[1] = _mm512_min_ps(_mm512_max_ps(v[1], lo), hi);
        break;
    }
    case KN_ACT_LEAKY_RELU: {
        __m512 a = _mm512_set1_ps(ep->alpha), z = _mm512_setzero_ps();
        for (int k = 0; k < 2; k++) {
            __mmask16 neg = _mm512_cmp_ps_mask(v[k], z, _CMP_LT_OQ);
            v[k] = _mm512_mask_mul_ps(v[k], neg, v[k], a);
        }
        break;
    }
    case KN_ACT_NONE: break;
    default: row_act(ep, v, m0, m1); break;
    }
}

/* R rows (4 or 8) of a 16-row packed A panel, V vectors of 16 columns (1 or
 * 2) of the packed B panel (always 32 wide). Rows and vectors past R and V
 * are dead code the compiler drops. */
#define ROW(i)                                                                   \
    if (ROWS > i) {                                                              \
        __m512 a = _mm512_set1_ps(Ap[i]);                                        \
        c##i##0 = _mm512_fmadd_ps(a, b0, c##i##0);                               \
        if (VECS > 1)                                                            \
            c##i##1 = _mm512_fmadd_ps(a, b1, c##i##1);                           \
    }

/* Row i of the tile from its accumulators, kept in registers (an array
 * indexed by a run-time row went through the stack). */
#define STORE_ROW(i)                                                                                               \
    if (ROWS > i && i < m) {                                                                                       \
        float *c = C + i * ldc;                                                                                    \
        __m512 v[2] = {c##i##0, c##i##1};                                                                          \
        if (accumulate) {                                                                                          \
            v[0] = _mm512_add_ps(v[0], _mm512_maskz_loadu_ps(m0, c));                                              \
            v[1] = _mm512_add_ps(v[1], _mm512_maskz_loadu_ps(m1, c + 16));                                         \
        }                                                                                                          \
        if (ep)                                                                                                    \
            row_epilogue(ep, v, row0 + i, col0, m0, m1);                                                           \
        _mm512_mask_storeu_ps(c, m0, v[0]);                                                                        \
        _mm512_mask_storeu_ps(c + 16, m1, v[1]);                                                                   \
    }

#define KERNEL(NAME, R, V)                                                                                         \
    static void NAME(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,             \
                     bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0)                           \
    {                                                                                                              \
        enum { ROWS = R, VECS = V };                                                                               \
        __m512 z = _mm512_setzero_ps();                                                                            \
        __m512 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, \
               c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;                                                        \
        for (int64_t k = 0; k < K; k++) {                                                                          \
            __m512 b0 = _mm512_loadu_ps(Bp), b1 = VECS > 1 ? _mm512_loadu_ps(Bp + 16) : z;                         \
            ROW(0)                                                                                                 \
            ROW(1)                                                                                                 \
            ROW(2)                                                                                                 \
            ROW(3)                                                                                                 \
            ROW(4)                                                                                                 \
            ROW(5)                                                                                                 \
            ROW(6)                                                                                                 \
            ROW(7)                                                                                                 \
            Ap += KN_SGEMM_MR_AVX512;                                                                              \
            Bp += KN_SGEMM_NR_AVX512;                                                                              \
        }                                                                                                          \
        __mmask16 m0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);                                             \
        __mmask16 m1 = (__mmask16)(n >= 32 ? 0xffff : n > 16 ? (1u << (n - 16)) - 1 : 0);                          \
        STORE_ROW(0)                                                                                               \
        STORE_ROW(1)                                                                                               \
        STORE_ROW(2)                                                                                               \
        STORE_ROW(3)                                                                                               \
        STORE_ROW(4)                                                                                               \
        STORE_ROW(5)                                                                                               \
        STORE_ROW(6)                                                                                               \
        STORE_ROW(7)                                                                                               \
    }

KERNEL(kernel_8x32, 8, 2)
KERNEL(kernel_4x32, 4, 2)
KERNEL(kernel_8x16, 8, 1)
KERNEL(kernel_4x16, 4, 1)

void kn_sgemm_kernel_avx512(int64_t K, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                            bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0)
{
    static const kn_sgemm_kernel_fn by_shape[2][2] = {{kernel_4x16, kernel_8x16}, {kernel_4x32, kernel_8x32}};
    for (int r = 0; r < m; r += 8) {
        int rows = m - r < 8 ? m - r : 8;
        by_shape[n > 16][rows > 4](K, Ap + r, Bp, C + r * ldc, ldc, rows, n, accumulate, ep, row0 + r, col0);
    }
}

/* Transposed kernel for outputs with few columns (a 7x7 feature map has
 * 49, which 16-lane vectors along the columns would pad to 64): vectors
 * run along the rows instead, two 16-row A panels (a_next floats apart) x
 * P columns of a packed B panel 16 wide (at most 14 used), 2 x 14
 * accumulators with the B value broadcast from memory. The tile is
 * transposed through the stack when stored; one variant per column count
 * keeps every FMA useful. */
#define PIX(i)                                                                   \
    if (PIXELS > i) {                                                            \
        __m512 b = _mm512_set1_ps(Bp[i]);                                        \
        c##i##0 = _mm512_fmadd_ps(b, a0, c##i##0);                               \
        if (VECS > 1)                                                            \
            c##i##1 = _mm512_fmadd_ps(b, a1, c##i##1);                           \
    }

#define KERNEL_T(NAME, P, V)                                                                                       \
    static void NAME(int64_t K, const float *Ap, int64_t a_next, const float *Bp, float *acc_out)                  \
    {                                                                                                              \
        enum { PIXELS = P, VECS = V };                                                                             \
        __m512 z = _mm512_setzero_ps();                                                                            \
        __m512 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, \
               c51 = z, c60 = z, c61 = z, c70 = z, c71 = z, c80 = z, c81 = z, c90 = z, c91 = z, c100 = z,          \
               c101 = z, c110 = z, c111 = z, c120 = z, c121 = z, c130 = z, c131 = z;                               \
        const float *Ap1 = Ap + a_next;                                                                            \
        for (int64_t k = 0; k < K; k++) {                                                                          \
            __m512 a0 = _mm512_loadu_ps(Ap), a1 = VECS > 1 ? _mm512_loadu_ps(Ap1) : z;                             \
            PIX(0)                                                                                                 \
            PIX(1)                                                                                                 \
            PIX(2)                                                                                                 \
            PIX(3)                                                                                                 \
            PIX(4)                                                                                                 \
            PIX(5)                                                                                                 \
            PIX(6)                                                                                                 \
            PIX(7)                                                                                                 \
            PIX(8)                                                                                                 \
            PIX(9)                                                                                                 \
            PIX(10)                                                                                                \
            PIX(11)                                                                                                \
            PIX(12)                                                                                                \
            PIX(13)                                                                                                \
            Ap += KN_SGEMM_MR_AVX512;                                                                              \
            Ap1 += KN_SGEMM_MR_AVX512;                                                                             \
            Bp += KN_SGEMM_TR_STRIDE;                                                                              \
        }                                                                                                          \
        __m512 acc[14][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},     {c40, c41},                       \
                             {c50, c51}, {c60, c61}, {c70, c71}, {c80, c81},     {c90, c91},                       \
                             {c100, c101}, {c110, c111}, {c120, c121}, {c130, c131}};                              \
        for (int i = 0; i < PIXELS; i++) {                                                                         \
            _mm512_store_ps(acc_out + i * 32, acc[i][0]);                                                          \
            _mm512_store_ps(acc_out + i * 32 + 16, acc[i][1]);                                                     \
        }                                                                                                          \
    }

#define KERNEL_T_PAIR(P) KERNEL_T(kernel_t##P##_1, P, 1) KERNEL_T(kernel_t##P##_2, P, 2)
KERNEL_T_PAIR(1)
KERNEL_T_PAIR(2)
KERNEL_T_PAIR(3)
KERNEL_T_PAIR(4)
KERNEL_T_PAIR(5)
KERNEL_T_PAIR(6)
KERNEL_T_PAIR(7)
KERNEL_T_PAIR(8)
KERNEL_T_PAIR(9)
KERNEL_T_PAIR(10)
KERNEL_T_PAIR(11)
KERNEL_T_PAIR(12)
KERNEL_T_PAIR(13)
KERNEL_T_PAIR(14)

typedef void (*kernel_t_fn)(int64_t K, const float *Ap, int64_t a_next, const float *Bp, float *acc_out);

void kn_sgemm_kernel_t_avx512(int64_t K, const float *Ap, int64_t a_next, const float *Bp, float *C, int64_t ldc,
                              int m, int n, bool accumulate, const kn_epilogue *ep, int64_t row0, int64_t col0)
{
#define PAIR(P) {kernel_t##P##_1, kernel_t##P##_2}
    static const kernel_t_fn by_shape[14][2] = {PAIR(1), PAIR(2),  PAIR(3),  PAIR(4),  PAIR(5),  PAIR(6),  PAIR(7),
                                                PAIR(8), PAIR(9),  PAIR(10), PAIR(11), PAIR(12), PAIR(13), PAIR(14)};
#undef PAIR
    _Alignas(64) float t[14 * 32];
    by_shape[n - 1][m > 16](K, Ap, a_next, Bp, t);
    /* Row i of C is column i of t: one gather per row, then the same
     * in-register epilogue as the main kernel. */
    const __m512i idx = _mm512_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 0, 0);
    __mmask16 m0 = (__mmask16)((1u << n) - 1);
    for (int i = 0; i < m; i++) {
        float *c = C + i * ldc;
        __m512 v[2] = {_mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, idx, t + i, 4), _mm512_setzero_ps()};
        if (accumulate)
            v[0] = _mm512_add_ps(v[0], _mm512_maskz_loadu_ps(m0, c));
        if (ep)
            row_epilogue(ep, v, row0 + i, col0, m0, 0);
        _mm512_mask_storeu_ps(c, m0, v[0]);
    }
}

/* ---- packing B ----------------------------------------------------------
 * One panel of cols <= stride columns (stride 16 or 32), k rows [k0, k0 +
 * kc), into dst (kc x stride), with
 * vector loads instead of the generic packer's per-run memcpy and scalar
 * tails: for 3x3 convs with few output channels, packing cost as much as
 * the arithmetic. Masked loads do not fault on masked-out lanes, so padding
 * taps need no bounds test; masked-out lanes read as zero. */

static inline __mmask64 lane_range(int64_t a, int64_t b)
{
    if (b <= a)
        return 0;
    uint64_t hi = b >= 64 ? ~0ull : (1ull << b) - 1, lo = a >= 64 ? ~0ull : (1ull << a) - 1;
    return (__mmask64)(hi & ~lo);
}

/* A run of panel columns inside one output row. */
typedef struct seg {
    int64_t oh, ow0;
    int lane, len;
} seg;

/* Largest kernel extent the vector packer precomputes its masks for. */
#define PACK_MAX_TAPS 16

static void pack_conv(const kn_bsrc *B, int64_t n0, int nn, int64_t k0, int64_t kc, float *dst, int stride)
{
    seg segs[32];
    int ns = 0;
    for (int j = 0; j < nn;) {
        int64_t n = n0 + j, oh = n / B->OW, ow0 = n % B->OW;
        int run = (int)(B->OW - ow0 < nn - j ? B->OW - ow0 : nn - j);
        segs[ns++] = (seg){oh, ow0, j, run};
        j += run;
    }
    /* Everything but the channel depends on kh (input row of each run) or
     * kw (lanes inside the image, source offset), so it is computed once
     * per panel: a k row is then two masked loads per run. */
    int64_t rowoff[PACK_MAX_TAPS][32], boff[PACK_MAX_TAPS][32];
    uint32_t lanes[PACK_MAX_TAPS][32];        /* SW 1: valid lanes */
    uint32_t src[PACK_MAX_TAPS][32][2];       /* SW 2: source elements per half */
    uint16_t keep[PACK_MAX_TAPS][32][2];      /* SW 2: lanes per half */
    int sh = B->SW == 2;
    for (int64_t kh = 0; kh < B->KH; kh++)
        for (int s = 0; s < ns; s++) {
            int64_t ih = segs[s].oh * B->SH - B->PH + kh * B->DH;
            rowoff[kh][s] = ih < 0 || ih >= B->H ? -1 : ih * B->W;
        }
    for (int64_t kw = 0; kw < B->KW; kw++) {
        int64_t off = kw * B->DW - B->PW; /* iw = ow * SW + off */
        /* ow range with 0 <= iw < W */
        int64_t lo = off >= 0 ? 0 : (-off + sh) >> sh;
        int64_t hi = B->W - off <= 0 ? 0 : (B->W - off + sh) >> sh;
        for (int s = 0; s < ns; s++) {
            int64_t a0 = lo > segs[s].ow0 ? lo : segs[s].ow0;
            int64_t a1 = hi < segs[s].ow0 + segs[s].len ? hi : segs[s].ow0 + segs[s].len;
            if (a1 < a0)
                a1 = a0;
            /* valid lanes [la, lb): lane l is output column ow0 + l - lane */
            int64_t la = segs[s].lane + a0 - segs[s].ow0, lb = segs[s].lane + a1 - segs[s].ow0;
            lanes[kw][s] = (uint32_t)lane_range(la, lb);
            boff[kw][s] = off + (segs[s].ow0 - segs[s].lane) * ((int64_t)1 << sh); /* lane l reads base[l << sh] */
            for (int h = 0; h < 2; h++) {
                /* SW 2: load the contiguous source span [2 la, 2 lb - 1)
                 * of each half and keep its even elements */
                int64_t ha = la - 16 * h, hb = lb - 16 * h;
                ha = ha < 0 ? 0 : ha;
                hb = hb > 16 ? 16 : hb;
                src[kw][s][h] = hb > ha ? (uint32_t)lane_range(2 * ha, 2 * hb - 1) : 0;
                keep[kw][s][h] = hb > ha ? (uint16_t)lane_range(ha, hb) : 0;
            }
        }
    }
    int64_t khw = B->KH * B->KW;
    int64_t c = k0 / khw, r = k0 % khw, kh = r / B->KW, kw = r % B->KW;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int64_t k = 0; k < kc; k++, dst += stride) {
        const float *plane = B->data + c * B->H * B->W;
        __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
        for (int s = 0; s < ns; s++) {
            if (rowoff[kh][s] < 0)
                continue;
            const float *base = plane + rowoff[kh][s] + boff[kw][s];
            if (!sh) {
                uint32_t m = lanes[kw][s];
                v0 = _mm512_mask_loadu_ps(v0, (__mmask16)m, base);
                v1 = _mm512_mask_loadu_ps(v1, (__mmask16)(m >> 16), base + 16);
            } else {
                if (keep[kw][s][0]) {
                    uint32_t m = src[kw][s][0];
                    __m512 x0 = _mm512_maskz_loadu_ps((__mmask16)m, base);
                    __m512 x1 = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), base + 16);
                    v0 = _mm512_mask_mov_ps(v0, keep[kw][s][0], _mm512_permutex2var_ps(x0, even, x1));
                }
                if (keep[kw][s][1]) {
                    uint32_t m = src[kw][s][1];
                    __m512 x0 = _mm512_maskz_loadu_ps((__mmask16)m, base + 32);
                    __m512 x1 = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), base + 48);
                    v1 = _mm512_mask_mov_ps(v1, keep[kw][s][1], _mm512_permutex2var_ps(x0, even, x1));
                }
            }
        }
        _mm512_storeu_ps(dst, v0);
        if (stride > 16)
            _mm512_storeu_ps(dst + 16, v1);
        if (++kw == B->KW) {
            kw = 0;
            if (++kh == B->KH) {
                kh = 0;
                c++;
            }
        }
    }
}

static void pack_matrix(const kn_bsrc *B, int64_t n0, int nn, int64_t k0, int64_t kc, float *dst, int stride)
{
    __mmask64 m = lane_range(0, nn);
    const float *src = B->data + k0 * B->ld + n0;
    for (int64_t k = 0; k < kc; k++, dst += stride, src += B->ld) {
        _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps((__mmask16)m, src));
        if (stride > 16)
            _mm512_storeu_ps(dst + 16, _mm512_maskz_loadu_ps((__mmask16)(m >> 16), src + 16));
    }
}

bool kn_sgemm_pack_b_avx512_ok(const kn_bsrc *B)
{
    return B->kind == KN_BSRC_CONV2D
               ? (B->SW == 1 || B->SW == 2) && B->KH <= PACK_MAX_TAPS && B->KW <= PACK_MAX_TAPS
               : !B->trans;
}

void kn_sgemm_pack_b_avx512(const kn_bsrc *B, int64_t n0, int cols, int64_t k0, int64_t kc, float *dst, int stride)
{
    if (B->kind == KN_BSRC_CONV2D)
        pack_conv(B, n0, cols, k0, kc, dst, stride);
    else
        pack_matrix(B, n0, cols, k0, kc, dst, stride);
}
