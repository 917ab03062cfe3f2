/* noise.c - the mutually authenticated handshake (Noise IK pattern).
 *
 * The initiator knows the responder's static key in advance, so one round
 * trip authenticates both sides and yields forward-secret session keys:
 *
 *   <- s
 *   ...
 *   -> e, es, s, ss        (initiation, 100 bytes)
 *   <- e, ee, se           (response, 52 bytes)
 *
 * Both sides keep the Noise symmetric state: a chaining key ck that every
 * X25519 result is mixed into with HKDF-SHA256, and a hash h over the whole
 * transcript (protocol name, prologue, the responder's static key, every
 * message byte) that each AEAD encryption authenticates as associated data.
 * A single flipped bit anywhere therefore breaks the next tag.  The
 * initiator's static key travels encrypted, so an onlooker cannot tell who
 * connects.  docs/PROTOCOL.md draws both messages byte by byte.
 *
 * Functions are named for the protocol steps, as in the Noise document.
 */
#include "zc/crypto.h"
#include "zc/base.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define PROTOCOL_NAME "Noise_IK_25519_AEAD_SHA256 zc/1"

enum {
    MSG_INITIATION = 1,
    MSG_RESPONSE = 2,
    HEADER_BYTES = 4, /* type, cipher, 0, 0 */
    INITIATION_BYTES = HEADER_BYTES + 32 + (32 + ZC_TAG_BYTES) + ZC_TAG_BYTES, /* 100 */
    RESPONSE_BYTES = HEADER_BYTES + 32 + ZC_TAG_BYTES,                         /* 52 */
};

struct symmetric_state {
    enum zc_cipher cipher;
    uint8_t ck[ZC_HASH_BYTES];
    uint8_t h[ZC_HASH_BYTES];
    uint8_t k[ZC_KEY_BYTES];
};

struct handshake {
    struct symmetric_state ss;
    struct zc_keypair e;      /* our ephemeral */
    uint8_t re[ZC_KEY_BYTES]; /* the remote ephemeral */
    uint8_t rs[ZC_KEY_BYTES]; /* the remote static */
};

static void handshake_wipe(struct handshake *hs)
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

static int initialize_symmetric(struct symmetric_state *s, enum zc_cipher c)
{
    s->cipher = c;
    int r = sha256(PROTOCOL_NAME, strlen(PROTOCOL_NAME), "", 0, s->h);
    memcpy(s->ck, s->h, ZC_HASH_BYTES);
    return r;
}

static int mix_hash(struct symmetric_state *s, const void *data, size_t len)
{
    return sha256(s->h, ZC_HASH_BYTES, data, len, s->h);
}

/* ck, k = HKDF(ck, ikm): RFC 5869 with salt ck and empty info, 64 bytes out. */
static int mix_key(struct symmetric_state *s, const uint8_t ikm[ZC_KEY_BYTES])
{
    uint8_t out[2 * ZC_KEY_BYTES];
    int r = zc_hkdf(s->ck, ZC_HASH_BYTES, ikm, ZC_KEY_BYTES, NULL, 0, out, sizeof(out));
    memcpy(s->ck, out, ZC_HASH_BYTES);
    memcpy(s->k, out + ZC_HASH_BYTES, ZC_KEY_BYTES);
    zc_wipe(out, sizeof(out));
    return r;
}

/* mix_key(DH(priv, pub)). */
static int mix_dh(struct symmetric_state *s, const uint8_t priv[ZC_KEY_BYTES],
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
static int encrypt_and_hash(struct symmetric_state *s, const void *plain, size_t len, uint8_t *out)
{
    struct zc_aead *a;
    int r = zc_aead_new(&a, s->cipher, s->k, 0);
    if (r)
        return r;
    r = zc_aead_seal(a, 0, s->h, ZC_HASH_BYTES, plain, out, len, out + len);
    zc_aead_free(a);
    return r ? r : mix_hash(s, out, len + ZC_TAG_BYTES);
}

static int decrypt_and_hash(struct symmetric_state *s, const uint8_t *in, size_t len, void *plain)
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
static int split(struct symmetric_state *s, struct zc_session *out, bool initiator)
{
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

/* Both sides: h = HASH(name), ck = h, then h mixes the prologue and the
 * responder's static key (the IK pre-message). */
static int handshake_init(struct handshake *hs, enum zc_cipher c, const void *prologue,
                          size_t prologuelen, const uint8_t responder_static[ZC_KEY_BYTES])
{
    int r = initialize_symmetric(&hs->ss, c);
    if (!r)
        r = mix_hash(&hs->ss, prologue, prologuelen);
    if (!r)
        r = mix_hash(&hs->ss, responder_static, ZC_KEY_BYTES);
    return r;
}

/* The header (type, cipher, two zero bytes) and the "e" token: a fresh
 * ephemeral key, sent in clear and mixed into h. */
static int write_header_and_e(struct handshake *hs, uint8_t type, uint8_t *msg)
{
    msg[0] = type;
    msg[1] = (uint8_t)cipher_wire(hs->ss.cipher);
    msg[2] = msg[3] = 0;
    int r = mix_hash(&hs->ss, msg, HEADER_BYTES);
    if (!r)
        r = zc_keypair_generate(&hs->e);
    if (!r) {
        memcpy(msg + HEADER_BYTES, hs->e.pub, ZC_KEY_BYTES);
        r = mix_hash(&hs->ss, hs->e.pub, ZC_KEY_BYTES);
    }
    return r;
}

/* The peer's header (checked by the caller) and "e" token. */
static int read_header_and_e(struct handshake *hs, const uint8_t *msg)
{
    int r = mix_hash(&hs->ss, msg, HEADER_BYTES);
    memcpy(hs->re, msg + HEADER_BYTES, ZC_KEY_BYTES);
    if (!r)
        r = mix_hash(&hs->ss, hs->re, ZC_KEY_BYTES);
    return r;
}

/* -> e, es, s, ss */
static int create_initiation(struct handshake *hs, const struct zc_keypair *self,
                             const uint8_t rs[ZC_KEY_BYTES], uint8_t msg[INITIATION_BYTES])
{
    struct symmetric_state *s = &hs->ss;
    uint8_t *p = msg + HEADER_BYTES + ZC_KEY_BYTES;
    int r = write_header_and_e(hs, MSG_INITIATION, msg);
    if (!r)
        r = mix_dh(s, hs->e.priv, rs);
    if (!r) {
        r = encrypt_and_hash(s, self->pub, ZC_KEY_BYTES, p);
        p += ZC_KEY_BYTES + ZC_TAG_BYTES;
    }
    if (!r)
        r = mix_dh(s, self->priv, rs);
    if (!r)
        r = encrypt_and_hash(s, NULL, 0, p);
    return r;
}

/* Reads the initiation into private memory; the caller checks hs->rs
 * against the authorized keys once every tag has verified. */
static int consume_initiation(struct handshake *hs, const struct zc_keypair *self,
                              const uint8_t msg[INITIATION_BYTES])
{
    struct symmetric_state *s = &hs->ss;
    const uint8_t *p = msg + HEADER_BYTES + ZC_KEY_BYTES;
    int r = read_header_and_e(hs, msg);
    if (!r)
        r = mix_dh(s, self->priv, hs->re);
    if (!r)
        r = decrypt_and_hash(s, p, ZC_KEY_BYTES, hs->rs);
    p += ZC_KEY_BYTES + ZC_TAG_BYTES;
    if (!r)
        r = mix_dh(s, self->priv, hs->rs);
    if (!r)
        r = decrypt_and_hash(s, p, 0, NULL);
    return r;
}

/* <- e, ee, se */
static int create_response(struct handshake *hs, uint8_t msg[RESPONSE_BYTES])
{
    struct symmetric_state *s = &hs->ss;
    uint8_t *p = msg + HEADER_BYTES + ZC_KEY_BYTES;
    int r = write_header_and_e(hs, MSG_RESPONSE, msg);
    if (!r)
        r = mix_dh(s, hs->e.priv, hs->re);
    if (!r)
        r = mix_dh(s, hs->e.priv, hs->rs);
    if (!r)
        r = encrypt_and_hash(s, NULL, 0, p);
    return r;
}

static int consume_response(struct handshake *hs, const struct zc_keypair *self,
                            const uint8_t msg[RESPONSE_BYTES])
{
    struct symmetric_state *s = &hs->ss;
    const uint8_t *p = msg + HEADER_BYTES + ZC_KEY_BYTES;
    if (msg[0] != MSG_RESPONSE || msg[1] != cipher_wire(s->cipher) || msg[2] || msg[3])
        return -EBADMSG;
    int r = read_header_and_e(hs, msg);
    if (!r)
        r = mix_dh(s, hs->e.priv, hs->re);
    if (!r)
        r = mix_dh(s, self->priv, hs->re);
    if (!r)
        r = decrypt_and_hash(s, p, 0, NULL);
    return r;
}

int zc_handshake_initiate(const struct zc_transport *t, const struct zc_keypair *self,
                          const struct zc_pubkey *responder, const void *prologue,
                          size_t prologuelen, struct zc_session *out)
{
    struct handshake hs;
    uint8_t init[INITIATION_BYTES], resp[RESPONSE_BYTES];
    memset(&hs, 0, sizeof(hs));
    memcpy(hs.rs, responder->key, ZC_KEY_BYTES);
    int r = handshake_init(&hs, zc_cipher_default(), prologue, prologuelen, hs.rs);
    if (!r)
        r = create_initiation(&hs, self, hs.rs, init);
    if (!r)
        r = t->send_all(t->ctx, init, sizeof(init));
    if (!r)
        r = t->recv_all(t->ctx, resp, sizeof(resp));
    if (!r)
        r = consume_response(&hs, self, resp);
    if (!r)
        r = split(&hs.ss, out, true);
    if (!r)
        out->peer = *responder;
    handshake_wipe(&hs);
    return r;
}

int zc_handshake_respond(const struct zc_transport *t, const struct zc_keypair *self,
                         const struct zc_pubkey *authorized, size_t nauthorized,
                         const void *prologue, size_t prologuelen, struct zc_session *out)
{
    struct handshake hs;
    uint8_t init[INITIATION_BYTES], resp[RESPONSE_BYTES];
    enum zc_cipher c;
    memset(&hs, 0, sizeof(hs));
    int r = t->recv_all(t->ctx, init, sizeof(init));
    if (r)
        return r;
    if (init[0] != MSG_INITIATION || cipher_from_wire(init[1], &c) < 0 || init[2] || init[3])
        return -EBADMSG;
    r = handshake_init(&hs, c, prologue, prologuelen, self->pub);
    if (!r)
        r = consume_initiation(&hs, self, init);
    if (!r) {
        bool known = false;
        for (size_t i = 0; i < nauthorized; i++)
            known |= CRYPTO_memcmp(authorized[i].key, hs.rs, ZC_KEY_BYTES) == 0;
        if (!known)
            r = -EACCES;
    }
    if (!r)
        r = create_response(&hs, resp);
    if (!r)
        r = t->send_all(t->ctx, resp, sizeof(resp));
    if (!r)
        r = split(&hs.ss, out, false);
    if (!r)
        memcpy(out->peer.key, hs.rs, ZC_KEY_BYTES);
    handshake_wipe(&hs);
    return r;
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
