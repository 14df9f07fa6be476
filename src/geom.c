/*
 * geom.c - sets of geometries: multi-frame XYZ and Newton-X geom readers,
 * construction from arrays, and an XYZ frame writer.
 *
 * Readers are strict so that a damaged file is named, not half-read: every
 * line must be exactly what the format says, and the message gives the
 * file and the 1-based line of the problem.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geom.h"
#include "internal.h"

struct rpr_geoms {
    size_t natoms;
    size_t nframes;
    int *numbers;   /* [natoms] */
    double *xyz;    /* bohr, [nframes][natoms][3] */
    double *masses; /* amu, [natoms] */
    size_t *lines;  /* [nframes], first line of each frame; 0 if not a file */
};

/* ------------------------------------------------------------ text input */

rpr_status geom_reader_open(geom_reader *r, const char *path, rpr_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->stream = fopen(path, "r");
    if (r->stream == NULL)
        return RPR_FAIL(err, RPR_EIO, "%s: cannot open: %s", path,
                        strerror(errno));
    return RPR_OK;
}

void geom_reader_close(geom_reader *r)
{
    if (r->stream != NULL)
        fclose(r->stream);
    free(r->line);
    r->stream = NULL;
    r->line = NULL;
    r->cap = 0;
}

rpr_status geom_reader_next(geom_reader *r, int *got, rpr_error *err)
{
    *got = 0;
    errno = 0;
    const ssize_t len = getline(&r->line, &r->cap, r->stream);
    if (len < 0) {
        if (ferror(r->stream))
            return RPR_FAIL(err, errno == ENOMEM ? RPR_ENOMEM : RPR_EIO,
                            "%s:%zu: read error: %s", r->path, r->lineno + 1,
                            strerror(errno));
        return RPR_OK;
    }
    r->lineno++;
    size_t n = (size_t) len;
    /* A NUL byte means a binary file or UTF-16 text, which the field
     * splitter would silently cut short. */
    if (strlen(r->line) != n)
        return RPR_FAIL(err, RPR_EPARSE, "%s:%zu: NUL byte in a text line",
                        r->path, r->lineno);
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
        r->line[--n] = '\0';
    *got = 1;
    return RPR_OK;
}

static int geom_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int geom_is_blank(const char *s)
{
    while (geom_is_space(*s))
        s++;
    return *s == '\0';
}

size_t geom_split(char *s, char **fields, size_t max)
{
    size_t n = 0;
    for (;;) {
        while (geom_is_space(*s))
            s++;
        if (*s == '\0')
            return n;
        if (n < max)
            fields[n] = s;
        n++;
        while (*s != '\0' && !geom_is_space(*s))
            s++;
        if (*s != '\0')
            *s++ = '\0';
    }
}

rpr_status geom_parse_double(const char *field, const char *path, size_t lineno,
                             const char *what, double *x, rpr_error *err)
{
    char *end;
    const double v = strtod(field, &end);
    if (end == field || *end != '\0')
        return RPR_FAIL(err, RPR_EPARSE, "%s:%zu: %s '%s' is not a number",
                        path, lineno, what, field);
    /* strtod turns an overflow such as 1e999 into Inf. */
    if (!isfinite(v))
        return RPR_FAIL(err, RPR_ENONFINITE, "%s:%zu: %s '%s' is not finite",
                        path, lineno, what, field);
    *x = v;
    return RPR_OK;
}

int geom_parse_size(const char *field, size_t *n)
{
    size_t v = 0;
    if (*field == '\0')
        return 0;
    for (const char *p = field; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        const size_t d = (size_t) (*p - '0');
        if (v > (SIZE_MAX - d) / 10)
            return 0;
        v = 10 * v + d;
    }
    *n = v;
    return 1;
}

/* Element symbol ("Cl", "cl") or atomic number ("17"); 0 if neither. */
static int geom_parse_element(const char *field)
{
    size_t z;
    if (geom_parse_size(field, &z))
        return rpr_element_symbol(z <= 1000 ? (int) z : 0) != NULL ? (int) z
                                                                   : 0;
    return rpr_element_number(field);
}

/* ------------------------------------------------------------ growth */

/* Make room for need elements of size sz in *p (capacity *cap). */
static rpr_status geom_reserve(void **p, size_t *cap, size_t need, size_t sz,
                               rpr_error *err)
{
    if (need <= *cap)
        return RPR_OK;
    size_t c = *cap > 0 ? *cap : 64;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : 2 * c;
    if (c > SIZE_MAX / sz)
        return RPR_FAIL(err, RPR_ENOMEM, "geometries too large (%zu numbers)",
                        need);
    void *q = realloc(*p, c * sz);
    if (q == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "out of memory for %zu numbers", need);
    *p = q;
    *cap = c;
    return RPR_OK;
}

static rpr_geoms *geom_alloc(size_t natoms, size_t nframes)
{
    rpr_geoms *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->natoms = natoms;
    g->nframes = nframes;
    g->numbers = malloc(natoms * sizeof *g->numbers);
    g->masses = malloc(natoms * sizeof *g->masses);
    g->lines = calloc(nframes, sizeof *g->lines);
    g->xyz = malloc(3 * natoms * nframes * sizeof *g->xyz);
    if (g->numbers == NULL || g->masses == NULL || g->lines == NULL ||
        g->xyz == NULL) {
        rpr_geoms_free(g);
        return NULL;
    }
    return g;
}

/* natoms * nframes * 3 doubles fit in size_t. */
static int geom_size_ok(size_t natoms, size_t nframes)
{
    return natoms <= SIZE_MAX / 3 / sizeof(double) &&
           (nframes == 0 || 3 * natoms <= SIZE_MAX / sizeof(double) / nframes);
}

/* ------------------------------------------------------------ XYZ */

rpr_status rpr_geoms_read_xyz(const char *path, rpr_geoms **geoms,
                              rpr_error *err)
{
    geom_reader r = {0};
    int *numbers = NULL;
    double *xyz = NULL;
    size_t *lines = NULL;
    size_t numbers_cap = 0, xyz_cap = 0, lines_cap = 0;
    size_t natoms = 0, nframes = 0, first_count_line = 0;
    rpr_geoms *g = NULL;
    rpr_status st = RPR_OK;
    int got;

    if (geoms == NULL || path == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_geoms_read_xyz: NULL argument");
    *geoms = NULL;
    st = geom_reader_open(&r, path, err);
    if (st != RPR_OK)
        return st;

    for (;;) {
        st = geom_reader_next(&r, &got, err);
        if (st != RPR_OK)
            goto cleanup;
        if (!got)
            break;
        if (geom_is_blank(r.line)) {
            /* Blank lines may only end the file. */
            const size_t blank = r.lineno;
            do {
                st = geom_reader_next(&r, &got, err);
                if (st != RPR_OK)
                    goto cleanup;
            } while (got && geom_is_blank(r.line));
            if (got) {
                st = RPR_FAIL(err, RPR_EPARSE,
                              "%s:%zu: blank line where a frame's atom count "
                              "was expected",
                              path, blank);
                goto cleanup;
            }
            break;
        }

        /* Count line: one positive integer. */
        const size_t count_line = r.lineno;
        char *f[2];
        size_t n;
        if (geom_split(r.line, f, 2) != 1 || !geom_parse_size(f[0], &n) ||
            n == 0) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: expected the atom count of frame %zu (a "
                          "positive integer)",
                          path, count_line, nframes + 1);
            goto cleanup;
        }
        if (nframes == 0) {
            natoms = n;
            first_count_line = count_line;
        } else if (n != natoms) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: frame %zu has %zu atoms, frame 1 (line "
                          "%zu) has %zu",
                          path, count_line, nframes + 1, n, first_count_line,
                          natoms);
            goto cleanup;
        }
        if (!geom_size_ok(n, nframes + 1)) {
            st = RPR_FAIL(err, RPR_EPARSE, "%s:%zu: atom count %zu too large",
                          path, count_line, n);
            goto cleanup;
        }
        st = geom_reserve((void **) &lines, &lines_cap, nframes + 1,
                          sizeof *lines, err);
        if (st != RPR_OK)
            goto cleanup;
        lines[nframes] = count_line;

        /* Comment line: anything. */
        st = geom_reader_next(&r, &got, err);
        if (st != RPR_OK)
            goto cleanup;
        for (size_t a = 0; a < n; a++) {
            if (got)
                st = geom_reader_next(&r, &got, err);
            if (st != RPR_OK)
                goto cleanup;
            if (!got) {
                st = RPR_FAIL(err, RPR_EPARSE,
                              "%s:%zu: frame %zu is truncated: %zu atoms "
                              "announced, the file ends after %zu",
                              path, count_line, nframes + 1, n, a);
                goto cleanup;
            }
            char *af[4];
            const size_t nf = geom_split(r.line, af, 4);
            size_t next;
            if (nf == 1 && geom_parse_size(af[0], &next)) {
                st = RPR_FAIL(err, RPR_EPARSE,
                              "%s:%zu: frame %zu is truncated: %zu atoms "
                              "announced on line %zu, a count line follows "
                              "after %zu",
                              path, r.lineno, nframes + 1, n, count_line, a);
                goto cleanup;
            }
            if (nf != 4) {
                st = RPR_FAIL(err, RPR_EPARSE,
                              "%s:%zu: expected 4 fields (element x y z) for "
                              "atom %zu of frame %zu, got %zu",
                              path, r.lineno, a + 1, nframes + 1, nf);
                goto cleanup;
            }
            const int z = geom_parse_element(af[0]);
            if (z == 0) {
                st = RPR_FAIL(err, RPR_EPARSE, "%s:%zu: unknown element '%s'",
                              path, r.lineno, af[0]);
                goto cleanup;
            }
            if (nframes == 0) {
                st = geom_reserve((void **) &numbers, &numbers_cap, a + 1,
                                  sizeof *numbers, err);
                if (st != RPR_OK)
                    goto cleanup;
                numbers[a] = z;
            } else if (numbers[a] != z) {
                st = RPR_FAIL(err, RPR_EPARSE,
                              "%s:%zu: atom %zu is %s, in frame 1 it is %s",
                              path, r.lineno, a + 1, rpr_element_symbol(z),
                              rpr_element_symbol(numbers[a]));
                goto cleanup;
            }
            const size_t base = 3 * (natoms * nframes + a);
            st = geom_reserve((void **) &xyz, &xyz_cap, base + 3, sizeof *xyz,
                              err);
            if (st != RPR_OK)
                goto cleanup;
            static const char *const names[3] = {"x", "y", "z"};
            for (int c = 0; c < 3; c++) {
                double v;
                st = geom_parse_double(af[1 + c], path, r.lineno, names[c], &v,
                                       err);
                if (st != RPR_OK)
                    goto cleanup;
                xyz[base + (size_t) c] = v / RPR_ANGSTROM_PER_BOHR;
            }
        }
        nframes++;
    }
    if (nframes == 0) {
        st = RPR_FAIL(err, RPR_EPARSE, "%s:%zu: no geometries in the file",
                      path, r.lineno > 0 ? r.lineno : 1);
        goto cleanup;
    }

    g = calloc(1, sizeof *g);
    if (g == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    g->natoms = natoms;
    g->nframes = nframes;
    g->numbers = numbers;
    g->xyz = xyz;
    g->lines = lines;
    numbers = NULL;
    xyz = NULL;
    lines = NULL;
    g->masses = malloc(natoms * sizeof *g->masses);
    if (g->masses == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    for (size_t a = 0; a < natoms; a++)
        g->masses[a] = rpr_element_mass(g->numbers[a], RPR_MASS_STANDARD);
    *geoms = g;
    g = NULL;
cleanup:
    rpr_geoms_free(g);
    free(numbers);
    free(xyz);
    free(lines);
    geom_reader_close(&r);
    return st;
}

/* ------------------------------------------------------------ Newton-X */

rpr_status rpr_geoms_read_nx(const char *path, rpr_geoms **geoms,
                             rpr_error *err)
{
    geom_reader r = {0};
    int *numbers = NULL;
    double *xyz = NULL, *masses = NULL;
    size_t numbers_cap = 0, xyz_cap = 0, masses_cap = 0;
    size_t natoms = 0, blank = 0;
    rpr_geoms *g = NULL;
    rpr_status st = RPR_OK;
    int got;

    if (geoms == NULL || path == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_geoms_read_nx: NULL argument");
    *geoms = NULL;
    st = geom_reader_open(&r, path, err);
    if (st != RPR_OK)
        return st;

    for (;;) {
        st = geom_reader_next(&r, &got, err);
        if (st != RPR_OK)
            goto cleanup;
        if (!got)
            break;
        if (geom_is_blank(r.line)) {
            if (blank == 0)
                blank = r.lineno;
            continue;
        }
        /* Newton-X reads exactly nat lines: a blank line inside would
         * shift every atom after it. */
        if (blank != 0) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: blank line between atom lines", path, blank);
            goto cleanup;
        }
        char *f[6];
        const size_t nf = geom_split(r.line, f, 6);
        if (nf != 6) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: expected 6 fields (symbol Z x y z mass), "
                          "got %zu",
                          path, r.lineno, nf);
            goto cleanup;
        }
        const int z = rpr_element_number(f[0]);
        if (z == 0) {
            st = RPR_FAIL(err, RPR_EPARSE, "%s:%zu: unknown element '%s'", path,
                          r.lineno, f[0]);
            goto cleanup;
        }
        double zr;
        st = geom_parse_double(f[1], path, r.lineno, "Z", &zr, err);
        if (st != RPR_OK)
            goto cleanup;
        if (zr != (double) z) {
            st = RPR_FAIL(err, RPR_EPARSE,
                          "%s:%zu: Z = %s does not match element %s (Z = %d)",
                          path, r.lineno, f[1], rpr_element_symbol(z), z);
            goto cleanup;
        }
        st = geom_reserve((void **) &numbers, &numbers_cap, natoms + 1,
                          sizeof *numbers, err);
        if (st == RPR_OK)
            st = geom_reserve((void **) &masses, &masses_cap, natoms + 1,
                              sizeof *masses, err);
        if (st == RPR_OK)
            st = geom_reserve((void **) &xyz, &xyz_cap, 3 * natoms + 3,
                              sizeof *xyz, err);
        if (st != RPR_OK)
            goto cleanup;
        numbers[natoms] = z;
        static const char *const names[3] = {"x", "y", "z"};
        for (int c = 0; c < 3; c++) {
            st = geom_parse_double(f[2 + c], path, r.lineno, names[c],
                                   &xyz[3 * natoms + (size_t) c], err);
            if (st != RPR_OK)
                goto cleanup;
        }
        st = geom_parse_double(f[5], path, r.lineno, "mass", &masses[natoms],
                               err);
        if (st != RPR_OK)
            goto cleanup;
        if (!(masses[natoms] > 0.0)) {
            st = RPR_FAIL(err, RPR_EPARSE, "%s:%zu: mass %s is not positive",
                          path, r.lineno, f[5]);
            goto cleanup;
        }
        natoms++;
    }
    if (natoms == 0) {
        st = RPR_FAIL(err, RPR_EPARSE, "%s:%zu: no atoms in the file", path,
                      r.lineno > 0 ? r.lineno : 1);
        goto cleanup;
    }
    g = calloc(1, sizeof *g);
    if (g == NULL || (g->lines = malloc(sizeof *g->lines)) == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    g->natoms = natoms;
    g->nframes = 1;
    g->lines[0] = 1;
    g->numbers = numbers;
    g->xyz = xyz;
    g->masses = masses;
    numbers = NULL;
    xyz = NULL;
    masses = NULL;
    *geoms = g;
    g = NULL;
cleanup:
    rpr_geoms_free(g);
    free(numbers);
    free(xyz);
    free(masses);
    geom_reader_close(&r);
    return st;
}

/* ------------------------------------------------------------ arrays */

rpr_status rpr_geoms_new(size_t natoms, size_t nframes, const int *numbers,
                         const double *xyz, const double *masses,
                         rpr_geoms **geoms, rpr_error *err)
{
    if (geoms == NULL || numbers == NULL || xyz == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_geoms_new: NULL argument");
    *geoms = NULL;
    if (natoms == 0 || nframes == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_geoms_new: %zu atoms, %zu frames (need >= 1)",
                        natoms, nframes);
    if (!geom_size_ok(natoms, nframes))
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_geoms_new: %zu atoms x %zu frames is too large",
                        natoms, nframes);
    for (size_t a = 0; a < natoms; a++) {
        if (rpr_element_symbol(numbers[a]) == NULL)
            return RPR_FAIL(err, RPR_EINVAL,
                            "rpr_geoms_new: atom %zu has atomic number %d, "
                            "not in the element table",
                            a + 1, numbers[a]);
        if (masses != NULL && !isfinite(masses[a]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "rpr_geoms_new: mass of atom %zu is not finite",
                            a + 1);
        if (masses != NULL && !(masses[a] > 0.0))
            return RPR_FAIL(err, RPR_EINVAL,
                            "rpr_geoms_new: mass of atom %zu is %g, not "
                            "positive",
                            a + 1, masses[a]);
    }
    const size_t n = 3 * natoms * nframes;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(xyz[i]))
            return RPR_FAIL(err, RPR_ENONFINITE,
                            "rpr_geoms_new: coordinate %zu of atom %zu in "
                            "frame %zu is not finite",
                            i % 3 + 1, i / 3 % natoms + 1,
                            i / (3 * natoms) + 1);

    rpr_geoms *const g = geom_alloc(natoms, nframes);
    if (g == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "rpr_geoms_new: out of memory");
    memcpy(g->numbers, numbers, natoms * sizeof *numbers);
    memcpy(g->xyz, xyz, n * sizeof *xyz);
    for (size_t a = 0; a < natoms; a++)
        g->masses[a] = masses != NULL
                           ? masses[a]
                           : rpr_element_mass(numbers[a], RPR_MASS_STANDARD);
    *geoms = g;
    return RPR_OK;
}

void rpr_geoms_free(rpr_geoms *geoms)
{
    if (geoms == NULL)
        return;
    free(geoms->numbers);
    free(geoms->xyz);
    free(geoms->masses);
    free(geoms->lines);
    free(geoms);
}

size_t rpr_geoms_natoms(const rpr_geoms *geoms)
{
    return geoms->natoms;
}

size_t rpr_geoms_nframes(const rpr_geoms *geoms)
{
    return geoms->nframes;
}

const int *rpr_geoms_numbers(const rpr_geoms *geoms)
{
    return geoms->numbers;
}

const double *rpr_geoms_xyz(const rpr_geoms *geoms)
{
    return geoms->xyz;
}

const double *rpr_geoms_masses(const rpr_geoms *geoms)
{
    return geoms->masses;
}

size_t rpr_geoms_line(const rpr_geoms *geoms, size_t frame)
{
    return frame < geoms->nframes ? geoms->lines[frame] : 0;
}

/* ------------------------------------------------------------ writer */

rpr_status rpr_xyz_write_frame(FILE *stream, size_t natoms, const int *numbers,
                               const double *xyz, const char *comment,
                               rpr_error *err)
{
    if (stream == NULL || numbers == NULL || xyz == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_xyz_write_frame: NULL argument");
    if (natoms == 0)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_xyz_write_frame: no atoms");
    if (comment != NULL && strpbrk(comment, "\n\r") != NULL)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_xyz_write_frame: the comment contains a line "
                        "break");
    /* Check everything first, so that a bad frame writes nothing. */
    for (size_t a = 0; a < natoms; a++) {
        if (rpr_element_symbol(numbers[a]) == NULL)
            return RPR_FAIL(err, RPR_EINVAL,
                            "rpr_xyz_write_frame: atom %zu has atomic number "
                            "%d, not in the element table",
                            a + 1, numbers[a]);
        for (int c = 0; c < 3; c++)
            if (!isfinite(xyz[3 * a + (size_t) c]))
                return RPR_FAIL(err, RPR_ENONFINITE,
                                "rpr_xyz_write_frame: coordinate of atom %zu "
                                "is not finite",
                                a + 1);
    }
    int bad = fprintf(stream, "%zu\n%s\n", natoms,
                      comment != NULL ? comment : "") < 0;
    for (size_t a = 0; a < natoms && !bad; a++)
        bad = fprintf(stream, "%-2s %18.10f %18.10f %18.10f\n",
                      rpr_element_symbol(numbers[a]),
                      xyz[3 * a] * RPR_ANGSTROM_PER_BOHR,
                      xyz[3 * a + 1] * RPR_ANGSTROM_PER_BOHR,
                      xyz[3 * a + 2] * RPR_ANGSTROM_PER_BOHR) < 0;
    if (bad || ferror(stream))
        return RPR_FAIL(err, RPR_EIO, "cannot write an XYZ frame: %s",
                        strerror(errno));
    return RPR_OK;
}
