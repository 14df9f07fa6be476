/*
 * cli.h - the subcommands of the rpr program.  Each takes the arguments
 * after its name (argv[0] is the subcommand) and returns the process exit
 * status: 0 success, 1 failure (message already on stderr), 2 usage error.
 * Programs reach only the public API (rpr.h).
 */
#ifndef RPR_CLI_H
#define RPR_CLI_H

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

#endif /* RPR_CLI_H */
