/* A hostile peer on a packed ring (VIRTIO_F_RING_PACKED) writes whatever it
 * likes into the descriptor ring.  A hostile driver: a buffer id beyond the
 * queue or already popped, a link into a slot not made available in its
 * lap, a chain too long or longer than the ring can hold, more outstanding
 * than the ring holds, an indirect table where none was negotiated,
 * buffers outside the region, readable after writable.  A hostile device:
 * a used id beyond the queue, never posted or already reaped, a used len
 * beyond what was posted, used marks in the wrong lap or over a chain not
 * yet published.  Each ends in -EPROTO with the ring broken, or is not
 * taken at all; then random garbage from both sides gives only chains
 * inside the region, or -EPROTO.  A vring over the same format refuses a
 * bad chain (used with len 0) and goes on, and reads indirect tables only
 * where they were negotiated. */
#include "zc/ring.h"
#include "ring_hostile.h"
#include "zc_test.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define AV   (1u << VRING_PACKED_DESC_F_AVAIL)
#define US   (1u << VRING_PACKED_DESC_F_USED)
#define NEXT VRING_DESC_F_NEXT
#define WR   VRING_DESC_F_WRITE
#define SIZE (1u << 16)

struct pair {
    struct zc_ring *drv, *dev;
    struct vring_packed_desc *desc;
    uint32_t num;
};

static void make_pair(struct pair *pr, uint32_t num)
{
    struct zc_ring_params p = {
        .num = num, .buf_size = SIZE, .features = ZC_RING_F_EVENT_IDX | ZC_RING_F_RING_PACKED};
    CHECK_OK(zc_ring_create_pair(&pr->drv, &pr->dev, &p));
    pr->desc = zc_ring_mem(pr->drv);
    pr->num = num;
}

static void free_pair(struct pair *pr)
{
    zc_ring_destroy(pr->drv);
    zc_ring_destroy(pr->dev);
}

/* Writes descriptor i as the hostile driver, flags last. */
static void put(struct pair *pr, unsigned i, uint64_t addr, uint32_t len, uint16_t id,
                uint16_t flags)
{
    pr->desc[i].addr = addr;
    pr->desc[i].len = len;
    pr->desc[i].id = id;
    __atomic_store_n(&pr->desc[i].flags, flags, __ATOMIC_RELEASE);
}

static void expect_device_refuses(struct pair *pr)
{
    check_device_refuses(pr->dev);
    free_pair(pr);
}

static void bad_driver(void)
{
    struct pair pr;

    make_pair(&pr, 8); /* a buffer id beyond the queue */
    put(&pr, 0, 0, 1, 8, AV);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* a link into a slot never made available */
    put(&pr, 1, 0, 1, 0, 0);
    put(&pr, 0, 0, 1, 0, AV | NEXT);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* a link whose wrap bits are the next lap's */
    put(&pr, 1, 0, 1, 0, US);
    put(&pr, 0, 0, 1, 0, AV | NEXT);
    expect_device_refuses(&pr);

    make_pair(&pr, 32); /* longer than ZC_RING_MAX_SEGS */
    for (unsigned i = ZC_RING_MAX_SEGS + 1; i-- > 0;)
        put(&pr, i, 0, 1, 0, (uint16_t)(AV | (i < ZC_RING_MAX_SEGS ? NEXT : 0)));
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* round the whole ring and on: links without end */
    for (unsigned i = 8; i-- > 0;)
        put(&pr, i, 0, 1, 0, AV | NEXT);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* an indirect table, not negotiated */
    put(&pr, 0, 0, 16, 0, AV | VRING_DESC_F_INDIRECT);
    expect_device_refuses(&pr);

    const struct vring_packed_desc outside[] = {
        {.addr = SIZE, .len = 1},       {.addr = SIZE - 1, .len = 2},
        {.addr = UINT64_MAX, .len = 2}, {.addr = UINT64_MAX - 10, .len = 100},
        {.addr = 1ull << 40, .len = 0},
    };
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        make_pair(&pr, 8);
        put(&pr, 0, outside[i].addr, outside[i].len, 3, AV);
        expect_device_refuses(&pr);
    }

    make_pair(&pr, 8); /* readable after an empty writable one */
    put(&pr, 1, 0, 1, 0, AV);
    put(&pr, 0, 0, 0, 0, AV | NEXT | WR);
    expect_device_refuses(&pr);

    make_pair(&pr, 8); /* an id posted again while the device holds it */
    put(&pr, 1, 0, 1, 2, AV);
    put(&pr, 0, 0, 1, 2, AV);
    expect_device_refuses(&pr);

    /* More outstanding than the ring holds: four 2-chains fill it, the
     * device holds them all, and the driver marks position 0 available in
     * the next lap although nothing came back. */
    make_pair(&pr, 8);
    for (unsigned k = 0; k < 4; k++) {
        put(&pr, 2 * k + 1, 0, 1, (uint16_t)k, AV);
        put(&pr, 2 * k, 0, 1, 0, AV | NEXT);
    }
    struct zc_ring_chain c[4];
    CHECK_EQ(zc_ring_pop_batch(pr.dev, c, 4), 4);
    put(&pr, 0, 0, 1, 4, US);
    expect_device_refuses(&pr);

    /* What the head's wrap bits do not mark available is not taken, and
     * breaks nothing: a used mark, the next lap's mark, nothing. */
    make_pair(&pr, 8);
    const uint16_t idle[] = {AV | US, US, 0};
    for (size_t i = 0; i < 3; i++) {
        put(&pr, 0, 0, 1, 0, idle[i]);
        CHECK_EQ(zc_ring_pop(pr.dev, c), 0);
    }
    CHECK(!zc_ring_broken(pr.dev));
    /* A lying length at the edge is accepted: the whole region, exactly. */
    put(&pr, 0, 0, SIZE, 5, AV);
    CHECK_EQ(zc_ring_pop(pr.dev, c), 1);
    CHECK_EQ(c[0].head, 5);
    CHECK(zc_ring_ptr(pr.dev, &c[0].seg[0]) == zc_ring_buf_base(pr.dev));
    free_pair(&pr);
}

static void expect_driver_refuses(struct pair *pr)
{
    check_driver_refuses(pr->drv);
    free_pair(pr);
}

/* The driver posts one buffer with 64 writable bytes; its id. */
static uint16_t post_one(struct pair *pr)
{
    struct zc_ring_seg s = {.off = 0, .len = 64, .writable = true};
    CHECK_OK(zc_ring_post(pr->drv, &s, 1, NULL));
    return pr->desc[0].id;
}

/* Marks descriptor i used in the first lap, as the hostile device. */
static void used(struct pair *pr, unsigned i, uint16_t id, uint32_t len)
{
    pr->desc[i].id = id;
    pr->desc[i].len = len;
    __atomic_store_n(&pr->desc[i].flags, AV | US, __ATOMIC_RELEASE);
}

static void bad_device(void)
{
    struct pair pr;

    make_pair(&pr, 8); /* an id beyond the queue */
    post_one(&pr);
    used(&pr, 0, 8, 0);
    expect_driver_refuses(&pr);

    make_pair(&pr, 8); /* an id never posted */
    uint16_t id = post_one(&pr);
    used(&pr, 0, (uint16_t)(id + 3), 0);
    expect_driver_refuses(&pr);

    make_pair(&pr, 8); /* more than the driver let it write */
    id = post_one(&pr);
    used(&pr, 0, id, 65);
    expect_driver_refuses(&pr);

    make_pair(&pr, 8); /* the same id twice */
    id = post_one(&pr);
    post_one(&pr);
    used(&pr, 0, id, 1);
    used(&pr, 1, id, 1);
    struct zc_ring_used u[4];
    CHECK_EQ(zc_ring_reap(pr.drv, u, 1), 1);
    expect_driver_refuses(&pr);

    /* Marks the driver does not take: the wrong lap's, and one over a
     * chain staged but not yet published; the honest one is taken. */
    make_pair(&pr, 8);
    id = post_one(&pr);
    pr.desc[0].id = id;
    __atomic_store_n(&pr.desc[0].flags, 0, __ATOMIC_RELEASE);
    CHECK_EQ(zc_ring_reap(pr.drv, u, 4), 0);
    used(&pr, 0, id, 7);
    struct zc_ring_seg s = {.off = 0, .len = 8, .writable = true};
    CHECK_OK(zc_ring_add(pr.drv, &s, 1, NULL)); /* staged at position 1 */
    used(&pr, 1, pr.desc[1].id, 0);
    CHECK_EQ(zc_ring_reap(pr.drv, u, 4), 1);
    CHECK_EQ(u[0].len, 7);
    CHECK(!zc_ring_broken(pr.drv));
    free_pair(&pr);
}

static const uint16_t marks[] = {AV, US, AV | US, 0};

static void scribble(struct zc_ring *drv)
{
    struct pair view = {.desc = zc_ring_mem(drv), .num = zc_ring_num(drv)}, *pr = &view;
    for (unsigned i = 0, n = (unsigned)(rnd() % 6); i < n; i++) {
        unsigned k = (unsigned)(rnd() % pr->num);
        if (rnd() % 4 == 0) { /* the event areas */
            uint32_t *ev = (uint32_t *)&pr->desc[pr->num] + rnd() % 2;
            __atomic_store_n(ev, (uint32_t)rnd(), __ATOMIC_RELAXED);
            continue;
        }
        put(pr, k, plausible(SIZE), (uint32_t)plausible(SIZE), (uint16_t)plausible(pr->num),
            (uint16_t)(marks[rnd() % 4] | (rnd() % 8)));
    }
}

/* Random garbage from both sides, with honest traffic mixed in. */
static void random_garbage(void)
{
    garbage_rounds(ZC_RING_F_EVENT_IDX | ZC_RING_F_RING_PACKED, scribble);
}

/* A vring of the packed format over memory of the test's own: the ring,
 * both event areas and one region of guest memory at address 0x10000. */
struct vpacked {
    struct vring_packed_desc desc[8];
    struct vring_packed_desc_event driver, device;
    uint8_t guest[4096];
    struct zc_ring_region region;
    struct zc_ring *ring;
    int call;
};

static void vring_open(struct vpacked *v, uint64_t features, uint16_t base)
{
    memset(v, 0, sizeof(*v));
    v->region =
        (struct zc_ring_region){.addr = 0x10000, .size = sizeof(v->guest), .base = v->guest};
    v->call = eventfd(0, EFD_CLOEXEC);
    struct zc_ring_vring vr = {.num = 8,
                               .features = features | ZC_RING_F_RING_PACKED | ZC_RING_F_VERSION_1,
                               .base = base,
                               .desc = v->desc,
                               .avail = &v->driver,
                               .used = &v->device,
                               .regions = &v->region,
                               .nregions = 1,
                               .kick_fd = -1,
                               .call_fd = v->call};
    CHECK_OK(zc_ring_attach_vring(&v->ring, &vr));
}

static void vring_close(struct vpacked *v)
{
    zc_ring_destroy(v->ring);
    close(v->call);
}

static void vring_refuses_and_goes_on(void)
{
    static struct vpacked v;
    vring_open(&v, ZC_RING_F_INDIRECT_DESC, 0x8000); /* position 0, wrap 1 */
    /* An indirect table of three packed entries in guest memory (NEXT is
     * meaningless there and ignored), id 4. */
    struct vring_packed_desc *t = (void *)v.guest;
    t[0] = (struct vring_packed_desc){.addr = 0x10100, .len = 10};
    t[1] = (struct vring_packed_desc){.addr = 0x10200, .len = 20, .flags = WR | NEXT};
    t[2] = (struct vring_packed_desc){.addr = 0x10300, .len = 30, .flags = WR};
    v.desc[0] = (struct vring_packed_desc){
        .addr = 0x10000, .len = 48, .id = 4, .flags = AV | VRING_DESC_F_INDIRECT};
    /* Then bad chains: outside the region (id 1), an indirect with NEXT
     * (id 2, two slots), a table holding a table (id 3); then a good one. */
    v.desc[1] = (struct vring_packed_desc){.addr = 0x20000, .len = 1, .id = 1, .flags = AV};
    v.desc[2] = (struct vring_packed_desc){
        .addr = 0x10000, .len = 16, .flags = AV | VRING_DESC_F_INDIRECT | NEXT};
    v.desc[3] = (struct vring_packed_desc){.addr = 0x10100, .len = 1, .id = 2, .flags = AV};
    t[4] = (struct vring_packed_desc){.addr = 0x10000, .len = 16, .flags = VRING_DESC_F_INDIRECT};
    v.desc[4] = (struct vring_packed_desc){
        .addr = 0x10040, .len = 16, .id = 3, .flags = AV | VRING_DESC_F_INDIRECT};
    v.desc[5] = (struct vring_packed_desc){.addr = 0x10400, .len = 5, .id = 5, .flags = AV};
    struct zc_ring_chain c[8];
    CHECK_EQ(zc_ring_pop_batch(v.ring, c, 8), 2);
    CHECK_EQ(c[0].head, 4);
    CHECK_EQ(c[0].nseg, 3);
    CHECK_EQ(c[0].readable_len, 10);
    CHECK_EQ(c[0].writable_len, 50);
    CHECK_EQ(c[1].head, 5);
    struct zc_ring_stats st;
    zc_ring_get_stats(v.ring, &st);
    CHECK_EQ(st.refused, 3);
    /* The refusals came back used, len 0, published at once, at the next
     * used positions: 0 (the table's chain is still held: out of order),
     * 1, then 3 past the 2-slot chain. */
    const unsigned at[] = {0, 1, 3};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(v.desc[at[i]].id, i + 1);
        CHECK_EQ(v.desc[at[i]].len, 0);
        CHECK_EQ(v.desc[at[i]].flags & (AV | US), AV | US);
    }
    CHECK(!zc_ring_broken(v.ring));
    /* The next index to take, as GET_VRING_BASE reports it: 6, wrap 1. */
    CHECK_EQ(zc_ring_avail_index(v.ring), 0x8006);
    vring_close(&v);

    /* Without INDIRECT_DESC negotiated, a table is refused too. */
    vring_open(&v, 0, 0x8000);
    v.desc[0] = (struct vring_packed_desc){
        .addr = 0x10000, .len = 48, .id = 4, .flags = AV | VRING_DESC_F_INDIRECT};
    CHECK_EQ(zc_ring_pop_batch(v.ring, c, 8), 0);
    zc_ring_get_stats(v.ring, &st);
    CHECK_EQ(st.refused, 1);
    vring_close(&v);

    /* A base in the second lap: position 3 with wrap counter 0. */
    vring_open(&v, 0, 3);
    v.desc[3] = (struct vring_packed_desc){.addr = 0x10000, .len = 1, .id = 0, .flags = AV};
    CHECK_EQ(zc_ring_pop(v.ring, c), 0); /* the first lap's mark */
    v.desc[3].flags = US;
    CHECK_EQ(zc_ring_pop(v.ring, c), 1);
    CHECK_OK(zc_ring_push(v.ring, 0, 0));
    CHECK_EQ(zc_ring_complete(v.ring), 1);
    CHECK_EQ(v.desc[3].flags & (AV | US), 0); /* used in a lap with wrap 0 */
    vring_close(&v);

    /* A base beyond the queue is refused. */
    struct zc_ring_vring bad = {.num = 8,
                                .features = ZC_RING_F_RING_PACKED,
                                .base = 8,
                                .desc = v.desc,
                                .avail = &v.driver,
                                .used = &v.device,
                                .regions = &v.region,
                                .nregions = 1,
                                .kick_fd = -1,
                                .call_fd = -1};
    struct zc_ring *r;
    CHECK_EQ(zc_ring_attach_vring(&r, &bad), -EINVAL);
}

int main(void)
{
    RUN(bad_driver);
    RUN(bad_device);
    RUN(random_garbage);
    RUN(vring_refuses_and_goes_on);
    return 0;
}
