/* zc/vhost.h - a vhost-user-net backend: zc's ring as a virtio device that
 * unmodified front ends drive (DPDK's virtio-user, a QEMU guest's
 * virtio-net driver).
 *
 * The backend listens on a UNIX socket (vhost-user server mode) and serves
 * one front end at a time; a second one is accepted and closed at once.
 * The front end hands over its memory table (one file descriptor a region)
 * and places each virtqueue where it likes inside that memory; the backend
 * maps the regions and runs the ring's device side (zc_ring_attach_vring)
 * over them, so frames are read and written where they lie.
 *
 * The front end is untrusted: every message field, region, ring address,
 * descriptor, length and index it supplies is read once into private
 * memory and checked before use.  A bad message gets a failure reply (with
 * VHOST_USER_PROTOCOL_F_REPLY_ACK) or ends the connection; a bad chain or
 * frame is refused and counted in bad_packets; nothing it sends makes the
 * backend touch memory outside the regions it was given.
 *
 * Directions are named from the backend's side, as a NIC names them: rx is
 * what the backend receives (the front end's transmit queues, 1, 3, ...),
 * tx what it sends (into the front end's receive queues, 0, 2, ...).
 *
 * Functions return 0 (or a count) on success and a negative errno on
 * failure.  One thread drives a backend.
 */
#ifndef ZC_VHOST_H
#define ZC_VHOST_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most queue pairs a backend offers (VHOST_USER_PROTOCOL_F_MQ). */
#define ZC_VHOST_MAX_QUEUES 8
/* The largest frame (without the virtio-net header) the device moves. */
#define ZC_VHOST_MAX_FRAME 65535
/* The frame length `source` sends. */
#define ZC_VHOST_SOURCE_FRAME 64

enum zc_vhost_mode {
    ZC_VHOST_SINK,   /* count and drop what the front end transmits */
    ZC_VHOST_ECHO,   /* send each received frame back on the same pair's RX queue */
    ZC_VHOST_SOURCE, /* fill every RX buffer posted with a 64-byte UDP frame */
};

struct zc_vhost_params {
    const char *socket_path; /* the socket to create and listen on; NULL: only zc_vhost_attach */
    unsigned queues;         /* queue pairs, 1..ZC_VHOST_MAX_QUEUES */
    enum zc_vhost_mode mode;
};

struct zc_vhost_stats {
    uint64_t rx_packets, rx_bytes; /* frames taken from the front end (bytes without header) */
    uint64_t tx_packets, tx_bytes; /* frames put into its receive buffers */
    uint64_t tx_dropped;           /* echo: frames with no receive buffer to take them */
    uint64_t bad_packets;          /* chains and frames refused */
    uint64_t bad_messages;         /* vhost-user messages refused */
    uint64_t connections;          /* front ends served */
    uint64_t refused;              /* front ends refused while another was attached */
    uint64_t first_frame_ns,
        last_frame_ns; /* zc_now_ns() of the first and last turn that moved frames */
};

struct zc_vhost;

/* Creates a backend and, with a socket_path, binds and listens there (an
 * existing file there is an error: -EADDRINUSE).  0 or -errno. */
int zc_vhost_create(struct zc_vhost **vp, const struct zc_vhost_params *p);

/* Takes fd, a connected stream socket, as the front end.  -EBUSY when one
 * is attached (fd is closed then too).  0 or -errno. */
int zc_vhost_attach(struct zc_vhost *v, int fd);

/* True while a front end is attached. */
bool zc_vhost_connected(const struct zc_vhost *v);

/* One turn: moves the frames that are ready, then waits up to timeout_ms
 * (0: not at all, -1: for ever) for messages, connections or kicks and
 * handles them.  The number of frames moved, or -errno. */
int zc_vhost_poll(struct zc_vhost *v, int timeout_ms);

/* Serves front ends until stop_fd becomes readable (-1: none) or
 * duration_ns passes (< 0: no limit): polls while there is traffic and
 * sleeps on the kicks when there is none.  0 or -errno. */
int zc_vhost_run(struct zc_vhost *v, int stop_fd, int64_t duration_ns);

/* Fills s with the counters since the backend was created. */
void zc_vhost_get_stats(const struct zc_vhost *v, struct zc_vhost_stats *s);

/* Drops the front end, unmaps its memory, removes the socket file the
 * backend created and frees it (NULL is fine). */
void zc_vhost_destroy(struct zc_vhost *v);

#ifdef __cplusplus
}
#endif

#endif /* ZC_VHOST_H */
