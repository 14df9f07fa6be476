/*
 * test_relabel.c - the relabelling blend of prediction
 * (rpr_train_options.relabel; model.c, "Relabelling blend"):
 *   g(x) = w(x) f(x) + (1 - w(x)) f(Px).
 *
 * Data: the DCE set (make check unpacks dce/), geometries 1-300 train,
 * 301-500 are held out; P = "5-6,7-8" swaps the hydrogen labels.  f is
 * the model's own prediction (model_predict_plain, the same model
 * without the blend).
 *
 *  1. P-invariance: g(Px) == g(x) bit for bit (the blend is computed in a
 *     canonical order, model.c) on held-out geometries near anti, near
 *     syn, in g+, on their relabelled mirror images (g-) and on randomly
 *     distorted ones; f itself violates it by > 1e-2 e*bohr in g+.
 *  2. O(3) covariance: g(Rx + t) = R g(x), R g(x) R^T for random
 *     rotations and reflections, max relative deviation <= 1e-10.
 *  3. The weight: w in [0, 1], w(x) + w(Px) = 1 within DBL_EPSILON;
 *     where w == 1, g == f bit for bit, where w == 0, g == f(Px) (how
 *     often that happens in g+ is printed).
 *  4. Held-out RMSE as given and relabelled: equal for g, far worse for f.
 *  5. Smoothness along torsion paths through 180 and 0 degrees: max/median
 *     per-step change <= 10; a hard switch (band 1e-9) exceeds it.
 *  6. XML round trip and the binary cache bit-identical; every error path
 *     (bad SPEC, two permutations, with permute, energy with gradients,
 *     band <= 0 or NaN, gradient requested, corrupted <relabel> blocks);
 *     a model without relabelling still writes format 2.
 */
#include <config.h>

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "testutil.h"

enum { NATOMS = 8, NTRAIN = 300, NTEST = 200, N3 = 3 * NATOMS };

static const char *const SPEC = "5-6,7-8";
static const size_t perm[NATOMS] = {0, 1, 2, 3, 5, 4, 7, 6};

static char dir[] = "test_relabel.XXXXXX";

static void die(const char *what, const rpr_error *err)
{
    fprintf(stderr, "test_relabel: %s: %s\n", what,
            err != NULL ? err->message : "");
    exit(99);
}

static const char *tmp_path(const char *name)
{
    return test_path(dir, name);
}

static void relabel(const double *x, double *px)
{
    for (size_t a = 0; a < NATOMS; a++)
        memcpy(px + 3 * a, x + 3 * perm[a], 3 * sizeof *px);
}

/* Mirror image through the yz plane (x -> -x). */
static void mirror(const double *x, double *mx)
{
    for (size_t i = 0; i < N3; i++)
        mx[i] = i % 3 == 0 ? -x[i] : x[i];
}

/* Dihedral Cl3-C1-C2-Cl4 in degrees, in (-180, 180]. */
static double dihedral(const double *x)
{
    const double *p0 = x + 6, *p1 = x, *p2 = x + 3, *p3 = x + 9;
    double b0[3], b1[3], b2[3], n1[3], n2[3], m1[3];
    for (int k = 0; k < 3; k++) {
        b0[k] = p1[k] - p0[k];
        b1[k] = p2[k] - p1[k];
        b2[k] = p3[k] - p2[k];
    }
    const double l1 = sqrt(b1[0] * b1[0] + b1[1] * b1[1] + b1[2] * b1[2]);
    for (int k = 0; k < 3; k++)
        b1[k] /= l1;
    /* n1 = b0 x b1, n2 = b1 x b2: the normals of the two planes. */
    n1[0] = b0[1] * b1[2] - b0[2] * b1[1];
    n1[1] = b0[2] * b1[0] - b0[0] * b1[2];
    n1[2] = b0[0] * b1[1] - b0[1] * b1[0];
    n2[0] = b1[1] * b2[2] - b1[2] * b2[1];
    n2[1] = b1[2] * b2[0] - b1[0] * b2[2];
    n2[2] = b1[0] * b2[1] - b1[1] * b2[0];
    m1[0] = n1[1] * b1[2] - n1[2] * b1[1];
    m1[1] = n1[2] * b1[0] - n1[0] * b1[2];
    m1[2] = n1[0] * b1[1] - n1[1] * b1[0];
    const double xx = n1[0] * n2[0] + n1[1] * n2[1] + n1[2] * n2[2];
    const double yy = m1[0] * n2[0] + m1[1] * n2[1] + m1[2] * n2[2];
    return -atan2(yy, xx) * 180.0 / M_PI;
}

/* Rotate atoms 4, 7, 8 (Cl4 and the hydrogens of C2) about the C1-C2
 * axis by theta degrees: a torsion of Cl3-C1-C2-Cl4. */
static void twist(const double *x, double theta, double *out)
{
    static const size_t moved[3] = {3, 6, 7};
    double u[3], l = 0.0;
    memcpy(out, x, N3 * sizeof *out);
    for (int k = 0; k < 3; k++) {
        u[k] = x[3 + k] - x[k];
        l += u[k] * u[k];
    }
    l = sqrt(l);
    for (int k = 0; k < 3; k++)
        u[k] /= l;
    const double c = cos(theta * M_PI / 180.0), s = sin(theta * M_PI / 180.0);
    for (int i = 0; i < 3; i++) {
        const double *p = x + 3 * moved[i];
        double v[3], cr[3];
        for (int k = 0; k < 3; k++)
            v[k] = p[k] - x[3 + k];
        const double d = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
        cr[0] = u[1] * v[2] - u[2] * v[1];
        cr[1] = u[2] * v[0] - u[0] * v[2];
        cr[2] = u[0] * v[1] - u[1] * v[0];
        for (int k = 0; k < 3; k++)
            out[3 * moved[i] + k] =
                x[3 + k] + v[k] * c + cr[k] * s + u[k] * d * (1.0 - c);
    }
}

/* ------------------------------------------------------------ data */

static rpr_geoms *all;
static double *mu, *alpha;
static rpr_model *mdip, *mpol;

static rpr_model *train(rpr_property p, const double *values, const char *spec,
                        double band)
{
    rpr_geoms *g = NULL;
    rpr_model *m = NULL;
    rpr_error err;
    rpr_train_options opt;
    if (rpr_geoms_new(NATOMS, NTRAIN, rpr_geoms_numbers(all),
                      rpr_geoms_xyz(all), rpr_geoms_masses(all), &g,
                      &err) != RPR_OK)
        die("training set", &err);
    rpr_train_options_default(&opt);
    opt.property = p;
    opt.relabel = spec;
    if (band > 0.0) /* else rpr_train's default */
        opt.relabel_band = band;
    if (rpr_train(&opt, g, values, NULL, NULL, &m, &err) != RPR_OK)
        die("rpr_train", &err);
    rpr_geoms_free(g);
    return m;
}

static const double *geom(size_t i)
{
    return rpr_geoms_xyz(all) + i * N3;
}

/* g (rpr_predict) with the weight, and f (model_predict_plain).  Asked
 * without the health (as rpr-nx asks its second model), g is the same
 * bit for bit. */
static void g_of(const rpr_model *m, rpr_workspace *ws, const double *x,
                 double *v, double *w)
{
    rpr_error err;
    rpr_frame_health h;
    double u[MODEL_MAX_COMP];
    CHECK_OK(rpr_predict(m, ws, NATOMS, NULL, x, u, NULL, NULL, &err), &err);
    CHECK_OK(rpr_predict(m, ws, NATOMS, NULL, x, v, NULL, &h, &err), &err);
    CHECK(memcmp(u, v, rpr_model_ncomp(m) * sizeof *v) == 0);
    if (w != NULL)
        *w = h.relabel_weight;
}

static void f_of(const rpr_model *m, rpr_workspace *ws, const double *x,
                 double *v)
{
    rpr_error err;
    CHECK_OK(model_predict_plain(m, ws, NATOMS, NULL, x, v, NULL, NULL, &err),
             &err);
}

/* Test geometries: held-out near anti (|phi| > 160), near syn (|phi| <
 * 20), g+ (40 < phi < 100), the relabelled mirror images P M x of those
 * g+ ones (g-: M x is known to an O(3)-covariant model, P M x is not),
 * and held-out geometries with every coordinate moved by N(0, 0.05^2)
 * bohr.  kind[i]: 0 anti, 1 syn, 2 g+, 3 g-, 4 distorted. */
enum { MAXSET = 5 * 24 };
static double set[MAXSET][N3];
static int kind[MAXSET];
static size_t nset;

static void make_set(void)
{
    size_t count[5] = {0};
    test_rng rng = {0x7e1abe1};
    for (size_t i = NTRAIN; i < NTRAIN + NTEST && nset < MAXSET; i++) {
        const double *x = geom(i), phi = dihedral(x);
        const int k = fabs(phi) > 160.0             ? 0
                      : fabs(phi) < 20.0            ? 1
                      : (phi > 40.0 && phi < 100.0) ? 2
                                                    : -1;
        if (k >= 0 && count[k] < 24) {
            memcpy(set[nset], x, sizeof set[nset]);
            kind[nset++] = k;
            count[k]++;
            if (k == 2 && count[3] < 24) {
                double mx[N3];
                mirror(x, mx);
                relabel(mx, set[nset]);
                kind[nset++] = 3;
                count[3]++;
            }
        }
        if (count[4] < 24 && i % 4 == 0) {
            for (size_t c = 0; c < N3; c++)
                set[nset][c] = x[c] + 0.05 * test_rng_normal(&rng);
            kind[nset++] = 4;
            count[4]++;
        }
    }
    printf("test set: %zu anti, %zu syn, %zu g+, %zu g-, %zu distorted\n",
           count[0], count[1], count[2], count[3], count[4]);
    for (int k = 0; k < 5; k++)
        CHECK(count[k] >= 5); /* else the data changed: the test is void */
}

/* ------------------------------------------------------------ 1, 3 */

static void test_invariance_and_weight(const rpr_model *m)
{
    rpr_workspace *ws = rpr_workspace_new(m);
    const size_t nc = rpr_model_ncomp(m);
    double worst_f = 0.0, worst_sum = 0.0;
    size_t n_bitwise = 0, n_one = 0, n_gp = 0, n_zero = 0, n_gm = 0;
    for (size_t i = 0; i < nset; i++) {
        double px[N3], g0[6], g1[6], f0[6], f1[6], w0, w1;
        relabel(set[i], px);
        g_of(m, ws, set[i], g0, &w0);
        g_of(m, ws, px, g1, &w1);
        f_of(m, ws, set[i], f0);
        f_of(m, ws, px, f1);
        /* 1. Exact: the same a, the same two predictions, the same
         * operations in the same order (model.c). */
        n_bitwise += memcmp(g0, g1, nc * sizeof *g0) == 0;
        CHECK(memcmp(g0, g1, nc * sizeof *g0) == 0);
        if (kind[i] == 2)
            for (size_t c = 0; c < nc; c++)
                worst_f = fmax(worst_f, fabs(f0[c] - f1[c]));
        /* 3. w(Px) = a exactly and w(x) = fl(1 - a) (or the reverse):
         * fl(1 - a) errs by <= eps/2 (|1 - a| <= 1), and the sum
         * rounds once more by <= eps/2: |w(x) + w(Px) - 1| <= eps. */
        CHECK(w0 >= 0.0 && w0 <= 1.0 && w1 >= 0.0 && w1 <= 1.0);
        worst_sum = fmax(worst_sum, fabs(w0 + w1 - 1.0));
        if (kind[i] == 2) {
            n_gp++;
            if (w0 == 1.0) {
                n_one++;
                CHECK(memcmp(g0, f0, nc * sizeof *g0) == 0);
            }
        }
        if (kind[i] == 3) {
            n_gm++;
            if (w0 == 0.0) {
                n_zero++;
                CHECK(memcmp(g0, f1, nc * sizeof *g0) == 0);
            }
        }
    }
    printf("%s: g(Px) == g(x) bitwise on %zu of %zu; max |f(Px) - f(x)| in "
           "g+ %.3g; max |w(x) + w(Px) - 1| %.3g; w == 1 on %zu of %zu g+, "
           "w == 0 on %zu of %zu g-\n",
           rpr_property_name(rpr_model_property(m)), n_bitwise, nset, worst_f,
           worst_sum, n_one, n_gp, n_zero, n_gm);
    CHECK(worst_sum <= DBL_EPSILON);
    /* The plain model is not P-invariant in g+: the check above could
     * fail (permutations.md measured ~0.4 e*bohr RMSE on relabelled
     * geometries; 1e-2 is far below and far above rounding). */
    CHECK(worst_f > 1e-2);
    /* Where w is 1 (0) the branch g == f(x) (f(Px)) was checked above
     * bit for bit; how often that happens is a measurement, not a claim:
     * on this data Px of a g+ geometry lies only ~1.6-2 s from the nearest
     * training geometry (x: ~0.9 s), so |Delta| is ~1.2 at the median,
     * near the default band 1 (docs/models.md). */

    /* 3 (training geometries): where w == 1, g == f bit for bit. */
    size_t tr_gp = 0, tr_one = 0;
    for (size_t i = 0; i < NTRAIN; i++) {
        const double phi = dihedral(geom(i));
        if (!(phi > 40.0 && phi < 100.0))
            continue;
        double g0[6], f0[6], w0;
        g_of(m, ws, geom(i), g0, &w0);
        f_of(m, ws, geom(i), f0);
        tr_gp++;
        if (w0 == 1.0) {
            tr_one++;
            CHECK(memcmp(g0, f0, nc * sizeof *g0) == 0);
        }
    }
    printf("  training g+: w == 1 on %zu of %zu\n", tr_one, tr_gp);
    /* At least one, so that the bitwise branch was exercised. */
    CHECK(tr_gp > 0 && tr_one > 0);
    rpr_workspace_free(ws);
}

/* ------------------------------------------------------------ 2 */

static void test_covariance(const rpr_model *m)
{
    rpr_workspace *ws = rpr_workspace_new(m);
    test_rng rng = {0xc0fa1};
    double worst = 0.0;
    for (size_t i = 0; i < nset; i++) {
        double R[9], t[3], xr[N3], y0[6], y1[6], want[6], w0, w1;
        test_random_orthogonal(&rng, (int) (i % 2), R);
        for (int k = 0; k < 3; k++)
            t[k] = 5.0 * test_rng_normal(&rng);
        test_transform(NATOMS, R, t, set[i], xr);
        g_of(m, ws, set[i], y0, &w0);
        g_of(m, ws, xr, y1, &w1);
        if (rpr_model_property(m) == RPR_PROPERTY_DIPOLE)
            for (int a = 0; a < 3; a++)
                want[a] = R[3 * a] * y0[0] + R[3 * a + 1] * y0[1] +
                          R[3 * a + 2] * y0[2];
        else {
            /* R A R^T with A from xx xy xz yy yz zz. */
            static const int ij[6][2] = {{0, 0}, {0, 1}, {0, 2},
                                         {1, 1}, {1, 2}, {2, 2}};
            double A[9];
            for (int c = 0; c < 6; c++)
                A[3 * ij[c][0] + ij[c][1]] = A[3 * ij[c][1] + ij[c][0]] = y0[c];
            for (int c = 0; c < 6; c++) {
                const int p = ij[c][0], q = ij[c][1];
                double s = 0.0;
                for (int k = 0; k < 3; k++)
                    for (int l = 0; l < 3; l++)
                        s += R[3 * p + k] * A[3 * k + l] * R[3 * q + l];
                want[c] = s;
            }
        }
        const size_t nc = rpr_model_ncomp(m);
        double num = 0.0, den = 0.0;
        for (size_t c = 0; c < nc; c++) {
            num = fmax(num, fabs(y1[c] - want[c]));
            den = fmax(den, fabs(want[c]));
        }
        worst = fmax(worst, den > 0.0 ? num / den : num);
    }
    /* The bound of tests/test_model.c (covariance of f: rounding, ~1e-14,
     * against the required 1e-10).  The blend adds (w' - w)(f(x) - f(Px))
     * with w' - w from rounding of the ID vectors (relative eps per
     * entry): Delta moves by ~|D| eps / s ~ 30 eps per near neighbour
     * (|D| ~ 2.6, s ~ 0.09 per angstrom), dw/dDelta <= 15 / (16 b), so
     * ~1e-14 relative too. */
    printf("%s: covariance max relative deviation %.3g\n",
           rpr_property_name(rpr_model_property(m)), worst);
    CHECK(worst <= 1e-10);
    rpr_workspace_free(ws);
}

/* ------------------------------------------------------------ 4 */

/* RMSE over the held-out set of the component vectors, as given or
 * relabelled, with g (plain = 0) or f (plain = 1). */
static double rmse(const rpr_model *m, rpr_workspace *ws, const double *ref,
                   int relabelled, int plain)
{
    const size_t nc = rpr_model_ncomp(m);
    double s = 0.0;
    for (size_t i = NTRAIN; i < NTRAIN + NTEST; i++) {
        double x[N3], v[6];
        if (relabelled)
            relabel(geom(i), x);
        else
            memcpy(x, geom(i), sizeof x);
        if (plain)
            f_of(m, ws, x, v);
        else
            g_of(m, ws, x, v, NULL);
        for (size_t c = 0; c < nc; c++) {
            const double e = v[c] - ref[i * nc + c];
            s += e * e;
        }
    }
    return sqrt(s / NTEST);
}

static void test_heldout(const rpr_model *m, const double *ref)
{
    rpr_workspace *ws = rpr_workspace_new(m);
    const double g0 = rmse(m, ws, ref, 0, 0), g1 = rmse(m, ws, ref, 1, 0);
    const double f0 = rmse(m, ws, ref, 0, 1), f1 = rmse(m, ws, ref, 1, 1);
    printf("%s held-out RMSE: relabel %.4g / relabelled %.4g; plain %.4g / "
           "relabelled %.4g (x%.3g)\n",
           rpr_property_name(rpr_model_property(m)), g0, g1, f0, f1, f1 / f0);
    /* g(Px) == g(x) bit for bit (1), so the sums are the same numbers
     * added in the same order. */
    CHECK(g0 == g1);
    /* Measured 24x (dipole) and 11x (polarizability) with this split; 5x
     * leaves a margin of 3 for other BLAS roundings of the search. */
    CHECK(f1 > 5.0 * f0);
    /* The blend must not cost much on data the model knows (measured
     * 1.24x for the dipole: near anti and syn the blend mixes in f(Px)). */
    CHECK(g0 < 2.0 * f0);
    rpr_workspace_free(ws);
}

/* ------------------------------------------------------------ 5 */

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* max / median of the per-step change of g (Euclidean over components)
 * along twist(x0, theta) for theta = t0 .. t1 in nstep steps. */
static double path_ratio(const rpr_model *m, const double *x0, double t0,
                         double t1, size_t nstep, double *wmin, double *wmax)
{
    enum { MAXSTEP = 2400 };
    rpr_workspace *ws = rpr_workspace_new(m);
    double d[MAXSTEP], prev[6];
    const size_t nc = rpr_model_ncomp(m);
    *wmin = 1.0;
    *wmax = 0.0;
    for (size_t k = 0; k <= nstep && k <= MAXSTEP; k++) {
        double x[N3], v[6], w;
        twist(x0, t0 + (t1 - t0) * (double) k / (double) nstep, x);
        g_of(m, ws, x, v, &w);
        *wmin = fmin(*wmin, w);
        *wmax = fmax(*wmax, w);
        if (k > 0) {
            double s = 0.0;
            for (size_t c = 0; c < nc; c++)
                s += (v[c] - prev[c]) * (v[c] - prev[c]);
            d[k - 1] = sqrt(s);
        }
        memcpy(prev, v, sizeof prev);
    }
    rpr_workspace_free(ws);
    double mx = 0.0;
    for (size_t k = 0; k < nstep; k++)
        mx = fmax(mx, d[k]);
    qsort(d, nstep, sizeof *d, cmp_double);
    return mx / d[nstep / 2];
}

enum { NSTEP = 2400 };

static void test_smoothness(const rpr_model *m, const rpr_model *hard)
{
    /* A training geometry near anti and one near syn; paths of +-60
     * degrees of torsion through 180 and 0 in NSTEP = 2400 steps of 0.05
     * degrees, so each
     * path leaves the data on one side (into g-, as MD does).  Bound 10:
     * rpr_spectrum_options.jump_factor, the rpr-nx jump warning (smooth
     * MD stays within ~4 times the median step; a switch jumps by
     * |f(x) - f(Px)|, tens of median steps).  The same bound must be
     * exceeded by the hard switch (band 1e-9: w is 0 or 1 but for
     * |Delta| < 1e-9). */
    size_t ia = SIZE_MAX, is = SIZE_MAX;
    for (size_t i = 0; i < NTRAIN; i++) {
        const double phi = dihedral(geom(i));
        if (ia == SIZE_MAX && fabs(phi) > 175.0)
            ia = i;
        if (is == SIZE_MAX && fabs(phi) < 5.0)
            is = i;
    }
    if (ia == SIZE_MAX || is == SIZE_MAX)
        die("no training geometry near anti or syn", NULL);
    const size_t start[2] = {ia, is};
    const char *const name[2] = {"anti", "syn"};
    for (int p = 0; p < 2; p++) {
        const double *x0 = geom(start[p]);
        /* From 60 degrees before the crossing to 60 after: twist by
         * -60 - (phi0 - target) .. +60 - (phi0 - target). */
        const double target = p == 0 ? 180.0 : 0.0;
        double off = dihedral(x0) - target;
        off -= 360.0 * floor((off + 180.0) / 360.0);
        double wlo, whi, hlo, hhi;
        const double r =
            path_ratio(m, x0, -60.0 - off, 60.0 - off, NSTEP, &wlo, &whi);
        const double rh =
            path_ratio(hard, x0, -60.0 - off, 60.0 - off, NSTEP, &hlo, &hhi);
        printf("%s: torsion path through %s: max/median step %.3g (w %.3g .. "
               "%.3g); hard switch %.3g\n",
               rpr_property_name(rpr_model_property(m)), name[p], r, wlo, whi,
               rh);
        CHECK(r <= 10.0);
        CHECK(rh > 10.0);
    }
}

/* ------------------------------------------------------------ 6 */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        die(path, NULL);
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
        die(path, NULL);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *write_text(const char *name, const char *text)
{
    const char *const path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        die(path, NULL);
    return path;
}

/* text with the first `from` after the first `after` replaced by `to`. */
static char *replace(const char *text, const char *after, const char *from,
                     const char *to)
{
    const char *const a = strstr(text, after);
    const char *const p = a != NULL ? strstr(a, from) : NULL;
    if (p == NULL) {
        fprintf(stderr, "test bug: '%s' not in the model file\n", from);
        exit(99);
    }
    const size_t at = (size_t) (p - text), nf = strlen(from), nt = strlen(to);
    char *out = malloc(strlen(text) - nf + nt + 1);
    if (out == NULL)
        exit(99);
    memcpy(out, text, at);
    memcpy(out + at, to, nt);
    strcpy(out + at + nt, p + nf);
    return out;
}

/* Predictions and weights of a and b bit-identical on the test set. */
static int same_predictions(const rpr_model *a, const rpr_model *b)
{
    rpr_workspace *wa = rpr_workspace_new(a), *wb = rpr_workspace_new(b);
    int same = 1;
    for (size_t i = 0; i < nset; i++) {
        double va[6] = {0}, vb[6] = {0}, xa, xb;
        g_of(a, wa, set[i], va, &xa);
        g_of(b, wb, set[i], vb, &xb);
        same = same && memcmp(va, vb, sizeof va) == 0 && xa == xb;
    }
    rpr_workspace_free(wa);
    rpr_workspace_free(wb);
    return same;
}

static void test_files(const rpr_model *m)
{
    rpr_error err;
    rpr_model *r = NULL, *c1 = NULL, *c2 = NULL;
    const char *const path = tmp_path("relabel.xml");
    double s0, b0, s1, b1;
    CHECK_OK(rpr_model_save(m, path, &err), &err);
    CHECK_OK(rpr_model_load(path, &r, &err), &err);
    if (r == NULL)
        return;
    CHECK(strcmp(rpr_model_relabel(r, &s1, &b1), SPEC) == 0);
    CHECK(strcmp(rpr_model_relabel(m, &s0, &b0), SPEC) == 0);
    CHECK(memcmp(&s0, &s1, sizeof s0) == 0 && memcmp(&b0, &b1, sizeof b0) == 0);
    rpr_train_options def;
    rpr_train_options_default(&def);
    CHECK(s0 > 0.0 && b0 == def.relabel_band);
    CHECK(r->relabel_n == NTRAIN &&
          memcmp(r->relabel_idt, m->relabel_idt,
                 NTRAIN * m->relabel_npairs * sizeof(double)) == 0 &&
          memcmp(r->relabel_perm, perm, sizeof perm) == 0);
    CHECK(same_predictions(m, r));
    {
        char *text = read_text(path);
        CHECK(strstr(text, "format=\"3\"") != NULL);
        free(text);
    }
    /* The binary cache: written, then read; both as the XML model. */
    const char *const cache = tmp_path("relabel.cache");
    CHECK_OK(rpr_model_load_cached(path, cache, &c1, &err), &err);
    CHECK_OK(rpr_model_load_cached(path, cache, &c2, &err), &err);
    if (c1 != NULL && c2 != NULL) {
        CHECK(same_predictions(m, c1));
        CHECK(same_predictions(m, c2));
        CHECK(strcmp(rpr_model_relabel(c2, NULL, NULL), SPEC) == 0);
    }
    rpr_model_free(c1);
    rpr_model_free(c2);

    /* Corrupted <relabel> blocks: each refused, the message naming the
     * file. */
    char *text = read_text(path);
    static const struct {
        const char *from, *to;
        rpr_status want;
    } bad[] = {
        {"permutation=\"5-6,7-8\"", "permutation=\"5-6;7-8\"", RPR_EPARSE},
        {"permutation=\"5-6,7-8\"", "permutation=\"3-5\"", RPR_EINVAL},
        {"permutation=\"5-6,7-8\"", "permutation=\"5-6,7-9\"", RPR_EINVAL},
        {"permutation=\"5-6,7-8\"", "", RPR_EPARSE},
        {"scale=\"", "scale=\"-", RPR_EPARSE},
        {"band=\"1\"", "band=\"0\"", RPR_EPARSE},
        {"band=\"1\"", "band=\"nan\"", RPR_EPARSE},
        {"rows=\"300\"", "rows=\"299\"", RPR_EPARSE},
        {"columns=\"28\"", "columns=\"27\"", RPR_EPARSE},
        /* a negative first ID entry (1/r > 0), a number too many */
        {"unit=\"1/angstrom\" rows=\"300\" columns=\"28\">\n",
         "unit=\"1/angstrom\" rows=\"300\" columns=\"28\">\n-", RPR_EPARSE},
        {"</relabel>", "1</relabel>", RPR_EPARSE},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *t = replace(text, "<relabel", bad[k].from, bad[k].to);
        const char *const p = write_text("bad.xml", t);
        rpr_model *b = NULL;
        memset(&err, 0, sizeof err);
        const rpr_status st = rpr_model_load(p, &b, &err);
        if (st != bad[k].want) {
            fprintf(stderr,
                    "FAIL: bad <relabel> %zu: status %d, want %d (%s)\n", k,
                    (int) st, (int) bad[k].want, err.message);
            test_failures++;
        }
        if (st != RPR_OK && strstr(err.message, "bad.xml") == NULL) {
            fprintf(stderr, "FAIL: message '%s' does not name the file\n",
                    err.message);
            test_failures++;
        }
        CHECK(b == NULL);
        rpr_model_free(b);
        free(t);
    }
    free(text);
    rpr_model_free(r);
}

static void test_errors(const rpr_model *m)
{
    rpr_error err;
    rpr_geoms *g = NULL;
    rpr_model *out = NULL;
    rpr_train_options opt;
    if (rpr_geoms_new(NATOMS, 40, rpr_geoms_numbers(all), rpr_geoms_xyz(all),
                      NULL, &g, &err) != RPR_OK)
        die("rpr_geoms_new", &err);
    static const struct {
        const char *spec, *permute;
        double band;
        const char *part;
    } bad[] = {
        {"5-6;7-8", NULL, 2.0, "exactly one permutation"},
        {"5-6,7-8;5-6", NULL, 2.0, "exactly one permutation"},
        {"3-5", NULL, 2.0, "different elements"},
        {"5-9", NULL, 2.0, "out of 1..8"},
        {"5-6,6-7", NULL, 2.0, "twice"},
        {"5-6+7-8", NULL, 2.0, "unexpected '+'"},
        {"x", NULL, 2.0, "expected a swap"},
        {"5-6", "7-8", 2.0, "cannot be combined"},
        {"5-6", NULL, 0.0, "band"},
        {"5-6", NULL, -1.0, "band"},
        {"5-6", NULL, NAN, "band"},
        {"5-6", NULL, INFINITY, "band"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        rpr_train_options_default(&opt);
        opt.property = RPR_PROPERTY_DIPOLE;
        opt.sigma = 1.0;
        opt.lambda = 1e-6;
        opt.relabel = bad[k].spec;
        opt.permute = bad[k].permute;
        opt.relabel_band = bad[k].band;
        memset(&err, 0, sizeof err);
        CHECK_STATUS(rpr_train(&opt, g, mu, NULL, NULL, &out, &err),
                     RPR_EINVAL);
        CHECK(out == NULL);
        if (strstr(err.message, bad[k].part) == NULL) {
            fprintf(stderr, "FAIL: '%s': message '%s' lacks '%s'\n",
                    bad[k].spec, err.message, bad[k].part);
            test_failures++;
        }
    }
    /* Energy with gradients: refused, pointing to permute. */
    {
        double e[40], grad[40 * N3];
        for (size_t i = 0; i < 40; i++)
            e[i] = -1000.0 + 0.01 * (double) i;
        memset(grad, 0, sizeof grad);
        rpr_train_options_default(&opt);
        opt.property = RPR_PROPERTY_ENERGY;
        opt.sigma = 1.0;
        opt.lambda = 1e-6;
        opt.relabel = SPEC;
        CHECK_STATUS(rpr_train(&opt, g, e, grad, NULL, &out, &err), RPR_EINVAL);
        CHECK(strstr(err.message, "permute") != NULL);
        /* Without gradients it trains, is P-invariant, and refuses a
         * gradient at prediction. */
        CHECK_OK(rpr_train(&opt, g, e, NULL, NULL, &out, &err), &err);
        if (out != NULL) {
            rpr_workspace *ws = rpr_workspace_new(out);
            double x[N3], px[N3], v0, v1, gr[N3];
            memcpy(x, set[0], sizeof x);
            relabel(x, px);
            CHECK_OK(
                rpr_predict(out, ws, NATOMS, NULL, x, &v0, NULL, NULL, &err),
                &err);
            CHECK_OK(
                rpr_predict(out, ws, NATOMS, NULL, px, &v1, NULL, NULL, &err),
                &err);
            CHECK(v0 == v1);
            CHECK_STATUS(
                rpr_predict(out, ws, NATOMS, NULL, x, &v0, gr, NULL, &err),
                RPR_EINVAL);
            CHECK(strstr(err.message, "gradient") != NULL);
            rpr_workspace_free(ws);
        }
        rpr_model_free(out);
        out = NULL;
    }
    /* Prediction errors: a workspace of another model, NaN, atoms. */
    {
        rpr_model *plain = NULL;
        rpr_train_options_default(&opt);
        opt.property = RPR_PROPERTY_DIPOLE;
        opt.sigma = 1.0;
        opt.lambda = 1e-6;
        CHECK_OK(rpr_train(&opt, g, mu, NULL, NULL, &plain, &err), &err);
        CHECK(strcmp(rpr_model_relabel(plain, NULL, NULL), "") == 0);
        rpr_workspace *wp = rpr_workspace_new(plain);
        rpr_workspace *wm = rpr_workspace_new(m);
        double x[N3], v[3];
        rpr_frame_health h;
        memcpy(x, set[0], sizeof x);
        CHECK_STATUS(rpr_predict(m, wp, NATOMS, NULL, x, v, NULL, NULL, &err),
                     RPR_EINVAL);
        CHECK_STATUS(
            rpr_predict(m, wm, NATOMS - 1, NULL, x, v, NULL, NULL, &err),
            RPR_EINVAL);
        int z[NATOMS];
        memcpy(z, rpr_model_numbers(m), sizeof z);
        z[4] = 8;
        CHECK_STATUS(rpr_predict(m, wm, NATOMS, z, x, v, NULL, NULL, &err),
                     RPR_EINVAL);
        x[5] = NAN;
        CHECK_STATUS(rpr_predict(m, wm, NATOMS, NULL, x, v, NULL, NULL, &err),
                     RPR_ENONFINITE);
        memcpy(x, set[0], sizeof x);
        memcpy(x + 3, x, 3 * sizeof *x); /* coincident atoms 1 and 2 */
        CHECK(rpr_predict(m, wm, NATOMS, NULL, x, v, NULL, NULL, &err) !=
              RPR_OK);
        /* A model without relabelling reports weight 1, saves format 2. */
        memcpy(x, set[0], sizeof x);
        CHECK_OK(rpr_predict(plain, wp, NATOMS, NULL, x, v, NULL, &h, &err),
                 &err);
        CHECK(h.relabel_weight == 1.0);
        CHECK_OK(rpr_model_save(plain, tmp_path("plain.xml"), &err), &err);
        char *text = read_text(tmp_path("plain.xml"));
        CHECK(strstr(text, "format=\"2\"") != NULL &&
              strstr(text, "<relabel") == NULL);
        free(text);
        rpr_workspace_free(wp);
        rpr_workspace_free(wm);
        rpr_model_free(plain);
    }
    rpr_geoms_free(g);
}

/* The model trained with relabel is the plain model plus the blend: f
 * bit for bit that of the model trained without. */
static void test_same_f(const rpr_model *m)
{
    rpr_model *plain = train(RPR_PROPERTY_DIPOLE, mu, NULL, 0.0);
    rpr_workspace *wa = rpr_workspace_new(m), *wb = rpr_workspace_new(plain);
    int same = 1;
    for (size_t i = 0; i < nset; i++) {
        double va[3], vb[3];
        f_of(m, wa, set[i], va);
        g_of(plain, wb, set[i], vb, NULL);
        same = same && memcmp(va, vb, sizeof va) == 0;
    }
    CHECK(same);
    rpr_workspace_free(wa);
    rpr_workspace_free(wb);
    rpr_model_free(plain);
}

int main(void)
{
    rpr_error err;
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", NULL);
    if (rpr_geoms_read_xyz("dce/geoms.xyz", &all, &err) != RPR_OK)
        die("dce/geoms.xyz (make check unpacks it)", &err);
    const size_t n = rpr_geoms_nframes(all);
    if (rpr_geoms_natoms(all) != NATOMS || n < NTRAIN + NTEST)
        die("dce/geoms.xyz: not the DCE set", NULL);
    if (rpr_table_read("dce/dipoles.dat", n, 3, &mu, &err) != RPR_OK ||
        rpr_table_read("dce/polarizabilities.dat", n, 6, &alpha, &err) !=
            RPR_OK)
        die("DCE labels", &err);
    make_set();
    mdip = train(RPR_PROPERTY_DIPOLE, mu, SPEC, 0.0);
    mpol = train(RPR_PROPERTY_POLARIZABILITY, alpha, SPEC, 0.0);
    test_same_f(mdip);
    test_invariance_and_weight(mdip);
    test_invariance_and_weight(mpol);
    test_covariance(mdip);
    test_covariance(mpol);
    test_heldout(mdip, mu);
    test_heldout(mpol, alpha);
    {
        rpr_model *hard = train(RPR_PROPERTY_DIPOLE, mu, SPEC, 1e-9);
        test_smoothness(mdip, hard);
        rpr_model_free(hard);
    }
    test_files(mdip);
    test_errors(mdip);
    rpr_model_free(mdip);
    rpr_model_free(mpol);
    rpr_free(mu);
    rpr_free(alpha);
    rpr_geoms_free(all);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_relabel: could not remove %s\n", dir);
    return test_exit("test_relabel");
}
