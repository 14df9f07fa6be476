/*
 * bench_krr.c - time of the sigma/lambda search (krr_search) for the 9
 * components of dipole + polarizability on 1000 DCE geometries with the RE
 * descriptor (D = 28), against the bare LAPACK baselines of one 800 x 800
 * kernel matrix: a Cholesky factorisation (what MLatom pays per grid point,
 * 324 per component) and an eigendecomposition (what krr_search pays per
 * sigma).  Target: <= 10 s for the 9 components on the 2-core machine.
 *
 * Run from the build directory (make bench); reads dce/geoms.xyz,
 * dce/dipoles.dat and dce/polarizabilities.dat (labels rotated into the
 * principal-axes frame), or uses synthetic
 * descriptors of the same shape if they are absent or with --synthetic.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lapacke.h>

#include "../testutil.h"
#include "descriptor.h"
#include "frame.h"
#include "kernel.h"
#include "krr.h"

enum { NGEO = 1000, NCOMP = 9, NREP = 3 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

/* CPU time of the process: on a shared machine a fairer measure than wall
 * time for the single-threaded runs. */
static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "bench_krr: out of memory\n");
        exit(99);
    }
    return p;
}

/* RE descriptors [NGEO][28] and labels [NGEO][9] (dipole, polarizability)
 * of the first NGEO DCE geometries; 0 if the files are missing. */
static int load_dce(double **X, size_t *D, double *Y)
{
    rpr_geoms *g = NULL;
    double *mu = NULL, *al = NULL;
    rpr_error err;
    FILE *f = fopen("dce/geoms.xyz", "r");
    if (f == NULL)
        return 0;
    fclose(f);
    if (rpr_geoms_read_xyz("dce/geoms.xyz", &g, &err) != RPR_OK ||
        rpr_table_read("dce/dipoles.dat", rpr_geoms_nframes(g), 3, &mu, &err) !=
            RPR_OK ||
        rpr_table_read("dce/polarizabilities.dat", rpr_geoms_nframes(g), 6, &al,
                       &err) != RPR_OK) {
        fprintf(stderr, "bench_krr: %s\n", err.message);
        exit(99);
    }
    const size_t na = rpr_geoms_natoms(g);
    if (rpr_geoms_nframes(g) < NGEO) {
        fprintf(stderr, "bench_krr: need %d geometries\n", NGEO);
        exit(99);
    }
    /* RE on coordinates in angstrom, the first geometry as equilibrium. */
    double *xyz = xmalloc(NGEO * na * 3 * sizeof(double));
    const double *b = rpr_geoms_xyz(g);
    for (size_t i = 0; i < NGEO * na * 3; i++)
        xyz[i] = b[i] * RPR_ANGSTROM_PER_BOHR;
    const descriptor_info *re = descriptor_find("RE");
    descriptor_params p;
    memset(&p, 0, sizeof p);
    p.natoms = na;
    p.numbers = rpr_geoms_numbers(g);
    p.xyz_eq = xyz;
    *D = re->length(&p);
    *X = xmalloc(NGEO * *D * sizeof(double));
    for (size_t k = 0; k < NGEO; k++)
        if (re->eval(&p, xyz + k * na * 3, *X + k * *D, NULL, &err) != RPR_OK) {
            fprintf(stderr, "bench_krr: geometry %zu: %s\n", k + 1,
                    err.message);
            exit(99);
        }
    /* Labels in the principal-axes frame, as the model learns them (in the
     * lab frame the geometries are randomly rotated, and an invariant
     * descriptor cannot learn the components). */
    rpr_frame_options fo;
    rpr_frame_options_default(&fo);
    double *wt = xmalloc(na * sizeof(double));
    frame_weights(fo.weighting, na, rpr_geoms_numbers(g), rpr_geoms_masses(g),
                  wt);
    for (size_t k = 0; k < NGEO; k++) {
        double Q[9], origin[3];
        rpr_frame_health h;
        if (frame_principal(na, wt, b + k * na * 3, &fo, Q, origin, &h, &err) !=
            RPR_OK) {
            fprintf(stderr, "bench_krr: geometry %zu: %s\n", k + 1,
                    err.message);
            exit(99);
        }
        frame_vector_from_lab(Q, mu + 3 * k, Y + k * NCOMP);
        frame_tensor_from_lab(Q, al + 6 * k, Y + k * NCOMP + 3);
    }
    free(wt);
    free(xyz);
    rpr_free(mu);
    rpr_free(al);
    rpr_geoms_free(g);
    return 1;
}

/* Same shape: components near 1 with a spread like RE's, smooth labels. */
static void synthetic(double **X, size_t *D, double *Y)
{
    test_rng r = {2024};
    *D = 28;
    *X = xmalloc(NGEO * *D * sizeof(double));
    for (size_t i = 0; i < NGEO * *D; i++)
        (*X)[i] = 1.0 + 0.08 * test_rng_normal(&r);
    for (size_t k = 0; k < NGEO; k++)
        for (size_t c = 0; c < NCOMP; c++) {
            const double *x = *X + k * *D;
            Y[k * NCOMP + c] = sin(3.0 * x[c] + x[c + 1]) + x[c + 2] * x[c + 3];
        }
}

/* One progress report per sigma evaluated, and a final one at 1. */
static int nreport;
static void count(void *ctx, double fraction, const char *what)
{
    (void) ctx;
    (void) fraction;
    (void) what;
    nreport++;
}

int main(int argc, char **argv)
{
    double *X = NULL, *Y = xmalloc(NGEO * NCOMP * sizeof(double));
    size_t D = 0;
    const int want_synthetic = argc > 1 && strcmp(argv[1], "--synthetic") == 0;
    const int real = !want_synthetic && load_dce(&X, &D, Y);
    if (!real)
        synthetic(&X, &D, Y);
    /* Prior: the training mean of each component. */
    for (size_t c = 0; c < NCOMP; c++) {
        double m = 0.0;
        for (size_t k = 0; k < NGEO; k++)
            m += Y[k * NCOMP + c] / NGEO;
        for (size_t k = 0; k < NGEO; k++)
            Y[k * NCOMP + c] -= m;
    }
    printf("bench_krr: %d x %zu %s descriptors, %d components "
           "(dipole + polarizability), Gaussian kernel\n",
           NGEO, D, real ? "DCE RE" : "synthetic", NCOMP);

    /* Baselines on the 800 x 800 sub-training matrix at a mid-grid sigma. */
    const size_t ns = 800;
    const kernel_spec k = {KERNEL_GAUSSIAN, 0, exp2(5.5)};
    double *K = xmalloc(ns * ns * sizeof(double));
    double *A = xmalloc(ns * ns * sizeof(double)), w[800];
    double t_potrf = INFINITY, t_syevd = INFINITY;
    double c_potrf = INFINITY, c_syevd = INFINITY; /* CPU time */
    kernel_matrix_sym(&k, D, ns, X, K);
    for (int r = 0; r < NREP; r++) {
        memcpy(A, K, ns * ns * sizeof(double));
        for (size_t i = 0; i < ns; i++)
            A[i * ns + i] += 1e-3; /* only to keep dpotrf going */
        double t = now(), tc = cpu();
        const int i1 = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', ns, A, ns);
        t_potrf = fmin(t_potrf, now() - t);
        c_potrf = fmin(c_potrf, cpu() - tc);
        memcpy(A, K, ns * ns * sizeof(double));
        t = now();
        tc = cpu();
        const int i2 = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', ns, A, ns, w);
        t_syevd = fmin(t_syevd, now() - t);
        c_syevd = fmin(c_syevd, cpu() - tc);
        if (i1 != 0 || i2 != 0) {
            fprintf(stderr, "bench_krr: baseline failed (%d, %d)\n", i1, i2);
            return 99;
        }
    }
    printf("baseline 800 x 800 (best of %d): dpotrf %.4f s wall, %.4f s CPU; "
           "dsyevd %.4f s wall, %.4f s CPU (CPU ratio %.1f)\n",
           NREP, t_potrf, c_potrf, t_syevd, c_syevd, c_syevd / c_potrf);

    krr_search_options o;
    memset(&o, 0, sizeof o);
    /* The search as rpr_train runs it: with the admissibility rule. */
    o.rounding_tol = 1e-10;
    o.criterion = RPR_CRITERION_HOLDOUT;
    o.validation_fraction = 0.2;
    o.seed = 1;
    o.nlg_sigma = 6;
    o.nlg_lambda = 6;
    o.lg_depth = 3;
    o.lg_sigma_lo = NAN;
    o.lg_sigma_hi = NAN;
    o.lg_lambda_lo = -35;
    o.lg_lambda_hi = -6;
    o.progress = count;
    krr_choice ch[NCOMP];
    rpr_error err;
    const kernel_spec base = {KERNEL_GAUSSIAN, 0, 0.0};
    const rpr_criterion crit[2] = {RPR_CRITERION_HOLDOUT, RPR_CRITERION_LOO};
    const char *name[2] = {"hold-out 800/200", "leave-one-out 1000"};
    for (int threads = 1; threads <= 2; threads++) {
        rpr_set_num_threads(threads);
        for (int q = 0; q < 2; q++) {
            o.criterion = crit[q];
            nreport = 0;
            const double t = now(), tc = cpu();
            if (krr_search(&base, NGEO, D, X, NCOMP, Y, &o, ch, &err) !=
                RPR_OK) {
                fprintf(stderr, "bench_krr: %s\n", err.message);
                return 99;
            }
            const double dt = now() - t, dtc = cpu() - tc;
            printf("krr_search %s, %d BLAS thread(s): %.2f s wall, %.2f s "
                   "CPU for %d components, %d eigendecompositions (CPU = "
                   "%.0f dpotrf = %.1f dsyevd of 800^2); MLatom's 324 solves "
                   "x %d would be >= %.1f s CPU of dpotrf alone\n",
                   name[q], threads, dt, dtc, NCOMP, nreport - 1, dtc / c_potrf,
                   dtc / c_syevd, NCOMP, 324.0 * NCOMP * c_potrf);
            if (threads == 1)
                for (size_t c = 0; c < NCOMP; c++)
                    printf("  component %zu: sigma %-9.4g lambda %-9.3g "
                           "RMSE %-9.3g MAE %.3g\n",
                           c + 1, ch[c].sigma, ch[c].lambda, ch[c].rmse,
                           ch[c].mae);
        }
    }
    rpr_set_num_threads(1);
    free(K);
    free(A);
    free(X);
    free(Y);
    return 0;
}
