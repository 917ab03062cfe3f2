/* vhost_impl.h - the backend's private state: the connection, the front
 * end's memory table as mapped here, and one record per virtqueue.
 *
 *   front end (untrusted)                 backend (this process)
 *   memfd regions ---- SCM_RIGHTS ---->   mmap'ed: mem_region[]
 *   vring parts at user addresses ---->   translated through userspace_addr
 *   descriptors at guest addresses --->   translated by the ring (zc_ring_region)
 */
#ifndef ZC_VHOST_IMPL_H
#define ZC_VHOST_IMPL_H

#include "zc/ring.h"
#include "zc/vhost.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Feature bits (VIRTIO 1.2 section 5.1.3 and 6; vhost-user). */
#define VIRTIO_NET_F_MRG_RXBUF         15
#define VIRTIO_RING_F_INDIRECT_DESC    28
#define VIRTIO_RING_F_EVENT_IDX        29
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VIRTIO_F_VERSION_1             32
#define VIRTIO_F_RING_PACKED           34

#define VHOST_USER_PROTOCOL_F_MQ        0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3

#define BIT(n) (1ull << (n))

/* How many chains a queue takes or returns at once. */
#define VQ_BURST 32
/* RX chains taken ahead of the frames that will fill them. */
#define VQ_STASH 64

/* One region of the front end's memory, mapped here. */
struct mem_region {
    uint64_t guest_addr; /* where descriptors say it is */
    uint64_t user_addr;  /* where the front end's own process has it (ring addresses) */
    uint64_t size;
    uint8_t *base; /* our view of guest_addr */
    void *map;     /* the whole mapping, from file offset 0 */
    size_t map_len;
};

struct vq {
    uint32_t num;                        /* 0 until SET_VRING_NUM */
    uint16_t base;                       /* the available index to start from (packed:
                                          * position in bits 0-14, wrap counter in 15) */
    uint64_t desc_ua, avail_ua, used_ua; /* user addresses, from SET_VRING_ADDR (packed:
                                          * ring, driver and device event areas) */
    bool addr_set, kicked, enabled;
    int kick_fd, call_fd; /* -1: none (the front end polls) */
    struct zc_ring *ring; /* running when not NULL */
    uint64_t refused_seen;
    /* Receive queues: chains taken but not yet filled, oldest first. */
    struct zc_ring_chain stash[VQ_STASH];
    unsigned stash_first, stash_n;
};

struct zc_vhost {
    struct zc_vhost_params p;
    char *path; /* the socket file we created, removed on destroy */
    int listen_fd, conn_fd;

    /* What the front end negotiated on this connection. */
    uint64_t features, protocol_features;
    unsigned hdr_len; /* virtio_net_hdr: 12 with VERSION_1 or MRG_RXBUF, else 10 */
    unsigned nregions;
    struct mem_region region[ZC_RING_MAX_REGIONS];
    struct vq vq[2 * ZC_VHOST_MAX_QUEUES];

    struct zc_vhost_stats stats;
    uint8_t source[ZC_VHOST_SOURCE_FRAME];  /* the frame source mode sends */
    uint8_t frame[ZC_VHOST_MAX_FRAME + 16]; /* a private copy of one frame (echo) */
};

/* The features this backend offers. */
uint64_t vhost_offered_features(void);
uint64_t vhost_offered_protocol_features(void);

/* msg.c: reads and answers the pending message(s) on the connection.  0,
 * or -errno when the connection must end. */
int vhost_handle_message(struct zc_vhost *v);

/* mem.c: the memory table. */
/* Maps n regions (takes the fds: closed on failure too).  0 or -errno. */
int vhost_mem_set(struct zc_vhost *v, const uint64_t (*desc)[4], const int *fds, unsigned n);
/* Unmaps every region. */
void vhost_mem_clear(struct zc_vhost *v);
/* Our pointer to [user_addr, user_addr+len) of the front end's memory, or
 * NULL when that is not wholly inside one region. */
void *vhost_mem_user_ptr(const struct zc_vhost *v, uint64_t user_addr, uint64_t len);

/* vq.c: starting and stopping queues. */
void vq_init(struct vq *q);
/* Starts q when it has everything (size, addresses, kick, enabled, memory).
 * 0 (started or not yet ready), -EINVAL for addresses outside the memory. */
int vq_try_start(struct zc_vhost *v, struct vq *q);
/* Stops q, remembering where it got to in q->base. */
void vq_stop(struct zc_vhost *v, struct vq *q);
/* Stops q and closes its descriptors. */
void vq_reset(struct zc_vhost *v, struct vq *q);
/* Ends the connection and forgets everything it set up. */
void vhost_disconnect(struct zc_vhost *v);

/* net.c: the virtio-net device.  Prepares v's device state (once). */
void net_init(struct zc_vhost *v);
/* The frames moved, or -errno. */
int net_process(struct zc_vhost *v);
/* Hands the stashed RX chains of q back unfilled (used len 0). */
void net_flush_stash(struct zc_vhost *v, struct vq *q);

#endif /* ZC_VHOST_IMPL_H */
