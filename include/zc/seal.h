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

struct zc_seal_broker;
struct zc_ring; /* zc/ring.h */

/* A broker with cfg's rings; 0, -EINVAL for a bad config, -errno. */
int zc_seal_broker_create(struct zc_seal_broker **out, const struct zc_seal_config *cfg);
/* Listens on the UNIX socket path and takes two endpoints (the first is
 * side 0), waiting at most timeout_s for each; 0 with socks set, or
 * -errno (-ETIMEDOUT).  The socket is bound under a temporary name and
 * linked to path only once it listens, so that an endpoint never finds a
 * socket that refuses it; an existing path is never replaced (-EEXIST),
 * and path is removed once both came. */
int zc_seal_broker_accept(const char *path, uint64_t timeout_s, int socks[2]);
/* An endpoint's side of that: a socket connected to the broker listening
 * at path (for zc_seal_connect), or -errno. */
int zc_seal_broker_dial(const char *path);
/* Grants side 0 and side 1 their rings over the connected UNIX sockets,
 * then waits until either hangs up.  It shuts both sockets down before it
 * returns.  0 or -errno. */
int zc_seal_broker_serve(struct zc_seal_broker *b, int sock0, int sock1);
/* The broker's full view: region i (0..) of the memory it shares, for tests
 * that search it.  0, or -ENOENT past the last region. */
int zc_seal_broker_region(const struct zc_seal_broker *b, unsigned i, const void **base,
                          size_t *size);
/* Unmaps and frees (NULL is fine). */
void zc_seal_broker_destroy(struct zc_seal_broker *b);
/* What a broker tells one endpoint: the hello (side, cfg) and then its two
 * rings, outbound (the endpoint drives it) and inbound; 0 or -errno.  A
 * broker of its own (one that relays between rings it drives) grants with it. */
int zc_seal_broker_grant(int sock, unsigned side, const struct zc_seal_config *cfg,
                         const struct zc_ring *outbound, const struct zc_ring *inbound);

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
