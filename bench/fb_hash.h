/* fb_hash.h - one hash of a frame buffer's visible image, so that the
 * compositing benchmarks can compare images from different MPI
 * implementations (Open MPI, SimGrid's SMPI) or compositors by a line of
 * text. */
#ifndef ZC_BENCH_FB_HASH_H
#define ZC_BENCH_FB_HASH_H

#include "zc/fb.h"

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over the visible image's bytes, row by row. */
static inline uint64_t bench_fb_hash(const struct zc_fb *fb)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (unsigned y = 0; y < zc_fb_height(fb); y++) {
        const uint8_t *row = (const uint8_t *)zc_fb_visible_row(fb, y);
        for (size_t i = 0; i < (size_t)zc_fb_width(fb) * 4; i++)
            h = (h ^ row[i]) * 0x100000001b3u;
    }
    return h;
}

#endif /* ZC_BENCH_FB_HASH_H */
