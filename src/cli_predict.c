/*
 * cli_predict.c - "rpr predict": a model's predictions for geometries.
 */
#include <config.h>

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void cli_predict_usage(FILE *f)
{
    fprintf(
        f,
        "Usage: rpr predict --model MODEL --xyz GEOMS [--out VALUES]"
        " [options]\n\n"
        "Predict the model's property for every geometry of an XYZ file.\n\n"
        "  --model F        model file (from rpr train)\n"
        "  --xyz F          geometries, multi-frame XYZ (angstrom); atoms as "
        "in the model\n"
        "  --out F          values, one line per geometry, in the property's "
        "unit\n"
        "                   (hartree, e*bohr, bohr^3 xx xy xz yy yz zz); "
        "default stdout\n"
        "  --grad-out F     energy and scalar models: gradients dE/dR in "
        "MLatom's\n"
        "                   layout, hartree per angstrom (the XYZ unit)\n"
        "  --health F       frame diagnostics per geometry (moments, gaps, "
        "sign\n"
        "                   reliabilities, Kabsch margins, blend weights "
        "per frame\n"
        "                   and per Kabsch reference)\n"
        "  --cache F        load the model through a binary cache file\n"
        "  -h, --help       this text\n");
}

/* Open path, or stdout for NULL ("-" too). */
static int cli_predict_open(const char *path, rpr_outfile **out, FILE **f,
                            rpr_error *err)
{
    *out = NULL;
    if (path == NULL || strcmp(path, "-") == 0) {
        *f = stdout;
        return 0;
    }
    if (rpr_outfile_open(path, out, err) != RPR_OK)
        return -1;
    *f = rpr_outfile_stream(*out);
    return 0;
}

int cli_predict(int argc, char **argv)
{
    enum { OPT_MODEL = 256, OPT_XYZ, OPT_OUT, OPT_GRAD, OPT_HEALTH, OPT_CACHE };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, OPT_MODEL},
        {"xyz", required_argument, NULL, OPT_XYZ},
        {"out", required_argument, NULL, OPT_OUT},
        {"grad-out", required_argument, NULL, OPT_GRAD},
        {"health", required_argument, NULL, OPT_HEALTH},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *xyz_path = NULL, *out_path = NULL;
    const char *grad_path = NULL, *health_path = NULL, *cache_path = NULL;
    rpr_error err;
    rpr_model *model = NULL;
    rpr_geoms *geoms = NULL;
    rpr_workspace *ws = NULL;
    rpr_outfile *out = NULL, *gout = NULL, *hout = NULL;
    double *grad = NULL;
    FILE *fv = NULL, *fg = NULL, *fh = NULL;
    int status = 1, c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_MODEL: model_path = optarg; break;
        case OPT_XYZ: xyz_path = optarg; break;
        case OPT_OUT: out_path = optarg; break;
        case OPT_GRAD: grad_path = optarg; break;
        case OPT_HEALTH: health_path = optarg; break;
        case OPT_CACHE: cache_path = optarg; break;
        case 'h': cli_predict_usage(stdout); return 0;
        default:
            fprintf(stderr,
                    "rpr predict: unknown option or missing value: %s\n",
                    argv[optind - 1]);
            cli_predict_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rpr predict: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    if (model_path == NULL || xyz_path == NULL) {
        fprintf(stderr, "rpr predict: --model and --xyz are required (rpr "
                        "predict --help)\n");
        return 2;
    }

    const rpr_status st =
        cache_path != NULL
            ? rpr_model_load_cached(model_path, cache_path, &model, &err)
            : rpr_model_load(model_path, &model, &err);
    if (st != RPR_OK)
        goto fail;
    if (grad_path != NULL && rpr_model_ncomp(model) != 1) {
        fprintf(stderr,
                "rpr predict: %s: --grad-out needs an energy or "
                "scalar model, not %s\n",
                model_path, rpr_property_name(rpr_model_property(model)));
        goto cleanup;
    }
    if (rpr_geoms_read_xyz(xyz_path, &geoms, &err) != RPR_OK)
        goto fail;
    const size_t natoms = rpr_geoms_natoms(geoms);
    const size_t n = rpr_geoms_nframes(geoms);
    const size_t ncomp = rpr_model_ncomp(model);
    if (natoms != rpr_model_natoms(model)) {
        fprintf(stderr,
                "rpr predict: %s: %zu atoms per geometry, the model %s has "
                "%zu\n",
                xyz_path, natoms, model_path, rpr_model_natoms(model));
        goto cleanup;
    }
    ws = rpr_workspace_new(model);
    grad = malloc(3 * natoms * sizeof *grad);
    if (ws == NULL || grad == NULL) {
        fprintf(stderr, "rpr predict: out of memory\n");
        goto cleanup;
    }
    if (cli_predict_open(out_path, &out, &fv, &err) != 0 ||
        (grad_path != NULL && cli_predict_open(grad_path, &gout, &fg, &err)) ||
        (health_path != NULL &&
         cli_predict_open(health_path, &hout, &fh, &err)))
        goto fail;
    if (fh != NULL) {
        fprintf(fh, "# geometry I1 I2 I3 (weight bohr^2) gap12 gap23 "
                    "sign_rel1 sign_rel2 sign_rel3 sign_fallback improper "
                    "kabsch_margin w_principal w_kabsch blend_fallback "
                    "kabsch_nref kabsch_rel_margin");
        for (int r = 0; r < RPR_KABSCH_MAX_REFS; r++)
            fprintf(fh, " w_ref%d", r + 1);
        fputs(" w_relabel\n", fh);
    }

    const double *const xyz = rpr_geoms_xyz(geoms);
    const int *const numbers = rpr_geoms_numbers(geoms);
    for (size_t i = 0; i < n; i++) {
        double value[6];
        rpr_frame_health h;
        if (rpr_predict(model, ws, natoms, numbers, xyz + i * 3 * natoms, value,
                        fg != NULL ? grad : NULL, fh != NULL ? &h : NULL,
                        &err) != RPR_OK) {
            const size_t line = rpr_geoms_line(geoms, i);
            char msg[sizeof err.message];
            memcpy(msg, err.message, sizeof msg);
            snprintf(err.message, sizeof err.message,
                     "%s:%zu: geometry %zu: %.400s", xyz_path, line, i + 1,
                     msg);
            goto fail;
        }
        for (size_t k = 0; k < ncomp; k++)
            fprintf(fv, k == 0 ? "%.17g" : " %.17g", value[k]);
        fputc('\n', fv);
        if (fg != NULL) {
            /* MLatom's layout in the unit of the XYZ file: hartree per
             * angstrom = (hartree/bohr) / (angstrom/bohr). */
            fprintf(fg, "%zu\n\n", natoms);
            for (size_t a = 0; a < natoms; a++)
                fprintf(fg, "%.17g %.17g %.17g\n",
                        grad[3 * a] / RPR_ANGSTROM_PER_BOHR,
                        grad[3 * a + 1] / RPR_ANGSTROM_PER_BOHR,
                        grad[3 * a + 2] / RPR_ANGSTROM_PER_BOHR);
        }
        if (fh != NULL) {
            fprintf(fh,
                    "%zu %.10g %.10g %.10g %.6g %.6g %.6g %.6g %.6g %d %d "
                    "%.6g %.6g %.6g %d",
                    i + 1, h.moments[0], h.moments[1], h.moments[2], h.gap12,
                    h.gap23, h.sign_reliability[0], h.sign_reliability[1],
                    h.sign_reliability[2], h.sign_fallback, h.improper,
                    h.kabsch_margin, h.weight_principal, h.weight_kabsch,
                    h.blend_fallback);
            /* Appended after the columns of earlier versions, so that
             * scripts reading those by position keep working. */
            fprintf(fh, " %zu %.6g", h.kabsch_nref, h.kabsch_rel_margin);
            for (int r = 0; r < RPR_KABSCH_MAX_REFS; r++)
                fprintf(fh, " %.6g", h.kabsch_weight[r]);
            /* rpr train --relabel: the weight of the geometry as given
             * (1 for other models). */
            fprintf(fh, " %.6g\n", h.relabel_weight);
        }
    }
    if (out != NULL) {
        const rpr_status cs = rpr_outfile_commit(out, &err);
        out = NULL;
        if (cs != RPR_OK)
            goto fail;
    } else if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "rpr predict: cannot write to standard output\n");
        goto cleanup;
    }
    if (gout != NULL) {
        const rpr_status cs = rpr_outfile_commit(gout, &err);
        gout = NULL;
        if (cs != RPR_OK)
            goto fail;
    }
    if (hout != NULL) {
        const rpr_status cs = rpr_outfile_commit(hout, &err);
        hout = NULL;
        if (cs != RPR_OK)
            goto fail;
    }
    status = 0;
    goto cleanup;
fail:
    cli_report("predict", &err);
cleanup:
    rpr_outfile_discard(out);
    rpr_outfile_discard(gout);
    rpr_outfile_discard(hout);
    rpr_workspace_free(ws);
    rpr_model_free(model);
    rpr_geoms_free(geoms);
    free(grad);
    return status;
}
