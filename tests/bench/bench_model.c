/*
 * bench_model.c - costs of the model module on the DCE reference data
 * (run by "make bench" from the build directory; needs dce/):
 *   1. training of the dipole (3) and polarizability (6) models on 1000
 *      geometries with the full sigma/lambda search (MLatom's default
 *      grid), per frame convention; budget 10 s for the 9 components;
 *   2. prediction of one geometry, all 9 components, models loaded:
 *      budget 50 us;
 *   3. loading 1000-point models: XML (parse + schema + read) and the
 *      binary cache, and the three models rpr-nx loads every MD step.
 * Wall and CPU times are printed: on a shared machine the CPU time is the
 * one to compare with a budget.  No assertion on time (STYLE.md).
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rpr.h"

static double bench_wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static double bench_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static void bench_die(const char *what, const rpr_error *err)
{
    fprintf(stderr, "bench_model: %s: %s\n", what, err->message);
    exit(99);
}

enum { NTRAIN = 1000 };

static rpr_model *bench_train(const rpr_geoms *train, const double *values,
                              rpr_property property, rpr_frame_kind frame,
                              double sigma, double lambda, double *wall,
                              double *cpu)
{
    rpr_train_options opt;
    rpr_error err;
    rpr_model *m = NULL;
    rpr_train_options_default(&opt);
    opt.property = property;
    opt.frame = frame;
    opt.sigma = sigma;
    opt.lambda = lambda;
    const double w0 = bench_wall(), c0 = bench_cpu();
    if (rpr_train(&opt, train, values, NULL, NULL, &m, &err) != RPR_OK)
        bench_die("rpr_train", &err);
    *wall = bench_wall() - w0;
    *cpu = bench_cpu() - c0;
    return m;
}

int main(void)
{
    static const char *const frames[] = {"principal", "kabsch", "none"};
    static const rpr_frame_kind kinds[] = {RPR_FRAME_PRINCIPAL,
                                           RPR_FRAME_KABSCH, RPR_FRAME_NONE};
    rpr_error err;
    rpr_geoms *all = NULL, *train = NULL;
    double *mu = NULL, *alpha = NULL, *energy = NULL;

    rpr_set_num_threads(1);
    if (rpr_geoms_read_xyz("dce/geoms.xyz", &all, &err) != RPR_OK)
        bench_die("dce/geoms.xyz (make check unpacks it)", &err);
    const size_t n = rpr_geoms_nframes(all), natoms = rpr_geoms_natoms(all);
    if (rpr_table_read("dce/dipoles.dat", n, 3, &mu, &err) != RPR_OK ||
        rpr_table_read("dce/polarizabilities.dat", n, 6, &alpha, &err) !=
            RPR_OK ||
        rpr_table_read("dce/energies.dat", n, 1, &energy, &err) != RPR_OK)
        bench_die("reference data", &err);
    if (rpr_geoms_new(natoms, NTRAIN, rpr_geoms_numbers(all),
                      rpr_geoms_xyz(all), rpr_geoms_masses(all), &train,
                      &err) != RPR_OK)
        bench_die("rpr_geoms_new", &err);
    const size_t ntest = n - NTRAIN;
    const double *const xyz_test = rpr_geoms_xyz(all) + NTRAIN * 3 * natoms;
    printf("bench_model: %zu training, %zu held-out DCE geometries, 1 BLAS "
           "thread\n",
           (size_t) NTRAIN, ntest);

    for (size_t f = 0; f < sizeof kinds / sizeof *kinds; f++) {
        double w1, c1, w2, c2;
        rpr_model *md = bench_train(train, mu, RPR_PROPERTY_DIPOLE, kinds[f],
                                    -1.0, -1.0, &w1, &c1);
        rpr_model *mp = bench_train(train, alpha, RPR_PROPERTY_POLARIZABILITY,
                                    kinds[f], -1.0, -1.0, &w2, &c2);
        printf("train %-9s dipole %.2f s, polarizability %.2f s: 9 "
               "components %.2f s wall, %.2f s CPU (budget 10 s)\n",
               frames[f], w1, w2, w1 + w2, c1 + c2);

        /* Prediction: every held-out geometry, repeated, both models. */
        rpr_workspace *wd = rpr_workspace_new(md), *wp = rpr_workspace_new(mp);
        if (wd == NULL || wp == NULL) {
            fprintf(stderr, "bench_model: out of memory\n");
            return 99;
        }
        const int reps = 20;
        double sink = 0.0, se_d = 0.0, se_p = 0.0;
        const double w0 = bench_wall(), c0 = bench_cpu();
        for (int r = 0; r < reps; r++)
            for (size_t i = 0; i < ntest; i++) {
                double yd[3], yp[6];
                if (rpr_predict(md, wd, natoms, NULL, xyz_test + i * 3 * natoms,
                                yd, NULL, NULL, &err) != RPR_OK ||
                    rpr_predict(mp, wp, natoms, NULL, xyz_test + i * 3 * natoms,
                                yp, NULL, NULL, &err) != RPR_OK)
                    bench_die("rpr_predict", &err);
                sink += yd[0] + yp[0];
                if (r == 0) {
                    for (int c = 0; c < 3; c++) {
                        const double d = yd[c] - mu[(NTRAIN + i) * 3 + c];
                        se_d += d * d;
                    }
                    for (int c = 0; c < 6; c++) {
                        const double d = yp[c] - alpha[(NTRAIN + i) * 6 + c];
                        se_p += d * d;
                    }
                }
            }
        const double per = (double) reps * (double) ntest;
        printf("predict %-9s 9 components: %.1f us wall, %.1f us CPU per "
               "geometry (budget 50 us); held-out RMSE dipole %.4g e*bohr, "
               "polarizability %.4g bohr^3 (%g)\n",
               frames[f], 1e6 * (bench_wall() - w0) / per,
               1e6 * (bench_cpu() - c0) / per,
               sqrt(se_d / (3.0 * (double) ntest)),
               sqrt(se_p / (6.0 * (double) ntest)), sink * 0.0);
        rpr_workspace_free(wd);
        rpr_workspace_free(wp);

        if (kinds[f] == RPR_FRAME_PRINCIPAL) {
            /* Load times, 1000 training points: XML and cache, and the
             * three models of an rpr-nx step (energy: RE, fixed sigma and
             * lambda; the cost of loading does not depend on them). */
            double we, ce;
            rpr_model *me = bench_train(train, energy, RPR_PROPERTY_ENERGY,
                                        RPR_FRAME_NONE, 2.385, 1e-8, &we, &ce);
            char dir[] = "bench-model.XXXXXX";
            if (mkdtemp(dir) == NULL) {
                perror("bench_model: mkdtemp");
                return 99;
            }
            char path[3][64], cache[3][64];
            rpr_model *const ms[3] = {md, mp, me};
            for (int k = 0; k < 3; k++) {
                snprintf(path[k], sizeof path[k], "%s/m%d.xml", dir, k);
                snprintf(cache[k], sizeof cache[k], "%s/m%d.cache", dir, k);
                if (rpr_model_save(ms[k], path[k], &err) != RPR_OK)
                    bench_die("rpr_model_save", &err);
            }
            const int nl = 10;
            double wx = bench_wall(), cx = bench_cpu();
            for (int r = 0; r < nl; r++) {
                rpr_model *m = NULL;
                if (rpr_model_load(path[1], &m, &err) != RPR_OK)
                    bench_die("rpr_model_load", &err);
                rpr_model_free(m);
            }
            printf("load XML   polarizability, 1000 points: %.2f ms wall, "
                   "%.2f ms CPU\n",
                   1e3 * (bench_wall() - wx) / nl,
                   1e3 * (bench_cpu() - cx) / nl);
            for (int k = 0; k < 3; k++) { /* writes the caches */
                rpr_model *m = NULL;
                if (rpr_model_load_cached(path[k], cache[k], &m, &err) !=
                    RPR_OK)
                    bench_die("rpr_model_load_cached", &err);
                rpr_model_free(m);
            }
            const int nc = 200;
            wx = bench_wall();
            cx = bench_cpu();
            for (int r = 0; r < nc; r++) {
                rpr_model *m = NULL;
                if (rpr_model_load_cached(path[1], cache[1], &m, &err) !=
                    RPR_OK)
                    bench_die("rpr_model_load_cached", &err);
                rpr_model_free(m);
            }
            printf("load cache polarizability, 1000 points: %.3f ms wall, "
                   "%.3f ms CPU\n",
                   1e3 * (bench_wall() - wx) / nc,
                   1e3 * (bench_cpu() - cx) / nc);
            wx = bench_wall();
            cx = bench_cpu();
            for (int r = 0; r < nc; r++)
                for (int k = 0; k < 3; k++) {
                    rpr_model *m = NULL;
                    if (rpr_model_load_cached(path[k], cache[k], &m, &err) !=
                        RPR_OK)
                        bench_die("rpr_model_load_cached", &err);
                    rpr_model_free(m);
                }
            printf("load cache energy + dipole + polarizability (an rpr-nx "
                   "step): %.3f ms wall, %.3f ms CPU (budget ~1 ms)\n",
                   1e3 * (bench_wall() - wx) / nc,
                   1e3 * (bench_cpu() - cx) / nc);
            for (int k = 0; k < 3; k++) {
                unlink(path[k]);
                unlink(cache[k]);
            }
            rmdir(dir);
            rpr_model_free(me);
        }
        rpr_model_free(md);
        rpr_model_free(mp);
    }
    rpr_geoms_free(all);
    rpr_geoms_free(train);
    rpr_free(mu);
    rpr_free(alpha);
    rpr_free(energy);
    return 0;
}
