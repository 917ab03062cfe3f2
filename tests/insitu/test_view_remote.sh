#!/bin/sh
# test_view_remote.sh ZC MPIEXEC SRC BUILD - the remote chain, across two
# network namespaces joined by a veth pair (made here, removed at the end;
# 10.x addresses inside them only): in "sim", the example simulation runs
# on 2 ranks and `zc put` sends each frame as it appears; in "view", `zc
# serve` places the frames and `zc view` (--token, not loopback) watches
# the folder; a client back in "sim" follows the event stream and fetches
# each frame.  Every frame must give one event, in order, and arrive whole.
# Skipped (77) without root or `ip netns`.
set -eu
ZC=$1
MPIEXEC=$2
SRC=$3
BUILD=$4
[ "$(id -u)" = 0 ] || { echo "test_view_remote: needs root (network namespaces); skipped"; exit 77; }
command -v ip > /dev/null && ip netns list > /dev/null 2>&1 ||
    { echo "test_view_remote: no ip netns; skipped"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/zc-view-remote.XXXXXX")
SIM=zcsim$$
VIEW=zcview$$
PIDS=
cleanup() {
    set +e
    for pid in $PIDS; do kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null; done
    # Anything of ours still in the namespaces (started by the above).
    for ns in "$SIM" "$VIEW"; do
        for pid in $(ip netns pids "$ns" 2> /dev/null); do kill "$pid"; done
    done
    ip netns del "$SIM" 2> /dev/null
    ip netns del "$VIEW" 2> /dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "test_view_remote: $*" >&2; exit 1; }

ip netns add "$SIM"
ip netns add "$VIEW"
# The pair is made inside the namespaces: nothing of it in the host's.
ip -n "$SIM" link add zcs0 type veth peer name zcv0 netns "$VIEW"
ip -n "$SIM" addr add 10.203.17.1/24 dev zcs0
ip -n "$VIEW" addr add 10.203.17.2/24 dev zcv0
for ns in "$SIM" "$VIEW"; do
    ip -n "$ns" link set lo up
done
ip -n "$SIM" link set zcs0 up
ip -n "$VIEW" link set zcv0 up
in_sim() { ip netns exec "$SIM" "$@"; }

libs=$(sh "$SRC/tests/insitu/build_heat.sh" "$DIR" "$SRC" "$BUILD") || fail "no example built"
cd "$DIR"
"$ZC" keygen -o server > /dev/null
"$ZC" keygen -o client > /dev/null
mkdir -p root/frames sim fetched

ip netns exec "$VIEW" "$ZC" serve --root root --listen 10.203.17.2:0 --key server.key --authorized client.pub \
    --timeout 10 2> serve.log &
PIDS="$! $PIDS"
for _ in $(seq 100); do grep -q listening serve.log && break; sleep 0.1; done
SPORT=$(sed -n 's/.*listening on 10.203.17.2:\([0-9]*\).*/\1/p' serve.log)
[ -n "$SPORT" ] || fail "zc serve did not start: $(cat serve.log)"

ip netns exec "$VIEW" "$ZC" view --frames root/frames --listen 10.203.17.2:0 --token remote-t0ken > view.log 2>&1 &
PIDS="$! $PIDS"
for _ in $(seq 100); do grep -q http view.log && break; sleep 0.1; done
VPORT=$(sed -n 's|.*http://10.203.17.2:\([0-9]*\)/.*|\1|p' view.log)
[ -n "$VPORT" ] || fail "zc view did not start: $(cat view.log)"

FRAMES=6
ip netns exec "$SIM" /usr/bin/python3 "$SRC/tests/insitu/view_client.py" 10.203.17.2 "$VPORT" remote-t0ken $FRAMES \
    fetched > client.log 2> client.err &
CLIENT=$!
PIDS="$CLIENT $PIDS"
for _ in $(seq 100); do grep -q ready client.log && break; sleep 0.1; done
grep -q ready client.log || fail "the client did not connect: $(cat client.err)"

# The simulation in "sim"; each frame sent as soon as it is there (the
# sink renames whole frames in).
LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ip netns exec "$SIM" "$MPIEXEC" -np 2 --oversubscribe \
    ./heat/heat --grid 24 --steps 50 --every 10 --size 128 --out sim > sim.log 2>&1 &
SIMPID=$!
PIDS="$SIMPID $PIDS"
sent=0
while :; do
    running=0
    kill -0 $SIMPID 2> /dev/null && running=1
    for f in sim/frame_*.png; do
        [ -e "$f" ] && [ ! -e "sent.$(basename "$f")" ] || continue
        in_sim "$ZC" put -q --key client.key --server-pub server.pub "$f" \
            "10.203.17.2:$SPORT:frames/$(basename "$f")" || fail "zc put $f"
        touch "sent.$(basename "$f")"
        sent=$((sent + 1))
    done
    [ $running = 1 ] || break
    sleep 0.1
done
wait $SIMPID || fail "the simulation failed: $(cat sim.log)"
[ $sent = $FRAMES ] || fail "$sent frames sent, $FRAMES expected: $(ls sim)"
wait $CLIENT || fail "the client: $(cat client.err)"

[ "$(grep -v ready client.log)" = "$(ls sim)" ] ||
    fail "events for: $(grep -v ready client.log | tr '\n' ' '), frames: $(ls sim | tr '\n' ' ')"
for f in sim/*.png; do
    cmp -s "$f" "fetched/$(basename "$f")" || fail "$(basename "$f") did not arrive whole"
    cmp -s "$f" "root/frames/$(basename "$f")" || fail "$(basename "$f") was not placed whole"
done
echo "test_view_remote: $FRAMES frames simulation -> zc put -> zc serve -> zc view across namespaces, one event each, whole"
