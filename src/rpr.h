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

/* ------------------------------------------------------------------ elements
 */

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

/* ------------------------------------------------------------------ geometries
 */

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
    RPR_FRAME_KABSCH = 2,    /* O(3) Kabsch/Eckart fit to a reference: the
                                default of rpr_train (docs/models.md,
                                Frames; docs/results/frames.md) */
    RPR_FRAME_BLEND = 3      /* Kabsch, smoothly blended with principal
                                where the Kabsch margin is small: exactly
                                covariant, and continuous wherever one of
                                the two frames is well defined */
} rpr_frame_kind;

/** Weights that define the centre and the inertia-like tensor (or the
 *  Kabsch fit). */
typedef enum rpr_frame_weighting {
    RPR_WEIGHT_MASS = 0,   /* atomic masses, centre of mass */
    RPR_WEIGHT_CHARGE = 1, /* nuclear charges Z, centre of nuclear charge */
    RPR_WEIGHT_UNIT = 2    /* every atom 1, centroid */
} rpr_frame_weighting;

/**
 * Thresholds of the frame conventions, with defaults from
 * rpr_frame_options_default().  All are dimensionless; the model file
 * records them so that prediction uses what training used.
 */
typedef struct rpr_frame_options {
    /* Weights of the principal-axes frame (inertia-like tensor and its
     * centre).  Default RPR_WEIGHT_MASS, the paper's. */
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
     * the axes (0 or 1; frames.md 4.7).  The prediction is then exactly
     * independent of the sign rule, and training is exactly that on all 8
     * sign variants of every geometry, at the cost of one N x N system
     * per sign class of the components (docs/models.md, Frames).  Needs
     * the principal frame (principal or blend) and a descriptor that
     * axis flips only change in sign (RExyz, REdihed, xyzQ): with an
     * invariant descriptor every averaged vector component would be 0.
     * sigma and lambda come from the search of the unaveraged model.
     * Default 0. */
    int sign_average;
    /* Weights of the Kabsch fit and of its centre (the Kabsch frame alone
     * or in the blend); weighting above stays that of the principal axes.
     * Default RPR_WEIGHT_UNIT: with mass weights the two chlorines of
     * dichloroethane dominate the cross-covariance, and its smallest
     * singular value passes near zero close to the anti conformer, a seam
     * of the frame inside the sampled region; equal weights keep it away
     * (docs/models.md, Frames).  Model files without it fitted Kabsch
     * with their one weighting (mass unless trained with charge) and are
     * read so. */
    rpr_frame_weighting kabsch_weighting;
} rpr_frame_options;
void rpr_frame_options_default(rpr_frame_options *opt);

/** Most Kabsch references a model holds (each with its own sub-model). */
#define RPR_KABSCH_MAX_REFS 4

/** Per-geometry diagnostics of the frame (one per predicted step). */
typedef struct rpr_frame_health {
    double moments[3];          /* principal moments, ascending; amu bohr^2
                                   (Z bohr^2 with charge weighting,
                                   bohr^2 with unit weighting) */
    double gap12, gap23;        /* (I2-I1)/(I2+I1), (I3-I2)/(I3+I2) */
    double sign_reliability[3]; /* |mass-weighted skewness| per axis */
    int sign_fallback;          /* bit k set: axis k signed by label rule */
    int improper;               /* 1 if the principal frame has det -1 */
    /* sigma3/sigma1 of the Kabsch fit whose margin relative to its
     * reference's own (kabsch_rel_margin) is largest, the most reliable
     * fit; 0 at a handedness switch; NaN without a Kabsch frame.  With
     * one reference: the margin of its fit. */
    double kabsch_margin;
    double weight_principal; /* normalised blend weights; sum 1 with */
    double weight_kabsch;    /* the sum of the kabsch_weight[] */
    /* 1: every blend weight was 0 and the sub-model further inside its
     * ramp was used alone (frames.md 4.6); 0 otherwise. */
    int blend_fallback;
    /* Number of Kabsch references of the model (0 without a Kabsch
     * frame), the largest relative margin m_r / m_ref,r over them (NaN
     * without), and each reference's normalised weight (0 beyond
     * kabsch_nref). */
    size_t kabsch_nref;
    double kabsch_rel_margin;
    double kabsch_weight[RPR_KABSCH_MAX_REFS];
    /* Models trained with rpr_train_options.relabel: the weight w in
     * [0, 1] of the geometry as given (1 - w is that of its relabelled
     * copy Px); 1 for other models.  The fields above then describe the
     * labelling with the larger weight (x itself when w >= 1/2, else
     * Px). */
    double relabel_weight;
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
/** Name of component c as files and messages use it: "E" (energy), "y"
 *  (scalar), "x" "y" "z" (dipole), "xx" "xy" "xz" "yy" "yz" "zz"
 *  (polarizability); NULL if out of range. */
const char *rpr_property_component(rpr_property property, size_t c);
/** Unit of the property's values: "hartree", "1", "e*bohr", "bohr^3";
 *  NULL if out of range. */
const char *rpr_property_unit(rpr_property property);

/** How sigma and lambda are chosen when they are not fixed. */
typedef enum rpr_criterion {
    RPR_CRITERION_HOLDOUT = 0, /* RMSE on a random validation split */
    RPR_CRITERION_LOO = 1      /* closed-form leave-one-out RMSE */
} rpr_criterion;

/** Reported to a progress callback during long training: fraction of the
 *  whole training done, 0 .. 1, never decreasing, 1 when done. */
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
    double lambda;          /* regulariser; < 0 means optimise (either
                               alone may be fixed, not for energies) */
    double lambda_grad;     /* gradient-block regulariser (energy with
                               gradients); < 0 means equal to lambda */
    int prior_mean;         /* 1: subtract the training mean (default) */
    rpr_frame_kind frame;   /* default RPR_FRAME_KABSCH (references:
                               kabsch_nref, kabsch_refs below) */
    rpr_frame_options frame_options;
    /* Kabsch references (frames kabsch and blend), one sub-model each,
     * blended with smooth invariant weights (docs/models.md, Frames).
     * kabsch_refs: [kabsch_nref][natoms][3] bohr, given references, or
     * NULL to choose them.  Chosen: the first is xyz_eq if given, else
     * the training geometry whose smallest margin sigma3/sigma1 over the
     * training set is largest; every further one is, among the training
     * geometries whose margin relative to their own stays >= margin_hi
     * on the whole training set (weight 1 there: no seam in the data),
     * the one that most raises the coverage of probe geometries beyond
     * the data (sum over probes of min(1, sum of Kabsch weights));
     * references are added until every probe has weight sum >= 1 or
     * kabsch_nref is reached, so kabsch_nref is a maximum.  1 ..
     * RPR_KABSCH_MAX_REFS; default 3 (docs/results/frames.md). */
    size_t kabsch_nref;
    const double *kabsch_refs;
    /* Probes of the automatic choice: kabsch_nprobe geometries x_i + t
     * (Q x_j - x_i) for random training pairs (i, j), x_j fitted onto x_i
     * (O(3) Kabsch, kabsch_weighting), t = kabsch_probe_t: straight lines
     * through two training geometries, continued beyond the data.
     * Defaults 2000 and 2 (docs/models.md: on the DCE data t = 1.5 and
     * 3, or other seeds, pick other references that do as well). */
    size_t kabsch_nprobe;
    double kabsch_probe_t;
    rpr_criterion criterion;
    double validation_fraction; /* hold-out share, default 0.2 */
    uint64_t seed;              /* split and search are reproducible */
    /* Hyperparameter grid, log2 units (MLatom's defaults; NaN bounds take
     * the kernel's defaults). */
    int nlg_sigma, nlg_lambda, lg_depth;
    double lg_sigma_lo, lg_sigma_hi, lg_lambda_lo, lg_lambda_hi;
    /* Energy models (KREG): the search factorises a sub-training system
     * of dimension <= kreg_search_dim (energies + gradient components;
     * default 2500, about 100 dichloroethane geometries with gradients),
     * a seeded subset with its validation_fraction share held out.  The
     * held-out share and the geometries outside the subset validate, at
     * most kreg_search_validation of them (default 1000, 0 for no cap,
     * never fewer than the share).  Memory: two search systems, 2 x 50 MB
     * at 2500; time grows as kreg_search_dim^3.  A dimension too small
     * for one training geometry is refused (RPR_EINVAL). */
    size_t kreg_search_dim, kreg_search_validation;
    /* Admissibility of a searched (sigma, lambda), dimensionless: a
     * prediction sum_i alpha_i k_i rounds by about eps A relative, with
     * A = sum_i |alpha_i| max K_ij / max_i |y_i| (y the training labels
     * less the prior).  Candidates with eps A > rounding_tol are not
     * eligible, and the final fit raises a searched lambda until it
     * holds.  Default 1e-10, i.e. A <= 1e-10 / DBL_EPSILON ~ 4.5e5: a
     * prediction is then reproducible to ~1e-10 relative, the threshold of
     * the covariance certificate (rpr verify), which a tiny lambda with
     * sum |alpha| ~ 1e13 fails on rounding alone.  Must be > 0; INFINITY
     * turns the rule off (MLatom's search has none).  A lambda given by
     * the caller is never moved (the rule then only filters the sigmas
     * searched); not used for energy models (KREG). */
    double rounding_tol;
    /* Equilibrium geometry for RE-based descriptors, bohr [natoms][3], or
     * NULL: the lowest-energy geometry for energies, else the first.  If
     * given (and kabsch_refs is NULL), also the first Kabsch reference. */
    const double *xyz_eq;
    /* Permutations of identical atoms (docs/models.md, Permutations of
     * identical atoms), or NULL or "" for none: each permutation a
     * comma-separated product of disjoint transpositions "a-b" of
     * 1-based atom indices, permutations separated by ';' ("5-6,7-8" one
     * permutation, "5-6;7-8;5-6,7-8" three).  Training then uses every
     * geometry and its relabelled copy under each permutation (same
     * values; gradient rows permuted), N (1 + p) points in all: KRR
     * solves an N (1 + p) square system, KREG with gradients one of
     * dimension N (1 + p) (1 + 3 natoms).  sigma and lambda are searched
     * on the original geometries alone, so no copy of a validation
     * geometry is trained on.  Refused (RPR_EINVAL): atoms of different
     * elements, an index out of range, an atom twice in a permutation, a
     * permutation given twice (in any order of its swaps), a
     * malformed or overlong (> 255 characters) SPEC.  The model records
     * SPEC (rpr info).  Default NULL. */
    const char *permute;
    /* Relabelling blend (docs/models.md, Relabelling blend), or NULL or
     * "" for none: exactly ONE permutation P of identical atoms in the
     * grammar of permute, without ';' ("5-6,7-8").  The model then
     * predicts g(x) = w(x) f(x) + (1 - w(x)) f(Px), f the model trained
     * as usual and w in [0, 1] a smooth O(3)-invariant weight with
     * w(Px) = 1 - w(x): exactly g(Px) = g(x), O(3)-covariant, and g = f
     * where the training data know x and not Px.  w compares the
     * training data's density at x and at Px, measured with the ID
     * descriptor (1/r of every atom pair, per angstrom) and a Gaussian
     * of width s = the median nearest-neighbour ID distance of the
     * training geometries (derived, stored).  The model stores the ID
     * vectors of the training geometries.  For dipole, polarizability,
     * scalar, and energy without gradients; refused (RPR_EINVAL) for
     * energy with gradients (the gradient of w would be needed: use
     * permute), together with permute, and with more than one
     * permutation.  Default NULL. */
    const char *relabel;
    /* Band of the weight in log-density units: w = S((Delta / band + 1) /
     * 2), Delta = log rho(x) - log rho(Px), S the C2 smoothstep, so w is
     * exactly 1 (0) once x is e^band times denser (sparser) than Px.
     * Must be > 0 and finite.  Default 1 (a density ratio of e; measured
     * on DCE in docs/results/permutations.md). */
    double relabel_band;
    rpr_progress_fn progress; /* NULL for none */
    void *progress_ctx;
} rpr_train_options;
void rpr_train_options_default(rpr_train_options *opt);

typedef struct rpr_model rpr_model;

/**
 * Train a model on the geometries of `geoms`.
 *
 * Dipoles and polarizabilities are learned per component in the frame of
 * opt->frame (one sub-model per frame and per Kabsch reference; the
 * blend adds the principal frame) and rotated back at prediction.  sigma
 * and lambda are given or searched (krr_search per component, MLatom's
 * grid, on a split of the training set), each on its own: a fixed sigma
 * searches lambda only, a fixed lambda sigma only.
 * Searched values must pass opt->rounding_tol.  The final fit on all
 * points reuses them; if K + lambda I is then not positive definite or the
 * fit not admissible, a searched lambda moves up by the finest grid step
 * (2^step, step = (lg_lambda_hi - lg_lambda_lo) / (nlg_lambda - 1) *
 * (2 / (nlg_lambda - 1))^(lg_depth - 1)) until it is, never past
 * 2^lg_lambda_hi; the model records the lambda used (rpr info).
 * Components that share sigma and lambda share one Cholesky
 * factorisation.  Energies use KREG (gaussian kernel only, sigma and
 * lambda both given or both searched), with gradients if grad is given.
 * A scalar or energy model of an invariant descriptor (RE, ID, CM) is
 * frame-free: opt->frame is then ignored and the model records frame
 * "none".  Descriptors see coordinates in angstrom (MLatom's convention).
 *
 * @param values  [nframes][ncomp] in the property's unit (lab frame).
 * @param grad    energy only: [nframes][natoms][3] dE/dR in hartree/bohr,
 *                or NULL for an energy-only fit.
 * @param present [nframes], 1 where grad holds a gradient; NULL means all.
 * @return RPR_OK; RPR_EINVAL (options, atom selection, a geometry whose
 *         descriptor fails: the message names it; no admissible lambda in
 *         the grid: raise lg_lambda_hi); RPR_ENONFINITE; RPR_ENOTPD (raise
 *         lambda); RPR_EDEGENERATE (a frame cannot be built; planar Kabsch
 *         reference, given or chosen); RPR_ENOMEM.
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

/**
 * Load a model through a binary cache, for programs that load a model
 * often (rpr predict --cache; rpr-nx uses rpr_model_bundle_open).  The
 * cache is used when it was written by this build of the library from a
 * file of the XML's current size, mtime, inode and device (or of the same
 * content, by hash); then loading costs one stat, one read and one hash of
 * the cache.  Otherwise the XML is loaded and validated as by
 * rpr_model_load and the cache (re)written atomically (temporary file +
 * rename), so concurrent readers never see half of one.
 * A damaged or foreign cache is silently replaced, never trusted.
 *
 * @param cache_path  where the cache lives, or NULL for xml_path + ".cache".
 * @return as rpr_model_load; RPR_EIO also when the cache cannot be written
 *         (then *model is NULL: call rpr_model_load to run without one).
 */
rpr_status rpr_model_load_cached(const char *xml_path, const char *cache_path,
                                 rpr_model **model, rpr_error *err);

/**
 * Several models from one binary file (a bundle), for a program started
 * afresh at every step (rpr-nx: energy, dipole, polarizability).  The
 * file is mapped (mmap), not read: opening costs one open, one mmap and
 * one stat per model file, whatever the models' size.  It is used when
 * this build of the library wrote it for the same model paths, in the same
 * order, each file still of the size, mtime (ns), inode and device it had
 * then, and its header checksum and each model's fixed part check out.
 * The model arrays are hashed when written but not when opened, so a
 * bundle edited inside an array goes unnoticed; an edited, replaced or
 * touched model file, a truncated, foreign or stale bundle do not.
 * Otherwise, if load is not NULL, each file is loaded with it (for example
 * rpr_model_load; a file that changes while read, by stat before and
 * after, is read again, 3 times at most) and the bundle rewritten
 * atomically (temporary file + rename); if it cannot be written, the
 * loaded models are returned all the same.
 *
 * While a bundle is open, its file must not be truncated or written in
 * place (the mapping reads it; replace it by rename, as this does).
 *
 * @param n          number of models, >= 1; xml_paths[n] their files.
 * @param load       NULL: never parse; a missing or stale bundle then
 *                   gives RPR_OK with *bundle NULL.
 * @param bundle     out: free with rpr_model_bundle_free.
 * @return RPR_OK; RPR_EINVAL (NULL argument, n = 0); RPR_ENOMEM; what load
 *         returns (its message names the file); RPR_EIO (a file cannot be
 *         stat'ed, or keeps changing while read).
 */
typedef rpr_status (*rpr_model_loader)(const char *path, rpr_model **model,
                                       rpr_error *err);
typedef struct rpr_model_bundle rpr_model_bundle;
rpr_status rpr_model_bundle_open(const char *bundle_path, size_t n,
                                 const char *const *xml_paths,
                                 rpr_model_loader load,
                                 rpr_model_bundle **bundle, rpr_error *err);
/** Number of models (0 for NULL). */
size_t rpr_model_bundle_count(const rpr_model_bundle *bundle);
/** Model i (of xml_paths[i]), borrowed until rpr_model_bundle_free; NULL
 * when i is out of range.  Never pass it to rpr_model_free. */
const rpr_model *rpr_model_bundle_model(const rpr_model_bundle *bundle,
                                        size_t i);
void rpr_model_bundle_free(rpr_model_bundle *bundle); /* NULL: nothing */

/**
 * Check that a model predicts `property`.  The message names path and the
 * line of the model file's <property> element: "pes.xml:3: the model is
 * for dipole, not energy".  path may be NULL.
 * @return RPR_OK or RPR_EINVAL.
 */
rpr_status rpr_model_require(const rpr_model *model, rpr_property property,
                             const char *path, rpr_error *err);

/** The permutations the model was trained with (rpr_train_options.permute,
 *  as given), or "" for none; borrowed from the model. */
const char *rpr_model_permutations(const rpr_model *model);

/** The relabelling of the prediction blend (rpr_train_options.relabel,
 *  as given), or "" for none; borrowed from the model.  scale (the
 *  density width s, per angstrom) and band receive the model's values,
 *  NaN for none; either may be NULL. */
const char *rpr_model_relabel(const rpr_model *model, double *scale,
                              double *band);

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
 *                models with the gaussian kernel and a frame-free
 *                descriptor, not trained with relabel; RPR_EINVAL
 *                otherwise), or NULL to skip it.
 * @param health  out: frame diagnostics, or NULL.
 * @return RPR_OK, RPR_EINVAL (atoms differ from the model's, coincident
 *         atoms), RPR_ENONFINITE (NaN in xyz or in the result).
 */
rpr_status rpr_predict(const rpr_model *model, rpr_workspace *ws, size_t natoms,
                       const int *numbers, const double *xyz, double *value,
                       double *grad, rpr_frame_health *health, rpr_error *err);

/* ------------------------------------------------------------------ registry
 */

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

/*
 * IR and Raman spectra from per-step dipoles and polarizabilities by time
 * correlation functions (docs/spectra.md gives the formulas, conventions
 * and the quantum-correction statement).  The pipeline: read one property
 * file per trajectory (rpr_series_read), check it for jumps
 * (rpr_series_jumps), then rpr_spectrum_compute and rpr_spectrum_write.
 *
 * Constants, from CODATA 2018 (exact h, e, k_B, N_A, c; eps0 =
 * 8.8541878128e-12 F/m; a0 = 5.29177210903e-11 m; E_h = 4.3597447222071e-18
 * J).  tests/test_spectrum.c recomputes each from those SI values.
 */
/* Dipole: debye per e*bohr (1 D = 1e-21/c C m). */
#define RPR_DEBYE_PER_EBOHR 2.541746473
/* Speed of light in cm/fs. */
#define RPR_C_CM_PER_FS 2.99792458e-5
/* Second radiation constant hc/k_B in cm K: x = c2 nu / T. */
#define RPR_C2_CM_K 1.438776877
/* IR: A(nu) T = RPR_IR_CONSTANT F(nu), F the transform of <mu'(0).mu'(t)>
 * with mu' in D/fs and t in fs; 2 N_A / (12 eps0 c k_B) in K cm km/mol. */
#define RPR_IR_CONSTANT 3047.232072
/* Raman: h / (4 eps0^2 k_B) with alpha' in atomic units (bohr^3) per fs, t
 * in fs and wavenumbers in cm^-1, in 1e-30 m^2 cm K. */
#define RPR_RAMAN_CONSTANT 4.160440173e-18

typedef enum rpr_spectrum_kind {
    RPR_SPECTRUM_IR = 0,   /* dipole columns mu_x mu_y mu_z (e*bohr) */
    RPR_SPECTRUM_RAMAN = 1 /* alpha_xx xy xz yy yz zz (bohr^3) */
} rpr_spectrum_kind;

/** Window on the one-sided autocorrelation, lags tau = 0 .. L-1. */
typedef enum rpr_window_kind {
    RPR_WINDOW_HANN = 0,     /* cos^2(pi tau / (2 (L-1))); line FWHM
                                1 / (c (L-1) dt) */
    RPR_WINDOW_GAUSSIAN = 1, /* exp(-(t/a)^2); line FWHM 2 sqrt(ln 2) /
                                (pi c a) */
    RPR_WINDOW_NONE = 2      /* rectangular: sinc line shape, ringing */
} rpr_window_kind;

/** Quantum correction factor.  The derivative form of rpr's formulas is
 *  the classical line shape times the harmonic QCF; the others are applied
 *  as ratios to it, never on top of it (docs/spectra.md). */
typedef enum rpr_qcf {
    RPR_QCF_HARMONIC = 0,  /* x / (1 - e^-x), x = c2 nu / T (default) */
    RPR_QCF_CLASSICAL = 1, /* 1: the classical line shape */
    RPR_QCF_STANDARD = 2,  /* 2 / (1 + e^-x) */
    RPR_QCF_SCHOFIELD = 3  /* e^(x/2) */
} rpr_qcf;

/**
 * Options of reading and computing, filled by rpr_spectrum_options_default
 * (defaults from the reference notes on spectra, section 9).
 */
typedef struct rpr_spectrum_options {
    rpr_spectrum_kind kind; /* default IR */
    /* Reading: a time step may differ from the median step by this
     * fraction of it.  rpr-nx prints t with 4 decimals, so differences err
     * by <= 1e-4 fs, <= 1e-3 of any dt >= 0.1 fs; a real fault (a missing
     * or repeated step) is a whole dt.  Default 1e-2. */
    double dt_rtol;
    /* Jump warning: a per-step change of mu (or of alpha, Frobenius norm)
     * above jump_factor times the median per-step change.  Smooth MD at
     * 0.5 fs stays within ~4 times the median; a frame seam of the model
     * changes mu by its own size, ~100 times.  Default 10. */
    double jump_factor;
    /* Correlation depth L in frames (lags 0 .. L-1); 0 means
     * min(depth_max, m / 2), m the derivative frames (records - 2) of the
     * shortest trajectory.  Default 0 and 4096. */
    size_t depth;
    size_t depth_max;
    rpr_window_kind window; /* default Hann */
    /* Gaussian width a in fs; <= 0 means L dt / 2.  Default 0. */
    double window_width_fs;
    /* Zero padding: the cosine transform has padding * L + 1 points, the
     * grid spacing is 1 / (2 padding L c dt).  Interpolates only; adds no
     * resolution.  Default 4. */
    size_t padding;
    /* Multiply by (w dt / sin w dt)^2, undoing the central difference's
     * transfer function.  Default 1 (on). */
    int fd_correction;
    rpr_qcf qcf;          /* default harmonic */
    double temperature_k; /* T of the prefactors and QCF; default 300 */
    double laser_cm;      /* Raman excitation nu0 in cm^-1; default 20000 */
    /* Frequency scaling factor (e.g. 0.9 for HF): the wavenumber axis is
     * multiplied by it after all factors were computed at the simulated
     * wavenumber, and densities are divided by it, so band integrals are
     * unchanged.  Default 1. */
    double scale;
    /* Highest wavenumber of the output (scaled axis), cm^-1; the Nyquist
     * bin is never output (the correction diverges there).  Default 4000. */
    double max_wavenumber_cm;
    /* With one trajectory, the standard error comes from this many blocks
     * of time origins (jackknife); 0 or 1: no error band.  Default 8. */
    size_t blocks;
} rpr_spectrum_options;
void rpr_spectrum_options_default(rpr_spectrum_options *opt);

/** One trajectory's dipoles or polarizabilities at uniform time steps. */
typedef struct rpr_series rpr_series;

/**
 * Read a property file written by rpr-nx ("# rpr-nx properties, format 1",
 * a "# columns:" line naming the whitespace-separated columns, '#' comment
 * lines, one record per time).  Columns are found by name: t_fs and
 * mu_x mu_y mu_z (IR) or alpha_xx alpha_xy alpha_xz alpha_yy alpha_yz
 * alpha_zz (Raman); other columns may hold anything, nan included.
 * Errors name the file and line: no columns line, a needed column
 * missing, a wrong field count, a non-numeric or NaN/Inf needed value
 * (RPR_ENONFINITE), fewer than 3 records, and times that are not uniform
 * (duplicated, decreasing, a gap, an irregular step; tolerance
 * opt->dt_rtol).  Only opt->kind and opt->dt_rtol are used.
 * @return RPR_OK, RPR_EINVAL, RPR_EIO, RPR_EPARSE, RPR_ENONFINITE,
 *         RPR_ENOMEM.
 */
rpr_status rpr_series_read(const char *path, const rpr_spectrum_options *opt,
                           rpr_series **series, rpr_error *err);

/**
 * A series from memory (copied): values [nsteps][3] in e*bohr (IR) or
 * [nsteps][6] xx xy xz yy yz zz in bohr^3 (Raman), lab frame, at times
 * t0_fs + k dt_fs.  nsteps >= 3, dt_fs > 0, all finite.
 */
rpr_status rpr_series_new(rpr_spectrum_kind kind, size_t nsteps, double t0_fs,
                          double dt_fs, const double *values,
                          rpr_series **series, rpr_error *err);
void rpr_series_free(rpr_series *series); /* NULL does nothing */
rpr_spectrum_kind rpr_series_kind(const rpr_series *series);
size_t rpr_series_nsteps(const rpr_series *series);
/** 3 (IR) or 6 (Raman). */
size_t rpr_series_ncomp(const rpr_series *series);
double rpr_series_t0_fs(const rpr_series *series);
/** (t_last - t_0) / (nsteps - 1), fs. */
double rpr_series_dt_fs(const rpr_series *series);
/** [nsteps][ncomp], units as in rpr_series_new. */
const double *rpr_series_values(const rpr_series *series);
/** The file read, or "(memory)"; borrowed. */
const char *rpr_series_path(const rpr_series *series);
/** File line of record k (1-based), 0 if not from a file. */
size_t rpr_series_line(const rpr_series *series, size_t step);

/**
 * Find jumps: steps k whose change |v_k - v_(k-1)| (Euclidean for mu,
 * Frobenius for alpha) exceeds factor times the median change (any nonzero
 * change if the median is 0).  A frame seam of the model shows up so.
 * *steps [*njumps] (the later record k) and *ratios [*njumps] (change over
 * median; Inf if the median is 0) are freed with rpr_free; both NULL when
 * there is no jump.  Prints nothing: the program warns.
 * @return RPR_OK, RPR_EINVAL (factor not > 0), RPR_ENOMEM.
 */
rpr_status rpr_series_jumps(const rpr_series *series, double factor,
                            size_t *njumps, size_t **steps, double **ratios,
                            rpr_error *err);

/** A computed spectrum: columns over a uniform wavenumber grid. */
typedef struct rpr_spectrum rpr_spectrum;

/** The parameters a spectrum was computed with, resolved. */
typedef struct rpr_spectrum_info {
    rpr_spectrum_kind kind;
    size_t nseries;                /* trajectories */
    size_t nunits;                 /* jackknife units: trajectories, or blocks
                                      of one; 1 means no error band (NaN) */
    size_t nsteps_min, nsteps_max; /* records per trajectory */
    double dt_fs;                  /* of the first series */
    size_t depth;                  /* L used, frames */
    double window_width_fs;        /* Gaussian a; (L-1) dt otherwise */
    double resolution_cm;          /* FWHM of the window's line (scaled) */
    double spacing_cm;             /* grid spacing (scaled axis) */
    double nyquist_cm;             /* 1 / (2 c dt) (scaled axis) */
} rpr_spectrum_info;

/**
 * Compute the IR (opt->kind IR) or Raman spectrum of nseries trajectories
 * (possibly of different lengths; their dt must agree within
 * opt->dt_rtol).  Per trajectory: central-difference derivative, unbiased
 * autocorrelation of the rotational invariants (IR: sum over x y z of mu';
 * Raman: isotropic mean alpha' and anisotropic (3/2) sum_ij beta'_ij
 * beta'_ij), pooled with weights N_i - tau; window, zero padding, DCT-I
 * (FFTW), finite-difference correction, absolute units.  The standard
 * error is the jackknife over trajectories (over opt->blocks blocks of
 * time origins when there is one); equal-length trajectories give exactly
 * the standard error of the mean of per-trajectory spectra.
 * Columns, by name (units in rpr_spectrum_column):
 *   IR:    wavenumber ir ir_se ir_integral
 *   Raman: wavenumber iso aniso parallel parallel_se perpendicular
 *          perpendicular_se unpolarised unpolarised_se
 *          unpolarised_integral depolarisation depolarisation_se
 * Makes FFTW plans (FFTW_ESTIMATE): not to be called concurrently with
 * other FFTW planning in the process.
 * @return RPR_OK, RPR_EINVAL (options out of range, series of another kind
 *         or time step, too short for the depth), RPR_ENOMEM.
 */
rpr_status rpr_spectrum_compute(const rpr_spectrum_options *opt, size_t nseries,
                                const rpr_series *const *series,
                                rpr_spectrum **spec, rpr_error *err);
void rpr_spectrum_free(rpr_spectrum *spec); /* NULL does nothing */
void rpr_spectrum_get_info(const rpr_spectrum *spec, rpr_spectrum_info *info);
/** The options used, with depth and window_width_fs resolved; borrowed. */
const rpr_spectrum_options *rpr_spectrum_options_used(const rpr_spectrum *spec);
size_t rpr_spectrum_nbins(const rpr_spectrum *spec);
size_t rpr_spectrum_ncols(const rpr_spectrum *spec);
/**
 * Column j [nbins] with its name and unit (static strings; either pointer
 * may be NULL); NULL if j >= ncols.
 */
const double *rpr_spectrum_column(const rpr_spectrum *spec, size_t j,
                                  const char **name, const char **unit);
/** Column by name, or NULL. */
const double *rpr_spectrum_find(const rpr_spectrum *spec, const char *name);

/**
 * Write the spectrum as a text table: '#' header lines with every
 * parameter, the input files, the conventions and the units, then
 * "# columns:" and "# units:" lines and one row per wavenumber.
 * @return RPR_OK or RPR_EIO.
 */
rpr_status rpr_spectrum_write(const rpr_spectrum *spec, FILE *stream,
                              rpr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* RPR_H */
