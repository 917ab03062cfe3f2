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
    bool oom;
};

static void mem_write(png_structp png, png_bytep data, png_size_t n)
{
    struct membuf *m = png_get_io_ptr(png);
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

int insitu_write_png(const struct zc_fb *fb, const char *path, const struct zc_insitu_frame *info)
{
    char step[32], time[32], range[64], field[64];
    snprintf(step, sizeof(step), "%llu", (unsigned long long)info->step);
    snprintf(time, sizeof(time), "%.9g", info->time);
    snprintf(range, sizeof(range), "%.6g %.6g", info->lo, info->hi);
    snprintf(field, sizeof(field), "%s", info->field);
    png_text texts[] = {
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "zc:step", .text = step},
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "zc:time", .text = time},
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "zc:field", .text = field},
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "zc:range", .text = range},
    };
    struct membuf m = {0};
    int err = encode(fb, texts, (int)(sizeof(texts) / sizeof(texts[0])), &m);
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
