/* NCHW <-> NCHWc reorders (nchwc.h): the portable form and the dispatch to
 * the AVX-512 one (16x16 transposes in registers) and the AVX2 one (8x8). */
#include "ops/nchwc_reorder_impl.h"

static void reorder_in_generic(void *arg, size_t task)
{
    const kn_nchwc_reorder_job *j = arg;
    const int64_t plane = (int64_t)task / j->runs, run = (int64_t)task % j->runs;
    const int64_t n = plane / j->CB, cb = plane % j->CB;
    const int64_t p0 = run * KN_NCHWC_REORDER_RUN;
    const int64_t p1 = p0 + KN_NCHWC_REORDER_RUN < j->HW ? p0 + KN_NCHWC_REORDER_RUN : j->HW;
    float *y = j->y + plane * j->HW * KN_NCHWC_BLOCK;
    for (int64_t l = 0; l < KN_NCHWC_BLOCK; l++) {
        const int64_t c = cb * KN_NCHWC_BLOCK + l;
        if (c < j->C) {
            const float *x = j->x + (n * j->C + c) * j->HW;
            for (int64_t p = p0; p < p1; p++)
                y[p * KN_NCHWC_BLOCK + l] = x[p];
        } else {
            for (int64_t p = p0; p < p1; p++)
                y[p * KN_NCHWC_BLOCK + l] = 0.0f;
        }
    }
}

static void reorder_out_generic(void *arg, size_t task)
{
    const kn_nchwc_reorder_job *j = arg;
    const int64_t plane = (int64_t)task / j->runs, run = (int64_t)task % j->runs;
    const int64_t n = plane / j->CB, cb = plane % j->CB;
    const int64_t p0 = run * KN_NCHWC_REORDER_RUN;
    const int64_t p1 = p0 + KN_NCHWC_REORDER_RUN < j->HW ? p0 + KN_NCHWC_REORDER_RUN : j->HW;
    const float *x = j->x + plane * j->HW * KN_NCHWC_BLOCK;
    const int64_t nc = j->C - cb * KN_NCHWC_BLOCK < KN_NCHWC_BLOCK ? j->C - cb * KN_NCHWC_BLOCK : KN_NCHWC_BLOCK;
    for (int64_t l = 0; l < nc; l++) {
        float *y = j->y + (n * j->C + cb * KN_NCHWC_BLOCK + l) * j->HW;
        for (int64_t p = p0; p < p1; p++)
            y[p] = x[p * KN_NCHWC_BLOCK + l];
    }
}

static void reorder(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float *y, kn_parallel_fn fn,
                    pthreadpool_t pool)
{
    kn_nchwc_reorder_job j = {.C = C, .CB = kn_nchwc_blocks(C), .HW = H * W, .x = x, .y = y};
    if (N <= 0 || C <= 0 || j.HW <= 0)
        return;
    j.runs = (j.HW + KN_NCHWC_REORDER_RUN - 1) / KN_NCHWC_REORDER_RUN;
    kn_parallel_for(pool, (size_t)(N * j.CB * j.runs), fn, &j);
}

void kn_nchwc_reorder_in(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float *y, kn_isa_level isa,
                         pthreadpool_t pool)
{
    reorder(N, C, H, W, x, y, isa == KN_ISA_AVX512 ? kn_nchwc_reorder_in_avx512
                               : isa == KN_ISA_AVX2 ? kn_nchwc_reorder_in_avx2
                                                    : reorder_in_generic, pool);
}

void kn_nchwc_reorder_out(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float *y, kn_isa_level isa,
                          pthreadpool_t pool)
{
    reorder(N, C, H, W, x, y, isa == KN_ISA_AVX512 ? kn_nchwc_reorder_out_avx512
                               : isa == KN_ISA_AVX2 ? kn_nchwc_reorder_out_avx2
                                                    : reorder_out_generic, pool);
}
