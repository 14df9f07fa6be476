/*
 * table.c - numeric tables (one row per geometry) and gradient files in
 * MLatom's layout.  Both are strict: the expected shape is given by the
 * caller, and any deviation is named by file and line.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geom.h"
#include "internal.h"

/* Comment lines start with '#' after optional whitespace. */
static int table_is_comment(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '#';
}

rpr_status rpr_table_read(const char *path, size_t nrows, size_t ncols,
                          double **values, rpr_error *err)
{
    geom_reader r = {0};
    double *v = NULL;
    char **fields = NULL;
    size_t row = 0;
    rpr_status st;
    int got;

    if (path == NULL || values == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_table_read: NULL argument");
    *values = NULL;
    if (nrows == 0 || ncols == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_table_read: %zu rows x %zu columns (need >= 1)",
                        nrows, ncols);
    if (nrows > SIZE_MAX / sizeof *v / ncols || ncols > SIZE_MAX / 2)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_table_read: %zu rows x %zu columns is too large",
                        nrows, ncols);
    st = geom_reader_open(&r, path, err);
    if (st != RPR_OK)
        return st;
    v = malloc(nrows * ncols * sizeof *v);
    /* One slot more than needed, so an extra column is counted, not
     * overwritten. */
    fields = malloc((ncols + 1) * sizeof *fields);
    if (v == NULL || fields == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory for %zu x %zu", path,
                      nrows, ncols);
        goto cleanup;
    }
    for (;;) {
        st = geom_reader_next(&r, &got, err);
        if (st != RPR_OK || !got)
            break;
        if (geom_is_blank(r.line) || table_is_comment(r.line))
            continue;
        if (row == nrows) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: more rows than the %zu expected", path,
                          r.lineno, nrows);
            break;
        }
        const size_t nf = geom_split(r.line, fields, ncols + 1);
        if (nf != ncols) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: expected %zu column%s, got %zu", path,
                          r.lineno, ncols, ncols == 1 ? "" : "s", nf);
            break;
        }
        for (size_t c = 0; c < ncols && st == RPR_OK; c++) {
            char what[32];
            snprintf(what, sizeof what, "column %zu", c + 1);
            st = geom_parse_double(fields[c], path, r.lineno, what,
                                   &v[row * ncols + c], err);
        }
        if (st != RPR_OK)
            break;
        row++;
    }
    if (st == RPR_OK && row < nrows)
        st = RPR_FAIL(err, RPR_EPARSE,
                      "%s:%zu: the file ends after %zu rows, expected %zu",
                      path, r.lineno > 0 ? r.lineno : 1, row, nrows);
    if (st == RPR_OK) {
        *values = v;
        v = NULL;
    }
cleanup:
    free(fields);
    free(v);
    geom_reader_close(&r);
    return st;
}

rpr_status rpr_gradients_read(const char *path, size_t nframes, size_t natoms,
                              double **grad, unsigned char **present,
                              rpr_error *err)
{
    geom_reader r = {0};
    double *g = NULL;
    unsigned char *p = NULL;
    size_t frame = 0;
    rpr_status st;
    int got;

    if (path == NULL || grad == NULL || present == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_gradients_read: NULL argument");
    *grad = NULL;
    *present = NULL;
    if (nframes == 0 || natoms == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_gradients_read: %zu frames x %zu atoms (need "
                        ">= 1)",
                        nframes, natoms);
    if (natoms > SIZE_MAX / 3 / sizeof *g / nframes)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_gradients_read: %zu frames x %zu atoms is too "
                        "large",
                        nframes, natoms);
    st = geom_reader_open(&r, path, err);
    if (st != RPR_OK)
        return st;
    g = calloc(3 * natoms * nframes, sizeof *g);
    p = calloc(nframes, sizeof *p);
    if (g == NULL || p == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    for (;;) {
        st = geom_reader_next(&r, &got, err);
        if (st != RPR_OK || !got)
            break;
        if (geom_is_blank(r.line)) {
            /* Blank lines may only end the file. */
            const size_t blank = r.lineno;
            do
                st = geom_reader_next(&r, &got, err);
            while (st == RPR_OK && got && geom_is_blank(r.line));
            if (st == RPR_OK && got)
                st = RPR_FAIL(err, RPR_EPARSE,
                              "%s:%zu: blank line where the atom count of "
                              "geometry %zu was expected",
                              path, blank, frame + 1);
            break;
        }
        const size_t count_line = r.lineno;
        char *f[2];
        size_t n;
        if (geom_split(r.line, f, 2) != 1 || !geom_parse_size(f[0], &n)) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: expected the atom count of geometry %zu "
                          "(%zu, or 0 for none)",
                          path, count_line, frame + 1, natoms);
            break;
        }
        if (frame == nframes) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: more geometries than the %zu expected", path,
                          count_line, nframes);
            break;
        }
        if (n != natoms && n != 0) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: geometry %zu has %zu atoms, expected %zu "
                          "(or 0 for none)",
                          path, count_line, frame + 1, n, natoms);
            break;
        }
        /* The comment line. */
        st = geom_reader_next(&r, &got, err);
        for (size_t a = 0; st == RPR_OK && got && a < n; a++) {
            st = geom_reader_next(&r, &got, err);
            if (st != RPR_OK || !got)
                break;
            char *gf[4];
            const size_t nf = geom_split(r.line, gf, 4);
            if (nf != 3) {
                st = RPR_FAIL(err, RPR_EPARSE,
                              "%s:%zu: expected 3 columns (gx gy gz) for "
                              "atom %zu of geometry %zu, got %zu",
                              path, r.lineno, a + 1, frame + 1, nf);
                break;
            }
            static const char *const names[3] = {"gx", "gy", "gz"};
            for (size_t c = 0; c < 3 && st == RPR_OK; c++)
                st = geom_parse_double(gf[c], path, r.lineno, names[c],
                                       &g[3 * (natoms * frame + a) + c], err);
        }
        if (st != RPR_OK)
            break;
        if (!got) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: geometry %zu is truncated: the file ends "
                          "inside it",
                          path, count_line, frame + 1);
            break;
        }
        p[frame] = n > 0;
        frame++;
    }
    if (st == RPR_OK && frame < nframes)
        st = RPR_FAIL(err, RPR_EPARSE,
                      "%s:%zu: the file ends after %zu geometries, expected "
                      "%zu",
                      path, r.lineno > 0 ? r.lineno : 1, frame, nframes);
    if (st == RPR_OK) {
        *grad = g;
        *present = p;
        g = NULL;
        p = NULL;
    }
cleanup:
    free(g);
    free(p);
    geom_reader_close(&r);
    return st;
}
