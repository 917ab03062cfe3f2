"""test_demo_view.py ZC - `zc demo --view`: zc view serves OUT/frames while
the pipeline runs (its address the demo's first line), every frame the
pipeline places reaches a client of the event stream (or the frame list it
read on connecting), and the viewer is gone when the demo ends; without
--view the demo's last line says how to watch the next run live; --listen
without --view and --view without the pipeline are usage errors."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from viewtest import Events, fail  # noqa: E402

ZC = sys.argv[1]
SMALL = ["--only", "pipeline", "--ranks", "2", "--grid", "16", "--steps", "40", "--every", "5", "--image", "64x64"]

for bad in (["--listen", "127.0.0.1:0"], ["--view", "--only", "ring"]):
    r = subprocess.run([ZC, "demo"] + bad, capture_output=True, text=True, timeout=10)
    if r.returncode != 2 or "--view" not in r.stderr:
        fail("zc demo %s: exit %d, %s" % (" ".join(bad), r.returncode, r.stderr))

top = tempfile.mkdtemp(prefix="zc-demo-view.")
demo = None
try:
    out = os.path.join(top, "out")
    demo = subprocess.Popen([ZC, "demo", "--out", out, "--view", "--listen", "127.0.0.1:0"] + SMALL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = demo.stdout.readline()
    m = re.match(r"zc view: http://127\.0\.0\.1:(\d+)/ ", first)
    if not m:
        fail("the demo's first line is not the viewer's address: %r" % first)
    port = int(m.group(1))
    ev = Events("127.0.0.1", port)
    with urllib.request.urlopen("http://127.0.0.1:%d/frames" % port, timeout=10) as r:
        listed = [f["name"] for f in json.load(r)]
    rest, err = demo.communicate(timeout=120)
    if demo.returncode != 0:
        fail("zc demo --view: exit %d, %s" % (demo.returncode, err))
    placed = sorted(n for n in os.listdir(os.path.join(out, "frames")) if n.endswith(".png"))
    if len(placed) != 8:
        fail("the pipeline placed %s" % placed)
    ev.wait_for(len(placed) - len(listed), 5)
    if sorted(set(listed + ev.names())) != placed or len(ev.names()) != len(set(ev.names())):
        fail("frames placed %s; listed on connecting %s, then events for %s" % (placed, listed, ev.names()))
    if "watch live" in rest:
        fail("zc demo --view still says how to watch live")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        fail("the viewer still serves after the demo ended")
    except ConnectionRefusedError:
        pass
    ev.close()
    print("test_demo_view: %d frames placed, %d listed at connect, %d by events" %
          (len(placed), len(listed), len(ev.names())))

    r = subprocess.run([ZC, "demo", "--out", out] + SMALL, capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or r.stdout.splitlines()[-1] != \
            "watch live: zc demo --view, then open http://127.0.0.1:8080/":
        fail("zc demo without --view: exit %d, last line %r" % (r.returncode, r.stdout.splitlines()[-1:]))
finally:
    if demo and demo.poll() is None:
        demo.kill()
        demo.wait()
    shutil.rmtree(top, ignore_errors=True)
