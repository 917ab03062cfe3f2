#!/usr/bin/python3
"""bench/composite_scale_plot.py - seconds per frame against ranks, from the
CSV that bench/composite_scale.sh writes.

One panel per platform model and protocol, one line per image size, field
and algorithm; each point is the last frame of its run (the earlier frames
pay first touches).  A markdown table of the same points goes to stdout.

  bench/composite_scale_plot.py build/bench/composite_scale.csv -o docs/img/composite_scale.png
      [--field shell] [--algos radix-auto,bswap,icet-radixk]
"""
import argparse
import csv
import sys
from collections import defaultdict


def load(path, field, algos):
    """{(platform, protocol): {(size, algo): {ranks: (seconds, sent_max)}}},
    keeping each run's last frame."""
    runs = defaultdict(lambda: defaultdict(dict))
    last_frame = {}
    with open(path, newline="") as f:
        # --phases adds comment lines ("# phase ...") between the rows.
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            if row["field"] != field or (algos and row["algo"] not in algos):
                continue
            key = (row["platform"], row["protocol"], row["size"], row["algo"], int(row["ranks"]))
            frame = int(row["frame"])
            if frame < last_frame.get(key, -1):
                continue
            last_frame[key] = frame
            runs[(row["platform"], row["protocol"])][(row["size"], row["algo"])][
                int(row["ranks"])] = (float(row["seconds"]), int(row["sent_max"]))
    return runs


def table(runs):
    print("| platform | protocol | size | algorithm | ranks | ms per frame | most bytes a rank sends |")
    print("|---|---|---|---|---|---|---|")
    for (platform, protocol), lines in sorted(runs.items()):
        for (size, algo), pts in sorted(lines.items()):
            for n, (s, sent) in sorted(pts.items()):
                print(f"| {platform} | {protocol} | {size} | {algo} | {n} | {s * 1e3:.2f} | {sent:,} |")


def plot(runs, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = sorted(runs)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for (size, algo), pts in sorted(runs[panel].items()):
            ns = sorted(pts)
            ax.plot(ns, [pts[n][0] * 1e3 for n in ns], marker="o", label=f"{algo} {size}",
                    linestyle="--" if algo.startswith("icet") else "-")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("ranks (simulated)")
        ax.set_ylabel("simulated ms per frame (slowest rank)")
        ax.set_title(f"{panel[0]}, {panel[1]} protocol model")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("-o", "--out", help="PNG to write (default: the table only)")
    ap.add_argument("--field", default="shell")
    ap.add_argument("--algos", default="", help="comma-separated; default: all")
    a = ap.parse_args()
    runs = load(a.csv, a.field, set(filter(None, a.algos.split(","))))
    if not runs:
        sys.exit(f"composite_scale_plot: no {a.field} rows in {a.csv}")
    table(runs)
    if a.out:
        plot(runs, a.out)


if __name__ == "__main__":
    main()
