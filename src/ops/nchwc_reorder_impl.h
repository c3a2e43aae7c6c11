/* Task context shared by the portable reorders (nchwc_reorder.c) and the
 * vector ones (nchwc_reorder_avx512.c, nchwc_reorder_avx2.c). One task is
 * one run of pixels of one 16-channel block of one image; the run length is
 * a multiple of 16 so the vector kernels work on whole tiles except at the
 * plane's end. */
#ifndef KN_NCHWC_REORDER_IMPL_H
#define KN_NCHWC_REORDER_IMPL_H

#include "ops/nchwc.h"

/* pixels per task: 16 tiles, 16 KB of each side */
#define KN_NCHWC_REORDER_RUN 256

typedef struct kn_nchwc_reorder_job {
    int64_t C, CB, HW, runs; /* runs: tasks per (image, block) */
    const float *x;
    float *y;
} kn_nchwc_reorder_job;

void kn_nchwc_reorder_in_avx512(void *arg, size_t task);
void kn_nchwc_reorder_out_avx512(void *arg, size_t task);
void kn_nchwc_reorder_in_avx2(void *arg, size_t task);
void kn_nchwc_reorder_out_avx2(void *arg, size_t task);

#endif
