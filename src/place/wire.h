/* wire.h - the frames of the place protocol (docs/PROTOCOL.md, "place").
 *
 * Every frame, both directions:
 *
 *    0      1      2             4             8                      16
 *   +------+------+-------------+-------------+----------------------+
 *   | type | flags| reserved=0  | file id     | offset (u64)         |
 *   +------+------+-------------+-------------+----------------------+
 *   16                          24            28            32
 *   +---------------------------+-------------+-------------+
 *   | sequence (u64)            | length      | reserved=0  |
 *   +---------------------------+-------------+-------------+
 *   | payload: length bytes (ciphertext, or clear with FLAG_CLEAR) ...
 *   +---------------------------------------------------------------
 *   | tag: 16 bytes, AEAD over header (as associated data) + payload
 *   +---------------------------------------------------------------
 *
 * Little-endian.  The AEAD nonce counter is the sequence number, which
 * starts at 0 in each direction and grows by exactly 1 a frame.
 */
#ifndef ZC_PLACE_WIRE_H
#define ZC_PLACE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zc/crypto.h"
#include "zc/place.h"

#define PLACE_HDR_BYTES  32
#define PLACE_PROLOGUE   "zc-place/1"
#define PLACE_MAX_CTRL   (ZC_PLACE_MAX_PATH + 64) /* largest control payload */
#define PLACE_MAX_OPEN   16                       /* files open at once in a session */
#define PLACE_OPEN_FIXED 28                       /* OPEN payload before the path */
#define PLACE_MAX_NAME   240 /* a path component; leaves room for the ".zc-part." prefix */

enum place_type {
    PLACE_OPEN = 1,   /* c->s (put) / s->c (get): a file or directory follows */
    PLACE_DATA = 2,   /* a chunk of an open file at offset */
    PLACE_CLOSE = 3,  /* every chunk of file id was sent */
    PLACE_OPENED = 4, /* receiver -> sender, only for FLAG_RESUME: resume at offset */
    PLACE_ACK = 5,    /* receiver -> sender: file id verified, fsync'd and renamed */
    PLACE_ERROR = 6,  /* either way: u32 errno + text; the session ends */
    PLACE_GET = 7,    /* c->s: send me this path (payload) */
    PLACE_END = 8,    /* c->s: nothing more (server answers END when all is placed) */
};

enum place_flag {
    PLACE_FLAG_CLEAR = 1u << 0,      /* payload in clear, tag is a MAC (integrity-only) */
    PLACE_FLAG_RESUME = 1u << 1,     /* OPEN: keep verified bytes of an earlier attempt */
    PLACE_FLAG_DIR = 1u << 2,        /* OPEN: a directory, no data */
    PLACE_FLAG_CLEAR_DATA = 1u << 3, /* OPEN, GET: the file's DATA frames will be clear */
    PLACE_FLAG_SPLIT = 1u << 4,      /* OPEN: one part of a file sent over several streams */
};
#define PLACE_FLAGS_KNOWN 0x1fu
#define PLACE_SPLIT_BYTES 24 /* OPEN payload after the path of a SPLIT part */
#define PLACE_MAX_PARTS   16

/* A header in private memory (host order). */
struct place_hdr {
    uint8_t type;
    uint8_t flags;
    uint32_t file_id;
    uint64_t offset;
    uint64_t seq;
    uint32_t length;
};

/* What an OPEN frame announces. */
struct place_open {
    uint64_t size;
    int64_t mtime_sec;
    uint32_t mtime_nsec;
    uint32_t mode; /* permission bits (0777 mask) */
    char path[ZC_PLACE_MAX_PATH + 1];
    bool split;           /* one part of parts, each over its own stream */
    uint8_t transfer[16]; /* names the split transfer the part belongs to */
    uint32_t parts, index;
};

void place_hdr_encode(const struct place_hdr *h, uint8_t out[PLACE_HDR_BYTES]);
/* Decodes and checks what a header can say on its own: known type, known
 * flags, zero reserved fields, length within the type's limit; 0 or -EPROTO. */
int place_hdr_decode(const uint8_t in[PLACE_HDR_BYTES], struct place_hdr *out);

/* Encodes an OPEN payload into out (>= PLACE_OPEN_FIXED + strlen(path) +
 * PLACE_SPLIT_BYTES);
 * returns its length, or -ENAMETOOLONG. */
int place_open_encode(const struct place_open *o, uint8_t *out, size_t outlen);
/* Decodes and checks an OPEN payload (path via place_path_check); 0,
 * -EPROTO (malformed) or -EACCES (a path that could leave the root). */
int place_open_decode(const uint8_t *in, size_t len, struct place_open *out);

/* The byte range [*start, *end) of part index of a file of size bytes split
 * in parts: equal slices rounded up to whole chunks (the last may be short
 * or empty). */
void place_split_range(uint64_t size, uint32_t parts, uint32_t index, uint64_t *start,
                       uint64_t *end);

/* A peer's path is acceptable when it is relative, non-empty, has no "."
 * or ".." or empty component, no NUL, no component over PLACE_MAX_NAME bytes or
 * starting with the reserved ".zc-" prefix, and fits ZC_PLACE_MAX_PATH;
 * 0 or -EACCES. */
int place_path_check(const char *path, size_t len);

#endif /* ZC_PLACE_WIRE_H */
