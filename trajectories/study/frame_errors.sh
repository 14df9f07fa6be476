#!/bin/sh
# frame_errors.sh - issue 6, item 2e: where the principal-axes frame
# struggles.  Per test geometry, the error of the RPR prediction (|mu_pred -
# mu_ref|, and the Frobenius norm of alpha_pred - alpha_ref) against the
# Cl-C-C-Cl dihedral, against the relative gap between the two largest
# principal moments of inertia, gap23 = (I3 - I2)/(I3 + I2), and against
# the smallest sign reliability of the axes (rpr predict --health).
#
#   cd _build_study && sh ../trajectories/study/frame_errors.sh
#
# Writes docs/results/frame-errors.md and frame-errors.png.  Uses (and if
# missing trains) the models of benchmark.sh; the comparison frame's models
# go to $STUDY_WORK/data-*/frame/.
# Settings (environment): FRAME_MODEL descriptor:kernel (default
# RE:gaussian), COMPARE_FRAME (default blend: rpr's smooth blend of the
# principal and Kabsch frames; "" for none), NTRAIN, NTEST as in
# benchmark.sh.
STUDY_DIR=$(cd "$(dirname "$0")" && pwd) || exit 1
. "$STUDY_DIR/common.sh"

NTRAIN=${NTRAIN:-1000}
NTEST=${NTEST:-1000}
FRAME_MODEL=${FRAME_MODEL:-RE:gaussian}
COMPARE_FRAME=${COMPARE_FRAME-blend}
command -v gnuplot >/dev/null 2>&1 || die "gnuplot is needed"

prepare_data
[ "$NPOOL" -gt "$NTRAIN" ] || die "only $NPOOL geometries, need > $NTRAIN"
ntest=$((NPOOL - NTRAIN))
[ "$ntest" -gt "$NTEST" ] && ntest=$NTEST
TR=train$NTRAIN
TE=test$NTRAIN-$ntest
subset "$TR" 0 "$NTRAIN"
subset "$TE" "$NTRAIN" "$ntest"
d=${FRAME_MODEL%:*} k=${FRAME_MODEL#*:}
OUT=$DATA/frame
mkdir -p "$OUT"

# Per geometry: |dihedral| (deg), gap12, gap23, smallest sign reliability,
# any sign fallback (0/1), dipole error (e bohr), polarizability error
# (Frobenius, bohr^3).  Health columns: geometry I1 I2 I3 gap12 gap23
# sign_rel1..3 sign_fallback improper kabsch_margin w_principal w_kabsch.
errors() { # RUNSDIR FRAME -> $OUT/FRAME.err
    for prop in dipole polarizability; do
        train_eval "$1" "$prop-$d-$k-$2" "$prop" "$TR" "$TE" \
            --descriptor "$d" --kernel "$k" --frame "$2"
        predict "$1" "$prop-$d-$k-$2" "$TE"
    done
    # Only the first 14 health columns: later rpr versions append more
    # (blend_fallback), which would shift every column pasted after them.
    awk '!/^#/ { for (i = 1; i <= 14; i++) printf "%s%s", $i, i < 14 ? " " : "\n" }' \
        "$1/dipole-$d-$k-$2.$TE.health" |
        paste "$DATA/$TE.dihedrals" - "$DATA/$TE.dipoles" \
            "$1/dipole-$d-$k-$2.$TE.pred" "$DATA/$TE.pol" \
            "$1/polarizability-$d-$k-$2.$TE.pred" |
        awk '{
            phi = $1 < 0 ? -$1 : $1
            s = $8; if ($9 < s) s = $9; if ($10 < s) s = $10
            fb = $11 != 0 ? 1 : 0
            dm = sqrt(($19 - $16) ^ 2 + ($20 - $17) ^ 2 + ($21 - $18) ^ 2)
            for (i = 0; i < 6; i++) e[i] = $(28 + i) - $(22 + i)
            da = e[0] ^ 2 + e[3] ^ 2 + e[5] ^ 2
            da = sqrt(da + 2 * (e[1] ^ 2 + e[2] ^ 2 + e[4] ^ 2))
            printf "%.3f %.6g %.6g %.6g %d %.6g %.6g\n", phi, $6, $7, s, fb, dm, da
        }' >"$OUT/$2.err"
}
errors "$DATA/bench" principal
[ -n "$COMPARE_FRAME" ] && errors "$OUT" "$COMPARE_FRAME"

# binned FILE COLUMN EDGES...: per bin "lo hi n rmse_mu rmse_alpha
# mean_gap23"
# (RMSE = root mean square of the per-geometry error norms).
binned() {
    _bn_file=$1 _bn_col=$2
    shift 2
    echo "$*" | awk -v c="$_bn_col" -v f="$_bn_file" '{
        nb = NF - 1; for (i = 1; i <= NF; i++) e[i] = $i
        while ((getline line < f) > 0) {
            split(line, v, " "); x = v[c]
            for (i = 1; i <= nb; i++) if (x >= e[i] && x < e[i + 1]) {
                n[i]++; sm[i] += v[6] ^ 2; sa[i] += v[7] ^ 2; sg[i] += v[3] }
        }
        for (i = 1; i <= nb; i++) if (n[i] > 0)
            printf "%g %g %d %.4g %.4g %.3g\n", e[i], e[i + 1], n[i],
                sqrt(sm[i] / n[i]), sqrt(sa[i] / n[i]), sg[i] / n[i]
    }'
}
PHI_EDGES="0 15 30 45 60 75 90 105 120 135 150 165 180.001"
GAP_EDGES="0 0.001 0.002 0.004 0.008 0.016 0.032 0.064 0.128 1"
SIGN_EDGES="0 0.001 0.01 0.03 0.1 0.3 1 100"
# shellcheck disable=SC2086
for fr in principal $COMPARE_FRAME; do
    binned "$OUT/$fr.err" 1 $PHI_EDGES >"$OUT/$fr.phi.bin"
    binned "$OUT/$fr.err" 3 $GAP_EDGES >"$OUT/$fr.gap23.bin"
    binned "$OUT/$fr.err" 4 $SIGN_EDGES >"$OUT/$fr.sign.bin"
done

# ---------------------------------------------------------------- figure
FIG=$RESULTS/frame-errors.png
cmp_line() { # BINFILE XEXPR YCOL
    [ -n "$COMPARE_FRAME" ] || return 0
    printf ', "%s" u %s:%s w lp pt 5 ps 0.8 lw 2 lc rgb "#2ca02c" t "%s frame, RMS per bin"' \
        "$OUT/$COMPARE_FRAME.$1.bin" "$2" "$3" "$COMPARE_FRAME"
}
gnuplot <<EOF || die "gnuplot failed"
set terminal pngcairo size 1100,700 font "Sans,9"
set output "$FIG.tmp"
set multiplot layout 2,3 title "$d $k, trained on $NTRAIN, $ntest test geometries: per-geometry error norm of the RPR prediction"
set logscale y
set grid lc rgb "#dddddd"
set key top left font ",8"
set ylabel "|mu error| / e bohr"
set xlabel "|Cl-C-C-Cl dihedral| / deg"
set xrange [0:180]
set xtics 30
plot "$OUT/principal.err" u 1:6 w p pt 7 ps 0.3 lc rgb "#1f77b4" t "principal, per geometry", \
     "$OUT/principal.phi.bin" u ((\$1+\$2)/2):4 w lp pt 7 ps 0.8 lw 2 lc rgb "#ff7f0e" t "principal, RMS per bin"$(cmp_line phi '((column(1)+column(2))/2)' 4)
set logscale x
set xrange [1e-4:1]
set xtics auto
set format x "10^{%L}"
set xlabel "gap23 = (I3 - I2)/(I3 + I2)"
plot "$OUT/principal.err" u 3:6 w p pt 7 ps 0.3 lc rgb "#1f77b4" t "principal, per geometry", \
     "$OUT/principal.gap23.bin" u (sqrt((\$1 > 0 ? \$1 : 1e-4)*\$2)):4 w lp pt 7 ps 0.8 lw 2 lc rgb "#ff7f0e" t "principal, RMS per bin"$(cmp_line gap23 '(sqrt((column(1) > 0 ? column(1) : 1e-4)*column(2)))' 4)
set xrange [1e-4:1]
set xlabel "smallest axis sign reliability |skewness|"
plot "$OUT/principal.err" u 4:6 w p pt 7 ps 0.3 lc rgb "#1f77b4" t "principal, per geometry", \
     "$OUT/principal.sign.bin" u (sqrt((\$1 > 0 ? \$1 : 1e-4)*\$2)):4 w lp pt 7 ps 0.8 lw 2 lc rgb "#ff7f0e" t "principal, RMS per bin"$(cmp_line sign '(sqrt((column(1) > 0 ? column(1) : 1e-4)*column(2)))' 4)
set ylabel "||alpha error||_F / bohr^3"
unset logscale x
set format x "%g"
set xrange [0:180]
set xtics 30
set xlabel "|Cl-C-C-Cl dihedral| / deg"
plot "$OUT/principal.err" u 1:7 w p pt 7 ps 0.3 lc rgb "#1f77b4" t "principal, per geometry", \
     "$OUT/principal.phi.bin" u ((\$1+\$2)/2):5 w lp pt 7 ps 0.8 lw 2 lc rgb "#ff7f0e" t "principal, RMS per bin"$(cmp_line phi '((column(1)+column(2))/2)' 5)
set logscale x
set xrange [1e-4:1]
set xtics auto
set format x "10^{%L}"
set xlabel "gap23 = (I3 - I2)/(I3 + I2)"
plot "$OUT/principal.err" u 3:7 w p pt 7 ps 0.3 lc rgb "#1f77b4" t "principal, per geometry", \
     "$OUT/principal.gap23.bin" u (sqrt((\$1 > 0 ? \$1 : 1e-4)*\$2)):5 w lp pt 7 ps 0.8 lw 2 lc rgb "#ff7f0e" t "principal, RMS per bin"$(cmp_line gap23 '(sqrt((column(1) > 0 ? column(1) : 1e-4)*column(2)))' 5)
set xrange [1e-4:1]
set xlabel "smallest axis sign reliability |skewness|"
plot "$OUT/principal.err" u 4:7 w p pt 7 ps 0.3 lc rgb "#1f77b4" t "principal, per geometry", \
     "$OUT/principal.sign.bin" u (sqrt((\$1 > 0 ? \$1 : 1e-4)*\$2)):5 w lp pt 7 ps 0.8 lw 2 lc rgb "#ff7f0e" t "principal, RMS per bin"$(cmp_line sign '(sqrt((column(1) > 0 ? column(1) : 1e-4)*column(2)))' 5)
unset multiplot
EOF
mv "$FIG.tmp" "$FIG"

# ---------------------------------------------------------------- page
bin_table() { # XNAME FILE...
    x=$1
    shift
    printf '| %s | n | mean gap23 |' "$x"
    for f in "$@"; do
        b=$(basename "$f" | cut -d. -f1)
        printf ' mu RMS, %s | alpha RMS, %s |' "$b" "$b"
    done
    printf '\n|---|---:|---:|'
    for f in "$@"; do printf -- '---:|---:|'; done
    echo
    paste "$@" | awk -v nf="$#" '{
        printf "| %g - %g | %d | %s |", $1, $2, $3, $6
        for (i = 0; i < nf; i++) printf " %s | %s |", $(4 + 6 * i), $(5 + 6 * i)
        printf "\n" }'
}
# Rank correlation (Spearman) of the error with a column, ties ignored.
spearman() { # FILE XCOL YCOL
    awk -v c="$2" '{ print NR, $c }' "$1" | sort -g -k 2 |
        awk '{ print $1, NR }' | sort -g -k 1 >"$OUT/rx"
    awk -v c="$3" '{ print NR, $c }' "$1" | sort -g -k 2 |
        awk '{ print $1, NR }' | sort -g -k 1 >"$OUT/ry"
    paste "$OUT/rx" "$OUT/ry" | awk '{ d = $2 - $4; s += d * d; n++ }
        END { printf "%.2f", 1 - 6 * s / (n * (n * n - 1)) }'
}
{
    cat <<EOF
# Where the principal-axes frame struggles

Issue 6, item 2e.  Generated by \`trajectories/study/frame_errors.sh\`; do
not edit by hand.

    cd _build_study && sh ../trajectories/study/frame_errors.sh

- **Data and models**: as [benchmark.md](benchmark.md): $d descriptor,
  $k kernel, trained on the first $NTRAIN records of the permuted pool
  ($NPOOL geometries, seed $STUDY_SEED) with sigma and lambda searched on an
  80/20 split (MLatom's grid), evaluated on the next $ntest.  The frame
  diagnostics come from \`rpr predict --health\` (mass weights).
EOF
    [ -n "$COMPARE_FRAME" ] && cat <<EOF
- **Comparison**: the same descriptor and kernel with \`--frame
  $COMPARE_FRAME\` (rpr's defaults for its thresholds).
EOF
    cat <<EOF
- **Per-geometry error**: |mu_pred - mu_ref| (e bohr) and the Frobenius
  norm of alpha_pred - alpha_ref (bohr^3, full 3x3 tensor); per bin the root
  mean square of these norms.  gap23 = (I3 - I2)/(I3 + I2), the relative gap
  between the two largest principal moments: when it vanishes the second
  and third axes are undefined and the frame turns freely about the first
  axis.  Sign reliability: the |mass-weighted skewness| that fixes each
  axis direction; the smallest of the three is shown.
- **Run**: $(provenance).

![Errors against dihedral, moment gap and sign reliability](frame-errors.png)

## Summary

Root mean square of the per-geometry error norms in groups of the test
set (mu in e bohr, alpha in bohr^3):

EOF
    printf '| group | n | mu, principal | alpha, principal |'
    [ -n "$COMPARE_FRAME" ] &&
        printf ' mu, %s | alpha, %s |' "$COMPARE_FRAME" "$COMPARE_FRAME"
    printf '\n|---|---:|---:|---:|'
    [ -n "$COMPARE_FRAME" ] && printf -- '---:|---:|'
    echo
    for g in "all:1" "anti, abs(dihedral) > 150:\$1 > 150" \
        "gauche, 30 < abs(dihedral) < 90:(\$1 > 30) * (\$1 < 90)" \
        "gap23 < 0.01:\$3 < 0.01" "gap23 > 0.05:\$3 > 0.05" \
        "sign fallback used:\$5 == 1"; do
        printf '| %s |' "${g%%:*}"
        for fr in principal $COMPARE_FRAME; do
            awk "${g#*:} { n++; m += \$6 ^ 2; a += \$7 ^ 2 }"' END {
                if (n) printf "%s %.4g | %.4g |", (f ? "" : " " n " |"),
                    sqrt(m / n), sqrt(a / n)
                else printf "%s - | - |", (f ? "" : " 0 |") }' \
                f="$([ "$fr" = principal ] && echo 0 || echo 1)" "$OUT/$fr.err"
        done
        echo
    done
    cat <<EOF

How to read it.  The two largest principal moments of DCE belong to the
axes perpendicular to the long axis of the molecule; as the dihedral opens
from cis through gauche to anti the molecule becomes a nearly symmetric
prolate top and their relative gap gap23 falls from about 0.1 to about 0.01
(column "mean gap23" of the dihedral table below).  There
the second and third axes, and with them the components the model learns,
turn with small distortions of the geometry, so the same internal
geometry maps to differently rotated targets: the errors of the principal
frame grow with the dihedral and with a shrinking gap23, most for the
polarizability (whose anisotropy, unlike the small anti dipole, is large).
The sign reliability is a weaker predictor.  The comparison frame shows
what a frame that avoids the degeneracy does with the same descriptor and
kernel.

## Against the dihedral |Cl-C-C-Cl| (degrees)

EOF
    # shellcheck disable=SC2046
    bin_table "dihedral" "$OUT/principal.phi.bin" \
        $([ -n "$COMPARE_FRAME" ] && echo "$OUT/$COMPARE_FRAME.phi.bin")
    cat <<EOF

## Against gap23

EOF
    # shellcheck disable=SC2046
    bin_table "gap23" "$OUT/principal.gap23.bin" \
        $([ -n "$COMPARE_FRAME" ] && echo "$OUT/$COMPARE_FRAME.gap23.bin")
    cat <<EOF

## Against the smallest sign reliability

EOF
    # shellcheck disable=SC2046
    bin_table "sign reliability" "$OUT/principal.sign.bin" \
        $([ -n "$COMPARE_FRAME" ] && echo "$OUT/$COMPARE_FRAME.sign.bin")
    nfb=$(awk '$5 == 1' "$OUT/principal.err" | wc -l)
    cat <<EOF

## Rank correlations (principal frame)

Spearman rank correlation over the $ntest test geometries (negative: the
error grows as the quantity shrinks):

| quantity | with mu error | with alpha error |
|---|---:|---:|
| gap23 | $(spearman "$OUT/principal.err" 3 6) | $(spearman "$OUT/principal.err" 3 7) |
| gap12 | $(spearman "$OUT/principal.err" 2 6) | $(spearman "$OUT/principal.err" 2 7) |
| smallest sign reliability | $(spearman "$OUT/principal.err" 4 6) | $(spearman "$OUT/principal.err" 4 7) |
| abs(dihedral) | $(spearman "$OUT/principal.err" 1 6) | $(spearman "$OUT/principal.err" 1 7) |

$nfb of the $ntest test geometries had an axis signed by the atom-label
fallback rule (sign reliability below sign_tol).
EOF
} | write_atomic "$RESULTS/frame-errors.md"
rm -f "$OUT/rx" "$OUT/ry"
log "wrote $RESULTS/frame-errors.md, $FIG"
