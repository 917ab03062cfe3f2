#!/bin/sh
# test_vhost_testpmd.sh ZC SCENARIO - zc vhost against a real virtio front
# end: DPDK's testpmd with virtio-user (no VM, no hugepages: memfd memory).
# Scenarios: sink source echo kill second, and packed packed_source
# packed_echo: the first three over the packed virtqueue (packed_vq=1, which
# virtio-user refuses to run without the backend's VIRTIO_F_RING_PACKED).
# Exit 77 (skipped) when dpdk-testpmd is not installed.
set -u
ZC=$1
SCENARIO=$2
command -v dpdk-testpmd >/dev/null 2>&1 || { echo "dpdk-testpmd not installed: skipped"; exit 77; }

T=$(mktemp -d)
SOCK=$T/vhost.sock
ZPID=
cleanup() {
    [ -n "$ZPID" ] && kill "$ZPID" 2>/dev/null
    rm -rf "$T"
}
[ -n "${KEEP:-}" ] || trap cleanup EXIT
# testpmd keeps a runtime folder: as root under /var/run/dpdk, else under
# $XDG_RUNTIME_DIR.  Root's runs get a /run of their own (a tmpfs in a
# private mount namespace), so that the test leaves nothing on the machine.
cat >"$T/pmd" <<'EOF'
#!/bin/sh
[ "$(id -u)" -ne 0 ] || mount -t tmpfs zc-test-run /run || exit 1
exec dpdk-testpmd "$@"
EOF
chmod +x "$T/pmd"
if [ "$(id -u)" -eq 0 ]; then
    PMD="unshare -m --propagation private $T/pmd"
else
    PMD=$T/pmd
    export XDG_RUNTIME_DIR="$T"
fi
fail() { echo "FAIL: $*"; for f in "$T"/*.log "$T"/*.json; do [ -f "$f" ] && { echo "== $f"; tail -30 "$f"; }; done; exit 1; }

# backend MODE [DURATION]: starts zc vhost in the background, waits for its socket.
backend() {
    if [ -n "${2:-}" ]; then "$ZC" vhost --socket "$SOCK" --mode "$1" --duration "$2" --json >"$T/zc.json" 2>"$T/zc.log" &
    else "$ZC" vhost --socket "$SOCK" --mode "$1" --json >"$T/zc.json" 2>"$T/zc.log" & fi
    ZPID=$!
    for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
    fail "the backend did not create its socket"
}

# finish: stops the backend (SIGTERM) and waits for its JSON line.
finish() {
    kill -TERM "$ZPID" 2>/dev/null
    wait "$ZPID" || fail "the backend exited $?"
    ZPID=
    field rx_packets > /dev/null || fail "no JSON line from the backend"
}

# field NAME: a number from the backend's JSON line (tests/json_field.py).
field() { /usr/bin/python3 "$(dirname "$0")/../json_field.py" "$1" < "$T/zc.json"; }

# testpmd NAME SECONDS MODE [DEVARGS]: a non-interactive testpmd run of about
# SECONDS (SIGINT at the end: it prints its totals), on two lcores (one forwards).
# The virtio driver's init log says which ring format it runs.
testpmd() {
    timeout -s INT "$2" $PMD --no-huge --no-pci -m 256 --no-shconf --file-prefix "zc$$$1" \
        -l 0-1 --log-level=pmd.net.virtio.init:debug --vdev "net_virtio_user0,path=$SOCK,queues=1${4:-}" -- \
        --total-num-mbufs=8192 --forward-mode="$3" --tx-first --stats-period 1 --nb-cores=1 >"$T/$1.log" 2>&1
}

# total LOG RX|TX: testpmd's accumulated packet count.
total() { grep -A3 Accumulated "$1" | sed -n "s/.*$2-packets: *\([0-9]*\).*/\1/p" | head -1; }

# packed_ran LOG: the virtio driver ran testpmd's queues over the packed ring.
packed_ran() {
    grep -q "using packed ring .*Tx path" "$1" && grep -q "using packed ring .*Rx path" "$1" ||
        fail "testpmd did not run the packed ring"
}

# sink [DEVARGS]: testpmd transmits, the backend counts exactly what it sent.
sink() {
    backend sink
    testpmd tp 5 txonly "${1:-}"
    finish
    sent=$(total "$T/tp.log" TX)
    [ -n "$sent" ] && [ "$sent" -gt 1000 ] || fail "testpmd sent ${sent:-nothing}"
    [ "$(field rx_packets)" = "$sent" ] || fail "backend got $(field rx_packets), testpmd sent $sent"
    [ "$(field rx_bytes)" = $((sent * 64)) ] || fail "rx_bytes $(field rx_bytes) for $sent frames"
    [ "$(field bad_packets)" = 0 ] || fail "bad packets"
}

# source [DEVARGS]: the backend fills testpmd's receive buffers.
source_() {
    backend source
    testpmd tp 5 rxonly "${1:-}"
    finish
    got=$(total "$T/tp.log" RX)
    [ -n "$got" ] && [ "$got" -gt 1000 ] || fail "testpmd received ${got:-nothing}"
    [ "$(field tx_packets)" -ge "$got" ] || fail "backend sent $(field tx_packets) < $got received"
    [ "$(field tx_bytes)" = $(($(field tx_packets) * 64)) ] || fail "tx_bytes"
}

# echo [DEVARGS]: io forwarding ping-pongs the first burst through the
# echoing backend; testpmd's verbose dump shows each frame came back as it
# was sent.
echo_() {
    backend echo
    { for _ in $(seq 150); do grep -q "Port 0: " "$T/tp.log" 2>/dev/null && break; sleep 0.2; done
      sleep 0.5; echo "set verbose 1"; echo "start tx_first"; sleep 2; echo "stop"; sleep 0.5; echo "quit"; } |
        timeout 20 $PMD --no-huge --no-pci -m 256 --no-shconf --file-prefix "zc$$e" -l 0-1 \
            --log-level=pmd.net.virtio.init:debug --vdev "net_virtio_user0,path=$SOCK,queues=1${1:-}" -- \
            -i --total-num-mbufs=8192 --forward-mode=io --nb-cores=1 >"$T/tp.log" 2>&1
    finish
    mac=$(sed -n 's/.*Port 0: \([0-9A-F:]*\).*/\1/p' "$T/tp.log" | head -1)
    [ -n "$mac" ] || fail "no port MAC in testpmd's output"
    # Whole dump lines, without the prompts the main lcore prints into them.
    sed 's/testpmd> //g' "$T/tp.log" | grep " src=.*Receive queue=" >"$T/frames.txt"
    frames=$(wc -l <"$T/frames.txt")
    good=$(grep -c " src=$mac - dst=02:00:00:00:00:00 .*type=0x0800 - length=64 .*L3_IPV4 L4_UDP" "$T/frames.txt")
    [ "$frames" -gt 100 ] || fail "testpmd saw $frames frames come back"
    [ "$good" = "$frames" ] || fail "$((frames - good)) of $frames frames came back changed"
    [ "$(field rx_packets)" -ge "$frames" ] || fail "backend echoed fewer than testpmd got"
    [ "$(field bad_packets)" = 0 ] || fail "bad packets"
}

case $SCENARIO in
sink) sink ;;
source) source_ ;;
echo) echo_ ;;
kill) # a front end killed mid-run; the backend serves the next one
    backend sink
    $PMD --no-huge --no-pci -m 256 --no-shconf --file-prefix "zc$$k" -l 0-1 \
        --vdev "net_virtio_user0,path=$SOCK,queues=1" -- --total-num-mbufs=8192 \
        --forward-mode=txonly --tx-first --stats-period 1 --nb-cores=1 >"$T/tp1.log" 2>&1 &
    TP=$!
    sleep 4
    kill -KILL "$TP"
    wait "$TP" 2>/dev/null
    kill -0 "$ZPID" || fail "the backend died with its front end"
    testpmd tp2 5 txonly
    finish
    sent=$(total "$T/tp2.log" TX)
    [ -n "$sent" ] && [ "$sent" -gt 1000 ] || fail "the second front end sent ${sent:-nothing}"
    [ "$(field connections)" = 2 ] || fail "connections $(field connections)"
    [ "$(field rx_packets)" -gt "$sent" ] || fail "rx $(field rx_packets) not beyond the second run's $sent"
    ;;
second) # a second front end while one is attached is refused; the first goes on
    backend sink
    testpmd tp1 8 txonly &
    TP=$!
    sleep 3
    testpmd tp2 5 txonly
    wait "$TP"
    finish
    sent=$(total "$T/tp1.log" TX)
    [ -n "$sent" ] && [ "$sent" -gt 1000 ] || fail "the first front end sent ${sent:-nothing}"
    [ "$(field refused)" = 1 ] || fail "refused $(field refused)"
    [ "$(field rx_packets)" = "$sent" ] || fail "backend got $(field rx_packets), first front end sent $sent"
    ! grep -q "Port 0: " "$T/tp2.log" || fail "the second front end got a port"
    ;;
packed) # the packed ring negotiated; the backend counts exactly what testpmd sent
    sink ",packed_vq=1"
    packed_ran "$T/tp.log"
    ;;
packed_source)
    source_ ",packed_vq=1"
    packed_ran "$T/tp.log"
    ;;
packed_echo)
    echo_ ",packed_vq=1"
    packed_ran "$T/tp.log"
    ;;
*) echo "unknown scenario $SCENARIO"; exit 2 ;;
esac
echo "ok: $SCENARIO"
