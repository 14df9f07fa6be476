/*
 * model_xml.c - model files: XML (rpr_model_save, rpr_model_load); the
 * binary cache of rpr_model_load_cached is model_cache.c.
 *
 * XML format: docs/rpr-model.xsd (embedded as model_xsd_text, generated
 * into src/model_xsd.c), validated on every load.  Doubles are written with
 * "%.17g" and read with strtod: 17 significant digits identify every IEEE
 * double, and glibc converts correctly rounded both ways, so the round trip
 * is bit-exact (tests/test_model.c checks it on random bit patterns,
 * subnormals and signed zeros included).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "model.h"
#include "model_cache.h"

/* ------------------------------------------------------------ locale */

/* Numbers in model files always use '.' as the decimal point: printf and
 * strtod follow LC_NUMERIC, which a host program may have set to a locale
 * with a decimal comma.  The C locale is switched on for this thread only
 * (uselocale, POSIX 2008) and restored afterwards. */
typedef struct model_xml_locale {
    locale_t c, old;
} model_xml_locale;

static rpr_status model_xml_locale_enter(model_xml_locale *l, rpr_error *err)
{
    l->c = newlocale(LC_NUMERIC_MASK, "C", (locale_t) 0);
    if (l->c == (locale_t) 0)
        return RPR_FAIL(err, RPR_ENOMEM,
                        "model file: cannot create the C "
                        "locale");
    l->old = uselocale(l->c);
    return RPR_OK;
}

static void model_xml_locale_leave(model_xml_locale *l)
{
    uselocale(l->old);
    freelocale(l->c);
}

/* ------------------------------------------------------------ writing */

/* An attribute value with the five XML specials escaped. */
static void model_xml_put_escaped(FILE *f, const char *s)
{
    for (; *s != '\0'; s++)
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(*s, f);
        }
}

/* rows lines of cols numbers; element (i, j) is a[i * si + j * sj]. */
static void model_xml_put_array(FILE *f, size_t rows, size_t cols,
                                const double *a, size_t si, size_t sj)
{
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++)
            fprintf(f, j == 0 ? "%.17g" : " %.17g", a[i * si + j * sj]);
        fputc('\n', f);
    }
}

static int model_xml_all_finite(size_t n, const double *a)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return 0;
    return 1;
}

static const char *model_xml_eq_name(model_eq_source s)
{
    switch (s) {
    case MODEL_EQ_FIRST: return "first";
    case MODEL_EQ_LOWEST: return "lowest-energy";
    case MODEL_EQ_USER: return "user";
    }
    return "first";
}

static void model_xml_write(const rpr_model *m, FILE *f)
{
    const rpr_frame_options *const o = &m->frame_options;
    const size_t N = m->ntrain, D = m->D;

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<!-- rpr model; format: docs/rpr-model.xsd -->\n");
    /* Format 3 only where its one addition (<relabel>) is used, so that
     * every other model stays readable by an rpr that reads format 2. */
    fprintf(f, "<rpr-model format=\"%d\" writer=\"rpr %s\">\n",
            m->relabel_n > 0 ? MODEL_FORMAT : 2, rpr_version());
    fprintf(f,
            "  <property name=\"%s\" components=\"%zu\" unit=\"%s\" "
            "order=\"",
            rpr_property_name(m->property), m->ncomp,
            rpr_property_unit(m->property));
    for (size_t c = 0; c < m->ncomp; c++)
        fprintf(f, c == 0 ? "%s" : " %s",
                rpr_property_component(m->property, c));
    fprintf(f, "\"/>\n");

    fprintf(f, "  <molecule atoms=\"%zu\" mass-unit=\"amu\">\n", m->natoms);
    for (size_t a = 0; a < m->natoms; a++) {
        const char *const sym = rpr_element_symbol(m->numbers[a]);
        fprintf(f, "    <atom element=\"%s\" Z=\"%d\" mass=\"%.17g\"/>\n",
                sym != NULL ? sym : "X", m->numbers[a], m->masses[a]);
    }
    fprintf(f, "  </molecule>\n");

    fprintf(f,
            "  <descriptor name=\"%s\" length=\"%zu\" "
            "coordinates=\"angstrom\" angstrom-per-bohr=\"%.17g\"",
            m->descriptor, D, RPR_ANGSTROM_PER_BOHR);
    if (m->nsel > 0) {
        fputs(" atoms=\"", f);
        model_xml_put_escaped(f, m->atoms);
        fputs("\" selected=\"", f);
        for (size_t i = 0; i < m->nsel; i++)
            fprintf(f, i == 0 ? "%zu" : " %zu", m->sel[i] + 1);
        fputc('"', f);
    }
    if (m->desc->needs_dihedral)
        fprintf(f, " dihedral=\"%zu %zu %zu %zu\"", m->dihedral[0] + 1,
                m->dihedral[1] + 1, m->dihedral[2] + 1, m->dihedral[3] + 1);
    fprintf(f, ">\n    <equilibrium unit=\"bohr\" source=\"%s\">\n",
            model_xml_eq_name(m->eq_source));
    model_xml_put_array(f, m->natoms, 3, m->xyz_eq, 3, 1);
    fprintf(f, "</equilibrium>\n  </descriptor>\n");

    fprintf(f, "  <kernel name=\"%s\" matern-n=\"%d\"/>\n",
            model_kernel_name(m->kernel), m->matern_n);
    fprintf(f,
            "  <frame kind=\"%s\" weighting=\"%s\" "
            "kabsch-weighting=\"%s\" sign-tol=\"%.17g\" "
            "gap-lo=\"%.17g\" gap-hi=\"%.17g\" sign-lo=\"%.17g\" "
            "sign-hi=\"%.17g\" margin-lo=\"%.17g\" margin-hi=\"%.17g\" "
            "sign-average=\"%d\"/>\n",
            model_frame_name(m->frame), model_weighting_name(o->weighting),
            model_weighting_name(o->kabsch_weighting), o->sign_tol, o->gap_lo,
            o->gap_hi, o->sign_lo, o->sign_hi, o->margin_lo, o->margin_hi,
            o->sign_average != 0);
    fprintf(f,
            "  <training points=\"%zu\" gradients=\"%zu\" "
            "data-hash=\"%016" PRIx64 "\" prior=\"%s\" criterion=\"%s\" "
            "validation-fraction=\"%.17g\" seed=\"%" PRIu64 "\" "
            "length-unit=\"angstrom\"",
            N, m->ngrad, m->data_hash, m->prior_mean ? "mean" : "zero",
            m->criterion == RPR_CRITERION_LOO ? "loo" : "holdout",
            m->validation_fraction, m->seed);
    if (m->permute[0] != '\0') {
        fputs(" permutations=\"", f);
        model_xml_put_escaped(f, m->permute);
        fputc('"', f);
    }
    fputs("/>\n", f);
    if (m->relabel_n > 0) {
        fputs("  <relabel permutation=\"", f);
        model_xml_put_escaped(f, m->relabel);
        fprintf(f,
                "\" scale=\"%.17g\" band=\"%.17g\" unit=\"1/angstrom\" "
                "rows=\"%zu\" columns=\"%zu\">\n",
                m->relabel_scale, m->relabel_band, m->relabel_n,
                m->relabel_npairs);
        model_xml_put_array(f, m->relabel_n, m->relabel_npairs, m->relabel_idt,
                            1, m->relabel_n);
        fputs("</relabel>\n", f);
    }

    for (size_t k = 0; k < m->nsub; k++) {
        const model_sub *const s = &m->sub[k];
        fprintf(f, "  <submodel frame=\"%s\">\n", model_frame_name(s->frame));
        if (s->frame == RPR_FRAME_KABSCH) {
            fprintf(f, "    <reference unit=\"bohr\" margin=\"%.17g\"",
                    s->ref_margin);
            if (s->ref_source == MODEL_REF_TRAINING)
                fprintf(f, " source=\"training\" index=\"%zu\"",
                        s->ref_index + 1);
            else if (s->ref_source == MODEL_REF_GIVEN)
                fprintf(f, " source=\"given\"");
            fprintf(f, ">\n");
            model_xml_put_array(f, m->natoms, 3, s->ref, 3, 1);
            fprintf(f, "</reference>\n");
        }
        for (size_t c = 0; c < m->ncomp; c++) {
            fprintf(f,
                    "    <component name=\"%s\" sigma=\"%.17g\" "
                    "lambda=\"%.17g\"",
                    rpr_property_component(m->property, c), s->sigma[c],
                    s->lambda[c]);
            if (isfinite(s->lambda_grad[c]))
                fprintf(f, " lambda-grad=\"%.17g\"", s->lambda_grad[c]);
            fprintf(f, " prior=\"%.17g\"", s->prior[c]);
            if (isfinite(s->rmse[c]))
                fprintf(f, " validation-rmse=\"%.17g\"", s->rmse[c]);
            if (isfinite(s->mae[c]))
                fprintf(f, " validation-mae=\"%.17g\"", s->mae[c]);
            fprintf(f, "/>\n");
        }
        fprintf(f, "    <descriptors rows=\"%zu\" columns=\"%zu\">\n", N, D);
        model_xml_put_array(f, N, D, s->xt, 1, N);
        fprintf(f, "</descriptors>\n");
        fprintf(f, "    <coefficients rows=\"%zu\" columns=\"%zu\">\n", N,
                m->ncomp);
        model_xml_put_array(f, N, m->ncomp, s->alpha, 1, N);
        fprintf(f, "</coefficients>\n");
        if (s->qt != NULL) {
            fprintf(f,
                    "    <gradient-coefficients rows=\"%zu\" "
                    "columns=\"%zu\">\n",
                    N, D);
            model_xml_put_array(f, N, D, s->qt, 1, N);
            fprintf(f, "</gradient-coefficients>\n");
        }
        fprintf(f, "  </submodel>\n");
    }
    fprintf(f, "</rpr-model>\n");
}

/* Every number the file will hold must be finite: a NaN written today is
 * a model refused tomorrow. */
static rpr_status model_xml_check_finite(const rpr_model *m, rpr_error *err)
{
    const size_t N = m->ntrain, D = m->D;
    if (!model_xml_all_finite(m->natoms, m->masses) ||
        !model_xml_all_finite(3 * m->natoms, m->xyz_eq))
        return RPR_FAIL(err, RPR_ENONFINITE,
                        "model: non-finite mass or equilibrium geometry");
    if (m->relabel_n > 0 &&
        (!isfinite(m->relabel_scale) || !isfinite(m->relabel_band) ||
         !model_xml_all_finite(m->relabel_n * m->relabel_npairs,
                               m->relabel_idt)))
        return RPR_FAIL(err, RPR_ENONFINITE,
                        "model: non-finite number in the relabelling");
    for (size_t k = 0; k < m->nsub; k++) {
        const model_sub *const s = &m->sub[k];
        if (!model_xml_all_finite(m->ncomp, s->sigma) ||
            !model_xml_all_finite(m->ncomp, s->lambda) ||
            !model_xml_all_finite(m->ncomp, s->prior) ||
            !model_xml_all_finite(D * N, s->xt) ||
            !model_xml_all_finite(m->ncomp * N, s->alpha) ||
            (s->qt != NULL && !model_xml_all_finite(D * N, s->qt)) ||
            (s->ref != NULL && !model_xml_all_finite(3 * m->natoms, s->ref)))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "model: non-finite number in sub-model %zu "
                            "(frame %s)",
                            k + 1, model_frame_name(s->frame));
    }
    return RPR_OK;
}

rpr_status rpr_model_save(const rpr_model *model, const char *path,
                          rpr_error *err)
{
    rpr_outfile *out = NULL;

    if (model == NULL || path == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_model_save: NULL argument");
    if (model->desc == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_model_save: unbound model");
    rpr_status st = model_xml_check_finite(model, err);
    if (st != RPR_OK)
        return st;
    st = rpr_outfile_open(path, &out, err);
    if (st != RPR_OK)
        return st;
    model_xml_locale loc = {(locale_t) 0, (locale_t) 0};
    st = model_xml_locale_enter(&loc, err);
    if (st != RPR_OK) {
        rpr_outfile_discard(out);
        return st;
    }
    model_xml_write(model, rpr_outfile_stream(out));
    model_xml_locale_leave(&loc);
    return rpr_outfile_commit(out, err); /* reports write errors, frees */
}

/* ------------------------------------------------------------ parsing */

/* What the reader needs to name the place of a problem. */
typedef struct model_xml_reader {
    const char *path;
    rpr_error *err;
} model_xml_reader;

static long model_xml_line(const xmlNode *node)
{
    return node != NULL ? xmlGetLineNo(node) : 0;
}

static int model_xml_is(const xmlNode *node, const char *name)
{
    return node != NULL && node->type == XML_ELEMENT_NODE &&
           strcmp((const char *) node->name, name) == 0;
}

/* Next element sibling (the schema fixed their order). */
static xmlNode *model_xml_next(xmlNode *node)
{
    while (node != NULL && node->type != XML_ELEMENT_NODE)
        node = node->next;
    return node;
}

static xmlNode *model_xml_first_child(xmlNode *node)
{
    return model_xml_next(node->children);
}

static xmlNode *model_xml_sibling(xmlNode *node)
{
    return model_xml_next(node->next);
}

/* Attribute text into buf; 0 if absent (buf then ""). */
static int model_xml_attr(const xmlNode *node, const char *name, char *buf,
                          size_t len)
{
    xmlChar *v = xmlGetProp(node, (const xmlChar *) name);
    buf[0] = '\0';
    if (v == NULL)
        return 0;
    snprintf(buf, len, "%s", (const char *) v);
    xmlFree(v);
    return 1;
}

/* A weighting name the schema has accepted (mass, charge or unit). */
static rpr_frame_weighting model_xml_weighting(const char *name)
{
    if (strcmp(name, "charge") == 0)
        return RPR_WEIGHT_CHARGE;
    if (strcmp(name, "unit") == 0)
        return RPR_WEIGHT_UNIT;
    return RPR_WEIGHT_MASS;
}

static rpr_status model_xml_fail(const model_xml_reader *r, const xmlNode *node,
                                 rpr_status status, const char *what,
                                 const char *name, const char *text)
{
    return RPR_FAIL(r->err, status, "%s:%ld: <%s> attribute %s: %s '%s'",
                    r->path, model_xml_line(node),
                    node != NULL ? (const char *) node->name : "?", name, what,
                    text);
}

/* A finite double attribute; absent gives NaN unless required. */
static rpr_status model_xml_double(const model_xml_reader *r,
                                   const xmlNode *node, const char *name,
                                   int required, double *out)
{
    char buf[128];
    if (!model_xml_attr(node, name, buf, sizeof buf)) {
        *out = NAN;
        if (required)
            return model_xml_fail(r, node, RPR_EPARSE, "missing", name, "");
        return RPR_OK;
    }
    char *end;
    errno = 0;
    *out = strtod(buf, &end);
    if (end == buf || *end != '\0')
        return model_xml_fail(r, node, RPR_EPARSE, "not a number", name, buf);
    if (!isfinite(*out))
        return model_xml_fail(r, node, RPR_ENONFINITE, "not finite", name, buf);
    return RPR_OK;
}

static rpr_status model_xml_size(const model_xml_reader *r, const xmlNode *node,
                                 const char *name, size_t *out)
{
    char buf[64];
    if (!model_xml_attr(node, name, buf, sizeof buf))
        return model_xml_fail(r, node, RPR_EPARSE, "missing", name, "");
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(buf, &end, 10);
    if (end == buf || *end != '\0' || errno != 0 || v > SIZE_MAX ||
        buf[0] == '-')
        return model_xml_fail(r, node, RPR_EPARSE, "not a count", name, buf);
    *out = (size_t) v;
    return RPR_OK;
}

/* A list of 1-based indices in 1..max; count in *n (at most cap). */
static rpr_status model_xml_indices(const model_xml_reader *r,
                                    const xmlNode *node, const char *name,
                                    size_t max, size_t cap, size_t *idx,
                                    size_t *n)
{
    char buf[1024];
    *n = 0;
    if (!model_xml_attr(node, name, buf, sizeof buf))
        return RPR_OK;
    char *p = buf;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (*p == '\0')
            break;
        char *end;
        errno = 0;
        const unsigned long long v = strtoull(p, &end, 10);
        if (end == p || errno != 0 || v < 1 || v > max || *n >= cap)
            return model_xml_fail(r, node, RPR_EPARSE, "index out of range in",
                                  name, buf);
        idx[(*n)++] = (size_t) v - 1;
        p = end;
    }
    return RPR_OK;
}

/*
 * The numbers of an array element: rows x cols, element (i, j) stored at
 * out[i * si + j * sj].  With check_dims the element's rows and columns
 * attributes must say the same.  Errors name the line of the number.
 */
static rpr_status model_xml_array(const model_xml_reader *r, xmlNode *node,
                                  int check_dims, size_t rows, size_t cols,
                                  double *out, size_t si, size_t sj)
{
    rpr_status st = RPR_OK;
    if (check_dims) {
        size_t fr, fc;
        if ((st = model_xml_size(r, node, "rows", &fr)) != RPR_OK ||
            (st = model_xml_size(r, node, "columns", &fc)) != RPR_OK)
            return st;
        if (fr != rows || fc != cols)
            return RPR_FAIL(r->err, RPR_EPARSE,
                            "%s:%ld: <%s> is %zu x %zu, the model needs "
                            "%zu x %zu",
                            r->path, model_xml_line(node),
                            (const char *) node->name, fr, fc, rows, cols);
    }
    xmlChar *const content = xmlNodeGetContent(node);
    if (content == NULL)
        return RPR_FAIL(r->err, RPR_ENOMEM, "%s:%ld: <%s>: out of memory",
                        r->path, model_xml_line(node),
                        (const char *) node->name);
    const char *p = (const char *) content;
    long line = model_xml_line(node);
    const size_t total = rows * cols;
    size_t k = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            if (*p == '\n')
                line++;
            p++;
        }
        if (*p == '\0')
            break;
        char *end;
        const double v = strtod(p, &end);
        if (end == p || (*end != '\0' && *end != ' ' && *end != '\t' &&
                         *end != '\n' && *end != '\r')) {
            st = RPR_FAIL(r->err, RPR_EPARSE, "%s:%ld: <%s>: not a number",
                          r->path, line, (const char *) node->name);
            goto cleanup;
        }
        if (!isfinite(v)) {
            st = RPR_FAIL(r->err, RPR_ENONFINITE,
                          "%s:%ld: <%s>: non-finite number", r->path, line,
                          (const char *) node->name);
            goto cleanup;
        }
        if (k >= total) {
            st = RPR_FAIL(r->err, RPR_EPARSE,
                          "%s:%ld: <%s>: more than %zu numbers", r->path, line,
                          (const char *) node->name, total);
            goto cleanup;
        }
        out[(k / cols) * si + (k % cols) * sj] = v;
        k++;
        p = end;
    }
    if (k != total)
        st = RPR_FAIL(r->err, RPR_EPARSE,
                      "%s:%ld: <%s>: %zu numbers, expected %zu (%zu x %zu)",
                      r->path, line, (const char *) node->name, k, total, rows,
                      cols);
cleanup:
    xmlFree(content);
    return st;
}

/* First structured error of the schema validator, without printing. */
typedef struct model_xml_first_error {
    int set;
    long line;
    char message[384];
} model_xml_first_error;

#if LIBXML_VERSION >= 21200
#define MODEL_XML_ERROR_CONST const
#else
#define MODEL_XML_ERROR_CONST
#endif

static void model_xml_on_error(void *ctx, MODEL_XML_ERROR_CONST xmlError *e)
{
    model_xml_first_error *const fe = ctx;
    if (fe->set || e == NULL)
        return;
    fe->set = 1;
    fe->line = e->line;
    snprintf(fe->message, sizeof fe->message, "%s",
             e->message != NULL ? e->message : "invalid");
    /* libxml2 messages end in a newline. */
    size_t n = strlen(fe->message);
    while (n > 0 && (fe->message[n - 1] == '\n' || fe->message[n - 1] == ' '))
        fe->message[--n] = '\0';
}

/* Validate doc against the embedded schema. */
static rpr_status model_xml_validate(const char *path, xmlDoc *doc,
                                     rpr_error *err)
{
    model_xml_first_error fe = {0, 0, ""};
    xmlSchemaParserCtxt *pctxt = NULL;
    xmlSchema *schema = NULL;
    xmlSchemaValidCtxt *vctxt = NULL;
    rpr_status st = RPR_OK;

    pctxt = xmlSchemaNewMemParserCtxt(model_xsd_text, (int) model_xsd_len);
    if (pctxt == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: cannot set up the schema", path);
        goto cleanup;
    }
    xmlSchemaSetParserStructuredErrors(pctxt, model_xml_on_error, &fe);
    schema = xmlSchemaParse(pctxt);
    if (schema == NULL) { /* a bug in docs/rpr-model.xsd, never input */
        st = RPR_FAIL(err, RPR_EINVAL, "rpr-model.xsd:%ld: %s", fe.line,
                      fe.message);
        goto cleanup;
    }
    vctxt = xmlSchemaNewValidCtxt(schema);
    if (vctxt == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: cannot set up the validator", path);
        goto cleanup;
    }
    xmlSchemaSetValidStructuredErrors(vctxt, model_xml_on_error, &fe);
    if (xmlSchemaValidateDoc(vctxt, doc) != 0)
        st = RPR_FAIL(err, RPR_EPARSE,
                      "%s:%ld: does not match the model schema: %s", path,
                      fe.line, fe.set ? fe.message : "invalid");
cleanup:
    xmlSchemaFreeValidCtxt(vctxt);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pctxt);
    return st;
}

/* Elements of a validated document, in schema order. */
typedef struct model_xml_parts {
    xmlNode *root, *property, *molecule, *descriptor, *equilibrium, *kernel,
        *frame, *training, *relabel;
    size_t nsub; /* up to MODEL_MAX_SUB + 1: one more is an error */
    xmlNode *sub[MODEL_MAX_SUB + 1];
} model_xml_parts;

static void model_xml_collect(xmlNode *root, model_xml_parts *p)
{
    memset(p, 0, sizeof *p);
    p->root = root;
    p->property = model_xml_first_child(root);
    p->molecule = model_xml_sibling(p->property);
    p->descriptor = model_xml_sibling(p->molecule);
    p->equilibrium = model_xml_first_child(p->descriptor);
    p->kernel = model_xml_sibling(p->descriptor);
    p->frame = model_xml_sibling(p->kernel);
    p->training = model_xml_sibling(p->frame);
    xmlNode *after = model_xml_sibling(p->training);
    if (model_xml_is(after, "relabel")) {
        p->relabel = after;
        after = model_xml_sibling(after);
    }
    for (xmlNode *s = after; s != NULL && p->nsub <= MODEL_MAX_SUB;
         s = model_xml_sibling(s))
        p->sub[p->nsub++] = s;
}

/* The <relabel> element into m (sized for it): one permutation of like
 * atoms, scale and band > 0 and finite, the ID vectors (> 0, finite). */
static rpr_status model_xml_relabel(const model_xml_reader *r, xmlNode *node,
                                    rpr_model *m)
{
    size_t nperm = 0;
    rpr_status st;
    if (!model_xml_attr(node, "permutation", m->relabel, sizeof m->relabel) ||
        strchr(m->relabel, ';') != NULL)
        return model_xml_fail(r, node, RPR_EPARSE, "not one permutation",
                              "permutation", m->relabel);
    st = train_permute_parse(m->relabel, m->natoms, m->numbers, m->relabel_perm,
                             &nperm, r->err);
    if (st == RPR_OK && nperm != 1)
        st = RPR_FAIL(r->err, RPR_EPARSE, "%zu permutations, need one", nperm);
    if (st != RPR_OK) {
        error_prefix(r->err, "%s:%ld", r->path, model_xml_line(node));
        return st;
    }
    if ((st = model_xml_double(r, node, "scale", 1, &m->relabel_scale)) !=
            RPR_OK ||
        (st = model_xml_double(r, node, "band", 1, &m->relabel_band)) != RPR_OK)
        return st;
    if (!(m->relabel_scale > 0.0) || !(m->relabel_band > 0.0))
        return RPR_FAIL(r->err, RPR_EINVAL,
                        "%s:%ld: <relabel> needs scale > 0 and band > 0 (got "
                        "%g, %g)",
                        r->path, model_xml_line(node), m->relabel_scale,
                        m->relabel_band);
    /* ID vectors [rows][pairs] -> relabel_idt [pairs][rows]. */
    st = model_xml_array(r, node, 1, m->relabel_n, m->relabel_npairs,
                         m->relabel_idt, 1, m->relabel_n);
    if (st != RPR_OK)
        return st;
    for (size_t i = 0; i < m->relabel_n * m->relabel_npairs; i++)
        if (!(m->relabel_idt[i] > 0.0))
            return RPR_FAIL(r->err, RPR_EPARSE,
                            "%s:%ld: <relabel>: ID entry %g is not > 0 (1/r)",
                            r->path, model_xml_line(node), m->relabel_idt[i]);
    return RPR_OK;
}

/* Read a validated document into a new model. */
static rpr_status model_xml_read(const model_xml_reader *r, xmlNode *root,
                                 rpr_model **model)
{
    model_xml_parts p;
    model_shape shape;
    rpr_model *m = NULL;
    rpr_status st;
    char buf[MODEL_ATOMS_LEN + 8];
    size_t *sel = NULL, nsel = 0, dih[4], ndih = 0;
    rpr_property property;
    rpr_frame_kind frame;
    const descriptor_info *desc;
    size_t natoms, ncomp, D, ntrain, ngrad;

    *model = NULL;
    model_xml_collect(root, &p);
    memset(&shape, 0, sizeof shape);

    /* Property. */
    model_xml_attr(p.property, "name", buf, sizeof buf);
    if (rpr_property_parse(buf, &property) != RPR_OK)
        return model_xml_fail(r, p.property, RPR_EPARSE, "unknown", "name",
                              buf);
    if ((st = model_xml_size(r, p.property, "components", &ncomp)) != RPR_OK)
        return st;
    if (ncomp != rpr_property_ncomp(property))
        return RPR_FAIL(r->err, RPR_EPARSE,
                        "%s:%ld: %s has %zu components, not %zu", r->path,
                        model_xml_line(p.property), buf,
                        rpr_property_ncomp(property), ncomp);

    /* Molecule: count first, read atoms after allocation. */
    if ((st = model_xml_size(r, p.molecule, "atoms", &natoms)) != RPR_OK)
        return st;
    size_t count = 0;
    for (xmlNode *a = model_xml_first_child(p.molecule); a != NULL;
         a = model_xml_sibling(a))
        count++;
    if (count != natoms)
        return RPR_FAIL(r->err, RPR_EPARSE,
                        "%s:%ld: <molecule atoms=\"%zu\"> lists %zu atoms",
                        r->path, model_xml_line(p.molecule), natoms, count);

    /* Descriptor. */
    model_xml_attr(p.descriptor, "name", buf, sizeof buf);
    desc = descriptor_find(buf);
    if (desc == NULL || strcmp(desc->name, buf) != 0)
        return model_xml_fail(r, p.descriptor, RPR_EPARSE, "unknown descriptor",
                              "name", buf);
    sel = malloc((natoms > 0 ? natoms : 1) * sizeof *sel);
    if (sel == NULL)
        return RPR_FAIL(r->err, RPR_ENOMEM, "%s: out of memory", r->path);
    if ((st = model_xml_size(r, p.descriptor, "length", &D)) != RPR_OK ||
        (st = model_xml_indices(r, p.descriptor, "selected", natoms, natoms,
                                sel, &nsel)) != RPR_OK ||
        (st = model_xml_indices(r, p.descriptor, "dihedral", natoms, 4, dih,
                                &ndih)) != RPR_OK)
        goto cleanup;
    if (desc->needs_sel && nsel == 0) {
        st = RPR_FAIL(r->err, RPR_EPARSE,
                      "%s:%ld: descriptor %s needs selected atoms", r->path,
                      model_xml_line(p.descriptor), desc->name);
        goto cleanup;
    }
    if (desc->needs_dihedral && ndih != 4) {
        st = RPR_FAIL(r->err, RPR_EPARSE,
                      "%s:%ld: descriptor %s needs a dihedral of 4 atoms",
                      r->path, model_xml_line(p.descriptor), desc->name);
        goto cleanup;
    }

    /* Frame and sub-models: kinds must agree. */
    model_xml_attr(p.frame, "kind", buf, sizeof buf);
    if (model_frame_parse(buf, &frame) != RPR_OK) {
        st = model_xml_fail(r, p.frame, RPR_EPARSE, "unknown", "kind", buf);
        goto cleanup;
    }
    {
        /* One sub-model per Kabsch reference (1 .. RPR_KABSCH_MAX_REFS),
         * after the principal one for the blend; one for other frames. */
        const size_t lo = frame == RPR_FRAME_BLEND ? 2 : 1;
        const size_t hi = frame == RPR_FRAME_BLEND    ? 1 + RPR_KABSCH_MAX_REFS
                          : frame == RPR_FRAME_KABSCH ? RPR_KABSCH_MAX_REFS
                                                      : 1;
        if (p.nsub < lo || p.nsub > hi) {
            st = RPR_FAIL(r->err, RPR_EPARSE,
                          "%s:%ld: frame %s needs %zu to %zu <submodel>, "
                          "found %zu%s",
                          r->path, model_xml_line(p.frame), buf, lo, hi,
                          p.nsub > MODEL_MAX_SUB ? MODEL_MAX_SUB + 1 : p.nsub,
                          p.nsub > MODEL_MAX_SUB ? " or more" : "");
            goto cleanup;
        }
    }
    for (size_t k = 0; k < p.nsub; k++) {
        rpr_frame_kind want = frame;
        if (frame == RPR_FRAME_BLEND)
            want = k == 0 ? RPR_FRAME_PRINCIPAL : RPR_FRAME_KABSCH;
        model_xml_attr(p.sub[k], "frame", buf, sizeof buf);
        if (model_frame_parse(buf, &shape.sub_frame[k]) != RPR_OK ||
            shape.sub_frame[k] != want) {
            st = RPR_FAIL(r->err, RPR_EPARSE,
                          "%s:%ld: <submodel frame=\"%s\"> in a model with "
                          "frame %s (expected %s)",
                          r->path, model_xml_line(p.sub[k]), buf,
                          model_frame_name(frame), model_frame_name(want));
            goto cleanup;
        }
    }
    if ((st = model_xml_size(r, p.training, "points", &ntrain)) != RPR_OK ||
        (st = model_xml_size(r, p.training, "gradients", &ngrad)) != RPR_OK)
        goto cleanup;

    /* Children of the first sub-model tell whether q is there. */
    int has_q = 0;
    for (xmlNode *c = model_xml_first_child(p.sub[0]); c != NULL;
         c = model_xml_sibling(c))
        if (model_xml_is(c, "gradient-coefficients"))
            has_q = 1;
    if (has_q && (property != RPR_PROPERTY_ENERGY || p.nsub != 1)) {
        st = RPR_FAIL(r->err, RPR_EPARSE,
                      "%s:%ld: <gradient-coefficients> belong only to "
                      "energy models with one frame",
                      r->path, model_xml_line(p.sub[0]));
        goto cleanup;
    }

    shape.property = property;
    shape.natoms = natoms;
    shape.nsel = nsel;
    shape.D = D;
    shape.ntrain = ntrain;
    shape.nsub = p.nsub;
    shape.has_q = has_q;
    if (p.relabel != NULL) {
        /* One ID vector per training geometry (relabel excludes permute,
         * so every point is an original). */
        if ((st = model_xml_size(r, p.relabel, "rows", &shape.relabel_n)) !=
            RPR_OK)
            goto cleanup;
        if (shape.relabel_n != ntrain) {
            st = RPR_FAIL(r->err, RPR_EPARSE,
                          "%s:%ld: <relabel> has %zu rows, the model %zu "
                          "training points",
                          r->path, model_xml_line(p.relabel), shape.relabel_n,
                          ntrain);
            goto cleanup;
        }
    }
    st = model_new(&shape, &m, r->err);
    if (st != RPR_OK) {
        error_prefix(r->err, "%s:%ld", r->path, model_xml_line(p.training));
        goto cleanup;
    }
    m->ngrad = ngrad;
    m->frame = frame;
    snprintf(m->descriptor, sizeof m->descriptor, "%s", desc->name);
    for (size_t i = 0; i < nsel; i++)
        m->sel[i] = sel[i];
    for (size_t i = 0; i < ndih; i++)
        m->dihedral[i] = dih[i];
    if (!model_xml_attr(p.descriptor, "atoms", m->atoms, sizeof m->atoms))
        m->atoms[0] = '\0';
    model_xml_attr(root, "writer", buf, sizeof buf);
    {
        /* Truncated to the field if longer: informational only. */
        const char *const v = strncmp(buf, "rpr ", 4) == 0 ? buf + 4 : buf;
        const size_t n = strnlen(v, sizeof m->writer_version - 1);
        memcpy(m->writer_version, v, n);
        m->writer_version[n] = '\0';
    }

    /* Atoms. */
    {
        size_t a = 0;
        for (xmlNode *n = model_xml_first_child(p.molecule); n != NULL;
             n = model_xml_sibling(n), a++) {
            size_t z;
            if ((st = model_xml_size(r, n, "Z", &z)) != RPR_OK ||
                (st = model_xml_double(r, n, "mass", 1, &m->masses[a])) !=
                    RPR_OK)
                goto cleanup;
            model_xml_attr(n, "element", buf, sizeof buf);
            if (z > INT_MAX || rpr_element_number(buf) != (int) z) {
                st = RPR_FAIL(r->err, RPR_EPARSE,
                              "%s:%ld: atom %zu: element '%s' is not Z=%zu",
                              r->path, model_xml_line(n), a + 1, buf, z);
                goto cleanup;
            }
            m->numbers[a] = (int) z;
        }
    }

    /* Descriptor length must be what the registry computes. */
    {
        descriptor_params dp;
        m->desc = desc;
        model_descriptor_params(m, &dp);
        const size_t want = desc->length(&dp);
        if (want != D) {
            st = RPR_FAIL(r->err, RPR_EPARSE,
                          "%s:%ld: descriptor %s has length %zu for this "
                          "molecule, the file says %zu",
                          r->path, model_xml_line(p.descriptor), desc->name,
                          want, D);
            goto cleanup;
        }
        double apb;
        if ((st = model_xml_double(r, p.descriptor, "angstrom-per-bohr", 1,
                                   &apb)) != RPR_OK)
            goto cleanup;
        if (apb != RPR_ANGSTROM_PER_BOHR) {
            st = RPR_FAIL(r->err, RPR_EINVAL,
                          "%s:%ld: model made with %.17g angstrom per bohr, "
                          "this rpr uses %.17g",
                          r->path, model_xml_line(p.descriptor), apb,
                          RPR_ANGSTROM_PER_BOHR);
            goto cleanup;
        }
    }
    model_xml_attr(p.equilibrium, "source", buf, sizeof buf);
    m->eq_source = strcmp(buf, "lowest-energy") == 0 ? MODEL_EQ_LOWEST
                   : strcmp(buf, "user") == 0        ? MODEL_EQ_USER
                                                     : MODEL_EQ_FIRST;
    if ((st = model_xml_array(r, p.equilibrium, 0, natoms, 3, m->xyz_eq, 3,
                              1)) != RPR_OK)
        goto cleanup;

    /* Kernel. */
    model_xml_attr(p.kernel, "name", buf, sizeof buf);
    {
        const kernel_info *const ki = kernel_find(buf);
        size_t mn;
        if (ki == NULL) {
            st = model_xml_fail(r, p.kernel, RPR_EPARSE, "unknown kernel",
                                "name", buf);
            goto cleanup;
        }
        m->kernel = ki->type;
        if ((st = model_xml_size(r, p.kernel, "matern-n", &mn)) != RPR_OK)
            goto cleanup;
        if (mn > INT_MAX) {
            st = model_xml_fail(r, p.kernel, RPR_EPARSE, "too large",
                                "matern-n", "");
            goto cleanup;
        }
        m->matern_n = (int) mn;
    }

    /* Frame options. */
    {
        rpr_frame_options *const o = &m->frame_options;
        /* The schema restricts both weightings to mass, charge and unit.
         * Files written before kabsch-weighting existed fitted Kabsch with
         * the one weighting of the file (mass unless trained with
         * --weights charge): read them so. */
        model_xml_attr(p.frame, "weighting", buf, sizeof buf);
        o->weighting = model_xml_weighting(buf);
        o->kabsch_weighting =
            model_xml_attr(p.frame, "kabsch-weighting", buf, sizeof buf)
                ? model_xml_weighting(buf)
                : o->weighting;
        if ((st = model_xml_double(r, p.frame, "sign-tol", 1, &o->sign_tol)) !=
                RPR_OK ||
            (st = model_xml_double(r, p.frame, "gap-lo", 1, &o->gap_lo)) !=
                RPR_OK ||
            (st = model_xml_double(r, p.frame, "gap-hi", 1, &o->gap_hi)) !=
                RPR_OK ||
            (st = model_xml_double(r, p.frame, "sign-lo", 1, &o->sign_lo)) !=
                RPR_OK ||
            (st = model_xml_double(r, p.frame, "sign-hi", 1, &o->sign_hi)) !=
                RPR_OK ||
            (st = model_xml_double(r, p.frame, "margin-lo", 1,
                                   &o->margin_lo)) != RPR_OK ||
            (st = model_xml_double(r, p.frame, "margin-hi", 1,
                                   &o->margin_hi)) != RPR_OK)
            goto cleanup;
        model_xml_attr(p.frame, "sign-average", buf, sizeof buf);
        o->sign_average = strcmp(buf, "1") == 0 || strcmp(buf, "true") == 0;
        if (!(o->gap_lo < o->gap_hi && o->sign_lo < o->sign_hi &&
              o->margin_lo < o->margin_hi)) {
            st =
                RPR_FAIL(r->err, RPR_EINVAL, "%s:%ld: frame ramps need lo < hi",
                         r->path, model_xml_line(p.frame));
            goto cleanup;
        }
    }

    /* Training record. */
    model_xml_attr(p.training, "prior", buf, sizeof buf);
    m->prior_mean = strcmp(buf, "mean") == 0;
    model_xml_attr(p.training, "criterion", buf, sizeof buf);
    m->criterion =
        strcmp(buf, "loo") == 0 ? RPR_CRITERION_LOO : RPR_CRITERION_HOLDOUT;
    if ((st = model_xml_double(r, p.training, "validation-fraction", 1,
                               &m->validation_fraction)) != RPR_OK)
        goto cleanup;
    model_xml_attr(p.training, "seed", buf, sizeof buf);
    m->seed = strtoull(buf, NULL, 10);
    model_xml_attr(p.training, "data-hash", buf, sizeof buf);
    m->data_hash = strtoull(buf, NULL, 16);
    /* Permutations (absent in older files: none).  Checked as rpr_train
     * checks them, so a file names only swaps of like atoms; the training
     * points must then be whole sets of originals and copies. */
    if (model_xml_attr(p.training, "permutations", m->permute,
                       sizeof m->permute)) {
        size_t nperm = 0;
        st = train_permute_parse(m->permute, m->natoms, m->numbers, NULL,
                                 &nperm, r->err);
        if (st == RPR_OK && m->ntrain % (1 + nperm) != 0)
            st = RPR_FAIL(r->err, RPR_EPARSE,
                          "%zu training points are not %zu originals times "
                          "%zu",
                          m->ntrain, m->ntrain / (1 + nperm), 1 + nperm);
        if (st != RPR_OK) {
            error_prefix(r->err, "%s:%ld", r->path, model_xml_line(p.training));
            goto cleanup;
        }
    } else
        m->permute[0] = '\0';
    if (p.relabel != NULL) {
        st = model_xml_relabel(r, p.relabel, m);
        if (st != RPR_OK)
            goto cleanup;
    }

    /* Sub-models. */
    for (size_t k = 0; k < m->nsub; k++) {
        model_sub *const s = &m->sub[k];
        xmlNode *n = model_xml_first_child(p.sub[k]);
        if (model_xml_is(n, "reference")) {
            if (s->frame != RPR_FRAME_KABSCH) {
                st = RPR_FAIL(r->err, RPR_EPARSE,
                              "%s:%ld: <reference> in a %s sub-model", r->path,
                              model_xml_line(n), model_frame_name(s->frame));
                goto cleanup;
            }
            if ((st = model_xml_double(r, n, "margin", 1, &s->ref_margin)) !=
                    RPR_OK ||
                (st = model_xml_array(r, n, 0, natoms, 3, s->ref, 3, 1)) !=
                    RPR_OK)
                goto cleanup;
            if (!(s->ref_margin > 0.0)) {
                st = RPR_FAIL(r->err, RPR_EINVAL,
                              "%s:%ld: reference margin must be > 0 (got %g)",
                              r->path, model_xml_line(n), s->ref_margin);
                goto cleanup;
            }
            /* Where the reference came from; absent in files written
             * before several references existed (rpr info then tells by
             * the equilibrium geometry's source). */
            model_xml_attr(n, "source", buf, sizeof buf);
            if (strcmp(buf, "given") == 0)
                s->ref_source = MODEL_REF_GIVEN;
            else if (strcmp(buf, "training") == 0) {
                size_t index = 0;
                if ((st = model_xml_size(r, n, "index", &index)) != RPR_OK)
                    goto cleanup;
                if (index < 1 || index > ntrain) {
                    st = RPR_FAIL(r->err, RPR_EPARSE,
                                  "%s:%ld: reference index %zu out of 1..%zu",
                                  r->path, model_xml_line(n), index, ntrain);
                    goto cleanup;
                }
                s->ref_source = MODEL_REF_TRAINING;
                s->ref_index = index - 1;
            }
            n = model_xml_sibling(n);
        } else if (s->frame == RPR_FRAME_KABSCH) {
            st = RPR_FAIL(r->err, RPR_EPARSE,
                          "%s:%ld: Kabsch sub-model without <reference>",
                          r->path, model_xml_line(p.sub[k]));
            goto cleanup;
        }
        size_t c = 0;
        for (; model_xml_is(n, "component"); n = model_xml_sibling(n), c++) {
            if (c >= ncomp) {
                st = RPR_FAIL(r->err, RPR_EPARSE,
                              "%s:%ld: more than %zu <component> for %s",
                              r->path, model_xml_line(n), ncomp,
                              rpr_property_name(property));
                goto cleanup;
            }
            model_xml_attr(n, "name", buf, sizeof buf);
            if (strcmp(buf, rpr_property_component(property, c)) != 0) {
                st = RPR_FAIL(r->err, RPR_EPARSE,
                              "%s:%ld: component %zu of %s is '%s', not '%s'",
                              r->path, model_xml_line(n), c + 1,
                              rpr_property_name(property),
                              rpr_property_component(property, c), buf);
                goto cleanup;
            }
            if ((st = model_xml_double(r, n, "sigma", 1, &s->sigma[c])) !=
                    RPR_OK ||
                (st = model_xml_double(r, n, "lambda", 1, &s->lambda[c])) !=
                    RPR_OK ||
                (st = model_xml_double(r, n, "lambda-grad", has_q,
                                       &s->lambda_grad[c])) != RPR_OK ||
                (st = model_xml_double(r, n, "prior", 1, &s->prior[c])) !=
                    RPR_OK ||
                (st = model_xml_double(r, n, "validation-rmse", 0,
                                       &s->rmse[c])) != RPR_OK ||
                (st = model_xml_double(r, n, "validation-mae", 0,
                                       &s->mae[c])) != RPR_OK)
                goto cleanup;
            if (!(s->sigma[c] > 0.0) || !(s->lambda[c] >= 0.0)) {
                st = RPR_FAIL(r->err, RPR_EINVAL,
                              "%s:%ld: need sigma > 0 and lambda >= 0 (got "
                              "%g, %g)",
                              r->path, model_xml_line(n), s->sigma[c],
                              s->lambda[c]);
                goto cleanup;
            }
        }
        if (c != ncomp) {
            st = RPR_FAIL(r->err, RPR_EPARSE,
                          "%s:%ld: %zu <component> for %s, need %zu", r->path,
                          model_xml_line(p.sub[k]), c,
                          rpr_property_name(property), ncomp);
            goto cleanup;
        }
        /* descriptors [N][D] -> xt [D][N]; coefficients [N][ncomp] ->
         * alpha [ncomp][N]; gradient-coefficients [N][D] -> qt [D][N]. */
        if ((st = model_xml_array(r, n, 1, ntrain, D, s->xt, 1, ntrain)) !=
            RPR_OK)
            goto cleanup;
        n = model_xml_sibling(n);
        if ((st = model_xml_array(r, n, 1, ntrain, ncomp, s->alpha, 1,
                                  ntrain)) != RPR_OK)
            goto cleanup;
        n = model_xml_sibling(n);
        if (has_q) {
            if (!model_xml_is(n, "gradient-coefficients")) {
                st = RPR_FAIL(r->err, RPR_EPARSE,
                              "%s:%ld: missing <gradient-coefficients>",
                              r->path, model_xml_line(p.sub[k]));
                goto cleanup;
            }
            if ((st = model_xml_array(r, n, 1, ntrain, D, s->qt, 1, ntrain)) !=
                RPR_OK)
                goto cleanup;
        }
    }
    m->property_line = model_xml_line(p.property);
    st = model_derive(m, r->err);
    if (st != RPR_OK) {
        error_prefix(r->err, "%s", r->path);
        goto cleanup;
    }
    *model = m;
    m = NULL;
cleanup:
    rpr_model_free(m);
    free(sel);
    return st;
}

/* Parse text (NUL-terminated, len bytes) of the file path into a model. */
static rpr_status model_xml_parse(const char *path, const char *text,
                                  size_t len, rpr_model **model, rpr_error *err)
{
    xmlParserCtxt *ctxt = NULL;
    xmlDoc *doc = NULL;
    rpr_status st = RPR_OK;
    const model_xml_reader r = {path, err};

    *model = NULL;
    if (len > INT_MAX)
        return RPR_FAIL(err, RPR_EINVAL, "%s: file too large (%zu bytes)", path,
                        len);
    xmlInitParser();
    ctxt = xmlNewParserCtxt();
    if (ctxt == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "%s: cannot set up the parser", path);
    doc = xmlCtxtReadMemory(ctxt, text, (int) len, path, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES);
    if (doc == NULL) {
        model_xml_first_error fe = {0, 0, ""};
        const xmlError *const e = xmlCtxtGetLastError(ctxt);
        if (e != NULL)
            model_xml_on_error(&fe, (MODEL_XML_ERROR_CONST xmlError *) e);
        st = RPR_FAIL(err, RPR_EPARSE, "%s:%ld: %s", path, fe.line,
                      fe.set ? fe.message : "not well-formed XML");
        goto cleanup;
    }
    xmlNode *const root = xmlDocGetRootElement(doc);
    if (root == NULL || !model_xml_is(root, "rpr-model")) {
        st = RPR_FAIL(err, RPR_EPARSE,
                      "%s:%ld: not an rpr model (root element <%s>)", path,
                      model_xml_line(root),
                      root != NULL ? (const char *) root->name : "");
        goto cleanup;
    }
    /* The format number decides before the schema: a newer file may well
     * not validate against this schema, and "upgrade rpr" is the useful
     * message then. */
    {
        char buf[64];
        if (model_xml_attr(root, "format", buf, sizeof buf)) {
            char *end;
            const long v = strtol(buf, &end, 10);
            if (end != buf && *end == '\0' && v > MODEL_FORMAT) {
                st = RPR_FAIL(err, RPR_EPARSE,
                              "%s:%ld: model format %ld is newer than this "
                              "rpr %s reads (up to %d); upgrade rpr",
                              path, model_xml_line(root), v, rpr_version(),
                              MODEL_FORMAT);
                goto cleanup;
            }
        }
    }
    st = model_xml_validate(path, doc, err);
    if (st != RPR_OK)
        goto cleanup;
    model_xml_locale loc = {(locale_t) 0, (locale_t) 0};
    st = model_xml_locale_enter(&loc, err);
    if (st != RPR_OK)
        goto cleanup;
    st = model_xml_read(&r, root, model);
    model_xml_locale_leave(&loc);
cleanup:
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return st;
}

rpr_status rpr_model_load(const char *path, rpr_model **model, rpr_error *err)
{
    char *text = NULL;
    size_t len = 0;

    if (model == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_model_load: NULL argument");
    *model = NULL;
    if (path == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_model_load: NULL path");
    rpr_status st = model_cache_slurp(path, &text, &len, NULL, err);
    if (st == RPR_OK)
        st = model_xml_parse(path, text, len, model, err);
    free(text);
    return st;
}

rpr_status rpr_model_require(const rpr_model *model, rpr_property property,
                             const char *path, rpr_error *err)
{
    if (model == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_model_require: NULL model");
    if (model->property == property)
        return RPR_OK;
    const char *const got = rpr_property_name(model->property);
    const char *const want = rpr_property_name(property);
    return RPR_FAIL(err, RPR_EINVAL, "%s:%ld: the model is for %s, not %s",
                    path != NULL ? path : "model", model->property_line,
                    got != NULL ? got : "?", want != NULL ? want : "?");
}

/* ------------------------------------------------------------ cache */

/* The cache itself is model_cache.c, which gets the parser from here. */
rpr_status rpr_model_load_cached(const char *xml_path, const char *cache_path,
                                 rpr_model **model, rpr_error *err)
{
    return model_cache_load(xml_path, cache_path, model_xml_parse, model, err);
}
