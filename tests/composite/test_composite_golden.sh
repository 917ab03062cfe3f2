#!/bin/sh
# test_composite_golden.sh MPIEXEC SCALE EXPECTED - the compositor's images
# and byte counts stay what they were: bench/composite_scale --check on 4
# ranks (shell and dense bricks, binary swap, radix-k 2/4/8/default,
# direct send) must print exactly EXPECTED, which the compositor wrote
# before its work followed active spans (every pixel walked then).
set -eu
mpiexec=$1
scale=$2
expected=$3
out=$(mktemp "${TMPDIR:-/tmp}/zc-golden.XXXXXX")
trap 'rm -f "$out"' EXIT
"$mpiexec" -np 4 --oversubscribe "$scale" --size 96x80 --frames 1 --check > "$out"
if ! cmp -s "$out" "$expected"; then
    echo "test_composite_golden: images or bytes changed:" >&2
    diff "$expected" "$out" >&2
    exit 1
fi
