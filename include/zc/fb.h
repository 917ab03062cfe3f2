/* zc/fb.h - an RGBA8 framebuffer drawn in place, with frame transactions.
 *
 * The pixels live in one linear, row-major buffer (stride = width * 4
 * bytes); the screen is cut into square tiles (the journal's unit).  A frame
 * is a transaction:
 *
 *   zc_fb_begin(fb, ZC_FB_JOURNAL)     draws go straight into the visible
 *                                      buffer; the first write to a tile
 *                                      copies its old pixels into the journal
 *   ... zc_fb_put / fill / blit, or zc_fb_touch_rect() then zc_fb_row() ...
 *   zc_fb_commit(fb)                   keep the frame, drop the journal
 *   zc_fb_rollback(fb)                 restore every touched tile, bit-exact
 *
 *   frame buffer (visible)         journal (grows with what the frame touches)
 *   +----+----+----+----+          +-----+---------------------+
 *   |    | T5 |    |    |          | T5  | old pixels of T5    |
 *   +----+----+----+----+          | T10 | old pixels of T10   |
 *   |    |    | T10|    |          +-----+---------------------+
 *   +----+----+----+----+          tile state: one byte a tile (saved or not)
 *
 * ZC_FB_BACKBUFFER is the out-of-place alternative kept beside it for
 * comparison: begin copies the visible frame into a back buffer, draws go
 * there, commit swaps the two, rollback drops the back buffer.  Its extra
 * memory is a whole frame whatever the frame touches.
 *
 * A pixel is 4 bytes in memory order R, G, B, A (ZC_FB_RGBA builds the
 * uint32_t for the host's byte order).  Outside a frame, draws write
 * directly (no journal).  Different threads may draw into different tiles of
 * one frame at the same time; begin, commit and rollback are not concurrent
 * with draws.
 *
 * Functions return 0 or a negative errno unless said otherwise.
 */
#ifndef ZC_FB_H
#define ZC_FB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Tile edge in pixels when zc_fb_create() is given 0, chosen with the
 * tile sweep of `zc bench fb`: fastest for scattered small draws, near the
 * fastest for large ones, and a small draw journals only 4 KiB. */
#define ZC_FB_TILE_DEFAULT 32

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ZC_FB_RGBA(r, g, b, a)                                                                     \
    ((uint32_t)(r) | (uint32_t)(g) << 8 | (uint32_t)(b) << 16 | (uint32_t)(a) << 24)
#else
#define ZC_FB_RGBA(r, g, b, a)                                                                     \
    ((uint32_t)(r) << 24 | (uint32_t)(g) << 16 | (uint32_t)(b) << 8 | (uint32_t)(a))
#endif

struct zc_fb;

enum zc_fb_mode {
    ZC_FB_JOURNAL,    /* in place, tile undo journal */
    ZC_FB_BACKBUFFER, /* out of place: copy, draw, swap */
};

/* A width x height frame, all pixels 0 (transparent black), tiles of tile x
 * tile pixels (0: ZC_FB_TILE_DEFAULT; else a power of two in [8, 256]).
 * 0 with *out set; -EINVAL on bad sizes, -ENOMEM. */
int zc_fb_create(struct zc_fb **out, unsigned width, unsigned height, unsigned tile);
/* Frees the frame, its journal and back buffer.  NULL is fine. */
void zc_fb_destroy(struct zc_fb *fb);

/* Geometry: width, height, tile edge, and tiles across / down. */
unsigned zc_fb_width(const struct zc_fb *fb);
unsigned zc_fb_height(const struct zc_fb *fb);
unsigned zc_fb_tile(const struct zc_fb *fb);
unsigned zc_fb_tiles_x(const struct zc_fb *fb);
unsigned zc_fb_tiles_y(const struct zc_fb *fb);

/* Starts a frame in the given mode.  -EBUSY if a frame is open, -ENOMEM
 * (back buffer or journal index) with no frame opened. */
int zc_fb_begin(struct zc_fb *fb, enum zc_fb_mode mode);
/* Keeps what the frame drew.  -EINVAL when no frame is open. */
int zc_fb_commit(struct zc_fb *fb);
/* Restores the frame as it was at begin, bit-exact.  -EINVAL when no frame
 * is open. */
int zc_fb_rollback(struct zc_fb *fb);

/* Makes the pixels of rectangle (x, y, w, h), clipped to the frame, safe to
 * write through zc_fb_row(): in a journaled frame, every tile it overlaps is
 * saved first.  0, or -ENOMEM when the journal cannot grow (nothing of the
 * rectangle was written; the frame can still roll back). */
int zc_fb_touch_rect(struct zc_fb *fb, unsigned x, unsigned y, unsigned w, unsigned h);

/* Row y (< height) of the buffer that draws go to: the visible one, or the
 * back buffer inside a ZC_FB_BACKBUFFER frame.  Write only where
 * zc_fb_touch_rect() has been called in this frame. */
uint32_t *zc_fb_row(struct zc_fb *fb, unsigned y);
/* Row y of the visible frame, for reading (PNG, compositing, tests). */
const uint32_t *zc_fb_visible_row(const struct zc_fb *fb, unsigned y);

/* One pixel (ignored outside the frame); 0 or -ENOMEM as touch_rect. */
int zc_fb_put(struct zc_fb *fb, unsigned x, unsigned y, uint32_t rgba);
/* Rectangle (x, y, w, h), clipped, filled with rgba; 0 or -ENOMEM. */
int zc_fb_fill_rect(struct zc_fb *fb, unsigned x, unsigned y, unsigned w, unsigned h,
                    uint32_t rgba);
/* Copies a w x h image (rows stride_px pixels apart) to (x, y), clipped;
 * 0 or -ENOMEM. */
int zc_fb_blit(struct zc_fb *fb, unsigned x, unsigned y, unsigned w, unsigned h,
               const uint32_t *src, size_t stride_px);

/* Bytes the current or last frame's undo state holds: the journal (saved
 * tiles and tile index) in a journaled frame, the back buffer in a
 * back-buffer frame.  The peak over a frame, reset at begin. */
size_t zc_fb_extra_bytes(const struct zc_fb *fb);
/* Bytes of the visible frame itself (width * height * 4). */
size_t zc_fb_frame_bytes(const struct zc_fb *fb);
/* Tiles saved in the journal by the current or last journaled frame. */
unsigned zc_fb_touched_tiles(const struct zc_fb *fb);

/* Writes the visible frame as an 8-bit RGBA PNG through libpng, to path as
 * zc_output_open() (zc/base.h) treats it: a regular file appears whole or
 * not at all, a FIFO or a device node is written through and kept.
 * 0, -EIO on a libpng failure, or -errno from the file system. */
int zc_fb_write_png(const struct zc_fb *fb, const char *path);
/* The same PNG bytes into buf (cap bytes), e.g. straight into a slot of
 * shared memory; the length, -ENOSPC when cap is too small, or -EIO. */
ssize_t zc_fb_encode_png(const struct zc_fb *fb, void *buf, size_t cap);
/* A PNG text chunk (tEXt): key of 1 to 79 Latin-1 characters, and its text. */
struct zc_png_text {
    const char *key;
    const char *text;
};
/* zc_fb_write_png and zc_fb_encode_png with up to 8 text chunks before the
 * pixels (-EINVAL for more); ntext 0 gives their bytes exactly. */
int zc_fb_write_png_text(const struct zc_fb *fb, const char *path, const struct zc_png_text *text,
                         unsigned ntext);
ssize_t zc_fb_encode_png_text(const struct zc_fb *fb, const struct zc_png_text *text,
                              unsigned ntext, void *buf, size_t cap);
/* The same for any RGBA8 image in memory (rows stride_px pixels apart). */
int zc_png_write_rgba(const char *path, const uint32_t *pixels, unsigned width, unsigned height,
                      size_t stride_px);
/* The PNG into an output opened with zc_output_open() (zc/base.h) before
 * the frame was drawn; the caller commits or aborts it.  0 or -errno. */
struct zc_output;
int zc_fb_png_to_output(const struct zc_fb *fb, struct zc_output *out);

#ifdef __cplusplus
}
#endif

#endif /* ZC_FB_H */
