/* Depthwise convolution on blocked (NCHWc) tensors: weight packing, the
 * plain C kernel and the dispatch over (image, channel block, row chunk)
 * tasks. In the blocked layout the 16 channels of a block are the 16
 * lanes of one vector, so every tap is a lane-wise multiply-add of an
 * input pixel vector and a weight vector -- no shuffles, no broadcasts. */
#include "ops/nchwc_dw_impl.h"

#include <string.h>

/* Output floats per task: a few hundred KiB of work, so the pool's per-task
 * cost vanishes while small late layers (7x7) still split over threads by
 * channel block. */
#define KN_NCHWC_DW_TASK_FLOATS 16384

void kn_nchwc_dw_free(kn_nchwc_dw *p)
{
    if (!p)
        return;
    kn_aligned_free(p->w);
    kn_aligned_free(p->bias);
    kn_free(p);
}

kiln_status kn_nchwc_dw_pack(int64_t C, int64_t KH, int64_t KW, const float *w, const float *bias, kn_isa_level isa,
                             kn_nchwc_dw **out)
{
    if (C <= 0 || KH <= 0 || KW <= 0)
        return kn_error(KILN_ERROR_ARGUMENT, "depthwise conv: channels %lld, kernel %lldx%lld", (long long)C,
                        (long long)KH, (long long)KW);
    const int64_t CB = kn_nchwc_blocks(C), B = KN_NCHWC_BLOCK;
    size_t wn, wbytes, bbytes;
    if (!kn_mul_size((size_t)CB * B, (size_t)KH, &wn) || !kn_mul_size(wn, (size_t)KW, &wn) ||
        !kn_mul_size(wn, sizeof(float), &wbytes) || !kn_mul_size((size_t)CB * B, sizeof(float), &bbytes))
        return KN_NOMEM();
    kn_nchwc_dw *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->C = C;
    p->KH = KH;
    p->KW = KW;
    p->isa = isa;
    p->w = kn_aligned_alloc(wbytes);
    p->bias = kn_aligned_alloc(bbytes);
    if (!p->w || !p->bias) {
        kn_nchwc_dw_free(p);
        return KN_NOMEM();
    }
    /* zero pad lanes: whatever finite values the input's pad lanes hold,
     * they meet a zero weight and a zero bias */
    memset(p->w, 0, wbytes);
    memset(p->bias, 0, bbytes);
    const int64_t taps = KH * KW;
    for (int64_t c = 0; c < C; c++) {
        float *dst = p->w + (c / B) * taps * B + c % B;
        for (int64_t t = 0; t < taps; t++)
            dst[t * B] = w[c * taps + t];
        if (bias)
            p->bias[c] = bias[c];
    }
    *out = p;
    return KILN_OK;
}

void kn_nchwc_dw_task_generic(void *ctx, size_t task)
{
    enum { B = KN_NCHWC_BLOCK };
    const kn_nchwc_dw_ctx *d = ctx;
    const kn_nchwc_dw *p = d->p;
    const kn_conv2d_geom *g = &d->g;
    const int64_t plane = (int64_t)task / d->chunks, chunk = (int64_t)task % d->chunks, cb = plane % d->CB;
    const int64_t H = d->H, W = d->W, OW = d->OW, KW = p->KW;
    const float *x = d->x + plane * H * W * B;
    const float *res = d->residual ? d->residual + plane * d->OH * OW * B : NULL;
    float *y = d->y + plane * d->OH * OW * B;
    const float *w = p->w + cb * p->KH * KW * B, *bias = p->bias + cb * B;
    const int64_t oh0 = chunk * d->rows, oh1 = KN_MIN(d->OH, oh0 + d->rows);
    const kn_act act = d->act ? d->act->act : KN_ACT_NONE;
    const float lo = act == KN_ACT_CLIP ? d->act->alpha : 0.0f, hi = act == KN_ACT_CLIP ? d->act->beta : 0.0f;
    for (int64_t oh = oh0; oh < oh1; oh++) {
        const int64_t ih0 = oh * g->SH - g->PT;
        int64_t k0, k1;
        kn_nchwc_taps(ih0, d->g.DH, d->p->KH, d->H, &k0, &k1);
        for (int64_t ow = 0; ow < OW; ow++) {
            const int64_t iw0 = ow * g->SW - g->PL;
            float acc[B];
            for (int l = 0; l < B; l++)
                acc[l] = bias[l];
            for (int64_t kh = k0; kh < k1; kh++) {
                const float *xr = x + (ih0 + kh * g->DH) * W * B, *wr = w + kh * KW * B;
                for (int64_t kw = 0; kw < KW; kw++) {
                    const int64_t iw = iw0 + kw * g->DW;
                    if (iw < 0 || iw >= W)
                        continue;
                    const float *xv = xr + iw * B, *wv = wr + kw * B;
                    for (int l = 0; l < B; l++)
                        acc[l] += xv[l] * wv[l];
                }
            }
            float *yv = y + (oh * OW + ow) * B;
            if (res) {
                const float *rv = res + (oh * OW + ow) * B;
                for (int l = 0; l < B; l++)
                    acc[l] += rv[l];
            }
            /* ReLU and Clip (kn_act_scalar's formulas) inline: a call per
             * lane would cost more than the taps */
            if (act == KN_ACT_RELU)
                for (int l = 0; l < B; l++)
                    acc[l] = acc[l] > 0.0f ? acc[l] : 0.0f;
            else if (act == KN_ACT_CLIP)
                for (int l = 0; l < B; l++)
                    acc[l] = acc[l] < lo ? lo : (acc[l] > hi ? hi : acc[l]);
            else if (act != KN_ACT_NONE)
                for (int l = 0; l < B; l++)
                    acc[l] = kn_act_scalar(d->act, acc[l]);
            memcpy(yv, acc, sizeof acc);
        }
    }
}

void kn_nchwc_dw_run(const kn_nchwc_dw *p, const kn_conv2d_geom *g, int64_t N, int64_t H, int64_t W, int64_t OH,
                     int64_t OW, const float *x, float *y, const float *residual, const kn_epilogue *act,
                     pthreadpool_t pool)
{
    if (N <= 0 || OH <= 0 || OW <= 0)
        return;
    kn_nchwc_dw_ctx d = {
        .p = p,
        .g = *g,
        .H = H,
        .W = W,
        .OH = OH,
        .OW = OW,
        .CB = kn_nchwc_blocks(p->C),
        .x = x,
        .residual = residual,
        .y = y,
        .act = act && act->act != KN_ACT_NONE ? act : NULL,
    };
    /* the split into tasks only decides who computes a row, never how:
     * results do not depend on the thread count */
    d.rows = KN_MAX(KN_MIN(KN_NCHWC_DW_TASK_FLOATS / (OW * KN_NCHWC_BLOCK), OH), (int64_t)1);
    d.chunks = (OH + d.rows - 1) / d.rows;
    kn_parallel_fn fn = p->isa == KN_ISA_AVX512 ? kn_nchwc_dw_task_avx512
                        : p->isa == KN_ISA_AVX2 ? kn_nchwc_dw_task_avx2
                                                : kn_nchwc_dw_task_generic;
    kn_parallel_for(pool, (size_t)(N * d.CB * d.chunks), fn, &d);
}
