/* ring_impl.h - the private side of a ring end: the shared layout as C
 * structs (byte-compatible with linux/virtio_ring.h) and each role's state.
 *
 * Shared words that the two ends hand over (avail->idx, used->idx and the
 * event indices) are C11 atomics; the entries they publish (descriptors,
 * ring slots) are plain memory read once through READ_ONCE, ordered by the
 * acquire/release pairs on the indices.
 */
#ifndef ZC_RING_IMPL_H
#define ZC_RING_IMPL_H

#include "zc/ring.h"
#include "zc/shm.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "zc ring: VIRTIO 1.x rings are little-endian; this host is not"
#endif

/* linux/virtio_ring.h's flag values (VIRTIO 1.2, 2.7.5 and 2.7.6). */
#define DESC_F_NEXT          1
#define DESC_F_WRITE         2
#define DESC_F_INDIRECT      4
#define USED_F_NO_NOTIFY     1
#define AVAIL_F_NO_INTERRUPT 1

/* The packed ring's flags (VIRTIO 1.2, 2.8): a descriptor is available
 * when AVAIL matches the driver's wrap counter and USED does not, used
 * when both match the device's. */
#define PACKED_F_AVAIL       (1u << 7)
#define PACKED_F_USED        (1u << 15)
#define PACKED_EVENT_ENABLE  0u
#define PACKED_EVENT_DISABLE 1u
#define PACKED_EVENT_DESC    2u

struct vr_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct vr_avail {
    _Atomic uint16_t flags;
    _Atomic uint16_t idx;
    uint16_t ring[]; /* num entries, then used_event */
};

struct vr_used_elem {
    uint32_t id;
    uint32_t len;
};

struct vr_used {
    _Atomic uint16_t flags;
    _Atomic uint16_t idx;
    struct vr_used_elem ring[]; /* num entries, then avail_event */
};

/* One entry of the packed ring: the same 16 bytes serve as available and
 * used descriptor.  flags is the word each side publishes with. */
struct vr_packed_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t id;
    _Atomic uint16_t flags;
};

/* An event suppression area {le16 off_wrap; le16 flags} as one word, so
 * that a request is written and read whole: off_wrap in the low half. */
struct vr_packed_event {
    _Atomic uint32_t word;
};

_Static_assert(sizeof(struct vr_packed_desc) == 16, "vring_packed_desc is 16 bytes");
_Static_assert(sizeof(struct vr_packed_event) == 4, "vring_packed_desc_event is 4 bytes");
_Static_assert(sizeof(struct vr_desc) == 16, "vring_desc is 16 bytes");
_Static_assert(sizeof(_Atomic uint16_t) == 2, "atomic u16 keeps the layout");
_Static_assert(sizeof(struct vr_used_elem) == 8, "vring_used_elem is 8 bytes");

/* Read a word the peer may be writing exactly once. */
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))

/* The driver's private record of one posted chain, indexed by its head. */
struct drv_slot {
    void *token;
    uint32_t writable_len; /* the most the device may report as used.len */
    uint16_t ndesc;        /* 0: not in flight */
    uint16_t tail;         /* last descriptor, to splice the chain back */
};

struct zc_ring {
    enum zc_ring_role role;
    uint32_t num;
    uint16_t mask;
    bool event_idx;
    bool broken;
    bool packed; /* VIRTIO_F_RING_PACKED: packed.c does the work */

    struct vr_desc *desc;
    struct vr_avail *avail;
    struct vr_used *used;
    _Atomic uint16_t *used_event;  /* avail->ring[num]: written by the driver */
    _Atomic uint16_t *avail_event; /* used->ring[num]: written by the device */
    /* The packed format: one descriptor ring and the two event
     * suppression areas, the driver's (read by the device before a call)
     * and the device's (read by the driver before a kick). */
    struct vr_packed_desc *pdesc;
    struct vr_packed_event *drv_event, *dev_event;
    struct zc_shm mem, bufmem; /* the ring region and the buffer region */

    /* Where descriptor addresses point: one region (offsets into bufmem)
     * for zc's own rings, the front end's memory table for a vring. */
    unsigned nregions;
    struct zc_ring_region region[ZC_RING_MAX_REGIONS];
    /* A vring over memory the caller owns (zc_ring_attach_vring): nothing
     * to unmap or close, indirect tables allowed when negotiated, and one
     * bad chain is refused (used with len 0) instead of breaking the ring. */
    bool vring;
    bool indirect;

    /* The driver's private state. */
    uint16_t avail_shadow;    /* next avail slot to fill */
    uint16_t avail_published; /* what avail->idx says */
    uint16_t last_used;       /* next used entry to reap */
    uint16_t used_seen;       /* the last used->idx read */
    uint16_t free_head;
    uint32_t num_free;
    uint32_t in_flight; /* chains posted and not reaped */
    uint16_t *next;     /* private free-list links, num entries */
    struct drv_slot *slot;
    struct zc_ring_pool *pools; /* the slot pools over this end (pool.c) */

    /* The device's private state. */
    uint16_t last_avail;     /* next avail entry to pop */
    uint16_t avail_seen;     /* the last avail->idx read */
    uint16_t used_shadow;    /* next used slot to fill */
    uint16_t used_published; /* what used->idx says */
    uint64_t *pending;       /* per head: writable_len + 1 while popped, else 0
                              * (packed: the chain's descriptors above bit 40) */

    /* Packed, either role: the first staged chain's head flags (the
     * driver's) or used flags (the device's), stored last, at
     * zc_ring_submit / zc_ring_complete, to publish the whole batch; and
     * how many chains are staged behind it. */
    uint16_t head_flags;
    uint16_t staged;
    uint32_t dev_descs; /* packed device: descriptors popped, not yet used */

    /* Notifications and waiting. */
    int kick_fd, call_fd, peer_fd;
    uint64_t spin_max_ns, spin_ns;
    struct zc_ring_stats stats;
};

/* A bit of pending[] that zc_ring_push_batch() uses to find repeated heads. */
#define PENDING_MARK (1ull << 63)
/* pending[]'s writable_len + 1, and where a packed chain's length sits. */
#define PENDING_LEN         ((1ull << 40) - 1)
#define PENDING_NDESC_SHIFT 40

/* The local address of [addr, addr+len) when it lies wholly inside one
 * region, else NULL. */
static inline void *ring_translate(const struct zc_ring *r, uint64_t addr, uint64_t len)
{
    for (unsigned i = 0; i < r->nregions; i++) {
        const struct zc_ring_region *g = &r->region[i];
        uint64_t off = addr - g->addr;
        if (addr >= g->addr && off <= g->size && len <= g->size - off)
            return (uint8_t *)g->base + off;
    }
    return NULL;
}

/* Marks the ring broken by a peer and returns -EPROTO. */
static inline int ring_fail(struct zc_ring *r)
{
    r->broken = true;
    return -EPROTO;
}

/* VIRTIO's vring_need_event(): has new_idx moved past event since old? */
static inline bool ring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* Appends the segment d describes to chain c (sum: readable, writable
 * bytes); -EBADMSG when it breaks a rule (device.c). */
int ring_add_seg(const struct zc_ring *r, struct zc_ring_chain *c, uint64_t sum[2],
                 const struct vr_desc *d);

/* The table an indirect descriptor d points at and its entries in *n, or
 * NULL when indirect is not negotiated, d is malformed or lies outside
 * the regions (device.c). */
const struct vr_desc *ring_indirect_table(const struct zc_ring *r, const struct vr_desc *d,
                                          uint32_t *n);

/* The packed format's halves of the public calls (packed.c); the callers
 * have checked role and broken. */
int packed_add(struct zc_ring *r, const struct zc_ring_seg *segs, unsigned nseg, void *token,
               uint32_t writable_len);
int packed_submit(struct zc_ring *r);
int packed_reap(struct zc_ring *r, struct zc_ring_used *out, unsigned max);
int packed_pop_batch(struct zc_ring *r, struct zc_ring_chain *chains, unsigned max);
void packed_put_used(struct zc_ring *r, uint16_t head, uint32_t len);
int packed_complete(struct zc_ring *r);
bool packed_has_work(struct zc_ring *r);
bool packed_need_notify(struct zc_ring *r, uint16_t old, uint16_t new_idx);
void packed_request(struct zc_ring *r, bool enable);
/* The off_wrap word of a free-running position (VIRTIO's offset in bits
 * 0-14, wrap counter in bit 15), and back. */
uint16_t packed_off_wrap(const struct zc_ring *r, uint16_t pos);
uint16_t packed_pos(const struct zc_ring *r, uint16_t off_wrap);

/* Writes 1 to an eventfd (a full counter just means a wake-up is pending). */
int ring_signal(int efd);

/* After this end moved its published index from old to new_idx: wakes
 * the peer if it asked to be woken.  0 or -errno. */
int ring_notify_peer(struct zc_ring *r, uint16_t old, uint16_t new_idx);

/* Is there work for this end?  Reads the peer's index (acquire). */
bool ring_has_work(struct zc_ring *r);

#endif /* ZC_RING_IMPL_H */
