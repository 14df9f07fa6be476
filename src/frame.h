/*
 * frame.h - molecule-fixed frames for rotate-predict-rotate (private).
 * Conventions (reference notes frames.md):
 *   Q is a 3x3 orthogonal matrix, row-major, mapping lab to frame: its rows
 *   are the frame axes in lab coordinates; frame coordinates are
 *   r_f = Q (r - origin).  det Q may be -1 (an improper frame): with a
 *   distance-based descriptor a molecule and its mirror image look the
 *   same, so the frame must map both to the same frame coordinates.
 *   Requirement for every R in O(3): Q(R X) = Q(X) R^T.
 */
#ifndef RPR_FRAME_H
#define RPR_FRAME_H

#include <stddef.h>

#include "internal.h"

/* Weights [natoms] for a weighting (masses in amu, nuclear charges Z, or 1
 * for every atom).  masses may be NULL with RPR_WEIGHT_CHARGE or
 * RPR_WEIGHT_UNIT, numbers NULL with RPR_WEIGHT_MASS or RPR_WEIGHT_UNIT. */
void frame_weights(rpr_frame_weighting weighting, size_t natoms,
                   const int *numbers, const double *masses, double *w);

/*
 * Principal axes of the weighted inertia tensor about the weighted centre,
 * sorted by ascending moment, each axis signed by the rule of frames.md
 * 4.3 (weighted skewness; label fallback below opt->sign_tol).  Fills Q,
 * origin and the principal-frame part of health (moments, gaps, sign
 * reliabilities, fallback bits, improper); the Kabsch and blend fields are
 * left as they are.  An axis along which the molecule has no extent (the
 * normal of a planar molecule) cannot be signed and is completed as the
 * cross product of the other two (reliability 0, fallback bit set).
 * Allocates nothing.
 * @return RPR_OK, RPR_EINVAL (no atoms, a weight <= 0, sign_tol outside
 *         [0, 1)), RPR_ENONFINITE, RPR_EDEGENERATE (all atoms at one point).
 */
rpr_status frame_principal(size_t natoms, const double *w, const double *xyz,
                           const rpr_frame_options *opt, double Q[9],
                           double origin[3], rpr_frame_health *health,
                           rpr_error *err);

/*
 * O(3) Kabsch/Eckart frame: the orthogonal Q minimising
 * sum_i w_i |Q (x_i - origin) - y_i|^2 for a reference y centred on its own
 * weighted centre (ref is centred here; it need not be centred already),
 * proper or improper, whichever fits better.  origin is the weighted centre
 * of xyz.  margin is sigma3/sigma1 of the weighted cross-covariance.  At a
 * tie (sigma3 at the rounding level: planar or linear geometry or
 * reference) the proper fit is returned.  Allocates nothing.
 * @return RPR_OK, RPR_EINVAL (no atoms, a weight <= 0), RPR_ENONFINITE,
 *         RPR_EDEGENERATE (all atoms of xyz or of ref at one point, or a
 *         zero cross-covariance).
 */
rpr_status frame_kabsch(size_t natoms, const double *w, const double *ref,
                        const double *xyz, double Q[9], double origin[3],
                        double *margin, rpr_error *err);

/* C2 smoothstep S(t): 0 for t <= 0, 1 for t >= 1, 6t^5 - 15t^4 + 10t^3. */
double frame_smoothstep(double t);

/* out[n][3] = Q (xyz - origin). */
void frame_to_frame(size_t natoms, const double Q[9], const double origin[3],
                    const double *xyz, double *out);
/* Vector: v_f = Q v; back: v = Q^T v_f. */
void frame_vector_from_lab(const double Q[9], const double v[3], double vf[3]);
void frame_vector_to_lab(const double Q[9], const double vf[3], double v[3]);
/* Symmetric tensor (xx xy xz yy yz zz): a_f = Q a Q^T; back: a = Q^T a_f Q. */
void frame_tensor_from_lab(const double Q[9], const double a[6], double af[6]);
void frame_tensor_to_lab(const double Q[9], const double af[6], double a[6]);

#endif /* RPR_FRAME_H */
