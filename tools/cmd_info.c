/* `kiln info MODEL [--json]`: describe a model without running it. Models
 * with ops kiln lacks are loaded with allow_unsupported so they can still
 * be described; those ops are listed by name. */
#include "cli_commands.h"
#include "cli_util.h"

#include <stdlib.h>
#include <string.h>

static const char info_help[] =
    "Usage: kiln info MODEL [--json] [--optimized [--verbose]]\n"
    "\n"
    "Describe an ONNX model: IR version, producer, opset imports, inputs and\n"
    "outputs with dtypes and shapes (open dimensions by their symbolic name,\n"
    "'?' when unnamed), the op histogram of the graph as loaded, parameter\n"
    "count and size, and every op kiln cannot run.\n"
    "\n"
    "Options:\n"
    "  --json       print one JSON object instead of text\n"
    "  --optimized  also show the graph as kiln runs it (optimization level 2):\n"
    "               node count and op histogram after the passes\n"
    "  --verbose    with --optimized: every rewrite the passes made\n"
    "  -h, --help show this help\n";

typedef struct model_facts {
    kiln_model_meta meta;
    size_t n_stats;
    kiln_op_stat *stats; /* sorted: most frequent first */
    size_t n_unsupported;
} model_facts;

static int by_count_then_name(const void *pa, const void *pb)
{
    const kiln_op_stat *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    int c = strcmp(a->domain, b->domain);
    return c ? c : strcmp(a->op_type, b->op_type);
}

static int gather_facts(const kiln_model *model, model_facts *f)
{
    memset(f, 0, sizeof *f);
    if (kiln_model_meta_get(model, &f->meta) != KILN_OK)
        return cli_fail("model metadata");
    if (kiln_model_op_stats(model, 0, &f->n_stats) != KILN_OK)
        return cli_fail("op statistics");
    f->stats = calloc(f->n_stats ? f->n_stats : 1, sizeof *f->stats);
    if (!f->stats)
        return cli_error("out of memory");
    for (size_t i = 0; i < f->n_stats; i++) {
        if (kiln_model_op_stat(model, 0, i, &f->stats[i]) != KILN_OK)
            return cli_fail("op statistics");
        if (!f->stats[i].domain)
            f->stats[i].domain = "";
        if (!f->stats[i].supported)
            f->n_unsupported++;
    }
    qsort(f->stats, f->n_stats, sizeof *f->stats, by_count_then_name);
    return CLI_EXIT_OK;
}

/* The default domain prints bare; others as "domain.Op". */
static void print_op_name(FILE *out, const kiln_op_stat *s)
{
    if (s->domain[0] && strcmp(s->domain, "ai.onnx") != 0)
        fprintf(out, "%s.%s", s->domain, s->op_type);
    else
        fputs(s->op_type, out);
}

static int print_value_list(const kiln_model *model, bool inputs)
{
    size_t n = inputs ? kiln_model_input_count(model) : kiln_model_output_count(model);
    printf("%s:%s\n", inputs ? "inputs" : "outputs", n ? "" : " none");
    for (size_t i = 0; i < n; i++) {
        kiln_value_info vi;
        kiln_status s = inputs ? kiln_model_input_info(model, i, &vi) : kiln_model_output_info(model, i, &vi);
        if (s != KILN_OK)
            return cli_fail("%s %zu", inputs ? "input" : "output", i);
        char type[512];
        kiln_value_kind kind = KILN_VALUE_TENSOR;
        s = inputs ? kiln_model_input_kind(model, i, &kind) : kiln_model_output_kind(model, i, &kind);
        if (s != KILN_OK)
            return cli_fail("%s %zu", inputs ? "input" : "output", i);
        if (kind != KILN_VALUE_TENSOR) /* its items' type is known only at run time */
            snprintf(type, sizeof type, "%s", kind == KILN_VALUE_SEQUENCE ? "sequence" : "optional");
        else
            cli_format_info_type(&vi, type, sizeof type);
        printf("  %s: %s\n", vi.name, type);
    }
    return CLI_EXIT_OK;
}

static int print_text(const char *path, const kiln_model *model, const model_facts *f)
{
    const kiln_model_meta *m = &f->meta;
    printf("model: %s\n", path);
    printf("ir version: %lld\n", (long long)m->ir_version);
    printf("producer: %s%s%s\n", m->producer_name[0] ? m->producer_name : "(none)",
           m->producer_version[0] ? " " : "", m->producer_version);
    if (m->domain[0])
        printf("domain: %s\n", m->domain);
    if (m->model_version)
        printf("model version: %lld\n", (long long)m->model_version);
    printf("opsets:");
    for (size_t i = 0; i < m->opset_count; i++)
        printf("%s %s %lld", i ? "," : "", m->opset_domains[i][0] ? m->opset_domains[i] : "ai.onnx",
               (long long)m->opset_versions[i]);
    printf("%s\n", m->opset_count ? "" : " none");
    int rc = print_value_list(model, true);
    if (rc == CLI_EXIT_OK)
        rc = print_value_list(model, false);
    if (rc != CLI_EXIT_OK)
        return rc;
    printf("nodes: %zu\n", m->node_count);
    printf("ops:%s\n", f->n_stats ? "" : " none");
    for (size_t i = 0; i < f->n_stats; i++) {
        printf("  %6zu  ", f->stats[i].count);
        print_op_name(stdout, &f->stats[i]);
        printf("%s\n", f->stats[i].supported ? "" : "  (unsupported)");
    }
    char count[32], bytes[32];
    printf("parameters: %lld (%s), %lld bytes (%s)\n", (long long)m->parameter_count,
           cli_format_count((double)m->parameter_count, count, sizeof count), (long long)m->parameter_bytes,
           cli_format_bytes((double)m->parameter_bytes, bytes, sizeof bytes));
    printf("unsupported ops:");
    if (!f->n_unsupported)
        printf(" none");
    for (size_t i = 0, k = 0; i < f->n_stats; i++) {
        if (f->stats[i].supported)
            continue;
        printf("%s ", k++ ? "," : "");
        print_op_name(stdout, &f->stats[i]);
    }
    printf("\n");
    return CLI_EXIT_OK;
}

static void json_shape(const kiln_value_info *vi)
{
    if (vi->rank < 0) {
        printf("null");
        return;
    }
    printf("[");
    for (int64_t d = 0; d < vi->rank; d++) {
        if (d)
            printf(", ");
        if (vi->dims && vi->dims[d] >= 0)
            printf("%lld", (long long)vi->dims[d]);
        else if (vi->dim_names && vi->dim_names[d])
            cli_json_string(stdout, vi->dim_names[d]);
        else
            printf("null");
    }
    printf("]");
}

static int json_value_list(const kiln_model *model, bool inputs)
{
    size_t n = inputs ? kiln_model_input_count(model) : kiln_model_output_count(model);
    printf("  \"%s\": [", inputs ? "inputs" : "outputs");
    for (size_t i = 0; i < n; i++) {
        kiln_value_info vi;
        kiln_status s = inputs ? kiln_model_input_info(model, i, &vi) : kiln_model_output_info(model, i, &vi);
        if (s != KILN_OK)
            return cli_fail("%s %zu", inputs ? "input" : "output", i);
        printf("%s\n    {\"name\": ", i ? "," : "");
        cli_json_string(stdout, vi.name);
        printf(", \"dtype\": ");
        cli_json_string(stdout, kiln_dtype_name(vi.dtype));
        printf(", \"shape\": ");
        json_shape(&vi);
        printf("}");
    }
    printf("%s],\n", n ? "\n  " : "");
    return CLI_EXIT_OK;
}

/* Everything is gathered before printing starts, so a failure never leaves
 * half a JSON object on stdout. */
static int check_value_lists(const kiln_model *model)
{
    kiln_value_info vi;
    for (size_t i = 0; i < kiln_model_input_count(model); i++)
        if (kiln_model_input_info(model, i, &vi) != KILN_OK)
            return cli_fail("input %zu", i);
    for (size_t i = 0; i < kiln_model_output_count(model); i++)
        if (kiln_model_output_info(model, i, &vi) != KILN_OK)
            return cli_fail("output %zu", i);
    return CLI_EXIT_OK;
}

static int print_json(const char *path, const kiln_model *model, const model_facts *f)
{
    int rc = check_value_lists(model);
    if (rc != CLI_EXIT_OK)
        return rc;
    const kiln_model_meta *m = &f->meta;
    printf("{\n  \"model\": ");
    cli_json_string(stdout, path);
    printf(",\n  \"ir_version\": %lld,\n  \"producer_name\": ", (long long)m->ir_version);
    cli_json_string(stdout, m->producer_name);
    printf(",\n  \"producer_version\": ");
    cli_json_string(stdout, m->producer_version);
    printf(",\n  \"domain\": ");
    cli_json_string(stdout, m->domain);
    printf(",\n  \"model_version\": %lld,\n  \"doc_string\": ", (long long)m->model_version);
    cli_json_string(stdout, m->doc_string);
    printf(",\n  \"opset_imports\": [");
    for (size_t i = 0; i < m->opset_count; i++) {
        printf("%s{\"domain\": ", i ? ", " : "");
        cli_json_string(stdout, m->opset_domains[i]);
        printf(", \"version\": %lld}", (long long)m->opset_versions[i]);
    }
    printf("],\n");
    json_value_list(model, true);
    json_value_list(model, false);
    printf("  \"node_count\": %zu,\n  \"ops\": [", m->node_count);
    for (size_t i = 0; i < f->n_stats; i++) {
        printf("%s\n    {\"domain\": ", i ? "," : "");
        cli_json_string(stdout, f->stats[i].domain);
        printf(", \"op_type\": ");
        cli_json_string(stdout, f->stats[i].op_type);
        printf(", \"count\": %zu, \"supported\": %s}", f->stats[i].count,
               f->stats[i].supported ? "true" : "false");
    }
    printf("%s],\n", f->n_stats ? "\n  " : "");
    printf("  \"parameter_count\": %lld,\n  \"parameter_bytes\": %lld,\n", (long long)m->parameter_count,
           (long long)m->parameter_bytes);
    printf("  \"unsupported_ops\": [");
    for (size_t i = 0, k = 0; i < f->n_stats; i++) {
        if (f->stats[i].supported)
            continue;
        printf("%s{\"domain\": ", k++ ? ", " : "");
        cli_json_string(stdout, f->stats[i].domain);
        printf(", \"op_type\": ");
        cli_json_string(stdout, f->stats[i].op_type);
        printf("}");
    }
    printf("]\n}\n");
    return CLI_EXIT_OK;
}

/* The graph after optimization: node count, op histogram, and with verbose
 * the pass log (which fusion fired where). */
static int print_optimized(const kiln_model *model, const model_facts *f, bool verbose)
{
    size_t n = 0, nodes = 0;
    if (kiln_model_op_stats(model, 1, &n) != KILN_OK)
        return cli_fail("optimized op statistics");
    kiln_op_stat *st = calloc(n ? n : 1, sizeof *st);
    if (!st)
        return cli_error("out of memory");
    for (size_t i = 0; i < n; i++) {
        if (kiln_model_op_stat(model, 1, i, &st[i]) != KILN_OK) {
            free(st);
            return cli_fail("optimized op statistics");
        }
        if (!st[i].domain)
            st[i].domain = "";
        nodes += st[i].count;
    }
    qsort(st, n, sizeof *st, by_count_then_name);
    printf("optimized: %zu nodes -> %zu nodes\n", f->meta.node_count, nodes);
    for (size_t i = 0; i < n; i++) {
        printf("  %6zu  ", st[i].count);
        print_op_name(stdout, &st[i]);
        putchar('\n');
    }
    free(st);
    size_t lines = kiln_model_pass_log_count(model), fused = 0;
    for (size_t i = 0; i < lines; i++) {
        const char *l = kiln_model_pass_log_line(model, i);
        if (strncmp(l, "fuse-", 5) == 0)
            fused++;
        if (verbose)
            printf("  %s\n", l);
    }
    printf("rewrites: %zu (%zu fusions)\n", lines, fused);
    return CLI_EXIT_OK;
}

int cmd_info(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "info", argc, argv);
    const char *model_path = NULL, *arg;
    bool json = false, optimized = false, verbose = false;
    cli_arg_kind kind;
    while ((kind = cli_next(&p, &arg)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL) {
            if (model_path)
                return cli_usage_error("info", "unexpected argument '%s' (one MODEL only)", arg);
            model_path = arg;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(info_help, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(arg, "--json") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            json = true;
        } else if (strcmp(arg, "--optimized") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            optimized = true;
        } else if (strcmp(arg, "--verbose") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            verbose = true;
        } else {
            return cli_usage_error("info", "unknown option '%s'", arg);
        }
    }
    if (!model_path)
        return cli_usage_error("info", "missing MODEL");
    if (json && optimized)
        return cli_usage_error("info", "--optimized is text only (not with --json)");
    if (verbose && !optimized)
        return cli_usage_error("info", "--verbose goes with --optimized");

    kiln_options *opts = NULL;
    if (kiln_options_create(&opts) != KILN_OK)
        return cli_fail("options");
    if (kiln_options_set_allow_unsupported(opts, 1) != KILN_OK) {
        kiln_options_release(opts);
        return cli_fail("options");
    }
    kiln_model *model = NULL;
    kiln_status s = kiln_model_load(model_path, opts, &model);
    kiln_options_release(opts);
    if (s != KILN_OK)
        return cli_fail("cannot load model");

    model_facts facts;
    int rc = gather_facts(model, &facts);
    if (rc == CLI_EXIT_OK)
        rc = json ? print_json(model_path, model, &facts) : print_text(model_path, model, &facts);
    if (rc == CLI_EXIT_OK && optimized)
        rc = print_optimized(model, &facts, verbose);
    free(facts.stats);
    kiln_model_release(model);
    return rc;
}
