/*
 * test_frame.c - principal-axes and Kabsch frames (reference notes
 * frames.md): rotation and mirror covariance (T1, T2), the DCE torsion
 * scan of section 2 (T5), symmetric tops, planar and linear molecules,
 * sign fallbacks, Kabsch recovery and margin, smoothstep, transforms,
 * error paths.
 *
 * Geometries are in angstrom and masses in amu, so moments come out in
 * amu angstrom^2 as in the tables of frames.md.
 */
#include <config.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "frame.h"
#include "testutil.h"

#define MAXAT 16
static const double pi = 3.14159265358979323846;
static const double eps = DBL_EPSILON;

/* Standard atomic weights used by frames.md section 2. */
static const double mass_h = 1.008, mass_c = 12.011, mass_cl = 35.453;

typedef struct molecule {
    const char *name;
    size_t n;
    double xyz[3 * MAXAT];
    double w[MAXAT];
} molecule;

/* ------------------------------------------------------------ matrices */

static void mat_mul(const double A[9], const double B[9], double C[9])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            C[3 * i + j] = A[3 * i] * B[j] + A[3 * i + 1] * B[3 + j] +
                           A[3 * i + 2] * B[6 + j];
}

static void mat_transpose(const double A[9], double T[9])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            T[3 * j + i] = A[3 * i + j];
}

static double mat_det(const double M[9])
{
    return M[0] * (M[4] * M[8] - M[5] * M[7]) -
           M[1] * (M[3] * M[8] - M[5] * M[6]) +
           M[2] * (M[3] * M[7] - M[4] * M[6]);
}

static double max_abs_diff(size_t n, const double *a, const double *b)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= m))
            m = fabs(a[i] - b[i]); /* NaN propagates as a failure */
    return m;
}

/* Weighted centre, total weight, largest distance from the centre. */
static double mol_rmax(const molecule *m, double *W)
{
    double c[3] = {0, 0, 0}, w = 0.0, r = 0.0;
    for (size_t a = 0; a < m->n; a++) {
        w += m->w[a];
        for (int i = 0; i < 3; i++)
            c[i] += m->w[a] * m->xyz[3 * a + i];
    }
    for (size_t a = 0; a < m->n; a++) {
        double d = 0.0;
        for (int i = 0; i < 3; i++) {
            const double t = m->xyz[3 * a + i] - c[i] / w;
            d += t * t;
        }
        if (sqrt(d) > r)
            r = sqrt(d);
    }
    *W = w;
    return r;
}

/*
 * Rounding bound on the computed inertia tensor of X (or of RX + t with
 * |t| <= shift), as a multiple of eps:
 *  - rotating and shifting a coordinate costs up to 4 roundings of
 *    |x| + |t|, the weighted centre n + 2 more; d = r - centre is thus off
 *    by (n + 6) eps (rmax + shift), and I = sum w d d^T by twice that
 *    times W rmax;
 *  - summing n terms: (n + 2) eps sum w |d|^2 = (n + 2) eps tr(I) / 2;
 *  - the Jacobi solver is backward stable: a few rotations per element,
 *    each a few roundings of ||I||; 10 eps ||I|| covers it.
 */
static double inertia_error(const molecule *m, double shift,
                            const rpr_frame_health *h)
{
    double W;
    const double rmax = mol_rmax(m, &W), n = (double) m->n;
    const double tr = h->moments[0] + h->moments[1] + h->moments[2];
    const double nrm =
        sqrt(h->moments[0] * h->moments[0] + h->moments[1] * h->moments[1] +
             h->moments[2] * h->moments[2]);
    return eps * (2.0 * (n + 6.0) * W * rmax * (rmax + shift) +
                  (n + 2.0) * tr / 2.0 + 10.0 * nrm);
}

/* ------------------------------------------------------------ geometries */

/*
 * 1,2-dichloroethane from internal coordinates (frames.md section 2):
 * C-C 1.53, C-Cl 1.79, C-H 1.09 angstrom, all angles tetrahedral, torsion
 * Cl-C-C-Cl = tau.  Atom order of trajectories/dce-hf-adz: C1 C2 Cl1 Cl2
 * H1 H2 (on C1) H3 H4 (on C2).  C1 at the origin, C2 on +x; substituents
 * of C1 at azimuth psi = 0 (Cl), 120, 240 degrees about x, those of C2 at
 * tau, tau + 120, tau + 240, so the dihedral is tau.
 */
static void dce_build(double tau_deg, molecule *m)
{
    const double cc = 1.53, ccl = 1.79, ch = 1.09;
    const double ct = 1.0 / 3.0, st = 2.0 * sqrt(2.0) / 3.0; /* 109.47 */
    const double tau = tau_deg * pi / 180.0;
    const double psi[6] = {0.0,
                           tau,
                           2.0 * pi / 3.0,
                           4.0 * pi / 3.0,
                           tau + 2.0 * pi / 3.0,
                           tau + 4.0 * pi / 3.0};
    const int on_c2[6] = {0, 1, 0, 0, 1, 1};
    const double len[6] = {ccl, ccl, ch, ch, ch, ch};
    const double mass[6] = {mass_cl, mass_cl, mass_h, mass_h, mass_h, mass_h};
    m->name = "DCE";
    m->n = 8;
    memset(m->xyz, 0, sizeof m->xyz);
    m->xyz[3] = cc;
    m->w[0] = m->w[1] = mass_c;
    for (int k = 0; k < 6; k++) {
        double *r = m->xyz + 3 * (k + 2);
        r[0] = on_c2[k] ? cc + len[k] * ct : -len[k] * ct;
        r[1] = len[k] * st * cos(psi[k]);
        r[2] = len[k] * st * sin(psi[k]);
        m->w[k + 2] = mass[k];
    }
}

/* Thermal-like distortion: every coordinate moved by N(0, sd) angstrom. */
static void distort(molecule *m, double sd, test_rng *rng)
{
    for (size_t i = 0; i < 3 * m->n; i++)
        m->xyz[i] += sd * test_rng_normal(rng);
}

/* An asymmetric molecule: 8 atoms at random, random masses 1..40 amu. */
static void random_molecule(test_rng *rng, molecule *m)
{
    m->name = "random8";
    m->n = 8;
    for (size_t a = 0; a < 8; a++) {
        for (int i = 0; i < 3; i++)
            m->xyz[3 * a + i] = 1.5 * test_rng_normal(rng);
        m->w[a] = 1.0 + 39.0 * test_rng_uniform(rng);
    }
}

/* NH3: N-H 1.012 angstrom, H-N-H 106.7 degrees (C3v, oblate top). */
static void nh3_build(molecule *m)
{
    const double r = 1.012, hnh = 106.7 * pi / 180.0;
    /* Angle beta of each N-H bond to the C3 axis: cos hnh = 1 - 1.5
     * sin^2 beta for three bonds 120 degrees apart. */
    const double sb = sqrt((1.0 - cos(hnh)) / 1.5), cb = sqrt(1.0 - sb * sb);
    m->name = "NH3";
    m->n = 4;
    memset(m->xyz, 0, sizeof m->xyz);
    m->w[0] = 14.007;
    for (int k = 0; k < 3; k++) {
        const double phi = 2.0 * pi * k / 3.0;
        m->xyz[3 * (k + 1)] = r * sb * cos(phi);
        m->xyz[3 * (k + 1) + 1] = r * sb * sin(phi);
        m->xyz[3 * (k + 1) + 2] = -r * cb;
        m->w[k + 1] = mass_h;
    }
}

/* CH4: C-H 1.09 angstrom along the cube diagonals (spherical top). */
static void ch4_build(molecule *m)
{
    static const double s[4][3] = {
        {1, 1, 1}, {1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}};
    const double f = 1.09 / sqrt(3.0);
    m->name = "CH4";
    m->n = 5;
    memset(m->xyz, 0, sizeof m->xyz);
    m->w[0] = mass_c;
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 3; i++)
            m->xyz[3 * (k + 1) + i] = f * s[k][i];
        m->w[k + 1] = mass_h;
    }
}

/* Benzene: C-C 1.39, C-H 1.09 angstrom, D6h (planar oblate top). */
static void benzene_build(molecule *m)
{
    m->name = "benzene";
    m->n = 12;
    memset(m->xyz, 0, sizeof m->xyz);
    for (int k = 0; k < 6; k++) {
        const double phi = pi * k / 3.0;
        m->xyz[3 * k] = 1.39 * cos(phi);
        m->xyz[3 * k + 1] = 1.39 * sin(phi);
        m->xyz[3 * (k + 6)] = 2.48 * cos(phi);
        m->xyz[3 * (k + 6) + 1] = 2.48 * sin(phi);
        m->w[k] = mass_c;
        m->w[k + 6] = mass_h;
    }
}

/* H2CO: C=O 1.21, C-H 1.11 angstrom, H-C-H 116.5 degrees, in the xy plane;
 * the carbon is displaced by wag along z (0 for the planar molecule). */
static void h2co_build(double wag, molecule *m)
{
    const double half = 0.5 * 116.5 * pi / 180.0;
    m->name = "H2CO";
    m->n = 4;
    memset(m->xyz, 0, sizeof m->xyz);
    m->xyz[2] = wag;  /* C */
    m->xyz[3] = 1.21; /* O on +x */
    m->w[0] = mass_c;
    m->w[1] = 15.999;
    m->xyz[6] = -1.11 * cos(half);
    m->xyz[7] = 1.11 * sin(half);
    m->xyz[9] = -1.11 * cos(half);
    m->xyz[10] = -1.11 * sin(half);
    m->w[2] = m->w[3] = mass_h;
}

/* HCN on the x axis (linear). */
static void hcn_build(molecule *m)
{
    m->name = "HCN";
    m->n = 3;
    memset(m->xyz, 0, sizeof m->xyz);
    m->xyz[0] = -1.066;
    m->xyz[6] = 1.156;
    m->w[0] = mass_h;
    m->w[1] = mass_c;
    m->w[2] = 14.007;
}

/* ------------------------------------------------------------ T1, T2 */

/*
 * Tolerances of the principal frame of m (health h), for geometries moved
 * by up to `shift`.  Each computed axis is an exact eigenvector of I + dI,
 * so by the Davis-Kahan bound it is off by at most ||dI|| / gap (gap: the
 * absolute distance to the nearest other moment); two frames compared
 * contribute one such error each.  Frame coordinates add that angle times
 * rmax plus the rounding of d = r - centre and of the product Q d
 * (3 eps rmax).
 */
static void frame_tols(const molecule *m, double shift,
                       const rpr_frame_health *h, double *tolQ, double *tolX)
{
    double W;
    const double rmax = mol_rmax(m, &W), n = (double) m->n;
    const double dI = inertia_error(m, shift, h);
    const double gap =
        fmin(h->moments[1] - h->moments[0], h->moments[2] - h->moments[1]);
    *tolQ = 2.0 * dI / gap;
    *tolX =
        *tolQ * rmax + eps * (2.0 * (n + 6.0) * (rmax + shift) + 6.0 * rmax);
}

/*
 * Q(RX + t) = Q(X) R^T and identical frame coordinates for `trials` random
 * R (proper, or improper with reflect), t ~ N(0, 2 angstrom) clipped to 4
 * standard deviations; tolerances from frame_tols.
 */
static void check_covariance(const molecule *m, const rpr_frame_options *opt,
                             int reflect, size_t trials, test_rng *rng)
{
    const size_t n = m->n;
    double Q0[9], o0[3], F0[3 * MAXAT];
    rpr_frame_health h0;
    rpr_error err;
    CHECK_OK(frame_principal(n, m->w, m->xyz, opt, Q0, o0, &h0, &err), &err);
    frame_to_frame(n, Q0, o0, m->xyz, F0);
    const double shift = 4.0 * 2.0 * sqrt(3.0); /* bound on |t| */
    double tolQ, tolX;
    frame_tols(m, shift, &h0, &tolQ, &tolX);
    double worstQ = 0.0, worstX = 0.0;
    size_t bad = 0;
    for (size_t k = 0; k < trials; k++) {
        double R[9], Rt[9], want[9], t[3], X[3 * MAXAT], Q1[9], o1[3];
        double F1[3 * MAXAT];
        rpr_frame_health h1;
        test_random_orthogonal(rng, reflect, R);
        for (int i = 0; i < 3; i++)
            t[i] = fmax(-8.0, fmin(8.0, 2.0 * test_rng_normal(rng)));
        test_transform(n, R, t, m->xyz, X);
        if (frame_principal(n, m->w, X, opt, Q1, o1, &h1, &err) != RPR_OK) {
            bad++;
            continue;
        }
        frame_to_frame(n, Q1, o1, X, F1);
        mat_transpose(R, Rt);
        mat_mul(Q0, Rt, want);
        const double eQ = max_abs_diff(9, Q1, want);
        const double eX = max_abs_diff(3 * n, F1, F0);
        worstQ = fmax(worstQ, eQ);
        worstX = fmax(worstX, eX);
        if (!(eQ <= tolQ) || !(eX <= tolX) ||
            h1.improper != (h0.improper ^ reflect) ||
            h1.sign_fallback != h0.sign_fallback)
            bad++;
    }
    if (bad > 0)
        fprintf(stderr,
                "%s (%s): %zu of %zu differ; worst |dQ| %.3g (tol %.3g), "
                "|dX| %.3g (tol %.3g)\n",
                m->name, reflect ? "improper" : "proper", bad, trials, worstQ,
                tolQ, worstX, tolX);
    else
        printf("%-8s %-8s %zu trials: worst |dQ| %.2g (tol %.2g), |dX| %.2g "
               "(tol %.2g), fallback bits %d\n",
               m->name, reflect ? "improper" : "proper", trials, worstQ, tolQ,
               worstX, tolX, h0.sign_fallback);
    CHECK(bad == 0);
}

/* ------------------------------------------------------------ T5 */

/* frames.md section 2 (idealised DCE, standard weights), amu angstrom^2. */
static void check_dce_table(const rpr_frame_options *opt)
{
    static const double tau[7] = {180, 150, 135, 131.5, 120, 90, 60};
    static const double I[3][7] = {
        {17.3, 21.0, 25.4, 26.6, 31.0, 44.1, 56.2},
        {342.8, 333.7, 323.0, 320.0, 303.7, 253.8, 203.8},
        {353.7, 340.3, 324.4, 320.0, 309.2, 276.1, 244.1}};
    /* g23 with its last printed digit: mantissa m and exponent e. */
    static const double g23[7] = {1.6e-2, 9.8e-3, 2.1e-3, 1.2e-4,
                                  8.9e-3, 4.2e-2, 9.0e-2};
    static const double g23_ulp[7] = {1e-3, 1e-4, 1e-4, 1e-5, 1e-4, 1e-3, 1e-3};
    rpr_error err;
    for (int k = 0; k < 7; k++) {
        molecule m;
        double Q[9], o[3];
        rpr_frame_health h;
        dce_build(tau[k], &m);
        CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
        printf("DCE %5.1f deg: moments %.3f %.3f %.3f, gap23 %.3g\n", tau[k],
               h.moments[0], h.moments[1], h.moments[2], h.gap23);
        /* The table is rounded to one decimal: half a unit of it. */
        for (int i = 0; i < 3; i++)
            CHECK_CLOSE(h.moments[i], I[i][k], 0.0, 0.05);
        CHECK_CLOSE(h.gap23, g23[k], 0.0, 0.5 * g23_ulp[k]);
    }
}

/*
 * The I2/I3 crossing: gap23(tau) is V-shaped with its zero at the crossing
 * (the two axes belong to different irreducible representations of C2, so
 * the moments cross instead of avoiding each other).  Golden-section
 * search on [125, 140] degrees down to a 1e-9 degree bracket.
 */
static double dce_gap23(double tau, const rpr_frame_options *opt, double *round)
{
    molecule m;
    double Q[9], o[3];
    rpr_frame_health h;
    rpr_error err;
    dce_build(tau, &m);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    if (round != NULL) /* rounding of gap23: 2 ||dI|| / (I2 + I3) */
        *round =
            2.0 * inertia_error(&m, 0.0, &h) / (h.moments[1] + h.moments[2]);
    return h.gap23;
}

static void check_dce_crossing(const rpr_frame_options *opt)
{
    const double r = 0.5 * (sqrt(5.0) - 1.0), width = 1e-9;
    double a = 125.0, b = 140.0;
    double x1 = b - r * (b - a), x2 = a + r * (b - a);
    double f1 = dce_gap23(x1, opt, NULL), f2 = dce_gap23(x2, opt, NULL);
    while (b - a > width) {
        if (f1 < f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - r * (b - a);
            f1 = dce_gap23(x1, opt, NULL);
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + r * (b - a);
            f2 = dce_gap23(x2, opt, NULL);
        }
    }
    double round;
    const double tau = 0.5 * (a + b), g = dce_gap23(tau, opt, &round);
    /* Slope of the V, one degree away on either side. */
    const double slope =
        fmax(dce_gap23(tau + 1.0, opt, NULL), dce_gap23(tau - 1.0, opt, NULL));
    printf("DCE crossing at %.6f deg, gap23 %.3g (slope %.3g per deg)\n", tau,
           g, slope);
    /* frames.md gives 131.7 to one decimal. */
    CHECK_CLOSE(tau, 131.7, 0.0, 0.05);
    /* At most the slope times the bracket, plus rounding. */
    CHECK(g <= slope * width + round);
    CHECK(slope > 1e6 * g);
}

/* ------------------------------------------------------------ fallbacks */

static void check_dce_signs(const rpr_frame_options *opt, test_rng *rng)
{
    molecule m;
    double Q[9], o[3];
    rpr_frame_health h;
    rpr_error err;

    /* Anti (C2h, inversion centre at the centre of mass): every third
     * moment vanishes, so every axis falls back to the label rule. */
    dce_build(180.0, &m);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    CHECK(h.sign_fallback == 7);
    for (int k = 0; k < 3; k++)
        CHECK(h.sign_reliability[k] < opt->sign_tol);

    /* Gauche (C2): the third moment vanishes on the two axes normal to
     * C2; the C2 axis (normal to C-C, bisecting the Cl azimuths 0 and 60
     * degrees) keeps its skewness sign. */
    dce_build(60.0, &m);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    double tolQ, tolX;
    frame_tols(&m, 0.0, &h, &tolQ, &tolX);
    const double c2[3] = {0.0, cos(pi / 6.0), sin(pi / 6.0)};
    int nfall = 0;
    for (int k = 0; k < 3; k++) {
        const double along = fabs(Q[3 * k] * c2[0] + Q[3 * k + 1] * c2[1] +
                                  Q[3 * k + 2] * c2[2]);
        if (h.sign_fallback & (1 << k)) {
            nfall++;
            CHECK(h.sign_reliability[k] < opt->sign_tol);
            CHECK(along <= tolQ); /* orthogonal to C2 up to rounding */
        } else {
            CHECK(h.sign_reliability[k] >= opt->sign_tol);
            CHECK_CLOSE(along, 1.0, 0.0, tolQ);
        }
    }
    CHECK(nfall == 2);

    /* The idealised molecule keeps C2 at every torsion (two fallback
     * axes); a distorted one, as sampled in MD, has none. */
    dce_build(100.0, &m);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    CHECK(h.sign_fallback == 5);
    distort(&m, 0.05, rng);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    CHECK(h.sign_fallback == 0);
}

/* ------------------------------------------------------------ tops */

static void check_tops(const rpr_frame_options *opt, test_rng *rng)
{
    molecule m;
    double Q[9], o[3];
    rpr_frame_health h;
    rpr_error err;

    /* Near-zero gaps: |I2 - I1| <= 2 ||dI|| (Weyl), so the relative gap is
     * at most 2 dI / (I1 + I2). */
    nh3_build(&m);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    double dI = inertia_error(&m, 0.0, &h);
    CHECK(h.gap12 <= 2.0 * dI / (h.moments[0] + h.moments[1]));
    CHECK(h.gap23 > 0.1);
    printf("NH3: gap12 %.3g gap23 %.3g\n", h.gap12, h.gap23);

    ch4_build(&m);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    dI = inertia_error(&m, 0.0, &h);
    CHECK(h.gap12 <= 2.0 * dI / (h.moments[0] + h.moments[1]));
    CHECK(h.gap23 <= 2.0 * dI / (h.moments[1] + h.moments[2]));
    CHECK_CLOSE(mat_det(Q) * mat_det(Q), 1.0, 0.0, 16.0 * eps);

    /* Planar molecules: I3 = I1 + I2; the normal axis is unsigned (bit 2,
     * reliability 0) and completed as e1 x e2, so the frame is proper. */
    benzene_build(&m);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    dI = inertia_error(&m, 0.0, &h);
    CHECK(h.gap12 <= 2.0 * dI / (h.moments[0] + h.moments[1]));
    CHECK_CLOSE(h.moments[2], h.moments[0] + h.moments[1], 0.0, 3.0 * dI);
    CHECK_CLOSE(h.gap23, 1.0 / 3.0, 0.0, 4.0 * dI / h.moments[2]);
    CHECK(h.sign_fallback & 4);
    CHECK(h.sign_reliability[2] == 0.0);
    CHECK(!h.improper);

    h2co_build(0.0, &m);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    dI = inertia_error(&m, 0.0, &h);
    CHECK_CLOSE(h.moments[2], h.moments[0] + h.moments[1], 0.0, 3.0 * dI);
    /* Bit 1 too: C2v makes the in-plane axis normal to C=O skew-free. */
    CHECK(h.sign_fallback == 6);
    CHECK(h.sign_reliability[2] == 0.0);
    CHECK(!h.improper);
    /* The normal is lab z: |e3_z| = cos(angle error) = 1 up to the
     * rounding of the axis' norm. */
    CHECK_CLOSE(fabs(Q[8]), 1.0, 0.0, 8.0 * eps);
    /* Covariant under proper rotations (e3 = e1 x e2 turns with them);
     * improper ones map the molecule onto itself up to a rotation, where
     * no frame can satisfy Q(MX) = Q(X) M^T. */
    check_covariance(&m, opt, 0, 200, rng);

    /* Wagged H2CO (C 0.11 angstrom out of plane): +wag and -wag are
     * mirror images, and the frame maps both to the same coordinates. */
    h2co_build(0.11, &m);
    check_covariance(&m, opt, 1, 200, rng);
    {
        molecule mm = m;
        double Qm[9], om[3], F[3 * MAXAT], Fm[3 * MAXAT];
        rpr_frame_health hm;
        for (size_t a = 0; a < m.n; a++)
            mm.xyz[3 * a + 2] = -m.xyz[3 * a + 2];
        CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
        CHECK_OK(frame_principal(mm.n, mm.w, mm.xyz, opt, Qm, om, &hm, &err),
                 &err);
        frame_to_frame(m.n, Q, o, m.xyz, F);
        frame_to_frame(mm.n, Qm, om, mm.xyz, Fm);
        double tolQ, tolX;
        frame_tols(&m, 0.0, &h, &tolQ, &tolX);
        CHECK(max_abs_diff(3 * m.n, F, Fm) <= tolX);
        CHECK(h.improper != hm.improper);
    }

    /* Linear: I1 = 0, I2 = I3; two axes unsigned, the frame proper. */
    hcn_build(&m);
    CHECK_OK(frame_principal(m.n, m.w, m.xyz, opt, Q, o, &h, &err), &err);
    dI = inertia_error(&m, 0.0, &h);
    CHECK_CLOSE(h.moments[0], 0.0, 0.0, dI);
    CHECK(h.gap23 <= 2.0 * dI / (h.moments[1] + h.moments[2]));
    CHECK(h.sign_fallback == 6);
    CHECK(!h.improper);
    CHECK_CLOSE(fabs(Q[0]), 1.0, 0.0, 8.0 * eps); /* e1 along the line */
}

/* ------------------------------------------------------------ errors */

static void check_errors(const rpr_frame_options *opt)
{
    molecule m;
    double Q[9], o[3], margin;
    rpr_frame_health h;
    rpr_error err;
    dce_build(100.0, &m);
    CHECK_STATUS(frame_principal(0, m.w, m.xyz, opt, Q, o, &h, &err),
                 RPR_EINVAL);
    CHECK_STATUS(frame_principal(1, m.w, m.xyz, opt, Q, o, &h, &err),
                 RPR_EDEGENERATE);
    molecule same = m;
    for (size_t a = 0; a < m.n; a++)
        for (int i = 0; i < 3; i++)
            same.xyz[3 * a + i] = 1.25 + i;
    CHECK_STATUS(frame_principal(m.n, m.w, same.xyz, opt, Q, o, &h, &err),
                 RPR_EDEGENERATE);
    CHECK(strstr(err.message, "one point") != NULL);
    molecule bad = m;
    bad.xyz[7] = NAN;
    CHECK_STATUS(frame_principal(m.n, m.w, bad.xyz, opt, Q, o, &h, &err),
                 RPR_ENONFINITE);
    CHECK(strstr(err.message, "atom 3") != NULL);
    bad = m;
    bad.w[4] = 0.0;
    CHECK_STATUS(frame_principal(m.n, bad.w, m.xyz, opt, Q, o, &h, &err),
                 RPR_EINVAL);
    CHECK(strstr(err.message, "atom 5") != NULL);
    bad.w[4] = INFINITY;
    CHECK_STATUS(frame_principal(m.n, bad.w, m.xyz, opt, Q, o, &h, &err),
                 RPR_ENONFINITE);
    rpr_frame_options o2 = *opt;
    o2.sign_tol = -1.0;
    CHECK_STATUS(frame_principal(m.n, m.w, m.xyz, &o2, Q, o, &h, &err),
                 RPR_EINVAL);
    o2.sign_tol = NAN;
    CHECK_STATUS(frame_principal(m.n, m.w, m.xyz, &o2, Q, o, &h, NULL),
                 RPR_EINVAL);

    CHECK_STATUS(frame_kabsch(0, m.w, m.xyz, m.xyz, Q, o, &margin, &err),
                 RPR_EINVAL);
    CHECK_STATUS(frame_kabsch(m.n, m.w, m.xyz, same.xyz, Q, o, &margin, &err),
                 RPR_EDEGENERATE);
    CHECK(strstr(err.message, "geometry") != NULL);
    CHECK_STATUS(frame_kabsch(m.n, m.w, same.xyz, m.xyz, Q, o, &margin, &err),
                 RPR_EDEGENERATE);
    CHECK(strstr(err.message, "reference") != NULL);
    bad = m;
    bad.xyz[0] = INFINITY;
    CHECK_STATUS(frame_kabsch(m.n, m.w, m.xyz, bad.xyz, Q, o, &margin, &err),
                 RPR_ENONFINITE);
    CHECK_STATUS(frame_kabsch(m.n, m.w, bad.xyz, m.xyz, Q, o, &margin, NULL),
                 RPR_ENONFINITE);
    bad = m;
    bad.w[0] = -1.0;
    CHECK_STATUS(frame_kabsch(m.n, bad.w, m.xyz, m.xyz, Q, o, &margin, &err),
                 RPR_EINVAL);
    /* Uncorrelated: x on the z axis, y on the x axis with sum u z = 0. */
    const double x3[9] = {0, 0, -1, 0, 0, 0, 0, 0, 1};
    const double y3[9] = {1, 0, 0, -2, 0, 0, 1, 0, 0};
    const double w3[3] = {1, 1, 1};
    CHECK_STATUS(frame_kabsch(3, w3, y3, x3, Q, o, &margin, &err),
                 RPR_EDEGENERATE);
}

/* ------------------------------------------------------------ kabsch */

/* f(Q) = tr(Q^T C) = sum w (Q x) . y, to be maximised. */
static double kabsch_overlap(const double Q[9], const double C[9])
{
    double s = 0.0;
    for (int i = 0; i < 9; i++)
        s += Q[i] * C[i];
    return s;
}

/* Centred cross-covariance C = sum w y x^T and scale = sum w |y| |x|. */
static double kabsch_cov(size_t n, const double *w, const double *ref,
                         const double *xyz, double C[9])
{
    double cx[3] = {0, 0, 0}, cy[3] = {0, 0, 0}, W = 0.0, scale = 0.0;
    for (size_t a = 0; a < n; a++) {
        W += w[a];
        for (int i = 0; i < 3; i++) {
            cx[i] += w[a] * xyz[3 * a + i];
            cy[i] += w[a] * ref[3 * a + i];
        }
    }
    memset(C, 0, 9 * sizeof *C);
    for (size_t a = 0; a < n; a++) {
        double x[3], y[3], nx = 0.0, ny = 0.0;
        for (int i = 0; i < 3; i++) {
            x[i] = xyz[3 * a + i] - cx[i] / W;
            y[i] = ref[3 * a + i] - cy[i] / W;
            nx += x[i] * x[i];
            ny += y[i] * y[i];
        }
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                C[3 * i + j] += w[a] * y[i] * x[j];
        scale += w[a] * sqrt(nx) * sqrt(ny);
    }
    return scale;
}

/*
 * Planted fits.  Reference y = R x + t.  The computed C is C_exact + dC
 * with ||dC|| <= (n + 16) eps scale (forming C, then the backward-stable
 * SVD) plus the rounding of y (4 eps (|x| + |t|) per coordinate, times
 * w |x|); the orthogonal polar factor moves by at most
 * 2 ||dC|| / (s2 + s3) (Higham, Functions of Matrices, section 8.1).
 * The singular values of C = R S are the eigenvalues of the weighted
 * gyration tensor S of x, i.e. tr(I)/2 - I_k from frame_principal's
 * moments (an independent eigensolver): the margin is
 * (tr/2 - I3) / (tr/2 - I1), each value known to ||dC|| + ||dI|| (Weyl).
 */
static void check_kabsch_planted(const molecule *m, int reflect, test_rng *rng,
                                 const rpr_frame_options *opt)
{
    const size_t n = m->n;
    double R[9], t[3], y[3 * MAXAT], Q[9], o[3], margin, C[9], W;
    double Qp[9], op[3];
    rpr_frame_health h;
    rpr_error err;
    test_random_orthogonal(rng, reflect, R);
    for (int i = 0; i < 3; i++)
        t[i] = 2.0 * test_rng_normal(rng);
    test_transform(n, R, t, m->xyz, y);
    CHECK_OK(frame_kabsch(n, m->w, y, m->xyz, Q, o, &margin, &err), &err);
    CHECK_OK(frame_principal(n, m->w, m->xyz, opt, Qp, op, &h, &err), &err);
    const double scale = kabsch_cov(n, m->w, y, m->xyz, C);
    const double rmax = mol_rmax(m, &W);
    const double tnorm = sqrt(t[0] * t[0] + t[1] * t[1] + t[2] * t[2]);
    const double dC =
        eps * ((n + 16.0) * scale + 4.0 * W * rmax * (rmax + tnorm + 8.0));
    const double half = 0.5 * (h.moments[0] + h.moments[1] + h.moments[2]);
    const double s1 = half - h.moments[0], s2 = half - h.moments[1],
                 s3 = half - h.moments[2];
    const double tolQ = 2.0 * dC / (s2 + s3);
    const double dsig = dC + inertia_error(m, 0.0, &h);
    CHECK(max_abs_diff(9, Q, R) <= tolQ);
    CHECK_CLOSE(mat_det(Q), reflect ? -1.0 : 1.0, 0.0, 16.0 * eps);
    CHECK_CLOSE(margin, s3 / s1, 0.0, 2.0 * dsig / s1 * (1.0 + s3 / s1));
    /* The origin is the weighted centre of x, not of y. */
    CHECK(max_abs_diff(3, o, op) <= 4.0 * n * eps * (rmax + 8.0));
}

/*
 * Six atoms at +-a u1, +-b u2, +-c u3 (u_k the columns of a random
 * rotation P, unit weights): S = 2 P diag(a^2, b^2, c^2) P^T exactly up to
 * rounding, so the singular values of C = R S are 2a^2, 2b^2, 2c^2 and
 * the margin is c^2/a^2 = 5.8e-5.  One-sided Jacobi keeps s3 to absolute
 * accuracy ~ ||dC||; a solver through C^T C would lose it to
 * eps s1^2 / s3 (2e-12 in the margin here), far above this tolerance.
 */
static void check_kabsch_small_margin(test_rng *rng)
{
    const double a = 1.7, b = 1.1, c = 0.013;
    const double len[3] = {a, b, c};
    double P[9], R[9], x[18], y[18], Q[9], o[3], margin;
    const double w[6] = {1, 1, 1, 1, 1, 1};
    rpr_error err;
    test_random_orthogonal(rng, 0, P);
    test_random_orthogonal(rng, 1, R);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++) {
            x[3 * (2 * k) + i] = len[k] * P[3 * i + k];
            x[3 * (2 * k + 1) + i] = -len[k] * P[3 * i + k];
        }
    test_transform(6, R, NULL, x, y);
    CHECK_OK(frame_kabsch(6, w, y, x, Q, o, &margin, &err), &err);
    /* scale = sum |y||x| = 2 (a^2 + b^2 + c^2); ||dC|| <= (n + 16 + 8)
     * eps scale with the rounding of x = +-len P and y = R x (4 eps each);
     * margin error <= ||dC|| (1 + m) / s1. */
    const double s1 = 2.0 * a * a, m = (c * c) / (a * a);
    const double dC = (6.0 + 24.0) * eps * 2.0 * (a * a + b * b + c * c);
    printf("kabsch small margin: %.17g, want %.17g (tol %.2g)\n", margin, m,
           dC * (1.0 + m) / s1);
    CHECK_CLOSE(margin, m, 0.0, dC * (1.0 + m) / s1);
    CHECK(max_abs_diff(9, Q, R) <= 2.0 * dC / (2.0 * b * b + 2.0 * c * c));
}

/* Random unrelated x and y: Q is orthogonal, Q^T C is symmetric (the
 * stationarity condition of max tr(Q^T C) over O(3)), and no other
 * orthogonal matrix, proper or improper, overlaps better. */
static void check_kabsch_optimal(test_rng *rng)
{
    molecule mx, my;
    double Q[9], o[3], margin, C[9], QtC[9], Qt[9], QQt[9];
    rpr_error err;
    random_molecule(rng, &mx);
    random_molecule(rng, &my);
    CHECK_OK(frame_kabsch(8, mx.w, my.xyz, mx.xyz, Q, o, &margin, &err), &err);
    const double scale = kabsch_cov(8, mx.w, my.xyz, mx.xyz, C);
    mat_transpose(Q, Qt);
    mat_mul(Qt, C, QtC);
    mat_mul(Q, Qt, QQt);
    const double I3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK(max_abs_diff(9, QQt, I3) <= 16.0 * eps);
    /* Q^T C rounds with 3 eps ||C|| per element; the SVD's backward error
     * (n + 16) eps scale enters through Q. */
    const double tol = 2.0 * (8.0 + 16.0) * eps * scale;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < i; j++)
            CHECK_CLOSE(QtC[3 * i + j], QtC[3 * j + i], 0.0, tol);
    const double best = kabsch_overlap(Q, C);
    size_t worse = 0;
    for (int k = 0; k < 2000; k++) {
        double R[9];
        test_random_orthogonal(rng, k % 2, R);
        if (kabsch_overlap(R, C) > best + tol)
            worse++;
    }
    CHECK(worse == 0);
    CHECK(margin > 0.0 && margin <= 1.0);
}

/* Ties: a planar geometry (s3 = 0) gives the proper fit even if the
 * reference is a reflected copy (a planar molecule's mirror image is a
 * rotated copy of it); a linear one (s2 = s3 = 0) a proper fit too.  The
 * fit is still exact: y = R x.  Errors: s3 comes out at the rounding level
 * ||dC|| of C, so the margin is below ||dC|| / s1; Q is off by about
 * ||dC|| / s_min (s_min the smallest nonzero singular value, s2 planar,
 * s1 linear) on the directions x spans, which moves each Q x by that
 * times rmax.  s_k are the gyration eigenvalues tr(I)/2 - I_k. */
static void check_kabsch_ties(test_rng *rng, const rpr_frame_options *opt)
{
    molecule planar, linear;
    h2co_build(0.0, &planar);
    hcn_build(&linear);
    const molecule *mol[2] = {&planar, &linear};
    for (int k = 0; k < 2; k++)
        for (int reflect = 0; reflect < 2; reflect++) {
            const molecule *m = mol[k];
            double R[9], y[3 * MAXAT], Q[9], o[3], margin, F[3 * MAXAT];
            double C[9], Qp[9], op[3], W, cy[3] = {0, 0, 0};
            rpr_frame_health h;
            rpr_error err;
            test_random_orthogonal(rng, reflect, R);
            test_transform(m->n, R, NULL, m->xyz, y);
            CHECK_OK(frame_kabsch(m->n, m->w, y, m->xyz, Q, o, &margin, &err),
                     &err);
            CHECK_OK(frame_principal(m->n, m->w, m->xyz, opt, Qp, op, &h, &err),
                     &err);
            const double rmax = mol_rmax(m, &W);
            const double dC =
                eps * ((m->n + 16.0) * kabsch_cov(m->n, m->w, y, m->xyz, C) +
                       4.0 * W * rmax * rmax);
            const double half =
                0.5 * (h.moments[0] + h.moments[1] + h.moments[2]);
            const double s1 = half - h.moments[0];
            const double smin = k == 0 ? half - h.moments[1] : s1;
            CHECK_CLOSE(mat_det(Q), 1.0, 0.0, 16.0 * eps);
            CHECK(margin <= dC / s1);
            for (size_t a = 0; a < m->n; a++)
                for (int i = 0; i < 3; i++)
                    cy[i] += m->w[a] * y[3 * a + i] / W;
            frame_to_frame(m->n, Q, o, m->xyz, F);
            for (size_t a = 0; a < m->n; a++)
                for (int i = 0; i < 3; i++)
                    F[3 * a + i] += cy[i];
            CHECK(max_abs_diff(3 * m->n, F, y) <=
                  2.0 * dC / smin * rmax + 16.0 * m->n * eps * rmax);
        }
}

/* Kabsch covariance: Q(RX) = Q(X) R^T for proper and improper R, with
 * the anti conformer as reference.  Bound as in check_kabsch_planted,
 * with s2 + s3 >= 2 s3 = 2 margin s1 and s1 >= ||C||_F / sqrt(3); two
 * fits compared, each with ||dC|| <= eps ((n + 16) scale + 4 W rmax^2)
 * (the second also rounds R x). */
static void check_kabsch_covariance(const molecule *m, test_rng *rng)
{
    double Q0[9], o0[3], margin0, C[9], W;
    molecule anti;
    rpr_error err;
    dce_build(180.0, &anti);
    CHECK_OK(frame_kabsch(m->n, m->w, anti.xyz, m->xyz, Q0, o0, &margin0, &err),
             &err);
    const double scale = kabsch_cov(m->n, m->w, anti.xyz, m->xyz, C);
    double cn = 0.0;
    for (int i = 0; i < 9; i++)
        cn += C[i] * C[i];
    const double s1 = sqrt(cn / 3.0), rmax = mol_rmax(m, &W);
    const double dC = eps * ((m->n + 16.0) * scale + 4.0 * W * rmax * rmax);
    const double tolQ = 2.0 * 2.0 * dC / (2.0 * margin0 * s1);
    const double tolm = 2.0 * dC * (1.0 + margin0) / s1;
    size_t bad = 0;
    for (int k = 0; k < 200; k++) {
        double R[9], Rt[9], want[9], X[3 * MAXAT], Q[9], o[3], margin;
        test_random_orthogonal(rng, k % 2, R);
        test_transform(m->n, R, NULL, m->xyz, X);
        CHECK_OK(frame_kabsch(m->n, m->w, anti.xyz, X, Q, o, &margin, &err),
                 &err);
        mat_transpose(R, Rt);
        mat_mul(Q0, Rt, want);
        if (!(max_abs_diff(9, Q, want) <= tolQ) ||
            !(fabs(margin - margin0) <= tolm))
            bad++;
    }
    CHECK(bad == 0);
    printf("kabsch DCE(100) vs anti: margin %.4f, tol |dQ| %.2g\n", margin0,
           tolQ);
}

/* ------------------------------------------------------------ small */

static double smooth_d1(double t)
{
    return 30.0 * t * t * (1.0 - t) * (1.0 - t);
}

static void check_smoothstep(void)
{
    CHECK(frame_smoothstep(0.0) == 0.0);
    CHECK(frame_smoothstep(1.0) == 1.0);
    CHECK(frame_smoothstep(0.5) == 0.5);
    CHECK(frame_smoothstep(-3.0) == 0.0);
    CHECK(frame_smoothstep(7.0) == 1.0);
    /* S(t) = 10 t^3 - 15 t^4 + 6 t^5: S(t)/t^3 -> 10 and (1 - S(1-t))/t^3
     * -> 10 as t -> 0+, so S, S', S'' vanish at 0+ and S - 1, S', S''
     * at 1-, equal to the constant outside: S is C2.  At t = 1e-3 the
     * ratio is 10 - 15e-3 + 6e-6 exactly; rounding of S (10 eps relative)
     * and of 1 - t (eps) allow the tolerance below. */
    for (double t = 1e-1; t >= 1e-4; t /= 10.0) {
        const double want = 10.0 - 15.0 * t + 6.0 * t * t;
        CHECK_CLOSE(frame_smoothstep(t) / (t * t * t), want, 16.0 * eps, 0.0);
        /* 1 - S(1 - t) cancels: error eps / t^3 relative to the ratio */
        CHECK_CLOSE((1.0 - frame_smoothstep(1.0 - t)) / (t * t * t), want, 0.0,
                    16.0 * eps / (t * t * t) * 10.0);
    }
    /* Symmetry S(t) + S(1 - t) = 1 and monotonicity on a grid. */
    double prev = 0.0;
    for (int i = 0; i <= 1000; i++) {
        const double t = i / 1000.0, s = frame_smoothstep(t);
        CHECK_CLOSE(s + frame_smoothstep(1.0 - t), 1.0, 0.0, 16.0 * eps);
        CHECK(s >= prev);
        prev = s;
    }
    /* S' by central differences at interior points against 30 t^2
     * (1-t)^2: tolerance from the h vs h/2 gap plus rounding 2 eps / h. */
    const double h = cbrt(eps);
    for (int i = 1; i < 10; i++) {
        const double t = 0.1 * i + 0.0123;
        const double d1 =
            (frame_smoothstep(t + h) - frame_smoothstep(t - h)) / (2.0 * h);
        const double d2 =
            (frame_smoothstep(t + h / 2) - frame_smoothstep(t - h / 2)) / h;
        CHECK_CLOSE(smooth_d1(t), d2, 0.0, fabs(d1 - d2) + 4.0 * eps / h);
    }
}

static void check_transforms(test_rng *rng)
{
    for (int k = 0; k < 100; k++) {
        double Q[9], Qt[9], v[3], vf[3], v2[3], a[6], af[6], a2[6];
        test_random_orthogonal(rng, k % 2, Q);
        mat_transpose(Q, Qt);
        for (int i = 0; i < 3; i++)
            v[i] = 3.0 * test_rng_normal(rng);
        for (int i = 0; i < 6; i++)
            a[i] = 40.0 * test_rng_normal(rng);
        const double vn = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        double an = 0.0;
        for (int i = 0; i < 6; i++)
            an += a[i] * a[i] * (i == 0 || i == 3 || i == 5 ? 1.0 : 2.0);
        an = sqrt(an);

        /* vf = Q v against the explicit product; round trip.  A dot
         * product of 3 costs 3 eps |Q_i| |v|; Q from test_random_orthogonal
         * is orthogonal to ~4 eps, so a round trip is within 16 eps |v|. */
        frame_vector_from_lab(Q, v, vf);
        for (int i = 0; i < 3; i++)
            CHECK_CLOSE(vf[i],
                        Q[3 * i] * v[0] + Q[3 * i + 1] * v[1] +
                            Q[3 * i + 2] * v[2],
                        0.0, 4.0 * eps * vn);
        frame_vector_to_lab(Q, vf, v2);
        CHECK(max_abs_diff(3, v, v2) <= 16.0 * eps * vn);
        memcpy(v2, v, sizeof v2); /* in place */
        frame_vector_from_lab(Q, v2, v2);
        CHECK(max_abs_diff(3, v2, vf) == 0.0);

        /* af = Q A Q^T against full 3x3 products; round trip; the trace
         * (isotropic polarizability) is invariant. */
        const double A[9] = {a[0], a[1], a[2], a[1], a[3],
                             a[4], a[2], a[4], a[5]};
        double T[9], B[9];
        mat_mul(Q, A, T);
        mat_mul(T, Qt, B);
        frame_tensor_from_lab(Q, a, af);
        const double want[6] = {B[0], B[1], B[2], B[4], B[5], B[8]};
        CHECK(max_abs_diff(6, af, want) <= 12.0 * eps * an);
        frame_tensor_to_lab(Q, af, a2);
        CHECK(max_abs_diff(6, a, a2) <= 32.0 * eps * an);
        CHECK_CLOSE(af[0] + af[3] + af[5], a[0] + a[3] + a[5], 0.0,
                    32.0 * eps * an);
        memcpy(a2, a, sizeof a2);
        frame_tensor_from_lab(Q, a2, a2);
        CHECK(max_abs_diff(6, a2, af) == 0.0);
    }
    /* frame_to_frame against Q (x - origin). */
    molecule m;
    double Q[9], o[3] = {0.3, -1.7, 2.9}, F[3 * MAXAT];
    random_molecule(rng, &m);
    test_random_orthogonal(rng, 1, Q);
    frame_to_frame(m.n, Q, o, m.xyz, F);
    for (size_t a = 0; a < m.n; a++)
        for (int i = 0; i < 3; i++) {
            double s = 0.0;
            for (int j = 0; j < 3; j++)
                s += Q[3 * i + j] * (m.xyz[3 * a + j] - o[j]);
            CHECK(F[3 * a + i] == s);
        }
}

static void check_weights(void)
{
    const int z[3] = {6, 17, 1};
    const double mass[3] = {12.011, 35.453, 1.008};
    double w[3];
    frame_weights(RPR_WEIGHT_MASS, 3, z, mass, w);
    CHECK(w[0] == 12.011 && w[1] == 35.453 && w[2] == 1.008);
    frame_weights(RPR_WEIGHT_CHARGE, 3, z, mass, w);
    CHECK(w[0] == 6.0 && w[1] == 17.0 && w[2] == 1.0);
    frame_weights(RPR_WEIGHT_CHARGE, 3, z, NULL, w);
    CHECK(w[1] == 17.0);
    /* Unit weights read neither numbers nor masses. */
    w[0] = w[1] = w[2] = NAN;
    frame_weights(RPR_WEIGHT_UNIT, 3, z, mass, w);
    CHECK(w[0] == 1.0 && w[1] == 1.0 && w[2] == 1.0);
    w[0] = w[1] = w[2] = NAN;
    frame_weights(RPR_WEIGHT_UNIT, 3, NULL, NULL, w);
    CHECK(w[0] == 1.0 && w[1] == 1.0 && w[2] == 1.0);
}

static void check_defaults(void)
{
    rpr_frame_options o;
    memset(&o, 0xff, sizeof o);
    rpr_frame_options_default(&o);
    CHECK(o.weighting == RPR_WEIGHT_MASS);
    CHECK(o.sign_tol == 1e-3);
    CHECK(o.gap_lo == 1e-3 && o.gap_hi == 2e-2);
    CHECK(o.sign_lo == o.sign_tol && o.sign_hi == 10.0 * o.sign_tol);
    CHECK(o.margin_lo == 0.05 && o.margin_hi == 0.25);
    CHECK(o.sign_average == 0);
    CHECK(o.kabsch_weighting == RPR_WEIGHT_UNIT);
}

int main(void)
{
    const uint64_t seed = 20261127;
    test_rng rng = {seed};
    rpr_frame_options opt;
    rpr_frame_options_default(&opt);

    check_defaults();
    check_weights();

    /* T1 and T2 on DCE (generic, gauche, anti: 0, 2 and 3 fallback axes)
     * and on a random asymmetric molecule. */
    static const double taus[3] = {100.0, 60.0, 180.0};
    for (int k = 0; k < 3; k++) {
        molecule m;
        dce_build(taus[k], &m);
        check_covariance(&m, &opt, 0, 1000, &rng);
        check_covariance(&m, &opt, 1, 1000, &rng);
    }
    molecule r8;
    random_molecule(&rng, &r8);
    check_covariance(&r8, &opt, 0, 1000, &rng);
    check_covariance(&r8, &opt, 1, 1000, &rng);
    /* A distorted DCE, as sampled in MD: no symmetry, no fallback. */
    {
        molecule m;
        dce_build(75.0, &m);
        distort(&m, 0.05, &rng);
        check_covariance(&m, &opt, 0, 1000, &rng);
        check_covariance(&m, &opt, 1, 1000, &rng);
    }
    /* Charge weighting is just other weights. */
    {
        molecule m;
        rpr_frame_options oz = opt;
        oz.weighting = RPR_WEIGHT_CHARGE;
        dce_build(100.0, &m);
        const int z[8] = {6, 6, 17, 17, 1, 1, 1, 1};
        frame_weights(RPR_WEIGHT_CHARGE, 8, z, NULL, m.w);
        check_covariance(&m, &oz, 1, 200, &rng);
    }
    /* So is unit weighting (the Kabsch default), for both frames. */
    {
        molecule m;
        rpr_frame_options ou = opt;
        ou.weighting = RPR_WEIGHT_UNIT;
        dce_build(100.0, &m);
        frame_weights(RPR_WEIGHT_UNIT, 8, NULL, NULL, m.w);
        check_covariance(&m, &ou, 0, 200, &rng);
        check_covariance(&m, &ou, 1, 200, &rng);
        check_kabsch_covariance(&m, &rng);
        for (int reflect = 0; reflect < 2; reflect++)
            check_kabsch_planted(&m, reflect, &rng, &ou);
    }

    check_dce_table(&opt);
    check_dce_crossing(&opt);
    check_dce_signs(&opt, &rng);
    check_tops(&opt, &rng);

    for (int reflect = 0; reflect < 2; reflect++) {
        molecule m;
        random_molecule(&rng, &m);
        check_kabsch_planted(&m, reflect, &rng, &opt);
        dce_build(75.0, &m);
        check_kabsch_planted(&m, reflect, &rng, &opt);
    }
    check_kabsch_small_margin(&rng);
    for (int k = 0; k < 20; k++)
        check_kabsch_optimal(&rng);
    check_kabsch_ties(&rng, &opt);
    {
        molecule m;
        dce_build(100.0, &m);
        check_kabsch_covariance(&m, &rng);
    }

    check_smoothstep();
    check_transforms(&rng);
    check_errors(&opt);
    if (test_failures > 0)
        fprintf(stderr, "seed %llu\n", (unsigned long long) seed);
    return test_exit("test_frame");
}
