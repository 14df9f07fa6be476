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
 * Solve (K + lambda I) C = Y by Cholesky (LAPACKE dpotrf/dpotrs, 'U'),
 * one factorisation for all nrhs right-hand sides.  K [n][n] row-major
 * symmetric is overwritten by its factor; Y [n][nrhs] is overwritten by
 * the coefficients C.  RPR_ENOTPD names lambda and asks for a larger one.
 */
rpr_status krr_fit(size_t n, double *K, double lambda, size_t nrhs, double *Y,
                   rpr_error *err);

typedef struct krr_search_options {
    rpr_criterion criterion;
    double validation_fraction; /* hold-out share (0.2) */
    uint64_t seed;              /* split */
    int nlg_sigma, nlg_lambda, lg_depth;          /* MLatom: 6, 6, 3 */
    double lg_sigma_lo, lg_sigma_hi;              /* log2 bounds */
    double lg_lambda_lo, lg_lambda_hi;            /* MLatom: -35, -6 */
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
 * seed.  See krr.c for the strategy and its cost.
 */
rpr_status krr_search(const kernel_spec *base, size_t n, size_t D,
                      const double *X, size_t ncomp, const double *Y,
                      const krr_search_options *opt, krr_choice *choice,
                      rpr_error *err);

#endif /* RPR_KRR_H */
