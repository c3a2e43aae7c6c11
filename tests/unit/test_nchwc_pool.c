/* Blocked pools and channel scale (nchwc_pool*.c) against kn_pool_ref on
 * the same data in NCHW: MaxPool (with dilation, NaN and -inf inputs,
 * windows entirely in the pads) and AveragePool (count_include_pad 0/1,
 * ceil_mode windows running past the padded input) on kernels 1x1 to 7x7,
 * strides 1 to 3, asymmetric pads, channel counts with pad lanes; global
 * average / max pools; channel_mul out of place and in place. The AVX2
 * and AVX-512 forms must equal the portable one bit for bit (same
 * operations, same order), MaxPool must equal the reference exactly, and
 * 1 and 2 threads must give identical bits. Pad lanes of the input hold finite garbage;
 * those of the output must stay finite. */
#include "harness.h"
#include "ops/conv_ref.h"
#include "ops/nchwc.h"
#include "runtime/runtime.h"

#include <math.h>

typedef struct pool_case {
    int64_t N, C, H, W, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW, ceil;
} pool_case;

static const pool_case cases[] = {
    /* N  C   H    W   KH KW SH SW PT PL PB PR DH DW ceil */
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0},
    {2, 3, 7, 7, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 0},
    {1, 16, 8, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0},
    {2, 17, 9, 9, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1},
    {1, 3, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {1, 33, 17, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},
    {1, 3, 56, 57, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},
    /* squeezenet: ceil_mode, no pads, the last window overhangs */
    {1, 17, 27, 27, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1},
    {1, 16, 56, 56, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1},
    {1, 3, 17, 23, 3, 2, 2, 1, 0, 1, 2, 0, 1, 1, 1},
    {1, 17, 17, 31, 2, 3, 1, 2, 1, 0, 0, 1, 1, 1, 0},
    {2, 3, 9, 33, 3, 3, 3, 3, 2, 1, 1, 2, 1, 1, 1},
    {1, 3, 10, 11, 3, 3, 3, 2, 0, 0, 2, 1, 1, 1, 1},
    {1, 16, 7, 7, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 0},
    {1, 3, 13, 14, 7, 7, 2, 2, 3, 2, 1, 3, 1, 1, 1},
    {1, 1, 7, 7, 7, 7, 1, 1, 0, 0, 0, 0, 1, 1, 0},
    /* dilation */
    {1, 17, 11, 12, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 0},
    {1, 3, 15, 13, 3, 2, 2, 3, 1, 0, 2, 1, 3, 2, 1},
    /* pads as wide as the kernel: windows entirely in the pads */
    {1, 3, 5, 7, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1},
    {1, 2, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},
};

static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, int64_t ceil_mode)
{
    int64_t span = in + pb + pe - ((k - 1) * d + 1);
    if (!ceil_mode)
        return span / s + 1;
    int64_t out = (span + s - 1) / s + 1;
    if ((out - 1) * s >= in + pb)
        out--;
    return out;
}

static float *blocked(const float *x, int64_t N, int64_t C, int64_t H, int64_t W, uint32_t seed)
{
    const int64_t CB = kn_nchwc_blocks(C), HW = H * W;
    float *b = test_malloc((size_t)(N * CB * HW * 16) * sizeof(float));
    kn_nchwc_reorder_in(N, C, H, W, x, b, KN_ISA_GENERIC, NULL);
    /* finite garbage in the pad lanes: no lane may leak into another */
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < HW; p++)
            for (int64_t l = C % 16 ? C % 16 : 16; l < 16; l++) {
                seed = seed * 1103515245u + 12345u;
                b[((n * CB + CB - 1) * HW + p) * 16 + l] = (float)(seed >> 8) / (float)(1u << 24) * 8.0f - 4.0f;
            }
    return b;
}

/* value comparison; NaN matches NaN */
static void compare(const char *what, const pool_case *k, int isa, const float *got, const float *want, int64_t n,
                    double tol)
{
    for (int64_t i = 0; i < n; i++) {
        bool ok = isnan(want[i]) ? isnan(got[i])
                                 : got[i] == want[i] || fabs((double)got[i] - want[i]) <= tol * (1.0 + fabs(want[i]));
        if (!ok)
            fail_msg("%s %lldx%lldx%lldx%lld k%lldx%lld s%lldx%lld p%lld,%lld,%lld,%lld d%lldx%lld ceil %lld isa %d: "
                     "y[%lld] = %.9g, reference %.9g",
                     what, (long long)k->N, (long long)k->C, (long long)k->H, (long long)k->W, (long long)k->KH,
                     (long long)k->KW, (long long)k->SH, (long long)k->SW, (long long)k->PT, (long long)k->PL,
                     (long long)k->PB, (long long)k->PR, (long long)k->DH, (long long)k->DW, (long long)k->ceil, isa,
                     (long long)i, got[i], want[i]);
    }
}

/* pad lanes of a blocked output are finite wherever the window had a number */
static void pad_lanes_finite(const float *b, int64_t N, int64_t C, int64_t HW)
{
    const int64_t CB = kn_nchwc_blocks(C);
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < HW; p++) {
            const float *v = b + ((n * CB + CB - 1) * HW + p) * 16;
            for (int64_t l = C % 16 ? C % 16 : 16; l < 16; l++)
                if (!isfinite(v[l]) && !isnan(v[0]))
                    fail_msg("pad lane %lld of pixel %lld is %g", (long long)l, (long long)p, v[l]);
        }
}

static void check_pool(const pool_case *k, bool max, bool include_pad, bool specials, pthreadpool_t pool)
{
    const int64_t OH = out_dim(k->H, k->KH, k->SH, k->DH, k->PT, k->PB, k->ceil);
    const int64_t OW = out_dim(k->W, k->KW, k->SW, k->DW, k->PL, k->PR, k->ceil);
    const int64_t CB = kn_nchwc_blocks(k->C), ny = k->N * CB * OH * OW * 16, nref = k->N * k->C * OH * OW;
    kiln_tensor *xt = kt_f32_random(KT_DIMS(k->N, k->C, k->H, k->W), (uint32_t)(k->H * 7 + k->C), -2.0f, 2.0f);
    float *xd = xt->data;
    if (specials) {
        /* scattered NaN and -inf, a NaN block wider than the windows, and a
         * -inf block (whose windows' maximum is -inf, not NaN) */
        for (int64_t i = 0; i < kn_tensor_count(xt); i += 5)
            xd[i] = i % 3 ? NAN : -INFINITY;
        for (int64_t c = 0; c < k->C; c++)
            for (int64_t h = 0; h < k->H; h++)
                for (int64_t w = 0; w < k->W && w < 9; w++)
                    if (h < 5 || (h >= 6 && h < 12))
                        xd[(c * k->H + h) * k->W + w] = h < 5 ? NAN : -INFINITY;
    }
    kn_pool_params pp = {.nsp = 2, .kind = max ? KN_POOL_MAX : KN_POOL_AVG, .N = k->N, .C = k->C};
    pp.in[0] = k->H, pp.in[1] = k->W, pp.out[0] = OH, pp.out[1] = OW, pp.k[0] = k->KH, pp.k[1] = k->KW;
    pp.stride[0] = k->SH, pp.stride[1] = k->SW, pp.dil[0] = k->DH, pp.dil[1] = k->DW;
    pp.pad[0] = k->PT, pp.pad[1] = k->PL, pp.pad_end[0] = k->PB, pp.pad_end[1] = k->PR;
    pp.count_include_pad = include_pad;
    float *ref = test_malloc((size_t)nref * sizeof(float));
    kn_pool_ref(&pp, KILN_DTYPE_FLOAT, xd, ref, NULL, NULL);

    float *xb = blocked(xd, k->N, k->C, k->H, k->W, 5);
    float *generic = test_malloc((size_t)ny * sizeof(float)), *y1 = test_malloc((size_t)ny * sizeof(float));
    float *y2 = test_malloc((size_t)ny * sizeof(float)), *out = test_malloc((size_t)nref * sizeof(float));
    kn_nchwc_pool p = {.KH = k->KH, .KW = k->KW, .g = {k->SH, k->SW, k->DH, k->DW, k->PT, k->PL},
                       .count_include_pad = include_pad};
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++) {
        /* NaN first: every element must be written */
        for (int64_t i = 0; i < ny; i++)
            y1[i] = y2[i] = NAN;
        if (max) {
            kn_nchwc_maxpool(&p, k->N, k->C, k->H, k->W, OH, OW, xb, y1, (kn_isa_level)isa, NULL);
            kn_nchwc_maxpool(&p, k->N, k->C, k->H, k->W, OH, OW, xb, y2, (kn_isa_level)isa, pool);
        } else {
            kn_nchwc_avgpool(&p, k->N, k->C, k->H, k->W, OH, OW, k->PB, k->PR, xb, y1, (kn_isa_level)isa, NULL);
            kn_nchwc_avgpool(&p, k->N, k->C, k->H, k->W, OH, OW, k->PB, k->PR, xb, y2, (kn_isa_level)isa, pool);
        }
        assert_memory_equal(y1, y2, (size_t)ny * sizeof(float));
        if (isa == KN_ISA_GENERIC)
            memcpy(generic, y1, (size_t)ny * sizeof(float));
        else
            assert_memory_equal(y1, generic, (size_t)ny * sizeof(float));
        kn_nchwc_reorder_out(k->N, k->C, OH, OW, y1, out, KN_ISA_GENERIC, NULL);
        compare(max ? "max" : include_pad ? "avg incl" : "avg", k, isa, out, ref, nref, max ? 0.0 : 2e-6);
        if (!specials)
            pad_lanes_finite(y1, k->N, k->C, OH * OW);
    }
    test_free(xb);
    test_free(generic);
    test_free(y1);
    test_free(y2);
    test_free(out);
    test_free(ref);
    kn_tensor_free(xt);
}

static void test_pools(void **state)
{
    (void)state;
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_pool(&cases[i], true, false, false, pool);
        check_pool(&cases[i], true, false, true, pool);
        /* dilated cases too: AveragePool has dilations since opset 19 */
        check_pool(&cases[i], false, false, false, pool);
        check_pool(&cases[i], false, true, false, pool);
    }
    pthreadpool_destroy(pool);
}

static void check_global(int64_t N, int64_t C, int64_t H, int64_t W, bool max, bool specials, pthreadpool_t pool)
{
    const pool_case k = {N, C, H, W, H, W, 1, 1, 0, 0, 0, 0, 1, 1, 0};
    const int64_t CB = kn_nchwc_blocks(C), ny = N * CB * 16;
    kiln_tensor *xt = kt_f32_random(KT_DIMS(N, C, H, W), (uint32_t)(H * W + C), -2.0f, 2.0f);
    float *xd = xt->data;
    if (specials) {
        /* channel c % 4: 0 numbers and NaN, 1 all NaN, 2 -inf and NaN, 3 numbers */
        for (int64_t c = 0; c < N * C; c++)
            for (int64_t p = 0; p < H * W; p++) {
                if ((c % 4 == 0 && p % 3 == 1) || c % 4 == 1 || (c % 4 == 2 && p % 2))
                    xd[c * H * W + p] = NAN;
                else if (c % 4 == 2)
                    xd[c * H * W + p] = -INFINITY;
            }
    }
    kn_pool_params pp = {.nsp = 2, .kind = max ? KN_POOL_MAX : KN_POOL_AVG, .N = N, .C = C};
    pp.in[0] = H, pp.in[1] = W, pp.out[0] = 1, pp.out[1] = 1, pp.k[0] = H, pp.k[1] = W;
    pp.stride[0] = pp.stride[1] = pp.dil[0] = pp.dil[1] = 1;
    float *ref = test_malloc((size_t)(N * C) * sizeof(float));
    kn_pool_ref(&pp, KILN_DTYPE_FLOAT, xd, ref, NULL, NULL);
    float *xb = blocked(xd, N, C, H, W, 9);
    float *generic = test_malloc((size_t)ny * sizeof(float)), *y1 = test_malloc((size_t)ny * sizeof(float));
    float *y2 = test_malloc((size_t)ny * sizeof(float)), *out = test_malloc((size_t)(N * C) * sizeof(float));
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++) {
        for (int64_t i = 0; i < ny; i++)
            y1[i] = y2[i] = NAN;
        kn_nchwc_global_pool(max, N, C, H, W, xb, y1, (kn_isa_level)isa, NULL);
        kn_nchwc_global_pool(max, N, C, H, W, xb, y2, (kn_isa_level)isa, pool);
        assert_memory_equal(y1, y2, (size_t)ny * sizeof(float));
        if (isa == KN_ISA_GENERIC)
            memcpy(generic, y1, (size_t)ny * sizeof(float));
        else
            assert_memory_equal(y1, generic, (size_t)ny * sizeof(float));
        kn_nchwc_reorder_out(N, C, 1, 1, y1, out, KN_ISA_GENERIC, NULL);
        compare(max ? "global max" : "global avg", &k, isa, out, ref, N * C, max ? 0.0 : 2e-6);
        if (!specials)
            pad_lanes_finite(y1, N, C, 1);
    }
    test_free(xb);
    test_free(generic);
    test_free(y1);
    test_free(y2);
    test_free(out);
    test_free(ref);
    kn_tensor_free(xt);
}

static void test_global(void **state)
{
    (void)state;
    static const int64_t cs[] = {1, 3, 16, 17, 33};
    static const int64_t hws[][2] = {{1, 1}, {1, 3}, {7, 7}, {56, 56}, {3, 5}};
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++)
        for (size_t s = 0; s < sizeof hws / sizeof hws[0]; s++)
            for (int64_t N = 1; N <= 2; N++) {
                check_global(N, cs[c], hws[s][0], hws[s][1], false, false, pool);
                check_global(N, cs[c], hws[s][0], hws[s][1], true, false, pool);
                check_global(N, cs[c], hws[s][0], hws[s][1], true, true, pool);
            }
    pthreadpool_destroy(pool);
}

static void check_mul(int64_t N, int64_t C, int64_t H, int64_t W, pthreadpool_t pool)
{
    const int64_t CB = kn_nchwc_blocks(C), HW = H * W, ny = N * CB * HW * 16;
    kiln_tensor *xt = kt_f32_random(KT_DIMS(N, C, H, W), (uint32_t)(HW + 3 * C), -2.0f, 2.0f);
    kiln_tensor *st = kt_f32_random(KT_DIMS(N, C, 1, 1), (uint32_t)(HW + 5 * C), -2.0f, 2.0f);
    const float *xd = xt->data, *sd = st->data;
    float *xb = blocked(xd, N, C, H, W, 3), *sb = blocked(sd, N, C, 1, 1, 4);
    float *y1 = test_malloc((size_t)ny * sizeof(float)), *y2 = test_malloc((size_t)ny * sizeof(float));
    float *out = test_malloc((size_t)(N * C * HW) * sizeof(float));
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++) {
        for (int64_t i = 0; i < ny; i++)
            y1[i] = NAN;
        memcpy(y2, xb, (size_t)ny * sizeof(float));
        kn_nchwc_channel_mul(N, C, H, W, xb, sb, y1, (kn_isa_level)isa, NULL);
        kn_nchwc_channel_mul(N, C, H, W, y2, sb, y2, (kn_isa_level)isa, pool); /* in place */
        assert_memory_equal(y1, y2, (size_t)ny * sizeof(float));
        pad_lanes_finite(y1, N, C, HW);
        kn_nchwc_reorder_out(N, C, H, W, y1, out, KN_ISA_GENERIC, NULL);
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t p = 0; p < HW; p++) {
                    const int64_t i = (n * C + c) * HW + p;
                    const float want = xd[i] * sd[n * C + c];
                    if (memcmp(&out[i], &want, sizeof want) != 0)
                        fail_msg("channel_mul %lldx%lldx%lld isa %d: y[%lld] = %g, want %g", (long long)N,
                                 (long long)C, (long long)HW, isa, (long long)i, out[i], want);
                }
    }
    test_free(xb);
    test_free(sb);
    test_free(y1);
    test_free(y2);
    test_free(out);
    kn_tensor_free(xt);
    kn_tensor_free(st);
}

static void test_channel_mul(void **state)
{
    (void)state;
    static const int64_t cs[] = {1, 3, 16, 17, 33};
    static const int64_t hws[][2] = {{1, 1}, {1, 3}, {7, 7}, {56, 56}, {33, 37}};
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++)
        for (size_t s = 0; s < sizeof hws / sizeof hws[0]; s++)
            for (int64_t N = 1; N <= 2; N++)
                check_mul(N, cs[c], hws[s][0], hws[s][1], pool);
    pthreadpool_destroy(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pools), cmocka_unit_test(test_global),
                                       cmocka_unit_test(test_channel_mul)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
