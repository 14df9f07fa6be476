/*
 * cli_verify.c - rpr verify: a covariance certificate for a model.
 *
 * For each geometry x and N random orthogonal matrices R (alternately
 * rotations and rotation-reflections, det -1) with random translations t,
 * compare the prediction at R x + t with the exactly transformed
 * prediction at x: R mu for dipoles, R alpha R^T for polarizabilities,
 * the same value for scalars and energies, R g for gradients.  A model
 * built by rotate-predict-rotate must agree to rounding.
 *
 * The deviation of a transformation is the Euclidean norm of the
 * difference (Frobenius norm of the full 3x3 tensor for
 * polarizabilities); it is divided by the RMS norm of the untransformed
 * predictions over all verified geometries, a scale that does not vanish
 * where one geometry's dipole or gradient does.
 *
 * It also summarises the frame health of the verified geometries (the
 * rpr_frame_health of each untransformed prediction): how close they come
 * to the seams of the frames (small moment gaps, unreliable axis signs,
 * small Kabsch margins), the range of the blend weights and how often the
 * blend had to fall back to one frame.
 */
#include <config.h>

#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Defaults of the options (documented in --help and rpr.1). */
#define VERIFY_N    10
#define VERIFY_SEED 1
/* Relative deviation above which the model fails: rounding of a
 * covariant model stays orders of magnitude below (a few 1e-15 to 1e-13
 * for the KRR sums of a few thousand terms). */
#define VERIFY_THRESHOLD 1e-10
/* Standard deviation of each translation component, bohr: a molecule's
 * size, so that translations move it far from where it was trained. */
#define VERIFY_SHIFT 10.0

static void verify_usage(FILE *f)
{
    fprintf(f,
            "Usage: rpr verify --model MODEL --xyz GEOMS [--n N] [--seed S]\n"
            "                  [--threshold T] [--shift L] [--frames K]\n"
            "                  [--property NAME]\n"
            "\n"
            "Covariance certificate: for each geometry x of GEOMS and N "
            "random\n"
            "orthogonal R (alternately rotations and reflections, det -1)\n"
            "with random translations t, compare the prediction at R x + t\n"
            "with the transformed prediction at x (R mu, R alpha R^T, the "
            "same\n"
            "energy or scalar, R g for gradients).  Prints the maximum\n"
            "deviation relative to the RMS norm of the predictions and "
            "exits\n"
            "with 1 if it exceeds T.  For dipole and polarizability models "
            "it also\n"
            "prints the frame health of the geometries: smallest moment "
            "gaps, axis\n"
            "sign reliability and Kabsch margin, blend weight ranges and "
            "fallbacks.\n"
            "\n"
            "  --n N            transformations per geometry (default %d)\n"
            "  --seed S         seed of the random transformations "
            "(default %d)\n"
            "  --threshold T    largest relative deviation that passes\n"
            "                   (default %g)\n"
            "  --shift L        standard deviation of each translation\n"
            "                   component in bohr (default %g; 0 for none)\n"
            "  --frames K       verify only the first K geometries "
            "(default all)\n"
            "  --property NAME  refuse a model for another property\n"
            "  -h, --help       this text\n",
            VERIFY_N, VERIFY_SEED, VERIFY_THRESHOLD, VERIFY_SHIFT);
}

/* splitmix64 (Steele, Lea, Flood 2014), as the tests use. */
static uint64_t verify_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double verify_uniform(uint64_t *state)
{
    return (double) (verify_next(state) >> 11) * 0x1.0p-53;
}

/* Standard normal by Box-Muller. */
static double verify_normal(uint64_t *state)
{
    const double u1 = 1.0 - verify_uniform(state); /* (0, 1] */
    const double u2 = verify_uniform(state);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Uniformly random rotation from a unit quaternion of four normals
 * (Shoemake 1992), times -1 when reflect is set (det -1). */
static void verify_orthogonal(uint64_t *state, int reflect, double R[9])
{
    double q[4], n = 0.0;
    do {
        n = 0.0;
        for (int i = 0; i < 4; i++) {
            q[i] = verify_normal(state);
            n += q[i] * q[i];
        }
    } while (!(n > 0.0));
    n = sqrt(n);
    const double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    R[0] = 1 - 2 * (y * y + z * z);
    R[1] = 2 * (x * y - w * z);
    R[2] = 2 * (x * z + w * y);
    R[3] = 2 * (x * y + w * z);
    R[4] = 1 - 2 * (x * x + z * z);
    R[5] = 2 * (y * z - w * x);
    R[6] = 2 * (x * z - w * y);
    R[7] = 2 * (y * z + w * x);
    R[8] = 1 - 2 * (x * x + y * y);
    if (reflect)
        for (int i = 0; i < 9; i++)
            R[i] = -R[i];
}

/* out = R v for n 3-vectors (atoms, a dipole or a gradient), plus t. */
static void verify_apply(size_t n, const double R[9], const double *t,
                         const double *v, double *out)
{
    for (size_t a = 0; a < n; a++)
        for (int i = 0; i < 3; i++) {
            double s = t != NULL ? t[i] : 0.0;
            for (int j = 0; j < 3; j++)
                s += R[3 * i + j] * v[3 * a + (size_t) j];
            out[3 * a + (size_t) i] = s;
        }
}

/* Packed symmetric tensor a (xx xy xz yy yz zz) -> R a R^T, packed. */
static void verify_tensor(const double R[9], const double *a, double *out)
{
    const double A[9] = {a[0], a[1], a[2], a[1], a[3], a[4], a[2], a[4], a[5]};
    double RA[9], B[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0.0;
            for (int k = 0; k < 3; k++)
                s += R[3 * i + k] * A[3 * k + j];
            RA[3 * i + j] = s;
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0.0;
            for (int k = 0; k < 3; k++)
                s += RA[3 * i + k] * R[3 * j + k];
            B[3 * i + j] = s;
        }
    out[0] = B[0];
    out[1] = B[1];
    out[2] = B[2];
    out[3] = B[4];
    out[4] = B[5];
    out[5] = B[8];
}

/* Norm of a value: Euclidean, or Frobenius of the full symmetric tensor. */
static double verify_norm(rpr_property prop, size_t nc, const double *v)
{
    double s = 0.0;
    for (size_t c = 0; c < nc; c++) {
        const double w =
            prop == RPR_PROPERTY_POLARIZABILITY && (c == 1 || c == 2 || c == 4)
                ? 2.0
                : 1.0;
        s += w * v[c] * v[c];
    }
    return sqrt(s);
}

/* Frame health over the verified geometries. */
typedef struct verify_health {
    size_t n;
    double gap12, gap23, sign, margin; /* minima; margin NaN if no Kabsch */
    size_t gap12_at, gap23_at, sign_at, margin_at;
    double rel;          /* min over geometries of the best relative margin */
    size_t rel_at;       /* where; valid if rel is not NaN */
    size_t nref;         /* Kabsch references of the model */
    size_t label_signs;  /* geometries with a label-rule axis sign */
    double wp_lo, wp_hi; /* principal weight range */
    double wk_lo, wk_hi; /* Kabsch weight range */
    size_t blend_fallbacks; /* geometries where both weights were 0 */
    size_t first_fallback;  /* 0-based, valid if blend_fallbacks > 0 */
} verify_health;

static void verify_health_add(verify_health *v, size_t k,
                              const rpr_frame_health *h)
{
    if (v->n == 0) {
        v->gap12 = v->gap23 = v->sign = INFINITY;
        v->margin = NAN;
        v->rel = NAN;
        v->wp_lo = v->wk_lo = INFINITY;
        v->wp_hi = v->wk_hi = -INFINITY;
    }
    v->n++;
    if (h->gap12 < v->gap12) {
        v->gap12 = h->gap12;
        v->gap12_at = k;
    }
    if (h->gap23 < v->gap23) {
        v->gap23 = h->gap23;
        v->gap23_at = k;
    }
    for (int a = 0; a < 3; a++)
        if (h->sign_reliability[a] < v->sign) {
            v->sign = h->sign_reliability[a];
            v->sign_at = k;
        }
    if (!isnan(h->kabsch_margin) &&
        (isnan(v->margin) || h->kabsch_margin < v->margin)) {
        v->margin = h->kabsch_margin;
        v->margin_at = k;
    }
    if (!isnan(h->kabsch_rel_margin) &&
        (isnan(v->rel) || h->kabsch_rel_margin < v->rel)) {
        v->rel = h->kabsch_rel_margin;
        v->rel_at = k;
    }
    v->nref = h->kabsch_nref;
    v->label_signs += h->sign_fallback != 0;
    v->wp_lo = fmin(v->wp_lo, h->weight_principal);
    v->wp_hi = fmax(v->wp_hi, h->weight_principal);
    v->wk_lo = fmin(v->wk_lo, h->weight_kabsch);
    v->wk_hi = fmax(v->wk_hi, h->weight_kabsch);
    if (h->blend_fallback && v->blend_fallbacks++ == 0)
        v->first_fallback = k;
}

static void verify_health_print(const verify_health *v, const char *xyz_path,
                                const rpr_geoms *geoms)
{
    if (v->n == 0)
        return;
    printf("frame     min gap12 %.3g (geometry %zu), min gap23 %.3g "
           "(geometry %zu), min axis sign reliability %.3g (geometry %zu); "
           "%zu of %zu with label-rule signs\n",
           v->gap12, v->gap12_at + 1, v->gap23, v->gap23_at + 1, v->sign,
           v->sign_at + 1, v->label_signs, v->n);
    if (!isnan(v->margin))
        printf("frame     min Kabsch margin %.3g (geometry %zu)\n", v->margin,
               v->margin_at + 1);
    /* The blend weight of a fit follows its margin relative to its
     * reference's own; the best fit of each geometry is the one that
     * counts (rpr.h, rpr_frame_health). */
    if (!isnan(v->rel))
        printf("frame     %zu Kabsch reference%s: min over geometries of the "
               "best relative margin %.3g (geometry %zu)\n",
               v->nref, v->nref == 1 ? "" : "s", v->rel, v->rel_at + 1);
    printf("frame     blend weights: principal %.3g..%.3g, Kabsch "
           "%.3g..%.3g; blend fallbacks %zu",
           v->wp_lo, v->wp_hi, v->wk_lo, v->wk_hi, v->blend_fallbacks);
    if (v->blend_fallbacks > 0)
        printf(" (first: geometry %zu at %s:%zu)", v->first_fallback + 1,
               xyz_path, rpr_geoms_line(geoms, v->first_fallback));
    putchar('\n');
}

/* Largest deviation of one quantity and where it happened. */
typedef struct verify_worst {
    double dev; /* absolute, in the quantity's unit */
    size_t frame, transform;
    double sum_norm2; /* of the untransformed predictions, for the RMS */
} verify_worst;

static void verify_print(const char *name, const verify_worst *w, size_t nf,
                         const char *unit, const char *xyz_path,
                         const rpr_geoms *geoms, double *rel)
{
    const double rms = sqrt(w->sum_norm2 / (double) nf);
    *rel = rms > 0.0 ? w->dev / rms : (w->dev > 0.0 ? INFINITY : 0.0);
    printf("%-9s max relative deviation %.3e (absolute %.3e %s, RMS norm "
           "%.6g %s; geometry %zu at %s:%zu, transformation %zu)\n",
           name, *rel, w->dev, unit, rms, unit, w->frame + 1, xyz_path,
           rpr_geoms_line(geoms, w->frame), w->transform + 1);
}

int cli_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"xyz", required_argument, NULL, 'x'},
        {"n", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"threshold", required_argument, NULL, 't'},
        {"shift", required_argument, NULL, 'l'},
        {"frames", required_argument, NULL, 'f'},
        {"property", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *xyz_path = NULL;
    rpr_property property;
    int property_given = 0;
    size_t ntrans = VERIFY_N, nframes_max = 0;
    uint64_t seed = VERIFY_SEED;
    double threshold = VERIFY_THRESHOLD, shift = VERIFY_SHIFT;
    int frames_given = 0;
    rpr_model *model = NULL;
    rpr_geoms *geoms = NULL;
    rpr_workspace *ws = NULL;
    double *buf = NULL;
    rpr_error err = {0};
    int rc = 1;

    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1;) {
        int ok = 1;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'x': xyz_path = optarg; break;
        case 'p':
            ok = cli_parse_property("verify", optarg, &property);
            property_given = 1;
            break;
        case 'n': ok = cli_parse_size("verify", "--n", optarg, &ntrans); break;
        case 's': ok = cli_parse_u64("verify", "--seed", optarg, &seed); break;
        case 't':
            ok = cli_parse_double("verify", "--threshold", optarg, &threshold);
            if (ok && !(threshold >= 0.0)) {
                fprintf(stderr, "rpr verify: --threshold: %s is negative\n",
                        optarg);
                ok = 0;
            }
            break;
        case 'l':
            ok = cli_parse_double("verify", "--shift", optarg, &shift);
            if (ok && !(shift >= 0.0)) {
                fprintf(stderr, "rpr verify: --shift: %s is negative\n",
                        optarg);
                ok = 0;
            }
            break;
        case 'f':
            ok = cli_parse_size("verify", "--frames", optarg, &nframes_max);
            frames_given = 1;
            break;
        case 'h': verify_usage(stdout); return 0;
        case ':':
            fprintf(stderr, "rpr verify: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "rpr verify: unknown option '%s' (try --help)\n",
                    argv[optind - 1]);
            return 2;
        }
        if (!ok)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "rpr verify: unexpected argument '%s' (try --help)\n",
                argv[optind]);
        return 2;
    }
    if (model_path == NULL || xyz_path == NULL) {
        fprintf(stderr,
                "rpr verify: --model and --xyz are required (try --help)\n");
        return 2;
    }
    if (ntrans == 0 || (frames_given && nframes_max == 0)) {
        fprintf(stderr, "rpr verify: --n and --frames must be at least 1\n");
        return 2;
    }

    model = cli_load_model("verify", model_path);
    if (model == NULL || !cli_check_property("verify", model, model_path,
                                             property_given ? &property : NULL))
        goto cleanup;
    geoms = cli_read_xyz("verify", xyz_path);
    if (geoms == NULL ||
        !cli_check_atoms("verify", model, model_path, geoms, xyz_path))
        goto cleanup;
    const rpr_property prop = rpr_model_property(model);
    const size_t na = rpr_geoms_natoms(geoms);
    const size_t nc = rpr_model_ncomp(model);
    size_t nf = rpr_geoms_nframes(geoms);
    if (frames_given && nframes_max < nf)
        nf = nframes_max;
    /* Gradients for the invariant properties (rpr.h: energy and scalar
     * models return dE/dR). */
    const int with_grad =
        prop == RPR_PROPERTY_ENERGY || prop == RPR_PROPERTY_SCALAR;
    const size_t n3 = 3 * na;
    /* x, Rx+t, g(x), g(Rx+t), R g(x); values p(x), p(Rx+t), R p(x). */
    buf = malloc((5 * n3 + 3 * 6) * sizeof *buf);
    ws = rpr_workspace_new(model);
    if (buf == NULL || ws == NULL) {
        fprintf(stderr, "rpr verify: out of memory\n");
        goto cleanup;
    }
    double *const xt = buf, *const g0 = buf + n3, *const gt = buf + 2 * n3;
    double *const gr = buf + 3 * n3, *const p0 = buf + 5 * n3;
    double *const pt = p0 + 6, *const pr = p0 + 12;
    const int *const numbers = rpr_geoms_numbers(geoms);
    verify_worst wv = {0.0, 0, 0, 0.0}, wg = {0.0, 0, 0, 0.0};
    verify_health vh;
    memset(&vh, 0, sizeof vh);
    uint64_t state = seed;

    for (size_t k = 0; k < nf; k++) {
        const double *const x = rpr_geoms_xyz(geoms) + n3 * k;
        rpr_frame_health h;
        if (rpr_predict(model, ws, na, numbers, x, p0, with_grad ? g0 : NULL,
                        &h, &err) != RPR_OK) {
            fprintf(stderr, "rpr verify: %s:%zu: geometry %zu: %s\n", xyz_path,
                    rpr_geoms_line(geoms, k), k + 1, err.message);
            goto cleanup;
        }
        verify_health_add(&vh, k, &h);
        const double n0 = verify_norm(prop, nc, p0);
        wv.sum_norm2 += n0 * n0;
        if (with_grad) {
            double s = 0.0;
            for (size_t i = 0; i < n3; i++)
                s += g0[i] * g0[i];
            wg.sum_norm2 += s;
        }
        for (size_t i = 0; i < ntrans; i++) {
            double R[9], t[3];
            verify_orthogonal(&state, (int) (i % 2), R);
            for (int j = 0; j < 3; j++)
                t[j] = shift * verify_normal(&state);
            verify_apply(na, R, t, x, xt);
            if (rpr_predict(model, ws, na, numbers, xt, pt,
                            with_grad ? gt : NULL, NULL, &err) != RPR_OK) {
                fprintf(stderr,
                        "rpr verify: %s:%zu: geometry %zu, transformation "
                        "%zu: %s\n",
                        xyz_path, rpr_geoms_line(geoms, k), k + 1, i + 1,
                        err.message);
                goto cleanup;
            }
            if (prop == RPR_PROPERTY_DIPOLE)
                verify_apply(1, R, NULL, p0, pr);
            else if (prop == RPR_PROPERTY_POLARIZABILITY)
                verify_tensor(R, p0, pr);
            else
                pr[0] = p0[0];
            for (size_t c = 0; c < nc; c++)
                pr[c] = pt[c] - pr[c];
            const double dv = verify_norm(prop, nc, pr);
            /* !(<=) also catches NaN. */
            if (!(dv <= wv.dev)) {
                wv.dev = dv;
                wv.frame = k;
                wv.transform = i;
            }
            if (with_grad) {
                verify_apply(na, R, NULL, g0, gr);
                double s = 0.0;
                for (size_t j = 0; j < n3; j++)
                    s += (gt[j] - gr[j]) * (gt[j] - gr[j]);
                const double dg = sqrt(s);
                if (!(dg <= wg.dev)) {
                    wg.dev = dg;
                    wg.frame = k;
                    wg.transform = i;
                }
            }
        }
        cli_progress((void *) "verify", (double) (k + 1) / (double) nf,
                     "transforming");
    }

    printf("# rpr verify: %s (%s), %zu geometries of %s x %zu "
           "transformations (rotations and reflections, translations of "
           "%g bohr), seed %llu\n",
           model_path, rpr_property_name(prop), nf, xyz_path, ntrans, shift,
           (unsigned long long) seed);
    double rel_v, rel_g = 0.0;
    verify_print(rpr_property_name(prop), &wv, nf, rpr_property_unit(prop),
                 xyz_path, geoms, &rel_v);
    if (with_grad)
        verify_print("gradient", &wg, nf,
                     prop == RPR_PROPERTY_ENERGY ? "hartree/bohr" : "1/bohr",
                     xyz_path, geoms, &rel_g);
    if (prop == RPR_PROPERTY_DIPOLE || prop == RPR_PROPERTY_POLARIZABILITY)
        verify_health_print(&vh, xyz_path, geoms);
    const double worst = rel_v > rel_g || isnan(rel_v) ? rel_v : rel_g;
    const int pass = worst <= threshold;
    printf("%s: max relative deviation %.3e %s threshold %g\n",
           pass ? "passed" : "FAILED", worst, pass ? "<=" : ">", threshold);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("rpr verify: stdout");
        goto cleanup;
    }
    if (!pass)
        fprintf(stderr,
                "rpr verify: %s is not covariant: relative deviation %.3e "
                "exceeds %g\n",
                model_path, worst, threshold);
    rc = pass ? 0 : 1;
cleanup:
    rpr_workspace_free(ws);
    rpr_model_free(model);
    rpr_geoms_free(geoms);
    free(buf);
    return rc;
}
