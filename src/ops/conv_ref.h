/* Plain C reference kernels for the conv and pool families (Conv,
 * ConvTranspose, MaxPool, AveragePool, LpPool) and the window geometry they
 * share. Fast kernels (im2col-free GEMM, NCHWc, ...) are tested against
 * these, so they favour clarity; they are still blocked enough to run the
 * benchmark models in tests.
 *
 * Geometry is given for 1 to 3 spatial dimensions; internally every kernel
 * treats the problem as 3-D with leading size-1 dimensions. All kernels give
 * bit-identical results whatever the thread pool size: each output element
 * is computed by one task, always in the same order. */
#ifndef KN_CONV_REF_H
#define KN_CONV_REF_H

#include "ops/op.h"

#define KN_CONV_MAX_SPATIAL 3

typedef enum kn_auto_pad {
    KN_AUTO_PAD_NOTSET = 0,
    KN_AUTO_PAD_SAME_UPPER,
    KN_AUTO_PAD_SAME_LOWER,
    KN_AUTO_PAD_VALID
} kn_auto_pad;

/* The "auto_pad" attribute of node n (default NOTSET); unknown strings fail
 * with a message naming the node. */
kiln_status kn_parse_auto_pad(const kn_node *n, kn_auto_pad *out);

/* One spatial dimension of a sliding window (Conv, QLinearConv,
 * ConvInteger, the pools): from the input extent in, kernel k, stride s,
 * dilation d, auto_pad and the explicit pads (pads[i] begin,
 * pads[i + nsp] end; n_pads 0 = none), the output extent and the begin/end
 * padding. ceil_mode (pools) rounds the explicit-pad output up, keeping the
 * last window's start inside the input or its leading pad. A window larger
 * than the padded input is a shape error naming node n and dimension i. */
kiln_status kn_window_dim(const kn_node *n, int i, int nsp, kn_auto_pad auto_pad, int64_t in, int64_t k, int64_t s,
                          int64_t d, const int64_t *pads, size_t n_pads, bool ceil_mode, int64_t *out,
                          int64_t *pad_begin, int64_t *pad_end);

/* Copy the INTS attribute name of node n (kernel_shape, strides, pads, ...)
 * into dst: at most max entries (more: UNSUPPORTED, too many spatial dims),
 * each at least min_value (else a model error naming the entry). */
kiln_status kn_attr_get_spatial_ints(const kn_node *n, const char *name, size_t max, int64_t min_value,
                                     int64_t *dst, size_t *count);

/* Conv and ConvTranspose. For Conv, x is [N, C, in...], w [M, C/group, k...]
 * and y [N, M, out...]; for ConvTranspose, x is [N, C, in...],
 * w [C, M/group, k...] and y [N, M, out...]. pad is the leading (begin)
 * padding: for Conv the trailing padding only matters through out[]; for
 * ConvTranspose it is what is cropped from the end of the full result. */
typedef struct kn_conv_params {
    int nsp; /* spatial dimensions, 1..KN_CONV_MAX_SPATIAL */
    int64_t N, C, M, group;
    int64_t in[KN_CONV_MAX_SPATIAL], out[KN_CONV_MAX_SPATIAL], k[KN_CONV_MAX_SPATIAL];
    int64_t stride[KN_CONV_MAX_SPATIAL], dil[KN_CONV_MAX_SPATIAL], pad[KN_CONV_MAX_SPATIAL];
} kn_conv_params;

/* Scratch bytes kn_conv_ref_f32 needs (0 for 1x1 stride-1 unpadded convs);
 * false if the size overflows. */
bool kn_conv_ref_scratch_bytes(const kn_conv_params *p, size_t *bytes);
/* y = conv(x, w) + b (b may be NULL). scratch: kn_conv_ref_scratch_bytes,
 * 64-byte aligned. pool may be NULL. */
void kn_conv_ref_f32(const kn_conv_params *p, const float *x, const float *w, const float *b, float *y,
                     void *scratch, pthreadpool_t pool);
/* y = conv_transpose(x, w) + b (b may be NULL); needs no scratch. */
void kn_conv_transpose_ref_f32(const kn_conv_params *p, const float *x, const float *w, const float *b,
                               float *y, pthreadpool_t pool);

typedef enum kn_pool_kind {
    KN_POOL_MAX,
    KN_POOL_AVG,
    KN_POOL_LP
} kn_pool_kind;

typedef struct kn_pool_params {
    int nsp;
    kn_pool_kind kind;
    int64_t N, C;
    int64_t in[KN_CONV_MAX_SPATIAL], out[KN_CONV_MAX_SPATIAL], k[KN_CONV_MAX_SPATIAL];
    int64_t stride[KN_CONV_MAX_SPATIAL], dil[KN_CONV_MAX_SPATIAL];
    /* Window taps at or beyond in + pad_end (ceil_mode overhang) are never
     * counted; taps in [-pad, 0) and [in, in + pad_end) are padding. */
    int64_t pad[KN_CONV_MAX_SPATIAL], pad_end[KN_CONV_MAX_SPATIAL];
    bool count_include_pad; /* AVG: divide by taps inside the padded input */
    int64_t p;              /* LP: the norm's exponent */
    bool indices_col_major; /* MaxPool storage_order = 1 */
} kn_pool_params;

/* Pool x [N, C, in...] of dtype (FLOAT, DOUBLE, FLOAT16; MAX also INT8 and
 * UINT8) into y [N, C, out...]. indices (MAX only, may be NULL) receives the
 * flat input index of each maximum, as the MaxPool Indices output. An empty
 * window (all padding) yields NaN (0 for integers) and index -1. */
void kn_pool_ref(const kn_pool_params *p, kiln_dtype dtype, const void *x, void *y, int64_t *indices,
                 pthreadpool_t pool);

/* Floor / ceiling division for any signs (b > 0). */
static inline int64_t kn_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}
static inline int64_t kn_ceil_div(int64_t a, int64_t b)
{
    return -kn_floor_div(-a, b);
}

#endif
