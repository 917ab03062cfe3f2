"""test_view_load.py ZC - `zc view` under load: 20 clients at once, each on
the Server-Sent Events stream and fetching every frame it is told of, while
a frame is placed every 100 ms for 10 s.  Every client must get an event
for every frame, in order, and each frame whole; the viewer's resident
memory (VmRSS) at the end must stay within a small margin of what it was
once the clients were connected."""
import http.client
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from viewtest import Events, fail, start_view, stop_view  # noqa: E402

ZC = sys.argv[1]
CLIENTS, FRAMES, EVERY = 20, 100, 0.1
PNG = os.path.join(HERE, "fdtd-ref", "np1", "frame_00000020.png")
WANT = open(PNG, "rb").read()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    fail("no VmRSS for %d" % pid)


class Client:
    """One viewer: its event stream, and a keep-alive connection that
    fetches each frame the stream names."""

    def __init__(self, port):
        self.port = port
        self.events = Events("127.0.0.1", port)
        self.fetched, self.bad = 0, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._fetch, daemon=True)
        self.thread.start()

    def _fetch(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not (self.done.is_set() and self.fetched == len(self.events.got)):
            if self.fetched == len(self.events.got):
                time.sleep(0.01)
                continue
            name = self.events.got[self.fetched][0]["name"]
            conn.request("GET", "/f/" + name)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200 or body != WANT:
                self.bad.append("%s: %d, %d bytes" % (name, r.status, len(body)))
            self.fetched += 1
        conn.close()


top = tempfile.mkdtemp(prefix="zc-view-load.")
view = None
clients = []
try:
    frames = os.path.join(top, "frames")
    os.mkdir(frames)
    view, port = start_view(ZC, ["--frames", frames, "--listen", "127.0.0.1:0"])
    clients = [Client(port) for _ in range(CLIENTS)]
    names = ["frame_%08d.png" % i for i in range(FRAMES)]

    def place(i):
        tmp = os.path.join(frames, ".%d.tmp" % i)
        shutil.copy(PNG, tmp)
        os.rename(tmp, os.path.join(frames, names[i]))

    # A first round so that every thread and buffer the viewer keeps is
    # there before the first measurement.
    warm = 10
    for i in range(warm):
        place(i)
        time.sleep(EVERY)
    for c in clients:
        c.events.wait_for(warm, 10)
    before = rss_kib(view.pid)
    t0 = time.monotonic()
    for i in range(warm, FRAMES):
        place(i)
        time.sleep(max(0.0, t0 + (i - warm + 1) * EVERY - time.monotonic()))
    for c in clients:
        c.events.wait_for(FRAMES, 10)
        c.done.set()
        c.thread.join(30)
    after = rss_kib(view.pid)
    for n, c in enumerate(clients):
        if c.events.names() != names:
            got = c.events.names()
            fail("client %d got %d events for %d frames (missing %s)" %
                 (n, len(got), FRAMES, sorted(set(names) - set(got))[:5]))
        if c.bad or c.fetched != FRAMES:
            fail("client %d: %d frames fetched, bad: %s" % (n, c.fetched, c.bad[:3]))
    print("test_view_load: %d clients, %d frames every %.0f ms: every event to every client, "
          "every frame whole; VmRSS %d KiB after %d frames, %d KiB at the end" %
          (CLIENTS, FRAMES, EVERY * 1000, before, warm, after))
    # Flat: no growth per frame or per event (100 frames x 20 clients would
    # show as megabytes); a little for allocator noise.
    if after > before + max(1024, before // 10):
        fail("zc view's memory grew from %d KiB to %d KiB" % (before, after))
finally:
    for c in clients:
        c.done.set()
        c.events.close()
    if view:
        stop_view(view)
    shutil.rmtree(top, ignore_errors=True)
