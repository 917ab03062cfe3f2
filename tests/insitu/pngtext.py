"""pngtext.py PNG... - prints each PNG's tEXt chunks as key=value lines
(the standard library only: chunks are read, CRCs checked)."""
import struct
import sys
import zlib


def text_chunks(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(path + ": not a PNG")
    pos, out = 8, {}
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(path + ": bad CRC in " + kind.decode())
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        pos += 12 + n
    return out


if __name__ == "__main__":
    for p in sys.argv[1:]:
        for k, v in text_chunks(p).items():
            print(f"{k}={v}")
