/*
 * rpr_nx.c - rpr-nx, the program Newton-X runs at every MD step: KREG
 * energies and gradients for the dynamics, dipole and polarizability for
 * the spectra (docs/rpr-nx.1, docs/newton-x.md).
 *
 * One step: read control.d and geom (or, in NS mode, user_config.nml and
 * mol.init.xyz), find the models through rpr-nx.par, predict everything,
 * and only then write, each file replaced atomically (nx_files_replace),
 * so a failure at any point leaves the previous epot and grad whole.  Any
 * failure prints one line on stderr and exits 1: Newton-X appends stderr
 * to DEBUG/runnx.error and stops the trajectory.
 *
 * Speed: Newton-X starts this program afresh every step, so everything
 * here happens once per process.  The models come from one mapped bundle
 * file (rpr_model_bundle_open, <traj>/rpr-nx.cache); rpr-nx never parses
 * XML and links neither libxml2 nor OpenBLAS.  When the bundle is missing
 * or stale it hands the step to rpr-nx-full (nx_lazy.c), this same file
 * compiled with NX_LAZY_FULL and linked normally, which parses the models
 * and rewrites the bundle.  docs/newton-x.md records what each part costs.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nx_files.h"
#include "nx_lazy.h"
#include "rpr.h"

enum {
    RPR_NX_MAX_STATES = 99, /* energy1 .. energy99 in rpr-nx.par */
    RPR_NX_PATH = 4096
};

static const char rpr_nx_usage[] =
    "usage: rpr-nx [--ns] [--help] [--version]\n"
    "Run by Newton-X in TRAJ/TEMP at every step, without arguments: reads\n"
    "control.d, geom, curr_surf, which_run_is_that and rpr-nx.par (from\n"
    "$RPR_NX_PAR, else ../rpr-nx.par, else ./rpr-nx.par); writes epot,\n"
    "grad, grad.all (and nad_vectors when nstat > 1) and appends one record\n"
    "to ../RESULTS/rpr-properties.dat.\n"
    "  --ns  Newton-X NS job-directory layout (TRAJ/TEMP/<prog>.job:\n"
    "        ../../user_config.nml, mol.init.xyz in angstrom); also\n"
    "        RPR_NX_MODE=ns.  Follows the documented fromage layout,\n"
    "        unverified against Newton-X NS itself.\n"
    "Environment: RPR_NX_PAR (parameter file), RPR_NX_MODE (cs or ns),\n"
    "RPR_NX_TIMING (print a timing line on stderr).  See rpr-nx(1).\n";

/* Everything one step needs; freed by rpr_nx_free. */
typedef struct rpr_nx {
    int ns;
    const char *traj; /* trajectory directory relative to cwd */
    nx_par *par;
    char *par_dir; /* directory of the parameter file, for relative paths */
    nx_control ctl;
    nx_run run;
    size_t state; /* current state, 1-based */
    rpr_geoms *geoms;
    /* Models: energy per state, then dipole and polarizability (NULL when
     * absent), with their paths and workspaces; borrowed from the bundle. */
    size_t nmodels;
    rpr_model_bundle *bundle;
    const rpr_model *model[RPR_NX_MAX_STATES + 2];
    rpr_workspace *ws[RPR_NX_MAX_STATES + 2];
    char *path[RPR_NX_MAX_STATES + 2];
    char key[RPR_NX_MAX_STATES + 2][32]; /* its key in rpr-nx.par */
    int properties;                      /* write the property record */
    const char *ns_energies, *ns_gradients;
    /* Results. */
    double *energy; /* [nstat] */
    double *grad;   /* [nstat][nat][3] */
    nx_record rec;
} rpr_nx;

static double rpr_nx_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static void rpr_nx_free(rpr_nx *nx)
{
    for (size_t i = 0; i < RPR_NX_MAX_STATES + 2; i++) {
        rpr_workspace_free(nx->ws[i]);
        free(nx->path[i]);
    }
    rpr_model_bundle_free(nx->bundle);
    rpr_geoms_free(nx->geoms);
    nx_files_par_free(nx->par);
    free(nx->par_dir);
    free(nx->energy);
    free(nx->grad);
}

static char *rpr_nx_strdup(const char *s)
{
    const size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* dir/rel, or rel itself when it is absolute. */
static char *rpr_nx_join(const char *dir, const char *rel)
{
    if (rel[0] == '/' || dir == NULL || dir[0] == '\0')
        return rpr_nx_strdup(rel);
    const size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

/* ------------------------------------------------------------ parameters */

/* Find and read rpr-nx.par: $RPR_NX_PAR, else <traj>/rpr-nx.par, else the
 * copy Newton-X CS made in the working directory. */
static rpr_status rpr_nx_read_par(rpr_nx *nx, rpr_error *err)
{
    char trajpar[RPR_NX_PATH];
    const char *path = getenv("RPR_NX_PAR");
    if (path == NULL || path[0] == '\0') {
        snprintf(trajpar, sizeof trajpar, "%s/rpr-nx.par", nx->traj);
        if (access(trajpar, F_OK) == 0)
            path = trajpar;
        else if (access("rpr-nx.par", F_OK) == 0)
            path = "rpr-nx.par";
        else
            return nx_files_fail(err, RPR_EIO,
                                 "no parameter file: neither %s nor "
                                 "./rpr-nx.par exists and RPR_NX_PAR is not "
                                 "set (it names the models; see rpr-nx(1))",
                                 trajpar);
    }
    rpr_status st = nx_files_par_read(path, &nx->par, err);
    if (st != RPR_OK)
        return st;
    const char *slash = strrchr(path, '/');
    nx->par_dir = malloc(slash != NULL ? (size_t) (slash - path) + 1 : 2);
    if (nx->par_dir == NULL)
        return nx_files_fail(err, RPR_ENOMEM, "out of memory");
    if (slash != NULL) {
        memcpy(nx->par_dir, path, (size_t) (slash - path));
        nx->par_dir[slash - path] = '\0';
        if (slash == path)
            strcpy(nx->par_dir, "/");
    } else {
        strcpy(nx->par_dir, ".");
    }
    return RPR_OK;
}

static rpr_status rpr_nx_yes_no(rpr_nx *nx, const char *key, int def, int *out,
                                rpr_error *err)
{
    size_t line;
    const char *v = nx_files_par_get(nx->par, key, &line);
    *out = def;
    if (v == NULL)
        return RPR_OK;
    if (strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "no") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return nx_files_fail(err, RPR_EPARSE,
                             "%s:%zu: %s must be yes or no, not \"%s\"",
                             nx_files_par_path(nx->par), line, key, v);
    return RPR_OK;
}

/* Model paths and options from the parameter file; every key must be
 * known, so that a typo cannot silently drop a model. */
static rpr_status rpr_nx_configure(rpr_nx *nx, rpr_error *err)
{
    const char *const par = nx_files_par_path(nx->par);
    const size_t nstat = nx->ctl.nstat;
    if (nstat > RPR_NX_MAX_STATES)
        return nx_files_fail(err, RPR_EINVAL, "nstat = %zu, at most %d", nstat,
                             RPR_NX_MAX_STATES);
    /* "energy" is state 1; "energyK" state K.  Keys for states above
     * nstat are allowed (one file serves runs with fewer states). */
    char key[32];
    size_t line1, line;
    const char *e = nx_files_par_get(nx->par, "energy", &line1);
    const char *e1 = nx_files_par_get(nx->par, "energy1", &line);
    if (e != NULL && e1 != NULL)
        return nx_files_fail(err, RPR_EPARSE,
                             "%s:%zu: energy and energy1 both name the model "
                             "of state 1",
                             par, line);
    for (size_t k = 1; k <= RPR_NX_MAX_STATES; k++) {
        snprintf(key, sizeof key, "energy%zu", k);
        const char *v = k == 1 ? (e != NULL ? e : e1)
                               : nx_files_par_get(nx->par, key, NULL);
        if (k > nstat)
            continue;
        if (v == NULL)
            return nx_files_fail(err, RPR_EPARSE,
                                 "%s: no energy model for state %zu (nstat = "
                                 "%zu): add \"%s = <model file>\"",
                                 par, k, nstat, k == 1 ? "energy" : key);
        if (k == 1)
            snprintf(nx->key[0], sizeof nx->key[0], "%s",
                     e != NULL ? "energy" : "energy1");
        else
            snprintf(nx->key[k - 1], sizeof nx->key[k - 1], "%s", key);
        if ((nx->path[k - 1] = rpr_nx_join(nx->par_dir, v)) == NULL)
            return nx_files_fail(err, RPR_ENOMEM, "out of memory");
    }
    const char *names[2] = {"dipole", "polarizability"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = nx_files_par_get(nx->par, names[i], NULL);
        snprintf(nx->key[nstat + i], sizeof nx->key[nstat + i], "%s", names[i]);
        if (v != NULL && strcmp(v, "none") != 0 &&
            (nx->path[nstat + i] = rpr_nx_join(nx->par_dir, v)) == NULL)
            return nx_files_fail(err, RPR_ENOMEM, "out of memory");
    }
    nx->nmodels = nstat + 2;
    rpr_status st = rpr_nx_yes_no(nx, "properties", 1, &nx->properties, err);
    if (st != RPR_OK)
        return st;
    nx->ns_energies = nx_files_par_get(nx->par, "ns_energies", NULL);
    nx->ns_gradients = nx_files_par_get(nx->par, "ns_gradients", NULL);
    if (nx->ns_energies == NULL)
        nx->ns_energies = "fro_energies.dat";
    if (nx->ns_gradients == NULL)
        nx->ns_gradients = "fro_gradients.dat";
    const char *unknown = nx_files_par_unused(nx->par, &line);
    if (unknown != NULL)
        return nx_files_fail(err, RPR_EPARSE,
                             "%s:%zu: unknown key \"%s\" (known: energy, "
                             "energyK, dipole, polarizability, properties, "
                             "ns_energies, ns_gradients)",
                             par, line, unknown);
    return RPR_OK;
}

/* ------------------------------------------------------------ inputs */

/* Newton-X CS: control.d, geom, curr_surf, which_run_is_that in cwd. */
static rpr_status rpr_nx_read_cs(rpr_nx *nx, rpr_error *err)
{
    rpr_status st = nx_files_read_control("control.d", &nx->ctl, err);
    if (st != RPR_OK)
        return st;
    st = rpr_geoms_read_nx("geom", &nx->geoms, err);
    if (st != RPR_OK)
        return st;
    const size_t nat = rpr_geoms_natoms(nx->geoms);
    if (nat != nx->ctl.nat)
        return nx_files_fail(err, RPR_EPARSE,
                             "geom has %zu atoms, control.d says nat = %zu",
                             nat, nx->ctl.nat);
    st = nx_files_read_state("curr_surf", nx->ctl.nstat, nx->ctl.nstatdyn,
                             &nx->state, err);
    if (st != RPR_OK)
        return st;
    return nx_files_read_run("which_run_is_that", &nx->run, err);
}

/* 64-bit FNV-1a of the coordinates: recognises the same geometry called
 * again (NS gives no step counter to rpr). */
static uint64_t rpr_nx_hash(const double *x, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    const unsigned char *p = (const unsigned char *) x;
    for (size_t i = 0; i < n * sizeof *x; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

/*
 * Newton-X NS (unverified layout, docs/newton-x.md): sizes from
 * ../../user_config.nml, geometry mol.init.xyz (angstrom), state from
 * current_state.dat.  NS passes no step or time, so rpr counts its calls
 * in <traj>/RESULTS/rpr-nx-ns.state: the same geometry again (a second run
 * after a hop, the repeated step of a restart) keeps the step, any other
 * advances it by dt.
 */
static rpr_status rpr_nx_read_ns(rpr_nx *nx, rpr_error *err)
{
    char path[RPR_NX_PATH];
    nx_par *cfg = NULL;
    snprintf(path, sizeof path, "%s/user_config.nml", nx->traj);
    rpr_status st = nx_files_par_read(path, &cfg, err);
    if (st != RPR_OK)
        return st;
    static const char *const keys[] = {"nat", "nstat", "nstatdyn", "dt"};
    const char *v[4];
    for (size_t i = 0; i < 4; i++) {
        v[i] = nx_files_par_get(cfg, keys[i], NULL);
        if (v[i] == NULL && i != 2) {
            st = nx_files_fail(err, RPR_EPARSE, "%s: no %s", path, keys[i]);
            goto cleanup;
        }
    }
    /* control.d's parser, on the equivalent line. */
    char line[256];
    snprintf(line, sizeof line, "%s,0,%s,%s,0,1,%s,0", v[0], v[1],
             v[2] != NULL ? v[2] : "1", v[3]);
    st = nx_files_parse_control(line, path, &nx->ctl, err);
    if (st != RPR_OK)
        goto cleanup;
    st = rpr_geoms_read_xyz("mol.init.xyz", &nx->geoms, err);
    if (st != RPR_OK)
        goto cleanup;
    const size_t nat = rpr_geoms_natoms(nx->geoms);
    if (nat != nx->ctl.nat || rpr_geoms_nframes(nx->geoms) != 1) {
        st =
            nx_files_fail(err, RPR_EPARSE,
                          "mol.init.xyz: %zu atoms in %zu frame(s), %s says "
                          "nat = %zu in one",
                          nat, rpr_geoms_nframes(nx->geoms), path, nx->ctl.nat);
        goto cleanup;
    }
    st = nx_files_read_state("current_state.dat", nx->ctl.nstat,
                             nx->ctl.nstatdyn, &nx->state, err);
    if (st != RPR_OK)
        goto cleanup;
    /* The call counter. */
    const uint64_t h = rpr_nx_hash(rpr_geoms_xyz(nx->geoms), 3 * nat);
    snprintf(path, sizeof path, "%s/RESULTS/rpr-nx-ns.state", nx->traj);
    unsigned long long step = 0, oldh = 0;
    int have = 0;
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        have = fscanf(f, "%llu %llx", &step, &oldh) == 2;
        fclose(f);
    }
    if (have && oldh != h)
        step++;
    else if (!have)
        step = 0;
    nx->ctl.istep = (size_t) step;
    nx->ctl.t_fs = (double) step * nx->ctl.dt_fs;
    nx->run = NX_RUN_UNKNOWN;
    snprintf(line, sizeof line, "%llu %llx\n", step, (unsigned long long) h);
    st = nx_files_replace(path, line, strlen(line), err);
cleanup:
    nx_files_par_free(cfg);
    return st;
}

/* ------------------------------------------------------------ models */

/* Where the bundle of the models lives: in the trajectory directory,
 * which rpr-nx writes to anyway (RESULTS), one per trajectory. */
static const char rpr_nx_bundle_name[] = "rpr-nx.cache";

/* Is model i needed in this run? */
static int rpr_nx_wanted(const rpr_nx *nx, size_t i)
{
    return nx->path[i] != NULL && (i < nx->ctl.nstat || nx->properties);
}

/* Open the bundle of the models needed (each distinct file once):
 * rpr-nx-full parses stale models and rewrites the bundle, rpr-nx hands
 * the step to rpr-nx-full if the bundle is not usable as it is. */
static rpr_status rpr_nx_open_bundle(rpr_nx *nx, size_t *slot, rpr_error *err)
{
    const char *files[RPR_NX_MAX_STATES + 2];
    size_t nfiles = 0;
    for (size_t i = 0; i < nx->nmodels; i++) {
        if (!rpr_nx_wanted(nx, i))
            continue;
        size_t j = 0;
        while (j < nfiles && strcmp(files[j], nx->path[i]) != 0)
            j++;
        if (j == nfiles)
            files[nfiles++] = nx->path[i];
        slot[i] = j;
    }
    char path[RPR_NX_PATH];
    snprintf(path, sizeof path, "%s/%s", nx->traj, rpr_nx_bundle_name);
#ifdef NX_LAZY_FULL
    const rpr_model_loader load = rpr_model_load;
#else
    const rpr_model_loader load = NULL; /* no XML parser in rpr-nx */
#endif
    rpr_status st =
        rpr_model_bundle_open(path, nfiles, files, load, &nx->bundle, err);
    if (st != RPR_OK) {
        /* The library's message names the file (and line); add the key
         * that named the file. */
        char msg[sizeof err->message];
        memcpy(msg, err->message, sizeof msg);
        for (size_t i = 0; i < nx->nmodels; i++) {
            if (!rpr_nx_wanted(nx, i))
                continue;
            const size_t pl = strlen(nx->path[i]);
            if (strncmp(msg, nx->path[i], pl) == 0)
                return nx_files_fail(err, st, "%s (from \"%s\" in %s)", msg,
                                     nx->key[i], nx_files_par_path(nx->par));
        }
        return nx_files_fail(err, st, "%s", msg);
    }
    if (nx->bundle == NULL)
        return nx_lazy_handover(path, err);
    return RPR_OK;
}

static rpr_status rpr_nx_load(rpr_nx *nx, rpr_error *err)
{
    static const rpr_property want_dp[2] = {RPR_PROPERTY_DIPOLE,
                                            RPR_PROPERTY_POLARIZABILITY};
    const size_t nstat = nx->ctl.nstat;
    const size_t nat = rpr_geoms_natoms(nx->geoms);
    const int *numbers = rpr_geoms_numbers(nx->geoms);
    const char *const par = nx_files_par_path(nx->par);
    size_t slot[RPR_NX_MAX_STATES + 2];
    rpr_status st = rpr_nx_open_bundle(nx, slot, err);
    if (st != RPR_OK)
        return st;
    for (size_t i = 0; i < nx->nmodels; i++) {
        if (!rpr_nx_wanted(nx, i))
            continue;
        nx->model[i] = rpr_model_bundle_model(nx->bundle, slot[i]);
        const rpr_property want =
            i < nstat ? RPR_PROPERTY_ENERGY : want_dp[i - nstat];
        const rpr_property got = rpr_model_property(nx->model[i]);
        if (got != want)
            return nx_files_fail(err, RPR_EINVAL,
                                 "%s: the model predicts %s, but %s in %s "
                                 "needs %s",
                                 nx->path[i], rpr_property_name(got),
                                 nx->key[i], par, rpr_property_name(want));
        if (rpr_model_natoms(nx->model[i]) != nat)
            return nx_files_fail(err, RPR_EINVAL,
                                 "%s: the model has %zu atoms, the geometry "
                                 "%zu",
                                 nx->path[i], rpr_model_natoms(nx->model[i]),
                                 nat);
        const int *mz = rpr_model_numbers(nx->model[i]);
        for (size_t a = 0; a < nat; a++)
            if (mz[a] != numbers[a]) {
                const char *g = rpr_element_symbol(numbers[a]);
                const char *m = rpr_element_symbol(mz[a]);
                return nx_files_fail(err, RPR_EINVAL,
                                     "%s: atom %zu of the geometry is %s, "
                                     "the model has %s there (same atoms in "
                                     "the same order needed)",
                                     nx->path[i], a + 1, g != NULL ? g : "?",
                                     m != NULL ? m : "?");
            }
        nx->ws[i] = rpr_workspace_new(nx->model[i]);
        if (nx->ws[i] == NULL)
            return nx_files_fail(err, RPR_ENOMEM, "%s: out of memory",
                                 nx->path[i]);
    }
    return RPR_OK;
}

/* ------------------------------------------------------------ predict */

static rpr_status rpr_nx_predict(rpr_nx *nx, rpr_error *err)
{
    const size_t nstat = nx->ctl.nstat;
    const size_t nat = rpr_geoms_natoms(nx->geoms);
    const int *numbers = rpr_geoms_numbers(nx->geoms);
    const double *xyz = rpr_geoms_xyz(nx->geoms);
    nx->energy = malloc(nstat * sizeof *nx->energy);
    nx->grad = malloc(nstat * 3 * nat * sizeof *nx->grad);
    if (nx->energy == NULL || nx->grad == NULL)
        return nx_files_fail(err, RPR_ENOMEM, "out of memory");
    for (size_t k = 0; k < nstat; k++) {
        double *g = nx->grad + 3 * nat * k;
        rpr_status st = rpr_predict(nx->model[k], nx->ws[k], nat, numbers, xyz,
                                    &nx->energy[k], g, NULL, err);
        int finite = isfinite(nx->energy[k]);
        for (size_t i = 0; i < 3 * nat; i++)
            finite = finite && isfinite(g[i]);
        if (st == RPR_OK && !finite)
            st = nx_files_fail(err, RPR_ENONFINITE, "non-finite result");
        if (st != RPR_OK) {
            char msg[sizeof err->message];
            memcpy(msg, err->message, sizeof msg);
            return nx_files_fail(
                err, st, "%s: state %zu at t = %.4f fs (step %zu): %s",
                nx->path[k], k + 1, nx->ctl.t_fs, nx->ctl.istep, msg);
        }
    }
    nx_record *r = &nx->rec;
    r->t_fs = nx->ctl.t_fs;
    r->step = nx->ctl.istep;
    r->run = nx->run;
    r->energy = nx->energy[nx->state - 1];
    for (size_t c = 0; c < 3; c++)
        r->mu[c] = NAN;
    for (size_t c = 0; c < 6; c++)
        r->alpha[c] = NAN;
    r->gap12 = r->gap23 = r->sign_min = NAN;
    r->w_principal = r->w_kabsch = NAN;
    r->kabsch_rel_margin = r->blend_fallback = r->w_relabel = NAN;
    /* The frame columns come from the dipole model, else the
     * polarizability model. */
    int have_health = 0;
    for (size_t i = 0; i < 2; i++) {
        const size_t m = nstat + i;
        if (nx->model[m] == NULL)
            continue;
        double *v = i == 0 ? r->mu : r->alpha;
        const size_t nc = i == 0 ? 3 : 6;
        /* Only the first model's health is recorded: the second is not
         * asked for it (without a principal sub-model rpr_predict would
         * diagonalise the inertia tensor for it alone). */
        rpr_frame_health h;
        rpr_status st = rpr_predict(nx->model[m], nx->ws[m], nat, numbers, xyz,
                                    v, NULL, have_health ? NULL : &h, err);
        int finite = 1;
        for (size_t c = 0; c < nc; c++)
            finite = finite && isfinite(v[c]);
        if (st == RPR_OK && !finite)
            st = nx_files_fail(err, RPR_ENONFINITE, "non-finite result");
        if (st != RPR_OK) {
            char msg[sizeof err->message];
            memcpy(msg, err->message, sizeof msg);
            return nx_files_fail(err, st, "%s: t = %.4f fs (step %zu): %s",
                                 nx->path[m], nx->ctl.t_fs, nx->ctl.istep, msg);
        }
        if (!have_health) {
            have_health = 1;
            r->gap12 = h.gap12;
            r->gap23 = h.gap23;
            r->sign_min =
                fmin(h.sign_reliability[0],
                     fmin(h.sign_reliability[1], h.sign_reliability[2]));
            r->w_principal = h.weight_principal;
            r->w_kabsch = h.weight_kabsch;
            r->kabsch_rel_margin = h.kabsch_rel_margin;
            r->blend_fallback = h.blend_fallback;
            r->w_relabel = h.relabel_weight;
        }
    }
    return RPR_OK;
}

/* ------------------------------------------------------------ outputs */

static rpr_status rpr_nx_write(const rpr_nx *nx, rpr_error *err)
{
    const size_t nstat = nx->ctl.nstat;
    const size_t nat = rpr_geoms_natoms(nx->geoms);
    rpr_status st;
    if (nx->ns) {
        st = nx_files_write_matrix(nx->ns_energies, nstat, 1, nx->energy, err);
        if (st == RPR_OK)
            st = nx_files_write_matrix(nx->ns_gradients, nstat * nat, 3,
                                       nx->grad, err);
    } else {
        st = nx_files_write_matrix("epot", nstat, 1, nx->energy, err);
        if (st == RPR_OK)
            st = nx_files_write_matrix(
                "grad", nat, 3, nx->grad + 3 * nat * (nx->state - 1), err);
        if (st == RPR_OK)
            st = nx_files_write_matrix("grad.all", nstat * nat, 3, nx->grad,
                                       err);
        /* Couplings h_kj for k > j, none from this model. */
        if (st == RPR_OK && nstat > 1)
            st = nx_files_write_matrix(
                "nad_vectors", nat * nstat * (nstat - 1) / 2, 3, NULL, err);
    }
    if (st == RPR_OK && nx->properties) {
        char path[RPR_NX_PATH];
        snprintf(path, sizeof path, "%s/RESULTS/rpr-properties.dat", nx->traj);
        st = nx_files_props_upsert(path, &nx->rec, err);
    }
    return st;
}

int main(int argc, char **argv)
{
    const double t_start = rpr_nx_now();
    nx_lazy_init(argv);
    rpr_nx nx;
    rpr_error err;
    memset(&nx, 0, sizeof nx);
    memset(&err, 0, sizeof err);

    const char *mode = getenv("RPR_NX_MODE");
    nx.ns = mode != NULL && strcmp(mode, "ns") == 0;
    if (mode != NULL && !nx.ns && strcmp(mode, "cs") != 0 && mode[0] != '\0') {
        fprintf(stderr, "rpr-nx: RPR_NX_MODE must be cs or ns, not \"%s\"\n",
                mode);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ns") == 0) {
            nx.ns = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(rpr_nx_usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("rpr-nx %s\n", rpr_version());
            return 0;
        } else {
            fprintf(stderr, "rpr-nx: unknown argument \"%s\" (try --help)\n",
                    argv[i]);
            return 2;
        }
    }
    nx.traj = nx.ns ? "../.." : "..";
#ifdef NX_LAZY_FULL
    /* Small matrices, one process per step: never start BLAS threads. */
    rpr_set_num_threads(1);
#endif

    rpr_status st =
        nx.ns ? rpr_nx_read_ns(&nx, &err) : rpr_nx_read_cs(&nx, &err);
    if (st == RPR_OK)
        st = rpr_nx_read_par(&nx, &err);
    if (st == RPR_OK)
        st = rpr_nx_configure(&nx, &err);
    const double t_parsed = rpr_nx_now();
    if (st == RPR_OK)
        st = rpr_nx_load(&nx, &err);
    const double t_loaded = rpr_nx_now();
    if (st == RPR_OK)
        st = rpr_nx_predict(&nx, &err);
    const double t_predicted = rpr_nx_now();
    if (st == RPR_OK)
        st = rpr_nx_write(&nx, &err);
    const double t_written = rpr_nx_now();
    rpr_nx_free(&nx);
    if (st != RPR_OK) {
        fprintf(stderr, "rpr-nx: %s\n", err.message);
        return 1;
    }
    /* For the benchmark: RPR_NX_TIMING holds the CLOCK_MONOTONIC time of
     * the spawn in ns (or anything, then exec is not reported). */
    const char *timing = getenv("RPR_NX_TIMING");
    if (timing != NULL) {
        char *end;
        const double t0 = strtod(timing, &end) * 1e-9;
        fprintf(stderr,
                "rpr-nx timing: exec %.1f parse %.1f load %.1f predict %.1f "
                "write %.1f us\n",
                end != timing && *end == '\0' ? 1e6 * (t_start - t0) : NAN,
                1e6 * (t_parsed - t_start), 1e6 * (t_loaded - t_parsed),
                1e6 * (t_predicted - t_loaded),
                1e6 * (t_written - t_predicted));
    }
    return 0;
}
