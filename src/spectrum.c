/*
 * spectrum.c - IR and Raman spectra from per-step dipoles and
 * polarizabilities by time correlation functions: reading rpr-nx property
 * files, derivatives, autocorrelations (FFT, with a direct reference
 * path), windows, the DCT-I, correction factors, absolute units, jackknife
 * errors and the text table.  Formulas and sources: docs/spectra.md.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "internal.h"
#include "spectrum.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ------------------------------------------------------------ options */

void rpr_spectrum_options_default(rpr_spectrum_options *opt)
{
    opt->kind = RPR_SPECTRUM_IR;
    opt->dt_rtol = 1e-2;
    opt->jump_factor = 10.0;
    opt->depth = 0;
    opt->depth_max = 4096;
    opt->window = RPR_WINDOW_HANN;
    opt->window_width_fs = 0.0;
    opt->padding = 4;
    opt->fd_correction = 1;
    opt->qcf = RPR_QCF_HARMONIC;
    opt->temperature_k = 300.0;
    opt->laser_cm = 20000.0;
    opt->scale = 1.0;
    opt->max_wavenumber_cm = 4000.0;
    opt->blocks = 8;
}

static int spectrum_kind_valid(rpr_spectrum_kind kind)
{
    return kind == RPR_SPECTRUM_IR || kind == RPR_SPECTRUM_RAMAN;
}

static size_t spectrum_ncomp(rpr_spectrum_kind kind)
{
    return kind == RPR_SPECTRUM_RAMAN ? 6 : 3;
}

static const char *spectrum_kind_name(rpr_spectrum_kind kind)
{
    return kind == RPR_SPECTRUM_RAMAN ? "Raman" : "IR";
}

/* Column names of the property file, in the order of the series layout. */
static const char *const spectrum_ir_names[3] = {"mu_x", "mu_y", "mu_z"};
static const char *const spectrum_raman_names[6] = {
    "alpha_xx", "alpha_xy", "alpha_xz", "alpha_yy", "alpha_yz", "alpha_zz"};
static const char spectrum_time_name[] = "t_fs";

static const char *spectrum_comp_name(rpr_spectrum_kind kind, size_t c)
{
    return kind == RPR_SPECTRUM_RAMAN ? spectrum_raman_names[c]
                                      : spectrum_ir_names[c];
}

/* ------------------------------------------------------------ series */

struct rpr_series {
    rpr_spectrum_kind kind;
    size_t ncomp, n;
    double t0_fs, dt_fs;
    double *values; /* [n][ncomp] */
    size_t *lines;  /* [n], or NULL when not from a file */
    char *path;
};

static char *spectrum_strdup(const char *s)
{
    const size_t len = strlen(s) + 1;
    char *const d = malloc(len);
    if (d != NULL)
        memcpy(d, s, len);
    return d;
}

void rpr_series_free(rpr_series *series)
{
    if (series == NULL)
        return;
    free(series->values);
    free(series->lines);
    free(series->path);
    free(series);
}

rpr_status rpr_series_new(rpr_spectrum_kind kind, size_t nsteps, double t0_fs,
                          double dt_fs, const double *values,
                          rpr_series **series, rpr_error *err)
{
    if (series == NULL || values == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_series_new: NULL argument");
    *series = NULL;
    if (!spectrum_kind_valid(kind))
        return RPR_FAIL(err, RPR_EINVAL, "rpr_series_new: unknown kind %d",
                        (int) kind);
    if (nsteps < 3)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_series_new: %zu steps (need >= 3 for a "
                        "central difference)",
                        nsteps);
    if (!(dt_fs > 0.0) || !isfinite(dt_fs) || !isfinite(t0_fs))
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_series_new: need dt_fs > 0 and finite t0_fs "
                        "(got dt_fs %g, t0_fs %g)",
                        dt_fs, t0_fs);
    const size_t ncomp = spectrum_ncomp(kind);
    if (nsteps > SIZE_MAX / sizeof(double) / ncomp)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_series_new: %zu steps is too "
                        "many",
                        nsteps);
    for (size_t i = 0; i < nsteps * ncomp; i++)
        if (!isfinite(values[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "rpr_series_new: step %zu, %s is %g", i / ncomp,
                            spectrum_comp_name(kind, i % ncomp), values[i]);
    rpr_series *const s = calloc(1, sizeof *s);
    if (s == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "rpr_series_new: out of memory");
    s->kind = kind;
    s->ncomp = ncomp;
    s->n = nsteps;
    s->t0_fs = t0_fs;
    s->dt_fs = dt_fs;
    s->values = malloc(nsteps * ncomp * sizeof *s->values);
    s->path = spectrum_strdup("(memory)");
    if (s->values == NULL || s->path == NULL) {
        rpr_series_free(s);
        return RPR_FAIL(err, RPR_ENOMEM, "rpr_series_new: out of memory");
    }
    memcpy(s->values, values, nsteps * ncomp * sizeof *s->values);
    *series = s;
    return RPR_OK;
}

rpr_spectrum_kind rpr_series_kind(const rpr_series *series)
{
    return series->kind;
}
size_t rpr_series_nsteps(const rpr_series *series)
{
    return series->n;
}
size_t rpr_series_ncomp(const rpr_series *series)
{
    return series->ncomp;
}
double rpr_series_t0_fs(const rpr_series *series)
{
    return series->t0_fs;
}
double rpr_series_dt_fs(const rpr_series *series)
{
    return series->dt_fs;
}
const double *rpr_series_values(const rpr_series *series)
{
    return series->values;
}
const char *rpr_series_path(const rpr_series *series)
{
    return series->path;
}
size_t rpr_series_line(const rpr_series *series, size_t step)
{
    return series->lines != NULL && step < series->n ? series->lines[step] : 0;
}

/* Character classes of the tokenizer: 1 separator, 2 end of string.  A
 * table, because reading 24 trajectories of 10 001 records scans ~60 MB. */
static const unsigned char spectrum_cls[256] = {
    [0] = 2,    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1,
    ['\f'] = 1, ['\r'] = 1, [' '] = 1};

static int spectrum_is_space(char c)
{
    return spectrum_cls[(unsigned char) c] == 1;
}

/* Split s in place at whitespace; store the first max token pointers and
 * return the number of all tokens. */
static size_t spectrum_split(char *s, char **tok, size_t max)
{
    size_t n = 0;
    for (;;) {
        while (spectrum_cls[(unsigned char) *s] == 1)
            s++;
        if (*s == '\0')
            return n;
        if (n < max)
            tok[n] = s;
        n++;
        while (spectrum_cls[(unsigned char) *s] == 0)
            s++;
        if (*s == '\0')
            return n;
        *s++ = '\0';
    }
}

/* Number of whitespace-separated tokens of s (s is not modified). */
static size_t spectrum_count(const char *s)
{
    size_t n = 0;
    for (;;) {
        while (spectrum_is_space(*s))
            s++;
        if (*s == '\0')
            return n;
        n++;
        while (*s != '\0' && !spectrum_is_space(*s))
            s++;
    }
}

static rpr_status spectrum_parse_field(const char *tok, const char *path,
                                       size_t lineno, const char *name,
                                       double *value, rpr_error *err)
{
    char *end;
    const double x = strtod(tok, &end);
    if (end == tok || *end != '\0')
        return RPR_FAIL(err, RPR_EPARSE,
                        "%s:%zu: column '%s': not a number: '%.40s'", path,
                        lineno, name, tok);
    if (!isfinite(x))
        return RPR_FAIL(err, RPR_ENONFINITE,
                        "%s:%zu: column '%s' is %s (no model for this "
                        "property in this trajectory?)",
                        path, lineno, name, tok);
    *value = x;
    return RPR_OK;
}

static int spectrum_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* Median of v[n] (n >= 1); sorts v. */
static double spectrum_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, spectrum_cmp_double);
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Times must be uniform: every step within rtol * dt of the median step
 * dt.  A failing step is named as a duplicate, a decrease, a gap of whole
 * steps or an irregular step, at the line of its later record. */
static rpr_status spectrum_check_times(const char *path, size_t n,
                                       const double *t, const size_t *lines,
                                       double rtol, double *dt_out,
                                       rpr_error *err)
{
    double *const d = malloc((n - 1) * sizeof *d);
    if (d == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
    for (size_t i = 1; i < n; i++)
        d[i - 1] = t[i] - t[i - 1];
    const double dt = spectrum_median(d, n - 1);
    free(d);
    if (!(dt > 0.0))
        return RPR_FAIL(err, RPR_EPARSE,
                        "%s: times do not increase (median step %g fs)", path,
                        dt);
    const double tol = rtol * dt;
    for (size_t i = 1; i < n; i++) {
        const double di = t[i] - t[i - 1];
        if (fabs(di - dt) <= tol)
            continue;
        if (fabs(di) <= tol)
            return RPR_FAIL(err, RPR_EPARSE,
                            "%s:%zu: duplicated time t = %.4f fs (also at "
                            "line %zu)",
                            path, lines[i], t[i], lines[i - 1]);
        if (di < 0.0)
            return RPR_FAIL(err, RPR_EPARSE,
                            "%s:%zu: time goes backwards: t = %.4f fs after "
                            "%.4f fs",
                            path, lines[i], t[i], t[i - 1]);
        const double k = nearbyint(di / dt);
        if (k >= 2.0 && fabs(di - k * dt) <= tol)
            return RPR_FAIL(err, RPR_EPARSE,
                            "%s:%zu: gap: t jumps from %.4f to %.4f fs, %.0f "
                            "missing step%s of %g fs",
                            path, lines[i], t[i - 1], t[i], k - 1.0,
                            k > 2.0 ? "s" : "", dt);
        return RPR_FAIL(err, RPR_EPARSE,
                        "%s:%zu: non-uniform time step: t = %.4f fs follows "
                        "%.4f fs (step %g fs, expected %g fs)",
                        path, lines[i], t[i], t[i - 1], di, dt);
    }
    *dt_out = (t[n - 1] - t[0]) / (double) (n - 1);
    return RPR_OK;
}

/* Parse a '#' line: the format line and the columns line; other comments
 * are skipped.  p points after the '#'. */
static rpr_status spectrum_parse_comment(const char *path, size_t lineno,
                                         char *p, rpr_spectrum_kind kind,
                                         size_t *ncols, size_t *cols_line,
                                         size_t idx[SPECTRUM_MAX_SERIES],
                                         char ***fields, rpr_error *err)
{
    static const char format_tag[] = "rpr-nx properties";
    static const char columns_tag[] = "columns:";
    const size_t ncomp = spectrum_ncomp(kind);

    while (spectrum_is_space(*p))
        p++;
    if (strncmp(p, format_tag, sizeof format_tag - 1) == 0) {
        const char *const f = strstr(p, "format");
        if (f != NULL) {
            char *end;
            const long v = strtol(f + 6, &end, 10);
            /* Columns are found by name, so formats 2 and 3 (frame
             * columns more) read as format 1 does. */
            if (end == f + 6 || v < 1 || v > 3)
                return RPR_FAIL(err, RPR_EPARSE,
                                "%s:%zu: property file format '%.20s' (this "
                                "rpr reads formats 1 to 3)",
                                path, lineno, f + 6);
        }
        return RPR_OK;
    }
    if (strncmp(p, columns_tag, sizeof columns_tag - 1) != 0)
        return RPR_OK;
    if (*ncols != 0)
        return RPR_FAIL(err, RPR_EPARSE,
                        "%s:%zu: a second '# columns:' line (the first is "
                        "line %zu)",
                        path, lineno, *cols_line);
    p += sizeof columns_tag - 1;
    const size_t n = spectrum_count(p);
    if (n == 0)
        return RPR_FAIL(err, RPR_EPARSE, "%s:%zu: '# columns:' names no column",
                        path, lineno);
    /* One slot more than the columns, so that an extra field of a data line
     * is counted, not stored. */
    char **const tok = malloc((n + 1) * sizeof *tok);
    if (tok == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
    spectrum_split(p, tok, n);
    for (size_t c = 0; c <= ncomp; c++) {
        const char *const want =
            c == 0 ? spectrum_time_name : spectrum_comp_name(kind, c - 1);
        size_t found = n;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(tok[j], want) != 0)
                continue;
            if (found != n) {
                free(tok);
                return RPR_FAIL(err, RPR_EPARSE,
                                "%s:%zu: column '%s' is named twice", path,
                                lineno, want);
            }
            found = j;
        }
        if (found == n) {
            free(tok);
            return RPR_FAIL(err, RPR_EPARSE,
                            "%s:%zu: no column '%s' in the '# columns:' line "
                            "(the %s spectrum needs it)",
                            path, lineno, want, spectrum_kind_name(kind));
        }
        idx[c] = found;
    }
    *fields = tok;
    *ncols = n;
    *cols_line = lineno;
    return RPR_OK;
}

rpr_status rpr_series_read(const char *path, const rpr_spectrum_options *opt,
                           rpr_series **series, rpr_error *err)
{
    FILE *f = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    char **fields = NULL;
    size_t ncols = 0, cols_line = 0, lineno = 0, n = 0, cap = 0;
    size_t idx[SPECTRUM_MAX_SERIES];
    double *t = NULL;
    rpr_series *s = NULL;
    rpr_status st = RPR_OK;

    if (path == NULL || opt == NULL || series == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_series_read: NULL argument");
    *series = NULL;
    if (!spectrum_kind_valid(opt->kind))
        return RPR_FAIL(err, RPR_EINVAL, "rpr_series_read: unknown kind %d",
                        (int) opt->kind);
    /* Below 1/2, a duplicate or a gap cannot pass for a regular step. */
    if (!(opt->dt_rtol > 0.0 && opt->dt_rtol < 0.5))
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_series_read: dt_rtol must be in (0, 0.5) (got "
                        "%g)",
                        opt->dt_rtol);
    const rpr_spectrum_kind kind = opt->kind;
    const size_t ncomp = spectrum_ncomp(kind);

    s = calloc(1, sizeof *s);
    if (s == NULL || (s->path = spectrum_strdup(path)) == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    s->kind = kind;
    s->ncomp = ncomp;
    f = fopen(path, "r");
    if (f == NULL) {
        st = RPR_FAIL(err, RPR_EIO, "%s: cannot open: %s", path,
                      strerror(errno));
        goto cleanup;
    }
    while (getline(&line, &line_cap, f) != -1) {
        lineno++;
        char *p = line;
        while (spectrum_is_space(*p))
            p++;
        if (*p == '\0')
            continue;
        if (*p == '#') {
            st = spectrum_parse_comment(path, lineno, p + 1, kind, &ncols,
                                        &cols_line, idx, &fields, err);
            if (st != RPR_OK)
                goto cleanup;
            continue;
        }
        if (ncols == 0) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: data before the '# columns:' line", path,
                          lineno);
            goto cleanup;
        }
        const size_t nf = spectrum_split(p, fields, ncols + 1);
        if (nf != ncols) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: expected %zu fields (as the '# columns:' "
                          "line at line %zu names), got %zu",
                          path, lineno, ncols, cols_line, nf);
            goto cleanup;
        }
        if (n == cap) {
            const size_t newcap = cap == 0 ? 1024 : 2 * cap;
            if (newcap > SIZE_MAX / sizeof(double) / ncomp) {
                st = RPR_FAIL(err, RPR_ENOMEM, "%s: too many records", path);
                goto cleanup;
            }
            double *const v =
                realloc(s->values, newcap * ncomp * sizeof *s->values);
            if (v != NULL)
                s->values = v;
            double *const tt = realloc(t, newcap * sizeof *t);
            if (tt != NULL)
                t = tt;
            size_t *const ll = realloc(s->lines, newcap * sizeof *s->lines);
            if (ll != NULL)
                s->lines = ll;
            if (v == NULL || tt == NULL || ll == NULL) {
                st = RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory at line %zu",
                              path, lineno);
                goto cleanup;
            }
            cap = newcap;
        }
        st = spectrum_parse_field(fields[idx[0]], path, lineno,
                                  spectrum_time_name, &t[n], err);
        for (size_t c = 0; c < ncomp && st == RPR_OK; c++)
            st = spectrum_parse_field(fields[idx[c + 1]], path, lineno,
                                      spectrum_comp_name(kind, c),
                                      &s->values[n * ncomp + c], err);
        if (st != RPR_OK)
            goto cleanup;
        s->lines[n] = lineno;
        n++;
    }
    if (ferror(f)) {
        st =
            RPR_FAIL(err, RPR_EIO, "%s: read error: %s", path, strerror(errno));
        goto cleanup;
    }
    if (ncols == 0) {
        st = RPR_FAIL(err, RPR_EPARSE,
                      "%s: no '# columns:' line (not an rpr-nx property file?)",
                      path);
        goto cleanup;
    }
    if (n < 3) {
        st = RPR_FAIL(err, RPR_EPARSE,
                      "%s: %zu record%s (a central difference needs >= 3)",
                      path, n, n == 1 ? "" : "s");
        goto cleanup;
    }
    st = spectrum_check_times(path, n, t, s->lines, opt->dt_rtol, &s->dt_fs,
                              err);
    if (st != RPR_OK)
        goto cleanup;
    s->n = n;
    s->t0_fs = t[0];
    *series = s;
    s = NULL;
cleanup:
    if (f != NULL)
        fclose(f);
    free(line);
    free(fields);
    free(t);
    rpr_series_free(s);
    return st;
}

/* |v_k - v_(k-1)|: Euclidean for a vector, Frobenius for a symmetric
 * tensor (off-diagonal elements count twice). */
static double spectrum_change(const rpr_series *s, size_t k)
{
    static const double w6[6] = {1, 2, 2, 1, 2, 2};
    const double *const a = s->values + (k - 1) * s->ncomp;
    const double *const b = a + s->ncomp;
    double sum = 0.0;
    for (size_t c = 0; c < s->ncomp; c++) {
        const double d = b[c] - a[c];
        sum += (s->ncomp == 6 ? w6[c] : 1.0) * d * d;
    }
    return sqrt(sum);
}

rpr_status rpr_series_jumps(const rpr_series *series, double factor,
                            size_t *njumps, size_t **steps, double **ratios,
                            rpr_error *err)
{
    if (series == NULL || njumps == NULL || steps == NULL || ratios == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_series_jumps: NULL argument");
    *njumps = 0;
    *steps = NULL;
    *ratios = NULL;
    if (!(factor > 0.0) || !isfinite(factor))
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_series_jumps: factor must be > 0 (got %g)",
                        factor);
    const size_t n = series->n;
    double *const d = malloc((n - 1) * sizeof *d);
    if (d == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "rpr_series_jumps: out of memory");
    for (size_t k = 1; k < n; k++)
        d[k - 1] = spectrum_change(series, k);
    const double median = spectrum_median(d, n - 1);
    const double limit = factor * median;
    size_t count = 0;
    for (size_t k = 1; k < n; k++)
        count += spectrum_change(series, k) > limit;
    free(d);
    if (count == 0)
        return RPR_OK;
    size_t *const st = malloc(count * sizeof *st);
    double *const ra = malloc(count * sizeof *ra);
    if (st == NULL || ra == NULL) {
        free(st);
        free(ra);
        return RPR_FAIL(err, RPR_ENOMEM, "rpr_series_jumps: out of memory");
    }
    size_t j = 0;
    for (size_t k = 1; k < n; k++) {
        const double dk = spectrum_change(series, k);
        if (dk > limit) {
            st[j] = k;
            ra[j] = median > 0.0 ? dk / median : INFINITY;
            j++;
        }
    }
    *njumps = count;
    *steps = st;
    *ratios = ra;
    return RPR_OK;
}

/* ------------------------------------------------------------ numerics */

const double spectrum_aniso_weights[6] = {1.5, 3.0, 3.0, 1.5, 3.0, 1.5};

void spectrum_raman_split(const double a[6], double *abar, double beta[6])
{
    const double m = (a[0] + a[3] + a[5]) / 3.0;
    for (size_t c = 0; c < 6; c++)
        beta[c] = a[c];
    beta[0] -= m;
    beta[3] -= m;
    beta[5] -= m;
    *abar = m;
}

double spectrum_raman_gamma2(const double a[6])
{
    const double dxy = a[0] - a[3], dyz = a[3] - a[5], dzx = a[5] - a[0];
    return 0.5 * (dxy * dxy + dyz * dyz + dzx * dzx) +
           3.0 * (a[1] * a[1] + a[4] * a[4] + a[2] * a[2]);
}

void spectrum_window(rpr_window_kind kind, size_t L, double width_frames,
                     double *w)
{
    assert(L >= 2);
    for (size_t tau = 0; tau < L; tau++) {
        const double x = (double) tau;
        switch (kind) {
        case RPR_WINDOW_HANN: {
            const double c = cos(M_PI * x / (2.0 * (double) (L - 1)));
            w[tau] = c * c;
            break;
        }
        case RPR_WINDOW_GAUSSIAN: {
            const double r = x / width_frames;
            w[tau] = exp(-r * r);
            break;
        }
        case RPR_WINDOW_NONE: w[tau] = 1.0; break;
        }
    }
}

/* x_h with sin(pi x)/(pi x) = 1/2, by bisection: sinc falls monotonically
 * from 1 at 0 to 0 at 1.  The root is near 0.6034. */
static double spectrum_sinc_half(void)
{
    double lo = 0.0, hi = 1.0;
    while (hi - lo > 4.0 * DBL_EPSILON) {
        const double mid = 0.5 * (lo + hi);
        if (sin(M_PI * mid) / (M_PI * mid) > 0.5)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

double spectrum_window_fwhm_cm(rpr_window_kind kind, size_t L, double dt_fs,
                               double width_fs)
{
    const double T = (double) (L - 1) * dt_fs;
    switch (kind) {
    /* The transform of cos^2 on [-T, T] is T [sinc(x) + sinc(x-1)/2 +
     * sinc(x+1)/2] = T sinc(x) / (1 - x^2), x = 2 f T; at x = 1 it is
     * exactly half its peak, so the FWHM is 1/T (Harris's 2.00 bins). */
    case RPR_WINDOW_HANN: return 1.0 / (RPR_C_CM_PER_FS * T);
    /* exp(-(t/a)^2) transforms to sqrt(pi) a exp(-(pi f a)^2). */
    case RPR_WINDOW_GAUSSIAN:
        return 2.0 * sqrt(log(2.0)) / (M_PI * RPR_C_CM_PER_FS * width_fs);
    /* The transform dt [C0 + 2 sum_{tau=1}^{L-1} C_tau cos] gives the
     * last lag full weight, so the box spans (L - 1/2) dt each side; a box
     * on [-T', T'] transforms to 2 T' sinc(2 f T'). */
    case RPR_WINDOW_NONE:
        return spectrum_sinc_half() /
               (RPR_C_CM_PER_FS * ((double) L - 0.5) * dt_fs);
    }
    return NAN;
}

double spectrum_fd_correction(double nu_cm, double dt_fs)
{
    const double x = 2.0 * M_PI * RPR_C_CM_PER_FS * nu_cm * dt_fs;
    if (x == 0.0)
        return 1.0;
    const double r = x / sin(x);
    return r * r;
}

/* (1 - e^-x) / x, 1 at x = 0, without cancellation. */
static double spectrum_inv_harmonic(double x)
{
    return x == 0.0 ? 1.0 : -expm1(-x) / x;
}

double spectrum_qcf(rpr_qcf qcf, double nu_cm, double temperature_k)
{
    const double x = RPR_C2_CM_K * nu_cm / temperature_k;
    switch (qcf) {
    case RPR_QCF_HARMONIC: return 1.0 / spectrum_inv_harmonic(x);
    case RPR_QCF_CLASSICAL: return 1.0;
    case RPR_QCF_STANDARD: return 2.0 / (1.0 + exp(-x));
    case RPR_QCF_SCHOFIELD: return exp(0.5 * x);
    }
    return NAN;
}

double spectrum_qcf_ratio(rpr_qcf qcf, double nu_cm, double temperature_k)
{
    if (qcf == RPR_QCF_HARMONIC)
        return 1.0;
    const double x = RPR_C2_CM_K * nu_cm / temperature_k;
    return spectrum_qcf(qcf, nu_cm, temperature_k) * spectrum_inv_harmonic(x);
}

static const char *spectrum_qcf_name(rpr_qcf qcf)
{
    switch (qcf) {
    case RPR_QCF_HARMONIC: return "harmonic";
    case RPR_QCF_CLASSICAL: return "classical";
    case RPR_QCF_STANDARD: return "standard";
    case RPR_QCF_SCHOFIELD: return "Schofield";
    }
    return "?";
}

static const char *spectrum_window_name(rpr_window_kind kind)
{
    switch (kind) {
    case RPR_WINDOW_HANN: return "hann";
    case RPR_WINDOW_GAUSSIAN: return "gaussian";
    case RPR_WINDOW_NONE: return "none";
    }
    return "?";
}

size_t spectrum_fft_size(size_t n)
{
    for (size_t p = n > 0 ? n : 1;; p++) {
        size_t q = p;
        static const size_t primes[4] = {2, 3, 5, 7};
        for (size_t i = 0; i < 4; i++)
            while (q % primes[i] == 0)
                q /= primes[i];
        if (q == 1)
            return p;
    }
}

void spectrum_acf_direct(size_t m, size_t nser, const double *y,
                         const double *weight, size_t lo, size_t hi, size_t L,
                         double *acc)
{
    for (size_t s = 0; s < nser; s++) {
        const double *const ys = y + s * m;
        for (size_t tau = 0; tau < L && tau < m; tau++) {
            const size_t end = hi < m - tau ? hi : m - tau;
            double sum = 0.0;
            for (size_t t = lo; t < end; t++)
                sum += ys[t] * ys[t + tau];
            acc[tau] += weight[s] * sum;
        }
    }
}

void spectrum_dct_direct(size_t n, const double *x, size_t nout, double *y)
{
    assert(n >= 2);
    const double denom = (double) (n - 1);
    for (size_t k = 0; k < nout; k++) {
        /* cos(pi j k / (n-1)) with j k reduced mod 2 (n-1), so the argument
         * stays below 2 pi and keeps full relative accuracy. */
        const size_t period = 2 * (n - 1);
        double sum = 0.0;
        for (size_t j = 1; j + 1 < n; j++)
            sum += x[j] * cos(M_PI * (double) ((j * k) % period) / denom);
        y[k] = x[0] + (k % 2 == 0 ? x[n - 1] : -x[n - 1]) + 2.0 * sum;
    }
}

/* ------------------------------------------------------------ FFT path */

rpr_status spectrum_dct(size_t n, double *x, double *y, rpr_error *err)
{
    if (n < 2 || n > (size_t) INT_MAX)
        return RPR_FAIL(err, RPR_EINVAL, "spectrum_dct: %zu points", n);
    const fftw_plan p =
        fftw_plan_r2r_1d((int) n, x, y, FFTW_REDFT00, FFTW_ESTIMATE);
    if (p == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "spectrum_dct: FFTW made no plan");
    fftw_execute(p);
    fftw_destroy_plan(p);
    return RPR_OK;
}

/* Plans and buffers of the FFT correlation, made once per computation. */
typedef struct spectrum_fftws {
    size_t P, nc, nser;
    double *r;         /* [P]: r2c input, c2r output */
    fftw_complex *c;   /* [nc]: r2c output */
    fftw_complex *acc; /* [nc]: c2r input (destroyed by it) */
    fftw_complex *Y;   /* [nser][nc]: transforms of the full series */
    fftw_plan fwd, inv;
} spectrum_fftws;

static void spectrum_fftws_free(spectrum_fftws *ws)
{
    if (ws->fwd != NULL)
        fftw_destroy_plan(ws->fwd);
    if (ws->inv != NULL)
        fftw_destroy_plan(ws->inv);
    fftw_free(ws->r);
    fftw_free(ws->c);
    fftw_free(ws->acc);
    fftw_free(ws->Y);
    memset(ws, 0, sizeof *ws);
}

/* ws must be zeroed.  Sized for series of up to m frames and lags < L:
 * zero padding to P >= m + L - 1 keeps the cyclic correlation free of
 * wrap-around for those lags. */
static rpr_status spectrum_fftws_init(spectrum_fftws *ws, size_t m, size_t L,
                                      size_t nser, rpr_error *err)
{
    const size_t P = spectrum_fft_size(m + L - 1);
    if (P > INT_MAX)
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: %zu frames is too long for FFTW", m);
    ws->P = P;
    ws->nc = P / 2 + 1;
    ws->nser = nser;
    ws->r = fftw_malloc(P * sizeof *ws->r);
    ws->c = fftw_malloc(ws->nc * sizeof *ws->c);
    ws->acc = fftw_malloc(ws->nc * sizeof *ws->acc);
    ws->Y = fftw_malloc(nser * ws->nc * sizeof *ws->Y);
    if (ws->r == NULL || ws->c == NULL || ws->acc == NULL || ws->Y == NULL)
        return RPR_FAIL(err, RPR_ENOMEM,
                        "spectrum: out of memory for FFTs "
                        "of %zu points",
                        P);
    ws->fwd = fftw_plan_dft_r2c_1d((int) P, ws->r, ws->c, FFTW_ESTIMATE);
    ws->inv = fftw_plan_dft_c2r_1d((int) P, ws->acc, ws->r, FFTW_ESTIMATE);
    if (ws->fwd == NULL || ws->inv == NULL)
        return RPR_FAIL(err, RPR_ENOMEM,
                        "spectrum: FFTW made no plan for %zu "
                        "points",
                        P);
    return RPR_OK;
}

/* Transform x[0..m-1] restricted to [lo, hi), zero elsewhere, into ws->c. */
static void spectrum_fft_forward(spectrum_fftws *ws, size_t m, const double *x,
                                 size_t lo, size_t hi)
{
    for (size_t t = 0; t < ws->P; t++)
        ws->r[t] = t >= lo && t < hi && t < m ? x[t] : 0.0;
    fftw_execute(ws->fwd);
}

/* Transforms of the full series y [nser][m] into ws->Y. */
static void spectrum_fft_series(spectrum_fftws *ws, size_t m, const double *y)
{
    for (size_t s = 0; s < ws->nser; s++) {
        spectrum_fft_forward(ws, m, y + s * m, 0, m);
        memcpy(ws->Y + s * ws->nc, ws->c, ws->nc * sizeof *ws->c);
    }
}

/* out[ch][tau] += sum over series s of channel ch of weight[s] sum_{t in
 * [lo, hi)} y_s[t] y_s[t + tau], tau < L.  With R = conj(Z) Y, Z the
 * transform of the origins in [lo, hi): sum_t a[t] b[t + tau] has the
 * transform conj(A) B under FFTW's e^{-2 pi i} forward sign.  Needs
 * spectrum_fft_series(ws, m, y) first. */
static void spectrum_fft_unit(spectrum_fftws *ws, size_t m, const double *y,
                              const double *weight, const size_t *chan,
                              size_t nchan, size_t lo, size_t hi, size_t L,
                              double *out)
{
    const size_t nc = ws->nc;
    const int whole = lo == 0 && hi >= m;
    for (size_t ch = 0; ch < nchan; ch++) {
        for (size_t k = 0; k < nc; k++)
            ws->acc[k][0] = ws->acc[k][1] = 0.0;
        for (size_t s = 0; s < ws->nser; s++) {
            if (chan[s] != ch)
                continue;
            /* Not const: fftw_complex is an array type, and a pointer
             * to a const array is not clean ISO C before C2x. */
            fftw_complex *const Y = ws->Y + s * nc;
            const double w = weight[s];
            if (whole) {
                for (size_t k = 0; k < nc; k++)
                    ws->acc[k][0] +=
                        w * (Y[k][0] * Y[k][0] + Y[k][1] * Y[k][1]);
            } else {
                spectrum_fft_forward(ws, m, y + s * m, lo, hi);
                for (size_t k = 0; k < nc; k++) {
                    const double zr = ws->c[k][0], zi = -ws->c[k][1];
                    ws->acc[k][0] += w * (zr * Y[k][0] - zi * Y[k][1]);
                    ws->acc[k][1] += w * (zr * Y[k][1] + zi * Y[k][0]);
                }
            }
        }
        fftw_execute(ws->inv);
        /* FFTW's inverse is unnormalised: divide by P. */
        const double inv_p = 1.0 / (double) ws->P;
        for (size_t tau = 0; tau < L; tau++)
            out[ch * L + tau] += ws->r[tau] * inv_p;
    }
}

rpr_status spectrum_acf_fft(size_t m, size_t nser, const double *y,
                            const double *weight, size_t lo, size_t hi,
                            size_t L, double *acc, rpr_error *err)
{
    spectrum_fftws ws = {0};
    size_t chan[SPECTRUM_MAX_SERIES] = {0};
    if (nser > SPECTRUM_MAX_SERIES || L > m || L == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum_acf_fft: nser %zu, L %zu, "
                        "m %zu",
                        nser, L, m);
    const rpr_status st = spectrum_fftws_init(&ws, m, L, nser, err);
    if (st == RPR_OK) {
        spectrum_fft_series(&ws, m, y);
        spectrum_fft_unit(&ws, m, y, weight, chan, 1, lo, hi, L, acc);
    }
    spectrum_fftws_free(&ws);
    return st;
}

/* ------------------------------------------------------------ spectrum */

typedef struct spectrum_column_info {
    const char *name, *unit, *description;
} spectrum_column_info;

/* Output columns.  The "estimate" columns of a kind come first in the
 * order spectrum_finish fills them; see spectrum_layout below. */
static const spectrum_column_info spectrum_ir_columns[] = {
    {"wavenumber", "cm^-1", "wavenumber nu (scaled axis)"},
    {"ir", "km/mol/cm^-1",
     "absorption A(nu) = K_IR/T F[<mu'(0).mu'(t)>] (x FD x QCF ratio)"},
    {"ir_se", "km/mol/cm^-1", "jackknife standard error of ir"},
    {"ir_integral", "km/mol", "running integral of ir from 0"},
};
static const spectrum_column_info spectrum_raman_columns[] = {
    {"wavenumber", "cm^-1", "wavenumber nu (scaled axis)"},
    {"iso", "bohr^6/fs", "isotropic activity delta^2 = F[<a'(0) a'(t)>]"},
    {"aniso", "bohr^6/fs",
     "anisotropic activity eps^2 = F[(3/2) sum_ij <b'_ij(0) b'_ij(t)>]"},
    {"parallel", "1e-30*m^2/sr/cm^-1", "dsigma/dOmega, X,Y = 45,4 (VV)"},
    {"parallel_se", "1e-30*m^2/sr/cm^-1", "jackknife standard error"},
    {"perpendicular", "1e-30*m^2/sr/cm^-1", "dsigma/dOmega, X,Y = 0,3 (VH)"},
    {"perpendicular_se", "1e-30*m^2/sr/cm^-1", "jackknife standard error"},
    {"unpolarised", "1e-30*m^2/sr/cm^-1",
     "dsigma/dOmega, X,Y = 45,7 (VV + VH)"},
    {"unpolarised_se", "1e-30*m^2/sr/cm^-1", "jackknife standard error"},
    {"unpolarised_integral", "1e-30*m^2/sr",
     "running integral of unpolarised from 0"},
    {"depolarisation", "1", "rho = 3 eps^2 / (45 delta^2 + 4 eps^2)"},
    {"depolarisation_se", "1", "jackknife standard error"},
};

/* Where the estimates, their errors and the integral go, per kind.
 * est_col[e]: column of estimate e; se_of[j]: estimate whose error is
 * column se_col[j]. */
typedef struct spectrum_layout {
    size_t nest, nse;
    size_t est_col[6];
    size_t se_col[4], se_of[4];
    size_t integral_col, integral_of;
} spectrum_layout;

static const spectrum_layout spectrum_ir_layout = {1, 1, {1}, {2}, {0}, 3, 0};
/* Raman estimates: 0 iso, 1 aniso, 2 parallel, 3 perpendicular,
 * 4 unpolarised, 5 depolarisation. */
static const spectrum_layout spectrum_raman_layout = {
    6, 4, {1, 2, 3, 5, 7, 10}, {4, 6, 8, 11}, {2, 3, 4, 5}, 9, 4};

struct rpr_spectrum {
    rpr_spectrum_options opt; /* depth and width resolved */
    rpr_spectrum_info info;
    size_t nbins, ncols;
    const spectrum_column_info *cols;
    double *data; /* [ncols][nbins] */
    size_t npaths;
    char **paths;
};

void rpr_spectrum_free(rpr_spectrum *spec)
{
    if (spec == NULL)
        return;
    for (size_t i = 0; i < spec->npaths; i++)
        free(spec->paths[i]);
    free(spec->paths);
    free(spec->data);
    free(spec);
}

/* Per-bin factors of one computation, and the transform scratch. */
typedef struct spectrum_ctx {
    rpr_spectrum_kind kind;
    size_t L, ndct, nbins;
    double dt_fs;
    const double *w;  /* window [L] */
    double *x, *yk;   /* DCT input [ndct], output [ndct] */
    fftw_plan dct;    /* NULL: direct sum */
    const double *g;  /* FD correction x QCF ratio / scale [nbins] */
    const double *rf; /* Raman K/T (nu0-nu)^4/nu/(1-e^-x) [nbins] */
    double ir_k;      /* K_IR / T */
} spectrum_ctx;

/* F[k] = dt (w0 C0 + 2 sum w_tau C_tau cos(pi tau k / (ndct - 1))),
 * k < nbins: the DCT-I of the windowed, zero-padded one-sided ACF. */
static void spectrum_transform(const spectrum_ctx *cx, const double *C,
                               double *F)
{
    for (size_t tau = 0; tau < cx->ndct; tau++)
        cx->x[tau] = tau < cx->L ? cx->w[tau] * C[tau] : 0.0;
    if (cx->dct != NULL)
        fftw_execute_r2r(cx->dct, cx->x, cx->yk);
    else
        spectrum_dct_direct(cx->ndct, cx->x, cx->nbins, cx->yk);
    for (size_t k = 0; k < cx->nbins; k++)
        F[k] = cx->dt_fs * cx->yk[k];
}

/* From channel transforms F [nchan][nbins] to estimates est [nest][nbins]
 * (spectrum_layout order). */
static void spectrum_finish(const spectrum_ctx *cx, const double *F,
                            double *est)
{
    const size_t nb = cx->nbins;
    if (cx->kind == RPR_SPECTRUM_IR) {
        for (size_t k = 0; k < nb; k++)
            est[k] = cx->ir_k * F[k] * cx->g[k];
        return;
    }
    for (size_t k = 0; k < nb; k++) {
        const double iso = F[k] * cx->g[k], aniso = F[nb + k] * cx->g[k];
        const double r = cx->rf[k] / 45.0;
        const double den = 45.0 * iso + 4.0 * aniso;
        est[0 * nb + k] = iso;
        est[1 * nb + k] = aniso;
        est[2 * nb + k] = r * den;
        est[3 * nb + k] = r * 3.0 * aniso;
        est[4 * nb + k] = r * (45.0 * iso + 7.0 * aniso);
        est[5 * nb + k] = den != 0.0 ? 3.0 * aniso / den : NAN;
    }
}

static rpr_status spectrum_check_options(const rpr_spectrum_options *opt,
                                         rpr_error *err)
{
    if (!spectrum_kind_valid(opt->kind))
        return RPR_FAIL(err, RPR_EINVAL, "spectrum: unknown kind %d",
                        (int) opt->kind);
    if (opt->window != RPR_WINDOW_HANN && opt->window != RPR_WINDOW_GAUSSIAN &&
        opt->window != RPR_WINDOW_NONE)
        return RPR_FAIL(err, RPR_EINVAL, "spectrum: unknown window %d",
                        (int) opt->window);
    if (opt->qcf != RPR_QCF_HARMONIC && opt->qcf != RPR_QCF_CLASSICAL &&
        opt->qcf != RPR_QCF_STANDARD && opt->qcf != RPR_QCF_SCHOFIELD)
        return RPR_FAIL(err, RPR_EINVAL, "spectrum: unknown QCF %d",
                        (int) opt->qcf);
    if (!(opt->dt_rtol > 0.0 && opt->dt_rtol < 0.5))
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: dt_rtol must be in (0, 0.5) (got %g)",
                        opt->dt_rtol);
    if (!(opt->temperature_k > 0.0) || !isfinite(opt->temperature_k))
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: temperature must be > 0 K (got %g)",
                        opt->temperature_k);
    if (!(opt->laser_cm > 0.0) || !isfinite(opt->laser_cm))
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: laser wavenumber must be > 0 (got %g)",
                        opt->laser_cm);
    if (!(opt->scale > 0.0) || !isfinite(opt->scale))
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: scale must be > 0 (got "
                        "%g)",
                        opt->scale);
    if (!(opt->max_wavenumber_cm > 0.0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: max wavenumber must be > 0 (got %g)",
                        opt->max_wavenumber_cm);
    if (opt->padding == 0 || opt->padding > 1024)
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: padding must be 1 .. 1024 (got %zu)",
                        opt->padding);
    if (opt->depth == 0 && opt->depth_max < 2)
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: depth_max must be >= 2 (got %zu)",
                        opt->depth_max);
    if (opt->window == RPR_WINDOW_GAUSSIAN && !isfinite(opt->window_width_fs))
        return RPR_FAIL(err, RPR_EINVAL, "spectrum: window width is %g",
                        opt->window_width_fs);
    return RPR_OK;
}

/* Central-difference derivative of series s into y [nser][m], m = n - 2,
 * in D/fs (IR) or bohr^3/fs (Raman: mean, then traceless part). */
static void spectrum_derivative(const rpr_series *s, double *y)
{
    const size_t m = s->n - 2, nc = s->ncomp;
    const double h = 1.0 / (2.0 * s->dt_fs);
    for (size_t t = 0; t < m; t++) {
        const double *const a = s->values + t * nc;
        const double *const b = s->values + (t + 2) * nc;
        if (s->kind == RPR_SPECTRUM_IR) {
            for (size_t c = 0; c < 3; c++)
                y[c * m + t] = (b[c] - a[c]) * h * RPR_DEBYE_PER_EBOHR;
        } else {
            double d[6], beta[6], abar;
            for (size_t c = 0; c < 6; c++)
                d[c] = (b[c] - a[c]) * h;
            spectrum_raman_split(d, &abar, beta);
            y[t] = abar;
            for (size_t c = 0; c < 6; c++)
                y[(c + 1) * m + t] = beta[c];
        }
    }
}

rpr_status spectrum_compute(const rpr_spectrum_options *opt, size_t nseries,
                            const rpr_series *const *series, int direct,
                            rpr_spectrum **spec, rpr_error *err)
{
    static const double ir_weight[3] = {1.0, 1.0, 1.0};
    static const size_t ir_chan[3] = {0, 0, 0};
    static const size_t raman_chan[7] = {0, 1, 1, 1, 1, 1, 1};
    double raman_weight[7] = {1.0};
    spectrum_fftws ws = {0};
    spectrum_ctx cx = {0};
    rpr_spectrum *sp = NULL;
    double *acc = NULL, *cnt = NULL, *y = NULL, *w = NULL, *g = NULL;
    double *rf = NULL, *C = NULL, *F = NULL, *est = NULL, *mean = NULL;
    double *m2 = NULL, *atot = NULL, *ntot = NULL;
    rpr_status st;

    if (opt == NULL || spec == NULL || (series == NULL && nseries > 0))
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_spectrum_compute: NULL "
                        "argument");
    *spec = NULL;
    st = spectrum_check_options(opt, err);
    if (st != RPR_OK)
        return st;
    if (nseries == 0)
        return RPR_FAIL(err, RPR_EINVAL, "spectrum: no trajectory");
    for (size_t c = 0; c < 6; c++)
        raman_weight[c + 1] = spectrum_aniso_weights[c];

    /* The series: one kind, one time step, long enough. */
    const rpr_spectrum_kind kind = opt->kind;
    size_t n_min = SIZE_MAX, n_max = 0, i_min = 0;
    for (size_t i = 0; i < nseries; i++) {
        const rpr_series *const s = series[i];
        if (s == NULL)
            return RPR_FAIL(err, RPR_EINVAL, "spectrum: series %zu is NULL", i);
        if (s->kind != kind)
            return RPR_FAIL(err, RPR_EINVAL,
                            "%s: holds %s properties, but a %s spectrum was "
                            "asked for",
                            s->path, spectrum_kind_name(s->kind),
                            spectrum_kind_name(kind));
        if (fabs(s->dt_fs - series[0]->dt_fs) > opt->dt_rtol * series[0]->dt_fs)
            return RPR_FAIL(
                err, RPR_EINVAL, "%s: time step %g fs differs from %g fs of %s",
                s->path, s->dt_fs, series[0]->dt_fs, series[0]->path);
        if (s->n < n_min) {
            n_min = s->n;
            i_min = i;
        }
        if (s->n > n_max)
            n_max = s->n;
    }
    const size_t m_min = n_min - 2, m_max = n_max - 2;
    size_t L = opt->depth;
    if (L == 0)
        L = m_min / 2 < opt->depth_max ? m_min / 2 : opt->depth_max;
    if (L < 2)
        return RPR_FAIL(err, RPR_EINVAL,
                        "%s: %zu records are too few for a spectrum "
                        "(depth %zu < 2)",
                        series[i_min]->path, n_min, L);
    if (L > m_min)
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: depth %zu exceeds the %zu derivative "
                        "frames of %s",
                        L, m_min, series[i_min]->path);
    const double dt = series[0]->dt_fs;
    double width_fs = (double) (L - 1) * dt;
    if (opt->window == RPR_WINDOW_GAUSSIAN)
        width_fs = opt->window_width_fs > 0.0 ? opt->window_width_fs
                                              : 0.5 * (double) L * dt;

    /* Jackknife units: trajectories, or blocks of origins of one. */
    const int blocked = nseries == 1 && opt->blocks >= 2;
    const size_t U = nseries > 1 ? nseries : blocked ? opt->blocks : 1;
    if (blocked && m_min < U)
        return RPR_FAIL(err, RPR_EINVAL,
                        "%s: %zu derivative frames cannot make %zu blocks",
                        series[0]->path, m_min, U);
    const size_t nchan = kind == RPR_SPECTRUM_IR ? 1 : 2;
    const size_t nser = kind == RPR_SPECTRUM_IR ? 3 : 7;
    const double *const weight =
        kind == RPR_SPECTRUM_IR ? ir_weight : raman_weight;
    const size_t *const chan = kind == RPR_SPECTRUM_IR ? ir_chan : raman_chan;

    if (L > (SIZE_MAX - 1) / opt->padding ||
        opt->padding * L + 1 > (size_t) INT_MAX)
        return RPR_FAIL(err, RPR_EINVAL,
                        "spectrum: depth %zu x padding %zu "
                        "is too large",
                        L, opt->padding);
    const size_t ndct = opt->padding * L + 1;
    /* Bin k is nu_k = k / (2 (ndct - 1) c dt); the Nyquist bin ndct - 1 is
     * left out. */
    const double spacing =
        1.0 / (2.0 * (double) (ndct - 1) * RPR_C_CM_PER_FS * dt);
    const double kmax = floor(opt->max_wavenumber_cm / (spacing * opt->scale));
    const size_t nbins =
        kmax + 1.0 < (double) (ndct - 1) ? (size_t) kmax + 1 : ndct - 1;
    const spectrum_layout *const lay =
        kind == RPR_SPECTRUM_IR ? &spectrum_ir_layout : &spectrum_raman_layout;

    if (U > SIZE_MAX / sizeof(double) / nchan / L || nser > SIZE_MAX / m_max)
        return RPR_FAIL(err, RPR_EINVAL, "spectrum: problem too large");
    acc = calloc(U * nchan * L, sizeof *acc);
    cnt = calloc(U * L, sizeof *cnt);
    y = malloc(nser * m_max * sizeof *y);
    w = malloc(L * sizeof *w);
    g = malloc(nbins * sizeof *g);
    rf = malloc(nbins * sizeof *rf);
    C = malloc(nchan * L * sizeof *C);
    F = malloc(nchan * nbins * sizeof *F);
    est = malloc(lay->nest * nbins * sizeof *est);
    mean = calloc(lay->nse * nbins, sizeof *mean);
    m2 = calloc(lay->nse * nbins, sizeof *m2);
    cx.x = fftw_malloc(ndct * sizeof *cx.x);
    cx.yk = fftw_malloc(ndct * sizeof *cx.yk);
    atot = malloc(nchan * L * sizeof *atot);
    ntot = malloc(L * sizeof *ntot);
    sp = calloc(1, sizeof *sp);
    if (acc == NULL || cnt == NULL || y == NULL || w == NULL || g == NULL ||
        rf == NULL || C == NULL || F == NULL || est == NULL || mean == NULL ||
        m2 == NULL || cx.x == NULL || cx.yk == NULL || atot == NULL ||
        ntot == NULL || sp == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "spectrum: out of memory");
        goto cleanup;
    }
    if (!direct) {
        st = spectrum_fftws_init(&ws, m_max, L, nser, err);
        if (st != RPR_OK)
            goto cleanup;
        cx.dct = fftw_plan_r2r_1d((int) ndct, cx.x, cx.yk, FFTW_REDFT00,
                                  FFTW_ESTIMATE);
        if (cx.dct == NULL) {
            st = RPR_FAIL(err, RPR_ENOMEM, "spectrum: FFTW made no DCT plan");
            goto cleanup;
        }
    }

    /* Sums of products and their counts, per unit. */
    for (size_t i = 0; i < nseries; i++) {
        const rpr_series *const s = series[i];
        const size_t m = s->n - 2;
        spectrum_derivative(s, y);
        if (!direct)
            spectrum_fft_series(&ws, m, y);
        const size_t nu = blocked ? U : 1;
        for (size_t b = 0; b < nu; b++) {
            const size_t u = blocked ? b : i;
            const size_t lo = b * m / nu, hi = (b + 1) * m / nu;
            double *const a = acc + u * nchan * L;
            if (direct) {
                for (size_t s2 = 0; s2 < nser; s2++)
                    spectrum_acf_direct(m, 1, y + s2 * m, &weight[s2], lo, hi,
                                        L, a + chan[s2] * L);
            } else {
                spectrum_fft_unit(&ws, m, y, weight, chan, nchan, lo, hi, L, a);
            }
            for (size_t tau = 0; tau < L; tau++) {
                const size_t end = hi < m - tau ? hi : m - tau;
                cnt[u * L + tau] = end > lo ? (double) (end - lo) : 0.0;
            }
        }
    }
    /* Totals over units: the pooled estimate. */
    for (size_t j = 0; j < nchan * L; j++) {
        double sum = 0.0;
        for (size_t u = 0; u < U; u++)
            sum += acc[u * nchan * L + j];
        atot[j] = sum;
    }
    for (size_t tau = 0; tau < L; tau++) {
        double sum = 0.0;
        for (size_t u = 0; u < U; u++)
            sum += cnt[u * L + tau];
        ntot[tau] = sum;
    }
    /* Counts only fall with the lag: each leave-one-out estimate covers
     * every lag if it covers the last. */
    for (size_t u = 0; u < U && U >= 2 && st == RPR_OK; u++)
        if (!(ntot[L - 1] - cnt[u * L + L - 1] > 0.0))
            st = RPR_FAIL(err, RPR_EINVAL,
                          "spectrum: depth %zu leaves lag %zu to one block "
                          "alone; lower the depth or the blocks",
                          L, L - 1);

    /* Per-bin factors. */
    spectrum_window(opt->window, L, width_fs / dt, w);
    for (size_t k = 0; k < nbins && st == RPR_OK; k++) {
        const double nu = (double) k * spacing;
        g[k] = (opt->fd_correction ? spectrum_fd_correction(nu, dt) : 1.0) *
               spectrum_qcf_ratio(opt->qcf, nu, opt->temperature_k) /
               opt->scale;
        rf[k] = 0.0;
        if (k > 0 && nu < opt->laser_cm) {
            const double x = RPR_C2_CM_K * nu / opt->temperature_k;
            const double d = opt->laser_cm - nu;
            rf[k] = RPR_RAMAN_CONSTANT / opt->temperature_k * d * d * d * d /
                    nu / (-expm1(-x));
        }
    }
    cx.kind = kind;
    cx.L = L;
    cx.ndct = ndct;
    cx.nbins = nbins;
    cx.dt_fs = dt;
    cx.w = w;
    cx.g = g;
    cx.rf = rf;
    cx.ir_k = RPR_IR_CONSTANT / opt->temperature_k;

    /* The spectrum itself: pooled ACF C = A / N. */
    if (st == RPR_OK) {
        sp->nbins = nbins;
        sp->cols = kind == RPR_SPECTRUM_IR ? spectrum_ir_columns
                                           : spectrum_raman_columns;
        sp->ncols = kind == RPR_SPECTRUM_IR
                        ? sizeof spectrum_ir_columns / sizeof *sp->cols
                        : sizeof spectrum_raman_columns / sizeof *sp->cols;
        sp->data = malloc(sp->ncols * nbins * sizeof *sp->data);
        sp->paths = calloc(nseries, sizeof *sp->paths);
        if (sp->data == NULL || sp->paths == NULL)
            st = RPR_FAIL(err, RPR_ENOMEM, "spectrum: out of memory");
    }
    if (st == RPR_OK) {
        for (size_t ch = 0; ch < nchan; ch++) {
            for (size_t tau = 0; tau < L; tau++)
                C[ch * L + tau] = atot[ch * L + tau] / ntot[tau];
            spectrum_transform(&cx, C + ch * L, F + ch * nbins);
        }
        spectrum_finish(&cx, F, est);
        double *const col0 = sp->data;
        for (size_t k = 0; k < nbins; k++)
            col0[k] = (double) k * spacing * opt->scale;
        for (size_t e = 0; e < lay->nest; e++)
            memcpy(sp->data + lay->est_col[e] * nbins, est + e * nbins,
                   nbins * sizeof *est);
        /* Trapezoid rule on the scaled axis. */
        double *const integ = sp->data + lay->integral_col * nbins;
        const double *const dens = est + lay->integral_of * nbins;
        integ[0] = 0.0;
        for (size_t k = 1; k < nbins; k++)
            integ[k] = integ[k - 1] +
                       0.5 * (dens[k - 1] + dens[k]) * spacing * opt->scale;
    }

    /* Jackknife: leave each unit out, C = (A - A_u) / (N - N_u); the
     * variance (U-1)/U sum (theta_u - mean)^2 by Welford's update. */
    for (size_t u = 0; u < U && U >= 2 && st == RPR_OK; u++) {
        for (size_t ch = 0; ch < nchan; ch++) {
            for (size_t tau = 0; tau < L; tau++)
                C[ch * L + tau] =
                    (atot[ch * L + tau] - acc[(u * nchan + ch) * L + tau]) /
                    (ntot[tau] - cnt[u * L + tau]);
            spectrum_transform(&cx, C + ch * L, F + ch * nbins);
        }
        spectrum_finish(&cx, F, est);
        for (size_t j = 0; j < lay->nse; j++)
            for (size_t k = 0; k < nbins; k++) {
                const double v = est[lay->se_of[j] * nbins + k];
                const double d = v - mean[j * nbins + k];
                mean[j * nbins + k] += d / (double) (u + 1);
                m2[j * nbins + k] += d * (v - mean[j * nbins + k]);
            }
    }
    if (st == RPR_OK)
        for (size_t j = 0; j < lay->nse; j++)
            for (size_t k = 0; k < nbins; k++)
                sp->data[lay->se_col[j] * nbins + k] =
                    U >= 2 ? sqrt((double) (U - 1) / (double) U *
                                  m2[j * nbins + k])
                           : NAN;
    if (st != RPR_OK)
        goto cleanup;

    for (size_t i = 0; i < nseries; i++) {
        sp->paths[i] = spectrum_strdup(series[i]->path);
        if (sp->paths[i] == NULL) {
            st = RPR_FAIL(err, RPR_ENOMEM, "spectrum: out of memory");
            goto cleanup;
        }
        sp->npaths = i + 1;
    }
    sp->opt = *opt;
    sp->opt.depth = L;
    sp->opt.window_width_fs = width_fs;
    sp->info.kind = kind;
    sp->info.nseries = nseries;
    sp->info.nunits = U;
    sp->info.nsteps_min = n_min;
    sp->info.nsteps_max = n_max;
    sp->info.dt_fs = dt;
    sp->info.depth = L;
    sp->info.window_width_fs = width_fs;
    sp->info.resolution_cm =
        spectrum_window_fwhm_cm(opt->window, L, dt, width_fs) * opt->scale;
    sp->info.spacing_cm = spacing * opt->scale;
    sp->info.nyquist_cm = opt->scale / (2.0 * RPR_C_CM_PER_FS * dt);
    *spec = sp;
    sp = NULL;
cleanup:
    spectrum_fftws_free(&ws);
    if (cx.dct != NULL)
        fftw_destroy_plan(cx.dct);
    fftw_free(cx.x);
    fftw_free(cx.yk);
    free(acc);
    free(cnt);
    free(y);
    free(w);
    free(g);
    free(rf);
    free(C);
    free(F);
    free(est);
    free(mean);
    free(m2);
    free(atot);
    free(ntot);
    rpr_spectrum_free(sp);
    return st;
}

rpr_status rpr_spectrum_compute(const rpr_spectrum_options *opt, size_t nseries,
                                const rpr_series *const *series,
                                rpr_spectrum **spec, rpr_error *err)
{
    return spectrum_compute(opt, nseries, series, 0, spec, err);
}

void rpr_spectrum_get_info(const rpr_spectrum *spec, rpr_spectrum_info *info)
{
    *info = spec->info;
}

const rpr_spectrum_options *rpr_spectrum_options_used(const rpr_spectrum *spec)
{
    return &spec->opt;
}

size_t rpr_spectrum_nbins(const rpr_spectrum *spec)
{
    return spec->nbins;
}

size_t rpr_spectrum_ncols(const rpr_spectrum *spec)
{
    return spec->ncols;
}

const double *rpr_spectrum_column(const rpr_spectrum *spec, size_t j,
                                  const char **name, const char **unit)
{
    if (j >= spec->ncols)
        return NULL;
    if (name != NULL)
        *name = spec->cols[j].name;
    if (unit != NULL)
        *unit = spec->cols[j].unit;
    return spec->data + j * spec->nbins;
}

const double *rpr_spectrum_find(const rpr_spectrum *spec, const char *name)
{
    for (size_t j = 0; j < spec->ncols; j++)
        if (strcmp(spec->cols[j].name, name) == 0)
            return spec->data + j * spec->nbins;
    return NULL;
}

rpr_status rpr_spectrum_write(const rpr_spectrum *spec, FILE *stream,
                              rpr_error *err)
{
    const rpr_spectrum_options *const o = &spec->opt;
    const rpr_spectrum_info *const in = &spec->info;
    const int ir = in->kind == RPR_SPECTRUM_IR;

    fprintf(stream, "# rpr %s spectrum, format 1 (rpr %s)\n",
            spectrum_kind_name(in->kind), rpr_version());
    fprintf(stream,
            "# input: %zu trajector%s, %zu to %zu records, dt = %g fs\n",
            in->nseries, in->nseries == 1 ? "y" : "ies", in->nsteps_min,
            in->nsteps_max, in->dt_fs);
    for (size_t i = 0; i < spec->npaths; i++)
        fprintf(stream, "# file: %s\n", spec->paths[i]);
    if (ir)
        fprintf(stream, "# signal: mu (e*bohr, lab frame) -> D; mu' by "
                        "central difference (D/fs); ACF sum_k <mu'_k(0) "
                        "mu'_k(t)>\n");
    else
        fprintf(stream,
                "# signal: alpha (bohr^3, lab frame); alpha' by central "
                "difference (bohr^3/fs); isotropic ACF <a'(0) a'(t)>, "
                "a = tr(alpha)/3; anisotropic ACF (3/2) sum_ij <b'_ij(0) "
                "b'_ij(t)>, b = alpha - a 1\n");
    fprintf(stream, "# ACF: unbiased 1/(N-tau), pooled over trajectories "
                    "with weights N_i - tau\n");
    fprintf(stream, "# depth L = %zu frames (%g fs); window %s", o->depth,
            (double) o->depth * in->dt_fs, spectrum_window_name(o->window));
    if (o->window == RPR_WINDOW_GAUSSIAN)
        fprintf(stream, " exp(-(t/a)^2), a = %g fs", o->window_width_fs);
    else if (o->window == RPR_WINDOW_HANN)
        fprintf(stream, " cos^2(pi tau/(2(L-1)))");
    fprintf(stream, "; line FWHM %.4g cm^-1\n", in->resolution_cm);
    fprintf(stream,
            "# transform: DCT-I of %zu points (padding %zu x L), F(nu) = dt "
            "[w0 C0 + 2 sum w C cos(2 pi c nu t)]; spacing %.6g cm^-1; "
            "Nyquist %.6g cm^-1\n",
            o->padding * o->depth + 1, o->padding, in->spacing_cm,
            in->nyquist_cm);
    fprintf(stream, "# finite-difference correction (w dt / sin w dt)^2: %s\n",
            o->fd_correction ? "on" : "off");
    fprintf(stream,
            "# temperature T = %g K; quantum correction: %s (the derivative "
            "form is classical x harmonic QCF; other QCFs applied as ratios "
            "to it, once)\n",
            o->temperature_k, spectrum_qcf_name(o->qcf));
    fprintf(stream,
            "# scale = %g: wavenumber axis multiplied by it after all "
            "factors were evaluated at the simulated wavenumber; densities "
            "divided by it (band integrals unchanged)\n",
            o->scale);
    if (in->nunits >= 2)
        fprintf(stream, "# error: jackknife standard error over %zu %s\n",
                in->nunits,
                in->nseries > 1 ? "trajectories"
                                : "blocks of time origins of one trajectory");
    else
        fprintf(stream, "# error: none (one trajectory, blocks off): nan\n");
    if (ir) {
        fprintf(stream,
                "# units: A(nu) T = %.10g K cm km/mol x F(nu), F from mu' in "
                "D/fs and t in fs; A in km/mol per cm^-1; integral in "
                "km/mol\n",
                RPR_IR_CONSTANT);
    } else {
        fprintf(stream,
                "# laser nu0 = %g cm^-1; dsigma/dOmega(nu) = K/T (nu0 - "
                "nu)^4 / nu / (1 - exp(-c2 nu/T)) (X delta^2 + Y eps^2)/45, "
                "K = %.10g (1e-30 m^2 cm K), c2 = %.10g cm K, at the simulated "
                "nu; 0 at nu = 0 and nu >= nu0\n",
                o->laser_cm, RPR_RAMAN_CONSTANT, RPR_C2_CM_K);
        fprintf(stream,
                "# convention: parallel (VV) X,Y = 45,4; perpendicular (VH) "
                "0,3; unpolarised (VV+VH) 45,7; depolarisation rho = VH/VV "
                "= 3 eps^2/(45 delta^2 + 4 eps^2) <= 3/4\n");
    }
    fprintf(stream, "# columns:");
    for (size_t j = 0; j < spec->ncols; j++)
        fprintf(stream, " %s", spec->cols[j].name);
    /* One token per column: units contain no blanks. */
    fprintf(stream, "\n# units:");
    for (size_t j = 0; j < spec->ncols; j++)
        fprintf(stream, " %s", spec->cols[j].unit);
    fputc('\n', stream);
    for (size_t j = 0; j < spec->ncols; j++)
        fprintf(stream, "#   %-20s %s\n", spec->cols[j].name,
                spec->cols[j].description);
    for (size_t k = 0; k < spec->nbins; k++) {
        fprintf(stream, "%.4f", spec->data[k]);
        for (size_t j = 1; j < spec->ncols; j++)
            fprintf(stream, " %.8e", spec->data[j * spec->nbins + k]);
        fputc('\n', stream);
    }
    if (ferror(stream))
        return RPR_FAIL(err, RPR_EIO, "spectrum: write error: %s",
                        strerror(errno));
    return RPR_OK;
}
