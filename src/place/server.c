/* server.c - `zc serve`: accept, authenticate, place.
 *
 * The listening process authenticates before any session exists.  It
 * accepts without blocking and holds each new connection as "pending"
 * while it reads the 112-byte initiation, under a short deadline and a
 * budget of its own (as sshd's MaxStartups: beyond PENDING_START new ones
 * are dropped with rising probability, PENDING_MAX at most, and at most
 * PENDING_PER_SOURCE from one address).  It verifies the initiation itself
 * (zc_handshake_accept), refuses a key that is not authorized and a
 * timestamp that is not newer than the ones it accepted for that key (a
 * replayed initiation), and only then forks the session: the child sends
 * the response and serves the frames.  So idle or trickling strangers cost
 * a descriptor and a few bytes each for a few seconds, never a session
 * slot; --max-sessions counts authenticated sessions only.  Before a
 * session exists a refused peer gets a short clear-text refusal that only
 * chooses its error message.
 *
 * One poll loop watches the listening socket, the pending connections and
 * a pidfd per session child, so the server waits for exactly its own
 * children, never another child of the process that embeds it.
 *
 * Each session then runs a loop over frames: control frames are received
 * whole and verified before they are acted on; DATA frames go to the
 * placer, which receives them in place.  When the session fails the peer
 * gets one ERROR frame saying why, and the socket is drained briefly
 * before closing so that the reason is not lost to a TCP reset.
 */
#define _GNU_SOURCE
#include "placer.h"
#include "sender.h"

#include "zc/base.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_SESSIONS     16
#define DEFAULT_IDLE_MS      30000
#define DEFAULT_HANDSHAKE_MS 5000
#define COMMIT_IDLE_MS       100  /* publish queued files when the peer pauses this long */
#define ERROR_DRAIN_MS       2000 /* how long a failed session waits for the peer to stop */
#define PENDING_MAX          256  /* unauthenticated connections held at once */
#define PENDING_START        128  /* beyond this many, new ones are dropped ever more often */
#define PENDING_PER_SOURCE   32   /* from one IPv4 address or IPv6 /64 */
#define ACCEPT_BACKOFF_MS    100  /* out of descriptors or memory: accept again after this */
#define STOP_CHECK_MS        200  /* how soon a set stop flag is seen */
#define REFUSAL_LOG_NS       1000000000ull /* at most one refusal line a second */
#define REPLAY_SLOTS         32            /* timestamps remembered per key */
#define REPLAY_WINDOW_SEC    10 /* how far behind the newest one a timestamp may arrive */

/* A connection that has not yet proven anything. */
struct pending {
    int fd;
    uint32_t got;
    uint64_t deadline;  /* zc_now_ns() by which the initiation must be whole */
    uint8_t source[16]; /* IPv6 /64 or IPv4-mapped address: the per-source budget */
    uint8_t msg[ZC_HANDSHAKE_INITIATION_BYTES];
};

/* The timestamps accepted from one key.  Parallel streams of one client
 * may arrive out of order, so rather than "newer than the last" a
 * timestamp must be above floor and not among the ones accepted above it;
 * floor rises to the oldest one forgotten and to REPLAY_WINDOW_SEC below
 * the newest, so every timestamp ever accepted stays refused. */
struct replay {
    uint8_t floor[ZC_TIMESTAMP_BYTES];
    uint8_t seen[REPLAY_SLOTS][ZC_TIMESTAMP_BYTES];
    unsigned nseen;
};

struct zc_place_server {
    int lfd;
    uint16_t port;
    struct zc_place_server_config cfg;
    unsigned max_sessions;
    pid_t *pid; /* the running session children ... */
    int *pidfd; /* ... and a pidfd each, polled for their end */
    unsigned active;
    struct pending pending[PENDING_MAX];
    unsigned npending;
    struct replay *replay; /* one per authorized key */
    struct pollfd *pfd;    /* 1 + PENDING_MAX + max_sessions */
    uint64_t accept_after; /* zc_now_ns() before which accepting rests (EMFILE...) */
    uint64_t rng;
    uint64_t refusal_logged; /* when the last refusal line went out */
    unsigned refusals_unlogged;
};

static unsigned idle_ms(const struct zc_place_server_config *cfg)
{
    return cfg->idle_timeout_ms ? cfg->idle_timeout_ms : DEFAULT_IDLE_MS;
}

static int listen_on(const struct zc_place_server_config *cfg, int *out, uint16_t *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", cfg->port);
    if (getaddrinfo(cfg->host, ps, &hints, &ai))
        return -EADDRNOTAVAIL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1, r = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128))
        r = -errno;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (!r && getsockname(fd, (struct sockaddr *)&ss, &sl))
        r = -errno;
    if (r) {
        if (fd >= 0)
            close(fd);
        return r;
    }
    *out = fd;
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

int zc_place_server_open(struct zc_place_server **out, const struct zc_place_server_config *cfg)
{
    int rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return -errno;
    close(rootfd);
    struct zc_place_server *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    s->max_sessions = cfg->max_sessions ? cfg->max_sessions : DEFAULT_SESSIONS;
    s->pid = calloc(s->max_sessions, sizeof(*s->pid));
    s->pidfd = calloc(s->max_sessions, sizeof(*s->pidfd));
    s->replay = calloc(cfg->nauthorized ? cfg->nauthorized : 1, sizeof(*s->replay));
    s->pfd = calloc(1 + PENDING_MAX + s->max_sessions, sizeof(*s->pfd));
    s->lfd = -1;
    int r = s->pid && s->pidfd && s->replay && s->pfd ? 0 : -ENOMEM;
    if (!r && getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng))
        r = -errno;
    if (!r)
        r = listen_on(cfg, &s->lfd, &s->port);
    if (r) {
        zc_place_server_close(s);
        return r;
    }
    s->rng |= 1; /* xorshift's state must not be 0 */
    *out = s;
    return 0;
}

uint16_t zc_place_server_port(const struct zc_place_server *s)
{
    return s->port;
}

/* ---- refusals: logged at most once a second, with a count of the rest ---- */

static void refusal(struct zc_place_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void refusal(struct zc_place_server *s, const char *fmt, ...)
{
    uint64_t now = zc_now_ns();
    if (s->refusal_logged && now - s->refusal_logged < REFUSAL_LOG_NS) {
        s->refusals_unlogged++;
        return;
    }
    char line[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (s->refusals_unlogged)
        zc_warn("%s (and %u more refused in the last second)", line, s->refusals_unlogged);
    else
        zc_warn("%s", line);
    s->refusal_logged = now;
    s->refusals_unlogged = 0;
}

static const char *source_text(const uint8_t source[16], char *out, size_t len)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(source, mapped, sizeof(mapped)) == 0)
        return inet_ntop(AF_INET, source + 12, out, (socklen_t)len);
    inet_ntop(AF_INET6, source, out, (socklen_t)len);
    strncat(out, "/64", len - strlen(out) - 1);
    return out;
}

/* ---- replayed initiations ---- */

static int ts_cmp(const uint8_t a[ZC_TIMESTAMP_BYTES], const uint8_t b[ZC_TIMESTAMP_BYTES])
{
    return memcmp(a, b, ZC_TIMESTAMP_BYTES);
}

/* Raises floor to f; forgets what is not above it. */
static void replay_raise(struct replay *rp, const uint8_t f[ZC_TIMESTAMP_BYTES])
{
    if (ts_cmp(f, rp->floor) > 0)
        memcpy(rp->floor, f, ZC_TIMESTAMP_BYTES);
    for (unsigned i = 0; i < rp->nseen;)
        if (ts_cmp(rp->seen[i], rp->floor) <= 0)
            memcpy(rp->seen[i], rp->seen[--rp->nseen], ZC_TIMESTAMP_BYTES);
        else
            i++;
}

/* 0 and remembered when ts was never accepted before, else -ESTALE. */
static int replay_check(struct replay *rp, const uint8_t ts[ZC_TIMESTAMP_BYTES])
{
    if (ts_cmp(ts, rp->floor) <= 0)
        return -ESTALE;
    for (unsigned i = 0; i < rp->nseen; i++)
        if (ts_cmp(ts, rp->seen[i]) == 0)
            return -ESTALE;
    if (rp->nseen == REPLAY_SLOTS) { /* forget the oldest: the floor rises to it */
        unsigned oldest = 0;
        for (unsigned i = 1; i < rp->nseen; i++)
            if (ts_cmp(rp->seen[i], rp->seen[oldest]) < 0)
                oldest = i;
        uint8_t f[ZC_TIMESTAMP_BYTES];
        memcpy(f, rp->seen[oldest], sizeof(f));
        replay_raise(rp, f);
    }
    memcpy(rp->seen[rp->nseen++], ts, ZC_TIMESTAMP_BYTES);
    /* The window: seconds are the first 8 bytes, big-endian. */
    uint8_t w[ZC_TIMESTAMP_BYTES] = {0};
    uint64_t sec = 0;
    for (int i = 0; i < 8; i++)
        sec = sec << 8 | ts[i];
    sec = sec > REPLAY_WINDOW_SEC ? sec - REPLAY_WINDOW_SEC : 0;
    for (int i = 0; i < 8; i++)
        w[i] = (uint8_t)(sec >> (56 - 8 * i));
    replay_raise(rp, w);
    return 0;
}

/* ---- session children ---- */

static int pidfd_of(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Reaps session i if it ended (or was reaped by the embedding process
 * ignoring SIGCHLD); true when it is gone. */
static bool session_ended(struct zc_place_server *s, unsigned i, int options)
{
    pid_t r;
    do
        r = waitpid(s->pid[i], NULL, options);
    while (r < 0 && errno == EINTR && !(options & WNOHANG));
    if (r == 0 || (r < 0 && errno == EINTR))
        return false; /* any other error (ECHILD): it is not ours to wait for any more */
    close(s->pidfd[i]);
    s->active--;
    s->pid[i] = s->pid[s->active];
    s->pidfd[i] = s->pidfd[s->active];
    return true;
}

/* ---- pending connections ---- */

static void drop_pending(struct zc_place_server *s, unsigned i)
{
    close(s->pending[i].fd);
    s->pending[i] = s->pending[--s->npending];
}

static void source_of(const struct sockaddr_storage *a, uint8_t out[16])
{
    memset(out, 0, 16);
    if (a->ss_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
    } else if (a->ss_family == AF_INET6) {
        const uint8_t *x = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
        bool v4 = IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)x);
        memcpy(out, x, v4 ? 16 : 8);
    }
}

static uint64_t next_random(struct zc_place_server *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

/* Whether a new connection from source gets a pending slot; why not in *why. */
static bool admit(struct zc_place_server *s, const uint8_t source[16], const char **why)
{
    unsigned same = 0;
    for (unsigned i = 0; i < s->npending; i++)
        same += memcmp(s->pending[i].source, source, 16) == 0;
    *why = same >= PENDING_PER_SOURCE   ? "too many unauthenticated connections from it"
           : s->npending >= PENDING_MAX ? "too many unauthenticated connections"
           : s->npending > PENDING_START &&
                   next_random(s) % (PENDING_MAX - PENDING_START) < s->npending - PENDING_START
               ? "many unauthenticated connections: dropped early"
               : NULL;
    return !*why;
}

/* Without SIGPIPE (the embedding process may not ignore it) and without
 * waiting: a fresh socket's buffer takes a refusal whole. */
static int refusal_send(void *ctx, const void *buf, size_t len)
{
    ssize_t n = send(*(const int *)ctx, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return n == (ssize_t)len ? 0 : -EAGAIN;
}

/* Sends a refusal (best effort) and closes. */
static void refuse(int fd, int err)
{
    struct zc_transport t = {refusal_send, NULL, &fd};
    zc_handshake_refuse(&t, err);
    close(fd);
}

static bool transient_accept_error(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* Takes every connection waiting in the backlog; 0 or a fatal -errno. */
static int accept_new(struct zc_place_server *s, uint64_t now)
{
    for (;;) {
        struct sockaddr_storage a;
        socklen_t alen = sizeof(a);
        int fd = accept4(s->lfd, (struct sockaddr *)&a, &alen, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0 && transient_accept_error(errno)) {
            refusal(s, "cannot accept: %s; retrying", zc_strerror(-errno));
            s->accept_after = now + ACCEPT_BACKOFF_MS * 1000000ull;
            return 0;
        }
        if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (fd < 0 && (errno == EBADF || errno == EINVAL || errno == ENOTSOCK || errno == EFAULT))
            return -errno;
        if (fd < 0)
            continue; /* the connection's own network error (ECONNABORTED, EPROTO, ...) */
        struct pending *p = &s->pending[s->npending];
        const char *why;
        char text[INET6_ADDRSTRLEN + 8];
        source_of(&a, p->source);
        if (!admit(s, p->source, &why)) {
            refusal(s, "connection from %s refused: %s", source_text(p->source, text, sizeof(text)),
                    why);
            refuse(fd, -EBUSY);
            continue;
        }
        unsigned ms = s->cfg.handshake_timeout_ms ? s->cfg.handshake_timeout_ms
                                                  : ZC_MIN(DEFAULT_HANDSHAKE_MS, idle_ms(&s->cfg));
        p->fd = fd;
        p->got = 0;
        p->deadline = now + ms * 1000000ull;
        s->npending++;
    }
}

static const char *refusal_reason(int err)
{
    switch (err) {
    case -EKEYREJECTED:
        return "initiation not encrypted to our key";
    case -EBADMSG:
        return "forged initiation";
    case -EACCES:
        return "key not authorized";
    case -ESTALE:
        return "replayed initiation (timestamp not newer)";
    case -EBUSY:
        return "session limit reached";
    default:
        return zc_strerror(err);
    }
}

/* Verifies a whole initiation: *hs set for an authorized key with a fresh
 * timestamp, else the refusal's error. */
static int verify(struct zc_place_server *s, const struct pending *p, struct zc_handshake **hs)
{
    if (s->active >= s->max_sessions)
        return -EBUSY;
    size_t which;
    uint8_t ts[ZC_TIMESTAMP_BYTES];
    int r = zc_handshake_accept(hs, s->cfg.key, s->cfg.authorized, s->cfg.nauthorized,
                                PLACE_PROLOGUE, strlen(PLACE_PROLOGUE), p->msg, &which, ts);
    if (!r && (r = replay_check(&s->replay[which], ts))) {
        zc_handshake_free(*hs);
        *hs = NULL;
    }
    return r;
}

/* Reads what pending connection i sent; 1 with *hs set when its initiation
 * verified (the caller owns the connection then), 0 otherwise. */
static int read_pending(struct zc_place_server *s, unsigned i, struct zc_handshake **hs)
{
    struct pending *p = &s->pending[i];
    ssize_t n = recv(p->fd, p->msg + p->got, sizeof(p->msg) - p->got, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        drop_pending(s, i);
        return 0;
    }
    p->got += (uint32_t)n;
    if (p->got < sizeof(p->msg))
        return 0;
    int r = verify(s, p, hs);
    if (r) {
        char text[INET6_ADDRSTRLEN + 8];
        refusal(s, "connection from %s refused: %s", source_text(p->source, text, sizeof(text)),
                refusal_reason(r));
        if (r != -ENOMEM)
            refuse(p->fd, r);
        else
            close(p->fd);
        s->pending[i] = s->pending[--s->npending];
        return 0;
    }
    return 1;
}

static void expire_pending(struct zc_place_server *s, uint64_t now)
{
    for (unsigned i = s->npending; i-- > 0;)
        if (now >= s->pending[i].deadline) {
            char text[INET6_ADDRSTRLEN + 8];
            refusal(s, "connection from %s dropped: no initiation within the handshake timeout",
                    source_text(s->pending[i].source, text, sizeof(text)));
            drop_pending(s, i);
        }
}

static void drop_all_pending(struct zc_place_server *s)
{
    while (s->npending)
        drop_pending(s, s->npending - 1);
}

static int serve(int fd, const struct zc_place_server_config *cfg, struct zc_handshake *hs,
                 struct zc_place_stats *st);

/* Forks the session of a verified initiation; the child answers it. */
static void start_session(struct zc_place_server *s, int fd, struct zc_handshake *hs)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(s->lfd);
        for (unsigned i = 0; i < s->npending; i++)
            close(s->pending[i].fd);
        for (unsigned i = 0; i < s->active; i++)
            close(s->pidfd[i]);
        int r = serve(fd, &s->cfg, hs, NULL);
        _exit(r ? EXIT_FAILURE : EXIT_SUCCESS);
    }
    zc_handshake_free(hs);
    close(fd);
    int pfd = pid > 0 ? pidfd_of(pid) : -1;
    if (pid > 0 && pfd < 0) { /* cannot watch it: wait for it now rather than lose it */
        zc_warn("cannot watch a session: %s", zc_strerror(-errno));
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return;
    }
    if (pid < 0) {
        zc_warn("cannot start a session: %s", zc_strerror(-errno));
        return;
    }
    s->pid[s->active] = pid;
    s->pidfd[s->active++] = pfd;
}

/* How long poll may sleep: until the first pending deadline, the end of
 * an accept back-off, or the next look at the stop flag. */
static int poll_timeout(const struct zc_place_server *s, uint64_t now)
{
    uint64_t until = now + STOP_CHECK_MS * 1000000ull;
    for (unsigned i = 0; i < s->npending; i++)
        until = ZC_MIN(until, s->pending[i].deadline);
    if (s->accept_after > now)
        until = ZC_MIN(until, s->accept_after);
    return (int)((until - now + 999999) / 1000000);
}

/* The loop of zc_place_server_run (once == false) and of
 * zc_place_server_accept_one (once: the first verified initiation is
 * served in this process and its result returned). */
static int serve_loop(struct zc_place_server *s, volatile sig_atomic_t *stop, bool once)
{
    int r = 0;
    while (!*stop) {
        uint64_t now = zc_now_ns();
        expire_pending(s, now);
        struct pollfd *pfd = s->pfd;
        unsigned n = 0;
        pfd[n++] = (struct pollfd){now >= s->accept_after ? s->lfd : -1, POLLIN, 0};
        for (unsigned i = 0; i < s->npending; i++)
            pfd[n++] = (struct pollfd){s->pending[i].fd, POLLIN, 0};
        for (unsigned i = 0; i < s->active; i++)
            pfd[n++] = (struct pollfd){s->pidfd[i], POLLIN, 0};
        int k = poll(pfd, n, poll_timeout(s, now));
        if (k < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        if (k <= 0)
            continue;
        now = zc_now_ns();
        /* Indices shift as entries go: sessions first, pending from the end. */
        unsigned npend = s->npending;
        for (unsigned i = s->active; i-- > 0;)
            if (pfd[1 + npend + i].revents)
                session_ended(s, i, WNOHANG);
        for (unsigned i = npend; i-- > 0;) {
            struct zc_handshake *hs = NULL;
            if (!pfd[1 + i].revents || !read_pending(s, i, &hs))
                continue;
            int fd = s->pending[i].fd;
            s->pending[i] = s->pending[--s->npending];
            if (once) {
                drop_all_pending(s);
                return serve(fd, &s->cfg, hs, NULL);
            }
            start_session(s, fd, hs);
        }
        if ((pfd[0].revents & POLLIN) && (r = accept_new(s, now)))
            break;
    }
    /* Stopped: accept nothing more, let our running sessions finish. */
    drop_all_pending(s);
    while (s->active)
        session_ended(s, s->active - 1, 0);
    return r;
}

int zc_place_server_run(struct zc_place_server *s, volatile sig_atomic_t *stop)
{
    return serve_loop(s, stop, false);
}

int zc_place_server_accept_one(struct zc_place_server *s)
{
    static volatile sig_atomic_t never;
    return serve_loop(s, &never, true);
}

void zc_place_server_close(struct zc_place_server *s)
{
    if (!s)
        return;
    drop_all_pending(s);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->replay)
        zc_wipe(s->replay, (s->cfg.nauthorized ? s->cfg.nauthorized : 1) * sizeof(*s->replay));
    free(s->replay);
    free(s->pid);
    free(s->pidfd);
    free(s->pfd);
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
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = place_openat_beneath(ss->rootfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st)) {
        close(fd);
        fd = -errno;
    }
    if (fd >= 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        close(fd);
        snprintf(ss->placer.msg, sizeof(ss->placer.msg), "%.200s: not a regular file or directory",
                 path);
        return -EINVAL;
    }
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

/* The session after the handshake; the log names the peer only once a
 * frame of it verified (before, it may be a replayed initiation). */
static int run_session(struct session *ss, struct zc_place_stats *st)
{
    zc_pubkey_format(&ss->conn.peer, ss->peer, sizeof(ss->peer));
    place_placer_init(&ss->placer, ss->rootfd, ss->cfg->max_file_size, &ss->conn.peer);
    int r = session_loop(ss, ss->ctrl);
    if (st)
        *st = ss->placer.st;
    if (r) {
        char why[sizeof(ss->placer.msg)];
        snprintf(why, sizeof(why), "%s", ss->placer.msg[0] ? ss->placer.msg : zc_strerror(r));
        if (ss->conn.rx_seq)
            zc_warn("session of %s failed: %s", ss->peer, why);
        else
            zc_warn("connection claiming to be %s ended before its first frame: %s", ss->peer, why);
        place_placer_abort(&ss->placer, r); /* nothing unverified survives the reply */
        if (r != -ECONNRESET && r != -EPIPE)
            send_error_and_drain(ss, r, why);
    } else {
        zc_info("session of %s: %llu files, %llu bytes placed", ss->peer,
                (unsigned long long)ss->placer.st.files, (unsigned long long)ss->placer.st.bytes);
        place_placer_destroy(&ss->placer);
    }
    return r;
}

/* A session on fd: answers hs (verified by the listening process), or
 * runs the whole handshake when hs is NULL. */
static int serve(int fd, const struct zc_place_server_config *cfg, struct zc_handshake *hs,
                 struct zc_place_stats *st)
{
    struct session ss = {.cfg = cfg};
    int r = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ? -errno : 0;
    if (!r)
        r = place_conn_init(&ss.conn, fd, idle_ms(cfg));
    else
        ss.conn.fd = fd;
    ss.ctrl = malloc(PLACE_MAX_CTRL);
    ss.rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!r && (!ss.ctrl || ss.rootfd < 0))
        r = ss.ctrl ? -errno : -ENOMEM;
    if (!r && hs)
        r = place_conn_handshake_answer(&ss.conn, hs);
    else if (!r)
        r = place_conn_handshake_server(&ss.conn, cfg->key, cfg->authorized, cfg->nauthorized);
    else
        zc_handshake_free(hs);
    hs = NULL;
    if (r)
        zc_warn("handshake failed: %s", zc_strerror(r));
    else
        r = run_session(&ss, st);
    free(ss.ctrl);
    if (ss.rootfd >= 0)
        close(ss.rootfd);
    place_conn_destroy(&ss.conn);
    return r;
}

int zc_place_serve_session(int fd, const struct zc_place_server_config *cfg,
                           struct zc_place_stats *st)
{
    return serve(fd, cfg, NULL, st);
}
