/* test_krr.c - the Cholesky fit (interpolation, shrinkage, order, several
 * right-hand sides) and the sigma/lambda search (closed-form hold-out and
 * leave-one-out errors against explicit refits, MLatom's nested grid
 * against a direct emulation, reproducibility, scale covariance, a planted
 * function), and every error path. */
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
 */
static double emulate_lambda(const kernel_spec *k, size_t ns, size_t nv,
                             size_t D, const double *Xs, const double *ys,
                             const double *Xv, const double *yv,
                             const krr_search_options *o, double *lambda)
{
    double lo = o->lg_lambda_lo, hi = o->lg_lambda_hi, best = NAN;
    double ebest_level = INFINITY;
    double *a = dalloc(ns), *p = dalloc(nv);
    rpr_error err;
    for (int level = 0; level < o->lg_depth; level++) {
        const double step = (hi - lo) / (o->nlg_lambda - 1);
        double eb = INFINITY, lb = NAN;
        for (int j = 0; j < o->nlg_lambda; j++) {
            const double lg = lo + j * step;
            if (fit(k, ns, D, Xs, 1, ys, exp2(lg), a, &err) != RPR_OK)
                continue;
            predict(k, ns, D, Xs, 1, a, nv, Xv, p);
            double sse = 0.0;
            for (size_t v = 0; v < nv; v++)
                sse += (p[v] - yv[v]) * (p[v] - yv[v]);
            const double e = sqrt(sse / nv);
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
    free(a);
    free(p);
    *lambda = exp2(best);
    return ebest_level;
}

static void test_search_emulation(void)
{
    test_rng r = {707};
    enum { N = 40, D = 2, NC = 2 };
    double X[N * D], Y[N * NC];
    krr_choice ch[NC];
    rpr_error err;
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
    CHECK_OK(krr_search(&base, N, D, X, NC, Y, &o, ch, &err), &err);

    const size_t ns = (size_t) round(0.8 * N), nv = N - ns;
    size_t perm[N];
    double Xs[N * D], Xv[N * D], ys[N], yv[N];
    split(N, o.seed, perm);
    for (size_t i = 0; i < N; i++)
        memcpy(i < ns ? Xs + i * D : Xv + (i - ns) * D, X + perm[i] * D,
               D * sizeof(double));
    for (size_t c = 0; c < NC; c++) {
        for (size_t i = 0; i < N; i++) {
            if (i < ns)
                ys[i] = Y[perm[i] * NC + c];
            else
                yv[i - ns] = Y[perm[i] * NC + c];
        }
        double lo = o.lg_sigma_lo, hi = o.lg_sigma_hi, sbest = NAN;
        double lbest = NAN, ebest = INFINITY;
        for (int level = 0; level < o.lg_depth; level++) {
            const double step = (hi - lo) / (o.nlg_sigma - 1);
            double eb = INFINITY, sb = NAN, lb = NAN;
            for (int i = 0; i < o.nlg_sigma; i++) {
                kernel_spec k = base;
                k.sigma = exp2(lo + i * step);
                double lam;
                const double e =
                    emulate_lambda(&k, ns, nv, D, Xs, ys, Xv, yv, &o, &lam);
                if (e < eb) {
                    eb = e;
                    sb = lo + i * step;
                    lb = lam;
                }
            }
            sbest = sb;
            lbest = lb;
            ebest = eb;
            lo = sb - step;
            hi = sb + step;
        }
        CHECK_CLOSE(ch[c].sigma, exp2(sbest), 1e-13, 0.0);
        CHECK_CLOSE(ch[c].lambda, lbest, 1e-13, 0.0);
        CHECK(isfinite(ebest));
    }
    /* The reported errors, against explicit fits at the chosen point. */
    check_holdout(&base, N, D, X, NC, Y, &o, ch);
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
#undef SEARCH
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
    return test_exit("test_krr");
}
