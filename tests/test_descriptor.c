/*
 * test_descriptor.c - the descriptor registry: table contents, analytic
 * Jacobians of every row against central differences, invariance of RE,
 * ID and CM under rotations, reflections and translations, hand-computed
 * values, pair order, error paths.  Coordinates in angstrom.
 */
#include <config.h>

#include <ctype.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "descriptor.h"
#include "testutil.h"

#define NAT    8
#define MAXLEN (NAT * NAT + 3 * NAT)
static const double eps = DBL_EPSILON;
static const double pi = 3.14159265358979323846;

/* Anti 1,2-dichloroethane (idealised: C-C 1.53, C-Cl 1.79, C-H 1.09
 * angstrom, tetrahedral angles), atom order C1 C2 Cl1 Cl2 H1 H2 H3 H4 as in
 * trajectories/dce-hf-adz. */
static void dce_build(double tau_deg, double *xyz)
{
    const double ct = 1.0 / 3.0, st = 2.0 * sqrt(2.0) / 3.0;
    const double tau = tau_deg * pi / 180.0;
    const double psi[6] = {0.0,
                           tau,
                           2.0 * pi / 3.0,
                           4.0 * pi / 3.0,
                           tau + 2.0 * pi / 3.0,
                           tau + 4.0 * pi / 3.0};
    const int on_c2[6] = {0, 1, 0, 0, 1, 1};
    const double len[6] = {1.79, 1.79, 1.09, 1.09, 1.09, 1.09};
    memset(xyz, 0, 3 * NAT * sizeof *xyz);
    xyz[3] = 1.53;
    for (int k = 0; k < 6; k++) {
        double *r = xyz + 3 * (k + 2);
        r[0] = on_c2[k] ? 1.53 + len[k] * ct : -len[k] * ct;
        r[1] = len[k] * st * cos(psi[k]);
        r[2] = len[k] * st * sin(psi[k]);
    }
}

static const int dce_numbers[NAT] = {6, 6, 17, 17, 1, 1, 1, 1};
static const size_t dce_sel[2] = {2, 3};            /* Cl1, Cl2 */
static const size_t dce_dihedral[4] = {2, 0, 1, 3}; /* Cl1 C1 C2 Cl2 */

static double max_abs(size_t n, const double *x)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

/* ------------------------------------------------------------ registry */

static int name_eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char) *a) != tolower((unsigned char) *b))
            return 0;
    return *a == *b;
}

static void check_registry(void)
{
    static const char *const want[7] = {"RE",    "ID",      "CM",  "RExyz",
                                        "REsph", "REdihed", "xyzQ"};
    const size_t n = descriptor_count();
    CHECK(n >= 7);
    CHECK(descriptor_get(n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const descriptor_info *d = descriptor_get(i);
        CHECK(d != NULL);
        if (d == NULL)
            continue;
        CHECK(d->name != NULL && d->name[0] != '\0');
        CHECK(d->formula != NULL && d->formula[0] != '\0');
        CHECK(d->unit != NULL && d->unit[0] != '\0');
        CHECK(d->reference != NULL && strlen(d->reference) > 10);
        CHECK(d->length != NULL && d->eval != NULL);
        /* descriptor_find is case-insensitive, so names must be unique
         * even ignoring case. */
        for (size_t j = 0; j < i; j++)
            CHECK(!name_eq_nocase(d->name, descriptor_get(j)->name));
        CHECK(descriptor_find(d->name) == d);
        const char *name, *formula, *unit, *ref;
        CHECK(rpr_descriptor_entry(i, &name, &formula, &unit, &ref) == 1);
        CHECK(name == d->name && formula == d->formula && unit == d->unit &&
              ref == d->reference);
        CHECK(rpr_descriptor_entry(i, NULL, NULL, NULL, NULL) == 1);
    }
    CHECK(rpr_descriptor_entry(n, NULL, NULL, NULL, NULL) == 0);
    for (int k = 0; k < 7; k++)
        CHECK(descriptor_find(want[k]) != NULL);
    CHECK(descriptor_find("re") == descriptor_find("RE"));
    CHECK(descriptor_find("XYZQ") == descriptor_find("xyzQ"));
    CHECK(descriptor_find("REx") == NULL);
    CHECK(descriptor_find("") == NULL);
    CHECK(descriptor_find(NULL) == NULL);
    /* The invariant rows read no frame; the augmented ones do. */
    CHECK(!descriptor_find("RE")->uses_frame);
    CHECK(!descriptor_find("ID")->uses_frame);
    CHECK(!descriptor_find("CM")->uses_frame);
    CHECK(descriptor_find("RExyz")->uses_frame &&
          descriptor_find("RExyz")->needs_sel);
    CHECK(descriptor_find("REsph")->uses_frame &&
          descriptor_find("REsph")->needs_sel);
    CHECK(descriptor_find("REdihed")->needs_dihedral &&
          !descriptor_find("REdihed")->needs_sel);
    CHECK(descriptor_find("xyzQ")->uses_frame);
    CHECK(strstr(descriptor_find("RE")->reference, "244108") != NULL);
    CHECK(strstr(descriptor_find("CM")->reference, "058301") != NULL);
    CHECK(strstr(descriptor_find("RExyz")->reference, "174104") != NULL);
}

/* ------------------------------------------------------------ Jacobians */

/*
 * Every row's Jacobian against central differences at h = cbrt(eps)
 * angstrom and h/2.  The gap between the two differences is three times
 * the truncation error of the h/2 one; rounding adds e_round / (h/2) with
 * e_round bounding one evaluation's error: at most 64 roundings (the
 * longest chain, the dihedral, has fewer) of either the value itself or
 * of the coordinates it is computed from (eps L per coordinate, L the
 * largest coordinate, propagated by the row's Jacobian): 64 eps (|x_d| +
 * L ||J_d||_1).  The Jacobian buffer is poisoned with NaN first, so an
 * entry the row forgets to write fails.
 */
static void check_jacobians(const descriptor_params *p, const double *xyz)
{
    const size_t n = p->natoms, ncol = 3 * n;
    const double h = cbrt(eps);
    static double jac[MAXLEN * 3 * NAT];
    double x[MAXLEN], x2[MAXLEN], xp[MAXLEN], xm[MAXLEN], xp2[MAXLEN],
        xm2[MAXLEN], pert[3 * NAT];
    rpr_error err;
    const double L = max_abs(3 * n, xyz);
    for (size_t k = 0; k < descriptor_count(); k++) {
        const descriptor_info *d = descriptor_get(k);
        const size_t len = d->length(p);
        CHECK(len <= MAXLEN);
        for (size_t i = 0; i < len * ncol; i++)
            jac[i] = NAN;
        feclearexcept(FE_ALL_EXCEPT);
        CHECK_OK(d->eval(p, xyz, x, jac, &err), &err);
        CHECK_OK(d->eval(p, xyz, x2, NULL, &err), &err);
        CHECK(memcmp(x, x2, len * sizeof *x) == 0);
        size_t bad = 0;
        double worst = 0.0;
        for (size_t c = 0; c < ncol; c++) {
            memcpy(pert, xyz, ncol * sizeof *pert);
            pert[c] = xyz[c] + h;
            d->eval(p, pert, xp, NULL, &err);
            pert[c] = xyz[c] - h;
            d->eval(p, pert, xm, NULL, &err);
            pert[c] = xyz[c] + h / 2;
            d->eval(p, pert, xp2, NULL, &err);
            pert[c] = xyz[c] - h / 2;
            d->eval(p, pert, xm2, NULL, &err);
            for (size_t r = 0; r < len; r++) {
                double j1 = 0.0;
                for (size_t cc = 0; cc < ncol; cc++)
                    j1 += fabs(jac[r * ncol + cc]);
                const double e_round = 64.0 * eps * (fabs(x[r]) + L * j1);
                const double dh = (xp[r] - xm[r]) / (2.0 * h);
                const double dh2 = (xp2[r] - xm2[r]) / h;
                const double tol = fabs(dh - dh2) + e_round / (h / 2);
                const double e = fabs(jac[r * ncol + c] - dh2);
                if (!(e <= tol)) {
                    if (bad < 3)
                        fprintf(stderr,
                                "%s: d x[%zu] / d xyz[%zu] = %.12g, central "
                                "difference %.12g (tol %.3g)\n",
                                d->name, r, c, jac[r * ncol + c], dh2, tol);
                    bad++;
                }
                worst = fmax(worst, e);
            }
        }
        CHECK(bad == 0);
        CHECK(!fetestexcept(FE_INVALID | FE_OVERFLOW | FE_DIVBYZERO));
        printf("%-8s length %3zu: worst |J - FD| %.2g\n", d->name, len, worst);
    }
}

/* ------------------------------------------------------------ invariance */

/*
 * RE, ID and CM of RX + t equal those of X for R in O(3).  Rounding: a
 * rotated, shifted coordinate is off by 4 eps (L + |t|), a difference of
 * two by twice that, so r_ab by sqrt(3) 8 eps (L + |t|) < 14 eps (L + |t|)
 * plus 3 eps r from the squares and the root; x = num / r inherits that
 * relative error plus one rounding, and both evaluations contribute.
 */
static void check_invariance(const descriptor_params *p, const double *xyz,
                             test_rng *rng)
{
    const size_t n = p->natoms;
    static const char *const rows[3] = {"RE", "ID", "CM"};
    rpr_error err;
    for (int trial = 0; trial < 100; trial++) {
        double R[9], t[3], X[3 * NAT];
        test_random_orthogonal(rng, trial % 2, R);
        for (int i = 0; i < 3; i++)
            t[i] = 3.0 * test_rng_normal(rng);
        test_transform(n, R, t, xyz, X);
        const double L = max_abs(3 * n, xyz);
        const double tn = sqrt(t[0] * t[0] + t[1] * t[1] + t[2] * t[2]);
        for (int k = 0; k < 3; k++) {
            const descriptor_info *d = descriptor_find(rows[k]);
            double x0[MAXLEN], x1[MAXLEN];
            CHECK_OK(d->eval(p, xyz, x0, NULL, &err), &err);
            CHECK_OK(d->eval(p, X, x1, NULL, &err), &err);
            size_t bad = 0;
            for (size_t a = 0, pair = 0; a < n; a++)
                for (size_t b = a + 1; b < n; b++, pair++) {
                    const double dx = xyz[3 * a] - xyz[3 * b],
                                 dy = xyz[3 * a + 1] - xyz[3 * b + 1],
                                 dz = xyz[3 * a + 2] - xyz[3 * b + 2];
                    const double r = sqrt(dx * dx + dy * dy + dz * dz);
                    const double rel =
                        2.0 * (14.0 * eps * (L + tn) / r + 4.0 * eps);
                    const size_t i = k < 2 ? pair : a * n + b;
                    const size_t j = k < 2 ? pair : b * n + a;
                    if (!(fabs(x1[i] - x0[i]) <= fabs(x0[i]) * rel) ||
                        !(fabs(x1[j] - x0[j]) <= fabs(x0[j]) * rel))
                        bad++;
                }
            if (k == 2) /* the CM diagonal does not see coordinates */
                for (size_t a = 0; a < n; a++)
                    if (x1[a * n + a] != x0[a * n + a])
                        bad++;
            if (bad > 0)
                fprintf(stderr, "%s not invariant in trial %d\n", rows[k],
                        trial);
            CHECK(bad == 0);
        }
        /* REdihed: cos phi invariant, sin phi odd under reflections.
         * Each evaluation is within the e_round of check_jacobians, with
         * L + |t| as the coordinate scale of the moved copy. */
        const descriptor_info *d = descriptor_find("REdihed");
        static double jac[MAXLEN * 3 * NAT];
        double x0[MAXLEN], x1[MAXLEN];
        CHECK_OK(d->eval(p, xyz, x0, jac, &err), &err);
        CHECK_OK(d->eval(p, X, x1, NULL, &err), &err);
        const size_t D = n * (n - 1) / 2;
        for (size_t r = D; r < D + 2; r++) {
            double j1 = 0.0;
            for (size_t c = 0; c < 3 * n; c++)
                j1 += fabs(jac[r * 3 * n + c]);
            const double tol = 2.0 * 64.0 * eps * (fabs(x0[r]) + (L + tn) * j1);
            const double want = r == D + 1 && trial % 2 ? -x0[r] : x0[r];
            CHECK_CLOSE(x1[r], want, 0.0, tol);
        }
    }
}

/* ------------------------------------------------------------ values */

/* A 3-4-5 triangle: O (Z 8) at the origin, H (1) at 3 x, C (6) at 4 y;
 * equilibrium O at 0, H at 1 x, C at 2 y.  Every value is a correctly
 * rounded literal (decimal arithmetic to 40 digits) or a short exact
 * expression, so the tolerances are a few roundings of the value. */
static void check_values(void)
{
    const double xyz[9] = {0, 0, 0, 3, 0, 0, 0, 4, 0};
    const double eq[9] = {0, 0, 0, 1, 0, 0, 0, 2, 0};
    const int z[3] = {8, 1, 6};
    const size_t sel[2] = {2, 1};
    descriptor_params p = {3, z, eq, 2, sel, {0, 0, 0, 0}};
    double x[16];
    rpr_error err;

    CHECK(descriptor_find("RE")->length(&p) == 3);
    CHECK_OK(descriptor_find("RE")->eval(&p, xyz, x, NULL, &err), &err);
    CHECK_CLOSE(x[0], 1.0 / 3.0, 4.0 * eps, 0.0); /* pair (0,1): 1/3 */
    CHECK_CLOSE(x[1], 0.5, 4.0 * eps, 0.0);       /* (0,2): 2/4 */
    CHECK_CLOSE(x[2], 0.4472135954999579392818347, 4.0 * eps, 0.0); /* v5/5 */

    CHECK_OK(descriptor_find("ID")->eval(&p, xyz, x, NULL, &err), &err);
    CHECK_CLOSE(x[0], 1.0 / 3.0, 4.0 * eps, 0.0);
    CHECK_CLOSE(x[1], 0.25, 4.0 * eps, 0.0);
    CHECK_CLOSE(x[2], 0.2, 4.0 * eps, 0.0);

    /* CM: 0.5 Z^2.4 on the diagonal, Z_a Z_b 0.52917721092 / r_A off it. */
    CHECK(descriptor_find("CM")->length(&p) == 9);
    CHECK_OK(descriptor_find("CM")->eval(&p, xyz, x, NULL, &err), &err);
    const double cm[9] = {73.51669471981024043511,
                          1.41113922912,
                          6.35012653104,
                          1.41113922912,
                          0.5,
                          0.635012653104,
                          6.35012653104,
                          0.635012653104,
                          36.85810519942594733183};
    for (int i = 0; i < 9; i++)
        CHECK_CLOSE(x[i], cm[i], 4.0 * eps, 0.0);

    /* RExyz: RE, then x y z of atoms 3 and 2 in that order. */
    CHECK(descriptor_find("RExyz")->length(&p) == 9);
    CHECK_OK(descriptor_find("RExyz")->eval(&p, xyz, x, NULL, &err), &err);
    const double rexyz[6] = {0, 4, 0, 3, 0, 0};
    for (int i = 0; i < 6; i++)
        CHECK(x[3 + i] == rexyz[i]);

    /* REsph: C at (0,4,0): r 4, theta pi/2, phi pi/2; H at (3,0,0): r 3,
     * theta pi/2, phi 0. */
    CHECK_OK(descriptor_find("REsph")->eval(&p, xyz, x, NULL, &err), &err);
    const double sph[6] = {4, pi / 2, pi / 2, 3, pi / 2, 0};
    for (int i = 0; i < 6; i++)
        CHECK_CLOSE(x[3 + i], sph[i], 2.0 * eps, 0.0);
    /* theta from +z, phi = atan2(y, x) in (-pi, pi]: the seam. */
    const double xyz2[9] = {0, 0, 0, -1, 1e-9, -1, -1, -1e-9, 1};
    const size_t sel2[2] = {1, 2};
    descriptor_params p2 = {3, z, eq, 2, sel2, {0, 0, 0, 0}};
    CHECK_OK(descriptor_find("REsph")->eval(&p2, xyz2, x, NULL, &err), &err);
    /* rho = sqrt(1 + 1e-18) rounds to 1, so theta is atan2(1, -+1)
     * exactly; phi = +-(pi - 1e-9) up to O(1e-27). */
    CHECK_CLOSE(x[3], sqrt(2.0), 2.0 * eps, 0.0);
    CHECK_CLOSE(x[4], 0.75 * pi, 2.0 * eps, 0.0);
    CHECK_CLOSE(x[5], pi - 1e-9, 2.0 * eps, 0.0);
    CHECK_CLOSE(x[7], 0.25 * pi, 2.0 * eps, 0.0);
    CHECK_CLOSE(x[8], -(pi - 1e-9), 2.0 * eps, 0.0);

    /* xyzQ: Z times the coordinates. */
    CHECK(descriptor_find("xyzQ")->length(&p) == 9);
    CHECK_OK(descriptor_find("xyzQ")->eval(&p, xyz, x, NULL, &err), &err);
    const double q[9] = {0, 0, 0, 3, 0, 0, 0, 24, 0};
    for (int i = 0; i < 9; i++)
        CHECK(x[i] == q[i]);

    /* REdihed: b at 0, c at x, a at y, d at (1, cos phi, sin phi): the
     * dihedral a-b-c-d is phi (positive clockwise seen from b to c,
     * IUPAC). */
    const int z4[4] = {6, 6, 17, 17};
    const double eq4[12] = {0, 0, 0, 1.5, 0, 0, -0.5, 1.7, 0, 2, 1.7, 0.1};
    static const double phis[5] = {60.0, 180.0, -60.0, 0.0, 123.4};
    for (int k = 0; k < 5; k++) {
        const double phi = phis[k] * pi / 180.0;
        const double xyz4[12] = {0, 0, 0, 1, 0,        0,
                                 0, 1, 0, 1, cos(phi), sin(phi)};
        descriptor_params p4 = {4, z4, eq4, 0, NULL, {2, 0, 1, 3}};
        CHECK(descriptor_find("REdihed")->length(&p4) == 8);
        CHECK_OK(descriptor_find("REdihed")->eval(&p4, xyz4, x, NULL, &err),
                 &err);
        /* The inputs cos phi, sin phi carry one rounding each; the formula
         * adds a few more of O(1) quantities. */
        CHECK_CLOSE(x[6], cos(phi), 0.0, 16.0 * eps);
        CHECK_CLOSE(x[7], sin(phi), 0.0, 16.0 * eps);
    }
}

/* Pair order (0,1), (0,2), (0,3), (1,2), (1,3), (2,3), and CM row-major
 * and symmetric, on a random 4-atom geometry. */
static void check_pair_order(test_rng *rng)
{
    double xyz[12], x[16], cm[16];
    const int z[4] = {7, 1, 9, 35};
    descriptor_params p = {4, z, NULL, 0, NULL, {0, 0, 0, 0}};
    rpr_error err;
    for (int i = 0; i < 12; i++)
        xyz[i] = 2.0 * test_rng_normal(rng);
    CHECK_OK(descriptor_find("ID")->eval(&p, xyz, x, NULL, &err), &err);
    CHECK_OK(descriptor_find("CM")->eval(&p, xyz, cm, NULL, &err), &err);
    static const size_t pairs[6][2] = {{0, 1}, {0, 2}, {0, 3},
                                       {1, 2}, {1, 3}, {2, 3}};
    for (int d = 0; d < 6; d++) {
        const size_t a = pairs[d][0], b = pairs[d][1];
        double r2 = 0.0;
        for (int t = 0; t < 3; t++)
            r2 += (xyz[3 * a + t] - xyz[3 * b + t]) *
                  (xyz[3 * a + t] - xyz[3 * b + t]);
        /* Same operations up to the sign of the differences: 4 eps. */
        CHECK_CLOSE(x[d], 1.0 / sqrt(r2), 4.0 * eps, 0.0);
        CHECK(cm[a * 4 + b] == cm[b * 4 + a]);
        CHECK_CLOSE(cm[a * 4 + b],
                    z[a] * z[b] * RPR_ANGSTROM_PER_BOHR / sqrt(r2), 6.0 * eps,
                    0.0);
        /* The pair index formula of the header. */
        CHECK(a * (2 * 4 - a - 1) / 2 + (b - a - 1) == (size_t) d);
    }
}

/* ------------------------------------------------------------ errors */

static void check_errors(const descriptor_params *p0, const double *xyz0)
{
    double xyz[3 * NAT], x[MAXLEN];
    static double jac[MAXLEN * 3 * NAT];
    rpr_error err;

    /* Coincident atoms 1 and 6 (1-based): every distance-based row. */
    for (size_t k = 0; k < descriptor_count(); k++) {
        const descriptor_info *d = descriptor_get(k);
        memcpy(xyz, xyz0, sizeof xyz);
        memcpy(xyz + 15, xyz, 3 * sizeof *xyz);
        const rpr_status st = d->eval(p0, xyz, x, jac, &err);
        if (strcmp(d->name, "xyzQ") == 0) {
            CHECK(st == RPR_OK); /* no distances */
            continue;
        }
        CHECK_STATUS(st, RPR_EINVAL);
        if (st == RPR_EINVAL && strstr(err.message, "atoms 1 and 6") == NULL)
            fprintf(stderr, "%s: message \"%s\"\n", d->name, err.message);
        CHECK(strstr(err.message, "atoms 1 and 6") != NULL);
        CHECK(strstr(err.message, d->name) != NULL);
        /* NaN: ENONFINITE naming the atom. */
        memcpy(xyz, xyz0, sizeof xyz);
        xyz[13] = NAN;
        CHECK_STATUS(d->eval(p0, xyz, x, NULL, &err), RPR_ENONFINITE);
        CHECK(strstr(err.message, "atom 5") != NULL);
    }
    const descriptor_info *re = descriptor_find("RE"),
                          *cm = descriptor_find("CM"),
                          *rexyz = descriptor_find("RExyz"),
                          *resph = descriptor_find("REsph"),
                          *dih = descriptor_find("REdihed");
    descriptor_params p = *p0;
    double eq[3 * NAT];
    memcpy(eq, p0->xyz_eq, sizeof eq);
    eq[6] = eq[3];
    eq[7] = eq[4];
    eq[8] = eq[5];
    p.xyz_eq = eq;
    CHECK_STATUS(re->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "atoms 2 and 3") != NULL &&
          strstr(err.message, "equilibrium") != NULL);
    eq[0] = INFINITY;
    CHECK_STATUS(re->eval(&p, xyz0, x, NULL, &err), RPR_ENONFINITE);
    p.xyz_eq = NULL;
    CHECK_STATUS(re->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    p = *p0;
    p.natoms = 1;
    CHECK_STATUS(re->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    p.natoms = 0;
    CHECK_STATUS(cm->eval(&p, xyz0, x, NULL, NULL), RPR_EINVAL);
    p = *p0;
    p.numbers = NULL;
    CHECK_STATUS(cm->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    CHECK_STATUS(descriptor_find("xyzQ")->eval(&p, xyz0, x, NULL, &err),
                 RPR_EINVAL);
    int zbad[NAT];
    memcpy(zbad, dce_numbers, sizeof zbad);
    zbad[7] = 0;
    p.numbers = zbad;
    CHECK_STATUS(cm->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "atom 8") != NULL);

    /* Selections. */
    p = *p0;
    p.nsel = 0;
    CHECK_STATUS(rexyz->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    p.nsel = 2;
    p.sel = NULL;
    CHECK_STATUS(resph->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    const size_t far[2] = {2, 8}, twice[2] = {3, 3};
    p.sel = far;
    CHECK_STATUS(rexyz->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "atom 9") != NULL);
    p.sel = twice;
    CHECK_STATUS(rexyz->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "atom 4 selected twice") != NULL);
    /* REsph: a selected atom on the frame z axis (phi undefined). */
    p = *p0;
    memcpy(xyz, xyz0, sizeof xyz);
    xyz[6] = xyz[7] = 0.0; /* atom 3 (Cl1) onto the z axis */
    CHECK_STATUS(resph->eval(&p, xyz, x, jac, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "atom 3") != NULL);
    CHECK(rexyz->eval(&p, xyz, x, jac, &err) == RPR_OK);

    /* Dihedral: out of range, repeated, collinear. */
    p = *p0;
    p.dihedral[3] = 8;
    CHECK_STATUS(dih->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    p.dihedral[3] = 2;
    CHECK_STATUS(dih->eval(&p, xyz0, x, NULL, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "twice") != NULL);
    p = *p0;
    memcpy(xyz, xyz0, sizeof xyz);
    /* C1, C2, Cl2 exactly on the x axis. */
    const double line[9] = {0, 0, 0, 1.5, 0, 0, 0, 0, 0};
    memcpy(xyz, line, 6 * sizeof *xyz);
    xyz[9] = 3.0;
    xyz[10] = xyz[11] = 0.0;
    CHECK_STATUS(dih->eval(&p, xyz, x, jac, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "collinear") != NULL);
    CHECK(strstr(err.message, "1, 2, 4") != NULL);
}

int main(void)
{
    const uint64_t seed = 20261128;
    test_rng rng = {seed};
    double eq[3 * NAT], xyz0[3 * NAT], xyz[3 * NAT], R[9];

    check_registry();
    check_values();
    check_pair_order(&rng);

    /* A distorted gauche-like DCE in a random orientation (the augmented
     * rows read frame coordinates, here arbitrary ones), anti as the
     * equilibrium geometry. */
    dce_build(180.0, eq);
    dce_build(75.0, xyz0);
    for (int i = 0; i < 3 * NAT; i++)
        xyz0[i] += 0.05 * test_rng_normal(&rng);
    test_random_orthogonal(&rng, 0, R);
    const double shift[3] = {0.31, -0.22, 0.17};
    test_transform(NAT, R, shift, xyz0, xyz);
    const descriptor_params p = {
        NAT,
        dce_numbers,
        eq,
        2,
        dce_sel,
        {dce_dihedral[0], dce_dihedral[1], dce_dihedral[2], dce_dihedral[3]}};
    check_jacobians(&p, xyz);
    check_invariance(&p, xyz, &rng);
    check_errors(&p, xyz);
    if (test_failures > 0)
        fprintf(stderr, "seed %llu\n", (unsigned long long) seed);
    return test_exit("test_descriptor");
}
