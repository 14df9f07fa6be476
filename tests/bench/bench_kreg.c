/*
 * bench_kreg.c - cost of the KREG potential on the DCE data (make bench).
 *
 * Usage: bench_kreg [N [sigma lambda]] [--search] [--threads T]
 *   N       training geometries with gradients (default 1000: a 25 000 x
 *           25 000 system, minutes of work and 10 GB at the peak of the
 *           bare-dpotrf comparison, which rebuilds the matrix after the
 *           fit is freed)
 *   sigma, lambda   fixed hyperparameters (defaults below), lambda_grad =
 *           lambda
 *   --search   also time kreg_search with its defaults and fit its choice
 *   --threads  BLAS threads for training (prediction always uses 1)
 *
 * Prints: matrix size; kernel build, dpotrf, dpotrs + q, total training
 * time; the bare LAPACKE_dpotrf time of the same matrix rebuilt in the
 * same run; their ratios; peak RSS against one matrix's bytes; median time
 * of one prediction (RE descriptor + energy + gradient) on held-out
 * geometries, single thread.  Reads dce/ in the build directory.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <lapacke.h>
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
#include <cblas.h>
#endif

#include "descriptor.h"
#include "kreg.h"

/* Fixed hyperparameters of the default run: kreg_search's choice on the
 * DCE data (tests/test_kreg, 200 training geometries: sigma 3.294,
 * lambda 2.93e-08), rounded. */
#define BENCH_SIGMA  3.3
#define BENCH_LAMBDA 3e-8

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static double peak_rss_bytes(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return 1024.0 * (double) u.ru_maxrss; /* Linux: kilobytes */
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static void progress(void *ctx, double f, const char *what)
{
    (void) ctx;
    fprintf(stderr, "\r%s: %3.0f%%", what, 100.0 * f);
    if (f >= 1.0)
        fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    size_t N = 1000;
    double sigma = BENCH_SIGMA, lambda = BENCH_LAMBDA;
    int search = 0, threads = 0, npos = 0;
    rpr_error err;
    rpr_geoms *geoms = NULL;
    double *E = NULL, *G = NULL;
    unsigned char *present = NULL;

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--search") == 0)
            search = 1;
        else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc)
            threads = atoi(argv[++a]);
        else if (npos == 0 && npos++ == 0)
            N = (size_t) strtoul(argv[a], NULL, 10);
        else if (npos == 1 && npos++ == 1)
            sigma = strtod(argv[a], NULL);
        else if (npos == 2 && npos++ == 2)
            lambda = strtod(argv[a], NULL);
        else {
            fprintf(stderr, "usage: bench_kreg [N [sigma lambda]] [--search] "
                            "[--threads T]\n");
            return 2;
        }
    }
    if (rpr_geoms_read_xyz("dce/geoms.xyz", &geoms, &err) != RPR_OK) {
        fprintf(stderr,
                "bench_kreg: %s (run make dce/geoms.xyz "
                "dce/energies.dat dce/gradients.dat)\n",
                err.message);
        return 99;
    }
    const size_t nf = rpr_geoms_nframes(geoms), na = rpr_geoms_natoms(geoms);
    const size_t c = 3 * na;
    if (rpr_table_read("dce/energies.dat", nf, 1, &E, &err) != RPR_OK ||
        rpr_gradients_read("dce/gradients.dat", nf, na, &G, &present, &err) !=
            RPR_OK) {
        fprintf(stderr, "bench_kreg: %s\n", err.message);
        return 99;
    }
    if (N == 0 || N >= nf) {
        fprintf(stderr, "bench_kreg: N must be in 1..%zu\n", nf - 1);
        return 2;
    }
    /* Angstrom coordinates; RE relative to the lowest training energy. */
    double *M = malloc(nf * c * sizeof *M);
    for (size_t k = 0; k < nf * c; k++)
        M[k] = rpr_geoms_xyz(geoms)[k] * RPR_ANGSTROM_PER_BOHR;
    size_t imin = 0;
    for (size_t i = 1; i < N; i++)
        if (E[i] < E[imin])
            imin = i;
    const descriptor_info *re = descriptor_find("RE");
    descriptor_params dp;
    memset(&dp, 0, sizeof dp);
    dp.natoms = na;
    dp.numbers = rpr_geoms_numbers(geoms);
    dp.xyz_eq = M + imin * c;
    const size_t D = re->length(&dp);
    double *X = malloc(nf * D * sizeof *X), *J = malloc(nf * D * c * sizeof *J);
    for (size_t i = 0; i < nf; i++)
        if (re->eval(&dp, M + i * c, X + i * D, J + i * D * c, &err) !=
            RPR_OK) {
            fprintf(stderr, "bench_kreg: geometry %zu: %s\n", i + 1,
                    err.message);
            return 99;
        }
    double prior = 0.0;
    for (size_t i = 0; i < N; i++)
        prior += E[i] / (double) N;
    const kreg_data data = {N, D, c, X, J, E, G, present, KREG_ANGSTROM};
    if (threads > 0)
        rpr_set_num_threads(threads);
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    threads = openblas_get_num_threads();
#endif

    kreg_params hp = {sigma, lambda, lambda, prior, 0};
    if (search) {
        kreg_search_options o;
        kreg_choice ch;
        kreg_search_options_default(&o);
        o.progress = progress;
        const double t0 = now();
        if (kreg_search(&data, prior, &o, &ch, &err) != RPR_OK) {
            fprintf(stderr, "bench_kreg: %s\n", err.message);
            return 1;
        }
        printf("search: %.1f s, %zu Cholesky fits on %zu + %zu geometries "
               "(max_dim %zu): sigma %.4g lambda %.3g lambda_grad %.3g, "
               "validation gradient RMSE %.3g hartree/A, energy RMSE %.3g "
               "hartree\n",
               now() - t0, ch.nfits, ch.nsub, ch.nval, o.max_dim,
               ch.params.sigma, ch.params.lambda, ch.params.lambda_grad,
               ch.error, ch.rmse_energy);
        hp = ch.params;
    }

    size_t m = 0, bytes = 0;
    if (kreg_system_size(&data, &m, &bytes, &err) != RPR_OK) {
        fprintf(stderr, "bench_kreg: %s\n", err.message);
        return 1;
    }
    const double rss0 = peak_rss_bytes();
    kreg_model *md = NULL;
    kreg_timing t;
    if (kreg_fit(&data, &hp, &md, &t, &err) != RPR_OK) {
        fprintf(stderr, "bench_kreg: %s\n", err.message);
        return 1;
    }
    const double rss = peak_rss_bytes();
    printf("N = %zu geometries with gradients, matrix %zu x %zu (%.2f GiB), "
           "sigma %.4g lambda %.3g, BLAS threads %d\n",
           N, m, m, (double) bytes / 1073741824.0, hp.sigma, hp.lambda,
           threads);
    printf("training: build %.3f s, dpotrf %.3f s, dpotrs + q %.3f s, total "
           "%.3f s\n",
           t.build, t.factor, t.solve, t.total);
    printf("peak RSS %.3f GiB before the fit, %.3f GiB after = %.3f x one "
           "matrix\n",
           rss0 / 1073741824.0, rss / 1073741824.0, rss / (double) bytes);

    /* Prediction: descriptor + energy + gradient, one thread, held-out
     * geometries, each timed alone; the median of many. */
    rpr_set_num_threads(1);
    const size_t nrep = 4000;
    double *times = malloc(nrep * sizeof *times),
           *tpred = malloc(nrep * sizeof *tpred);
    double *scratch = malloc(kreg_scratch_size(md) * sizeof *scratch);
    double *x = malloc(D * sizeof *x), *Jx = malloc(D * c * sizeof *Jx);
    double grad[3 * 64], e, sse = 0.0, sseg = 0.0, checksum = 0.0;
    size_t ng = 0;
    for (size_t r = 0; r < nrep; r++) {
        const size_t i = N + r % (nf - N);
        const double t0 = now();
        re->eval(&dp, M + i * c, x, Jx, NULL);
        const double t1 = now();
        kreg_predict(md, x, Jx, &e, grad, scratch, NULL);
        const double t2 = now();
        times[r] = t2 - t0;
        tpred[r] = t2 - t1;
        checksum += e;
        if (r < nf - N && present[i]) {
            sse += (e - E[i]) * (e - E[i]);
            for (size_t a = 0; a < c; a++)
                sseg += (grad[a] - G[i * c + a]) * (grad[a] - G[i * c + a]);
            ng++;
        }
    }
    qsort(times, nrep, sizeof *times, cmp_double);
    qsort(tpred, nrep, sizeof *tpred, cmp_double);
    printf("prediction (RE + energy + gradient), 1 thread: median %.1f us "
           "(kreg_predict alone %.1f us) over %zu calls\n",
           1e6 * times[nrep / 2], 1e6 * tpred[nrep / 2], nrep);
    printf("held-out: %zu geometries, energy RMSE %.3g hartree, gradient "
           "RMSE %.3g hartree/A (checksum %.6f)\n",
           ng, sqrt(sse / ng), sqrt(sseg / (ng * c)), checksum);
    kreg_model_free(md);

    /* The bare Cholesky of the same matrix, rebuilt now that the fit's
     * memory is free. */
    rpr_set_num_threads(threads);
    double *A = malloc(bytes), *y = malloc(m * sizeof *y);
    if (A == NULL || y == NULL ||
        kreg_build(&data, &hp, A, y, &err) != RPR_OK) {
        fprintf(stderr, "bench_kreg: cannot rebuild the matrix\n");
        return 1;
    }
    const double t0 = now();
    const int info = (int) LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int) m,
                                          A, (lapack_int) m);
    const double tpotrf = now() - t0;
    printf("bare LAPACKE_dpotrf of the same matrix: %.3f s (info %d)\n", tpotrf,
           info);
    printf("ratios: training / dpotrf = %.3f (target <= 1.25), build / "
           "dpotrf = %.3f (<= 0.20), peak RSS / matrix = %.3f (<= 1.1)\n",
           t.total / tpotrf, t.build / tpotrf, rss / (double) bytes);
    free(A);
    free(y);
    free(times);
    free(tpred);
    free(scratch);
    free(x);
    free(Jx);
    free(X);
    free(J);
    free(M);
    rpr_free(E);
    rpr_free(G);
    rpr_free(present);
    rpr_geoms_free(geoms);
    return 0;
}
