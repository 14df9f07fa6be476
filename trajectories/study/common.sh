# common.sh - sourced by the study drivers in this directory (POSIX sh).
#
# The caller sets STUDY_DIR (this directory) before sourcing.  Settings, all
# from the environment:
#   BUILD        configured build tree with src/rpr (default: the current
#                directory if it has src/rpr, else ../_build_study)
#   RPR          the rpr program (default $BUILD/src/rpr)
#   STUDY_WORK   work directory: pooled data, models, predictions, logs
#                (default $BUILD/study); every expensive result is cached
#                there and reused by a second run
#   RESULTS      where pages and figures go (default <source>/docs/results)
#   STUDY_SEED   seed of the permutation of the pooled records (20241127)
#   NICE         niceness of the training runs (10)
#   STUDY_EXT    auto (default), yes or no: pool the extension set
#   STUDY_EXT_MIN  auto pools the extension from this total size (3000)
# Data: trajectories/dce-hf-adz/*.xz, followed by
# trajectories/dce-hf-adz-ext/*.xz when that set has been collected.

set -u
LC_ALL=C
export LC_ALL
OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export OPENBLAS_NUM_THREADS

SRCDIR=$(cd "$STUDY_DIR/../.." && pwd) || exit 1
if [ -z "${BUILD:-}" ]; then
    if [ -x "$PWD/src/rpr" ]; then
        BUILD=$PWD
    else
        BUILD=$SRCDIR/_build_study
    fi
fi
BUILD=$(cd "$BUILD" && pwd) || exit 1
RPR=${RPR:-$BUILD/src/rpr}
RPR_MD=${RPR_MD:-$BUILD/nx_interface/rpr-md}
RPR_NX=${RPR_NX:-$BUILD/nx_interface/rpr-nx}
STUDY_WORK=${STUDY_WORK:-$BUILD/study}
RESULTS=${RESULTS:-$SRCDIR/docs/results}
STUDY_SEED=${STUDY_SEED:-20241127}
NICE=${NICE:-10}
STUDY_EXT=${STUDY_EXT:-auto}
STUDY_EXT_MIN=${STUDY_EXT_MIN:-3000}
SHIPPED=$SRCDIR/trajectories/dce-hf-adz
EXT=$SRCDIR/trajectories/dce-hf-adz-ext

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}
log() {
    echo "$(date '+%H:%M:%S') $*" >&2
}

[ -x "$RPR" ] || die "no rpr program at $RPR (set BUILD or RPR)"
command -v xz >/dev/null 2>&1 || die "xz is needed"
mkdir -p "$STUDY_WORK" "$RESULTS" || exit 1

# The data sets of the pool, in order: the shipped set, then the extension
# when it has been collected (its geoms.xyz.xz exists) and, with STUDY_EXT
# auto, when both together have at least STUDY_EXT_MIN geometries (the
# psi4 pipeline collects partial extensions while it runs; each would give
# a new pool and new results).
pool_sets() {
    echo "$SHIPPED"
    [ -f "$EXT/geoms.xyz.xz" ] || return 0
    case $STUDY_EXT in
    yes) echo "$EXT" ;;
    no) ;;
    *)
        [ $(($(set_count "$SHIPPED") + $(set_count "$EXT"))) -ge \
            "$STUDY_EXT_MIN" ] && echo "$EXT"
        ;;
    esac
    return 0
}

# Number of geometries of a set, from its dihedral list (one line each).
set_count() {
    xz -dc "$1/dihedrals.dat.xz" | awk 'NF > 0 { n++ } END { print n + 0 }'
}

# prepare_data: pool the sets, permute the records with a seeded
# Fisher-Yates shuffle (Park-Miller minimal standard generator, exact in
# awk's doubles, so mawk and gawk agree), and write the permuted pool as
# $DATA/all.{xyz,energies,gradients,dipoles,pol,dihedrals,source}.  Sets
# DATA and NPOOL.  Cached: a second call with the same sets and seed only
# reads the manifest.
prepare_data() {
    _pd_n=0
    _pd_names=""
    for _pd_s in $(pool_sets); do
        _pd_k=$(set_count "$_pd_s")
        _pd_n=$((_pd_n + _pd_k))
        _pd_names="$_pd_names $(basename "$_pd_s"):$_pd_k"
    done
    NPOOL=$_pd_n
    DATA=$STUDY_WORK/data-n$NPOOL-s$STUDY_SEED
    if [ -f "$DATA/manifest" ]; then
        return 0
    fi
    log "pooling$_pd_names (seed $STUDY_SEED) into $DATA"
    _pd_tmp=$DATA.tmp.$$
    rm -rf "$_pd_tmp"
    mkdir -p "$_pd_tmp" || exit 1
    for _pd_s in $(pool_sets); do
        _pd_k=$(set_count "$_pd_s")
        xz -dc "$_pd_s/geoms.xyz.xz" >>"$_pd_tmp/pool.xyz"
        xz -dc "$_pd_s/energies.dat.xz" >>"$_pd_tmp/pool.energies"
        xz -dc "$_pd_s/gradients.dat.xz" >>"$_pd_tmp/pool.gradients"
        xz -dc "$_pd_s/dipoles.dat.xz" >>"$_pd_tmp/pool.dipoles"
        xz -dc "$_pd_s/polarizabilities.dat.xz" >>"$_pd_tmp/pool.pol"
        xz -dc "$_pd_s/dihedrals.dat.xz" >>"$_pd_tmp/pool.dihedrals"
        awk -v n="$_pd_k" -v b="$(basename "$_pd_s")" \
            'BEGIN { for (i = 0; i < n; i++) print b, i }' \
            >>"$_pd_tmp/pool.source"
    done
    # perm: line k (0-based) of the permuted pool is record perm[k].
    awk -v n="$NPOOL" -v seed="$STUDY_SEED" 'BEGIN {
        m = 2147483647; s = seed % m; if (s <= 0) s += m - 1
        for (i = 0; i < n; i++) p[i] = i
        for (i = n - 1; i > 0; i--) {
            s = (s * 16807) % m
            j = s % (i + 1)
            t = p[i]; p[i] = p[j]; p[j] = t
        }
        for (i = 0; i < n; i++) print p[i]
    }' >"$_pd_tmp/perm"
    # Records of per lines each (lines per geometry), reordered by perm.
    _pd_lpg=$(($(head -n 1 "$_pd_tmp/pool.xyz") + 2))
    for _pd_f in xyz gradients energies dipoles pol dihedrals source; do
        _pd_per=1
        case $_pd_f in
        xyz | gradients) _pd_per=$_pd_lpg ;;
        esac
        awk -v per="$_pd_per" -v n="$NPOOL" -v name="$_pd_f" '
            FNR == NR { perm[FNR - 1] = $1; next }
            { rec[int((FNR - 1) / per)] = rec[int((FNR - 1) / per)] $0 "\n"
              nl++ }
            END {
                if (nl != per * n) {
                    printf "pool.%s: %d lines, want %d\n", name, nl,
                        per * n > "/dev/stderr"
                    exit 1
                }
                for (k = 0; k < n; k++) printf "%s", rec[perm[k]]
            }' "$_pd_tmp/perm" "$_pd_tmp/pool.$_pd_f" >"$_pd_tmp/all.$_pd_f" ||
            die "pooling failed"
    done
    rm -f "$_pd_tmp"/pool.*
    {
        echo "sets:$_pd_names"
        echo "npool: $NPOOL"
        echo "seed: $STUDY_SEED (Park-Miller Fisher-Yates, common.sh)"
    } >"$_pd_tmp/manifest"
    rm -rf "$DATA"
    mv "$_pd_tmp" "$DATA" || exit 1
}

# subset NAME FIRST COUNT: records FIRST .. FIRST+COUNT-1 of the permuted
# pool as $DATA/NAME.{xyz,energies,gradients,dipoles,pol,dihedrals}.
subset() {
    [ -f "$DATA/$1.xyz" ] && return 0
    _ss_lpg=$(($(head -n 1 "$DATA/all.xyz") + 2))
    for _ss_f in xyz gradients energies dipoles pol dihedrals source; do
        _ss_per=1
        case $_ss_f in
        xyz | gradients) _ss_per=$_ss_lpg ;;
        esac
        awk -v a="$(($2 * _ss_per))" -v b="$((($2 + $3) * _ss_per))" \
            'NR > a && NR <= b' "$DATA/all.$_ss_f" >"$DATA/$1.$_ss_f.tmp"
    done
    # xyz last: its presence marks a complete subset.
    for _ss_f in gradients energies dipoles pol dihedrals source xyz; do
        mv "$DATA/$1.$_ss_f.tmp" "$DATA/$1.$_ss_f"
    done
}

# The property's label file suffix.
values_of() {
    case $1 in
    dipole) echo dipoles ;;
    polarizability) echo pol ;;
    energy | scalar) echo energies ;;
    esac
}

# train_eval DIR NAME PROPERTY TRAIN TEST [rpr train options]: train
# DIR/NAME.xml on $DATA/TRAIN unless it exists, then evaluate it on
# $DATA/TEST into DIR/NAME.eval unless that exists.  DIR/NAME.time gets
# "wall user sys maxrss_kB" of the training.  Energy models with option
# --grad get the training gradients; energy models are evaluated with
# gradients.
train_eval() {
    _te_dir=$1 _te_name=$2 _te_prop=$3 _te_tr=$4 _te_te=$5
    shift 5
    mkdir -p "$_te_dir"
    _te_vals=$(values_of "$_te_prop")
    if [ ! -f "$_te_dir/$_te_name.xml" ]; then
        log "train $_te_name ($_te_prop, $(grep -c . "$DATA/$_te_tr.energies") geometries)"
        _te_gradopt=""
        _te_args=""
        for _te_a in "$@"; do
            if [ "$_te_a" = --grad ]; then
                _te_gradopt="--grad $DATA/$_te_tr.gradients"
            else
                _te_args="$_te_args $_te_a"
            fi
        done
        # shellcheck disable=SC2086
        if command -v /usr/bin/time >/dev/null 2>&1; then
            nice -n "$NICE" /usr/bin/time -f '%e %U %S %M' \
                -o "$_te_dir/$_te_name.time.tmp" "$RPR" train -q --property "$_te_prop" \
                --xyz "$DATA/$_te_tr.xyz" --values "$DATA/$_te_tr.$_te_vals" $_te_gradopt \
                $_te_args --out "$_te_dir/$_te_name.xml" 2>"$_te_dir/$_te_name.err" ||
                die "rpr train failed for $_te_name: $(tail -n 1 "$_te_dir/$_te_name.err")"
        else
            _te_t0=$(date +%s)
            nice -n "$NICE" "$RPR" train -q --property "$_te_prop" \
                --xyz "$DATA/$_te_tr.xyz" --values "$DATA/$_te_tr.$_te_vals" $_te_gradopt \
                $_te_args --out "$_te_dir/$_te_name.xml" 2>"$_te_dir/$_te_name.err" ||
                die "rpr train failed for $_te_name: $(tail -n 1 "$_te_dir/$_te_name.err")"
            echo "$(($(date +%s) - _te_t0)) nan nan nan" >"$_te_dir/$_te_name.time.tmp"
        fi
        mv "$_te_dir/$_te_name.time.tmp" "$_te_dir/$_te_name.time"
    fi
    if [ ! -f "$_te_dir/$_te_name.eval" ]; then
        _te_gradopt=""
        [ "$_te_prop" = energy ] && _te_gradopt="--grad $DATA/$_te_te.gradients"
        # shellcheck disable=SC2086
        "$RPR" eval --model "$_te_dir/$_te_name.xml" --xyz "$DATA/$_te_te.xyz" \
            --values "$DATA/$_te_te.$_te_vals" $_te_gradopt >"$_te_dir/$_te_name.eval.tmp" ||
            die "rpr eval failed for $_te_name"
        mv "$_te_dir/$_te_name.eval.tmp" "$_te_dir/$_te_name.eval"
    fi
}

# predict DIR NAME TEST: predictions (and frame health) of DIR/NAME.xml for
# $DATA/TEST into DIR/NAME.TEST.pred and DIR/NAME.TEST.health.
predict() {
    [ -f "$1/$2.$3.pred" ] && return 0
    "$RPR" predict --model "$1/$2.xml" --xyz "$DATA/$3.xyz" \
        --out "$1/$2.$3.pred.tmp" --health "$1/$2.$3.health" ||
        die "rpr predict failed for $2"
    mv "$1/$2.$3.pred.tmp" "$1/$2.$3.pred"
}

# rmse_of EVALFILE ROW: the RMSE column of a row of rpr eval's output.
rmse_of() {
    awk -v r="$2" '$1 == r { print $2; f = 1 } END { if (!f) print "nan" }' "$1"
}

# hyper_of MODEL: "comp sigma lambda" lines from rpr info.
hyper_of() {
    "$RPR" info "$1" | awk '
        /^  comp / { on = 1; next }
        /^sub-model/ { on = 0 }
        on && NF >= 3 && $1 != "lambda_grad" { print $1, $2, $3 }'
}

# The ML-MD trajectories of independent_md.sh (read by spectra.sh too):
# trajectory I starts at the Cl-C-C-Cl dihedral I * MD_DPHI (15) degrees.
# The data cover 0..180 only (IUPAC sign, as dihedrals.dat); a start at
# phi > 180 is the mirror image of one at 360 - phi with the CH2 hydrogens
# relabelled (same energy surface, same IR and Raman spectra), so with
# MD_MIRROR=yes (default) it starts at 360 - phi instead, in directory
# traj_NNm; MD_MIRROR=no keeps the literal start (traj_NN).
MD_DPHI=${MD_DPHI:-15}
MD_MIRROR=${MD_MIRROR:-yes}
md_phi() { # I -> start dihedral in degrees
    _mp_p=$(($1 * MD_DPHI))
    if [ "$MD_MIRROR" = yes ] && [ "$_mp_p" -gt 180 ]; then
        _mp_p=$((360 - _mp_p))
    fi
    echo "$_mp_p"
}
md_traj() { # I -> directory name under $DATA/md
    if [ "$MD_MIRROR" = yes ] && [ $(($1 * MD_DPHI)) -gt 180 ]; then
        printf 'traj_%02dm\n' "$1"
    else
        printf 'traj_%02d\n' "$1"
    fi
}
# eV per hartree, from rpr.h (RPR_EV_PER_HARTREE).
# The XYZ frames of file $1 with H5<->H6 and H7<->H8 of dichloroethane
# swapped (lines 7-10 of each 10-line frame), on stdout: the same molecule
# with the hydrogens relabelled, which moves no atom.
swap_hydrogens() {
    awk 'NR == 1 { per = $1 + 2 }
        { l = (NR - 1) % per; line[l] = $0 }
        l == per - 1 {
            for (k = 0; k < per; k++) {
                j = k
                if (k == 6) j = 7; else if (k == 7) j = 6
                else if (k == 8) j = 9; else if (k == 9) j = 8
                print line[j]
            }
        }' "$1"
}
# train_relabel DIR PROP DESC KERNEL FRAME TRAIN TEST: DIR/PROP-DESC-KERNEL-
# FRAME-relabel.xml, trained with --relabel $RELABEL.  independent_md.sh
# and spectra.sh both use the trajectories' models so trained, under this
# one name and these options: whichever runs first trains them.
train_relabel() {
    train_eval "$1" "$2-$3-$4-$5-relabel" "$2" "$6" "$7" --descriptor "$3" \
        --kernel "$4" --frame "$5" --relabel "$RELABEL"
}
# step_changes PRED: "row change" for every row of a prediction file after
# the first: the norm of its change from the row before (Euclidean for the
# 3 dipole columns; Frobenius for the 6 polarizability columns xx xy xz yy
# yz zz, off-diagonals counted twice).
step_changes() {
    awk '{ d = 0
        for (i = 1; i <= NF; i++) {
            w = (NF == 6 && (i == 2 || i == 3 || i == 5)) ? 2 : 1
            if (NR > 1) d += w * ($i - p[i]) ^ 2
            p[i] = $i }
        if (NR > 1) printf "%d %.9g\n", NR, sqrt(d) }' "$1"
}
rpr_ev_per_hartree() {
    sed -n 's/^#define RPR_EV_PER_HARTREE \([0-9.eE+-]*\).*/\1/p' \
        "$SRCDIR/src/rpr.h"
}
# dihedral_series XYZ: "t_fs phi" per frame of an XYZ file in DCE atom
# order (C1 C2 Cl1 Cl2 ...), phi the signed Cl1-C1-C2-Cl2 dihedral in
# (-180, 180], IUPAC sign as dihedrals.dat (atan2(|b2| b1.(b2 x b3),
# (b1 x b2).(b2 x b3)), b1 = C1 - Cl1, b2 = C2 - C1, b3 = Cl2 - C2).
dihedral_series() {
    awk 'NR == 1 { per = $1 + 2 }
        { l = (NR - 1) % per }
        l == 1 { t = "nan"
            for (f = 1; f <= NF; f++) if ($f ~ /^t_fs=/) t = substr($f, 6) }
        l >= 2 && l <= 5 {
            a = l - 1; x[a] = $2; y[a] = $3; z[a] = $4
            if (l == 5) {
                b1x = x[1] - x[3]; b1y = y[1] - y[3]; b1z = z[1] - z[3]
                b2x = x[2] - x[1]; b2y = y[2] - y[1]; b2z = z[2] - z[1]
                b3x = x[4] - x[2]; b3y = y[4] - y[2]; b3z = z[4] - z[2]
                n1x = b1y * b2z - b1z * b2y; n1y = b1z * b2x - b1x * b2z
                n1z = b1x * b2y - b1y * b2x
                n2x = b2y * b3z - b2z * b3y; n2y = b2z * b3x - b2x * b3z
                n2z = b2x * b3y - b2y * b3x
                nb = sqrt(b2x * b2x + b2y * b2y + b2z * b2z)
                yy = nb * (b1x * n2x + b1y * n2y + b1z * n2z)
                xx = n1x * n2x + n1y * n2y + n1z * n2z
                printf "%s %.4f\n", t, atan2(yy, xx) * 45 / atan2(1, 1)
            }
        }' "$1"
}

# write_atomic FILE: stdin to FILE through a temporary name.
write_atomic() {
    cat >"$1.tmp.$$" && mv "$1.tmp.$$" "$1"
}

# The rpr version and the source commit, for the pages.  Models and
# evaluations are cached, so they may come from an earlier run: the pages
# say so.
provenance() {
    _pv_v=$("$RPR" --version 2>/dev/null | head -n 1)
    _pv_c=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    _pv_d=""
    [ -n "$(git -C "$SRCDIR" status --porcelain -- src nx_interface \
        2>/dev/null)" ] && _pv_d=" plus uncommitted changes in src/ or nx_interface/"
    echo "page written by $_pv_v, source commit $_pv_c$_pv_d, $(date -u '+%Y-%m-%d %H:%M UTC'); models and evaluations cached in the work directory since they were first computed (delete them to recompute)"
}
