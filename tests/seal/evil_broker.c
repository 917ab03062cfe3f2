/* evil_broker.c - the tests' adversary (evil_broker.h).
 *
 * Its relay keeps a slot free stack of its own (token = slot + 1) instead
 * of the ring's slot pool (zc_ring_pool_*, which the honest code uses): an
 * attack posts a second descriptor for bytes already in a slot (rewrite)
 * with no token at all, and a pool refuses exactly that, since on a ring
 * with a pool every chain is the pool's.  Hostile on purpose, it may break
 * the rule the pool enforces.
 */
#define _GNU_SOURCE
#include "evil_broker.h"
#include "wire.h"
#include "zc/base.h"
#include "zc/ring.h"
#include "zc/shm.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The message (counting the handshake's first) an evil broker strikes. */
#define STRIKE 2

static const char *const evil_names[] = {
    [EVIL_RELAY] = "relay",       [EVIL_PAYLOAD] = "payload", [EVIL_HEADER] = "header",
    [EVIL_TAG] = "tag",           [EVIL_REPLAY] = "replay",   [EVIL_REORDER] = "reorder",
    [EVIL_TRUNCATE] = "truncate", [EVIL_INFLATE] = "inflate", [EVIL_REWRITE] = "rewrite",
    [EVIL_DROP] = "drop",         [EVIL_CUT] = "cut",         [EVIL_RACE] = "race",
};

const char *evil_name(enum evil_mode mode)
{
    return (unsigned)mode < ZC_ARRAY_SIZE(evil_names) ? evil_names[mode] : "unknown";
}

int evil_parse(const char *name, enum evil_mode *mode)
{
    for (size_t i = 0; i < ZC_ARRAY_SIZE(evil_names); i++)
        if (strcmp(name, evil_names[i]) == 0) {
            *mode = (enum evil_mode)i;
            return 0;
        }
    return -EINVAL;
}

struct relay {
    struct evil_broker *b;
    unsigned from; /* side whose messages this thread carries */
    uint8_t *msg, *held, *prev;
    size_t held_len, prev_len;
    uint64_t prev_off;
    uint32_t *free_slots, nfree;
};

struct evil_broker {
    struct zc_seal_config cfg;
    enum evil_mode mode;
    uint64_t slot_size;
    /* in[d] receives side d's messages (the broker is its device), out[d]
     * delivers them to the other side (the broker is its driver). */
    struct zc_ring *in[2], *out[2];
    int sock[2];
    atomic_bool stop;
};

int evil_broker_create(struct evil_broker **out, const struct zc_seal_config *cfg,
                       enum evil_mode mode)
{
    if (seal_config_check(cfg->slots, cfg->max_msg) || (unsigned)mode >= ZC_ARRAY_SIZE(evil_names))
        return -EINVAL;
    struct evil_broker *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->cfg = *cfg;
    b->mode = mode;
    b->slot_size = seal_slot_size(cfg->max_msg);
    b->sock[0] = b->sock[1] = -1;
    struct zc_ring_params p = {
        .num = cfg->slots, .buf_size = cfg->slots * b->slot_size, .features = ZC_RING_F_EVENT_IDX};
    int r = 0;
    for (int d = 0; d < 2 && !r; d++) {
        r = zc_ring_create(&b->in[d], ZC_RING_DEVICE, &p);
        if (!r)
            r = zc_ring_create(&b->out[d], ZC_RING_DRIVER, &p);
    }
    if (r) {
        evil_broker_destroy(b);
        return r;
    }
    *out = b;
    return 0;
}

void evil_broker_destroy(struct evil_broker *b)
{
    if (!b)
        return;
    for (int d = 0; d < 2; d++) {
        zc_ring_destroy(b->in[d]);
        zc_ring_destroy(b->out[d]);
    }
    free(b);
}

int evil_broker_region(const struct evil_broker *b, unsigned i, const void **base, size_t *size)
{
    const struct zc_ring *rings[4] = {b->in[0], b->in[1], b->out[0], b->out[1]};
    if (i >= 8)
        return -ENOENT;
    const struct zc_ring *r = rings[i / 2];
    if (i % 2 == 0) {
        *base = zc_ring_mem(r);
        *size = zc_ring_mem_size(zc_ring_num(r));
    } else {
        *base = zc_ring_buf_base(r);
        *size = zc_ring_buf_size(r);
    }
    return 0;
}

/* ---- the evil relay ---- */

/* A free buffer of out[from], or -errno once the receiving side is gone. */
static int64_t relay_slot(struct relay *rl)
{
    struct zc_ring *out = rl->b->out[rl->from];
    for (;;) {
        struct zc_ring_used used[64];
        int n = zc_ring_reap(out, used, ZC_ARRAY_SIZE(used));
        if (n < 0)
            return n;
        /* Only a descriptor that deliver() posted owns its slot (token
         * slot + 1); a second look at a buffer (rewrite) carries no token. */
        for (int i = 0; i < n; i++)
            if (used[i].token)
                rl->free_slots[rl->nfree++] = (uint32_t)(uintptr_t)used[i].token - 1;
        if (rl->nfree)
            return rl->free_slots[--rl->nfree];
        int r = zc_ring_wait(out, -1);
        if (r)
            return r;
    }
}

/* Delivers len bytes (descriptor length desc_len) to the other side; returns
 * the buffer offset used, or -errno. */
static int64_t deliver(struct relay *rl, const uint8_t *msg, size_t len, uint32_t desc_len)
{
    int64_t slot = relay_slot(rl);
    if (slot < 0)
        return slot;
    struct zc_ring *out = rl->b->out[rl->from];
    uint64_t off = (uint64_t)slot * rl->b->slot_size;
    uint8_t *dst = (uint8_t *)zc_ring_buf_base(out) + off;
    memcpy(dst, msg, len);
    if (desc_len > len)
        memset(dst + len, 0, desc_len - len);
    struct zc_ring_seg seg = {.off = off, .len = desc_len, .writable = false};
    int r = zc_ring_post(out, &seg, 1, (void *)(uintptr_t)(slot + 1));
    return r ? r : (int64_t)off;
}

/* Posts a second descriptor for bytes already in out's buffer region.  The
 * slot stays owned by the descriptor that first delivered it, so this one
 * carries no token: its return must not free the slot a second time. */
static int deliver_at(struct relay *rl, uint64_t off, uint32_t len)
{
    struct zc_ring_seg seg = {.off = off, .len = len, .writable = false};
    return zc_ring_post(rl->b->out[rl->from], &seg, 1, NULL);
}

/* Relays message number idx (len bytes in rl->msg), tampering as the mode
 * says.  0, 1 to stop relaying (cut), or -errno. */
static int relay_one(struct relay *rl, uint64_t idx, size_t len)
{
    enum evil_mode mode = rl->b->mode;
    uint8_t *m = rl->msg;
    bool strike = idx == STRIKE;
    int64_t r = 0;
    if (rl->held_len && idx == STRIKE + 1) {
        /* reorder: the later message first, then the one held back */
        r = deliver(rl, m, len, (uint32_t)len);
        if (r >= 0)
            r = deliver(rl, rl->held, rl->held_len, (uint32_t)rl->held_len);
        rl->held_len = 0;
        return r < 0 ? (int)r : 0;
    }
    if (strike) {
        switch (mode) {
        case EVIL_PAYLOAD:
            m[len > ZC_SEAL_OVERHEAD ? SEAL_HEADER_BYTES : len - 1] ^= 0x04;
            break;
        case EVIL_HEADER:
            m[8] ^= 0x01; /* the length */
            break;
        case EVIL_TAG:
            m[len - 1] ^= 0x80;
            break;
        case EVIL_REPLAY:
            r = deliver(rl, m, len, (uint32_t)len);
            if (r >= 0)
                r = deliver(rl, rl->prev, rl->prev_len, (uint32_t)rl->prev_len);
            return r < 0 ? (int)r : 0;
        case EVIL_REORDER:
            memcpy(rl->held, m, len);
            rl->held_len = len;
            return 0;
        case EVIL_TRUNCATE:
            r = deliver(rl, m, len - 5, (uint32_t)(len - 5));
            return r < 0 ? (int)r : 0;
        case EVIL_INFLATE:
            r = deliver(rl, m, len, (uint32_t)ZC_MIN(len + 64, rl->b->slot_size));
            return r < 0 ? (int)r : 0;
        case EVIL_REWRITE:
            return deliver_at(rl, rl->prev_off, (uint32_t)rl->prev_len);
        case EVIL_DROP:
            return 0;
        case EVIL_CUT:
            return 1;
        default:
            break;
        }
    }
    r = deliver(rl, m, len, (uint32_t)len);
    if (r < 0)
        return (int)r;
    memcpy(rl->prev, m, len);
    rl->prev_len = len;
    rl->prev_off = (uint64_t)r;
    return 0;
}

/* Reads a whole chain out of in[from] into rl->msg; its length or -errno. */
static int64_t take_message(struct relay *rl, const struct zc_ring_chain *c)
{
    struct zc_ring *in = rl->b->in[rl->from];
    size_t len = 0;
    for (unsigned i = 0; i < c->nseg; i++) {
        const uint8_t *src = zc_ring_ptr(in, &c->seg[i]);
        if (!src || c->seg[i].len > rl->b->slot_size - len)
            return -EPROTO;
        memcpy(rl->msg + len, src, c->seg[i].len);
        len += c->seg[i].len;
    }
    int r = zc_ring_push(in, c->head, 0);
    if (!r)
        r = zc_ring_complete(in) < 0 ? -EPROTO : 0;
    return r ? r : (int64_t)len;
}

/* Keeps flipping (and flipping back) bytes of the buffers both sides read. */
static void *racer_main(void *arg)
{
    struct evil_broker *b = arg;
    volatile uint8_t *base[2] = {zc_ring_buf_base(b->out[0]), zc_ring_buf_base(b->out[1])};
    size_t size = zc_ring_buf_size(b->out[0]);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t at = (size_t)(x % size);
        volatile uint8_t *p = base[x & 1];
        uint8_t bit = (uint8_t)(1u << (x >> 61));
        p[at] ^= bit;
        for (int spin = 0; spin < 64; spin++)
            __asm__ volatile("" ::: "memory");
        p[at] ^= bit;
    }
    return NULL;
}

static void *relay_main(void *arg)
{
    struct relay *rl = arg;
    struct evil_broker *b = rl->b;
    struct zc_ring *in = b->in[rl->from];
    struct zc_ring_chain chain;
    uint64_t idx = 0;
    int r = 0;
    while (!r) {
        int n = zc_ring_pop(in, &chain);
        if (n < 0)
            break;
        if (n == 0) {
            r = zc_ring_wait(in, -1);
            continue;
        }
        int64_t len = take_message(rl, &chain);
        if (len < 0)
            break;
        r = relay_one(rl, idx++, (size_t)len);
    }
    /* This direction is over: let the receiving side see the end. */
    shutdown(b->sock[1 - rl->from], SHUT_RDWR);
    return NULL;
}

static int relay(struct evil_broker *b)
{
    struct relay rl[2];
    pthread_t th[2], racer;
    int r = 0;
    size_t slot = b->slot_size;
    memset(rl, 0, sizeof(rl));
    for (unsigned d = 0; d < 2; d++) {
        rl[d].b = b;
        rl[d].from = d;
        rl[d].msg = malloc(slot);
        rl[d].held = malloc(slot);
        rl[d].prev = malloc(slot);
        rl[d].free_slots = malloc(b->cfg.slots * sizeof(uint32_t));
        if (!rl[d].msg || !rl[d].held || !rl[d].prev || !rl[d].free_slots)
            r = -ENOMEM;
        for (uint32_t i = 0; rl[d].free_slots && i < b->cfg.slots; i++)
            rl[d].free_slots[rl[d].nfree++] = b->cfg.slots - 1 - i;
        zc_ring_set_peer_fd(b->in[d], b->sock[d]);
        zc_ring_set_peer_fd(b->out[d], b->sock[1 - d]);
    }
    bool racing = false;
    if (!r && b->mode == EVIL_RACE)
        racing = (r = -pthread_create(&racer, NULL, racer_main, b)) == 0;
    unsigned started = 0;
    for (; !r && started < 2; started++)
        r = -pthread_create(&th[started], NULL, relay_main, &rl[started]);
    for (unsigned d = 0; d < started; d++)
        pthread_join(th[d], NULL);
    atomic_store(&b->stop, true);
    if (racing)
        pthread_join(racer, NULL);
    for (unsigned d = 0; d < 2; d++) {
        free(rl[d].msg);
        free(rl[d].held);
        free(rl[d].prev);
        free(rl[d].free_slots);
    }
    return r;
}

int evil_broker_serve(struct evil_broker *b, int sock0, int sock1)
{
    b->sock[0] = sock0;
    b->sock[1] = sock1;
    atomic_store(&b->stop, false);
    /* Each endpoint drives the ring the broker reads (in) and reads the
     * ring the broker delivers into from the other side (out). */
    int r = zc_seal_broker_grant(sock0, 0, &b->cfg, b->in[0], b->out[1]);
    if (!r)
        r = zc_seal_broker_grant(sock1, 1, &b->cfg, b->in[1], b->out[0]);
    if (!r)
        r = relay(b);
    shutdown(sock0, SHUT_RDWR);
    shutdown(sock1, SHUT_RDWR);
    return r;
}
