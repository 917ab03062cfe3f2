/* test_fb.c - the framebuffer's frame transactions.
 *
 * Random draw sequences (points, rectangles, blits, touched rows written by
 * hand) against a reference copy: rollback must restore the frame bit-exact
 * and commit must keep exactly what was drawn, in both the journaled and the
 * back-buffer mode, for tile sizes that do and do not divide the frame.
 * Also: the journal's memory at 10% touched tiles, misuse answered with
 * errors, concurrent draws into different tiles, and PNG output.
 */
#include "zc/base.h"
#include "zc/fb.h"
#include "zc_test.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static uint32_t *snapshot(const struct zc_fb *fb)
{
    unsigned w = zc_fb_width(fb), h = zc_fb_height(fb);
    uint32_t *copy = malloc((size_t)w * h * 4);
    CHECK(copy);
    for (unsigned y = 0; y < h; y++)
        memcpy(copy + (size_t)y * w, zc_fb_visible_row(fb, y), (size_t)w * 4);
    return copy;
}

static int same(const struct zc_fb *fb, const uint32_t *ref)
{
    unsigned w = zc_fb_width(fb), h = zc_fb_height(fb);
    for (unsigned y = 0; y < h; y++)
        if (memcmp(ref + (size_t)y * w, zc_fb_visible_row(fb, y), (size_t)w * 4) != 0)
            return 0;
    return 1;
}

/* One random draw, applied to the frame and to the model of what the frame
 * should show after commit.  Coordinates may run past the edges. */
static void random_draw(struct zc_fb *fb, uint32_t *model)
{
    unsigned W = zc_fb_width(fb), H = zc_fb_height(fb);
    unsigned x = rnd() % (W + 8), y = rnd() % (H + 8);
    unsigned w = 1 + rnd() % 70, h = 1 + rnd() % 70;
    uint32_t c = rnd();
    switch (rnd() % 4) {
    case 0:
        CHECK_OK(zc_fb_put(fb, x, y, c));
        if (x < W && y < H)
            model[(size_t)y * W + x] = c;
        break;
    case 1:
        CHECK_OK(zc_fb_fill_rect(fb, x, y, w, h, c));
        for (unsigned r = y; r < ZC_MIN(y + h, H); r++)
            for (unsigned q = x; q < ZC_MIN(x + w, W); q++)
                model[(size_t)r * W + q] = c;
        break;
    case 2: {
        uint32_t *img = malloc((size_t)w * h * 4);
        CHECK(img);
        for (size_t i = 0; i < (size_t)w * h; i++)
            img[i] = rnd();
        CHECK_OK(zc_fb_blit(fb, x, y, w, h, img, w));
        for (unsigned r = y; r < ZC_MIN(y + h, H); r++)
            for (unsigned q = x; q < ZC_MIN(x + w, W); q++)
                model[(size_t)r * W + q] = img[(size_t)(r - y) * w + (q - x)];
        free(img);
        break;
    }
    default:
        if (x >= W || y >= H)
            break;
        w = ZC_MIN(w, W - x);
        h = ZC_MIN(h, H - y);
        CHECK_OK(zc_fb_touch_rect(fb, x, y, w, h));
        for (unsigned r = y; r < y + h; r++) {
            uint32_t *row = zc_fb_row(fb, r);
            for (unsigned q = x; q < x + w; q++)
                model[(size_t)r * W + q] = row[q] = c ^ (r * 131 + q);
        }
    }
}

/* Frames of random draws, committed or rolled back at random; each frame
 * in mode, or alternating between the two when mixed. */
static void random_frames(unsigned W, unsigned H, unsigned tile, enum zc_fb_mode mode, bool mixed)
{
    struct zc_fb *fb;
    CHECK_OK(zc_fb_create(&fb, W, H, tile));
    uint32_t *model = malloc((size_t)W * H * 4);
    CHECK(model);
    for (int frame = 0; frame < 40; frame++) {
        uint32_t *before = snapshot(fb);
        memcpy(model, before, (size_t)W * H * 4);
        enum zc_fb_mode m = mixed ? (frame % 3 ? ZC_FB_JOURNAL : ZC_FB_BACKBUFFER) : mode;
        CHECK_OK(zc_fb_begin(fb, m));
        unsigned draws = 1 + rnd() % 30;
        for (unsigned d = 0; d < draws; d++)
            random_draw(fb, model);
        if (rnd() % 2) {
            CHECK_OK(zc_fb_rollback(fb));
            CHECK(same(fb, before));
        } else {
            CHECK_OK(zc_fb_commit(fb));
            CHECK(same(fb, model));
        }
        free(before);
    }
    free(model);
    zc_fb_destroy(fb);
}

static void test_rollback_bit_exact(void)
{
    random_frames(200, 150, 32, ZC_FB_JOURNAL, false);
    random_frames(97, 61, 8, ZC_FB_JOURNAL, false);
    random_frames(300, 40, 64, ZC_FB_JOURNAL, false);
    random_frames(200, 150, 0, ZC_FB_BACKBUFFER, false);
    random_frames(97, 61, 16, ZC_FB_BACKBUFFER, false);
}

/* Modes alternate frame by frame on one framebuffer. */
static void test_modes_mixed(void)
{
    random_frames(128, 96, 16, ZC_FB_JOURNAL, true);
}

/* 10% of the tiles touched: journal <= 15% of a back buffer's memory. */
static void test_journal_memory(void)
{
    struct zc_fb *fb;
    CHECK_OK(zc_fb_create(&fb, 1024, 1024, 0));
    unsigned tiles = zc_fb_tiles_x(fb) * zc_fb_tiles_y(fb);
    unsigned want = tiles / 10, t = 0;
    CHECK_OK(zc_fb_begin(fb, ZC_FB_JOURNAL));
    for (unsigned i = 0; i < tiles && t < want; i += 10, t++) {
        unsigned tx = i % zc_fb_tiles_x(fb), ty = i / zc_fb_tiles_x(fb);
        CHECK_OK(zc_fb_put(fb, tx * zc_fb_tile(fb) + 3, ty * zc_fb_tile(fb) + 5, 0xffffffffu));
    }
    CHECK_EQ(zc_fb_touched_tiles(fb), want);
    size_t journal = zc_fb_extra_bytes(fb);
    CHECK_OK(zc_fb_commit(fb));
    CHECK(journal * 100 <= zc_fb_frame_bytes(fb) * 15);
    CHECK(journal >= (size_t)want * zc_fb_tile(fb) * zc_fb_tile(fb) * 4);

    CHECK_OK(zc_fb_begin(fb, ZC_FB_BACKBUFFER));
    CHECK_OK(zc_fb_put(fb, 0, 0, 1));
    CHECK_OK(zc_fb_commit(fb));
    CHECK_EQ(zc_fb_extra_bytes(fb), zc_fb_frame_bytes(fb));
    zc_fb_destroy(fb);
}

static void test_misuse(void)
{
    struct zc_fb *fb;
    CHECK_EQ(zc_fb_create(&fb, 0, 10, 0), -EINVAL);
    CHECK_EQ(zc_fb_create(&fb, 10, 10, 24), -EINVAL);
    CHECK_EQ(zc_fb_create(&fb, 10, 10, 4), -EINVAL);
    CHECK_EQ(zc_fb_create(&fb, 70000, 10, 0), -EINVAL);
    CHECK_OK(zc_fb_create(&fb, 10, 10, 8));
    CHECK_EQ(zc_fb_commit(fb), -EINVAL);
    CHECK_EQ(zc_fb_rollback(fb), -EINVAL);
    CHECK_EQ(zc_fb_begin(fb, (enum zc_fb_mode)7), -EINVAL);
    CHECK_OK(zc_fb_begin(fb, ZC_FB_JOURNAL));
    CHECK_EQ(zc_fb_begin(fb, ZC_FB_JOURNAL), -EBUSY);
    /* Outside the frame: ignored, nothing saved. */
    CHECK_OK(zc_fb_put(fb, 10, 0, 1));
    CHECK_OK(zc_fb_fill_rect(fb, 0, 10, 5, 5, 1));
    CHECK_OK(zc_fb_touch_rect(fb, 3, 3, 0, 4));
    CHECK_EQ(zc_fb_touched_tiles(fb), 0);
    CHECK_OK(zc_fb_rollback(fb));
    /* Draws outside a frame write directly. */
    CHECK_OK(zc_fb_put(fb, 9, 9, 77));
    CHECK_EQ(zc_fb_visible_row(fb, 9)[9], 77);
    zc_fb_destroy(fb);
    zc_fb_destroy(NULL);
}

struct painter {
    struct zc_fb *fb;
    unsigned band; /* tile rows band, band+2, ... */
};

static void *paint(void *arg)
{
    struct painter *p = arg;
    unsigned t = zc_fb_tile(p->fb);
    for (unsigned ty = p->band; ty < zc_fb_tiles_y(p->fb); ty += 2)
        for (unsigned tx = 0; tx < zc_fb_tiles_x(p->fb); tx++) {
            CHECK_OK(zc_fb_touch_rect(p->fb, tx * t, ty * t, t, t));
            for (unsigned r = ty * t; r < ZC_MIN((ty + 1) * t, zc_fb_height(p->fb)); r++)
                for (unsigned q = tx * t; q < ZC_MIN((tx + 1) * t, zc_fb_width(p->fb)); q++)
                    zc_fb_row(p->fb, r)[q] = r * 7 + q;
        }
    return NULL;
}

/* Two threads drawing disjoint tiles of one journaled frame. */
static void test_threads(void)
{
    struct zc_fb *fb;
    CHECK_OK(zc_fb_create(&fb, 300, 200, 16));
    CHECK_OK(zc_fb_fill_rect(fb, 0, 0, 300, 200, 0x12345678u));
    uint32_t *before = snapshot(fb);
    for (int round = 0; round < 2; round++) {
        CHECK_OK(zc_fb_begin(fb, ZC_FB_JOURNAL));
        pthread_t th[2];
        struct painter p[2] = {{fb, 0}, {fb, 1}};
        for (int i = 0; i < 2; i++)
            CHECK(pthread_create(&th[i], NULL, paint, &p[i]) == 0);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        CHECK_EQ(zc_fb_touched_tiles(fb), zc_fb_tiles_x(fb) * zc_fb_tiles_y(fb));
        CHECK_EQ(zc_fb_visible_row(fb, 199)[299], 199 * 7 + 299);
        CHECK_OK(zc_fb_rollback(fb));
        CHECK(same(fb, before));
    }
    free(before);
    zc_fb_destroy(fb);
}

/* Reads a FIFO to its end into a buffer (the other end of a PNG write). */
struct fifo_reader {
    const char *path;
    unsigned char buf[16384];
    size_t len;
};

static void *read_fifo(void *arg)
{
    struct fifo_reader *r = arg;
    FILE *f = fopen(r->path, "rb");
    CHECK(f);
    r->len = fread(r->buf, 1, sizeof(r->buf), f);
    fclose(f);
    return NULL;
}

/* A FIFO at the path is written through, not replaced: its reader gets the
 * very bytes of the file, and the FIFO is still a FIFO. */
static void test_png_fifo(const char *dir, const struct zc_fb *fb, const unsigned char *want,
                          size_t len)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/pipe", dir);
    CHECK_OK(mkfifo(path, 0600));
    static struct fifo_reader r;
    r.path = path;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, read_fifo, &r), 0);
    CHECK_OK(zc_fb_write_png(fb, path));
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(r.len, len);
    CHECK(memcmp(r.buf, want, len) == 0);
    struct stat st;
    CHECK_OK(lstat(path, &st));
    CHECK(S_ISFIFO(st.st_mode));
    CHECK_OK(unlink(path));
}

static void test_png(void)
{
    const char *tmpdir = getenv("TMPDIR");
    char path[4200], bad[4200];
    char templ[4096];
    snprintf(templ, sizeof(templ), "%s/zc-fb-XXXXXX", tmpdir ? tmpdir : "/tmp");
    CHECK(mkdtemp(templ));
    snprintf(path, sizeof(path), "%s/a.png", templ);
    snprintf(bad, sizeof(bad), "%s/missing/a.png", templ);
    struct zc_fb *fb;
    CHECK_OK(zc_fb_create(&fb, 33, 17, 8));
    CHECK_OK(zc_fb_fill_rect(fb, 4, 4, 10, 10, ZC_FB_RGBA(255, 0, 0, 255)));
    CHECK_OK(zc_fb_write_png(fb, path));
    FILE *f = fopen(path, "rb");
    CHECK(f);
    unsigned char head[24];
    CHECK(fread(head, 1, sizeof(head), f) == sizeof(head));
    fclose(f);
    CHECK(memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK_EQ(head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19], 33); /* IHDR width */
    CHECK_EQ(head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23], 17);
    /* Into memory: the very bytes of the file, or -ENOSPC one byte short. */
    f = fopen(path, "rb");
    CHECK(f);
    static unsigned char file_bytes[16384], mem[16384];
    size_t flen = fread(file_bytes, 1, sizeof(file_bytes), f);
    fclose(f);
    CHECK(flen > 24 && flen < sizeof(file_bytes));
    CHECK_EQ(zc_fb_encode_png(fb, mem, sizeof(mem)), (long long)flen);
    CHECK(memcmp(mem, file_bytes, flen) == 0);
    CHECK_EQ(zc_fb_encode_png(fb, mem, flen - 1), -ENOSPC);
    CHECK_EQ(zc_fb_write_png(fb, bad), -ENOENT);
    CHECK_EQ(zc_png_write_rgba(path, zc_fb_visible_row(fb, 0), 33, 17, 10), -EINVAL);
    test_png_fifo(templ, fb, file_bytes, flen);
    /* A write that fails half way leaves the older file as it was. */
    struct zc_output o;
    CHECK_OK(zc_output_open(&o, path));
    CHECK_OK(zc_output_write(&o, "half a picture", 14));
    zc_output_abort(&o);
    f = fopen(path, "rb");
    CHECK(f);
    CHECK(fread(head, 1, 8, f) == 8);
    fclose(f);
    CHECK(memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK_OK(unlink(path));
    CHECK_OK(rmdir(templ)); /* no temporary left behind */
    zc_fb_destroy(fb);
}

int main(void)
{
    RUN(test_rollback_bit_exact);
    RUN(test_modes_mixed);
    RUN(test_journal_memory);
    RUN(test_misuse);
    RUN(test_threads);
    RUN(test_png);
    return 0;
}
