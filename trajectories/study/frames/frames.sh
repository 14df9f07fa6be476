#!/bin/sh
# frames.sh - issue 7, item 6: the evidence for rpr's frames on the
# 1,2-dichloroethane data.  Principal axes (the paper's frame), the O(3)
# Kabsch frame and the blend, for dipoles and polarizabilities: held-out
# RMSE per component, error against the Cl-C-C-Cl dihedral and against
# gap23, and continuity (max/median per-step change of the prediction)
# along two torsion scans through the I2 = I3 crossing near 131.7 deg.
#
#   cd _build_kabsch2 && sh ../trajectories/study/frames/frames.sh
#
# Writes docs/results/frames.md, frames-errors.png and
# frames-continuity.png.  Models, predictions and scans are cached in
# $STUDY_WORK/data-*/frames/ (a second run only redraws).  Settings
# (environment) as in ../common.sh, plus NTRAIN (1000: the first NTRAIN
# records of the permuted pool train, the rest test) and NSCAN (1200 frames
# per torsion scan).
FRAMES_DIR=$(cd "$(dirname "$0")" && pwd) || exit 1
STUDY_DIR=$(dirname "$FRAMES_DIR")
. "$STUDY_DIR/common.sh"

NTRAIN=${NTRAIN:-1000}
NSCAN=${NSCAN:-1200}
command -v gnuplot >/dev/null 2>&1 || die "gnuplot is needed"

prepare_data
[ "$NPOOL" -gt "$NTRAIN" ] || die "only $NPOOL geometries, need > $NTRAIN"
ntest=$((NPOOL - NTRAIN))
TR=train$NTRAIN
TE=test$NTRAIN-$ntest
subset "$TR" 0 "$NTRAIN"
subset "$TE" "$NTRAIN" "$ntest"
OUT=$DATA/frames
mkdir -p "$OUT"

# ---------------------------------------------------------------- scans
# Torsion 180 -> 60 (through the crossing) and 60 -> 300 (g+ -> anti -> g-,
# through both crossings), tumbling two turns, smooth 0.03 angstrom
# distortions (torsion_scan.awk); and the ideal anti conformer, the
# alternative Kabsch reference.
[ -f "$OUT/scan-a.xyz" ] ||
    awk -v t0=180 -v t1=60 -v n="$NSCAN" -f "$FRAMES_DIR/torsion_scan.awk" \
        >"$OUT/scan-a.xyz" || die "scan a"
[ -f "$OUT/scan-b.xyz" ] ||
    awk -v t0=60 -v t1=300 -v n="$NSCAN" -f "$FRAMES_DIR/torsion_scan.awk" \
        >"$OUT/scan-b.xyz" || die "scan b"
[ -f "$OUT/anti.xyz" ] ||
    awk -v n=1 -v amp=0 -f "$FRAMES_DIR/torsion_scan.awk" >"$OUT/anti.xyz" ||
    die "anti"
# Five short scans across anti (150 -> 210 deg, 600 frames, distortions of
# up to 0.05 angstrom with different phases): MD at 300 K crosses anti all
# the time.
ANTI_SEEDS="11 22 33 44 55"
for seed in $ANTI_SEEDS; do
    [ -f "$OUT/anti-$seed.xyz" ] ||
        awk -v t0=150 -v t1=210 -v n=600 -v seed="$seed" -v amp=0.05 \
            -f "$FRAMES_DIR/torsion_scan.awk" >"$OUT/anti-$seed.xyz" ||
        die "anti scan $seed"
    sed -n 's/.*torsion=//p' "$OUT/anti-$seed.xyz" >"$OUT/anti-$seed.torsion"
done
for s in a b; do
    sed -n 's/.*torsion=//p' "$OUT/scan-$s.xyz" >"$OUT/scan-$s.torsion"
done
# The first training geometry: the Kabsch reference before issue 7.
head -n "$(($(head -n 1 "$DATA/$TR.xyz") + 2))" "$DATA/$TR.xyz" >"$OUT/first.xyz"

# ---------------------------------------------------------------- models
# name:frame:extra options (commas separate options, = their values).
# kabsch and blend: rpr's default Kabsch references (up to 3, chosen);
# -N: at most N; --eq with --kabsch-refs 1: that geometry alone.
MODELS="principal:principal: kabsch:kabsch: kabsch-2:kabsch:--kabsch-refs=2 kabsch-1:kabsch:--kabsch-refs=1 blend:blend: blend-1:blend:--kabsch-refs=1 kabsch-anti:kabsch:--eq=$OUT/anti.xyz,--kabsch-refs=1 blend-anti:blend:--eq=$OUT/anti.xyz,--kabsch-refs=1 kabsch-first:kabsch:--eq=$OUT/first.xyz,--kabsch-refs=1 pa-xyz:principal:--descriptor=RExyzCl pa-xyz-sa:principal:--descriptor=RExyzCl,--sign-average"
for prop in dipole polarizability; do
    for spec in $MODELS; do
        name=${spec%%:*} rest=${spec#*:}
        fr=${rest%%:*} extra=$(echo "${rest#*:}" | tr ',=' '  ')
        # shellcheck disable=SC2086
        train_eval "$OUT" "$prop-$name" "$prop" "$TR" "$TE" \
            --descriptor RE --kernel gaussian --frame "$fr" $extra
        predict "$OUT" "$prop-$name" "$TE"
        for s in scan-a scan-b $(for seed in $ANTI_SEEDS; do
            echo "anti-$seed"; done); do
            [ -f "$OUT/$prop-$name.$s.pred" ] && continue
            "$RPR" predict --model "$OUT/$prop-$name.xml" \
                --xyz "$OUT/$s.xyz" --out "$OUT/$prop-$name.$s.tmp" \
                --health "$OUT/$prop-$name.$s.health" ||
                die "predict $s for $prop-$name"
            mv "$OUT/$prop-$name.$s.tmp" "$OUT/$prop-$name.$s.pred"
        done
    done
done
NAMES="principal kabsch kabsch-2 kabsch-1 blend blend-1 kabsch-anti blend-anti kabsch-first pa-xyz pa-xyz-sa"
# Rows of the tables, in order.
ROWS="principal kabsch kabsch-2 kabsch-1 blend blend-1 sym kabsch-anti blend-anti kabsch-first pa-xyz pa-xyz-sa"

# The blend with frames.md 4.6's symmetric weights (w_PA not multiplied by
# 1 - w_K), computed from the principal and one-reference Kabsch
# predictions: the one-reference blend's
# sub-models are trained exactly like those two models.  Weights from the
# blend's health (columns: 6 gap23, 5 gap12, 7-9 sign reliabilities, 12
# Kabsch margin) and rpr's default ramps, as model.c computes them.
symblend() { # PROP SET (TE or scan-a, scan-b) -> $OUT/PROP-sym.SET.pred
    _sb_ref=$("$RPR" info "$OUT/$1-blend-1.xml" |
        sed -n 's/.*frame kabsch (.*margin \([0-9.eE+-]*\)).*/\1/p')
    # The first 15 health columns (later ones per Kabsch reference).
    awk '!/^#/ { for (i = 1; i <= 15; i++) printf "%s%s", $i, i < 15 ? " " : "\n" }' \
        "$OUT/$1-blend-1.$2.health" |
        paste -d ' ' - "$OUT/$1-principal.$2.pred" "$OUT/$1-kabsch-1.$2.pred" |
        awk -v ref="$_sb_ref" '
        function S(t) { if (t <= 0) return 0; if (t >= 1) return 1
                        return t * t * t * (t * (6 * t - 15) + 10) }
        { g = $5 < $6 ? $5 : $6; r = $7; if ($8 < r) r = $8; if ($9 < r) r = $9
          tg = (g - 1e-3) / (2e-2 - 1e-3); ts = (r - 1e-3) / (1e-2 - 1e-3)
          tk = ($12 / ref - 0.05) / (0.25 - 0.05)
          wp = S(tg) * S(ts); wk = S(tk)
          if (!(wp + wk > 0)) { if ((tg < ts ? tg : ts) >= tk) wp = 1; else wk = 1 }
          nc = (NF - 15) / 2
          for (c = 1; c <= nc; c++)
              printf "%s%.10g", (c > 1 ? " " : ""),
                  (wp * $(15 + c) + wk * $(15 + nc + c)) / (wp + wk)
          printf "\n" }' >"$OUT/$1-sym.$2.pred"
}
for prop in dipole polarizability; do
    for set in "$TE" scan-a scan-b $(for seed in $ANTI_SEEDS; do
        echo "anti-$seed"; done); do
        symblend "$prop" "$set"
    done
done

# ---------------------------------------------------------------- numbers
# Per-step change of a prediction file (Euclidean for mu, Frobenius for
# alpha, off-diagonals twice): "step change" lines.
steps() { step_changes "$1"; }
# max/median of the per-step change, and the torsion of the largest.
continuity() { # PRED TORSION
    steps "$1" >"$OUT/steps.tmp"
    _ct_at=$(sort -g -k 2 "$OUT/steps.tmp" | tail -n 1 | awk '{ print $1 }')
    _ct_tor=$(sed -n "${_ct_at}p" "$2")
    awk '{ print $2 }' "$OUT/steps.tmp" | sort -g | awk -v t="$_ct_tor" '
        { c[NR] = $1 }
        END { m = NR % 2 ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2
              printf "%.3g (at %.1f deg)", c[NR] / m, t }'
}
# Held-out RMSE of a prediction file against labels: "comp1 ... all".
rmse() { # PRED LABELS
    paste -d ' ' "$1" "$2" | awk '{ nc = NF / 2
        for (c = 1; c <= nc; c++) { e = $c - $(nc + c); s[c] += e * e; t += e * e }
        n++ }
        END { for (c = 1; c <= nc; c++) printf "%.4g ", sqrt(s[c] / n)
              printf "%.4g", sqrt(t / (n * nc)) }'
}
# Per-geometry error norms against |dihedral|, and gap23, for the plots:
# "phi gap23 err_mu err_alpha".
awk '!/^#/ { print $6 }' "$OUT/dipole-principal.$TE.health" >"$OUT/gap23.tmp"
for name in $NAMES sym; do
    paste -d ' ' "$DATA/$TE.dihedrals" "$OUT/gap23.tmp" \
        "$OUT/dipole-$name.$TE.pred" "$DATA/$TE.dipoles" \
        "$OUT/polarizability-$name.$TE.pred" "$DATA/$TE.pol" |
        awk '{ phi = $1 < 0 ? -$1 : $1
            dm = sqrt(($3 - $6) ^ 2 + ($4 - $7) ^ 2 + ($5 - $8) ^ 2)
            for (i = 0; i < 6; i++) e[i] = $(9 + i) - $(15 + i)
            da = e[0] ^ 2 + e[3] ^ 2 + e[5] ^ 2
            da = sqrt(da + 2 * (e[1] ^ 2 + e[2] ^ 2 + e[4] ^ 2))
            printf "%.3f %.6g %.6g %.6g\n", phi, $2, dm, da }' \
        >"$OUT/$name.err"
    # RMS per 15-degree bin of |dihedral|.
    awk '{ b = int($1 / 15); if (b > 11) b = 11; n[b]++; m[b] += $3 ^ 2
           a[b] += $4 ^ 2 }
        END { for (b = 0; b < 12; b++) if (n[b])
            printf "%g %d %.5g %.5g\n", 15 * b + 7.5, n[b], sqrt(m[b] / n[b]),
                sqrt(a[b] / n[b]) }' "$OUT/$name.err" >"$OUT/$name.phi.bin"
done
rm -f "$OUT/gap23.tmp" "$OUT/steps.tmp"

# ---------------------------------------------------------------- figures
FIG1=$RESULTS/frames-errors.png
gnuplot <<EOF || die "gnuplot failed"
set terminal pngcairo size 1100,760 font "Sans,9"
set output "$FIG1.tmp"
set multiplot layout 2,2 title "DCE, RE + Gaussian, $NTRAIN training / $ntest test geometries: error of each test geometry"
set logscale y
set grid lc rgb "#dddddd"
set key top left font ",8"
set xrange [0:180]
set xtics 30
set xlabel "|Cl-C-C-Cl dihedral| / deg"
set ylabel "|mu error| / e bohr"
plot "$OUT/principal.err" u 1:3 w p pt 7 ps 0.3 lc rgb "#9ecae1" notitle, \
     "$OUT/kabsch.err" u 1:3 w p pt 7 ps 0.3 lc rgb "#fdae6b" notitle, \
     "$OUT/principal.phi.bin" u 1:3 w lp pt 7 lw 2 lc rgb "#1f77b4" t "principal (RMS per 15 deg)", \
     "$OUT/blend.phi.bin" u 1:3 w lp pt 9 lw 2 lc rgb "#31a354" t "blend", \
     "$OUT/kabsch.phi.bin" u 1:3 w lp pt 5 lw 2 lc rgb "#e6550d" t "kabsch (default, 3 references)", \
     "$OUT/kabsch-1.phi.bin" u 1:3 w lp pt 4 lw 1 lc rgb "#a63603" t "kabsch, 1 reference", \
     "$OUT/sym.phi.bin" u 1:3 w lp pt 4 lw 1 dt 2 lc rgb "#756bb1" t "blend, symmetric weights", \
     "$OUT/kabsch-anti.phi.bin" u 1:3 w lp pt 6 lw 1 dt 3 lc rgb "#636363" t "kabsch, anti reference"
set ylabel "||alpha error||_F / bohr^3"
plot "$OUT/principal.err" u 1:4 w p pt 7 ps 0.3 lc rgb "#9ecae1" notitle, \
     "$OUT/kabsch.err" u 1:4 w p pt 7 ps 0.3 lc rgb "#fdae6b" notitle, \
     "$OUT/principal.phi.bin" u 1:4 w lp pt 7 lw 2 lc rgb "#1f77b4" t "principal", \
     "$OUT/blend.phi.bin" u 1:4 w lp pt 9 lw 2 lc rgb "#31a354" t "blend", \
     "$OUT/kabsch.phi.bin" u 1:4 w lp pt 5 lw 2 lc rgb "#e6550d" t "kabsch (default, 3 references)", \
     "$OUT/kabsch-1.phi.bin" u 1:4 w lp pt 4 lw 1 lc rgb "#a63603" t "kabsch, 1 reference", \
     "$OUT/sym.phi.bin" u 1:4 w lp pt 4 lw 1 dt 2 lc rgb "#756bb1" t "blend, symmetric weights", \
     "$OUT/kabsch-anti.phi.bin" u 1:4 w lp pt 6 lw 1 dt 3 lc rgb "#636363" t "kabsch, anti reference"
set logscale x
set xrange [1e-4:0.2]
set xtics auto
set format x "10^{%L}"
set xlabel "gap23 = (I3 - I2)/(I3 + I2)"
set ylabel "|mu error| / e bohr"
plot "$OUT/principal.err" u 2:3 w p pt 7 ps 0.4 lc rgb "#1f77b4" t "principal", \
     "$OUT/blend.err" u 2:3 w p pt 6 ps 0.6 lc rgb "#31a354" t "blend", \
     "$OUT/kabsch.err" u 2:3 w p pt 7 ps 0.4 lc rgb "#e6550d" t "kabsch (default)"
set ylabel "||alpha error||_F / bohr^3"
plot "$OUT/principal.err" u 2:4 w p pt 7 ps 0.4 lc rgb "#1f77b4" t "principal", \
     "$OUT/blend.err" u 2:4 w p pt 6 ps 0.6 lc rgb "#31a354" t "blend", \
     "$OUT/kabsch.err" u 2:4 w p pt 7 ps 0.4 lc rgb "#e6550d" t "kabsch (default)"
unset multiplot
EOF
mv "$FIG1.tmp" "$FIG1"

# Torsion of each step (record k >= 2) for the continuity plot.
for prop in dipole polarizability; do
    for name in $NAMES sym; do
        steps "$OUT/$prop-$name.scan-b.pred" >"$OUT/steps.tmp"
        awk 'NR == FNR { t[FNR] = $1; next } { print t[$1], $2 }' \
            "$OUT/scan-b.torsion" "$OUT/steps.tmp" \
            >"$OUT/$prop-$name.scan-b.steps"
    done
done
rm -f "$OUT/steps.tmp"
FIG2=$RESULTS/frames-continuity.png
gnuplot <<EOF || die "gnuplot failed"
set terminal pngcairo size 1100,700 font "Sans,9"
set output "$FIG2.tmp"
set multiplot layout 2,1 title "Torsion scan g+ -> anti -> g- (60 -> 300 deg, $NSCAN frames, tumbling, smooth distortions): change of the prediction per frame"
set logscale y
set grid lc rgb "#dddddd"
set key outside right font ",8"
set xrange [60:300]
set xtics 30
set arrow from 131.7, graph 0 to 131.7, graph 1 nohead dt 2 lc rgb "#999999"
set arrow from 228.3, graph 0 to 228.3, graph 1 nohead dt 2 lc rgb "#999999"
# The data hold dihedrals -30 .. 180 deg (and -180 .. -150): beyond 210 deg
# of this scan every model extrapolates.
set object 1 rect from 210, graph 0 to 300, graph 1 fc rgb "#eeeeee" fs solid noborder behind
set label 1 "outside the training data" at 255, graph 0.93 center font ",8"
set ylabel "|mu_k - mu_(k-1)| / e bohr"
plot "$OUT/dipole-principal.scan-b.steps" w l lw 1 lc rgb "#1f77b4" t "principal", \
     "$OUT/dipole-sym.scan-b.steps" w l lw 1 dt 2 lc rgb "#756bb1" t "blend, symmetric", \
     "$OUT/dipole-blend.scan-b.steps" w l lw 2 lc rgb "#31a354" t "blend", \
     "$OUT/dipole-kabsch-1.scan-b.steps" w l lw 1 lc rgb "#a63603" t "kabsch, 1 reference", \
     "$OUT/dipole-kabsch.scan-b.steps" w l lw 2 lc rgb "#e6550d" t "kabsch (default, 3 references)"
set xlabel "Cl-C-C-Cl torsion / deg (dashed: I2 = I3)"
set ylabel "||alpha_k - alpha_(k-1)||_F / bohr^3"
plot "$OUT/polarizability-principal.scan-b.steps" w l lw 1 lc rgb "#1f77b4" t "principal", \
     "$OUT/polarizability-sym.scan-b.steps" w l lw 1 dt 2 lc rgb "#756bb1" t "blend, symmetric", \
     "$OUT/polarizability-blend.scan-b.steps" w l lw 2 lc rgb "#31a354" t "blend", \
     "$OUT/polarizability-kabsch-1.scan-b.steps" w l lw 1 lc rgb "#a63603" t "kabsch, 1 reference", \
     "$OUT/polarizability-kabsch.scan-b.steps" w l lw 2 lc rgb "#e6550d" t "kabsch (default, 3 references)"
unset multiplot
EOF
mv "$FIG2.tmp" "$FIG2"

# ---------------------------------------------------------------- page
label() {
    case $1 in
    principal) echo "principal (the paper's)" ;;
    kabsch) echo "**kabsch (rpr's default: 3 references)**" ;;
    kabsch-2) echo "kabsch, at most 2 references" ;;
    kabsch-1) echo "kabsch, 1 reference (the default before)" ;;
    blend) echo "blend (principal + 3 references)" ;;
    blend-1) echo "blend, 1 reference" ;;
    sym) echo "blend, 1 reference, symmetric weights (frames.md 4.6)" ;;
    kabsch-anti) echo "kabsch, anti reference" ;;
    kabsch-first) echo "kabsch, first training geometry as reference" ;;
    pa-xyz) echo "principal, RExyzCl descriptor" ;;
    pa-xyz-sa) echo "principal, RExyzCl, sign-averaged" ;;
    blend-anti) echo "blend, anti reference" ;;
    esac
}
first_phi=$(head -n 1 "$DATA/$TR.dihedrals")
# The default Kabsch references as rpr_train chose them (rpr info: their
# 1-based index among the training geometries, their own margin), with
# their Cl-C-C-Cl dihedrals: "r index dihedral margin" lines.
refs_of() { # MODEL
    "$RPR" info "$1" |
        sed -n 's/.*(reference \([0-9]*\): training geometry \([0-9]*\), margin \([0-9.eE+-]*\)).*/\1 \2 \3/p' |
        while read -r _r_r _r_i _r_m; do
            echo "$_r_r $_r_i $(sed -n "${_r_i}p" "$DATA/$TR.dihedrals") $_r_m"
        done
}
refs_of "$OUT/dipole-kabsch.xml" >"$OUT/refs.dipole"
refs_of "$OUT/polarizability-kabsch.xml" >"$OUT/refs.polarizability"
ref_phi=$(awk 'NR == 1 { printf "%.1f", $3 }' "$OUT/refs.dipole")
# Torsion intervals of the g+ -> anti -> g- scan where a reference's
# weight is 0 (health column 17 + r: its seam and the ramp around it).
zero_spans() { # HEALTH r
    awk '!/^#/' "$1" | paste -d ' ' - "$OUT/scan-b.torsion" |
        awk -v c=$((17 + $2)) '{ t = $NF; z = $c == 0 }
        z && !on { lo = t; on = 1 }
        !z && on { printf "%s%.0f-%.0f", n++ ? ", " : "", lo, p; on = 0 }
        { p = t }
        END { if (on) printf "%s%.0f-%.0f", n++ ? ", " : "", lo, p
              if (!n) printf "none" }'
}
{
    cat <<EOF
# Frames: principal axes, Kabsch and the blend on 1,2-dichloroethane

Issue 7, item 6.  Generated by \`trajectories/study/frames/frames.sh\`; do
not edit by hand.

    cd _build_kabsch2 && sh ../trajectories/study/frames/frames.sh

- **Data**: trajectories/dce-hf-adz (psi4 HF/aug-cc-pVDZ), pooled and
  permuted as by the other study pages (seed $STUDY_SEED, $NPOOL
  geometries); the first $NTRAIN records train, the other $ntest are held
  out.
- **Models**: RE descriptor, Gaussian kernel, sigma and lambda searched per
  component on an 80/20 split of the training set (MLatom's grid); one
  model per frame and per Kabsch reference; Kabsch fits with equal
  weights (rpr's default).  The first Kabsch reference is by default the
  training geometry whose smallest margin sigma3/sigma1 over the training
  set is largest (here at a Cl-C-C-Cl dihedral of $ref_phi deg); rpr
  adds up to two more, chosen among the training geometries that keep
  their seam off the training data so that the seams fall apart
  (docs/models.md, Frames; table below); "1 reference" rows
  (\`--kabsch-refs 1\`) have the first alone, rpr's default before.
  "anti reference" models get the ideal anti conformer instead, "first
  training geometry" models the first training geometry (at $first_phi
  deg; rpr's default before issue 7), both through \`--eq\` with
  \`--kabsch-refs 1\`.  The last two rows use the RExyzCl descriptor (RE
  plus the frame coordinates of the two Cl atoms), without and with
  \`--sign-average\`.  The one-reference blend's sub-models are trained
  exactly as the principal and one-reference Kabsch models, so the blend
  with frames.md 4.6's symmetric weights is computed from their
  predictions (script: \`symblend\`).
- **Continuity**: two torsion scans made by torsion_scan.awk ($NSCAN frames
  each, the molecule tumbling two turns and distorted smoothly by up to
  0.03 angstrom): 180 -> 60 deg and 60 -> 300 deg (g+ -> anti -> g-),
  which cross the I2 = I3 crossing at 131.7 (and 228.3) deg.  The number is
  max/median of the per-frame change of the prediction (Euclidean for mu,
  Frobenius for alpha); frames.md T3 asks for less than 20.  The torsion of
  the largest change is given.
- $(provenance)

## Held-out RMSE

Dipole, e bohr:

| frame | x | y | z | all |
|---|---:|---:|---:|---:|
EOF
    for name in $ROWS; do
        printf '| %s | %s |\n' "$(label $name)" \
            "$(rmse "$OUT/dipole-$name.$TE.pred" "$DATA/$TE.dipoles" |
                sed 's/ / | /g')"
    done
    cat <<EOF

Polarizability, bohr^3:

| frame | xx | xy | xz | yy | yz | zz | all |
|---|---:|---:|---:|---:|---:|---:|---:|
EOF
    for name in $ROWS; do
        printf '| %s | %s |\n' "$(label $name)" \
            "$(rmse "$OUT/polarizability-$name.$TE.pred" "$DATA/$TE.pol" |
                sed 's/ / | /g')"
    done
    cat <<EOF

## Continuity along the torsion scans

max/median per-frame change (torsion of the largest change):

| frame | mu, 180 -> 60 | mu, 60 -> 300 | alpha, 180 -> 60 | alpha, 60 -> 300 |
|---|---:|---:|---:|---:|
EOF
    for name in $ROWS; do
        printf '| %s |' "$(label $name)"
        for prop in dipole polarizability; do
            for s in a b; do
                printf ' %s |' "$(continuity "$OUT/$prop-$name.scan-$s.pred" \
                    "$OUT/scan-$s.torsion")"
            done
        done
        echo
    done
    cat <<EOF

Across anti: max/median per-frame change on five scans 150 -> 210 deg
(600 frames each, distortions of up to 0.05 angstrom with different
phases), median and largest over the five:

| frame | mu, median | mu, largest | alpha, median | alpha, largest |
|---|---:|---:|---:|---:|
EOF
    for name in $ROWS; do
        printf '| %s |' "$(label $name)"
        for prop in dipole polarizability; do
            for seed in $ANTI_SEEDS; do
                continuity "$OUT/$prop-$name.anti-$seed.pred" \
                    "$OUT/anti-$seed.torsion" | awk '{ print $1 }'
            done | sort -g | awk '{ c[NR] = $1 }
                END { printf " %s | %s |", c[3], c[5] }'
        done
        echo
    done
    cat <<EOF

## The Kabsch references of the default models

Each reference: the training geometry (1-based index in the permuted
training set), its Cl-C-C-Cl dihedral, its own margin sigma3/sigma1, and
the torsions of the g+ -> anti -> g- scan where its weight is 0 (its seam
and the ramp around it; elsewhere its fit is used).

| property | reference | training geometry | dihedral / deg | own margin | weight 0 on the scan at / deg |
|---|---:|---:|---:|---:|---|
EOF
    for prop in dipole polarizability; do
        while read -r r i phi mg; do
            printf '| %s | %s | %s | %.1f | %.4g | %s |\n' "$prop" "$r" "$i" \
                "$phi" "$mg" "$(zero_spans "$OUT/$prop-kabsch.scan-b.health" "$r")"
        done <"$OUT/refs.$prop"
    done
    # Every reference at weight 1 (normalised 1/nref) on held-out data?
    awk '!/^#/ { n++; k = $16; full = 1
                 for (r = 1; r <= k; r++)
                     if ($(17 + r) < 1 / k - 1e-6 || $(17 + r) > 1 / k + 1e-6) full = 0
                 if (!full) part++ }
        END { printf "\nDefault Kabsch models on the %d held-out geometries: " \
              "some reference weighted below the others at %d (dipole).\n",
              n, part + 0 }' "$OUT/dipole-kabsch.$TE.health"
    # Frame health of the blend on the held-out geometries.
    awk '!/^#/ { n++; if ($15 != 0) fb++; if ($14 < 1) part++
                 if ($14 == 0) k0++ }
        END { printf "\nBlend on the %d held-out geometries: Kabsch weight " \
              "below 1 for %d, 0 for %d; blend fallbacks (both weights 0) " \
              "%d.\n", n, part, k0, fb + 0 }' \
        "$OUT/dipole-blend.$TE.health"
    cat <<EOF

![Error against the dihedral and against gap23](frames-errors.png)

![Per-frame change along the g+ -> anti -> g- scan](frames-continuity.png)

## Reading

EOF
    cat "$FRAMES_DIR/reading.md"
} | write_atomic "$RESULTS/frames.md"
log "wrote $RESULTS/frames.md, $FIG1, $FIG2"
