/* zc/crypto.h - identities, the mutually authenticated handshake, and AEAD.
 *
 * The common cryptography of `seal` (sealed channel through an untrusted
 * broker) and `place` (direct-placement file transfer), over OpenSSL
 * libcrypto.  docs/PROTOCOL.md describes the handshake byte by byte.
 *
 *   identity   X25519 static key pair; files NAME.key (0600) and NAME.pub,
 *              one base64 line each ("zc-x25519 <base64>").
 *   handshake  Noise-IK-like: the initiator knows the responder's static
 *              public key; both sides mix ephemeral-ephemeral, ephemeral-
 *              static and static-static X25519 results into a chaining key
 *              (HKDF-SHA256 over the transcript); the responder accepts the
 *              initiator only if its static key is in the authorized list.
 *              Forward secrecy from the ephemerals.  Out come two
 *              per-direction AEAD keys and a transcript hash.  The
 *              initiation carries a timestamp that grows with every
 *              initiation, so a responder that keeps state can refuse a
 *              replayed one; a responder may refuse in clear (busy, wrong
 *              key, unauthorized, stale) before any session exists.
 *   AEAD       AES-256-GCM (ChaCha20-Poly1305 where the CPU lacks AES-NI);
 *              the 96-bit nonce is a 32-bit direction/stream salt and the
 *              64-bit message counter, so a counter is never reused under
 *              one key.
 *
 * All functions return 0 on success or a negative errno; -EBADMSG means
 * authentication failed, -EACCES an unauthorized peer key.
 */
#ifndef ZC_CRYPTO_H
#define ZC_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZC_KEY_BYTES  32
#define ZC_TAG_BYTES  16
#define ZC_HASH_BYTES 32
/* The handshake's two messages, and the initiation's payload: a TAI64N
 * timestamp (docs/PROTOCOL.md). */
#define ZC_HANDSHAKE_INITIATION_BYTES 112
#define ZC_HANDSHAKE_RESPONSE_BYTES   52
#define ZC_TIMESTAMP_BYTES            12

struct zc_keypair {
    uint8_t priv[ZC_KEY_BYTES];
    uint8_t pub[ZC_KEY_BYTES];
};

struct zc_pubkey {
    uint8_t key[ZC_KEY_BYTES];
};

/* ---- identities ---- */
/* A fresh X25519 key pair. */
int zc_keypair_generate(struct zc_keypair *kp);
/* Writes BASE.key (mode 0600, refuses to overwrite: -EEXIST) and BASE.pub. */
int zc_keypair_save(const char *base, const struct zc_keypair *kp);
/* Reads a private key file (refuses one readable by group/others: -EPERM). */
int zc_keypair_load(const char *path, struct zc_keypair *kp);
/* Reads one public key file. */
int zc_pubkey_load(const char *path, struct zc_pubkey *pk);
/* Reads an authorized-keys file: one public key a line, '#' comments and
 * blank lines allowed.  *keys is malloc'd (free() it); -EINVAL names no line
 * number, so the caller logs the path.  -EPERM for a file that group or
 * others may write, or that is owned by neither us nor root: whoever can
 * write it can let themselves in (as sshd's StrictModes). */
int zc_pubkey_load_list(const char *path, struct zc_pubkey **keys, size_t *n);
/* The one-line text form ("zc-x25519 <base64>") into out (>= 64 bytes). */
int zc_pubkey_format(const struct zc_pubkey *pk, char *out, size_t outlen);
/* The parsers behind the two loaders, over text in memory (len bytes, no
 * NUL needed): one key line (a trailing '\n' allowed), or a whole list.
 * 0 or -EINVAL; the list is malloc'd as for zc_pubkey_load_list(). */
int zc_pubkey_parse(const char *text, size_t len, struct zc_pubkey *pk);
int zc_pubkey_parse_list(const char *text, size_t len, struct zc_pubkey **keys, size_t *n);

/* ---- AEAD ---- */
enum zc_cipher { ZC_CIPHER_AES256GCM, ZC_CIPHER_CHACHA20POLY1305 };
/* AES-256-GCM when the CPU has AES-NI, else ChaCha20-Poly1305; the
 * environment variable ZC_CIPHER=aes or ZC_CIPHER=chacha overrides. */
enum zc_cipher zc_cipher_default(void);
const char *zc_cipher_name(enum zc_cipher c);

/* One direction's key; opaque (holds OpenSSL contexts). */
struct zc_aead;
/* key is ZC_KEY_BYTES; salt is mixed into every nonce of this key. */
int zc_aead_new(struct zc_aead **out, enum zc_cipher c, const uint8_t key[ZC_KEY_BYTES],
                uint32_t salt);
void zc_aead_free(struct zc_aead *a);
/* Which code does the work for a: "ipsec-mb" (AES-256-GCM with Intel's
 * library, where built in and the CPU suits it) or "openssl".  The bytes on
 * the wire are the same.  ZC_AEAD_IMPL=openssl in the environment keeps
 * every key to OpenSSL. */
const char *zc_aead_impl(const struct zc_aead *a);
/* zc_aead_new() that keeps this key to OpenSSL when openssl is set (the
 * tests and the benchmarks compare the two this way). */
int zc_aead_new_impl(struct zc_aead **out, enum zc_cipher c, const uint8_t key[ZC_KEY_BYTES],
                     uint32_t salt, bool openssl);

/* Encrypts len bytes in -> out (in == out allowed) under nonce(counter),
 * authenticating ad too; writes the tag. */
int zc_aead_seal(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen, const void *in,
                 void *out, size_t len, uint8_t tag[ZC_TAG_BYTES]);
/* Decrypts and verifies; -EBADMSG on a bad tag (out is then garbage the
 * caller must not use). */
int zc_aead_open(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen, const void *in,
                 void *out, size_t len, const uint8_t tag[ZC_TAG_BYTES]);

/* The same in pieces, for read-once receivers that pull a message out of
 * shared memory in small private chunks: begin, update per chunk (decrypts
 * chunk -> out), then finish checks the tag.  Nothing is valid before
 * finish returns 0. */
int zc_aead_open_begin(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen);
int zc_aead_open_update(struct zc_aead *a, const void *in, void *out, size_t len);
int zc_aead_open_finish(struct zc_aead *a, const uint8_t tag[ZC_TAG_BYTES]);
int zc_aead_seal_begin(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen);
int zc_aead_seal_update(struct zc_aead *a, const void *in, void *out, size_t len);
int zc_aead_seal_finish(struct zc_aead *a, uint8_t tag[ZC_TAG_BYTES]);

/* Integrity only (payload in clear): a tag over ad || data under the same
 * key and nonce rules (GMAC for AES-GCM).  verify returns -EBADMSG. */
int zc_aead_mac(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen, const void *data,
                size_t len, uint8_t tag[ZC_TAG_BYTES]);
int zc_aead_verify(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen,
                   const void *data, size_t len, const uint8_t tag[ZC_TAG_BYTES]);
/* The same in pieces: seal_begin, mac_update per piece, seal_finish makes
 * the tag; open_begin, verify_update per piece, open_finish checks it. */
int zc_aead_mac_update(struct zc_aead *a, const void *data, size_t len);
int zc_aead_verify_update(struct zc_aead *a, const void *data, size_t len);

/* ---- HKDF-SHA256 ---- */
int zc_hkdf(const void *salt, size_t saltlen, const void *ikm, size_t ikmlen, const void *info,
            size_t infolen, void *out, size_t outlen);

/* ---- the handshake ---- */
/* How handshake messages travel: exact-length send and receive (a socket,
 * a ring, a pipe).  Each returns 0 or a negative errno. */
struct zc_transport {
    int (*send_all)(void *ctx, const void *buf, size_t len);
    int (*recv_all)(void *ctx, void *buf, size_t len);
    void *ctx;
};

/* A transport over a connected socket or pipe fd (zc_write_all and
 * zc_read_all: a peer that closes early gives -ECONNRESET). */
void zc_transport_fd(struct zc_transport *t, int fd);

/* What a completed handshake gives each side. */
struct zc_session {
    enum zc_cipher cipher;
    uint8_t send_key[ZC_KEY_BYTES]; /* this side -> peer */
    uint8_t recv_key[ZC_KEY_BYTES]; /* peer -> this side */
    uint8_t transcript[ZC_HASH_BYTES];
    struct zc_pubkey peer; /* the peer's authenticated static key */
};

/* Initiator: knows the responder's static key.  prologue (any bytes, e.g.
 * "zc-place/1") is bound into the transcript; both sides must agree.
 * -EBADMSG if the responder does not prove its key; where it refused
 * instead (zc_handshake_refuse; unauthenticated, so only a hint): -EBUSY,
 * -EKEYREJECTED (it could not decrypt: responder is not its key),
 * -EACCES (our key is not authorized), -ESTALE (our timestamp is not
 * newer than one it accepted), -ECONNREFUSED (a reason we do not know). */
int zc_handshake_initiate(const struct zc_transport *t, const struct zc_keypair *self,
                          const struct zc_pubkey *responder, const void *prologue,
                          size_t prologuelen, struct zc_session *out);
/* Responder: accepts only an initiator whose static key is in authorized
 * (-EACCES otherwise; -EBADMSG on a forged message). */
int zc_handshake_respond(const struct zc_transport *t, const struct zc_keypair *self,
                         const struct zc_pubkey *authorized, size_t nauthorized,
                         const void *prologue, size_t prologuelen, struct zc_session *out);

/* The responder in two steps, for a server that verifies initiations
 * before it spends a session on them (and may answer in another process).
 * accept: verifies one initiation in memory; 0 with *out set, *which the
 * index of the initiator's key in authorized and timestamp its payload
 * (the caller refuses one not newer than the last it accepted for that
 * key); -EKEYREJECTED when it was not encrypted to our key, -EBADMSG for
 * any other forged byte, -EACCES for a key not in authorized.
 * answer: sends the response and fills out; frees hs either way.
 * free: drops hs unanswered (NULL is fine). */
struct zc_handshake;
int zc_handshake_accept(struct zc_handshake **out, const struct zc_keypair *self,
                        const struct zc_pubkey *authorized, size_t nauthorized,
                        const void *prologue, size_t prologuelen,
                        const uint8_t msg[ZC_HANDSHAKE_INITIATION_BYTES], size_t *which,
                        uint8_t timestamp[ZC_TIMESTAMP_BYTES]);
int zc_handshake_answer(struct zc_handshake *hs, const struct zc_transport *t,
                        struct zc_session *out);
void zc_handshake_free(struct zc_handshake *hs);
/* Sends a refusal in place of the response: err is -EBUSY, -EKEYREJECTED
 * (or -EBADMSG), -EACCES or -ESTALE, which the initiator's
 * zc_handshake_initiate() returns; 0, -EINVAL for another err, or the
 * transport's error. */
int zc_handshake_refuse(const struct zc_transport *t, int err);

/* Wipes key material (not optimized away). */
void zc_wipe(void *p, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ZC_CRYPTO_H */
