/* version.c - the library's version, compared with rpr_version.h by a test. */
#include <config.h>

#include <stdlib.h>

#include "internal.h"

const char *rpr_version(void)
{
    return PACKAGE_VERSION;
}

void rpr_free(void *p)
{
    free(p);
}
