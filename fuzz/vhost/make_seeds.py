#!/usr/bin/env python3
"""make_seeds.py OUTDIR - the seed inputs of fuzz_vhost_msg: a whole, valid
front end's setup (owner, features, memory table, each queue's size, base,
addresses, call and kick, enable) followed by ring contents (descriptors,
avail entries, frames), so that the fuzzer starts from running queues
moving frames and mutates from there.  The record format is the one
fuzz_vhost_msg.c reads: [mode] then [kind][fds][le16 len][bytes]..."""
import os
import struct
import sys

MEM = 0x10000            # the fuzzer's memfd (MEM_SIZE)
GPA, UA = 0x0, 0x7F0000000000
NUM = 16
HDR = 12                 # virtio_net_hdr with VERSION_1
RING = {0: 0x1000, 1: 0x2000}        # queue -> desc; avail +0x200, used +0x400
BUFS = {0: 0xC000, 1: 0x8000}        # queue -> its buffers, 0x100 each

V1, MRG, IND, EVT, PROTO = 1 << 32, 1 << 15, 1 << 28, 1 << 29, 1 << 30
PACKED = 1 << 34
AVAIL = 1 << 7           # a packed descriptor available in the first lap


def msg(req, payload=b"", fds=0, reply=False):
    hdr = struct.pack("<III", req, 1 | (8 if reply else 0), len(payload))
    data = hdr + payload
    return struct.pack("<BBH", 1, fds, len(data)) + data


def mem(off, data):
    return struct.pack("<BBH", 0, 0, len(data) + 2) + struct.pack("<H", off) + data


def u64(v):
    return struct.pack("<Q", v)


def state(req, q, v):
    return msg(req, struct.pack("<II", q, v))


def setup(features, proto=None):
    out = [msg(3), msg(1), msg(2, u64(features))]
    if proto is not None:
        out += [msg(15), msg(16, u64(proto))]
    out.append(msg(5, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", GPA, MEM, UA, 0), fds=1))
    for q in (0, 1):
        d = RING[q]
        base = 0x8000 if features & PACKED else 0   # packed: position 0, wrap counter 1
        out += [state(8, q, NUM), state(10, q, base),
                msg(9, struct.pack("<IIQQQQ", q, 0, UA + d, UA + d + 0x400, UA + d + 0x200, 0)),
                msg(13, u64(q | 0x100)), msg(12, u64(q | 0x100))]
        if proto is not None:
            out.append(state(18, q, 1))
    return out


def frame(i):
    eth = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return bytes(HDR) + eth + bytes((i * 7 + k) & 0xFF for k in range(50))


def buffers(q, n, rxlen, out):
    """n buffers on queue q as (address, length, writable): TX frames,
    written into guest memory by records appended to out, or RX room."""
    bufs = []
    for i in range(n):
        addr = GPA + BUFS[q] + i * 0x100
        if q == 1:
            f = frame(i)
            out.append(mem(BUFS[q] + i * 0x100, f))
            bufs.append((addr, len(f), False))
        else:
            bufs.append((addr, rxlen, True))
    return bufs


def ring(q, n, indirect=False, rxlen=0x100):
    """n chains on queue q: TX frames to read, or RX buffers to fill."""
    d = RING[q]
    out = []
    descs = b"".join(struct.pack("<QIHH", addr, ln, 2 if w else 0, 0)   # 2: WRITE
                     for addr, ln, w in buffers(q, n, rxlen, out))
    if indirect:  # chain 0 points at a table (at 0xF000) holding the first two descriptors
        out.append(mem(0xF000, descs[:32]))
        descs = struct.pack("<QIHH", GPA + 0xF000, 32, 4, 0) + descs[16:]
    out.append(mem(d, descs))
    out.append(mem(d + 0x200, struct.pack("<HH", 0, n) + b"".join(struct.pack("<H", i) for i in range(n))))
    return out


def ring_packed(q, n):
    """n one-descriptor chains on packed queue q (ids 0..n-1), marked
    available in the first lap: TX frames to read, or RX buffers to fill."""
    out = []
    descs = b"".join(struct.pack("<QIHH", addr, ln, i, AVAIL | (2 if w else 0))   # 2: WRITE
                     for i, (addr, ln, w) in enumerate(buffers(q, n, 0x100, out)))
    out.append(mem(RING[q], descs))
    return out


def seed(mode, records):
    return bytes([mode]) + b"".join(records)


SEEDS = {
    "sink": seed(0, setup(V1) + ring(1, 8)),
    "echo": seed(2, setup(V1 | MRG) + ring(0, 8) + ring(1, 8)),
    "echo_small_rx": seed(2, setup(V1 | MRG) + ring(0, 8, rxlen=40) + ring(1, 4)),
    "source": seed(4, setup(V1) + ring(0, 8)),
    "packed_echo": seed(2, setup(V1 | MRG | PACKED) + ring_packed(0, 8) + ring_packed(1, 8)),
    "packed_sink_event_idx": seed(0, setup(V1 | EVT | IND | PACKED | PROTO, proto=8) + ring_packed(1, 8)),
    "indirect_event_idx": seed(2, setup(V1 | IND | EVT | PROTO, proto=8) + ring(0, 4) + ring(1, 4, indirect=True)),
}

if __name__ == "__main__":
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)
