/* placer.c - the receiving side of a transfer: direct placement under a root.
 *
 * Each announced file becomes a hidden temporary file of this session's
 * own next to its final name, sized at OPEN, which also checks that the
 * filesystem has room for it (a full disk is a clean error there, and a
 * write that still finds none is one later: nothing is mapped, so never a
 * SIGBUS).  Each DATA payload is received a piece at a time into a buffer
 * that stays in cache, verified (and decrypted) there, and written at the
 * offset its header names, for a whole file by a writer thread (writer.c),
 * so that the kernel's work of placing the bytes (allocating and filling
 * page-cache pages) overlaps with receiving the next piece.  (Receiving
 * into a mapping of the file instead saves that copy but costs more on
 * tmpfs: every new page must then be zeroed, faulted in and unmapped again
 * a 4 KiB page at a time; measured, the receiver spent 40-50 % more CPU.)
 * The file's verified prefix moves past a chunk only when its tag holds.
 * Offsets must arrive in order, so a chunk can only ever land on bytes that
 * do not count yet: a forged header can waste its own space, never alter
 * verified data.
 *
 * Publication is grouped: verified files queue up, then one fsync (or
 * syncfs for a group), the renames, and one more sync make the group
 * durable under its final names.  Until then nothing is visible.
 *
 * Paths come from the peer: they are checked lexically (wire.c) and every
 * directory is opened with openat2(RESOLVE_BENEATH), so neither ".." nor a
 * symlink can lead outside the root.
 *
 * Rival sessions and local users.  Names beginning ".zc-" are ours (no
 * peer may send one), but anybody who can write in a directory can create
 * them, and other sessions of the same name run beside us.  So:
 *   - a session's temporary file is ".zc-part.NAME.<64 random bits>",
 *     created O_EXCL (never an existing file), mode 0600, locked;
 *   - a split file, written by several sessions at once, is one file named
 *     by HKDF(peer key | transfer id, NAME): no other client, transfer or
 *     plain upload meets it.  The first part makes it whole (sized, its
 *     part record behind the data) under a private name and renames it in
 *     with RENAME_NOREPLACE; the others join it;
 *   - before any rename or unlink, the name must still name the inode we
 *     wrote (dev and inode, and for a publication one link): a file put
 *     under our temporary name is neither published nor removed;
 *   - a broken connection leaves ".zc-state.NAME", written whole under a
 *     new name and renamed over the old: bound to the peer's key, the
 *     file's size and mtime, and the partial file's name.  A record or
 *     partial is believed, even opened, only when it is a regular file of
 *     the server's user, mode 0600, with one link (so no FIFO, device,
 *     symlink, nor a file someone else made or keeps a link to);
 *   - files are placed only in directories nobody else may rename in: one
 *     writable by group or others must be sticky (else EACCES), and the
 *     modes a peer asks for never make a directory so;
 *   - leftovers of ours (temporary files and records) unmodified for a
 *     week and held by no session are removed when a session first places
 *     a file in their directory.
 */
#define _GNU_SOURCE
#include "placer.h"
#include "writer.h"

#include "zc/base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PLACE_GROUP_FILES   256             /* publish the queue at this many files ... */
#define PLACE_GROUP_BYTES   (64u << 20)     /* ... or this many bytes */
#define PLACE_STALE_SECONDS (7 * 24 * 3600) /* leftovers unmodified this long are swept */
#define STATE_BYTES         80
static const uint8_t state_magic[8] = {'z', 'c', 'p', 'l', 'a', 'c', 'e', 2};

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
 * what is missing when create; "" is the root itself.  *created (may be
 * NULL) says whether its last component was made by this call. */
static int dir_open(struct place_placer *p, const char *path, bool create, bool *created)
{
    if (created)
        *created = false;
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
        bool made = mkdirat(cur, comp, 0755) == 0;
        if (!made && errno != EEXIST) {
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
        if (created)
            *created = made;
    }
    return cur;
}

/* ---- files of our own: temporary names, and what we check before we
 * trust, rename or remove one ---- */

/* A file this process's user made for itself: regular, its own, mode
 * 0600, one link (nobody else holds another name for it). */
static bool is_ours(const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_uid == geteuid() && st->st_nlink == 1 &&
           (st->st_mode & 07777) == 0600;
}

/* The link count of the inode (dev, ino) when name in dirfd still names
 * it; 0 when it names something else or nothing. */
static nlink_t links_of(int dirfd, const char *name, dev_t dev, ino_t ino)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) || st.st_dev != dev || st.st_ino != ino)
        return 0;
    return st.st_nlink;
}

/* Removes name only while it still names the inode (dev, ino). */
static void unlink_ours(int dirfd, const char *name, dev_t dev, ino_t ino)
{
    if (links_of(dirfd, name, dev, ino))
        unlinkat(dirfd, name, 0);
}

/* Opens name in dirfd only when it is ours (is_ours): a symlink, FIFO,
 * device or someone else's file is never opened.  The fd with *st set,
 * -ENOENT, -EACCES (not ours) or -errno.  In a directory others may not
 * rename in (dir_check), a name found ours stays ours until we open it. */
static int open_ours(int dirfd, const char *name, int flags, struct stat *st)
{
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW))
        return -errno;
    if (!is_ours(st))
        return -EACCES;
    int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat now;
    if (fstat(fd, &now) || now.st_dev != st->st_dev || now.st_ino != st->st_ino || !is_ours(&now)) {
        close(fd);
        return -EACCES;
    }
    *st = now;
    return fd;
}

/* ".zc-KIND.NAME.<16 hex digits of id>", NAME cut to fit NAME_MAX. */
static void temp_name(char out[NAME_MAX + 1], const char *kind, const char *name, uint64_t id)
{
    int room = NAME_MAX - 22 - (int)strlen(kind); /* ".zc-" kind "." name "." 16 hex */
    snprintf(out, NAME_MAX + 1, ".zc-%s.%.*s.%016" PRIx64, kind, room, name, id);
}

/* Creates a new file .zc-KIND.NAME.<random> in dirfd, mode 0600, with
 * O_EXCL: never one that exists.  The fd with its name in out, its id and
 * its inode in *st; or -errno. */
static int create_excl(int dirfd, const char *kind, const char *name, char out[NAME_MAX + 1],
                       uint64_t *id, struct stat *st)
{
    for (int tries = 0; tries < 16; tries++) {
        if (getrandom(id, sizeof(*id), 0) != sizeof(*id))
            return -EAGAIN;
        temp_name(out, kind, name, *id);
        int fd = openat(dirfd, out, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return -errno;
        if (fstat(fd, st)) {
            int r = -errno;
            close(fd);
            return r;
        }
        return fd;
    }
    return -EAGAIN;
}

/* Files are placed only where no other user may rename, replace or plant
 * names: a directory writable by its group or others must be sticky. */
static int dir_check(struct place_placer *p, int dirfd, const char *dir, struct stat *st)
{
    if (fstat(dirfd, st))
        return fail(p, -errno, "directory \"%s\"", *dir ? dir : ".");
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
        return fail(p, -EACCES, "directory \"%s\" is writable by other users and not sticky",
                    *dir ? dir : ".");
    return 0;
}

/* Removes a leftover: ours, unmodified since before, held by no session. */
static void expire(int dirfd, const char *name, time_t before)
{
    struct stat st;
    int fd = open_ours(dirfd, name, O_RDONLY, &st);
    if (fd < 0)
        return;
    if (st.st_mtime < before && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        links_of(dirfd, name, st.st_dev, st.st_ino) == 1)
        unlinkat(dirfd, name, 0);
    close(fd);
}

/* The first time the session places into a directory (up to
 * PLACE_SWEEP_DIRS of them), it removes the stale leftovers there. */
static void sweep_once(struct place_placer *p, int dirfd, const struct stat *dir)
{
    for (size_t i = 0; i < p->nswept; i++)
        if (p->swept[i].dev == dir->st_dev && p->swept[i].ino == dir->st_ino)
            return;
    if (p->nswept == PLACE_SWEEP_DIRS)
        return;
    p->swept[p->nswept++] = (struct place_dir_id){dir->st_dev, dir->st_ino};
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    time_t before = time(NULL) - PLACE_STALE_SECONDS;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, ".zc-", 4) == 0)
            expire(dirfd, e->d_name, before);
    closedir(d);
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

/* ".zc-state.NAME": the resume record of the file NAME. */
static void record_name(const struct place_file *f, char out[NAME_MAX + 1])
{
    snprintf(out, NAME_MAX + 1, ".zc-state.%s", f->name);
}

/* The record f continued is spent: removed, if it is still that record. */
static void drop_record(struct place_file *f)
{
    char rec[NAME_MAX + 1];
    if (!f->rec_ino)
        return;
    record_name(f, rec);
    unlink_ours(f->dirfd, rec, f->rec_dev, f->rec_ino);
    f->rec_ino = 0;
}

/* Removes what this session wrote and did not publish: only names that
 * still name its own inodes. */
static void discard(struct place_file *f)
{
    if (f->fd >= 0) {
        if (f->tmp[0])
            unlink_ours(f->dirfd, f->tmp, f->dev, f->ino);
        drop_record(f);
    }
    release(f);
}

/* Renames f's temporary file to its final name once the temporary name
 * still names the inode written and nothing else links to it; an
 * existing file there is replaced only when f->replace. */
static int publish(struct place_placer *p, struct place_file *f)
{
    if (links_of(f->dirfd, f->tmp, f->dev, f->ino) != 1)
        return fail(p, -ESTALE, "the temporary file of %s was replaced or linked", f->name);
    int r = f->replace ? renameat(f->dirfd, f->tmp, f->dirfd, f->name)
                       : renameat2(f->dirfd, f->tmp, f->dirfd, f->name, RENAME_NOREPLACE);
    if (r && errno == EEXIST)
        return fail(p, -EEXIST, "%s already exists and is kept", f->name);
    if (r)
        return fail(p, -errno, "cannot rename %s into place", f->name);
    f->tmp[0] = '\0';
    drop_record(f);
    return 0;
}

static void state_encode(const struct place_file *f, const struct zc_pubkey *peer, uint64_t part,
                         uint8_t *b)
{
    memcpy(b, state_magic, 8);
    zc_put_le64(b + 8, f->size);
    zc_put_le64(b + 16, (uint64_t)f->times[1].tv_sec);
    zc_put_le32(b + 24, (uint32_t)f->times[1].tv_nsec);
    zc_put_le32(b + 28, f->mode);
    zc_put_le64(b + 32, f->next);
    memcpy(b + 40, peer->key, ZC_KEY_BYTES);
    zc_put_le64(b + 72, part);
}

/* Makes the verified prefix durable and records it for --resume: the
 * record is written whole under a new name of its own, then renamed over
 * the name ".zc-state.NAME" (an existing name is never written into). */
static void save_state(struct place_file *f, const struct zc_pubkey *peer)
{
    uint8_t b[STATE_BYTES];
    char tmp[NAME_MAX + 1], rec[NAME_MAX + 1];
    uint64_t id;
    struct stat st;
    if (fdatasync(f->fd))
        return;
    state_encode(f, peer, f->part, b);
    int fd = create_excl(f->dirfd, "new", f->name, tmp, &id, &st);
    if (fd < 0)
        return;
    record_name(f, rec);
    if (zc_write_all(fd, b, sizeof(b)) || fsync(fd) ||
        links_of(f->dirfd, tmp, st.st_dev, st.st_ino) != 1 ||
        renameat(f->dirfd, tmp, f->dirfd, rec))
        unlink_ours(f->dirfd, tmp, st.st_dev, st.st_ino);
    close(fd);
}

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

/* Resumes f from its state record when the record and the partial file it
 * names are ours (open_ours) and match f; true then.  The partial is
 * locked, and must still stand under its name once it is. */
static bool try_resume(struct place_placer *p, struct place_file *f)
{
    uint8_t b[STATE_BYTES], want[STATE_BYTES];
    char rec[NAME_MAX + 1];
    struct stat rst, st;
    record_name(f, rec);
    int sfd = open_ours(f->dirfd, rec, O_RDONLY, &rst);
    if (sfd < 0)
        return false;
    int r = rst.st_size == STATE_BYTES ? zc_read_all(sfd, b, sizeof(b)) : -EPROTO;
    close(sfd);
    if (r)
        return false;
    uint64_t verified = zc_get_le64(b + 32), id = zc_get_le64(b + 72);
    f->next = verified;
    state_encode(f, &p->peer, id, want);
    f->next = 0;
    if (memcmp(b, want, sizeof(b)) != 0 || verified > f->size)
        return false;
    temp_name(f->tmp, "part", f->name, id);
    int fd = open_ours(f->dirfd, f->tmp, O_RDWR, &st);
    if (fd >= 0 && ((uint64_t)st.st_size != f->size || lock_briefly(fd) ||
                    links_of(f->dirfd, f->tmp, st.st_dev, st.st_ino) != 1)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        f->tmp[0] = '\0';
        return false;
    }
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->rec_dev = rst.st_dev;
    f->rec_ino = rst.st_ino;
    f->part = id;
    f->next = verified;
    f->replace = true; /* the same file, continued */
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

/* Sizes the temporary file to bytes and checks there is room for what it
 * does not hold yet; the blocks are allocated as the data arrives. */
static int reserve(struct place_placer *p, struct place_file *f, uint64_t bytes)
{
    struct stat st;
    struct statvfs vfs;
    if (fstat(f->fd, &st) || fstatvfs(f->fd, &vfs))
        return fail(p, -errno, "%s", f->name);
    uint64_t held = (uint64_t)st.st_blocks * 512;
    uint64_t need = bytes > held ? bytes - held : 0;
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize < need)
        return fail(p, -ENOSPC, "no room for %s", f->name);
    return ftruncate(f->fd, (off_t)bytes) ? fail(p, -errno, "%s", f->name) : 0;
}

/* A file of its own for this session: a new random name, locked (so a
 * resume never adopts it while it is written). */
static int create_part(struct place_placer *p, struct place_file *f)
{
    struct stat st;
    int fd = create_excl(f->dirfd, "part", f->name, f->tmp, &f->part, &st);
    if (fd < 0) {
        f->tmp[0] = '\0';
        return fail(p, fd, "cannot create the temporary file of %s", f->name);
    }
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (flock(fd, LOCK_EX | LOCK_NB))
        return fail(p, -errno, "cannot lock %s", f->name);
    return reserve(p, f, f->size);
}

/* A split file: each part arrives over its own session (process).  The
 * parts share one temporary file whose name is derived from the peer's
 * key, the transfer id and the name, so no other client, transfer or
 * plain upload ever meets it.  Behind the file's size it carries the
 * record {magic, transfer id, size, parts, peer key, done bitmap}, read
 * and written under the file's lock.  The first part makes the file whole
 * under a private name and renames it into the shared name unless another
 * part got there first; the part that completes the bitmap cuts the record
 * off and publishes the file. */
#define SPLIT_BYTES 72
static const uint8_t split_magic[8] = {'z', 'c', 's', 'p', 'l', 'i', 't', 2};

static void split_encode(const struct place_placer *p, const struct place_file *f, uint32_t done,
                         uint8_t b[SPLIT_BYTES])
{
    memcpy(b, split_magic, 8);
    memcpy(b + 8, f->transfer, 16);
    zc_put_le64(b + 24, f->size);
    zc_put_le32(b + 32, f->parts);
    memcpy(b + 36, p->peer.key, ZC_KEY_BYTES);
    zc_put_le32(b + 68, done);
}

/* The shared name: ".zc-part.NAME.<HKDF(peer key | transfer id, NAME)>". */
static int split_name(const struct place_placer *p, struct place_file *f)
{
    uint8_t ikm[ZC_KEY_BYTES + sizeof(f->transfer)], out[8];
    memcpy(ikm, p->peer.key, ZC_KEY_BYTES);
    memcpy(ikm + ZC_KEY_BYTES, f->transfer, sizeof(f->transfer));
    int r = zc_hkdf(NULL, 0, ikm, sizeof(ikm), f->name, strlen(f->name), out, sizeof(out));
    if (!r)
        temp_name(f->tmp, "part", f->name, zc_get_le64(out));
    return r;
}

/* The done bitmap from the record (the lock held), or -EPROTO when the
 * shared file no longer stands under its name (published, or removed by
 * a failed part) or is another transfer's. */
static int split_read(const struct place_placer *p, struct place_file *f, uint32_t *done)
{
    uint8_t b[SPLIT_BYTES], want[SPLIT_BYTES];
    if (links_of(f->dirfd, f->tmp, f->dev, f->ino) != 1 ||
        zc_pread_all(f->fd, b, sizeof(b), f->size))
        return -EPROTO;
    split_encode(p, f, 0, want);
    if (memcmp(b, want, SPLIT_BYTES - 4))
        return -EPROTO;
    *done = zc_get_le32(b + SPLIT_BYTES - 4);
    return 0;
}

/* A later part: opens the shared file when it is ours, checks its record.
 * -ENOENT when there is none yet. */
static int join_split(struct place_placer *p, struct place_file *f)
{
    struct stat st;
    uint32_t done;
    int fd = open_ours(f->dirfd, f->tmp, O_RDWR, &st);
    if (fd == -ENOENT)
        return fd;
    if (fd < 0)
        return fail(p, fd, "the temporary file of %s is not the server's own", f->name);
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    int r = lock_briefly(fd);
    if (r)
        return fail(p, r, "cannot lock %s", f->name);
    if (split_read(p, f, &done))
        r = fail(p, -EPROTO, "the split transfer of %s is over", f->name);
    else if (done & (1u << f->index))
        r = fail(p, -EPROTO, "part %u of %s sent twice", f->index, f->name);
    flock(fd, LOCK_UN);
    return r;
}

/* The first part: makes the shared file whole under a private name, then
 * renames it to the shared name; -EEXIST when another part was first. */
static int create_split(struct place_placer *p, struct place_file *f)
{
    char own[NAME_MAX + 1];
    uint8_t b[SPLIT_BYTES];
    uint64_t id;
    struct stat st;
    int fd = create_excl(f->dirfd, "part", f->name, own, &id, &st);
    if (fd < 0)
        return fail(p, fd, "cannot create the temporary file of %s", f->name);
    f->fd = fd;
    split_encode(p, f, 0, b);
    int r = reserve(p, f, f->size + SPLIT_BYTES);
    if (!r && (r = zc_pwrite_all(fd, b, sizeof(b), f->size)))
        r = fail(p, r, "cannot record the parts of %s", f->name);
    if (!r && links_of(f->dirfd, own, st.st_dev, st.st_ino) != 1)
        r = fail(p, -ESTALE, "the temporary file of %s was replaced or linked", f->name);
    else if (!r && renameat2(f->dirfd, own, f->dirfd, f->tmp, RENAME_NOREPLACE))
        r = errno == EEXIST ? -EEXIST : fail(p, -errno, "cannot share the file of %s", f->name);
    if (r) {
        unlink_ours(f->dirfd, own, st.st_dev, st.st_ino);
        close(fd);
        f->fd = -1;
        return r;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    return 0;
}

static int open_split(struct place_placer *p, struct place_file *f)
{
    int r = split_name(p, f);
    if (r)
        return fail(p, r, "%s", f->name);
    r = join_split(p, f);
    if (r == -ENOENT && (r = create_split(p, f)) == -EEXIST)
        r = join_split(p, f);
    if (r == -ENOENT)
        r = fail(p, -EPROTO, "the split transfer of %s is over", f->name);
    place_split_range(f->size, f->parts, f->index, &f->next, &f->end);
    return r;
}

/* All parts are in: the record comes off, and the file is published. */
static int finish_split(struct place_placer *p, struct place_file *f)
{
    if (ftruncate(f->fd, (off_t)f->size) || futimens(f->fd, f->times) || fchmod(f->fd, f->mode) ||
        fsync(f->fd))
        return fail(p, -errno, "cannot publish %s", f->name);
    int r = publish(p, f);
    if (!r && fsync(f->dirfd))
        r = fail(p, -errno, "cannot sync the directory of %s", f->name);
    return r;
}

/* The part is verified and durable: mark it, and publish when it was the last. */
static int close_split(struct place_placer *p, struct place_file *f, bool *published)
{
    uint8_t b[4];
    uint32_t done, all = (uint32_t)((1ull << f->parts) - 1), mine = 1u << f->index;
    *published = false;
    if (fdatasync(f->fd))
        return fail(p, -errno, "cannot sync %s", f->name);
    int r = lock_briefly(f->fd);
    if (r)
        return fail(p, r, "cannot lock %s", f->name);
    if (split_read(p, f, &done)) {
        r = fail(p, -EPROTO, "the split transfer of %s was abandoned", f->name);
    } else if ((done | mine) != all) {
        zc_put_le32(b, done | mine);
        if ((r = zc_pwrite_all(f->fd, b, sizeof(b), f->size + SPLIT_BYTES - 4)))
            r = fail(p, r, "cannot record the parts of %s", f->name);
    } else {
        r = finish_split(p, f);
        *published = !r;
    }
    flock(f->fd, LOCK_UN);
    return r;
}

/* Finds path in the session's directory list: its slot in the index. */
static size_t dir_slot(const struct place_placer *p, const char *path)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const char *c = path; *c; c++)
        hash = (hash ^ (uint8_t)*c) * 16777619u;
    size_t mask = p->index_cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask)
        if (!p->dir_index[i] || !strcmp(p->dirs[p->dir_index[i] - 1].path, path))
            return i;
}

/* Doubles the list and rebuilds its index (kept at most half full). */
static int grow_dirs(struct place_placer *p)
{
    size_t cap = p->dircap ? 2 * p->dircap : 16;
    struct place_dir_time *d = realloc(p->dirs, cap * sizeof(*d));
    if (!d)
        return -ENOMEM;
    p->dirs = d;
    p->dircap = cap;
    uint32_t *index = calloc(2 * cap, sizeof(*index));
    if (!index)
        return -ENOMEM;
    free(p->dir_index);
    p->dir_index = index;
    p->index_cap = 2 * cap;
    for (size_t i = 0; i < p->ndirs; i++)
        p->dir_index[dir_slot(p, p->dirs[i].path)] = (uint32_t)i + 1;
    return 0;
}

/* Remembers a directory's mtime for the end of the session: once per
 * path, and no more than PLACE_MAX_DIR_BYTES in all (-E2BIG past it). */
static int remember_dir(struct place_placer *p, const struct place_open *o)
{
    struct timespec mtime = {.tv_sec = (time_t)o->mtime_sec, .tv_nsec = o->mtime_nsec};
    if (p->index_cap) {
        size_t slot = dir_slot(p, o->path);
        if (p->dir_index[slot]) {
            p->dirs[p->dir_index[slot] - 1].mtime = mtime;
            return 0;
        }
    }
    size_t len = strlen(o->path) + 1;
    size_t cost = len + sizeof(struct place_dir_time) + 2 * sizeof(*p->dir_index);
    if (p->dir_bytes + cost > PLACE_MAX_DIR_BYTES)
        return fail(p, -E2BIG, "more directories than a session may hold (%u MiB of paths)",
                    PLACE_MAX_DIR_BYTES >> 20);
    int r = p->ndirs == p->dircap ? grow_dirs(p) : 0;
    char *path = r ? NULL : malloc(len);
    if (!path)
        return -ENOMEM;
    memcpy(path, o->path, len);
    p->dirs[p->ndirs++] = (struct place_dir_time){path, mtime};
    p->dir_index[dir_slot(p, path)] = (uint32_t)p->ndirs;
    p->dir_bytes += cost;
    return 0;
}

/* A directory: created where missing, given the peer's mode without write
 * bits for group and others (see dir_check), its mtime set at the end.
 * With own_dirs_only, one that existed before keeps its mode and mtime. */
static int open_dir_entry(struct place_placer *p, const struct place_open *o)
{
    bool created;
    int fd = dir_open(p, o->path, true, &created);
    if (fd < 0)
        return fail(p, fd, "cannot create directory %s", o->path);
    bool ours = created || !p->own_dirs_only;
    int r = ours && fchmod(fd, (o->mode & 0755) | 0700) ? -errno : 0; /* we must still write */
    close(fd);
    if (r)
        return fail(p, r, "%s", o->path);
    return ours ? remember_dir(p, o) : 0;
}

/* Opens the directory of the file path for f and checks it is one to
 * place files in. */
static int file_dir(struct place_placer *p, struct place_file *f, const char *dir, const char *path)
{
    struct stat st;
    f->dirfd = dir_open(p, dir, true, NULL);
    if (f->dirfd < 0)
        return fail(p, f->dirfd, "cannot open the directory of %s", path);
    int r = dir_check(p, f->dirfd, dir, &st);
    if (!r)
        sweep_once(p, f->dirfd, &st);
    return r;
}

/* Fills the free slot f from the OPEN; its name is the path's last component. */
static void file_init(const struct place_placer *p, struct place_file *f, uint32_t id,
                      uint8_t flags, const struct place_open *o, const char *base)
{
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
    f->replace = !p->keep_existing;
    f->times[0].tv_nsec = UTIME_OMIT;
    f->times[1] = (struct timespec){.tv_sec = (time_t)o->mtime_sec, .tv_nsec = o->mtime_nsec};
}

/* Whether another file of this session is the same part of f's transfer. */
static bool part_open_twice(const struct place_placer *p, const struct place_file *f)
{
    for (size_t i = 0; i < PLACE_MAX_OPEN; i++) {
        const struct place_file *g = &p->files[i];
        if (g != f && g->used && g->split && g->index == f->index &&
            !memcmp(g->transfer, f->transfer, sizeof(f->transfer)))
            return true;
    }
    return false;
}

/* With RESUME: continues f from its record, or finds it already in place. */
static bool resume(struct place_placer *p, struct place_file *f, uint64_t *resume_at)
{
    if (try_resume(p, f)) {
        *resume_at = f->next;
    } else if (already_there(f)) {
        f->complete_already = true;
        f->next = *resume_at = f->size;
    } else {
        return false;
    }
    p->st.resumed_bytes += f->next;
    return true;
}

int place_placer_open(struct place_placer *p, uint32_t id, uint8_t flags,
                      const struct place_open *o, uint64_t *resume_at)
{
    *resume_at = 0;
    p->msg[0] = '\0';
    if (!(flags & PLACE_FLAG_SPLIT) != !o->split ||
        (o->split && (flags & (PLACE_FLAG_DIR | PLACE_FLAG_RESUME))))
        return fail(p, -EPROTO, "OPEN of %s with contradicting flags", o->path);
    if (o->split && p->keep_existing)
        return fail(p, -EPROTO, "split in a download (%s)", o->path);
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
    file_init(p, f, id, flags, o, slash ? slash + 1 : o->path);
    int r = file_dir(p, f, dir, o->path);
    struct stat st;
    bool exists = !r && !fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW);
    if (exists && S_ISDIR(st.st_mode))
        r = fail(p, -EISDIR, "%s", o->path);
    else if (!r && f->split && part_open_twice(p, f))
        r = fail(p, -EPROTO, "part %u of %s opened twice", f->index, f->name);
    else if (!r && !f->split && (flags & PLACE_FLAG_RESUME) && resume(p, f, resume_at))
        return 0;
    else if (!r && exists && p->keep_existing)
        r = fail(p, -EEXIST, "%s already exists and is kept", o->path);
    if (r) {
        release(f);
        return r;
    }
    if ((r = f->split ? open_split(p, f) : create_part(p, f)))
        discard(f);
    return r;
}

/* Pieces of large chunks of a whole file go to the writer thread.  Small
 * ones are written inline (handing a 4 KiB file over would cost more than
 * writing it), and so are a split file's: its parts arrive over several
 * sessions at once, which keep the cores busy already, and handing pieces
 * to another thread there only adds work (measured on 2 cores, 1 GiB over
 * 2 streams into tmpfs: 10-15 % less receiver CPU written inline; over one
 * stream the thread still saves some). */
static struct place_writer *writer_for(struct place_placer *p, const struct place_file *f,
                                       uint32_t len)
{
    if (len < 2 * PLACE_PIECE || f->split || p->no_writer)
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
    int r = place_conn_recv_payload_at(c, writer_for(p, f, h.length), f->fd, h.offset);
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
        if ((r = publish(p, f)))
            break;
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
        int fd = dir_open(p, p->dirs[i].path, false, NULL);
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
    free(p->dir_index);
    free(p->pending);
    p->dirs = NULL;
    p->dir_index = NULL;
    p->pending = NULL;
    p->ndirs = p->npending = p->index_cap = p->dir_bytes = 0;
}
