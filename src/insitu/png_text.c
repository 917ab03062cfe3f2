/* png_text.c - a frame as PNG with what it shows in tEXt chunks (zc:step,
 * zc:time, zc:field, zc:range), so that a viewer or a script can read the
 * facts without reading the picture.  Encoded in memory with libpng (the
 * same compression as zc_fb_write_png), then written through zc_output:
 * a temporary file renamed over the final name. */
#include "insitu_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct membuf {
    uint8_t *p;
    size_t len, cap;
    bool fixed; /* the caller's buffer: never grown */
    bool oom;   /* no room: out of memory, or past a fixed buffer */
};

static void mem_write(png_structp png, png_bytep data, png_size_t n)
{
    struct membuf *m = png_get_io_ptr(png);
    if (m->len + n > m->cap && m->fixed) {
        m->oom = true;
        png_error(png, "buffer too small");
    }
    if (m->len + n > m->cap) {
        size_t cap = (m->cap ? m->cap * 2 : 65536) + n;
        uint8_t *p = realloc(m->p, cap);
        if (!p) {
            m->oom = true;
            png_error(png, "out of memory");
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, data, n);
    m->len += n;
}

static void mem_flush(png_structp png) {}

static void on_error(png_structp png, png_const_charp msg)
{
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {}

static int encode(const struct zc_fb *fb, png_text *texts, int ntext, struct membuf *m)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return m->oom ? -ENOMEM : -EIO;
    }
    png_set_write_fn(png, m, mem_write, mem_flush);
    png_set_compression_level(png, 3);
    png_set_IHDR(png, info, zc_fb_width(fb), zc_fb_height(fb), 8, PNG_COLOR_TYPE_RGBA,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_text(png, info, texts, ntext);
    png_write_info(png, info);
    for (unsigned y = 0; y < zc_fb_height(fb); y++)
        png_write_row(png, (png_const_bytep)zc_fb_visible_row(fb, y));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* The frame's facts as PNG text, in strings of the caller's. */
struct frame_text {
    char step[32], time[32], range[64], field[64];
    png_text texts[4];
};

static int frame_text(struct frame_text *t, const struct zc_insitu_frame *info)
{
    snprintf(t->step, sizeof(t->step), "%llu", (unsigned long long)info->step);
    snprintf(t->time, sizeof(t->time), "%.9g", info->time);
    snprintf(t->range, sizeof(t->range), "%.6g %.6g", info->lo, info->hi);
    snprintf(t->field, sizeof(t->field), "%s", info->field);
    const char *keys[] = {"zc:step", "zc:time", "zc:field", "zc:range"};
    char *values[] = {t->step, t->time, t->field, t->range};
    for (int i = 0; i < 4; i++)
        t->texts[i] = (png_text){
            .compression = PNG_TEXT_COMPRESSION_NONE, .key = (char *)keys[i], .text = values[i]};
    return 4;
}

ssize_t zc_insitu_encode_png(const struct zc_fb *fb, const struct zc_insitu_frame *info, void *buf,
                             size_t cap)
{
    if (!info)
        return zc_fb_encode_png(fb, buf, cap);
    struct frame_text t;
    struct membuf m = {.p = buf, .cap = cap, .fixed = true};
    int err = encode(fb, t.texts, frame_text(&t, info), &m);
    if (err)
        return m.oom ? -ENOSPC : err;
    return (ssize_t)m.len;
}

int insitu_write_png(const struct zc_fb *fb, const char *path, const struct zc_insitu_frame *info)
{
    struct frame_text t;
    struct membuf m = {0};
    int err = encode(fb, t.texts, frame_text(&t, info), &m);
    struct zc_output out;
    if (!err)
        err = zc_output_open(&out, path);
    if (!err) {
        err = zc_output_write(&out, m.p, m.len);
        err = err ? (zc_output_abort(&out), err) : zc_output_commit(&out);
    }
    free(m.p);
    return err;
}
