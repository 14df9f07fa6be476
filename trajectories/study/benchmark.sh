#!/bin/sh
# benchmark.sh - issue 6, item 2a: the descriptor x kernel benchmark of the
# rotate-predict-rotate paper on 1,2-dichloroethane: RE, CM, ID, RExyzCl,
# REsphCl, REdihedCl, xyzQ x gaussian, laplacian, matern; RMSE per dipole and
# polarizability component on a test set; the principal-axes frame (RPR)
# against the lab frame (--frame none).
#
#   cd _build_study && sh ../trajectories/study/benchmark.sh
#
# Writes docs/results/benchmark.md, benchmark.png and
# benchmark-hyperparameters.tsv.  Models are cached in
# $STUDY_WORK/data-*/bench/: a second run only rewrites the page.
# Settings (environment): NTRAIN (1000), NTEST (at most 1000), DESCRIPTORS,
# KERNELS, FRAMES, PROPERTIES; see common.sh for the rest.
STUDY_DIR=$(cd "$(dirname "$0")" && pwd) || exit 1
. "$STUDY_DIR/common.sh"

NTRAIN=${NTRAIN:-1000}
NTEST=${NTEST:-1000}
DESCRIPTORS=${DESCRIPTORS:-RE CM ID RExyzCl REsphCl REdihedCl xyzQ}
KERNELS=${KERNELS:-gaussian laplacian matern}
FRAMES=${FRAMES:-principal none}
PROPERTIES=${PROPERTIES:-dipole polarizability}
command -v gnuplot >/dev/null 2>&1 || die "gnuplot is needed"

prepare_data
[ "$NPOOL" -gt "$NTRAIN" ] || die "only $NPOOL geometries, need > $NTRAIN"
ntest=$((NPOOL - NTRAIN))
[ "$ntest" -gt "$NTEST" ] && ntest=$NTEST
TR=train$NTRAIN
TE=test$NTRAIN-$ntest
subset "$TR" 0 "$NTRAIN"
subset "$TE" "$NTRAIN" "$ntest"
RUNS=$DATA/bench
mkdir -p "$RUNS"

t_start=$(date +%s)
for frame in $FRAMES; do
    for prop in $PROPERTIES; do
        for d in $DESCRIPTORS; do
            for k in $KERNELS; do
                train_eval "$RUNS" "$prop-$d-$k-$frame" "$prop" "$TR" "$TE" \
                    --descriptor "$d" --kernel "$k" --frame "$frame"
            done
        done
    done
done
log "benchmark runs done in $(($(date +%s) - t_start)) s (cached runs take none)"

# ---------------------------------------------------------------- tables
# One row per descriptor and kernel; columns the RMSE rows of rpr eval.
table() { # PROPERTY FRAME ROWS...
    prop=$1 frame=$2
    shift 2
    printf '| descriptor | kernel |'
    for r in "$@"; do printf ' %s |' "$(echo "$r" | sed 's/|/\\|/g')"; done
    printf ' train s |\n|---|---|'
    for r in "$@"; do printf -- '---:|'; done
    printf -- '---:|\n'
    for d in $DESCRIPTORS; do
        for k in $KERNELS; do
            n=$prop-$d-$k-$frame
            printf '| %s | %s |' "$d" "$k"
            for r in "$@"; do
                printf ' %s |' "$(rmse_of "$RUNS/$n.eval" "$r" |
                    awk '{ printf "%.4g", $1 }')"
            done
            printf ' %s |\n' "$(awk '{ printf "%.0f", $1 }' "$RUNS/$n.time")"
        done
    done
}

# best PROPERTY FRAME ROW: "descriptor kernel rmse" of the lowest RMSE.
best() {
    for d in $DESCRIPTORS; do
        for k in $KERNELS; do
            echo "$d $k $(rmse_of "$RUNS/$1-$d-$k-$2.eval" "$3")"
        done
    done | sort -g -k 3 | head -n 1
}

# Per-component hyperparameters, with log2 values and a flag where the
# search ended at the farthest point its nested grid can reach: MLatom's
# grid spans [lo, hi] with 6 points, and each of the 2 refinements spans
# +-1 step of the level before, so it reaches lo - (s1 + s2) and hi + s1 +
# s2 with s1 = (hi - lo) / 5, s2 = 2 s1 / 5 (log2 sigma: gaussian and
# matern 2..9, laplacian 5..12; log2 lambda -35..-6).
HYPER=$RESULTS/benchmark-hyperparameters.tsv
{
    printf 'property\tdescriptor\tkernel\tframe\tcomponent\tsigma\tlambda'
    printf '\tlog2_sigma\tlog2_lambda\tedge\n'
    for frame in $FRAMES; do
        for prop in $PROPERTIES; do
            for d in $DESCRIPTORS; do
                for k in $KERNELS; do
                    hyper_of "$RUNS/$prop-$d-$k-$frame.xml" |
                        awk -v p="$prop" -v d="$d" -v k="$k" -v f="$frame" '
                        function reach(lo, hi,   s1) {
                            s1 = (hi - lo) / 5
                            rlo = lo - 1.4 * s1; rhi = hi + 1.4 * s1
                        }
                        {
                            ls = log($2) / log(2); ll = log($3) / log(2)
                            e = ""
                            if (k == "laplacian") reach(5, 12); else reach(2, 9)
                            if (ls < rlo + 0.01) e = e "sigma_low,"
                            if (ls > rhi - 0.01) e = e "sigma_high,"
                            reach(-35, -6)
                            if (ll < rlo + 0.01) e = e "lambda_low,"
                            if (ll > rhi - 0.01) e = e "lambda_high,"
                            sub(/,$/, "", e); if (e == "") e = "-"
                            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%s\n",
                                p, d, k, f, $1, $2, $3, ls, ll, e
                        }'
                done
            done
        done
    done
} | write_atomic "$HYPER"
# edge_count FRAME PATTERN: searched components of FRAME whose flag matches.
edge_count() {
    awk -F '\t' -v f="$1" -v p="$2" 'NR > 1 && $4 == f && $10 ~ p' "$HYPER" |
        wc -l
}

# ---------------------------------------------------------------- figure
# |mu| and traceless-alpha RMSE per descriptor and kernel, both frames.
FIG=$RESULTS/benchmark.png
for prop in $PROPERTIES; do
    row='|mu|'
    [ "$prop" = polarizability ] && row=traceless
    i=0
    for d in $DESCRIPTORS; do
        for k in $KERNELS; do
            i=$((i + 1))
            printf '%d %s-%s' "$i" "$d" "$(echo "$k" | cut -c1-3)"
            for frame in $FRAMES; do
                printf ' %s' "$(rmse_of "$RUNS/$prop-$d-$k-$frame.eval" "$row")"
            done
            echo
        done
    done >"$RUNS/fig-$prop.dat"
done
gnuplot <<EOF || die "gnuplot failed"
set terminal pngcairo size 1000,720 font "Sans,10"
set output "$FIG.tmp"
set multiplot layout 2,1
set logscale y
set grid ytics
set key top left
set xtics rotate by 45 right font ",8"
set lmargin 10
set xrange [0.5:$(wc -l <"$RUNS/fig-dipole.dat").5]
set title "Dipole: RMSE of the error vector |mu| (e bohr), test set of $ntest, trained on $NTRAIN"
set ylabel "RMSE |mu| / e bohr"
plot "$RUNS/fig-dipole.dat" u 1:3:xtic(2) w p pt 7 ps 1.2 lc rgb "#1f77b4" t "RPR (principal axes)", \
     "" u 1:4 w p pt 6 ps 1.2 lc rgb "#d62728" t "lab frame (--frame none)"
set title "Polarizability: RMSE of the traceless part (Frobenius norm, bohr^3)"
set ylabel "RMSE traceless alpha / bohr^3"
plot "$RUNS/fig-polarizability.dat" u 1:3:xtic(2) w p pt 7 ps 1.2 lc rgb "#1f77b4" t "RPR (principal axes)", \
     "" u 1:4 w p pt 6 ps 1.2 lc rgb "#d62728" t "lab frame (--frame none)"
unset multiplot
EOF
mv "$FIG.tmp" "$FIG"

# ---------------------------------------------------------------- page
total=$(cat "$RUNS"/*.time | awk '{ w += $1; u += $2 } END {
    printf "%.0f s wall, %.0f s user CPU", w, u }')
{
    cat <<EOF
# Descriptor x kernel benchmark: RPR against the lab frame

Issue 6, item 2a.  Generated by \`trajectories/study/benchmark.sh\`; do not
edit by hand.

    cd _build_study && sh ../trajectories/study/benchmark.sh

- **Data**: the sets (name:geometries) $(sed -n 's/^sets: *//p' "$DATA/manifest")
  pooled ($NPOOL geometries; psi4 HF/aug-cc-pVDZ, every geometry randomly oriented), the records
  permuted by a seeded Fisher-Yates shuffle (seed $STUDY_SEED, Park-Miller
  generator in awk, \`common.sh\`).  Training: the first $NTRAIN records of
  the permutation; test: the next $ntest.  The records are random draws of
  one pool of restrained xtb trajectories (dihedral windows 0-180 deg), so
  the test set is *correlated* with the training set (same trajectories).
- **Models**: \`rpr train --property P --descriptor D --kernel K --frame F\`
  with every other option at its default: sigma and lambda searched on an
  80/20 hold-out split of the training set (rpr's fixed split seed), MLatom's
  nested log2 grid (6 x 6 points, 3 levels; log2 sigma 2..9 for gaussian
  and matern, 5..12 for laplacian; log2 lambda -35..-6), each component
  searched on its own, prior = training mean, mass-weighted principal axes,
  Matern order n = 2.  Augmented descriptors use the two Cl atoms.
  \`--frame none\` learns the lab-frame components directly (the baseline).
- **Errors**: \`rpr eval\` on the test set, RMSE of each lab-frame component;
  |mu| is the RMSE of the error vector, iso that of (xx+yy+zz)/3, traceless
  that of the traceless part (Frobenius norm of the full 3x3 tensor).
  Dipoles in e bohr, polarizabilities in bohr^3.  "train s" is the wall
  time of \`rpr train\` (search and fit, one BLAS thread, niced, on a
  shared 2-core machine: compare within a column only).
- **Run**: $(provenance); total training $total over all
  $(cat "$RUNS"/*.time | wc -l) models.

![RMSE per descriptor and kernel](benchmark.png)

EOF
    for prop in $PROPERTIES; do
        if [ "$prop" = dipole ]; then
            rows='x y z |mu|'
            unit='e bohr'
            summ='|mu|'
        else
            rows='xx xy xz yy yz zz iso traceless'
            unit='bohr^3'
            summ=traceless
        fi
        for frame in $FRAMES; do
            fname="principal axes (RPR)"
            [ "$frame" = none ] && fname="lab frame (--frame none)"
            echo "## $prop, $fname: test RMSE ($unit)"
            echo
            # shellcheck disable=SC2086
            table "$prop" "$frame" $rows
            echo
            b=$(best "$prop" "$frame" "$summ")
            echo "Lowest $summ RMSE: $(echo "$b" | awk '{ printf "%s with %s, %.4g", $1, $2, $3 }') $unit."
            echo
        done
    done
    cat <<EOF
## Summary

EOF
    for prop in $PROPERTIES; do
        summ='|mu|'
        [ "$prop" = polarizability ] && summ=traceless
        for d in $DESCRIPTORS; do
            for k in $KERNELS; do
                a=$(rmse_of "$RUNS/$prop-$d-$k-principal.eval" "$summ")
                b=$(rmse_of "$RUNS/$prop-$d-$k-none.eval" "$summ")
                echo "$a $b"
            done
        done | sort -g -k 1 | awk -v p="$prop" -v s="$summ" '
            { r[NR] = $2 / $1; if ($2 < $1) worse++ }
            END {
                n = NR; for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                    if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
                med = (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
                printf "- %s, %s: the lab-frame RMSE is %.3g to %.3g times", p, s, r[1], r[n]
                printf " the RPR RMSE (median %.3g over the %d descriptor-kernel pairs);", med, n
                printf " the lab frame wins in %d of them.\n", worse + 0
            }'
    done
    cat <<EOF
- Hyperparameters of every component: [benchmark-hyperparameters.tsv](benchmark-hyperparameters.tsv)
  (sigma, lambda and their log2; column edge flags a search that ended at
  the farthest point its nested grid can reach, lo - 1.96 or hi + 1.96 in
  log2 sigma, lo - 8.12 or hi + 8.12 in log2 lambda).  Principal frame:
  $(edge_count principal '^[a-z]') of $(edge_count principal '') components at an edge,
  $(edge_count principal sigma_low) of them at the smallest sigma; lab frame:
  $(edge_count none '^[a-z]') of $(edge_count none ''), $(edge_count none sigma_high) at the largest sigma
  (a model that only learns the mean).  At the smallest sigma the optimum
  lies below MLatom's grid (log2 sigma >= 2 for gaussian and matern, >= 5
  for laplacian, minus 1.96): those models might improve with a wider
  grid, which \`rpr train\` cannot be told to use (no option for the
  bounds).

Invariant descriptors (RE, CM, ID, REdihed) cannot see the orientation,
so in the lab frame they can only learn the orientational mean of each
component (zero for the dipole and the off-diagonal polarizability
components, the isotropic value on the diagonal): an RMSE of the order of
the property's spread.  Even the isotropic part, an invariant, comes out
an order of magnitude worse in the lab frame, because each diagonal
component is learned with the orientation-dependent anisotropic part as
noise.  xyzQ and the Cl position descriptors (RExyz, REsph) carry
lab-frame coordinates when \`--frame none\`, so they learn part of the
orientation dependence; xyzQ, whose lab-frame Cartesians determine the
orientation completely, comes closest to RPR.  In the principal frame,
the descriptors that contain frame coordinates of atoms (RExyzCl,
REsphCl, xyzQ) are several times better than the purely internal ones
(RE, ID, CM, REdihedCl): a principal frame is fixed only up to the
near-degeneracy of two moments and the sign conventions of its axes, and
coordinates in that frame tell the model which choice was made (see
[frame-errors.md](frame-errors.md)).  Paper (Martinka et al., J. Chem. Phys. 161, 174104 (2024),
arXiv:2407.13468): its tables were not consulted for numbers; its abstract
and summary state that RPR gives accurate dipoles and polarizabilities of
DCE from small training sets, which the tables above reproduce
qualitatively.
EOF
} | write_atomic "$RESULTS/benchmark.md"
log "wrote $RESULTS/benchmark.md, $FIG, $HYPER"
