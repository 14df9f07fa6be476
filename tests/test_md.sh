#!/bin/sh
# test_md.sh - rpr-md driving the real rpr-nx with a KREG potential
# trained by `rpr train` on the shipped 1,2-dichloroethane data: NVE energy
# conservation over 1 ps within the bound velocity Verlet's step implies;
# a restart, and a crash between the program's run and the restart file,
# reproduce the uninterrupted run bit for bit without duplicate records;
# program failures and Newton-X's energy checks stop the run; initial
# conditions (momenta, temperature, dihedral, orientation); ensembles.
set -eu
command -v xz > /dev/null || { echo "test_md: xz is not installed" >&2; exit 99; }
RPR=$PWD/src/rpr
NX=$PWD/nx_interface/rpr-nx
MDX=$PWD/nx_interface/rpr-md
for f in dce/geoms.xyz dce/energies.dat dce/gradients.dat dce/dipoles.dat; do
    [ -s "$f" ] || { echo "test_md: $f missing (make check unpacks it)" >&2; exit 99; }
done
tmp=$(mktemp -d "$PWD/test_md.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "test_md: FAIL: $*" >&2; fails=$((fails + 1)); }

# ---------------------------------------------------------------- models
# KREG on the first 100 geometries with energies and gradients, a dipole
# model for the property file; fixed sigma and lambda (chosen by a search
# on these data) keep training to seconds.
D=$tmp/data
mkdir -p "$D"
head -n 1000 dce/geoms.xyz > "$D/train.xyz"
head -n 100 dce/energies.dat > "$D/e.dat"
head -n 1000 dce/gradients.dat > "$D/g.dat"
head -n 100 dce/dipoles.dat > "$D/mu.dat"
"$RPR" train -q --property energy --xyz "$D/train.xyz" --values "$D/e.dat" \
    --grad "$D/g.dat" --sigma 4 --lambda 2.8e-7 --out "$tmp/energy.xml"
"$RPR" train -q --property dipole --xyz "$D/train.xyz" --values "$D/mu.dat" \
    --sigma 1.03 --lambda 5e-5 --out "$tmp/dipole.xml"
printf 'energy = energy.xml\ndipole = dipole.xml\n' > "$tmp/rpr-nx.par"
# Start: geometry 1 of the data (a trained one), as XYZ and as Newton-X
# geom with the masses of the most abundant isotopes.
head -n 10 dce/geoms.xyz > "$D/g0.xyz"
awk 'NR > 2 {
    z["C"] = 6; z["Cl"] = 17; z["H"] = 1
    m["C"] = 12.0; m["Cl"] = 34.96885268; m["H"] = 1.00782503
    printf " %-2s %5.1f %.17g %.17g %.17g %.8f\n", $1, z[$1],
        $2 / 0.52917721092, $3 / 0.52917721092, $4 / 0.52917721092, m[$1]
}' "$D/g0.xyz" > "$D/geom0"
md() { "$MDX" --quiet --program "$NX" --par "$tmp/rpr-nx.par" "$@"; }
cd "$tmp"

# ---------------------------------------------------------------- NVE, 1 ps
# Velocity Verlet conserves a shadow energy; for a harmonic mode of
# frequency w the true energy oscillates about it with amplitude
# (w dt)^2/4 times the mode's potential energy, so over all modes
#   |Etot(t) - Etot(0)| <= (w_max dt)^2 / 4 * E_vib / (1 - (w_max dt)^2 / 4),
# with no secular drift.  w_max: the C-H stretch, the fastest motion of
# 1,2-dichloroethane, 3300 cm^-1 at HF/aug-cc-pVDZ (HF is ~10% above the
# experimental 2990-3010 cm^-1); E_vib = 2 <Ekin> (virial theorem).  A
# wrong gradient (sign, unit, missing term) breaks this by orders of
# magnitude.
md --geom "$D/geom0" --temperature 300 --seed 11 --dt 0.5 --tmax 1000 nve ||
    { echo "test_md: the NVE run failed" >&2; exit 1; }
en=nve/RESULTS/en.dat
[ "$(wc -l < $en)" -eq 2001 ] || fail "NVE: $(wc -l < $en) lines in en.dat, want 2001"
awk -v dt=0.5 '
    { if ($1 != sprintf("%.4f", dt * (NR - 1)) + 0) { print "time", NR, $1; bad = 1 }
      e[NR] = $4; k += $4 - $3; n++ }
    END {
        pi = 3.141592653589793; c = 2.99792458e-5      # cm / fs
        w = 2 * pi * c * 3300 * dt                     # w_max dt
        evib = 2 * k / n
        bound = w * w / 4 * evib / (1 - w * w / 4)
        for (i = 1; i <= n; i++) { d = e[i] - e[1]; if (d < 0) d = -d; if (d > m) m = d }
        printf "test_md: NVE 1 ps: max |Etot - Etot(0)| = %.3g hartree, bound %.3g\n", m, bound
        if (!(m <= bound)) bad = 1
        exit bad
    }' "$en" || fail "NVE energy error above the Verlet bound"
props=nve/RESULTS/rpr-properties.dat
[ "$(grep -vc '^#' $props)" -eq 2001 ] || fail "NVE: not 2001 property records"
awk '!/^#/ && ($5 == "nan" || $6 == "nan" || $7 == "nan") { exit 1 }' $props ||
    fail "NVE: a dipole is missing from the property file"

# ---------------------------------------------------------------- restart
# 5 fs, then --restart to 10 fs, against 10 fs in one go with the same
# seed: positions and velocities are restored bit for bit and the
# repeated step gives the same gradient, so en.dat and the geometry log
# must be identical, and the property file the same but for the restart's
# run label.
md --geom "$D/geom0" --temperature 300 --seed 5 --tmax 5 R
md --restart --tmax 10 R
md --geom "$D/geom0" --temperature 300 --seed 5 --tmax 10 U
cmp -s R/RESULTS/en.dat U/RESULTS/en.dat || fail "restart: en.dat differs"
cmp -s R/RESULTS/geometries.xyz U/RESULTS/geometries.xyz ||
    fail "restart: geometry log differs"
same_props() { # two property files: same times, same numbers (not the run)
    awk '!/^#/ { $3 = ""; print }' "$1" > "$tmp/p1"
    awk '!/^#/ { $3 = ""; print }' "$2" > "$tmp/p2"
    cmp -s "$tmp/p1" "$tmp/p2"
}
same_props R/RESULTS/rpr-properties.dat U/RESULTS/rpr-properties.dat ||
    fail "restart: property file differs"
[ "$(grep -vc '^#' R/RESULTS/rpr-properties.dat)" -eq 21 ] ||
    fail "restart: not 21 property records"
grep -q '^5.0000 10 initial ' R/RESULTS/rpr-properties.dat ||
    fail "restart: the repeated step is not marked initial"
# A finished run restarted with the same tmax changes nothing.
cp R/RESULTS/en.dat "$tmp/en.R"
md --restart --tmax 10 R
cmp -s R/RESULTS/en.dat "$tmp/en.R" || fail "restart of a finished run changed it"

# ---------------------------------------------------------------- crash
# The program runs at t = 3.5 fs (the property record is written), then
# dies before rpr-md writes the restart file: the restart repeats t = 3.0
# and t = 3.5 and must still match the uninterrupted run.
cat > crash.sh << EOF
#!/bin/sh
"$NX" || exit \$?
if grep -q '^ *8, *7,' control.d && [ ! -e ../crashed ]; then
    touch ../crashed
    echo "simulated crash" >&2
    exit 9
fi
EOF
chmod +x crash.sh
if "$MDX" --quiet --program "$tmp/crash.sh" --par "$tmp/rpr-nx.par" \
    --geom "$D/geom0" --temperature 300 --seed 5 --tmax 10 C 2> err; then
    fail "crash: rpr-md went on after the program failed"
fi
grep -q 'step 7 (t = 3.5000 fs): .*crash.sh exited with status 9: simulated crash' err ||
    fail "crash: message: $(cat err)"
grep -q 'simulated crash' C/DEBUG/runnx.error || fail "crash: runnx.error"
md --restart --tmax 10 C
cmp -s C/RESULTS/en.dat U/RESULTS/en.dat || fail "crash restart: en.dat differs"
cmp -s C/RESULTS/geometries.xyz U/RESULTS/geometries.xyz ||
    fail "crash restart: geometry log differs"
same_props C/RESULTS/rpr-properties.dat U/RESULTS/rpr-properties.dat ||
    fail "crash restart: property file differs (duplicates?)"

# ---------------------------------------------------------------- failures
# A program that exits 0 without results, Newton-X's drift check, a
# trajectory that exists, and missing initial conditions.
if "$MDX" --quiet --program /bin/true --geom "$D/geom0" --temperature 300 \
    --tmax 1 F1 2> err; then
    fail "a program without results was accepted"
fi
grep -q 'epot' err || fail "missing epot not reported: $(cat err)"
if md --geom "$D/geom0" --temperature 300 --tmax 10 --etot-drift 1e-9 F2 2> err; then
    fail "--etot-drift 1e-9 eV did not stop the run"
fi
grep -q 'drifted by .* eV since t = 0 (limit --etot-drift 1e-09 eV)' err ||
    fail "drift message: $(cat err)"
if md --geom "$D/geom0" --temperature 300 --tmax 1 R 2> err; then
    fail "an existing trajectory was overwritten"
fi
grep -q 'continue it with --restart' err || fail "existing trajectory: $(cat err)"
status=0
"$MDX" --quiet --temperature 300 X 2> /dev/null || status=$?
[ "$status" -eq 2 ] || fail "no initial geometry: status $status, want 2"

# ---------------------------------------------------------------- initial conditions
# Read TRAJ/geom (bohr, %25.14f: 5e-15 bohr) and TRAJ/veloc (%23.15e:
# relative 5e-16) back; masses are exact (given with 8 decimals).
# Zero momenta: the projection and the sums here each round by at most
# n eps of the sum of magnitudes, printing adds 5e-16 relative:
#   |P| <= (2n + 4) eps sum m|v|,  |L| <= (2n + 8) eps sum m|r||v| + 5e-15 sum m|v|.
md --geom "$D/geom0" --temperature 300 --seed 3 --tmax 0 I1
momenta='
    NR == FNR { m[NR] = $6; x[NR] = $3; y[NR] = $4; z[NR] = $5; n = NR; next }
    { a = FNR; vx[a] = $1; vy[a] = $2; vz[a] = $3 }
    END {
        eps = 2.220446049250313e-16
        for (a = 1; a <= n; a++) { M += m[a]; cx += m[a] * x[a]; cy += m[a] * y[a]; cz += m[a] * z[a] }
        cx /= M; cy /= M; cz /= M
        for (a = 1; a <= n; a++) {
            px += m[a] * vx[a]; py += m[a] * vy[a]; pz += m[a] * vz[a]
            v = sqrt(vx[a]^2 + vy[a]^2 + vz[a]^2)
            rx = x[a] - cx; ry = y[a] - cy; rz = z[a] - cz; r = sqrt(rx^2 + ry^2 + rz^2)
            lx += m[a] * (ry * vz[a] - rz * vy[a])
            ly += m[a] * (rz * vx[a] - rx * vz[a])
            lz += m[a] * (rx * vy[a] - ry * vx[a])
            smv += m[a] * v; smrv += m[a] * r * v
            ek += 0.5 * m[a] * 1822.888515 * v * v
        }
        p = sqrt(px^2 + py^2 + pz^2); l = sqrt(lx^2 + ly^2 + lz^2)
        tp = (2 * n + 4) * eps * smv; tl = (2 * n + 8) * eps * smrv + 5e-15 * smv
        if (!(p <= tp)) { printf "|P| = %g > %g\n", p, tp; bad = 1 }
        if (!(l <= tl)) { printf "|L| = %g > %g\n", l, tl; bad = 1 }
        if (want_t > 0) {
            t = 2 * ek / ((3 * n - 6) * 0.3166813639e-5)
            # Ekin sums n squares (n eps) of velocities printed to 5e-16.
            if (!((t - want_t)^2 <= ((2 * n + 4) * eps * want_t)^2)) {
                printf "T = %.17g, want %g\n", t, want_t; bad = 1 }
        }
        exit bad
    }'
awk -v want_t=0 "$momenta" I1/geom I1/veloc || fail "momenta not removed"
md --geom "$D/geom0" --temperature 300 --rescale --seed 4 --tmax 0 I2
awk -v want_t=300 "$momenta" I2/geom I2/veloc || fail "--rescale temperature"
# Dihedral Cl-C-C-Cl (atoms 3,1,2,4) set to 75 degrees: 4 atoms printed
# to 5e-15 bohr per coordinate (sqrt(3) 5e-15 per atom) over lever arms of
# >= 1 bohr move it by <= 3.5e-14 rad = 2e-12 degrees; bonds are kept to
# 2e-14 bohr (both ends printed to sqrt(3) 5e-15, plus rotation rounding).
md --geom "$D/geom0" --temperature 300 --dihedral 3,1,2,4=75 --tmax 0 I3
dihedral='
    function d(i, j) { return sqrt((x[i]-x[j])^2 + (y[i]-y[j])^2 + (z[i]-z[j])^2) }
    NR == FNR { x0[NR] = $3; y0[NR] = $4; z0[NR] = $5; next }
    { x[FNR] = $3; y[FNR] = $4; z[FNR] = $5 }
    END {
        # b1 = 1 - 3, b2 = 2 - 1, b3 = 4 - 2 (atoms a=3 b=1 c=2 d=4)
        b1x = x[1]-x[3]; b1y = y[1]-y[3]; b1z = z[1]-z[3]
        b2x = x[2]-x[1]; b2y = y[2]-y[1]; b2z = z[2]-z[1]
        b3x = x[4]-x[2]; b3y = y[4]-y[2]; b3z = z[4]-z[2]
        n1x = b1y*b2z - b1z*b2y; n1y = b1z*b2x - b1x*b2z; n1z = b1x*b2y - b1y*b2x
        n2x = b2y*b3z - b2z*b3y; n2y = b2z*b3x - b2x*b3z; n2z = b2x*b3y - b2y*b3x
        yy = sqrt(b2x^2 + b2y^2 + b2z^2) * (b1x*n2x + b1y*n2y + b1z*n2z)
        xx = n1x*n2x + n1y*n2y + n1z*n2z
        phi = atan2(yy, xx) * 45 / atan2(1, 1)
        if (!((phi - 75)^2 <= (2e-12)^2)) { printf "dihedral %.17g\n", phi; bad = 1 }
        for (i = 1; i <= 8; i++) { x[i+8] = x0[i]; y[i+8] = y0[i]; z[i+8] = z0[i] }
        split("1 2  1 3  2 4  1 5  1 6  2 7  2 8", p, " ")
        for (k = 1; k <= 14; k += 2) {
            e = d(p[k], p[k+1]) - d(p[k] + 8, p[k+1] + 8)
            if (!(e * e <= (2e-14)^2)) { printf "bond %s-%s changed by %g\n", p[k], p[k+1], e; bad = 1 }
        }
        exit bad
    }'
awk "$dihedral" "$D/geom0" I3/geom || fail "--dihedral"
# Random orientation: every distance kept (to 2e-14 bohr), the molecule
# moved.
md --geom "$D/geom0" --temperature 300 --orient --seed 9 --tmax 0 I4
awk 'function d(i, j) { return sqrt((x[i]-x[j])^2 + (y[i]-y[j])^2 + (z[i]-z[j])^2) }
    NR == FNR { x[NR] = $3; y[NR] = $4; z[NR] = $5; next }
    { x[FNR+8] = $3; y[FNR+8] = $4; z[FNR+8] = $5; if ((x[FNR] - $3)^2 > 1) moved = 1 }
    END {
        for (i = 1; i <= 8; i++) for (j = i + 1; j <= 8; j++) {
            e = d(i, j) - d(i + 8, j + 8); if (!(e * e <= (2e-14)^2)) bad = 1 }
        if (!moved) { print "not rotated"; bad = 1 }
        exit bad
    }' "$D/geom0" I4/geom || fail "--orient"

# ---------------------------------------------------------------- ensemble
md --geom "$D/geom0" --temperature 300 --orient --runs 3 --parallel 2 --tmax 2 E ||
    fail "ensemble failed"
for r in 1 2 3; do
    [ "$(wc -l < E/run000$r/RESULTS/en.dat)" -eq 5 ] || fail "ensemble run $r: en.dat"
done
cmp -s E/run0001/veloc E/run0002/veloc && fail "ensemble runs 1 and 2 share velocities"
cmp -s E/run0002/veloc E/run0003/veloc && fail "ensemble runs 2 and 3 share velocities"
md --restart --runs 3 --parallel 2 --tmax 3 E || fail "ensemble restart failed"
for r in 1 2 3; do
    [ "$(wc -l < E/run000$r/RESULTS/en.dat)" -eq 7 ] || fail "ensemble restart run $r"
    [ "$(grep -vc '^#' E/run000$r/RESULTS/rpr-properties.dat)" -eq 7 ] ||
        fail "ensemble restart run $r: property records"
done

if [ "$fails" -ne 0 ]; then
    echo "test_md: $fails check(s) failed" >&2
    exit 1
fi
echo "test_md: all checks passed"
