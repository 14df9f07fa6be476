/* test_nx_files.c - the Newton-X file layer of rpr-nx and rpr-md:
 * control.d, which_run_is_that, curr_surf, parameter files, atomic
 * output, and the property file keyed by time. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nx_files.h"
#include "testutil.h"

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(99);
    }
    fputs(text, f);
    fclose(f);
}

/* The whole file, or "" if it cannot be read (static buffer). */
static const char *get(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (f != NULL) {
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static size_t count_lines(const char *s, char first)
{
    size_t n = 0;
    for (const char *p = s; *p != '\0'; p = strchr(p, '\n') + 1) {
        n += *p == first;
        if (strchr(p, '\n') == NULL)
            break;
    }
    return n;
}

static void test_control(void)
{
    rpr_error err;
    nx_control c;
    /* The two example lines of the contract notes: 20 fields at setup, 19
     * in the loop. */
    put("control.d",
        "       8,       0,       1,       1,       0,       1,      0.5000,"
        "      0.0000,   5000.0000,      18,     200,       0,    0.00,"
        "       1,      0.0000,      0.0,       1,   0.500,   0.500,"
        "       0\n");
    CHECK_OK(nx_files_read_control("control.d", &c, &err), &err);
    CHECK(c.nat == 8 && c.istep == 0 && c.nstat == 1 && c.nstatdyn == 1);
    CHECK(c.dt_fs == 0.5 && c.t_fs == 0.0);
    put("control.d", "       8,       1,       2,       2,       0,       1,"
                     "      0.5000,      0.5000,   5000.0000,      18,     "
                     "200,       0,    0.00,       1,      0.0000,      0.0,"
                     "       1,   0.500,   0.500\n");
    CHECK_OK(nx_files_read_control("control.d", &c, &err), &err);
    CHECK(c.istep == 1 && c.nstat == 2 && c.nstatdyn == 2 && c.t_fs == 0.5);
    /* Extra fields and Fortran's D exponent are accepted. */
    put("control.d", "3,7,1,1,0,1,0.25D0,1.75,9,9,9,9,9,9,9,9,9,9,9,9,9,9\n");
    CHECK_OK(nx_files_read_control("control.d", &c, &err), &err);
    CHECK(c.nat == 3 && c.istep == 7 && c.dt_fs == 0.25 && c.t_fs == 1.75);

    /* Writer and reader agree (times with 4 decimals). */
    const nx_control w = {8, 123, 1, 1, 0.5, 61.5};
    CHECK_OK(nx_files_write_control("control.d", &w, 5000.0, &err), &err);
    CHECK_OK(nx_files_read_control("control.d", &c, &err), &err);
    CHECK(c.nat == 8 && c.istep == 123 && c.dt_fs == 0.5 && c.t_fs == 61.5);
    /* 20 fields, as rewrite_ctd writes them. */
    size_t commas = 0;
    for (const char *p = get("control.d"); *p != '\0'; p++)
        commas += *p == ',';
    CHECK(commas == 19);

    /* Every bad case names the file and the field. */
    static const char *const bad[] = {
        "8,0,1,1,0,1,0.5\n",                         /* 7 fields */
        "x,0,1,1,0,1,0.5,0.0\n",                     /* nat not a number */
        "8.0,0,1,1,0,1,0.5,0.0\n",                   /* nat not an integer */
        "-8,0,1,1,0,1,0.5,0.0\n",                    /* negative */
        "8,0,1,1,0,1,zero,0.0\n",                    /* dt */
        "8,0,1,1,0,1,0.5,nan\n",                     /* t */
        "0,0,1,1,0,1,0.5,0.0\n",                     /* nat 0 */
        "8,0,1,2,0,1,0.5,0.0\n",                     /* nstatdyn > nstat */
        "8,0,1,0,0,1,0.5,0.0\n",                     /* nstatdyn 0 */
        "8,0,1,1,0,1,-0.5,0.0\n",                    /* dt < 0 */
        "8,0,1,1,0,1,0.5,-1\n",                      /* t < 0 */
        "8,0,99999999999999999999999,1,0,1,0.5,0\n", /* overflow */
        "",                                          /* empty */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put("control.d", bad[i]);
        memset(&err, 0, sizeof err);
        CHECK_STATUS(nx_files_read_control("control.d", &c, &err), RPR_EPARSE);
        CHECK(strncmp(err.message, "control.d:1: ", 13) == 0);
    }
    FILE *f = fopen("control.d", "wb");
    fwrite("8,0,1,1,0,1,0.5,0\0junk\n", 1, 23, f); /* a NUL byte */
    fclose(f);
    CHECK_STATUS(nx_files_read_control("control.d", &c, &err), RPR_EPARSE);
    unlink("control.d");
    CHECK_STATUS(nx_files_read_control("control.d", &c, &err), RPR_EIO);
    CHECK(strstr(err.message, "control.d") != NULL);
    CHECK_STATUS(nx_files_write_control("nodir/control.d", &w, 1.0, &err),
                 RPR_EIO);
}

static void test_small_files(void)
{
    rpr_error err;
    nx_run run;
    static const char *const texts[] = {"initial run\n", "  first run  \n",
                                        "second run"};
    for (int i = 0; i < 3; i++) {
        put("which_run_is_that", texts[i]);
        CHECK_OK(nx_files_read_run("which_run_is_that", &run, &err), &err);
        CHECK(run == (nx_run) (i + 1));
    }
    put("which_run_is_that", "third run\n");
    CHECK_STATUS(nx_files_read_run("which_run_is_that", &run, &err),
                 RPR_EPARSE);
    CHECK(strstr(err.message, "third run") != NULL);
    unlink("which_run_is_that");
    CHECK_OK(nx_files_read_run("which_run_is_that", &run, &err), &err);
    CHECK(run == NX_RUN_UNKNOWN);
    for (int i = 1; i <= 3; i++) {
        CHECK_OK(nx_files_write_run("which_run_is_that", (nx_run) i, &err),
                 &err);
        CHECK_OK(nx_files_read_run("which_run_is_that", &run, &err), &err);
        CHECK(run == (nx_run) i);
    }
    CHECK_STATUS(nx_files_write_run("which_run_is_that", NX_RUN_UNKNOWN, &err),
                 RPR_EINVAL);
    CHECK_STATUS(nx_files_write_run("nodir/x", NX_RUN_FIRST, &err), RPR_EIO);
    unlink("which_run_is_that");
    CHECK(strcmp(nx_files_run_name(NX_RUN_SECOND), "second") == 0);
    CHECK(strcmp(nx_files_run_name((nx_run) 42), "unknown") == 0);

    size_t s;
    unlink("curr_surf");
    CHECK_OK(nx_files_read_state("curr_surf", 3, 2, &s, &err), &err);
    CHECK(s == 2); /* absent: the fallback */
    put("curr_surf", " 3\n");
    CHECK_OK(nx_files_read_state("curr_surf", 3, 1, &s, &err), &err);
    CHECK(s == 3);
    static const char *const bad[] = {"4\n", "0\n", "x\n", "1 2\n", "\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put("curr_surf", bad[i]);
        CHECK_STATUS(nx_files_read_state("curr_surf", 3, 1, &s, &err),
                     RPR_EPARSE);
        CHECK(strncmp(err.message, "curr_surf:1: ", 13) == 0);
    }
    unlink("curr_surf");
}

static void test_par(void)
{
    rpr_error err;
    nx_par *par = NULL;
    put("x.par", "# models\n"
                 "Energy = /abs/e.model\n"
                 "  dipole='d model.xml',   ! a namelist comment\n"
                 "&nxconfig\n"
                 "polarizability = \"p.xml\"\n"
                 "/\n"
                 "properties = no # inline comment\n"
                 "\n");
    CHECK_OK(nx_files_par_read("x.par", &par, &err), &err);
    if (par != NULL) {
        size_t line = 0;
        CHECK(strcmp(nx_files_par_path(par), "x.par") == 0);
        CHECK(nx_files_par_unused(par, &line) != NULL && line == 2);
        const char *v = nx_files_par_get(par, "ENERGY", &line);
        CHECK(v != NULL && strcmp(v, "/abs/e.model") == 0 && line == 2);
        v = nx_files_par_get(par, "dipole", &line);
        CHECK(v != NULL && strcmp(v, "d model.xml") == 0 && line == 3);
        v = nx_files_par_get(par, "polarizability", NULL);
        CHECK(v != NULL && strcmp(v, "p.xml") == 0);
        CHECK(nx_files_par_get(par, "missing", NULL) == NULL);
        CHECK(nx_files_par_get(par, "energ", NULL) == NULL);
        CHECK(nx_files_par_get(par, "energyy", NULL) == NULL);
        const char *u = nx_files_par_unused(par, &line);
        CHECK(u != NULL && strcmp(u, "properties") == 0 && line == 7);
        v = nx_files_par_get(par, "properties", NULL);
        CHECK(v != NULL && strcmp(v, "no") == 0);
        CHECK(nx_files_par_unused(par, NULL) == NULL);
    }
    nx_files_par_free(par);
    nx_files_par_free(NULL);

    static const struct {
        const char *text;
        const char *where;
    } bad[] = {
        {"a = 1\nb 2\n", "x.par:2: "},
        {"a = 1\n = 2\n", "x.par:2: "},
        {"a = \n", "x.par:1: "},
        {"a = 1\nA = 2\n", "x.par:2: "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put("x.par", bad[i].text);
        par = (nx_par *) &err; /* must be reset to NULL on failure */
        CHECK_STATUS(nx_files_par_read("x.par", &par, &err), RPR_EPARSE);
        CHECK(par == NULL);
        CHECK(strncmp(err.message, bad[i].where, strlen(bad[i].where)) == 0);
    }
    unlink("x.par");
    CHECK_STATUS(nx_files_par_read("x.par", &par, &err), RPR_EIO);
}

static void test_output(void)
{
    rpr_error err;
    test_rng rng = {20240611};
    /* High-entropy doubles over many magnitudes round-trip exactly. */
    enum { ROWS = 40, COLS = 3 };
    double v[ROWS * COLS];
    for (size_t i = 0; i < ROWS * COLS; i++)
        v[i] = test_rng_normal(&rng) *
               pow(10.0, (double) (int) (40 * test_rng_uniform(&rng)) - 20);
    v[0] = -0.0;
    v[1] = 5e-324; /* the smallest subnormal */
    v[2] = -1.7976931348623157e308;
    CHECK_OK(nx_files_write_matrix("grad", ROWS, COLS, v, &err), &err);
    FILE *f = fopen("grad", "r");
    size_t n = 0;
    double x;
    int bitequal = 1;
    while (f != NULL && fscanf(f, "%lf", &x) == 1) {
        bitequal =
            bitequal && n < ROWS * COLS && memcmp(&x, &v[n], sizeof x) == 0;
        n++;
    }
    if (f != NULL)
        fclose(f);
    CHECK(n == ROWS * COLS && bitequal);
    CHECK(count_lines(get("grad"), ' ') == ROWS);

    /* A non-finite value is refused before anything is written: the old
     * file survives whole. */
    char old[sizeof v * 4];
    snprintf(old, sizeof old, "%s", get("grad"));
    v[7] = NAN;
    CHECK_STATUS(nx_files_write_matrix("grad", ROWS, COLS, v, &err),
                 RPR_ENONFINITE);
    CHECK(strstr(err.message, "row 3") != NULL);
    CHECK(strcmp(get("grad"), old) == 0);
    v[7] = INFINITY;
    CHECK_STATUS(nx_files_write_matrix("grad", ROWS, COLS, v, &err),
                 RPR_ENONFINITE);
    CHECK_STATUS(nx_files_write_matrix("grad", 0, COLS, v, &err), RPR_EINVAL);
    CHECK_STATUS(nx_files_write_matrix("grad", ROWS, 0, v, &err), RPR_EINVAL);
    CHECK(strcmp(get("grad"), old) == 0);

    /* NULL values: zeros (nad_vectors). */
    CHECK_OK(nx_files_write_matrix("nad", 2, 3, NULL, &err), &err);
    CHECK(strcmp(get("nad"), "                        0                     "
                             "   0                        0\n"
                             "                        0                     "
                             "   0                        0\n") == 0);

    /* A directory is not replaced, and nothing is left behind. */
    CHECK(mkdir("adir", 0777) == 0);
    CHECK_STATUS(nx_files_replace("adir", "x", 1, &err), RPR_EIO);
    CHECK(strstr(err.message, "adir") != NULL);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "adir.tmp%ld", (long) getpid());
    CHECK(access(tmp, F_OK) != 0 && access("adir.swap", F_OK) != 0);
    rmdir("adir");
    /* Replacing twice: the content follows; with the swap companion the
     * old text ends up in "<path>.swap", else nothing is left behind. */
    CHECK_OK(nx_files_replace("fresh", "new\n", 4, &err), &err);
    CHECK(strcmp(get("fresh"), "new\n") == 0);
    CHECK_OK(nx_files_replace("fresh", "newer, longer\n", 14, &err), &err);
    CHECK(strcmp(get("fresh"), "newer, longer\n") == 0);
    CHECK_OK(nx_files_replace("fresh", "x\n", 2, &err), &err);
    CHECK(strcmp(get("fresh"), "x\n") == 0);
#ifdef NX_FILES_PORTABLE
    CHECK(access("fresh.swap", F_OK) != 0);
    /* A stale temporary of this process's name is replaced. */
    snprintf(tmp, sizeof tmp, "fresh.tmp%ld", (long) getpid());
    put(tmp, "stale");
    CHECK_OK(nx_files_replace("fresh", "new\n", 4, &err), &err);
    CHECK(strcmp(get("fresh"), "new\n") == 0 && access(tmp, F_OK) != 0);
#else
    if (access("fresh.swap", F_OK) == 0) /* RENAME_EXCHANGE worked here */
        CHECK(strcmp(get("fresh.swap"), "newer, longer\n") == 0);
    /* A stale companion is simply overwritten. */
    put("fresh.swap", "stale text, much longer than the new one\n");
    CHECK_OK(nx_files_replace("fresh", "new\n", 4, &err), &err);
    CHECK(strcmp(get("fresh"), "new\n") == 0);
#endif
    CHECK_STATUS(nx_files_replace("nodir/x", "x", 1, &err), RPR_EIO);
    unlink("grad");
    unlink("grad.swap");
    unlink("nad");
    unlink("fresh");
    unlink("fresh.swap");
}

static nx_record record(double t, size_t step, nx_run run, double e)
{
    nx_record r;
    r.t_fs = t;
    r.step = step;
    r.run = run;
    r.energy = e;
    for (int i = 0; i < 3; i++)
        r.mu[i] = e * (i + 1) / 7.0;
    for (int i = 0; i < 6; i++)
        r.alpha[i] = 40.0 + i + e / 3.0;
    r.gap12 = 0.0123456789;
    r.gap23 = -NAN; /* no model: written "nan", never "-nan" */
    r.sign_min = 0.5;
    r.w_principal = 1.0 / 3.0;
    r.w_kabsch = 2.0 / 3.0;
    r.kabsch_rel_margin = 0.7071067811865476;
    r.blend_fallback = 1.0;
    r.w_relabel = 0.1875; /* 3/16: exact in binary and in %.17g */
    return r;
}

/* Read the property file back: every key once, in increasing order, and
 * the energies given. */
static void check_props(const char *path, size_t n, const double *t,
                        const double *e)
{
    rpr_error err;
    nx_record *r = NULL;
    size_t got = 0;
    CHECK_OK(nx_files_props_read(path, &r, &got, &err), &err);
    CHECK(got == n);
    for (size_t i = 0; i < n && i < got; i++) {
        CHECK(nx_files_time_key(r[i].t_fs) == nx_files_time_key(t[i]));
        CHECK(r[i].energy == e[i]); /* %.17g round-trips exactly */
        CHECK(isnan(r[i].gap23) && r[i].w_kabsch == 2.0 / 3.0);
        CHECK(r[i].kabsch_rel_margin == 0.7071067811865476 &&
              r[i].blend_fallback == 1.0 && r[i].w_relabel == 0.1875);
    }
    free(r);
}

static void test_props(void)
{
    rpr_error err;
    const char *const P = "props.dat";
    unlink(P);
    nx_record r = record(0.0, 0, NX_RUN_INITIAL, -997.071168511244);
    CHECK_OK(nx_files_props_upsert(P, &r, &err), &err);
    CHECK(strncmp(get(P), nx_files_props_header(),
                  strlen(nx_files_props_header())) == 0);
    CHECK(strstr(get(P), "\n0.0000 0 initial -997.07116851124397 ") != NULL);
    CHECK(strstr(get(P), " nan ") != NULL && strstr(get(P), "-nan") == NULL);

    /* Appends in time order. */
    enum { N = 60 }; /* records of ~300 bytes: well past the 4 KiB tail */
    double t[N], e[N];
    for (size_t i = 0; i < N; i++) {
        t[i] = 0.5 * (double) i;
        e[i] = -997.0 - 1e-3 * (double) i;
        r = record(t[i], i, i == 0 ? NX_RUN_INITIAL : NX_RUN_FIRST, e[i]);
        CHECK_OK(nx_files_props_upsert(P, &r, &err), &err);
    }
    check_props(P, N, t, e);

    /* A second run at the last time replaces the last record. */
    e[N - 1] = -996.5;
    r = record(t[N - 1], N - 1, NX_RUN_SECOND, e[N - 1]);
    CHECK_OK(nx_files_props_upsert(P, &r, &err), &err);
    check_props(P, N, t, e);
    CHECK(strstr(get(P), " second ") != NULL);

    /* A restart from an earlier step replaces that one in place, keeping
     * the order; the times agree to control.d's 4 decimals only. */
    e[10] = -990.25;
    r = record(t[10] + 3e-5, 10, NX_RUN_INITIAL, e[10]);
    CHECK_OK(nx_files_props_upsert(P, &r, &err), &err);
    check_props(P, N, t, e);
    /* 1e-4 fs apart is another time. */
    CHECK(nx_files_time_key(0.5) != nx_files_time_key(0.5001));
    CHECK(nx_files_time_key(0.5) == nx_files_time_key(0.50004));

    /* An earlier time not yet present is inserted in order. */
    double t2[N + 1], e2[N + 1];
    for (size_t i = 0, j = 0; i < N + 1; i++) {
        if (i == 3) {
            t2[i] = 1.25;
            e2[i] = -1.0;
        } else {
            t2[i] = t[j];
            e2[i] = e[j++];
        }
    }
    r = record(1.25, 0, NX_RUN_FIRST, -1.0);
    CHECK_OK(nx_files_props_upsert(P, &r, &err), &err);
    check_props(P, N + 1, t2, e2);

    /* A record cut by a crash (no line break) is dropped, then the next
     * one appended. */
    FILE *f = fopen(P, "a");
    fputs("31.0000 62 first -997.1 0.1", f);
    fclose(f);
    r = record(30.5, 61, NX_RUN_FIRST, -2.0);
    CHECK_OK(nx_files_props_upsert(P, &r, &err), &err);
    {
        double t3[N + 2], e3[N + 2];
        memcpy(t3, t2, sizeof t2);
        memcpy(e3, e2, sizeof e2);
        t3[N + 1] = 30.5;
        e3[N + 1] = -2.0;
        check_props(P, N + 2, t3, e3);
    }
    CHECK(strstr(get(P), "31.0000") == NULL);
    CHECK(count_lines(get(P), '#') == 3);

    /* A header cut by a crash is started afresh. */
    put(P, "# rpr-nx prop");
    r = record(0.0, 0, NX_RUN_INITIAL, -5.0);
    CHECK_OK(nx_files_props_upsert(P, &r, &err), &err);
    check_props(P, 1, (const double[]){0.0}, (const double[]){-5.0});

    /* Someone else's file is refused and left alone. */
    put(P, "time energy\n0 1\n");
    CHECK_STATUS(nx_files_props_upsert(P, &r, &err), RPR_EPARSE);
    CHECK(strncmp(err.message, "props.dat:1: not an rpr-nx", 26) == 0);
    CHECK(strcmp(get(P), "time energy\n0 1\n") == 0);
    /* A file of an older format (columns fewer) is not appended to: its
     * header would no longer describe the records. */
    static const char fmt1[] =
        "# rpr-nx properties, format 1\n# columns: t_fs step run\n";
    static const char fmt2[] =
        "# rpr-nx properties, format 2\n# columns: t_fs step run\n";
    put(P, fmt2);
    CHECK_STATUS(nx_files_props_upsert(P, &r, &err), RPR_EPARSE);
    CHECK(strstr(err.message, "format 3") != NULL);
    CHECK(strcmp(get(P), fmt2) == 0);
    put(P, fmt1);
    CHECK_STATUS(nx_files_props_upsert(P, &r, &err), RPR_EPARSE);
    CHECK(strstr(err.message, "format 3") != NULL);
    CHECK(strcmp(get(P), fmt1) == 0);
    nx_record *rr = NULL;
    size_t n;
    CHECK_STATUS(nx_files_props_read(P, &rr, &n, &err), RPR_EPARSE);
    /* A damaged record line. */
    char text[2048];
    snprintf(text, sizeof text, "%sx 1 first 1\n", nx_files_props_header());
    put(P, text);
    CHECK_STATUS(nx_files_props_upsert(P, &r, &err), RPR_EPARSE);
    CHECK_STATUS(nx_files_props_read(P, &rr, &n, &err), RPR_EPARSE);
    CHECK(strncmp(err.message, "props.dat:4: ", 13) == 0);
    unlink(P);
    unlink("props.dat.swap");
    CHECK_STATUS(nx_files_props_read(P, &rr, &n, &err), RPR_EIO);
    CHECK_STATUS(nx_files_props_upsert("nodir/p", &r, &err), RPR_EIO);
}

int main(void)
{
    /* Scratch directory in the build tree. */
    char dir[] = "test_nx_files.XXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
        perror("test_nx_files: scratch directory");
        return 99;
    }
    test_control();
    test_small_files();
    test_par();
    test_output();
    test_props();
    if (chdir("..") == 0 && test_failures == 0)
        rmdir(dir); /* fails, harmlessly, if a file was left behind */
#ifdef NX_FILES_PORTABLE
    return test_exit("test_nx_files (portable replace)");
#else
    return test_exit("test_nx_files");
#endif
}
