"""viewtest.py - what the `zc view` tests share: starting and stopping the
viewer, a failure's message and exit."""
import re
import subprocess
import sys


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
