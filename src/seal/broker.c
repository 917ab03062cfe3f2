/* broker.c - the untrusted party that sets a sealed channel up.
 *
 * The broker creates one ring per direction and gives each endpoint the
 * two rings it uses (its outbound one as driver, its inbound one as
 * device); after that the endpoints talk directly through shared memory and
 * the broker only waits for them to leave.  It keeps its own mappings of
 * every region all along: the full view a hypervisor has, which the tests
 * search for plaintext.  (The tests' adversary, a broker that relays and
 * tampers, lives with them: tests/seal/evil_broker.c.)
 */
#define _GNU_SOURCE
#include "wire.h"
#include "zc/base.h"
#include "zc/ring.h"
#include "zc/shm.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct zc_seal_broker {
    struct zc_seal_config cfg;
    /* shared[d] carries side d's messages (the broker's own end is never used). */
    struct zc_ring *shared[2];
};

int zc_seal_broker_create(struct zc_seal_broker **out, const struct zc_seal_config *cfg)
{
    if (seal_config_check(cfg->slots, cfg->max_msg))
        return -EINVAL;
    struct zc_seal_broker *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->cfg = *cfg;
    struct zc_ring_params p = {.num = cfg->slots,
                               .buf_size = cfg->slots * seal_slot_size(cfg->max_msg),
                               .features = ZC_RING_F_EVENT_IDX};
    int r = 0;
    for (int d = 0; d < 2 && !r; d++)
        r = zc_ring_create(&b->shared[d], ZC_RING_DRIVER, &p);
    if (r) {
        zc_seal_broker_destroy(b);
        return r;
    }
    *out = b;
    return 0;
}

void zc_seal_broker_destroy(struct zc_seal_broker *b)
{
    if (!b)
        return;
    for (int d = 0; d < 2; d++)
        zc_ring_destroy(b->shared[d]);
    free(b);
}

int zc_seal_broker_region(const struct zc_seal_broker *b, unsigned i, const void **base,
                          size_t *size)
{
    if (i >= 4)
        return -ENOENT;
    const struct zc_ring *r = b->shared[i / 2];
    if (i % 2 == 0) {
        *base = zc_ring_mem(r);
        *size = zc_ring_mem_size(zc_ring_num(r));
    } else {
        *base = zc_ring_buf_base(r);
        *size = zc_ring_buf_size(r);
    }
    return 0;
}

int zc_seal_broker_grant(int sock, unsigned side, const struct zc_seal_config *cfg,
                         const struct zc_ring *outbound, const struct zc_ring *inbound)
{
    struct seal_hello h = {
        .magic = SEAL_HELLO_MAGIC, .side = side, .slots = cfg->slots, .max_msg = cfg->max_msg};
    int r = zc_shm_send_fds(sock, &h, sizeof(h), NULL, 0);
    if (!r)
        r = zc_ring_send(outbound, sock);
    if (!r)
        r = zc_ring_send(inbound, sock);
    return r;
}

/* Nothing to do but notice an endpoint leaving. */
static int wait_for_hangup(int sock0, int sock1)
{
    struct pollfd pfd[2] = {{.fd = sock0, .events = POLLRDHUP}, {.fd = sock1, .events = POLLRDHUP}};
    for (;;) {
        int n = poll(pfd, 2, -1);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0)
            return 0;
    }
}

int zc_seal_broker_serve(struct zc_seal_broker *b, int sock0, int sock1)
{
    int r = zc_seal_broker_grant(sock0, 0, &b->cfg, b->shared[0], b->shared[1]);
    if (!r)
        r = zc_seal_broker_grant(sock1, 1, &b->cfg, b->shared[1], b->shared[0]);
    if (!r)
        r = wait_for_hangup(sock0, sock1);
    shutdown(sock0, SHUT_RDWR);
    shutdown(sock1, SHUT_RDWR);
    return r;
}

/* ---- taking the endpoints ---- */

static int unix_address(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    strcpy(sa->sun_path, path);
    return 0;
}

/* Bound under a temporary name first: see zc/seal.h. */
int zc_seal_broker_accept(const char *path, uint64_t timeout_s, int socks[2])
{
    struct sockaddr_un sa;
    char tmp[sizeof(sa.sun_path)];
    socks[0] = socks[1] = -1;
    if (snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int r = unix_address(tmp, &sa);
    if (r)
        return r;
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0)
        return -errno;
    mode_t old = umask(077);
    r = bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    umask(old);
    bool bound = !r, linked = false;
    if (!r && listen(l, 2) < 0)
        r = -errno;
    if (!r)
        r = link(tmp, path) < 0 ? -errno : 0;
    linked = !r;
    if (bound)
        unlink(tmp);
    for (int i = 0; !r && i < 2; i++) {
        struct pollfd pfd = {.fd = l, .events = POLLIN};
        int n = poll(&pfd, 1, (int)(timeout_s * 1000));
        if (n < 0 && errno == EINTR) {
            i--;
            continue;
        }
        if (n <= 0) {
            r = n < 0 ? -errno : -ETIMEDOUT;
            break;
        }
        socks[i] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (socks[i] < 0)
            r = -errno;
    }
    if (linked)
        unlink(path);
    close(l);
    if (r) {
        for (int i = 0; i < 2; i++)
            if (socks[i] >= 0)
                close(socks[i]);
    }
    return r;
}

int zc_seal_broker_dial(const char *path)
{
    struct sockaddr_un sa;
    int r = unix_address(path, &sa);
    if (r)
        return r;
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -errno;
    if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        close(sock);
        return r;
    }
    return sock;
}
