/*
 * nx_spawntime.c - time a Newton-X interface program as Newton-X runs it:
 * one new process per step, in the working directory, with control.d
 * advanced by one step before each call (so the property file is
 * appended to, as in a trajectory).
 *
 *   nx_spawntime N DT_FS LABEL PROGRAM [ARGS...]
 *
 * Prints the median, 10th and 90th percentile of the wall time from
 * posix_spawn to waitpid, and the median CPU time (user + system) of the
 * child, which a busy machine inflates much less than the wall time.  If the
 * program prints a line "<name> timing: exec E parse P load L predict R write
 * W us" on stderr (rpr-nx and nx_floor do when RPR_NX_TIMING holds the spawn
 * time in ns, which this program sets), the medians of its parts are printed
 * too, and
 * "exit" is the rest: the time after main returns (library destructors, thread
 * pools, process exit).
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nx_files.h"

extern char **environ;

enum { NPART = 6 }; /* exec parse load predict write exit */

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e9 * (double) t.tv_sec + (double) t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* Quantile q of v[n] (sorted in place); NaN if n is 0. */
static double quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp);
    return v[(size_t) (q * (double) (n - 1) + 0.5)];
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: nx_spawntime N DT_FS LABEL PROGRAM [ARGS]\n");
        return 2;
    }
    const size_t n = (size_t) atol(argv[1]);
    const double dt = atof(argv[2]);
    const char *label = argv[3];
    double *total = calloc(n, sizeof *total);
    double *cpu = calloc(n, sizeof *cpu);
    double *part[NPART];
    for (int k = 0; k < NPART; k++)
        part[k] = calloc(n, sizeof *part[k]);
    size_t nparts = 0;
    for (size_t i = 0; i < n; i++) {
        rpr_error err;
        const nx_control ctl = {8, i + 1, 1, 1, dt, dt * (double) (i + 1)};
        if (nx_files_write_control("control.d", &ctl, 1e6, &err) != RPR_OK) {
            fprintf(stderr, "nx_spawntime: %s\n", err.message);
            return 1;
        }
        int pfd[2];
        if (pipe(pfd) != 0) {
            perror("pipe");
            return 1;
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
        posix_spawn_file_actions_addclose(&fa, pfd[0]);
        char t0s[64];
        const double t0 = now_ns();
        snprintf(t0s, sizeof t0s, "%.0f", t0);
        setenv("RPR_NX_TIMING", t0s, 1);
        pid_t pid;
        const int rc = posix_spawn(&pid, argv[4], &fa, NULL, argv + 4, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pfd[1]);
        if (rc != 0) {
            fprintf(stderr, "nx_spawntime: %s: %s\n", argv[4], strerror(rc));
            return 1;
        }
        char buf[4096];
        size_t len = 0;
        ssize_t r;
        while ((r = read(pfd[0], buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t) r;
        buf[len] = '\0';
        close(pfd[0]);
        int status;
        struct rusage ru;
        while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
        }
        total[i] = (now_ns() - t0) * 1e-3; /* us */
        cpu[i] = 1e6 * (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "nx_spawntime: %s failed: %s\n", argv[4], buf);
            return 1;
        }
        double p[5];
        const char *line = strstr(buf, " timing: exec ");
        if (line != NULL &&
            sscanf(line,
                   " timing: exec %lf parse %lf load %lf predict %lf "
                   "write %lf",
                   &p[0], &p[1], &p[2], &p[3], &p[4]) == 5) {
            double sum = 0;
            for (int k = 0; k < 5; k++) {
                part[k][nparts] = p[k];
                sum += p[k];
            }
            part[5][nparts] = total[i] - sum;
            nparts++;
        }
    }
    const double med = quantile(total, n, 0.5);
    const double p10 = quantile(total, n, 0.1), p90 = quantile(total, n, 0.9);
    const double cmed = quantile(cpu, n, 0.5);
    printf("%-10s %zu calls: median %.3f ms (p10 %.3f, p90 %.3f), CPU %.3f ms",
           label, n, med * 1e-3, p10 * 1e-3, p90 * 1e-3, cmed * 1e-3);
    if (nparts > 0) {
        static const char *const names[NPART] = {"exec+link", "parse", "load",
                                                 "predict",   "write", "exit"};
        printf("\n%-10s medians:", "");
        for (int k = 0; k < NPART; k++)
            printf(" %s %.3f", names[k], quantile(part[k], nparts, 0.5) * 1e-3);
        printf(" ms");
    }
    printf("\n");
    /* The median alone, for the caller's ratio. */
    FILE *f = fopen("nx_spawntime.median", "w");
    if (f != NULL) {
        fprintf(f, "%.6f %.6f %.6f\n", med * 1e-3, p10 * 1e-3, cmed * 1e-3);
        fclose(f);
    }
    return 0;
}
