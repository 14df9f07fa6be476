/*
 * nx_lazy.c - keeps libxml2 and OpenBLAS out of rpr-nx.
 *
 * Newton-X starts rpr-nx afresh at every step, and the dynamic loader
 * maps and relocates every shared library a program needs before main:
 * for libxml2 (with ICU) and OpenBLAS (which also starts a thread pool)
 * that is several milliseconds a step, many times the step's own work
 * (docs/performance.md).  A step with an up-to-date model cache needs
 * neither: the cache is read with read(), and prediction uses no BLAS.
 *
 * rpr-nx therefore links the library's objects statically, and this file
 * defines the few libxml2 and CBLAS functions those objects refer to, so
 * the linker (--as-needed) records no dependency on either library.  None
 * of these definitions does the work: each hands the whole step to
 * rpr-nx-full, the same program linked normally, by exec() with the same
 * arguments, environment and working directory.  That happens only when a
 * model must be parsed (no cache yet, or a stale one, which rpr-nx-full
 * then writes), before rpr-nx has written anything.  So the results are
 * those of rpr-nx-full in every case; only the time differs.
 *
 * rpr-nx-full is looked up as $RPR_NX_FULL, else next to the running
 * program (the build tree), else in the installed libexec directory.
 *
 * Compiled with NX_LAZY_FULL (for rpr-nx-full) only nx_lazy_init remains.
 * If the library starts calling another function of these libraries on
 * rpr-nx's path, the linker records the library again; tests/test_nx.sh
 * checks that it does not.
 */
#include <config.h>

#include "nx_lazy.h"

#ifdef NX_LAZY_FULL

void nx_lazy_init(char **argv)
{
    (void) argv;
}

#else

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#ifndef RPR_NX_PKGLIBEXECDIR
#error "RPR_NX_PKGLIBEXECDIR (the installed libexec directory) is not set"
#endif

static char **nx_lazy_argv;

void nx_lazy_init(char **argv)
{
    nx_lazy_argv = argv;
}

/* Hand the step to rpr-nx-full; never returns. */
static _Noreturn void nx_lazy_full(const char *symbol)
{
    static const char name[] = "rpr-nx-full";
    char path[PATH_MAX + sizeof name + 1], self[PATH_MAX];
    const char *env = getenv("RPR_NX_FULL");
    const char *tried = NULL;
    char *const fallback[] = {(char *) "rpr-nx", NULL};
    char *const *argv = nx_lazy_argv != NULL ? nx_lazy_argv : fallback;
    int e = ENOENT;

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
    fprintf(stderr,
            "rpr-nx: a model must be parsed (no up-to-date cache; %s), but "
            "%s cannot be run: %s\n",
            symbol, tried, strerror(e));
    _exit(1);
}

/* libxml2, as model_xml.c uses it: prototypes from the headers above. */
static void nx_lazy_free(void *p)
{
    (void) p;
    nx_lazy_full("xmlFree");
}
xmlFreeFunc xmlFree = nx_lazy_free;

xmlErrorPtr xmlCtxtGetLastError(void *ctx)
{
    (void) ctx;
    nx_lazy_full("xmlCtxtGetLastError");
}

xmlDocPtr xmlCtxtReadMemory(xmlParserCtxtPtr ctxt, const char *buffer, int size,
                            const char *URL, const char *encoding, int options)
{
    (void) ctxt, (void) buffer, (void) size, (void) URL, (void) encoding;
    (void) options;
    nx_lazy_full("xmlCtxtReadMemory");
}

xmlNodePtr xmlDocGetRootElement(const xmlDoc *doc)
{
    (void) doc;
    nx_lazy_full("xmlDocGetRootElement");
}

void xmlFreeDoc(xmlDocPtr cur)
{
    (void) cur;
    nx_lazy_full("xmlFreeDoc");
}

void xmlFreeParserCtxt(xmlParserCtxtPtr ctxt)
{
    (void) ctxt;
    nx_lazy_full("xmlFreeParserCtxt");
}

long xmlGetLineNo(const xmlNode *node)
{
    (void) node;
    nx_lazy_full("xmlGetLineNo");
}

xmlChar *xmlGetProp(const xmlNode *node, const xmlChar *name)
{
    (void) node, (void) name;
    nx_lazy_full("xmlGetProp");
}

void xmlInitParser(void)
{
    nx_lazy_full("xmlInitParser");
}

xmlParserCtxtPtr xmlNewParserCtxt(void)
{
    nx_lazy_full("xmlNewParserCtxt");
}

xmlChar *xmlNodeGetContent(const xmlNode *cur)
{
    (void) cur;
    nx_lazy_full("xmlNodeGetContent");
}

void xmlSchemaFree(xmlSchemaPtr schema)
{
    (void) schema;
    nx_lazy_full("xmlSchemaFree");
}

void xmlSchemaFreeParserCtxt(xmlSchemaParserCtxtPtr ctxt)
{
    (void) ctxt;
    nx_lazy_full("xmlSchemaFreeParserCtxt");
}

void xmlSchemaFreeValidCtxt(xmlSchemaValidCtxtPtr ctxt)
{
    (void) ctxt;
    nx_lazy_full("xmlSchemaFreeValidCtxt");
}

xmlSchemaParserCtxtPtr xmlSchemaNewMemParserCtxt(const char *buffer, int size)
{
    (void) buffer, (void) size;
    nx_lazy_full("xmlSchemaNewMemParserCtxt");
}

xmlSchemaValidCtxtPtr xmlSchemaNewValidCtxt(xmlSchemaPtr schema)
{
    (void) schema;
    nx_lazy_full("xmlSchemaNewValidCtxt");
}

xmlSchemaPtr xmlSchemaParse(xmlSchemaParserCtxtPtr ctxt)
{
    (void) ctxt;
    nx_lazy_full("xmlSchemaParse");
}

void xmlSchemaSetParserStructuredErrors(xmlSchemaParserCtxtPtr ctxt,
                                        xmlStructuredErrorFunc serror,
                                        void *ctx)
{
    (void) ctxt, (void) serror, (void) ctx;
    nx_lazy_full("xmlSchemaSetParserStructuredErrors");
}

void xmlSchemaSetValidStructuredErrors(xmlSchemaValidCtxtPtr ctxt,
                                       xmlStructuredErrorFunc serror, void *ctx)
{
    (void) ctxt, (void) serror, (void) ctx;
    nx_lazy_full("xmlSchemaSetValidStructuredErrors");
}

int xmlSchemaValidateDoc(xmlSchemaValidCtxtPtr ctxt, xmlDocPtr instance)
{
    (void) ctxt, (void) instance;
    nx_lazy_full("xmlSchemaValidateDoc");
}

/*
 * CBLAS, as kernel.c uses it for training-time kernel matrices.  The
 * prototypes are OpenBLAS's (its cblas.h defines OPENBLAS_CONST); with
 * another CBLAS header these are left out and the BLAS is linked as usual.
 * openblas_set_num_threads is the one call rpr-nx makes on purpose: with
 * no BLAS loaded there is no thread to limit, so it does nothing.
 */
#include <cblas.h>
#ifdef OPENBLAS_CONST
void openblas_set_num_threads(int num_threads)
{
    (void) num_threads;
}

void cblas_dgemm(OPENBLAS_CONST enum CBLAS_ORDER Order,
                 OPENBLAS_CONST enum CBLAS_TRANSPOSE TransA,
                 OPENBLAS_CONST enum CBLAS_TRANSPOSE TransB,
                 OPENBLAS_CONST blasint M, OPENBLAS_CONST blasint N,
                 OPENBLAS_CONST blasint K, OPENBLAS_CONST double alpha,
                 OPENBLAS_CONST double *A, OPENBLAS_CONST blasint lda,
                 OPENBLAS_CONST double *B, OPENBLAS_CONST blasint ldb,
                 OPENBLAS_CONST double beta, double *C,
                 OPENBLAS_CONST blasint ldc)
{
    (void) Order, (void) TransA, (void) TransB, (void) M, (void) N, (void) K;
    (void) alpha, (void) A, (void) lda, (void) B, (void) ldb, (void) beta;
    (void) C, (void) ldc;
    nx_lazy_full("cblas_dgemm");
}

void cblas_dsyrk(OPENBLAS_CONST enum CBLAS_ORDER Order,
                 OPENBLAS_CONST enum CBLAS_UPLO Uplo,
                 OPENBLAS_CONST enum CBLAS_TRANSPOSE Trans,
                 OPENBLAS_CONST blasint N, OPENBLAS_CONST blasint K,
                 OPENBLAS_CONST double alpha, OPENBLAS_CONST double *A,
                 OPENBLAS_CONST blasint lda, OPENBLAS_CONST double beta,
                 double *C, OPENBLAS_CONST blasint ldc)
{
    (void) Order, (void) Uplo, (void) Trans, (void) N, (void) K, (void) alpha;
    (void) A, (void) lda, (void) beta, (void) C, (void) ldc;
    nx_lazy_full("cblas_dsyrk");
}
#endif

#endif /* NX_LAZY_FULL */
