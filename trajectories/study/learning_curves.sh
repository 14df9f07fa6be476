#!/bin/sh
# learning_curves.sh - issue 6, item 2b: test RMSE against the number of
# training geometries for dipoles and polarizabilities (RPR and a lab-frame
# baseline) and for KREG energies and gradients (with and without gradients
# in training).
#
#   cd _build_study && sh ../trajectories/study/learning_curves.sh
#
# Writes docs/results/learning-curves.md and learning-curves.png.  Models
# are cached in $STUDY_WORK/data-*/lc/.  Training sets are nested: the
# first N records of the permuted pool (common.sh).  The test set is fixed:
# the records after the largest training set, at most 1000.
# Settings (environment):
#   LC_MODELS   descriptor:kernel:frame triples for dipole and
#               polarizability (default RE:gaussian:principal
#               RExyzCl:gaussian:principal xyzQ:gaussian:principal
#               xyzQ:gaussian:none: the KREG descriptor, the best RPR
#               models of the benchmark and the best lab-frame one)
#   LC_MAX      largest training set (default 2000 if the pool has >= 3000
#               geometries, else 1000)
#   KREG_MAX    largest KREG set trained with gradients (default 1000: its
#               system has 25 N unknowns, 25 000^2 doubles = 5 GB at N = 1000)
#   KREG        0 skips the energy models
STUDY_DIR=$(cd "$(dirname "$0")" && pwd) || exit 1
. "$STUDY_DIR/common.sh"

LC_MODELS=${LC_MODELS:-RE:gaussian:principal RExyzCl:gaussian:principal xyzQ:gaussian:principal xyzQ:gaussian:none}
KREG_MAX=${KREG_MAX:-1000}
KREG=${KREG:-1}
command -v gnuplot >/dev/null 2>&1 || die "gnuplot is needed"

prepare_data
if [ -z "${LC_MAX:-}" ]; then
    LC_MAX=1000
    [ "$NPOOL" -ge 3000 ] && LC_MAX=2000
fi
[ "$NPOOL" -gt "$LC_MAX" ] || die "only $NPOOL geometries, need > $LC_MAX"
ntest=$((NPOOL - LC_MAX))
[ "$ntest" -gt 1000 ] && ntest=1000
SIZES=""
for n in 100 200 400 700 1000 1400 2000; do
    [ "$n" -le "$LC_MAX" ] && SIZES="$SIZES $n"
done
TE=test$LC_MAX-$ntest
subset "$TE" "$LC_MAX" "$ntest"
RUNS=$DATA/lc
mkdir -p "$RUNS"

for n in $SIZES; do
    subset "train$n" 0 "$n"
done
for prop in dipole polarizability; do
    for m in $LC_MODELS; do
        d=${m%%:*} f=${m##*:} k=${m#*:}
        k=${k%:*}
        for n in $SIZES; do
            train_eval "$RUNS" "$prop-$d-$k-$f-$n" "$prop" "train$n" "$TE" \
                --descriptor "$d" --kernel "$k" --frame "$f"
        done
    done
done
if [ "$KREG" != 0 ]; then
    for n in $SIZES; do
        train_eval "$RUNS" "energy-only-$n" energy "train$n" "$TE"
    done
    for n in $SIZES; do
        [ "$n" -le "$KREG_MAX" ] || continue
        train_eval "$RUNS" "energy-grad-$n" energy "train$n" "$TE" --grad
    done
fi

# ---------------------------------------------------------------- data
# One file per series: N, RMSE of the listed rows of rpr eval, wall time.
series() { # NAME ROW...
    name=$1
    shift
    for n in $SIZES; do
        [ -f "$RUNS/$name-$n.eval" ] || continue
        printf '%s' "$n"
        for r in "$@"; do printf ' %s' "$(rmse_of "$RUNS/$name-$n.eval" "$r")"; done
        printf ' %s\n' "$(awk '{ print $1 }' "$RUNS/$name-$n.time")"
    done
}
for m in $LC_MODELS; do
    d=${m%%:*} f=${m##*:} k=${m#*:}
    k=${k%:*}
    series "dipole-$d-$k-$f" '|mu|' >"$RUNS/dipole-$d-$k-$f.lc"
    series "polarizability-$d-$k-$f" traceless iso >"$RUNS/polarizability-$d-$k-$f.lc"
done
if [ "$KREG" != 0 ]; then
    series energy-only E grad >"$RUNS/energy-only.lc"
    series energy-grad E grad >"$RUNS/energy-grad.lc"
fi

# ---------------------------------------------------------------- figure
FIG=$RESULTS/learning-curves.png
plots() { # PROPERTY COLUMN
    sep=""
    c=0
    for m in $LC_MODELS; do
        d=${m%%:*} f=${m##*:} k=${m#*:}
        k=${k%:*}
        c=$((c + 1))
        label="$d $k"
        [ "$f" = none ] && label="$label, lab frame"
        [ "$f" = principal ] && label="$label, RPR"
        printf '%s"%s" u 1:%s w lp pt 7 lw 2 lc %d t "%s"' "$sep" \
            "$RUNS/$1-$d-$k-$f.lc" "$2" "$c" "$label"
        sep=", "
    done
}
{
    cat <<EOF
set terminal pngcairo size 1000,760 font "Sans,10"
set output "$FIG.tmp"
set multiplot layout 2,2
set logscale xy
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set xlabel "training geometries N"
set key bottom left font ",9"
set xrange [80:$((LC_MAX * 5 / 4))]
set title "Dipole |mu|, test RMSE (e bohr)"
plot $(plots dipole 2)
set title "Polarizability traceless part, test RMSE (bohr^3)"
plot $(plots polarizability 2)
EOF
    if [ "$KREG" != 0 ]; then
        cat <<EOF
set format y "10^{%L}"
set title "KREG energy, test RMSE (hartree); RE, gaussian"
plot "$RUNS/energy-only.lc" u 1:2 w lp pt 7 lw 2 lc 1 t "energies only", \
     "$RUNS/energy-grad.lc" u 1:2 w lp pt 5 lw 2 lc 2 t "energies + gradients"
set title "KREG gradient, test RMSE (hartree/angstrom)"
plot "$RUNS/energy-only.lc" u 1:3 w lp pt 7 lw 2 lc 1 t "energies only", \
     "$RUNS/energy-grad.lc" u 1:3 w lp pt 5 lw 2 lc 2 t "energies + gradients"
EOF
    else
        cat <<EOF
set title "Polarizability isotropic part, test RMSE (bohr^3)"
plot $(plots polarizability 3)
EOF
    fi
    echo "unset multiplot"
} | gnuplot || die "gnuplot failed"
mv "$FIG.tmp" "$FIG"

# ---------------------------------------------------------------- page
lc_table() { # FILE HEADER...
    _lt_f=$1
    shift
    printf '| N |'
    for h in "$@"; do printf ' %s |' "$h"; done
    printf '\n|---:|'
    for h in "$@"; do printf -- '---:|'; done
    echo
    awk -v nc="$#" '{
        printf "| %d |", $1
        for (i = 2; i <= nc; i++) printf " %.4g |", $i
        printf " %.0f |\n", $(nc + 1)
    }' "$_lt_f"
}
{
    cat <<EOF
# Learning curves

Issue 6, item 2b.  Generated by \`trajectories/study/learning_curves.sh\`; do
not edit by hand.

    cd _build_study && sh ../trajectories/study/learning_curves.sh

- **Data**: the sets (name:geometries) $(sed -n 's/^sets: *//p' "$DATA/manifest")
  pooled ($NPOOL geometries), permuted with seed $STUDY_SEED (\`common.sh\`).  Training sets are
  nested: the first N records of the permutation, N =$SIZES.  Test set (fixed
  for every N): the $ntest records after the first $LC_MAX.  It is
  correlated with the training sets (same xtb trajectories; see
  [benchmark.md](benchmark.md)).
- **Models**: \`rpr train\` defaults: sigma and lambda searched on an 80/20
  hold-out split of each training set, MLatom's nested log2 grid (6 x 6
  points, 3 levels), per component, prior = training mean.  Dipole and
  polarizability: the descriptor, kernel and frame named in each series.
  Energies: KREG (RE descriptor, gaussian kernel, equilibrium = lowest
  training energy), trained on energies only or on energies and gradients
  (\`--grad\`; then the search trains on a random subset of 100
  geometries, validates on the rest of the training set up to 1000, and
  the final fit uses all N; docs/models.md, Energy models).  With gradients the linear
  system has N (1 + 3 x 8) = 25 N unknowns: at N = 1000 a symmetric
  25 000 x 25 000 matrix (5 GB in full, 2.5 GB for one triangle) and one
  Cholesky factorisation of minutes, so the gradient curve stops at
  N = $KREG_MAX.
- **Errors**: \`rpr eval\` on the test set: |mu| is the RMSE of the error
  vector (e bohr), traceless the RMSE of the Frobenius norm of the error of
  the traceless part, iso that of (xx+yy+zz)/3 (bohr^3); energies in
  hartree, gradients dE/dR in hartree/angstrom (RMSE over all components).
  "train s" is the wall time of \`rpr train\` (one BLAS thread, niced, on a
  shared 2-core machine).
- **Run**: $(provenance).

![Learning curves](learning-curves.png)

EOF
    for m in $LC_MODELS; do
        d=${m%%:*} f=${m##*:} k=${m#*:}
        k=${k%:*}
        fn="RPR, principal axes"
        [ "$f" = none ] && fn="lab frame (--frame none)"
        [ "$f" != none ] && [ "$f" != principal ] && fn="frame $f"
        echo "## $d, $k, $fn"
        echo
        echo "Dipole (e bohr):"
        echo
        lc_table "$RUNS/dipole-$d-$k-$f.lc" '\|mu\| RMSE' 'train s'
        echo
        echo "Polarizability (bohr^3):"
        echo
        lc_table "$RUNS/polarizability-$d-$k-$f.lc" 'traceless RMSE' \
            'iso RMSE' 'train s'
        echo
    done
    if [ "$KREG" != 0 ]; then
        echo "## KREG energies (RE, gaussian)"
        echo
        echo "Trained on energies only:"
        echo
        lc_table "$RUNS/energy-only.lc" 'E RMSE (hartree)' \
            'gradient RMSE (hartree/angstrom)' 'train s'
        echo
        echo "Trained on energies and gradients:"
        echo
        lc_table "$RUNS/energy-grad.lc" 'E RMSE (hartree)' \
            'gradient RMSE (hartree/angstrom)' 'train s'
        echo
        echo "Hyperparameters chosen by the search (with gradients it trains"
        echo "on a random subset of 100 geometries and validates on the other"
        echo "N - 100, so its choice can change with N; where the error rises"
        echo "with N, compare them).  Until commit 6d3d113 it validated on 25"
        echo "geometries only, and at N = 1000 chose sigma 4, lambda 2.8e-7, for"
        echo "a test energy RMSE of 1.76e-4 hartree (gradient 8.8e-4), 4x that"
        echo "of N = 700:"
        echo
        echo "| N | sigma, energies only | lambda | sigma, with gradients | lambda |"
        echo "|---:|---:|---:|---:|---:|"
        for n in $SIZES; do
            [ -f "$RUNS/energy-only-$n.xml" ] || continue
            printf '| %s | %s | %s |\n' "$n" \
                "$(hyper_of "$RUNS/energy-only-$n.xml" | awk '$1 == "E" { printf "%.4g | %.3g", $2, $3 }')" \
                "$([ -f "$RUNS/energy-grad-$n.xml" ] && hyper_of "$RUNS/energy-grad-$n.xml" |
                    awk '$1 == "E" { printf "%.4g | %.3g", $2, $3 }' || echo "- | -")"
        done
        echo
        echo "Peak memory of the largest fit with gradients (N = $(tail -n 1 "$RUNS/energy-grad.lc" | awk '{ print $1 }')):" \
            "$(awk '{ printf "%.1f GB", $4 / 1048576 }' "$RUNS/energy-grad-$(tail -n 1 "$RUNS/energy-grad.lc" | awk '{ print $1 }').time")" \
            "(maximum resident set of \`rpr train\`)."
        echo
    fi
    # Slopes of log RMSE against log N between the first and last N.
    echo "## Slopes"
    echo
    echo "Least-squares slope of log RMSE against log N over all N of the"
    echo "first quantity of each series (|mu|, traceless alpha, energy):"
    echo
    for lcf in "$RUNS"/*.lc; do
        b=$(basename "$lcf" .lc)
        awk -v b="$b" '{ x = log($1); y = log($2); sx += x; sy += y; sxx += x * x
            sxy += x * y; n++ }
            END { if (n > 1) printf "- %s: %.2f\n", b,
                (n * sxy - sx * sy) / (n * sxx - sx * sx) }' "$lcf"
    done
} | write_atomic "$RESULTS/learning-curves.md"
log "wrote $RESULTS/learning-curves.md, $FIG"
