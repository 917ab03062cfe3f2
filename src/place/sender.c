/* sender.c - turning files, trees and buffers into place frames.
 *
 * A file is OPEN (size, mode, mtime, path), DATA chunks in offset order,
 * CLOSE.  The source is read through a read-only mapping, a window at a
 * time, so memory stays flat whatever the file size: encrypted chunks are
 * sealed straight from the page cache, integrity-only chunks are MAC'd
 * there and handed to sendfile.  Trees are walked with openat() relative
 * to the directory already open, so a rename under us cannot redirect the
 * walk; symlinks and special files are skipped with a warning.
 *
 * A source file cut short by someone else while it is mapped turns the next
 * read of the lost pages into SIGBUS.  Checking the size before mapping
 * only narrows that race, so every read of mapped source bytes runs inside
 * send_mapped(), where a SIGBUS jumps back out and the send fails with
 * -ESTALE instead of killing the process.
 */
#define _GNU_SOURCE
#include "sender.h"

#include "zc/base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEND_WINDOW      (8u << 20)  /* source bytes mapped at a time */
#define POLL_EVERY_BYTES (4u << 20)  /* look for the receiver's answers this often */
#define SENDFILE_MIN     (64u << 10) /* smaller clear chunks go by sendmsg */

/* ---- reading a mapping that may shrink under us ---- */

static __thread sigjmp_buf *bus_jump; /* set while this thread reads mapped source bytes */
static struct sigaction bus_previous;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

/* A SIGBUS while reading the source jumps back to send_mapped(); any other
 * is none of ours and goes to whatever handled SIGBUS before. */
static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
    if (bus_jump)
        siglongjmp(*bus_jump, 1);
    if (bus_previous.sa_flags & SA_SIGINFO) {
        bus_previous.sa_sigaction(sig, info, uctx);
    } else if (bus_previous.sa_handler != SIG_DFL && bus_previous.sa_handler != SIG_IGN) {
        bus_previous.sa_handler(sig);
    } else {
        /* Back to the default: the faulting access repeats on return and kills. */
        signal(SIGBUS, SIG_DFL);
    }
}

static void install_sigbus(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &bus_previous);
}

/* One DATA frame of n mapped source bytes at src (by sendfile from fd when
 * by_sendfile); 0, -ESTALE when the file shrank under the mapping, or the
 * send's error. */
static int send_mapped(struct place_sender *s, uint8_t flags, uint32_t id, uint64_t off, int fd,
                       const uint8_t *src, uint32_t n, bool by_sendfile)
{
    pthread_once(&bus_once, install_sigbus);
    sigjmp_buf jump;
    if (sigsetjmp(jump, 1)) {
        bus_jump = NULL;
        return -ESTALE;
    }
    bus_jump = &jump;
    int r = by_sendfile ? place_conn_send_file(s->conn, flags, id, off, fd, src, n)
                        : place_conn_send(s->conn, PLACE_DATA, flags, id, off, src, n);
    bus_jump = NULL;
    return r;
}

static int send_open_part(struct place_sender *s, uint32_t id, uint8_t flags, uint64_t size,
                          uint32_t mode, const struct timespec *mtime, const char *dest,
                          const uint8_t *transfer, uint32_t parts, uint32_t index)
{
    struct place_open o = {
        .size = size,
        .mtime_sec = mtime->tv_sec,
        .mtime_nsec = (uint32_t)mtime->tv_nsec,
        .mode = mode & 0777,
        .split = transfer != NULL,
        .parts = parts,
        .index = index,
    };
    if (transfer)
        memcpy(o.transfer, transfer, sizeof(o.transfer));
    size_t n = strlen(dest);
    if (place_path_check(dest, n))
        return -EINVAL;
    memcpy(o.path, dest, n + 1);
    uint8_t buf[PLACE_OPEN_FIXED + ZC_PLACE_MAX_PATH + PLACE_SPLIT_BYTES];
    int len = place_open_encode(&o, buf, sizeof(buf));
    if (len < 0)
        return len;
    return place_conn_send(s->conn, PLACE_OPEN, flags, id, 0, buf, (uint32_t)len);
}

static int send_open(struct place_sender *s, uint32_t id, uint8_t flags, uint64_t size,
                     uint32_t mode, const struct timespec *mtime, const char *dest)
{
    return send_open_part(s, id, flags, size, mode, mtime, dest, NULL, 0, 0);
}

/* OPEN, and with resume the receiver's answer: where to start. */
static int begin_file(struct place_sender *s, uint64_t size, uint32_t mode,
                      const struct timespec *mtime, const char *dest, uint32_t *id, uint64_t *start)
{
    uint8_t flags = (s->clear ? PLACE_FLAG_CLEAR_DATA : 0) | (s->resume ? PLACE_FLAG_RESUME : 0);
    *id = s->next_id++;
    *start = 0;
    int r = send_open(s, *id, flags, size, mode, mtime, dest);
    if (r || !s->resume || !s->poll)
        return r;
    if ((r = s->poll(s->ctx, *id, start)))
        return r;
    if (*start > size)
        return -EPROTO;
    if (s->progress)
        zc_progress_add(s->progress, *start);
    return 0;
}

static int end_file(struct place_sender *s, uint32_t id)
{
    int r = place_conn_send(s->conn, PLACE_CLOSE, 0, id, 0, NULL, 0);
    if (!r && s->poll)
        r = s->poll(s->ctx, 0, NULL);
    return r;
}

/* DATA frames for [off, end) of the file (fd) or of the memory at mem. */
static int send_chunks(struct place_sender *s, uint32_t id, int fd, const uint8_t *mem,
                       uint64_t off, uint64_t size)
{
    uint8_t flags = s->clear ? PLACE_FLAG_CLEAR : 0;
    const uint8_t *map = NULL;
    uint64_t map_off = 0, map_len = 0, since_poll = 0;
    int r = 0;
    while (!r && off < size) {
        uint32_t n = (uint32_t)ZC_MIN((uint64_t)PLACE_SEND_CHUNK, size - off);
        const uint8_t *src;
        if (mem) {
            src = mem + off;
        } else {
            if (!map || off + n > map_off + map_len) {
                if (map)
                    munmap((void *)map, map_len);
                map_off = off - off % SEND_WINDOW;
                map_len = ZC_MIN((uint64_t)SEND_WINDOW, size - map_off);
                /* A file cut short under us would fault on the mapping: check
                 * first (what changes after the check is the sender's race). */
                struct stat st;
                if (fstat(fd, &st) || (uint64_t)st.st_size < map_off + map_len) {
                    zc_error("a source file shrank while it was being sent");
                    r = -ESTALE;
                    map = NULL;
                    break;
                }
                void *m =
                    mmap(NULL, map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)map_off);
                if (m == MAP_FAILED) {
                    map = NULL;
                    r = -errno;
                    break;
                }
                map = m;
            }
            src = map + (off - map_off);
        }
        /* Clear chunks leave by sendfile; small ones by one sendmsg from the
         * same mapping (no user-space copy either way, three calls fewer). */
        if (mem) {
            r = place_conn_send(s->conn, PLACE_DATA, flags, id, off, src, n);
        } else {
            r = send_mapped(s, flags, id, off, fd, src, n, s->clear && n >= SENDFILE_MIN);
            if (r == -ESTALE)
                zc_error("a source file shrank while it was being sent");
        }
        off += n;
        since_poll += n;
        if (s->progress)
            zc_progress_add(s->progress, n);
        if (!r && s->poll && since_poll >= POLL_EVERY_BYTES) {
            since_poll = 0;
            r = s->poll(s->ctx, 0, NULL);
        }
    }
    if (map)
        munmap((void *)map, map_len);
    return r;
}

int place_send_buffer(struct place_sender *s, const void *buf, size_t len, uint32_t mode,
                      const struct timespec *mtime, const char *dest)
{
    uint32_t id;
    uint64_t start;
    int r = begin_file(s, len, mode, mtime, dest, &id, &start);
    if (!r)
        r = send_chunks(s, id, -1, buf, start, len);
    return r ? r : end_file(s, id);
}

int place_send_part(struct place_sender *s, int fd, const struct stat *st, const char *dest,
                    const uint8_t transfer[16], uint32_t parts, uint32_t index)
{
    uint8_t flags = PLACE_FLAG_SPLIT | (s->clear ? PLACE_FLAG_CLEAR_DATA : 0);
    uint32_t id = s->next_id++;
    uint64_t start, end;
    place_split_range((uint64_t)st->st_size, parts, index, &start, &end);
    int r = send_open_part(s, id, flags, (uint64_t)st->st_size, st->st_mode, &st->st_mtim, dest,
                           transfer, parts, index);
    if (!r)
        r = send_chunks(s, id, fd, NULL, start, end);
    return r ? r : end_file(s, id);
}

static int send_regular(struct place_sender *s, int fd, const struct stat *st, const char *dest)
{
    if (s->send_split && (uint64_t)st->st_size >= PLACE_SPLIT_MIN)
        return s->send_split(s->ctx, fd, st, dest);
    uint32_t id;
    uint64_t start;
    int r = begin_file(s, (uint64_t)st->st_size, st->st_mode, &st->st_mtim, dest, &id, &start);
    if (!r)
        r = send_chunks(s, id, fd, NULL, start, (uint64_t)st->st_size);
    return r ? r : end_file(s, id);
}

static int send_dir(struct place_sender *s, int fd, const struct stat *st, const char *dest)
{
    int r = send_open(s, 0, PLACE_FLAG_DIR, 0, st->st_mode, &st->st_mtim, dest);
    if (r)
        return r;
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
    if (!d) {
        r = -errno;
        if (dfd >= 0)
            close(dfd);
        return r;
    }
    struct dirent *e;
    char path[ZC_PLACE_MAX_PATH + 2];
    while (!r && (errno = 0, e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dest, e->d_name) > ZC_PLACE_MAX_PATH) {
            zc_error("%s/%s: path too long", dest, e->d_name);
            r = -ENAMETOOLONG;
            break;
        }
        int cfd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (cfd < 0) {
            if (errno == ELOOP) {
                zc_warn("%s: skipping a symbolic link", path);
                continue;
            }
            r = -errno;
            zc_error("%s: %s", path, zc_strerror(r));
            break;
        }
        r = place_send_fd(s, cfd, path);
        close(cfd);
    }
    if (!r && errno)
        r = -errno;
    closedir(d);
    return r;
}

int place_send_fd(struct place_sender *s, int fd, const char *dest)
{
    struct stat st;
    if (fstat(fd, &st))
        return -errno;
    if (S_ISREG(st.st_mode))
        return send_regular(s, fd, &st, dest);
    if (S_ISDIR(st.st_mode))
        return send_dir(s, fd, &st, dest);
    zc_warn("%s: skipping (not a regular file or directory)", dest);
    return 0;
}
