/* The ring's memory is the kernel's split virtqueue: this test lays the
 * kernel header's own view (linux/virtio_ring.h: vring_init, vring_size,
 * vring_need_event, vring_used_event, vring_avail_event) over a zc ring
 * and plays the other side through it, in both roles.  The packed format
 * likewise, through struct vring_packed_desc and vring_packed_desc_event. */
#include "zc/ring.h"
#include "zc_test.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <unistd.h>

/* How many notifications an eventfd holds (and clears it). */
static uint64_t take_count(int efd)
{
    uint64_t v = 0;
    if (read(efd, &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}

static void sizes_and_offsets(void)
{
    for (uint32_t num = 1; num <= ZC_RING_MAX_NUM; num *= 2)
        CHECK_EQ(zc_ring_mem_size(num), vring_size(num, ZC_RING_ALIGN));
    CHECK_EQ(sizeof(struct vring_desc), 16);

    struct zc_ring *r;
    struct zc_ring_params p = {.num = 256, .buf_size = 1 << 16, .features = ZC_RING_F_EVENT_IDX};
    CHECK_OK(zc_ring_create(&r, ZC_RING_DRIVER, &p));
    struct vring vr;
    vring_init(&vr, 256, zc_ring_mem(r), ZC_RING_ALIGN);
    CHECK((char *)vr.desc == (char *)zc_ring_mem(r));
    CHECK_EQ((char *)vr.avail - (char *)vr.desc, 16 * 256);
    CHECK_EQ(((uintptr_t)vr.used) % ZC_RING_ALIGN, 0);
    zc_ring_destroy(r);

    /* Queue sizes: powers of two up to 32768, nothing else. */
    const uint32_t bad[] = {0, 3, 100, 65536, 1u << 31};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p.num = bad[i];
        CHECK_EQ(zc_ring_create(&r, ZC_RING_DRIVER, &p), -EINVAL);
    }
    p.num = 8;
    p.features = 1;
    CHECK_EQ(zc_ring_create(&r, ZC_RING_DRIVER, &p), -EINVAL);
}

/* zc is the driver; the kernel view is the device. */
static void zc_driver_kernel_device(void)
{
    struct zc_ring *r;
    struct zc_ring_params p = {.num = 16, .buf_size = 1 << 16, .features = ZC_RING_F_EVENT_IDX};
    CHECK_OK(zc_ring_create(&r, ZC_RING_DRIVER, &p));
    struct zc_ring_params ep;
    struct zc_ring_fds fds;
    zc_ring_export(r, &ep, &fds);
    struct vring vr;
    vring_init(&vr, 16, zc_ring_mem(r), ZC_RING_ALIGN);

    /* A chain: 100 readable bytes at 0, 200 writable at 4096. */
    struct zc_ring_seg segs[2] = {{.off = 0, .len = 100},
                                  {.off = 4096, .len = 200, .writable = true}};
    int token;
    CHECK_OK(zc_ring_add(r, segs, 2, &token));
    CHECK_EQ(vr.avail->idx, 0); /* staged, not yet published */
    CHECK_EQ(zc_ring_submit(r), 1);
    CHECK_EQ(vr.avail->idx, 1);
    uint16_t head = vr.avail->ring[0];
    CHECK(head < 16);
    struct vring_desc *d = &vr.desc[head];
    CHECK_EQ(d->addr, 0);
    CHECK_EQ(d->len, 100);
    CHECK_EQ(d->flags, VRING_DESC_F_NEXT);
    struct vring_desc *d2 = &vr.desc[d->next];
    CHECK_EQ(d2->addr, 4096);
    CHECK_EQ(d2->len, 200);
    CHECK_EQ(d2->flags, VRING_DESC_F_WRITE);
    /* avail_event was 0: the device asked for a kick at the first entry. */
    CHECK_EQ(take_count(fds.kick_fd), 1);

    /* Kick suppression through the kernel's vring_avail_event(): the device
     * wants a kick only when avail->idx passes 5. */
    vring_avail_event(&vr) = 5;
    struct zc_ring_seg one = {.off = 0, .len = 64};
    unsigned kicks = 0;
    for (int i = 0; i < 8; i++) {
        uint16_t old = vr.avail->idx;
        CHECK_OK(zc_ring_post(r, &one, 1, NULL));
        bool want = vring_need_event(vring_avail_event(&vr), vr.avail->idx, old);
        uint64_t got = take_count(fds.kick_fd);
        CHECK_EQ(got, want ? 1 : 0);
        kicks += (unsigned)got;
    }
    CHECK_EQ(kicks, 1);
    CHECK_EQ(zc_ring_free_descs(r), 16 - 2 - 8);

    /* The device returns the chain with 150 bytes written. */
    vr.used->ring[0].id = head;
    vr.used->ring[0].len = 150;
    __atomic_store_n(&vr.used->idx, 1, __ATOMIC_RELEASE);
    struct zc_ring_used u[4];
    CHECK_EQ(zc_ring_reap(r, u, 4), 1);
    CHECK(u[0].token == &token);
    CHECK_EQ(u[0].len, 150);
    CHECK_EQ(u[0].head, head);
    CHECK_EQ(zc_ring_free_descs(r), 16 - 8);
    CHECK_EQ(zc_ring_reap(r, u, 4), 0);

    /* The driver asks for a call through used_event (zc_ring_arm). */
    CHECK_EQ(zc_ring_arm(r), 0);
    CHECK_EQ(vring_used_event(&vr), 1);
    zc_ring_destroy(r);
}

/* zc is the device; the kernel view is the driver. */
static void kernel_driver_zc_device(void)
{
    struct zc_ring *drv, *dev;
    struct zc_ring_params p = {.num = 8, .buf_size = 1 << 16, .features = ZC_RING_F_EVENT_IDX};
    CHECK_OK(zc_ring_create(&drv, ZC_RING_DRIVER, &p));
    struct zc_ring_params ep;
    struct zc_ring_fds fds, mine;
    zc_ring_export(drv, &ep, &fds);
    mine.ring_fd = dup(fds.ring_fd);
    mine.buf_fd = dup(fds.buf_fd);
    mine.kick_fd = dup(fds.kick_fd);
    mine.call_fd = dup(fds.call_fd);
    CHECK_OK(zc_ring_attach(&dev, ZC_RING_DEVICE, &ep, &mine));
    struct vring vr;
    vring_init(&vr, 8, zc_ring_mem(drv), ZC_RING_ALIGN);

    /* Three one-descriptor buffers and one 3-chain, by hand. */
    for (int i = 0; i < 3; i++) {
        vr.desc[i] = (struct vring_desc){.addr = 1024u * (unsigned)i, .len = 64};
        vr.avail->ring[i] = (uint16_t)i;
    }
    vr.desc[5] =
        (struct vring_desc){.addr = 8192, .len = 10, .flags = VRING_DESC_F_NEXT, .next = 7};
    vr.desc[7] = (struct vring_desc){
        .addr = 9000, .len = 20, .flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, .next = 6};
    vr.desc[6] = (struct vring_desc){.addr = 9500, .len = 30, .flags = VRING_DESC_F_WRITE};
    vr.avail->ring[3] = 5;
    vring_used_event(&vr) = 0;
    __atomic_store_n(&vr.avail->idx, 4, __ATOMIC_RELEASE);

    struct zc_ring_chain c[8];
    CHECK_EQ(zc_ring_pop_batch(dev, c, 8), 4);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(c[i].head, i);
        CHECK_EQ(c[i].nseg, 1);
        CHECK_EQ(c[i].seg[0].off, 1024u * (unsigned)i);
        CHECK_EQ(c[i].readable_len, 64);
        CHECK_EQ(c[i].writable_len, 0);
    }
    CHECK_EQ(c[3].head, 5);
    CHECK_EQ(c[3].nseg, 3);
    CHECK_EQ(c[3].readable_len, 10);
    CHECK_EQ(c[3].writable_len, 50);
    CHECK(c[3].seg[1].writable && c[3].seg[2].off == 9500);
    CHECK((char *)zc_ring_ptr(dev, &c[3].seg[2]) == (char *)zc_ring_buf_base(dev) + 9500);

    /* Completions, published together; the driver asked at used_event 0. */
    struct zc_ring_done done[4] = {{0, 0}, {1, 0}, {2, 0}, {5, 50}};
    CHECK_EQ(zc_ring_push_batch(dev, done, 4), 4);
    CHECK_EQ(vr.used->idx, 4);
    CHECK_EQ(vr.used->ring[3].id, 5);
    CHECK_EQ(vr.used->ring[3].len, 50);
    CHECK_EQ(take_count(fds.call_fd), 1);
    /* The device asked for the next kick at avail_event = 4. */
    CHECK_EQ(zc_ring_arm(dev), 0);
    CHECK_EQ(vring_avail_event(&vr), 4);

    /* Call suppression: used_event 10 is not passed by 4 -> 5. */
    vring_used_event(&vr) = 10;
    vr.avail->ring[4] = 3;
    vr.desc[3] = (struct vring_desc){.addr = 0, .len = 8};
    __atomic_store_n(&vr.avail->idx, 5, __ATOMIC_RELEASE);
    CHECK_EQ(take_count(fds.kick_fd), 0);
    CHECK_EQ(zc_ring_pop(dev, c), 1);
    CHECK_OK(zc_ring_push(dev, 3, 0));
    CHECK_EQ(zc_ring_complete(dev), 1);
    CHECK_EQ(take_count(fds.call_fd), 0);
    zc_ring_destroy(dev);
    zc_ring_destroy(drv);
}

/* The packed layout zc's header and ring promise, as the kernel has it. */
_Static_assert(ZC_RING_F_RING_PACKED == 1ull << VIRTIO_F_RING_PACKED, "feature bit 34");
_Static_assert(sizeof(struct vring_packed_desc) == 16, "packed descriptor");
_Static_assert(offsetof(struct vring_packed_desc, addr) == 0, "addr");
_Static_assert(offsetof(struct vring_packed_desc, len) == 8, "len");
_Static_assert(offsetof(struct vring_packed_desc, id) == 12, "id");
_Static_assert(offsetof(struct vring_packed_desc, flags) == 14, "flags");
_Static_assert(sizeof(struct vring_packed_desc_event) == 4, "event area");
_Static_assert(offsetof(struct vring_packed_desc_event, off_wrap) == 0, "off_wrap");
_Static_assert(offsetof(struct vring_packed_desc_event, flags) == 2, "event flags");

#define P_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define P_USED  (1u << VRING_PACKED_DESC_F_USED)

/* A packed ring's parts through the kernel's structs. */
struct packed_view {
    struct vring_packed_desc *desc;
    struct vring_packed_desc_event *driver, *device;
};

static struct packed_view packed_view(struct zc_ring *r)
{
    struct vring_packed_desc *d = zc_ring_mem(r);
    uint32_t num = zc_ring_num(r);
    return (struct packed_view){d, (void *)&d[num], (void *)((char *)&d[num] + 4)};
}

static void packed_sizes(void)
{
    CHECK_EQ(VRING_PACKED_DESC_F_AVAIL, 7);
    CHECK_EQ(VRING_PACKED_DESC_F_USED, 15);
    CHECK_EQ(VRING_PACKED_EVENT_FLAG_ENABLE, 0);
    CHECK_EQ(VRING_PACKED_EVENT_FLAG_DISABLE, 1);
    CHECK_EQ(VRING_PACKED_EVENT_FLAG_DESC, 2);
    CHECK_EQ(VRING_PACKED_EVENT_F_WRAP_CTR, 15);
    for (uint32_t num = 1; num <= ZC_RING_MAX_NUM; num *= 2)
        CHECK_EQ(zc_ring_layout_size(num, ZC_RING_F_RING_PACKED),
                 num * sizeof(struct vring_packed_desc) +
                     2 * sizeof(struct vring_packed_desc_event));
}

/* zc is the driver of a packed ring; the kernel view is the device, and
 * wraps the ring twice. */
static void packed_zc_driver_kernel_device(void)
{
    struct zc_ring *r;
    struct zc_ring_params p = {
        .num = 4, .buf_size = 1 << 16, .features = ZC_RING_F_EVENT_IDX | ZC_RING_F_RING_PACKED};
    CHECK_OK(zc_ring_create(&r, ZC_RING_DRIVER, &p));
    struct zc_ring_params ep;
    struct zc_ring_fds fds;
    zc_ring_export(r, &ep, &fds);
    CHECK_EQ(ep.features, p.features);
    struct packed_view v = packed_view(r);
    /* The driver asks at once for a call at position 0, wrap 1. */
    CHECK_EQ(v.driver->flags, VRING_PACKED_EVENT_FLAG_DESC);
    CHECK_EQ(v.driver->off_wrap, 1u << VRING_PACKED_EVENT_F_WRAP_CTR);

    uint16_t pos = 0, wrap = 1;
    for (int round = 0; round < 6; round++) {
        /* A 2-chain: readable then writable, both marked available in
         * this lap, the id in each. */
        struct zc_ring_seg s[2] = {{.off = 64u * (unsigned)round, .len = 8},
                                   {.off = 4096, .len = 32, .writable = true}};
        CHECK_OK(zc_ring_post(r, s, 2, (void *)(uintptr_t)(round + 1)));
        uint16_t avail = wrap ? P_AVAIL : P_USED;
        struct vring_packed_desc a = v.desc[pos], b = v.desc[(pos + 1) % 4];
        CHECK_EQ(a.addr, 64u * (unsigned)round);
        CHECK_EQ(a.len, 8);
        CHECK_EQ(a.flags, VRING_DESC_F_NEXT | avail);
        uint16_t bwrap = pos + 1 == 4 ? !wrap : wrap;
        CHECK_EQ(b.flags, VRING_DESC_F_WRITE | (bwrap ? P_AVAIL : P_USED));
        CHECK_EQ(b.id, a.id);
        /* The device (here) writes one used descriptor at the chain's
         * first position and skips both. */
        v.desc[pos].id = b.id;
        v.desc[pos].len = 5;
        __atomic_store_n(&v.desc[pos].flags, wrap ? P_AVAIL | P_USED : 0, __ATOMIC_RELEASE);
        struct zc_ring_used u;
        CHECK_EQ(zc_ring_reap(r, &u, 1), 1);
        CHECK_EQ((uintptr_t)u.token, round + 1);
        CHECK_EQ(u.len, 5);
        CHECK_EQ(zc_ring_reap(r, &u, 1), 0);
        pos = (uint16_t)(pos + 2);
        if (pos >= 4) {
            pos -= 4;
            wrap = !wrap;
        }
    }
    /* Kick suppression: the device asks for a kick at the next position
     * in this lap; posting it kicks, a second post does not. */
    take_count(fds.kick_fd);
    v.device->off_wrap = (uint16_t)(pos | wrap << VRING_PACKED_EVENT_F_WRAP_CTR);
    v.device->flags = VRING_PACKED_EVENT_FLAG_DESC;
    struct zc_ring_seg one = {.off = 0, .len = 1};
    CHECK_OK(zc_ring_post(r, &one, 1, NULL));
    CHECK_EQ(take_count(fds.kick_fd), 1);
    CHECK_OK(zc_ring_post(r, &one, 1, NULL));
    CHECK_EQ(take_count(fds.kick_fd), 0);
    v.device->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
    CHECK_OK(zc_ring_post(r, &one, 1, NULL));
    CHECK_EQ(take_count(fds.kick_fd), 0);
    zc_ring_destroy(r);
}

/* The kernel view is the driver of a packed ring, zc the device. */
static void packed_kernel_driver_zc_device(void)
{
    struct zc_ring *drv, *dev;
    struct zc_ring_params p = {
        .num = 8, .buf_size = 1 << 16, .features = ZC_RING_F_EVENT_IDX | ZC_RING_F_RING_PACKED};
    CHECK_OK(zc_ring_create_pair(&drv, &dev, &p));
    struct packed_view v = packed_view(drv);
    /* A one-descriptor buffer (id 6) and a 3-chain (id 2, in its last
     * descriptor as the spec places it), head flags last. */
    v.desc[0] = (struct vring_packed_desc){.addr = 100, .len = 64, .id = 6, .flags = P_AVAIL};
    v.desc[2] = (struct vring_packed_desc){
        .addr = 9000, .len = 20, .flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | P_AVAIL};
    v.desc[3] = (struct vring_packed_desc){
        .addr = 9500, .len = 30, .id = 2, .flags = VRING_DESC_F_WRITE | P_AVAIL};
    v.desc[1] =
        (struct vring_packed_desc){.addr = 8192, .len = 10, .flags = VRING_DESC_F_NEXT | P_AVAIL};
    struct zc_ring_chain c[4];
    CHECK_EQ(zc_ring_pop_batch(dev, c, 4), 2);
    CHECK_EQ(c[0].head, 6);
    CHECK_EQ(c[0].readable_len, 64);
    CHECK_EQ(c[1].head, 2);
    CHECK_EQ(c[1].nseg, 3);
    CHECK_EQ(c[1].readable_len, 10);
    CHECK_EQ(c[1].writable_len, 50);
    /* Out of order: the 3-chain first, at position 0, the other at 3. */
    struct zc_ring_done done[2] = {{2, 50}, {6, 0}};
    CHECK_EQ(zc_ring_push_batch(dev, done, 2), 2);
    CHECK_EQ(v.desc[0].id, 2);
    CHECK_EQ(v.desc[0].len, 50);
    CHECK_EQ(v.desc[0].flags & (P_AVAIL | P_USED), P_AVAIL | P_USED);
    CHECK_EQ(v.desc[3].id, 6);
    CHECK_EQ(v.desc[3].flags & (P_AVAIL | P_USED), P_AVAIL | P_USED);
    /* The device asks for the next kick at position 4, wrap 1. */
    CHECK_EQ(zc_ring_arm(dev), 0);
    CHECK_EQ(v.device->flags, VRING_PACKED_EVENT_FLAG_DESC);
    CHECK_EQ(v.device->off_wrap, 4 | 1u << VRING_PACKED_EVENT_F_WRAP_CTR);
    zc_ring_destroy(dev);
    zc_ring_destroy(drv);
}

int main(void)
{
    RUN(sizes_and_offsets);
    RUN(zc_driver_kernel_device);
    RUN(kernel_driver_zc_device);
    RUN(packed_sizes);
    RUN(packed_zc_driver_kernel_device);
    RUN(packed_kernel_driver_zc_device);
    return 0;
}
