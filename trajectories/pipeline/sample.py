#!/usr/bin/env python3
"""Sample one Cl-C-C-Cl dihedral window with xtb (GFN2-xTB) molecular dynamics.

Usage: sample.py WORKDIR WINDOW

Reads WORKDIR/config.json (written by driver.py).  For window w at angle
phi0 it builds a start geometry with Cl-C-C-Cl = phi0, relaxes it with xtb
under the same dihedral restraint, draws Maxwell-Boltzmann velocities from
numpy default_rng([md_seed, w]) and hands both to xtb through its MD restart
file (xtb's own velocity start calls random_seed() and cannot be
reproduced).  Then it runs the restrained MD and keeps one frame every
md_dump_fs from md_discard_ps on.

The window is done when WORKDIR/md/window_WW/frames.xyz exists.  Work happens
in a temporary directory renamed into place at the end, so an interrupted
window leaves no half result and is simply rerun.
"""

import os
import shutil
import subprocess
import sys

import numpy as np

from common import (DIHEDRAL_ATOMS, NATOMS, SYMBOLS, ANGSTROM_PER_BOHR,
                    PipelineError, dihedral_deg, format_frame, load_config,
                    read_xyz, window_dir, write_atomic, frames_per_window)

# Boltzmann constant in hartree/K and the atomic mass unit in electron
# masses (CODATA 2018), for velocities in bohr per atomic time unit.
KB_HARTREE_PER_K = 3.166811563e-6
AMU_IN_ME = 1822.888486209
# Masses (amu) for the starting velocities only: standard atomic weights of C
# and Cl, and 1 amu for H because xtb's hmass=1 sets exactly that mass.  The
# thermostat rescales velocities from the first step on.
MASS_AMU = {"C": 12.011, "Cl": 35.45, "H": 1.0}

# Start geometry (angstrom, degrees): typical C-C, C-Cl, C-H bonds and
# tetrahedral angles; the restrained relaxation replaces them.
START_BOND = {"CC": 1.52, "CCl": 1.79, "CH": 1.09}
START_ANGLE = {"Cl": 110.0, "H": 109.5}


def place(a, b, c, bond, angle_deg, torsion_deg):
    """Position of d bonded to c with angle b-c-d and torsion a-b-c-d."""
    bc = c - b
    bc /= np.linalg.norm(bc)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    ang = np.radians(angle_deg)
    tor = np.radians(torsion_deg)
    d = np.array([-bond * np.cos(ang),
                  bond * np.sin(ang) * np.cos(tor),
                  bond * np.sin(ang) * np.sin(tor)])
    return c + d[0] * bc + d[1] * m + d[2] * n


def start_geometry(phi0):
    """DCE with Cl1-C1-C2-Cl2 = phi0, atoms C1 C2 Cl1 Cl2 H1 H2 H3 H4."""
    c1 = np.zeros(3)
    c2 = np.array([0.0, 0.0, START_BOND["CC"]])
    a = np.radians(START_ANGLE["Cl"])
    cl1 = c1 + START_BOND["CCl"] * np.array([np.sin(a), 0.0, np.cos(a)])
    cl2 = place(cl1, c1, c2, START_BOND["CCl"], START_ANGLE["Cl"], phi0)
    h1 = place(cl2, c2, c1, START_BOND["CH"], START_ANGLE["H"], phi0 + 120.0)
    h2 = place(cl2, c2, c1, START_BOND["CH"], START_ANGLE["H"], phi0 - 120.0)
    h3 = place(cl1, c1, c2, START_BOND["CH"], START_ANGLE["H"], phi0 + 120.0)
    h4 = place(cl1, c1, c2, START_BOND["CH"], START_ANGLE["H"], phi0 - 120.0)
    xyz = np.array([c1, c2, cl1, cl2, h1, h2, h3, h4])
    # Compare angles on the circle: 180 and -180 are the same conformer.
    gap = (dihedral_deg(xyz) - phi0 + 180.0) % 360.0 - 180.0
    assert abs(gap) < 1e-6, (phi0, dihedral_deg(xyz))
    return xyz


def constrain_block(cfg, phi0):
    """xtb's restraint: E = fc (1 - cos(phi - phi0)) in hartree, harmonic
    with force constant fc (hartree/rad^2) near phi0 (xtb constrain_pot.f90,
    constrain_dihedral)."""
    atoms = ",".join(str(i + 1) for i in DIHEDRAL_ATOMS)
    return ("$constrain\n   force constant=%.17g\n   dihedral: %s,%.17g\n" %
            (cfg["restraint_fc"], atoms, phi0))


def md_input(cfg, phi0):
    return ("$md\n   temp=%.17g\n   time=%.17g\n   dump=%.17g\n   step=%.17g\n"
            "   hmass=1\n   shake=0\n   nvt=true\n   restart=true\n" %
            (cfg["md_temp_k"], cfg["md_time_ps"], cfg["md_dump_fs"],
             cfg["md_step_fs"])) + constrain_block(cfg, phi0) + "$end\n"


def velocities(cfg, w):
    """Maxwell-Boltzmann velocities (bohr per atomic time unit) at md_temp_k
    with the centre-of-mass motion removed."""
    rng = np.random.default_rng([cfg["md_seed"], w])
    m = np.array([MASS_AMU[s] for s in SYMBOLS]) * AMU_IN_ME
    v = rng.normal(size=(NATOMS, 3)) * np.sqrt(
        KB_HARTREE_PER_K * cfg["md_temp_k"] / m)[:, None]
    v -= (m[:, None] * v).sum(axis=0) / m.sum()
    return v


def restart_file(xyz_angstrom, velo):
    """xtb's mdrestart: a dummy line, then per atom x y z (bohr) and vx vy vz
    in Fortran format 6D22.14 (xtb dynamic.f90, rdmdrestart)."""
    lines = [" -1.0"]
    bohr = np.asarray(xyz_angstrom) / ANGSTROM_PER_BOHR
    for x, v in zip(bohr, velo):
        lines.append("".join("%22.14E" % q for q in list(x) + list(v)))
    return "\n".join(lines) + "\n"


def run_xtb(args, cwd, log):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    with open(os.path.join(cwd, log), "w") as out:
        proc = subprocess.run(["xtb"] + args, cwd=cwd, env=env, stdout=out,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise PipelineError("xtb %s failed (exit %d), see %s" %
                            (" ".join(args), proc.returncode,
                             os.path.join(cwd, log)))


def run_window(workdir, w):
    cfg = load_config(workdir)
    if not 0 <= w < len(cfg["windows_deg"]):
        raise PipelineError("window %d out of range 0..%d" %
                            (w, len(cfg["windows_deg"]) - 1))
    final = window_dir(workdir, w)
    if os.path.isfile(os.path.join(final, "frames.xyz")):
        return
    phi0 = float(cfg["windows_deg"][w])
    os.makedirs(os.path.dirname(final), exist_ok=True)
    tmp = "%s.tmp.%d" % (final, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)

    write_atomic(os.path.join(tmp, "start.xyz"),
                 format_frame(start_geometry(phi0), "start phi0=%g" % phi0))
    write_atomic(os.path.join(tmp, "opt.inp"),
                 constrain_block(cfg, phi0) + "$end\n")
    run_xtb(["start.xyz", "--gfn", "2", "--opt", "--input", "opt.inp"], tmp,
            "opt.out")
    relaxed = read_xyz(os.path.join(tmp, "xtbopt.xyz"))[0][1]

    # The MD starts from the restart file alone: no SCC guess from the
    # relaxation, coordinates and velocities from us.
    for name in ("xtbrestart", "mdrestart", "xtbtopo.mol", "charges", "wbo"):
        if os.path.exists(os.path.join(tmp, name)):
            os.remove(os.path.join(tmp, name))
    write_atomic(os.path.join(tmp, "mdrestart"),
                 restart_file(relaxed, velocities(cfg, w)))
    write_atomic(os.path.join(tmp, "md.inp"), md_input(cfg, phi0))
    run_xtb(["xtbopt.xyz", "--gfn", "2", "--md", "--input", "md.inp"], tmp,
            "md.out")
    with open(os.path.join(tmp, "md.out")) as f:
        md_out = f.read()
    if "RESTART" not in md_out:
        raise PipelineError("%s: xtb ignored the restart file" %
                            os.path.join(tmp, "md.out"))
    if "MD is unstable" in md_out:
        raise PipelineError("%s: xtb MD unstable" %
                            os.path.join(tmp, "md.out"))

    # xtb dumps the geometry before steps 0, dump, 2 dump, ... (checked on
    # 6.5.1: 0.1 ps with dump=10 gives 10 frames, the first the start).
    traj = read_xyz(os.path.join(tmp, "xtb.trj"))
    nsteps_dumped = int(round(cfg["md_time_ps"] * 1000.0 / cfg["md_dump_fs"]))
    if len(traj) != nsteps_dumped:
        raise PipelineError("%s: %d frames, expected %d" %
                            (os.path.join(tmp, "xtb.trj"), len(traj),
                             nsteps_dumped))
    first = nsteps_dumped - frames_per_window(cfg)
    text = []
    for i in range(first, nsteps_dumped):
        xyz = traj[i][1]
        text.append(format_frame(
            xyz, "window=%d phi0=%g t_fs=%g phi=%.2f" %
            (w, phi0, i * cfg["md_dump_fs"], dihedral_deg(xyz))))
    write_atomic(os.path.join(tmp, "frames.xyz"), "".join(text))
    os.remove(os.path.join(tmp, "xtb.trj"))  # frames.xyz keeps what is used
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: sample.py WORKDIR WINDOW\n")
        return 2
    try:
        run_window(argv[1], int(argv[2]))
    except (PipelineError, OSError, ValueError) as e:
        sys.stderr.write("sample.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
