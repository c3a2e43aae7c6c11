/* Concurrency: one shared model, 8 threads x 200 runs, each thread with its
 * own context, inputs of different values and batch sizes (so contexts
 * re-plan all the time), half the runs into caller buffers. Every output must
 * equal, bit for bit, the single-threaded reference computed up front.
 * scripts/test.sh also runs this under ThreadSanitizer (build-tsan).
 * KILN_STRESS_RUNS overrides the runs per thread. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>

#define N_THREADS 8
#define N_CASES 12

typedef struct stress_model {
    const char *path;
    const char *input;
    int rank;
    int64_t dims[4]; /* dims[0] is replaced by the case's batch size */
    bool fixed_batch;
} stress_model;

/* reshape_chain has a symbolic batch (Shape/Gather folded at plan time,
 * Conv, Gemm, Reshape); relu_chain is a plain chain on [N,16]; tiny_mobilenet
 * (fixed batch) shares packed Conv weights and fused epilogues. */
static const stress_model models[] = {
    {"models/reshape_chain/model.onnx", "input", 4, {0, 3, 8, 8}, false},
    {"tests/data/relu_chain.onnx", "x", 2, {0, 16, 0, 0}, false},
    {"models/tiny_mobilenet/model.onnx", "input", 4, {1, 3, 32, 32}, true},
};

typedef struct shared {
    const kiln_model *model;
    const char *input;
    kiln_tensor *inputs[N_CASES];
    kiln_tensor *refs[N_CASES];
    int runs;
    pthread_barrier_t start; /* all threads begin together */
    atomic_int failures;
    atomic_int done;
} shared;

typedef struct worker {
    shared *sh;
    int id;
    char error[256];
} worker;

static void fail_worker(worker *w, const char *fmt, int r, int k)
{
    atomic_fetch_add(&w->sh->failures, 1);
    if (!w->error[0])
        snprintf(w->error, sizeof w->error, fmt, w->id, r, k, kiln_last_error());
}

static void *work(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    kiln_context *c = NULL;
    kiln_status cs = kiln_context_create(sh->model, &c);
    pthread_barrier_wait(&sh->start);
    if (cs != KILN_OK) {
        fail_worker(w, "thread %d (%d, %d): context: %s", 0, 0);
        return NULL;
    }
    for (int r = 0; r < sh->runs; r++) {
        int k = (w->id * 7 + r * 5 + r / 3) % N_CASES;
        const kiln_tensor *in = sh->inputs[k];
        const kiln_tensor *ref = sh->refs[k];
        kiln_tensor *y = NULL;
        bool caller_buffer = (r + w->id) % 2 == 0;
        if (caller_buffer &&
            kiln_tensor_create(kiln_tensor_dtype(ref), kiln_tensor_rank(ref), kiln_tensor_dims(ref), &y) != KILN_OK) {
            fail_worker(w, "thread %d run %d case %d: output tensor: %s", r, k);
            break;
        }
        if (kiln_context_run(c, 1, &sh->input, &in, 1, NULL, &y) != KILN_OK) {
            fail_worker(w, "thread %d run %d case %d: %s", r, k);
            kiln_tensor_release(y);
            break;
        }
        if (kiln_tensor_byte_size(y) != kiln_tensor_byte_size(ref) ||
            memcmp(kiln_tensor_const_data(y), kiln_tensor_const_data(ref), kiln_tensor_byte_size(ref)) != 0)
            fail_worker(w, "thread %d run %d case %d: output differs from the reference (last error: %s)", r, k);
        kiln_tensor_release(y);
    }
    kiln_context_release(c);
    atomic_fetch_add(&sh->done, 1);
    return NULL;
}

static int runs_per_thread(void)
{
    const char *env = getenv("KILN_STRESS_RUNS");
    int n = env ? atoi(env) : 200;
    return n > 0 ? n : 200;
}

static void stress(const stress_model *sm)
{
    char path[4096];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/%s", src ? src : KILN_TEST_SOURCE_DIR, sm->path);
    /* One thread per context: the threads here are the parallelism. */
    kiln_options *o = NULL;
    assert_int_equal(kiln_options_create(&o), KILN_OK);
    assert_int_equal(kiln_options_set_threads(o, 1), KILN_OK);
    kiln_model *m = NULL;
    if (kiln_model_load(path, o, &m) != KILN_OK)
        fail_msg("%s: %s", sm->path, kiln_last_error());
    kiln_options_release(o);

    shared sh = {.model = m, .input = sm->input, .runs = runs_per_thread()};
    atomic_init(&sh.failures, 0);
    atomic_init(&sh.done, 0);
    static const int64_t batches[] = {1, 2, 3, 5, 16, 4};
    kiln_context *ref_ctx = NULL;
    assert_int_equal(kiln_context_create(m, &ref_ctx), KILN_OK);
    for (int k = 0; k < N_CASES; k++) {
        int64_t dims[4];
        memcpy(dims, sm->dims, sizeof dims);
        if (!sm->fixed_batch)
            dims[0] = batches[k % 6];
        sh.inputs[k] = kt_f32_random(sm->rank, dims, (uint32_t)(100 + k), -2, 2);
        const kiln_tensor *in = sh.inputs[k];
        assert_int_equal(kiln_context_run(ref_ctx, 1, &sh.input, &in, 1, NULL, &sh.refs[k]), KILN_OK);
    }
    kiln_context_release(ref_ctx);

    worker workers[N_THREADS];
    pthread_t threads[N_THREADS];
    assert_int_equal(pthread_barrier_init(&sh.start, NULL, N_THREADS), 0);
    for (int i = 0; i < N_THREADS; i++) {
        workers[i] = (worker){.sh = &sh, .id = i};
        assert_int_equal(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&sh.start);
    for (int i = 0; i < N_THREADS; i++)
        if (workers[i].error[0])
            print_error("%s\n", workers[i].error);
    print_message("%s: %d threads x %d runs, %d failures\n", sm->path, N_THREADS, sh.runs,
                  atomic_load(&sh.failures));
    assert_int_equal(atomic_load(&sh.failures), 0);
    assert_int_equal(atomic_load(&sh.done), N_THREADS);

    for (int k = 0; k < N_CASES; k++) {
        kiln_tensor_release(sh.inputs[k]);
        kiln_tensor_release(sh.refs[k]);
    }
    kiln_model_release(m);
}

static void test_stress_reshape_chain(void **state)
{
    (void)state;
    stress(&models[0]);
}

static void test_stress_relu_chain(void **state)
{
    (void)state;
    stress(&models[1]);
}

static void test_stress_tiny_mobilenet(void **state)
{
    (void)state;
    stress(&models[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress_reshape_chain),
        cmocka_unit_test(test_stress_relu_chain),
        cmocka_unit_test(test_stress_tiny_mobilenet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
