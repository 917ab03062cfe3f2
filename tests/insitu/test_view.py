"""test_view.py ZC - `zc view` over loopback: frames served, nothing else
(traversal, symlinks, FIFOs, folders refused), a new frame pushed on the
Server-Sent Events stream within 1 s of being placed, an event for each
of several frames placed at once, the token enforced,
and a non-loopback address refused without one."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ZC = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from viewtest import Events, fail, start_view, stop_view  # noqa: E402

PNG = os.path.join(HERE, "fdtd-ref", "np1", "frame_00000020.png")


def get(port, path, method="GET"):
    """Status and body of one request, the path sent exactly as given."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, path)).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def place(folder, name):
    """A frame placed as zc's writers place one: written aside, renamed in."""
    tmp = os.path.join(folder, "." + name + ".tmp")
    shutil.copy(PNG, tmp)
    os.rename(tmp, os.path.join(folder, name))


top = tempfile.mkdtemp(prefix="zc-view.")
procs = []
try:
    frames = os.path.join(top, "frames")
    os.mkdir(frames)
    place(frames, "frame_00000001.png")
    shutil.copy(PNG, os.path.join(top, "frame_00000099.png"))  # outside the folder
    os.symlink(os.path.join(top, "frame_00000099.png"), os.path.join(frames, "frame_00000002.png"))
    os.mkfifo(os.path.join(frames, "frame_00000003.png"))
    os.mkdir(os.path.join(frames, "frame_00000004.png"))
    open(os.path.join(frames, "notes.txt"), "w").write("not a frame\n")
    p, port = start_view(ZC, ["--frames", frames, "--listen", "127.0.0.1:0"])
    procs.append(p)

    status, body = get(port, "/f/frame_00000001.png")
    if status != 200 or body != open(PNG, "rb").read():
        fail("a frame was not served whole: %d" % status)
    for path in ["/f/../frame_00000099.png", "/f/..%2Fframe_00000099.png", "/f/%2e%2e/frame_00000099.png",
                 "/f/frame_00000002.png", "/f/frame_00000003.png", "/f/frame_00000004.png",
                 "/f/notes.txt", "/f//etc/passwd", "/../frame_00000099.png", "/f/"]:
        t0 = time.monotonic()
        status, body = get(port, path)
        if status == 200 or b"PNG" in body or b"not a frame" in body:
            fail("%s was served (%d)" % (path, status))
        if time.monotonic() - t0 > 2:
            fail("%s took %.1f s to refuse" % (path, time.monotonic() - t0))
    if get(port, "/f/frame_00000001.png", "POST")[0] != 405:
        fail("a POST was not refused")
    status, body = get(port, "/")
    if status != 200 or b"EventSource" not in body:
        fail("no page at /")
    status, body = get(port, "/frames")
    if b"frame_00000001.png" not in body or b"frame_00000002" in body and b'"frame_00000002' not in body:
        fail("frame list: %r" % body)

    # Server-Sent Events: a frame placed now arrives within 1 s.
    ev = Events("127.0.0.1", port)
    time.sleep(0.3)  # the stream is open
    placed = time.monotonic()
    place(frames, "frame_00000120.png")
    if not ev.wait_for(1, 5):
        fail("no frame event within 5 s")
    data, at = ev.got[0]
    if at - placed > 1.0:
        fail("the frame event took %.2f s" % (at - placed))
    # The reference frame has no text chunks: its step comes from its name.
    if data["name"] != "frame_00000120.png" or data["step"] != "120":
        fail("event data: %s" % data)
    # Frames placed back to back (renamed in at once, faster than a stream
    # sends): an event for each, in order, none folded into the newest.
    for step in range(121, 126):
        shutil.copy(PNG, os.path.join(frames, ".%d.tmp" % step))
    for step in range(121, 126):
        os.rename(os.path.join(frames, ".%d.tmp" % step), os.path.join(frames, "frame_%08d.png" % step))
    ev.wait_for(6, 5)
    want = ["frame_%08d.png" % s for s in range(120, 126)]
    if ev.names() != want:
        fail("frames placed back to back: events for %s, not %s" % (ev.names(), want))
    ev.close()

    # A token: required of every request when given.
    p2, port2 = start_view(ZC, ["--frames", frames, "--listen", "127.0.0.1:0", "--token", "s3cret"])
    procs.append(p2)
    if get(port2, "/f/frame_00000001.png")[0] != 403 or get(port2, "/?token=wrong")[0] != 403:
        fail("a request without the token was served")
    if get(port2, "/f/frame_00000001.png?token=s3cret")[0] != 200:
        fail("a request with the token was refused")
    # No token, not loopback: a usage error, nothing served.
    r = subprocess.run([ZC, "view", "--frames", frames, "--listen", "0.0.0.0:0"], capture_output=True, text=True,
                       timeout=10)
    if r.returncode != 2 or "--token" not in r.stderr:
        fail("a non-loopback address without --token: exit %d, %s" % (r.returncode, r.stderr))
finally:
    for p in procs:
        stop_view(p)
    shutil.rmtree(top)
