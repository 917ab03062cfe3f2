/* fuzz_shm_grant.c - grant and ring-hello messages of any bytes, without
 * the descriptors they claim to carry: each must be refused cleanly, with
 * nothing mapped and nothing left open. */
#include "zc/base.h"
#include "zc/ring.h"
#include "zc/shm.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (size == 0 || size > 8192 || zc_shm_socketpair(sv))
        return 0;
    if (zc_write_all(sv[0], data, size))
        abort();
    shutdown(sv[0], SHUT_WR);
    struct zc_shm r[2];
    struct zc_ring *ring;
    if (data[0] & 1) {
        if (zc_shm_accept(sv[1], getuid(), ZC_RING_GRANT_TAG, r, 1 + (data[0] >> 7), true) == 0)
            abort();
        if (r[0].base || r[0].fd != -1)
            abort();
    } else if (zc_ring_recv(&ring, ZC_RING_DEVICE, sv[1], getuid()) == 0 || ring) {
        abort();
    }
    close(sv[0]);
    close(sv[1]);
    return 0;
}
