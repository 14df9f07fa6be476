/*
 * nx_files.c - reading and writing the files of the Newton-X step protocol
 * (control.d, which_run_is_that, curr_surf, key = value parameter files,
 * epot/grad/grad.all/nad_vectors, and rpr's property file).
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nx_files.h"

rpr_status nx_files_fail(rpr_error *err, rpr_status status, const char *fmt,
                         ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
        err->src_file = NULL;
        err->src_line = 0;
    }
    return status;
}

/* ------------------------------------------------------------ helpers */

/* Read a whole (small) file into a NUL-terminated buffer. */
static rpr_status nx_files_slurp(const char *path, char **text, size_t *len,
                                 rpr_error *err)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    rpr_status st = RPR_OK;
    if (buf == NULL) {
        st = nx_files_fail(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    for (;;) {
        if (cap - n < 2) {
            if (cap > SIZE_MAX / 2) {
                st = nx_files_fail(err, RPR_ENOMEM, "%s: too large", path);
                goto cleanup;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                st = nx_files_fail(err, RPR_ENOMEM, "%s: out of memory", path);
                goto cleanup;
            }
            buf = nb;
            cap *= 2;
        }
        const size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        st = nx_files_fail(err, RPR_EIO, "%s: read error", path);
        goto cleanup;
    }
    if (memchr(buf, '\0', n) != NULL) {
        st = nx_files_fail(err, RPR_EPARSE, "%s: contains a NUL byte", path);
        goto cleanup;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    buf = NULL;
cleanup:
    free(buf);
    fclose(f);
    return st;
}

static char *nx_files_trim(char *s)
{
    while (*s != '\0' && isspace((unsigned char) *s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char) s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A plain non-negative decimal integer (digits only, after trimming). */
static int nx_files_parse_size(const char *s, size_t *out)
{
    size_t v = 0;
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        const size_t d = (size_t) (*s - '0');
        if (v > (SIZE_MAX - d) / 10)
            return 0;
        v = 10 * v + d;
    }
    *out = v;
    return 1;
}

/* A finite real; Fortran's 'D' exponent is accepted as 'E'. */
static int nx_files_parse_real(const char *s, double *out)
{
    char buf[64];
    const size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n + 1);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 'd' || buf[i] == 'D')
            buf[i] = 'e';
    char *end;
    errno = 0;
    const double v = strtod(buf, &end);
    if (end == buf || *end != '\0' || errno == ERANGE || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* Write all of buf to fd (retrying short writes). */
static int nx_files_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        const ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        len -= (size_t) w;
    }
    return 0;
}

/* ------------------------------------------------------------ control.d */

enum { NX_CONTROL_MIN_FIELDS = 8, NX_CONTROL_MAX_FIELDS = 64 };

rpr_status nx_files_parse_control(char *line, const char *path, nx_control *ctl,
                                  rpr_error *err)
{
    static const char *const names[] = {"nat",   "istep", "nstat", "nstatdyn",
                                        "ndamp", "kt",    "dt",    "t"};
    char *nl = strchr(line, '\n');
    if (nl != NULL)
        *nl = '\0';
    char *fields[NX_CONTROL_MAX_FIELDS];
    size_t nf = 0;
    for (char *p = line; nf < NX_CONTROL_MAX_FIELDS;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        fields[nf++] = nx_files_trim(p);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (nf < NX_CONTROL_MIN_FIELDS)
        return nx_files_fail(
            err, RPR_EPARSE,
            "%s:1: %zu comma-separated field(s), need at least %d (nat, "
            "istep, nstat, nstatdyn, ndamp, kt, dt, t)",
            path, nf, NX_CONTROL_MIN_FIELDS);
    size_t iv[4];
    for (size_t i = 0; i < 4; i++)
        if (!nx_files_parse_size(fields[i], &iv[i]))
            return nx_files_fail(err, RPR_EPARSE,
                                 "%s:1: field %zu (%s) is \"%.40s\", not a "
                                 "non-negative integer",
                                 path, i + 1, names[i], fields[i]);
    double rv[2];
    for (size_t i = 0; i < 2; i++)
        if (!nx_files_parse_real(fields[6 + i], &rv[i]))
            return nx_files_fail(err, RPR_EPARSE,
                                 "%s:1: field %zu (%s) is \"%.40s\", not a "
                                 "finite number",
                                 path, 7 + i, names[6 + i], fields[6 + i]);
    if (iv[0] == 0 || iv[2] == 0 || iv[3] < 1 || iv[3] > iv[2] ||
        !(rv[0] > 0) || !(rv[1] >= 0))
        return nx_files_fail(err, RPR_EPARSE,
                             "%s:1: inconsistent values: nat %zu, nstat %zu, "
                             "nstatdyn %zu, dt %g fs, t %g fs (need nat >= 1, "
                             "1 <= nstatdyn <= nstat, dt > 0, t >= 0)",
                             path, iv[0], iv[2], iv[3], rv[0], rv[1]);
    ctl->nat = iv[0];
    ctl->istep = iv[1];
    ctl->nstat = iv[2];
    ctl->nstatdyn = iv[3];
    ctl->dt_fs = rv[0];
    ctl->t_fs = rv[1];
    return RPR_OK;
}

rpr_status nx_files_read_control(const char *path, nx_control *ctl,
                                 rpr_error *err)
{
    char *text = NULL;
    size_t len;
    rpr_status st = nx_files_slurp(path, &text, &len, err);
    if (st != RPR_OK)
        return st;
    st = nx_files_parse_control(text, path, ctl, err);
    free(text);
    return st;
}

rpr_status nx_files_overwrite(const char *path, const char *text, size_t len,
                              rpr_error *err)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(errno));
    int e = 0;
    for (size_t done = 0; done < len && e == 0;) {
        const ssize_t w = pwrite(fd, text + done, len - done, (off_t) done);
        if (w < 0 && errno != EINTR)
            e = errno;
        else if (w > 0)
            done += (size_t) w;
    }
    if (e == 0 && ftruncate(fd, (off_t) len) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e != 0)
        return nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(e));
    return RPR_OK;
}

rpr_status nx_files_write_control(const char *path, const nx_control *ctl,
                                  double tmax_fs, rpr_error *err)
{
    /* Field order and widths of colib_perl.pm rewrite_ctd: nat istep nstat
     * nstatdyn ndamp kt (%8d), dt t tmax (%12.4f), nintc mem nxrestart
     * (%8d), thres (%8.2f), killstat (%8d), timekill (%12.4f), prog
     * (%9.1f), lvprt (%8d), etot_jump etot_drift (%8.3f), zpecorr (%8d). */
    char buf[512];
    const int n = snprintf(
        buf, sizeof buf,
        "%8zu,%8zu,%8zu,%8zu,%8d,%8d,%12.4f,%12.4f,%12.4f,%8lld,%8d,%8d,"
        "%8.2f,%8d,%12.4f,%9.1f,%8d,%8.3f,%8.3f,%8d\n",
        ctl->nat, ctl->istep, ctl->nstat, ctl->nstatdyn, 0, 1, ctl->dt_fs,
        ctl->t_fs, tmax_fs, 3 * (long long) ctl->nat - 6, 200, 0, 0.0, 1, 0.0,
        0.0, 1, 0.5, 0.5, 0);
    if (n < 0 || (size_t) n >= sizeof buf)
        return nx_files_fail(err, RPR_EINVAL, "%s: values too large", path);
    return nx_files_overwrite(path, buf, (size_t) n, err);
}

/* ------------------------------------------------------------ small files */

static const char *const nx_files_run_texts[] = {NULL, "initial run",
                                                 "first run", "second run"};
static const char *const nx_files_run_names[] = {"unknown", "initial", "first",
                                                 "second"};

const char *nx_files_run_name(nx_run run)
{
    if ((size_t) run < sizeof nx_files_run_names / sizeof *nx_files_run_names)
        return nx_files_run_names[run];
    return "unknown";
}

rpr_status nx_files_read_run(const char *path, nx_run *run, rpr_error *err)
{
    *run = NX_RUN_UNKNOWN;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return RPR_OK;
    char *text;
    size_t len;
    const rpr_status st = nx_files_slurp(path, &text, &len, err);
    if (st != RPR_OK)
        return st;
    const char *t = nx_files_trim(text);
    for (size_t i = 1;
         i < sizeof nx_files_run_texts / sizeof *nx_files_run_texts; i++)
        if (strcmp(t, nx_files_run_texts[i]) == 0) {
            *run = (nx_run) i;
            free(text);
            return RPR_OK;
        }
    nx_files_fail(err, RPR_EPARSE,
                  "%s:1: \"%.40s\" is not \"initial run\", \"first run\" or "
                  "\"second run\"",
                  path, t);
    free(text);
    return RPR_EPARSE;
}

rpr_status nx_files_write_run(const char *path, nx_run run, rpr_error *err)
{
    if (run == NX_RUN_UNKNOWN ||
        (size_t) run >= sizeof nx_files_run_texts / sizeof *nx_files_run_texts)
        return nx_files_fail(err, RPR_EINVAL, "%s: no such run (%d)", path,
                             (int) run);
    char buf[32];
    const int n = snprintf(buf, sizeof buf, "%s\n", nx_files_run_texts[run]);
    return nx_files_overwrite(path, buf, (size_t) n, err);
}

rpr_status nx_files_read_state(const char *path, size_t nstat, size_t fallback,
                               size_t *state, rpr_error *err)
{
    *state = fallback;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return RPR_OK;
    char *text;
    size_t len;
    const rpr_status st = nx_files_slurp(path, &text, &len, err);
    if (st != RPR_OK)
        return st;
    size_t s = 0;
    const char *t = nx_files_trim(text);
    if (!nx_files_parse_size(t, &s) || s < 1 || s > nstat) {
        nx_files_fail(err, RPR_EPARSE,
                      "%s:1: \"%.40s\" is not a state number in 1..%zu", path,
                      t, nstat);
        free(text);
        return RPR_EPARSE;
    }
    free(text);
    *state = s;
    return RPR_OK;
}

/* ------------------------------------------------------------ key = value */

typedef struct nx_par_entry {
    char *key; /* lower case; points into text */
    char *value;
    size_t line;
    int used;
} nx_par_entry;

struct nx_par {
    char *path;
    char *text; /* the file, cut into keys and values in place */
    nx_par_entry *entries;
    size_t n;
};

void nx_files_par_free(nx_par *par)
{
    if (par == NULL)
        return;
    free(par->path);
    free(par->text);
    free(par->entries);
    free(par);
}

/* Cut an inline comment: '#' or '!' preceded by whitespace. */
static void nx_files_cut_comment(char *s)
{
    for (char *p = s + 1; *p != '\0'; p++)
        if ((*p == '#' || *p == '!') && isspace((unsigned char) p[-1])) {
            *p = '\0';
            return;
        }
}

rpr_status nx_files_par_read(const char *path, nx_par **par, rpr_error *err)
{
    *par = NULL;
    nx_par *p = calloc(1, sizeof *p);
    if (p == NULL)
        return nx_files_fail(err, RPR_ENOMEM, "%s: out of memory", path);
    size_t len;
    rpr_status st = nx_files_slurp(path, &p->text, &len, err);
    if (st != RPR_OK)
        goto cleanup;
    p->path = malloc(strlen(path) + 1);
    if (p->path == NULL) {
        st = nx_files_fail(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    strcpy(p->path, path);
    size_t nlines = 1;
    for (const char *c = p->text; *c != '\0'; c++)
        nlines += *c == '\n';
    p->entries = calloc(nlines, sizeof *p->entries);
    if (p->entries == NULL) {
        st = nx_files_fail(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    char *line = p->text;
    for (size_t lineno = 1; line != NULL; lineno++) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *s = nx_files_trim(line);
        line = next;
        if (*s == '\0' || *s == '#' || *s == '!' || *s == '&' ||
            strcmp(s, "/") == 0)
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            st =
                nx_files_fail(err, RPR_EPARSE,
                              "%s:%zu: expected \"key = value\", got \"%.60s\"",
                              path, lineno, s);
            goto cleanup;
        }
        *eq = '\0';
        char *key = nx_files_trim(s);
        char *value = eq + 1;
        nx_files_cut_comment(value);
        value = nx_files_trim(value);
        size_t vn = strlen(value);
        if (vn > 0 && value[vn - 1] == ',')
            value[--vn] = '\0';
        value = nx_files_trim(value);
        vn = strlen(value);
        if (vn >= 2 && (value[0] == '\'' || value[0] == '"') &&
            value[vn - 1] == value[0]) {
            value[vn - 1] = '\0';
            value++;
        }
        if (*key == '\0' || *value == '\0') {
            st = nx_files_fail(err, RPR_EPARSE, "%s:%zu: empty %s", path,
                               lineno, *key == '\0' ? "key" : "value");
            goto cleanup;
        }
        for (char *c = key; *c != '\0'; c++)
            *c = (char) tolower((unsigned char) *c);
        for (size_t i = 0; i < p->n; i++)
            if (strcmp(p->entries[i].key, key) == 0) {
                st = nx_files_fail(err, RPR_EPARSE,
                                   "%s:%zu: \"%s\" given again (first on "
                                   "line %zu)",
                                   path, lineno, key, p->entries[i].line);
                goto cleanup;
            }
        p->entries[p->n++] = (nx_par_entry){key, value, lineno, 0};
    }
    *par = p;
    p = NULL;
cleanup:
    nx_files_par_free(p);
    return st;
}

const char *nx_files_par_get(nx_par *par, const char *key, size_t *line)
{
    for (size_t i = 0; i < par->n; i++) {
        const char *a = par->entries[i].key;
        const char *b = key;
        while (*a != '\0' && *a == tolower((unsigned char) *b)) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            par->entries[i].used = 1;
            if (line != NULL)
                *line = par->entries[i].line;
            return par->entries[i].value;
        }
    }
    return NULL;
}

const char *nx_files_par_unused(const nx_par *par, size_t *line)
{
    for (size_t i = 0; i < par->n; i++)
        if (!par->entries[i].used) {
            if (line != NULL)
                *line = par->entries[i].line;
            return par->entries[i].key;
        }
    return NULL;
}

const char *nx_files_par_path(const nx_par *par)
{
    return par->path;
}

/* ------------------------------------------------------------ output */

/*
 * The fast way, where the system has it: the new text goes into a
 * companion file "<path>.swap" that is kept from call to call and
 * overwritten in place, then renameat2(RENAME_EXCHANGE) swaps the two
 * names atomically (the old text ends up in the companion).  No inode is
 * created or freed and nothing is renamed over a file: on ext4 a new file
 * per call cost 0.2 ms (its inode allocator skips recently freed inodes),
 * and renaming over a file makes ext4 flush the data (auto_da_alloc, about
 * 1 ms).  Returns 1 if done, 0 if the caller must fall back (no
 * RENAME_EXCHANGE here, or a file system without it), -1 with *e set on
 * a real error.
 */
static int nx_files_swap(const char *path, const char *swap, const char *text,
                         size_t len, int *e)
{
#if defined(RENAME_EXCHANGE) && !defined(NX_FILES_PORTABLE)
    rpr_error ignored;
    if (nx_files_overwrite(swap, text, len, &ignored) != RPR_OK)
        return 0; /* the portable way reports what is wrong */
    if (renameat2(AT_FDCWD, swap, AT_FDCWD, path, RENAME_EXCHANGE) == 0)
        return 1;
    if (errno == ENOENT) { /* the first call: nothing to swap with */
        if (rename(swap, path) == 0)
            return 1;
        *e = errno;
        unlink(swap);
        return -1;
    }
    unlink(swap);
    return 0;
#else
    (void) path, (void) swap, (void) text, (void) len, (void) e;
    return 0;
#endif
}

rpr_status nx_files_replace(const char *path, const char *text, size_t len,
                            rpr_error *err)
{
    const size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (tmp == NULL)
        return nx_files_fail(err, RPR_ENOMEM, "%s: out of memory", path);
    /* Only a regular file is replaced (an exchange would swap anything). */
    struct stat sb;
    if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        free(tmp);
        return nx_files_fail(err, RPR_EIO, "%s: not a regular file", path);
    }
    int e = 0;
    snprintf(tmp, plen + 32, "%s.swap", path);
    const int swapped = nx_files_swap(path, tmp, text, len, &e);
    if (swapped != 0) {
        free(tmp);
        if (swapped < 0)
            return nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(e));
        return RPR_OK;
    }
    /* Portable: a temporary file with a name unique to this process (one
     * left by a crashed process with the same pid is removed). */
    snprintf(tmp, plen + 32, "%s.tmp%ld", path, (long) getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        e = errno;
        free(tmp);
        return nx_files_fail(err, RPR_EIO,
                             "%s: cannot create a temporary file: %s", path,
                             strerror(e));
    }
    if (nx_files_write_all(fd, text, len) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    /* Remove the old name first: renaming over an existing file makes
     * ext4 flush the new data (see nx_files_swap).  In between there is no
     * file, never a partial one; nothing reads it while rpr-nx runs. */
    if (e == 0 && unlink(path) != 0 && errno != ENOENT)
        e = errno;
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0) {
        unlink(tmp);
        free(tmp);
        return nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(e));
    }
    free(tmp);
    return RPR_OK;
}

/* Longest "%.17g" of a double ("-2.2250738585072014e-308") plus a blank. */
enum { NX_NUMBER_WIDTH = 26 };

rpr_status nx_files_write_matrix(const char *path, size_t nrows, size_t ncols,
                                 const double *values, rpr_error *err)
{
    if (ncols == 0 || nrows == 0 ||
        nrows > SIZE_MAX / ncols / (NX_NUMBER_WIDTH + 1))
        return nx_files_fail(err, RPR_EINVAL, "%s: bad size %zu x %zu", path,
                             nrows, ncols);
    if (values != NULL)
        for (size_t i = 0; i < nrows * ncols; i++)
            if (!isfinite(values[i]))
                return nx_files_fail(err, RPR_ENONFINITE,
                                     "%s: value %zu of row %zu is %g; "
                                     "nothing written",
                                     path, i % ncols + 1, i / ncols + 1,
                                     values[i]);
    const size_t cap = nrows * ncols * (NX_NUMBER_WIDTH + 1) + 1;
    char stackbuf[4096];
    char *buf = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (buf == NULL)
        return nx_files_fail(err, RPR_ENOMEM, "%s: out of memory", path);
    size_t n = 0;
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const double v = values != NULL ? values[r * ncols + c] : 0.0;
            n += (size_t) snprintf(buf + n, cap - n, " %24.17g", v);
        }
        buf[n++] = '\n';
    }
    const rpr_status st = nx_files_replace(path, buf, n, err);
    if (buf != stackbuf)
        free(buf);
    return st;
}

/* ------------------------------------------------------------ properties */

static const char nx_files_header[] =
    "# rpr-nx properties, format 3\n"
    "# columns: t_fs step run energy mu_x mu_y mu_z alpha_xx alpha_xy "
    "alpha_xz alpha_yy alpha_yz alpha_zz gap12 gap23 sign_min w_principal "
    "w_kabsch kabsch_rel_margin blend_fallback w_relabel\n"
    "# units: t_fs fs; energy hartree; mu e*bohr (lab frame); alpha bohr^3 "
    "(lab frame); the rest dimensionless\n";

enum {
    NX_RECORD_FIELDS = 21,
    NX_RECORD_NUMBERS = 18, /* energy .. w_relabel */
    NX_RECORD_MAX = 1024,   /* bytes of a formatted record, generous */
    NX_TAIL = 4096          /* bytes read from the end of the file */
};

const char *nx_files_props_header(void)
{
    return nx_files_header;
}

long long nx_files_time_key(double t_fs)
{
    return llround(t_fs * 1e4);
}

static size_t nx_files_header_line1_len(void)
{
    return (size_t) (strchr(nx_files_header, '\n') - nx_files_header) + 1;
}

static void nx_files_record_numbers(const nx_record *rec, double v[])
{
    v[0] = rec->energy;
    for (int i = 0; i < 3; i++)
        v[1 + i] = rec->mu[i];
    for (int i = 0; i < 6; i++)
        v[4 + i] = rec->alpha[i];
    v[10] = rec->gap12;
    v[11] = rec->gap23;
    v[12] = rec->sign_min;
    v[13] = rec->w_principal;
    v[14] = rec->w_kabsch;
    v[15] = rec->kabsch_rel_margin;
    v[16] = rec->blend_fallback;
    v[17] = rec->w_relabel;
}

/* The record as one line with its line break; returns the length. */
static size_t nx_files_format_record(const nx_record *rec, char *buf,
                                     size_t cap)
{
    double v[NX_RECORD_NUMBERS];
    nx_files_record_numbers(rec, v);
    size_t n = (size_t) snprintf(buf, cap, "%.4f %zu %s", rec->t_fs, rec->step,
                                 nx_files_run_name(rec->run));
    for (int i = 0; i < NX_RECORD_NUMBERS; i++)
        /* printf may write "-nan"; the format says "nan". */
        n += isnan(v[i]) ? (size_t) snprintf(buf + n, cap - n, " nan")
                         : (size_t) snprintf(buf + n, cap - n, " %.17g", v[i]);
    buf[n++] = '\n';
    buf[n] = '\0';
    return n;
}

/* The time key of a record line (its first field); 0 if unreadable. */
static int nx_files_line_key(const char *line, size_t len, long long *key)
{
    char buf[64];
    size_t n = 0;
    while (n < len && n < sizeof buf - 1 && !isspace((unsigned char) line[n]))
        n++;
    memcpy(buf, line, n);
    buf[n] = '\0';
    double t;
    if (!nx_files_parse_real(buf, &t))
        return 0;
    *key = nx_files_time_key(t);
    return 1;
}

/* Rewrite the whole file with rec in its place (the rare path). */
static rpr_status nx_files_props_rewrite(const char *path, const char *line,
                                         size_t linelen, long long key,
                                         rpr_error *err)
{
    char *text = NULL, *out = NULL;
    size_t len;
    rpr_status st = nx_files_slurp(path, &text, &len, err);
    if (st != RPR_OK)
        return st;
    out = malloc(len + linelen + sizeof nx_files_header);
    if (out == NULL) {
        st = nx_files_fail(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    size_t n = 0;
    int inserted = 0;
    size_t lineno = 0;
    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        lineno++;
        if (nl == NULL) /* a write cut by a crash: drop it */
            break;
        const size_t l = (size_t) (nl - p) + 1;
        int keep = 1;
        if (*p != '#') {
            long long k;
            if (!nx_files_line_key(p, l, &k)) {
                st = nx_files_fail(err, RPR_EPARSE,
                                   "%s:%zu: no time in the first field", path,
                                   lineno);
                goto cleanup;
            }
            if (!inserted && k >= key) {
                memcpy(out + n, line, linelen);
                n += linelen;
                inserted = 1;
            }
            keep = k != key;
        }
        if (keep) {
            memcpy(out + n, p, l);
            n += l;
        }
        p = nl + 1;
    }
    if (!inserted) {
        memcpy(out + n, line, linelen);
        n += linelen;
    }
    st = nx_files_replace(path, out, n, err);
cleanup:
    free(out);
    free(text);
    return st;
}

rpr_status nx_files_props_upsert(const char *path, const nx_record *rec,
                                 rpr_error *err)
{
    char line[NX_RECORD_MAX];
    const size_t linelen = nx_files_format_record(rec, line, sizeof line);
    const long long key = nx_files_time_key(rec->t_fs);
    char tail[NX_TAIL + 1];
    rpr_status st = RPR_OK;

    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    const size_t size = (size_t) sb.st_size;
    const size_t hlen = sizeof nx_files_header - 1;
    /* A file shorter than the header that holds its beginning is the
     * first write cut by a crash: start afresh. */
    if (size < hlen &&
        (size == 0 || (pread(fd, tail, size, 0) == (ssize_t) size &&
                       memcmp(tail, nx_files_header, size) == 0))) {
        /* New file: header and record in one write. */
        char first[sizeof nx_files_header + NX_RECORD_MAX];
        memcpy(first, nx_files_header, hlen);
        memcpy(first + hlen, line, linelen);
        if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0 ||
            nx_files_write_all(fd, first, hlen + linelen) != 0)
            st = nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    /* Never overwrite a file that is not ours. */
    const size_t h1 = nx_files_header_line1_len();
    if (size < h1 || pread(fd, tail, h1, 0) != (ssize_t) h1 ||
        memcmp(tail, nx_files_header, h1) != 0) {
        st = nx_files_fail(err, RPR_EPARSE,
                           "%s:1: not an rpr-nx property file of this "
                           "format (the first line must be \"# rpr-nx "
                           "properties, format 3\"; formats 1 and 2 lack "
                           "columns); move it away",
                           path);
        goto cleanup;
    }
    const size_t off = size > NX_TAIL ? size - NX_TAIL : 0;
    const size_t tl = size - off;
    if (pread(fd, tail, tl, (off_t) off) != (ssize_t) tl) {
        st = nx_files_fail(err, RPR_EIO, "%s: short read", path);
        goto cleanup;
    }
    /* end: one past the last line break.  A longer last line than the
     * tail holds, or a partial line, goes to the general path. */
    size_t end = tl;
    while (end > 0 && tail[end - 1] != '\n')
        end--;
    if (end == 0 || end != tl)
        goto rewrite;
    size_t start = end - 1;
    while (start > 0 && tail[start - 1] != '\n')
        start--;
    if (start == 0 && off > 0)
        goto rewrite;
    if (tail[start] != '#') {
        long long last;
        if (!nx_files_line_key(tail + start, end - start, &last)) {
            st = nx_files_fail(err, RPR_EPARSE,
                               "%s: last record has no time in its first "
                               "field",
                               path);
            goto cleanup;
        }
        if (last >= key)
            goto rewrite;
    }
    /* The common case: a later time; append at the end. */
    if (lseek(fd, 0, SEEK_END) < 0 || nx_files_write_all(fd, line, linelen))
        st = nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(errno));
    goto cleanup;
rewrite:
    st = nx_files_props_rewrite(path, line, linelen, key, err);
cleanup:
    if (close(fd) != 0 && st == RPR_OK)
        st = nx_files_fail(err, RPR_EIO, "%s: %s", path, strerror(errno));
    return st;
}

rpr_status nx_files_props_read(const char *path, nx_record **recs, size_t *n,
                               rpr_error *err)
{
    *recs = NULL;
    *n = 0;
    char *text = NULL;
    size_t len;
    nx_record *r = NULL;
    rpr_status st = nx_files_slurp(path, &text, &len, err);
    if (st != RPR_OK)
        return st;
    const size_t h1 = nx_files_header_line1_len();
    if (len < h1 || memcmp(text, nx_files_header, h1) != 0) {
        st = nx_files_fail(err, RPR_EPARSE, "%s:1: not an rpr-nx property file",
                           path);
        goto cleanup;
    }
    size_t cap = 1;
    for (const char *c = text; *c != '\0'; c++)
        cap += *c == '\n';
    r = calloc(cap, sizeof *r);
    if (r == NULL) {
        st = nx_files_fail(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    size_t count = 0, lineno = 0;
    char *line = text;
    while (line != NULL && *line != '\0') {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        char *s = line;
        line = next;
        if (*s == '#' || *nx_files_trim(s) == '\0')
            continue;
        char *f[NX_RECORD_FIELDS + 1];
        size_t nf = 0;
        for (char *tok = strtok(s, " \t");
             tok != NULL && nf <= NX_RECORD_FIELDS; tok = strtok(NULL, " \t"))
            f[nf++] = tok;
        if (nf != NX_RECORD_FIELDS) {
            st = nx_files_fail(
                err, RPR_EPARSE, "%s:%zu: %s%zu fields, want %d", path, lineno,
                nf > NX_RECORD_FIELDS ? "over " : "", nf, NX_RECORD_FIELDS);
            goto cleanup;
        }
        nx_record *rec = &r[count];
        double v[NX_RECORD_NUMBERS];
        int ok = nx_files_parse_real(f[0], &rec->t_fs) &&
                 nx_files_parse_size(f[1], &rec->step);
        for (int i = 0; ok && i < NX_RECORD_NUMBERS; i++) {
            if (strcmp(f[3 + i], "nan") == 0)
                v[i] = NAN;
            else
                ok = nx_files_parse_real(f[3 + i], &v[i]);
        }
        rec->run = NX_RUN_UNKNOWN;
        for (size_t i = 1;
             i < sizeof nx_files_run_names / sizeof *nx_files_run_names; i++)
            if (strcmp(f[2], nx_files_run_names[i]) == 0)
                rec->run = (nx_run) i;
        if (!ok) {
            st = nx_files_fail(err, RPR_EPARSE,
                               "%s:%zu: a field is not a "
                               "number",
                               path, lineno);
            goto cleanup;
        }
        rec->energy = v[0];
        for (int i = 0; i < 3; i++)
            rec->mu[i] = v[1 + i];
        for (int i = 0; i < 6; i++)
            rec->alpha[i] = v[4 + i];
        rec->gap12 = v[10];
        rec->gap23 = v[11];
        rec->sign_min = v[12];
        rec->w_principal = v[13];
        rec->w_kabsch = v[14];
        rec->kabsch_rel_margin = v[15];
        rec->blend_fallback = v[16];
        rec->w_relabel = v[17];
        count++;
    }
    *recs = r;
    *n = count;
    r = NULL;
cleanup:
    free(r);
    free(text);
    return st;
}
