/* driver.c - the driver's half of the virtqueue: post chains, reap them.
 *
 * The driver writes descriptors and avail slots privately, then publishes
 * a whole batch with one release store of avail->idx and at most one kick;
 * the device's acquire load of that index is what makes the batch's
 * descriptors visible to it.  The free list lives in private memory (the
 * device could scribble over desc[].next), and so does everything the
 * driver needs to check a used entry: which heads are in flight and how
 * many bytes each let the device write.
 */
#include "ring_impl.h"

uint32_t zc_ring_free_descs(const struct zc_ring *r)
{
    return r->num_free;
}

/* Writes one descriptor of a chain the driver owns. */
static inline void put_desc(struct zc_ring *r, uint16_t i, const struct zc_ring_seg *s, bool last)
{
    struct vr_desc *d = &r->desc[i];
    d->addr = s->off;
    d->len = s->len;
    d->flags = (uint16_t)((s->writable ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT));
    d->next = last ? 0 : r->next[i];
}

static int check_segs(const struct zc_ring *r, const struct zc_ring_seg *segs, unsigned nseg,
                      uint32_t *writable_len)
{
    if (nseg == 0 || nseg > ZC_RING_MAX_SEGS)
        return -EINVAL;
    uint64_t rlen = 0, wlen = 0;
    bool seen_writable = false;
    for (unsigned k = 0; k < nseg; k++) {
        const struct zc_ring_seg *s = &segs[k];
        if (zc_shm_check_range(&r->bufmem, s->off, s->len))
            return -EINVAL;
        if (s->writable) {
            seen_writable = true;
            wlen += s->len;
        } else {
            if (seen_writable)
                return -EINVAL; /* VIRTIO: readable descriptors come first */
            rlen += s->len;
        }
    }
    if (rlen > UINT32_MAX || wlen > UINT32_MAX)
        return -EINVAL;
    *writable_len = (uint32_t)wlen;
    return 0;
}

int zc_ring_add(struct zc_ring *r, const struct zc_ring_seg *segs, unsigned nseg, void *token)
{
    if (r->broken)
        return -EPROTO;
    if (r->role != ZC_RING_DRIVER)
        return -EINVAL;
    uint32_t wlen;
    int err = check_segs(r, segs, nseg, &wlen);
    if (err)
        return err;
    if (nseg > r->num_free)
        return -ENOSPC;
    if (r->packed)
        return packed_add(r, segs, nseg, token, wlen);

    uint16_t head = r->free_head, i = head;
    for (unsigned k = 0; k + 1 < nseg; k++) {
        put_desc(r, i, &segs[k], false);
        i = r->next[i];
    }
    put_desc(r, i, &segs[nseg - 1], true);
    r->free_head = r->next[i];
    r->num_free -= nseg;
    r->in_flight++;
    r->slot[head] =
        (struct drv_slot){.token = token, .writable_len = wlen, .ndesc = (uint16_t)nseg, .tail = i};
    r->avail->ring[r->avail_shadow & r->mask] = head;
    r->avail_shadow++;
    return 0;
}

int zc_ring_submit(struct zc_ring *r)
{
    if (r->broken)
        return -EPROTO;
    if (r->role != ZC_RING_DRIVER)
        return -EINVAL;
    if (r->packed)
        return packed_submit(r);
    uint16_t old = r->avail_published, new_idx = r->avail_shadow;
    if (old == new_idx)
        return 0;
    /* Release: the descriptors and avail slots written above become
     * visible no later than the index.  Pairs with the acquire load of
     * avail->idx in refresh_avail() (device.c) and ring_has_work(). */
    atomic_store_explicit(&r->avail->idx, new_idx, memory_order_release);
    r->avail_published = new_idx;
    int err = ring_notify_peer(r, old, new_idx);
    if (err)
        return err;
    return (uint16_t)(new_idx - old);
}

int zc_ring_post(struct zc_ring *r, const struct zc_ring_seg *segs, unsigned nseg, void *token)
{
    int err = zc_ring_add(r, segs, nseg, token);
    if (err)
        return err;
    err = zc_ring_submit(r);
    return err < 0 ? err : 0;
}

int zc_ring_post_batch(struct zc_ring *r, const struct zc_ring_seg *segs, unsigned n,
                       void *const *tokens)
{
    unsigned k = 0;
    for (; k < n; k++) {
        int err = zc_ring_add(r, &segs[k], 1, tokens ? tokens[k] : NULL);
        if (err == -ENOSPC)
            break;
        if (err) {
            if (k)
                break; /* publish what was staged; the next call reports it */
            return err;
        }
    }
    int err = zc_ring_submit(r);
    return err < 0 ? err : (int)k;
}

int zc_ring_reap(struct zc_ring *r, struct zc_ring_used *out, unsigned max)
{
    if (r->broken)
        return -EPROTO;
    if (r->role != ZC_RING_DRIVER)
        return -EINVAL;
    if (r->packed)
        return packed_reap(r, out, max);
    unsigned n = 0;
    while (n < max) {
        if (r->last_used == r->used_seen) {
            /* Acquire: the used entries up to this index are visible once
             * we see it.  Pairs with the release store of used->idx in
             * zc_ring_complete() (device.c). */
            uint16_t idx = atomic_load_explicit(&r->used->idx, memory_order_acquire);
            if ((uint16_t)(idx - r->last_used) > r->in_flight)
                return ring_fail(r); /* more used entries than chains in flight */
            r->used_seen = idx;
            if (idx == r->last_used)
                break;
        }
        const struct vr_used_elem *e = &r->used->ring[r->last_used & r->mask];
        uint32_t id = READ_ONCE(e->id), len = READ_ONCE(e->len);
        if (id >= r->num)
            return ring_fail(r);
        struct drv_slot *s = &r->slot[id];
        if (s->ndesc == 0 || len > s->writable_len)
            return ring_fail(r); /* not in flight, or more than we let it write */
        out[n++] = (struct zc_ring_used){.token = s->token, .len = len, .head = (uint16_t)id};
        r->next[s->tail] = r->free_head;
        r->free_head = (uint16_t)id;
        r->num_free += s->ndesc;
        r->in_flight--;
        s->ndesc = 0;
        r->last_used++;
    }
    return (int)n;
}
