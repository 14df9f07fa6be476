#!/bin/sh
# test_nx.sh - rpr-nx as Newton-X CS runs it, with KREG, dipole and
# polarizability models trained by `rpr train` on the shipped
# 1,2-dichloroethane data: its outputs against `rpr predict` for the same
# geometry, the property file keyed by time, nstat > 1, the NS layout,
# every failure (each leaving the previous epot and grad whole), and that
# it calls only the public API.
set -eu
command -v xz > /dev/null || { echo "test_nx: xz is not installed" >&2; exit 99; }
command -v nm > /dev/null || { echo "test_nx: nm is not installed" >&2; exit 99; }
RPR=$PWD/src/rpr
NX=$PWD/nx_interface/rpr-nx
for f in dce/geoms.xyz dce/energies.dat dce/gradients.dat dce/dipoles.dat \
    dce/polarizabilities.dat; do
    [ -s "$f" ] || { echo "test_nx: $f missing (make check unpacks it)" >&2; exit 99; }
done
tmp=$(mktemp -d "$PWD/test_nx.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "test_nx: FAIL: $*" >&2; fails=$((fails + 1)); }

# ---------------------------------------------------------------- models
# The first 100 geometries; each XYZ frame and each gradient block of the
# files is 10 lines (8 atoms).  Fixed sigma and lambda (values a
# hyperparameter search chose on these data) keep training to seconds; the
# test is about the interface, not the model's accuracy.  The dipole model
# uses the relabelling blend, as run.sh's does (its weight is a column of
# the property file).
D=$tmp/data
mkdir -p "$D" "$tmp/models"
head -n 1000 dce/geoms.xyz > "$D/train.xyz"
head -n 100 dce/energies.dat > "$D/e.dat"
head -n 1000 dce/gradients.dat > "$D/g.dat"
head -n 100 dce/dipoles.dat > "$D/mu.dat"
head -n 100 dce/polarizabilities.dat > "$D/alpha.dat"
"$RPR" train -q --property energy --xyz "$D/train.xyz" --values "$D/e.dat" \
    --grad "$D/g.dat" --sigma 4 --lambda 2.8e-7 --out "$tmp/models/energy.xml"
"$RPR" train -q --property dipole --xyz "$D/train.xyz" --values "$D/mu.dat" \
    --sigma 1.03 --lambda 5e-5 --relabel 5-6,7-8 --out "$tmp/models/dipole.xml"
"$RPR" train -q --property polarizability --xyz "$D/train.xyz" \
    --values "$D/alpha.dat" --sigma 1.03 --lambda 2e-5 \
    --out "$tmp/models/polarizability.xml"

# ---------------------------------------------------------------- trajectory
# Geometry 101 (not trained on), as XYZ for rpr predict and as Newton-X
# geom for rpr-nx.  awk divides by the same constant as the library
# (RPR_ANGSTROM_PER_BOHR) and prints %.17g, so both programs see the same
# doubles in bohr.
sed -n '1001,1010p' dce/geoms.xyz > "$D/one.xyz"
to_geom() {
    awk 'NR > 2 {
        z["C"] = 6; z["Cl"] = 17; z["H"] = 1
        m["C"] = 12.0; m["Cl"] = 34.96885268; m["H"] = 1.00782503
        printf " %-2s %5.1f %.17g %.17g %.17g %.8f\n", $1, z[$1],
            $2 / 0.52917721092, $3 / 0.52917721092, $4 / 0.52917721092, m[$1]
    }' "$1"
}
T=$tmp/TRAJ
mkdir -p "$T/TEMP" "$T/RESULTS" "$T/DEBUG"
to_geom "$D/one.xyz" > "$T/TEMP/geom"
control() { # istep t nstat nstatdyn: the 20 fields of Newton-X's rewrite_ctd
    printf '%8d,%8d,%8d,%8d,%8d,%8d,%12.4f,%12.4f,%12.4f,%8d,%8d,%8d,%8.2f,%8d,%12.4f,%9.1f,%8d,%8.3f,%8.3f,%8d\n' \
        8 "$1" "$3" "$4" 0 1 0.5 "$2" 5000 18 200 0 0 1 0 0 1 0.5 0.5 0 \
        > "$T/TEMP/control.d"
}
control 0 0 1 1
echo "initial run" > "$T/TEMP/which_run_is_that"
# Relative model paths: relative to the parameter file's directory.
cat > "$T/rpr-nx.par" << EOF
# test models
energy = ../models/energy.xml
dipole = ../models/dipole.xml
polarizability = ../models/polarizability.xml
EOF
run_nx() { (cd "$T/TEMP" && env -u RPR_NX_PAR "$NX" "$@"); }
run_nx || { echo "test_nx: rpr-nx failed on good input" >&2; exit 1; }
for f in epot grad grad.all; do
    [ -s "$T/TEMP/$f" ] || fail "$f not written"
done
[ ! -e "$T/TEMP/nad_vectors" ] || fail "nad_vectors written with nstat = 1"
ls "$T/TEMP" | grep -q tmp && fail "temporary files left in TEMP"

# ---------------------------------------------------------------- vs rpr predict
"$RPR" predict --model "$tmp/models/energy.xml" --xyz "$D/one.xyz" \
    --out "$D/e.pred" --grad-out "$D/g.pred"
"$RPR" predict --model "$tmp/models/dipole.xml" --xyz "$D/one.xyz" \
    --out "$D/mu.pred" --health "$D/health.pred"
"$RPR" predict --model "$tmp/models/polarizability.xml" --xyz "$D/one.xyz" \
    --out "$D/alpha.pred"
# Same object code on the same doubles: energy, dipole and polarizability
# must agree bit for bit (%.17g round-trips).
[ "$(awk '{ print $1 }' "$T/TEMP/epot")" = "$(cat "$D/e.pred")" ] ||
    fail "epot $(cat "$T/TEMP/epot") differs from rpr predict $(cat "$D/e.pred")"
# rpr predict writes hartree/angstrom = (hartree/bohr) / c; multiplying by
# c again rounds twice, each <= eps/2 relative: |diff| <= 2 eps |g|.
awk -v c=0.52917721092 'NR == FNR { if (NR > 2) { g[n++] = $1; g[n++] = $2; g[n++] = $3 }; next }
    { for (k = 1; k <= 3; k++) { want = g[m++] * c; d = $k - want; if (d < 0) d = -d
      a = want < 0 ? -want : want
      if (!(d <= 2 * 2.220446049250313e-16 * a)) { print "grad", FNR, k, $k, want; bad = 1 } } }
    END { if (m != 24) { print "grad: " m " numbers"; bad = 1 }; exit bad }' \
    "$D/g.pred" "$T/TEMP/grad" || fail "grad differs from rpr predict"
cmp -s "$T/TEMP/grad" "$T/TEMP/grad.all" || fail "grad.all differs from grad (nstat = 1)"
rec=$(tail -n 1 "$T/RESULTS/rpr-properties.dat")
set -- $rec
[ $# -eq 21 ] || fail "property record has $# fields: $rec"
[ "$1 $2 $3" = "0.0000 0 initial" ] || fail "record starts '$1 $2 $3'"
[ "$4" = "$(cat "$D/e.pred")" ] || fail "record energy $4"
[ "$5 $6 $7" = "$(cat "$D/mu.pred")" ] || fail "record dipole '$5 $6 $7' vs '$(cat "$D/mu.pred")'"
[ "$8 $9 ${10} ${11} ${12} ${13}" = "$(cat "$D/alpha.pred")" ] ||
    fail "record polarizability differs from rpr predict"
# Frame columns against --health (printed there with 6 significant digits:
# relative error <= 5e-6): gap12 gap23 min(sign reliabilities) w_principal
# w_kabsch kabsch_rel_margin w_relabel (--health columns 5, 6, 7-9, 13, 14,
# 17, the last), and blend_fallback (column 15, an integer: equal).
echo "${14} ${15} ${16} ${17} ${18} ${19} ${20} ${21}" > "$D/health.nx"
grep -v '^#' "$D/health.pred" > "$D/health.ref"
head -n 1 "$D/health.pred" | grep -q ' w_relabel$' ||
    fail "rpr predict --health does not end with w_relabel"
awk 'NR == FNR { s = $8 < $7 ? $8 : $7; s = $9 < s ? $9 : s
        w[1] = $5 + 0; w[2] = $6 + 0; w[3] = s + 0; w[4] = $13 + 0; w[5] = $14 + 0
        w[6] = $17 + 0; w[7] = $15 + 0; w[8] = $NF + 0
        next }
    { for (k = 1; k <= 8; k++) { d = $k - w[k]; if (d < 0) d = -d
        a = w[k] < 0 ? -w[k] : w[k]
        if (!(d <= 5e-6 * a)) { print "health", k, $k, w[k]; bad = 1 } } }
    END { exit bad }' "$D/health.ref" "$D/health.nx" ||
    fail "frame columns differ from rpr predict --health"
cp "$T/TEMP/epot" "$tmp/epot.good"
cp "$T/TEMP/grad" "$tmp/grad.good"

# ---------------------------------------------------------------- keyed by time
nrec() { grep -vc '^#' "$T/RESULTS/rpr-properties.dat"; }
echo "second run" > "$T/TEMP/which_run_is_that"
run_nx
[ "$(nrec)" -eq 1 ] || fail "a second run at t = 0 duplicated the record"
tail -n 1 "$T/RESULTS/rpr-properties.dat" | grep -q '^0.0000 0 second ' ||
    fail "the second run did not replace the record"
echo "first run" > "$T/TEMP/which_run_is_that"
for i in 1 2 3; do
    control "$i" "$(awk -v i="$i" 'BEGIN { printf "%.4f", 0.5 * i }')" 1 1
    run_nx
done
[ "$(nrec)" -eq 4 ] || fail "4 steps gave $(nrec) records"
# A restart repeats t = 1.0 as "initial run": replaced, in place.
control 0 1.0 1 1
echo "initial run" > "$T/TEMP/which_run_is_that"
run_nx
[ "$(nrec)" -eq 4 ] || fail "the restarted step duplicated a record"
awk '!/^#/ { print $1 }' "$T/RESULTS/rpr-properties.dat" | tr '\n' ' ' |
    grep -qx '0.0000 0.5000 1.0000 1.5000 ' || fail "records not one per time, in order"
grep -q '^1.0000 0 initial ' "$T/RESULTS/rpr-properties.dat" ||
    fail "the restart's record did not replace t = 1.0"
awk '!/^#/ && NF != 21 { exit 1 }' "$T/RESULTS/rpr-properties.dat" ||
    fail "a record without 21 fields"

# ---------------------------------------------------------------- nstat = 2
# Two states (the same model twice), current state 2: epot 2 lines, grad =
# the second block of grad.all, nad_vectors nat * 1 lines of zeros.
cat >> "$T/rpr-nx.par" << EOF
energy2 = ../models/energy.xml
EOF
control 4 2.0 2 2
echo 2 > "$T/TEMP/curr_surf"
run_nx
[ "$(wc -l < "$T/TEMP/epot")" -eq 2 ] || fail "epot has not 2 lines"
[ "$(wc -l < "$T/TEMP/grad.all")" -eq 16 ] || fail "grad.all has not 16 lines"
tail -n 8 "$T/TEMP/grad.all" | cmp -s - "$T/TEMP/grad" || fail "grad is not state 2's block"
[ "$(wc -l < "$T/TEMP/nad_vectors")" -eq 8 ] || fail "nad_vectors has not 8 lines"
awk '{ if ($1 != 0 || $2 != 0 || $3 != 0 || NF != 3) exit 1 }' "$T/TEMP/nad_vectors" ||
    fail "nad_vectors not zero"
echo 3 > "$T/TEMP/curr_surf"
if run_nx 2> "$tmp/err"; then fail "curr_surf 3 with nstat 2 accepted"; fi
rm -f "$T/TEMP/curr_surf" "$T/TEMP/nad_vectors"
head -n 4 "$T/rpr-nx.par" > "$tmp/par" && mv "$tmp/par" "$T/rpr-nx.par"
control 0 0 1 1
run_nx
cmp -s "$T/TEMP/epot" "$tmp/epot.good" || fail "epot not reproduced"

# ---------------------------------------------------------------- failures
# Each case must exit non-zero with exactly one line on stderr containing
# the expected text, and leave epot and grad exactly as they were.
expect_fail() { # description, expected text
    if run_nx 2> "$tmp/err"; then
        fail "$1: rpr-nx succeeded"
        return 0
    fi
    [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$1: not one line on stderr: $(cat "$tmp/err")"
    grep -q -- "$2" "$tmp/err" || fail "$1: message lacks '$2': $(cat "$tmp/err")"
    grep -q '^rpr-nx: ' "$tmp/err" || fail "$1: message not prefixed"
    [ -z "${SHOW:-}" ] || cat "$tmp/err" >&2
    cmp -s "$T/TEMP/epot" "$tmp/epot.good" || fail "$1: epot changed"
    cmp -s "$T/TEMP/grad" "$tmp/grad.good" || fail "$1: grad changed"
    ls "$T/TEMP" | grep -q tmp && fail "$1: temporary file left"
    return 0
}
cd "$T/TEMP"
cp control.d "$tmp/control.good"
cp geom "$tmp/geom.good"
cp ../rpr-nx.par "$tmp/par.good"
cd "$OLDPWD"
restore() {
    cp "$tmp/control.good" "$T/TEMP/control.d"
    cp "$tmp/geom.good" "$T/TEMP/geom"
    cp "$tmp/par.good" "$T/rpr-nx.par"
}
rm "$T/TEMP/control.d"
expect_fail "control.d missing" "control.d: No such file"
restore
sed 's/^       8,/       x,/' "$tmp/control.good" > "$T/TEMP/control.d"
expect_fail "nat not a number" "control.d:1: field 1 (nat)"
echo "8, 0, 1, 1, 0, 1, 0.5" > "$T/TEMP/control.d"
expect_fail "control.d short" "control.d:1: 7 comma-separated"
restore
sed 's/ 0.5000,/ -0.500,/' "$tmp/control.good" > "$T/TEMP/control.d"
expect_fail "negative dt" "control.d:1: inconsistent"
restore
rm "$T/TEMP/geom"
expect_fail "geom missing" "geom"
restore
sed '3s/^\( *[A-Za-z]*  *[0-9.]*\)  *[^ ]*/\1 1.2.3/' "$tmp/geom.good" > "$T/TEMP/geom"
expect_fail "geom garbled" "geom:3"
sed '$d' "$tmp/geom.good" > "$T/TEMP/geom"
expect_fail "geom one atom short" "geom has 7 atoms, control.d says nat = 8"
# Swap the lines of atoms 2 (C) and 3 (Cl): elements no longer match.
awk 'NR == 2 { two = $0; next } { print } NR == 3 { print two }' \
    "$tmp/geom.good" > "$T/TEMP/geom"
expect_fail "atoms not matching the models" "atom 2 of the geometry is Cl"
restore
sed 's/^ C /c  /' "$tmp/geom.good" | sed 's/ 6\.0 / 6. /' > "$T/TEMP/geom"
run_nx 2> "$tmp/err" || fail "lower-case symbols and Z '6.' refused: $(cat "$tmp/err")"
cmp -s "$T/TEMP/epot" "$tmp/epot.good" || fail "lenient geom gave another energy"
restore
rm "$T/rpr-nx.par"
expect_fail "no parameter file" "no parameter file"
restore
echo "dipol = ../models/dipole.xml" >> "$T/rpr-nx.par"
expect_fail "unknown key" "rpr-nx.par:5: unknown key \"dipol\""
restore
sed 's|^energy = .*|dipole2 = x|' "$tmp/par.good" > "$T/rpr-nx.par"
expect_fail "no energy model" "no energy model for state 1"
sed 's|models/energy.xml|models/missing.xml|' "$tmp/par.good" > "$T/rpr-nx.par"
expect_fail "model missing" "missing.xml"
head -c 4000 "$tmp/models/energy.xml" > "$tmp/models/broken.xml"
sed 's|models/energy.xml|models/broken.xml|' "$tmp/par.good" > "$T/rpr-nx.par"
expect_fail "model invalid" "broken.xml"
sed 's|models/energy.xml|models/dipole.xml|' "$tmp/par.good" > "$T/rpr-nx.par"
expect_fail "model of the wrong kind" "the model predicts dipole, but energy"
# Non-finite prediction: a model whose coefficients are finite but so large
# (1.7e308 each) that the kernel sum overflows.
awk '/<coefficients/ { print; n = $0; sub(/.*rows="/, "", n); sub(/".*/, "", n)
        for (i = 0; i < n; i++) { getline; print "1.7e308" }; next } { print }' \
    "$tmp/models/energy.xml" > "$tmp/models/huge.xml"
sed 's|models/energy.xml|models/huge.xml|' "$tmp/par.good" > "$T/rpr-nx.par"
expect_fail "non-finite prediction" "huge.xml: state 1 at t = 0.0000 fs"
restore
# RPR_NX_PAR overrides the trajectory's file, and must exist if set.
(cd "$T/TEMP" && RPR_NX_PAR=$tmp/nonexistent.par "$NX") 2> "$tmp/err" &&
    fail "a missing RPR_NX_PAR accepted"
grep -q nonexistent.par "$tmp/err" || fail "missing RPR_NX_PAR not named"
run_nx || fail "good input after the failures"
cmp -s "$T/TEMP/epot" "$tmp/epot.good" || fail "epot after the failures"
"$NX" --bogus 2> /dev/null && fail "unknown argument accepted"
"$NX" --version | grep -q '^rpr-nx ' || fail "--version"

# ---------------------------------------------------------------- NS layout
# TRAJ/TEMP/rpr.job: ../../user_config.nml, mol.init.xyz (angstrom); the
# files come back as fro_energies.dat and fro_gradients.dat.
N=$tmp/NS
mkdir -p "$N/TEMP/rpr.job" "$N/RESULTS"
cp "$tmp/par.good" "$N/rpr-nx.par"
cat > "$N/user_config.nml" << EOF
&nxconfig
  nat = 8
  nstat = 1
  nstatdyn = 1
  progname = rpr
  dt = 0.500000000000
  tmax = 5.000000000000
/
EOF
cp "$D/one.xyz" "$N/TEMP/rpr.job/mol.init.xyz"
(cd "$N/TEMP/rpr.job" && "$NX" --ns) || fail "NS mode failed"
[ "$(cat "$N/TEMP/rpr.job/fro_energies.dat" | awk '{ print $1 }')" = "$(cat "$D/e.pred")" ] ||
    fail "NS energy differs from rpr predict"
cmp -s "$N/TEMP/rpr.job/fro_gradients.dat" "$T/TEMP/grad" ||
    fail "NS gradients differ from the CS ones"
(cd "$N/TEMP/rpr.job" && RPR_NX_MODE=ns "$NX") || fail "NS mode by RPR_NX_MODE failed"
sed -n '1011,1020p' dce/geoms.xyz > "$N/TEMP/rpr.job/mol.init.xyz"
(cd "$N/TEMP/rpr.job" && "$NX" --ns) || fail "NS mode, second geometry"
awk '!/^#/ { print $1, $2 }' "$N/RESULTS/rpr-properties.dat" | tr '\n' ' ' |
    grep -qx '0.0000 0 0.5000 1 ' || fail "NS calls not counted by geometry"

# ---------------------------------------------------------------- public API only
# rpr-nx links the library statically for speed; it must still call
# nothing but rpr_* functions of it.
nm -u nx_interface/rpr_nx-*.o nx_interface/rpr_nx_full-*.o | awk '{ print $NF }' |
    sort -u > "$tmp/undef"
nm --defined-only src/.libs/librpr_core.a 2> /dev/null | awk 'NF == 3 { print $3 }' |
    sort -u > "$tmp/lib"
[ -s "$tmp/undef" ] || fail "no symbols read from the objects of rpr-nx"
[ -s "$tmp/lib" ] || fail "no symbols read from src/.libs/librpr_core.a"
bad=$(comm -12 "$tmp/undef" "$tmp/lib" | grep -v '^rpr_' || true)
[ -z "$bad" ] || fail "rpr-nx calls internal functions: $bad"

# ---------------------------------------------------------------- the fast path
# rpr-nx loads neither libxml2 nor OpenBLAS (it links without them, nx_lazy.c);
# rpr-nx-full, which parses models, does.
needed() { readelf -d "$1" 2> /dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'; }
if command -v readelf > /dev/null; then
    if needed nx_interface/rpr-nx-full | grep -q '^libxml2'; then
        heavy=$(needed nx_interface/rpr-nx | grep -E '^lib(xml2|openblas|blas|cblas|lapack|lapacke|fftw3)' || true)
        [ -z "$heavy" ] || fail "rpr-nx loads $heavy at every step"
    fi
fi
# With an up-to-date bundle (<traj>/rpr-nx.cache) rpr-nx never runs
# rpr-nx-full: it succeeds even when rpr-nx-full cannot be found.
B=$T/rpr-nx.cache
run_nx
[ -s "$B" ] || fail "no model bundle $B"
cp "$T/TEMP/epot" "$tmp/epot.cached"
(cd "$T/TEMP" && env -u RPR_NX_PAR RPR_NX_FULL=$tmp/nowhere "$NX") ||
    fail "a step with an up-to-date bundle needed rpr-nx-full"
cmp -s "$T/TEMP/epot" "$tmp/epot.cached" || fail "the mapped bundle changed epot"
# Without the bundle, or with a stale one (a model file touched), the step
# is handed to rpr-nx-full, which rebuilds it: same results either way.
rm -f "$B"
run_nx
cmp -s "$T/TEMP/epot" "$tmp/epot.cached" || fail "rebuilding the bundle changed epot"
[ -s "$B" ] || fail "the bundle was not rebuilt"
cp "$B" "$tmp/bundle.old"
touch "$tmp/models/dipole.xml"
run_nx
cmp -s "$B" "$tmp/bundle.old" && fail "a touched model did not rebuild the bundle"
cmp -s "$T/TEMP/epot" "$tmp/epot.cached" || fail "the rebuilt bundle changed epot"
# A damaged bundle (its header) is rebuilt, not trusted.
printf 'X' | dd of="$B" bs=1 seek=0 conv=notrunc 2> /dev/null
run_nx
cmp -s "$T/TEMP/epot" "$tmp/epot.cached" || fail "a damaged bundle changed epot"
head -c 8 "$B" | grep -q RPRBUNDL || fail "the damaged bundle was not rebuilt"
# If rpr-nx-full cannot be found, a step that needs it fails cleanly.
rm -f "$B"
if (cd "$T/TEMP" && env -u RPR_NX_PAR RPR_NX_FULL=$tmp/nowhere "$NX") 2> "$tmp/err"; then
    fail "a missing bundle without rpr-nx-full succeeded"
fi
[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "missing rpr-nx-full: not one line: $(cat "$tmp/err")"
grep -q "nowhere cannot be run" "$tmp/err" || fail "missing rpr-nx-full: $(cat "$tmp/err")"
cmp -s "$T/TEMP/epot" "$tmp/epot.cached" || fail "epot changed by a failed hand-over"

if [ "$fails" -ne 0 ]; then
    echo "test_nx: $fails check(s) failed" >&2
    exit 1
fi
echo "test_nx: all checks passed"
