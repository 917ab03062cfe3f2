/* test_place_local.c - the receiving side against local users and hostile
 * peers.  A local user who can write in a served directory plants
 * temporary files and resume records (as the same uid we simulate "not
 * created by the server" with a second link, a wrong mode, a symlink, a
 * FIFO; as root also with another owner): the victim's upload must be
 * neither readable nor writable by the planter, and a forged record must
 * not be resumed.  A directory other users may rename in is refused.
 * Leftovers are swept after a week and never sent in a tree; special files
 * in a tree are not even opened.  The download policy (keep existing
 * files, modes only on directories the session made, no split) and the
 * bound on a session's directory list are checked on the placer itself. */
#define _GNU_SOURCE
#include "harness.h"
#include "placer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FILE_BYTES (6u << 20)
#define IDLE_MS    1000
#define OTHER_UID  12345 /* a local user other than the server's (only as root) */
#define WEEK_S     (7 * 24 * 3600)

static struct harness h;
static char victim[300], planter[300]; /* same size and mtime, different bytes */
static bool as_root;

static void in_dir(char *out, size_t len, const char *dir, const char *name)
{
    CHECK((size_t)snprintf(out, len, "%s/%s", dir, name) < len);
}

static bool same_content(const char *a, const char *b)
{
    uint8_t ha[32], hb[32];
    CHECK_OK(harness_sha256(a, ha));
    CHECK_OK(harness_sha256(b, hb));
    return memcmp(ha, hb, 32) == 0;
}

static void set_mtime(const char *path, time_t sec)
{
    struct timespec t[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = sec}};
    CHECK_OK(utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW) ? -errno : 0);
}

/* Uploads src as dest through port; the client's result. */
static int put(uint16_t port, const char *src, const char *dest, bool resume, uint64_t *resumed)
{
    struct zc_place_client *c;
    int r = harness_connect(&h, port, &h.client, false, resume, IDLE_MS, &c);
    if (r)
        return r;
    r = zc_place_put_path(c, src, dest);
    if (!r)
        r = zc_place_client_finish(c);
    struct zc_place_stats st;
    zc_place_client_stats(c, &st);
    if (resumed)
        *resumed = st.resumed_bytes;
    zc_place_client_close(c);
    return r;
}

/* The victim's upload is published as the server's own file, whole. */
static void published_as_victim(const char *name)
{
    char dst[600];
    struct stat st;
    in_dir(dst, sizeof(dst), h.root, name);
    CHECK_OK(stat(dst, &st) ? -errno : 0);
    CHECK_EQ(st.st_uid, geteuid());
    CHECK_EQ(st.st_nlink, 1);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK(same_content(victim, dst));
}

/* ---- planted temporary files and records (through the server) ---- */

static void planted_temporary_not_adopted(void)
{
    char planted[600], kept[600], target[600];
    /* A regular file the planter keeps a second name for. */
    in_dir(planted, sizeof(planted), h.root, ".zc-part.victim-a");
    in_dir(kept, sizeof(kept), h.dir, "planter-keeps");
    harness_make_file(planted, 16, 3, 0666);
    CHECK_OK(link(planted, kept) ? -errno : 0);
    if (as_root)
        CHECK_OK(chown(planted, OTHER_UID, OTHER_UID) ? -errno : 0);
    CHECK_OK(put(h.port, victim, "victim-a", false, NULL));
    published_as_victim("victim-a");
    struct stat st;
    CHECK_OK(stat(kept, &st) ? -errno : 0);
    CHECK_EQ(st.st_size, 16); /* the planter's inode holds nothing of the victim's */
    /* A symlink and a FIFO under the temporary name change nothing either. */
    in_dir(planted, sizeof(planted), h.root, ".zc-part.victim-b");
    in_dir(target, sizeof(target), h.dir, "symlink-target");
    harness_make_file(target, 16, 4, 0666);
    CHECK_OK(symlink(target, planted) ? -errno : 0);
    CHECK_OK(put(h.port, victim, "victim-b", false, NULL));
    published_as_victim("victim-b");
    CHECK_OK(stat(target, &st) ? -errno : 0);
    CHECK_EQ(st.st_size, 16);
    in_dir(planted, sizeof(planted), h.root, ".zc-part.victim-c");
    CHECK_OK(mkfifo(planted, 0666) ? -errno : 0);
    CHECK_OK(put(h.port, victim, "victim-c", false, NULL));
    published_as_victim("victim-c");
}

/* The session that wrote name's partial file has let go of it. */
static void wait_released(const char *name)
{
    char prefix[300], entry[300], path[600];
    snprintf(prefix, sizeof(prefix), ".zc-part.%s", name);
    CHECK(harness_find(h.root, prefix, entry, sizeof(entry)));
    in_dir(path, sizeof(path), h.root, entry);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK_OK(flock(fd, LOCK_EX) ? -errno : 0);
    close(fd);
}

/* The planter's bytes under name, cut after three chunks: a resume record
 * and partial file exactly as the planter would forge them (bound to the
 * victim's key, size and mtime). */
static void leave_partial(const char *name)
{
    char rec[600];
    struct relay *r;
    uint16_t port = relay_start(&r, h.port, RELAY_CUT, 3);
    CHECK(put(port, planter, name, false, NULL) < 0);
    CHECK(relay_fired(r));
    relay_stop(r);
    snprintf(rec, sizeof(rec), "%s/.zc-state.%s", h.root, name);
    CHECK(harness_wait_for(rec, 3000));
    wait_released(name);
}

enum forgery { OWNER, RECORD_LINK, RECORD_MODE, RECORD_SYMLINK, RECORD_FIFO, PARTIAL_LINK };

static void forge(const char *name, enum forgery how)
{
    char rec[600], prefix[300], entry[300], part[600], aside[600];
    snprintf(rec, sizeof(rec), "%s/.zc-state.%s", h.root, name);
    snprintf(prefix, sizeof(prefix), ".zc-part.%s", name);
    CHECK(harness_find(h.root, prefix, entry, sizeof(entry)));
    in_dir(part, sizeof(part), h.root, entry);
    snprintf(aside, sizeof(aside), "%s/aside-%s", h.dir, name);
    switch (how) {
    case OWNER:
        CHECK_OK(chown(rec, OTHER_UID, OTHER_UID) || chown(part, OTHER_UID, OTHER_UID) ? -errno
                                                                                       : 0);
        break;
    case RECORD_LINK:
        CHECK_OK(link(rec, aside) ? -errno : 0);
        break;
    case RECORD_MODE:
        CHECK_OK(chmod(rec, 0644) ? -errno : 0);
        break;
    case RECORD_SYMLINK:
        CHECK_OK(rename(rec, aside) || symlink(aside, rec) ? -errno : 0);
        break;
    case RECORD_FIFO:
        CHECK_OK(unlink(rec) || mkfifo(rec, 0600) ? -errno : 0);
        break;
    case PARTIAL_LINK: /* the planter would read what the victim adds */
        CHECK_OK(link(part, aside) ? -errno : 0);
        break;
    }
}

static void forged_record_not_resumed(const char *name, enum forgery how)
{
    leave_partial(name);
    forge(name, how);
    uint64_t resumed = 1;
    CHECK_OK(put(h.port, victim, name, true, &resumed));
    CHECK_EQ(resumed, 0);
    published_as_victim(name);
}

static void forged_records_refused(void)
{
    if (as_root)
        forged_record_not_resumed("forged-owner", OWNER);
    forged_record_not_resumed("forged-reclink", RECORD_LINK);
    forged_record_not_resumed("forged-mode", RECORD_MODE);
    forged_record_not_resumed("forged-symlink", RECORD_SYMLINK);
    forged_record_not_resumed("forged-fifo", RECORD_FIFO);
    forged_record_not_resumed("forged-partlink", PARTIAL_LINK);
}

/* ---- sending a tree (a get) ---- */

static void tree_send_skips_leftovers_and_special_files(void)
{
    char dir[600], path[700], local[600];
    in_dir(dir, sizeof(dir), h.root, "gtree");
    CHECK_OK(mkdir(dir, 0755) ? -errno : 0);
    in_dir(path, sizeof(path), dir, "a");
    harness_make_file(path, 3000, 5, 0644);
    in_dir(path, sizeof(path), dir, ".zc-part.a.0123456789abcdef");
    harness_make_file(path, 10, 6, 0600);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    CHECK(in >= 0);
    in_dir(path, sizeof(path), dir, "fifo");
    CHECK_OK(mkfifo(path, 0644) ? -errno : 0);
    CHECK(inotify_add_watch(in, path, IN_OPEN) >= 0);
    if (as_root) {
        in_dir(path, sizeof(path), dir, "null");
        CHECK_OK(mknod(path, S_IFCHR | 0666, makedev(1, 3)) ? -errno : 0);
        CHECK(inotify_add_watch(in, path, IN_OPEN) >= 0);
    }
    in_dir(local, sizeof(local), h.dir, "got");
    CHECK_OK(mkdir(local, 0755) ? -errno : 0);
    struct zc_place_client *c;
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, false, IDLE_MS, &c));
    int r = zc_place_get(c, "gtree", local);
    if (r)
        fprintf(stderr, "    get: %s (%s)\n", zc_strerror(r), zc_place_client_error(c));
    CHECK_OK(r);
    zc_place_client_close(c);
    in_dir(path, sizeof(path), local, "gtree");
    CHECK_EQ(harness_count(path, ""), 1);
    in_dir(path, sizeof(path), local, "gtree/a");
    CHECK_OK(access(path, F_OK) ? -errno : 0);
    char ev[4096];
    CHECK(read(in, ev, sizeof(ev)) < 0 && errno == EAGAIN); /* nothing special was opened */
    close(in);
}

/* ---- the placer on its own ---- */

static struct zc_pubkey peer;

/* A directory of mode under the scratch directory, open. */
static int make_dir(const char *name, mode_t mode)
{
    char path[600];
    in_dir(path, sizeof(path), h.dir, name);
    CHECK_OK(mkdir(path, 0700) || chmod(path, mode) ? -errno : 0);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0);
    return fd;
}

static struct place_open file_open(const char *path, uint64_t size)
{
    struct place_open o = {.size = size, .mode = 0644, .mtime_sec = 1600000000};
    snprintf(o.path, sizeof(o.path), "%s", path);
    return o;
}

/* Opens and closes an empty file; the result of the session's end. */
static int place_empty(struct place_placer *p, uint32_t id, const char *path)
{
    struct place_open o = file_open(path, 0);
    uint64_t at;
    int r = place_placer_open(p, id, 0, &o, &at);
    if (!r)
        r = place_placer_close(p, id, NULL, NULL);
    return r ? r : place_placer_end(p, NULL, NULL);
}

static void write_text(int dirfd, const char *name, const char *text)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK_OK(zc_write_all(fd, text, strlen(text)));
    close(fd);
}

static bool holds_text(int dirfd, const char *name, const char *text)
{
    char buf[64] = "";
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

static void download_keeps_existing_files(void)
{
    int dl = make_dir("dl", 0755);
    write_text(dl, "exists", "mine");
    struct place_placer p;
    uint64_t at;
    place_placer_init(&p, dl, 0, &peer);
    p.keep_existing = p.own_dirs_only = true;
    struct place_open o = file_open("exists", 4);
    CHECK_EQ(place_placer_open(&p, 1, 0, &o, &at), -EEXIST);
    CHECK(strstr(p.msg, "exists"));
    /* A resume of the same file (same size and mtime) is no replacement. */
    struct timespec t[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = (time_t)o.mtime_sec}};
    CHECK_OK(utimensat(dl, "exists", t, 0) ? -errno : 0);
    CHECK_OK(place_placer_open(&p, 2, PLACE_FLAG_RESUME, &o, &at));
    CHECK_EQ(at, 4);
    CHECK_OK(place_placer_close(&p, 2, NULL, NULL));
    /* No split in a download. */
    o = file_open("split", 4u << 20);
    o.split = true;
    o.parts = 2;
    CHECK_EQ(place_placer_open(&p, 3, PLACE_FLAG_SPLIT, &o, &at), -EPROTO);
    CHECK(strstr(p.msg, "split"));
    /* A file that appears under the name while it arrives is kept too. */
    o = file_open("late", 0);
    CHECK_OK(place_placer_open(&p, 4, 0, &o, &at));
    write_text(dl, "late", "mine");
    CHECK_OK(place_placer_close(&p, 4, NULL, NULL));
    int r = place_placer_end(&p, NULL, NULL);
    CHECK_EQ(r, -EEXIST);
    CHECK(strstr(p.msg, "late"));
    place_placer_abort(&p, r);
    CHECK(holds_text(dl, "exists", "mine"));
    CHECK(holds_text(dl, "late", "mine"));
    char path[600];
    in_dir(path, sizeof(path), h.dir, "dl");
    CHECK_EQ(harness_count(path, ".zc-"), 0);
    close(dl);
}

static void download_modes_only_on_own_directories(void)
{
    int dl = make_dir("dl-dirs", 0755);
    CHECK_OK(mkdirat(dl, "old", 0700) || fchmodat(dl, "old", 0750, 0) ? -errno : 0);
    struct timespec t0[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = 1500000000}};
    CHECK_OK(utimensat(dl, "old", t0, 0) ? -errno : 0);
    struct place_placer p;
    uint64_t at;
    place_placer_init(&p, dl, 0, &peer);
    p.keep_existing = p.own_dirs_only = true;
    struct place_open d = file_open("old", 0);
    d.mode = 0777;
    CHECK_OK(place_placer_open(&p, 0, PLACE_FLAG_DIR, &d, &at));
    d = file_open("new", 0);
    d.mode = 0751;
    CHECK_OK(place_placer_open(&p, 0, PLACE_FLAG_DIR, &d, &at));
    CHECK_OK(place_empty(&p, 1, "new/f"));
    place_placer_destroy(&p);
    struct stat st;
    CHECK_OK(fstatat(dl, "old", &st, 0) ? -errno : 0);
    CHECK_EQ(st.st_mode & 07777, 0750);
    CHECK_EQ(st.st_mtim.tv_sec, 1500000000);
    CHECK_OK(fstatat(dl, "new", &st, 0) ? -errno : 0);
    CHECK_EQ(st.st_mode & 07777, 0751);
    CHECK_EQ(st.st_mtim.tv_sec, 1600000000);
    close(dl);
}

static void writable_directories_refused(void)
{
    int fd = make_dir("shared", 0777);
    struct place_placer p;
    place_placer_init(&p, fd, 0, &peer);
    CHECK_EQ(place_empty(&p, 1, "f"), -EACCES);
    CHECK(strstr(p.msg, "writable"));
    place_placer_abort(&p, -EACCES);
    CHECK_OK(fchmod(fd, 01777) ? -errno : 0); /* sticky: others cannot rename ours */
    place_placer_init(&p, fd, 0, &peer);
    CHECK_OK(place_empty(&p, 1, "f"));
    place_placer_destroy(&p);
    CHECK_OK(mkdirat(fd, "grp", 0700) || fchmodat(fd, "grp", 0770, 0) ? -errno : 0);
    place_placer_init(&p, fd, 0, &peer);
    CHECK_EQ(place_empty(&p, 1, "grp/f"), -EACCES);
    CHECK(strstr(p.msg, "grp"));
    place_placer_abort(&p, -EACCES);
    CHECK(faccessat(fd, "grp/f", F_OK, 0) != 0);
    /* Directories a peer announces never become writable by others. */
    place_placer_init(&p, fd, 0, &peer);
    struct place_open d = file_open("open", 0);
    uint64_t at;
    d.mode = 0777;
    CHECK_OK(place_placer_open(&p, 0, PLACE_FLAG_DIR, &d, &at));
    CHECK_OK(place_empty(&p, 1, "open/f"));
    place_placer_destroy(&p);
    struct stat st;
    CHECK_OK(fstatat(fd, "open", &st, 0) ? -errno : 0);
    CHECK_EQ(st.st_mode & 07777, 0755);
    close(fd);
}

static void leftover(int dirfd, const char *name, time_t age)
{
    write_text(dirfd, name, "left");
    CHECK_OK(fchmodat(dirfd, name, 0600, 0) ? -errno : 0);
    struct timespec t[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = time(NULL) - age}};
    CHECK_OK(utimensat(dirfd, name, t, 0) ? -errno : 0);
}

static void stale_leftovers_swept(void)
{
    int fd = make_dir("stale", 0755);
    leftover(fd, ".zc-part.x.0123456789abcdef", WEEK_S + 3600);
    leftover(fd, ".zc-state.x", WEEK_S + 3600);
    leftover(fd, ".zc-part.y.0123456789abcdef", 3600); /* recent: may still be resumed */
    leftover(fd, ".zc-part.w.0123456789abcdef", WEEK_S + 3600);
    int busy = openat(fd, ".zc-part.w.0123456789abcdef", O_RDONLY | O_CLOEXEC);
    CHECK(busy >= 0 && flock(busy, LOCK_EX) == 0); /* a session still holds it */
    if (as_root) {
        leftover(fd, ".zc-part.z.0123456789abcdef", WEEK_S + 3600);
        CHECK_OK(fchownat(fd, ".zc-part.z.0123456789abcdef", OTHER_UID, OTHER_UID, 0) ? -errno : 0);
    }
    struct place_placer p;
    place_placer_init(&p, fd, 0, &peer);
    CHECK_OK(place_empty(&p, 1, "f"));
    place_placer_destroy(&p);
    CHECK(faccessat(fd, ".zc-part.x.0123456789abcdef", F_OK, 0) != 0);
    CHECK(faccessat(fd, ".zc-state.x", F_OK, 0) != 0);
    CHECK_OK(faccessat(fd, ".zc-part.y.0123456789abcdef", F_OK, 0) ? -errno : 0);
    CHECK_OK(faccessat(fd, ".zc-part.w.0123456789abcdef", F_OK, 0) ? -errno : 0);
    if (as_root) /* not the server's: not its to remove */
        CHECK_OK(faccessat(fd, ".zc-part.z.0123456789abcdef", F_OK, 0) ? -errno : 0);
    close(busy);
    close(fd);
}

static void directory_list_bounded(void)
{
    int fd = make_dir("dirs", 0755);
    struct place_placer p;
    uint64_t at;
    place_placer_init(&p, fd, 0, &peer);
    struct place_open d = file_open("d", 0);
    for (int i = 0; i < 120000; i++) /* the same directory again and again */
        CHECK_OK(place_placer_open(&p, 0, PLACE_FLAG_DIR, &d, &at));
    CHECK_EQ(p.ndirs, 1);
    /* Distinct long paths: refused once they would hold too much. */
    char deep[ZC_PLACE_MAX_PATH + 1] = "";
    for (int i = 0; i < 16; i++) {
        size_t n = strlen(deep);
        memset(deep + n, 'a' + i, 240);
        deep[n + 240] = '/';
        deep[n + 241] = '\0';
    }
    int r = 0, i;
    for (i = 0; i < 20000 && !r; i++) {
        d = file_open("", 0);
        snprintf(d.path, sizeof(d.path), "%sd%d", deep, i);
        r = place_placer_open(&p, 0, PLACE_FLAG_DIR, &d, &at);
    }
    CHECK_EQ(r, -E2BIG);
    CHECK(strstr(p.msg, "directories"));
    CHECK((uint64_t)i * strlen(d.path) <= PLACE_MAX_DIR_BYTES + 2 * sizeof(d.path));
    place_placer_abort(&p, r);
    close(fd);
}

static struct place_open split_open(uint32_t index)
{
    struct place_open o = file_open("big", 4u << 20);
    o.split = true;
    o.parts = 2;
    o.index = index;
    memset(o.transfer, 0x5a, sizeof(o.transfer));
    return o;
}

static void split_temporary_not_joined_when_planted(void)
{
    int fd = make_dir("split", 0755);
    char dir[600], entry[300], path[700], kept[600];
    in_dir(dir, sizeof(dir), h.dir, "split");
    struct place_placer a, b;
    uint64_t at;
    place_placer_init(&a, fd, 0, &peer);
    struct place_open o = split_open(0);
    CHECK_OK(place_placer_open(&a, 1, PLACE_FLAG_SPLIT, &o, &at));
    CHECK(harness_find(dir, ".zc-part.big", entry, sizeof(entry)));
    in_dir(path, sizeof(path), dir, entry);
    in_dir(kept, sizeof(kept), h.dir, "split-kept");
    CHECK_OK(link(path, kept) ? -errno : 0); /* no longer the server's alone */
    place_placer_init(&b, fd, 0, &peer);
    o = split_open(1);
    CHECK_EQ(place_placer_open(&b, 1, PLACE_FLAG_SPLIT, &o, &at), -EACCES);
    place_placer_abort(&b, -EACCES);
    CHECK_OK(unlink(kept) ? -errno : 0);
    place_placer_init(&b, fd, 0, &peer); /* the part joins the transfer's file now */
    CHECK_OK(place_placer_open(&b, 1, PLACE_FLAG_SPLIT, &o, &at));
    CHECK_EQ(at, 0);
    place_placer_abort(&b, -EBADMSG);
    place_placer_abort(&a, -EBADMSG);
    CHECK_EQ(harness_count(dir, ".zc-"), 0);
    close(fd);
}

/* Someone else's file under a temporary name is neither published nor
 * removed by the session that used that name before. */
static void foreign_file_under_temporary_name(void)
{
    int fd = make_dir("swap", 0755);
    char dir[600], entry[300], moved[400];
    in_dir(dir, sizeof(dir), h.dir, "swap");
    struct place_placer p;
    uint64_t at;
    for (int publish = 0; publish < 2; publish++) {
        place_placer_init(&p, fd, 0, &peer);
        struct place_open o = file_open("f", 0);
        CHECK_OK(place_placer_open(&p, 1, 0, &o, &at));
        CHECK(harness_find(dir, ".zc-part.f", entry, sizeof(entry)));
        snprintf(moved, sizeof(moved), "moved-%d", publish);
        CHECK_OK(renameat(fd, entry, fd, moved) ? -errno : 0);
        write_text(fd, entry, "other");
        CHECK_OK(fchmodat(fd, entry, 0600, 0) ? -errno : 0);
        int r = place_placer_close(&p, 1, NULL, NULL);
        if (publish) {
            CHECK_EQ(r ? r : (r = place_placer_end(&p, NULL, NULL)), -ESTALE);
            CHECK(faccessat(fd, "f", F_OK, 0) != 0);
        }
        place_placer_abort(&p, -EBADMSG);
        CHECK(holds_text(fd, entry, "other"));
        CHECK_OK(unlinkat(fd, entry, 0) || unlinkat(fd, moved, 0) ? -errno : 0);
    }
    close(fd);
}

int main(void)
{
    harness_init(&h);
    as_root = geteuid() == 0;
    memcpy(peer.key, h.client.pub, ZC_KEY_BYTES);
    snprintf(victim, sizeof(victim), "%s/victim.bin", h.dir);
    snprintf(planter, sizeof(planter), "%s/planter.bin", h.dir);
    harness_make_file(victim, FILE_BYTES, 1, 0600);
    harness_make_file(planter, FILE_BYTES, 2, 0600);
    set_mtime(victim, 1600000000);
    set_mtime(planter, 1600000000);
    harness_start_server(&h, IDLE_MS, 0);
    RUN(planted_temporary_not_adopted);
    RUN(forged_records_refused);
    RUN(tree_send_skips_leftovers_and_special_files);
    harness_stop_server(&h);
    RUN(download_keeps_existing_files);
    RUN(download_modes_only_on_own_directories);
    RUN(writable_directories_refused);
    RUN(stale_leftovers_swept);
    RUN(directory_list_bounded);
    RUN(split_temporary_not_joined_when_planted);
    RUN(foreign_file_under_temporary_name);
    return 0;
}
