#!/usr/bin/env python3
"""Driver of the DCE reference-data pipeline; run it through generate.sh.

  generate.sh run     [--workdir D] [--workers N] [--target N] [options]
  generate.sh collect [--workdir D] [--outdir D]
  generate.sh status  [--workdir D]

run: sample the xtb windows, draw geometries, label the first --target draws
with psi4 in chunks, --workers processes at a time.  Everything finished is
kept: a second run (after an interruption, or with a larger --target) only
does what is missing.  Whole chunks that the collected set in --outdir
already holds (a committed extension) are restored from it into the work
directory instead of being labelled again, once the draw has been checked
to reproduce their geometries (--no-restore turns this off).  The
sampling and labelling options are stored in WORKDIR/config.json by the
first run; a later run that asks for different values is refused, so a
work directory never mixes settings.
collect: write the finished records (draws 0..N-1, the longest run of
finished chunks from the start) as xz-compressed files and README.md.
status: what is done, what is running, the measured cost per geometry.
"""

import argparse
import fcntl
import json
import lzma
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

from common import (CONFIG_NAME, NATOMS, PipelineError, chunk_count,
                    chunk_dir, chunk_done, chunk_range, frames_per_window,
                    load_config, parse_comment, pool_size, read_xyz,
                    window_dir, write_atomic)
from label import DEFAULT_MEMORY_MB, OUTPUT_FILES, PSI4_DEFAULTS

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WORKDIR = os.path.normpath(
    os.path.join(HERE, "..", "dce-hf-adz-ext", "work"))
DEFAULT_OUTDIR = os.path.normpath(os.path.join(HERE, "..", "dce-hf-adz-ext"))

# The sampling of trajectories/dce-hf-adz/README.md, with new seeds so that
# the trajectories and draws are new (the shipped set drew with 20261127 and
# its xtb velocities were not seeded).
DEFAULTS = {
    "windows_deg": [15.0 * i for i in range(13)],
    "md_time_ps": 11.0,
    "md_discard_ps": 1.0,
    "md_dump_fs": 10.0,
    "md_step_fs": 1.0,
    "md_temp_k": 400.0,
    "restraint_fc": 0.05,
    "md_seed": 20261203,
    "seed": 20261204,
    "shift_sigma_angstrom": 2.0,
    "chunk_size": 20,
}
# 1634 shipped + 1366 = 3000; 1400 is the next multiple of chunk_size 20.
DEFAULT_TARGET = 1400
# Largest coordinate difference (angstrom) between a collected record and
# the draw for the record to count as that draw (restore_chunks): both are
# printed with 10 decimals from the same numbers, so they agree exactly
# unless the draw differs.
RESTORE_TOL_ANGSTROM = 1e-9


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1 (got %s)" % text)
    return value


def angle_list(text):
    return [float(v) for v in text.replace(",", " ").split()]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="generate.sh", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=("run", "collect", "status"))
    p.add_argument("--workdir", default=DEFAULT_WORKDIR,
                   help="work directory (default %(default)s)")
    p.add_argument("--outdir", default=DEFAULT_OUTDIR,
                   help="collect: output directory (default %(default)s)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="single-threaded xtb/psi4 processes at a time "
                   "(default 1)")
    p.add_argument("--target", type=positive_int, default=DEFAULT_TARGET,
                   help="labelled geometries wanted, rounded up to whole "
                   "chunks (default %(default)s)")
    p.add_argument("--memory-mb", type=positive_int, default=DEFAULT_MEMORY_MB,
                   help="psi4 memory per worker (default %(default)s)")
    p.add_argument("--no-restore", dest="restore", action="store_false",
                   help="run: label chunks again even if --outdir holds "
                   "them")
    g = p.add_argument_group(
        "sampling and labelling (fixed by the first run of a work directory)")
    g.add_argument("--windows", dest="windows_deg", type=angle_list,
                   help="restrained Cl-C-C-Cl angles, degrees (default 0,15,"
                   "...,180)")
    g.add_argument("--md-time-ps", type=float, help="MD per window (11)")
    g.add_argument("--md-discard-ps", type=float,
                   help="equilibration dropped (1)")
    g.add_argument("--md-dump-fs", type=float, help="frame interval (10)")
    g.add_argument("--md-step-fs", type=float, help="time step (1)")
    g.add_argument("--md-temp-k", type=float, help="thermostat (400)")
    g.add_argument("--restraint-fc", type=float,
                   help="dihedral restraint, hartree/rad^2 (0.05)")
    g.add_argument("--md-seed", type=int,
                   help="velocity seed (%d)" % DEFAULTS["md_seed"])
    g.add_argument("--seed", type=int,
                   help="draw seed (%d)" % DEFAULTS["seed"])
    g.add_argument("--shift-sigma", dest="shift_sigma_angstrom", type=float,
                   help="random translation, angstrom (2)")
    g.add_argument("--chunk-size", type=positive_int,
                   help="geometries per chunk (20)")
    return p.parse_args(argv)


def validate(cfg):
    """Refuse settings that cannot give whole frames and chunks."""
    step, dump = cfg["md_step_fs"], cfg["md_dump_fs"]
    if not cfg["windows_deg"]:
        raise PipelineError("--windows: no angles")
    if step <= 0 or dump <= 0 or cfg["md_time_ps"] <= 0:
        raise PipelineError("md times must be > 0")
    if not 0 <= cfg["md_discard_ps"] < cfg["md_time_ps"]:
        raise PipelineError("--md-discard-ps must be in [0, md-time-ps)")
    if cfg["md_temp_k"] <= 0 or cfg["restraint_fc"] < 0:
        raise PipelineError("--md-temp-k must be > 0, --restraint-fc >= 0")
    if cfg["shift_sigma_angstrom"] < 0:
        raise PipelineError("--shift-sigma must be >= 0")
    for name, value in (("md_dump_fs", dump / step),
                        ("md_time_ps", cfg["md_time_ps"] * 1000 / dump),
                        ("md_discard_ps", cfg["md_discard_ps"] * 1000 / dump)):
        if abs(value - round(value)) > 1e-9 * max(1.0, value):
            raise PipelineError("%s must be a whole number of %s" %
                                (name, "steps" if name == "md_dump_fs"
                                 else "dump intervals"))
    if frames_per_window(cfg) < 1:
        raise PipelineError("no frames left after --md-discard-ps")


def resolve_config(args):
    """config.json of the work directory, created from the options on the
    first run and compared with any explicit option afterwards."""
    wanted = {k: getattr(args, k) for k in DEFAULTS
              if getattr(args, k) is not None}
    path = os.path.join(args.workdir, CONFIG_NAME)
    if os.path.isfile(path):
        cfg = load_config(args.workdir)
        for key, value in wanted.items():
            if cfg[key] != value:
                raise PipelineError(
                    "%s has %s=%s but this run asks for %s; use another "
                    "--workdir for other settings" %
                    (path, key, json.dumps(cfg[key]), json.dumps(value)))
        return cfg
    cfg = dict(DEFAULTS)
    cfg.update(wanted)
    cfg["psi4"] = dict(PSI4_DEFAULTS)
    validate(cfg)
    version = subprocess.run(["xtb", "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True)
    cfg["xtb_version"] = " ".join(
        line.strip().lstrip("* ") for line in version.stdout.splitlines()
        if "version" in line)
    os.makedirs(args.workdir, exist_ok=True)
    write_atomic(path, json.dumps(cfg, indent=1) + "\n")
    return cfg


def log(msg):
    sys.stdout.write("%s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), msg))
    sys.stdout.flush()


class Pool:
    """At most `workers` child processes; a failed job is reported and the
    others go on (a rerun retries it)."""

    def __init__(self, workers):
        self.workers = workers
        self.running = []
        self.failed = []

    def run(self, jobs, on_done):
        pending = list(jobs)
        while pending or self.running:
            while pending and len(self.running) < self.workers:
                name, argv = pending.pop(0)
                self.running.append((name, subprocess.Popen(argv)))
            time.sleep(0.2)
            for job in list(self.running):
                name, proc = job
                if proc.poll() is None:
                    continue
                self.running.remove(job)
                if proc.returncode == 0:
                    on_done(name)
                else:
                    self.failed.append(name)
                    log("%s failed (exit %d)" % (name, proc.returncode))

    def terminate(self):
        for _, proc in self.running:
            proc.terminate()
        for _, proc in self.running:
            proc.wait()


def remove_stale(workdir):
    """Half-written directories and files of an interrupted run."""
    for sub in ("md", "chunks", "."):
        d = os.path.join(workdir, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if ".tmp." in name:
                path = os.path.join(d, name)
                log("removing %s, left by an interrupted run" % path)
                if os.path.isdir(path):
                    shutil.rmtree(path)
                else:
                    os.remove(path)


def read_collected(outdir):
    """The records of a collected set (collect's *.xz files) as lists of
    per-record texts, by output file name; None if there is none."""
    if not os.path.isfile(os.path.join(outdir, "geoms.xyz.xz")):
        return None
    records = {}
    for name in OUTPUT_FILES:
        path = os.path.join(outdir, name + ".xz")
        with lzma.open(path, "rt") as f:
            lines = f.read().splitlines(keepends=True)
        per = {"geoms.xyz": 2 + NATOMS, "gradients.dat": 2 + NATOMS}.get(
            name, 1)
        if len(lines) % per:
            raise PipelineError("%s: %d lines, not whole records of %d" %
                                (path, len(lines), per))
        records[name] = ["".join(lines[k:k + per])
                         for k in range(0, len(lines), per)]
    counts = {len(r) for r in records.values()}
    if len(counts) != 1:
        raise PipelineError("%s: files with different record counts %s" %
                            (outdir, sorted(counts)))
    return records


def readme_facts(outdir):
    """psi4 version and largest alpha asymmetry that collect wrote into the
    set's README.md (for the meta.json of restored chunks)."""
    facts = {"psi4_version": "unknown", "alpha_asymmetry_max_bohr3": None}
    try:
        with open(os.path.join(outdir, "README.md")) as f:
            text = f.read()
    except OSError:
        return facts
    found = re.search(r"Labelling\*\* with psi4 ([^:\s]+):", text)
    if found:
        facts["psi4_version"] = found.group(1)
    found = re.search(r"alpha_ji\| before: ([0-9.eE+-]+)", text)
    if found:
        facts["alpha_asymmetry_max_bohr3"] = float(found.group(1))
    return facts


def record_is_draw(record, d, frame):
    """Whether a collected geoms.xyz record is draw d (a frame of drawn.xyz):
    index d, the draw's pool_index, and coordinates within
    RESTORE_TOL_ANGSTROM."""
    lines = record.splitlines()
    fields = parse_comment(lines[1])
    want = parse_comment(frame[0])
    if (fields.get("index") != str(d) or want.get("draw") != str(d) or
            fields.get("pool_index") != want.get("pool_index")):
        return False
    try:
        xyz = np.array([[float(v) for v in line.split()[1:4]]
                        for line in lines[2:]])
    except ValueError:
        return False
    return (xyz.shape == frame[1].shape and
            np.abs(xyz - frame[1]).max() <= RESTORE_TOL_ANGSTROM)


def restore_chunks(workdir, cfg, outdir, nchunks):
    """Chunks 0..nchunks-1 that are not finished in workdir but lie wholly
    inside the collected set in outdir are written from its records.  The
    set must be this work directory's draw: if its record 0 is not draw 0
    (another seed, other settings) nothing is restored; if a later record
    of a chunk to restore is not its draw, the run is refused (a damaged
    set).  Returns the restored chunk numbers."""
    records = read_collected(outdir)
    if records is None:
        return []
    ncol = len(records["geoms.xyz"])
    size = cfg["chunk_size"]
    todo = [c for c in range(min(nchunks, ncol // size))
            if not chunk_done(workdir, c)]
    if not todo:
        return []
    drawn = read_xyz(os.path.join(workdir, "drawn.xyz"))
    src = os.path.join(outdir, "geoms.xyz.xz")
    if not record_is_draw(records["geoms.xyz"][0], 0, drawn[0]):
        log("%s holds another draw than %s (other seeds or settings): "
            "nothing restored" % (src, os.path.join(workdir, "drawn.xyz")))
        return []
    facts = readme_facts(outdir)
    for c in todo:
        first, last = chunk_range(cfg, c)
        for d in range(first, last):
            if not record_is_draw(records["geoms.xyz"][d], d, drawn[d]):
                raise PipelineError(
                    "%s: record %d is not draw %d of %s although record 0 "
                    "is; use --no-restore or another --outdir" %
                    (src, d, d, os.path.join(workdir, "drawn.xyz")))
        out = chunk_dir(workdir, c)
        tmp = "%s.tmp.%d" % (out, os.getpid())
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for name in OUTPUT_FILES:
            write_atomic(os.path.join(tmp, name),
                         "".join(records[name][first:last]))
        meta = {"chunk": c, "draws": [first, last],
                "restored_from": outdir, "psi4_settings": cfg["psi4"],
                "psi4_version": facts["psi4_version"],
                "alpha_asymmetry_max_bohr3":
                facts["alpha_asymmetry_max_bohr3"],
                "wall_s": [], "cpu_s": [], "alpha_asymmetry_bohr3": [],
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_atomic(os.path.join(tmp, "meta.json"),
                     json.dumps(meta, indent=1) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        os.rename(tmp, out)
    return todo


def chunk_meta(workdir, c):
    with open(os.path.join(chunk_dir(workdir, c), "meta.json")) as f:
        return json.load(f)


def cmd_run(args):
    for tool in ("xtb", "psi4"):
        if shutil.which(tool) is None:
            raise PipelineError("%s not found in PATH" % tool)
    os.makedirs(args.workdir, exist_ok=True)
    lock = open(os.path.join(args.workdir, "run.lock"), "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        raise PipelineError("another run works in %s (%s)" %
                            (args.workdir, lock.read().strip())) from None
    lock.seek(0)
    lock.truncate()
    lock.write("pid %d, process group %d\n" % (os.getpid(), os.getpgrp()))
    lock.flush()

    cfg = resolve_config(args)
    npool = pool_size(cfg)
    if args.target > npool:
        raise PipelineError("--target %d exceeds the pool of %d frames" %
                            (args.target, npool))
    write_atomic(os.path.join(args.workdir, "target"), "%d\n" % args.target)
    remove_stale(args.workdir)
    pool = Pool(args.workers)

    def stop(signum, frame):
        log("signal %d: stopping the workers" % signum)
        pool.terminate()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    py = sys.executable

    nwin = len(cfg["windows_deg"])
    todo = [w for w in range(nwin) if not os.path.isfile(
        os.path.join(window_dir(args.workdir, w), "frames.xyz"))]
    log("sampling: %d of %d windows done" % (nwin - len(todo), nwin))
    pool.run([("window %d" % w,
               [py, os.path.join(HERE, "sample.py"), args.workdir, str(w)])
              for w in todo], lambda name: log("%s sampled" % name))
    if pool.failed:
        raise PipelineError("sampling failed: %s" % ", ".join(pool.failed))

    if subprocess.run([py, os.path.join(HERE, "draw.py"),
                       args.workdir]).returncode != 0:
        raise PipelineError("draw failed")

    nchunks = chunk_count(cfg, args.target)
    if args.restore:
        restored = restore_chunks(args.workdir, cfg, args.outdir, nchunks)
        if restored:
            log("restored %d chunk(s) (%d-%d) from %s instead of labelling "
                "them" % (len(restored), restored[0], restored[-1],
                          args.outdir))
    todo = [c for c in range(nchunks) if not chunk_done(args.workdir, c)]
    log("labelling: %d of %d chunks done, %d to go with %d worker(s)" %
        (nchunks - len(todo), nchunks, len(todo), args.workers))
    started = time.time()
    finished = []

    def chunk_finished(name):
        c = int(name.split()[1])
        finished.append(c)
        meta = chunk_meta(args.workdir, c)
        n = len(meta["wall_s"])
        log("%s labelled: %d geometries, %.1f s each; %d of %d chunks to go" %
            (name, n, sum(meta["wall_s"]) / n, len(todo) - len(finished) -
             len(pool.failed), nchunks))

    pool.run([("chunk %d" % c,
               [py, os.path.join(HERE, "label.py"), "chunk", args.workdir,
                str(c), "--memory-mb", str(args.memory_mb)]) for c in todo],
             chunk_finished)
    if finished:
        ngeo = sum(chunk_range(cfg, c)[1] - chunk_range(cfg, c)[0]
                   for c in finished)
        log("labelled %d geometries in %.0f s wall: %.2f s per geometry "
            "with %d worker(s)" % (ngeo, time.time() - started,
                                   (time.time() - started) / ngeo,
                                   args.workers))
    if pool.failed:
        raise PipelineError("labelling failed: %s (rerun to retry)" %
                            ", ".join(pool.failed))
    log("done: draws 0..%d labelled" %
        (chunk_range(cfg, nchunks - 1)[1] - 1))


def finished_prefix(workdir, cfg):
    """Chunks 0..n-1 all finished; and finished chunks after the gap."""
    nchunks = chunk_count(cfg, pool_size(cfg))
    n = 0
    while n < nchunks and chunk_done(workdir, n):
        n += 1
    later = [c for c in range(n + 1, nchunks) if chunk_done(workdir, c)]
    return n, later


def timing(workdir, chunks, key="wall_s"):
    """Seconds per geometry of the chunks: wall_s or cpu_s."""
    times = []
    for c in chunks:
        times.extend(chunk_meta(workdir, c)[key])
    return np.array(times)


def cost_text(wall, cpu, restored):
    """The README's cost sentence; records restored from an earlier
    collection (restore_chunks) carry no timings."""
    note = ""
    if restored:
        note = (" %d records were restored from an earlier collection and "
                "are not timed here." % restored)
    if not len(wall):
        return "Cost per geometry: not timed in this work directory.%s" % note
    return ("Cost per geometry and single-threaded worker: %.1f s of CPU, "
            "%.1f s\nwall (median %.1f s; %d geometries timed on a 2-core "
            "machine\nshared with other work).%s" %
            (cpu.mean(), wall.mean(), np.median(wall), len(wall), note))


def readme_text(cfg, nrec, nchunks, wall, cpu, asym, versions, histogram,
                restored=0):
    windows = ", ".join("%g" % w for w in cfg["windows_deg"])
    found = re.search(r"version (\S+)", cfg.get("xtb_version", ""))
    xtb = found.group(1) if found else "(version unknown)"
    s = cfg["psi4"]
    hist = " ".join(str(h) for h in histogram)
    return """# 1,2-dichloroethane reference data, extension (HF/aug-cc-pVDZ)

{nrec} geometries of 1,2-dichloroethane (ClCH2CH2Cl, 8 atoms), labelled like
`../dce-hf-adz/` (1634 geometries) and in the same files, formats and units;
see that README for the table.  Record k of every file belongs to geometry k
of `geoms.xyz`.  Records 0-{last} are draws 0-{last} of the selection below
(work chunks 0-{lastchunk}, {chunk} geometries each).  The comment line of
`geoms.xyz` is `index=<k> pool_index=<frame of the pool below>
phi=<Cl-C-C-Cl in degrees>`.

Written by `trajectories/pipeline/generate.sh collect` from the work directory
of `generate.sh run`; see `trajectories/pipeline/README.md`.

## Provenance
1. **Sampling** with xtb {xtb} (GFN2-xTB) molecular dynamics, in new
   trajectories independent of those of `../dce-hf-adz/`: {nwin} windows with
   the Cl-C-C-Cl dihedral restrained at
   {windows} degrees
   (xtb `$constrain`, force constant {fc} Eh/rad^2; xtb's restraint is
   fc (1 - cos(phi - phi0))), {temp:g} K (Berendsen), {step:g} fs step,
   `hmass=1`, `shake=0`, {time:g} ps per window with the first {discard:g} ps
   discarded, one frame every {dump:g} fs: {npool} frames.  Each window starts
   from a restrained xtb relaxation with Maxwell-Boltzmann velocities from
   numpy `default_rng([{md_seed}, window])`, passed to xtb as its MD restart
   file.
2. **Selection**: the pool in the random order of numpy
   `default_rng({seed})` (`permutation`, then one normal 4-vector per draw for
   a uniform rotation, then one normal 3-vector of sigma {sigma:g} A per draw
   for the translation); each frame centred on its centroid, rotated and
   translated.
3. **Labelling** with psi4 {psi4}: RHF, {basis}, `scf_type {scf}`,
   `e_convergence {econv:g}`, `d_convergence {dconv:g}`, symmetry c1,
   `no_com`, `no_reorient`, one thread per worker.  Energy and analytic
   gradient (hartree/bohr divided by 0.52917721092 A/bohr); dipole
   tr(D M) + nuclear dipole from the SCF density; static polarizability from
   psi4's analytic coupled-perturbed HF linear response (convergence
   {cphf:g}), symmetrised (largest |alpha_ij - alpha_ji| before: {asym:.1e}
   bohr^3).  The same code relabelled record 0 of `../dce-hf-adz/` and
   reproduced all its printed digits; on that geometry these settings differ
   from a calculation converged to 1e-10 by 2e-11 Eh (energy), 1.7e-6 Eh/A
   (gradient), 6e-6 e*bohr (dipole) and 3e-5 bohr^3 (polarizability).

{cost}

Dihedral distribution (|phi| in 15-degree bins from 0 to 180): {hist}.

## Notes
- The trajectories are new, so this set is an independent test set for
  models trained on `../dce-hf-adz/` (and vice versa); within this set, a test
  split is correlated with its training split, as there.
""".format(nrec=nrec, last=nrec - 1, lastchunk=nchunks - 1,
           chunk=cfg["chunk_size"], xtb=xtb,
           nwin=len(cfg["windows_deg"]), windows=windows,
           fc=cfg["restraint_fc"], temp=cfg["md_temp_k"],
           step=cfg["md_step_fs"], time=cfg["md_time_ps"],
           discard=cfg["md_discard_ps"], dump=cfg["md_dump_fs"],
           npool=pool_size(cfg), md_seed=cfg["md_seed"], seed=cfg["seed"],
           sigma=cfg["shift_sigma_angstrom"], psi4=", ".join(versions),
           basis=s["basis"], scf=s["scf_type"], econv=s["e_convergence"],
           dconv=s["d_convergence"], cphf=s["cphf_convergence"], asym=asym,
           cost=cost_text(wall, cpu, restored),
           hist=hist)


def cmd_collect(args):
    cfg = load_config(args.workdir)
    n, later = finished_prefix(args.workdir, cfg)
    if n == 0:
        raise PipelineError("%s: chunk 0 not finished, nothing to collect" %
                            args.workdir)
    texts = {name: [] for name in OUTPUT_FILES}
    asym = 0.0
    restored = 0
    versions = set()
    for c in range(n):
        d = chunk_dir(args.workdir, c)
        first, last = chunk_range(cfg, c)
        for name in OUTPUT_FILES:
            with open(os.path.join(d, name)) as f:
                texts[name].append(f.read())
        # Each chunk holds its draws in order, one record per geometry.
        frames = read_xyz(os.path.join(d, "geoms.xyz"))
        index = [parse_comment(comment).get("index") for comment, _ in frames]
        if index != [str(k) for k in range(first, last)]:
            raise PipelineError("%s/geoms.xyz: records %s, expected %d-%d" %
                                (d, index, first, last - 1))
        lines = {name: len(texts[name][-1].splitlines())
                 for name in OUTPUT_FILES if name != "geoms.xyz"}
        per_record = {name: 1 for name in lines}
        per_record["gradients.dat"] = 2 + NATOMS
        for name, count in lines.items():
            if count != per_record[name] * (last - first):
                raise PipelineError("%s/%s: %d lines for %d records" %
                                    (d, name, count, last - first))
        meta = chunk_meta(args.workdir, c)
        asym = max([asym] + meta["alpha_asymmetry_bohr3"] +
                   [meta.get("alpha_asymmetry_max_bohr3") or 0.0])
        if "restored_from" in meta:
            restored += last - first
        versions.add(meta["psi4_version"])
    nrec = chunk_range(cfg, n - 1)[1]
    data = {name: "".join(t) for name, t in texts.items()}
    dihedrals = np.array([float(v) for v in data["dihedrals.dat"].split()])
    histogram = np.histogram(np.abs(dihedrals), bins=12, range=(0, 180))[0]

    os.makedirs(args.outdir, exist_ok=True)
    for name in OUTPUT_FILES:
        path = os.path.join(args.outdir, name + ".xz")
        tmp = "%s.tmp.%d" % (path, os.getpid())
        with lzma.open(tmp, "wt", preset=9) as f:
            f.write(data[name])
        os.replace(tmp, path)
    write_atomic(os.path.join(args.outdir, "README.md"), readme_text(
        cfg, nrec, n, timing(args.workdir, range(n)),
        timing(args.workdir, range(n), "cpu_s"), asym, sorted(versions),
        histogram, restored))
    log("collected %d records (chunks 0-%d) into %s" %
        (nrec, n - 1, args.outdir))
    if later:
        log("chunks %s are finished but follow an unfinished one; they are "
            "collected once the gap is filled" % later)


def cmd_status(args):
    cfg = load_config(args.workdir)
    nwin = len(cfg["windows_deg"])
    done_win = sum(os.path.isfile(os.path.join(window_dir(args.workdir, w),
                                               "frames.xyz"))
                   for w in range(nwin))
    print("windows sampled: %d of %d" % (done_win, nwin))
    print("pool drawn: %s" %
          os.path.isfile(os.path.join(args.workdir, "drawn.xyz")))
    target = None
    try:
        with open(os.path.join(args.workdir, "target")) as f:
            target = int(f.read())
    except (OSError, ValueError):
        pass
    n, later = finished_prefix(args.workdir, cfg)
    nrec = chunk_range(cfg, n - 1)[1] if n else 0
    nchunks = chunk_count(cfg, target) if target else None
    print("chunks finished: %d in a row from 0 (%d geometries)%s%s" %
          (n, nrec, ", and %s" % later if later else "",
           " of %d for --target %d" % (nchunks, target) if target else ""))
    lock_path = os.path.join(args.workdir, "run.lock")
    running = False
    if os.path.exists(lock_path):
        with open(lock_path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(lock, fcntl.LOCK_UN)
            except BlockingIOError:
                running = True
                lock.seek(0)
                print("running: %s" % lock.read().strip())
    if not running:
        print("running: no")
    wall = timing(args.workdir, range(n)) if n else np.array([])
    if len(wall):
        print("cost: %.1f s wall, %.1f s CPU per geometry per worker (%d "
              "timed)" % (wall.mean(), timing(args.workdir, range(n),
                                              "cpu_s").mean(), len(wall)))
        if target and nrec < target:
            left = chunk_range(cfg, nchunks - 1)[1] - nrec
            print("left: %d geometries, about %.1f h with one worker" %
                  (left, left * wall.mean() / 3600))


def main(argv):
    args = parse_args(argv[1:])
    args.workdir = os.path.abspath(args.workdir)
    args.outdir = os.path.abspath(args.outdir)
    try:
        {"run": cmd_run, "collect": cmd_collect,
         "status": cmd_status}[args.command](args)
    except (PipelineError, OSError) as e:
        sys.stderr.write("generate.sh %s: %s\n" % (args.command, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
