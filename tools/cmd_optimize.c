/* `kiln optimize IN OUT [--opt N] [--disable PASS]... [--verbose]`: write the
 * model as kiln runs it (BatchNormalization folded, eliminations, constant
 * folding) as a standard ONNX file. Fused epilogues, which have no standard
 * op, are written back as their original ops. */
#include "cli_commands.h"
#include "cli_util.h"

#include <stdlib.h>
#include <string.h>

static const char optimize_help[] =
    "Usage: kiln optimize IN OUT [--opt N] [--disable PASS]... [--verbose]\n"
    "\n"
    "Optimize an ONNX model and write the result as a standard ONNX file that\n"
    "ONNX Runtime and others load. OUT is written atomically (temporary file\n"
    "and rename) and must not be IN.\n"
    "\n"
    "Options:\n"
    "  --opt N         0 none, 1 eliminations + constant folding + BN folds,\n"
    "                  2 (default) also epilogue fusion (written back unfused)\n"
    "  --disable PASS  skip a pass: eliminate, constant-folding, fuse-bn,\n"
    "                  fuse-epilogue (repeatable)\n"
    "  --verbose       list every rewrite\n"
    "  -h, --help      show this help\n";

static size_t node_total(const kiln_model *m, int optimized)
{
    size_t n = 0, total = 0;
    if (kiln_model_op_stats(m, optimized, &n) != KILN_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        kiln_op_stat st;
        if (kiln_model_op_stat(m, optimized, i, &st) == KILN_OK)
            total += st.count;
    }
    return total;
}

int cmd_optimize(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "optimize", argc, argv);
    const char *in = NULL, *out = NULL, *arg, *value;
    const char *disabled[16];
    int n_disabled = 0;
    int64_t level = 2;
    bool verbose = false;
    cli_arg_kind kind;
    while ((kind = cli_next(&p, &arg)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL) {
            if (!in)
                in = arg;
            else if (!out)
                out = arg;
            else
                return cli_usage_error("optimize", "unexpected argument '%s'", arg);
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(optimize_help, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(arg, "--opt") == 0) {
            if (!cli_option_value(&p, arg, &value) || !cli_parse_int("optimize", arg, value, 0, 2, &level))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--disable") == 0) {
            if (!cli_option_value(&p, arg, &value))
                return CLI_EXIT_USAGE;
            if (n_disabled == 16)
                return cli_usage_error("optimize", "too many --disable options");
            disabled[n_disabled++] = value;
        } else if (strcmp(arg, "--verbose") == 0) {
            if (!cli_option_no_value(&p, arg))
                return CLI_EXIT_USAGE;
            verbose = true;
        } else {
            return cli_usage_error("optimize", "unknown option '%s'", arg);
        }
    }
    if (!in || !out)
        return cli_usage_error("optimize", "need IN and OUT");
    if (strcmp(in, out) == 0 || cli_same_file(in, out))
        return cli_error("optimize: refusing to overwrite the input model %s", in);

    kiln_options *opts = NULL;
    if (kiln_options_create(&opts) != KILN_OK || kiln_options_set_opt_level(opts, (int)level) != KILN_OK) {
        kiln_options_release(opts);
        return cli_fail("options");
    }
    /* The blocked layout is how kiln runs a model on this CPU, not ONNX. */
    if (kiln_options_disable_pass(opts, "nchwc") != KILN_OK) {
        kiln_options_release(opts);
        return cli_fail("options");
    }
    for (int i = 0; i < n_disabled; i++)
        if (kiln_options_disable_pass(opts, disabled[i]) != KILN_OK) {
            kiln_options_release(opts);
            return cli_fail("--disable %s", disabled[i]);
        }
    kiln_model *model = NULL;
    kiln_status s = kiln_model_load(in, opts, &model);
    kiln_options_release(opts);
    if (s != KILN_OK)
        return cli_fail("cannot load model");
    if (verbose)
        for (size_t i = 0; i < kiln_model_pass_log_count(model); i++)
            printf("  %s\n", kiln_model_pass_log_line(model, i));
    if (kiln_model_save(model, out) != KILN_OK) {
        kiln_model_release(model);
        return cli_fail("cannot write %s", out);
    }
    printf("%s: %zu nodes -> %zu nodes (%zu rewrites), written to %s\n", in, node_total(model, 0),
           node_total(model, 1), kiln_model_pass_log_count(model), out);
    kiln_model_release(model);
    return CLI_EXIT_OK;
}
