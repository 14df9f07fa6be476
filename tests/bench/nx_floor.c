/*
 * nx_floor.c - the floor of a Newton-X interface step, for the benchmark:
 * a program that reads control.d and writes exactly what rpr-nx writes
 * (epot, grad, grad.all and one property record, through the same
 * nx_files code), with constant numbers instead of predictions.  It links
 * only the C library, so its run time is process start plus file I/O:
 * what no interface can undercut.  bench_nx.sh compares rpr-nx with it.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "nx_files.h"

int main(void)
{
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
        st = nx_files_write_matrix("epot", 1, 1, &e, &err);
    }
    if (st == RPR_OK)
        st = nx_files_write_matrix("grad", NAT, 3, g, &err);
    if (st == RPR_OK)
        st = nx_files_write_matrix("grad.all", NAT, 3, g, &err);
    if (st == RPR_OK)
        st = nx_files_props_upsert("../RESULTS/rpr-properties.dat", &rec, &err);
    if (st != RPR_OK) {
        fprintf(stderr, "nx_floor: %s\n", err.message);
        return 1;
    }
    return 0;
}
