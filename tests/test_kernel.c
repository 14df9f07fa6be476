/* test_kernel.c - the kernel registry, kernel values against independent
 * formulas, and kernel matrices (BLAS path against element-wise values,
 * symmetry, positive semi-definiteness). */
#include <config.h>

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "kernel.h"
#include "testutil.h"

static const double eps = DBL_EPSILON;

/* Registry: unique names, every row complete and cited, lookups. */
static void test_registry(void)
{
    const size_t n = kernel_count();
    CHECK(n == 3);
    CHECK(kernel_get(n) == NULL);
    int seen[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const kernel_info *k = kernel_get(i);
        CHECK(k != NULL);
        if (k == NULL)
            continue;
        CHECK(k->name != NULL && k->name[0] != '\0');
        CHECK(k->formula != NULL && strlen(k->formula) > 10);
        CHECK(k->reference != NULL && strstr(k->reference, "(") != NULL);
        CHECK(k->default_sigma > 0.0);
        CHECK(k->lg_sigma_lo < k->lg_sigma_hi);
        /* The default lies inside the search range (MLatom's choice). */
        CHECK(exp2(k->lg_sigma_lo) <= k->default_sigma &&
              k->default_sigma <= exp2(k->lg_sigma_hi));
        CHECK((int) k->type >= 0 && (int) k->type < 3);
        if ((int) k->type >= 0 && (int) k->type < 3)
            seen[k->type]++;
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(kernel_get(j)->name, k->name) != 0);
        CHECK(kernel_find(k->name) == k);
        char upper[32];
        snprintf(upper, sizeof upper, "%s", k->name);
        for (char *p = upper; *p != '\0'; p++)
            *p = (char) toupper((unsigned char) *p);
        CHECK(kernel_find(upper) == k);

        const char *name = NULL, *formula = NULL, *ref = NULL;
        CHECK(rpr_kernel_entry(i, &name, &formula, &ref) == 1);
        CHECK(name == k->name && formula == k->formula && ref == k->reference);
        CHECK(rpr_kernel_entry(i, NULL, NULL, NULL) == 1);
    }
    CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    CHECK(rpr_kernel_entry(n, NULL, NULL, NULL) == 0);
    CHECK(kernel_find("gaussia") == NULL);
    CHECK(kernel_find("gaussians") == NULL);
    CHECK(kernel_find("") == NULL);
    CHECK(kernel_find(NULL) == NULL);
    /* MLatom's defaults (kreg-and-krr.md 2). */
    CHECK(kernel_find("gaussian")->default_sigma == 100.0);
    CHECK(kernel_find("laplacian")->default_sigma == 800.0);
    CHECK(kernel_find("laplacian")->lg_sigma_lo == 5.0);
    CHECK(kernel_find("matern")->lg_sigma_hi == 9.0);
}

/* Values against numbers computed independently with mpmath at 40 digits:
 *   a = (0.5, -1.25, 2), b = (1.5, 0.75, 1), sigma = 2.385,
 *   |a-b|^2 = 6, |a-b|_1 = 4, |a-b|_2 = sqrt 6,
 *   exp(-6 / (2 sigma^2)), exp(-4 / sigma), and the Matern sum
 *   exp(-z) n!/(2n)! sum_k (n+k)!/(k!(n-k)!) (2z)^(n-k), z = sqrt 6/sigma. */
static void test_values(void)
{
    const double a[3] = {0.5, -1.25, 2.0}, b[3] = {1.5, 0.75, 1.0};
    const double sigma = 2.385;
    kernel_spec g = {KERNEL_GAUSSIAN, 0, sigma};
    kernel_spec l = {KERNEL_LAPLACIAN, 0, sigma};
    kernel_spec m = {KERNEL_MATERN, 2, sigma};

    /* Differences of these numbers are exact; 6 and 4 are sums of exact
     * squares, so the distances are exact but for sqrt's rounding. */
    CHECK(kernel_distance(&g, 3, a, b) == 6.0);
    CHECK(kernel_distance(&l, 3, a, b) == 4.0);
    CHECK(kernel_distance(&m, 3, a, b) == sqrt(6.0));

    /* Gaussian: the argument 6 / (2 sigma^2) carries sigma's decimal
     * rounding and three operations (<= 4 eps relative, i.e. 4 eps |arg|
     * absolute), exp adds 1 ulp, the literal 1/2 ulp: rtol (4 |arg| + 2)
     * eps. */
    const double ag = 6.0 / (2.0 * sigma * sigma);
    CHECK_CLOSE(kernel_eval(&g, 3, a, b), 0.59013420739650669918, 0.0,
                0.59013420739650669918 * (4.0 * ag + 2.0) * eps);
    const double al = 4.0 / sigma; /* 2 roundings */
    CHECK_CLOSE(kernel_eval(&l, 3, a, b), 0.18690611501208210688,
                (2.0 * al + 2.0) * eps, 0.0);

    /* Matern: z = sqrt(6) / sigma has <= 3 eps relative error, so exp(-z)
     * has 3 z eps + eps; Horner on positive terms adds <= 6 eps per step
     * (three roundings in the ratio, two in the products, one in the sum)
     * and the z error moves the polynomial by <= 3 n eps: rtol
     * (9 n + 3 z + 3) eps. */
    const double want[6] = {0.35806536536220316541, 0.72581271953437411721,
                            0.85170976663156284143, 0.90274942976263618099,
                            0.92841778651107893296, 0.94353254307712020461};
    const double z = sqrt(6.0) / sigma;
    for (int n = 0; n < 6; n++) {
        m.matern_n = n;
        CHECK_CLOSE(kernel_eval(&m, 3, a, b), want[n], 0.0,
                    want[n] * (9.0 * n + 3.0 * z + 3.0) * eps);
    }

    /* Every kernel is exactly 1 at distance 0. */
    for (int n = 0; n < 12; n++) {
        m.matern_n = n;
        CHECK(kernel_of_distance(&m, 0.0) == 1.0);
    }
    CHECK(kernel_of_distance(&g, 0.0) == 1.0);
    CHECK(kernel_of_distance(&l, 0.0) == 1.0);
}

/* Matern: MLatom's closed forms for n = 0, 1, 2 (kreg-and-krr.md 2), the
 * textbook form with l = sigma sqrt(2 nu) (Rasmussen & Williams eq. 4.17),
 * and the factorial sum for larger n; range and monotonicity. */
static void test_matern(void)
{
    const double sigma = 1.7325;
    kernel_spec m = {KERNEL_MATERN, 0, sigma};
    for (int i = 1; i <= 40; i++) {
        const double d = 0.173 * i;
        const double z = d / sigma; /* 1 rounding: z err <= eps z */
        /* Both sides round the same z, then exp (1 ulp each) and <= 4
         * operations on positive terms each: rtol 12 eps. */
        const double rt = 12.0 * eps;
        m.matern_n = 0;
        CHECK_CLOSE(kernel_of_distance(&m, d), exp(-z), rt, 0.0);
        m.matern_n = 1;
        CHECK_CLOSE(kernel_of_distance(&m, d), (1.0 + z) * exp(-z), rt, 0.0);
        m.matern_n = 2;
        CHECK_CLOSE(kernel_of_distance(&m, d),
                    (1.0 + z + z * z / 3.0) * exp(-z), rt, 0.0);

        /* Textbook Matern, nu = 3/2 and 5/2, l = sigma sqrt(2 nu): the
         * sqrt(3) and sqrt(5) roundings change r/l by <= 4 eps relative,
         * so exp moves by 4 z eps more: rtol (12 + 8 z) eps. */
        const double rt2 = (12.0 + 8.0 * z) * eps;
        const double l3 = sigma * sqrt(3.0), l5 = sigma * sqrt(5.0);
        const double u3 = sqrt(3.0) * d / l3, u5 = sqrt(5.0) * d / l5;
        m.matern_n = 1;
        CHECK_CLOSE(kernel_of_distance(&m, d), (1.0 + u3) * exp(-u3), rt2, 0.0);
        m.matern_n = 2;
        CHECK_CLOSE(kernel_of_distance(&m, d),
                    (1.0 + u5 + 5.0 * d * d / (3.0 * l5 * l5)) * exp(-u5), rt2,
                    0.0);

        /* General n against the factorial sum (factorials up to 16! are
         * exact doubles).  Each positive term has <= 6 roundings plus pow's
         * ulp and the z error amplified by its power (<= n eps); Horner
         * has <= 6 eps per step and 3 n eps from z: together rtol
         * (12 n + 6 z + 10) eps. */
        for (int n = 3; n <= 8; n++) {
            double fact[17];
            fact[0] = 1.0;
            for (int k = 1; k <= 16; k++)
                fact[k] = fact[k - 1] * k;
            double s = 0.0;
            for (int k = 0; k <= n; k++)
                s +=
                    fact[n + k] / (fact[k] * fact[n - k]) * pow(2.0 * z, n - k);
            const double want = exp(-z) * fact[n] / fact[2 * n] * s;
            m.matern_n = n;
            CHECK_CLOSE(kernel_of_distance(&m, d), want,
                        (12.0 * n + 6.0 * z + 10.0) * eps, 0.0);
        }
    }
    /* 0 <= k <= 1, decreasing in d, no NaN far away or for large n. */
    for (int n = 0; n <= 60; n += 3) {
        m.matern_n = n;
        double prev = 1.0;
        for (int i = 1; i <= 200; i++) {
            const double k = kernel_of_distance(&m, 0.37 * i * i);
            CHECK(k >= 0.0 && k <= prev);
            prev = k;
        }
        CHECK(kernel_of_distance(&m, 1e6 * sigma) == 0.0);
    }
}

/* Random descriptors like RE (components near 1, spread s). */
static void fill(test_rng *r, size_t n, size_t D, double s, double *X)
{
    for (size_t i = 0; i < n * D; i++)
        X[i] = 1.0 + s * test_rng_normal(r);
}

static double sqnorm(size_t D, const double *a)
{
    double s = 0.0;
    for (size_t d = 0; d < D; d++)
        s += a[d] * a[d];
    return s;
}

/*
 * Bound on |k_blas - k_eval| for the Gaussian.  The BLAS path forms
 * d = |a|^2 + |b|^2 - 2 a.b: each dot product of D terms errs by
 * <= D eps sum|a_k b_k| <= D eps (|a|^2 + |b|^2) / 2 (Higham eq. 3.5, with
 * Cauchy-Schwarz), so the three together err by <= (2D + 3) eps
 * (|a|^2 + |b|^2) with the two additions; the loop errs by <= (D + 1) eps d.
 * exp turns a d error into k |err| / (2 sigma^2), and both sides' exp and
 * argument roundings add <= 2 (|arg| + 2) eps k.
 */
static double gauss_tol(size_t D, const double *a, const double *b,
                        double sigma, double k, double d)
{
    const double derr = (2.0 * D + 3.0) * eps * (sqnorm(D, a) + sqnorm(D, b)) +
                        (D + 1.0) * eps * d;
    const double arg = d / (2.0 * sigma * sigma);
    return k * derr / (2.0 * sigma * sigma) + 2.0 * (arg + 2.0) * eps * k;
}

static void test_matrix(void)
{
    test_rng r = {20240611u};
    enum { N1 = 37, N2 = 23, DD = 28 };
    double X1[N1 * DD], X2[N2 * DD], K[N1 * N2], S[N1 * N1];
    fill(&r, N1, DD, 0.1, X1);
    fill(&r, N2, DD, 0.1, X2);
    /* One pair of identical points across the sets. */
    memcpy(X2 + 5 * DD, X1 + 7 * DD, DD * sizeof(double));

    const kernel_spec specs[] = {
        {KERNEL_GAUSSIAN, 0, 0.3817}, {KERNEL_GAUSSIAN, 0, 23.85},
        {KERNEL_LAPLACIAN, 0, 2.385}, {KERNEL_MATERN, 0, 0.5123},
        {KERNEL_MATERN, 2, 0.5123},   {KERNEL_MATERN, 5, 0.5123}};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        const kernel_spec *k = &specs[s];
        const int gauss = k->type == KERNEL_GAUSSIAN;
        int bad = 0;
        kernel_matrix(k, DD, N1, X1, N2, X2, K);
        for (size_t i = 0; i < N1; i++)
            for (size_t j = 0; j < N2; j++) {
                const double *a = X1 + i * DD, *b = X2 + j * DD;
                const double want = kernel_eval(k, DD, a, b);
                if (gauss) {
                    const double d = kernel_distance(k, DD, a, b);
                    bad += !(fabs(K[i * N2 + j] - want) <=
                             gauss_tol(DD, a, b, k->sigma, want, d));
                } else {
                    /* The loops call kernel_eval itself: bit-equal. */
                    bad += K[i * N2 + j] != want;
                }
            }
        CHECK(bad == 0);
        if (bad != 0)
            fprintf(stderr, "kernel %zu: %d elements differ\n", s, bad);

        /* Symmetric matrix: exactly symmetric, diagonal exactly 1, equal
         * to the element-wise values within the same bound. */
        kernel_matrix_sym(k, DD, N1, X1, S);
        bad = 0;
        for (size_t i = 0; i < N1; i++) {
            bad += S[i * N1 + i] != 1.0;
            for (size_t j = 0; j < N1; j++) {
                const double *a = X1 + i * DD, *b = X1 + j * DD;
                const double want = kernel_eval(k, DD, a, b);
                bad += S[i * N1 + j] != S[j * N1 + i];
                if (gauss)
                    bad += !(fabs(S[i * N1 + j] - want) <=
                             gauss_tol(DD, a, b, k->sigma, want,
                                       kernel_distance(k, DD, a, b)));
                else
                    bad += S[i * N1 + j] != want;
            }
        }
        CHECK(bad == 0);
    }
    /* The identical pair: the BLAS distance is clamped at >= 0, so the
     * kernel never exceeds 1. */
    kernel_matrix(&specs[0], DD, N1, X1, N2, X2, K);
    CHECK(K[7 * N2 + 5] <= 1.0 &&
          K[7 * N2 + 5] >= 1.0 - gauss_tol(DD, X1 + 7 * DD, X1 + 7 * DD,
                                           specs[0].sigma, 1.0, 0.0));
    /* Empty sets and D = 0 are allowed (D = 0: every distance is 0). */
    kernel_matrix(&specs[0], DD, 0, X1, N2, X2, K);
    kernel_matrix_sym(&specs[0], DD, 0, X1, S);
    kernel_matrix(&specs[0], 0, 3, X1, 2, X2, K);
    CHECK(K[0] == 1.0 && K[5] == 1.0);
}

/* Positive semi-definite: for clustered points the Gaussian matrix is
 * nearly all ones and its smallest eigenvalues sit at the round-off level,
 * where a wrong sign or a lost clamp would show. */
static void test_psd(void)
{
    test_rng r = {7331u};
    enum { N = 80, DD = 28 };
    static double X[N * DD], K[N * N];
    double w[N];
    fill(&r, N, DD, 0.05, X);
    /* The wide kernels put lambda_min at the round-off level. */
    const kernel_spec specs[] = {
        {KERNEL_GAUSSIAN, 0, 0.2385}, {KERNEL_GAUSSIAN, 0, 2.385},
        {KERNEL_GAUSSIAN, 0, 23.85},  {KERNEL_GAUSSIAN, 0, 2385},
        {KERNEL_LAPLACIAN, 0, 23.85}, {KERNEL_LAPLACIAN, 0, 2385},
        {KERNEL_MATERN, 2, 2.385},    {KERNEL_MATERN, 2, 238.5}};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        kernel_matrix_sym(&specs[s], DD, N, X, K);
        /* Per-element error delta of the computed matrix: gauss_tol for
         * the Gaussian, else (D + 4 + |arg|) eps k from the distance sum
         * and exp. */
        double delta = 0.0, fro = 0.0;
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++) {
                const double *a = X + i * DD, *b = X + j * DD;
                const double k = K[i * N + j];
                const double d = kernel_distance(&specs[s], DD, a, b);
                const double e =
                    specs[s].type == KERNEL_GAUSSIAN
                        ? gauss_tol(DD, a, b, specs[s].sigma, k, d)
                        : (DD + 4.0 + d / specs[s].sigma) * eps * k;
                delta = e > delta ? e : delta;
                fro += k * k;
            }
        fro = sqrt(fro);
        CHECK(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', N, K, N, w) == 0);
        /* The exact matrix is PSD; the computed one differs by E with
         * ||E||_2 <= ||E||_F <= N delta (Weyl), and dsyevd's backward error
         * is a modest multiple of N eps ||K|| (LAPACK Users' Guide 4.7):
         * lambda_min >= -(N delta + 2 N eps ||K||_F). */
        const double tol = N * delta + 2.0 * N * eps * fro;
        CHECK(w[0] >= -tol);
        if (!(w[0] >= -tol))
            fprintf(stderr, "kernel %zu: lambda_min %g < -%g\n", s, w[0], tol);
    }
}

int main(void)
{
    test_registry();
    test_values();
    test_matern();
    test_matrix();
    test_psd();
    return test_exit("test_kernel");
}
