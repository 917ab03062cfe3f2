/* pipeline_sink.c - rank 0 of `zc insitu` as the driver of the demo's
 * ring: each final frame is encoded as PNG straight into a free slot of
 * the ring's shared buffer region and posted as a two-descriptor chain
 * {frame header, PNG}; only the chain travels to the uploader, which sends
 * the PNG from that very slot.  The slots come back through the used ring
 * (zc_ring_pool_*).  At the end of the run rank 0 also writes zc insitu's
 * figures as one binary record for the supervisor (pipeline_report_send).
 */
#define _GNU_SOURCE
#include "pipeline.h"

#include "zc/insitu.h"
#include "zc/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SINK_SLOTS   4
#define SINK_WAIT_NS (60 * 1000000000ll)

size_t pipeline_png_bound(unsigned width, unsigned height)
{
    /* Filtered rows, plus deflate's overhead when it has to store them
     * (5 bytes a stored block; counted as if a block were 2 KiB), an IDAT
     * chunk's 12 bytes each 8 KiB (libpng's buffer), and the signature,
     * IHDR, IEND, zlib wrapper and zc insitu's four text chunks (at most
     * 340 bytes) with room to spare. */
    size_t raw = (size_t)height * ((size_t)width * 4 + 1);
    return raw + raw / 2048 * 5 + (raw / 8192 + 1) * 12 + 1024;
}

/* ---- the sink: PNG straight into a ring slot ---- */

struct pipeline_sink {
    struct zc_ring *ring;
    struct zc_ring_pool *pool;
    int sock;
    unsigned width, height;
    size_t slot_size;
};

int pipeline_sink_open(struct pipeline_sink **out, const char *sock_path, unsigned width,
                       unsigned height)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof(addr.sun_path))
        return -ENAMETOOLONG;
    strcpy(addr.sun_path, sock_path);
    struct pipeline_sink *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->width = width;
    s->height = height;
    s->slot_size = (PIPELINE_HEADER_BYTES + pipeline_png_bound(width, height) + 63) & ~(size_t)63;
    if (s->slot_size > UINT32_MAX) { /* a descriptor's length is 32 bits */
        free(s);
        return -EFBIG;
    }
    s->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err = s->sock < 0 ? -errno : 0;
    if (!err && connect(s->sock, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        err = -errno;
    /* Two descriptors a frame: the queue holds every slot's chain. */
    struct zc_ring_params p = {.num = 2 * SINK_SLOTS,
                               .buf_size = (uint64_t)s->slot_size * SINK_SLOTS,
                               .features = ZC_RING_F_EVENT_IDX};
    if (!err)
        err = zc_ring_create(&s->ring, ZC_RING_DRIVER, &p);
    if (!err)
        err = zc_ring_pool_create(&s->pool, s->ring, 0, s->slot_size, SINK_SLOTS);
    if (!err)
        err = zc_ring_send(s->ring, s->sock);
    if (err) {
        zc_ring_pool_destroy(s->pool);
        zc_ring_destroy(s->ring);
        if (s->sock >= 0)
            close(s->sock);
        free(s);
        return err;
    }
    zc_ring_set_peer_fd(s->ring, s->sock);
    *out = s;
    return 0;
}

int pipeline_sink_frame(struct pipeline_sink *s, const struct zc_fb *fb, uint64_t frame,
                        const struct zc_insitu_frame *png_info)
{
    if (zc_fb_width(fb) != s->width || zc_fb_height(fb) != s->height || frame > PIPELINE_MAX_STEP)
        return -EINVAL;
    int err = zc_ring_pool_wait(s->pool, 1, SINK_WAIT_NS);
    if (err)
        return err;
    uint32_t slot = (uint32_t)zc_ring_pool_get(s->pool);
    uint8_t *base = zc_ring_pool_ptr(s->pool, slot);
    /* The same bytes zc insitu --out writes (its PNG text chunks too), so a
     * frame sent through the pipeline is byte-identical to that file. */
    ssize_t len = zc_insitu_encode_png(fb, png_info, base + PIPELINE_HEADER_BYTES,
                                       s->slot_size - PIPELINE_HEADER_BYTES);
    if (len < 0) {
        zc_ring_pool_put(s->pool, slot);
        return (int)len;
    }
    zc_put_le32(base, PIPELINE_FRAME_MAGIC);
    zc_put_le32(base + 4, 0);
    zc_put_le64(base + 8, frame);
    /* The header and the PNG as two descriptors, back to back in the slot. */
    uint32_t lens[2] = {PIPELINE_HEADER_BYTES, (uint32_t)len};
    err = zc_ring_pool_add(s->pool, slot, lens, 2);
    if (!err) {
        int n = zc_ring_submit(s->ring);
        err = n < 0 ? n : 0;
    }
    return err;
}

int pipeline_sink_close(struct pipeline_sink *s)
{
    if (!s)
        return 0;
    int err = zc_ring_pool_wait(s->pool, SINK_SLOTS, SINK_WAIT_NS);
    zc_ring_pool_destroy(s->pool);
    zc_ring_destroy(s->ring);
    close(s->sock);
    free(s);
    return err;
}

int pipeline_report_send(const char *path, const struct insitu_figures *f)
{
    uint8_t rec[PIPELINE_INSITU_REPORT_BYTES];
    zc_put_le32(rec, PIPELINE_INSITU_REPORT_MAGIC);
    zc_put_le32(rec + 4, f->frames);
    zc_put_le64(rec + 8, f->image_bytes);
    zc_put_le64(rec + 16, f->composite_bytes);
    zc_put_le64(rec + 24, f->busiest_bytes);
    zc_put_le64(rec + 32, f->gather_bytes);
    /* Not blocking: a FIFO nobody reads is -ENXIO, not a hang. */
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = zc_write_all(fd, rec, sizeof(rec));
    close(fd);
    return err;
}
