#!/bin/sh
# test_spectrum_cli.sh - rpr spectrum ir|raman end to end: tables with their
# header, plots, the harmonic band at its wavenumber, options recorded in
# the header, rejection of bad property files (file and time named), jump
# warnings, usage errors.  Exit 0 pass, 1 fail, 77 skip, 99 hard error.
#
# Runs in the build directory; $RPR overrides the program.

RPR=${RPR:-./src/rpr}
dir=spectrum_cli.tmp
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

if [ ! -x "$RPR" ]; then
    echo "test_spectrum_cli: $RPR not built" >&2
    exit 99
fi
command -v awk >/dev/null 2>&1 || { echo "awk missing" >&2; exit 99; }
if "$RPR" spectrum --help 2>&1 | grep -q "not built yet"; then
    echo "test_spectrum_cli: rpr is linked without src/cli_spectrum.c" >&2
    exit 99
fi

rm -rf "$dir"
mkdir -p "$dir" || exit 99

HEADER='# rpr-nx properties, format 1
# columns: t_fs step run energy mu_x mu_y mu_z alpha_xx alpha_xy alpha_xz alpha_yy alpha_yz alpha_zz gap12 gap23 sign_min w_principal w_kabsch
# units: t_fs fs; energy hartree; mu e*bohr (lab frame); alpha bohr^3 (lab frame); the rest dimensionless'

# make_traj FILE NSTEPS DT PHASE [ALPHA=nan] [BADSTEP BADT] [JUMPSTEP]
# A harmonic mode at 1000 cm^-1 in mu and alpha; one time may be replaced,
# and mu_z may flip sign from JUMPSTEP on (a frame seam).
make_traj() {
    {
        echo "$HEADER"
        awk -v n="$2" -v dt="$3" -v ph="$4" -v al="${5:-yes}" \
            -v bs="${6:--1}" -v bt="${7:-0}" -v js="${8:--1}" 'BEGIN {
            pi = atan2(0, -1); w = 2 * pi * 2.99792458e-5 * 1000;
            for (k = 0; k < n; k++) {
                t = k * dt; q = cos(w * t + ph);
                z = 0.3 + 0.05 * q;
                if (js >= 0 && k >= js) z = -z;
                tt = (k == bs) ? bt : t;
                if (al == "yes")
                    a = sprintf("%.10f 0.1 0 %.10f 0 %.10f", 50 + 2 * q,
                                45 - q, 52 + 0.5 * q);
                else
                    a = "nan nan nan nan nan nan";
                printf "%.4f %d %s -997.07 %.10f %.10f %.10f %s 0.016 0.0012 0.002 0.3 0.7\n",
                       tt, k, k == 0 ? "initial" : "first", 0.1 * q,
                       -0.07 * q, z, a;
            }
        }'
    } >"$1"
}

make_traj "$dir/a.dat" 2001 0.5 0.0
make_traj "$dir/b.dat" 1801 0.5 1.3
make_traj "$dir/nan.dat" 501 0.5 0.0 no
make_traj "$dir/dup.dat" 501 0.5 0.0 yes 100 49.5000
make_traj "$dir/gap.dat" 501 0.5 0.0 yes 100 51.0000
make_traj "$dir/nonu.dat" 501 0.5 0.0 yes 100 50.2000
make_traj "$dir/dt25.dat" 2001 0.25 0.0
make_traj "$dir/jump.dat" 2001 0.5 0.0 yes -1 0 1234
head -n 2 "$dir/a.dat" >"$dir/short.dat"

# run STATUS ARGS...: run rpr, keep stdout and stderr, check the status.
run() {
    want=$1
    shift
    "$RPR" "$@" >"$dir/out" 2>"$dir/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "rpr $* -> $got, want $want: $(cat "$dir/err")"
    fi
}

# has FILE TEXT: FILE contains TEXT (fixed string).
has() {
    grep -qF -- "$2" "$1" || fail "$1 lacks '$2': $(head -c 600 "$1")"
}

# --- IR: table, plot, the band at 1000 cm^-1 ---
run 0 spectrum ir -o "$dir/ir.txt" -p "$dir/ir.svg" --ref 1000,1500 \
    "$dir/a.dat" "$dir/b.dat"
has "$dir/ir.txt" "# columns: wavenumber ir ir_se ir_integral"
has "$dir/ir.txt" "# units: cm^-1 km/mol/cm^-1 km/mol/cm^-1 km/mol"
has "$dir/ir.txt" "T = 300 K"
has "$dir/ir.txt" "# file: $dir/a.dat"
has "$dir/ir.txt" "# file: $dir/b.dat"
has "$dir/ir.txt" "jackknife standard error over 2 trajectories"
has "$dir/ir.txt" "depth L = 899 frames"
has "$dir/err" "2 trajectories"
# L = (1801 - 2) / 2 = 899: grid spacing 1/(8 L c dt) = 9.28 cm^-1, rows
# floor(4000 / 9.28) + 1 = 432; the peak within one spacing of 1000.
peak=$(awk '!/^#/ && $2 > m { m = $2; x = $1 } END { print x }' "$dir/ir.txt")
awk -v x="$peak" 'BEGIN { exit !(x > 990.7 && x < 1009.3) }' ||
    fail "IR peak at $peak cm^-1, want 1000 +- 9.3"
rows=$(grep -vc '^#' "$dir/ir.txt")
[ "$rows" -eq 432 ] || fail "IR table has $rows rows, want 432"
has "$dir/ir.svg" "<svg"
has "$dir/ir.svg" "</svg>"
has "$dir/ir.svg" "IR absorption"
has "$dir/ir.svg" "standard error"
[ "$(grep -c '<polyline' "$dir/ir.svg")" -eq 1 ] || fail "IR plot curves"

# Table to standard output; -o to an existing device does not replace it.
run 0 spectrum ir "$dir/a.dat"
has "$dir/out" "# columns: wavenumber ir ir_se ir_integral"
has "$dir/out" "blocks of time origins"
run 0 spectrum ir -o /dev/null "$dir/a.dat"
[ -c /dev/null ] || { echo "test_spectrum_cli: /dev/null replaced" >&2; exit 99; }

# --- Raman ---
run 0 spectrum raman -o "$dir/raman.txt" -p "$dir/raman.svg" --laser 18797 \
    "$dir/a.dat" "$dir/b.dat"
has "$dir/raman.txt" "# columns: wavenumber iso aniso parallel parallel_se perpendicular perpendicular_se unpolarised unpolarised_se unpolarised_integral depolarisation depolarisation_se"
has "$dir/raman.txt" "laser nu0 = 18797 cm^-1"
has "$dir/raman.txt" "# units: cm^-1 bohr^6/fs bohr^6/fs 1e-30*m^2/sr/cm^-1"
# One unit per column.
awk '/^# columns:/ { c = NF } /^# units:/ { u = NF } END { exit !(c == u) }' \
    "$dir/raman.txt" || fail "columns and units lines differ in length"
has "$dir/raman.txt" "parallel (VV) X,Y = 45,4"
has "$dir/raman.svg" "unpolarised (VV+VH)"
[ "$(grep -c '<polyline' "$dir/raman.svg")" -eq 3 ] || fail "Raman plot curves"

# --- options recorded in the header ---
run 0 spectrum ir -o "$dir/opt.txt" --scale 0.9 -T 250 --window gaussian \
    --width 200 --depth 500 --padding 8 --no-fd-correction --qcf standard \
    --max-wavenumber 3000 --dt-rtol 0.02 "$dir/a.dat"
for s in "scale = 0.9" "T = 250 K" "window gaussian exp(-(t/a)^2), a = 200 fs" \
    "depth L = 500 frames" "padding 8 x L" "correction (w dt / sin w dt)^2: off" \
    "quantum correction: standard"; do
    has "$dir/opt.txt" "$s"
done
last=$(awk '!/^#/ { x = $1 } END { print x }' "$dir/opt.txt")
awk -v x="$last" 'BEGIN { exit !(x <= 3000 && x > 2990) }' ||
    fail "last wavenumber $last with --max-wavenumber 3000"
peak=$(awk '!/^#/ && $2 > m { m = $2; x = $1 } END { print x }' "$dir/opt.txt")
awk -v x="$peak" 'BEGIN { exit !(x > 895 && x < 905) }' ||
    fail "scaled IR peak at $peak cm^-1, want 900"

# --- PNG through gnuplot; bad plot names ---
if command -v gnuplot >/dev/null 2>&1; then
    run 0 spectrum ir -o "$dir/png.txt" -p "$dir/ir.png" "$dir/a.dat"
    head -c 4 "$dir/ir.png" | grep -q PNG || fail "ir.png is not a PNG"
fi
run 1 spectrum ir -o "$dir/x.txt" -p "$dir/ir.pdf" "$dir/a.dat"
has "$dir/err" "must end in .svg or .png"

# --- rejected inputs: the message names the file, line and time ---
run 1 spectrum raman "$dir/nan.dat"
has "$dir/err" "$dir/nan.dat:4: column 'alpha_xx' is nan"
run 0 spectrum ir -o "$dir/nan_ir.txt" "$dir/nan.dat" # IR needs no alpha
run 1 spectrum ir "$dir/dup.dat"
has "$dir/err" "$dir/dup.dat:104: duplicated time t = 49.5000 fs"
run 1 spectrum ir "$dir/gap.dat"
has "$dir/err" "$dir/gap.dat:104: gap: t jumps from 49.5000 to 51.0000 fs, 2 missing steps"
run 1 spectrum ir "$dir/nonu.dat"
has "$dir/err" "$dir/nonu.dat:104: non-uniform time step: t = 50.2000 fs"
run 1 spectrum ir "$dir/a.dat" "$dir/dt25.dat"
has "$dir/err" "time step 0.25 fs differs from 0.5 fs"
run 1 spectrum ir "$dir/short.dat"
has "$dir/err" "$dir/short.dat: 0 records"
run 1 spectrum ir "$dir/does-not-exist.dat"
has "$dir/err" "does-not-exist.dat: cannot open"
# Every bad file is reported, not only the first.
run 1 spectrum ir "$dir/dup.dat" "$dir/gap.dat"
has "$dir/err" "dup.dat"
has "$dir/err" "gap.dat"
# A missing column names the file.
sed 's/ mu_y / mu_Y /' "$dir/a.dat" >"$dir/nocol.dat"
run 1 spectrum ir "$dir/nocol.dat"
has "$dir/err" "$dir/nocol.dat:2: no column 'mu_y'"
# --min-steps skips short trajectories.
run 0 spectrum ir -o "$dir/min.txt" --min-steps 1900 "$dir/a.dat" "$dir/b.dat"
has "$dir/err" "$dir/b.dat: skipped: 1801 records"
has "$dir/min.txt" "input: 1 trajectory"

# --- jump warning: file, line and time of the seam ---
run 0 spectrum ir -o "$dir/jump.txt" "$dir/jump.dat"
has "$dir/err" "warning: $dir/jump.dat:1238: t = 617.0000 fs: mu changes by"
run 0 spectrum raman -o "$dir/jump_r.txt" "$dir/jump.dat"
if grep -q warning "$dir/err"; then fail "alpha has no seam: $(cat "$dir/err")"; fi
run 0 spectrum ir -o "$dir/nojump.txt" "$dir/a.dat"
if grep -q warning "$dir/err"; then fail "smooth mu warned: $(cat "$dir/err")"; fi

# --- usage ---
run 2 spectrum
run 2 spectrum infrared "$dir/a.dat"
has "$dir/err" "expected ir or raman"
run 2 spectrum ir
has "$dir/err" "no property file"
run 2 spectrum ir --depth abc "$dir/a.dat"
has "$dir/err" "--depth: bad value 'abc'"
run 2 spectrum ir --window square "$dir/a.dat"
run 2 spectrum ir --bogus "$dir/a.dat"
run 2 spectrum ir --plot-range 5 "$dir/a.dat"
run 1 spectrum ir -T -3 "$dir/a.dat"
has "$dir/err" "temperature must be > 0"
run 0 spectrum --help
has "$dir/out" "Usage: rpr spectrum ir|raman"
run 0 spectrum raman --help
has "$dir/out" "--laser"

if [ "$failures" -gt 0 ]; then
    echo "test_spectrum_cli: $failures check(s) failed" >&2
    exit 1
fi
rm -rf "$dir"
echo "test_spectrum_cli: all checks passed"
exit 0
