/* Shape family: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Expand,
 * Tile, Shape, Size, Identity, DepthToSpace, SpaceToDepth, EyeLike (Dropout:
 * test_dropout.c).
 * Hand-computed cases, old-opset upgrade forms, odd dtypes and errors. */
#include "harness.h"

static kiln_tensor *iota_f32(int rank, const int64_t *dims)
{
    kiln_tensor *t = kt_f32(rank, dims, NULL);
    float *d = t->data;
    for (int64_t i = 0; i < kn_tensor_count(t); i++)
        d[i] = (float)i;
    return t;
}

static void free_all(kiln_tensor **ts, int n)
{
    for (int i = 0; i < n; i++)
        kn_tensor_free(ts[i]);
}

/* Runs the node, frees node and inputs, returns the one output. */
static kiln_tensor *run1(kt_node *n, int n_in, kiln_tensor **in)
{
    kiln_tensor *out = NULL;
    kiln_status s = kt_run(n, n_in, in, 1, &out);
    if (s != KILN_OK)
        fail_msg("status %d: %s", (int)s, kiln_last_error());
    kt_node_free(n);
    free_all(in, n_in);
    return out;
}

/* Runs a node expected to fail; returns the status. */
static kiln_status run_fail(kt_node *n, int n_in, kiln_tensor **in)
{
    kiln_tensor *out = NULL;
    kiln_status s = kt_run(n, n_in, in, 1, &out);
    if (s == KILN_OK)
        kn_tensor_free(out);
    kt_node_free(n);
    free_all(in, n_in);
    return s;
}

static void assert_iota(const kiln_tensor *t)
{
    const float *d = t->data;
    for (int64_t i = 0; i < kn_tensor_count(t); i++)
        if (d[i] != (float)i)
            fail_msg("element %lld: got %g", (long long)i, d[i]);
}

/* ---- Reshape ---------------------------------------------------------- */

static void test_reshape_zero_and_infer(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(2, 3, 4)), kt_i64(KT_DIMS(2), (int64_t[]){0, -1})};
    kiln_tensor *y = run1(kt_node_new("Reshape", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(2, 12));
    assert_iota(y);
    kn_tensor_free(y);
}

static void test_reshape_allowzero(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Reshape", 14);
    kt_attr_int(n, "allowzero", 1);
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(0, 3, 4), NULL), kt_i64(KT_DIMS(3), (int64_t[]){3, 4, 0})};
    kiln_tensor *y = run1(n, 2, in);
    kt_assert_shape(y, KT_DIMS(3, 4, 0));
    kn_tensor_free(y);
    /* Without allowzero the 0 copies the input dim. */
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(0, 3, 4), NULL), kt_i64(KT_DIMS(3), (int64_t[]){3, 4, 0})};
    assert_int_equal(run_fail(kt_node_new("Reshape", 14), 2, in2), KILN_ERROR_SHAPE);
}

static void test_reshape_mismatch_message(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(2, 3)), kt_i64(KT_DIMS(2), (int64_t[]){4, -1})};
    assert_int_equal(run_fail(kt_node_new("Reshape", 13), 2, in), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kiln_last_error(), "cannot reshape [2,3] (6 elements) to [4,-1]"));
    assert_non_null(strstr(kiln_last_error(), "node 'test_node' (Reshape)"));
    kiln_tensor *in2[2] = {iota_f32(KT_DIMS(2, 3)), kt_i64(KT_DIMS(2), (int64_t[]){-1, -1})};
    assert_int_equal(run_fail(kt_node_new("Reshape", 13), 2, in2), KILN_ERROR_SHAPE);
    kiln_tensor *in3[2] = {iota_f32(KT_DIMS(2, 3)), kt_i64(KT_DIMS(1), (int64_t[]){-2})};
    assert_int_equal(run_fail(kt_node_new("Reshape", 13), 2, in3), KILN_ERROR_SHAPE);
}

static void test_reshape_old_attribute_form(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Reshape", 1);
    kt_attr_ints(n, "shape", (int64_t[]){-1, 2}, 2);
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(3, 2, 1))};
    kiln_tensor *y = run1(n, 1, in);
    kt_assert_shape(y, KT_DIMS(3, 2));
    assert_iota(y);
    kn_tensor_free(y);
}

static void test_reshape_int64_and_bool(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {kt_i64(KT_DIMS(4), (int64_t[]){INT64_MAX, -1, 7, INT64_MIN}),
                          kt_i64(KT_DIMS(2), (int64_t[]){2, 2})};
    kiln_tensor *y = run1(kt_node_new("Reshape", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_i64_equal(y, (int64_t[]){INT64_MAX, -1, 7, INT64_MIN}, 4);
    kn_tensor_free(y);
    uint8_t b[3] = {1, 0, 1};
    kiln_tensor *in2[2] = {kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(3), b), kt_i64(KT_DIMS(2), (int64_t[]){3, 1})};
    y = run1(kt_node_new("Reshape", 13), 2, in2);
    assert_int_equal(y->dtype, KILN_DTYPE_BOOL);
    assert_memory_equal(y->data, b, 3);
    kn_tensor_free(y);
}

/* Strings move too, as owned copies (more in test_string_move.c). */
static void test_reshape_string_copies(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {kt_strings(KT_DIMS(2), (const char *[]){"ab", ""}), kt_i64(KT_DIMS(2), (int64_t[]){1, 2})};
    kiln_tensor *y = run1(kt_node_new("Reshape", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(1, 2));
    char *const *s = y->data; /* the inputs are freed: these must be copies */
    assert_string_equal(s[0], "ab");
    assert_string_equal(s[1], "");
    kn_tensor_free(y);
}

/* infer() without the shape value asks for it instead of guessing. */
static void test_reshape_needs_value(void **state)
{
    (void)state;
    kt_node *tn = kt_node_new("Reshape", 13);
    kn_node *node = kt_node_get(tn);
    const kn_op *op = kn_op_find("", "Reshape", 13);
    assert_non_null(op);
    assert_int_equal(op->parse(node), KILN_OK);
    kiln_tensor x = {.dtype = KILN_DTYPE_FLOAT, .rank = 2, .dims = {2, 3}};
    kiln_tensor shape = {.dtype = KILN_DTYPE_INT64, .rank = 1, .dims = {2}};
    kiln_tensor out = {0};
    const kiln_tensor *ins[2] = {&x, &shape};
    kiln_tensor *outs[1] = {&out};
    kn_op_ctx c = {.node = node, .params = node->params, .n_in = 2, .in = ins, .n_out = 1, .out = outs};
    assert_int_equal(op->infer(&c), KN_NEED_VALUE);
    kn_free(node->params);
    node->params = NULL;
    kt_node_free(tn);
}

/* ---- Flatten ---------------------------------------------------------- */

static void check_flatten(int64_t axis, bool set, int64_t d0, int64_t d1)
{
    kt_node *n = kt_node_new("Flatten", 13);
    if (set)
        kt_attr_int(n, "axis", axis);
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(2, 3, 4, 5))};
    kiln_tensor *y = run1(n, 1, in);
    kt_assert_shape(y, KT_DIMS(d0, d1));
    assert_iota(y);
    kn_tensor_free(y);
}

static void test_flatten_axes(void **state)
{
    (void)state;
    check_flatten(0, false, 2, 60);
    check_flatten(0, true, 1, 120);
    check_flatten(2, true, 6, 20);
    check_flatten(4, true, 120, 1);
    check_flatten(-1, true, 24, 5);
    check_flatten(-4, true, 1, 120);
    kt_node *n = kt_node_new("Flatten", 13);
    kt_attr_int(n, "axis", 5);
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(2, 3, 4, 5))};
    assert_int_equal(run_fail(n, 1, in), KILN_ERROR_MODEL);
}

/* ---- Transpose -------------------------------------------------------- */

static void test_transpose_default_reverses(void **state)
{
    (void)state;
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(2, 3, 4))};
    kiln_tensor *y = run1(kt_node_new("Transpose", 13), 1, in);
    kt_assert_shape(y, KT_DIMS(4, 3, 2));
    const float *d = y->data;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                assert_true(d[(i * 3 + j) * 2 + k] == (float)(k * 12 + j * 4 + i));
    kn_tensor_free(y);
}

static void test_transpose_perm_odd_sizes_int8(void **state)
{
    (void)state;
    int8_t x[3 * 17 * 5];
    for (int i = 0; i < 3 * 17 * 5; i++)
        x[i] = (int8_t)(i * 7);
    kt_node *n = kt_node_new("Transpose", 13);
    kt_attr_ints(n, "perm", (int64_t[]){1, 2, 0}, 3);
    kiln_tensor *in[1] = {kt_tensor(KILN_DTYPE_INT8, KT_DIMS(3, 17, 5), x)};
    kiln_tensor *y = run1(n, 1, in);
    kt_assert_shape(y, KT_DIMS(17, 5, 3));
    const int8_t *d = y->data;
    for (int a = 0; a < 17; a++)
        for (int b = 0; b < 5; b++)
            for (int c = 0; c < 3; c++)
                assert_int_equal(d[(a * 5 + b) * 3 + c], x[(c * 17 + a) * 5 + b]);
    kn_tensor_free(y);
}

static void test_transpose_bad_perm(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Transpose", 13);
    kt_attr_ints(n, "perm", (int64_t[]){0, 0}, 2);
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(2, 3))};
    assert_int_equal(run_fail(n, 1, in), KILN_ERROR_MODEL);
    n = kt_node_new("Transpose", 13);
    kt_attr_ints(n, "perm", (int64_t[]){0}, 1);
    kiln_tensor *in2[1] = {iota_f32(KT_DIMS(2, 3))};
    assert_int_equal(run_fail(n, 1, in2), KILN_ERROR_MODEL);
}

static void test_transpose_empty_and_scalar(void **state)
{
    (void)state;
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(2, 0, 3), NULL)};
    kiln_tensor *y = run1(kt_node_new("Transpose", 13), 1, in);
    kt_assert_shape(y, KT_DIMS(3, 0, 2));
    kn_tensor_free(y);
    kiln_tensor *in2[1] = {kt_f32(0, NULL, (float[]){4.5f})};
    y = run1(kt_node_new("Transpose", 13), 1, in2);
    assert_int_equal(y->rank, 0);
    kt_assert_f32_close(y, (float[]){4.5f}, 1, 0, 0);
    kn_tensor_free(y);
}

/* ---- Squeeze / Unsqueeze ---------------------------------------------- */

static void test_squeeze_forms(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(1, 3, 1, 2)), kt_i64(KT_DIMS(1), (int64_t[]){-2})};
    kiln_tensor *y = run1(kt_node_new("Squeeze", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(1, 3, 2));
    assert_iota(y);
    kn_tensor_free(y);
    kiln_tensor *in2[1] = {iota_f32(KT_DIMS(1, 3, 1, 2))};
    y = run1(kt_node_new("Squeeze", 13), 1, in2);
    kt_assert_shape(y, KT_DIMS(3, 2));
    kn_tensor_free(y);
    kt_node *n = kt_node_new("Squeeze", 11);
    kt_attr_ints(n, "axes", (int64_t[]){0, 2}, 2);
    kiln_tensor *in3[1] = {iota_f32(KT_DIMS(1, 3, 1, 2))};
    y = run1(n, 1, in3);
    kt_assert_shape(y, KT_DIMS(3, 2));
    assert_iota(y);
    kn_tensor_free(y);
    /* opset 1 without axes: all 1-dims */
    kiln_tensor *in4[1] = {iota_f32(KT_DIMS(1, 1))};
    y = run1(kt_node_new("Squeeze", 1), 1, in4);
    assert_int_equal(y->rank, 0);
    kn_tensor_free(y);
}

static void test_squeeze_errors(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(1, 3)), kt_i64(KT_DIMS(1), (int64_t[]){1})};
    assert_int_equal(run_fail(kt_node_new("Squeeze", 13), 2, in), KILN_ERROR_SHAPE);
    kiln_tensor *in2[2] = {iota_f32(KT_DIMS(1, 3)), kt_i64(KT_DIMS(1), (int64_t[]){2})};
    assert_int_equal(run_fail(kt_node_new("Squeeze", 13), 2, in2), KILN_ERROR_MODEL);
    kiln_tensor *in3[2] = {iota_f32(KT_DIMS(1, 3)), kt_i64(KT_DIMS(2), (int64_t[]){0, -2})};
    assert_int_equal(run_fail(kt_node_new("Squeeze", 13), 2, in3), KILN_ERROR_MODEL);
}

static void test_unsqueeze_forms(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(2, 3)), kt_i64(KT_DIMS(2), (int64_t[]){3, 0})};
    kiln_tensor *y = run1(kt_node_new("Unsqueeze", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(1, 2, 3, 1));
    assert_iota(y);
    kn_tensor_free(y);
    kiln_tensor *in2[2] = {iota_f32(KT_DIMS(2, 3)), kt_i64(KT_DIMS(1), (int64_t[]){-1})};
    y = run1(kt_node_new("Unsqueeze", 13), 2, in2);
    kt_assert_shape(y, KT_DIMS(2, 3, 1));
    kn_tensor_free(y);
    kt_node *n = kt_node_new("Unsqueeze", 11);
    kt_attr_ints(n, "axes", (int64_t[]){1}, 1);
    kiln_tensor *in3[1] = {iota_f32(KT_DIMS(2, 3))};
    y = run1(n, 1, in3);
    kt_assert_shape(y, KT_DIMS(2, 1, 3));
    kn_tensor_free(y);
    /* scalar -> [1] (the Shape->Gather->Unsqueeze->Concat pattern) */
    kiln_tensor *in4[2] = {kt_i64(0, NULL, (int64_t[]){42}), kt_i64(KT_DIMS(1), (int64_t[]){0})};
    y = run1(kt_node_new("Unsqueeze", 13), 2, in4);
    kt_assert_shape(y, KT_DIMS(1));
    kt_assert_i64_equal(y, (int64_t[]){42}, 1);
    kn_tensor_free(y);
    kiln_tensor *in5[2] = {iota_f32(KT_DIMS(2, 3)), kt_i64(KT_DIMS(1), (int64_t[]){3})};
    assert_int_equal(run_fail(kt_node_new("Unsqueeze", 13), 2, in5), KILN_ERROR_MODEL);
}

/* ---- Expand / Tile ---------------------------------------------------- */

static void test_expand_bidirectional(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {kt_f32(KT_DIMS(3, 1), (float[]){1, 2, 3}), kt_i64(KT_DIMS(3), (int64_t[]){2, 1, 4})};
    kiln_tensor *y = run1(kt_node_new("Expand", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(2, 3, 4));
    const float *d = y->data;
    for (int i = 0; i < 24; i++)
        assert_true(d[i] == (float)((i / 4) % 3 + 1));
    kn_tensor_free(y);
    /* a shape smaller than the input keeps the input's dims */
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(3, 1), (float[]){1, 2, 3}), kt_i64(KT_DIMS(1), (int64_t[]){1})};
    y = run1(kt_node_new("Expand", 8), 2, in2);
    kt_assert_shape(y, KT_DIMS(3, 1));
    kt_assert_f32_close(y, (float[]){1, 2, 3}, 3, 0, 0);
    kn_tensor_free(y);
    kiln_tensor *in3[2] = {kt_f32(KT_DIMS(3, 1), NULL), kt_i64(KT_DIMS(2), (int64_t[]){2, 5})};
    assert_int_equal(run_fail(kt_node_new("Expand", 13), 2, in3), KILN_ERROR_SHAPE);
}

static void test_tile(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {kt_i32(KT_DIMS(2, 2), (int32_t[]){1, 2, 3, 4}), kt_i64(KT_DIMS(2), (int64_t[]){2, 3})};
    kiln_tensor *y = run1(kt_node_new("Tile", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(4, 6));
    kt_assert_i64_equal(y, (int64_t[]){1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}, 24);
    kn_tensor_free(y);
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(2), NULL), kt_i64(KT_DIMS(1), (int64_t[]){0})};
    y = run1(kt_node_new("Tile", 6), 2, in2);
    kt_assert_shape(y, KT_DIMS(0));
    kn_tensor_free(y);
    kiln_tensor *in3[2] = {kt_f32(KT_DIMS(2, 2), NULL), kt_i64(KT_DIMS(1), (int64_t[]){2})};
    assert_int_equal(run_fail(kt_node_new("Tile", 13), 2, in3), KILN_ERROR_SHAPE);
}

/* ---- Shape / Size / Identity ------------------------------------------ */

static void check_shape(int opset, bool has_start, int64_t start, bool has_end, int64_t end, int64_t count,
                        const int64_t *expect)
{
    kt_node *n = kt_node_new("Shape", opset);
    if (has_start)
        kt_attr_int(n, "start", start);
    if (has_end)
        kt_attr_int(n, "end", end);
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(3, 4, 5), NULL)};
    kiln_tensor *y = run1(n, 1, in);
    assert_int_equal(y->dtype, KILN_DTYPE_INT64);
    kt_assert_shape(y, KT_DIMS(count));
    kt_assert_i64_equal(y, expect, count);
    kn_tensor_free(y);
}

static void test_shape_start_end(void **state)
{
    (void)state;
    check_shape(13, false, 0, false, 0, 3, (int64_t[]){3, 4, 5});
    check_shape(15, true, 1, false, 0, 2, (int64_t[]){4, 5});
    check_shape(15, false, 0, true, -1, 2, (int64_t[]){3, 4});
    check_shape(15, true, -10, true, 10, 3, (int64_t[]){3, 4, 5});
    check_shape(15, true, 2, true, 1, 0, NULL);
    check_shape(15, true, -1, false, 0, 1, (int64_t[]){5});
    kt_node *n = kt_node_new("Shape", 15);
    assert_true(kn_op_find("", "Shape", 15)->flags & KN_OP_SHAPE_ONLY);
    kiln_tensor *in[1] = {kt_f32(0, NULL, NULL)};
    kiln_tensor *y = run1(n, 1, in);
    kt_assert_shape(y, KT_DIMS(0));
    kn_tensor_free(y);
}

static void test_size_and_identity(void **state)
{
    (void)state;
    kiln_tensor *in[1] = {kt_f32(KT_DIMS(3, 0, 2), NULL)};
    kiln_tensor *y = run1(kt_node_new("Size", 13), 1, in);
    assert_int_equal(y->rank, 0);
    kt_assert_i64_equal(y, (int64_t[]){0}, 1);
    kn_tensor_free(y);
    kiln_tensor *in2[1] = {kt_f32(KT_DIMS(3, 7, 2), NULL)};
    y = run1(kt_node_new("Size", 1), 1, in2);
    kt_assert_i64_equal(y, (int64_t[]){42}, 1);
    kn_tensor_free(y);
    uint8_t b[3] = {0, 1, 1};
    kiln_tensor *in3[1] = {kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(3), b)};
    y = run1(kt_node_new("Identity", 16), 1, in3);
    assert_int_equal(y->dtype, KILN_DTYPE_BOOL);
    assert_memory_equal(y->data, b, 3);
    kn_tensor_free(y);
}

/* ---- DepthToSpace / SpaceToDepth -------------------------------------- */

static const float d2s_dcr[48] = {0,  12, 1,  13, 2,  14, 24, 36, 25, 37, 26, 38, 3,  15, 4,  16,
                                  5,  17, 27, 39, 28, 40, 29, 41, 6,  18, 7,  19, 8,  20, 30, 42,
                                  31, 43, 32, 44, 9,  21, 10, 22, 11, 23, 33, 45, 34, 46, 35, 47};
static const float d2s_crd[48] = {0,  6,  1,  7,  2,  8,  12, 18, 13, 19, 14, 20, 3,  9,  4,  10,
                                  5,  11, 15, 21, 16, 22, 17, 23, 24, 30, 25, 31, 26, 32, 36, 42,
                                  37, 43, 38, 44, 27, 33, 28, 34, 29, 35, 39, 45, 40, 46, 41, 47};

static void test_depth_to_space_modes(void **state)
{
    (void)state;
    for (int crd = 0; crd < 2; crd++) {
        kt_node *n = kt_node_new("DepthToSpace", 13);
        kt_attr_int(n, "blocksize", 2);
        if (crd)
            kt_attr_string(n, "mode", "CRD");
        kiln_tensor *in[1] = {iota_f32(KT_DIMS(1, 8, 2, 3))};
        kiln_tensor *y = run1(n, 1, in);
        kt_assert_shape(y, KT_DIMS(1, 2, 4, 6));
        kt_assert_f32_close(y, crd ? d2s_crd : d2s_dcr, 48, 0, 0);
        kn_tensor_free(y);
    }
    kt_node *n = kt_node_new("DepthToSpace", 13);
    kt_attr_int(n, "blocksize", 2);
    kt_attr_string(n, "mode", "XYZ");
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(1, 8, 2, 3))};
    assert_int_equal(run_fail(n, 1, in), KILN_ERROR_UNSUPPORTED);
    n = kt_node_new("DepthToSpace", 13);
    kt_attr_int(n, "blocksize", 3);
    kiln_tensor *in2[1] = {iota_f32(KT_DIMS(1, 8, 2, 3))};
    assert_int_equal(run_fail(n, 1, in2), KILN_ERROR_SHAPE);
}

static void test_space_to_depth(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("SpaceToDepth", 13);
    kt_attr_int(n, "blocksize", 2);
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(1, 2, 2, 6))};
    kiln_tensor *y = run1(n, 1, in);
    kt_assert_shape(y, KT_DIMS(1, 8, 1, 3));
    kt_assert_f32_close(y,
                        (float[]){0, 2, 4, 12, 14, 16, 1, 3, 5, 13, 15, 17, 6, 8, 10, 18, 20, 22, 7, 9, 11, 19, 21,
                                  23},
                        24, 0, 0);
    kn_tensor_free(y);
    /* SpaceToDepth undoes DepthToSpace (DCR) */
    n = kt_node_new("SpaceToDepth", 13);
    kt_attr_int(n, "blocksize", 2);
    kiln_tensor *in2[1] = {kt_f32(KT_DIMS(1, 2, 4, 6), d2s_dcr)};
    y = run1(n, 1, in2);
    kt_assert_shape(y, KT_DIMS(1, 8, 2, 3));
    assert_iota(y);
    kn_tensor_free(y);
    n = kt_node_new("SpaceToDepth", 13);
    kt_attr_int(n, "blocksize", 2);
    kiln_tensor *in3[1] = {kt_f32(KT_DIMS(1, 2, 3, 6), NULL)};
    assert_int_equal(run_fail(n, 1, in3), KILN_ERROR_SHAPE);
}

/* ---- EyeLike ---------------------------------------------------------- */

static void test_eyelike(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("EyeLike", 9);
    kt_attr_int(n, "k", 1);
    kiln_tensor *in[1] = {kt_i32(KT_DIMS(3, 4), NULL)};
    kiln_tensor *y = run1(n, 1, in);
    assert_int_equal(y->dtype, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y, (int64_t[]){0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 12);
    kn_tensor_free(y);
    n = kt_node_new("EyeLike", 22);
    kt_attr_int(n, "dtype", KILN_DTYPE_DOUBLE);
    kt_attr_int(n, "k", -1);
    kiln_tensor *in2[1] = {kt_f32(KT_DIMS(3, 2), NULL)};
    y = run1(n, 1, in2);
    assert_int_equal(y->dtype, KILN_DTYPE_DOUBLE);
    kt_assert_i64_equal(y, (int64_t[]){0, 0, 1, 0, 0, 1}, 6);
    kn_tensor_free(y);
    kiln_tensor *in3[1] = {kt_f32(KT_DIMS(3), NULL)};
    assert_int_equal(run_fail(kt_node_new("EyeLike", 9), 1, in3), KILN_ERROR_SHAPE);
}

/* ---- spec edge cases: negative axes, empty tensors, defaults ----------- */

static void test_squeeze_unsqueeze_edge_cases(void **state)
{
    (void)state;
    /* several negative axes, in any order */
    kiln_tensor *in[2] = {iota_f32(KT_DIMS(1, 3, 1, 2, 1)), kt_i64(KT_DIMS(2), (int64_t[]){-1, -5})};
    kiln_tensor *y = run1(kt_node_new("Squeeze", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(3, 1, 2));
    assert_iota(y);
    kn_tensor_free(y);
    /* empty tensors: only the size-1 dims go, the 0 stays */
    kiln_tensor *in2[1] = {kt_f32(KT_DIMS(0, 1, 2), NULL)};
    y = run1(kt_node_new("Squeeze", 13), 1, in2);
    kt_assert_shape(y, KT_DIMS(0, 2));
    kn_tensor_free(y);
    /* a size-0 dim is not squeezable */
    kiln_tensor *in3[2] = {kt_f32(KT_DIMS(0, 2), NULL), kt_i64(KT_DIMS(1), (int64_t[]){0})};
    assert_int_equal(run_fail(kt_node_new("Squeeze", 13), 2, in3), KILN_ERROR_SHAPE);
    /* Unsqueeze axes count in the output's rank: [-1, -4] on [2,3] */
    kiln_tensor *in4[2] = {iota_f32(KT_DIMS(2, 3)), kt_i64(KT_DIMS(2), (int64_t[]){-1, -4})};
    y = run1(kt_node_new("Unsqueeze", 13), 2, in4);
    kt_assert_shape(y, KT_DIMS(1, 2, 3, 1));
    assert_iota(y);
    kn_tensor_free(y);
    kiln_tensor *in5[2] = {kt_f32(KT_DIMS(0), NULL), kt_i64(KT_DIMS(1), (int64_t[]){1})};
    y = run1(kt_node_new("Unsqueeze", 13), 2, in5);
    kt_assert_shape(y, KT_DIMS(0, 1));
    kn_tensor_free(y);
    /* the same output axis twice, and Unsqueeze without axes, are refused */
    kiln_tensor *in6[2] = {iota_f32(KT_DIMS(2)), kt_i64(KT_DIMS(2), (int64_t[]){0, -3})};
    assert_int_equal(run_fail(kt_node_new("Unsqueeze", 13), 2, in6), KILN_ERROR_MODEL);
    kiln_tensor *in7[1] = {iota_f32(KT_DIMS(2))};
    assert_int_not_equal(run_fail(kt_node_new("Unsqueeze", 13), 1, in7), KILN_OK);
}

static void test_expand_edge_cases(void **state)
{
    (void)state;
    /* a scalar to a matrix */
    kiln_tensor *in[2] = {kt_f32(0, NULL, (float[]){7}), kt_i64(KT_DIMS(2), (int64_t[]){2, 2})};
    kiln_tensor *y = run1(kt_node_new("Expand", 13), 2, in);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_f32_close(y, (float[]){7, 7, 7, 7}, 4, 0, 0);
    kn_tensor_free(y);
    /* a 1-dim broadcast to 0 gives an empty result; 0 against 1 stays 0 */
    kiln_tensor *in2[2] = {kt_f32(KT_DIMS(2, 1), (float[]){1, 2}), kt_i64(KT_DIMS(1), (int64_t[]){0})};
    y = run1(kt_node_new("Expand", 13), 2, in2);
    kt_assert_shape(y, KT_DIMS(2, 0));
    kn_tensor_free(y);
    kiln_tensor *in3[2] = {kt_f32(KT_DIMS(0, 3), NULL), kt_i64(KT_DIMS(2), (int64_t[]){1, 1})};
    y = run1(kt_node_new("Expand", 13), 2, in3);
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);
    /* the shape's rank may exceed the input's: dims align at the right */
    kiln_tensor *in4[2] = {kt_i64(KT_DIMS(3), (int64_t[]){1, 2, 3}), kt_i64(KT_DIMS(3), (int64_t[]){2, 1, 1})};
    y = run1(kt_node_new("Expand", 13), 2, in4);
    kt_assert_shape(y, KT_DIMS(2, 1, 3));
    kt_assert_i64_equal(y, (int64_t[]){1, 2, 3, 1, 2, 3}, 6);
    kn_tensor_free(y);
    /* a negative dim in the shape is refused */
    kiln_tensor *in5[2] = {kt_f32(KT_DIMS(2), NULL), kt_i64(KT_DIMS(1), (int64_t[]){-1})};
    assert_int_not_equal(run_fail(kt_node_new("Expand", 13), 2, in5), KILN_OK);
}

static void test_transpose_edge_cases(void **state)
{
    (void)state;
    /* default perm reverses, also for rank 4 with a size-1 dim */
    kiln_tensor *in[1] = {iota_f32(KT_DIMS(2, 1, 3, 2))};
    kiln_tensor *y = run1(kt_node_new("Transpose", 13), 1, in);
    kt_assert_shape(y, KT_DIMS(2, 3, 1, 2));
    kt_assert_f32_close(y, (float[]){0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11}, 12, 0, 0);
    kn_tensor_free(y);
    /* identity perm is a copy */
    kt_node *n = kt_node_new("Transpose", 13);
    kt_attr_ints(n, "perm", (int64_t[]){0, 1}, 2);
    kiln_tensor *in2[1] = {iota_f32(KT_DIMS(2, 3))};
    y = run1(n, 1, in2);
    assert_iota(y);
    kn_tensor_free(y);
    /* negative entries count from the end, as in the reference (numpy) */
    n = kt_node_new("Transpose", 13);
    kt_attr_ints(n, "perm", (int64_t[]){-1, 0}, 2);
    kiln_tensor *in3[1] = {iota_f32(KT_DIMS(2, 3))};
    y = run1(n, 1, in3);
    kt_assert_shape(y, KT_DIMS(3, 2));
    kt_assert_f32_close(y, (float[]){0, 3, 1, 4, 2, 5}, 6, 0, 0);
    kn_tensor_free(y);
    /* entries outside [-rank, rank) are refused */
    n = kt_node_new("Transpose", 13);
    kt_attr_ints(n, "perm", (int64_t[]){1, 2}, 2);
    kiln_tensor *in4[1] = {iota_f32(KT_DIMS(2, 3))};
    assert_int_equal(run_fail(n, 1, in4), KILN_ERROR_MODEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape_zero_and_infer),
        cmocka_unit_test(test_reshape_allowzero),
        cmocka_unit_test(test_reshape_mismatch_message),
        cmocka_unit_test(test_reshape_old_attribute_form),
        cmocka_unit_test(test_reshape_int64_and_bool),
        cmocka_unit_test(test_reshape_string_copies),
        cmocka_unit_test(test_reshape_needs_value),
        cmocka_unit_test(test_flatten_axes),
        cmocka_unit_test(test_transpose_default_reverses),
        cmocka_unit_test(test_transpose_perm_odd_sizes_int8),
        cmocka_unit_test(test_transpose_bad_perm),
        cmocka_unit_test(test_transpose_empty_and_scalar),
        cmocka_unit_test(test_squeeze_forms),
        cmocka_unit_test(test_squeeze_errors),
        cmocka_unit_test(test_unsqueeze_forms),
        cmocka_unit_test(test_expand_bidirectional),
        cmocka_unit_test(test_tile),
        cmocka_unit_test(test_shape_start_end),
        cmocka_unit_test(test_size_and_identity),
        cmocka_unit_test(test_depth_to_space_modes),
        cmocka_unit_test(test_space_to_depth),
        cmocka_unit_test(test_eyelike),
        cmocka_unit_test(test_squeeze_unsqueeze_edge_cases),
        cmocka_unit_test(test_expand_edge_cases),
        cmocka_unit_test(test_transpose_edge_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
