#!/usr/bin/env python3
"""Check labelled DCE data: formats, units, invariances, and by psi4 itself.

Usage: check.py DIR [--compare REFDIR K] [--fd K [--fd-basis B]]

DIR holds geoms.xyz, energies.dat, gradients.dat, dipoles.dat,
polarizabilities.dat and dihedrals.dat, plain or .xz (a collected set, a
chunk directory, or trajectories/dce-hf-adz itself).  Always checked, on
every record: the exact layout of trajectories/dce-hf-adz, the units
(angstrom bond lengths, hartree energies, bohr^3 polarizabilities), the
dihedral column, and the translational and rotational invariance of the
energy (sum of gradients and of torques zero).
--compare REFDIR K: record 0 of DIR against record K of REFDIR, which must
    hold the same geometry (relabelling a shipped record).
--fd K: the labelling code on the geometry of record K against psi4 finite
    differences: the gradient along its own direction, the dipole and the
    polarizability along a fixed direction by finite fields, all in basis B
    (default aug-cc-pvdz, about two minutes; cc-pvdz takes seconds).
Exit 0 when every check passes, 1 otherwise.
"""

import lzma
import os
import re
import sys

import numpy as np

from common import (ANGSTROM_PER_BOHR, NATOMS, SYMBOLS, PipelineError,
                    dihedral_deg, parse_comment)

# Numerical noise of psi4 labels at the settings of the README, as measured
# there by relabelling rotated geometries: energy 1e-9 hartree, gradient
# 1e-7 hartree/bohr, dipole 1e-10 e*bohr, polarizability 1e-5 bohr^3.
NOISE_E = 1e-9
NOISE_G = 1e-7 / ANGSTROM_PER_BOHR  # hartree/angstrom
NOISE_MU = 1e-10
NOISE_ALPHA = 1e-5
# Half a unit in the last printed digit of each file.
PRINT_E, PRINT_G, PRINT_MU, PRINT_ALPHA = 5e-13, 5e-13, 5e-11, 5e-9

# The exact line layouts of trajectories/dce-hf-adz.
NUM = r"-?\d+\.%s"
LAYOUT = {
    "atom": re.compile(r"^(C |Cl|H )(?: *%s){3}$" % (NUM % r"\d{10}")),
    "energy": re.compile(r"^%s$" % (NUM % r"\d{12}")),
    "grad": re.compile(r"^ *%s +%s +%s$" % ((NUM % r"\d{12}",) * 3)),
    "dipole": re.compile(r"^%s %s %s$" % ((NUM % r"\d{10}",) * 3)),
    "alpha": re.compile(r"^%s$" % " ".join([NUM % r"\d{8}"] * 6)),
    "dihedral": re.compile(r"^%s$" % (NUM % r"\d{4}")),
}

# Bond lengths (angstrom) of DCE at 400 K lie well inside these ranges
# (equilibrium C-C 1.52, C-Cl 1.79, C-H 1.09, thermal spread < 0.1); the
# same geometry in bohr would give 1.89 times the values, outside them.
BONDS = {(0, 1): (1.35, 1.75), (0, 2): (1.6, 2.05), (1, 3): (1.6, 2.05),
         (0, 4): (0.9, 1.3), (0, 5): (0.9, 1.3), (1, 6): (0.9, 1.3),
         (1, 7): (0.9, 1.3)}
# HF/aug-cc-pVDZ energy of DCE near its minimum is -997.08 hartree; 400 K
# distortions add less than 0.1 hartree (about 60 kcal/mol).
ENERGY_RANGE = (-997.2, -996.9)
# Isotropic HF polarizability is about 52 bohr^3 (README); in angstrom^3 it
# would be 7.7.
ALPHA_ISO_RANGE = (35.0, 70.0)


class Checker:
    def __init__(self):
        self.failures = 0
        self.passes = 0

    def check(self, ok, what):
        if ok:
            self.passes += 1
        else:
            self.failures += 1
            print("FAIL %s" % what)

    def close(self, got, want, atol, what):
        got, want = np.asarray(got, float), np.asarray(want, float)
        err = float(np.max(np.abs(got - want)))
        # NaN never passes.
        self.check(err <= atol, "%s: |got - want| = %.3g > %.3g" %
                   (what, err, atol))
        return err


def read_text(d, name):
    for path, opener in ((os.path.join(d, name), open),
                         (os.path.join(d, name + ".xz"), lzma.open)):
        if os.path.exists(path):
            with opener(path, "rt") as f:
                return f.read()
    raise PipelineError("%s: neither %s nor %s.xz" % (d, name, name))


def load(d, chk):
    """Parse a data set, checking every line against the shipped layout."""
    text = {n: read_text(d, n).splitlines() for n in (
        "geoms.xyz", "energies.dat", "gradients.dat", "dipoles.dat",
        "polarizabilities.dat", "dihedrals.dat")}
    n = len(text["energies.dat"])
    chk.check(n > 0, "%s: no records" % d)
    geo, grad = text["geoms.xyz"], text["gradients.dat"]
    chk.check(len(geo) == n * (2 + NATOMS),
              "%s/geoms.xyz: %d lines for %d records" % (d, len(geo), n))
    chk.check(len(grad) == n * (2 + NATOMS),
              "%s/gradients.dat: %d lines for %d records" % (d, len(grad), n))
    for name in ("dipoles.dat", "polarizabilities.dat", "dihedrals.dat"):
        chk.check(len(text[name]) == n, "%s/%s: %d lines for %d records" %
                  (d, name, len(text[name]), n))
    if chk.failures:
        raise PipelineError("%s: record counts disagree" % d)
    xyz = np.empty((n, NATOMS, 3))
    g = np.empty((n, NATOMS, 3))
    comments = []
    for k in range(n):
        block = geo[k * (2 + NATOMS):(k + 1) * (2 + NATOMS)]
        chk.check(block[0] == "%d" % NATOMS, "%s/geoms.xyz:%d: count" %
                  (d, k * (2 + NATOMS) + 1))
        # Records are numbered consecutively: from 0 in a collected set,
        # from the chunk's first draw in a chunk directory.
        fields = parse_comment(block[1])
        if k == 0:
            first = fields.get("index", "")
            first = int(first) if first.isdigit() else -1
        chk.check(fields.get("index") == str(first + k) and
                  "pool_index" in fields and "phi" in fields,
                  "%s/geoms.xyz:%d: comment '%s'" %
                  (d, k * (2 + NATOMS) + 2, block[1]))
        comments.append(fields)
        for a in range(NATOMS):
            line = block[2 + a]
            chk.check(LAYOUT["atom"].match(line) is not None and
                      line.split()[0] == SYMBOLS[a],
                      "%s/geoms.xyz:%d: '%s'" %
                      (d, k * (2 + NATOMS) + 3 + a, line))
            xyz[k, a] = [float(v) for v in line.split()[1:4]]
        block = grad[k * (2 + NATOMS):(k + 1) * (2 + NATOMS)]
        chk.check(block[0] == "%d" % NATOMS and block[1] == "",
                  "%s/gradients.dat:%d: header" % (d, k * (2 + NATOMS) + 1))
        for a in range(NATOMS):
            line = block[2 + a]
            chk.check(LAYOUT["grad"].match(line) is not None and
                      len(line) == 62, "%s/gradients.dat:%d: '%s'" %
                      (d, k * (2 + NATOMS) + 3 + a, line))
            g[k, a] = [float(v) for v in line.split()]
    for name, key in (("energies.dat", "energy"), ("dipoles.dat", "dipole"),
                      ("polarizabilities.dat", "alpha"),
                      ("dihedrals.dat", "dihedral")):
        for i, line in enumerate(text[name]):
            chk.check(LAYOUT[key].match(line) is not None,
                      "%s/%s:%d: '%s'" % (d, name, i + 1, line))
    num = {name: np.array([[float(v) for v in line.split()]
                           for line in text[name]])
           for name in ("energies.dat", "dipoles.dat", "polarizabilities.dat",
                        "dihedrals.dat")}
    a6 = num["polarizabilities.dat"]
    alpha = np.empty((n, 3, 3))
    for k, (xx, xy, xz, yy, yz, zz) in enumerate(a6):
        alpha[k] = [[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]
    return {"dir": d, "n": n, "xyz": xyz, "comments": comments,
            "energy": num["energies.dat"][:, 0], "grad": g,
            "dipole": num["dipoles.dat"], "alpha": alpha,
            "dihedral": num["dihedrals.dat"][:, 0]}


def check_physics(s, chk):
    d = s["dir"]
    for k in range(s["n"]):
        x = s["xyz"][k]
        for (i, j), (lo, hi) in BONDS.items():
            r = np.linalg.norm(x[i] - x[j])
            chk.check(lo <= r <= hi, "%s record %d: bond %s%d-%s%d = %.3f, "
                      "not in [%g, %g] angstrom" %
                      (d, k, SYMBOLS[i], i + 1, SYMBOLS[j], j + 1, r, lo, hi))
        e = s["energy"][k]
        chk.check(ENERGY_RANGE[0] <= e <= ENERGY_RANGE[1],
                  "%s record %d: energy %.6f not in %s hartree" %
                  (d, k, e, ENERGY_RANGE))
        iso = np.trace(s["alpha"][k]) / 3
        chk.check(ALPHA_ISO_RANGE[0] <= iso <= ALPHA_ISO_RANGE[1],
                  "%s record %d: isotropic alpha %.3f not in %s bohr^3" %
                  (d, k, iso, ALPHA_ISO_RANGE))
        chk.check(np.all(np.linalg.eigvalsh(s["alpha"][k]) > 0),
                  "%s record %d: alpha not positive definite" % (d, k))
        # The dihedral column is the geometry's, to its 4 printed decimals
        # (5e-5) plus the effect of 10-decimal coordinates (< 1e-7 deg).
        phi = dihedral_deg(x)
        gap = (s["dihedral"][k] - phi + 180.0) % 360.0 - 180.0
        chk.close(gap, 0.0, 5e-5 + 1e-7, "%s record %d: dihedrals.dat" %
                  (d, k))
        chk.close(float(s["comments"][k]["phi"]), phi, 5e-3 + 1e-7,
                  "%s record %d: phi= in the comment" % (d, k))
        # E is invariant under translation and rotation, so the gradient
        # sums to zero and so do the torques r x g.  Each gradient component
        # carries psi4's noise NOISE_G plus printing PRINT_G, so a sum over
        # the atoms is off by at most NATOMS times that, and a torque by
        # sum_a |r_a| sqrt(3) (NOISE_G + PRINT_G) (|r x dg| <= |r| |dg|),
        # plus |g| times the 5e-11 angstrom rounding of the coordinates.
        g = s["grad"][k]
        per_component = NOISE_G + PRINT_G
        chk.close(g.sum(axis=0), 0.0, NATOMS * per_component,
                  "%s record %d: sum of gradients" % (d, k))
        r = x - x.mean(axis=0)
        torque = np.cross(r, g).sum(axis=0)
        chk.close(torque, 0.0,
                  np.sqrt(3) * per_component * np.linalg.norm(r, axis=1).sum()
                  + np.linalg.norm(g, axis=1).sum() * 5e-11,
                  "%s record %d: sum of torques" % (d, k))


def check_compare(s, ref, k, chk):
    """Record 0 of s relabels record k of ref: the differences are psi4's
    numerical noise (README of the reference set) plus printing."""
    what = "%s record 0 vs %s record %d" % (s["dir"], ref["dir"], k)
    chk.close(s["xyz"][0], ref["xyz"][k], 0.0, what + ": geometry")
    chk.close(s["energy"][0], ref["energy"][k], NOISE_E + 2 * PRINT_E,
              what + ": energy")
    chk.close(s["grad"][0], ref["grad"][k], NOISE_G + 2 * PRINT_G,
              what + ": gradient")
    chk.close(s["dipole"][0], ref["dipole"][k], NOISE_MU + 2 * PRINT_MU,
              what + ": dipole")
    chk.close(s["alpha"][0], ref["alpha"][k], NOISE_ALPHA + 2 * PRINT_ALPHA,
              what + ": polarizability")


def check_fd(s, k, basis, chk):
    """The labelling code against psi4 finite differences of the energy, on
    the geometry of record k, both in `basis` and converged tightly.

    This checks what label.py does with psi4's numbers (units, signs, the
    dipole origin, the gradient conversion), which does not depend on the
    basis; a small basis keeps the check quick.  The gap between central
    differences at steps h and h/2 is three times the truncation error of
    the h/2 one; rounding adds e_round/(h/2) to a first and
    4 e_round/(h/2)^2 to a second difference, e_round bounding one energy's
    error: these SCFs converge to 1e-10 in energy and density, so
    e_round = 1e-10 hartree.  The analytic values carry psi4's noise
    (NOISE_*, measured at looser settings, so an upper bound)."""
    from label import PSI4_DEFAULTS, Psi4Session
    tight = dict(PSI4_DEFAULTS, basis=basis, e_convergence=1e-10,
                 d_convergence=1e-10, cphf_convergence=1e-9)
    e_round = 1e-10
    x = s["xyz"][k]
    what = "%s record %d, %s" % (s["dir"], k, basis)
    session = Psi4Session(tight, 1000, os.devnull)
    try:
        lab = session.label(x)
        g = lab["gradient"]
        # Gradient (hartree/angstrom) along its own direction u: g.u = |g|.
        u = g / np.linalg.norm(g)
        h = 2e-3  # angstrom, ~cbrt(eps) relative to bond lengths ~1.5
        d = []
        for step in (h, h / 2):
            ep = session.energy(x + step * u)
            em = session.energy(x - step * u)
            d.append((ep - em) / (2 * step))
        tol = abs(d[0] - d[1]) + e_round / (h / 2) + \
            np.sqrt(NATOMS * 3) * NOISE_G
        err = chk.close(np.vdot(g, u), d[1], tol,
                        what + ": gradient . u vs central difference")
        print("%s: gradient . u = %.9f, central difference %.9f, |diff| "
              "%.2g, tol %.2g hartree/angstrom" %
              (what, np.vdot(g, u), d[1], err, tol))
        # Dipole and polarizability along a fixed unit vector e.  psi4's
        # perturb_dipole lambda adds lambda . mu_operator (electrons through
        # the dipole integrals, nuclei through nuclearrep_; psi4
        # libscf_solver/hf.cc), so E(lambda e) = E0 + (mu.e) lambda
        # - (e.alpha.e) lambda^2 / 2 + O(lambda^3) (Hellmann-Feynman).
        e = np.array([0.48, -0.61, 0.63])
        e /= np.linalg.norm(e)
        f = 2e-3  # atomic units
        e0 = session.energy(x)
        d1, d2 = [], []
        for step in (f, f / 2):
            ep = session.energy(x, field=step * e)
            em = session.energy(x, field=-step * e)
            d1.append((ep - em) / (2 * step))
            d2.append(-(ep - 2 * e0 + em) / step ** 2)
        mu_e = np.dot(lab["dipole"], e)
        tol = abs(d1[0] - d1[1]) + e_round / (f / 2) + np.sqrt(3) * NOISE_MU
        err = chk.close(mu_e, d1[1], tol, what + ": dipole . e vs field")
        print("%s: dipole . e = %.9f, finite field %.9f, |diff| %.2g, tol "
              "%.2g e*bohr" % (what, mu_e, d1[1], err, tol))
        a_ee = e @ lab["alpha"] @ e
        tol = abs(d2[0] - d2[1]) + 4 * e_round / (f / 2) ** 2 + \
            3 * NOISE_ALPHA
        err = chk.close(a_ee, d2[1], tol, what + ": e.alpha.e vs field")
        print("%s: e.alpha.e = %.6f, finite field %.6f, |diff| %.2g, tol "
              "%.2g bohr^3" % (what, a_ee, d2[1], err, tol))
        if basis == PSI4_DEFAULTS["basis"]:
            # Information only: the stored label at the README's settings
            # against the tightly converged one.
            print("%s: stored label - tight: energy %.2g, gradient %.2g, "
                  "dipole %.2g, alpha %.2g" % (
                      what, abs(s["energy"][k] - lab["energy"]),
                      np.abs(s["grad"][k] - g).max(),
                      np.abs(s["dipole"][k] - lab["dipole"]).max(),
                      np.abs(s["alpha"][k] - lab["alpha"]).max()))
    finally:
        session.close()


def main(argv):
    args = list(argv[1:])
    chk = Checker()
    try:
        compare = fd = None
        if "--compare" in args:
            i = args.index("--compare")
            compare = (args[i + 1], int(args[i + 2]))
            del args[i:i + 3]
        if "--fd" in args:
            i = args.index("--fd")
            fd = int(args[i + 1])
            del args[i:i + 2]
        fd_basis = "aug-cc-pvdz"
        if "--fd-basis" in args:
            i = args.index("--fd-basis")
            fd_basis = args[i + 1]
            del args[i:i + 2]
        if len(args) != 1:
            sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
            return 2
        s = load(args[0], chk)
        check_physics(s, chk)
        if compare is not None:
            ref = load(compare[0], chk)
            check_compare(s, ref, compare[1], chk)
        if fd is not None:
            check_fd(s, fd, fd_basis, chk)
    except (PipelineError, OSError, ValueError, IndexError) as e:
        print("FAIL %s" % e)
        return 1
    print("check.py %s: %d passed, %d failed" %
          (argv[1], chk.passes, chk.failures))
    return 0 if chk.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
