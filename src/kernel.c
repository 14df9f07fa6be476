/*
 * kernel.c - the kernel registry and kernel matrices.
 *
 * Formulas are MLatom's (A_KRR_kernel.f90, functions Kfunk and distance;
 * reference notes kreg-and-krr.md section 2), so that sigma values and
 * search ranges carry over: the Gaussian takes the SQUARED Euclidean
 * distance, the Laplacian the L1 distance, the Matern kernel the Euclidean
 * distance with MLatom's sigma = l / sqrt(2 nu) (nu = n + 1/2).
 */
#include <config.h>

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>

#include <cblas.h>

#include "kernel.h"

static const kernel_info kernel_table[] = {
    {"gaussian", "k = exp(-|x - x'|_2^2 / (2 sigma^2))",
     "MLatom 3: Dral et al., J. Chem. Theory Comput. 20, 1193 (2024)",
     KERNEL_GAUSSIAN, 100.0, 2.0, 9.0},
    {"laplacian", "k = exp(-|x - x'|_1 / sigma)",
     "MLatom 3: Dral et al., J. Chem. Theory Comput. 20, 1193 (2024)",
     KERNEL_LAPLACIAN, 800.0, 5.0, 12.0},
    {"matern",
     "d = |x - x'|_2, nu = n + 1/2: k = exp(-d/sigma) n!/(2n)! "
     "sum_{k=0..n} (n+k)!/(k!(n-k)!) (2d/sigma)^(n-k)",
     "Rasmussen & Williams, Gaussian Processes for Machine Learning, MIT "
     "Press (2006), eq. 4.16; sigma = l/sqrt(2 nu) as in MLatom 3: Dral et "
     "al., J. Chem. Theory Comput. 20, 1193 (2024)",
     KERNEL_MATERN, 100.0, 2.0, 9.0},
};

enum { KERNEL_TABLE_LEN = sizeof kernel_table / sizeof kernel_table[0] };

size_t kernel_count(void)
{
    return KERNEL_TABLE_LEN;
}

const kernel_info *kernel_get(size_t i)
{
    return i < KERNEL_TABLE_LEN ? &kernel_table[i] : NULL;
}

const kernel_info *kernel_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < KERNEL_TABLE_LEN; i++) {
        const char *a = kernel_table[i].name, *b = name;
        while (*a != '\0' &&
               tolower((unsigned char) *a) == tolower((unsigned char) *b)) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return &kernel_table[i];
    }
    return NULL;
}

int rpr_kernel_entry(size_t i, const char **name, const char **formula,
                     const char **reference)
{
    const kernel_info *info = kernel_get(i);
    if (info == NULL)
        return 0;
    if (name != NULL)
        *name = info->name;
    if (formula != NULL)
        *formula = info->formula;
    if (reference != NULL)
        *reference = info->reference;
    return 1;
}

static double kernel_sqdist(size_t D, const double *a, const double *b)
{
    double s = 0.0;
    for (size_t d = 0; d < D; d++) {
        const double u = a[d] - b[d];
        s += u * u;
    }
    return s;
}

double kernel_distance(const kernel_spec *k, size_t D, const double *a,
                       const double *b)
{
    switch (k->type) {
    case KERNEL_GAUSSIAN: return kernel_sqdist(D, a, b);
    case KERNEL_LAPLACIAN: {
        double s = 0.0;
        for (size_t d = 0; d < D; d++)
            s += fabs(a[d] - b[d]);
        return s;
    }
    case KERNEL_MATERN: return sqrt(kernel_sqdist(D, a, b));
    }
    return NAN; /* not a kernel_type */
}

/*
 * Matern with integer n in MLatom's form (kreg-and-krr.md 2),
 *   k = exp(-z) sum_{j=0..n} a_j (2z)^j,  z = d / sigma,
 *   a_j = n! (2n-j)! / ((2n)! (n-j)! j!),  a_0 = 1,
 * (j = n - k of the sum over k).  Factorials overflow from 171! on, so the
 * polynomial is evaluated by Horner's rule on the ratios
 *   a_{j+1} / a_j = (n - j) / ((2n - j)(j + 1)),
 * which are all <= 1/2: s = 1 + r_0 2z (1 + r_1 2z (1 + ...)).  Since
 * a_j <= 2^-j / j!, s <= exp(z) and k <= 1.  Where exp(-z) underflows to 0
 * (d > 745 sigma) the result is 0, not inf * 0.
 */
static double kernel_matern(int n, double z)
{
    const double e = exp(-z);
    if (e == 0.0)
        return 0.0;
    double s = 1.0;
    for (int j = n - 1; j >= 0; j--)
        s = 1.0 +
            s * (2.0 * z) *
                ((double) (n - j) / ((double) (2 * n - j) * (double) (j + 1)));
    return s * e;
}

double kernel_of_distance(const kernel_spec *k, double d)
{
    switch (k->type) {
    case KERNEL_GAUSSIAN: return exp(-d / (2.0 * k->sigma * k->sigma));
    case KERNEL_LAPLACIAN: return exp(-d / k->sigma);
    case KERNEL_MATERN: return kernel_matern(k->matern_n, d / k->sigma);
    }
    return NAN; /* not a kernel_type */
}

double kernel_eval(const kernel_spec *k, size_t D, const double *a,
                   const double *b)
{
    return kernel_of_distance(k, kernel_distance(k, D, a, b));
}

static double kernel_sqnorm(size_t D, const double *a)
{
    double s = 0.0;
    for (size_t d = 0; d < D; d++)
        s += a[d] * a[d];
    return s;
}

/* BLAS takes int sizes; larger problems take the loops. */
static int kernel_blas_ok(size_t n1, size_t n2, size_t D)
{
    return n1 <= INT_MAX && n2 <= INT_MAX && D > 0 && D <= INT_MAX;
}

/* Element-wise loops: the L1 and L2 kernels, and the Gaussian past BLAS's
 * int range. */
static void kernel_matrix_loops(const kernel_spec *k, size_t D, size_t n1,
                                const double *X1, size_t n2, const double *X2,
                                double *K)
{
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++)
            K[i * n2 + j] = kernel_eval(k, D, X1 + i * D, X2 + j * D);
}

/*
 * Gaussian squared distances by BLAS-3: d_ij = |a_i|^2 + |b_j|^2 - 2 a_i.b_j,
 * the products from one dgemm.  K first receives |a_i|^2 + |b_j|^2 (row 0
 * holds the |b_j|^2 until the last), then dgemm adds -2 X1 X2^T with
 * beta = 1, so no scratch memory is needed.
 *
 * Cancellation: the absolute error of d_ij is about (D + 2) eps
 * (|a_i|^2 + |b_j|^2), not eps d_ij as for the difference loop, so for two
 * close points far from the origin d_ij is known only to that absolute
 * accuracy and may come out slightly negative; it is clamped at 0.  The
 * kernel's error is then at most k d_err / (2 sigma^2), far below anything
 * the fit resolves for RE-like descriptors (|a|^2 ~ D).
 */
void kernel_matrix(const kernel_spec *k, size_t D, size_t n1, const double *X1,
                   size_t n2, const double *X2, double *K)
{
    if (n1 == 0 || n2 == 0)
        return;
    if (k->type != KERNEL_GAUSSIAN || !kernel_blas_ok(n1, n2, D)) {
        kernel_matrix_loops(k, D, n1, X1, n2, X2, K);
        return;
    }
    for (size_t j = 0; j < n2; j++)
        K[j] = kernel_sqnorm(D, X2 + j * D);
    for (size_t i = n1; i-- > 0;) {
        const double na = kernel_sqnorm(D, X1 + i * D);
        for (size_t j = 0; j < n2; j++)
            K[i * n2 + j] = na + K[j];
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) n1, (int) n2,
                (int) D, -2.0, X1, (int) D, X2, (int) D, 1.0, K, (int) n2);
    for (size_t i = 0; i < n1 * n2; i++)
        K[i] = kernel_of_distance(k, K[i] > 0.0 ? K[i] : 0.0);
}

/*
 * Symmetric case: the Gram matrix G = X X^T from one dsyrk (upper
 * triangle), then d_ij = G_ii + G_jj - 2 G_ij with the same cancellation as
 * above, clamped at 0.  Taking the norms from G's own diagonal and setting
 * d_ii = 0 makes the diagonal exactly k(0); rows are processed in order so
 * that G_jj (j > i) is still intact when row i needs it.
 */
void kernel_matrix_sym(const kernel_spec *k, size_t D, size_t n,
                       const double *X, double *K)
{
    if (n == 0)
        return;
    const double k0 = kernel_of_distance(k, 0.0);
    if (k->type != KERNEL_GAUSSIAN || !kernel_blas_ok(n, n, D)) {
        for (size_t i = 0; i < n; i++) {
            K[i * n + i] = k0;
            for (size_t j = i + 1; j < n; j++)
                K[i * n + j] = K[j * n + i] =
                    kernel_eval(k, D, X + i * D, X + j * D);
        }
        return;
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int) n, (int) D, 1.0,
                X, (int) D, 0.0, K, (int) n);
    for (size_t i = 0; i < n; i++) {
        const double gi = K[i * n + i];
        for (size_t j = i + 1; j < n; j++) {
            const double d = gi + K[j * n + j] - 2.0 * K[i * n + j];
            K[i * n + j] = K[j * n + i] =
                kernel_of_distance(k, d > 0.0 ? d : 0.0);
        }
        K[i * n + i] = k0;
    }
}
