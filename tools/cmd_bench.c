/* `kiln bench`: time a model on random inputs the way bench/ort_bench.js
 * times ONNX Runtime (same input values, same median/p90 definitions), so
 * bench/run.sh can put the two side by side; optionally a per-layer profile. */
#include "cli_commands.h"
#include "cli_util.h"

#include <immintrin.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static const char bench_help[] =
    "Usage: kiln bench MODEL [options]\n"
    "\n"
    "Time a model on random inputs of its declared shape and print the\n"
    "median, min and p90 latency, throughput, load and planning time and the\n"
    "peak resident memory of the process.\n"
    "\n"
    "Options:\n"
    "  --threads N     worker threads (0 = all CPUs available, the default)\n"
    "  --batch B       size of an open first input dimension (default 1); an\n"
    "                  input whose first dimension is fixed must match it\n"
    "  --warmup W      untimed runs after the first (planning) run (default 5)\n"
    "  --iters K       timed runs (default 20)\n"
    "  --opt N         optimization level 0..3 (default 2; 3 = blocked layout\n"
    "                  on every CPU, see kiln_options_set_opt_level)\n"
    CLI_ISA_HELP
    "  --disable PASS  skip an optimizer pass (repeatable; e.g. nchwc, to time\n"
    "                  the NCHW path; names as kiln_options_disable_pass)\n"
    "  --json          print one JSON object instead of text (the fields of\n"
    "                  bench/ort_bench.js plus kiln's own)\n"
    "  --profile       also time every node during the timed runs and print a\n"
    "                  per-layer table sorted by time: ms per run, % of the\n"
    "                  total, GFLOP/s and % of the fp32 FMA peak\n"
    "  --peak GFLOPS   single-core fp32 peak for the % of peak column (with\n"
    "                  --profile); by default it is measured in ~0.1 s with an\n"
    "                  FMA loop using the widest vectors the CPU has (AVX-512F,\n"
    "                  else AVX2+FMA; AVX2+FMA under --isa avx2 or generic).\n"
    "                  The peak of a run is this times the thread count.\n"
    "  -h, --help      show this help\n"
    "\n"
    "Times: load = model load (parse, validate, optimize); plan = context\n"
    "creation plus the first run's wall time minus the time of the nodes it\n"
    "executed, i.e. planning for the input shapes. median/min/p90 are over the timed runs; median is\n"
    "the upper middle value and p90 the value at index floor(0.9 K) of the\n"
    "sorted times, as in ort_bench.js. Throughput = batch / median.\n"
    "Inputs: floats uniform in [-1,1) from the LCG ort_bench.js uses,\n"
    "integers 0..7, bools 0/1.\n";

enum { MAX_ITERS = 1000000, MAX_INPUTS = 256, MAX_RANK = 64, INT_RANDOM_RANGE = 8 };

typedef struct bench_args {
    const char *model_path;
    int64_t threads;
    int64_t batch;
    bool batch_given;
    int64_t warmup;
    int64_t iters;
    int64_t opt_level;
    kiln_isa isa;
    const char *disabled[16];
    int n_disabled;
    bool json;
    bool profile;
    double peak_gflops; /* 0: measure */
} bench_args;

static int parse_args(int argc, char **argv, bench_args *a, bool *help)
{
    cli_parser p;
    cli_parser_init(&p, "bench", argc, argv);
    const char *arg, *val;
    cli_arg_kind kind;
    bool peak_given = false;
    while ((kind = cli_next(&p, &arg)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL) {
            if (a->model_path)
                return cli_usage_error("bench", "unexpected argument '%s'", arg);
            a->model_path = arg;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            return CLI_EXIT_OK;
        } else if (strcmp(arg, "--threads") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("bench", arg, val, 0, 4096, &a->threads))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--batch") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("bench", arg, val, 1, 1 << 20, &a->batch))
                return CLI_EXIT_USAGE;
            a->batch_given = true;
        } else if (strcmp(arg, "--warmup") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("bench", arg, val, 0, MAX_ITERS, &a->warmup))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--iters") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("bench", arg, val, 1, MAX_ITERS, &a->iters))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--opt") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("bench", arg, val, 0, 3, &a->opt_level))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--isa") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_isa("bench", arg, val, &a->isa))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--disable") == 0) {
            if (!cli_option_value(&p, arg, &val))
                return CLI_EXIT_USAGE;
            if (a->n_disabled == (int)(sizeof a->disabled / sizeof a->disabled[0]))
                return cli_usage_error("bench", "too many --disable options");
            a->disabled[a->n_disabled++] = val;
        } else if (strcmp(arg, "--json") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            a->json = true;
        } else if (strcmp(arg, "--profile") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            a->profile = true;
        } else if (strcmp(arg, "--peak") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_nonneg_double("bench", arg, val, &a->peak_gflops))
                return CLI_EXIT_USAGE;
            if (a->peak_gflops <= 0)
                return cli_usage_error("bench", "--peak: expected a positive GFLOP/s value, got '%s'", val);
            peak_given = true;
        } else {
            return cli_usage_error("bench", "unknown option '%s'", arg);
        }
    }
    if (!a->model_path)
        return cli_usage_error("bench", "missing MODEL");
    if (peak_given && !a->profile)
        return cli_usage_error("bench", "--peak needs --profile");
    return CLI_EXIT_OK;
}

/* ---- inputs ------------------------------------------------------------ */

/* The generator of ort_bench.js, so both runtimes see the same floats. */
static void fill_random(kiln_tensor *t)
{
    uint32_t x = 12345;
    int64_t n = kiln_tensor_element_count(t);
    void *d = kiln_tensor_data(t);
    for (int64_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        double u = (double)x / 4294967296.0 * 2.0 - 1.0;
        switch (kiln_tensor_dtype(t)) {
        case KILN_DTYPE_FLOAT: ((float *)d)[i] = (float)u; break;
        case KILN_DTYPE_DOUBLE: ((double *)d)[i] = u; break;
        case KILN_DTYPE_FLOAT16: ((uint16_t *)d)[i] = cli_float_to_half((float)u); break;
        case KILN_DTYPE_BOOL: ((uint8_t *)d)[i] = (uint8_t)(x >> 31); break;
        case KILN_DTYPE_INT8: ((int8_t *)d)[i] = (int8_t)(x >> 29); break;
        case KILN_DTYPE_UINT8: ((uint8_t *)d)[i] = (uint8_t)(x >> 29); break;
        case KILN_DTYPE_INT32: ((int32_t *)d)[i] = (int32_t)(x >> 29); break;
        case KILN_DTYPE_INT64: ((int64_t *)d)[i] = (int64_t)(x >> 29); break;
        default: break; /* refused in make_input */
        }
    }
}

static bool random_dtype_ok(kiln_dtype dt)
{
    switch (dt) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_DOUBLE: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BOOL:
    case KILN_DTYPE_INT8: case KILN_DTYPE_UINT8: case KILN_DTYPE_INT32: case KILN_DTYPE_INT64:
        return true;
    default:
        return false;
    }
}

/* Open first dimension = the batch; any other open dimension has no size
 * bench could choose honestly, so it is refused by name. */
static int input_dims(const bench_args *a, const kiln_value_info *vi, int64_t *dims)
{
    if (vi->rank < 0)
        return cli_error("input '%s': the model declares no shape, so bench cannot make random data", vi->name);
    if (vi->rank > MAX_RANK)
        return cli_error("input '%s': rank %lld is too large", vi->name, (long long)vi->rank);
    for (int64_t d = 0; d < vi->rank; d++) {
        const char *sym = vi->dim_names ? vi->dim_names[d] : NULL;
        if (vi->dims[d] >= 0)
            dims[d] = vi->dims[d];
        else if (d == 0)
            dims[d] = a->batch;
        else
            return cli_error("input '%s': dimension %lld%s%s%s is open; bench only fills an open first "
                             "(batch) dimension",
                             vi->name, (long long)d, sym ? " '" : "", sym ? sym : "", sym ? "'" : "");
    }
    if (a->batch_given && vi->rank > 0 && vi->dims[0] >= 0 && vi->dims[0] != a->batch)
        return cli_error("input '%s': first dimension is fixed at %lld, so --batch %lld cannot apply", vi->name,
                         (long long)vi->dims[0], (long long)a->batch);
    return CLI_EXIT_OK;
}

static int make_input(const bench_args *a, const kiln_value_info *vi, kiln_tensor **out)
{
    if (!random_dtype_ok(vi->dtype))
        return cli_error("input '%s': bench cannot make random %s data", vi->name, kiln_dtype_name(vi->dtype));
    int64_t dims[MAX_RANK];
    int rc = input_dims(a, vi, dims);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (kiln_tensor_create(vi->dtype, (size_t)vi->rank, dims, out) != KILN_OK)
        return cli_fail("input '%s': random data", vi->name);
    fill_random(*out);
    return CLI_EXIT_OK;
}

/* ---- machine facts ----------------------------------------------------- */

/* VmHWM: the process's peak resident set, what ort_bench.js reports too. */
static uint64_t peak_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

static int cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

/* Twelve independent FMA chains hide the FMA latency, so the loop runs at
 * the core's FMA throughput; the best of a few short rounds skips the
 * clock ramp-up. The chains are named variables, not an array: at -O2 GCC
 * kept an accumulator array in memory and the loop measured store
 * forwarding, half the peak (bench/fma_peak.c is built with -O3 instead). */
enum { FMA_ITERS = 4000000, FMA_ROUNDS = 4 };

#define FMA_PEAK_FN(NAME, TARGET, VEC, SET1, FMADD, LANES, FIRST)                                                  \
    __attribute__((target(TARGET))) static double NAME(void)                                                      \
    {                                                                                                             \
        VEC a0 = SET1(0.f), a1 = SET1(1.f), a2 = SET1(2.f), a3 = SET1(3.f), a4 = SET1(4.f), a5 = SET1(5.f);      \
        VEC a6 = SET1(6.f), a7 = SET1(7.f), a8 = SET1(8.f), a9 = SET1(9.f), a10 = SET1(10.f), a11 = SET1(11.f);  \
        VEC m = SET1(0.999999f), c = SET1(1e-7f);                                                                 \
        double t0 = cli_now_ms();                                                                                 \
        for (long n = 0; n < FMA_ITERS; n++) {                                                                    \
            a0 = FMADD(a0, m, c), a1 = FMADD(a1, m, c), a2 = FMADD(a2, m, c), a3 = FMADD(a3, m, c);               \
            a4 = FMADD(a4, m, c), a5 = FMADD(a5, m, c), a6 = FMADD(a6, m, c), a7 = FMADD(a7, m, c);               \
            a8 = FMADD(a8, m, c), a9 = FMADD(a9, m, c), a10 = FMADD(a10, m, c), a11 = FMADD(a11, m, c);           \
            __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));                     \
        }                                                                                                         \
        double ms = cli_now_ms() - t0;                                                                            \
        volatile float sink = FIRST(a0) + FIRST(a1) + FIRST(a2) + FIRST(a3) + FIRST(a4) + FIRST(a5) + FIRST(a6) + \
                              FIRST(a7) + FIRST(a8) + FIRST(a9) + FIRST(a10) + FIRST(a11);                        \
        (void)sink;                                                                                               \
        return 2.0 * LANES * 12 * (double)FMA_ITERS / ms / 1e6;                                                   \
    }

FMA_PEAK_FN(fma_gflops_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, 8, _mm256_cvtss_f32)
FMA_PEAK_FN(fma_gflops_avx512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, 16, _mm512_cvtss_f32)

/* Single-core peak and the ISA it was measured with; 0 without AVX2+FMA.
 * A --isa below AVX-512 measures the AVX2 peak: the kernels that run. */
static double measure_peak(kiln_isa cap, const char **isa)
{
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f") && (cap == KILN_ISA_AUTO || cap == KILN_ISA_AVX512);
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    *isa = avx512 ? "avx512f" : avx2 ? "avx2+fma" : "none";
    double best = 0;
    for (int r = 0; r < FMA_ROUNDS && (avx512 || avx2); r++) {
        double g = avx512 ? fma_gflops_avx512() : fma_gflops_avx2();
        best = g > best ? g : best;
    }
    return best;
}

/* ---- timing ------------------------------------------------------------ */

typedef struct bench_state {
    kiln_model *model;
    kiln_context *ctx;
    size_t n_in, n_out;
    const char **in_names;
    kiln_tensor **inputs;
    kiln_tensor **outputs;
    double *times;
} bench_state;

typedef struct bench_result {
    double model_load_ms, plan_ms, first_run_ms;
    double median_ms, min_ms, p90_ms, mean_ms;
    uint64_t peak_rss;
    size_t arena_bytes;
    int64_t batch;
} bench_result;

static void bench_state_free(bench_state *st)
{
    for (size_t i = 0; st->inputs && i < st->n_in; i++)
        kiln_tensor_release(st->inputs[i]);
    for (size_t i = 0; st->outputs && i < st->n_out; i++)
        kiln_tensor_release(st->outputs[i]);
    free(st->in_names);
    free(st->inputs);
    free(st->outputs);
    free(st->times);
    kiln_context_release(st->ctx);
    kiln_model_release(st->model);
}

static int load(const bench_args *a, bench_state *st, bench_result *r)
{
    kiln_options *opts = NULL;
    if (kiln_options_create(&opts) != KILN_OK)
        return cli_fail("options");
    if (kiln_options_set_threads(opts, (int)a->threads) != KILN_OK ||
        kiln_options_set_opt_level(opts, (int)a->opt_level) != KILN_OK ||
        kiln_options_set_isa(opts, a->isa) != KILN_OK) {
        kiln_options_release(opts);
        return cli_fail("options");
    }
    for (int i = 0; i < a->n_disabled; i++)
        if (kiln_options_disable_pass(opts, a->disabled[i]) != KILN_OK) {
            kiln_options_release(opts);
            return cli_fail("--disable %s", a->disabled[i]);
        }
    double t0 = cli_now_ms();
    kiln_status s = kiln_model_load(a->model_path, opts, &st->model);
    r->model_load_ms = cli_now_ms() - t0;
    kiln_options_release(opts);
    if (s != KILN_OK)
        return cli_fail("cannot load model");
    st->n_in = kiln_model_input_count(st->model);
    st->n_out = kiln_model_output_count(st->model);
    if (st->n_in > MAX_INPUTS)
        return cli_error("model has %zu inputs; bench handles at most %d", st->n_in, MAX_INPUTS);
    st->in_names = calloc(st->n_in ? st->n_in : 1, sizeof *st->in_names);
    st->inputs = calloc(st->n_in ? st->n_in : 1, sizeof *st->inputs);
    st->outputs = calloc(st->n_out ? st->n_out : 1, sizeof *st->outputs);
    st->times = calloc((size_t)a->iters, sizeof *st->times);
    if (!st->in_names || !st->inputs || !st->outputs || !st->times)
        return cli_error("out of memory");
    for (size_t i = 0; i < st->n_in; i++) {
        kiln_value_info vi;
        if (kiln_model_input_info(st->model, i, &vi) != KILN_OK)
            return cli_fail("input %zu", i);
        st->in_names[i] = vi.name;
        int rc = make_input(a, &vi, &st->inputs[i]);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    return CLI_EXIT_OK;
}

/* Outputs are created by the first run and written in place afterwards, so
 * timed runs measure inference, not output allocation. */
static int run_once(bench_state *st)
{
    if (kiln_context_run(st->ctx, st->n_in, st->in_names, (const kiln_tensor *const *)st->inputs, st->n_out,
                         NULL, st->outputs) != KILN_OK)
        return cli_fail("run");
    return CLI_EXIT_OK;
}

static double profiled_step_ms(const kiln_context *ctx)
{
    double sum = 0;
    for (size_t i = 0; i < kiln_context_profile_count(ctx); i++) {
        kiln_profile_entry e;
        if (kiln_context_profile_entry(ctx, i, &e) == KILN_OK)
            sum += e.total_ms;
    }
    return sum;
}

/* The first run plans and executes; profiling it tells the two apart
 * through the public API: what its nodes did not account for is planning. */
static int first_run(bench_state *st, bench_result *r)
{
    double t0 = cli_now_ms();
    if (kiln_context_create(st->model, &st->ctx) != KILN_OK)
        return cli_fail("cannot create context");
    double create_ms = cli_now_ms() - t0;
    if (kiln_context_enable_profiling(st->ctx, 1) != KILN_OK)
        return cli_fail("profiling");
    t0 = cli_now_ms();
    int rc = run_once(st);
    r->first_run_ms = cli_now_ms() - t0;
    if (rc != CLI_EXIT_OK)
        return rc;
    double unaccounted = r->first_run_ms - profiled_step_ms(st->ctx);
    r->plan_ms = create_ms + (unaccounted > 0 ? unaccounted : 0);
    if (kiln_context_enable_profiling(st->ctx, 0) != KILN_OK)
        return cli_fail("profiling");
    return CLI_EXIT_OK;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static int timed_runs(const bench_args *a, bench_state *st, bench_result *r)
{
    for (int64_t i = 0; i < a->warmup; i++) {
        int rc = run_once(st);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    /* Enabling resets the counters, so the profile covers exactly the timed runs. */
    if (a->profile && kiln_context_enable_profiling(st->ctx, 1) != KILN_OK)
        return cli_fail("profiling");
    double sum = 0;
    for (int64_t i = 0; i < a->iters; i++) {
        double t0 = cli_now_ms();
        int rc = run_once(st);
        st->times[i] = cli_now_ms() - t0;
        if (rc != CLI_EXIT_OK)
            return rc;
        sum += st->times[i];
    }
    size_t k = (size_t)a->iters;
    qsort(st->times, k, sizeof *st->times, cmp_double);
    r->median_ms = st->times[k / 2];
    r->min_ms = st->times[0];
    r->p90_ms = st->times[(size_t)((double)k * 0.9)];
    r->mean_ms = sum / (double)k;
    r->arena_bytes = kiln_context_arena_bytes(st->ctx);
    r->peak_rss = peak_rss_bytes();
    return CLI_EXIT_OK;
}

/* ---- profile ----------------------------------------------------------- */

typedef struct layer {
    kiln_profile_entry e;
    double ms_per_run;
} layer;

static int cmp_layer_desc(const void *x, const void *y)
{
    double a = ((const layer *)x)->e.total_ms, b = ((const layer *)y)->e.total_ms;
    return a > b ? -1 : a < b;
}

/* Profile entries sorted by total time (NULL on OOM). */
static layer *sorted_layers(const kiln_context *ctx, size_t *n, double *total_ms)
{
    *n = kiln_context_profile_count(ctx);
    *total_ms = 0;
    layer *l = calloc(*n ? *n : 1, sizeof *l);
    if (!l)
        return NULL;
    for (size_t i = 0; i < *n; i++) {
        if (kiln_context_profile_entry(ctx, i, &l[i].e) != KILN_OK) {
            free(l);
            return NULL;
        }
        l[i].ms_per_run = l[i].e.calls ? l[i].e.total_ms / (double)l[i].e.calls : 0;
        *total_ms += l[i].ms_per_run;
    }
    qsort(l, *n, sizeof *l, cmp_layer_desc);
    return l;
}

static double layer_gflops(const layer *l)
{
    return l->e.flops > 0 && l->ms_per_run > 0 ? l->e.flops / l->ms_per_run / 1e6 : 0;
}

enum { NAME_WIDTH = 48 };

/* Exported node names are paths whose end tells layers apart, so a long
 * one keeps its tail. */
static const char *shown_name(const char *name, char *buf)
{
    if (!name)
        return "";
    size_t len = strlen(name);
    if (len <= NAME_WIDTH)
        return name;
    snprintf(buf, NAME_WIDTH + 1, "...%s", name + len - (NAME_WIDTH - 3));
    return buf;
}

static void print_profile_table(const layer *l, size_t n, double total_ms, double peak)
{
    printf("\nper-layer profile (sorted by time; GFLOP/s only for Conv, Gemm, MatMul):\n");
    printf("%4s  %-*s %-18s %9s %7s %9s %7s\n", "#", NAME_WIDTH, "node", "op", "ms/run", "%total", "GFLOP/s",
           "%peak");
    for (size_t i = 0; i < n; i++) {
        double g = layer_gflops(&l[i]);
        char name[NAME_WIDTH + 1];
        printf("%4zu  %-*s %-18.18s %9.3f %6.1f%%", i + 1, NAME_WIDTH, shown_name(l[i].e.node_name, name),
               l[i].e.op_type, l[i].ms_per_run, total_ms > 0 ? 100.0 * l[i].ms_per_run / total_ms : 0.0);
        if (g > 0 && peak > 0)
            printf(" %9.1f %6.1f%%\n", g, 100.0 * g / peak);
        else if (g > 0)
            printf(" %9.1f %7s\n", g, "-");
        else
            printf(" %9s %7s\n", "-", "-");
    }
    printf("%4s  %-*s %-18s %9.3f %6.1f%%\n", "", NAME_WIDTH, "sum of nodes", "", total_ms, 100.0);
}

/* Time per op type: which kind of layer dominates. */
static void print_op_summary(const layer *l, size_t n, double total_ms)
{
    const char **ops = calloc(n ? n : 1, sizeof *ops);
    double *ms = calloc(n ? n : 1, sizeof *ms);
    if (!ops || !ms) {
        free(ops);
        free(ms);
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m && strcmp(ops[j], l[i].e.op_type) != 0)
            j++;
        if (j == m)
            ops[m++] = l[i].e.op_type;
        ms[j] += l[i].ms_per_run;
    }
    printf("\nby op type:\n");
    /* l is sorted by time, so the first appearance order is nearly sorted;
     * a selection pass makes it exact. */
    for (size_t i = 0; i < m; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < m; j++)
            if (ms[j] > ms[best])
                best = j;
        const char *to = ops[i];
        double tm = ms[i];
        ops[i] = ops[best], ms[i] = ms[best];
        ops[best] = to, ms[best] = tm;
        printf("  %-22s %9.3f ms %6.1f%%\n", ops[i], ms[i], total_ms > 0 ? 100.0 * ms[i] / total_ms : 0.0);
    }
    free(ops);
    free(ms);
}

static void print_profile_json(const layer *l, size_t n, double total_ms, double peak)
{
    printf(",\"profile\":[");
    for (size_t i = 0; i < n; i++) {
        double g = layer_gflops(&l[i]);
        printf("%s{\"node\":", i ? "," : "");
        cli_json_string(stdout, l[i].e.node_name ? l[i].e.node_name : "");
        printf(",\"op\":");
        cli_json_string(stdout, l[i].e.op_type);
        printf(",\"ms_per_run\":%.6f,\"percent\":%.3f,\"flops\":%.0f,\"gflops\":%.3f", l[i].ms_per_run,
               total_ms > 0 ? 100.0 * l[i].ms_per_run / total_ms : 0.0, l[i].e.flops, g);
        if (g > 0 && peak > 0)
            printf(",\"percent_of_peak\":%.3f", 100.0 * g / peak);
        printf("}");
    }
    printf("]");
}

/* ---- output ------------------------------------------------------------ */

static void print_text(const bench_args *a, const bench_state *st, const bench_result *r, int threads)
{
    char type[512], rss[32], arena[32];
    printf("model: %s\n", a->model_path);
    for (size_t i = 0; i < st->n_in; i++)
        printf("input '%s': %s\n", st->in_names[i], cli_format_tensor_type(st->inputs[i], type, sizeof type));
    printf("threads: %d%s  opt level: %lld  warmup: %lld  iters: %lld\n", threads,
           a->threads == 0 ? " (all available)" : "", (long long)a->opt_level, (long long)a->warmup,
           (long long)a->iters);
    printf("load: %.2f ms model + %.2f ms plan = %.2f ms (first run %.2f ms)\n", r->model_load_ms, r->plan_ms,
           r->model_load_ms + r->plan_ms, r->first_run_ms);
    printf("latency: median %.3f ms  min %.3f ms  p90 %.3f ms  mean %.3f ms\n", r->median_ms, r->min_ms,
           r->p90_ms, r->mean_ms);
    printf("throughput: %.2f samples/s (batch %lld)\n", (double)r->batch * 1e3 / r->median_ms,
           (long long)r->batch);
    printf("peak RSS: %s (arena %s)\n", cli_format_bytes((double)r->peak_rss, rss, sizeof rss),
           cli_format_bytes((double)r->arena_bytes, arena, sizeof arena));
}

static void print_json_head(const bench_args *a, const bench_result *r, int threads)
{
    printf("{\"runtime\":\"kiln\",\"version\":");
    cli_json_string(stdout, kiln_version());
    printf(",\"model\":");
    cli_json_string(stdout, a->model_path);
    printf(",\"threads\":%d,\"batch\":%lld,\"median_ms\":%.6f,\"min_ms\":%.6f,\"p90_ms\":%.6f,"
           "\"load_ms\":%.6f,\"peak_rss_bytes\":%llu",
           threads, (long long)r->batch, r->median_ms, r->min_ms, r->p90_ms, r->model_load_ms + r->plan_ms,
           (unsigned long long)r->peak_rss);
    printf(",\"mean_ms\":%.6f,\"throughput_per_s\":%.6f,\"model_load_ms\":%.6f,\"plan_ms\":%.6f,"
           "\"first_run_ms\":%.6f,\"arena_bytes\":%zu,\"warmup\":%lld,\"iters\":%lld,\"opt_level\":%lld",
           r->mean_ms, (double)r->batch * 1e3 / r->median_ms, r->model_load_ms, r->plan_ms, r->first_run_ms,
           r->arena_bytes, (long long)a->warmup, (long long)a->iters, (long long)a->opt_level);
}

static int report_profile(const bench_args *a, const bench_state *st, int threads)
{
    const char *isa = "given";
    double core_peak = a->peak_gflops > 0 ? a->peak_gflops : measure_peak(a->isa, &isa);
    double peak = core_peak * threads;
    size_t n;
    double total_ms;
    layer *l = sorted_layers(st->ctx, &n, &total_ms);
    if (!l)
        return cli_fail("profile");
    if (a->json) {
        printf(",\"peak_gflops\":%.3f,\"peak_source\":", peak);
        cli_json_string(stdout, isa);
        print_profile_json(l, n, total_ms, peak);
    } else {
        if (core_peak > 0)
            printf("peak: %.1f GFLOP/s = %d thread%s x %.1f (%s%s)\n", peak, threads, threads == 1 ? "" : "s",
                   core_peak, a->peak_gflops > 0 ? "--peak" : "measured, ", a->peak_gflops > 0 ? "" : isa);
        else
            printf("peak: unknown (no AVX2+FMA; give --peak)\n");
        print_profile_table(l, n, total_ms, peak);
        print_op_summary(l, n, total_ms);
    }
    free(l);
    return CLI_EXIT_OK;
}

static int execute(const bench_args *a, bench_state *st)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.batch = a->batch;
    int rc = load(a, st, &r);
    if (rc == CLI_EXIT_OK && st->n_in > 0 && kiln_tensor_rank(st->inputs[0]) > 0)
        r.batch = kiln_tensor_dims(st->inputs[0])[0];
    if (rc == CLI_EXIT_OK)
        rc = first_run(st, &r);
    if (rc == CLI_EXIT_OK)
        rc = timed_runs(a, st, &r);
    if (rc != CLI_EXIT_OK)
        return rc;
    int threads = a->threads > 0 ? (int)a->threads : cpus_available();
    if (a->json)
        print_json_head(a, &r, threads);
    else
        print_text(a, st, &r, threads);
    if (a->profile)
        rc = report_profile(a, st, threads);
    if (a->json)
        printf("}\n");
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    bench_args a = {.batch = 1, .warmup = 5, .iters = 20, .opt_level = 2};
    bool help = false;
    int rc = parse_args(argc, argv, &a, &help);
    if (rc == CLI_EXIT_OK && help) {
        fputs(bench_help, stdout);
    } else if (rc == CLI_EXIT_OK) {
        bench_state st;
        memset(&st, 0, sizeof st);
        rc = execute(&a, &st);
        bench_state_free(&st);
    }
    return rc;
}
