/* threads.c - the one place that talks to the BLAS thread pool. */
#include <config.h>

#include "internal.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
#include <cblas.h>
#endif

void rpr_set_num_threads(int nthreads)
{
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    if (nthreads > 0)
        openblas_set_num_threads(nthreads);
#else
    (void) nthreads;
#endif
}
