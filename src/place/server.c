/* server.c - `zc serve`: accept, authenticate, place.
 *
 * One child process per session: a hostile or broken peer can at worst end
 * its own session, and the session limit is a count of children.  Each
 * session runs the handshake under a deadline, then a loop over frames:
 * control frames are received whole and verified before they are acted
 * on; DATA frames go to the placer, which receives them in place.  When
 * the session fails the peer gets one ERROR frame saying why, and the
 * socket is drained briefly before closing so that the reason is not lost
 * to a TCP reset.
 */
#define _GNU_SOURCE
#include "placer.h"
#include "sender.h"

#include "zc/base.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_SESSIONS 16
#define DEFAULT_IDLE_MS  30000
#define COMMIT_IDLE_MS   100  /* publish queued files when the peer pauses this long */
#define ERROR_DRAIN_MS   2000 /* how long a failed session waits for the peer to stop */

/* Set in a session's child process, whose handshake runs under alarm(). */
static bool in_session_child;

struct zc_place_server {
    int lfd;
    uint16_t port;
    unsigned active;
    struct zc_place_server_config cfg;
};

static unsigned idle_ms(const struct zc_place_server_config *cfg)
{
    return cfg->idle_timeout_ms ? cfg->idle_timeout_ms : DEFAULT_IDLE_MS;
}

int zc_place_server_open(struct zc_place_server **out, const struct zc_place_server_config *cfg)
{
    int rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return -errno;
    close(rootfd);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai;
    char port[8];
    snprintf(port, sizeof(port), "%u", cfg->port);
    if (getaddrinfo(cfg->host, port, &hints, &ai))
        return -EADDRNOTAVAIL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, r = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64))
        r = -errno;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (!r && getsockname(fd, (struct sockaddr *)&ss, &sl))
        r = -errno;
    struct zc_place_server *s = r ? NULL : calloc(1, sizeof(*s));
    if (!r && !s)
        r = -ENOMEM;
    if (r) {
        if (fd >= 0)
            close(fd);
        return r;
    }
    s->lfd = fd;
    s->cfg = *cfg;
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    *out = s;
    return 0;
}

uint16_t zc_place_server_port(const struct zc_place_server *s)
{
    return s->port;
}

static void reap(struct zc_place_server *s)
{
    while (s->active && waitpid(-1, NULL, WNOHANG) > 0)
        s->active--;
}

int zc_place_server_run(struct zc_place_server *s, volatile sig_atomic_t *stop)
{
    unsigned max = s->cfg.max_sessions ? s->cfg.max_sessions : DEFAULT_SESSIONS;
    while (!*stop) {
        reap(s);
        struct pollfd pfd = {s->lfd, POLLIN, 0};
        int n = poll(&pfd, 1, 200);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n <= 0)
            continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
                continue;
            return -errno;
        }
        reap(s);
        if (s->active >= max) {
            zc_warn("session limit (%u) reached: connection refused", max);
            close(fd);
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(s->lfd);
            in_session_child = true;
            /* The handshake must finish within one idle period: no slow start. */
            alarm((idle_ms(&s->cfg) + 999) / 1000);
            int r = zc_place_serve_session(fd, &s->cfg, NULL);
            _exit(r ? ZC_EXIT_FAIL : ZC_EXIT_OK);
        }
        close(fd);
        if (pid < 0)
            zc_warn("cannot start a session: %s", zc_strerror(-errno));
        else
            s->active++;
    }
    /* Stopped: accept nothing more, let the running sessions finish. */
    while (s->active && (waitpid(-1, NULL, 0) > 0 || errno == EINTR))
        s->active--;
    return 0;
}

int zc_place_server_accept_one(struct zc_place_server *s)
{
    int fd;
    do
        fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
    if (fd < 0)
        return -errno;
    return zc_place_serve_session(fd, &s->cfg, NULL);
}

void zc_place_server_close(struct zc_place_server *s)
{
    if (!s)
        return;
    close(s->lfd);
    free(s);
}

struct session {
    struct place_conn conn;
    struct place_placer placer;
    int rootfd;
    const struct zc_place_server_config *cfg;
    uint8_t *ctrl; /* PLACE_MAX_CTRL bytes: a control frame's payload */
    char peer[96];
};

static int send_ack(void *ctx, uint32_t id, uint64_t size)
{
    struct session *ss = ctx;
    return place_conn_send(&ss->conn, PLACE_ACK, 0, id, size, NULL, 0);
}

/* A get with RESUME: the client answers each OPEN with OPENED (where to
 * start); anything else from it while we send is an ERROR or a violation. */
static int get_poll(void *ctx, uint32_t opened, uint64_t *resume_at)
{
    struct session *ss = ctx;
    if (!opened && !place_conn_pending(&ss->conn))
        return 0;
    int r = place_conn_recv_ctrl(&ss->conn, ss->ctrl);
    if (r)
        return r;
    const struct place_hdr h = ss->conn.rx_cur;
    if (h.type == PLACE_ERROR) {
        int err;
        place_error_decode(ss->ctrl, h.length, &err, ss->placer.msg, sizeof(ss->placer.msg));
        return -err;
    }
    if (h.type != PLACE_OPENED || !opened || h.file_id != opened) {
        snprintf(ss->placer.msg, sizeof(ss->placer.msg), "unexpected frame type %u in a get",
                 h.type);
        return -EPROTO;
    }
    *resume_at = h.offset;
    return 0;
}

/* GET: the server becomes the sender of a file or tree beneath its root. */
static int serve_get(struct session *ss, const uint8_t *payload, uint32_t len, uint8_t flags)
{
    char path[ZC_PLACE_MAX_PATH + 1];
    if (place_path_check((const char *)payload, len)) {
        snprintf(ss->placer.msg, sizeof(ss->placer.msg), "path refused");
        return -EACCES;
    }
    memcpy(path, payload, len);
    path[len] = '\0';
    int fd = place_openat_beneath(ss->rootfd, path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(ss->placer.msg, sizeof(ss->placer.msg), "%.200s: %s", path, zc_strerror(fd));
        return fd;
    }
    struct place_sender snd = {
        .conn = &ss->conn,
        .clear = flags & PLACE_FLAG_CLEAR_DATA,
        .resume = flags & PLACE_FLAG_RESUME,
        .sendfile = !place_conn_loopback(&ss->conn),
        .next_id = 1,
        .poll = flags & PLACE_FLAG_RESUME ? get_poll : NULL,
        .ctx = ss,
    };
    const char *base = strrchr(path, '/');
    int r = place_send_fd(&snd, fd, base ? base + 1 : path);
    close(fd);
    if (!r)
        r = place_conn_send(&ss->conn, PLACE_END, 0, 0, 0, NULL, 0);
    return r;
}

static int handle_ctrl(struct session *ss, const uint8_t *buf, bool *ended)
{
    const struct place_hdr h = ss->conn.rx_cur;
    struct place_placer *p = &ss->placer;
    struct place_open o;
    uint64_t at;
    int r;
    switch (h.type) {
    case PLACE_OPEN:
        if ((r = place_open_decode(buf, h.length, &o))) {
            snprintf(p->msg, sizeof(p->msg), "%s", r == -EACCES ? "path refused" : "bad OPEN");
            return r;
        }
        if ((r = place_placer_open(p, h.file_id, h.flags, &o, &at)))
            return r;
        if (h.flags & PLACE_FLAG_RESUME)
            return place_conn_send(&ss->conn, PLACE_OPENED, 0, h.file_id, at, NULL, 0);
        return 0;
    case PLACE_CLOSE:
        return place_placer_close(p, h.file_id, send_ack, ss);
    case PLACE_GET:
        return serve_get(ss, buf, h.length, h.flags);
    case PLACE_END:
        if ((r = place_placer_end(p, send_ack, ss)))
            return r;
        *ended = true;
        return place_conn_send(&ss->conn, PLACE_END, 0, 0, 0, NULL, 0);
    case PLACE_ERROR: {
        int err;
        place_error_decode(buf, h.length, &err, p->msg, sizeof(p->msg));
        return -err;
    }
    default:
        snprintf(p->msg, sizeof(p->msg), "unexpected frame type %u", h.type);
        return -EPROTO;
    }
}

static int session_loop(struct session *ss, uint8_t *ctrl)
{
    bool ended = false;
    while (!ended) {
        if (place_placer_has_pending(&ss->placer) && !place_conn_pending(&ss->conn)) {
            struct pollfd pfd = {ss->conn.fd, POLLIN, 0};
            if (poll(&pfd, 1, COMMIT_IDLE_MS) == 0) {
                int r = place_placer_commit(&ss->placer, send_ack, ss);
                if (r)
                    return r;
            }
        }
        int r = place_conn_recv_hdr(&ss->conn);
        if (r)
            return r;
        if (ss->conn.rx_cur.type == PLACE_DATA) {
            if ((r = place_placer_data(&ss->placer, &ss->conn)))
                return r;
            continue;
        }
        if ((r = place_conn_recv_payload(&ss->conn, ctrl)))
            return r;
        if ((r = handle_ctrl(ss, ctrl, &ended)))
            return r;
    }
    return 0;
}

/* Tells the peer why, then waits (briefly) for it to stop sending. */
static void send_error_and_drain(struct session *ss, int err, const char *why)
{
    place_conn_send_error(&ss->conn, err, why);
    shutdown(ss->conn.fd, SHUT_WR);
    uint64_t until = zc_now_ns() + (uint64_t)ERROR_DRAIN_MS * 1000000;
    static uint8_t sink[65536];
    while (zc_now_ns() < until) {
        struct pollfd pfd = {ss->conn.fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) < 0)
            break;
        if ((pfd.revents & POLLIN) && recv(ss->conn.fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
            break;
    }
}

int zc_place_serve_session(int fd, const struct zc_place_server_config *cfg,
                           struct zc_place_stats *st)
{
    struct session ss = {.cfg = cfg};
    int r = place_conn_init(&ss.conn, fd, idle_ms(cfg));
    uint8_t *ctrl = malloc(PLACE_MAX_CTRL);
    ss.ctrl = ctrl;
    ss.rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!r && (!ctrl || ss.rootfd < 0))
        r = ctrl ? -errno : -ENOMEM;
    if (!r)
        r = place_conn_handshake_server(&ss.conn, cfg->key, cfg->authorized, cfg->nauthorized);
    if (r) {
        zc_warn("handshake failed: %s", zc_strerror(r));
        goto out;
    }
    if (in_session_child)
        alarm(0);
    zc_pubkey_format(&ss.conn.peer, ss.peer, sizeof(ss.peer));
    place_placer_init(&ss.placer, ss.rootfd, cfg->max_file_size, &ss.conn.peer);
    r = session_loop(&ss, ctrl);
    if (st)
        *st = ss.placer.st;
    if (r) {
        zc_warn("session of %s failed: %s", ss.peer,
                ss.placer.msg[0] ? ss.placer.msg : zc_strerror(r));
        char why[sizeof(ss.placer.msg)];
        snprintf(why, sizeof(why), "%s", ss.placer.msg[0] ? ss.placer.msg : zc_strerror(r));
        place_placer_abort(&ss.placer, r); /* nothing unverified survives the reply */
        if (r != -ECONNRESET && r != -EPIPE)
            send_error_and_drain(&ss, r, why);
    } else {
        zc_info("session of %s: %llu files, %llu bytes placed", ss.peer,
                (unsigned long long)ss.placer.st.files, (unsigned long long)ss.placer.st.bytes);
        place_placer_destroy(&ss.placer);
    }
out:
    free(ctrl);
    if (ss.rootfd >= 0)
        close(ss.rootfd);
    place_conn_destroy(&ss.conn);
    return r;
}
