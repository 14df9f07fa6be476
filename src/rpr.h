/*
 * rpr.h - rotate-predict-rotate kernel ridge regression for IR and Raman
 * spectra from machine-learned molecular dynamics.
 *
 * This is the only installed header and the whole public contract: a
 * function that is not declared here is not part of the API.
 *
 * Conventions (hold for every function unless its comment says otherwise):
 *   - Lengths in bohr, energies in hartree, gradients dE/dR in hartree/bohr
 *     (gradients, never forces), masses in amu, times in fs, dipoles in
 *     e*bohr, polarizabilities in bohr^3.  Conversions happen only at the
 *     edges (XYZ files in angstrom, spectra in cm^-1).
 *   - Arrays are flat, row-major, atoms slowest: xyz[3 * a + c].
 *   - Symmetric 3x3 tensors are stored as 6 numbers in the order
 *     xx xy xz yy yz zz.
 *   - Every fallible call returns rpr_status and, on failure only, fills the
 *     caller's rpr_error (which may be NULL).  The library never prints,
 *     never exits and never aborts.
 *   - Inputs are borrowed (copied if kept).  Every _new/_load/_read has a
 *     matching _free that accepts NULL.
 */
#ifndef RPR_H
#define RPR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rpr_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RPR_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define RPR_DEPRECATED(msg)
#endif

/* ------------------------------------------------------------------ status */

typedef enum rpr_status {
    RPR_OK = 0,          /* success */
    RPR_EINVAL = 1,      /* argument out of range or inconsistent */
    RPR_ENOMEM = 2,      /* out of memory */
    RPR_EIO = 3,         /* cannot open, read or write a file */
    RPR_EPARSE = 4,      /* malformed input; the message names file and line */
    RPR_ENOTPD = 5,      /* K + lambda I not positive definite */
    RPR_ENONFINITE = 6,  /* NaN or Inf in an input or a result */
    RPR_EDEGENERATE = 7, /* principal moments too close to fix a frame */
    RPR_STATUS_COUNT     /* add codes above this line; never renumber */
} rpr_status;

/** Static text for a status code; never NULL, never freed. */
const char *rpr_strerror(rpr_status status);

/** Details of a failure, owned by the caller.  Filled on failure only. */
typedef struct rpr_error {
    rpr_status status;
    char message[512];    /* "model.xml:42: sigma must be > 0 (got -1)" */
    const char *src_file; /* library source line that raised it, for bugs */
    int src_line;
} rpr_error;

/** The library's version string, equal to RPR_VERSION_STRING of the build. */
const char *rpr_version(void);

/**
 * Number of BLAS threads for this process (OpenBLAS only; a no-op with a
 * BLAS that has no such call).  rpr-nx sets 1: its matrices are small and
 * Newton-X starts one process per step.
 */
void rpr_set_num_threads(int nthreads);

/** Free memory that the library handed out as a plain array. */
void rpr_free(void *p);

/* ------------------------------------------------------------------ units */

/* Length: angstrom per bohr.  CODATA 2010, the value MLatom uses and the
 * one the reference gradients in trajectories/ were converted with. */
#define RPR_ANGSTROM_PER_BOHR 0.52917721092
/* Mass: electron masses per amu as Newton-X converts them (colib_perl.pm
 * "proton"); CODATA 2018 gives 1822.888486209. */
#define RPR_ME_PER_AMU 1822.888515
/* Time: fs per atomic unit of time (Newton-X "timeunit"). */
#define RPR_FS_PER_AUT 0.024188843265
/* Energy: eV per hartree (Newton-X "au2ev"). */
#define RPR_EV_PER_HARTREE 27.21138386
/* Boltzmann constant in hartree per kelvin (Newton-X "BK"). */
#define RPR_KB_HARTREE 0.3166813639e-5

/* ------------------------------------------------------------------ elements */

typedef enum rpr_mass_kind {
    RPR_MASS_STANDARD = 0, /* standard atomic weight (IUPAC) */
    RPR_MASS_ISOTOPE = 1   /* mass of the most abundant isotope */
} rpr_mass_kind;

/** Atomic number of an element symbol, case-insensitive ("cl", "Cl");
 *  0 if unknown. */
int rpr_element_number(const char *symbol);
/** Symbol of atomic number z ("Cl"), or NULL if z is out of the table. */
const char *rpr_element_symbol(int z);
/** Mass in amu of element z, or 0 if z is out of the table. */
double rpr_element_mass(int z, rpr_mass_kind kind);

/* ------------------------------------------------------------------ geometries */

/** A set of geometries of one molecule: same atoms in the same order. */
typedef struct rpr_geoms rpr_geoms;

/**
 * Read a multi-frame XYZ file (coordinates in angstrom, converted to bohr).
 * Element fields may be symbols or atomic numbers.  Errors name the file
 * and line: truncated frame, atom count or elements changing between
 * frames, non-numeric field, NaN or Inf, unknown element.
 * @return RPR_OK, RPR_EIO, RPR_EPARSE, RPR_ENONFINITE, RPR_ENOMEM.
 */
rpr_status rpr_geoms_read_xyz(const char *path, rpr_geoms **geoms,
                              rpr_error *err);

/**
 * Read a Newton-X `geom` file: one frame, lines "symbol Z x y z mass" with
 * x y z in bohr and the mass in amu (kept as given).  Lenient as Newton-X:
 * lower-case symbols, Z as a real ("6.", "6.0").
 */
rpr_status rpr_geoms_read_nx(const char *path, rpr_geoms **geoms,
                             rpr_error *err);

/**
 * Make a set from arrays (copied).  xyz [nframes][natoms][3] in bohr;
 * masses [natoms] in amu, or NULL for standard atomic weights.
 */
rpr_status rpr_geoms_new(size_t natoms, size_t nframes, const int *numbers,
                         const double *xyz, const double *masses,
                         rpr_geoms **geoms, rpr_error *err);
void rpr_geoms_free(rpr_geoms *geoms);
size_t rpr_geoms_natoms(const rpr_geoms *geoms);
size_t rpr_geoms_nframes(const rpr_geoms *geoms);
/** Atomic numbers [natoms]. */
const int *rpr_geoms_numbers(const rpr_geoms *geoms);
/** Coordinates in bohr, [nframes][natoms][3]. */
const double *rpr_geoms_xyz(const rpr_geoms *geoms);
/** Masses in amu [natoms]: from the file (Newton-X geom) or standard. */
const double *rpr_geoms_masses(const rpr_geoms *geoms);
/** Line of the file where frame k starts (1-based; 0 if not from a file). */
size_t rpr_geoms_line(const rpr_geoms *geoms, size_t frame);

/**
 * Append one XYZ frame to an open stream (angstrom, %.10f).  comment may be
 * NULL.  @return RPR_OK or RPR_EIO.
 */
rpr_status rpr_xyz_write_frame(FILE *stream, size_t natoms, const int *numbers,
                               const double *xyz, const char *comment,
                               rpr_error *err);

/* ------------------------------------------------------------------ tables */

/**
 * Read a whitespace-separated table of exactly nrows lines of exactly ncols
 * finite numbers (blank lines and lines starting with '#' are skipped).
 * *values is [nrows][ncols], freed with rpr_free.  The error names the file
 * and line: wrong column count, non-numeric field, NaN/Inf, too few or too
 * many rows.
 */
rpr_status rpr_table_read(const char *path, size_t nrows, size_t ncols,
                          double **values, rpr_error *err);

/**
 * Read gradients in MLatom's layout: per geometry a count line (natoms, or
 * 0 for a geometry without gradients), a blank or comment line, then natoms
 * lines "gx gy gz".  Values are returned exactly as in the file (no unit
 * conversion).  *grad is [nframes][natoms][3] (zeros where absent), *present
 * is [nframes] with 1 where the geometry has gradients; both freed with
 * rpr_free.
 */
rpr_status rpr_gradients_read(const char *path, size_t nframes, size_t natoms,
                              double **grad, unsigned char **present,
                              rpr_error *err);

/* ------------------------------------------------------------------ output */

/**
 * An output file that appears under its name only when complete: writes go
 * to a temporary file in the same directory, and rpr_outfile_commit flushes,
 * syncs and renames it into place.  A reader (Newton-X) therefore never sees
 * a half-written file, and a full disk is reported, not ignored.
 */
typedef struct rpr_outfile rpr_outfile;
rpr_status rpr_outfile_open(const char *path, rpr_outfile **out,
                            rpr_error *err);
/** The stream to write to; valid until commit or discard. */
FILE *rpr_outfile_stream(rpr_outfile *out);
/** Finish and rename into place; frees out whatever the result.
 *  @return RPR_OK or RPR_EIO (the message names the path and errno text). */
rpr_status rpr_outfile_commit(rpr_outfile *out, rpr_error *err);
/** Remove the temporary file and free out; NULL does nothing. */
void rpr_outfile_discard(rpr_outfile *out);

/* ------------------------------------------------------------------ frames */

/** Molecule-fixed frame in which vector and tensor components are learned. */
typedef enum rpr_frame_kind {
    RPR_FRAME_NONE = 0,      /* lab frame: no rotation (the baseline) */
    RPR_FRAME_PRINCIPAL = 1, /* principal axes of inertia (the paper's) */
    RPR_FRAME_KABSCH = 2,    /* O(3) Kabsch/Eckart fit to reference(s) */
    RPR_FRAME_BLEND = 3      /* smooth blend of principal and Kabsch */
} rpr_frame_kind;

/** Weights that define the centre and the inertia-like tensor. */
typedef enum rpr_frame_weighting {
    RPR_WEIGHT_MASS = 0,   /* atomic masses, centre of mass */
    RPR_WEIGHT_CHARGE = 1  /* nuclear charges Z, centre of nuclear charge */
} rpr_frame_weighting;

/**
 * Thresholds of the frame conventions, with defaults from
 * rpr_frame_options_default().  All are dimensionless; the model file
 * records them so that prediction uses what training used.
 */
typedef struct rpr_frame_options {
    rpr_frame_weighting weighting;
    /* |skewness| below which an axis sign falls back to the atom-label
     * rule (frames.md 4.3).  Default 1e-3. */
    double sign_tol;
    /* Blend ramp of the principal frame over min(gap12, gap23): weight 0
     * below gap_lo, 1 above gap_hi.  Defaults 1e-3, 2e-2. */
    double gap_lo, gap_hi;
    /* Blend ramp over the smallest sign reliability: 0 below sign_lo, 1
     * above sign_hi.  Defaults sign_tol and 10 * sign_tol. */
    double sign_lo, sign_hi;
    /* Blend ramp of the Kabsch frame over its margin sigma3/sigma1 relative
     * to the reference's own value: 0 below margin_lo, 1 above margin_hi.
     * Defaults 0.05, 0.25. */
    double margin_lo, margin_hi;
    /* Average the principal-frame prediction over the 8 sign choices of
     * the axes (0 or 1).  Default 0. */
    int sign_average;
} rpr_frame_options;
void rpr_frame_options_default(rpr_frame_options *opt);

/** Per-geometry diagnostics of the frame (one per predicted step). */
typedef struct rpr_frame_health {
    double moments[3];          /* principal moments, ascending; amu bohr^2
                                   (Z bohr^2 with charge weighting) */
    double gap12, gap23;        /* (I2-I1)/(I2+I1), (I3-I2)/(I3+I2) */
    double sign_reliability[3]; /* |mass-weighted skewness| per axis */
    int sign_fallback;          /* bit k set: axis k signed by label rule */
    int improper;               /* 1 if the principal frame has det -1 */
    double kabsch_margin;       /* sigma3/sigma1 of the fit; NaN if unused */
    double weight_principal;    /* normalised blend weights; sum 1 */
    double weight_kabsch;
} rpr_frame_health;

/* ------------------------------------------------------------------ models */

typedef enum rpr_property {
    RPR_PROPERTY_SCALAR = 0,        /* any invariant scalar, 1 component */
    RPR_PROPERTY_ENERGY = 1,        /* potential energy (hartree) and its
                                       gradient: KREG */
    RPR_PROPERTY_DIPOLE = 2,        /* 3 components, e*bohr */
    RPR_PROPERTY_POLARIZABILITY = 3 /* 6 components xx xy xz yy yz zz, bohr^3 */
} rpr_property;

/** Number of components of a property: 1, 1, 3 or 6. */
size_t rpr_property_ncomp(rpr_property property);
/** "scalar", "energy", "dipole", "polarizability"; NULL if out of range. */
const char *rpr_property_name(rpr_property property);
/** Inverse of rpr_property_name; RPR_EINVAL if unknown. */
rpr_status rpr_property_parse(const char *name, rpr_property *property);

/** How sigma and lambda are chosen when they are not fixed. */
typedef enum rpr_criterion {
    RPR_CRITERION_HOLDOUT = 0, /* RMSE on a random validation split */
    RPR_CRITERION_LOO = 1      /* closed-form leave-one-out RMSE */
} rpr_criterion;

/** Reported to a progress callback during long training. */
typedef void (*rpr_progress_fn)(void *ctx, double fraction, const char *what);

typedef struct rpr_train_options {
    rpr_property property;
    const char *descriptor; /* registry name: "RE", "ID", "CM", "RExyz",
                               "REsph", "REdihed", "xyzQ" */
    const char *atoms;      /* atoms for augmented descriptors: element
                               symbols or 1-based indices, comma-separated
                               ("Cl", "3,4"); NULL for none */
    const char *dihedral;   /* four 1-based indices "3,1,2,4" for REdihed,
                               or NULL to derive it from `atoms` */
    const char *kernel;     /* "gaussian", "laplacian", "matern" */
    int matern_n;           /* Matern order n (nu = n + 1/2); default 2 */
    double sigma;           /* kernel width; <= 0 means optimise */
    double lambda;          /* regulariser; < 0 means optimise */
    double lambda_grad;     /* gradient-block regulariser (energy with
                               gradients); < 0 means equal to lambda */
    int prior_mean;         /* 1: subtract the training mean (default) */
    rpr_frame_kind frame;
    rpr_frame_options frame_options;
    rpr_criterion criterion;
    double validation_fraction; /* hold-out share, default 0.2 */
    uint64_t seed;              /* split and search are reproducible */
    /* Hyperparameter grid, log2 units (MLatom's defaults; NaN bounds take
     * the kernel's defaults). */
    int nlg_sigma, nlg_lambda, lg_depth;
    double lg_sigma_lo, lg_sigma_hi, lg_lambda_lo, lg_lambda_hi;
    /* Equilibrium geometry for RE-based descriptors, bohr [natoms][3], or
     * NULL: the lowest-energy geometry for energies, else the first. */
    const double *xyz_eq;
    rpr_progress_fn progress; /* NULL for none */
    void *progress_ctx;
} rpr_train_options;
void rpr_train_options_default(rpr_train_options *opt);

typedef struct rpr_model rpr_model;

/**
 * Train a model on the geometries of `geoms`.
 * @param values  [nframes][ncomp] in the property's unit (lab frame).
 * @param grad    energy only: [nframes][natoms][3] dE/dR in hartree/bohr,
 *                or NULL for an energy-only fit.
 * @param present [nframes], 1 where grad holds a gradient; NULL means all.
 */
rpr_status rpr_train(const rpr_train_options *opt, const rpr_geoms *geoms,
                     const double *values, const double *grad,
                     const unsigned char *present, rpr_model **model,
                     rpr_error *err);

/** Write the model as XML (atomically).  Doubles round-trip bit-exactly. */
rpr_status rpr_model_save(const rpr_model *model, const char *path,
                          rpr_error *err);
/** Read and validate a model file.  Errors name the file and line. */
rpr_status rpr_model_load(const char *path, rpr_model **model, rpr_error *err);
void rpr_model_free(rpr_model *model);

rpr_property rpr_model_property(const rpr_model *model);
size_t rpr_model_ncomp(const rpr_model *model);
size_t rpr_model_natoms(const rpr_model *model);
const int *rpr_model_numbers(const rpr_model *model);
/** Human-readable metadata (the body of `rpr info`). */
rpr_status rpr_model_write_info(const rpr_model *model, FILE *stream,
                                rpr_error *err);

/** Scratch for rpr_predict, sized from the model; one per thread. */
typedef struct rpr_workspace rpr_workspace;
rpr_workspace *rpr_workspace_new(const rpr_model *model);
void rpr_workspace_free(rpr_workspace *ws);

/**
 * Predict one geometry.  Allocates nothing, opens no file, prints nothing.
 *
 * @param model   borrowed, never modified; threads may share it.
 * @param ws      from rpr_workspace_new(model), one per thread.
 * @param natoms  must equal the model's.
 * @param numbers atomic numbers [natoms] checked against the model, or NULL.
 * @param xyz     bohr [natoms][3], lab frame, as given (not recentred).
 * @param value   out [ncomp]: lab-frame prediction in the property's unit.
 * @param grad    out [natoms][3] dE/dR in hartree/bohr (energy and scalar
 *                models), or NULL to skip it.
 * @param health  out: frame diagnostics, or NULL.
 * @return RPR_OK, RPR_EINVAL (atoms differ from the model's, coincident
 *         atoms), RPR_ENONFINITE (NaN in xyz or in the result).
 */
rpr_status rpr_predict(const rpr_model *model, rpr_workspace *ws,
                       size_t natoms, const int *numbers, const double *xyz,
                       double *value, double *grad, rpr_frame_health *health,
                       rpr_error *err);

/* ------------------------------------------------------------------ registry */

/**
 * The descriptor and kernel tables, for `rpr info` and documentation.
 * Each returns 0 past the end, else fills the borrowed static strings.
 */
int rpr_descriptor_entry(size_t i, const char **name, const char **formula,
                         const char **unit, const char **reference);
int rpr_kernel_entry(size_t i, const char **name, const char **formula,
                     const char **reference);

/* ------------------------------------------------------------------ spectra */
/* (declared by the spectrum module below this line) */

#ifdef __cplusplus
}
#endif

#endif /* RPR_H */
