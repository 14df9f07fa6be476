/* test_krr.c - the Cholesky fit (interpolation, shrinkage, order, several
 * right-hand sides) and the sigma/lambda search (closed-form hold-out and
 * leave-one-out errors against explicit refits, MLatom's nested grid
 * against a direct emulation, with the admissibility rule and with sigma
 * or lambda fixed, the rule's bound on A against the exact A,
 * reproducibility, scale covariance, a planted function), the final fit's
 * lambda ladder, and every error path. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "krr.h"
#include "testutil.h"

static const double eps = DBL_EPSILON;

/* ------------------------------------------------------------ helpers */

static void *xmalloc(size_t n)
{
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "test_krr: out of memory\n");
        exit(99);
    }
    return p;
}

static double *dalloc(size_t n)
{
    return xmalloc(n * sizeof(double));
}

static void uniform(test_rng *r, size_t n, double lo, double hi, double *x)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * test_rng_uniform(r);
}

static double norm2(size_t n, const double *x)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return sqrt(s);
}

/* Column c of a row-major [n][ncol] array. */
static void column(size_t n, size_t ncol, size_t c, const double *Y, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = Y[i * ncol + c];
}

/* Extreme eigenvalues of a symmetric [n][n] matrix (copied). */
static void eig_range(size_t n, const double *K, double *lmin, double *lmax)
{
    double *A = dalloc(n * n), *w = dalloc(n);
    memcpy(A, K, n * n * sizeof(double));
    if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (int) n, A, (int) n, w) !=
        0) {
        fprintf(stderr, "test_krr: dsyevd failed\n");
        exit(99);
    }
    *lmin = w[0];
    *lmax = w[n - 1];
    free(A);
    free(w);
}

/* Fit [n][ncomp] labels with a fixed sigma and lambda; alpha [n][ncomp]. */
static rpr_status fit(const kernel_spec *k, size_t n, size_t D, const double *X,
                      size_t ncomp, const double *Y, double lambda,
                      double *alpha, rpr_error *err)
{
    double *K = dalloc(n * n);
    kernel_matrix_sym(k, D, n, X, K);
    memcpy(alpha, Y, n * ncomp * sizeof(double));
    const rpr_status st = krr_fit(n, K, lambda, ncomp, alpha, err);
    free(K);
    return st;
}

/* pred [nt][ncomp] = K(Xt, X) alpha. */
static void predict(const kernel_spec *k, size_t n, size_t D, const double *X,
                    size_t ncomp, const double *alpha, size_t nt,
                    const double *Xt, double *pred)
{
    double *Kt = dalloc(nt * n);
    kernel_matrix(k, D, nt, Xt, n, X, Kt);
    for (size_t t = 0; t < nt; t++)
        for (size_t c = 0; c < ncomp; c++) {
            double s = 0.0;
            for (size_t i = 0; i < n; i++)
                s += Kt[t * n + i] * alpha[i * ncomp + c];
            pred[t * ncomp + c] = s;
        }
    free(Kt);
}

/* A smooth planted function with length scale S_PLANT in every
 * direction; two outputs. */
#define S_PLANT 2.385
static void planted(size_t n, size_t D, const double *X, double *Y)
{
    for (size_t i = 0; i < n; i++) {
        const double *x = X + i * D;
        const double u = x[0] / S_PLANT, v = x[1] / S_PLANT;
        const double w = D > 2 ? x[2] / S_PLANT : 0.0;
        Y[2 * i] = sin(u) * cos(v) + 0.5 * sin(u + w);
        Y[2 * i + 1] = cos(u - 0.7 * v) * exp(-0.1 * w * w);
    }
}

static void options_default(krr_search_options *o)
{
    memset(o, 0, sizeof *o);
    o->criterion = RPR_CRITERION_HOLDOUT;
    o->validation_fraction = 0.2;
    o->seed = 12345;
    o->nlg_sigma = 6;
    o->nlg_lambda = 6;
    o->lg_depth = 3;
    o->lg_sigma_lo = NAN;
    o->lg_sigma_hi = NAN;
    o->lg_lambda_lo = -35;
    o->lg_lambda_hi = -6;
}

/* Cholesky is backward stable: the computed alpha solves (A + dA) alpha = y
 * with ||dA||_2 <= (3n + 1) eps ||A||_2 (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., thm 10.4, ||R||^2 = ||A||), and the two
 * triangular solves and the residual's matrix-vector product add n eps
 * ||A|| each at most: eta = (4n + 3) eps is the relative backward error
 * used below.  Frobenius norms bound 2-norms. */
static double backward(size_t n)
{
    return (4.0 * (double) n + 3.0) * eps;
}

/* ------------------------------------------------------------ krr_fit */

/* lambda -> 0 interpolates: (K + lambda I) alpha = y means y - K alpha =
 * lambda alpha exactly, so the residual of the training points goes to 0
 * with lambda; the computed residual differs from lambda alpha by at most
 * eta (||K||_F + lambda) ||alpha||. */
static void test_interpolation(void)
{
    test_rng r = {101};
    enum { N = 60, D = 4 };
    double X[N * D], y[N], alpha[N], res[N];
    double *K = dalloc(N * N);
    uniform(&r, N * D, 0.0, 10.0, X);
    for (size_t i = 0; i < N; i++)
        y[i] = test_rng_normal(&r);
    const kernel_spec k = {KERNEL_GAUSSIAN, 0, 1.385};
    rpr_error err;
    kernel_matrix_sym(&k, D, N, X, K);
    const double fro = norm2(N * N, K);
    double lmin, lmax;
    eig_range(N, K, &lmin, &lmax);
    const double lambdas[] = {0.0, 1e-9, 1e-6, 1e-3, 1e-1};
    for (size_t t = 0; t < sizeof lambdas / sizeof lambdas[0]; t++) {
        const double lambda = lambdas[t];
        CHECK_OK(fit(&k, N, D, X, 1, y, lambda, alpha, &err), &err);
        for (size_t i = 0; i < N; i++) {
            double s = 0.0;
            for (size_t j = 0; j < N; j++)
                s += K[i * N + j] * alpha[j];
            res[i] = y[i] - s - lambda * alpha[i];
        }
        CHECK_CLOSE(norm2(N, res), 0.0, 0.0,
                    backward(N) * (fro + lambda) * norm2(N, alpha));
        if (lambda == 0.0) {
            /* Relative interpolation error through the condition number:
             * ||y - K alpha|| / ||y|| <= eta kappa(K). */
            const double kappa = lmax / lmin;
            CHECK(lmin > 0.0);
            CHECK_CLOSE(norm2(N, res) / norm2(N, y), 0.0, 0.0,
                        backward(N) * kappa);
        }
    }
    free(K);
}

/* lambda -> infinity: ||alpha|| <= ||y|| / lambda as K is PSD, so every
 * prediction |k(x)^T alpha| <= ||k(x)|| ||y|| / lambda -> 0, and lambda
 * alpha -> y with ||lambda alpha - y|| = ||K alpha|| <= ||K|| ||y|| /
 * lambda.  Rounding adds the relative eta kappa(K + lambda I), with
 * kappa <= (||K||_F + lambda) / lambda. */
static void test_shrinkage(void)
{
    test_rng r = {202};
    enum { N = 50, D = 3, NT = 20 };
    double X[N * D], Xt[NT * D], y[N], alpha[N], pred[NT], kt[N];
    double *K = dalloc(N * N);
    uniform(&r, N * D, 0.0, 5.0, X);
    uniform(&r, NT * D, 0.0, 5.0, Xt);
    for (size_t i = 0; i < N; i++)
        y[i] = 3.0 + test_rng_normal(&r);
    const kernel_spec k = {KERNEL_MATERN, 2, 2.385};
    kernel_matrix_sym(&k, D, N, X, K);
    const double fro = norm2(N * N, K), ny = norm2(N, y);
    rpr_error err;
    double prev = INFINITY;
    const double lambdas[] = {1e1, 1e3, 1e6, 1e9};
    for (size_t t = 0; t < sizeof lambdas / sizeof lambdas[0]; t++) {
        const double lambda = lambdas[t];
        /* Relative rounding of alpha (kappa eta) and of a dot product. */
        const double round = backward(N) * (fro + lambda) / lambda + N * eps;
        CHECK_OK(fit(&k, N, D, X, 1, y, lambda, alpha, &err), &err);
        predict(&k, N, D, X, 1, alpha, NT, Xt, pred);
        double pmax = 0.0;
        for (size_t i = 0; i < NT; i++) {
            kernel_matrix(&k, D, 1, Xt + i * D, N, X, kt);
            CHECK(fabs(pred[i]) <= norm2(N, kt) * ny / lambda * (1.0 + round));
            pmax = fmax(pmax, fabs(pred[i]));
        }
        CHECK(pmax < prev);
        prev = pmax;
        double d[N];
        for (size_t i = 0; i < N; i++)
            d[i] = lambda * alpha[i] - y[i];
        CHECK(norm2(N, d) <= fro * ny / lambda * (1.0 + round) + round * ny);
    }
    free(K);
}

/* The order of the training data does not matter: the permuted system is
 * P A P^T, so the two computed solutions differ by at most the forward
 * error of each, kappa eta ||alpha|| / (1 - kappa eta) (Higham thm 7.2),
 * and the predictions by ||k(x)|| times that. */
static void test_order(void)
{
    test_rng r = {303};
    enum { N = 70, D = 5, NT = 15, NC = 2 };
    double X[N * D], Y[N * NC], Xt[NT * D], a1[N * NC], a2[N * NC];
    double Xp[N * D], Yp[N * NC], p1[NT * NC], p2[NT * NC], kt[N];
    size_t perm[N];
    uniform(&r, N * D, 0.0, 10.0, X);
    uniform(&r, NT * D, 0.0, 10.0, Xt);
    planted(N, D, X, Y);
    for (size_t i = 0; i < N; i++)
        perm[i] = i;
    for (size_t i = N; i-- > 1;) {
        const size_t j = test_rng_next(&r) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < N; i++) {
        memcpy(Xp + i * D, X + perm[i] * D, D * sizeof(double));
        memcpy(Yp + i * NC, Y + perm[i] * NC, NC * sizeof(double));
    }
    const kernel_spec k = {KERNEL_GAUSSIAN, 0, 3.17};
    const double lambda = 1e-7;
    rpr_error err;
    double *K = dalloc(N * N);
    kernel_matrix_sym(&k, D, N, X, K);
    double lmin, lmax;
    eig_range(N, K, &lmin, &lmax);
    /* The permuted kernel matrix may differ in the last bits (BLAS
     * blocking): per element delta <= (2D + 3) eps (|a|^2 + |b|^2) /
     * (2 sigma^2) + 4 eps (test_kernel.c), here |a|^2 <= 100 D. */
    const double delta =
        (2.0 * D + 3.0) * eps * 200.0 * D / (2.0 * k.sigma * k.sigma) +
        4.0 * eps;
    const double eta = backward(N) + N * delta / (lmax + lambda);
    const double kappa = (lmax + lambda) / (lmin + lambda);
    CHECK(kappa * eta < 0.5);
    CHECK_OK(fit(&k, N, D, X, NC, Y, lambda, a1, &err), &err);
    CHECK_OK(fit(&k, N, D, Xp, NC, Yp, lambda, a2, &err), &err);
    predict(&k, N, D, X, NC, a1, NT, Xt, p1);
    predict(&k, N, D, Xp, NC, a2, NT, Xt, p2);
    for (size_t c = 0; c < NC; c++) {
        double ac[N];
        column(N, NC, c, a1, ac);
        const double fwd =
            2.0 * kappa * eta / (1.0 - kappa * eta) * norm2(N, ac);
        for (size_t i = 0; i < N; i++)
            CHECK_CLOSE(a2[i * NC + c], a1[perm[i] * NC + c], 0.0, fwd);
        /* The two test kernel rows may differ by delta per element too:
         * sqrt(N) delta ||alpha|| more. */
        for (size_t t = 0; t < NT; t++) {
            kernel_matrix(&k, D, 1, Xt + t * D, N, X, kt);
            CHECK_CLOSE(p2[t * NC + c], p1[t * NC + c], 0.0,
                        norm2(N, kt) * fwd + sqrt(N) * delta * norm2(N, ac));
        }
    }
    free(K);
}

/* One factorisation with three right-hand sides equals three fits: the
 * factor is the same computation, so each column differs from its single
 * solve by at most the two solves' forward errors, 2 kappa eta ||alpha||. */
static void test_multi_rhs(void)
{
    test_rng r = {404};
    enum { N = 45, D = 3, NC = 3 };
    double X[N * D], Y[N * NC], A3[N * NC], y[N], a1[N];
    uniform(&r, N * D, -4.0, 4.0, X);
    for (size_t i = 0; i < N * NC; i++)
        Y[i] = test_rng_normal(&r);
    const kernel_spec k = {KERNEL_LAPLACIAN, 0, 5.3};
    const double lambda = 2.5e-5;
    rpr_error err;
    double *K = dalloc(N * N);
    kernel_matrix_sym(&k, D, N, X, K);
    double lmin, lmax;
    eig_range(N, K, &lmin, &lmax);
    const double kappa = (lmax + lambda) / (lmin + lambda);
    CHECK_OK(fit(&k, N, D, X, NC, Y, lambda, A3, &err), &err);
    for (size_t c = 0; c < NC; c++) {
        column(N, NC, c, Y, y);
        CHECK_OK(fit(&k, N, D, X, 1, y, lambda, a1, &err), &err);
        const double tol = 2.0 * kappa * backward(N) * norm2(N, a1);
        for (size_t i = 0; i < N; i++)
            CHECK_CLOSE(A3[i * NC + c], a1[i], 0.0, tol);
    }
    /* Only the upper triangle is read: NaN below it changes nothing (the
     * same operations on the same numbers, so bit-equal). */
    double B3[N * NC];
    kernel_matrix_sym(&k, D, N, X, K);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < i; j++)
            K[i * N + j] = NAN;
    memcpy(B3, Y, sizeof B3);
    CHECK_OK(krr_fit(N, K, lambda, NC, B3, &err), &err);
    CHECK(memcmp(B3, A3, sizeof B3) == 0);
    free(K);
}

static void test_fit_errors(void)
{
    double K[4] = {1, 1, 1, 1}, Y[2] = {1, 2};
    rpr_error err;
    CHECK_STATUS(krr_fit(0, K, 0.0, 1, Y, &err), RPR_EINVAL);
    CHECK_STATUS(krr_fit(2, K, 0.0, 0, Y, &err), RPR_EINVAL);
    CHECK_STATUS(krr_fit(2, NULL, 0.0, 1, Y, &err), RPR_EINVAL);
    CHECK_STATUS(krr_fit(2, K, 0.0, 1, NULL, &err), RPR_EINVAL);
    CHECK_STATUS(krr_fit(2, K, -1e-9, 1, Y, &err), RPR_EINVAL);
    CHECK(strstr(err.message, "lambda") != NULL);
    CHECK_STATUS(krr_fit(2, K, NAN, 1, Y, &err), RPR_EINVAL);
    CHECK_STATUS(krr_fit(2, K, INFINITY, 1, Y, &err), RPR_EINVAL);
    CHECK_STATUS(krr_fit(0, K, 0.0, 1, Y, NULL), RPR_EINVAL); /* err NULL */
    K[1] = NAN;
    CHECK_STATUS(krr_fit(2, K, 0.0, 1, Y, &err), RPR_ENONFINITE);
    K[1] = 1.0;
    Y[1] = INFINITY;
    CHECK_STATUS(krr_fit(2, K, 0.0, 1, Y, &err), RPR_ENONFINITE);
    Y[1] = 2.0;

    /* Duplicate points with lambda = 0: K has two equal rows.  Put them
     * first so the second pivot is exactly 1 - 1^2 = 0 (the Laplacian's
     * loops give exactly k = 1 for equal points). */
    test_rng r = {505};
    enum { N = 12, D = 3 };
    double X[N * D], y[N], a[N];
    uniform(&r, N * D, 0.0, 3.0, X);
    memcpy(X + D, X, D * sizeof(double));
    for (size_t i = 0; i < N; i++)
        y[i] = test_rng_normal(&r);
    const kernel_spec k = {KERNEL_LAPLACIAN, 0, 2.385};
    memset(&err, 0, sizeof err);
    CHECK_STATUS(fit(&k, N, D, X, 1, y, 0.0, a, &err), RPR_ENOTPD);
    CHECK(err.status == RPR_ENOTPD);
    CHECK(strstr(err.message, "lambda = 0") != NULL);
    CHECK(strstr(err.message, "larger lambda") != NULL);
    /* Any lambda > 0 cures it. */
    CHECK_OK(fit(&k, N, D, X, 1, y, 1e-8, a, &err), &err);
}

/* ------------------------------------------------------------ search */

typedef struct progress_log {
    int calls;
    double last;
    int bad;
} progress_log;

static void progress_cb(void *ctx, double fraction, const char *what)
{
    progress_log *p = ctx;
    p->calls++;
    if (!(fraction >= p->last && fraction > 0.0 && fraction <= 1.0) ||
        what == NULL)
        p->bad++;
    p->last = fraction;
}

/* The split krr.h documents, reproduced with testutil's splitmix64. */
static void split(size_t n, uint64_t seed, size_t *perm)
{
    test_rng r = {seed};
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i-- > 1;) {
        const size_t j = (size_t) (test_rng_next(&r) % (i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/*
 * Hold-out: the validation RMSE and MAE the search reports at its optimum
 * equal those of an explicit Cholesky fit on the sub-training set with the
 * chosen sigma and lambda.  Both build the same kernel matrices (same calls
 * on the same arrays), so they differ only by the solvers' rounding.  The
 * search predicts p_v = k_v^T V (Lambda + lambda)^-1 V^T y from a
 * backward-stable eigendecomposition V = Q S (Householder Q applied to
 * K_vs and y, S of the tridiagonal), the explicit fit k_v^T alpha with
 * Cholesky.  To first order, with g_v = A^-1 k_v (computed here) and
 * A = K + lambda I:
 *   - a backward error E in A, ||E|| <= eta ||A|| (eta = (4n + 3) eps for
 *     Cholesky, Higham thm 10.4, and taken the same for dsyevd, whose
 *     p(n) eps ||A|| is "modest", LAPACK Users' Guide 4.7), moves p_v by
 *     |g_v^T E alpha| <= ||g_v|| eta ||A|| ||alpha||;
 *   - rounding V^T y is a relative n eps error in y: ||g_v|| n eps ||y||;
 *   - forming K_vs Q S (Q backward stable), the product with
 *     (Lambda + lambda)^-1 V^T y, and V's departure from orthogonality
 *     (O(n eps)) move p_v by
 *     <= 3 n eps ||k_v|| ||alpha||; the Cholesky path's dot product by
 *     n eps ||k_v|| ||alpha||.
 * Twice the larger path's sum bounds |p_v(search) - p_v(explicit)|, and the
 * RMSE and MAE, as norms over v, differ by at most the largest one.
 */
static void check_holdout(const kernel_spec *base, size_t n, size_t D,
                          const double *X, size_t ncomp, const double *Y,
                          const krr_search_options *o, const krr_choice *ch)
{
    const size_t ns = (size_t) round((1.0 - o->validation_fraction) * n);
    const size_t nv = n - ns, nr = 1 + nv;
    size_t *perm = xmalloc(n * sizeof *perm);
    double *Xs = dalloc(ns * D), *Xv = dalloc(nv * D), *ys = dalloc(ns);
    double *yv = dalloc(nv), *K = dalloc(ns * ns), *Kv = dalloc(nv * ns);
    double *R = dalloc(ns * nr), *g = dalloc(ns);
    rpr_error err;
    split(n, o->seed, perm);
    for (size_t i = 0; i < n; i++)
        memcpy(i < ns ? Xs + i * D : Xv + (i - ns) * D, X + perm[i] * D,
               D * sizeof(double));
    for (size_t c = 0; c < ncomp; c++) {
        kernel_spec k = *base;
        k.sigma = ch[c].sigma;
        const double lambda = ch[c].lambda;
        for (size_t i = 0; i < n; i++) {
            if (i < ns)
                ys[i] = Y[perm[i] * ncomp + c];
            else
                yv[i - ns] = Y[perm[i] * ncomp + c];
        }
        kernel_matrix_sym(&k, D, ns, Xs, K);
        kernel_matrix(&k, D, nv, Xv, ns, Xs, Kv);
        const double normA = norm2(ns * ns, K) + lambda;
        /* First order is justified while kappa eta << 1. */
        double lmin, lmax;
        eig_range(ns, K, &lmin, &lmax);
        CHECK((lmax + lambda) / (lmin + lambda) * backward(ns) < 1e-3);
        /* One factorisation: column 0 gives alpha, column 1 + v gives
         * g_v = A^-1 k_v. */
        for (size_t i = 0; i < ns; i++) {
            R[i * nr] = ys[i];
            for (size_t v = 0; v < nv; v++)
                R[i * nr + 1 + v] = Kv[v * ns + i];
        }
        CHECK_OK(krr_fit(ns, K, lambda, nr, R, &err), &err);
        double alpha_norm = 0.0;
        for (size_t i = 0; i < ns; i++)
            alpha_norm += R[i * nr] * R[i * nr];
        alpha_norm = sqrt(alpha_norm);
        const double ynorm = norm2(ns, ys);
        double sse = 0.0, sae = 0.0, tol = 0.0;
        for (size_t v = 0; v < nv; v++) {
            double p = 0.0;
            for (size_t i = 0; i < ns; i++) {
                p += Kv[v * ns + i] * R[i * nr];
                g[i] = R[i * nr + 1 + v];
            }
            const double e = p - yv[v];
            sse += e * e;
            sae += fabs(e);
            const double bound =
                norm2(ns, g) *
                    (backward(ns) * normA * alpha_norm + ns * eps * ynorm) +
                3.0 * ns * eps * norm2(ns, Kv + v * ns) * alpha_norm;
            tol = fmax(tol, 2.0 * bound);
        }
        /* The bound must be informative: far below the error itself. */
        CHECK(tol < 1e-3 * sqrt(sse / nv));
        /* Plus the rounding of the sums themselves, nv eps relative. */
        CHECK_CLOSE(ch[c].rmse, sqrt(sse / nv), nv * eps, tol);
        CHECK_CLOSE(ch[c].mae, sae / nv, nv * eps, tol);
    }
    free(perm);
    free(Xs);
    free(Xv);
    free(ys);
    free(yv);
    free(K);
    free(Kv);
    free(R);
    free(g);
}

/*
 * Leave-one-out: the closed form e_i = alpha_i / d_i, d_i = [A^-1]_ii,
 * computed by the search from an eigendecomposition, against n explicit
 * Cholesky refits without point i (submatrices of the same K).  First-order
 * perturbations, with c_i = ||A^-1 e_i|| and d_i computed here from A^-1:
 *   - a backward error E, ||E|| <= eta ||A|| (as in check_holdout), moves
 *     alpha_i by |(A^-1 e_i)^T E alpha| <= c_i ||E|| ||alpha|| and d_i by
 *     |(A^-1 e_i)^T E (A^-1 e_i)| <= c_i^2 ||E||;
 *   - rounding V^T y (a relative n eps error in y) moves alpha_i by
 *     c_i n eps ||y||; forming V W and V's departure from orthogonality by
 *     3 n eps ||alpha||; the positive sum d_i relatively by 3 n eps;
 *   so |de_i| <= (|d alpha_i| + |e_i| |d d_i|) / d_i.
 *   - The refit's prediction k_i^T A_-i^-1 y_-i moves by ||g_i|| eta ||A||
 *     ||alpha_-i|| + n eps ||k_i|| ||alpha_-i||, g_i = A_-i^-1 k_i.
 * The RMSE and MAE differ by at most the largest sum (twice, for safety of
 * the linearisation).
 */
static void check_loo(const kernel_spec *base, size_t n, size_t D,
                      const double *X, size_t ncomp, const double *Y,
                      const krr_choice *ch)
{
    const size_t m = n - 1;
    double *K = dalloc(n * n), *F = dalloc(n * n), *Ainv = dalloc(n * n);
    double *Ki = dalloc(m * m), *y = dalloc(n), *a = dalloc(n);
    double *R = dalloc(2 * m), *ki = dalloc(m), *ai = dalloc(m);
    double *gi = dalloc(m);
    rpr_error err;
    for (size_t c = 0; c < ncomp; c++) {
        kernel_spec k = *base;
        k.sigma = ch[c].sigma;
        const double lambda = ch[c].lambda;
        kernel_matrix_sym(&k, D, n, X, K);
        const double normA = norm2(n * n, K) + lambda, eta = backward(n);
        double lmin, lmax;
        eig_range(n, K, &lmin, &lmax);
        CHECK((lmax + lambda) / (lmin + lambda) * eta < 1e-3);
        column(n, ncomp, c, Y, y);
        /* alpha and A^-1 from one factorisation (n + 1 right-hand sides
         * would do; two fits keep it simple). */
        memcpy(F, K, n * n * sizeof(double));
        memcpy(a, y, n * sizeof(double));
        CHECK_OK(krr_fit(n, F, lambda, 1, a, &err), &err);
        memcpy(F, K, n * n * sizeof(double));
        for (size_t i = 0; i < n * n; i++)
            Ainv[i] = i % (n + 1) == 0 ? 1.0 : 0.0;
        CHECK_OK(krr_fit(n, F, lambda, n, Ainv, &err), &err);
        const double anorm = norm2(n, a), ynorm = norm2(n, y);
        double sse = 0.0, sae = 0.0, tol = 0.0;
        for (size_t i = 0; i < n; i++) {
            /* Submatrix without row and column i, from the same K. */
            for (size_t r = 0, rr = 0; r < n; r++) {
                if (r == i)
                    continue;
                for (size_t s = 0, ss = 0; s < n; s++)
                    if (s != i)
                        Ki[rr * m + ss++] = K[r * n + s];
                ki[rr] = K[i * n + r];
                R[2 * rr] = y[r];
                R[2 * rr + 1] = ki[rr];
                rr++;
            }
            CHECK_OK(krr_fit(m, Ki, lambda, 2, R, &err), &err);
            double f = 0.0;
            for (size_t r = 0; r < m; r++) {
                ai[r] = R[2 * r];
                gi[r] = R[2 * r + 1];
                f += ki[r] * ai[r];
            }
            const double e = y[i] - f;
            sse += e * e;
            sae += fabs(e);
            const double di = Ainv[i * n + i];
            const double ci = norm2(n, Ainv + i * n);
            const double dalpha = ci * (eta * normA * anorm + n * eps * ynorm) +
                                  3.0 * n * eps * anorm;
            const double dd = ci * ci * eta * normA + 3.0 * n * eps * di;
            const double bound = (dalpha + fabs(e) * dd) / di +
                                 norm2(m, gi) * eta * normA * norm2(m, ai) +
                                 n * eps * norm2(m, ki) * norm2(m, ai);
            tol = fmax(tol, 2.0 * bound);
        }
        CHECK(tol < 1e-3 * sqrt(sse / n)); /* informative */
        CHECK_CLOSE(ch[c].rmse, sqrt(sse / n), n * eps, tol);
        CHECK_CLOSE(ch[c].mae, sae / n, n * eps, tol);
    }
    free(K);
    free(F);
    free(Ainv);
    free(Ki);
    free(y);
    free(a);
    free(R);
    free(ki);
    free(ai);
    free(gi);
}

/*
 * The reported bound on A against the exact A = ||alpha||_1 max K / max|y|
 * of an explicit Cholesky fit on the sub-training set (all points for
 * leave-one-out) at the choice:
 * ||alpha||_2 <= ||alpha||_1 <= sqrt(n_s) ||alpha||_2 for the same vector,
 * and the two computed alphas are each within kappa eta / (1 - kappa eta)
 * of the exact one (Higham thm 7.2), so
 *     A_exact / (1 + t) <= bound <= sqrt(n_s) A_exact (1 + t),
 * t = 2 kappa eta / (1 - kappa eta) + 8 eps.
 */
static void check_amplification(const kernel_spec *base, size_t n, size_t D,
                                const double *X, size_t ncomp, const double *Y,
                                const krr_search_options *o,
                                const krr_choice *ch)
{
    const int loo = o->criterion == RPR_CRITERION_LOO;
    const size_t ns =
        loo ? n : (size_t) round((1.0 - o->validation_fraction) * n);
    size_t *perm = xmalloc(n * sizeof *perm);
    double *Xs = dalloc(ns * D), *ys = dalloc(ns), *a = dalloc(ns);
    double *K = dalloc(ns * ns);
    rpr_error err;
    split(n, o->seed, perm);
    for (size_t i = 0; loo && i < n; i++)
        perm[i] = i; /* leave-one-out: all points, in order */
    for (size_t i = 0; i < ns; i++)
        memcpy(Xs + i * D, X + perm[i] * D, D * sizeof(double));
    for (size_t c = 0; c < ncomp; c++) {
        kernel_spec k = *base;
        k.sigma = ch[c].sigma;
        double ymax = 0.0, kmax = 0.0, a1 = 0.0, lmin, lmax;
        for (size_t i = 0; i < ns; i++) {
            ys[i] = Y[perm[i] * ncomp + c];
            ymax = fmax(ymax, fabs(ys[i]));
        }
        kernel_matrix_sym(&k, D, ns, Xs, K);
        eig_range(ns, K, &lmin, &lmax);
        for (size_t i = 0; i < ns; i++)
            kmax = fmax(kmax, K[i * ns + i]);
        CHECK_OK(fit(&k, ns, D, Xs, 1, ys, ch[c].lambda, a, &err), &err);
        for (size_t i = 0; i < ns; i++)
            a1 += fabs(a[i]);
        const double exact = a1 * kmax / ymax;
        const double ke =
            (lmax + ch[c].lambda) / (lmin + ch[c].lambda) * backward(ns);
        CHECK(ke < 0.5);
        const double t = 2.0 * ke / (1.0 - ke) + 8.0 * eps;
        CHECK(exact <= ch[c].amplification * (1.0 + t));
        CHECK(ch[c].amplification <= sqrt((double) ns) * exact * (1.0 + t));
        printf("test_krr: component %zu: exact A %.4g, the rule's bound "
               "%.4g (ratio %.3f, sqrt(n_s) = %.1f)\n",
               c + 1, exact, ch[c].amplification, exact / ch[c].amplification,
               sqrt((double) ns));
    }
    free(perm);
    free(Xs);
    free(ys);
    free(a);
    free(K);
}

static void test_search_closed_forms(void)
{
    test_rng r = {606};
    enum { N = 48, D = 3, NC = 2 };
    double X[N * D], Y[N * NC];
    krr_choice ch[NC];
    rpr_error err;
    uniform(&r, N * D, 0.0, 8.0, X);
    planted(N, D, X, Y);
    for (size_t i = 0; i < N * NC; i++)
        Y[i] += 0.05 * test_rng_normal(&r); /* noise: lambda matters */
    krr_search_options o;
    options_default(&o);
    /* lambda >= 2^-8 keeps kappa <= (N + lambda) / lambda ~ 1.2e4, so the
     * first-order error bounds of check_holdout and check_loo hold. */
    o.lg_lambda_lo = -8;
    o.lg_lambda_hi = -1;
    o.lg_sigma_lo = -1;
    o.lg_sigma_hi = 4;
    const kernel_spec bases[] = {{KERNEL_GAUSSIAN, 0, 0.0},
                                 {KERNEL_LAPLACIAN, 0, 0.0},
                                 {KERNEL_MATERN, 1, 0.0}};
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        o.criterion = RPR_CRITERION_HOLDOUT;
        CHECK_OK(krr_search(&bases[b], N, D, X, NC, Y, &o, ch, &err), &err);
        check_holdout(&bases[b], N, D, X, NC, Y, &o, ch);
        o.criterion = RPR_CRITERION_LOO;
        CHECK_OK(krr_search(&bases[b], N, D, X, NC, Y, &o, ch, &err), &err);
        check_loo(&bases[b], N, D, X, NC, Y, ch);
        /* The rule in leave-one-out, at a tolerance that refuses every
         * unconstrained choice. */
        krr_choice ruled[NC];
        double amp_min = INFINITY;
        for (size_t c = 0; c < NC; c++)
            amp_min = fmin(amp_min, ch[c].amplification);
        o.rounding_tol = 0.5 * eps * amp_min;
        CHECK_OK(krr_search(&bases[b], N, D, X, NC, Y, &o, ruled, &err), &err);
        check_loo(&bases[b], N, D, X, NC, Y, ruled);
        check_amplification(&bases[b], N, D, X, NC, Y, &o, ruled);
        for (size_t c = 0; c < NC; c++) {
            CHECK(eps * ruled[c].amplification <= o.rounding_tol);
            CHECK(ruled[c].sigma != ch[c].sigma ||
                  ruled[c].lambda != ch[c].lambda);
        }
        o.rounding_tol = 0.0;
    }
}

/*
 * MLatom's nested grid, emulated directly (kreg-and-krr.md 5.1) with
 * explicit Cholesky fits and MLatom's own arithmetic for the grid points
 * (L + i (H - L) / (nlg - 1)), for each component separately; the search
 * (shared, cached eigendecompositions) must choose the same sigma and
 * lambda.  The two ways of computing a grid point agree to a few ulps of
 * log2 sigma or log2 lambda (|x| <= 16 here, so ~1e-14 absolute), which
 * moves 2^x by ln 2 times that relative: rtol 1e-13.  An even nlg_sigma
 * makes the refined grids exclude the previous best, as MLatom's default 6
 * does.
 *
 * The emulation applies the admissibility rule of krr.h as written, eps
 * sqrt(n_s) ||alpha||_2 max K <= tol max |y|, with alpha from Cholesky;
 * the search gets ||alpha||_2 from its eigendecomposition.  Each is within
 * kappa eta / (1 - kappa eta) of the exact norm (forward error, Higham thm
 * 7.2; eta = backward(n_s), kappa of K + lambda I), so the two decisions
 * agree wherever the bound is farther than twice that (plus a few eps for
 * the products) from the threshold: the emulation records the smallest
 * such margin, and the test requires it.
 */
typedef struct emu_log {
    double margin; /* min over rule decisions of |bound/threshold - 1| /
                      (2 kappa eta / (1 - kappa eta) + 8 eps) */
    int refused;   /* candidates the rule refused */
} emu_log;

/* Validation RMSE of one (sigma, lambda), +inf if K + lambda I is not
 * positive definite or the rule refuses it (tol > 0). */
static double emulate_point(const kernel_spec *k, size_t ns, size_t nv,
                            size_t D, const double *Xs, const double *ys,
                            const double *Xv, const double *yv, double lambda,
                            double tol, emu_log *log)
{
    double *a = dalloc(ns), *p = dalloc(nv), *K = dalloc(ns * ns);
    rpr_error err;
    double e = INFINITY;
    if (fit(k, ns, D, Xs, 1, ys, lambda, a, &err) == RPR_OK) {
        e = 0.0;
        if (tol > 0.0) {
            double lmin, lmax, ymax = 0.0, kmax = 0.0;
            kernel_matrix_sym(k, D, ns, Xs, K);
            eig_range(ns, K, &lmin, &lmax);
            for (size_t i = 0; i < ns; i++) {
                ymax = fmax(ymax, fabs(ys[i]));
                kmax = fmax(kmax, K[i * ns + i]);
            }
            const double ke = (lmax + lambda) / (lmin + lambda) * backward(ns);
            const double bound = eps * sqrt((double) ns) * norm2(ns, a) * kmax;
            const double thr = tol * ymax;
            const double rel = fabs(bound / thr - 1.0);
            log->margin = fmin(
                log->margin,
                ke < 0.5 ? rel / (2.0 * ke / (1.0 - ke) + 8.0 * eps) : 0.0);
            if (!(bound <= thr)) {
                log->refused++;
                e = INFINITY;
            }
        }
        if (e == 0.0) {
            predict(k, ns, D, Xs, 1, a, nv, Xv, p);
            double sse = 0.0;
            for (size_t v = 0; v < nv; v++)
                sse += (p[v] - yv[v]) * (p[v] - yv[v]);
            e = sqrt(sse / nv);
        }
    }
    free(a);
    free(p);
    free(K);
    return e;
}

/* The lambda search at one sigma (or the fixed lambda); returns the
 * error of the last level's best, *lambda its lambda (NaN if none). */
static double emulate_lambda(const kernel_spec *k, size_t ns, size_t nv,
                             size_t D, const double *Xs, const double *ys,
                             const double *Xv, const double *yv,
                             const krr_search_options *o, emu_log *log,
                             double *lambda)
{
    if (o->fix_lambda) {
        *lambda = o->lambda;
        return emulate_point(k, ns, nv, D, Xs, ys, Xv, yv, o->lambda,
                             o->rounding_tol, log);
    }
    double lo = o->lg_lambda_lo, hi = o->lg_lambda_hi, best = NAN;
    double ebest_level = INFINITY;
    for (int level = 0; level < o->lg_depth; level++) {
        const double step = (hi - lo) / (o->nlg_lambda - 1);
        double eb = INFINITY, lb = NAN;
        for (int j = 0; j < o->nlg_lambda; j++) {
            const double lg = lo + j * step;
            const double e = emulate_point(k, ns, nv, D, Xs, ys, Xv, yv,
                                           exp2(lg), o->rounding_tol, log);
            if (e < eb) {
                eb = e;
                lb = lg;
            }
        }
        best = lb;
        ebest_level = eb;
        lo = lb - step;
        hi = lb + step;
    }
    *lambda = exp2(best);
    return ebest_level;
}

/* The whole search of one component; sigma and lambda out. */
static void emulate_search(const kernel_spec *base, size_t ns, size_t nv,
                           size_t D, const double *Xs, const double *ys,
                           const double *Xv, const double *yv,
                           const krr_search_options *o, emu_log *log,
                           double *sigma, double *lambda)
{
    kernel_spec k = *base;
    if (o->fix_sigma) {
        k.sigma = *sigma = o->sigma;
        emulate_lambda(&k, ns, nv, D, Xs, ys, Xv, yv, o, log, lambda);
        return;
    }
    double lo = o->lg_sigma_lo, hi = o->lg_sigma_hi;
    *sigma = *lambda = NAN;
    for (int level = 0; level < o->lg_depth; level++) {
        const double step = (hi - lo) / (o->nlg_sigma - 1);
        double eb = INFINITY, sb = NAN, lb = NAN;
        for (int i = 0; i < o->nlg_sigma; i++) {
            k.sigma = exp2(lo + i * step);
            double lam;
            const double e =
                emulate_lambda(&k, ns, nv, D, Xs, ys, Xv, yv, o, log, &lam);
            if (e < eb) {
                eb = e;
                sb = lo + i * step;
                lb = lam;
            }
        }
        *sigma = exp2(sb);
        *lambda = lb;
        lo = sb - step;
        hi = sb + step;
    }
}

/* Search and emulation of every component must agree; returns the
 * choices through ch. */
static void check_emulation(const kernel_spec *base, size_t n, size_t D,
                            const double *X, size_t ncomp, const double *Y,
                            const krr_search_options *o, krr_choice *ch,
                            emu_log *log)
{
    rpr_error err;
    CHECK_OK(krr_search(base, n, D, X, ncomp, Y, o, ch, &err), &err);
    const size_t ns = (size_t) round((1.0 - o->validation_fraction) * n);
    const size_t nv = n - ns;
    size_t *perm = xmalloc(n * sizeof *perm);
    double *Xs = dalloc(ns * D), *Xv = dalloc(nv * D), *ys = dalloc(ns);
    double *yv = dalloc(nv);
    split(n, o->seed, perm);
    for (size_t i = 0; i < n; i++)
        memcpy(i < ns ? Xs + i * D : Xv + (i - ns) * D, X + perm[i] * D,
               D * sizeof(double));
    log->margin = INFINITY;
    log->refused = 0;
    for (size_t c = 0; c < ncomp; c++) {
        for (size_t i = 0; i < n; i++) {
            if (i < ns)
                ys[i] = Y[perm[i] * ncomp + c];
            else
                yv[i - ns] = Y[perm[i] * ncomp + c];
        }
        double sigma, lambda;
        emulate_search(base, ns, nv, D, Xs, ys, Xv, yv, o, log, &sigma,
                       &lambda);
        CHECK_CLOSE(ch[c].sigma, sigma, 1e-13, 0.0);
        CHECK_CLOSE(ch[c].lambda, lambda, 1e-13, 0.0);
    }
    /* Rule decisions are robust to the solvers' rounding (see above). */
    CHECK(log->margin > 1.0);
    free(perm);
    free(Xs);
    free(Xv);
    free(ys);
    free(yv);
}

/*
 * The emulation with MLatom's search (no rule); with the rule at a
 * tolerance that refuses the unconstrained choices (so it must change
 * them); with sigma fixed (lambda searched) and lambda fixed (sigma
 * searched).  The reported errors are checked against explicit fits at
 * each chosen point (check_holdout), and the reported bound on A against
 * the exact A of that fit.
 */
static void test_search_emulation(void)
{
    test_rng r = {707};
    enum { N = 40, D = 2, NC = 2 };
    double X[N * D], Y[N * NC];
    krr_choice ch[NC], free_ch[NC];
    emu_log log;
    uniform(&r, N * D, 0.0, 8.0, X);
    planted(N, D, X, Y);
    for (size_t i = 0; i < N * NC; i++)
        Y[i] += 0.02 * test_rng_normal(&r);
    krr_search_options o;
    options_default(&o);
    o.nlg_sigma = 4;
    o.nlg_lambda = 3;
    o.lg_depth = 3;
    o.lg_sigma_lo = -2;
    o.lg_sigma_hi = 5;
    /* Moderate lambdas: with lambda -> 2^-35 the two solvers' validation
     * errors differ by more than the gaps between grid points, and near-ties
     * may go either way. */
    o.lg_lambda_lo = -10;
    o.lg_lambda_hi = -1;
    o.seed = 99;
    const kernel_spec base = {KERNEL_GAUSSIAN, 0, 0.0};
    check_emulation(&base, N, D, X, NC, Y, &o, free_ch, &log);
    check_holdout(&base, N, D, X, NC, Y, &o, free_ch);
    CHECK(log.refused == 0);

    /* The rule at a tolerance below every unconstrained choice's eps A:
     * each choice must move, to an admissible one. */
    double amp_min = INFINITY;
    for (size_t c = 0; c < NC; c++)
        amp_min = fmin(amp_min, free_ch[c].amplification);
    o.rounding_tol = 0.5 * eps * amp_min;
    check_emulation(&base, N, D, X, NC, Y, &o, ch, &log);
    check_holdout(&base, N, D, X, NC, Y, &o, ch);
    CHECK(log.refused > 0);
    for (size_t c = 0; c < NC; c++) {
        CHECK(ch[c].sigma != free_ch[c].sigma ||
              ch[c].lambda != free_ch[c].lambda);
        CHECK(eps * ch[c].amplification <= o.rounding_tol);
    }
    check_amplification(&base, N, D, X, NC, Y, &o, ch);

    /* Sigma fixed at a high-entropy value, lambda searched; then lambda
     * fixed, sigma searched (with the rule still on). */
    o.fix_sigma = 1;
    o.sigma = 2.385;
    check_emulation(&base, N, D, X, NC, Y, &o, ch, &log);
    check_holdout(&base, N, D, X, NC, Y, &o, ch);
    for (size_t c = 0; c < NC; c++)
        CHECK(ch[c].sigma == 2.385);
    o.fix_sigma = 0;
    o.fix_lambda = 1;
    o.lambda = 0.0123;
    check_emulation(&base, N, D, X, NC, Y, &o, ch, &log);
    check_holdout(&base, N, D, X, NC, Y, &o, ch);
    for (size_t c = 0; c < NC; c++)
        CHECK(ch[c].lambda == 0.0123);
}

/* Reproducible for a seed (bit-equal), NaN bounds take the kernel's range,
 * progress is monotone and ends at 1; another seed gives another split. */
static void test_search_repro(void)
{
    test_rng r = {808};
    enum { N = 120, D = 3, NC = 2 };
    double X[N * D], Y[N * NC];
    krr_choice c1[NC], c2[NC], c3[NC];
    rpr_error err;
    uniform(&r, N * D, 0.0, 10.0, X);
    planted(N, D, X, Y);
    krr_search_options o;
    options_default(&o);
    progress_log log = {0, 0.0, 0};
    o.progress = progress_cb;
    o.progress_ctx = &log;
    const kernel_spec base = {KERNEL_GAUSSIAN, 0, 0.0};
    CHECK_OK(krr_search(&base, N, D, X, NC, Y, &o, c1, &err), &err);
    CHECK(log.calls >= 6 && log.bad == 0 && log.last == 1.0);
    /* Level 1 evaluates 6 sigmas; each later level at most 5 new per
     * distinct grid (4 if its centre is not on an edge: the edges are the
     * previous level's points, cached), plus the final report at 1. */
    CHECK(log.calls <= 6 + 2 * 5 * NC + 1);
    o.progress = NULL;
    o.lg_sigma_lo = kernel_find("gaussian")->lg_sigma_lo;
    o.lg_sigma_hi = kernel_find("gaussian")->lg_sigma_hi;
    CHECK_OK(krr_search(&base, N, D, X, NC, Y, &o, c2, &err), &err);
    CHECK(memcmp(c1, c2, sizeof c1) == 0);
    o.seed = 54321;
    CHECK_OK(krr_search(&base, N, D, X, NC, Y, &o, c3, &err), &err);
    CHECK(c3[0].rmse != c1[0].rmse);
    for (size_t c = 0; c < NC; c++) {
        /* Refinement can step out of the initial bounds [2, 9] by at most
         * the steps of levels 1 and 2, 1.4 + 0.56. */
        CHECK(log2(c1[c].sigma) >= 2.0 - 1.96 && log2(c1[c].sigma) <= 9 + 1.96);
        CHECK(c1[c].lambda > 0.0 && c1[c].rmse >= 0.0 && c1[c].mae >= 0.0);
        CHECK(c1[c].mae <= c1[c].rmse);
    }
}

/*
 * Ties go to the first grid point (MLatom's first strict minimum): with
 * labels that are all 0 every prediction and error is exactly 0, so each
 * level picks its first point, and the refined grid starts one step below
 * it: log2 sigma = 2 - 1.4 - 0.56 and log2 lambda = -35 - 5.8 - 2.32 with
 * the default grids.  Far-apart points keep K ~ I well conditioned, so no
 * lambda is skipped.  The grid points carry a few ulps of their log2.
 */
static void test_search_ties(void)
{
    test_rng r = {1212};
    enum { N = 30, D = 2, NC = 2 };
    double X[N * D], Y[N * NC];
    krr_choice ch[NC];
    rpr_error err;
    uniform(&r, N * D, 0.0, 1000.0, X);
    memset(Y, 0, sizeof Y);
    krr_search_options o;
    options_default(&o);
    const kernel_spec base = {KERNEL_GAUSSIAN, 0, 0.0};
    for (int q = 0; q < 2; q++) {
        o.criterion = q == 0 ? RPR_CRITERION_HOLDOUT : RPR_CRITERION_LOO;
        CHECK_OK(krr_search(&base, N, D, X, NC, Y, &o, ch, &err), &err);
        for (size_t c = 0; c < NC; c++) {
            CHECK_CLOSE(log2(ch[c].sigma), 2.0 - 1.4 - 0.56, 0.0, 1e-13);
            CHECK_CLOSE(log2(ch[c].lambda), -35.0 - 5.8 - 2.32, 0.0, 1e-13);
            CHECK(ch[c].rmse == 0.0 && ch[c].mae == 0.0);
        }
    }
}

/*
 * Scale covariance: multiplying every descriptor by 16 (exact in binary)
 * multiplies every distance by 16 (256 for the Gaussian's squared one);
 * shifting the log2 sigma bounds by 4 then gives the same kernel matrices
 * up to the rounding of the shifted grid points (an ulp of log2 sigma), so
 * the search must choose 16 sigma and the same lambda.
 */
static void test_search_scale(void)
{
    test_rng r = {909};
    enum { N = 100, D = 3, NC = 2 };
    double X[N * D], X16[N * D], Y[N * NC];
    krr_choice c1[NC], c2[NC];
    rpr_error err;
    uniform(&r, N * D, 0.0, 10.0, X);
    for (size_t i = 0; i < N * D; i++)
        X16[i] = 16.0 * X[i];
    planted(N, D, X, Y);
    krr_search_options o;
    options_default(&o);
    const kernel_spec bases[] = {{KERNEL_GAUSSIAN, 0, 0.0},
                                 {KERNEL_MATERN, 2, 0.0}};
    for (size_t b = 0; b < 2; b++) {
        o.lg_sigma_lo = -2;
        o.lg_sigma_hi = 5;
        CHECK_OK(krr_search(&bases[b], N, D, X, NC, Y, &o, c1, &err), &err);
        o.lg_sigma_lo = 2;
        o.lg_sigma_hi = 9;
        CHECK_OK(krr_search(&bases[b], N, D, X16, NC, Y, &o, c2, &err), &err);
        for (size_t c = 0; c < NC; c++) {
            CHECK_CLOSE(c2[c].sigma, 16.0 * c1[c].sigma, 1e-13, 0.0);
            CHECK_CLOSE(c2[c].lambda, c1[c].lambda, 1e-13, 0.0);
        }
    }
}

/*
 * A planted smooth function (length scale S_PLANT = 2.385 in every
 * direction, noise-free): the search must land on a sigma of that order,
 * within two level-1 grid steps (2^2.8 ~ 7) either way, and the model must
 * predict unseen points to better than 1 % of the function's spread.  Not
 * a numerical identity but a sanity bound: a sigma 7x off the length scale
 * or a 1 % error on 400 noise-free points in 3-D would mean a broken
 * search.
 */
static void test_search_planted(void)
{
    test_rng r = {1010};
    enum { N = 400, D = 3, NC = 2, NT = 200 };
    double *X = dalloc(N * D), *Y = dalloc(N * NC), *Xt = dalloc(NT * D);
    double *Yt = dalloc(NT * NC), *a = dalloc(N), *p = dalloc(NT);
    double y[N];
    krr_choice ch[NC];
    rpr_error err;
    uniform(&r, N * D, 0.0, 10.0, X);
    uniform(&r, NT * D, 0.0, 10.0, Xt);
    planted(N, D, X, Y);
    planted(NT, D, Xt, Yt);
    krr_search_options o;
    options_default(&o);
    o.lg_sigma_lo = -3;
    o.lg_sigma_hi = 6;
    const kernel_spec base = {KERNEL_GAUSSIAN, 0, 0.0};
    CHECK_OK(krr_search(&base, N, D, X, NC, Y, &o, ch, &err), &err);
    for (size_t c = 0; c < NC; c++) {
        CHECK(ch[c].sigma > S_PLANT / 7.0 && ch[c].sigma < S_PLANT * 7.0);
        kernel_spec k = base;
        k.sigma = ch[c].sigma;
        column(N, NC, c, Y, y);
        CHECK_OK(fit(&k, N, D, X, 1, y, ch[c].lambda, a, &err), &err);
        predict(&k, N, D, X, 1, a, NT, Xt, p);
        double sse = 0.0, mean = 0.0, var = 0.0;
        for (size_t t = 0; t < NT; t++)
            mean += Yt[t * NC + c] / NT;
        for (size_t t = 0; t < NT; t++) {
            sse += (p[t] - Yt[t * NC + c]) * (p[t] - Yt[t * NC + c]);
            var += (Yt[t * NC + c] - mean) * (Yt[t * NC + c] - mean);
        }
        CHECK(sqrt(sse / NT) < 0.01 * sqrt(var / NT));
        if (!(sqrt(sse / NT) < 0.01 * sqrt(var / NT)))
            fprintf(stderr, "planted %zu: sigma %g lambda %g test RMSE %g\n", c,
                    ch[c].sigma, ch[c].lambda, sqrt(sse / NT));
    }
    free(X);
    free(Y);
    free(Xt);
    free(Yt);
    free(a);
    free(p);
}

static void test_search_errors(void)
{
    enum { N = 10, D = 2 };
    double X[N * D], Y[N];
    krr_choice ch[1];
    rpr_error err;
    test_rng r = {1111};
    uniform(&r, N * D, 0.0, 1.0, X);
    for (size_t i = 0; i < N; i++)
        Y[i] = test_rng_normal(&r);
    const kernel_spec g = {KERNEL_GAUSSIAN, 0, 0.0};
    krr_search_options o;
    options_default(&o);
#define SEARCH(base, n, x, y, opt)                                             \
    krr_search((base), (n), D, (x), 1, (y), (opt), ch, &err)
    CHECK_STATUS(SEARCH(NULL, N, X, Y, &o), RPR_EINVAL);
    CHECK_STATUS(SEARCH(&g, N, NULL, Y, &o), RPR_EINVAL);
    CHECK_STATUS(SEARCH(&g, N, X, NULL, &o), RPR_EINVAL);
    CHECK_STATUS(SEARCH(&g, N, X, Y, NULL), RPR_EINVAL);
    CHECK_STATUS(krr_search(&g, N, D, X, 1, Y, &o, NULL, &err), RPR_EINVAL);
    CHECK_STATUS(krr_search(&g, N, 0, X, 1, Y, &o, ch, &err), RPR_EINVAL);
    CHECK_STATUS(krr_search(&g, N, D, X, 0, Y, &o, ch, &err), RPR_EINVAL);
    const kernel_spec bad_type = {(kernel_type) 7, 0, 0.0};
    CHECK_STATUS(SEARCH(&bad_type, N, X, Y, &o), RPR_EINVAL);
    const kernel_spec bad_n = {KERNEL_MATERN, -1, 0.0};
    CHECK_STATUS(SEARCH(&bad_n, N, X, Y, &o), RPR_EINVAL);

    krr_search_options b = o;
    b.criterion = (rpr_criterion) 5;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    b = o;
    b.nlg_sigma = 1;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    b = o;
    b.nlg_lambda = 1;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    b = o;
    b.lg_depth = 0;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    b = o;
    b.nlg_sigma = 1001;
    b.lg_depth = 10; /* (2 * 1000)^10 grid units: past 2^50 */
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    CHECK(strstr(err.message, "2^-50") != NULL);
    b = o;
    b.lg_sigma_lo = 9;
    b.lg_sigma_hi = 2;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    b = o;
    b.lg_sigma_hi = INFINITY;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    b = o;
    b.lg_lambda_lo = -6;
    b.lg_lambda_hi = -6;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    b = o;
    b.lg_lambda_lo = NAN;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    /* sigma = 2^-1100 underflows to 0 on the grid. */
    b = o;
    b.lg_sigma_lo = -1100;
    b.lg_sigma_hi = -1090;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    CHECK(strstr(err.message, "sigma") != NULL);
    /* Splits with no sub-training or no validation point. */
    const double fractions[] = {0.0, 1.0, -0.2, NAN, 0.04, 0.96};
    for (size_t i = 0; i < sizeof fractions / sizeof fractions[0]; i++) {
        b = o;
        b.validation_fraction = fractions[i];
        CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    }
    b = o;
    b.criterion = RPR_CRITERION_LOO;
    CHECK_STATUS(SEARCH(&g, 1, X, Y, &b), RPR_EINVAL);
    /* LOO ignores the fraction. */
    b.validation_fraction = NAN;
    CHECK_OK(SEARCH(&g, N, X, Y, &b), &err);

    X[3] = NAN;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &o), RPR_ENONFINITE);
    X[3] = 0.5;
    Y[7] = -INFINITY;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &o), RPR_ENONFINITE);
    Y[7] = 1.0;
    CHECK_OK(SEARCH(&g, N, X, Y, &o), &err);

    /* ENOTPD: two equal points and a lambda grid that underflows to 0:
     * K = [[1, 1], [1, 1]] has the exact eigenvalue 0 (dsyevd's 2x2 path),
     * and 0 + 0 > 0 fails for every lambda and sigma. */
    double X2[2 * D] = {0.25, 0.75, 0.25, 0.75}, Y2[2] = {1.0, -1.0};
    b = o;
    b.criterion = RPR_CRITERION_LOO;
    b.lg_lambda_lo = -1200;
    b.lg_lambda_hi = -1100;
    const kernel_spec l = {KERNEL_LAPLACIAN, 0, 0.0};
    CHECK_STATUS(SEARCH(&l, 2, X2, Y2, &b), RPR_ENOTPD);
    CHECK(strstr(err.message, "lambda") != NULL);
    /* The same with the lambda fixed at 0. */
    b.fix_lambda = 1;
    b.lambda = 0.0;
    CHECK_STATUS(SEARCH(&l, 2, X2, Y2, &b), RPR_ENOTPD);
    CHECK(strstr(err.message, "use a larger lambda") != NULL);

    /* Fixed sigma or lambda out of range, both fixed, a bad tolerance. */
    const double bad_sigma[] = {0.0, -1.0, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_sigma / sizeof bad_sigma[0]; i++) {
        b = o;
        b.fix_sigma = 1;
        b.sigma = bad_sigma[i];
        CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
        CHECK(strstr(err.message, "fixed sigma") != NULL);
    }
    const double bad_lambda[] = {-1e-300, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_lambda / sizeof bad_lambda[0]; i++) {
        b = o;
        b.fix_lambda = 1;
        b.lambda = bad_lambda[i];
        CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
        CHECK(strstr(err.message, "fixed lambda") != NULL);
    }
    b = o;
    b.fix_sigma = b.fix_lambda = 1;
    b.sigma = b.lambda = 1.0;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    const double bad_tol[] = {-1e-10, NAN, -INFINITY};
    for (size_t i = 0; i < sizeof bad_tol / sizeof bad_tol[0]; i++) {
        b = o;
        b.rounding_tol = bad_tol[i];
        CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
        CHECK(strstr(err.message, "rounding_tol") != NULL);
    }
    /* A fixed hyperparameter needs no grid of its own: bounds and counts
     * that would be refused are ignored. */
    b = o;
    b.fix_sigma = 1;
    b.sigma = 2.385;
    b.nlg_sigma = 0;
    b.lg_sigma_lo = NAN;
    b.lg_sigma_hi = -INFINITY;
    CHECK_OK(SEARCH(&g, N, X, Y, &b), &err);
    CHECK(ch[0].sigma == 2.385);
    b = o;
    b.fix_lambda = 1;
    b.lambda = 1e-3;
    b.nlg_lambda = 1;
    b.lg_lambda_lo = NAN;
    CHECK_OK(SEARCH(&g, N, X, Y, &b), &err);
    CHECK(ch[0].lambda == 1e-3);
    /* +inf turns the rule off, as 0 does: the same choice, bit for bit. */
    krr_choice c0;
    b = o;
    CHECK_OK(SEARCH(&g, N, X, Y, &b), &err);
    c0 = ch[0];
    b.rounding_tol = INFINITY;
    CHECK_OK(SEARCH(&g, N, X, Y, &b), &err);
    CHECK(memcmp(&c0, &ch[0], sizeof c0) == 0);

    /* Nothing admissible: any alpha != 0 fails eps A <= 1e-300.  EINVAL,
     * and the message asks for larger lambdas; with a fixed lambda, for a
     * larger lambda. */
    b = o;
    b.rounding_tol = 1e-300;
    memset(&err, 0, sizeof err);
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    CHECK(strstr(err.message, "lg_lambda_hi") != NULL &&
          strstr(err.message, "rounding_tol") != NULL);
    b.fix_sigma = 1;
    b.sigma = 2.385;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    CHECK(strstr(err.message, "lg_lambda_hi") != NULL);
    b.fix_sigma = 0;
    b.fix_lambda = 1;
    b.lambda = 1e-3;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
    CHECK(strstr(err.message, "use a larger lambda") != NULL);
    b.criterion = RPR_CRITERION_LOO;
    CHECK_STATUS(SEARCH(&g, N, X, Y, &b), RPR_EINVAL);
#undef SEARCH
}

/* ------------------------------------------------------------ ladder */

/*
 * The final fit's lambda ladder.  Points 0 and 1 are equal (the
 * Laplacian's loops give exactly k = 1 for them), so K's first two rows
 * are equal and, while fl(1 + lambda) = 1 (lambda <= 2^-53, ties to even),
 * the second Cholesky pivot is exactly 1 - 1^2 = 0: not positive definite.
 * At lambda = 2^-52 the pivot is fl(1 + 2^-52) - 1 = 2^-52 > 0 (sqrt(1 +
 * 2^-52) rounds to 1), and the rows below see row 1 minus row 0, exactly 0:
 * the rest is the well-conditioned matrix of distinct points.  So from
 * 2^-60 with lg_step 2 (factor 4, exact) the first positive definite rung
 * is 2^-52, and the ladder's fit there is krr_fit's, bit for bit.
 *
 * Column 0 has equal labels at the two points, column 1 labels that differ
 * by delta: rows 0 and 1 of K alpha are then equal, so lambda (alpha_0 -
 * alpha_1) = delta exactly and ||alpha||_1 >= |delta| / lambda.  The rule
 * keeps column 0 at 2^-52 and moves column 1 up to the first rung whose
 * exact A passes; the rung below it must fail (the same krr_fit on the
 * same numbers, so the same decision).
 */
static void test_fit_ladder(void)
{
    test_rng r = {1313};
    enum { N = 16, D = 3, NC = 2 };
    double X[N * D], Y[N * NC], C[N * NC], lam[NC], a[N], y[N];
    double *K = dalloc(N * N), *K0 = dalloc(N * N), *F = dalloc(N * N);
    double R[N * NC];
    rpr_error err;
    size_t failed;
    uniform(&r, N * D, 0.0, 3.0, X);
    memcpy(X + D, X, D * sizeof(double));
    for (size_t i = 0; i < N * NC; i++)
        Y[i] = test_rng_normal(&r);
    Y[1 * NC + 0] = Y[0 * NC + 0];
    const double delta = 0.75;
    Y[1 * NC + 1] = Y[0 * NC + 1] + delta;
    const kernel_spec k = {KERNEL_LAPLACIAN, 0, 2.385};
    kernel_matrix_sym(&k, D, N, X, K);
    memcpy(K0, K, N * N * sizeof(double));
    CHECK(K[0] == 1.0 && K[1] == 1.0 && K[N + 1] == 1.0);

    /* Positive definiteness only (no rule): both columns stop at 2^-52. */
    krr_ladder lad = {2.0, 0x1p-10, 0.0};
    lam[0] = lam[1] = 0x1p-60;
    CHECK_OK(krr_fit_ladder(N, K, NC, Y, &lad, lam, C, F, R, &failed, &err),
             &err);
    CHECK(lam[0] == 0x1p-52 && lam[1] == 0x1p-52 && failed == NC);
    CHECK(memcmp(K, K0, N * N * sizeof(double)) == 0); /* K unchanged */
    for (size_t c = 0; c < NC; c++) {
        column(N, NC, c, Y, y);
        CHECK_OK(fit(&k, N, D, X, 1, y, 0x1p-52, a, &err), &err);
        for (size_t i = 0; i < N; i++)
            CHECK(C[i * NC + c] == a[i]);
    }
    double tmp[N];
    column(N, NC, 0, Y, y);
    CHECK_STATUS(fit(&k, N, D, X, 1, y, 0x1p-54, tmp, &err), RPR_ENOTPD);

    /* With the rule: ymax and kmax = 1 as in krr.h. */
    lad.rounding_tol = 1e-10;
    lam[0] = lam[1] = 0x1p-60;
    CHECK_OK(krr_fit_ladder(N, K, NC, Y, &lad, lam, C, F, R, &failed, &err),
             &err);
    CHECK(lam[0] == 0x1p-52);
    CHECK(lam[1] > 0x1p-52 && lam[1] <= 0x1p-10);
    /* lam[1] = 2^(-60 + 2 j): an exact power of 4 times 2^-60. */
    const double j = (log2(lam[1]) + 60.0) / 2.0;
    CHECK(j == floor(j));
    for (size_t c = 0; c < NC; c++) {
        double ymax = 0.0;
        column(N, NC, c, Y, y);
        for (size_t i = 0; i < N; i++)
            ymax = fmax(ymax, fabs(y[i]));
        /* Accepted rung: admissible; and bit-equal to krr_fit. */
        CHECK_OK(fit(&k, N, D, X, 1, y, lam[c], a, &err), &err);
        double a1 = 0.0;
        for (size_t i = 0; i < N; i++) {
            a1 += fabs(a[i]);
            CHECK(C[i * NC + c] == a[i]);
        }
        CHECK(eps * a1 <= lad.rounding_tol * ymax);
        if (c == 1) {
            /* The rung below: positive definite, not admissible. */
            CHECK(a1 >= delta / lam[c] * (1.0 - 2.0 * N * eps));
            CHECK_OK(fit(&k, N, D, X, 1, y, lam[c] / 4.0, a, &err), &err);
            a1 = 0.0;
            for (size_t i = 0; i < N; i++)
                a1 += fabs(a[i]);
            CHECK(!(eps * a1 <= lad.rounding_tol * ymax));
        }
    }

    /* Exhausted ladders: positive definiteness (column 0 first), then the
     * rule (column 1). */
    lad.lambda_max = 0x1p-54;
    lam[0] = lam[1] = 0x1p-60;
    memset(&err, 0, sizeof err);
    CHECK_STATUS(krr_fit_ladder(N, K, NC, Y, &lad, lam, C, F, R, &failed, &err),
                 RPR_ENOTPD);
    CHECK(failed == 0 && strstr(err.message, "raise lg_lambda_hi") != NULL);
    lad.lambda_max = 0x1p-40;
    lam[0] = lam[1] = 0x1p-60;
    CHECK_STATUS(krr_fit_ladder(N, K, NC, Y, &lad, lam, C, F, R, &failed, &err),
                 RPR_EINVAL);
    CHECK(failed == 1 && strstr(err.message, "rounding_tol") != NULL &&
          strstr(err.message, "lg_lambda_hi") != NULL);
    /* One rung (lg_step 0): a given lambda is used as it is. */
    const krr_ladder one = {0.0, 0x1p-60, 1e-10};
    lam[0] = lam[1] = 0x1p-60;
    CHECK_STATUS(krr_fit_ladder(N, K, NC, Y, &one, lam, C, F, R, &failed, &err),
                 RPR_ENOTPD);
    CHECK(strstr(err.message, "use a larger lambda") != NULL &&
          strstr(err.message, "ladder") == NULL);
    CHECK(lam[0] == 0x1p-60);

    /* Arguments. */
    lad.lambda_max = 0x1p-10;
    CHECK_STATUS(krr_fit_ladder(0, K, NC, Y, &lad, lam, C, F, R, NULL, &err),
                 RPR_EINVAL);
    CHECK_STATUS(krr_fit_ladder(N, K, 0, Y, &lad, lam, C, F, R, NULL, &err),
                 RPR_EINVAL);
    CHECK_STATUS(krr_fit_ladder(N, NULL, NC, Y, &lad, lam, C, F, R, NULL, &err),
                 RPR_EINVAL);
    CHECK_STATUS(krr_fit_ladder(N, K, NC, Y, NULL, lam, C, F, R, NULL, &err),
                 RPR_EINVAL);
    CHECK_STATUS(krr_fit_ladder(N, K, NC, Y, &lad, lam, C, F, NULL, NULL, &err),
                 RPR_EINVAL);
    const krr_ladder bad[] = {{-1.0, 1.0, 0.0},     {NAN, 1.0, 0.0},
                              {INFINITY, 1.0, 0.0}, {1.0, NAN, 0.0},
                              {1.0, 1.0, -1e-10},   {1.0, 1.0, NAN}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_STATUS(
            krr_fit_ladder(N, K, NC, Y, &bad[i], lam, C, F, R, NULL, &err),
            RPR_EINVAL);
    lam[0] = NAN;
    CHECK_STATUS(krr_fit_ladder(N, K, NC, Y, &lad, lam, C, F, R, NULL, &err),
                 RPR_EINVAL);
    free(K);
    free(K0);
    free(F);
}

int main(void)
{
    test_interpolation();
    test_shrinkage();
    test_order();
    test_multi_rhs();
    test_fit_errors();
    test_search_closed_forms();
    test_search_emulation();
    test_search_repro();
    test_search_ties();
    test_search_scale();
    test_search_planted();
    test_search_errors();
    test_fit_ladder();
    return test_exit("test_krr");
}
