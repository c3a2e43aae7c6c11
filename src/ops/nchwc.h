/* Blocked channel layout (NCHWc) kernels. A blocked tensor with logical
 * shape [N, C, H, W] is stored as [N][CB][H][W][16] floats, CB = ceil(C /
 * 16): the 16 channels of a block are contiguous for each pixel, so a conv
 * kernel broadcasts one input value against a vector of 16 output channels
 * and stores its output tile with plain vector stores -- no im2col packing,
 * no transposes. Chains of convs and pools stay blocked; the nchwc pass
 * (src/graph/nchwc.c) puts reorders only where the chain meets other ops.
 *
 * Lanes of the last block past C ("pad lanes") hold finite values that
 * consumers ignore: packed weights are zero there, and reorders drop them.
 * Producers here write act(0 + 0) = act(0) into them (conv) or what the
 * window gives (pools), never NaN/Inf from uninitialized memory.
 *
 * Every kernel has a plain C form (isa KN_ISA_GENERIC, also the reference
 * the tests compare the AVX2 and AVX-512 forms against) and gives results
 * that do not depend on the thread count. */
#ifndef KN_NCHWC_H
#define KN_NCHWC_H

#include "ops/conv_fast.h"

#define KN_NCHWC_BLOCK 16

static inline int64_t kn_nchwc_blocks(int64_t c)
{
    return (c + KN_NCHWC_BLOCK - 1) / KN_NCHWC_BLOCK;
}

/* Window geometry of one spatial dimension, shared by the blocked conv,
 * depthwise and pool kernels. */

/* The taps [*lo, *hi) of a window starting at input coordinate s0 (k taps,
 * dilation d) that land inside [0, n); *lo == *hi when none do. */
static inline void kn_nchwc_taps(int64_t s0, int64_t d, int64_t k, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t a = s0 < 0 ? (-s0 + d - 1) / d : 0;
    int64_t b = n - s0 <= 0 ? 0 : (n - s0 + d - 1) / d;
    if (b > k)
        b = k;
    if (a > b)
        a = b;
    *lo = a;
    *hi = b;
}

/* Output positions [*lo, *hi) of out whose whole window (starting at
 * o * s - pad, k taps, dilation d) lies inside [0, n): the interior that
 * needs no bounds tests. */
static inline void kn_nchwc_interior(int64_t pad, int64_t s, int64_t d, int64_t k, int64_t n, int64_t out,
                                     int64_t *lo, int64_t *hi)
{
    int64_t l = pad > 0 ? (pad + s - 1) / s : 0;
    int64_t last = n - 1 + pad - (k - 1) * d; /* o * s must not pass it */
    int64_t h = last < 0 ? 0 : last / s + 1;
    h = h < out ? h : out;
    *lo = l < h ? l : h;
    *hi = h;
}

/* ---- reorders (nchwc_reorder.c) ---- */
/* x [N, C, H, W] -> y [N][CB][H][W][16], pad lanes zero. */
void kn_nchwc_reorder_in(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float *y, kn_isa_level isa,
                         pthreadpool_t pool);
/* x blocked -> y [N, C, H, W] (pad lanes dropped). */
void kn_nchwc_reorder_out(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float *y, kn_isa_level isa,
                          pthreadpool_t pool);

/* ---- convolution, group 1 (nchwc_conv*.c) ---- */
typedef struct kn_nchwc_conv {
    int64_t M, C, KH, KW; /* logical output / input channels, kernel */
    bool nchw_input;      /* input is plain NCHW (for stems with few channels) */
    kn_isa_level isa;
    float *w;    /* packed for the kernel; layout private to nchwc_conv*.c */
    float *bias; /* [MB * 16], zero past M (always present) */
} kn_nchwc_conv;

/* Pack weights [M, C, KH, KW] (bias [M] or NULL). nchw_input: the run
 * reads x as plain [N, C, H, W] instead of blocked. */
kiln_status kn_nchwc_conv_pack(int64_t M, int64_t C, int64_t KH, int64_t KW, const float *w, const float *bias,
                               bool nchw_input, kn_isa_level isa, kn_nchwc_conv **out);
void kn_nchwc_conv_free(kn_nchwc_conv *p);
/* y (blocked [N, M, OH, OW]) = act(conv(x) + bias + residual), residual
 * blocked like y or NULL, act NULL for none (its bias/residual fields are
 * ignored). Padding taps read as zero. x is blocked [N, C, H, W] unless
 * p->nchw_input. */
void kn_nchwc_conv_run(const kn_nchwc_conv *p, const kn_conv2d_geom *g, int64_t N, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, const float *x, float *y, const float *residual,
                       const kn_epilogue *act, pthreadpool_t pool);
/* The same with image n of y at y + n * ys_img floats (0: dense), as when
 * y is a slice of a channel Concat's output; residual, read at y's
 * offsets, must then be NULL. */
void kn_nchwc_conv_run_strided(const kn_nchwc_conv *p, const kn_conv2d_geom *g, int64_t N, int64_t H, int64_t W,
                               int64_t OH, int64_t OW, const float *x, float *y, int64_t ys_img,
                               const float *residual, const kn_epilogue *act, pthreadpool_t pool);

/* ---- Winograd F(2x2, 3x3) convolution (nchwc_wino.c, nchwc_wino_avx512.c) ----
 * Group 1, 3x3, stride 1, dilation 1, blocked input. Each 2x2 output tile
 * is A^T [U .* (B^T d B)] A: the 16 elementwise products, summed over the
 * input channels, are 16 pointwise (1x1) blocked convolutions over the
 * tiles, so they run on kn_nchwc_conv's kernels: 16 multiply-adds per 4
 * outputs instead of 36. The rounding differs from the direct sum (the
 * transforms scale the terms by up to 4 before they cancel), so results
 * match kn_nchwc_conv_run to about 1e-5 relative, not bit for bit. */
typedef struct kn_nchwc_wino {
    int64_t M, C;
    kn_isa_level isa;
    kn_nchwc_conv *u[16]; /* U_xi = (G g G^T)_xi as 1x1 convs [M, C], no bias */
    float *bias;          /* [MB * 16], zero past M */
} kn_nchwc_wino;

kiln_status kn_nchwc_wino_pack(int64_t M, int64_t C, const float *w, const float *bias, kn_isa_level isa,
                               kn_nchwc_wino **out);
void kn_nchwc_wino_free(kn_nchwc_wino *p);
/* As kn_nchwc_conv_run_strided with a 3x3 kernel, stride 1, dilation 1 and
 * top/left pads PT, PL (OH, OW give the bottom/right ones). Needs scratch
 * memory: KN_NOMEM() if it cannot have it (y then unwritten). */
kiln_status kn_nchwc_wino_run(const kn_nchwc_wino *p, int64_t PT, int64_t PL, int64_t N, int64_t H, int64_t W,
                              int64_t OH, int64_t OW, const float *x, float *y, int64_t ys_img, const float *residual,
                              const kn_epilogue *act, pthreadpool_t pool);
/* Whether the Winograd form measured faster than the direct one for this
 * 3x3 stride-1 convolution (see nchwc_wino.c for the numbers). */
bool kn_nchwc_wino_wins(int64_t M, int64_t C, int64_t H, int64_t W, kn_isa_level isa);

/* ---- depthwise convolution, group == C == M (nchwc_dw*.c) ---- */

typedef struct kn_nchwc_dw {
    int64_t C, KH, KW;
    kn_isa_level isa;
    float *w;    /* [CB][KH][KW][16], zero past C */
    float *bias; /* [CB * 16], zero past C */
} kn_nchwc_dw;

kiln_status kn_nchwc_dw_pack(int64_t C, int64_t KH, int64_t KW, const float *w, const float *bias, kn_isa_level isa,
                             kn_nchwc_dw **out);
void kn_nchwc_dw_free(kn_nchwc_dw *p);
/* Same contract as kn_nchwc_conv_run, x and y blocked. */
void kn_nchwc_dw_run(const kn_nchwc_dw *p, const kn_conv2d_geom *g, int64_t N, int64_t H, int64_t W, int64_t OH,
                     int64_t OW, const float *x, float *y, const float *residual, const kn_epilogue *act,
                     pthreadpool_t pool);

/* ---- pooling (nchwc_pool.c) ---- */
typedef struct kn_nchwc_pool {
    int64_t KH, KW;
    kn_conv2d_geom g;       /* strides, dilations, top/left pads */
    bool count_include_pad; /* average: divide by the full window */
} kn_nchwc_pool;
/* MaxPool: padding taps are ignored (as -inf); NaN propagates as in
 * kn_pool_ref. AveragePool: padding taps count only if count_include_pad,
 * taps past the padded input (ceil_mode windows) never count. */
void kn_nchwc_maxpool(const kn_nchwc_pool *p, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW,
                      const float *x, float *y, kn_isa_level isa, pthreadpool_t pool);
void kn_nchwc_avgpool(const kn_nchwc_pool *p, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW,
                      int64_t PB, int64_t PR, const float *x, float *y, kn_isa_level isa, pthreadpool_t pool);
/* y blocked [N, C, 1, 1] (which is also plain [N, CB * 16, 1, 1]). */
void kn_nchwc_global_pool(bool max, int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float *y,
                          kn_isa_level isa, pthreadpool_t pool);

/* ---- channel scale (nchwc_pool.c): squeeze-excitation's Mul ---- */
/* y[n][cb][h][w][l] = x[n][cb][h][w][l] * s[n][cb * 16 + l]; s blocked
 * [N, C, 1, 1]. y may be x. */
void kn_nchwc_channel_mul(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, const float *s, float *y,
                          kn_isa_level isa, pthreadpool_t pool);

#endif
