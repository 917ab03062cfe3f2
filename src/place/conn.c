/* conn.c - a place connection: the handshake, then sealed frames.
 *
 * After the crypto handshake each direction has its own AEAD key; frame n
 * of a direction is sealed under nonce counter n (its sequence number), the
 * 32-byte header being the associated data.  So a replayed, reordered,
 * dropped or re-addressed frame either fails the sequence check before its
 * payload is read, or fails its tag after.
 *
 * Sending a small frame is one writev (header, payload, tag).  File DATA
 * is read a piece at a time into a buffer that stays in cache and sealed
 * there (or MAC'd, for integrity-only, and then sent from that buffer or by
 * sendfile from the page cache).  Receiving reads a header into private
 * memory and lets the caller choose where the payload lands.
 */
#include "conn.h"
#include "writer.h"

#include "zc/base.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

static int sock_errno(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
}

static int send_all(struct place_conn *c, const void *buf, size_t len, int flags)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | flags);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return sock_errno();
        }
        c->wire_bytes += (uint64_t)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int set_rcv_timeout(struct place_conn *c, unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
        return -errno;
    c->rcv_ms = ms;
    return 0;
}

/* A frame (or handshake message) starts: it has one idle period, and the
 * socket's timeout is the idle period again if a slow frame shrank it. */
static int start_deadline(struct place_conn *c)
{
    c->deadline = zc_now_ns() + (uint64_t)c->idle_ms * 1000000;
    return c->rcv_ms == c->idle_ms ? 0 : set_rcv_timeout(c, c->idle_ms);
}

/* Every frame must arrive whole by its deadline (see place_conn_recv_hdr):
 * after each receive, a clock read; when little time is left the socket's
 * timeout shrinks to it, so even a peer that trickles a byte at a time is
 * dropped within DEADLINE_SLACK_MS of the deadline. */
static int check_deadline(struct place_conn *c)
{
    uint64_t now = zc_now_ns();
    if (now >= c->deadline)
        return -ETIMEDOUT;
    uint64_t left_ms = (c->deadline - now) / 1000000 + 1;
    if (left_ms + DEADLINE_SLACK_MS < c->rcv_ms)
        return set_rcv_timeout(c, (unsigned)left_ms);
    return 0;
}

static int recv_all(struct place_conn *c, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = recv(c->fd, p, len, MSG_WAITALL);
        if (n < 0 && errno != EINTR)
            return sock_errno();
        if (n == 0)
            return -ECONNRESET;
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        }
        int r = len ? check_deadline(c) : 0;
        if (r)
            return r;
    }
    return 0;
}

static int writev_all(struct place_conn *c, struct iovec *iov, int cnt, int flags)
{
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
    while (m.msg_iovlen) {
        ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL | flags);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return sock_errno();
        }
        c->wire_bytes += (uint64_t)n;
        while (n > 0 && m.msg_iovlen) {
            size_t step = ZC_MIN((size_t)n, m.msg_iov->iov_len);
            m.msg_iov->iov_base = (uint8_t *)m.msg_iov->iov_base + step;
            m.msg_iov->iov_len -= step;
            n -= (ssize_t)step;
            if (!m.msg_iov->iov_len) {
                m.msg_iov++;
                m.msg_iovlen--;
            }
        }
    }
    return 0;
}

static int transport_send(void *ctx, const void *buf, size_t len)
{
    struct place_conn *c = ctx;
    return send_all(c, buf, len, 0);
}

static int transport_recv(void *ctx, void *buf, size_t len)
{
    struct place_conn *c = ctx;
    int r = start_deadline(c);
    return r ? r : recv_all(c, buf, len);
}

int place_conn_init(struct place_conn *c, int fd, unsigned idle_ms)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->idle_ms = idle_ms;
    struct timeval tv = {.tv_sec = idle_ms / 1000, .tv_usec = (idle_ms % 1000) * 1000};
    int one = 1;
    if (set_rcv_timeout(c, idle_ms) || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
        return -errno;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* not TCP (tests): fine */
    c->sealbuf = malloc(ZC_PLACE_MAX_CHUNK);
    c->piecebuf = malloc(PLACE_PIECE);
    return c->sealbuf && c->piecebuf ? 0 : -ENOMEM;
}

static int keys_from_session(struct place_conn *c, struct zc_session *s, uint32_t tx_salt,
                             uint32_t rx_salt)
{
    int r = zc_aead_new(&c->tx, s->cipher, s->send_key, tx_salt);
    if (!r)
        r = zc_aead_new(&c->rx, s->cipher, s->recv_key, rx_salt);
    c->peer = s->peer;
    zc_wipe(s, sizeof(*s));
    return r;
}

int place_conn_handshake_client(struct place_conn *c, const struct zc_keypair *self,
                                const struct zc_pubkey *server)
{
    struct zc_transport t = {transport_send, transport_recv, c};
    struct zc_session s;
    int r = zc_handshake_initiate(&t, self, server, PLACE_PROLOGUE, strlen(PLACE_PROLOGUE), &s);
    if (r)
        return r;
    return keys_from_session(c, &s, PLACE_SALT_C2S, PLACE_SALT_S2C);
}

int place_conn_handshake_server(struct place_conn *c, const struct zc_keypair *self,
                                const struct zc_pubkey *authorized, size_t nauthorized)
{
    struct zc_transport t = {transport_send, transport_recv, c};
    struct zc_session s;
    int r = zc_handshake_respond(&t, self, authorized, nauthorized, PLACE_PROLOGUE,
                                 strlen(PLACE_PROLOGUE), &s);
    if (r)
        return r;
    return keys_from_session(c, &s, PLACE_SALT_S2C, PLACE_SALT_C2S);
}

int place_conn_handshake_answer(struct place_conn *c, struct zc_handshake *hs)
{
    struct zc_transport t = {transport_send, transport_recv, c};
    struct zc_session s;
    int r = zc_handshake_answer(hs, &t, &s);
    if (r)
        return r;
    return keys_from_session(c, &s, PLACE_SALT_S2C, PLACE_SALT_C2S);
}

bool place_conn_loopback(const struct place_conn *c)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof(a);
    if (getpeername(c->fd, (struct sockaddr *)&a, &len))
        return false;
    if (a.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&a)->sin_addr.s_addr) >> 24) == 127;
    if (a.ss_family == AF_INET6) {
        const struct in6_addr *x = &((struct sockaddr_in6 *)&a)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(x) || (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
    }
    return a.ss_family == AF_UNIX;
}

void place_conn_destroy(struct place_conn *c)
{
    zc_aead_free(c->tx);
    zc_aead_free(c->rx);
    c->tx = c->rx = NULL;
    free(c->sealbuf);
    free(c->piecebuf);
    c->sealbuf = c->piecebuf = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static void next_hdr(struct place_conn *c, uint8_t type, uint8_t flags, uint32_t file_id,
                     uint64_t offset, uint32_t len, uint8_t out[PLACE_HDR_BYTES])
{
    struct place_hdr h = {
        .type = type,
        .flags = flags,
        .file_id = file_id,
        .offset = offset,
        .seq = c->tx_seq,
        .length = len,
    };
    place_hdr_encode(&h, out);
}

/* sendfile() raises SIGPIPE on a closed peer; keep it from killing the
 * caller without touching the process's disposition. */
static int sendfile_all(struct place_conn *c, int fd, uint64_t offset, size_t len)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    off_t off = (off_t)offset;
    int r = 0;
    while (len) {
        ssize_t n = sendfile(c->fd, fd, &off, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? sock_errno() : -EIO; /* 0: the file shrank under us */
            break;
        }
        c->wire_bytes += (uint64_t)n;
        len -= (size_t)n;
    }
    if (r == -EPIPE) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/* A large DATA payload goes a piece at a time: from the file fd (read into
 * c->sealbuf) or from memory at mem, sealed into c->sealbuf, or MAC'd and
 * sent as it is (by sendfile when by_sendfile); so the receiver opens one
 * piece while the next is on its way.  The wire is one payload, one tag. */
static int send_pieces(struct place_conn *c, uint8_t flags, uint32_t file_id, uint64_t offset,
                       int fd, const uint8_t *mem, uint32_t len, bool by_sendfile)
{
    uint8_t hdr[PLACE_HDR_BYTES], tag[ZC_TAG_BYTES];
    bool clear = flags & PLACE_FLAG_CLEAR;
    next_hdr(c, PLACE_DATA, flags, file_id, offset, len, hdr);
    int r = zc_aead_seal_begin(c->tx, c->tx_seq, hdr, sizeof(hdr));
    c->tx_seq++; /* even after a failure: a sequence number is never used twice */
    if (!r)
        r = send_all(c, hdr, sizeof(hdr), MSG_MORE);
    for (uint32_t done = 0; !r && done < len; done += PLACE_PIECE) {
        uint32_t n = ZC_MIN(PLACE_PIECE, len - done);
        uint8_t *buf = c->sealbuf + done;
        const uint8_t *src = mem ? mem + done : buf;
        if (!mem && (r = zc_pread_all(fd, buf, n, offset + done))) {
            r = r == -ENODATA ? -ESTALE : r; /* the file shrank since it was opened */
            break;
        }
        if (clear)
            r = zc_aead_mac_update(c->tx, src, n);
        else
            r = zc_aead_seal_update(c->tx, src, buf, n);
        if (r)
            break;
        if (clear && by_sendfile)
            r = sendfile_all(c, fd, offset + done, n);
        else
            r = send_all(c, clear ? src : buf, n, MSG_MORE);
    }
    if (!r)
        r = zc_aead_seal_finish(c->tx, tag);
    return r ? r : send_all(c, tag, sizeof(tag), MSG_MORE);
}

int place_conn_send(struct place_conn *c, uint8_t type, uint8_t flags, uint32_t file_id,
                    uint64_t offset, const void *payload, uint32_t len)
{
    uint8_t hdr[PLACE_HDR_BYTES], tag[ZC_TAG_BYTES];
    if (len > ZC_PLACE_MAX_CHUNK)
        return -EINVAL;
    if (type == PLACE_DATA && len > PLACE_PIECE)
        return send_pieces(c, flags, file_id, offset, -1, payload, len, false);
    next_hdr(c, type, flags, file_id, offset, len, hdr);
    /* OPEN and DATA are always followed by more frames without waiting for
     * an answer (except OPEN with RESUME): let them share packets. */
    bool more = type == PLACE_DATA || (type == PLACE_OPEN && !(flags & PLACE_FLAG_RESUME));
    const void *out = payload;
    int r;
    if (flags & PLACE_FLAG_CLEAR) {
        r = zc_aead_mac(c->tx, c->tx_seq, hdr, sizeof(hdr), payload, len, tag);
    } else {
        r = zc_aead_seal(c->tx, c->tx_seq, hdr, sizeof(hdr), payload, c->sealbuf, len, tag);
        out = c->sealbuf;
    }
    if (r)
        return r;
    c->tx_seq++;
    struct iovec iov[3] = {
        {hdr, sizeof(hdr)},
        {(void *)out, len},
        {tag, sizeof(tag)},
    };
    return writev_all(c, iov, 3, more ? MSG_MORE : 0);
}

int place_conn_send_file(struct place_conn *c, uint8_t flags, uint32_t file_id, uint64_t offset,
                         int fd, uint32_t len, bool by_sendfile)
{
    if (len > ZC_PLACE_MAX_CHUNK)
        return -EINVAL;
    if (len > PLACE_PIECE)
        return send_pieces(c, flags, file_id, offset, fd, NULL, len, by_sendfile);
    /* Small: one writev for header, payload and tag. */
    int r = zc_pread_all(fd, c->sealbuf, len, offset);
    if (r)
        return r == -ENODATA ? -ESTALE : r; /* the file shrank since it was opened */
    return place_conn_send(c, PLACE_DATA, flags, file_id, offset, c->sealbuf, len);
}

void place_conn_send_error(struct place_conn *c, int err, const char *msg)
{
    uint8_t buf[4 + 256];
    size_t n = strnlen(msg, 256);
    zc_put_le32(buf, (uint32_t)(err < 0 ? -err : err));
    memcpy(buf + 4, msg, n);
    place_conn_send(c, PLACE_ERROR, 0, 0, 0, buf, (uint32_t)(4 + n));
}

void place_error_decode(const uint8_t *buf, uint32_t len, int *err, char *msg, size_t msglen)
{
    *err = len >= 4 ? (int)zc_get_le32(buf) : EPROTO;
    if (*err <= 0 || *err > 4095)
        *err = EPROTO;
    size_t n = 0;
    for (uint32_t i = 4; i < len && n + 1 < msglen; i++) /* printable text only */
        msg[n++] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '?';
    if (msglen)
        msg[n] = '\0';
}

/* Reads the tag that ends a frame, and in the same call whatever of the
 * next header has arrived: one receive a frame fewer.  Never a byte past
 * that header, so payloads still land only where their header says. */
static int recv_tag(struct place_conn *c, uint8_t tag[ZC_TAG_BYTES])
{
    uint8_t buf[ZC_TAG_BYTES + PLACE_HDR_BYTES];
    size_t got = 0;
    while (got < ZC_TAG_BYTES) {
        ssize_t n = recv(c->fd, buf + got, sizeof(buf) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sock_errno();
        if (n == 0)
            return -ECONNRESET;
        got += (size_t)n;
        int r = got < ZC_TAG_BYTES ? check_deadline(c) : 0;
        if (r)
            return r;
    }
    memcpy(tag, buf, ZC_TAG_BYTES);
    c->nahead = (uint32_t)(got - ZC_TAG_BYTES);
    memcpy(c->ahead, buf + ZC_TAG_BYTES, c->nahead);
    return 0;
}

bool place_conn_pending(struct place_conn *c)
{
    struct pollfd p = {c->fd, POLLIN, 0};
    return c->nahead || poll(&p, 1, 0) > 0;
}

int place_conn_recv_hdr(struct place_conn *c)
{
    memcpy(c->rx_hdr, c->ahead, c->nahead);
    int r = start_deadline(c);
    if (!r)
        r = recv_all(c, c->rx_hdr + c->nahead, sizeof(c->rx_hdr) - c->nahead);
    c->nahead = 0;
    if (r)
        return r;
    struct place_hdr h;
    if ((r = place_hdr_decode(c->rx_hdr, &h)))
        return r;
    /* The payload and tag get length / PLACE_MIN_RATE more. */
    c->deadline += (uint64_t)h.length * 1000000000u / PLACE_MIN_RATE;
    if (h.seq != c->rx_seq)
        return -EPROTO; /* replayed, reordered or dropped frame */
    if ((h.flags & PLACE_FLAG_CLEAR) && h.type != PLACE_DATA)
        return -EPROTO; /* control frames are always encrypted */
    c->rx_cur = h;
    return 0;
}

int place_conn_recv_payload_at(struct place_conn *c, struct place_writer *w, int fd, uint64_t off)
{
    uint8_t tag[ZC_TAG_BYTES];
    uint32_t len = c->rx_cur.length;
    bool clear = c->rx_cur.flags & PLACE_FLAG_CLEAR;
    int r = zc_aead_open_begin(c->rx, c->rx_seq, c->rx_hdr, sizeof(c->rx_hdr));
    for (uint32_t done = 0; !r && done < len; done += PLACE_PIECE) {
        uint32_t n = ZC_MIN(PLACE_PIECE, len - done);
        if (done && (r = check_deadline(c))) /* each piece may take up to rcv_ms */
            break;
        uint8_t *buf = w ? place_writer_buffer(w) : c->piecebuf;
        if (!buf)
            r = place_writer_drain(w); /* the writer's error */
        if (!r)
            r = recv_all(c, buf, n);
        if (!r)
            r = clear ? zc_aead_verify_update(c->rx, buf, n)
                      : zc_aead_open_update(c->rx, buf, buf, n);
        if (!r)
            r = w ? place_writer_queue(w, fd, off + done, n)
                  : zc_pwrite_all(fd, buf, n, off + done);
    }
    if (!r)
        r = recv_tag(c, tag);
    if (!r)
        r = zc_aead_open_finish(c->rx, tag);
    if (!r)
        c->rx_seq++;
    return r;
}

int place_conn_recv_payload(struct place_conn *c, void *dst)
{
    uint8_t tag[ZC_TAG_BYTES];
    uint32_t len = c->rx_cur.length;
    if (c->rx_cur.type == PLACE_DATA)
        return -EPROTO; /* DATA goes to place_conn_recv_payload_at() */
    int r = recv_all(c, dst, len);
    if (!r)
        r = recv_tag(c, tag);
    if (!r) /* control frames are always encrypted (place_conn_recv_hdr) */
        r = zc_aead_open(c->rx, c->rx_seq, c->rx_hdr, sizeof(c->rx_hdr), dst, dst, len, tag);
    if (!r)
        c->rx_seq++;
    return r;
}

int place_conn_recv_ctrl(struct place_conn *c, uint8_t *buf)
{
    int r = place_conn_recv_hdr(c);
    return r ? r : place_conn_recv_payload(c, buf);
}
