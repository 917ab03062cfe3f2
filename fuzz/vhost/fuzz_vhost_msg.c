/* fuzz_vhost_msg.c - random vhost-user message sequences into a backend,
 * over memory whose ring contents are random too.
 *
 * The input is: 1 byte mode, then records [u8 kind][u8 fd count][u16 len]
 * [len bytes].  kind & 1 sends the bytes as a message (with that many
 * memfd descriptors over the test memory, modulo 3), otherwise the bytes
 * are written into the shared memory at an offset from their first two
 * bytes (the front end scribbling on its rings and buffers).  After each
 * record the backend takes a few turns.  Whatever arrives, it must not
 * crash, hang or touch memory outside what it mapped (ASan).
 */
#define _GNU_SOURCE
#include "zc/vhost.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define MEM_SIZE (64 * 1024)

static void send_record(int sock, const uint8_t *p, size_t len, int memfd, unsigned nfds)
{
    struct iovec iov = {(void *)p, len};
    union {
        char c[CMSG_SPACE(sizeof(int) * 2)];
        struct cmsghdr a;
    } ctl;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    int fds[2] = {memfd, memfd};
    if (nfds) {
        mh.msg_control = ctl.c;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    (void)sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* True when p holds whole messages only: a front end that stops inside one
 * is then modelled as hanging up (below), not as one the backend must wait
 * a second for, which would make every such input cost that second. */
static bool whole_messages(const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off + 12 <= len)
        off += 12 + (size_t)(p[off + 8] | p[off + 9] << 8 | p[off + 10] << 16 |
                             (uint32_t)p[off + 11] << 24);
    return off == len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct zc_vhost_params p = {.queues = 1 + data[0] % 2,
                                .mode = (enum zc_vhost_mode)(data[0] / 2 % 3)};
    struct zc_vhost *v;
    if (zc_vhost_create(&v, &p))
        abort();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || zc_vhost_attach(v, sv[1]))
        abort();
    int memfd = memfd_create("fuzz", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, MEM_SIZE))
        abort();
    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (mem == MAP_FAILED)
        abort();
    size_t i = 1;
    while (i + 4 <= size && zc_vhost_connected(v)) {
        uint8_t kind = data[i], nfds = data[i + 1] % 3;
        size_t len = (size_t)(data[i + 2] | data[i + 3] << 8);
        i += 4;
        len = len < size - i ? len : size - i;
        if (kind & 1) {
            send_record(sv[0], data + i, len, memfd, nfds);
            if (!whole_messages(data + i, len))
                shutdown(sv[0], SHUT_WR);
        } else if (len >= 2) {
            size_t off = (size_t)(data[i] | data[i + 1] << 8) % MEM_SIZE;
            size_t n = len - 2 < MEM_SIZE - off ? len - 2 : MEM_SIZE - off;
            memcpy(mem + off, data + i + 2, n);
        }
        i += len;
        for (int t = 0; t < 4; t++)
            if (zc_vhost_poll(v, 0) < 0)
                break;
        /* Drain replies so the socket never fills. */
        uint8_t sink[512];
        while (recv(sv[0], sink, sizeof(sink), MSG_DONTWAIT) > 0)
            ;
    }
    close(sv[0]);
    zc_vhost_destroy(v);
    munmap(mem, MEM_SIZE);
    close(memfd);
    return 0;
}
