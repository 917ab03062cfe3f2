/* Sealed regions and grants: what is accepted, and every way a grant is
 * refused (missing seals, wrong sender, malformed or truncated messages)
 * without leaking a descriptor or a mapping. */
#define _GNU_SOURCE
#include "zc/shm.h"
#include "zc_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The grant header on the wire (zc_shm_grant): magic, tag, count, reserved,
 * then one u64 size per region. */
struct wire_grant {
    uint32_t magic, tag, count, reserved;
    uint64_t size[ZC_SHM_MAX_FDS];
};
#define WIRE_MAGIC 0x7a636772u
#define TAG        0x1234u

static void create_is_sealed(void)
{
    struct zc_shm s;
    CHECK_OK(zc_shm_create(&s, "t", 1000));
    CHECK_EQ(s.size, (size_t)sysconf(_SC_PAGESIZE));
    int seals = fcntl(s.fd, F_GET_SEALS);
    CHECK((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
          (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
    CHECK(ftruncate(s.fd, 0) < 0 && errno == EPERM);
    CHECK(ftruncate(s.fd, (off_t)s.size * 2) < 0 && errno == EPERM);
    CHECK(fcntl(s.fd, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM);
    CHECK_EQ(((unsigned char *)s.base)[0], 0);
    CHECK_EQ(zc_shm_create(&s, "t", 0), -EINVAL);
    CHECK_EQ(zc_shm_create(&s, "t", SIZE_MAX), -EINVAL);
    CHECK(s.fd == -1 && s.base == NULL);
    zc_shm_close(&s);
    zc_shm_close(&s); /* idempotent */
}

static void check_range(void)
{
    struct zc_shm s;
    CHECK_OK(zc_shm_create(&s, "t", 4096));
    CHECK_OK(zc_shm_check_range(&s, 0, 4096));
    CHECK_OK(zc_shm_check_range(&s, 4096, 0));
    CHECK_EQ(zc_shm_check_range(&s, 1, 4096), -ERANGE);
    CHECK_EQ(zc_shm_check_range(&s, 4097, 0), -ERANGE);
    CHECK_EQ(zc_shm_check_range(&s, UINT64_MAX, 2), -ERANGE);
    CHECK_EQ(zc_shm_check_range(&s, 2, UINT64_MAX), -ERANGE);
    zc_shm_close(&s);
}

static void grant_and_accept(void)
{
    int sv[2];
    CHECK_OK(zc_shm_socketpair(sv));
    struct zc_shm g[2], a[2];
    CHECK_OK(zc_shm_create(&g[0], "a", 4096));
    CHECK_OK(zc_shm_create(&g[1], "b", 3 * 4096));
    memcpy(g[1].base, "hello", 6);
    CHECK_OK(zc_shm_grant(sv[0], TAG, g, 2));
    CHECK_OK(zc_shm_accept(sv[1], getuid(), TAG, a, 2, true));
    CHECK_EQ(a[0].size, 4096);
    CHECK_EQ(a[1].size, 3 * 4096);
    CHECK(memcmp(a[1].base, "hello", 6) == 0);
    /* The two mappings are the same memory. */
    ((char *)a[0].base)[100] = 'x';
    CHECK_EQ(((char *)g[0].base)[100], 'x');
    /* The receiver cannot resize what it was given either. */
    CHECK(ftruncate(a[1].fd, 4096) < 0);

    /* A read-only grant maps read-only. */
    CHECK_OK(zc_shm_grant(sv[0], TAG, g, 1));
    struct zc_shm ro;
    CHECK_OK(zc_shm_accept(sv[1], getuid(), TAG, &ro, 1, false));
    CHECK(!ro.writable);
    CHECK(mprotect(ro.base, ro.size, PROT_READ) == 0);
    zc_shm_close(&ro);

    for (int i = 0; i < 2; i++) {
        zc_shm_close(&g[i]);
        zc_shm_close(&a[i]);
    }
    close(sv[0]);
    close(sv[1]);
}

/* Sends a hand-made grant: header h with the given descriptors. */
static void send_raw(int sock, const struct wire_grant *h, size_t len, const int *fds, unsigned n)
{
    CHECK_OK(zc_shm_send_fds(sock, h, len, fds, n));
}

static int unsealed_memfd(unsigned seals)
{
    int fd = memfd_create("bad", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 4096) == 0);
    if (seals)
        CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
    return fd;
}

static void refuses_missing_seals(void)
{
    int sv[2];
    CHECK_OK(zc_shm_socketpair(sv));
    int before = zc_test_open_fds();
    const unsigned partial[] = {0, F_SEAL_SHRINK, F_SEAL_SHRINK | F_SEAL_GROW,
                                F_SEAL_GROW | F_SEAL_SEAL};
    struct wire_grant h = {.magic = WIRE_MAGIC, .tag = TAG, .count = 1, .size = {4096}};
    struct zc_shm a;
    for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
        int fd = unsealed_memfd(partial[i]);
        send_raw(sv[0], &h, sizeof(h), &fd, 1);
        close(fd);
        CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, &a, 1, true), -EPERM);
        CHECK(a.base == NULL && a.fd == -1);
    }
    /* A plain file cannot be sealed at all. */
    const char *tmp = getenv("TMPDIR");
    char buf[256];
    snprintf(buf, sizeof(buf), "%s/zc-shm-XXXXXX", tmp ? tmp : "/tmp");
    int fd = mkstemp(buf);
    CHECK(fd >= 0);
    unlink(buf);
    CHECK(ftruncate(fd, 4096) == 0);
    send_raw(sv[0], &h, sizeof(h), &fd, 1);
    close(fd);
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, &a, 1, true), -EPERM);
    CHECK_EQ(zc_test_open_fds(), before);
    close(sv[0]);
    close(sv[1]);
}

static void refuses_malformed(void)
{
    int sv[2];
    CHECK_OK(zc_shm_socketpair(sv));
    struct zc_shm g[2], a[2];
    CHECK_OK(zc_shm_create(&g[0], "a", 4096));
    CHECK_OK(zc_shm_create(&g[1], "b", 8192));
    int fds[ZC_SHM_MAX_FDS + 1];
    for (int i = 0; i <= ZC_SHM_MAX_FDS; i++)
        fds[i] = g[i & 1].fd;
    int before = zc_test_open_fds();
    struct wire_grant ok = {.magic = WIRE_MAGIC, .tag = TAG, .count = 2, .size = {4096, 8192}};
    struct wire_grant h;

    h = ok; /* wrong magic */
    h.magic ^= 1;
    send_raw(sv[0], &h, sizeof(h), fds, 2);
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, a, 2, true), -EBADMSG);
    h = ok; /* wrong tag: regions meant for something else */
    h.tag = TAG + 1;
    send_raw(sv[0], &h, sizeof(h), fds, 2);
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, a, 2, true), -EBADMSG);
    h = ok; /* the header says 2, one descriptor came */
    send_raw(sv[0], &h, sizeof(h), fds, 1);
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, a, 2, true), -EBADMSG);
    h = ok; /* announced size differs from the real one */
    h.size[1] = 4096;
    send_raw(sv[0], &h, sizeof(h), fds, 2);
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, a, 2, true), -EBADMSG);
    h = ok; /* a size of 0 */
    h.size[0] = 0;
    send_raw(sv[0], &h, sizeof(h), fds, 2);
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, a, 2, true), -EBADMSG);
    /* More descriptors than a grant may carry: refused, all closed. */
    h = ok;
    CHECK_EQ(zc_shm_send_fds(sv[0], &h, sizeof(h), fds, ZC_SHM_MAX_FDS + 1), -EINVAL);
    {
        char ctl[CMSG_SPACE(sizeof(int) * (ZC_SHM_MAX_FDS + 1))];
        struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (ZC_SHM_MAX_FDS + 1));
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (ZC_SHM_MAX_FDS + 1));
        CHECK(sendmsg(sv[0], &m, 0) == (ssize_t)sizeof(h));
    }
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, a, 2, true), -EBADMSG);
    CHECK_EQ(zc_test_open_fds(), before);

    /* A truncated header: part of it, then the sender goes away. */
    send_raw(sv[0], &ok, 10, fds, 2);
    close(sv[0]);
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, a, 2, true), -EBADMSG);
    CHECK_EQ(zc_test_open_fds(), before - 1);
    /* And nothing at all. */
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, a, 2, true), -ECONNRESET);
    close(sv[1]);
    zc_shm_close(&g[0]);
    zc_shm_close(&g[1]);
    CHECK_EQ(zc_shm_accept(-1, getuid(), TAG, a, 2, true), -EBADF);
    CHECK_EQ(zc_shm_accept(sv[1], getuid(), TAG, a, 0, true), -EINVAL);
}

/* A sender that is not the expected user is refused before anything it
 * sent is looked at.  As root the sender really is another user
 * (setuid(nobody)); otherwise the receiver expects a uid it is not. */
static void refuses_wrong_uid(void)
{
    int before = zc_test_open_fds();
    struct zc_shm g, a;
    CHECK_OK(zc_shm_create(&g, "a", 4096));
    if (geteuid() != 0) {
        int sv[2];
        CHECK_OK(zc_shm_socketpair(sv));
        CHECK_OK(zc_shm_grant(sv[0], TAG, &g, 1));
        CHECK_EQ(zc_shm_accept(sv[1], getuid() + 1, TAG, &a, 1, true), -EACCES);
        close(sv[0]);
        close(sv[1]);
        zc_shm_close(&g);
        CHECK_EQ(zc_test_open_fds(), before);
        return;
    }
    int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(lsock >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int namelen =
        snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "zc-test-shm-%d", getpid());
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)namelen);
    CHECK(bind(lsock, (struct sockaddr *)&addr, alen) == 0);
    CHECK(listen(lsock, 1) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&addr, alen) != 0)
            _exit(4);
        _exit(zc_shm_grant(s, TAG, &g, 1) == 0 ? 0 : 5);
    }
    int c = accept(lsock, NULL, NULL);
    CHECK(c >= 0);
    uid_t uid;
    CHECK_OK(zc_shm_peer_cred(c, NULL, &uid, NULL));
    CHECK_EQ(uid, 65534);
    CHECK_EQ(zc_shm_accept(c, 0, TAG, &a, 1, true), -EACCES);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(c);
    close(lsock);
    zc_shm_close(&g);
    CHECK_EQ(zc_test_open_fds(), before);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(create_is_sealed);
    RUN(check_range);
    RUN(grant_and_accept);
    RUN(refuses_missing_seals);
    RUN(refuses_malformed);
    RUN(refuses_wrong_uid);
    return 0;
}
