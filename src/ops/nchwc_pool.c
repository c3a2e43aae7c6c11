/* Blocked (NCHWc) MaxPool, AveragePool, global pools and the per-channel
 * scale of squeeze-excitation: the portable forms (16-float arrays standing
 * in for the vectors of nchwc_pool_avx512.c and nchwc_pool_avx2.c, same
 * operations in the same order) and the dispatch. Every window tap of a blocked tensor is one
 * 16-channel vector, so no layout work is needed here. */
#include "ops/nchwc_pool_impl.h"

#define B KN_NCHWC_BLOCK

static void pool_task_generic(void *arg, size_t task)
{
    const kn_nchwc_pool_job *j = arg;
    const int64_t plane = (int64_t)task / j->chunks, chunk = (int64_t)task % j->chunks;
    const int64_t oh0 = chunk * j->rows, oh1 = oh0 + j->rows < j->OH ? oh0 + j->rows : j->OH;
    const float *x = j->x + plane * j->H * j->W * B;
    float *y = j->y + plane * j->OH * j->OW * B;
    for (int64_t oh = oh0; oh < oh1; oh++) {
        const int64_t ih0 = oh * j->SH - j->PT;
        int64_t khl, khh;
        kn_nchwc_taps(ih0, j->DH, j->KH, j->H, &khl, &khh);
        const int64_t cnt_h = j->count_include_pad ? kn_nchwc_taps_in_pad(ih0, j->DH, j->KH, j->H, j->PB) : khh - khl;
        for (int64_t ow = 0; ow < j->OW; ow++) {
            const int64_t iw0 = ow * j->SW - j->PL;
            int64_t kwl, kwh;
            kn_nchwc_taps(iw0, j->DW, j->KW, j->W, &kwl, &kwh);
            /* an empty window reads nothing (its result is NaN): keep xw inside x */
            const int64_t nh = khh - khl, nw = kwh - kwl;
            const float *xw = nh && nw ? x + ((ih0 + khl * j->DH) * j->W + iw0 + kwl * j->DW) * B : x;
            float *yo = y + (oh * j->OW + ow) * B;
            float acc[B];
            if (j->max) {
                for (int l = 0; l < B; l++)
                    acc[l] = -INFINITY;
                for (int64_t kh = 0; kh < nh; kh++)
                    for (int64_t kw = 0; kw < nw; kw++) {
                        const float *v = xw + (kh * j->DH * j->W + kw * j->DW) * B;
                        for (int l = 0; l < B; l++)
                            acc[l] = v[l] > acc[l] ? v[l] : acc[l];
                    }
                for (int l = 0; l < B; l++)
                    yo[l] = acc[l] == -INFINITY
                                ? kn_nchwc_max_fixup(xw, j->W, j->DH, j->DW, nh, nw, l)
                                : acc[l];
            } else {
                for (int l = 0; l < B; l++)
                    acc[l] = 0.0f;
                for (int64_t kh = 0; kh < nh; kh++)
                    for (int64_t kw = 0; kw < nw; kw++) {
                        const float *v = xw + (kh * j->DH * j->W + kw * j->DW) * B;
                        for (int l = 0; l < B; l++)
                            acc[l] += v[l];
                    }
                const int64_t cnt_w =
                    j->count_include_pad ? kn_nchwc_taps_in_pad(iw0, j->DW, j->KW, j->W, j->PR) : nw;
                /* an empty window gives 0 / 0 = NaN, as the reference */
                const float div = (float)(cnt_h * cnt_w);
                for (int l = 0; l < B; l++)
                    yo[l] = acc[l] / div;
            }
        }
    }
}

static void global_task_generic(void *arg, size_t task)
{
    const kn_nchwc_plane_job *j = arg;
    const float *x = j->x + (int64_t)task * j->HW * B;
    float *y = j->y + (int64_t)task * B;
    float acc[KN_NCHWC_GLOBAL_ACC][B];
    for (int a = 0; a < KN_NCHWC_GLOBAL_ACC; a++)
        for (int l = 0; l < B; l++)
            acc[a][l] = j->max ? -INFINITY : 0.0f;
    for (int64_t p = 0; p < j->HW; p++) {
        float *r = acc[p % KN_NCHWC_GLOBAL_ACC];
        const float *v = x + p * B;
        if (j->max) {
            for (int l = 0; l < B; l++)
                r[l] = v[l] > r[l] ? v[l] : r[l];
        } else {
            for (int l = 0; l < B; l++)
                r[l] += v[l];
        }
    }
    for (int w = KN_NCHWC_GLOBAL_ACC / 2; w >= 1; w /= 2)
        for (int a = 0; a < w; a++)
            for (int l = 0; l < B; l++) {
                float u = acc[2 * a][l], v = acc[2 * a + 1][l];
                acc[a][l] = j->max ? (u > v ? u : v) : u + v;
            }
    for (int l = 0; l < B; l++) {
        if (!j->max)
            y[l] = acc[0][l] / (float)j->HW;
        else
            y[l] = acc[0][l] == -INFINITY ? kn_nchwc_max_fixup(x, j->HW, 1, 1, 1, j->HW, l) : acc[0][l];
    }
}

static void mul_task_generic(void *arg, size_t task)
{
    const kn_nchwc_plane_job *j = arg;
    const int64_t plane = (int64_t)task / j->runs, run = (int64_t)task % j->runs;
    const int64_t p0 = run * KN_NCHWC_MUL_RUN, p1 = p0 + KN_NCHWC_MUL_RUN < j->HW ? p0 + KN_NCHWC_MUL_RUN : j->HW;
    const float *x = j->x + plane * j->HW * B, *s = j->s + plane * B;
    float *y = j->y + plane * j->HW * B;
    for (int64_t p = p0; p < p1; p++)
        for (int l = 0; l < B; l++)
            y[p * B + l] = x[p * B + l] * s[l];
}

static void pool2d(const kn_nchwc_pool *p, bool max, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH,
                   int64_t OW, int64_t PB, int64_t PR, const float *x, float *y, kn_isa_level isa,
                   pthreadpool_t pool)
{
    if (N <= 0 || C <= 0 || OH <= 0 || OW <= 0)
        return;
    kn_nchwc_pool_job j = {.KH = p->KH, .KW = p->KW, .SH = p->g.SH, .SW = p->g.SW, .DH = p->g.DH, .DW = p->g.DW,
                           .PT = p->g.PT, .PL = p->g.PL, .PB = PB, .PR = PR, .H = H, .W = W, .OH = OH, .OW = OW,
                           .max = max, .count_include_pad = p->count_include_pad, .x = x, .y = y};
    /* about 512 output pixels per task: enough tasks for the threads on
     * few-block layers, few enough that scheduling costs nothing */
    j.rows = (512 + OW - 1) / OW;
    if (j.rows > OH)
        j.rows = OH;
    j.chunks = (OH + j.rows - 1) / j.rows;
    kn_parallel_for(pool, (size_t)(N * kn_nchwc_blocks(C) * j.chunks),
                    isa == KN_ISA_AVX512 ? kn_nchwc_pool_task_avx512
                    : isa == KN_ISA_AVX2 ? kn_nchwc_pool_task_avx2
                                         : pool_task_generic, &j);
}

void kn_nchwc_maxpool(const kn_nchwc_pool *p, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW,
                      const float *x, float *y, kn_isa_level isa, pthreadpool_t pool)
{
    pool2d(p, true, N, C, H, W, OH, OW, 0, 0, x, y, isa, pool);
}

void kn_nchwc_avgpool(const kn_nchwc_pool *p, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW,
                      int64_t PB, int64_t PR, const float *x, float *y, kn_isa_level isa, pthreadpool_t pool)
{
    pool2d(p, false, N, C, H, W, OH, OW, PB, PR, x, y, isa, pool);
}

void kn_nchwc_global_pool(bool max, int64_t N, int64_t C, int64_t H, int64_t W, const float *x, float *y,
                          kn_isa_level isa, pthreadpool_t pool)
{
    kn_nchwc_plane_job j = {.HW = H * W, .runs = 1, .max = max, .x = x, .y = y};
    if (N <= 0 || C <= 0 || j.HW <= 0)
        return;
    kn_parallel_for(pool, (size_t)(N * kn_nchwc_blocks(C)),
                    isa == KN_ISA_AVX512 ? kn_nchwc_global_task_avx512
                    : isa == KN_ISA_AVX2 ? kn_nchwc_global_task_avx2
                                         : global_task_generic, &j);
}

void kn_nchwc_channel_mul(int64_t N, int64_t C, int64_t H, int64_t W, const float *x, const float *s, float *y,
                          kn_isa_level isa, pthreadpool_t pool)
{
    kn_nchwc_plane_job j = {.HW = H * W, .x = x, .s = s, .y = y};
    if (N <= 0 || C <= 0 || j.HW <= 0)
        return;
    j.runs = (j.HW + KN_NCHWC_MUL_RUN - 1) / KN_NCHWC_MUL_RUN;
    kn_parallel_for(pool, (size_t)(N * kn_nchwc_blocks(C) * j.runs),
                    isa == KN_ISA_AVX512 ? kn_nchwc_mul_task_avx512
                    : isa == KN_ISA_AVX2 ? kn_nchwc_mul_task_avx2
                                         : mul_task_generic, &j);
}
