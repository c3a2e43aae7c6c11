/* The public API as a host sees it: versioning, NULL-tolerant releases,
 * out-parameters untouched on failure, host allocator, log callback, host
 * thread pool, arena limit, ISA cap, buffer loading, cancellation, custom
 * operators in-process and from a plugin library.
 * Models: tests/data/make_api_models.py and models/. */
#include "harness.h"
#include "ops/op.h"
#include "runtime/runtime.h"

#include <pthread.h>
#include <pthreadpool.h>
#include <stdatomic.h>
#include <time.h>

static const char *source_dir(void)
{
    const char *src = getenv("KILN_SOURCE_DIR");
    return src ? src : KILN_TEST_SOURCE_DIR;
}

/* Up to 4 paths alive at once (rotating buffers). */
static const char *path_of(const char *rel)
{
    static char bufs[4][4096];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", source_dir(), rel);
    return b;
}

static kiln_model *load_with(const char *rel, const kiln_options *o)
{
    kiln_model *m = NULL;
    if (kiln_model_load(path_of(rel), o, &m) != KILN_OK)
        fail_msg("loading %s: %s", rel, kiln_last_error());
    return m;
}

static void assert_same_tensor(const kiln_tensor *a, const kiln_tensor *b)
{
    assert_int_equal(a->dtype, b->dtype);
    assert_true(kn_same_shape(a, b));
    assert_int_equal(a->nbytes, b->nbytes);
    assert_memory_equal(a->data, b->data, a->nbytes);
}

/* ---- versioning, releases, out-parameters ------------------------------- */

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(kiln_api_version(), KILN_API_VERSION);
    assert_true(KILN_API_VERSION >= 2);
    int major = -1, minor = -1, patch = -1;
    assert_int_equal(sscanf(kiln_version(), "%d.%d.%d", &major, &minor, &patch), 3);
    assert_true(major >= 0 && minor >= 0 && patch >= 0);
}

static void test_release_null(void **state)
{
    (void)state;
    kiln_tensor_release(NULL);
    kiln_options_release(NULL);
    kiln_model_release(NULL);
    kiln_context_release(NULL);
    kiln_context_interrupt(NULL);
    assert_int_equal(kiln_model_input_count(NULL), 0);
    assert_int_equal(kiln_context_arena_bytes(NULL), 0);
}

static void test_out_params_untouched(void **state)
{
    (void)state;
    kiln_model *const model_sentinel = (kiln_model *)(uintptr_t)0x1234;
    kiln_model *m = model_sentinel;
    assert_int_equal(kiln_model_load(path_of("tests/data/no_such_model.onnx"), NULL, &m), KILN_ERROR_IO);
    assert_ptr_equal(m, model_sentinel);
    static const char garbage[] = "this is not a protobuf";
    assert_int_not_equal(kiln_model_load_buffer(garbage, sizeof garbage, NULL, NULL, &m), KILN_OK);
    assert_ptr_equal(m, model_sentinel);
    assert_int_equal(kiln_model_load(path_of("tests/data/unsupported.onnx"), NULL, &m), KILN_ERROR_UNSUPPORTED);
    assert_ptr_equal(m, model_sentinel);

    kiln_tensor *const tensor_sentinel = (kiln_tensor *)(uintptr_t)0x5678;
    kiln_tensor *t = tensor_sentinel;
    int64_t dims[2] = {2, -3};
    assert_int_not_equal(kiln_tensor_create(KILN_DTYPE_FLOAT, 2, dims, &t), KILN_OK);
    assert_ptr_equal(t, tensor_sentinel);
    assert_int_not_equal(kiln_tensor_create((kiln_dtype)99, 0, NULL, &t), KILN_OK);
    assert_ptr_equal(t, tensor_sentinel);
    float small[3];
    dims[1] = 3;
    assert_int_not_equal(kiln_tensor_wrap(KILN_DTYPE_FLOAT, 2, dims, small, sizeof small, &t), KILN_OK);
    assert_ptr_equal(t, tensor_sentinel);
    assert_int_not_equal(kiln_tensor_read_file(path_of("tests/data/no_such.pb"), &t), KILN_OK);
    assert_ptr_equal(t, tensor_sentinel);

    kiln_context *const ctx_sentinel = (kiln_context *)(uintptr_t)0x9abc;
    kiln_context *c = ctx_sentinel;
    assert_int_equal(kiln_context_create(NULL, &c), KILN_ERROR_ARGUMENT);
    assert_ptr_equal(c, ctx_sentinel);

    kiln_model *model = load_with("tests/data/relu_chain.onnx", NULL);
    kiln_value_info info, before;
    memset(&info, 0xab, sizeof info);
    before = info;
    assert_int_equal(kiln_model_input_info(model, 5, &info), KILN_ERROR_ARGUMENT);
    assert_memory_equal(&info, &before, sizeof info);
    kiln_op_stat stat, stat_before;
    memset(&stat, 0xcd, sizeof stat);
    stat_before = stat;
    assert_int_equal(kiln_model_op_stat(model, 0, 999, &stat), KILN_ERROR_ARGUMENT);
    assert_memory_equal(&stat, &stat_before, sizeof stat);

    /* Failed runs leave both kinds of output alone: a NULL slot stays NULL
     * and a caller buffer keeps its bytes. */
    assert_int_equal(kiln_context_create(model, &c), KILN_OK);
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 16), 3, -1, 1);
    kiln_tensor *bad = kt_f32_random(KT_DIMS(2, 15), 3, -1, 1);
    const char *in_name = "x", *wrong_name = "nope";
    const kiln_tensor *xin = x, *badin = bad;
    kiln_tensor *y = NULL;
    assert_int_equal(kiln_context_run(c, 1, &wrong_name, &xin, 1, NULL, &y), KILN_ERROR_ARGUMENT);
    assert_null(y);
    assert_int_equal(kiln_context_run(c, 1, &in_name, &badin, 1, NULL, &y), KILN_ERROR_SHAPE);
    assert_null(y);
    kiln_tensor *mine = kt_f32(KT_DIMS(2, 16), NULL);
    for (int i = 0; i < 32; i++)
        ((float *)mine->data)[i] = 7.0f;
    kiln_tensor *keep = mine;
    assert_int_equal(kiln_context_run(c, 1, &in_name, &badin, 1, NULL, &mine), KILN_ERROR_SHAPE);
    assert_ptr_equal(mine, keep);
    for (int i = 0; i < 32; i++)
        assert_float_equal(((float *)mine->data)[i], 7.0f, 0);
    /* and the context still works */
    assert_int_equal(kiln_context_run(c, 1, &in_name, &xin, 1, NULL, &y), KILN_OK);
    assert_non_null(y);
    kiln_tensor_release(y);
    kiln_tensor_release(mine);
    kiln_tensor_release(x);
    kiln_tensor_release(bad);
    kiln_context_release(c);
    kiln_model_release(model);

    /* Two outputs, the second caller buffer of the wrong shape: the first
     * caller buffer is not written either. */
    model = load_with("tests/data/add_const.onnx", NULL);
    assert_int_equal(kiln_context_create(model, &c), KILN_OK);
    x = kt_f32_random(KT_DIMS(2, 3), 8, -1, 1);
    xin = x;
    kiln_tensor *good = kt_f32(KT_DIMS(2, 3), NULL), *wrong = kt_f32(KT_DIMS(3, 2), NULL);
    const char *outs[2] = {"y", "a_out"};
    kiln_tensor *pair[2] = {good, wrong};
    assert_int_equal(kiln_context_run(c, 1, &in_name, &xin, 2, outs, pair), KILN_ERROR_SHAPE);
    assert_ptr_equal(pair[0], good);
    assert_ptr_equal(pair[1], wrong);
    for (int i = 0; i < 6; i++)
        assert_float_equal(((float *)good->data)[i], 0.0f, 0);
    kiln_tensor *fresh[2] = {good, NULL};
    assert_int_equal(kiln_context_run(c, 1, &in_name, &xin, 2, outs, fresh), KILN_OK);
    assert_ptr_equal(fresh[0], good);
    assert_non_null(fresh[1]);
    for (int i = 0; i < 6; i++) {
        float a = ((float *)x->data)[i] + (float)(i % 3 + 1);
        assert_float_equal(((float *)fresh[1]->data)[i], a, 1e-6);
        assert_float_equal(((float *)good->data)[i], a * (float)(i % 3 + 1), 1e-6);
    }
    kiln_tensor_release(fresh[1]);
    kiln_tensor_release(good);
    kiln_tensor_release(wrong);
    kiln_tensor_release(x);
    kiln_context_release(c);
    kiln_model_release(model);
}

/* ---- host allocator ------------------------------------------------------ */

typedef struct counting {
    atomic_long live;  /* blocks handed out and not yet freed */
    atomic_long calls; /* every allocation call */
    atomic_long aligned_calls;
} counting;

static void *c_malloc(void *user, size_t size)
{
    counting *k = user;
    void *p = malloc(size);
    if (p) {
        atomic_fetch_add(&k->live, 1);
        atomic_fetch_add(&k->calls, 1);
    }
    return p;
}

static void *c_realloc(void *user, void *ptr, size_t size)
{
    counting *k = user;
    void *p = realloc(ptr, size);
    if (p) {
        if (!ptr)
            atomic_fetch_add(&k->live, 1);
        atomic_fetch_add(&k->calls, 1);
    }
    return p;
}

static void c_free(void *user, void *ptr)
{
    counting *k = user;
    if (ptr)
        atomic_fetch_sub(&k->live, 1);
    free(ptr);
}

static void *c_aligned(void *user, size_t alignment, size_t size)
{
    counting *k = user;
    void *p = NULL;
    if (posix_memalign(&p, alignment, size) != 0)
        return NULL;
    atomic_fetch_add(&k->live, 1);
    atomic_fetch_add(&k->aligned_calls, 1);
    return p;
}

/* Load, run twice with different batch sizes, release everything. */
static void exercise_library(void)
{
    kiln_model *m = load_with("models/reshape_chain/model.onnx", NULL);
    for (int64_t batch = 1; batch <= 3; batch += 2) {
        kiln_tensor *x = NULL;
        int64_t dims[4] = {batch, 3, 8, 8};
        assert_int_equal(kiln_tensor_create(KILN_DTYPE_FLOAT, 4, dims, &x), KILN_OK);
        assert_int_equal((uintptr_t)kiln_tensor_data(x) % 64, 0);
        kiln_tensor *y = kt_run_model(m, x);
        assert_int_equal(kiln_tensor_dims(y)[0], batch);
        kiln_tensor_release(y);
        kiln_tensor_release(x);
    }
    kiln_model_release(m);
}

static void test_host_allocator(void **state)
{
    (void)state;
    kiln_allocator bad = {.malloc_fn = c_malloc, .realloc_fn = c_realloc};
    assert_int_equal(kiln_set_allocator(&bad), KILN_ERROR_ARGUMENT);

    /* Without aligned functions: kiln aligns on top of malloc_fn. */
    counting k = {0};
    kiln_allocator a = {.malloc_fn = c_malloc, .realloc_fn = c_realloc, .free_fn = c_free, .user = &k};
    assert_int_equal(kiln_set_allocator(&a), KILN_OK);
    exercise_library();
    assert_int_equal(kiln_set_allocator(NULL), KILN_OK);
    assert_true(atomic_load(&k.calls) > 20);
    assert_int_equal(atomic_load(&k.live), 0);

    /* With them: tensor storage goes through aligned_alloc_fn. */
    counting k2 = {0};
    kiln_allocator a2 = {.malloc_fn = c_malloc, .realloc_fn = c_realloc, .free_fn = c_free,
                         .aligned_alloc_fn = c_aligned, .aligned_free_fn = c_free, .user = &k2};
    assert_int_equal(kiln_set_allocator(&a2), KILN_OK);
    exercise_library();
    assert_true(atomic_load(&k2.aligned_calls) > 0);
    assert_int_equal(atomic_load(&k2.live), 0);

    /* Failure injection still sees every allocation: each failure point of
     * loading is a clean KILN_ERROR_NOMEM that returns all host memory. */
    kn_alloc_fail_at(0);
    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load(path_of("tests/data/relu_chain.onnx"), NULL, &m), KILN_OK);
    kiln_model_release(m);
    uint64_t n = kn_alloc_count();
    assert_true(n > 5);
    for (uint64_t i = 1; i <= n; i += 1 + n / 40) {
        kn_alloc_fail_at(i);
        m = NULL;
        kiln_status s = kiln_model_load(path_of("tests/data/relu_chain.onnx"), NULL, &m);
        kn_alloc_fail_at(0);
        if (s != KILN_OK)
            assert_int_equal(s, KILN_ERROR_NOMEM);
        kiln_model_release(m);
        assert_int_equal(atomic_load(&k2.live), 0);
    }
    assert_int_equal(kiln_set_allocator(NULL), KILN_OK);
}

/* ---- log callback ------------------------------------------------------- */

typedef struct log_capture {
    int count[4];
    char last[4][512];
    bool saw_loaded, saw_plan;
} log_capture;

static void capture(void *user, kiln_log_level level, const char *message)
{
    log_capture *l = user;
    assert_true(level >= KILN_LOG_ERROR && level <= KILN_LOG_DEBUG);
    l->count[level]++;
    snprintf(l->last[level], sizeof l->last[level], "%s", message);
    if (strstr(message, "model loaded"))
        l->saw_loaded = true;
    if (strstr(message, "plan for x[2,16]"))
        l->saw_plan = true;
}

static void test_log_callback(void **state)
{
    (void)state;
    log_capture l;
    memset(&l, 0, sizeof l);
    kiln_set_log_callback(capture, &l, KILN_LOG_DEBUG);
    kiln_model *m = load_with("tests/data/relu_chain.onnx", NULL);
    assert_true(l.saw_loaded);
    assert_true(l.count[KILN_LOG_INFO] >= 1);
    kiln_tensor *x = kt_f32_random(KT_DIMS(2, 16), 1, -1, 1);
    kiln_tensor_release(kt_run_model(m, x));
    assert_true(l.saw_plan);
    kiln_model *bad = NULL;
    assert_int_equal(kiln_model_load(path_of("tests/data/unsupported.onnx"), NULL, &bad), KILN_ERROR_UNSUPPORTED);
    assert_int_equal(l.count[KILN_LOG_ERROR], 1);
    assert_non_null(strstr(l.last[KILN_LOG_ERROR], "unsupported.onnx"));

    /* Levels above max_level are not delivered. */
    memset(&l, 0, sizeof l);
    kiln_set_log_callback(capture, &l, KILN_LOG_INFO);
    kiln_tensor_release(kt_run_model(m, x));
    assert_int_equal(l.count[KILN_LOG_DEBUG], 0);
    kiln_model_release(load_with("tests/data/relu_chain.onnx", NULL));
    assert_int_equal(l.count[KILN_LOG_INFO], 1);

    /* Off: nothing. */
    kiln_set_log_callback(NULL, NULL, KILN_LOG_DEBUG);
    memset(&l, 0, sizeof l);
    kiln_model_release(load_with("tests/data/relu_chain.onnx", NULL));
    assert_int_equal(l.count[KILN_LOG_INFO] + l.count[KILN_LOG_DEBUG], 0);
    kiln_tensor_release(x);
    kiln_model_release(m);
}

/* ---- host thread pool ---------------------------------------------------- */

static void test_host_thread_pool(void **state)
{
    (void)state;
    pthreadpool_t pool = pthreadpool_create(2);
    assert_non_null(pool);
    kiln_tensor *x = kt_f32_random(KT_DIMS(1, 3, 32, 32), 5, -1, 1);

    kiln_options *o = NULL;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_threads(o, 1), KILN_OK);
    kiln_model *single = load_with("models/tiny_cnn/model.onnx", o);
    assert_int_equal(kiln_options_set_thread_pool(o, pool), KILN_OK);
    kiln_model *pooled = load_with("models/tiny_cnn/model.onnx", o);
    kiln_options_release(o);

    kiln_tensor *ref = kt_run_model(single, x);
    kiln_context *c = NULL;
    assert_int_equal(kiln_context_create(pooled, &c), KILN_OK);
    assert_ptr_equal(c->pool, pool);
    assert_false(c->own_pool);
    const char *name = "input";
    const kiln_tensor *xin = x;
    kiln_tensor *y = NULL;
    assert_int_equal(kiln_context_run(c, 1, &name, &xin, 1, NULL, &y), KILN_OK);
    kt_assert_tensors_close(y, ref, 1e-5, 1e-5);
    kiln_tensor_release(y);

    /* Per context: the single-threaded model's context on the host pool,
     * then back to its own (none, for one thread). */
    kiln_context *c1 = NULL;
    assert_int_equal(kiln_context_create(single, &c1), KILN_OK);
    assert_null(c1->pool);
    assert_int_equal(kiln_context_set_thread_pool(c1, pool), KILN_OK);
    assert_ptr_equal(c1->pool, pool);
    y = NULL;
    assert_int_equal(kiln_context_run(c1, 1, &name, &xin, 1, NULL, &y), KILN_OK);
    kt_assert_tensors_close(y, ref, 1e-5, 1e-5);
    kiln_tensor_release(y);
    assert_int_equal(kiln_context_set_thread_pool(c1, NULL), KILN_OK);
    assert_null(c1->pool);
    assert_int_equal(kiln_context_set_thread_pool(NULL, pool), KILN_ERROR_ARGUMENT);

    kiln_context_release(c1);
    kiln_context_release(c);
    pthreadpool_destroy(pool); /* after the contexts: kiln never destroys it */
    kiln_tensor_release(ref);
    kiln_tensor_release(x);
    kiln_model_release(single);
    kiln_model_release(pooled);
}

/* ---- memory limit ------------------------------------------------------- */

static void test_arena_limit(void **state)
{
    (void)state;
    kiln_options *o = NULL;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_limit(o, KILN_LIMIT_ARENA_BYTES, 1024), KILN_OK);
    kiln_model *m = load_with("tests/data/relu_chain.onnx", o);
    kiln_options_release(o);
    kiln_context *c = NULL;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    const char *name = "x";
    kiln_tensor *small = kt_f32_random(KT_DIMS(2, 16), 1, -1, 1);
    kiln_tensor *big = kt_f32_random(KT_DIMS(64, 16), 1, -1, 1);
    const kiln_tensor *in = small;
    kiln_tensor *y = NULL;
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_OK);
    kiln_tensor_release(y);
    y = NULL;
    in = big; /* two 4 KiB buffers */
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_ERROR_LIMIT);
    assert_null(y);
    assert_non_null(strstr(kiln_last_error(), "arena"));
    in = small;
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_OK);
    kiln_tensor_release(y);
    kiln_tensor_release(small);
    kiln_tensor_release(big);
    kiln_context_release(c);
    kiln_model_release(m);
}

/* ---- ISA cap ------------------------------------------------------------- */

static kiln_tensor *run_at_isa(const char *rel, kiln_isa isa, const kiln_tensor *x)
{
    kiln_options *o = NULL;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_isa(o, isa), KILN_OK);
    kiln_model *m = load_with(rel, o);
    kiln_options_release(o);
    kiln_tensor *y = kt_run_model(m, x);
    kiln_model_release(m);
    return y;
}

static void test_isa_cap_same_results(void **state)
{
    (void)state;
    static const struct {
        const char *model;
        int rank;
        int64_t dims[4];
    } cases[] = {
        {"models/tiny_cnn/model.onnx", 4, {1, 3, 32, 32}},
        {"models/tiny_mobilenet/model.onnx", 4, {1, 3, 32, 32}},
        {"models/tiny_mlp_ln/model.onnx", 3, {2, 8, 32}},
        {"models/reshape_chain/model.onnx", 4, {3, 3, 8, 8}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_tensor *x = kt_f32_random(cases[i].rank, cases[i].dims, (uint32_t)(11 + i), -1, 1);
        kiln_tensor *ref = run_at_isa(cases[i].model, KILN_ISA_AUTO, x);
        const kiln_isa caps[] = {KILN_ISA_GENERIC, KILN_ISA_AVX2, KILN_ISA_AVX512};
        for (size_t k = 0; k < 3; k++) {
            kiln_tensor *y = run_at_isa(cases[i].model, caps[k], x);
            kt_assert_tensors_close(y, ref, 0, 1e-5);
            kiln_tensor_release(y);
        }
        kiln_tensor_release(ref);
        kiln_tensor_release(x);
    }
}

/* ---- loading from memory -------------------------------------------------- */

static void *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void test_load_buffer(void **state)
{
    (void)state;
    size_t size = 0;
    void *bytes = read_all(path_of("models/tiny_mobilenet/model.onnx"), &size);
    kiln_model *from_buffer = NULL;
    assert_int_equal(kiln_model_load_buffer(bytes, size, NULL, NULL, &from_buffer), KILN_OK);
    memset(bytes, 0, size); /* the model must not reference the buffer */
    free(bytes);
    kiln_model *from_file = load_with("models/tiny_mobilenet/model.onnx", NULL);
    kiln_tensor *x = kt_f32_random(KT_DIMS(1, 3, 32, 32), 21, -1, 1);
    kiln_tensor *a = kt_run_model(from_buffer, x), *b = kt_run_model(from_file, x);
    assert_same_tensor(a, b);
    kiln_tensor_release(a);
    kiln_tensor_release(b);
    kiln_tensor_release(x);
    kiln_model_release(from_buffer);
    kiln_model_release(from_file);

    /* External data: refused without base_dir, resolved with it. */
    bytes = read_all(path_of("tests/data/external_data/model.onnx"), &size);
    kiln_model *m = NULL;
    kiln_status s = kiln_model_load_buffer(bytes, size, NULL, NULL, &m);
    assert_int_not_equal(s, KILN_OK);
    assert_null(m);
    assert_non_null(strstr(kiln_last_error(), "external data"));
    assert_int_equal(kiln_model_load_buffer(bytes, size, path_of("tests/data/external_data"), NULL, &m), KILN_OK);
    free(bytes);
    kiln_model *mf = load_with("tests/data/external_data/model.onnx", NULL);
    x = kt_f32_random(KT_DIMS(4, 16), 2, -1, 1);
    a = kt_run_model(m, x);
    b = kt_run_model(mf, x);
    assert_same_tensor(a, b);
    for (int i = 0; i < 64; i++)
        assert_float_equal(((float *)a->data)[i], ((float *)x->data)[i] + (float)i / 8, 1e-6);
    kiln_tensor_release(a);
    kiln_tensor_release(b);
    kiln_tensor_release(x);
    kiln_model_release(m);
    kiln_model_release(mf);
}

/* ---- cancellation ---------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

typedef struct interrupter {
    kiln_context *ctx;
    atomic_int done;
    double first_ms; /* when the first interrupt was sent */
    int delay_ms;
} interrupter;

/* A run resets the flag when it starts, so keep asking until it stops. */
static void *interrupt_loop(void *arg)
{
    interrupter *it = arg;
    struct timespec d = {0, (long)it->delay_ms * 1000000L};
    nanosleep(&d, NULL);
    it->first_ms = now_ms();
    struct timespec tick = {0, 200000L};
    while (!atomic_load(&it->done)) {
        kiln_context_interrupt(it->ctx);
        nanosleep(&tick, NULL);
    }
    return NULL;
}

static void test_interrupt(void **state)
{
    (void)state;
    kiln_options *o = NULL;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_threads(o, 1), KILN_OK);
    kiln_model *m = load_with("tests/data/long_chain.onnx", o);
    kiln_options_release(o);
    kiln_context *c = NULL;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    const char *name = "x";
    kiln_tensor *x = kt_f32_random(KT_DIMS(4, 65536), 9, -1, 1);
    const kiln_tensor *in = x;

    kiln_tensor *ref = NULL;
    double t0 = now_ms();
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &ref), KILN_OK);
    double full_ms = now_ms() - t0;
    t0 = now_ms();
    kiln_tensor *again = NULL;
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &again), KILN_OK);
    full_ms = KN_MIN(full_ms, now_ms() - t0);
    kiln_tensor_release(again);
    print_message("long_chain: uninterrupted run %.1f ms\n", full_ms);

    for (int round = 0; round < 3; round++) {
        interrupter it = {.ctx = c, .delay_ms = (int)(full_ms / 4) + 1};
        atomic_init(&it.done, 0);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, interrupt_loop, &it), 0);
        kiln_tensor *y = NULL;
        kiln_status s = kiln_context_run(c, 1, &name, &in, 1, NULL, &y);
        double end = now_ms();
        atomic_store(&it.done, 1);
        pthread_join(th, NULL);
        assert_int_equal(s, KILN_ERROR_INTERRUPTED);
        assert_null(y);
        double reaction = end - it.first_ms;
        print_message("interrupted %.2f ms after the first request\n", reaction);
        /* One step is well under a millisecond; allow for scheduling. */
        assert_true(reaction < KN_MAX(full_ms / 3, 20.0));

        /* Reusable: the next run completes with the same answer. */
        assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_OK);
        assert_same_tensor(y, ref);
        kiln_tensor_release(y);
    }
    /* An interrupt with no run in progress does not cancel the next run. */
    kiln_context_interrupt(c);
    kiln_tensor *y = NULL;
    assert_int_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_OK);
    kiln_tensor_release(y);

    kiln_tensor_release(ref);
    kiln_tensor_release(x);
    kiln_context_release(c);
    kiln_model_release(m);
}

/* ---- custom operators ----------------------------------------------------- */

static atomic_int offset_runs;

static kiln_status offset_infer(void *user, const kiln_op_node *node, size_t n_inputs,
                                const kiln_tensor *const *inputs, size_t n_outputs, kiln_shape *outputs)
{
    (void)node;
    assert_ptr_equal(user, &offset_runs);
    if (n_inputs != 1 || n_outputs != 1)
        return kiln_set_error(KILN_ERROR_MODEL, "Offset takes one input");
    if (kiln_tensor_dtype(inputs[0]) != KILN_DTYPE_FLOAT)
        return kiln_set_error(KILN_ERROR_DTYPE, "Offset takes float");
    outputs[0].dtype = KILN_DTYPE_FLOAT;
    outputs[0].rank = kiln_tensor_rank(inputs[0]);
    memcpy(outputs[0].dims, kiln_tensor_dims(inputs[0]), outputs[0].rank * sizeof(int64_t));
    return KILN_OK;
}

static kiln_status offset_run(void *user, const kiln_op_node *node, size_t n_inputs,
                              const kiln_tensor *const *inputs, size_t n_outputs, kiln_tensor *const *outputs)
{
    (void)n_inputs;
    (void)n_outputs;
    float offset = 0;
    kiln_status s = kiln_op_node_attr_float(node, "offset", 0.0f, &offset);
    if (s != KILN_OK)
        return s;
    if (offset > 100)
        return kiln_set_error(KILN_ERROR_ARGUMENT, "offset too large");
    const float *x = kiln_tensor_const_data(inputs[0]);
    float *y = kiln_tensor_data(outputs[0]);
    for (int64_t i = 0; i < kiln_tensor_element_count(inputs[0]); i++)
        y[i] = x[i] + offset;
    atomic_fetch_add((atomic_int *)user, 1);
    return KILN_OK;
}

static kiln_custom_op offset_op(void)
{
    return (kiln_custom_op){.struct_size = sizeof(kiln_custom_op), .domain = "com.test", .op_type = "Offset",
                            .since_version = 1, .until_version = 5, .infer = offset_infer, .run = offset_run,
                            .user_data = &offset_runs};
}

static void test_custom_op_in_process(void **state)
{
    (void)state;
    /* Before registration the model names an op kiln lacks. */
    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load(path_of("tests/data/custom_offset.onnx"), NULL, &m), KILN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(kiln_last_error(), "Offset"));

    kiln_custom_op op = offset_op();
    op.struct_size = 8;
    assert_int_equal(kiln_register_op(&op), KILN_ERROR_ARGUMENT);
    op = offset_op();
    op.run = NULL;
    assert_int_equal(kiln_register_op(&op), KILN_ERROR_ARGUMENT);
    op = offset_op();
    op.until_version = -1;
    assert_int_equal(kiln_register_op(&op), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_register_op(NULL), KILN_ERROR_ARGUMENT);
    op = offset_op();
    assert_int_equal(kiln_register_op(&op), KILN_OK);
    /* The same op over an overlapping version range is refused; a disjoint
     * range is another registration. */
    op.since_version = 3;
    op.until_version = 0;
    assert_int_equal(kiln_register_op(&op), KILN_ERROR_ARGUMENT);
    op.since_version = 6;
    assert_int_equal(kiln_register_op(&op), KILN_OK);

    m = load_with("tests/data/custom_offset.onnx", NULL);
    size_t n = 0;
    assert_int_equal(kiln_model_op_stats(m, 0, &n), KILN_OK);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        kiln_op_stat st;
        assert_int_equal(kiln_model_op_stat(m, 0, i, &st), KILN_OK);
        if (strcmp(st.op_type, "Offset") == 0) {
            found = true;
            assert_string_equal(st.domain, "com.test");
            assert_int_equal(st.supported, 1);
        }
    }
    assert_true(found);
    kiln_tensor *x = kt_f32_random(KT_DIMS(5, 3), 4, -1, 1);
    int before = atomic_load(&offset_runs);
    kiln_tensor *y = kt_run_model(m, x);
    assert_int_equal(atomic_load(&offset_runs), before + 1);
    kt_assert_shape(y, KT_DIMS(5, 3));
    for (int i = 0; i < 15; i++)
        assert_float_equal(((float *)y->data)[i], -(((float *)x->data)[i] + 0.25f), 1e-7);
    kiln_tensor_release(y);
    kiln_tensor_release(x);
    kiln_model_release(m);
}

#ifndef KILN_TEST_PLUGIN
#define KILN_TEST_PLUGIN "libkiln_test_plugin.so"
#endif

static void test_plugin(void **state)
{
    (void)state;
    assert_int_equal(kiln_load_plugin(NULL), KILN_ERROR_ARGUMENT);
    assert_int_equal(kiln_load_plugin("/nonexistent/libnothing.so"), KILN_ERROR_IO);
    assert_int_equal(kiln_load_plugin("libm.so.6"), KILN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(kiln_last_error(), "kiln_plugin_init_v1"));

    kiln_model *m = NULL;
    assert_int_equal(kiln_model_load(path_of("tests/data/custom_scale2x.onnx"), NULL, &m), KILN_ERROR_UNSUPPORTED);
    if (kiln_load_plugin(KILN_TEST_PLUGIN) != KILN_OK)
        fail_msg("loading %s: %s", KILN_TEST_PLUGIN, kiln_last_error());
    assert_int_equal(kiln_load_plugin(KILN_TEST_PLUGIN), KILN_OK); /* again: no-op */

    m = load_with("tests/data/custom_scale2x.onnx", NULL);
    for (int64_t batch = 1; batch <= 4; batch += 3) {
        kiln_tensor *x = kt_f32_random(2, (int64_t[]){batch, 4}, (uint32_t)batch, -1, 1);
        kiln_tensor *y = kt_run_model(m, x);
        kt_assert_shape(y, 2, (int64_t[]){batch, 4});
        for (int64_t i = 0; i < batch * 4; i++) {
            float v = 2.0f * ((float *)x->data)[i];
            assert_float_equal(((float *)y->data)[i], v > 0 ? v : 0, 0);
        }
        kiln_tensor_release(y);
        kiln_tensor_release(x);
    }
    /* A failed run (wrong dtype) leaves the output slot alone. */
    kiln_context *c = NULL;
    assert_int_equal(kiln_context_create(m, &c), KILN_OK);
    kiln_tensor *xi = kt_i64(KT_DIMS(1, 4), NULL);
    const char *name = "x";
    const kiln_tensor *in = xi;
    kiln_tensor *y = NULL;
    assert_int_not_equal(kiln_context_run(c, 1, &name, &in, 1, NULL, &y), KILN_OK);
    assert_null(y);
    kiln_tensor_release(xi);
    kiln_context_release(c);
    kiln_model_release(m);
}

/* The public op table mirrors the descriptors: same entries in the same
 * order, dtype lists as the op declares them (each a real, distinct type). */
static void test_op_table(void **state)
{
    (void)state;
    size_t n = kiln_op_count();
    assert_true(n > 100);
    assert_int_equal(n, kn_op_count());
    bool saw_conv = false, saw_upgrade = false;
    for (size_t i = 0; i < n; i++) {
        kiln_op_info info;
        memset(&info, 0xab, sizeof info);
        assert_int_equal(kiln_op_get_info(i, &info), KILN_OK);
        const kn_op *op = kn_op_at(i);
        assert_string_equal(info.domain, op->domain);
        assert_string_equal(info.name, op->name);
        assert_int_equal(info.since_min, op->since_min);
        assert_int_equal(info.since_max, op->since_max);
        assert_true(info.since_max == 0 || info.since_max >= info.since_min);
        assert_int_equal(info.upgrade_only, !op->infer);
        assert_int_equal(info.fast, (op->flags & KN_OP_FAST) != 0);
        assert_true(info.dtype_input >= 0);
        assert_true((info.n_dtypes == 0) == (info.dtypes == NULL));
        for (size_t k = 0; k < info.n_dtypes; k++) {
            assert_string_not_equal(kiln_dtype_name(info.dtypes[k]), "undefined");
            for (size_t j = 0; j < k; j++)
                assert_int_not_equal(info.dtypes[j], info.dtypes[k]);
        }
        if (!strcmp(info.name, "Conv")) {
            saw_conv = true;
            assert_true(info.fast);
            assert_int_equal(info.n_dtypes, 2);
            assert_int_equal(info.dtypes[0], KILN_DTYPE_FLOAT);
        }
        saw_upgrade = saw_upgrade || info.upgrade_only;
    }
    assert_true(saw_conv && saw_upgrade);
    kiln_op_info info;
    assert_int_equal(kiln_op_get_info(n, &info), KILN_ERROR_ARGUMENT);
    assert_non_null(strstr(kiln_last_error(), "out of range"));
    assert_int_equal(kiln_op_get_info(0, NULL), KILN_ERROR_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_release_null),
        cmocka_unit_test(test_out_params_untouched),
        cmocka_unit_test(test_host_allocator),
        cmocka_unit_test(test_log_callback),
        cmocka_unit_test(test_host_thread_pool),
        cmocka_unit_test(test_arena_limit),
        cmocka_unit_test(test_isa_cap_same_results),
        cmocka_unit_test(test_load_buffer),
        cmocka_unit_test(test_interrupt),
        cmocka_unit_test(test_custom_op_in_process),
        cmocka_unit_test(test_plugin),
        cmocka_unit_test(test_op_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
