#!/bin/sh
# stream_persist.sh - persisting every frame with O_DIRECT against through
# the page cache, with the co-runner measured alone, under regular-store and
# under streaming ingest: one JSON line per mode (achieved rate, drops, frames
# written, the recording's page-cache footprint, co-runner losses).
#
#   bench/stream_persist.sh             (ZC=path/to/zc, default build/zc; RATE, default 1G)
#
# The recording goes to a temporary file (TMPDIR) that is removed afterwards.
set -eu
ZC=${ZC:-build/zc}
RATE=${RATE:-1G}
DURATION=${DURATION:-5}
rec=$(mktemp -t zc-stream-rec.XXXXXX)
trap 'rm -f "$rec"' EXIT
for mode in direct buffered; do
    "$ZC" ingest --rate "$RATE" --duration "$DURATION" --corunner --persist "$rec" \
        --persist-mode "$mode" --json | tail -n 1
done
