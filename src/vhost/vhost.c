/* vhost.c - the backend's life and its one event loop.
 *
 * One thread does everything: it moves frames while there are any,
 * looks at the sockets every POLL_EVERY turns while frames moved in the
 * last IDLE_NS (so a burst of traffic, gaps included, costs one poll() per
 * thousands of frames), and when the rings have been
 * idle for IDLE_NS asks the front end for kicks and sleeps in poll() on the
 * listening socket, the connection, the kick eventfds and the stop fd.
 * Messages are handled between bursts, so a queue never changes under a
 * burst that is using it.
 */
#define _GNU_SOURCE
#include "vhost_impl.h"
#include "zc/base.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define POLL_EVERY 256
#define IDLE_NS    1000000 /* 1 ms without frames before we sleep */

static int listen_on(const char *path, int *fdp)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    *fdp = fd;
    return 0;
}

int zc_vhost_create(struct zc_vhost **vp, const struct zc_vhost_params *p)
{
    *vp = NULL;
    if (p->queues == 0 || p->queues > ZC_VHOST_MAX_QUEUES || (unsigned)p->mode > ZC_VHOST_SOURCE)
        return -EINVAL;
    struct zc_vhost *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->p = *p;
    v->p.socket_path = NULL;
    v->listen_fd = v->conn_fd = -1;
    v->hdr_len = 10;
    net_init(v);
    for (unsigned i = 0; i < 2 * ZC_VHOST_MAX_QUEUES; i++)
        vq_init(&v->vq[i]);
    if (p->socket_path) {
        int err = -ENOMEM;
        if (!(v->path = strdup(p->socket_path)) ||
            (err = listen_on(p->socket_path, &v->listen_fd))) {
            free(v->path);
            free(v);
            return err;
        }
    }
    *vp = v;
    return 0;
}

void zc_vhost_destroy(struct zc_vhost *v)
{
    if (!v)
        return;
    vhost_disconnect(v);
    if (v->listen_fd >= 0) {
        close(v->listen_fd);
        unlink(v->path);
    }
    free(v->path);
    free(v);
}

int zc_vhost_attach(struct zc_vhost *v, int fd)
{
    if (v->conn_fd >= 0) {
        close(fd);
        v->stats.refused++;
        return -EBUSY;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    v->conn_fd = fd;
    v->stats.connections++;
    return 0;
}

bool zc_vhost_connected(const struct zc_vhost *v)
{
    return v->conn_fd >= 0;
}

void zc_vhost_get_stats(const struct zc_vhost *v, struct zc_vhost_stats *s)
{
    *s = v->stats;
}

static void accept_one(struct zc_vhost *v)
{
    int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        (void)zc_vhost_attach(v, fd); /* a second front end is closed there */
}

static void drain_eventfd(int fd)
{
    uint64_t n;
    while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
}

/* The descriptors one turn waits on: stop, listen, connection, kicks. */
struct waitset {
    struct pollfd pfd[3 + 2 * ZC_VHOST_MAX_QUEUES];
    unsigned n;
};

static void waitset_build(const struct zc_vhost *v, int stop_fd, struct waitset *w)
{
    int fds[3] = {stop_fd, v->listen_fd, v->conn_fd};
    for (unsigned i = 0; i < 3; i++)
        w->pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    w->n = 3;
    for (unsigned i = 0; i < 2 * v->p.queues; i++)
        if (v->vq[i].ring && v->vq[i].kick_fd >= 0)
            w->pfd[w->n++] = (struct pollfd){.fd = v->vq[i].kick_fd, .events = POLLIN};
}

/* Asks for a kick on every running queue: true when one has work already. */
static bool arm_all(struct zc_vhost *v, bool arm)
{
    bool work = false;
    for (unsigned i = 0; i < 2 * v->p.queues; i++) {
        struct zc_ring *r = v->vq[i].ring;
        if (r && arm)
            work |= zc_ring_arm(r) != 0;
        else if (r)
            zc_ring_disarm(r);
    }
    return work;
}

/* Waits up to timeout_ms and handles what woke us.  1 when stop_fd fired,
 * 0, -errno. */
static int wait_and_handle(struct zc_vhost *v, int stop_fd, int timeout_ms)
{
    struct waitset w;
    waitset_build(v, stop_fd, &w);
    int n = poll(w.pfd, w.n, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (unsigned i = 3; i < w.n; i++)
        if (w.pfd[i].revents & POLLIN)
            drain_eventfd(w.pfd[i].fd);
    if (w.pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) {
        int err = vhost_handle_message(v);
        if (err)
            vhost_disconnect(v); /* a gone or misbehaving front end */
    }
    if (w.pfd[1].revents & POLLIN)
        accept_one(v);
    return (w.pfd[0].revents & POLLIN) ? 1 : 0;
}

/* Notes the time of a turn that moved frames. */
static void note_traffic(struct zc_vhost *v, uint64_t now)
{
    if (!v->stats.first_frame_ns)
        v->stats.first_frame_ns = now;
    v->stats.last_frame_ns = now;
}

int zc_vhost_poll(struct zc_vhost *v, int timeout_ms)
{
    int moved = net_process(v);
    if (moved < 0) {
        vhost_disconnect(v); /* a queue broke: the front end must start over */
        moved = 0;
    }
    if (moved)
        note_traffic(v, zc_now_ns());
    int err = wait_and_handle(v, -1, moved ? 0 : timeout_ms);
    return err < 0 ? err : moved;
}

static int ms_until(uint64_t deadline)
{
    uint64_t now = zc_now_ns();
    if (deadline == UINT64_MAX)
        return -1;
    return deadline > now ? (int)ZC_MIN((deadline - now) / 1000000 + 1, 60000) : 0;
}

int zc_vhost_run(struct zc_vhost *v, int stop_fd, int64_t duration_ns)
{
    uint64_t start = zc_now_ns(), last_work = start;
    uint64_t deadline = duration_ns < 0 ? UINT64_MAX : start + (uint64_t)duration_ns;
    for (unsigned turn = 1;; turn++) {
        int moved = net_process(v);
        if (moved < 0) {
            vhost_disconnect(v);
            moved = 0;
        }
        uint64_t now = zc_now_ns();
        if (now >= deadline)
            return 0;
        if (moved) {
            note_traffic(v, now);
            last_work = now;
        }
        /* Busy, or a gap between bursts: poll the rings again; the
         * sockets only every POLL_EVERY turns (an empty turn's poll()
         * would cost more than the burst that follows it). */
        bool idle = now - last_work > IDLE_NS;
        if (!idle && turn % POLL_EVERY)
            continue;
        int timeout = 0;
        bool armed = idle;
        if (armed && !arm_all(v, true))
            timeout = ms_until(deadline);
        int stop = wait_and_handle(v, stop_fd, timeout);
        if (armed)
            arm_all(v, false);
        if (stop != 0)
            return stop < 0 ? stop : 0;
    }
}
