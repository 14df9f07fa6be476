#!/bin/sh
# independent_md.sh - issue 6, item 2c: an independent test set built as
# the paper built it.  24 ML-MD trajectories with rpr-md and rpr-nx on a
# KREG potential (Cl-C-C-Cl dihedral set to 0, 15, ..., 345 deg, Boltzmann
# velocities at 300 K, random orientation, 5 ps, 0.5 fs step), one geometry
# every 100 fs (24 x 50 = 1200), labelled with psi4 at the reference level
# (HF/aug-cc-pVDZ, trajectories/pipeline/label.py), then the RMSEs of the
# models on it against those on the correlated test set.
#
#   cd _build_study && sh ../trajectories/study/independent_md.sh           # MD, sampling, evaluation if labelled
#   cd _build_study && sh ../trajectories/study/independent_md.sh --label   # also psi4 labelling (about 6 s CPU per geometry: 2 h for 1200)
#
# Every stage is resumable: finished trajectories and labelled trajectories
# are kept in $STUDY_WORK/data-*/md/ and skipped; an interrupted trajectory
# continues with rpr-md --restart, an interrupted labelling restarts that
# trajectory's 50 geometries.  The per-step dipoles and polarizabilities
# (RESULTS/rpr-properties.dat of each trajectory) feed spectra.sh.
# Writes docs/results/independent.md once all labels exist.
# Settings (environment):
#   MD_N (24) trajectories, dihedral MD_DPHI (15) deg apart from 0;
#   MD_MIRROR (yes): a start dihedral phi > 180 deg is replaced by its
#   mirror image 360 - phi (directory traj_NNm; see common.sh and the
#   page), because the data cover 0..180 only; no keeps the literal start;
#   MD_TMAX (5000) fs, MD_DT (0.5) fs, MD_T (300) K, MD_SEED (1: trajectory
#   i uses seed MD_SEED + i), MD_STRIDE (100) fs between sampled geometries;
#   MD_PARALLEL (1) trajectories at a time; LABEL_WORKERS (1) psi4
#   processes; PES_N (500) training geometries of the KREG potential
#   (energies and gradients) and PES_PERMUTE (5-6,7-8; empty for none)
#   its --permute SPEC: the data hold one gauche, and the relabelled
#   copies make the potential as good in the other (results/
#   permutations.md); with them 500 geometries make a 25 000 x 25 000
#   system (2.5 GB, a few minutes), as 1000 without; MD_ETOT_JUMP,
#   MD_ETOT_DRIFT: rpr-md's energy checks (eV; its defaults 0.5, 0.5; a
#   trajectory they stop is marked traj_NN.failed and left out); MD_MODEL
#   descriptor:kernel:frame of the dipole and polarizability models that
#   rpr-nx records at every step (default RE:gaussian:kabsch, rpr train's
#   defaults), trained on the benchmark's training set (NTRAIN, 1000).
#   Only the KREG potential drives the trajectories: the recorded
#   properties do not change them, and spectra.sh can re-predict them.
#   RELABEL (5-6,7-8; empty for none): the table also evaluates those
#   models trained with rpr train --relabel RELABEL.
STUDY_DIR=$(cd "$(dirname "$0")" && pwd) || exit 1
. "$STUDY_DIR/common.sh"

LABEL=0
for a in "$@"; do
    case $a in
    --label) LABEL=1 ;;
    -h | --help)
        sed -n '2,/^STUDY_DIR/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument $a (--label, --help)" ;;
    esac
done
MD_N=${MD_N:-24}
MD_TMAX=${MD_TMAX:-5000}
MD_DT=${MD_DT:-0.5}
MD_T=${MD_T:-300}
MD_SEED=${MD_SEED:-1}
MD_STRIDE=${MD_STRIDE:-100}
MD_PARALLEL=${MD_PARALLEL:-1}
LABEL_WORKERS=${LABEL_WORKERS:-1}
PES_N=${PES_N:-500}
PES_PERMUTE=${PES_PERMUTE-5-6,7-8}
PES=energy-grad-$PES_N
[ -n "$PES_PERMUTE" ] && PES=$PES-permute
NTRAIN=${NTRAIN:-1000}
NTEST=${NTEST:-1000}
MD_MODEL=${MD_MODEL:-RE:gaussian:kabsch}
RELABEL=${RELABEL-5-6,7-8}
[ -x "$RPR_MD" ] || die "no rpr-md at $RPR_MD (set RPR_MD)"
[ -x "$RPR_NX" ] || die "no rpr-nx at $RPR_NX (set RPR_NX)"

prepare_data
[ "$NPOOL" -gt "$NTRAIN" ] || die "only $NPOOL geometries, need > $NTRAIN"
ntest=$((NPOOL - NTRAIN))
[ "$ntest" -gt "$NTEST" ] && ntest=$NTEST
TR=train$NTRAIN
TE=test$NTRAIN-$ntest
subset "$TR" 0 "$NTRAIN"
subset "$TE" "$NTRAIN" "$ntest"
subset "train$PES_N" 0 "$PES_N"
MD=$DATA/md
MODELS=$MD/models
mkdir -p "$MODELS"

# ---------------------------------------------------------------- models
# A model of the learning curves or the benchmark is reused when it exists
# (same data, same options), else trained here.
reuse() { # FROM NAME
    [ -f "$MODELS/$2.xml" ] && return 0
    [ -f "$1/$2.xml" ] && [ -f "$1/$2.time" ] || return 0
    cp "$1/$2.xml" "$1/$2.time" "$MODELS/"
}
md_d=${MD_MODEL%%:*} md_f=${MD_MODEL##*:} md_k=${MD_MODEL#*:}
md_k=${md_k%:*}
[ -z "$PES_PERMUTE" ] && reuse "$DATA/lc" "$PES"
# shellcheck disable=SC2086
train_eval "$MODELS" "$PES" energy "train$PES_N" "$TE" --grad \
    ${PES_PERMUTE:+--permute $PES_PERMUTE}
for prop in dipole polarizability; do
    reuse "$DATA/bench" "$prop-$md_d-$md_k-$md_f"
    train_eval "$MODELS" "$prop-$md_d-$md_k-$md_f" "$prop" "$TR" "$TE" \
        --descriptor "$md_d" --kernel "$md_k" --frame "$md_f"
done
PAR=$MD/rpr-nx.par
cat <<EOF | write_atomic "$PAR"
# written by independent_md.sh
energy = models/$PES.xml
dipole = models/dipole-$md_d-$md_k-$md_f.xml
polarizability = models/polarizability-$md_d-$md_k-$md_f.xml
properties = yes
EOF

# Start: the lowest-energy geometry of the potential's training set.
START=$MD/start.xyz
if [ ! -f "$START" ]; then
    k=$(awk 'NR == 1 || $1 < m { m = $1; k = NR } END { print k - 1 }' \
        "$DATA/train$PES_N.energies")
    per=$(($(head -n 1 "$DATA/all.xyz") + 2))
    awk -v a="$((k * per))" -v b="$(((k + 1) * per))" 'NR > a && NR <= b' \
        "$DATA/train$PES_N.xyz" | write_atomic "$START"
fi

# ---------------------------------------------------------------- MD
# Trajectory I: directory $(md_traj I), start dihedral $(md_phi I), seed
# MD_SEED + I.  A trajectory is done when its en.dat reaches MD_TMAX.
traj_done() { # DIR
    [ -f "$1/RESULTS/en.dat" ] &&
        awk -v t="$MD_TMAX" '$1 + 0 >= t - 1e-6 { f = 1 } END { exit !f }' \
            "$1/RESULTS/en.dat"
}
run_traj() { # I
    _rt_dir=$MD/$(md_traj "$1")
    traj_done "$_rt_dir" && return 0
    [ -f "$_rt_dir.failed" ] && return 0
    _rt_phi=$(md_phi "$1")
    if [ -f "$_rt_dir/INFO_RESTART/rpr-md.state" ]; then
        log "continue trajectory $1 (dihedral $_rt_phi)"
        _rt_opt=--restart
    else
        log "start trajectory $1 (dihedral $_rt_phi)"
        rm -rf "$_rt_dir" "$_rt_dir.stats" "$_rt_dir.phi"
        _rt_opt=""
    fi
    _rt_chk=""
    [ -n "${MD_ETOT_JUMP:-}" ] && _rt_chk="--etot-jump $MD_ETOT_JUMP"
    [ -n "${MD_ETOT_DRIFT:-}" ] && _rt_chk="$_rt_chk --etot-drift $MD_ETOT_DRIFT"
    # shellcheck disable=SC2086
    if ! nice -n "$NICE" "$RPR_MD" $_rt_opt --xyz "$START" \
        --dihedral "3,1,2,4=$_rt_phi" --temperature "$MD_T" --orient \
        --dt "$MD_DT" --tmax "$MD_TMAX" --seed "$((MD_SEED + $1))" \
        $_rt_chk --program "$RPR_NX" --par "$PAR" --quiet "$_rt_dir" \
        >"$_rt_dir.log" 2>&1; then
        # A stop of the energy checks repeats on restart: mark it failed,
        # so that a rerun goes on with the others (remove the mark to
        # retry, e.g. with another potential).
        tail -n 1 "$_rt_dir.log" >"$_rt_dir.failed"
        log "trajectory $1 failed: $(cat "$_rt_dir.failed")"
    fi
}
t0=$(date +%s)
i=0
while [ "$i" -lt "$MD_N" ]; do
    j=0
    while [ "$j" -lt "$MD_PARALLEL" ] && [ "$i" -lt "$MD_N" ]; do
        run_traj "$i" &
        i=$((i + 1))
        j=$((j + 1))
    done
    wait
done
log "MD stage: $(($(date +%s) - t0)) s"
DONE=""
FAILED=""
i=0
while [ "$i" -lt "$MD_N" ]; do
    nn=$(md_traj "$i")
    if traj_done "$MD/$nn"; then
        DONE="$DONE $nn"
    else
        FAILED="$FAILED $nn"
    fi
    i=$((i + 1))
done
ndone=$(echo "$DONE" | wc -w)
[ "$ndone" -gt 0 ] || die "no trajectory reached $MD_TMAX fs (see $MD/traj_*.log)"
[ -z "$FAILED" ] || log "trajectories that stopped early:$FAILED (see $MD/traj_*.failed); going on with $ndone"

# ---------------------------------------------------------------- MD checks
# Per trajectory: the Cl-C-C-Cl dihedral at every step ($MD/NAME.phi, IUPAC
# sign as dihedrals.dat) and one row of statistics ($MD/NAME.stats): start
# dihedral, unwrapped dihedral range, steps with phi outside 0..180 (phi <
# 0), steps outside the range the pool covers (between the pool's largest
# phi in (-180, -90] and its smallest in (-90, 0]: hi < phi < lo), the
# largest |Etot(t) - Etot(0)| and the lowest Epot above the lowest energy
# of the potential's training set (both from en.dat: Epot, Etot in
# hartree).
DLO=$(awk '$1 > -90 && $1 <= 0 && (!f || $1 < m) { m = $1; f = 1 }
    END { print f ? m : 0 }' "$DATA/all.dihedrals")
DHI=$(awk '$1 > -180 && $1 <= -90 && (!f || $1 > m) { m = $1; f = 1 }
    END { print f ? m : -180 }' "$DATA/all.dihedrals")
EMIN=$(awk 'NR == 1 || $1 < m { m = $1 } END { printf "%.12f", m }' \
    "$DATA/train$PES_N.energies")
md_stats() { # NAME
    [ -f "$MD/$1.stats" ] && return 0
    dihedral_series "$MD/$1/RESULTS/geometries.xyz" | write_atomic "$MD/$1.phi"
    awk -v lo="$DLO" -v hi="$DHI" -v emin="$EMIN" -v ev="$(rpr_ev_per_hartree)" '
        FNR == NR {
            p = $2
            if (n == 0) { p0 = p; u = p; umin = u; umax = u }
            else {
                d = p - prev; if (d > 180) d -= 360; if (d < -180) d += 360
                u += d; if (u < umin) umin = u; if (u > umax) umax = u
            }
            prev = p; n++
            if (p < 0) out++
            if (p > hi && p < lo) deep++
            next
        }
        { e = $(NF - 1); t = $NF
          if (FNR == 1) t0 = t
          dt = t - t0; if (dt < 0) dt = -dt; if (dt > dmax) dmax = dt
          if (FNR == 1 || e < elow) elow = e }
        END {
            printf "%.1f %.1f %.1f %d %d %d %.2f %.3f\n", p0, umin, umax, n,
                out, deep, dmax * ev * 1000, (elow - emin) * ev * 1000
        }' "$MD/$1.phi" "$MD/$1/RESULTS/en.dat" | write_atomic "$MD/$1.stats"
}
for nn in $DONE; do
    md_stats "$nn"
done
# Literal starts above 180 deg left by an MD_MIRROR=no run (page only).
LITERAL=""
LITERAL_FAILED=""
if [ "$MD_MIRROR" = yes ]; then
    i=0
    while [ "$i" -lt "$MD_N" ]; do
        nn=$(printf 'traj_%02d' "$i")
        if [ $((i * MD_DPHI)) -gt 180 ]; then
            if traj_done "$MD/$nn"; then
                md_stats "$nn"
                LITERAL="$LITERAL $nn"
            elif [ -f "$MD/$nn.failed" ]; then
                LITERAL_FAILED="$LITERAL_FAILED $nn"
            fi
        fi
        i=$((i + 1))
    done
fi

# ---------------------------------------------------------------- sample
# Geometries at t = MD_STRIDE, 2 MD_STRIDE, ..., MD_TMAX of every
# trajectory (not t = 0, the constructed start).
SAMPLE=$MD/sample
mkdir -p "$SAMPLE"
for nn in $DONE; do
    if [ ! -f "$SAMPLE/$nn.xyz" ]; then
        awk -v s="$MD_STRIDE" -v dt="$MD_DT" -v tr="$nn" '
            NR == 1 { per = $1 + 2 }
            (NR - 1) % per == 1 {
                keep = 0
                for (f = 1; f <= NF; f++) if ($f ~ /^t_fs=/) t = substr($f, 6) + 0
                k = t / s
                if (t > 0 && (k - int(k + 0.5)) ^ 2 < 1e-12) keep = 1
                if (keep) { print per - 2; print "traj=" tr " t_fs=" t }
                next
            }
            (NR - 1) % per == 0 { next }
            keep' "$MD/$nn/RESULTS/geometries.xyz" |
            write_atomic "$SAMPLE/$nn.xyz"
    fi
done
nsample=$(for nn in $DONE; do cat "$SAMPLE/$nn.xyz"; done |
    awk 'NR % 10 == 1' | wc -l)
log "sampled $nsample geometries into $SAMPLE"

# ---------------------------------------------------------------- mirror check
# Swapping the labels of the hydrogens on each carbon (H1 <-> H2, H3 <-> H4)
# moves no atom, so the true energy, dipole and polarizability do not
# change; for a geometry outside the data (hi < phi < lo, the g- side) the
# swapped geometry is the mirror image of one inside (a reflection leaves
# the descriptors unchanged), so there the difference between the
# predictions for the two labellings estimates the models' extrapolation
# error.  Over the sampled geometries: RMS of the energy difference (meV),
# of |mu - mu'| (e bohr) and of the Frobenius norm of alpha - alpha'
# (bohr^3), separately for the samples inside and outside the data.
PERM=$MD/mirror-check
mkdir -p "$PERM"
if [ ! -f "$PERM/summary" ] || [ "$(cat "$PERM/trajectories" 2>/dev/null)" != "$DONE" ]; then
    for nn in $DONE; do cat "$SAMPLE/$nn.xyz"; done >"$PERM/x.xyz"
    swap_hydrogens "$PERM/x.xyz" >"$PERM/p.xyz"
    for set in x p; do
        "$RPR" predict --model "$MODELS/$PES.xml" \
            --xyz "$PERM/$set.xyz" --out "$PERM/$set.energy" &&
            "$RPR" predict --model "$MODELS/dipole-$md_d-$md_k-$md_f.xml" \
                --xyz "$PERM/$set.xyz" --out "$PERM/$set.dipole" &&
            "$RPR" predict --model "$MODELS/polarizability-$md_d-$md_k-$md_f.xml" \
                --xyz "$PERM/$set.xyz" --out "$PERM/$set.pol" ||
            die "rpr predict failed in the mirror check"
    done
    dihedral_series "$PERM/x.xyz" | awk '{ print $2 }' >"$PERM/phi"
    paste -d ' ' "$PERM/phi" "$PERM/x.energy" "$PERM/p.energy" \
        "$PERM/x.dipole" "$PERM/p.dipole" "$PERM/x.pol" "$PERM/p.pol" |
        awk -v lo="$DLO" -v hi="$DHI" -v ev="$(rpr_ev_per_hartree)" '
        { g = ($1 > hi && $1 < lo) ? "outside" : "inside"
          n[g]++
          de = ($2 - $3) * ev * 1000; se[g] += de * de
          dm = ($4 - $7) ^ 2 + ($5 - $8) ^ 2 + ($6 - $9) ^ 2; sm[g] += dm
          # alpha: xx xy xz yy yz zz, off-diagonals twice in the norm
          da = ($10 - $16) ^ 2 + 2 * ($11 - $17) ^ 2 + 2 * ($12 - $18) ^ 2
          da += ($13 - $19) ^ 2 + 2 * ($14 - $20) ^ 2 + ($15 - $21) ^ 2
          sa[g] += da }
        END {
            for (g in n)
                printf "%s %d %.3g %.3g %.3g\n", g, n[g], sqrt(se[g] / n[g]),
                    sqrt(sm[g] / n[g]), sqrt(sa[g] / n[g])
        }' | sort | write_atomic "$PERM/summary"
    [ -s "$PERM/summary" ] || die "mirror check failed"
    echo "$DONE" >"$PERM/trajectories"
fi

# ---------------------------------------------------------------- page parts
# pes_hyper: the potential's sigma and lambda as its search chose them.
pes_hyper() {
    hyper_of "$MODELS/$PES.xml" | awk 'NR == 1 {
        printf "sigma %.4g and lambda %.3g as the search of `rpr train` chose them; the potential is cached with its trajectories, so one trained by an older rpr keeps that choice (before commit fd41758 the KREG search validated on 25 geometries only, docs/models.md)", $2, $3 }'
}
# page_head LABELLED: title and settings; md_section: the trajectories.
page_head() {
    cat <<EOF
# Independent test set from ML-MD trajectories

Issue 6, item 2c.  Generated by \`trajectories/study/independent_md.sh\`;
do not edit by hand.

    cd _build_study && sh ../trajectories/study/independent_md.sh --label

- **Trajectories**: $MD_N runs of \`rpr-md\` with \`rpr-nx\` on the KREG
  potential $PES (RE, gaussian, trained on energies and
  gradients of the first $PES_N records of the permuted pool, $NPOOL
  geometries, seed $STUDY_SEED$([ -n "$PES_PERMUTE" ] && echo ", and on their copies with the hydrogen labels swapped, \`--permute $PES_PERMUTE\`, so that the g- side is not an extrapolation"); $(pes_hyper)); start: the lowest-energy training
  geometry with the Cl-C-C-Cl dihedral set to 0, $MD_DPHI, ...,
  $(((MD_N - 1) * MD_DPHI)) deg (\`--dihedral 3,1,2,4=PHI\`)$([ "$MD_MIRROR" = yes ] && echo ", a start above 180 deg replaced by its mirror image 360 - PHI (below)"), Maxwell-Boltzmann
  velocities at $MD_T K without net linear and angular momentum, a uniformly
  random orientation (\`--orient\`), velocity Verlet with dt = $MD_DT fs for
  $MD_TMAX fs, NVE, seed $MD_SEED + trajectory number.  Dipoles and
  polarizabilities recorded at every step by rpr-nx with the
  $md_d $md_k $md_f models (they do not act on the dynamics).
- **Completed**: $ndone of $MD_N trajectories reached $MD_TMAX fs$([ -n "$FAILED" ] && echo "; stopped early by rpr-md's energy checks:$FAILED")
EOF
    if [ "$1" = 1 ]; then
        cat <<EOF
- **Sample**: the geometry every $MD_STRIDE fs from t = $MD_STRIDE fs
  ($nind geometries), labelled with psi4 1.3 at HF/aug-cc-pVDZ by
  \`trajectories/pipeline/label.py xyz\` (the settings of the reference set).
- **Correlated test set**: the $ntest records after the first $NTRAIN of the
  permuted pool (that of [benchmark.md](benchmark.md)).
- **Errors**: \`rpr eval\`, RMSE (energy in hartree, gradient components in
  hartree/angstrom, dipole in e bohr, polarizability in bohr^3; |mu|, iso
  and traceless as in benchmark.md).
EOF
    else
        cat <<EOF
- **Sample**: the geometry every $MD_STRIDE fs from t = $MD_STRIDE fs
  ($nsample geometries in \`md/sample/\`), to be labelled with psi4 at
  HF/aug-cc-pVDZ (\`--label\`).  **Not labelled yet** ($nlab of $ndone
  trajectories): the table of errors on this set is missing.
EOF
    fi
    echo "- **Run**: $(provenance)."
}
md_total() { # LABEL < stats rows: one summary sentence
    awk -v what="$1" '
        { n += $4; o += $5; d += $6; if ($7 > e) e = $7
          if (NR == 1 || $8 < m) m = $8 }
        END { if (n) printf "\n%s %d steps: %d (%.2f %%) outside 0..180, %d (%.2f %%) outside the data; largest energy drift %.2f meV; lowest Epot %.1f meV from the training minimum.\n",
            what, n, o, 100 * o / n, d, 100 * d / n, e, m }'
}
md_section() {
    cat <<EOF

## The trajectories

Dihedral: the signed Cl-C-C-Cl angle of every step (IUPAC sign, as
\`dihedrals.dat\`), unwrapped over the run for its range.  The pool's
dihedrals cover $DLO .. 180 and -180 .. $DHI deg (0..180 with thermal
spill-over); "outside 0..180" counts steps with phi < 0, "outside the
data" steps with $DHI < phi < $DLO, where models trained on the data as labelled (without \`--permute\` or \`--relabel\`) extrapolate (the g-
conformer at phi ~ -60 = 300 deg is the mirror image of g+, with the
CH2 hydrogens' labels exchanged, which the descriptors distinguish).
Energies from en.dat: the largest |Etot(t) - Etot(0)| and the lowest
potential energy relative to the lowest energy of the potential's
training set (negative: below every training geometry; tenths of an eV
need not be a hole, since the 400 K training samples need not reach the
bottom of the well, while a hole drops by eV and trips rpr-md's energy
checks, which stop the trajectory).
EOF
    if [ "$MD_MIRROR" = yes ]; then
        cat <<EOF

**Mirrored starts.** The data cover Cl-C-C-Cl = 0..180 deg only.  A start
at phi > 180 deg is the mirror image of a start at 360 - phi with the
hydrogens relabelled: the same physical state, on an identical energy
surface, with identical spectra (IR intensities and Raman invariants do
not change under a reflection).  Those trajectories (\`traj_NNm\`) start at
360 - phi instead (\`MD_MIRROR=yes\`, the default), with the same seed, so
that every start lies inside the data (a trajectory may still cross to the
g- side later: counted below); \`MD_MIRROR=no\` runs the literal starts
(\`traj_NN\`).
EOF
    fi
    cat <<EOF

| trajectory | start phi (deg) | unwrapped phi range (deg) | steps | outside 0..180 | outside the data | max abs(Etot - Etot(0)) (meV) | min Epot - E_min(train) (meV) |
|---|---:|---|---:|---:|---:|---:|---:|
EOF
    for nn in $DONE; do
        awk -v n="$nn" '{ printf "| %s | %s | %s .. %s | %d | %d | %d | %s | %s |\n",
            n, $1, $2, $3, $4, $5, $6, $7, $8 }' "$MD/$nn.stats"
    done
    for nn in $DONE; do cat "$MD/$nn.stats"; done | md_total All
    for nn in $FAILED; do
        echo
        echo "$nn stopped early: $(sed 's|^rpr-md: .*/traj_[0-9m]*: ||' "$MD/$nn.failed" 2>/dev/null)"
    done
    # The literal starts above 180 deg, where an earlier MD_MIRROR=no run
    # left them in the work directory: the same table, for comparison.
    if [ "$MD_MIRROR" = yes ] && [ -n "$LITERAL" ]; then
        cat <<EOF

**Literal starts, for comparison.**  The trajectories with the literal
start above 180 deg (\`MD_MIRROR=no\`, same seeds) found in the work
directory:

| trajectory | start phi (deg) | unwrapped phi range (deg) | steps | outside 0..180 | outside the data | max abs(Etot - Etot(0)) (meV) | min Epot - E_min(train) (meV) |
|---|---:|---|---:|---:|---:|---:|---:|
EOF
        for nn in $LITERAL; do
            awk -v n="$nn" '{ printf "| %s | %s | %s .. %s | %d | %d | %d | %s | %s |\n",
                n, $1, $2, $3, $4, $5, $6, $7, $8 }' "$MD/$nn.stats"
        done
        for nn in $LITERAL; do cat "$MD/$nn.stats"; done | md_total Their
        for nn in $DONE; do
            case $nn in *m) cat "$MD/$nn.stats" ;; esac
        done | md_total "Their mirrored counterparts above"
        for nn in $LITERAL_FAILED; do
            echo
            echo "$nn stopped early: $(sed 's|^rpr-md: .*/traj_[0-9m]*: ||' "$MD/$nn.failed" 2>/dev/null)"
        done
    fi
    cat <<EOF

**Mirror check** (no labels needed).  Swapping the labels of the two
hydrogens on each carbon moves no atom, so the true energy, dipole and
polarizability stay the same; but a geometry on the g- side with swapped
labels is, for the descriptors, the mirror image of one inside the data
(and a g+ geometry with swapped labels one outside), so the difference
between the two predictions estimates the models' extrapolation error on
the g- side.  Over the $nsample sampled geometries
(\`md/mirror-check/\`), grouped by whether the geometry as labelled lies
inside or outside the data; for comparison, the RMSEs of the same models
on the correlated test set are $(rmse_of "$MODELS/$PES.eval" E |
        awk -v ev="$(rpr_ev_per_hartree)" '{ printf "%.2g", $1 * ev * 1000 }') meV (E),
$(rmse_of "$MODELS/dipole-$md_d-$md_k-$md_f.eval" '|mu|' | awk '{ printf "%.2g", $1 }') e bohr (|mu|) and $(rmse_of "$MODELS/polarizability-$md_d-$md_k-$md_f.eval" traceless | awk '{ printf "%.2g", $1 }') bohr^3 (traceless alpha).

| samples | count | RMS energy difference (meV) | RMS abs(mu - mu') (e bohr) | RMS Frobenius alpha - alpha' (bohr^3) |
|---|---:|---:|---:|---:|
EOF
    awk '{ printf "| %s the data | %d | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' \
        "$PERM/summary"
}

# ---------------------------------------------------------------- label
LABELS=$MD/labels
count_labelled() {
    nlab=0
    for nn in $DONE; do
        [ -f "$LABELS/$nn/meta.json" ] && nlab=$((nlab + 1))
    done
}
count_labelled
if [ "$nlab" -lt "$ndone" ]; then
    if [ "$LABEL" = 0 ]; then
        log "$nlab of $ndone trajectories labelled; psi4 labelling not started"
        log "(about 6 s CPU per geometry: run again with --label)"
        { page_head 0; md_section; } | write_atomic "$RESULTS/independent.md"
        log "wrote $RESULTS/independent.md (trajectories only)"
        exit 0
    fi
    command -v psi4 >/dev/null 2>&1 || die "psi4 is needed for --label"
    mkdir -p "$LABELS"
    label_one() { # XYZ
        _lo_out=$LABELS/$(basename "$1" .xyz)
        [ -f "$_lo_out/meta.json" ] && return 0
        log "psi4: $(basename "$1")"
        (
            PYTHONPATH=${PYTHONPATH:-}
            eval "$(psi4 --psiapi-path)"
            PYTHONPATH=${PYTHONPATH%:}
            OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
            export PYTHONPATH OMP_NUM_THREADS MKL_NUM_THREADS PYTHONDONTWRITEBYTECODE
            exec nice -n "$NICE" "${PYTHON:-python3}" \
                "$SRCDIR/trajectories/pipeline/label.py" xyz "$1" "$_lo_out"
        ) >"$_lo_out.log" 2>&1 || log "psi4 failed on $(basename "$1"): $(tail -n 1 "$_lo_out.log")"
    }
    set --
    for nn in $DONE; do set -- "$@" "$SAMPLE/$nn.xyz"; done
    while [ "$#" -gt 0 ]; do
        j=0
        while [ "$j" -lt "$LABEL_WORKERS" ] && [ "$#" -gt 0 ]; do
            label_one "$1" &
            shift
            j=$((j + 1))
        done
        wait
    done
    count_labelled
    [ "$nlab" = "$ndone" ] || die "only $nlab of $ndone trajectories labelled; rerun with --label"
fi

# ---------------------------------------------------------------- evaluate
IND=$DATA/independent
if [ ! -f "$IND.xyz" ] || [ "$(cat "$IND.trajectories" 2>/dev/null)" != "$DONE" ]; then
    rm -f "$IND.xyz"
    echo "$DONE" >"$IND.trajectories"
    for f in geoms.xyz:xyz energies.dat:energies gradients.dat:gradients \
        dipoles.dat:dipoles polarizabilities.dat:pol dihedrals.dat:dihedrals; do
        for nn in $DONE; do
            cat "$LABELS/$nn/${f%:*}"
        done >"$IND.${f#*:}.tmp"
    done
    rm -f "$MD"/eval/*.ind "$MD"/eval/*.in "$MD"/eval/*.out "$IND"-out.xyz
    for f in energies gradients dipoles pol dihedrals xyz; do
        mv "$IND.$f.tmp" "$IND.$f"
    done
fi
nind=$(grep -c . "$IND.energies")
# The independent set inside the data's dihedral range and outside it
# (DHI < phi < DLO, as "outside the data" below): $IND-in.*, $IND-out.*
# (the last file written, $IND-out.xyz, marks both complete).
if [ ! -f "$IND-out.xyz" ]; then
    per=$(($(head -n 1 "$IND.xyz") + 2))
    for part in in:0 out:1; do
        for f in dipoles pol xyz; do
            n=1
            [ "$f" = xyz ] && n=$per
            awk -v lo="$DLO" -v hi="$DHI" -v s="${part#*:}" -v n="$n" '
                NR == FNR { o[FNR] = ($1 > hi && $1 < lo) ? 1 : 0; next }
                o[int((FNR - 1) / n) + 1] == s' "$IND.dihedrals" "$IND.$f" \
                >"$IND-${part%:*}.$f.tmp"
        done
        for f in dipoles pol xyz; do
            mv "$IND-${part%:*}.$f.tmp" "$IND-${part%:*}.$f"
        done
    done
fi
EV=$MD/eval
mkdir -p "$EV"
evalon() { # MODEL PROPERTY SET SUFFIX -> EV/NAME.SUFFIX (rpr eval on DATA/SET)
    _eo_f=$EV/$(basename "$1" .xml).$4
    [ -f "$_eo_f" ] && return 0
    _eo_g=""
    [ "$2" = energy ] && _eo_g="--grad $DATA/$3.gradients"
    # shellcheck disable=SC2086
    "$RPR" eval --model "$1" --xyz "$DATA/$3.xyz" \
        --values "$DATA/$3.$(values_of "$2")" $_eo_g >"$_eo_f.tmp" ||
        die "rpr eval failed on $1"
    mv "$_eo_f.tmp" "$_eo_f"
}
evalboth() { # MODEL PROPERTY -> EV/NAME.{corr,ind}
    evalon "$1" "$2" "$TE" corr
    evalon "$1" "$2" independent ind
}
# region MODEL PROPERTY: "count RMSE count RMSE" of |mu| or traceless alpha
# (rpr eval) on the independent set inside the data and outside it.
region() {
    _rg_q='|mu|'
    [ "$2" = polarizability ] && _rg_q=traceless
    for _rg_p in in out; do
        _rg_c=$(grep -c . "$IND-$_rg_p.$(values_of "$2")")
        if [ "$_rg_c" -gt 0 ]; then
            evalon "$1" "$2" "independent-$_rg_p" "$_rg_p"
            printf '%s %s ' "$_rg_c" "$(rmse_of "$EV/$(basename "$1" .xml).$_rg_p" "$_rg_q" |
                awk '{ printf "%.4g", $1 }')"
        else
            printf '0 - '
        fi
    done
    echo
}
region_row() { # MODEL PROPERTY QUANTITY UNIT
    # shellcheck disable=SC2046
    set -- "$@" $(region "$1" "$2")
    printf '| %s | %s | %s | %s | %s |\n' "$(basename "$1" .xml)" "$3" "$6" "$8" "$4"
}
row() { # NAME ROW UNIT
    printf '| %s | %s | %s | %s | %s |\n' "$1" "$(echo "$2" | sed 's/|/\\|/g')" \
        "$(rmse_of "$EV/$1.corr" "$2" | awk '{ printf "%.4g", $1 }')" \
        "$(rmse_of "$EV/$1.ind" "$2" | awk '{ printf "%.4g", $1 }')" "$3"
}
evalboth "$MODELS/$PES.xml" energy
MODELS_EVAL="$MODELS/dipole-$md_d-$md_k-$md_f.xml $MODELS/polarizability-$md_d-$md_k-$md_f.xml"
for f in "$DATA"/bench/*-principal.xml "$DATA"/bench/*-none.xml; do
    [ -f "$f" ] && MODELS_EVAL="$MODELS_EVAL $f"
done
for f in $MODELS_EVAL; do
    case $(basename "$f") in
    dipole-*) evalboth "$f" dipole ;;
    polarizability-*) evalboth "$f" polarizability ;;
    esac
done
# The trajectories' property models again with the relabelling blend
# (rpr train --relabel; docs/models.md), for comparison only.
if [ -n "$RELABEL" ]; then
    for prop in dipole polarizability; do
        train_relabel "$MODELS" "$prop" "$md_d" "$md_k" "$md_f" "$TR" "$TE"
        evalboth "$MODELS/$prop-$md_d-$md_k-$md_f-relabel.xml" "$prop"
    done
fi
{
    page_head 1
    cat <<EOF

## Models of the trajectories

| model | quantity | RMSE, correlated test | RMSE, independent MD set | unit |
|---|---|---:|---:|---|
EOF
    row "$PES" E hartree
    row "$PES" grad hartree/angstrom
    row "dipole-$md_d-$md_k-$md_f" '|mu|' 'e bohr'
    for r in iso traceless; do
        row "polarizability-$md_d-$md_k-$md_f" "$r" 'bohr^3'
    done
    if [ -n "$RELABEL" ]; then
        row "dipole-$md_d-$md_k-$md_f-relabel" '|mu|' 'e bohr'
        for r in iso traceless; do
            row "polarizability-$md_d-$md_k-$md_f-relabel" "$r" 'bohr^3'
        done
        cat <<EOF

The rows ending in -relabel: the same models trained with \`--relabel $RELABEL\`
(docs/models.md, Relabelling blend; results/permutations.md), which the
trajectories did not record; they predict the g- excursions of the
dynamics at the relabelling the data know.
EOF
    fi
    cat <<EOF

## Inside and outside the data

The independent set split by the dihedral of each geometry as labelled:
inside the data's range ($(region "$MODELS/dipole-$md_d-$md_k-$md_f.xml" dipole | awk '{ print $1 }') geometries) or on the g- side
outside it ($(region "$MODELS/dipole-$md_d-$md_k-$md_f.xml" dipole | awk '{ print $3 }'), $DHI < phi < $DLO deg, as in the trajectory
table below), RMSE of |mu| (e bohr) or of the traceless part of alpha
(bohr^3), for the trajectories' models and the benchmark's principal-frame
gaussian models:

| model | quantity | RMSE, inside the data | RMSE, outside the data | unit |
|---|---|---:|---:|---|
EOF
    for prop in dipole polarizability; do
        q='|mu|' u='e bohr'
        [ "$prop" = polarizability ] && q=traceless u='bohr^3'
        q=$(echo "$q" | sed 's/|/\\|/g')
        for f in "$MODELS/$prop-$md_d-$md_k-$md_f.xml" \
            "$MODELS/$prop-$md_d-$md_k-$md_f-relabel.xml" \
            "$DATA"/bench/"$prop"-*-gaussian-principal.xml; do
            [ -f "$f" ] && region_row "$f" "$prop" "$q" "$u"
        done
    done
    cat <<EOF

## Benchmark models (trained on $NTRAIN)

| model | quantity | RMSE, correlated test | RMSE, independent MD set | unit |
|---|---|---:|---:|---|
EOF
    for f in "$DATA"/bench/dipole-*.xml; do
        [ -f "$f" ] && row "$(basename "$f" .xml)" '|mu|' 'e bohr'
    done
    for f in "$DATA"/bench/polarizability-*.xml; do
        [ -f "$f" ] && row "$(basename "$f" .xml)" traceless 'bohr^3'
    done
    md_section
    # The hand-written reading of the tables, if there is one.
    if [ -f "$STUDY_DIR/independent-reading.md" ]; then
        printf '\n## Reading\n\n(Written by hand from the tables above; independent_md.sh appends\nit to the page.)\n\n'
        cat "$STUDY_DIR/independent-reading.md"
    fi
} | write_atomic "$RESULTS/independent.md"
log "wrote $RESULTS/independent.md"
