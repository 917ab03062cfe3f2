/* zc/shm.h - shared-memory regions and the grants that hand them to a peer.
 *
 * A region is an anonymous memory file (memfd) sealed against resizing
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL): once sealed, no party can
 * truncate it under another's mapping (which would SIGBUS the reader) or
 * remove the seals.  Regions travel as file descriptors over a UNIX socket
 * (SCM_RIGHTS) with a small header saying how many and how large; the
 * receiver checks the sender's credentials (SO_PEERCRED), the seals and the
 * sizes before it maps anything, and maps only the regions it was granted:
 * the role an IOMMU plays for a device.
 *
 * All functions return 0 (or a count) on success and a negative errno on
 * failure: -EACCES a peer with the wrong uid, -EPERM a region without its
 * seals, -EBADMSG a malformed or truncated grant.
 */
#ifndef ZC_SHM_H
#define ZC_SHM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most regions (file descriptors) one grant or one fd message carries. */
#define ZC_SHM_MAX_FDS 8

/* One mapped region.  The layout is public so that parts can use base/size
 * directly; treat it as read-only and release it with zc_shm_close(). */
struct zc_shm {
    int fd;      /* the sealed memfd, -1 when closed */
    void *base;  /* the mapping (size bytes), NULL when closed */
    size_t size; /* bytes, a multiple of the page size */
    bool writable;
};

/* Accept any uid in zc_shm_recv_fds()/zc_shm_accept() (credentials are then
 * only logged, never trusted): for tests and explicit opt-in only. */
#define ZC_SHM_ANY_UID ((uid_t)-1)

/* ---- regions ---- */

/* Creates a sealed memfd region of at least size bytes (rounded up to the
 * page size), zero-filled and mapped read-write.  name appears in
 * /proc/PID/fd.  0 on success (shm filled in), -EINVAL for size 0, -errno. */
int zc_shm_create(struct zc_shm *shm, const char *name, size_t size);

/* Maps a region received from a peer.  Takes ownership of fd (closed on
 * failure too).  Refuses a file that lacks any of F_SEAL_SHRINK,
 * F_SEAL_GROW, F_SEAL_SEAL (-EPERM) or whose size differs from expect_size (-EBADMSG;
 * expect_size 0 accepts any non-zero size).  writable false maps it
 * read-only.  0 on success, -errno. */
int zc_shm_map(struct zc_shm *shm, int fd, size_t expect_size, bool writable);

/* Unmaps and closes a region (idempotent; a zeroed struct is fine after
 * zc_shm_init()). */
void zc_shm_close(struct zc_shm *shm);

/* Marks shm closed (fd -1, base NULL) so that zc_shm_close() is safe. */
void zc_shm_init(struct zc_shm *shm);

/* 0 when off+len lies inside the region, -ERANGE otherwise (overflow-safe).
 * Inline: the ring checks every descriptor with it. */
static inline int zc_shm_check_range(const struct zc_shm *shm, uint64_t off, uint64_t len)
{
    if (off > shm->size || len > shm->size - off)
        return -ERANGE;
    return 0;
}

/* ---- the peer ---- */

/* A connected pair of UNIX stream sockets, close-on-exec.  0 or -errno. */
int zc_shm_socketpair(int sv[2]);

/* The credentials of the process at the other end of a connected UNIX
 * socket (SO_PEERCRED).  0 or -errno. */
int zc_shm_peer_cred(int sock, pid_t *pid, uid_t *uid, gid_t *gid);

/* ---- file descriptors over a UNIX socket (SCM_RIGHTS) ---- */

/* Sends len bytes of data (1 <= len <= 4096) with nfds descriptors
 * (0 <= nfds <= ZC_SHM_MAX_FDS) in one message.  0 on success, -errno. */
int zc_shm_send_fds(int sock, const void *data, size_t len, const int *fds, unsigned nfds);

/* Receives one message of exactly len bytes with at most max_fds descriptors.
 * First checks the peer's uid (SO_PEERCRED) against expect_uid (-EACCES).
 * A short message, truncated data or truncated control data is -EBADMSG, a
 * closed peer -ECONNRESET; on any failure every descriptor that arrived is
 * closed.  On success *nfds holds the count received (close-on-exec set).
 * 0 on success, -errno. */
int zc_shm_recv_fds(int sock, uid_t expect_uid, void *data, size_t len, int *fds, unsigned max_fds,
                    unsigned *nfds);

/* ---- grants: regions handed to a peer ---- */

/* Sends n regions (1 <= n <= ZC_SHM_MAX_FDS) with a tag of the caller's
 * choosing (what the regions are for) and their sizes.  0 or -errno. */
int zc_shm_grant(int sock, uint32_t tag, const struct zc_shm *regions, unsigned n);

/* Receives a grant of exactly n regions carrying the expected tag, checks
 * the sender (expect_uid), each region's seals and its size against the
 * grant header, and maps each (writable or read-only).  On failure nothing
 * stays mapped or open.  0 on success, -EACCES, -EPERM, -EBADMSG, -errno. */
int zc_shm_accept(int sock, uid_t expect_uid, uint32_t tag, struct zc_shm *regions, unsigned n,
                  bool writable);

#ifdef __cplusplus
}
#endif

#endif /* ZC_SHM_H */
