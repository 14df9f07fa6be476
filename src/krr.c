/*
 * krr.c - kernel ridge regression on value labels: the Cholesky fit, and
 * MLatom's nested log2-grid search for sigma and lambda made cheap by one
 * eigendecomposition per sigma (reference notes kreg-and-krr.md 3, 5, 6).
 */
#include <config.h>

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "krr.h"

/* ------------------------------------------------------------------ fit */

/*
 * Row-major storage of a symmetric matrix is its column-major storage, and
 * the row-major upper triangle ('U') is LAPACK's column-major lower one:
 * dpotrf 'L' on it factorises K + lambda I = R^T R in place, with R the
 * row-major upper triangle, and neither LAPACKE nor we make a transposed
 * copy.  dpotrs is two triangular solves; they are done here by
 * cblas_dtrsm directly on the row-major right-hand sides (LAPACKE's
 * row-major dpotrs would transpose both the factor and Y into new memory).
 */
rpr_status krr_fit(size_t n, double *K, double lambda, size_t nrhs, double *Y,
                   rpr_error *err)
{
    if (n == 0 || nrhs == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_fit: n and nrhs must be > 0 (got %zu, %zu)", n,
                        nrhs);
    if (K == NULL || Y == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "krr_fit: K or Y is NULL");
    if (!isfinite(lambda) || lambda < 0.0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_fit: lambda must be finite and >= 0 (got %g)",
                        lambda);
    if (n > INT_MAX || nrhs > INT_MAX)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_fit: n = %zu or nrhs = %zu exceeds LAPACK's int "
                        "range",
                        n, nrhs);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++)
            if (!isfinite(K[i * n + j]))
                return RPR_FAIL(err, RPR_ENONFINITE,
                                "krr_fit: kernel matrix element (%zu, %zu) "
                                "is not finite",
                                i + 1, j + 1);
    for (size_t i = 0; i < n * nrhs; i++)
        if (!isfinite(Y[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "krr_fit: label %zu of point %zu is not finite",
                            i % nrhs + 1, i / nrhs + 1);

    for (size_t i = 0; i < n; i++)
        K[i * n + i] += lambda;
    const int ni = (int) n;
    const lapack_int info =
        LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', ni, K, ni);
    if (info > 0)
        return RPR_FAIL(err, RPR_ENOTPD,
                        "K + lambda I is not positive definite (pivot %d of "
                        "%zu fails with lambda = %g): use a larger lambda",
                        (int) info, n, lambda);
    if (info < 0)
        return RPR_FAIL(err, RPR_EINVAL, "krr_fit: dpotrf argument %d invalid",
                        (int) -info);
    /* R^T Z = Y, then R C = Z. */
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit,
                ni, (int) nrhs, 1.0, K, ni, Y, (int) nrhs);
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans,
                CblasNonUnit, ni, (int) nrhs, 1.0, K, ni, Y, (int) nrhs);
    return RPR_OK;
}

/* ------------------------------------------------------------------ search */

/*
 * Strategy.  MLatom's search (kreg-and-krr.md 5.1) fits, for every sigma of
 * a nested log2 grid and every lambda of a nested log2 grid restarted for
 * that sigma, one model per component: with the defaults 18 sigmas x 18
 * lambdas = 324 Cholesky solves of the sub-training matrix per component.
 * Here, for a sigma:
 *
 *   1. K_ss = K(sub, sub) and K_vs = K(val, sub) are built once (BLAS-3 for
 *      the Gaussian), O(n_s^2 D + n_v n_s D);
 *   2. K_ss = V Lambda V^T is eigendecomposed once (dsytrd + dstedc, with
 *      Q applied only where needed: krr_search_eig_holdout), O(n_s^3), in
 *      practice the time of ~10-15 Cholesky factorisations;
 *   3. P = K_vs V and b_c = V^T y_c for every component c are formed once,
 *      O(n_v n_s^2 + n_s^2 ncomp);
 *   4. then the validation predictions for every lambda and component are
 *      K_vs (K_ss + lambda I)^-1 y_c = P (Lambda + lambda)^-1 b_c, one dgemm
 *      per lambda level for all components at once, O(n_v n_s) per
 *      (lambda, component).
 *
 * The lambda search of every component is done for every sigma evaluated,
 * and the result is cached by sigma, so components share their
 * eigendecompositions.  Sigma grid points are integers in units of
 * (hi - lo) / (nlg - 1)^depth (a refined grid spans best -+ step with the
 * same nlg points, so its spacing is 2 step / (nlg - 1) and every level's
 * points are exact integers in that unit), which makes cache hits exact:
 * the edges of a
 * refined grid are the previous level's neighbours of the best point and
 * are never recomputed.  Each refinement level first collects the union of
 * the candidate sigmas of all components, then evaluates the new ones.
 * With the defaults a refined grid adds 4 new sigmas (5 if its centre was
 * on an edge of the previous grid): 14 eigendecompositions when all
 * components agree, at most 6 + 5 * 2 * ncomp.  Measured (tests/bench/
 * bench_krr.c): the 9 dipole and polarizability components of 1000 DCE
 * geometries, RE (D = 28), 800/200 split: 41 eigendecompositions, about
 * 4 s of one core, against MLatom's 9 x 324 Cholesky solves.
 *
 * Leave-one-out (RPR_CRITERION_LOO) uses the full training set, K = V
 * Lambda V^T, and the closed form e_i = alpha_i / [A^-1]_ii with
 * A = K + lambda I (Rasmussen & Williams 2006, eq. 5.12): alpha = V
 * (Lambda + lambda)^-1 V^T y and [A^-1]_ii = sum_k V_ik^2 / (Lambda_k +
 * lambda), two dgemms per lambda level, O(n^2) per (lambda, component).
 *
 * Round-off: the computed Lambda_k of a PSD kernel matrix can be slightly
 * negative; a lambda with Lambda_min + lambda <= 0 is skipped (its error
 * counts as +inf), as are non-finite errors.
 *
 * Admissibility (krr.h).  A tiny lambda can win the validation error by a
 * hair while its coefficients, ||alpha||_1 ~ 1e13, make every prediction
 * round at the 1e-3 level: a covariance certificate then fails on rounding
 * alone.  Such candidates count as +inf too.  The rule needs ||alpha||_1
 * for every (lambda, component); exactly that is V W, an n_s x n_s by
 * n_s x m product per lambda level (for hold-out also Q applied to it),
 * about 140 Mflop per level at n_s = 800, +20 % on the search.  Instead
 * the search uses ||alpha||_1 <= sqrt(n_s) ||alpha||_2, and ||alpha||_2 =
 * ||(Lambda + lambda)^-1 b|| needs no V at all: O(n_s) per (lambda,
 * component), from W itself.  The bound is safe (never admits a candidate
 * the exact rule refuses) and close: the coefficients of an ill-conditioned
 * fit are dominated by the delocalised eigenvectors of the smallest
 * Lambda_k, for which ||alpha||_1 ~ sqrt(2 n_s / pi) ||alpha||_2, 0.8 of
 * the bound.  And it is monotone: ||alpha||_2 decreases as lambda grows,
 * so for each sigma and component the admissible lambdas are exactly those
 * above a threshold, and a refined level around an admissible best always
 * keeps admissible points.  The final fit (krr_fit_ladder) checks the
 * exact A of its own coefficients.
 *
 * Selection follows MLatom exactly: on each level the first strict minimum
 * of the validation RMSE wins (ties go to the smaller value), the next
 * level spans best -+ step with the same number of points, and the result
 * is the best point of the LAST level even if an earlier level was better;
 * lambda is searched afresh from its full range for every sigma.
 */

/* splitmix64 (Steele, Lea, Flood, OOPSLA 2014): the generator of
 * tests/testutil.h, so that a test can reproduce the split. */
static uint64_t krr_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Largest integer key range of the sigma grid: keys and their conversion
 * to double stay exact well below 2^53. */
#define KRR_KEY_MAX (INT64_C(1) << 50)

typedef struct krr_ws {
    /* Sizes: n_s sub-training (all n for LOO), n_v validation (0 for LOO),
     * m = ncomp * nlg_lambda columns of one lambda level. */
    size_t D, ncomp, ns, nv, nlgl, m;
    int depth, loo;
    kernel_spec spec;
    double lgl_lo, lgl_hi;
    const double *Xs, *Ys; /* [ns][D], [ns][ncomp] */
    double *Xs_own, *Ys_own, *Xv, *Yv;
    /* Per sigma. */
    double *A;       /* [ns][ns] K_ss; then LOO: its eigenvectors as ROWS;
                        hold-out: the Householder vectors of Q */
    double *w;       /* [ns] eigenvalues, ascending */
    double *S;       /* hold-out [ns][ns] eigenvectors of T as ROWS */
    double *e, *tau; /* hold-out [ns] off-diagonal of T, reflectors */
    double *Z;       /* hold-out [ns][ncomp] Q^T Y_s */
    double *Kv;      /* hold-out [nv][ns] K_vs */
    double *P;       /* hold-out [nv][ns] K_vs V; LOO [ns][ns] A squared */
    double *B;       /* [ns][ncomp] V^T Y_s */
    double *W;       /* [ns][m] b_c / (Lambda + lambda) */
    double *R;       /* LOO [ns][m] 1 / (Lambda + lambda) */
    double *out;     /* [nv or ns][m] predictions (hold-out) or alpha (LOO) */
    double *dg;      /* LOO [ns][m] diagonal of A^-1 */
    double *work;
    lapack_int *iwork;
    lapack_int lwork, liwork;
    /* Lambda search: per column of a level, and per component. */
    double *lam, *sse, *sae;                    /* [m] */
    int *valid;                                 /* [m] */
    double *llo, *lstep, *lbest, *lrmse, *lmae; /* [ncomp] */
    double *lval, *lamp;                        /* [ncomp] */
    double *a2;                                 /* [m] ||alpha||_2^2 */
    /* Admissibility: tolerance (0: none), max K_ii of this sigma, max |y|
     * of each component's sub-training labels, and per component the
     * number of candidates refused by the rule. */
    double tol, kmax;
    double *ymax;
    size_t *rejected;
    /* Fixed lambda: one column per component, this value. */
    int fix_lambda;
    double lambda_fixed;
    /* Sigma cache: grid key and, per component, the lambda search's result
     * (lambda NaN and errors +inf if no lambda was usable). */
    size_t ncache, cap;
    int64_t *key;
    double *c_lambda, *c_rmse, *c_mae, *c_amp; /* [cap][ncomp] */
} krr_ws;

static void krr_ws_free(krr_ws *ws)
{
    free(ws->Xs_own);
    free(ws->Ys_own);
    free(ws->Xv);
    free(ws->Yv);
    free(ws->A);
    free(ws->w);
    free(ws->S);
    free(ws->e);
    free(ws->tau);
    free(ws->Z);
    free(ws->Kv);
    free(ws->P);
    free(ws->B);
    free(ws->W);
    free(ws->R);
    free(ws->out);
    free(ws->dg);
    free(ws->work);
    free(ws->iwork);
    free(ws->lam);
    free(ws->sse);
    free(ws->sae);
    free(ws->valid);
    free(ws->llo);
    free(ws->lstep);
    free(ws->lbest);
    free(ws->lrmse);
    free(ws->lmae);
    free(ws->lval);
    free(ws->lamp);
    free(ws->a2);
    free(ws->ymax);
    free(ws->rejected);
    free(ws->key);
    free(ws->c_lambda);
    free(ws->c_rmse);
    free(ws->c_mae);
    free(ws->c_amp);
}

/* malloc of a * b elements of s bytes; NULL on overflow.  A zero count
 * still allocates one element, so that NULL always means failure. */
static void *krr_alloc(size_t a, size_t b, size_t s)
{
    if (a != 0 && b > SIZE_MAX / s / a)
        return NULL;
    const size_t bytes = a * b * s;
    return malloc(bytes > 0 ? bytes : s);
}

/*
 * Lambda search of every component on the current eigendecomposition
 * (ws->w, ws->A, ws->B, ws->P): MLatom's nested grid, restarted from the
 * full range, or the fixed lambda alone.  Stores the results in cache
 * slot `slot`.
 */
static void krr_search_lambda(krr_ws *ws, size_t slot)
{
    const size_t ns = ws->ns, ncomp = ws->ncomp, nlgl = ws->nlgl, m = ws->m;
    const size_t nrow = ws->loo ? ns : ws->nv;
    const int rule = ws->tol > 0.0 && isfinite(ws->tol);
    const double sqrt_ns = sqrt((double) ns);

    for (size_t c = 0; c < ncomp; c++) {
        ws->llo[c] = ws->lgl_lo;
        ws->lstep[c] =
            nlgl > 1 ? (ws->lgl_hi - ws->lgl_lo) / (double) (nlgl - 1) : 0.0;
        ws->lbest[c] = NAN;
        ws->lval[c] = NAN;
        ws->lamp[c] = INFINITY;
        ws->lrmse[c] = INFINITY;
        ws->lmae[c] = INFINITY;
    }
    for (int level = 0; level < ws->depth; level++) {
        for (size_t col = 0; col < m; col++) {
            const size_t c = col / nlgl, j = col % nlgl;
            ws->lam[col] = ws->fix_lambda
                               ? ws->lambda_fixed
                               : exp2(ws->llo[c] + (double) j * ws->lstep[c]);
            /* Lambda_min + lambda <= 0: round-off made K + lambda I
             * indefinite; skip this lambda. */
            ws->valid[col] =
                isfinite(ws->lam[col]) && ws->w[0] + ws->lam[col] > 0.0;
            ws->sse[col] = 0.0;
            ws->sae[col] = 0.0;
            ws->a2[col] = 0.0;
        }
        for (size_t k = 0; k < ns; k++) {
            const double wk = ws->w[k];
            for (size_t col = 0; col < m; col++) {
                const double inv =
                    ws->valid[col] ? 1.0 / (wk + ws->lam[col]) : 0.0;
                const double wkc = ws->B[k * ncomp + col / nlgl] * inv;
                ws->W[k * m + col] = wkc;
                ws->a2[col] += wkc * wkc; /* alpha = V W, V orthogonal */
                if (ws->loo)
                    ws->R[k * m + col] = inv;
            }
        }
        /* The rule, as eps sqrt(n_s) ||alpha||_2 kmax <= tol max|y| (no
         * division: labels that are all 0 give alpha = 0, admissible). */
        for (size_t col = 0; col < m; col++) {
            const size_t c = col / nlgl;
            if (rule && ws->valid[col] &&
                !(DBL_EPSILON * sqrt_ns * sqrt(ws->a2[col]) * ws->kmax <=
                  ws->tol * ws->ymax[c])) {
                ws->valid[col] = 0;
                ws->rejected[c]++;
            }
        }
        if (!ws->loo) {
            /* Predictions of the validation set: P (Lambda + lambda)^-1 b. */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) ws->nv,
                        (int) m, (int) ns, 1.0, ws->P, (int) ns, ws->W, (int) m,
                        0.0, ws->out, (int) m);
            for (size_t v = 0; v < ws->nv; v++)
                for (size_t col = 0; col < m; col++) {
                    const double e =
                        ws->out[v * m + col] - ws->Yv[v * ncomp + col / nlgl];
                    ws->sse[col] += e * e;
                    ws->sae[col] += fabs(e);
                }
        } else {
            /* alpha = V W and diag(A^-1) = (V o V) R; rows of ws->A are the
             * eigenvectors, so both are products with a transposed A. */
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) ns,
                        (int) m, (int) ns, 1.0, ws->A, (int) ns, ws->W, (int) m,
                        0.0, ws->out, (int) m);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) ns,
                        (int) m, (int) ns, 1.0, ws->P, (int) ns, ws->R, (int) m,
                        0.0, ws->dg, (int) m);
            for (size_t i = 0; i < ns; i++)
                for (size_t col = 0; col < m; col++) {
                    const double e = ws->out[i * m + col] / ws->dg[i * m + col];
                    ws->sse[col] += e * e;
                    ws->sae[col] += fabs(e);
                }
        }
        for (size_t c = 0; c < ncomp; c++) {
            size_t jbest = nlgl;
            double ebest = INFINITY;
            for (size_t j = 0; j < nlgl; j++) {
                const size_t col = c * nlgl + j;
                const double rmse = ws->valid[col]
                                        ? sqrt(ws->sse[col] / (double) nrow)
                                        : INFINITY;
                if (isfinite(rmse) && rmse < ebest) { /* first strict min */
                    ebest = rmse;
                    jbest = j;
                }
            }
            if (jbest == nlgl) { /* nothing usable: keep the bounds */
                ws->lbest[c] = NAN;
                ws->lval[c] = NAN;
                ws->lamp[c] = INFINITY;
                ws->lrmse[c] = INFINITY;
                ws->lmae[c] = INFINITY;
                continue;
            }
            const size_t col = c * nlgl + jbest;
            ws->lbest[c] = ws->llo[c] + (double) jbest * ws->lstep[c];
            ws->lval[c] = ws->lam[col];
            ws->lamp[c] = ws->ymax[c] > 0.0 ? sqrt_ns * sqrt(ws->a2[col]) *
                                                  ws->kmax / ws->ymax[c]
                                            : 0.0;
            ws->lrmse[c] = ebest;
            ws->lmae[c] = ws->sae[col] / (double) nrow;
            if (nlgl > 1) {
                ws->llo[c] = ws->lbest[c] - ws->lstep[c];
                ws->lstep[c] = 2.0 * ws->lstep[c] / (double) (nlgl - 1);
            }
        }
    }
    for (size_t c = 0; c < ncomp; c++) {
        ws->c_lambda[slot * ncomp + c] = ws->lval[c];
        ws->c_rmse[slot * ncomp + c] = ws->lrmse[c];
        ws->c_mae[slot * ncomp + c] = ws->lmae[c];
        ws->c_amp[slot * ncomp + c] = ws->lamp[c];
    }
}

/*
 * Hold-out: the eigendecomposition K_ss = Q T Q^T = (Q S) Lambda (Q S)^T is
 * done in its three LAPACK steps (dsytrd, dstedc, and Q applied by dormtr:
 * exactly what dsyevd does), but Q is applied to the n_v x n_s matrix K_vs
 * and the n_s x ncomp labels instead of to the n_s x n_s eigenvector matrix:
 * P = (K_vs Q) S and b = S^T (Q^T y).  That saves most of dsyevd's
 * back-transformation (2 n_s^3 flops), about a quarter of its time.
 * Symmetric matrices are their own column-major storage, and the
 * column-major eigenvectors of T come back as the ROWS of ws->S.
 */
static rpr_status krr_search_eig_holdout(krr_ws *ws, double sigma,
                                         rpr_error *err)
{
    const int nsi = (int) ws->ns, nvi = (int) ws->nv, nci = (int) ws->ncomp;
    lapack_int info =
        LAPACKE_dsytrd_work(LAPACK_COL_MAJOR, 'L', nsi, ws->A, nsi, ws->w,
                            ws->e, ws->tau, ws->work, ws->lwork);
    if (info == 0)
        info = LAPACKE_dstedc_work(LAPACK_COL_MAJOR, 'I', nsi, ws->w, ws->e,
                                   ws->S, nsi, ws->work, ws->lwork, ws->iwork,
                                   ws->liwork);
    /* Row-major K_vs [nv][ns] is column-major K_vs^T: Q^T K_vs^T = (K_vs
     * Q)^T.  Row-major Z [ns][ncomp] is column-major Z^T: Y^T Q = (Q^T Y)^T. */
    if (info == 0)
        info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'L', 'L', 'T', nsi, nvi,
                                   ws->A, nsi, ws->tau, ws->Kv, nsi, ws->work,
                                   ws->lwork);
    memcpy(ws->Z, ws->Ys, ws->ns * ws->ncomp * sizeof(double));
    if (info == 0)
        info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'R', 'L', 'N', nci, nsi,
                                   ws->A, nsi, ws->tau, ws->Z, nci, ws->work,
                                   ws->lwork);
    if (info != 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: eigendecomposition of the kernel matrix "
                        "failed (info %d, sigma = %g)",
                        (int) info, sigma);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nsi, nci, nsi, 1.0,
                ws->S, nsi, ws->Z, nci, 0.0, ws->B, nci);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nvi, nsi, nsi, 1.0,
                ws->Kv, nsi, ws->S, nsi, 0.0, ws->P, nsi);
    return RPR_OK;
}

/* One sigma: kernel matrices, eigendecomposition, the products that every
 * lambda shares, then the lambda search of all components. */
static rpr_status krr_search_sigma(krr_ws *ws, double sigma, size_t slot,
                                   rpr_error *err)
{
    const size_t ns = ws->ns;
    const int nsi = (int) ns;

    if (!(isfinite(sigma) && sigma > 0.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: the refined grid reached sigma = %g; "
                        "narrow lg_sigma_lo, lg_sigma_hi",
                        sigma);
    ws->spec.sigma = sigma;
    kernel_matrix_sym(&ws->spec, ws->D, ns, ws->Xs, ws->A);
    /* max_ij K_ij of a PSD matrix is on its diagonal. */
    ws->kmax = 0.0;
    for (size_t i = 0; i < ns; i++)
        ws->kmax = fmax(ws->kmax, ws->A[i * ns + i]);
    if (!ws->loo) {
        kernel_matrix(&ws->spec, ws->D, ws->nv, ws->Xv, ns, ws->Xs, ws->Kv);
        const rpr_status st = krr_search_eig_holdout(ws, sigma, err);
        if (st != RPR_OK)
            return st;
        krr_search_lambda(ws, slot);
        return RPR_OK;
    }
    /* LOO needs V itself.  The column-major eigenvectors come back as the
     * rows of ws->A. */
    const lapack_int info =
        LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', nsi, ws->A, nsi, ws->w,
                            ws->work, ws->lwork, ws->iwork, ws->liwork);
    if (info != 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: eigendecomposition of the kernel matrix "
                        "failed (dsyevd info %d, sigma = %g)",
                        (int) info, sigma);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nsi, (int) ws->ncomp,
                nsi, 1.0, ws->A, nsi, ws->Ys, (int) ws->ncomp, 0.0, ws->B,
                (int) ws->ncomp);
    for (size_t i = 0; i < ns * ns; i++)
        ws->P[i] = ws->A[i] * ws->A[i];
    krr_search_lambda(ws, slot);
    return RPR_OK;
}

/* LAPACK workspace sizes (queries with lwork = -1): dsyevd for LOO; the
 * largest of dsytrd, dstedc and both dormtr for hold-out. */
static rpr_status krr_search_workspace(krr_ws *ws, rpr_error *err)
{
    const int nsi = (int) ws->ns, nvi = (int) ws->nv, nci = (int) ws->ncomp;
    double wq[4] = {0.0, 0.0, 0.0, 0.0};
    lapack_int iwq = 0, info;
    if (ws->loo) {
        info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', nsi, ws->A, nsi,
                                   ws->w, &wq[0], -1, &iwq, -1);
    } else {
        info = LAPACKE_dsytrd_work(LAPACK_COL_MAJOR, 'L', nsi, ws->A, nsi,
                                   ws->w, ws->e, ws->tau, &wq[0], -1);
        if (info == 0)
            info = LAPACKE_dstedc_work(LAPACK_COL_MAJOR, 'I', nsi, ws->w, ws->e,
                                       ws->S, nsi, &wq[1], -1, &iwq, -1);
        if (info == 0)
            info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'L', 'L', 'T', nsi,
                                       nvi, ws->A, nsi, ws->tau, ws->Kv, nsi,
                                       &wq[2], -1);
        if (info == 0)
            info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'R', 'L', 'N', nci,
                                       nsi, ws->A, nsi, ws->tau, ws->Z, nci,
                                       &wq[3], -1);
    }
    const double lw = fmax(fmax(wq[0], wq[1]), fmax(wq[2], wq[3]));
    if (info != 0 || !(lw >= 1.0 && lw < (double) INT_MAX) || iwq < 1)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: LAPACK workspace query failed for "
                        "n = %zu (info %d)",
                        ws->ns, (int) info);
    ws->lwork = (lapack_int) lw;
    ws->liwork = iwq;
    return RPR_OK;
}

static size_t krr_cache_find(const krr_ws *ws, int64_t key)
{
    for (size_t i = 0; i < ws->ncache; i++)
        if (ws->key[i] == key)
            return i;
    return SIZE_MAX;
}

static int krr_key_cmp(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

/* The failure of a component without any usable candidate: indefinite
 * for every lambda, or positive definite but never admissible. */
static rpr_status krr_search_none(const krr_ws *ws, size_t c, rpr_error *err)
{
    if (ws->rejected[c] > 0 && ws->fix_lambda)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: component %zu: lambda = %g amplifies "
                        "rounding beyond rounding_tol = %g for every sigma "
                        "of the grid that keeps K + lambda I positive "
                        "definite; use a larger lambda or rounding_tol",
                        c + 1, ws->lambda_fixed, ws->tol);
    if (ws->rejected[c] > 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: component %zu: every candidate of the "
                        "grid that keeps K + lambda I positive definite "
                        "amplifies rounding beyond rounding_tol = %g "
                        "(%zu refused); search larger lambdas (raise "
                        "lg_lambda_hi, now %g) or raise rounding_tol",
                        c + 1, ws->tol, ws->rejected[c], ws->lgl_hi);
    if (ws->fix_lambda)
        return RPR_FAIL(err, RPR_ENOTPD,
                        "krr_search: component %zu: lambda = %g does not keep "
                        "K + lambda I positive definite for any sigma of the "
                        "grid; use a larger lambda",
                        c + 1, ws->lambda_fixed);
    return RPR_FAIL(err, RPR_ENOTPD,
                    "krr_search: component %zu: no lambda in 2^%g .. 2^%g "
                    "keeps K + lambda I positive definite for any sigma of "
                    "the grid; raise lg_lambda_lo",
                    c + 1, ws->lgl_lo, ws->lgl_hi);
}

rpr_status krr_search(const kernel_spec *base, size_t n, size_t D,
                      const double *X, size_t ncomp, const double *Y,
                      const krr_search_options *opt, krr_choice *choice,
                      rpr_error *err)
{
    krr_ws ws;
    size_t *perm = NULL;
    int64_t *need = NULL, *slo = NULL, *bestkey = NULL;
    rpr_status st = RPR_OK;

    memset(&ws, 0, sizeof ws);
    if (base == NULL || X == NULL || Y == NULL || opt == NULL || choice == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "krr_search: NULL argument");
    const kernel_info *info = NULL;
    for (size_t i = 0; i < kernel_count(); i++)
        if (kernel_get(i)->type == base->type)
            info = kernel_get(i);
    if (info == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "krr_search: unknown kernel type %d",
                        (int) base->type);
    if (base->type == KERNEL_MATERN && base->matern_n < 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: Matern order must be >= 0 (got %d)",
                        base->matern_n);
    if (D == 0 || ncomp == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: descriptor length and number of "
                        "components must be > 0 (got %zu, %zu)",
                        D, ncomp);
    if (opt->criterion != RPR_CRITERION_HOLDOUT &&
        opt->criterion != RPR_CRITERION_LOO)
        return RPR_FAIL(err, RPR_EINVAL, "krr_search: unknown criterion %d",
                        (int) opt->criterion);
    if (opt->fix_sigma && opt->fix_lambda)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: sigma and lambda both fixed: nothing to "
                        "search");
    if (opt->fix_sigma && !(isfinite(opt->sigma) && opt->sigma > 0.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: fixed sigma must be finite and > 0 (got "
                        "%g)",
                        opt->sigma);
    if (opt->fix_lambda && !(isfinite(opt->lambda) && opt->lambda >= 0.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: fixed lambda must be finite and >= 0 "
                        "(got %g)",
                        opt->lambda);
    if (!(opt->rounding_tol >= 0.0)) /* +inf allowed: no rule */
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: rounding_tol must be >= 0 (got %g)",
                        opt->rounding_tol);
    if ((!opt->fix_sigma && opt->nlg_sigma < 2) ||
        (!opt->fix_lambda && opt->nlg_lambda < 2) || opt->lg_depth < 1)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: need nlg_sigma >= 2, nlg_lambda >= 2, "
                        "lg_depth >= 1 (got %d, %d, %d)",
                        opt->nlg_sigma, opt->nlg_lambda, opt->lg_depth);
    const double lgs_lo =
        isnan(opt->lg_sigma_lo) ? info->lg_sigma_lo : opt->lg_sigma_lo;
    const double lgs_hi =
        isnan(opt->lg_sigma_hi) ? info->lg_sigma_hi : opt->lg_sigma_hi;
    if (!opt->fix_sigma &&
        !(isfinite(lgs_lo) && isfinite(lgs_hi) && lgs_lo < lgs_hi))
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: need finite lg_sigma_lo < lg_sigma_hi "
                        "(got %g, %g)",
                        lgs_lo, lgs_hi);
    if (!opt->fix_lambda &&
        !(isfinite(opt->lg_lambda_lo) && isfinite(opt->lg_lambda_hi) &&
          opt->lg_lambda_lo < opt->lg_lambda_hi))
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: need finite lg_lambda_lo < lg_lambda_hi "
                        "(got %g, %g)",
                        opt->lg_lambda_lo, opt->lg_lambda_hi);
    /* Sigma keys are integers in units of (hi - lo) / (nlg - 1)^depth; the
     * steps grow by at most 2^depth over that unit.  A fixed sigma is one
     * grid point, key 0. */
    const int sigma_depth = opt->fix_sigma ? 1 : opt->lg_depth;
    const size_t nlgs = opt->fix_sigma ? 1 : (size_t) opt->nlg_sigma;
    const int64_t nm1 = opt->fix_sigma ? 1 : opt->nlg_sigma - 1;
    int64_t Q = 1, reach = 1;
    for (int l = 0; l < sigma_depth && !opt->fix_sigma; l++) {
        if (reach > KRR_KEY_MAX / (2 * nm1))
            return RPR_FAIL(err, RPR_EINVAL,
                            "krr_search: nlg_sigma = %d with lg_depth = %d "
                            "refines finer than 2^-50 of the range",
                            opt->nlg_sigma, opt->lg_depth);
        Q *= nm1;
        reach *= 2 * nm1;
    }

    ws.loo = opt->criterion == RPR_CRITERION_LOO;
    if (ws.loo) {
        if (n < 2)
            return RPR_FAIL(err, RPR_EINVAL,
                            "krr_search: leave-one-out needs at least 2 "
                            "points (got %zu)",
                            n);
        ws.ns = n;
    } else {
        const double vf = opt->validation_fraction;
        const double nsd = isfinite(vf) && vf > 0.0 && vf < 1.0
                               ? round((1.0 - vf) * (double) n)
                               : 0.0;
        if (!(nsd >= 1.0 && nsd < (double) n))
            return RPR_FAIL(err, RPR_EINVAL,
                            "krr_search: validation_fraction %g leaves no "
                            "sub-training or no validation point of %zu",
                            vf, n);
        ws.ns = (size_t) nsd;
    }
    ws.nv = n - ws.ns;
    ws.D = D;
    ws.ncomp = ncomp;
    ws.fix_lambda = opt->fix_lambda != 0;
    ws.lambda_fixed = opt->lambda;
    ws.nlgl = ws.fix_lambda ? 1 : (size_t) opt->nlg_lambda;
    ws.depth = ws.fix_lambda ? 1 : opt->lg_depth;
    ws.spec = *base;
    ws.lgl_lo = opt->lg_lambda_lo;
    ws.lgl_hi = opt->lg_lambda_hi;
    ws.tol = opt->rounding_tol;
    if (ncomp > INT_MAX / ws.nlgl || ws.ns > INT_MAX)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_search: %zu points or %zu components exceed "
                        "BLAS's int range",
                        n, ncomp);
    ws.m = ncomp * ws.nlgl;
    for (size_t i = 0; i < n * D; i++)
        if (!isfinite(X[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "krr_search: descriptor element %zu of point %zu "
                            "is not finite",
                            i % D + 1, i / D + 1);
    for (size_t i = 0; i < n * ncomp; i++)
        if (!isfinite(Y[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "krr_search: label %zu of point %zu is not finite",
                            i % ncomp + 1, i / ncomp + 1);

    /* The split: the first n_s entries of a Fisher-Yates shuffle driven by
     * splitmix64(seed) are the sub-training set, the rest validation.  The
     * modulo's bias is below n / 2^64. */
    const size_t ns = ws.ns, nv = ws.nv;
    const size_t nrow = ws.loo ? ns : nv;
    if (ws.loo) {
        ws.Xs = X;
        ws.Ys = Y;
    } else {
        perm = krr_alloc(n, 1, sizeof *perm);
        ws.Xs = ws.Xs_own = krr_alloc(ns, D, sizeof(double));
        ws.Ys = ws.Ys_own = krr_alloc(ns, ncomp, sizeof(double));
        ws.Xv = krr_alloc(nv, D, sizeof(double));
        ws.Yv = krr_alloc(nv, ncomp, sizeof(double));
        ws.Kv = krr_alloc(nv, ns, sizeof(double));
        if (perm == NULL || ws.Xs_own == NULL || ws.Ys_own == NULL ||
            ws.Xv == NULL || ws.Yv == NULL || ws.Kv == NULL)
            goto nomem;
        uint64_t state = opt->seed;
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        for (size_t i = n; i-- > 1;) {
            const size_t j = (size_t) (krr_splitmix64(&state) % (i + 1));
            const size_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            double *const x = i < ns ? ws.Xs_own + i * D : ws.Xv + (i - ns) * D;
            double *const y =
                i < ns ? ws.Ys_own + i * ncomp : ws.Yv + (i - ns) * ncomp;
            memcpy(x, X + perm[i] * D, D * sizeof(double));
            memcpy(y, Y + perm[i] * ncomp, ncomp * sizeof(double));
        }
    }
    ws.A = krr_alloc(ns, ns, sizeof(double));
    ws.w = krr_alloc(ns, 1, sizeof(double));
    ws.P = krr_alloc(ws.loo ? ns : nv, ns, sizeof(double));
    ws.B = krr_alloc(ns, ncomp, sizeof(double));
    ws.W = krr_alloc(ns, ws.m, sizeof(double));
    ws.out = krr_alloc(nrow, ws.m, sizeof(double));
    ws.lam = krr_alloc(ws.m, 1, sizeof(double));
    ws.sse = krr_alloc(ws.m, 1, sizeof(double));
    ws.sae = krr_alloc(ws.m, 1, sizeof(double));
    ws.a2 = krr_alloc(ws.m, 1, sizeof(double));
    ws.valid = krr_alloc(ws.m, 1, sizeof(int));
    ws.llo = krr_alloc(ncomp, 1, sizeof(double));
    ws.lstep = krr_alloc(ncomp, 1, sizeof(double));
    ws.lbest = krr_alloc(ncomp, 1, sizeof(double));
    ws.lval = krr_alloc(ncomp, 1, sizeof(double));
    ws.lamp = krr_alloc(ncomp, 1, sizeof(double));
    ws.lrmse = krr_alloc(ncomp, 1, sizeof(double));
    ws.lmae = krr_alloc(ncomp, 1, sizeof(double));
    ws.ymax = krr_alloc(ncomp, 1, sizeof(double));
    ws.rejected = krr_alloc(ncomp, 1, sizeof(size_t));
    /* Level 1 adds nlg sigmas, every later level at most nlg per
     * component. */
    ws.cap = nlgs + (size_t) (sigma_depth - 1) * ncomp * nlgs;
    ws.key = krr_alloc(ws.cap, 1, sizeof(int64_t));
    ws.c_lambda = krr_alloc(ws.cap, ncomp, sizeof(double));
    ws.c_rmse = krr_alloc(ws.cap, ncomp, sizeof(double));
    ws.c_mae = krr_alloc(ws.cap, ncomp, sizeof(double));
    ws.c_amp = krr_alloc(ws.cap, ncomp, sizeof(double));
    need = krr_alloc(ncomp, nlgs, sizeof(int64_t));
    slo = krr_alloc(ncomp, 1, sizeof(int64_t));
    bestkey = krr_alloc(ncomp, 1, sizeof(int64_t));
    if (ws.A == NULL || ws.w == NULL || ws.P == NULL || ws.B == NULL ||
        ws.W == NULL || ws.out == NULL || ws.lam == NULL || ws.sse == NULL ||
        ws.sae == NULL || ws.a2 == NULL || ws.valid == NULL || ws.llo == NULL ||
        ws.lstep == NULL || ws.lbest == NULL || ws.lval == NULL ||
        ws.lamp == NULL || ws.lrmse == NULL || ws.lmae == NULL ||
        ws.ymax == NULL || ws.rejected == NULL || ws.key == NULL ||
        ws.c_lambda == NULL || ws.c_rmse == NULL || ws.c_mae == NULL ||
        ws.c_amp == NULL || need == NULL || slo == NULL || bestkey == NULL)
        goto nomem;
    for (size_t c = 0; c < ncomp; c++) {
        ws.ymax[c] = 0.0;
        ws.rejected[c] = 0;
        for (size_t i = 0; i < ns; i++)
            ws.ymax[c] = fmax(ws.ymax[c], fabs(ws.Ys[i * ncomp + c]));
    }
    if (ws.loo) {
        ws.R = krr_alloc(ns, ws.m, sizeof(double));
        ws.dg = krr_alloc(ns, ws.m, sizeof(double));
        if (ws.R == NULL || ws.dg == NULL)
            goto nomem;
    }
    if (!ws.loo) {
        ws.S = krr_alloc(ns, ns, sizeof(double));
        ws.e = krr_alloc(ns, 1, sizeof(double));
        ws.tau = krr_alloc(ns, 1, sizeof(double));
        ws.Z = krr_alloc(ns, ncomp, sizeof(double));
        if (ws.S == NULL || ws.e == NULL || ws.tau == NULL || ws.Z == NULL)
            goto nomem;
    }
    st = krr_search_workspace(&ws, err);
    if (st != RPR_OK)
        goto cleanup;
    ws.work = krr_alloc((size_t) ws.lwork, 1, sizeof(double));
    ws.iwork = krr_alloc((size_t) ws.liwork, 1, sizeof(lapack_int));
    if (ws.work == NULL || ws.iwork == NULL)
        goto nomem;

    if (opt->fix_sigma) {
        /* One sigma: only the lambda search of every component. */
        ws.key[0] = 0;
        ws.ncache = 1;
        st = krr_search_sigma(&ws, opt->sigma, 0, err);
        if (st != RPR_OK)
            goto cleanup;
        for (size_t c = 0; c < ncomp; c++) {
            if (!isfinite(ws.c_rmse[c])) {
                st = krr_search_none(&ws, c, err);
                goto cleanup;
            }
            bestkey[c] = 0;
        }
    }
    int64_t step = Q / nm1; /* level 1: nlg points spanning 0 .. Q */
    for (size_t c = 0; c < ncomp; c++)
        slo[c] = 0;
    for (int level = 0; level < opt->lg_depth && !opt->fix_sigma; level++) {
        /* The union of every component's candidates not yet evaluated. */
        size_t nneed = 0;
        for (size_t c = 0; c < ncomp; c++)
            for (size_t j = 0; j < nlgs; j++) {
                const int64_t key = slo[c] + (int64_t) j * step;
                size_t t = 0;
                while (t < nneed && need[t] != key)
                    t++;
                if (t == nneed && krr_cache_find(&ws, key) == SIZE_MAX)
                    need[nneed++] = key;
            }
        qsort(need, nneed, sizeof *need, krr_key_cmp);
        for (size_t t = 0; t < nneed; t++) {
            const size_t slot = ws.ncache++;
            const double lg =
                lgs_lo + (lgs_hi - lgs_lo) * (double) need[t] / (double) Q;
            ws.key[slot] = need[t];
            st = krr_search_sigma(&ws, exp2(lg), slot, err);
            if (st != RPR_OK)
                goto cleanup;
            if (opt->progress != NULL)
                opt->progress(
                    opt->progress_ctx,
                    ((double) level + (double) (t + 1) / (double) nneed) /
                        (double) opt->lg_depth,
                    "krr search");
        }
        for (size_t c = 0; c < ncomp; c++) {
            size_t jbest = nlgs;
            double ebest = INFINITY;
            for (size_t j = 0; j < nlgs; j++) {
                const size_t slot =
                    krr_cache_find(&ws, slo[c] + (int64_t) j * step);
                const double e = ws.c_rmse[slot * ncomp + c];
                if (isfinite(e) && e < ebest) { /* first strict minimum */
                    ebest = e;
                    jbest = j;
                }
            }
            if (jbest == nlgs) {
                st = krr_search_none(&ws, c, err);
                goto cleanup;
            }
            bestkey[c] = slo[c] + (int64_t) jbest * step;
            slo[c] = bestkey[c] - step;
        }
        if (level + 1 < opt->lg_depth)
            step = 2 * step / nm1;
    }
    if (opt->progress != NULL)
        opt->progress(opt->progress_ctx, 1.0, "krr search");
    for (size_t c = 0; c < ncomp; c++) {
        const size_t slot = krr_cache_find(&ws, bestkey[c]);
        choice[c].sigma =
            opt->fix_sigma
                ? opt->sigma
                : exp2(lgs_lo +
                       (lgs_hi - lgs_lo) * (double) bestkey[c] / (double) Q);
        choice[c].lambda = ws.c_lambda[slot * ncomp + c];
        choice[c].rmse = ws.c_rmse[slot * ncomp + c];
        choice[c].mae = ws.c_mae[slot * ncomp + c];
        choice[c].amplification = ws.c_amp[slot * ncomp + c];
    }
    goto cleanup;

nomem:
    st = RPR_FAIL(err, RPR_ENOMEM,
                  "krr_search: out of memory for %zu points (about %zu MB)", n,
                  (size_t) ((4.0 * (double) ns * (double) ns +
                             2.0 * (double) n * (double) (D + ncomp)) *
                            8.0 / 1e6));
cleanup:
    krr_ws_free(&ws);
    free(perm);
    free(need);
    free(slo);
    free(bestkey);
    return st;
}

/* ------------------------------------------------------------ ladder */

rpr_status krr_fit_ladder(size_t n, const double *K, size_t nrhs,
                          const double *Y, const krr_ladder *ladder,
                          double *lambda, double *C, double *F, double *R,
                          size_t *failed, rpr_error *err)
{
    if (failed != NULL)
        *failed = nrhs;
    if (n == 0 || nrhs == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_fit_ladder: n and nrhs must be > 0 (got %zu, "
                        "%zu)",
                        n, nrhs);
    if (K == NULL || Y == NULL || ladder == NULL || lambda == NULL ||
        C == NULL || F == NULL || R == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "krr_fit_ladder: NULL argument");
    if (!(isfinite(ladder->lg_step) && ladder->lg_step >= 0.0) ||
        isnan(ladder->lambda_max) || !(ladder->rounding_tol >= 0.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "krr_fit_ladder: need lg_step >= 0, lambda_max not "
                        "NaN, rounding_tol >= 0 (got %g, %g, %g)",
                        ladder->lg_step, ladder->lambda_max,
                        ladder->rounding_tol);
    const int rule =
        ladder->rounding_tol > 0.0 && isfinite(ladder->rounding_tol);
    const double factor = exp2(ladder->lg_step);
    /* max_ij K_ij of a PSD matrix is on its diagonal; max |y| per column. */
    double kmax = 0.0;
    double *const ymax = krr_alloc(nrhs, 1, sizeof(double));
    size_t *const members = krr_alloc(nrhs, 1, sizeof(size_t));
    unsigned char *const done = krr_alloc(nrhs, 1, 1);
    rpr_status st = RPR_OK;
    if (ymax == NULL || members == NULL || done == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "krr_fit_ladder: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        kmax = fmax(kmax, K[i * n + i]);
    for (size_t j = 0; j < nrhs; j++) {
        ymax[j] = 0.0;
        done[j] = 0;
        for (size_t i = 0; i < n; i++)
            ymax[j] = fmax(ymax[j], fabs(Y[i * nrhs + j]));
    }
    for (;;) {
        /* The next group: the first column not done and all others with
         * a bit-equal lambda. */
        size_t j0 = 0;
        while (j0 < nrhs && done[j0])
            j0++;
        if (j0 == nrhs)
            break;
        size_t nm = 0;
        for (size_t j = j0; j < nrhs; j++)
            if (!done[j] &&
                memcmp(&lambda[j], &lambda[j0], sizeof(double)) == 0)
                members[nm++] = j;
        const double lam = lambda[j0];
        /* The next rung, if the ladder has one: a single rung when lg_step
         * is 0, and none above lambda_max. */
        const double next = lam * factor;
        const int can_climb =
            ladder->lg_step > 0.0 && next <= ladder->lambda_max;
        for (size_t i = 0; i < n; i++)
            memcpy(F + i * n + i, K + i * n + i, (n - i) * sizeof(double));
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < nm; k++)
                R[i * nm + k] = Y[i * nrhs + members[k]];
        rpr_error local;
        st = krr_fit(n, F, lam, nm, R, &local);
        if (st == RPR_ENOTPD && can_climb) {
            for (size_t k = 0; k < nm; k++)
                lambda[members[k]] = next;
            continue;
        }
        if (st != RPR_OK) {
            if (failed != NULL)
                *failed = j0;
            if (err != NULL)
                *err = local;
            if (st == RPR_ENOTPD && ladder->lg_step > 0.0)
                error_prefix(err,
                             "no rung of the lambda ladder up to %g "
                             "(x 2^%g per rung) helps; raise "
                             "lg_lambda_hi",
                             ladder->lambda_max, ladder->lg_step);
            goto cleanup;
        }
        for (size_t k = 0; k < nm; k++) {
            const size_t j = members[k];
            double a1 = 0.0;
            for (size_t i = 0; i < n; i++)
                a1 += fabs(R[i * nm + k]);
            if (rule &&
                !(DBL_EPSILON * a1 * kmax <= ladder->rounding_tol * ymax[j])) {
                if (can_climb) {
                    lambda[j] = next;
                    continue;
                }
                if (failed != NULL)
                    *failed = j;
                st = RPR_FAIL(err, RPR_EINVAL,
                              "the fit with lambda = %g amplifies rounding "
                              "by A = %.3g (eps A = %.3g > rounding_tol = "
                              "%g) and no larger lambda up to %g is left "
                              "on the ladder; raise lg_lambda_hi or "
                              "rounding_tol",
                              lam, a1 * kmax / ymax[j],
                              DBL_EPSILON * a1 * kmax / ymax[j],
                              ladder->rounding_tol, ladder->lambda_max);
                goto cleanup;
            }
            for (size_t i = 0; i < n; i++)
                C[i * nrhs + j] = R[i * nm + k];
            done[j] = 1;
        }
    }
cleanup:
    free(ymax);
    free(members);
    free(done);
    return st;
}
