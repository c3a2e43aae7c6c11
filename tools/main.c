/* `kiln`: the command-line front end of the kiln runtime. Dispatches to one
 * subcommand per file (cmd_*.c); uses only the public API in kiln.h. */
#include "cli_commands.h"
#include "cmd_recalibrate.h"
#include "cli_util.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "describe a model: inputs, outputs, opsets, ops, parameters"},
    {"run", cmd_run, "run a model on inputs from files or random data"},
    {"conformance", cmd_conformance, "run ONNX backend-style test folders and compare outputs"},
    {"recalibrate", kiln_cmd_recalibrate, "re-estimate BatchNorm statistics on new data (Precise BN)"},
    {"optimize", cmd_optimize, "fold BatchNormalization and simplify; write a standard ONNX model"},
    {"bench", cmd_bench, "time a model: latency, throughput, load time, peak memory, per-layer profile"},
    {"ops", cmd_ops, "list the operators kiln runs: opsets, dtypes, fast kernels (--json)"},
};

static void print_usage(FILE *f)
{
    fputs("Usage: kiln <command> [arguments]\n"
          "       kiln --help | --version\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Run 'kiln <command> --help' for a command's options.\n"
          "Exit status: 0 success, 1 failure, 2 bad command line.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(NULL, "missing command");
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("kiln %s (API version %d)\n", kiln_version(), kiln_api_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    if (name[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", name);
    return cli_usage_error(NULL, "unknown command '%s'", name);
}
