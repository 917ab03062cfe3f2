/* test_place_diskfull.c - a full disk: the server's root is a 24 MiB tmpfs in
 * a private mount namespace (root only; skipped otherwise), one directory
 * in it an 8 MiB one.  A file that does not fit is refused at once with
 * ENOSPC and a message that says so, and nothing is published or left
 * behind; a file that fits still goes through; and a disk that
 * fills up during a transfer ends it with ENOSPC, not a crash, whether
 * its chunks are written by the writer thread or inline. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static struct harness h;

/* Puts src as name; the client's result, and its error text in why (may be NULL). */
static int put_file_why(const char *src, const char *name, char *why, size_t whylen)
{
    struct zc_place_client *c;
    int r = harness_connect(&h, h.port, &h.client, false, false, 5000, &c);
    if (r)
        return r;
    r = zc_place_put_path(c, src, name);
    if (!r)
        r = zc_place_client_finish(c);
    if (r)
        fprintf(stderr, "    %s: %s (%s)\n", name, zc_strerror(r), zc_place_client_error(c));
    if (why)
        snprintf(why, whylen, "%s", zc_place_client_error(c));
    zc_place_client_close(c);
    return r;
}

static int put_file(const char *src, const char *name)
{
    return put_file_why(src, name, NULL, 0);
}

/* A directory beneath the root that is its own 8 MiB tmpfs: a 16 MiB put
 * into it fails with a message that says the disk is full, nothing shows
 * up there, and the server goes on serving (a file that fits follows). */
static void small_disk_below_root(const char *big16, const char *small)
{
    char dir[400], why[512];
    snprintf(dir, sizeof(dir), "%s/eight", h.root);
    CHECK_OK(mkdir(dir, 0755) ? -errno : 0);
    CHECK_OK(mount("tmpfs", dir, "tmpfs", 0, "size=8m") ? -errno : 0);
    CHECK_EQ(put_file_why(big16, "eight/big16", why, sizeof(why)), -ENOSPC);
    CHECK(strstr(why, "No space left on device") != NULL);
    CHECK_EQ(harness_count(dir, ""), 0);
    CHECK_OK(put_file(small, "eight/small"));
    CHECK_EQ(harness_count(dir, ""), 1);
    CHECK_OK(umount2(dir, MNT_DETACH) ? -errno : 0);
    CHECK_OK(rmdir(dir) ? -errno : 0);
}

/* A 20 MiB file whose first chunk lands, then a filler takes the rest of
 * the disk, then the rest of the chunks (chunk bytes each) follow. */
static void late_fill(const char *name, uint32_t chunk_len)
{
    static uint8_t chunk[1u << 20];
    char dst[400];
    struct place_open o = {.size = 20u << 20, .mode = 0644};
    snprintf(o.path, sizeof(o.path), "%s", name);
    uint8_t b[PLACE_OPEN_FIXED + 32];
    int n = place_open_encode(&o, b, sizeof(b));
    struct place_conn c = harness_raw_connect(&h);
    CHECK_OK(place_conn_send(&c, PLACE_OPEN, 0, 1, 0, b, (uint32_t)n));
    CHECK_OK(place_conn_send(&c, PLACE_DATA, 0, 1, 0, chunk, chunk_len));
    usleep(300000); /* the server has written the first chunk */
    snprintf(dst, sizeof(dst), "%s/filler", h.root);
    int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    while (write(fd, chunk, 4096) == 4096)
        ;
    close(fd);
    int r = 0;
    for (uint64_t off = chunk_len; !r && off < o.size; off += chunk_len)
        r = place_conn_send(&c, PLACE_DATA, 0, 1, off, chunk, chunk_len);
    CHECK_EQ(harness_raw_answer(&c), -ENOSPC);
    place_conn_destroy(&c);
    snprintf(dst, sizeof(dst), "%s/%s", h.root, name);
    CHECK(access(dst, F_OK) != 0);
    CHECK_EQ(harness_count(h.root, ".zc-"), 0);
    snprintf(dst, sizeof(dst), "%s/filler", h.root);
    CHECK_OK(unlink(dst));
}

int main(void)
{
    harness_init(&h);
    if (geteuid() != 0 || unshare(CLONE_NEWNS) ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount("tmpfs", h.root, "tmpfs", 0, "size=24m")) {
        fprintf(stderr, "SKIP: needs root to mount a small tmpfs in a private namespace\n");
        return 77;
    }
    char big[300], big16[300], small[300], dst[400];
    snprintf(big, sizeof(big), "%s/big", h.dir);
    snprintf(big16, sizeof(big16), "%s/big16", h.dir);
    snprintf(small, sizeof(small), "%s/small", h.dir);
    harness_make_file(big, 30u << 20, 1, 0644);
    harness_make_file(big16, 16u << 20, 3, 0644);
    harness_make_file(small, 256u << 10, 2, 0644);
    harness_start_server(&h, 5000, 0);

    small_disk_below_root(big16, small);

    CHECK_EQ(put_file(big, "big"), -ENOSPC);
    snprintf(dst, sizeof(dst), "%s/big", h.root);
    CHECK(access(dst, F_OK) != 0);
    CHECK_EQ(harness_count(h.root, ""), 0);

    CHECK_OK(put_file(small, "small"));
    CHECK_EQ(harness_count(h.root, ""), 1);

    /* The disk fills up after OPEN found room: 1 MiB chunks go through
     * the writer thread, 64 KiB ones are written inline; either way the
     * write that finds no room ends the session with ENOSPC (nothing is
     * mapped, so no SIGBUS) and nothing is published or left behind. */
    late_fill("late", 1u << 20);
    late_fill("late-small", 64u << 10);

    harness_stop_server(&h);
    umount2(h.root, MNT_DETACH);
    return 0;
}
