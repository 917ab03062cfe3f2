"""view_client.py HOST PORT TOKEN COUNT DIR - one viewer of `zc view`, as
the page is: it follows the event stream until COUNT frame events came
(60 s at most), fetches each frame it is told of into DIR, and prints the
names in the order of their events.  Exit 1 when fewer came."""
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from viewtest import Events, fail  # noqa: E402

host, port, token, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
ev = Events(host, port, "?token=" + token)
print("ready", flush=True)
fetched = 0
end = time.monotonic() + 60
while fetched < count and time.monotonic() < end:
    if fetched == len(ev.got):
        time.sleep(0.02)
        continue
    name = ev.got[fetched][0]["name"]
    url = "http://%s:%d/f/%s?token=%s" % (host, port, name, token)
    with urllib.request.urlopen(url, timeout=10) as r, open(os.path.join(out, name), "wb") as f:
        f.write(r.read())
    print(name, flush=True)
    fetched += 1
ev.close()
if fetched < count:
    fail("%d frame events of %d" % (fetched, count))
