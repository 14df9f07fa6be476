/*
 * nx_lazy.h - how rpr-nx hands a step to rpr-nx-full when the models must
 * be parsed (nx_lazy.c explains; docs/newton-x.md, section Speed).
 */
#ifndef RPR_NX_LAZY_H
#define RPR_NX_LAZY_H

#include "rpr.h"

/* Remember the command line, for handing the step to rpr-nx-full.  Call
 * first thing in main. */
void nx_lazy_init(char **argv);

/* Hand the whole step to rpr-nx-full by exec() with the same arguments,
 * environment and working directory, because the model bundle at
 * bundle_path is missing or stale.  Returns only if rpr-nx-full cannot be
 * run (RPR_EIO, the message says why), or in rpr-nx-full itself (which
 * never needs to: RPR_EINVAL). */
rpr_status nx_lazy_handover(const char *bundle_path, rpr_error *err);

#endif /* RPR_NX_LAZY_H */
