/*
 * test_spectrum.c - IR and Raman spectra without reference data: constants
 * recomputed from CODATA, the harmonic sum rules (IR and Raman), a pure
 * tone's peak and window widths against the analytic line shapes,
 * Parseval, a rigid rotor, rotation/reflection invariance, the
 * isotropic/anisotropic split, the jackknife, an independent IR
 * reimplementation, FFT against direct paths, the property-file reader and
 * every error path.
 */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpr.h"
#include "spectrum.h"
#include "testutil.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* CODATA 2018 in SI: exact h, e, k_B, N_A, c; measured eps0, a0, E_h, u. */
static const double si_h = 6.62607015e-34, si_e = 1.602176634e-19;
static const double si_kb = 1.380649e-23, si_na = 6.02214076e23;
static const double si_c = 299792458.0, si_eps0 = 8.8541878128e-12;
static const double si_a0 = 5.29177210903e-11, si_eh = 4.3597447222071e-18;
static const double si_amu = 1.66053906660e-27;

static const double eps = DBL_EPSILON;
static const uint64_t seed = 0x5eC7a1u;

/* ------------------------------------------------------------ helpers */

/* Error bound of one lag of the FFT correlation.  Higham, Accuracy and
 * Stability of Numerical Algorithms, Thm 24.2: the computed FFT of P points
 * has ||dY||_2 <= log2(P) eta ||Y||_2, eta = mu + gamma_4 (sqrt 2 + mu) <
 * 8 eps.  Then ||d|Y|^2||_1 <= 2 ||Y|| ||dY|| <= 16 eps log2(P) P S with
 * S = sum_t y_t^2 (Parseval: ||Y||^2 = P S), and the inverse (divided by
 * P) turns a 1-norm into a max-norm bound: 16 eps log2(P) S.  The inverse's
 * own rounding: 8 eps log2(P) ||r||_2 <= 8 eps log2(P) sqrt(P) S. */
static double acf_fft_tol(size_t P, double S)
{
    const double lg = log2((double) P);
    return 8.0 * eps * lg * (2.0 + sqrt((double) P)) * S;
}

/* Largest |value| of a column. */
static double col_max(const rpr_spectrum *sp, const char *name)
{
    const double *const v = rpr_spectrum_find(sp, name);
    double m = 0.0;
    for (size_t k = 0; k < rpr_spectrum_nbins(sp); k++)
        if (fabs(v[k]) > m)
            m = fabs(v[k]);
    return m;
}

/* Compare a column of two spectra bin by bin; report the first miss. */
static void check_col_close(const rpr_spectrum *a, const rpr_spectrum *b,
                            const char *name, double tol, const char *what)
{
    const double *const x = rpr_spectrum_find(a, name);
    const double *const y = rpr_spectrum_find(b, name);
    CHECK(x != NULL && y != NULL);
    CHECK(rpr_spectrum_nbins(a) == rpr_spectrum_nbins(b));
    if (x == NULL || y == NULL ||
        rpr_spectrum_nbins(a) != rpr_spectrum_nbins(b))
        return;
    for (size_t k = 0; k < rpr_spectrum_nbins(a); k++) {
        if (isnan(x[k]) && isnan(y[k]))
            continue;
        if (!(fabs(x[k] - y[k]) <= tol)) {
            fprintf(stderr,
                    "%s: column %s bin %zu: %.17g vs %.17g (tol %.3g)\n", what,
                    name, k, x[k], y[k], tol);
            test_failures++;
            return;
        }
    }
}

/* Derivative-channel sum S = sum_s w_s sum_t y_s[t]^2 of an IR series in
 * (D/fs)^2, an upper bound on what the correlation sees. */
static double ir_sumsq(size_t n, const double *mu, double dt)
{
    double s = 0.0;
    for (size_t t = 0; t + 2 < n; t++)
        for (size_t c = 0; c < 3; c++) {
            const double d = (mu[3 * (t + 2) + c] - mu[3 * t + c]) /
                             (2.0 * dt) * RPR_DEBYE_PER_EBOHR;
            s += d * d;
        }
    return s;
}

/* Raman counterpart, (bohr^3/fs)^2, with the anisotropic weights (<= 3)
 * bounded by 3 and the mean by the largest component. */
static double raman_sumsq(size_t n, const double *al, double dt)
{
    double s = 0.0;
    for (size_t t = 0; t + 2 < n; t++)
        for (size_t c = 0; c < 6; c++) {
            const double d = (al[6 * (t + 2) + c] - al[6 * t + c]) / (2.0 * dt);
            s += 3.0 * 2.0 * d * d;
        }
    return s;
}

/* A multi-mode signal: sum of cosines at high-entropy wavenumbers plus
 * white noise, [n][ncomp]. */
static void make_signal(test_rng *r, size_t n, size_t ncomp, double dt,
                        double amp, double noise, double *v)
{
    static const double nus[4] = {712.3, 1233.7, 1451.9, 3011.1};
    double ph[4][6], am[4][6];
    for (size_t j = 0; j < 4; j++)
        for (size_t c = 0; c < ncomp; c++) {
            ph[j][c] = 2.0 * M_PI * test_rng_uniform(r);
            am[j][c] = amp * (0.3 + test_rng_uniform(r));
        }
    for (size_t t = 0; t < n; t++)
        for (size_t c = 0; c < ncomp; c++) {
            double s = 0.0;
            for (size_t j = 0; j < 4; j++)
                s += am[j][c] * cos(2.0 * M_PI * RPR_C_CM_PER_FS * nus[j] *
                                        (double) t * dt +
                                    ph[j][c]);
            v[t * ncomp + c] = s + noise * test_rng_normal(r);
        }
}

static rpr_spectrum *compute(const rpr_spectrum_options *o, size_t ns,
                             rpr_series **s, int direct)
{
    rpr_spectrum *sp = NULL;
    rpr_error err = {0};
    CHECK_OK(spectrum_compute(o, ns, (const rpr_series *const *) s, direct, &sp,
                              &err),
             &err);
    return sp;
}

/* ------------------------------------------------------------ constants */

static void test_constants(void)
{
    /* The macros carry 10 significant digits: relative rounding <= 5e-10. */
    const double rt = 5e-10;
    const double debye = 1e-21 / si_c;
    CHECK_CLOSE(RPR_DEBYE_PER_EBOHR, si_e * si_a0 / debye, rt, 0.0);
    CHECK_CLOSE(RPR_C2_CM_K, si_h * si_c / si_kb * 100.0, rt, 0.0);
    CHECK_CLOSE(RPR_C_CM_PER_FS, si_c * 100.0 * 1e-15, 1e-15, 0.0);
    /* 2 N_A / (12 eps0 c k_B) (1 D/fs)^2 (1 fs) in m^2 K/mol; 1 m^2 =
     * 1e-3 km x 1e2 cm. */
    const double k_ir = 2.0 * si_na / (12.0 * si_eps0 * si_c * si_kb) *
                        (debye / 1e-15) * (debye / 1e-15) * 1e-15 * 0.1;
    CHECK_CLOSE(RPR_IR_CONSTANT, k_ir, rt, 0.0);
    /* The reference notes' practical value 3047.2310 used older constants:
     * agreement to 1 part in 1e-6 shows the same formula. */
    CHECK_CLOSE(RPR_IR_CONSTANT, 3047.2310, 1e-6, 0.0);
    /* h / (4 eps0^2 k_B) (1 a.u./fs)^2 (1 fs) (1 cm^-1)^3 in m^3 K, then
     * 1 m^3 = 1e30 (1e-30 m^2) x 1e2 cm. */
    const double au_pol = si_e * si_e * si_a0 * si_a0 / si_eh;
    const double k_raman = si_h / (4.0 * si_eps0 * si_eps0 * si_kb) *
                           (au_pol / 1e-15) * (au_pol / 1e-15) * 1e-15 * 1e6 *
                           1e30 * 1e2;
    CHECK_CLOSE(RPR_RAMAN_CONSTANT, k_raman, rt, 0.0);
    CHECK_CLOSE(RPR_RAMAN_CONSTANT, 4.160440e-18, 1e-6, 0.0);
}

/* Q at 300 K against the reference table (3 significant digits: half a
 * unit of the last printed digit). */
static void test_qcf(void)
{
    static const double nu[4] = {300, 700, 1400, 3000};
    static const double want[3][4] = {{1.62, 1.93, 2.00, 2.00},
                                      {1.89, 3.48, 6.72, 14.39},
                                      {2.05, 5.36, 28.7, 1331}};
    static const double half_unit[3][4] = {{0.005, 0.005, 0.005, 0.005},
                                           {0.005, 0.005, 0.005, 0.005},
                                           {0.005, 0.005, 0.05, 0.5}};
    static const rpr_qcf kinds[3] = {RPR_QCF_STANDARD, RPR_QCF_HARMONIC,
                                     RPR_QCF_SCHOFIELD};
    for (size_t q = 0; q < 3; q++)
        for (size_t j = 0; j < 4; j++) {
            CHECK_CLOSE(spectrum_qcf(kinds[q], nu[j], 300.0), want[q][j], 0.0,
                        half_unit[q][j]);
            /* ratio x harmonic = Q, to a few roundings. */
            CHECK_CLOSE(spectrum_qcf_ratio(kinds[q], nu[j], 300.0) *
                            spectrum_qcf(RPR_QCF_HARMONIC, nu[j], 300.0),
                        spectrum_qcf(kinds[q], nu[j], 300.0), 8 * eps, 0.0);
        }
    for (int q = 0; q < 4; q++) {
        CHECK(spectrum_qcf((rpr_qcf) q, 0.0, 300.0) == 1.0);
        CHECK(spectrum_qcf_ratio((rpr_qcf) q, 0.0, 300.0) == 1.0);
    }
    CHECK(spectrum_qcf_ratio(RPR_QCF_CLASSICAL, 1000.0, 300.0) *
              spectrum_qcf(RPR_QCF_HARMONIC, 1000.0, 300.0) <=
          1.0 + 4 * eps);
    /* FD correction at dt = 0.5 fs against the reference table (printed to
     * 5, 5 and 4 digits). */
    CHECK_CLOSE(spectrum_fd_correction(750, 0.5), 1.0017, 0.0, 5e-5);
    CHECK_CLOSE(spectrum_fd_correction(1450, 0.5), 1.0062, 0.0, 5e-5);
    CHECK_CLOSE(spectrum_fd_correction(3000, 0.5), 1.027, 0.0, 5e-4);
    CHECK(spectrum_fd_correction(0.0, 0.5) == 1.0);
}

static void test_fft_size(void)
{
    for (size_t n = 1; n < 3000; n += 7) {
        const size_t p = spectrum_fft_size(n);
        CHECK(p >= n);
        size_t q = p;
        for (size_t f = 2; f <= 7; f++)
            while (q % f == 0)
                q /= f;
        CHECK(q == 1);
        /* Minimal: nothing in [n, p) is 7-smooth. */
        for (size_t r = n; r < p; r++) {
            size_t z = r;
            for (size_t f = 2; f <= 7; f++)
                while (z % f == 0)
                    z /= f;
            CHECK(z != 1);
        }
    }
}

/* ------------------------------------------------------------ Raman split */

static void test_raman_split(void)
{
    test_rng r = {seed};
    for (int trial = 0; trial < 20; trial++) {
        double a[6], beta[6], abar;
        double norm2 = 0.0;
        for (size_t c = 0; c < 6; c++) {
            a[c] = 40.0 * test_rng_normal(&r);
            norm2 += a[c] * a[c];
        }
        spectrum_raman_split(a, &abar, beta);
        /* Trace: three additions and a division, each relative eps/2 of
         * sums bounded by |a|: 4 eps |a|. */
        CHECK_CLOSE(beta[0] + beta[3] + beta[5], 0.0, 0.0,
                    8 * eps * sqrt(norm2));
        CHECK_CLOSE(abar, (a[0] + a[3] + a[5]) / 3.0, 2 * eps, 0.0);
        /* (3/2) sum_ij beta_ij^2 by the weights equals Long's gamma^2: both
         * are sums of ~12 terms bounded by 9 |a|^2. */
        double g = 0.0;
        for (size_t c = 0; c < 6; c++)
            g += spectrum_aniso_weights[c] * beta[c] * beta[c];
        CHECK_CLOSE(g, spectrum_raman_gamma2(a), 0.0, 12 * 9 * eps * norm2);
    }
    /* Known tensors: diag(1,1,1) is isotropic, diag(1,-1,0) has gamma^2 =
     * 3, an off-diagonal xy = 1 has gamma^2 = 3. */
    const double iso[6] = {2, 0, 0, 2, 0, 2};
    const double dia[6] = {1, 0, 0, -1, 0, 0};
    const double off[6] = {0, 1, 0, 0, 0, 0};
    double beta[6], abar;
    spectrum_raman_split(iso, &abar, beta);
    CHECK(abar == 2.0);
    for (size_t c = 0; c < 6; c++)
        CHECK(beta[c] == 0.0);
    CHECK(spectrum_raman_gamma2(iso) == 0.0);
    CHECK(spectrum_raman_gamma2(dia) == 3.0);
    CHECK(spectrum_raman_gamma2(off) == 3.0);
    spectrum_raman_split(dia, &abar, beta);
    CHECK(abar == 0.0);
}

/* ------------------------------------------------------------ windows */

/* F(nu) = dt [w0 C0 + 2 sum w C cos(2 pi c nu tau dt)] at any nu. */
static double line_at(size_t L, const double *w, const double *C, double dt,
                      double nu)
{
    double s = 0.5 * w[0] * C[0];
    for (size_t tau = 1; tau < L; tau++)
        s += w[tau] * C[tau] *
             cos(2.0 * M_PI * RPR_C_CM_PER_FS * nu * (double) tau * dt);
    return 2.0 * dt * s;
}

/* Half-maximum crossing of the line of a tone at nu0 on the side dir (+1
 * or -1), by bisection between nu0 and nu0 + dir * span. */
static double half_crossing(size_t L, const double *w, const double *C,
                            double dt, double nu0, double dir, double span)
{
    const double half = 0.5 * line_at(L, w, C, dt, nu0);
    double lo = 0.0, hi = span;
    for (int it = 0; it < 60; it++) {
        const double mid = 0.5 * (lo + hi);
        if (line_at(L, w, C, dt, nu0 + dir * mid) > half)
            lo = mid;
        else
            hi = mid;
    }
    return nu0 + dir * 0.5 * (lo + hi);
}

/* A pure tone C = cos(2 pi c nu0 t) under each window: the FWHM of the
 * line matches the analytic transform of the window. */
static void test_window_widths(void)
{
    const size_t L = 2000;
    const double dt = 0.5, T = (double) (L - 1) * dt;
    double *const w = malloc(L * sizeof *w);
    double *const C = malloc(L * sizeof *C);
    if (w == NULL || C == NULL)
        exit(99);

    /* Hann, tone at 1000 cm^-1.  The mirror line at -nu0 sits x = 2 f T =
     * 2 c (2 nu0) T away, where |W/W(0)| <= 1/(pi x (x^2 - 1)); it moves
     * the peak and the half level by <= that, and the crossing by that
     * over the slope |W'(1)| = 3/4 (the line is sinc(x)/(1 - x^2)): each
     * side by <= 2 bound in x, relative to the half width 1.  Trapezoid
     * error (the window's odd derivatives vanish at T): ~1e-12; bisection
     * to 2^-60 of the span. */
    {
        const double nu0 = 1000.0;
        for (size_t tau = 0; tau < L; tau++)
            C[tau] =
                cos(2.0 * M_PI * RPR_C_CM_PER_FS * nu0 * (double) tau * dt);
        spectrum_window(RPR_WINDOW_HANN, L, 0.0, w);
        CHECK(w[0] == 1.0);
        CHECK(fabs(w[L - 1]) < 1e-30);
        const double fwhm = spectrum_window_fwhm_cm(RPR_WINDOW_HANN, L, dt, 0);
        CHECK_CLOSE(fwhm, 1.0 / (RPR_C_CM_PER_FS * T), 4 * eps, 0.0);
        /* The reference table: 33 356 / T_L[fs], 16.3 cm^-1 at L = 4096. */
        CHECK_CLOSE(spectrum_window_fwhm_cm(RPR_WINDOW_HANN, 4096, 0.5, 0),
                    16.3, 0.0, 0.05);
        const double x = 2.0 * RPR_C_CM_PER_FS * 2.0 * nu0 * T;
        const double bound = 1.0 / (M_PI * x * (x * x - 1.0));
        const double up = half_crossing(L, w, C, dt, nu0, 1.0, 2.0 * fwhm);
        const double dn = half_crossing(L, w, C, dt, nu0, -1.0, 2.0 * fwhm);
        CHECK_CLOSE(up - dn, fwhm, 2.0 * bound + 1e-10, 0.0);
        CHECK_CLOSE(0.5 * (up + dn), nu0, 0.0, fwhm * (2.0 * bound + 1e-10));
    }
    /* Gaussian with a = T/4: the truncated tail is erfc(4) ~ 1.5e-8 of the
     * area; it moves the half level by that and the crossing by that over
     * the slope 2 y_h G(y_h) = y_h at y_h = sqrt(ln 2): relative
     * 1.5 erfc / y_h^2 per side. */
    {
        const double nu0 = 1000.0, a = T / 4.0;
        for (size_t tau = 0; tau < L; tau++)
            C[tau] =
                cos(2.0 * M_PI * RPR_C_CM_PER_FS * nu0 * (double) tau * dt);
        spectrum_window(RPR_WINDOW_GAUSSIAN, L, a / dt, w);
        CHECK(w[0] == 1.0);
        const double fwhm =
            spectrum_window_fwhm_cm(RPR_WINDOW_GAUSSIAN, L, dt, a);
        /* Reference table: 17.7 cm^-1 at a = 1000 fs. */
        CHECK_CLOSE(spectrum_window_fwhm_cm(RPR_WINDOW_GAUSSIAN, L, dt, 1000),
                    17.7, 0.0, 0.05);
        const double tol = 1.5 * erfc(T / a) / log(2.0) * 2.0 + 1e-10;
        const double up = half_crossing(L, w, C, dt, nu0, 1.0, 2.0 * fwhm);
        const double dn = half_crossing(L, w, C, dt, nu0, -1.0, 2.0 * fwhm);
        CHECK_CLOSE(up - dn, fwhm, tol, 0.0);
    }
    /* Rectangular: Dirichlet kernel ~ sinc over (L - 1/2) dt.  The mirror
     * tail is <= 1/(pi x); the slope at x_h = 0.6034 is 1.358; the kernel
     * differs from sinc by (w dt / 2)^2 / 6 ~ 1e-6 near the peak. */
    {
        const double nu0 = 3000.0;
        for (size_t tau = 0; tau < L; tau++)
            C[tau] =
                cos(2.0 * M_PI * RPR_C_CM_PER_FS * nu0 * (double) tau * dt);
        spectrum_window(RPR_WINDOW_NONE, L, 0.0, w);
        const double fwhm = spectrum_window_fwhm_cm(RPR_WINDOW_NONE, L, dt, 0);
        const double x = 2.0 * RPR_C_CM_PER_FS * 2.0 * nu0 * T;
        const double tol = 1.5 / (M_PI * x) / (1.358 * 0.6034) + 1e-5;
        const double up = half_crossing(L, w, C, dt, nu0, 1.0, fwhm);
        const double dn = half_crossing(L, w, C, dt, nu0, -1.0, fwhm);
        CHECK_CLOSE(up - dn, fwhm, tol, 0.0);
    }
    free(w);
    free(C);
}

/* ------------------------------------------------------------ transforms */

/* DCT-I: FFTW against the direct sum, and Parseval for the mirrored
 * sequence: Y0^2 + Y_{n-1}^2 + 2 sum Y_k^2 = N (x0^2 + x_{n-1}^2 +
 * 2 sum x_j^2), N = 2(n - 1); and the zero-lag sum rule (trapezoid of Y)
 * = N x0 / 2. */
static void test_dct_parseval(void)
{
    test_rng r = {seed + 1};
    rpr_error err = {0};
    const size_t n = 4 * 300 + 1, N = 2 * (n - 1);
    double *const x = malloc(n * sizeof *x);
    double *const y1 = malloc(n * sizeof *y1);
    double *const y2 = malloc(n * sizeof *y2);
    if (x == NULL || y1 == NULL || y2 == NULL)
        exit(99);
    double ex = 0.0, sumabs = 0.0;
    for (size_t j = 0; j < n; j++) {
        x[j] = j < 300 ? test_rng_normal(&r) : 0.0;
        const double m = (j == 0 || j == n - 1) ? 1.0 : 2.0;
        ex += m * x[j] * x[j];
        sumabs += m * fabs(x[j]);
    }
    spectrum_dct_direct(n, x, n, y1);
    CHECK_OK(spectrum_dct(n, x, y2, &err), &err);
    CHECK_STATUS(spectrum_dct(1, x, y2, &err), RPR_EINVAL);
    /* Direct sum: n terms, each cos with relative error ~eps: n eps
     * sum|x|.  FFTW: Higham's bound 8 eps log2(N) ||Y||_2 with ||Y||_2 =
     * sqrt(N ex) (Parseval). */
    const double tol =
        n * eps * sumabs + 8 * eps * log2((double) N) * sqrt((double) N * ex);
    double ey = 0.0, trap = 0.0;
    for (size_t k = 0; k < n; k++) {
        CHECK_CLOSE(y2[k], y1[k], 0.0, tol);
        const double m = (k == 0 || k == n - 1) ? 1.0 : 2.0;
        ey += m * y2[k] * y2[k];
        trap += 0.5 * m * y2[k];
    }
    /* Sums of N positive terms with relative errors <= tol/|Y|. */
    CHECK_CLOSE(ey, (double) N * ex, 2 * N * eps + 2 * tol / sqrt(ex), 0.0);
    CHECK_CLOSE(trap, 0.5 * (double) N * x[0], 0.0, N * tol);
    free(x);
    free(y1);
    free(y2);
}

/* The FFT correlation against the direct sums, whole and by blocks of
 * origins; the blocks add up to the whole. */
static void test_acf_fft(void)
{
    test_rng r = {seed + 2};
    rpr_error err = {0};
    const size_t m = 997, L = 300, nser = 3;
    const double weight[3] = {1.5, 3.0, 0.7};
    double *const y = malloc(nser * m * sizeof *y);
    double a1[300], a2[300], ab[300];
    if (y == NULL)
        exit(99);
    double S = 0.0;
    for (size_t i = 0; i < nser * m; i++) {
        y[i] = test_rng_normal(&r) + 0.5;
        S += weight[i / m] * y[i] * y[i];
    }
    const size_t P = spectrum_fft_size(m + L - 1);
    /* Direct sums: m products, each rounded, plus the sum: 2 m eps S. */
    const double tol = acf_fft_tol(P, S) + 2.0 * m * eps * S;
    memset(a1, 0, sizeof a1);
    memset(a2, 0, sizeof a2);
    spectrum_acf_direct(m, nser, y, weight, 0, m, L, a1);
    CHECK_OK(spectrum_acf_fft(m, nser, y, weight, 0, m, L, a2, &err), &err);
    for (size_t tau = 0; tau < L; tau++)
        CHECK_CLOSE(a2[tau], a1[tau], 0.0, tol);
    /* Blocks [lo, hi) of origins: a cross-correlation. */
    memset(ab, 0, sizeof ab);
    const size_t cut[4] = {0, 211, 640, m};
    for (size_t b = 0; b < 3; b++) {
        memset(a1, 0, sizeof a1);
        memset(a2, 0, sizeof a2);
        spectrum_acf_direct(m, nser, y, weight, cut[b], cut[b + 1], L, a1);
        CHECK_OK(spectrum_acf_fft(m, nser, y, weight, cut[b], cut[b + 1], L, a2,
                                  &err),
                 &err);
        for (size_t tau = 0; tau < L; tau++) {
            CHECK_CLOSE(a2[tau], a1[tau], 0.0, tol);
            ab[tau] += a1[tau];
        }
    }
    memset(a1, 0, sizeof a1);
    spectrum_acf_direct(m, nser, y, weight, 0, m, L, a1);
    for (size_t tau = 0; tau < L; tau++)
        CHECK_CLOSE(ab[tau], a1[tau], 0.0, 4 * m * eps * S);
    CHECK_STATUS(spectrum_acf_fft(m, 8, y, weight, 0, m, L, a2, &err),
                 RPR_EINVAL);
    CHECK_STATUS(spectrum_acf_fft(m, nser, y, weight, 0, m, m + 1, a2, &err),
                 RPR_EINVAL);
    free(y);
}

/* ------------------------------------------------------------ IR physics */

/* mu = d Q(t), Q a classical harmonic oscillator at nu_h with <Q'^2> = kT
 * (time average of one trajectory), d = 1 D/A/amu^(1/2): the band sits at
 * nu_h and integrates to N_A d^2 / (12 eps0 c^2) = 42.256 km/mol. */
static void test_ir_sum_rule(void)
{
    const size_t n = 10001;
    const double dt = 0.5, T = 300.0, nu_h = 1000.0;
    const double w = 2.0 * M_PI * RPR_C_CM_PER_FS * nu_h; /* rad/fs */
    /* kT in amu A^2 fs^-2 */
    const double kt = si_kb * T / (si_amu * 1e-20 / 1e-30);
    const double amp = sqrt(2.0 * kt) / w; /* amu^(1/2) A */
    double *const mu = malloc(3 * n * sizeof *mu);
    if (mu == NULL)
        exit(99);
    /* A unit direction not along an axis; d Q in D, stored in e*bohr. */
    const double u[3] = {0.48, -0.6, 0.64};
    for (size_t t = 0; t < n; t++) {
        const double q = amp * cos(w * (double) t * dt + 0.3);
        for (size_t c = 0; c < 3; c++)
            mu[3 * t + c] = u[c] * q / RPR_DEBYE_PER_EBOHR;
    }
    rpr_series *s = NULL;
    rpr_error err = {0};
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0.0, dt, mu, &s, &err), &err);
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.depth = 2000;
    o.max_wavenumber_cm = 20000.0;
    rpr_spectrum *sp = compute(&o, 1, &s, 0);
    if (sp == NULL)
        return;
    const double *const nu = rpr_spectrum_find(sp, "wavenumber");
    const double *const a = rpr_spectrum_find(sp, "ir");
    const double *const integ = rpr_spectrum_find(sp, "ir_integral");
    const size_t nb = rpr_spectrum_nbins(sp);
    rpr_spectrum_info info;
    rpr_spectrum_get_info(sp, &info);
    size_t kmax = 0;
    for (size_t k = 0; k < nb; k++)
        if (a[k] > a[kmax])
            kmax = k;
    /* Peak within one grid spacing (the mirror line shifts it by far
     * less). */
    CHECK_CLOSE(nu[kmax], nu_h, 0.0, info.spacing_cm);
    CHECK_CLOSE(info.spacing_cm,
                1.0 / (2.0 * 4.0 * 2000.0 * RPR_C_CM_PER_FS * dt), 4 * eps,
                0.0);
    /* Static value, from SI: N_A (1 D/A)^2 / amu / (12 eps0 c^2) in
     * km/mol. */
    const double dsi = 1e-21 / si_c / 1e-10;
    const double want =
        si_na * dsi * dsi / si_amu / (12.0 * si_eps0 * si_c * si_c) / 1e3;
    CHECK_CLOSE(want, 42.256, 0.0, 5e-4);
    /* Tolerance.  The discrete sum rule is exact (trapezoid of the DCT =
     * C(0)/(2c)), and the FD correction restores <mu'^2> exactly at nu_h;
     * what remains: (1) the time average of sin^2 over the m = n - 2
     * derivative frames differs from 1/2 by <= 1/(2 m sin(w dt)), relative
     * 1/(m sin(w dt)); (2) the correction's curvature over the line,
     * g''/2 sigma^2 with sigma^2 = 1/(8 c^2 T_L^2): < 1e-6; (3) the line's
     * tail beyond 20000 cm^-1 and the Nyquist bin: < 1e-6; (4) the
     * prefactor, 10 digits. */
    const double m = (double) (n - 2);
    const double tol = 1.0 / (m * sin(w * dt)) + 2e-6;
    CHECK_CLOSE(integ[nb - 1], want, tol, 0.0);
    CHECK(tol < 5e-3); /* the bound: 0.5 % */
    printf("IR sum rule: %.6f km/mol, static %.6f, relative %.2e (tol %.2e);"
           " peak %.2f cm^-1\n",
           integ[nb - 1], want, integ[nb - 1] / want - 1.0, tol, nu[kmax]);
    rpr_spectrum_free(sp);
    rpr_series_free(s);
    free(mu);
}

/* A constant dipole rotating rigidly about a random axis: its derivative's
 * ACF is exactly |mu'|^2 cos(W tau), so the spectrum is the window's line
 * at the rotation wavenumber and its mirror; above 500 cm^-1 only their
 * sidelobes, |W/W(0)| <= 1/(pi x (x^2 - 1)). */
static void test_rigid_rotor(void)
{
    test_rng r = {seed + 3};
    const size_t n = 6001, L = 2000;
    const double dt = 0.5, nu_r = 11.3, cut = 500.0;
    const double W = 2.0 * M_PI * RPR_C_CM_PER_FS * nu_r;
    double R[9];
    test_random_orthogonal(&r, 1, R);
    double *const mu = malloc(3 * n * sizeof *mu);
    if (mu == NULL)
        exit(99);
    for (size_t t = 0; t < n; t++) {
        const double p[3] = {0.7 * cos(W * (double) t * dt),
                             0.7 * sin(W * (double) t * dt), 0.25};
        test_transform(1, R, NULL, p, mu + 3 * t);
    }
    rpr_series *s = NULL;
    rpr_error err = {0};
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0.0, dt, mu, &s, &err), &err);
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.depth = L;
    rpr_spectrum *sp = compute(&o, 1, &s, 0);
    if (sp == NULL)
        return;
    const double *const nu = rpr_spectrum_find(sp, "wavenumber");
    const double *const a = rpr_spectrum_find(sp, "ir");
    const double peak = col_max(sp, "ir");
    const double Tl = (double) (L - 1) * dt;
    const double x = 2.0 * RPR_C_CM_PER_FS * (cut - nu_r) * Tl;
    /* F = c0/2 [W(nu - nu_r) + W(nu + nu_r)]: the peak is at least F(0) =
     * c0 W(nu_r) = 0.736 c0 W(0) (sinc(x)/(1 - x^2) at x = 2 c nu_r T_L =
     * 0.677), the two tails at most c0 bound W(0); the FD correction grows
     * by g(4000) / g(0); FFT rounding is far below. */
    const double g = spectrum_fd_correction(o.max_wavenumber_cm, dt);
    const double bound = 1.0 / (M_PI * x * (x * x - 1.0)) / 0.7 * g * peak;
    double worst = 0.0;
    for (size_t k = 0; k < rpr_spectrum_nbins(sp); k++)
        if (nu[k] >= cut && fabs(a[k]) > worst)
            worst = fabs(a[k]);
    CHECK(worst <= bound);
    CHECK(peak > 0.0);
    rpr_spectrum_free(sp);
    rpr_series_free(s);
    free(mu);
}

/* The formulas of docs/spectra.md written out independently (direct
 * sums, Hann window, cosine sum at chosen wavenumbers) for trajectories of
 * different lengths, against the library's FFT path. */
static double ref_ir(size_t ns, double *const *mu, const size_t *n, double dt,
                     size_t L, double T, double nu)
{
    double *const A = calloc(L, sizeof *A);
    double *const N = calloc(L, sizeof *N);
    if (A == NULL || N == NULL)
        exit(99);
    for (size_t i = 0; i < ns; i++) {
        const size_t m = n[i] - 2;
        for (size_t tau = 0; tau < L; tau++)
            for (size_t t = 0; t + tau < m; t++) {
                for (size_t c = 0; c < 3; c++) {
                    const double d0 =
                        (mu[i][3 * (t + 2) + c] - mu[i][3 * t + c]) / (2 * dt) *
                        RPR_DEBYE_PER_EBOHR;
                    const double d1 = (mu[i][3 * (t + tau + 2) + c] -
                                       mu[i][3 * (t + tau) + c]) /
                                      (2 * dt) * RPR_DEBYE_PER_EBOHR;
                    A[tau] += d0 * d1;
                }
                N[tau] += 1.0;
            }
    }
    double F = 0.0;
    for (size_t tau = 0; tau < L; tau++) {
        const double c = cos(M_PI * (double) tau / (2.0 * (double) (L - 1)));
        F += (tau == 0 ? 1.0 : 2.0) * c * c * A[tau] / N[tau] *
             cos(2 * M_PI * RPR_C_CM_PER_FS * nu * (double) tau * dt);
    }
    F *= dt;
    free(A);
    free(N);
    const double x = 2 * M_PI * RPR_C_CM_PER_FS * nu * dt;
    const double g = x == 0.0 ? 1.0 : (x / sin(x)) * (x / sin(x));
    return 3047.232072 / T * F * g;
}

static void test_ir_independent(void)
{
    test_rng r = {seed + 4};
    enum { NS = 3 };
    const size_t n[NS] = {700, 523, 911};
    const double dt = 0.5, T = 287.0;
    const size_t L = 200;
    double *mu[NS];
    rpr_series *s[NS] = {NULL};
    rpr_error err = {0};
    double S = 0.0;
    for (size_t i = 0; i < NS; i++) {
        mu[i] = malloc(3 * n[i] * sizeof *mu[i]);
        if (mu[i] == NULL)
            exit(99);
        make_signal(&r, n[i], 3, dt, 0.05, 0.002, mu[i]);
        CHECK_OK(
            rpr_series_new(RPR_SPECTRUM_IR, n[i], 12.5, dt, mu[i], &s[i], &err),
            &err);
        S += ir_sumsq(n[i], mu[i], dt);
    }
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.depth = L;
    o.temperature_k = T;
    rpr_spectrum *sp = compute(&o, NS, s, 0);
    rpr_spectrum *sd = compute(&o, NS, s, 1);
    if (sp == NULL || sd == NULL)
        return;
    const double *const nu = rpr_spectrum_find(sp, "wavenumber");
    const double *const a = rpr_spectrum_find(sp, "ir");
    const size_t nb = rpr_spectrum_nbins(sp);
    /* The pooled ACF has N(tau) >= N(L-1) pairs; each lag errs by the FFT
     * bound (all trajectories, S) or by the direct sums (2 m eps S), both
     * over N(L-1); the transform adds 2 L such lags times dt, times the
     * prefactor and the largest correction; the cosine sums add L eps of
     * the same scale. */
    double nmin = 0.0;
    for (size_t i = 0; i < NS; i++)
        nmin += (double) (n[i] - 2 - (L - 1));
    const size_t P = spectrum_fft_size(911 - 2 + L - 1);
    const double dC = (acf_fft_tol(P, S) + 2.0 * 911 * eps * S) / nmin;
    const double gmax = spectrum_fd_correction(o.max_wavenumber_cm, dt);
    const double tol = 3047.232072 / T * gmax * dt * 2.0 * (double) L *
                       (dC + 4 * L * eps * S / nmin);
    const size_t bins[5] = {0, 17, 34, 71, nb - 1};
    CHECK(nb == 96); /* floor(4000 / 41.7) + 1 at L = 200, padding 4 */
    for (size_t j = 0; j < 5; j++)
        CHECK_CLOSE(a[bins[j]], ref_ir(NS, mu, n, dt, L, T, nu[bins[j]]), 0.0,
                    tol);
    /* FFT against the direct path, every column. */
    for (size_t j = 1; j < rpr_spectrum_ncols(sp); j++) {
        const char *name;
        rpr_spectrum_column(sp, j, &name, NULL);
        const double scale = strcmp(name, "ir_integral") == 0
                                 ? rpr_spectrum_find(sp, "wavenumber")[nb - 1]
                                 : 1.0;
        check_col_close(sp, sd, name, 2.0 * tol * scale, "FFT vs direct");
    }
    rpr_spectrum_info info;
    rpr_spectrum_get_info(sp, &info);
    CHECK(info.nseries == NS && info.nunits == NS && info.depth == L);
    CHECK(info.nsteps_min == 523 && info.nsteps_max == 911);
    rpr_spectrum_free(sp);
    rpr_spectrum_free(sd);
    for (size_t i = 0; i < NS; i++) {
        rpr_series_free(s[i]);
        free(mu[i]);
    }
}

/* Equal-length trajectories: the pooled spectrum is the mean of the
 * single-trajectory spectra and the jackknife error is their standard
 * error, s / sqrt(U). */
static void test_jackknife(void)
{
    test_rng r = {seed + 5};
    enum { NS = 4 };
    const size_t n = 800, L = 250;
    const double dt = 0.5;
    double *mu[NS];
    rpr_series *s[NS] = {NULL};
    rpr_spectrum *one[NS] = {NULL};
    rpr_error err = {0};
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.depth = L;
    o.blocks = 0;
    double S = 0.0;
    for (size_t i = 0; i < NS; i++) {
        mu[i] = malloc(3 * n * sizeof *mu[i]);
        if (mu[i] == NULL)
            exit(99);
        make_signal(&r, n, 3, dt, 0.05, 0.01, mu[i]);
        CHECK_OK(
            rpr_series_new(RPR_SPECTRUM_IR, n, 0.0, dt, mu[i], &s[i], &err),
            &err);
        S = fmax(S, ir_sumsq(n, mu[i], dt));
        one[i] = compute(&o, 1, &s[i], 0);
        if (one[i] == NULL)
            return;
        /* One trajectory without blocks: no error band. */
        CHECK(isnan(rpr_spectrum_find(one[i], "ir_se")[5]));
    }
    rpr_spectrum *all = compute(&o, NS, s, 0);
    if (all == NULL)
        return;
    const size_t nb = rpr_spectrum_nbins(all);
    const double *const a = rpr_spectrum_find(all, "ir");
    const double *const se = rpr_spectrum_find(all, "ir_se");
    /* Each spectrum carries the FFT bound of its own ACF (S over its
     * N(L-1) pairs); sums of 4 add 4 roundings of the largest. */
    const size_t P = spectrum_fft_size(n - 2 + L - 1);
    const double nl = (double) (n - 2 - (L - 1));
    const double gmax = spectrum_fd_correction(o.max_wavenumber_cm, dt);
    const double tol = RPR_IR_CONSTANT / 300.0 * gmax * dt * 2.0 * (double) L *
                       (acf_fft_tol(P, NS * S) + 8 * L * eps * NS * S) / nl;
    for (size_t k = 0; k < nb; k++) {
        double mean = 0.0, ss = 0.0;
        for (size_t i = 0; i < NS; i++)
            mean += rpr_spectrum_find(one[i], "ir")[k] / NS;
        for (size_t i = 0; i < NS; i++) {
            const double d = rpr_spectrum_find(one[i], "ir")[k] - mean;
            ss += d * d;
        }
        const double sem = sqrt(ss / (NS - 1) / NS);
        CHECK_CLOSE(a[k], mean, 0.0, tol);
        /* The error's error: each deviation errs by 2 tol. */
        CHECK_CLOSE(se[k], sem, 0.0, 4.0 * tol);
        if (test_failures > 0)
            break;
    }
    rpr_spectrum_free(all);
    for (size_t i = 0; i < NS; i++) {
        rpr_spectrum_free(one[i]);
        rpr_series_free(s[i]);
        free(mu[i]);
    }
}

/* One trajectory in blocks: the spectrum does not depend on the blocks
 * (they partition the origins); the error band exists. */
static void test_blocks(void)
{
    test_rng r = {seed + 6};
    const size_t n = 1601, L = 300;
    const double dt = 0.5;
    double *const mu = malloc(3 * n * sizeof *mu);
    if (mu == NULL)
        exit(99);
    make_signal(&r, n, 3, dt, 0.05, 0.01, mu);
    rpr_series *s = NULL;
    rpr_error err = {0};
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0.0, dt, mu, &s, &err), &err);
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.depth = L;
    o.blocks = 0;
    rpr_spectrum *s0 = compute(&o, 1, &s, 0);
    o.blocks = 5;
    rpr_spectrum *s5 = compute(&o, 1, &s, 0);
    rpr_spectrum *d5 = compute(&o, 1, &s, 1);
    if (s0 == NULL || s5 == NULL || d5 == NULL)
        return;
    const double S = ir_sumsq(n, mu, dt);
    const size_t P = spectrum_fft_size(n - 2 + L - 1);
    const double nl = (double) (n - 2 - (L - 1));
    const double gmax = spectrum_fd_correction(o.max_wavenumber_cm, dt);
    /* Five cross-correlations, each within the FFT bound of S. */
    const double tol = RPR_IR_CONSTANT / 300.0 * gmax * dt * 2.0 * (double) L *
                       (6.0 * acf_fft_tol(P, S) + 4.0 * n * eps * S) / nl;
    check_col_close(s0, s5, "ir", tol, "blocks vs none");
    check_col_close(s5, d5, "ir", tol, "blocks FFT vs direct");
    check_col_close(s5, d5, "ir_se", 4.0 * tol, "blocks FFT vs direct");
    const double *const se = rpr_spectrum_find(s5, "ir_se");
    double semax = 0.0;
    for (size_t k = 0; k < rpr_spectrum_nbins(s5); k++) {
        CHECK(se[k] >= 0.0);
        semax = fmax(semax, se[k]);
    }
    CHECK(semax > 0.0);
    rpr_spectrum_info info;
    rpr_spectrum_get_info(s5, &info);
    CHECK(info.nunits == 5 && info.nseries == 1);
    rpr_spectrum_free(s0);
    rpr_spectrum_free(s5);
    rpr_spectrum_free(d5);
    rpr_series_free(s);
    free(mu);
}

/* Rotating and reflecting every frame by one orthogonal R (mu -> R mu,
 * alpha -> R alpha R^T) leaves the spectra unchanged to rounding. */
static void test_invariance(void)
{
    test_rng r = {seed + 7};
    const size_t n = 1200, L = 300;
    const double dt = 0.5;
    double *const mu = malloc(3 * n * sizeof *mu);
    double *const mu2 = malloc(3 * n * sizeof *mu2);
    double *const al = malloc(6 * n * sizeof *al);
    double *const al2 = malloc(6 * n * sizeof *al2);
    if (mu == NULL || mu2 == NULL || al == NULL || al2 == NULL)
        exit(99);
    make_signal(&r, n, 3, dt, 0.05, 0.005, mu);
    make_signal(&r, n, 6, dt, 0.8, 0.05, al);
    double muabs = 0.0, alabs = 0.0;
    for (size_t t = 0; t < n; t++) {
        al[6 * t + 0] += 40.0, al[6 * t + 3] += 50.0, al[6 * t + 5] += 45.0;
        for (size_t c = 0; c < 3; c++)
            muabs = fmax(muabs, fabs(mu[3 * t + c]));
        for (size_t c = 0; c < 6; c++)
            alabs = fmax(alabs, fabs(al[6 * t + c]));
    }
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.depth = L;
    const double Sir = ir_sumsq(n, mu, dt), Sra = raman_sumsq(n, al, dt);
    const size_t P = spectrum_fft_size(n - 2 + L - 1);
    const double nl = (double) (n - 2 - (L - 1));
    const double gmax = spectrum_fd_correction(o.max_wavenumber_cm, dt);
    for (int reflect = 0; reflect < 2; reflect++) {
        double R[9];
        test_random_orthogonal(&r, reflect, R);
        for (size_t t = 0; t < n; t++) {
            test_transform(1, R, NULL, mu + 3 * t, mu2 + 3 * t);
            const double *const a = al + 6 * t;
            const double A[9] = {a[0], a[1], a[2], a[1], a[3],
                                 a[4], a[2], a[4], a[5]};
            double B[9];
            for (size_t i = 0; i < 3; i++)
                for (size_t j = 0; j < 3; j++) {
                    double sum = 0.0;
                    for (size_t k = 0; k < 3; k++)
                        for (size_t l = 0; l < 3; l++)
                            sum += R[3 * i + k] * A[3 * k + l] * R[3 * j + l];
                    B[3 * i + j] = sum;
                }
            double *const b = al2 + 6 * t;
            b[0] = B[0], b[1] = B[1], b[2] = B[2];
            b[3] = B[4], b[4] = B[5], b[5] = B[8];
        }
        rpr_series *s[4] = {NULL};
        rpr_error err = {0};
        CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0, dt, mu, &s[0], &err),
                 &err);
        CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0, dt, mu2, &s[1], &err),
                 &err);
        CHECK_OK(rpr_series_new(RPR_SPECTRUM_RAMAN, n, 0, dt, al, &s[2], &err),
                 &err);
        CHECK_OK(rpr_series_new(RPR_SPECTRUM_RAMAN, n, 0, dt, al2, &s[3], &err),
                 &err);
        o.kind = RPR_SPECTRUM_IR;
        rpr_spectrum *i1 = compute(&o, 1, &s[0], 0);
        rpr_spectrum *i2 = compute(&o, 1, &s[1], 0);
        o.kind = RPR_SPECTRUM_RAMAN;
        rpr_spectrum *r1 = compute(&o, 1, &s[2], 0);
        rpr_spectrum *r2 = compute(&o, 1, &s[3], 0);
        if (i1 == NULL || i2 == NULL || r1 == NULL || r2 == NULL)
            return;
        /* A rotated component is a 3-term dot product: error <= 3 eps
         * sum_k |R_ik| |mu_k| <= 3 sqrt(3) eps max|mu|; alpha's 9-term
         * sums with sum_kl |R_ik| |R_jl| <= 3: <= 33 eps max|alpha|.  A
         * derivative sample errs by that / dt; a lag of the ACF by 2 x
         * that x (1/N) sum_t sum_s w_s |y_s| <= 2 x that x sqrt(nser
         * w_max 4/3) sqrt(S/N) (Cauchy-Schwarz, m/N <= 4/3).  Each
         * spectrum also carries the FFT bound. */
        const double dmu = 6.0 * eps * muabs / dt * RPR_DEBYE_PER_EBOHR;
        const double dal = 33.0 * eps * alabs / dt;
        const double tir = RPR_IR_CONSTANT / 300.0 * gmax * dt * 2.0 * L *
                           (2.0 * acf_fft_tol(P, Sir) / nl +
                            2.0 * dmu * sqrt(3.0 * 4.0 / 3.0) * sqrt(Sir / nl));
        check_col_close(i1, i2, "ir", tir,
                        reflect ? "IR reflection" : "IR rotation");
        /* Raman activities: F of the ACFs; cross sections add the factor,
         * largest at the first bin. */
        const double tra_act =
            gmax * dt * 2.0 * L *
            (2.0 * acf_fft_tol(P, Sra) / nl +
             2.0 * dal * sqrt(7.0 * 3.0 * 4.0 / 3.0) * sqrt(Sra / nl));
        check_col_close(r1, r2, "iso", tra_act, "Raman iso");
        check_col_close(r1, r2, "aniso", tra_act, "Raman aniso");
        const double spacing = rpr_spectrum_find(r1, "wavenumber")[1];
        const double x = RPR_C2_CM_K * spacing / 300.0;
        const double rfmax = RPR_RAMAN_CONSTANT / 300.0 * pow(o.laser_cm, 4) /
                             spacing / (-expm1(-x));
        check_col_close(r1, r2, "unpolarised", 52.0 / 45.0 * rfmax * tra_act,
                        "Raman unpolarised");
        rpr_spectrum_free(i1);
        rpr_spectrum_free(i2);
        rpr_spectrum_free(r1);
        rpr_spectrum_free(r2);
        for (size_t i = 0; i < 4; i++)
            rpr_series_free(s[i]);
    }
    free(mu);
    free(mu2);
    free(al);
    free(al2);
}

/* ------------------------------------------------------------ Raman physics */

/* alpha = a' Q 1 + b' Q diag(1, -1, 0), Q harmonic at nu_h with <Q'^2> =
 * kT: the unpolarised band integrates to the static Placzek value
 * h (nu0 - nu)^4 / (8 eps0^2 c nu) B(nu) (45 a'^2 + 7 gamma'^2)/45 with
 * gamma'^2 = 3 b'^2, B = 1/(1 - e^-x).  Purely isotropic: rho = 0; purely
 * anisotropic: rho = 3/4. */
static const double raman_nu_lo = 500.0;

static void raman_mode(double ap, double bp, double *integral, double *rho_pk,
                       double *iso_max, double *aniso_max)
{
    const size_t n = 10001;
    const double dt = 0.5, T = 300.0, nu_h = 1000.0;
    const double w = 2.0 * M_PI * RPR_C_CM_PER_FS * nu_h;
    const double kt = si_kb * T / (si_amu * 1e-20 / 1e-30);
    const double amp = sqrt(2.0 * kt) / w;
    double *const al = malloc(6 * n * sizeof *al);
    if (al == NULL)
        exit(99);
    for (size_t t = 0; t < n; t++) {
        const double q = amp * cos(w * (double) t * dt + 1.1);
        double *const a = al + 6 * t;
        a[0] = 50.0 + ap * q + bp * q;
        a[3] = 50.0 + ap * q - bp * q;
        a[5] = 50.0 + ap * q;
        a[1] = a[2] = a[4] = 0.0;
    }
    rpr_series *s = NULL;
    rpr_error err = {0};
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_RAMAN, n, 0.0, dt, al, &s, &err),
             &err);
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.kind = RPR_SPECTRUM_RAMAN;
    o.depth = 2000;
    o.max_wavenumber_cm = 19000.0;
    rpr_spectrum *sp = compute(&o, 1, &s, 0);
    if (sp == NULL) {
        *integral = *rho_pk = *iso_max = *aniso_max = NAN;
        rpr_series_free(s);
        free(al);
        return;
    }
    const size_t nb = rpr_spectrum_nbins(sp);
    const double *const un = rpr_spectrum_find(sp, "unpolarised");
    const double *const rho = rpr_spectrum_find(sp, "depolarisation");
    size_t kmax = 0;
    for (size_t k = 0; k < nb; k++)
        if (un[k] > un[kmax])
            kmax = k;
    /* From nu_lo on: below, the cross section's 1/(nu (1 - e^-x)) ~
     * T/(c2 nu^2) amplifies the window's leakage (the Rayleigh region). */
    const double *const nu = rpr_spectrum_find(sp, "wavenumber");
    const double *const integ = rpr_spectrum_find(sp, "unpolarised_integral");
    size_t klo = 0;
    while (nu[klo] < raman_nu_lo)
        klo++;
    *integral = integ[nb - 1] - integ[klo];
    *rho_pk = rho[kmax];
    *iso_max = col_max(sp, "iso");
    *aniso_max = col_max(sp, "aniso");
    rpr_spectrum_free(sp);
    rpr_series_free(s);
    free(al);
}

static void test_raman_sum_rule(void)
{
    const double nu_h = 1000.0, T = 300.0, nu0 = 20000.0, dt = 0.5;
    const double w = 2.0 * M_PI * RPR_C_CM_PER_FS * nu_h;
    /* a', b' in bohr^3 per amu^(1/2) A; in SI C^2 m^2 J^-1 kg^-1/2 m^-1. */
    const double ap = 1.37, bp = 0.83;
    const double au_pol = si_e * si_e * si_a0 * si_a0 / si_eh;
    const double unit = au_pol / sqrt(si_amu) / 1e-10;
    const double nu_m = nu_h * 100.0, nu0_m = nu0 * 100.0; /* m^-1 */
    const double x = si_h * si_c * nu_m / (si_kb * T);
    (void) w;
    const double placzek = si_h * pow(nu0_m - nu_m, 4) /
                           (8.0 * si_eps0 * si_eps0 * si_c * nu_m) /
                           (-expm1(-x)) / 45.0 * unit * unit;
    const double to_out = 1e30; /* m^2 -> 1e-30 m^2 */
    /* Tolerance: (1) the sampling of sin^2 over m frames, 1/(m sin(w dt));
     * (2) the curvature of f = (nu0 - nu)^4 / nu / (1 - e^-x) over the
     * line: |f''/f| sigma^2 / 2 with sigma^2 = 1/(8 c^2 T_L^2) and |f''/f|
     * <= 2/nu^2 + 8/(nu (nu0 - nu)) + 12/(nu0 - nu)^2 + the Bose term's
     * (c2/T)^2 e^-x: ~2.5e-6 cm^2 here; (3) tails, prefactor: 2e-6;
     * (4) the integral starts at nu_lo (one grid step off at most: the
     * line there is below the sidelobe bound): the line's part below,
     * and the mirror line's part above, are <= 1/(pi x^2) of its area
     * (x = 2 c T_L distance; the integral of the sidelobe envelope
     * 1/(pi x^3) both sides), weighted by f(nu_lo)/f(nu_h). */
    const double m = 10001.0 - 2.0;
    const double Tl = 1999.0 * dt;
    const double sigma2 =
        1.0 / (8.0 * RPR_C_CM_PER_FS * RPR_C_CM_PER_FS * Tl * Tl);
    const double c2t = RPR_C2_CM_K / T;
    const double f2 = 2.0 / (nu_h * nu_h) + 8.0 / (nu_h * (nu0 - nu_h)) +
                      12.0 / ((nu0 - nu_h) * (nu0 - nu_h)) +
                      c2t * c2t * exp(-c2t * nu_h);
    const double x0 = 2.0 * RPR_C_CM_PER_FS * Tl * (nu_h - raman_nu_lo);
    const double x1 = 2.0 * RPR_C_CM_PER_FS * Tl * (nu_h + raman_nu_lo);
    const double xlo = RPR_C2_CM_K * raman_nu_lo / T;
    const double fratio = pow((nu0 - raman_nu_lo) / (nu0 - nu_h), 4) * nu_h /
                          raman_nu_lo * expm1(-x) / expm1(-xlo);
    const double tol =
        1.0 / (m * sin(w * dt)) + f2 * sigma2 + 2e-6 +
        fratio * (1.0 / (M_PI * x0 * x0) + 1.0 / (M_PI * x1 * x1));
    double integ, rho, iso, aniso;

    /* Isotropic: 45 a'^2.  The three diagonals are bit-equal, so the
     * mean of their derivative d is d (1 + e), |e| <= eps, and |beta'| <=
     * eps |d|: the anisotropic ACF is <= (9/2) eps^2 <d^2>, its transform
     * <= dt (2L) that, while the isotropic line peaks at ~dt (L/2) <d^2>:
     * aniso <= 18 eps^2 iso, and rho = 3 eps^2/(45 delta^2 + ...) <=
     * 1.2 eps^2. */
    raman_mode(ap, 0.0, &integ, &rho, &iso, &aniso);
    CHECK_CLOSE(integ, placzek * 45.0 * ap * ap * to_out, tol, 0.0);
    printf("Raman sum rule (isotropic): relative %.2e (tol %.2e)\n",
           integ / (placzek * 45.0 * ap * ap * to_out) - 1.0, tol);
    CHECK(rho >= 0.0 && rho <= 1.2 * eps * eps);
    CHECK(aniso <= 18 * eps * eps * iso);
    /* Anisotropic: 7 gamma'^2 = 21 b'^2; rho = 3/4, the isotropic part
     * being rounding (a' = (d + (-d)) / 3 = 0 exactly for these diagonals:
     * xx' = -yy' to the last bit). */
    raman_mode(0.0, bp, &integ, &rho, &iso, &aniso);
    CHECK_CLOSE(integ, placzek * 21.0 * bp * bp * to_out, tol, 0.0);
    printf("Raman sum rule (anisotropic): relative %.2e (tol %.2e), rho "
           "%.17g\n",
           integ / (placzek * 21.0 * bp * bp * to_out) - 1.0, tol, rho);
    CHECK_CLOSE(rho, 0.75, 4 * eps, 45.0 / 4.0 * iso / aniso);
    /* Both: 45 a'^2 + 21 b'^2, and rho between. */
    raman_mode(ap, bp, &integ, &rho, &iso, &aniso);
    CHECK_CLOSE(integ, placzek * (45.0 * ap * ap + 21.0 * bp * bp) * to_out,
                tol, 0.0);
    CHECK(rho > 0.0 && rho < 0.75);
    /* rho = 3 * 3 b'^2 / (45 a'^2 + 4 * 3 b'^2) at every bin: both
     * channels are the transform of the same Q' sequence, so line shape,
     * FD correction and prefactors cancel.  What remains is the rounding
     * of alpha (~52 bohr^3) in the differences: a derivative sample errs
     * by e_d = 2 eps 52 / (2 dt), relative to the smaller channel's rms
     * min(a', b') A w / sqrt 2; two channels, each ACF by 2 e_d / rms. */
    const double amp = sqrt(2.0 * si_kb * T / (si_amu * 1e-20 / 1e-30)) / w;
    const double e_d = 2.0 * eps * 52.0 / (2.0 * dt);
    const double rms = fmin(ap, bp) * amp * w / sqrt(2.0);
    CHECK_CLOSE(rho, 9.0 * bp * bp / (45.0 * ap * ap + 12.0 * bp * bp),
                4.0 * 2.0 * e_d / rms + 8 * eps, 0.0);
}

/* ------------------------------------------------------------ jumps */

static void test_jumps(void)
{
    const size_t n = 2000;
    double *const mu = malloc(3 * n * sizeof *mu);
    if (mu == NULL)
        exit(99);
    for (size_t t = 0; t < n; t++) {
        const double ph = 2.0 * M_PI * RPR_C_CM_PER_FS * 1234.5 * 0.5 * t;
        mu[3 * t] = 0.1 * cos(ph);
        mu[3 * t + 1] = 0.05 * sin(1.7 * ph);
        mu[3 * t + 2] = 0.3 + 0.02 * cos(0.3 * ph);
    }
    rpr_series *s = NULL;
    rpr_error err = {0};
    size_t nj = 99, *steps = NULL;
    double *ratios = NULL;
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0, 0.5, mu, &s, &err), &err);
    CHECK_OK(rpr_series_jumps(s, 10.0, &nj, &steps, &ratios, &err), &err);
    CHECK(nj == 0 && steps == NULL && ratios == NULL);
    CHECK_STATUS(rpr_series_jumps(s, 0.0, &nj, &steps, &ratios, &err),
                 RPR_EINVAL);
    CHECK_STATUS(rpr_series_jumps(s, NAN, &nj, &steps, &ratios, &err),
                 RPR_EINVAL);
    CHECK_STATUS(rpr_series_jumps(NULL, 10, &nj, &steps, &ratios, &err),
                 RPR_EINVAL);
    rpr_series_free(s);
    /* A frame seam: the dipole flips its z component from step 1234 on. */
    for (size_t t = 1234; t < n; t++)
        mu[3 * t + 2] = -mu[3 * t + 2];
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0, 0.5, mu, &s, &err), &err);
    CHECK_OK(rpr_series_jumps(s, 10.0, &nj, &steps, &ratios, &err), &err);
    CHECK(nj == 1);
    if (nj == 1) {
        CHECK(steps[0] == 1234);
        CHECK(ratios[0] > 10.0);
    }
    rpr_free(steps);
    rpr_free(ratios);
    rpr_series_free(s);
    /* A constant series with one change: median 0, ratio Inf. */
    for (size_t t = 0; t < n; t++)
        mu[3 * t] = mu[3 * t + 1] = mu[3 * t + 2] = t < 700 ? 0.25 : 0.5;
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0, 0.5, mu, &s, &err), &err);
    CHECK_OK(rpr_series_jumps(s, 10.0, &nj, &steps, &ratios, &err), &err);
    CHECK(nj == 1 && steps != NULL && steps[0] == 700 && isinf(ratios[0]));
    rpr_free(steps);
    rpr_free(ratios);
    rpr_series_free(s);
    free(mu);
}

/* ------------------------------------------------------------ reader */

static const char *const header =
    "# rpr-nx properties, format 1\n"
    "# columns: t_fs step run energy mu_x mu_y mu_z alpha_xx alpha_xy "
    "alpha_xz alpha_yy alpha_yz alpha_zz gap12 gap23 sign_min w_principal "
    "w_kabsch\n"
    "# units: t_fs fs; energy hartree; mu e*bohr (lab frame); alpha bohr^3 "
    "(lab frame); the rest dimensionless\n";

static void write_file(const char *path, const char *text)
{
    FILE *const f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(99);
    }
}

/* A record with IR values i, alpha nan (no model). */
static void record(char *buf, size_t len, double t, size_t step,
                   const char *mu_y)
{
    snprintf(buf, len,
             "%.4f %zu first -997.07 %.6f %s %.6f nan nan nan nan nan nan "
             "0.016 0.0012 0.002 0.3 0.7\n",
             t, step, 0.01 * (double) step, mu_y, -0.002 * (double) step);
}

/* Read path, expect status want and a message containing each needle. */
static void expect_read(const char *path, rpr_spectrum_kind kind,
                        rpr_status want, const char *n1, const char *n2)
{
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.kind = kind;
    rpr_series *s = NULL;
    rpr_error err = {0};
    const rpr_status st = rpr_series_read(path, &o, &s, &err);
    if (st != want) {
        fprintf(stderr, "FAIL read %s -> %d (%s), want %d\n", path, (int) st,
                st == RPR_OK ? "" : err.message, (int) want);
        test_failures++;
    } else if (st != RPR_OK) {
        if ((n1 != NULL && strstr(err.message, n1) == NULL) ||
            (n2 != NULL && strstr(err.message, n2) == NULL)) {
            fprintf(stderr, "FAIL read %s: message '%s' lacks '%s' / '%s'\n",
                    path, err.message, n1 ? n1 : "", n2 ? n2 : "");
            test_failures++;
        }
        CHECK(s == NULL);
    }
    rpr_series_free(s);
}

/* A property file of nrec records at dt 0.5 fs with one record's time
 * replaced (bad_step, bad_t; bad_step >= nrec for none). */
static void make_times(const char *path, size_t nrec, size_t bad_step,
                       double bad_t)
{
    char *const text = malloc(nrec * 200 + 1024);
    char rec[256];
    if (text == NULL)
        exit(99);
    strcpy(text, header);
    for (size_t k = 0; k < nrec; k++) {
        record(rec, sizeof rec, k == bad_step ? bad_t : 0.5 * (double) k, k,
               "0.05");
        strcat(text, rec);
    }
    write_file(path, text);
    free(text);
}

static void test_reader(void)
{
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    rpr_series *s = NULL;
    rpr_error err = {0};
    char rec[256];

    /* Reordered and extra columns, comments, blank lines, CRLF, NaN in the
     * columns IR does not need. */
    write_file("spec_ok.dat",
               "# rpr-nx properties, format 1\n"
               "# a comment\n"
               "# columns: run mu_z extra t_fs mu_y alpha_xx mu_x\n"
               "\n"
               "initial 0.3 x 10.0 0.2 nan 0.1\n"
               "first 0.31 y 10.5 0.21 nan 0.11\r\n"
               "   # indented comment\n"
               "second 0.32 z 11.0 0.22 nan 0.12\n"
               "second 0.33 z 11.5 0.23 nan 0.13\n");
    CHECK_OK(rpr_series_read("spec_ok.dat", &o, &s, &err), &err);
    if (s != NULL) {
        CHECK(rpr_series_nsteps(s) == 4);
        CHECK(rpr_series_ncomp(s) == 3);
        CHECK(rpr_series_kind(s) == RPR_SPECTRUM_IR);
        CHECK(rpr_series_t0_fs(s) == 10.0);
        CHECK(rpr_series_dt_fs(s) == 0.5);
        CHECK(strcmp(rpr_series_path(s), "spec_ok.dat") == 0);
        CHECK(rpr_series_line(s, 0) == 5);
        CHECK(rpr_series_line(s, 2) == 8);
        CHECK(rpr_series_line(s, 99) == 0);
        const double *const v = rpr_series_values(s);
        CHECK(v[0] == 0.1 && v[1] == 0.2 && v[2] == 0.3);
        CHECK(v[9] == 0.13 && v[10] == 0.23 && v[11] == 0.33);
    }
    rpr_series_free(s);
    s = NULL;
    /* The same file for Raman: a needed column missing. */
    expect_read("spec_ok.dat", RPR_SPECTRUM_RAMAN, RPR_EPARSE,
                "spec_ok.dat:3:", "alpha_xy");

    /* The full rpr-nx layout: alpha holds nan, so Raman is refused at the
     * first record, IR accepted. */
    make_times("spec_nan.dat", 5, 99, 0.0);
    expect_read("spec_nan.dat", RPR_SPECTRUM_IR, RPR_OK, NULL, NULL);
    expect_read("spec_nan.dat", RPR_SPECTRUM_RAMAN, RPR_ENONFINITE,
                "spec_nan.dat:4:", "alpha_xx");

    /* Times. */
    make_times("spec_dup.dat", 6, 3, 1.0);
    expect_read("spec_dup.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                "spec_dup.dat:7:", "duplicated time t = 1.0000");
    make_times("spec_gap.dat", 6, 3, 2.5);
    /* Times 0, .5, 1, 2.5, 2, 2.5: from 1 to 2.5 fs is 3 steps, 2 of them
     * missing. */
    expect_read("spec_gap.dat", RPR_SPECTRUM_IR, RPR_EPARSE, "spec_gap.dat:7:",
                "gap: t jumps from 1.0000 to 2.5000 fs, 2 missing steps");
    make_times("spec_nonu.dat", 6, 3, 1.7);
    expect_read("spec_nonu.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                "spec_nonu.dat:7:", "non-uniform time step: t = 1.7000");
    make_times("spec_back.dat", 6, 3, 0.2);
    expect_read("spec_back.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                "spec_back.dat:7:", "backwards");
    make_times("spec_few.dat", 2, 99, 0.0);
    expect_read("spec_few.dat", RPR_SPECTRUM_IR, RPR_EPARSE, "spec_few.dat",
                "2 records");
    {
        /* All times equal: no increase at all. */
        char text[2048];
        strcpy(text, header);
        for (size_t k = 0; k < 4; k++) {
            record(rec, sizeof rec, 3.0, k, "0.05");
            strcat(text, rec);
        }
        write_file("spec_flat.dat", text);
        expect_read("spec_flat.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                    "spec_flat.dat", "do not increase");
    }

    /* Shape and content of records. */
    {
        char text[2048];
        strcpy(text, header);
        record(rec, sizeof rec, 0.0, 0, "0.05");
        strcat(text, rec);
        record(rec, sizeof rec, 0.5, 1, "abc");
        strcat(text, rec);
        write_file("spec_word.dat", text);
        expect_read("spec_word.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                    "spec_word.dat:5:", "'mu_y': not a number: 'abc'");
        strcpy(text, header);
        record(rec, sizeof rec, 0.0, 0, "nan");
        strcat(text, rec);
        write_file("spec_munan.dat", text);
        expect_read("spec_munan.dat", RPR_SPECTRUM_IR, RPR_ENONFINITE,
                    "spec_munan.dat:4:", "'mu_y' is nan");
        strcpy(text, header);
        record(rec, sizeof rec, 0.0, 0, "0.05 extra");
        strcat(text, rec);
        write_file("spec_nf.dat", text);
        expect_read("spec_nf.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                    "spec_nf.dat:4:", "expected 18 fields");
        strcpy(text, header);
        record(rec, sizeof rec, 0.0, 0, "inf");
        strcat(text, rec);
        write_file("spec_inf.dat", text);
        expect_read("spec_inf.dat", RPR_SPECTRUM_IR, RPR_ENONFINITE,
                    "spec_inf.dat:4:", "'mu_y' is inf");
        strcpy(text, "0.0 1 2 3\n");
        strcat(text, header);
        write_file("spec_early.dat", text);
        expect_read("spec_early.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                    "spec_early.dat:1:", "before");
        write_file("spec_nocols.dat", "# nothing\n\n");
        expect_read("spec_nocols.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                    "spec_nocols.dat", "no '# columns:' line");
        write_file("spec_fmt.dat", "# rpr-nx properties, format 4\n");
        expect_read("spec_fmt.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                    "spec_fmt.dat:1:", "format");
        write_file("spec_two.dat", "# columns: t_fs mu_x mu_y mu_z\n"
                                   "# columns: t_fs mu_x mu_y mu_z\n");
        expect_read("spec_two.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                    "spec_two.dat:2:", "second");
        write_file("spec_twice.dat", "# columns: t_fs mu_x mu_y mu_z mu_x\n");
        expect_read("spec_twice.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                    "spec_twice.dat:1:", "'mu_x' is named twice");
        write_file("spec_empty.dat", "# columns:\n");
        expect_read("spec_empty.dat", RPR_SPECTRUM_IR, RPR_EPARSE,
                    "spec_empty.dat:1:", "no column");
    }
    expect_read("spec_does_not_exist.dat", RPR_SPECTRUM_IR, RPR_EIO,
                "spec_does_not_exist.dat", "cannot open");

    /* Arguments. */
    CHECK_STATUS(rpr_series_read(NULL, &o, &s, &err), RPR_EINVAL);
    CHECK_STATUS(rpr_series_read("spec_ok.dat", NULL, &s, &err), RPR_EINVAL);
    o.dt_rtol = 0.5;
    CHECK_STATUS(rpr_series_read("spec_ok.dat", &o, &s, &err), RPR_EINVAL);
    o.dt_rtol = 1e-2;
    o.kind = (rpr_spectrum_kind) 7;
    CHECK_STATUS(rpr_series_read("spec_ok.dat", &o, &s, &err), RPR_EINVAL);
}

static void test_series_new_errors(void)
{
    rpr_series *s = NULL;
    rpr_error err = {0};
    double v[18] = {0};
    CHECK_STATUS(rpr_series_new(RPR_SPECTRUM_IR, 2, 0, 0.5, v, &s, &err),
                 RPR_EINVAL);
    CHECK_STATUS(rpr_series_new(RPR_SPECTRUM_IR, 3, 0, 0.0, v, &s, &err),
                 RPR_EINVAL);
    CHECK_STATUS(rpr_series_new(RPR_SPECTRUM_IR, 3, NAN, 0.5, v, &s, &err),
                 RPR_EINVAL);
    CHECK_STATUS(rpr_series_new((rpr_spectrum_kind) 5, 3, 0, 0.5, v, &s, &err),
                 RPR_EINVAL);
    CHECK_STATUS(rpr_series_new(RPR_SPECTRUM_IR, 3, 0, 0.5, NULL, &s, &err),
                 RPR_EINVAL);
    v[17] = NAN;
    CHECK_STATUS(rpr_series_new(RPR_SPECTRUM_RAMAN, 3, 0, 0.5, v, &s, &err),
                 RPR_ENONFINITE);
    CHECK(strstr(err.message, "alpha_zz") != NULL);
    CHECK(s == NULL);
    rpr_series_free(NULL);
    rpr_spectrum_free(NULL);
}

static void test_compute_errors(void)
{
    test_rng r = {seed + 8};
    const size_t n = 300;
    double *const mu = malloc(3 * n * sizeof *mu);
    double *const al = malloc(6 * n * sizeof *al);
    if (mu == NULL || al == NULL)
        exit(99);
    make_signal(&r, n, 3, 0.5, 0.05, 0.01, mu);
    make_signal(&r, n, 6, 0.5, 0.5, 0.01, al);
    rpr_series *s[3] = {NULL};
    rpr_spectrum *sp = NULL;
    rpr_error err = {0};
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0, 0.5, mu, &s[0], &err), &err);
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0, 0.25, mu, &s[1], &err),
             &err);
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_RAMAN, n, 0, 0.5, al, &s[2], &err),
             &err);
    const rpr_series *const *cs = (const rpr_series *const *) s;
    rpr_spectrum_options o;
#define BAD(field, value, want)                                                \
    do {                                                                       \
        rpr_spectrum_options_default(&o);                                      \
        o.field = value;                                                       \
        CHECK_STATUS(rpr_spectrum_compute(&o, 1, cs, &sp, &err), want);        \
        CHECK(sp == NULL);                                                     \
    } while (0)
    BAD(temperature_k, 0.0, RPR_EINVAL);
    BAD(temperature_k, NAN, RPR_EINVAL);
    BAD(laser_cm, -1.0, RPR_EINVAL);
    BAD(scale, 0.0, RPR_EINVAL);
    BAD(max_wavenumber_cm, 0.0, RPR_EINVAL);
    BAD(padding, 0, RPR_EINVAL);
    BAD(window, (rpr_window_kind) 9, RPR_EINVAL);
    BAD(qcf, (rpr_qcf) 9, RPR_EINVAL);
    BAD(kind, (rpr_spectrum_kind) 9, RPR_EINVAL);
    BAD(kind, RPR_SPECTRUM_RAMAN, RPR_EINVAL); /* an IR series */
    BAD(dt_rtol, 0.0, RPR_EINVAL);
    BAD(depth, 1, RPR_EINVAL);
    BAD(depth, n - 1, RPR_EINVAL); /* > n - 2 derivative frames */
    BAD(depth_max, 1, RPR_EINVAL);
    BAD(blocks, n, RPR_EINVAL); /* more blocks than frames */
    /* The width is read for a Gaussian only. */
    rpr_spectrum_options_default(&o);
    o.window_width_fs = NAN;
    CHECK_OK(rpr_spectrum_compute(&o, 1, cs, &sp, &err), &err);
    rpr_spectrum_free(sp);
    sp = NULL;
    o.window = RPR_WINDOW_GAUSSIAN;
    o.window_width_fs = INFINITY;
    CHECK_STATUS(rpr_spectrum_compute(&o, 1, cs, &sp, &err), RPR_EINVAL);
    /* Blocks that leave the last lag to one block: depth n - 2 with 2
     * blocks (block 1's origins cannot reach lag n - 3). */
    rpr_spectrum_options_default(&o);
    o.depth = n - 2;
    o.blocks = 2;
    CHECK_STATUS(rpr_spectrum_compute(&o, 1, cs, &sp, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "blocks") != NULL);
    rpr_spectrum_options_default(&o);
    /* Time steps that differ. */
    CHECK_STATUS(rpr_spectrum_compute(&o, 2, cs, &sp, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "time step") != NULL);
    CHECK_STATUS(rpr_spectrum_compute(&o, 0, cs, &sp, &err), RPR_EINVAL);
    CHECK_STATUS(rpr_spectrum_compute(NULL, 1, cs, &sp, &err), RPR_EINVAL);
    CHECK_STATUS(rpr_spectrum_compute(&o, 1, cs, NULL, &err), RPR_EINVAL);
    const rpr_series *nul[1] = {NULL};
    CHECK_STATUS(rpr_spectrum_compute(&o, 1, nul, &sp, &err), RPR_EINVAL);
    /* A trajectory too short for any depth: 4 records, 2 frames, L = 1. */
    rpr_series *tiny = NULL;
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, 4, 0, 0.5, mu, &tiny, &err), &err);
    CHECK_STATUS(rpr_spectrum_compute(&o, 1, (const rpr_series *const *) &tiny,
                                      &sp, &err),
                 RPR_EINVAL);
    CHECK(strstr(err.message, "too few") != NULL);
    rpr_series_free(tiny);
    /* Raman with a kind mismatch names the file. */
    o.kind = RPR_SPECTRUM_IR;
    CHECK_STATUS(rpr_spectrum_compute(&o, 1, cs + 2, &sp, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "(memory)") != NULL);
    /* The default depth: min(4096, m/2) = 149 here. */
    CHECK_OK(rpr_spectrum_compute(&o, 1, cs, &sp, &err), &err);
    if (sp != NULL) {
        CHECK(rpr_spectrum_options_used(sp)->depth == (n - 2) / 2);
        CHECK(rpr_spectrum_column(sp, 99, NULL, NULL) == NULL);
        CHECK(rpr_spectrum_find(sp, "nope") == NULL);
        const char *name, *unit;
        CHECK(rpr_spectrum_column(sp, 1, &name, &unit) != NULL);
        CHECK(strcmp(name, "ir") == 0 && strcmp(unit, "km/mol/cm^-1") == 0);
    }
    rpr_spectrum_free(sp);
    sp = NULL;
#undef BAD
    for (size_t i = 0; i < 3; i++)
        rpr_series_free(s[i]);
    free(mu);
    free(al);
}

/* The table: header lines with the parameters, columns and units lines,
 * one row per bin; a failing stream is RPR_EIO. */
static void test_write(void)
{
    test_rng r = {seed + 9};
    const size_t n = 500;
    double *const al = malloc(6 * n * sizeof *al);
    if (al == NULL)
        exit(99);
    make_signal(&r, n, 6, 0.5, 0.5, 0.01, al);
    rpr_series *s = NULL;
    rpr_error err = {0};
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_RAMAN, n, 0, 0.5, al, &s, &err), &err);
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.kind = RPR_SPECTRUM_RAMAN;
    o.scale = 0.9;
    o.temperature_k = 298.15;
    o.window = RPR_WINDOW_GAUSSIAN;
    rpr_spectrum *sp = compute(&o, 1, &s, 0);
    if (sp == NULL)
        return;
    FILE *const f = fopen("spec_table.txt", "w+");
    if (f == NULL)
        exit(99);
    CHECK_OK(rpr_spectrum_write(sp, f, &err), &err);
    rewind(f);
    char line[4096];
    size_t rows = 0, have = 0;
    static const char *const needles[] = {
        "T = 298.15 K",
        "scale = 0.9",
        "laser nu0 = 20000",
        "window gaussian",
        "# columns: wavenumber iso aniso parallel",
        "# units: cm^-1",
        "jackknife",
        "45,7"};
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] != '#') {
            rows++;
            continue;
        }
        for (size_t j = 0; j < sizeof needles / sizeof *needles; j++)
            if (strstr(line, needles[j]) != NULL)
                have |= (size_t) 1 << j;
    }
    fclose(f);
    CHECK(rows == rpr_spectrum_nbins(sp));
    CHECK(have == ((size_t) 1 << (sizeof needles / sizeof *needles)) - 1);
    /* Scaled axis: 0.9 x the simulated grid, last bin <= 4000. */
    const double *const nu = rpr_spectrum_find(sp, "wavenumber");
    rpr_spectrum_info info;
    rpr_spectrum_get_info(sp, &info);
    CHECK_CLOSE(nu[1], info.spacing_cm, 4 * eps, 0.0);
    CHECK(nu[rpr_spectrum_nbins(sp) - 1] <= o.max_wavenumber_cm);
    CHECK(nu[rpr_spectrum_nbins(sp) - 1] + info.spacing_cm >
          o.max_wavenumber_cm);
    FILE *const ro = fopen("spec_table.txt", "r");
    if (ro == NULL)
        exit(99);
    CHECK_STATUS(rpr_spectrum_write(sp, ro, &err), RPR_EIO);
    fclose(ro);
    rpr_spectrum_free(sp);
    rpr_series_free(s);
    free(al);
}

/* Scaling: band integrals unchanged, axis multiplied. */
static void test_scale(void)
{
    test_rng r = {seed + 10};
    const size_t n = 900;
    double *const mu = malloc(3 * n * sizeof *mu);
    if (mu == NULL)
        exit(99);
    make_signal(&r, n, 3, 0.5, 0.05, 0.0, mu);
    rpr_series *s = NULL;
    rpr_error err = {0};
    CHECK_OK(rpr_series_new(RPR_SPECTRUM_IR, n, 0, 0.5, mu, &s, &err), &err);
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.max_wavenumber_cm = 30000.0;
    rpr_spectrum *a = compute(&o, 1, &s, 0);
    o.scale = 0.9;
    o.max_wavenumber_cm = 0.9 * 30000.0;
    rpr_spectrum *b = compute(&o, 1, &s, 0);
    if (a == NULL || b == NULL)
        return;
    const size_t na = rpr_spectrum_nbins(a), nb = rpr_spectrum_nbins(b);
    /* floor(27000 / (0.9 h)) may differ from floor(30000 / h) by one bin
     * through rounding; compare the common bins. */
    const size_t nn = na < nb ? na : nb;
    CHECK(na - nn <= 1 && nb - nn <= 1);
    const double *const xa = rpr_spectrum_find(a, "wavenumber");
    const double *const xb = rpr_spectrum_find(b, "wavenumber");
    const double *const ya = rpr_spectrum_find(a, "ir");
    const double *const yb = rpr_spectrum_find(b, "ir");
    const double *const ia = rpr_spectrum_find(a, "ir_integral");
    const double *const ib = rpr_spectrum_find(b, "ir_integral");
    for (size_t k = 0; k < nn; k += 17) {
        CHECK_CLOSE(xb[k], 0.9 * xa[k], 4 * eps, 0.0);
        CHECK_CLOSE(yb[k] * 0.9, ya[k], 4 * eps, 4 * eps * col_max(a, "ir"));
        CHECK_CLOSE(ib[k], ia[k], 8 * eps, nn * eps * ia[nn - 1]);
    }
    rpr_spectrum_free(a);
    rpr_spectrum_free(b);
    rpr_series_free(s);
    free(mu);
}

int main(void)
{
    test_constants();
    test_qcf();
    test_fft_size();
    test_raman_split();
    test_window_widths();
    test_dct_parseval();
    test_acf_fft();
    test_ir_sum_rule();
    test_rigid_rotor();
    test_ir_independent();
    test_jackknife();
    test_blocks();
    test_invariance();
    test_raman_sum_rule();
    test_jumps();
    test_reader();
    test_series_new_errors();
    test_compute_errors();
    test_write();
    test_scale();
    if (test_failures > 0)
        fprintf(stderr, "seed %#llx\n", (unsigned long long) seed);
    /* The input files written above live in the build directory; remove
     * them so that distclean leaves nothing behind (make distcheck). */
    static const char *const scratch[] = {
        "spec_back.dat",   "spec_dup.dat",   "spec_early.dat", "spec_empty.dat",
        "spec_few.dat",    "spec_flat.dat",  "spec_fmt.dat",   "spec_gap.dat",
        "spec_inf.dat",    "spec_munan.dat", "spec_nan.dat",   "spec_nf.dat",
        "spec_nocols.dat", "spec_nonu.dat",  "spec_ok.dat",    "spec_twice.dat",
        "spec_two.dat",    "spec_word.dat",  "spec_table.txt"};
    for (size_t i = 0; i < sizeof scratch / sizeof scratch[0]; i++)
        remove(scratch[i]);
    return test_exit("test_spectrum");
}
