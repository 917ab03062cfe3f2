/* window.h - a file being received, mapped a window at a time.
 *
 * Placing a received chunk with pwrite() copies it once more (socket ->
 * piece buffer -> page cache).  With the destination mapped, decryption
 * writes the file's pages directly, and an integrity-only payload is
 * received into them and verified there: one copy fewer.
 *
 * A store through a mapping that finds no room raises SIGBUS instead of
 * returning an error.  So a chunk's range is reserved with fallocate()
 * first (a full disk is a clean -ENOSPC there), files are mapped only on
 * filesystems whose faults on reserved blocks allocate nothing (tmpfs,
 * ext4, xfs; not copy-on-write or network ones), and the chunk's pages are
 * faulted in before any byte is written with MADV_POPULATE_WRITE, which
 * returns an error where a plain fault would raise the signal.  Only
 * files of the session's own (its temporary file) are mapped, and never
 * truncated below a mapped range while they are.
 *
 *   file:   |....verified....|== chunk ==|..............|
 *   window: ^base (page-aligned)                 base + PLACE_WINDOW^
 */
#ifndef ZC_PLACE_WINDOW_H
#define ZC_PLACE_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

/* Bytes mapped at a time: several chunks, so a file is remapped once per
 * few chunks. */
#define PLACE_WINDOW (8u << 20)

struct place_window {
    uint8_t *map; /* NULL: nothing mapped */
    uint64_t base;
};

/* Whether fd's file lives on a filesystem that may be received into by
 * mapping (see above). */
bool place_window_supported(int fd);
/* Reserves [off, off + len) of fd (len at most PLACE_WINDOW / 2), maps it
 * (reusing w's window when it holds the range) and faults its pages in
 * writable; *dst is then where byte off is.  0, -EOPNOTSUPP when the
 * filesystem cannot reserve (write with pwrite instead), -ENOSPC, or
 * -errno (nothing is mapped then). */
int place_window_map(struct place_window *w, int fd, uint64_t off, uint32_t len, uint8_t **dst);
/* Unmaps w's window, if any. */
void place_window_unmap(struct place_window *w);

#endif /* ZC_PLACE_WINDOW_H */
