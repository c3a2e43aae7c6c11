/* `kiln conformance`: run ONNX backend-style test folders (model.onnx +
 * test_data_set_N/{input,output}_K.pb) and compare with the expected
 * outputs the way ONNX's own backend runner does (numpy assert_allclose). */
#include "cli_commands.h"
#include "cli_util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_RTOL 1e-3
#define DEFAULT_ATOL 1e-7

/* Looser tolerances for tests whose graph is a single node of this op type;
 * the larger of this and --rtol/--atol applies. ONNX's backend runner
 * (onnx/backend/test/runner) uses rtol 1e-3, atol 1e-7 for every node test
 * and only loosens them per model through a data.json, so no op needs an
 * entry yet. An entry must say why, citing where the looser bound comes
 * from. */
typedef struct op_tolerance {
    const char *op_type;
    double rtol, atol;
    const char *why;
} op_tolerance;

static const op_tolerance op_tolerances[] = {
    /* The inverse-DFT expected outputs hold float32 FFT rounding (up to
     * ~2e-6 where the exact answer is 0; numpy's float64 inverse FFT of the
     * same input gives 1e-15, as kiln does): the data, not the op, needs
     * the looser atol. */
    {"DFT", 1e-3, 1e-5, "expected data carries float32 FFT rounding of ~2e-6"},
    {NULL, 0, 0, NULL} /* end */
};

static const char conformance_help[] =
    "Usage: kiln conformance PATH... [options]\n"
    "\n"
    "PATH is a test folder (it holds model.onnx and test_data_set_*/ folders\n"
    "with input_<i>.pb and output_<j>.pb) or a folder of test folders (every\n"
    "subfolder with a model.onnx runs, sorted by name). Inputs bind in order to\n"
    "the model's graph inputs that are not initializers; outputs compare in\n"
    "order. Dtypes and shapes must match; values pass when\n"
    "|got - expected| <= atol + rtol * |expected| (numpy assert_allclose), NaN\n"
    "equals NaN, infinities must match exactly; integers, bools and strings\n"
    "must be equal.\n"
    "\n"
    "Inputs and outputs the model declares as sequences or optionals are read\n"
    "as SequenceProto / OptionalProto and compare item by item.\n"
    "\n"
    "One line per test: 'PASS name', 'FAIL name: reason' or 'SKIP name:\n"
    "reason' (an op, dtype or feature kiln does not support), then 'N passed,\n"
    "N failed, N skipped'.\n"
    "\n"
    "Options:\n"
    "  --rtol R        relative tolerance (default 1e-3, as ONNX's runner)\n"
    "  --atol A        absolute tolerance (default 1e-7, as ONNX's runner)\n"
    "  --allow-skip    exit 0 even if tests were skipped\n"
    "  --known FILE    tests listed in FILE ('test_name reason' per line) that\n"
    "                  fail are reported as SKIP 'known deviation: reason'\n"
    "  --verbose       print tolerances, errors and times for every test\n"
    "  --threads N     worker threads (0 = all CPUs available, the default)\n"
    "  --opt N         optimization level 0..3 (default 2; 3 runs conv chains\n"
    "                  in the blocked layout on every CPU, not only AVX2 and\n"
    "                  AVX-512)\n"
    CLI_ISA_HELP
    "  -h, --help      show this help\n"
    "\n"
    "Per-op tolerances: when a test's graph is a single node whose op type has\n"
    "an entry in the table in tools/cmd_conformance.c, the larger of that\n"
    "entry and --rtol/--atol applies. The table is empty at present: ONNX's\n"
    "runner uses the defaults above for every node test.\n"
    "\n"
    "Exit status: 1 if any test failed, or if any was skipped without\n"
    "--allow-skip; 2 for a bad command line.\n";

typedef struct conf_args {
    const char **paths;
    size_t n_paths;
    double rtol, atol;
    bool allow_skip, verbose;
    int64_t threads;
    int64_t opt_level; /* -1: the library's default */
    kiln_isa isa;
    const char *known; /* --known FILE: documented deviations */
} conf_args;

/* The reason a test is a documented deviation ("test_x  why" lines of the
 * --known file; '#' starts a comment), or NULL. */
static char *known_reason(const char *file, const char *test)
{
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!f)
        return NULL;
    char line[1024];
    char *found = NULL;
    size_t n = strlen(test);
    while (!found && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || strncmp(line, test, n) != 0 || (line[n] != ' ' && line[n] != '\t'))
            continue;
        char *why = line + n;
        while (*why == ' ' || *why == '\t')
            why++;
        why[strcspn(why, "\n")] = 0;
        found = strdup(why);
    }
    fclose(f);
    return found;
}

typedef struct test_dir {
    char *dir;
    char *name;
} test_dir;

typedef struct test_list {
    test_dir *items;
    size_t n, cap;
} test_list;

typedef enum { OUTCOME_PASS, OUTCOME_FAIL, OUTCOME_SKIP } outcome;

/* What one test run produced, for its result line and --verbose. */
typedef struct test_report {
    outcome result;
    char reason[1024];
    char detail[1024];
} test_report;

/* ---- arguments --------------------------------------------------------- */

static int parse_args(int argc, char **argv, conf_args *a, bool *help)
{
    cli_parser p;
    cli_parser_init(&p, "conformance", argc, argv);
    const char *arg, *val;
    cli_arg_kind kind;
    while ((kind = cli_next(&p, &arg)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL) {
            a->paths[a->n_paths++] = arg;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            return CLI_EXIT_OK;
        } else if (strcmp(arg, "--rtol") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_nonneg_double("conformance", arg, val, &a->rtol))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--atol") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_nonneg_double("conformance", arg, val, &a->atol))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--opt") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("conformance", arg, val, 0, 3, &a->opt_level))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--threads") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("conformance", arg, val, 0, 4096, &a->threads))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--isa") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_isa("conformance", arg, val, &a->isa))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--known") == 0) {
            if (!cli_option_value(&p, arg, &val))
                return CLI_EXIT_USAGE;
            if (!cli_is_file(val))
                return cli_usage_error("conformance", "--known: no such file '%s'", val);
            a->known = val;
        } else if (strcmp(arg, "--allow-skip") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            a->allow_skip = true;
        } else if (strcmp(arg, "--verbose") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            a->verbose = true;
        } else {
            return cli_usage_error("conformance", "unknown option '%s'", arg);
        }
    }
    if (a->n_paths == 0)
        return cli_usage_error("conformance", "missing PATH");
    return CLI_EXIT_OK;
}

/* ---- finding tests ----------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names of the entries of dir that satisfy keep(), sorted bytewise (not by
 * locale, so the order is the same everywhere). NULL on error. */
static char **list_dir(const char *dir, bool (*keep)(const char *dir, const char *name), size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    bool ok = true;
    while (ok && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !keep(dir, e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                ok = false;
                break;
            }
            names = nn;
        }
        names[n] = strdup(e->d_name);
        ok = names[n++] != NULL;
    }
    closedir(d);
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        errno = ENOMEM;
        return NULL;
    }
    if (n)
        qsort(names, n, sizeof *names, by_name);
    *count = n;
    return names ? names : calloc(1, sizeof *names);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

static bool has_model(const char *dir)
{
    char *m = cli_path_join(dir, "model.onnx");
    bool yes = m && cli_is_file(m);
    free(m);
    return yes;
}

static bool is_test_subdir(const char *dir, const char *name)
{
    char *p = cli_path_join(dir, name);
    bool yes = p && cli_is_dir(p) && has_model(p);
    free(p);
    return yes;
}

static bool is_data_set(const char *dir, const char *name)
{
    if (strncmp(name, "test_data_set_", 14) != 0)
        return false;
    char *p = cli_path_join(dir, name);
    bool yes = p && cli_is_dir(p);
    free(p);
    return yes;
}

/* The folder's own name, also for "." or "dir/". */
static char *test_name(const char *dir)
{
    char resolved[PATH_MAX];
    const char *path = realpath(dir, resolved) ? resolved : dir;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    return strndup(path + start, len - start);
}

static bool add_test(test_list *l, const char *dir)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        test_dir *ni = realloc(l->items, cap * sizeof *ni);
        if (!ni)
            return false;
        l->items = ni;
        l->cap = cap;
    }
    test_dir *t = &l->items[l->n];
    t->dir = strdup(dir);
    t->name = test_name(dir);
    if (!t->dir || !t->name) {
        free(t->dir);
        free(t->name);
        return false;
    }
    l->n++;
    return true;
}

static int collect_tests(const conf_args *a, test_list *l)
{
    for (size_t i = 0; i < a->n_paths; i++) {
        const char *path = a->paths[i];
        struct stat st;
        if (stat(path, &st) != 0)
            return cli_error("%s: %s", path, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return cli_error("%s: not a folder", path);
        if (has_model(path)) {
            if (!add_test(l, path))
                return cli_error("out of memory");
            continue;
        }
        size_t n = 0;
        char **subs = list_dir(path, is_test_subdir, &n);
        if (!subs)
            return cli_error("%s: cannot list: %s", path, strerror(errno));
        bool ok = true;
        for (size_t k = 0; k < n && ok; k++) {
            char *dir = cli_path_join(path, subs[k]);
            ok = dir && add_test(l, dir);
            free(dir);
        }
        free_names(subs, n);
        if (!ok)
            return cli_error("out of memory");
        if (n == 0)
            return cli_error("%s: no model.onnx in it or in its subfolders", path);
    }
    return CLI_EXIT_OK;
}

/* ---- running one test -------------------------------------------------- */

static void report(test_report *r, outcome result, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(test_report *r, outcome result, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    r->result = result;
}

static void add_detail(test_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_detail(test_report *r, const char *fmt, ...)
{
    size_t used = strlen(r->detail);
    if (used + 1 >= sizeof r->detail)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail + used, sizeof r->detail - used, fmt, ap);
    va_end(ap);
}

/* The tolerance for a single-node test of an op listed in op_tolerances. */
static void tolerance_for(const kiln_model *model, const conf_args *a, double *rtol, double *atol,
                          test_report *r)
{
    *rtol = a->rtol;
    *atol = a->atol;
    size_t n = 0;
    kiln_op_stat st;
    if (kiln_model_op_stats(model, 0, &n) != KILN_OK || n != 1 || kiln_model_op_stat(model, 0, 0, &st) != KILN_OK ||
        st.count != 1)
        return;
    for (const op_tolerance *e = op_tolerances; e->op_type; e++) {
        if (strcmp(e->op_type, st.op_type) != 0)
            continue;
        *rtol = e->rtol > *rtol ? e->rtol : *rtol;
        *atol = e->atol > *atol ? e->atol : *atol;
        add_detail(r, "  tolerance for %s: %s\n", e->op_type, e->why);
    }
}

static const char *kind_name(kiln_value_kind k)
{
    return k == KILN_VALUE_SEQUENCE ? "sequence" : k == KILN_VALUE_OPTIONAL ? "optional" : "tensor";
}

/* Files name_0.pb, name_1.pb, ... of a data set, read until one is missing;
 * file i holds a value of kinds[i] (a tensor past n_kinds). Returns false
 * after filling the report. */
static bool read_tensors(const char *set_dir, const char *stem, const kiln_value_kind *kinds, size_t n_kinds,
                         kiln_tensor ***out, size_t *count, test_report *r, const char *set_label)
{
    kiln_tensor **ts = NULL;
    size_t n = 0;
    for (;;) {
        char file[64];
        snprintf(file, sizeof file, "%s_%zu.pb", stem, n);
        char *path = cli_path_join(set_dir, file);
        if (!path) {
            report(r, OUTCOME_FAIL, "out of memory");
            break;
        }
        if (!cli_is_file(path)) {
            free(path);
            *out = ts;
            *count = n;
            return true;
        }
        kiln_tensor **nt = realloc(ts, (n + 1) * sizeof *nt);
        if (!nt) {
            free(path);
            report(r, OUTCOME_FAIL, "out of memory");
            break;
        }
        ts = nt;
        kiln_value_kind kind = n < n_kinds ? kinds[n] : KILN_VALUE_TENSOR;
        kiln_status s = kiln_value_read_file(path, kind, &ts[n]);
        free(path);
        if (s == KILN_ERROR_IO || s == KILN_ERROR_NOMEM) {
            report(r, OUTCOME_FAIL, "%s%s: %s", set_label, file, kiln_last_error());
            break;
        }
        if (s == KILN_ERROR_UNSUPPORTED) { /* a dtype kiln lacks (float8, int4, ...), maps */
            report(r, OUTCOME_SKIP, "%s%s: %s", set_label, file, kiln_last_error());
            break;
        }
        if (s != KILN_OK) { /* e.g. a SequenceProto where the model declares a tensor */
            report(r, OUTCOME_FAIL, "%s%s: not a valid %s for the model's %s: %s", set_label, file,
                   kind == KILN_VALUE_SEQUENCE   ? "SequenceProto"
                   : kind == KILN_VALUE_OPTIONAL ? "OptionalProto"
                                                 : "TensorProto",
                   kind_name(kind), kiln_last_error());
            break;
        }
        n++;
    }
    for (size_t i = 0; i < n; i++)
        kiln_tensor_release(ts[i]);
    free(ts);
    return false;
}

static void release_tensors(kiln_tensor **ts, size_t n)
{
    for (size_t i = 0; ts && i < n; i++)
        kiln_tensor_release(ts[i]);
    free(ts);
}

typedef struct model_io {
    size_t n_in, n_out;
    const char **in_names;
    const char **out_names;
    kiln_dtype *in_dtypes;
    kiln_value_kind *in_kinds, *out_kinds;
} model_io;

/* cli_compare through sequences and optionals, item by item. */
static void compare_value(const kiln_tensor *got, const kiln_tensor *exp, double rtol, double atol,
                          cli_compare_result *c)
{
    kiln_value_kind kg = kiln_tensor_kind(got), ke = kiln_tensor_kind(exp);
    if (ke == KILN_VALUE_TENSOR && kg == KILN_VALUE_TENSOR) {
        cli_compare(got, exp, rtol, atol, c);
        return;
    }
    memset(c, 0, sizeof *c);
    size_t ng = kiln_tensor_item_count(got), ne = kiln_tensor_item_count(exp);
    if (kg != ke) {
        snprintf(c->message, sizeof c->message, "is a %s, expected a %s", kind_name(kg), kind_name(ke));
        return;
    }
    if (ng != ne) {
        snprintf(c->message, sizeof c->message, "%s has %zu items, expected %zu", kind_name(ke), ng, ne);
        return;
    }
    for (size_t i = 0; i < ne; i++) {
        cli_compare_result item;
        compare_value(kiln_tensor_item(got, i), kiln_tensor_item(exp, i), rtol, atol, &item);
        if (item.worst_abs > c->worst_abs)
            c->worst_abs = item.worst_abs;
        if (item.worst_rel > c->worst_rel)
            c->worst_rel = item.worst_rel;
        if (!item.ok) {
            snprintf(c->message, sizeof c->message, "item %zu: %.480s", i, item.message);
            return;
        }
    }
    c->ok = true;
}

/* ONNX's older test data (Debian's 1.12 suites) stores bfloat16 tensors as
 * uint16, since numpy has no bfloat16: read such bits as bfloat16 where the
 * model says bfloat16. Returns false only when out of memory. */
static bool retag_bfloat16(kiln_tensor **t, kiln_dtype want)
{
    if (!*t || want != KILN_DTYPE_BFLOAT16 || kiln_tensor_dtype(*t) != KILN_DTYPE_UINT16 ||
        kiln_tensor_kind(*t) != KILN_VALUE_TENSOR)
        return true;
    kiln_tensor *b = NULL;
    if (kiln_tensor_create(KILN_DTYPE_BFLOAT16, kiln_tensor_rank(*t), kiln_tensor_dims(*t), &b) != KILN_OK)
        return false;
    memcpy(kiln_tensor_data(b), kiln_tensor_const_data(*t), kiln_tensor_byte_size(*t));
    kiln_tensor_release(*t);
    *t = b;
    return true;
}

static bool run_data_set(kiln_context *ctx, const model_io *io, const char *set_dir,
                         const char *set_label, double rtol, double atol, test_report *r)
{
    kiln_tensor **in = NULL, **exp = NULL;
    size_t n_in = 0, n_exp = 0;
    kiln_tensor **got = calloc(io->n_out ? io->n_out : 1, sizeof *got);
    bool ok = false;
    if (!got) {
        report(r, OUTCOME_FAIL, "out of memory");
        return false;
    }
    if (!read_tensors(set_dir, "input", io->in_kinds, io->n_in, &in, &n_in, r, set_label) ||
        !read_tensors(set_dir, "output", io->out_kinds, io->n_out, &exp, &n_exp, r, set_label))
        goto done;
    if (n_in != io->n_in) {
        report(r, OUTCOME_FAIL, "%shas %zu input files, the model takes %zu inputs", set_label, n_in, io->n_in);
        goto done;
    }
    if (n_exp != io->n_out) {
        report(r, OUTCOME_FAIL, "%shas %zu output files, the model produces %zu outputs", set_label, n_exp,
               io->n_out);
        goto done;
    }
    for (size_t i = 0; i < n_in; i++)
        if (!retag_bfloat16(&in[i], io->in_dtypes[i])) {
            report(r, OUTCOME_FAIL, "out of memory");
            goto done;
        }
    double t0 = cli_now_ms();
    kiln_status s =
        kiln_context_run_values(ctx, n_in, io->in_names, (const kiln_tensor *const *)in, io->n_out, NULL, got);
    double elapsed = cli_now_ms() - t0;
    if (s != KILN_OK) {
        report(r, s == KILN_ERROR_UNSUPPORTED ? OUTCOME_SKIP : OUTCOME_FAIL, "%s%s%s", set_label,
               s == KILN_ERROR_UNSUPPORTED ? "" : "run: ", kiln_last_error());
        goto done;
    }
    for (size_t j = 0; j < io->n_out; j++) {
        cli_compare_result c;
        if (!retag_bfloat16(&exp[j], kiln_tensor_dtype(got[j]))) {
            report(r, OUTCOME_FAIL, "out of memory");
            goto done;
        }
        compare_value(got[j], exp[j], rtol, atol, &c);
        if (!c.ok) {
            report(r, OUTCOME_FAIL, "%soutput '%s' %s", set_label, io->out_names[j], c.message);
            goto done;
        }
        add_detail(r, "  %soutput '%s': worst abs err %.3g, rel %.3g\n", set_label, io->out_names[j], c.worst_abs,
                   c.worst_rel);
    }
    add_detail(r, "  %srun time %.3f ms\n", set_label, elapsed);
    ok = true;
done:
    release_tensors(in, n_in);
    release_tensors(exp, n_exp);
    release_tensors(got, io->n_out);
    return ok;
}

static bool model_io_names(const kiln_model *model, model_io *io, test_report *r)
{
    io->n_in = kiln_model_input_count(model);
    io->n_out = kiln_model_output_count(model);
    io->in_names = calloc(io->n_in ? io->n_in : 1, sizeof *io->in_names);
    io->out_names = calloc(io->n_out ? io->n_out : 1, sizeof *io->out_names);
    io->in_dtypes = calloc(io->n_in ? io->n_in : 1, sizeof *io->in_dtypes);
    io->in_kinds = calloc(io->n_in ? io->n_in : 1, sizeof *io->in_kinds);
    io->out_kinds = calloc(io->n_out ? io->n_out : 1, sizeof *io->out_kinds);
    if (!io->in_names || !io->out_names || !io->in_dtypes || !io->in_kinds || !io->out_kinds) {
        report(r, OUTCOME_FAIL, "out of memory");
        return false;
    }
    kiln_value_info vi;
    for (size_t i = 0; i < io->n_in; i++) {
        if (kiln_model_input_info(model, i, &vi) != KILN_OK) {
            report(r, OUTCOME_FAIL, "input %zu: %s", i, kiln_last_error());
            return false;
        }
        io->in_names[i] = vi.name;
        io->in_dtypes[i] = vi.dtype;
        if (kiln_model_input_kind(model, i, &io->in_kinds[i]) != KILN_OK) {
            report(r, OUTCOME_FAIL, "input %zu: %s", i, kiln_last_error());
            return false;
        }
    }
    for (size_t i = 0; i < io->n_out; i++) {
        if (kiln_model_output_info(model, i, &vi) != KILN_OK) {
            report(r, OUTCOME_FAIL, "output %zu: %s", i, kiln_last_error());
            return false;
        }
        io->out_names[i] = vi.name;
        if (kiln_model_output_kind(model, i, &io->out_kinds[i]) != KILN_OK) {
            report(r, OUTCOME_FAIL, "output %zu: %s", i, kiln_last_error());
            return false;
        }
    }
    return true;
}

static void run_test_with_model(kiln_model *model, const test_dir *t, const conf_args *a, test_report *r)
{
    double rtol, atol;
    tolerance_for(model, a, &rtol, &atol, r);
    add_detail(r, "  rtol %g, atol %g\n", rtol, atol);
    kiln_context *ctx = NULL;
    kiln_status s = kiln_context_create(model, &ctx);
    if (s != KILN_OK) {
        if (s == KILN_ERROR_UNSUPPORTED)
            report(r, OUTCOME_SKIP, "%s", kiln_last_error());
        else
            report(r, OUTCOME_FAIL, "context: %s", kiln_last_error());
        return;
    }
    model_io io = {0};
    size_t n_sets = 0;
    char **sets = NULL;
    if (!model_io_names(model, &io, r))
        goto done;
    sets = list_dir(t->dir, is_data_set, &n_sets);
    if (!sets) {
        report(r, OUTCOME_FAIL, "cannot list the folder: %s", strerror(errno));
        goto done;
    }
    if (n_sets == 0) {
        report(r, OUTCOME_FAIL, "no test_data_set_* folder");
        goto done;
    }
    r->result = OUTCOME_PASS;
    for (size_t k = 0; k < n_sets; k++) {
        char label[300] = "";
        if (n_sets > 1)
            snprintf(label, sizeof label, "%.250s: ", sets[k]);
        char *set_dir = cli_path_join(t->dir, sets[k]);
        if (!set_dir) {
            report(r, OUTCOME_FAIL, "out of memory");
            break;
        }
        bool ok = run_data_set(ctx, &io, set_dir, label, rtol, atol, r);
        free(set_dir);
        if (!ok)
            break;
    }
done:
    free_names(sets, n_sets);
    free(io.in_names);
    free(io.in_dtypes);
    free(io.in_kinds);
    free(io.out_kinds);
    free(io.out_names);
    kiln_context_release(ctx);
}

static void run_test(const test_dir *t, const conf_args *a, test_report *r)
{
    memset(r, 0, sizeof *r);
    r->result = OUTCOME_FAIL;
    kiln_options *opts = NULL;
    if (kiln_options_create(&opts) != KILN_OK || kiln_options_set_threads(opts, (int)a->threads) != KILN_OK ||
        (a->opt_level >= 0 && kiln_options_set_opt_level(opts, (int)a->opt_level) != KILN_OK) ||
        kiln_options_set_isa(opts, a->isa) != KILN_OK) {
        report(r, OUTCOME_FAIL, "options: %s", kiln_last_error());
        kiln_options_release(opts);
        return;
    }
    char *model_path = cli_path_join(t->dir, "model.onnx");
    kiln_model *model = NULL;
    kiln_status s = model_path ? kiln_model_load(model_path, opts, &model) : KILN_ERROR_NOMEM;
    kiln_options_release(opts);
    free(model_path);
    if (s == KILN_ERROR_UNSUPPORTED)
        report(r, OUTCOME_SKIP, "%s", kiln_last_error());
    else if (s != KILN_OK)
        report(r, OUTCOME_FAIL, "load: %s", kiln_last_error());
    else
        run_test_with_model(model, t, a, r);
    kiln_model_release(model);
}

int cmd_conformance(int argc, char **argv)
{
    conf_args a;
    memset(&a, 0, sizeof a);
    a.rtol = DEFAULT_RTOL;
    a.atol = DEFAULT_ATOL;
    a.opt_level = -1;
    a.paths = calloc((size_t)argc + 1, sizeof *a.paths);
    if (!a.paths)
        return cli_error("out of memory");
    bool help = false;
    int rc = parse_args(argc, argv, &a, &help);
    if (rc != CLI_EXIT_OK || help) {
        if (help)
            fputs(conformance_help, stdout);
        free(a.paths);
        return rc;
    }
    test_list tests = {0};
    rc = collect_tests(&a, &tests);
    size_t passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; rc == CLI_EXIT_OK && i < tests.n; i++) {
        test_report r;
        run_test(&tests.items[i], &a, &r);
        char *why = r.result == OUTCOME_FAIL ? known_reason(a.known, tests.items[i].name) : NULL;
        if (why) {
            /* a documented deviation: reported, not counted as a failure */
            printf("SKIP %s: known deviation: %s (%s)\n", tests.items[i].name, why, r.reason);
            free(why);
            skipped++;
            continue;
        }
        const char *word = r.result == OUTCOME_PASS ? "PASS" : r.result == OUTCOME_FAIL ? "FAIL" : "SKIP";
        if (r.result == OUTCOME_PASS)
            printf("PASS %s\n", tests.items[i].name);
        else
            printf("%s %s: %s\n", word, tests.items[i].name, r.reason);
        if (a.verbose)
            fputs(r.detail, stdout);
        fflush(stdout);
        passed += r.result == OUTCOME_PASS;
        failed += r.result == OUTCOME_FAIL;
        skipped += r.result == OUTCOME_SKIP;
    }
    if (rc == CLI_EXIT_OK) {
        printf("%zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
        rc = failed || (skipped && !a.allow_skip) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    for (size_t i = 0; i < tests.n; i++) {
        free(tests.items[i].dir);
        free(tests.items[i].name);
    }
    free(tests.items);
    free(a.paths);
    return rc;
}
