/* test_place_diskfull.c - a full disk: the server's root is a 2 MiB tmpfs in
 * a private mount namespace (root only; skipped otherwise).  A file that
 * does not fit is refused at once with ENOSPC, and nothing is published
 * or left behind; a file that fits still goes through. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

static struct harness h;

static int put_file(const char *src, const char *name)
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
    zc_place_client_close(c);
    return r;
}

int main(void)
{
    harness_init(&h);
    if (geteuid() != 0 || unshare(CLONE_NEWNS) ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount("tmpfs", h.root, "tmpfs", 0, "size=2m")) {
        fprintf(stderr, "SKIP: needs root to mount a small tmpfs in a private namespace\n");
        return 77;
    }
    char big[300], small[300], dst[400];
    snprintf(big, sizeof(big), "%s/big", h.dir);
    snprintf(small, sizeof(small), "%s/small", h.dir);
    harness_make_file(big, 3u << 20, 1, 0644);
    harness_make_file(small, 256u << 10, 2, 0644);
    harness_start_server(&h, 5000, 0);

    CHECK_EQ(put_file(big, "big"), -ENOSPC);
    snprintf(dst, sizeof(dst), "%s/big", h.root);
    CHECK(access(dst, F_OK) != 0);
    CHECK_EQ(harness_count(h.root, ""), 0);

    CHECK_OK(put_file(small, "small"));
    CHECK_EQ(harness_count(h.root, ""), 1);

    harness_stop_server(&h);
    umount2(h.root, MNT_DETACH);
    return 0;
}
