/* png_text.c - a frame as PNG with what it shows in tEXt chunks (zc:step,
 * zc:time, zc:field, zc:range), so that a viewer or a script can read the
 * facts without reading the picture.  fb's one PNG encoder writes them
 * (zc_fb_write_png_text: through zc_output, a temporary renamed over the
 * final name; zc_fb_encode_png_text: into a caller's buffer), so a frame
 * is the same bytes in a file and in a ring slot. */
#include "insitu_internal.h"
#include "zc/base.h"

#include <stdio.h>

/* The frame's facts as PNG text, in strings of the caller's. */
struct frame_text {
    char step[32], time[32], range[64], field[64];
    struct zc_png_text chunks[4];
};

static unsigned frame_text(struct frame_text *t, const struct zc_insitu_frame *info)
{
    snprintf(t->step, sizeof(t->step), "%llu", (unsigned long long)info->step);
    snprintf(t->time, sizeof(t->time), "%.9g", info->time);
    snprintf(t->range, sizeof(t->range), "%.6g %.6g", info->lo, info->hi);
    snprintf(t->field, sizeof(t->field), "%s", info->field);
    t->chunks[0] = (struct zc_png_text){"zc:step", t->step};
    t->chunks[1] = (struct zc_png_text){"zc:time", t->time};
    t->chunks[2] = (struct zc_png_text){"zc:field", t->field};
    t->chunks[3] = (struct zc_png_text){"zc:range", t->range};
    return 4;
}

ssize_t zc_insitu_encode_png(const struct zc_fb *fb, const struct zc_insitu_frame *info, void *buf,
                             size_t cap)
{
    if (!info)
        return zc_fb_encode_png(fb, buf, cap);
    struct frame_text t;
    return zc_fb_encode_png_text(fb, t.chunks, frame_text(&t, info), buf, cap);
}

int insitu_write_png(const struct zc_fb *fb, const char *path, const struct zc_insitu_frame *info)
{
    struct frame_text t;
    return zc_fb_write_png_text(fb, path, t.chunks, frame_text(&t, info));
}
