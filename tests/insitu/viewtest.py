"""viewtest.py - what the `zc view` tests share: starting and stopping the
viewer, a failure's message and exit."""
import json
import re
import socket
import subprocess
import sys
import threading
import time


def fail(msg):
    print("%s: %s" % (sys.argv[0].rsplit("/", 1)[-1], msg), file=sys.stderr)
    sys.exit(1)


def start_view(zc, args, prefix=()):
    """zc view with args (under the command prefix, e.g. ip netns exec);
    the process and the port it said it serves on."""
    p = subprocess.Popen(list(prefix) + [zc, "view"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    m = re.search(r"http://.*:(\d+)/", line)
    if not m:
        p.kill()
        fail("no address from zc view: %r %s" % (line, p.stderr.read()))
    return p, int(m.group(1))


def stop_view(p):
    """SIGTERM; zc view must exit 0 within 10 s."""
    p.terminate()
    try:
        if p.wait(10) != 0:
            fail("zc view exited %d on SIGTERM" % p.returncode)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("zc view did not stop on SIGTERM")


class Events:
    """A client of /events: a thread that keeps each frame event's data
    (a dict) and its arrival (time.monotonic()) in .got, in order."""

    def __init__(self, host, port, query=""):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.sendall(("GET /events%s HTTP/1.1\r\nHost: x\r\n\r\n" % query).encode())
        self.fp = self.sock.makefile("rb")
        head = []
        for line in self.fp:
            if line in (b"\r\n", b"\n"):
                break
            head.append(line.decode("latin-1").strip().lower())
        if not head or " 200 " not in head[0] + " " or "content-type: text/event-stream" not in head:
            fail("no event stream: %s" % head)
        self.got = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for line in self.fp:
                if line.startswith(b"data: "):
                    self.got.append((json.loads(line[6:]), time.monotonic()))
        except (OSError, ValueError):
            pass

    def names(self):
        return [d["name"] for d, _ in self.got]

    def wait_for(self, count, seconds):
        """True once count events arrived, False after seconds."""
        end = time.monotonic() + seconds
        while len(self.got) < count and time.monotonic() < end:
            time.sleep(0.02)
        return len(self.got) >= count

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # the server closed it already
            pass
        self.thread.join(5)
        self.fp.close()
        self.sock.close()
