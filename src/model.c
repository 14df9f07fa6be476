/*
 * model.c - the model in memory: layout of the one-block model, property
 * names, accessors, the prediction workspace, rpr_predict and
 * rpr_model_write_info.  Files: model_xml.c; training: train.c.
 */
#include <config.h>

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "model.h"

/* ------------------------------------------------------------ properties */

size_t rpr_property_ncomp(rpr_property property)
{
    switch (property) {
    case RPR_PROPERTY_SCALAR: return 1;
    case RPR_PROPERTY_ENERGY: return 1;
    case RPR_PROPERTY_DIPOLE: return 3;
    case RPR_PROPERTY_POLARIZABILITY: return 6;
    }
    return 0;
}

const char *rpr_property_name(rpr_property property)
{
    switch (property) {
    case RPR_PROPERTY_SCALAR: return "scalar";
    case RPR_PROPERTY_ENERGY: return "energy";
    case RPR_PROPERTY_DIPOLE: return "dipole";
    case RPR_PROPERTY_POLARIZABILITY: return "polarizability";
    }
    return NULL;
}

rpr_status rpr_property_parse(const char *name, rpr_property *property)
{
    static const rpr_property all[] = {RPR_PROPERTY_SCALAR, RPR_PROPERTY_ENERGY,
                                       RPR_PROPERTY_DIPOLE,
                                       RPR_PROPERTY_POLARIZABILITY};
    if (name != NULL)
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            if (strcmp(name, rpr_property_name(all[i])) == 0) {
                *property = all[i];
                return RPR_OK;
            }
    return RPR_EINVAL;
}

const char *rpr_property_component(rpr_property property, size_t c)
{
    static const char *const vec[] = {"x", "y", "z"};
    static const char *const ten[] = {"xx", "xy", "xz", "yy", "yz", "zz"};
    switch (property) {
    case RPR_PROPERTY_SCALAR: return c == 0 ? "y" : NULL;
    case RPR_PROPERTY_ENERGY: return c == 0 ? "E" : NULL;
    case RPR_PROPERTY_DIPOLE: return c < 3 ? vec[c] : NULL;
    case RPR_PROPERTY_POLARIZABILITY: return c < 6 ? ten[c] : NULL;
    }
    return NULL;
}

const char *rpr_property_unit(rpr_property property)
{
    switch (property) {
    case RPR_PROPERTY_SCALAR: return "1";
    case RPR_PROPERTY_ENERGY: return "hartree";
    case RPR_PROPERTY_DIPOLE: return "e*bohr";
    case RPR_PROPERTY_POLARIZABILITY: return "bohr^3";
    }
    return NULL;
}

const char *model_frame_name(rpr_frame_kind frame)
{
    switch (frame) {
    case RPR_FRAME_NONE: return "none";
    case RPR_FRAME_PRINCIPAL: return "principal";
    case RPR_FRAME_KABSCH: return "kabsch";
    case RPR_FRAME_BLEND: return "blend";
    }
    return NULL;
}

const char *model_weighting_name(rpr_frame_weighting weighting)
{
    switch (weighting) {
    case RPR_WEIGHT_MASS: return "mass";
    case RPR_WEIGHT_CHARGE: return "charge";
    case RPR_WEIGHT_UNIT: return "unit";
    }
    return NULL;
}

rpr_status model_frame_parse(const char *name, rpr_frame_kind *frame)
{
    static const rpr_frame_kind all[] = {RPR_FRAME_NONE, RPR_FRAME_PRINCIPAL,
                                         RPR_FRAME_KABSCH, RPR_FRAME_BLEND};
    if (name != NULL)
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            if (strcmp(name, model_frame_name(all[i])) == 0) {
                *frame = all[i];
                return RPR_OK;
            }
    return RPR_EINVAL;
}

double model_sign_character(rpr_property property, size_t c, unsigned w)
{
    /* The axes i, j of tensor component c (xx xy xz yy yz zz). */
    static const unsigned axes[6][2] = {{0, 0}, {0, 1}, {0, 2},
                                        {1, 1}, {1, 2}, {2, 2}};
    switch (property) {
    case RPR_PROPERTY_DIPOLE: return (w >> c) & 1u ? -1.0 : 1.0;
    case RPR_PROPERTY_POLARIZABILITY:
        return ((w >> axes[c][0]) ^ (w >> axes[c][1])) & 1u ? -1.0 : 1.0;
    case RPR_PROPERTY_SCALAR:
    case RPR_PROPERTY_ENERGY: return 1.0;
    }
    return 1.0;
}

int model_sub_sign_averaged(const rpr_model *m, const model_sub *s)
{
    return s->frame == RPR_FRAME_PRINCIPAL && m->frame_options.sign_average;
}

const char *model_kernel_name(kernel_type type)
{
    switch (type) {
    case KERNEL_GAUSSIAN: return "gaussian";
    case KERNEL_LAPLACIAN: return "laplacian";
    case KERNEL_MATERN: return "matern";
    }
    return NULL;
}

/* ------------------------------------------------------------ hash */

static uint64_t model_rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t model_load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w); /* the hash is defined on little-endian words */
#endif
    return w;
}

/* The round and the final mix are those of xxHash64 (Y. Collet, BSD
 * licence; the primes are its PRIME64_1, _2), with four independent lanes
 * so that the multiplications pipeline. */
#define MODEL_P1 UINT64_C(0x9E3779B185EBCA87)
#define MODEL_P2 UINT64_C(0xC2B2AE3D27D4EB4F)

static uint64_t model_round(uint64_t acc, uint64_t w)
{
    acc += w * MODEL_P2;
    acc = model_rotl(acc, 31);
    return acc * MODEL_P1;
}

uint64_t model_hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v[4] = {h + MODEL_P1 + MODEL_P2, h + MODEL_P2, h, h - MODEL_P1};
    size_t i = 0;

    for (; i + 32 <= len; i += 32)
        for (int l = 0; l < 4; l++)
            v[l] = model_round(v[l], model_load64(p + i + 8 * l));
    uint64_t acc = model_rotl(v[0], 1) + model_rotl(v[1], 7) +
                   model_rotl(v[2], 12) + model_rotl(v[3], 18);
    acc += (uint64_t) len;
    for (; i + 8 <= len; i += 8)
        acc = model_rotl(acc ^ model_round(0, model_load64(p + i)), 27) *
                  MODEL_P1 +
              MODEL_P2;
    for (; i < len; i++)
        acc = model_rotl(acc ^ (p[i] * MODEL_P2), 11) * MODEL_P1;
    acc ^= acc >> 33;
    acc *= MODEL_P2;
    acc ^= acc >> 29;
    acc *= MODEL_P1;
    return acc ^ (acc >> 32);
}

/* ------------------------------------------------------------ layout */

/* Bytes rounded up to MODEL_ALIGN; 0 signals overflow to the caller. */
static size_t model_round_up(size_t n)
{
    if (n > SIZE_MAX - MODEL_ALIGN)
        return 0;
    return (n + MODEL_ALIGN - 1) / MODEL_ALIGN * MODEL_ALIGN;
}

/* a * b * size with overflow check: 0 on overflow (no array is empty in a
 * valid shape, so 0 cannot be a legitimate size here except n == 0). */
static int model_mul(size_t a, size_t b, size_t size, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return 0;
    if (size != 0 && a * b > SIZE_MAX / size)
        return 0;
    *out = a * b * size;
    return 1;
}

/* Walks the arena in a fixed order: with base NULL it only counts bytes
 * (returns 0 on overflow), else it also sets the pointers of m. */
static size_t model_walk(const model_shape *s, unsigned char *base,
                         rpr_model *m)
{
    const size_t ncomp = rpr_property_ncomp(s->property);
    size_t off = model_round_up(sizeof(rpr_model));
    size_t bytes;

#define MODEL_PLACE(ptr, count1, count2, type)                                 \
    do {                                                                       \
        if (!model_mul((count1), (count2), sizeof(type), &bytes))              \
            return 0;                                                          \
        if (base != NULL)                                                      \
            (ptr) = (type *) (void *) (base + off);                            \
        bytes = model_round_up(bytes);                                         \
        if (bytes == 0 && (count1) * (count2) != 0)                            \
            return 0;                                                          \
        if (off > SIZE_MAX - bytes)                                            \
            return 0;                                                          \
        off += bytes;                                                          \
    } while (0)

    int *numbers = NULL;
    double *d0 = NULL, *d1 = NULL, *d1k = NULL, *d2 = NULL, *d3 = NULL;
    size_t *sel = NULL;
    MODEL_PLACE(numbers, s->natoms, 1, int);
    MODEL_PLACE(d0, s->natoms, 1, double);
    MODEL_PLACE(d1, s->natoms, 1, double);
    MODEL_PLACE(d1k, s->natoms, 1, double);
    MODEL_PLACE(d2, s->natoms, 3, double);
    MODEL_PLACE(d3, s->natoms, 3, double);
    MODEL_PLACE(sel, s->nsel, 1, size_t);
    if (m != NULL) {
        m->numbers = numbers;
        m->masses = d0;
        m->weights = d1;
        m->kweights = d1k;
        m->xyz_eq = d2;
        m->xyz_eq_a = d3;
        m->sel = s->nsel > 0 ? sel : NULL;
    }
    for (size_t k = 0; k < s->nsub; k++) {
        double *ref = NULL, *xt = NULL, *alpha = NULL, *qt = NULL, *qdot = NULL;
        if (s->sub_frame[k] == RPR_FRAME_KABSCH)
            MODEL_PLACE(ref, s->natoms, 3, double);
        MODEL_PLACE(xt, s->D, s->ntrain, double);
        MODEL_PLACE(alpha, ncomp, s->ntrain, double);
        if (s->has_q) {
            MODEL_PLACE(qt, s->D, s->ntrain, double);
            MODEL_PLACE(qdot, s->ntrain, 1, double);
        }
        if (m != NULL) {
            m->sub[k].ref = ref;
            m->sub[k].xt = xt;
            m->sub[k].alpha = alpha;
            m->sub[k].qt = qt;
            m->sub[k].qdot = qdot;
        }
    }
    {
        size_t *perm = NULL;
        double *idt = NULL;
        if (s->relabel_n > 0) {
            MODEL_PLACE(perm, s->natoms, 1, size_t);
            MODEL_PLACE(idt, s->natoms * (s->natoms - 1) / 2, s->relabel_n,
                        double);
        }
        if (m != NULL) {
            m->relabel_perm = perm;
            m->relabel_idt = idt;
        }
    }
#undef MODEL_PLACE
    return off;
}

static int model_shape_valid(const model_shape *s)
{
    if (rpr_property_ncomp(s->property) == 0 || s->natoms == 0 || s->D == 0 ||
        s->ntrain == 0 || s->nsub == 0 || s->nsub > MODEL_MAX_SUB ||
        s->nsel > s->natoms)
        return 0;
    if (s->has_q && (s->property != RPR_PROPERTY_ENERGY || s->nsub != 1))
        return 0;
    /* An ID vector needs two atoms; natoms (natoms - 1) / 2 must not
     * overflow (natoms < 2^32 on 64-bit). */
    if (s->relabel_n > 0 && (s->natoms < 2 || s->natoms > SIZE_MAX / s->natoms))
        return 0;
    for (size_t k = 0; k < s->nsub; k++)
        if (s->sub_frame[k] != RPR_FRAME_NONE &&
            s->sub_frame[k] != RPR_FRAME_PRINCIPAL &&
            s->sub_frame[k] != RPR_FRAME_KABSCH)
            return 0;
    return 1;
}

size_t model_block_size(const model_shape *shape)
{
    return model_shape_valid(shape) ? model_walk(shape, NULL, NULL) : 0;
}

void model_shape_of(const rpr_model *m, model_shape *s)
{
    memset(s, 0, sizeof *s);
    s->property = m->property;
    s->natoms = m->natoms;
    s->nsel = m->nsel;
    s->D = m->D;
    s->ntrain = m->ntrain;
    s->nsub = m->nsub;
    s->has_q = m->has_q;
    for (size_t k = 0; k < m->nsub && k < MODEL_MAX_SUB; k++)
        s->sub_frame[k] = m->sub[k].frame;
    s->relabel_n = m->relabel_n;
}

void model_layout(rpr_model *m)
{
    model_shape s;
    model_shape_of(m, &s);
    model_walk(&s, (unsigned char *) m, m);
}

rpr_status model_new(const model_shape *shape, rpr_model **model,
                     rpr_error *err)
{
    *model = NULL;
    const size_t bytes = model_block_size(shape);
    if (bytes == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "model of %zu atoms, %zu training points, descriptor "
                        "length %zu, %zu frames: sizes out of range",
                        shape->natoms, shape->ntrain, shape->D, shape->nsub);
    /* aligned_alloc needs a multiple of the alignment: bytes is one. */
    rpr_model *m = aligned_alloc(MODEL_ALIGN, bytes);
    if (m == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "model: cannot allocate %zu bytes",
                        bytes);
    memset(m, 0, bytes);
    m->bytes = bytes;
    m->property = shape->property;
    m->ncomp = rpr_property_ncomp(shape->property);
    m->natoms = shape->natoms;
    m->nsel = shape->nsel;
    m->D = shape->D;
    m->ntrain = shape->ntrain;
    m->nsub = shape->nsub;
    m->has_q = shape->has_q;
    m->relabel_n = shape->relabel_n;
    m->relabel_npairs =
        shape->relabel_n > 0 ? shape->natoms * (shape->natoms - 1) / 2 : 0;
    m->relabel_scale = m->relabel_band = NAN;
    for (size_t k = 0; k < shape->nsub; k++) {
        model_sub *const s = &m->sub[k];
        s->frame = shape->sub_frame[k];
        s->ref_margin = NAN;
        for (size_t c = 0; c < MODEL_MAX_COMP; c++) {
            s->lambda_grad[c] = NAN;
            s->rmse[c] = NAN;
            s->mae[c] = NAN;
        }
    }
    model_layout(m);
    *model = m;
    return RPR_OK;
}

void rpr_model_free(rpr_model *model)
{
    free(model);
}

rpr_status model_bind(rpr_model *m, rpr_error *err)
{
    m->desc = descriptor_find(m->descriptor);
    if (m->desc == NULL || strcmp(m->desc->name, m->descriptor) != 0)
        return RPR_FAIL(err, RPR_EINVAL, "unknown descriptor '%s'",
                        m->descriptor);
    m->relabel_desc = NULL;
    if (m->relabel_n > 0) {
        /* The block's own numbers (a cache or bundle is read as is). */
        if (m->relabel_npairs != m->natoms * (m->natoms - 1) / 2 ||
            !(m->relabel_scale > 0.0) || !isfinite(m->relabel_scale) ||
            !(m->relabel_band > 0.0) || !isfinite(m->relabel_band))
            return RPR_FAIL(err, RPR_EINVAL,
                            "relabelling of %zu pairs, width %g, band %g: "
                            "out of range",
                            m->relabel_npairs, m->relabel_scale,
                            m->relabel_band);
        /* An involution of the atoms: read bundles hash no array. */
        for (size_t a = 0; a < m->natoms; a++)
            if (m->relabel_perm[a] >= m->natoms ||
                m->relabel_perm[m->relabel_perm[a]] != a)
                return RPR_FAIL(err, RPR_EINVAL,
                                "relabelling: atom %zu has no partner", a + 1);
        m->relabel_desc = descriptor_find("ID");
        if (m->relabel_desc == NULL) /* a registry without ID: a bug */
            return RPR_FAIL(err, RPR_EINVAL, "no ID descriptor to relabel");
    }
    return RPR_OK;
}

rpr_status model_derive(rpr_model *m, rpr_error *err)
{
    const rpr_status st = model_bind(m, err);
    if (st != RPR_OK)
        return st;
    frame_weights(m->frame_options.weighting, m->natoms, m->numbers, m->masses,
                  m->weights);
    frame_weights(m->frame_options.kabsch_weighting, m->natoms, m->numbers,
                  m->masses, m->kweights);
    for (size_t i = 0; i < 3 * m->natoms; i++)
        m->xyz_eq_a[i] = m->xyz_eq[i] * RPR_ANGSTROM_PER_BOHR;
    m->nkabsch = 0;
    m->kabsch_first = 0;
    for (size_t k = 0; k < m->nsub; k++) {
        model_sub *const s = &m->sub[k];
        s->ngroup = 0;
        for (size_t c = 0; c < m->ncomp; c++) {
            size_t g = 0;
            /* Bit-equal widths give bit-equal kernel rows: share them. */
            while (g < s->ngroup && memcmp(&s->sigma[s->group_first[g]],
                                           &s->sigma[c], sizeof(double)) != 0)
                g++;
            if (g == s->ngroup)
                s->group_first[s->ngroup++] = c;
            s->group[c] = g;
        }
        if (s->frame == RPR_FRAME_KABSCH) {
            if (m->nkabsch == 0)
                m->kabsch_first = k;
            m->nkabsch++;
        }
        if (s->qdot != NULL) {
            const size_t n = m->ntrain;
            for (size_t j = 0; j < n; j++)
                s->qdot[j] = 0.0;
            for (size_t d = 0; d < m->D; d++)
                for (size_t j = 0; j < n; j++)
                    s->qdot[j] += s->xt[d * n + j] * s->qt[d * n + j];
        }
    }
    /* One descriptor for all sub-models: the descriptor must not see the
     * frame (then it is the same in every frame up to rounding), no
     * sub-model may average over signs (it evaluates 8 descriptors), and
     * the stored training descriptors must be bit-equal, which train.c
     * ensures by evaluating them once.  Files from before that rule hold
     * descriptors that differ in the last bits and keep the per-sub-model
     * path. */
    m->shared_x = m->nsub > 1 && !m->desc->uses_frame && !m->has_q;
    for (size_t k = 0; k < m->nsub && m->shared_x; k++)
        if (model_sub_sign_averaged(m, &m->sub[k]) ||
            (k > 0 && memcmp(m->sub[k].xt, m->sub[0].xt,
                             m->D * m->ntrain * sizeof(double)) != 0))
            m->shared_x = 0;
    m->nxgroup = 0;
    if (m->shared_x)
        for (size_t k = 0; k < m->nsub; k++) {
            model_sub *const s = &m->sub[k];
            for (size_t c = 0; c < m->ncomp; c++) {
                size_t g = 0;
                while (g < m->nxgroup &&
                       memcmp(&m->xsigma[g], &s->sigma[c], sizeof(double)) != 0)
                    g++;
                if (g == m->nxgroup)
                    m->xsigma[m->nxgroup++] = s->sigma[c];
                s->xgroup[c] = g;
            }
        }
    return RPR_OK;
}

void model_descriptor_params(const rpr_model *m, descriptor_params *p)
{
    memset(p, 0, sizeof *p);
    p->natoms = m->natoms;
    p->numbers = m->numbers;
    p->xyz_eq = m->xyz_eq_a;
    p->nsel = m->nsel;
    p->sel = m->sel;
    memcpy(p->dihedral, m->dihedral, sizeof p->dihedral);
}

/* ------------------------------------------------------------ accessors */

rpr_property rpr_model_property(const rpr_model *model)
{
    return model->property;
}

size_t rpr_model_ncomp(const rpr_model *model)
{
    return model->ncomp;
}

size_t rpr_model_natoms(const rpr_model *model)
{
    return model->natoms;
}

const int *rpr_model_numbers(const rpr_model *model)
{
    return model->numbers;
}

/* ------------------------------------------------------------ workspace */

struct rpr_workspace {
    size_t natoms, D, ntrain; /* the model it was sized for */
    double *xf;               /* [natoms][3] frame coordinates, angstrom */
    double *x;                /* [D] descriptor */
    double *jac;              /* [D][3 natoms] its Jacobian, per angstrom */
    double *dist;             /* [ntrain] kernel distances */
    double *k;                /* [ntrain] kernel row */
    double *a;                /* [ntrain] per-point weights of the gradient */
    double *xq;               /* [ntrain] x . q_j (KREG) */
    double *gx;               /* [D] dE/dx */
    /* Relabelling blend (NULL without): the relabelled geometry Px
     * [natoms][3] bohr, coordinates in angstrom [natoms][3], an ID vector
     * [npairs], and the squared ID distances, then their exponentials,
     * to the training geometries [relabel_n]. */
    size_t relabel_n;
    double *rxyz, *rxa, *rid, *rd;
};

rpr_workspace *rpr_workspace_new(const rpr_model *model)
{
    if (model == NULL)
        return NULL;
    const size_t n3 = 3 * model->natoms, D = model->D, N = model->ntrain;
    const size_t nr = model->relabel_n, np = model->relabel_npairs;
    /* relabel_n and npairs are bounded by the model block too. */
    const size_t extra = nr > 0 ? 2 * n3 + np + nr : 0;
    if (n3 != 0 &&
        D > (SIZE_MAX / sizeof(double) - 4 * N - 2 * D - n3 - extra) / n3)
        return NULL; /* N, D and n3 are bounded by the model block */
    const size_t count = n3 + D + D * n3 + 4 * N + D + extra;
    rpr_workspace *ws = malloc(sizeof *ws + count * sizeof(double));
    if (ws == NULL)
        return NULL;
    double *p = (double *) (void *) (ws + 1);
    ws->natoms = model->natoms;
    ws->D = D;
    ws->ntrain = N;
    ws->xf = p;
    p += n3;
    ws->x = p;
    p += D;
    ws->jac = p;
    p += D * n3;
    ws->dist = p;
    p += N;
    ws->k = p;
    p += N;
    ws->a = p;
    p += N;
    ws->xq = p;
    p += N;
    ws->gx = p;
    p += D;
    ws->relabel_n = nr;
    ws->rxyz = ws->rxa = ws->rid = ws->rd = NULL;
    if (nr > 0) {
        ws->rxyz = p;
        p += n3;
        ws->rxa = p;
        p += n3;
        ws->rid = p;
        p += np;
        ws->rd = p;
    }
    return ws;
}

void rpr_workspace_free(rpr_workspace *ws)
{
    free(ws);
}

/* ------------------------------------------------------------ prediction */

#if defined(__GNUC__)
/* GCC/clang vector extensions: four doubles per operation, lowered to
 * whatever the target has (two SSE2 halves on baseline x86-64, one AVX
 * register with -mavx).  Same operations in the same order as the scalar
 * code, lane by lane, so the results do not depend on the path. */
#define MODEL_VEC 1
typedef double model_v4 __attribute__((vector_size(32)));
typedef long long model_v4i __attribute__((vector_size(32)));
typedef unsigned long long model_v4u __attribute__((vector_size(32)));

/* The two hot loops are also compiled for AVX2 (not FMA: the same
 * roundings as the SSE2 code, so results do not depend on the CPU) and
 * picked at load time through an ifunc, where GCC and glibc provide it. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) &&          \
    !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define MODEL_HOT __attribute__((target_clones("avx2", "default")))
#endif

/* Unaligned loads and stores as macros: a function returning a 32-byte
 * vector would change its ABI with the target's AVX support (-Wpsabi). */
#define MODEL_LOAD4(v, p)  memcpy(&(v), (p), sizeof(model_v4))
#define MODEL_STORE4(p, v) memcpy((p), &(v), sizeof(model_v4))
#endif
#ifndef MODEL_HOT
#define MODEL_HOT
#endif

/* One term of the kernel's distance: |t| (L1) or t^2 (squared L2). */
static double model_term(int l1, double t)
{
    return l1 ? fabs(t) : t * t;
}

/*
 * Kernel distances from x to every training point (the kernel's own
 * distance, as kernel_distance: squared L2, L1 or L2), each summed over the
 * descriptor in index order, so every path gives the same bits.  The
 * training descriptors are stored transposed [D][n]: blocks of 16 training
 * points keep their sums in registers while the loop runs over the
 * descriptor (half the time of a pass over all points per component,
 * which loads and stores the sums D times).
 */
MODEL_HOT static void model_distances(kernel_type type, size_t D, size_t n,
                                      const double *xt, const double *x,
                                      double *dist)
{
    const int l1 = type == KERNEL_LAPLACIAN;
    size_t j = 0;
#ifdef MODEL_VEC
    /* |t| by clearing the sign bit, as fabs does. */
    const model_v4i nosign = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
    for (; j + 16 <= n; j += 16) {
        model_v4 a0 = {0.0, 0.0, 0.0, 0.0}, a1 = a0, a2 = a0, a3 = a0;
        for (size_t d = 0; d < D; d++) {
            const double *const row = xt + d * n + j;
            const model_v4 xv = {x[d], x[d], x[d], x[d]};
            model_v4 r0, r1, r2, r3;
            MODEL_LOAD4(r0, row);
            MODEL_LOAD4(r1, row + 4);
            MODEL_LOAD4(r2, row + 8);
            MODEL_LOAD4(r3, row + 12);
            r0 -= xv;
            r1 -= xv;
            r2 -= xv;
            r3 -= xv;
            if (l1) {
                a0 += (model_v4) ((model_v4i) r0 & nosign);
                a1 += (model_v4) ((model_v4i) r1 & nosign);
                a2 += (model_v4) ((model_v4i) r2 & nosign);
                a3 += (model_v4) ((model_v4i) r3 & nosign);
            } else {
                a0 += r0 * r0;
                a1 += r1 * r1;
                a2 += r2 * r2;
                a3 += r3 * r3;
            }
        }
        MODEL_STORE4(dist + j, a0);
        MODEL_STORE4(dist + j + 4, a1);
        MODEL_STORE4(dist + j + 8, a2);
        MODEL_STORE4(dist + j + 12, a3);
    }
#endif
    for (; j < n; j++) {
        double a = 0.0;
        for (size_t d = 0; d < D; d++)
            a += model_term(l1, xt[d * n + j] - x[d]);
        dist[j] = a;
    }
    if (type == KERNEL_MATERN)
        for (j = 0; j < n; j++)
            dist[j] = sqrt(dist[j]);
}

/* Below this argument exp(x) is under DBL_MIN (2^-1022 = e^-708.40): the
 * result is flushed to zero instead of going subnormal. */
#define MODEL_EXP_MIN (-708.0)

/*
 * out[j] = exp(-s d[j]) for s d[j] >= 0: the Gaussian and Laplacian kernel
 * rows, the hot spot of prediction (one exponential per training point and
 * kernel width).  Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, and
 * the Taylor polynomial of degree 13 (truncation r^14/14! < 2e-18
 * relative), scaled by 2^k through the exponent bits: within a few ulp of
 * the correctly rounded exp (tests/test_model.c checks against libm).
 * Results below DBL_MIN are 0; NaN propagates.
 */
MODEL_HOT void model_exp_neg(size_t n, const double *d, double s, double *out)
{
    /* ln2 split so that k * MODEL_LN2_HI is exact for |k| < 2^11 (fdlibm's
     * e_exp.c constants). */
    const double log2e = 1.44269504088896338700e+00;
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 0x1.8p52; /* rounds to an integer when added */
    size_t j = 0;
#ifdef MODEL_VEC
    const model_v4 sv = {s, s, s, s}, lim = {MODEL_EXP_MIN, MODEL_EXP_MIN,
                                             MODEL_EXP_MIN, MODEL_EXP_MIN};
    const model_v4 l2e = {log2e, log2e, log2e, log2e};
    const model_v4 sh = {shifter, shifter, shifter, shifter};
    const model_v4 lh = {ln2_hi, ln2_hi, ln2_hi, ln2_hi};
    const model_v4 ll = {ln2_lo, ln2_lo, ln2_lo, ln2_lo};
    const model_v4 one = {1.0, 1.0, 1.0, 1.0};
    for (; j + 4 <= n; j += 4) {
        model_v4 x;
        MODEL_LOAD4(x, d + j);
        x = -(x * sv);
        /* All-ones where x < lim: the sign bit of x - lim spread by a
         * logical shift and a negation (SSE2 has neither 64-bit compares
         * nor arithmetic shifts, and these lower to scalar code). */
        const model_v4i under = -(model_v4i) ((model_v4u) (x - lim) >> 63);
        /* Clamp so that k stays in the normal range; NaN stays NaN. */
        const model_v4 xc =
            (model_v4) (((model_v4i) x & ~under) | ((model_v4i) lim & under));
        const model_v4 t = xc * l2e + sh;
        const model_v4 k = t - sh;
        const model_v4 r = (xc - k * lh) - k * ll;
        /* Estrin's scheme: the same polynomial with a dependency depth
         * of four multiply-adds instead of thirteen. */
        const model_v4 r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
        const model_v4 p01 = one + r, p23 = 0.5 + r * (1.0 / 6.0);
        const model_v4 p45 = (1.0 / 24.0) + r * (1.0 / 120.0);
        const model_v4 p67 = (1.0 / 720.0) + r * (1.0 / 5040.0);
        const model_v4 p89 = (1.0 / 40320.0) + r * (1.0 / 362880.0);
        const model_v4 pab = (1.0 / 3628800.0) + r * (1.0 / 39916800.0);
        const model_v4 pcd = (1.0 / 479001600.0) + r * (1.0 / 6227020800.0);
        const model_v4 p03 = p01 + r2 * p23, p47 = p45 + r2 * p67;
        const model_v4 p8b = p89 + r2 * pab;
        const model_v4 p07 = p03 + r4 * p47, p8d = p8b + r4 * pcd;
        const model_v4 p = p07 + r8 * p8d;
        /* 2^k: the low bits of t hold k (biased by the shifter). */
        const model_v4i ki = (model_v4i) t - (model_v4i) sh;
        const model_v4 scale = (model_v4) ((ki + 1023) << 52);
        const model_v4 v = (model_v4) ((model_v4i) (p * scale) & ~under);
        MODEL_STORE4(out + j, v);
    }
#endif
    for (; j < n; j++) {
        const double x = -(d[j] * s);
        out[j] = x < MODEL_EXP_MIN ? 0.0 : exp(x);
    }
}

/* sum_j a[j] b[j] with eight partial sums (one addition chain would
 * bind the loop to its latency), reduced in a fixed order: the same
 * result on every path. */
MODEL_HOT static double model_dot(size_t n, const double *a, const double *b)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    size_t j = 0;
#ifdef MODEL_VEC
    model_v4 s0 = {0.0, 0.0, 0.0, 0.0}, s1 = s0;
    for (; j + 8 <= n; j += 8) {
        model_v4 a0, a1, b0, b1;
        MODEL_LOAD4(a0, a + j);
        MODEL_LOAD4(a1, a + j + 4);
        MODEL_LOAD4(b0, b + j);
        MODEL_LOAD4(b1, b + j + 4);
        s0 += a0 * b0;
        s1 += a1 * b1;
    }
    MODEL_STORE4(acc, s0);
    MODEL_STORE4(acc + 4, s1);
#else
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[j + l] * b[j + l];
#endif
    for (; j < n; j++)
        acc[j % 8] += a[j] * b[j];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
           ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* y[j] += a x[j]: one multiplication and one addition per element, as
 * the scalar loop does them (no contraction), so every path gives the
 * same bits.  GCC's -O2 leaves the scalar form unvectorised (y and x
 * may alias); this is the hot loop of a KREG energy with gradients. */
MODEL_HOT static void model_axpy(size_t n, double a, const double *x, double *y)
{
    size_t j = 0;
#ifdef MODEL_VEC
    const model_v4 av = {a, a, a, a};
    for (; j + 4 <= n; j += 4) {
        model_v4 xv, yv;
        MODEL_LOAD4(xv, x + j);
        MODEL_LOAD4(yv, y + j);
        yv += av * xv;
        MODEL_STORE4(y + j, yv);
    }
#endif
    for (; j < n; j++)
        y[j] += a * x[j];
}

/* Frame of sub-model s for a geometry: Q and origin; margin for Kabsch. */
static rpr_status model_sub_frame(const rpr_model *m, const model_sub *s,
                                  const double *xyz, double Q[9],
                                  double origin[3], rpr_frame_health *h,
                                  double *margin, rpr_error *err)
{
    *margin = NAN;
    switch (s->frame) {
    case RPR_FRAME_NONE:
        for (int i = 0; i < 9; i++)
            Q[i] = (i % 4 == 0) ? 1.0 : 0.0;
        origin[0] = origin[1] = origin[2] = 0.0;
        return RPR_OK;
    case RPR_FRAME_PRINCIPAL:
        return frame_principal(m->natoms, m->weights, xyz, &m->frame_options, Q,
                               origin, h, err);
    case RPR_FRAME_KABSCH:
        return frame_kabsch(m->natoms, m->kweights, s->ref, xyz, Q, origin,
                            margin, err);
    case RPR_FRAME_BLEND: break;
    }
    return RPR_FAIL(err, RPR_EINVAL, "sub-model with frame %d", (int) s->frame);
}

/* Kernel row k [N] of width sigma from the kernel distances dist [N]. */
static void model_kernel_row(const rpr_model *m, double sigma, size_t N,
                             const double *dist, double *k)
{
    if (m->kernel == KERNEL_GAUSSIAN)
        model_exp_neg(N, dist, 1.0 / (2.0 * sigma * sigma), k);
    else if (m->kernel == KERNEL_LAPLACIAN)
        model_exp_neg(N, dist, 1.0 / sigma, k);
    else {
        const kernel_spec spec = {m->kernel, m->matern_n, sigma};
        for (size_t j = 0; j < N; j++)
            k[j] = kernel_of_distance(&spec, dist[j]);
    }
}

/*
 * A sign-averaged sub-model (frames.md 4.7) at one geometry whose
 * canonical principal frame is (Q, origin): the frame components
 *   yf_c = prior_c + sum_w chi_c(w) sum_j alpha_cj k(x(D_w X_f), x_j)
 * over the 8 sign choices D_w = diag(+-1, +-1, +-1) of the axes, X_f the
 * frame coordinates and chi_c(w) = model_sign_character.  Reversing
 * canonical axes (D_v Q for Q) permutes the 8 images and multiplies yf_c
 * by chi_c(v), which the back-rotation with D_v Q undoes: the lab value
 * does not depend on the sign rule at all.  It equals the prediction of
 * KRR trained on all 8 sign variants of every training geometry
 * (train.c, train_sign_average explains why).
 */
static rpr_status model_sub_eval_averaged(const rpr_model *m,
                                          const model_sub *s, rpr_workspace *ws,
                                          const double *xyz, const double Q[9],
                                          const double origin[3], double *yf,
                                          rpr_error *err)
{
    /* Gray code: consecutive sign choices differ in one axis, so the
     * frame coordinates are reversed in place, one axis per step
     * (negation is exact). */
    static const unsigned gray[8] = {0, 1, 3, 2, 6, 7, 5, 4};
    const size_t N = m->ntrain, D = m->D, n = m->natoms;
    descriptor_params p;

    frame_to_frame(n, Q, origin, xyz, ws->xf);
    for (size_t i = 0; i < 3 * n; i++)
        ws->xf[i] *= RPR_ANGSTROM_PER_BOHR;
    model_descriptor_params(m, &p);
    for (size_t c = 0; c < m->ncomp; c++)
        yf[c] = 0.0;
    for (size_t t = 0; t < 8; t++) {
        const unsigned w = gray[t];
        if (t > 0) {
            const unsigned flip = w ^ gray[t - 1];
            const size_t axis = flip == 1u ? 0 : flip == 2u ? 1 : 2;
            for (size_t a = 0; a < n; a++)
                ws->xf[3 * a + axis] = -ws->xf[3 * a + axis];
        }
        const rpr_status st = m->desc->eval(&p, ws->xf, ws->x, NULL, err);
        if (st != RPR_OK)
            return st;
        model_distances(m->kernel, D, N, s->xt, ws->x, ws->dist);
        for (size_t g = 0; g < s->ngroup; g++) {
            model_kernel_row(m, s->sigma[s->group_first[g]], N, ws->dist,
                             ws->k);
            for (size_t c = 0; c < m->ncomp; c++)
                if (s->group[c] == g)
                    yf[c] += model_sign_character(m->property, c, w) *
                             model_dot(N, s->alpha + c * N, ws->k);
        }
    }
    for (size_t c = 0; c < m->ncomp; c++)
        yf[c] += s->prior[c];
    return RPR_OK;
}

/*
 * One sub-model at one geometry whose frame is (Q, origin): frame
 * components yf [ncomp]; with gx != NULL also dE/dx [D] (scalar and energy
 * models, Gaussian kernel, checked by the caller) with the descriptor's
 * Jacobian left in ws->jac.
 */
static rpr_status model_sub_eval(const rpr_model *m, const model_sub *s,
                                 rpr_workspace *ws, const double *xyz,
                                 const double Q[9], const double origin[3],
                                 double *yf, double *gx, rpr_error *err)
{
    const size_t N = m->ntrain, D = m->D;
    descriptor_params p;

    if (model_sub_sign_averaged(m, s)) {
        assert(gx == NULL && s->qt == NULL); /* rpr_predict, rpr_train */
        return model_sub_eval_averaged(m, s, ws, xyz, Q, origin, yf, err);
    }
    frame_to_frame(m->natoms, Q, origin, xyz, ws->xf);
    for (size_t i = 0; i < 3 * m->natoms; i++)
        ws->xf[i] *= RPR_ANGSTROM_PER_BOHR;
    model_descriptor_params(m, &p);
    const rpr_status st =
        m->desc->eval(&p, ws->xf, ws->x, gx != NULL ? ws->jac : NULL, err);
    if (st != RPR_OK)
        return st;
    model_distances(m->kernel, D, N, s->xt, ws->x, ws->dist);

    for (size_t g = 0; g < s->ngroup; g++) {
        model_kernel_row(m, s->sigma[s->group_first[g]], N, ws->dist, ws->k);
        for (size_t c = 0; c < m->ncomp; c++)
            if (s->group[c] == g)
                yf[c] = s->prior[c] + model_dot(N, s->alpha + c * N, ws->k);
    }
    if (s->qt == NULL && gx == NULL)
        return RPR_OK;

    /* Scalar and energy (one component): the KREG formulas of kreg.h with
     * u_j = x - x_j, a_j = alpha_j + u_j.q_j / sigma^2 (q = 0 without
     * gradient training):
     *   E     = prior + sum_j k_j a_j
     *   dE/dx = (sum_j k_j a_j (x_j - x) + sum_j k_j q_j) / sigma^2. */
    assert(m->ncomp == 1 && s->ngroup == 1);
    const double s2 = s->sigma[0] * s->sigma[0];
    const double *const alpha = s->alpha;
    if (s->qt != NULL) {
        for (size_t j = 0; j < N; j++)
            ws->xq[j] = 0.0;
        for (size_t d = 0; d < D; d++)
            model_axpy(N, ws->x[d], s->qt + d * N, ws->xq);
        for (size_t j = 0; j < N; j++)
            ws->a[j] = alpha[j] + (ws->xq[j] - s->qdot[j]) / s2;
    } else
        for (size_t j = 0; j < N; j++)
            ws->a[j] = alpha[j];
    for (size_t j = 0; j < N; j++)
        ws->a[j] *= ws->k[j];
    yf[0] = s->prior[0];
    for (size_t j = 0; j < N; j++)
        yf[0] += ws->a[j];
    if (gx == NULL)
        return RPR_OK;
    double sum_a = 0.0;
    for (size_t j = 0; j < N; j++)
        sum_a += ws->a[j];
    for (size_t d = 0; d < D; d++) {
        double t = model_dot(N, s->xt + d * N, ws->a) - ws->x[d] * sum_a;
        if (s->qt != NULL)
            t += model_dot(N, s->qt + d * N, ws->k);
        gx[d] = t / s2;
    }
    return RPR_OK;
}

/* Lab-frame value of frame components: mu = Q^T mu_f, alpha = Q^T a_f Q. */
static void model_to_lab(rpr_property property, const double Q[9],
                         const double *yf, double *y)
{
    switch (property) {
    case RPR_PROPERTY_DIPOLE: frame_vector_to_lab(Q, yf, y); return;
    case RPR_PROPERTY_POLARIZABILITY: frame_tensor_to_lab(Q, yf, y); return;
    case RPR_PROPERTY_SCALAR:
    case RPR_PROPERTY_ENERGY: y[0] = yf[0]; return;
    }
}

/*
 * Blend weights wsub [nsub] from the principal diagnostics in h and the
 * Kabsch margins margin [nsub] (NaN for other frames), each relative to
 * its reference's own, with the smoothstep ramps of frames.md 4.6, the
 * Kabsch fits first:
 *   w_r  = S(t_r),  t_r = (m_r / m_ref,r - margin_lo) / (margin_hi - margin_lo)
 *   w_PA = prod_r (1 - w_r) S(t_gap) S(t_sign),
 * normalised to sum 1.  frames.md 4.6 weighs both frames alike (w_PA
 * without the product); on the DCE data that mixes the principal
 * frame's ~15 times larger errors into every prediction and, where axis
 * skewnesses hover around the sign ramp, makes the weights flicker from
 * step to step (docs/results/frames.md measures both rules).  A Kabsch
 * frame is continuous wherever its margin is > 0, so the principal frame
 * is needed only where every Kabsch fit is near its seam.  Several
 * references have their seams in different places (train.c chooses them
 * so), and each fit's weight vanishes before its seam.  The rule is
 * exactly covariant (invariant weights times covariant terms) and
 * continuous wherever the sum of the weights is > 0.  *fallback = 1 when
 * every ramp is at 0 and the sub-model furthest inside its ramp (largest
 * t) is taken alone.
 */
static void model_blend_weights(const rpr_model *m, const rpr_frame_health *h,
                                const double *margin, double *wsub,
                                int *fallback)
{
    const rpr_frame_options *const o = &m->frame_options;
    double t[MODEL_MAX_SUB], prod = 1.0, total = 0.0;
    for (size_t k = 0; k < m->nsub; k++) {
        t[k] = -INFINITY;
        wsub[k] = 0.0;
        if (m->sub[k].frame != RPR_FRAME_KABSCH)
            continue;
        t[k] = (margin[k] / m->sub[k].ref_margin - o->margin_lo) /
               (o->margin_hi - o->margin_lo);
        wsub[k] = frame_smoothstep(t[k]);
        prod *= 1.0 - wsub[k];
    }
    for (size_t k = 0; k < m->nsub; k++) {
        if (m->sub[k].frame == RPR_FRAME_PRINCIPAL) {
            const double gap = fmin(h->gap12, h->gap23);
            double rho = h->sign_reliability[0];
            for (int a = 1; a < 3; a++)
                rho = fmin(rho, h->sign_reliability[a]);
            const double t_gap = (gap - o->gap_lo) / (o->gap_hi - o->gap_lo);
            const double t_sign =
                (rho - o->sign_lo) / (o->sign_hi - o->sign_lo);
            t[k] = fmin(t_gap, t_sign);
            wsub[k] = prod * frame_smoothstep(t_gap) * frame_smoothstep(t_sign);
        }
        total += wsub[k];
    }
    *fallback = !(total > 0.0);
    if (*fallback) {
        /* Every frame ill-defined: take the one further inside its ramp
         * (frames.md 4.6: the larger raw margin); the first at a tie. */
        size_t best = 0;
        for (size_t k = 1; k < m->nsub; k++)
            if (t[k] > t[best])
                best = k;
        for (size_t k = 0; k < m->nsub; k++)
            wsub[k] = k == best ? 1.0 : 0.0;
        return;
    }
    for (size_t k = 0; k < m->nsub; k++)
        wsub[k] /= total;
}

static void model_health_unknown(rpr_frame_health *h)
{
    for (int k = 0; k < 3; k++) {
        h->moments[k] = NAN;
        h->sign_reliability[k] = NAN;
    }
    h->gap12 = h->gap23 = NAN;
    h->sign_fallback = 0;
    h->improper = 0;
    h->kabsch_margin = NAN;
    h->weight_principal = 0.0;
    h->weight_kabsch = 0.0;
    h->blend_fallback = 0;
    h->kabsch_nref = 0;
    h->kabsch_rel_margin = NAN;
    for (int r = 0; r < RPR_KABSCH_MAX_REFS; r++)
        h->kabsch_weight[r] = 0.0;
    h->relabel_weight = 1.0;
}

/*
 * All sub-models of a shared_x model (model_derive) at one geometry: the
 * descriptor once, on the coordinates in the frame (Q, origin) of
 * sub-model 0 (it does not depend on the frame), the kernel distances
 * once, each distinct kernel width's row once, and one dot product per
 * sub-model and component: y [nsub][MODEL_MAX_COMP] frame components.
 */
static rpr_status model_shared_eval(const rpr_model *m, rpr_workspace *ws,
                                    const double *xyz, const double Q[9],
                                    const double origin[3],
                                    double y[][MODEL_MAX_COMP], rpr_error *err)
{
    const size_t N = m->ntrain;
    descriptor_params p;

    frame_to_frame(m->natoms, Q, origin, xyz, ws->xf);
    for (size_t i = 0; i < 3 * m->natoms; i++)
        ws->xf[i] *= RPR_ANGSTROM_PER_BOHR;
    model_descriptor_params(m, &p);
    const rpr_status st = m->desc->eval(&p, ws->xf, ws->x, NULL, err);
    if (st != RPR_OK)
        return st;
    model_distances(m->kernel, m->D, N, m->sub[0].xt, ws->x, ws->dist);
    for (size_t g = 0; g < m->nxgroup; g++) {
        model_kernel_row(m, m->xsigma[g], N, ws->dist, ws->k);
        for (size_t k = 0; k < m->nsub; k++) {
            const model_sub *const s = &m->sub[k];
            for (size_t c = 0; c < m->ncomp; c++)
                if (s->xgroup[c] == g)
                    y[k][c] =
                        s->prior[c] + model_dot(N, s->alpha + c * N, ws->k);
        }
    }
    return RPR_OK;
}

rpr_status model_predict_plain(const rpr_model *model, rpr_workspace *ws,
                               size_t natoms, const int *numbers,
                               const double *xyz, double *value, double *grad,
                               rpr_frame_health *health, rpr_error *err)
{
    const rpr_model *const m = model;
    rpr_frame_health h;
    double y[MODEL_MAX_SUB][MODEL_MAX_COMP], Q[MODEL_MAX_SUB][9];
    double margin[MODEL_MAX_SUB], wsub[MODEL_MAX_SUB];
    rpr_status st = RPR_OK;

    if (m == NULL || ws == NULL || xyz == NULL || value == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_predict: NULL argument");
    if (ws->natoms != m->natoms || ws->D != m->D || ws->ntrain != m->ntrain ||
        ws->relabel_n != m->relabel_n)
        return RPR_FAIL(err, RPR_EINVAL,
                        "workspace made for another model (%zu atoms, %zu "
                        "training points)",
                        ws->natoms, ws->ntrain);
    if (natoms != m->natoms)
        return RPR_FAIL(err, RPR_EINVAL,
                        "geometry has %zu atoms, the model %zu", natoms,
                        m->natoms);
    if (numbers != NULL)
        for (size_t a = 0; a < natoms; a++)
            if (numbers[a] != m->numbers[a]) {
                const char *const got = rpr_element_symbol(numbers[a]);
                const char *const want = rpr_element_symbol(m->numbers[a]);
                return RPR_FAIL(err, RPR_EINVAL,
                                "atom %zu is %s (Z=%d), the model has %s "
                                "(Z=%d) there",
                                a + 1, got != NULL ? got : "?", numbers[a],
                                want != NULL ? want : "?", m->numbers[a]);
            }
    for (size_t i = 0; i < 3 * natoms; i++)
        if (!isfinite(xyz[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "coordinate %zu of atom %zu is %g", i % 3 + 1,
                            i / 3 + 1, xyz[i]);
    if (grad != NULL) {
        if (m->ncomp != 1)
            return RPR_FAIL(err, RPR_EINVAL,
                            "gradients exist only for energy and scalar "
                            "models, not %s",
                            rpr_property_name(m->property));
        if (m->kernel != KERNEL_GAUSSIAN)
            return RPR_FAIL(err, RPR_EINVAL,
                            "gradients need the gaussian kernel (model: %s)",
                            model_kernel_name(m->kernel));
        if (m->nsub != 1 ||
            (m->sub[0].frame != RPR_FRAME_NONE && m->desc->uses_frame))
            return RPR_FAIL(err, RPR_EINVAL,
                            "gradients need a descriptor that is invariant "
                            "by itself (RE, ID, CM); this model's depends on "
                            "its %s frame",
                            model_frame_name(m->frame));
    }

    model_health_unknown(&h);
    int have_pa = 0;
    double origin[MODEL_MAX_SUB][3];
    for (size_t k = 0; k < m->nsub; k++) {
        const model_sub *const s = &m->sub[k];
        st = model_sub_frame(m, s, xyz, Q[k], origin[k], &h, &margin[k], err);
        if (st != RPR_OK)
            return st;
        if (s->frame == RPR_FRAME_PRINCIPAL)
            have_pa = 1;
    }
    if (m->shared_x)
        st = model_shared_eval(m, ws, xyz, Q[0], origin[0], y, err);
    else
        for (size_t k = 0; k < m->nsub && st == RPR_OK; k++)
            st = model_sub_eval(m, &m->sub[k], ws, xyz, Q[k], origin[k], y[k],
                                grad != NULL ? ws->gx : NULL, err);
    if (st != RPR_OK)
        return st;
    if (health != NULL && !have_pa) {
        /* Diagnostics only: a failure here must not fail the step. */
        double Qd[9], od[3];
        rpr_frame_health hd;
        model_health_unknown(&hd);
        if (frame_principal(m->natoms, m->weights, xyz, &m->frame_options, Qd,
                            od, &hd, NULL) == RPR_OK) {
            memcpy(h.moments, hd.moments, sizeof h.moments);
            h.gap12 = hd.gap12;
            h.gap23 = hd.gap23;
            memcpy(h.sign_reliability, hd.sign_reliability,
                   sizeof h.sign_reliability);
            h.sign_fallback = hd.sign_fallback;
            h.improper = hd.improper;
        }
    }

    if (m->nsub == 1)
        wsub[0] = 1.0;
    else
        model_blend_weights(m, &h, margin, wsub, &h.blend_fallback);
    for (size_t c = 0; c < m->ncomp; c++)
        value[c] = 0.0;
    h.weight_principal = h.weight_kabsch = 0.0;
    h.kabsch_nref = m->nkabsch;
    for (size_t k = 0; k < m->nsub; k++) {
        double lab[MODEL_MAX_COMP];
        model_to_lab(m->property, Q[k], y[k], lab);
        for (size_t c = 0; c < m->ncomp; c++)
            value[c] += wsub[k] * lab[c];
        if (m->sub[k].frame == RPR_FRAME_PRINCIPAL)
            h.weight_principal = wsub[k];
        else if (m->sub[k].frame == RPR_FRAME_KABSCH) {
            const size_t r = k - m->kabsch_first;
            const double rel = margin[k] / m->sub[k].ref_margin;
            h.weight_kabsch += wsub[k];
            if (r < RPR_KABSCH_MAX_REFS)
                h.kabsch_weight[r] = wsub[k];
            if (isnan(h.kabsch_rel_margin) || rel > h.kabsch_rel_margin) {
                h.kabsch_rel_margin = rel;
                h.kabsch_margin = margin[k];
            }
        }
    }
    if (m->nsub == 1 && m->sub[0].frame == RPR_FRAME_NONE)
        h.weight_principal = 0.0;
    for (size_t c = 0; c < m->ncomp; c++)
        if (!isfinite(value[c]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "prediction of component %s is %g",
                            rpr_property_component(m->property, c), value[c]);

    if (grad != NULL) {
        /* dE/dR (per bohr) = (angstrom per bohr) J^T dE/dx, J per
         * angstrom.  The frame is the lab frame or the descriptor is
         * invariant (checked above), so no frame derivative enters. */
        const size_t n3 = 3 * natoms;
        for (size_t i = 0; i < n3; i++)
            grad[i] = 0.0;
        for (size_t d = 0; d < m->D; d++) {
            const double g = ws->gx[d];
            const double *const row = ws->jac + d * n3;
            for (size_t i = 0; i < n3; i++)
                grad[i] += g * row[i];
        }
        for (size_t i = 0; i < n3; i++) {
            grad[i] *= RPR_ANGSTROM_PER_BOHR;
            if (!isfinite(grad[i]))
                return RPR_FAIL(err, RPR_ENONFINITE,
                                "gradient component %zu of atom %zu is %g",
                                i % 3 + 1, i / 3 + 1, grad[i]);
        }
    }
    if (health != NULL)
        *health = h;
    return RPR_OK;
}

/* ------------------------------------------------------------ relabelling */

/*
 * Relabelling blend (rpr.h, rpr_train_options.relabel; docs/models.md):
 *   g(x) = w(x) f(x) + (1 - w(x)) f(Px),
 *   w = S((Delta / b + 1) / 2),  Delta = log rho(x) - log rho(Px),
 * rho the Gaussian density of the training geometries' ID vectors.  P is
 * a product of disjoint transpositions, so PPx = x bit for bit, and
 * Delta(Px) = -Delta(x) bit for bit (both log-densities are the same
 * function of the same coordinates; a - b = -(b - a) in IEEE arithmetic).
 * The weight is then computed in a canonical form: the labelling with
 * the larger density ("dominant": x when Delta >= 0, else Px) gets
 * 1 - a, the other a = S((1 - |Delta| / b) / 2) <= 1/2, and
 *   g = (1 - a) f(dominant) + a f(other).
 * Evaluated at Px, the same a, the same two predictions and the same
 * operations in the same order come out (at Delta = 0, a = 1/2 and the
 * two products are exact halves whose sum commutes), so g(Px) = g(x)
 * bit for bit, and w(x) + w(Px) = (1 - a) + a, within one rounding of 1.
 */
rpr_status model_relabel_log_density(const rpr_model *m, rpr_workspace *ws,
                                     const double *xyz, double *log_rho,
                                     rpr_error *err)
{
    const size_t n = m->relabel_n, np = m->relabel_npairs;
    descriptor_params p;

    if (n == 0 || ws->relabel_n != n)
        return RPR_FAIL(err, RPR_EINVAL,
                        "model without relabelling (or workspace of another "
                        "model)");
    for (size_t i = 0; i < 3 * m->natoms; i++)
        ws->rxa[i] = xyz[i] * RPR_ANGSTROM_PER_BOHR;
    memset(&p, 0, sizeof p);
    p.natoms = m->natoms;
    p.numbers = m->numbers;
    const rpr_status st =
        m->relabel_desc->eval(&p, ws->rxa, ws->rid, NULL, err);
    if (st != RPR_OK)
        return st;
    /* Squared Euclidean ID distances to every training geometry, then the
     * log of sum_i exp(-d_i / (2 s^2)) with the largest term factored
     * out: the sum is >= 1 (its largest term is exp(0) = 1 exactly), so
     * nothing underflows to log(0) however far x is from the data. */
    model_distances(KERNEL_GAUSSIAN, np, n, m->relabel_idt, ws->rid, ws->rd);
    double dmin = ws->rd[0]; /* finite: the coordinates were checked */
    for (size_t i = 1; i < n; i++)
        dmin = ws->rd[i] < dmin ? ws->rd[i] : dmin; /* fmin is a call */
    for (size_t i = 0; i < n; i++)
        ws->rd[i] -= dmin;
    const double c = 1.0 / (2.0 * m->relabel_scale * m->relabel_scale);
    model_exp_neg(n, ws->rd, c, ws->rd);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += ws->rd[i];
    *log_rho = -(dmin * c) + log(sum);
    if (!isfinite(*log_rho))
        return RPR_FAIL(err, RPR_ENONFINITE,
                        "relabelling: log-density %g (ID distance^2 %g)",
                        *log_rho, dmin);
    return RPR_OK;
}

/* Px of xyz into out [natoms][3]: atom a of Px is atom perm[a] of x. */
static void model_relabel_apply(const rpr_model *m, const double *xyz,
                                double *out)
{
    for (size_t a = 0; a < m->natoms; a++)
        memcpy(out + 3 * a, xyz + 3 * m->relabel_perm[a], 3 * sizeof *out);
}

rpr_status model_relabel_weight(const rpr_model *m, rpr_workspace *ws,
                                const double *xyz, double *delta,
                                double *weight, double *minor, rpr_error *err)
{
    double lx, lp;
    rpr_status st = model_relabel_log_density(m, ws, xyz, &lx, err);
    if (st != RPR_OK)
        return st;
    model_relabel_apply(m, xyz, ws->rxyz);
    st = model_relabel_log_density(m, ws, ws->rxyz, &lp, err);
    if (st != RPR_OK)
        return st;
    const double d = lx - lp;
    /* S(t) with t = (1 - |Delta| / b) / 2 <= 1/2: 0 for |Delta| >= b. */
    const double a = frame_smoothstep((1.0 - fabs(d) / m->relabel_band) / 2.0);
    if (delta != NULL)
        *delta = d;
    if (minor != NULL)
        *minor = a;
    if (weight != NULL)
        *weight = d >= 0.0 ? 1.0 - a : a;
    return RPR_OK;
}

rpr_status rpr_predict(const rpr_model *model, rpr_workspace *ws, size_t natoms,
                       const int *numbers, const double *xyz, double *value,
                       double *grad, rpr_frame_health *health, rpr_error *err)
{
    const rpr_model *const m = model;
    if (m == NULL || m->relabel_n == 0)
        return model_predict_plain(model, ws, natoms, numbers, xyz, value, grad,
                                   health, err);
    if (grad != NULL)
        return RPR_FAIL(err, RPR_EINVAL,
                        "a model trained with relabel '%s' has no gradient "
                        "(it would need the gradient of the blend weight; "
                        "train with permute for energies with gradients)",
                        m->relabel);
    /* Check what the weight reads before it runs; a workspace or a
     * geometry of another model is left to the plain prediction, which
     * fails on it with the message that says why (and writes nothing). */
    if (ws == NULL || xyz == NULL || value == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_predict: NULL argument");
    if (natoms != m->natoms || ws->relabel_n != m->relabel_n ||
        ws->natoms != m->natoms)
        return model_predict_plain(model, ws, natoms, numbers, xyz, value, NULL,
                                   health, err); /* fails, with why */
    for (size_t i = 0; i < 3 * natoms; i++)
        if (!isfinite(xyz[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "coordinate %zu of atom %zu is %g", i % 3 + 1,
                            i / 3 + 1, xyz[i]);

    double d, a;
    rpr_status st = model_relabel_weight(m, ws, xyz, &d, NULL, &a, err);
    if (st != RPR_OK)
        return st;
    /* The dominant labelling (x at a tie) and the other; ws->rxyz holds
     * Px.  The other one is predicted only where its weight is > 0. */
    const int x_dominant = d >= 0.0;
    double fd[MODEL_MAX_COMP], fo[MODEL_MAX_COMP];
    rpr_frame_health h;
    st =
        model_predict_plain(m, ws, natoms, numbers, x_dominant ? xyz : ws->rxyz,
                            fd, NULL, health != NULL ? &h : NULL, err);
    if (st != RPR_OK)
        return st;
    if (a > 0.0) {
        /* The plain prediction overwrites the workspace, not ws->rxyz;
         * the other labelling's coordinates are xyz or ws->rxyz. */
        st = model_predict_plain(m, ws, natoms, numbers,
                                 x_dominant ? ws->rxyz : xyz, fo, NULL, NULL,
                                 err);
        if (st != RPR_OK)
            return st;
        for (size_t c = 0; c < m->ncomp; c++)
            value[c] = (1.0 - a) * fd[c] + a * fo[c];
    } else
        memcpy(value, fd, m->ncomp * sizeof *value); /* g = f, bit for bit */
    if (health != NULL) {
        h.relabel_weight = x_dominant ? 1.0 - a : a;
        *health = h;
    }
    return RPR_OK;
}

const char *rpr_model_relabel(const rpr_model *model, double *scale,
                              double *band)
{
    const int on = model != NULL && model->relabel_n > 0;
    if (scale != NULL)
        *scale = on ? model->relabel_scale : NAN;
    if (band != NULL)
        *band = on ? model->relabel_band : NAN;
    return on ? model->relabel : "";
}

/* ------------------------------------------------------------ info */

rpr_status rpr_model_write_info(const rpr_model *m, FILE *out, rpr_error *err)
{
    const rpr_frame_options *const o = &m->frame_options;
    static const char *const eq_names[] = {"first training geometry",
                                           "lowest-energy training geometry",
                                           "given by the user"};

    fprintf(out, "property:      %s (%zu component%s, %s)\n",
            rpr_property_name(m->property), m->ncomp, m->ncomp > 1 ? "s" : "",
            rpr_property_unit(m->property));
    fprintf(out, "trained by:    rpr %s\n", m->writer_version);
    fprintf(out, "atoms:         %zu:", m->natoms);
    for (size_t a = 0; a < m->natoms; a++) {
        const char *const sym = rpr_element_symbol(m->numbers[a]);
        fprintf(out, " %s", sym != NULL ? sym : "?");
    }
    fprintf(out, "\ndescriptor:    %s, length %zu", m->descriptor, m->D);
    if (m->nsel > 0) {
        fprintf(out, ", atoms %s (", m->atoms);
        for (size_t i = 0; i < m->nsel; i++)
            fprintf(out, "%s%zu", i > 0 ? "," : "", m->sel[i] + 1);
        fputc(')', out);
    }
    if (m->desc != NULL && m->desc->needs_dihedral)
        fprintf(out, ", dihedral %zu-%zu-%zu-%zu", m->dihedral[0] + 1,
                m->dihedral[1] + 1, m->dihedral[2] + 1, m->dihedral[3] + 1);
    fprintf(out, "\nequilibrium:   %s\n",
            (size_t) m->eq_source < 3 ? eq_names[m->eq_source] : "?");
    fprintf(out, "kernel:        %s", model_kernel_name(m->kernel));
    if (m->kernel == KERNEL_MATERN)
        fprintf(out, " (n = %d)", m->matern_n);
    fprintf(out, "\nframe:         %s, %s weights", model_frame_name(m->frame),
            model_weighting_name(o->weighting));
    if (m->frame == RPR_FRAME_KABSCH || m->frame == RPR_FRAME_BLEND)
        fprintf(out, ", Kabsch fit %s weights, %zu reference%s",
                model_weighting_name(o->kabsch_weighting), m->nkabsch,
                m->nkabsch == 1 ? "" : "s");
    fputc('\n', out);
    fprintf(out,
            "frame options: sign_tol %g, gap %g..%g, sign %g..%g, "
            "margin %g..%g, sign averaging %s\n",
            o->sign_tol, o->gap_lo, o->gap_hi, o->sign_lo, o->sign_hi,
            o->margin_lo, o->margin_hi, o->sign_average ? "on" : "off");
    fprintf(out, "training:      %zu geometries", m->ntrain);
    if (m->property == RPR_PROPERTY_ENERGY)
        fprintf(out, " (%zu with gradients)", m->ngrad);
    fprintf(out, ", data hash %016llx, prior %s\n",
            (unsigned long long) m->data_hash, m->prior_mean ? "mean" : "zero");
    fprintf(out, "selection:     %s, validation fraction %g, seed %llu\n",
            m->criterion == RPR_CRITERION_LOO ? "leave-one-out" : "hold-out",
            m->validation_fraction, (unsigned long long) m->seed);
    for (size_t k = 0; k < m->nsub; k++) {
        const model_sub *const s = &m->sub[k];
        fprintf(out, "sub-model %zu:   frame %s", k + 1,
                model_frame_name(s->frame));
        if (s->frame == RPR_FRAME_KABSCH && s->ref_source == MODEL_REF_TRAINING)
            fprintf(out, " (reference %zu: training geometry %zu, margin %.4g)",
                    k - m->kabsch_first + 1, s->ref_index + 1, s->ref_margin);
        else if (s->frame == RPR_FRAME_KABSCH)
            fprintf(out, " (reference %zu: %s, margin %.4g)",
                    k - m->kabsch_first + 1,
                    s->ref_source == MODEL_REF_GIVEN ? "given"
                    : m->eq_source == MODEL_EQ_USER
                        ? "the equilibrium geometry"
                        : "max-min-margin training geometry",
                    s->ref_margin);
        fputc('\n', out);
        fprintf(out, "  %-4s %12s %12s %14s %12s %12s\n", "comp", "sigma",
                "lambda", "prior", "val. RMSE", "val. MAE");
        for (size_t c = 0; c < m->ncomp; c++)
            fprintf(out, "  %-4s %12.5g %12.5g %14.8g %12.5g %12.5g\n",
                    rpr_property_component(m->property, c), s->sigma[c],
                    s->lambda[c], s->prior[c], s->rmse[c], s->mae[c]);
        if (m->has_q)
            fprintf(out, "  lambda_grad %.5g\n", s->lambda_grad[0]);
    }
    if (m->relabel_n > 0)
        fprintf(out,
                "relabel:       %s: prediction blended with the relabelled "
                "geometry's;\n               ID density of %zu training "
                "geometries, width %.6g /angstrom, band %g\n",
                m->relabel, m->relabel_n, m->relabel_scale, m->relabel_band);
    if (ferror(out))
        return RPR_FAIL(err, RPR_EIO, "cannot write the model information");
    return RPR_OK;
}
