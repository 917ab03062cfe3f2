/* The slot pool: slots come and go through the free stack only as the
 * device really used them.  A hostile device completing ids never posted,
 * completing one slot twice, and a pool run dry each get an error, and the
 * free stack afterwards holds each slot at most once, never one still
 * posted.  Two pools over one ring reclaim for each other. */
#include "zc/ring.h"
#include "zc_test.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#define NUM  8
#define SLOT 256

struct pair {
    struct zc_ring *drv, *dev;
    struct zc_ring_pool *pool;
    struct vring vr;
};

/* The ring format under test: 0 (split) or ZC_RING_F_RING_PACKED. */
static uint64_t format;

static void make_pair(struct pair *pr, uint32_t nslots)
{
    struct zc_ring_params p = {
        .num = NUM, .buf_size = 1 << 16, .features = ZC_RING_F_EVENT_IDX | format};
    CHECK_OK(zc_ring_create_pair(&pr->drv, &pr->dev, &p));
    CHECK_OK(zc_ring_pool_create(&pr->pool, pr->drv, 0, SLOT, nslots));
    vring_init(&pr->vr, NUM, zc_ring_mem(pr->drv), ZC_RING_ALIGN);
}

static void free_pair(struct pair *pr)
{
    zc_ring_pool_destroy(pr->pool);
    zc_ring_destroy(pr->drv);
    zc_ring_destroy(pr->dev);
}

/* Takes every free slot: each index once, never one in flight. */
static void check_free_stack(struct zc_ring_pool *p, const bool *posted)
{
    uint32_t n = zc_ring_pool_free(p);
    bool seen[NUM] = {false};
    for (uint32_t k = 0; k < n; k++) {
        int64_t s = zc_ring_pool_get(p);
        CHECK(s >= 0 && s < (int64_t)zc_ring_pool_slots(p));
        CHECK(!seen[s]);
        CHECK(!posted || !posted[s]);
        seen[s] = true;
    }
    CHECK_EQ(zc_ring_pool_get(p), -ENOBUFS);
    for (uint32_t s = 0; s < zc_ring_pool_slots(p); s++)
        if (seen[s])
            CHECK_OK(zc_ring_pool_put(p, s));
    CHECK_EQ(zc_ring_pool_free(p), n);
}

/* A used entry the hostile device writes straight into ring memory. */
static void used(struct pair *pr, uint16_t idx, uint32_t id)
{
    pr->vr.used->ring[(idx - 1) & (NUM - 1)] = (struct vring_used_elem){.id = id, .len = 0};
    __atomic_store_n(&pr->vr.used->idx, idx, __ATOMIC_RELEASE);
}

static uint32_t post_slot(struct pair *pr, uint32_t len)
{
    int64_t s = zc_ring_pool_get(pr->pool);
    CHECK(s >= 0);
    memset(zc_ring_pool_ptr(pr->pool, (uint32_t)s), (int)s, len);
    CHECK_OK(zc_ring_pool_post(pr->pool, (uint32_t)s, len));
    return (uint32_t)s;
}

/* Post, pop, complete, reclaim: the slot's bytes are what the device sees
 * and the slot comes back. */
static void round_trip(void)
{
    struct pair pr;
    make_pair(&pr, 4);
    uint32_t s = post_slot(&pr, 100);
    CHECK_EQ(zc_ring_pool_in_flight(pr.pool), 1);
    struct zc_ring_chain c;
    CHECK_EQ(zc_ring_pop(pr.dev, &c), 1);
    CHECK_EQ(c.nseg, 1);
    CHECK_EQ(c.readable_len, 100);
    CHECK_EQ(c.seg[0].off, zc_ring_pool_off(pr.pool, s));
    CHECK_EQ(*(uint8_t *)zc_ring_ptr(pr.dev, &c.seg[0]), (uint8_t)s);
    CHECK_EQ(zc_ring_pool_reclaim(pr.pool), 0); /* nothing used yet */
    CHECK_OK(zc_ring_push(pr.dev, c.head, 0));
    CHECK_EQ(zc_ring_complete(pr.dev), 1);
    CHECK_EQ(zc_ring_pool_reclaim(pr.pool), 1);
    CHECK_EQ(zc_ring_pool_in_flight(pr.pool), 0);
    check_free_stack(pr.pool, NULL);
    CHECK_EQ(zc_ring_pool_free(pr.pool), 4);

    /* A header and its payload as two segments, back to back. */
    int64_t t = zc_ring_pool_get(pr.pool);
    uint32_t lens[2] = {16, 200};
    CHECK_OK(zc_ring_pool_add(pr.pool, (uint32_t)t, lens, 2));
    CHECK_EQ(zc_ring_submit(pr.drv), 1);
    CHECK_EQ(zc_ring_pop(pr.dev, &c), 1);
    CHECK_EQ(c.nseg, 2);
    CHECK_EQ(c.seg[1].off, zc_ring_pool_off(pr.pool, (uint32_t)t) + 16);
    free_pair(&pr);
}

/* The caller's mistakes are refused and change nothing. */
static void misuse(void)
{
    struct pair pr;
    make_pair(&pr, 4);
    struct zc_ring_pool *q;
    CHECK_EQ(zc_ring_pool_create(&q, pr.drv, 0, SLOT, 0), -EINVAL);
    CHECK_EQ(zc_ring_pool_create(&q, pr.drv, 0, 0, 4), -EINVAL);
    CHECK_EQ(zc_ring_pool_create(&q, pr.drv, 1 << 15, 1 << 14, 3), -EINVAL); /* past the end */
    CHECK_EQ(zc_ring_pool_create(&q, pr.dev, 0, SLOT, 4), -EINVAL);          /* not a driver */
    CHECK_EQ(zc_ring_pool_post(pr.pool, 0, 10), -EINVAL);                    /* free, not taken */
    CHECK_EQ(zc_ring_pool_put(pr.pool, 0), -EINVAL);
    CHECK_EQ(zc_ring_pool_put(pr.pool, 4), -EINVAL);
    CHECK(zc_ring_pool_ptr(pr.pool, 4) == NULL);
    int64_t s = zc_ring_pool_get(pr.pool);
    CHECK_EQ(zc_ring_pool_post(pr.pool, (uint32_t)s, SLOT + 1), -EINVAL); /* beyond the slot */
    uint32_t lens[2] = {SLOT, 1};
    CHECK_EQ(zc_ring_pool_add(pr.pool, (uint32_t)s, lens, 2), -EINVAL);
    CHECK_OK(zc_ring_pool_post(pr.pool, (uint32_t)s, SLOT));
    CHECK_EQ(zc_ring_pool_post(pr.pool, (uint32_t)s, SLOT), -EINVAL); /* posted twice */
    CHECK_EQ(zc_ring_pool_put(pr.pool, (uint32_t)s), -EINVAL);        /* still posted */
    bool posted[NUM] = {false};
    posted[s] = true;
    check_free_stack(pr.pool, posted);
    CHECK_EQ(zc_ring_pool_free(pr.pool), 3);
    CHECK(!zc_ring_broken(pr.drv));
    free_pair(&pr);
}

/* Every slot in flight: -ENOBUFS, and waiting gives up in time. */
static void exhaustion(void)
{
    struct pair pr;
    make_pair(&pr, 4);
    bool posted[NUM] = {false};
    for (int i = 0; i < 4; i++)
        posted[post_slot(&pr, 8)] = true;
    CHECK_EQ(zc_ring_pool_get(pr.pool), -ENOBUFS);
    CHECK_EQ(zc_ring_pool_reclaim(pr.pool), 0);
    CHECK_EQ(zc_ring_pool_get(pr.pool), -ENOBUFS);
    CHECK_EQ(zc_ring_pool_wait(pr.pool, 1, 1000000), -ETIMEDOUT);
    CHECK_EQ(zc_ring_pool_wait(pr.pool, 5, 0), -EINVAL);
    CHECK_EQ(zc_ring_pool_free(pr.pool), 0);
    CHECK_EQ(zc_ring_pool_in_flight(pr.pool), 4);

    /* One completion frees exactly that slot. */
    struct zc_ring_chain c;
    CHECK_EQ(zc_ring_pop(pr.dev, &c), 1);
    CHECK_OK(zc_ring_push(pr.dev, c.head, 0));
    CHECK_EQ(zc_ring_complete(pr.dev), 1);
    CHECK_OK(zc_ring_pool_wait(pr.pool, 1, 1000000000));
    CHECK_EQ(zc_ring_pool_free(pr.pool), 1);
    int64_t s = zc_ring_pool_get(pr.pool);
    CHECK_EQ(c.seg[0].off, zc_ring_pool_off(pr.pool, (uint32_t)s));
    CHECK_OK(zc_ring_pool_put(pr.pool, (uint32_t)s));
    posted[s] = false;
    check_free_stack(pr.pool, posted);
    free_pair(&pr);
}

/* After the refusal the pool hands out nothing that is still in flight. */
static void expect_refused(struct pair *pr, const bool *posted, uint32_t nfree)
{
    CHECK_EQ(zc_ring_pool_reclaim(pr->pool), -EPROTO);
    CHECK(zc_ring_broken(pr->drv));
    CHECK_EQ(zc_ring_pool_wait(pr->pool, 4, 1000000), -EPROTO);
    CHECK_EQ(zc_ring_pool_free(pr->pool), nfree);
    check_free_stack(pr->pool, posted);
    free_pair(pr);
}

static void hostile_device(void)
{
    struct pair pr;
    bool posted[NUM] = {false};

    make_pair(&pr, 4); /* an id never posted, nothing in flight */
    used(&pr, 1, 0);
    expect_refused(&pr, posted, 4);

    make_pair(&pr, 4); /* an id never posted, one slot in flight */
    uint32_t s = post_slot(&pr, 8);
    posted[s] = true;
    uint16_t head = pr.vr.avail->ring[0];
    used(&pr, 1, (head + 1) % NUM);
    expect_refused(&pr, posted, 3);

    make_pair(&pr, 4); /* an id beyond the queue */
    posted[post_slot(&pr, 8)] = true;
    used(&pr, 1, NUM + 3);
    expect_refused(&pr, posted, 3);

    make_pair(&pr, 4); /* one slot completed twice in one batch */
    post_slot(&pr, 8);
    uint32_t second = post_slot(&pr, 8);
    head = pr.vr.avail->ring[0];
    used(&pr, 1, head);
    used(&pr, 2, head);
    memset(posted, 0, sizeof(posted));
    posted[second] = true; /* the first came back before the repeat */
    CHECK_EQ(zc_ring_pool_reclaim(pr.pool), -EPROTO);
    CHECK(zc_ring_broken(pr.drv));
    CHECK(zc_ring_pool_free(pr.pool) <= 3);
    check_free_stack(pr.pool, posted);
    free_pair(&pr);

    make_pair(&pr, 4); /* one slot completed again after it was reclaimed */
    s = post_slot(&pr, 8);
    head = pr.vr.avail->ring[0];
    used(&pr, 1, head);
    CHECK_EQ(zc_ring_pool_reclaim(pr.pool), 1);
    used(&pr, 2, head);
    memset(posted, 0, sizeof(posted));
    expect_refused(&pr, posted, 4);
}

/* Two pools of different slot sizes over one ring: either reclaims the
 * other's slots into the other's stack. */
static void two_pools(void)
{
    struct pair pr;
    make_pair(&pr, 2);
    struct zc_ring_pool *big;
    CHECK_OK(zc_ring_pool_create(&big, pr.drv, 2 * SLOT, 4096, 2));
    int64_t b = zc_ring_pool_get(big);
    CHECK_OK(zc_ring_pool_post(big, (uint32_t)b, 4000));
    uint32_t s = post_slot(&pr, 8);
    struct zc_ring_chain c[2];
    CHECK_EQ(zc_ring_pop_batch(pr.dev, c, 2), 2);
    CHECK_EQ(c[0].seg[0].off, 2 * SLOT + (uint64_t)b * 4096);
    struct zc_ring_done d[2] = {{c[0].head, 0}, {c[1].head, 0}};
    CHECK_EQ(zc_ring_push_batch(pr.dev, d, 2), 2);
    CHECK_EQ(zc_ring_pool_reclaim(pr.pool), 2);
    CHECK_EQ(zc_ring_pool_free(big), 2);
    CHECK_EQ(zc_ring_pool_in_flight(big), 0);
    CHECK_EQ(zc_ring_pool_free(pr.pool), 2);
    (void)s;
    zc_ring_pool_destroy(big);
    free_pair(&pr);
}

int main(void)
{
    RUN(round_trip);
    RUN(misuse);
    RUN(exhaustion);
    RUN(hostile_device); /* writes the split layout itself */
    RUN(two_pools);
    fprintf(stderr, "packed\n");
    format = ZC_RING_F_RING_PACKED;
    RUN(round_trip);
    RUN(misuse);
    RUN(exhaustion);
    RUN(two_pools);
    return 0;
}
