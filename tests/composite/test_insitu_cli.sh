#!/bin/sh
# test_insitu_cli.sh MPIEXEC ZC - `zc insitu` end to end under mpirun:
# frames written and sorted by name, the JSON summary's byte counts within
# their bounds, the composited frame close to the gather baseline's render,
# and the exit codes of usage errors and failed jobs.
set -eu
mpiexec=$1
zc=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/zc-insitu.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "test_insitu_cli: $*" >&2; exit 1; }

"$zc" insitu --help > "$dir/help" || fail "--help did not exit 0"
grep -q -- "--every" "$dir/help" || fail "--help does not list the options"
rc=0; "$zc" insitu --size 0x4 2> "$dir/err" || rc=$?
[ $rc -eq 2 ] || fail "a bad --size exited $rc, not 2"
rc=0; "$zc" insitu --precision 12 2> "$dir/err" || rc=$?
[ $rc -eq 2 ] || fail "a bad --precision exited $rc, not 2"

# Under mpirun a usage error is said once (by rank 0), not once a rank.
rc=0; "$mpiexec" -np 2 --oversubscribe "$zc" insitu --bogus > "$dir/out" 2> "$dir/err" || rc=$?
[ $rc -ne 0 ] || fail "a bad option under mpirun exited 0"
[ "$(grep -c "zc insitu: unknown option '--bogus'" "$dir/err")" -eq 1 ] ||
    fail "the usage error was not said exactly once: $(cat "$dir/err")"

# Byte counts in the JSON summary are integers, however large.
"$mpiexec" -np 2 --oversubscribe "$zc" insitu --steps 20 --every 20 --size 1200x1200 --grid 16 \
    --no-baseline --json > "$dir/out"
/usr/bin/python3 -c '
import json, sys
o = json.loads(sys.stdin.read().splitlines()[-1])
assert o["composite_bytes_per_frame"] > 1000000, o
for k, v in o.items():
    if "bytes" in k:
        assert isinstance(v, int), (k, v)
' < "$dir/out" || fail "byte counts that are not JSON integers: $(tail -n 1 "$dir/out")"

# A grid too small for the ranks: a failed job, one line, no frames.
rc=0
"$mpiexec" -np 3 --oversubscribe "$zc" insitu --grid 5 --out "$dir/none" > "$dir/out" 2> "$dir/err" || rc=$?
[ $rc -eq 1 ] || fail "a grid too small for 3 ranks exited $rc, not 1"
grep -q "cannot be split" "$dir/err" || fail "no clear error for a grid too small: $(cat "$dir/err")"
[ ! -e "$dir/none" ] || fail "a failed job left an output folder"

# An output folder that cannot be made: a failed job that says where.
: > "$dir/file"
rc=0
"$mpiexec" -np 2 --oversubscribe "$zc" insitu --steps 4 --every 2 --size 16x16 --grid 8 \
    --out "$dir/file/frames" > "$dir/out" 2> "$dir/err" || rc=$?
[ $rc -eq 1 ] || fail "an impossible --out exited $rc, not 1"
grep -q "cannot create $dir/file/frames" "$dir/err" || fail "no clear error for --out: $(cat "$dir/err")"

# An earlier run's frames are replaced; other files stay.
mkdir "$dir/frames"
: > "$dir/frames/frame_00000090.png"
: > "$dir/frames/notes.txt"
"$mpiexec" -np 3 --oversubscribe "$zc" insitu --steps 30 --every 10 --size 96x64 --grid 24 \
    --out "$dir/frames" --json > "$dir/out"
[ -e "$dir/frames/notes.txt" ] || fail "a file that is not a frame was removed"
rm "$dir/frames/notes.txt"
ls "$dir/frames" > "$dir/list"
[ "$(cat "$dir/list")" = "$(printf 'frame_00000010.png\nframe_00000020.png\nframe_00000030.png')" ] ||
    fail "unexpected frames: $(cat "$dir/list")"
for f in "$dir"/frames/*.png; do
    [ "$(head -c 4 "$f" | tail -c 3)" = PNG ] || fail "$f is not a PNG"
done
json=$(tail -n 1 "$dir/out")
num() { echo "$json" | /usr/bin/python3 "$(dirname "$0")/../json_field.py" "$1"; }
sent=$(num bytes_sent_per_rank_per_frame)
image=$(num image_bytes)
gather=$(num gather_bytes_per_frame)
diff=$(num baseline_max_channel_diff)
[ -n "$sent" ] && [ -n "$image" ] && [ -n "$gather" ] && [ -n "$diff" ] || fail "JSON lacks a key: $json"
[ "$(num frames)" = 3 ] || fail "frames in JSON: $json"
awk -v s="$sent" -v i="$image" 'BEGIN { exit !(s > 0 && s <= i + 64) }' ||
    fail "a rank sent $sent bytes a frame, image $image"
# Two of three 24x24x8 bricks of 6 float components go to rank 0.
[ "$gather" = $((2 * 24 * 24 * 8 * 6 * 4)) ] || fail "gather moved $gather bytes"
[ "$diff" -le 2 ] || fail "composited frame differs from the baseline by $diff/255"
