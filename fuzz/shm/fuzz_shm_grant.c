/* fuzz_shm_grant.c - grant and ring-hello messages of any bytes, carrying
 * any mix of descriptors (sealed memfds of several sizes, unsealed memfds,
 * eventfds).  Whatever arrives is either refused, with nothing mapped and
 * no descriptor left open, or accepted as regions whose seals and sizes are
 * what the grant said. */
#define _GNU_SOURCE
#include "zc/base.h"
#include "zc/ring.h"
#include "zc/shm.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        abort();
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* A descriptor of the given kind for the message. */
static int make_fd(unsigned kind, unsigned i)
{
    if (kind == 0) {
        struct zc_shm s;
        if (zc_shm_create(&s, "fuzz", 4096u << (i % 3)))
            abort();
        int fd = dup(s.fd);
        zc_shm_close(&s);
        return fd;
    }
    if (kind == 1) {
        int fd = memfd_create("fuzz-unsealed", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, 4096) != 0)
            abort();
        return fd;
    }
    return eventfd(0, EFD_CLOEXEC);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 8192)
        return 0;
    int before = open_fds();
    int sv[2];
    if (zc_shm_socketpair(sv))
        abort();
    uint8_t flags = data[0];
    const uint8_t *body = data + 1;
    size_t blen = size - 1, first = ZC_MIN(blen, (size_t)4096);
    unsigned nfds = (flags >> 2) % (ZC_SHM_MAX_FDS + 1);
    int fds[ZC_SHM_MAX_FDS];
    for (unsigned i = 0; i < nfds; i++)
        fds[i] = make_fd(((unsigned)(flags >> 5) + i) % 3, i);
    if (zc_shm_send_fds(sv[0], body, first, fds, nfds) ||
        zc_write_all(sv[0], body + first, blen - first))
        abort();
    for (unsigned i = 0; i < nfds; i++)
        close(fds[i]);
    shutdown(sv[0], SHUT_WR);

    if (flags & 1) {
        struct zc_shm r[2];
        unsigned n = 1 + (flags >> 1 & 1);
        if (zc_shm_accept(sv[1], getuid(), ZC_RING_GRANT_TAG, r, n, true) == 0) {
            for (unsigned i = 0; i < n; i++) {
                int seals = fcntl(r[i].fd, F_GET_SEALS);
                if (seals < 0 || !(seals & F_SEAL_SHRINK) || !(seals & F_SEAL_GROW) ||
                    !(seals & F_SEAL_SEAL) || !r[i].base || r[i].size == 0)
                    abort();
                zc_shm_close(&r[i]);
            }
        } else if (r[0].base || r[0].fd != -1) {
            abort();
        }
    } else {
        struct zc_ring *ring;
        if (zc_ring_recv(&ring, ZC_RING_DEVICE, sv[1], getuid()) == 0) {
            struct zc_ring_chain c;
            if (zc_ring_pop(ring, &c) < 0 && !zc_ring_broken(ring))
                abort();
            zc_ring_destroy(ring);
        } else if (ring) {
            abort();
        }
    }
    close(sv[0]);
    close(sv[1]);
    if (open_fds() != before)
        abort();
    return 0;
}
