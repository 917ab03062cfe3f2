"""test_view_browser.py ZC MPIEXEC SRC BUILD SHOT - `zc view` in a real
browser: headless Chromium (cdp.py) shows the page while `mpirun -np 2` runs
the example simulation (built against the installed library) into the
watched folder.  Each frame must appear on the page within 1 s of the file
being placed, with the step its PNG text says; the scrubber must reach every
earlier frame; a screenshot of the page is saved to SHOT.  Exit 77 (skipped)
where Chromium is absent."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cdp  # noqa: E402
from pngtext import text_chunks  # noqa: E402
from viewtest import fail, start_view, stop_view  # noqa: E402

ZC, MPIEXEC, SRC, BUILD, SHOT = sys.argv[1:6]
chromium = cdp.find()
if not chromium:
    print("test_view_browser: chromium is not installed; skipped")
    sys.exit(77)

# Every change of the displayed step, with the page's clock and the frame
# then in the <img>: the page's own record of what it showed, and when.
RECORD = """window.shown = [];
new MutationObserver(() => {
  const img = document.getElementById('frame');
  shown.push({step: document.getElementById('step').textContent, name: img.dataset.name,
              loaded: img.complete && img.naturalWidth > 0, at: Date.now()});
}).observe(document.getElementById('step'), {childList: true, characterData: true, subtree: true});
true"""

top = tempfile.mkdtemp(prefix="zc-view-browser.")
view = browser = None
try:
    libdir = subprocess.run(["sh", os.path.join(HERE, "build_heat.sh"), top, SRC, BUILD], check=True,
                            capture_output=True, text=True).stdout.strip()
    frames = os.path.join(top, "frames")
    os.mkdir(frames)
    view, port = start_view(ZC, ["--frames", frames, "--listen", "127.0.0.1:0"])
    browser = cdp.Browser(chromium)
    browser.open("http://127.0.0.1:%d/" % port)
    if not browser.wait_for("document.readyState === 'complete' && es.readyState === 1", 20):
        fail("the page did not load or its event stream did not open")
    browser.eval(RECORD)

    env = dict(os.environ, LD_LIBRARY_PATH=libdir + ":" + os.environ.get("LD_LIBRARY_PATH", ""))
    t0 = time.monotonic()
    run = subprocess.run([MPIEXEC, "-np", "2", "--oversubscribe", os.path.join(top, "heat", "heat"), "--grid", "48",
                          "--steps", "80", "--every", "10", "--size", "320", "--out", frames],
                         cwd=top, env=env, capture_output=True, text=True, timeout=90)
    if run.returncode != 0:
        fail("the simulation failed: %s" % run.stderr)
    names = sorted(os.listdir(frames))
    if len(names) != 9:
        fail("the simulation wrote %s" % names)
    last = names[-1]
    if not browser.wait_for("shown.some((s) => s.name === %r)" % last, 5):
        fail("the last frame, %s, never showed" % last)
    shown = browser.eval("shown")

    # Each frame: shown, loaded, with its own step, within 1 s of its file.
    worst = 0.0
    for name in names:
        path = os.path.join(frames, name)
        step = text_chunks(path)["zc:step"]
        seen = [s for s in shown if s["name"] == name]
        if not seen:
            fail("%s was never shown (shown: %s)" % (name, [s["name"] for s in shown]))
        if seen[0]["step"] != step or not seen[0]["loaded"]:
            fail("%s: the page showed step %r (image loaded: %s), the file says %s" %
                 (name, seen[0]["step"], seen[0]["loaded"], step))
        delay = seen[0]["at"] / 1000.0 - os.stat(path).st_mtime
        worst = max(worst, delay)
        if delay > 1.0:
            fail("%s showed %.2f s after it was placed" % (name, delay))
    print("test_view_browser: %d frames in %.1f s, each shown within %.0f ms of its file" %
          (len(names), time.monotonic() - t0, worst * 1000))

    # The scrubber reaches every earlier frame, the newest last.
    if browser.eval("+document.getElementById('scrub').max") != len(names) - 1:
        fail("the scrubber spans %s positions for %d frames" %
             (browser.eval("document.getElementById('scrub').max"), len(names)))
    for i, name in enumerate(names):
        browser.eval("(() => { const s = document.getElementById('scrub'); s.value = %d;"
                     "s.dispatchEvent(new Event('input')); return true; })()" % i)
        step = text_chunks(os.path.join(frames, name))["zc:step"]
        if not browser.wait_for("(() => { const img = document.getElementById('frame');"
                                "return img.dataset.name === %r && img.complete && img.naturalWidth > 0 &&"
                                "document.getElementById('step').textContent === %r; })()" % (name, step), 5):
            fail("the scrubber at %d did not show %s" % (i, name))
        if i == 0 and "paused" not in browser.eval("document.getElementById('live').textContent"):
            fail("an earlier frame on the scrubber does not say the view is paused")
    browser.screenshot(SHOT)
    with open(SHOT, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n" or os.path.getsize(SHOT) < 10000:
            fail("the screenshot %s is not a picture of the page" % SHOT)
    print("test_view_browser: scrubber over %d frames; screenshot %s" % (len(names), SHOT))
finally:
    if browser:
        browser.close()
    if view:
        stop_view(view)
    shutil.rmtree(top, ignore_errors=True)
