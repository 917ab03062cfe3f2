/* device.c - the device's half of the virtqueue: pop chains, push them back.
 *
 * Everything the device takes from ring memory comes from a party it does
 * not trust, so each avail slot and each descriptor is read once into a
 * private zc_ring_chain and checked there: head and next below num, at
 * most ZC_RING_MAX_SEGS links (a loop runs into that bound), readable
 * segments before writable ones, every segment inside one region, no head
 * popped twice, and an indirect table only where a vring negotiated it (at
 * the chain's head, whole inside a region, holding no further tables).  Completions are staged
 * privately and published with one release store of used->idx and at most one call.
 */
#include "ring_impl.h"

/* Reads avail->idx; 0, or -EPROTO when the driver claims more than num
 * chains beyond what we popped. */
static int refresh_avail(struct zc_ring *r)
{
    /* Acquire: the descriptors and avail slots the driver wrote before
     * publishing this index are visible to us.  Pairs with the release
     * store of avail->idx in zc_ring_submit() (driver.c). */
    uint16_t idx = atomic_load_explicit(&r->avail->idx, memory_order_acquire);
    if ((uint16_t)(idx - r->last_avail) > r->num)
        return ring_fail(r);
    r->avail_seen = idx;
    return 0;
}

/* One descriptor, read once out of memory the driver can write. */
static struct vr_desc read_desc(const struct vr_desc *d)
{
    return (struct vr_desc){.addr = READ_ONCE(d->addr),
                            .len = READ_ONCE(d->len),
                            .flags = READ_ONCE(d->flags),
                            .next = READ_ONCE(d->next)};
}

int ring_add_seg(const struct zc_ring *r, struct zc_ring_chain *c, uint64_t sum[2],
                 const struct vr_desc *d)
{
    if (c->nseg == ZC_RING_MAX_SEGS)
        return -EBADMSG; /* too long, or a loop */
    if (!ring_translate(r, d->addr, d->len))
        return -EBADMSG;
    bool writable = d->flags & DESC_F_WRITE;
    if (!writable && c->nseg && c->seg[c->nseg - 1].writable)
        return -EBADMSG; /* readable after writable (an empty one too) */
    sum[writable] += d->len;
    c->seg[c->nseg++] = (struct zc_ring_seg){.off = d->addr, .len = d->len, .writable = writable};
    return 0;
}

const struct vr_desc *ring_indirect_table(const struct zc_ring *r, const struct vr_desc *d,
                                          uint32_t *n)
{
    if (!r->indirect || (d->flags & DESC_F_NEXT) || d->len == 0 ||
        d->len % sizeof(struct vr_desc) || d->len / sizeof(struct vr_desc) > ZC_RING_MAX_NUM ||
        (d->addr & (sizeof(struct vr_desc) - 1)))
        return NULL;
    *n = d->len / sizeof(struct vr_desc);
    return ring_translate(r, d->addr, d->len);
}

/* Copies the chain at head out of ring memory and validates it: 0, or
 * -EBADMSG for a chain that breaks a rule (its head itself was valid). */
static int read_chain(struct zc_ring *r, uint16_t head, struct zc_ring_chain *c)
{
    uint64_t sum[2] = {0, 0}; /* readable, writable bytes */
    const struct vr_desc *table = r->desc;
    uint32_t tnum = r->num, i = head;
    c->nseg = 0;
    for (;;) {
        struct vr_desc d = read_desc(&table[i]);
        if (d.flags & DESC_F_INDIRECT) {
            /* Only a chain's first descriptor may point at a table, and a
             * table holds no further tables (VIRTIO 1.2, 2.7.5.3.1). */
            if (c->nseg || table != r->desc || !(table = ring_indirect_table(r, &d, &tnum)))
                return -EBADMSG;
            i = 0;
            continue;
        }
        int err = ring_add_seg(r, c, sum, &d);
        if (err)
            return err;
        if (!(d.flags & DESC_F_NEXT))
            break;
        if (d.next >= tnum)
            return -EBADMSG;
        i = d.next;
    }
    if (sum[0] > UINT32_MAX || sum[1] > UINT32_MAX)
        return -EBADMSG;
    c->head = head;
    c->readable_len = (uint32_t)sum[0];
    c->writable_len = (uint32_t)sum[1];
    return 0;
}

/* Stages the used entry of a head the caller checked is pending. */
static void put_used(struct zc_ring *r, uint16_t head, uint32_t len)
{
    if (r->packed) {
        packed_put_used(r, head, len);
        return;
    }
    struct vr_used_elem *e = &r->used->ring[r->used_shadow & r->mask];
    e->id = head;
    e->len = len;
    r->used_shadow++;
    r->pending[head] = 0;
}

int zc_ring_pop_batch(struct zc_ring *r, struct zc_ring_chain *chains, unsigned max)
{
    if (r->broken)
        return -EPROTO;
    if (r->role != ZC_RING_DEVICE)
        return -EINVAL;
    if (r->packed)
        return packed_pop_batch(r, chains, max);
    unsigned n = 0, refused = 0;
    while (n < max) {
        if (r->last_avail == r->avail_seen) {
            int err = refresh_avail(r);
            if (err)
                return err;
            if (r->last_avail == r->avail_seen)
                break;
        }
        uint16_t head = READ_ONCE(r->avail->ring[r->last_avail & r->mask]);
        if (head >= r->num || r->pending[head])
            return ring_fail(r); /* out of range, or already ours */
        int err = read_chain(r, head, &chains[n]);
        r->last_avail++;
        if (err && !r->vring)
            return ring_fail(r);
        if (err) {
            /* A vring refuses the one bad request and goes on. */
            put_used(r, head, 0);
            r->stats.refused++;
            refused++;
            continue;
        }
        r->pending[head] = (uint64_t)chains[n].writable_len + 1;
        n++;
    }
    if (refused) {
        int err = zc_ring_complete(r);
        if (err < 0)
            return err;
    }
    return (int)n;
}

int zc_ring_pop(struct zc_ring *r, struct zc_ring_chain *chain)
{
    return zc_ring_pop_batch(r, chain, 1);
}

int zc_ring_push(struct zc_ring *r, uint16_t head, uint32_t len)
{
    if (r->broken)
        return -EPROTO;
    if (r->role != ZC_RING_DEVICE || head >= r->num || r->pending[head] == 0 ||
        len > (r->pending[head] & PENDING_LEN) - 1u)
        return -EINVAL;
    put_used(r, head, len);
    return 0;
}

int zc_ring_complete(struct zc_ring *r)
{
    if (r->broken)
        return -EPROTO;
    if (r->role != ZC_RING_DEVICE)
        return -EINVAL;
    if (r->packed)
        return packed_complete(r);
    uint16_t old = r->used_published, new_idx = r->used_shadow;
    if (old == new_idx)
        return 0;
    /* Release: the used entries (and any data the device wrote into the
     * buffers) are visible no later than the index.  Pairs with the acquire
     * load of used->idx in zc_ring_reap() (driver.c) and ring_has_work(). */
    atomic_store_explicit(&r->used->idx, new_idx, memory_order_release);
    r->used_published = new_idx;
    int err = ring_notify_peer(r, old, new_idx);
    if (err)
        return err;
    return (uint16_t)(new_idx - old);
}

int zc_ring_push_batch(struct zc_ring *r, const struct zc_ring_done *done, unsigned n)
{
    if (r->broken)
        return -EPROTO;
    if (r->role != ZC_RING_DEVICE)
        return -EINVAL;
    /* Check every entry first, marking each head, so that a bad or repeated
     * entry publishes nothing. */
    for (unsigned k = 0; k < n; k++) {
        uint16_t h = done[k].head;
        if (h >= r->num || r->pending[h] == 0 || (r->pending[h] & PENDING_MARK) ||
            done[k].len > (r->pending[h] & PENDING_LEN) - 1u) {
            for (unsigned j = 0; j < k; j++)
                r->pending[done[j].head] &= ~PENDING_MARK;
            return -EINVAL;
        }
        r->pending[h] |= PENDING_MARK;
    }
    for (unsigned k = 0; k < n; k++)
        put_used(r, done[k].head, done[k].len); /* clears the mark too */
    return zc_ring_complete(r);
}
