/* Times kiln's packed-GEMM convolution on ResNet-50's conv shapes (batch 1),
 * each layer alone, best of N runs: on a shared machine the minimum is far
 * less noisy than the median (and with --threads 1 the time is the thread's
 * CPU time, see now()). Prints GFLOP/s and % of the --peak.
 *
 *   cc -O2 -I src -I include bench/conv_layers.c build/libkiln.a -lm -lpthread \
 *      $(pkg-config --libs libpthreadpool 2>/dev/null || echo -lpthreadpool) -o build/conv_layers
 *   build/conv_layers [--reps 20] [--peak 117] [--threads 1] [--isa 0|1|2] [--only NAME]
 *                     [--residual 1] [--cold 1] [--nchwc 1]
 *
 * --residual adds a residual input in the epilogue (as ResNet's conv3 and
 * downsample layers have); --cold evicts the caches before each run (64 MiB
 * written), as in a whole model where a layer's weights, input and residual
 * were last touched several layers ago. --nchwc times the blocked-layout
 * convolution (kn_nchwc_conv_run) instead, its input reordered to blocked
 * once outside the timing (plain NCHW input for the 3-channel stem). */
#include "ops/conv_fast.h"
#include "ops/nchwc.h"
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct layer {
    const char *name;
    int64_t C, H, M, K, S, P;
    int reps; /* how many times it occurs in the model */
} layer;

static const layer layers[] = {
    {"conv1 7x7/2", 3, 224, 64, 7, 2, 3, 1},
    {"l1 1x1 64-64", 64, 56, 64, 1, 1, 0, 1},
    {"l1 3x3 64", 64, 56, 64, 3, 1, 1, 3},
    {"l1 1x1 64-256", 64, 56, 256, 1, 1, 0, 4},
    {"l1 1x1 256-64", 256, 56, 64, 1, 1, 0, 2},
    {"l2 1x1 256-128", 256, 56, 128, 1, 1, 0, 1},
    {"l2 3x3/2 128", 128, 56, 128, 3, 2, 1, 1},
    {"l2 1x1/2 256-512", 256, 56, 512, 1, 2, 0, 1},
    {"l2 3x3 128", 128, 28, 128, 3, 1, 1, 3},
    {"l2 1x1 128-512", 128, 28, 512, 1, 1, 0, 4},
    {"l2 1x1 512-128", 512, 28, 128, 1, 1, 0, 3},
    {"l3 1x1 512-256", 512, 28, 256, 1, 1, 0, 1},
    {"l3 3x3/2 256", 256, 28, 256, 3, 2, 1, 1},
    {"l3 1x1/2 512-1024", 512, 28, 1024, 1, 2, 0, 1},
    {"l3 3x3 256", 256, 14, 256, 3, 1, 1, 5},
    {"l3 1x1 256-1024", 256, 14, 1024, 1, 1, 0, 6},
    {"l3 1x1 1024-256", 1024, 14, 256, 1, 1, 0, 5},
    {"l4 1x1 1024-512", 1024, 14, 512, 1, 1, 0, 1},
    {"l4 3x3/2 512", 512, 14, 512, 3, 2, 1, 1},
    {"l4 1x1/2 1024-2048", 1024, 14, 2048, 1, 2, 0, 1},
    {"l4 3x3 512", 512, 7, 512, 3, 1, 1, 2},
    {"l4 1x1 512-2048", 512, 7, 2048, 1, 1, 0, 3},
    {"l4 1x1 2048-512", 2048, 7, 512, 1, 1, 0, 2},
};

/* With one thread, CPU time of this thread: it stops while another process
 * has the core, which on a shared machine removes most of the noise. */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(clock_id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int reps = 20, threads = 1, isa = -1;
    double peak = 117.0;
    const char *only = NULL;
    int with_residual = 0, cold = 0, nchwc = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--peak"))
            peak = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--isa"))
            isa = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only"))
            only = argv[i + 1];
        else if (!strcmp(argv[i], "--residual"))
            with_residual = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cold"))
            cold = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--nchwc"))
            nchwc = atoi(argv[i + 1]);
    }
    if (threads == 1)
        clock_id = CLOCK_THREAD_CPUTIME_ID;
    kn_isa_level level = isa >= 0 ? (kn_isa_level)isa : kn_cpu_isa(KILN_ISA_AUTO);
    pthreadpool_t pool = threads > 1 ? pthreadpool_create((size_t)threads) : NULL;
    double total_best = 0, total_flop = 0;
    size_t evict_n = (size_t)64 << 18; /* floats: 64 MiB */
    float *evict = cold ? calloc(evict_n, sizeof(float)) : NULL;
    printf("%-20s %9s %9s %8s %7s\n", "layer", "best ms", "med ms", "GFLOP/s", "%peak");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *L = &layers[li];
        if (only && !strstr(L->name, only))
            continue;
        int64_t OH = (L->H + 2 * L->P - L->K) / L->S + 1, OW = OH;
        int64_t xs = L->C * L->H * L->H, ws = L->M * L->C * L->K * L->K;
        float *x = malloc((size_t)xs * 4), *w = malloc((size_t)ws * 4), *b = malloc((size_t)L->M * 4);
        /* blocked outputs are padded to whole blocks of 16 channels */
        const int64_t ysb = (L->M + 15) / 16 * 16 * OH * OW;
        float *y = malloc((size_t)ysb * 4), *r = malloc((size_t)ysb * 4);
        for (int64_t i = 0; i < xs; i++)
            x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (int64_t i = 0; i < ws; i++)
            w[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        for (int64_t i = 0; i < L->M; i++)
            b[i] = 0.01f * (float)i;
        for (int64_t i = 0; i < ysb; i++)
            r[i] = 0.5f;
        const bool nchw_in = L->C < 16;
        kn_nchwc_conv *np = NULL;
        float *xb = NULL;
        if (nchwc) {
            if (kn_nchwc_conv_pack(L->M, L->C, L->K, L->K, w, b, nchw_in, level, &np) != KILN_OK)
                return 1;
            const int64_t CB = (L->C + 15) / 16, HW = L->H * L->H;
            xb = calloc((size_t)(CB * 16 * HW), sizeof(float));
            for (int64_t c = 0; c < L->C; c++)
                for (int64_t i = 0; i < HW; i++)
                    xb[(c / 16 * HW + i) * 16 + c % 16] = x[c * HW + i];
        }
        kn_conv2d_packed *p;
        if (kn_conv2d_pack(L->M, L->C, 1, L->K, L->K, w, b, level, &p) != KILN_OK)
            return 1;
        kn_conv2d_geom g = {L->S, L->S, 1, 1, L->P, L->P};
        size_t sb = kn_conv2d_scratch(p, OH, OW, (size_t)threads);
        void *scratch = kn_aligned_alloc(sb ? sb : 64);
        kn_epilogue act = {.act = KN_ACT_RELU};
        double *t = malloc(sizeof(double) * (size_t)reps);
        for (int i = -2; i < reps; i++) {
            for (size_t e = 0; evict && e < evict_n; e += 16)
                evict[e] += 1.0f;
            double t0 = now();
            if (np)
                kn_nchwc_conv_run(np, &g, 1, L->H, L->H, OH, OW, nchw_in ? x : xb, y, with_residual ? r : NULL,
                                  &act, pool);
            else
                kn_conv2d_run(p, &g, 1, L->H, L->H, OH, OW, x, y, with_residual ? r : NULL, &act, scratch, sb,
                              pool);
            if (i >= 0)
                t[i] = now() - t0;
        }
        for (int i = 1; i < reps; i++)
            for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
                double s = t[j];
                t[j] = t[j - 1];
                t[j - 1] = s;
            }
        double flop = 2.0 * (double)L->M * (double)(L->C * L->K * L->K) * (double)(OH * OW);
        double gf = flop / t[0] * 1e-9;
        printf("%-20s %9.3f %9.3f %8.1f %6.1f%%  x%d\n", L->name, t[0] * 1e3, t[reps / 2] * 1e3, gf,
               100.0 * gf / (peak * threads), L->reps);
        total_best += t[0] * L->reps;
        total_flop += flop * L->reps;
        free(t);
        kn_aligned_free(scratch);
        kn_conv2d_packed_free(p);
        kn_nchwc_conv_free(np);
        free(xb);
        free(x), free(w), free(b), free(y), free(r);
    }
    printf("all convs (weighted by count): best %.2f ms, %.1f GFLOP/s, %.1f%% of peak\n", total_best * 1e3,
           total_flop / total_best * 1e-9, 100.0 * total_flop / total_best * 1e-9 / (peak * threads));
    free(evict);
    if (pool)
        pthreadpool_destroy(pool);
    return 0;
}
