#!/bin/sh
# spectra.sh - issue 6, item 2d: IR and Raman spectra of the ML-MD
# trajectories of independent_md.sh, with the experimental band positions
# of the reference notes marked, per conformer, and the frequency scaling
# factor for HF stated and measured.
#
#   cd _build_study && sh ../trajectories/study/independent_md.sh   # first: the trajectories
#   cd _build_study && sh ../trajectories/study/spectra.sh
#
# Spectra from the dipoles and polarizabilities rpr-nx recorded at every
# step (RESULTS/rpr-properties.dat: the MD's own RPR models, by default
# RE gaussian with the Kabsch frame, rpr's defaults), and from the same
# trajectories re-predicted with the models of SPEC_COMPARE (default: the
# MD's descriptor and kernel with the paper's principal-axes frame), to
# show what the frame does to a spectrum.  Trajectories are assigned to
# the anti or gauche conformer by the fraction of steps with
# |Cl-C-C-Cl| > 120 deg.  Writes docs/results/spectra.md, spectra.png and
# spectra-frames.png.
# Settings (environment): SCALE (0.90) frequency scaling factor of the
# figures; SPEC_MAP: how the g- half of the dynamics (outside the data's
# 0..180 deg) is predicted for the main figure and the scaling factor, by
# re-predicting along the trajectories: relabel (default) with the MD's
# descriptor, kernel and frame trained with rpr train --relabel RELABEL
# (5-6,7-8; a smooth blend of the two hydrogen labellings, what run.sh
# uses), mirror with the MD's own models and the hydrogen labels swapped
# where the dihedral is negative (a hard switch; see props below), none
# for the properties rpr-nx recorded; the comparison models are treated
# the same way.  SPEC_COMPARE descriptor:kernel:frame ("" for none); MD_N,
# MD_DPHI, MD_MIRROR, MD_TMAX, MD_T, NTRAIN, NTEST as in independent_md.sh;
# SPEC_OPTS, extra options of rpr spectrum.
STUDY_DIR=$(cd "$(dirname "$0")" && pwd) || exit 1
. "$STUDY_DIR/common.sh"

SCALE=${SCALE:-0.90}
MD_N=${MD_N:-24}
MD_T=${MD_T:-300}
MD_TMAX=${MD_TMAX:-5000}
NTRAIN=${NTRAIN:-1000}
SPEC_OPTS=${SPEC_OPTS:-}
SPEC_MAP=${SPEC_MAP:-relabel}
RELABEL=${RELABEL:-5-6,7-8}
NTEST=${NTEST:-1000}
case $SPEC_MAP in
relabel | mirror | none) ;;
*) die "SPEC_MAP is relabel, mirror or none (got $SPEC_MAP)" ;;
esac
command -v gnuplot >/dev/null 2>&1 || die "gnuplot is needed"

prepare_data
MD=$DATA/md
[ -f "$MD/rpr-nx.par" ] || die "no trajectories in $MD: run independent_md.sh first"
# The MD's dipole model, from rpr-nx.par: models/dipole-DESC-KERNEL-FRAME.xml
md_name=$(sed -n 's|^dipole = models/dipole-\(.*\)\.xml$|\1|p' "$MD/rpr-nx.par")
md_d=$(echo "$md_name" | cut -d- -f1)
md_k=$(echo "$md_name" | cut -d- -f2)
md_f=$(echo "$md_name" | cut -d- -f3)
md_name=$md_d-$md_k-$md_f
[ -n "$md_f" ] || die "$MD/rpr-nx.par names no dipole model"
SPEC_COMPARE=${SPEC_COMPARE-$md_d:$md_k:principal}
SPEC=$MD/spectra
mkdir -p "$SPEC"

# Completed trajectories: en.dat reaches MD_TMAX.
TRAJ=""
i=0
while [ "$i" -lt "$MD_N" ]; do
    nn=$(md_traj "$i")
    if [ -f "$MD/$nn/RESULTS/en.dat" ] &&
        awk -v t="$MD_TMAX" '$1 + 0 >= t - 1e-6 { f = 1 } END { exit !f }' \
            "$MD/$nn/RESULTS/en.dat"; then
        TRAJ="$TRAJ $nn"
    fi
    i=$((i + 1))
done
ntraj=$(echo "$TRAJ" | wc -w)
[ "$ntraj" -gt 0 ] || die "no completed trajectory in $MD"

# ---------------------------------------------------------------- conformers
# Per trajectory: fraction of steps with |Cl-C-C-Cl| > 120 deg (atoms 3, 1,
# 2, 4) and the mean |dihedral|.
for nn in $TRAJ; do
    [ -f "$SPEC/$nn.conf" ] && continue
    dihedral_series "$MD/$nn/RESULTS/geometries.xyz" | awk '
        { phi = $2; if (phi < 0) phi = -phi
          n++; s += phi; if (phi > 120) na++ }
        END { printf "%.4f %.2f\n", na / n, s / n }' |
        write_atomic "$SPEC/$nn.conf"
done
ANTI=""
GAUCHE=""
for nn in $TRAJ; do
    if awk '{ exit !($1 > 0.5) }' "$SPEC/$nn.conf"; then
        ANTI="$ANTI $nn"
    else
        GAUCHE="$GAUCHE $nn"
    fi
done

# ---------------------------------------------------------------- properties
# props MODELSET NN: path of the property file of trajectory NN for a
# model set: "md" is rpr-nx's own record; otherwise props_make re-predicts
# along RESULTS/geometries.xyz (every step) with $SPEC/SET/{dipole,
# polarizability}.xml.  A set whose name ends in -mirror maps every step
# into the data first: where the dihedral is negative (IUPAC sign; the data
# cover 0..180) it predicts at the same geometry with the hydrogen labels
# of each carbon swapped (H1 <-> H2, H3 <-> H4), which moves no atom, so
# the lab-frame dipole and polarizability are those of the same molecule,
# while the descriptors see the mirror image of a geometry inside the data
# (independent.md, mirror check).
props() {
    if [ "$1" = md ]; then
        echo "$MD/$2/RESULTS/rpr-properties.dat"
    else
        echo "$SPEC/$1/$2.dat"
    fi
}
props_make() {
    _pp_f=$(props "$1" "$2")
    [ -f "$_pp_f" ] && return 0
    _pp_g=$MD/$2/RESULTS/geometries.xyz
    _pp_b=$SPEC/$1/$2
    log "re-predict trajectory $2 with $1"
    "$RPR" predict --model "$SPEC/$1/dipole.xml" --xyz "$_pp_g" \
        --out "$_pp_b.mu" || die "rpr predict failed"
    "$RPR" predict --model "$SPEC/$1/polarizability.xml" --xyz "$_pp_g" \
        --out "$_pp_b.alpha" || die "rpr predict failed"
    case $1 in
    *-mirror)
        swap_hydrogens "$_pp_g" >"$_pp_b.swapped.xyz"
        "$RPR" predict --model "$SPEC/$1/dipole.xml" \
            --xyz "$_pp_b.swapped.xyz" --out "$_pp_b.smu" ||
            die "rpr predict failed"
        "$RPR" predict --model "$SPEC/$1/polarizability.xml" \
            --xyz "$_pp_b.swapped.xyz" --out "$_pp_b.salpha" ||
            die "rpr predict failed"
        dihedral_series "$_pp_g" >"$_pp_b.phi"
        paste -d ' ' "$_pp_b.phi" "$_pp_b.mu" "$_pp_b.alpha" "$_pp_b.smu" \
            "$_pp_b.salpha" | awk '{
                o = ($2 < 0) ? 11 : 2
                printf "%s", $1
                for (k = 1; k <= 9; k++) printf " %s", $(o + k)
                printf "\n"
            }' >"$_pp_b.rows"
        _pp_how="with $1, hydrogen labels swapped where the dihedral < 0,"
        rm -f "$_pp_b.swapped.xyz" "$_pp_b.smu" "$_pp_b.salpha" "$_pp_b.phi"
        ;;
    *)
        awk 'NR == 1 { per = $1 + 2 } (NR - 1) % per == 1 {
                for (f = 1; f <= NF; f++) if ($f ~ /^t_fs=/) print substr($f, 6) }' \
            "$_pp_g" | paste -d ' ' - "$_pp_b.mu" "$_pp_b.alpha" >"$_pp_b.rows"
        _pp_how="with $1"
        ;;
    esac
    {
        echo "# rpr-nx properties, format 1"
        echo "# columns: t_fs mu_x mu_y mu_z alpha_xx alpha_xy alpha_xz alpha_yy alpha_yz alpha_zz"
        echo "# re-predicted by spectra.sh $_pp_how along $_pp_g"
        cat "$_pp_b.rows"
    } | write_atomic "$_pp_f"
    rm -f "$_pp_b.mu" "$_pp_b.alpha" "$_pp_b.rows"
}
# model_set NAME DIPOLE_XML POLARIZABILITY_XML: $SPEC/NAME/ with the models.
model_set() {
    mkdir -p "$SPEC/$1"
    [ -f "$SPEC/$1/dipole.xml" ] || cp "$2" "$SPEC/$1/dipole.xml"
    [ -f "$SPEC/$1/polarizability.xml" ] || cp "$3" "$SPEC/$1/polarizability.xml"
}
# MAIN: the set of the main figure and of the scaling factor; SETS: all.
# With SPEC_MAP relabel, the MD's models with --relabel are those of
# independent_md.sh (train_relabel).
sfx=""
[ "$SPEC_MAP" != none ] && sfx=-$SPEC_MAP
ntest=$((NPOOL - NTRAIN))
[ "$ntest" -gt "$NTEST" ] && ntest=$NTEST
subset "train$NTRAIN" 0 "$NTRAIN"
subset "test$NTRAIN-$ntest" "$NTRAIN" "$ntest"
MAIN=md
SETS=md
if [ "$SPEC_MAP" != none ]; then
    MAIN=$md_name$sfx
    mdir=$MD/models mname=$md_name
    if [ "$SPEC_MAP" = relabel ]; then
        mname=$md_name-relabel
        for prop in dipole polarizability; do
            train_relabel "$mdir" "$prop" "$md_d" "$md_k" "$md_f" \
                "train$NTRAIN" "test$NTRAIN-$ntest"
        done
    fi
    model_set "$MAIN" "$mdir/dipole-$mname.xml" \
        "$mdir/polarizability-$mname.xml"
    SETS="md $MAIN"
    for nn in $TRAJ; do
        props_make "$MAIN" "$nn"
    done
fi
if [ -n "$SPEC_COMPARE" ]; then
    c_d=${SPEC_COMPARE%%:*} c_f=${SPEC_COMPARE##*:} c_k=${SPEC_COMPARE#*:}
    c_k=${c_k%:*}
    cmod=$c_d-$c_k-$c_f
    cset=$cmod$sfx
    cname=$cmod
    [ "$SPEC_MAP" = relabel ] && cname=$cmod-relabel
    for prop in dipole polarizability; do
        if [ "$SPEC_MAP" = relabel ]; then
            train_relabel "$SPEC/models" "$prop" "$c_d" "$c_k" "$c_f" \
                "train$NTRAIN" "test$NTRAIN-$ntest"
        else
            train_eval "$SPEC/models" "$prop-$cmod" "$prop" "train$NTRAIN" \
                "test$NTRAIN-$ntest" --descriptor "$c_d" --kernel "$c_k" \
                --frame "$c_f"
        fi
    done
    model_set "$cset" "$SPEC/models/dipole-$cname.xml" \
        "$SPEC/models/polarizability-$cname.xml"
    SETS="$SETS $cset"
    for nn in $TRAJ; do
        props_make "$cset" "$nn"
    done
fi

# ---------------------------------------------------------------- spectra
# spectrum KIND SET GROUP SCALE: $SPEC/SET-GROUP-SCALE.KIND, and its jump
# warnings in .jumps.
spectrum() {
    _sp_kind=$1 _sp_set=$2 _sp_group=$3 _sp_scale=$4
    _sp_out=$SPEC/$_sp_set-$_sp_group-$_sp_scale.$_sp_kind
    [ -f "$_sp_out" ] && return 0
    case $_sp_group in
    all) _sp_list=$TRAJ ;;
    anti) _sp_list=$ANTI ;;
    gauche) _sp_list=$GAUCHE ;;
    esac
    [ -n "$_sp_list" ] || return 0
    set --
    for _sp_n in $_sp_list; do set -- "$@" "$(props "$_sp_set" "$_sp_n")"; done
    # shellcheck disable=SC2086
    "$RPR" spectrum "$_sp_kind" -T "$MD_T" --scale "$_sp_scale" $SPEC_OPTS \
        -o "$_sp_out.tmp" "$@" 2>"$_sp_out.log" ||
        die "rpr spectrum failed: $(tail -n 1 "$_sp_out.log")"
    mv "$_sp_out.tmp" "$_sp_out"
}
for s in $SETS; do
    for g in all anti gauche; do
        for kind in ir raman; do
            spectrum "$kind" "$s" "$g" "$SCALE"
        done
    done
done
for g in all anti gauche; do
    spectrum ir "$MAIN" "$g" 1
    spectrum raman "$MAIN" "$g" 1
done

# colnum FILE NAME: 1-based column of NAME in the "# columns:" line.
colnum() {
    awk -v n="$2" '/^# columns:/ { for (i = 3; i <= NF; i++) if ($i == n) {
        print i - 2; exit } }' "$1"
}
# peak FILE COLUMN LO HI: wavenumber of the highest local maximum in
# [LO, HI] (a point above both neighbours) that reaches PEAK_MIN (0.02) of
# the spectrum's maximum above 200 cm^-1, or nan if there is none.
peak() {
    awk -v c="$2" -v lo="$3" -v hi="$4" -v r="${PEAK_MIN:-0.02}" '!/^#/ {
        n++; x[n] = $1; y[n] = $c; if ($1 >= 200 && $c > g) g = $c }
        END {
            for (i = 2; i < n; i++)
                if (x[i] >= lo && x[i] <= hi && y[i] > y[i - 1] &&
                    y[i] >= y[i + 1] && y[i] >= r * g && (!f || y[i] > m)) {
                    m = y[i]; b = x[i]; f = 1 }
            if (f) printf "%.1f", b; else printf "nan"
        }' "$1"
}

# ---------------------------------------------------------------- bands
# Experimental positions (cm^-1) from the reference notes on spectra (their
# section 7: Shimanouchi NSRDS-NBS 39 via the NIST WebBook, and Kuratani
# 1952), as conformer:activity:position:confidence.  Most are marked
# unverified there; see the page.
BANDS="anti:IR:3005:medium:CH2 asym. stretch
anti:IR:2983:medium:CH2 sym. stretch
anti:IR:1461:medium:CH2 scissor
anti:IR:1232:high:CH2 wag
anti:IR:1123:medium-low:CH2 twist
anti:IR:773:low:CH2 rock
anti:IR:728:medium:C-Cl asym. stretch
anti:IR:222:low:CCl deformation
anti:R:3005:medium:CH2 asym. stretch
anti:R:2957:medium:CH2 sym. stretch
anti:R:1445:medium:CH2 scissor
anti:R:1304:medium:CH2 wag
anti:R:1264:medium:CH2 twist
anti:R:1052:medium:C-C stretch
anti:R:989:low:CH2 rock
anti:R:754:high:C-Cl sym. stretch
anti:R:300:medium:CCl deformation
gauche:IR:1430:high:CH2 scissor
gauche:IR:1312:high:CH2 wag
gauche:IR:1284:high:CH2 wag
gauche:IR:685:low:C-Cl stretch (B)
gauche:R:1030:low:C-C stretch
gauche:R:943:low:CH2 rock
gauche:R:880:low:CH2 rock
gauche:R:654:high:C-Cl stretch (A)
gauche:R:411:low-medium:CCl deformation
gauche:R:265:low-medium:CCl deformation"
# Bands used to measure the scaling factor: strong, isolated, well assigned
# (the reference notes' "most robust" checks), away from the C-H stretches
# whose classical MD positions carry anharmonic and zero-point errors.
FIT="anti:IR:728 anti:IR:1232 anti:R:754 anti:R:1304 anti:R:1052 gauche:R:654"
marks() { # ACTIVITY CONFORMER -> gnuplot arrows
    echo "$BANDS" | while IFS=: read -r c a p conf name; do
        [ "$a" = "$1" ] && [ "$c" = "$2" ] || continue
        lt=1
        [ "$c" = gauche ] && lt=2
        echo "set arrow from $p, graph 0 to $p, graph 1 nohead dt $lt lw 1 lc rgb '#999999'"
    done
}

# ---------------------------------------------------------------- figures
FIG=$RESULTS/spectra.png
irc=$(colnum "$SPEC/$MAIN-all-$SCALE.ir" ir)
ruc=$(colnum "$SPEC/$MAIN-all-$SCALE.raman" unpolarised)
rpc=$(colnum "$SPEC/$MAIN-all-$SCALE.raman" perpendicular)
# Legend names of the sets.
label_of() {
    case $1 in
    md) echo "$md_d $md_k $md_f as recorded by rpr-nx" ;;
    *-mirror) echo "$(echo "${1%-mirror}" | tr '-' ' '), mirror-mapped" ;;
    *-relabel) echo "$(echo "${1%-relabel}" | tr '-' ' '), --relabel" ;;
    *) echo "$1" | tr '-' ' ' ;;
    esac
}
lines() { # KIND COLUMN
    printf '"%s" u 1:%s w l lw 1.5 lc rgb "black" t "all %d trajectories"' \
        "$SPEC/$MAIN-all-$SCALE.$1" "$2" "$ntraj"
    [ -f "$SPEC/$MAIN-anti-$SCALE.$1" ] &&
        printf ', "%s" u 1:%s w l lw 1 lc rgb "#1f77b4" t "anti (%d)"' \
            "$SPEC/$MAIN-anti-$SCALE.$1" "$2" "$(echo "$ANTI" | wc -w)"
    [ -f "$SPEC/$MAIN-gauche-$SCALE.$1" ] &&
        printf ', "%s" u 1:%s w l lw 1 lc rgb "#d62728" t "gauche (%d)"' \
            "$SPEC/$MAIN-gauche-$SCALE.$1" "$2" "$(echo "$GAUCHE" | wc -w)"
    return 0
}
{
    cat <<EOF
set terminal pngcairo size 1100,820 font "Sans,10"
set output "$FIG.tmp"
set multiplot layout 2,1 title "ML-MD ($ntraj x $MD_TMAX fs, $MD_T K), $(label_of "$MAIN"); wavenumbers x $SCALE; grey: experiment (solid anti, dashed gauche)"
set xrange [200:3300]
set xtics 200
set grid xtics lc rgb "#eeeeee"
set key top center font ",9"
set xlabel "scaled wavenumber / cm^{-1}"
set ylabel "A / km mol^{-1} (cm^{-1})^{-1}"
set title "IR absorption"
$(marks IR anti)
$(marks IR gauche)
plot $(lines ir "$irc")
unset arrow
set ylabel "d{/Symbol s}/d{/Symbol W} / 10^{-30} m^2 sr^{-1} (cm^{-1})^{-1}"
set title "Raman, unpolarised detection (laser 20000 cm^{-1})"
$(marks R anti)
$(marks R gauche)
plot $(lines raman "$ruc")
unset multiplot
EOF
} | gnuplot || die "gnuplot failed"
mv "$FIG.tmp" "$FIG"
if [ -n "$SPEC_COMPARE" ]; then
    FIG2=$RESULTS/spectra-frames.png
    gnuplot <<EOF || die "gnuplot failed"
set terminal pngcairo size 1100,820 font "Sans,10"
set output "$FIG2.tmp"
set multiplot layout 2,1 title "The same $ntraj trajectories: $md_f frame (black), $c_f frame (green)$([ "$MAIN" != md ] && echo ", $md_f frame as recorded, without $SPEC_MAP (grey)")"
set xrange [0:3300]
set xtics 200
set logscale y
set grid xtics ytics lc rgb "#eeeeee"
set key top right font ",9"
set xlabel "scaled wavenumber / cm^{-1}"
set ylabel "A / km mol^{-1} (cm^{-1})^{-1}"
set format y "10^{%L}"
set title "IR absorption (log scale; negative values of the windowed transform not drawn)"
plot $([ "$MAIN" != md ] && echo "\"$SPEC/md-all-$SCALE.ir\" u 1:$irc w l lw 1 lc rgb \"#aaaaaa\" t \"$(label_of md)\", ")"$SPEC/$MAIN-all-$SCALE.ir" u 1:$irc w l lw 1.5 lc rgb "black" t "$(label_of "$MAIN")", \
     "$SPEC/$cset-all-$SCALE.ir" u 1:$irc w l lw 1 lc rgb "#2ca02c" t "$(label_of "$cset")"
set ylabel "d{/Symbol s}/d{/Symbol W} / 10^{-30} m^2 sr^{-1} (cm^{-1})^{-1}"
set title "Raman, perpendicular (anisotropic only; log scale)"
set xrange [200:3300]
plot $([ "$MAIN" != md ] && echo "\"$SPEC/md-all-$SCALE.raman\" u 1:$rpc w l lw 1 lc rgb \"#aaaaaa\" t \"$(label_of md)\", ")"$SPEC/$MAIN-all-$SCALE.raman" u 1:$rpc w l lw 1.5 lc rgb "black" t "$(label_of "$MAIN")", \
     "$SPEC/$cset-all-$SCALE.raman" u 1:$rpc w l lw 1 lc rgb "#2ca02c" t "$(label_of "$cset")"
unset multiplot
EOF
    mv "$FIG2.tmp" "$FIG2"
fi

# ---------------------------------------------------------------- page
# map_text: how the main figure's properties were made (SPEC_MAP).
map_text() {
    case $SPEC_MAP in
    relabel)
        cat <<EOF
, and
  re-predicted at every step by the same descriptor, kernel and frame
  trained with \`rpr train --relabel $RELABEL\` (docs/models.md,
  Relabelling blend; what run.sh uses): the prediction blends the two
  hydrogen labellings with a smooth weight from the training data's
  density, so the g- side (outside the data's 0..180) is predicted as the
  mirror image of a geometry inside the data, and the anti seam at 180 deg
  has no switch.  The models as recorded extrapolate there (the mirror
  check of independent.md).  The main figure and the scaling factor use
  the --relabel properties
EOF
        ;;
    mirror)
        cat <<EOF
, and
  re-predicted at every step with the mirror map: where the Cl-C-C-Cl
  dihedral is negative (the g- side, outside the data's 0..180) the models
  are evaluated at the same geometry with the two hydrogens of each carbon
  swapped, which moves no atom (the same molecule, the same lab-frame
  dipole and polarizability) but shows the descriptors the mirror image of
  a geometry inside the data (a hard switch where the dihedral changes
  sign).  Without it the models extrapolate there: see the mirror check of
  independent.md.  The main figure and the scaling factor use the
  mirror-mapped $md_d $md_k $md_f properties
EOF
        ;;
    esac # $(...) drops the last line break
}
jumps() { # SET KIND: jump warnings of the all-trajectory spectrum
    awk '/changes by/ { n++ } /and [0-9]+ more jumps/ {
        for (i = 1; i <= NF; i++) if ($i == "and") n += $(i + 1) }
        END { printf "%d", n }' "$SPEC/$1-all-$SCALE.$2.log"
}
{
    cat <<EOF
# IR and Raman spectra of the ML-MD trajectories

Issue 6, item 2d.  Generated by \`trajectories/study/spectra.sh\`; do not
edit by hand.

    cd _build_study && sh ../trajectories/study/independent_md.sh && sh ../trajectories/study/spectra.sh

- **Trajectories**: the $ntraj of $MD_N runs of
  [independent.md](independent.md) that reached $MD_TMAX fs (rpr-md, KREG
  potential, $MD_T K, NVE, random orientation, 0.5 fs step$([ "$MD_MIRROR" = yes ] && echo "; starts above 180 deg mirrored to 360 - phi, see there"));
  dipoles and polarizabilities from the $md_d $md_k $md_f models (rpr's
  defaults), recorded by rpr-nx at every step in the lab frame$(map_text).  Conformer of a trajectory: anti if more
  than half of its steps have |Cl-C-C-Cl| > 120 deg, else gauche
  (anti:$ANTI; gauche:$GAUCHE).
- **Spectra**: \`rpr spectrum ir|raman -T $MD_T --scale S\` (defaults
  otherwise: derivative autocorrelation, Hann window, depth min(4096,
  steps/2), harmonic quantum correction, trajectories pooled; see
  docs/spectra.md)$([ -n "$SPEC_OPTS" ] && echo " $SPEC_OPTS").  IR in km/mol per cm^-1; Raman
  unpolarised dsigma/dOmega in 1e-30 m^2/sr per cm^-1 for a 20000 cm^-1
  laser.
- **Frequency scaling**: the figures use S = $SCALE, the usual correction
  of Hartree-Fock's overestimate of vibrational frequencies by about 10 %
  (trajectories/dce-hf-adz/README.md).  The factor that this MD needs is
  measured below from the unscaled spectra (S = 1).
- **Experiment**: band positions of the reference notes on spectra
  (section 7; Shimanouchi's tables via the NIST WebBook, Kuratani 1952);
  IR mostly gas, Raman mostly liquid.  The notes mark most positions
  unverified (only the high-confidence rows were checked); they are drawn
  as grey lines, solid for anti, dashed for gauche.
- **Run**: $(provenance).

![IR and Raman spectra](spectra.png)

## Scaling factor

Each fitted band: the highest local maximum of the unscaled spectrum of
the band's conformer (IR absorption or unpolarised Raman) within +-10 % of
experiment / $SCALE that reaches 2 % of the spectrum's maximum above
200 cm^-1 (nan: none there, or no trajectory of that conformer); the
factor is experiment / peak.
The factor absorbs HF's error, the anharmonicity of classical MD at
$MD_T K and the model errors together.

| band | conformer | activity | experiment (cm^-1) | peak, unscaled (cm^-1) | experiment / peak |
|---|---|---|---:|---:|---:|
EOF
    for b in $FIT; do
        c=${b%%:*} r=${b#*:}
        a=${r%%:*} p=${r#*:}
        name=$(echo "$BANDS" | awk -F: -v b="$b" '$1 ":" $2 ":" $3 == b { print $5 }')
        if [ "$a" = IR ]; then
            f=$SPEC/$MAIN-$c-1.ir col=$irc
        else
            f=$SPEC/$MAIN-$c-1.raman col=$ruc
        fi
        lo=$(awk -v p="$p" -v s="$SCALE" 'BEGIN { print p / s * 0.9 }')
        hi=$(awk -v p="$p" -v s="$SCALE" 'BEGIN { print p / s * 1.1 }')
        pk=nan
        [ -f "$f" ] && pk=$(peak "$f" "$col" "$lo" "$hi")
        printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$c" "$a" "$p" "$pk" \
            "$(awk -v p="$p" -v k="$pk" 'BEGIN { if (k + 0 > 0) printf "%.4f", p / k; else print "nan" }')"
    done >"$SPEC/fit.rows"
    cat "$SPEC/fit.rows"
    awk -F '|' '$7 + 0 > 0 { s += $7; ss += $7 * $7; n++ }
        END { if (n > 1) { m = s / n; sd = sqrt((ss - n * m * m) / (n - 1))
            printf "\nMean factor over %d bands: %.3f (standard deviation %.3f); the figures use %s.\n", n, m, sd, "'"$SCALE"'" } }' "$SPEC/fit.rows"
    cat <<EOF

## Frame seams

\`rpr spectrum\` warns where the dipole or polarizability changes by more
than 10 times its median per-step change, the signature of a frame seam
(counted over all $ntraj trajectories):

| properties | IR (dipole) warnings | Raman (polarizability) warnings |
|---|---:|---:|
| $(label_of md) | $(jumps md ir) | $(jumps md raman) |
EOF
    [ "$MAIN" != md ] &&
        echo "| $(label_of "$MAIN") (re-predicted) | $(jumps "$MAIN" ir) | $(jumps "$MAIN" raman) |"
    if [ -n "$SPEC_COMPARE" ]; then
        cat <<EOF
| $(label_of "$cset") (re-predicted) | $(jumps "$cset" ir) | $(jumps "$cset" raman) |

![Kabsch against principal frame](spectra-frames.png)

A seam puts a spike into the time derivative, whose spectrum is white: it
raises the whole spectrum, most visibly where the true spectrum is weak
(between bands and above the C-H stretches).
EOF
    fi
    cat <<EOF

## Experimental band positions used

| conformer | activity | mode | cm^-1 | confidence (reference notes) |
|---|---|---|---:|---|
EOF
    echo "$BANDS" | awk -F: '{ printf "| %s | %s | %s | %s | %s |\n", $1,
        ($2 == "R" ? "Raman" : "IR"), $5, $3, $4 }'
    # The hand-written reading of the figures, if there is one.
    if [ -f "$STUDY_DIR/spectra-reading.md" ]; then
        printf '\n## Reading\n\n(Written by hand from the figures and tables above; spectra.sh appends\nit to the page.)\n\n'
        cat "$STUDY_DIR/spectra-reading.md"
    fi
} | write_atomic "$RESULTS/spectra.md"
log "wrote $RESULTS/spectra.md, $FIG"
