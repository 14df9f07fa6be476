#!/usr/bin/env python3
"""Label geometries with psi4 (HF/aug-cc-pVDZ): energy, analytic gradient,
dipole, static polarizability.

Usage:
  label.py chunk WORKDIR CHUNK [--memory-mb M]
      label draws [CHUNK*chunk_size, (CHUNK+1)*chunk_size) of WORKDIR/drawn.xyz
      into WORKDIR/chunks/chunk_CCCC/ (done when its meta.json exists)
  label.py xyz IN.xyz OUTDIR [--memory-mb M]
      label every frame of an XYZ file (angstrom, DCE atom order) into OUTDIR

Settings (trajectories/dce-hf-adz/README.md): RHF, aug-cc-pVDZ, scf_type df,
e_convergence 1e-8, d_convergence 1e-7, symmetry c1, no_com, no_reorient,
one thread.  The dipole is tr(D M) + nuclear dipole from the SCF density;
the polarizability is psi4's analytic coupled-perturbed HF linear response
(the routine behind properties('scf', properties=['dipole_polarizabilities'])
in psi4 1.3) with convergence 1e-6, symmetrised.  Output files have the
formats of trajectories/dce-hf-adz/: one XYZ frame, energy (hartree),
gradient dE/dR (hartree/angstrom), dipole (e*bohr), polarizability (bohr^3,
xx xy xz yy yz zz) and dihedral (degrees) per geometry.

A set of outputs is written in a temporary directory and renamed into place
when complete; psi4's scratch lives in a temporary directory removed at exit.
"""

import os

# One thread per worker: set before numpy or psi4 load their BLAS.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import atexit  # noqa: E402
import json  # noqa: E402
import lzma  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from common import (ANGSTROM_PER_BOHR, SYMBOLS, NATOMS,  # noqa: E402
                    PipelineError, chunk_dir, chunk_range, dihedral_deg,
                    format_frame, load_config, parse_comment, read_xyz,
                    write_atomic)

# psi4 settings of trajectories/dce-hf-adz/README.md; driver.py copies them
# into config.json, so a work directory keeps the settings it started with.
PSI4_DEFAULTS = {
    "basis": "aug-cc-pvdz",
    "scf_type": "df",
    "e_convergence": 1e-8,
    "d_convergence": 1e-7,
    "cphf_convergence": 1e-6,
    # psi4's SOLVER_MAXITER default; CPHF needs about 12 iterations here.
    "cphf_maxiter": 100,
}
DEFAULT_MEMORY_MB = 1000

OUTPUT_FILES = ("geoms.xyz", "energies.dat", "gradients.dat", "dipoles.dat",
                "polarizabilities.dat", "dihedrals.dat")


def import_psi4():
    try:
        import psi4
    except ImportError:
        raise PipelineError(
            "cannot import psi4; run through generate.sh, or set PATH and "
            "PYTHONPATH with: eval \"$(psi4 --psiapi-path)\"") from None
    return psi4


class Psi4Session:
    """psi4 configured once per process: one thread, scratch and output in
    their own places, the settings of the reference set."""

    def __init__(self, settings, memory_mb, output_path):
        # psi4 writes timer.dat into the working directory, and unlinks its
        # .npy scratch files, from atexit handlers registered on import.
        # Handlers run last-registered first, so the removal of the scratch
        # directory is registered before psi4 is imported, and the process
        # works in that directory until it exits.  One session per process.
        self.scratch = tempfile.mkdtemp(prefix="rpr-psi4-")
        atexit.register(shutil.rmtree, self.scratch, True)
        os.chdir(self.scratch)
        self.psi4 = import_psi4()
        self.settings = settings
        psi4 = self.psi4
        psi4.core.IOManager.shared_object().set_default_path(self.scratch)
        psi4.core.set_output_file(output_path, False)
        psi4.set_num_threads(1, quiet=True)
        psi4.set_memory(int(memory_mb) * 1000000)

    def close(self):
        """Stop writing psi4's output file (the scratch goes at exit)."""
        self.psi4.core.close_outfile()

    def _molecule(self, xyz):
        body = "\n".join("%s %.10f %.10f %.10f" % (s, x, y, z)
                         for s, (x, y, z) in zip(SYMBOLS, xyz))
        return self.psi4.geometry(
            "0 1\n%s\nunits angstrom\nsymmetry c1\nno_com\nno_reorient\n" %
            body)

    def _options(self, extra=None):
        s = self.settings
        opts = {
            "reference": "rhf",
            "basis": s["basis"],
            "scf_type": s["scf_type"],
            "e_convergence": s["e_convergence"],
            "d_convergence": s["d_convergence"],
            # Keep the JK object on the wavefunction for the CPHF solver.
            "save_jk": True,
        }
        opts.update(extra or {})
        self.psi4.core.clean_options()
        self.psi4.set_options(opts)

    def label(self, xyz):
        """Energy (hartree), gradient (hartree/angstrom, [8][3]), dipole
        (e*bohr), symmetrised polarizability (bohr^3, [3][3]) and the
        largest |alpha_ij - alpha_ji| before symmetrising."""
        psi4 = self.psi4
        from psi4.driver.procrouting.response.scf_response import \
            cpscf_linear_response
        mol = self._molecule(xyz)
        self._options()
        energy, wfn = psi4.energy("scf", molecule=mol, return_wfn=True)
        grad_bohr = np.array(psi4.gradient("scf", ref_wfn=wfn).np)
        mints = psi4.core.MintsHelper(wfn.basisset())
        density = wfn.Da().np + wfn.Db().np
        # ao_dipole() holds the electron's charge: mu = tr(D M) + nuclei.
        nuc = mol.nuclear_dipole()
        dipole = np.array([np.vdot(density, m.np) for m in mints.ao_dipole()])
        dipole += np.array([nuc[0], nuc[1], nuc[2]])
        alpha = np.array(cpscf_linear_response(
            wfn, "DIPOLE_POLARIZABILITIES",
            conv_tol=self.settings["cphf_convergence"],
            max_iter=self.settings["cphf_maxiter"], print_lvl=1)[0])
        if not wfn.cphf_converged():
            raise PipelineError(
                "CPHF not converged to %g in %d iterations" %
                (self.settings["cphf_convergence"],
                 self.settings["cphf_maxiter"]))
        psi4.core.clean()
        psi4.core.clean_variables()
        return {
            "energy": float(energy),
            # psi4 works in bohr; dE/dR[angstrom] = dE/dR[bohr] / (A/bohr).
            "gradient": grad_bohr / ANGSTROM_PER_BOHR,
            "dipole": dipole,
            "alpha": 0.5 * (alpha + alpha.T),
            "alpha_asymmetry": float(np.max(np.abs(alpha - alpha.T))),
        }

    def energy(self, xyz, field=None):
        """SCF energy (hartree) alone, optionally in a uniform electric field
        (atomic units, psi4's perturb_h dipole).  For checks of the labels
        by finite differences."""
        mol = self._molecule(xyz)
        extra = None
        if field is not None:
            extra = {"perturb_h": True, "perturb_with": "dipole",
                     "perturb_dipole": [float(f) for f in field]}
        self._options(extra)
        energy = self.psi4.energy("scf", molecule=mol)
        self.psi4.core.clean()
        self.psi4.core.clean_variables()
        return float(energy)


def format_record(xyz, comment, res):
    """The six output lines/blocks of one geometry, dce-hf-adz formats."""
    a = res["alpha"]
    return {
        "geoms.xyz": format_frame(xyz, comment),
        "energies.dat": "%.12f\n" % res["energy"],
        "gradients.dat": "%d\n\n" % NATOMS + "".join(
            "%20.12f %20.12f %20.12f\n" % tuple(g) for g in res["gradient"]),
        "dipoles.dat": "%.10f %.10f %.10f\n" % tuple(res["dipole"]),
        "polarizabilities.dat": "%.8f %.8f %.8f %.8f %.8f %.8f\n" %
        (a[0, 0], a[0, 1], a[0, 2], a[1, 1], a[1, 2], a[2, 2]),
        "dihedrals.dat": "%.4f\n" % dihedral_deg(xyz),
    }


def label_frames(frames, comments, settings, memory_mb, outdir, meta):
    """Label frames into outdir (created by rename when complete)."""
    outdir = os.path.abspath(outdir)
    tmp = "%s.tmp.%d" % (outdir, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    texts = {name: [] for name in OUTPUT_FILES}
    meta.update({"psi4_settings": settings, "host": socket.gethostname(),
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                 "wall_s": [], "cpu_s": [], "alpha_asymmetry_bohr3": []})
    session = Psi4Session(settings, memory_mb, os.path.join(tmp, "psi4.out"))
    try:
        meta["psi4_version"] = session.psi4.__version__
        for (comment, xyz), new_comment in zip(frames, comments):
            wall, cpu = time.time(), time.process_time()
            try:
                res = session.label(xyz)
            except Exception as e:  # psi4 raises its own exception types
                raise PipelineError("%s: %s" % (new_comment, e)) from None
            meta["wall_s"].append(round(time.time() - wall, 3))
            meta["cpu_s"].append(round(time.process_time() - cpu, 3))
            meta["alpha_asymmetry_bohr3"].append(res["alpha_asymmetry"])
            for name, text in format_record(xyz, new_comment, res).items():
                texts[name].append(text)
    finally:
        session.close()
    for name in OUTPUT_FILES:
        write_atomic(os.path.join(tmp, name), "".join(texts[name]))
    with open(os.path.join(tmp, "psi4.out"), "rb") as f:
        log = f.read()
    with lzma.open(os.path.join(tmp, "psi4.out.xz"), "wb") as f:
        f.write(log)
    os.remove(os.path.join(tmp, "psi4.out"))
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    # meta.json last: its presence marks the directory complete.
    write_atomic(os.path.join(tmp, "meta.json"),
                 json.dumps(meta, indent=1) + "\n")
    shutil.rmtree(outdir, ignore_errors=True)
    os.rename(tmp, outdir)


def label_chunk(workdir, c, memory_mb):
    cfg = load_config(workdir)
    out = chunk_dir(workdir, c)
    if os.path.isfile(os.path.join(out, "meta.json")):
        return
    first, last = chunk_range(cfg, c)
    if first >= last:
        raise PipelineError("chunk %d is past the end of the draw" % c)
    drawn = read_xyz(os.path.join(workdir, "drawn.xyz"))
    frames = drawn[first:last]
    comments = []
    for d, (comment, xyz) in enumerate(frames, start=first):
        f = parse_comment(comment)
        if f.get("draw") != str(d):
            raise PipelineError("drawn.xyz: frame %d is labelled '%s'" %
                                (d, comment))
        # Records are collected in draw order from draw 0, so the record
        # index is the draw index.
        comments.append("index=%d pool_index=%s phi=%s" %
                        (d, f["pool_index"], f["phi"]))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    meta = {"chunk": c, "draws": [first, last]}
    label_frames(frames, comments, cfg["psi4"], memory_mb, out, meta)


def main(argv):
    args = list(argv[1:])
    memory_mb = DEFAULT_MEMORY_MB
    if "--memory-mb" in args:
        i = args.index("--memory-mb")
        try:
            memory_mb = int(args[i + 1])
        except (IndexError, ValueError):
            sys.stderr.write("label.py: --memory-mb needs an integer\n")
            return 2
        del args[i:i + 2]
    # SIGTERM becomes SystemExit, so the finally blocks remove psi4's
    # scratch and the half-written directory is left for the next run.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    try:
        if len(args) == 3 and args[0] == "chunk":
            label_chunk(args[1], int(args[2]), memory_mb)
        elif len(args) == 3 and args[0] == "xyz":
            frames = read_xyz(args[1])
            label_frames(frames, [c for c, _ in frames], PSI4_DEFAULTS,
                         memory_mb, args[2], {"source": args[1]})
        else:
            sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
            return 2
    except (PipelineError, OSError, ValueError) as e:
        sys.stderr.write("label.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
