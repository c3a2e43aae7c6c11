/* String ops: StringConcat, StringSplit, StringNormalizer, RegexFullMatch. */
#include "harness.h"

#include "onnx/onnx.pb-c.h"
#include "runtime/runtime.h"

#define strs kt_strings

static void assert_strs(const kiln_tensor *t, const char *const *want, int64_t n)
{
    assert_int_equal(t->dtype, KILN_DTYPE_STRING);
    assert_int_equal(kn_tensor_count(t), n);
    char *const *d = t->data;
    for (int64_t i = 0; i < n; i++) {
        assert_non_null(d[i]);
        if (strcmp(d[i], want[i]) != 0)
            fail_msg("element %lld: got \"%s\", expected \"%s\"", (long long)i, d[i], want[i]);
    }
}

static void free_all(kiln_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        kn_tensor_free(t[i]);
}

static void test_concat_broadcast_2d(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("StringConcat", 20);
    kiln_tensor *in[2] = {strs(KT_DIMS(2, 1), (const char *[]){"a", "b"}),
                          strs(KT_DIMS(3), (const char *[]){"x", "", "zz"})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 2, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(2, 3));
    assert_strs(out[0], (const char *[]){"ax", "a", "azz", "bx", "b", "bzz"}, 6);
    free_all(out, 1);
    free_all(in, 2);
    kt_node_free(n);
}

static void test_concat_empty_and_bad_type(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("StringConcat", 20);
    kiln_tensor *in[2] = {kt_tensor(KILN_DTYPE_STRING, KT_DIMS(0, 2), NULL), strs(KT_DIMS(1), (const char *[]){"s"})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 2, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(0, 2));
    free_all(out, 1);
    kn_tensor_free(in[1]);
    in[1] = kt_f32(KT_DIMS(1), (float[]){1});
    assert_int_equal(kt_run(n, 2, in, 1, out), KILN_ERROR_DTYPE);
    free_all(in, 2);
    kt_node_free(n);
}

static void test_split_delimiter_maxsplit(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("StringSplit", 20);
    kt_attr_string(n, "delimiter", "::");
    kt_attr_int(n, "maxsplit", 1);
    kiln_tensor *in[1] = {strs(KT_DIMS(3), (const char *[]){"a::b::c", "", "::"})};
    kiln_tensor *out[2];
    assert_int_equal(kt_run(n, 1, in, 2, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(3, 2));
    assert_strs(out[0], (const char *[]){"a", "b::c", "", "", "", ""}, 6);
    kt_assert_i64_equal(out[1], (int64_t[]){2, 1, 2}, 3);
    free_all(out, 2);
    free_all(in, 1);
    kt_node_free(n);
}

static void test_split_whitespace(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("StringSplit", 20);
    kt_attr_int(n, "maxsplit", 1);
    /* Python: "  a \t b  c ".split(None, 1) == ['a', 'b  c '], "   ".split() == [] */
    kiln_tensor *in[1] = {strs(KT_DIMS(2), (const char *[]){"  a \t b  c ", "   "})};
    kiln_tensor *out[2];
    assert_int_equal(kt_run(n, 1, in, 2, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(2, 2));
    assert_strs(out[0], (const char *[]){"a", "b  c ", "", ""}, 4);
    kt_assert_i64_equal(out[1], (int64_t[]){2, 0}, 2);
    free_all(out, 2);
    free_all(in, 1);
    kt_node_free(n);
}

static void test_split_scalar_input(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("StringSplit", 20);
    kt_attr_string(n, "delimiter", ",");
    kiln_tensor *in[1] = {strs(0, NULL, (const char *[]){"1,,2"})};
    kiln_tensor *out[2];
    assert_int_equal(kt_run(n, 1, in, 2, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(3));
    assert_strs(out[0], (const char *[]){"1", "", "2"}, 3);
    kt_assert_i64_equal(out[1], (int64_t[]){3}, 1);
    free_all(out, 2);
    free_all(in, 1);
    kt_node_free(n);
}

static void test_normalizer_insensitive_lower(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("StringNormalizer", 10);
    kt_attr_string(n, "case_change_action", "LOWER");
    kt_attr_strings(n, "stopwords", (const char *[]){"The", "a"}, 2);
    kiln_tensor *in[1] = {strs(KT_DIMS(1, 5), (const char *[]){"the", "Quick", "A", "FOX", ""})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(1, 3));
    assert_strs(out[0], (const char *[]){"quick", "fox", ""}, 3);
    free_all(out, 1);
    free_all(in, 1);
    /* everything dropped: one empty string, rank kept */
    in[0] = strs(KT_DIMS(2), (const char *[]){"THE", "a"});
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    kt_assert_shape(out[0], KT_DIMS(1));
    assert_strs(out[0], (const char *[]){""}, 1);
    free_all(out, 1);
    free_all(in, 1);
    kt_node_free(n);
}

static void test_normalizer_unicode(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("StringNormalizer", 10);
    kt_attr_string(n, "case_change_action", "UPPER");
    kt_attr_strings(n, "stopwords", (const char *[]){"\xc3\xa9t\xc3\xa9"}, 1); /* été */
    /* ÉTÉ is a stopword case-insensitively; invalid UTF-8 passes through */
    kiln_tensor *in[1] = {strs(KT_DIMS(4), (const char *[]){"\xc3\x89T\xc3\x89", "\xc3\xa9mile \xc3\xa7" "a",
                                                            "\xcf\x83\xce\xaf", "a\xff"})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    /* ÉMILE ÇA, ΣΊ, A\xff */
    assert_strs(out[0], (const char *[]){"\xc3\x89MILE \xc3\x87" "A", "\xce\xa3\xce\x8a", "A\xff"}, 3);
    kn_tensor_free(out[0]);
    free_all(in, 1);
    kt_node_free(n);
}

static void test_normalizer_refuses(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("StringNormalizer", 10);
    kiln_tensor *in[1] = {strs(KT_DIMS(2, 2), (const char *[]){"a", "b", "c", "d"})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_SHAPE);
    kt_node_free(n);
    n = kt_node_new("StringNormalizer", 10);
    kt_attr_string(n, "case_change_action", "TITLE");
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_MODEL);
    assert_non_null(strstr(kn_error_message(), "case_change_action"));
    free_all(in, 1);
    kt_node_free(n);
}

static void check_regex(const char *pattern, const char *const *s, const uint8_t *want, int64_t count)
{
    kt_node *n = kt_node_new("RegexFullMatch", 20);
    kt_attr_string(n, "pattern", pattern);
    kiln_tensor *in[1] = {strs(1, &count, s)};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_OK);
    assert_int_equal(out[0]->dtype, KILN_DTYPE_BOOL);
    const uint8_t *y = out[0]->data;
    for (int64_t i = 0; i < count; i++)
        if (y[i] != want[i])
            fail_msg("pattern %s on \"%s\": got %d", pattern, s[i], y[i]);
    free_all(out, 1);
    free_all(in, 1);
    kt_node_free(n);
}

static void test_regex_translation(void **state)
{
    (void)state;
    /* full match, not search */
    check_regex("b+", (const char *[]){"bbb", "abbb", ""}, (const uint8_t[]){1, 0, 0}, 3);
    /* \d, \s, escapes in brackets, non-capturing groups, lazy quantifiers */
    check_regex("(?:\\d{2,3})\\s[\\w\\-]+?", (const char *[]){"12 a-b_c", "1 a", "123\tx", "123 $"},
                (const uint8_t[]){1, 0, 1, 0}, 4);
    /* '.' does not match a newline; ']' and '^' as bracket literals */
    check_regex("a.c[]^]", (const char *[]){"abc]", "a\nc^", "abc^"}, (const uint8_t[]){1, 0, 1}, 3);
    /* negated classes and case-insensitive flag */
    check_regex("(?i)\\D+X", (const char *[]){"abx", "a1x"}, (const uint8_t[]){1, 0}, 2);
    /* alternation is anchored as a whole */
    check_regex("ab|cd", (const char *[]){"ab", "cd", "abcd"}, (const uint8_t[]){1, 1, 0}, 3);
}

static void test_regex_refused(void **state)
{
    (void)state;
    const char *bad[] = {"(?=x)", "\\p{L}", "[a", "a{2"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        kt_node *n = kt_node_new("RegexFullMatch", 20);
        kt_attr_string(n, "pattern", bad[k]);
        kiln_tensor *in[1] = {strs(KT_DIMS(1), (const char *[]){"x"})};
        kiln_tensor *out[1];
        kiln_status s = kt_run(n, 1, in, 1, out);
        if (s == KILN_OK)
            fail_msg("pattern %s accepted", bad[k]);
        assert_non_null(strstr(kn_error_message(), "test_node"));
        free_all(in, 1);
        kt_node_free(n);
    }
    kt_node *n = kt_node_new("RegexFullMatch", 20);
    kiln_tensor *in[1] = {strs(KT_DIMS(1), (const char *[]){"x"})};
    kiln_tensor *out[1];
    assert_int_equal(kt_run(n, 1, in, 1, out), KILN_ERROR_MODEL);
    free_all(in, 1);
    kt_node_free(n);
}

/* Through the planner: y = StringConcat(StringConcat(x, x), x) as a
 * loaded model, run three times. The intermediate and the output are
 * string values made at run time: each run's tensors own their strings and
 * the next run frees them (checked under valgrind / ASan by the suite). */
static void test_planned_string_steps_own_strings(void **state)
{
    (void)state;
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opset_p = &opset;
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__NodeProto nodes[2] = {ONNX__NODE_PROTO__INIT, ONNX__NODE_PROTO__INIT}, *node_p[2] = {&nodes[0], &nodes[1]};
    char *in0[2] = {"x", "x"}, *out0[1] = {"xx"}, *in1[2] = {"xx", "x"}, *out1[1] = {"y"};
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
    tt.has_elem_type = 1;
    tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__STRING;
    Onnx__TypeProto type = ONNX__TYPE_PROTO__INIT;
    type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type.tensor_type = &tt;
    Onnx__ValueInfoProto vx = ONNX__VALUE_INFO_PROTO__INIT, vy = ONNX__VALUE_INFO_PROTO__INIT;
    vx.name = "x";
    vx.type = &type;
    vy.name = "y";
    vy.type = &type;
    Onnx__ValueInfoProto *ins[1] = {&vx}, *outs[1] = {&vy};
    nodes[0].op_type = nodes[1].op_type = "StringConcat";
    nodes[0].name = "c0";
    nodes[1].name = "c1";
    nodes[0].n_input = nodes[1].n_input = 2;
    nodes[0].input = in0;
    nodes[1].input = in1;
    nodes[0].n_output = nodes[1].n_output = 1;
    nodes[0].output = out0;
    nodes[1].output = out1;
    graph.name = "g";
    graph.n_node = 2;
    graph.node = node_p;
    graph.n_input = 1;
    graph.input = ins;
    graph.n_output = 1;
    graph.output = outs;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = 20;
    model.has_ir_version = 1;
    model.ir_version = 9;
    model.n_opset_import = 1;
    model.opset_import = &opset_p;
    model.graph = &graph;
    size_t size = onnx__model_proto__get_packed_size(&model);
    uint8_t *bytes = malloc(size);
    assert_non_null(bytes);
    onnx__model_proto__pack(&model, bytes);
    kiln_model *m;
    assert_int_equal(kiln_model_load_buffer(bytes, size, NULL, NULL, &m), KILN_OK);
    free(bytes);
    kiln_context *c;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    const char *words[3][2] = {{"ab", ""}, {"x", "yz"}, {"", "q"}};
    for (int run = 0; run < 3; run++) {
        kiln_tensor *x = strs(KT_DIMS(2), words[run]), *y = NULL;
        const char *in_name = "x", *out_name = "y";
        assert_int_equal(kiln_context_run(c, 1, &in_name, (const kiln_tensor *const *)&x, 1, &out_name, &y),
                         KILN_OK);
        char want[2][16];
        for (int i = 0; i < 2; i++)
            snprintf(want[i], sizeof want[i], "%s%s%s", words[run][i], words[run][i], words[run][i]);
        assert_strs(y, (const char *[]){want[0], want[1]}, 2);
        /* the ownership rule: string-producing steps are never arena steps */
        assert_int_equal(c->plan->n_steps, 2);
        for (int k = 0; k < c->plan->n_steps; k++)
            assert_true(c->plan->steps[k].dynamic);
        kiln_tensor_release(y);
        kiln_tensor_release(x);
    }
    kiln_context_release(c);
    kiln_model_release(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concat_broadcast_2d),
        cmocka_unit_test(test_concat_empty_and_bad_type),
        cmocka_unit_test(test_split_delimiter_maxsplit),
        cmocka_unit_test(test_split_whitespace),
        cmocka_unit_test(test_split_scalar_input),
        cmocka_unit_test(test_normalizer_insensitive_lower),
        cmocka_unit_test(test_normalizer_unicode),
        cmocka_unit_test(test_normalizer_refuses),
        cmocka_unit_test(test_regex_translation),
        cmocka_unit_test(test_regex_refused),
        cmocka_unit_test(test_planned_string_steps_own_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
