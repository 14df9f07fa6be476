/*
 * cli_info.c - rpr info: what a model file holds, and the descriptor and
 * kernel registries that model files name.
 */
#include <config.h>

#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static void info_usage(FILE *f)
{
    fputs("Usage: rpr info [--list] [MODEL]\n"
          "\n"
          "Print the metadata of MODEL: property, atoms, descriptor, kernel,\n"
          "frame and its thresholds, training record, and per sub-model and\n"
          "component sigma, lambda, prior and selection errors; last, the\n"
          "permutations of identical atoms trained with (rpr train --permute). "
          " With\n"
          "--list, or without MODEL, print the registries of descriptors\n"
          "and kernels with their formulas, units and references.\n"
          "\n"
          "  -l, --list   print the descriptor and kernel registries\n"
          "  -h, --help   this text\n",
          f);
}

static void info_registries(void)
{
    const char *name, *formula, *unit, *reference;
    printf("Descriptors:\n");
    for (size_t i = 0;
         rpr_descriptor_entry(i, &name, &formula, &unit, &reference); i++)
        printf("  %-8s %s [%s]\n           %s\n", name, formula, unit,
               reference);
    printf("Kernels:\n");
    for (size_t i = 0; rpr_kernel_entry(i, &name, &formula, &reference); i++)
        printf("  %-9s %s\n            %s\n", name, formula, reference);
}

int cli_info(int argc, char **argv)
{
    static const struct option longopts[] = {{"list", no_argument, NULL, 'l'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int list = 0;

    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, ":hl", longopts, NULL)) != -1;) {
        switch (c) {
        case 'l': list = 1; break;
        case 'h': info_usage(stdout); return 0;
        default:
            fprintf(stderr, "rpr info: unknown option '%s' (try --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "rpr info: one model at a time (try --help)\n");
        return 2;
    }
    const char *const path = optind < argc ? argv[optind] : NULL;
    if (path != NULL) {
        rpr_model *const model = cli_load_model("info", path);
        if (model == NULL)
            return 1;
        rpr_error err = {0};
        printf("model:         %s\n", path);
        const rpr_status st = rpr_model_write_info(model, stdout, &err);
        /* Provenance of the training set: the swaps of identical atoms
         * whose relabelled copies were trained on (rpr train --permute). */
        const char *const perm = rpr_model_permutations(model);
        if (st == RPR_OK)
            printf("permutations:  %s\n",
                   *perm != '\0' ? perm
                                 : "none (no relabelled copies trained on)");
        rpr_model_free(model);
        if (st != RPR_OK) {
            cli_report("info", &err);
            return 1;
        }
    }
    if (list || path == NULL) {
        if (path != NULL)
            putchar('\n');
        info_registries();
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("rpr info: stdout");
        return 1;
    }
    return 0;
}
