/* Convolution as GEMM per (image, group): C[Mg, OH*OW] = Wg[Mg, Cg*KH*KW] *
 * im2col(x)[Cg*KH*KW, OH*OW], with the im2col matrix never materialized. */
#include "ops/conv_fast.h"

#include <string.h>

void kn_conv2d_packed_free(kn_conv2d_packed *p)
{
    if (!p)
        return;
    if (p->w)
        for (int64_t g = 0; g < p->geom.group; g++)
            kn_packed_a_free(&p->w[g]);
    kn_free(p->w);
    kn_free(p->bias);
    kn_free(p);
}

kiln_status kn_conv2d_pack(const kn_conv2d_geom *g, const float *weights, const float *bias, kn_isa_level isa,
                           kn_conv2d_packed **out)
{
    kn_conv2d_packed *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    p->geom = *g;
    p->isa = isa;
    int64_t Mg = g->M / g->group, K = (g->C / g->group) * g->KH * g->KW;
    p->w = kn_calloc((size_t)g->group, sizeof(kn_packed_a));
    if (!p->w) {
        kn_free(p);
        return KN_NOMEM();
    }
    for (int64_t gi = 0; gi < g->group; gi++) {
        kiln_status s = kn_sgemm_pack_a(isa, Mg, K, weights + gi * Mg * K, K, false, &p->w[gi]);
        if (s != KILN_OK) {
            kn_conv2d_packed_free(p);
            return s;
        }
    }
    if (bias) {
        p->bias = kn_malloc((size_t)g->M * sizeof(float));
        if (!p->bias) {
            kn_conv2d_packed_free(p);
            return KN_NOMEM();
        }
        memcpy(p->bias, bias, (size_t)g->M * sizeof(float));
    }
    *out = p;
    return KILN_OK;
}

size_t kn_conv2d_scratch(const kn_conv2d_packed *p, int64_t OH, int64_t OW)
{
    const kn_conv2d_geom *g = &p->geom;
    return kn_sgemm_scratch_bytes(p->isa, OH * OW, (g->C / g->group) * g->KH * g->KW);
}

void kn_conv2d_run(const kn_conv2d_packed *p, int64_t N, int64_t H, int64_t W, int64_t OH, int64_t OW,
                   const float *x, float *y, const float *residual, const kn_epilogue *act, void *scratch,
                   pthreadpool_t pool)
{
    const kn_conv2d_geom *g = &p->geom;
    int64_t Cg = g->C / g->group, Mg = g->M / g->group, P = OH * OW;
    bool pointwise = g->KH == 1 && g->KW == 1 && g->SH == 1 && g->SW == 1 && g->PT == 0 && g->PL == 0 &&
                     OH == H && OW == W;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t gi = 0; gi < g->group; gi++) {
            const float *xg = x + (n * g->C + gi * Cg) * H * W;
            float *yg = y + (n * g->M + gi * Mg) * P;
            kn_bsrc src;
            memset(&src, 0, sizeof src);
            if (pointwise) {
                src.kind = KN_BSRC_MATRIX;
                src.data = xg;
                src.ld = H * W;
            } else {
                src = (kn_bsrc){.kind = KN_BSRC_CONV2D, .data = xg, .C = Cg, .H = H, .W = W, .KH = g->KH,
                                .KW = g->KW, .OH = OH, .OW = OW, .SH = g->SH, .SW = g->SW, .PH = g->PT,
                                .PW = g->PL, .DH = g->DH, .DW = g->DW};
            }
            kn_epilogue ep = {0};
            if (act)
                ep = *act;
            ep.bias = p->bias ? p->bias + gi * Mg : NULL;
            ep.residual = residual ? residual + (n * g->M + gi * Mg) * P : NULL;
            ep.ldr = P;
            bool any = ep.bias || ep.residual || ep.act != KN_ACT_NONE;
            kn_sgemm_run(&p->w[gi], P, &src, yg, P, any ? &ep : NULL, scratch, pool);
        }
    }
}
