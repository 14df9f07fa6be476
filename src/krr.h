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

/*
 * Rounding amplification of a fit (the admissibility rule, rpr.h
 * rpr_train_options.rounding_tol).  A prediction sum_i alpha_i k(x, x_i)
 * rounds to about eps sum_i |alpha_i k_i| <= eps ||alpha||_1 max_ij K_ij;
 * relative to the labels' size that is eps A with
 *
 *     A = ||alpha||_1 max_ij K_ij / max_i |y_i|
 *
 * (y the labels the fit sees, prior subtracted: a smaller denominator than
 * the predictions', so the rule errs on the safe side).  For a PSD kernel
 * max_ij K_ij = max_i K_ii.  A fit is admissible if eps A <= rounding_tol;
 * rounding_tol = 0 or +inf turns the rule off (MLatom has none).
 */

typedef struct krr_search_options {
    rpr_criterion criterion;
    double validation_fraction;          /* hold-out share (0.2) */
    uint64_t seed;                       /* split */
    int nlg_sigma, nlg_lambda, lg_depth; /* MLatom: 6, 6, 3 */
    double lg_sigma_lo, lg_sigma_hi;     /* log2 bounds; NaN: the kernel's */
    double lg_lambda_lo, lg_lambda_hi;   /* MLatom: -35, -6 */
    /* Admissibility: eps A <= rounding_tol, A bounded in the search by
     * sqrt(n_s) ||alpha||_2 max K / max |y| (krr.c says why).  0 or +inf:
     * no rule (MLatom's search); rpr_train passes 1e-10 by default. */
    double rounding_tol;
    /* Fixed sigma (fix_sigma != 0, sigma > 0): only lambda is searched;
     * fixed lambda (fix_lambda != 0, lambda >= 0): only sigma is.  The grid
     * bounds of a fixed hyperparameter are ignored. */
    int fix_sigma, fix_lambda;
    double sigma, lambda;
    rpr_progress_fn progress; /* fractions 0 .. 1, monotone, ends at 1 */
    void *progress_ctx;
} krr_search_options;

/* Result of the search for one component. */
typedef struct krr_choice {
    double sigma, lambda;
    double rmse, mae; /* selection error at the optimum (validation or LOO) */
    /* The rule's bound on A at the optimum: sqrt(n_s) ||alpha||_2 max K /
     * max |y| of the sub-training fit (all n for LOO). */
    double amplification;
} krr_choice;

/*
 * Choose sigma and lambda for each of ncomp components of Y [n][ncomp]
 * (prior already subtracted) on descriptors X [n][D]; kernel type and
 * Matern order from *base (its sigma is ignored).  Deterministic for a
 * seed: the sub-training set is the first round((1 - validation_fraction)
 * n) entries of a Fisher-Yates shuffle of 0..n-1 (i from n-1 down to 1
 * swaps with splitmix64(seed) % (i + 1)), the rest is validation.  A
 * (sigma, lambda) that is not admissible (rounding_tol) or leaves
 * K + lambda I indefinite counts as an infinite error; a sigma without any
 * usable lambda is skipped.  See krr.c for the strategy and its cost.
 * @return RPR_OK, RPR_EINVAL (options; also when candidates kept K +
 *         lambda I positive definite but none of a component was
 *         admissible: the message asks for a larger lambda range),
 *         RPR_ENONFINITE (NaN/Inf in X or Y), RPR_ENOMEM, RPR_ENOTPD (no
 *         lambda of the grid keeps K + lambda I positive definite).
 */
rpr_status krr_search(const kernel_spec *base, size_t n, size_t D,
                      const double *X, size_t ncomp, const double *Y,
                      const krr_search_options *opt, krr_choice *choice,
                      rpr_error *err);

/* The lambda ladder of a final fit (rpr_train's policy when lambda was
 * searched on a subset and the fit uses all points). */
typedef struct krr_ladder {
    double lg_step;      /* log2 of the factor between rungs (> 0), or 0:
                            one rung only (a lambda given by the caller) */
    double lambda_max;   /* no rung above this (the top of the grid) */
    double rounding_tol; /* the admissibility rule; 0 or +inf: none */
} krr_ladder;

/*
 * Fit nrhs label columns with per-column starting lambdas, climbing a
 * ladder: at rung k every column not yet accepted is fitted with
 * lambda[j] * 2^(k lg_step) (columns with bit-equal lambdas share one
 * Cholesky factorisation); a column is accepted when K + lambda I is
 * positive definite and its fit is admissible (eps A <= rounding_tol, A
 * computed exactly from its coefficients), else it moves up one rung,
 * never past lambda_max.  Rungs are successive products lambda * 2^lg_step,
 * so an integer lg_step gives exact powers of two.
 *
 * @param K      [n][n] symmetric kernel matrix (upper triangle and diagonal
 *               read), unchanged.
 * @param Y      [n][nrhs] labels (prior subtracted).
 * @param lambda [nrhs] in: the starting lambdas; out: the lambdas used.
 * @param C      out [n][nrhs]: coefficients.
 * @param F      scratch [n][n]; R scratch [n][nrhs].
 * @param failed out: on failure the 0-based column that failed, else nrhs;
 *               may be NULL.
 * @return RPR_OK; RPR_EINVAL (arguments; no admissible rung: the message
 *         gives A and asks for a larger lambda range); RPR_ENONFINITE;
 *         RPR_ENOTPD (no positive definite rung).  Prints nothing.
 */
rpr_status krr_fit_ladder(size_t n, const double *K, size_t nrhs,
                          const double *Y, const krr_ladder *ladder,
                          double *lambda, double *C, double *F, double *R,
                          size_t *failed, rpr_error *err);

#endif /* RPR_KRR_H */
