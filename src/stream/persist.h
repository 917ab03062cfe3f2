/* persist.h - the recording file the consumer writes frames to (persist.c). */
#ifndef ZC_STREAM_PERSIST_H
#define ZC_STREAM_PERSIST_H

#include "zc/stream.h"

struct persist;

struct persist_stats {
    uint64_t writes, bytes, errors;
    int first_error; /* -errno of the first failed write, 0 when none */
};

/* Creates (truncates) the file at path for a loop recording of at most
 * max_bytes, written with mode (ZC_PERSIST_DIRECT or ZC_PERSIST_BUFFERED)
 * through an io_uring of depth entries.  0 on success, -EINVAL (also: the
 * file system refuses O_DIRECT), -errno. */
int persist_open(struct persist **pp, const char *path, enum zc_persist_mode mode,
                 uint64_t max_bytes, unsigned depth);

/* Queues the write of len bytes at buf (both multiples of 4 KiB) as the
 * next record; token comes back from persist_reap().  0, -EINVAL for a
 * misaligned buffer or length, -EBUSY when depth writes are in flight. */
int persist_submit(struct persist *p, const void *buf, size_t len, void *token);

/* Takes up to max completed writes, their tokens into tokens[]; waits up to
 * wait_ns for the first when some are in flight (0: never, < 0: for ever).
 * A failed write still completes (its buffer is free again) and is counted.
 * The number taken, or -errno. */
int persist_reap(struct persist *p, void **tokens, unsigned max, int64_t wait_ns);

/* Writes in flight. */
unsigned persist_inflight(const struct persist *p);

void persist_stats(const struct persist *p, struct persist_stats *st);

/* Bytes of the file resident in the page cache.  0 or -errno. */
int persist_cached_bytes(const struct persist *p, uint64_t *bytes);

/* Waits for the writes in flight, then closes (NULL is fine). */
void persist_close(struct persist *p);

#endif
