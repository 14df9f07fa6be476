/*
 * nx_lazy.c - rpr-nx hands a step to rpr-nx-full when models must be parsed.
 *
 * Newton-X starts rpr-nx afresh at every step, and the dynamic loader
 * maps and relocates every shared library a program needs before main:
 * for libxml2 (with ICU) and OpenBLAS (which also starts a thread pool)
 * that is several milliseconds a step, many times the step's own work
 * (docs/performance.md).  A step with an up-to-date model bundle needs
 * neither: the bundle is mapped, and prediction uses no BLAS.
 *
 * rpr-nx therefore never parses a model: it opens the bundle with no
 * loader (rpr_model_bundle_open), and its link (Makefile.am) names
 * neither library, keeping only the code reachable from its calls
 * (--gc-sections), so a call into either library on its path would fail
 * to link.  When the bundle is missing or stale, rpr_nx.c calls
 * nx_lazy_handover, which runs rpr-nx-full, the same program linked
 * normally, by exec() with the same arguments, environment and working
 * directory.  rpr-nx-full parses the models, rewrites the bundle and does
 * the step.  That happens before rpr-nx has written anything, so the
 * results are those of rpr-nx-full in every case; only the time differs.
 *
 * rpr-nx-full is looked up as $RPR_NX_FULL, else next to the running
 * program (the build tree), else in the installed libexec directory.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nx_files.h"
#include "nx_lazy.h"

static char **nx_lazy_argv;

void nx_lazy_init(char **argv)
{
    nx_lazy_argv = argv;
}

#ifdef NX_LAZY_FULL

rpr_status nx_lazy_handover(const char *bundle_path, rpr_error *err)
{
    return nx_files_fail(err, RPR_EINVAL,
                         "%s: no model bundle, though rpr-nx-full parses "
                         "models (a bug)",
                         bundle_path);
}

#else

#ifndef RPR_NX_PKGLIBEXECDIR
#error "RPR_NX_PKGLIBEXECDIR (the installed libexec directory) is not set"
#endif

rpr_status nx_lazy_handover(const char *bundle_path, rpr_error *err)
{
    static const char name[] = "rpr-nx-full";
    char path[PATH_MAX + sizeof name + 1], self[PATH_MAX];
    const char *env = getenv("RPR_NX_FULL");
    const char *tried = NULL;
    char *const fallback[] = {(char *) "rpr-nx", NULL};
    char *const *argv = nx_lazy_argv != NULL ? nx_lazy_argv : fallback;
    int e = ENOENT;

    /* What rpr-nx-full writes must not mix with what this process has
     * buffered (nothing, normally). */
    fflush(NULL);
    if (env != NULL && env[0] != '\0') {
        execv(env, argv);
        e = errno;
        tried = env;
    } else {
        const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
            self[n] = '\0';
            char *slash = strrchr(self, '/');
            if (slash != NULL) {
                *slash = '\0';
                snprintf(path, sizeof path, "%s/%s", self, name);
                if (access(path, X_OK) == 0) {
                    execv(path, argv);
                    e = errno;
                    tried = path;
                }
            }
        }
        if (tried == NULL) {
            snprintf(path, sizeof path, "%s/%s", RPR_NX_PKGLIBEXECDIR, name);
            execv(path, argv);
            e = errno;
            tried = path;
        }
    }
    return nx_files_fail(err, RPR_EIO,
                         "the models must be parsed (%s is missing or "
                         "stale), but %s cannot be run: %s",
                         bundle_path, tried, strerror(e));
}

#endif /* NX_LAZY_FULL */
