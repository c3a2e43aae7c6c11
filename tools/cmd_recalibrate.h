/* `kiln recalibrate`: Precise-BN recalibration of a model's BatchNorm
 * statistics on new data. Takes the arguments after the command name and
 * returns the process exit status (0 ok, 1 failure, 2 bad command line). */
#ifndef KILN_CMD_RECALIBRATE_H
#define KILN_CMD_RECALIBRATE_H

int kiln_cmd_recalibrate(int argc, char **argv);

#endif
