/* fb.c - the in-place framebuffer and its tile undo journal.
 *
 * The idea: a frame that may have to be undone does not need a second copy
 * of the screen, only a copy of what it overwrites.  The first write to a
 * tile in a frame saves that tile's old pixels (one slot of tile x tile
 * pixels); commit forgets the slots, rollback copies them back.  Memory
 * then follows the frame's footprint: a cursor or an overlay that touches
 * 3 tiles costs 3 tiles, not a whole back buffer.
 *
 * Bookkeeping, all sized by the tile count at create:
 *   state[t]   1 when tile t is saved in this frame (atomic: threads drawing
 *              different tiles test it without the lock)
 *   order[k]   the tile saved in slot k, in saving order (what rollback and
 *              commit walk, so neither costs more than the frame touched)
 *   slot[k]    malloc'd on first use, kept for the next frame, trimmed to
 *              what the frame used at commit/rollback
 */
#include "zc/fb.h"
#include "zc/base.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum frame_state { FRAME_NONE, FRAME_JOURNAL, FRAME_BACK };

struct zc_fb {
    unsigned width, height, tile, tile_shift, tiles_x, tiles_y;
    uint32_t *front; /* visible pixels */
    uint32_t *back;  /* back buffer (ZC_FB_BACKBUFFER), kept between frames */
    uint32_t *draw;  /* where draws go: front or back */
    enum frame_state frame;

    pthread_mutex_t lock; /* journal growth */
    _Atomic uint8_t *state;
    uint32_t *order;
    uint32_t **slot;
    unsigned used;      /* slots holding a saved tile in this frame */
    unsigned allocated; /* slots malloc'd */
    size_t extra_peak;
};

static size_t tile_bytes(const struct zc_fb *fb)
{
    return (size_t)fb->tile * fb->tile * 4;
}

static size_t index_bytes(const struct zc_fb *fb)
{
    size_t n = (size_t)fb->tiles_x * fb->tiles_y;
    return n * (sizeof(*fb->state) + sizeof(*fb->order) + sizeof(*fb->slot));
}

int zc_fb_create(struct zc_fb **out, unsigned width, unsigned height, unsigned tile)
{
    if (tile == 0)
        tile = ZC_FB_TILE_DEFAULT;
    if (width == 0 || height == 0 || width > 65536 || height > 65536 || tile < 8 || tile > 256 ||
        (tile & (tile - 1)) != 0)
        return -EINVAL;
    struct zc_fb *fb = calloc(1, sizeof(*fb));
    if (!fb)
        return -ENOMEM;
    fb->width = width;
    fb->height = height;
    fb->tile = tile;
    fb->tile_shift = (unsigned)__builtin_ctz(tile);
    fb->tiles_x = (width + tile - 1) / tile;
    fb->tiles_y = (height + tile - 1) / tile;
    size_t ntiles = (size_t)fb->tiles_x * fb->tiles_y;
    fb->front = calloc((size_t)width * height, 4);
    fb->state = calloc(ntiles, sizeof(*fb->state));
    fb->order = calloc(ntiles, sizeof(*fb->order));
    fb->slot = calloc(ntiles, sizeof(*fb->slot));
    if (!fb->front || !fb->state || !fb->order || !fb->slot) {
        zc_fb_destroy(fb);
        return -ENOMEM;
    }
    pthread_mutex_init(&fb->lock, NULL);
    fb->draw = fb->front;
    *out = fb;
    return 0;
}

void zc_fb_destroy(struct zc_fb *fb)
{
    if (!fb)
        return;
    for (unsigned k = 0; k < fb->allocated; k++)
        free(fb->slot[k]);
    if (fb->slot)
        pthread_mutex_destroy(&fb->lock);
    free(fb->slot);
    free(fb->order);
    free((void *)fb->state);
    free(fb->back);
    free(fb->front);
    free(fb);
}

unsigned zc_fb_width(const struct zc_fb *fb)
{
    return fb->width;
}

unsigned zc_fb_height(const struct zc_fb *fb)
{
    return fb->height;
}

unsigned zc_fb_tile(const struct zc_fb *fb)
{
    return fb->tile;
}

unsigned zc_fb_tiles_x(const struct zc_fb *fb)
{
    return fb->tiles_x;
}

unsigned zc_fb_tiles_y(const struct zc_fb *fb)
{
    return fb->tiles_y;
}

size_t zc_fb_frame_bytes(const struct zc_fb *fb)
{
    return (size_t)fb->width * fb->height * 4;
}

size_t zc_fb_extra_bytes(const struct zc_fb *fb)
{
    return fb->extra_peak;
}

unsigned zc_fb_touched_tiles(const struct zc_fb *fb)
{
    return fb->used;
}

int zc_fb_begin(struct zc_fb *fb, enum zc_fb_mode mode)
{
    if (fb->frame != FRAME_NONE)
        return -EBUSY;
    if (mode == ZC_FB_BACKBUFFER) {
        if (!fb->back) {
            fb->back = malloc(zc_fb_frame_bytes(fb));
            if (!fb->back)
                return -ENOMEM;
        }
        memcpy(fb->back, fb->front, zc_fb_frame_bytes(fb));
        fb->draw = fb->back;
        fb->frame = FRAME_BACK;
        fb->extra_peak = zc_fb_frame_bytes(fb);
        return 0;
    }
    if (mode != ZC_FB_JOURNAL)
        return -EINVAL;
    /* A journaled frame never needs the back buffer a past frame used. */
    free(fb->back);
    fb->back = NULL;
    fb->used = 0;
    fb->frame = FRAME_JOURNAL;
    fb->extra_peak = index_bytes(fb);
    return 0;
}

/* Copies tile t's pixels between the frame and a slot (save or restore). */
static void copy_tile(struct zc_fb *fb, unsigned t, uint32_t *slot, bool save)
{
    unsigned tx = t % fb->tiles_x, ty = t / fb->tiles_x;
    unsigned x0 = tx << fb->tile_shift, y0 = ty << fb->tile_shift;
    unsigned w = ZC_MIN(fb->tile, fb->width - x0), h = ZC_MIN(fb->tile, fb->height - y0);
    for (unsigned r = 0; r < h; r++) {
        uint32_t *px = fb->front + (size_t)(y0 + r) * fb->width + x0;
        uint32_t *saved = slot + (size_t)r * fb->tile;
        if (save)
            memcpy(saved, px, (size_t)w * 4);
        else
            memcpy(px, saved, (size_t)w * 4);
    }
}

/* Saves tile t unless this frame already did. */
static int save_tile(struct zc_fb *fb, unsigned t)
{
    /* Pairs with the release store below: a tile seen saved has its slot
     * filled before any draw into it. */
    if (atomic_load_explicit(&fb->state[t], memory_order_acquire))
        return 0;
    int err = 0;
    pthread_mutex_lock(&fb->lock);
    if (atomic_load_explicit(&fb->state[t], memory_order_relaxed))
        goto out;
    unsigned k = fb->used;
    if (k == fb->allocated) {
        fb->slot[k] = malloc(tile_bytes(fb));
        if (!fb->slot[k]) {
            err = -ENOMEM;
            goto out;
        }
        fb->allocated++;
    }
    copy_tile(fb, t, fb->slot[k], true);
    fb->order[k] = t;
    fb->used = k + 1;
    size_t extra = index_bytes(fb) + (size_t)fb->used * tile_bytes(fb);
    if (extra > fb->extra_peak)
        fb->extra_peak = extra;
    /* Pairs with the acquire load above (another thread about to draw). */
    atomic_store_explicit(&fb->state[t], 1, memory_order_release);
out:
    pthread_mutex_unlock(&fb->lock);
    return err;
}

/* Ends a journaled frame: clears what it marked, frees slots it left idle. */
static void end_journal(struct zc_fb *fb)
{
    for (unsigned k = 0; k < fb->used; k++)
        atomic_store_explicit(&fb->state[fb->order[k]], 0, memory_order_relaxed);
    while (fb->allocated > fb->used)
        free(fb->slot[--fb->allocated]);
    fb->frame = FRAME_NONE;
}

int zc_fb_commit(struct zc_fb *fb)
{
    switch (fb->frame) {
    case FRAME_JOURNAL:
        end_journal(fb);
        return 0;
    case FRAME_BACK: {
        uint32_t *old = fb->front;
        fb->front = fb->back;
        fb->back = old;
        fb->draw = fb->front;
        fb->frame = FRAME_NONE;
        return 0;
    }
    default:
        return -EINVAL;
    }
}

int zc_fb_rollback(struct zc_fb *fb)
{
    switch (fb->frame) {
    case FRAME_JOURNAL:
        for (unsigned k = 0; k < fb->used; k++)
            copy_tile(fb, fb->order[k], fb->slot[k], false);
        end_journal(fb);
        return 0;
    case FRAME_BACK:
        fb->draw = fb->front;
        fb->frame = FRAME_NONE;
        return 0;
    default:
        return -EINVAL;
    }
}

/* Clips (x, y, w, h) to the frame; false when nothing is left. */
static bool clip(const struct zc_fb *fb, unsigned *x, unsigned *y, unsigned *w, unsigned *h)
{
    if (*x >= fb->width || *y >= fb->height || *w == 0 || *h == 0)
        return false;
    *w = ZC_MIN(*w, fb->width - *x);
    *h = ZC_MIN(*h, fb->height - *y);
    return true;
}

static int touch_clipped(struct zc_fb *fb, unsigned x, unsigned y, unsigned w, unsigned h)
{
    if (fb->frame != FRAME_JOURNAL)
        return 0;
    unsigned tx0 = x >> fb->tile_shift, tx1 = (x + w - 1) >> fb->tile_shift;
    unsigned ty0 = y >> fb->tile_shift, ty1 = (y + h - 1) >> fb->tile_shift;
    for (unsigned ty = ty0; ty <= ty1; ty++)
        for (unsigned tx = tx0; tx <= tx1; tx++) {
            int err = save_tile(fb, ty * fb->tiles_x + tx);
            if (err)
                return err;
        }
    return 0;
}

int zc_fb_touch_rect(struct zc_fb *fb, unsigned x, unsigned y, unsigned w, unsigned h)
{
    if (!clip(fb, &x, &y, &w, &h))
        return 0;
    return touch_clipped(fb, x, y, w, h);
}

uint32_t *zc_fb_row(struct zc_fb *fb, unsigned y)
{
    return fb->draw + (size_t)y * fb->width;
}

const uint32_t *zc_fb_visible_row(const struct zc_fb *fb, unsigned y)
{
    return fb->front + (size_t)y * fb->width;
}

int zc_fb_put(struct zc_fb *fb, unsigned x, unsigned y, uint32_t rgba)
{
    if (x >= fb->width || y >= fb->height)
        return 0;
    if (fb->frame == FRAME_JOURNAL) {
        int err = save_tile(fb, (y >> fb->tile_shift) * fb->tiles_x + (x >> fb->tile_shift));
        if (err)
            return err;
    }
    fb->draw[(size_t)y * fb->width + x] = rgba;
    return 0;
}

int zc_fb_fill_rect(struct zc_fb *fb, unsigned x, unsigned y, unsigned w, unsigned h, uint32_t rgba)
{
    if (!clip(fb, &x, &y, &w, &h))
        return 0;
    int err = touch_clipped(fb, x, y, w, h);
    if (err)
        return err;
    for (unsigned r = 0; r < h; r++) {
        uint32_t *px = zc_fb_row(fb, y + r) + x;
        for (unsigned c = 0; c < w; c++)
            px[c] = rgba;
    }
    return 0;
}

int zc_fb_blit(struct zc_fb *fb, unsigned x, unsigned y, unsigned w, unsigned h,
               const uint32_t *src, size_t stride_px)
{
    unsigned cw = w, ch = h;
    if (!clip(fb, &x, &y, &cw, &ch))
        return 0;
    int err = touch_clipped(fb, x, y, cw, ch);
    if (err)
        return err;
    for (unsigned r = 0; r < ch; r++)
        memcpy(zc_fb_row(fb, y + r) + x, src + r * stride_px, (size_t)cw * 4);
    return 0;
}
