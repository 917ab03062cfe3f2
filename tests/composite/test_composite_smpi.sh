#!/bin/sh
# test_composite_smpi.sh MPIEXEC SCALE SCALE_SMPI PLATFORMS - the same
# compositing driver (bench/composite_scale --check) under Open MPI and
# under SimGrid's SMPI gives the same images (hashes) and the same byte
# counts of every rank at N = 2, 4 and 8; under SMPI it also runs at N = 64,
# where SMPI's default protocol model and the eager-below-64-KiB one give
# the same images and bytes (the model moves time, never data).  Skips
# (77) when smpicc was not found at configure time.
set -eu
mpiexec=$1
scale=$2
scale_smpi=$3
platforms=$4
[ -n "$scale_smpi" ] && [ -x "$scale_smpi" ] || { echo "smpicc not found: skipped"; exit 77; }
command -v smpirun > /dev/null || { echo "smpirun not found: skipped"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/zc-smpi.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "test_composite_smpi: $*" >&2; exit 1; }

eager="--cfg=smpi/async-small-thresh:65536 --cfg=smpi/send-is-detached-thresh:65536"
smpi() {
    np=$1
    shift
    smpirun -np "$np" -platform "$platforms/bgp-torus.xml" -hostfile "$platforms/bgp-hosts.txt" \
        --cfg=smpi/host-speed:20Gf "$@" 2> "$dir/smpi.err" || fail "smpirun -np $np failed: $(tail -3 "$dir/smpi.err")"
}

for np in 2 4 8; do
    "$mpiexec" -np $np --oversubscribe "$scale" --size 96x80 --frames 1 --check > "$dir/ompi.$np" ||
        fail "mpirun -np $np failed"
    smpi $np $eager "$scale_smpi" --size 96x80 --frames 1 --check > "$dir/smpi.$np"
    [ "$(wc -l < "$dir/ompi.$np")" -eq 12 ] || fail "N=$np: expected 12 results: $(cat "$dir/ompi.$np")"
    cmp -s "$dir/ompi.$np" "$dir/smpi.$np" ||
        fail "N=$np: Open MPI and SMPI differ: $(diff "$dir/ompi.$np" "$dir/smpi.$np")"
done

smpi 64 $eager "$scale_smpi" --size 128x128 --frames 1 --check > "$dir/eager.64"
smpi 64 "$scale_smpi" --size 128x128 --frames 1 --check > "$dir/default.64"
[ "$(wc -l < "$dir/eager.64")" -eq 12 ] || fail "N=64: expected 12 results: $(cat "$dir/eager.64")"
cmp -s "$dir/eager.64" "$dir/default.64" ||
    fail "N=64: the protocol model changed data: $(diff "$dir/eager.64" "$dir/default.64")"
# radix-8 and the library's default k are one configuration: one image.
img() { grep "^$1,$2," "$dir/eager.64" | sed 's/.*image \([0-9a-f]*\),.*/\1/'; }
[ "$(img shell radix-8)" = "$(img shell radix-auto)" ] || fail "N=64: radix-8 and default k differ"

# --charge-own: the MPI wrappers charge the frame's own computing, so with
# SMPI's charging off a frame takes longer than the network alone; the
# mpicc build refuses the option; --empty-rounds and --field empty run.
net="--cfg=smpi/simulate-computation:0"
frame8="--size 96x80 --frames 1 --field shell --algo radix-auto"
smpi 8 $eager $net "$scale_smpi" $frame8 > "$dir/net.8"
smpi 8 $eager $net --cfg=smpi/wtime:0 --cfg=smpi/cpu-threshold:0 "$scale_smpi" $frame8 --charge-own \
    > "$dir/own.8"
secs() { awk -F, '$5 == "0" { print $6 }' "$1"; }
[ -n "$(secs "$dir/net.8")" ] || fail "no frame row: $(cat "$dir/net.8")"
awk -v net="$(secs "$dir/net.8")" -v own="$(secs "$dir/own.8")" 'BEGIN { exit !(own > net) }' ||
    fail "--charge-own charged nothing: $(secs "$dir/own.8") s against $(secs "$dir/net.8") s network only"
if "$mpiexec" -np 1 "$scale" --charge-own > /dev/null 2> "$dir/refused"; then
    fail "the mpicc build accepted --charge-own"
fi
grep -q "needs the smpicc build" "$dir/refused" || fail "--charge-own refused without saying why"
smpi 8 $net "$scale_smpi" --empty-rounds > "$dir/empty"
grep -q "^empty round,8 ranks," "$dir/empty" || fail "--empty-rounds: $(cat "$dir/empty")"
smpi 8 $eager "$scale_smpi" --size 96x80 --frames 1 --field empty --algo radix-auto > "$dir/field"
awk -F, '$1 == "empty" && $12 == "0" { n++ } END { exit n != 1 }' "$dir/field" ||
    fail "--field empty: expected one frame with no active pixels: $(cat "$dir/field")"
echo "test_composite_smpi: N = 2, 4, 8 identical under Open MPI and SMPI; N = 64 ran under SMPI;" \
    "--charge-own charged $(secs "$dir/own.8") s against $(secs "$dir/net.8") s network only"
