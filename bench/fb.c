/* fb.c - `zc bench fb`: the tile undo journal against a back buffer.
 *
 * Each frame draws over a fraction of the screen's tiles and commits; the
 * journal saves the tiles it touches, the back buffer copies the whole
 * frame first.  Two shapes of frame:
 *
 *   clustered   one rectangle covering the fraction (a window, a panel)
 *   scattered   one 8x8 sprite in each of that many random tiles (cursors,
 *               labels, particles): the worst case for a tile journal
 *
 * For each touched fraction from 1% to 100% it reports the median frame
 * time and the extra memory of each way, and the ratio.  A second table
 * sweeps the tile size (16..128) over the same drawing: bigger tiles save
 * fewer, larger blocks (faster) but journal more pixels per small draw;
 * ZC_FB_TILE_DEFAULT is the size where time has flattened and memory has
 * not yet grown.  --csv writes the first table for bench/fb_plot.py.
 */
#include "cli.h"
#include "bench.h"
#include "zc/base.h"
#include "zc/fb.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum shape { CLUSTERED, SCATTERED };

struct run {
    double frame_s; /* median */
    size_t extra_bytes;
    unsigned touched;
};

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Draws one frame's content: a rectangle, or sprites in random tiles. */
static int draw(struct zc_fb *fb, enum shape shape, double fraction, uint32_t color,
                unsigned *order)
{
    unsigned w = zc_fb_width(fb), h = zc_fb_height(fb), t = zc_fb_tile(fb);
    unsigned tx = zc_fb_tiles_x(fb), ntiles = tx * zc_fb_tiles_y(fb);
    unsigned want = (unsigned)(fraction * ntiles + 0.5);
    if (want == 0)
        want = 1;
    if (shape == CLUSTERED) {
        /* A tile-aligned rectangle of about want tiles, as square as fits. */
        unsigned rw = 1;
        while ((rw + 1) * (rw + 1) <= want && rw < tx)
            rw++;
        unsigned rh = (want + rw - 1) / rw;
        return zc_fb_fill_rect(fb, 0, 0, ZC_MIN(rw * t, w), ZC_MIN(rh * t, h), color);
    }
    /* Partial Fisher-Yates: want distinct random tiles. */
    for (unsigned i = 0; i < want; i++) {
        unsigned j = i + rnd() % (ntiles - i);
        unsigned tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
        unsigned x = (order[i] % tx) * t + rnd() % (t - 7),
                 y = (order[i] / tx) * t + rnd() % (t - 7);
        int err = zc_fb_fill_rect(fb, x, y, 8, 8, color);
        if (err)
            return err;
    }
    return 0;
}

static int measure(unsigned w, unsigned h, unsigned tile, enum zc_fb_mode mode, enum shape shape,
                   double fraction, unsigned frames, struct run *out)
{
    struct zc_fb *fb;
    int err = zc_fb_create(&fb, w, h, tile);
    if (err)
        return err;
    unsigned ntiles = zc_fb_tiles_x(fb) * zc_fb_tiles_y(fb);
    unsigned *order = malloc(ntiles * sizeof(unsigned));
    double *times = malloc(frames * sizeof(double));
    if (!order || !times) {
        err = -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < ntiles; i++)
        order[i] = i;
    out->extra_bytes = 0;
    for (unsigned f = 0; f < frames && !err; f++) {
        uint64_t t0 = zc_now_ns();
        err = zc_fb_begin(fb, mode);
        if (!err)
            err = draw(fb, shape, fraction, rnd() | 0xff000000u, order);
        if (!err)
            err = zc_fb_commit(fb);
        times[f] = zc_ns_to_s(zc_now_ns() - t0);
        out->extra_bytes = ZC_MAX(out->extra_bytes, zc_fb_extra_bytes(fb));
        out->touched = mode == ZC_FB_JOURNAL ? zc_fb_touched_tiles(fb) : ntiles;
    }
    out->frame_s = zc_median(times, frames);
out:
    free(order);
    free(times);
    zc_fb_destroy(fb);
    return err;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: zc bench fb [--size WxH] [--frames N] [--csv FILE] [--json]\n\n"
               "In-place frames with a tile undo journal against a back buffer: frame time\n"
               "and extra memory as the touched fraction of tiles goes from 1%% to 100%%,\n"
               "clustered and scattered; then the tile size sweep.  Defaults: 1024x1024,\n"
               "100 frames a point.\n");
}

int cmd_bench_fb(int argc, char **argv)
{
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'}, {"frames", required_argument, NULL, 'f'},
        {"csv", required_argument, NULL, 'c'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    unsigned w = 1024, h = 1024;
    uint64_t frames = 100;
    const char *csv_path = NULL;
    bool json = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (zc_parse_wxh(optarg, &w, &h) != 0 || w < 128 || h < 128 || w > 16384 || h > 16384)
                return zc_usage_error("bench fb", "--size wants WxH from 128x128 to 16384x16384");
            break;
        case 'f':
            if (zc_parse_u64(optarg, 1, 100000, &frames) != 0)
                return zc_usage_error("bench fb", "--frames wants 1..100000");
            break;
        case 'c':
            csv_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return ZC_EXIT_OK;
        default: /* '?' or ':' */
            return cli_bad_option("bench fb", opt, argv);
        }
    }
    if (optind != argc)
        return zc_usage_error("bench fb", "no arguments expected");
    cli_json_failures(json);
    /* The table is kept in memory and written whole at the end, to an
     * output opened now: a bad path fails before the measurement. */
    struct zc_output csv_out;
    char *csv_text = NULL;
    size_t csv_len = 0;
    FILE *csv = NULL;
    int err = csv_path ? zc_output_open(&csv_out, csv_path) : 0;
    if (!err && csv_path && !(csv = open_memstream(&csv_text, &csv_len))) {
        err = -errno;
        zc_output_abort(&csv_out);
    }
    if (err) {
        cli_fail(err, "cannot write %s: %s", csv_path, zc_strerror(err));
        return ZC_EXIT_FAIL;
    }
    if (csv)
        fprintf(csv, "shape,fraction,journal_s,backbuffer_s,journal_bytes,backbuffer_bytes\n");

    static const double fractions[] = {0.01, 0.02, 0.05, 0.10, 0.20, 0.35, 0.50, 0.75, 1.00};
    static const char *shape_name[] = {"clustered", "scattered"};
    double ratio_mem10 = 0, ratio_time10 = 0;
    printf("%ux%u frame (%s), tile %u, median of %llu frames\n", w, h,
           zc_fmt_bytes((double)w * h * 4, (char[32]){0}, 32), ZC_FB_TILE_DEFAULT,
           (unsigned long long)frames);
    printf("%-9s %6s %11s %11s %7s %12s %12s %7s\n", "shape", "touch", "journal ms", "backbuf ms",
           "time", "journal", "backbuf", "memory");
    for (int s = 0; s < 2 && !err; s++)
        for (size_t i = 0; i < ZC_ARRAY_SIZE(fractions) && !err; i++) {
            struct run jr, br;
            err =
                measure(w, h, 0, ZC_FB_JOURNAL, (enum shape)s, fractions[i], (unsigned)frames, &jr);
            if (!err)
                err = measure(w, h, 0, ZC_FB_BACKBUFFER, (enum shape)s, fractions[i],
                              (unsigned)frames, &br);
            if (err)
                break;
            char a[32], b[32];
            double tr = jr.frame_s / br.frame_s, mr = (double)jr.extra_bytes / br.extra_bytes;
            printf("%-9s %5.0f%% %11.3f %11.3f %6.2fx %12s %12s %6.1f%%\n", shape_name[s],
                   fractions[i] * 100, jr.frame_s * 1e3, br.frame_s * 1e3, tr,
                   zc_fmt_bytes((double)jr.extra_bytes, a, 32),
                   zc_fmt_bytes((double)br.extra_bytes, b, 32), mr * 100);
            if (csv)
                fprintf(csv, "%s,%.2f,%.9f,%.9f,%zu,%zu\n", shape_name[s], fractions[i], jr.frame_s,
                        br.frame_s, jr.extra_bytes, br.extra_bytes);
            if (s == SCATTERED && fractions[i] == 0.10) {
                ratio_mem10 = mr;
                ratio_time10 = tr;
            }
        }
    /* The tile sweep: the same drawing for every tile size, a rectangle of
     * 10% of the screen and as many 8x8 sprites as 10% of the 32-pixel
     * tiles, in distinct random tiles. */
    unsigned sprites = (w / 32) * (h / 32) / 10;
    if (!err) {
        printf("\ntile sweep, journaled frames: a 10%% rectangle; %u scattered 8x8 sprites\n",
               sprites);
        printf("%5s %14s %14s %14s\n", "tile", "rectangle ms", "sprites ms", "sprites journal");
    }
    static const unsigned tiles[] = {16, 32, 64, 128};
    for (size_t i = 0; i < ZC_ARRAY_SIZE(tiles) && !err; i++) {
        struct run c, sc;
        double ntiles = (double)((w + tiles[i] - 1) / tiles[i]) * ((h + tiles[i] - 1) / tiles[i]);
        err = measure(w, h, tiles[i], ZC_FB_JOURNAL, CLUSTERED, 0.10, (unsigned)frames, &c);
        if (!err)
            err = measure(w, h, tiles[i], ZC_FB_JOURNAL, SCATTERED, ZC_MIN(sprites / ntiles, 1.0),
                          (unsigned)frames, &sc);
        char a[32];
        if (!err)
            printf("%5u %14.3f %14.3f %14s\n", tiles[i], c.frame_s * 1e3, sc.frame_s * 1e3,
                   zc_fmt_bytes((double)sc.extra_bytes, a, 32));
    }
    if (csv) {
        int werr = fclose(csv) != 0 ? -errno : 0;
        if (!werr && !err)
            werr = zc_output_write(&csv_out, csv_text, csv_len);
        if (werr || err)
            zc_output_abort(&csv_out);
        else
            werr = zc_output_commit(&csv_out);
        free(csv_text);
        if (werr) {
            cli_fail(werr, "cannot write %s: %s", csv_path, zc_strerror(werr));
            return ZC_EXIT_FAIL;
        }
    }
    if (err) {
        cli_fail(err, "measurement failed: %s", zc_strerror(err));
        return ZC_EXIT_FAIL;
    }
    if (json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        zc_json_u64(&j, "width", w);
        zc_json_u64(&j, "height", h);
        zc_json_u64(&j, "tile", ZC_FB_TILE_DEFAULT);
        zc_json_num(&j, "journal_memory_ratio_10pct_scattered", ratio_mem10);
        zc_json_num(&j, "journal_time_ratio_10pct_scattered", ratio_time10);
        zc_json_end(&j);
    }
    return ZC_EXIT_OK;
}
