/*
 * nx_floor.c - the floor of a Newton-X interface step, for the benchmark:
 * a program that reads control.d and writes exactly what rpr-nx writes
 * (epot, grad, grad.all and one property record, through the same
 * nx_files code), with constant numbers instead of predictions.  It links
 * only the C library, so its run time is process start plus file I/O:
 * what no interface can undercut.  bench_nx.sh compares rpr-nx with it.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nx_files.h"

static double nx_floor_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

int main(void)
{
    const double t_start = nx_floor_now();
    rpr_error err;
    nx_control ctl;
    enum { NAT = 8 }; /* 1,2-dichloroethane, as the benchmark's models */
    double e = -997.071168511244, g[3 * NAT];
    for (size_t i = 0; i < 3 * NAT; i++)
        g[i] = 1e-3 * (double) (i + 1) / 7.0;
    nx_record rec;
    memset(&rec, 0, sizeof rec);
    rpr_status st = nx_files_read_control("control.d", &ctl, &err);
    if (st == RPR_OK) {
        rec.t_fs = ctl.t_fs;
        rec.step = ctl.istep;
        rec.run = NX_RUN_FIRST;
        rec.energy = e;
        for (int i = 0; i < 3; i++)
            rec.mu[i] = 0.1 * (i + 1);
        for (int i = 0; i < 6; i++)
            rec.alpha[i] = 40.0 + i;
    }
    const double t_parsed = nx_floor_now();
    if (st == RPR_OK)
        st = nx_files_write_matrix("epot", 1, 1, &e, &err);
    if (st == RPR_OK)
        st = nx_files_write_matrix("grad", NAT, 3, g, &err);
    if (st == RPR_OK)
        st = nx_files_write_matrix("grad.all", NAT, 3, g, &err);
    if (st == RPR_OK)
        st = nx_files_props_upsert("../RESULTS/rpr-properties.dat", &rec, &err);
    const double t_written = nx_floor_now();
    if (st != RPR_OK) {
        fprintf(stderr, "nx_floor: %s\n", err.message);
        return 1;
    }
    /* The timing line of rpr-nx (RPR_NX_TIMING: the spawn time in ns),
     * with no load and no prediction. */
    const char *timing = getenv("RPR_NX_TIMING");
    if (timing != NULL) {
        char *end;
        const double t0 = strtod(timing, &end) * 1e-9;
        fprintf(stderr,
                "nx_floor timing: exec %.1f parse %.1f load 0 predict 0 "
                "write %.1f us\n",
                end != timing && *end == '\0' ? 1e6 * (t_start - t0) : NAN,
                1e6 * (t_parsed - t_start), 1e6 * (t_written - t_parsed));
    }
    return 0;
}
