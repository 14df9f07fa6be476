/*
 * frame.c - molecule-fixed frames: principal axes with per-axis signs, the
 * O(3) Kabsch/Eckart fit to a reference, the C2 smoothstep of the blend and
 * the vector/tensor rotations (reference notes frames.md, sections 0 and 4).
 *
 * Everything here runs on every MD step: no allocation, no I/O, fixed
 * iteration caps, and results that depend only on the input numbers (no
 * LAPACK call whose internal blocking or threading could change the
 * rounding).
 */
#include <config.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "frame.h"

/* Cyclic Jacobi on a 3x3 symmetric matrix converges quadratically: in
 * practice 4 to 6 sweeps reach exact zeros off the diagonal.  The cap only
 * guarantees termination; it is never reached for finite input. */
#define FRAME_JACOBI_MAX_SWEEPS 50

void rpr_frame_options_default(rpr_frame_options *opt)
{
    opt->weighting = RPR_WEIGHT_MASS;
    opt->sign_tol = 1e-3;
    opt->gap_lo = 1e-3;
    opt->gap_hi = 2e-2;
    opt->sign_lo = opt->sign_tol;
    opt->sign_hi = 10.0 * opt->sign_tol;
    opt->margin_lo = 0.05;
    opt->margin_hi = 0.25;
    opt->sign_average = 0;
    opt->kabsch_weighting = RPR_WEIGHT_UNIT;
}

void frame_weights(rpr_frame_weighting weighting, size_t natoms,
                   const int *numbers, const double *masses, double *w)
{
    for (size_t a = 0; a < natoms; a++)
        w[a] = weighting == RPR_WEIGHT_UNIT     ? 1.0
               : weighting == RPR_WEIGHT_CHARGE ? (double) numbers[a]
                                                : masses[a];
}

/* ------------------------------------------------------------ helpers */

/* Weights must be finite and positive, coordinates finite. */
static rpr_status frame_check_input(size_t natoms, const double *w,
                                    const double *xyz, const char *what,
                                    rpr_error *err)
{
    if (natoms == 0)
        return RPR_FAIL(err, RPR_EINVAL, "frame: no atoms");
    for (size_t a = 0; a < natoms; a++) {
        if (!isfinite(w[a]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "frame: weight of atom %zu is not finite", a + 1);
        if (!(w[a] > 0.0))
            return RPR_FAIL(err, RPR_EINVAL,
                            "frame: weight of atom %zu must be > 0 (got %g)",
                            a + 1, w[a]);
        for (int c = 0; c < 3; c++)
            if (!isfinite(xyz[3 * a + c]))
                return RPR_FAIL(err, RPR_ENONFINITE,
                                "frame: %s coordinate %c of atom %zu is not "
                                "finite",
                                what, "xyz"[c], a + 1);
    }
    return RPR_OK;
}

/* 1 if every atom sits exactly where atom 1 is.  Exact comparison on
 * purpose: any spread, however small, defines axes (badly conditioned ones
 * show up in the health gaps), and a tolerance here would be a hidden
 * length scale. */
static int frame_all_coincide(size_t natoms, const double *xyz)
{
    for (size_t a = 1; a < natoms; a++)
        for (int c = 0; c < 3; c++)
            if (xyz[3 * a + c] != xyz[c])
                return 0;
    return 1;
}

/* Weighted centre; returns the total weight. */
static double frame_centre(size_t natoms, const double *w, const double *xyz,
                           double centre[3])
{
    double W = 0.0, s[3] = {0.0, 0.0, 0.0};
    for (size_t a = 0; a < natoms; a++) {
        W += w[a];
        for (int c = 0; c < 3; c++)
            s[c] += w[a] * xyz[3 * a + c];
    }
    for (int c = 0; c < 3; c++)
        centre[c] = s[c] / W;
    return W;
}

/*
 * Eigen-decomposition of a symmetric 3x3 matrix by cyclic Jacobi rotations
 * (Rutishauser's variant as in Numerical Recipes, section 11.1): A = V
 * diag(lambda) V^T, eigenvectors in the columns of V (row-major V[3*i+k] is
 * component i of vector k), unsorted.  Backward stable: the result is exact
 * for A + dA with ||dA|| a small multiple of eps ||A||, so each eigenvector
 * is accurate to about eps ||A|| / (distance to the nearest other
 * eigenvalue).  An off-diagonal element is set to zero once adding it to
 * both diagonal elements it couples changes neither (it is below their
 * rounding), which is what ends the iteration with exact zeros.
 */
static void frame_eigen_sym3(const double A[9], double lambda[3], double V[9])
{
    double a[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            a[i][j] = A[3 * i + j];
            V[3 * i + j] = i == j ? 1.0 : 0.0;
        }
    static const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
    for (int sweep = 0; sweep < FRAME_JACOBI_MAX_SWEEPS; sweep++) {
        if (a[0][1] == 0.0 && a[0][2] == 0.0 && a[1][2] == 0.0)
            break;
        for (int k = 0; k < 3; k++) {
            const int p = pairs[k][0], q = pairs[k][1], r = 3 - p - q;
            const double apq = a[p][q];
            if (apq == 0.0)
                continue;
            /* apq is negligible when 100 |apq| vanishes against both
             * diagonal elements: it is then far below their rounding. */
            const double g = 100.0 * fabs(apq);
            if (fabs(a[p][p]) + g == fabs(a[p][p]) &&
                fabs(a[q][q]) + g == fabs(a[q][q])) {
                a[p][q] = a[q][p] = 0.0;
                continue;
            }
            const double h = a[q][q] - a[p][p];
            double t;
            if (fabs(h) + g == fabs(h)) {
                t = apq / h; /* tiny angle: t = tan(theta) ~ 1/(2 theta) */
            } else {
                const double theta = 0.5 * h / apq;
                t = 1.0 / (fabs(theta) + sqrt(1.0 + theta * theta));
                if (theta < 0.0)
                    t = -t;
            }
            const double c = 1.0 / sqrt(1.0 + t * t), s = t * c;
            a[p][p] -= t * apq;
            a[q][q] += t * apq;
            a[p][q] = a[q][p] = 0.0;
            const double arp = a[r][p], arq = a[r][q];
            a[r][p] = a[p][r] = c * arp - s * arq;
            a[r][q] = a[q][r] = s * arp + c * arq;
            for (int i = 0; i < 3; i++) {
                const double vp = V[3 * i + p], vq = V[3 * i + q];
                V[3 * i + p] = c * vp - s * vq;
                V[3 * i + q] = s * vp + c * vq;
            }
        }
    }
    for (int i = 0; i < 3; i++)
        lambda[i] = a[i][i];
}

/* The smallest prime above p, by trial division (only the label fallback
 * uses it, up to the natoms-th prime; exact in double far beyond that). */
static double frame_next_prime(double p)
{
    for (double c = p + 1.0;; c += 1.0) {
        int prime = 1;
        for (double d = 2.0; d * d <= c; d += 1.0)
            if (fmod(c, d) == 0.0) {
                prime = 0;
                break;
            }
        if (prime)
            return c;
    }
}

static void frame_cross(const double u[3], const double v[3], double out[3])
{
    out[0] = u[1] * v[2] - u[2] * v[1];
    out[1] = u[2] * v[0] - u[0] * v[2];
    out[2] = u[0] * v[1] - u[1] * v[0];
}

static double frame_det3(const double M[9])
{
    return M[0] * (M[4] * M[8] - M[5] * M[7]) -
           M[1] * (M[3] * M[8] - M[5] * M[6]) +
           M[2] * (M[3] * M[7] - M[4] * M[6]);
}

/* How an axis got its sign. */
enum {
    FRAME_SIGNED = 0,   /* skewness, label sum or first atom decided */
    FRAME_UNSIGNED = 1, /* the molecule has no extent along the axis */
};

/*
 * Sign of axis e (in place) by the rule of frames.md 4.3.  Every rule uses
 * projections p_i = (r_i - centre) . e only, so it is covariant: replacing
 * X by RX (R in O(3)) replaces e by Re and leaves every p_i unchanged, so
 * the same rule fires with the same outcome and e(RX) = R e(X).
 *
 *  0. If the molecule has (almost) no extent along e, sqrt(sum w p^2 / W)
 *     <= sign_tol * rms radius, no rule can read a sign: the p_i are then
 *     rounding noise, and the skewness, being scale-free, would turn that
 *     noise into an arbitrary sign of order-one "reliability".  The axis
 *     is returned unsigned with reliability 0 (the caller completes it).
 *  1. Weighted skewness s = W^(1/2) sum w p^3 / (sum w p^2)^(3/2): flip if
 *     s < 0.  |s| is the reliability; below sign_tol the sign of s is not
 *     trusted (it is zero by symmetry for DCE: on all axes at anti, C2h,
 *     and on the two axes normal to C2 at gauche).
 *  2. Label rule: sign of sum_i c_i p_i with c_i the square root of the
 *     (i+1)-th prime.  Symmetry makes the p_i equal up to sign in groups,
 *     and plain primes can cancel on such a group (11 - 13 - 17 + 19 = 0
 *     for the four hydrogens of anti DCE on its C2 axis); square roots of
 *     distinct primes are linearly independent over the rationals
 *     (Besicovitch, J. London Math. Soc. 15, 3 (1940)), so no signed sum of
 *     them vanishes.  Trusted if |sum c p| exceeds sign_tol times
 *     sum c |p|.  Labels are fixed, so this rule is valid, but it is not
 *     invariant to swapping equivalent atoms.
 *  3. Sign of the first atom with |p_i| > sign_tol * rms radius (one
 *     exists once step 0 has passed: max |p| >= the rms extent).
 */
static int frame_sign_axis(size_t natoms, const double *w, const double *xyz,
                           const double centre[3], double W, double rms,
                           double sign_tol, double e[3], double *reliability,
                           int *fallback)
{
    double m2 = 0.0, m3 = 0.0;
    for (size_t a = 0; a < natoms; a++) {
        const double p = (xyz[3 * a] - centre[0]) * e[0] +
                         (xyz[3 * a + 1] - centre[1]) * e[1] +
                         (xyz[3 * a + 2] - centre[2]) * e[2];
        m2 += w[a] * p * p;
        m3 += w[a] * p * p * p;
    }
    *reliability = 0.0;
    *fallback = 1;
    if (!(sqrt(m2 / W) > rms * sign_tol))
        return FRAME_UNSIGNED;
    const double s = sqrt(W) * m3 / (m2 * sqrt(m2));
    double sign = 0.0;
    *reliability = fabs(s);
    *fallback = !(fabs(s) >= sign_tol);
    if (!*fallback) {
        sign = s < 0.0 ? -1.0 : 1.0;
    } else {
        double lab = 0.0, labs = 0.0, c = 1.0;
        for (size_t a = 0; a < natoms; a++) {
            const double p = (xyz[3 * a] - centre[0]) * e[0] +
                             (xyz[3 * a + 1] - centre[1]) * e[1] +
                             (xyz[3 * a + 2] - centre[2]) * e[2];
            c = frame_next_prime(c);
            lab += sqrt(c) * p;
            labs += sqrt(c) * fabs(p);
        }
        if (fabs(lab) > labs * sign_tol) {
            sign = lab < 0.0 ? -1.0 : 1.0;
        } else {
            for (size_t a = 0; a < natoms && sign == 0.0; a++) {
                const double p = (xyz[3 * a] - centre[0]) * e[0] +
                                 (xyz[3 * a + 1] - centre[1]) * e[1] +
                                 (xyz[3 * a + 2] - centre[2]) * e[2];
                if (fabs(p) > rms * sign_tol)
                    sign = p < 0.0 ? -1.0 : 1.0;
            }
        }
    }
    if (sign == 0.0)
        return FRAME_UNSIGNED;
    for (int c = 0; c < 3; c++)
        e[c] *= sign;
    return FRAME_SIGNED;
}

/* ------------------------------------------------------------ principal */

rpr_status frame_principal(size_t natoms, const double *w, const double *xyz,
                           const rpr_frame_options *opt, double Q[9],
                           double origin[3], rpr_frame_health *health,
                           rpr_error *err)
{
    rpr_status st = frame_check_input(natoms, w, xyz, "geometry", err);
    if (st != RPR_OK)
        return st;
    if (!(opt->sign_tol >= 0.0 && opt->sign_tol < 1.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "frame: sign_tol must be in [0, 1) (got %g)",
                        opt->sign_tol);
    if (frame_all_coincide(natoms, xyz))
        return RPR_FAIL(err, RPR_EDEGENERATE,
                        "frame: all %zu atoms at one point: no axes", natoms);

    double c[3];
    const double W = frame_centre(natoms, w, xyz, c);

    /* Inertia tensor I = sum w (|d|^2 1 - d d^T), d = r - centre. */
    double S[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0}; /* xx xy xz yy yz zz */
    for (size_t a = 0; a < natoms; a++) {
        const double dx = xyz[3 * a] - c[0], dy = xyz[3 * a + 1] - c[1],
                     dz = xyz[3 * a + 2] - c[2];
        S[0] += w[a] * dx * dx;
        S[1] += w[a] * dx * dy;
        S[2] += w[a] * dx * dz;
        S[3] += w[a] * dy * dy;
        S[4] += w[a] * dy * dz;
        S[5] += w[a] * dz * dz;
    }
    const double I[9] = {
        S[3] + S[5], -S[1],       -S[2],       /* row x */
        -S[1],       S[0] + S[5], -S[4],       /* row y */
        -S[2],       -S[4],       S[0] + S[3], /* row z */
    };
    double lambda[3], V[9];
    frame_eigen_sym3(I, lambda, V);

    /* Ascending moments; at exact ties the solver's order is kept (the
     * axes are then arbitrary within the degenerate plane, and the health
     * gap says so). */
    int order[3] = {0, 1, 2};
    for (int i = 1; i < 3; i++)
        for (int j = i; j > 0 && lambda[order[j]] < lambda[order[j - 1]]; j--) {
            const int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    double e[3][3];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++)
            e[k][i] = V[3 * i + order[k]];

    /*
     * Each axis is signed on its own; det Q is never forced to +1 (no
     * e3 = e1 x e2, no flipping the least reliable axis).  RE, ID and CM
     * cannot tell a molecule from its mirror image MX, while mu(MX) =
     * M mu(X): the frame targets are a single-valued function of the
     * descriptor only if Q(MX) = Q(X) M^T, which makes det Q(MX) =
     * -det Q(X).  A proper-only frame would give mirror pairs (every +wag
     * / -wag pair of a planar molecule) equal descriptors but opposite
     * frame components.  Back-rotation with Q^T is correct either way.
     */
    const double rms = sqrt((S[0] + S[3] + S[5]) / W);
    int state[3];
    health->sign_fallback = 0;
    for (int k = 0; k < 3; k++) {
        int fallback;
        state[k] =
            frame_sign_axis(natoms, w, xyz, c, W, rms, opt->sign_tol, e[k],
                            &health->sign_reliability[k], &fallback);
        if (fallback)
            health->sign_fallback |= 1 << k;
    }
    /* An axis normal to a planar (or linear) molecule has no sign any rule
     * can read, but such a molecule is its own mirror image, so either
     * handedness is consistent: complete it as e_k = e_(k+1) x e_(k+2),
     * which is covariant under proper rotations.  For a linear molecule
     * the first unsigned axis keeps the solver's sign: it is arbitrary
     * anyway (gap23 = 0). */
    for (int k = 0; k < 3; k++) {
        if (state[k] != FRAME_UNSIGNED)
            continue;
        const int k1 = (k + 1) % 3, k2 = (k + 2) % 3;
        if (state[k1] != FRAME_UNSIGNED && state[k2] != FRAME_UNSIGNED)
            frame_cross(e[k1], e[k2], e[k]);
        state[k] = FRAME_SIGNED;
    }

    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 3; i++)
            Q[3 * k + i] = e[k][i];
        origin[k] = c[k];
        health->moments[k] = lambda[order[k]];
    }
    const double *m = health->moments;
    health->gap12 = m[1] + m[0] > 0.0 ? (m[1] - m[0]) / (m[1] + m[0]) : 0.0;
    health->gap23 = m[2] + m[1] > 0.0 ? (m[2] - m[1]) / (m[2] + m[1]) : 0.0;
    health->improper = frame_det3(Q) < 0.0;
    return RPR_OK;
}

/* ------------------------------------------------------------ kabsch */

/*
 * Singular values and vectors of a 3x3 matrix by one-sided (Hestenes)
 * Jacobi: rotate pairs of columns of A until every pair is orthogonal to
 * working precision, accumulating the rotations in V; then A V = U diag(s).
 * Working on the columns of A itself (not on A^T A) keeps small singular
 * values at the absolute accuracy eps ||A|| instead of eps ||A||^2 / s3,
 * which matters for the margin s3/s1 near planar geometries (Demmel and
 * Veselic, SIAM J. Matrix Anal. Appl. 13, 1204 (1992)).  On return the
 * columns of A hold U diag(s) (unsorted, unnormalised), V is orthogonal.
 */
static void frame_svd_jacobi3(double A[9], double V[9])
{
    for (int i = 0; i < 9; i++)
        V[i] = i % 4 == 0 ? 1.0 : 0.0;
    static const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
    for (int sweep = 0; sweep < FRAME_JACOBI_MAX_SWEEPS; sweep++) {
        int rotated = 0;
        for (int k = 0; k < 3; k++) {
            const int p = pairs[k][0], q = pairs[k][1];
            double alpha = 0.0, beta = 0.0, gamma = 0.0;
            for (int i = 0; i < 3; i++) {
                alpha += A[3 * i + p] * A[3 * i + p];
                beta += A[3 * i + q] * A[3 * i + q];
                gamma += A[3 * i + p] * A[3 * i + q];
            }
            /* Orthogonal to working precision: the test of Demmel and
             * Veselic, relative to the two column norms. */
            if (!(fabs(gamma) > DBL_EPSILON * sqrt(alpha) * sqrt(beta)))
                continue;
            const double zeta = (beta - alpha) / (2.0 * gamma);
            /* Smaller root of t^2 + 2 zeta t - 1 = 0; hypot avoids
             * overflowing zeta^2 for very unequal columns. */
            const double t =
                (zeta >= 0.0 ? 1.0 : -1.0) / (fabs(zeta) + hypot(1.0, zeta));
            const double cs = 1.0 / sqrt(1.0 + t * t), sn = cs * t;
            for (int i = 0; i < 3; i++) {
                const double ap = A[3 * i + p], aq = A[3 * i + q];
                A[3 * i + p] = cs * ap - sn * aq;
                A[3 * i + q] = sn * ap + cs * aq;
                const double vp = V[3 * i + p], vq = V[3 * i + q];
                V[3 * i + p] = cs * vp - sn * vq;
                V[3 * i + q] = sn * vp + cs * vq;
            }
            rotated = 1;
        }
        if (!rotated)
            break;
    }
}

rpr_status frame_kabsch(size_t natoms, const double *w, const double *ref,
                        const double *xyz, double Q[9], double origin[3],
                        double *margin, rpr_error *err)
{
    rpr_status st = frame_check_input(natoms, w, xyz, "geometry", err);
    if (st == RPR_OK)
        st = frame_check_input(natoms, w, ref, "reference", err);
    if (st != RPR_OK)
        return st;
    if (frame_all_coincide(natoms, xyz))
        return RPR_FAIL(err, RPR_EDEGENERATE,
                        "frame: all %zu atoms of the geometry at one point",
                        natoms);
    if (frame_all_coincide(natoms, ref))
        return RPR_FAIL(err, RPR_EDEGENERATE,
                        "frame: all %zu atoms of the reference at one point",
                        natoms);

    double cx[3], cy[3];
    frame_centre(natoms, w, xyz, cx);
    frame_centre(natoms, w, ref, cy);

    /* C = sum w y x^T with both sets centred; scale = sum w |y| |x| bounds
     * every |C_ij| and sets the rounding level of C. */
    double C[9] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    double scale = 0.0;
    for (size_t a = 0; a < natoms; a++) {
        double x[3], y[3];
        for (int i = 0; i < 3; i++) {
            x[i] = xyz[3 * a + i] - cx[i];
            y[i] = ref[3 * a + i] - cy[i];
        }
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                C[3 * i + j] += w[a] * y[i] * x[j];
        scale += w[a] * sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]) *
                 sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2]);
    }

    double V[9];
    frame_svd_jacobi3(C, V); /* C now holds U diag(s) */
    double s[3];
    for (int j = 0; j < 3; j++)
        s[j] = sqrt(C[j] * C[j] + C[3 + j] * C[3 + j] + C[6 + j] * C[6 + j]);
    /* Descending order; equal values keep their order (harmless: the
     * polar factor U V^T does not depend on how equal nonzero singular
     * values are ordered). */
    int order[3] = {0, 1, 2};
    for (int i = 1; i < 3; i++)
        for (int j = i; j > 0 && s[order[j]] > s[order[j - 1]]; j--) {
            const int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    /* Singular values at the rounding level of C (forming C costs up to
     * natoms + 2 roundings per term, the SVD a few more) carry no
     * direction: their left vectors are completed below instead. */
    const double rank_tol = ((double) natoms + 16.0) * DBL_EPSILON * scale;
    if (!(s[order[0]] > rank_tol))
        return RPR_FAIL(err, RPR_EDEGENERATE,
                        "frame: geometry and reference are uncorrelated "
                        "(cross-covariance %g at rounding level %g)",
                        s[order[0]], rank_tol);
    double U[3][3], Vs[3][3]; /* columns k as U[k][i], sorted */
    int zero[3];
    for (int k = 0; k < 3; k++) {
        const int j = order[k];
        zero[k] = !(s[j] > rank_tol);
        for (int i = 0; i < 3; i++) {
            U[k][i] = zero[k] ? 0.0 : C[3 * i + j] / s[j];
            Vs[k][i] = V[3 * i + j];
        }
    }
    /*
     * Ties.  If s3 = 0 (a planar or linear geometry or reference), the best
     * proper and the best improper fit are equally good (their overlaps
     * differ by 2 s3): the proper one is returned, u3 = det(V) u1 x u2, so
     * det Q = +1.  If also s2 = 0 (linear), any rotation about the line
     * fits equally: u2 is the unit vector normal to u1 in the plane of u1
     * and the coordinate axis least aligned with it.  The margin s3/s1
     * (about 0 in both cases) tells the caller not to trust the frame.
     * Equal nonzero singular values are no tie: C is then invertible and
     * its polar factor is unique.
     */
    if (zero[1]) {
        int axis = 0;
        for (int i = 1; i < 3; i++)
            if (fabs(U[0][i]) < fabs(U[0][axis]))
                axis = i;
        double t[3] = {0.0, 0.0, 0.0}, n = 0.0;
        t[axis] = 1.0;
        for (int i = 0; i < 3; i++)
            t[i] -= U[0][axis] * U[0][i];
        for (int i = 0; i < 3; i++)
            n += t[i] * t[i];
        n = sqrt(n);
        for (int i = 0; i < 3; i++)
            U[1][i] = t[i] / n;
    }
    if (zero[2]) {
        double Vm[9];
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++)
                Vm[3 * i + k] = Vs[k][i];
        const double d = frame_det3(Vm) < 0.0 ? -1.0 : 1.0;
        frame_cross(U[0], U[1], U[2]);
        for (int i = 0; i < 3; i++)
            U[2][i] *= d;
    }
    /* Q = U V^T maps x to y: Q x_i ~ y_i. */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            Q[3 * i + j] =
                U[0][i] * Vs[0][j] + U[1][i] * Vs[1][j] + U[2][i] * Vs[2][j];
    for (int i = 0; i < 3; i++)
        origin[i] = cx[i];
    *margin = s[order[2]] / s[order[0]];
    return RPR_OK;
}

/* ------------------------------------------------------------ transforms */

double frame_smoothstep(double t)
{
    if (t <= 0.0)
        return 0.0;
    if (t >= 1.0)
        return 1.0;
    /* 6t^5 - 15t^4 + 10t^3 in Horner form. */
    return t * t * t * (t * (6.0 * t - 15.0) + 10.0);
}

void frame_to_frame(size_t natoms, const double Q[9], const double origin[3],
                    const double *xyz, double *out)
{
    for (size_t a = 0; a < natoms; a++) {
        const double d[3] = {xyz[3 * a] - origin[0], xyz[3 * a + 1] - origin[1],
                             xyz[3 * a + 2] - origin[2]};
        for (int i = 0; i < 3; i++)
            out[3 * a + i] =
                Q[3 * i] * d[0] + Q[3 * i + 1] * d[1] + Q[3 * i + 2] * d[2];
    }
}

void frame_vector_from_lab(const double Q[9], const double v[3], double vf[3])
{
    double t[3];
    for (int i = 0; i < 3; i++)
        t[i] = Q[3 * i] * v[0] + Q[3 * i + 1] * v[1] + Q[3 * i + 2] * v[2];
    memcpy(vf, t, sizeof t); /* vf may alias v */
}

void frame_vector_to_lab(const double Q[9], const double vf[3], double v[3])
{
    double t[3];
    for (int i = 0; i < 3; i++)
        t[i] = Q[i] * vf[0] + Q[3 + i] * vf[1] + Q[6 + i] * vf[2];
    memcpy(v, t, sizeof t);
}

/* out = M A M^T for symmetric A (6 numbers xx xy xz yy yz zz); M given as a
 * function of (i, j) through the transpose flag so that one routine serves
 * both directions.  Only the upper triangle is computed, so the result is
 * exactly symmetric. */
static void frame_tensor_rotate(const double Q[9], int transpose,
                                const double a[6], double out[6])
{
    const double A[3][3] = {
        {a[0], a[1], a[2]}, {a[1], a[3], a[4]}, {a[2], a[4], a[5]}};
    double M[3][3], T[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            M[i][j] = transpose ? Q[3 * j + i] : Q[3 * i + j];
    for (int i = 0; i < 3; i++) /* T = M A */
        for (int j = 0; j < 3; j++)
            T[i][j] = M[i][0] * A[0][j] + M[i][1] * A[1][j] + M[i][2] * A[2][j];
    static const int idx[6][2] = {{0, 0}, {0, 1}, {0, 2},
                                  {1, 1}, {1, 2}, {2, 2}};
    double r[6];
    for (int k = 0; k < 6; k++) { /* (T M^T)_ij = sum_l T_il M_jl */
        const int i = idx[k][0], j = idx[k][1];
        r[k] = T[i][0] * M[j][0] + T[i][1] * M[j][1] + T[i][2] * M[j][2];
    }
    memcpy(out, r, sizeof r); /* out may alias a */
}

void frame_tensor_from_lab(const double Q[9], const double a[6], double af[6])
{
    frame_tensor_rotate(Q, 0, a, af);
}

void frame_tensor_to_lab(const double Q[9], const double af[6], double a[6])
{
    frame_tensor_rotate(Q, 1, af, a);
}
