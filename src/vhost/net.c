/* net.c - the virtio-net device on the rings: sink, echo, source.
 *
 * Each frame in a virtqueue is a virtio_net_hdr followed by the Ethernet
 * frame (VIRTIO 1.2, 5.1.6):
 *
 *   u8 flags | u8 gso_type | le16 hdr_len | le16 gso_size |
 *   le16 csum_start | le16 csum_offset | [le16 num_buffers]  (12 bytes with
 *                                         VERSION_1 or MRG_RXBUF, else 10)
 *
 * Transmit chains (the front end's TX queues, odd numbers) are read where
 * they lie; the header is copied out and checked (no offloads were offered,
 * so any GSO type is a bad frame).  Receive chains (even numbers) are taken
 * into a small stash ahead of the frames that fill them; with MRG_RXBUF a
 * frame may span several of them and the first header says how many.
 */
#include "vhost_impl.h"
#include "zc/base.h"

#include <errno.h>
#include <string.h>

#define GSO_NONE 0
#define HDR_MAX  12

/* Counts the chains the ring refused since we last looked. */
static void account_refused(struct zc_vhost *v, struct vq *q)
{
    struct zc_ring_stats st;
    zc_ring_get_stats(q->ring, &st);
    v->stats.bad_packets += st.refused - q->refused_seen;
    q->refused_seen = st.refused;
}

/* Copies len bytes at offset off of c's readable segments into dst. */
static void chain_read(const struct zc_ring *r, const struct zc_ring_chain *c, uint32_t off,
                       uint8_t *dst, uint32_t len)
{
    for (unsigned i = 0; i < c->nseg && len && !c->seg[i].writable; i++) {
        const struct zc_ring_seg *s = &c->seg[i];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        uint32_t n = ZC_MIN(len, s->len - off);
        memcpy(dst, (const uint8_t *)zc_ring_ptr(r, s) + off, n);
        dst += n;
        len -= n;
        off = 0;
    }
}

/* Copies len bytes into c's writable segments from offset off. */
static void chain_write(const struct zc_ring *r, const struct zc_ring_chain *c, uint32_t off,
                        const uint8_t *src, uint32_t len)
{
    for (unsigned i = 0; i < c->nseg && len; i++) {
        const struct zc_ring_seg *s = &c->seg[i];
        if (!s->writable)
            continue;
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        uint32_t n = ZC_MIN(len, s->len - off);
        memcpy((uint8_t *)zc_ring_ptr(r, s) + off, src, n);
        src += n;
        len -= n;
        off = 0;
    }
}

/* The frame length of a transmit chain, or -EBADMSG: a header that fits,
 * no GSO, nothing device-writable, a frame neither empty nor too long. */
static int64_t tx_frame_len(const struct zc_vhost *v, const struct zc_ring *r,
                            const struct zc_ring_chain *c)
{
    if (c->writable_len || c->readable_len <= v->hdr_len ||
        c->readable_len - v->hdr_len > ZC_VHOST_MAX_FRAME)
        return -EBADMSG;
    uint8_t hdr[HDR_MAX];
    chain_read(r, c, 0, hdr, v->hdr_len);
    if (hdr[1] != GSO_NONE)
        return -EBADMSG;
    return c->readable_len - v->hdr_len;
}

/* ---- receive queues: the stash of chains taken ahead ---- */

static struct zc_ring_chain *stash_at(struct vq *q, unsigned k)
{
    return &q->stash[(q->stash_first + k) % VQ_STASH];
}

/* Makes sure at least want chains are stashed (fewer when the front end
 * has not posted them).  The number stashed, or -errno. */
static int stash_fill(struct zc_vhost *v, struct vq *q, unsigned want)
{
    while (q->stash_n < want) {
        unsigned tail = (q->stash_first + q->stash_n) % VQ_STASH;
        unsigned room = ZC_MIN(VQ_STASH - q->stash_n, VQ_STASH - tail);
        int n = zc_ring_pop_batch(q->ring, &q->stash[tail], room);
        if (n < 0)
            return n;
        account_refused(v, q);
        if (n == 0)
            break;
        q->stash_n += (unsigned)n;
    }
    return (int)q->stash_n;
}

void net_flush_stash(struct zc_vhost *v, struct vq *q)
{
    for (; q->stash_n; q->stash_n--, q->stash_first = (q->stash_first + 1) % VQ_STASH)
        (void)zc_ring_push(q->ring, q->stash[q->stash_first].head, 0);
    (void)zc_ring_complete(q->ring);
    account_refused(v, q);
}

/* Writes the virtio-net header of a received frame at the start of c: all
 * zero (no offloads) but num_buffers, the chains the frame spans.
 *
 * Stored straight into the buffer where it lies in one segment: a header
 * built in a local array and then copied would be read back (by memcpy)
 * in wider loads than the stores that built it, which cannot be forwarded
 * from the store buffer and so wait for every older store to commit,
 * among them the previous frame's stores into the front end's cache lines:
 * each frame would wait out the last one's cache misses. */
static void put_hdr(const struct zc_vhost *v, const struct zc_ring *r,
                    const struct zc_ring_chain *c, unsigned nbufs)
{
    const struct zc_ring_seg *s = &c->seg[0];
    uint8_t *p = s->writable && s->len >= v->hdr_len ? zc_ring_ptr(r, s) : NULL;
    if (!p) {
        uint8_t hdr[HDR_MAX] = {0};
        hdr[10] = (uint8_t)nbufs; /* le16, nbufs <= VQ_STASH */
        chain_write(r, c, 0, hdr, v->hdr_len);
        return;
    }
    memset(p, 0, v->hdr_len);
    if (v->hdr_len == HDR_MAX)
        p[10] = (uint8_t)nbufs;
}

/* Puts one frame into the stashed receive chains: one chain, or with
 * MRG_RXBUF as many as it needs.  0, -ENOBUFS when the front end has not
 * posted room for it (nothing is used then), -errno. */
static int rx_put(struct zc_vhost *v, struct vq *q, const uint8_t *frame, uint32_t len)
{
    bool mrg = v->features & BIT(VIRTIO_NET_F_MRG_RXBUF);
    uint32_t need = v->hdr_len + len, room = 0;
    unsigned k = 0;
    int have = stash_fill(v, q, 1);
    /* A receive chain too small for the header is refused, not filled. */
    while (have > 0 && stash_at(q, 0)->writable_len < v->hdr_len) {
        (void)zc_ring_push(q->ring, stash_at(q, 0)->head, 0);
        v->stats.bad_packets++;
        q->stash_first = (q->stash_first + 1) % VQ_STASH;
        q->stash_n--;
        have = stash_fill(v, q, 1);
    }
    if (have < 0)
        return have;
    while (room < need && k < (unsigned)have && (mrg || k == 0))
        room += stash_at(q, k++)->writable_len;
    if (room < need && mrg && k == (unsigned)have && have < VQ_STASH) {
        if ((have = stash_fill(v, q, VQ_STASH)) < 0)
            return have;
        while (room < need && k < (unsigned)have)
            room += stash_at(q, k++)->writable_len;
    }
    if (room < need)
        return -ENOBUFS;
    uint32_t done = 0;
    for (unsigned i = 0; i < k; i++) {
        const struct zc_ring_chain *c = stash_at(q, 0);
        uint32_t put = ZC_MIN(c->writable_len, need - done), off = 0;
        if (i == 0) {
            put_hdr(v, q->ring, c, k);
            off = v->hdr_len;
        }
        chain_write(q->ring, c, off, frame + (done ? done - v->hdr_len : 0), put - off);
        done += put;
        int err = zc_ring_push(q->ring, c->head, put);
        if (err)
            return err;
        q->stash_first = (q->stash_first + 1) % VQ_STASH;
        q->stash_n--;
    }
    v->stats.tx_packets++;
    v->stats.tx_bytes += len;
    return 0;
}

/* ---- the three modes, one burst of one queue pair ---- */

/* Takes a burst of transmit chains, hands each good frame to fn (NULL: just
 * count it) and returns every chain.  The frames taken, or -errno. */
static int tx_burst(struct zc_vhost *v, struct vq *txq, struct vq *rxq)
{
    struct zc_ring_chain c[VQ_BURST];
    struct zc_ring_done done[VQ_BURST];
    int n = zc_ring_pop_batch(txq->ring, c, VQ_BURST);
    if (n < 0)
        return n;
    account_refused(v, txq);
    if (n == 0)
        return 0;
    for (int i = 0; i < n; i++) {
        done[i] = (struct zc_ring_done){.head = c[i].head, .len = 0};
        int64_t len = tx_frame_len(v, txq->ring, &c[i]);
        if (len < 0) {
            v->stats.bad_packets++;
            continue;
        }
        v->stats.rx_packets++;
        v->stats.rx_bytes += (uint64_t)len;
        if (!rxq)
            continue;
        /* A private copy: the front end may rewrite its buffer meanwhile. */
        chain_read(txq->ring, &c[i], v->hdr_len, v->frame, (uint32_t)len);
        int err = rx_put(v, rxq, v->frame, (uint32_t)len);
        if (err == -ENOBUFS)
            v->stats.tx_dropped++;
        else if (err)
            return err;
    }
    int err = zc_ring_push_batch(txq->ring, done, (unsigned)n);
    if (err < 0)
        return err;
    if (rxq && (err = zc_ring_complete(rxq->ring)) < 0)
        return err;
    return n;
}

/* Builds the frame `source` sends, once (see put_hdr for why not each
 * burst): broadcast, IPv4/UDP 198.18.0.1:9 -> 198.18.0.2:9
 * (the benchmarking range), zero payload, a valid header checksum. */
void net_init(struct zc_vhost *v)
{
    uint8_t *f = v->source;

    static const uint8_t head[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00,
                                   0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 50,
                                   0x00, 0x00, 0x00, 0x00, 64,   17,   0x00, 0x00, /* csum */
                                   198,  18,   0,    1,    198,  18,   0,    2,    0x00,
                                   9,    0x00, 9,    0x00, 30,   0x00, 0x00};
    memset(f, 0, ZC_VHOST_SOURCE_FRAME);
    memcpy(f, head, sizeof(head));
    uint32_t sum = 0;
    for (unsigned i = 14; i < 34; i += 2)
        sum += (uint32_t)(f[i] << 8 | f[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    f[24] = (uint8_t)(~sum >> 8);
    f[25] = (uint8_t)~sum;
}

static int source_burst(struct zc_vhost *v, struct vq *rxq)
{
    int n = 0;
    while (n < VQ_BURST) {
        int err = rx_put(v, rxq, v->source, sizeof(v->source));
        if (err == -ENOBUFS)
            break;
        if (err)
            return err;
        n++;
    }
    int err = zc_ring_complete(rxq->ring);
    return err < 0 ? err : n;
}

int net_process(struct zc_vhost *v)
{
    int total = 0;
    for (unsigned p = 0; p < v->p.queues; p++) {
        struct vq *rxq = &v->vq[2 * p], *txq = &v->vq[2 * p + 1];
        int n = 0;
        if (v->p.mode == ZC_VHOST_SOURCE && rxq->ring)
            n = source_burst(v, rxq);
        else if (v->p.mode == ZC_VHOST_ECHO && txq->ring && rxq->ring)
            n = tx_burst(v, txq, rxq);
        else if (v->p.mode == ZC_VHOST_SINK && txq->ring)
            n = tx_burst(v, txq, NULL);
        if (n < 0)
            return n;
        total += n;
    }
    return total;
}
