/* The ring's contract between well-behaved ends: chains, batches, a full
 * ring, index wrap-around, misuse refused with -EINVAL, waiting with and
 * without EVENT_IDX, a peer that goes away, and a ring handed to another
 * process over a UNIX socket; each in the split and the packed format. */
#define _GNU_SOURCE
#include "zc/base.h"
#include "zc/ring.h"
#include "zc/shm.h"
#include "zc_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct pair {
    struct zc_ring *drv, *dev;
};

/* The ring format under test: 0 (split) or ZC_RING_F_RING_PACKED. */
static uint64_t format;

static void make_pair(struct pair *pr, uint32_t num, uint64_t features)
{
    struct zc_ring_params p = {.num = num, .buf_size = 1 << 20, .features = features | format};
    CHECK_OK(zc_ring_create_pair(&pr->drv, &pr->dev, &p));
}

static void free_pair(struct pair *pr)
{
    zc_ring_destroy(pr->drv);
    zc_ring_destroy(pr->dev);
}

static void chains_and_data(void)
{
    struct pair pr;
    make_pair(&pr, 64, ZC_RING_F_EVENT_IDX);
    char *drvbuf = zc_ring_buf_base(pr.drv);
    memcpy(drvbuf + 100, "request", 8);
    struct zc_ring_seg segs[3] = {{.off = 100, .len = 8},
                                  {.off = 4096, .len = 16, .writable = true},
                                  {.off = 8192, .len = 16, .writable = true}};
    CHECK_OK(zc_ring_post(pr.drv, segs, 3, segs));
    struct zc_ring_chain c;
    CHECK_EQ(zc_ring_pop(pr.dev, &c), 1);
    CHECK_EQ(c.nseg, 3);
    CHECK(memcmp(zc_ring_ptr(pr.dev, &c.seg[0]), "request", 8) == 0);
    memcpy(zc_ring_ptr(pr.dev, &c.seg[1]), "reply", 6);
    uint16_t head = c.head;
    CHECK_EQ(zc_ring_pop(pr.dev, &c), 0); /* nothing more */
    CHECK_OK(zc_ring_push(pr.dev, head, 6));
    CHECK_EQ(zc_ring_complete(pr.dev), 1);
    struct zc_ring_used u;
    CHECK_EQ(zc_ring_reap(pr.drv, &u, 1), 1);
    CHECK(u.token == segs);
    CHECK_EQ(u.len, 6);
    CHECK(memcmp(drvbuf + 4096, "reply", 6) == 0);
    free_pair(&pr);
}

static void full_ring_and_wrap(void)
{
    struct pair pr;
    make_pair(&pr, 8, ZC_RING_F_EVENT_IDX);
    struct zc_ring_seg s[10];
    void *tok[10];
    for (int i = 0; i < 10; i++) {
        s[i] = (struct zc_ring_seg){.off = 64u * (unsigned)i, .len = 64};
        tok[i] = &s[i];
    }
    CHECK_EQ(zc_ring_post_batch(pr.drv, s, 10, tok), 8);
    CHECK_EQ(zc_ring_free_descs(pr.drv), 0);
    CHECK_EQ(zc_ring_post(pr.drv, s, 1, NULL), -ENOSPC);
    struct zc_ring_seg two[2] = {{.off = 0, .len = 1}, {.off = 0, .len = 1}};
    struct zc_ring_chain c[8];
    struct zc_ring_used u[8];
    struct zc_ring_done d[8];

    /* 70000 messages in batches of 8 and chains of 2 take every index
     * through a 16-bit wrap; each comes back with its own token. */
    CHECK_EQ(zc_ring_pop_batch(pr.dev, c, 8), 8);
    for (int i = 0; i < 8; i++)
        d[i] = (struct zc_ring_done){c[i].head, 0};
    CHECK_EQ(zc_ring_push_batch(pr.dev, d, 8), 8);
    CHECK_EQ(zc_ring_reap(pr.drv, u, 8), 8);
    for (int i = 0; i < 8; i++)
        CHECK(u[i].token == tok[i]);
    for (unsigned round = 0; round < 70000 / 4; round++) {
        for (int k = 0; k < 4; k++)
            CHECK_OK(zc_ring_add(pr.drv, two, 2, (void *)(uintptr_t)(round * 4 + (unsigned)k)));
        CHECK_EQ(zc_ring_add(pr.drv, two, 1, NULL), -ENOSPC);
        CHECK_EQ(zc_ring_submit(pr.drv), 4);
        CHECK_EQ(zc_ring_pop_batch(pr.dev, c, 8), 4);
        for (int k = 0; k < 4; k++) {
            CHECK_EQ(c[k].nseg, 2);
            d[k] = (struct zc_ring_done){c[k].head, 0};
        }
        CHECK_EQ(zc_ring_push_batch(pr.dev, d, 4), 4);
        CHECK_EQ(zc_ring_reap(pr.drv, u, 8), 4);
        for (int k = 0; k < 4; k++)
            CHECK_EQ((uintptr_t)u[k].token, round * 4 + (unsigned)k);
    }
    CHECK_EQ(zc_ring_free_descs(pr.drv), 8);
    free_pair(&pr);
}

static void misuse_is_einval(void)
{
    struct pair pr;
    make_pair(&pr, 8, ZC_RING_F_EVENT_IDX);
    size_t size = zc_ring_buf_size(pr.drv);
    struct zc_ring_seg out = {.off = size - 10, .len = 11};
    CHECK_EQ(zc_ring_post(pr.drv, &out, 1, NULL), -EINVAL);
    out = (struct zc_ring_seg){.off = UINT64_MAX, .len = 2};
    CHECK_EQ(zc_ring_post(pr.drv, &out, 1, NULL), -EINVAL);
    struct zc_ring_seg order[2] = {{.off = 0, .len = 1, .writable = true}, {.off = 0, .len = 1}};
    CHECK_EQ(zc_ring_post(pr.drv, order, 2, NULL), -EINVAL);
    CHECK_EQ(zc_ring_post(pr.drv, order, 0, NULL), -EINVAL);
    struct zc_ring_seg many[ZC_RING_MAX_SEGS + 1] = {{0}};
    CHECK_EQ(zc_ring_post(pr.drv, many, ZC_RING_MAX_SEGS + 1, NULL), -EINVAL);
    CHECK(zc_ring_ptr(pr.drv, &out) == NULL);

    /* Roles: each end does only its own half. */
    struct zc_ring_chain c;
    struct zc_ring_used u;
    CHECK_EQ(zc_ring_pop(pr.drv, &c), -EINVAL);
    CHECK_EQ(zc_ring_push(pr.drv, 0, 0), -EINVAL);
    CHECK_EQ(zc_ring_complete(pr.drv), -EINVAL);
    CHECK_EQ(zc_ring_reap(pr.dev, &u, 1), -EINVAL);
    CHECK_EQ(zc_ring_post(pr.dev, many, 1, NULL), -EINVAL);
    CHECK_EQ(zc_ring_submit(pr.dev), -EINVAL);

    /* The device gives back only what it holds, at most what was writable. */
    struct zc_ring_seg w = {.off = 0, .len = 32, .writable = true};
    CHECK_OK(zc_ring_post(pr.drv, &w, 1, NULL));
    CHECK_EQ(zc_ring_push(pr.dev, 0, 0), -EINVAL); /* not popped yet */
    CHECK_EQ(zc_ring_pop(pr.dev, &c), 1);
    CHECK_EQ(zc_ring_push(pr.dev, c.head, 33), -EINVAL);
    CHECK_EQ(zc_ring_push(pr.dev, 8, 0), -EINVAL);
    struct zc_ring_done twice[2] = {{c.head, 1}, {c.head, 1}};
    CHECK_EQ(zc_ring_push_batch(pr.dev, twice, 2), -EINVAL);
    CHECK_EQ(zc_ring_reap(pr.drv, &u, 1), 0); /* nothing was published */
    CHECK_EQ(zc_ring_push_batch(pr.dev, twice, 1), 1);
    CHECK_EQ(zc_ring_push(pr.dev, c.head, 0), -EINVAL); /* already returned */
    CHECK_EQ(zc_ring_reap(pr.drv, &u, 1), 1);
    CHECK_EQ(u.len, 1);
    CHECK(!zc_ring_broken(pr.drv) && !zc_ring_broken(pr.dev));
    free_pair(&pr);

    /* attach checks the params against what it was given. */
    struct zc_ring *r, *a;
    struct zc_ring_params p = {.num = 16, .buf_size = 1 << 16, .features = format};
    CHECK_OK(zc_ring_create(&r, ZC_RING_DRIVER, &p));
    struct zc_ring_params ep, bad;
    struct zc_ring_fds fds;
    zc_ring_export(r, &ep, &fds);
    for (int i = 0; i < 4; i++) {
        bad = ep;
        if (i == 0)
            bad.num = 1024; /* a bigger queue than the region holds */
        if (i == 1)
            bad.buf_size *= 2;
        if (i == 2)
            bad.num = 12;
        struct zc_ring_fds d = {dup(fds.ring_fd), dup(fds.buf_fd), dup(fds.kick_fd),
                                dup(fds.call_fd)};
        if (i == 3)
            d = (struct zc_ring_fds){dup(fds.ring_fd), dup(fds.buf_fd), dup(fds.buf_fd),
                                     dup(fds.call_fd)}; /* a kick fd that is no eventfd */
        int want = i == 2 ? -EINVAL : -EBADMSG;
        CHECK_EQ(zc_ring_attach(&a, ZC_RING_DEVICE, &bad, &d), want);
        CHECK(a == NULL);
    }
    zc_ring_destroy(r);
}

/* The other end, 20 ms late: posts one buffer (driver) or completes the
 * popped chain (device). */
struct late {
    struct zc_ring *r;
    uint16_t head;
    int result;
};

static void *late_post(void *arg)
{
    struct late *l = arg;
    usleep(20000);
    struct zc_ring_seg s = {.off = 0, .len = 8};
    l->result = zc_ring_post(l->r, &s, 1, NULL);
    return NULL;
}

static void *late_complete(void *arg)
{
    struct late *l = arg;
    usleep(20000);
    l->result = zc_ring_push(l->r, l->head, 0);
    if (!l->result)
        l->result = zc_ring_complete(l->r) == 1 ? 0 : -1;
    return NULL;
}

/* Waiting: spin, then block; the other end's post or completion wakes the
 * blocked end; without work the wait ends in -ETIMEDOUT, without a peer in
 * -EPIPE. */
static void waiting(uint64_t features)
{
    struct pair pr;
    make_pair(&pr, 16, features);
    zc_ring_set_spin(pr.dev, 0);
    uint64_t t0 = zc_now_ns();
    CHECK_EQ(zc_ring_wait(pr.dev, 20 * 1000 * 1000), -ETIMEDOUT);
    CHECK(zc_now_ns() - t0 >= 19 * 1000 * 1000);
    CHECK_EQ(zc_ring_wait(pr.dev, 0), -ETIMEDOUT);

    struct late l = {.r = pr.drv, .result = 1};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, late_post, &l) == 0);
    CHECK_OK(zc_ring_wait(pr.dev, 5000000000ll));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_EQ(l.result, 0);
    struct zc_ring_chain c;
    CHECK_EQ(zc_ring_pop(pr.dev, &c), 1);
    /* The device slept (it never spins here) and the driver kicked it. */
    struct zc_ring_stats st;
    zc_ring_get_stats(pr.dev, &st);
    CHECK(st.sleeps >= 2 && st.spins == 0);
    zc_ring_get_stats(pr.drv, &st);
    CHECK_EQ(st.notifications, 1);

    /* The driver waits for the completion the same way, after a short spin. */
    zc_ring_set_spin(pr.drv, 1000);
    l = (struct late){.r = pr.dev, .head = c.head, .result = 1};
    CHECK(pthread_create(&t, NULL, late_complete, &l) == 0);
    CHECK_OK(zc_ring_wait(pr.drv, 5000000000ll));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_EQ(l.result, 0);
    struct zc_ring_used u;
    CHECK_EQ(zc_ring_reap(pr.drv, &u, 1), 1);

    /* A peer that hangs up ends the wait. */
    int sv[2];
    CHECK_OK(zc_shm_socketpair(sv));
    zc_ring_set_peer_fd(pr.dev, sv[0]);
    close(sv[1]);
    CHECK_EQ(zc_ring_wait(pr.dev, -1), -EPIPE);
    close(sv[0]);
    free_pair(&pr);
}

static void waiting_event_idx(void)
{
    waiting(ZC_RING_F_EVENT_IDX);
}

static void waiting_flags(void)
{
    waiting(0);
}

/* The ring goes to a child process over a socket; the child is the device
 * and answers every request with its sequence number doubled. */
static void across_processes(void)
{
    int sv[2];
    CHECK_OK(zc_shm_socketpair(sv));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        struct zc_ring *dev;
        if (zc_ring_recv(&dev, ZC_RING_DEVICE, sv[1], getuid()) != 0)
            _exit(2);
        zc_ring_set_peer_fd(dev, sv[1]);
        struct zc_ring_chain c[16];
        for (;;) {
            int err = zc_ring_wait(dev, -1);
            if (err == -EPIPE)
                break;
            if (err)
                _exit(3);
            int n = zc_ring_pop_batch(dev, c, 16);
            if (n < 0)
                _exit(4);
            for (int i = 0; i < n; i++) {
                uint64_t *q = zc_ring_ptr(dev, &c[i].seg[0]);
                uint64_t *a = zc_ring_ptr(dev, &c[i].seg[1]);
                *a = *q * 2;
                if (zc_ring_push(dev, c[i].head, 8))
                    _exit(5);
            }
            if (zc_ring_complete(dev) < 0)
                _exit(6);
        }
        zc_ring_destroy(dev);
        _exit(0);
    }
    close(sv[1]);
    struct zc_ring *drv;
    struct zc_ring_params p = {
        .num = 32, .buf_size = 1 << 16, .features = ZC_RING_F_EVENT_IDX | format};
    CHECK_OK(zc_ring_create(&drv, ZC_RING_DRIVER, &p));
    CHECK_OK(zc_ring_send(drv, sv[0]));
    uint64_t *buf = zc_ring_buf_base(drv);
    uint64_t sent = 0, got = 0;
    const uint64_t total = 20000;
    while (got < total) {
        while (sent < total && zc_ring_free_descs(drv) >= 2) {
            unsigned slot = (unsigned)(sent % 32);
            buf[slot * 2] = sent;
            struct zc_ring_seg s[2] = {{.off = slot * 16u, .len = 8},
                                       {.off = slot * 16u + 8, .len = 8, .writable = true}};
            CHECK_OK(zc_ring_add(drv, s, 2, (void *)(uintptr_t)sent));
            sent++;
        }
        CHECK(zc_ring_submit(drv) >= 0);
        CHECK_OK(zc_ring_wait(drv, 10000000000ll));
        struct zc_ring_used u[16];
        int n = zc_ring_reap(drv, u, 16);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++) {
            uint64_t seq = (uintptr_t)u[i].token;
            CHECK_EQ(seq, got); /* in order: the child completes in order */
            CHECK_EQ(u[i].len, 8);
            CHECK_EQ(buf[(seq % 32) * 2 + 1], seq * 2);
            got++;
        }
    }
    close(sv[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    zc_ring_destroy(drv);

    /* A ring offered by someone who is not the expected user is refused. */
    CHECK_OK(zc_shm_socketpair(sv));
    CHECK_OK(zc_ring_create(&drv, ZC_RING_DRIVER, &p));
    CHECK_OK(zc_ring_send(drv, sv[0]));
    struct zc_ring *dev;
    CHECK_EQ(zc_ring_recv(&dev, ZC_RING_DEVICE, sv[1], getuid() + 1), -EACCES);
    CHECK(dev == NULL);
    zc_ring_destroy(drv);
    close(sv[0]);
    close(sv[1]);
}

/* A creator that lies: unsealed regions, a queue size its ring region
 * cannot hold, descriptors that are not eventfds.  zc_ring_recv() refuses
 * each and leaves nothing open. */
static void recv_refuses_hostile_creator(void)
{
    int before = zc_test_open_fds();
    struct zc_ring *dev;
    for (int c = 0; c < 4; c++) {
        int sv[2];
        CHECK_OK(zc_shm_socketpair(sv));
        struct zc_shm g[2];
        CHECK_OK(zc_shm_create(&g[0], "ring", zc_ring_layout_size(16, format)));
        CHECK_OK(zc_shm_create(&g[1], "buf", 4096));
        if (c == 0) { /* the ring region comes without its seals */
            int fd = memfd_create("unsealed", MFD_CLOEXEC);
            CHECK(fd >= 0 && ftruncate(fd, (off_t)g[0].size) == 0);
            close(g[0].fd);
            g[0].fd = fd;
        }
        CHECK_OK(zc_shm_grant(sv[0], ZC_RING_GRANT_TAG, g, 2));
        struct {
            uint32_t magic, num;
            uint64_t buf_size, features;
        } hello = {0x7a637268u, c == 1 ? 4096 : 16, 4096, ZC_RING_F_EVENT_IDX | format};
        int efd[2] = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC)};
        if (c == 2) { /* a memfd where the kick eventfd belongs */
            close(efd[0]);
            efd[0] = dup(g[1].fd);
        }
        if (c == 3) /* an honest ring, to show the refusals are not blanket */
            hello.num = 16;
        CHECK_OK(zc_shm_send_fds(sv[0], &hello, sizeof(hello), efd, 2));
        int want[] = {-EPERM, -EBADMSG, -EBADMSG, 0};
        CHECK_EQ(zc_ring_recv(&dev, ZC_RING_DEVICE, sv[1], getuid()), want[c]);
        CHECK((dev != NULL) == (c == 3));
        zc_ring_destroy(dev);
        for (int i = 0; i < 2; i++) {
            close(efd[i]);
            zc_shm_close(&g[i]);
            close(sv[i]);
        }
    }
    CHECK_EQ(zc_test_open_fds(), before);
}

/* The size of each format's ring memory, as linux/virtio_ring.h has it. */
static void layout_sizes(void)
{
    CHECK_EQ(zc_ring_layout_size(256, 0), zc_ring_mem_size(256));
    CHECK_EQ(zc_ring_layout_size(256, ZC_RING_F_RING_PACKED), 256 * 16 + 8);
}

static void all_tests(void)
{
    RUN(chains_and_data);
    RUN(full_ring_and_wrap);
    RUN(misuse_is_einval);
    RUN(waiting_event_idx);
    RUN(waiting_flags);
    RUN(across_processes);
    RUN(recv_refuses_hostile_creator);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(layout_sizes);
    fprintf(stderr, "split\n");
    all_tests();
    fprintf(stderr, "packed\n");
    format = ZC_RING_F_RING_PACKED;
    all_tests();
    return 0;
}
