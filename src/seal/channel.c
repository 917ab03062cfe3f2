/* channel.c - a sealed-channel endpoint: the handshake over the rings, then
 * one AEAD-sealed message per ring buffer.
 *
 * The endpoint trusts nothing in shared memory.  Its outbound ring is a
 * VIRTIO driver: it owns the buffers of that direction (one slot per
 * message), seals each message in private staging and copies the result out,
 * posts it, and takes the slot back when the peer has consumed it.  Its
 * inbound ring is a VIRTIO device: it pops a chain (validated by the ring),
 * copies the header into private memory and checks it, then moves the
 * payload out in chunks of a few KiB into a private, cache-resident buffer
 * and decrypts from there into the caller's buffer; the tag is copied out last
 * and checked.  Every byte of shared memory is thus read exactly once, and
 * what is authenticated is exactly what is decrypted: a broker that rewrites
 * a buffer while it is read only breaks the tag (XSA-155's double fetch
 * cannot happen).  A failure zeroes what was written and breaks the channel.
 *
 * The keys use the library's fastest AES-GCM (ipsec-mb where built in): each
 * side then does one cipher pass and one copy of each byte, both over the
 * same L1-resident chunk, and the copy's cost is that of moving the bytes
 * between the two cores (docs/BENCHMARKS.md, seal).
 */
#include "aead_impl.h"
#include "wire.h"
#include "zc/base.h"
#include "zc/ring.h"
#include "zc/shm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Private staging: small enough to stay in L1 next to the cipher's state,
 * so that the copy through shared memory and the cipher's pass over the
 * same bytes both find them there (stage_for picks the chunk size). */
#define STAGE_OPENSSL  6144u
#define STAGE_IPSEC_MB 8192u
#define STAGE_MAX      STAGE_IPSEC_MB
_Static_assert(STAGE_OPENSSL <= STAGE_MAX && STAGE_OPENSSL % 96 == 0, "staging sizes");

struct zc_seal {
    int sock;
    unsigned side;
    struct zc_ring *tx; /* driver: our messages out */
    struct zc_ring *rx; /* device: the peer's messages in */
    uint32_t slots, max_msg;
    uint64_t slot_size;
    struct zc_ring_pool *pool; /* the tx slots */
    int64_t timeout_ns;
    uint32_t stage_bytes, piece_bytes; /* chunk through staging, piece decrypted at a time */

    enum zc_cipher cipher;
    uint8_t tx_key[ZC_KEY_BYTES], rx_key[ZC_KEY_BYTES];
    struct zc_aead *tx_aead, *rx_aead;
    uint64_t tx_counter, rx_counter;
    uint64_t rekey_interval;
    int error; /* sticky: the first failure, -ESHUTDOWN after the peer's close */
    bool closed;

    _Alignas(64) uint8_t stage[STAGE_MAX];
};

/* Nonce salts keep the two directions apart even under one key. */
static uint32_t direction_salt(unsigned from_side)
{
    return 0x7a630000u | from_side;
}

/* ---- outbound buffers ---- */

/* A free outbound slot: its index, or -errno (-ETIMEDOUT, -EPIPE). */
static int64_t take_slot(struct zc_seal *s)
{
    int r = zc_ring_pool_wait(s->pool, 1, s->timeout_ns);
    return r ? (int64_t)r : zc_ring_pool_get(s->pool);
}

/* ---- inbound chains: each byte copied out of shared memory once ---- */

struct chain_reader {
    const struct zc_ring *ring;
    const struct zc_ring_chain *chain;
    unsigned seg;
    uint32_t off;
};

/* Copies the next n bytes of the chain into private dst; -EBADMSG when the
 * chain is shorter. */
static int chain_read(struct chain_reader *cr, void *dst, size_t n)
{
    uint8_t *d = dst;
    while (n) {
        if (cr->seg >= cr->chain->nseg)
            return -EBADMSG;
        const struct zc_ring_seg *seg = &cr->chain->seg[cr->seg];
        const uint8_t *src = zc_ring_ptr(cr->ring, seg);
        if (!src)
            return -EPROTO;
        size_t k = ZC_MIN(n, (size_t)(seg->len - cr->off));
        memcpy(d, src + cr->off, k);
        d += k;
        n -= k;
        cr->off += (uint32_t)k;
        if (cr->off == seg->len) {
            cr->seg++;
            cr->off = 0;
        }
    }
    return 0;
}

/* Hints the cache about the next n unread bytes from offset skip on (up to
 * the end of the current segment).  Only a prefetch: nothing is read into
 * the program, so the bytes are still fetched once, by chain_read. */
static void chain_prefetch(const struct chain_reader *cr, size_t skip, size_t n)
{
    if (cr->seg >= cr->chain->nseg)
        return;
    const struct zc_ring_seg *seg = &cr->chain->seg[cr->seg];
    const uint8_t *src = zc_ring_ptr(cr->ring, seg);
    size_t from = cr->off + skip;
    if (!src || from >= seg->len)
        return;
    size_t end = ZC_MIN((size_t)seg->len, from + n);
    for (size_t k = from; k < end; k += ZC_CACHELINE)
        __builtin_prefetch(src + k);
}

/* The next inbound chain: 0 with *chain filled, or -errno. */
static int next_chain(struct zc_seal *s, struct zc_ring_chain *chain)
{
    for (;;) {
        int n = zc_ring_pop(s->rx, chain);
        if (n)
            return n < 0 ? n : 0;
        int r = zc_ring_wait(s->rx, s->timeout_ns);
        if (r)
            return r;
    }
}

static int release_chain(struct zc_seal *s, const struct zc_ring_chain *chain)
{
    int r = zc_ring_push(s->rx, chain->head, 0);
    if (!r) {
        r = zc_ring_complete(s->rx);
        r = r < 0 ? r : 0;
    }
    return r;
}

/* ---- the handshake travels through the rings, unsealed ---- */

static int ring_send_all(void *ctx, const void *buf, size_t len)
{
    struct zc_seal *s = ctx;
    if (len > s->slot_size)
        return -EMSGSIZE;
    int64_t slot = take_slot(s);
    if (slot < 0)
        return (int)slot;
    memcpy(zc_ring_pool_ptr(s->pool, (uint32_t)slot), buf, len);
    return zc_ring_pool_post(s->pool, (uint32_t)slot, (uint32_t)len);
}

static int ring_recv_all(void *ctx, void *buf, size_t len)
{
    struct zc_seal *s = ctx;
    struct zc_ring_chain chain;
    int r = next_chain(s, &chain);
    if (r)
        return r;
    struct chain_reader cr = {s->rx, &chain, 0, 0};
    if (chain.writable_len || chain.readable_len != len)
        r = -EBADMSG;
    if (!r)
        r = chain_read(&cr, buf, len);
    int rr = release_chain(s, &chain);
    return r ? r : rr;
}

/* ---- keys ---- */

/* key = HKDF(ikm = key, info = "zc-seal/1 rekey"): the old key cannot be
 * recomputed from the new one. */
static int ratchet(struct zc_seal *s, uint8_t key[ZC_KEY_BYTES], struct zc_aead **aead,
                   uint32_t salt)
{
    static const char info[] = "zc-seal/1 rekey";
    uint8_t next[ZC_KEY_BYTES];
    int r = zc_hkdf(NULL, 0, key, ZC_KEY_BYTES, info, sizeof(info) - 1, next, sizeof(next));
    if (r)
        return r;
    memcpy(key, next, ZC_KEY_BYTES);
    zc_wipe(next, sizeof(next));
    zc_aead_free(*aead);
    *aead = NULL;
    return zc_aead_new(aead, s->cipher, key, salt);
}

/* ---- setting up ---- */

/* Staging chunk and decryption piece for the keys' implementation (run-time
 * dispatch: the library picks ipsec-mb where it is built in and the CPU
 * has AVX2 or better).  OpenSSL's: multiples of its 96-byte groups, and
 * 512-byte pieces lost 15 % against 3072.  ipsec-mb's: any size from 2 to
 * 16 KiB measured the same within noise; 8 KiB keeps staging, the piece
 * being decrypted and the prefetched piece of the next chunk in a 32 KiB L1. */
static void stage_for(struct zc_seal *s, const char *impl)
{
    bool ipsec_mb = strcmp(impl, "ipsec-mb") == 0;
    s->stage_bytes = ipsec_mb ? STAGE_IPSEC_MB : STAGE_OPENSSL;
    s->piece_bytes = s->stage_bytes / 2;
}

static int receive_rings(struct zc_seal *s, uid_t broker_uid)
{
    struct seal_hello h;
    unsigned nfds = 0;
    int r = zc_shm_recv_fds(s->sock, broker_uid, &h, sizeof(h), NULL, 0, &nfds);
    if (r)
        return r;
    if (h.magic != SEAL_HELLO_MAGIC || h.side > 1 || seal_config_check(h.slots, h.max_msg))
        return -EBADMSG;
    s->side = h.side;
    s->slots = h.slots;
    s->max_msg = h.max_msg;
    s->slot_size = seal_slot_size(h.max_msg);
    r = zc_ring_recv(&s->tx, ZC_RING_DRIVER, s->sock, broker_uid);
    if (!r)
        r = zc_ring_recv(&s->rx, ZC_RING_DEVICE, s->sock, broker_uid);
    if (r)
        return r;
    /* Our outbound slots must fit the region and the ring we were given. */
    if (zc_ring_num(s->tx) < s->slots || zc_ring_buf_size(s->tx) < s->slots * s->slot_size)
        return -EBADMSG;
    zc_ring_set_peer_fd(s->tx, s->sock);
    zc_ring_set_peer_fd(s->rx, s->sock);
    return zc_ring_pool_create(&s->pool, s->tx, 0, s->slot_size, s->slots);
}

int zc_seal_connect(struct zc_seal **out, int sock, uid_t broker_uid, const struct zc_keypair *self,
                    const struct zc_pubkey *peer, int64_t timeout_ns)
{
    struct zc_seal *s = aligned_alloc(64, sizeof(*s));
    if (!s)
        return -ENOMEM;
    memset(s, 0, sizeof(*s));
    s->sock = sock;
    s->timeout_ns = timeout_ns;
    s->rekey_interval = ZC_SEAL_REKEY_INTERVAL;
    int r = receive_rings(s, broker_uid);
    struct zc_session session;
    struct zc_transport t = {ring_send_all, ring_recv_all, s};
    if (!r && s->side == 0)
        r = zc_handshake_initiate(&t, self, peer, SEAL_PROLOGUE, strlen(SEAL_PROLOGUE), &session);
    else if (!r)
        r = zc_handshake_respond(&t, self, peer, 1, SEAL_PROLOGUE, strlen(SEAL_PROLOGUE), &session);
    if (!r) {
        s->cipher = session.cipher;
        memcpy(s->tx_key, session.send_key, ZC_KEY_BYTES);
        memcpy(s->rx_key, session.recv_key, ZC_KEY_BYTES);
        r = zc_aead_new(&s->tx_aead, s->cipher, s->tx_key, direction_salt(s->side));
    }
    if (!r)
        r = zc_aead_new(&s->rx_aead, s->cipher, s->rx_key, direction_salt(1 - s->side));
    if (!r)
        stage_for(s, zc_aead_impl(s->tx_aead));
    zc_wipe(&session, sizeof(session));
    if (r) {
        zc_seal_destroy(s);
        return r;
    }
    *out = s;
    return 0;
}

size_t zc_seal_max_msg(const struct zc_seal *s)
{
    return s->max_msg;
}

enum zc_cipher zc_seal_cipher(const struct zc_seal *s)
{
    return s->cipher;
}

void zc_seal_set_rekey_interval(struct zc_seal *s, uint64_t messages)
{
    s->rekey_interval = messages ? messages : ZC_SEAL_REKEY_INTERVAL;
}

/* ---- sealed payloads, chunk by chunk ---- */

/* Bytes of the chunk at payload offset off of len: up to the next multiple
 * of the chunk size within the buffer, where the payload starts after the
 * 16-byte header.  So every copy but the first starts on a cache line at
 * both ends (with an honest broker's buffers): against chunks that start
 * 16 bytes off a line, 7 % more bytes per CPU-second at 1 MiB and 2 % at
 * 4 and 64 KiB (medians of 9 interleaved rounds, noisy); OpenSSL's keys,
 * whose first chunk now ends 80 bytes into a 96-byte group, lost nothing. */
static uint32_t chunk_len(const struct zc_seal *s, uint32_t off, uint32_t len)
{
    uint32_t to_edge = s->stage_bytes - (SEAL_HEADER_BYTES + off) % s->stage_bytes;
    return ZC_MIN(to_edge, len - off);
}

/* ---- sending ---- */

static int seal_message(struct zc_seal *s, uint16_t type, const uint8_t *buf, uint32_t len)
{
    int64_t slot = take_slot(s);
    if (slot < 0)
        return (int)slot;
    uint8_t *dst = zc_ring_pool_ptr(s->pool, (uint32_t)slot);
    struct seal_header h = {.counter = s->tx_counter, .length = len, .type = type};
    memcpy(dst, &h, sizeof(h));
    dst += sizeof(h);
    int r = zc_aead_seal_begin(s->tx_aead, h.counter, &h, sizeof(h));
    for (uint32_t off = 0, n; !r && off < len; off += n) {
        n = chunk_len(s, off, len);
        r = zc_aead_seal_update(s->tx_aead, buf + off, s->stage, n);
        memcpy(dst + off, s->stage, n);
    }
    uint8_t tag[ZC_TAG_BYTES];
    if (!r)
        r = zc_aead_seal_finish(s->tx_aead, tag);
    if (!r) {
        memcpy(dst + len, tag, sizeof(tag));
        r = zc_ring_pool_post(s->pool, (uint32_t)slot, len + ZC_SEAL_OVERHEAD);
    }
    if (!r && ++s->tx_counter % s->rekey_interval == 0)
        r = ratchet(s, s->tx_key, &s->tx_aead, direction_salt(s->side));
    return r;
}

int zc_seal_send(struct zc_seal *s, const void *buf, size_t len)
{
    if (s->error && s->error != -ESHUTDOWN)
        return s->error;
    if (s->closed)
        return -EPIPE;
    if (len > s->max_msg)
        return -EMSGSIZE;
    int r = seal_message(s, MSG_DATA, buf, (uint32_t)len);
    if (r)
        s->error = r;
    return r;
}

int zc_seal_close(struct zc_seal *s)
{
    if (s->error && s->error != -ESHUTDOWN)
        return s->error;
    if (s->closed)
        return 0;
    int r = seal_message(s, MSG_CLOSE, NULL, 0);
    s->closed = true;
    if (r)
        s->error = r;
    return r;
}

int zc_seal_flush(struct zc_seal *s)
{
    return zc_ring_pool_wait(s->pool, s->slots, s->timeout_ns);
}

/* ---- receiving ---- */

/* Opens one message from chain into buf; the payload length or -errno.
 * *written says how much of buf holds (unverified) output. */
static ssize_t open_message(struct zc_seal *s, const struct zc_ring_chain *chain, uint8_t *buf,
                            size_t *written)
{
    struct chain_reader cr = {s->rx, chain, 0, 0};
    struct seal_header h;
    if (chain->writable_len)
        return -EBADMSG;
    int r = chain_read(&cr, &h, sizeof(h));
    if (r)
        return r;
    /* Strict order: only the next counter, and a length that is exactly
     * what the descriptors carry. */
    if (h.counter != s->rx_counter || h.zero || (h.type != MSG_DATA && h.type != MSG_CLOSE) ||
        h.length > s->max_msg || (h.type == MSG_CLOSE && h.length) ||
        chain->readable_len != (uint64_t)h.length + ZC_SEAL_OVERHEAD)
        return -EBADMSG;
    /* Copy a chunk into private staging, then decrypt it piece by piece;
     * before each piece, ask for the same share of the next chunk, so that
     * its transfer from the sender's cache overlaps the cipher's work. */
    r = zc_aead_open_begin(s->rx_aead, h.counter, &h, sizeof(h));
    size_t piece = s->piece_bytes;
    for (uint32_t off = 0, n; !r && off < h.length; off += n) {
        n = chunk_len(s, off, h.length);
        r = chain_read(&cr, s->stage, n);
        for (size_t p = 0; !r && p < n; p += piece) {
            chain_prefetch(&cr, p, piece);
            r = zc_aead_open_update(s->rx_aead, s->stage + p, buf + off + p, ZC_MIN(piece, n - p));
        }
        *written = off + n;
    }
    uint8_t tag[ZC_TAG_BYTES];
    if (!r)
        r = chain_read(&cr, tag, sizeof(tag));
    if (!r)
        r = zc_aead_open_finish(s->rx_aead, tag);
    if (r)
        return r;
    if (++s->rx_counter % s->rekey_interval == 0)
        r = ratchet(s, s->rx_key, &s->rx_aead, direction_salt(1 - s->side));
    if (r)
        return r;
    return h.type == MSG_CLOSE ? -ESHUTDOWN : (ssize_t)h.length;
}

ssize_t zc_seal_recv(struct zc_seal *s, void *buf, size_t cap)
{
    if (s->error)
        return s->error;
    if (cap < s->max_msg)
        return -EINVAL;
    struct zc_ring_chain chain;
    size_t written = 0;
    ssize_t r = next_chain(s, &chain);
    if (!r) {
        r = open_message(s, &chain, buf, &written);
        int rr = release_chain(s, &chain);
        if (r >= 0 && rr)
            r = rr;
    }
    if (r < 0) {
        memset(buf, 0, written);
        s->error = (int)r;
    }
    return r;
}

void zc_seal_destroy(struct zc_seal *s)
{
    if (!s)
        return;
    zc_aead_free(s->tx_aead);
    zc_aead_free(s->rx_aead);
    zc_ring_pool_destroy(s->pool);
    zc_ring_destroy(s->tx);
    zc_ring_destroy(s->rx);
    zc_wipe(s, sizeof(*s));
    free(s);
}
