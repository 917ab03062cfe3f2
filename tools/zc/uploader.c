/* uploader.c - the demo's uploader process: the device end of the ring
 * rank 0 of `zc insitu` drives, and a place client of the local `zc
 * serve`.  Each chain is one frame; its PNG is sealed and sent straight
 * from the ring slot it was encoded into, then the chain goes back.
 *
 * The uploader trusts nothing in ring memory: the chain comes validated
 * from zc_ring_pop(), the header is read once into private memory and
 * checked, and a malformed frame ends the run before any of it is sent.
 */
#define _GNU_SOURCE
#include "pipeline.h"

#include "zc/place.h"
#include "zc/ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PNG_SIGNATURE_N 8

/* Bytes besides the PNG that cross the ring for one frame: two descriptors,
 * one available-ring entry, one used-ring element and the frame header. */
#define FRAME_RING_BYTES                                                                           \
    (2 * sizeof(struct vring_desc) + sizeof(__virtio16) + sizeof(struct vring_used_elem) +         \
     PIPELINE_HEADER_BYTES)

/* Waits up to timeout_ns for fd to become readable: 0, -ETIMEDOUT, -errno. */
static int wait_readable(int fd, int64_t timeout_ns)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ms = timeout_ns < 0 ? -1 : (int)ZC_MIN(timeout_ns / 1000000, INT_MAX);
    int n;
    do
        n = poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return n == 0 ? -ETIMEDOUT : 0;
}

static void report(int fd, const struct pipeline_report *r)
{
    if (fd >= 0 && zc_write_all(fd, r, sizeof(*r)) != 0)
        zc_warn("uploader: cannot report to the supervisor");
}

/* A popped chain as a frame: its header read once and checked, its PNG
 * segment found.  0 with *step (the simulation step the frame shows), *png
 * and *len set, or -EPROTO. */
static int frame_of_chain(const struct zc_ring *r, const struct zc_ring_chain *c,
                          const struct pipeline_upload_config *cfg, uint64_t *step,
                          const uint8_t **png, uint32_t *len)
{
    if (c->nseg != 2 || c->writable_len != 0 || c->seg[0].len != PIPELINE_HEADER_BYTES ||
        c->seg[1].len < PNG_SIGNATURE_N)
        return -EPROTO;
    uint8_t hdr[PIPELINE_HEADER_BYTES];
    memcpy(hdr, zc_ring_ptr(r, &c->seg[0]), sizeof(hdr));
    uint64_t frame = zc_get_le64(hdr + 8);
    if (zc_get_le32(hdr) != PIPELINE_FRAME_MAGIC || zc_get_le32(hdr + 4) != 0 ||
        frame >= (cfg->steps + cfg->every - 1) / cfg->every)
        return -EPROTO;
    *step = ZC_MIN((frame + 1) * cfg->every, cfg->steps);
    static const uint8_t sig[PNG_SIGNATURE_N] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t head[PNG_SIGNATURE_N];
    *png = zc_ring_ptr(r, &c->seg[1]);
    memcpy(head, *png, sizeof(head));
    if (memcmp(head, sig, sizeof(sig)) != 0)
        return -EPROTO;
    *len = c->seg[1].len;
    return 0;
}

/* Sends every frame the ring brings until rank 0 hangs up; logs why not. */
static int upload_frames(struct zc_ring *r, struct zc_place_client *c,
                         const struct pipeline_upload_config *cfg)
{
    bool gone = false;
    for (;;) {
        struct zc_ring_chain chain;
        int n = zc_ring_pop(r, &chain);
        if (n == 0 && gone)
            return 0;
        if (n == 0) {
            /* After a hang-up, one more look takes what was posted before it. */
            int err = zc_ring_wait(r, cfg->idle_timeout_ns);
            if (err == -EPIPE)
                gone = true;
            if (err == 0 || err == -EPIPE)
                continue;
            if (err == -ETIMEDOUT) {
                zc_error("uploader: rank 0 sent nothing for %lld s",
                         (long long)(cfg->idle_timeout_ns / 1000000000));
                return err;
            }
            n = err;
        }
        if (n < 0) {
            zc_error("uploader: the ring failed: %s", zc_strerror(n));
            return n;
        }
        uint64_t step;
        const uint8_t *png;
        uint32_t len;
        int err = frame_of_chain(r, &chain, cfg, &step, &png, &len);
        if (err) {
            zc_error("uploader: a malformed frame in the ring (chain %u)", chain.head);
            return err;
        }
        char name[32];
        snprintf(name, sizeof(name), "frame_%08llu.png", (unsigned long long)step);
        if ((err = zc_place_put_buffer(c, name, png, len, 0644))) {
            const char *why = zc_place_client_error(c);
            zc_error("uploader: cannot send %s: %s", name, *why ? why : zc_strerror(err));
            return err;
        }
        if ((err = zc_ring_push(r, chain.head, 0)) == 0)
            err = zc_ring_complete(r);
        if (err < 0) {
            zc_error("uploader: cannot hand frame %s back: %s", name, zc_strerror(err));
            return err;
        }
        report(cfg->report_fd, &(struct pipeline_report){.kind = PIPELINE_REPORT_FRAME,
                                                         .ring_bytes = FRAME_RING_BYTES,
                                                         .a = step,
                                                         .b = len});
    }
}

int pipeline_upload(const struct pipeline_upload_config *cfg)
{
    if (cfg->every == 0 || cfg->steps == 0 || cfg->steps > PIPELINE_MAX_STEP)
        return -EINVAL;
    int err = wait_readable(cfg->listen_fd, cfg->idle_timeout_ns);
    int sock = err ? -1 : accept4(cfg->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (!err && sock < 0)
        err = -errno;
    struct zc_ring *r = NULL;
    if (!err)
        err = zc_ring_recv(&r, ZC_RING_DEVICE, sock, geteuid());
    if (err) {
        zc_error("uploader: no ring from zc insitu's rank 0: %s", zc_strerror(err));
        if (sock >= 0)
            close(sock);
        return err;
    }
    zc_ring_set_peer_fd(r, sock);
    struct zc_place_client_config pc = {
        .host = cfg->host,
        .port = cfg->port,
        .key = cfg->key,
        .server = cfg->server,
        .idle_timeout_ms = (unsigned)ZC_MIN(cfg->idle_timeout_ns / 1000000, UINT_MAX)};
    struct zc_place_client *c = NULL;
    if ((err = zc_place_client_connect(&c, &pc)))
        zc_error("uploader: cannot reach zc serve at %s:%u: %s", cfg->host, cfg->port,
                 zc_strerror(err));
    if (!err)
        err = upload_frames(r, c, cfg);
    if (!err && (err = zc_place_client_finish(c))) {
        const char *why = zc_place_client_error(c);
        zc_error("uploader: zc serve did not place the frames: %s", *why ? why : zc_strerror(err));
    }
    if (!err) {
        struct zc_place_stats st;
        zc_place_client_stats(c, &st);
        report(cfg->report_fd, &(struct pipeline_report){.kind = PIPELINE_REPORT_DONE,
                                                         .a = st.wire_bytes,
                                                         .b = st.bytes});
    }
    zc_place_client_close(c);
    zc_ring_destroy(r);
    close(sock);
    return err;
}
