/*
 * testutil.h - shared helpers of the C tests: checks that count failures,
 * a seeded generator, random rotations and reflections.
 *
 * Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.
 */
#ifndef RPR_TESTUTIL_H
#define RPR_TESTUTIL_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures = 0;

/* |got - want| <= atol + rtol |want|, as numpy.isclose; NaN never passes. */
#define CHECK_CLOSE(got, want, rtol, atol)                                     \
    do {                                                                       \
        const double got_ = (got), want_ = (want);                             \
        const double tol_ = (atol) + fabs(want_) * (rtol);                     \
        if (!(fabs(got_ - want_) <= tol_)) {                                   \
            fprintf(stderr, "%s:%d: FAIL %s = %.17g, want %.17g (tol %.3g)\n", \
                    __FILE__, __LINE__, #got, got_, want_, tol_);              \
            test_failures++;                                                   \
        }                                                                      \
    } while (0)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #cond);    \
            test_failures++;                                                   \
        }                                                                      \
    } while (0)

/* A call that must succeed; on failure print the library's message. */
#define CHECK_OK(call, errp)                                                   \
    do {                                                                       \
        const rpr_status st_ = (call);                                         \
        if (st_ != RPR_OK) {                                                   \
            fprintf(stderr, "%s:%d: FAIL %s -> %d: %s\n", __FILE__, __LINE__,  \
                    #call, (int) st_, (errp)->message);                        \
            test_failures++;                                                   \
        }                                                                      \
    } while (0)

/* A call that must fail with `want`. */
#define CHECK_STATUS(call, want)                                               \
    do {                                                                       \
        const rpr_status st_ = (call);                                         \
        if (st_ != (want)) {                                                   \
            fprintf(stderr, "%s:%d: FAIL %s -> %d, want %d\n", __FILE__,       \
                    __LINE__, #call, (int) st_, (int) (want));                 \
            test_failures++;                                                   \
        }                                                                      \
    } while (0)

static inline int test_exit(const char *name)
{
    if (test_failures > 0) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

/* splitmix64 (Steele, Lea, Flood 2014): a tiny generator with a fixed seed,
 * so every failure is reproducible.  Print the seed when a check fails. */
typedef struct test_rng {
    uint64_t state;
} test_rng;

static inline uint64_t test_rng_next(test_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double test_rng_uniform(test_rng *r)
{
    return (double) (test_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Standard normal (Box-Muller). */
static inline double test_rng_normal(test_rng *r)
{
    const double u1 = 1.0 - test_rng_uniform(r); /* (0, 1] */
    const double u2 = test_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* DIR/NAME, in one of 8 rotating buffers, so that a few paths can be in
 * use at once (a test's scratch files). */
static inline const char *test_path(const char *dir, const char *name)
{
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Uniformly random rotation (unit quaternion from four normals), row-major
 * R[9].  With reflect != 0 the result is multiplied by -1 (an inversion),
 * giving an improper orthogonal matrix. */
static inline void test_random_orthogonal(test_rng *r, int reflect, double R[9])
{
    double q[4], n = 0.0;
    for (int i = 0; i < 4; i++) {
        q[i] = test_rng_normal(r);
        n += q[i] * q[i];
    }
    n = sqrt(n);
    for (int i = 0; i < 4; i++)
        q[i] /= n;
    const double w = q[0], x = q[1], y = q[2], z = q[3];
    R[0] = 1 - 2 * (y * y + z * z);
    R[1] = 2 * (x * y - w * z);
    R[2] = 2 * (x * z + w * y);
    R[3] = 2 * (x * y + w * z);
    R[4] = 1 - 2 * (x * x + z * z);
    R[5] = 2 * (y * z - w * x);
    R[6] = 2 * (x * z - w * y);
    R[7] = 2 * (y * z + w * x);
    R[8] = 1 - 2 * (x * x + y * y);
    if (reflect)
        for (int i = 0; i < 9; i++)
            R[i] = -R[i];
}

/* out[n][3] = R xyz[n][3] (+ shift, may be NULL). */
static inline void test_transform(size_t n, const double R[9],
                                  const double *shift, const double *xyz,
                                  double *out)
{
    for (size_t a = 0; a < n; a++)
        for (int i = 0; i < 3; i++) {
            double s = shift != NULL ? shift[i] : 0.0;
            for (int j = 0; j < 3; j++)
                s += R[3 * i + j] * xyz[3 * a + j];
            out[3 * a + i] = s;
        }
}

/* Path of a file under $srcdir (automake exports it; "." otherwise). */
static inline const char *test_srcpath(const char *rel, char *buf, size_t len)
{
    const char *top = getenv("srcdir");
    snprintf(buf, len, "%s/%s", top != NULL ? top : ".", rel);
    return buf;
}

#endif /* RPR_TESTUTIL_H */
