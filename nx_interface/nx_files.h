/*
 * nx_files.h - the Newton-X files that rpr-nx and rpr-md read and write
 * (program code, not part of librpr).  File formats, units and the
 * reasons behind them: docs/newton-x.md and the Newton-X contract notes.
 *
 * This file calls no rpr_* function, only uses the public types of rpr.h,
 * so the benchmark's floor program (tests/bench/nx_floor.c) can link it
 * without librpr and write exactly what rpr-nx writes.
 *
 * Every fallible call returns rpr_status and fills the caller's rpr_error
 * (which may be NULL) on failure only, with a message that starts with the
 * file name (and line, where there is one).
 */
#ifndef RPR_NX_FILES_H
#define RPR_NX_FILES_H

#include <stddef.h>

#include "rpr.h"

#if defined(__GNUC__)
#define NX_FILES_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NX_FILES_PRINTF(f, a)
#endif

/* Fill err (if not NULL) and return status.  Programs cannot reach the
 * library's error_set(), so nx_files, rpr-nx and rpr-md share this one. */
rpr_status nx_files_fail(rpr_error *err, rpr_status status, const char *fmt,
                         ...) NX_FILES_PRINTF(3, 4);

/* ------------------------------------------------------------ control.d */

/* Fields of Newton-X CS's control.d that rpr uses (0-based positions 0, 1,
 * 2, 3, 6, 7 of the comma-separated line; the rest are ignored). */
typedef struct nx_control {
    size_t nat;      /* atoms */
    size_t istep;    /* step of the geometry in `geom` */
    size_t nstat;    /* electronic states, >= 1 */
    size_t nstatdyn; /* state of the dynamics, 1-based, <= nstat */
    double dt_fs;    /* time step, fs, > 0 */
    double t_fs;     /* time of the geometry in `geom`, fs, >= 0 */
} nx_control;

/*
 * Read control.d: one line of at least 8 comma-separated fields; extra
 * fields and trailing lines are ignored.  Integers must be plain decimal
 * numbers ("8", "  8"), times finite reals.
 * @return RPR_OK, RPR_EIO (cannot open or read), RPR_EPARSE (too few
 *   fields, a field that is not a number, nat or nstat 0, nstatdyn out of
 *   1..nstat, dt <= 0, t < 0), each naming the field.
 */
rpr_status nx_files_read_control(const char *path, nx_control *ctl,
                                 rpr_error *err);

/* The same for one line already in memory (cut in place); path is for
 * messages.  Newton-X NS mode builds such a line from user_config.nml. */
rpr_status nx_files_parse_control(char *line, const char *path, nx_control *ctl,
                                  rpr_error *err);

/*
 * Write control.d as Newton-X CS's Perl rewrite_ctd does (20 fields, its
 * printf widths; times with 4 decimals), for a ground-state run with
 * prog = 0: nintc = 3 nat - 6, mem 200, thres 0, killstat 1, lvprt 1,
 * Etot_jump = Etot_drift = 0.5 eV; with nx_files_overwrite, so not
 * atomically (the caller runs the reader only afterwards).
 * @return RPR_OK or RPR_EIO.
 */
rpr_status nx_files_write_control(const char *path, const nx_control *ctl,
                                  double tmax_fs, rpr_error *err);

/* ------------------------------------------------------------ small files */

/* The call Newton-X makes, from `which_run_is_that`. */
typedef enum nx_run {
    NX_RUN_UNKNOWN = 0, /* no which_run_is_that file */
    NX_RUN_INITIAL =
        1,            /* "initial run": step 0, or the first after a restart */
    NX_RUN_FIRST = 2, /* "first run": a new step */
    NX_RUN_SECOND = 3 /* "second run": the same step again after a hop */
} nx_run;

/* "unknown", "initial", "first", "second" (the property file's run
 * column); "unknown" past the end. */
const char *nx_files_run_name(nx_run run);

/*
 * Read which_run_is_that: "initial run", "first run" or "second run"
 * (surrounding blanks and a line break allowed).  A missing file gives
 * NX_RUN_UNKNOWN and RPR_OK; other text is RPR_EPARSE.
 */
rpr_status nx_files_read_run(const char *path, nx_run *run, rpr_error *err);

/* Write "initial run" (etc.) and a line break (nx_files_overwrite).
 * RPR_EINVAL for NX_RUN_UNKNOWN, RPR_EIO. */
rpr_status nx_files_write_run(const char *path, nx_run run, rpr_error *err);

/*
 * Read the current state (curr_surf, or NS current_state.dat): one
 * integer in 1..nstat.  A missing file gives *state = fallback and RPR_OK.
 * @return RPR_OK, RPR_EIO, RPR_EPARSE (not an integer, out of range).
 */
rpr_status nx_files_read_state(const char *path, size_t nstat, size_t fallback,
                               size_t *state, rpr_error *err);

/* ------------------------------------------------------------ key = value */

/*
 * A parameter file: rpr-nx.par, analyt.par, or a Fortran namelist such as
 * Newton-X NS's user_config.nml.  Lines "key = value"; blank lines, lines
 * starting with '#' or '!', and namelist markers ("&name", "/") are
 * skipped; a trailing ',' and quotes around the value are dropped.  Keys
 * are case-insensitive.  A line with no '=' or an empty key or value, or a
 * key given twice, is RPR_EPARSE naming path:line.
 */
typedef struct nx_par nx_par;
rpr_status nx_files_par_read(const char *path, nx_par **par, rpr_error *err);
void nx_files_par_free(nx_par *par); /* NULL does nothing */
/* The value of key, or NULL if absent; *line (may be NULL) is its 1-based
 * line.  Marks the key as used. */
const char *nx_files_par_get(nx_par *par, const char *key, size_t *line);
/* The first key never asked for with nx_files_par_get, or NULL: callers
 * report it as unknown, so that a typo does not silently fall back to a
 * default. */
const char *nx_files_par_unused(const nx_par *par, size_t *line);
/* Path of the file the parameters came from. */
const char *nx_files_par_path(const nx_par *par);

/* ------------------------------------------------------------ output */

/*
 * Replace path by text so that path always holds the old text or the new,
 * never a part of either.  Where the system has renameat2(RENAME_EXCHANGE)
 * (Linux), the text is written into a companion file "<path>.swap", kept
 * from call to call, and the two names are swapped atomically: no file is
 * created, removed or renamed over, which on ext4 saves 0.2 ms (inode
 * allocation) or 1 ms (the flush of auto_da_alloc) per file
 * (docs/newton-x.md).  Elsewhere: a temporary file, then the old name
 * removed and the temporary renamed (no file for an instant, never a
 * partial one).  No fsync: Newton-X reads the files after rpr-nx exits,
 * and a machine crash ends the trajectory anyway.
 * @return RPR_OK or RPR_EIO (naming the path and the reason; path is
 *   untouched if the new text could not be written; a path that is not a
 *   regular file is refused).
 */
rpr_status nx_files_replace(const char *path, const char *text, size_t len,
                            rpr_error *err);

/*
 * Overwrite path with text in place: open it (creating it the first time),
 * write from offset 0, cut it to len.  Not atomic; for files that nothing
 * reads while they are written (rpr-md's geom, veloc, control.d).  The
 * inode stays, which on ext4 is the cheap way: a new file each time costs
 * an inode allocation, and truncating to zero or renaming over a file
 * makes ext4 flush the data (auto_da_alloc), about 1 ms per file.
 * @return RPR_OK or RPR_EIO.
 */
rpr_status nx_files_overwrite(const char *path, const char *text, size_t len,
                              rpr_error *err);

/*
 * Write a matrix [nrows][ncols] as nrows lines of ncols numbers with
 * "%.17g" (every double round-trips; Fortran list-directed input and Perl
 * read it), replacing path atomically.  values NULL writes zeros (the
 * nad_vectors of a model without couplings).  Non-finite values are
 * refused (RPR_ENONFINITE) before anything is written.
 */
rpr_status nx_files_write_matrix(const char *path, size_t nrows, size_t ncols,
                                 const double *values, rpr_error *err);

/* ------------------------------------------------------------ properties */

/* One record of ../RESULTS/rpr-properties.dat (docs/newton-x.md).
 * NaN where there is no model for a column. */
typedef struct nx_record {
    double t_fs;     /* time, fs; the record's key (see nx_files_time_key) */
    size_t step;     /* istep of control.d */
    nx_run run;      /* which_run_is_that */
    double energy;   /* potential energy of the current state, hartree */
    double mu[3];    /* dipole, e*bohr, lab frame */
    double alpha[6]; /* polarizability xx xy xz yy yz zz, bohr^3, lab */
    double gap12, gap23; /* rpr_frame_health of the dipole prediction */
    double sign_min;     /* smallest sign_reliability */
    double w_principal, w_kabsch;
    /* Best Kabsch fit's margin relative to its reference's own (below
     * margin_lo the geometry is far from every reference: extrapolation);
     * NaN without a Kabsch frame. */
    double kabsch_rel_margin;
    double blend_fallback; /* 1: every blend weight was 0; else 0 */
    /* Weight of the geometry as given in the relabelling blend (1 for
     * models without --relabel; rpr_frame_health.relabel_weight). */
    double w_relabel;
} nx_record;

/* The three header lines of the property file, each ending in '\n'. */
const char *nx_files_props_header(void);

/*
 * Key of a time: t in units of 1e-4 fs, rounded.  control.d carries t with
 * 4 decimals ("%12.4f"), so two times are the same step exactly when their
 * keys agree; the record prints t with the same 4 decimals.
 */
long long nx_files_time_key(double t_fs);

/*
 * Insert rec into the property file, keyed by time: a record with the
 * same key is replaced (a second run after a hop, the repeated step of a
 * restart), never duplicated; records stay sorted by time.
 *
 * Cost and safety.  The common case, a time later than the last record's,
 * appends the line with one write() after reading the file's last 4 KiB:
 * O(1) per step, where rewriting the file would be O(steps).  Any other
 * case (a replacement or an earlier time) rewrites the whole file to a
 * temporary one and renames it.  A last line without its line break (a
 * write cut by a crash) is dropped first.  A file whose first line is not
 * this header is refused (RPR_EPARSE), never overwritten.
 * @return RPR_OK, RPR_EIO, RPR_EPARSE (a record whose time cannot be
 *   read), RPR_ENOMEM.
 */
rpr_status nx_files_props_upsert(const char *path, const nx_record *rec,
                                 rpr_error *err);

/*
 * Read the records of a property file (for tests and tools): *recs is
 * [*n], freed with free().  The run column is read back into rec->run.
 * @return RPR_OK, RPR_EIO, RPR_EPARSE (header, field count, a number),
 *   RPR_ENOMEM.
 */
rpr_status nx_files_props_read(const char *path, nx_record **recs, size_t *n,
                               rpr_error *err);

#endif /* RPR_NX_FILES_H */
