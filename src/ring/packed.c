/* packed.c - the VIRTIO 1.2 packed virtqueue (VIRTIO_F_RING_PACKED, 2.8).
 *
 * One ring of 16-byte descriptors serves both directions: the driver
 * writes a chain at its next positions and marks it available, the device
 * overwrites the first position of each chain it is done with by a used
 * descriptor {id, len} and skips the chain's length.  Which lap a flag
 * belongs to is told by wrap counters that flip each time a side passes
 * the end of the ring:
 *
 *   flags:   AVAIL (bit 7)   USED (bit 15)
 *   available in the lap with wrap w:   AVAIL = w, USED = !w
 *   used in the lap with wrap w:        AVAIL = USED = w
 *
 * Positions are kept as free-running 16-bit counters, as the split ring's
 * indices are: with num a power of two, the position is pos & mask and the
 * wrap counter is 1 in even laps (pos & num clear), so the event
 * arithmetic of the split ring carries over unchanged.
 *
 * A batch is published with one release store: every descriptor of it is
 * written first, the first chain's head flags last (zc_ring_submit; the
 * device's used flags likewise in zc_ring_complete).  The peer reads
 * positions in order, so it cannot reach the later chains before it has
 * seen that store.  Completions are written one used descriptor per chain
 * (VIRTIO_F_IN_ORDER is not negotiated): zc's API reports each chain's
 * length, which an in-order batch written as its last descriptor only
 * would not carry.
 *
 * The device reads each descriptor once into private memory and checks it
 * there: every descriptor of a chain available in the lap of its position
 * (so a stale or forged wrap bit is refused), the chain no longer than the
 * descriptors the driver can have outstanding, the buffer id (the last
 * descriptor's, as the spec places it) below num and not already popped,
 * plus the split ring's segment rules.  The driver takes a used
 * descriptor only for a chain it published and checks its id and length
 * against private records, then skips that chain's own length.
 */
#include "ring_impl.h"

/* The wrap counter of the lap position pos is in (1 in the first). */
static inline bool lap_wrap(const struct zc_ring *r, uint16_t pos)
{
    return !(pos & r->num);
}

static inline uint16_t avail_bits(const struct zc_ring *r, uint16_t pos)
{
    return lap_wrap(r, pos) ? PACKED_F_AVAIL : PACKED_F_USED;
}

static inline uint16_t used_bits(const struct zc_ring *r, uint16_t pos)
{
    return lap_wrap(r, pos) ? PACKED_F_AVAIL | PACKED_F_USED : 0;
}

uint16_t packed_off_wrap(const struct zc_ring *r, uint16_t pos)
{
    return (uint16_t)((pos & r->mask) | (lap_wrap(r, pos) ? 0x8000u : 0));
}

uint16_t packed_pos(const struct zc_ring *r, uint16_t off_wrap)
{
    return (uint16_t)((off_wrap & r->mask) + ((off_wrap & 0x8000u) ? 0 : r->num));
}

/* ---- driver ---- */

/* Writes one descriptor of a chain; the head's flags are returned, not
 * written, for the caller to publish. */
static inline uint16_t put_desc(struct zc_ring *r, uint16_t pos, const struct zc_ring_seg *s,
                                uint16_t id, bool last, bool head)
{
    struct vr_packed_desc *d = &r->pdesc[pos & r->mask];
    d->addr = s->off;
    d->len = s->len;
    d->id = id;
    uint16_t flags = (uint16_t)((s->writable ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT) |
                                avail_bits(r, pos));
    /* Relaxed: the peer reads no descriptor past the batch's first head
     * before it sees that head's release store (zc_ring_submit). */
    if (!head)
        atomic_store_explicit(&d->flags, flags, memory_order_relaxed);
    return flags;
}

int packed_add(struct zc_ring *r, const struct zc_ring_seg *segs, unsigned nseg, void *token,
               uint32_t writable_len)
{
    uint16_t id = r->free_head, pos = r->avail_shadow;
    uint16_t head = put_desc(r, pos, &segs[0], id, nseg == 1, true);
    for (unsigned k = 1; k < nseg; k++)
        put_desc(r, (uint16_t)(pos + k), &segs[k], id, k + 1 == nseg, false);
    if (r->staged++ == 0)
        r->head_flags = head; /* the batch's first: stored by zc_ring_submit */
    else
        atomic_store_explicit(&r->pdesc[pos & r->mask].flags, head, memory_order_relaxed);
    r->free_head = r->next[id];
    r->num_free -= nseg;
    r->in_flight++;
    r->slot[id] =
        (struct drv_slot){.token = token, .writable_len = writable_len, .ndesc = (uint16_t)nseg};
    r->avail_shadow = (uint16_t)(pos + nseg);
    return 0;
}

/* Publishes the staged batch from *published to shadow: the first
 * chain's flags last, one release store, then at most one notification.
 * The number of chains, or -errno. */
static int publish(struct zc_ring *r, uint16_t *published, uint16_t shadow)
{
    uint16_t old = *published;
    int n = r->staged;
    if (!n)
        return 0;
    /* Release: every descriptor of the batch (and, for used ones, the data
     * the device wrote into the buffers) is visible no later than the
     * first one's flags.  Pairs with the acquire loads of the flags in
     * packed_pop_batch(), packed_reap() and packed_has_work(). */
    atomic_store_explicit(&r->pdesc[old & r->mask].flags, r->head_flags, memory_order_release);
    *published = shadow;
    r->staged = 0;
    int err = ring_notify_peer(r, old, shadow);
    return err ? err : n;
}

int packed_submit(struct zc_ring *r)
{
    return publish(r, &r->avail_published, r->avail_shadow);
}

int packed_reap(struct zc_ring *r, struct zc_ring_used *out, unsigned max)
{
    unsigned n = 0;
    /* Only published chains can come back: a used descriptor written over
     * a staged one is never looked at. */
    while (n < max && r->in_flight > r->staged) {
        struct vr_packed_desc *d = &r->pdesc[r->last_used & r->mask];
        /* Acquire: the id and len below are the device's.  Pairs with the
         * release store of the used flags in packed_complete(). */
        uint16_t flags = atomic_load_explicit(&d->flags, memory_order_acquire);
        if ((flags & (PACKED_F_AVAIL | PACKED_F_USED)) != used_bits(r, r->last_used))
            break;
        uint16_t id = READ_ONCE(d->id);
        uint32_t len = READ_ONCE(d->len);
        if (id >= r->num)
            return ring_fail(r);
        struct drv_slot *s = &r->slot[id];
        if (s->ndesc == 0 || len > s->writable_len)
            return ring_fail(r); /* not in flight, or more than we let it write */
        out[n++] = (struct zc_ring_used){.token = s->token, .len = len, .head = id};
        r->last_used = (uint16_t)(r->last_used + s->ndesc);
        r->num_free += s->ndesc;
        r->in_flight--;
        s->ndesc = 0;
        r->next[id] = r->free_head;
        r->free_head = id;
    }
    return (int)n;
}

/* ---- device ---- */

static struct vr_desc read_pdesc(const struct vr_packed_desc *d, uint16_t *id)
{
    *id = READ_ONCE(d->id);
    return (struct vr_desc){.addr = READ_ONCE(d->addr),
                            .len = READ_ONCE(d->len),
                            .flags = atomic_load_explicit(&d->flags, memory_order_relaxed)};
}

/* The segments of an indirect table (packed entries: no links, no
 * further tables); -EBADMSG when one breaks a rule. */
static int read_indirect(const struct zc_ring *r, struct zc_ring_chain *c, uint64_t sum[2],
                         const struct vr_desc *d)
{
    uint32_t n;
    const struct vr_packed_desc *t = (const void *)ring_indirect_table(r, d, &n);
    if (!t)
        return -EBADMSG;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t id;
        struct vr_desc e = read_pdesc(&t[i], &id);
        if (e.flags & DESC_F_INDIRECT)
            return -EBADMSG;
        int err = ring_add_seg(r, c, sum, &e);
        if (err)
            return err;
    }
    return 0;
}

/* The common chain, one descriptor and no table: read_chain's rules
 * without its loop (a profile of 64 B batches spent a third of the pop
 * there). */
static int read_single(struct zc_ring *r, uint16_t flags, struct zc_ring_chain *c)
{
    const struct vr_packed_desc *p = &r->pdesc[r->last_avail & r->mask];
    uint64_t addr = READ_ONCE(p->addr);
    uint32_t len = READ_ONCE(p->len);
    uint16_t id = READ_ONCE(p->id);
    if (id >= r->num || r->pending[id] || r->dev_descs == r->num)
        return ring_fail(r); /* out of range, already ours, or beyond the ring */
    bool writable = flags & DESC_F_WRITE;
    c->head = id;
    c->nseg = 1;
    c->seg[0] = (struct zc_ring_seg){.off = addr, .len = len, .writable = writable};
    c->readable_len = writable ? 0 : len;
    c->writable_len = writable ? len : 0;
    return ring_translate(r, addr, len) ? 0 : -EBADMSG;
}

/* Reads the chain whose head (flags already read) is at last_avail into c.
 * 0, -EBADMSG for a chain that breaks a segment rule but whose extent is
 * sound (a vring refuses it), -EPROTO when the ring itself is broken.
 * *ndesc and c->head are set whenever the return is not -EPROTO. */
static int read_chain(struct zc_ring *r, uint16_t flags, struct zc_ring_chain *c, uint16_t *ndesc)
{
    if (!(flags & (DESC_F_NEXT | DESC_F_INDIRECT))) {
        *ndesc = 1;
        return read_single(r, flags, c);
    }
    uint64_t sum[2] = {0, 0};
    uint32_t room = r->num - r->dev_descs; /* what the driver can have made available */
    uint16_t pos = r->last_avail, id = 0;
    int bad = 0;
    c->nseg = 0;
    for (uint32_t k = 0;; k++) {
        if (k == room)
            return ring_fail(r); /* longer than the ring holds */
        const struct vr_packed_desc *p = &r->pdesc[(uint16_t)(pos + k) & r->mask];
        struct vr_desc d = read_pdesc(p, &id);
        if (k == 0)
            d.flags = flags; /* the acquire load's value, not a second read */
        else if ((d.flags & (PACKED_F_AVAIL | PACKED_F_USED)) != avail_bits(r, (uint16_t)(pos + k)))
            return ring_fail(r); /* a link into a slot not made available */
        if (d.flags & DESC_F_INDIRECT)
            bad = bad                              ? bad
                  : (k || (d.flags & DESC_F_NEXT)) ? -EBADMSG
                                                   : read_indirect(r, c, sum, &d);
        else if (!bad)
            bad = ring_add_seg(r, c, sum, &d);
        if (!(d.flags & DESC_F_NEXT)) {
            *ndesc = (uint16_t)(k + 1);
            break;
        }
    }
    if (id >= r->num || r->pending[id])
        return ring_fail(r); /* out of range, or already ours */
    c->head = id;
    if (!bad && (sum[0] > UINT32_MAX || sum[1] > UINT32_MAX))
        bad = -EBADMSG;
    c->readable_len = (uint32_t)sum[0];
    c->writable_len = (uint32_t)sum[1];
    return bad;
}

/* Stages a used descriptor for id at the next used position and skips
 * ndesc positions. */
static void put_used(struct zc_ring *r, uint16_t id, uint32_t len, uint16_t ndesc)
{
    uint16_t pos = r->used_shadow;
    struct vr_packed_desc *d = &r->pdesc[pos & r->mask];
    d->id = id;
    d->len = len;
    if (r->staged++ == 0)
        r->head_flags = used_bits(r, pos); /* stored by packed_complete() */
    else
        atomic_store_explicit(&d->flags, used_bits(r, pos), memory_order_relaxed);
    r->used_shadow = (uint16_t)(pos + ndesc);
}

void packed_put_used(struct zc_ring *r, uint16_t head, uint32_t len)
{
    uint16_t ndesc = (uint16_t)((r->pending[head] & ~PENDING_MARK) >> PENDING_NDESC_SHIFT);
    put_used(r, head, len, ndesc);
    r->dev_descs -= ndesc;
    r->pending[head] = 0;
}

int packed_pop_batch(struct zc_ring *r, struct zc_ring_chain *chains, unsigned max)
{
    unsigned n = 0, refused = 0;
    while (n < max) {
        const struct vr_packed_desc *d = &r->pdesc[r->last_avail & r->mask];
        /* Acquire: the chain's descriptors are visible once its head's
         * flags are.  Pairs with the release store in packed_submit(). */
        uint16_t flags = atomic_load_explicit(&d->flags, memory_order_acquire);
        if ((flags & (PACKED_F_AVAIL | PACKED_F_USED)) != avail_bits(r, r->last_avail))
            break;
        uint16_t ndesc;
        int err = read_chain(r, flags, &chains[n], &ndesc);
        if (err == -EPROTO || (err && !r->vring))
            return ring_fail(r);
        r->last_avail = (uint16_t)(r->last_avail + ndesc);
        if (err) {
            /* A vring refuses the one bad request and goes on. */
            put_used(r, chains[n].head, 0, ndesc);
            r->stats.refused++;
            refused++;
            continue;
        }
        r->pending[chains[n].head] =
            ((uint64_t)chains[n].writable_len + 1) | (uint64_t)ndesc << PENDING_NDESC_SHIFT;
        r->dev_descs += ndesc;
        n++;
    }
    if (refused) {
        int err = packed_complete(r);
        if (err < 0)
            return err;
    }
    return (int)n;
}

int packed_complete(struct zc_ring *r)
{
    return publish(r, &r->used_published, r->used_shadow);
}

/* ---- notifications ---- */

bool packed_has_work(struct zc_ring *r)
{
    /* Acquire, pairing with the release stores in packed_submit() and
     * packed_complete(), so that a caller who goes on to pop or reap sees
     * the descriptors. */
    if (r->role == ZC_RING_DRIVER) {
        if (r->in_flight == r->staged)
            return false;
        uint16_t f =
            atomic_load_explicit(&r->pdesc[r->last_used & r->mask].flags, memory_order_acquire);
        return (f & (PACKED_F_AVAIL | PACKED_F_USED)) == used_bits(r, r->last_used);
    }
    uint16_t f =
        atomic_load_explicit(&r->pdesc[r->last_avail & r->mask].flags, memory_order_acquire);
    return (f & (PACKED_F_AVAIL | PACKED_F_USED)) == avail_bits(r, r->last_avail);
}

/* The free-running position the peer's off_wrap names: the one nearest
 * new_idx at or behind it (a request is at most a ring behind), or ahead
 * by less than a ring. */
static uint16_t event_pos(const struct zc_ring *r, uint16_t off_wrap, uint16_t new_idx)
{
    uint32_t period = 2 * r->num;
    uint32_t d = ((uint32_t)packed_pos(r, off_wrap) - new_idx) & (period - 1);
    return (uint16_t)(d < r->num ? new_idx + d : new_idx + d - period);
}

bool packed_need_notify(struct zc_ring *r, uint16_t old, uint16_t new_idx)
{
    const struct vr_packed_event *ev = r->role == ZC_RING_DRIVER ? r->dev_event : r->drv_event;
    uint32_t w = atomic_load_explicit(&ev->word, memory_order_relaxed);
    uint16_t flags = (uint16_t)(w >> 16), off_wrap = (uint16_t)w;
    if (r->event_idx && flags == PACKED_EVENT_DESC)
        return ring_need_event(event_pos(r, off_wrap, new_idx), new_idx, old);
    return flags != PACKED_EVENT_DISABLE;
}

void packed_request(struct zc_ring *r, bool enable)
{
    bool drv = r->role == ZC_RING_DRIVER;
    uint32_t w = enable ? PACKED_EVENT_ENABLE << 16 : PACKED_EVENT_DISABLE << 16;
    if (enable && r->event_idx)
        w = PACKED_EVENT_DESC << 16 | packed_off_wrap(r, drv ? r->last_used : r->last_avail);
    atomic_store_explicit(&(drv ? r->drv_event : r->dev_event)->word, w, memory_order_relaxed);
}
