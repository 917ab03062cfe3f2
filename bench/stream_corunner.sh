#!/bin/sh
# stream_corunner.sh - the co-runner's lookup rate against the ingest rate,
# for streaming and for ordinary stores: `zc ingest --corunner` at each rate
# (at least 5 rounds of interleaved phases, paired per round; median, min and
# max of each loss, or null where not measurable), one JSON line per rate on
# stdout, then the plot.
#
#   bench/stream_corunner.sh [PNG]      (ZC=path/to/zc, default build/zc;
#                                        RATES, DURATION; PNG default
#                                        docs/img/stream_corunner.png)
set -eu
ZC=${ZC:-build/zc}
PNG=${1:-docs/img/stream_corunner.png}
RATES=${RATES:-"100M 250M 500M 1G 2G 4G 8G 16G"}
DURATION=${DURATION:-4}
# TABLE: the co-runner's table for every rate (default: each run measures
# its own, which can differ from run to run on a machine whose cache is shared).
TABLE=${TABLE:+--table $TABLE}
here=$(dirname "$0")
lines=$(mktemp -t zc-stream-corunner.XXXXXX)
trap 'rm -f "$lines"' EXIT
for rate in $RATES; do
    "$ZC" ingest --rate "$rate" --duration "$DURATION" --corunner $TABLE --json | tail -n 1 >> "$lines"
    tail -n 1 "$lines"
done
/usr/bin/python3 "$here/stream_plot.py" "$lines" "$PNG"
