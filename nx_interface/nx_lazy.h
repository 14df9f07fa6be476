/*
 * nx_lazy.h - how rpr-nx avoids loading libxml2 and OpenBLAS at every
 * step (nx_lazy.c explains; docs/newton-x.md, section Speed).
 */
#ifndef RPR_NX_LAZY_H
#define RPR_NX_LAZY_H

/* Remember the command line, for handing the step to rpr-nx-full.  Call
 * first thing in main. */
void nx_lazy_init(char **argv);

#endif /* RPR_NX_LAZY_H */
