/* window.c - receiving into a mapped file (see window.h). */
#define _GNU_SOURCE
#include "window.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

bool place_window_supported(int fd)
{
    struct statfs fs;
    if (fstatfs(fd, &fs))
        return false;
    return fs.f_type == TMPFS_MAGIC || fs.f_type == EXT4_SUPER_MAGIC ||
           fs.f_type == XFS_SUPER_MAGIC;
}

void place_window_unmap(struct place_window *w)
{
    if (w->map)
        munmap(w->map, PLACE_WINDOW);
    w->map = NULL;
}

/* Maps the window starting at the page that holds off, unless w's holds
 * [off, off + len) already. */
static int window_at(struct place_window *w, int fd, uint64_t off, uint32_t len)
{
    if (w->map && off >= w->base && off + len <= w->base + PLACE_WINDOW)
        return 0;
    place_window_unmap(w);
    uint64_t base = off & ~((uint64_t)sysconf(_SC_PAGESIZE) - 1);
    void *m = mmap(NULL, PLACE_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)base);
    if (m == MAP_FAILED)
        return -errno;
    w->map = m;
    w->base = base;
    return 0;
}

int place_window_map(struct place_window *w, int fd, uint64_t off, uint32_t len, uint8_t **dst)
{
    assert(len && len <= PLACE_WINDOW / 2);
    if (fallocate(fd, 0, (off_t)off, (off_t)len))
        return errno == EOPNOTSUPP ? -EOPNOTSUPP : -errno;
    int r = window_at(w, fd, off, len);
    if (r)
        return r;
    uint8_t *first = w->map + (off - w->base);
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)first & ~(page - 1);
    uintptr_t end = ((uintptr_t)first + len + page - 1) & ~(page - 1);
    /* Fault every page of the chunk in now, in one call: an error here
     * (EINVAL: a kernel before 5.14) is a clean failure, a fault in the
     * middle of a decryption would be a signal. */
    if (madvise((void *)start, end - start, MADV_POPULATE_WRITE)) {
        r = errno == EINVAL ? -EOPNOTSUPP : -errno;
        place_window_unmap(w);
        return r;
    }
    *dst = first;
    return 0;
}
