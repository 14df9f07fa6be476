/*
 * outfile.c - output files that appear only when complete.
 *
 * Writes go to a temporary file made by mkstemp next to the target (the
 * same directory, hence the same file system, so rename() is atomic).
 * Commit checks every step where a full disk or a quota shows up: the
 * stream's error flag, fflush, fsync and fclose; only then is the file
 * renamed over the target.  A reader such as Newton-X sees the old file or
 * the complete new one, never a part.
 *
 * A target that exists and is not a regular file (/dev/null, a FIFO, a
 * terminal) is written in place: renaming over it would replace a device
 * node with a regular file.  A directory is refused.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"

struct rpr_outfile {
    char *path; /* the target */
    char *tmp;  /* the temporary file, path + ".XXXXXX"; NULL when the
                   target is a device or FIFO written in place */
    FILE *stream;
};

/* The permissions fopen(path, "w") would give: those of an existing file,
 * else 0666 less the umask.  mkstemp creates 0600, which would make model
 * files unreadable to a group that shares them.  Reading the umask means
 * setting it and back (POSIX has no other way), a window in which another
 * thread creating a file would get mode 0666; the library creates files
 * only here. */
static mode_t outfile_mode(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        return sb.st_mode & 07777;
    const mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

static void outfile_free(rpr_outfile *out)
{
    free(out->path);
    free(out->tmp);
    free(out);
}

rpr_status rpr_outfile_open(const char *path, rpr_outfile **out, rpr_error *err)
{
    static const char suffix[] = ".XXXXXX";
    rpr_outfile *o = NULL;
    int fd = -1;

    if (path == NULL || out == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_outfile_open: NULL argument");
    *out = NULL;
    if (path[0] == '\0')
        return RPR_FAIL(err, RPR_EINVAL, "rpr_outfile_open: empty path");
    const size_t len = strlen(path);
    o = calloc(1, sizeof *o);
    if (o == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
    o->path = malloc(len + 1);
    o->tmp = malloc(len + sizeof suffix);
    if (o->path == NULL || o->tmp == NULL) {
        outfile_free(o);
        return RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
    }
    memcpy(o->path, path, len + 1);
    memcpy(o->tmp, path, len);
    memcpy(o->tmp + len, suffix, sizeof suffix);

    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode)) {
            outfile_free(o);
            return RPR_FAIL(err, RPR_EIO, "%s: is a directory", path);
        }
        free(o->tmp);
        o->tmp = NULL;
        o->stream = fopen(path, "w");
        if (o->stream == NULL) {
            const int e = errno;
            outfile_free(o);
            return RPR_FAIL(err, RPR_EIO, "%s: cannot open: %s", path,
                            strerror(e));
        }
        *out = o;
        return RPR_OK;
    }

    fd = mkstemp(o->tmp);
    if (fd < 0) {
        const int e = errno;
        outfile_free(o);
        return RPR_FAIL(err, RPR_EIO,
                        "%s: cannot create a temporary file "
                        "next to it: %s",
                        path, strerror(e));
    }
    if (fchmod(fd, outfile_mode(path)) != 0 ||
        (o->stream = fdopen(fd, "w")) == NULL) {
        const int e = errno;
        close(fd);
        unlink(o->tmp);
        outfile_free(o);
        return RPR_FAIL(err, RPR_EIO, "%s: cannot open a temporary file: %s",
                        path, strerror(e));
    }
    *out = o;
    return RPR_OK;
}

FILE *rpr_outfile_stream(rpr_outfile *out)
{
    return out->stream;
}

rpr_status rpr_outfile_commit(rpr_outfile *out, rpr_error *err)
{
    if (out == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_outfile_commit: NULL argument");
    const char *step = NULL;
    int e = 0;
    FILE *const f = out->stream;

    /* ferror catches a write that failed earlier even if errno is gone. */
    if (ferror(f)) {
        step = "write";
        e = EIO;
    } else if (fflush(f) != 0) {
        step = "write";
        e = errno;
    }
#ifdef HAVE_FSYNC
    else if (out->tmp != NULL && fsync(fileno(f)) != 0) {
        step = "sync";
        e = errno;
    }
#endif
    /* fclose always releases the stream, even when it reports an error. */
    if (fclose(f) != 0 && step == NULL) {
        step = "close";
        e = errno;
    }
    rpr_status st = RPR_OK;
    if (step == NULL && out->tmp != NULL && rename(out->tmp, out->path) != 0)
        st = RPR_FAIL(err, RPR_EIO, "%s: cannot rename %s to it: %s", out->path,
                      out->tmp, strerror(errno));
    else if (step != NULL)
        st = RPR_FAIL(err, RPR_EIO, "%s: cannot %s it: %s", out->path, step,
                      strerror(e));
    if (st != RPR_OK && out->tmp != NULL)
        unlink(out->tmp);
    outfile_free(out);
    return st;
}

void rpr_outfile_discard(rpr_outfile *out)
{
    if (out == NULL)
        return;
    fclose(out->stream);
    if (out->tmp != NULL)
        unlink(out->tmp);
    outfile_free(out);
}
