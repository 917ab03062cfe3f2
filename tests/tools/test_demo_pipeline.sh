#!/bin/sh
# test_demo_pipeline.sh MPIEXEC ZC - `zc demo`'s pipeline end to end on a
# tiny size: the frames zc serve received are byte-identical to the ones
# `zc insitu --out` writes itself, the JSON summary's numbers agree with the
# files and with each other, and a failed stage exits 1 with a clear line
# and leaves no temporary file or child process behind.
set -eu
mpiexec=$1
zc=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/zc-pipeline-test.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/tmp"
export TMPDIR="$dir/tmp"
fail() { echo "test_demo_pipeline: $*" >&2; exit 1; }
left_behind() {
    [ -z "$(ls -A "$dir/tmp")" ] || fail "$1 left temporary files: $(ls -A "$dir/tmp")"
    ! pgrep -f -- "--insitu-ring $dir/tmp" > /dev/null || fail "$1 left ranks running"
    ! pgrep -f -- "serve --root $dir/" > /dev/null || fail "$1 left zc serve running"
}

"$zc" demo --help > "$dir/help" || fail "--help did not exit 0"
grep -q -- "--only" "$dir/help" || fail "--help does not list the options"
rc=0; "$zc" demo --only nothing 2> "$dir/err" || rc=$?
[ $rc -eq 2 ] || fail "a bad --only exited $rc, not 2"
rc=0; "$zc" demo --ranks 0 2> "$dir/err" || rc=$?
[ $rc -eq 2 ] || fail "a bad --ranks exited $rc, not 2"

# A stage that fails (a grid too small for the ranks): exit 1, said clearly.
rc=0
"$zc" demo --out "$dir/bad" --only pipeline --ranks 3 --grid 5 > "$dir/bad.log" 2> "$dir/err" || rc=$?
[ $rc -eq 1 ] || fail "a failed pipeline exited $rc, not 1"
grep -q "cannot be split" "$dir/err" || fail "no clear error: $(cat "$dir/err")"
grep -q "zc demo: mpirun zc insitu failed" "$dir/err" || fail "no stage named: $(cat "$dir/err")"
left_behind "a failed pipeline"

: > "$dir/afile"
rc=0
"$zc" demo --out "$dir/afile" --only pipeline --ranks 2 --grid 8 > "$dir/bad.log" 2> "$dir/err" || rc=$?
[ $rc -eq 1 ] || fail "an output folder that cannot be made exited $rc, not 1"
grep -q "cannot create $dir/afile" "$dir/err" || fail "no clear error for --out: $(cat "$dir/err")"
left_behind "a pipeline without an output folder"

# An earlier run's frames in OUT/frames are removed first (and said so);
# what is not a frame of ours stays.
mkdir -p "$dir/out/frames"
: > "$dir/out/frames/frame_00000090.png"
: > "$dir/out/frames/notes.txt"
args="--steps 30 --every 10 --grid 16"
"$zc" demo --out "$dir/out" --only pipeline --ranks 2 $args --image 64x48 --json > "$dir/log"
left_behind "the pipeline"
grep -q "frames: removed 1 frame of an earlier run" "$dir/log" || fail "old frames not reported: $(cat "$dir/log")"
[ -e "$dir/out/frames/notes.txt" ] || fail "a file that is not a frame was removed"
rm "$dir/out/frames/notes.txt"
# The console names each frame as its file is named, time with its unit.
grep -q "frame_00000010.png (step 10, t = [0-9.]* dx/c)" "$dir/log" || fail "frames named otherwise: $(cat "$dir/log")"
"$mpiexec" -np 2 --oversubscribe "$zc" insitu $args --size 64x48 --no-baseline --json \
    --out "$dir/direct" > "$dir/insitu.log"
[ "$(ls "$dir/out/frames")" = "$(ls "$dir/direct")" ] ||
    fail "frames differ: $(ls "$dir/out/frames") vs $(ls "$dir/direct")"
[ "$(ls "$dir/direct" | wc -l)" -eq 3 ] || fail "expected 3 frames: $(ls "$dir/direct")"
for f in "$dir"/direct/*.png; do
    cmp -s "$f" "$dir/out/frames/${f##*/}" || fail "${f##*/} did not arrive intact"
done

# Byte counts are JSON integers.
/usr/bin/python3 -c '
import json, sys
o = json.loads(sys.stdin.read().splitlines()[-1])
for k, v in o.items():
    if "bytes" in k:
        assert isinstance(v, int), (k, v)
' < "$dir/log" || fail "byte counts that are not integers: $(tail -n 1 "$dir/log")"
json=$(tail -n 1 "$dir/log")
num() { echo "$json" | /usr/bin/python3 "$(dirname "$0")/../json_field.py" "$1"; }
for key in pipeline_frames png_bytes placed_bytes pipe_copy_bytes ring_bytes wire_bytes \
    composite_bytes_per_frame gather_bytes_per_frame; do
    num $key > /dev/null || fail "JSON lacks $key: $json"
done
[ "$(num pipeline_frames)" = 3 ] || fail "frames in JSON: $json"
total=$(cat "$dir"/out/frames/*.png | wc -c)
[ "$(num png_bytes)" = "$total" ] || fail "png_bytes $(num png_bytes), files $total"
[ "$(num placed_bytes)" = "$total" ] || fail "placed_bytes $(num placed_bytes), files $total"
[ "$(num pipe_copy_bytes)" = $((2 * total)) ] || fail "pipe_copy_bytes: $json"
# Two 16-byte descriptors, a 2-byte available entry, an 8-byte used element
# and the 16-byte frame header a frame.
[ "$(num ring_bytes)" = $((3 * 58)) ] || fail "ring_bytes: $json"
[ "$(num wire_bytes)" -gt "$total" ] || fail "fewer bytes on the wire than in the frames: $json"
# ... and a few hundred bytes of handshake, headers and tags besides.
[ "$(num wire_bytes)" -lt $((total + 4096)) ] || fail "wire bytes beyond the frames and framing: $json"
# One of two 16x16x8 bricks of 6 float components would go to rank 0.
[ "$(num gather_bytes_per_frame)" = $((16 * 16 * 8 * 6 * 4)) ] || fail "gather bytes: $json"
awk -v c="$(num composite_bytes_per_frame)" 'BEGIN { exit !(c > 0 && c <= 64 * 48 * 4 + 64) }' ||
    fail "compositing moved $(num composite_bytes_per_frame) bytes a frame"
grep -q "rank 0 -> uploader (ring)" "$dir/log" || fail "no summary table"
