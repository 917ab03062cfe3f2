/* device.c - the device's half of the virtqueue: pop chains, push them back.
 *
 * Everything the device takes from ring memory comes from a party it does
 * not trust, so each avail slot and each descriptor is read once into a
 * private zc_ring_chain and checked there: head and next below num, no
 * indirect tables, at most ZC_RING_MAX_SEGS links (a loop runs into that
 * bound), readable segments before writable ones, every segment inside the
 * buffer region, no head popped twice.  Completions are staged privately
 * and published with one release store of used->idx and at most one call.
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

/* Copies the chain at head out of ring memory and validates it. */
static int read_chain(struct zc_ring *r, uint16_t head, struct zc_ring_chain *c)
{
    uint64_t rlen = 0, wlen = 0;
    bool seen_writable = false;
    uint32_t i = head;
    unsigned n = 0;
    for (;;) {
        if (n == ZC_RING_MAX_SEGS || n == r->num)
            return ring_fail(r); /* too long, or a loop */
        const struct vr_desc *d = &r->desc[i];
        uint64_t addr = READ_ONCE(d->addr);
        uint32_t len = READ_ONCE(d->len);
        uint16_t flags = READ_ONCE(d->flags), next = READ_ONCE(d->next);
        if (flags & DESC_F_INDIRECT)
            return ring_fail(r); /* VIRTIO_F_INDIRECT_DESC is not offered */
        if (zc_shm_check_range(&r->bufmem, addr, len))
            return ring_fail(r);
        bool writable = flags & DESC_F_WRITE;
        if (writable) {
            seen_writable = true;
            wlen += len;
        } else {
            if (seen_writable)
                return ring_fail(r);
            rlen += len;
        }
        c->seg[n++] = (struct zc_ring_seg){.off = addr, .len = len, .writable = writable};
        if (!(flags & DESC_F_NEXT))
            break;
        if (next >= r->num)
            return ring_fail(r);
        i = next;
    }
    if (rlen > UINT32_MAX || wlen > UINT32_MAX)
        return ring_fail(r);
    c->head = head;
    c->nseg = (uint16_t)n;
    c->readable_len = (uint32_t)rlen;
    c->writable_len = (uint32_t)wlen;
    return 0;
}

int zc_ring_pop_batch(struct zc_ring *r, struct zc_ring_chain *chains, unsigned max)
{
    if (r->broken)
        return -EPROTO;
    if (r->role != ZC_RING_DEVICE)
        return -EINVAL;
    unsigned n = 0;
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
        if (err)
            return err;
        r->pending[head] = (uint64_t)chains[n].writable_len + 1;
        r->last_avail++;
        n++;
    }
    return (int)n;
}

int zc_ring_pop(struct zc_ring *r, struct zc_ring_chain *chain)
{
    return zc_ring_pop_batch(r, chain, 1);
}

/* Stages the used entry of a head the caller checked is pending. */
static void put_used(struct zc_ring *r, uint16_t head, uint32_t len)
{
    struct vr_used_elem *e = &r->used->ring[r->used_shadow & r->mask];
    e->id = head;
    e->len = len;
    r->used_shadow++;
    r->pending[head] = 0;
}

int zc_ring_push(struct zc_ring *r, uint16_t head, uint32_t len)
{
    if (r->broken)
        return -EPROTO;
    if (r->role != ZC_RING_DEVICE || head >= r->num || r->pending[head] == 0 ||
        len > r->pending[head] - 1u)
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
            done[k].len > r->pending[h] - 1u) {
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
