/*
 * internal.h - what every library source file shares and nothing outside
 * the library may see: error reporting and small numeric helpers.
 */
#ifndef RPR_INTERNAL_H
#define RPR_INTERNAL_H

#include "rpr.h"

#if defined(__GNUC__)
#define RPR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RPR_PRINTF(f, a)
#endif

/* Fill err (if not NULL) and return status.  Every failure goes through
 * here: break on error_set in a debugger to see where one starts. */
rpr_status error_set(rpr_error *err, rpr_status status, const char *src_file,
                     int src_line, const char *fmt, ...) RPR_PRINTF(5, 6);

#define RPR_FAIL(err, status, ...)                                             \
    error_set((err), (status), __FILE__, __LINE__, __VA_ARGS__)

/* Prefix an existing message with "context: " (for example a file name or
 * a frame number added by a caller that knows it). */
void error_prefix(rpr_error *err, const char *fmt, ...) RPR_PRINTF(2, 3);

#endif /* RPR_INTERNAL_H */
