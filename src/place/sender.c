/* sender.c - turning files, trees and buffers into place frames.
 *
 * A file is OPEN (size, mode, mtime, path), DATA chunks in offset order,
 * CLOSE.  The source is read with pread a piece at a time into a buffer
 * that stays in cache, sealed or MAC'd there (conn.c), so memory stays flat
 * whatever the file size, and a source file cut short under us is a short
 * read (-ESTALE), never a fault.  Trees are walked with openat() relative
 * to the directory already open, so a rename under us cannot redirect the
 * walk; symlinks and special files are skipped with a warning, told by
 * their directory entry before anything opens them (a FIFO would block
 * the open, a device might act on it), and names beginning with the
 * reserved ".zc-" (a receiver's temporary files and records, which no
 * receiver would accept) are never sent.
 */
#define _GNU_SOURCE
#include "sender.h"

#include "zc/base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define POLL_EVERY_BYTES (4u << 20) /* look for the receiver's answers this often */

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
        s->progress(s->progress_arg, *start, 0);
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
    uint64_t since_poll = 0;
    int r = 0;
    while (!r && off < size) {
        uint32_t n = (uint32_t)ZC_MIN((uint64_t)PLACE_SEND_CHUNK, size - off);
        if (mem) {
            r = place_conn_send(s->conn, PLACE_DATA, flags, id, off, mem + off, n);
        } else {
            r = place_conn_send_file(s->conn, flags, id, off, fd, n, s->clear && s->sendfile);
            if (r == -ESTALE)
                zc_error("a source file shrank while it was being sent");
        }
        off += n;
        since_poll += n;
        if (s->progress)
            s->progress(s->progress_arg, n, 0);
        if (!r && s->poll && since_poll >= POLL_EVERY_BYTES) {
            since_poll = 0;
            r = s->poll(s->ctx, 0, NULL);
        }
    }
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

/* The type of the entry e of d without opening it (a FIFO would block, a
 * device might act on the open); DT_UNKNOWN when it cannot be told. */
static unsigned char entry_type(DIR *d, const struct dirent *e)
{
    struct stat st;
    if (e->d_type != DT_UNKNOWN)
        return e->d_type;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
        return DT_UNKNOWN;
    return IFTODT(st.st_mode);
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
        if (strncmp(e->d_name, ".zc-", 4) == 0)
            continue; /* a receiver's temporary files and records: never sent */
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dest, e->d_name) > ZC_PLACE_MAX_PATH) {
            zc_error("%s/%s: path too long", dest, e->d_name);
            r = -ENAMETOOLONG;
            break;
        }
        unsigned char type = entry_type(d, e);
        if (type == DT_LNK) {
            zc_warn("%s: skipping a symbolic link", path);
            continue;
        }
        if (type != DT_REG && type != DT_DIR && type != DT_UNKNOWN) {
            zc_warn("%s: skipping (not a regular file or directory)", path);
            continue;
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
