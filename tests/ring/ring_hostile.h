/* ring_hostile.h - what both hostile ring tests (split, packed) share: the
 * checks that an end refuses and stays refused, and the random-garbage
 * round:
 * honest posts and completions on a fresh ring of random size, interleaved
 * with a scribbler that writes whatever it likes into ring memory.  Every
 * chain the device takes must lie wholly inside the buffer region, every
 * used entry the driver takes must be one it could have posted, every
 * failure -EPROTO; and the garbage must reach both the accepting and the
 * refusing paths. */
#ifndef RING_HOSTILE_H
#define RING_HOSTILE_H

#include "zc/ring.h"
#include "zc_test.h"

#define GARBAGE_BUF_SIZE (1u << 16)

/* The device end refuses what a hostile driver wrote, and stays refused. */
static void check_device_refuses(struct zc_ring *dev)
{
    struct zc_ring_chain c[4];
    CHECK_EQ(zc_ring_pop_batch(dev, c, 4), -EPROTO);
    CHECK(zc_ring_broken(dev));
    CHECK_EQ(zc_ring_pop(dev, c), -EPROTO);
    CHECK_EQ(zc_ring_complete(dev), -EPROTO);
    CHECK_EQ(zc_ring_wait(dev, 0), -EPROTO);
    CHECK_EQ(zc_ring_arm(dev), -EPROTO);
}

/* The driver end refuses what a hostile device wrote, and stays refused. */
static void check_driver_refuses(struct zc_ring *drv)
{
    struct zc_ring_used u[8];
    CHECK_EQ(zc_ring_reap(drv, u, 8), -EPROTO);
    CHECK(zc_ring_broken(drv));
    struct zc_ring_seg s = {.off = 0, .len = 1};
    CHECK_EQ(zc_ring_post(drv, &s, 1, NULL), -EPROTO);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Small values reach deeper into the checks than uniform noise would. */
static uint64_t plausible(uint64_t limit)
{
    switch (rnd() % 4) {
    case 0:
        return rnd();
    case 1:
        return rnd() % (limit + 2);
    default:
        return rnd() % (limit ? limit : 1);
    }
}

static void check_chain(struct zc_ring *dev, const struct zc_ring_chain *c)
{
    CHECK(c->head < zc_ring_num(dev));
    CHECK(c->nseg >= 1 && c->nseg <= ZC_RING_MAX_SEGS);
    uint64_t r = 0, w = 0;
    bool writable = false;
    const char *base = zc_ring_buf_base(dev);
    for (unsigned i = 0; i < c->nseg; i++) {
        const struct zc_ring_seg *s = &c->seg[i];
        CHECK(s->off <= GARBAGE_BUF_SIZE && s->len <= GARBAGE_BUF_SIZE - s->off);
        CHECK((const char *)zc_ring_ptr(dev, s) == base + s->off);
        CHECK(!writable || s->writable);
        writable = s->writable;
        *(s->writable ? &w : &r) += s->len;
    }
    CHECK_EQ(r, c->readable_len);
    CHECK_EQ(w, c->writable_len);
}

/* One round's 40 steps on a ring of the given features; scribble writes
 * into the ring memory of drv.  Adds to *chains the chains taken and
 * returns how many ends broke. */
static unsigned garbage_round(uint64_t features, void (*scribble)(struct zc_ring *drv),
                              unsigned *chains)
{
    struct zc_ring *drv, *dev;
    struct zc_ring_params p = {
        .num = 1u << (rnd() % 6), .buf_size = GARBAGE_BUF_SIZE, .features = features};
    CHECK_OK(zc_ring_create_pair(&drv, &dev, &p));
    for (int step = 0; step < 40; step++) {
        if (rnd() % 2) {
            struct zc_ring_seg s = {.off = rnd() % 4096, .len = 64, .writable = rnd() % 2};
            int err = zc_ring_post(drv, &s, 1, NULL);
            CHECK(err == 0 || err == -ENOSPC || err == -EPROTO);
        }
        scribble(drv);
        struct zc_ring_chain c[8];
        int n = zc_ring_pop_batch(dev, c, 8);
        CHECK(n >= 0 || n == -EPROTO);
        for (int i = 0; i < n; i++) {
            check_chain(dev, &c[i]);
            CHECK_OK(zc_ring_push(dev, c[i].head, (uint32_t)(rnd() % (c[i].writable_len + 1))));
        }
        *chains += n > 0 ? (unsigned)n : 0;
        int err = zc_ring_complete(dev);
        CHECK(err >= 0 || err == -EPROTO);
        struct zc_ring_used u[8];
        int m = zc_ring_reap(drv, u, 8);
        CHECK(m >= 0 || m == -EPROTO);
        for (int i = 0; i < m; i++)
            CHECK(u[i].len <= 64);
        CHECK(zc_ring_wait(dev, 0) <= 0);
        if (zc_ring_broken(dev) && zc_ring_broken(drv))
            break;
    }
    unsigned broken = zc_ring_broken(dev) + zc_ring_broken(drv);
    zc_ring_destroy(drv);
    zc_ring_destroy(dev);
    return broken;
}

/* 3000 rounds; the garbage must reach both paths. */
static void garbage_rounds(uint64_t features, void (*scribble)(struct zc_ring *drv))
{
    unsigned refused = 0, chains = 0;
    for (int round = 0; round < 3000; round++)
        refused += garbage_round(features, scribble, &chains);
    CHECK(refused > 1000);
    CHECK(chains > 1000);
}

#endif /* RING_HOSTILE_H */
