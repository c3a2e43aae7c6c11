/* Attention (opset 23/24) against a plain double-precision computation
 * written here, plus its spec edge cases: GQA, KV cache, masks (bool and
 * float, broadcast, short last dimension), causal frontiers, softcap, the
 * qk_matmul_output modes, fully masked rows, nonpad_kv_seqlen, 3-D inputs,
 * empty sizes and refused inputs. FlexAttention without subgraphs here
 * too; its score_mod / prob_mod subgraphs run through a model in
 * test_flex_attention.c. */
#include "harness.h"

#include <math.h>

static void free_all(kiln_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        kn_tensor_free(t[i]);
}

/* The naive computation: everything 4-D, mask given with 4-D dims (1 where
 * broadcast; last dimension may be shorter than past + kv), as floats. */
typedef struct ref_case {
    int64_t B, qH, kvH, Sq, Skv, P, D, Dv;
    const float *q, *k, *v, *pk, *pv; /* pk/pv NULL without cache */
    const float *mask;                /* NULL: none */
    int64_t mdims[4];
    bool causal;
    const int64_t *nonpad; /* NULL: none */
    double scale;          /* 0: default */
    double softcap;
    int mode;
} ref_case;

static void reference(const ref_case *r, float *y, float *qk)
{
    int64_t T = r->P + r->Skv, rep = r->qH / r->kvH;
    double scale = r->scale != 0 ? r->scale : 1.0 / sqrt((double)r->D);
    double *s = malloc(sizeof(double) * (size_t)(T ? T : 1));
    for (int64_t b = 0; b < r->B; b++)
        for (int64_t h = 0; h < r->qH; h++) {
            int64_t g = h / rep;
            for (int64_t i = 0; i < r->Sq; i++) {
                double bmax = -INFINITY;
                int64_t qo = ((b * r->qH + h) * r->Sq + i) * T;
                for (int64_t j = 0; j < T; j++) {
                    const float *kr = j < r->P ? r->pk + ((b * r->kvH + g) * r->P + j) * r->D
                                               : r->k + ((b * r->kvH + g) * r->Skv + (j - r->P)) * r->D;
                    double dot = 0;
                    for (int64_t d = 0; d < r->D; d++)
                        dot += (double)r->q[((b * r->qH + h) * r->Sq + i) * r->D + d] * kr[d];
                    dot *= scale;
                    if (r->mode == 0 && qk)
                        qk[qo + j] = (float)dot;
                    if (r->softcap > 0)
                        dot = r->softcap * tanh(dot / r->softcap);
                    if (r->mode == 1 && qk)
                        qk[qo + j] = (float)dot;
                    double bias = 0;
                    if (r->mask) {
                        const int64_t *md = r->mdims;
                        if (j >= md[3])
                            bias = -INFINITY;
                        else
                            bias = r->mask[(((md[0] > 1 ? b : 0) * md[1] + (md[1] > 1 ? h : 0)) * md[2] +
                                            (md[2] > 1 ? i : 0)) *
                                               md[3] +
                                           j];
                    }
                    int64_t off = r->pk ? r->P : r->nonpad ? r->nonpad[b] - r->Sq : 0;
                    if (r->causal && j > i + off)
                        bias = -INFINITY;
                    if (r->nonpad && j >= r->nonpad[b])
                        bias = -INFINITY;
                    if (bias > bmax)
                        bmax = bias;
                    s[j] = dot + bias;
                    if (r->mode == 2 && qk)
                        qk[qo + j] = (float)s[j];
                }
                bool masked = bmax == -INFINITY;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < T; j++)
                    mx = s[j] > mx ? s[j] : mx;
                for (int64_t j = 0; j < T; j++)
                    sum += s[j] = masked ? 0 : exp(s[j] - mx);
                for (int64_t j = 0; j < T; j++) {
                    s[j] = masked ? 0 : s[j] / sum;
                    if (r->mode == 3 && qk)
                        qk[qo + j] = (float)s[j];
                }
                for (int64_t e = 0; e < r->Dv; e++) {
                    double acc = 0;
                    for (int64_t j = 0; j < T; j++) {
                        const float *vr = j < r->P ? r->pv + ((b * r->kvH + g) * r->P + j) * r->Dv
                                                   : r->v + ((b * r->kvH + g) * r->Skv + (j - r->P)) * r->Dv;
                        acc += s[j] * vr[e];
                    }
                    y[((b * r->qH + h) * r->Sq + i) * r->Dv + e] = (float)acc;
                }
            }
        }
    free(s);
}

static const float *f32(const kiln_tensor *t)
{
    return t ? (const float *)t->data : NULL;
}

/* GQA, cache, a broadcast float mask shorter than the keys, causal,
 * softcap, every qk_matmul_output mode, one and two threads. */
static void test_matches_naive(void **state)
{
    (void)state;
    enum { B = 2, qH = 4, kvH = 2, Sq = 3, Skv = 4, P = 2, D = 5, Dv = 3, T = P + Skv };
    kiln_tensor *in[6] = {kt_f32_random(KT_DIMS(B, qH, Sq, D), 1, -1, 1),
                          kt_f32_random(KT_DIMS(B, kvH, Skv, D), 2, -1, 1),
                          kt_f32_random(KT_DIMS(B, kvH, Skv, Dv), 3, -1, 1),
                          kt_f32_random(KT_DIMS(B, 1, Sq, T - 1), 4, -2, 2),
                          kt_f32_random(KT_DIMS(B, kvH, P, D), 5, -1, 1),
                          kt_f32_random(KT_DIMS(B, kvH, P, Dv), 6, -1, 1)};
    float want_y[B * qH * Sq * Dv], want_qk[B * qH * Sq * T];
    for (int mode = 0; mode < 4; mode++)
        for (int causal = 0; causal < 2; causal++)
            for (int threads = 1; threads <= 2; threads++) {
                kt_node *n = kt_node_new("Attention", 23);
                kt_attr_int(n, "qk_matmul_output_mode", mode);
                kt_attr_int(n, "is_causal", causal);
                kt_attr_float(n, "softcap", 1.5f);
                kiln_tensor *out[4];
                assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, threads, 6, in, 4, out), KILN_OK);
                ref_case r = {B, qH, kvH, Sq, Skv, P, D, Dv, f32(in[0]), f32(in[1]), f32(in[2]), f32(in[4]),
                              f32(in[5]), f32(in[3]), {B, 1, Sq, T - 1}, causal, NULL, 0, 1.5, mode};
                reference(&r, want_y, want_qk);
                kt_assert_shape(out[0], KT_DIMS(B, qH, Sq, Dv));
                kt_assert_f32_close(out[0], want_y, B * qH * Sq * Dv, 1e-5, 1e-6);
                kt_assert_shape(out[3], KT_DIMS(B, qH, Sq, T));
                kt_assert_f32_close(out[3], want_qk, B * qH * Sq * T, 1e-5, 1e-6);
                /* present = concat(past, new) along the sequence */
                kt_assert_shape(out[1], KT_DIMS(B, kvH, T, D));
                kt_assert_shape(out[2], KT_DIMS(B, kvH, T, Dv));
                for (int64_t bh = 0; bh < B * kvH; bh++) {
                    assert_memory_equal(f32(out[1]) + bh * T * D, f32(in[4]) + bh * P * D, sizeof(float) * P * D);
                    assert_memory_equal(f32(out[1]) + bh * T * D + P * D, f32(in[1]) + bh * Skv * D,
                                        sizeof(float) * Skv * D);
                    assert_memory_equal(f32(out[2]) + bh * T * Dv + P * Dv, f32(in[2]) + bh * Skv * Dv,
                                        sizeof(float) * Skv * Dv);
                }
                free_all(out, 4);
                kt_node_free(n);
            }
    free_all(in, 6);
}

/* Default scale is 1/sqrt(head_size); an explicit one replaces it. Any
 * softmax_precision (float16 computes in float32, double in double) stays
 * within float32 rounding of the exact result. */
static void test_scale_and_softmax_precision(void **state)
{
    (void)state;
    kiln_tensor *in[3] = {kt_f32_random(KT_DIMS(1, 2, 3, 4), 7, -2, 2), kt_f32_random(KT_DIMS(1, 2, 5, 4), 8, -2, 2),
                          kt_f32_random(KT_DIMS(1, 2, 5, 2), 9, -2, 2)};
    float want[12];
    static const int precisions[] = {0, KILN_DTYPE_FLOAT, KILN_DTYPE_FLOAT16, KILN_DTYPE_DOUBLE};
    for (int run = 0; run < 8; run++) {
        int explicit_scale = run % 2, precision = precisions[run / 2];
        kt_node *n = kt_node_new("Attention", 23);
        if (precision)
            kt_attr_int(n, "softmax_precision", precision);
        if (explicit_scale)
            kt_attr_float(n, "scale", 0.125f);
        kiln_tensor *y[1];
        assert_int_equal(kt_run(n, 3, in, 1, y), KILN_OK);
        ref_case r = {1, 2, 2, 3, 5, 0, 4, 2, f32(in[0]), f32(in[1]), f32(in[2]), NULL, NULL, NULL, {0},
                      false, NULL, explicit_scale ? 0.125 : 0, 0, 0};
        reference(&r, want, NULL);
        kt_assert_f32_close(y[0], want, 12, 1e-5, 1e-6);
        kn_tensor_free(y[0]);
        kt_node_free(n);
    }
    free_all(in, 3);
}

/* A bool mask is the float mask 0 / -inf; a row with no True is fully
 * masked: zero probabilities (mode 3) and a zero output row, not NaN. */
static void test_bool_mask_and_fully_masked_rows(void **state)
{
    (void)state;
    const uint8_t bm[6] = {1, 0, 1, 0, 0, 0}; /* [2, 3]: row 1 fully masked */
    const float fm[6] = {0, -INFINITY, 0, -INFINITY, -INFINITY, -INFINITY};
    kiln_tensor *q = kt_f32_random(KT_DIMS(1, 1, 2, 4), 10, -1, 1), *k = kt_f32_random(KT_DIMS(1, 1, 3, 4), 11, -1, 1),
                *v = kt_f32_random(KT_DIMS(1, 1, 3, 4), 12, -1, 1);
    kiln_tensor *masks[2] = {kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2, 3), bm), kt_f32(KT_DIMS(2, 3), fm)};
    kiln_tensor *res[2][4];
    for (int m = 0; m < 2; m++) {
        kt_node *n = kt_node_new("Attention", 23);
        kt_attr_int(n, "qk_matmul_output_mode", 3);
        assert_int_equal(kt_run(n, 4, (kiln_tensor *[]){q, k, v, masks[m]}, 4, res[m]), KILN_OK);
        kt_node_free(n);
    }
    kt_assert_tensors_close(res[0][0], res[1][0], 0, 0);
    kt_assert_tensors_close(res[0][3], res[1][3], 0, 0);
    const float *y = f32(res[0][0]), *p = f32(res[0][3]);
    for (int e = 0; e < 4; e++)
        assert_true(y[4 + e] == 0.0f);
    for (int j = 0; j < 3; j++)
        assert_true(p[3 + j] == 0.0f);
    assert_true(fabsf(p[0] + p[2] - 1.0f) < 1e-6f && p[1] == 0.0f);
    /* row 0 attends keys 0 and 2 only */
    ref_case r = {1, 1, 1, 2, 3, 0, 4, 4, f32(q), f32(k), f32(v), NULL, NULL, fm, {1, 1, 2, 3}, false, NULL, 0, 0, 3};
    float want[8];
    reference(&r, want, NULL);
    kt_assert_f32_close(res[0][0], want, 8, 1e-5, 1e-6);
    for (int m = 0; m < 2; m++)
        free_all(res[m], 4);
    kn_tensor_free(q);
    kn_tensor_free(k);
    kn_tensor_free(v);
    free_all(masks, 2);
}

/* Causal frontier without cache is top-left (key j <= query i); with a
 * cache it shifts by the past length. Mask ranks 2 and 3 broadcast. */
static void test_causal_frontiers_and_mask_ranks(void **state)
{
    (void)state;
    kiln_tensor *q = kt_f32_random(KT_DIMS(2, 2, 3, 4), 13, -1, 1), *k = kt_f32_random(KT_DIMS(2, 2, 5, 4), 14, -1, 1),
                *v = kt_f32_random(KT_DIMS(2, 2, 5, 3), 15, -1, 1);
    kiln_tensor *m2 = kt_f32_random(KT_DIMS(3, 5), 16, -1, 1), *m3 = kt_f32_random(KT_DIMS(2, 1, 5), 17, -1, 1);
    float want[36];
    kiln_tensor *y[1];
    kt_node *n = kt_node_new("Attention", 23);
    kt_attr_int(n, "is_causal", 1);
    assert_int_equal(kt_run(n, 4, (kiln_tensor *[]){q, k, v, m2}, 1, y), KILN_OK);
    ref_case r = {2, 2, 2, 3, 5, 0, 4, 3, f32(q), f32(k), f32(v), NULL, NULL, f32(m2), {1, 1, 3, 5}, true, NULL, 0, 0, 0};
    reference(&r, want, NULL);
    kt_assert_f32_close(y[0], want, 36, 1e-5, 1e-6);
    kn_tensor_free(y[0]);
    kt_node_free(n);

    /* rank-3 mask [2, 1, 5] aligns with (heads, q rows, keys) */
    n = kt_node_new("Attention", 23);
    assert_int_equal(kt_run(n, 4, (kiln_tensor *[]){q, k, v, m3}, 1, y), KILN_OK);
    ref_case r3 = {2, 2, 2, 3, 5, 0, 4, 3, f32(q), f32(k), f32(v), NULL, NULL, f32(m3), {1, 2, 1, 5}, false, NULL, 0, 0, 0};
    reference(&r3, want, NULL);
    kt_assert_f32_close(y[0], want, 36, 1e-5, 1e-6);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    kn_tensor_free(q);
    kn_tensor_free(k);
    kn_tensor_free(v);
    kn_tensor_free(m2);
    kn_tensor_free(m3);
}

/* 3-D inputs [B, S, heads * size] give the 4-D result transposed back. */
static void test_3d_equals_4d(void **state)
{
    (void)state;
    enum { B = 2, qH = 4, kvH = 2, Sq = 3, Skv = 5, D = 2, Dv = 3 };
    kiln_tensor *q4 = kt_f32_random(KT_DIMS(B, qH, Sq, D), 18, -1, 1), *k4 = kt_f32_random(KT_DIMS(B, kvH, Skv, D), 19, -1, 1),
                *v4 = kt_f32_random(KT_DIMS(B, kvH, Skv, Dv), 20, -1, 1);
    kiln_tensor *q3 = kt_f32(KT_DIMS(B, Sq, qH * D), NULL), *k3 = kt_f32(KT_DIMS(B, Skv, kvH * D), NULL),
                *v3 = kt_f32(KT_DIMS(B, Skv, kvH * Dv), NULL);
    struct {
        kiln_tensor *t4, *t3;
        int64_t H, S, E;
    } tr[3] = {{q4, q3, qH, Sq, D}, {k4, k3, kvH, Skv, D}, {v4, v3, kvH, Skv, Dv}};
    for (int t = 0; t < 3; t++)
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < tr[t].H; h++)
                for (int64_t s = 0; s < tr[t].S; s++)
                    for (int64_t e = 0; e < tr[t].E; e++)
                        ((float *)tr[t].t3->data)[((b * tr[t].S + s) * tr[t].H + h) * tr[t].E + e] =
                            f32(tr[t].t4)[((b * tr[t].H + h) * tr[t].S + s) * tr[t].E + e];
    kiln_tensor *y4[1], *y3[1];
    kt_node *n = kt_node_new("Attention", 23);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){q4, k4, v4}, 1, y4), KILN_OK);
    kt_node_free(n);
    n = kt_node_new("Attention", 23);
    kt_attr_int(n, "q_num_heads", qH);
    kt_attr_int(n, "kv_num_heads", kvH);
    assert_int_equal(kt_run(n, 3, (kiln_tensor *[]){q3, k3, v3}, 1, y3), KILN_OK);
    kt_node_free(n);
    kt_assert_shape(y3[0], KT_DIMS(B, Sq, qH * Dv));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < qH; h++)
            for (int64_t s = 0; s < Sq; s++)
                for (int64_t e = 0; e < Dv; e++)
                    assert_true(f32(y3[0])[((b * Sq + s) * qH + h) * Dv + e] ==
                                f32(y4[0])[((b * qH + h) * Sq + s) * Dv + e]);
    kn_tensor_free(y4[0]);
    kn_tensor_free(y3[0]);
    for (int t = 0; t < 3; t++) {
        kn_tensor_free(tr[t].t4);
        kn_tensor_free(tr[t].t3);
    }
}

/* Opset 24: keys at or past nonpad_kv_seqlen[b] are padding; with is_causal
 * and no cache the frontier is bottom-right at nonpad - q_len (negative:
 * leading query rows see nothing and come out zero). */
static void test_nonpad_kv_seqlen(void **state)
{
    (void)state;
    kiln_tensor *q = kt_f32_random(KT_DIMS(3, 2, 3, 4), 21, -1, 1), *k = kt_f32_random(KT_DIMS(3, 1, 6, 4), 22, -1, 1),
                *v = kt_f32_random(KT_DIMS(3, 1, 6, 2), 23, -1, 1);
    const int64_t np[3] = {6, 4, 1};
    kiln_tensor *npt = kt_i64(KT_DIMS(3), np);
    float want[36];
    for (int causal = 0; causal < 2; causal++) {
        kt_node *n = kt_node_new("Attention", 24);
        kt_attr_int(n, "is_causal", causal);
        kiln_tensor *y[1];
        assert_int_equal(kt_run(n, 7, (kiln_tensor *[]){q, k, v, NULL, NULL, NULL, npt}, 1, y), KILN_OK);
        ref_case r = {3, 2, 1, 3, 6, 0, 4, 2, f32(q), f32(k), f32(v), NULL, NULL, NULL, {0}, causal, np, 0, 0, 0};
        reference(&r, want, NULL);
        kt_assert_f32_close(y[0], want, 36, 1e-5, 1e-6);
        if (causal) /* batch 2: offset 1 - 3 = -2, rows 0 and 1 see no key */
            for (int e = 0; e < 4; e++)
                assert_true(f32(y[0])[24 + e] == 0.0f && f32(y[0])[30 + e] == 0.0f);
        kn_tensor_free(y[0]);
        kt_node_free(n);
    }
    /* lengths outside [0, total] are refused at run time */
    int64_t bad[3] = {6, 7, 1};
    kiln_tensor *badt = kt_i64(KT_DIMS(3), bad);
    kt_node *n = kt_node_new("Attention", 24);
    kiln_tensor *y[1];
    assert_int_equal(kt_run(n, 7, (kiln_tensor *[]){q, k, v, NULL, NULL, NULL, badt}, 1, y), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kn_error_message(), "nonpad_kv_seqlen"));
    kt_node_free(n);
    /* and the input does not exist before opset 24 */
    n = kt_node_new("Attention", 23);
    assert_int_not_equal(kt_run(n, 7, (kiln_tensor *[]){q, k, v, NULL, NULL, NULL, npt}, 1, y), KILN_OK);
    kt_node_free(n);
    kn_tensor_free(badt);
    kn_tensor_free(npt);
    kn_tensor_free(q);
    kn_tensor_free(k);
    kn_tensor_free(v);
}

/* float16 and double agree with float32 to their precision. */
static void test_half_and_double(void **state)
{
    (void)state;
    kiln_tensor *f[3] = {kt_f32_random(KT_DIMS(1, 2, 3, 8), 24, -1, 1), kt_f32_random(KT_DIMS(1, 2, 4, 8), 25, -1, 1),
                         kt_f32_random(KT_DIMS(1, 2, 4, 8), 26, -1, 1)};
    float want[48];
    ref_case r = {1, 2, 2, 3, 4, 0, 8, 8, f32(f[0]), f32(f[1]), f32(f[2]), NULL, NULL, NULL, {0}, false, NULL, 0, 0, 0};
    reference(&r, want, NULL);
    kiln_tensor *h[3], *d[3];
    for (int i = 0; i < 3; i++) {
        h[i] = kt_tensor(KILN_DTYPE_FLOAT16, f[i]->rank, f[i]->dims, NULL);
        d[i] = kt_tensor(KILN_DTYPE_DOUBLE, f[i]->rank, f[i]->dims, NULL);
        for (int64_t e = 0; e < kn_tensor_count(f[i]); e++) {
            ((uint16_t *)h[i]->data)[e] = kn_float_to_half(f32(f[i])[e]);
            ((double *)d[i]->data)[e] = f32(f[i])[e];
        }
    }
    kiln_tensor *y[1];
    kt_node *n = kt_node_new("Attention", 23);
    assert_int_equal(kt_run(n, 3, d, 1, y), KILN_OK);
    assert_int_equal(y[0]->dtype, KILN_DTYPE_DOUBLE);
    for (int e = 0; e < 48; e++)
        assert_true(fabs(((double *)y[0]->data)[e] - want[e]) < 1e-6);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    n = kt_node_new("Attention", 23);
    assert_int_equal(kt_run(n, 3, h, 1, y), KILN_OK);
    assert_int_equal(y[0]->dtype, KILN_DTYPE_FLOAT16);
    for (int e = 0; e < 48; e++)
        assert_true(fabsf(kn_half_to_float(((uint16_t *)y[0]->data)[e]) - want[e]) < 5e-3f);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    free_all(f, 3);
    free_all(h, 3);
    free_all(d, 3);
}

/* No query rows: empty output. No keys at all: every row fully masked, so
 * zeros (and no NaN). */
static void test_empty(void **state)
{
    (void)state;
    kiln_tensor *in[3] = {kt_f32(KT_DIMS(1, 2, 0, 4), NULL), kt_f32_random(KT_DIMS(1, 2, 3, 4), 27, -1, 1),
                          kt_f32_random(KT_DIMS(1, 2, 3, 5), 28, -1, 1)};
    kiln_tensor *y[1];
    kt_node *n = kt_node_new("Attention", 23);
    assert_int_equal(kt_run(n, 3, in, 1, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(1, 2, 0, 5));
    kn_tensor_free(y[0]);
    kt_node_free(n);
    free_all(in, 3);

    kiln_tensor *in2[3] = {kt_f32_random(KT_DIMS(1, 2, 3, 4), 29, -1, 1), kt_f32(KT_DIMS(1, 2, 0, 4), NULL),
                           kt_f32(KT_DIMS(1, 2, 0, 5), NULL)};
    n = kt_node_new("Attention", 23);
    assert_int_equal(kt_run(n, 3, in2, 1, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(1, 2, 3, 5));
    for (int e = 0; e < 30; e++)
        assert_true(f32(y[0])[e] == 0.0f);
    kn_tensor_free(y[0]);
    kt_node_free(n);
    free_all(in2, 3);
}

static void expect_error(kt_node *n, int n_in, kiln_tensor *const *in, kiln_status code, const char *needle)
{
    kiln_tensor *y[1];
    assert_int_equal(kt_run(n, n_in, in, 1, y), code);
    if (!strstr(kn_error_message(), needle))
        fail_msg("error '%s' does not mention '%s'", kn_error_message(), needle);
    kt_node_free(n);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *q3 = kt_f32(KT_DIMS(1, 2, 6), NULL), *q4 = kt_f32(KT_DIMS(1, 3, 2, 4), NULL),
                *k4 = kt_f32(KT_DIMS(1, 2, 5, 4), NULL), *k4b = kt_f32(KT_DIMS(1, 1, 5, 4), NULL),
                *v4 = kt_f32(KT_DIMS(1, 1, 5, 4), NULL), *mlong = kt_f32(KT_DIMS(2, 6), NULL),
                *mbad = kt_f32(KT_DIMS(3, 5), NULL), *mint = kt_i64(KT_DIMS(2, 5), NULL),
                *pk = kt_f32(KT_DIMS(1, 1, 2, 4), NULL);
    /* 3-D needs the head counts */
    expect_error(kt_node_new("Attention", 23), 3, (kiln_tensor *[]){q3, q3, q3}, KILN_ERROR_MODEL, "q_num_heads");
    /* 3 query heads over 2 KV heads */
    expect_error(kt_node_new("Attention", 23), 3, (kiln_tensor *[]){q4, k4, k4}, KILN_ERROR_SHAPE, "multiple");
    /* mask longer than the keys, or not broadcastable, or integer */
    expect_error(kt_node_new("Attention", 23), 4, (kiln_tensor *[]){q4, k4b, v4, mlong}, KILN_ERROR_SHAPE,
                 "last dimension");
    expect_error(kt_node_new("Attention", 23), 4, (kiln_tensor *[]){q4, k4b, v4, mbad}, KILN_ERROR_SHAPE, "broadcast");
    expect_error(kt_node_new("Attention", 23), 4, (kiln_tensor *[]){q4, k4b, v4, mint}, KILN_ERROR_DTYPE, "bool");
    /* past_key without past_value */
    expect_error(kt_node_new("Attention", 23), 5, (kiln_tensor *[]){q4, k4b, v4, NULL, pk}, KILN_ERROR_MODEL,
                 "together");
    /* attribute values */
    kt_node *n = kt_node_new("Attention", 23);
    kt_attr_int(n, "qk_matmul_output_mode", 4);
    expect_error(n, 3, (kiln_tensor *[]){q4, k4b, v4}, KILN_ERROR_MODEL, "qk_matmul_output_mode");
    n = kt_node_new("Attention", 23);
    kt_attr_float(n, "softcap", -1.0f);
    expect_error(n, 3, (kiln_tensor *[]){q4, k4b, v4}, KILN_ERROR_MODEL, "softcap");
    n = kt_node_new("Attention", 23);
    kt_attr_int(n, "softmax_precision", KILN_DTYPE_INT32);
    expect_error(n, 3, (kiln_tensor *[]){q4, k4b, v4}, KILN_ERROR_UNSUPPORTED, "softmax_precision");
    kn_tensor_free(q3);
    kn_tensor_free(q4);
    kn_tensor_free(k4);
    kn_tensor_free(k4b);
    kn_tensor_free(v4);
    kn_tensor_free(mlong);
    kn_tensor_free(mbad);
    kn_tensor_free(mint);
    kn_tensor_free(pk);
}

/* ---- FlexAttention (no subgraphs) ------------------------------------- */

static void test_flex_plain_matches_naive(void **state)
{
    (void)state;
    kiln_tensor *in[3] = {kt_f32_random(KT_DIMS(2, 4, 3, 6), 30, -1, 1), kt_f32_random(KT_DIMS(2, 2, 5, 6), 31, -1, 1),
                          kt_f32_random(KT_DIMS(2, 2, 5, 3), 32, -1, 1)};
    float want[72];
    for (int scaled = 0; scaled < 2; scaled++) {
        kt_node *n = kt_node_new_domain("ai.onnx.preview", "FlexAttention", 1);
        if (scaled)
            kt_attr_float(n, "scale", 0.3f);
        kiln_tensor *y[1];
        assert_int_equal(kt_run(n, 3, in, 1, y), KILN_OK);
        ref_case r = {2, 4, 2, 3, 5, 0, 6, 3, f32(in[0]), f32(in[1]), f32(in[2]), NULL, NULL, NULL, {0},
                      false, NULL, scaled ? 0.3 : 0, 0, 0};
        reference(&r, want, NULL);
        kt_assert_shape(y[0], KT_DIMS(2, 4, 3, 3));
        kt_assert_f32_close(y[0], want, 72, 1e-5, 1e-6);
        kn_tensor_free(y[0]);
        kt_node_free(n);
    }
    kt_node *n = kt_node_new_domain("ai.onnx.preview", "FlexAttention", 1);
    kiln_tensor *k3 = kt_f32(KT_DIMS(2, 3, 5, 6), NULL);
    expect_error(n, 3, (kiln_tensor *[]){in[0], k3, k3}, KILN_ERROR_SHAPE, "multiple");
    kn_tensor_free(k3);
    free_all(in, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_naive),
        cmocka_unit_test(test_scale_and_softmax_precision),
        cmocka_unit_test(test_bool_mask_and_fully_masked_rows),
        cmocka_unit_test(test_causal_frontiers_and_mask_ranks),
        cmocka_unit_test(test_3d_equals_4d),
        cmocka_unit_test(test_nonpad_kv_seqlen),
        cmocka_unit_test(test_half_and_double),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_flex_plain_matches_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
