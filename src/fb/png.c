/* png.c - RGBA8 pictures to PNG through libpng, and the file publishing
 * they (and vol's meshes) go through.
 *
 * A file is published whole or not at all: it is written into a temporary
 * file in the destination's folder, which is renamed over the destination
 * only once every byte is written.  A failed write removes the temporary
 * and leaves any older file in place.
 */
#include "zc/fb.h"
#include "zc/base.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where libpng's bytes go: a stdio stream, or a bounded buffer. */
struct png_out {
    FILE *f;      /* when set, fwrite there */
    uint8_t *buf; /* else copy here, cap bytes at most */
    size_t cap, len;
    int err; /* why a write failed: -ENOSPC or -EIO */
};

static void out_write(png_structp png, png_bytep data, png_size_t n)
{
    struct png_out *o = png_get_io_ptr(png);
    if (o->f ? fwrite(data, 1, n, o->f) != n : n > o->cap - o->len) {
        o->err = o->f ? -EIO : -ENOSPC;
        png_error(png, "short write");
    }
    if (!o->f)
        memcpy(o->buf + o->len, data, n);
    o->len += n;
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

/* Rows are handed to libpng one at a time; on a libpng error it longjmps
 * back here and we return the writer's error, or -EIO.  One encoding
 * (compression level 3, default filters) for files and buffers alike, so
 * a frame is the same bytes wherever it goes. */
static int encode(struct png_out *out, const uint32_t *pixels, unsigned width, unsigned height,
                  size_t stride_px)
{
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
    png_write_info(png, info);
    for (unsigned y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride_px));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int zc_fb_write_file(const char *path, int (*fill)(FILE *f, void *arg), void *arg)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -ENOMEM;
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int err = -errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return err;
    }
    int err = fill(f, arg);
    if (fflush(f) != 0 && !err)
        err = -errno;
    if (fchmod(fd, 0644) != 0 && !err)
        err = -errno;
    if (fclose(f) != 0 && !err)
        err = -errno;
    if (!err && rename(tmp, path) != 0)
        err = -errno;
    if (err)
        unlink(tmp);
    free(tmp);
    return err;
}

struct png_job {
    const uint32_t *pixels;
    unsigned width, height;
    size_t stride_px;
};

static int fill_png(FILE *f, void *arg)
{
    const struct png_job *job = arg;
    struct png_out out = {.f = f};
    return encode(&out, job->pixels, job->width, job->height, job->stride_px);
}

int zc_png_write_rgba(const char *path, const uint32_t *pixels, unsigned width, unsigned height,
                      size_t stride_px)
{
    if (width == 0 || height == 0 || stride_px < width)
        return -EINVAL;
    struct png_job job = {pixels, width, height, stride_px};
    return zc_fb_write_file(path, fill_png, &job);
}

int zc_fb_write_png(const struct zc_fb *fb, const char *path)
{
    return zc_png_write_rgba(path, zc_fb_visible_row(fb, 0), zc_fb_width(fb), zc_fb_height(fb),
                             zc_fb_width(fb));
}

ssize_t zc_fb_encode_png(const struct zc_fb *fb, void *buf, size_t cap)
{
    struct png_out out = {.buf = buf, .cap = cap};
    int err =
        encode(&out, zc_fb_visible_row(fb, 0), zc_fb_width(fb), zc_fb_height(fb), zc_fb_width(fb));
    return err ? err : (ssize_t)out.len;
}
