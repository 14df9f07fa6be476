/*
 * rpr_md.c - rpr-md: ground-state (adiabatic) molecular dynamics in the
 * step protocol of Newton-X CS, running the interface program (rpr-nx) as
 * a separate process per step in TRAJ/TEMP, exactly as Newton-X does
 * (docs/rpr-md.1, docs/newton-x.md).
 *
 * One step (Newton-X CS moldyn.pl, contract notes section 2):
 *   b  x(t+dt) = x + v dt + a dt^2 / 2,  v(t+dt/2) = v + a dt / 2;
 *      write geom, veloc, control.d (istep and t of the new geometry)
 *   c  run the program in TEMP ("first run"), stderr appended to
 *      DEBUG/runnx.error; a non-zero exit stops the trajectory
 *   d  read grad and epot; a = -grad / M; v(t+dt) = v(t+dt/2) + a dt / 2
 *   e  thermostat (Andersen), RESULTS/en.dat, the geometry log, the
 *      total-energy checks of moldyn03
 *   h  restart information (INFO_RESTART/rpr-md.state, atomically)
 * Units: bohr, hartree, bohr per atomic time unit, masses converted from
 * amu with Newton-X's factor (RPR_ME_PER_AMU), time steps in fs.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nx_files.h"
#include "rpr.h"

extern char **environ;

enum { MD_PATH = 4096 };

static const char md_usage[] =
    "usage: rpr-md [options] DIR\n"
    "Velocity-Verlet dynamics in Newton-X CS's step protocol; the interface\n"
    "program runs once per step in DIR/TEMP.\n"
    "Initial conditions (a fresh start):\n"
    "  --geom FILE        Newton-X geom (symbol Z x y z mass; bohr, amu)\n"
    "  --xyz FILE         first frame of an XYZ file (angstrom), masses of\n"
    "                     the most abundant isotopes\n"
    "  --veloc FILE       Newton-X veloc (vx vy vz; bohr/atomic time unit)\n"
    "  --temperature K    else Boltzmann velocities at K, with zero linear\n"
    "                     and angular momentum\n"
    "  --rescale          scale them to exactly K (3N-6 degrees of freedom)\n"
    "  --orient           rotate the molecule uniformly at random\n"
    "  --dihedral A,B,C,D=DEG  set a dihedral (1-based atoms) first, moving\n"
    "                     the atoms nearer to C than to B\n"
    "  --dihedral-atoms LIST   move these atoms instead (1-based, commas)\n"
    "Dynamics:\n"
    "  --dt FS            time step (0.5)\n"
    "  --tmax FS          length (100)\n"
    "  --andersen NU      Andersen thermostat at --temperature, collision\n"
    "                     frequency NU per fs per atom (off)\n"
    "  --nstat N --state S    states written to control.d (1, 1)\n"
    "  --etot-jump EV --etot-drift EV  stop as Newton-X does when the total\n"
    "                     energy jumps in one step or drifts from t = 0 by\n"
    "                     more (0.5, 0.5; 0 turns a check off; both off\n"
    "                     with the thermostat)\n"
    "  --seed N           random numbers (1)\n"
    "Running:\n"
    "  --program PATH     interface program (rpr-nx, searched in PATH)\n"
    "  --par FILE         its parameter file (exported as RPR_NX_PAR)\n"
    "  --restart          continue from the last completed step\n"
    "  --runs N           N independent trajectories DIR/run0001 ...\n"
    "  --parallel P       at most P of them at a time (1)\n"
    "  --quiet            no progress display\n"
    "  --help, --version\n";

typedef struct md_options {
    const char *program; /* absolute, or a name searched in PATH */
    char *program_abs;   /* owned: program when given as a path */
    char *geom, *xyz, *veloc;
    double temperature_k; /* < 0: not given */
    int rescale, orient;
    int set_dihedral;
    size_t dihedral[4]; /* 0-based */
    double dihedral_deg;
    const char *dihedral_atoms;
    double dt_fs, tmax_fs;
    double andersen_per_fs;
    size_t nstat, state;
    double etot_jump_ev, etot_drift_ev;
    uint64_t seed;
    int restart;
    size_t runs, parallel;
    int quiet;
} md_options;

/* One trajectory. */
typedef struct md_traj {
    size_t nat;
    int *numbers;
    double *mass;      /* amu [nat] */
    double *m;         /* electron masses [nat] */
    double *x, *v, *a; /* bohr, bohr/aut, bohr/aut^2 [nat][3] */
    double *epot;      /* hartree [nstat] */
    double ekin, etot0, etot_prev;
    size_t istep;
    double t_fs;
    uint64_t rng;
    long long en_size, log_size; /* bytes of en.dat and the geometry log at
                                    the last completed step */
    FILE *en, *log;
    nx_run run; /* content of which_run_is_that */
    char *buf;  /* [cap] for formatting geom and veloc */
    size_t cap;
    int job_ad; /* TRAJ/JOB_AD exists: copied into TEMP before each call */
} md_traj;

static double md_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

/* ------------------------------------------------------------ random */

/* splitmix64 (Steele, Lea, Flood 2014): the state is one integer, kept in
 * the restart file, so a restarted run draws what the whole run would. */
static uint64_t md_rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double md_rng_uniform(uint64_t *s)
{
    return (double) (md_rng_next(s) >> 11) * 0x1.0p-53;
}

/* Standard normal by Box-Muller (one of the pair). */
static double md_rng_normal(uint64_t *s)
{
    const double u1 = 1.0 - md_rng_uniform(s); /* (0, 1] */
    const double u2 = md_rng_uniform(s);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ------------------------------------------------------------ geometry */

static void md_center(size_t nat, const double *m, const double *x, double c[3])
{
    double mt = 0.0;
    c[0] = c[1] = c[2] = 0.0;
    for (size_t a = 0; a < nat; a++) {
        mt += m[a];
        for (int k = 0; k < 3; k++)
            c[k] += m[a] * x[3 * a + k];
    }
    for (int k = 0; k < 3; k++)
        c[k] /= mt;
}

static void md_cross(const double a[3], const double b[3], double c[3])
{
    c[0] = a[1] * b[2] - a[2] * b[1];
    c[1] = a[2] * b[0] - a[0] * b[2];
    c[2] = a[0] * b[1] - a[1] * b[0];
}

static double md_dot(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* Eigen-decomposition of a symmetric 3x3 matrix by cyclic Jacobi sweeps
 * (Golub and Van Loan, Matrix Computations, 8.5): A = V diag(w) V^T, the
 * columns of V (row-major) the eigenvectors.  Stops when a sweep changes
 * nothing: the rotations then are exact to rounding. */
static void md_eigen3(const double A[9], double w[3], double V[9])
{
    double B[9];
    memcpy(B, A, sizeof B);
    for (int i = 0; i < 9; i++)
        V[i] = i % 4 == 0;
    for (int sweep = 0; sweep < 64; sweep++) {
        const double off = B[1] * B[1] + B[2] * B[2] + B[5] * B[5];
        if (off == 0.0)
            break;
        for (int p = 0; p < 2; p++)
            for (int q = p + 1; q < 3; q++) {
                const double apq = B[3 * p + q];
                if (apq == 0.0)
                    continue;
                const double theta = (B[3 * q + q] - B[3 * p + p]) / (2 * apq);
                const double t = (theta >= 0 ? 1.0 : -1.0) /
                                 (fabs(theta) + sqrt(theta * theta + 1.0));
                const double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < 3; k++) { /* B = J^T B J */
                    const double bkp = B[3 * k + p], bkq = B[3 * k + q];
                    B[3 * k + p] = c * bkp - s * bkq;
                    B[3 * k + q] = s * bkp + c * bkq;
                }
                for (int k = 0; k < 3; k++) {
                    const double bpk = B[3 * p + k], bqk = B[3 * q + k];
                    B[3 * p + k] = c * bpk - s * bqk;
                    B[3 * q + k] = s * bpk + c * bqk;
                }
                for (int k = 0; k < 3; k++) {
                    const double vkp = V[3 * k + p], vkq = V[3 * k + q];
                    V[3 * k + p] = c * vkp - s * vkq;
                    V[3 * k + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < 3; i++)
        w[i] = B[4 * i];
}

/*
 * Remove the total linear and angular momentum from v (mass-weighted
 * orthogonal projection: v -= P/M, then v -= omega x r with I omega = L
 * about the centre of mass).  Returns the number of rotational degrees of
 * freedom removed (3, or 2 for a linear molecule, 0 for one atom).  A
 * principal moment counts as zero below 3 n eps trace(I), the rounding
 * level of the sum that forms I.
 */
static size_t md_zero_momentum(size_t nat, const double *m, const double *x,
                               double *v)
{
    double c[3], p[3] = {0, 0, 0}, mt = 0.0;
    md_center(nat, m, x, c);
    for (size_t a = 0; a < nat; a++) {
        mt += m[a];
        for (int k = 0; k < 3; k++)
            p[k] += m[a] * v[3 * a + k];
    }
    for (size_t a = 0; a < nat; a++)
        for (int k = 0; k < 3; k++)
            v[3 * a + k] -= p[k] / mt;
    double I[9] = {0}, L[3] = {0, 0, 0};
    for (size_t a = 0; a < nat; a++) {
        double r[3], l[3];
        for (int k = 0; k < 3; k++)
            r[k] = x[3 * a + k] - c[k];
        md_cross(r, &v[3 * a], l);
        const double rr = md_dot(r, r);
        for (int i = 0; i < 3; i++) {
            L[i] += m[a] * l[i];
            for (int j = 0; j < 3; j++)
                I[3 * i + j] += m[a] * ((i == j) * rr - r[i] * r[j]);
        }
    }
    double w[3], V[9];
    md_eigen3(I, w, V);
    const double zero = 3.0 * (double) nat * DBL_EPSILON * (w[0] + w[1] + w[2]);
    double omega[3] = {0, 0, 0};
    size_t nrot = 0;
    for (int k = 0; k < 3; k++) {
        if (!(w[k] > zero))
            continue;
        nrot++;
        const double col[3] = {V[k], V[3 + k], V[6 + k]};
        const double f = md_dot(col, L) / w[k];
        for (int i = 0; i < 3; i++)
            omega[i] += f * col[i];
    }
    for (size_t a = 0; a < nat; a++) {
        double r[3], u[3];
        for (int k = 0; k < 3; k++)
            r[k] = x[3 * a + k] - c[k];
        md_cross(omega, r, u);
        for (int k = 0; k < 3; k++)
            v[3 * a + k] -= u[k];
    }
    return nrot;
}

/* Rotate the points idx (or all if idx is NULL) about the axis through
 * origin along unit u by angle (right-handed). */
static void md_rotate(size_t n, const size_t *idx, const double origin[3],
                      const double u[3], double angle, double *x)
{
    const double c = cos(angle), s = sin(angle);
    for (size_t i = 0; i < n; i++) {
        double *p = &x[3 * (idx != NULL ? idx[i] : i)];
        double r[3], uxr[3];
        for (int k = 0; k < 3; k++)
            r[k] = p[k] - origin[k];
        md_cross(u, r, uxr);
        const double ur = md_dot(u, r);
        /* Rodrigues' formula. */
        for (int k = 0; k < 3; k++)
            p[k] = origin[k] + r[k] * c + uxr[k] * s + u[k] * ur * (1 - c);
    }
}

/* Dihedral a-b-c-d in radians, (-pi, pi], IUPAC sign: atan2(|b2| b1 .
 * (b2 x b3), (b1 x b2) . (b2 x b3)) with b1 = b - a, b2 = c - b, b3 = d - c
 * (Blondel and Karplus, J. Comput. Chem. 17, 1132 (1996)).  A right-handed
 * rotation of d about b->c by delta adds delta. */
static double md_dihedral(const double *x, const size_t q[4])
{
    double b1[3], b2[3], b3[3], n1[3], n2[3];
    for (int k = 0; k < 3; k++) {
        b1[k] = x[3 * q[1] + k] - x[3 * q[0] + k];
        b2[k] = x[3 * q[2] + k] - x[3 * q[1] + k];
        b3[k] = x[3 * q[3] + k] - x[3 * q[2] + k];
    }
    md_cross(b1, b2, n1);
    md_cross(b2, b3, n2);
    return atan2(sqrt(md_dot(b2, b2)) * md_dot(b1, n2), md_dot(n1, n2));
}

/* ------------------------------------------------------------ options */

static int md_parse_real(const char *s, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

static int md_parse_size(const char *s, size_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE || v > SIZE_MAX)
        return 0;
    *out = (size_t) v;
    return 1;
}

/* "1,2,3": 1-based indices into idx[] (0-based), at most max. */
static int md_parse_list(const char *s, size_t *idx, size_t max, size_t *n)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        return 0;
    strcpy(buf, s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
        size_t i;
        if (*n >= max || !md_parse_size(tok, &i) || i == 0)
            return 0;
        idx[(*n)++] = i - 1;
    }
    return *n > 0;
}

/* An absolute path for a file given relative to the starting directory
 * (rpr-md works inside DIR/TEMP). */
static char *md_absolute(const char *path)
{
    char *p = realpath(path, NULL);
    if (p == NULL) {
        fprintf(stderr, "rpr-md: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return p;
}

static void md_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "rpr-md: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    exit(2);
}

static void md_parse_options(int argc, char **argv, md_options *o,
                             const char **dir)
{
    enum {
        O_GEOM = 256,
        O_XYZ,
        O_VELOC,
        O_TEMP,
        O_RESCALE,
        O_ORIENT,
        O_DIH,
        O_DIHATOMS,
        O_DT,
        O_TMAX,
        O_ANDERSEN,
        O_NSTAT,
        O_STATE,
        O_JUMP,
        O_DRIFT,
        O_SEED,
        O_PROGRAM,
        O_PAR,
        O_RESTART,
        O_RUNS,
        O_PARALLEL,
        O_QUIET,
        O_HELP,
        O_VERSION
    };
    static const struct option longopts[] = {
        {"geom", required_argument, NULL, O_GEOM},
        {"xyz", required_argument, NULL, O_XYZ},
        {"veloc", required_argument, NULL, O_VELOC},
        {"temperature", required_argument, NULL, O_TEMP},
        {"rescale", no_argument, NULL, O_RESCALE},
        {"orient", no_argument, NULL, O_ORIENT},
        {"dihedral", required_argument, NULL, O_DIH},
        {"dihedral-atoms", required_argument, NULL, O_DIHATOMS},
        {"dt", required_argument, NULL, O_DT},
        {"tmax", required_argument, NULL, O_TMAX},
        {"andersen", required_argument, NULL, O_ANDERSEN},
        {"nstat", required_argument, NULL, O_NSTAT},
        {"state", required_argument, NULL, O_STATE},
        {"etot-jump", required_argument, NULL, O_JUMP},
        {"etot-drift", required_argument, NULL, O_DRIFT},
        {"seed", required_argument, NULL, O_SEED},
        {"program", required_argument, NULL, O_PROGRAM},
        {"par", required_argument, NULL, O_PAR},
        {"restart", no_argument, NULL, O_RESTART},
        {"runs", required_argument, NULL, O_RUNS},
        {"parallel", required_argument, NULL, O_PARALLEL},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->program = "rpr-nx";
    o->temperature_k = -1.0;
    o->dt_fs = 0.5;     /* Newton-X's default */
    o->tmax_fs = 100.0; /* Newton-X's default */
    o->nstat = o->state = 1;
    o->etot_jump_ev = o->etot_drift_ev = 0.5; /* Newton-X's defaults */
    o->seed = 1;
    o->parallel = 1;
    int c;
    size_t n;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_GEOM:
            free(o->geom);
            o->geom = md_absolute(optarg);
            break;
        case O_XYZ:
            free(o->xyz);
            o->xyz = md_absolute(optarg);
            break;
        case O_VELOC:
            free(o->veloc);
            o->veloc = md_absolute(optarg);
            break;
        case O_TEMP:
            if (!md_parse_real(optarg, &o->temperature_k) ||
                o->temperature_k < 0)
                md_usage_error("--temperature %s: not a temperature >= 0",
                               optarg);
            break;
        case O_RESCALE: o->rescale = 1; break;
        case O_ORIENT: o->orient = 1; break;
        case O_DIH: {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", optarg);
            char *eq = strchr(buf, '=');
            if (eq == NULL)
                md_usage_error("--dihedral %s: want A,B,C,D=DEGREES", optarg);
            *eq = '\0';
            if (!md_parse_list(buf, o->dihedral, 4, &n) || n != 4 ||
                !md_parse_real(eq + 1, &o->dihedral_deg))
                md_usage_error("--dihedral %s: want A,B,C,D=DEGREES", optarg);
            o->set_dihedral = 1;
            break;
        }
        case O_DIHATOMS: o->dihedral_atoms = optarg; break;
        case O_DT:
            if (!md_parse_real(optarg, &o->dt_fs) || !(o->dt_fs >= 1e-4))
                md_usage_error("--dt %s: need a time step >= 0.0001 fs (the "
                               "resolution of control.d)",
                               optarg);
            break;
        case O_TMAX:
            if (!md_parse_real(optarg, &o->tmax_fs) || o->tmax_fs < 0)
                md_usage_error("--tmax %s: need a time >= 0", optarg);
            break;
        case O_ANDERSEN:
            if (!md_parse_real(optarg, &o->andersen_per_fs) ||
                o->andersen_per_fs < 0)
                md_usage_error("--andersen %s: need a frequency >= 0", optarg);
            break;
        case O_NSTAT:
            if (!md_parse_size(optarg, &o->nstat) || o->nstat == 0)
                md_usage_error("--nstat %s: need N >= 1", optarg);
            break;
        case O_STATE:
            if (!md_parse_size(optarg, &o->state) || o->state == 0)
                md_usage_error("--state %s: need S >= 1", optarg);
            break;
        case O_JUMP:
            if (!md_parse_real(optarg, &o->etot_jump_ev) || o->etot_jump_ev < 0)
                md_usage_error("--etot-jump %s: need eV >= 0", optarg);
            break;
        case O_DRIFT:
            if (!md_parse_real(optarg, &o->etot_drift_ev) ||
                o->etot_drift_ev < 0)
                md_usage_error("--etot-drift %s: need eV >= 0", optarg);
            break;
        case O_SEED: {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 10);
            if (*end != '\0' || errno != 0 || *optarg == '-')
                md_usage_error("--seed %s: need an integer >= 0", optarg);
            break;
        }
        case O_PROGRAM:
            free(o->program_abs);
            o->program_abs = NULL;
            if (strchr(optarg, '/') != NULL)
                o->program = o->program_abs = md_absolute(optarg);
            else
                o->program = optarg;
            break;
        case O_PAR: {
            char *p = md_absolute(optarg);
            setenv("RPR_NX_PAR", p, 1);
            free(p);
            break;
        }
        case O_RESTART: o->restart = 1; break;
        case O_RUNS:
            if (!md_parse_size(optarg, &o->runs) || o->runs == 0 ||
                o->runs > 9999)
                md_usage_error("--runs %s: need 1..9999", optarg);
            break;
        case O_PARALLEL:
            if (!md_parse_size(optarg, &o->parallel) || o->parallel == 0)
                md_usage_error("--parallel %s: need P >= 1", optarg);
            break;
        case O_QUIET: o->quiet = 1; break;
        case O_HELP: fputs(md_usage, stdout); exit(0);
        case O_VERSION: printf("rpr-md %s\n", rpr_version()); exit(0);
        default: exit(2);
        }
    }
    if (optind != argc - 1)
        md_usage_error("%s", optind < argc ? "one directory expected"
                                           : "no trajectory directory given");
    *dir = argv[optind];
    if (o->state > o->nstat)
        md_usage_error("%s", "--state must not exceed --nstat");
    if (!o->restart) {
        if ((o->geom == NULL) == (o->xyz == NULL))
            md_usage_error("%s", "give one of --geom and --xyz");
        if (o->veloc == NULL && o->temperature_k < 0)
            md_usage_error("%s", "give --veloc or --temperature");
    }
    if (o->andersen_per_fs > 0 && !(o->temperature_k > 0))
        md_usage_error("%s", "--andersen needs --temperature > 0");
    if (o->dihedral_atoms != NULL && !o->set_dihedral)
        md_usage_error("%s", "--dihedral-atoms needs --dihedral");
}

/* ------------------------------------------------------------ files */

static rpr_status md_fail_errno(rpr_error *err, const char *what)
{
    return nx_files_fail(err, RPR_EIO, "%s: %s", what, strerror(errno));
}

static rpr_status md_mkdir(const char *path, rpr_error *err)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return md_fail_errno(err, path);
    return RPR_OK;
}

/* Remove the regular files in dir (not recursive), as Newton-X empties
 * its RESULTS, DEBUG and TEMP at a fresh start. */
static rpr_status md_empty_dir(const char *dir, rpr_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return md_fail_errno(err, dir);
    char path[MD_PATH];
    struct dirent *e;
    rpr_status st = RPR_OK;
    while ((e = readdir(d)) != NULL && st == RPR_OK) {
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && unlink(path) != 0)
            st = md_fail_errno(err, path);
    }
    closedir(d);
    return st;
}

/* Copy the regular files of src into the working directory (JOB_AD). */
static rpr_status md_copy_dir(const char *src, rpr_error *err)
{
    DIR *d = opendir(src);
    if (d == NULL)
        return md_fail_errno(err, src);
    char path[MD_PATH], buf[65536];
    struct dirent *e;
    rpr_status st = RPR_OK;
    while ((e = readdir(d)) != NULL && st == RPR_OK) {
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", src, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        const int in = open(path, O_RDONLY | O_CLOEXEC);
        const int out =
            open(e->d_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        ssize_t r = in < 0 || out < 0 ? -1 : 0;
        while (r >= 0 && (r = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t) r) != r)
                r = -1;
        if (r < 0)
            st = md_fail_errno(err, path);
        if (in >= 0)
            close(in);
        if (out >= 0 && close(out) != 0 && st == RPR_OK)
            st = md_fail_errno(err, e->d_name);
    }
    closedir(d);
    return st;
}

/* geom in Newton-X's layout (1x,a2,2x,f5.1,3f25.14,f14.8). */
/* geom in Newton-X's layout (1x,a2,2x,f5.1,3f25.14,f14.8), overwritten in
 * place (nx_files_overwrite: no inode churn, no ext4 flush per step). */
static rpr_status md_write_geom(const char *path, md_traj *t, const double *x,
                                rpr_error *err)
{
    size_t n = 0;
    for (size_t a = 0; a < t->nat && n < t->cap; a++)
        n += (size_t) snprintf(
            t->buf + n, t->cap - n, " %-2s  %5.1f%25.14f%25.14f%25.14f%14.8f\n",
            rpr_element_symbol(t->numbers[a]), (double) t->numbers[a], x[3 * a],
            x[3 * a + 1], x[3 * a + 2], t->mass[a]);
    if (n >= t->cap)
        return nx_files_fail(err, RPR_EINVAL, "%s: coordinates too large",
                             path);
    return nx_files_overwrite(path, t->buf, n, err);
}

static rpr_status md_write_veloc(const char *path, md_traj *t, const double *v,
                                 rpr_error *err)
{
    size_t n = 0;
    for (size_t a = 0; a < t->nat && n < t->cap; a++)
        n +=
            (size_t) snprintf(t->buf + n, t->cap - n, "%23.15e%23.15e%23.15e\n",
                              v[3 * a], v[3 * a + 1], v[3 * a + 2]);
    if (n >= t->cap)
        return nx_files_fail(err, RPR_EINVAL, "%s: velocities too large", path);
    return nx_files_overwrite(path, t->buf, n, err);
}

static rpr_status md_write_text(const char *path, const char *text,
                                rpr_error *err)
{
    return nx_files_overwrite(path, text, strlen(text), err);
}

/* The last non-empty line of a file (for error messages), or "". */
static void md_last_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fseek(f, -(long) (len - 1), SEEK_END) != 0)
        rewind(f);
    char line[1024];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        const size_t n = strlen(line);
        if (n > 0) {
            const size_t m = n < len ? n : len - 1;
            memcpy(buf, line, m);
            buf[m] = '\0';
        }
    }
    fclose(f);
}

/* ------------------------------------------------------------ state */

static const char md_state_header[] = "# rpr-md restart, format 1\n";

static void md_traj_free(md_traj *t)
{
    free(t->numbers);
    free(t->mass);
    free(t->m);
    free(t->x);
    free(t->v);
    free(t->a);
    free(t->epot);
    free(t->buf);
    if (t->en != NULL)
        fclose(t->en);
    if (t->log != NULL)
        fclose(t->log);
    memset(t, 0, sizeof *t);
}

static rpr_status md_traj_alloc(md_traj *t, size_t nat, size_t nstat,
                                rpr_error *err)
{
    t->nat = nat;
    t->numbers = calloc(nat, sizeof *t->numbers);
    t->mass = calloc(nat, sizeof *t->mass);
    t->m = calloc(nat, sizeof *t->m);
    t->x = calloc(3 * nat, sizeof *t->x);
    t->v = calloc(3 * nat, sizeof *t->v);
    t->a = calloc(3 * nat, sizeof *t->a);
    t->epot = calloc(nstat, sizeof *t->epot);
    /* A geom line is 2 + 2 + 2 + 5 + 3 * 25 + 14 + 1 = 101 bytes while
     * |x| < 1e10 bohr; larger values are refused, not cut. */
    t->cap = 128 * nat + 1;
    t->buf = malloc(t->cap);
    if (t->numbers == NULL || t->mass == NULL || t->m == NULL || t->x == NULL ||
        t->v == NULL || t->a == NULL || t->epot == NULL || t->buf == NULL)
        return nx_files_fail(err, RPR_ENOMEM, "out of memory");
    return RPR_OK;
}

/* INFO_RESTART/rpr-md.state: everything a restart needs, %.17g so that
 * every double comes back bit for bit. */
static rpr_status md_state_save(const md_traj *t, rpr_error *err)
{
    const size_t cap = 512 + t->nat * 9 * 26;
    char *buf = malloc(cap);
    if (buf == NULL)
        return nx_files_fail(err, RPR_ENOMEM, "out of memory");
    size_t n = (size_t) snprintf(
        buf, cap,
        "%snat %zu\nistep %zu\nt_fs %.17g\netot0 %.17g\nrng %llu\n"
        "en_size %lld\nlog_size %lld\n# Z mass(amu) x y z (bohr) vx vy vz "
        "(bohr/aut)\n",
        md_state_header, t->nat, t->istep, t->t_fs, t->etot0,
        (unsigned long long) t->rng, t->en_size, t->log_size);
    for (size_t a = 0; a < t->nat; a++) {
        n += (size_t) snprintf(buf + n, cap - n, "%d %.17g", t->numbers[a],
                               t->mass[a]);
        for (int k = 0; k < 3; k++)
            n += (size_t) snprintf(buf + n, cap - n, " %.17g", t->x[3 * a + k]);
        for (int k = 0; k < 3; k++)
            n += (size_t) snprintf(buf + n, cap - n, " %.17g", t->v[3 * a + k]);
        buf[n++] = '\n';
    }
    const rpr_status st =
        nx_files_replace("../INFO_RESTART/rpr-md.state", buf, n, err);
    free(buf);
    return st;
}

static rpr_status md_state_load(md_traj *t, size_t nstat, rpr_error *err)
{
    const char *const path = "../INFO_RESTART/rpr-md.state";
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return md_fail_errno(err, path);
    char head[64];
    size_t nat = 0;
    unsigned long long rng = 0;
    rpr_status st = RPR_OK;
    int ok = fgets(head, sizeof head, f) != NULL &&
             strcmp(head, md_state_header) == 0 &&
             fscanf(f,
                    " nat %zu istep %zu t_fs %lf etot0 %lf rng %llu "
                    "en_size %lld log_size %lld ",
                    &nat, &t->istep, &t->t_fs, &t->etot0, &rng, &t->en_size,
                    &t->log_size) == 7 &&
             nat > 0 && nat < SIZE_MAX / 64;
    ok = ok && fgets(head, sizeof head, f) != NULL && head[0] == '#';
    if (ok) {
        const size_t istep = t->istep;
        const double tt = t->t_fs, e0 = t->etot0;
        const long long es = t->en_size, ls = t->log_size;
        st = md_traj_alloc(t, nat, nstat, err);
        t->istep = istep;
        t->t_fs = tt;
        t->etot0 = e0;
        t->en_size = es;
        t->log_size = ls;
        t->rng = rng;
    }
    for (size_t a = 0; ok && st == RPR_OK && a < nat; a++) {
        ok = fscanf(f, "%d %lf %lf %lf %lf %lf %lf %lf", &t->numbers[a],
                    &t->mass[a], &t->x[3 * a], &t->x[3 * a + 1],
                    &t->x[3 * a + 2], &t->v[3 * a], &t->v[3 * a + 1],
                    &t->v[3 * a + 2]) == 8 &&
             t->mass[a] > 0 && rpr_element_symbol(t->numbers[a]) != NULL;
        t->m[a] = t->mass[a] * RPR_ME_PER_AMU;
    }
    fclose(f);
    if (st == RPR_OK && !ok)
        st = nx_files_fail(err, RPR_EPARSE,
                           "%s: damaged restart file; start afresh", path);
    return st;
}

/* ------------------------------------------------------------ one step */

/* Run the interface program in the working directory (TEMP), stdout
 * appended to ../moldyn.log and stderr to ../DEBUG/runnx.error. */
static rpr_status md_call(const md_options *o, md_traj *t, rpr_error *err)
{
    if (t->job_ad) {
        const rpr_status st = md_copy_dir("../JOB_AD", err);
        if (st != RPR_OK)
            return st;
    }
    /* No stale results can pass for new ones. */
    unlink("epot");
    unlink("grad");
    unlink("grad.all");
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return nx_files_fail(err, RPR_ENOMEM, "out of memory");
    posix_spawn_file_actions_addopen(&fa, 1, "../moldyn.log",
                                     O_WRONLY | O_APPEND | O_CREAT, 0666);
    posix_spawn_file_actions_addopen(&fa, 2, "../DEBUG/runnx.error",
                                     O_WRONLY | O_APPEND | O_CREAT, 0666);
    char *argv[] = {(char *) o->program, NULL};
    pid_t pid;
    const int rc =
        strchr(o->program, '/') != NULL
            ? posix_spawn(&pid, o->program, &fa, NULL, argv, environ)
            : posix_spawnp(&pid, o->program, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return nx_files_fail(err, RPR_EIO, "cannot run %s: %s", o->program,
                             strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return md_fail_errno(err, o->program);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return RPR_OK;
    char last[600];
    md_last_line("../DEBUG/runnx.error", last, sizeof last);
    if (WIFEXITED(status))
        return nx_files_fail(err, RPR_EIO,
                             "step %zu (t = %.4f fs): %s exited with status "
                             "%d: %s",
                             t->istep, t->t_fs, o->program, WEXITSTATUS(status),
                             last);
    return nx_files_fail(err, RPR_EIO,
                         "step %zu (t = %.4f fs): %s killed by signal %d",
                         t->istep, t->t_fs, o->program, WTERMSIG(status));
}

/* Write the inputs of a call at the current geometry. */
static rpr_status md_inputs(const md_options *o, md_traj *t, nx_run run,
                            rpr_error *err)
{
    const nx_control ctl = {t->nat,   t->istep, o->nstat,
                            o->state, o->dt_fs, t->t_fs};
    rpr_status st = md_write_geom("geom", t, t->x, err);
    if (st == RPR_OK)
        st = md_write_veloc("veloc", t, t->v, err);
    if (st == RPR_OK)
        st = nx_files_write_control("control.d", &ctl, o->tmax_fs, err);
    if (st == RPR_OK && run != t->run) {
        st = nx_files_write_run("which_run_is_that", run, err);
        t->run = run;
    }
    return st;
}

/* Read epot and grad; a = -grad / M. */
static rpr_status md_outputs(const md_options *o, md_traj *t, rpr_error *err)
{
    double *e = NULL, *g = NULL;
    rpr_status st = rpr_table_read("epot", o->nstat, 1, &e, err);
    if (st == RPR_OK)
        st = rpr_table_read("grad", t->nat, 3, &g, err);
    if (st == RPR_OK) {
        memcpy(t->epot, e, o->nstat * sizeof *e);
        for (size_t a = 0; a < t->nat; a++)
            for (int k = 0; k < 3; k++)
                t->a[3 * a + k] = -g[3 * a + k] / t->m[a];
    } else {
        char msg[sizeof err->message];
        memcpy(msg, err->message, sizeof msg);
        nx_files_fail(err, st, "step %zu (t = %.4f fs): %s", t->istep, t->t_fs,
                      msg);
    }
    rpr_free(e);
    rpr_free(g);
    return st;
}

static double md_ekin(const md_traj *t)
{
    double e = 0.0;
    for (size_t a = 0; a < t->nat; a++)
        e += 0.5 * t->m[a] * md_dot(&t->v[3 * a], &t->v[3 * a]);
    return e;
}

/* en.dat line (t, Epot 1..nstat, Epot of the dynamics state, Etot) and a
 * frame of the geometry log; both flushed, sizes recorded. */
static rpr_status md_record(const md_options *o, md_traj *t, rpr_error *err)
{
    t->ekin = md_ekin(t);
    const double epot = t->epot[o->state - 1];
    fprintf(t->en, "%12.4f", t->t_fs);
    for (size_t s = 0; s < o->nstat; s++)
        fprintf(t->en, " %20.12f", t->epot[s]);
    fprintf(t->en, " %20.12f %20.12f\n", epot, epot + t->ekin);
    char comment[128];
    snprintf(comment, sizeof comment, "t_fs=%.4f step=%zu epot=%.12f", t->t_fs,
             t->istep, epot);
    rpr_status st =
        rpr_xyz_write_frame(t->log, t->nat, t->numbers, t->x, comment, err);
    if (st != RPR_OK)
        return st;
    if (fflush(t->en) != 0 || ferror(t->en))
        return md_fail_errno(err, "../RESULTS/en.dat");
    if (fflush(t->log) != 0 || ferror(t->log))
        return md_fail_errno(err, "../RESULTS/geometries.xyz");
    t->en_size = ftello(t->en);
    t->log_size = ftello(t->log);
    return RPR_OK;
}

/* moldyn03's checks, in eV: one step's change and the drift from t = 0. */
static rpr_status md_check_energy(const md_options *o, md_traj *t,
                                  rpr_error *err)
{
    const double etot = t->epot[o->state - 1] + t->ekin;
    const double jump = fabs(etot - t->etot_prev) * RPR_EV_PER_HARTREE;
    const double drift = fabs(etot - t->etot0) * RPR_EV_PER_HARTREE;
    t->etot_prev = etot;
    if (o->andersen_per_fs > 0)
        return RPR_OK;
    if (o->etot_jump_ev > 0 && jump > o->etot_jump_ev)
        return nx_files_fail(err, RPR_EINVAL,
                             "step %zu (t = %.4f fs): total energy changed "
                             "by %.3g eV in one step (limit --etot-jump "
                             "%g eV)",
                             t->istep, t->t_fs, jump, o->etot_jump_ev);
    if (o->etot_drift_ev > 0 && drift > o->etot_drift_ev)
        return nx_files_fail(err, RPR_EINVAL,
                             "step %zu (t = %.4f fs): total energy drifted "
                             "by %.3g eV since t = 0 (limit --etot-drift "
                             "%g eV)",
                             t->istep, t->t_fs, drift, o->etot_drift_ev);
    return RPR_OK;
}

/* Andersen (J. Chem. Phys. 72, 2384 (1980)): each atom collides with
 * probability 1 - exp(-nu dt) per step and takes a velocity from the
 * Maxwell-Boltzmann distribution at T. */
static void md_andersen(const md_options *o, md_traj *t)
{
    const double p = -expm1(-o->andersen_per_fs * o->dt_fs);
    const double kT = RPR_KB_HARTREE * o->temperature_k;
    for (size_t a = 0; a < t->nat; a++)
        if (md_rng_uniform(&t->rng) < p)
            for (int k = 0; k < 3; k++)
                t->v[3 * a + k] = sqrt(kT / t->m[a]) * md_rng_normal(&t->rng);
}

/* ------------------------------------------------------------ start */

static rpr_status md_initial(const md_options *o, md_traj *t, rpr_error *err)
{
    rpr_geoms *g = NULL;
    rpr_status st = o->geom != NULL ? rpr_geoms_read_nx(o->geom, &g, err)
                                    : rpr_geoms_read_xyz(o->xyz, &g, err);
    if (st != RPR_OK)
        return st;
    const size_t nat = rpr_geoms_natoms(g);
    st = md_traj_alloc(t, nat, o->nstat, err);
    if (st != RPR_OK)
        goto cleanup;
    memcpy(t->numbers, rpr_geoms_numbers(g), nat * sizeof *t->numbers);
    memcpy(t->x, rpr_geoms_xyz(g), 3 * nat * sizeof *t->x);
    for (size_t a = 0; a < nat; a++) {
        t->mass[a] = o->geom != NULL
                         ? rpr_geoms_masses(g)[a]
                         : rpr_element_mass(t->numbers[a], RPR_MASS_ISOTOPE);
        t->m[a] = t->mass[a] * RPR_ME_PER_AMU;
    }
    if (o->set_dihedral) {
        size_t *move = malloc(nat * sizeof *move), nmove = 0;
        if (move == NULL) {
            st = nx_files_fail(err, RPR_ENOMEM, "out of memory");
            goto cleanup;
        }
        const size_t *q = o->dihedral;
        for (int i = 0; i < 4; i++)
            if (q[i] >= nat)
                st =
                    nx_files_fail(err, RPR_EINVAL,
                                  "--dihedral: atom %zu of %zu", q[i] + 1, nat);
        if (st == RPR_OK && o->dihedral_atoms != NULL) {
            if (!md_parse_list(o->dihedral_atoms, move, nat, &nmove))
                st = nx_files_fail(err, RPR_EINVAL,
                                   "--dihedral-atoms %s: 1-based atoms, "
                                   "comma-separated",
                                   o->dihedral_atoms);
            for (size_t i = 0; st == RPR_OK && i < nmove; i++)
                if (move[i] >= nat || move[i] == q[1] || move[i] == q[2])
                    st = nx_files_fail(err, RPR_EINVAL,
                                       "--dihedral-atoms: atom %zu is not "
                                       "movable",
                                       move[i] + 1);
        } else if (st == RPR_OK) {
            for (size_t a = 0; a < nat; a++) {
                double db = 0, dc = 0;
                for (int k = 0; k < 3; k++) {
                    db += pow(t->x[3 * a + k] - t->x[3 * q[1] + k], 2);
                    dc += pow(t->x[3 * a + k] - t->x[3 * q[2] + k], 2);
                }
                if (a != q[1] && a != q[2] && dc < db)
                    move[nmove++] = a;
            }
        }
        int has_d = 0, has_a = 0;
        for (size_t i = 0; i < nmove; i++) {
            has_d |= move[i] == q[3];
            has_a |= move[i] == q[0];
        }
        if (st == RPR_OK && (!has_d || has_a))
            st = nx_files_fail(err, RPR_EINVAL,
                               "--dihedral: the moving atoms must include "
                               "atom %zu and not atom %zu (give "
                               "--dihedral-atoms)",
                               q[3] + 1, q[0] + 1);
        if (st == RPR_OK) {
            double u[3], len = 0;
            for (int k = 0; k < 3; k++) {
                u[k] = t->x[3 * q[2] + k] - t->x[3 * q[1] + k];
                len += u[k] * u[k];
            }
            for (int k = 0; k < 3; k++)
                u[k] /= sqrt(len);
            const double delta =
                o->dihedral_deg * M_PI / 180.0 - md_dihedral(t->x, q);
            md_rotate(nmove, move, &t->x[3 * q[2]], u, delta, t->x);
        }
        free(move);
        if (st != RPR_OK)
            goto cleanup;
    }
    if (o->orient) {
        /* Uniform rotation: a unit quaternion from four normals. */
        double qq[4], n = 0, c[3];
        for (int i = 0; i < 4; i++) {
            qq[i] = md_rng_normal(&t->rng);
            n += qq[i] * qq[i];
        }
        n = sqrt(n);
        const double angle = 2.0 * acos(fmin(1.0, fabs(qq[0]) / n));
        double u[3] = {qq[1], qq[2], qq[3]}, un = sqrt(md_dot(u, u));
        if (un > 0) {
            for (int k = 0; k < 3; k++)
                u[k] = (qq[0] < 0 ? -u[k] : u[k]) / un;
            md_center(nat, t->m, t->x, c);
            md_rotate(nat, NULL, c, u, angle, t->x);
        }
    }
    if (o->veloc != NULL) {
        double *v = NULL;
        st = rpr_table_read(o->veloc, nat, 3, &v, err);
        if (st != RPR_OK)
            goto cleanup;
        memcpy(t->v, v, 3 * nat * sizeof *v);
        rpr_free(v);
    } else {
        const double kT = RPR_KB_HARTREE * o->temperature_k;
        for (size_t a = 0; a < nat; a++)
            for (int k = 0; k < 3; k++)
                t->v[3 * a + k] = sqrt(kT / t->m[a]) * md_rng_normal(&t->rng);
        const size_t nrot = md_zero_momentum(nat, t->m, t->x, t->v);
        const size_t dof = 3 * nat - 3 - nrot;
        const double ek = md_ekin(t);
        if (o->rescale && dof > 0 && ek > 0)
            for (size_t i = 0; i < 3 * nat; i++)
                t->v[i] *= sqrt(0.5 * (double) dof * kT / ek);
    }
cleanup:
    rpr_geoms_free(g);
    return st;
}

/* ------------------------------------------------------------ trajectory */

/* Progress to report: a pipe (ensembles) or the terminal. */
typedef struct md_progress {
    int fd;  /* pipe to the parent, or -1 */
    int tty; /* print on stderr */
    double last;
    size_t nsteps;
} md_progress;

static void md_report(md_progress *p, const md_traj *t, int force)
{
    const double now = md_now();
    if (!force && now - p->last < 0.2)
        return;
    p->last = now;
    if (p->fd >= 0) {
        const uint64_t s = t->istep;
        if (write(p->fd, &s, sizeof s) < 0) {
            /* The parent is gone; the run goes on. */
        }
    }
    if (p->tty)
        fprintf(stderr, "\rrpr-md: step %zu/%zu  t = %.1f fs  drift %.2e eV ",
                t->istep, p->nsteps, t->t_fs,
                (t->etot_prev - t->etot0) * RPR_EV_PER_HARTREE);
}

/* One trajectory in dir (relative to the starting directory); the caller
 * returns to that directory. */
static rpr_status md_trajectory(const md_options *o, const char *dir,
                                uint64_t seed, md_progress *prog,
                                rpr_error *err)
{
    md_traj t;
    memset(&t, 0, sizeof t);
    char path[MD_PATH];
    rpr_status st = md_mkdir(dir, err);
    static const char *const subs[] = {"TEMP", "RESULTS", "DEBUG",
                                       "INFO_RESTART"};
    for (size_t i = 0; i < 4 && st == RPR_OK; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
        st = md_mkdir(path, err);
    }
    if (st != RPR_OK)
        return st;
    if (chdir(dir) != 0 || chdir("TEMP") != 0)
        return md_fail_errno(err, dir);
    struct stat sb;
    t.job_ad = stat("../JOB_AD", &sb) == 0 && S_ISDIR(sb.st_mode);
    const int have_state = access("../INFO_RESTART/rpr-md.state", F_OK) == 0;
    size_t nsteps = 0;
    const long long kmax = nx_files_time_key(o->tmax_fs);
    if (o->restart && have_state) {
        st = md_state_load(&t, o->nstat, err);
        if (st == RPR_OK && nx_files_time_key(t.t_fs) >= kmax)
            goto cleanup; /* finished already */
        if (st == RPR_OK &&
            (truncate("../RESULTS/en.dat", t.en_size) != 0 ||
             truncate("../RESULTS/geometries.xyz", t.log_size) != 0))
            st = md_fail_errno(err, "../RESULTS");
        if (st == RPR_OK)
            st = md_empty_dir(".", err);
        if (st != RPR_OK)
            goto cleanup;
        t.en = fopen("../RESULTS/en.dat", "a");
        t.log = fopen("../RESULTS/geometries.xyz", "a");
    } else {
        if (have_state) {
            st = nx_files_fail(err, RPR_EINVAL,
                               "%s holds a trajectory "
                               "(INFO_RESTART/rpr-md.state): continue it "
                               "with --restart, or remove it",
                               dir);
            goto cleanup;
        }
        if (o->restart && o->geom == NULL && o->xyz == NULL) {
            st = nx_files_fail(err, RPR_EINVAL,
                               "%s: nothing to restart, and no initial "
                               "conditions given",
                               dir);
            goto cleanup;
        }
        for (size_t i = 0; i < 4 && st == RPR_OK; i++) {
            snprintf(path, sizeof path, "../%s", subs[i]);
            st = md_empty_dir(path, err);
        }
        t.rng = seed;
        if (st == RPR_OK)
            st = md_initial(o, &t, err);
        /* The initial conditions, as Newton-X keeps them in TRAJ. */
        if (st == RPR_OK)
            st = md_write_geom("../geom", &t, t.x, err);
        if (st == RPR_OK)
            st = md_write_veloc("../veloc", &t, t.v, err);
        if (st == RPR_OK) {
            snprintf(path, sizeof path,
                     "&input\n nat = %zu\n nstat = %zu\n nstatdyn = %zu\n "
                     "dt = %g\n tmax = %g\n prog = 0\n thres = 0\n kt = 1\n/\n",
                     t.nat, o->nstat, o->state, o->dt_fs, o->tmax_fs);
            st = md_write_text("../control.dyn", path, err);
        }
        if (st != RPR_OK)
            goto cleanup;
        t.en = fopen("../RESULTS/en.dat", "w");
        t.log = fopen("../RESULTS/geometries.xyz", "w");
    }
    if (t.en == NULL || t.log == NULL) {
        st = md_fail_errno(err, "../RESULTS");
        goto cleanup;
    }
    snprintf(path, sizeof path, "%zu\n", o->state);
    st = md_write_text("curr_surf", path, err);
    /* Step 0, or the step a restart repeats: "initial run". */
    if (st == RPR_OK)
        st = md_inputs(o, &t, NX_RUN_INITIAL, err);
    if (st == RPR_OK)
        st = md_call(o, &t, err);
    if (st == RPR_OK)
        st = md_outputs(o, &t, err);
    if (st != RPR_OK)
        goto cleanup;
    t.ekin = md_ekin(&t);
    t.etot_prev = t.epot[o->state - 1] + t.ekin;
    if (!have_state || !o->restart) {
        t.etot0 = t.etot_prev;
        st = md_record(o, &t, err);
        if (st == RPR_OK)
            st = md_state_save(&t, err);
        if (st != RPR_OK)
            goto cleanup;
    }
    nsteps = t.istep +
             (size_t) fmax(0.0, ceil((o->tmax_fs - t.t_fs) / o->dt_fs - 0.5));
    prog->nsteps = nsteps;
    const double dt = o->dt_fs / RPR_FS_PER_AUT;
    const size_t n3 = 3 * t.nat;
    while (nx_files_time_key(t.t_fs) < kmax) {
        /* b: positions and the first half of the velocities. */
        for (size_t i = 0; i < n3; i++) {
            t.x[i] += t.v[i] * dt + 0.5 * t.a[i] * dt * dt;
            t.v[i] += 0.5 * t.a[i] * dt;
        }
        t.istep++;
        t.t_fs += o->dt_fs;
        st = md_inputs(o, &t, NX_RUN_FIRST, err);
        /* c, d: the program, then the second half. */
        if (st == RPR_OK)
            st = md_call(o, &t, err);
        if (st == RPR_OK)
            st = md_outputs(o, &t, err);
        if (st != RPR_OK)
            goto cleanup;
        for (size_t i = 0; i < n3; i++)
            t.v[i] += 0.5 * t.a[i] * dt;
        /* e: thermostat, records, checks; h: restart information. */
        if (o->andersen_per_fs > 0)
            md_andersen(o, &t);
        st = md_record(o, &t, err);
        if (st == RPR_OK)
            st = md_check_energy(o, &t, err);
        if (st == RPR_OK)
            st = md_state_save(&t, err);
        if (st != RPR_OK)
            goto cleanup;
        md_report(prog, &t, 0);
    }
    md_report(prog, &t, 1);
cleanup:
    md_traj_free(&t);
    return st;
}

/* ------------------------------------------------------------ ensembles */

/* Seed of run k: splitmix64 of (seed, k), so runs are independent and
 * each is reproducible alone. */
static uint64_t md_run_seed(uint64_t seed, size_t k)
{
    uint64_t s = seed ^ (UINT64_C(0xd1b54a32d192ed03) * (uint64_t) (k + 1));
    return md_rng_next(&s);
}

typedef struct md_child {
    pid_t pid;
    int fd;
    size_t run;
    uint64_t step;
} md_child;

static int md_ensemble(const md_options *o, const char *dir)
{
    rpr_error err;
    if (md_mkdir(dir, &err) != RPR_OK) {
        fprintf(stderr, "rpr-md: %s\n", err.message);
        return 1;
    }
    const size_t P = o->parallel < o->runs ? o->parallel : o->runs;
    md_child *kids = calloc(P, sizeof *kids);
    unsigned char *failed = calloc(o->runs, 1);
    if (kids == NULL || failed == NULL) {
        fprintf(stderr, "rpr-md: out of memory\n");
        return 1;
    }
    const int tty = !o->quiet && isatty(2);
    const size_t steps_per_run = (size_t) ceil(o->tmax_fs / o->dt_fs - 0.5);
    size_t next = 0, done = 0, nfailed = 0, running = 0;
    uint64_t finished_steps = 0;
    double last = 0;
    fflush(NULL);
    while (done < o->runs) {
        /* Start runs while there is room. */
        while (running < P && next < o->runs) {
            int pfd[2];
            if (pipe(pfd) != 0) {
                perror("rpr-md: pipe");
                return 1;
            }
            const pid_t pid = fork();
            if (pid < 0) {
                perror("rpr-md: fork");
                return 1;
            }
            if (pid == 0) {
                close(pfd[0]);
                char sub[MD_PATH];
                snprintf(sub, sizeof sub, "%s/run%04zu", dir, next + 1);
                md_progress prog = {pfd[1], 0, 0, 0};
                rpr_error e;
                const rpr_status st = md_trajectory(
                    o, sub, md_run_seed(o->seed, next), &prog, &e);
                if (st != RPR_OK) {
                    /* In the run's own log; the parent names the run. */
                    FILE *f = fopen("../moldyn.log", "a");
                    if (f != NULL) {
                        fprintf(f, "rpr-md: %s\n", e.message);
                        fclose(f);
                    }
                    fprintf(stderr, "%srpr-md: %s: %s\n", tty ? "\n" : "", sub,
                            e.message);
                }
                _exit(st == RPR_OK ? 0 : 1);
            }
            close(pfd[1]);
            for (size_t i = 0; i < P; i++)
                if (kids[i].pid == 0) {
                    kids[i] = (md_child){pid, pfd[0], next, 0};
                    break;
                }
            next++;
            running++;
        }
        /* Progress from the pipes; a closed pipe means the run ended. */
        struct pollfd pf[64];
        size_t map[64], np = 0;
        for (size_t i = 0; i < P && np < 64; i++)
            if (kids[i].pid != 0) {
                pf[np] = (struct pollfd){kids[i].fd, POLLIN, 0};
                map[np++] = i;
            }
        if (poll(pf, (nfds_t) np, 200) < 0 && errno != EINTR) {
            perror("rpr-md: poll");
            return 1;
        }
        for (size_t j = 0; j < np; j++) {
            if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            md_child *k = &kids[map[j]];
            uint64_t s;
            const ssize_t r = read(k->fd, &s, sizeof s);
            if (r == (ssize_t) sizeof s) {
                k->step = s;
                continue;
            }
            int status;
            close(k->fd);
            while (waitpid(k->pid, &status, 0) < 0 && errno == EINTR) {
            }
            if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                failed[k->run] = 1;
                nfailed++;
            }
            finished_steps += k->step;
            k->pid = 0;
            running--;
            done++;
        }
        const double now = md_now();
        if (tty && (now - last > 0.2 || done == o->runs)) {
            uint64_t steps = finished_steps;
            for (size_t i = 0; i < P; i++)
                if (kids[i].pid != 0)
                    steps += kids[i].step;
            fprintf(stderr,
                    "\rrpr-md: %zu/%zu runs done, %zu running, %zu failed, "
                    "%llu/%llu steps ",
                    done, o->runs, running, nfailed, (unsigned long long) steps,
                    (unsigned long long) (steps_per_run * o->runs));
            last = now;
        }
    }
    if (tty)
        fputc('\n', stderr);
    for (size_t k = 0; k < o->runs; k++)
        if (failed[k])
            fprintf(stderr,
                    "rpr-md: %s/run%04zu failed (see its moldyn.log "
                    "and DEBUG/runnx.error)\n",
                    dir, k + 1);
    free(kids);
    free(failed);
    return nfailed > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    md_options o;
    const char *dir;
    md_parse_options(argc, argv, &o, &dir);
    /* The program runs once per step on small matrices: an OpenBLAS
     * thread pool, started when the library loads, would only cost time
     * (docs/newton-x.md).  A value the user set is kept. */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    int rc;
    if (o.runs > 0) {
        rc = md_ensemble(&o, dir);
    } else {
        md_progress prog = {-1, !o.quiet && isatty(2), 0, 0};
        rpr_error err;
        const double t0 = md_now();
        const rpr_status st = md_trajectory(&o, dir, o.seed, &prog, &err);
        if (prog.tty)
            fputc('\n', stderr);
        if (st != RPR_OK)
            fprintf(stderr, "rpr-md: %s: %s\n", dir, err.message);
        else if (!o.quiet)
            fprintf(stderr, "rpr-md: %s: done in %.1f s\n", dir, md_now() - t0);
        rc = st == RPR_OK ? 0 : 1;
    }
    free(o.program_abs);
    free(o.geom);
    free(o.xyz);
    free(o.veloc);
    return rc;
}
