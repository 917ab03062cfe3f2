#!/bin/sh
# composite_icet_test.sh MPIEXEC CHECK CHECK_SMPI PLATFORMS - zc's
# compositing and IceT's give the same image (every channel within 1 of
# 255) under Open MPI at N = 2, 3, 4 and 8 (composite_icet_check exits 1
# otherwise), and under SimGrid's SMPI at N = 8, with the same images as
# Open MPI's, and at N = 64 on the torus model.  Skips (77) without IceT;
# the SMPI part is left out without smpicc.
set -eu
mpiexec=$1
check=$2
check_smpi=$3
platforms=$4
[ -n "$check" ] && [ -x "$check" ] || { echo "IceT not found: skipped"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/zc-icet.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "test_composite_icet: $*" >&2; exit 1; }
pairs=4

# Every pair's image line, with its difference, and exactly one each.
images() {
    grep '^image,' "$1" > "$1.img" || true
    [ "$(wc -l < "$1.img")" -eq $pairs ] || fail "$2: expected $pairs images: $(cat "$1")"
}

for np in 2 3 4 8; do
    "$mpiexec" -np $np --oversubscribe "$check" > "$dir/ompi.$np" 2> "$dir/ompi.err" ||
        fail "mpirun -np $np: $(cat "$dir/ompi.$np" "$dir/ompi.err")"
    images "$dir/ompi.$np" "mpirun -np $np"
done

if [ -z "$check_smpi" ] || ! command -v smpirun > /dev/null; then
    echo "test_composite_icet: N = 2, 3, 4, 8 under Open MPI (no smpicc: SMPI left out)"
    exit 0
fi
# IceT's core keeps its current context in a global of its own library:
# every simulated rank needs its own copy of that library.
smpi() {
    np=$1
    shift
    smpirun -np "$np" -platform "$platforms/bgp-torus.xml" -hostfile "$platforms/bgp-hosts.txt" \
        --cfg=smpi/privatization:1 --cfg=smpi/privatize-libs:libvtkIceTCore-pv5.11.so.1 \
        --cfg=smpi/host-speed:20Gf \
        --cfg=smpi/async-small-thresh:65536 --cfg=smpi/send-is-detached-thresh:65536 \
        "$check_smpi" "$@" 2> "$dir/smpi.err" ||
        fail "smpirun -np $np: $(tail -5 "$dir/smpi.err")"
}
smpi 8 > "$dir/smpi.8"
images "$dir/smpi.8" "smpirun -np 8"
cmp -s "$dir/ompi.8.img" "$dir/smpi.8.img" ||
    fail "N=8: Open MPI and SMPI images differ: $(diff "$dir/ompi.8.img" "$dir/smpi.8.img")"
smpi 64 --size 128x128 > "$dir/smpi.64"
images "$dir/smpi.64" "smpirun -np 64"
echo "test_composite_icet: N = 2, 3, 4, 8 under Open MPI; 8 (the same images) and 64 under SMPI"
