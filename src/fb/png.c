/* png.c - RGBA8 pictures to PNG through libpng.
 *
 * A picture is published whole or not at all: libpng writes into a
 * temporary file in the destination's folder, which is renamed over the
 * destination only once every row and the end chunk are on disk.  A failed
 * write removes the temporary and leaves any older file in place.
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

/* Rows are handed to libpng one at a time; on a libpng error it longjmps
 * back here and we return -EIO. */
static int encode(FILE *f, const uint32_t *pixels, unsigned width, unsigned height,
                  size_t stride_px)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png)
        return -ENOMEM;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -EIO;
    }
    png_init_io(png, f);
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

int zc_png_write_rgba(const char *path, const uint32_t *pixels, unsigned width, unsigned height,
                      size_t stride_px)
{
    if (width == 0 || height == 0 || stride_px < width)
        return -EINVAL;
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp)
        return -ENOMEM;
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = -errno;
        free(tmp);
        return err;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int err = -errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return err;
    }
    int err = encode(f, pixels, width, height, stride_px);
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

int zc_fb_write_png(const struct zc_fb *fb, const char *path)
{
    return zc_png_write_rgba(path, zc_fb_visible_row(fb, 0), zc_fb_width(fb), zc_fb_height(fb),
                             zc_fb_width(fb));
}
