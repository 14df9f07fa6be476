#!/bin/sh
# test_cli.sh - the rpr command: help texts, usage errors, every bad input
# of the design with its exact "file:line" message, no partial output
# files, and an end-to-end train / predict / eval / verify / info run on a
# few hundred DCE geometries.  Runs from the build directory (automake's
# cwd for tests); exit 0 pass, 1 fail, 99 hard error.

RPR=${RPR:-./src/rpr}
failures=0
work=$(mktemp -d "${TMPDIR:-/tmp}/test_cli.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run WANT_STATUS CMD...: run, keep stdout in $work/out and stderr in
# $work/err, check the exit status.
run() {
    want=$1
    shift
    "$@" >"$work/out" 2>"$work/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "'$*' exited $got, want $want; stderr: $(cat "$work/err")"
        return 1
    fi
    return 0
}

# stderr_is TEXT: stderr is exactly one line equal to TEXT.
stderr_is() {
    if [ "$(cat "$work/err")" != "$1" ] || [ "$(wc -l <"$work/err")" -ne 1 ]; then
        fail "stderr is '$(cat "$work/err")', want '$1'"
    fi
}

# stderr_has TEXT: stderr is one line containing TEXT.
stderr_has() {
    if ! grep -qF -- "$1" "$work/err" || [ "$(wc -l <"$work/err")" -ne 1 ]; then
        fail "stderr is '$(cat "$work/err")', want one line with '$1'"
    fi
}

stdout_has() {
    grep -qF -- "$1" "$work/out" || fail "stdout lacks '$1': $(cat "$work/out")"
}

[ -x "$RPR" ] || { echo "test_cli: $RPR not built" >&2; exit 99; }
for f in geoms.xyz dipoles.dat polarizabilities.dat energies.dat gradients.dat; do
    [ -r "dce/$f" ] || { echo "test_cli: dce/$f missing (make check unpacks it)" >&2; exit 99; }
done

# ---------------------------------------------------------------- help
run 0 "$RPR" --help && for c in train predict eval verify info spectrum; do
    stdout_has "  $c "
done
run 0 "$RPR" --version && stdout_has "rpr "
run 2 "$RPR"
run 2 "$RPR" frobnicate && stderr_is "rpr: unknown command 'frobnicate' (try rpr --help)"
run 2 "$RPR" help frobnicate && stderr_is "rpr help: unknown command 'frobnicate'"
for c in train predict eval verify info spectrum; do
    run 0 "$RPR" "$c" --help && stdout_has "Usage: rpr $c"
    [ -s "$work/err" ] && fail "rpr $c --help wrote to stderr"
    run 0 "$RPR" help "$c" && stdout_has "Usage: rpr $c"
done

# ---------------------------------------------------------------- usage errors
run 2 "$RPR" eval --model m.xml && stderr_has "--model, --xyz and --values are required"
run 2 "$RPR" eval --bogus && stderr_is "rpr eval: unknown option '--bogus' (try --help)"
run 2 "$RPR" eval --model && stderr_is "rpr eval: --model needs a value"
run 2 "$RPR" eval --model m --xyz x --values v extra && stderr_has "unexpected argument 'extra'"
run 2 "$RPR" verify --xyz x && stderr_has "--model and --xyz are required"
run 2 "$RPR" verify --model m --xyz x --n abc && stderr_is "rpr verify: --n: 'abc' is not a non-negative integer"
run 2 "$RPR" verify --model m --xyz x --n -3 && stderr_is "rpr verify: --n: '-3' is not a non-negative integer"
run 2 "$RPR" verify --model m --xyz x --n 0 && stderr_has "--n and --frames must be at least 1"
run 2 "$RPR" verify --model m --xyz x --threshold 1e-10x && stderr_is "rpr verify: --threshold: '1e-10x' is not a finite number"
run 2 "$RPR" verify --model m --xyz x --threshold nan && stderr_is "rpr verify: --threshold: 'nan' is not a finite number"
run 2 "$RPR" verify --model m --xyz x --shift -1 && stderr_is "rpr verify: --shift: -1 is negative"
run 2 "$RPR" info a.xml b.xml && stderr_has "one model at a time"
run 2 "$RPR" info --bogus && stderr_has "unknown option '--bogus'"

# ---------------------------------------------------------------- registries
run 0 "$RPR" info --list && stdout_has "Descriptors:" && stdout_has "Kernels:"
for name in RE ID CM gaussian laplacian matern; do
    grep -qiE "^  $name " "$work/out" || fail "rpr info --list lacks $name"
done
run 0 "$RPR" info && stdout_has "Descriptors:"

# ---------------------------------------------------------------- missing files
run 1 "$RPR" info "$work/none.xml" && stderr_has "rpr info: $work/none.xml"
run 1 "$RPR" eval --model "$work/none.xml" --xyz dce/geoms.xyz --values dce/dipoles.dat &&
    stderr_has "rpr eval: $work/none.xml"

# ---------------------------------------------------------------- data
# Training: the first 300 DCE geometries; test: the next 200.  Record k of
# every file belongs to geometry k (trajectories/dce-hf-adz/README.md);
# each XYZ frame is 10 lines (8 atoms).
head -n 3000 dce/geoms.xyz >"$work/tr.xyz"
head -n 300 dce/dipoles.dat >"$work/tr_mu.dat"
head -n 300 dce/polarizabilities.dat >"$work/tr_al.dat"
sed -n 3001,5000p dce/geoms.xyz >"$work/te.xyz"
sed -n 301,500p dce/dipoles.dat >"$work/te_mu.dat"
sed -n 301,500p dce/polarizabilities.dat >"$work/te_al.dat"
# Energies with gradients: 60 training geometries keep the KREG system
# (60 x (1 + 24) = 1500 rows) quick.
head -n 600 dce/geoms.xyz >"$work/tre.xyz"
head -n 60 dce/energies.dat >"$work/tre_e.dat"
head -n 600 dce/gradients.dat >"$work/tre_g.dat"
sed -n 301,400p dce/energies.dat >"$work/te_e.dat"
sed -n 3001,4000p dce/gradients.dat >"$work/te_g.dat"
sed -n 3001,4000p dce/geoms.xyz >"$work/te100.xyz"
cd "$work" || exit 99
case $RPR in /*) ;; *) RPR=$OLDPWD/$RPR ;; esac

# ---------------------------------------------------------------- end to end
# The documented form, hyperparameters searched.
run 0 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --descriptor RE --kernel matern --sigma opt --lambda opt --out dip.xml
[ -s dip.xml ] || fail "rpr train wrote no dip.xml"
run 0 "$RPR" info dip.xml && stdout_has "property:      dipole"
run 0 "$RPR" predict --model dip.xml --xyz te.xyz --out pred.dat
[ "$(awk 'NF == 3' pred.dat | wc -l)" -eq 200 ] || fail "pred.dat is not 200 x 3"
# eval's RMSE of x against one computed here from predict's output
# (printed with 17 digits).  eval prints 7 significant digits: they agree
# to half a unit of the 7th, 5e-7 relative.
run 0 "$RPR" eval --model dip.xml --xyz te.xyz --values te_mu.dat &&
    [ -s err ] && fail "rpr eval wrote to stderr: $(cat err)"
cp out eval.txt
awk -v f=eval.txt 'NR == FNR { p[FNR] = $1; next }
    { d = p[FNR] - $1; s += d * d; n++ }
    END { want = sqrt(s / n)
          while ((getline l < f) > 0) { split(l, a); if (a[1] == "x") got = a[2] }
          r = (got - want) / want; if (r < 0) r = -r
          if (!(r <= 5e-7)) { print "eval x RMSE " got " want " want; exit 1 } }' \
    pred.dat te_mu.dat || fail "rpr eval's RMSE differs from predict's output"
for row in x y z '|mu|'; do
    awk -v r="$row" '$1 == r { found = 1 } END { exit !found }' eval.txt ||
        fail "rpr eval lacks the row $row"
done

# Covariance certificate.  Positive controls: lambda = 1 bounds the
# coefficients, sum |alpha_i| <= sqrt(n) |y - prior| / lambda (~ 17 * 17
# e*bohr for 300 dipoles of ~1 e*bohr; 17 * 87 bohr^3 for polarizabilities
# varying by ~5 bohr^3), and a rotation perturbs the descriptors by
# rounding, |dx| < 1e-13; with kernel slopes below 1/sigma the prediction
# moves by < 3e-11 e*bohr and 6e-10 bohr^3, below 1e-10 of the RMS norms
# (~1 e*bohr, ~90 bohr^3): the default threshold must pass.
run 0 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --kernel matern --sigma 2.385 --lambda 1 --out dip1.xml -q
run 0 "$RPR" verify --model dip1.xml --xyz te.xyz && stdout_has "passed: "
run 0 "$RPR" train --property polarizability --xyz tr.xyz --values tr_al.dat \
    --kernel matern --sigma 2.385 --lambda 1 --out pol1.xml -q
run 0 "$RPR" verify --model pol1.xml --xyz te.xyz --n 4 --seed 7 && stdout_has "passed: "
run 0 "$RPR" eval --model pol1.xml --xyz te.xyz --values te_al.dat
for row in xx xy xz yy yz zz iso traceless; do
    awk -v r="$row" '$1 == r { found = 1 } END { exit !found }' out ||
        fail "rpr eval lacks the polarizability row $row"
done
# Negative control: a lab-frame dipole model predicts an invariant, so
# R mu(x) - mu(Rx) is of the size of mu itself: relative deviation of
# order 1, far above any threshold; verify must fail with status 1.
run 0 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --kernel matern --sigma 2.385 --lambda 1 --frame none --out lab.xml -q
run 1 "$RPR" verify --model lab.xml --xyz te.xyz --n 2 && stdout_has "FAILED: "
awk '/^dipole/ { exit !($5 > 0.1) }' out || fail "lab-frame deviation not > 0.1: $(cat out)"
# Same seed, same certificate; another seed, other transformations.
run 0 "$RPR" verify --model dip1.xml --xyz te.xyz --frames 20 --seed 3 && cp out v1
run 0 "$RPR" verify --model dip1.xml --xyz te.xyz --frames 20 --seed 3
cmp -s out v1 || fail "rpr verify is not reproducible for a seed"

# Energies (KREG with gradients): eval reports the gradient row in
# hartree/angstrom; verify checks energy invariance and gradient
# covariance (its status must match the printed comparison).
run 0 "$RPR" train --property energy --xyz tre.xyz --values tre_e.dat \
    --grad tre_g.dat --kernel gaussian --sigma 4 --lambda 1e-4 --out en.xml -q
run 0 "$RPR" eval --model en.xml --xyz te100.xyz --values te_e.dat --grad te_g.dat &&
    stdout_has "hartree/angstrom"
awk '$1 == "E" || $1 == "grad" { n++ } END { exit n != 2 }' out ||
    fail "rpr eval --grad lacks the E or grad row: $(cat out)"
"$RPR" verify --model en.xml --xyz te100.xyz --n 2 >out 2>err
st=$?
grep -q '^energy ' out && grep -q '^gradient ' out || fail "verify energy lines: $(cat out)"
if grep -q '^passed: ' out; then [ $st -eq 0 ]; else [ $st -eq 1 ]; fi ||
    fail "rpr verify exit $st does not match: $(cat out)"
# The KREG search's size options reach the search: a dimension below one
# geometry with gradients (1 + 3 x 8 = 25) is refused by it.
run 2 "$RPR" train --property energy --xyz tre.xyz --values tre_e.dat \
    --grad tre_g.dat --kreg-search-dim 0 --out bad.xml &&
    stderr_is "rpr train: bad value '0' for --kreg-search-dim"
run 2 "$RPR" train --property energy --xyz tre.xyz --values tre_e.dat \
    --grad tre_g.dat --kreg-validation -5 --out bad.xml &&
    stderr_is "rpr train: bad value '-5' for --kreg-validation"
run 1 "$RPR" train --property energy --xyz tre.xyz --values tre_e.dat \
    --grad tre_g.dat --kreg-search-dim 24 --out bad.xml &&
    stderr_has "(max_dim, rpr train --kreg-search-dim) >= 25"
[ -e bad.xml ] && fail "--kreg-search-dim 24: rpr train left bad.xml"

# ---------------------------------------------------------------- bad input
# Each: status 1, one line naming file and line, and no output file.
# bad_train NAME XYZ VALUES MESSAGE: rpr train refuses and writes nothing.
bad_train() {
    rm -f bad.xml
    run 1 "$RPR" train --property dipole --xyz "$2" --values "$3" \
        --sigma 2.385 --lambda 1 --out bad.xml && stderr_is "rpr train: $4"
    [ -e bad.xml ] && fail "$1: rpr train left bad.xml"
    ls bad.xml.* >/dev/null 2>&1 && fail "$1: rpr train left a temporary file"
}
# Frame 300 starts on line 2991; the file ends after its third atom.
head -n 2995 tr.xyz >trunc.xyz
bad_train truncated trunc.xyz tr_mu.dat \
    "trunc.xyz:2991: frame 300 is truncated: 8 atoms announced, the file ends after 3"
awk 'NR == 11 { $0 = "7" } { print }' tr.xyz >count.xyz
bad_train count count.xyz tr_mu.dat "count.xyz:11: frame 2 has 7 atoms, frame 1 (line 1) has 8"
awk 'NR == 25 { $2 = "1.0x" } { print }' tr.xyz >nonnum.xyz
bad_train nonnum nonnum.xyz tr_mu.dat "nonnum.xyz:25: x '1.0x' is not a number"
awk 'NR == 25 { $3 = "nan" } { print }' tr.xyz >nan.xyz
bad_train nan nan.xyz tr_mu.dat "nan.xyz:25: y 'nan' is not finite"
awk 'NR == 25 { $4 = "-Inf" } { print }' tr.xyz >inf.xyz
bad_train inf inf.xyz tr_mu.dat "inf.xyz:25: z '-Inf' is not finite"
awk 'NR == 25 { $1 = "Xq" } { print }' tr.xyz >unk.xyz
bad_train element unk.xyz tr_mu.dat "unk.xyz:25: unknown element 'Xq'"
head -n 299 tr_mu.dat >rows.dat
bad_train rows tr.xyz rows.dat "rows.dat:299: the file ends after 299 rows, expected 300"
{ cat tr_mu.dat; echo "0 0 0"; } >rows2.dat
bad_train rows2 tr.xyz rows2.dat "rows2.dat:301: more rows than the 300 expected"
bad_train columns tr.xyz tr_al.dat "tr_al.dat:1: expected 3 columns, got 6"
awk 'NR == 7 { $2 = "0.1.2" } { print }' tr_mu.dat >field.dat
bad_train field tr.xyz field.dat "field.dat:7: column 2 '0.1.2' is not a number"

# --permute: a bad SPEC is refused with what is wrong; a good one is
# recorded in the model (rpr info) and trains on the relabelled copies.
bad_permute() {
    rm -f bad.xml
    run 1 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
        --sigma 2.385 --lambda 1 --permute "$1" --out bad.xml &&
        stderr_is "rpr train: permutations '$1': $2"
    [ -e bad.xml ] && fail "--permute $1: rpr train left bad.xml"
}
bad_permute 1-5 "atoms 1 (C) and 5 (H) are different elements"
bad_permute 5-9 "atom 9 out of 1..8"
bad_permute 5-6,6-7 "atom 6 appears twice in permutation 1"
bad_permute "5-6,7-8;8-7,6-5" "permutation 2 repeats permutation 1"
bad_permute 5+6 "expected a swap a-b of 1-based indices at '5+6' (e.g. \"5-6,7-8\"; ';' separates permutations)"
run 0 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --sigma 2.385 --lambda 1e-3 --kabsch-refs 1 --permute "5-6,7-8" --out perm.xml
run 0 "$RPR" info perm.xml && stdout_has "permutations:  5-6,7-8"
# 300 geometries and their 300 copies: 600 rows of coefficients.
grep -q '<coefficients rows="600" columns="3">' perm.xml ||
    fail "perm.xml lacks 600 coefficient rows: $(grep '<coefficients' perm.xml)"

# --relabel: one permutation only, never with --permute, a band > 0; a
# good one is recorded (rpr info).
rm -f bad.xml
run 1 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --sigma 2.385 --lambda 1 --relabel "5-6;7-8" --out bad.xml &&
    stderr_is "rpr train: relabel '5-6;7-8': exactly one permutation (swaps a-b joined by ',', no ';')"
[ -e bad.xml ] && fail "--relabel 5-6;7-8: rpr train left bad.xml"
run 1 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --sigma 2.385 --lambda 1 --relabel 5-6 --permute 7-8 --out bad.xml &&
    stderr_has "cannot be combined"
run 2 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --relabel 5-6 --relabel-band 0 --out bad.xml &&
    stderr_is "rpr train: bad value '0' for --relabel-band"
run 0 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --sigma 2.385 --lambda 1e-3 --kabsch-refs 1 --relabel "5-6,7-8" \
    --relabel-band 1.5 --out relabel.xml
run 0 "$RPR" info relabel.xml && stdout_has "relabel:       5-6,7-8:" &&
    stdout_has "band 1.5"
# --health ends with w_relabel: in [0, 1], and w(x) + w(Px) = 1 (exact in
# the library; each printed to 6 significant digits, so within 1e-6).
awk 'NR == 1 { per = $1 + 2 } { l = (NR - 1) % per; line[l] = $0 }
    l == per - 1 { for (k = 0; k < per; k++) { j = k
        if (k == 6) j = 7; else if (k == 7) j = 6
        else if (k == 8) j = 9; else if (k == 9) j = 8
        print line[j] } }' tr.xyz >tr_swap.xyz
run 0 "$RPR" predict --model relabel.xml --xyz tr.xyz --out rl.pred --health rl.h &&
    run 0 "$RPR" predict --model relabel.xml --xyz tr_swap.xyz --out rl_swap.pred \
        --health rl_swap.h
grep -q ' w_relabel$' rl.h || fail "--health: no w_relabel column"
paste -d ' ' rl.h rl_swap.h | awk '!/^#/ { n = NF / 2; a = $n; b = $NF
    if (a < 0 || a > 1 || (a + b - 1) ^ 2 > 1e-12) bad++; k++ }
    END { exit !(k > 0 && bad == 0) }' ||
    fail "--health: w_relabel outside [0, 1] or w(x) + w(Px) != 1"
cmp -s rl.pred rl_swap.pred || fail "--relabel: prediction at Px differs from x"

# --kabsch-ref / --kabsch-refs: references that do not fit are refused.
awk 'NR > 2 && NR <= 9' tr.xyz | { echo 7; echo "seven atoms"; cat; } >ref7.xyz
run 1 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --sigma 2.385 --lambda 1 --kabsch-ref ref7.xyz --out bad.xml &&
    stderr_is "rpr train: ref7.xyz: atoms differ from those of tr.xyz"
head -n 20 tr.xyz >ref2.xyz
run 1 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --sigma 2.385 --lambda 1 --kabsch-ref ref2.xyz --kabsch-refs 1 --out bad.xml &&
    stderr_is "rpr train: --kabsch-refs 1 but ref2.xyz holds 2 geometries"
run 2 "$RPR" train --property dipole --xyz tr.xyz --values tr_mu.dat \
    --kabsch-refs 5 --out bad.xml && stderr_is "rpr train: bad value '5' for --kabsch-refs"
[ -e bad.xml ] && fail "a refused --kabsch-ref left bad.xml"

# The same checks guard eval and verify.
head -n 150 te_mu.dat >te_rows.dat
run 1 "$RPR" eval --model dip1.xml --xyz te.xyz --values te_rows.dat &&
    stderr_is "rpr eval: te_rows.dat:150: the file ends after 150 rows, expected 200"
run 1 "$RPR" eval --model dip1.xml --xyz te.xyz --values te_al.dat &&
    stderr_is "rpr eval: te_al.dat:1: expected 3 columns, got 6"
run 1 "$RPR" verify --model dip1.xml --xyz nan.xyz &&
    stderr_is "rpr verify: nan.xyz:25: y 'nan' is not finite"
head -n 3 te_g.dat >te_g_short.dat
run 1 "$RPR" eval --model en.xml --xyz te100.xyz --values te_e.dat --grad te_g_short.dat &&
    stderr_is "rpr eval: te_g_short.dat:1: geometry 1 is truncated: the file ends inside it"

# Models: schema violations, truncation, another property.
line=$(grep -n '<kernel ' dip1.xml | cut -d: -f1)
sed 's/<kernel /<kernel bogus="1" /' dip1.xml >schema.xml
run 1 "$RPR" eval --model schema.xml --xyz te.xyz --values te_mu.dat &&
    stderr_has "rpr eval: schema.xml:$line: "
head -c 3000 dip1.xml >cut.xml
run 1 "$RPR" info cut.xml && stderr_has "rpr info: cut.xml:"
run 1 "$RPR" eval --model dip1.xml --xyz te.xyz --values te_al.dat --property polarizability &&
    stderr_is "rpr eval: dip1.xml: the model is for dipole, not polarizability"
run 1 "$RPR" verify --model pol1.xml --xyz te.xyz --property dipole &&
    stderr_is "rpr verify: pol1.xml: the model is for polarizability, not dipole"
run 2 "$RPR" eval --model dip1.xml --xyz te.xyz --values te_mu.dat --property vector &&
    stderr_has "unknown property 'vector'"
run 2 "$RPR" eval --model dip1.xml --xyz te.xyz --values te_mu.dat --grad te_g.dat &&
    stderr_is "rpr eval: --grad: the model dip1.xml is for dipole, not an energy or scalar"

# Geometries whose atoms are not the model's: order (atoms 2 and 3, C and
# Cl, exchanged in every frame), count.
awk '{ r = (NR - 1) % 10 + 1 }
     r == 4 { c = $0; next } r == 5 { print; print c; next } { print }' te.xyz >swap.xyz
run 1 "$RPR" eval --model dip1.xml --xyz swap.xyz --values te_mu.dat &&
    stderr_is "rpr eval: swap.xyz:1: atom 2 is Cl, but in the model dip1.xml it is C"
awk 'NR <= 10 { if (NR == 1) print 7; else if (NR != 10) print }' te.xyz >seven.xyz
run 1 "$RPR" verify --model dip1.xml --xyz seven.xyz &&
    stderr_is "rpr verify: seven.xyz:1: 7 atoms, but the model dip1.xml is for 8"

# Coincident atoms (atom 2 of geometry 3 on atom 1): the descriptor names
# the atoms, the program the file and line of the geometry.
awk 'NR == 23 { c = $2 " " $3 " " $4 } NR == 24 { $2 = ""; $0 = $1 " " c } { print }' \
    te.xyz >coinc.xyz
run 1 "$RPR" eval --model dip1.xml --xyz coinc.xyz --values te_mu.dat &&
    stderr_has "rpr eval: coinc.xyz:21: geometry 3: " && stderr_has "coincide"
run 1 "$RPR" verify --model dip1.xml --xyz coinc.xyz &&
    stderr_has "rpr verify: coinc.xyz:21: geometry 3: "
# predict: no partial file, and an existing file stays as it was.
rm -f p.dat
run 1 "$RPR" predict --model dip1.xml --xyz coinc.xyz --out p.dat && stderr_has "coinc.xyz:21: "
[ -e p.dat ] && fail "rpr predict left a partial p.dat"
echo keep >p.dat
run 1 "$RPR" predict --model dip1.xml --xyz coinc.xyz --out p.dat
[ "$(cat p.dat)" = keep ] || fail "a failed rpr predict changed p.dat"
ls p.dat.* >/dev/null 2>&1 && fail "rpr predict left a temporary file"

# No progress bar when stderr is not a terminal: successful runs above
# left stderr empty.
run 0 "$RPR" eval --model dip1.xml --xyz te.xyz --values te_mu.dat
[ -s err ] && fail "rpr eval wrote to a non-terminal stderr: $(cat err)"

if [ "$failures" -gt 0 ]; then
    echo "test_cli: $failures check(s) failed" >&2
    exit 1
fi
echo "test_cli: all checks passed"
exit 0
