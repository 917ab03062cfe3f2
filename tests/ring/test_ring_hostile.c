/* A hostile peer writes whatever it likes into ring memory.  Each targeted
 * case (bad head, loop, indirect table, out-of-region buffer, overflowing
 * addr+len, readable after writable, index jumps, a used id never posted,
 * a used len beyond what was posted) must end in -EPROTO with the ring
 * marked broken; then thousands of rounds of random garbage must give only
 * chains that lie wholly inside the buffer region, or -EPROTO: never a
 * crash, a hang or a pointer outside the region. */
#include "zc/ring.h"
#include "ring_hostile.h"
#include "zc_test.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <unistd.h>

struct pair {
    struct zc_ring *drv, *dev;
    struct vring vr;
};

static void make_pair(struct pair *pr, uint32_t num)
{
    struct zc_ring_params p = {.num = num, .buf_size = 1 << 16, .features = ZC_RING_F_EVENT_IDX};
    CHECK_OK(zc_ring_create_pair(&pr->drv, &pr->dev, &p));
    vring_init(&pr->vr, num, zc_ring_mem(pr->drv), ZC_RING_ALIGN);
}

static void free_pair(struct pair *pr)
{
    zc_ring_destroy(pr->drv);
    zc_ring_destroy(pr->dev);
}

/* The device pops what the hostile driver wrote; it must refuse, and stay
 * refused. */
static void expect_device_refuses(struct pair *pr)
{
    check_device_refuses(pr->dev);
    free_pair(pr);
}

static void publish(struct pair *pr, uint16_t head)
{
    pr->vr.avail->ring[0] = head;
    __atomic_store_n(&pr->vr.avail->idx, 1, __ATOMIC_RELEASE);
}

static void bad_driver(void)
{
    struct pair pr;
    const uint64_t size = 1 << 16;

    make_pair(&pr, 8); /* head beyond the queue */
    publish(&pr, 8);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* the index runs more than num ahead */
    __atomic_store_n(&pr.vr.avail->idx, 9, __ATOMIC_RELEASE);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* a loop: 0 -> 1 -> 0 */
    pr.vr.desc[0] = (struct vring_desc){.addr = 0, .len = 1, .flags = VRING_DESC_F_NEXT, .next = 1};
    pr.vr.desc[1] = (struct vring_desc){.addr = 0, .len = 1, .flags = VRING_DESC_F_NEXT, .next = 0};
    publish(&pr, 0);
    expect_device_refuses(&pr);

    make_pair(&pr, 32); /* a chain longer than ZC_RING_MAX_SEGS without a loop */
    for (int i = 0; i < 32; i++)
        pr.vr.desc[i] = (struct vring_desc){.addr = 0,
                                            .len = 1,
                                            .flags = i < 31 ? VRING_DESC_F_NEXT : 0,
                                            .next = (uint16_t)(i + 1)};
    publish(&pr, 0);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* next beyond the queue */
    pr.vr.desc[0] = (struct vring_desc){.len = 1, .flags = VRING_DESC_F_NEXT, .next = 8};
    publish(&pr, 0);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* an indirect table */
    pr.vr.desc[0] = (struct vring_desc){.addr = 0, .len = 16, .flags = VRING_DESC_F_INDIRECT};
    publish(&pr, 0);
    expect_device_refuses(&pr);

    const struct vring_desc outside[] = {
        {.addr = size, .len = 1},       {.addr = size - 1, .len = 2},
        {.addr = UINT64_MAX, .len = 2}, {.addr = UINT64_MAX - 10, .len = 100},
        {.addr = 1ull << 40, .len = 0},
    };
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        make_pair(&pr, 8);
        pr.vr.desc[3] = outside[i];
        publish(&pr, 3);
        expect_device_refuses(&pr);
    }

    make_pair(&pr, 8); /* readable after writable */
    pr.vr.desc[0] = (struct vring_desc){
        .addr = 0, .len = 1, .flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, .next = 1};
    pr.vr.desc[1] = (struct vring_desc){.addr = 0, .len = 1};
    publish(&pr, 0);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* readable after an empty writable one (found by fuzz_ring) */
    pr.vr.desc[0] = (struct vring_desc){
        .addr = 0, .len = 0, .flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, .next = 1};
    pr.vr.desc[1] = (struct vring_desc){.addr = 0, .len = 1};
    publish(&pr, 0);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* a head posted again while the device holds it */
    pr.vr.desc[2] = (struct vring_desc){.addr = 0, .len = 1};
    pr.vr.avail->ring[0] = 2;
    pr.vr.avail->ring[1] = 2;
    __atomic_store_n(&pr.vr.avail->idx, 2, __ATOMIC_RELEASE);
    expect_device_refuses(&pr);

    /* A lying length at the edge is accepted: the whole region, exactly. */
    make_pair(&pr, 8);
    pr.vr.desc[0] = (struct vring_desc){.addr = 0, .len = (uint32_t)size};
    publish(&pr, 0);
    struct zc_ring_chain c;
    CHECK_EQ(zc_ring_pop(pr.dev, &c), 1);
    CHECK(zc_ring_ptr(pr.dev, &c.seg[0]) == zc_ring_buf_base(pr.dev));
    free_pair(&pr);
}

static void expect_driver_refuses(struct pair *pr)
{
    check_driver_refuses(pr->drv);
    free_pair(pr);
}

/* Posts one 16-byte writable buffer; returns its head. */
static uint16_t post_one(struct pair *pr)
{
    struct zc_ring_seg s = {.off = 0, .len = 16, .writable = true};
    CHECK_OK(zc_ring_post(pr->drv, &s, 1, NULL));
    return pr->vr.avail->ring[(pr->vr.avail->idx - 1) & (pr->vr.num - 1)];
}

static void used(struct pair *pr, uint16_t idx, uint32_t id, uint32_t len)
{
    pr->vr.used->ring[0] = (struct vring_used_elem){.id = id, .len = len};
    __atomic_store_n(&pr->vr.used->idx, idx, __ATOMIC_RELEASE);
}

static void bad_device(void)
{
    struct pair pr;

    make_pair(&pr, 8); /* a used entry with nothing in flight */
    used(&pr, 1, 0, 0);
    expect_driver_refuses(&pr);

    make_pair(&pr, 8); /* more used entries than in flight */
    post_one(&pr);
    used(&pr, 2, 0, 0);
    expect_driver_refuses(&pr);

    make_pair(&pr, 8); /* an id beyond the queue */
    post_one(&pr);
    used(&pr, 1, 8, 0);
    expect_driver_refuses(&pr);

    make_pair(&pr, 8); /* an id that was never posted */
    uint16_t h = post_one(&pr);
    used(&pr, 1, (h + 1) % 8, 0);
    expect_driver_refuses(&pr);

    make_pair(&pr, 8); /* more bytes written than the buffer holds */
    h = post_one(&pr);
    used(&pr, 1, h, 17);
    expect_driver_refuses(&pr);

    make_pair(&pr, 8); /* the same id twice */
    h = post_one(&pr);
    post_one(&pr);
    pr.vr.used->ring[1] = (struct vring_used_elem){.id = h, .len = 0};
    used(&pr, 2, h, 0);
    expect_driver_refuses(&pr);

    make_pair(&pr, 8); /* the truth, at the edge: all 16 bytes */
    h = post_one(&pr);
    used(&pr, 1, h, 16);
    struct zc_ring_used u;
    CHECK_EQ(zc_ring_reap(pr.drv, &u, 1), 1);
    CHECK_EQ(u.len, 16);
    free_pair(&pr);
}

static void scribble(struct zc_ring *drv)
{
    struct pair view, *pr = &view;
    unsigned num = zc_ring_num(drv);
    vring_init(&view.vr, num, zc_ring_mem(drv), ZC_RING_ALIGN);
    const uint64_t size = 1 << 16;
    for (unsigned i = 0, n = (unsigned)(rnd() % 8); i < n; i++) {
        unsigned k = (unsigned)(rnd() % num);
        switch (rnd() % 5) {
        case 0:
            pr->vr.desc[k] = (struct vring_desc){.addr = plausible(size),
                                                 .len = (uint32_t)plausible(size),
                                                 .flags = (uint16_t)(rnd() % 8),
                                                 .next = (uint16_t)plausible(num)};
            break;
        case 1:
            pr->vr.avail->ring[k] = (uint16_t)plausible(num);
            break;
        case 2:
            __atomic_store_n(&pr->vr.avail->idx, (uint16_t)(pr->vr.avail->idx + plausible(num)),
                             __ATOMIC_RELEASE);
            break;
        case 3:
            pr->vr.used->ring[k] =
                (struct vring_used_elem){(uint32_t)plausible(num), (uint32_t)plausible(64)};
            break;
        default:
            __atomic_store_n(&pr->vr.used->idx, (uint16_t)(pr->vr.used->idx + plausible(4)),
                             __ATOMIC_RELEASE);
            break;
        }
    }
}

/* Random garbage from both sides, with honest traffic mixed in. */
static void random_garbage(void)
{
    garbage_rounds(ZC_RING_F_EVENT_IDX, scribble);
}

int main(void)
{
    RUN(bad_driver);
    RUN(bad_device);
    RUN(random_garbage);
    return 0;
}
