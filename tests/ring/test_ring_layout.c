/* The ring's memory is the kernel's split virtqueue: this test lays the
 * kernel header's own view (linux/virtio_ring.h: vring_init, vring_size,
 * vring_need_event, vring_used_event, vring_avail_event) over a zc ring
 * and plays the other side through it, in both roles. */
#include "zc/ring.h"
#include "zc_test.h"

#include <errno.h>
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

int main(void)
{
    RUN(sizes_and_offsets);
    RUN(zc_driver_kernel_device);
    RUN(kernel_driver_zc_device);
    return 0;
}
