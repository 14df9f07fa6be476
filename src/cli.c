/*
 * cli.c - main of the rpr program: dispatch to the subcommands of cli.h.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

static const cli_command cli_commands[] = {
    {"train", cli_train, "fit a model to geometries and reference values"},
    {"predict", cli_predict, "predict values for geometries with a model"},
    {"eval", cli_eval, "compare predictions with reference values"},
    {"verify", cli_verify,
     "certify rotation, reflection, translation "
     "covariance of a model"},
    {"info", cli_info, "print model metadata, descriptors and kernels"},
    {"spectrum", cli_spectrum,
     "IR and Raman spectra from rpr-nx property files"},
};
static const size_t cli_ncommands = sizeof cli_commands / sizeof *cli_commands;

static void cli_usage(FILE *stream)
{
    fprintf(stream, "Usage: rpr <command> [options]\n"
                    "       rpr help <command>\n"
                    "       rpr --help | --version\n\n"
                    "Commands:\n");
    for (size_t i = 0; i < cli_ncommands; i++)
        fprintf(stream, "  %-9s %s\n", cli_commands[i].name,
                cli_commands[i].summary);
    fprintf(stream, "\n'rpr <command> --help' describes a command; "
                    "man rpr describes them all.\n");
}

static const cli_command *cli_find(const char *name)
{
    for (size_t i = 0; i < cli_ncommands; i++)
        if (strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr);
        return 2;
    }
    const char *const name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        cli_usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        printf("rpr %s (library %s)\n", RPR_VERSION_STRING, rpr_version());
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            cli_usage(stdout);
            return 0;
        }
        const cli_command *const cmd = cli_find(argv[2]);
        if (cmd == NULL) {
            fprintf(stderr, "rpr help: unknown command '%s'\n", argv[2]);
            return 2;
        }
        char help[] = "--help";
        char *args[] = {argv[2], help, NULL};
        return cmd->run(2, args);
    }
    const cli_command *const cmd = cli_find(name);
    if (cmd == NULL) {
        fprintf(stderr, "rpr: unknown command '%s' (try rpr --help)\n", name);
        return 2;
    }
    return cmd->run(argc - 1, argv + 1);
}
