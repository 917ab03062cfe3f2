/* placer.c - the receiving side of a transfer: direct placement under a root.
 *
 * Each announced file becomes a hidden temporary ".zc-part.NAME" next to
 * its final name, sized at OPEN, which also checks that the filesystem
 * has room for it (a full disk is a clean error there, and a write that
 * still finds none is one later: nothing is mapped, so never a SIGBUS).
 * Each DATA payload is received a piece at a time into a buffer that stays
 * in cache, verified (and decrypted) there, and written at the offset its
 * header names by a writer thread (writer.c), so that the kernel's work
 * of placing the bytes (allocating and filling page-cache pages) overlaps
 * with receiving the next piece.  The file's verified prefix moves past a
 * chunk only when its tag holds.  Offsets must arrive in order, so a chunk
 * can only ever land on bytes that do not count yet: a forged header can
 * waste its own space, never alter verified data.
 *
 * Publication is grouped: verified files queue up, then one fsync (or
 * syncfs for a group), the renames, and one more sync make the group
 * durable under its final names.  Until then nothing is visible.
 *
 * Paths come from the peer: they are checked lexically (wire.c) and every
 * directory is opened with openat2(RESOLVE_BENEATH), so neither ".." nor a
 * symlink can lead outside the root.  A connection that breaks leaves a
 * resume record ".zc-state.NAME" beside the partial file, bound to the
 * peer's key and the file's size and mtime.  A file split over several
 * streams arrives through several sessions (processes) at once: they share
 * the temporary file and a ".zc-split.NAME" record, and the last part in
 * publishes the whole.
 */
#define _GNU_SOURCE
#include "placer.h"
#include "writer.h"

#include "zc/base.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PLACE_GROUP_FILES   256         /* publish the queue at this many files ... */
#define PLACE_GROUP_BYTES   (64u << 20) /* ... or this many bytes */
#define PLACE_MAX_DIR_TIMES 100000      /* directory mtimes remembered per session */
#define STATE_BYTES         72
static const uint8_t state_magic[8] = {'z', 'c', 'p', 'l', 'a', 'c', 'e', 1};

/* Records why (for the peer and the log) and returns err. */
static int __attribute__((format(printf, 3, 4)))
fail(struct place_placer *p, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(p->msg))
        snprintf(p->msg + n, sizeof(p->msg) - (size_t)n, ": %s", zc_strerror(err));
    return err;
}

int place_openat_beneath(int dirfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (fd >= 0)
        return (int)fd;
    return errno == EXDEV || errno == ELOOP ? -EACCES : -errno;
}

/* Opens the directory path (relative, checked) beneath the root, creating
 * what is missing when create; "" is the root itself. */
static int dir_open(struct place_placer *p, const char *path, bool create)
{
    if (!*path) {
        int fd = fcntl(p->rootfd, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
    }
    int fd = place_openat_beneath(p->rootfd, path, O_RDONLY | O_DIRECTORY);
    if (fd != -ENOENT || !create)
        return fd;
    char comp[PLACE_MAX_NAME + 1];
    int cur = fcntl(p->rootfd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return -errno;
    for (const char *s = path; *s;) {
        const char *e = strchrnul(s, '/');
        size_t n = (size_t)(e - s);
        memcpy(comp, s, n);
        comp[n] = '\0';
        if (mkdirat(cur, comp, 0755) && errno != EEXIST) {
            int r = -errno;
            close(cur);
            return r;
        }
        fd = place_openat_beneath(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        close(cur);
        if (fd < 0)
            return fd == -ELOOP || fd == -ENOTDIR ? -EACCES : fd;
        cur = fd;
        s = *e ? e + 1 : e;
    }
    return cur;
}

static void part_name(const struct place_file *f, char *out, size_t len, const char *kind)
{
    snprintf(out, len, ".zc-%s.%s", kind, f->name);
}

int place_placer_init(struct place_placer *p, int rootfd, uint64_t max_file_size,
                      const struct zc_pubkey *peer)
{
    memset(p, 0, sizeof(*p));
    p->rootfd = rootfd;
    p->max_file_size = max_file_size;
    p->peer = *peer;
    for (size_t i = 0; i < PLACE_MAX_OPEN; i++)
        p->files[i].fd = p->files[i].dirfd = -1;
    return 0;
}

static struct place_file *find(struct place_placer *p, uint32_t id)
{
    for (size_t i = 0; i < PLACE_MAX_OPEN; i++)
        if (p->files[i].used && p->files[i].id == id)
            return &p->files[i];
    return NULL;
}

static void release(struct place_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->dirfd >= 0)
        close(f->dirfd);
    memset(f, 0, sizeof(*f));
    f->fd = f->dirfd = -1;
}

static void discard(struct place_file *f)
{
    char tmp[PLACE_MAX_NAME + 16];
    if (f->fd >= 0) { /* only what this session created and locked */
        part_name(f, tmp, sizeof(tmp), "part");
        unlinkat(f->dirfd, tmp, 0);
        part_name(f, tmp, sizeof(tmp), "state");
        unlinkat(f->dirfd, tmp, 0);
        part_name(f, tmp, sizeof(tmp), "split");
        unlinkat(f->dirfd, tmp, 0);
    }
    release(f);
}

static void state_encode(const struct place_file *f, const struct zc_pubkey *peer, uint8_t *b)
{
    memcpy(b, state_magic, 8);
    place_put_le64(b + 8, f->size);
    place_put_le64(b + 16, (uint64_t)f->times[1].tv_sec);
    place_put_le32(b + 24, (uint32_t)f->times[1].tv_nsec);
    place_put_le32(b + 28, f->mode);
    place_put_le64(b + 32, f->next);
    memcpy(b + 40, peer->key, ZC_KEY_BYTES);
}

/* Makes the verified prefix durable and records it for --resume. */
static void save_state(struct place_file *f, const struct zc_pubkey *peer)
{
    uint8_t b[STATE_BYTES];
    char tmp[PLACE_MAX_NAME + 16];
    if (fdatasync(f->fd))
        return;
    state_encode(f, peer, b);
    part_name(f, tmp, sizeof(tmp), "state");
    int fd = openat(f->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (zc_write_all(fd, b, sizeof(b)) || fsync(fd))
        unlinkat(f->dirfd, tmp, 0);
    close(fd);
}

/* Resumes f from its state record when that record matches; true then. */
static bool try_resume(struct place_placer *p, struct place_file *f)
{
    uint8_t b[STATE_BYTES], want[STATE_BYTES];
    char tmp[PLACE_MAX_NAME + 16];
    part_name(f, tmp, sizeof(tmp), "state");
    int sfd = openat(f->dirfd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0)
        return false;
    int r = zc_read_all(sfd, b, sizeof(b));
    close(sfd);
    if (r)
        return false;
    uint64_t verified = place_get_le64(b + 32);
    f->next = verified;
    state_encode(f, &p->peer, want);
    f->next = 0;
    if (memcmp(b, want, sizeof(b)) != 0 || verified > f->size)
        return false;
    part_name(f, tmp, sizeof(tmp), "part");
    int fd = openat(f->dirfd, tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return false;
    if (flock(fd, LOCK_EX | LOCK_NB) || fstat(fd, &st) || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != f->size) {
        close(fd);
        return false;
    }
    f->fd = fd;
    f->next = verified;
    return true;
}

/* With --resume, a file already in place with the same size and mtime is done. */
static bool already_there(struct place_file *f)
{
    struct stat st;
    if (fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
        return false;
    return (uint64_t)st.st_size == f->size && st.st_mtim.tv_sec == f->times[1].tv_sec &&
           st.st_mtim.tv_nsec == f->times[1].tv_nsec;
}

/* Sizes the temporary file and checks there is room for what it does not
 * hold yet; the blocks are allocated a window at a time (window()). */
static int reserve(struct place_placer *p, struct place_file *f)
{
    struct stat st;
    struct statvfs vfs;
    if (fstat(f->fd, &st) || fstatvfs(f->fd, &vfs))
        return fail(p, -errno, "%s", f->name);
    uint64_t held = (uint64_t)st.st_blocks * 512;
    uint64_t need = f->size > held ? f->size - held : 0;
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize < need)
        return fail(p, -ENOSPC, "no room for %s", f->name);
    return ftruncate(f->fd, (off_t)f->size) ? fail(p, -errno, "%s", f->name) : 0;
}

static int create_part(struct place_placer *p, struct place_file *f)
{
    char tmp[PLACE_MAX_NAME + 16];
    part_name(f, tmp, sizeof(tmp), "part");
    int fd = openat(f->dirfd, tmp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(p, -errno, "cannot create the temporary file of %s", f->name);
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        close(fd);
        return fail(p, -EBUSY, "%s is being written by another session", f->name);
    }
    f->fd = fd;
    part_name(f, tmp, sizeof(tmp), "state");
    unlinkat(f->dirfd, tmp, 0);
    part_name(f, tmp, sizeof(tmp), "split");
    unlinkat(f->dirfd, tmp, 0);
    if (ftruncate(fd, 0))
        return fail(p, -errno, "%s", f->name);
    return reserve(p, f);
}

/* A split file: each part arrives over its own session (process).  The
 * parts share the temporary file and a record ".zc-split.NAME" {magic,
 * transfer id, size, parts, done bitmap}, read and written under the
 * file's lock; the first part of a transfer creates both, the part that
 * completes the bitmap publishes the file. */
#define SPLIT_BYTES 40
static const uint8_t split_magic[8] = {'z', 'c', 's', 'p', 'l', 'i', 't', 1};

static int lock_briefly(int fd)
{
    for (int i = 0; i < 5000; i++) { /* parts hold the lock only for a few syscalls */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK)
            return -errno;
        usleep(1000);
    }
    return -EBUSY;
}

/* The done bitmap of the split record, or -1 when it is not this transfer's. */
static int64_t split_done(struct place_file *f)
{
    uint8_t b[SPLIT_BYTES];
    char tmp[PLACE_MAX_NAME + 16];
    part_name(f, tmp, sizeof(tmp), "split");
    int fd = openat(f->dirfd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = zc_read_all(fd, b, sizeof(b));
    close(fd);
    if (r || memcmp(b, split_magic, 8) || memcmp(b + 8, f->transfer, 16) ||
        place_get_le64(b + 24) != f->size || place_get_le32(b + 32) != f->parts)
        return -1;
    return place_get_le32(b + 36);
}

static int split_write(struct place_file *f, uint32_t done)
{
    uint8_t b[SPLIT_BYTES];
    char tmp[PLACE_MAX_NAME + 16];
    memcpy(b, split_magic, 8);
    memcpy(b + 8, f->transfer, 16);
    place_put_le64(b + 24, f->size);
    place_put_le32(b + 32, f->parts);
    place_put_le32(b + 36, done);
    part_name(f, tmp, sizeof(tmp), "split");
    int fd = openat(f->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int r = zc_write_all(fd, b, sizeof(b));
    close(fd);
    return r;
}

static int open_split(struct place_placer *p, struct place_file *f)
{
    char tmp[PLACE_MAX_NAME + 16];
    part_name(f, tmp, sizeof(tmp), "part");
    f->fd = openat(f->dirfd, tmp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f->fd < 0)
        return fail(p, -errno, "cannot create the temporary file of %s", f->name);
    int r = lock_briefly(f->fd);
    if (r)
        return fail(p, r, "cannot lock %s", f->name);
    int64_t done = split_done(f);
    if (done < 0) { /* the first part of this transfer to arrive */
        if (ftruncate(f->fd, 0))
            r = fail(p, -errno, "%s", f->name);
        else if (!(r = reserve(p, f)) && (r = split_write(f, 0)))
            r = fail(p, r, "cannot record the parts of %s", f->name);
    } else if (done & (1u << f->index)) {
        r = fail(p, -EPROTO, "part %u of %s sent twice", f->index, f->name);
    }
    flock(f->fd, LOCK_UN);
    place_split_range(f->size, f->parts, f->index, &f->next, &f->end);
    return r;
}

/* The part is verified and durable: mark it, and publish when it was the last. */
static int close_split(struct place_placer *p, struct place_file *f, bool *published)
{
    char tmp[PLACE_MAX_NAME + 16];
    *published = false;
    if (fdatasync(f->fd))
        return fail(p, -errno, "cannot sync %s", f->name);
    int r = lock_briefly(f->fd);
    if (r)
        return fail(p, r, "cannot lock %s", f->name);
    int64_t done = split_done(f);
    uint32_t all = (uint32_t)((1ull << f->parts) - 1);
    if (done < 0) {
        r = fail(p, -EPROTO, "the split transfer of %s was abandoned", f->name);
    } else if (((uint32_t)done | (1u << f->index)) != all) {
        if ((r = split_write(f, (uint32_t)done | (1u << f->index))))
            r = fail(p, r, "cannot record the parts of %s", f->name);
    } else {
        part_name(f, tmp, sizeof(tmp), "part");
        if (futimens(f->fd, f->times) || fchmod(f->fd, f->mode) || fsync(f->fd) ||
            renameat(f->dirfd, tmp, f->dirfd, f->name))
            r = fail(p, -errno, "cannot publish %s", f->name);
        part_name(f, tmp, sizeof(tmp), "split");
        if (!r && (unlinkat(f->dirfd, tmp, 0) || fsync(f->dirfd)))
            r = fail(p, -errno, "cannot sync the directory of %s", f->name);
        *published = !r;
    }
    flock(f->fd, LOCK_UN);
    return r;
}

static int open_dir_entry(struct place_placer *p, const struct place_open *o)
{
    int fd = dir_open(p, o->path, true);
    if (fd < 0)
        return fail(p, fd, "cannot create directory %s", o->path);
    int r = fchmod(fd, o->mode | 0700) ? -errno : 0; /* we must still write into it */
    close(fd);
    if (r)
        return fail(p, r, "%s", o->path);
    if (p->ndirs == PLACE_MAX_DIR_TIMES)
        return 0;
    if (p->ndirs == p->dircap) {
        size_t cap = p->dircap ? 2 * p->dircap : 16;
        struct place_dir_time *d = realloc(p->dirs, cap * sizeof(*d));
        if (!d)
            return -ENOMEM;
        p->dirs = d;
        p->dircap = cap;
    }
    char *path = strdup(o->path);
    if (!path)
        return -ENOMEM;
    p->dirs[p->ndirs++] =
        (struct place_dir_time){path, {.tv_sec = (time_t)o->mtime_sec, .tv_nsec = o->mtime_nsec}};
    return 0;
}

int place_placer_open(struct place_placer *p, uint32_t id, uint8_t flags,
                      const struct place_open *o, uint64_t *resume_at)
{
    *resume_at = 0;
    p->msg[0] = '\0';
    if (!(flags & PLACE_FLAG_SPLIT) != !o->split ||
        (o->split && (flags & (PLACE_FLAG_DIR | PLACE_FLAG_RESUME))))
        return fail(p, -EPROTO, "OPEN of %s with contradicting flags", o->path);
    if (flags & PLACE_FLAG_DIR)
        return open_dir_entry(p, o);
    if (p->max_file_size && o->size > p->max_file_size)
        return fail(p, -EFBIG, "%s is over the server's size limit", o->path);
    if (find(p, id))
        return fail(p, -EPROTO, "file id of %s already open", o->path);
    struct place_file *f = NULL;
    for (size_t i = 0; i < PLACE_MAX_OPEN && !f; i++)
        if (!p->files[i].used)
            f = &p->files[i];
    if (!f)
        return fail(p, -EPROTO, "too many open files (at %s)", o->path);

    const char *slash = strrchr(o->path, '/');
    char dir[ZC_PLACE_MAX_PATH + 1] = "";
    if (slash)
        memcpy(dir, o->path, (size_t)(slash - o->path));
    const char *base = slash ? slash + 1 : o->path;
    size_t baselen = strnlen(base, PLACE_MAX_NAME); /* place_path_check bounds it */
    memcpy(f->name, base, baselen);
    f->name[baselen] = '\0';
    f->used = true;
    f->id = id;
    f->clear = flags & PLACE_FLAG_CLEAR_DATA;
    f->size = f->end = o->size;
    f->split = o->split;
    f->parts = o->parts;
    f->index = o->index;
    memcpy(f->transfer, o->transfer, sizeof(f->transfer));
    f->mode = o->mode;
    f->times[0].tv_nsec = UTIME_OMIT;
    f->times[1] = (struct timespec){.tv_sec = (time_t)o->mtime_sec, .tv_nsec = o->mtime_nsec};
    f->dirfd = dir_open(p, dir, true);
    if (f->dirfd < 0) {
        int r = fail(p, f->dirfd, "cannot open the directory of %s", o->path);
        release(f);
        return r;
    }
    struct stat st;
    if (!fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode)) {
        int r = fail(p, -EISDIR, "%s", o->path);
        release(f);
        return r;
    }
    if (f->split) {
        for (size_t i = 0; i < PLACE_MAX_OPEN; i++) {
            const struct place_file *g = &p->files[i];
            if (g != f && g->used && g->split && g->index == f->index &&
                !memcmp(g->transfer, f->transfer, sizeof(f->transfer))) {
                int r = fail(p, -EPROTO, "part %u of %s opened twice", f->index, f->name);
                release(f);
                return r;
            }
        }
        int r = open_split(p, f);
        if (r)
            discard(f);
        return r;
    }
    if (flags & PLACE_FLAG_RESUME) {
        if (try_resume(p, f)) {
            *resume_at = f->next;
            p->st.resumed_bytes += f->next;
            return 0;
        }
        if (already_there(f)) {
            f->complete_already = true;
            f->next = f->size;
            *resume_at = f->size;
            p->st.resumed_bytes += f->size;
            return 0;
        }
    }
    int r = create_part(p, f);
    if (r)
        discard(f);
    return r;
}

/* Pieces of large chunks go to the writer thread; small ones are written
 * inline (handing a 4 KiB file over would cost more than writing it). */
static struct place_writer *writer_for(struct place_placer *p, uint32_t len)
{
    if (len < 2 * PLACE_PIECE || p->no_writer)
        return NULL;
    if (!p->writer && place_writer_new(&p->writer, PLACE_PIECE))
        p->no_writer = true;
    return p->writer;
}

/* Waits for every queued write; before any file is synced or closed. */
static int drain(struct place_placer *p)
{
    int r = place_writer_drain(p->writer);
    return r ? fail(p, r, "cannot write the received data") : 0;
}

int place_placer_data(struct place_placer *p, struct place_conn *c)
{
    const struct place_hdr h = c->rx_cur;
    struct place_file *f = find(p, h.file_id);
    p->msg[0] = '\0';
    if (!f)
        return fail(p, -EPROTO, "chunk for an unknown file");
    if ((h.flags & ~PLACE_FLAG_CLEAR) || !(h.flags & PLACE_FLAG_CLEAR) != !f->clear)
        return fail(p, -EPROTO, "chunk of %s with wrong flags", f->name);
    if (f->complete_already || h.offset != f->next || h.length == 0 || h.length > f->end - f->next)
        return fail(p, -EPROTO, "chunk of %s out of place", f->name);
    int r = place_conn_recv_payload_at(c, writer_for(p, h.length), f->fd, h.offset);
    if (r)
        return fail(p, r, "chunk of %s", f->name);
    f->next += h.length;
    return 0;
}

int place_placer_close(struct place_placer *p, uint32_t id, place_ack_fn ack, void *ctx)
{
    struct place_file *f = find(p, id);
    p->msg[0] = '\0';
    if (!f)
        return fail(p, -EPROTO, "close of an unknown file");
    if (f->next != f->end)
        return fail(p, -EPROTO, "close of %s before all of it arrived", f->name);
    int r = drain(p);
    if (r)
        return r;
    if (f->split) {
        /* Earlier files are ACKed first: ACKs go out in file-id order. */
        uint64_t start, end, size = f->size;
        bool published;
        r = place_placer_commit(p, ack, ctx);
        if (!r)
            r = close_split(p, f, &published);
        if (r)
            return r;
        place_split_range(f->size, f->parts, f->index, &start, &end);
        p->st.files += published;
        p->st.bytes += end - start;
        release(f);
        return ack ? ack(ctx, id, size) : 0;
    }
    if (f->fd >= 0 && (futimens(f->fd, f->times) || fchmod(f->fd, f->mode)))
        return fail(p, -errno, "%s", f->name);
    if (p->npending == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        struct place_file *q = realloc(p->pending, cap * sizeof(*q));
        if (!q)
            return -ENOMEM;
        p->pending = q;
        p->cap = cap;
    }
    p->pending[p->npending++] = *f;
    p->pending_bytes += f->size;
    memset(f, 0, sizeof(*f));
    f->fd = f->dirfd = -1;
    if (p->npending >= PLACE_GROUP_FILES || p->pending_bytes >= PLACE_GROUP_BYTES)
        return place_placer_commit(p, ack, ctx);
    return 0;
}

int place_placer_commit(struct place_placer *p, place_ack_fn ack, void *ctx)
{
    char tmp[PLACE_MAX_NAME + 16];
    size_t real = 0, last = 0;
    for (size_t i = 0; i < p->npending; i++)
        if (p->pending[i].fd >= 0) {
            real++;
            last = i;
        }
    /* Data first: nothing may be renamed before its bytes are durable. */
    int r = drain(p);
    if (r)
        ;
    else if (real == 1 && fsync(p->pending[last].fd))
        r = fail(p, -errno, "cannot sync %s", p->pending[last].name);
    else if (real > 1 && syncfs(p->rootfd))
        r = fail(p, -errno, "cannot sync the files");
    size_t done = 0;
    for (; !r && done < p->npending; done++) {
        struct place_file *f = &p->pending[done];
        if (f->fd < 0)
            continue;
        part_name(f, tmp, sizeof(tmp), "part");
        if (renameat(f->dirfd, tmp, f->dirfd, f->name)) {
            r = fail(p, -errno, "cannot rename %s into place", f->name);
            break;
        }
        part_name(f, tmp, sizeof(tmp), "state");
        unlinkat(f->dirfd, tmp, 0);
    }
    /* Then the directory entries. */
    if (!r && real == 1 && fsync(p->pending[last].dirfd))
        r = fail(p, -errno, "cannot sync the directory of %s", p->pending[last].name);
    else if (!r && real > 1 && syncfs(p->rootfd))
        r = fail(p, -errno, "cannot sync the directories");
    for (size_t i = 0; i < p->npending; i++) {
        struct place_file *f = &p->pending[i];
        if (i < done) {
            p->st.files++;
            p->st.bytes += f->size;
            if (ack && !r)
                r = ack(ctx, f->id, f->size);
            release(f);
        } else {
            discard(f);
        }
    }
    p->npending = 0;
    p->pending_bytes = 0;
    return r;
}

int place_placer_end(struct place_placer *p, place_ack_fn ack, void *ctx)
{
    int r = place_placer_commit(p, ack, ctx);
    for (size_t i = 0; !r && i < p->ndirs; i++) {
        int fd = dir_open(p, p->dirs[i].path, false);
        struct timespec t[2] = {{.tv_nsec = UTIME_OMIT}, p->dirs[i].mtime};
        if (fd >= 0) {
            futimens(fd, t);
            close(fd);
        }
    }
    return r;
}

static bool keeps_work(int err)
{
    return err == -ECONNRESET || err == -ETIMEDOUT || err == -EPIPE || err == -ENOTCONN;
}

void place_placer_abort(struct place_placer *p, int err)
{
    /* Nothing queued may outlive its file; and what is verified counts for
     * --resume only once it is written. */
    int wr = place_writer_drain(p->writer);
    bool keep = keeps_work(err) && !wr;
    if (keep)
        place_placer_commit(p, NULL, NULL);
    for (size_t i = 0; i < p->npending; i++)
        discard(&p->pending[i]);
    p->npending = 0;
    for (size_t i = 0; i < PLACE_MAX_OPEN; i++) {
        struct place_file *f = &p->files[i];
        if (!f->used)
            continue;
        if (keep && !f->split && f->fd >= 0 && f->next > 0) {
            save_state(f, &p->peer);
            release(f);
        } else {
            discard(f);
        }
    }
    place_placer_destroy(p);
}

void place_placer_destroy(struct place_placer *p)
{
    place_writer_free(p->writer); /* it writes what is queued: before any file closes */
    p->writer = NULL;
    for (size_t i = 0; i < PLACE_MAX_OPEN; i++)
        if (p->files[i].used)
            discard(&p->files[i]);
    for (size_t i = 0; i < p->npending; i++)
        discard(&p->pending[i]);
    for (size_t i = 0; i < p->ndirs; i++)
        free(p->dirs[i].path);
    free(p->dirs);
    free(p->pending);
    p->dirs = NULL;
    p->pending = NULL;
    p->ndirs = p->npending = 0;
}
