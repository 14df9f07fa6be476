#!/bin/sh
# permutations.sh - the g- mirror check of docs/results/permutations.md:
# how models trained on one gauche (g+) of 1,2-dichloroethane do in the
# other (g-), which is the mirror image of g+ with the hydrogen labels
# H5 <-> H6, H7 <-> H8 swapped, with and without rpr train --permute
# (relabelled copies trained on) and --relabel (relabelling blend at
# prediction time).
#
#   cd _build_study && sh ../trajectories/study/permutations.sh
#
# Data and split: run.sh's, not the study pool: trajectories/dce-hf-adz
# (1634 geometries), the first 1000 train, the other 634 are held out; the
# KREG potentials train on the first KREG_N (300) with gradients.  The
# held-out set is evaluated as it is and relabelled (atoms 5 <-> 6 and
# 7 <-> 8 swapped in the XYZ and gradient files; the labels do not change,
# as no atom moved): the relabelled set is a held-out set of the g- region.
# Continuity: the torsion scans of results/frames.md through anti (60 ->
# 300 deg) and through syn (-60 -> 60 deg), max/median per-frame change of
# the prediction (near 2 for a smooth prediction; a seam gives tens).
# Cached in $STUDY_WORK/perm-shipped/ (delete a model to retrain it).
# Settings (environment, besides common.sh's): KREG_N (300), NTRAIN
# (1000), NSCAN (1200 frames per scan), VARIANTS (the frame variants, a
# list of names from: unit unit-permute mass mass-permute unit-relabel
# mass-relabel; default all that this rpr supports), KREG (0 skips the
# energy models).
STUDY_DIR=$(cd "$(dirname "$0")" && pwd) || exit 1
. "$STUDY_DIR/common.sh"

case ${1:-} in
-h | --help)
    sed -n '2,/^STUDY_DIR/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
"") ;;
*) die "unknown argument $1 (--help)" ;;
esac
KREG_N=${KREG_N:-300}
NTRAIN=${NTRAIN:-1000}
NSCAN=${NSCAN:-1200}
KREG=${KREG:-1}
SPEC="5-6,7-8"
if "$RPR" train --help 2>&1 | grep -q -- '--relabel'; then
    VARIANTS=${VARIANTS:-unit unit-permute unit-relabel mass mass-permute mass-relabel}
else
    VARIANTS=${VARIANTS:-unit unit-permute mass mass-permute}
fi

# ---------------------------------------------------------------- data
DATA=$STUDY_WORK/perm-shipped
mkdir -p "$DATA" || exit 1
per=$(($(xz -dc "$SHIPPED/geoms.xyz.xz" | head -n 1) + 2))
if [ ! -f "$DATA/manifest" ]; then
    log "splitting $SHIPPED into $DATA"
    for f in geoms.xyz:xyz gradients.dat:gradients energies.dat:energies \
        dipoles.dat:dipoles polarizabilities.dat:pol; do
        src=${f%%:*} ext=${f##*:}
        lines=1
        case $ext in xyz | gradients) lines=$per ;; esac
        xz -dc "$SHIPPED/$src.xz" >"$DATA/all.$ext" || die "cannot read $SHIPPED/$src.xz"
        awk -v n="$((NTRAIN * lines))" 'NR <= n' "$DATA/all.$ext" >"$DATA/train$NTRAIN.$ext"
        awk -v n="$((KREG_N * lines))" 'NR <= n' "$DATA/all.$ext" >"$DATA/train$KREG_N.$ext"
        awk -v n="$((NTRAIN * lines))" 'NR > n' "$DATA/all.$ext" >"$DATA/test.$ext"
        cp "$DATA/test.$ext" "$DATA/swap.$ext"
    done
    # The relabelled held-out set: same labels, atoms swapped.
    swap_hydrogens "$DATA/test.xyz" >"$DATA/swap.xyz"
    swap_hydrogens "$DATA/test.gradients" >"$DATA/swap.gradients"
    echo "$SHIPPED: train $NTRAIN, KREG $KREG_N, held out the rest" >"$DATA/manifest"
fi
NTEST=$(grep -c . "$DATA/test.energies")
TR=train$NTRAIN

# eval_swap DIR NAME PROPERTY: the model on the relabelled held-out set.
eval_swap() {
    [ -f "$1/$2.swap.eval" ] && return 0
    _es_g=""
    [ "$3" = energy ] && _es_g="--grad $DATA/swap.gradients"
    # shellcheck disable=SC2086
    "$RPR" eval --model "$1/$2.xml" --xyz "$DATA/swap.xyz" \
        --values "$DATA/swap.$(values_of "$3")" $_es_g >"$1/$2.swap.eval.tmp" ||
        die "rpr eval failed for $2 on the relabelled set"
    mv "$1/$2.swap.eval.tmp" "$1/$2.swap.eval"
}

# ---------------------------------------------------------------- models
M=$DATA/models
mkdir -p "$M"
if [ "$KREG" != 0 ]; then
    for v in plain permute; do
        opt=""
        [ "$v" = permute ] && opt="--permute $SPEC"
        # shellcheck disable=SC2086
        train_eval "$M" "energy-$v" energy "train$KREG_N" test --grad \
            --sigma opt --lambda opt $opt
        eval_swap "$M" "energy-$v" energy
    done
fi
variant_opts() { # VARIANT -> rpr train options
    case $1 in
    unit*) printf '%s' "" ;;
    mass*) printf '%s' "--kabsch-weights mass" ;;
    *) die "unknown variant $1" ;;
    esac
    case $1 in
    *-permute) printf ' --permute %s' "$SPEC" ;;
    *-relabel) printf ' --relabel %s' "$SPEC" ;;
    esac
}
for prop in dipole polarizability; do
    for v in $VARIANTS; do
        # shellcheck disable=SC2046
        train_eval "$M" "$prop-$v" "$prop" "$TR" test --descriptor RE \
            --kernel gaussian --sigma opt --lambda opt $(variant_opts "$v")
        eval_swap "$M" "$prop-$v" "$prop"
    done
done

# ---------------------------------------------------------------- scans
SCANS="anti:60:300 syn:-60:60"
for s in $SCANS; do
    name=${s%%:*} r=${s#*:}
    [ -f "$DATA/scan-$name.xyz" ] && continue
    awk -v t0="${r%%:*}" -v t1="${r##*:}" -v n="$NSCAN" \
        -f "$STUDY_DIR/frames/torsion_scan.awk" >"$DATA/scan-$name.xyz.tmp" ||
        die "torsion_scan.awk failed"
    mv "$DATA/scan-$name.xyz.tmp" "$DATA/scan-$name.xyz"
done
# continuity PRED: max/median of the per-frame change (Euclidean for mu;
# Frobenius for alpha, off-diagonals counted twice) and the frame of the
# largest, "ratio frame".
continuity() {
    step_changes "$1" | sort -g -k 2 | awk '{ c[NR] = $2; f[NR] = $1 }
        END { m = NR % 2 ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2
              printf "%.3g %d", c[NR] / m, f[NR] }'
}
# scan_ratio MODEL SCAN: "ratio (at phi deg)" for a scan of t0 -> t1.
scan_ratio() {
    _sr_p=$M/$1.scan-$2.pred
    if [ ! -f "$_sr_p" ]; then
        "$RPR" predict --model "$M/$1.xml" --xyz "$DATA/scan-$2.xyz" \
            --out "$_sr_p.tmp" || die "rpr predict failed for $1 on scan $2"
        mv "$_sr_p.tmp" "$_sr_p"
    fi
    for _sr_s in $SCANS; do
        [ "${_sr_s%%:*}" = "$2" ] && _sr_r=${_sr_s#*:}
    done
    continuity "$_sr_p" | awk -v t0="${_sr_r%%:*}" -v t1="${_sr_r##*:}" \
        -v n="$NSCAN" '{ printf "%s (%.0f deg)", $1, t0 + (t1 - t0) * ($2 - 1) / (n - 1) }'
}

# ---------------------------------------------------------------- page
row() { # EVAL ROW -> RMSE
    rmse_of "$1" "$2"
}
refs_of() { # MODEL -> number of Kabsch references
    "$RPR" info "$1" | awk '/^sub-model/ { n++ } END { print n + 0 }'
}
time_of() { # MODEL -> "wall s, peak GB"
    awk '{ printf "%.0f s, %.2f GB", $1, $4 / 1048576 }' "${1%.xml}.time"
}
{
    cat <<EOF
# Permutations of identical atoms: the g- mirror check

The DCE data cover Cl-C-C-Cl dihedrals of about -30..190 deg, one gauche
(g+); ML-MD crosses into g-, which is the mirror image of g+ *with the
hydrogen labels H5 <-> H6, H7 <-> H8 swapped*, and RE tells labellings
apart.  The **mirror check** evaluates each model on the held-out set as it
is and on the same held-out geometries relabelled (atoms 5 <-> 6 and 7 <->
8 swapped in the XYZ and gradient files; the labels are unchanged, as
nothing moved): the relabelled set is a held-out set of the g- region.
Two remedies (docs/models.md): \`rpr train --permute $SPEC\` trains on
every geometry and its relabelled copy; \`--relabel $SPEC\` trains on the
originals and blends the predictions at x and at the relabelled x with a
smooth weight from the training data's density, exactly invariant under
the relabelling.

Data and split (run.sh's): \`trajectories/dce-hf-adz\` ($(grep -c . "$DATA/all.energies")
geometries), the first $NTRAIN train, the other $NTEST are held out; KREG:
the first $KREG_N with energies and gradients.  RE descriptor, gaussian
kernel, sigma and lambda searched (\`--sigma opt --lambda opt\`; with
\`--permute\` on the originals only), Kabsch frame (at most 3 references)
with unit (default) or mass weights.

## Held-out RMSE, as is and relabelled (g-)

Dipole: RMSE of the error vector's length (\`rpr eval\` row |mu|, e
bohr); polarizability: Frobenius RMSE of the traceless part, isotropic mean
in parentheses (bohr^3).  Scans: max/median per-frame change along the
torsion scans g+ -> anti -> g- (60 -> 300 deg) and g- -> syn -> g+ (-60 ->
60 deg) of results/frames.md ($NSCAN frames, tumbling and distortions), with
the torsion of the largest change; a smooth prediction stays near 2.

EOF
    if [ "$KREG" != 0 ]; then
        echo "| KREG potential | held-out energy (meV) | relabelled (g-) | gradient (hartree/angstrom) | relabelled | train time, peak memory |"
        echo "|---|---|---|---|---|---|"
        ev=$(rpr_ev_per_hartree)
        for v in plain permute; do
            f=$M/energy-$v
            label="no"
            [ "$v" = permute ] && label="\`--permute $SPEC\`"
            printf '| %s | %.3g | %.3g | %.2g | %.2g | %s |\n' "$label" \
                "$(awk -v e="$(row "$f.eval" E)" -v k="$ev" 'BEGIN { print e * k * 1000 }')" \
                "$(awk -v e="$(row "$f.swap.eval" E)" -v k="$ev" 'BEGIN { print e * k * 1000 }')" \
                "$(row "$f.eval" grad)" "$(row "$f.swap.eval" grad)" "$(time_of "$f.xml")"
        done
        echo
    fi
    echo "| model | held-out | relabelled (g-) | scan through anti | scan through syn | references | train time, peak memory |"
    echo "|---|---|---|---|---|---|---|"
    for prop in dipole polarizability; do
        for v in $VARIANTS; do
            f=$M/$prop-$v
            case $prop in
            dipole)
                a=$(printf '%.3g' "$(row "$f.eval" '|mu|')")
                b=$(printf '%.3g' "$(row "$f.swap.eval" '|mu|')")
                ;;
            *)
                a=$(printf '%.3g (%.2g)' "$(row "$f.eval" traceless)" "$(row "$f.eval" iso)")
                b=$(printf '%.3g (%.2g)' "$(row "$f.swap.eval" traceless)" "$(row "$f.swap.eval" iso)")
                ;;
            esac
            printf '| %s, kabsch %s%s | %s | %s | %s | %s | %s | %s |\n' "$prop" \
                "${v%%-*}" "$(variant_opts "$v" | sed 's/--kabsch-weights mass//; s/^ *//; s/^\(..*\)$/, `\1`/')" \
                "$a" "$b" "$(scan_ratio "$prop-$v" anti)" "$(scan_ratio "$prop-$v" syn)" \
                "$(refs_of "$f.xml")" "$(time_of "$f.xml")"
        done
    done
    echo
    if [ -f "$STUDY_DIR/permutations-reading.md" ]; then
        echo "## Reading"
        echo
        cat "$STUDY_DIR/permutations-reading.md"
        echo
    fi
    cat <<EOF
## Run

- **Command**: \`cd _build_study && sh ../trajectories/study/permutations.sh\`
  (settings: \`--help\`); models, evaluations and scan predictions cached in
  \`\$STUDY_WORK/perm-shipped/\`.
- **Run**: $(provenance); OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS, on
  the shared 2-core machine: times are upper bounds.
EOF
} | write_atomic "$RESULTS/permutations.md"
log "wrote $RESULTS/permutations.md"
