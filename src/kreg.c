/*
 * kreg.c - the KREG potential: Gaussian-kernel ridge regression on
 * energies and energy gradients (reference notes kreg-and-krr.md sections
 * 3-4; Hou, Ge, Dral, J. Chem. Theory Comput. 19, 2369 (2023)).
 */
#include <config.h>

#include <assert.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <lapacke.h>

#include "kreg.h"

#define KREG_GIB 1073741824.0

double kreg_length_to_bohr(kreg_length_unit unit)
{
    return unit == KREG_BOHR ? 1.0 : RPR_ANGSTROM_PER_BOHR;
}

static double kreg_now(void)
{
#ifdef HAVE_CLOCK_GETTIME
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) == 0)
        return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
#endif
    return (double) clock() / CLOCKS_PER_SEC;
}

static int kreg_has_grad(const kreg_data *d, size_t i)
{
    return d->G != NULL && (d->present == NULL || d->present[i] != 0);
}

static size_t kreg_count_grad(const kreg_data *d)
{
    if (d->G == NULL || d->present == NULL)
        return d->G == NULL ? 0 : d->n;
    size_t ng = 0;
    for (size_t i = 0; i < d->n; i++)
        ng += kreg_has_grad(d, i) ? 1 : 0;
    return ng;
}

/* ------------------------------------------------------------ model */

rpr_status kreg_model_new(size_t n, size_t D, size_t ncoord, int with_gradients,
                          kreg_model **model, rpr_error *err)
{
    *model = NULL;
    if (n == 0 || D == 0 || ncoord == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg: empty model (%zu geometries, descriptor "
                        "length %zu, %zu coordinates)",
                        n, D, ncoord);
    if (n > SIZE_MAX / sizeof(double) / D)
        return RPR_FAIL(err, RPR_ENOMEM,
                        "kreg: %zu x %zu descriptors do not fit in memory", n,
                        D);
    kreg_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "kreg: out of memory for a model");
    m->n = n;
    m->D = D;
    m->ncoord = ncoord;
    m->sigma = m->lambda = m->lambda_grad = m->prior = NAN;
    m->length_unit = KREG_ANGSTROM;
    m->X = malloc(n * D * sizeof(double));
    m->alpha = malloc(n * sizeof(double));
    m->q = with_gradients ? malloc(n * D * sizeof(double)) : NULL;
    if (m->X == NULL || m->alpha == NULL || (with_gradients && m->q == NULL)) {
        kreg_model_free(m);
        return RPR_FAIL(err, RPR_ENOMEM,
                        "kreg: out of memory for a model of %zu geometries", n);
    }
    for (size_t i = 0; i < n * D; i++) {
        m->X[i] = NAN;
        if (m->q != NULL)
            m->q[i] = NAN;
    }
    for (size_t i = 0; i < n; i++)
        m->alpha[i] = NAN;
    *model = m;
    return RPR_OK;
}

void kreg_model_free(kreg_model *model)
{
    if (model == NULL)
        return;
    free(model->X);
    free(model->alpha);
    free(model->q);
    free(model);
}

/* First non-finite entry of a[n], or n. */
static size_t kreg_first_nonfinite(size_t n, const double *a)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return i;
    return n;
}

rpr_status kreg_model_check(const kreg_model *m, rpr_error *err)
{
    const double p[4] = {m->sigma, m->lambda, m->lambda_grad, m->prior};
    static const char *const pname[4] = {"sigma", "lambda", "lambda_grad",
                                         "prior"};
    if (m->n == 0 || m->D == 0 || m->ncoord == 0 || m->X == NULL ||
        m->alpha == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "kreg: model has no training data");
    for (size_t k = 0; k < 4; k++)
        if (!isfinite(p[k]))
            return RPR_FAIL(err, RPR_ENONFINITE, "kreg: model %s is %g",
                            pname[k], p[k]);
    if (!(m->sigma > 0.0) || m->lambda < 0.0 || m->lambda_grad < 0.0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg: model needs sigma > 0 and lambdas >= 0 (sigma "
                        "%g, lambda %g, lambda_grad %g)",
                        m->sigma, m->lambda, m->lambda_grad);
    if (m->length_unit != KREG_ANGSTROM && m->length_unit != KREG_BOHR)
        return RPR_FAIL(err, RPR_EINVAL, "kreg: unknown length unit %d",
                        (int) m->length_unit);
    size_t k = kreg_first_nonfinite(m->n * m->D, m->X);
    if (k < m->n * m->D)
        return RPR_FAIL(err, RPR_ENONFINITE,
                        "kreg: model descriptor %zu of training geometry %zu "
                        "is %g",
                        k % m->D + 1, k / m->D + 1, m->X[k]);
    k = kreg_first_nonfinite(m->n, m->alpha);
    if (k < m->n)
        return RPR_FAIL(err, RPR_ENONFINITE,
                        "kreg: model alpha of training geometry %zu is %g",
                        k + 1, m->alpha[k]);
    if (m->q != NULL) {
        k = kreg_first_nonfinite(m->n * m->D, m->q);
        if (k < m->n * m->D)
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "kreg: model gradient vector q[%zu] of training "
                            "geometry %zu is %g",
                            k % m->D + 1, k / m->D + 1, m->q[k]);
    }
    return RPR_OK;
}

/* ------------------------------------------------------------ checks */

static rpr_status kreg_check_params(const kreg_params *hp, rpr_error *err)
{
    if (!isfinite(hp->sigma) || !isfinite(hp->lambda) ||
        !isfinite(hp->lambda_grad) || !isfinite(hp->prior))
        return RPR_FAIL(err, RPR_ENONFINITE,
                        "kreg: non-finite hyperparameter (sigma %g, lambda "
                        "%g, lambda_grad %g, prior %g)",
                        hp->sigma, hp->lambda, hp->lambda_grad, hp->prior);
    if (!(hp->sigma > 0.0))
        return RPR_FAIL(err, RPR_EINVAL, "kreg: sigma must be > 0 (got %g)",
                        hp->sigma);
    if (hp->lambda < 0.0 || hp->lambda_grad < 0.0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg: lambda and lambda_grad must be >= 0 (got %g, "
                        "%g)",
                        hp->lambda, hp->lambda_grad);
    return RPR_OK;
}

/* Sizes and pointers: cheap, done before the memory check. */
static rpr_status kreg_check_shape(const kreg_data *d, rpr_error *err)
{
    if (d->n == 0 || d->D == 0 || d->ncoord == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg: no training data (%zu geometries, descriptor "
                        "length %zu, %zu coordinates)",
                        d->n, d->D, d->ncoord);
    if (d->X == NULL || d->E == NULL)
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg: descriptors and energies are required");
    if (d->length_unit != KREG_ANGSTROM && d->length_unit != KREG_BOHR)
        return RPR_FAIL(err, RPR_EINVAL, "kreg: unknown length unit %d",
                        (int) d->length_unit);
    if (d->n > SIZE_MAX / sizeof(double) / d->D ||
        d->ncoord > SIZE_MAX / sizeof(double) / d->D)
        return RPR_FAIL(err, RPR_ENOMEM,
                        "kreg: %zu geometries of %zu descriptors do not fit "
                        "in memory",
                        d->n, d->D);
    if (d->G != NULL && d->J == NULL && kreg_count_grad(d) > 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg: gradients given without descriptor Jacobians");
    return RPR_OK;
}

/* Every number that the fit reads must be finite. */
static rpr_status kreg_check_values(const kreg_data *d, rpr_error *err)
{
    const size_t D = d->D, c = d->ncoord;
    for (size_t i = 0; i < d->n; i++) {
        size_t k = kreg_first_nonfinite(D, d->X + i * D);
        if (k < D)
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "kreg: descriptor %zu of geometry %zu is %g", k + 1,
                            i + 1, d->X[i * D + k]);
        if (!isfinite(d->E[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "kreg: energy of geometry %zu is %g", i + 1,
                            d->E[i]);
        if (!kreg_has_grad(d, i))
            continue;
        k = kreg_first_nonfinite(c, d->G + i * c);
        if (k < c)
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "kreg: gradient component %zu of geometry %zu is "
                            "%g",
                            k + 1, i + 1, d->G[i * c + k]);
        k = kreg_first_nonfinite(D * c, d->J + i * D * c);
        if (k < D * c)
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "kreg: Jacobian element (%zu, %zu) of geometry "
                            "%zu is %g",
                            k / c + 1, k % c + 1, i + 1, d->J[i * D * c + k]);
    }
    return RPR_OK;
}

rpr_status kreg_system_size(const kreg_data *d, size_t *m, size_t *bytes,
                            rpr_error *err)
{
    const size_t ng = kreg_count_grad(d);
    *m = 0;
    *bytes = 0;
    /* In double: the size that would be needed, also when size_t
     * overflows, for the message. */
    const double dim = (double) d->n + (double) ng * (double) d->ncoord;
    if (ng > 0 && d->ncoord > (SIZE_MAX - d->n) / ng)
        goto overflow;
    const size_t dm = d->n + ng * d->ncoord;
    if (dm > SIZE_MAX / sizeof(double) / dm || dm > (size_t) INT_MAX)
        goto overflow;
    *m = dm;
    *bytes = dm * dm * sizeof(double);
    return RPR_OK;
overflow:
    return RPR_FAIL(err, RPR_ENOMEM,
                    "kreg: the kernel system of dimension %.0f (%zu energies "
                    "+ %zu gradients x %zu components) needs %.3g GiB, more "
                    "than this machine can address",
                    dim, d->n, ng, d->ncoord, dim * dim * 8.0 / KREG_GIB);
}

/* Physical memory in bytes; SIZE_MAX if unknown. */
static size_t kreg_physical_bytes(void)
{
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0 && (size_t) pages <= SIZE_MAX / (size_t) psz)
        return (size_t) pages * (size_t) psz;
#endif
    return SIZE_MAX;
}

static rpr_status kreg_check_memory(size_t m, size_t bytes, size_t max_bytes,
                                    rpr_error *err)
{
    const size_t limit = max_bytes > 0 ? max_bytes : kreg_physical_bytes();
    if (bytes > limit)
        return RPR_FAIL(err, RPR_ENOMEM,
                        "kreg: the %zu x %zu kernel system needs %.3g GiB, "
                        "more than the %.3g GiB %s; train on fewer geometries "
                        "or fewer of them with gradients",
                        m, m, (double) bytes / KREG_GIB,
                        (double) limit / KREG_GIB,
                        max_bytes > 0 ? "allowed" : "of physical memory");
    return RPR_OK;
}

/* ------------------------------------------------------------ build */

/*
 * With u_ij = x_i - x_j and B[j][(g,a)] = ((x_j - x_i)^T J_i)_a for the
 * g-th geometry i with gradients (one dgemm per i, written straight into
 * the K_EG block of A):
 *   K_EG[j][(g,a)] = k_ij / sigma^2 * B[j][(g,a)]  (= dk(x_j, x_i)/dR_i,a)
 *   K_GG[(g,a)][(h,b)] = k_ij / sigma^2 (J_i^T J_j)_ab
 *                      - k_ij / sigma^4 (J_i^T u_ij)_a (J_j^T u_ij)_b
 * for g <-> i, h <-> j, where J_i^T u_ij = -B[j][(g,.)] and J_j^T u_ij =
 * B[i][(h,.)], and all J_i^T J_j come from one dsyrk.  Differences x_j -
 * x_i are formed before any product (no |x|^2 - 2 x.y cancellation), so an
 * entry's error is a few eps relative to its terms' magnitudes.
 */
rpr_status kreg_build(const kreg_data *d, const kreg_params *hp, double *A,
                      double *y, rpr_error *err)
{
    const size_t N = d->n, D = d->D, c = d->ncoord;
    const size_t ng = kreg_count_grad(d), M = ng * c, m = N + M;
    const double is2 = 1.0 / (hp->sigma * hp->sigma), is4 = is2 * is2;
    const double inv2s2 = 0.5 * is2;
    size_t *glist = malloc((ng > 0 ? ng : 1) * sizeof *glist);
    double *U = malloc(N * D * sizeof *U);
    double *Jt = malloc((M > 0 ? M * D : 1) * sizeof *Jt);
    double *bj = malloc((M > 0 ? M : 1) * sizeof *bj);
    double *kk = malloc((ng > 0 ? ng : 1) * sizeof *kk);
    rpr_status st = RPR_OK;

    assert(m <= (size_t) INT_MAX); /* kreg_system_size checked it */
    if (glist == NULL || U == NULL || Jt == NULL || bj == NULL || kk == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM,
                      "kreg: out of memory for the kernel build scratch");
        goto cleanup;
    }
    for (size_t i = 0, g = 0; i < N; i++)
        if (kreg_has_grad(d, i))
            glist[g++] = i;

    /* Pass 1: K_EE (upper triangle, column by column) and B. */
    for (size_t i = 0, g = 0; i < N; i++) {
        const double *xi = d->X + i * D;
        for (size_t j = 0; j < N; j++)
            for (size_t e = 0; e < D; e++)
                U[j * D + e] = d->X[j * D + e] - xi[e];
        for (size_t j = 0; j <= i; j++) {
            double s = 0.0;
            for (size_t e = 0; e < D; e++)
                s += U[j * D + e] * U[j * D + e];
            A[j * m + i] = exp(-s * inv2s2);
        }
        if (g < ng && glist[g] == i) {
            const double *Ji = d->J + i * D * c;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) N,
                        (int) c, (int) D, 1.0, U, (int) D, Ji, (int) c, 0.0,
                        A + N + g * c, (int) m);
            for (size_t a = 0; a < c; a++)
                for (size_t e = 0; e < D; e++)
                    Jt[(g * c + a) * D + e] = Ji[e * c + a];
            g++;
        }
    }
    if (ng > 0) {
        /* Pass 2: J_i^T J_j for all pairs, upper triangle. */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int) M, (int) D,
                    1.0, Jt, (int) D, 0.0, A + N * m + N, (int) m);
        /* Pass 3: scale by k/sigma^2 and add the rank-one term, row by row
         * so that A is written sequentially. */
        for (size_t g = 0; g < ng; g++) {
            const size_t i = glist[g];
            const double *bi = A + i * m + N; /* B[i][(h,.)] */
            for (size_t h = g; h < ng; h++) {
                const size_t j = glist[h];
                memcpy(bj + h * c, A + j * m + N + g * c, c * sizeof *bj);
                kk[h] = A[i * m + j];
            }
            for (size_t a = 0; a < c; a++) {
                double *row = A + (N + g * c + a) * m + N;
                for (size_t h = g; h < ng; h++) {
                    const double s2 = kk[h] * is2;
                    const double s4 = kk[h] * is4 * bj[h * c + a];
                    for (size_t b = h == g ? a : 0; b < c; b++)
                        row[h * c + b] =
                            s2 * row[h * c + b] + s4 * bi[h * c + b];
                }
            }
        }
        /* Pass 4: K_EG = k/sigma^2 B, now that pass 3 has read B. */
        for (size_t i = 0; i < N; i++)
            for (size_t h = 0; h < ng; h++) {
                const size_t j = glist[h];
                const double s = (i <= j ? A[i * m + j] : A[j * m + i]) * is2;
                double *row = A + i * m + N + h * c;
                for (size_t b = 0; b < c; b++)
                    row[b] *= s;
            }
    }
    for (size_t i = 0; i < N; i++) {
        A[i * m + i] += hp->lambda;
        y[i] = d->E[i] - hp->prior;
    }
    for (size_t r = N; r < m; r++)
        A[r * m + r] += hp->lambda_grad;
    for (size_t g = 0; g < ng; g++)
        memcpy(y + N + g * c, d->G + glist[g] * c, c * sizeof *y);
cleanup:
    free(glist);
    free(U);
    free(Jt);
    free(bj);
    free(kk);
    return st;
}

/* ------------------------------------------------------------ fit */

/* Cholesky of the row-major upper triangle, which is LAPACK's
 * column-major lower one: no transposed copy (LAPACKE would make one for
 * LAPACK_ROW_MAJOR).  Returns LAPACK's info. */
static int kreg_cholesky(size_t m, double *A)
{
    return (int) LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int) m, A,
                                (lapack_int) m);
}

static rpr_status kreg_notpd(rpr_error *err, int info, size_t m,
                             const kreg_params *hp)
{
    return RPR_FAIL(err, RPR_ENOTPD,
                    "kreg: the kernel system (dimension %zu) is not positive "
                    "definite at row %d (sigma %g, lambda %g, lambda_grad "
                    "%g); use a larger lambda",
                    m, info, hp->sigma, hp->lambda, hp->lambda_grad);
}

/* alpha = sol[0..N); q_j = J_j beta_j for geometries with gradients. */
static void kreg_finish(const kreg_data *d, const double *sol, kreg_model *md)
{
    const size_t N = d->n, D = d->D, c = d->ncoord;
    memcpy(md->alpha, sol, N * sizeof *sol);
    if (md->q == NULL)
        return;
    for (size_t i = 0, g = 0; i < N; i++) {
        if (!kreg_has_grad(d, i)) {
            memset(md->q + i * D, 0, D * sizeof *md->q);
            continue;
        }
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int) D, (int) c, 1.0,
                    d->J + i * D * c, (int) c, sol + N + g * c, 1, 0.0,
                    md->q + i * D, 1);
        g++;
    }
}

rpr_status kreg_fit(const kreg_data *d, const kreg_params *hp,
                    kreg_model **model, kreg_timing *timing, rpr_error *err)
{
    const double t0 = kreg_now();
    double *A = NULL, *y = NULL;
    kreg_model *md = NULL;
    size_t m = 0, bytes = 0;
    rpr_status st;

    *model = NULL;
    if (timing != NULL)
        memset(timing, 0, sizeof *timing);
    st = kreg_check_shape(d, err);
    if (st == RPR_OK)
        st = kreg_check_params(hp, err);
    if (st == RPR_OK)
        st = kreg_system_size(d, &m, &bytes, err);
    if (st == RPR_OK)
        st = kreg_check_memory(m, bytes, hp->max_bytes, err);
    if (st == RPR_OK)
        st = kreg_check_values(d, err);
    if (st != RPR_OK)
        return st;

    const int with_grad = kreg_count_grad(d) > 0;
    st = kreg_model_new(d->n, d->D, d->ncoord, with_grad, &md, err);
    if (st != RPR_OK)
        goto cleanup;
    A = malloc(bytes);
    y = malloc(m * sizeof *y);
    if (A == NULL || y == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM,
                      "kreg: cannot allocate the %zu x %zu kernel system "
                      "(%.3g GiB)",
                      m, m, (double) bytes / KREG_GIB);
        goto cleanup;
    }
    st = kreg_build(d, hp, A, y, err);
    if (st != RPR_OK)
        goto cleanup;
    const double t1 = kreg_now();
    const int info = kreg_cholesky(m, A);
    const double t2 = kreg_now();
    if (info != 0) {
        st = info > 0 ? kreg_notpd(err, info, m, hp)
                      : RPR_FAIL(err, RPR_EINVAL, "kreg: dpotrf info %d", info);
        goto cleanup;
    }
    LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', (lapack_int) m, 1, A, (lapack_int) m,
                   y, (lapack_int) m);
    free(A);
    A = NULL;
    const size_t bad = kreg_first_nonfinite(m, y);
    if (bad < m) {
        st = RPR_FAIL(err, RPR_ENONFINITE,
                      "kreg: coefficient %zu of %zu is %g (sigma %g, lambda "
                      "%g); use a larger lambda",
                      bad + 1, m, y[bad], hp->sigma, hp->lambda);
        goto cleanup;
    }
    md->sigma = hp->sigma;
    md->lambda = hp->lambda;
    md->lambda_grad = hp->lambda_grad;
    md->prior = hp->prior;
    md->length_unit = d->length_unit;
    memcpy(md->X, d->X, d->n * d->D * sizeof *md->X);
    kreg_finish(d, y, md);
    if (timing != NULL) {
        timing->build = t1 - t0;
        timing->factor = t2 - t1;
        timing->solve = kreg_now() - t2;
        timing->total = kreg_now() - t0;
    }
    *model = md;
    md = NULL;
cleanup:
    free(A);
    free(y);
    kreg_model_free(md);
    return st;
}

/* ------------------------------------------------------------ predict */

size_t kreg_scratch_size(const kreg_model *model)
{
    return model->D;
}

rpr_status kreg_predict(const kreg_model *md, const double *x, const double *J,
                        double *energy, double *grad, double *scratch,
                        rpr_error *err)
{
    const size_t N = md->n, D = md->D, c = md->ncoord;
    const double is2 = 1.0 / (md->sigma * md->sigma), inv2s2 = 0.5 * is2;
    double *g = grad != NULL ? scratch : NULL; /* dE/dx [D] */
    double e = 0.0;

    if (g != NULL)
        memset(g, 0, D * sizeof *g);
    for (size_t j = 0; j < N; j++) {
        const double *xj = md->X + j * D;
        const double *qj = md->q != NULL ? md->q + j * D : NULL;
        double s = 0.0, vq = 0.0;
        for (size_t k = 0; k < D; k++) {
            const double v = x[k] - xj[k];
            s += v * v;
        }
        if (qj != NULL)
            for (size_t k = 0; k < D; k++)
                vq += (x[k] - xj[k]) * qj[k];
        const double kj = exp(-s * inv2s2);
        e += kj * (md->alpha[j] + vq * is2);
        if (g == NULL || kj == 0.0)
            continue;
        /* dE/dx = (k/sigma^2) [alpha (x_j - x) + q_j - v (v.q_j)/sigma^2] */
        const double ca = kj * is2, cv = -ca * (md->alpha[j] + vq * is2);
        for (size_t k = 0; k < D; k++)
            g[k] += cv * (x[k] - xj[k]);
        if (qj != NULL)
            for (size_t k = 0; k < D; k++)
                g[k] += ca * qj[k];
    }
    *energy = md->prior + e;
    int finite = isfinite(*energy);
    if (g != NULL) {
        cblas_dgemv(CblasRowMajor, CblasTrans, (int) D, (int) c, 1.0, J,
                    (int) c, g, 1, 0.0, grad, 1);
        finite = finite && kreg_first_nonfinite(c, grad) == c;
    }
    if (!finite)
        return RPR_FAIL(err, RPR_ENONFINITE,
                        "kreg: predicted energy or gradient is not finite "
                        "(NaN or Inf in the descriptor?)");
    return RPR_OK;
}

/* ------------------------------------------------------------ search */

void kreg_search_options_default(kreg_search_options *o)
{
    memset(o, 0, sizeof *o);
    o->criterion = KREG_SELECT_AUTO;
    o->validation_fraction = 0.2;
    o->max_dim = 2500;
    o->max_validation = 1000;
    o->seed = 1;
    o->nlg_sigma = 6;
    o->nlg_lambda = 6;
    o->lg_depth = 3;
    o->lg_sigma_lo = 2.0;
    o->lg_sigma_hi = 9.0;
    o->lg_lambda_lo = -35.0;
    o->lg_lambda_hi = -6.0;
    o->nlg_ratio = 1;
    o->lg_ratio_lo = 0.0;
    o->lg_ratio_hi = 0.0;
    o->max_bytes = 0;
    o->progress = NULL;
    o->progress_ctx = NULL;
}

/* splitmix64 (Steele, Lea, Flood 2014): reproducible draws for a seed. */
static uint64_t kreg_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Everything one grid point needs; the sub-training system is built once
 * per sigma into A0 and factorised in the copy W. */
typedef struct kreg_search_state {
    const kreg_data *d;
    const kreg_search_options *o;
    kreg_criterion crit;
    double prior;
    kreg_data sub; /* gathered sub-training set (arrays below) */
    double *Xs, *Js, *Es, *Gs;
    unsigned char *ps;
    const size_t *val; /* validation geometries (indices into d) */
    size_t nval;
    size_t m;
    double *A0, *W, *y, *sol;
    kreg_model tm; /* model of the sub-training set, arrays owned here */
    double *scratch, *gp;
    size_t nfits;
} kreg_search_state;

/* One grid point: factorise, solve, predict the validation set.  Returns
 * the selection error, +Inf where the system is not positive definite. */
static double kreg_search_eval(kreg_search_state *s, double sigma,
                               double lambda, double lambda_grad, double *rE,
                               double *rG)
{
    const kreg_data *d = s->d;
    const size_t m = s->m, N = s->sub.n, c = d->ncoord, D = d->D;
    for (size_t r = 0; r < m; r++) {
        memcpy(s->W + r * m + r, s->A0 + r * m + r, (m - r) * sizeof *s->W);
        s->W[r * m + r] += r < N ? lambda : lambda_grad;
    }
    s->nfits++;
    *rE = *rG = INFINITY;
    if (kreg_cholesky(m, s->W) != 0)
        return INFINITY;
    memcpy(s->sol, s->y, m * sizeof *s->sol);
    LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', (lapack_int) m, 1, s->W,
                   (lapack_int) m, s->sol, (lapack_int) m);
    if (kreg_first_nonfinite(m, s->sol) < m)
        return INFINITY;
    s->tm.sigma = sigma;
    kreg_finish(&s->sub, s->sol, &s->tm);

    double sse = 0.0, sseg = 0.0;
    size_t ngv = 0;
    for (size_t k = 0; k < s->nval; k++) {
        const size_t v = s->val[k];
        const int hg = kreg_has_grad(d, v);
        double e;
        if (kreg_predict(&s->tm, d->X + v * D, hg ? d->J + v * D * c : NULL, &e,
                         hg ? s->gp : NULL, s->scratch, NULL) != RPR_OK)
            return INFINITY;
        sse += (e - d->E[v]) * (e - d->E[v]);
        if (!hg)
            continue;
        for (size_t a = 0; a < c; a++)
            sseg += (s->gp[a] - d->G[v * c + a]) * (s->gp[a] - d->G[v * c + a]);
        ngv++;
    }
    *rE = sqrt(sse / (double) s->nval);
    *rG = ngv > 0 ? sqrt(sseg / (double) (ngv * c)) : NAN;
    double e = NAN;
    switch (s->crit) {
    case KREG_SELECT_ENERGY: e = *rE; break;
    case KREG_SELECT_GRADIENT: e = *rG; break;
    case KREG_SELECT_GEOMEAN: e = sqrt(*rE * *rG); break;
    case KREG_SELECT_AUTO: e = NAN; break; /* resolved before the search */
    }
    return isfinite(e) ? e : INFINITY;
}

/* Outcome of a grid point or of a search over some of its coordinates. */
typedef struct kreg_result {
    double err, rE, rG;
    double lg_sigma, lg_lambda, lg_ratio;
} kreg_result;

/*
 * Nested log2 grids as MLatom's optLog2Grid: n points from lo to hi, then
 * depth - 1 refinements to [best - step, best + step].  The first strict
 * minimum wins.  Unlike MLatom, which keeps the deepest level's best even
 * when an earlier level found a lower error, the best of all levels is
 * kept: it cannot be worse on the validation set.
 */
static double kreg_grid_step(int n, double lo, double hi)
{
    return n > 1 ? (hi - lo) / (n - 1) : 0.0;
}

/* The lambda search for the sigma whose kernel is in s->A0 and one ratio
 * lambda_grad / lambda = 2^lg_ratio; restarted from the full range for
 * every sigma and ratio, as MLatom does. */
static kreg_result kreg_search_lambda(kreg_search_state *s, double lg_sigma,
                                      double lg_ratio)
{
    const kreg_search_options *o = s->o;
    const int n = o->nlg_lambda, levels = n > 1 ? o->lg_depth : 1;
    kreg_result best = {INFINITY, NAN, NAN, lg_sigma, NAN, lg_ratio};
    double lo = o->lg_lambda_lo, hi = o->lg_lambda_hi;

    for (int lev = 0; lev < levels; lev++) {
        const double step = kreg_grid_step(n, lo, hi);
        for (int k = 0; k < n; k++) {
            const double lg = lo + k * step, lambda = exp2(lg);
            double rE, rG;
            const double e = kreg_search_eval(
                s, exp2(lg_sigma), lambda, lambda * exp2(lg_ratio), &rE, &rG);
            if (e < best.err)
                best = (kreg_result){e, rE, rG, lg_sigma, lg, lg_ratio};
        }
        if (!isfinite(best.err))
            break;
        lo = best.lg_lambda - step;
        hi = best.lg_lambda + step;
    }
    return best;
}

/* Build the sub-training kernel for one sigma, then search the ratios
 * (a plain grid) and, for each, lambda. */
static rpr_status kreg_search_sigma(kreg_search_state *s, double lg_sigma,
                                    kreg_result *best, rpr_error *err)
{
    const kreg_search_options *o = s->o;
    const kreg_params hp = {exp2(lg_sigma), 0.0, 0.0, s->prior, 0};
    const rpr_status st = kreg_build(&s->sub, &hp, s->A0, s->y, err);
    if (st != RPR_OK)
        return st;
    *best = (kreg_result){INFINITY, NAN, NAN, lg_sigma, NAN, NAN};
    const double step =
        kreg_grid_step(o->nlg_ratio, o->lg_ratio_lo, o->lg_ratio_hi);
    for (int r = 0; r < o->nlg_ratio; r++) {
        const kreg_result res =
            kreg_search_lambda(s, lg_sigma, o->lg_ratio_lo + r * step);
        if (res.err < best->err)
            *best = res;
    }
    return RPR_OK;
}

static rpr_status kreg_search_check(const kreg_search_options *o,
                                    rpr_error *err)
{
    const double b[6] = {o->lg_sigma_lo,  o->lg_sigma_hi, o->lg_lambda_lo,
                         o->lg_lambda_hi, o->lg_ratio_lo, o->lg_ratio_hi};
    for (size_t k = 0; k < 6; k++)
        if (!isfinite(b[k]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "kreg search: non-finite log2 grid bound %g", b[k]);
    if (!(o->validation_fraction > 0.0 && o->validation_fraction < 1.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg search: validation fraction must be in (0, 1) "
                        "(got %g)",
                        o->validation_fraction);
    if (o->nlg_sigma < 1 || o->nlg_lambda < 1 || o->nlg_ratio < 1 ||
        o->lg_depth < 1)
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg search: grid sizes and depth must be >= 1 (got "
                        "sigma %d, lambda %d, ratio %d, depth %d)",
                        o->nlg_sigma, o->nlg_lambda, o->nlg_ratio, o->lg_depth);
    if (o->lg_sigma_lo > o->lg_sigma_hi || o->lg_lambda_lo > o->lg_lambda_hi ||
        o->lg_ratio_lo > o->lg_ratio_hi)
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg search: a log2 grid has lo > hi");
    if (o->criterion < KREG_SELECT_AUTO || o->criterion > KREG_SELECT_GEOMEAN)
        return RPR_FAIL(err, RPR_EINVAL, "kreg search: unknown criterion %d",
                        (int) o->criterion);
    return RPR_OK;
}

static void kreg_reverse(size_t *a, size_t n)
{
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        const size_t t = a[i];
        a[i] = a[j - 1];
        a[j - 1] = t;
    }
}

/*
 * Draw the search set: a seeded random permutation whose first nsub
 * geometries train and the next nval validate.  The subset is the
 * largest whose sub-training part (1 - validation_fraction of it) has a
 * system dimension <= max_dim; its held-out part validates, and so do the
 * geometries outside the subset, up to max_validation in all.
 */
static rpr_status kreg_search_split(const kreg_data *d,
                                    const kreg_search_options *o, size_t *perm,
                                    size_t *nval, size_t *nsub, rpr_error *err)
{
    const size_t N = d->n;
    uint64_t state = o->seed;
    size_t *pre = NULL;

    for (size_t i = 0; i < N; i++)
        perm[i] = i;
    for (size_t i = N; i-- > 1;) { /* Fisher-Yates */
        const size_t j = (size_t) (kreg_rng_next(&state) % (uint64_t) (i + 1));
        const size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    pre = malloc((N + 1) * sizeof *pre);
    if (pre == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "kreg search: out of memory");
    pre[0] = 0;
    for (size_t i = 0; i < N; i++)
        pre[i + 1] = pre[i] + 1 + (kreg_has_grad(d, perm[i]) ? d->ncoord : 0);
    *nval = *nsub = 0;
    for (size_t ns = 2; ns <= N; ns++) {
        size_t nv = (size_t) lround(o->validation_fraction * (double) ns);
        nv = nv < 1 ? 1 : nv > ns - 1 ? ns - 1 : nv;
        if (pre[ns] - pre[nv] <= o->max_dim) {
            *nval = nv;
            *nsub = ns - nv;
        }
    }
    free(pre);
    if (*nsub == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "kreg search: needs at least 2 geometries and a "
                        "search dimension (max_dim, rpr train "
                        "--kreg-search-dim) >= %zu, one geometry with "
                        "gradients; got %zu geometries, dimension %zu",
                        1 + d->ncoord, N, o->max_dim);
    /* Sub-training first, then the held-out share, then the rest: rotate
     * the first nval + nsub entries left by nval (three reversals). */
    kreg_reverse(perm, *nval);
    kreg_reverse(perm + *nval, *nsub);
    kreg_reverse(perm, *nval + *nsub);
    const size_t rest = N - *nsub, cap = o->max_validation;
    *nval = cap == 0 || cap >= rest ? rest : cap > *nval ? cap : *nval;
    return RPR_OK;
}

static void kreg_search_free(kreg_search_state *s)
{
    free(s->Xs);
    free(s->Js);
    free(s->Es);
    free(s->Gs);
    free(s->ps);
    free(s->A0);
    free(s->W);
    free(s->y);
    free(s->sol);
    free(s->tm.alpha);
    free(s->tm.q);
    free(s->scratch);
    free(s->gp);
}

/* Copy the sub-training geometries into contiguous arrays. */
static rpr_status kreg_search_gather(kreg_search_state *s, const size_t *idx,
                                     size_t nsub, rpr_error *err)
{
    const kreg_data *d = s->d;
    const size_t D = d->D, c = d->ncoord;
    size_t ng = 0;
    for (size_t k = 0; k < nsub; k++)
        ng += kreg_has_grad(d, idx[k]) ? 1 : 0;
    s->Xs = malloc(nsub * D * sizeof *s->Xs);
    s->Es = malloc(nsub * sizeof *s->Es);
    s->tm.alpha = malloc(nsub * sizeof *s->tm.alpha);
    s->scratch = malloc(D * sizeof *s->scratch);
    s->gp = malloc(c * sizeof *s->gp);
    if (ng > 0) {
        s->Js = calloc(nsub * D * c, sizeof *s->Js);
        s->Gs = calloc(nsub * c, sizeof *s->Gs);
        s->ps = calloc(nsub, 1);
        s->tm.q = malloc(nsub * D * sizeof *s->tm.q);
    }
    if (s->Xs == NULL || s->Es == NULL || s->tm.alpha == NULL ||
        s->scratch == NULL || s->gp == NULL ||
        (ng > 0 &&
         (s->Js == NULL || s->Gs == NULL || s->ps == NULL || s->tm.q == NULL)))
        return RPR_FAIL(err, RPR_ENOMEM, "kreg search: out of memory");
    for (size_t k = 0; k < nsub; k++) {
        const size_t i = idx[k];
        memcpy(s->Xs + k * D, d->X + i * D, D * sizeof *s->Xs);
        s->Es[k] = d->E[i];
        if (!kreg_has_grad(d, i))
            continue;
        memcpy(s->Js + k * D * c, d->J + i * D * c, D * c * sizeof *s->Js);
        memcpy(s->Gs + k * c, d->G + i * c, c * sizeof *s->Gs);
        s->ps[k] = 1;
    }
    s->sub = (kreg_data){nsub,  D,     c,     s->Xs,         s->Js,
                         s->Es, s->Gs, s->ps, d->length_unit};
    s->tm.n = nsub;
    s->tm.D = D;
    s->tm.ncoord = c;
    s->tm.X = s->Xs;
    s->tm.prior = s->prior;
    s->tm.lambda = s->tm.lambda_grad = 0.0;
    s->tm.length_unit = d->length_unit;
    return RPR_OK;
}

rpr_status kreg_search(const kreg_data *d, double prior,
                       const kreg_search_options *o, kreg_choice *choice,
                       rpr_error *err)
{
    kreg_search_state s;
    size_t *perm = NULL, nval = 0, nsub = 0, bytes = 0;
    rpr_status st;

    memset(&s, 0, sizeof s);
    memset(choice, 0, sizeof *choice);
    st = kreg_check_shape(d, err);
    if (st == RPR_OK)
        st = kreg_search_check(o, err);
    if (st == RPR_OK && !isfinite(prior))
        st = RPR_FAIL(err, RPR_ENONFINITE, "kreg search: prior is %g", prior);
    if (st == RPR_OK)
        st = kreg_check_values(d, err);
    if (st != RPR_OK)
        return st;
    s.d = d;
    s.o = o;
    s.prior = prior;
    s.crit = o->criterion;
    if (s.crit == KREG_SELECT_AUTO)
        s.crit =
            kreg_count_grad(d) > 0 ? KREG_SELECT_GRADIENT : KREG_SELECT_ENERGY;

    perm = malloc(d->n * sizeof *perm);
    if (perm == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "kreg search: out of memory");
        goto cleanup;
    }
    st = kreg_search_split(d, o, perm, &nval, &nsub, err);
    if (st != RPR_OK)
        goto cleanup;
    s.val = perm + nsub;
    s.nval = nval;
    if (s.crit != KREG_SELECT_ENERGY) {
        size_t ngv = 0;
        for (size_t k = 0; k < nval; k++)
            ngv += kreg_has_grad(d, s.val[k]) ? 1 : 0;
        if (ngv == 0) {
            st = RPR_FAIL(err, RPR_EINVAL,
                          "kreg search: the gradient criterion needs "
                          "validation geometries with gradients (none among "
                          "%zu)",
                          nval);
            goto cleanup;
        }
    }
    st = kreg_search_gather(&s, perm, nsub, err);
    if (st != RPR_OK)
        goto cleanup;
    st = kreg_system_size(&s.sub, &s.m, &bytes, err);
    if (st == RPR_OK && bytes > SIZE_MAX / 2)
        st = RPR_FAIL(err, RPR_ENOMEM, "kreg search: system too large");
    if (st == RPR_OK)
        st = kreg_check_memory(s.m, 2 * bytes, o->max_bytes, err);
    if (st != RPR_OK)
        goto cleanup;
    s.A0 = malloc(bytes);
    s.W = malloc(bytes);
    s.y = malloc(s.m * sizeof *s.y);
    s.sol = malloc(s.m * sizeof *s.sol);
    if (s.A0 == NULL || s.W == NULL || s.y == NULL || s.sol == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM,
                      "kreg search: cannot allocate two %zu x %zu systems "
                      "(%.3g GiB)",
                      s.m, s.m, 2.0 * (double) bytes / KREG_GIB);
        goto cleanup;
    }

    /* Sigma: nested grid around the overall best (see kreg_grid_step). */
    const int n = o->nlg_sigma, levels = n > 1 ? o->lg_depth : 1;
    const double total = (double) n * levels;
    kreg_result best = {INFINITY, NAN, NAN, NAN, NAN, NAN};
    double lo = o->lg_sigma_lo, hi = o->lg_sigma_hi;
    for (int lev = 0; lev < levels; lev++) {
        const double step = kreg_grid_step(n, lo, hi);
        for (int i = 0; i < n; i++) {
            kreg_result res;
            st = kreg_search_sigma(&s, lo + i * step, &res, err);
            if (st != RPR_OK)
                goto cleanup;
            if (res.err < best.err)
                best = res;
            if (o->progress != NULL)
                o->progress(o->progress_ctx, (lev * n + i + 1) / total,
                            "kreg hyperparameter search");
        }
        if (!isfinite(best.err))
            break;
        lo = best.lg_sigma - step;
        hi = best.lg_sigma + step;
    }
    if (!isfinite(best.err)) {
        st = RPR_FAIL(err, RPR_ENOTPD,
                      "kreg search: no grid point gave a positive definite "
                      "system with a finite validation error; raise "
                      "lg_lambda_lo (now %g)",
                      o->lg_lambda_lo);
        goto cleanup;
    }
    choice->params.sigma = exp2(best.lg_sigma);
    choice->params.lambda = exp2(best.lg_lambda);
    choice->params.lambda_grad =
        exp2(best.lg_lambda) * exp2(best.lg_ratio); /* as evaluated */
    choice->params.prior = prior;
    choice->params.max_bytes = o->max_bytes;
    choice->error = best.err;
    choice->rmse_energy = best.rE;
    choice->rmse_grad = best.rG;
    choice->nsub = nsub;
    choice->nval = nval;
    choice->nfits = s.nfits;
cleanup:
    kreg_search_free(&s);
    free(perm);
    return st;
}
