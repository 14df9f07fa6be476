/*
 * model.h - the trained model (private): what rpr_train builds, what the
 * XML file and the binary cache hold, and what rpr_predict reads.
 *
 * Memory.  A model is ONE allocation: the struct rpr_model followed by an
 * arena holding every array (64-byte aligned).  model_layout() derives the
 * array pointers from the sizes stored in the struct, so the binary cache
 * is the block itself: read it with one read(), call model_layout() and
 * model_bind(), done.  rpr_model_free() is one free().
 *
 * Sub-models.  A model holds one KRR sub-model per frame (frames.md 4.6):
 * one for the frames none and principal, one per Kabsch reference for
 * kabsch, and for the blend the principal one followed by one per Kabsch
 * reference.  Each learns all components of the property in its own
 * frame on the same training geometries; prediction rotates each back
 * and blends with invariant weights (model.c, model_blend_weights).
 *
 * Units.  Descriptors are evaluated on coordinates in angstrom (MLatom's
 * convention, kreg-and-krr.md 1), converted from bohr with
 * RPR_ANGSTROM_PER_BOHR at the edge of the descriptor; everything else is
 * in the library's units (bohr, hartree, e*bohr, bohr^3, amu).
 */
#ifndef RPR_MODEL_H
#define RPR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "descriptor.h"
#include "internal.h"
#include "kernel.h"

enum {
    /* Number of the XML format written; loading refuses larger ones. */
    MODEL_FORMAT = 3, /* 2: several Kabsch references, reference source;
                         3: <relabel> (written only by models that have
                         one; the others are still written as 2) */
    /* Version of the binary cache layout; bump when struct rpr_model or
     * model_layout() changes (the cache also checks sizeof and the library
     * version). */
    MODEL_CACHE_VERSION = 5, /* 4: permutations; 5: relabelling blend */
    MODEL_MAX_COMP = 6,      /* polarizability */
    /* blend: principal and one sub-model per Kabsch reference */
    MODEL_MAX_SUB = 1 + RPR_KABSCH_MAX_REFS,
    MODEL_NAME_LEN = 32,
    MODEL_ATOMS_LEN = 128,
    MODEL_PERMUTE_LEN = 256, /* rpr_train_options.permute, with its NUL */
    MODEL_ALIGN = 64         /* arena alignment of every array, bytes */
};

/* Where the equilibrium geometry of the RE-type descriptors came from. */
typedef enum model_eq_source {
    MODEL_EQ_FIRST = 0,  /* the first training geometry */
    MODEL_EQ_LOWEST = 1, /* the lowest-energy training geometry */
    MODEL_EQ_USER = 2    /* given by the caller (rpr_train_options.xyz_eq) */
} model_eq_source;

/* Where a Kabsch reference came from (rpr info). */
typedef enum model_ref_source {
    MODEL_REF_UNKNOWN = 0, /* a file written before references were
                              recorded: see eq_source */
    MODEL_REF_GIVEN = 1,   /* rpr_train_options.kabsch_refs or xyz_eq */
    MODEL_REF_TRAINING = 2 /* training geometry ref_index */
} model_ref_source;

/* One KRR sub-model: all components of the property in one frame. */
typedef struct model_sub {
    rpr_frame_kind frame;        /* NONE, PRINCIPAL or KABSCH (never BLEND) */
    model_ref_source ref_source; /* Kabsch only */
    size_t ref_index;            /* 0-based, with MODEL_REF_TRAINING */
    /* Kabsch: sigma3/sigma1 of the reference fitted to itself, the scale
     * of the blend ramp (frames.md 4.6); NaN otherwise. */
    double ref_margin;
    /* Per component: kernel width (descriptor units), regularisers, prior
     * (property unit, frame components), and the selection errors of the
     * search at the optimum (validation RMSE and MAE, or LOO; NaN when
     * sigma and lambda were given). */
    double sigma[MODEL_MAX_COMP];
    double lambda[MODEL_MAX_COMP];
    double lambda_grad[MODEL_MAX_COMP]; /* energy with gradients; else NaN */
    double prior[MODEL_MAX_COMP];
    double rmse[MODEL_MAX_COMP];
    double mae[MODEL_MAX_COMP];
    /* Derived by model_derive: components with bit-equal sigma share their
     * kernel row at prediction.  group[c] is the group of component c,
     * group_first[g] the first component of group g. */
    size_t ngroup;
    size_t group[MODEL_MAX_COMP];
    size_t group_first[MODEL_MAX_COMP];
    /* Derived: with shared_x (below), the model-wide kernel-width group
     * of each component. */
    size_t xgroup[MODEL_MAX_COMP];
    /* Arrays in the arena. */
    double *ref;   /* Kabsch: reference [natoms][3], bohr, centred on its
                      weighted centre; NULL otherwise */
    double *xt;    /* training descriptors transposed [D][ntrain] */
    double *alpha; /* coefficients [ncomp][ntrain] */
    double *qt;    /* KREG q_j = J_j beta_j transposed [D][ntrain] (hartree
                      per angstrom), or NULL without gradient training */
    double *qdot;  /* derived: x_j . q_j [ntrain], or NULL */
} model_sub;

struct rpr_model {
    size_t bytes; /* of the whole block: struct + arena */
    /* Sizes: model_layout() derives every pointer from these. */
    size_t natoms, ncomp, nsel, D, ntrain, nsub;
    int has_q; /* energy trained with gradients (KREG) */

    rpr_property property;
    char writer_version[MODEL_NAME_LEN]; /* rpr that trained the model */
    char descriptor[MODEL_NAME_LEN];     /* registry name, e.g. "RExyz" */
    char atoms[MODEL_ATOMS_LEN];         /* the atom selection as given */
    size_t dihedral[4];                  /* 0-based; REdihed only */
    model_eq_source eq_source;
    kernel_type kernel;
    int matern_n;
    rpr_frame_kind frame; /* what the user chose (BLEND: two subs) */
    rpr_frame_options frame_options;
    /* Training record. */
    int prior_mean;
    rpr_criterion criterion;
    double validation_fraction;
    uint64_t seed;
    uint64_t data_hash; /* model_hash of the training data (train.c) */
    size_t ngrad;       /* training geometries with gradients */
    /* Permutations of identical atoms trained with (rpr_train_options.
     * permute), "" for none; ntrain counts the relabelled copies. */
    char permute[MODEL_PERMUTE_LEN];
    long property_line; /* line of <property> in the file loaded; 0 */

    /* Relabelling blend (rpr_train_options.relabel; model.c, "Relabelling
     * blend"): 0 rows without one.  relabel_n ID vectors of the training
     * geometries (the originals), relabel_npairs = natoms (natoms - 1) / 2
     * long, per angstrom; the density width relabel_scale (per angstrom)
     * and the band relabel_band (log-density units); the spec as given. */
    size_t relabel_n, relabel_npairs;
    double relabel_scale, relabel_band;
    char relabel[MODEL_PERMUTE_LEN];
    /* Bound by model_bind with relabel_n > 0: the ID row of the registry. */
    const descriptor_info *relabel_desc;

    /* Bound by model_bind (never stored): the descriptor's registry row. */
    const descriptor_info *desc;
    /* Derived by model_derive: 1 if the descriptor does not depend on the
     * frame and every sub-model holds bit-equal training descriptors
     * (train.c evaluates them once), so prediction evaluates the
     * descriptor and the kernel distances once and each distinct kernel
     * width's row once (xsigma), for all sub-models. */
    int shared_x;
    size_t nxgroup;
    double xsigma[MODEL_MAX_SUB * MODEL_MAX_COMP];
    /* Derived: number of Kabsch sub-models and index of the first. */
    size_t nkabsch, kabsch_first;

    /* Arrays in the arena. */
    int *numbers;     /* [natoms] */
    double *masses;   /* [natoms] amu */
    double *weights;  /* derived [natoms]: principal-frame weights */
    double *kweights; /* derived [natoms]: Kabsch-fit weights */
    double *xyz_eq;   /* [natoms][3] bohr */
    double *xyz_eq_a; /* derived [natoms][3] angstrom, for the descriptor */
    size_t *sel;      /* [nsel] selected atoms, 0-based */
    model_sub sub[MODEL_MAX_SUB];
    /* Relabelling blend, the last arrays of the arena (so that adding them
     * to a trained model keeps every other offset): the permutation
     * relabel_perm [natoms] (atom a of Px sits at x[relabel_perm[a]]), and
     * the training ID vectors transposed, relabel_idt [npairs][relabel_n];
     * NULL without relabelling. */
    size_t *relabel_perm;
    double *relabel_idt;
};

/* Sizes and kinds that fix the layout of a model. */
typedef struct model_shape {
    rpr_property property;
    size_t natoms, nsel, D, ntrain, nsub;
    int has_q;
    rpr_frame_kind sub_frame[MODEL_MAX_SUB];
    size_t relabel_n; /* ID vectors of the relabelling blend; 0: none */
} model_shape;

/* Allocate a zeroed model block for a shape, with the sizes stored and the
 * pointers laid out; numbers that mean "absent" (ref_margin, rmse, mae,
 * lambda_grad) start as NaN.  RPR_EINVAL for inconsistent sizes (0 atoms,
 * more than MODEL_MAX_SUB sub-models, overflow), RPR_ENOMEM. */
rpr_status model_new(const model_shape *shape, rpr_model **model,
                     rpr_error *err);

/* Bytes of the block for a shape (0 on overflow) and the pointers of a
 * block at its current address (after copying or reading it). */
size_t model_block_size(const model_shape *shape);
void model_layout(rpr_model *model);

/* The shape a model was made with. */
void model_shape_of(const rpr_model *model, model_shape *shape);

/* Look up the descriptor row by name.  RPR_EINVAL if unknown. */
rpr_status model_bind(rpr_model *model, rpr_error *err);

/* Fill the derived arrays (weights, xyz_eq_a, groups, qdot) and bind.  Call
 * after training or parsing, before use or saving the cache. */
rpr_status model_derive(rpr_model *model, rpr_error *err);

/* train.c: parse a permutation SPEC (rpr_train_options.permute) for a
 * molecule of natoms atoms with atomic numbers numbers [natoms].  perm
 * [MODEL_MAX_PERM][natoms] (may be NULL: check only) receives each
 * permutation as 0-based images, perm[k * natoms + a] the atom whose
 * coordinates atom a of copy k takes; *nperm their number (0 for NULL or
 * "").  RPR_EINVAL with a message naming SPEC: malformed, index out of
 * range, atom twice in one permutation, atoms of different elements, more
 * than MODEL_MAX_PERM permutations, longer than MODEL_PERMUTE_LEN - 1. */
enum { MODEL_MAX_PERM = 32 };
rpr_status train_permute_parse(const char *spec, size_t natoms,
                               const int *numbers, size_t *perm, size_t *nperm,
                               rpr_error *err);

/* rpr_predict without the relabelling blend: the model's own prediction
 * f(x) (value [ncomp] lab frame, grad, health as rpr_predict; health's
 * relabel_weight is 1).  rpr_predict is this for models without relabel. */
rpr_status model_predict_plain(const rpr_model *model, rpr_workspace *ws,
                               size_t natoms, const int *numbers,
                               const double *xyz, double *value, double *grad,
                               rpr_frame_health *health, rpr_error *err);

/* Relabelling blend (relabel_n > 0): *delta = log rho(x) - log rho(Px)
 * for xyz [natoms][3] bohr (model.c); swapping x and Px flips its sign
 * bit for bit.  *weight = w(x) and *minor = the weight of the labelling
 * with the smaller weight (S((1 - |Delta| / band) / 2), <= 1/2), either
 * may be NULL.  RPR_EINVAL (no relabelling, coincident atoms). */
rpr_status model_relabel_weight(const rpr_model *model, rpr_workspace *ws,
                                const double *xyz, double *delta,
                                double *weight, double *minor, rpr_error *err);

/* Log of the (unnormalised) ID density of the training geometries at
 * xyz [natoms][3] bohr: logsumexp_i(-|D(x) - D_i|^2 / (2 s^2)). */
rpr_status model_relabel_log_density(const rpr_model *model, rpr_workspace *ws,
                                     const double *xyz, double *log_rho,
                                     rpr_error *err);

/* Descriptor parameters of the model (borrowing its arrays). */
void model_descriptor_params(const rpr_model *model, descriptor_params *p);

/* "none", "principal", "kabsch", "blend"; NULL if out of range. */
const char *model_frame_name(rpr_frame_kind frame);
rpr_status model_frame_parse(const char *name, rpr_frame_kind *frame);
/* "mass", "charge", "unit"; NULL if out of range. */
const char *model_weighting_name(rpr_frame_weighting weighting);
const char *model_kernel_name(kernel_type type);

/* Sign averaging (frames.md 4.7): the factor +-1 by which frame component
 * c of the property changes when the frame axes k with bit k of w set
 * (w = 0..7) are reversed: s_k for dipole component k, s_i s_j for
 * polarizability component ij, 1 for scalars and energies. */
double model_sign_character(rpr_property property, size_t c, unsigned w);
/* True if sub-model s is averaged over the 8 sign choices of its axes. */
int model_sub_sign_averaged(const rpr_model *model, const model_sub *s);

/* out[j] = exp(-s d[j]) for s d[j] >= 0 (kernel rows of prediction):
 * vectorised, within a few ulp of libm's exp; below DBL_MIN gives 0. */
void model_exp_neg(size_t n, const double *d, double s, double *out);

/* docs/rpr-model.xsd as bytes (src/model_xsd.c, generated by make). */
extern const char model_xsd_text[];
extern const size_t model_xsd_len;

/* 64-bit hash of a byte string, continuing from h (start with
 * MODEL_HASH_SEED): 4-lane multiply-rotate over 8-byte words, fast enough
 * to check a 1 MB cache in ~0.1 ms.  Not cryptographic; detects accidents
 * (a truncated or edited file, other training data), not attacks. */
#define MODEL_HASH_SEED UINT64_C(0x5250522068617368)
uint64_t model_hash(uint64_t h, const void *data, size_t len);

#endif /* RPR_MODEL_H */
