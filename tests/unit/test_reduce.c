/* Reduce* and ArgMax/ArgMin: axes as attribute and as input, keepdims,
 * noop_with_empty_axes, negative axes, empty reduce sets, dtypes, errors. */
#include "harness.h"

#include <math.h>

enum { SUM, MEAN, MAX, MIN, PROD, L1, L2, LOGSUM, LOGSUMEXP, SUMSQ, N_OPS };
static const char *names[N_OPS] = {"ReduceSum", "ReduceMean", "ReduceMax",    "ReduceMin",       "ReduceProd",
                                   "ReduceL1",  "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};

/* Brute force: each input element folds into the output slot its kept
 * coordinates select. */
static void reference(int op, const kiln_tensor *x, const bool *mask, double *out, int64_t n_out)
{
    double *acc = calloc((size_t)n_out + 1, sizeof(double)), *cnt = calloc((size_t)n_out + 1, sizeof(double));
    for (int64_t o = 0; o < n_out; o++)
        acc[o] = op == PROD ? 1 : op == MAX ? -INFINITY : op == MIN ? INFINITY : 0;
    const float *d = x->data;
    int64_t total = kn_tensor_count(x);
    for (int64_t e = 0; e < total; e++) {
        int64_t rem = e, slot = 0, mul = 1;
        for (int k = x->rank - 1; k >= 0; k--) {
            int64_t i = rem % x->dims[k];
            rem /= x->dims[k];
            if (!mask[k]) {
                slot += i * mul;
                mul *= x->dims[k];
            }
        }
        double v = d[e];
        cnt[slot] += 1;
        switch (op) {
        case SUM: case MEAN: case LOGSUM: acc[slot] += v; break;
        case MAX: acc[slot] = fmax(acc[slot], v); break;
        case MIN: acc[slot] = fmin(acc[slot], v); break;
        case PROD: acc[slot] *= v; break;
        case L1: acc[slot] += fabs(v); break;
        case L2: case SUMSQ: acc[slot] += v * v; break;
        case LOGSUMEXP: acc[slot] += exp(v); break;
        }
    }
    for (int64_t o = 0; o < n_out; o++) {
        double v = acc[o];
        out[o] = op == MEAN ? v / cnt[o] : op == L2 ? sqrt(v) : op == LOGSUM || op == LOGSUMEXP ? log(v) : v;
    }
    free(acc);
    free(cnt);
}

/* Run op with axes as attribute (old opset) or input (new opset). */
static kiln_status run_reduce(int op, bool as_input, const int64_t *axes, size_t n_axes, int keepdims, int noop,
                              kiln_tensor *x, kiln_tensor **y)
{
    int new_opset = op == SUM ? 13 : 18;
    kt_node *n = kt_node_new(names[op], as_input ? new_opset : new_opset - 1);
    if (keepdims >= 0)
        kt_attr_int(n, "keepdims", keepdims);
    if (noop >= 0)
        kt_attr_int(n, "noop_with_empty_axes", noop);
    kiln_tensor *ax = NULL;
    if (as_input && axes)
        ax = kt_i64(1, (int64_t[]){(int64_t)n_axes}, axes);
    else if (!as_input && axes)
        kt_attr_ints(n, "axes", axes, n_axes);
    kiln_status s = kt_run(n, ax ? 2 : 1, (kiln_tensor *[]){x, ax}, 1, y);
    kn_tensor_free(ax);
    kt_node_free(n);
    return s;
}

static void check_all_ops(int rank, const int64_t *dims, const int64_t *axes, size_t n_axes, int keepdims)
{
    kiln_tensor *x = kt_f32_random(rank, dims, 77, 0.25f, 2.0f);
    bool mask[KN_MAX_RANK];
    for (int i = 0; i < rank; i++)
        mask[i] = n_axes == 0;
    for (size_t i = 0; i < n_axes; i++)
        mask[axes[i] < 0 ? axes[i] + rank : axes[i]] = true;
    int64_t ydims[KN_MAX_RANK], n_out = 1;
    int yr = 0;
    for (int i = 0; i < rank; i++) {
        if (!mask[i]) {
            ydims[yr++] = dims[i];
            n_out *= dims[i];
        } else if (keepdims) {
            ydims[yr++] = 1;
        }
    }
    double *want = malloc(sizeof(double) * (size_t)(n_out + 1));
    float *wantf = malloc(sizeof(float) * (size_t)(n_out + 1));
    for (int op = 0; op < N_OPS; op++) {
        reference(op, x, mask, want, n_out);
        for (int64_t i = 0; i < n_out; i++)
            wantf[i] = (float)want[i];
        for (int as_input = 0; as_input < 2; as_input++) {
            kiln_tensor *y[1];
            assert_int_equal(run_reduce(op, as_input, n_axes ? axes : NULL, n_axes, keepdims, -1, x, y), KILN_OK);
            kt_assert_shape(y[0], yr, ydims);
            kt_assert_f32_close(y[0], wantf, n_out, 1e-5, 1e-6);
            kn_tensor_free(y[0]);
        }
    }
    free(want);
    free(wantf);
    kn_tensor_free(x);
}

static void test_reduce_axes_combinations(void **state)
{
    (void)state;
    check_all_ops(KT_DIMS(3, 2, 2), (int64_t[]){1}, 1, 1);
    check_all_ops(KT_DIMS(3, 2, 2), (int64_t[]){1}, 1, 0);
    check_all_ops(KT_DIMS(3, 2, 2), (int64_t[]){-2}, 1, 1);
    check_all_ops(KT_DIMS(3, 2, 2), NULL, 0, 1);
    check_all_ops(KT_DIMS(3, 2, 2), NULL, 0, 0);
    check_all_ops(KT_DIMS(3, 4, 5), (int64_t[]){2, 1}, 2, 0);
    check_all_ops(KT_DIMS(3, 4, 5), (int64_t[]){0, 2}, 2, 1);
    check_all_ops(KT_DIMS(2, 1, 3, 17, 5), (int64_t[]){0, -2}, 2, 1);
    check_all_ops(KT_DIMS(2, 3, 300), (int64_t[]){2}, 1, 0); /* spans longer than the gather buffer */
    check_all_ops(KT_DIMS(600, 3), (int64_t[]){0}, 1, 0);
    check_all_ops(0, NULL, NULL, 0, 1); /* scalar */
}

static void test_reduce_hand_computed(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    kiln_tensor *y[1];
    assert_int_equal(run_reduce(SUM, true, (int64_t[]){1}, 1, 0, -1, x, y), KILN_OK);
    kt_assert_f32_close(y[0], (float[]){6, 15}, 2, 0, 0);
    kn_tensor_free(y[0]);
    assert_int_equal(run_reduce(MEAN, false, (int64_t[]){0}, 1, 1, -1, x, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(1, 3));
    kt_assert_f32_close(y[0], (float[]){2.5f, 3.5f, 4.5f}, 3, 0, 0);
    kn_tensor_free(y[0]);
    assert_int_equal(run_reduce(PROD, true, NULL, 0, 1, -1, x, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(1, 1));
    kt_assert_f32_close(y[0], (float[]){720}, 1, 0, 0);
    kn_tensor_free(y[0]);
    kn_tensor_free(x);
}

static void test_noop_with_empty_axes(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 2), (float[]){1, -2, 3, -4});
    kiln_tensor *y[1];
    /* empty axes input + noop: identity */
    assert_int_equal(run_reduce(SUM, true, (int64_t[]){0}, 0, 1, 1, x, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(2, 2));
    kt_assert_f32_close(y[0], (float[]){1, -2, 3, -4}, 4, 0, 0);
    kn_tensor_free(y[0]);
    /* omitted axes + noop: identity too */
    assert_int_equal(run_reduce(L1, true, NULL, 0, 1, 1, x, y), KILN_OK);
    kt_assert_f32_close(y[0], (float[]){1, -2, 3, -4}, 4, 0, 0);
    kn_tensor_free(y[0]);
    /* empty axes without noop: reduce all */
    assert_int_equal(run_reduce(L1, true, (int64_t[]){0}, 0, 0, 0, x, y), KILN_OK);
    kt_assert_shape(y[0], 0, NULL);
    kt_assert_f32_close(y[0], (float[]){10}, 1, 0, 0);
    kn_tensor_free(y[0]);
    kn_tensor_free(x);
}

static void test_empty_reduce_set(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 0, 4), NULL);
    const float want[N_OPS] = {0, NAN, -INFINITY, INFINITY, 1, 0, 0, -INFINITY, -INFINITY, 0};
    for (int op = 0; op < N_OPS; op++) {
        kiln_tensor *y[1];
        assert_int_equal(run_reduce(op, true, (int64_t[]){1}, 1, 1, -1, x, y), KILN_OK);
        kt_assert_shape(y[0], KT_DIMS(2, 1, 4));
        float w[8];
        for (int i = 0; i < 8; i++)
            w[i] = want[op];
        kt_assert_f32_close(y[0], w, 8, 0, 0);
        kn_tensor_free(y[0]);
    }
    /* a kept zero dim: the output is empty */
    kiln_tensor *y[1];
    assert_int_equal(run_reduce(SUM, true, (int64_t[]){2}, 1, 1, -1, x, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(2, 0, 1));
    kn_tensor_free(y[0]);
    kn_tensor_free(x);
}

static void test_integer_and_bool_dtypes(void **state)
{
    (void)state;
    kiln_tensor *x = kt_i64(KT_DIMS(2, 3), (int64_t[]){1, -7, 3, 4000000000LL, 5, 6});
    kiln_tensor *y[1];
    assert_int_equal(run_reduce(SUM, true, (int64_t[]){1}, 1, 0, -1, x, y), KILN_OK);
    kt_assert_i64_equal(y[0], (int64_t[]){-3, 4000000011LL}, 2);
    kn_tensor_free(y[0]);
    assert_int_equal(run_reduce(MIN, true, (int64_t[]){-1}, 1, 0, -1, x, y), KILN_OK);
    kt_assert_i64_equal(y[0], (int64_t[]){-7, 5}, 2);
    kn_tensor_free(y[0]);
    assert_int_equal(run_reduce(MEAN, true, (int64_t[]){1}, 1, 0, -1, x, y), KILN_OK);
    kt_assert_i64_equal(y[0], (int64_t[]){-1, 1333333337LL}, 2);
    kn_tensor_free(y[0]);
    kn_tensor_free(x);
    kiln_tensor *xi = kt_i32(KT_DIMS(3), (int32_t[]){3, 4, 0});
    assert_int_equal(run_reduce(L2, true, NULL, 0, 0, -1, xi, y), KILN_OK);
    assert_int_equal(y[0]->dtype, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y[0], (int64_t[]){5}, 1);
    kn_tensor_free(y[0]);
    assert_int_equal(run_reduce(SUMSQ, true, NULL, 0, 0, -1, xi, y), KILN_OK);
    kt_assert_i64_equal(y[0], (int64_t[]){25}, 1);
    kn_tensor_free(y[0]);
    kn_tensor_free(xi);
    kiln_tensor *b = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2, 2), (uint8_t[]){1, 0, 1, 1});
    assert_int_equal(run_reduce(MAX, true, (int64_t[]){1}, 1, 1, -1, b, y), KILN_OK);
    assert_int_equal(y[0]->dtype, KILN_DTYPE_BOOL);
    kt_assert_i64_equal(y[0], (int64_t[]){1, 1}, 2);
    kn_tensor_free(y[0]);
    assert_int_equal(run_reduce(MIN, true, (int64_t[]){1}, 1, 1, -1, b, y), KILN_OK);
    kt_assert_i64_equal(y[0], (int64_t[]){0, 1}, 2);
    kn_tensor_free(y[0]);
    assert_int_equal(run_reduce(SUM, true, (int64_t[]){1}, 1, 1, -1, b, y), KILN_ERROR_DTYPE);
    kn_tensor_free(b);
    kiln_tensor *d = kt_tensor(KILN_DTYPE_DOUBLE, KT_DIMS(3), (double[]){1000, 1000, 1000});
    assert_int_equal(run_reduce(LOGSUMEXP, true, NULL, 0, 0, -1, d, y), KILN_OK);
    kiln_tensor *w = kt_tensor(KILN_DTYPE_DOUBLE, 0, NULL, (double[]){1000 + log(3.0)});
    kt_assert_tensors_close(y[0], w, 1e-15, 0);
    kn_tensor_free(y[0]);
    kn_tensor_free(w);
    kn_tensor_free(d);
}

static void test_threads_match(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32_random(KT_DIMS(8, 64, 300), 4, -1, 1);
    kiln_tensor *ax = kt_i64(KT_DIMS(2), (int64_t[]){0, 2});
    kt_node *n = kt_node_new("ReduceMean", 18);
    kiln_tensor *a[1], *b[1];
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 0, 2, (kiln_tensor *[]){x, ax}, 1, a), KILN_OK);
    assert_int_equal(kt_run_ex(n, KN_ISA_GENERIC, 2, 2, (kiln_tensor *[]){x, ax}, 1, b), KILN_OK);
    assert_memory_equal(a[0]->data, b[0]->data, a[0]->nbytes);
    kn_tensor_free(a[0]);
    kn_tensor_free(b[0]);
    kt_node_free(n);
    kn_tensor_free(ax);
    kn_tensor_free(x);
}

static void test_reduce_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 3), NULL), *y[1];
    assert_int_equal(run_reduce(SUM, true, (int64_t[]){2}, 1, 1, -1, x, y), KILN_ERROR_MODEL);
    assert_int_equal(run_reduce(MAX, false, (int64_t[]){-3}, 1, 1, -1, x, y), KILN_ERROR_MODEL);
    /* axes as an attribute where it must be an input */
    kt_node *n = kt_node_new("ReduceMean", 18);
    kt_attr_ints(n, "axes", (int64_t[]){0}, 1);
    assert_int_equal(kt_run(n, 1, (kiln_tensor *[]){x}, 1, y), KILN_ERROR_MODEL);
    assert_non_null(strstr(kn_error_message(), "axes"));
    kt_node_free(n);
    /* an axes input where it must be an attribute */
    kiln_tensor *ax = kt_i64(KT_DIMS(1), (int64_t[]){0});
    n = kt_node_new("ReduceMean", 13);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, ax}, 1, y), KILN_ERROR_MODEL);
    kt_node_free(n);
    kiln_tensor *fax = kt_f32(KT_DIMS(1), NULL);
    n = kt_node_new("ReduceSum", 13);
    assert_int_equal(kt_run(n, 2, (kiln_tensor *[]){x, fax}, 1, y), KILN_ERROR_DTYPE);
    kt_node_free(n);
    kn_tensor_free(fax);
    kn_tensor_free(ax);
    kn_tensor_free(x);
}

/* ---- ArgMax / ArgMin -------------------------------------------------- */

static kiln_status run_arg(const char *op, int64_t axis, int keepdims, int last, kiln_tensor *x, kiln_tensor **y)
{
    kt_node *n = kt_node_new(op, 13);
    if (axis != 99)
        kt_attr_int(n, "axis", axis);
    if (keepdims >= 0)
        kt_attr_int(n, "keepdims", keepdims);
    if (last >= 0)
        kt_attr_int(n, "select_last_index", last);
    kiln_status s = kt_run(n, 1, (kiln_tensor *[]){x}, 1, y);
    kt_node_free(n);
    return s;
}

static void test_argmax_argmin(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 3), (float[]){2, 1, 2, 0, 5, 5}), *y[1];
    assert_int_equal(run_arg("ArgMax", 99, -1, -1, x, y), KILN_OK); /* axis 0, keepdims */
    kt_assert_shape(y[0], KT_DIMS(1, 3));
    assert_int_equal(y[0]->dtype, KILN_DTYPE_INT64);
    kt_assert_i64_equal(y[0], (int64_t[]){0, 1, 1}, 3);
    kn_tensor_free(y[0]);
    assert_int_equal(run_arg("ArgMax", -1, 0, -1, x, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(2));
    kt_assert_i64_equal(y[0], (int64_t[]){0, 1}, 2);
    kn_tensor_free(y[0]);
    assert_int_equal(run_arg("ArgMax", 1, 0, 1, x, y), KILN_OK);
    kt_assert_i64_equal(y[0], (int64_t[]){2, 2}, 2);
    kn_tensor_free(y[0]);
    assert_int_equal(run_arg("ArgMin", 1, 1, 0, x, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(2, 1));
    kt_assert_i64_equal(y[0], (int64_t[]){1, 0}, 2);
    kn_tensor_free(y[0]);
    assert_int_equal(run_arg("ArgMin", 0, 0, 1, x, y), KILN_OK);
    kt_assert_i64_equal(y[0], (int64_t[]){1, 0, 0}, 3);
    kn_tensor_free(y[0]);
    kn_tensor_free(x);
    kiln_tensor *xi = kt_i32(KT_DIMS(2, 2, 2), (int32_t[]){1, 9, 9, 1, -3, -3, -4, 0});
    assert_int_equal(run_arg("ArgMax", 1, 0, -1, xi, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(2, 2));
    kt_assert_i64_equal(y[0], (int64_t[]){1, 0, 0, 1}, 4);
    kn_tensor_free(y[0]);
    kn_tensor_free(xi);
    /* long axis across gather spans */
    kiln_tensor *lng = kt_f32_random(KT_DIMS(2, 700), 9, -1, 1);
    ((float *)lng->data)[600] = 5.0f;
    ((float *)lng->data)[700 + 333] = -5.0f;
    assert_int_equal(run_arg("ArgMax", 1, 0, -1, lng, y), KILN_OK);
    assert_int_equal(((int64_t *)y[0]->data)[0], 600);
    kn_tensor_free(y[0]);
    assert_int_equal(run_arg("ArgMin", 1, 0, -1, lng, y), KILN_OK);
    assert_int_equal(((int64_t *)y[0]->data)[1], 333);
    kn_tensor_free(y[0]);
    kn_tensor_free(lng);
}

static void test_arg_errors(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 0), NULL), *y[1];
    assert_int_equal(run_arg("ArgMax", 1, 1, 0, x, y), KILN_ERROR_SHAPE);
    assert_int_equal(run_arg("ArgMax", 2, 1, 0, x, y), KILN_ERROR_MODEL);
    kiln_tensor *b = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), NULL);
    assert_int_equal(run_arg("ArgMin", 0, 1, 0, b, y), KILN_ERROR_DTYPE);
    kn_tensor_free(b);
    kn_tensor_free(x);
}

/* ArgMax/ArgMin: negative axes, default axis 0 and keepdims 1, empty
 * tensors in the dims kept. */
static void test_arg_edge_cases(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 2, 3), (float[]){0, 5, 1, 7, 2, 2, 9, 9, 3, 1, 8, 4}), *y[1];
    assert_int_equal(run_arg("ArgMax", -2, -1, -1, x, y), KILN_OK); /* keepdims defaults to 1 */
    kt_assert_shape(y[0], KT_DIMS(2, 1, 3));
    kt_assert_i64_equal(y[0], (int64_t[]){1, 0, 1, 0, 0, 1}, 6);
    kn_tensor_free(y[0]);
    assert_int_equal(run_arg("ArgMin", -3, 0, -1, x, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(2, 3));
    kt_assert_i64_equal(y[0], (int64_t[]){0, 0, 0, 1, 0, 0}, 6);
    kn_tensor_free(y[0]);
    assert_int_equal(run_arg("ArgMax", -1, 0, 1, x, y), KILN_OK); /* last of the tied 9s and 2s */
    kt_assert_i64_equal(y[0], (int64_t[]){1, 0, 1, 1}, 4);
    kn_tensor_free(y[0]);
    assert_int_equal(run_arg("ArgMax", -4, 0, -1, x, y), KILN_ERROR_MODEL);
    kn_tensor_free(x);
    /* empty outside the axis: an empty result */
    kiln_tensor *e = kt_f32(KT_DIMS(0, 3), NULL);
    assert_int_equal(run_arg("ArgMax", 1, 1, -1, e, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(0, 1));
    kn_tensor_free(y[0]);
    kn_tensor_free(e);
    /* a scalar has no axis to reduce */
    kiln_tensor *s = kt_f32(0, NULL, (float[]){1});
    assert_int_not_equal(run_arg("ArgMax", 99, -1, -1, s, y), KILN_OK);
    kn_tensor_free(s);
}

/* Reduce*: all axes with keepdims 0 give a scalar, axes given twice (also
 * as i and i - rank) are refused, an axis outside the rank is refused, and
 * integer sums keep the input's dtype. */
static void test_reduce_edge_cases(void **state)
{
    (void)state;
    kiln_tensor *x = kt_f32(KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6}), *y[1];
    assert_int_equal(run_reduce(SUM, true, NULL, 0, 0, -1, x, y), KILN_OK);
    assert_int_equal(y[0]->rank, 0);
    kt_assert_f32_close(y[0], (float[]){21}, 1, 0, 0);
    kn_tensor_free(y[0]);
    assert_int_equal(run_reduce(MAX, false, (int64_t[]){-1, -2}, 2, 1, -1, x, y), KILN_OK);
    kt_assert_shape(y[0], KT_DIMS(1, 1));
    kt_assert_f32_close(y[0], (float[]){6}, 1, 0, 0);
    kn_tensor_free(y[0]);
    for (int as_input = 0; as_input < 2; as_input++) {
        assert_int_equal(run_reduce(MEAN, as_input, (int64_t[]){1, -1}, 2, 1, -1, x, y), KILN_ERROR_MODEL);
        assert_int_equal(run_reduce(PROD, as_input, (int64_t[]){2}, 1, 1, -1, x, y), KILN_ERROR_MODEL);
        assert_int_equal(run_reduce(L1, as_input, (int64_t[]){-3}, 1, 1, -1, x, y), KILN_ERROR_MODEL);
    }
    kn_tensor_free(x);
    kiln_tensor *xi = kt_i32(KT_DIMS(2, 2), (int32_t[]){1, -2, 3, 4});
    assert_int_equal(run_reduce(SUM, true, (int64_t[]){-2}, 1, 0, -1, xi, y), KILN_OK);
    assert_int_equal(y[0]->dtype, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y[0], (int64_t[]){4, 2}, 2);
    kn_tensor_free(y[0]);
    kn_tensor_free(xi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reduce_axes_combinations),
        cmocka_unit_test(test_reduce_hand_computed),
        cmocka_unit_test(test_noop_with_empty_axes),
        cmocka_unit_test(test_empty_reduce_set),
        cmocka_unit_test(test_integer_and_bool_dtypes),
        cmocka_unit_test(test_threads_match),
        cmocka_unit_test(test_reduce_errors),
        cmocka_unit_test(test_argmax_argmin),
        cmocka_unit_test(test_arg_errors),
        cmocka_unit_test(test_arg_edge_cases),
        cmocka_unit_test(test_reduce_edge_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
