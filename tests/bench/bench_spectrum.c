/*
 * bench_spectrum.c - time `rpr spectrum` work on the target size:
 * 24 trajectories x 10 001 steps of rpr-nx property files -> IR and Raman
 * (read + compute each; target <= 1 s).
 *
 * The trajectories are synthetic anti-1,2-dichloroethane: classical normal
 * modes at the anti fundamentals divided by 0.9 (HF-like), canonical
 * energies and random phases per trajectory, IR-active modes (Au along the
 * C2 axis z, Bu in the xy plane) with dipole derivatives, Raman-active
 * modes (Ag: xx yy zz xy, Bg: xz yz) with polarizability derivatives, and
 * a rigid rotation at a thermal angular velocity.  Band strengths are made
 * up (plausible sizes, not data).  With "keep" the files stay for
 * plotting: rpr spectrum ir --scale 0.9 bench_spectrum.d/traj*.dat
 *
 * Usage: bench_spectrum [DIR] [NTRAJ] [NSTEPS] [keep]   (defaults
 * bench_spectrum.d 24 10001; the files are removed unless "keep")
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rpr.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct bench_mode {
    double nu;   /* experimental wavenumber, cm^-1 (Shimanouchi) */
    char sym[3]; /* Ag Bg Au Bu */
    double ir;   /* IR intensity, km/mol */
    double act;  /* Raman activity 45 a'^2 + 7 g'^2, A^4/amu */
    double iso;  /* share of the activity from 45 a'^2 (Ag) */
} bench_mode;

static const bench_mode bench_modes[] = {
    {2957, "Ag", 0, 120, 0.8}, {1445, "Ag", 0, 8, 0.4}, {1304, "Ag", 0, 6, 0.3},
    {1052, "Ag", 0, 5, 0.5},   {754, "Ag", 0, 20, 0.7}, {300, "Ag", 0, 4, 0.5},
    {3005, "Bg", 0, 60, 0},    {1264, "Bg", 0, 5, 0},   {989, "Bg", 0, 2, 0},
    {3005, "Au", 10, 0, 0},    {1123, "Au", 1, 0, 0},   {773, "Au", 2, 0, 0},
    {125, "Au", 1, 0, 0},      {2983, "Bu", 15, 0, 0},  {1461, "Bu", 10, 0, 0},
    {1232, "Bu", 30, 0, 0},    {728, "Bu", 60, 0, 0},   {222, "Bu", 3, 0, 0},
};
enum { BENCH_NMODES = sizeof bench_modes / sizeof *bench_modes };

static uint64_t bench_state = 0x243F6A8885A308D3ull;

static double bench_uniform(void)
{
    uint64_t z = (bench_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (double) ((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static double bench_normal(void)
{
    const double u1 = 1.0 - bench_uniform(), u2 = bench_uniform();
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* Rodrigues: R = rotation by angle about unit axis n, row-major. */
static void bench_rotation(const double n[3], double angle, double R[9])
{
    const double c = cos(angle), s = sin(angle), C = 1.0 - c;
    const double x = n[0], y = n[1], z = n[2];
    const double r[9] = {
        c + x * x * C,     x * y * C - z * s, x * z * C + y * s,
        y * x * C + z * s, c + y * y * C,     y * z * C - x * s,
        z * x * C - y * s, z * y * C + x * s, c + z * z * C};
    memcpy(R, r, sizeof r);
}

static int bench_write(const char *path, size_t nsteps, double dt)
{
    const double T = 300.0;
    /* kT in amu A^2 fs^-2: 1.380649e-23 J/K T / (1.66053906660e-27 kg
     * 1e-20 m^2 / 1e-30 s^2). */
    const double kt = 1.380649e-23 * T / 1.66053906660e-17;
    double amp[BENCH_NMODES], w[BENCH_NMODES], ph[BENCH_NMODES];
    double dmu[BENCH_NMODES][3], dal[BENCH_NMODES][6];
    for (size_t k = 0; k < BENCH_NMODES; k++) {
        const bench_mode *const m = &bench_modes[k];
        w[k] = 2.0 * M_PI * RPR_C_CM_PER_FS * m->nu / 0.9;
        /* Canonical: E ~ Exp(kT), amplitude sqrt(2E)/w. */
        const double e = -kt * log(1.0 - bench_uniform());
        amp[k] = sqrt(2.0 * e) / w[k];
        ph[k] = 2.0 * M_PI * bench_uniform();
        /* |dmu/dQ| in D/A/amu^1/2 from I = 42.256 |dmu/dQ|^2, to e*bohr. */
        const double d = sqrt(m->ir / 42.256) / RPR_DEBYE_PER_EBOHR;
        memset(dmu[k], 0, sizeof dmu[k]);
        memset(dal[k], 0, sizeof dal[k]);
        if (strcmp(m->sym, "Au") == 0)
            dmu[k][2] = d;
        if (strcmp(m->sym, "Bu") == 0)
            dmu[k][0] = 0.8 * d, dmu[k][1] = 0.6 * d;
        /* a' and g' in A^2/amu^1/2, to bohr^3/(A amu^1/2): 1 A^3 =
         * 6.748334 bohr^3. */
        const double b3 = 1.0 / (RPR_ANGSTROM_PER_BOHR * RPR_ANGSTROM_PER_BOHR *
                                 RPR_ANGSTROM_PER_BOHR);
        const double a = sqrt(m->act * m->iso / 45.0) * b3;
        const double g = sqrt(m->act * (1.0 - m->iso) / 7.0) * b3;
        if (strcmp(m->sym, "Ag") == 0) {
            /* mean a, traceless diag(1, -1, 0) g/sqrt(3) plus xy: gamma^2
             * = 3 (g/sqrt 3)^2 ... split between the two. */
            dal[k][0] = a + 0.8 * g / sqrt(3.0);
            dal[k][3] = a - 0.8 * g / sqrt(3.0);
            dal[k][5] = a;
            dal[k][1] = 0.6 * g / sqrt(3.0);
        }
        if (strcmp(m->sym, "Bg") == 0) {
            dal[k][2] = 0.8 * g / sqrt(3.0);
            dal[k][4] = 0.6 * g / sqrt(3.0);
        }
    }
    /* Rigid rotation: random axis, |Omega| = sqrt(2 kT / I), I = 200 amu
     * A^2. */
    double axis[3], nn = 0.0;
    for (int c = 0; c < 3; c++) {
        axis[c] = bench_normal();
        nn += axis[c] * axis[c];
    }
    for (int c = 0; c < 3; c++)
        axis[c] /= sqrt(nn);
    const double omega = sqrt(2.0 * kt / 200.0) * fabs(bench_normal());
    const double mu0[3] = {0.0, 0.0, 0.0}; /* anti: no permanent dipole */
    const double al0[6] = {55.0, 0.0, 0.0, 42.0, 0.0, 60.0};

    FILE *const f = fopen(path, "w");
    if (f == NULL)
        return 0;
    fputs("# rpr-nx properties, format 1\n"
          "# columns: t_fs step run energy mu_x mu_y mu_z alpha_xx alpha_xy "
          "alpha_xz alpha_yy alpha_yz alpha_zz gap12 gap23 sign_min "
          "w_principal w_kabsch\n"
          "# units: t_fs fs; energy hartree; mu e*bohr (lab frame); alpha "
          "bohr^3 (lab frame); the rest dimensionless\n",
          f);
    for (size_t s = 0; s < nsteps; s++) {
        const double t = (double) s * dt;
        double mu[3], al[6];
        for (int c = 0; c < 3; c++)
            mu[c] = mu0[c];
        for (int c = 0; c < 6; c++)
            al[c] = al0[c];
        for (size_t k = 0; k < BENCH_NMODES; k++) {
            const double q = amp[k] * cos(w[k] * t + ph[k]);
            for (int c = 0; c < 3; c++)
                mu[c] += dmu[k][c] * q;
            for (int c = 0; c < 6; c++)
                al[c] += dal[k][c] * q;
        }
        double R[9];
        bench_rotation(axis, omega * t, R);
        const double A[9] = {al[0], al[1], al[2], al[1], al[3],
                             al[4], al[2], al[4], al[5]};
        double m2[3], B[9];
        for (int i = 0; i < 3; i++) {
            m2[i] =
                R[3 * i] * mu[0] + R[3 * i + 1] * mu[1] + R[3 * i + 2] * mu[2];
            for (int j = 0; j < 3; j++) {
                double sum = 0.0;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++)
                        sum += R[3 * i + a] * A[3 * a + b] * R[3 * j + b];
                B[3 * i + j] = sum;
            }
        }
        fprintf(f,
                "%.4f %zu %s %.12f %.17g %.17g %.17g %.17g %.17g %.17g %.17g "
                "%.17g %.17g 0.016 0.0012 0.002 0.3 0.7\n",
                t, s, s == 0 ? "initial" : "first", -997.07, m2[0], m2[1],
                m2[2], B[0], B[1], B[2], B[4], B[5], B[8]);
    }
    return fclose(f) == 0;
}

/* CPU seconds of this process: on a shared machine the wall time also
 * measures the neighbours. */
static double bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static int bench_run(rpr_spectrum_kind kind, size_t n, char **paths,
                     double *seconds, double *cpu, double *integral)
{
    rpr_spectrum_options o;
    rpr_spectrum_options_default(&o);
    o.kind = kind;
    rpr_series **s = calloc(n, sizeof *s);
    rpr_spectrum *sp = NULL;
    rpr_error err = {0};
    int ok = s != NULL;
    const double t0 = bench_now(), c0 = bench_cpu();
    for (size_t i = 0; i < n && ok; i++)
        ok = rpr_series_read(paths[i], &o, &s[i], &err) == RPR_OK;
    ok = ok && rpr_spectrum_compute(&o, n, (const rpr_series *const *) s, &sp,
                                    &err) == RPR_OK;
    *seconds = bench_now() - t0;
    *cpu = bench_cpu() - c0;
    if (!ok)
        fprintf(stderr, "bench_spectrum: %s\n", err.message);
    else
        *integral = rpr_spectrum_find(
            sp, kind == RPR_SPECTRUM_IR
                    ? "ir_integral"
                    : "unpolarised_integral")[rpr_spectrum_nbins(sp) - 1];
    rpr_spectrum_free(sp);
    for (size_t i = 0; s != NULL && i < n; i++)
        rpr_series_free(s[i]);
    free(s);
    return ok;
}

int main(int argc, char **argv)
{
    const char *const dir = argc > 1 ? argv[1] : "bench_spectrum.d";
    const size_t ntraj = argc > 2 ? (size_t) atol(argv[2]) : 24;
    const size_t nsteps = argc > 3 ? (size_t) atol(argv[3]) : 10001;
    if (ntraj == 0 || nsteps < 10) {
        fprintf(stderr, "usage: bench_spectrum [DIR] [NTRAJ] [NSTEPS]\n");
        return 2;
    }
    mkdir(dir, 0777);
    char **paths = calloc(ntraj, sizeof *paths);
    if (paths == NULL)
        return 1;
    const double tg = bench_now();
    for (size_t i = 0; i < ntraj; i++) {
        paths[i] = malloc(strlen(dir) + 32);
        if (paths[i] == NULL)
            return 1;
        sprintf(paths[i], "%s/traj%02zu.dat", dir, i);
        if (!bench_write(paths[i], nsteps, 0.5)) {
            fprintf(stderr, "bench_spectrum: cannot write %s\n", paths[i]);
            return 1;
        }
    }
    printf("bench_spectrum: wrote %zu x %zu steps in %.2f s (not timed "
           "below)\n",
           ntraj, nsteps, bench_now() - tg);
    double t_ir = 0, t_raman = 0, c_ir = 0, c_raman = 0, i_ir = 0;
    double i_raman = 0;
    int ok = bench_run(RPR_SPECTRUM_IR, ntraj, paths, &t_ir, &c_ir, &i_ir) &&
             bench_run(RPR_SPECTRUM_RAMAN, ntraj, paths, &t_raman, &c_raman,
                       &i_raman);
    if (ok) {
        /* Synthetic IR total: the sum of the intensities, 133 km/mol; the
         * canonical energies of 24 trajectories scatter around it. */
        printf("bench_spectrum: IR    read+compute %.3f s wall, %.3f s cpu "
               "(integral %.2f km/mol; modes sum to 133)\n",
               t_ir, c_ir, i_ir);
        printf("bench_spectrum: Raman read+compute %.3f s wall, %.3f s cpu "
               "(integral %.4g 1e-30 m^2/sr)\n",
               t_raman, c_raman, i_raman);
        printf("bench_spectrum: IR + Raman %.3f s wall, %.3f s cpu (target "
               "<= 1 s)\n",
               t_ir + t_raman, c_ir + c_raman);
    }
    const int keep = argc > 4 && strcmp(argv[4], "keep") == 0;
    for (size_t i = 0; i < ntraj; i++) {
        if (!keep)
            remove(paths[i]);
        free(paths[i]);
    }
    if (!keep)
        rmdir(dir);
    free(paths);
    return ok ? 0 : 1;
}
