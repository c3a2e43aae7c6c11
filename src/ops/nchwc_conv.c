/* Group-1 convolution in the blocked layout (nchwc.h): weight packing, the
 * portable kernel and the driver that splits the output into tasks of
 * (image, group of output blocks, chunk of consecutive output pixels). The
 * AVX-512 kernel is in nchwc_conv_avx512.c; both use the weight layout of
 * nchwc_conv_impl.h.
 *
 * A task's pixels and the tiles inside it depend only on the shape, so
 * every output element is computed by the same operations whatever the
 * thread count. */
#include "ops/nchwc_conv_impl.h"

#include <string.h>

kiln_status kn_nchwc_conv_pack(int64_t M, int64_t C, int64_t KH, int64_t KW, const float *w, const float *bias,
                               bool nchw_input, kn_isa_level isa, kn_nchwc_conv **out)
{
    *out = NULL;
    if (M <= 0 || C <= 0 || KH <= 0 || KW <= 0)
        return kn_error(KILN_ERROR_ARGUMENT, "nchwc conv: empty weights [%lld, %lld, %lld, %lld]", (long long)M,
                        (long long)C, (long long)KH, (long long)KW);
    const int64_t MB = kn_nchwc_blocks(M), CBn = nchw_input ? C : kn_nchwc_blocks(C);
    const int64_t Lc = nchw_input ? 1 : KN_NCHWC_BLOCK;
    size_t kk, wn, wbytes, bbytes;
    if (!kn_mul_size((size_t)CBn, (size_t)KH, &kk) || !kn_mul_size(kk, (size_t)KW, &kk) ||
        !kn_mul_size(kk, (size_t)Lc, &kk) || !kn_mul_size(kk, (size_t)MB * KN_NCHWC_BLOCK, &wn) ||
        !kn_mul_size(wn, sizeof(float), &wbytes) || !kn_mul_size((size_t)MB * KN_NCHWC_BLOCK, sizeof(float), &bbytes))
        return KN_NOMEM();
    kn_nchwc_conv *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->M = M, p->C = C, p->KH = KH, p->KW = KW, p->nchw_input = nchw_input, p->isa = isa;
    p->w = kn_aligned_alloc(wbytes);
    p->bias = kn_aligned_alloc(bbytes);
    if (!p->w || !p->bias) {
        kn_nchwc_conv_free(p);
        return KN_NOMEM();
    }
    memset(p->bias, 0, bbytes);
    if (bias)
        memcpy(p->bias, bias, (size_t)M * sizeof(float));
    /* Written in layout order (zeros past M and C included), reading the
     * source's rows as strided streams: writing one source element at a
     * time into the layout (4 KiB apart) took ResNet-50's load from 165 to
     * 220 ms. */
    const int64_t ck = C * KH * KW;
    float *d = p->w;
    for (int64_t g = 0; g * KN_NCHWC_GROUP < MB; g++) {
        const int64_t nfg = KN_MIN(MB - g * KN_NCHWC_GROUP, (int64_t)KN_NCHWC_GROUP);
        const int64_t m0 = g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK, mn = nfg * KN_NCHWC_BLOCK;
        for (int64_t cb = 0; cb < CBn; cb++)
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++)
                    for (int64_t ic = 0; ic < Lc; ic++, d += mn) {
                        const int64_t c = cb * Lc + ic;
                        if (c >= C) {
                            memset(d, 0, (size_t)mn * sizeof(float));
                            continue;
                        }
                        const float *src = w + c * KH * KW + kh * KW + kw;
                        for (int64_t j = 0; j < mn; j++)
                            d[j] = m0 + j < M ? src[(m0 + j) * ck] : 0.0f;
                    }
    }
    *out = p;
    return KILN_OK;
}

void kn_nchwc_conv_free(kn_nchwc_conv *p)
{
    if (!p)
        return;
    kn_aligned_free(p->w);
    kn_aligned_free(p->bias);
    kn_free(p);
}

/* One output pixel at a time, all blocks of the group together. */
static void range_generic(const kn_nchwc_conv_ctx *c, int64_t n, int64_t g, int64_t s, int64_t e)
{
    const kn_nchwc_conv *p = c->p;
    const int64_t nfg = kn_nchwc_group_blocks(c, g), KH = p->KH, KW = p->KW, Lc = c->Lc;
    const int64_t nv = nfg * KN_NCHWC_BLOCK;
    const float *wg = p->w + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK * c->KK;
    const float *bias = p->bias + g * KN_NCHWC_GROUP * KN_NCHWC_BLOCK;
    const float *xi = c->x + n * c->xs_img;
    for (int64_t i = s; i < e; i++) {
        const int64_t oh = i / c->OW, ow = i % c->OW;
        const int64_t ih0 = oh * c->SH - c->PT, iw0 = ow * c->SW - c->PL;
        int64_t kh_lo, kh_hi, kw_lo, kw_hi;
        kn_nchwc_taps(ih0, c->DH, KH, c->H, &kh_lo, &kh_hi);
        kn_nchwc_taps(iw0, c->DW, KW, c->W, &kw_lo, &kw_hi);
        float acc[KN_NCHWC_GROUP * KN_NCHWC_BLOCK];
        for (int64_t j = 0; j < nv; j++)
            acc[j] = bias[j];
        for (int64_t cb = 0; cb < c->CBn; cb++)
            for (int64_t kh = kh_lo; kh < kh_hi; kh++)
                for (int64_t kw = kw_lo; kw < kw_hi; kw++) {
                    const float *xp =
                        xi + cb * c->xs_cb + (ih0 + kh * c->DH) * c->xs_row + (iw0 + kw * c->DW) * c->xs_pix;
                    const float *wp = wg + ((cb * KH + kh) * KW + kw) * Lc * nv;
                    for (int64_t ic = 0; ic < Lc; ic++) {
                        const float xv = xp[ic], *wq = wp + ic * nv;
                        for (int64_t j = 0; j < nv; j++)
                            acc[j] += wq[j] * xv;
                    }
                }
        for (int64_t f = 0; f < nfg; f++) {
            const int64_t off = n * c->ys_img + (g * KN_NCHWC_GROUP + f) * c->ys_blk + i * KN_NCHWC_BLOCK;
            float *y = c->y + off;
            const float *r = c->res ? c->res + off : NULL;
            for (int64_t l = 0; l < KN_NCHWC_BLOCK; l++) {
                float v = acc[f * KN_NCHWC_BLOCK + l];
                if (r)
                    v += r[l];
                if (c->act)
                    v = kn_act_scalar(c->act, v);
                y[l] = v;
            }
        }
    }
}

typedef struct conv_task {
    const kn_nchwc_conv_ctx *c;
    void (*range)(const kn_nchwc_conv_ctx *, int64_t, int64_t, int64_t, int64_t);
} conv_task;

/* Tasks in the order (image, group, chunk), chunk fastest, so the
 * consecutive tasks a thread takes share the group's weights; or, when all
 * groups' weights fit in L2 together (c->chunk_outer), (image, chunk,
 * group): the chunk's input rows then stay in cache for every group
 * instead of the whole input plane being read once per group (ResNet-50's
 * 1x1 256->128 on 56x56, cold caches: 2.69 -> 2.49 ms). */
static void conv_task_run(void *arg, size_t i)
{
    const conv_task *t = arg;
    const kn_nchwc_conv_ctx *c = t->c;
    int64_t n, g, chunk;
    if (c->chunk_outer) {
        const int64_t k = (int64_t)i / c->G;
        g = (int64_t)i % c->G;
        chunk = k % c->nchunks;
        n = k / c->nchunks;
    } else {
        const int64_t k = (int64_t)i / c->nchunks;
        chunk = (int64_t)i % c->nchunks;
        g = k % c->G;
        n = k / c->G;
    }
    const int64_t s = chunk * c->chunk;
    t->range(c, n, g, s, KN_MIN(s + c->chunk, c->OH * c->OW));
}

void kn_nchwc_conv_run(const kn_nchwc_conv *p, const kn_conv2d_geom *g, int64_t N, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, const float *x, float *y, const float *residual,
                       const kn_epilogue *act, pthreadpool_t pool)
{
    kn_nchwc_conv_run_strided(p, g, N, H, W, OH, OW, x, y, 0, residual, act, pool);
}

void kn_nchwc_conv_run_strided(const kn_nchwc_conv *p, const kn_conv2d_geom *g, int64_t N, int64_t H, int64_t W,
                               int64_t OH, int64_t OW, const float *x, float *y, int64_t ys_img,
                               const float *residual, const kn_epilogue *act, pthreadpool_t pool)
{
    if (N <= 0 || OH <= 0 || OW <= 0)
        return;
    kn_nchwc_conv_ctx c = {
        .p = p, .H = H, .W = W, .OH = OH, .OW = OW, .SH = g->SH, .SW = g->SW, .DH = g->DH, .DW = g->DW,
        .PT = g->PT, .PL = g->PL, .x = x, .y = y, .res = residual,
        .act = act && act->act != KN_ACT_NONE ? act : NULL,
    };
    c.MB = kn_nchwc_blocks(p->M);
    c.G = (c.MB + KN_NCHWC_GROUP - 1) / KN_NCHWC_GROUP;
    c.CBn = p->nchw_input ? p->C : kn_nchwc_blocks(p->C);
    c.Lc = p->nchw_input ? 1 : KN_NCHWC_BLOCK;
    c.KK = c.CBn * p->KH * p->KW * c.Lc;
    c.xs_pix = c.Lc;
    c.xs_row = W * c.Lc;
    c.xs_cb = H * W * c.Lc;
    c.xs_img = c.CBn * c.xs_cb;
    c.ys_blk = OH * OW * KN_NCHWC_BLOCK;
    c.ys_img = ys_img > 0 ? ys_img : c.MB * c.ys_blk;
    kn_nchwc_interior(c.PT, c.SH, c.DH, p->KH, H, OH, &c.oh_a, &c.oh_b);
    kn_nchwc_interior(c.PL, c.SW, c.DW, p->KW, W, OW, &c.ow_a, &c.ow_b);
    c.pointwise = p->KH == 1 && p->KW == 1 && !p->nchw_input && c.oh_a == 0 && c.oh_b == OH && c.ow_a == 0 &&
                  c.ow_b == OW;
    const int64_t plane = OH * OW;
    c.nchunks = plane <= KN_NCHWC_CHUNK * 3 / 2 ? 1 : (plane + KN_NCHWC_CHUNK - 1) / KN_NCHWC_CHUNK;
    c.chunk = (plane + c.nchunks - 1) / c.nchunks;
    if (c.nchunks > 1)
        c.chunk = (c.chunk + 23) / 24 * 24;
    c.nchunks = (plane + c.chunk - 1) / c.chunk;
    /* An odd handful of tasks leaves a thread idle for a whole task at the
     * end (MobileNet's 64-channel projections on 14x14: 3 tasks, 2
     * threads busy 2/3 of the time): twice the chunks, not rounded to whole
     * tiles. Decided by the shape alone, like everything else here. */
    const int64_t tasks = c.G * c.nchunks;
    if (tasks < 8 && tasks % 2 && plane >= 24) {
        c.chunk = (plane + 2 * c.nchunks - 1) / (2 * c.nchunks);
        c.nchunks = (plane + c.chunk - 1) / c.chunk;
    }
    c.chunk_outer = c.G > 1 && c.nchunks > 1 &&
                    (double)(c.G * KN_NCHWC_GROUP * KN_NCHWC_BLOCK) * (double)c.KK * sizeof(float) <= KN_NCHWC_L2_WEIGHTS;
    conv_task t = {&c, p->isa == KN_ISA_AVX512 ? kn_nchwc_conv_range_avx512
                       : p->isa == KN_ISA_AVX2 ? kn_nchwc_conv_range_avx2
                                               : range_generic};
    /* A parallel region costs microseconds: squeeze-excitation's convs on
     * 1x1 maps (EfficientNet: 16 blocks x 2 of about 55K multiply-adds)
     * run on the caller, as small GEMMs do. */
    const double macs = (double)N * (double)plane * (double)p->M * (double)(p->C * p->KH * p->KW);
    kn_parallel_for(macs < KN_MIN_PARALLEL_MACS ? NULL : pool, (size_t)(N * c.G * c.nchunks), conv_task_run, &t);
}
