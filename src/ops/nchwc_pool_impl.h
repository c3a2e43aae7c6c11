/* Task contexts and window helpers shared by the portable blocked pools
 * (nchwc_pool.c) and the vector ones (nchwc_pool_avx512.c,
 * nchwc_pool_avx2.c). All forms apply the same float operations in the
 * same order to every lane (taps in row-major window order, the same
 * accumulator split for global pools), so they agree bit for bit. */
#ifndef KN_NCHWC_POOL_IMPL_H
#define KN_NCHWC_POOL_IMPL_H

#include "ops/nchwc.h"

#include <math.h>

typedef struct kn_nchwc_pool_job {
    int64_t KH, KW, SH, SW, DH, DW, PT, PL, PB, PR;
    int64_t H, W, OH, OW;
    bool max, count_include_pad;
    int64_t rows, chunks; /* output rows per task, tasks per (image, block) */
    const float *x;
    float *y;
} kn_nchwc_pool_job;

/* One task per (image, block); also channel_mul's pixel runs. */
typedef struct kn_nchwc_plane_job {
    int64_t HW, runs;
    bool max;
    const float *x, *s;
    float *y;
} kn_nchwc_plane_job;

/* pixels per channel_mul task */
#define KN_NCHWC_MUL_RUN 1024
/* independent accumulators of a global pool (latency of the adds); the
 * pixel p goes to accumulator p % 8, combined as a balanced tree */
#define KN_NCHWC_GLOBAL_ACC 8

void kn_nchwc_pool_task_avx512(void *arg, size_t task);
void kn_nchwc_global_task_avx512(void *arg, size_t task);
void kn_nchwc_mul_task_avx512(void *arg, size_t task);
void kn_nchwc_pool_task_avx2(void *arg, size_t task);
void kn_nchwc_global_task_avx2(void *arg, size_t task);
void kn_nchwc_mul_task_avx2(void *arg, size_t task);

/* Taps of the window inside the padded input (before n + pad_end): the
 * window starts at or after the leading pad, so only its end is clipped
 * (ceil_mode overhang). */
static inline int64_t kn_nchwc_taps_in_pad(int64_t s0, int64_t d, int64_t k, int64_t n, int64_t pad_end)
{
    int64_t lim = n + pad_end - s0;
    if (lim <= 0)
        return 0;
    lim = (lim + d - 1) / d;
    return lim < k ? lim : k;
}

/* Max of lane l of a window whose vector maximum (NaN taps skipped, start
 * -inf) came out -inf: -inf if some tap is a number, NaN if every tap is
 * NaN or there is none -- the rule of kn_pool_ref. xw points at the
 * window's first in-range tap, taps at (kh * DH * W + kw * DW) * 16. */
static inline float kn_nchwc_max_fixup(const float *xw, int64_t W, int64_t DH, int64_t DW, int64_t nh, int64_t nw,
                                       int l)
{
    for (int64_t kh = 0; kh < nh; kh++)
        for (int64_t kw = 0; kw < nw; kw++) {
            float v = xw[(kh * DH * W + kw * DW) * KN_NCHWC_BLOCK + l];
            if (v == v)
                return -INFINITY;
        }
    return NAN;
}

#endif
