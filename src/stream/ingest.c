/* ingest.c - simulated sensors filling a frame pool, frames handed to a
 * consumer as ring descriptors.
 *
 * The frame pool is the buffer region of a VIRTIO split virtqueue (zc/ring.h):
 * shared memory that the consumer maps too.  Each sensor owns a few slots in
 * it, the way a camera's DMA engine owns a ring of buffers.  When a frame is
 * due, the producer (the ring's driver) writes it into a free slot of its
 * sensor, DMA-like, with streaming or ordinary stores, and posts the slot as
 * one device-readable descriptor.  The consumer thread (the ring's device)
 * copies the header out, checks it (and, when asked, the payload's
 * checksum), and returns the slot through the used ring; it reads only what
 * it inspects.
 *
 *   producer (driver)                          consumer (device)
 *   due? -> free slot of its sensor ------>    pop: header copied out, checked
 *           write header + payload  avail      (payload checksummed with verify)
 *           post {off, len}                    push + complete
 *   reap: slot back to its sensor <------ used
 *
 * Overload never blocks the sensors and is never silent: a frame whose
 * sensor has no free slot, or that the producer reaches more than one frame
 * period late (the sensor has already overwritten it), is dropped and
 * counted; the consumer sees the gap in that sensor's sequence numbers.
 */
#define _GNU_SOURCE 1
#include "frame.h"
#include "persist.h"
#include "zc/base.h"
#include "zc/ring.h"
#include "zc/stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_SLOTS       8
#define DEFAULT_PERSIST_MAX (1ull << 30)
#define MAX_SENSORS         64
#define MAX_SLOTS           64
#define SLOT_ALIGN          4096
/* Share of the configured rate each kind gets when present (renormalized). */
static const double kind_share[ZC_SENSOR_KINDS] = {0.7, 0.2, 0.1};
/* A gap shorter than this is spun away rather than slept (timer slack). */
#define SPIN_NS 100000
/* How long zc_ingest_run() waits for the consumer to return the last frames. */
#define DRAIN_TIMEOUT_NS 5000000000ll

struct sensor {
    enum zc_sensor_kind kind;
    size_t frame_bytes;
    double period_ns;
    double next_due; /* ns since the current run started (carried across runs) */
    uint64_t seq;
    uint64_t pool_off;          /* where its slots start in the buffer region */
    struct zc_ring_pool *slots; /* its slots, over the producer's ring end */
};

/* Counters the consumer thread adds to and zc_ingest_run() reads once the
 * frames came back through the used ring (whose release/acquire orders them). */
struct consumer_stats {
    uint64_t frames, bytes, missing, bad, persisted, persist_errors;
};

struct zc_ingest {
    struct zc_ingest_config cfg;
    unsigned nsensors;
    struct sensor sensor[MAX_SENSORS];
    uint8_t sensor_kind[MAX_SENSORS];
    unsigned nslots;
    size_t pool_bytes;
    struct frame_pattern pattern;
    struct zc_ring *drv, *dev;
    unsigned in_flight;
    struct persist *persist; /* the consumer's recording, NULL without one */
    uint64_t submit_errors;  /* the consumer's: frames it could not queue for writing */

    pthread_t consumer;
    bool consumer_running;
    int stop; /* atomic */
    struct consumer_stats cs;
    uint64_t expect[MAX_SENSORS]; /* the consumer's private state */
};

static size_t slot_bytes(enum zc_sensor_kind kind)
{
    size_t n = sizeof(struct zc_frame_hdr) + zc_sensor_frame_bytes(kind);
    return (n + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1);
}

/* Checks one frame; true when the consumer accepts it. */
static bool consume_chain(struct zc_ingest *in, struct frame_checker *fc,
                          const struct zc_ring_chain *ch)
{
    uint64_t gap = 0;
    int rc = -EBADMSG;
    if (ch->nseg == 1 && !ch->seg[0].writable) {
        const void *p = zc_ring_ptr(in->dev, &ch->seg[0]);
        if (p)
            rc = frame_check(fc, p, ch->seg[0].len, &gap);
    }
    if (rc < 0) {
        __atomic_fetch_add(&in->cs.bad, 1, __ATOMIC_RELAXED);
        return false;
    }
    __atomic_fetch_add(&in->cs.frames, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&in->cs.bytes, ch->seg[0].len, __ATOMIC_RELAXED);
    __atomic_fetch_add(&in->cs.missing, gap, __ATOMIC_RELAXED);
    return true;
}

/* Queues an accepted frame's whole slot for the recording; false when it
 * could not be queued (the slot is then given back at once). */
static bool persist_frame(struct zc_ingest *in, const struct zc_ring_chain *ch)
{
    struct zc_ring_seg slot = ch->seg[0];
    slot.len = (uint32_t)((slot.len + SLOT_ALIGN - 1) & ~(uint64_t)(SLOT_ALIGN - 1));
    const void *p = slot.off % SLOT_ALIGN ? NULL : zc_ring_ptr(in->dev, &slot);
    if (p && persist_submit(in->persist, p, slot.len, (void *)(uintptr_t)ch->head) == 0)
        return true;
    in->submit_errors++;
    return false;
}

/* Gives back the slots whose writes completed.  The number pushed, or -errno. */
static int persist_done(struct zc_ingest *in, int64_t wait_ns)
{
    void *tokens[64];
    int n = persist_reap(in->persist, tokens, ZC_ARRAY_SIZE(tokens), wait_ns);
    for (int i = 0; i < n; i++)
        if (zc_ring_push(in->dev, (uint16_t)(uintptr_t)tokens[i], 0) < 0)
            return -EPROTO;
    struct persist_stats ps;
    persist_stats(in->persist, &ps);
    __atomic_store_n(&in->cs.persisted, ps.writes, __ATOMIC_RELAXED);
    __atomic_store_n(&in->cs.persist_errors, ps.errors + in->submit_errors, __ATOMIC_RELAXED);
    return n;
}

static void *consumer_main(void *arg)
{
    struct zc_ingest *in = arg;
    if (in->cfg.cpu >= 0)
        zc_stream_pin_cpu(in->cfg.cpu);
    struct frame_checker fc = {
        .nsensors = in->nsensors,
        .kind = in->sensor_kind,
        .expect = in->expect,
        .verify = in->cfg.verify,
    };
    struct zc_ring_chain chains[16];
    while (!__atomic_load_n(&in->stop, __ATOMIC_RELAXED)) {
        bool writing = in->persist && persist_inflight(in->persist) > 0;
        if (!writing) {
            int rc = zc_ring_wait(in->dev, 50000000);
            if (rc == -ETIMEDOUT)
                continue;
            if (rc < 0)
                break;
        }
        int n = zc_ring_pop_batch(in->dev, chains, ZC_ARRAY_SIZE(chains));
        if (n < 0)
            break;
        int pushed = 0;
        for (int i = 0; i < n; i++) {
            if (consume_chain(in, &fc, &chains[i]) && in->persist && persist_frame(in, &chains[i]))
                continue;
            if (zc_ring_push(in->dev, chains[i].head, 0) < 0)
                return NULL;
            pushed++;
        }
        if (in->persist) {
            /* Nothing new: wait a little for the disk instead of spinning. */
            int done = persist_done(in, n == 0 ? 1000000 : 0);
            if (done < 0)
                break;
            pushed += done;
        }
        if (pushed > 0 && zc_ring_complete(in->dev) < 0)
            break;
    }
    return NULL;
}

static int check_config(const struct zc_ingest_config *cfg, unsigned *nsensors)
{
    unsigned n = 0;
    for (unsigned k = 0; k < ZC_SENSOR_KINDS; k++) {
        if (cfg->sensors[k] > MAX_SENSORS)
            return -EINVAL;
        n += cfg->sensors[k];
    }
    if (n == 0 || n > MAX_SENSORS || cfg->rate == 0 || cfg->slots > MAX_SLOTS)
        return -EINVAL;
    if (cfg->persist != ZC_PERSIST_NONE &&
        (!cfg->persist_path ||
         (cfg->persist != ZC_PERSIST_DIRECT && cfg->persist != ZC_PERSIST_BUFFERED)))
        return -EINVAL;
    *nsensors = n;
    return 0;
}

/* The sensors, their share of the rate and their slots in the pool. */
static int layout_sensors(struct zc_ingest *in)
{
    const struct zc_ingest_config *cfg = &in->cfg;
    unsigned slots = cfg->slots ? cfg->slots : DEFAULT_SLOTS;
    double share_sum = 0;
    for (unsigned k = 0; k < ZC_SENSOR_KINDS; k++)
        if (cfg->sensors[k])
            share_sum += kind_share[k];
    in->nslots = in->nsensors * slots;
    unsigned s = 0;
    uint64_t off = 0;
    for (unsigned k = 0; k < ZC_SENSOR_KINDS; k++)
        for (unsigned i = 0; i < cfg->sensors[k]; i++, s++) {
            struct sensor *se = &in->sensor[s];
            se->kind = k;
            se->frame_bytes = zc_sensor_frame_bytes(k);
            double rate = (double)cfg->rate * kind_share[k] / share_sum / cfg->sensors[k];
            se->period_ns = (double)(sizeof(struct zc_frame_hdr) + se->frame_bytes) / rate * 1e9;
            /* Staggered over their first period, as free-running clocks are. */
            se->next_due = se->period_ns * s / in->nsensors;
            in->sensor_kind[s] = (uint8_t)k;
            se->pool_off = off;
            off += slots * slot_bytes(k);
        }
    in->pool_bytes = off;
    return 0;
}

/* The ring: the driver end for the producer, the device end for the
 * consumer thread, over the same shared regions. */
static int open_ring(struct zc_ingest *in)
{
    uint32_t num = 2;
    while (num < in->nslots)
        num *= 2;
    struct zc_ring_params p = {
        .num = num, .buf_size = in->pool_bytes, .features = ZC_RING_F_EVENT_IDX};
    int rc = zc_ring_create_pair(&in->drv, &in->dev, &p);
    if (rc < 0)
        return rc;
    /* The consumer shares the producer's core: it blocks instead of spinning. */
    zc_ring_set_spin(in->dev, 0);
    uint32_t slots = in->nslots / in->nsensors;
    for (unsigned s = 0; s < in->nsensors && rc == 0; s++) {
        struct sensor *se = &in->sensor[s];
        rc = zc_ring_pool_create(&se->slots, in->drv, se->pool_off, slot_bytes(se->kind), slots);
    }
    return rc;
}

int zc_ingest_create(struct zc_ingest **ip, const struct zc_ingest_config *cfg)
{
    unsigned nsensors;
    if (!ip || !cfg || check_config(cfg, &nsensors) < 0)
        return -EINVAL;
    struct zc_ingest *in = calloc(1, sizeof(*in));
    if (!in)
        return -ENOMEM;
    in->cfg = *cfg;
    in->nsensors = nsensors;
    int rc = layout_sensors(in);
    if (rc == 0)
        rc = frame_pattern_init(&in->pattern, cfg->sensors);
    if (rc == 0)
        rc = open_ring(in);
    if (rc == 0 && cfg->persist != ZC_PERSIST_NONE)
        rc = persist_open(&in->persist, cfg->persist_path, cfg->persist,
                          cfg->persist_max_bytes ? cfg->persist_max_bytes : DEFAULT_PERSIST_MAX,
                          in->nslots);
    if (rc == 0) {
        rc = -pthread_create(&in->consumer, NULL, consumer_main, in);
        in->consumer_running = rc == 0;
    }
    if (rc < 0) {
        zc_ingest_destroy(in);
        return rc;
    }
    *ip = in;
    return 0;
}

/* Takes back the slots the consumer is done with, each into its sensor's
 * pool (any pool reclaims for all).  0 or -EPROTO. */
static int reap_slots(struct zc_ingest *in)
{
    int n = zc_ring_pool_reclaim(in->sensor[0].slots);
    if (n < 0)
        return n;
    in->in_flight -= (unsigned)n;
    return 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

static void wait_until(uint64_t t_ns, bool spin)
{
    uint64_t now = zc_now_ns();
    if (t_ns <= now)
        return;
    if (!spin && t_ns - now > SPIN_NS) {
        struct timespec ts = {.tv_sec = (time_t)((t_ns - SPIN_NS / 2) / 1000000000ull),
                              .tv_nsec = (long)((t_ns - SPIN_NS / 2) % 1000000000ull)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    while (zc_now_ns() < t_ns)
        cpu_relax();
}

void zc_stream_spin(uint64_t ns)
{
    wait_until(zc_now_ns() + ns, true);
}

/* Writes sensor s's frame seq into slot and posts it.  0 or -errno. */
static int produce_frame(struct zc_ingest *in, unsigned s, uint32_t slot, uint64_t due_ns,
                         enum zc_store store)
{
    struct sensor *se = &in->sensor[s];
    unsigned k = (unsigned)((se->seq * 7 + s) % NPATTERNS);
    struct zc_frame_hdr h = {
        .magic = ZC_FRAME_MAGIC,
        .sensor = (uint16_t)s,
        .kind = (uint16_t)se->kind,
        .seq = se->seq,
        .due_ns = due_ns,
        .payload_len = (uint32_t)se->frame_bytes,
        .pattern = k,
        .checksum = in->pattern.checksum[se->kind][k],
    };
    unsigned char *p = zc_ring_pool_ptr(se->slots, slot);
    memcpy(p, &h, sizeof(h));
    frame_write_payload(&in->pattern, k, p + sizeof(h), se->frame_bytes, store);
    /* The submit's release store publishes the header and the payload (the
     * streaming stores were fenced by zc_copy_nt). */
    int rc = zc_ring_pool_post(se->slots, slot, (uint32_t)(sizeof(h) + se->frame_bytes));
    if (rc == 0)
        in->in_flight++;
    return rc;
}

/* Waits until every posted frame came back.  0, -ETIMEDOUT or -EPROTO. */
static int drain(struct zc_ingest *in)
{
    uint64_t deadline = zc_now_ns() + DRAIN_TIMEOUT_NS;
    while (in->in_flight) {
        int rc = reap_slots(in);
        if (rc < 0)
            return rc;
        if (!in->in_flight)
            break;
        int64_t left = (int64_t)(deadline - zc_now_ns());
        if (left <= 0)
            return -ETIMEDOUT;
        rc = zc_ring_wait(in->drv, left);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void consumer_stats_read(struct zc_ingest *in, struct consumer_stats *cs)
{
    cs->frames = __atomic_load_n(&in->cs.frames, __ATOMIC_RELAXED);
    cs->bytes = __atomic_load_n(&in->cs.bytes, __ATOMIC_RELAXED);
    cs->missing = __atomic_load_n(&in->cs.missing, __ATOMIC_RELAXED);
    cs->bad = __atomic_load_n(&in->cs.bad, __ATOMIC_RELAXED);
    cs->persisted = __atomic_load_n(&in->cs.persisted, __ATOMIC_RELAXED);
    cs->persist_errors = __atomic_load_n(&in->cs.persist_errors, __ATOMIC_RELAXED);
}

int zc_ingest_run(struct zc_ingest *in, enum zc_store store, uint64_t duration_ns,
                  struct zc_ingest_stats *st)
{
    if (!in || !st || (store != ZC_STORE_NT && store != ZC_STORE_REGULAR))
        return -EINVAL;
    struct consumer_stats before;
    consumer_stats_read(in, &before);
    uint64_t start = zc_now_ns(), late_drops = 0, full_drops = 0;
    int rc = 0;
    for (;;) {
        unsigned s = 0;
        for (unsigned i = 1; i < in->nsensors; i++)
            if (in->sensor[i].next_due < in->sensor[s].next_due)
                s = i;
        struct sensor *se = &in->sensor[s];
        if (se->next_due >= (double)duration_ns)
            break;
        uint64_t due = start + (uint64_t)se->next_due;
        wait_until(due, in->cfg.spin);
        se->next_due += se->period_ns;
        rc = reap_slots(in);
        if (rc < 0)
            break;
        bool late = (double)(zc_now_ns() - due) > se->period_ns;
        int64_t slot = late ? -1 : zc_ring_pool_get(se->slots);
        if (slot < 0) {
            late_drops += late;
            full_drops += !late;
            se->seq++;
            continue;
        }
        rc = produce_frame(in, s, (uint32_t)slot, due, store);
        if (rc < 0)
            break;
        se->seq++;
    }
    uint64_t end = zc_now_ns();
    /* The sensors' clocks run on into the next run, so that runs of any
     * length deliver the rate asked, not an extra frame each. */
    for (unsigned s = 0; s < in->nsensors; s++)
        in->sensor[s].next_due = ZC_MAX(in->sensor[s].next_due - (double)duration_ns, 0.0);
    if (rc == 0)
        rc = drain(in);
    struct consumer_stats after;
    consumer_stats_read(in, &after);
    st->frames += after.frames - before.frames;
    st->bytes += after.bytes - before.bytes;
    st->missing_frames += after.missing - before.missing;
    st->bad_frames += after.bad - before.bad;
    st->persisted += after.persisted - before.persisted;
    st->persist_errors += after.persist_errors - before.persist_errors;
    st->dropped_frames += late_drops + full_drops;
    st->dropped_late += late_drops;
    /* The sensors ran for the whole duration even where none had a frame
     * due near its end: the loop leaves at the last due frame, and a rate
     * over that shorter time would be too high (at 1 B/s, by a million). */
    st->ns += ZC_MAX(end - start, duration_ns);
    return rc;
}

int zc_ingest_persist_cached(const struct zc_ingest *in, uint64_t *bytes)
{
    *bytes = 0;
    return in->persist ? persist_cached_bytes(in->persist, bytes) : 0;
}

size_t zc_ingest_pool_bytes(const struct zc_ingest *in)
{
    return in->pool_bytes;
}

void zc_ingest_destroy(struct zc_ingest *in)
{
    if (!in)
        return;
    if (in->consumer_running) {
        __atomic_store_n(&in->stop, 1, __ATOMIC_RELAXED);
        pthread_join(in->consumer, NULL);
    }
    persist_close(in->persist);
    for (unsigned s = 0; s < in->nsensors; s++)
        zc_ring_pool_destroy(in->sensor[s].slots);
    zc_ring_destroy(in->dev);
    zc_ring_destroy(in->drv);
    frame_pattern_free(&in->pattern);
    free(in);
}
