/* `kiln ops [--json]`: the operator table kiln is built with (public API
 * kiln_op_count / kiln_op_get_info). scripts/operators_report.py reads the
 * JSON form to generate docs/operators.md. */
#include "cli_commands.h"
#include "cli_util.h"

#include <stdlib.h>
#include <string.h>

static const char ops_help[] =
    "Usage: kiln ops [--json]\n"
    "\n"
    "List the operators kiln runs: one line per kernel descriptor with its\n"
    "domain ('ai.onnx' for the default domain), op name, the opset versions it\n"
    "covers ('13+' = 13 up to the newest), the element types it takes on the\n"
    "listed input ('any' = the op checks types itself) and 'fast' when float32\n"
    "runs on a vectorized/blocked kernel. An 'upgrade' entry has no kernel of\n"
    "its own: it rewrites that old opset form into a newer version's at load.\n"
    "Custom ops registered by a host program are not listed.\n"
    "\n"
    "Options:\n"
    "  --json      print one JSON object instead of text\n"
    "  -h, --help  show this help\n";

static void format_opsets(char *buf, size_t size, const kiln_op_info *op)
{
    if (op->since_max == 0)
        snprintf(buf, size, "%d+", op->since_min);
    else if (op->since_max == op->since_min)
        snprintf(buf, size, "%d", op->since_min);
    else
        snprintf(buf, size, "%d-%d", op->since_min, op->since_max);
}

static void print_text(const kiln_op_info *ops, size_t n)
{
    printf("%-10s %-26s %-8s %-6s %s\n", "domain", "op", "opsets", "fast", "dtypes");
    for (size_t i = 0; i < n; i++) {
        const kiln_op_info *op = &ops[i];
        printf("%-10s %-26s ", op->domain[0] ? op->domain : "ai.onnx", op->name);
        char opsets[32];
        format_opsets(opsets, sizeof opsets, op);
        printf("%-8s %-6s ", opsets, op->fast ? "fast" : "-");
        if (op->upgrade_only) {
            printf("(upgrade to a newer opset)\n");
            continue;
        }
        if (op->dtype_input)
            printf("input %d: ", op->dtype_input);
        if (!op->n_dtypes)
            printf("any");
        for (size_t k = 0; k < op->n_dtypes; k++)
            printf("%s%s", k ? ", " : "", kiln_dtype_name(op->dtypes[k]));
        printf("\n");
    }
}

static void print_json(const kiln_op_info *ops, size_t n)
{
    printf("{\"kiln_version\": ");
    cli_json_string(stdout, kiln_version());
    printf(", \"ops\": [");
    for (size_t i = 0; i < n; i++) {
        const kiln_op_info *op = &ops[i];
        printf("%s\n  {\"domain\": ", i ? "," : "");
        cli_json_string(stdout, op->domain);
        printf(", \"name\": ");
        cli_json_string(stdout, op->name);
        printf(", \"since_min\": %d, \"since_max\": %d, \"upgrade_only\": %s, \"fast\": %s, \"dtype_input\": %d, "
               "\"dtypes\": ",
               op->since_min, op->since_max, op->upgrade_only ? "true" : "false", op->fast ? "true" : "false",
               op->dtype_input);
        if (!op->n_dtypes) {
            printf("null}");
            continue;
        }
        printf("[");
        for (size_t k = 0; k < op->n_dtypes; k++) {
            printf("%s", k ? ", " : "");
            cli_json_string(stdout, kiln_dtype_name(op->dtypes[k]));
        }
        printf("]}");
    }
    printf("\n]}\n");
}

int cmd_ops(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "ops", argc, argv);
    const char *arg;
    bool json = false;
    cli_arg_kind kind;
    while ((kind = cli_next(&p, &arg)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL)
            return cli_usage_error("ops", "unexpected argument '%s'", arg);
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(ops_help, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--json") != 0)
            return cli_usage_error("ops", "unknown option '%s'", arg);
        if (!cli_option_no_value(&p, arg))
            return CLI_EXIT_USAGE;
        json = true;
    }
    size_t n = kiln_op_count();
    kiln_op_info *ops = calloc(n ? n : 1, sizeof *ops);
    if (!ops)
        return cli_error("out of memory");
    for (size_t i = 0; i < n; i++) {
        if (kiln_op_get_info(i, &ops[i]) != KILN_OK) {
            free(ops);
            return cli_fail("operator table entry %zu", i);
        }
    }
    if (json)
        print_json(ops, n);
    else
        print_text(ops, n);
    free(ops);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_error("writing the operator table failed");
}
