#!/bin/sh
# test_output_cli.sh ZC - what the commands do with the paths they write
# and with failures, as a user meets them:
#   -o to a FIFO (with a reader), to character devices made with mknod in
#   the test's folder (root only), and to '-': the nodes survive, the reader
#   gets a PNG, a full device is exit 1 with the reason;
#   a plot or an output folder that cannot be written fails before the
#   work, with the real errno and no picture on stdout;
#   --json failures end stdout with {"error": ..., "errno": N};
#   an unknown option is one line, "zc CMD: unknown option '--x'".
set -eu
zc=$1
py=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/zc-output-cli.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "test_output_cli: $*" >&2; exit 1; }
cd "$dir"

# A 24^3 ball, raw u8.
$py -c "
import math
n = 24
open('ball.raw', 'wb').write(bytes(200 if math.dist((x, y, z), (11.5, 11.5, 11.5)) < 8 else 10
                                   for z in range(n) for y in range(n) for x in range(n)))"
vol="ball.raw --dims 24,24,24 --type u8"

is_png() { [ "$(head -c 4 "$1" | tail -c 3)" = PNG ] || fail "$2: not a PNG"; }
is_kind() { # PATH TEST NAME
    [ "$2" "$1" ] && [ ! -L "$1" ] || fail "$1 is no longer a $3"
}

# ---- -o to a FIFO with a reader, and to '-'
# (the reader gives up after 20 s: a FIFO replaced by a file never gets a writer)
mkfifo fifo
timeout 20 cat fifo > got.png &
"$zc" render $vol --size 64x64 -o fifo > out 2> err || fail "render -o fifo: $(cat err)"
is_kind fifo -p FIFO
wait $! || fail "the FIFO's reader got nothing"
is_png got.png "what the FIFO's reader got"
timeout 20 cat fifo > got.ply &
"$zc" mesh $vol --iso 100 -o fifo > out 2> err || fail "mesh -o fifo: $(cat err)"
is_kind fifo -p FIFO
wait $! || fail "the FIFO's reader got nothing"
[ "$(head -c 4 got.ply)" = ply ] || fail "the FIFO's reader got no PLY"
"$zc" render $vol --size 64x64 -o - > stdout.png 2> err || fail "render -o -: $(cat err)"
is_png stdout.png "render -o -"
grep -q -- "-> -" err || fail "render -o - did not say what it did on stderr: $(cat err)"
rc=0; "$zc" render $vol -o - --json > out 2> err || rc=$?
[ $rc -eq 2 ] || fail "-o - with --json (both stdout) exited $rc, not 2"

# ---- -o to character devices (mknod needs root)
if mknod null c 1 3 2> /dev/null && mknod full c 1 7; then
    "$zc" render $vol --size 64x64 -o null > out 2> err || fail "render -o null: $(cat err)"
    is_kind null -c "character device"
    rc=0; "$zc" render $vol --size 64x64 -o full > out 2> err || rc=$?
    [ $rc -eq 1 ] || fail "render -o full exited $rc, not 1"
    grep -q "No space left on device" err || fail "no ENOSPC said for a full device: $(cat err)"
    is_kind full -c "character device"
    rc=0; "$zc" mesh $vol --iso 100 -o full > out 2> err || rc=$?
    [ $rc -eq 1 ] && grep -q "No space left on device" err || fail "mesh -o full: $rc $(cat err)"
    is_kind full -c "character device"
    ln -s null link
    "$zc" render $vol --size 64x64 -o link > out 2> err || fail "render -o link: $(cat err)"
    [ -L link ] && is_kind null -c "character device"
else
    echo "test_output_cli: device nodes skipped (mknod needs root)" >&2
fi
[ -z "$(ls | grep '\.tmp\.')" ] || fail "temporaries left: $(ls)"

# ---- --json failures: the last line of stdout is an object with the reason
json_error() { # ERRNO WHAT: stdout's last line is {"error": "...", "errno": ERRNO}
    $py -c '
import json, sys
lines = open("out").read().splitlines()
o = json.loads(lines[-1])
assert isinstance(o["error"], str) and o["error"], o
assert isinstance(o["errno"], int) and o["errno"] == int(sys.argv[1]), o
' "$1" || fail "$2: no JSON failure with errno $1: $(cat out)"
}
rc=0; "$zc" render $vol -o missing/x.png --json > out 2> err || rc=$?
[ $rc -eq 1 ] || fail "render to a missing folder exited $rc"
json_error 2 "render -o missing/x.png"
rc=0; "$zc" render no-such.nii --json -o x.png > out 2> err || rc=$?
json_error 2 "render of a missing volume"
rc=0; "$zc" mesh $vol --iso 100 -o missing/x.ply --json > out 2> err || rc=$?
json_error 2 "mesh -o missing/x.ply"
if [ -c full ]; then
    rc=0; "$zc" render $vol --size 64x64 -o full --json > out 2> err || rc=$?
    json_error 28 "render -o full"
fi
rc=0; "$zc" bench fb --csv missing/x.csv --json > out 2> err || rc=$?
[ $rc -eq 1 ] || fail "bench fb --csv missing/x.csv exited $rc"
json_error 2 "bench fb --csv missing/x.csv"

# ---- plots and output folders are checked before the work; no PNG on stdout
: > afile
start=$(date +%s)
rc=0; "$zc" bench ring --runs 1 --time 10 --plot missing/x.png --json > out 2> err || rc=$?
[ $rc -eq 1 ] || fail "bench ring --plot missing/x.png exited $rc"
json_error 2 "bench ring --plot missing/x.png"
! grep -q PNG out || fail "bench ring wrote a picture on stdout"
! grep -q "zc ring vs pipe" out || fail "bench ring measured before finding the plot's folder missing"
rc=0; "$zc" bench seal --plot afile/x.png > out 2> err || rc=$?
[ $rc -eq 1 ] && grep -q "Not a directory" err || fail "bench seal --plot afile/x.png: $rc $(cat err)"
[ ! -s out ] || fail "bench seal printed on stdout before failing: $(head -c 200 out)"
rc=0; "$zc" demo --out afile --only ring --size 64M --json > out 2> err || rc=$?
[ $rc -eq 1 ] || fail "demo --out FILE exited $rc"
grep -q "cannot create afile: Not a directory" err || fail "demo --out FILE: $(cat err)"
! grep -q PNG out || fail "demo --out FILE wrote a picture on stdout"
! grep -q "ring: streaming" out || fail "demo --out FILE ran the ring stage first"
json_error 20 "demo --out FILE"
[ $(($(date +%s) - start)) -lt 30 ] || fail "the failures above took more than 30 s: work before checks"

# ---- unknown options: one line with the command's prefix, then the hint
for cmd in render mesh insitu demo broker channel "bench ring" "bench seal" "bench fb"; do
    rc=0; "$zc" $cmd --bogus > out 2> err || rc=$?
    [ $rc -eq 2 ] || fail "zc $cmd --bogus exited $rc"
    [ "$(head -n 1 err)" = "zc $cmd: unknown option '--bogus'" ] || fail "zc $cmd --bogus said: $(cat err)"
    [ "$(wc -l < err)" -eq 2 ] || fail "zc $cmd --bogus said more than one line and the hint: $(cat err)"
done
rc=0; "$zc" render -o 2> err || rc=$?
[ $rc -eq 2 ] && [ "$(head -n 1 err)" = "zc render: option '-o' needs a value" ] ||
    fail "render -o without a value: $(cat err)"
echo "test_output_cli: ok"
