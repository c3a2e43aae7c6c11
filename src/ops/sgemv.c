/* Packed matrix-vector product (see sgemv.h): the driver and the portable
 * panel kernel. */
#include "ops/sgemv.h"

#include <pthreadpool.h>

/* Panels have at most this many rows (the MR of every ISA is smaller). */
#define KN_SGEMV_MAX_MR 64

/* Below this many weights, one thread: a parallel region costs more. */
#define SGEMV_MIN_PARALLEL (256 * 1024)

void kn_sgemv_panel_generic(const float *panel, int mr, int64_t K, const float *x, float *out)
{
    for (int i = 0; i < mr; i++)
        out[i] = 0.0f;
    for (int64_t k = 0; k < K; k++)
        for (int i = 0; i < mr; i++)
            out[i] += panel[k * mr + i] * x[k];
}

typedef struct sgemv_ctx {
    const kn_packed_a *A;
    const float *x;
    float *y;
    const kn_epilogue *ep;
    int64_t panels_per_task;
    void (*panel)(const float *panel, int mr, int64_t K, const float *x, float *out);
} sgemv_ctx;

static void sgemv_task(void *arg, size_t t)
{
    const sgemv_ctx *c = arg;
    const kn_packed_a *A = c->A;
    const int mr = A->mr;
    int64_t panels = (A->M + mr - 1) / mr;
    int64_t p0 = (int64_t)t * c->panels_per_task, p1 = KN_MIN(panels, p0 + c->panels_per_task);
    for (int64_t p = p0; p < p1; p++) {
        float out[KN_SGEMV_MAX_MR];
        c->panel(A->data + p * mr * A->K, mr, A->K, c->x, out);
        int64_t r0 = p * mr, n = KN_MIN((int64_t)mr, A->M - r0);
        float *y = c->y + r0;
        const kn_epilogue *ep = c->ep;
        for (int64_t i = 0; i < n; i++)
            y[i] = out[i] + (ep && ep->bias ? ep->bias[r0 + i] : 0.0f) +
                   (ep && ep->residual ? ep->residual[r0 + i] : 0.0f);
        if (ep && ep->act != KN_ACT_NONE)
            kn_act_apply(ep, y, n);
    }
}

void kn_sgemv_packed(const kn_packed_a *A, const float *x, float *y, const kn_epilogue *ep, pthreadpool_t pool)
{
    if (A->M == 0)
        return;
    if (A->mr > KN_SGEMV_MAX_MR)
        return;
    sgemv_ctx c = {.A = A, .x = x, .y = y, .ep = ep,
                   .panel = A->isa == KN_ISA_AVX512 ? kn_sgemv_panel_avx512
                            : A->isa == KN_ISA_AVX2 ? kn_sgemv_panel_avx2
                                                    : kn_sgemv_panel_generic};
    int64_t panels = (A->M + A->mr - 1) / A->mr;
    size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
    if (threads > 1 && A->M * A->K >= SGEMV_MIN_PARALLEL)
        c.panels_per_task = (panels + (int64_t)threads * 4 - 1) / ((int64_t)threads * 4);
    else
        c.panels_per_task = panels;
    size_t tasks = (size_t)((panels + c.panels_per_task - 1) / c.panels_per_task);
    kn_parallel_for(tasks > 1 ? pool : NULL, tasks, sgemv_task, &c);
}
