#!/bin/sh
# stream_corunner.sh - the co-runner's lookup rate against the ingest rate,
# for streaming and for ordinary stores: `zc ingest --corunner` at each rate
# (phases interleaved, medians), one JSON line per rate, then the plot.
#
#   bench/stream_corunner.sh [OUT_DIR]     (ZC=path/to/zc, default build/zc)
#
# Writes OUT_DIR/stream_corunner.jsonl and OUT_DIR/stream_corunner.png
# (default OUT_DIR: docs/img for the picture, the JSON lines next to it).
set -eu
ZC=${ZC:-build/zc}
OUT=${1:-docs/img}
RATES=${RATES:-"100M 250M 500M 1G 2G 4G 8G 16G"}
DURATION=${DURATION:-3}
here=$(dirname "$0")
mkdir -p "$OUT"
: > "$OUT/stream_corunner.jsonl"
for rate in $RATES; do
    "$ZC" ingest --rate "$rate" --duration "$DURATION" --corunner --json | tail -n 1 \
        >> "$OUT/stream_corunner.jsonl"
    tail -n 1 "$OUT/stream_corunner.jsonl"
done
/usr/bin/python3 "$here/stream_plot.py" "$OUT/stream_corunner.jsonl" "$OUT/stream_corunner.png"
