/* writer.h - a thread that writes received pieces to their place.
 *
 * The receiving thread takes a free piece buffer, receives a piece into it,
 * verifies (or decrypts) it there while it is in cache, and queues it; the
 * writer thread pwrite()s queued pieces into their files.  So receiving and
 * verifying one piece overlaps with the kernel placing the one before (on
 * tmpfs and the page cache, allocating and filling pages is the larger
 * part of a receiver's work).  The buffers are a small fixed ring: memory
 * does not grow with the file.
 *
 * A write error (a full disk) is sticky: every later call returns it.
 * Nothing queued may outlive its file descriptor: drain before closing one. */
#ifndef ZC_PLACE_WRITER_H
#define ZC_PLACE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#define PLACE_WRITER_SLOTS 8

struct place_writer;

/* Starts the thread, PLACE_WRITER_SLOTS buffers of piece bytes each; 0 or -errno. */
int place_writer_new(struct place_writer **out, size_t piece);
/* A free buffer for the next piece (waits for one); NULL after a write error. */
uint8_t *place_writer_buffer(struct place_writer *w);
/* Queues the buffer place_writer_buffer() gave, len bytes for fd at off;
 * 0 or the sticky error. */
int place_writer_queue(struct place_writer *w, int fd, uint64_t off, uint32_t len);
/* Waits until everything queued is written; 0 or the sticky error. */
int place_writer_drain(struct place_writer *w);
/* Drains, stops the thread and frees; NULL is fine. */
void place_writer_free(struct place_writer *w);

#endif /* ZC_PLACE_WRITER_H */
