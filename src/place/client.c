/* client.c - the client of `zc serve`: put files, trees and buffers; get them back.
 *
 * Uploads are pipelined: the client never waits for the server between
 * files (except for the OPENED answer of --resume), and takes in the
 * server's ACKs whenever they have arrived.  ACKs come in file-id order,
 * one per file, each only after the server fsync'd and renamed that file;
 * finish sends END and waits for the last of them, so a 0 from
 * zc_place_client_finish() means every byte is in place on the server.
 * A large file goes over several connections at once (--streams), one
 * thread and one server session each.
 *
 * Downloads run the same placer as the server, beneath the local
 * directory, so a hostile server cannot write outside it either; and the
 * answer is bound to the request (struct get_scope): only the name asked
 * for is placed, never a split file, never clear data when encryption was
 * asked for, never over the caps, no existing file replaced unless forced.
 */
#define _GNU_SOURCE
#include "placer.h"
#include "sender.h"

#include "zc/base.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_IDLE_MS 30000

struct zc_place_client {
    struct place_conn conn;
    struct place_sender snd;
    struct zc_place_client_config cfg;
    struct zc_keypair key; /* copies: the streams of a split file connect later */
    struct zc_pubkey server;
    uint32_t acked; /* files 1..acked are confirmed */
    bool ended;
    int err; /* first failure: the session is over */
    struct zc_place_stats st;
    uint8_t *ctrl;
    char msg[300];
};

static int tcp_connect(const char *host, uint16_t port)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai, *a;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    if (getaddrinfo(host, ps, &hints, &ai))
        return -EHOSTUNREACH;
    int r = -ECONNREFUSED;
    for (a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            r = fd;
            break;
        }
        r = -errno;
        close(fd);
    }
    freeaddrinfo(ai);
    return r;
}

/* Records the first failure; later calls keep it. */
static int fail(struct zc_place_client *c, int r)
{
    if (!c->err)
        c->err = r;
    return c->err;
}

/* Records why this side refused what the server sent; returns err. */
static int __attribute__((format(printf, 3, 4)))
refuse(struct zc_place_client *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    return err;
}

/* The server's ERROR frame in c->ctrl: keeps its text, returns its -errno. */
static int peer_error(struct zc_place_client *c)
{
    int err;
    char text[256];
    place_error_decode(c->ctrl, c->conn.rx_cur.length, &err, text, sizeof(text));
    snprintf(c->msg, sizeof(c->msg), "server: %s", text);
    return -err;
}

/* One frame from the server while we send or finish. */
static int handle_frame(struct zc_place_client *c, uint32_t opened, uint64_t *resume_at,
                        bool *got_opened)
{
    int r = place_conn_recv_ctrl(&c->conn, c->ctrl);
    if (r)
        return r;
    const struct place_hdr h = c->conn.rx_cur;
    switch (h.type) {
    case PLACE_ACK:
        if (h.file_id != c->acked + 1 || h.file_id >= c->snd.next_id)
            return -EPROTO;
        c->acked = h.file_id;
        c->st.files++;
        c->st.bytes += h.offset;
        return 0;
    case PLACE_OPENED:
        if (!opened || h.file_id != opened)
            return -EPROTO;
        *resume_at = h.offset;
        *got_opened = true;
        c->st.resumed_bytes += h.offset;
        return 0;
    case PLACE_END:
        if (c->acked + 1 != c->snd.next_id)
            return -EPROTO;
        c->ended = true;
        return 0;
    case PLACE_ERROR:
        return peer_error(c);
    default:
        return -EPROTO;
    }
}

/* A send failed: the server may have said why before it closed. */
static int reason(struct zc_place_client *c, int r)
{
    if (r == -EPIPE || r == -ECONNRESET) {
        bool got = false;
        uint64_t at;
        int e;
        while ((e = handle_frame(c, 0, &at, &got)) == 0)
            ;
        if (e != -ECONNRESET && e != -EPIPE && e != -ETIMEDOUT && e != -EPROTO)
            r = e;
    }
    return fail(c, r);
}

static int client_poll(void *ctx, uint32_t opened, uint64_t *resume_at)
{
    struct zc_place_client *c = ctx;
    bool got = false;
    for (;;) {
        if (!opened && !place_conn_pending(&c->conn))
            return 0;
        int r = handle_frame(c, opened, resume_at, &got);
        if (r)
            return r;
        if (got)
            return 0;
    }
}

/* One part of a split file over a connection of its own. */
struct part_job {
    struct zc_place_client *parent;
    int fd;
    const struct stat *st;
    const char *dest;
    uint8_t transfer[16];
    uint32_t parts, index;
    int result;
    char msg[300];
    uint64_t wire_bytes;
    pthread_t thread;
};

static void *part_thread(void *arg)
{
    struct part_job *j = arg;
    struct zc_place_client_config cfg = j->parent->cfg;
    cfg.streams = 1; /* progress is reported from every stream's thread (zc/place.h) */
    struct zc_place_client *c;
    int r = zc_place_client_connect(&c, &cfg);
    if (!r) {
        r = place_send_part(&c->snd, j->fd, j->st, j->dest, j->transfer, j->parts, j->index);
        r = r ? reason(c, r) : zc_place_client_finish(c);
        snprintf(j->msg, sizeof(j->msg), "%s", c->msg);
        j->wire_bytes = c->conn.wire_bytes;
        zc_place_client_close(c);
    }
    j->result = r;
    return NULL;
}

/* A large file goes over cfg.streams connections at once, one part each:
 * the receiving side runs one process per connection, so the parts are
 * received, verified and placed in parallel. */
static int send_split(void *ctx, int fd, const struct stat *st, const char *dest)
{
    struct zc_place_client *c = ctx;
    uint32_t parts = ZC_MIN(c->cfg.streams, PLACE_MAX_PARTS);
    struct part_job jobs[PLACE_MAX_PARTS];
    uint8_t transfer[16];
    if (getrandom(transfer, sizeof(transfer), 0) != sizeof(transfer))
        return -errno;
    uint32_t started = 1;
    int r = 0;
    for (; started < parts; started++) {
        jobs[started] = (struct part_job){
            .parent = c, .fd = fd, .st = st, .dest = dest, .parts = parts, .index = started};
        memcpy(jobs[started].transfer, transfer, sizeof(transfer));
        if ((r = -pthread_create(&jobs[started].thread, NULL, part_thread, &jobs[started])))
            break;
    }
    if (!r)
        r = place_send_part(&c->snd, fd, st, dest, transfer, parts, 0);
    for (uint32_t k = 1; k < started; k++) {
        pthread_join(jobs[k].thread, NULL);
        c->conn.wire_bytes += jobs[k].wire_bytes; /* the client's sockets, all of them */
        if (!r && jobs[k].result) {
            r = jobs[k].result;
            snprintf(c->msg, sizeof(c->msg), "%s", jobs[k].msg);
        }
    }
    return r;
}

int zc_place_client_connect(struct zc_place_client **out, const struct zc_place_client_config *cfg)
{
    struct zc_place_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->cfg = *cfg;
    c->key = *cfg->key;
    c->server = *cfg->server;
    c->cfg.key = &c->key;
    c->cfg.server = &c->server;
    c->ctrl = malloc(PLACE_MAX_CTRL);
    int fd = c->ctrl ? tcp_connect(cfg->host, cfg->port) : -ENOMEM;
    int r = fd < 0 ? fd : place_conn_init(&c->conn, fd, cfg->idle_timeout_ms ?: DEFAULT_IDLE_MS);
    if (fd < 0)
        c->conn.fd = -1;
    if (!r)
        r = place_conn_handshake_client(&c->conn, cfg->key, cfg->server);
    if (r) {
        zc_place_client_close(c);
        return r; /* the server's refusal says why (zc/place.h) */
    }
    c->snd = (struct place_sender){
        .conn = &c->conn,
        .clear = cfg->integrity_only,
        .resume = cfg->resume,
        .sendfile = cfg->sendfile > 0 || (cfg->sendfile == 0 && !place_conn_loopback(&c->conn)),
        .next_id = 1,
        .progress = cfg->progress,
        .progress_arg = cfg->progress_arg,
        .poll = client_poll,
        .send_split = cfg->streams > 1 && !cfg->resume ? send_split : NULL,
        .ctx = c,
    };
    *out = c;
    return 0;
}

int zc_place_put_buffer(struct zc_place_client *c, const char *dest, const void *buf, size_t len,
                        mode_t mode)
{
    if (c->err)
        return c->err;
    if (place_path_check(dest, strlen(dest)))
        return -EINVAL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int r = place_send_buffer(&c->snd, buf, len, mode, &now, dest);
    return r ? reason(c, r) : 0;
}

int zc_place_put_path(struct zc_place_client *c, const char *src, const char *dest)
{
    if (c->err)
        return c->err;
    if (place_path_check(dest, strlen(dest)))
        return -EINVAL;
    int fd = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno; /* a local problem: the session goes on */
    int r = place_send_fd(&c->snd, fd, dest);
    close(fd);
    return r ? reason(c, r) : 0;
}

int zc_place_client_finish(struct zc_place_client *c)
{
    if (c->err)
        return c->err;
    int r = place_conn_send(&c->conn, PLACE_END, 0, 0, 0, NULL, 0);
    if (r)
        return reason(c, r);
    bool got = false;
    uint64_t at;
    while (!c->ended)
        if ((r = handle_frame(c, 0, &at, &got)))
            return fail(c, r);
    return 0;
}

/* What one get may place: the requested name (the server names the top of
 * its answer after the last component of SRC) and, when that is a
 * directory, what lies beneath it; all within the caps of the config.
 * A server that answers with anything else is attacking the client's
 * directory (the class of OpenSSH's CVE-2019-6111). */
struct get_scope {
    char top[PLACE_MAX_NAME + 1];
    size_t toplen;
    bool top_seen, top_is_dir;
    bool top_new; /* it did not exist before: what is beneath it is ours */
    uint64_t entries, bytes;
};

static void scope_init(struct get_scope *g, const char *src)
{
    const char *slash = strrchr(src, '/');
    const char *base = slash ? slash + 1 : src;
    g->toplen = strnlen(base, PLACE_MAX_NAME); /* place_path_check bounds it */
    memcpy(g->top, base, g->toplen);
    g->top[g->toplen] = '\0';
}

/* Whether path lies within what was asked for: first the top itself, then
 * (only when the top is a directory) what lies beneath it. */
static bool scope_holds(const struct get_scope *g, const char *path)
{
    if (!g->top_seen)
        return strcmp(path, g->top) == 0;
    return g->top_is_dir && strncmp(path, g->top, g->toplen) == 0 && path[g->toplen] == '/';
}

/* Checks an OPEN of the server's answer against the request, the mode
 * asked for and the caps, before anything is created; 0, -EPROTO or
 * -EDQUOT with the reason in c->msg. */
static int get_admit(struct zc_place_client *c, struct get_scope *g, int rootfd, uint8_t flags,
                     const struct place_open *o)
{
    char name[128], top[128];
    zc_escape(o->path, name, sizeof(name));
    if (!scope_holds(g, o->path))
        return refuse(c, -EPROTO, "the server sent '%s', which is not the requested '%s'", name,
                      zc_escape(g->top, top, sizeof(top)));
    if (flags & PLACE_FLAG_SPLIT)
        return refuse(c, -EPROTO, "the server sent %s split in parts, which a get never is", name);
    if ((flags & PLACE_FLAG_CLEAR_DATA) && !c->cfg.integrity_only)
        return refuse(c, -EPROTO, "the server sent %s in clear to an encrypted get", name);
    if ((flags & PLACE_FLAG_RESUME) && !c->cfg.resume)
        return refuse(c, -EPROTO, "the server resumed %s, which we did not ask for", name);
    if (c->cfg.max_files && ++g->entries > c->cfg.max_files)
        return refuse(c, -EDQUOT, "%s passes the cap of %u files and directories", name,
                      c->cfg.max_files);
    if (c->cfg.max_bytes && !(flags & PLACE_FLAG_DIR)) {
        if (o->size > c->cfg.max_bytes - g->bytes)
            return refuse(c, -EDQUOT, "%s passes the cap of %llu bytes", name,
                          (unsigned long long)c->cfg.max_bytes);
        g->bytes += o->size;
    }
    if (!g->top_seen) {
        struct stat st;
        g->top_seen = true;
        g->top_is_dir = flags & PLACE_FLAG_DIR;
        g->top_new = fstatat(rootfd, g->top, &st, AT_SYMLINK_NOFOLLOW) && errno == ENOENT;
    }
    return 0;
}

static int rmdir_empty(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (type == FTW_DP)
        rmdir(path); /* fails, as it should, on a directory that holds anything */
    return 0;
}

/* A failed get of a directory that was not there before leaves no empty
 * directories behind (files that were not complete are gone already). */
static void scope_undo(const struct get_scope *g, const char *localdir)
{
    char path[PATH_MAX];
    if (!g->top_new || !g->top_is_dir ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", localdir, g->top) >= sizeof(path))
        return;
    nftw(path, rmdir_empty, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* An OPEN whose payload did not decode: a refused path is named. */
static int get_bad_open(struct zc_place_client *c, uint32_t len, int err)
{
    if (err != -EACCES)
        return refuse(c, err, "the server sent a malformed OPEN");
    char path[ZC_PLACE_MAX_PATH + 1], name[128];
    uint32_t n = len >= PLACE_OPEN_FIXED ? zc_get_le32(c->ctrl + 24) : 0;
    n = ZC_MIN(n, ZC_MIN(len - PLACE_OPEN_FIXED, (uint32_t)ZC_PLACE_MAX_PATH));
    memcpy(path, c->ctrl + PLACE_OPEN_FIXED, n);
    path[n] = '\0';
    return refuse(c, -EPROTO, "the server sent the path '%s', which may not be placed",
                  zc_escape(path, name, sizeof(name)));
}

static int get_open(struct zc_place_client *c, struct get_scope *g, struct place_placer *p)
{
    const struct place_hdr h = c->conn.rx_cur;
    struct place_open o;
    uint64_t at;
    int r = place_open_decode(c->ctrl, h.length, &o);
    if (r)
        return get_bad_open(c, h.length, r);
    if ((r = get_admit(c, g, p->rootfd, h.flags, &o)) ||
        (r = place_placer_open(p, h.file_id, h.flags, &o, &at)))
        return r;
    if (c->cfg.progress)
        c->cfg.progress(c->cfg.progress_arg, at, o.size);
    if (h.flags & PLACE_FLAG_RESUME) /* where the server starts */
        return place_conn_send(&c->conn, PLACE_OPENED, 0, h.file_id, at, NULL, 0);
    return 0;
}

static int get_ctrl(struct zc_place_client *c, struct get_scope *g, struct place_placer *p,
                    bool *done)
{
    const struct place_hdr h = c->conn.rx_cur;
    switch (h.type) {
    case PLACE_OPEN:
        return get_open(c, g, p);
    case PLACE_CLOSE:
        return place_placer_close(p, h.file_id, NULL, NULL);
    case PLACE_END:
        *done = true;
        return place_placer_end(p, NULL, NULL);
    case PLACE_ERROR:
        return peer_error(c);
    default:
        return refuse(c, -EPROTO, "the server sent a frame of type %u in a get", h.type);
    }
}

int zc_place_get(struct zc_place_client *c, const char *src, const char *localdir)
{
    if (c->err)
        return c->err;
    size_t n = strlen(src);
    if (place_path_check(src, n))
        return -EINVAL;
    int rootfd = open(localdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return -errno;
    uint8_t flags = (c->cfg.integrity_only ? PLACE_FLAG_CLEAR_DATA : 0) |
                    (c->cfg.resume ? PLACE_FLAG_RESUME : 0);
    int r = place_conn_send(&c->conn, PLACE_GET, flags, 0, 0, src, (uint32_t)n);
    struct get_scope g = {0};
    scope_init(&g, src);
    struct place_placer p;
    place_placer_init(&p, rootfd, 0, &c->conn.peer);
    p.keep_existing = !c->cfg.force;
    p.own_dirs_only = true;
    bool done = false;
    while (!r && !done) {
        if ((r = place_conn_recv_hdr(&c->conn)))
            break;
        if (c->conn.rx_cur.type == PLACE_DATA) {
            uint32_t len = c->conn.rx_cur.length;
            if (!(r = place_placer_data(&p, &c->conn)) && c->cfg.progress)
                c->cfg.progress(c->cfg.progress_arg, len, 0);
            continue;
        }
        if (!(r = place_conn_recv_payload(&c->conn, c->ctrl)))
            r = get_ctrl(c, &g, &p, &done);
    }
    if (r) {
        if (!c->msg[0] && p.msg[0]) /* the local placer's words name the server's paths */
            zc_escape(p.msg, c->msg, sizeof(c->msg));
        place_placer_abort(&p, r);
        scope_undo(&g, localdir);
    } else {
        c->st.files += p.st.files;
        c->st.bytes += p.st.bytes;
        c->st.resumed_bytes += p.st.resumed_bytes;
        place_placer_destroy(&p);
    }
    close(rootfd);
    return r ? fail(c, r) : 0;
}

const char *zc_place_client_error(const struct zc_place_client *c)
{
    return c->msg;
}

void zc_place_client_stats(const struct zc_place_client *c, struct zc_place_stats *st)
{
    *st = c->st;
    st->wire_bytes = c->conn.wire_bytes;
}

void zc_place_client_close(struct zc_place_client *c)
{
    if (!c)
        return;
    if (c->conn.fd >= 0 || c->conn.sealbuf)
        place_conn_destroy(&c->conn);
    free(c->ctrl);
    zc_wipe(&c->key, sizeof(c->key));
    free(c);
}
