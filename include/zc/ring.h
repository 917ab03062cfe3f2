/* zc/ring.h - a VIRTIO 1.2 virtqueue between two processes: the split
 * format, or the packed one (ZC_RING_F_RING_PACKED) behind the same calls.
 *
 * The driver owns buffers in a shared buffer region and posts descriptors
 * (offsets into that region, never the data) in the available ring; the
 * device reads or writes the data in place and returns each chain through
 * the used ring with the number of bytes it wrote.  The ring memory is
 * byte-compatible with linux/virtio_ring.h, laid out by vring_init(num,
 * ZC_RING_ALIGN); little-endian hosts only (the VIRTIO 1.x byte order):
 *
 *   ring region (sealed memfd)                       buffer region (sealed memfd)
 *   +0         desc[num]   {le64 addr; le32 len;      +------------------------+
 *                           le16 flags; le16 next}    | addr = offset in here  |
 *   +16*num    avail {le16 flags; le16 idx;           |  [data] [data] ...     |
 *                     le16 ring[num]; le16 used_event}+------------------------+
 *   ALIGN(64)  used  {le16 flags; le16 idx;
 *                     {le32 id; le32 len} ring[num]; le16 avail_event}
 *
 * Each side keeps its own state (free list, in-flight heads and their
 * lengths, shadow indices) in private memory.  Every index, descriptor and
 * length read from ring memory is read once into private memory and
 * validated before use: a head below num, a chain no longer than
 * ZC_RING_MAX_SEGS and the queue (no loops), no indirect descriptors,
 * device-readable segments before device-writable ones, addr+len inside the
 * buffer region, a used id that is in flight and a used len no larger than
 * what was posted writable.  A violation returns -EPROTO and marks the ring
 * broken: every later call returns -EPROTO, so a hostile peer gets errors,
 * never a crash, a hang or an access outside the regions.
 *
 * The data itself stays in shared memory the peer can still write while it
 * is read (that is what zero-copy means): a consumer that must not be
 * fooled by a changing payload authenticates it (see zc/seal.h) or copies it.
 *
 * Notifications: an eventfd "kick" (driver -> device) and "call" (device ->
 * driver), suppressed with VIRTIO_F_EVENT_IDX (used_event / avail_event) so
 * that a batch costs one notification, or none while the peer is busy.
 * zc_ring_wait() spins for an adaptive while before it arms the event
 * index and blocks.
 *
 * The packed format (VIRTIO 1.2 2.8, VIRTIO_F_RING_PACKED): one ring of
 * 16-byte descriptors both ends write, then the driver's and the device's
 * event suppression areas, zc_ring_layout_size(num, features) bytes:
 *
 *   +0      desc[num]  {le64 addr; le32 len; le16 id; le16 flags}
 *   +16*num driver event {le16 off_wrap; le16 flags}, device event (same)
 *
 * A descriptor is available when its AVAIL bit (7) equals the driver's
 * wrap counter and USED (15) does not, used when both equal the device's.
 * The device writes one used descriptor per chain at the next used
 * position and skips the chain (VIRTIO_F_IN_ORDER is not negotiated, so a
 * chain may come back out of order, each with its length).  It validates
 * as above, plus: every descriptor of a chain marked available in the lap
 * of its position, a buffer id (the chain's last descriptor's) below num
 * and not already popped, a chain no longer than the descriptors the
 * driver can have outstanding.  zc_ring_chain.head and zc_ring_done.head
 * are the buffer id.  The driver takes a used descriptor only for a chain
 * it published, with an id in flight.
 *
 * Functions return 0 (or a count) on success and a negative errno on
 * failure, as liburing does.  One thread per ring end; the two ends may
 * live in different processes or threads.
 */
#ifndef ZC_RING_H
#define ZC_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest queue size (VIRTIO: a power of two up to 32768). */
#define ZC_RING_MAX_NUM 32768
/* The alignment of the used ring (vring_init's align argument). */
#define ZC_RING_ALIGN 64
/* Longest descriptor chain either side accepts. */
#define ZC_RING_MAX_SEGS 16
/* VIRTIO_F_EVENT_IDX (feature bit 29): notification suppression by index. */
#define ZC_RING_F_EVENT_IDX (1ull << 29)
/* VIRTIO_RING_F_INDIRECT_DESC (bit 28): descriptor tables in driver memory
 * (vrings only; zc's own rings never use them). */
#define ZC_RING_F_INDIRECT_DESC (1ull << 28)
/* VIRTIO_F_VERSION_1 (bit 32): the little-endian 1.x layout, the only one
 * this ring speaks; a vring may say so. */
#define ZC_RING_F_VERSION_1 (1ull << 32)
/* VIRTIO_F_RING_PACKED (bit 34): the packed virtqueue (VIRTIO 1.2, 2.8)
 * instead of the split one; see the packed format above. */
#define ZC_RING_F_RING_PACKED (1ull << 34)
/* Most memory regions a vring's descriptors may point into. */
#define ZC_RING_MAX_REGIONS 8

/* The grant tag zc_ring_send()/zc_ring_recv() put on their regions. */
#define ZC_RING_GRANT_TAG 0x7a637231u /* "zcr1" */

enum zc_ring_role { ZC_RING_DRIVER, ZC_RING_DEVICE };

struct zc_ring;

/* What both ends agree on. */
struct zc_ring_params {
    uint32_t num;      /* queue size: a power of two, 1..ZC_RING_MAX_NUM */
    uint64_t buf_size; /* bytes of the shared buffer region (> 0) */
    uint64_t features; /* ZC_RING_F_EVENT_IDX, ZC_RING_F_RING_PACKED, or 0 */
};

/* The descriptors that make up a ring, as zc_ring_export() lends them. */
struct zc_ring_fds {
    int ring_fd; /* sealed memfd with the vring (desc, avail, used) */
    int buf_fd;  /* sealed memfd with the buffer region */
    int kick_fd; /* eventfd, driver -> device */
    int call_fd; /* eventfd, device -> driver */
};

/* One buffer segment: off/len inside the buffer region; writable means
 * device-writable (VRING_DESC_F_WRITE), otherwise device-readable. */
struct zc_ring_seg {
    uint64_t off;
    uint32_t len;
    bool writable;
};

/* A chain as the device sees it, copied out of ring memory and validated. */
struct zc_ring_chain {
    uint16_t head;         /* give it back with zc_ring_push() */
    uint16_t nseg;         /* 1..ZC_RING_MAX_SEGS */
    uint32_t readable_len; /* total bytes of the device-readable segments */
    uint32_t writable_len; /* total bytes of the device-writable segments */
    struct zc_ring_seg seg[ZC_RING_MAX_SEGS];
};

/* A used entry as the driver sees it. */
struct zc_ring_used {
    void *token;  /* what the driver passed to zc_ring_add() */
    uint32_t len; /* bytes the device wrote, <= the writable bytes posted */
    uint16_t head;
};

/* A completion the device hands back. */
struct zc_ring_done {
    uint16_t head;
    uint32_t len; /* bytes written, <= the chain's writable_len */
};

/* ---- setting up ---- */

/* Bytes of ring memory for num entries (vring_size(num, ZC_RING_ALIGN)). */
size_t zc_ring_mem_size(uint32_t num);

/* Bytes of ring memory for num entries in the format features choose:
 * zc_ring_mem_size(num) for the split ring, 16*num + 8 for the packed. */
size_t zc_ring_layout_size(uint32_t num, uint64_t features);

/* Creates the ring and buffer regions (sealed memfds) and both eventfds,
 * and returns this end in *ringp.  0 on success, -EINVAL for bad params,
 * -errno. */
int zc_ring_create(struct zc_ring **ringp, enum zc_ring_role role, const struct zc_ring_params *p);

/* The params and descriptors the other end needs (still owned by r). */
void zc_ring_export(const struct zc_ring *r, struct zc_ring_params *p, struct zc_ring_fds *fds);

/* Attaches to a ring made by the other end: validates params (-EINVAL), the
 * regions' seals (-EPERM) and sizes (-EBADMSG), maps them and returns this
 * end in *ringp.  Takes ownership of the four descriptors (closed on
 * failure too).  0 on success, -errno. */
int zc_ring_attach(struct zc_ring **ringp, enum zc_ring_role role, const struct zc_ring_params *p,
                   const struct zc_ring_fds *fds);

/* Both ends in this process (for two threads): a driver and a device over
 * the same new ring.  0 on success, -errno (nothing is left open). */
int zc_ring_create_pair(struct zc_ring **driver, struct zc_ring **device,
                        const struct zc_ring_params *p);

/* Sends the ring to the peer on a connected UNIX socket: params plus the
 * two regions (zc_shm_grant) and the two eventfds.  0 or -errno. */
int zc_ring_send(const struct zc_ring *r, int sock);

/* Receives a ring sent with zc_ring_send() from a peer whose uid must be
 * expect_uid, and attaches as role.  0 or -errno (-EACCES, -EPERM,
 * -EBADMSG, -EINVAL as zc_shm_accept() and zc_ring_attach()). */
int zc_ring_recv(struct zc_ring **ringp, enum zc_ring_role role, int sock, uid_t expect_uid);

/* One region of the driver's memory as this process maps it: descriptor
 * addresses in [addr, addr+size) are at base + (address - addr). */
struct zc_ring_region {
    uint64_t addr;
    uint64_t size;
    void *base;
};

/* A virtqueue in memory the caller owns and mapped, as a vhost-user front
 * end lays it out: the three parts at independent addresses.  With
 * ZC_RING_F_RING_PACKED, desc is the descriptor ring, avail the driver
 * event suppression area and used the device's (4 bytes each, 4-aligned),
 * and base is a position below num (bits 0-14) with its wrap counter (bit
 * 15). */
struct zc_ring_vring {
    uint32_t num;      /* a power of two, 1..ZC_RING_MAX_NUM */
    uint64_t features; /* ZC_RING_F_EVENT_IDX, _INDIRECT_DESC, _VERSION_1, _RING_PACKED */
    uint16_t base;     /* the first available index to take */
    void *desc;        /* 16*num bytes, 16-aligned */
    void *avail;       /* 6+2*num bytes, 2-aligned */
    void *used;        /* 6+8*num bytes, 4-aligned */
    const struct zc_ring_region *regions; /* where descriptors may point */
    unsigned nregions;                    /* 1..ZC_RING_MAX_REGIONS */
    int kick_fd, call_fd;                 /* eventfds, or -1 for none; borrowed, never closed */
};

/* The device end of a vring.  Unlike zc's own rings, a bad chain (outside
 * the regions, too long, a loop, a bad indirect table) is refused: used
 * with len 0 and counted in zc_ring_stats.refused, and the ring goes on; a
 * bad index still breaks it.  0 on success, -EINVAL for bad parameters
 * (size, alignment, features), -EBADMSG for an fd that is not an eventfd,
 * -ENOMEM. */
int zc_ring_attach_vring(struct zc_ring **ringp, const struct zc_ring_vring *v);

/* The next available index the device will take (vhost-user's
 * GET_VRING_BASE answer; packed: position | wrap counter << 15). */
uint16_t zc_ring_avail_index(const struct zc_ring *r);

/* Replaces a vring's call eventfd (-1: none; borrowed).  0, -EBADMSG for a
 * descriptor that is not an eventfd, -EINVAL for a ring that is not a vring. */
int zc_ring_set_call_fd(struct zc_ring *r, int fd);

/* Unmaps and closes this end (NULL is fine). */
void zc_ring_destroy(struct zc_ring *r);

/* Queue size. */
uint32_t zc_ring_num(const struct zc_ring *r);
/* The start of the ring memory (for vring_init() views and tests). */
void *zc_ring_mem(const struct zc_ring *r);
/* The buffer region: its base address and size. */
void *zc_ring_buf_base(const struct zc_ring *r);
size_t zc_ring_buf_size(const struct zc_ring *r);
/* A pointer to seg's bytes in the buffer region, or NULL when off+len does
 * not lie inside it.  Segments of a popped chain always lie inside. */
void *zc_ring_ptr(const struct zc_ring *r, const struct zc_ring_seg *seg);
/* True once a peer broke the protocol (every call then returns -EPROTO). */
bool zc_ring_broken(const struct zc_ring *r);

/* ---- driver ---- */

/* Free descriptors (driver): how many segments can still be added. */
uint32_t zc_ring_free_descs(const struct zc_ring *r);

/* Stages one chain of nseg segments (device-readable ones first) with a
 * token returned on reaping; not visible to the device until
 * zc_ring_submit().  0 on success, -ENOSPC when too few descriptors are
 * free, -EINVAL for a bad segment (outside the region, writable before
 * readable, nseg 0 or > ZC_RING_MAX_SEGS), -EPROTO. */
int zc_ring_add(struct zc_ring *r, const struct zc_ring_seg *segs, unsigned nseg, void *token);

/* Publishes every staged chain with one index store and kicks the device
 * once if it asked to be notified.  The number published, or -errno. */
int zc_ring_submit(struct zc_ring *r);

/* zc_ring_add() + zc_ring_submit(): 0 on success, -errno. */
int zc_ring_post(struct zc_ring *r, const struct zc_ring_seg *segs, unsigned nseg, void *token);

/* Stages n one-segment buffers (tokens[i] for segs[i]; tokens may be NULL)
 * and publishes them with one submit.  The number posted (less than n when
 * the ring fills up), or -errno. */
int zc_ring_post_batch(struct zc_ring *r, const struct zc_ring_seg *segs, unsigned n,
                       void *const *tokens);

/* Takes up to max used entries, frees their descriptors and fills out[].
 * The number taken (0 when none), or -EPROTO for a bad used entry. */
int zc_ring_reap(struct zc_ring *r, struct zc_ring_used *out, unsigned max);

/* ---- slot pool (driver) ----
 *
 * The driver's buffers as fixed slots: nslots slots of slot_size bytes from
 * offset off in the buffer region, handed out from a free stack and taken
 * back when the device has used them (liburing's provided buffer rings,
 * seen from the side that owns the buffers):
 *
 *   get -> slot i (write into zc_ring_pool_ptr) -> add/post -> device uses it
 *    ^                                                             |
 *    +------------------ reclaim (the used ring) <-----------------+
 *
 * The pool posts each slot with a token of its own: once a ring has a pool,
 * every chain on it goes through a pool (several pools may share one ring,
 * e.g. slots of different sizes; any of them reclaims for all).  A slot is
 * free, taken or posted; a call that finds it in another state is refused
 * with -EINVAL and changes nothing, so no slot is ever handed out twice.
 * The device cannot name a slot: the ring refuses used ids it did not post
 * (-EPROTO, see above), and the pool refuses a completion of a slot that is
 * not posted the same way.  One thread, the ring's driver end. */
struct zc_ring_pool;

/* Makes a pool of nslots slots of slot_size bytes at [off, off +
 * nslots*slot_size) of r's buffer region (r a driver end).  0 on success,
 * -EINVAL (no slots, a slot of 0 bytes or over 4 GiB, outside the region,
 * not a driver), -ENOMEM. */
int zc_ring_pool_create(struct zc_ring_pool **poolp, struct zc_ring *r, uint64_t off,
                        uint64_t slot_size, uint32_t nslots);

/* Frees the pool (NULL is fine); slots still posted are forgotten, so
 * destroy the ring or drain it first. */
void zc_ring_pool_destroy(struct zc_ring_pool *p);

/* Takes a free slot: its index, or -ENOBUFS when none is free (reclaim or
 * wait).  Never reaps by itself, so a taken slot's bytes are the caller's. */
int64_t zc_ring_pool_get(struct zc_ring_pool *p);

/* Gives back a taken slot without posting it: 0, or -EINVAL for a slot
 * that is not taken. */
int zc_ring_pool_put(struct zc_ring_pool *p, uint32_t slot);

/* Slot's bytes in the buffer region, or NULL for a slot beyond the pool. */
void *zc_ring_pool_ptr(const struct zc_ring_pool *p, uint32_t slot);
/* Slot's offset in the buffer region (for descriptors of one's own). */
uint64_t zc_ring_pool_off(const struct zc_ring_pool *p, uint32_t slot);
/* Bytes of a slot, and the number of slots. */
uint64_t zc_ring_pool_slot_size(const struct zc_ring_pool *p);
uint32_t zc_ring_pool_slots(const struct zc_ring_pool *p);
/* Slots free now, and slots posted and not yet reclaimed. */
uint32_t zc_ring_pool_free(const struct zc_ring_pool *p);
uint32_t zc_ring_pool_in_flight(const struct zc_ring_pool *p);

/* Stages a taken slot as a chain of nseg device-readable segments laid
 * back to back from the slot's start, lens[i] bytes each (a header and its
 * payload as two descriptors, say); not visible until zc_ring_submit().
 * 0, -EINVAL for a slot not taken or lengths beyond the slot, -ENOSPC when
 * the ring has too few free descriptors, -EPROTO. */
int zc_ring_pool_add(struct zc_ring_pool *p, uint32_t slot, const uint32_t *lens, unsigned nseg);

/* Stages the slot's first len bytes as one segment and submits: 0 or
 * -errno as zc_ring_pool_add() and zc_ring_submit(). */
int zc_ring_pool_post(struct zc_ring_pool *p, uint32_t slot, uint32_t len);

/* Reaps the ring and frees each used slot in the pool that posted it.  The
 * number of slots freed (0 when none), or -EPROTO: a bad used entry (the
 * ring is then broken) or a completion of a slot that is not posted. */
int zc_ring_pool_reclaim(struct zc_ring_pool *p);

/* Reclaims until at least want slots of p are free, waiting on the ring
 * (zc_ring_wait) for at most timeout_ns at a time.  0, -EINVAL when want
 * exceeds the pool, -ETIMEDOUT, -EPIPE, -EPROTO. */
int zc_ring_pool_wait(struct zc_ring_pool *p, uint32_t want, int64_t timeout_ns);

/* ---- device ---- */

/* Takes up to max available chains into private, validated form.  The
 * number taken (0 when none), or -EPROTO. */
int zc_ring_pop_batch(struct zc_ring *r, struct zc_ring_chain *chains, unsigned max);

/* One chain: 1 taken, 0 none, -EPROTO. */
int zc_ring_pop(struct zc_ring *r, struct zc_ring_chain *chain);

/* Stages the completion of a popped chain with len bytes written; not
 * visible to the driver until zc_ring_complete().  0, or -EINVAL for a
 * head that is not in flight or len beyond its writable bytes. */
int zc_ring_push(struct zc_ring *r, uint16_t head, uint32_t len);

/* Publishes every staged completion with one index store and calls the
 * driver once if it asked to be notified.  The number published, or -errno. */
int zc_ring_complete(struct zc_ring *r);

/* Pushes n completions and publishes them with one zc_ring_complete().
 * The number published, or -errno (nothing is published on -EINVAL). */
int zc_ring_push_batch(struct zc_ring *r, const struct zc_ring_done *done, unsigned n);

/* ---- waiting ---- */

/* Waits until there is work for this end: used entries (driver) or
 * available chains (device).  Spins for an adaptive while (at most the
 * zc_ring_set_spin() budget), then asks the peer for a notification and
 * blocks on the eventfd.  timeout_ns < 0 waits for ever.  0 when there is
 * work, -ETIMEDOUT, -EPIPE when the peer fd (zc_ring_set_peer_fd) hung up,
 * -EPROTO, -errno. */
int zc_ring_wait(struct zc_ring *r, int64_t timeout_ns);

/* The longest spin before blocking, in ns (default 50000; 0 never spins). */
void zc_ring_set_spin(struct zc_ring *r, uint64_t max_spin_ns);

/* A descriptor whose hang-up means the peer is gone (e.g. the socket the
 * ring came over); zc_ring_wait() then returns -EPIPE.  -1 for none. */
void zc_ring_set_peer_fd(struct zc_ring *r, int fd);

/* For event loops: asks the peer for a notification on this end's eventfd
 * (zc_ring_notify_fd).  1 when work is already there (do not sleep), 0 when
 * armed, -EPROTO. */
int zc_ring_arm(struct zc_ring *r);

/* Asks the peer for no notifications (the opposite of zc_ring_arm), for
 * an end that polls. */
void zc_ring_disarm(struct zc_ring *r);

/* What this end's notifications and waits did since it was opened. */
struct zc_ring_stats {
    uint64_t notifications; /* kicks (driver) or calls (device) sent */
    uint64_t sleeps;        /* zc_ring_wait() calls that blocked on the eventfd */
    uint64_t spins;         /* zc_ring_wait() calls that spinning satisfied */
    uint64_t refused;       /* bad chains a vring refused (used with len 0) */
};

/* Fills s with this end's counters. */
void zc_ring_get_stats(const struct zc_ring *r, struct zc_ring_stats *s);

/* The eventfd this end is woken through: call (driver) or kick (device).
 * Readable after zc_ring_arm(); zc_ring_wait() drains it itself. */
int zc_ring_notify_fd(const struct zc_ring *r);

#ifdef __cplusplus
}
#endif

#endif /* ZC_RING_H */
