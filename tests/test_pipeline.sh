#!/bin/sh
# test_pipeline.sh - the reference-data pipeline (trajectories/pipeline) end
# to end on a few geometries: two very short restrained xtb windows, psi4
# labels of 3 draws in chunks of 1 (2 workers), resuming without recomputing,
# the error paths, collect, a new work directory restored from the
# collected set instead of relabelled, and the labels checked three ways by
# check.py:
# the exact formats and units of trajectories/dce-hf-adz, record 0 of the
# shipped set relabelled, and psi4 finite differences.  About a minute of
# CPU.  Needs xtb, psi4 and xz (exit 99 without them).
set -u
: "${srcdir:=.}"
pipe=$srcdir/trajectories/pipeline
gen=$pipe/generate.sh
for tool in xtb psi4 xz; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "test_pipeline.sh: $tool not found" >&2
        exit 99
    fi
done
# The interpreter psi4 was built for, as generate.sh picks it.
PYTHONPATH=${PYTHONPATH-}
eval "$(psi4 --psiapi-path)"
PYTHONPATH=${PYTHONPATH%:}
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# No __pycache__ in the (maybe read-only) source tree.
PYTHONDONTWRITEBYTECODE=1
export OMP_NUM_THREADS MKL_NUM_THREADS OPENBLAS_NUM_THREADS
export PYTHONDONTWRITEBYTECODE

dir=test_pipeline.dir
rm -rf "$dir"
mkdir "$dir" || exit 99
w=$dir/work
out=$dir/out
failures=0
fail() {
    echo "test_pipeline.sh: FAIL: $*" >&2
    failures=$((failures + 1))
}
# expect STATUS LOG command...: run, keep stdout+stderr in LOG, check status.
expect() {
    want=$1
    log=$2
    shift 2
    "$@" >"$log" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "exit $got, want $want: $* (output in $log)"
        sed 's/^/    /' "$log" >&2
    fi
}
contains() { # contains FILE TEXT
    grep -F -q -- "$2" "$1" || fail "$1 lacks '$2'"
}
# Inode, size and mtime (ns) of every file of the work tree that a resumed
# run must not touch (a file rewritten or recomputed gets a new inode).
snapshot() {
    find "$w/md" "$w/chunks" "$w/config.json" "$w/drawn.xyz" "$w/pool.xyz" \
        -type f -exec stat -c '%i %s %.9Y %n' {} + | sort -k4
}

# Two windows (60 and 180 degrees), 30 fs each, the first 10 fs dropped, one
# frame every 10 fs: a pool of 4 frames.
small="--windows 60,180 --md-time-ps 0.03 --md-discard-ps 0.01 --chunk-size 1"

# 1. Fresh run: sample, draw, label draws 0 and 1 in two parallel workers.
# shellcheck disable=SC2086
expect 0 "$dir/run1.log" sh "$gen" run --workdir "$w" $small --target 2 \
    --workers 2
contains "$dir/run1.log" "sampling: 0 of 2 windows done"
contains "$dir/run1.log" "labelling: 0 of 2 chunks done, 2 to go"
for f in "$w/md/window_00/frames.xyz" "$w/md/window_01/frames.xyz"; do
    [ "$(grep -c '^8$' "$f")" -eq 2 ] || fail "$f: want 2 frames"
done
[ "$(grep -c '^8$' "$w/drawn.xyz")" -eq 4 ] || fail "drawn.xyz: want 4"
[ -f "$w/chunks/chunk_0000/meta.json" ] || fail "chunk 0 missing"
[ -f "$w/chunks/chunk_0001/meta.json" ] || fail "chunk 1 missing"
[ -e "$w/chunks/chunk_0002" ] && fail "chunk 2 labelled beyond --target 2"

# Meanwhile label record 0 of the shipped set for step 7.
xz -dc "$srcdir/trajectories/dce-hf-adz/geoms.xyz.xz" | head -n 10 \
    >"$dir/record0.xyz"
python3 "$pipe/label.py" xyz "$dir/record0.xyz" "$dir/record0" \
    >"$dir/label0.log" 2>&1 &
label0=$!

# 2. Resume after an interruption with a larger target: leftovers of the
# interrupted run are removed, finished work is kept untouched, only draw 2
# is labelled.  Options stored in config.json need not be repeated.
snapshot >"$dir/before2"
mkdir "$w/chunks/chunk_0002.tmp.99999" "$w/md/window_00.tmp.99999"
echo junk >"$w/chunks/chunk_0002.tmp.99999/energies.dat"
expect 0 "$dir/run2.log" sh "$gen" run --workdir "$w" --target 3
contains "$dir/run2.log" "sampling: 2 of 2 windows done"
contains "$dir/run2.log" "labelling: 2 of 3 chunks done, 1 to go"
for d in "$w/chunks/chunk_0002.tmp.99999" "$w/md/window_00.tmp.99999"; do
    [ -e "$d" ] && fail "$d not removed"
done
[ -f "$w/chunks/chunk_0002/meta.json" ] || fail "chunk 2 missing"
snapshot | grep -v chunk_0002 >"$dir/after2"
cmp -s "$dir/before2" "$dir/after2" ||
    fail "finished work changed on resume: diff $dir/before2 $dir/after2"

# 3. A run with nothing to do computes nothing.
snapshot >"$dir/before3"
expect 0 "$dir/run3.log" sh "$gen" run --workdir "$w" --target 3 --workers 2
contains "$dir/run3.log" "labelling: 3 of 3 chunks done, 0 to go"
snapshot >"$dir/after3"
cmp -s "$dir/before3" "$dir/after3" ||
    fail "a run with nothing to do changed: diff $dir/before3 $dir/after3"
expect 0 "$dir/status.log" sh "$gen" status --workdir "$w"
contains "$dir/status.log" "windows sampled: 2 of 2"
contains "$dir/status.log" "chunks finished: 3 in a row from 0 (3 geometries)"

# 4. Error paths.
expect 1 "$dir/err_seed.log" sh "$gen" run --workdir "$w" --target 3 \
    --seed 7
contains "$dir/err_seed.log" "has seed=20261204 but this run asks for 7"
expect 1 "$dir/err_pool.log" sh "$gen" run --workdir "$w" --target 5
contains "$dir/err_pool.log" "--target 5 exceeds the pool of 4 frames"
expect 2 "$dir/err_target.log" sh "$gen" run --workdir "$w" --target 0
contains "$dir/err_target.log" "must be >= 1"
expect 1 "$dir/err_discard.log" sh "$gen" run --workdir "$dir/bad" \
    --md-time-ps 0.01 --md-discard-ps 0.02
contains "$dir/err_discard.log" "--md-discard-ps must be in [0, md-time-ps)"
expect 1 "$dir/err_dump.log" sh "$gen" run --workdir "$dir/bad" \
    --md-time-ps 0.015 --md-discard-ps 0
contains "$dir/err_dump.log" "md_time_ps must be a whole number"
expect 1 "$dir/err_collect.log" sh "$gen" collect --workdir "$dir/none" \
    --outdir "$dir/none_out"
contains "$dir/err_collect.log" "no such file; run 'generate.sh run' first"
printf '7\nseven atoms\n' >"$dir/bad.xyz"
expect 1 "$dir/err_xyz.log" python3 "$pipe/label.py" xyz "$dir/bad.xyz" \
    "$dir/bad_out"
contains "$dir/err_xyz.log" "bad.xyz:1: expected atom count 8, got '7'"
# A second run on a work directory in use is refused.
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)' "$w/run.lock" >"$dir/locker.out" &
locker=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
    grep -q locked "$dir/locker.out" && break
    sleep 1
done
expect 1 "$dir/err_lock.log" sh "$gen" run --workdir "$w" --target 3
contains "$dir/err_lock.log" "another run works in"
kill "$locker"
wait "$locker" 2>/dev/null
# A chunk that fails is reported, the run exits 1, and collect stops before
# the hole.  Draw 3's record is corrupted in a copy of the work directory,
# which label.py refuses before starting psi4.
cp -r "$w" "$dir/work_bad"
sed -i 's/^draw=3 /draw=9 /' "$dir/work_bad/drawn.xyz"
expect 1 "$dir/err_chunk.log" sh "$gen" run --workdir "$dir/work_bad" \
    --target 4
contains "$dir/err_chunk.log" "frame 3 is labelled 'draw=9"
contains "$dir/err_chunk.log" "labelling failed: chunk 3 (rerun to retry)"
[ -e "$dir/work_bad/chunks/chunk_0003" ] && fail "failed chunk 3 written"

# 5. Collect: the chunks in order, compressed, with a README.
expect 0 "$dir/collect.log" sh "$gen" collect --workdir "$w" --outdir "$out"
contains "$dir/collect.log" "collected 3 records (chunks 0-2)"
for f in geoms.xyz energies.dat gradients.dat dipoles.dat \
    polarizabilities.dat dihedrals.dat; do
    xz -t "$out/$f.xz" || fail "$out/$f.xz is not valid xz"
    cat "$w/chunks/chunk_0000/$f" "$w/chunks/chunk_0001/$f" \
        "$w/chunks/chunk_0002/$f" >"$dir/cat_$f"
    xz -dc "$out/$f.xz" | cmp -s - "$dir/cat_$f" ||
        fail "$out/$f.xz differs from the chunks' $f"
done
contains "$out/README.md" "3 geometries of 1,2-dichloroethane"
contains "$out/README.md" "default_rng([20261203, window])"
contains "$out/README.md" "default_rng(20261204)"

# 5b. A new work directory with the same settings starts after the
# collected records: the windows and the draw are made again, the draw is
# checked against the collected geometries, and the 3 chunks are restored
# from $out instead of labelled (no psi4.out.xz); a chunk missing later is
# restored alone.  (Steps 1-4 ran with the default --outdir, the committed
# extension, which holds another draw: nothing was restored there.)
w2=$dir/work2
# shellcheck disable=SC2086
expect 0 "$dir/run_restore.log" sh "$gen" run --workdir "$w2" $small \
    --target 3 --outdir "$out"
contains "$dir/run_restore.log" "restored 3 chunk(s) (0-2) from"
contains "$dir/run_restore.log" "labelling: 3 of 3 chunks done, 0 to go"
for c in 0000 0001 0002; do
    [ -e "$w2/chunks/chunk_$c/psi4.out.xz" ] && fail "chunk $c labelled again"
    for f in geoms.xyz energies.dat gradients.dat dipoles.dat \
        polarizabilities.dat dihedrals.dat; do
        cmp -s "$w/chunks/chunk_$c/$f" "$w2/chunks/chunk_$c/$f" ||
            fail "restored chunk $c: $f differs from the labelled one"
    done
done
rm -r "$w2/chunks/chunk_0001"
expect 0 "$dir/run_restore2.log" sh "$gen" run --workdir "$w2" --target 3 \
    --outdir "$out"
contains "$dir/run_restore2.log" "restored 1 chunk(s) (1-1) from"
expect 0 "$dir/collect2.log" sh "$gen" collect --workdir "$w2" \
    --outdir "$dir/out2"
for f in geoms.xyz energies.dat gradients.dat dipoles.dat \
    polarizabilities.dat dihedrals.dat; do
    xz -dc "$dir/out2/$f.xz" | cmp -s - "$dir/cat_$f" ||
        fail "$dir/out2/$f.xz differs from the first collection"
done
contains "$dir/out2/README.md" "3 records were restored from an earlier"
contains "$dir/out2/README.md" "with psi4 $(sed -n 's/.*"psi4_version": "\(.*\)".*/\1/p' \
    "$w/chunks/chunk_0000/meta.json")"
# A set whose record 0 is another draw is not restored (draw 0 is renamed
# in a copy of the work directory, which label.py then refuses before
# psi4); one whose later record differs from its draw is refused.
cp -r "$w2" "$dir/work3"
rm -r "$dir/work3/chunks/chunk_0000"
sed -i 's/^draw=0 /draw=7 /' "$dir/work3/drawn.xyz"
expect 1 "$dir/err_other.log" sh "$gen" run --workdir "$dir/work3" \
    --target 3 --outdir "$out"
contains "$dir/err_other.log" "holds another draw than"
contains "$dir/err_other.log" "frame 0 is labelled 'draw=7"
[ -e "$dir/work3/chunks/chunk_0000" ] && fail "mismatching chunk 0 restored"
mkdir "$dir/out_bad"
cp "$out"/*.xz "$dir/out_bad/"
xz -dc "$out/geoms.xyz.xz" | awk 'NR == 13 { printf "%s %.10f %s %s\n", $1, $2 + 1e-6, $3, $4
    next } 1' |
    xz >"$dir/out_bad/geoms.xyz.xz"
rm -r "$w2/chunks/chunk_0001"
expect 1 "$dir/err_restore.log" sh "$gen" run --workdir "$w2" --target 3 \
    --outdir "$dir/out_bad"
contains "$dir/err_restore.log" "record 1 is not draw 1"
[ -e "$w2/chunks/chunk_0001" ] && fail "mismatching chunk 1 restored"

# 6. The labels: exact formats and units of the shipped set, invariances.
expect 0 "$dir/check_out.log" python3 "$pipe/check.py" "$out"
contains "$dir/check_out.log" "0 failed"

# 7. Record 0 of the shipped set, relabelled by the same code (in the
# background since step 2), agrees with the shipped record to psi4's
# numerical noise (check.py --compare).
wait "$label0"
status=$?
[ "$status" -eq 0 ] || fail "label.py xyz record0.xyz: exit $status"
expect 0 "$dir/check0.log" python3 "$pipe/check.py" "$dir/record0" \
    --compare "$srcdir/trajectories/dce-hf-adz" 0
contains "$dir/check0.log" "0 failed"

# 8. The labelling code against psi4 finite differences on a new geometry:
# gradient units and sign, dipole origin and sign, polarizability units.
expect 0 "$dir/check_fd.log" python3 "$pipe/check.py" "$out" --fd 0 \
    --fd-basis cc-pvdz
contains "$dir/check_fd.log" "0 failed"
sed -n 's/^/    /p' "$dir/check_fd.log" | grep -v passed

if [ "$failures" -ne 0 ]; then
    echo "test_pipeline.sh: $failures failure(s); files in $dir" >&2
    exit 1
fi
rm -rf "$dir"
exit 0
