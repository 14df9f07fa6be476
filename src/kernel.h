/*
 * kernel.h - kernel functions of KRR (private).  Definitions exactly as
 * MLatom's (reference notes kreg-and-krr.md section 2):
 *   gaussian   d = sum (x - x')^2 (squared L2)  k = exp(-d / (2 sigma^2))
 *   laplacian  d = sum |x - x'|    (L1)         k = exp(-d / sigma)
 *   matern     d = ||x - x'||_2, integer n (nu = n + 1/2):
 *     k = exp(-d/sigma) n!/(2n)!
 *         sum_{k=0..n} (n+k)!/(k!(n-k)!) (2d/sigma)^(n-k)
 */
#ifndef RPR_KERNEL_H
#define RPR_KERNEL_H

#include <stddef.h>

#include "internal.h"

typedef enum kernel_type {
    KERNEL_GAUSSIAN = 0,
    KERNEL_LAPLACIAN = 1,
    KERNEL_MATERN = 2
} kernel_type;

typedef struct kernel_spec {
    kernel_type type;
    int matern_n; /* Matern only, >= 0 */
    double sigma; /* > 0, in the descriptor's unit */
} kernel_spec;

/* One row of the kernel registry (a const table in kernel.c). */
typedef struct kernel_info {
    const char *name;      /* "gaussian", "laplacian", "matern" */
    const char *formula;   /* one line, as in the comment above */
    const char *reference; /* literature source */
    kernel_type type;
    double default_sigma;            /* MLatom default: 100, 800, 100 */
    double lg_sigma_lo, lg_sigma_hi; /* MLatom log2 search range */
} kernel_info;

size_t kernel_count(void);
const kernel_info *kernel_get(size_t i);          /* NULL past the end */
const kernel_info *kernel_find(const char *name); /* case-insensitive */

/* The kernel's own distance between two descriptors of length D (squared
 * L2, L1 or L2 as above) and the kernel as a function of that distance. */
double kernel_distance(const kernel_spec *k, size_t D, const double *a,
                       const double *b);
double kernel_of_distance(const kernel_spec *k, double d);
double kernel_eval(const kernel_spec *k, size_t D, const double *a,
                   const double *b);

/* K[i][j] = k(X1_i, X2_j), K row-major [n1][n2]; X1 [n1][D], X2 [n2][D].
 * Gaussian squared distances come from one dgemm (BLAS-3), using K itself
 * as the only scratch: nothing is allocated. */
void kernel_matrix(const kernel_spec *k, size_t D, size_t n1, const double *X1,
                   size_t n2, const double *X2, double *K);
/* Symmetric K [n][n] = k(X_i, X_j), both triangles filled. */
void kernel_matrix_sym(const kernel_spec *k, size_t D, size_t n,
                       const double *X, double *K);

#endif /* RPR_KERNEL_H */
