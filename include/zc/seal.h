/* zc/seal.h - a sealed channel: two endpoints talk through shared-memory
 * rings that an untrusted broker set up and can read and write.
 *
 * The broker creates one ring per direction (zc/ring.h: a VIRTIO split
 * virtqueue and its buffer region, both sealed memfds) and hands each
 * endpoint only the two rings it takes part in, over a UNIX socket.  The
 * endpoints then run the handshake of zc/crypto.h through the rings and
 * seal every message with AEAD under per-direction keys; the broker can
 * refuse service, but whatever it reads is ciphertext and whatever it
 * changes, replays, reorders, drops or cuts short is detected.  The rules:
 *
 *   - each message carries a 64-bit counter, the AEAD nonce; the receiver
 *     accepts only the next counter (strict order, no window): a replayed,
 *     reordered or dropped message is an error;
 *   - the first error breaks the channel for good (fail closed): every
 *     later call returns the same error, and a receive that failed leaves
 *     the destination zeroed;
 *   - a channel ends only by an authenticated close message; a peer that
 *     vanishes without one is reported as a truncated stream (-EPIPE);
 *   - each side ratchets its key (HKDF) every rekey_interval messages, far
 *     before a counter or the cipher's limits could wear out;
 *   - read-once: the receiver copies each message out of shared memory
 *     exactly once, in small chunks staged in private cache-resident
 *     memory, and decrypts and authenticates from that private copy into
 *     the destination in the same pass.  The sender seals into private
 *     staging too and only then copies out, so the tag covers exactly the
 *     bytes it wrote.
 *
 * docs/PROTOCOL.md ("Sealed channel messages") draws the wire format.
 * Functions return 0 (or a length) on success and a negative errno:
 * -EBADMSG a message failed authentication or broke the order, -EPIPE the
 * peer or broker went away without a close, -ETIMEDOUT no progress within
 * the configured timeout, -EPROTO a ring the broker corrupted.
 */
#ifndef ZC_SEAL_H
#define ZC_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zc/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest message a channel may be configured for. */
#define ZC_SEAL_MAX_MSG (16u << 20)
/* Bytes a sealed message takes beyond its payload (header + tag). */
#define ZC_SEAL_OVERHEAD 32u
/* Default messages between two key ratchets. */
#define ZC_SEAL_REKEY_INTERVAL (1ull << 24)

/* What the broker builds: both directions alike. */
struct zc_seal_config {
    uint32_t slots;   /* buffers (and ring entries) per direction, a power of two */
    uint32_t max_msg; /* largest payload in bytes, 1..ZC_SEAL_MAX_MSG */
};

/* ---- the broker (untrusted by design) ---- */

/* How an evil broker misbehaves, to prove the endpoints notice.  Each mode
 * strikes the third message of each direction (on a one-way stream: the
 * handshake message and one data message pass untouched) unless said
 * otherwise. */
enum zc_seal_evil {
    ZC_SEAL_HONEST,        /* shares each ring between the endpoints, relays nothing */
    ZC_SEAL_EVIL_RELAY,    /* relays through its own rings but changes nothing */
    ZC_SEAL_EVIL_PAYLOAD,  /* flips a bit of the ciphertext */
    ZC_SEAL_EVIL_HEADER,   /* flips a bit of the header (counter / length) */
    ZC_SEAL_EVIL_TAG,      /* flips a bit of the tag */
    ZC_SEAL_EVIL_REPLAY,   /* delivers the previous message again */
    ZC_SEAL_EVIL_REORDER,  /* swaps the message with the next one */
    ZC_SEAL_EVIL_TRUNCATE, /* shortens the descriptor length */
    ZC_SEAL_EVIL_INFLATE,  /* lengthens the descriptor length */
    ZC_SEAL_EVIL_REWRITE,  /* points the descriptor at the previous buffer */
    ZC_SEAL_EVIL_DROP,     /* never delivers the message */
    ZC_SEAL_EVIL_CUT,      /* delivers nothing more, close included, then hangs up */
    ZC_SEAL_EVIL_RACE,     /* keeps flipping bytes of delivered buffers while they are read */
};

/* The mode's command-line name ("payload", "race", ...). */
const char *zc_seal_evil_name(enum zc_seal_evil mode);
/* Parses a mode name: 0 or -EINVAL. */
int zc_seal_evil_parse(const char *name, enum zc_seal_evil *mode);

struct zc_seal_broker;

/* A broker with cfg's rings; 0, -EINVAL for a bad config, -errno. */
int zc_seal_broker_create(struct zc_seal_broker **out, const struct zc_seal_config *cfg,
                          enum zc_seal_evil mode);
/* Grants side 0 and side 1 their rings over the connected UNIX sockets,
 * then (honest) waits until either hangs up, or (evil) relays and tampers.
 * It shuts both sockets down before it returns.  0 or -errno. */
int zc_seal_broker_serve(struct zc_seal_broker *b, int sock0, int sock1);
/* The broker's full view: region i (0..) of the memory it shares, for tests
 * that search it.  0, or -ENOENT past the last region. */
int zc_seal_broker_region(const struct zc_seal_broker *b, unsigned i, const void **base,
                          size_t *size);
/* Unmaps and frees (NULL is fine). */
void zc_seal_broker_destroy(struct zc_seal_broker *b);

/* ---- an endpoint ---- */

struct zc_seal;

/* Joins a channel over sock (connected to the broker, whose uid must be
 * broker_uid or ZC_SHM_ANY_UID), authenticates as self, and accepts only
 * peer.  Side 0 initiates the handshake.  timeout_ns (< 0: for ever)
 * bounds every later wait.  0, -EBADMSG / -EACCES (handshake), -errno. */
int zc_seal_connect(struct zc_seal **out, int sock, uid_t broker_uid, const struct zc_keypair *self,
                    const struct zc_pubkey *peer, int64_t timeout_ns);
/* The largest payload one message may carry on this channel. */
size_t zc_seal_max_msg(const struct zc_seal *s);
/* The cipher the handshake chose. */
enum zc_cipher zc_seal_cipher(const struct zc_seal *s);
/* Messages between key ratchets (both sides must agree; tests lower it). */
void zc_seal_set_rekey_interval(struct zc_seal *s, uint64_t messages);

/* Seals len bytes (0..max_msg) as the next message.  0 or -errno. */
int zc_seal_send(struct zc_seal *s, const void *buf, size_t len);
/* Receives the next message into buf (cap >= zc_seal_max_msg(), else
 * -EINVAL and nothing is consumed).  The payload length (>= 0), or
 * -ESHUTDOWN once the peer closed the channel, or -errno (fail closed). */
ssize_t zc_seal_recv(struct zc_seal *s, void *buf, size_t cap);
/* Sends the authenticated close: the peer's zc_seal_recv() then returns
 * -ESHUTDOWN after the last message.  0 or -errno. */
int zc_seal_close(struct zc_seal *s);
/* Waits until the peer consumed every message sent (or timeout).  0 or -errno. */
int zc_seal_flush(struct zc_seal *s);
/* Unmaps and frees; wipes the keys (NULL is fine). */
void zc_seal_destroy(struct zc_seal *s);

#ifdef __cplusplus
}
#endif

#endif /* ZC_SEAL_H */
