/* `kiln recalibrate`: re-estimate every BatchNormalization node's mean/var
 * on calibration data (a .npy array, a folder of tensor files or images),
 * print a per-layer summary and write a copy of the model that differs only
 * in those statistics. Partial sums can be emitted per shard and merged. */
#include "cmd_recalibrate.h"

#include "cli_util.h"
#include "kiln.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char recal_help[] =
    "Usage: kiln recalibrate MODEL --data PATH -o OUT [options]\n"
    "       kiln recalibrate MODEL --merge PART.kstats [--merge ...] -o OUT\n"
    "\n"
    "Re-estimate the BatchNormalization statistics (mean/var initializers) of\n"
    "MODEL on unlabelled data from a new domain (Precise BN). OUT differs from\n"
    "MODEL only in those initializers. See docs/recalibration.md.\n"
    "\n"
    "Data:\n"
    "  --data PATH          a .npy array [N, ...]; a folder of .npy/.pb tensor\n"
    "                       files (one sample or one batch each, sorted by\n"
    "                       name); or a folder of .jpg/.jpeg/.png images\n"
    "  --batch-size N       samples per batch (default 32)\n"
    "  --max-samples N      use at most the first N samples\n"
    "  --input NAME         the model input fed with the data (default: the only one)\n"
    "Images:\n"
    "  --resize R           resize the shorter side to R pixels (bilinear)\n"
    "  --crop C             center-crop C x C pixels\n"
    "  --mean a,b,c         subtract per channel after scaling to [0,1] (default 0)\n"
    "  --std a,b,c          then divide per channel (default 1)\n"
    "  --rgb | --bgr        channel order of the model input (default --rgb)\n"
    "Statistics:\n"
    "  --mode train|exact   train (default): BN layers use each batch's own\n"
    "                       statistics during the pass; exact: inference-exact\n"
    "                       statistics, one pass per BN depth level\n"
    "  --variance pooled|torch\n"
    "                       train mode: pooled population variance (default) or\n"
    "                       torch.optim.swa_utils.update_bn's average of unbiased\n"
    "                       batch variances\n"
    "Output:\n"
    "  -o, --output OUT     the recalibrated model (temporary file + rename)\n"
    "  --in-place           allow OUT to be MODEL\n"
    "  --report FILE.json   per-layer old/new statistics as JSON\n"
    "  --emit-stats FILE    write this shard's partial sums (.kstats, train mode)\n"
    "  --merge FILE         add partial sums from another shard; repeatable\n"
    "  --threads N          worker threads (0 = all CPUs available, the default)\n"
    "  --quiet              no summary table\n"
    "  -h, --help           show this help\n";

#define MAX_MERGE 1024

typedef struct recal_args {
    const char *model, *data, *output, *input, *report, *emit;
    const char *merge[MAX_MERGE];
    size_t n_merge;
    int64_t batch_size, max_samples, threads, resize, crop;
    float mean[3], std[3];
    bool bgr, in_place, quiet, exact, torch;
} recal_args;

static bool parse_triple(const char *option, const char *text, float *out)
{
    char *end = NULL;
    const char *p = text;
    for (int k = 0; k < 3; k++) {
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || (k < 2 && *end != ',') || (k == 2 && *end != 0)) {
            cli_usage_error("recalibrate", "%s: expected three numbers a,b,c, got '%s'", option, text);
            return false;
        }
        out[k] = (float)v;
        p = end + 1;
    }
    return true;
}

static int parse_args(int argc, char **argv, recal_args *a, bool *help)
{
    cli_parser p;
    cli_parser_init(&p, "recalibrate", argc, argv);
    const char *arg, *val;
    cli_arg_kind kind;
    bool rgb = false;
    while ((kind = cli_next(&p, &arg)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL) {
            if (a->model)
                return cli_usage_error("recalibrate", "unexpected argument '%s'", arg);
            a->model = arg;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            return CLI_EXIT_OK;
        }
        const char **str = strcmp(arg, "--data") == 0                                 ? &a->data
                           : strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0 ? &a->output
                           : strcmp(arg, "--input") == 0                              ? &a->input
                           : strcmp(arg, "--report") == 0                             ? &a->report
                           : strcmp(arg, "--emit-stats") == 0                         ? &a->emit
                                                                                      : NULL;
        int64_t *num = strcmp(arg, "--batch-size") == 0    ? &a->batch_size
                       : strcmp(arg, "--max-samples") == 0 ? &a->max_samples
                       : strcmp(arg, "--threads") == 0     ? &a->threads
                       : strcmp(arg, "--resize") == 0      ? &a->resize
                       : strcmp(arg, "--crop") == 0        ? &a->crop
                                                           : NULL;
        bool *flag = strcmp(arg, "--bgr") == 0        ? &a->bgr
                     : strcmp(arg, "--rgb") == 0      ? &rgb
                     : strcmp(arg, "--in-place") == 0 ? &a->in_place
                     : strcmp(arg, "--quiet") == 0    ? &a->quiet
                                                      : NULL;
        if (str) {
            if (!cli_option_value(&p, arg, &val))
                return CLI_EXIT_USAGE;
            if (!*val)
                return cli_usage_error("recalibrate", "%s: empty argument", arg);
            *str = val;
        } else if (num) {
            int64_t max = num == &a->threads ? 4096 : num == &a->batch_size ? (1 << 24) : INT64_C(1) << 40;
            int64_t min = num == &a->batch_size || num == &a->max_samples ? 1 : 0;
            if (num == &a->resize || num == &a->crop)
                max = 65536;
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("recalibrate", arg, val, min, max, num))
                return CLI_EXIT_USAGE;
        } else if (flag) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            *flag = true;
        } else if (strcmp(arg, "--mean") == 0 || strcmp(arg, "--std") == 0) {
            if (!cli_option_value(&p, arg, &val) || !parse_triple(arg, val, arg[2] == 'm' ? a->mean : a->std))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--mode") == 0) {
            if (!cli_option_value(&p, arg, &val))
                return CLI_EXIT_USAGE;
            if (strcmp(val, "train") != 0 && strcmp(val, "exact") != 0)
                return cli_usage_error("recalibrate", "--mode: expected train or exact, got '%s'", val);
            a->exact = strcmp(val, "exact") == 0;
        } else if (strcmp(arg, "--variance") == 0) {
            if (!cli_option_value(&p, arg, &val))
                return CLI_EXIT_USAGE;
            if (strcmp(val, "pooled") != 0 && strcmp(val, "torch") != 0)
                return cli_usage_error("recalibrate", "--variance: expected pooled or torch, got '%s'", val);
            a->torch = strcmp(val, "torch") == 0;
        } else if (strcmp(arg, "--merge") == 0) {
            if (!cli_option_value(&p, arg, &val))
                return CLI_EXIT_USAGE;
            if (a->n_merge == MAX_MERGE)
                return cli_usage_error("recalibrate", "more than %d --merge files", MAX_MERGE);
            a->merge[a->n_merge++] = val;
        } else {
            return cli_usage_error("recalibrate", "unknown option '%s'", arg);
        }
    }
    if (!a->model)
        return cli_usage_error("recalibrate", "missing MODEL");
    if (!a->data && !a->n_merge)
        return cli_usage_error("recalibrate", "give calibration data with --data (or partial sums with --merge)");
    if (!a->output && !a->emit)
        return cli_usage_error("recalibrate", "missing -o OUT (or --emit-stats FILE)");
    if (rgb && a->bgr)
        return cli_usage_error("recalibrate", "--rgb and --bgr exclude each other");
    if (a->exact && a->torch)
        return cli_usage_error("recalibrate", "--variance torch applies to --mode train only");
    if (a->exact && (a->n_merge || a->emit))
        return cli_usage_error("recalibrate", "--emit-stats/--merge work in train mode; exact mode needs one merge "
                                              "round per BN level (see docs/recalibration.md)");
    if (a->exact && !a->data)
        return cli_usage_error("recalibrate", "--mode exact needs --data");
    if (a->output && !a->in_place && cli_same_file(a->model, a->output))
        return cli_usage_error("recalibrate", "refusing to overwrite the input model %s; pass --in-place to allow it",
                               a->output);
    return CLI_EXIT_OK;
}

/* ---- data source with --max-samples and a progress bar ---- */

typedef struct source {
    kiln_dataset *ds;
    int64_t max_samples; /* 0 = all */
    int64_t taken;       /* this pass */
    int64_t total;       /* samples per pass if known, else -1 */
    int pass, n_passes;
    bool progress;
    double start_ms, pass_start_ms;
    int64_t done_all;
} source;

static void draw_progress(source *s, bool final)
{
    double now = cli_now_ms();
    double secs = (now - s->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)s->done_all / secs : 0;
    char eta[32] = "?";
    if (s->total > 0 && rate > 0) {
        double left = (double)s->total * s->n_passes - (double)s->done_all;
        snprintf(eta, sizeof eta, "%.0fs", left > 0 ? left / rate : 0);
    }
    int width = 30, filled = 0;
    if (s->total > 0)
        filled = (int)(width * (double)s->taken / (double)s->total);
    if (filled > width)
        filled = width;
    char bar[40];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\rpass %d/%d [%s] %lld", s->pass, s->n_passes, bar, (long long)s->taken);
    if (s->total > 0)
        fprintf(stderr, "/%lld", (long long)s->total);
    fprintf(stderr, " samples  %.0f samples/s  ETA %s   %s", rate, eta, final ? "\n" : "");
    fflush(stderr);
}

static kiln_status source_next(void *user, int rewind, kiln_tensor **batch)
{
    source *s = user;
    if (rewind) {
        if (s->pass > 0 && s->progress)
            draw_progress(s, true);
        s->pass++;
        s->taken = 0;
        kiln_status st = kiln_dataset_rewind(s->ds);
        if (st != KILN_OK)
            return st;
    }
    *batch = NULL;
    if (s->max_samples && s->taken >= s->max_samples)
        return KILN_OK;
    kiln_tensor *t = NULL;
    kiln_status st = kiln_dataset_next(s->ds, &t);
    if (st != KILN_OK || !t)
        return st;
    int64_t n = kiln_tensor_dims(t)[0];
    if (s->max_samples && s->taken + n > s->max_samples) {
        /* Keep the first samples of the batch: a smaller copy. */
        int64_t keep = s->max_samples - s->taken;
        size_t rank = kiln_tensor_rank(t);
        int64_t dims[16];
        memcpy(dims, kiln_tensor_dims(t), rank * sizeof(int64_t));
        dims[0] = keep;
        kiln_tensor *k = NULL;
        st = kiln_tensor_create(kiln_tensor_dtype(t), rank, dims, &k);
        if (st == KILN_OK)
            memcpy(kiln_tensor_data(k), kiln_tensor_const_data(t), kiln_tensor_byte_size(k));
        kiln_tensor_release(t);
        if (st != KILN_OK)
            return st;
        t = k;
        n = keep;
    }
    s->taken += n;
    s->done_all += n;
    if (s->progress)
        draw_progress(s, false);
    *batch = t;
    return KILN_OK;
}

/* ---- summary ---- */

typedef struct layer_summary {
    double shift_avg, shift_max, var_ratio;
} layer_summary;

static layer_summary summarize(const kiln_recal_layer *l)
{
    layer_summary s = {0, 0, 0};
    double log_ratio = 0;
    for (int64_t c = 0; c < l->channels; c++) {
        double sigma = sqrt((double)l->old_var[c] + l->epsilon);
        double shift = fabs((double)l->new_mean[c] - l->old_mean[c]) / sigma;
        s.shift_avg += shift;
        if (shift > s.shift_max)
            s.shift_max = shift;
        log_ratio += log(((double)l->new_var[c] + l->epsilon) / ((double)l->old_var[c] + l->epsilon));
    }
    if (l->channels > 0) {
        s.shift_avg /= (double)l->channels;
        s.var_ratio = exp(log_ratio / (double)l->channels);
    }
    return s;
}

static void print_table(const kiln_recal *r)
{
    size_t n = kiln_recal_layer_count(r);
    int w = 5;
    for (size_t i = 0; i < n; i++) {
        kiln_recal_layer l;
        if (kiln_recal_layer_get(r, i, &l) == KILN_OK && (int)strlen(l.name) > w)
            w = (int)strlen(l.name);
    }
    if (w > 48)
        w = 48;
    printf("%-*s %8s %11s %11s %10s\n", w, "layer", "channels", "shift(avg)", "shift(max)", "var ratio");
    for (size_t i = 0; i < n; i++) {
        kiln_recal_layer l;
        if (kiln_recal_layer_get(r, i, &l) != KILN_OK || !l.new_mean)
            continue;
        layer_summary s = summarize(&l);
        printf("%-*.*s %8lld %10.3fσ %10.3fσ %10.3f\n", w, w, l.name, (long long)l.channels, s.shift_avg,
               s.shift_max, s.var_ratio);
    }
    printf("(shift: |new mean - old mean| in old σ units; var ratio: geometric mean of new/old variance)\n");
}

static void json_floats(FILE *f, const float *v, int64_t n)
{
    fputc('[', f);
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "%s%.9g", i ? ", " : "", (double)v[i]);
    fputc(']', f);
}

static bool write_report(const kiln_recal *r, const recal_args *a, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "{\n  \"model\": ");
    cli_json_string(f, a->model);
    fprintf(f, ",\n  \"mode\": \"%s\",\n  \"variance\": \"%s\",\n  \"samples\": %llu,\n  \"layers\": [\n",
            a->exact ? "exact" : "train", a->torch ? "torch" : "pooled",
            (unsigned long long)kiln_recal_sample_count(r));
    size_t n = kiln_recal_layer_count(r);
    for (size_t i = 0; i < n; i++) {
        kiln_recal_layer l;
        if (kiln_recal_layer_get(r, i, &l) != KILN_OK || !l.new_mean)
            continue;
        layer_summary s = summarize(&l);
        fprintf(f, "    {\"name\": ");
        cli_json_string(f, l.name);
        fprintf(f, ", \"mean_initializer\": ");
        cli_json_string(f, l.mean_name);
        fprintf(f, ", \"var_initializer\": ");
        cli_json_string(f, l.var_name);
        fprintf(f, ", \"channels\": %lld, \"level\": %d, \"count\": %llu, \"mean_shift_avg\": %.9g, "
                   "\"mean_shift_max\": %.9g, \"var_ratio\": %.9g,\n     \"old_mean\": ",
                (long long)l.channels, l.level, (unsigned long long)l.count, s.shift_avg, s.shift_max, s.var_ratio);
        json_floats(f, l.old_mean, l.channels);
        fprintf(f, ",\n     \"old_var\": ");
        json_floats(f, l.old_var, l.channels);
        fprintf(f, ",\n     \"new_mean\": ");
        json_floats(f, l.new_mean, l.channels);
        fprintf(f, ",\n     \"new_var\": ");
        json_floats(f, l.new_var, l.channels);
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0;
}

/* ---- the command ---- */

static int open_data(const recal_args *a, const kiln_recal_config *cfg, source *src)
{
    kiln_dataset_config dc;
    kiln_dataset_config_init(&dc);
    dc.batch_size = (size_t)a->batch_size;
    dc.resize = (int)a->resize;
    dc.crop = (int)a->crop;
    memcpy(dc.mean, a->mean, sizeof dc.mean);
    memcpy(dc.std, a->std, sizeof dc.std);
    dc.bgr = a->bgr;
    /* The model's input rank tells whether a tensor file is one sample or a batch. */
    kiln_model *m = NULL;
    kiln_options *o = NULL;
    if (kiln_options_create(&o) == KILN_OK && kiln_options_set_allow_unsupported(o, 1) == KILN_OK &&
        kiln_model_load(a->model, o, &m) == KILN_OK) {
        for (size_t i = 0; i < kiln_model_input_count(m); i++) {
            kiln_value_info info;
            if (kiln_model_input_info(m, i, &info) == KILN_OK && (!cfg->input_name || strcmp(info.name, cfg->input_name) == 0)) {
                if (info.rank > 1)
                    dc.sample_rank = (int)info.rank - 1;
                break;
            }
        }
    }
    kiln_model_release(m);
    kiln_options_release(o);
    if (kiln_dataset_open(a->data, &dc, &src->ds) != KILN_OK)
        return cli_fail("reading data");
    int64_t n = kiln_dataset_sample_count(src->ds);
    src->total = n >= 0 && a->max_samples && a->max_samples < n ? a->max_samples : n;
    return CLI_EXIT_OK;
}

static int recalibrate(const recal_args *a)
{
    kiln_recal_config cfg;
    kiln_recal_config_init(&cfg);
    cfg.mode = a->exact ? KILN_RECAL_EXACT : KILN_RECAL_TRAIN;
    cfg.variance = a->torch ? KILN_RECAL_VARIANCE_TORCH : KILN_RECAL_VARIANCE_POOLED;
    cfg.input_name = a->input;
    cfg.threads = (int)a->threads;
    kiln_recal *r = NULL;
    if (kiln_recal_create(a->model, &cfg, &r) != KILN_OK)
        return cli_fail("recalibrate");
    int rc = CLI_EXIT_OK;
    source src;
    memset(&src, 0, sizeof src);
    src.max_samples = a->max_samples;
    src.n_passes = (int)kiln_recal_pass_count(r);
    src.progress = isatty(2) != 0;
    src.start_ms = cli_now_ms();
    for (size_t i = 0; rc == CLI_EXIT_OK && i < a->n_merge; i++)
        if (kiln_recal_merge_stats(r, a->merge[i]) != KILN_OK)
            rc = cli_fail("merging partial statistics");
    if (rc == CLI_EXIT_OK && a->data)
        rc = open_data(a, &cfg, &src);
    if (rc == CLI_EXIT_OK && a->data && kiln_recal_run(r, source_next, &src) != KILN_OK)
        rc = cli_fail("recalibrating on %s", a->data);
    else if (rc == CLI_EXIT_OK && !a->data && kiln_recal_finish(r) != KILN_OK)
        rc = cli_fail("combining partial statistics");
    if (src.progress && src.pass > 0)
        draw_progress(&src, true);
    if (rc == CLI_EXIT_OK && a->emit && kiln_recal_emit_stats(r, a->emit) != KILN_OK)
        rc = cli_fail("writing %s", a->emit);
    if (rc == CLI_EXIT_OK && a->output && kiln_recal_write(r, a->output, a->in_place) != KILN_OK)
        rc = cli_fail("writing %s", a->output);
    if (rc == CLI_EXIT_OK && a->report && !write_report(r, a, a->report))
        rc = cli_error("cannot write the report %s", a->report);
    if (rc == CLI_EXIT_OK && !a->quiet) {
        double secs = (cli_now_ms() - src.start_ms) / 1000.0;
        print_table(r);
        printf("%llu samples, %d pass%s, %.2f s", (unsigned long long)kiln_recal_sample_count(r), src.n_passes,
               src.n_passes == 1 ? "" : "es", secs);
        if (a->output)
            printf("; wrote %s", a->output);
        printf("\n");
    }
    kiln_dataset_release(src.ds);
    kiln_recal_release(r);
    return rc;
}

int kiln_cmd_recalibrate(int argc, char **argv)
{
    recal_args a;
    memset(&a, 0, sizeof a);
    a.batch_size = 32;
    a.threads = 0;
    for (int k = 0; k < 3; k++)
        a.std[k] = 1.0f;
    bool help = false;
    int rc = parse_args(argc, argv, &a, &help);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (help) {
        fputs(recal_help, stdout);
        return CLI_EXIT_OK;
    }
    return recalibrate(&a);
}
