/* Data-movement ops on STRING tensors (KN_OP_BORROWS_STRINGS): every op
 * that ONNX defines on strings and kiln moves by element, one node at a
 * time, then end to end through the loader, constant folding, the planner,
 * If and the public API on tests/data/strings/string_move.onnx (written by
 * tests/data/strings/make_models.py). Outputs must hold their own copies:
 * no pointer shared with an input, none repeated inside an output. */
#include "harness.h"

#include "runtime/runtime.h"

#define strs kt_strings

/* ---- helpers ------------------------------------------------------------------ */

static void free_all(kiln_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        kn_tensor_free(t[i]);
}

/* t holds exactly want, each element its own allocation (distinct pointers),
 * none of them one of the input's. */
static void assert_owned_strs(const kiln_tensor *t, const char *const *want, int64_t n, int n_in,
                              kiln_tensor *const *in)
{
    assert_int_equal(t->dtype, KILN_DTYPE_STRING);
    assert_int_equal(kn_tensor_count(t), n);
    char *const *d = t->data;
    for (int64_t i = 0; i < n; i++) {
        assert_non_null(d[i]);
        if (strcmp(d[i], want[i]) != 0)
            fail_msg("element %lld: got \"%s\", expected \"%s\"", (long long)i, d[i], want[i]);
        for (int64_t j = 0; j < i; j++)
            if (d[j] == d[i])
                fail_msg("elements %lld and %lld share one string", (long long)j, (long long)i);
        for (int k = 0; k < n_in; k++) {
            if (!in[k] || in[k]->dtype != KILN_DTYPE_STRING)
                continue;
            char *const *s = in[k]->data;
            for (int64_t j = 0; j < kn_tensor_count(in[k]); j++)
                if (s[j] == d[i])
                    fail_msg("element %lld is input %d's element %lld", (long long)i, k, (long long)j);
        }
    }
}

/* Runs a one-output node that must succeed and checks its strings; frees
 * node and inputs. */
static void expect(kt_node *n, int n_in, kiln_tensor **in, int rank, const int64_t *dims, const char *const *want)
{
    kiln_tensor *out = NULL;
    kiln_status s = kt_run(n, n_in, in, 1, &out);
    if (s != KILN_OK)
        fail_msg("%s: status %d: %s", kt_node_get(n)->op_type, (int)s, kiln_last_error());
    kt_assert_shape(out, rank, dims);
    assert_owned_strs(out, want, kn_tensor_count(out), n_in, in);
    kn_tensor_free(out);
    kt_node_free(n);
    free_all(in, n_in);
}

/* Runs a one-output node that must fail with code; frees node and inputs. */
static void expect_fail(kt_node *n, int n_in, kiln_tensor **in, kiln_status code)
{
    kiln_tensor *out = NULL;
    kiln_status s = kt_run(n, n_in, in, 1, &out);
    if (s != code)
        fail_msg("%s: status %d (%s), expected %d", kt_node_get(n)->op_type, (int)s, kiln_last_error(), (int)code);
    kt_node_free(n);
    free_all(in, n_in);
}

static kiln_tensor *ints(int rank, const int64_t *dims, const int64_t *v)
{
    return kt_i64(rank, dims, v);
}

static kiln_tensor *bools(int rank, const int64_t *dims, const uint8_t *v)
{
    return kt_tensor(KILN_DTYPE_BOOL, rank, dims, v);
}

/* ---- shape family --------------------------------------------------------------- */

static void test_identity_reshape_flatten(void **state)
{
    (void)state;
    kiln_tensor *in1[1] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "bb", "", "d"})};
    expect(kt_node_new("Identity", 16), 1, in1, KT_DIMS(2, 2), (const char *[]){"a", "bb", "", "d"});

    kiln_tensor *in2[2] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"}),
                           ints(KT_DIMS(2), (int64_t[]){-1, 1})};
    expect(kt_node_new("Reshape", 14), 2, in2, KT_DIMS(4, 1), (const char *[]){"a", "b", "c", "d"});

    kt_node *n = kt_node_new("Flatten", 13);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in3[1] = {strs(KT_DIMS(2, 1, 2), (const char *[]){"a", "b", "c", "d"})};
    expect(n, 1, in3, KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"});

    /* empty: nothing to copy, shape still right */
    n = kt_node_new("Reshape", 14);
    kt_attr_int(n, "allowzero", 1);
    kiln_tensor *in4[2] = {kt_tensor(KILN_DTYPE_STRING, KT_DIMS(0, 3), NULL), ints(KT_DIMS(2), (int64_t[]){3, 0})};
    expect(n, 2, in4, KT_DIMS(3, 0), NULL);
}

static void test_squeeze_unsqueeze_negative_axes(void **state)
{
    (void)state;
    kiln_tensor *in1[2] = {strs(KT_DIMS(2, 1, 2), (const char *[]){"a", "b", "c", "d"}),
                           ints(KT_DIMS(1), (int64_t[]){-2})};
    expect(kt_node_new("Squeeze", 13), 2, in1, KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"});
    kiln_tensor *in2[2] = {strs(KT_DIMS(3), (const char *[]){"x", "y", "z"}), ints(KT_DIMS(1), (int64_t[]){-1})};
    expect(kt_node_new("Unsqueeze", 13), 2, in2, KT_DIMS(3, 1), (const char *[]){"x", "y", "z"});
    /* opset 1 form (axes attribute), upgraded at load */
    kt_node *n = kt_node_new("Unsqueeze", 11);
    kt_attr_ints(n, "axes", (int64_t[]){0}, 1);
    kiln_tensor *in3[1] = {strs(KT_DIMS(2), (const char *[]){"p", "q"})};
    expect(n, 1, in3, KT_DIMS(1, 2), (const char *[]){"p", "q"});
}

static void test_transpose(void **state)
{
    (void)state;
    kiln_tensor *in1[1] = {strs(KT_DIMS(2, 3), (const char *[]){"a", "b", "c", "d", "e", "f"})};
    expect(kt_node_new("Transpose", 13), 1, in1, KT_DIMS(3, 2), (const char *[]){"a", "d", "b", "e", "c", "f"});
    kt_node *n = kt_node_new("Transpose", 13);
    kt_attr_ints(n, "perm", (int64_t[]){1, 2, 0}, 3);
    kiln_tensor *in2[1] = {strs(KT_DIMS(2, 1, 2), (const char *[]){"a", "b", "c", "d"})};
    expect(n, 1, in2, KT_DIMS(1, 2, 2), (const char *[]){"a", "c", "b", "d"});
}

/* Expand and Tile repeat one input pointer many times: each output element
 * still gets its own copy (assert_owned_strs checks they differ). */
static void test_expand_tile_repeat(void **state)
{
    (void)state;
    kiln_tensor *in1[2] = {strs(KT_DIMS(1, 2), (const char *[]){"l", "r"}), ints(KT_DIMS(2), (int64_t[]){3, 1})};
    expect(kt_node_new("Expand", 13), 2, in1, KT_DIMS(3, 2), (const char *[]){"l", "r", "l", "r", "l", "r"});
    kiln_tensor *in2[2] = {strs(KT_DIMS(2), (const char *[]){"a", ""}), ints(KT_DIMS(1), (int64_t[]){3})};
    expect(kt_node_new("Tile", 13), 2, in2, KT_DIMS(6), (const char *[]){"a", "", "a", "", "a", ""});
    kiln_tensor *in3[2] = {strs(KT_DIMS(2), (const char *[]){"a", "b"}), ints(KT_DIMS(1), (int64_t[]){0})};
    expect(kt_node_new("Tile", 13), 2, in3, KT_DIMS(0), NULL);
}

static void test_depth_space(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("DepthToSpace", 13);
    kt_attr_int(n, "blocksize", 2);
    kiln_tensor *in1[1] = {strs(KT_DIMS(1, 4, 1, 1), (const char *[]){"a", "b", "c", "d"})};
    expect(n, 1, in1, KT_DIMS(1, 1, 2, 2), (const char *[]){"a", "b", "c", "d"});
    n = kt_node_new("SpaceToDepth", 13);
    kt_attr_int(n, "blocksize", 2);
    kiln_tensor *in2[1] = {strs(KT_DIMS(1, 1, 2, 2), (const char *[]){"a", "b", "c", "d"})};
    expect(n, 1, in2, KT_DIMS(1, 4, 1, 1), (const char *[]){"a", "b", "c", "d"});
}

/* ---- index family --------------------------------------------------------------- */

static void test_concat(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in1[2] = {strs(KT_DIMS(2, 1), (const char *[]){"a", "b"}),
                           strs(KT_DIMS(2, 2), (const char *[]){"c", "d", "e", "f"})};
    expect(n, 2, in1, KT_DIMS(2, 3), (const char *[]){"a", "c", "d", "b", "e", "f"});
    n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *in2[2] = {kt_tensor(KILN_DTYPE_STRING, KT_DIMS(0), NULL), strs(KT_DIMS(2), (const char *[]){"x", "y"})};
    expect(n, 2, in2, KT_DIMS(2), (const char *[]){"x", "y"});
    /* strings and numbers do not mix */
    n = kt_node_new("Concat", 13);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *in3[2] = {strs(KT_DIMS(1), (const char *[]){"x"}), kt_f32(KT_DIMS(1), (float[]){1})};
    kiln_tensor *out = NULL;
    assert_int_not_equal(kt_run(n, 2, in3, 1, &out), KILN_OK);
    kt_node_free(n);
    free_all(in3, 2);
}

static void test_split(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Split", 13);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in[2] = {strs(KT_DIMS(1, 5), (const char *[]){"a", "b", "c", "d", "e"}),
                          ints(KT_DIMS(2), (int64_t[]){2, 3})};
    kiln_tensor *out[2];
    assert_int_equal(kt_run(n, 2, in, 2, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(1, 2));
    kt_assert_shape(out[1], KT_DIMS(1, 3));
    assert_owned_strs(out[0], (const char *[]){"a", "b"}, 2, 2, in);
    assert_owned_strs(out[1], (const char *[]){"c", "d", "e"}, 3, 2, in);
    free_all(out, 2);
    free_all(in, 2);
    kt_node_free(n);
    /* equal parts, one of them empty along the axis */
    n = kt_node_new("Split", 13);
    kiln_tensor *in2[1] = {kt_tensor(KILN_DTYPE_STRING, KT_DIMS(0, 2), NULL)};
    assert_int_equal(kt_run(n, 1, in2, 2, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(0, 2));
    kt_assert_shape(out[1], KT_DIMS(0, 2));
    free_all(out, 2);
    free_all(in2, 1);
    kt_node_free(n);
}

static void test_slice_negative(void **state)
{
    (void)state;
    /* every second element backwards from the last */
    kiln_tensor *in1[5] = {strs(KT_DIMS(5), (const char *[]){"0", "1", "2", "3", "4"}),
                           ints(KT_DIMS(1), (int64_t[]){-1}), ints(KT_DIMS(1), (int64_t[]){-6}),
                           ints(KT_DIMS(1), (int64_t[]){-1}), ints(KT_DIMS(1), (int64_t[]){-2})};
    expect(kt_node_new("Slice", 13), 5, in1, KT_DIMS(3), (const char *[]){"4", "2", "0"});
    kiln_tensor *in2[3] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"}), ints(KT_DIMS(1), (int64_t[]){1}),
                           ints(KT_DIMS(1), (int64_t[]){1})};
    expect(kt_node_new("Slice", 13), 3, in2, KT_DIMS(0, 2), NULL);
}

static void test_gather_family(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Gather", 13);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in1[2] = {strs(KT_DIMS(2, 3), (const char *[]){"a", "b", "c", "d", "e", "f"}),
                           ints(KT_DIMS(3), (int64_t[]){-1, 0, -1})};
    expect(n, 2, in1, KT_DIMS(2, 3), (const char *[]){"c", "a", "c", "f", "d", "f"});

    n = kt_node_new("GatherElements", 13);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in2[2] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"}),
                           ints(KT_DIMS(2, 2), (int64_t[]){0, 0, -1, 0})};
    expect(n, 2, in2, KT_DIMS(2, 2), (const char *[]){"a", "a", "d", "c"});

    kiln_tensor *in3[2] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"}),
                           ints(KT_DIMS(3, 2), (int64_t[]){1, 0, 0, 1, -1, -1})};
    expect(kt_node_new("GatherND", 13), 2, in3, KT_DIMS(3), (const char *[]){"c", "b", "d"});

    /* an index out of range fails at run time, after the copy started:
     * the borrowed pointers must not be freed with the failed output */
    kiln_tensor *in4[2] = {strs(KT_DIMS(3), (const char *[]){"a", "b", "c"}), ints(KT_DIMS(2), (int64_t[]){1, 3})};
    kiln_tensor *out = NULL;
    n = kt_node_new("Gather", 13);
    assert_int_not_equal(kt_run(n, 2, in4, 1, &out), KILN_OK);
    kt_node_free(n);
    assert_string_equal(((char **)in4[0]->data)[1], "b"); /* inputs intact */
    free_all(in4, 2);
}

static void test_scatter(void **state)
{
    (void)state;
    kiln_tensor *in1[3] = {strs(KT_DIMS(4), (const char *[]){"a", "b", "c", "d"}), ints(KT_DIMS(2, 1), (int64_t[]){1, -1}),
                           strs(KT_DIMS(2), (const char *[]){"x", "y"})};
    expect(kt_node_new("ScatterND", 13), 3, in1, KT_DIMS(4), (const char *[]){"a", "x", "c", "y"});

    kt_node *n = kt_node_new("ScatterElements", 13);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in2[3] = {strs(KT_DIMS(1, 3), (const char *[]){"a", "b", "c"}), ints(KT_DIMS(1, 2), (int64_t[]){2, 0}),
                           strs(KT_DIMS(1, 2), (const char *[]){"p", "q"})};
    expect(n, 3, in2, KT_DIMS(1, 3), (const char *[]){"q", "b", "p"});

    /* reductions compute: not defined on strings */
    n = kt_node_new("ScatterElements", 16);
    kt_attr_string(n, "reduction", "add");
    kiln_tensor *in3[3] = {strs(KT_DIMS(2), (const char *[]){"a", "b"}), ints(KT_DIMS(1), (int64_t[]){0}),
                           strs(KT_DIMS(1), (const char *[]){"p"})};
    expect_fail(n, 3, in3, KILN_ERROR_UNSUPPORTED);

    /* a bad second index fails after the first update was written */
    kiln_tensor *in4[3] = {strs(KT_DIMS(2), (const char *[]){"a", "b"}), ints(KT_DIMS(2, 1), (int64_t[]){0, 7}),
                           strs(KT_DIMS(2), (const char *[]){"p", "q"})};
    kiln_tensor *out = NULL;
    n = kt_node_new("ScatterND", 13);
    assert_int_not_equal(kt_run(n, 3, in4, 1, &out), KILN_OK);
    kt_node_free(n);
    free_all(in4, 3);
}

/* ---- other families ------------------------------------------------------------- */

static void test_where_broadcast(void **state)
{
    (void)state;
    kiln_tensor *in[3] = {bools(KT_DIMS(2, 1), (uint8_t[]){1, 0}), strs(KT_DIMS(1, 2), (const char *[]){"x0", "x1"}),
                          strs(0, NULL, (const char *[]){"y"})};
    expect(kt_node_new("Where", 16), 3, in, KT_DIMS(2, 2), (const char *[]){"x0", "x1", "y", "y"});
    kiln_tensor *in2[3] = {bools(KT_DIMS(1), (uint8_t[]){1}), strs(KT_DIMS(1), (const char *[]){"x"}),
                           kt_f32(KT_DIMS(1), (float[]){0})};
    expect_fail(kt_node_new("Where", 16), 3, in2, KILN_ERROR_DTYPE);
}

static void test_compress_reverse_crop(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Compress", 11);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in1[2] = {strs(KT_DIMS(2, 3), (const char *[]){"a", "b", "c", "d", "e", "f"}),
                           bools(KT_DIMS(3), (uint8_t[]){0, 1, 1})};
    expect(n, 2, in1, KT_DIMS(2, 2), (const char *[]){"b", "c", "e", "f"});
    kiln_tensor *in2[2] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"}),
                           bools(KT_DIMS(2), (uint8_t[]){0, 0})};
    expect(kt_node_new("Compress", 11), 2, in2, KT_DIMS(0), NULL);

    n = kt_node_new("ReverseSequence", 10);
    kt_attr_int(n, "batch_axis", 1);
    kt_attr_int(n, "time_axis", 0);
    kiln_tensor *in3[2] = {strs(KT_DIMS(3, 2), (const char *[]){"a0", "b0", "a1", "b1", "a2", "b2"}),
                           ints(KT_DIMS(2), (int64_t[]){3, 1})};
    expect(n, 2, in3, KT_DIMS(3, 2), (const char *[]){"a2", "b0", "a1", "b1", "a0", "b2"});

    /* padded places are empty strings */
    kiln_tensor *in4[2] = {strs(KT_DIMS(2, 3), (const char *[]){"a", "b", "c", "d", "e", "f"}),
                           ints(KT_DIMS(2), (int64_t[]){3, 2})};
    expect(kt_node_new("CenterCropPad", 18), 2, in4, KT_DIMS(3, 2), (const char *[]){"a", "b", "d", "e", "", ""});
}

static void test_pad(void **state)
{
    (void)state;
    kiln_tensor *in1[3] = {strs(KT_DIMS(2), (const char *[]){"a", "b"}), ints(KT_DIMS(2), (int64_t[]){1, 2}),
                           strs(0, NULL, (const char *[]){"z"})};
    expect(kt_node_new("Pad", 13), 3, in1, KT_DIMS(5), (const char *[]){"z", "a", "b", "z", "z"});
    /* no constant_value: the empty string */
    kiln_tensor *in2[2] = {strs(KT_DIMS(1, 2), (const char *[]){"a", "b"}), ints(KT_DIMS(4), (int64_t[]){1, 0, 0, 1})};
    expect(kt_node_new("Pad", 13), 2, in2, KT_DIMS(2, 3), (const char *[]){"", "", "", "a", "b", ""});
    /* negative pads crop, then pad */
    kiln_tensor *in3[3] = {strs(KT_DIMS(3), (const char *[]){"a", "b", "c"}), ints(KT_DIMS(2), (int64_t[]){-2, 1}),
                           strs(0, NULL, (const char *[]){"z"})};
    expect(kt_node_new("Pad", 13), 3, in3, KT_DIMS(2), (const char *[]){"c", "z"});
    kt_node *n = kt_node_new("Pad", 13);
    kt_attr_string(n, "mode", "edge");
    kiln_tensor *in4[2] = {strs(KT_DIMS(2), (const char *[]){"a", "b"}), ints(KT_DIMS(2), (int64_t[]){1, 1})};
    expect(n, 2, in4, KT_DIMS(4), (const char *[]){"a", "a", "b", "b"});
    /* the value must be a string too */
    kiln_tensor *in5[3] = {strs(KT_DIMS(2), (const char *[]){"a", "b"}), ints(KT_DIMS(2), (int64_t[]){1, 1}),
                           kt_f32(0, NULL, (float[]){0})};
    expect_fail(kt_node_new("Pad", 13), 3, in5, KILN_ERROR_DTYPE);
}

/* NULL elements (a tensor made by kiln_tensor_create and never filled)
 * read as "" and come out as owned "". */
static void test_null_elements_become_empty(void **state)
{
    (void)state;
    kiln_tensor *in[2] = {kt_tensor(KILN_DTYPE_STRING, KT_DIMS(2), NULL), ints(KT_DIMS(1), (int64_t[]){1})};
    expect(kt_node_new("Gather", 13), 2, in, KT_DIMS(1), (const char *[]){""});
}

/* Trilu's zeros and OneHot's off/on values are strings too. */
static void test_trilu_onehot(void **state)
{
    (void)state;
    kiln_tensor *in1[1] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"})};
    expect(kt_node_new("Trilu", 14), 1, in1, KT_DIMS(2, 2), (const char *[]){"a", "b", "", "d"});
    kt_node *n = kt_node_new("Trilu", 14);
    kt_attr_int(n, "upper", 0);
    kiln_tensor *in2[2] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"}), ints(0, NULL, (int64_t[]){-1})};
    expect(n, 2, in2, KT_DIMS(2, 2), (const char *[]){"", "", "c", ""});
    n = kt_node_new("OneHot", 11);
    kt_attr_int(n, "axis", -1);
    kiln_tensor *in3[3] = {ints(KT_DIMS(2), (int64_t[]){0, -1}), ints(0, NULL, (int64_t[]){3}),
                           strs(KT_DIMS(2), (const char *[]){"off", "on"})};
    expect(n, 3, in3, KT_DIMS(2, 3), (const char *[]){"on", "off", "off", "off", "off", "on"});
}

static void test_constant(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("Constant", 13);
    kt_attr_strings(n, "value_strings", (const char *[]){"x", "", "yz"}, 3);
    expect(n, 0, NULL, KT_DIMS(3), (const char *[]){"x", "", "yz"});
    n = kt_node_new("Constant", 13);
    kt_attr_string(n, "value_string", "only");
    expect(n, 0, NULL, 0, NULL, (const char *[]){"only"});
    kiln_tensor *v = strs(KT_DIMS(2, 1), (const char *[]){"t0", "t1"});
    n = kt_node_new("Constant", 13);
    kt_attr_tensor(n, "value", v);
    kn_tensor_free(v);
    expect(n, 0, NULL, KT_DIMS(2, 1), (const char *[]){"t0", "t1"});
    n = kt_node_new("Constant", 13);
    kt_attr_strings(n, "value_strings", NULL, 0);
    expect(n, 0, NULL, KT_DIMS(0), NULL);
}

/* Ops that compute on elements still refuse strings before run. */
static void test_still_refused(void **state)
{
    (void)state;
    kiln_tensor *in1[1] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"})};
    expect_fail(kt_node_new("Relu", 14), 1, in1, KILN_ERROR_DTYPE);
    kiln_tensor *in2[2] = {strs(KT_DIMS(2), (const char *[]){"a", "b"}), ints(KT_DIMS(1), (int64_t[]){1})};
    expect_fail(kt_node_new("TopK", 11), 2, in2, KILN_ERROR_DTYPE);
}

/* ---- end to end ----------------------------------------------------------------- */

static void model_path(char *buf, size_t size)
{
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(buf, size, "%s/tests/data/strings/string_move.onnx", src ? src : KILN_TEST_SOURCE_DIR);
}

static kiln_status run_model(kiln_context *ctx, kiln_tensor *const *in, kiln_tensor **out)
{
    static const char *names[3] = {"words", "idx", "flag"};
    out[0] = out[1] = NULL;
    return kiln_context_run(ctx, 3, names, (const kiln_tensor *const *)in, 2, NULL, out);
}

static kiln_tensor *flag(bool v)
{
    uint8_t b = v;
    return kt_tensor(KILN_DTYPE_BOOL, 0, NULL, &b);
}

/* Gather -> Reshape -> Concat (with a Reshape of an initializer folded at
 * load) -> Identity, and If returning the joined strings or their
 * transpose; run twice with new shapes, then again with the same ones. */
static void test_model_twice(void **state)
{
    (void)state;
    char path[1024];
    model_path(path, sizeof path);
    kiln_model *m = NULL;
    kiln_context *ctx = NULL;
    if (kiln_model_load(path, NULL, &m) != KILN_OK)
        fail_msg("loading %s: %s", path, kiln_last_error());
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);

    kiln_tensor *in[3] = {strs(KT_DIMS(3), (const char *[]){"alpha", "beta", "gamma"}),
                          ints(KT_DIMS(4), (int64_t[]){2, 0, -2, -1}), flag(true)};
    kiln_tensor *out[2];
    assert_int_equal(run_model(ctx, in, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(3, 2));
    const char *want1[] = {"gamma", "alpha", "beta", "gamma", "end", ""};
    assert_owned_strs(out[0], want1, 6, 3, in);
    kt_assert_shape(out[1], KT_DIMS(3, 2));
    assert_owned_strs(out[1], want1, 6, 3, in);
    kiln_tensor_release(out[0]);
    kiln_tensor_release(out[1]);

    kn_tensor_free(in[1]);
    kn_tensor_free(in[2]);
    in[1] = ints(KT_DIMS(2), (int64_t[]){1, 1});
    in[2] = flag(false);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(run_model(ctx, in, out), KILN_OK);
        kt_assert_shape(out[0], KT_DIMS(2, 2));
        assert_owned_strs(out[0], (const char *[]){"beta", "beta", "end", ""}, 4, 3, in);
        kt_assert_shape(out[1], KT_DIMS(2, 2));
        assert_owned_strs(out[1], (const char *[]){"beta", "end", "beta", ""}, 4, 3, in);
        kiln_tensor_release(out[0]);
        kiln_tensor_release(out[1]);
    }
    /* a failing run (index out of range) leaves the context usable */
    kn_tensor_free(in[1]);
    in[1] = ints(KT_DIMS(2), (int64_t[]){0, 5});
    assert_int_not_equal(run_model(ctx, in, out), KILN_OK);
    kn_tensor_free(in[1]);
    in[1] = ints(KT_DIMS(2), (int64_t[]){0, 2});
    assert_int_equal(run_model(ctx, in, out), KILN_OK);
    assert_owned_strs(out[0], (const char *[]){"alpha", "gamma", "end", ""}, 4, 3, in);
    kiln_tensor_release(out[0]);
    kiln_tensor_release(out[1]);

    free_all(in, 3);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

static kiln_status load_and_run(kiln_tensor *const *in, kiln_tensor **out)
{
    char path[1024];
    model_path(path, sizeof path);
    kiln_model *m = NULL;
    kiln_context *ctx = NULL;
    kiln_status s = kiln_model_load(path, NULL, &m);
    if (s == KILN_OK)
        s = kiln_context_create(m, &ctx);
    if (s == KILN_OK)
        s = run_model(ctx, in, out);
    kiln_context_release(ctx);
    kiln_model_release(m);
    return s;
}

/* Every allocation of loading (folding the initializer's Reshape), planning
 * and running may fail, including the string copies: each failure must be a
 * clean NOMEM, with no leak and no double free (valgrind / ASan check). */
static void test_model_alloc_failures(void **state)
{
    (void)state;
    kiln_tensor *in[3] = {strs(KT_DIMS(3), (const char *[]){"alpha", "beta", "gamma"}),
                          ints(KT_DIMS(4), (int64_t[]){2, 0, -2, -1}), flag(false)};
    const char *want0[] = {"gamma", "alpha", "beta", "gamma", "end", ""};
    const char *want1[] = {"gamma", "beta", "end", "alpha", "gamma", ""};
    kiln_tensor *out[2];
    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
        kn_alloc_fail_at(nth);
        kiln_status s = load_and_run(in, out);
        bool injected = kn_alloc_count() >= nth;
        kn_alloc_fail_at(0);
        if (s == KILN_OK) {
            assert_owned_strs(out[0], want0, 6, 3, in);
            assert_owned_strs(out[1], want1, 6, 3, in);
            kiln_tensor_release(out[0]);
            kiln_tensor_release(out[1]);
            if (!injected)
                break;
            continue;
        }
        if (s != KILN_ERROR_NOMEM)
            fail_msg("allocation %llu failed: %s (%s), expected NOMEM", (unsigned long long)nth,
                     kiln_status_string(s), kiln_last_error());
        failures++;
        assert_true(nth < 100000);
    }
    assert_true(failures > 10);
    free_all(in, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_reshape_flatten),
        cmocka_unit_test(test_squeeze_unsqueeze_negative_axes),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_expand_tile_repeat),
        cmocka_unit_test(test_depth_space),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_slice_negative),
        cmocka_unit_test(test_gather_family),
        cmocka_unit_test(test_scatter),
        cmocka_unit_test(test_where_broadcast),
        cmocka_unit_test(test_compress_reverse_crop),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_null_elements_become_empty),
        cmocka_unit_test(test_trilu_onehot),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_still_refused),
        cmocka_unit_test(test_model_twice),
        cmocka_unit_test(test_model_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
