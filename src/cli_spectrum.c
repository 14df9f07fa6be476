/*
 * cli_spectrum.c - rpr spectrum ir|raman: IR and Raman spectra from the
 * per-step property files of rpr-nx (one per trajectory), as a text table
 * and an SVG or PNG plot with the standard-error band.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_plot.h"

/* Warnings per file about jumps before "... and N more". */
enum { CLI_SPECTRUM_MAX_JUMP_LINES = 5, CLI_SPECTRUM_MAX_REFS = 64 };

static void cli_spectrum_usage(FILE *f)
{
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    fprintf(
        f,
        "Usage: rpr spectrum ir|raman [options] FILE...\n"
        "\n"
        "IR absorption or Raman scattering from the per-step property files\n"
        "written by rpr-nx (one per trajectory; lengths may differ), by the\n"
        "autocorrelation of the dipole (IR) or polarizability (Raman) time\n"
        "derivative, averaged over trajectories.  Absolute units: IR in\n"
        "km/mol per cm^-1; Raman dsigma/dOmega in 1e-30 m^2/sr per cm^-1\n"
        "(parallel, perpendicular, unpolarised) and the depolarisation\n"
        "ratio.  Error band: jackknife standard error over trajectories, or\n"
        "over blocks of one trajectory.  Formulas: docs/spectra.md.\n"
        "\n"
        "  -o, --output FILE     the table (default or \"-\": standard "
        "output)\n"
        "  -p, --plot FILE       plot: FILE.svg written directly, FILE.png\n"
        "                        through gnuplot\n"
        "  -T, --temperature K   temperature of prefactors and QCF "
        "(default %g)\n"
        "      --laser CM        Raman excitation wavenumber, cm^-1 "
        "(default %g)\n"
        "      --scale S         frequency scaling factor of the wavenumber\n"
        "                        axis, e.g. 0.9 for HF (default 1)\n"
        "      --depth N         correlation depth in frames (default\n"
        "                        min(%zu, M/2), M the derivative frames of\n"
        "                        the shortest trajectory)\n"
        "      --window NAME     hann (default), gaussian or none\n"
        "      --width FS        Gaussian width a of exp(-(t/a)^2), fs\n"
        "                        (default depth * dt / 2)\n"
        "      --padding K       transform length K * depth (default %zu)\n"
        "      --no-fd-correction  keep the central difference's damping\n"
        "      --qcf NAME        harmonic (default), classical, standard,\n"
        "                        schofield\n"
        "      --max-wavenumber CM  last wavenumber of the table (default "
        "%g)\n"
        "      --blocks B        blocks of one trajectory for its error band\n"
        "                        (default %zu; 0 for none)\n"
        "      --dt-rtol R       tolerance of uniform time steps, relative\n"
        "                        (default %g)\n"
        "      --jump-factor F   warn where a per-step change exceeds F "
        "times\n"
        "                        the median (default %g)\n"
        "      --min-steps N     skip trajectories with fewer records\n"
        "      --ref CM[,CM...]  reference lines on the plot (experimental\n"
        "                        band positions, cm^-1; repeatable)\n"
        "      --ref-label TEXT  legend of the reference lines "
        "(\"experiment\")\n"
        "      --title TEXT      plot title\n"
        "      --plot-range LO,HI  wavenumbers shown (default 0 to the\n"
        "                        table's end); the Raman y range ignores the\n"
        "                        Rayleigh region below 5 line widths\n"
        "  -h, --help            this text\n",
        o.temperature_k, o.laser_cm, o.depth_max, o.padding,
        o.max_wavenumber_cm, o.blocks, o.dt_rtol, o.jump_factor);
}

static int cli_spectrum_parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    const double x = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(x))
        return 0;
    *v = x;
    return 1;
}

static int cli_spectrum_parse_size(const char *s, size_t *v)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0')
        return 0;
    const unsigned long long x = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || x > (unsigned long long) SIZE_MAX)
        return 0;
    *v = (size_t) x;
    return 1;
}

/* Append comma-separated wavenumbers to refs; 0 on a bad list. */
static int cli_spectrum_parse_refs(const char *s, double *refs, size_t *n)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        return 0;
    strcpy(buf, s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (*n == CLI_SPECTRUM_MAX_REFS ||
            !cli_spectrum_parse_double(tok, &refs[*n]))
            return 0;
        (*n)++;
    }
    return 1;
}

/* Warn about jumps of one series; the library finds them, the program
 * speaks. */
static int cli_spectrum_warn_jumps(const rpr_series *s, double factor,
                                   const char *what)
{
    size_t nj = 0, *steps = NULL;
    double *ratios = NULL;
    rpr_error err = {0};
    if (rpr_series_jumps(s, factor, &nj, &steps, &ratios, &err) != RPR_OK) {
        cli_report("spectrum", &err);
        return 0;
    }
    const double t0 = rpr_series_t0_fs(s), dt = rpr_series_dt_fs(s);
    for (size_t j = 0; j < nj && j < CLI_SPECTRUM_MAX_JUMP_LINES; j++)
        fprintf(stderr,
                "rpr spectrum: warning: %s:%zu: t = %.4f fs: %s changes by "
                "%.3g times the median per-step change (a frame seam of the "
                "model?)\n",
                rpr_series_path(s), rpr_series_line(s, steps[j]),
                t0 + (double) steps[j] * dt, what, ratios[j]);
    if (nj > CLI_SPECTRUM_MAX_JUMP_LINES)
        fprintf(stderr, "rpr spectrum: warning: %s: ... and %zu more jumps\n",
                rpr_series_path(s), nj - CLI_SPECTRUM_MAX_JUMP_LINES);
    rpr_free(steps);
    rpr_free(ratios);
    return 1;
}

/* An output: atomic (temporary file renamed into place) for a new or
 * regular file; direct for an existing non-regular file such as /dev/null
 * or a pipe, which a rename would replace; stdout for "-". */
typedef struct cli_spectrum_out {
    rpr_outfile *atomic;
    FILE *direct;
    const char *path;
} cli_spectrum_out;

static FILE *cli_spectrum_out_open(cli_spectrum_out *o, const char *path)
{
    struct stat sb;
    rpr_error err = {0};
    o->atomic = NULL;
    o->direct = NULL;
    o->path = path;
    if (strcmp(path, "-") == 0) {
        o->direct = stdout;
        return stdout;
    }
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        o->direct = fopen(path, "w");
        if (o->direct == NULL)
            fprintf(stderr, "rpr spectrum: %s: cannot open: %s\n", path,
                    strerror(errno));
        return o->direct;
    }
    if (rpr_outfile_open(path, &o->atomic, &err) != RPR_OK) {
        cli_report("spectrum", &err);
        return NULL;
    }
    return rpr_outfile_stream(o->atomic);
}

/* Finish: commit or close; 1 on success.  ok = 0 discards. */
static int cli_spectrum_out_close(cli_spectrum_out *o, int ok)
{
    rpr_error err = {0};
    if (o->atomic != NULL) {
        rpr_outfile *const a = o->atomic;
        o->atomic = NULL;
        if (!ok) {
            rpr_outfile_discard(a);
            return 0;
        }
        if (rpr_outfile_commit(a, &err) != RPR_OK) {
            cli_report("spectrum", &err);
            return 0;
        }
        return 1;
    }
    if (o->direct != NULL) {
        FILE *const f = o->direct;
        o->direct = NULL;
        const int bad = f == stdout ? fflush(f) != 0 || ferror(f)
                                    : ferror(f) | (fclose(f) != 0);
        if (ok && bad)
            fprintf(stderr, "rpr spectrum: %s: write error\n", o->path);
        return ok && !bad;
    }
    return 0;
}

static int cli_spectrum_ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Write the plot of spec to path (.svg or .png); 1 on success. */
static int cli_spectrum_plot(const rpr_spectrum *spec, const char *path,
                             const char *title, const double *refs,
                             size_t nrefs, const char *ref_label, double lo,
                             double hi)
{
    rpr_spectrum_info in;
    rpr_spectrum_get_info(spec, &in);
    const rpr_spectrum_options *const o = rpr_spectrum_options_used(spec);
    const int ir = in.kind == RPR_SPECTRUM_IR;
    const size_t nb = rpr_spectrum_nbins(spec);
    const double *const x = rpr_spectrum_find(spec, "wavenumber");
    if (!(hi > lo) || nb < 2) {
        fprintf(stderr,
                "rpr spectrum: --plot %s: nothing to plot between %g "
                "and %g cm^-1\n",
                path, lo, hi);
        return 0;
    }
    cli_plot_curve curves[3];
    size_t nc = 0;
    if (ir) {
        curves[nc++] = (cli_plot_curve){rpr_spectrum_find(spec, "ir"),
                                        rpr_spectrum_find(spec, "ir_se"),
                                        "IR absorption", "#1f77b4", 1.6};
    } else {
        curves[nc++] =
            (cli_plot_curve){rpr_spectrum_find(spec, "unpolarised"),
                             rpr_spectrum_find(spec, "unpolarised_se"),
                             "unpolarised (VV+VH)", "#1f77b4", 1.6};
        curves[nc++] = (cli_plot_curve){rpr_spectrum_find(spec, "parallel"),
                                        NULL, "parallel (VV)", "#2ca02c", 0.9};
        curves[nc++] =
            (cli_plot_curve){rpr_spectrum_find(spec, "perpendicular"), NULL,
                             "perpendicular (VH)", "#ff7f0e", 0.9};
    }
    char deftitle[256], note[512];
    snprintf(deftitle, sizeof deftitle, "%s, %zu trajector%s, T = %g K",
             ir ? "IR absorption" : "Raman scattering", in.nseries,
             in.nseries == 1 ? "y" : "ies", o->temperature_k);
    char laser[64] = "";
    if (!ir)
        snprintf(laser, sizeof laser, ", laser %g cm\xe2\x81\xbb\xc2\xb9",
                 o->laser_cm);
    snprintf(note, sizeof note,
             "L = %zu frames (%g fs), %s window, line FWHM %.3g "
             "cm\xe2\x81\xbb\xc2\xb9%s; band: jackknife over %zu %s",
             in.depth, (double) in.depth * in.dt_fs,
             o->window == RPR_WINDOW_HANN       ? "Hann"
             : o->window == RPR_WINDOW_GAUSSIAN ? "Gaussian"
                                                : "no",
             in.resolution_cm, laser, in.nunits,
             in.nseries > 1 ? "trajectories" : "blocks");
    if (in.nunits < 2)
        snprintf(
            note, sizeof note,
            "L = %zu frames (%g fs), line FWHM %.3g cm\xe2\x81\xbb\xc2\xb9; "
            "no error band",
            in.depth, (double) in.depth * in.dt_fs, in.resolution_cm);
    char scale_note[64] = "";
    if (o->scale != 1.0)
        snprintf(scale_note, sizeof scale_note, " (scaled by %g)", o->scale);
    char xlabel[128];
    snprintf(xlabel, sizeof xlabel, "wavenumber / cm\xe2\x81\xbb\xc2\xb9%s",
             scale_note);
    const cli_plot p = {
        title != NULL ? title : deftitle,
        note,
        xlabel,
        ir ? "A / (km mol\xe2\x81\xbb\xc2\xb9 cm)"
           : "d\xcf\x83/d\xce\xa9 / (10\xe2\x81\xbb\xc2\xb3\xe2\x81\xb0 "
             "m\xc2\xb2 "
             "sr\xe2\x81\xbb\xc2\xb9 cm)",
        nb,
        x,
        nc,
        curves,
        nrefs,
        refs,
        ref_label,
        lo,
        hi,
        ir ? lo : fmax(lo, 5.0 * in.resolution_cm),
    };
    if (cli_spectrum_ends_with(path, ".png")) {
        char msg[512];
        if (cli_plot_png(path, &p, msg, sizeof msg) != 0) {
            fprintf(stderr, "rpr spectrum: %s\n", msg);
            return 0;
        }
        return 1;
    }
    if (!cli_spectrum_ends_with(path, ".svg")) {
        fprintf(stderr,
                "rpr spectrum: --plot %s: name must end in .svg or "
                ".png\n",
                path);
        return 0;
    }
    cli_spectrum_out out;
    FILE *const f = cli_spectrum_out_open(&out, path);
    if (f == NULL)
        return 0;
    const int ok = cli_plot_svg(f, &p) == 0;
    if (!ok)
        fprintf(stderr, "rpr spectrum: %s: write error\n", path);
    return cli_spectrum_out_close(&out, ok);
}

int cli_spectrum(int argc, char **argv)
{
    enum {
        OPT_LASER = 256,
        OPT_SCALE,
        OPT_DEPTH,
        OPT_WINDOW,
        OPT_WIDTH,
        OPT_PADDING,
        OPT_NOFD,
        OPT_QCF,
        OPT_MAXNU,
        OPT_BLOCKS,
        OPT_DTRTOL,
        OPT_JUMP,
        OPT_MINSTEPS,
        OPT_REF,
        OPT_REFLABEL,
        OPT_TITLE,
        OPT_RANGE
    };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"plot", required_argument, NULL, 'p'},
        {"temperature", required_argument, NULL, 'T'},
        {"laser", required_argument, NULL, OPT_LASER},
        {"scale", required_argument, NULL, OPT_SCALE},
        {"depth", required_argument, NULL, OPT_DEPTH},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"width", required_argument, NULL, OPT_WIDTH},
        {"padding", required_argument, NULL, OPT_PADDING},
        {"no-fd-correction", no_argument, NULL, OPT_NOFD},
        {"qcf", required_argument, NULL, OPT_QCF},
        {"max-wavenumber", required_argument, NULL, OPT_MAXNU},
        {"blocks", required_argument, NULL, OPT_BLOCKS},
        {"dt-rtol", required_argument, NULL, OPT_DTRTOL},
        {"jump-factor", required_argument, NULL, OPT_JUMP},
        {"min-steps", required_argument, NULL, OPT_MINSTEPS},
        {"ref", required_argument, NULL, OPT_REF},
        {"ref-label", required_argument, NULL, OPT_REFLABEL},
        {"title", required_argument, NULL, OPT_TITLE},
        {"plot-range", required_argument, NULL, OPT_RANGE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    rpr_spectrum_options o;
    const char *out_path = NULL, *plot_path = NULL, *title = NULL;
    const char *ref_label = "experiment";
    double refs[CLI_SPECTRUM_MAX_REFS];
    size_t nrefs = 0, min_steps = 0;
    double range_lo = 0.0, range_hi = NAN;
    rpr_series **series = NULL;
    size_t ns = 0;
    rpr_spectrum *spec = NULL;
    rpr_error err = {0};
    int rc = 1;

    rpr_spectrum_options_default(&o);
    if (argc < 2) {
        cli_spectrum_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        cli_spectrum_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "ir") == 0)
        o.kind = RPR_SPECTRUM_IR;
    else if (strcmp(argv[1], "raman") == 0)
        o.kind = RPR_SPECTRUM_RAMAN;
    else {
        fprintf(stderr,
                "rpr spectrum: '%s': expected ir or raman (try "
                "--help)\n",
                argv[1]);
        return 2;
    }
    /* Options follow the kind: parse argv[1..] with argv[1] as the name. */
    argc--;
    argv++;
    optind = 1;
    opterr = 0;
    for (;;) {
        int li = -1;
        const int c = getopt_long(argc, argv, ":o:p:T:h", longopts, &li);
        if (c == -1)
            break;
        int ok = 1;
        switch (c) {
        case 'o': out_path = optarg; break;
        case 'p': plot_path = optarg; break;
        case 'T':
            ok = cli_spectrum_parse_double(optarg, &o.temperature_k);
            break;
        case OPT_LASER:
            ok = cli_spectrum_parse_double(optarg, &o.laser_cm);
            break;
        case OPT_SCALE: ok = cli_spectrum_parse_double(optarg, &o.scale); break;
        case OPT_DEPTH: ok = cli_spectrum_parse_size(optarg, &o.depth); break;
        case OPT_WINDOW:
            if (strcmp(optarg, "hann") == 0)
                o.window = RPR_WINDOW_HANN;
            else if (strcmp(optarg, "gaussian") == 0)
                o.window = RPR_WINDOW_GAUSSIAN;
            else if (strcmp(optarg, "none") == 0)
                o.window = RPR_WINDOW_NONE;
            else
                ok = 0;
            break;
        case OPT_WIDTH:
            ok = cli_spectrum_parse_double(optarg, &o.window_width_fs) &&
                 o.window_width_fs > 0.0;
            break;
        case OPT_PADDING:
            ok = cli_spectrum_parse_size(optarg, &o.padding);
            break;
        case OPT_NOFD: o.fd_correction = 0; break;
        case OPT_QCF:
            if (strcmp(optarg, "harmonic") == 0)
                o.qcf = RPR_QCF_HARMONIC;
            else if (strcmp(optarg, "classical") == 0)
                o.qcf = RPR_QCF_CLASSICAL;
            else if (strcmp(optarg, "standard") == 0)
                o.qcf = RPR_QCF_STANDARD;
            else if (strcmp(optarg, "schofield") == 0)
                o.qcf = RPR_QCF_SCHOFIELD;
            else
                ok = 0;
            break;
        case OPT_MAXNU:
            ok = cli_spectrum_parse_double(optarg, &o.max_wavenumber_cm);
            break;
        case OPT_BLOCKS: ok = cli_spectrum_parse_size(optarg, &o.blocks); break;
        case OPT_DTRTOL:
            ok = cli_spectrum_parse_double(optarg, &o.dt_rtol);
            break;
        case OPT_JUMP:
            ok = cli_spectrum_parse_double(optarg, &o.jump_factor) &&
                 o.jump_factor > 0.0;
            break;
        case OPT_MINSTEPS:
            ok = cli_spectrum_parse_size(optarg, &min_steps);
            break;
        case OPT_REF: ok = cli_spectrum_parse_refs(optarg, refs, &nrefs); break;
        case OPT_REFLABEL: ref_label = optarg; break;
        case OPT_TITLE: title = optarg; break;
        case OPT_RANGE: {
            char *comma = strchr(optarg, ',');
            ok = comma != NULL;
            if (ok) {
                *comma = '\0';
                ok = cli_spectrum_parse_double(optarg, &range_lo) &&
                     cli_spectrum_parse_double(comma + 1, &range_hi) &&
                     range_hi > range_lo;
                *comma = ',';
            }
            break;
        }
        case 'h': cli_spectrum_usage(stdout); return 0;
        case ':':
            fprintf(stderr, "rpr spectrum: %s needs a value\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "rpr spectrum: unknown option '%s' (try --help)\n",
                    argv[optind - 1]);
            return 2;
        }
        if (!ok) {
            if (li >= 0)
                fprintf(stderr,
                        "rpr spectrum: --%s: bad value '%s' (try "
                        "--help)\n",
                        longopts[li].name, optarg);
            else
                fprintf(stderr,
                        "rpr spectrum: -%c: bad value '%s' (try "
                        "--help)\n",
                        c, optarg);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "rpr spectrum: no property file (try --help)\n");
        return 2;
    }

    /* Read every file; report every bad one before giving up. */
    series = calloc((size_t) (argc - optind), sizeof *series);
    if (series == NULL) {
        fprintf(stderr, "rpr spectrum: out of memory\n");
        return 1;
    }
    int bad = 0;
    for (int i = optind; i < argc; i++) {
        rpr_series *s = NULL;
        if (rpr_series_read(argv[i], &o, &s, &err) != RPR_OK) {
            cli_report("spectrum", &err);
            bad = 1;
            continue;
        }
        if (rpr_series_nsteps(s) < min_steps) {
            fprintf(stderr,
                    "rpr spectrum: %s: skipped: %zu records (--min-steps "
                    "%zu)\n",
                    argv[i], rpr_series_nsteps(s), min_steps);
            rpr_series_free(s);
            continue;
        }
        series[ns++] = s;
        if (!cli_spectrum_warn_jumps(
                s, o.jump_factor, o.kind == RPR_SPECTRUM_IR ? "mu" : "alpha"))
            bad = 1;
    }
    if (bad)
        goto cleanup;
    if (ns == 0) {
        fprintf(stderr, "rpr spectrum: every trajectory was skipped\n");
        goto cleanup;
    }
    if (rpr_spectrum_compute(&o, ns, (const rpr_series *const *) series, &spec,
                             &err) != RPR_OK) {
        cli_report("spectrum", &err);
        goto cleanup;
    }

    /* The table. */
    {
        cli_spectrum_out out;
        FILE *const f =
            cli_spectrum_out_open(&out, out_path != NULL ? out_path : "-");
        if (f == NULL)
            goto cleanup;
        const int ok = rpr_spectrum_write(spec, f, &err) == RPR_OK;
        if (!ok)
            cli_report("spectrum", &err);
        if (!cli_spectrum_out_close(&out, ok))
            goto cleanup;
    }

    rpr_spectrum_info in;
    rpr_spectrum_get_info(spec, &in);
    const size_t nb = rpr_spectrum_nbins(spec);
    const double *const nu = rpr_spectrum_find(spec, "wavenumber");
    if (plot_path != NULL) {
        const double hi = isnan(range_hi) ? nu[nb - 1] : range_hi;
        if (!cli_spectrum_plot(spec, plot_path, title, refs, nrefs, ref_label,
                               range_lo, hi))
            goto cleanup;
    }
    const char *const icol =
        o.kind == RPR_SPECTRUM_IR ? "ir_integral" : "unpolarised_integral";
    fprintf(stderr,
            "rpr spectrum: %zu trajector%s, depth %zu frames (%g fs), line "
            "FWHM %.3g cm^-1; integral 0-%g cm^-1: %.6g %s\n",
            in.nseries, in.nseries == 1 ? "y" : "ies", in.depth,
            (double) in.depth * in.dt_fs, in.resolution_cm, nu[nb - 1],
            rpr_spectrum_find(spec, icol)[nb - 1],
            o.kind == RPR_SPECTRUM_IR ? "km/mol" : "1e-30 m^2/sr");
    rc = 0;
cleanup:
    rpr_spectrum_free(spec);
    for (size_t i = 0; i < ns; i++)
        rpr_series_free(series[i]);
    free(series);
    return rc;
}
