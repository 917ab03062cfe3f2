/* Driver and device on two threads, every message checked: the device
 * finds in each request the sequence number and pattern the driver wrote,
 * and the driver finds in each reply what the device wrote back, in order.
 * Batches of varying size, short spins so that both ends also block, with
 * and without EVENT_IDX.  Run under ThreadSanitizer (label tsan) this is
 * the proof that the barriers publish what they claim to. */
#include "zc/ring.h"
#include "zc_test.h"

#include <errno.h>
#include <pthread.h>

#define NUM      64
#define SLOT     128
#define MESSAGES 60000

struct shared {
    struct zc_ring *drv, *dev;
    int device_result;
};

static void fill(uint8_t *p, uint64_t seq, size_t len)
{
    memcpy(p, &seq, sizeof(seq));
    for (size_t i = sizeof(seq); i < len; i++)
        p[i] = (uint8_t)(seq * 31 + i);
}

static bool matches(const uint8_t *p, uint64_t seq, size_t len)
{
    uint64_t got;
    memcpy(&got, p, sizeof(got));
    if (got != seq)
        return false;
    for (size_t i = sizeof(seq); i < len; i++)
        if (p[i] != (uint8_t)(seq * 31 + i))
            return false;
    return true;
}

static void *device(void *arg)
{
    struct shared *sh = arg;
    struct zc_ring_chain c[NUM];
    struct zc_ring_done d[NUM];
    uint64_t expect = 0;
    while (expect < MESSAGES) {
        int err = zc_ring_wait(sh->dev, 10000000000ll);
        if (err) {
            sh->device_result = err;
            return NULL;
        }
        int n = zc_ring_pop_batch(sh->dev, c, NUM);
        if (n < 0) {
            sh->device_result = n;
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            const uint8_t *q = zc_ring_ptr(sh->dev, &c[i].seg[0]);
            uint8_t *a = zc_ring_ptr(sh->dev, &c[i].seg[1]);
            if (c[i].nseg != 2 || c[i].readable_len != SLOT / 2 || !matches(q, expect, SLOT / 2)) {
                sh->device_result = -EBADMSG;
                return NULL;
            }
            uint32_t len = (uint32_t)(expect % (SLOT / 2 - 8)) + 8;
            fill(a, ~expect, len);
            d[i] = (struct zc_ring_done){c[i].head, len};
            expect++;
        }
        /* Half the time one call for the batch, half one per entry. */
        if (expect & 1) {
            err = zc_ring_push_batch(sh->dev, d, (unsigned)n);
        } else {
            for (int i = 0; i < n && err >= 0; i++)
                err = zc_ring_push(sh->dev, d[i].head, d[i].len);
            if (err >= 0)
                err = zc_ring_complete(sh->dev);
        }
        if (err < 0) {
            sh->device_result = err;
            return NULL;
        }
    }
    sh->device_result = 0;
    return NULL;
}

/* The ring format under test: 0 (split) or ZC_RING_F_RING_PACKED. */
static uint64_t format;

static void run(uint64_t features, uint64_t spin_ns)
{
    struct shared sh = {.device_result = 1};
    struct zc_ring_params p = {.num = NUM, .buf_size = NUM * SLOT, .features = features | format};
    CHECK_OK(zc_ring_create_pair(&sh.drv, &sh.dev, &p));
    zc_ring_set_spin(sh.drv, spin_ns);
    zc_ring_set_spin(sh.dev, spin_ns);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, device, &sh) == 0);

    uint8_t *buf = zc_ring_buf_base(sh.drv);
    uint64_t sent = 0, got = 0, batch = 1;
    while (got < MESSAGES) {
        /* A batch of 1..NUM requests, one slot each (slot = seq % NUM is
         * free again: at most NUM are in flight). */
        unsigned staged = 0;
        while (sent < MESSAGES && staged < batch && zc_ring_free_descs(sh.drv) >= 2) {
            uint64_t off = (sent % NUM) * SLOT;
            fill(buf + off, sent, SLOT / 2);
            struct zc_ring_seg s[2] = {{.off = off, .len = SLOT / 2},
                                       {.off = off + SLOT / 2, .len = SLOT / 2, .writable = true}};
            CHECK_OK(zc_ring_add(sh.drv, s, 2, (void *)(uintptr_t)sent));
            sent++;
            staged++;
        }
        batch = batch % NUM + 7;
        CHECK(zc_ring_submit(sh.drv) >= 0);
        CHECK_OK(zc_ring_wait(sh.drv, 10000000000ll));
        struct zc_ring_used u[NUM];
        int n = zc_ring_reap(sh.drv, u, NUM);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++) {
            uint64_t seq = (uintptr_t)u[i].token;
            CHECK_EQ(seq, got);
            CHECK_EQ(u[i].len, seq % (SLOT / 2 - 8) + 8);
            CHECK(matches(buf + (seq % NUM) * SLOT + SLOT / 2, ~seq, u[i].len));
            got++;
        }
    }
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_EQ(sh.device_result, 0);
    CHECK_EQ(zc_ring_free_descs(sh.drv), NUM);
    zc_ring_destroy(sh.dev);
    zc_ring_destroy(sh.drv);
}

static void event_idx_spinning(void)
{
    run(ZC_RING_F_EVENT_IDX, 50000);
}

static void event_idx_blocking(void)
{
    run(ZC_RING_F_EVENT_IDX, 0);
}

static void flags_short_spin(void)
{
    run(0, 200);
}

int main(void)
{
    for (int packed = 0; packed < 2; packed++) {
        format = packed ? ZC_RING_F_RING_PACKED : 0;
        fprintf(stderr, "%s\n", packed ? "packed" : "split");
        RUN(event_idx_spinning);
        RUN(event_idx_blocking);
        RUN(flags_short_spin);
    }
    return 0;
}
