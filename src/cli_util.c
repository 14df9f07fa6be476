/*
 * cli_util.c - helpers shared by the subcommands: one-line error reports,
 * a progress bar on a terminal, strict option values, loading with
 * messages, and the checks that a model fits its input.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_report(const char *cmd, const rpr_error *err)
{
    const char *const msg =
        err->message[0] != '\0' ? err->message : rpr_strerror(err->status);
    fprintf(stderr, "rpr %s: %s\n", cmd, msg);
}

/* Width of the bar in characters (the line stays within 80 columns). */
enum { CLI_BAR_WIDTH = 30 };

void cli_progress(void *ctx, double fraction, const char *what)
{
    /* Redraw only when the shown percentage or the stage changes: a caller
     * may report every kernel row, and a terminal is slow. */
    static int last_percent = -1;
    static char last_what[64] = "";

    if (!isatty(STDERR_FILENO))
        return;
    if (!(fraction >= 0.0)) /* also NaN */
        fraction = 0.0;
    if (fraction > 1.0)
        fraction = 1.0;
    if (what == NULL)
        what = "";
    const int percent = (int) (100.0 * fraction);
    if (percent == last_percent &&
        strncmp(what, last_what, sizeof last_what - 1) == 0)
        return;
    last_percent = percent;
    snprintf(last_what, sizeof last_what, "%s", what);

    const int filled = (int) (CLI_BAR_WIDTH * fraction);
    char bar[CLI_BAR_WIDTH + 1];
    for (int i = 0; i < CLI_BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[CLI_BAR_WIDTH] = '\0';
    fprintf(stderr, "\r\033[Krpr %s: [%s] %3d%% %.30s",
            ctx != NULL ? (const char *) ctx : "", bar, percent, what);
    if (percent >= 100) {
        fputc('\n', stderr);
        last_percent = -1;
        last_what[0] = '\0';
    }
    fflush(stderr);
}

int cli_parse_double(const char *cmd, const char *opt, const char *arg,
                     double *x)
{
    char *end;
    errno = 0;
    const double v = strtod(arg, &end);
    if (end == arg || *end != '\0' || !isfinite(v)) {
        fprintf(stderr, "rpr %s: %s: '%s' is not a finite number\n", cmd, opt,
                arg);
        return 0;
    }
    *x = v;
    return 1;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *arg,
                  uint64_t *n)
{
    char *end;
    errno = 0;
    /* strtoull accepts a sign and wraps "-1" around; digits only here. */
    const unsigned long long v =
        arg[0] >= '0' && arg[0] <= '9' ? strtoull(arg, &end, 10) : 0;
    if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno == ERANGE ||
        v > UINT64_MAX) {
        fprintf(stderr, "rpr %s: %s: '%s' is not a non-negative integer\n", cmd,
                opt, arg);
        return 0;
    }
    *n = (uint64_t) v;
    return 1;
}

int cli_parse_size(const char *cmd, const char *opt, const char *arg, size_t *n)
{
    uint64_t v;
    if (!cli_parse_u64(cmd, opt, arg, &v))
        return 0;
    if (v > SIZE_MAX) {
        fprintf(stderr, "rpr %s: %s: '%s' is too large\n", cmd, opt, arg);
        return 0;
    }
    *n = (size_t) v;
    return 1;
}

rpr_model *cli_load_model(const char *cmd, const char *path)
{
    rpr_error err = {0};
    rpr_model *m = NULL;
    if (rpr_model_load(path, &m, &err) != RPR_OK) {
        cli_report(cmd, &err);
        return NULL;
    }
    return m;
}

rpr_geoms *cli_read_xyz(const char *cmd, const char *path)
{
    rpr_error err = {0};
    rpr_geoms *g = NULL;
    if (rpr_geoms_read_xyz(path, &g, &err) != RPR_OK) {
        cli_report(cmd, &err);
        return NULL;
    }
    return g;
}

static const char *cli_symbol(int z)
{
    const char *const s = rpr_element_symbol(z);
    return s != NULL ? s : "?";
}

int cli_check_atoms(const char *cmd, const rpr_model *model,
                    const char *model_path, const rpr_geoms *geoms,
                    const char *xyz_path)
{
    const size_t na = rpr_geoms_natoms(geoms), nm = rpr_model_natoms(model);
    if (na != nm) {
        fprintf(stderr,
                "rpr %s: %s:%zu: %zu atoms, but the model %s is for %zu\n", cmd,
                xyz_path, rpr_geoms_line(geoms, 0), na, model_path, nm);
        return 0;
    }
    const int *const zg = rpr_geoms_numbers(geoms);
    const int *const zm = rpr_model_numbers(model);
    for (size_t a = 0; a < na; a++)
        if (zg[a] != zm[a]) {
            fprintf(stderr,
                    "rpr %s: %s:%zu: atom %zu is %s, but in the model %s it "
                    "is %s\n",
                    cmd, xyz_path, rpr_geoms_line(geoms, 0), a + 1,
                    cli_symbol(zg[a]), model_path, cli_symbol(zm[a]));
            return 0;
        }
    return 1;
}

int cli_parse_property(const char *cmd, const char *arg, rpr_property *p)
{
    if (rpr_property_parse(arg, p) != RPR_OK) {
        fprintf(stderr,
                "rpr %s: --property: unknown property '%s' (dipole, "
                "polarizability, scalar, energy)\n",
                cmd, arg);
        return 0;
    }
    return 1;
}

int cli_check_property(const char *cmd, const rpr_model *model,
                       const char *model_path, const rpr_property *want)
{
    const rpr_property have = rpr_model_property(model);
    if (want != NULL && *want != have) {
        fprintf(stderr, "rpr %s: %s: the model is for %s, not %s\n", cmd,
                model_path, rpr_property_name(have), rpr_property_name(*want));
        return 0;
    }
    return 1;
}
