/*
 * cli.h - the subcommands of the rpr program.  Each takes the arguments
 * after its name (argv[0] is the subcommand) and returns the process exit
 * status: 0 success, 1 failure (message already on stderr), 2 usage error.
 * Programs reach only the public API (rpr.h).
 */
#ifndef RPR_CLI_H
#define RPR_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "rpr.h"

int cli_train(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_spectrum(int argc, char **argv);

/* Shared helpers (cli_util.c). */

/* "rpr <cmd>: <message>" on stderr, one line. */
void cli_report(const char *cmd, const rpr_error *err);
/* Progress bar on stderr when it is a terminal (an rpr_progress_fn; ctx is
 * the subcommand name). */
void cli_progress(void *ctx, double fraction, const char *what);

/* Option values, strictly: the whole argument must be the number.  On
 * failure print "rpr <cmd>: <opt>: ..." and return 0; 1 on success. */
int cli_parse_double(const char *cmd, const char *opt, const char *arg,
                     double *x);
int cli_parse_size(const char *cmd, const char *opt, const char *arg,
                   size_t *n);
int cli_parse_u64(const char *cmd, const char *opt, const char *arg,
                  uint64_t *n);

/* Load a model or read an XYZ file, printing the library's message on
 * failure; NULL then. */
rpr_model *cli_load_model(const char *cmd, const char *path);
rpr_geoms *cli_read_xyz(const char *cmd, const char *path);

/* Print "rpr <cmd>: <xyz>:<line>: ..." and return 0 unless the geometries
 * have the model's atoms in the model's order; 1 if they do. */
int cli_check_atoms(const char *cmd, const rpr_model *model,
                    const char *model_path, const rpr_geoms *geoms,
                    const char *xyz_path);
/* A --property value: print "rpr <cmd>: --property: unknown ..." and
 * return 0 if the name is not a property; 1 otherwise. */
int cli_parse_property(const char *cmd, const char *arg, rpr_property *p);
/* With a property wanted (want not NULL), print a message and return 0
 * unless the model is for it; 1 otherwise. */
int cli_check_property(const char *cmd, const rpr_model *model,
                       const char *model_path, const rpr_property *want);

#endif /* RPR_CLI_H */
