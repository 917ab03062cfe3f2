/* noise.c - the mutually authenticated handshake (Noise IK pattern).
 *
 * The initiator knows the responder's static key in advance, so one round
 * trip authenticates both sides and yields forward-secret session keys:
 *
 *   <- s
 *   ...
 *   -> e, es, s, ss        (initiation, 112 bytes: the payload is a timestamp)
 *   <- e, ee, se           (response, 52 bytes)
 *
 * Both sides keep the Noise symmetric state: a chaining key ck that every
 * X25519 result is mixed into with HKDF-SHA256, and a hash h over the whole
 * transcript (protocol name, prologue, the responder's static key, every
 * message byte) that each AEAD encryption authenticates as associated data.
 * A single flipped bit anywhere therefore breaks the next tag.  The
 * initiator's static key travels encrypted, so an onlooker cannot tell who
 * connects.  The initiation's payload is a TAI64N timestamp (as in
 * WireGuard) that grows with every initiation of this process, so a
 * responder that remembers the last ones per key can refuse a recorded
 * initiation replayed later.  docs/PROTOCOL.md draws both messages byte by
 * byte.
 *
 * Instead of a response, a responder may send a refusal of the same length
 * before any session exists: unauthenticated, so it only chooses the
 * error the initiator reports, never grants anything.
 *
 * Functions are named for the protocol steps, as in the Noise document.
 */
#include "noise.h"
#include "zc/base.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define PROTOCOL_NAME "Noise_IK_25519_AEAD_SHA256 zc/1"

enum {
    MSG_INITIATION = 1,
    MSG_RESPONSE = 2,
    MSG_REFUSAL = 3,  /* a response-sized "no", in clear */
    HEADER_BYTES = 4, /* type, cipher, 0, 0 */
};

/* Why a responder refused (byte 1 of a refusal). */
enum refusal {
    REFUSED_BUSY = 1,         /* at its session limit: -EBUSY */
    REFUSED_UNDECRYPTED = 2,  /* not encrypted to its key: -EKEYREJECTED */
    REFUSED_UNAUTHORIZED = 3, /* our key is not in its list: -EACCES */
    REFUSED_STALE = 4,        /* timestamp not newer than one it accepted: -ESTALE */
};

_Static_assert(ZC_HANDSHAKE_INITIATION_BYTES == HEADER_BYTES + ZC_KEY_BYTES +
                                                    (ZC_KEY_BYTES + ZC_TAG_BYTES) +
                                                    (ZC_TIMESTAMP_BYTES + ZC_TAG_BYTES),
               "initiation layout");
_Static_assert(ZC_HANDSHAKE_RESPONSE_BYTES == HEADER_BYTES + ZC_KEY_BYTES + ZC_TAG_BYTES,
               "response layout");

static void handshake_wipe(struct zc_handshake *hs)
{
    zc_wipe(hs, sizeof(*hs));
}

static int cipher_wire(enum zc_cipher c)
{
    return c == ZC_CIPHER_AES256GCM ? 1 : 2;
}

static int cipher_from_wire(uint8_t b, enum zc_cipher *c)
{
    if (b == 1)
        *c = ZC_CIPHER_AES256GCM;
    else if (b == 2)
        *c = ZC_CIPHER_CHACHA20POLY1305;
    else
        return -EBADMSG;
    return 0;
}

static int sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, a, alen) == 1 && EVP_DigestUpdate(md, b, blen) == 1 &&
             EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -EIO;
}

/* X25519; -EBADMSG for a peer key that gives the all-zero (low-order) result. */
static int dh(const uint8_t priv[ZC_KEY_BYTES], const uint8_t pub[ZC_KEY_BYTES],
              uint8_t out[ZC_KEY_BYTES])
{
    EVP_PKEY *sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, ZC_KEY_BYTES);
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, ZC_KEY_BYTES);
    EVP_PKEY_CTX *ctx = sk ? EVP_PKEY_CTX_new(sk, NULL) : NULL;
    size_t len = ZC_KEY_BYTES;
    int r = -EBADMSG;
    if (ctx && pk && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, pk) == 1 &&
        EVP_PKEY_derive(ctx, out, &len) == 1 && len == ZC_KEY_BYTES)
        r = 0;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(sk);
    return r;
}

static int initialize_symmetric(struct noise_symmetric *s, enum zc_cipher c)
{
    s->cipher = c;
    int r = sha256(PROTOCOL_NAME, strlen(PROTOCOL_NAME), "", 0, s->h);
    memcpy(s->ck, s->h, ZC_HASH_BYTES);
    return r;
}

static int mix_hash(struct noise_symmetric *s, const void *data, size_t len)
{
    return sha256(s->h, ZC_HASH_BYTES, data, len, s->h);
}

/* ck, k = HKDF(ck, ikm): RFC 5869 with salt ck and empty info, 64 bytes out. */
static int mix_key(struct noise_symmetric *s, const uint8_t ikm[ZC_KEY_BYTES])
{
    uint8_t out[2 * ZC_KEY_BYTES];
    int r = zc_hkdf(s->ck, ZC_HASH_BYTES, ikm, ZC_KEY_BYTES, NULL, 0, out, sizeof(out));
    memcpy(s->ck, out, ZC_HASH_BYTES);
    memcpy(s->k, out + ZC_HASH_BYTES, ZC_KEY_BYTES);
    zc_wipe(out, sizeof(out));
    return r;
}

/* mix_key(DH(priv, pub)). */
static int mix_dh(struct noise_symmetric *s, const uint8_t priv[ZC_KEY_BYTES],
                  const uint8_t pub[ZC_KEY_BYTES])
{
    uint8_t shared[ZC_KEY_BYTES];
    int r = dh(priv, pub, shared);
    if (!r)
        r = mix_key(s, shared);
    zc_wipe(shared, sizeof(shared));
    return r;
}

/* Each k is used for exactly one encryption, so the nonce is always 0. */
static int encrypt_and_hash(struct noise_symmetric *s, const void *plain, size_t len, uint8_t *out)
{
    struct zc_aead *a;
    int r = zc_aead_new(&a, s->cipher, s->k, 0);
    if (r)
        return r;
    r = zc_aead_seal(a, 0, s->h, ZC_HASH_BYTES, plain, out, len, out + len);
    zc_aead_free(a);
    return r ? r : mix_hash(s, out, len + ZC_TAG_BYTES);
}

static int decrypt_and_hash(struct noise_symmetric *s, const uint8_t *in, size_t len, void *plain)
{
    struct zc_aead *a;
    int r = zc_aead_new(&a, s->cipher, s->k, 0);
    if (r)
        return r;
    r = zc_aead_open(a, 0, s->h, ZC_HASH_BYTES, in, plain, len, in + len);
    zc_aead_free(a);
    return r ? r : mix_hash(s, in, len + ZC_TAG_BYTES);
}

/* k_initiator_to_responder, k_responder_to_initiator = HKDF(ck, empty). */
int noise_split(struct zc_handshake *hs, struct zc_session *out, bool initiator)
{
    struct noise_symmetric *s = &hs->ss;
    uint8_t keys[2 * ZC_KEY_BYTES];
    int r = zc_hkdf(s->ck, ZC_HASH_BYTES, "", 0, NULL, 0, keys, sizeof(keys));
    if (!r) {
        out->cipher = s->cipher;
        memcpy(out->send_key, keys + (initiator ? 0 : ZC_KEY_BYTES), ZC_KEY_BYTES);
        memcpy(out->recv_key, keys + (initiator ? ZC_KEY_BYTES : 0), ZC_KEY_BYTES);
        memcpy(out->transcript, s->h, ZC_HASH_BYTES);
    }
    zc_wipe(keys, sizeof(keys));
    return r;
}

int noise_init(struct zc_handshake *hs, enum zc_cipher c, const void *prologue, size_t prologuelen,
               const uint8_t responder_static[ZC_KEY_BYTES])
{
    int r = initialize_symmetric(&hs->ss, c);
    if (!r)
        r = mix_hash(&hs->ss, prologue, prologuelen);
    if (!r)
        r = mix_hash(&hs->ss, responder_static, ZC_KEY_BYTES);
    return r;
}

/* The header (type, cipher, two zero bytes) and the "e" token: the
 * ephemeral key e, sent in clear and mixed into h. */
static int write_header_and_e(struct zc_handshake *hs, uint8_t type, const struct zc_keypair *e,
                              uint8_t *msg)
{
    msg[0] = type;
    msg[1] = (uint8_t)cipher_wire(hs->ss.cipher);
    msg[2] = msg[3] = 0;
    hs->e = *e;
    memcpy(msg + HEADER_BYTES, hs->e.pub, ZC_KEY_BYTES);
    int r = mix_hash(&hs->ss, msg, HEADER_BYTES);
    return r ? r : mix_hash(&hs->ss, hs->e.pub, ZC_KEY_BYTES);
}

/* The peer's header (checked by the caller) and "e" token. */
static int read_header_and_e(struct zc_handshake *hs, const uint8_t *msg)
{
    int r = mix_hash(&hs->ss, msg, HEADER_BYTES);
    memcpy(hs->re, msg + HEADER_BYTES, ZC_KEY_BYTES);
    if (!r)
        r = mix_hash(&hs->ss, hs->re, ZC_KEY_BYTES);
    return r;
}

/* -> e, es, s, ss, payload = timestamp */
int noise_write_initiation(struct zc_handshake *hs, const struct zc_keypair *self,
                           const struct zc_keypair *e, const uint8_t ts[ZC_TIMESTAMP_BYTES],
                           uint8_t msg[ZC_HANDSHAKE_INITIATION_BYTES])
{
    struct noise_symmetric *s = &hs->ss;
    uint8_t *p = msg + HEADER_BYTES + ZC_KEY_BYTES;
    /* e */
    int r = write_header_and_e(hs, MSG_INITIATION, e, msg);
    /* es */
    if (!r)
        r = mix_dh(s, hs->e.priv, hs->rs);
    /* s */
    if (!r)
        r = encrypt_and_hash(s, self->pub, ZC_KEY_BYTES, p);
    p += ZC_KEY_BYTES + ZC_TAG_BYTES;
    /* ss */
    if (!r)
        r = mix_dh(s, self->priv, hs->rs);
    if (!r)
        r = encrypt_and_hash(s, ts, ZC_TIMESTAMP_BYTES, p);
    return r;
}

/* Reads the initiation into private memory; the caller checks hs->rs
 * against the authorized keys once every tag has verified. */
int noise_read_initiation(struct zc_handshake *hs, const struct zc_keypair *self,
                          const uint8_t msg[ZC_HANDSHAKE_INITIATION_BYTES])
{
    struct noise_symmetric *s = &hs->ss;
    const uint8_t *p = msg + HEADER_BYTES + ZC_KEY_BYTES;
    /* e */
    int r = read_header_and_e(hs, msg);
    /* es */
    if (!r)
        r = mix_dh(s, self->priv, hs->re);
    /* s: the first tag; failing it means the initiator did not use our key */
    if (!r && (r = decrypt_and_hash(s, p, ZC_KEY_BYTES, hs->rs)) == -EBADMSG)
        r = -EKEYREJECTED;
    p += ZC_KEY_BYTES + ZC_TAG_BYTES;
    /* ss */
    if (!r)
        r = mix_dh(s, self->priv, hs->rs);
    if (!r)
        r = decrypt_and_hash(s, p, ZC_TIMESTAMP_BYTES, hs->timestamp);
    return r;
}

/* <- e, ee, se */
int noise_write_response(struct zc_handshake *hs, const struct zc_keypair *e,
                         uint8_t msg[ZC_HANDSHAKE_RESPONSE_BYTES])
{
    struct noise_symmetric *s = &hs->ss;
    /* e */
    int r = write_header_and_e(hs, MSG_RESPONSE, e, msg);
    /* ee */
    if (!r)
        r = mix_dh(s, hs->e.priv, hs->re);
    /* se */
    if (!r)
        r = mix_dh(s, hs->e.priv, hs->rs);
    if (!r)
        r = encrypt_and_hash(s, NULL, 0, msg + HEADER_BYTES + ZC_KEY_BYTES);
    return r;
}

/* The error a refusal names: type, reason, then only zero bytes (so a
 * flipped bit in a real response never reads as one). */
static int refusal_error(const uint8_t msg[ZC_HANDSHAKE_RESPONSE_BYTES])
{
    for (size_t i = 2; i < ZC_HANDSHAKE_RESPONSE_BYTES; i++)
        if (msg[i])
            return -EBADMSG;
    switch (msg[1]) {
    case REFUSED_BUSY:
        return -EBUSY;
    case REFUSED_UNDECRYPTED:
        return -EKEYREJECTED;
    case REFUSED_UNAUTHORIZED:
        return -EACCES;
    case REFUSED_STALE:
        return -ESTALE;
    default:
        return -ECONNREFUSED;
    }
}

int noise_read_response(struct zc_handshake *hs, const struct zc_keypair *self,
                        const uint8_t msg[ZC_HANDSHAKE_RESPONSE_BYTES])
{
    struct noise_symmetric *s = &hs->ss;
    if (msg[0] == MSG_REFUSAL)
        return refusal_error(msg);
    if (msg[0] != MSG_RESPONSE || msg[1] != cipher_wire(s->cipher) || msg[2] || msg[3])
        return -EBADMSG;
    /* e */
    int r = read_header_and_e(hs, msg);
    /* ee */
    if (!r)
        r = mix_dh(s, hs->e.priv, hs->re);
    /* se */
    if (!r)
        r = mix_dh(s, self->priv, hs->re);
    if (!r)
        r = decrypt_and_hash(s, msg + HEADER_BYTES + ZC_KEY_BYTES, 0, NULL);
    return r;
}

/* TAI64N (8 bytes: 2^62 + 10 + seconds, 4 bytes: nanoseconds; big-endian,
 * so later times compare greater with memcmp), strictly growing across
 * this process: the parallel streams of one client start within the same
 * clock tick and each needs its own. */
static void timestamp_now(uint8_t ts[ZC_TIMESTAMP_BYTES])
{
    static _Atomic uint64_t last;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    uint64_t prev = atomic_load(&last);
    do
        ns = ns > prev ? ns : prev + 1;
    while (!atomic_compare_exchange_weak(&last, &prev, ns));
    uint64_t sec = 0x400000000000000aull + ns / 1000000000u;
    uint32_t nsec = (uint32_t)(ns % 1000000000u);
    for (int i = 0; i < 8; i++)
        ts[i] = (uint8_t)(sec >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        ts[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

int zc_handshake_initiate(const struct zc_transport *t, const struct zc_keypair *self,
                          const struct zc_pubkey *responder, const void *prologue,
                          size_t prologuelen, struct zc_session *out)
{
    struct zc_handshake hs;
    struct zc_keypair e;
    uint8_t init[ZC_HANDSHAKE_INITIATION_BYTES], resp[ZC_HANDSHAKE_RESPONSE_BYTES];
    uint8_t ts[ZC_TIMESTAMP_BYTES];
    memset(&hs, 0, sizeof(hs));
    memcpy(hs.rs, responder->key, ZC_KEY_BYTES);
    timestamp_now(ts);
    int r = noise_init(&hs, zc_cipher_default(), prologue, prologuelen, hs.rs);
    if (!r)
        r = zc_keypair_generate(&e);
    if (!r)
        r = noise_write_initiation(&hs, self, &e, ts, init);
    zc_wipe(&e, sizeof(e));
    if (!r)
        r = t->send_all(t->ctx, init, sizeof(init));
    if (!r)
        r = t->recv_all(t->ctx, resp, sizeof(resp));
    if (!r)
        r = noise_read_response(&hs, self, resp);
    if (!r)
        r = noise_split(&hs, out, true);
    if (!r)
        out->peer = *responder;
    handshake_wipe(&hs);
    return r;
}

int zc_handshake_accept(struct zc_handshake **out, const struct zc_keypair *self,
                        const struct zc_pubkey *authorized, size_t nauthorized,
                        const void *prologue, size_t prologuelen,
                        const uint8_t msg[ZC_HANDSHAKE_INITIATION_BYTES], size_t *which,
                        uint8_t timestamp[ZC_TIMESTAMP_BYTES])
{
    enum zc_cipher c;
    *out = NULL;
    if (msg[0] != MSG_INITIATION || cipher_from_wire(msg[1], &c) < 0 || msg[2] || msg[3])
        return -EBADMSG;
    struct zc_handshake *hs = calloc(1, sizeof(*hs));
    if (!hs)
        return -ENOMEM;
    int r = noise_init(hs, c, prologue, prologuelen, self->pub);
    if (!r)
        r = noise_read_initiation(hs, self, msg);
    if (!r) {
        size_t found = nauthorized;
        for (size_t i = 0; i < nauthorized; i++)
            if (CRYPTO_memcmp(authorized[i].key, hs->rs, ZC_KEY_BYTES) == 0)
                found = i;
        *which = found;
        r = found < nauthorized ? 0 : -EACCES;
    }
    if (r) {
        zc_handshake_free(hs);
        return r;
    }
    memcpy(timestamp, hs->timestamp, ZC_TIMESTAMP_BYTES);
    *out = hs;
    return 0;
}

int zc_handshake_answer(struct zc_handshake *hs, const struct zc_transport *t,
                        struct zc_session *out)
{
    uint8_t resp[ZC_HANDSHAKE_RESPONSE_BYTES];
    struct zc_keypair e;
    int r = zc_keypair_generate(&e);
    if (!r)
        r = noise_write_response(hs, &e, resp);
    zc_wipe(&e, sizeof(e));
    if (!r)
        r = t->send_all(t->ctx, resp, sizeof(resp));
    if (!r)
        r = noise_split(hs, out, false);
    if (!r)
        memcpy(out->peer.key, hs->rs, ZC_KEY_BYTES);
    zc_handshake_free(hs);
    return r;
}

void zc_handshake_free(struct zc_handshake *hs)
{
    if (!hs)
        return;
    handshake_wipe(hs);
    free(hs);
}

int zc_handshake_refuse(const struct zc_transport *t, int err)
{
    uint8_t msg[ZC_HANDSHAKE_RESPONSE_BYTES] = {MSG_REFUSAL};
    switch (err) {
    case -EBUSY:
        msg[1] = REFUSED_BUSY;
        break;
    case -EKEYREJECTED:
    case -EBADMSG:
        msg[1] = REFUSED_UNDECRYPTED;
        break;
    case -EACCES:
        msg[1] = REFUSED_UNAUTHORIZED;
        break;
    case -ESTALE:
        msg[1] = REFUSED_STALE;
        break;
    default:
        return -EINVAL;
    }
    return t->send_all(t->ctx, msg, sizeof(msg));
}

int zc_handshake_respond(const struct zc_transport *t, const struct zc_keypair *self,
                         const struct zc_pubkey *authorized, size_t nauthorized,
                         const void *prologue, size_t prologuelen, struct zc_session *out)
{
    uint8_t init[ZC_HANDSHAKE_INITIATION_BYTES], ts[ZC_TIMESTAMP_BYTES];
    struct zc_handshake *hs;
    size_t which;
    int r = t->recv_all(t->ctx, init, sizeof(init));
    if (!r)
        r = zc_handshake_accept(&hs, self, authorized, nauthorized, prologue, prologuelen, init,
                                &which, ts);
    if (r)
        return r == -EKEYREJECTED ? -EBADMSG : r;
    return zc_handshake_answer(hs, t, out);
}

static int fd_send_all(void *ctx, const void *buf, size_t len)
{
    return zc_write_all((int)(intptr_t)ctx, buf, len);
}

static int fd_recv_all(void *ctx, void *buf, size_t len)
{
    return zc_read_all((int)(intptr_t)ctx, buf, len);
}

void zc_transport_fd(struct zc_transport *t, int fd)
{
    t->send_all = fd_send_all;
    t->recv_all = fd_recv_all;
    t->ctx = (void *)(intptr_t)fd;
}
