/* The kiln subcommands. Each takes the arguments after its name and returns
 * the process exit status (CLI_EXIT_*). */
#ifndef KILN_CLI_COMMANDS_H
#define KILN_CLI_COMMANDS_H

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_optimize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ops(int argc, char **argv);

#endif /* KILN_CLI_COMMANDS_H */
