/* wire.h - what the broker and the endpoints agree on: the broker's hello
 * and the layout of a sealed message in a ring buffer (docs/PROTOCOL.md,
 * "Sealed channel messages").
 *
 *   hello (broker -> endpoint, 16 bytes, before the two rings)
 *   +0 le32 magic "zcs1"   +4 le32 side (0 or 1)   +8 le32 slots   +12 le32 max_msg
 *
 *   sealed message (one ring buffer, device-readable)
 *   +0  le64 counter        nonce and order: 0, 1, 2, ... per direction
 *   +8  le32 length         payload bytes (<= max_msg)
 *   +12 le16 type           1 data, 2 close
 *   +14 le16 zero
 *   +16 ciphertext[length]
 *   +16+length tag[16]      AEAD tag over header (as associated data) and payload
 */
#ifndef ZC_SEAL_WIRE_H
#define ZC_SEAL_WIRE_H

#include "zc/seal.h"

#include <errno.h>
#include <stdint.h>

#define SEAL_HELLO_MAGIC  0x3173637au /* "zcs1" */
#define SEAL_HEADER_BYTES 16u
#define SEAL_PROLOGUE     "zc-seal/1"

enum { MSG_DATA = 1, MSG_CLOSE = 2 };

struct seal_hello {
    uint32_t magic;
    uint32_t side;
    uint32_t slots;
    uint32_t max_msg;
};

struct seal_header {
    uint64_t counter;
    uint32_t length;
    uint16_t type;
    uint16_t zero;
};

_Static_assert(sizeof(struct seal_hello) == 16, "hello is 16 bytes");
_Static_assert(sizeof(struct seal_header) == SEAL_HEADER_BYTES, "header is 16 bytes");
_Static_assert(SEAL_HEADER_BYTES + ZC_TAG_BYTES == ZC_SEAL_OVERHEAD, "overhead");

/* Bytes of one ring buffer: a whole message, rounded up to a cache line. */
static inline uint64_t seal_slot_size(uint32_t max_msg)
{
    return ((uint64_t)max_msg + ZC_SEAL_OVERHEAD + 63) & ~(uint64_t)63;
}

/* Most shared memory one direction may take. */
#define SEAL_MAX_REGION (1ull << 30)

/* 0 when a config is usable: slots a power of two in 2..4096, max_msg in
 * 1..ZC_SEAL_MAX_MSG, and the buffers of one direction within
 * SEAL_MAX_REGION; -EINVAL otherwise. */
static inline int seal_config_check(uint32_t slots, uint32_t max_msg)
{
    if (slots < 2 || slots > 4096 || (slots & (slots - 1)) || max_msg < 1 ||
        max_msg > ZC_SEAL_MAX_MSG || slots * seal_slot_size(max_msg) > SEAL_MAX_REGION)
        return -EINVAL;
    return 0;
}

#endif /* ZC_SEAL_WIRE_H */
