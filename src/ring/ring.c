/* ring.c - making, sharing and attaching a ring end.
 *
 * A ring is two sealed memfd regions (the vring itself and the buffer
 * region its descriptors point into) and two eventfds.  Whoever creates it
 * hands the four descriptors to the other end (zc_ring_send over a UNIX
 * socket, or zc_ring_export for other transports); the other end checks
 * every parameter against the regions it actually received before it
 * trusts the layout, since a hostile creator could lie about either.
 */
#define _GNU_SOURCE
#include "ring_impl.h"
#include "zc/base.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define DEFAULT_SPIN_NS 50000

static size_t avail_off(uint32_t num)
{
    return sizeof(struct vr_desc) * num;
}

static size_t used_off(uint32_t num)
{
    size_t end = avail_off(num) + sizeof(uint16_t) * (3 + (size_t)num);
    return (end + ZC_RING_ALIGN - 1) & ~(size_t)(ZC_RING_ALIGN - 1);
}

size_t zc_ring_mem_size(uint32_t num)
{
    return used_off(num) + sizeof(uint16_t) * 3 + sizeof(struct vr_used_elem) * (size_t)num;
}

/* The packed layout: the descriptor ring, then the driver's and the
 * device's event suppression areas. */
static size_t packed_event_off(uint32_t num)
{
    return sizeof(struct vr_packed_desc) * num;
}

size_t zc_ring_layout_size(uint32_t num, uint64_t features)
{
    if (features & ZC_RING_F_RING_PACKED)
        return packed_event_off(num) + 2 * sizeof(struct vr_packed_event);
    return zc_ring_mem_size(num);
}

/* The features a ring end reports (export, send). */
static uint64_t ring_features(const struct zc_ring *r)
{
    return (r->event_idx ? ZC_RING_F_EVENT_IDX : 0) | (r->packed ? ZC_RING_F_RING_PACKED : 0);
}

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) & ~(page - 1);
}

static int check_params(const struct zc_ring_params *p)
{
    if (p->num == 0 || p->num > ZC_RING_MAX_NUM || (p->num & (p->num - 1)))
        return -EINVAL;
    if (p->buf_size == 0 || p->buf_size > (uint64_t)SIZE_MAX)
        return -EINVAL;
    if (p->features & ~(ZC_RING_F_EVENT_IDX | ZC_RING_F_RING_PACKED))
        return -EINVAL;
    return 0;
}

/* Is fd an eventfd?  A peer could pass any descriptor, and a pipe or a file
 * in its place would block or fill up where we only mean to ring a bell. */
static int check_eventfd(int fd)
{
    char path[64], link[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n < 0)
        return -errno;
    link[n] = '\0';
    if (strcmp(link, "anon_inode:[eventfd]") != 0)
        return -EBADMSG;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

static void ring_free(struct zc_ring *r)
{
    free(r->next);
    free(r->slot);
    free(r->pending);
    free(r);
}

/* A zeroed end with its private arrays for num entries.  0 or -ENOMEM. */
static int ring_alloc(struct zc_ring **rp, uint32_t num)
{
    struct zc_ring *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->next = calloc(num, sizeof(*r->next));
    r->slot = calloc(num, sizeof(*r->slot));
    r->pending = calloc(num, sizeof(*r->pending));
    if (!r->next || !r->slot || !r->pending) {
        ring_free(r);
        return -ENOMEM;
    }
    r->num = num;
    r->mask = (uint16_t)(num - 1);
    r->peer_fd = -1;
    r->spin_max_ns = r->spin_ns = DEFAULT_SPIN_NS;
    *rp = r;
    return 0;
}

static void split_layout(struct zc_ring *r, void *desc, void *avail, void *used)
{
    r->desc = desc;
    r->avail = avail;
    r->used = used;
    r->used_event = (_Atomic uint16_t *)&r->avail->ring[r->num];
    r->avail_event = (_Atomic uint16_t *)&r->used->ring[r->num];
}

static void packed_layout(struct zc_ring *r, void *desc, void *drv_event, void *dev_event)
{
    r->packed = true;
    r->pdesc = desc;
    r->drv_event = drv_event;
    r->dev_event = dev_event;
}

/* Builds an end over regions already mapped; takes ownership of everything
 * (released on failure too). */
static int ring_open(struct zc_ring **ringp, enum zc_ring_role role, const struct zc_ring_params *p,
                     struct zc_shm *mem, struct zc_shm *bufmem, int kick_fd, int call_fd)
{
    *ringp = NULL;
    int err = check_params(p);
    if (!err && (role != ZC_RING_DRIVER && role != ZC_RING_DEVICE))
        err = -EINVAL;
    if (!err && (mem->size != page_round(zc_ring_layout_size(p->num, p->features)) ||
                 bufmem->size != p->buf_size))
        err = -EBADMSG;
    if (!err && (!mem->writable || !bufmem->base))
        err = -EINVAL;
    if (!err)
        err = check_eventfd(kick_fd);
    if (!err)
        err = check_eventfd(call_fd);
    struct zc_ring *r = NULL;
    if (!err)
        err = ring_alloc(&r, p->num);
    if (err) {
        zc_shm_close(mem);
        zc_shm_close(bufmem);
        if (kick_fd >= 0)
            close(kick_fd);
        if (call_fd >= 0)
            close(call_fd);
        return err;
    }

    r->role = role;
    r->event_idx = p->features & ZC_RING_F_EVENT_IDX;
    r->mem = *mem;
    r->bufmem = *bufmem;
    r->nregions = 1;
    r->region[0] = (struct zc_ring_region){.addr = 0, .size = bufmem->size, .base = bufmem->base};
    uint8_t *base = mem->base;
    if (p->features & ZC_RING_F_RING_PACKED)
        packed_layout(r, base, base + packed_event_off(p->num),
                      base + packed_event_off(p->num) + 4);
    else
        split_layout(r, base, base + avail_off(p->num), base + used_off(p->num));
    r->kick_fd = kick_fd;
    r->call_fd = call_fd;

    /* Both ends start from a fresh ring: every index 0.  The driver's
     * private free list links every descriptor in order. */
    for (uint32_t i = 0; i < p->num; i++)
        r->next[i] = (uint16_t)((i + 1) & r->mask);
    r->num_free = p->num;
    r->free_head = 0;
    if (r->packed && r->event_idx)
        packed_request(r, true); /* as the split ring's zeroed event index asks */
    return (*ringp = r, 0);
}

static int make_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int zc_ring_create(struct zc_ring **ringp, enum zc_ring_role role, const struct zc_ring_params *p)
{
    *ringp = NULL;
    int err = check_params(p);
    if (err)
        return err;
    struct zc_shm mem, bufmem;
    zc_shm_init(&bufmem);
    err = zc_shm_create(&mem, "zc-ring", zc_ring_layout_size(p->num, p->features));
    if (!err)
        err = zc_shm_create(&bufmem, "zc-ring-buffers", (size_t)p->buf_size);
    int kick = -1, call = -1;
    if (!err)
        err = kick = make_eventfd();
    if (err >= 0)
        err = call = make_eventfd();
    if (err < 0) {
        zc_shm_close(&mem);
        zc_shm_close(&bufmem);
        if (kick >= 0)
            close(kick);
        return err;
    }
    /* The buffer region is page-rounded: that is the size both ends see. */
    struct zc_ring_params q = *p;
    q.buf_size = bufmem.size;
    return ring_open(ringp, role, &q, &mem, &bufmem, kick, call);
}

void zc_ring_export(const struct zc_ring *r, struct zc_ring_params *p, struct zc_ring_fds *fds)
{
    p->num = r->num;
    p->buf_size = r->bufmem.size;
    p->features = ring_features(r);
    fds->ring_fd = r->mem.fd;
    fds->buf_fd = r->bufmem.fd;
    fds->kick_fd = r->kick_fd;
    fds->call_fd = r->call_fd;
}

int zc_ring_attach(struct zc_ring **ringp, enum zc_ring_role role, const struct zc_ring_params *p,
                   const struct zc_ring_fds *fds)
{
    *ringp = NULL;
    struct zc_shm mem, bufmem;
    zc_shm_init(&bufmem);
    int err = check_params(p);
    if (err) {
        close(fds->ring_fd);
        close(fds->buf_fd);
    } else {
        err = zc_shm_map(&mem, fds->ring_fd, page_round(zc_ring_layout_size(p->num, p->features)),
                         true);
        if (err)
            close(fds->buf_fd);
        else
            err = zc_shm_map(&bufmem, fds->buf_fd, (size_t)p->buf_size, true);
    }
    if (err) {
        zc_shm_close(&mem);
        close(fds->kick_fd);
        close(fds->call_fd);
        return err;
    }
    return ring_open(ringp, role, p, &mem, &bufmem, fds->kick_fd, fds->call_fd);
}

int zc_ring_create_pair(struct zc_ring **driver, struct zc_ring **device,
                        const struct zc_ring_params *p)
{
    *device = NULL;
    int err = zc_ring_create(driver, ZC_RING_DRIVER, p);
    if (err)
        return err;
    struct zc_ring_params ep;
    struct zc_ring_fds fds, mine = {-1, -1, -1, -1};
    zc_ring_export(*driver, &ep, &fds);
    mine.ring_fd = fcntl(fds.ring_fd, F_DUPFD_CLOEXEC, 0);
    mine.buf_fd = fcntl(fds.buf_fd, F_DUPFD_CLOEXEC, 0);
    mine.kick_fd = fcntl(fds.kick_fd, F_DUPFD_CLOEXEC, 0);
    mine.call_fd = fcntl(fds.call_fd, F_DUPFD_CLOEXEC, 0);
    if (mine.ring_fd < 0 || mine.buf_fd < 0 || mine.kick_fd < 0 || mine.call_fd < 0) {
        err = -errno;
        int all[4] = {mine.ring_fd, mine.buf_fd, mine.kick_fd, mine.call_fd};
        for (int i = 0; i < 4; i++)
            if (all[i] >= 0)
                close(all[i]);
    } else {
        err = zc_ring_attach(device, ZC_RING_DEVICE, &ep, &mine);
    }
    if (err) {
        zc_ring_destroy(*driver);
        *driver = NULL;
    }
    return err;
}

/* The message after the grant: the params, with the two eventfds. */
struct ring_hello {
    uint32_t magic;
    uint32_t num;
    uint64_t buf_size;
    uint64_t features;
};

#define HELLO_MAGIC 0x7a637268u /* "zcrh" */

int zc_ring_send(const struct zc_ring *r, int sock)
{
    if (r->vring)
        return -EINVAL; /* its memory is not ours to grant */
    struct zc_shm regions[2] = {r->mem, r->bufmem};
    int err = zc_shm_grant(sock, ZC_RING_GRANT_TAG, regions, 2);
    if (err)
        return err;
    struct ring_hello h = {.magic = HELLO_MAGIC,
                           .num = r->num,
                           .buf_size = r->bufmem.size,
                           .features = ring_features(r)};
    int efds[2] = {r->kick_fd, r->call_fd};
    return zc_shm_send_fds(sock, &h, sizeof(h), efds, 2);
}

int zc_ring_recv(struct zc_ring **ringp, enum zc_ring_role role, int sock, uid_t expect_uid)
{
    *ringp = NULL;
    struct zc_shm regions[2];
    int err = zc_shm_accept(sock, expect_uid, ZC_RING_GRANT_TAG, regions, 2, true);
    if (err)
        return err;
    struct ring_hello h;
    int efds[2];
    unsigned n = 0;
    err = zc_shm_recv_fds(sock, expect_uid, &h, sizeof(h), efds, 2, &n);
    if (!err && (h.magic != HELLO_MAGIC || n != 2))
        err = -EBADMSG;
    if (err) {
        for (unsigned i = 0; i < n; i++)
            close(efds[i]);
        zc_shm_close(&regions[0]);
        zc_shm_close(&regions[1]);
        return err;
    }
    struct zc_ring_params p = {.num = h.num, .buf_size = h.buf_size, .features = h.features};
    return ring_open(ringp, role, &p, &regions[0], &regions[1], efds[0], efds[1]);
}

static bool aligned(const void *p, uintptr_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

static int check_vring(const struct zc_ring_vring *v)
{
    if (v->num == 0 || v->num > ZC_RING_MAX_NUM || (v->num & (v->num - 1)))
        return -EINVAL;
    if (v->features & ~(ZC_RING_F_EVENT_IDX | ZC_RING_F_INDIRECT_DESC | ZC_RING_F_VERSION_1 |
                        ZC_RING_F_RING_PACKED))
        return -EINVAL;
    /* Packed: the event areas are 4-aligned and the base a position in
     * the ring (bits 0-14) with its wrap counter (bit 15). */
    bool packed = v->features & ZC_RING_F_RING_PACKED;
    if (!v->desc || !v->avail || !v->used || !aligned(v->desc, 16) ||
        !aligned(v->avail, packed ? 4 : 2) || !aligned(v->used, 4) ||
        (packed && (v->base & 0x7fffu) >= v->num))
        return -EINVAL;
    if (v->nregions == 0 || v->nregions > ZC_RING_MAX_REGIONS)
        return -EINVAL;
    int err = v->kick_fd >= 0 ? check_eventfd(v->kick_fd) : 0;
    if (!err && v->call_fd >= 0)
        err = check_eventfd(v->call_fd);
    return err;
}

int zc_ring_attach_vring(struct zc_ring **ringp, const struct zc_ring_vring *v)
{
    *ringp = NULL;
    int err = check_vring(v);
    struct zc_ring *r;
    if (!err)
        err = ring_alloc(&r, v->num);
    if (err)
        return err;
    r->role = ZC_RING_DEVICE;
    r->vring = true;
    r->event_idx = v->features & ZC_RING_F_EVENT_IDX;
    r->indirect = v->features & ZC_RING_F_INDIRECT_DESC;
    r->nregions = v->nregions;
    memcpy(r->region, v->regions, sizeof(r->region[0]) * v->nregions);
    r->kick_fd = v->kick_fd;
    r->call_fd = v->call_fd;
    /* The driver may have run this queue before (a restarted backend, a
     * stopped queue): both indices go on from base. */
    uint16_t base = v->base;
    if (v->features & ZC_RING_F_RING_PACKED) {
        packed_layout(r, v->desc, v->avail, v->used);
        base = packed_pos(r, v->base);
    } else {
        split_layout(r, v->desc, v->avail, v->used);
    }
    r->last_avail = r->avail_seen = base;
    r->used_shadow = r->used_published = base;
    if (r->packed && r->event_idx)
        packed_request(r, true);
    *ringp = r;
    return 0;
}

uint16_t zc_ring_avail_index(const struct zc_ring *r)
{
    return r->packed ? packed_off_wrap(r, r->last_avail) : r->last_avail;
}

int zc_ring_set_call_fd(struct zc_ring *r, int fd)
{
    if (!r->vring)
        return -EINVAL;
    int err = fd >= 0 ? check_eventfd(fd) : 0;
    if (!err)
        r->call_fd = fd;
    return err;
}

void zc_ring_destroy(struct zc_ring *r)
{
    if (!r)
        return;
    if (!r->vring) {
        zc_shm_close(&r->mem);
        zc_shm_close(&r->bufmem);
        close(r->kick_fd);
        close(r->call_fd);
    }
    ring_free(r);
}

uint32_t zc_ring_num(const struct zc_ring *r)
{
    return r->num;
}

void *zc_ring_mem(const struct zc_ring *r)
{
    return r->mem.base;
}

void *zc_ring_buf_base(const struct zc_ring *r)
{
    return r->bufmem.base;
}

size_t zc_ring_buf_size(const struct zc_ring *r)
{
    return r->bufmem.size;
}

void *zc_ring_ptr(const struct zc_ring *r, const struct zc_ring_seg *seg)
{
    return ring_translate(r, seg->off, seg->len);
}

bool zc_ring_broken(const struct zc_ring *r)
{
    return r->broken;
}
