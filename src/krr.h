/*
 * krr.h - kernel ridge regression on value labels (private): the fit, and
 * the search for sigma and lambda per component.
 */
#ifndef RPR_KRR_H
#define RPR_KRR_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "kernel.h"

/*
 * Solve (K + lambda I) C = Y by Cholesky (LAPACKE dpotrf, 'U'), one
 * factorisation for all nrhs right-hand sides (dpotrs's two triangular
 * solves, by cblas_dtrsm on the row-major Y).  K [n][n] row-major
 * symmetric: only its upper triangle (row <= column) is read, and it is
 * overwritten by the factor; Y [n][nrhs] is overwritten by the
 * coefficients C.  Allocates nothing.  lambda >= 0 (0 is MLatom's default).
 * @return RPR_OK, RPR_EINVAL, RPR_ENONFINITE (NaN/Inf in K's upper
 *         triangle or Y), RPR_ENOTPD (names lambda, asks for a larger one).
 */
rpr_status krr_fit(size_t n, double *K, double lambda, size_t nrhs, double *Y,
                   rpr_error *err);

typedef struct krr_search_options {
    rpr_criterion criterion;
    double validation_fraction;          /* hold-out share (0.2) */
    uint64_t seed;                       /* split */
    int nlg_sigma, nlg_lambda, lg_depth; /* MLatom: 6, 6, 3 */
    double lg_sigma_lo, lg_sigma_hi;     /* log2 bounds; NaN: the kernel's */
    double lg_lambda_lo, lg_lambda_hi;   /* MLatom: -35, -6 */
    rpr_progress_fn progress;
    void *progress_ctx;
} krr_search_options;

/* Result of the search for one component. */
typedef struct krr_choice {
    double sigma, lambda;
    double rmse, mae; /* selection error at the optimum (validation or LOO) */
} krr_choice;

/*
 * Choose sigma and lambda for each of ncomp components of Y [n][ncomp]
 * (prior already subtracted) on descriptors X [n][D]; kernel type and
 * Matern order from *base (its sigma is ignored).  Deterministic for a
 * seed: the sub-training set is the first round((1 - validation_fraction)
 * n) entries of a Fisher-Yates shuffle of 0..n-1 (i from n-1 down to 1
 * swaps with splitmix64(seed) % (i + 1)), the rest is validation.  See
 * krr.c for the strategy and its cost.
 * @return RPR_OK, RPR_EINVAL, RPR_ENONFINITE (NaN/Inf in X or Y),
 *         RPR_ENOMEM, RPR_ENOTPD (no lambda of the grid usable).
 */
rpr_status krr_search(const kernel_spec *base, size_t n, size_t D,
                      const double *X, size_t ncomp, const double *Y,
                      const krr_search_options *opt, krr_choice *choice,
                      rpr_error *err);

#endif /* RPR_KRR_H */
