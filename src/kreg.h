/*
 * kreg.h - the KREG potential (private): Gaussian-kernel ridge regression
 * of energies, optionally trained on energies and energy gradients
 * together, with the exact analytic gradient of the prediction.
 *
 * Formulas: reference notes kreg-and-krr.md sections 3-4 (MLatom's
 * KRRtask=learnValGradXYZ; Hou, Ge, Dral, J. Chem. Theory Comput. 19, 2369
 * (2023)).  Everything here works on descriptors and their Jacobians; the
 * caller (model.c) evaluates the descriptor and converts units at its edge.
 *
 * Units.  The Jacobians J = dx/dR are taken against coordinates in the
 * model's length unit (kreg_model.length_unit, angstrom by MLatom's
 * convention), so gradients given to kreg_fit and returned by kreg_predict
 * are hartree per that unit.  kreg_length_to_bohr() gives the exact factor
 * to hartree/bohr.  Gradients are dE/dR, never forces.
 *
 * Layout of the linear system (MLatom's order): all N energies first, then
 * the gradient components of the geometries that have gradients, ordered
 * (geometry, coordinate), coordinate = 3 * atom + xyz fastest:
 *
 *   [ K_EE + lambda I   K_EG                  ] [alpha]   [E - prior]
 *   [ K_GE              K_GG + lambda_grad I  ] [beta ] = [    G    ]
 *
 * Prediction at x = x(R) with Jacobian J (q_j = J_j beta_j, a D-vector per
 * training point, computed once by kreg_fit; zero where j had no gradient):
 *   E(x)    = prior + sum_j k_j [alpha_j + (x - x_j).q_j / sigma^2]
 *   dE/dx   = sum_j (k_j/sigma^2) [alpha_j (x_j - x) + q_j
 *                                   - (x - x_j) (x - x_j).q_j / sigma^2]
 *   dE/dR   = J^T dE/dx
 * with k_j = exp(-|x - x_j|^2 / (2 sigma^2)).  The training Jacobians are
 * therefore not needed at prediction.
 */
#ifndef RPR_KREG_H
#define RPR_KREG_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Length unit of the coordinates the Jacobians are taken against. */
typedef enum kreg_length_unit {
    KREG_ANGSTROM = 0, /* MLatom's convention; the default */
    KREG_BOHR = 1
} kreg_length_unit;

/* Factor f with dE/dR [hartree/bohr] = f * dE/dR [hartree/unit]:
 * RPR_ANGSTROM_PER_BOHR for angstrom, 1 for bohr. */
double kreg_length_to_bohr(kreg_length_unit unit);

/*
 * Training data, all borrowed.  N geometries of natoms atoms, ncoord =
 * 3 natoms, descriptor length D.
 *   X       [N][D] descriptors.
 *   J       [N][D][ncoord] Jacobians dx/dR per length_unit; read only for
 *           geometries with gradients, may be NULL if there are none.
 *   E       [N] energies in hartree, the prior NOT subtracted (kreg_fit
 *           subtracts kreg_params.prior itself).
 *   G       [N][ncoord] dE/dR in hartree/length_unit, or NULL for an
 *           energy-only fit; rows of geometries without gradients are not
 *           read.
 *   present [N] 1 where G holds a gradient, 0 where not; NULL means all
 *           (when G is given).
 */
typedef struct kreg_data {
    size_t n, D, ncoord;
    const double *X;
    const double *J;
    const double *E;
    const double *G;
    const unsigned char *present;
    kreg_length_unit length_unit;
} kreg_data;

/* Hyperparameters of one fit. */
typedef struct kreg_params {
    double sigma;       /* Gaussian width in descriptor units, > 0 */
    double lambda;      /* energy-block regulariser, >= 0 */
    double lambda_grad; /* gradient-block regulariser, >= 0 (MLatom's
                           default: equal to lambda) */
    double prior;       /* hartree, subtracted from every energy before
                           the fit and added back at prediction: 0
                           (MLatom's default) or the training mean */
    /* Refuse (RPR_ENOMEM, saying how much is needed) a system matrix of
     * more bytes than this; 0 means the physical memory of the machine
     * (sysconf), as a larger matrix would only swap or be killed. */
    size_t max_bytes;
} kreg_params;

/*
 * What prediction needs; plain arrays so model.c can store and reload it.
 * Owned by the struct (kreg_model_free releases them).
 */
typedef struct kreg_model {
    size_t n;      /* training geometries N */
    size_t D;      /* descriptor length */
    size_t ncoord; /* 3 natoms: columns of the Jacobian */
    double sigma, lambda, lambda_grad, prior;
    kreg_length_unit length_unit;
    double *X;     /* [N][D] training descriptors */
    double *alpha; /* [N] energy coefficients */
    double *q;     /* [N][D] q_j = J_j beta_j (zero rows for geometries
                      without gradients), or NULL for an energy-only fit */
} kreg_model;

/* Allocate a model with all arrays (q only if with_gradients), the
 * numbers set to NaN for the caller to fill (model.c when loading).
 * RPR_EINVAL for n, D or ncoord 0, RPR_ENOMEM. */
rpr_status kreg_model_new(size_t n, size_t D, size_t ncoord, int with_gradients,
                          kreg_model **model, rpr_error *err);
void kreg_model_free(kreg_model *model); /* NULL does nothing */

/* Validate a filled model (after loading): sigma > 0, lambdas >= 0, every
 * number finite.  RPR_EINVAL or RPR_ENONFINITE naming the field. */
rpr_status kreg_model_check(const kreg_model *model, rpr_error *err);

/* Optional timings of kreg_fit, in seconds (monotonic clock). */
typedef struct kreg_timing {
    double build;  /* kernel matrix and right-hand side */
    double factor; /* dpotrf */
    double solve;  /* dpotrs and the q_j vectors */
    double total;  /* the whole call */
} kreg_timing;

/*
 * Dimension m = N + ncoord * (number of geometries with gradients) of the
 * system, and its bytes m^2 * 8.  RPR_EINVAL if that overflows size_t.
 */
rpr_status kreg_system_size(const kreg_data *data, size_t *m, size_t *bytes,
                            rpr_error *err);

/*
 * Build the system in caller memory: A [m][m] row-major, of which only the
 * upper triangle (row <= column) is written and meaningful (it is LAPACK's
 * column-major lower triangle, factorised in place by dpotrf 'L' without a
 * transposed copy), and y [m] = [E - prior; G].  Dense BLAS-3: one dgemm
 * per training geometry for K_EG and one dsyrk for the J_i^T J_j of K_GG.
 * Checks nothing: the caller has validated data and hp as kreg_fit does,
 * and m from kreg_system_size.  RPR_ENOMEM only (O(N D + M D) scratch).
 */
rpr_status kreg_build(const kreg_data *data, const kreg_params *hp, double *A,
                      double *y, rpr_error *err);

/*
 * Fit: check the inputs, build the system (one m x m matrix, nothing else
 * of that size), factorise it in place (Cholesky), solve, and form q_j.
 * timing may be NULL.
 * @return RPR_OK; RPR_EINVAL (sizes, sigma <= 0, lambda < 0, J missing);
 *   RPR_ENONFINITE (NaN/Inf in X, J, E, G or a parameter, naming the
 *   1-based geometry); RPR_ENOMEM (the message gives the GiB needed);
 *   RPR_ENOTPD (suggests a larger lambda).
 */
rpr_status kreg_fit(const kreg_data *data, const kreg_params *hp,
                    kreg_model **model, kreg_timing *timing, rpr_error *err);

/* Doubles of scratch kreg_predict needs (one per descriptor component). */
size_t kreg_scratch_size(const kreg_model *model);

/*
 * Energy and gradient of one geometry.  Allocates nothing.
 * @param x       [D] descriptor.
 * @param J       [D][ncoord] its Jacobian per length_unit; NULL only if
 *                grad is NULL.
 * @param energy  out: hartree.
 * @param grad    out [ncoord] dE/dR in hartree/length_unit, or NULL.
 * @param scratch kreg_scratch_size(model) doubles, or NULL if grad is NULL.
 * @return RPR_OK or RPR_ENONFINITE (the result is not finite: NaN in x).
 */
rpr_status kreg_predict(const kreg_model *model, const double *x,
                        const double *J, double *energy, double *grad,
                        double *scratch, rpr_error *err);

/* ------------------------------------------------------------ search */

typedef enum kreg_criterion {
    KREG_SELECT_AUTO = 0,     /* gradient RMSE if the data have gradients,
                                 else energy RMSE (MLatomF's choice) */
    KREG_SELECT_ENERGY = 1,   /* validation energy RMSE */
    KREG_SELECT_GRADIENT = 2, /* validation gradient RMSE (all components) */
    KREG_SELECT_GEOMEAN = 3   /* sqrt(RMSE_E * RMSE_G) (MLatom's Python API) */
} kreg_criterion;

typedef struct kreg_search_options {
    kreg_criterion criterion;
    double validation_fraction; /* share of the search set held out: 0.2 */
    /* Largest sub-training system the search factorises.  The search draws
     * a random subset of the geometries (all of them if they fit), holds
     * validation_fraction of it out and trains on the rest, whose system
     * dimension (energies + gradient components) stays <= max_dim; the
     * final fit (kreg_fit) uses all geometries.  Default 2500: about 100
     * DCE geometries with gradients, or 2500 without. */
    size_t max_dim;
    /* Validation geometries at most.  When not all geometries fit in the
     * sub-training set, the ones left out validate too: a prediction
     * costs little next to a factorisation, and 25 validation geometries
     * choose sigma and lambda by chance (docs/models.md, KREG search).
     * Never fewer than the held-out share; 0: no cap.  Default 1000. */
    size_t max_validation;
    uint64_t seed; /* draw and split are reproducible */
    /* MLatom's nested log2 grids: nlg points between lo and hi, refined
     * lg_depth times around the best.  Defaults 6, 6, 3; sigma 2..9,
     * lambda -35..-6. */
    int nlg_sigma, nlg_lambda, lg_depth;
    double lg_sigma_lo, lg_sigma_hi, lg_lambda_lo, lg_lambda_hi;
    /* log2(lambda_grad / lambda): nlg_ratio points between lo and hi, not
     * refined.  Default 1 point at 0: lambda_grad = lambda (MLatom). */
    int nlg_ratio;
    double lg_ratio_lo, lg_ratio_hi;
    size_t max_bytes; /* as kreg_params.max_bytes, for the search system */
    rpr_progress_fn progress; /* NULL for none */
    void *progress_ctx;
} kreg_search_options;
void kreg_search_options_default(kreg_search_options *opt);

typedef struct kreg_choice {
    kreg_params params; /* sigma, lambda, lambda_grad chosen; prior and
                           max_bytes copied from the input */
    double error;       /* selection error at the optimum (criterion) */
    double rmse_energy; /* validation energy RMSE there, hartree */
    double rmse_grad;   /* validation gradient RMSE there (NaN if the
                           validation set has no gradients) */
    size_t nsub, nval;  /* geometries in sub-training and validation
                           (the held-out share and those left out) */
    size_t nfits;       /* Cholesky factorisations done */
} kreg_choice;

/*
 * Choose sigma, lambda (and lambda_grad / lambda) by hold-out validation on
 * a random subset, with MLatom's nested log2 grid search (a lambda search
 * restarted for every sigma, first strict minimum, refinement around the
 * best).  Each sigma builds the sub-training kernel once; each (lambda,
 * ratio) shifts its diagonal and factorises a copy (one Cholesky: an
 * eigendecomposition costs ~30 of them with this LAPACK, more than the 18
 * lambdas it would replace).  Grid points whose system is not positive
 * definite count as infinitely bad.  Does not fit the final model: call
 * kreg_fit with choice->params.  prior as in kreg_params.
 * @return RPR_OK; RPR_EINVAL (options, or fewer than 2 geometries in the
 *   subset or validation set, or a gradient criterion without validation
 *   gradients); the errors of kreg_fit; RPR_ENOTPD if no grid point works.
 */
rpr_status kreg_search(const kreg_data *data, double prior,
                       const kreg_search_options *opt, kreg_choice *choice,
                       rpr_error *err);

#endif /* RPR_KREG_H */
