/*
 * descriptor.h - molecular descriptors (private).  A const registry; each
 * row has a name, a formula, a unit, a literature source, a length and an
 * evaluator with an optional analytic Jacobian.
 *
 * Coordinates given to descriptors are in angstrom (MLatom's convention;
 * the model converts from bohr), in whatever frame the caller chose: the
 * augmented descriptors (RExyz, REsph, xyzQ) use the canonical-frame
 * coordinates the model passes in.  Pair order (a < b): (0,1), (0,2), ...,
 * (0,n-1), (1,2), ...
 */
#ifndef RPR_DESCRIPTOR_H
#define RPR_DESCRIPTOR_H

#include <stddef.h>

#include "internal.h"

/* Parameters fixed at training and stored in the model. */
typedef struct descriptor_params {
    size_t natoms;
    const int *numbers;   /* [natoms] atomic numbers */
    const double *xyz_eq; /* [natoms][3] equilibrium geometry, angstrom
                             (RE-based descriptors) */
    size_t nsel;          /* selected atoms (RExyz, REsph) */
    const size_t *sel;    /* [nsel], 0-based */
    size_t dihedral[4];   /* REdihed, 0-based */
} descriptor_params;

typedef struct descriptor_info {
    const char *name;      /* "RE", "ID", "CM", "RExyz", "REsph", "REdihed",
                              "xyzQ" */
    const char *formula;   /* one line */
    const char *unit;      /* of the components, e.g. "dimensionless" */
    const char *reference; /* literature source */
    int uses_frame;        /* 1 if it reads frame coordinates (not
                              invariant by itself) */
    int needs_sel;         /* 1 if it needs selected atoms */
    int needs_dihedral;    /* 1 if it needs the dihedral */
    size_t (*length)(const descriptor_params *p);
    /* x [length]; jac [length][natoms*3] (dx/dxyz, per angstrom; every
     * entry written) or NULL.  RPR_EINVAL for coincident atoms (message
     * names the two 1-based atoms), a collinear dihedral, a REsph atom on
     * the frame z axis, or missing/out-of-range parameters;
     * RPR_ENONFINITE for NaN/Inf coordinates.  Never prints. */
    rpr_status (*eval)(const descriptor_params *p, const double *xyz, double *x,
                       double *jac, rpr_error *err);
} descriptor_info;

size_t descriptor_count(void);
const descriptor_info *descriptor_get(size_t i);          /* NULL past end */
const descriptor_info *descriptor_find(const char *name); /* exact or
                                                             case-insensitive */

#endif /* RPR_DESCRIPTOR_H */
