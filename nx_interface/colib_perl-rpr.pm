# colib_perl-rpr.pm - the block that registers rpr as Newton-X CS program
# number 23.0.  Paste it into sub prog_config of $NX/lib/colib_perl.pm,
# next to the other "if (($prog >= ...) and ($prog < ...))" blocks, and copy
# run-rpr.pl to $NX/.  Then set prog = 23.0 in control.dyn and put
# rpr-nx.par into the trajectory directory (docs/newton-x.md).
#
# TeraChem (21.0) and Q-Chem (22.0) used the numbers below.  nxinp lists
# programs only up to $progmax = 20 (sub make_prog_list); raise it there if
# nxinp should offer rpr in its menus.  rpr provides no nonadiabatic
# couplings: nad_exec = "n" makes Newton-X run adiabatic dynamics (thres =
# 0), the setting for ground-state IR and Raman spectra.
    if (($prog >= 22.95) and ($prog < 23.05)){
      %progconf=(progname   => "rpr",
                 methodname => "rpr-kreg",
                 ic         => "n",
                 dyn        => "y",
                 hyb        => "n",
                 ip         => "n",
                 key        => sprintf("%4.1f",23.0),
                 label      => "RPR",
                 method     => "KREG",
                 parfile    => "rpr-nx.par",
                 nad_exec   => "n",
                 lvprt_d    => 1,
                 vdoth_d    => 2,
                 never_state_d  => 0,
                 cio_options_d  => "NULL",
                 cisc_options_d => "NULL",
                 cprog_d    => 0,
                 progic     => "NULL",
                 progdyn    => "run-rpr.pl");
    }
