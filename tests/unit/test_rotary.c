/* RotaryEmbedding: hand-computed rotations (half-split and interleaved
 * pairs), partial rotary dimension, 3-D input, caches without position ids,
 * refused inputs. */
#include "harness.h"

#include <math.h>

static kiln_tensor *run_rope(int interleaved, int64_t rotary_dim, int64_t num_heads, int n_in, kiln_tensor *const *in,
                             kiln_status want)
{
    kt_node *n = kt_node_new("RotaryEmbedding", 23);
    if (interleaved)
        kt_attr_int(n, "interleaved", interleaved);
    if (rotary_dim)
        kt_attr_int(n, "rotary_embedding_dim", rotary_dim);
    if (num_heads)
        kt_attr_int(n, "num_heads", num_heads);
    kiln_tensor *y[1] = {NULL};
    assert_int_equal(kt_run(n, n_in, in, 1, y), want);
    kt_node_free(n);
    return y[0];
}

/* One head of 4 features at position 1 of a 2-row cache. */
static void test_hand_computed(void **state)
{
    (void)state;
    const float c0 = 0.5f, s0 = 0.8660254f;
    kiln_tensor *in[4] = {kt_f32(KT_DIMS(1, 1, 1, 4), (float[]){1, 2, 3, 4}),
                          kt_f32(KT_DIMS(2, 2), (float[]){9, 9, c0, 0}), kt_f32(KT_DIMS(2, 2), (float[]){9, 9, s0, 1}),
                          kt_i64(KT_DIMS(1, 1), (int64_t[]){1})};
    /* half split: pairs (x0, x2) and (x1, x3) */
    kiln_tensor *y = run_rope(0, 0, 0, 4, in, KILN_OK);
    kt_assert_f32_close(y, (float[]){c0 * 1 - s0 * 3, -4, s0 * 1 + c0 * 3, 2}, 4, 1e-6, 1e-6);
    kn_tensor_free(y);
    /* interleaved: pairs (x0, x1) and (x2, x3) */
    y = run_rope(1, 0, 0, 4, in, KILN_OK);
    kt_assert_f32_close(y, (float[]){c0 * 1 - s0 * 2, s0 * 1 + c0 * 2, -4, 3}, 4, 1e-6, 1e-6);
    kn_tensor_free(y);
    for (int i = 0; i < 4; i++)
        kn_tensor_free(in[i]);
}

/* rotary_embedding_dim 2 of 4: the last two features pass through. */
static void test_partial_rotation(void **state)
{
    (void)state;
    kiln_tensor *in[4] = {kt_f32(KT_DIMS(1, 1, 1, 4), (float[]){1, 2, 3, 4}), kt_f32(KT_DIMS(1, 1), (float[]){0}),
                          kt_f32(KT_DIMS(1, 1), (float[]){1}), kt_i64(KT_DIMS(1, 1), (int64_t[]){0})};
    for (int il = 0; il < 2; il++) {
        kiln_tensor *y = run_rope(il, 2, 0, 4, in, KILN_OK); /* 90 degrees: (1, 2) -> (-2, 1) */
        kt_assert_f32_close(y, (float[]){-2, 1, 3, 4}, 4, 0, 0);
        kn_tensor_free(y);
    }
    for (int i = 0; i < 4; i++)
        kn_tensor_free(in[i]);
}

/* 3-D [B, S, heads * size] input equals the 4-D one transposed, and caches
 * given per (batch, position) equal the position-id lookup. */
static void test_3d_and_caches_without_ids(void **state)
{
    (void)state;
    enum { B = 2, H = 3, S = 4, D = 6, R = 6 };
    kiln_tensor *x4 = kt_f32_random(KT_DIMS(B, H, S, D), 1, -1, 1), *x3 = kt_f32(KT_DIMS(B, S, H * D), NULL);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int s = 0; s < S; s++)
                for (int d = 0; d < D; d++)
                    ((float *)x3->data)[((b * S + s) * H + h) * D + d] =
                        ((const float *)x4->data)[((b * H + h) * S + s) * D + d];
    kiln_tensor *cs = kt_f32_random(KT_DIMS(10, R / 2), 2, -1, 1), *sn = kt_f32_random(KT_DIMS(10, R / 2), 3, -1, 1);
    int64_t ids[B * S] = {0, 3, 9, 2, 5, 5, 1, 0};
    kiln_tensor *pos = kt_i64(KT_DIMS(B, S), ids);
    kiln_tensor *cs3 = kt_f32(KT_DIMS(B, S, R / 2), NULL), *sn3 = kt_f32(KT_DIMS(B, S, R / 2), NULL);
    for (int i = 0; i < B * S; i++)
        for (int k = 0; k < R / 2; k++) {
            ((float *)cs3->data)[i * R / 2 + k] = ((const float *)cs->data)[ids[i] * R / 2 + k];
            ((float *)sn3->data)[i * R / 2 + k] = ((const float *)sn->data)[ids[i] * R / 2 + k];
        }
    for (int il = 0; il < 2; il++) {
        kiln_tensor *y4 = run_rope(il, 0, 0, 4, (kiln_tensor *[]){x4, cs, sn, pos}, KILN_OK);
        kiln_tensor *y3 = run_rope(il, 0, H, 4, (kiln_tensor *[]){x3, cs, sn, pos}, KILN_OK);
        kiln_tensor *y4b = run_rope(il, 0, 0, 3, (kiln_tensor *[]){x4, cs3, sn3}, KILN_OK);
        kt_assert_tensors_close(y4b, y4, 0, 0);
        /* hand check of one rotated pair of y4 */
        int b = 1, h = 2, s = 3, k = 1;
        int i1 = il ? 2 * k : k, i2 = il ? 2 * k + 1 : k + R / 2;
        const float *xr = (const float *)x4->data + ((b * H + h) * S + s) * D;
        float c = ((const float *)cs->data)[ids[b * S + s] * R / 2 + k], sv = ((const float *)sn->data)[ids[b * S + s] * R / 2 + k];
        const float *yr = (const float *)y4->data + ((b * H + h) * S + s) * D;
        assert_true(fabsf(yr[i1] - (c * xr[i1] - sv * xr[i2])) < 1e-6f);
        assert_true(fabsf(yr[i2] - (sv * xr[i1] + c * xr[i2])) < 1e-6f);
        for (int bb = 0; bb < B; bb++)
            for (int hh = 0; hh < H; hh++)
                for (int ss = 0; ss < S; ss++)
                    for (int d = 0; d < D; d++)
                        assert_true(((const float *)y3->data)[((bb * S + ss) * H + hh) * D + d] ==
                                    ((const float *)y4->data)[((bb * H + hh) * S + ss) * D + d]);
        kn_tensor_free(y4);
        kn_tensor_free(y3);
        kn_tensor_free(y4b);
    }
    kn_tensor_free(x4);
    kn_tensor_free(x3);
    kn_tensor_free(cs);
    kn_tensor_free(sn);
    kn_tensor_free(cs3);
    kn_tensor_free(sn3);
    kn_tensor_free(pos);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(1, 1, 2, 4), NULL), *x3 = kt_f32(KT_DIMS(1, 2, 4), NULL),
                *cs = kt_f32(KT_DIMS(3, 2), NULL), *pos = kt_i64(KT_DIMS(1, 2), (int64_t[]){0, 3}),
                *ok_pos = kt_i64(KT_DIMS(1, 2), (int64_t[]){0, 2}), *cs_bad = kt_f32(KT_DIMS(3, 3), NULL);
    /* position 3 of a 3-row cache */
    run_rope(0, 0, 0, 4, (kiln_tensor *[]){x, cs, cs, pos}, KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kn_error_message(), "position id 3"));
    /* odd rotary dimension */
    run_rope(0, 3, 0, 4, (kiln_tensor *[]){x, cs, cs, ok_pos}, KILN_ERROR_MODEL);
    /* 3-D without num_heads */
    run_rope(0, 0, 0, 4, (kiln_tensor *[]){x3, cs, cs, ok_pos}, KILN_ERROR_MODEL);
    /* cache width is not rotary_dim / 2 */
    run_rope(0, 0, 0, 4, (kiln_tensor *[]){x, cs_bad, cs_bad, ok_pos}, KILN_ERROR_SHAPE);
    /* rotary dimension larger than the head */
    run_rope(0, 6, 0, 4, (kiln_tensor *[]){x, cs_bad, cs_bad, ok_pos}, KILN_ERROR_SHAPE);
    kn_tensor_free(x);
    kn_tensor_free(x3);
    kn_tensor_free(cs);
    kn_tensor_free(pos);
    kn_tensor_free(ok_pos);
    kn_tensor_free(cs_bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_partial_rotation),
        cmocka_unit_test(test_3d_and_caches_without_ids),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
