/* Sequence and optional values: the ops of src/ops/sequence.c and
 * src/ops/optional.c one node at a time, then end to end through the
 * loader, the planner and the public API on the models
 * tests/data/sequence/make_models.py writes. */
#include "harness.h"

#include "onnx/onnx_import.h"
#include "runtime/runtime.h"

#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------ */

/* A sequence holding copies of items. */
static kiln_tensor *seq_of(int n, kiln_tensor *const *items)
{
    kiln_tensor *s = NULL;
    assert_int_equal(kn_list_new(KN_DTYPE_SEQUENCE, KILN_DTYPE_UNDEFINED, &s), KILN_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(kn_list_push_copy(s->data, items[i]), KILN_OK);
    if (n)
        ((kn_list *)s->data)->elem = items[0]->dtype;
    return s;
}

static kiln_tensor *i64_scalar(int64_t v)
{
    return kt_i64(0, NULL, &v);
}

static const kn_list *list(const kiln_tensor *t)
{
    assert_non_null(t);
    assert_true(kn_dtype_is_container(t->dtype));
    assert_non_null(t->data);
    return t->data;
}

/* The three sequence items a = [1,2], b = [3,4,5], c = [6] (float). */
typedef struct abc {
    kiln_tensor *a, *b, *c;
} abc;

static abc make_abc(void)
{
    abc r;
    r.a = kt_f32(KT_DIMS(2), (const float[]){1, 2});
    r.b = kt_f32(KT_DIMS(3), (const float[]){3, 4, 5});
    r.c = kt_f32(KT_DIMS(1), (const float[]){6});
    return r;
}

static void free_abc(abc *r)
{
    kn_tensor_free(r->a);
    kn_tensor_free(r->b);
    kn_tensor_free(r->c);
}

/* Run a one-node op; returns the status and sets *out (output 0). */
static kiln_status run1(const char *op, int opset, int n_in, kiln_tensor *const *in, kiln_tensor **out)
{
    kt_node *n = kt_node_new(op, opset);
    *out = NULL;
    kiln_status s = kt_run(n, n_in, in, 1, out);
    kt_node_free(n);
    return s;
}

/* The first element of each item, which tells the items here apart. */
static void assert_firsts(const kiln_tensor *seq, int n, const float *firsts)
{
    const kn_list *l = list(seq);
    assert_int_equal(l->n, n);
    for (int i = 0; i < n; i++)
        assert_true(((const float *)l->items[i]->data)[0] == firsts[i]);
}

/* ---- SequenceConstruct / SequenceAt / SequenceLength ------------------------ */

static void test_construct_at_length(void **state)
{
    (void)state;
    abc t = make_abc();
    kiln_tensor *seq;
    assert_int_equal(run1("SequenceConstruct", 11, 3, (kiln_tensor *[]){t.a, t.b, t.c}, &seq), KILN_OK);
    assert_int_equal(seq->dtype, KN_DTYPE_SEQUENCE);
    assert_firsts(seq, 3, (const float[]){1, 3, 6});
    assert_int_equal(list(seq)->elem, KILN_DTYPE_FLOAT);

    kiln_tensor *len;
    assert_int_equal(run1("SequenceLength", 11, 1, &seq, &len), KILN_OK);
    assert_int_equal(len->dtype, KILN_DTYPE_INT64);
    assert_int_equal(len->rank, 0);
    assert_int_equal(*(int64_t *)len->data, 3);
    kn_tensor_free(len);

    /* positions count from the back when negative: -1 is the last */
    const int64_t pos[] = {0, 1, 2, -1, -2, -3};
    const float first[] = {1, 3, 6, 6, 3, 1};
    for (int i = 0; i < 6; i++) {
        kiln_tensor *p = i64_scalar(pos[i]), *item;
        assert_int_equal(run1("SequenceAt", 11, 2, (kiln_tensor *[]){seq, p}, &item), KILN_OK);
        assert_int_equal(item->dtype, KILN_DTYPE_FLOAT);
        assert_true(((float *)item->data)[0] == first[i]);
        kn_tensor_free(item);
        kn_tensor_free(p);
    }
    /* an int32 position, as a 1-element 1-D tensor */
    int32_t p32 = -2;
    kiln_tensor *p = kt_i32(KT_DIMS(1), &p32), *item;
    assert_int_equal(run1("SequenceAt", 11, 2, (kiln_tensor *[]){seq, p}, &item), KILN_OK);
    kt_assert_shape(item, KT_DIMS(3));
    kt_assert_f32_close(item, (const float[]){3, 4, 5}, 3, 0, 0);
    kn_tensor_free(item);
    kn_tensor_free(p);
    kn_tensor_free(seq);
    free_abc(&t);
}

static void test_at_out_of_range_refused(void **state)
{
    (void)state;
    abc t = make_abc();
    kiln_tensor *seq = seq_of(2, (kiln_tensor *[]){t.a, t.b});
    const int64_t bad[] = {2, -3, INT64_MAX, INT64_MIN};
    for (int i = 0; i < 4; i++) {
        kiln_tensor *p = i64_scalar(bad[i]), *item;
        assert_int_equal(run1("SequenceAt", 11, 2, (kiln_tensor *[]){seq, p}, &item), KILN_ERROR_ARGUMENT);
        assert_non_null(strstr(kn_error_message(), "out of range"));
        kn_tensor_free(p);
    }
    /* a position of two elements is refused too */
    kiln_tensor *p2 = kt_i64(KT_DIMS(2), (const int64_t[]){0, 1}), *item;
    assert_int_equal(run1("SequenceAt", 11, 2, (kiln_tensor *[]){seq, p2}, &item), KILN_ERROR_DTYPE);
    kn_tensor_free(p2);
    kn_tensor_free(seq);
    free_abc(&t);
}

static void test_construct_mixed_dtypes_refused(void **state)
{
    (void)state;
    kiln_tensor *f = kt_f32(KT_DIMS(1), NULL), *i = kt_i64(KT_DIMS(1), NULL), *seq;
    assert_int_equal(run1("SequenceConstruct", 11, 2, (kiln_tensor *[]){f, i}, &seq), KILN_ERROR_DTYPE);
    kn_tensor_free(f);
    kn_tensor_free(i);
}

/* ---- empty sequences --------------------------------------------------------- */

static void test_empty_sequences(void **state)
{
    (void)state;
    kt_node *n = kt_node_new("SequenceEmpty", 11);
    kiln_tensor *empty = NULL;
    assert_int_equal(kt_run(n, 0, NULL, 1, &empty), KILN_OK);
    kt_node_free(n);
    assert_int_equal(list(empty)->n, 0);
    assert_int_equal(list(empty)->elem, KILN_DTYPE_FLOAT); /* the default dtype */

    kiln_tensor *len;
    assert_int_equal(run1("SequenceLength", 11, 1, &empty, &len), KILN_OK);
    assert_int_equal(*(int64_t *)len->data, 0);
    kn_tensor_free(len);

    kiln_tensor *zero = i64_scalar(0), *minus1 = i64_scalar(-1), *one = i64_scalar(1), *out;
    assert_int_equal(run1("SequenceAt", 11, 2, (kiln_tensor *[]){empty, zero}, &out), KILN_ERROR_ARGUMENT);
    assert_int_equal(run1("SequenceErase", 11, 1, &empty, &out), KILN_ERROR_ARGUMENT);
    assert_int_equal(run1("ConcatFromSequence", 11, 1, &empty, &out), KILN_ERROR_MODEL); /* axis is required */
    kt_node *cat = kt_node_new("ConcatFromSequence", 11);
    kt_attr_int(cat, "axis", 0);
    assert_int_equal(kt_run(cat, 1, &empty, 1, &out), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kn_error_message(), "empty"));
    kt_node_free(cat);

    /* inserting into an empty sequence: at 0, at -0 and at the end; 1 and
     * -1 are outside [-0, 0] */
    kiln_tensor *x = kt_f32(KT_DIMS(2), (const float[]){7, 8});
    assert_int_equal(run1("SequenceInsert", 11, 3, (kiln_tensor *[]){empty, x, zero}, &out), KILN_OK);
    assert_firsts(out, 1, (const float[]){7});
    kn_tensor_free(out);
    assert_int_equal(run1("SequenceInsert", 11, 2, (kiln_tensor *[]){empty, x}, &out), KILN_OK);
    assert_firsts(out, 1, (const float[]){7});
    kn_tensor_free(out);
    assert_int_equal(run1("SequenceInsert", 11, 3, (kiln_tensor *[]){empty, x, one}, &out), KILN_ERROR_ARGUMENT);
    assert_int_equal(run1("SequenceInsert", 11, 3, (kiln_tensor *[]){empty, x, minus1}, &out),
                     KILN_ERROR_ARGUMENT);

    /* SequenceEmpty(dtype int64) takes only int64 tensors */
    n = kt_node_new("SequenceEmpty", 11);
    kt_attr_int(n, "dtype", KILN_DTYPE_INT64);
    kiln_tensor *empty64 = NULL;
    assert_int_equal(kt_run(n, 0, NULL, 1, &empty64), KILN_OK);
    kt_node_free(n);
    assert_int_equal(list(empty64)->elem, KILN_DTYPE_INT64);
    assert_int_equal(run1("SequenceInsert", 11, 2, (kiln_tensor *[]){empty64, x}, &out), KILN_ERROR_DTYPE);
    /* an unknown dtype attribute is refused at parse */
    n = kt_node_new("SequenceEmpty", 11);
    kt_attr_int(n, "dtype", 12345);
    assert_int_equal(kt_run(n, 0, NULL, 1, &out), KILN_ERROR_UNSUPPORTED);
    kt_node_free(n);

    kn_tensor_free(x);
    kn_tensor_free(zero);
    kn_tensor_free(minus1);
    kn_tensor_free(one);
    kn_tensor_free(empty);
    kn_tensor_free(empty64);
}

/* ---- SequenceInsert / SequenceErase ------------------------------------------ */

static void test_insert_positions(void **state)
{
    (void)state;
    abc t = make_abc();
    kiln_tensor *seq = seq_of(2, (kiln_tensor *[]){t.a, t.b});
    const int64_t pos[] = {0, 1, 2, -1, -2};
    const float expect[][3] = {{6, 1, 3}, {1, 6, 3}, {1, 3, 6}, {1, 6, 3}, {6, 1, 3}};
    for (int i = 0; i < 5; i++) {
        kiln_tensor *p = i64_scalar(pos[i]), *out;
        assert_int_equal(run1("SequenceInsert", 11, 3, (kiln_tensor *[]){seq, t.c, p}, &out), KILN_OK);
        assert_firsts(out, 3, expect[i]);
        kn_tensor_free(out);
        kn_tensor_free(p);
    }
    /* default: append */
    kiln_tensor *out;
    assert_int_equal(run1("SequenceInsert", 11, 2, (kiln_tensor *[]){seq, t.c}, &out), KILN_OK);
    assert_firsts(out, 3, (const float[]){1, 3, 6});
    kn_tensor_free(out);
    /* the input sequence is a value: never changed */
    assert_firsts(seq, 2, (const float[]){1, 3});
    const int64_t bad[] = {3, -3};
    for (int i = 0; i < 2; i++) {
        kiln_tensor *p = i64_scalar(bad[i]);
        assert_int_equal(run1("SequenceInsert", 11, 3, (kiln_tensor *[]){seq, t.c, p}, &out), KILN_ERROR_ARGUMENT);
        kn_tensor_free(p);
    }
    /* another dtype than the items' is refused */
    kiln_tensor *i = kt_i64(KT_DIMS(1), NULL);
    assert_int_equal(run1("SequenceInsert", 11, 2, (kiln_tensor *[]){seq, i}, &out), KILN_ERROR_DTYPE);
    /* a sequence cannot go into a sequence */
    assert_int_equal(run1("SequenceInsert", 11, 2, (kiln_tensor *[]){seq, seq}, &out), KILN_ERROR_DTYPE);
    kn_tensor_free(i);
    kn_tensor_free(seq);
    free_abc(&t);
}

static void test_erase_positions(void **state)
{
    (void)state;
    abc t = make_abc();
    kiln_tensor *seq = seq_of(3, (kiln_tensor *[]){t.a, t.b, t.c}), *out;
    assert_int_equal(run1("SequenceErase", 11, 1, &seq, &out), KILN_OK); /* default: the last */
    assert_firsts(out, 2, (const float[]){1, 3});
    kn_tensor_free(out);
    const int64_t pos[] = {0, 1, -3, -2};
    const float expect[][2] = {{3, 6}, {1, 6}, {3, 6}, {1, 6}};
    for (int i = 0; i < 4; i++) {
        kiln_tensor *p = i64_scalar(pos[i]);
        assert_int_equal(run1("SequenceErase", 11, 2, (kiln_tensor *[]){seq, p}, &out), KILN_OK);
        assert_firsts(out, 2, expect[i]);
        kn_tensor_free(out);
        kn_tensor_free(p);
    }
    const int64_t bad[] = {3, -4};
    for (int i = 0; i < 2; i++) {
        kiln_tensor *p = i64_scalar(bad[i]);
        assert_int_equal(run1("SequenceErase", 11, 2, (kiln_tensor *[]){seq, p}, &out), KILN_ERROR_ARGUMENT);
        kn_tensor_free(p);
    }
    assert_firsts(seq, 3, (const float[]){1, 3, 6});
    kn_tensor_free(seq);
    free_abc(&t);
}

/* A sequence counts against the tensor element limit with all its items. */
static void test_sequence_element_limit(void **state)
{
    (void)state;
    abc t = make_abc();
    kiln_tensor *seq = seq_of(1, &t.a), *out; /* 2 elements */
    struct kiln_options o;
    kn_options_defaults(&o);
    o.limits[KILN_LIMIT_TENSOR_ELEMENTS] = 4;
    const struct kiln_options *outer = kn_limits_enter(&o);
    assert_int_equal(run1("SequenceInsert", 11, 2, (kiln_tensor *[]){seq, t.c}, &out), KILN_OK); /* 3 */
    kn_tensor_free(out);
    assert_int_equal(run1("SequenceInsert", 11, 2, (kiln_tensor *[]){seq, t.b}, &out), KILN_ERROR_LIMIT); /* 5 */
    assert_non_null(strstr(kn_error_message(), "KILN_LIMIT_TENSOR_ELEMENTS"));
    assert_int_equal(run1("SequenceConstruct", 11, 2, (kiln_tensor *[]){t.a, t.b}, &out), KILN_ERROR_LIMIT);
    kn_limits_leave(outer);
    kn_tensor_free(seq);
    free_abc(&t);
}

/* ---- SplitToSequence ----------------------------------------------------------- */

static kiln_status split(kiln_tensor *x, kiln_tensor *sizes, int64_t axis, int64_t keepdims, kiln_tensor **out)
{
    kt_node *n = kt_node_new("SplitToSequence", 11);
    if (axis != 0)
        kt_attr_int(n, "axis", axis);
    if (keepdims != 1)
        kt_attr_int(n, "keepdims", keepdims);
    *out = NULL;
    kiln_status s = kt_run(n, sizes ? 2 : 1, (kiln_tensor *[]){x, sizes}, 1, out);
    kt_node_free(n);
    return s;
}

static void test_split_to_sequence(void **state)
{
    (void)state;
    /* x = [[0,1,2],[3,4,5],[6,7,8],[9,10,11],[12,13,14]] (5x3) */
    float xv[15];
    for (int i = 0; i < 15; i++)
        xv[i] = (float)i;
    kiln_tensor *x = kt_f32(KT_DIMS(5, 3), xv), *seq;

    /* no split: items of size 1 along the axis, kept or squeezed */
    assert_int_equal(split(x, NULL, 1, 1, &seq), KILN_OK);
    assert_int_equal(list(seq)->n, 3);
    kt_assert_shape(list(seq)->items[2], KT_DIMS(5, 1));
    kt_assert_f32_close(list(seq)->items[2], (const float[]){2, 5, 8, 11, 14}, 5, 0, 0);
    kn_tensor_free(seq);
    assert_int_equal(split(x, NULL, -1, 0, &seq), KILN_OK);
    assert_int_equal(list(seq)->n, 3);
    kt_assert_shape(list(seq)->items[1], KT_DIMS(5));
    kt_assert_f32_close(list(seq)->items[1], (const float[]){1, 4, 7, 10, 13}, 5, 0, 0);
    kn_tensor_free(seq);

    /* a scalar split that does not divide the axis: the last item is smaller */
    kiln_tensor *two = i64_scalar(2);
    assert_int_equal(split(x, two, 0, 1, &seq), KILN_OK);
    assert_int_equal(list(seq)->n, 3);
    kt_assert_shape(list(seq)->items[0], KT_DIMS(2, 3));
    kt_assert_shape(list(seq)->items[2], KT_DIMS(1, 3));
    kt_assert_f32_close(list(seq)->items[1], xv + 6, 6, 0, 0);
    kt_assert_f32_close(list(seq)->items[2], xv + 12, 3, 0, 0);
    kn_tensor_free(seq);

    /* 1-D split sizes (one of them 0); keepdims = 0 is ignored with split */
    kiln_tensor *sizes = kt_i64(KT_DIMS(3), (const int64_t[]){1, 0, 2});
    assert_int_equal(split(x, sizes, -1, 0, &seq), KILN_OK);
    assert_int_equal(list(seq)->n, 3);
    kt_assert_shape(list(seq)->items[0], KT_DIMS(5, 1));
    kt_assert_shape(list(seq)->items[1], KT_DIMS(5, 0));
    kt_assert_shape(list(seq)->items[2], KT_DIMS(5, 2));
    kt_assert_f32_close(list(seq)->items[2], (const float[]){1, 2, 4, 5, 7, 8, 10, 11, 13, 14}, 10, 0, 0);
    kn_tensor_free(seq);

    /* sizes that do not add up, a zero or negative scalar, a bad axis */
    kiln_tensor *wrong = kt_i64(KT_DIMS(2), (const int64_t[]){1, 1});
    kiln_tensor *neg = kt_i64(KT_DIMS(2), (const int64_t[]){4, -1});
    kiln_tensor *zero = i64_scalar(0);
    assert_int_equal(split(x, wrong, 1, 1, &seq), KILN_ERROR_MODEL);
    assert_int_equal(split(x, neg, 1, 1, &seq), KILN_ERROR_MODEL);
    assert_int_equal(split(x, zero, 1, 1, &seq), KILN_ERROR_MODEL);
    assert_int_equal(split(x, NULL, 2, 1, &seq), KILN_ERROR_MODEL);
    assert_int_equal(split(x, NULL, -3, 1, &seq), KILN_ERROR_MODEL);

    /* an empty axis without split: an empty sequence */
    kiln_tensor *e = kt_f32(KT_DIMS(0, 3), NULL);
    assert_int_equal(split(e, NULL, 0, 1, &seq), KILN_OK);
    assert_int_equal(list(seq)->n, 0);
    kn_tensor_free(seq);

    /* int64 data */
    kiln_tensor *xi = kt_i64(KT_DIMS(4), (const int64_t[]){10, 20, 30, 40});
    kiln_tensor *three = i64_scalar(3);
    assert_int_equal(split(xi, three, 0, 1, &seq), KILN_OK);
    assert_int_equal(list(seq)->n, 2);
    kt_assert_i64_equal(list(seq)->items[0], (const int64_t[]){10, 20, 30}, 3);
    kt_assert_i64_equal(list(seq)->items[1], (const int64_t[]){40}, 1);
    kn_tensor_free(seq);

    kn_tensor_free(xi);
    kn_tensor_free(three);
    kn_tensor_free(e);
    kn_tensor_free(wrong);
    kn_tensor_free(neg);
    kn_tensor_free(zero);
    kn_tensor_free(sizes);
    kn_tensor_free(two);
    kn_tensor_free(x);
}

/* ---- ConcatFromSequence ------------------------------------------------------ */

static kiln_status concat(kiln_tensor *seq, int64_t axis, int64_t new_axis, kiln_tensor **out)
{
    kt_node *n = kt_node_new("ConcatFromSequence", 11);
    kt_attr_int(n, "axis", axis);
    if (new_axis)
        kt_attr_int(n, "new_axis", new_axis);
    *out = NULL;
    kiln_status s = kt_run(n, 1, &seq, 1, out);
    kt_node_free(n);
    return s;
}

static void test_concat_from_sequence(void **state)
{
    (void)state;
    kiln_tensor *a = kt_f32(KT_DIMS(2, 1), (const float[]){1, 2});
    kiln_tensor *b = kt_f32(KT_DIMS(2, 2), (const float[]){3, 4, 5, 6});
    kiln_tensor *seq = seq_of(2, (kiln_tensor *[]){a, b}), *y;
    assert_int_equal(concat(seq, 1, 0, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, (const float[]){1, 3, 4, 2, 5, 6}, 6, 0, 0);
    kn_tensor_free(y);
    assert_int_equal(concat(seq, -1, 0, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kn_tensor_free(y);
    /* the items differ along axis 1, so not along axis 0, nor stacked */
    assert_int_equal(concat(seq, 0, 0, &y), KILN_ERROR_SHAPE);
    assert_int_equal(concat(seq, 0, 1, &y), KILN_ERROR_SHAPE);
    kn_tensor_free(seq);

    /* new_axis stacks: axis in [-rank-1, rank] of the items */
    kiln_tensor *c = kt_f32(KT_DIMS(2, 1), (const float[]){7, 8});
    seq = seq_of(2, (kiln_tensor *[]){a, c});
    assert_int_equal(concat(seq, 0, 1, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 2, 1));
    kt_assert_f32_close(y, (const float[]){1, 2, 7, 8}, 4, 0, 0);
    kn_tensor_free(y);
    assert_int_equal(concat(seq, 2, 1, &y), KILN_OK); /* == rank: a new last axis */
    kt_assert_shape(y, KT_DIMS(2, 1, 2));
    kt_assert_f32_close(y, (const float[]){1, 7, 2, 8}, 4, 0, 0);
    kn_tensor_free(y);
    assert_int_equal(concat(seq, -3, 1, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(2, 2, 1));
    kn_tensor_free(y);
    assert_int_equal(concat(seq, 3, 1, &y), KILN_ERROR_MODEL);
    assert_int_equal(concat(seq, 2, 0, &y), KILN_ERROR_MODEL);
    kn_tensor_free(seq);

    /* empty items concatenate to an empty tensor */
    kiln_tensor *e = kt_f32(KT_DIMS(0, 2), NULL);
    seq = seq_of(2, (kiln_tensor *[]){e, e});
    assert_int_equal(concat(seq, 1, 0, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(0, 4));
    kn_tensor_free(y);
    kn_tensor_free(seq);

    /* mixed dtypes */
    kiln_tensor *i = kt_i64(KT_DIMS(2, 1), NULL);
    seq = seq_of(1, &a);
    assert_int_equal(kn_list_push_copy(seq->data, i), KILN_OK);
    assert_int_equal(concat(seq, 1, 0, &y), KILN_ERROR_SHAPE);
    kn_tensor_free(seq);
    kn_tensor_free(i);
    kn_tensor_free(e);
    kn_tensor_free(a);
    kn_tensor_free(b);
    kn_tensor_free(c);
}

/* ---- type mismatches ------------------------------------------------------------ */

static void test_type_mismatches_refused(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2), NULL), *zero = i64_scalar(0), *out;
    /* a tensor where a sequence is expected */
    assert_int_equal(run1("SequenceAt", 11, 2, (kiln_tensor *[]){x, zero}, &out), KILN_ERROR_DTYPE);
    assert_non_null(strstr(kn_error_message(), "expected a sequence"));
    assert_int_equal(run1("SequenceLength", 11, 1, &x, &out), KILN_ERROR_DTYPE);
    /* an optional where a sequence is expected */
    kiln_tensor *opt;
    assert_int_equal(run1("Optional", 15, 1, &x, &opt), KILN_OK);
    assert_int_equal(run1("SequenceErase", 11, 1, &opt, &out), KILN_ERROR_DTYPE);
    /* a sequence where a tensor is expected: SplitToSequence's input, and
     * any op not written for sequences (the generic check of kn_op_infer) */
    kiln_tensor *seq = seq_of(1, &x);
    assert_int_equal(split(seq, NULL, 0, 1, &out), KILN_ERROR_DTYPE);
    kt_node *relu = kt_node_new("Relu", 14);
    const kn_op *op = kn_op_find("", "Relu", 14);
    assert_non_null(op);
    kiln_tensor desc = {0};
    kiln_tensor *outs[1] = {&desc};
    const kiln_tensor *ins[1] = {seq};
    kn_op_ctx c = {.node = kt_node_get(relu), .n_in = 1, .in = ins, .n_out = 1, .out = outs};
    assert_int_equal(kn_op_infer(op, &c), KILN_ERROR_DTYPE);
    assert_non_null(strstr(kn_error_message(), "is a sequence, expected a tensor"));
    kt_node_free(relu);
    kn_tensor_free(seq);
    kn_tensor_free(opt);
    kn_tensor_free(zero);
    kn_tensor_free(x);
}

/* ---- optionals -------------------------------------------------------------------- */

static bool has_element(kiln_tensor *x, int n_in)
{
    kiln_tensor *b;
    assert_int_equal(run1("OptionalHasElement", 18, n_in, &x, &b), KILN_OK);
    assert_int_equal(b->dtype, KILN_DTYPE_BOOL);
    assert_int_equal(b->rank, 0);
    bool r = *(uint8_t *)b->data != 0;
    kn_tensor_free(b);
    return r;
}

static void test_optionals(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2), (const float[]){1.5f, -2}), *opt, *none, *out;
    assert_int_equal(run1("Optional", 15, 1, &x, &opt), KILN_OK);
    assert_int_equal(opt->dtype, KN_DTYPE_OPTIONAL);
    assert_int_equal(list(opt)->n, 1);
    assert_int_equal(run1("Optional", 15, 0, NULL, &none), KILN_OK);
    assert_int_equal(list(none)->n, 0);

    assert_true(has_element(opt, 1));
    assert_false(has_element(none, 1));
    assert_true(has_element(x, 1));     /* opset 18: a tensor is present */
    assert_false(has_element(NULL, 0)); /* and no input is absent */

    assert_int_equal(run1("OptionalGetElement", 18, 1, &opt, &out), KILN_OK);
    kt_assert_tensors_close(out, x, 0, 0);
    kn_tensor_free(out);
    assert_int_equal(run1("OptionalGetElement", 18, 1, &x, &out), KILN_OK); /* a tensor: itself */
    kt_assert_tensors_close(out, x, 0, 0);
    kn_tensor_free(out);
    assert_int_equal(run1("OptionalGetElement", 18, 1, &none, &out), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kn_error_message(), "empty"));

    /* an optional sequence hands out the sequence */
    kiln_tensor *seq = seq_of(2, (kiln_tensor *[]){x, x}), *oseq;
    assert_int_equal(run1("Optional", 15, 1, &seq, &oseq), KILN_OK);
    assert_true(has_element(oseq, 1));
    assert_int_equal(run1("OptionalGetElement", 15, 1, &oseq, &out), KILN_OK);
    assert_int_equal(out->dtype, KN_DTYPE_SEQUENCE);
    assert_int_equal(list(out)->n, 2);
    kt_assert_tensors_close(list(out)->items[1], x, 0, 0);
    kn_tensor_free(out);
    /* no optional of an optional */
    assert_int_equal(run1("Optional", 15, 1, &opt, &out), KILN_ERROR_DTYPE);

    kn_tensor_free(seq);
    kn_tensor_free(oseq);
    kn_tensor_free(opt);
    kn_tensor_free(none);
    kn_tensor_free(x);
}

/* Deep copies: freeing a copy leaves the original intact (nested too). */
static void test_clone_is_deep(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2), (const float[]){1, 2});
    kiln_tensor *seq = seq_of(1, &x), *opt, *copy;
    assert_int_equal(run1("Optional", 15, 1, &seq, &opt), KILN_OK);
    assert_int_equal(kn_tensor_clone(opt, &copy), KILN_OK);
    const kn_list *inner = list(list(copy)->items[0]);
    assert_ptr_not_equal(inner->items[0], list(seq)->items[0]);
    kt_assert_tensors_close(inner->items[0], x, 0, 0);
    kn_tensor_free(copy);
    kt_assert_tensors_close(list(list(opt)->items[0])->items[0], x, 0, 0);
    kn_tensor_free(opt);
    kn_tensor_free(seq);
    kn_tensor_free(x);
}

/* ---- end to end ------------------------------------------------------------------- */

static void data_path(const char *name, char *buf, size_t size)
{
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(buf, size, "%s/tests/data/sequence/%s", src ? src : KILN_TEST_SOURCE_DIR, name);
}

static kiln_model *load(const char *name)
{
    char path[1024];
    data_path(name, path, sizeof path);
    kiln_model *m = NULL;
    if (kiln_model_load(path, NULL, &m) != KILN_OK)
        fail_msg("loading %s: %s", name, kiln_last_error());
    return m;
}

static void check_split_seq_outputs(kiln_tensor **out, const float *xv)
{
    assert_int_equal(kiln_tensor_kind(out[0]), KILN_VALUE_SEQUENCE);
    assert_int_equal(kiln_tensor_item_count(out[0]), 2);
    assert_null(kiln_tensor_item(out[0], 2));
    /* the public view of a sequence: its items' dtype, no elements */
    assert_int_equal(kiln_tensor_dtype(out[0]), KILN_DTYPE_FLOAT);
    assert_null(kiln_tensor_data(out[0]));
    assert_int_equal(kiln_tensor_byte_size(out[0]), 0);
    assert_int_equal(kiln_tensor_element_count(out[0]), 0);
    kt_assert_shape(kiln_tensor_item(out[0], 0), KT_DIMS(3, 1));
    kt_assert_shape(kiln_tensor_item(out[0], 1), KT_DIMS(3, 3));
    kt_assert_i64_equal(out[1], (const int64_t[]){2}, 1);
    const float relu[9] = {2, 3, 0, 6, 0, 8, 0, 0, 11}; /* columns 1..3 of x */
    kt_assert_f32_close(out[2], relu, 9, 0, 0);
    kt_assert_f32_close(out[3], xv, 12, 0, 0);
}

static void test_model_split_seq(void **state)
{
    (void)state;
    kiln_model *m = load("split_seq.onnx");
    kiln_value_kind k;
    assert_int_equal(kiln_model_output_kind(m, 0, &k), KILN_OK);
    assert_int_equal(k, KILN_VALUE_SEQUENCE);
    assert_int_equal(kiln_model_output_kind(m, 1, &k), KILN_OK);
    assert_int_equal(k, KILN_VALUE_TENSOR);
    assert_int_equal(kiln_model_input_kind(m, 0, &k), KILN_OK);
    assert_int_equal(k, KILN_VALUE_TENSOR);
    assert_int_equal(kiln_model_output_kind(m, 4, &k), KILN_ERROR_ARGUMENT);
    kiln_value_info vi;
    assert_int_equal(kiln_model_output_info(m, 0, &vi), KILN_OK);
    assert_int_equal(vi.dtype, KILN_DTYPE_UNDEFINED); /* not a tensor: the kind says what it is */

    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    const float xv[12] = {-1, 2, 3, -4, 5, 6, -7, 8, -9, -10, -11, 11};
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), xv);
    const char *names[1] = {"x"};
    kiln_tensor *out[4] = {0};
    /* kiln_context_run returns tensors only */
    assert_int_equal(kiln_context_run(ctx, 1, names, (const kiln_tensor *const *)&x, 4, NULL, out),
                     KILN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(kiln_last_error(), "output 'seq' is a sequence"));
    for (int i = 0; i < 4; i++)
        assert_null(out[i]);
    /* a tensor-only request still works */
    const char *tensor_outs[1] = {"cat"};
    assert_int_equal(kiln_context_run(ctx, 1, names, (const kiln_tensor *const *)&x, 1, tensor_outs, out), KILN_OK);
    kt_assert_f32_close(out[0], xv, 12, 0, 0);
    kiln_tensor_release(out[0]);
    out[0] = NULL;
    /* twice through one plan: the sequence is made per run */
    for (int run = 0; run < 2; run++) {
        assert_int_equal(kiln_context_run_values(ctx, 1, names, (const kiln_tensor *const *)&x, 4, NULL, out),
                         KILN_OK);
        check_split_seq_outputs(out, xv);
        for (int i = 0; i < 4; i++) {
            kiln_tensor_release(out[i]);
            out[i] = NULL;
        }
    }
    /* a caller tensor cannot receive a sequence */
    kiln_tensor *mine = kt_f32(KT_DIMS(1), NULL);
    const char *seq_out[1] = {"seq"};
    assert_int_equal(kiln_context_run_values(ctx, 1, names, (const kiln_tensor *const *)&x, 1, seq_out, &mine),
                     KILN_ERROR_ARGUMENT);
    kiln_tensor_release(mine);
    kn_tensor_free(x);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

/* kiln_model_save writes sequence types back (not as tensors of an internal
 * dtype): the saved model loads and runs the same. */
static void test_model_save_round_trip(void **state)
{
    (void)state;
    kiln_model *m = load("split_seq.onnx");
    char path[] = "/tmp/kiln_test_sequence_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(kiln_model_save(m, path), KILN_OK);
    kiln_model_release(m);
    m = NULL;
    kiln_status s = kiln_model_load(path, NULL, &m);
    unlink(path);
    if (s != KILN_OK)
        fail_msg("reloading the saved model: %s", kiln_last_error());
    kiln_value_kind k;
    assert_int_equal(kiln_model_output_kind(m, 0, &k), KILN_OK);
    assert_int_equal(k, KILN_VALUE_SEQUENCE);
    int v = m->outputs[0].value;
    assert_int_equal(m->graph->values[v].item_dtype, KILN_DTYPE_FLOAT);
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    const float xv[12] = {-1, 2, 3, -4, 5, 6, -7, 8, -9, -10, -11, 11};
    kiln_tensor *x = kt_f32(KT_DIMS(3, 4), xv), *out[4] = {0};
    assert_int_equal(
        kiln_context_run_values(ctx, 1, (const char *[]){"x"}, (const kiln_tensor *const *)&x, 4, NULL, out), KILN_OK);
    check_split_seq_outputs(out, xv);
    for (int i = 0; i < 4; i++)
        kiln_tensor_release(out[i]);
    kn_tensor_free(x);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

static void test_model_sequence_input(void **state)
{
    (void)state;
    kiln_model *m = load("seq_in.onnx");
    kiln_value_kind k;
    assert_int_equal(kiln_model_input_kind(m, 0, &k), KILN_OK);
    assert_int_equal(k, KILN_VALUE_SEQUENCE);
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    abc t = make_abc();
    kiln_tensor *seq = seq_of(3, (kiln_tensor *[]){t.a, t.b, t.c});
    const char *names[2] = {"s", "pos"};
    const int64_t pos[] = {-1, 0, 1};
    kiln_tensor *want[] = {t.c, t.a, t.b};
    for (int i = 0; i < 3; i++) {
        kiln_tensor *p = i64_scalar(pos[i]), *y = NULL;
        const kiln_tensor *in[2] = {seq, p};
        assert_int_equal(kiln_context_run(ctx, 2, names, in, 1, NULL, &y), KILN_OK);
        kt_assert_tensors_close(y, want[i], 0, 0);
        kiln_tensor_release(y);
        kn_tensor_free(p);
    }
    kiln_tensor *p = i64_scalar(3), *y = NULL;
    const kiln_tensor *in[2] = {seq, p};
    assert_int_equal(kiln_context_run(ctx, 2, names, in, 1, NULL, &y), KILN_ERROR_ARGUMENT);
    assert_null(y);
    /* a tensor where the model declares a sequence */
    in[0] = t.a;
    assert_int_equal(kiln_context_run(ctx, 2, names, in, 1, NULL, &y), KILN_ERROR_DTYPE);
    assert_non_null(strstr(kiln_last_error(), "expects sequence"));
    kn_tensor_free(p);
    kn_tensor_free(seq);
    free_abc(&t);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

/* SequenceMap through the loader: the body reads w of the main graph
 * (a hidden input of the node), takes k whole and s, t item by item. */
static void test_model_sequence_map(void **state)
{
    (void)state;
    kiln_model *m = load("seq_map.onnx");
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    kiln_tensor *s1 = kt_f32(KT_DIMS(2), (const float[]){1, 2}), *s2 = kt_f32(KT_DIMS(1), (const float[]){3});
    kiln_tensor *t1 = kt_f32(KT_DIMS(2), (const float[]){10, 20}), *t2 = kt_f32(KT_DIMS(1), (const float[]){30});
    kiln_tensor *k = kt_f32(KT_DIMS(1), (const float[]){2});
    kiln_tensor *s, *t, *out[2] = {0};
    assert_int_equal(kiln_sequence_create(KILN_DTYPE_UNDEFINED, 2, (const kiln_tensor *[]){s1, s2}, &s), KILN_OK);
    assert_int_equal(kiln_sequence_create(KILN_DTYPE_FLOAT, 2, (const kiln_tensor *[]){t1, t2}, &t), KILN_OK);
    const char *names[3] = {"s", "k", "t"};
    const kiln_tensor *in[3] = {s, k, t};
    assert_int_equal(kiln_context_run_values(ctx, 3, names, in, 2, NULL, out), KILN_OK);
    assert_int_equal(kiln_tensor_item_count(out[0]), 2);
    kt_assert_f32_close(kiln_tensor_item(out[0], 0), (const float[]){19, 30}, 2, 0, 0); /* s + t + k * k * k */
    kt_assert_f32_close(kiln_tensor_item(out[0], 1), (const float[]){41}, 1, 0, 0);
    kt_assert_i64_equal(kiln_tensor_item(out[1], 0), (const int64_t[]){2}, 1);
    kt_assert_i64_equal(kiln_tensor_item(out[1], 1), (const int64_t[]){1}, 1);
    for (int i = 0; i < 2; i++) {
        kiln_tensor_release(out[i]);
        out[i] = NULL;
    }

    /* empty sequences: no iteration, empty outputs typed from the body */
    kiln_tensor *e1, *e2;
    assert_int_equal(kiln_sequence_create(KILN_DTYPE_FLOAT, 0, NULL, &e1), KILN_OK);
    assert_int_equal(kiln_sequence_create(KILN_DTYPE_FLOAT, 0, NULL, &e2), KILN_OK);
    in[0] = e1;
    in[2] = e2;
    assert_int_equal(kiln_context_run_values(ctx, 3, names, in, 2, NULL, out), KILN_OK);
    assert_int_equal(kiln_tensor_item_count(out[0]), 0);
    assert_int_equal(kiln_tensor_dtype(out[0]), KILN_DTYPE_FLOAT);
    assert_int_equal(kiln_tensor_dtype(out[1]), KILN_DTYPE_INT64);
    for (int i = 0; i < 2; i++) {
        kiln_tensor_release(out[i]);
        out[i] = NULL;
    }

    /* sequences of different lengths */
    in[0] = s;
    assert_int_equal(kiln_context_run_values(ctx, 3, names, in, 2, NULL, out), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kiln_last_error(), "SequenceMap"));
    assert_null(out[0]);

    kiln_tensor *objs[] = {s1, s2, t1, t2, k, s, t, e1, e2};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        kiln_tensor_release(objs[i]);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

/* kiln_sequence_create / kiln_optional_create check what they are given. */
static void test_public_constructors(void **state)
{
    (void)state;
    kiln_tensor *f = kt_f32(KT_DIMS(2), (const float[]){1, 2}), *i = kt_i64(KT_DIMS(1), NULL), *s = NULL, *o = NULL;
    assert_int_equal(kiln_sequence_create(KILN_DTYPE_UNDEFINED, 2, (const kiln_tensor *[]){f, i}, &s),
                     KILN_ERROR_DTYPE);
    assert_int_equal(kiln_sequence_create(KILN_DTYPE_INT64, 1, (const kiln_tensor *[]){f}, &s), KILN_ERROR_DTYPE);
    assert_int_equal(kiln_sequence_create(KILN_DTYPE_FLOAT, 1, (const kiln_tensor *[]){NULL}, &s),
                     KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_sequence_create((kiln_dtype)999, 0, NULL, &s), KILN_ERROR_DTYPE);
    assert_null(s);
    assert_int_equal(kiln_sequence_create(KILN_DTYPE_UNDEFINED, 1, (const kiln_tensor *[]){f}, &s), KILN_OK);
    /* no sequence of sequences */
    kiln_tensor *nested = NULL;
    assert_int_equal(kiln_sequence_create(KILN_DTYPE_UNDEFINED, 1, (const kiln_tensor *[]){s}, &nested),
                     KILN_ERROR_DTYPE);
    /* an optional of a sequence; none of an optional */
    assert_int_equal(kiln_optional_create(s, &o), KILN_OK);
    assert_int_equal(kiln_tensor_kind(o), KILN_VALUE_OPTIONAL);
    assert_int_equal(kiln_tensor_kind(kiln_tensor_item(o, 0)), KILN_VALUE_SEQUENCE);
    assert_int_equal(kiln_tensor_dtype(o), KILN_DTYPE_UNDEFINED); /* holds a sequence, not tensors */
    kiln_tensor *oo = NULL;
    assert_int_equal(kiln_optional_create(o, &oo), KILN_ERROR_DTYPE);
    kiln_tensor_release(o);
    assert_int_equal(kiln_optional_create(NULL, &o), KILN_OK);
    assert_int_equal(kiln_tensor_item_count(o), 0);
    kiln_tensor_release(o);
    /* tensors are of kind tensor, with no items */
    assert_int_equal(kiln_tensor_kind(f), KILN_VALUE_TENSOR);
    assert_int_equal(kiln_tensor_item_count(f), 0);
    assert_null(kiln_tensor_item(f, 0));
    kiln_tensor_release(s);
    kiln_tensor_release(f);
    kiln_tensor_release(i);
}

static void test_model_tensor_op_on_sequence_refused(void **state)
{
    (void)state;
    kiln_model *m = load("relu_on_seq.onnx");
    kiln_context *ctx;
    assert_int_equal(kiln_context_create(m, &ctx), KILN_OK);
    kiln_tensor *x = kt_f32(KT_DIMS(2), NULL), *y = NULL;
    assert_int_equal(kiln_context_run(ctx, 1, (const char *[]){"x"}, (const kiln_tensor *const *)&x, 1, NULL, &y),
                     KILN_ERROR_DTYPE);
    assert_non_null(strstr(kiln_last_error(), "Relu"));
    assert_null(y);
    kn_tensor_free(x);
    kiln_context_release(ctx);
    kiln_model_release(m);
}

/* Every allocation of load, plan and run of split_seq failing in turn:
 * NOMEM each time (no crash, no leak under valgrind), then the same
 * results. */
static kiln_status load_and_run_split_seq(const float *xv, kiln_tensor **out)
{
    char path[1024];
    data_path("split_seq.onnx", path, sizeof path);
    kiln_model *m = NULL;
    kiln_context *ctx = NULL;
    kiln_tensor *x = NULL;
    kiln_status s = kiln_model_load(path, NULL, &m);
    if (s == KILN_OK)
        s = kiln_context_create(m, &ctx);
    if (s == KILN_OK)
        s = kiln_tensor_create(KILN_DTYPE_FLOAT, 2, (const int64_t[]){3, 4}, &x);
    if (s == KILN_OK) {
        memcpy(kiln_tensor_data(x), xv, 12 * sizeof *xv);
        for (int i = 0; i < 4; i++)
            out[i] = NULL;
        s = kiln_context_run_values(ctx, 1, (const char *[]){"x"}, (const kiln_tensor *const *)&x, 4, NULL, out);
    }
    kiln_tensor_release(x);
    kiln_context_release(ctx);
    kiln_model_release(m);
    return s;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    const float xv[12] = {-1, 2, 3, -4, 5, 6, -7, 8, -9, -10, -11, 11};
    kiln_tensor *got[4];
    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
        kn_alloc_fail_at(nth);
        kiln_status s = load_and_run_split_seq(xv, got);
        bool injected = kn_alloc_count() >= nth;
        kn_alloc_fail_at(0);
        if (s == KILN_OK) {
            check_split_seq_outputs(got, xv);
            for (int i = 0; i < 4; i++)
                kiln_tensor_release(got[i]);
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
    assert_true(failures > 20);
}

/* ---- SequenceProto / OptionalProto files ----------------------------------------- */

static void test_read_value_files(void **state)
{
    (void)state;
    char path[1024];
    kiln_tensor *v = NULL;
    data_path("seq_int64.pb", path, sizeof path);
    assert_int_equal(kiln_value_read_file(path, KILN_VALUE_SEQUENCE, &v), KILN_OK);
    assert_int_equal(kiln_tensor_kind(v), KILN_VALUE_SEQUENCE);
    assert_int_equal(kiln_tensor_item_count(v), 2);
    assert_int_equal(kiln_tensor_dtype(v), KILN_DTYPE_INT64);
    kt_assert_i64_equal(kiln_tensor_item(v, 0), (const int64_t[]){1, 2, 3}, 3);
    kt_assert_shape(kiln_tensor_item(v, 1), KT_DIMS(2, 1));
    kiln_tensor_release(v);

    data_path("opt_seq.pb", path, sizeof path);
    assert_int_equal(kiln_value_read_file(path, KILN_VALUE_OPTIONAL, &v), KILN_OK);
    assert_int_equal(kiln_tensor_kind(v), KILN_VALUE_OPTIONAL);
    assert_int_equal(kiln_tensor_item_count(v), 1);
    const kiln_tensor *inner = kiln_tensor_item(v, 0);
    assert_int_equal(kiln_tensor_kind(inner), KILN_VALUE_SEQUENCE);
    kt_assert_f32_close(kiln_tensor_item(inner, 0), (const float[]){0.5f, -1.5f}, 2, 0, 0);
    kiln_tensor_release(v);
}

/* Hostile bytes: truncated fields, nesting kiln does not take, two values
 * in an optional. */
static void test_read_value_bytes_refused(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[24];
        size_t n;
        kiln_dtype kind;
        kiln_status want;
    } cases[] = {
        {{0x1a, 0x05}, 2, KN_DTYPE_SEQUENCE, KILN_ERROR_PARSE},          /* tensor field cut short */
        {{0x10}, 1, KN_DTYPE_SEQUENCE, KILN_ERROR_PARSE},                /* varint missing */
        {{0x2a, 0x00}, 2, KN_DTYPE_SEQUENCE, KILN_ERROR_UNSUPPORTED},    /* a sequence in a sequence */
        {{0x3a, 0x00}, 2, KN_DTYPE_OPTIONAL, KILN_ERROR_UNSUPPORTED},    /* an optional in an optional */
        {{0x32, 0x00}, 2, KN_DTYPE_SEQUENCE, KILN_ERROR_UNSUPPORTED},    /* a map */
        {{0x10, 0x04}, 2, KN_DTYPE_SEQUENCE, KILN_ERROR_UNSUPPORTED},    /* elem_type MAP */
        {{0x1a, 0x00}, 2, KN_DTYPE_SEQUENCE, KILN_ERROR_PARSE},          /* a TensorProto without dtype */
        /* two float scalars (data_type 1, raw_data 4 bytes) in one optional */
        {{0x1a, 8, 0x10, 1, 0x4a, 4, 0, 0, 0, 0, 0x1a, 8, 0x10, 1, 0x4a, 4, 0, 0, 0, 0}, 20, KN_DTYPE_OPTIONAL,
         KILN_ERROR_PARSE},
        {{0x0b}, 1, KN_DTYPE_SEQUENCE, KILN_ERROR_PARSE},                /* wire type 3 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_tensor *v = NULL;
        kiln_status s = kn_value_decode(cases[i].bytes, cases[i].n, cases[i].kind, NULL, "bytes", &v);
        if (s != cases[i].want)
            fail_msg("case %zu: status %d (%s), expected %d", i, (int)s, kn_error_message(), (int)cases[i].want);
        assert_null(v);
    }
    /* empty bytes are an empty sequence / an empty optional */
    kiln_tensor *v = NULL;
    assert_int_equal(kn_value_decode(NULL, 0, KN_DTYPE_OPTIONAL, NULL, "empty", &v), KILN_OK);
    assert_int_equal(kiln_tensor_item_count(v), 0);
    kn_tensor_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_construct_at_length),
        cmocka_unit_test(test_at_out_of_range_refused),
        cmocka_unit_test(test_construct_mixed_dtypes_refused),
        cmocka_unit_test(test_empty_sequences),
        cmocka_unit_test(test_insert_positions),
        cmocka_unit_test(test_erase_positions),
        cmocka_unit_test(test_sequence_element_limit),
        cmocka_unit_test(test_split_to_sequence),
        cmocka_unit_test(test_concat_from_sequence),
        cmocka_unit_test(test_type_mismatches_refused),
        cmocka_unit_test(test_optionals),
        cmocka_unit_test(test_clone_is_deep),
        cmocka_unit_test(test_model_split_seq),
        cmocka_unit_test(test_model_save_round_trip),
        cmocka_unit_test(test_model_sequence_input),
        cmocka_unit_test(test_model_sequence_map),
        cmocka_unit_test(test_public_constructors),
        cmocka_unit_test(test_model_tensor_op_on_sequence_refused),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_read_value_files),
        cmocka_unit_test(test_read_value_bytes_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
