/*
 * descriptor.c - the descriptor registry: RE, ID, CM (MLatom's definitions,
 * reference notes kreg-and-krr.md section 1) and the augmented descriptors
 * of Martinka et al. (RExyz, REsph, REdihed, xyzQ), each with its analytic
 * Jacobian.
 *
 * Coordinates are in angstrom.  Pair order (a < b): (0,1), (0,2), ...,
 * (0,n-1), (1,2), ...; pair (a,b) is entry a(2n-a-1)/2 + (b-a-1).
 * Jacobians are [length][3 natoms], row-major, d x / d xyz per angstrom.
 */
#include <config.h>

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "descriptor.h"

/* ------------------------------------------------------------ checks */

/* Which inputs a row reads (beyond xyz). */
enum {
    DESC_EQ = 1,       /* xyz_eq */
    DESC_NUMBERS = 2,  /* numbers */
    DESC_SEL = 4,      /* sel, nsel */
    DESC_DIHEDRAL = 8, /* dihedral[4] */
    DESC_PAIRS = 16    /* needs at least two atoms */
};

static rpr_status descriptor_check(const char *name, int needs,
                                   const descriptor_params *p,
                                   const double *xyz, rpr_error *err)
{
    const size_t n = p->natoms;
    if (n < ((needs & DESC_PAIRS) ? 2u : 1u))
        return RPR_FAIL(err, RPR_EINVAL,
                        "descriptor %s: needs at least %d atoms (got %zu)",
                        name, (needs & DESC_PAIRS) ? 2 : 1, n);
    for (size_t i = 0; i < 3 * n; i++)
        if (!isfinite(xyz[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "descriptor %s: coordinate %c of atom %zu is not "
                            "finite",
                            name, "xyz"[i % 3], i / 3 + 1);
    if (needs & DESC_EQ) {
        if (p->xyz_eq == NULL)
            return RPR_FAIL(err, RPR_EINVAL,
                            "descriptor %s: no equilibrium geometry", name);
        for (size_t i = 0; i < 3 * n; i++)
            if (!isfinite(p->xyz_eq[i]))
                return RPR_FAIL(err, RPR_ENONFINITE,
                                "descriptor %s: equilibrium coordinate %c of "
                                "atom %zu is not finite",
                                name, "xyz"[i % 3], i / 3 + 1);
    }
    if (needs & DESC_NUMBERS) {
        if (p->numbers == NULL)
            return RPR_FAIL(err, RPR_EINVAL, "descriptor %s: no atomic numbers",
                            name);
        for (size_t a = 0; a < n; a++)
            if (p->numbers[a] < 1)
                return RPR_FAIL(err, RPR_EINVAL,
                                "descriptor %s: atomic number of atom %zu "
                                "must be >= 1 (got %d)",
                                name, a + 1, p->numbers[a]);
    }
    if (needs & DESC_SEL) {
        if (p->nsel == 0 || p->sel == NULL)
            return RPR_FAIL(err, RPR_EINVAL, "descriptor %s: no atoms selected",
                            name);
        for (size_t j = 0; j < p->nsel; j++) {
            if (p->sel[j] >= n)
                return RPR_FAIL(err, RPR_EINVAL,
                                "descriptor %s: selected atom %zu out of "
                                "range 1..%zu",
                                name, p->sel[j] + 1, n);
            for (size_t k = 0; k < j; k++)
                if (p->sel[k] == p->sel[j])
                    return RPR_FAIL(err, RPR_EINVAL,
                                    "descriptor %s: atom %zu selected twice",
                                    name, p->sel[j] + 1);
        }
    }
    if (needs & DESC_DIHEDRAL) {
        for (int j = 0; j < 4; j++) {
            if (p->dihedral[j] >= n)
                return RPR_FAIL(err, RPR_EINVAL,
                                "descriptor %s: dihedral atom %zu out of "
                                "range 1..%zu",
                                name, p->dihedral[j] + 1, n);
            for (int k = 0; k < j; k++)
                if (p->dihedral[k] == p->dihedral[j])
                    return RPR_FAIL(err, RPR_EINVAL,
                                    "descriptor %s: dihedral names atom %zu "
                                    "twice",
                                    name, p->dihedral[j] + 1);
        }
    }
    return RPR_OK;
}

static size_t descriptor_npairs(size_t n)
{
    return n < 2 ? 0 : n * (n - 1) / 2;
}

static double descriptor_dist(const double *xyz, size_t a, size_t b)
{
    const double dx = xyz[3 * b] - xyz[3 * a],
                 dy = xyz[3 * b + 1] - xyz[3 * a + 1],
                 dz = xyz[3 * b + 2] - xyz[3 * a + 2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

/*
 * x_d = num_ab / r_ab over pairs, num = r_eq (RE) or 1 (ID), into x[0..D)
 * and rows 0..D of jac (row stride 3n, already zeroed):
 * d x / d M_a = x (M_b - M_a) / r^2, d x / d M_b = -d x / d M_a.
 */
static rpr_status descriptor_pairs(const char *name, const descriptor_params *p,
                                   const double *xyz, int use_eq, double *x,
                                   double *jac, rpr_error *err)
{
    const size_t n = p->natoms, ncol = 3 * n;
    size_t d = 0;
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++, d++) {
            const double r = descriptor_dist(xyz, a, b);
            if (!(r > 0.0))
                return RPR_FAIL(err, RPR_EINVAL,
                                "descriptor %s: atoms %zu and %zu coincide",
                                name, a + 1, b + 1);
            double num = 1.0;
            if (use_eq) {
                num = descriptor_dist(p->xyz_eq, a, b);
                if (!(num > 0.0))
                    return RPR_FAIL(err, RPR_EINVAL,
                                    "descriptor %s: atoms %zu and %zu "
                                    "coincide in the equilibrium geometry",
                                    name, a + 1, b + 1);
            }
            x[d] = num / r;
            if (jac != NULL) {
                const double f = x[d] / (r * r);
                for (int t = 0; t < 3; t++) {
                    const double g = f * (xyz[3 * b + t] - xyz[3 * a + t]);
                    jac[d * ncol + 3 * a + t] = g;
                    jac[d * ncol + 3 * b + t] = -g;
                }
            }
        }
    return RPR_OK;
}

static void descriptor_zero_jac(size_t rows, size_t natoms, double *jac)
{
    if (jac != NULL)
        memset(jac, 0, rows * 3 * natoms * sizeof *jac);
}

/* ------------------------------------------------------------ rows */

static size_t re_length(const descriptor_params *p)
{
    return descriptor_npairs(p->natoms);
}

static rpr_status re_eval(const descriptor_params *p, const double *xyz,
                          double *x, double *jac, rpr_error *err)
{
    const rpr_status st =
        descriptor_check("RE", DESC_PAIRS | DESC_EQ, p, xyz, err);
    if (st != RPR_OK)
        return st;
    descriptor_zero_jac(re_length(p), p->natoms, jac);
    return descriptor_pairs("RE", p, xyz, 1, x, jac, err);
}

static rpr_status id_eval(const descriptor_params *p, const double *xyz,
                          double *x, double *jac, rpr_error *err)
{
    const rpr_status st = descriptor_check("ID", DESC_PAIRS, p, xyz, err);
    if (st != RPR_OK)
        return st;
    descriptor_zero_jac(re_length(p), p->natoms, jac);
    return descriptor_pairs("ID", p, xyz, 0, x, jac, err);
}

static size_t cm_length(const descriptor_params *p)
{
    return p->natoms * p->natoms;
}

/* MLatom's D_CoulombMatrix.f90: the full matrix row by row (both triangles,
 * unsorted), C_aa = 0.5 Z^2.4, C_ab = Z_a Z_b / R_ab with R in bohr. */
static rpr_status cm_eval(const descriptor_params *p, const double *xyz,
                          double *x, double *jac, rpr_error *err)
{
    const rpr_status st = descriptor_check("CM", DESC_NUMBERS, p, xyz, err);
    if (st != RPR_OK)
        return st;
    const size_t n = p->natoms, ncol = 3 * n;
    descriptor_zero_jac(cm_length(p), n, jac);
    for (size_t a = 0; a < n; a++) {
        const double za = p->numbers[a];
        x[a * n + a] = 0.5 * pow(za, 2.4);
        for (size_t b = a + 1; b < n; b++) {
            const double r = descriptor_dist(xyz, a, b);
            if (!(r > 0.0))
                return RPR_FAIL(err, RPR_EINVAL,
                                "descriptor CM: atoms %zu and %zu coincide",
                                a + 1, b + 1);
            /* Z_a Z_b / (r / A_per_bohr) */
            const double zz = za * p->numbers[b] * RPR_ANGSTROM_PER_BOHR;
            const double v = zz / r;
            x[a * n + b] = x[b * n + a] = v;
            if (jac != NULL) {
                const double f = v / (r * r);
                for (int t = 0; t < 3; t++) {
                    const double g = f * (xyz[3 * b + t] - xyz[3 * a + t]);
                    jac[(a * n + b) * ncol + 3 * a + t] = g;
                    jac[(a * n + b) * ncol + 3 * b + t] = -g;
                    jac[(b * n + a) * ncol + 3 * a + t] = g;
                    jac[(b * n + a) * ncol + 3 * b + t] = -g;
                }
            }
        }
    }
    return RPR_OK;
}

static size_t rexyz_length(const descriptor_params *p)
{
    return descriptor_npairs(p->natoms) + 3 * p->nsel;
}

static rpr_status rexyz_eval(const descriptor_params *p, const double *xyz,
                             double *x, double *jac, rpr_error *err)
{
    rpr_status st =
        descriptor_check("RExyz", DESC_PAIRS | DESC_EQ | DESC_SEL, p, xyz, err);
    if (st != RPR_OK)
        return st;
    const size_t n = p->natoms, ncol = 3 * n, D = descriptor_npairs(n);
    descriptor_zero_jac(rexyz_length(p), n, jac);
    st = descriptor_pairs("RExyz", p, xyz, 1, x, jac, err);
    if (st != RPR_OK)
        return st;
    for (size_t j = 0; j < p->nsel; j++)
        for (size_t t = 0; t < 3; t++) {
            const size_t row = D + 3 * j + t, col = 3 * p->sel[j] + t;
            x[row] = xyz[col];
            if (jac != NULL)
                jac[row * ncol + col] = 1.0;
        }
    return RPR_OK;
}

/*
 * Spherical coordinates of the selected atoms about the frame origin:
 * r = |x|, theta = atan2(rho, z) (from +z, in [0, pi]; atan2 rather than
 * acos(z/r) keeps full accuracy near the poles), phi = atan2(y, x) in
 * (-pi, pi].  phi has a seam: it jumps by 2 pi where an atom crosses the
 * half-plane y = 0, x < 0, and it is undefined on the z axis (rho = 0),
 * where theta's and phi's derivatives diverge; such an atom is an error.
 */
static rpr_status resph_eval(const descriptor_params *p, const double *xyz,
                             double *x, double *jac, rpr_error *err)
{
    rpr_status st =
        descriptor_check("REsph", DESC_PAIRS | DESC_EQ | DESC_SEL, p, xyz, err);
    if (st != RPR_OK)
        return st;
    const size_t n = p->natoms, ncol = 3 * n, D = descriptor_npairs(n);
    descriptor_zero_jac(rexyz_length(p), n, jac);
    st = descriptor_pairs("REsph", p, xyz, 1, x, jac, err);
    if (st != RPR_OK)
        return st;
    for (size_t j = 0; j < p->nsel; j++) {
        const size_t a = p->sel[j], row = D + 3 * j;
        const double px = xyz[3 * a], py = xyz[3 * a + 1], pz = xyz[3 * a + 2];
        const double rho2 = px * px + py * py, rho = sqrt(rho2);
        const double r2 = rho2 + pz * pz, r = sqrt(r2);
        if (!(rho > 0.0))
            return RPR_FAIL(err, RPR_EINVAL,
                            "descriptor REsph: atom %zu lies on the frame z "
                            "axis (phi undefined)",
                            a + 1);
        x[row] = r;
        x[row + 1] = atan2(rho, pz);
        x[row + 2] = atan2(py, px);
        if (jac != NULL) {
            double *jr = jac + row * ncol + 3 * a;
            double *jt = jac + (row + 1) * ncol + 3 * a;
            double *jp = jac + (row + 2) * ncol + 3 * a;
            jr[0] = px / r;
            jr[1] = py / r;
            jr[2] = pz / r;
            /* d theta = (z d rho - rho dz) / r^2 */
            jt[0] = pz * px / (rho * r2);
            jt[1] = pz * py / (rho * r2);
            jt[2] = -rho / r2;
            /* d phi = (x dy - y dx) / rho^2 */
            jp[0] = -py / rho2;
            jp[1] = px / rho2;
            jp[2] = 0.0;
        }
    }
    return RPR_OK;
}

static size_t redihed_length(const descriptor_params *p)
{
    return descriptor_npairs(p->natoms) + 2;
}

static void descriptor_cross(const double u[3], const double v[3],
                             double out[3])
{
    out[0] = u[1] * v[2] - u[2] * v[1];
    out[1] = u[2] * v[0] - u[0] * v[2];
    out[2] = u[0] * v[1] - u[1] * v[0];
}

static double descriptor_dot(const double u[3], const double v[3])
{
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
}

/*
 * RE plus cos phi and sin phi of the dihedral a-b-c-d (IUPAC sign).  The
 * pair, not phi itself: phi jumps by 360 degrees at +-180 (where anti DCE
 * sits), while cos and sin are smooth everywhere; cos alone would not tell
 * +phi from -phi (g+ from g-), sin keeps the handedness.  Because sin phi
 * changes sign under a reflection, this row is not O(3)-invariant by
 * itself: the model gives it frame coordinates.
 *
 * With F = r_a - r_b, G = r_b - r_c, H = r_d - r_c, A = F x G, B = H x G:
 * cos phi = A.B / (|A||B|), sin phi = (B x A).G / (|A||B||G|), and the
 * gradient of phi is that of Blondel and Karplus, J. Comput. Chem. 17,
 * 1132 (1996), free of 1/sin singularities:
 *   d phi/d r_a = -|G|/A^2 A,  d phi/d r_d = |G|/B^2 B,
 *   d phi/d r_b = |G|/A^2 A + (F.G)/(A^2|G|) A - (H.G)/(B^2|G|) B,
 *   d phi/d r_c = (H.G)/(B^2|G|) B - (F.G)/(A^2|G|) A - |G|/B^2 B.
 */
static rpr_status redihed_eval(const descriptor_params *p, const double *xyz,
                               double *x, double *jac, rpr_error *err)
{
    rpr_status st = descriptor_check(
        "REdihed", DESC_PAIRS | DESC_EQ | DESC_DIHEDRAL, p, xyz, err);
    if (st != RPR_OK)
        return st;
    const size_t n = p->natoms, ncol = 3 * n, D = descriptor_npairs(n);
    descriptor_zero_jac(redihed_length(p), n, jac);
    st = descriptor_pairs("REdihed", p, xyz, 1, x, jac, err);
    if (st != RPR_OK)
        return st;
    const size_t *q = p->dihedral;
    double F[3], G[3], H[3], A[3], B[3], BxA[3];
    for (int t = 0; t < 3; t++) {
        F[t] = xyz[3 * q[0] + t] - xyz[3 * q[1] + t];
        G[t] = xyz[3 * q[1] + t] - xyz[3 * q[2] + t];
        H[t] = xyz[3 * q[3] + t] - xyz[3 * q[2] + t];
    }
    descriptor_cross(F, G, A);
    descriptor_cross(H, G, B);
    const double a2 = descriptor_dot(A, A), b2 = descriptor_dot(B, B);
    if (!(a2 > 0.0) || !(b2 > 0.0)) {
        const size_t *t = a2 > 0.0 ? q + 1 : q;
        return RPR_FAIL(err, RPR_EINVAL,
                        "descriptor REdihed: atoms %zu, %zu, %zu are "
                        "collinear (dihedral undefined)",
                        t[0] + 1, t[1] + 1, t[2] + 1);
    }
    const double g = sqrt(descriptor_dot(G, G)), ab = sqrt(a2) * sqrt(b2);
    descriptor_cross(B, A, BxA);
    const double c = descriptor_dot(A, B) / ab;
    const double s = descriptor_dot(BxA, G) / (ab * g);
    x[D] = c;
    x[D + 1] = s;
    if (jac != NULL) {
        const double fg = descriptor_dot(F, G), hg = descriptor_dot(H, G);
        double dphi[4][3];
        for (int t = 0; t < 3; t++) {
            const double ta = A[t] / a2, tb = B[t] / b2;
            dphi[0][t] = -g * ta;
            dphi[3][t] = g * tb;
            dphi[1][t] = g * ta + fg / g * ta - hg / g * tb;
            dphi[2][t] = hg / g * tb - fg / g * ta - g * tb;
        }
        /* d cos = -sin d phi, d sin = cos d phi */
        for (int k = 0; k < 4; k++)
            for (int t = 0; t < 3; t++) {
                jac[D * ncol + 3 * q[k] + t] = -s * dphi[k][t];
                jac[(D + 1) * ncol + 3 * q[k] + t] = c * dphi[k][t];
            }
    }
    return RPR_OK;
}

static size_t xyzq_length(const descriptor_params *p)
{
    return 3 * p->natoms;
}

static rpr_status xyzq_eval(const descriptor_params *p, const double *xyz,
                            double *x, double *jac, rpr_error *err)
{
    const rpr_status st = descriptor_check("xyzQ", DESC_NUMBERS, p, xyz, err);
    if (st != RPR_OK)
        return st;
    const size_t n = p->natoms, ncol = 3 * n;
    descriptor_zero_jac(xyzq_length(p), n, jac);
    for (size_t i = 0; i < 3 * n; i++) {
        const double z = p->numbers[i / 3];
        x[i] = z * xyz[i];
        if (jac != NULL)
            jac[i * ncol + i] = z;
    }
    return RPR_OK;
}

/* ------------------------------------------------------------ registry */

#define MARTINKA "Martinka et al., J. Chem. Phys. 161, 174104 (2024)"

static const descriptor_info descriptor_table[] = {
    {"RE", "x_ab = r_eq(a,b) / r(a,b) over pairs a < b", "dimensionless",
     "Dral et al., J. Chem. Phys. 146, 244108 (2017)", 0, 0, 0, re_length,
     re_eval},
    {"ID", "x_ab = 1 / r(a,b) over pairs a < b", "1/angstrom",
     "Dral, J. Comput. Chem. 40, 2339 (2019) (MLatom)", 0, 0, 0, re_length,
     id_eval},
    {"CM",
     "Coulomb matrix, full n x n row-major, unsorted: C_aa = 0.5 Z_a^2.4, "
     "C_ab = Z_a Z_b / R_ab(bohr)",
     "hartree", "Rupp et al., Phys. Rev. Lett. 108, 058301 (2012)", 0, 0, 0,
     cm_length, cm_eval},
    {"RExyz", "RE, then frame x, y, z of each selected atom",
     "dimensionless (RE), angstrom (x, y, z)", MARTINKA, 1, 1, 0, rexyz_length,
     rexyz_eval},
    {"REsph",
     "RE, then r, theta (from +z), phi = atan2(y, x) of each selected atom",
     "dimensionless (RE), angstrom (r), radian (theta, phi)", MARTINKA, 1, 1, 0,
     rexyz_length, resph_eval},
    {"REdihed", "RE, then cos(phi), sin(phi) of the dihedral a-b-c-d",
     "dimensionless", MARTINKA, 1, 0, 1, redihed_length, redihed_eval},
    {"xyzQ", "Z_a x_a, Z_a y_a, Z_a z_a of every atom in the frame",
     "e angstrom", MARTINKA, 1, 0, 0, xyzq_length, xyzq_eval},
};

#define DESCRIPTOR_COUNT (sizeof descriptor_table / sizeof descriptor_table[0])

size_t descriptor_count(void)
{
    return DESCRIPTOR_COUNT;
}

const descriptor_info *descriptor_get(size_t i)
{
    return i < DESCRIPTOR_COUNT ? &descriptor_table[i] : NULL;
}

/* ASCII case-insensitive equality (strcasecmp is POSIX, not C11). */
static int descriptor_name_eq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (tolower((unsigned char) *a) != tolower((unsigned char) *b))
            return 0;
    return *a == *b;
}

const descriptor_info *descriptor_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < DESCRIPTOR_COUNT; i++)
        if (strcmp(descriptor_table[i].name, name) == 0)
            return &descriptor_table[i];
    for (size_t i = 0; i < DESCRIPTOR_COUNT; i++)
        if (descriptor_name_eq(descriptor_table[i].name, name))
            return &descriptor_table[i];
    return NULL;
}

int rpr_descriptor_entry(size_t i, const char **name, const char **formula,
                         const char **unit, const char **reference)
{
    const descriptor_info *d = descriptor_get(i);
    if (d == NULL)
        return 0;
    if (name != NULL)
        *name = d->name;
    if (formula != NULL)
        *formula = d->formula;
    if (unit != NULL)
        *unit = d->unit;
    if (reference != NULL)
        *reference = d->reference;
    return 1;
}
