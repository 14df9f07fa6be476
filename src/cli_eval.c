/*
 * cli_eval.c - rpr eval: predict the geometries of an XYZ file with a
 * model and compare with reference values: RMSE, MAE and R^2 per
 * component, plus the invariant parts (|mu| error of the dipole; isotropic
 * mean and traceless part of the polarizability; gradients of energy
 * models).
 */
#include <config.h>

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void eval_usage(FILE *f)
{
    fputs("Usage: rpr eval --model MODEL --xyz GEOMS --values VALUES\n"
          "                [--grad GRADS] [--property NAME]\n"
          "\n"
          "Predict every geometry of GEOMS (XYZ, angstrom) with MODEL and\n"
          "compare with VALUES (one line per geometry: 1 column for scalar\n"
          "and energy, 3 for dipole x y z in e*bohr, 6 for polarizability\n"
          "xx xy xz yy yz zz in bohr^3; energies in hartree).  Prints RMSE,\n"
          "MAE and R^2 per component; for dipoles also of the error vector\n"
          "(|mu|), for polarizabilities also of the isotropic mean\n"
          "(xx+yy+zz)/3 and of the traceless part (Frobenius norm).\n"
          "\n"
          "  --grad GRADS      energy and scalar models: reference gradients\n"
          "                    dE/dR in hartree/angstrom, MLatom layout (per\n"
          "                    geometry a count line, a comment line, natoms\n"
          "                    lines gx gy gz; count 0 for none); adds their\n"
          "                    RMSE, MAE and R^2 over all components\n"
          "  --property NAME   refuse a model for another property\n"
          "  -h, --help        this text\n",
          f);
}

/* RMSE, MAE and R^2 of n items of dimension d, each a weighted Euclidean
 * vector: |e|^2 = sum_j w_j e_j^2 (w NULL: all 1).  RMSE = sqrt(mean
 * |e|^2), MAE = mean |e|, R^2 = 1 - sum |e|^2 / sum |ref - mean ref|^2
 * (NaN when the reference does not vary).  For d = 1 these are the usual
 * scalar statistics. */
typedef struct eval_stats {
    double rmse, mae, r2;
} eval_stats;

static eval_stats eval_compute(size_t n, size_t d, const double *pred,
                               const double *ref, const double *w)
{
    eval_stats s = {NAN, NAN, NAN};
    if (n == 0)
        return s;
    double se = 0.0, sa = 0.0, st = 0.0;
    for (size_t j = 0; j < d; j++) {
        double mean = 0.0;
        for (size_t k = 0; k < n; k++)
            mean += ref[k * d + j];
        mean /= (double) n;
        const double wj = w != NULL ? w[j] : 1.0;
        for (size_t k = 0; k < n; k++) {
            const double t = ref[k * d + j] - mean;
            st += wj * t * t;
        }
    }
    for (size_t k = 0; k < n; k++) {
        double e2 = 0.0;
        for (size_t j = 0; j < d; j++) {
            const double e = pred[k * d + j] - ref[k * d + j];
            e2 += (w != NULL ? w[j] : 1.0) * e * e;
        }
        se += e2;
        sa += sqrt(e2);
    }
    s.rmse = sqrt(se / (double) n);
    s.mae = sa / (double) n;
    s.r2 = st > 0.0 ? 1.0 - se / st : NAN;
    return s;
}

static void eval_row(const char *name, eval_stats s, const char *unit)
{
    printf("%-10s %14.6e %14.6e %12.8f  %s\n", name, s.rmse, s.mae, s.r2, unit);
}

/* Isotropic mean and traceless part of packed tensors t[n][6]. */
static void eval_split(size_t n, const double *t, double *iso, double *dev)
{
    for (size_t k = 0; k < n; k++) {
        const double *const a = t + 6 * k;
        const double m = (a[0] + a[3] + a[5]) / 3.0;
        iso[k] = m;
        for (size_t j = 0; j < 6; j++)
            dev[6 * k + j] = a[j];
        dev[6 * k + 0] -= m;
        dev[6 * k + 3] -= m;
        dev[6 * k + 5] -= m;
    }
}

int cli_eval(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"xyz", required_argument, NULL, 'x'},
        {"values", required_argument, NULL, 'v'},
        {"grad", required_argument, NULL, 'g'},
        {"property", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *xyz_path = NULL, *values_path = NULL;
    const char *grad_path = NULL;
    rpr_property property;
    int property_given = 0;
    rpr_model *model = NULL;
    rpr_geoms *geoms = NULL;
    rpr_workspace *ws = NULL;
    double *ref = NULL, *pred = NULL, *gref = NULL, *gpred = NULL;
    double *extra = NULL;
    unsigned char *present = NULL;
    rpr_error err = {0};
    int rc = 1;

    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1;) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'x': xyz_path = optarg; break;
        case 'v': values_path = optarg; break;
        case 'g': grad_path = optarg; break;
        case 'p':
            if (!cli_parse_property("eval", optarg, &property))
                return 2;
            property_given = 1;
            break;
        case 'h': eval_usage(stdout); return 0;
        case ':':
            fprintf(stderr, "rpr eval: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "rpr eval: unknown option '%s' (try --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rpr eval: unexpected argument '%s' (try --help)\n",
                argv[optind]);
        return 2;
    }
    if (model_path == NULL || xyz_path == NULL || values_path == NULL) {
        fprintf(stderr, "rpr eval: --model, --xyz and --values are required "
                        "(try --help)\n");
        return 2;
    }

    model = cli_load_model("eval", model_path);
    if (model == NULL || !cli_check_property("eval", model, model_path,
                                             property_given ? &property : NULL))
        goto cleanup;
    const rpr_property prop = rpr_model_property(model);
    const int with_grad = grad_path != NULL;
    if (with_grad && prop != RPR_PROPERTY_ENERGY &&
        prop != RPR_PROPERTY_SCALAR) {
        fprintf(stderr,
                "rpr eval: --grad: the model %s is for %s, not an "
                "energy or scalar\n",
                model_path, rpr_property_name(prop));
        rc = 2;
        goto cleanup;
    }
    geoms = cli_read_xyz("eval", xyz_path);
    if (geoms == NULL ||
        !cli_check_atoms("eval", model, model_path, geoms, xyz_path))
        goto cleanup;
    const size_t nf = rpr_geoms_nframes(geoms);
    const size_t na = rpr_geoms_natoms(geoms);
    const size_t nc = rpr_model_ncomp(model);
    if (rpr_table_read(values_path, nf, nc, &ref, &err) != RPR_OK ||
        (with_grad && rpr_gradients_read(grad_path, nf, na, &gref, &present,
                                         &err) != RPR_OK)) {
        cli_report("eval", &err);
        goto cleanup;
    }
    pred = malloc(nf * nc * sizeof *pred);
    /* Scratch: iso pred/ref [nf] each, traceless pred/ref [nf][6] each. */
    extra = malloc(14 * nf * sizeof *extra);
    if (with_grad)
        gpred = malloc(nf * na * 3 * sizeof *gpred);
    ws = rpr_workspace_new(model);
    if (pred == NULL || extra == NULL || ws == NULL ||
        (with_grad && gpred == NULL)) {
        fprintf(stderr, "rpr eval: out of memory\n");
        goto cleanup;
    }

    const double *const xyz = rpr_geoms_xyz(geoms);
    const int *const numbers = rpr_geoms_numbers(geoms);
    for (size_t k = 0; k < nf; k++) {
        if (rpr_predict(model, ws, na, numbers, xyz + 3 * na * k, pred + nc * k,
                        with_grad ? gpred + 3 * na * k : NULL, NULL,
                        &err) != RPR_OK) {
            fprintf(stderr, "rpr eval: %s:%zu: geometry %zu: %s\n", xyz_path,
                    rpr_geoms_line(geoms, k), k + 1, err.message);
            goto cleanup;
        }
        cli_progress((void *) "eval", (double) (k + 1) / (double) nf,
                     "predicting");
    }

    printf("# rpr eval: %s (%s) on %zu geometries of %s against %s\n",
           model_path, rpr_property_name(prop), nf, xyz_path, values_path);
    printf("# %-8s %14s %14s %12s  %s\n", "component", "RMSE", "MAE", "R^2",
           "unit");
    const char *const unit = rpr_property_unit(prop);
    for (size_t c = 0; c < nc; c++) {
        /* Gather component c (strided) into contiguous arrays. */
        double *const p = extra, *const r = extra + nf;
        for (size_t k = 0; k < nf; k++) {
            p[k] = pred[nc * k + c];
            r[k] = ref[nc * k + c];
        }
        eval_row(rpr_property_component(prop, c),
                 eval_compute(nf, 1, p, r, NULL), unit);
    }
    if (prop == RPR_PROPERTY_DIPOLE)
        eval_row("|mu|", eval_compute(nf, 3, pred, ref, NULL), unit);
    if (prop == RPR_PROPERTY_POLARIZABILITY) {
        /* Off-diagonal elements appear twice in the full tensor. */
        static const double frob[6] = {1, 2, 2, 1, 2, 1};
        double *const ip = extra, *const ir = extra + nf;
        double *const dp = extra + 2 * nf, *const dr = extra + 8 * nf;
        eval_split(nf, pred, ip, dp);
        eval_split(nf, ref, ir, dr);
        eval_row("iso", eval_compute(nf, 1, ip, ir, NULL), unit);
        eval_row("traceless", eval_compute(nf, 6, dp, dr, frob), unit);
    }
    if (with_grad) {
        /* Library gradients are hartree/bohr; the file is hartree/angstrom
         * (dE/dR per angstrom = dE/dR per bohr / (angstrom per bohr)). */
        size_t ng = 0;
        for (size_t k = 0; k < nf; k++) {
            if (!present[k])
                continue;
            for (size_t i = 0; i < 3 * na; i++) {
                gpred[3 * na * ng + i] =
                    gpred[3 * na * k + i] / RPR_ANGSTROM_PER_BOHR;
                gref[3 * na * ng + i] = gref[3 * na * k + i];
            }
            ng++;
        }
        printf("# gradients of %zu geometries (%s), per component\n", ng,
               grad_path);
        eval_row("grad", eval_compute(3 * na * ng, 1, gpred, gref, NULL),
                 "hartree/angstrom");
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("rpr eval: stdout");
        goto cleanup;
    }
    rc = 0;
cleanup:
    rpr_workspace_free(ws);
    rpr_model_free(model);
    rpr_geoms_free(geoms);
    rpr_free(ref);
    rpr_free(gref);
    rpr_free(present);
    free(pred);
    free(gpred);
    free(extra);
    return rc;
}
