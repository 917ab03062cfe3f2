/* ring_dpdk.c - DPDK's rte_ring as a peer of the zc ring in `zc bench ring`.
 *
 * The same stream as ring_stream.c's (message seq carries the words
 * seq * WORD_STEP + i, the consumer sums every word and the sum must match)
 * over what DPDK gives two processes: shared memory (mapped before the
 * fork), a pool of message buffers in it and two single-producer
 * single-consumer rte_rings of buffer indices, one to the consumer and one
 * back (as a virtqueue's available and used rings).  Both ends poll, as
 * DPDK programs do; nothing needs the EAL (rte_ring_init on our memory).
 * Built only where pkg-config finds libdpdk.
 */
#define _GNU_SOURCE
#include "ring_stream.h"
#include "zc/base.h"

#include <errno.h>

#ifdef ZC_HAVE_DPDK
#include <rte_ring.h>

#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define DPDK_MAX_BATCH 256
#define DPDK_END       UINT32_MAX     /* the index that ends the stream */
#define DPDK_WAIT_NS   10000000000ull /* a peer silent this long is gone */
#define DPDK_BIG_BYTES (2u << 20)     /* buffer pool for large messages */

/* The consumer's report, in the shared region. */
struct dpdk_shared {
    _Atomic int done, abort;
    uint64_t msgs, sum;
    int err;
};

struct dpdk_region {
    uint8_t *base;
    size_t len;
    struct dpdk_shared *sh;
    struct rte_ring *to_consumer, *to_producer;
    uint8_t *bufs;
    unsigned slots;
};

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

static int region_create(struct dpdk_region *r, size_t msg_size)
{
    unsigned n = msg_size <= 4096 ? 1024 : (unsigned)ZC_MAX((size_t)4, DPDK_BIG_BYTES / msg_size);
    n = 1u << (31 - __builtin_clz(n));
    ssize_t ring_bytes = rte_ring_get_memsize_elem(sizeof(uint32_t), 2 * n);
    if (ring_bytes < 0)
        return (int)ring_bytes;
    size_t head = align_up(sizeof(struct dpdk_shared), 4096);
    size_t rb = align_up((size_t)ring_bytes, 4096);
    r->len = head + 2 * rb + (size_t)n * msg_size;
    r->base = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r->base == MAP_FAILED)
        return -errno;
    r->sh = (struct dpdk_shared *)r->base;
    r->to_consumer = (struct rte_ring *)(r->base + head);
    r->to_producer = (struct rte_ring *)(r->base + head + rb);
    r->bufs = r->base + head + 2 * rb;
    r->slots = n;
    unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ;
    if (rte_ring_init(r->to_consumer, "zc-bench-c", 2 * n, flags) ||
        rte_ring_init(r->to_producer, "zc-bench-p", 2 * n, flags)) {
        munmap(r->base, r->len);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < n; i++) /* every buffer starts free */
        rte_ring_enqueue_elem(r->to_producer, &i, sizeof(i));
    return 0;
}

static void pin_to(int nth)
{
    cpu_set_t all, one;
    if (sched_getaffinity(0, sizeof(all), &all))
        return;
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &all) && seen++ == nth) {
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            sched_setaffinity(0, sizeof(one), &one);
            return;
        }
    }
}

static void consume(struct dpdk_region *r, size_t msg_size)
{
    struct dpdk_shared *sh = r->sh;
    uint32_t idx[DPDK_MAX_BATCH];
    size_t words = msg_size / 8;
    uint64_t idle_since = zc_now_ns();
    for (;;) {
        unsigned n = rte_ring_dequeue_burst_elem(r->to_consumer, idx, sizeof(uint32_t),
                                                 DPDK_MAX_BATCH, NULL);
        if (!n) {
            if (atomic_load_explicit(&sh->abort, memory_order_relaxed) ||
                zc_now_ns() - idle_since > DPDK_WAIT_NS) {
                sh->err = -ETIMEDOUT;
                return;
            }
            continue;
        }
        idle_since = zc_now_ns();
        unsigned k = 0;
        for (; k < n && idx[k] != DPDK_END; k++) {
            if (idx[k] >= r->slots) {
                sh->err = -EBADMSG;
                return;
            }
            sh->sum += sum_msg((const uint64_t *)(r->bufs + (size_t)idx[k] * msg_size), words);
            sh->msgs++;
        }
        for (unsigned e = 0; e < k;)
            e +=
                rte_ring_enqueue_burst_elem(r->to_producer, idx + e, sizeof(uint32_t), k - e, NULL);
        if (k < n)
            return; /* the end */
    }
}

/* Takes at least want free buffers into idx; -ETIMEDOUT when none come. */
static int take_free(struct dpdk_region *r, uint32_t *idx, unsigned want)
{
    unsigned got = 0;
    uint64_t since = zc_now_ns();
    while (got < want) {
        unsigned n = rte_ring_dequeue_burst_elem(r->to_producer, idx + got, sizeof(uint32_t),
                                                 want - got, NULL);
        got += n;
        if (n)
            since = zc_now_ns();
        else if (zc_now_ns() - since > DPDK_WAIT_NS)
            return -ETIMEDOUT;
    }
    return 0;
}

int stream_run_dpdk(const struct stream_cfg *c, struct stream_result *res)
{
    unsigned batch = c->batch ? c->batch : 1;
    if (batch > DPDK_MAX_BATCH)
        return -EINVAL;
    struct dpdk_region r;
    int err = region_create(&r, c->msg_size);
    if (err)
        return err;
    batch = ZC_MIN(batch, r.slots);
    cpu_set_t saved;
    bool restore = sched_getaffinity(0, sizeof(saved), &saved) == 0;
    pid_t pid = fork();
    if (pid == 0) {
        pin_to(1);
        consume(&r, c->msg_size);
        atomic_store(&r.sh->done, 1);
        _exit(0);
    }
    if (pid < 0) {
        err = -errno;
        munmap(r.base, r.len);
        return err;
    }
    pin_to(0);
    size_t words = c->msg_size / 8;
    uint64_t seq = 0, sum = 0, t0 = zc_now_ns(), deadline = t0 + c->duration_ns;
    uint32_t idx[DPDK_MAX_BATCH];
    unsigned tick = 0, every = c->msg_size >= 4096 ? 1 : ZC_MAX(1u, 256 / batch);
    for (;;) {
        if (c->total_bytes ? seq * c->msg_size >= c->total_bytes
                           : (++tick >= every && (tick = 0, zc_now_ns() >= deadline)))
            break;
        unsigned want = batch;
        if (c->total_bytes)
            want = (unsigned)ZC_MAX(
                1, ZC_MIN((uint64_t)batch, (c->total_bytes - seq * c->msg_size) / c->msg_size));
        if ((err = take_free(&r, idx, want)))
            break;
        for (unsigned k = 0; k < want; k++) {
            fill_msg((uint64_t *)(r.bufs + (size_t)idx[k] * c->msg_size), words, seq);
            sum += expected_sum(words, seq);
            seq++;
        }
        for (unsigned e = 0; e < want;)
            e += rte_ring_enqueue_burst_elem(r.to_consumer, idx + e, sizeof(uint32_t), want - e,
                                             NULL);
    }
    uint32_t end = DPDK_END;
    if (!err)
        while (rte_ring_enqueue_elem(r.to_consumer, &end, sizeof(end)) != 0)
            ;
    else
        atomic_store(&r.sh->abort, 1);
    waitpid(pid, NULL, 0);
    uint64_t t1 = zc_now_ns();
    if (restore)
        sched_setaffinity(0, sizeof(saved), &saved);
    if (!err && !atomic_load(&r.sh->done))
        err = -ECHILD;
    if (!err)
        err = r.sh->err;
    if (!err && (r.sh->msgs != seq || r.sh->sum != sum))
        err = -EBADMSG;
    if (!err)
        *res = (struct stream_result){
            .msgs = seq, .bytes = seq * c->msg_size, .ns = t1 - t0, .wakeups = 0};
    munmap(r.base, r.len);
    return err;
}

bool stream_have_dpdk(void)
{
    return true;
}

#else

int stream_run_dpdk(const struct stream_cfg *cfg, struct stream_result *res)
{
    (void)cfg;
    (void)res;
    return -ENOTSUP;
}

bool stream_have_dpdk(void)
{
    return false;
}

#endif
