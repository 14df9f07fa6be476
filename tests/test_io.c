/*
 * test_io.c - element table, XYZ and Newton-X readers, value tables,
 * gradient files and atomic output files.  Every bad input listed in the
 * design (truncated XYZ, changing atom count, non-numeric field, NaN/Inf,
 * unknown element, wrong rows or columns) is provoked, and the message must
 * start with the exact "file:line:" of the problem.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

/* Scratch directory in the build tree, made by mkdtemp in main. */
static char dir[64];

static const char *tmp_path(const char *name)
{
    return test_path(dir, name);
}

/* Write len bytes (so that text may contain NUL) to dir/name. */
static const char *write_bytes(const char *name, const char *text, size_t len)
{
    const char *const path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(99);
    }
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

/* The call fails with `want` and its message starts with `prefix` and
 * contains `part`. */
#define CHECK_FAIL(call, want, errp, prefix, part)                             \
    do {                                                                       \
        memset((errp), 0, sizeof *(errp));                                     \
        CHECK_STATUS(call, want);                                              \
        if (strncmp((errp)->message, (prefix), strlen(prefix)) != 0 ||         \
            strstr((errp)->message, (part)) == NULL) {                         \
            fprintf(stderr,                                                    \
                    "%s:%d: FAIL message '%s', want prefix '%s' and '%s'\n",   \
                    __FILE__, __LINE__, (errp)->message, (prefix), (part));    \
            test_failures++;                                                   \
        }                                                                      \
        CHECK((errp)->status == (want));                                       \
    } while (0)

/* ------------------------------------------------------------ elements */

static void test_elements(void)
{
    /* Every row round-trips, in any letter case. */
    for (int z = 1; z <= 86; z++) {
        const char *const s = rpr_element_symbol(z);
        CHECK(s != NULL);
        if (s == NULL)
            continue;
        CHECK(rpr_element_number(s) == z);
        char up[4] = "", low[4] = "";
        for (size_t i = 0; s[i] != '\0' && i < 3; i++) {
            up[i] = (char) (s[i] >= 'a' ? s[i] - 32 : s[i]);
            low[i] = (char) (s[i] <= 'Z' ? s[i] + 32 : s[i]);
        }
        CHECK(rpr_element_number(up) == z);
        CHECK(rpr_element_number(low) == z);
        const double ms = rpr_element_mass(z, RPR_MASS_STANDARD);
        const double mi = rpr_element_mass(z, RPR_MASS_ISOTOPE);
        /* A nuclide's mass differs from its mass number A by its mass
         * excess, below 100 MeV/c^2 = 0.108 u in magnitude for every
         * nuclide up to A = 222 (AME2020). */
        const double a = round(mi);
        CHECK_CLOSE(mi, a, 0.0, 0.108);
        /* A/Z lies between 1 (1H) and 2.6 (222Rn = 2.58). */
        CHECK(a >= z && a <= 2.6 * z);
        CHECK(ms >= z && ms <= 2.6 * z);
    }
    /* The elements of the project and the table's ends, exactly. */
    CHECK(rpr_element_number("C") == 6);
    CHECK(rpr_element_number("Cl") == 17);
    CHECK(rpr_element_number("Br") == 35);
    CHECK(rpr_element_number("Kr") == 36);
    CHECK(rpr_element_number("I") == 53);
    CHECK(rpr_element_number("Rn") == 86);
    CHECK(strcmp(rpr_element_symbol(17), "Cl") == 0);
    CHECK(rpr_element_mass(1, RPR_MASS_STANDARD) == 1.008);
    CHECK(rpr_element_mass(6, RPR_MASS_STANDARD) == 12.011);
    CHECK(rpr_element_mass(17, RPR_MASS_STANDARD) == 35.45);
    CHECK(rpr_element_mass(35, RPR_MASS_STANDARD) == 79.904);
    CHECK(rpr_element_mass(53, RPR_MASS_STANDARD) == 126.90447);
    CHECK(rpr_element_mass(6, RPR_MASS_ISOTOPE) == 12.0);
    CHECK(rpr_element_mass(17, RPR_MASS_ISOTOPE) == 34.968852682);
    CHECK(rpr_element_mass(35, RPR_MASS_ISOTOPE) == 78.9183376);
    CHECK(rpr_element_mass(86, RPR_MASS_ISOTOPE) == 222.0175782);
    CHECK(rpr_element_mass(1, RPR_MASS_ISOTOPE) == 1.00782503223);
    /* Outside the table. */
    CHECK(rpr_element_symbol(0) == NULL);
    CHECK(rpr_element_symbol(-1) == NULL);
    CHECK(rpr_element_symbol(87) == NULL);
    CHECK(rpr_element_number(NULL) == 0);
    CHECK(rpr_element_number("") == 0);
    CHECK(rpr_element_number("Xx") == 0);
    CHECK(rpr_element_number("C1") == 0);
    CHECK(rpr_element_number("Cl ") == 0);
    CHECK(rpr_element_number("D") == 0);
    CHECK(rpr_element_mass(0, RPR_MASS_STANDARD) == 0.0);
    CHECK(rpr_element_mass(87, RPR_MASS_ISOTOPE) == 0.0);
    CHECK(rpr_element_mass(6, (rpr_mass_kind) 7) == 0.0);
}

/* ------------------------------------------------------------ XYZ */

static void test_xyz_good(void)
{
    rpr_error err;
    rpr_geoms *g = NULL;
    /* Symbols in any case and atomic numbers, CRLF line ends, tabs,
     * trailing blank lines, no final newline on the last blank line. */
    const char *const path = write_text(
        "good.xyz", "3\r\nwater 1\r\nO 0.0 0.0 0.1173\r\nh\t0.0 0.7572 "
                    "-0.4692\r\n1 0.0 -0.7572 -0.4692\r\n"
                    "  3  \n\nO 1.5 -2.25e0 +0.125\nH -1E-3 0 0\nH 0 0 "
                    "7.25\n\n  \t");
    CHECK_OK(rpr_geoms_read_xyz(path, &g, &err), &err);
    if (g == NULL)
        return;
    CHECK(rpr_geoms_natoms(g) == 3);
    CHECK(rpr_geoms_nframes(g) == 2);
    const int *const z = rpr_geoms_numbers(g);
    CHECK(z[0] == 8 && z[1] == 1 && z[2] == 1);
    /* The reader divides by RPR_ANGSTROM_PER_BOHR once: bit-identical to
     * the same division here. */
    const double ang[18] = {0.0,   0.0,     0.1173,  0.0, 0.7572, -0.4692,
                            0.0,   -0.7572, -0.4692, 1.5, -2.25,  0.125,
                            -1e-3, 0.0,     0.0,     0.0, 0.0,    7.25};
    const double *const x = rpr_geoms_xyz(g);
    for (size_t i = 0; i < 18; i++)
        CHECK(x[i] == ang[i] / RPR_ANGSTROM_PER_BOHR);
    CHECK(rpr_geoms_line(g, 0) == 1);
    CHECK(rpr_geoms_line(g, 1) == 6);
    CHECK(rpr_geoms_line(g, 2) == 0);
    const double *const m = rpr_geoms_masses(g);
    CHECK(m[0] == rpr_element_mass(8, RPR_MASS_STANDARD));
    CHECK(m[1] == rpr_element_mass(1, RPR_MASS_STANDARD));
    rpr_geoms_free(g);
    rpr_geoms_free(NULL);
}

static void test_xyz_bad(void)
{
    rpr_error err;
    rpr_geoms *g = (rpr_geoms *) &err; /* must be reset to NULL */
    const char *p;

#define XYZ_FAIL(name, text, want, prefix, part)                               \
    do {                                                                       \
        p = write_text(name, text);                                            \
        char pre_[300];                                                        \
        snprintf(pre_, sizeof pre_, "%s:%s", p, prefix);                       \
        CHECK_FAIL(rpr_geoms_read_xyz(p, &g, &err), want, &err, pre_, part);   \
        CHECK(g == NULL);                                                      \
        rpr_geoms_free(g);                                                     \
    } while (0)

    /* Truncated: the file ends inside frame 2 (count line 6). */
    XYZ_FAIL("trunc.xyz", "2\nc\nH 0 0 0\nH 0 0 1\n2\nc\nH 0 0 0\n", RPR_EPARSE,
             "5: ", "frame 2 is truncated");
    /* Truncated: no comment line after the count. */
    XYZ_FAIL("trunc2.xyz", "2\n", RPR_EPARSE, "1: ", "truncated");
    /* Truncated: a frame announces 3 atoms, the next count line comes
     * after 2 (line 5 is "3"). */
    XYZ_FAIL("trunc3.xyz",
             "3\nc\nH 0 0 0\nH 0 0 1\n3\nc\nH 0 0 0\nH 0 0 1\nH 1 0 0\n",
             RPR_EPARSE, "5: ", "frame 1 is truncated");
    /* Atom count changes between frames. */
    XYZ_FAIL("count.xyz",
             "2\nc\nH 0 0 0\nH 0 0 1\n3\nc\nH 0 0 0\nH 0 0 1\nH 1 0 0\n",
             RPR_EPARSE, "5: ", "frame 2 has 3 atoms, frame 1 (line 1) has 2");
    /* Elements change between frames. */
    XYZ_FAIL("elem.xyz", "2\nc\nH 0 0 0\nH 0 0 1\n2\nc\nH 0 0 0\nF 0 0 1\n",
             RPR_EPARSE, "8: ", "atom 2 is F, in frame 1 it is H");
    /* Non-numeric fields. */
    XYZ_FAIL("nonnum.xyz", "2\nc\nH 0 0 0\nH 0 abc 1\n", RPR_EPARSE,
             "4: ", "y 'abc' is not a number");
    XYZ_FAIL("nonnum2.xyz", "2\nc\nH 0 0 0\nH 0 0 1.0.0\n", RPR_EPARSE,
             "4: ", "z '1.0.0' is not a number");
    XYZ_FAIL("nonnum3.xyz", "1\nc\nH 0,5 0 0\n", RPR_EPARSE,
             "3: ", "x '0,5' is not a number");
    /* NaN and Inf, and an overflow that strtod turns into Inf. */
    XYZ_FAIL("nan.xyz", "2\nc\nH 0 0 0\nH nan 0 1\n", RPR_ENONFINITE,
             "4: ", "x 'nan' is not finite");
    XYZ_FAIL("inf.xyz", "1\nc\nH 0 0 -Inf\n", RPR_ENONFINITE,
             "3: ", "z '-Inf' is not finite");
    XYZ_FAIL("ovf.xyz", "1\nc\nH 0 1e999 0\n", RPR_ENONFINITE,
             "3: ", "y '1e999' is not finite");
    /* Unknown elements. */
    XYZ_FAIL("unk.xyz", "2\nc\nH 0 0 0\nXx 0 0 1\n", RPR_EPARSE,
             "4: ", "unknown element 'Xx'");
    XYZ_FAIL("unk2.xyz", "1\nc\n0 0 0 0\n", RPR_EPARSE,
             "3: ", "unknown element '0'");
    XYZ_FAIL("unk3.xyz", "1\nc\n87 0 0 0\n", RPR_EPARSE,
             "3: ", "unknown element '87'");
    XYZ_FAIL("unk4.xyz", "1\nc\nC1 0 0 0\n", RPR_EPARSE,
             "3: ", "unknown element 'C1'");
    /* Wrong number of fields on an atom line. */
    XYZ_FAIL("few.xyz", "1\nc\nH 0 0\n", RPR_EPARSE, "3: ",
             "expected 4 fields (element x y z) for atom 1 of frame 1, got 3");
    XYZ_FAIL("many.xyz", "1\nc\nH 0 0 0 0\n", RPR_EPARSE, "3: ", "got 5");
    /* Bad count lines. */
    XYZ_FAIL("cnt1.xyz", "two\nc\nH 0 0 0\n", RPR_EPARSE,
             "1: ", "expected the atom count of frame 1");
    XYZ_FAIL("cnt2.xyz", "-1\nc\nH 0 0 0\n", RPR_EPARSE, "1: ", "atom count");
    XYZ_FAIL("cnt3.xyz", "0\nc\n", RPR_EPARSE, "1: ", "positive integer");
    XYZ_FAIL("cnt4.xyz", "1 atoms\nc\nH 0 0 0\n", RPR_EPARSE,
             "1: ", "atom count");
    XYZ_FAIL("cnt5.xyz", "99999999999999999999999\nc\n", RPR_EPARSE,
             "1: ", "atom count");
    /* A huge count is reported as truncation, not as a huge allocation. */
    XYZ_FAIL("cnt6.xyz", "999999999999\nc\nH 0 0 0\n", RPR_EPARSE,
             "1: ", "frame 1 is truncated");
    /* A blank line between frames (line 4). */
    XYZ_FAIL("blank.xyz", "1\nc\nH 0 0 0\n\n1\nc\nH 0 0 0\n", RPR_EPARSE,
             "4: ", "blank line");
    /* Empty files. */
    XYZ_FAIL("empty.xyz", "", RPR_EPARSE, "1: ", "no geometries");
    XYZ_FAIL("empty2.xyz", "\n \n", RPR_EPARSE, "2: ", "no geometries");
    /* A NUL byte (binary file). */
    p = write_bytes("nul.xyz", "1\nc\nH 0\0 0 0\n", 13);
    {
        char pre[300];
        snprintf(pre, sizeof pre, "%s:3: ", p);
        CHECK_FAIL(rpr_geoms_read_xyz(p, &g, &err), RPR_EPARSE, &err, pre,
                   "NUL byte");
    }
    /* A file that does not exist. */
    p = tmp_path("missing.xyz");
    {
        char pre[300];
        snprintf(pre, sizeof pre, "%s: cannot open: ", p);
        CHECK_FAIL(rpr_geoms_read_xyz(p, &g, &err), RPR_EIO, &err, pre,
                   strerror(ENOENT));
    }
    CHECK_STATUS(rpr_geoms_read_xyz(NULL, &g, NULL), RPR_EINVAL);
    CHECK_STATUS(rpr_geoms_read_xyz(p, NULL, NULL), RPR_EINVAL);
#undef XYZ_FAIL
}

/* ------------------------------------------------------------ Newton-X */

static void test_nx(void)
{
    rpr_error err;
    rpr_geoms *g = NULL;
    /* Both real layouts of newtonx-contract.md 3.1: Newton-X's own
     * Fortran format, and a free one with lower-case symbols and "6.". */
    const char *p = write_text(
        "geom",
        "  C     6.0  -10.78308640    4.04694361    0.08700308   "
        "12.00000000\n  H     1.0  -12.20129730    5.37496866    "
        "0.52842715    1.00782504\ncl 17. 1.5 -2.5 0.25 34.968852682\n\n");
    CHECK_OK(rpr_geoms_read_nx(p, &g, &err), &err);
    if (g != NULL) {
        CHECK(rpr_geoms_natoms(g) == 3 && rpr_geoms_nframes(g) == 1);
        const int *z = rpr_geoms_numbers(g);
        CHECK(z[0] == 6 && z[1] == 1 && z[2] == 17);
        /* Bohr as given, no conversion. */
        const double *x = rpr_geoms_xyz(g);
        CHECK(x[0] == -10.78308640 && x[4] == 5.37496866 && x[8] == 0.25);
        /* Masses as given, not replaced by the table. */
        const double *m = rpr_geoms_masses(g);
        CHECK(m[0] == 12.0 && m[1] == 1.00782504 && m[2] == 34.968852682);
        CHECK(rpr_geoms_line(g, 0) == 1);
        rpr_geoms_free(g);
    }

#define NX_FAIL(name, text, want, prefix, part)                                \
    do {                                                                       \
        p = write_text(name, text);                                            \
        char pre_[300];                                                        \
        snprintf(pre_, sizeof pre_, "%s:%s", p, prefix);                       \
        g = (rpr_geoms *) &err;                                                \
        CHECK_FAIL(rpr_geoms_read_nx(p, &g, &err), want, &err, pre_, part);    \
        CHECK(g == NULL);                                                      \
    } while (0)

    NX_FAIL("geom_z", "C 6.0 0 0 0 12\nH 6.0 0 0 1 1\n", RPR_EPARSE,
            "2: ", "Z = 6.0 does not match element H (Z = 1)");
    NX_FAIL("geom_zfrac", "C 6.5 0 0 0 12\n", RPR_EPARSE,
            "1: ", "does not match");
    NX_FAIL("geom_few", "C 6.0 0 0 0\n", RPR_EPARSE,
            "1: ", "expected 6 fields (symbol Z x y z mass), got 5");
    NX_FAIL("geom_unk", "C 6.0 0 0 0 12\nQ 1.0 0 0 1 1\n", RPR_EPARSE,
            "2: ", "unknown element 'Q'");
    NX_FAIL("geom_num", "C 6.0 0 x 0 12\n", RPR_EPARSE,
            "1: ", "y 'x' is not a number");
    NX_FAIL("geom_nan", "C 6.0 0 0 0 12\nH 1.0 0 0 NaN 1\n", RPR_ENONFINITE,
            "2: ", "z 'NaN' is not finite");
    NX_FAIL("geom_mass", "C 6.0 0 0 0 -12\n", RPR_EPARSE,
            "1: ", "mass -12 is not positive");
    NX_FAIL("geom_mass0", "C 6.0 0 0 0 0\n", RPR_EPARSE, "1: ", "not positive");
    NX_FAIL("geom_massinf", "C 6.0 0 0 0 inf\n", RPR_ENONFINITE,
            "1: ", "mass 'inf' is not finite");
    NX_FAIL("geom_blank", "C 6.0 0 0 0 12\n\nH 1.0 0 0 1 1\n", RPR_EPARSE,
            "2: ", "blank line between atom lines");
    NX_FAIL("geom_empty", "", RPR_EPARSE, "1: ", "no atoms");
#undef NX_FAIL
    CHECK_STATUS(rpr_geoms_read_nx(tmp_path("nonexistent"), &g, NULL), RPR_EIO);
}

/* ------------------------------------------------------------ arrays */

static void test_geoms_new(void)
{
    rpr_error err;
    rpr_geoms *g = NULL;
    const int z[2] = {17, 6};
    const double xyz[12] = {0.1, 0.2, 0.3, 1.1, 1.2, 1.3,
                            2.1, 2.2, 2.3, 3.1, 3.2, 3.3};
    const double masses[2] = {36.96590259, 13.00335484};

    CHECK_OK(rpr_geoms_new(2, 2, z, xyz, NULL, &g, &err), &err);
    if (g != NULL) {
        CHECK(rpr_geoms_natoms(g) == 2 && rpr_geoms_nframes(g) == 2);
        CHECK(memcmp(rpr_geoms_xyz(g), xyz, sizeof xyz) == 0);
        CHECK(rpr_geoms_numbers(g)[0] == 17 && rpr_geoms_numbers(g)[1] == 6);
        CHECK(rpr_geoms_masses(g)[0] == 35.45);
        CHECK(rpr_geoms_masses(g)[1] == 12.011);
        CHECK(rpr_geoms_line(g, 0) == 0 && rpr_geoms_line(g, 1) == 0);
        rpr_geoms_free(g);
    }
    CHECK_OK(rpr_geoms_new(2, 1, z, xyz, masses, &g, &err), &err);
    if (g != NULL) {
        CHECK(rpr_geoms_masses(g)[0] == masses[0]);
        CHECK(rpr_geoms_masses(g)[1] == masses[1]);
        rpr_geoms_free(g);
    }

    g = (rpr_geoms *) &err;
    CHECK_FAIL(rpr_geoms_new(0, 1, z, xyz, NULL, &g, &err), RPR_EINVAL, &err,
               "rpr_geoms_new: 0 atoms", "need >= 1");
    CHECK(g == NULL);
    CHECK_FAIL(rpr_geoms_new(2, 0, z, xyz, NULL, &g, &err), RPR_EINVAL, &err,
               "rpr_geoms_new: 2 atoms, 0 frames", "need >= 1");
    CHECK_FAIL(rpr_geoms_new(2, 1, NULL, xyz, NULL, &g, &err), RPR_EINVAL, &err,
               "rpr_geoms_new", "NULL");
    const int zbad[2] = {17, 87};
    CHECK_FAIL(rpr_geoms_new(2, 1, zbad, xyz, NULL, &g, &err), RPR_EINVAL, &err,
               "rpr_geoms_new: atom 2 has atomic number 87", "table");
    double xbad[12];
    memcpy(xbad, xyz, sizeof xbad);
    xbad[10] = NAN;
    CHECK_FAIL(rpr_geoms_new(2, 2, z, xbad, NULL, &g, &err), RPR_ENONFINITE,
               &err, "rpr_geoms_new: coordinate 2 of atom 2 in frame 2",
               "not finite");
    const double mbad[2] = {35.0, -1.0};
    CHECK_FAIL(rpr_geoms_new(2, 1, z, xyz, mbad, &g, &err), RPR_EINVAL, &err,
               "rpr_geoms_new: mass of atom 2 is -1", "not positive");
    const double minf[2] = {INFINITY, 1.0};
    CHECK_FAIL(rpr_geoms_new(2, 1, z, xyz, minf, &g, &err), RPR_ENONFINITE,
               &err, "rpr_geoms_new: mass of atom 1", "not finite");
    CHECK_FAIL(rpr_geoms_new(SIZE_MAX / 2, 1, z, xyz, NULL, &g, &err),
               RPR_EINVAL, &err, "rpr_geoms_new", "too large");
    CHECK(g == NULL);
}

/* ------------------------------------------------------------ writer */

static void test_xyz_write(void)
{
    rpr_error err;
    test_rng rng = {20240611};
    enum { N = 5, F = 3 };
    const int z[N] = {6, 6, 17, 17, 1};
    double xyz[3 * N * F];
    for (size_t i = 0; i < 3 * N * F; i++)
        xyz[i] = 20.0 * (test_rng_uniform(&rng) - 0.5);

    const char *const path = tmp_path("written.xyz");
    rpr_outfile *out = NULL;
    CHECK_OK(rpr_outfile_open(path, &out, &err), &err);
    if (out == NULL)
        return;
    FILE *const f = rpr_outfile_stream(out);
    for (size_t k = 0; k < F; k++)
        CHECK_OK(rpr_xyz_write_frame(f, N, z, xyz + 3 * N * k,
                                     k == 1 ? NULL : "frame comment", &err),
                 &err);
    /* Refusals write nothing. */
    const long pos = ftell(f);
    const int zbad[N] = {6, 6, 17, 17, 0};
    CHECK_FAIL(rpr_xyz_write_frame(f, N, zbad, xyz, NULL, &err), RPR_EINVAL,
               &err, "rpr_xyz_write_frame: atom 5 has atomic number 0", "");
    double xnan[3 * N];
    memcpy(xnan, xyz, sizeof xnan);
    xnan[7] = NAN;
    CHECK_FAIL(rpr_xyz_write_frame(f, N, z, xnan, NULL, &err), RPR_ENONFINITE,
               &err, "rpr_xyz_write_frame: coordinate of atom 3", "finite");
    CHECK_FAIL(rpr_xyz_write_frame(f, N, z, xyz, "two\nlines", &err),
               RPR_EINVAL, &err, "rpr_xyz_write_frame", "line break");
    CHECK_FAIL(rpr_xyz_write_frame(f, 0, z, xyz, NULL, &err), RPR_EINVAL, &err,
               "rpr_xyz_write_frame: no atoms", "");
    CHECK(ftell(f) == pos);
    CHECK_OK(rpr_outfile_commit(out, &err), &err);

    rpr_geoms *g = NULL;
    CHECK_OK(rpr_geoms_read_xyz(path, &g, &err), &err);
    if (g == NULL)
        return;
    CHECK(rpr_geoms_natoms(g) == N && rpr_geoms_nframes(g) == F);
    CHECK(memcmp(rpr_geoms_numbers(g), z, sizeof z) == 0);
    /* %.10f rounds angstrom to 5e-11; the two conversions (x a0, / a0)
     * add two roundings of 10 bohr each (2 eps |x| <= 4.5e-15). */
    const double atol = 0.5e-10 / RPR_ANGSTROM_PER_BOHR;
    for (size_t i = 0; i < 3 * N * F; i++)
        CHECK_CLOSE(rpr_geoms_xyz(g)[i], xyz[i], 2 * DBL_EPSILON, atol);
    CHECK(rpr_geoms_line(g, 2) == 2 * (N + 2) + 1);
    rpr_geoms_free(g);

    /* A write error: /dev/full accepts opens and fails every write. */
    FILE *const full = fopen("/dev/full", "w");
    if (full != NULL) {
        setvbuf(full, NULL, _IONBF, 0);
        CHECK_FAIL(rpr_xyz_write_frame(full, N, z, xyz, NULL, &err), RPR_EIO,
                   &err, "cannot write an XYZ frame", strerror(ENOSPC));
        fclose(full);
    }
}

/* ------------------------------------------------------------ tables */

static void test_table(void)
{
    rpr_error err;
    double *v = NULL;
    /* Comments, blank lines, tabs, CRLF, signs, exponents, no final
     * newline. */
    const char *p = write_text(
        "good.dat", "# mu_x mu_y mu_z\n1.5 -2 3e-3\r\n\n  # note\n\t-0.25 "
                    "+4 5E+2\n6 7 8");
    CHECK_OK(rpr_table_read(p, 3, 3, &v, &err), &err);
    if (v != NULL) {
        const double want[9] = {1.5, -2, 3e-3, -0.25, 4, 5e2, 6, 7, 8};
        for (size_t i = 0; i < 9; i++)
            CHECK(v[i] == want[i]);
        rpr_free(v);
    }

#define TABLE_FAIL(name, text, nr, nc, want, prefix, part)                     \
    do {                                                                       \
        p = write_text(name, text);                                            \
        char pre_[300];                                                        \
        snprintf(pre_, sizeof pre_, "%s:%s", p, prefix);                       \
        v = (double *) &err;                                                   \
        CHECK_FAIL(rpr_table_read(p, nr, nc, &v, &err), want, &err, pre_,      \
                   part);                                                      \
        CHECK(v == NULL);                                                      \
    } while (0)

    TABLE_FAIL("few.dat", "1 2 3\n4 5 6\n", 3, 3, RPR_EPARSE,
               "2: ", "the file ends after 2 rows, expected 3");
    TABLE_FAIL("few2.dat", "1 2 3\n4 5 6\n\n# end\n", 3, 3, RPR_EPARSE,
               "4: ", "ends after 2 rows");
    TABLE_FAIL("empty.dat", "", 1, 3, RPR_EPARSE, "1: ", "ends after 0 rows");
    TABLE_FAIL("many.dat", "1 2 3\n4 5 6\n\n7 8 9\n", 2, 3, RPR_EPARSE,
               "4: ", "more rows than the 2 expected");
    TABLE_FAIL("cols.dat", "1 2 3\n4 5 6 7 8 9\n", 2, 3, RPR_EPARSE,
               "2: ", "expected 3 columns, got 6");
    TABLE_FAIL("cols2.dat", "1 2 3 4 5 6\n1 2 3\n", 2, 6, RPR_EPARSE,
               "2: ", "expected 6 columns, got 3");
    TABLE_FAIL("cols3.dat", "1\n2 3\n", 2, 1, RPR_EPARSE,
               "2: ", "expected 1 column, got 2");
    TABLE_FAIL("num.dat", "1 2 3\n4 five 6\n", 2, 3, RPR_EPARSE,
               "2: ", "column 2 'five' is not a number");
    TABLE_FAIL("num2.dat", "1 2 3 # comment\n", 1, 3, RPR_EPARSE,
               "1: ", "got 5");
    TABLE_FAIL("fortran.dat", "1.0D+00\n", 1, 1, RPR_EPARSE,
               "1: ", "column 1 '1.0D+00' is not a number");
    TABLE_FAIL("nan.dat", "1 2 3\n4 5 6\n7 8 nan\n", 3, 3, RPR_ENONFINITE,
               "3: ", "column 3 'nan' is not finite");
    TABLE_FAIL("inf.dat", "-inf\n", 1, 1, RPR_ENONFINITE,
               "1: ", "column 1 '-inf' is not finite");
#undef TABLE_FAIL

    p = tmp_path("missing.dat");
    CHECK_STATUS(rpr_table_read(p, 1, 1, &v, &err), RPR_EIO);
    CHECK(strstr(err.message, p) == err.message);
    CHECK_STATUS(rpr_table_read(p, 0, 1, &v, NULL), RPR_EINVAL);
    CHECK_STATUS(rpr_table_read(p, 1, 0, &v, NULL), RPR_EINVAL);
    CHECK_STATUS(rpr_table_read(p, SIZE_MAX / 4, 3, &v, NULL), RPR_EINVAL);
    CHECK_STATUS(rpr_table_read(NULL, 1, 1, &v, NULL), RPR_EINVAL);
}

/* ------------------------------------------------------------ gradients */

static void test_gradients(void)
{
    rpr_error err;
    double *g = NULL;
    unsigned char *present = NULL;
    /* Three geometries of two atoms, the second without gradients. */
    const char *p = write_text(
        "grad.dat", "2\n\n 0.5 -1.5 2.5\n3 4 5\n0\ncomment\n2\n  # any\n"
                    "-1e-3 0 0\n0 0 7.25\n\n");
    CHECK_OK(rpr_gradients_read(p, 3, 2, &g, &present, &err), &err);
    if (g != NULL && present != NULL) {
        const double want[18] = {0.5, -1.5, 2.5, 3,     4, 5, 0, 0, 0,
                                 0,   0,    0,   -1e-3, 0, 0, 0, 0, 7.25};
        for (size_t i = 0; i < 18; i++)
            CHECK(g[i] == want[i]);
        CHECK(present[0] == 1 && present[1] == 0 && present[2] == 1);
    }
    rpr_free(g);
    rpr_free(present);

#define GRAD_FAIL(name, text, nf, na, want, prefix, part)                      \
    do {                                                                       \
        p = write_text(name, text);                                            \
        char pre_[300];                                                        \
        snprintf(pre_, sizeof pre_, "%s:%s", p, prefix);                       \
        g = (double *) &err;                                                   \
        present = (unsigned char *) &err;                                      \
        CHECK_FAIL(rpr_gradients_read(p, nf, na, &g, &present, &err), want,    \
                   &err, pre_, part);                                          \
        CHECK(g == NULL && present == NULL);                                   \
    } while (0)

    GRAD_FAIL("g_count.dat", "2\n\n1 2 3\n4 5 6\n3\n\n1 2 3\n4 5 6\n7 8 9\n", 2,
              2, RPR_EPARSE,
              "5: ", "geometry 2 has 3 atoms, expected 2 (or 0 for none)");
    GRAD_FAIL("g_cnt.dat", "two\n\n1 2 3\n4 5 6\n", 1, 2, RPR_EPARSE,
              "1: ", "expected the atom count of geometry 1");
    GRAD_FAIL("g_trunc.dat", "2\n\n1 2 3\n4 5 6\n2\n\n1 2 3\n", 2, 2,
              RPR_EPARSE, "5: ", "geometry 2 is truncated");
    GRAD_FAIL("g_trunc2.dat", "0\n", 1, 2, RPR_EPARSE,
              "1: ", "geometry 1 is truncated");
    GRAD_FAIL("g_cols.dat", "2\n\n1 2 3\n4 5\n", 1, 2, RPR_EPARSE, "4: ",
              "expected 3 columns (gx gy gz) for atom 2 of geometry 1, got 2");
    GRAD_FAIL("g_cols2.dat", "1\n\nH 1 2 3\n", 1, 1, RPR_EPARSE,
              "3: ", "got 4");
    GRAD_FAIL("g_num.dat", "1\n\n1 2 x\n", 1, 1, RPR_EPARSE,
              "3: ", "gz 'x' is not a number");
    GRAD_FAIL("g_nan.dat", "1\n\n1 NaN 3\n", 1, 1, RPR_ENONFINITE,
              "3: ", "gy 'NaN' is not finite");
    GRAD_FAIL("g_many.dat", "1\n\n1 2 3\n1\n\n1 2 3\n", 1, 1, RPR_EPARSE,
              "4: ", "more geometries than the 1 expected");
    GRAD_FAIL("g_few.dat", "1\n\n1 2 3\n\n", 2, 1, RPR_EPARSE,
              "4: ", "the file ends after 1 geometries, expected 2");
    GRAD_FAIL("g_blank.dat", "1\n\n1 2 3\n\n1\n\n1 2 3\n", 2, 1, RPR_EPARSE,
              "4: ", "blank line where the atom count of geometry 2");
#undef GRAD_FAIL
    CHECK_STATUS(
        rpr_gradients_read(tmp_path("missing"), 1, 1, &g, &present, NULL),
        RPR_EIO);
    CHECK_STATUS(rpr_gradients_read(p, 0, 1, &g, &present, NULL), RPR_EINVAL);
    CHECK_STATUS(rpr_gradients_read(p, 1, SIZE_MAX / 8, &g, &present, NULL),
                 RPR_EINVAL);
}

/* ------------------------------------------------------------ outfile */

/* Entries of dir whose name starts with "base." (temporary files). */
static int count_temps(const char *base)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    const size_t len = strlen(base);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, base, len) == 0 && e->d_name[len] == '.')
            n++;
    closedir(d);
    return n;
}

static int file_equals(const char *path, const char *text)
{
    char buf[256];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    const size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

static void test_outfile(void)
{
    rpr_error err;
    rpr_outfile *out = NULL;
    struct stat sb;
    const char *const path = tmp_path("out.dat");

    /* Nothing under the name until commit; then exactly what was written,
     * and no temporary file left. */
    CHECK_OK(rpr_outfile_open(path, &out, &err), &err);
    if (out == NULL)
        return;
    CHECK(fprintf(rpr_outfile_stream(out), "first\n") == 6);
    CHECK(access(path, F_OK) != 0);
    CHECK(count_temps("out.dat") == 1);
    CHECK_OK(rpr_outfile_commit(out, &err), &err);
    CHECK(file_equals(path, "first\n"));
    CHECK(count_temps("out.dat") == 0);
    /* A new file gets 0666 less the umask, as fopen would give it. */
    const mode_t mask = umask(022);
    umask(mask);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == (0666 & ~mask));

    /* Replacing keeps the old content visible until commit and keeps the
     * old file's permissions. */
    CHECK(chmod(path, 0640) == 0);
    CHECK_OK(rpr_outfile_open(path, &out, &err), &err);
    if (out == NULL)
        return;
    fputs("second\n", rpr_outfile_stream(out));
    fflush(rpr_outfile_stream(out));
    CHECK(file_equals(path, "first\n"));
    CHECK_OK(rpr_outfile_commit(out, &err), &err);
    CHECK(file_equals(path, "second\n"));
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0640);

    /* Discard leaves the old file alone and removes the temporary one. */
    CHECK_OK(rpr_outfile_open(path, &out, &err), &err);
    if (out == NULL)
        return;
    fputs("partial", rpr_outfile_stream(out));
    rpr_outfile_discard(out);
    CHECK(file_equals(path, "second\n"));
    CHECK(count_temps("out.dat") == 0);
    rpr_outfile_discard(NULL);

    /* Discard of a new file leaves nothing at all. */
    const char *const fresh = tmp_path("fresh.dat");
    CHECK_OK(rpr_outfile_open(fresh, &out, &err), &err);
    if (out == NULL)
        return;
    fputs("partial", rpr_outfile_stream(out));
    rpr_outfile_discard(out);
    CHECK(access(fresh, F_OK) != 0);
    CHECK(count_temps("fresh.dat") == 0);

    /* A write that fails at flush time (its descriptor closed behind the
     * stream's back): commit reports it, removes the temporary file and
     * leaves the old file. */
    CHECK_OK(rpr_outfile_open(path, &out, &err), &err);
    if (out == NULL)
        return;
    fputs("lost", rpr_outfile_stream(out));
    close(fileno(rpr_outfile_stream(out)));
    {
        char pre[300];
        snprintf(pre, sizeof pre, "%s: cannot write it: ", path);
        CHECK_FAIL(rpr_outfile_commit(out, &err), RPR_EIO, &err, pre,
                   strerror(EBADF));
    }
    CHECK(file_equals(path, "second\n"));
    CHECK(count_temps("out.dat") == 0);

    /* A directory is refused at once, before anything is written. */
    const char *const sub = tmp_path("adir");
    CHECK(mkdir(sub, 0700) == 0);
    {
        char pre[300];
        snprintf(pre, sizeof pre, "%s: ", sub);
        CHECK_FAIL(rpr_outfile_open(sub, &out, &err), RPR_EIO, &err, pre,
                   "is a directory");
    }
    CHECK(out == NULL);
    CHECK(count_temps("adir") == 0);
    CHECK(stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode));
    rmdir(sub);

    /* A directory that does not exist. */
    out = (rpr_outfile *) &err;
    const char *const nodir = tmp_path("no/such/dir.dat");
    {
        char pre[300];
        snprintf(pre, sizeof pre,
                 "%s: cannot create a temporary file next to it: ", nodir);
        CHECK_FAIL(rpr_outfile_open(nodir, &out, &err), RPR_EIO, &err, pre,
                   strerror(ENOENT));
    }
    CHECK(out == NULL);

    /* A device is written in place: renaming over /dev/null would replace
     * the device node with a regular file (this happened once). */
    CHECK_OK(rpr_outfile_open("/dev/null", &out, &err), &err);
    if (out != NULL) {
        fputs("discarded\n", rpr_outfile_stream(out));
        CHECK_OK(rpr_outfile_commit(out, &err), &err);
    }
    CHECK(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));
    CHECK_OK(rpr_outfile_open("/dev/null", &out, &err), &err);
    rpr_outfile_discard(out);
    CHECK(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));
    /* A device that fails writes still reports the failure. */
    CHECK_OK(rpr_outfile_open("/dev/full", &out, &err), &err);
    if (out != NULL) {
        fputs("no space\n", rpr_outfile_stream(out));
        CHECK_STATUS(rpr_outfile_commit(out, &err), RPR_EIO);
    }
    CHECK_STATUS(rpr_outfile_open("", &out, NULL), RPR_EINVAL);
    CHECK_STATUS(rpr_outfile_open(NULL, &out, NULL), RPR_EINVAL);
    CHECK_STATUS(rpr_outfile_commit(NULL, NULL), RPR_EINVAL);
    unlink(path);
}

/* ------------------------------------------------------------ DCE data */

/* The shipped reference data read with the shapes its README states
 * (1634 geometries of 8 atoms C C Cl Cl H H H H, 10 lines per frame). */
static void test_dce(void)
{
    enum { NF = 1634, NA = 8 };
    rpr_error err;
    rpr_geoms *g = NULL;
    CHECK_OK(rpr_geoms_read_xyz("dce/geoms.xyz", &g, &err), &err);
    if (g == NULL)
        return;
    CHECK(rpr_geoms_nframes(g) == NF && rpr_geoms_natoms(g) == NA);
    const int want[NA] = {6, 6, 17, 17, 1, 1, 1, 1};
    CHECK(memcmp(rpr_geoms_numbers(g), want, sizeof want) == 0);
    CHECK(rpr_geoms_line(g, 0) == 1 && rpr_geoms_line(g, NF - 1) == 16331);
    /* First atom of frame 0: C -1.9448083537 1.0785559827 0.5306607894. */
    CHECK(rpr_geoms_xyz(g)[0] == -1.9448083537 / RPR_ANGSTROM_PER_BOHR);
    rpr_geoms_free(g);

    double *v = NULL;
    CHECK_OK(rpr_table_read("dce/energies.dat", NF, 1, &v, &err), &err);
    rpr_free(v);
    v = NULL;
    CHECK_OK(rpr_table_read("dce/dipoles.dat", NF, 3, &v, &err), &err);
    rpr_free(v);
    v = NULL;
    CHECK_OK(rpr_table_read("dce/polarizabilities.dat", NF, 6, &v, &err), &err);
    if (v != NULL)
        CHECK(v[0] == 47.73267234 && v[5] == 65.20529033);
    rpr_free(v);
    /* Wrong shapes are caught: one row too many expected, or dipoles read
     * as polarizabilities. */
    CHECK_FAIL(rpr_table_read("dce/dipoles.dat", NF + 1, 3, &v, &err),
               RPR_EPARSE, &err,
               "dce/dipoles.dat:1634: ", "ends after 1634 rows, expected 1635");
    CHECK_FAIL(rpr_table_read("dce/dipoles.dat", NF, 6, &v, &err), RPR_EPARSE,
               &err, "dce/dipoles.dat:1: ", "expected 6 columns, got 3");

    double *grad = NULL;
    unsigned char *present = NULL;
    CHECK_OK(
        rpr_gradients_read("dce/gradients.dat", NF, NA, &grad, &present, &err),
        &err);
    if (grad != NULL && present != NULL) {
        size_t n = 0;
        for (size_t k = 0; k < NF; k++)
            n += present[k];
        CHECK(n == NF);
        CHECK(grad[0] == 0.061214854150);
    }
    rpr_free(grad);
    rpr_free(present);
}

int main(void)
{
    snprintf(dir, sizeof dir, "test_io.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("test_io: mkdtemp");
        return 99;
    }
    if (access("dce/geoms.xyz", R_OK) != 0) {
        fprintf(stderr, "test_io: dce/geoms.xyz missing: run 'make "
                        "check' or 'make dce/geoms.xyz ...' first\n");
        return 99;
    }
    test_elements();
    test_xyz_good();
    test_xyz_bad();
    test_nx();
    test_geoms_new();
    test_xyz_write();
    test_table();
    test_gradients();
    test_outfile();
    test_dce();

    /* Remove the scratch files (kept on failure for a look). */
    if (test_failures == 0) {
        DIR *d = opendir(dir);
        for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
            if (e->d_name[0] != '.')
                unlink(tmp_path(e->d_name));
        if (d != NULL)
            closedir(d);
        rmdir(dir);
    }
    return test_exit("test_io");
}
