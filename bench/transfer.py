#!/usr/bin/python3
"""bench/transfer.py - zc put against scp, rsync over ssh, nc and iperf3, in one run.

Loopback, two workloads: one large file read from the page cache, and many
small files.  Each tool writes into a fresh directory (on tmpfs by default,
so that every tool pays the page cache and nothing of a disk); the time runs
from the sender's start until the receiver has the last byte (for zc: until
the server confirmed every file as verified, fsync'd and renamed).  The
benchmark starts its own sshd on a free loopback port with throwaway keys
and stops it at the end.  iperf3 runs on the large file only, the bar for
integrity-only transfer: its client reads the file (-F) and its one-off
server writes what it receives into the destination (-F).  iperf3's server
stops writing when the client reports the test done, and may leave the
tail of the file unwritten (3.12 kept 62.5 of 64 MiB): the rows record the
bytes it wrote and whether they are the file's start, and its time, which
covers the whole test, flatters it if anything.  The tools take turns, --runs rounds; it reports
each one's median and best time, ratios against zc, the peak RSS of both zc ends, checks the received file's sha256,
and can write CSV, JSON and a plot.

  bench/transfer.py [--zc build/zc] [--quick] [--size 1G] [--files 10000]
                    [--runs 3] [--dest DIR] [--csv F] [--json F] [--plot F.png]
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SSH_CIPHER = "aes128-gcm@openssh.com"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper().rstrip("IB")
    return int(float(s[:-1]) * units[s[-1]]) if s[-1] in units else int(s)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def same_prefix(src, got):
    """Whether the file got holds the first bytes of src (all of got)."""
    with open(src, "rb") as a, open(got, "rb") as b:
        while True:
            y = b.read(1 << 20)
            if not y:
                return True
            if a.read(len(y)) != y:
                return False


def rss_of(path):
    """Peak RSS in KiB, as /usr/bin/time -f %M wrote it."""
    with open(path) as f:
        return int(f.read().split()[-1])


class Sshd:
    """A throwaway sshd on a free loopback port, keys in its own directory."""

    def __init__(self, work):
        self.dir = os.path.join(work, "ssh")
        os.makedirs(self.dir, mode=0o700)
        self.port = free_port()
        hostkey = os.path.join(self.dir, "host")
        self.key = os.path.join(self.dir, "user")
        for k in (hostkey, self.key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k], check=True)
        shutil.copy(self.key + ".pub", os.path.join(self.dir, "authorized_keys"))
        conf = os.path.join(self.dir, "sshd_config")
        with open(conf, "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {hostkey}\n"
                    f"AuthorizedKeysFile {self.dir}/authorized_keys\nPidFile {self.dir}/pid\n"
                    "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "Subsystem sftp internal-sftp\n")
        os.makedirs("/run/sshd", exist_ok=True)
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", conf, "-E",
                                      os.path.join(self.dir, "log")])
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start (see %s/log)" % self.dir)

    def ssh_opts(self):
        return ["-i", self.key, "-o", "StrictHostKeyChecking=no", "-o",
                "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                "-c", SSH_CIPHER]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = tempfile.mkdtemp(prefix="zc-bench-transfer.")
        dest_base = args.dest or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
        self.dest = tempfile.mkdtemp(prefix="zc-bench-dest.", dir=dest_base)
        self.zc = os.path.abspath(args.zc)
        self.user = os.environ.get("USER") or "root"
        z = os.path.join(self.work, "id")
        os.makedirs(z)
        for n in ("server", "client"):
            subprocess.run([self.zc, "keygen", "-o", os.path.join(z, n)], check=True,
                           stdout=subprocess.DEVNULL)
        self.skey, self.spub = os.path.join(z, "server.key"), os.path.join(z, "server.pub")
        self.ckey, self.cpub = os.path.join(z, "client.key"), os.path.join(z, "client.pub")
        self.sshd = Sshd(self.work)
        self.rows = []

    def close(self):
        self.sshd.stop()
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.dest, ignore_errors=True)

    def fresh_dest(self):
        d = tempfile.mkdtemp(dir=self.dest)
        return d

    def back_memory(self, nbytes):
        """Writes and deletes a file a bit larger than the transfer on the
        destination's filesystem, just before each tool runs.  A guest that
        reports its free pages to the hypervisor (virtio-balloon free page
        reporting) gets them back unbacked, and the first write into each
        costs a host fault; this gives every receiver freshly backed pages,
        as on bare metal, instead of whatever the previous tool freed."""
        warm = os.path.join(self.dest, "warm")
        mib = nbytes * 5 // 4 >> 20
        subprocess.run(["dd", "if=/dev/zero", f"of={warm}", "bs=1M", f"count={mib}"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        os.unlink(warm)

    # ---- the tools: each returns (seconds, extra dict) ----
    def zc_put(self, src, mode):
        """zc serve and zc put, each under /usr/bin/time for its peak RSS (the
        server's includes its session processes, which it reaps on SIGTERM)."""
        out = self.fresh_dest()
        srv_rss, cli_rss = (os.path.join(self.work, n) for n in ("srv.rss", "cli.rss"))
        srv = subprocess.Popen(["/usr/bin/time", "-o", srv_rss, "-f", "%M", self.zc, "serve",
                                "--root", out, "--listen", "127.0.0.1:0", "--key", self.skey,
                                "--authorized", self.cpub], stderr=subprocess.PIPE, text=True)
        line = srv.stderr.readline()  # "zc serve: listening on 127.0.0.1:PORT, root ..."
        port = line.split("127.0.0.1:")[1].split(",")[0]
        cmd = ["/usr/bin/time", "-o", cli_rss, "-f", "%M", self.zc, "put", "-q", "--key",
               self.ckey, "--server-pub", self.spub]
        if mode == "integrity":
            cmd.append("--integrity-only")
        t0 = time.perf_counter()
        cli = subprocess.run(cmd + [src, f"127.0.0.1:{port}"])
        dt = time.perf_counter() - t0
        with open(f"/proc/{srv.pid}/task/{srv.pid}/children") as f:
            for pid in f.read().split():
                os.kill(int(pid), signal.SIGTERM)
        srv.communicate()
        if cli.returncode:
            raise RuntimeError(f"zc put failed ({cli.returncode})")
        return dt, {"rss_send_kib": rss_of(cli_rss), "rss_recv_kib": rss_of(srv_rss),
                    "out": os.path.join(out, os.path.basename(src))}

    def scp(self, src):
        out = self.fresh_dest()
        cmd = ["scp", "-q", "-r", "-P", str(self.sshd.port)] + self.sshd.ssh_opts()
        t0 = time.perf_counter()
        subprocess.run(cmd + [src, f"{self.user}@127.0.0.1:{out}/"], check=True)
        return time.perf_counter() - t0, {"out": os.path.join(out, os.path.basename(src))}

    def rsync(self, src):
        out = self.fresh_dest()
        ssh = " ".join(["ssh", "-p", str(self.sshd.port)] + self.sshd.ssh_opts())
        t0 = time.perf_counter()
        subprocess.run(["rsync", "-a", "-e", ssh, src, f"{self.user}@127.0.0.1:{out}/"],
                       check=True)
        return time.perf_counter() - t0, {"out": os.path.join(out, os.path.basename(src))}

    def nc(self, src):
        """Plain nc, no security: a file into a file, a tree as a tar stream."""
        out = self.fresh_dest()
        port = free_port()
        tree = os.path.isdir(src)
        target = os.path.join(out, os.path.basename(src))
        if tree:
            recv = subprocess.Popen(f"nc -l 127.0.0.1 {port} | tar -x -C {out}", shell=True)
        else:
            recv = subprocess.Popen(f"nc -l 127.0.0.1 {port} > {target}", shell=True)
        time.sleep(0.2)
        t0 = time.perf_counter()
        if tree:
            send = (f"tar -c -C {os.path.dirname(src)} {os.path.basename(src)} | "
                    f"nc -N 127.0.0.1 {port}")
        else:
            send = f"nc -N 127.0.0.1 {port} < {src}"
        subprocess.run(send, shell=True, check=True)
        recv.wait()
        return time.perf_counter() - t0, {"out": target}

    def iperf3(self, src, nbytes):
        """iperf3 from a file into a file: the client reads src (-F), the
        one-off server (-1) writes what it receives (-F); no security."""
        out = self.fresh_dest()
        port = free_port()
        target = os.path.join(out, os.path.basename(src))
        recv = subprocess.Popen(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port),
                                 "-F", target], stdout=subprocess.DEVNULL)
        time.sleep(0.3)
        t0 = time.perf_counter()
        subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-n", str(nbytes),
                        "-F", src], stdout=subprocess.DEVNULL, check=True)
        recv.wait()
        dt = time.perf_counter() - t0
        if recv.returncode:
            raise RuntimeError(f"iperf3 server failed ({recv.returncode})")
        return dt, {"out": target, "written_bytes": os.path.getsize(target),
                    "written_is_prefix": same_prefix(src, target)}

    def run(self, workload, src, nbytes, check_sha):
        tools = [("zc encrypted", lambda: self.zc_put(src, "encrypted")),
                 ("zc integrity-only", lambda: self.zc_put(src, "integrity")),
                 (f"scp -c {SSH_CIPHER}", lambda: self.scp(src)),
                 ("rsync over ssh", lambda: self.rsync(src)),
                 ("nc into a file" if not os.path.isdir(src) else "tar | nc | tar",
                  lambda: self.nc(src))]
        if not os.path.isdir(src):
            tools.append(("iperf3 (-F file to file)", lambda: self.iperf3(src, nbytes)))
        want = sha256(src) if check_sha else None
        times = {name: [] for name, _ in tools}
        extra = {name: {} for name, _ in tools}
        # Round-robin, so that a burst of load elsewhere hits every tool alike.
        for i in range(self.a.runs):
            for name, fn in tools:
                if not os.path.isdir(src):
                    subprocess.run(["cat", src], stdout=subprocess.DEVNULL)
                    self.back_memory(nbytes)
                dt, extra_i = fn()
                times[name].append(dt)
                if want and i == 0 and (name.startswith("zc") or name.startswith("iperf3")):
                    extra[name]["sha256_ok"] = sha256(extra_i["out"]) == want
                for k in ("rss_send_kib", "rss_recv_kib", "written_bytes"):
                    if k in extra_i:
                        extra[name][k] = max(extra[name].get(k, 0), extra_i[k])
                if "written_is_prefix" in extra_i:
                    extra[name]["written_is_prefix"] = (extra[name].get("written_is_prefix", True)
                                                        and extra_i["written_is_prefix"])
                shutil.rmtree(os.path.dirname(extra_i["out"]), ignore_errors=True)
        for name, _ in tools:
            t = statistics.median(times[name])
            row = {"workload": workload, "tool": name, "seconds": t, "GBps": nbytes / t / 1e9,
                   "best_seconds": min(times[name]), "max_seconds": max(times[name]),
                   "all_seconds": times[name]}
            row.update(extra[name])
            self.rows.append(row)
            print(f"  {workload:>14}  {name:<32} {t:7.3f} s  {nbytes / t / 1e9:6.3f} GB/s"
                  f"  (min {min(times[name]):.3f} s, max {max(times[name]):.3f} s; all {' '.join(f'{x:.3f}' for x in times[name])})",
                  file=sys.stderr)

    def ratios(self):
        """Each tool's time over zc's: the ratio of the medians, and the
        spread of the ratios taken within each round (the tools take turns,
        so a round's ratio compares runs under the same load)."""
        for w in dict.fromkeys(r["workload"] for r in self.rows):
            rows = {r["tool"]: r for r in self.rows if r["workload"] == w}
            for r in rows.values():
                for z in ("zc encrypted", "zc integrity-only"):
                    key = "x_" + z.split()[1]
                    r[key] = r["seconds"] / rows[z]["seconds"]
                    per_round = [t / u for t, u in zip(r["all_seconds"], rows[z]["all_seconds"])]
                    r[key + "_rounds"] = {"min": min(per_round),
                                          "median": statistics.median(per_round),
                                          "max": max(per_round)}


def make_tree(path, n, size):
    os.makedirs(path)
    block = os.urandom(size)
    per_dir = 1000
    for i in range(n):
        d = os.path.join(path, f"d{i // per_dir:03d}")
        if i % per_dir == 0:
            os.makedirs(d)
        with open(os.path.join(d, f"f{i:05d}"), "wb") as f:
            f.write(block[i % size:] + block[:i % size])


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    works = list(dict.fromkeys(r["workload"] for r in rows))
    fig, axes = plt.subplots(1, len(works), figsize=(6 * len(works), 4))
    if len(works) == 1:
        axes = [axes]
    for ax, w in zip(axes, works):
        rs = [r for r in rows if r["workload"] == w]
        ax.barh([r["tool"] for r in rs], [r["GBps"] for r in rs],
                color=["tab:blue" if r["tool"].startswith("zc") else "tab:gray" for r in rs])
        ax.invert_yaxis()
        ax.set_xlabel("GB/s (loopback, higher is better)")
        ax.set_title(w)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--zc", default=os.path.join(os.path.dirname(__file__), "..", "build", "zc"))
    p.add_argument("--quick", action="store_true", help="64 MiB and 1000 files, one run")
    p.add_argument("--size", default="1G", help="the large file (default 1G)")
    p.add_argument("--files", type=int, default=10000, help="small files (default 10000)")
    p.add_argument("--file-size", default="4K", help="size of each small file (default 4K)")
    p.add_argument("--runs", type=int, default=3, help="runs per tool, median reported")
    p.add_argument("--dest", help="where receivers write (default: a tmpfs, /dev/shm)")
    p.add_argument("--csv")
    p.add_argument("--json")
    p.add_argument("--plot")
    a = p.parse_args()
    if a.quick:
        a.size, a.files, a.runs = "64M", 1000, 1
    size, fsize = parse_size(a.size), parse_size(a.file_size)
    # A plain kill must still stop sshd and remove the scratch files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    b = Bench(a)
    try:
        big = os.path.join(b.work, "big.bin")
        with open(big, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(size >> 20):
                f.write(chunk)
            f.write(chunk[:size & ((1 << 20) - 1)])
        tree = os.path.join(b.work, "small")
        make_tree(tree, a.files, fsize)
        b.run(f"{a.size} file", big, size, True)
        b.run(f"{a.files} x {a.file_size}", tree, a.files * fsize, False)
        b.ratios()
    finally:
        b.close()
    if a.csv:
        keys = sorted({k for r in b.rows for k in r})
        with open(a.csv, "w") as f:
            f.write(",".join(keys) + "\n")
            for r in b.rows:
                f.write(",".join(str(r.get(k, "")) for k in keys) + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(b.rows, f, indent=1)
    if a.plot:
        plot(b.rows, a.plot)
    def spread(r, key):
        s = r[key + "_rounds"]
        return f"{r[key]:.2f} ({s['min']:.2f}-{s['max']:.2f})"

    print("| workload | tool | min s | median s | max s | GB/s (median) | time / zc encrypted "
          "(round min-max) | time / zc integrity-only (round min-max) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in b.rows:
        print(f"| {r['workload']} | {r['tool']} | {r['best_seconds']:.3f} | {r['seconds']:.3f} | "
              f"{r['max_seconds']:.3f} | {r['GBps']:.3f} | {spread(r, 'x_encrypted')} | "
              f"{spread(r, 'x_integrity-only')} |")
    for r in b.rows:
        if "rss_send_kib" in r:
            print(f"peak RSS {r['workload']}, {r['tool']}: sender {r['rss_send_kib'] / 1024:.1f} "
                  f"MiB, receiver {r['rss_recv_kib'] / 1024:.1f} MiB"
                  + (f", sha256 {'equal' if r['sha256_ok'] else 'DIFFERENT'}"
                     if "sha256_ok" in r else ""))
    for r in b.rows:
        if r["tool"].startswith("iperf3"):
            zc = next(z for z in b.rows
                      if z["workload"] == r["workload"] and z["tool"] == "zc integrity-only")
            print(f"zc integrity-only against iperf3 ({r['workload']}): "
                  f"{zc['GBps'] / r['GBps']:.2f}x iperf3's rate (medians; rounds "
                  f"{spread(r, 'x_integrity-only')}), "
                  f"{r['best_seconds'] / zc['best_seconds']:.2f}x (bests); iperf3's server "
                  f"wrote {r['written_bytes']} of {zc['GBps'] * zc['seconds'] * 1e9:.0f} bytes"
                  f"{', the start of the file' if r['written_is_prefix'] else ', NOT the file'}")
    for r in b.rows:
        if r["tool"].startswith("scp"):
            print(f"zc encrypted against scp ({r['workload']}): {spread(r, 'x_encrypted')}x "
                  f"faster (ratio of medians; in brackets the rounds' min-max)")
    print(json.dumps({"results": b.rows}))


if __name__ == "__main__":
    main()
