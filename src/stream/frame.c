/* frame.c - what a frame holds and how a consumer knows it is whole.
 *
 * Each simulated sensor writes frames of its kind's size.  The payload is a
 * window of a fixed pseudo-random pattern, one of NPATTERNS rotations picked
 * from the sequence number, so that the producer never has to read a frame
 * back to checksum it: the checksum of every (kind, rotation) is computed
 * once at start.  The consumer recomputes the checksum of what it finds in
 * the pool and compares it with the header's.  The checksum weighs each
 * 64-bit word by its position, so a frame torn between two writers (lines of
 * one rotation among lines of another) or shifted does not add up.
 */
#include "frame.h"
#include "nt.h"
#include "zc/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const size_t frame_bytes[ZC_SENSOR_KINDS] = {
    [ZC_SENSOR_CAMERA] = 1920 * 1080 * 2,
    [ZC_SENSOR_LIDAR] = 128 * 1024 * 16,
    [ZC_SENSOR_RADAR] = 256 * 128 * 4 * 4,
};

size_t zc_sensor_frame_bytes(enum zc_sensor_kind kind)
{
    return (unsigned)kind < ZC_SENSOR_KINDS ? frame_bytes[kind] : 0;
}

/* Adds n bytes (a multiple of 8) at p, whose first word is word number idx
 * of the payload, to the running sum h. */
static uint64_t checksum_update(uint64_t h, uint64_t idx, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n / 8; i++) {
        uint64_t w;
        memcpy(&w, b + 8 * i, 8);
        h += w * (2 * (idx + i) + 1);
    }
    return h;
}

uint64_t zc_frame_checksum(const void *payload, size_t len)
{
    return checksum_update(0, 0, payload, len);
}

static size_t pattern_offset(unsigned k)
{
    return (size_t)k * 4160 % PATTERN_BYTES;
}

int frame_pattern_init(struct frame_pattern *fp, const unsigned *sensors)
{
    memset(fp, 0, sizeof(*fp));
    fp->bytes = aligned_alloc(4096, 2 * PATTERN_BYTES);
    if (!fp->bytes)
        return -ENOMEM;
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < PATTERN_BYTES; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(fp->bytes + i, &x, 8);
    }
    memcpy(fp->bytes + PATTERN_BYTES, fp->bytes, PATTERN_BYTES);
    for (unsigned kind = 0; kind < ZC_SENSOR_KINDS; kind++) {
        if (!sensors[kind])
            continue;
        for (unsigned k = 0; k < NPATTERNS; k++) {
            uint64_t h = 0;
            for (size_t pos = 0; pos < frame_bytes[kind]; pos += PATTERN_BYTES) {
                size_t n = ZC_MIN(frame_bytes[kind] - pos, PATTERN_BYTES);
                h = checksum_update(h, pos / 8, fp->bytes + pattern_offset(k), n);
            }
            fp->checksum[kind][k] = h;
        }
    }
    return 0;
}

void frame_pattern_free(struct frame_pattern *fp)
{
    free(fp->bytes);
    fp->bytes = NULL;
}

void frame_write_payload(const struct frame_pattern *fp, unsigned k, void *dst, size_t len,
                         enum zc_store store)
{
    const unsigned char *src = fp->bytes + pattern_offset(k);
    for (size_t pos = 0; pos < len; pos += PATTERN_BYTES) {
        size_t n = ZC_MIN(len - pos, PATTERN_BYTES);
        if (store == ZC_STORE_NT)
            zc_copy_nt((char *)dst + pos, src, n);
        else
            cached_copy((char *)dst + pos, src, n);
    }
}

int frame_check(struct frame_checker *c, const void *p, size_t len, uint64_t *gap)
{
    struct zc_frame_hdr h;
    *gap = 0;
    if (len < sizeof(h))
        return -EBADMSG;
    memcpy(&h, p, sizeof(h));
    if (h.magic != ZC_FRAME_MAGIC || h.sensor >= c->nsensors || h.kind != c->kind[h.sensor])
        return -EBADMSG;
    /* The descriptor covers exactly the frame: the consumer persists what it
     * covers, so a longer one would record the pool beyond this frame. */
    if (h.payload_len != frame_bytes[h.kind] || h.payload_len != len - sizeof(h))
        return -EBADMSG;
    /* Older than expected is a replay; UINT64_MAX would wrap the next
     * expected number to 0 and readmit every old frame. */
    if (h.seq < c->expect[h.sensor] || h.seq == UINT64_MAX)
        return -EBADMSG;
    if (c->verify &&
        zc_frame_checksum((const unsigned char *)p + sizeof(h), h.payload_len) != h.checksum)
        return -EBADMSG;
    *gap = h.seq - c->expect[h.sensor];
    c->expect[h.sensor] = h.seq + 1;
    return 0;
}
