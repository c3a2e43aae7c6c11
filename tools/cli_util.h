/* Helpers shared by the `kiln` subcommands: error reporting with the exit
 * codes, argument scanning, number parsing, shape/value formatting, tensor
 * comparison and small file-system utilities. Uses only the public API. */
#ifndef KILN_CLI_UTIL_H
#define KILN_CLI_UTIL_H

#include "kiln.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of every command. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* ---- errors ------------------------------------------------------------ */

/* "kiln: <what>: <kiln_last_error()>" on stderr; returns CLI_EXIT_FAIL. */
int cli_fail(const char *what_fmt, ...) __attribute__((format(printf, 1, 2)));
/* "kiln: <message>" on stderr for failures kiln itself did not report;
 * returns CLI_EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "kiln: <message>" plus a hint naming the command's --help on stderr;
 * returns CLI_EXIT_USAGE. cmd may be NULL for the top level. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- argument scanning -------------------------------------------------
 * Options are "--name value" or "--name=value" and may come anywhere among
 * the positional arguments; "--" ends the options. */
typedef struct cli_parser {
    int argc;
    char **argv;
    int pos;
    const char *cmd;          /* for error hints */
    const char *inline_value; /* the part after '=' of the current option */
    char name_buf[64];
    bool options_done;
} cli_parser;

typedef enum { CLI_ARG_END, CLI_ARG_OPTION, CLI_ARG_POSITIONAL } cli_arg_kind;

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv);
/* Next argument. For an option *text is its name without the value
 * ("--top"); for a positional it is the argument. */
cli_arg_kind cli_next(cli_parser *p, const char **text);
/* The value of the current option; prints a usage error and returns false
 * when missing. */
bool cli_option_value(cli_parser *p, const char *option, const char **value);
/* For options that take no value: a usage error if "--flag=x" was given. */
bool cli_option_no_value(cli_parser *p, const char *option);

/* Strict number parsing: the whole string, within [min, max]; false (and a
 * usage error naming option) otherwise. */
bool cli_parse_int(const char *cmd, const char *option, const char *text, int64_t min, int64_t max,
                   int64_t *out);
bool cli_parse_nonneg_double(const char *cmd, const char *option, const char *text, double *out);
/* "auto", "generic", "avx2" or "avx512" (kiln_options_set_isa); false and a
 * usage error otherwise. */
bool cli_parse_isa(const char *cmd, const char *option, const char *text, kiln_isa *out);
/* The help lines of --isa, the same for every command that takes it. */
#define CLI_ISA_HELP                                                                      \
    "  --isa ISA       kernels to run: auto (the best this CPU has, the default),\n"     \
    "                  generic, avx2 or avx512; a level the CPU lacks falls back\n"     \
    "                  to the best it has (kiln_options_set_isa)\n"

/* ---- formatting -------------------------------------------------------- */

/* "float32[batch,3,224,224]"; open dims print their symbolic name or "?",
 * an undeclared shape prints as "float32[...]". */
const char *cli_format_info_type(const kiln_value_info *info, char *buf, size_t size);
/* "float32[1,1000]" */
const char *cli_format_tensor_type(const kiln_tensor *t, char *buf, size_t size);
/* "[1,2,3]" for a flat element index */
const char *cli_format_index(size_t rank, const int64_t *dims, int64_t flat, char *buf, size_t size);
/* "1.5 KiB", "3.2 MiB", ... */
const char *cli_format_bytes(double bytes, char *buf, size_t size);
/* "25.6 M", "3.4 k", "12" */
const char *cli_format_count(double count, char *buf, size_t size);
/* Writes s as a JSON string literal (quotes included); invalid UTF-8 bytes
 * become U+FFFD so the output always parses. */
void cli_json_string(FILE *f, const char *s);
/* A file name derived from a tensor name: characters other than
 * [A-Za-z0-9._-] become '_'; "", "." and ".." become fallback. */
void cli_sanitize_name(const char *name, const char *fallback, char *buf, size_t size);

/* ---- elements ---------------------------------------------------------- */

bool cli_dtype_is_float(kiln_dtype dtype);   /* float16/32/64, bfloat16, float8/float4 */
bool cli_dtype_is_integer(kiln_dtype dtype); /* signed and unsigned ints, int4/int2 too */
/* float8 / float4: one byte per element holding the bit code. */
bool cli_dtype_is_narrow_float(kiln_dtype dtype);
bool cli_dtype_is_complex(kiln_dtype dtype);
/* Element i of a real numeric / bool tensor as a double. */
double cli_element_double(kiln_dtype dtype, const void *data, int64_t i);
float cli_half_to_float(uint16_t h);
uint16_t cli_float_to_half(float f);

/* ---- comparison --------------------------------------------------------
 * numpy.testing.assert_allclose: |got - expected| <= atol + rtol*|expected|,
 * NaN equals NaN, infinities must match exactly; integers, bools and strings
 * compare exactly; complex values compare real and imaginary parts. */
typedef struct cli_compare_result {
    bool ok;
    char message[512];     /* why not ok (dtype, shape or first bad element) */
    double worst_abs;      /* over finite pairs */
    double worst_rel;
    int64_t mismatches;
} cli_compare_result;

void cli_compare(const kiln_tensor *got, const kiln_tensor *expected, double rtol, double atol,
                 cli_compare_result *out);

/* ---- files and time ---------------------------------------------------- */

bool cli_is_dir(const char *path);
bool cli_is_file(const char *path);
/* mkdir -p; false with errno set on failure. */
bool cli_make_dirs(const char *path);
/* Both paths name the same existing file (same device and inode). */
bool cli_same_file(const char *a, const char *b);
double cli_now_ms(void);
/* Joins dir and name with '/' into a new malloc'ed string (NULL on OOM). */
char *cli_path_join(const char *dir, const char *name);

#endif /* KILN_CLI_UTIL_H */
