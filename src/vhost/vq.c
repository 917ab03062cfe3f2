/* vq.c - a virtqueue's life: configured piece by piece by messages,
 * started once it has everything, stopped by GET_VRING_BASE, a disable, a
 * new memory table or a disconnect.
 *
 * A queue runs when it has a size, ring addresses, a kick (SET_VRING_KICK,
 * with or without an fd) and is enabled (by the kick itself without
 * VHOST_USER_F_PROTOCOL_FEATURES, by SET_VRING_ENABLE with them), and a
 * memory table is mapped.  Starting translates the three ring parts' user
 * addresses to our mapping, each wholly inside one region, and hands them
 * to the ring's device side with the table for the descriptors.  For a
 * packed ring (VIRTIO_F_RING_PACKED) the three are the descriptor ring and
 * the driver's and the device's event suppression areas (4 bytes each).
 */
#include "vhost_impl.h"

#include <errno.h>
#include <unistd.h>

void vq_init(struct vq *q)
{
    *q = (struct vq){.kick_fd = -1, .call_fd = -1};
}

/* The ring features the front end negotiated. */
static uint64_t ring_features(const struct zc_vhost *v)
{
    uint64_t f = 0;
    if (v->features & BIT(VIRTIO_RING_F_EVENT_IDX))
        f |= ZC_RING_F_EVENT_IDX;
    if (v->features & BIT(VIRTIO_RING_F_INDIRECT_DESC))
        f |= ZC_RING_F_INDIRECT_DESC;
    if (v->features & BIT(VIRTIO_F_VERSION_1))
        f |= ZC_RING_F_VERSION_1;
    if (v->features & BIT(VIRTIO_F_RING_PACKED))
        f |= ZC_RING_F_RING_PACKED;
    return f;
}

int vq_try_start(struct zc_vhost *v, struct vq *q)
{
    if (q->ring || !q->num || !q->addr_set || !q->kicked || !q->enabled || !v->nregions)
        return 0;
    struct zc_ring_region regions[ZC_RING_MAX_REGIONS];
    for (unsigned i = 0; i < v->nregions; i++)
        regions[i] = (struct zc_ring_region){
            .addr = v->region[i].guest_addr, .size = v->region[i].size, .base = v->region[i].base};
    bool packed = v->features & BIT(VIRTIO_F_RING_PACKED);
    struct zc_ring_vring vr = {
        .num = q->num,
        .features = ring_features(v),
        .base = q->base,
        .desc = vhost_mem_user_ptr(v, q->desc_ua, 16ull * q->num),
        .avail = vhost_mem_user_ptr(v, q->avail_ua, packed ? 4 : 6 + 2ull * q->num),
        .used = vhost_mem_user_ptr(v, q->used_ua, packed ? 4 : 6 + 8ull * q->num),
        .regions = regions,
        .nregions = v->nregions,
        .kick_fd = q->kick_fd,
        .call_fd = q->call_fd,
    };
    int err = zc_ring_attach_vring(&q->ring, &vr);
    if (err)
        return err;
    /* We poll while there is traffic: no kicks until we ask for them. */
    zc_ring_disarm(q->ring);
    q->refused_seen = 0;
    return 0;
}

void vq_stop(struct zc_vhost *v, struct vq *q)
{
    if (!q->ring)
        return;
    net_flush_stash(v, q);
    q->base = zc_ring_avail_index(q->ring);
    zc_ring_destroy(q->ring);
    q->ring = NULL;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void vq_reset(struct zc_vhost *v, struct vq *q)
{
    vq_stop(v, q);
    close_fd(&q->kick_fd);
    close_fd(&q->call_fd);
    vq_init(q);
}

void vhost_disconnect(struct zc_vhost *v)
{
    for (unsigned i = 0; i < 2 * ZC_VHOST_MAX_QUEUES; i++)
        vq_reset(v, &v->vq[i]);
    vhost_mem_clear(v);
    close_fd(&v->conn_fd);
    v->features = v->protocol_features = 0;
    v->hdr_len = 10;
}
