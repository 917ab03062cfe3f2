/* test_vhost_hostile.c - a small vhost-user front end, honest then hostile.
 *
 * It gives the backend two regions of one memfd at different guest and
 * user addresses, places an echo queue pair in them and checks a frame
 * comes back byte for byte.  Then it lies: descriptors just outside each
 * region, lengths that overflow, chains too long or looping, bad indirect
 * tables, an available index out of range, and malformed messages.  The
 * backend must refuse each (counted in bad_packets / bad_messages, failure
 * replies, or a dropped connection) and never touch memory outside the
 * regions: under ASan a stray access beyond the mapping is a crash.  The
 * same front end negotiates the packed ring (VIRTIO_F_RING_PACKED) and
 * lies the same ways in that format, plus its own: an indirect descriptor
 * with a link, a buffer id beyond the queue.
 */
#define _GNU_SOURCE
#include "zc/base.h"
#include "zc/vhost.h"
#include "zc_test.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define RSIZE    (256u * 1024) /* each region */
#define GPA_A    0x100000ull   /* guest addresses */
#define GPA_B    0x400000ull
#define UA_A     0x10000000ull /* the front end's own addresses */
#define UA_B     0x20000000ull
#define NUM      8
#define HDR      12
#define F_V1     (1ull << 32)
#define F_PROTO  (1ull << 30)
#define F_IND    (1ull << 28)
#define F_PACKED (1ull << 34)
#define P_AVAIL  (1u << VRING_PACKED_DESC_F_AVAIL)
#define P_USED   (1u << VRING_PACKED_DESC_F_USED)

/* A packed queue as the front end drives it: pos counts descriptors over
 * two laps (wrap counter 1 in the first). */
struct pq {
    struct vring_packed_desc *desc;
    uint16_t pos;
};

struct fe {
    int sock;
    uint8_t *mem; /* both regions: A at 0, B at RSIZE */
    struct zc_vhost *v;
    struct vring rx, tx;
    uint16_t rx_avail, tx_avail, rx_used, tx_used;
    bool packed;
    struct pq prx, ptx;
};

static void send_msg(struct fe *f, uint32_t req, uint32_t flags, const void *p, uint32_t size,
                     const int *fds, unsigned nfds)
{
    uint8_t buf[512];
    uint32_t h[3] = {req, flags, size};
    memcpy(buf, h, 12);
    if (size)
        memcpy(buf + 12, p, size);
    struct iovec iov = {buf, 12 + size};
    union {
        char c[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr a;
    } ctl;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        mh.msg_control = ctl.c;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    CHECK(sendmsg(f->sock, &mh, MSG_NOSIGNAL) == (ssize_t)(12 + size));
    for (int i = 0; i < 4 && zc_vhost_connected(f->v); i++)
        CHECK(zc_vhost_poll(f->v, 0) >= 0);
}

/* A message with need_reply: the u64 the backend answers (0: success). */
static uint64_t ack(struct fe *f, uint32_t req, const void *p, uint32_t size, const int *fds,
                    unsigned nfds)
{
    send_msg(f, req, 1 | 8, p, size, fds, nfds);
    uint32_t h[3];
    uint64_t r = 99;
    CHECK(recv(f->sock, h, 12, MSG_DONTWAIT) == 12 && h[0] == req && h[2] == 8);
    CHECK(recv(f->sock, &r, 8, MSG_DONTWAIT) == 8);
    return r;
}

static uint64_t u64_reply(struct fe *f, uint32_t req)
{
    send_msg(f, req, 1, NULL, 0, NULL, 0);
    uint32_t h[3];
    uint64_t r;
    CHECK(recv(f->sock, h, 12, MSG_DONTWAIT) == 12 && h[0] == req && h[1] == 5);
    CHECK(recv(f->sock, &r, 8, MSG_DONTWAIT) == 8);
    return r;
}

static void state(struct fe *f, uint32_t req, uint32_t index, uint32_t num)
{
    uint32_t s[2] = {index, num};
    CHECK_EQ(ack(f, req, s, 8, NULL, 0), 0);
}

/* Places queue q's three parts at separate spots of region A (packed: the
 * ring, the driver's and the device's event areas). */
static void setup_queue(struct fe *f, uint32_t q, struct vring *vr, struct pq *pq)
{
    uint64_t off = 0x1000 + q * 0x4000;
    vr->num = NUM;
    vr->desc = (struct vring_desc *)(f->mem + off);
    vr->avail = (struct vring_avail *)(f->mem + off + 0x1000);
    vr->used = (struct vring_used *)(f->mem + off + 0x2000);
    pq->desc = (struct vring_packed_desc *)(f->mem + off);
    state(f, 8, q, NUM);
    state(f, 10, q, f->packed ? 0x8000 : 0); /* packed: position 0, wrap counter 1 */
    struct {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
    } a = {q, 0, UA_A + off, UA_A + off + 0x2000, UA_A + off + 0x1000, 0};
    CHECK_EQ(ack(f, 9, &a, sizeof(a), NULL, 0), 0);
    uint64_t kick = q | 0x100; /* no fd: we poll */
    CHECK_EQ(ack(f, 12, &kick, 8, NULL, 0), 0);
    state(f, 18, q, 1);
}

static void connect_fe(struct fe *f, bool packed)
{
    memset(f, 0, sizeof(*f));
    f->packed = packed;
    struct zc_vhost_params p = {.queues = 1, .mode = ZC_VHOST_ECHO};
    CHECK_OK(zc_vhost_create(&f->v, &p));
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_OK(zc_vhost_attach(f->v, sv[1]));
    f->sock = sv[0];
    int mfd = memfd_create("fe", MFD_CLOEXEC);
    CHECK(mfd >= 0 && ftruncate(mfd, 2 * RSIZE) == 0);
    f->mem = mmap(NULL, 2 * RSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    CHECK(f->mem != MAP_FAILED);

    send_msg(f, 3, 1, NULL, 0, NULL, 0); /* SET_OWNER */
    CHECK(u64_reply(f, 1) & F_V1);
    uint64_t feat = F_V1 | F_PROTO | F_IND | (packed ? F_PACKED : 0);
    send_msg(f, 2, 1, &feat, 8, NULL, 0);
    CHECK(u64_reply(f, 15) & 8);
    uint64_t proto = 8; /* REPLY_ACK */
    send_msg(f, 16, 1, &proto, 8, NULL, 0);
    struct {
        uint32_t n, pad;
        uint64_t r[2][4];
    } mt = {2, 0, {{GPA_A, RSIZE, UA_A, 0}, {GPA_B, RSIZE, UA_B, RSIZE}}};
    int fds[2] = {mfd, mfd};
    CHECK_EQ(ack(f, 5, &mt, sizeof(mt), fds, 2), 0);
    close(mfd);
    setup_queue(f, 0, &f->rx, &f->prx);
    setup_queue(f, 1, &f->tx, &f->ptx);
}

static void close_fe(struct fe *f)
{
    close(f->sock);
    zc_vhost_destroy(f->v);
    munmap(f->mem, 2 * RSIZE);
}

static void publish(struct vring *vr, uint16_t *avail, uint16_t head)
{
    vr->avail->ring[*avail % NUM] = head;
    __atomic_store_n(&vr->avail->idx, ++*avail, __ATOMIC_RELEASE);
}

static struct zc_vhost_stats stats(struct fe *f)
{
    for (int i = 0; i < 4; i++)
        CHECK(zc_vhost_poll(f->v, 0) >= 0);
    struct zc_vhost_stats s;
    zc_vhost_get_stats(f->v, &s);
    return s;
}

/* A used entry on vr: its id and len. */
static struct vring_used_elem take_used(struct vring *vr, uint16_t *used)
{
    CHECK(__atomic_load_n(&vr->used->idx, __ATOMIC_ACQUIRE) != *used);
    return vr->used->ring[(*used)++ % NUM];
}

/* An honest frame: header + payload in region A, echoed into region B;
 * with split, the receive chain's first descriptor holds only 4 bytes of
 * the header. */
static void test_echo_payload(struct fe *f, bool split)
{
    struct zc_vhost_stats before = stats(f);
    uint8_t *frame = f->mem + 0x20000;
    memset(frame, 0, HDR);
    memset(f->mem + RSIZE + 0x1000, 0xee, 2048);
    for (int i = 0; i < 200; i++)
        frame[HDR + i] = (uint8_t)(i * 7 + 3);
    f->rx.desc[0] = (struct vring_desc){GPA_B + 0x1000, 2048, VRING_DESC_F_WRITE, 0};
    if (split) {
        f->rx.desc[0] =
            (struct vring_desc){GPA_B + 0x1000, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1};
        f->rx.desc[1] = (struct vring_desc){GPA_B + 0x1004, 2044, VRING_DESC_F_WRITE, 0};
    }
    publish(&f->rx, &f->rx_avail, 0);
    f->tx.desc[0] = (struct vring_desc){GPA_A + 0x20000, HDR + 200, 0, 0};
    publish(&f->tx, &f->tx_avail, 0);
    struct zc_vhost_stats s = stats(f);
    CHECK_EQ(s.rx_packets, before.rx_packets + 1);
    CHECK_EQ(s.tx_packets, before.tx_packets + 1);
    struct vring_used_elem e = take_used(&f->rx, &f->rx_used);
    CHECK_EQ(e.id, 0);
    CHECK_EQ(e.len, HDR + 200);
    CHECK(memcmp(f->mem + RSIZE + 0x1000 + HDR, frame + HDR, 200) == 0);
    for (int i = 0; i < HDR; i++) /* no offloads; num_buffers (le16 at 10) 1 */
        CHECK_EQ(f->mem[RSIZE + 0x1000 + i], i == 10 ? 1 : 0);
    e = take_used(&f->tx, &f->tx_used);
    CHECK_EQ(e.id, 0);
}

/* One transmit chain (descs[0..n)) that must be refused and counted. */
static void expect_refused(struct fe *f, const struct vring_desc *d, unsigned n)
{
    struct zc_vhost_stats before = stats(f);
    memcpy(f->tx.desc, d, n * sizeof(*d));
    publish(&f->tx, &f->tx_avail, 0);
    struct zc_vhost_stats s = stats(f);
    CHECK(zc_vhost_connected(f->v));
    CHECK_EQ(s.bad_packets, before.bad_packets + 1);
    CHECK_EQ(s.rx_packets, before.rx_packets);
    struct vring_used_elem e = take_used(&f->tx, &f->tx_used);
    CHECK_EQ(e.id, 0);
    CHECK_EQ(e.len, 0);
}

static void test_outside_regions(struct fe *f)
{
    const uint64_t bounds[2][2] = {{GPA_A, GPA_A + RSIZE}, {GPA_B, GPA_B + RSIZE}};
    for (int r = 0; r < 2; r++) {
        uint64_t lo = bounds[r][0], hi = bounds[r][1];
        struct vring_desc bad[] = {
            {lo - 1, 64, 0, 0},           /* starts one byte before */
            {hi - 63, 64, 0, 0},          /* ends one byte after */
            {hi, 64, 0, 0},               /* starts at the end */
            {lo, RSIZE + 1, 0, 0},        /* longer than the region */
            {lo + 64, 0xffffffffu, 0, 0}, /* a huge length */
        };
        for (unsigned i = 0; i < ZC_ARRAY_SIZE(bad); i++)
            expect_refused(f, &bad[i], 1);
    }
    struct vring_desc wrap = {UINT64_MAX - 8, 64, 0, 0}; /* addr + len overflows */
    expect_refused(f, &wrap, 1);
}

static void test_bad_chains(struct fe *f)
{
    struct vring_desc d[NUM];
    /* A loop: 0 -> 1 -> 0. */
    d[0] = (struct vring_desc){GPA_A + 0x20000, 64, VRING_DESC_F_NEXT, 1};
    d[1] = (struct vring_desc){GPA_A + 0x20000, 64, VRING_DESC_F_NEXT, 0};
    expect_refused(f, d, 2);
    /* next out of range. */
    d[0] = (struct vring_desc){GPA_A + 0x20000, 64, VRING_DESC_F_NEXT, NUM};
    expect_refused(f, d, 1);
    /* An indirect table of 17 entries: longer than a chain may be. */
    struct vring_desc *table = (struct vring_desc *)(f->mem + 0x30000);
    for (int i = 0; i < 17; i++)
        table[i] = (struct vring_desc){GPA_A + 0x20000, 8, VRING_DESC_F_NEXT, (uint16_t)(i + 1)};
    table[16].flags = 0;
    d[0] = (struct vring_desc){GPA_A + 0x30000, 17 * 16, VRING_DESC_F_INDIRECT, 0};
    expect_refused(f, d, 1);
    /* An indirect table that runs past region B's end. */
    d[0] = (struct vring_desc){GPA_B + RSIZE - 32, 64, VRING_DESC_F_INDIRECT, 0};
    expect_refused(f, d, 1);
    /* A table inside a table. */
    table[0] = (struct vring_desc){GPA_A + 0x30000, 32, VRING_DESC_F_INDIRECT, 0};
    d[0] = (struct vring_desc){GPA_A + 0x30000, 32, VRING_DESC_F_INDIRECT, 0};
    expect_refused(f, d, 1);
    /* A frame shorter than its header, and one with a GSO type nobody offered. */
    d[0] = (struct vring_desc){GPA_A + 0x20000, HDR, 0, 0};
    expect_refused(f, d, 1);
    f->mem[0x20000 + 1] = 1;
    d[0] = (struct vring_desc){GPA_A + 0x20000, HDR + 60, 0, 0};
    expect_refused(f, d, 1);
    f->mem[0x20000 + 1] = 0;
    /* A good indirect chain still goes through afterwards. */
    table[0] = (struct vring_desc){GPA_A + 0x20000, HDR + 60, 0, 0};
    d[0] = (struct vring_desc){GPA_A + 0x30000, 16, VRING_DESC_F_INDIRECT, 0};
    struct zc_vhost_stats before = stats(f);
    memcpy(f->tx.desc, d, sizeof(d[0]));
    publish(&f->tx, &f->tx_avail, 0);
    CHECK_EQ(stats(f).rx_packets, before.rx_packets + 1);
    take_used(&f->tx, &f->tx_used);
}

/* An index the ring cannot recover from ends the connection. */
static void test_bad_index(struct fe *f)
{
    f->tx.avail->ring[f->tx_avail % NUM] = NUM + 3;
    __atomic_store_n(&f->tx.avail->idx, ++f->tx_avail, __ATOMIC_RELEASE);
    stats(f);
    CHECK(!zc_vhost_connected(f->v));
}

/* Makes d[0..n) available as one chain at q's next positions, the head's
 * flags last. */
static void ppublish(struct pq *q, const struct vring_packed_desc *d, unsigned n)
{
    uint16_t head = 0;
    for (unsigned k = 0; k < n; k++) {
        uint16_t pos = (uint16_t)(q->pos + k);
        struct vring_packed_desc *e = &q->desc[pos % NUM];
        uint16_t flags = (uint16_t)(d[k].flags | ((pos & NUM) ? P_USED : P_AVAIL));
        *e = d[k];
        e->flags = k ? flags : e->flags;
        head = k ? head : flags;
    }
    __atomic_store_n(&q->desc[q->pos % NUM].flags, head, __ATOMIC_RELEASE);
}

/* The used descriptor at q's next position, which ends a chain of n. */
static struct vring_packed_desc ptake_used(struct pq *q, unsigned n)
{
    struct vring_packed_desc *e = &q->desc[q->pos % NUM];
    uint16_t want = (q->pos & NUM) ? 0 : P_AVAIL | P_USED;
    CHECK_EQ(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & (P_AVAIL | P_USED), want);
    q->pos = (uint16_t)(q->pos + n);
    return *e;
}

/* An honest frame over packed queues: header + payload from region A,
 * echoed into region B; then past the end of the ring into the next lap. */
static void test_packed_echo(struct fe *f)
{
    uint8_t *frame = f->mem + 0x20000;
    memset(frame, 0, HDR);
    for (int i = 0; i < 200; i++)
        frame[HDR + i] = (uint8_t)(i * 5 + 1);
    for (int round = 0; round < NUM + 3; round++) {
        struct zc_vhost_stats before = stats(f);
        memset(f->mem + RSIZE + 0x1000, 0xee, 2048);
        struct vring_packed_desc rx[2] = {
            {GPA_B + 0x1000, 4, 7, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT},
            {GPA_B + 0x1004, 2044, 7, VRING_DESC_F_WRITE}};
        ppublish(&f->prx, rx, 2);
        struct vring_packed_desc tx = {GPA_A + 0x20000, HDR + 200, 3, 0};
        ppublish(&f->ptx, &tx, 1);
        struct zc_vhost_stats s = stats(f);
        CHECK_EQ(s.rx_packets, before.rx_packets + 1);
        CHECK_EQ(s.tx_packets, before.tx_packets + 1);
        struct vring_packed_desc e = ptake_used(&f->prx, 2);
        CHECK_EQ(e.id, 7);
        CHECK_EQ(e.len, HDR + 200);
        CHECK(memcmp(f->mem + RSIZE + 0x1000 + HDR, frame + HDR, 200) == 0);
        CHECK_EQ(ptake_used(&f->ptx, 1).id, 3);
    }
}

/* One packed transmit chain that must be refused (used, len 0) and counted. */
static void pexpect_refused(struct fe *f, const struct vring_packed_desc *d, unsigned n)
{
    struct zc_vhost_stats before = stats(f);
    ppublish(&f->ptx, d, n);
    struct zc_vhost_stats s = stats(f);
    CHECK(zc_vhost_connected(f->v));
    CHECK_EQ(s.bad_packets, before.bad_packets + 1);
    CHECK_EQ(s.rx_packets, before.rx_packets);
    struct vring_packed_desc e = ptake_used(&f->ptx, n);
    CHECK_EQ(e.id, d[n - 1].id);
    CHECK_EQ(e.len, 0);
}

static void test_packed_bad_chains(struct fe *f)
{
    const uint64_t bounds[2][2] = {{GPA_A, GPA_A + RSIZE}, {GPA_B, GPA_B + RSIZE}};
    for (int r = 0; r < 2; r++) {
        uint64_t lo = bounds[r][0], hi = bounds[r][1];
        struct vring_packed_desc bad[] = {
            {lo - 1, 64, 1, 0},    {hi - 63, 64, 1, 0},          {hi, 64, 1, 0},
            {lo, RSIZE + 1, 1, 0}, {lo + 64, 0xffffffffu, 1, 0}, {UINT64_MAX - 8, 64, 1, 0},
        };
        for (unsigned i = 0; i < ZC_ARRAY_SIZE(bad); i++)
            pexpect_refused(f, &bad[i], 1);
    }
    /* Readable after writable, over a wrap of the ring. */
    struct vring_packed_desc d[3] = {
        {GPA_A + 0x20000, 64, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT},
        {GPA_A + 0x20000, 64, 2, 0}};
    pexpect_refused(f, d, 2);
    /* Indirect: a table of packed entries holding a table; a table past
     * region B's end; an indirect descriptor with a link. */
    struct vring_packed_desc *table = (struct vring_packed_desc *)(f->mem + 0x30000);
    table[0] = (struct vring_packed_desc){GPA_A + 0x30000, 16, 0, VRING_DESC_F_INDIRECT};
    d[0] = (struct vring_packed_desc){GPA_A + 0x30000, 16, 4, VRING_DESC_F_INDIRECT};
    pexpect_refused(f, d, 1);
    d[0] = (struct vring_packed_desc){GPA_B + RSIZE - 32, 64, 4, VRING_DESC_F_INDIRECT};
    pexpect_refused(f, d, 1);
    d[0] = (struct vring_packed_desc){GPA_A + 0x30000, 16, 0,
                                      VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT};
    d[1] = (struct vring_packed_desc){GPA_A + 0x20000, HDR + 60, 5, 0};
    pexpect_refused(f, d, 2);
    /* A good indirect chain still goes through afterwards. */
    table[0] = (struct vring_packed_desc){GPA_A + 0x20000, HDR + 60, 0, 0};
    d[0] = (struct vring_packed_desc){GPA_A + 0x30000, 16, 6, VRING_DESC_F_INDIRECT};
    struct zc_vhost_stats before = stats(f);
    ppublish(&f->ptx, d, 1);
    CHECK_EQ(stats(f).rx_packets, before.rx_packets + 1);
    CHECK_EQ(ptake_used(&f->ptx, 1).id, 6);
}

/* GET_VRING_BASE stops the queue and says where it got to: position and
 * wrap counter, in both halves; a buffer id beyond the queue then ends
 * the connection once it runs again. */
static void test_packed_base_and_bad_id(struct fe *f)
{
    uint32_t s[2] = {1, 0};
    send_msg(f, 11, 1, s, 8, NULL, 0);
    uint32_t h[3], st[2];
    CHECK(recv(f->sock, h, 12, MSG_DONTWAIT) == 12 && h[0] == 11 && h[2] == 8);
    CHECK(recv(f->sock, st, 8, MSG_DONTWAIT) == 8);
    uint16_t half = (uint16_t)((f->ptx.pos % NUM) | ((f->ptx.pos & NUM) ? 0 : 0x8000));
    CHECK_EQ(st[1], (uint32_t)half << 16 | half);
    state(f, 10, 1, st[1]);
    uint64_t kick = 1 | 0x100;
    CHECK_EQ(ack(f, 12, &kick, 8, NULL, 0), 0);
    struct vring_packed_desc d = {GPA_A + 0x20000, HDR + 60, NUM + 3, 0};
    ppublish(&f->ptx, &d, 1);
    stats(f);
    CHECK(!zc_vhost_connected(f->v));
}

static void test_bad_messages(void)
{
    struct fe f;
    connect_fe(&f, false);
    uint64_t x = 0;
    CHECK(ack(&f, 99, &x, 8, NULL, 0) != 0); /* unknown request */
    uint32_t s[2] = {7, NUM};                /* a queue we do not have */
    CHECK(ack(&f, 8, s, 8, NULL, 0) != 0);
    s[0] = 0;
    s[1] = 6; /* not a power of two */
    CHECK(ack(&f, 8, s, 8, NULL, 0) != 0);
    CHECK(ack(&f, 10, s, 4, NULL, 0) != 0); /* short payload */
    x = 1ull << 35;                         /* a feature nobody offered (IN_ORDER) */
    CHECK(ack(&f, 2, &x, 8, NULL, 0) != 0);
    /* Ring addresses outside the memory: the enable that would start it fails. */
    struct {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
    } a = {0, 0, UA_B + RSIZE - 16, UA_A, UA_A + 0x100, 0};
    state(&f, 18, 0, 0); /* stopped, its addresses may change */
    CHECK_EQ(ack(&f, 9, &a, sizeof(a), NULL, 0), 0);
    s[0] = 0;
    s[1] = 1; /* enabling it again fails */
    CHECK(ack(&f, 18, s, 8, NULL, 0) != 0);
    /* A region longer than its file, and one more region than fds. */
    int mfd = memfd_create("short", MFD_CLOEXEC);
    CHECK(mfd >= 0 && ftruncate(mfd, 4096) == 0);
    struct {
        uint32_t n, pad;
        uint64_t r[2][4];
    } mt = {1, 0, {{0, 8192, 0, 0}}};
    CHECK(ack(&f, 5, &mt, 8 + 32, &mfd, 1) != 0);
    mt.n = 2;
    CHECK(ack(&f, 5, &mt, 8 + 64, &mfd, 1) != 0);
    close(mfd);
    CHECK(zc_vhost_connected(f.v));
    struct zc_vhost_stats st;
    zc_vhost_get_stats(f.v, &st);
    CHECK_EQ(st.bad_messages, 8);
    /* A header with the wrong version ends the connection. */
    send_msg(&f, 1, 2, NULL, 0, NULL, 0);
    CHECK(!zc_vhost_connected(f.v));
    /* So does a payload larger than any message. */
    close_fe(&f);
    connect_fe(&f, false);
    uint32_t h[3] = {5, 1, 100000};
    CHECK(send(f.sock, h, 12, 0) == 12);
    zc_vhost_poll(f.v, 0);
    CHECK(!zc_vhost_connected(f.v));
    /* A second front end is refused while one is attached. */
    close_fe(&f);
    connect_fe(&f, false);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_EQ(zc_vhost_attach(f.v, sv[1]), -EBUSY);
    close(sv[0]);
    CHECK(zc_vhost_connected(f.v));
    close_fe(&f);
}

int main(void)
{
    struct fe f;
    connect_fe(&f, false);
    fprintf(stderr, "  test_echo_payload\n");
    test_echo_payload(&f, false);
    fprintf(stderr, "  test_outside_regions\n");
    test_outside_regions(&f);
    fprintf(stderr, "  test_bad_chains\n");
    test_bad_chains(&f);
    fprintf(stderr, "  test_echo_payload, header split\n");
    test_echo_payload(&f, true);
    fprintf(stderr, "  test_bad_index\n");
    test_bad_index(&f);
    close_fe(&f);
    fprintf(stderr, "  test_bad_messages\n");
    test_bad_messages();
    connect_fe(&f, true);
    fprintf(stderr, "  test_packed_echo\n");
    test_packed_echo(&f);
    fprintf(stderr, "  test_packed_bad_chains\n");
    test_packed_bad_chains(&f);
    fprintf(stderr, "  test_packed_base_and_bad_id\n");
    test_packed_base_and_bad_id(&f);
    close_fe(&f);
    return 0;
}
