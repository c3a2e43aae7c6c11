/* Conv and ConvTranspose: hand-computed cases, the reference kernels against
 * a naive loop nest on awkward shapes (1-D..3-D, groups, strides, dilations,
 * asymmetric pads), thread-count independence, float16, shape errors. */
#include "harness.h"

#include <math.h>

/* One conv problem, spatial dims padded to 3 with leading ones. */
typedef struct prob {
    int nsp;
    int64_t N, C, M, group;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    int64_t op[3]; /* ConvTranspose output_padding */
} prob;

static int64_t out_dim(const prob *p, int i, bool transpose)
{
    int64_t eff = (p->k[i] - 1) * p->d[i] + 1;
    if (transpose)
        return p->s[i] * (p->in[i] - 1) + p->op[i] + eff - p->pb[i] - p->pe[i];
    return (p->in[i] + p->pb[i] + p->pe[i] - eff) / p->s[i] + 1;
}

static void set_attrs(kt_node *n, const prob *p, bool transpose)
{
    int64_t pads[6];
    for (int i = 0; i < p->nsp; i++) {
        pads[i] = p->pb[i];
        pads[i + p->nsp] = p->pe[i];
    }
    kt_attr_ints(n, "strides", p->s, (size_t)p->nsp);
    kt_attr_ints(n, "dilations", p->d, (size_t)p->nsp);
    kt_attr_ints(n, "pads", pads, 2 * (size_t)p->nsp);
    kt_attr_int(n, "group", p->group);
    if (transpose)
        kt_attr_ints(n, "output_padding", p->op, (size_t)p->nsp);
}

static void dims3(const int64_t *e, int nsp, int64_t *out)
{
    for (int i = 0; i < 3; i++)
        out[i] = 1;
    for (int i = 0; i < nsp; i++)
        out[3 - nsp + i] = e[i];
}

/* Direct definition: y[n,m,o] = b[m] + sum x[n,c,o*s-p+k*d] * w[m,c,k]. */
static void naive_conv(const prob *p, const float *x, const float *w, const float *b, float *y)
{
    int64_t out[3], ob[3], ib[3], kb[3], sb[3], db[3], pb[3];
    for (int i = 0; i < p->nsp; i++)
        out[i] = out_dim(p, i, false);
    dims3(out, p->nsp, ob);
    dims3(p->in, p->nsp, ib);
    dims3(p->k, p->nsp, kb);
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - p->nsp);
        sb[i] = j >= 0 ? p->s[j] : 1;
        db[i] = j >= 0 ? p->d[j] : 1;
        pb[i] = j >= 0 ? p->pb[j] : 0;
    }
    int64_t Cg = p->C / p->group, Mg = p->M / p->group;
    int64_t IP = ib[0] * ib[1] * ib[2], OP = ob[0] * ob[1] * ob[2], KP = kb[0] * kb[1] * kb[2];
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t m = 0; m < p->M; m++)
            for (int64_t o0 = 0; o0 < ob[0]; o0++)
                for (int64_t o1 = 0; o1 < ob[1]; o1++)
                    for (int64_t o2 = 0; o2 < ob[2]; o2++) {
                        double acc = b ? b[m] : 0.0;
                        int64_t g = m / Mg;
                        for (int64_t c = 0; c < Cg; c++)
                            for (int64_t k0 = 0; k0 < kb[0]; k0++)
                                for (int64_t k1 = 0; k1 < kb[1]; k1++)
                                    for (int64_t k2 = 0; k2 < kb[2]; k2++) {
                                        int64_t i0 = o0 * sb[0] - pb[0] + k0 * db[0];
                                        int64_t i1 = o1 * sb[1] - pb[1] + k1 * db[1];
                                        int64_t i2 = o2 * sb[2] - pb[2] + k2 * db[2];
                                        if (i0 < 0 || i0 >= ib[0] || i1 < 0 || i1 >= ib[1] || i2 < 0 || i2 >= ib[2])
                                            continue;
                                        acc += (double)x[(n * p->C + g * Cg + c) * IP + (i0 * ib[1] + i1) * ib[2] + i2] *
                                               w[(m * Cg + c) * KP + (k0 * kb[1] + k1) * kb[2] + k2];
                                    }
                        y[(n * p->M + m) * OP + (o0 * ob[1] + o1) * ob[2] + o2] = (float)acc;
                    }
}

/* Direct definition of ConvTranspose: scatter x[n,c,i] * w[c,m,k] to
 * o = i*s - p + k*d. */
static void naive_convt(const prob *p, const float *x, const float *w, const float *b, float *y)
{
    int64_t out[3], ob[3], ib[3], kb[3];
    for (int i = 0; i < p->nsp; i++)
        out[i] = out_dim(p, i, true);
    dims3(out, p->nsp, ob);
    dims3(p->in, p->nsp, ib);
    dims3(p->k, p->nsp, kb);
    int64_t sb[3] = {1, 1, 1}, db[3] = {1, 1, 1}, pb[3] = {0, 0, 0};
    for (int i = 0; i < p->nsp; i++) {
        sb[3 - p->nsp + i] = p->s[i];
        db[3 - p->nsp + i] = p->d[i];
        pb[3 - p->nsp + i] = p->pb[i];
    }
    int64_t Cg = p->C / p->group, Mg = p->M / p->group;
    int64_t IP = ib[0] * ib[1] * ib[2], OP = ob[0] * ob[1] * ob[2], KP = kb[0] * kb[1] * kb[2];
    double *acc = calloc((size_t)(p->N * p->M * OP), sizeof(double));
    assert_non_null(acc);
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t c = 0; c < p->C; c++)
            for (int64_t mm = 0; mm < Mg; mm++)
                for (int64_t i0 = 0; i0 < ib[0]; i0++)
                    for (int64_t i1 = 0; i1 < ib[1]; i1++)
                        for (int64_t i2 = 0; i2 < ib[2]; i2++)
                            for (int64_t k0 = 0; k0 < kb[0]; k0++)
                                for (int64_t k1 = 0; k1 < kb[1]; k1++)
                                    for (int64_t k2 = 0; k2 < kb[2]; k2++) {
                                        int64_t o0 = i0 * sb[0] - pb[0] + k0 * db[0];
                                        int64_t o1 = i1 * sb[1] - pb[1] + k1 * db[1];
                                        int64_t o2 = i2 * sb[2] - pb[2] + k2 * db[2];
                                        if (o0 < 0 || o0 >= ob[0] || o1 < 0 || o1 >= ob[1] || o2 < 0 || o2 >= ob[2])
                                            continue;
                                        int64_t m = (c / Cg) * Mg + mm;
                                        acc[(n * p->M + m) * OP + (o0 * ob[1] + o1) * ob[2] + o2] +=
                                            (double)x[(n * p->C + c) * IP + (i0 * ib[1] + i1) * ib[2] + i2] *
                                            w[(c * Mg + mm) * KP + (k0 * kb[1] + k1) * kb[2] + k2];
                                    }
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t m = 0; m < p->M; m++)
            for (int64_t o = 0; o < OP; o++)
                y[(n * p->M + m) * OP + o] = (float)(acc[(n * p->M + m) * OP + o] + (b ? b[m] : 0.0));
    free(acc);
}

/* Run the op at `threads` and compare with the naive loops; returns the
 * output for further checks. */
static kiln_tensor *check_prob(const prob *p, bool transpose, bool bias, int threads, uint32_t seed)
{
    int64_t xd[5] = {p->N, p->C}, wd[5], yd[5] = {p->N, p->M};
    wd[0] = transpose ? p->C : p->M;
    wd[1] = transpose ? p->M / p->group : p->C / p->group;
    for (int i = 0; i < p->nsp; i++) {
        xd[2 + i] = p->in[i];
        wd[2 + i] = p->k[i];
        yd[2 + i] = out_dim(p, i, transpose);
    }
    int rank = p->nsp + 2;
    kiln_tensor *x = kt_f32_random(rank, xd, seed, -1.0f, 1.0f);
    kiln_tensor *w = kt_f32_random(rank, wd, seed + 1, -1.0f, 1.0f);
    kiln_tensor *b = bias ? kt_f32_random(1, &p->M, seed + 2, -1.0f, 1.0f) : NULL;
    kt_node *n = kt_node_new(transpose ? "ConvTranspose" : "Conv", 22);
    set_attrs(n, p, transpose);
    kiln_tensor *in[3] = {x, w, b}, *y = NULL;
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, threads, bias ? 3 : 2, in, 1, &y), KILN_OK);
    kt_assert_shape(y, rank, yd);
    int64_t count = kn_tensor_count(y);
    float *expect = malloc((size_t)(count ? count : 1) * sizeof(float));
    assert_non_null(expect);
    if (transpose)
        naive_convt(p, x->data, w->data, b ? b->data : NULL, expect);
    else
        naive_conv(p, x->data, w->data, b ? b->data : NULL, expect);
    kt_assert_f32_close(y, expect, count, 1e-4, 1e-4);
    free(expect);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(b);
    return y;
}

static const prob conv_probs[] = {
    /* 2-D, 3x3 padded, channels not multiples of 4 */
    {.nsp = 2, .N = 2, .C = 3, .M = 5, .group = 1, .in = {9, 11}, .k = {3, 3}, .s = {1, 1}, .d = {1, 1},
     .pb = {1, 1}, .pe = {1, 1}},
    /* strided, dilated, asymmetric pads */
    {.nsp = 2, .N = 1, .C = 4, .M = 6, .group = 2, .in = {17, 13}, .k = {3, 2}, .s = {2, 3}, .d = {2, 1},
     .pb = {1, 0}, .pe = {2, 1}},
    /* pointwise 1x1 (no im2col), P = 70 spans a full and a partial tile */
    {.nsp = 2, .N = 2, .C = 7, .M = 9, .group = 1, .in = {7, 10}, .k = {1, 1}, .s = {1, 1}, .d = {1, 1}},
    /* depthwise with multiplier 2 */
    {.nsp = 2, .N = 1, .C = 5, .M = 10, .group = 5, .in = {8, 8}, .k = {3, 3}, .s = {1, 1}, .d = {1, 1},
     .pb = {1, 1}, .pe = {1, 1}},
    /* 1-D */
    {.nsp = 1, .N = 3, .C = 2, .M = 3, .group = 1, .in = {17}, .k = {5}, .s = {2}, .d = {1}, .pb = {2}, .pe = {1}},
    /* 3-D with groups and dilation */
    {.nsp = 3, .N = 1, .C = 4, .M = 4, .group = 2, .in = {5, 6, 7}, .k = {2, 3, 2}, .s = {1, 2, 1},
     .d = {2, 1, 1}, .pb = {0, 1, 1}, .pe = {1, 1, 0}},
    /* 1x1 with stride (im2col path), big enough for several tiles */
    {.nsp = 2, .N = 1, .C = 16, .M = 33, .group = 1, .in = {31, 29}, .k = {1, 1}, .s = {2, 2}, .d = {1, 1}},
    /* kernel larger than the input, all padding around */
    {.nsp = 2, .N = 1, .C = 1, .M = 2, .group = 1, .in = {2, 3}, .k = {4, 4}, .s = {1, 1}, .d = {1, 1},
     .pb = {2, 1}, .pe = {1, 2}},
};

static void test_conv_matches_naive(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof conv_probs / sizeof conv_probs[0]; i++) {
        kn_tensor_free(check_prob(&conv_probs[i], false, true, 1, 100 + (uint32_t)i));
        kn_tensor_free(check_prob(&conv_probs[i], false, false, 1, 200 + (uint32_t)i));
    }
}

static void test_conv_threads_bit_identical(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof conv_probs / sizeof conv_probs[0]; i++) {
        kiln_tensor *a = check_prob(&conv_probs[i], false, true, 1, 7);
        kiln_tensor *b = check_prob(&conv_probs[i], false, true, 3, 7);
        assert_memory_equal(a->data, b->data, a->nbytes);
        kn_tensor_free(a);
        kn_tensor_free(b);
    }
}

/* The ONNX docs example: 5x5 ramp, 3x3 ones, pads 1. */
static void test_conv_basic_padding(void **state)
{
    (void)state;
    float xv[25], wv[9];
    for (int i = 0; i < 25; i++)
        xv[i] = (float)i;
    for (int i = 0; i < 9; i++)
        wv[i] = 1.0f;
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 5, 5), xv), *w = kt_f32(KT_DIMS(1, 1, 3, 3), wv);
    kt_node *n = kt_node_new("Conv", 11);
    kt_attr_ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
    kt_attr_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    kiln_tensor *in[2] = {x, w}, *y = NULL;
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_OK);
    static const float expect[25] = {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81,
                                     93, 144, 153, 162, 111, 72, 111, 117, 123, 84};
    kt_assert_shape(y, KT_DIMS(1, 1, 5, 5));
    kt_assert_f32_close(y, expect, 25, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(w);
}

static kiln_tensor *run_auto_pad(const char *op, const char *mode, int rank, const int64_t *xd, const int64_t *wd,
                                 int64_t stride, kiln_status want)
{
    kiln_tensor *x = kt_f32_random(rank, xd, 1, -1, 1), *w = kt_f32_random(rank, wd, 2, -1, 1);
    kt_node *n = kt_node_new(op, 22);
    kt_attr_string(n, "auto_pad", mode);
    int64_t s[3] = {stride, stride, stride};
    kt_attr_ints(n, "strides", s, (size_t)rank - 2);
    kiln_tensor *in[2] = {x, w}, *y = NULL;
    assert_int_equal(kt_run(n, 2, in, 1, &y), want);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(w);
    return y;
}

/* SAME_UPPER puts the odd padding at the end, SAME_LOWER at the start: a
 * 1-D ramp with kernel [1, 0] picks x[o - pad_begin]. */
static void test_conv_auto_pad(void **state)
{
    (void)state;
    float xv[4] = {1, 2, 3, 4}, wv[2] = {1, 0};
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 4), xv), *w = kt_f32(KT_DIMS(1, 1, 2), wv);
    const char *modes[3] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
    static const float expect[3][4] = {{1, 2, 3, 4}, {0, 1, 2, 3}, {1, 2, 3, 0}};
    const int64_t lens[3] = {4, 4, 3};
    for (int i = 0; i < 3; i++) {
        kt_node *n = kt_node_new("Conv", 11);
        kt_attr_string(n, "auto_pad", modes[i]);
        kiln_tensor *in[2] = {x, w}, *y = NULL;
        assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_OK);
        kt_assert_shape(y, 3, (int64_t[]){1, 1, lens[i]});
        kt_assert_f32_close(y, expect[i], lens[i], 0, 0);
        kn_tensor_free(y);
        kt_node_free(n);
    }
    kn_tensor_free(x);
    kn_tensor_free(w);
    /* SAME: ceil(in / stride) whatever the kernel */
    kiln_tensor *y = run_auto_pad("Conv", "SAME_LOWER", KT_DIMS(1, 2, 7, 9), (int64_t[]){3, 2, 3, 3}, 2, KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 3, 4, 5));
    kn_tensor_free(y);
}

static void test_conv_float16(void **state)
{
    (void)state;
    const prob *p = &conv_probs[1];
    kiln_tensor *ref = check_prob(p, false, true, 1, 11);
    /* same inputs converted to half */
    int64_t xd[4] = {p->N, p->C, p->in[0], p->in[1]}, wd[4] = {p->M, p->C / p->group, p->k[0], p->k[1]};
    kiln_tensor *xf = kt_f32_random(4, xd, 11, -1, 1), *wf = kt_f32_random(4, wd, 12, -1, 1);
    kiln_tensor *bf = kt_f32_random(1, &p->M, 13, -1, 1);
    kiln_tensor *src[3] = {xf, wf, bf}, *h[3];
    for (int i = 0; i < 3; i++) {
        h[i] = kt_tensor(KILN_DTYPE_FLOAT16, src[i]->rank, src[i]->dims, NULL);
        for (int64_t j = 0; j < kn_tensor_count(src[i]); j++)
            ((uint16_t *)h[i]->data)[j] = kn_float_to_half(((float *)src[i]->data)[j]);
    }
    kt_node *n = kt_node_new("Conv", 22);
    set_attrs(n, p, false);
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 3, h, 1, &y), KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
    kt_assert_shape(y, ref->rank, ref->dims);
    for (int64_t j = 0; j < kn_tensor_count(y); j++) {
        float got = kn_half_to_float(((uint16_t *)y->data)[j]), want = ((float *)ref->data)[j];
        assert_true(fabsf(got - want) < 2e-2f + 2e-2f * fabsf(want));
    }
    for (int i = 0; i < 3; i++) {
        kn_tensor_free(h[i]);
        kn_tensor_free(src[i]);
    }
    kn_tensor_free(y);
    kn_tensor_free(ref);
    kt_node_free(n);
}

static void test_conv_empty_batch(void **state)
{
    (void)state;
    kiln_tensor *y = run_auto_pad("Conv", "NOTSET", KT_DIMS(0, 2, 5, 5), (int64_t[]){3, 2, 3, 3}, 1, KILN_OK);
    kt_assert_shape(y, KT_DIMS(0, 3, 3, 3));
    kn_tensor_free(y);
    y = run_auto_pad("ConvTranspose", "NOTSET", KT_DIMS(0, 2, 5), (int64_t[]){2, 3, 3}, 2, KILN_OK);
    kt_assert_shape(y, KT_DIMS(0, 3, 11));
    kn_tensor_free(y);
}

static void expect_error(const char *op, int rank_x, const int64_t *xd, int rank_w, const int64_t *wd,
                         const int64_t *bias_len, const char *attr, int64_t attr_v, kiln_status want,
                         const char *msg)
{
    kiln_tensor *x = kt_f32(rank_x, xd, NULL), *w = kt_f32(rank_w, wd, NULL);
    kiln_tensor *b = bias_len ? kt_f32(1, bias_len, NULL) : NULL;
    kt_node *n = kt_node_new(op, 22);
    if (attr)
        kt_attr_int(n, attr, attr_v);
    kiln_tensor *in[3] = {x, w, b}, *y = NULL;
    assert_int_equal(kt_run(n, b ? 3 : 2, in, 1, &y), want);
    if (!strstr(kn_error_message(), msg))
        fail_msg("message '%s' lacks '%s'", kn_error_message(), msg);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(w);
    kn_tensor_free(b);
}

static void test_conv_errors(void **state)
{
    (void)state;
    expect_error("Conv", KT_DIMS(1, 3, 8, 8), KT_DIMS(4, 3, 3), NULL, NULL, 0, KILN_ERROR_SHAPE,
                 "node 'test_node' (Conv): weight has 3 dims, expected 4");
    expect_error("Conv", KT_DIMS(1, 5, 8, 8), KT_DIMS(4, 3, 3, 3), NULL, NULL, 0, KILN_ERROR_SHAPE,
                 "input has 5 channels, weight expects 3 (group 1)");
    expect_error("Conv", KT_DIMS(1, 4, 8, 8), KT_DIMS(3, 2, 3, 3), NULL, "group", 2, KILN_ERROR_SHAPE,
                 "not divisible by group 2");
    expect_error("Conv", KT_DIMS(1, 3, 8, 8), KT_DIMS(4, 3, 3, 3), (int64_t[]){5}, NULL, 0, KILN_ERROR_SHAPE,
                 "bias has shape [5], expected [4]");
    expect_error("Conv", KT_DIMS(1, 3, 2, 8), KT_DIMS(4, 3, 3, 3), NULL, NULL, 0, KILN_ERROR_SHAPE,
                 "smaller than the kernel extent 3");
    expect_error("Conv", KT_DIMS(1, 3, 8, 8), KT_DIMS(4, 3, 3, 3), NULL, "group", 0, KILN_ERROR_MODEL,
                 "group is 0");
    expect_error("ConvTranspose", KT_DIMS(1, 3, 8, 8), KT_DIMS(2, 3, 3, 3), NULL, NULL, 0, KILN_ERROR_SHAPE,
                 "input has 3 channels, weight expects 2");

    /* attribute problems */
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 5, 5), NULL), *w = kt_f32(KT_DIMS(1, 1, 3, 3), NULL), *y = NULL;
    kiln_tensor *in[2] = {x, w};
    kt_node *n = kt_node_new("Conv", 22);
    kt_attr_string(n, "auto_pad", "SAME");
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_ERROR_MODEL);
    assert_non_null(strstr(kn_error_message(), "auto_pad 'SAME'"));
    kt_node_free(n);
    n = kt_node_new("Conv", 22);
    kt_attr_ints(n, "kernel_shape", (int64_t[]){3, 2}, 2);
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kn_error_message(), "kernel_shape[1] is 2 but the weight has 3"));
    kt_node_free(n);
    n = kt_node_new("Conv", 22);
    kt_attr_ints(n, "strides", (int64_t[]){1, 0}, 2);
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_ERROR_MODEL);
    kt_node_free(n);
    n = kt_node_new("Conv", 22);
    kt_attr_ints(n, "pads", (int64_t[]){1, 1}, 2);
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_ERROR_MODEL);
    assert_non_null(strstr(kn_error_message(), "pads has 2 entries, expected 4"));
    kt_node_free(n);
    /* mixed dtypes */
    kiln_tensor *wi = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(1, 1, 3, 3), NULL);
    in[1] = wi;
    n = kt_node_new("Conv", 22);
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_ERROR_DTYPE);
    kt_node_free(n);
    kn_tensor_free(wi);
    kn_tensor_free(x);
    kn_tensor_free(w);
}

/* ---- ConvTranspose ---------------------------------------------------- */

/* ONNX docs: x = [0, 1, 2], two output channels of ones(3). */
static void test_convt_1d(void **state)
{
    (void)state;
    float xv[3] = {0, 1, 2}, wv[6] = {1, 1, 1, 1, 1, 1};
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 3), xv), *w = kt_f32(KT_DIMS(1, 2, 3), wv), *y = NULL;
    kt_node *n = kt_node_new("ConvTranspose", 11);
    kiln_tensor *in[2] = {x, w};
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_OK);
    static const float expect[10] = {0, 1, 3, 3, 2, 0, 1, 3, 3, 2};
    kt_assert_shape(y, KT_DIMS(1, 2, 5));
    kt_assert_f32_close(y, expect, 10, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(w);
}

static const prob convt_probs[] = {
    {.nsp = 2, .N = 2, .C = 3, .M = 2, .group = 1, .in = {4, 5}, .k = {3, 3}, .s = {3, 2}, .d = {1, 1},
     .pb = {1, 1}, .pe = {1, 1}, .op = {1, 1}},
    {.nsp = 2, .N = 1, .C = 4, .M = 6, .group = 2, .in = {5, 3}, .k = {2, 3}, .s = {1, 2}, .d = {2, 1},
     .pb = {0, 2}, .pe = {1, 0}, .op = {0, 1}},
    {.nsp = 1, .N = 3, .C = 2, .M = 5, .group = 1, .in = {7}, .k = {4}, .s = {3}, .d = {1}, .pb = {2},
     .pe = {1}, .op = {2}},
    {.nsp = 3, .N = 1, .C = 2, .M = 2, .group = 2, .in = {3, 4, 2}, .k = {2, 2, 3}, .s = {2, 1, 2},
     .d = {1, 2, 1}, .pb = {0, 1, 0}, .pe = {1, 0, 2}, .op = {1, 0, 0}},
    /* depthwise-style transpose, stride 2 upsampling */
    {.nsp = 2, .N = 1, .C = 5, .M = 5, .group = 5, .in = {6, 7}, .k = {4, 4}, .s = {2, 2}, .d = {1, 1},
     .pb = {1, 1}, .pe = {1, 1}},
};

static void test_convt_matches_naive(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof convt_probs / sizeof convt_probs[0]; i++) {
        kiln_tensor *a = check_prob(&convt_probs[i], true, true, 1, 300 + (uint32_t)i);
        kiln_tensor *b = check_prob(&convt_probs[i], true, true, 2, 300 + (uint32_t)i);
        assert_memory_equal(a->data, b->data, a->nbytes);
        kn_tensor_free(a);
        kn_tensor_free(b);
        kn_tensor_free(check_prob(&convt_probs[i], true, false, 1, 400 + (uint32_t)i));
    }
}

/* output_shape fixes the size; the difference is split per the spec (here
 * it only extends the end), and SAME_UPPER gives in * stride. */
static void test_convt_output_shape_and_same(void **state)
{
    (void)state;
    float xv[3] = {1, 2, 3}, wv[2] = {1, 10};
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 3), xv), *w = kt_f32(KT_DIMS(1, 1, 2), wv), *y = NULL;
    kiln_tensor *in[2] = {x, w};
    /* full result with stride 2: [1, 10, 2, 20, 3, 30] (length 6) */
    kt_node *n = kt_node_new("ConvTranspose", 22);
    kt_attr_ints(n, "strides", (int64_t[]){2}, 1);
    kt_attr_ints(n, "output_shape", (int64_t[]){8}, 1);
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_OK);
    /* total padding 6 - 8 = -2: one column of zeros each side */
    static const float e1[8] = {0, 1, 10, 2, 20, 3, 30, 0};
    kt_assert_shape(y, KT_DIMS(1, 1, 8));
    kt_assert_f32_close(y, e1, 8, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);

    n = kt_node_new("ConvTranspose", 22);
    kt_attr_ints(n, "strides", (int64_t[]){2}, 1);
    kt_attr_ints(n, "output_shape", (int64_t[]){1, 1, 5}, 3);
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_OK);
    /* total padding 1: NOTSET puts the odd one at the start */
    static const float e2[5] = {10, 2, 20, 3, 30};
    kt_assert_f32_close(y, e2, 5, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);

    n = kt_node_new("ConvTranspose", 22);
    kt_attr_ints(n, "strides", (int64_t[]){2}, 1);
    kt_attr_string(n, "auto_pad", "SAME_UPPER");
    kt_attr_ints(n, "kernel_shape", (int64_t[]){2}, 1);
    assert_int_equal(kt_run(n, 2, in, 1, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(1, 1, 6));
    kt_assert_f32_close(y, (float[]){1, 10, 2, 20, 3, 30}, 6, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(x);
    kn_tensor_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_basic_padding),    cmocka_unit_test(test_conv_matches_naive),
        cmocka_unit_test(test_conv_threads_bit_identical), cmocka_unit_test(test_conv_auto_pad),
        cmocka_unit_test(test_conv_float16),          cmocka_unit_test(test_conv_empty_batch),
        cmocka_unit_test(test_conv_errors),           cmocka_unit_test(test_convt_1d),
        cmocka_unit_test(test_convt_matches_naive),   cmocka_unit_test(test_convt_output_shape_and_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
