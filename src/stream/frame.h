/* frame.h - frames as the simulated sensors write them and as the consumer
 * checks them (frame.c); ingest.c moves them through the ring. */
#ifndef ZC_STREAM_FRAME_H
#define ZC_STREAM_FRAME_H

#include "zc/stream.h"

/* The payload test pattern: PATTERN_BYTES of pseudo-random bytes (small
 * enough to stay in the producer's L2, the way a device's FIFO is no part of
 * the host's memory traffic), stored twice so that any window of
 * PATTERN_BYTES starting below PATTERN_BYTES is contiguous.  Frame pattern k
 * is the payload that starts at window offset pattern_offset(k). */
#define PATTERN_BYTES (128u << 10)
#define NPATTERNS     16u

struct frame_pattern {
    unsigned char *bytes; /* 2 * PATTERN_BYTES */
    uint64_t checksum[ZC_SENSOR_KINDS][NPATTERNS];
};

/* Fills the pattern and the checksum of every (kind, pattern) payload for the
 * kinds in use.  0 or -ENOMEM. */
int frame_pattern_init(struct frame_pattern *fp, const unsigned *sensors);
void frame_pattern_free(struct frame_pattern *fp);

/* Writes the payload of pattern k (len bytes) at dst with store. */
void frame_write_payload(const struct frame_pattern *fp, unsigned k, void *dst, size_t len,
                         enum zc_store store);

/* The consumer's view: which kind each sensor is, the next sequence number
 * it expects of each, and whether it reads payloads at all. */
struct frame_checker {
    unsigned nsensors;
    const uint8_t *kind;
    uint64_t *expect;
    bool verify;
};

/* Checks the frame of len bytes at p (shared memory: the header is copied
 * out once, then validated).  0 with *gap = the frames missing before this
 * one, or -EBADMSG (bad magic, sensor, kind, a length other than the
 * header's plus its payload's, an old sequence number, or a checksum that
 * does not match). */
int frame_check(struct frame_checker *c, const void *p, size_t len, uint64_t *gap);

#endif
