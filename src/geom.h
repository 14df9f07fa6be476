/*
 * geom.h - the line-oriented text reading shared by the readers of
 * geom.c (XYZ, Newton-X geom) and table.c (value tables, gradients)
 * (private).  Every message names the file and the 1-based line.
 */
#ifndef RPR_GEOM_H
#define RPR_GEOM_H

#include <stddef.h>
#include <stdio.h>

#include "internal.h"

typedef struct geom_reader {
    const char *path; /* for messages */
    FILE *stream;
    char *line; /* current line without its line break; owned, free() it */
    size_t cap;
    size_t lineno; /* 1-based number of the current line */
} geom_reader;

/* Open path for reading: RPR_EIO names the path and the system's reason. */
rpr_status geom_reader_open(geom_reader *r, const char *path, rpr_error *err);
/* Close the stream and free the line; safe on a reader that failed to
 * open (zero-initialised). */
void geom_reader_close(geom_reader *r);
/* Next line into r->line; *got = 0 at the end of the file.  A NUL byte in
 * a line is RPR_EPARSE, a read error RPR_EIO. */
rpr_status geom_reader_next(geom_reader *r, int *got, rpr_error *err);

/* Only spaces, tabs, CR, VT, FF. */
int geom_is_blank(const char *s);
/* Split s in place into whitespace-separated fields, storing at most max;
 * returns the number of fields, which may exceed max. */
size_t geom_split(char *s, char **fields, size_t max);
/* The whole field as a double: RPR_EPARSE if it is not a number,
 * RPR_ENONFINITE for NaN, Inf or overflow; the message names path:lineno
 * and `what` ("x", "column 2"). */
rpr_status geom_parse_double(const char *field, const char *path, size_t lineno,
                             const char *what, double *x, rpr_error *err);
/* The whole field as a non-negative decimal integer (digits only); 0 if it
 * is not one or overflows size_t. */
int geom_parse_size(const char *field, size_t *n);

#endif /* RPR_GEOM_H */
