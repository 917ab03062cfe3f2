#!/bin/sh
# composite_scale.sh BUILD - runs bench/composite_scale under SimGrid SMPI
# on both platform models (bench/platforms), with the eager-below-64-KiB
# protocol model and with SMPI's defaults, and writes one CSV:
#   BUILD/bench/composite_scale.csv  (platform,protocol + the program's columns)
# What it sweeps comes from the environment (defaults: a quick run):
#   RANKS="64 256"  SIZES="256x256"  FIELDS=both  FRAMES=3
#   ALGO=radix-auto  (one variant; default: all six)
#   HOST_SPEED=20Gf  (this machine's core, in flop/s, for smpi/host-speed)
# Large runs (RANKS="64 256 1024 4096", SIZES="256x256 512x512") need
# per rank about 16 bytes a pixel of tile and 12 of span list, plus the
# round buffers: 4096 ranks at 512x512 is over 30 GB.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
prog=$build/bench/composite_scale_smpi
[ -x "$prog" ] || { echo "composite_scale.sh: $prog missing (smpicc not found?)" >&2; exit 1; }
ranks=${RANKS:-64 256}
sizes=${SIZES:-256x256}
fields=${FIELDS:-both}
frames=${FRAMES:-3}
algo=${ALGO:+--algo $ALGO}
speed=${HOST_SPEED:-20Gf}
out=$build/bench/composite_scale.csv
# Per-message MPI software overhead, sender and receiver (both platforms).
overhead="--cfg=smpi/os:0:2.5e-6:0 --cfg=smpi/or:0:2.5e-6:0"
eager="--cfg=smpi/async-small-thresh:65536 --cfg=smpi/send-is-detached-thresh:65536"
header=0
for platform in bgp-torus ib-fattree; do
    hosts=$here/platforms/${platform%%-*}-hosts.txt
    for protocol in eager defaults; do
        cfg="--cfg=smpi/host-speed:$speed"
        [ $protocol = eager ] && cfg="$cfg $overhead $eager"
        for n in $ranks; do
            for size in $sizes; do
                echo "composite_scale.sh: $platform $protocol N=$n $size" >&2
                # shellcheck disable=SC2086
                smpirun -np "$n" -platform "$here/platforms/$platform.xml" -hostfile "$hosts" \
                    --cfg=smpi/privatization:1 $cfg "$prog" --size "$size" --field "$fields" \
                    --frames "$frames" $algo 2> "$build/bench/composite_scale.log" > "$build/bench/one.csv"
                if [ $header -eq 0 ]; then
                    sed -n '1s/^/platform,protocol,/p' "$build/bench/one.csv" > "$out"
                    header=1
                fi
                sed -n "2,\$s/^/$platform,$protocol,/p" "$build/bench/one.csv" >> "$out"
            done
        done
    done
done
rm -f "$build/bench/one.csv"
echo "composite_scale.sh: wrote $out" >&2
