/* The vectorized float32 2-D MaxPool (pool_max_impl.h) against the plain
 * reference kn_pool_ref, at every ISA level the CPU has and with 1 and 2
 * threads: odd widths (vector tails), pads, ceil_mode overhang, strides 1
 * and 2, kernels 1 to 4, NaN and -inf inputs, windows inside the pads. */
#include "harness.h"
#include "ops/conv_ref.h"
#include "runtime/runtime.h"

#include <math.h>
#include <string.h>

typedef struct mp_case {
    int64_t N, C, H, W, KH, KW, SH, SW, pads[4], ceil;
} mp_case;

static kiln_tensor *run_pool(const mp_case *k, kn_isa_level isa, int threads, kiln_tensor *x)
{
    kt_node *n = kt_node_new("MaxPool", 12);
    int64_t ks[2] = {k->KH, k->KW}, st[2] = {k->SH, k->SW};
    kt_attr_ints(n, "kernel_shape", ks, 2);
    kt_attr_ints(n, "strides", st, 2);
    kt_attr_ints(n, "pads", k->pads, 4);
    kt_attr_int(n, "ceil_mode", k->ceil);
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run_ex(n, isa, threads, 1, &x, 1, &y), KILN_OK);
    kt_node_free(n);
    return y;
}

/* equal as numbers, NaN where the reference has NaN */
static void same(const float *ref, const float *got, int64_t n, const mp_case *k, int isa)
{
    for (int64_t i = 0; i < n; i++) {
        bool ok = isnan(ref[i]) ? isnan(got[i]) : ref[i] == got[i];
        if (!ok)
            fail_msg("%lldx%lld k%lldx%lld s%lldx%lld ceil %lld isa %d: y[%lld] = %g, reference %g",
                     (long long)k->H, (long long)k->W, (long long)k->KH, (long long)k->KW, (long long)k->SH,
                     (long long)k->SW, (long long)k->ceil, isa, (long long)i, got[i], ref[i]);
    }
}

static void check(const mp_case *k, uint32_t seed, bool specials)
{
    int64_t dims[4] = {k->N, k->C, k->H, k->W};
    kiln_tensor *x = kt_f32_random(4, dims, seed, -4.0f, 4.0f);
    float *xd = x->data;
    int64_t count = kn_tensor_count(x);
    if (specials) {
        /* scattered NaN / -inf, and a NaN block wider than the windows */
        for (int64_t i = 0; i < count; i += 7)
            xd[i] = i % 3 ? NAN : -INFINITY;
        for (int64_t h = 0; h < KN_MIN(k->H, 5); h++)
            for (int64_t w = 0; w < KN_MIN(k->W, 9); w++)
                xd[h * k->W + w] = NAN;
        /* and a -inf block: those windows' maximum is -inf, not NaN */
        for (int64_t h = 6; h < KN_MIN(k->H, 12); h++)
            for (int64_t w = 0; w < KN_MIN(k->W, 9); w++)
                xd[h * k->W + w] = -INFINITY;
    }
    kiln_tensor *first = run_pool(k, KN_ISA_GENERIC, 1, x);
    kn_pool_params p;
    memset(&p, 0, sizeof p);
    p.nsp = 2;
    p.kind = KN_POOL_MAX;
    p.N = k->N;
    p.C = k->C;
    int64_t ks[2] = {k->KH, k->KW}, st[2] = {k->SH, k->SW};
    for (int i = 0; i < 2; i++) {
        p.in[i] = dims[2 + i];
        p.out[i] = first->dims[2 + i];
        p.k[i] = ks[i];
        p.stride[i] = st[i];
        p.dil[i] = 1;
        p.pad[i] = k->pads[i];
        p.pad_end[i] = k->pads[i + 2];
    }
    int64_t ycount = kn_tensor_count(first);
    float *ref = test_malloc((size_t)(ycount ? ycount : 1) * sizeof(float));
    kn_pool_ref(&p, KILN_DTYPE_FLOAT, xd, ref, NULL, NULL);
    kn_isa_level best = kn_cpu_isa(KILN_ISA_AUTO);
    for (int isa = KN_ISA_GENERIC; isa <= (int)best; isa++) {
        kiln_tensor *y1 = run_pool(k, (kn_isa_level)isa, 1, x);
        kiln_tensor *y2 = run_pool(k, (kn_isa_level)isa, 2, x);
        assert_int_equal(kn_tensor_count(y1), ycount);
        same(ref, y1->data, ycount, k, isa);
        /* bit for bit across thread counts */
        assert_memory_equal(y1->data, y2->data, (size_t)ycount * sizeof(float));
        kn_tensor_free(y1);
        kn_tensor_free(y2);
    }
    test_free(ref);
    kn_tensor_free(first);
    kn_tensor_free(x);
}

static const mp_case cases[] = {
    /* squeezenet1_1 and ResNet-50 shapes (fewer channels) */
    {1, 8, 111, 111, 3, 3, 2, 2, {0, 0, 0, 0}, 1},
    {1, 4, 55, 55, 3, 3, 2, 2, {0, 0, 0, 0}, 1},
    {1, 4, 27, 27, 3, 3, 2, 2, {0, 0, 0, 0}, 1},
    {1, 8, 112, 112, 3, 3, 2, 2, {1, 1, 1, 1}, 0},
    {1, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 0},
    {2, 3, 1, 1, 3, 3, 2, 2, {1, 1, 1, 1}, 0},
    {1, 2, 3, 3, 2, 2, 1, 1, {0, 0, 0, 0}, 1},
    {1, 2, 3, 3, 3, 3, 2, 2, {1, 1, 1, 1}, 1},
    {2, 3, 17, 17, 3, 3, 1, 1, {1, 1, 1, 1}, 0},
    {1, 3, 17, 17, 2, 2, 2, 2, {0, 0, 0, 0}, 1},
    {1, 3, 17, 23, 3, 2, 2, 1, {0, 1, 2, 0}, 1},
    {1, 2, 17, 31, 2, 3, 1, 2, {1, 0, 0, 1}, 0},
    {1, 2, 9, 33, 4, 4, 2, 2, {2, 3, 1, 2}, 1},
    /* pads as wide as the kernel: windows entirely in the pads are NaN */
    {1, 2, 5, 7, 2, 2, 2, 2, {2, 2, 2, 2}, 1},
    {1, 2, 111, 47, 3, 3, 2, 2, {0, 0, 0, 0}, 0},
    {1, 1, 3, 111, 3, 3, 1, 1, {1, 1, 1, 1}, 1},
};

static void test_against_reference(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check(&cases[i], 17 + (uint32_t)i, false);
        check(&cases[i], 91 + (uint32_t)i, true);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
