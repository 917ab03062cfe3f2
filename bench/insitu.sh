#!/bin/sh
# bench/insitu.sh [ZC] - sort-last compositing against the gather baseline.
#
# Runs `zc insitu` under mpirun: first the bytes a rank sends per frame
# against the rank count (binary swap and radix-k, 64^3 field, 256x256
# image), then the headline case (256^3 field, 512x512 image, 4 ranks),
# where the gather baseline ships the whole field to rank 0.  Writes
# bench/results/insitu.csv and insitu_headline.json, the plot
# docs/img/insitu_bytes.png and the headline's last frame as
# docs/img/insitu_frame.png.  About 2 minutes on 2 cores.
set -eu
zc=${1:-build/zc}
results=bench/results
mkdir -p "$results" docs/img
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

num() { echo "$1" | sed -n "s/.*\"$2\":\([0-9.e+-]*\).*/\1/p"; }
csv=$results/insitu.csv
echo "ranks,algorithm,bytes_sent_per_rank_per_frame,image_bytes,composite_bytes_per_frame,gather_bytes_per_frame,composite_seconds_per_frame" > "$csv"
for algo in radix-k binary-swap; do
    for np in 1 2 3 4 6 8; do
        j=$(mpirun -np $np --oversubscribe "$zc" insitu --steps 160 --every 80 --grid 64 \
            --size 256x256 --algo $algo --json | tail -n 1)
        echo "$np,$algo,$(num "$j" bytes_sent_per_rank_per_frame),$(num "$j" image_bytes),$(num "$j" composite_bytes_per_frame),$(num "$j" gather_bytes_per_frame),$(num "$j" composite_seconds_per_frame)" >> "$csv"
        echo "insitu: $algo on $np ranks done" >&2
    done
done

frames=$(mktemp -d "${TMPDIR:-/tmp}/zc-insitu.XXXXXX")
trap 'rm -rf "$frames"' EXIT
mpirun -np 4 --oversubscribe "$zc" insitu --steps 200 --every 200 --grid 256 --size 512x512 \
    --out "$frames" --json | tail -n 1 > "$results/insitu_headline.json"
cp "$(ls "$frames"/*.png | tail -n 1)" docs/img/insitu_frame.png
cat "$results/insitu_headline.json"

/usr/bin/python3 - "$csv" <<'PY'
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [x for x in csv.DictReader(open(sys.argv[1])) if int(x["ranks"]) > 1]  # 1 rank sends nothing
fig, ax = plt.subplots(figsize=(6.4, 4))
for algo, mark in (("radix-k", "o-"), ("binary-swap", "s--")):
    r = [x for x in rows if x["algorithm"] == algo]
    ax.plot([int(x["ranks"]) for x in r], [float(x["bytes_sent_per_rank_per_frame"]) for x in r],
            mark, label=f"{algo}: most bytes a rank sends")
r = [x for x in rows if x["algorithm"] == "radix-k"]
n = [int(x["ranks"]) for x in r]
ax.plot(n, [float(x["image_bytes"]) for x in r], "k:", label="image bytes (RGBA8)")
ax.plot(n, [float(x["composite_bytes_per_frame"]) for x in r], "c.-", label="radix-k, all ranks' bytes")
ax.plot(n, [float(x["gather_bytes_per_frame"]) for x in r], "r^-", label="gather baseline, all bytes")
ax.set_yscale("log")
ax.set_xlabel("ranks")
ax.set_ylabel("bytes per frame")
ax.set_title("64^3 field, 256x256 image")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("docs/img/insitu_bytes.png", dpi=100)
PY
echo "insitu: wrote $csv and docs/img/insitu_bytes.png" >&2
