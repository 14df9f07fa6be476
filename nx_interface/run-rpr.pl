#!/usr/bin/env perl
#
# run-rpr.pl - the Newton-X CS step script of rpr (program number 23.0,
# registered by the block in colib_perl-rpr.pm).  Copy it to $NX/.
#
# Newton-X runs it in TRAJ/TEMP at every step, after writing geom,
# control.d, curr_surf and which_run_is_that there.  It runs rpr-nx, which
# writes epot, grad, grad.all (and nad_vectors when nstat > 1) and appends
# the dipole and polarizability to ../RESULTS/rpr-properties.dat.  Like the
# Newton-X third-party-program template it keeps the previous energies in
# oldepot and a copy of the new ones in newepot.
#
# rpr-nx is taken from $RPR_NX if set, else from PATH.  Its stderr goes
# where Newton-X sends ours (DEBUG/runnx.error); a failure of rpr-nx makes
# this script die, which stops the trajectory.
#
use strict;
use warnings;
use File::Copy;

my $mdle = "run-rpr.pl:";
my $rpr  = defined $ENV{"RPR_NX"} ? $ENV{"RPR_NX"} : "rpr-nx";

if (-s "epot") {
    copy("epot", "oldepot") or die "$mdle cannot copy epot to oldepot: $!\n";
}
my $rc = system($rpr);
if ($rc == -1) {
    die "$mdle cannot run $rpr: $!\n";
} elsif ($rc != 0) {
    die "$mdle $rpr failed (exit status " . ($rc >> 8)
      . "); its message is in DEBUG/runnx.error\n";
}
copy("epot", "newepot") or die "$mdle cannot copy epot to newepot: $!\n";
exit 0;
