/* embed: kiln inside a server, in miniature. The model is loaded once and
 * shared; each worker thread owns a context (its plan and arena) and serves
 * requests on it, printing each request's latency.
 *
 *   embed MODEL [THREADS=4] [REQUESTS_PER_THREAD=8]
 *
 * Inputs are filled with a deterministic pattern; dimensions the model
 * leaves open are set to 1. Build: part of the CMake build (examples/embed),
 * or against an installed kiln: cc embed.c $(pkg-config --cflags --libs kiln) -lpthread */
#include <kiln.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_IO 16

typedef struct server {
    const kiln_model *model;
    size_t n_inputs;
    const char *input_names[MAX_IO];
    kiln_tensor *inputs[MAX_IO]; /* one request's payload, shared read-only */
    int requests;
    pthread_mutex_t print_lock;
} server;

typedef struct worker {
    server *srv;
    int id;
    int failed;
    double total_ms;
} worker;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* A request payload matching what the model declares. */
static kiln_status make_input(const kiln_value_info *info, kiln_tensor **out)
{
    int64_t dims[KILN_MAX_RANK];
    size_t rank = info->rank < 0 ? 0 : (size_t)info->rank;
    for (size_t d = 0; d < rank; d++)
        dims[d] = info->dims[d] < 0 ? 1 : info->dims[d];
    kiln_status s = kiln_tensor_create(info->dtype, rank, dims, out);
    if (s != KILN_OK || info->dtype != KILN_DTYPE_FLOAT)
        return s;
    float *x = kiln_tensor_data(*out);
    for (int64_t i = 0; i < kiln_tensor_element_count(*out); i++)
        x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return KILN_OK;
}

static void *serve(void *arg)
{
    worker *w = arg;
    server *srv = w->srv;
    kiln_context *ctx = NULL;
    if (kiln_context_create(srv->model, &ctx) != KILN_OK) {
        fprintf(stderr, "worker %d: %s\n", w->id, kiln_last_error());
        w->failed = 1;
        return NULL;
    }
    size_t n_out = kiln_model_output_count(srv->model);
    for (int r = 0; r < srv->requests; r++) {
        kiln_tensor *outputs[MAX_IO] = {0};
        double t0 = now_ms();
        kiln_status s = kiln_context_run(ctx, srv->n_inputs, srv->input_names,
                                         (const kiln_tensor *const *)srv->inputs, n_out, NULL, outputs);
        double ms = now_ms() - t0;
        if (s != KILN_OK) {
            fprintf(stderr, "worker %d request %d: %s\n", w->id, r, kiln_last_error());
            w->failed = 1;
            break;
        }
        w->total_ms += ms;
        pthread_mutex_lock(&srv->print_lock);
        printf("worker %d request %d: %.3f ms\n", w->id, r, ms);
        pthread_mutex_unlock(&srv->print_lock);
        for (size_t i = 0; i < n_out; i++)
            kiln_tensor_release(outputs[i]);
    }
    kiln_context_release(ctx);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [THREADS=4] [REQUESTS_PER_THREAD=8]\n", argv[0]);
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 4;
    int requests = argc > 3 ? atoi(argv[3]) : 8;
    if (threads < 1 || threads > 256 || requests < 1) {
        fprintf(stderr, "embed: THREADS must be 1..256 and REQUESTS_PER_THREAD >= 1\n");
        return 2;
    }

    /* Requests run in parallel on separate threads: each one single-threaded. */
    kiln_options *opt = NULL;
    kiln_model *model = NULL;
    if (kiln_options_create(&opt) != KILN_OK || kiln_options_set_threads(opt, 1) != KILN_OK ||
        kiln_model_load(argv[1], opt, &model) != KILN_OK) {
        fprintf(stderr, "embed: %s\n", kiln_last_error());
        kiln_options_release(opt);
        return 1;
    }
    kiln_options_release(opt);

    server srv = {.model = model, .requests = requests};
    pthread_mutex_init(&srv.print_lock, NULL);
    srv.n_inputs = kiln_model_input_count(model);
    int rc = 0;
    if (srv.n_inputs > MAX_IO || kiln_model_output_count(model) > MAX_IO) {
        fprintf(stderr, "embed: at most %d inputs and outputs\n", MAX_IO);
        rc = 1;
    }
    for (size_t i = 0; rc == 0 && i < srv.n_inputs; i++) {
        kiln_value_info info;
        if (kiln_model_input_info(model, i, &info) != KILN_OK || make_input(&info, &srv.inputs[i]) != KILN_OK) {
            fprintf(stderr, "embed: input %zu: %s\n", i, kiln_last_error());
            rc = 1;
        }
        srv.input_names[i] = info.name;
    }

    worker *workers = calloc((size_t)threads, sizeof *workers);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (rc == 0 && (!workers || !tids)) {
        fprintf(stderr, "embed: out of memory\n");
        rc = 1;
    }
    int started = 0;
    double t0 = now_ms();
    for (; rc == 0 && started < threads; started++) {
        workers[started] = (worker){.srv = &srv, .id = started};
        if (pthread_create(&tids[started], NULL, serve, &workers[started]) != 0) {
            fprintf(stderr, "embed: cannot start thread %d\n", started);
            rc = 1;
            break;
        }
    }
    double sum = 0.0;
    for (int i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
        rc |= workers[i].failed;
        sum += workers[i].total_ms;
    }
    double wall = now_ms() - t0;
    if (rc == 0)
        printf("%d requests on %d threads: mean latency %.3f ms, %.1f requests/s\n", threads * requests, threads,
               sum / (threads * requests), threads * requests / (wall / 1e3));

    free(workers);
    free(tids);
    for (size_t i = 0; i < srv.n_inputs; i++)
        kiln_tensor_release(srv.inputs[i]);
    pthread_mutex_destroy(&srv.print_lock);
    kiln_model_release(model);
    return rc;
}
