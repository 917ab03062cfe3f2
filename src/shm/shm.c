/* shm.c - sealed memfd regions and their grants to a peer.
 *
 * The idea: shared memory is only safe to map when nobody can change its
 * size under us.  A memfd sealed with F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL keeps its size for ever, so a mapping of it can never SIGBUS.
 * The receiver of a region therefore checks the seals (and the size the
 * sender announced) with fcntl/fstat on the descriptor before mmap, and
 * maps nothing it was not explicitly granted.
 */
#define _GNU_SOURCE
#include "zc/shm.h"
#include "zc/base.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

void zc_shm_init(struct zc_shm *shm)
{
    shm->fd = -1;
    shm->base = NULL;
    shm->size = 0;
    shm->writable = false;
}

void zc_shm_close(struct zc_shm *shm)
{
    if (shm->base)
        munmap(shm->base, shm->size);
    if (shm->fd >= 0)
        close(shm->fd);
    zc_shm_init(shm);
}

static size_t page_round(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size > SIZE_MAX - page)
        return 0;
    return (size + page - 1) & ~(page - 1);
}

int zc_shm_create(struct zc_shm *shm, const char *name, size_t size)
{
    zc_shm_init(shm);
    size = page_round(size);
    if (size == 0 || size > (size_t)INT64_MAX)
        return -EINVAL;
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    int err = 0;
    if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS) < 0) {
        err = -errno;
        close(fd);
        return err;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        err = -errno;
        close(fd);
        return err;
    }
    shm->fd = fd;
    shm->base = p;
    shm->size = size;
    shm->writable = true;
    return 0;
}

int zc_shm_map(struct zc_shm *shm, int fd, size_t expect_size, bool writable)
{
    zc_shm_init(shm);
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) {
        /* EINVAL: not a file that supports sealing (not a memfd). */
        int err = errno == EINVAL ? -EPERM : -errno;
        close(fd);
        return err;
    }
    if ((seals & REQUIRED_SEALS) != REQUIRED_SEALS) {
        close(fd);
        return -EPERM;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX ||
        (expect_size && (uint64_t)st.st_size != expect_size)) {
        close(fd);
        return -EBADMSG;
    }
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void *p = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int err = -errno;
        close(fd);
        return err;
    }
    shm->fd = fd;
    shm->base = p;
    shm->size = (size_t)st.st_size;
    shm->writable = writable;
    return 0;
}

int zc_shm_socketpair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    return 0;
}

int zc_shm_peer_cred(int sock, pid_t *pid, uid_t *uid, gid_t *gid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    if (len != sizeof(cred))
        return -EBADMSG;
    if (pid)
        *pid = cred.pid;
    if (uid)
        *uid = cred.uid;
    if (gid)
        *gid = cred.gid;
    return 0;
}

#define MAX_MSG 4096

int zc_shm_send_fds(int sock, const void *data, size_t len, const int *fds, unsigned nfds)
{
    if (len == 0 || len > MAX_MSG || nfds > ZC_SHM_MAX_FDS)
        return -EINVAL;
    union {
        char buf[CMSG_SPACE(sizeof(int) * ZC_SHM_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t)n != len) {
        /* The descriptors went with the first byte; the rest follows. */
        return zc_write_all(sock, (const char *)data + n, len - (size_t)n);
    }
    return 0;
}

/* Closes every descriptor in a received control message. */
static void close_received(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            close(fd);
        }
    }
}

int zc_shm_recv_fds(int sock, uid_t expect_uid, void *data, size_t len, int *fds, unsigned max_fds,
                    unsigned *nfds)
{
    *nfds = 0;
    if (len == 0 || len > MAX_MSG || max_fds > ZC_SHM_MAX_FDS)
        return -EINVAL;
    uid_t uid;
    int err = zc_shm_peer_cred(sock, NULL, &uid, NULL);
    if (err)
        return err;
    if (expect_uid != ZC_SHM_ANY_UID && uid != expect_uid)
        return -EACCES;

    /* Room for more than max_fds so that an over-full message is seen
     * (and its descriptors closed) rather than silently truncated. */
    union {
        char buf[CMSG_SPACE(sizeof(int) * (ZC_SHM_MAX_FDS + 1))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -ECONNRESET;

    unsigned got = 0;
    err = 0;
    if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
        err = -EBADMSG;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c && !err; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0)) {
            err = -EBADMSG;
            break;
        }
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        if (got + k > max_fds) {
            err = -EBADMSG;
            break;
        }
        memcpy(fds + got, CMSG_DATA(c), k * sizeof(int));
        got += (unsigned)k;
    }
    if (!err && (size_t)n < len) {
        /* A stream socket may split the message: the remainder carries
         * no descriptors. */
        err = zc_read_all(sock, (char *)data + n, len - (size_t)n);
        if (err == -ECONNRESET)
            err = -EBADMSG;
    }
    if (err) {
        close_received(&msg);
        return err;
    }
    *nfds = got;
    return 0;
}

/* The grant header: what the regions are, as the sender describes them. */
struct grant_hdr {
    uint32_t magic;
    uint32_t tag;
    uint32_t count;
    uint32_t reserved;
    uint64_t size[ZC_SHM_MAX_FDS];
};

#define GRANT_MAGIC 0x7a636772u /* "zcgr" */

int zc_shm_grant(int sock, uint32_t tag, const struct zc_shm *regions, unsigned n)
{
    if (n == 0 || n > ZC_SHM_MAX_FDS)
        return -EINVAL;
    struct grant_hdr h = {.magic = GRANT_MAGIC, .tag = tag, .count = n};
    int fds[ZC_SHM_MAX_FDS];
    for (unsigned i = 0; i < n; i++) {
        if (regions[i].fd < 0)
            return -EBADF;
        h.size[i] = regions[i].size;
        fds[i] = regions[i].fd;
    }
    return zc_shm_send_fds(sock, &h, sizeof(h), fds, n);
}

int zc_shm_accept(int sock, uid_t expect_uid, uint32_t tag, struct zc_shm *regions, unsigned n,
                  bool writable)
{
    for (unsigned i = 0; i < n && i < ZC_SHM_MAX_FDS; i++)
        zc_shm_init(&regions[i]);
    if (n == 0 || n > ZC_SHM_MAX_FDS)
        return -EINVAL;
    struct grant_hdr h;
    int fds[ZC_SHM_MAX_FDS];
    unsigned got;
    int err = zc_shm_recv_fds(sock, expect_uid, &h, sizeof(h), fds, ZC_SHM_MAX_FDS, &got);
    if (err)
        return err;
    if (h.magic != GRANT_MAGIC || h.tag != tag || h.count != n || got != n)
        err = -EBADMSG;
    unsigned i = 0;
    for (; i < got && !err; i++) {
        if (h.size[i] == 0 || h.size[i] > SIZE_MAX) {
            err = -EBADMSG;
            break;
        }
        err = zc_shm_map(&regions[i], fds[i], (size_t)h.size[i], writable);
        if (err) {
            i++; /* zc_shm_map closed this one */
            break;
        }
    }
    if (err) {
        for (unsigned k = i; k < got; k++)
            close(fds[k]);
        for (unsigned k = 0; k < n; k++)
            zc_shm_close(&regions[k]);
    }
    return err;
}
