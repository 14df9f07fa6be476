# torsion_scan.awk - a 1,2-dichloroethane trajectory through the I2 = I3
# crossing (Cl-C-C-Cl near 131.7 deg), for the continuity test of
# docs/results/frames.md.  Prints a multi-frame XYZ file (angstrom).
#
#   awk -v t0=180 -v t1=60 -v n=1200 -f torsion_scan.awk > scan.xyz
#
# Variables (all optional): t0, t1 torsion at the first and last frame
# (degrees; the torsion goes linearly, so t0=60 t1=300 passes g+ -> anti
# -> g-), n frames, seed of the phases, turns of tumbling over the path,
# amp amplitude of the distortions (angstrom).
#
# Geometry (frames.md section 2): C-C 1.53, C-Cl 1.79, C-H 1.09 angstrom,
# tetrahedral angles, atom order C1 C2 Cl1 Cl2 H1 H2 H3 H4 as in
# trajectories/dce-hf-adz, and its labelling: seen along C1 -> C2, H1 is
# 240 and H2 120 degrees from Cl1, H3 120 and H4 240 degrees from Cl2 (the
# mirror labelling, H1 and H2 swapped, is a configuration that MD of the
# data never reaches).  Tumbling: the rotation Rz(a s) Ry(b s) Rx(c s)
# with s = k / (n - 1) the path fraction and a, b, c = 2 pi turns times
# 1, 0.7, 0.45.  Thermal-like distortions: every coordinate of every atom
# moves by amp/2 times the sum of two sines, 2 and 5 cycles over the path
# with seeded random phases (Park-Miller generator, exact in awk's
# doubles), so the path is smooth: its per-step changes are all of one
# size, and max/median stays small for an exactly smooth prediction.
function rnd() {
    s = (s * 16807) % 2147483647
    return s / 2147483647
}
BEGIN {
    if (t0 == "") t0 = 180
    if (t1 == "") t1 = 60
    if (n == "") n = 1200
    if (seed == "") seed = 20241127
    if (turns == "") turns = 2
    if (amp == "") amp = 0.03
    pi = atan2(0, -1)
    s = seed % 2147483647
    if (s <= 0) s += 2147483646
    for (a = 0; a < 8; a++)
        for (c = 0; c < 3; c++) {
            ph1[a, c] = 2 * pi * rnd()
            ph2[a, c] = 2 * pi * rnd()
        }
    el[0] = "C"; el[1] = "C"; el[2] = "Cl"; el[3] = "Cl"
    el[4] = "H"; el[5] = "H"; el[6] = "H"; el[7] = "H"
    # Substituents: atom, bonded to C2 (1) or C1 (0), bond length, azimuth
    # offset (the torsion is added for C2's).
    atm[0] = 2; on2[0] = 0; len[0] = 1.79; off[0] = 0
    atm[1] = 3; on2[1] = 1; len[1] = 1.79; off[1] = 0
    atm[2] = 4; on2[2] = 0; len[2] = 1.09; off[2] = 4 * pi / 3
    atm[3] = 5; on2[3] = 0; len[3] = 1.09; off[3] = 2 * pi / 3
    atm[4] = 6; on2[4] = 1; len[4] = 1.09; off[4] = 2 * pi / 3
    atm[5] = 7; on2[5] = 1; len[5] = 1.09; off[5] = 4 * pi / 3
    ct = 1 / 3; st = 2 * sqrt(2) / 3
    for (k = 0; k < n; k++) {
        f = n > 1 ? k / (n - 1) : 0
        tau = (t0 + (t1 - t0) * f) * pi / 180
        x[0, 0] = 0; x[0, 1] = 0; x[0, 2] = 0
        x[1, 0] = 1.53; x[1, 1] = 0; x[1, 2] = 0
        for (j = 0; j < 6; j++) {
            a = atm[j]
            psi = off[j] + (on2[j] ? tau : 0)
            # C1's substituents point away from C2 (-x), C2's away from C1.
            x[a, 0] = on2[j] ? 1.53 + len[j] * ct : -len[j] * ct
            x[a, 1] = len[j] * st * cos(psi)
            x[a, 2] = len[j] * st * sin(psi)
        }
        for (a = 0; a < 8; a++)
            for (c = 0; c < 3; c++)
                x[a, c] += amp / 2 * (sin(2 * pi * 2 * f + ph1[a, c]) + \
                                      sin(2 * pi * 5 * f + ph2[a, c]))
        ga = 2 * pi * turns * f; gb = 0.7 * ga; gc = 0.45 * ga
        printf "8\nstep=%d torsion=%.6f\n", k, tau * 180 / pi
        for (a = 0; a < 8; a++) {
            # Rx(gc), then Ry(gb), then Rz(ga).
            p0 = x[a, 0]
            p1 = cos(gc) * x[a, 1] - sin(gc) * x[a, 2]
            p2 = sin(gc) * x[a, 1] + cos(gc) * x[a, 2]
            q0 = cos(gb) * p0 + sin(gb) * p2
            q1 = p1
            q2 = -sin(gb) * p0 + cos(gb) * p2
            r0 = cos(ga) * q0 - sin(ga) * q1
            r1 = sin(ga) * q0 + cos(ga) * q1
            printf "%-2s %15.10f %15.10f %15.10f\n", el[a], r0, r1, q2
        }
    }
}
