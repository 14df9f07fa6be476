/*
 * cli_train.c - "rpr train": fit a model to geometries and labels.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void cli_train_usage(FILE *f)
{
    rpr_train_options def;
    rpr_train_options_default(&def);
    fprintf(
        f,
        "Usage: rpr train --property P --xyz GEOMS --values LABELS --out MODEL"
        " [options]\n\n"
        "Fit a kernel ridge regression model.  Vectors and tensors are learned"
        " in a\nmolecule-fixed frame and rotated back (rotate-predict-rotate)."
        "\n\n"
        "Required:\n"
        "  --property P       scalar, energy, dipole or polarizability\n"
        "  --xyz F            training geometries, multi-frame XYZ (angstrom)\n"
        "  --values F         labels, one line per geometry: 1 column (scalar,"
        "\n"
        "                     energy in hartree), 3 (dipole, e*bohr) or 6\n"
        "                     (polarizability xx xy xz yy yz zz, bohr^3)\n"
        "  --out F            model file to write (XML)\n"
        "Options:\n"
        "  --grad F           energy gradients dE/dR in MLatom's layout, "
        "hartree per\n"
        "                     angstrom (KREG with gradients)\n"
        "  --descriptor D     RE (default), ID, CM, RExyz, REsph, REdihed, "
        "xyzQ;\n"
        "                     atoms may follow the name: RExyzCl, REdihedCl\n"
        "  --atoms A          atoms of the augmented descriptors: elements or "
        "1-based\n"
        "                     indices, comma-separated (Cl, 3,4)\n"
        "  --dihedral a,b,c,d REdihed's dihedral (1-based); default from the "
        "atoms\n"
        "  --kernel K         gaussian (default), laplacian, matern\n"
        "  --matern-n N       Matern order, nu = N + 1/2 (default 2)\n"
        "  --sigma opt|V      kernel width (default opt: searched)\n"
        "  --lambda opt|V     regulariser (default opt); one of the two may\n"
        "                     be fixed and the other searched (not energy)\n"
        "  --lambda-grad V    gradient regulariser (default: lambda)\n"
        "  --frame F          kabsch (default: O(3) fit to a reference),\n"
        "                     principal (principal axes, the paper's), "
        "blend (Kabsch\n"
        "                     with principal where the Kabsch margin is "
        "small), none\n"
        "                     (the lab-frame baseline); energy and scalar "
        "models of\n"
        "                     invariant descriptors are frame-free\n"
        "  --weights W        mass (default), charge or unit: weights of "
        "the\n"
        "                     principal-axes frame\n"
        "  --kabsch-weights W unit (default: every atom 1), mass or charge:\n"
        "                     weights of the Kabsch fit and its centre\n"
        "  --eq F             equilibrium geometry for RE (XYZ, angstrom); "
        "default:\n"
        "                     lowest energy (energy), else the first geometry"
        "\n"
        "                     Also the first Kabsch reference (without "
        "--kabsch-ref)\n"
        "  --kabsch-refs N    at most N Kabsch references, 1..%d (default %zu),"
        "\n"
        "                     one sub-model each, blended smoothly: the "
        "training\n"
        "                     geometry farthest from the fit's seam, then "
        "those that\n"
        "                     cover best where the chosen fits are unreliable"
        "\n"
        "  --kabsch-ref F     the Kabsch references instead: every geometry "
        "of the XYZ\n"
        "                     file F (angstrom), at most %d\n"
        "  --criterion C      holdout (default) or loo: selection of sigma, "
        "lambda\n"
        "  --validation-fraction X   hold-out share (default 0.2)\n"
        "  --seed N           seed of the split (default fixed: runs repeat)\n"
        "  --kreg-search-dim D    energy models: the search trains on a "
        "seeded\n"
        "                     subset of system dimension <= D (energies +\n"
        "                     gradient components; default 2500, ~100 DCE\n"
        "                     geometries with gradients; cost ~ D^3)\n"
        "  --kreg-validation N    energy models: validate the search on at "
        "most\n"
        "                     N geometries, the subset's held-out share and\n"
        "                     those outside it (default 1000, 0 for all)\n",
        RPR_KABSCH_MAX_REFS, def.kabsch_nref, RPR_KABSCH_MAX_REFS);
    /* A second call: one string literal may hold 4095 characters in ISO
     * C (-Woverlength-strings). */
    fprintf(
        f,
        "  --prior mean|zero  subtract the training mean (default) or not\n"
        "  --sign-average     average the principal frame over its 8 axis "
        "sign\n"
        "                     choices (frame principal or blend; RExyz, "
        "REdihed,\n"
        "                     xyzQ)\n"
        "  --permute SPEC     also train on every geometry relabelled by "
        "each\n"
        "                     permutation of identical atoms: swaps a-b "
        "(1-based),\n"
        "                     ',' within a permutation, ';' between them "
        "(\"5-6,7-8\"\n"
        "                     swaps H5/H6 and H7/H8 of dichloroethane at "
        "once).\n"
        "                     Cost: N (1+p) training points for p "
        "permutations, a\n"
        "                     (N (1+p))^2 kernel matrix; KREG with "
        "gradients\n"
        "                     (N (1+p) (1+3 natoms))^2 doubles (25 N (1+p) "
        "for 8 atoms).\n"
        "                     sigma, lambda are searched on the N originals "
        "alone\n"
        "  --relabel SPEC     one permutation P of identical atoms "
        "(\"5-6,7-8\"):"
        "\n"
        "                     predict w f(x) + (1-w) f(Px), w from the "
        "training\n"
        "                     data's ID density at x and Px (exactly "
        "invariant\n"
        "                     under P; dipole, polarizability, scalar, energy "
        "without\n"
        "                     --grad; not with --permute)\n"
        "  --relabel-band B   log-density band of the weight (default %g)\n"
        "  -q, --quiet        no summary on stdout\n"
        "  -h, --help         this text\n",
        def.relabel_band);
}

/* "opt" or a number; *value < 0 means optimise. */
static int cli_train_number(const char *arg, double *value)
{
    if (strcmp(arg, "opt") == 0) {
        *value = -1.0;
        return 0;
    }
    char *end;
    errno = 0;
    *value = strtod(arg, &end);
    return end == arg || *end != '\0' || errno != 0 || !isfinite(*value) ||
                   *value < 0.0
               ? -1
               : 0;
}

static int cli_train_bad(const char *opt, const char *arg)
{
    fprintf(stderr, "rpr train: bad value '%s' for --%s\n", arg, opt);
    return 2;
}

/* "mass", "charge" or "unit"; RPR_EINVAL for anything else. */
static rpr_status cli_train_weighting(const char *name,
                                      rpr_frame_weighting *weighting)
{
    if (strcmp(name, "mass") == 0)
        *weighting = RPR_WEIGHT_MASS;
    else if (strcmp(name, "charge") == 0)
        *weighting = RPR_WEIGHT_CHARGE;
    else if (strcmp(name, "unit") == 0)
        *weighting = RPR_WEIGHT_UNIT;
    else
        return RPR_EINVAL;
    return RPR_OK;
}

int cli_train(int argc, char **argv)
{
    enum {
        OPT_PROPERTY = 256,
        OPT_XYZ,
        OPT_VALUES,
        OPT_OUT,
        OPT_GRAD,
        OPT_DESCRIPTOR,
        OPT_ATOMS,
        OPT_DIHEDRAL,
        OPT_KERNEL,
        OPT_MATERN,
        OPT_SIGMA,
        OPT_LAMBDA,
        OPT_LAMBDA_GRAD,
        OPT_FRAME,
        OPT_WEIGHTS,
        OPT_KABSCH_WEIGHTS,
        OPT_EQ,
        OPT_KABSCH_REFS,
        OPT_KABSCH_REF,
        OPT_CRITERION,
        OPT_VALFRAC,
        OPT_SEED,
        OPT_KREG_DIM,
        OPT_KREG_VAL,
        OPT_PRIOR,
        OPT_SIGN_AVERAGE,
        OPT_PERMUTE,
        OPT_RELABEL,
        OPT_RELABEL_BAND
    };
    static const struct option longopts[] = {
        {"property", required_argument, NULL, OPT_PROPERTY},
        {"xyz", required_argument, NULL, OPT_XYZ},
        {"values", required_argument, NULL, OPT_VALUES},
        {"out", required_argument, NULL, OPT_OUT},
        {"grad", required_argument, NULL, OPT_GRAD},
        {"descriptor", required_argument, NULL, OPT_DESCRIPTOR},
        {"atoms", required_argument, NULL, OPT_ATOMS},
        {"dihedral", required_argument, NULL, OPT_DIHEDRAL},
        {"kernel", required_argument, NULL, OPT_KERNEL},
        {"matern-n", required_argument, NULL, OPT_MATERN},
        {"sigma", required_argument, NULL, OPT_SIGMA},
        {"lambda", required_argument, NULL, OPT_LAMBDA},
        {"lambda-grad", required_argument, NULL, OPT_LAMBDA_GRAD},
        {"frame", required_argument, NULL, OPT_FRAME},
        {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"kabsch-weights", required_argument, NULL, OPT_KABSCH_WEIGHTS},
        {"eq", required_argument, NULL, OPT_EQ},
        {"kabsch-refs", required_argument, NULL, OPT_KABSCH_REFS},
        {"kabsch-ref", required_argument, NULL, OPT_KABSCH_REF},
        {"criterion", required_argument, NULL, OPT_CRITERION},
        {"validation-fraction", required_argument, NULL, OPT_VALFRAC},
        {"seed", required_argument, NULL, OPT_SEED},
        {"kreg-search-dim", required_argument, NULL, OPT_KREG_DIM},
        {"kreg-validation", required_argument, NULL, OPT_KREG_VAL},
        {"prior", required_argument, NULL, OPT_PRIOR},
        {"sign-average", no_argument, NULL, OPT_SIGN_AVERAGE},
        {"permute", required_argument, NULL, OPT_PERMUTE},
        {"relabel", required_argument, NULL, OPT_RELABEL},
        {"relabel-band", required_argument, NULL, OPT_RELABEL_BAND},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    rpr_train_options opt;
    const char *xyz_path = NULL, *values_path = NULL, *out_path = NULL;
    const char *grad_path = NULL, *eq_path = NULL, *ref_path = NULL;
    int have_property = 0, frame_given = 0, quiet = 0, nref_given = 0, c;
    rpr_error err;
    rpr_geoms *geoms = NULL, *eq = NULL, *refs = NULL;
    rpr_model *model = NULL;
    double *values = NULL, *grad = NULL;
    unsigned char *present = NULL;
    int status = 1;

    rpr_train_options_default(&opt);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_PROPERTY:
            if (rpr_property_parse(optarg, &opt.property) != RPR_OK)
                return cli_train_bad("property", optarg);
            have_property = 1;
            break;
        case OPT_XYZ: xyz_path = optarg; break;
        case OPT_VALUES: values_path = optarg; break;
        case OPT_OUT: out_path = optarg; break;
        case OPT_GRAD: grad_path = optarg; break;
        case OPT_DESCRIPTOR: opt.descriptor = optarg; break;
        case OPT_ATOMS: opt.atoms = optarg; break;
        case OPT_DIHEDRAL: opt.dihedral = optarg; break;
        case OPT_KERNEL: opt.kernel = optarg; break;
        case OPT_MATERN: {
            char *end;
            const long v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < 0 || v > 100)
                return cli_train_bad("matern-n", optarg);
            opt.matern_n = (int) v;
            break;
        }
        case OPT_SIGMA:
            if (cli_train_number(optarg, &opt.sigma) != 0 || opt.sigma == 0.0)
                return cli_train_bad("sigma", optarg);
            break;
        case OPT_LAMBDA:
            if (cli_train_number(optarg, &opt.lambda) != 0)
                return cli_train_bad("lambda", optarg);
            break;
        case OPT_LAMBDA_GRAD:
            if (cli_train_number(optarg, &opt.lambda_grad) != 0 ||
                opt.lambda_grad < 0.0)
                return cli_train_bad("lambda-grad", optarg);
            break;
        case OPT_FRAME:
            if (strcmp(optarg, "none") == 0)
                opt.frame = RPR_FRAME_NONE;
            else if (strcmp(optarg, "principal") == 0)
                opt.frame = RPR_FRAME_PRINCIPAL;
            else if (strcmp(optarg, "kabsch") == 0)
                opt.frame = RPR_FRAME_KABSCH;
            else if (strcmp(optarg, "blend") == 0)
                opt.frame = RPR_FRAME_BLEND;
            else
                return cli_train_bad("frame", optarg);
            frame_given = 1;
            break;
        case OPT_WEIGHTS:
            if (cli_train_weighting(optarg, &opt.frame_options.weighting) !=
                RPR_OK)
                return cli_train_bad("weights", optarg);
            break;
        case OPT_KABSCH_WEIGHTS:
            if (cli_train_weighting(
                    optarg, &opt.frame_options.kabsch_weighting) != RPR_OK)
                return cli_train_bad("kabsch-weights", optarg);
            break;
        case OPT_EQ: eq_path = optarg; break;
        case OPT_KABSCH_REFS: {
            char *end;
            const long v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < 1 ||
                v > RPR_KABSCH_MAX_REFS)
                return cli_train_bad("kabsch-refs", optarg);
            opt.kabsch_nref = (size_t) v;
            nref_given = 1;
            break;
        }
        case OPT_KABSCH_REF: ref_path = optarg; break;
        case OPT_CRITERION:
            if (strcmp(optarg, "holdout") == 0)
                opt.criterion = RPR_CRITERION_HOLDOUT;
            else if (strcmp(optarg, "loo") == 0)
                opt.criterion = RPR_CRITERION_LOO;
            else
                return cli_train_bad("criterion", optarg);
            break;
        case OPT_VALFRAC: {
            char *end;
            opt.validation_fraction = strtod(optarg, &end);
            if (end == optarg || *end != '\0' ||
                !(opt.validation_fraction > 0.0 &&
                  opt.validation_fraction < 1.0))
                return cli_train_bad("validation-fraction", optarg);
            break;
        }
        case OPT_KREG_DIM:
        case OPT_KREG_VAL: {
            const int dim = c == OPT_KREG_DIM;
            char *end;
            errno = 0;
            const unsigned long long v = strtoull(optarg, &end, 10);
            if (end == optarg || *end != '\0' || errno != 0 ||
                optarg[0] == '-' || (dim && v == 0) || v > SIZE_MAX)
                return cli_train_bad(
                    dim ? "kreg-search-dim" : "kreg-validation", optarg);
            *(dim ? &opt.kreg_search_dim : &opt.kreg_search_validation) =
                (size_t) v;
            break;
        }
        case OPT_SEED: {
            char *end;
            errno = 0;
            opt.seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end != '\0' || errno != 0 || optarg[0] == '-')
                return cli_train_bad("seed", optarg);
            break;
        }
        case OPT_PRIOR:
            if (strcmp(optarg, "mean") == 0)
                opt.prior_mean = 1;
            else if (strcmp(optarg, "zero") == 0)
                opt.prior_mean = 0;
            else
                return cli_train_bad("prior", optarg);
            break;
        case OPT_SIGN_AVERAGE: opt.frame_options.sign_average = 1; break;
        case OPT_PERMUTE: opt.permute = optarg; break;
        case OPT_RELABEL: opt.relabel = optarg; break;
        case OPT_RELABEL_BAND:
            if (cli_train_number(optarg, &opt.relabel_band) != 0 ||
                !(opt.relabel_band > 0.0))
                return cli_train_bad("relabel-band", optarg);
            break;
        case 'q': quiet = 1; break;
        case 'h': cli_train_usage(stdout); return 0;
        default:
            fprintf(stderr, "rpr train: unknown option or missing value: %s\n",
                    argv[optind - 1]);
            cli_train_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rpr train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!have_property || xyz_path == NULL || values_path == NULL ||
        out_path == NULL) {
        fprintf(stderr, "rpr train: --property, --xyz, --values and --out "
                        "are required (rpr train --help)\n");
        return 2;
    }
    if (grad_path != NULL && opt.property != RPR_PROPERTY_ENERGY) {
        fprintf(stderr, "rpr train: --grad is for --property energy\n");
        return 2;
    }
    if (!frame_given && (opt.property == RPR_PROPERTY_ENERGY ||
                         opt.property == RPR_PROPERTY_SCALAR))
        opt.frame = RPR_FRAME_NONE;

    const size_t ncomp = rpr_property_ncomp(opt.property);
    if (rpr_geoms_read_xyz(xyz_path, &geoms, &err) != RPR_OK)
        goto fail;
    const size_t n = rpr_geoms_nframes(geoms);
    const size_t natoms = rpr_geoms_natoms(geoms);
    if (rpr_table_read(values_path, n, ncomp, &values, &err) != RPR_OK)
        goto fail;
    if (grad_path != NULL) {
        if (rpr_gradients_read(grad_path, n, natoms, &grad, &present, &err) !=
            RPR_OK)
            goto fail;
        /* The file is per angstrom (the XYZ unit); the library takes
         * hartree/bohr: dE/dR_bohr = dE/dR_angstrom * (angstrom/bohr). */
        for (size_t i = 0; i < n * 3 * natoms; i++)
            grad[i] *= RPR_ANGSTROM_PER_BOHR;
    }
    if (eq_path != NULL) {
        if (rpr_geoms_read_xyz(eq_path, &eq, &err) != RPR_OK)
            goto fail;
        if (rpr_geoms_natoms(eq) != natoms ||
            memcmp(rpr_geoms_numbers(eq), rpr_geoms_numbers(geoms),
                   natoms * sizeof(int)) != 0) {
            fprintf(stderr, "rpr train: %s: atoms differ from those of %s\n",
                    eq_path, xyz_path);
            goto cleanup;
        }
        opt.xyz_eq = rpr_geoms_xyz(eq);
    }
    if (ref_path != NULL) {
        /* The library refuses more than RPR_KABSCH_MAX_REFS references and
         * planar ones, naming the reference. */
        if (rpr_geoms_read_xyz(ref_path, &refs, &err) != RPR_OK)
            goto fail;
        if (rpr_geoms_natoms(refs) != natoms ||
            memcmp(rpr_geoms_numbers(refs), rpr_geoms_numbers(geoms),
                   natoms * sizeof(int)) != 0) {
            fprintf(stderr, "rpr train: %s: atoms differ from those of %s\n",
                    ref_path, xyz_path);
            goto cleanup;
        }
        if (nref_given && opt.kabsch_nref != rpr_geoms_nframes(refs)) {
            fprintf(stderr,
                    "rpr train: --kabsch-refs %zu but %s holds %zu "
                    "geometries\n",
                    opt.kabsch_nref, ref_path, rpr_geoms_nframes(refs));
            goto cleanup;
        }
        opt.kabsch_refs = rpr_geoms_xyz(refs);
        opt.kabsch_nref = rpr_geoms_nframes(refs);
    }
    static char progress_name[] = "train";
    opt.progress = cli_progress;
    opt.progress_ctx = progress_name;
    if (rpr_train(&opt, geoms, values, grad, present, &model, &err) != RPR_OK)
        goto fail;
    if (rpr_model_save(model, out_path, &err) != RPR_OK)
        goto fail;
    if (!quiet) {
        printf("rpr train: wrote %s (%s, %zu geometries)\n", out_path,
               rpr_property_name(opt.property), n);
        if (rpr_model_write_info(model, stdout, &err) != RPR_OK)
            goto fail;
        if (opt.permute != NULL && *opt.permute != '\0')
            printf("permutations:  %s (the %zu geometries and their "
                   "relabelled copies)\n",
                   rpr_model_permutations(model), n);
    }
    status = 0;
    goto cleanup;
fail:
    cli_report("train", &err);
cleanup:
    rpr_model_free(model);
    rpr_geoms_free(geoms);
    rpr_geoms_free(eq);
    rpr_geoms_free(refs);
    rpr_free(values);
    rpr_free(grad);
    rpr_free(present);
    return status;
}
