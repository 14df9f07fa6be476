/*
 * train.c - rpr_train: from geometries and lab-frame labels to a model.
 *
 * Steps: check the inputs; resolve the descriptor name (a registry name,
 * optionally followed by an atom selection: "RExyzCl" is RExyz with atoms
 * "Cl"), the atom selection, the dihedral and the equilibrium geometry;
 * then for each frame of the model (frames.md 4): rotate every geometry
 * into the frame, evaluate the descriptor on the frame coordinates in
 * angstrom, rotate the labels into the frame (mu_f = Q mu, alpha_f = Q
 * alpha Q^T), subtract the prior, choose sigma and/or lambda per
 * component (krr_search) or take the given ones, and solve on all points
 * (krr_fit_ladder: a searched lambda moves up the finest grid step while
 * the fit is not positive definite or not admissible), one kernel matrix
 * per sigma and one Cholesky factorisation per lambda.
 * Energies go through KREG (kreg.h) instead, with or without gradients.
 */
#include <config.h>

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "kreg.h"
#include "krr.h"
#include "model.h"

void rpr_train_options_default(rpr_train_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->property = RPR_PROPERTY_SCALAR;
    opt->descriptor = "RE";
    opt->atoms = NULL;
    opt->dihedral = NULL;
    opt->kernel = "gaussian";
    opt->matern_n = 2;
    opt->sigma = -1.0;       /* optimise */
    opt->lambda = -1.0;      /* optimise */
    opt->lambda_grad = -1.0; /* equal to lambda */
    opt->prior_mean = 1;
    opt->frame = RPR_FRAME_KABSCH; /* docs/results/frames.md */
    rpr_frame_options_default(&opt->frame_options);
    opt->criterion = RPR_CRITERION_HOLDOUT;
    opt->validation_fraction = 0.2;
    opt->seed = 20241024; /* any fixed value: runs repeat */
    /* MLatom's defaults (kreg-and-krr.md 5.1); NaN sigma bounds take the
     * kernel's own range. */
    opt->nlg_sigma = 6;
    opt->nlg_lambda = 6;
    opt->lg_depth = 3;
    opt->lg_sigma_lo = NAN;
    opt->lg_sigma_hi = NAN;
    opt->lg_lambda_lo = -35.0;
    opt->lg_lambda_hi = -6.0;
    opt->kreg_search_dim = 2500; /* kreg.h gives the reason */
    opt->kreg_search_validation = 1000;
    /* rpr.h gives the reason: predictions reproducible to ~1e-10. */
    opt->rounding_tol = 1e-10;
    opt->xyz_eq = NULL;
    /* docs/results/frames.md: on the DCE data the automatic choice stops
     * at three references, whose seams lie apart. */
    opt->kabsch_nref = 3;
    opt->kabsch_refs = NULL;
    opt->kabsch_nprobe = 2000;
    opt->kabsch_probe_t = 2.0;
    opt->relabel = NULL;
    /* rpr.h: w is exactly 1 once x is e times denser than Px. */
    opt->relabel_band = 1.0;
    opt->progress = NULL;
    opt->progress_ctx = NULL;
}

/* ------------------------------------------------------------ inputs */

/* Registry row for a descriptor name; a suffix after the longest matching
 * registry name is an atom selection ("RExyzCl" -> RExyz, "Cl"). */
static rpr_status train_descriptor(const char *name,
                                   const descriptor_info **desc,
                                   const char **suffix, rpr_error *err)
{
    *suffix = "";
    *desc = descriptor_find(name);
    if (*desc != NULL)
        return RPR_OK;
    size_t best = 0;
    for (size_t i = 0; i < descriptor_count(); i++) {
        const descriptor_info *const d = descriptor_get(i);
        const size_t n = strlen(d->name);
        if (n > best && strncmp(name, d->name, n) == 0) {
            best = n;
            *desc = d;
        }
    }
    if (*desc == NULL)
        return RPR_FAIL(err, RPR_EINVAL,
                        "unknown descriptor '%s' (rpr info lists them)", name);
    *suffix = name + best;
    return RPR_OK;
}

/* Append atom a to the selection; a repeated atom is an error. */
static rpr_status train_select(const char *spec, size_t a, size_t *sel,
                               size_t *nsel, rpr_error *err)
{
    for (size_t j = 0; j < *nsel; j++)
        if (sel[j] == a)
            return RPR_FAIL(err, RPR_EINVAL,
                            "atoms '%s': atom %zu selected twice", spec, a + 1);
    sel[(*nsel)++] = a;
    return RPR_OK;
}

/*
 * Atom selection: comma-separated tokens, each an element symbol (all
 * atoms of that element, in index order) or a 1-based index.  Order of
 * appearance is kept.  sel has room for natoms entries (no atom twice).
 */
static rpr_status train_atoms(const char *spec, size_t natoms,
                              const int *numbers, size_t *sel, size_t *nsel,
                              rpr_error *err)
{
    char tok[16];
    const char *p = spec;
    rpr_status st;

    *nsel = 0;
    while (*p != '\0') {
        const size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof tok)
            return RPR_FAIL(err, RPR_EINVAL,
                            "atoms '%s': empty or overlong entry", spec);
        memcpy(tok, p, n);
        tok[n] = '\0';
        p += n;
        if (*p == ',')
            p++;
        char *end;
        const unsigned long v = strtoul(tok, &end, 10);
        if (end != tok && *end == '\0') {
            if (v < 1 || v > natoms)
                return RPR_FAIL(err, RPR_EINVAL,
                                "atoms '%s': index %lu out of 1..%zu", spec, v,
                                natoms);
            if ((st = train_select(spec, (size_t) v - 1, sel, nsel, err)) !=
                RPR_OK)
                return st;
            continue;
        }
        const int z = rpr_element_number(tok);
        if (z == 0)
            return RPR_FAIL(err, RPR_EINVAL,
                            "atoms '%s': '%s' is neither an element nor an "
                            "index",
                            spec, tok);
        size_t found = 0;
        for (size_t a = 0; a < natoms; a++)
            if (numbers[a] == z) {
                if ((st = train_select(spec, a, sel, nsel, err)) != RPR_OK)
                    return st;
                found++;
            }
        if (found == 0)
            return RPR_FAIL(err, RPR_EINVAL,
                            "atoms '%s': the molecule has no %s", spec, tok);
    }
    if (*nsel == 0)
        return RPR_FAIL(err, RPR_EINVAL, "atoms '%s': no atom selected", spec);
    return RPR_OK;
}

static double train_dist2(const double *xyz, size_t a, size_t b)
{
    double s = 0.0;
    for (int c = 0; c < 3; c++) {
        const double t = xyz[3 * a + c] - xyz[3 * b + c];
        s += t * t;
    }
    return s;
}

/* Nearest atom to a in the geometry, excluding up to two atoms. */
static size_t train_nearest(const double *xyz, size_t natoms, size_t a,
                            size_t skip1, size_t skip2)
{
    size_t best = SIZE_MAX;
    double bd = INFINITY;
    for (size_t b = 0; b < natoms; b++) {
        if (b == a || b == skip1 || b == skip2)
            continue;
        const double d = train_dist2(xyz, a, b);
        if (d < bd) {
            bd = d;
            best = b;
        }
    }
    return best;
}

/*
 * The dihedral a-b-c-d of REdihed: "--dihedral 3,1,2,4" (1-based), else
 * from the selection: four atoms as given, or two end atoms a and d with
 * b the atom nearest to a and c the atom nearest to d in the equilibrium
 * geometry (Cl-C-C-Cl for "Cl" in 1,2-dichloroethane).
 */
static rpr_status train_dihedral(const char *spec, const size_t *sel,
                                 size_t nsel, const double *xyz_eq,
                                 size_t natoms, size_t dih[4], rpr_error *err)
{
    if (spec != NULL) {
        size_t n = 0;
        const char *p = spec;
        while (*p != '\0') {
            char *end;
            const unsigned long v = strtoul(p, &end, 10);
            if (end == p || v < 1 || v > natoms || n >= 4)
                return RPR_FAIL(err, RPR_EINVAL,
                                "dihedral '%s': need four indices in 1..%zu",
                                spec, natoms);
            dih[n++] = (size_t) v - 1;
            p = end;
            if (*p == ',')
                p++;
            else if (*p != '\0')
                return RPR_FAIL(err, RPR_EINVAL,
                                "dihedral '%s': separate indices by commas",
                                spec);
        }
        if (n != 4)
            return RPR_FAIL(err, RPR_EINVAL, "dihedral '%s': need four indices",
                            spec);
    } else if (nsel == 4)
        memcpy(dih, sel, 4 * sizeof *dih);
    else if (nsel == 2 && natoms >= 4) {
        dih[0] = sel[0];
        dih[3] = sel[1];
        dih[1] = train_nearest(xyz_eq, natoms, sel[0], sel[1], SIZE_MAX);
        dih[2] = train_nearest(xyz_eq, natoms, sel[1], sel[0], dih[1]);
    } else
        return RPR_FAIL(err, RPR_EINVAL,
                        "REdihed needs --dihedral a,b,c,d or atoms selecting "
                        "2 or 4 atoms (got %zu)",
                        nsel);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < i; j++)
            if (dih[i] == dih[j])
                return RPR_FAIL(err, RPR_EINVAL,
                                "dihedral %zu-%zu-%zu-%zu repeats an atom",
                                dih[0] + 1, dih[1] + 1, dih[2] + 1, dih[3] + 1);
    return RPR_OK;
}

/* Data hash of the first n geometries (the caller's data without the
 * relabelled copies): sizes, atomic numbers, coordinates, labels, and the
 * gradients of the geometries that have them (model.h: model_hash). */
static uint64_t train_hash(const rpr_geoms *geoms, size_t n, size_t ncomp,
                           const double *values, const double *grad,
                           const unsigned char *present)
{
    const size_t natoms = rpr_geoms_natoms(geoms);
    const uint64_t sizes[3] = {natoms, n, ncomp};
    uint64_t h = model_hash(MODEL_HASH_SEED, sizes, sizeof sizes);
    h = model_hash(h, rpr_geoms_numbers(geoms), natoms * sizeof(int));
    h = model_hash(h, rpr_geoms_xyz(geoms), n * 3 * natoms * sizeof(double));
    h = model_hash(h, values, n * ncomp * sizeof(double));
    if (grad != NULL)
        for (size_t i = 0; i < n; i++)
            if (present == NULL || present[i])
                h = model_hash(h, grad + i * 3 * natoms,
                               3 * natoms * sizeof(double));
    return h;
}

static void train_progress(const rpr_train_options *opt, double f,
                           const char *what)
{
    if (opt->progress != NULL)
        opt->progress(opt->progress_ctx, f, what);
}

/* A search's own progress, 0 .. 1, mapped into [lo, hi] of the whole
 * training, so that the caller sees one monotone sequence. */
typedef struct train_span {
    const rpr_train_options *opt;
    double lo, hi;
} train_span;

static void train_progress_span(void *ctx, double f, const char *what)
{
    const train_span *const sp = ctx;
    const double g = f > 0.0 ? (f < 1.0 ? f : 1.0) : 0.0; /* NaN -> 0 */
    train_progress(sp->opt, sp->lo + g * (sp->hi - sp->lo), what);
}

/* Share of a sub-model's progress range spent in the search, the rest in
 * the final fit: a search costs tens of eigendecompositions, the fit a
 * few Cholesky factorisations (bench_model).  Cosmetic only. */
#define TRAIN_SEARCH_SHARE 0.9

/* ------------------------------------------------------------ permutations */

/* One 1-based index of a permutation SPEC at *p, advancing *p; 0 if there
 * is no number. */
static size_t train_permute_index(const char **p)
{
    if (**p < '0' || **p > '9')
        return 0;
    char *end;
    const unsigned long v = strtoul(*p, &end, 10);
    *p = end;
    return v > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t) v;
}

/*
 * Grammar: spec = perm { ";" perm }, perm = swap { "," swap }, swap =
 * index "-" index.  A permutation is a product of disjoint transpositions,
 * so it is its own inverse and the direction of the relabelling does not
 * matter: copy k of geometry x has atom a at x[perm_k(a)].
 */
rpr_status train_permute_parse(const char *spec, size_t natoms,
                               const int *numbers, size_t *perm, size_t *nperm,
                               rpr_error *err)
{
    size_t np = 0;
    *nperm = 0;
    if (spec == NULL || *spec == '\0')
        return RPR_OK;
    if (strlen(spec) >= MODEL_PERMUTE_LEN)
        return RPR_FAIL(err, RPR_EINVAL,
                        "permutations: longer than %d characters",
                        MODEL_PERMUTE_LEN - 1);
    /* All permutations so far, one row of natoms each: a repeated one
     * would only weigh some copies twice. */
    size_t *const all =
        malloc(MODEL_MAX_PERM * (natoms > 0 ? natoms : 1) * sizeof *all);
    if (all == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "permutations: out of memory");
    rpr_status st = RPR_OK;
    const char *p = spec;
    for (;;) {
        if (np >= MODEL_MAX_PERM) {
            st = RPR_FAIL(err, RPR_EINVAL,
                          "permutations '%s': more than %d permutations", spec,
                          MODEL_MAX_PERM);
            goto cleanup;
        }
        size_t *const img = all + np * natoms;
        for (size_t a = 0; a < natoms; a++)
            img[a] = a;
        for (;;) { /* one transposition a-b */
            const char *const at = p;
            const size_t a = train_permute_index(&p);
            const size_t b = *p == '-' ? (p++, train_permute_index(&p)) : 0;
            if (a == 0 || b == 0) {
                st = RPR_FAIL(err, RPR_EINVAL,
                              "permutations '%s': expected a swap a-b of "
                              "1-based indices at '%s' (e.g. \"5-6,7-8\"; "
                              "';' separates permutations)",
                              spec, at);
                goto cleanup;
            }
            if (a > natoms || b > natoms) {
                st = RPR_FAIL(err, RPR_EINVAL,
                              "permutations '%s': atom %zu out of 1..%zu", spec,
                              a > natoms ? a : b, natoms);
                goto cleanup;
            }
            if (a == b || img[a - 1] != a - 1 || img[b - 1] != b - 1) {
                st = RPR_FAIL(err, RPR_EINVAL,
                              "permutations '%s': atom %zu appears twice in "
                              "permutation %zu",
                              spec, a == b || img[a - 1] != a - 1 ? a : b,
                              np + 1);
                goto cleanup;
            }
            if (numbers[a - 1] != numbers[b - 1]) {
                const char *const sa = rpr_element_symbol(numbers[a - 1]);
                const char *const sb = rpr_element_symbol(numbers[b - 1]);
                st = RPR_FAIL(err, RPR_EINVAL,
                              "permutations '%s': atoms %zu (%s) and %zu (%s) "
                              "are different elements",
                              spec, a, sa != NULL ? sa : "?", b,
                              sb != NULL ? sb : "?");
                goto cleanup;
            }
            img[a - 1] = b - 1;
            img[b - 1] = a - 1;
            if (*p != ',')
                break;
            p++;
        }
        for (size_t k = 0; k < np; k++)
            if (memcmp(all + k * natoms, img, natoms * sizeof *img) == 0) {
                st = RPR_FAIL(err, RPR_EINVAL,
                              "permutations '%s': permutation %zu repeats "
                              "permutation %zu",
                              spec, np + 1, k + 1);
                goto cleanup;
            }
        if (perm != NULL)
            memcpy(perm + np * natoms, img, natoms * sizeof *img);
        np++;
        if (*p == '\0')
            break;
        if (*p != ';') {
            st = RPR_FAIL(err, RPR_EINVAL,
                          "permutations '%s': unexpected '%c' (swaps a-b are "
                          "separated by ',', permutations by ';')",
                          spec, *p);
            goto cleanup;
        }
        p++;
    }
    *nperm = np;
cleanup:
    free(all);
    return st;
}

const char *rpr_model_permutations(const rpr_model *model)
{
    return model != NULL ? model->permute : "";
}

/* ------------------------------------------------------------ relabelling */

/* Check the relabelling options (rpr.h, rpr_train_options.relabel) and
 * parse the one permutation into perm [natoms]. */
static rpr_status train_relabel_check(const rpr_train_options *opt,
                                      const rpr_geoms *geoms,
                                      const double *grad, size_t *perm,
                                      rpr_error *err)
{
    const char *const spec = opt->relabel;
    size_t np = 0;
    if (strchr(spec, ';') != NULL)
        return RPR_FAIL(err, RPR_EINVAL,
                        "relabel '%s': exactly one permutation (swaps a-b "
                        "joined by ',', no ';')",
                        spec);
    if (opt->permute != NULL && *opt->permute != '\0')
        return RPR_FAIL(err, RPR_EINVAL,
                        "relabel '%s' and permute '%s' cannot be combined: "
                        "choose the blend at prediction (relabel) or the "
                        "relabelled training copies (permute)",
                        spec, opt->permute);
    if (opt->property == RPR_PROPERTY_ENERGY && grad != NULL)
        return RPR_FAIL(err, RPR_EINVAL,
                        "relabel '%s': an energy model with gradients would "
                        "need the gradient of the blend weight; use permute "
                        "instead",
                        spec);
    if (!(opt->relabel_band > 0.0) || !isfinite(opt->relabel_band))
        return RPR_FAIL(err, RPR_EINVAL,
                        "relabel band must be > 0 and finite (got %g)",
                        opt->relabel_band);
    const rpr_status st =
        train_permute_parse(spec, rpr_geoms_natoms(geoms),
                            rpr_geoms_numbers(geoms), perm, &np, err);
    if (st != RPR_OK)
        return st;
    assert(np == 1); /* no ';' and not empty */
    return RPR_OK;
}

static int train_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/*
 * Give a trained model the relabelling blend: a new block with the same
 * arrays (the relabelling arrays come last in the arena, so the others
 * keep their offsets and a copy of the old block is a valid prefix), the
 * permutation, the training geometries' ID vectors, and the density width
 * s = the median over the training geometries of the distance to the
 * nearest other geometry's ID vector.  Exact duplicates (distance 0) are
 * passed over: a geometry's nearest neighbour is the nearest one with a
 * different ID vector, and a geometry with no such one counts not at all.
 */
static rpr_status train_relabel_attach(const rpr_train_options *opt,
                                       const rpr_geoms *geoms,
                                       const size_t *perm, rpr_model **model,
                                       rpr_error *err)
{
    const rpr_model *const old = *model;
    const size_t n = rpr_geoms_nframes(geoms), natoms = old->natoms;
    const size_t np = natoms * (natoms - 1) / 2, n3 = 3 * natoms;
    const descriptor_info *const id = descriptor_find("ID");
    const double *const xyz = rpr_geoms_xyz(geoms);
    model_shape shape;
    rpr_model *m = NULL;
    double *X = NULL, *nn = NULL, *xa = NULL;
    descriptor_params p;
    rpr_status st;

    assert(id != NULL && natoms >= 2);
    model_shape_of(old, &shape);
    shape.relabel_n = n;
    st = model_new(&shape, &m, err);
    if (st != RPR_OK)
        return st;
    const size_t bytes = m->bytes;
    memcpy(m, old, old->bytes);
    m->bytes = bytes;
    m->relabel_n = n;
    m->relabel_npairs = np;
    model_layout(m);
    X = malloc(n * np * sizeof *X);
    nn = malloc(n * sizeof *nn);
    xa = malloc(n3 * sizeof *xa);
    if (X == NULL || nn == NULL || xa == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "relabel: out of memory");
        goto cleanup;
    }
    memset(&p, 0, sizeof p);
    p.natoms = natoms;
    p.numbers = m->numbers;
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < n3; c++)
            xa[c] = xyz[i * n3 + c] * RPR_ANGSTROM_PER_BOHR;
        st = id->eval(&p, xa, X + i * np, NULL, err);
        if (st != RPR_OK) {
            error_prefix(err, "relabel: training geometry %zu", i + 1);
            goto cleanup;
        }
        for (size_t d = 0; d < np; d++)
            m->relabel_idt[d * n + i] = X[i * np + d];
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            double d2 = 0.0;
            for (size_t d = 0; d < np; d++) {
                const double t = X[i * np + d] - X[j * np + d];
                d2 += t * t;
            }
            if (d2 > 0.0 && d2 < best)
                best = d2;
        }
        if (isfinite(best))
            nn[k++] = sqrt(best);
    }
    if (k == 0) {
        st = RPR_FAIL(err, RPR_EINVAL,
                      "relabel: the %zu training geometries have one ID "
                      "vector: no density width",
                      n);
        goto cleanup;
    }
    qsort(nn, k, sizeof *nn, train_cmp_double);
    m->relabel_scale = k % 2 == 1 ? nn[k / 2] : (nn[k / 2 - 1] + nn[k / 2]) / 2;
    m->relabel_band = opt->relabel_band;
    snprintf(m->relabel, sizeof m->relabel, "%s", opt->relabel);
    memcpy(m->relabel_perm, perm, natoms * sizeof *perm);
    st = model_derive(m, err);
    if (st != RPR_OK)
        goto cleanup;
    rpr_model_free(*model);
    *model = m;
    m = NULL;
cleanup:
    rpr_model_free(m);
    free(X);
    free(nn);
    free(xa);
    return st;
}

/* ------------------------------------------------------------ frames */

/* Frame of sub-model s for geometry xyz (identity for NONE). */
static rpr_status train_frame(const rpr_model *m, const model_sub *s,
                              const double *xyz, double Q[9], double origin[3],
                              rpr_error *err)
{
    rpr_frame_health h;
    double margin;
    switch (s->frame) {
    case RPR_FRAME_NONE:
        for (int i = 0; i < 9; i++)
            Q[i] = (i % 4 == 0) ? 1.0 : 0.0;
        origin[0] = origin[1] = origin[2] = 0.0;
        return RPR_OK;
    case RPR_FRAME_PRINCIPAL:
        return frame_principal(m->natoms, m->weights, xyz, &m->frame_options, Q,
                               origin, &h, err);
    case RPR_FRAME_KABSCH:
        return frame_kabsch(m->natoms, m->kweights, s->ref, xyz, Q, origin,
                            &margin, err);
    case RPR_FRAME_BLEND: break;
    }
    return RPR_FAIL(err, RPR_EINVAL, "frame %d in a sub-model", (int) s->frame);
}

/* splitmix64 (Steele, Lea, Flood, OOPSLA 2014): reproducible probe pairs. */
static uint64_t train_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* sigma3/sigma1 of the O(3) Kabsch fit of x onto ref; 0 where the fit
 * cannot be made (a degenerate geometry is as bad as a seam). */
static double train_margin(size_t natoms, const double *kw, const double *ref,
                           const double *x)
{
    double Q[9], origin[3], margin;
    if (frame_kabsch(natoms, kw, ref, x, Q, origin, &margin, NULL) != RPR_OK)
        return 0.0;
    return margin;
}

/* Blend weight of a Kabsch fit (model.c, model_blend_weights). */
static double train_kabsch_weight(const rpr_frame_options *o, double margin,
                                  double ref_margin)
{
    return frame_smoothstep((margin / ref_margin - o->margin_lo) /
                            (o->margin_hi - o->margin_lo));
}

/*
 * Probe geometry p [natoms][3]: x_i + t (x_j' - x_i), x_j' the geometry
 * x_j fitted onto x_i (O(3) Kabsch with the weights kw): the straight
 * line through two training geometries, continued beyond x_j for t > 1.
 * Returns 0 if the fit fails (the probe is then not used).
 */
static int train_probe(size_t natoms, const double *kw, const double *xi,
                       const double *xj, double t, double *xf, double *p)
{
    double Q[9], origin[3], margin, c[3] = {0.0, 0.0, 0.0}, W = 0.0;
    if (frame_kabsch(natoms, kw, xi, xj, Q, origin, &margin, NULL) != RPR_OK)
        return 0;
    frame_to_frame(natoms, Q, origin, xj, xf);
    for (size_t a = 0; a < natoms; a++) {
        W += kw[a];
        for (int k = 0; k < 3; k++)
            c[k] += kw[a] * xi[3 * a + k];
    }
    for (size_t a = 0; a < natoms; a++)
        for (int k = 0; k < 3; k++) {
            const double y = xi[3 * a + k] - c[k] / W;
            p[3 * a + k] = c[k] / W + y + t * (xf[3 * a + k] - y);
        }
    return 1;
}

/* Coverage of the probes by the references chosen so far (sum [np]) plus
 * candidate weights w [np]: sum_p min(1, sum_p + w_p), and the smallest
 * sum_p + w_p (the tie-break). */
static void train_coverage(size_t np, const double *sum, const double *w,
                           double *cover, double *lowest)
{
    *cover = 0.0;
    *lowest = INFINITY;
    for (size_t p = 0; p < np; p++) {
        const double v = sum[p] + (w != NULL ? w[p] : 0.0);
        *cover += fmin(v, 1.0);
        *lowest = fmin(*lowest, v);
    }
}

/*
 * The Kabsch references, uncentred, refs [RPR_KABSCH_MAX_REFS][natoms][3]
 * bohr, their source and training index, and their number *nref:
 * opt->kabsch_refs if given; else the first is xyz_eq (if given) or the
 * training geometry whose smallest margin sigma3/sigma1 over the training
 * geometries is largest, and further ones are chosen greedily (rpr.h,
 * rpr_train_options.kabsch_nref):
 *
 * - The seam of the O(3) fit is where sigma3 of the cross-covariance
 *   vanishes (proper and improper fits tie).  A sub-model trained in a
 *   frame with a seam among its training geometries learns targets that
 *   jump there, so an extra reference must keep every training
 *   geometry's margin, relative to its own, at margin_hi or above (blend
 *   weight 1 on the whole training set).  The margin is invariant under
 *   reflections, so mirror images of the training geometries stay off the
 *   seams too.
 * - Among those, the next reference is the one whose blend weights cover
 *   the probe geometries best where the references chosen so far do not
 *   (coverage: train_coverage), so that the seams of different references
 *   fall in different places and wherever one fit is unreliable another
 *   is not.  The probes continue straight lines through pairs of training
 *   geometries beyond the data (train_probe): the region a trajectory
 *   leaving the data enters first.  Nothing here knows the molecule.
 *
 * Candidates: up to TRAIN_REF_CANDIDATES evenly spaced training geometries
 * (cost: candidates x (N + nprobe) fits of ~3 us).
 */
enum { TRAIN_REF_CANDIDATES = 256 };

static rpr_status train_choose_refs(const rpr_train_options *opt,
                                    const rpr_geoms *geoms, const double *kw,
                                    double *refs, model_ref_source *src,
                                    size_t *idx, size_t *nref, rpr_error *err)
{
    const size_t natoms = rpr_geoms_natoms(geoms), n3 = 3 * natoms;
    const size_t nf = rpr_geoms_nframes(geoms);
    const double *const xyz = rpr_geoms_xyz(geoms);
    const rpr_frame_options *const o = &opt->frame_options;
    size_t cand[TRAIN_REF_CANDIDATES], nc = 0;
    double self[TRAIN_REF_CANDIDATES], worst[TRAIN_REF_CANDIDATES];
    double *P = NULL, *sum = NULL, *w = NULL, *xf = NULL;
    rpr_status st = RPR_OK;

    *nref = 0;
    if (opt->kabsch_refs != NULL) {
        for (size_t r = 0; r < opt->kabsch_nref; r++) {
            for (size_t i = 0; i < n3; i++)
                if (!isfinite(opt->kabsch_refs[r * n3 + i]))
                    return RPR_FAIL(err, RPR_ENONFINITE,
                                    "Kabsch reference %zu: coordinate %zu of "
                                    "atom %zu is %g",
                                    r + 1, i % 3 + 1, i / 3 + 1,
                                    opt->kabsch_refs[r * n3 + i]);
            memcpy(refs + r * n3, opt->kabsch_refs + r * n3,
                   n3 * sizeof(double));
            src[r] = MODEL_REF_GIVEN;
            idx[r] = 0;
        }
        *nref = opt->kabsch_nref;
        return RPR_OK;
    }

    if (opt->xyz_eq != NULL && opt->kabsch_nref < 2) {
        memcpy(refs, opt->xyz_eq, n3 * sizeof(double));
        src[0] = MODEL_REF_GIVEN;
        idx[0] = 0;
        *nref = 1;
        return RPR_OK;
    }
    const size_t stride =
        (nf + TRAIN_REF_CANDIDATES - 1) / TRAIN_REF_CANDIDATES;
    for (size_t r = 0; r < nf && nc < TRAIN_REF_CANDIDATES; r += stride) {
        const double *const y = xyz + r * n3;
        cand[nc] = r;
        self[nc] = train_margin(natoms, kw, y, y);
        worst[nc] = INFINITY;
        for (size_t i = 0; i < nf; i++)
            worst[nc] =
                fmin(worst[nc], train_margin(natoms, kw, y, xyz + i * n3));
        nc++;
    }
    if (opt->xyz_eq != NULL) {
        memcpy(refs, opt->xyz_eq, n3 * sizeof(double));
        src[0] = MODEL_REF_GIVEN;
        idx[0] = 0;
    } else {
        size_t best = 0;
        for (size_t c = 1; c < nc; c++)
            if (worst[c] > worst[best])
                best = c;
        memcpy(refs, xyz + cand[best] * n3, n3 * sizeof(double));
        src[0] = MODEL_REF_TRAINING;
        idx[0] = cand[best];
    }
    *nref = 1;
    if (opt->kabsch_nref < 2)
        return RPR_OK;

    const size_t np = opt->kabsch_nprobe;
    P = malloc(np * n3 * sizeof *P);
    sum = malloc(np * sizeof *sum);
    w = malloc(np * sizeof *w);
    xf = malloc(n3 * sizeof *xf);
    if (P == NULL || sum == NULL || w == NULL || xf == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "Kabsch references: %zu probes", np);
        goto cleanup;
    }
    uint64_t state = opt->seed;
    size_t nprobe = 0;
    for (size_t p = 0; p < np; p++) {
        const size_t i = (size_t) (train_splitmix64(&state) % nf);
        const size_t j = (size_t) (train_splitmix64(&state) % nf);
        nprobe += train_probe(natoms, kw, xyz + i * n3, xyz + j * n3,
                              opt->kabsch_probe_t, xf, P + nprobe * n3);
    }
    const double self0 = train_margin(natoms, kw, refs, refs);
    for (size_t p = 0; p < nprobe; p++)
        sum[p] = self0 > 0.0
                     ? train_kabsch_weight(
                           o, train_margin(natoms, kw, refs, P + p * n3), self0)
                     : 0.0;
    while (*nref < opt->kabsch_nref) {
        double cover, lowest;
        train_coverage(nprobe, sum, NULL, &cover, &lowest);
        if (!(lowest < 1.0))
            break; /* every probe is covered */
        size_t best = SIZE_MAX;
        double best_cover = cover, best_lowest = lowest;
        for (size_t c = 0; c < nc; c++) {
            /* The data criterion: weight 1 on every training geometry. */
            if (!(self[c] > 0.0 && worst[c] / self[c] >= o->margin_hi))
                continue;
            int taken = 0;
            for (size_t r = 0; r < *nref; r++)
                taken |= src[r] == MODEL_REF_TRAINING && idx[r] == cand[c];
            if (taken)
                continue;
            const double *const y = xyz + cand[c] * n3;
            for (size_t p = 0; p < nprobe; p++)
                w[p] = train_kabsch_weight(
                    o, train_margin(natoms, kw, y, P + p * n3), self[c]);
            double cv, lw;
            train_coverage(nprobe, sum, w, &cv, &lw);
            if (cv > best_cover || (cv == best_cover && lw > best_lowest)) {
                best = c;
                best_cover = cv;
                best_lowest = lw;
            }
        }
        if (best == SIZE_MAX)
            break; /* no eligible candidate improves the coverage */
        const double *const y = xyz + cand[best] * n3;
        for (size_t p = 0; p < nprobe; p++)
            sum[p] += train_kabsch_weight(
                o, train_margin(natoms, kw, y, P + p * n3), self[best]);
        memcpy(refs + *nref * n3, y, n3 * sizeof(double));
        src[*nref] = MODEL_REF_TRAINING;
        idx[*nref] = cand[best];
        (*nref)++;
    }
cleanup:
    free(P);
    free(sum);
    free(w);
    free(xf);
    return st;
}

/*
 * Kabsch reference r of sub-model s from ref [natoms][3], centred on its
 * weighted centre, and its margin against itself (the blend's scale);
 * from_eq: ref is the equilibrium geometry (named so in messages).
 * Why not simply the first geometry: a reference whose mass is nearly
 * coplanar (anti 1,2-dichloroethane, its heavy atoms in one plane: margin
 * 0.0094) leaves the O(3) fit's handedness to the hydrogens, and thermal
 * geometries then sit near the tie between the proper and the improper
 * fit (margins ~1e-4), where the frame flips: on the DCE data the Kabsch
 * dipole RMSE is 0.13-0.2 e bohr with an anti reference and 0.004 with the
 * max-min-margin training geometry (docs/results/frames.md).
 */
static rpr_status train_reference(const rpr_model *m, model_sub *s, size_t r,
                                  const double *ref, int from_eq,
                                  rpr_error *err)
{
    double c[3] = {0.0, 0.0, 0.0}, W = 0.0, Q[9], origin[3];
    char what[64];
    if (from_eq)
        snprintf(what, sizeof what,
                 "Kabsch reference %zu (equilibrium geometry)", r + 1);
    else if (s->ref_source == MODEL_REF_TRAINING)
        snprintf(what, sizeof what,
                 "Kabsch reference %zu (training geometry "
                 "%zu)",
                 r + 1, s->ref_index + 1);
    else
        snprintf(what, sizeof what, "Kabsch reference %zu (given)", r + 1);
    for (size_t a = 0; a < m->natoms; a++) {
        W += m->kweights[a];
        for (int k = 0; k < 3; k++)
            c[k] += m->kweights[a] * ref[3 * a + k];
    }
    for (size_t a = 0; a < m->natoms; a++)
        for (int k = 0; k < 3; k++)
            s->ref[3 * a + k] = ref[3 * a + k] - c[k] / W;
    const rpr_status st = frame_kabsch(m->natoms, m->kweights, s->ref, s->ref,
                                       Q, origin, &s->ref_margin, err);
    if (st != RPR_OK) {
        error_prefix(err, "%s", what);
        return st;
    }
    if (!(s->ref_margin > 0.0))
        return RPR_FAIL(err, RPR_EDEGENERATE,
                        "%s is planar or linear: margin %g; use --frame "
                        "principal",
                        what, s->ref_margin);
    return RPR_OK;
}

/*
 * Descriptors X [n][D] (and Jacobians J [n][D][3 natoms] per angstrom if J
 * is not NULL) of every geometry in the frame of s, and the labels in that
 * frame Y [n][ncomp].  X NULL: labels only.
 */
static rpr_status train_features(const rpr_model *m, const model_sub *s,
                                 const rpr_geoms *geoms, const double *values,
                                 double *X, double *J, double *Y, double *xf,
                                 rpr_error *err)
{
    const size_t n = m->ntrain, n3 = 3 * m->natoms, D = m->D;
    const double *const xyz = rpr_geoms_xyz(geoms);
    descriptor_params p;

    model_descriptor_params(m, &p);
    for (size_t i = 0; i < n; i++) {
        double Q[9], origin[3];
        const double *const xi = xyz + i * n3;
        rpr_status st = train_frame(m, s, xi, Q, origin, err);
        if (st == RPR_OK && X != NULL) {
            frame_to_frame(m->natoms, Q, origin, xi, xf);
            for (size_t k = 0; k < n3; k++)
                xf[k] *= RPR_ANGSTROM_PER_BOHR;
            st = m->desc->eval(&p, xf, X + i * D,
                               J != NULL ? J + i * D * n3 : NULL, err);
        }
        if (st != RPR_OK) {
            const size_t line = rpr_geoms_line(geoms, i);
            if (line > 0)
                error_prefix(err, "geometry %zu (line %zu)", i + 1, line);
            else
                error_prefix(err, "geometry %zu", i + 1);
            return st;
        }
        const double *const v = values + i * m->ncomp;
        double *const y = Y + i * m->ncomp;
        switch (m->property) {
        case RPR_PROPERTY_DIPOLE: frame_vector_from_lab(Q, v, y); break;
        case RPR_PROPERTY_POLARIZABILITY: frame_tensor_from_lab(Q, v, y); break;
        case RPR_PROPERTY_SCALAR:
        case RPR_PROPERTY_ENERGY: y[0] = v[0]; break;
        }
    }
    return RPR_OK;
}

/* ------------------------------------------------------------ fits */

static void train_transpose(size_t rows, size_t cols, const double *a,
                            double *at)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            at[j * rows + i] = a[i * cols + j];
}

/*
 * KRR for all components of sub-model s: X [n][D], Y [n][ncomp] (frame
 * labels, prior not yet subtracted).  Fills sigma, lambda, prior, errors
 * and alpha.
 */
static rpr_status train_krr(const rpr_train_options *opt, rpr_model *m,
                            model_sub *s, const double *X, double *Y,
                            size_t norig, double progress_lo,
                            double progress_hi, rpr_error *err)
{
    const size_t n = m->ntrain, nc = m->ncomp, D = m->D;
    double *K = NULL, *F = NULL, *R = NULL, *Yg = NULL, *C = NULL;
    rpr_status st = RPR_OK;

    for (size_t c = 0; c < nc; c++) {
        double mean = 0.0;
        if (opt->prior_mean) {
            for (size_t i = 0; i < n; i++)
                mean += Y[i * nc + c];
            mean /= (double) n;
        }
        s->prior[c] = mean;
        for (size_t i = 0; i < n; i++)
            Y[i * nc + c] -= mean;
    }

    const kernel_spec base = {m->kernel, m->matern_n, 1.0};
    const int fix_sigma = opt->sigma > 0.0, fix_lambda = opt->lambda >= 0.0;
    double mid = progress_lo;
    for (size_t c = 0; c < nc; c++) {
        s->sigma[c] = opt->sigma;
        s->lambda[c] = opt->lambda;
    }
    if (!fix_sigma || !fix_lambda) {
        krr_search_options so;
        krr_choice choice[MODEL_MAX_COMP];
        memset(&so, 0, sizeof so);
        so.criterion = opt->criterion;
        so.validation_fraction = opt->validation_fraction;
        so.seed = opt->seed;
        so.nlg_sigma = opt->nlg_sigma;
        so.nlg_lambda = opt->nlg_lambda;
        so.lg_depth = opt->lg_depth;
        so.lg_sigma_lo = opt->lg_sigma_lo;
        so.lg_sigma_hi = opt->lg_sigma_hi;
        so.lg_lambda_lo = opt->lg_lambda_lo;
        so.lg_lambda_hi = opt->lg_lambda_hi;
        so.rounding_tol = opt->rounding_tol;
        so.fix_sigma = fix_sigma;
        so.sigma = opt->sigma;
        so.fix_lambda = fix_lambda;
        so.lambda = opt->lambda;
        mid = progress_lo + TRAIN_SEARCH_SHARE * (progress_hi - progress_lo);
        train_span span = {opt, progress_lo, mid};
        so.progress = opt->progress != NULL ? train_progress_span : NULL;
        so.progress_ctx = &span;
        train_progress(opt, progress_lo, "hyperparameter search");
        /* The search sees the original geometries only (the first norig
         * rows), so that no relabelled copy of a validation geometry sits
         * in the sub-training set (rpr.h, rpr_train_options.permute). */
        st = krr_search(&base, norig, D, X, nc, Y, &so, choice, err);
        if (st != RPR_OK) {
            error_prefix(err, "frame %s", model_frame_name(s->frame));
            return st;
        }
        for (size_t c = 0; c < nc; c++) {
            s->sigma[c] = choice[c].sigma;
            s->lambda[c] = choice[c].lambda;
            s->rmse[c] = choice[c].rmse;
            s->mae[c] = choice[c].mae;
        }
    }
    train_progress(opt, mid, "final fit");

    /* The final fit's policy (rpr.h, rpr_train): a searched lambda climbs
     * the finest step of its grid, at most to the grid's top, while K +
     * lambda I is not positive definite or the fit not admissible; a
     * given lambda is the caller's and is used as it is. */
    krr_ladder ladder = {0.0, opt->lambda, 0.0};
    if (!fix_lambda) {
        double step = (opt->lg_lambda_hi - opt->lg_lambda_lo) /
                      (double) (opt->nlg_lambda - 1);
        for (int l = 1; l < opt->lg_depth; l++)
            step = 2.0 * step / (double) (opt->nlg_lambda - 1);
        ladder.lg_step = step;
        ladder.lambda_max = exp2(opt->lg_lambda_hi);
        ladder.rounding_tol = opt->rounding_tol;
    }
    if (n > SIZE_MAX / sizeof(double) / n)
        return RPR_FAIL(err, RPR_ENOMEM, "%zu training points: too many", n);
    K = malloc(n * n * sizeof *K);
    F = malloc(n * n * sizeof *F);
    R = malloc(n * nc * sizeof *R);
    Yg = malloc(n * nc * sizeof *Yg);
    C = malloc(n * nc * sizeof *C);
    if (K == NULL || F == NULL || R == NULL || Yg == NULL || C == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM,
                      "cannot allocate the %zu x %zu kernel matrix", n, n);
        goto cleanup;
    }
    /* One kernel matrix per group of components with bit-equal sigma; the
     * ladder factorises once per bit-equal lambda within the group. */
    int done[MODEL_MAX_COMP] = {0};
    for (size_t c0 = 0; c0 < nc; c0++) {
        if (done[c0])
            continue;
        size_t members[MODEL_MAX_COMP], nm = 0;
        double lam[MODEL_MAX_COMP];
        for (size_t c = c0; c < nc; c++)
            if (!done[c] &&
                memcmp(&s->sigma[c], &s->sigma[c0], sizeof(double)) == 0) {
                lam[nm] = s->lambda[c];
                members[nm++] = c;
                done[c] = 1;
            }
        const kernel_spec spec = {m->kernel, m->matern_n, s->sigma[c0]};
        kernel_matrix_sym(&spec, D, n, X, K);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < nm; j++)
                Yg[i * nm + j] = Y[i * nc + members[j]];
        size_t failed = nm;
        st = krr_fit_ladder(n, K, nm, Yg, &ladder, lam, C, F, R, &failed, err);
        if (st != RPR_OK) {
            error_prefix(err, "component %s (frame %s)",
                         rpr_property_component(
                             m->property, members[failed < nm ? failed : 0]),
                         model_frame_name(s->frame));
            goto cleanup;
        }
        for (size_t j = 0; j < nm; j++) {
            s->lambda[members[j]] = lam[j];
            for (size_t i = 0; i < n; i++)
                s->alpha[members[j] * n + i] = C[i * nm + j];
        }
    }
cleanup:
    free(K);
    free(F);
    free(R);
    free(Yg);
    free(C);
    return st;
}

/* KREG for an energy model (one frame, NONE): X [n][D], J [n][D][3n] or
 * NULL, E [n], G [n][3 natoms] in hartree/angstrom or NULL; the first
 * norig geometries are the originals, on which the search runs. */
static rpr_status train_kreg(const rpr_train_options *opt, rpr_model *m,
                             model_sub *s, const double *X, const double *J,
                             const double *E, const double *G,
                             const unsigned char *present, size_t norig,
                             rpr_error *err)
{
    const size_t n = m->ntrain, D = m->D;
    kreg_model *km = NULL;
    kreg_params hp;
    rpr_status st;

    const kreg_data data = {n, D,       3 * m->natoms, X, J, E,
                            G, present, KREG_ANGSTROM};
    double prior = 0.0;
    if (opt->prior_mean) {
        for (size_t i = 0; i < n; i++)
            prior += E[i];
        prior /= (double) n;
    }
    memset(&hp, 0, sizeof hp);
    hp.prior = prior;
    hp.max_bytes = 0;
    if (opt->sigma > 0.0) {
        hp.sigma = opt->sigma;
        hp.lambda = opt->lambda;
        hp.lambda_grad =
            opt->lambda_grad >= 0.0 ? opt->lambda_grad : opt->lambda;
    } else {
        kreg_search_options so;
        kreg_choice choice;
        kreg_search_options_default(&so);
        so.validation_fraction = opt->validation_fraction;
        so.seed = opt->seed;
        so.nlg_sigma = opt->nlg_sigma;
        so.nlg_lambda = opt->nlg_lambda;
        so.lg_depth = opt->lg_depth;
        if (!isnan(opt->lg_sigma_lo))
            so.lg_sigma_lo = opt->lg_sigma_lo;
        if (!isnan(opt->lg_sigma_hi))
            so.lg_sigma_hi = opt->lg_sigma_hi;
        so.lg_lambda_lo = opt->lg_lambda_lo;
        so.lg_lambda_hi = opt->lg_lambda_hi;
        so.max_dim = opt->kreg_search_dim;
        so.max_validation = opt->kreg_search_validation;
        if (opt->lambda_grad >= 0.0) {
            /* lambda_grad given with lambda searched: not expressible as
             * a fixed ratio, so refuse rather than ignore it. */
            return RPR_FAIL(err, RPR_EINVAL,
                            "lambda_grad can only be given with a fixed "
                            "lambda");
        }
        train_span span = {opt, 0.1, 0.6};
        so.progress = opt->progress != NULL ? train_progress_span : NULL;
        so.progress_ctx = &span;
        train_progress(opt, 0.1, "KREG hyperparameter search");
        /* Originals only (train_krr says why); the layout is row-major
         * per geometry, so the first norig rows are a prefix. */
        const kreg_data orig = {norig, D,       3 * m->natoms, X, J, E,
                                G,     present, KREG_ANGSTROM};
        st = kreg_search(&orig, prior, &so, &choice, err);
        if (st != RPR_OK)
            return st;
        hp = choice.params;
        s->rmse[0] = choice.rmse_energy;
    }
    train_progress(opt, 0.6, "KREG fit");
    st = kreg_fit(&data, &hp, &km, NULL, err);
    if (st != RPR_OK)
        return st;
    s->sigma[0] = km->sigma;
    s->lambda[0] = km->lambda;
    s->lambda_grad[0] = m->has_q ? km->lambda_grad : NAN;
    s->prior[0] = km->prior;
    memcpy(s->alpha, km->alpha, n * sizeof *s->alpha);
    train_transpose(n, D, km->X, s->xt);
    if (m->has_q)
        train_transpose(n, D, km->q, s->qt);
    kreg_model_free(km);
    return RPR_OK;
}

/* ------------------------------------------------------------ sign averaging
 */

/*
 * Sign averaging (frames.md 4.7) needs the principal frame and a
 * descriptor that reversing frame axes changes only by the signs of some
 * components: frame coordinates (RExyz, xyzQ) and sin of the dihedral
 * (REdihed, which follows the frame's handedness).  Such a change is an
 * isometry of the descriptor space, so every kernel (a function of the L2
 * or L1 distance) is invariant when both arguments are reversed alike,
 * which train_sign_average needs.  RE, ID and CM do not change at all:
 * the 8 images are equal and the average of a vector component over the
 * sign choices is 0.  REsph's angles wrap (phi -> pi - phi modulo 2 pi),
 * which is no isometry.  tests/test_frames.c checks these claims on every
 * row of the descriptor registry.
 */
static rpr_status train_sign_check(const descriptor_info *desc,
                                   rpr_frame_kind frame, rpr_error *err)
{
    static const char *const names[] = {"RExyz", "REdihed", "xyzQ"};
    if (frame != RPR_FRAME_PRINCIPAL && frame != RPR_FRAME_BLEND)
        return RPR_FAIL(err, RPR_EINVAL,
                        "sign averaging applies to the principal frame "
                        "(frame principal or blend), not %s",
                        model_frame_name(frame));
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(desc->name, names[i]) == 0)
            return RPR_OK;
    if (!desc->uses_frame)
        return RPR_FAIL(err, RPR_EINVAL,
                        "sign averaging needs a descriptor that sees the "
                        "frame's signs (RExyz, REdihed, xyzQ): with the "
                        "invariant %s every averaged vector component is 0",
                        desc->name);
    return RPR_FAIL(err, RPR_EINVAL,
                    "sign averaging needs a descriptor that reversing axes "
                    "only changes in sign (RExyz, REdihed, xyzQ); %s is not "
                    "one (its angles wrap)",
                    desc->name);
}

/*
 * Refit the principal sub-model s as if trained on all 8 sign variants of
 * every geometry: descriptors P_w x_i = x(D_w X_f,i) of the frame
 * coordinates with the axes in w reversed, and labels chi_c(w) y_ci
 * (model_sign_character).  That 8N x 8N system is not needed: with the
 * kernel invariant under reversing both arguments alike (train_sign_check),
 * k(P_t a, P_u b) = k(a, P_t P_u b), the ansatz a_(j,u) = chi_c(u) b_j
 * solves it exactly when
 *   (G_c + lambda I) b = y_c,   G_c(i, j) = sum_w chi_c(w) k(P_w x_i, x_j),
 * one N x N system per sign class of the components and the same lambda;
 * and the augmented model then predicts sum_j G_c(x, x_j) b_j, which is
 * its own average over the 8 sign choices (model.c evaluates it so).
 * G_c is the kernel projected onto the functions with sign character
 * chi_c: symmetric and positive semi-definite.  The prior is the mean of
 * the augmented labels: the plain mean for components that no reversal
 * changes (xx, yy, zz; scalars), 0 for the others.  sigma and lambda are
 * those train_krr chose for the unaveraged kernel.
 */
static rpr_status train_sign_average(const rpr_train_options *opt, rpr_model *m,
                                     model_sub *s, const rpr_geoms *geoms,
                                     const double *values, rpr_error *err)
{
    const size_t n = m->ntrain, nc = m->ncomp, D = m->D, n3 = 3 * m->natoms;
    const double *const xyz = rpr_geoms_xyz(geoms);
    double *Xw = NULL, *Y = NULL, *K = NULL, *G = NULL, *R = NULL;
    double *xf = NULL, *xw = NULL;
    descriptor_params p;
    rpr_status st = RPR_OK;

    if (n > SIZE_MAX / sizeof(double) / n ||
        D > SIZE_MAX / sizeof(double) / 8 / n)
        return RPR_FAIL(err, RPR_ENOMEM, "%zu training points: too many", n);
    Xw = malloc(8 * n * D * sizeof *Xw);
    Y = malloc(n * nc * sizeof *Y);
    K = malloc(n * n * sizeof *K);
    G = malloc(n * n * sizeof *G);
    R = malloc(n * nc * sizeof *R);
    xf = malloc(n3 * sizeof *xf);
    xw = malloc(n3 * sizeof *xw);
    if (Xw == NULL || Y == NULL || K == NULL || G == NULL || R == NULL ||
        xf == NULL || xw == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM,
                      "sign averaging: cannot allocate for %zu geometries", n);
        goto cleanup;
    }
    model_descriptor_params(m, &p);
    for (size_t i = 0; i < n && st == RPR_OK; i++) {
        double Q[9], origin[3];
        const double *const xi = xyz + i * n3;
        st = train_frame(m, s, xi, Q, origin, err);
        if (st == RPR_OK) {
            frame_to_frame(m->natoms, Q, origin, xi, xf);
            for (size_t k = 0; k < n3; k++)
                xf[k] *= RPR_ANGSTROM_PER_BOHR;
        }
        for (unsigned w = 0; w < 8 && st == RPR_OK; w++) {
            for (size_t k = 0; k < n3; k++)
                xw[k] = (w >> (k % 3)) & 1u ? -xf[k] : xf[k];
            st = m->desc->eval(&p, xw, Xw + (w * n + i) * D, NULL, err);
        }
        if (st != RPR_OK) {
            const size_t line = rpr_geoms_line(geoms, i);
            if (line > 0)
                error_prefix(err, "geometry %zu (line %zu)", i + 1, line);
            else
                error_prefix(err, "geometry %zu", i + 1);
            goto cleanup;
        }
        const double *const v = values + i * nc;
        double *const y = Y + i * nc;
        switch (m->property) {
        case RPR_PROPERTY_DIPOLE: frame_vector_from_lab(Q, v, y); break;
        case RPR_PROPERTY_POLARIZABILITY: frame_tensor_from_lab(Q, v, y); break;
        case RPR_PROPERTY_SCALAR:
        case RPR_PROPERTY_ENERGY: y[0] = v[0]; break;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        int invariant = 1;
        for (unsigned w = 0; w < 8; w++)
            invariant &= model_sign_character(m->property, c, w) > 0.0;
        double mean = 0.0;
        if (opt->prior_mean && invariant) {
            for (size_t i = 0; i < n; i++)
                mean += Y[i * nc + c];
            mean /= (double) n;
        }
        s->prior[c] = mean;
        for (size_t i = 0; i < n; i++)
            Y[i * nc + c] -= mean;
    }
    /* One factorisation per group of components with bit-equal sigma and
     * lambda and the same sign character. */
    int done[MODEL_MAX_COMP] = {0};
    for (size_t c0 = 0; c0 < nc; c0++) {
        if (done[c0])
            continue;
        size_t members[MODEL_MAX_COMP], nm = 0;
        for (size_t c = c0; c < nc; c++) {
            int same =
                !done[c] &&
                memcmp(&s->sigma[c], &s->sigma[c0], sizeof(double)) == 0 &&
                memcmp(&s->lambda[c], &s->lambda[c0], sizeof(double)) == 0;
            for (unsigned w = 0; w < 8 && same; w++)
                same = model_sign_character(m->property, c, w) ==
                       model_sign_character(m->property, c0, w);
            if (same) {
                members[nm++] = c;
                done[c] = 1;
            }
        }
        const kernel_spec spec = {m->kernel, m->matern_n, s->sigma[c0]};
        for (size_t i = 0; i < n * n; i++)
            G[i] = 0.0;
        for (unsigned w = 0; w < 8; w++) {
            const double chi = model_sign_character(m->property, c0, w);
            kernel_matrix(&spec, D, n, Xw + w * n * D, n, Xw, K);
            for (size_t i = 0; i < n * n; i++)
                G[i] += chi * K[i];
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < nm; j++)
                R[i * nm + j] = Y[i * nc + members[j]];
        st = krr_fit(n, G, s->lambda[c0], nm, R, err);
        if (st != RPR_OK) {
            error_prefix(err, "component %s (frame %s, sign-averaged)",
                         rpr_property_component(m->property, c0),
                         model_frame_name(s->frame));
            goto cleanup;
        }
        for (size_t j = 0; j < nm; j++)
            for (size_t i = 0; i < n; i++)
                s->alpha[members[j] * n + i] = R[i * nm + j];
    }
cleanup:
    free(Xw);
    free(Y);
    free(K);
    free(G);
    free(R);
    free(xf);
    free(xw);
    return st;
}

/* ------------------------------------------------------------ rpr_train */

/* rpr_train with the selection buffer sel [natoms] from the caller. */
static rpr_status train_model(const rpr_train_options *opt,
                              const rpr_geoms *geoms, size_t norig,
                              const double *values, const double *grad,
                              const unsigned char *present, rpr_model **model,
                              size_t *sel, rpr_error *err)
{
    rpr_model *m = NULL;
    double *X = NULL, *J = NULL, *Y = NULL, *G = NULL, *xf = NULL;
    double *kw = NULL, *refs = NULL;
    model_ref_source ref_src[RPR_KABSCH_MAX_REFS];
    size_t ref_idx[RPR_KABSCH_MAX_REFS];
    size_t nsel = 0, dih[4] = {0, 0, 0, 0};
    const descriptor_info *desc;
    const char *suffix;
    rpr_status st;

    if (model == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_train: NULL model pointer");
    *model = NULL;
    if (opt == NULL || geoms == NULL || values == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_train: NULL argument");
    const size_t natoms = rpr_geoms_natoms(geoms);
    const size_t n = rpr_geoms_nframes(geoms);
    const size_t ncomp = rpr_property_ncomp(opt->property);
    const int *const numbers = rpr_geoms_numbers(geoms);
    const double *const xyz = rpr_geoms_xyz(geoms);
    const int energy = opt->property == RPR_PROPERTY_ENERGY;
    const int search = !(opt->sigma > 0.0) || !(opt->lambda >= 0.0);

    /* ---- options */
    if (ncomp == 0)
        return RPR_FAIL(err, RPR_EINVAL, "unknown property %d",
                        (int) opt->property);
    if (natoms < 2)
        return RPR_FAIL(err, RPR_EINVAL, "molecule of %zu atoms: need 2",
                        natoms);
    if (norig < (search ? 2u : 1u))
        return RPR_FAIL(err, RPR_EINVAL, "%zu training geometries: too few",
                        norig);
    if (!(isfinite(opt->sigma) || opt->sigma < 0.0) ||
        !(isfinite(opt->lambda) || opt->lambda < 0.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "sigma and lambda must be finite, or negative to "
                        "optimise them (got sigma %g, lambda %g)",
                        opt->sigma, opt->lambda);
    if (energy && (opt->sigma > 0.0) != (opt->lambda >= 0.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "energy models (KREG) search sigma and lambda "
                        "together: give both or neither (got sigma %g, "
                        "lambda %g)",
                        opt->sigma, opt->lambda);
    if (search && !energy && !(opt->rounding_tol > 0.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "rounding_tol must be > 0 (INFINITY turns the rule "
                        "off; got %g)",
                        opt->rounding_tol);
    if (grad != NULL && !energy)
        return RPR_FAIL(err, RPR_EINVAL,
                        "gradients are labels of energy models only");
    const kernel_info *const kinfo = kernel_find(opt->kernel);
    if (kinfo == NULL)
        return RPR_FAIL(err, RPR_EINVAL,
                        "unknown kernel '%s' (rpr info lists them)",
                        opt->kernel != NULL ? opt->kernel : "(null)");
    if (kinfo->type == KERNEL_MATERN && opt->matern_n < 0)
        return RPR_FAIL(err, RPR_EINVAL, "Matern order must be >= 0 (got %d)",
                        opt->matern_n);
    if (energy && kinfo->type != KERNEL_GAUSSIAN)
        return RPR_FAIL(err, RPR_EINVAL,
                        "energy models (KREG) need the gaussian kernel; "
                        "use property scalar for the %s kernel",
                        kinfo->name);
    if (energy && search && opt->criterion == RPR_CRITERION_LOO)
        return RPR_FAIL(err, RPR_EINVAL,
                        "energy models select by hold-out only; leave-one-"
                        "out is for the other properties");
    {
        const rpr_frame_options *const o = &opt->frame_options;
        if (!(o->gap_lo < o->gap_hi && o->sign_lo < o->sign_hi &&
              o->margin_lo < o->margin_hi && o->sign_tol >= 0.0))
            return RPR_FAIL(err, RPR_EINVAL,
                            "frame options: need gap_lo < gap_hi, sign_lo < "
                            "sign_hi, margin_lo < margin_hi, sign_tol >= 0");
    }
    if (model_frame_name(opt->frame) == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "unknown frame %d", (int) opt->frame);
    if (opt->kabsch_nref < 1 || opt->kabsch_nref > RPR_KABSCH_MAX_REFS)
        return RPR_FAIL(err, RPR_EINVAL, "%zu Kabsch references: need 1 .. %d",
                        opt->kabsch_nref, RPR_KABSCH_MAX_REFS);
    if (opt->kabsch_refs == NULL && opt->kabsch_nref > 1 &&
        (opt->kabsch_nprobe < 1 || !isfinite(opt->kabsch_probe_t)))
        return RPR_FAIL(err, RPR_EINVAL,
                        "Kabsch probes: need kabsch_nprobe >= 1 and a finite "
                        "kabsch_probe_t (got %zu, %g)",
                        opt->kabsch_nprobe, opt->kabsch_probe_t);

    /* ---- descriptor, atoms, equilibrium geometry */
    st = train_descriptor(opt->descriptor != NULL ? opt->descriptor : "", &desc,
                          &suffix, err);
    if (st != RPR_OK)
        return st;
    const char *atoms = opt->atoms;
    if (*suffix != '\0') {
        if (atoms != NULL && strcmp(atoms, suffix) != 0)
            return RPR_FAIL(err, RPR_EINVAL,
                            "descriptor '%s' selects atoms '%s' but atoms "
                            "'%s' were given",
                            opt->descriptor, suffix, atoms);
        atoms = suffix;
    }
    if (atoms != NULL && *atoms != '\0') {
        if (!desc->needs_sel && !desc->needs_dihedral)
            return RPR_FAIL(err, RPR_EINVAL,
                            "descriptor %s takes no atom selection (got "
                            "'%s')",
                            desc->name, atoms);
        if (strlen(atoms) >= MODEL_ATOMS_LEN)
            return RPR_FAIL(err, RPR_EINVAL, "atom selection too long");
        st = train_atoms(atoms, natoms, numbers, sel, &nsel, err);
        if (st != RPR_OK)
            return st;
    } else if (desc->needs_sel)
        return RPR_FAIL(err, RPR_EINVAL,
                        "descriptor %s needs atoms (e.g. %sCl or --atoms "
                        "3,4)",
                        desc->name, desc->name);
    for (size_t i = 0; i < n * ncomp; i++)
        if (!isfinite(values[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "label %zu of geometry %zu is %g", i % ncomp + 1,
                            i / ncomp + 1, values[i]);
    if (opt->xyz_eq != NULL)
        for (size_t i = 0; i < 3 * natoms; i++)
            if (!isfinite(opt->xyz_eq[i]))
                return RPR_FAIL(err, RPR_ENONFINITE,
                                "equilibrium geometry: coordinate %zu of "
                                "atom %zu is %g",
                                i % 3 + 1, i / 3 + 1, opt->xyz_eq[i]);
    size_t ieq = 0;
    model_eq_source eq_source = MODEL_EQ_FIRST;
    if (opt->xyz_eq != NULL)
        eq_source = MODEL_EQ_USER;
    else if (energy) {
        for (size_t i = 1; i < n; i++)
            if (values[i] < values[ieq])
                ieq = i;
        eq_source = MODEL_EQ_LOWEST;
    }
    const double *const xyz_eq =
        opt->xyz_eq != NULL ? opt->xyz_eq : xyz + ieq * 3 * natoms;

    /* Scalars of an invariant descriptor are the same in every frame:
     * learn them once, in the lab frame. */
    rpr_frame_kind frame = opt->frame;
    if ((energy || opt->property == RPR_PROPERTY_SCALAR) && !desc->uses_frame)
        frame = RPR_FRAME_NONE;
    if (energy && frame != RPR_FRAME_NONE && grad != NULL)
        return RPR_FAIL(err, RPR_EINVAL,
                        "energy gradients with the frame-dependent "
                        "descriptor %s need frame derivatives (not "
                        "implemented); use RE, ID or CM",
                        desc->name);
    if (energy && frame != RPR_FRAME_NONE)
        return RPR_FAIL(err, RPR_EINVAL,
                        "energy models need an invariant descriptor (RE, ID, "
                        "CM), not %s",
                        desc->name);
    if (opt->frame_options.sign_average) {
        st = train_sign_check(desc, frame, err);
        if (st != RPR_OK)
            return st;
    }

    size_t ngrad = 0;
    if (grad != NULL)
        for (size_t i = 0; i < n; i++)
            ngrad += present == NULL || present[i];

    /* ---- the model block */
    model_shape shape;
    memset(&shape, 0, sizeof shape);
    shape.property = opt->property;
    shape.natoms = natoms;
    shape.nsel = nsel;
    shape.ntrain = n;
    shape.has_q = ngrad > 0;
    const int kabsch = frame == RPR_FRAME_KABSCH || frame == RPR_FRAME_BLEND;
    size_t nref = 0;
    if (kabsch) {
        kw = malloc(natoms * sizeof *kw);
        refs = malloc(RPR_KABSCH_MAX_REFS * 3 * natoms * sizeof *refs);
        if (kw == NULL || refs == NULL) {
            st = RPR_FAIL(err, RPR_ENOMEM, "rpr_train: out of memory");
            goto cleanup;
        }
        frame_weights(opt->frame_options.kabsch_weighting, natoms, numbers,
                      rpr_geoms_masses(geoms), kw);
        train_progress(opt, 0.0, "Kabsch references");
        st = train_choose_refs(opt, geoms, kw, refs, ref_src, ref_idx, &nref,
                               err);
        if (st != RPR_OK)
            goto cleanup;
    }
    if (frame == RPR_FRAME_BLEND)
        shape.sub_frame[shape.nsub++] = RPR_FRAME_PRINCIPAL;
    if (kabsch)
        for (size_t r = 0; r < nref; r++)
            shape.sub_frame[shape.nsub++] = RPR_FRAME_KABSCH;
    else
        shape.sub_frame[shape.nsub++] = frame;
    {
        descriptor_params dp;
        memset(&dp, 0, sizeof dp);
        dp.natoms = natoms;
        dp.numbers = numbers;
        dp.nsel = nsel;
        dp.sel = sel;
        shape.D = desc->length(&dp);
    }
    st = model_new(&shape, &m, err);
    if (st != RPR_OK)
        goto cleanup;
    snprintf(m->writer_version, sizeof m->writer_version, "%s", rpr_version());
    snprintf(m->descriptor, sizeof m->descriptor, "%s", desc->name);
    snprintf(m->atoms, sizeof m->atoms, "%s", atoms != NULL ? atoms : "");
    m->eq_source = eq_source;
    m->kernel = kinfo->type;
    m->matern_n = kinfo->type == KERNEL_MATERN ? opt->matern_n : 0;
    m->frame = frame;
    m->frame_options = opt->frame_options;
    m->prior_mean = opt->prior_mean != 0;
    m->criterion = opt->criterion;
    m->validation_fraction = opt->validation_fraction;
    m->seed = opt->seed;
    m->ngrad = ngrad;
    memcpy(m->numbers, numbers, natoms * sizeof *numbers);
    memcpy(m->masses, rpr_geoms_masses(geoms), natoms * sizeof(double));
    memcpy(m->xyz_eq, xyz_eq, 3 * natoms * sizeof(double));
    for (size_t i = 0; i < nsel; i++)
        m->sel[i] = sel[i];
    if (desc->needs_dihedral) {
        st = train_dihedral(opt->dihedral, sel, nsel, xyz_eq, natoms, dih, err);
        if (st != RPR_OK)
            goto cleanup;
    }
    memcpy(m->dihedral, dih, sizeof dih);
    st = model_derive(m, err); /* weights, angstrom eq geometry, binding */
    if (st != RPR_OK)
        goto cleanup;
    m->data_hash = train_hash(geoms, norig, ncomp, values, grad, present);

    /* ---- features and fits, one sub-model per frame */
    const size_t D = m->D, n3 = 3 * natoms;
    X = malloc(n * D * sizeof *X);
    Y = malloc(n * ncomp * sizeof *Y);
    xf = malloc(n3 * sizeof *xf);
    if (ngrad > 0) {
        J = malloc(n * D * n3 * sizeof *J);
        G = malloc(n * n3 * sizeof *G);
    }
    if (X == NULL || Y == NULL || xf == NULL ||
        (ngrad > 0 && (J == NULL || G == NULL))) {
        st = RPR_FAIL(err, RPR_ENOMEM,
                      "cannot allocate the descriptors of %zu geometries", n);
        goto cleanup;
    }
    for (size_t k = 0; k < m->nsub; k++) {
        model_sub *const s = &m->sub[k];
        if (s->frame != RPR_FRAME_KABSCH)
            continue;
        const size_t r = k - m->kabsch_first;
        s->ref_source = ref_src[r];
        s->ref_index = ref_idx[r];
        st = train_reference(
            m, s, r, refs + r * n3,
            r == 0 && opt->kabsch_refs == NULL && opt->xyz_eq != NULL, err);
        if (st != RPR_OK)
            goto cleanup;
    }
    /* A descriptor that does not see the frame is evaluated once, in the
     * frame of the first sub-model, and shared: bit-equal training
     * descriptors let prediction evaluate it once too (model.h,
     * shared_x). */
    const int share_x = m->nsub > 1 && !desc->uses_frame && !energy;
    for (size_t k = 0; k < m->nsub; k++) {
        model_sub *const s = &m->sub[k];
        const double lo = (double) k / (double) m->nsub;
        const double hi = (double) (k + 1) / (double) m->nsub;
        train_progress(opt, lo, "descriptors");
        const int need_x = !(share_x && k > 0);
        st = train_features(m, s, geoms, values, need_x ? X : NULL, J, Y, xf,
                            err);
        if (st != RPR_OK)
            goto cleanup;
        if (energy) {
            /* Gradients arrive in hartree/bohr; the descriptor's Jacobian
             * is per angstrom, so KREG works in hartree/angstrom. */
            if (G != NULL)
                for (size_t i = 0; i < n * n3; i++)
                    G[i] = grad[i] / RPR_ANGSTROM_PER_BOHR;
            st = train_kreg(opt, m, s, X, J, Y, G, present, norig, err);
        } else {
            st = train_krr(opt, m, s, X, Y, norig, lo, hi, err);
            if (st == RPR_OK)
                train_transpose(n, D, X, s->xt);
            if (st == RPR_OK && model_sub_sign_averaged(m, s))
                st = train_sign_average(opt, m, s, geoms, values, err);
        }
        if (st != RPR_OK)
            goto cleanup;
    }
    st = model_derive(m, err); /* kernel groups, q_j . x_j */
    if (st != RPR_OK)
        goto cleanup;
    train_progress(opt, 1.0, "done");
    *model = m;
    m = NULL;
cleanup:
    rpr_model_free(m);
    free(kw);
    free(refs);
    free(X);
    free(J);
    free(Y);
    free(G);
    free(xf);
    return st;
}

/*
 * The training set augmented by the permutations perm [np][natoms]: the
 * n originals first, then copy k of every geometry at k n + i.  Values are
 * repeated (functions of the physical geometry); gradient rows follow the
 * atoms (row a of copy k is row perm_k(a) of the original).
 */
static rpr_status train_augment(const rpr_geoms *geoms, size_t ncomp,
                                const double *values, const double *grad,
                                const unsigned char *present,
                                const size_t *perm, size_t np, rpr_geoms **aug,
                                double **avalues, double **agrad,
                                unsigned char **apresent, rpr_error *err)
{
    const size_t natoms = rpr_geoms_natoms(geoms), n = rpr_geoms_nframes(geoms);
    const size_t n3 = 3 * natoms, na = n * (1 + np);
    const double *const xyz = rpr_geoms_xyz(geoms);
    double *axyz = NULL;
    rpr_status st = RPR_OK;

    *aug = NULL;
    *avalues = *agrad = NULL;
    *apresent = NULL;
    if (n > SIZE_MAX / (1 + np) / n3 / sizeof(double))
        return RPR_FAIL(err, RPR_ENOMEM,
                        "permutations: %zu x %zu geometries: too many", n,
                        1 + np);
    axyz = malloc(na * n3 * sizeof *axyz);
    *avalues = malloc(na * ncomp * sizeof **avalues);
    if (grad != NULL) {
        *agrad = malloc(na * n3 * sizeof **agrad);
        *apresent = malloc(na);
    }
    if (axyz == NULL || *avalues == NULL ||
        (grad != NULL && (*agrad == NULL || *apresent == NULL))) {
        st = RPR_FAIL(err, RPR_ENOMEM,
                      "permutations: cannot allocate %zu geometries", na);
        goto cleanup;
    }
    for (size_t k = 0; k <= np; k++)
        for (size_t i = 0; i < n; i++) {
            const size_t j = k * n + i;
            for (size_t a = 0; a < natoms; a++) {
                const size_t b = k == 0 ? a : perm[(k - 1) * natoms + a];
                memcpy(axyz + j * n3 + 3 * a, xyz + i * n3 + 3 * b,
                       3 * sizeof *axyz);
                if (grad != NULL)
                    memcpy(*agrad + j * n3 + 3 * a, grad + i * n3 + 3 * b,
                           3 * sizeof **agrad);
            }
            memcpy(*avalues + j * ncomp, values + i * ncomp,
                   ncomp * sizeof **avalues);
            if (grad != NULL)
                (*apresent)[j] = present == NULL || present[i];
        }
    st = rpr_geoms_new(natoms, na, rpr_geoms_numbers(geoms), axyz,
                       rpr_geoms_masses(geoms), aug, err);
cleanup:
    free(axyz);
    if (st != RPR_OK) {
        free(*avalues);
        free(*agrad);
        free(*apresent);
        *avalues = *agrad = NULL;
        *apresent = NULL;
    }
    return st;
}

rpr_status rpr_train(const rpr_train_options *opt, const rpr_geoms *geoms,
                     const double *values, const double *grad,
                     const unsigned char *present, rpr_model **model,
                     rpr_error *err)
{
    if (model == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_train: NULL model pointer");
    *model = NULL;
    if (opt == NULL || geoms == NULL || values == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_train: NULL argument");
    const size_t natoms = rpr_geoms_natoms(geoms);
    const size_t n = rpr_geoms_nframes(geoms);
    const size_t ncomp = rpr_property_ncomp(opt->property);
    size_t *const sel = malloc((natoms > 0 ? natoms : 1) * sizeof *sel);
    size_t *perm = NULL, np = 0;
    rpr_geoms *aug = NULL;
    double *avalues = NULL, *agrad = NULL;
    unsigned char *apresent = NULL;
    rpr_status st = RPR_OK;

    if (sel == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "rpr_train: out of memory");
    const int relabel = opt->relabel != NULL && *opt->relabel != '\0';
    if (relabel) {
        perm = malloc((natoms > 0 ? natoms : 1) * sizeof *perm);
        if (perm == NULL) {
            st = RPR_FAIL(err, RPR_ENOMEM, "rpr_train: out of memory");
            goto cleanup;
        }
        st = train_relabel_check(opt, geoms, grad, perm, err);
        if (st != RPR_OK)
            goto cleanup;
        st = train_model(opt, geoms, n, values, grad, present, model, sel, err);
        if (st == RPR_OK) {
            st = train_relabel_attach(opt, geoms, perm, model, err);
            if (st != RPR_OK) {
                rpr_model_free(*model);
                *model = NULL;
            }
        }
    } else if (opt->permute != NULL && *opt->permute != '\0') {
        if (ncomp == 0) {
            st = RPR_FAIL(err, RPR_EINVAL, "unknown property %d",
                          (int) opt->property);
            goto cleanup;
        }
        perm =
            malloc(MODEL_MAX_PERM * (natoms > 0 ? natoms : 1) * sizeof *perm);
        if (perm == NULL) {
            st = RPR_FAIL(err, RPR_ENOMEM, "rpr_train: out of memory");
            goto cleanup;
        }
        st = train_permute_parse(opt->permute, natoms, rpr_geoms_numbers(geoms),
                                 perm, &np, err);
        if (st == RPR_OK)
            st = train_augment(geoms, ncomp, values, grad, present, perm, np,
                               &aug, &avalues, &agrad, &apresent, err);
        if (st != RPR_OK)
            goto cleanup;
        st =
            train_model(opt, aug, n, avalues, agrad, apresent, model, sel, err);
        if (st == RPR_OK)
            snprintf((*model)->permute, sizeof(*model)->permute, "%s",
                     opt->permute);
    } else
        st = train_model(opt, geoms, n, values, grad, present, model, sel, err);
cleanup:
    free(sel);
    free(perm);
    rpr_geoms_free(aug);
    free(avalues);
    free(agrad);
    free(apresent);
    return st;
}
