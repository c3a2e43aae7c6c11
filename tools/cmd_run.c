/* `kiln run`: bind inputs from files (or random data), run once, summarize
 * every output and optionally save them as .pb and .npy. */
#include "cli_commands.h"
#include "cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char run_help[] =
    "Usage: kiln run MODEL [options]\n"
    "\n"
    "Run a model once and print each output's name, dtype, shape and a\n"
    "summary (min/max/mean and the first values), then the run time.\n"
    "\n"
    "Options:\n"
    "  --input NAME=FILE   bind input NAME to a tensor file (.pb TensorProto or\n"
    "                      .npy, detected from the content); repeatable. A bare\n"
    "                      --input FILE binds to the first input not yet bound.\n"
    "  --random            fill every unbound input with random data from its\n"
    "                      declared shape: floats uniform in [-1,1), integers in\n"
    "                      0..7, bools 0/1\n"
    "  --seed S            random seed (default 0); with --random\n"
    "  --dim NAME=VALUE    size of symbolic dimension NAME for --random;\n"
    "                      repeatable. An open first dimension defaults to 1,\n"
    "                      any other open dimension must be given.\n"
    "  --output-dir DIR    write each output to DIR/<name>.pb and DIR/<name>.npy\n"
    "                      (DIR is created; characters outside [A-Za-z0-9._-] in\n"
    "                      names become '_'); never overwrites an input file\n"
    "  --top K             also print the K largest values (index and value)\n"
    "                      along the last dimension, per row\n"
    "  --threads N         worker threads (0 = all CPUs available, the default)\n"
    "  --isa ISA           kernels to run: auto (the best this CPU has, the\n"
    "                      default), generic, avx2 or avx512; a level the CPU\n"
    "                      lacks falls back to the best it has\n"
    "  --quiet             print nothing on success\n"
    "  -h, --help          show this help\n";

enum { MAX_TOP = 1000000, SUMMARY_VALUES = 8, MAX_TOP_ROWS = 32, INT_RANDOM_RANGE = 8 };

typedef struct dim_arg {
    const char *name; /* points into argv */
    size_t name_len;
    int64_t value;
} dim_arg;

typedef struct run_args {
    const char *model_path;
    const char **input_args;
    size_t n_input_args;
    dim_arg *dims;
    size_t n_dims;
    bool random;
    bool seed_given;
    uint64_t seed;
    const char *output_dir;
    int64_t top;
    int64_t threads;
    kiln_isa isa;
    bool quiet;
} run_args;

/* What each model input is bound to. */
typedef struct binding {
    kiln_value_info info;
    const char *file; /* NULL: random */
    kiln_tensor *tensor;
} binding;

static int parse_dim_arg(const char *text, dim_arg *out)
{
    const char *eq = strrchr(text, '=');
    if (!eq || eq == text)
        return cli_usage_error("run", "--dim: expected NAME=VALUE, got '%s'", text);
    int64_t v;
    if (!cli_parse_int("run", "--dim", eq + 1, 0, INT64_C(1) << 40, &v))
        return CLI_EXIT_USAGE;
    out->name = text;
    out->name_len = (size_t)(eq - text);
    out->value = v;
    return CLI_EXIT_OK;
}

static int parse_args(int argc, char **argv, run_args *a, bool *help)
{
    cli_parser p;
    cli_parser_init(&p, "run", argc, argv);
    const char *arg, *val;
    cli_arg_kind kind;
    while ((kind = cli_next(&p, &arg)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL) {
            if (a->model_path)
                return cli_usage_error("run", "unexpected argument '%s' (inputs are given with --input)", arg);
            a->model_path = arg;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            return CLI_EXIT_OK;
        } else if (strcmp(arg, "--input") == 0) {
            if (!cli_option_value(&p, arg, &val))
                return CLI_EXIT_USAGE;
            if (!*val)
                return cli_usage_error("run", "--input: empty argument");
            a->input_args[a->n_input_args++] = val;
        } else if (strcmp(arg, "--dim") == 0) {
            if (!cli_option_value(&p, arg, &val))
                return CLI_EXIT_USAGE;
            int rc = parse_dim_arg(val, &a->dims[a->n_dims]);
            if (rc != CLI_EXIT_OK)
                return rc;
            a->n_dims++;
        } else if (strcmp(arg, "--random") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            a->random = true;
        } else if (strcmp(arg, "--seed") == 0) {
            int64_t s;
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("run", arg, val, 0, INT64_MAX, &s))
                return CLI_EXIT_USAGE;
            a->seed = (uint64_t)s;
            a->seed_given = true;
        } else if (strcmp(arg, "--output-dir") == 0) {
            if (!cli_option_value(&p, arg, &val))
                return CLI_EXIT_USAGE;
            if (!*val)
                return cli_usage_error("run", "--output-dir: empty path");
            a->output_dir = val;
        } else if (strcmp(arg, "--top") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("run", arg, val, 1, MAX_TOP, &a->top))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--threads") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_int("run", arg, val, 0, 4096, &a->threads))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--isa") == 0) {
            if (!cli_option_value(&p, arg, &val) || !cli_parse_isa("run", arg, val, &a->isa))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--quiet") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            a->quiet = true;
        } else {
            return cli_usage_error("run", "unknown option '%s'", arg);
        }
    }
    if (!a->model_path)
        return cli_usage_error("run", "missing MODEL");
    if (a->seed_given && !a->random)
        return cli_usage_error("run", "--seed needs --random");
    if (a->n_dims && !a->random)
        return cli_usage_error("run", "--dim needs --random");
    for (size_t i = 0; i < a->n_dims; i++)
        for (size_t j = 0; j < i; j++)
            if (a->dims[i].name_len == a->dims[j].name_len &&
                memcmp(a->dims[i].name, a->dims[j].name, a->dims[i].name_len) == 0)
                return cli_usage_error("run", "--dim %.*s given twice", (int)a->dims[i].name_len,
                                       a->dims[i].name);
    return CLI_EXIT_OK;
}

/* ---- binding inputs ---------------------------------------------------- */

static void list_input_names(const binding *b, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && used + 1 < size; i++) {
        int k = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", b[i].info.name);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    if (n == 0)
        snprintf(buf, size, "none");
}

/* "NAME=FILE" when the text before some '=' names an input; returns the
 * input index and sets *file, or -1. */
static long named_input(const char *text, const binding *b, size_t n, const char **file)
{
    for (const char *eq = strchr(text, '='); eq; eq = strchr(eq + 1, '=')) {
        size_t len = (size_t)(eq - text);
        for (size_t i = 0; i < n; i++) {
            if (strlen(b[i].info.name) == len && memcmp(b[i].info.name, text, len) == 0) {
                *file = eq + 1;
                return (long)i;
            }
        }
    }
    return -1;
}

static int bind_input_args(const run_args *a, binding *b, size_t n)
{
    char names[1024];
    bool *bare = calloc(a->n_input_args ? a->n_input_args : 1, sizeof *bare);
    if (!bare)
        return cli_error("out of memory");
    int rc = CLI_EXIT_OK;
    /* Named bindings first, so bare files fill what is left in order. */
    for (size_t k = 0; k < a->n_input_args && rc == CLI_EXIT_OK; k++) {
        const char *text = a->input_args[k], *file = NULL;
        long i = named_input(text, b, n, &file);
        if (i >= 0) {
            if (b[i].file)
                rc = cli_error("input '%s' given twice", b[i].info.name);
            else if (!*file)
                rc = cli_error("input '%s': empty file name", b[i].info.name);
            else
                b[i].file = file;
        } else if (strchr(text, '=') && !cli_is_file(text)) {
            size_t len = (size_t)(strchr(text, '=') - text);
            list_input_names(b, n, names, sizeof names);
            rc = cli_error("--input %s: the model has no input named '%.*s' (inputs: %s)", text, (int)len, text,
                           names);
        } else {
            bare[k] = true;
        }
    }
    for (size_t k = 0; k < a->n_input_args && rc == CLI_EXIT_OK; k++) {
        if (!bare[k])
            continue;
        size_t i = 0;
        while (i < n && b[i].file)
            i++;
        if (i == n)
            rc = cli_error("--input %s: every model input is already bound (inputs: %s)", a->input_args[k],
                           (list_input_names(b, n, names, sizeof names), names));
        else
            b[i].file = a->input_args[k];
    }
    free(bare);
    return rc;
}

static int read_input_files(const char *model_path, binding *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!b[i].file)
            continue;
        if (cli_same_file(b[i].file, model_path))
            return cli_error("input '%s': '%s' is the model file", b[i].info.name, b[i].file);
        if (kiln_tensor_read_file(b[i].file, &b[i].tensor) != KILN_OK)
            return cli_fail("input '%s'", b[i].info.name);
    }
    return CLI_EXIT_OK;
}

/* ---- random inputs ----------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Each input gets its own stream, so its values depend only on the seed and
 * its name, not on which other inputs came from files. */
static uint64_t input_stream(uint64_t seed, const char *name)
{
    uint64_t h = 0xCBF29CE484222325u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001B3u;
    uint64_t s = seed ^ h;
    splitmix64(&s);
    return s;
}

/* Uniform in [-1,1) on a grid the target type represents exactly, so
 * rounding can never produce 1. */
static double uniform_pm1(uint64_t *s, int bits)
{
    return ldexp((double)(splitmix64(s) >> (64 - bits)), 1 - bits) - 1.0;
}

static uint64_t small_int(uint64_t *s)
{
    return splitmix64(s) % INT_RANDOM_RANGE;
}

static void fill_random(kiln_tensor *t, uint64_t *s)
{
    kiln_dtype dt = kiln_tensor_dtype(t);
    int64_t n = kiln_tensor_element_count(t);
    void *d = kiln_tensor_data(t);
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case KILN_DTYPE_FLOAT: ((float *)d)[i] = (float)uniform_pm1(s, 24); break;
        case KILN_DTYPE_DOUBLE: ((double *)d)[i] = uniform_pm1(s, 53); break;
        case KILN_DTYPE_FLOAT16: ((uint16_t *)d)[i] = cli_float_to_half((float)uniform_pm1(s, 11)); break;
        case KILN_DTYPE_BFLOAT16: {
            float f = (float)uniform_pm1(s, 8);
            uint32_t x;
            memcpy(&x, &f, sizeof x);
            ((uint16_t *)d)[i] = (uint16_t)(x >> 16); /* exact: 8 significant bits */
            break;
        }
        case KILN_DTYPE_COMPLEX64:
            ((float *)d)[2 * i] = (float)uniform_pm1(s, 24);
            ((float *)d)[2 * i + 1] = (float)uniform_pm1(s, 24);
            break;
        case KILN_DTYPE_COMPLEX128:
            ((double *)d)[2 * i] = uniform_pm1(s, 53);
            ((double *)d)[2 * i + 1] = uniform_pm1(s, 53);
            break;
        case KILN_DTYPE_BOOL: ((uint8_t *)d)[i] = (uint8_t)(splitmix64(s) & 1); break;
        case KILN_DTYPE_INT8: ((int8_t *)d)[i] = (int8_t)small_int(s); break;
        case KILN_DTYPE_UINT8: ((uint8_t *)d)[i] = (uint8_t)small_int(s); break;
        case KILN_DTYPE_INT16: ((int16_t *)d)[i] = (int16_t)small_int(s); break;
        case KILN_DTYPE_UINT16: ((uint16_t *)d)[i] = (uint16_t)small_int(s); break;
        case KILN_DTYPE_INT32: ((int32_t *)d)[i] = (int32_t)small_int(s); break;
        case KILN_DTYPE_UINT32: ((uint32_t *)d)[i] = (uint32_t)small_int(s); break;
        case KILN_DTYPE_INT64: ((int64_t *)d)[i] = (int64_t)small_int(s); break;
        case KILN_DTYPE_UINT64: ((uint64_t *)d)[i] = small_int(s); break;
        default: return;
        }
    }
}

static const dim_arg *find_dim(const run_args *a, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < a->n_dims; i++)
        if (strlen(name) == a->dims[i].name_len && memcmp(name, a->dims[i].name, a->dims[i].name_len) == 0)
            return &a->dims[i];
    return NULL;
}

/* Every --dim must name a symbolic dimension of some input: a typo would
 * otherwise silently fall back to the default. */
static int check_dim_names(const run_args *a, const binding *b, size_t n)
{
    for (size_t k = 0; k < a->n_dims; k++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            for (int64_t d = 0; d < b[i].info.rank && !found; d++)
                found = b[i].info.dim_names && find_dim(a, b[i].info.dim_names[d]) == &a->dims[k];
        if (!found)
            return cli_error("--dim %.*s: no model input has a dimension named '%.*s'", (int)a->dims[k].name_len,
                             a->dims[k].name, (int)a->dims[k].name_len, a->dims[k].name);
    }
    return CLI_EXIT_OK;
}

static int random_input(const run_args *a, binding *b)
{
    const kiln_value_info *vi = &b->info;
    if (vi->dtype == KILN_DTYPE_STRING || vi->dtype == KILN_DTYPE_UNDEFINED)
        return cli_error("input '%s': cannot generate random %s data; give it with --input", vi->name,
                         kiln_dtype_name(vi->dtype));
    if (vi->rank < 0)
        return cli_error("input '%s': the model declares no shape; give it with --input", vi->name);
    int64_t dims[64];
    if (vi->rank > 64)
        return cli_error("input '%s': rank %lld is too large", vi->name, (long long)vi->rank);
    for (int64_t d = 0; d < vi->rank; d++) {
        const char *sym = vi->dim_names ? vi->dim_names[d] : NULL;
        const dim_arg *given = find_dim(a, sym);
        if (vi->dims[d] >= 0)
            dims[d] = vi->dims[d];
        else if (given)
            dims[d] = given->value;
        else if (d == 0)
            dims[d] = 1; /* an open leading dimension is almost always the batch */
        else if (sym)
            return cli_error("input '%s': dimension %lld '%s' is open; give its size with --dim %s=VALUE",
                             vi->name, (long long)d, sym, sym);
        else
            return cli_error("input '%s': dimension %lld is open and unnamed; give the input with --input",
                             vi->name, (long long)d);
    }
    if (kiln_tensor_create(vi->dtype, (size_t)vi->rank, dims, &b->tensor) != KILN_OK)
        return cli_fail("input '%s': random data", vi->name);
    uint64_t s = input_stream(a->seed, vi->name);
    fill_random(b->tensor, &s);
    return CLI_EXIT_OK;
}

static int make_inputs(const run_args *a, binding *b, size_t n)
{
    int rc = check_dim_names(a, b, n);
    for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
        if (b[i].tensor)
            continue;
        if (!a->random)
            return cli_error("input '%s' was not given; use --input %s=FILE or --random", b[i].info.name,
                             b[i].info.name);
        rc = random_input(a, &b[i]);
    }
    return rc;
}

/* ---- outputs ----------------------------------------------------------- */

static void print_value(kiln_dtype dt, const void *d, int64_t i)
{
    if (dt == KILN_DTYPE_STRING) {
        const char *const *s = d;
        printf("\"%.40s\"", s[i] ? s[i] : "");
    } else if (dt == KILN_DTYPE_BOOL) {
        printf("%s", ((const uint8_t *)d)[i] ? "true" : "false");
    } else if (dt == KILN_DTYPE_INT64) {
        printf("%lld", (long long)((const int64_t *)d)[i]);
    } else if (dt == KILN_DTYPE_UINT64) {
        printf("%llu", (unsigned long long)((const uint64_t *)d)[i]);
    } else if (dt == KILN_DTYPE_COMPLEX64) {
        printf("(%.6g%+.6gj)", ((const float *)d)[2 * i], ((const float *)d)[2 * i + 1]);
    } else if (dt == KILN_DTYPE_COMPLEX128) {
        printf("(%.6g%+.6gj)", ((const double *)d)[2 * i], ((const double *)d)[2 * i + 1]);
    } else {
        printf("%.6g", cli_element_double(dt, d, i));
    }
}

static bool is_real_numeric(kiln_dtype dt)
{
    return cli_dtype_is_float(dt) || cli_dtype_is_integer(dt) || dt == KILN_DTYPE_BOOL;
}

static void print_stats(const kiln_tensor *t)
{
    kiln_dtype dt = kiln_tensor_dtype(t);
    const void *d = kiln_tensor_const_data(t);
    int64_t n = kiln_tensor_element_count(t);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int64_t finite = 0, nans = 0, infs = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = cli_element_double(dt, d, i);
        if (isnan(v)) {
            nans++;
            continue;
        }
        if (isinf(v))
            infs++;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        if (isfinite(v)) {
            sum += v;
            finite++;
        }
    }
    if (nans == n) {
        printf("  all %lld values are NaN\n", (long long)n);
        return;
    }
    printf("  min %.6g  max %.6g  mean %.6g", lo, hi, finite ? sum / (double)finite : NAN);
    if (nans || infs)
        printf("  (%lld NaN, %lld inf)", (long long)nans, (long long)infs);
    printf("\n");
}

/* The k largest values along the last dimension of each row, by a
 * selection that keeps the first index among equal values. */
static void print_top(const kiln_tensor *t, int64_t k)
{
    size_t rank = kiln_tensor_rank(t);
    kiln_dtype dt = kiln_tensor_dtype(t);
    if (rank == 0 || !is_real_numeric(dt))
        return;
    int64_t cols = kiln_tensor_dims(t)[rank - 1];
    int64_t n = kiln_tensor_element_count(t);
    if (cols <= 0)
        return;
    int64_t rows = n / cols;
    if (k > cols)
        k = cols;
    int64_t *best = malloc((size_t)k * sizeof *best);
    if (!best)
        return;
    const void *d = kiln_tensor_const_data(t);
    for (int64_t r = 0; r < rows && r < MAX_TOP_ROWS; r++) {
        int64_t m = 0;
        for (int64_t c = 0; c < cols; c++) {
            double v = cli_element_double(dt, d, r * cols + c);
            if (isnan(v))
                continue;
            int64_t pos = m;
            while (pos > 0 && v > cli_element_double(dt, d, r * cols + best[pos - 1]))
                pos--;
            if (pos >= k)
                continue;
            int64_t last = m < k ? m : k - 1;
            memmove(best + pos + 1, best + pos, (size_t)(last - pos) * sizeof *best);
            best[pos] = c;
            if (m < k)
                m++;
        }
        printf("  top-%lld", (long long)k);
        if (rows > 1)
            printf(" row %lld", (long long)r);
        printf(":");
        for (int64_t j = 0; j < m; j++) {
            printf("%s %lld (", j ? "," : "", (long long)best[j]);
            print_value(dt, d, r * cols + best[j]);
            printf(")");
        }
        printf("\n");
    }
    if (rows > MAX_TOP_ROWS)
        printf("  top-%lld: %lld more rows not shown\n", (long long)k, (long long)(rows - MAX_TOP_ROWS));
    free(best);
}

static void print_output(const char *name, const kiln_tensor *t, int64_t top)
{
    char type[512];
    kiln_dtype dt = kiln_tensor_dtype(t);
    int64_t n = kiln_tensor_element_count(t);
    printf("output '%s': %s\n", name, cli_format_tensor_type(t, type, sizeof type));
    if (n == 0) {
        printf("  (empty)\n");
        return;
    }
    if (is_real_numeric(dt))
        print_stats(t);
    const void *d = kiln_tensor_const_data(t);
    printf("  values:");
    for (int64_t i = 0; i < n && i < SUMMARY_VALUES; i++) {
        printf(" ");
        print_value(dt, d, i);
    }
    printf("%s\n", n > SUMMARY_VALUES ? " ..." : "");
    if (top > 0)
        print_top(t, top);
}

/* Output file stems: sanitized names, made unique by the output index. */
static int output_paths(const run_args *a, const kiln_model *model, char **pb, char **npy)
{
    size_t n = kiln_model_output_count(model);
    char **stems = calloc(n ? n : 1, sizeof *stems);
    if (!stems)
        return cli_error("out of memory");
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
        kiln_value_info vi;
        if (kiln_model_output_info(model, i, &vi) != KILN_OK) {
            rc = cli_fail("output %zu", i);
            break;
        }
        char fallback[32], stem[256], file[300];
        snprintf(fallback, sizeof fallback, "output_%zu", i);
        cli_sanitize_name(vi.name, fallback, stem, sizeof stem);
        for (size_t j = 0; j < i; j++)
            if (strcmp(stems[j], stem) == 0) {
                size_t len = strlen(stem);
                snprintf(stem + (len < 200 ? len : 200), sizeof stem - (len < 200 ? len : 200), "_%zu", i);
                break;
            }
        stems[i] = strdup(stem);
        snprintf(file, sizeof file, "%s.pb", stem);
        pb[i] = cli_path_join(a->output_dir, file);
        snprintf(file, sizeof file, "%s.npy", stem);
        npy[i] = cli_path_join(a->output_dir, file);
        if (!stems[i] || !pb[i] || !npy[i])
            rc = cli_error("out of memory");
    }
    for (size_t i = 0; i < n; i++)
        free(stems[i]);
    free(stems);
    return rc;
}

/* Checked before the run: an output must never replace an input file or
 * the model, so nothing the user gave us is lost. */
static int check_output_targets(const run_args *a, const binding *b, size_t n_in, char **paths, size_t n_out)
{
    for (size_t i = 0; i < n_out; i++) {
        if (cli_same_file(paths[i], a->model_path))
            return cli_error("--output-dir: refusing to overwrite the model file '%s'", paths[i]);
        for (size_t k = 0; k < n_in; k++)
            if (b[k].file && cli_same_file(paths[i], b[k].file))
                return cli_error("--output-dir: refusing to overwrite input file '%s' (input '%s')", paths[i],
                                 b[k].info.name);
    }
    return CLI_EXIT_OK;
}

static int write_outputs(const kiln_model *model, kiln_tensor **outs, char **pb, char **npy)
{
    for (size_t i = 0; i < kiln_model_output_count(model); i++) {
        kiln_value_info vi;
        if (kiln_model_output_info(model, i, &vi) != KILN_OK)
            return cli_fail("output %zu", i);
        if (kiln_tensor_write_pb(outs[i], vi.name, pb[i]) != KILN_OK)
            return cli_fail("output '%s': writing %s", vi.name, pb[i]);
        if (kiln_tensor_write_npy(outs[i], npy[i]) != KILN_OK)
            return cli_fail("output '%s': writing %s", vi.name, npy[i]);
    }
    return CLI_EXIT_OK;
}

/* ---- the command ------------------------------------------------------- */

typedef struct run_state {
    kiln_model *model;
    kiln_context *ctx;
    size_t n_in, n_out;
    binding *in;
    kiln_tensor **out;
    const char **in_names;
    const kiln_tensor **in_tensors;
    char **pb, **npy;
} run_state;

static void run_state_free(run_state *st)
{
    for (size_t i = 0; st->in && i < st->n_in; i++)
        kiln_tensor_release(st->in[i].tensor);
    for (size_t i = 0; st->out && i < st->n_out; i++)
        kiln_tensor_release(st->out[i]);
    for (size_t i = 0; i < st->n_out; i++) {
        if (st->pb)
            free(st->pb[i]);
        if (st->npy)
            free(st->npy[i]);
    }
    free(st->in);
    free(st->out);
    free(st->in_names);
    free(st->in_tensors);
    free(st->pb);
    free(st->npy);
    kiln_context_release(st->ctx);
    kiln_model_release(st->model);
}

static int load_model(const run_args *a, run_state *st)
{
    kiln_options *opts = NULL;
    if (kiln_options_create(&opts) != KILN_OK)
        return cli_fail("options");
    if (kiln_options_set_threads(opts, (int)a->threads) != KILN_OK) {
        kiln_options_release(opts);
        return cli_fail("--threads %lld", (long long)a->threads);
    }
    if (kiln_options_set_isa(opts, a->isa) != KILN_OK) {
        kiln_options_release(opts);
        return cli_fail("--isa");
    }
    kiln_status s = kiln_model_load(a->model_path, opts, &st->model);
    kiln_options_release(opts);
    if (s != KILN_OK)
        return cli_fail("cannot load model");
    st->n_in = kiln_model_input_count(st->model);
    st->n_out = kiln_model_output_count(st->model);
    st->in = calloc(st->n_in ? st->n_in : 1, sizeof *st->in);
    st->out = calloc(st->n_out ? st->n_out : 1, sizeof *st->out);
    st->in_names = calloc(st->n_in ? st->n_in : 1, sizeof *st->in_names);
    st->in_tensors = calloc(st->n_in ? st->n_in : 1, sizeof *st->in_tensors);
    st->pb = calloc(st->n_out ? st->n_out : 1, sizeof *st->pb);
    st->npy = calloc(st->n_out ? st->n_out : 1, sizeof *st->npy);
    if (!st->in || !st->out || !st->in_names || !st->in_tensors || !st->pb || !st->npy)
        return cli_error("out of memory");
    for (size_t i = 0; i < st->n_in; i++)
        if (kiln_model_input_info(st->model, i, &st->in[i].info) != KILN_OK)
            return cli_fail("input %zu", i);
    return CLI_EXIT_OK;
}

static int execute(const run_args *a, run_state *st)
{
    int rc = load_model(a, st);
    if (rc == CLI_EXIT_OK)
        rc = bind_input_args(a, st->in, st->n_in);
    if (rc == CLI_EXIT_OK)
        rc = read_input_files(a->model_path, st->in, st->n_in);
    if (rc == CLI_EXIT_OK)
        rc = make_inputs(a, st->in, st->n_in);
    if (rc == CLI_EXIT_OK && a->output_dir) {
        rc = output_paths(a, st->model, st->pb, st->npy);
        if (rc == CLI_EXIT_OK)
            rc = check_output_targets(a, st->in, st->n_in, st->pb, st->n_out);
        if (rc == CLI_EXIT_OK)
            rc = check_output_targets(a, st->in, st->n_in, st->npy, st->n_out);
        if (rc == CLI_EXIT_OK && !cli_make_dirs(a->output_dir))
            rc = cli_error("--output-dir: cannot create '%s': %s", a->output_dir, strerror(errno));
    }
    if (rc != CLI_EXIT_OK)
        return rc;

    if (kiln_context_create(st->model, &st->ctx) != KILN_OK)
        return cli_fail("cannot create context");
    for (size_t i = 0; i < st->n_in; i++) {
        st->in_names[i] = st->in[i].info.name;
        st->in_tensors[i] = st->in[i].tensor;
    }
    double t0 = cli_now_ms();
    if (kiln_context_run(st->ctx, st->n_in, st->in_names, st->in_tensors, st->n_out, NULL, st->out) != KILN_OK)
        return cli_fail("run");
    double elapsed = cli_now_ms() - t0;

    if (!a->quiet) {
        for (size_t i = 0; i < st->n_out; i++) {
            kiln_value_info vi;
            if (kiln_model_output_info(st->model, i, &vi) != KILN_OK)
                return cli_fail("output %zu", i);
            print_output(vi.name, st->out[i], a->top);
        }
        char arena[32];
        printf("run time: %.3f ms (first run, includes planning); arena %s\n", elapsed,
               cli_format_bytes((double)kiln_context_arena_bytes(st->ctx), arena, sizeof arena));
    }
    if (a->output_dir) {
        rc = write_outputs(st->model, st->out, st->pb, st->npy);
        if (rc == CLI_EXIT_OK && !a->quiet)
            printf("wrote %zu output%s to %s\n", st->n_out, st->n_out == 1 ? "" : "s", a->output_dir);
    }
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_args a;
    memset(&a, 0, sizeof a);
    a.input_args = calloc((size_t)argc + 1, sizeof *a.input_args);
    a.dims = calloc((size_t)argc + 1, sizeof *a.dims);
    if (!a.input_args || !a.dims) {
        free(a.input_args);
        free(a.dims);
        return cli_error("out of memory");
    }
    bool help = false;
    int rc = parse_args(argc, argv, &a, &help);
    if (rc == CLI_EXIT_OK && help)
        fputs(run_help, stdout);
    else if (rc == CLI_EXIT_OK) {
        run_state st;
        memset(&st, 0, sizeof st);
        rc = execute(&a, &st);
        run_state_free(&st);
    }
    free(a.input_args);
    free(a.dims);
    return rc;
}
