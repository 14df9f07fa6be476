/*
 * spectrum.h - internals of the spectra module (src/spectrum.c), visible to
 * its unit tests: the direct O(N L) reference paths, windows, correction
 * factors and the Raman invariants.
 */
#ifndef RPR_SPECTRUM_H
#define RPR_SPECTRUM_H

#include "rpr.h"

/* Series of the derivative per kind: IR mu'_x mu'_y mu'_z (one channel);
 * Raman the mean a' (channel 0, isotropic) then beta'_xx xy xz yy yz zz
 * (channel 1, anisotropic). */
enum { SPECTRUM_MAX_SERIES = 7, SPECTRUM_MAX_CHANNELS = 2 };

/* Weights of beta'_xx xy xz yy yz zz in the anisotropic channel:
 * (3/2) sum_ij beta_ij beta_ij, off-diagonal pairs counted twice. */
extern const double spectrum_aniso_weights[6];

/* Mean polarizability and traceless part of a symmetric tensor
 * a = xx xy xz yy yz zz; beta has the same layout. */
void spectrum_raman_split(const double a[6], double *abar, double beta[6]);

/* gamma^2 by Long's formula: 1/2 [(xx-yy)^2 + (yy-zz)^2 + (zz-xx)^2]
 * + 3 (xy^2 + yz^2 + zx^2). */
double spectrum_raman_gamma2(const double a[6]);

/* Window w[0..L-1] (L >= 2); width_frames is the Gaussian a in frames. */
void spectrum_window(rpr_window_kind kind, size_t L, double width_frames,
                     double *w);

/* FWHM in cm^-1 of the line that the window gives a pure tone (no
 * scaling): Hann 1/(c T), Gaussian 2 sqrt(ln 2)/(pi c a), rectangular
 * x_h/(c (L - 1/2) dt) with sinc(x_h) = 1/2; T = (L-1) dt. */
double spectrum_window_fwhm_cm(rpr_window_kind kind, size_t L, double dt_fs,
                               double width_fs);

/* (w dt / sin w dt)^2 at wavenumber nu (1 at 0). */
double spectrum_fd_correction(double nu_cm, double dt_fs);

/* The QCF Q(x) itself, x = c2 nu / T, and its ratio to the harmonic one
 * (what rpr multiplies by); both 1 at nu = 0 for every kind. */
double spectrum_qcf(rpr_qcf qcf, double nu_cm, double temperature_k);
double spectrum_qcf_ratio(rpr_qcf qcf, double nu_cm, double temperature_k);

/* Smallest 2^a 3^b 5^c 7^d >= n (n >= 1). */
size_t spectrum_fft_size(size_t n);

/* acc[tau] += sum_s weight[s] sum_{t = lo}^{min(hi, m - tau) - 1}
 * y[s][t] y[s][t + tau] for tau < L: the direct reference of the FFT
 * correlation.  y is [nser][m]. */
void spectrum_acf_direct(size_t m, size_t nser, const double *y,
                         const double *weight, size_t lo, size_t hi, size_t L,
                         double *acc);

/* The same by FFT (Wiener-Khinchin, zero padding to
 * spectrum_fft_size(m + L - 1)); makes and destroys its own plans. */
rpr_status spectrum_acf_fft(size_t m, size_t nser, const double *y,
                            const double *weight, size_t lo, size_t hi,
                            size_t L, double *acc, rpr_error *err);

/* DCT-I by the direct sum: y[k] = x[0] + (-1)^k x[n-1]
 * + 2 sum_{j=1}^{n-2} x[j] cos(pi j k / (n-1)), k < nout (FFTW REDFT00). */
void spectrum_dct_direct(size_t n, const double *x, size_t nout, double *y);

/* The same by FFTW (REDFT00, FFTW_ESTIMATE), all n outputs; makes and
 * destroys its own plan.  x is not modified (FFTW's r2r plans of one
 * dimension keep their input). */
rpr_status spectrum_dct(size_t n, double *x, double *y, rpr_error *err);

/* rpr_spectrum_compute with the direct paths (direct != 0) for the
 * correlation and the cosine transform: the reference of the tests. */
rpr_status spectrum_compute(const rpr_spectrum_options *opt, size_t nseries,
                            const rpr_series *const *series, int direct,
                            rpr_spectrum **spec, rpr_error *err);

#endif /* RPR_SPECTRUM_H */
