/* Binary / n-ary elementwise ops: broadcasting patterns against a naive
 * index-by-index reference, integer semantics (truncating Div, Mod signs,
 * division by zero), mixed-dtype Pow, comparisons and logic, Where,
 * BitShift, the opset < 7 broadcast forms and refused inputs. */
#include "harness.h"

#include <math.h>

/* Flat index into an input broadcast (numpy rules, right-aligned) to the
 * output shape, for output element o. */
static int64_t bcast_index(int64_t o, int ro, const int64_t *dout, int ri, const int64_t *din)
{
    int64_t idx = 0, mul = 1;
    for (int d = ro - 1; d >= 0; d--) {
        int64_t c = o % dout[d];
        o /= dout[d];
        int di = d - (ro - ri);
        if (di < 0)
            continue;
        idx += (din[di] == 1 ? 0 : c) * mul;
        mul *= din[di];
    }
    return idx;
}

static kiln_tensor *run2(kt_node *n, kiln_tensor *a, kiln_tensor *b)
{
    kiln_tensor *ins[2] = {a, b};
    kiln_tensor *y = NULL;
    if (kt_run(n, 2, ins, 1, &y) != KILN_OK)
        fail_msg("run failed: %s", kiln_last_error());
    return y;
}

/* Check op(a, b) on float32 against the naive reference, with and without
 * a thread pool. */
static void check_f32_broadcast(const char *op, int ra, const int64_t *da, int rb, const int64_t *db, int ro,
                                const int64_t *dout, double (*ref)(double, double))
{
    kiln_tensor *a = kt_f32_random(ra, da, 1, -3, 3);
    kiln_tensor *b = kt_f32_random(rb, db, 2, 0.5f, 3);
    int64_t n = 1;
    for (int d = 0; d < ro; d++)
        n *= dout[d];
    float *want = malloc(sizeof(float) * (size_t)(n ? n : 1));
    const float *pa = a->data, *pb = b->data;
    for (int64_t o = 0; o < n; o++)
        want[o] = (float)ref(pa[bcast_index(o, ro, dout, ra, da)], pb[bcast_index(o, ro, dout, rb, db)]);
    for (int threads = 1; threads <= 2; threads++) {
        kt_node *node = kt_node_new(op, 14);
        kiln_tensor *ins[2] = {a, b};
        kiln_tensor *y = NULL;
        assert_int_equal(kt_run_ex(node, KN_ISA_GENERIC, threads, 2, ins, 1, &y), KILN_OK);
        kt_assert_shape(y, ro, dout);
        kt_assert_f32_close(y, want, n, 1e-6, 1e-6);
        kn_tensor_free(y);
        kt_node_free(node);
    }
    free(want);
    kn_tensor_free(a);
    kn_tensor_free(b);
}

static double r_add(double a, double b) { return (float)a + (float)b; }
static double r_sub(double a, double b) { return (float)a - (float)b; }
static double r_mul(double a, double b) { return (float)a * (float)b; }
static double r_div(double a, double b) { return (float)a / (float)b; }

static void test_broadcast_patterns(void **state)
{
    (void)state;
    /* same shape, odd size */
    check_f32_broadcast("Add", KT_DIMS(3, 17), KT_DIMS(3, 17), KT_DIMS(3, 17), r_add);
    /* trailing vector */
    check_f32_broadcast("Sub", KT_DIMS(3, 4, 5), KT_DIMS(5), KT_DIMS(3, 4, 5), r_sub);
    /* scalar on either side */
    check_f32_broadcast("Mul", KT_DIMS(2, 9), 0, NULL, KT_DIMS(2, 9), r_mul);
    check_f32_broadcast("Div", 0, NULL, KT_DIMS(7), KT_DIMS(7), r_div);
    /* per-channel bias NCHW */
    check_f32_broadcast("Add", KT_DIMS(2, 3, 4, 5), KT_DIMS(3, 1, 1), KT_DIMS(2, 3, 4, 5), r_add);
    /* both sides broadcast */
    check_f32_broadcast("Mul", KT_DIMS(1, 4, 1, 6), KT_DIMS(3, 1, 5, 6), KT_DIMS(3, 4, 5, 6), r_mul);
    check_f32_broadcast("Sub", KT_DIMS(5, 1), KT_DIMS(1, 3), KT_DIMS(5, 3), r_sub);
    /* rank 8 */
    check_f32_broadcast("Add", KT_DIMS(2, 1, 3, 1, 2, 1, 3, 2), KT_DIMS(1, 2, 1, 2, 1, 3, 1, 2),
                        KT_DIMS(2, 2, 3, 2, 2, 3, 3, 2), r_add);
    /* large enough to be split over threads, per-channel and general */
    check_f32_broadcast("Add", KT_DIMS(2, 16, 33, 65), KT_DIMS(16, 1, 1), KT_DIMS(2, 16, 33, 65), r_add);
    check_f32_broadcast("Div", KT_DIMS(2, 1, 130, 257), KT_DIMS(3, 130, 1), KT_DIMS(2, 3, 130, 257), r_div);
    /* empty */
    check_f32_broadcast("Add", KT_DIMS(0, 3), KT_DIMS(3), KT_DIMS(0, 3), r_add);
    check_f32_broadcast("Add", KT_DIMS(1, 0), KT_DIMS(4, 1), KT_DIMS(4, 0), r_add);
}

static void test_int_div_trunc(void **state)
{
    (void)state;
    int32_t a[] = {-3, 3, -3, 3, 7, INT32_MIN, 5};
    int32_t b[] = {2, 2, -2, -2, 0, -1, 0};
    /* x / 0 is defined as 0 (C would trap); INT_MIN / -1 wraps */
    int64_t want[] = {-1, 1, 1, -1, 0, INT32_MIN, 0};
    kt_node *n = kt_node_new("Div", 14);
    kiln_tensor *ta = kt_i32(KT_DIMS(7), a), *tb = kt_i32(KT_DIMS(7), b);
    kiln_tensor *y = run2(n, ta, tb);
    assert_int_equal(y->dtype, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y, want, 7);
    kn_tensor_free(ta);
    kn_tensor_free(tb);
    kn_tensor_free(y);
    kt_node_free(n);

    /* int64 shape arithmetic: [N*C] / scalar */
    int64_t s[] = {12, 7, -7};
    int64_t d = 4;
    int64_t want64[] = {3, 1, -1};
    n = kt_node_new("Div", 14);
    ta = kt_i64(KT_DIMS(3), s);
    tb = kt_i64(0, NULL, &d);
    y = run2(n, ta, tb);
    kt_assert_i64_equal(y, want64, 3);
    kn_tensor_free(ta);
    kn_tensor_free(tb);
    kn_tensor_free(y);
    kt_node_free(n);

    uint8_t ua[] = {200, 7, 9}, ub[] = {3, 0, 9}, uw[] = {66, 0, 1};
    n = kt_node_new("Div", 14);
    ta = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(3), ua);
    tb = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(3), ub);
    y = run2(n, ta, tb);
    assert_memory_equal(y->data, uw, 3);
    kn_tensor_free(ta);
    kn_tensor_free(tb);
    kn_tensor_free(y);
    kt_node_free(n);
}

static void test_int_wraparound(void **state)
{
    (void)state;
    int64_t a[] = {INT64_MAX, INT64_MIN, 3};
    int64_t b[] = {1, 1, -4};
    int64_t add[] = {INT64_MIN, INT64_MIN + 1, -1};
    int64_t sub[] = {INT64_MAX - 1, INT64_MAX, 7};
    int64_t mul[] = {INT64_MAX, INT64_MIN, -12};
    const char *ops[] = {"Add", "Sub", "Mul"};
    const int64_t *wants[] = {add, sub, mul};
    kiln_tensor *ta = kt_i64(KT_DIMS(3), a), *tb = kt_i64(KT_DIMS(3), b);
    for (int i = 0; i < 3; i++) {
        kt_node *n = kt_node_new(ops[i], 14);
        kiln_tensor *y = run2(n, ta, tb);
        kt_assert_i64_equal(y, wants[i], 3);
        kn_tensor_free(y);
        kt_node_free(n);
    }
    kn_tensor_free(ta);
    kn_tensor_free(tb);
}

static void test_mod(void **state)
{
    (void)state;
    int32_t a[] = {-4, 7, 5, 4, -7, 8, 3};
    int32_t b[] = {2, -3, 8, -2, 3, 5, 0};
    int64_t py[] = {0, -2, 5, 0, 2, 3, 0};
    int64_t cm[] = {0, 1, 5, 0, -1, 3, 0};
    kiln_tensor *ta = kt_i32(KT_DIMS(7), a), *tb = kt_i32(KT_DIMS(7), b);
    kt_node *n = kt_node_new("Mod", 13);
    kiln_tensor *y = run2(n, ta, tb);
    kt_assert_i64_equal(y, py, 7);
    kn_tensor_free(y);
    kt_node_free(n);
    n = kt_node_new("Mod", 13);
    kt_attr_int(n, "fmod", 1);
    y = run2(n, ta, tb);
    kt_assert_i64_equal(y, cm, 7);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);

    float fa[] = {-4.3f, 7.2f, 5.0f, 4.3f, -7.2f, 8.0f};
    float fb[] = {2.1f, -3.4f, 8.0f, -2.1f, 3.4f, 5.0f};
    float fwant[6], pwant[6];
    for (int i = 0; i < 6; i++) {
        fwant[i] = fmodf(fa[i], fb[i]);
        float r = fmodf(fa[i], fb[i]);
        pwant[i] = (r != 0 && ((r < 0) != (fb[i] < 0))) ? r + fb[i] : r;
    }
    ta = kt_f32(KT_DIMS(6), fa);
    tb = kt_f32(KT_DIMS(6), fb);
    n = kt_node_new("Mod", 13);
    kt_attr_int(n, "fmod", 1);
    y = run2(n, ta, tb);
    kt_assert_f32_close(y, fwant, 6, 1e-6, 1e-6);
    kn_tensor_free(y);
    kt_node_free(n);
    n = kt_node_new("Mod", 13);
    y = run2(n, ta, tb);
    kt_assert_f32_close(y, pwant, 6, 1e-6, 1e-6);
    kn_tensor_free(y);
    kt_node_free(n);

    n = kt_node_new("Mod", 13);
    kt_attr_int(n, "fmod", 2);
    kiln_tensor *ins[2] = {ta, tb};
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "fmod"));
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);
}

static void test_pow_types(void **state)
{
    (void)state;
    /* int32 ** float32 -> int32 (computed in double, truncated) */
    int32_t ia[] = {1, 2, 3};
    float fb[] = {4, 5, 6};
    int64_t w1[] = {1, 32, 729};
    kiln_tensor *ta = kt_i32(KT_DIMS(3), ia), *tb = kt_f32(KT_DIMS(3), fb);
    kt_node *n = kt_node_new("Pow", 15);
    kiln_tensor *y = run2(n, ta, tb);
    assert_int_equal(y->dtype, KILN_DTYPE_INT32);
    kt_assert_i64_equal(y, w1, 3);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);

    /* float32 ** int64, broadcast scalar exponent */
    float fa[] = {1.5f, -2, 3};
    int64_t e = 3;
    float w2[] = {3.375f, -8, 27};
    ta = kt_f32(KT_DIMS(3), fa);
    tb = kt_i64(0, NULL, &e);
    n = kt_node_new("Pow", 15);
    y = run2(n, ta, tb);
    kt_assert_f32_close(y, w2, 3, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);

    /* int64 ** int64 exact beyond 2^53, negative exponents */
    int64_t ba[] = {3, 2, -1, 5, 1};
    int64_t eb[] = {39, -1, -3, 0, -7};
    int64_t w3[] = {4052555153018976267LL, 0, -1, 1, 1};
    ta = kt_i64(KT_DIMS(5), ba);
    tb = kt_i64(KT_DIMS(5), eb);
    n = kt_node_new("Pow", 15);
    y = run2(n, ta, tb);
    kt_assert_i64_equal(y, w3, 5);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);

    /* float32 ** float32 */
    float pa[] = {2, 4, 9}, pb[] = {0.5f, -1, 0.5f}, w4[] = {1.41421356f, 0.25f, 3};
    ta = kt_f32(KT_DIMS(3), pa);
    tb = kt_f32(KT_DIMS(3), pb);
    n = kt_node_new("Pow", 15);
    y = run2(n, ta, tb);
    kt_assert_f32_close(y, w4, 3, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);
}

static void test_prelu(void **state)
{
    (void)state;
    float x[] = {-1, 2, -3, 4, -5, 6};
    float slope[] = {0.5f, 0.25f, 0.1f};
    float want[] = {-0.5f, 2, -0.3f, 4, -1.25f, 6};
    /* [2,3] with slope [3] (numpy, trailing) */
    kt_node *n = kt_node_new("PRelu", 16);
    kiln_tensor *tx = kt_f32(KT_DIMS(2, 3), x), *ts = kt_f32(KT_DIMS(3), slope);
    kiln_tensor *y = run2(n, tx, ts);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, want, 6, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(tx);
    kn_tensor_free(ts);

    /* opset 6: slope [C] applies along axis 1 of [N,C,L] */
    float x3[] = {-1, -2, -3, -4, -5, -6};
    float s2[] = {0.5f, 2};
    float w3[] = {-0.5f, -1, -1.5f, -8, -10, -12};
    n = kt_node_new("PRelu", 6);
    tx = kt_f32(KT_DIMS(1, 2, 3), x3);
    ts = kt_f32(KT_DIMS(2), s2);
    y = run2(n, tx, ts);
    kt_assert_shape(y, KT_DIMS(1, 2, 3));
    kt_assert_f32_close(y, w3, 6, 1e-6, 0);
    kn_tensor_free(y);
    kt_node_free(n);

    /* opset 16: the same slope does not broadcast */
    n = kt_node_new("PRelu", 16);
    kiln_tensor *ins[2] = {tx, ts};
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_SHAPE);
    kt_node_free(n);
    kn_tensor_free(ts);

    /* slope bigger than X: unidirectional broadcast refuses */
    ts = kt_f32(KT_DIMS(4, 1, 2, 3), NULL);
    n = kt_node_new("PRelu", 16);
    ins[1] = ts;
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_SHAPE);
    assert_non_null(strstr(kiln_last_error(), "slope"));
    kt_node_free(n);
    kn_tensor_free(ts);
    kn_tensor_free(tx);
}

static void test_variadic(void **state)
{
    (void)state;
    float a[] = {1, 5, 3}, b[] = {4, 2}, c = 3.5f;
    /* [3,1], [1,2]... use [3,1] + [2] + scalar -> [3,2] */
    kiln_tensor *ta = kt_f32(KT_DIMS(3, 1), a), *tb = kt_f32(KT_DIMS(2), b), *tc = kt_f32(0, NULL, &c);
    struct {
        const char *op;
        float want[6];
    } cases[] = {
        {"Max", {4, 3.5f, 5, 5, 4, 3.5f}},
        {"Min", {1, 1, 3.5f, 2, 3, 2}},
        {"Sum", {8.5f, 6.5f, 12.5f, 10.5f, 10.5f, 8.5f}},
        {"Mean", {8.5f / 3, 6.5f / 3, 12.5f / 3, 10.5f / 3, 10.5f / 3, 8.5f / 3}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kt_node *n = kt_node_new(cases[i].op, 13);
        kiln_tensor *ins[3] = {ta, tb, tc};
        kiln_tensor *y = NULL;
        assert_int_equal(kt_run(n, 3, ins, 1, &y), KILN_OK);
        kt_assert_shape(y, KT_DIMS(3, 2));
        kt_assert_f32_close(y, cases[i].want, 6, 1e-6, 0);
        kn_tensor_free(y);
        kt_node_free(n);
    }
    /* one input: a copy */
    kt_node *n = kt_node_new("Sum", 13);
    kiln_tensor *ins[1] = {ta};
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 1, ins, 1, &y), KILN_OK);
    kt_assert_f32_close(y, a, 3, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);

    /* Max propagates NaN; int Max */
    float na[] = {NAN, 1}, nb[] = {0, NAN}, nw[] = {NAN, NAN};
    kiln_tensor *tna = kt_f32(KT_DIMS(2), na), *tnb = kt_f32(KT_DIMS(2), nb);
    n = kt_node_new("Max", 13);
    y = run2(n, tna, tnb);
    kt_assert_f32_close(y, nw, 2, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(tna);
    kn_tensor_free(tnb);

    uint8_t ua[] = {3, 250}, ub[] = {200, 1}, uw[] = {200, 250};
    kiln_tensor *tua = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(2), ua), *tub = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(2), ub);
    n = kt_node_new("Max", 13);
    y = run2(n, tua, tub);
    assert_memory_equal(y->data, uw, 2);
    kn_tensor_free(y);
    kt_node_free(n);

    /* Mean has no integer form */
    n = kt_node_new("Mean", 13);
    kiln_tensor *ins2[2] = {tua, tub};
    assert_int_equal(kt_run(n, 2, ins2, 1, &y), KILN_ERROR_DTYPE);
    kt_node_free(n);
    kn_tensor_free(tua);
    kn_tensor_free(tub);

    kn_tensor_free(ta);
    kn_tensor_free(tb);
    kn_tensor_free(tc);
}

static void test_compare_logic(void **state)
{
    (void)state;
    float a[] = {1, 2, 3, 4}, b[] = {3};
    kiln_tensor *ta = kt_f32(KT_DIMS(2, 2), a), *tb = kt_f32(KT_DIMS(1), b);
    struct {
        const char *op;
        uint8_t want[4];
    } cases[] = {
        {"Equal", {0, 0, 1, 0}},       {"Less", {1, 1, 0, 0}},          {"Greater", {0, 0, 0, 1}},
        {"LessOrEqual", {1, 1, 1, 0}}, {"GreaterOrEqual", {0, 0, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kt_node *n = kt_node_new(cases[i].op, 16);
        kiln_tensor *y = run2(n, ta, tb);
        assert_int_equal(y->dtype, KILN_DTYPE_BOOL);
        kt_assert_shape(y, KT_DIMS(2, 2));
        assert_memory_equal(y->data, cases[i].want, 4);
        kn_tensor_free(y);
        kt_node_free(n);
    }
    kn_tensor_free(ta);
    kn_tensor_free(tb);

    /* int64 Equal (shape tensors) */
    int64_t ia[] = {1, -1, 3}, ib[] = {1, 1, 3};
    uint8_t iw[] = {1, 0, 1};
    ta = kt_i64(KT_DIMS(3), ia);
    tb = kt_i64(KT_DIMS(3), ib);
    kt_node *n = kt_node_new("Equal", 13);
    kiln_tensor *y = run2(n, ta, tb);
    assert_memory_equal(y->data, iw, 3);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);

    /* bool logic with broadcast [2,2] x [2] */
    uint8_t la[] = {0, 0, 1, 1}, lb[] = {0, 1};
    ta = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2, 2), la);
    tb = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), lb);
    struct {
        const char *op;
        uint8_t want[4];
    } lc[] = {{"And", {0, 0, 0, 1}}, {"Or", {0, 1, 1, 1}}, {"Xor", {0, 1, 1, 0}}, {"Equal", {1, 0, 0, 1}}};
    for (size_t i = 0; i < sizeof lc / sizeof lc[0]; i++) {
        n = kt_node_new(lc[i].op, 13);
        y = run2(n, ta, tb);
        assert_int_equal(y->dtype, KILN_DTYPE_BOOL);
        assert_memory_equal(y->data, lc[i].want, 4);
        kn_tensor_free(y);
        kt_node_free(n);
    }
    kn_tensor_free(ta);
    kn_tensor_free(tb);
}

static void test_equal_string(void **state)
{
    (void)state;
    kiln_tensor *ta = kt_tensor(KILN_DTYPE_STRING, KT_DIMS(3), NULL);
    kiln_tensor *tb = kt_tensor(KILN_DTYPE_STRING, KT_DIMS(1), NULL);
    const char *sa[] = {"cat", "dog", "cat"};
    for (int i = 0; i < 3; i++)
        ((char **)ta->data)[i] = kn_strdup(sa[i]);
    ((char **)tb->data)[0] = kn_strdup("cat");
    ta->owns_data = tb->owns_data = true;
    kt_node *n = kt_node_new("Equal", 19);
    kiln_tensor *y = run2(n, ta, tb);
    uint8_t want[] = {1, 0, 1};
    assert_memory_equal(y->data, want, 3);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);
}

static void test_where(void **state)
{
    (void)state;
    uint8_t cond[] = {1, 0, 0, 1};
    int64_t x[] = {10, 20}, yv = -1;
    int64_t want[] = {10, -1, -1, 20};
    kiln_tensor *tc = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2, 2), cond);
    kiln_tensor *tx = kt_i64(KT_DIMS(2), x), *ty = kt_i64(0, NULL, &yv);
    kt_node *n = kt_node_new("Where", 16);
    kiln_tensor *ins[3] = {tc, tx, ty};
    kiln_tensor *y = NULL;
    assert_int_equal(kt_run(n, 3, ins, 1, &y), KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_INT64);
    kt_assert_shape(y, KT_DIMS(2, 2));
    kt_assert_i64_equal(y, want, 4);
    kn_tensor_free(y);
    kt_node_free(n);

    /* condition broadcast [2,1] against float [1,3] and [2,3] */
    uint8_t c2[] = {1, 0};
    float fx[] = {1, 2, 3}, fy[] = {-1, -2, -3, -4, -5, -6};
    float fw[] = {1, 2, 3, -4, -5, -6};
    kiln_tensor *tc2 = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2, 1), c2);
    kiln_tensor *tfx = kt_f32(KT_DIMS(1, 3), fx), *tfy = kt_f32(KT_DIMS(2, 3), fy);
    n = kt_node_new("Where", 16);
    kiln_tensor *ins2[3] = {tc2, tfx, tfy};
    assert_int_equal(kt_run(n, 3, ins2, 1, &y), KILN_OK);
    kt_assert_f32_close(y, fw, 6, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);

    /* mismatched X/Y dtypes and non-bool condition are refused */
    n = kt_node_new("Where", 16);
    kiln_tensor *bad[3] = {tc, tx, tfy};
    assert_int_equal(kt_run(n, 3, bad, 1, &y), KILN_ERROR_DTYPE);
    kt_node_free(n);
    n = kt_node_new("Where", 16);
    kiln_tensor *bad2[3] = {tfy, tfy, tfy};
    assert_int_equal(kt_run(n, 3, bad2, 1, &y), KILN_ERROR_DTYPE);
    assert_non_null(strstr(kiln_last_error(), "condition"));
    kt_node_free(n);

    kn_tensor_free(tc);
    kn_tensor_free(tx);
    kn_tensor_free(ty);
    kn_tensor_free(tc2);
    kn_tensor_free(tfx);
    kn_tensor_free(tfy);
}

static void test_bitshift(void **state)
{
    (void)state;
    uint8_t x[] = {16, 4, 1, 255}, s[] = {1, 2, 3, 8};
    uint8_t left[] = {32, 16, 8, 0}, right[] = {8, 1, 0, 0};
    kiln_tensor *tx = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(4), x), *ts = kt_tensor(KILN_DTYPE_UINT8, KT_DIMS(4), s);
    kt_node *n = kt_node_new("BitShift", 11);
    kt_attr_string(n, "direction", "LEFT");
    kiln_tensor *y = run2(n, tx, ts);
    assert_memory_equal(y->data, left, 4);
    kn_tensor_free(y);
    kt_node_free(n);
    n = kt_node_new("BitShift", 11);
    kt_attr_string(n, "direction", "RIGHT");
    y = run2(n, tx, ts);
    assert_memory_equal(y->data, right, 4);
    kn_tensor_free(y);
    kt_node_free(n);

    uint64_t x64[] = {1, 3}, s64[] = {63, 1}, w64[] = {1ULL << 63, 6};
    kiln_tensor *ta = kt_tensor(KILN_DTYPE_UINT64, KT_DIMS(2), x64), *tb = kt_tensor(KILN_DTYPE_UINT64, KT_DIMS(2), s64);
    n = kt_node_new("BitShift", 11);
    kt_attr_string(n, "direction", "LEFT");
    y = run2(n, ta, tb);
    assert_memory_equal(y->data, w64, sizeof w64);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);

    /* direction is required */
    n = kt_node_new("BitShift", 11);
    kiln_tensor *ins[2] = {tx, ts};
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "direction"));
    kt_node_free(n);
    kn_tensor_free(tx);
    kn_tensor_free(ts);
}

/* Opset 6: broadcast=1 with axis places B's dims starting at axis. */
static void test_legacy_broadcast(void **state)
{
    (void)state;
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20};
    float want[] = {11, 12, 13, 24, 25, 26};
    kiln_tensor *ta = kt_f32(KT_DIMS(2, 3), a), *tb = kt_f32(KT_DIMS(2), b);
    kt_node *n = kt_node_new("Add", 6);
    kt_attr_int(n, "broadcast", 1);
    kt_attr_int(n, "axis", 0);
    kiln_tensor *y = run2(n, ta, tb);
    kt_assert_shape(y, KT_DIMS(2, 3));
    kt_assert_f32_close(y, want, 6, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);

    /* without axis: suffix alignment */
    float c[] = {1, 2, 3};
    float want2[] = {2, 4, 6, 5, 7, 9};
    kiln_tensor *tc = kt_f32(KT_DIMS(3), c);
    n = kt_node_new("Add", 6);
    kt_attr_int(n, "broadcast", 1);
    y = run2(n, ta, tc);
    kt_assert_f32_close(y, want2, 6, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);

    /* axis too large for B */
    n = kt_node_new("Mul", 6);
    kt_attr_int(n, "broadcast", 1);
    kt_attr_int(n, "axis", 1);
    kiln_tensor *ins[2] = {ta, tb};
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_SHAPE);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);
    kn_tensor_free(tc);
}

static void test_float16_add(void **state)
{
    (void)state;
    uint16_t a[3], b[3];
    float fa[] = {0.5f, -1.25f, 3}, fb[] = {0.25f, 1, -6};
    for (int i = 0; i < 3; i++) {
        a[i] = kn_float_to_half(fa[i]);
        b[i] = kn_float_to_half(fb[i]);
    }
    kiln_tensor *ta = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(3), a), *tb = kt_tensor(KILN_DTYPE_FLOAT16, KT_DIMS(3), b);
    kt_node *n = kt_node_new("Add", 14);
    kiln_tensor *y = run2(n, ta, tb);
    assert_int_equal(y->dtype, KILN_DTYPE_FLOAT16);
    const uint16_t *d = y->data;
    assert_true(kn_half_to_float(d[0]) == 0.75f && kn_half_to_float(d[1]) == -0.25f && kn_half_to_float(d[2]) == -3);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);
}

static void test_scalars(void **state)
{
    (void)state;
    int64_t a = 6, b = 7, want = 42;
    kiln_tensor *ta = kt_i64(0, NULL, &a), *tb = kt_i64(0, NULL, &b);
    kt_node *n = kt_node_new("Mul", 14);
    kiln_tensor *y = run2(n, ta, tb);
    assert_int_equal(y->rank, 0);
    kt_assert_i64_equal(y, &want, 1);
    kn_tensor_free(y);
    kt_node_free(n);
    kn_tensor_free(ta);
    kn_tensor_free(tb);
}

static void test_refused(void **state)
{
    (void)state;
    kiln_tensor *a = kt_f32(KT_DIMS(3, 4), NULL), *b = kt_f32(KT_DIMS(3), NULL);
    kiln_tensor *i = kt_i64(KT_DIMS(4), NULL);
    kiln_tensor *bo = kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(4), NULL);
    kiln_tensor *y = NULL;

    kt_node *n = kt_node_new("Add", 14);
    kiln_tensor *ins[2] = {a, b};
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_SHAPE);
    kt_node_free(n);

    n = kt_node_new("Add", 14);
    ins[1] = i;
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_DTYPE);
    assert_non_null(strstr(kiln_last_error(), "int64"));
    kt_node_free(n);

    n = kt_node_new("Sub", 14);
    ins[0] = bo;
    ins[1] = bo;
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_DTYPE);
    kt_node_free(n);

    n = kt_node_new("And", 7);
    ins[0] = a;
    ins[1] = a;
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_DTYPE);
    kt_node_free(n);

    n = kt_node_new("Mul", 14);
    assert_int_equal(kt_run(n, 1, ins, 1, &y), KILN_ERROR_MODEL);
    kt_node_free(n);

    n = kt_node_new("Mod", 9); /* Mod arrived in opset 10 */
    assert_int_equal(kt_run(n, 2, ins, 1, &y), KILN_ERROR_UNSUPPORTED);
    kt_node_free(n);

    kn_tensor_free(a);
    kn_tensor_free(b);
    kn_tensor_free(i);
    kn_tensor_free(bo);
}

/* Where: the three inputs broadcast together, also to empty shapes. */
static void test_where_edge_cases(void **state)
{
    (void)state;
    kiln_tensor *y = NULL;
    /* all scalars: a scalar */
    uint8_t t = 1;
    float a = 2, b = 3;
    kiln_tensor *ins[3] = {kt_tensor(KILN_DTYPE_BOOL, 0, NULL, &t), kt_f32(0, NULL, &a), kt_f32(0, NULL, &b)};
    kt_node *n = kt_node_new("Where", 16);
    assert_int_equal(kt_run(n, 3, ins, 1, &y), KILN_OK);
    assert_int_equal(y->rank, 0);
    kt_assert_f32_close(y, (float[]){2}, 1, 0, 0);
    kn_tensor_free(y);
    kt_node_free(n);
    for (int i = 0; i < 3; i++)
        kn_tensor_free(ins[i]);
    /* a [0,1] condition against [1,3] values: [0,3] */
    kiln_tensor *ins2[3] = {kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(0, 1), NULL), kt_f32(KT_DIMS(1, 3), NULL),
                            kt_f32(0, NULL, &b)};
    n = kt_node_new("Where", 16);
    assert_int_equal(kt_run(n, 3, ins2, 1, &y), KILN_OK);
    kt_assert_shape(y, KT_DIMS(0, 3));
    kn_tensor_free(y);
    kt_node_free(n);
    for (int i = 0; i < 3; i++)
        kn_tensor_free(ins2[i]);
    /* rank grows from the condition; Y broadcast along both axes; bool values */
    uint8_t c[] = {1, 0, 0, 1}, xv[] = {1, 1}, yv = 0;
    kiln_tensor *ins3[3] = {kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2, 1, 2), c), kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), xv),
                            kt_tensor(KILN_DTYPE_BOOL, 0, NULL, &yv)};
    n = kt_node_new("Where", 9);
    assert_int_equal(kt_run(n, 3, ins3, 1, &y), KILN_OK);
    assert_int_equal(y->dtype, KILN_DTYPE_BOOL);
    kt_assert_shape(y, KT_DIMS(2, 1, 2));
    assert_memory_equal(y->data, c, 4);
    kn_tensor_free(y);
    kt_node_free(n);
    for (int i = 0; i < 3; i++)
        kn_tensor_free(ins3[i]);
    /* shapes that do not broadcast */
    kiln_tensor *ins4[3] = {kt_tensor(KILN_DTYPE_BOOL, KT_DIMS(2), NULL), kt_f32(KT_DIMS(3), NULL),
                            kt_f32(KT_DIMS(1), NULL)};
    n = kt_node_new("Where", 16);
    assert_int_equal(kt_run(n, 3, ins4, 1, &y), KILN_ERROR_SHAPE);
    kt_node_free(n);
    for (int i = 0; i < 3; i++)
        kn_tensor_free(ins4[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast_patterns), cmocka_unit_test(test_int_div_trunc),
        cmocka_unit_test(test_int_wraparound),     cmocka_unit_test(test_mod),
        cmocka_unit_test(test_pow_types),          cmocka_unit_test(test_prelu),
        cmocka_unit_test(test_variadic),           cmocka_unit_test(test_compare_logic),
        cmocka_unit_test(test_equal_string),       cmocka_unit_test(test_where), cmocka_unit_test(test_where_edge_cases),
        cmocka_unit_test(test_bitshift),           cmocka_unit_test(test_legacy_broadcast),
        cmocka_unit_test(test_float16_add),        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
