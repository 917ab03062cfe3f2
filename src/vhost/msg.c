/* msg.c - the vhost-user protocol, backend side: one message in, checked,
 * acted on, answered.
 *
 *   header (12 bytes): le32 request; le32 flags (bits 0-1 version = 1,
 *                      bit 2 reply, bit 3 need_reply); le32 size
 *   payload (size bytes), with up to 8 fds in SCM_RIGHTS on its first byte
 *
 * Each request has one handler and one exact payload shape (the table at
 * the bottom).  The header and payload are read into private memory and
 * checked there; fds that came with a message that takes none are closed.
 * A message that fails is answered with a non-zero u64 when the front end
 * asked for an ack (REPLY_ACK and need_reply); otherwise, since the front
 * end would go on believing it succeeded, the connection ends.
 */
#define _GNU_SOURCE
#include "vhost_impl.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    GET_FEATURES = 1,
    SET_FEATURES = 2,
    SET_OWNER = 3,
    RESET_OWNER = 4,
    SET_MEM_TABLE = 5,
    SET_VRING_NUM = 8,
    SET_VRING_ADDR = 9,
    SET_VRING_BASE = 10,
    GET_VRING_BASE = 11,
    SET_VRING_KICK = 12,
    SET_VRING_CALL = 13,
    SET_VRING_ERR = 14,
    GET_PROTOCOL_FEATURES = 15,
    SET_PROTOCOL_FEATURES = 16,
    GET_QUEUE_NUM = 17,
    SET_VRING_ENABLE = 18,
    NREQUESTS
};

#define FLAG_VERSION    1u
#define FLAG_REPLY      (1u << 2)
#define FLAG_NEED_REPLY (1u << 3)
#define VRING_NOFD      (1u << 8)
#define MAX_FDS         8
/* How long a front end may take to finish a message it started. */
#define MSG_TIMEOUT_MS 1000

struct msg_hdr {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
};

struct vring_state {
    uint32_t index;
    uint32_t num;
};

struct vring_addr {
    uint32_t index;
    uint32_t flags;
    uint64_t desc, used, avail, log;
};

struct mem_table {
    uint32_t nregions;
    uint32_t padding;
    uint64_t region[ZC_RING_MAX_REGIONS][4]; /* guest addr, size, user addr, mmap offset */
};

union payload {
    uint64_t u64;
    struct vring_state state;
    struct vring_addr addr;
    struct mem_table mem;
};

struct msg {
    struct msg_hdr h;
    union payload p;
    int fds[MAX_FDS];
    unsigned nfds;
};

uint64_t vhost_offered_features(void)
{
    return BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES) |
           BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
           BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_F_RING_PACKED);
}

uint64_t vhost_offered_protocol_features(void)
{
    return BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK);
}

/* ---- reading and writing the socket ---- */

static int wait_readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = poll(&pfd, 1, MSG_TIMEOUT_MS);
    if (n < 0)
        return -errno;
    return n == 0 ? -ETIMEDOUT : 0;
}

/* Reads exactly len bytes; the first recvmsg also collects fds. */
static int read_exact(int fd, void *buf, size_t len, struct msg *m, bool want_fds)
{
    size_t got = 0;
    while (got < len) {
        union {
            char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = (char *)buf + got, .iov_len = len - got};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (want_fds) {
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof(ctl.buf);
        }
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int err = wait_readable(fd);
            if (err)
                return err;
            continue;
        }
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EPIPE;
        for (struct cmsghdr *c = want_fds ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (unsigned i = 0; i < k; i++) {
                int f;
                memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (m->nfds < MAX_FDS)
                    m->fds[m->nfds++] = f;
                else
                    close(f);
            }
        }
        if (mh.msg_flags & MSG_CTRUNC)
            return -EBADMSG; /* more fds than a message may carry */
        want_fds = false;
        got += (size_t)n;
    }
    return 0;
}

static void close_fds(struct msg *m)
{
    for (unsigned i = 0; i < m->nfds; i++)
        if (m->fds[i] >= 0)
            close(m->fds[i]);
    m->nfds = 0;
}

static int send_reply(struct zc_vhost *v, struct msg *m, const void *payload, uint32_t size)
{
    /* The payload follows the 12-byte header directly: no padding. */
    struct msg_hdr h = {.request = m->h.request, .flags = FLAG_VERSION | FLAG_REPLY, .size = size};
    struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof(h)},
                           {.iov_base = (void *)payload, .iov_len = size}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t n = sendmsg(v->conn_fd, &mh, MSG_NOSIGNAL);
    if (n < 0)
        return -errno;
    return (size_t)n == sizeof(h) + size ? 0 : -EPIPE;
}

static int reply_u64(struct zc_vhost *v, struct msg *m, uint64_t value)
{
    return send_reply(v, m, &value, sizeof(value));
}

/* ---- the handlers: 0 or -errno; those with a reply send it ---- */

/* The queue a message names, or NULL when it names none we have. */
static struct vq *msg_vq(struct zc_vhost *v, uint32_t index)
{
    return index < 2 * v->p.queues ? &v->vq[index] : NULL;
}

static bool any_running(const struct zc_vhost *v)
{
    for (unsigned i = 0; i < 2 * v->p.queues; i++)
        if (v->vq[i].ring)
            return true;
    return false;
}

static int on_get_features(struct zc_vhost *v, struct msg *m)
{
    return reply_u64(v, m, vhost_offered_features());
}

static int on_set_features(struct zc_vhost *v, struct msg *m)
{
    uint64_t f = m->p.u64;
    if (f & ~vhost_offered_features())
        return -EINVAL;
    if (any_running(v) && f != v->features)
        return -EBUSY; /* the rings run under the features they started with */
    v->features = f;
    v->hdr_len = (f & (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF))) ? 12 : 10;
    return 0;
}

static int on_get_protocol_features(struct zc_vhost *v, struct msg *m)
{
    return reply_u64(v, m, vhost_offered_protocol_features());
}

static int on_set_protocol_features(struct zc_vhost *v, struct msg *m)
{
    if (m->p.u64 & ~vhost_offered_protocol_features())
        return -EINVAL;
    v->protocol_features = m->p.u64;
    return 0;
}

static int on_set_owner(struct zc_vhost *v, struct msg *m)
{
    return 0;
}

static int on_reset_owner(struct zc_vhost *v, struct msg *m)
{
    for (unsigned i = 0; i < 2 * ZC_VHOST_MAX_QUEUES; i++)
        vq_reset(v, &v->vq[i]);
    v->features = 0;
    v->hdr_len = 10;
    return 0;
}

static int on_set_mem_table(struct zc_vhost *v, struct msg *m)
{
    uint32_t n = m->p.mem.nregions;
    if (n == 0 || n > ZC_RING_MAX_REGIONS || m->h.size != 8 + 32 * n || m->nfds != n)
        return -EINVAL;
    /* The rings point into the old mappings: stop them, remap, go on. */
    bool was[2 * ZC_VHOST_MAX_QUEUES];
    for (unsigned i = 0; i < 2 * v->p.queues; i++) {
        was[i] = v->vq[i].ring != NULL;
        vq_stop(v, &v->vq[i]);
    }
    int err = vhost_mem_set(v, (const uint64_t(*)[4])m->p.mem.region, m->fds, n);
    m->nfds = 0; /* vhost_mem_set took them */
    for (unsigned i = 0; !err && i < 2 * v->p.queues; i++)
        if (was[i])
            err = vq_try_start(v, &v->vq[i]);
    return err;
}

static int on_set_vring_num(struct zc_vhost *v, struct msg *m)
{
    struct vq *q = msg_vq(v, m->p.state.index);
    uint32_t num = m->p.state.num;
    if (!q || q->ring || num == 0 || num > ZC_RING_MAX_NUM || (num & (num - 1)))
        return -EINVAL;
    q->num = num;
    return 0;
}

/* A packed queue's base is two halves (vhost-user): the next available
 * position and its wrap counter in bits 0-15, the used ones in 16-31.  A
 * stopped queue here has returned every chain it took, so it resumes
 * both from the available half; the used half is not looked at. */
static bool packed(const struct zc_vhost *v)
{
    return v->features & BIT(VIRTIO_F_RING_PACKED);
}

static int on_set_vring_base(struct zc_vhost *v, struct msg *m)
{
    struct vq *q = msg_vq(v, m->p.state.index);
    if (!q || q->ring || (!packed(v) && m->p.state.num > UINT16_MAX))
        return -EINVAL;
    q->base = (uint16_t)m->p.state.num;
    return 0;
}

static int on_set_vring_addr(struct zc_vhost *v, struct msg *m)
{
    struct vq *q = msg_vq(v, m->p.addr.index);
    if (!q || q->ring)
        return -EINVAL;
    q->desc_ua = m->p.addr.desc;
    q->used_ua = m->p.addr.used;
    q->avail_ua = m->p.addr.avail;
    q->addr_set = true;
    return 0;
}

static int on_get_vring_base(struct zc_vhost *v, struct msg *m)
{
    struct vq *q = msg_vq(v, m->p.state.index);
    if (!q)
        return -EINVAL;
    /* The stop path: the queue stops here and waits for a new kick. */
    vq_stop(v, q);
    q->kicked = false;
    uint32_t base = packed(v) ? (uint32_t)q->base << 16 | q->base : q->base;
    struct vring_state st = {.index = m->p.state.index, .num = base};
    return send_reply(v, m, &st, sizeof(st));
}

/* The fd a SET_VRING_KICK/CALL/ERR carries (-1 with the no-fd bit), in
 * *fd; taken out of m.  0 or -EINVAL. */
static int vring_fd(struct zc_vhost *v, struct msg *m, struct vq **q, int *fd)
{
    uint64_t u = m->p.u64;
    *q = (u >> 9) ? NULL : msg_vq(v, (uint32_t)(u & 0xff));
    bool nofd = u & VRING_NOFD;
    if (!*q || m->nfds != (nofd ? 0u : 1u))
        return -EINVAL;
    *fd = nofd ? -1 : m->fds[0];
    m->nfds = 0;
    return 0;
}

static void replace_fd(int *slot, int fd)
{
    if (*slot >= 0)
        close(*slot);
    *slot = fd;
}

static int on_set_vring_kick(struct zc_vhost *v, struct msg *m)
{
    struct vq *q;
    int fd, err = vring_fd(v, m, &q, &fd);
    if (err)
        return err;
    vq_stop(v, q); /* the ring holds the old kick fd */
    replace_fd(&q->kick_fd, fd);
    q->kicked = true;
    if (!(v->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
        q->enabled = true;
    return vq_try_start(v, q);
}

static int on_set_vring_call(struct zc_vhost *v, struct msg *m)
{
    struct vq *q;
    int fd, err = vring_fd(v, m, &q, &fd);
    if (err)
        return err;
    if (q->ring && (err = zc_ring_set_call_fd(q->ring, fd))) {
        close(fd);
        return err;
    }
    replace_fd(&q->call_fd, fd);
    return 0;
}

static int on_set_vring_err(struct zc_vhost *v, struct msg *m)
{
    struct vq *q;
    int fd, err = vring_fd(v, m, &q, &fd);
    if (!err && fd >= 0)
        close(fd); /* this device never reports queue errors */
    return err;
}

static int on_get_queue_num(struct zc_vhost *v, struct msg *m)
{
    if (!(v->protocol_features & BIT(VHOST_USER_PROTOCOL_F_MQ)))
        return -EINVAL;
    return reply_u64(v, m, v->p.queues);
}

static int on_set_vring_enable(struct zc_vhost *v, struct msg *m)
{
    struct vq *q = msg_vq(v, m->p.state.index);
    if (!q || m->p.state.num > 1 || !(v->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
        return -EINVAL;
    q->enabled = m->p.state.num;
    if (!q->enabled) {
        vq_stop(v, q);
        return 0;
    }
    return vq_try_start(v, q);
}

/* Each request: its handler, its payload size (0: variable, checked by the
 * handler) and whether it answers with its own reply. */
static const struct {
    int (*fn)(struct zc_vhost *, struct msg *);
    uint32_t size;
    bool replies;
} handlers[NREQUESTS] = {
    [GET_FEATURES] = {on_get_features, 0, true},
    [SET_FEATURES] = {on_set_features, 8, false},
    [SET_OWNER] = {on_set_owner, 0, false},
    [RESET_OWNER] = {on_reset_owner, 0, false},
    [SET_MEM_TABLE] = {on_set_mem_table, sizeof(struct mem_table), false},
    [SET_VRING_NUM] = {on_set_vring_num, 8, false},
    [SET_VRING_ADDR] = {on_set_vring_addr, sizeof(struct vring_addr), false},
    [SET_VRING_BASE] = {on_set_vring_base, 8, false},
    [GET_VRING_BASE] = {on_get_vring_base, 8, true},
    [SET_VRING_KICK] = {on_set_vring_kick, 8, false},
    [SET_VRING_CALL] = {on_set_vring_call, 8, false},
    [SET_VRING_ERR] = {on_set_vring_err, 8, false},
    [GET_PROTOCOL_FEATURES] = {on_get_protocol_features, 0, true},
    [SET_PROTOCOL_FEATURES] = {on_set_protocol_features, 8, false},
    [GET_QUEUE_NUM] = {on_get_queue_num, 0, true},
    [SET_VRING_ENABLE] = {on_set_vring_enable, 8, false},
};

/* Does the payload size fit the request?  The memory table is variable
 * (only the regions in use are sent), everything else exact. */
static bool size_ok(const struct msg *m)
{
    uint32_t want = handlers[m->h.request].size;
    if (m->h.request == SET_MEM_TABLE)
        return m->h.size >= 8 && m->h.size <= want;
    return m->h.size == want;
}

static int read_msg(struct zc_vhost *v, struct msg *m)
{
    int err = read_exact(v->conn_fd, &m->h, sizeof(m->h), m, true);
    if (err)
        return err;
    if ((m->h.flags & 3) != FLAG_VERSION || m->h.size > sizeof(m->p))
        return -EBADMSG; /* we could not even find the next message */
    memset(&m->p, 0, sizeof(m->p));
    return read_exact(v->conn_fd, &m->p, m->h.size, m, false);
}

int vhost_handle_message(struct zc_vhost *v)
{
    struct msg m = {.nfds = 0};
    int err = read_msg(v, &m);
    if (err) {
        close_fds(&m);
        if (err != -EPIPE && err != -ECONNRESET)
            v->stats.bad_messages++;
        return err;
    }
    uint32_t req = m.h.request;
    bool known = req < NREQUESTS && handlers[req].fn;
    err = known && size_ok(&m) ? handlers[req].fn(v, &m) : -EINVAL;
    close_fds(&m); /* whatever the handler did not take */
    bool ack = (v->protocol_features & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK)) &&
               (m.h.flags & FLAG_NEED_REPLY) && !(known && handlers[req].replies);
    if (err && err != -EPIPE)
        v->stats.bad_messages++;
    if (ack)
        return reply_u64(v, &m, err ? 1 : 0);
    return err;
}
