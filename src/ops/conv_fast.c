/* Convolution as GEMM per (image, group): C[Mg, OH*OW] = Wg[Mg, Cg*KH*KW] *
 * im2col(x)[Cg*KH*KW, OH*OW], with the im2col matrix never materialized. */
#include "ops/conv_fast.h"

#include <string.h>

void kn_conv2d_packed_free(kn_conv2d_packed *p)
{
    if (!p)
        return;
    if (p->w)
        for (int64_t g = 0; g < p->group; g++)
            kn_packed_a_free(&p->w[g]);
    kn_free(p->w);
    kn_free(p->bias);
    kn_free(p);
}

kiln_status kn_conv2d_pack(int64_t M, int64_t C, int64_t group, int64_t KH, int64_t KW, const float *weights,
                           const float *bias, kn_isa_level isa, kn_conv2d_packed **out)
{
    kn_conv2d_packed *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->C = C;
    p->M = M;
    p->group = group;
    p->KH = KH;
    p->KW = KW;
    p->isa = isa;
    int64_t Mg = M / group, K = (C / group) * KH * KW;
    p->w = kn_calloc((size_t)group, sizeof(kn_packed_a));
    if (!p->w) {
        kn_free(p);
        return KN_NOMEM();
    }
    for (int64_t gi = 0; gi < group; gi++) {
        kiln_status s = kn_sgemm_pack_a(isa, Mg, K, weights + gi * Mg * K, K, false, &p->w[gi]);
        if (s != KILN_OK) {
            kn_conv2d_packed_free(p);
            return s;
        }
    }
    if (bias) {
        p->bias = kn_malloc((size_t)M * sizeof(float));
        if (!p->bias) {
            kn_conv2d_packed_free(p);
            return KN_NOMEM();
        }
        memcpy(p->bias, bias, (size_t)M * sizeof(float));
    }
    *out = p;
    return KILN_OK;
}

size_t kn_conv2d_scratch(const kn_conv2d_packed *p, int64_t OH, int64_t OW, size_t threads)
{
    return kn_sgemm_scratch_bytes(p->isa, OH * OW, (p->C / p->group) * p->KH * p->KW, threads);
}

void kn_conv2d_run(const kn_conv2d_packed *p, const kn_conv2d_geom *g, int64_t N, int64_t H, int64_t W,
                   int64_t OH, int64_t OW, const float *x, float *y, const float *residual, const kn_epilogue *act,
                   void *scratch, size_t scratch_bytes, pthreadpool_t pool)
{
    int64_t Cg = p->C / p->group, Mg = p->M / p->group, P = OH * OW;
    bool pointwise = p->KH == 1 && p->KW == 1 && g->SH == 1 && g->SW == 1 && g->PT == 0 && g->PL == 0 &&
                     OH == H && OW == W;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t gi = 0; gi < p->group; gi++) {
            const float *xg = x + (n * p->C + gi * Cg) * H * W;
            float *yg = y + (n * p->M + gi * Mg) * P;
            kn_bsrc src;
            memset(&src, 0, sizeof src);
            if (pointwise) {
                src.kind = KN_BSRC_MATRIX;
                src.data = xg;
                src.ld = H * W;
            } else {
                src = (kn_bsrc){.kind = KN_BSRC_CONV2D, .data = xg, .C = Cg, .H = H, .W = W, .KH = p->KH,
                                .KW = p->KW, .OH = OH, .OW = OW, .SH = g->SH, .SW = g->SW, .PH = g->PT,
                                .PW = g->PL, .DH = g->DH, .DW = g->DW};
            }
            kn_epilogue ep = {0};
            if (act)
                ep = *act;
            ep.bias = p->bias ? p->bias + gi * Mg : NULL;
            ep.residual = residual ? residual + (n * p->M + gi * Mg) * P : NULL;
            ep.ldr = P;
            bool any = ep.bias || ep.residual || ep.act != KN_ACT_NONE;
            kn_sgemm_run(&p->w[gi], P, &src, yg, P, any ? &ep : NULL, scratch, scratch_bytes, pool);
        }
    }
}

#include "ops/conv_dw_impl.h"

KN_DW_DEFINE(generic)

void kn_depthwise2d_run(int64_t N, int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, const kn_conv2d_geom *g,
                        int64_t OH, int64_t OW, const float *x, const float *w, const float *bias, float *y,
                        const float *residual, const kn_epilogue *act, kn_isa_level isa, pthreadpool_t pool)
{
    kn_dw_ctx d = {C, H, W, KH, KW, OH, OW, *g, x, w, bias, residual, y,
                   act && act->act != KN_ACT_NONE ? act : NULL};
    kn_parallel_fn plane = isa == KN_ISA_AVX512 ? kn_dw_plane_avx512
                           : isa == KN_ISA_AVX2 ? kn_dw_plane_avx2
                                                : kn_dw_plane_generic;
    kn_parallel_for(pool, (size_t)(N * C), plane, &d);
}
