#!/bin/sh
# test_fdtd_frames.sh MPIEXEC ZC REFDIR - zc's FDTD through the public
# in-situ API: with --plain its frames are byte for byte the frames `zc
# insitu --out` wrote before the API existed (REFDIR/npN, 1 and 2 ranks);
# annotated, the same run's frames carry step, time, field and range as PNG
# text chunks and differ from the plain ones only by what is drawn.
set -eu
mpiexec=$1
zc=$2
ref=$3
here=$(dirname "$0")
dir=$(mktemp -d "${TMPDIR:-/tmp}/zc-fdtd-frames.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "test_fdtd_frames: $*" >&2; exit 1; }

for np in 1 2; do
    "$mpiexec" -np $np --oversubscribe "$zc" insitu --steps 60 --every 20 --grid 16 \
        --size 96x64 --no-baseline --plain --out "$dir/plain$np" > /dev/null
    [ "$(ls "$dir/plain$np")" = "$(ls "$ref/np$np")" ] || fail "$np ranks: other frame names"
    for f in "$ref/np$np"/*.png; do
        cmp -s "$f" "$dir/plain$np/$(basename "$f")" ||
            fail "$np ranks: $(basename "$f") differs from the reference frame"
    done
done

"$mpiexec" -np 2 --oversubscribe "$zc" insitu --steps 60 --every 20 --grid 16 --size 256x256 \
    --no-baseline --brick-grid --out "$dir/ann" > /dev/null
/usr/bin/python3 "$here/pngtext.py" "$dir/ann/frame_00000040.png" > "$dir/text"
grep -qx "zc:step=40" "$dir/text" || fail "no step chunk: $(cat "$dir/text")"
grep -q "^zc:time=2[0-9]\." "$dir/text" || fail "no time chunk: $(cat "$dir/text")"
grep -qx "zc:field=log10 energy density" "$dir/text" || fail "no field chunk: $(cat "$dir/text")"
grep -q "^zc:range=-[0-9.]* -[0-9.]*$" "$dir/text" || fail "no range chunk: $(cat "$dir/text")"
