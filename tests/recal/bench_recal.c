/* Recalibration throughput vs inference throughput on the same model, batch
 * and thread count. Uses only the public API.
 *
 *   bench_recal MODEL BATCH.npy [repeats] [threads]
 *
 * prints samples/s for: inference with BN kept (fuse-bn disabled),
 * inference with BN folded (kiln's default), recalibration train mode
 * (pooled) and torch variance. Build (after the library):
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -Iinclude tests/recal/bench_recal.c \
 *       -Lbuild -lkiln -Wl,-rpath,$PWD/build -o build/bench_recal
 */
#include "kiln.h"
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_recal: %s: %s\n", what, kiln_last_error());
    return 1;
}

static int bench_inference(const char *path, const kiln_tensor *x, int repeats, int threads, int fold, double *rate)
{
    kiln_options *o = NULL;
    kiln_model *m = NULL;
    kiln_context *c = NULL;
    if (kiln_options_create(&o) || kiln_options_set_threads(o, threads) ||
        (!fold && kiln_options_disable_pass(o, "fuse-bn")) || kiln_model_load(path, o, &m) ||
        kiln_context_create(m, &c))
        return fail("load");
    kiln_value_info in;
    kiln_model_input_info(m, 0, &in);
    const char *names[1] = {in.name};
    size_t n_out = kiln_model_output_count(m);
    kiln_tensor *outs[16] = {0};
    /* warm-up run plans the shapes */
    if (kiln_context_run(c, 1, names, &x, n_out, NULL, outs))
        return fail("run");
    for (size_t i = 0; i < n_out; i++) {
        kiln_tensor_release(outs[i]);
        outs[i] = NULL;
    }
    double t0 = now_s();
    for (int r = 0; r < repeats; r++) {
        if (kiln_context_run(c, 1, names, &x, n_out, NULL, outs))
            return fail("run");
        for (size_t i = 0; i < n_out; i++) {
            kiln_tensor_release(outs[i]);
            outs[i] = NULL;
        }
    }
    *rate = (double)repeats * (double)kiln_tensor_dims(x)[0] / (now_s() - t0);
    kiln_context_release(c);
    kiln_model_release(m);
    kiln_options_release(o);
    return 0;
}

static int bench_recal(const char *path, const kiln_tensor *x, int repeats, int threads, int torch, double *rate)
{
    kiln_recal_config cfg;
    kiln_recal_config_init(&cfg);
    cfg.threads = threads;
    cfg.variance = torch ? KILN_RECAL_VARIANCE_TORCH : KILN_RECAL_VARIANCE_POOLED;
    kiln_recal *r = NULL;
    if (kiln_recal_create(path, &cfg, &r) || kiln_recal_feed(r, x))
        return fail("recal");
    double t0 = now_s();
    for (int i = 0; i < repeats; i++)
        if (kiln_recal_feed(r, x))
            return fail("feed");
    *rate = (double)repeats * (double)kiln_tensor_dims(x)[0] / (now_s() - t0);
    if (kiln_recal_finish(r))
        return fail("finish");
    kiln_recal_release(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_recal MODEL BATCH.npy [repeats] [threads]\n");
        return 2;
    }
    int repeats = argc > 3 ? atoi(argv[3]) : 10, threads = argc > 4 ? atoi(argv[4]) : 0;
    kiln_tensor *x = NULL;
    if (kiln_tensor_read_file(argv[2], &x))
        return fail(argv[2]);
    double inf_bn, inf_fold, rec, rec_torch;
    if (bench_inference(argv[1], x, repeats, threads, 0, &inf_bn) ||
        bench_inference(argv[1], x, repeats, threads, 1, &inf_fold) ||
        bench_recal(argv[1], x, repeats, threads, 0, &rec) || bench_recal(argv[1], x, repeats, threads, 1, &rec_torch))
        return 1;
    printf("batch %lld, %d repeats, threads %d\n", (long long)kiln_tensor_dims(x)[0], repeats, threads);
    printf("inference, BN kept (fuse-bn off):  %9.1f samples/s\n", inf_bn);
    printf("inference, BN folded (default):    %9.1f samples/s\n", inf_fold);
    printf("recalibrate train, pooled:         %9.1f samples/s  (%.0f%% of BN-kept inference)\n", rec,
           100 * rec / inf_bn);
    printf("recalibrate train, torch variance: %9.1f samples/s  (%.0f%%)\n", rec_torch, 100 * rec_torch / inf_bn);
    kiln_tensor_release(x);
    return 0;
}
