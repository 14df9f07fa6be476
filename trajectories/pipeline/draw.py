#!/usr/bin/env python3
"""Pool the sampled windows and draw geometries from the pool at random.

Usage: draw.py WORKDIR

Writes WORKDIR/pool.xyz (all windows in order; frame p of it is pool_index p)
and WORKDIR/drawn.xyz: the whole pool in a random order from numpy
default_rng(seed), each frame centred on its centroid, rotated by a uniformly
random rotation and translated by a random vector with N(0, shift_sigma^2)
components (angstrom).  The draw covers the whole pool, so any target is a
prefix of it and raising the target later keeps the draws already labelled.
Nothing is redone if drawn.xyz exists.
"""

import os
import sys

import numpy as np

from common import (PipelineError, dihedral_deg, format_frame, load_config,
                    parse_comment, pool_size, read_xyz, window_dir,
                    write_atomic, frames_per_window)


def rotation_from_quaternion(q):
    """Rotation matrix of a unit quaternion (w, x, y, z).  A normalised
    4-vector of independent normals is uniform on the 3-sphere, which makes
    the rotation uniform (Haar) on SO(3) (Shoemake, Graphics Gems III,
    1992)."""
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def build_pool(workdir, cfg):
    """Concatenate the windows' frames; every window must be finished."""
    frames = []
    for w in range(len(cfg["windows_deg"])):
        path = os.path.join(window_dir(workdir, w), "frames.xyz")
        if not os.path.isfile(path):
            raise PipelineError("%s: window %d not sampled yet" % (path, w))
        window = read_xyz(path)
        if len(window) != frames_per_window(cfg):
            raise PipelineError("%s: %d frames, expected %d" %
                                (path, len(window), frames_per_window(cfg)))
        frames.extend(window)
    assert len(frames) == pool_size(cfg)
    return frames


def draw(workdir):
    cfg = load_config(workdir)
    out = os.path.join(workdir, "drawn.xyz")
    if os.path.isfile(out):
        return
    pool = build_pool(workdir, cfg)
    text = []
    for p, (comment, xyz) in enumerate(pool):
        text.append(format_frame(xyz, "pool_index=%d %s" % (p, comment)))
    write_atomic(os.path.join(workdir, "pool.xyz"), "".join(text))

    n = len(pool)
    rng = np.random.default_rng(cfg["seed"])
    order = rng.permutation(n)
    quats = rng.normal(size=(n, 4))
    shifts = rng.normal(scale=cfg["shift_sigma_angstrom"], size=(n, 3))
    text = []
    for d in range(n):
        p = int(order[d])
        comment, xyz = pool[p]
        rot = rotation_from_quaternion(quats[d])
        moved = (xyz - xyz.mean(axis=0)) @ rot.T + shifts[d]
        window = parse_comment(comment)["window"]
        text.append(format_frame(
            moved, "draw=%d pool_index=%d window=%s phi=%.2f" %
            (d, p, window, dihedral_deg(moved))))
    write_atomic(out, "".join(text))


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: draw.py WORKDIR\n")
        return 2
    try:
        draw(argv[1])
    except (PipelineError, OSError) as e:
        sys.stderr.write("draw.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
