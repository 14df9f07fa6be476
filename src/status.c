/* status.c - status codes and the error record. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *rpr_strerror(rpr_status status)
{
    /* No default: -Wswitch reports a code added to the enum but not here. */
    switch (status) {
    case RPR_OK: return "success";
    case RPR_EINVAL: return "invalid argument";
    case RPR_ENOMEM: return "out of memory";
    case RPR_EIO: return "input/output error";
    case RPR_EPARSE: return "malformed input";
    case RPR_ENOTPD: return "matrix not positive definite";
    case RPR_ENONFINITE: return "non-finite number";
    case RPR_EDEGENERATE: return "degenerate frame";
    case RPR_STATUS_COUNT: break;
    }
    return "unknown status";
}

rpr_status error_set(rpr_error *err, rpr_status status, const char *src_file,
                     int src_line, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
        err->src_file = src_file;
        err->src_line = src_line;
    }
    return status;
}

void error_prefix(rpr_error *err, const char *fmt, ...)
{
    char prefix[256];
    char old[sizeof err->message];
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    /* A message that no longer fits ends in "..." rather than mid-word. */
    if (snprintf(err->message, sizeof err->message, "%s: %s", prefix, old) >=
        (int) sizeof err->message)
        memcpy(err->message + sizeof err->message - 4, "...", 4);
}
