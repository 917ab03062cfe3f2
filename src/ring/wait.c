/* wait.c - notifications and the adaptive spin-then-block wait.
 *
 * A wake-up through an eventfd costs microseconds, a look at the peer's
 * index in shared memory a fraction of one.  So a waiting end first spins
 * on the index for a while; only when that finds nothing does it ask the
 * peer for a notification (VIRTIO_F_EVENT_IDX: "call me when your index
 * passes mine", or the NO_NOTIFY/NO_INTERRUPT flags without it) and sleep
 * on its eventfd.  The spin budget adapts: it doubles each time spinning
 * found work and halves each time the end had to sleep, so a peer that is
 * slow to answer does not cost a core.
 *
 * The request and the peer's publication race; each side writes its own
 * word, issues a full barrier, then reads the other's (zc_ring_submit and
 * zc_ring_complete do the publishing half), so at least one of them sees
 * the other and no wake-up is lost.
 */
#define _GNU_SOURCE
#include "ring_impl.h"
#include "zc/base.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

int ring_signal(int efd)
{
    uint64_t one = 1;
    for (;;) {
        if (write(efd, &one, sizeof(one)) == (ssize_t)sizeof(one))
            return 0;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? 0 : -errno;
    }
}

static void drain(int efd)
{
    uint64_t v;
    while (read(efd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

bool ring_has_work(struct zc_ring *r)
{
    /* Acquire on the peer's index, pairing with its release store in
     * zc_ring_submit() / zc_ring_complete(), so that a caller who goes on
     * to pop or reap sees the entries. */
    if (r->packed)
        return packed_has_work(r);
    if (r->role == ZC_RING_DRIVER)
        return atomic_load_explicit(&r->used->idx, memory_order_acquire) != r->last_used;
    return atomic_load_explicit(&r->avail->idx, memory_order_acquire) != r->last_avail;
}

int ring_notify_peer(struct zc_ring *r, uint16_t old, uint16_t new_idx)
{
    bool drv = r->role == ZC_RING_DRIVER;
    /* Full barrier between publishing our index (avail->idx in
     * zc_ring_submit, used->idx in zc_ring_complete) and reading the peer's
     * request.  Pairs with the fence in zc_ring_arm() on the other side,
     * between its request and its re-read of our index: either the peer
     * sees our index or we see its request, so no wake-up is lost. */
    atomic_thread_fence(memory_order_seq_cst);
    bool wake;
    if (r->packed)
        wake = packed_need_notify(r, old, new_idx);
    else if (r->event_idx)
        wake = ring_need_event(
            atomic_load_explicit(drv ? r->avail_event : r->used_event, memory_order_relaxed),
            new_idx, old);
    else if (drv)
        wake = !(atomic_load_explicit(&r->used->flags, memory_order_relaxed) & USED_F_NO_NOTIFY);
    else
        wake =
            !(atomic_load_explicit(&r->avail->flags, memory_order_relaxed) & AVAIL_F_NO_INTERRUPT);
    if (!wake)
        return 0;
    int fd = drv ? r->kick_fd : r->call_fd;
    if (fd < 0)
        return 0; /* a vring whose driver polls: nobody to wake */
    r->stats.notifications++;
    return ring_signal(fd);
}

/* Without EVENT_IDX a flag must be set again to stop the peer's wake-ups
 * while this end is busy (with it, a passed event index stays quiet). */
void zc_ring_disarm(struct zc_ring *r)
{
    if (r->event_idx)
        return;
    if (r->packed)
        packed_request(r, false);
    else if (r->role == ZC_RING_DRIVER)
        atomic_store_explicit(&r->avail->flags, AVAIL_F_NO_INTERRUPT, memory_order_relaxed);
    else
        atomic_store_explicit(&r->used->flags, USED_F_NO_NOTIFY, memory_order_relaxed);
}

int zc_ring_arm(struct zc_ring *r)
{
    if (r->broken)
        return -EPROTO;
    /* The driver asks for a call when used->idx passes last_used, the
     * device for a kick when avail->idx passes last_avail. */
    bool drv = r->role == ZC_RING_DRIVER;
    if (r->packed)
        packed_request(r, true);
    else if (r->event_idx)
        atomic_store_explicit(drv ? r->used_event : r->avail_event,
                              drv ? r->last_used : r->last_avail, memory_order_relaxed);
    else
        atomic_store_explicit(drv ? &r->avail->flags : &r->used->flags, 0, memory_order_relaxed);
    /* Full barrier between the request above and the re-read of the peer's
     * index in ring_has_work().  Pairs with the fence in ring_notify_peer()
     * on the other side, between its index store and its request load. */
    atomic_thread_fence(memory_order_seq_cst);
    return ring_has_work(r) ? 1 : 0;
}

int zc_ring_notify_fd(const struct zc_ring *r)
{
    return r->role == ZC_RING_DRIVER ? r->call_fd : r->kick_fd;
}

void zc_ring_set_spin(struct zc_ring *r, uint64_t max_spin_ns)
{
    r->spin_max_ns = r->spin_ns = max_spin_ns;
}

void zc_ring_get_stats(const struct zc_ring *r, struct zc_ring_stats *s)
{
    *s = r->stats;
}

void zc_ring_set_peer_fd(struct zc_ring *r, int fd)
{
    r->peer_fd = fd;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Spins until work shows up or the budget (or deadline) runs out. */
static bool spin(struct zc_ring *r, uint64_t deadline)
{
    if (r->spin_ns == 0)
        return false;
    uint64_t t0 = zc_now_ns(), end = ZC_MIN(t0 + r->spin_ns, deadline);
    for (unsigned i = 1;; i++) {
        if (ring_has_work(r)) {
            r->spin_ns = ZC_MIN(r->spin_ns * 2, r->spin_max_ns);
            r->stats.spins++;
            return true;
        }
        cpu_relax();
        if ((i & 31) == 0 && zc_now_ns() >= end)
            break;
    }
    r->spin_ns = ZC_MAX(r->spin_ns / 2, r->spin_max_ns / 32);
    return false;
}

int zc_ring_wait(struct zc_ring *r, int64_t timeout_ns)
{
    if (r->broken)
        return -EPROTO;
    if (ring_has_work(r))
        return 0;
    uint64_t now = zc_now_ns();
    uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : now + (uint64_t)timeout_ns;
    if (spin(r, deadline))
        return 0;
    int notify = zc_ring_notify_fd(r);
    for (;;) {
        if (zc_ring_arm(r)) {
            zc_ring_disarm(r);
            return 0;
        }
        struct pollfd pfd[2] = {{.fd = notify, .events = POLLIN},
                                {.fd = r->peer_fd, .events = POLLRDHUP}};
        struct timespec ts, *tsp = NULL;
        if (deadline != UINT64_MAX) {
            now = zc_now_ns();
            uint64_t left = deadline > now ? deadline - now : 0;
            ts.tv_sec = (time_t)(left / 1000000000u);
            ts.tv_nsec = (long)(left % 1000000000u);
            tsp = &ts;
        }
        r->stats.sleeps++;
        int n = ppoll(pfd, r->peer_fd >= 0 ? 2 : 1, tsp, NULL);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (pfd[0].revents & POLLIN)
            drain(notify);
        if (ring_has_work(r)) {
            zc_ring_disarm(r);
            return 0;
        }
        if (r->peer_fd >= 0 && (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return -EPIPE;
        if (n == 0 || zc_now_ns() >= deadline)
            return -ETIMEDOUT;
    }
}
