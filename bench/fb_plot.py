#!/usr/bin/python3
"""fb_plot.py - plots `zc bench fb --csv FILE`: extra memory and frame time
of the tile undo journal against a back buffer, by touched fraction.

  /usr/bin/python3 bench/fb_plot.py FILE.csv OUT.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    rows = list(csv.DictReader(open(sys.argv[1])))
    fig, (mem, tim) = plt.subplots(1, 2, figsize=(11, 4.2))
    for shape, style in (("clustered", "-o"), ("scattered", "--s")):
        r = [x for x in rows if x["shape"] == shape]
        f = [100 * float(x["fraction"]) for x in r]
        mem.plot(f, [int(x["journal_bytes"]) / 2**20 for x in r], style, label=f"journal, {shape}")
        tim.plot(f, [1e3 * float(x["journal_s"]) for x in r], style, label=f"journal, {shape}")
        tim.plot(f, [1e3 * float(x["backbuffer_s"]) for x in r], style, alpha=0.5,
                 label=f"back buffer, {shape}")
    mem.plot(f, [int(x["backbuffer_bytes"]) / 2**20 for x in r], "k:", label="back buffer")
    mem.set_xlabel("tiles touched by the frame (%)")
    mem.set_ylabel("extra memory (MiB)")
    mem.set_title("undo state beyond the visible frame")
    tim.set_xlabel("tiles touched by the frame (%)")
    tim.set_ylabel("frame time, begin..commit (ms)")
    tim.set_title("frame time (median)")
    for ax in (mem, tim):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
