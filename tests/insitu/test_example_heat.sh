#!/bin/sh
# test_example_heat.sh MPIEXEC SRC BUILD - the example simulation as a
# user builds it: libzc installed into a temporary prefix, examples/heat
# built there with mpicc and pkg-config (zc-mpi) and nothing from the
# build tree, run on 1, 2 and 4 ranks; the N-rank frames equal the 1-rank
# frames within 1/255 a channel, and carry step, time and field.
set -eu
mpiexec=$1
src=$2
build=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/zc-heat.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "test_example_heat: $*" >&2; exit 1; }

libs=$(sh "$src/tests/insitu/build_heat.sh" "$dir" "$src" "$build") || fail "no example built"
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

for np in 1 2 4; do
    (cd "$dir" && "$mpiexec" -np $np --oversubscribe ./heat/heat --grid 24 --steps 40 --every 20 \
        --size 128 --out "frames$np" > "run$np.log") || fail "$np ranks: the run failed"
done
[ "$(ls "$dir/frames1")" = "frame_00000000.png
frame_00000020.png
frame_00000040.png" ] || fail "frames named otherwise: $(ls "$dir/frames1")"
for np in 2 4; do
    for f in "$dir/frames1"/*.png; do
        d=$(/usr/bin/python3 "$src/tests/insitu/pngdiff.py" "$f" "$dir/frames$np/$(basename "$f")")
        [ "$d" -le 1 ] || fail "$np ranks: $(basename "$f") differs from 1 rank by $d/255"
    done
done
/usr/bin/python3 "$src/tests/insitu/pngtext.py" "$dir/frames4/frame_00000020.png" > "$dir/text"
grep -qx "zc:step=20" "$dir/text" && grep -qx "zc:time=2.5" "$dir/text" &&
    grep -qx "zc:field=temperature" "$dir/text" || fail "frame text: $(cat "$dir/text")"
# Something was drawn: the hot spots are not black.
d=$(/usr/bin/python3 "$src/tests/insitu/pngdiff.py" "$dir/frames1/frame_00000000.png" \
    "$dir/frames1/frame_00000040.png")
[ "$d" -gt 20 ] || fail "the field does not show: frames 0 and 40 differ by $d/255"
