/* png.c - RGBA8 pictures to PNG through libpng, into a file (through
 * zc_output: a regular file is replaced whole or not at all, a FIFO or a
 * device is written through) or into a buffer, the same bytes either way.
 */
#include "zc/fb.h"
#include "zc/base.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where libpng's bytes go: an output (staged a block at a time: libpng
 * hands over chunk headers of 4 bytes apart), or a bounded buffer. */
struct png_out {
    struct zc_output *file; /* when set, staged in buf, written there */
    uint8_t *buf;
    size_t cap, len;
    int err; /* why a write failed: -ENOSPC, or the output's -errno */
};

#define PNG_STAGE (64 * 1024)

static int out_drain(struct png_out *o)
{
    int err = zc_output_write(o->file, o->buf, o->len);
    o->len = 0;
    return err;
}

static void out_write(png_structp png, png_bytep data, png_size_t n)
{
    struct png_out *o = png_get_io_ptr(png);
    if (o->file && n > o->cap - o->len)
        o->err = out_drain(o);
    if (!o->err && o->file && n > o->cap)
        o->err = zc_output_write(o->file, data, n);
    else if (!o->err && n > o->cap - o->len)
        o->err = -ENOSPC;
    else if (!o->err) {
        memcpy(o->buf + o->len, data, n);
        o->len += n;
    }
    if (o->err)
        png_error(png, "short write");
}

static void out_flush(png_structp png)
{
    (void)png; /* the stream is flushed by its owner */
}

/* libpng's complaints become our return codes, not lines on stderr. */
static void on_png_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

#define PNG_MAX_TEXT 8

/* Rows are handed to libpng one at a time; on a libpng error it longjmps
 * back here and we return the writer's error, or -EIO.  One encoding
 * (compression level 3, default filters, text chunks before the pixels)
 * for files and buffers alike, so a frame is the same bytes wherever it
 * goes. */
static int encode(struct png_out *out, const uint32_t *pixels, unsigned width, unsigned height,
                  size_t stride_px, const struct zc_png_text *text, unsigned ntext)
{
    if (ntext > PNG_MAX_TEXT)
        return -EINVAL;
    png_text chunks[PNG_MAX_TEXT];
    for (unsigned i = 0; i < ntext; i++)
        chunks[i] = (png_text){.compression = PNG_TEXT_COMPRESSION_NONE,
                               .key = (png_charp)text[i].key,
                               .text = (png_charp)text[i].text};
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_png_error, on_png_warning);
    if (!png)
        return -ENOMEM;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return out->err ? out->err : -EIO;
    }
    png_set_write_fn(png, out, out_write, out_flush);
    png_set_compression_level(png, 3);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (ntext)
        png_set_text(png, info, chunks, (int)ntext);
    png_write_info(png, info);
    for (unsigned y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride_px));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* The PNG into an open output, staged in blocks. */
static int write_rgba(struct zc_output *file, const uint32_t *pixels, unsigned width,
                      unsigned height, size_t stride_px, const struct zc_png_text *text,
                      unsigned ntext)
{
    uint8_t *stage = malloc(PNG_STAGE);
    if (!stage)
        return -ENOMEM;
    struct png_out out = {.file = file, .buf = stage, .cap = PNG_STAGE};
    int err = encode(&out, pixels, width, height, stride_px, text, ntext);
    if (!err)
        err = out_drain(&out);
    free(stage);
    return err;
}

/* The PNG to path, through zc_output: whole or not at all. */
static int write_path(const char *path, const uint32_t *pixels, unsigned width, unsigned height,
                      size_t stride_px, const struct zc_png_text *text, unsigned ntext)
{
    if (width == 0 || height == 0 || stride_px < width)
        return -EINVAL;
    struct zc_output file;
    int err = zc_output_open(&file, path);
    if (!err)
        err = write_rgba(&file, pixels, width, height, stride_px, text, ntext);
    if (err) {
        zc_output_abort(&file);
        return err;
    }
    return zc_output_commit(&file);
}

int zc_png_write_rgba(const char *path, const uint32_t *pixels, unsigned width, unsigned height,
                      size_t stride_px)
{
    return write_path(path, pixels, width, height, stride_px, NULL, 0);
}

int zc_fb_png_to_output(const struct zc_fb *fb, struct zc_output *out)
{
    return write_rgba(out, zc_fb_visible_row(fb, 0), zc_fb_width(fb), zc_fb_height(fb),
                      zc_fb_width(fb), NULL, 0);
}

int zc_fb_write_png_text(const struct zc_fb *fb, const char *path, const struct zc_png_text *text,
                         unsigned ntext)
{
    return write_path(path, zc_fb_visible_row(fb, 0), zc_fb_width(fb), zc_fb_height(fb),
                      zc_fb_width(fb), text, ntext);
}

int zc_fb_write_png(const struct zc_fb *fb, const char *path)
{
    return zc_fb_write_png_text(fb, path, NULL, 0);
}

ssize_t zc_fb_encode_png_text(const struct zc_fb *fb, const struct zc_png_text *text,
                              unsigned ntext, void *buf, size_t cap)
{
    struct png_out out = {.buf = buf, .cap = cap};
    int err = encode(&out, zc_fb_visible_row(fb, 0), zc_fb_width(fb), zc_fb_height(fb),
                     zc_fb_width(fb), text, ntext);
    return err ? err : (ssize_t)out.len;
}

ssize_t zc_fb_encode_png(const struct zc_fb *fb, void *buf, size_t cap)
{
    return zc_fb_encode_png_text(fb, NULL, 0, buf, cap);
}
