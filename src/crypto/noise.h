/* noise.h - the handshake's steps, one function a message.
 *
 * The library composes them in noise.c (zc_handshake_*); the known-answer
 * test drives them with fixed ephemerals and a fixed timestamp, so its
 * bytes can be compared with an independent implementation.  Not part of
 * the library's API.
 */
#ifndef ZC_CRYPTO_NOISE_H
#define ZC_CRYPTO_NOISE_H

#include "zc/crypto.h"

struct noise_symmetric {
    enum zc_cipher cipher;
    uint8_t ck[ZC_HASH_BYTES];
    uint8_t h[ZC_HASH_BYTES];
    uint8_t k[ZC_KEY_BYTES];
};

/* One side's state between its messages. */
struct zc_handshake {
    struct noise_symmetric ss;
    struct zc_keypair e;                   /* our ephemeral */
    uint8_t re[ZC_KEY_BYTES];              /* the remote ephemeral */
    uint8_t rs[ZC_KEY_BYTES];              /* the remote static */
    uint8_t timestamp[ZC_TIMESTAMP_BYTES]; /* the initiation's payload */
};

/* Both sides: h = HASH(name), ck = h, MixHash(prologue), MixHash(S_r). */
int noise_init(struct zc_handshake *hs, enum zc_cipher c, const void *prologue, size_t prologuelen,
               const uint8_t responder_static[ZC_KEY_BYTES]);
/* -> e, es, s, ss, with the timestamp as the encrypted payload; e is the
 * ephemeral to use (copied into hs). */
int noise_write_initiation(struct zc_handshake *hs, const struct zc_keypair *self,
                           const struct zc_keypair *e, const uint8_t ts[ZC_TIMESTAMP_BYTES],
                           uint8_t msg[ZC_HANDSHAKE_INITIATION_BYTES]);
/* The responder's side of it: hs->rs and hs->timestamp once every tag
 * held; -EKEYREJECTED when the static key does not decrypt (the initiator
 * did not encrypt to our key), -EBADMSG for any other bad byte. */
int noise_read_initiation(struct zc_handshake *hs, const struct zc_keypair *self,
                          const uint8_t msg[ZC_HANDSHAKE_INITIATION_BYTES]);
/* <- e, ee, se */
int noise_write_response(struct zc_handshake *hs, const struct zc_keypair *e,
                         uint8_t msg[ZC_HANDSHAKE_RESPONSE_BYTES]);
/* The initiator's side of it; -EBADMSG for a bad byte, or the refusal's
 * error when the responder sent one instead. */
int noise_read_response(struct zc_handshake *hs, const struct zc_keypair *self,
                        const uint8_t msg[ZC_HANDSHAKE_RESPONSE_BYTES]);
/* The two transport keys and the transcript. */
int noise_split(struct zc_handshake *hs, struct zc_session *out, bool initiator);

#endif /* ZC_CRYPTO_NOISE_H */
