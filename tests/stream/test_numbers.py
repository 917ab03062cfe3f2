"""test_numbers.py ZC - the figures `zc bench stream` and `zc ingest` print
are measured or say why not: no sentinel where nothing was measured (JSON
null and a sentence instead), the rate asked printed as asked, one unit
system per figure, a progress line that never passes 100 %, and on failure
a last JSON line {"error", "errno"}.  Tiny runs: formats, not figures."""
import errno
import json
import os
import pty
import re
import resource
import subprocess
import sys
import tempfile

ZC = sys.argv[1]


def run(args, **kw):
    p = subprocess.run([ZC] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120, **kw)
    return p.returncode, p.stdout, p.stderr


def json_lines(out):
    """The lines of out that are JSON objects, parsed (all of them must parse)."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert lines, "no output"
    return lines


def no_sentinel(obj):
    """No figure of absurd size (the 1e9 of a min never set) anywhere."""
    for key, value in obj.items():
        if isinstance(value, float):
            assert abs(value) < 1e6 or key.endswith("_Bps") or key == "bytes", (key, value)


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


def bench_stream_no_size_above_l3():
    rc, out, _ = run(["bench", "stream", "--reps", "1", "--max-size", "4K", "--l3", "1G",
                      "--json"])
    check(rc == 0, "bench stream exit %d" % rc)
    lines = json_lines(out)
    for line in lines:
        no_sentinel(line)
    s = lines[-1]
    check(s["sizes_above_l3"] == 0, "sizes_above_l3 %r" % s.get("sizes_above_l3"))
    check(s["nt_vs_best_copy_above_l3_min"] is None, "min is not null")
    check(s["nt_vs_best_copy_above_l3_max"] is None, "max is not null")
    check("no size above the L3" in s["note"], "no note")
    check(s["destinations_uncached"] is False, "a 512 MiB region is not above a 1 GiB L3")
    rc, out, _ = run(["bench", "stream", "--reps", "1", "--max-size", "4K", "--l3", "1G"])
    last = out.splitlines()[-1]
    check(rc == 0 and "no size above the L3" in last, "text: " + last)
    check("1000000000" not in out and " 0.00 x" not in out, "sentinel in text: " + out)


def bench_stream_one_size_above_l3():
    rc, out, _ = run(["bench", "stream", "--reps", "1", "--max-size", "8K", "--l3", "4K",
                      "--json"])
    check(rc == 0, "bench stream exit %d" % rc)
    lines = json_lines(out)
    s = lines[-1]
    check(s["sizes_above_l3"] == 1, "sizes_above_l3 %r" % s.get("sizes_above_l3"))
    ratio = lines[-2]["nt_vs_best_copy"]
    check(s["nt_vs_best_copy_above_l3_min"] == ratio == s["nt_vs_best_copy_above_l3_max"],
          "min/max are not the 8 KiB ratio")
    check("note" not in s, "a note where a figure was measured")


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20))


def bench_stream_failure_json():
    rc, out, err = run(["bench", "stream", "--max-size", "4K", "--json"],
                       preexec_fn=limit_memory)
    if rc != 1 and "Sanitizer" in err:
        print("  (a sanitizer runtime needs more address space: skipped)", file=sys.stderr)
        return
    check(rc == 1, "bench stream without memory: exit %d" % rc)
    last = json_lines(out)[-1]
    check(last["errno"] == errno.ENOMEM and "cannot map" in last["error"], "error line %r" % last)
    check(err.count("\n") == 1, "stderr: " + err)


def ingest_rate_one():
    rc, out, _ = run(["ingest", "--rate", "1", "--duration", "0.5", "--json"])
    check(rc == 0, "ingest exit %d" % rc)
    lines = out.splitlines()
    check(" of 1 B/s asked" in lines[0], "asked rate: " + lines[0])
    s = json.loads(lines[-1])
    no_sentinel(s)
    check(s["rate_Bps"] == 1, "rate_Bps %r" % s.get("rate_Bps"))
    check(s["seconds"] >= 0.5, "the run lasted %r s" % s["seconds"])
    # The rate is the bytes over the time the sensors ran (a frame at start,
    # over half a second), not over the few ms the producer was busy.
    check(abs(s["achieved_Bps"] - s["bytes"] / s["seconds"]) <= 0.01 * s["achieved_Bps"],
          "achieved_Bps %r for %r bytes" % (s["achieved_Bps"], s["bytes"]))
    check(s["achieved_Bps"] < 20e6, "achieved_Bps %r" % s["achieved_Bps"])


def ingest_units_agree():
    """The text and the JSON give the same rate: GiB in text, bytes/s in JSON."""
    rc, out, _ = run(["ingest", "--rate", "64M", "--duration", "0.5", "--json"])
    check(rc == 0, "ingest exit %d" % rc)
    text, s = out.splitlines()[0], json.loads(out.splitlines()[-1])
    m = re.match(r"ingest: ([\d.]+) MiB/s of 64\.00 MiB/s asked", text)
    check(m is not None, "text: " + text)
    check(abs(float(m.group(1)) * 2**20 - s["achieved_Bps"]) < 0.01 * 2**20,
          "text %s MiB/s against JSON %r B/s" % (m.group(1), s["achieved_Bps"]))
    check(s["rate_Bps"] == 64 << 20, "rate_Bps %r" % s["rate_Bps"])


def ingest_progress_at_most_100():
    """On a terminal the progress line never passes 100 %."""
    master, slave = pty.openpty()
    p = subprocess.Popen([ZC, "ingest", "--rate", "64M", "--duration", "2.5"],
                         stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    check(p.wait(timeout=60) == 0, "ingest exit")
    pcts = [float(x) for x in re.findall(rb"ingest +([\d.]+)%", seen)]
    check(pcts, "no progress line: %r" % seen[-200:])
    check(max(pcts) <= 100.0, "progress reached %.1f%%" % max(pcts))


def ingest_failure_json():
    with tempfile.TemporaryDirectory() as d:
        rec = os.path.join(d, "no", "such", "dir", "rec")
        rc, out, err = run(["ingest", "--duration", "0.2", "--persist", rec, "--json"])
    check(rc == 1, "ingest into a missing folder: exit %d" % rc)
    last = json_lines(out)[-1]
    check(last["errno"] == errno.ENOENT and rec in last["error"], "error line %r" % last)
    check(err.count("\n") == 1, "stderr: " + err)


def ingest_corunner_not_measurable():
    """With one CPU the co-runner shares the ingest's core: no loss figure."""
    cpu = min(os.sched_getaffinity(0))
    rc, out, _ = run(["ingest", "--rate", "32M", "--duration", "1.5", "--phase", "0.1",
                      "--table", "1M", "--corunner", "--json"],
                     preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    check(rc == 0, "ingest --corunner exit %d" % rc)
    s = json_lines(out)[-1]
    no_sentinel(s)
    check(s["corunner_measurable"] is False, "measurable on one core")
    check(s["corunner_loss_regular"] is None and s["corunner_loss_nt"] is None,
          "losses on one core: %r %r" % (s["corunner_loss_regular"], s["corunner_loss_nt"]))
    check("not measurable here" in s["corunner_note"], "note %r" % s.get("corunner_note"))
    said = [line for line in out.splitlines() if line.startswith("co-runner losses:")]
    check(said and "not measurable here" in said[0], "text: %r" % said)


LOSS_KEYS = ["corunner_loss_%s%s" % (kind, stat) for kind in ("regular", "nt")
             for stat in ("", "_min", "_max")]


def corunner_json(extra):
    rc, out, _ = run(["ingest", "--rate", "64M", "--duration", "0.6", "--phase", "0.04",
                      "--table", "1M", "--corunner", "--json"] + extra)
    check(rc == 0, "ingest --corunner exit %d" % rc)
    s = json_lines(out)[-1]
    no_sentinel(s)
    said = [line for line in out.splitlines() if line.startswith("co-runner losses")]
    check(len(said) == 1, "text: %r" % said)
    return s, said[0]


def ingest_corunner_spread():
    """Median, min and max of each loss over at least five rounds, or all
    null with the reason: never a figure the run cannot stand behind."""
    s, said = corunner_json([])
    check(s["rounds"] >= 5, "rounds %r" % s["rounds"])
    check(isinstance(s["corunner_measurable"], bool), "flag %r" % s.get("corunner_measurable"))
    check(s["corunner_far_Mlookups"] > 0, "far rate %r" % s["corunner_far_Mlookups"])
    if s["corunner_measurable"]:
        for kind in ("regular", "nt"):
            lo, med, hi = (s["corunner_loss_%s%s" % (kind, t)] for t in ("_min", "", "_max"))
            check(lo <= med <= hi, "%s: %r %r %r" % (kind, lo, med, hi))
        check("[" in said, "text: %r" % said)
    else:
        check(all(s[k] is None for k in LOSS_KEYS), "losses %r" % [s[k] for k in LOSS_KEYS])
        check("not measurable here" in said, "text: %r" % said)


def ingest_corunner_impossible_ratio():
    """A co-runner asked to run 100000 times faster than from DRAM never
    does: not measurable, in JSON (nulls and a note) and in the text."""
    s, said = corunner_json(["--min-ratio", "1e5"])
    check(s["corunner_measurable"] is False, "measurable at ratio 1e5")
    check(all(s[k] is None for k in LOSS_KEYS), "losses %r" % [s[k] for k in LOSS_KEYS])
    check("not measurable here" in s["corunner_note"], "note %r" % s.get("corunner_note"))
    check("not measurable here" in said, "text: %r" % said)


for test in (bench_stream_no_size_above_l3, bench_stream_one_size_above_l3,
             bench_stream_failure_json, ingest_rate_one, ingest_units_agree,
             ingest_progress_at_most_100, ingest_failure_json, ingest_corunner_not_measurable,
             ingest_corunner_spread, ingest_corunner_impossible_ratio):
    print("  " + test.__name__, file=sys.stderr)
    test()
