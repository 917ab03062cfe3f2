/* persist.c - frames written to a recording file straight from the frame
 * pool, through io_uring, with O_DIRECT or through the page cache.
 *
 * A buffered write copies every byte into the page cache with ordinary
 * stores (evicting the CPU's working set a second time) and leaves the page
 * cache holding the whole recording until writeback and reclaim catch up.
 * With O_DIRECT the device reads the pool's pages itself: no copy, no page
 * cache.  O_DIRECT needs the buffer, the length and the file offset aligned
 * to the logical block size; the frame pool's slots are 4 KiB-aligned and
 * 4 KiB long multiples, so frames go out from where they landed.
 *
 * The file is a loop recording, as a dashcam's: records are appended until
 * max_bytes and then wrap to the start, so a long run never fills the disk.
 * Writes are asynchronous: a frame's slot is lent to the kernel until its
 * completion comes back (zc_persist_reap()).
 */
#define _GNU_SOURCE 1
#include "persist.h"
#include "zc/base.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PERSIST_ALIGN 4096

struct write_slot {
    void *token;
    uint32_t len;
};

struct persist {
    struct io_uring ring;
    bool ring_ready;
    int fd;
    enum zc_persist_mode mode;
    unsigned depth, inflight;
    uint64_t off, max_bytes, end; /* next offset, the wrap point, the file's extent */
    struct write_slot *slot;
    unsigned *free_idx, nfree;
    struct persist_stats st;
};

int persist_open(struct persist **pp, const char *path, enum zc_persist_mode mode,
                 uint64_t max_bytes, unsigned depth)
{
    if (!pp || !path || depth == 0 || depth > 4096 || max_bytes < PERSIST_ALIGN ||
        (mode != ZC_PERSIST_DIRECT && mode != ZC_PERSIST_BUFFERED))
        return -EINVAL;
    struct persist *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->fd = -1;
    p->mode = mode;
    p->depth = depth;
    p->max_bytes = max_bytes - max_bytes % PERSIST_ALIGN;
    p->slot = calloc(depth, sizeof(*p->slot));
    p->free_idx = calloc(depth, sizeof(*p->free_idx));
    int rc = (!p->slot || !p->free_idx) ? -ENOMEM : 0;
    for (unsigned i = 0; rc == 0 && i < depth; i++)
        p->free_idx[p->nfree++] = depth - 1 - i;
    if (rc == 0) {
        /* Read-write only so that persist_cached_bytes() can map it. */
        int flags = O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC;
        p->fd = open(path, flags | (mode == ZC_PERSIST_DIRECT ? O_DIRECT : 0), 0644);
        if (p->fd < 0)
            rc = -errno;
    }
    if (rc == 0) {
        rc = io_uring_queue_init(depth, &p->ring, 0);
        p->ring_ready = rc == 0;
    }
    if (rc < 0) {
        persist_close(p);
        return rc;
    }
    *pp = p;
    return 0;
}

int persist_submit(struct persist *p, const void *buf, size_t len, void *token)
{
    if (len == 0 || len % PERSIST_ALIGN || len > UINT32_MAX || len > p->max_bytes ||
        (uintptr_t)buf % PERSIST_ALIGN)
        return -EINVAL;
    if (!p->nfree)
        return -EBUSY;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);
    if (!sqe)
        return -EBUSY;
    if (p->off + len > p->max_bytes)
        p->off = 0;
    unsigned idx = p->free_idx[--p->nfree];
    p->slot[idx] = (struct write_slot){token, (uint32_t)len};
    io_uring_prep_write(sqe, p->fd, buf, (unsigned)len, p->off);
    io_uring_sqe_set_data64(sqe, idx);
    int rc = io_uring_submit(&p->ring);
    if (rc < 0) {
        p->free_idx[p->nfree++] = idx;
        return rc;
    }
    p->off += len;
    /* Read by persist_cached_bytes() from another thread. */
    if (p->off > __atomic_load_n(&p->end, __ATOMIC_RELAXED))
        __atomic_store_n(&p->end, p->off, __ATOMIC_RELAXED);
    p->inflight++;
    return 0;
}

int persist_reap(struct persist *p, void **tokens, unsigned max, int64_t wait_ns)
{
    unsigned n = 0;
    if (p->inflight && wait_ns != 0) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = wait_ns / 1000000000,
                                       .tv_nsec = wait_ns % 1000000000};
        int rc = io_uring_wait_cqe_timeout(&p->ring, &cqe, wait_ns > 0 ? &ts : NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR)
            return rc;
    }
    while (n < max) {
        struct io_uring_cqe *cqe;
        if (io_uring_peek_cqe(&p->ring, &cqe) != 0)
            break;
        uint64_t idx = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&p->ring, cqe);
        if (idx >= p->depth)
            continue;
        struct write_slot *w = &p->slot[idx];
        if (res == (int)w->len) {
            p->st.writes++;
            p->st.bytes += w->len;
        } else {
            /* A failed or short write: the record is lost, and counted. */
            p->st.errors++;
            if (!p->st.first_error)
                p->st.first_error = res < 0 ? res : -EIO;
        }
        tokens[n++] = w->token;
        p->free_idx[p->nfree++] = (unsigned)idx;
        p->inflight--;
    }
    return (int)n;
}

unsigned persist_inflight(const struct persist *p)
{
    return p->inflight;
}

void persist_stats(const struct persist *p, struct persist_stats *st)
{
    *st = p->st;
}

/* Bytes of the recording resident in the page cache (mincore over a
 * read-only mapping, which faults nothing in). */
int persist_cached_bytes(const struct persist *p, uint64_t *bytes)
{
    *bytes = 0;
    size_t len = (size_t)__atomic_load_n(&p->end, __ATOMIC_RELAXED);
    if (len == 0)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = (len + (size_t)page - 1) / (size_t)page;
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, p->fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    unsigned char *vec = malloc(pages);
    int rc = vec ? 0 : -ENOMEM;
    if (rc == 0 && mincore(m, len, vec) < 0)
        rc = -errno;
    for (size_t i = 0; rc == 0 && i < pages; i++)
        if (vec[i] & 1)
            *bytes += (uint64_t)page;
    free(vec);
    munmap(m, len);
    return rc;
}

void persist_close(struct persist *p)
{
    if (!p)
        return;
    if (p->ring_ready) {
        void *tokens[64];
        while (p->inflight && persist_reap(p, tokens, ZC_ARRAY_SIZE(tokens), -1) >= 0)
            ;
        io_uring_queue_exit(&p->ring);
    }
    if (p->fd >= 0)
        close(p->fd);
    free(p->slot);
    free(p->free_idx);
    free(p);
}
