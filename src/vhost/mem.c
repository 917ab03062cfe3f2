/* mem.c - the front end's memory table (VHOST_USER_SET_MEM_TABLE).
 *
 * Each region arrives as (guest_phys_addr, memory_size, userspace_addr,
 * mmap_offset) with a file descriptor.  Its bytes are the file's
 * [mmap_offset, mmap_offset + memory_size); we map the file from offset 0
 * (mmap_offset need not be page-aligned) and keep base = map + mmap_offset.
 * Every sum is checked for overflow and the file must really be that long:
 * touching a mapping beyond the end of its file is a SIGBUS.  Where the
 * front end allowed sealing we also seal the file against shrinking, so it
 * cannot cut the memory from under us later; DPDK and QEMU hand over
 * unsealed memfds and hugetlbfs files, which we accept (VHOST.md says what
 * that leaves open).
 */
#define _GNU_SOURCE
#include "vhost_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks one region's numbers and its file; 0 or -EINVAL. */
static int check_region(const uint64_t d[4], int fd)
{
    uint64_t gpa = d[0], size = d[1], ua = d[2], off = d[3];
    if (size == 0 || gpa + size < gpa || ua + size < ua || off + size < off ||
        off + size > (uint64_t)SIZE_MAX / 2)
        return -EINVAL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < off + size)
        return -EINVAL;
    return 0;
}

static int map_region(struct mem_region *m, const uint64_t d[4], int fd)
{
    int err = check_region(d, fd);
    if (err)
        return err;
    /* Best effort: a front end that allowed sealing can no longer shrink it. */
    (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
    size_t len = (size_t)(d[3] + d[1]);
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return -errno;
    *m = (struct mem_region){.guest_addr = d[0],
                             .user_addr = d[2],
                             .size = d[1],
                             .base = (uint8_t *)map + d[3],
                             .map = map,
                             .map_len = len};
    return 0;
}

void vhost_mem_clear(struct zc_vhost *v)
{
    for (unsigned i = 0; i < v->nregions; i++)
        munmap(v->region[i].map, v->region[i].map_len);
    v->nregions = 0;
}

int vhost_mem_set(struct zc_vhost *v, const uint64_t (*desc)[4], const int *fds, unsigned n)
{
    vhost_mem_clear(v);
    int err = n == 0 || n > ZC_RING_MAX_REGIONS ? -EINVAL : 0;
    for (unsigned i = 0; i < n; i++) {
        if (!err)
            err = map_region(&v->region[i], desc[i], fds[i]);
        if (!err)
            v->nregions = i + 1;
        close(fds[i]); /* the mapping holds the memory */
    }
    if (err)
        vhost_mem_clear(v);
    return err;
}

void *vhost_mem_user_ptr(const struct zc_vhost *v, uint64_t user_addr, uint64_t len)
{
    for (unsigned i = 0; i < v->nregions; i++) {
        const struct mem_region *m = &v->region[i];
        uint64_t off = user_addr - m->user_addr;
        if (user_addr >= m->user_addr && off <= m->size && len <= m->size - off)
            return m->base + off;
    }
    return NULL;
}
