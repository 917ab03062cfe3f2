#!/usr/bin/python3
"""stream_plot.py IN.jsonl OUT.png - the co-runner's throughput against the
ingest rate under ingest with ordinary and with streaming stores, as a share
of its throughput alone, from the JSON lines of `zc ingest --corunner --json`
(stream_corunner.sh)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: stream_plot.py IN.jsonl OUT.png")
    rows = []
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    # A run whose co-runner could not own a cache has no losses (null): no point.
    rows = [r for r in rows if r.get("corunner_measurable", True)]
    if not rows:
        sys.exit("stream_plot.py: no measurable runs in " + sys.argv[1])
    rows.sort(key=lambda r: r["rate_Bps"])
    x = [r["rate_Bps"] / 2**30 for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    # Each run compares every ingest phase with the alone phase of its own
    # round (corunner_loss_*): plotted as the throughput kept, alone = 100 %.
    ax.axhline(100, color="k", linestyle="--", label="co-runner alone")
    ax.plot(x, [100 * (1 - r["corunner_loss_regular"]) for r in rows], "o-", color="tab:red",
            label="under ingest, ordinary stores")
    ax.plot(x, [100 * (1 - r["corunner_loss_nt"]) for r in rows], "s-", color="tab:blue",
            label="under ingest, streaming stores (zc_copy_nt)")
    ax.set_xscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{v:.2g}" for v in x])
    ax.minorticks_off()
    ax.set_xlabel("ingest rate asked (GiB/s)")
    ax.set_ylabel("co-runner throughput, % of alone (median)")
    ax.set_ylim(0, 120)
    table = rows[0].get("corunner_table_bytes", 0) >> 20
    ax.set_title(f"Co-runner on the other core ({table} MiB table) vs sensor ingest")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2])


if __name__ == "__main__":
    main()
