/* pool.c - the driver's buffers as fixed slots: a free stack in private
 * memory, a token per slot, reclaim on reap.
 *
 * Each slot has a private record (its pool, its index, its state); the
 * token a pool posts is the address of that record.  The ring keeps tokens
 * in private memory and hands back only those of chains it posted, so a
 * token is never the peer's word; reclaim still checks that it is a record
 * of one of this ring's pools and that the slot is posted, so that a
 * mistake (a chain posted around the pool, a slot freed twice) is an error
 * and never a slot on the free stack twice.
 *
 *   free stack: [ s3 s0 s5 ... ]  <- get pops, reclaim/put push
 *   record[i]:  { pool, i, FREE | TAKEN | POSTED }
 */
#include "ring_impl.h"

#include "zc/base.h"

#include <stdlib.h>

enum slot_state { SLOT_FREE, SLOT_TAKEN, SLOT_POSTED };

struct pool_slot {
    struct zc_ring_pool *pool;
    uint32_t index;
    enum slot_state state;
};

struct zc_ring_pool {
    struct zc_ring *ring;
    struct zc_ring_pool *next; /* the next pool over the same ring */
    uint8_t *base;             /* slot 0's bytes in this process */
    uint64_t off, slot_size;
    uint32_t nslots, nfree, in_flight;
    uint32_t *free_stack;
    struct pool_slot *slot;
};

int zc_ring_pool_create(struct zc_ring_pool **poolp, struct zc_ring *r, uint64_t off,
                        uint64_t slot_size, uint32_t nslots)
{
    if (!r || r->role != ZC_RING_DRIVER || r->vring || nslots == 0 || slot_size == 0 ||
        slot_size > UINT32_MAX || nslots > UINT64_MAX / slot_size ||
        zc_shm_check_range(&r->bufmem, off, nslots * slot_size))
        return -EINVAL;
    struct zc_ring_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->free_stack = calloc(nslots, sizeof(*p->free_stack));
    p->slot = calloc(nslots, sizeof(*p->slot));
    if (!p->free_stack || !p->slot) {
        zc_ring_pool_destroy(p);
        return -ENOMEM;
    }
    *p = (struct zc_ring_pool){.ring = r,
                               .next = r->pools,
                               .base = (uint8_t *)zc_ring_buf_base(r) + off,
                               .off = off,
                               .slot_size = slot_size,
                               .nslots = nslots,
                               .nfree = nslots,
                               .free_stack = p->free_stack,
                               .slot = p->slot};
    /* Slot 0 on top: handed out in order, as a fresh ring's buffers are. */
    for (uint32_t i = 0; i < nslots; i++) {
        p->slot[i] = (struct pool_slot){.pool = p, .index = i, .state = SLOT_FREE};
        p->free_stack[i] = nslots - 1 - i;
    }
    r->pools = p;
    *poolp = p;
    return 0;
}

void zc_ring_pool_destroy(struct zc_ring_pool *p)
{
    if (!p)
        return;
    if (p->ring) {
        struct zc_ring_pool **link = &p->ring->pools;
        while (*link && *link != p)
            link = &(*link)->next;
        if (*link)
            *link = p->next;
    }
    free(p->free_stack);
    free(p->slot);
    free(p);
}

int64_t zc_ring_pool_get(struct zc_ring_pool *p)
{
    if (!p->nfree)
        return -ENOBUFS;
    uint32_t i = p->free_stack[--p->nfree];
    p->slot[i].state = SLOT_TAKEN;
    return i;
}

/* Pushes a slot that is leaving state from back on the free stack. */
static int slot_free(struct zc_ring_pool *p, uint32_t i, enum slot_state from)
{
    if (i >= p->nslots || p->slot[i].state != from)
        return -EINVAL;
    p->slot[i].state = SLOT_FREE;
    p->free_stack[p->nfree++] = i;
    return 0;
}

int zc_ring_pool_put(struct zc_ring_pool *p, uint32_t slot)
{
    return slot_free(p, slot, SLOT_TAKEN);
}

void *zc_ring_pool_ptr(const struct zc_ring_pool *p, uint32_t slot)
{
    if (slot >= p->nslots)
        return NULL;
    return p->base + (uint64_t)slot * p->slot_size;
}

uint64_t zc_ring_pool_off(const struct zc_ring_pool *p, uint32_t slot)
{
    return p->off + (uint64_t)slot * p->slot_size;
}

uint64_t zc_ring_pool_slot_size(const struct zc_ring_pool *p)
{
    return p->slot_size;
}

uint32_t zc_ring_pool_slots(const struct zc_ring_pool *p)
{
    return p->nslots;
}

uint32_t zc_ring_pool_free(const struct zc_ring_pool *p)
{
    return p->nfree;
}

uint32_t zc_ring_pool_in_flight(const struct zc_ring_pool *p)
{
    return p->in_flight;
}

int zc_ring_pool_add(struct zc_ring_pool *p, uint32_t slot, const uint32_t *lens, unsigned nseg)
{
    if (slot >= p->nslots || p->slot[slot].state != SLOT_TAKEN || nseg == 0 ||
        nseg > ZC_RING_MAX_SEGS)
        return -EINVAL;
    struct zc_ring_seg segs[ZC_RING_MAX_SEGS];
    uint64_t at = 0;
    for (unsigned k = 0; k < nseg; k++) {
        if (lens[k] > p->slot_size - at)
            return -EINVAL;
        segs[k] = (struct zc_ring_seg){.off = zc_ring_pool_off(p, slot) + at, .len = lens[k]};
        at += lens[k];
    }
    int err = zc_ring_add(p->ring, segs, nseg, &p->slot[slot]);
    if (err)
        return err;
    p->slot[slot].state = SLOT_POSTED;
    p->in_flight++;
    return 0;
}

int zc_ring_pool_post(struct zc_ring_pool *p, uint32_t slot, uint32_t len)
{
    int err = zc_ring_pool_add(p, slot, &len, 1);
    if (err)
        return err;
    err = zc_ring_submit(p->ring);
    return err < 0 ? err : 0;
}

/* The pool over r whose record token is, or NULL when it is none. */
static struct zc_ring_pool *token_pool(const struct zc_ring *r, const void *token)
{
    for (struct zc_ring_pool *p = r->pools; p; p = p->next) {
        uintptr_t t = (uintptr_t)token, lo = (uintptr_t)p->slot;
        if (t >= lo && t < (uintptr_t)(p->slot + p->nslots) && (t - lo) % sizeof(*p->slot) == 0)
            return p;
    }
    return NULL;
}

/* Frees the slot a used entry names, in whichever pool posted it. */
static int reclaim_one(struct zc_ring_pool *p, const struct zc_ring_used *u)
{
    /* Most completions are the reclaiming pool's own: test it first. */
    uintptr_t t = (uintptr_t)u->token, lo = (uintptr_t)p->slot;
    bool own = t >= lo && t < (uintptr_t)(p->slot + p->nslots) && (t - lo) % sizeof(*p->slot) == 0;
    struct zc_ring_pool *owner = own ? p : token_pool(p->ring, u->token);
    if (!owner)
        return -EPROTO;
    const struct pool_slot *s = u->token;
    if (slot_free(owner, s->index, SLOT_POSTED))
        return -EPROTO;
    owner->in_flight--;
    return 0;
}

int zc_ring_pool_reclaim(struct zc_ring_pool *p)
{
    struct zc_ring_used used[64];
    int total = 0;
    for (;;) {
        int n = zc_ring_reap(p->ring, used, ZC_ARRAY_SIZE(used));
        if (n < 0)
            return n;
        for (int i = 0; i < n; i++) {
            int err = reclaim_one(p, &used[i]);
            if (err)
                return err;
        }
        total += n;
        if (n < (int)ZC_ARRAY_SIZE(used))
            return total;
    }
}

int zc_ring_pool_wait(struct zc_ring_pool *p, uint32_t want, int64_t timeout_ns)
{
    if (want > p->nslots)
        return -EINVAL;
    if (p->ring->broken)
        return -EPROTO;
    int r = p->nfree < want ? zc_ring_pool_reclaim(p) : 0;
    while (r >= 0 && p->nfree < want) {
        r = zc_ring_wait(p->ring, timeout_ns);
        if (!r)
            r = zc_ring_pool_reclaim(p);
    }
    return r < 0 ? r : 0;
}
