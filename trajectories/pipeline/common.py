"""Shared pieces of the 1,2-dichloroethane reference-data pipeline.

Units follow trajectories/dce-hf-adz/README.md: geometries in angstrom,
energies in hartree, gradients dE/dR in hartree/angstrom, dipoles in e*bohr,
polarizabilities in bohr^3 (xx xy xz yy yz zz), dihedrals in degrees.
"""

import json
import os

import numpy as np

# src/rpr.h RPR_ANGSTROM_PER_BOHR (CODATA 2010).  The shipped gradients were
# converted from hartree/bohr with this value (checked to 12 decimals on
# record 0), so the extension uses it too.
ANGSTROM_PER_BOHR = 0.52917721092

# Atom order of every geometry: C1 C2 Cl1 Cl2 H1 H2 H3 H4; Cl1, H1 and H2 are
# bonded to C1.
SYMBOLS = ("C", "C", "Cl", "Cl", "H", "H", "H", "H")
NATOMS = len(SYMBOLS)
# Cl1-C1-C2-Cl2, 0-based; xtb's $constrain wants the same atoms 1-based.
DIHEDRAL_ATOMS = (2, 0, 1, 3)

CONFIG_NAME = "config.json"


class PipelineError(Exception):
    """A failure the driver reports in one line and exits non-zero for."""


def dihedral_deg(xyz):
    """Signed Cl1-C1-C2-Cl2 dihedral in degrees, in (-180, 180].

    The same convention as dihedrals.dat of the shipped set (checked on all
    1634 records to 5e-5 degrees, its printed precision)."""
    p0, p1, p2, p3 = (np.asarray(xyz[i], dtype=float) for i in DIHEDRAL_ATOMS)
    b0 = p0 - p1
    b1 = p2 - p1
    b2 = p3 - p2
    b1 = b1 / np.linalg.norm(b1)
    v = b0 - np.dot(b0, b1) * b1
    w = b2 - np.dot(b2, b1) * b1
    x = np.dot(v, w)
    y = np.dot(np.cross(b1, v), w)
    return float(np.degrees(np.arctan2(y, x)))


def format_frame(xyz, comment):
    """One XYZ frame in the layout of the shipped geoms.xyz (10 decimals)."""
    lines = ["%d" % NATOMS, comment]
    for sym, (x, y, z) in zip(SYMBOLS, xyz):
        lines.append("%-2s%17.10f%17.10f%17.10f" % (sym, x, y, z))
    return "\n".join(lines) + "\n"


def parse_comment(comment):
    """Turn 'key=value key=value' into a dict of strings."""
    fields = {}
    for item in comment.split():
        key, sep, value = item.partition("=")
        if sep:
            fields[key] = value
    return fields


def read_xyz(path):
    """All frames of a multi-frame XYZ file: a list of (comment, xyz[8][3]).

    Refuses anything but 8 atoms in the DCE order, naming file and line."""
    with open(path) as f:
        lines = f.read().splitlines()
    frames = []
    pos = 0
    while pos < len(lines):
        if lines[pos].strip() == "" and all(
                line.strip() == "" for line in lines[pos:]):
            break
        where = "%s:%d" % (path, pos + 1)
        if lines[pos].strip() != str(NATOMS):
            raise PipelineError("%s: expected atom count %d, got '%s'" %
                                (where, NATOMS, lines[pos].strip()))
        if pos + 2 + NATOMS > len(lines):
            raise PipelineError("%s: truncated frame" % where)
        comment = lines[pos + 1]
        xyz = np.empty((NATOMS, 3))
        for a in range(NATOMS):
            fields = lines[pos + 2 + a].split()
            if len(fields) < 4 or fields[0] != SYMBOLS[a]:
                raise PipelineError(
                    "%s:%d: expected atom %s with 3 coordinates" %
                    (path, pos + 3 + a, SYMBOLS[a]))
            xyz[a] = [float(v) for v in fields[1:4]]
        frames.append((comment, xyz))
        pos += 2 + NATOMS
    return frames


def write_atomic(path, text):
    """Write text to path through a temporary file and rename(), so a reader
    (or a resumed run) never sees half a file."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_config(workdir):
    """The parameters fixed when the work directory was created."""
    path = os.path.join(workdir, CONFIG_NAME)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise PipelineError("%s: no such file; run 'generate.sh run' first" %
                            path) from None
    except json.JSONDecodeError as e:
        raise PipelineError("%s:%d: %s" % (path, e.lineno, e.msg)) from None


def frames_per_window(cfg):
    """Frames kept per window: from discard_ps to time_ps, every dump_fs."""
    kept_fs = (cfg["md_time_ps"] - cfg["md_discard_ps"]) * 1000.0
    return int(round(kept_fs / cfg["md_dump_fs"]))


def pool_size(cfg):
    return len(cfg["windows_deg"]) * frames_per_window(cfg)


def window_dir(workdir, w):
    return os.path.join(workdir, "md", "window_%02d" % w)


def chunk_name(c):
    return "chunk_%04d" % c


def chunk_dir(workdir, c):
    return os.path.join(workdir, "chunks", chunk_name(c))


def chunk_count(cfg, target):
    """Chunks holding the first `target` draws."""
    return (target + cfg["chunk_size"] - 1) // cfg["chunk_size"]


def chunk_range(cfg, c):
    """Draw indices [first, last) of chunk c; the last chunk may be short."""
    first = c * cfg["chunk_size"]
    return first, min(first + cfg["chunk_size"], pool_size(cfg))


def chunk_done(workdir, c):
    return os.path.isfile(os.path.join(chunk_dir(workdir, c), "meta.json"))
