/* test_composite_mpi.c - sort-last compositing equals a one-rank render.
 *
 * Run under mpirun with any rank count.  The ranks run a small simulation,
 * each renders its own brick in situ, and the tiles are composited with
 * binary swap and radix-k (k = 2 and k = 8), the pieces travelling at 16
 * and at 8 bits a channel.  Rank 0 gathers the whole field and renders it
 * alone: every channel of every pixel must agree within 1/255 with 16-bit
 * pieces (within 2/255 with 8-bit ones, which round once per round), and
 * no rank may send more than the image's bytes at that precision, besides
 * the final parts it forwards to the root, which are at most the image at
 * 8 bits.
 * Depth mode is checked exactly against the nearest of every rank's
 * synthetic surface, and bad calls fail alike on every rank.
 */
#include "zc/composite.h"
#include "zc/sim.h"
#include "zc_test.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { GRID = 16, STEPS = 24, W = 72, H = 56 };

static int rank, size;

struct variant {
    const char *name;
    enum zc_composite_algo algo;
    unsigned k;
    enum zc_composite_pixel wire;
    int max_diff; /* in 1/255 */
};

static int max_channel_diff(const struct zc_fb *a, const struct zc_fb *b)
{
    int worst = 0;
    for (unsigned y = 0; y < H; y++) {
        const uint8_t *pa = (const uint8_t *)zc_fb_visible_row(a, y);
        const uint8_t *pb = (const uint8_t *)zc_fb_visible_row(b, y);
        for (unsigned i = 0; i < W * 4; i++) {
            int d = abs((int)pa[i] - (int)pb[i]);
            worst = d > worst ? d : worst;
        }
    }
    return worst;
}

static unsigned lit_pixels(const struct zc_fb *fb)
{
    unsigned n = 0;
    for (unsigned y = 0; y < H; y++)
        for (unsigned x = 0; x < W; x++)
            n += (zc_fb_visible_row(fb, y)[x] & ZC_FB_RGBA(255, 255, 255, 0)) != 0;
    return n;
}

/* Every variant composites the bricks of sim seen from (azimuth,
 * elevation) into what rank 0 renders from the whole field alone. */
static void check_view(struct zc_sim *sim, const struct zc_sim *whole, double umax, double azimuth,
                       double elevation)
{
    struct zc_sim_view view;
    zc_sim_view_default(&view, W, H);
    view.azimuth = azimuth;
    view.elevation = elevation;
    view.log_umax = log10(umax);
    view.decades = 4;
    view.opacity = 0.6;
    double dir[3];
    zc_sim_view_dir(&view, dir);

    struct zc_fb *ref = NULL, *fb = NULL;
    if (rank == 0) {
        float *img = malloc((size_t)W * H * 4 * sizeof(float));
        CHECK(img);
        CHECK_OK(zc_sim_render(whole, &view, img));
        CHECK_OK(zc_fb_create(&ref, W, H, 0));
        CHECK_OK(zc_composite_to_fb(img, ref));
        free(img);
        CHECK(lit_pixels(ref) > W * H / 8);
        CHECK_OK(zc_fb_create(&fb, W, H, 0));
    }

    const struct variant variants[] = {
        {"binary swap, 16-bit", ZC_COMPOSITE_BINARY_SWAP, 0, ZC_PIXEL_RGBA16, 1},
        {"radix-2, 16-bit", ZC_COMPOSITE_RADIX_K, 2, ZC_PIXEL_RGBA16, 1},
        {"radix-8, 16-bit", ZC_COMPOSITE_RADIX_K, 8, ZC_PIXEL_RGBA16, 1},
        {"binary swap, 8-bit", ZC_COMPOSITE_BINARY_SWAP, 0, ZC_PIXEL_RGBA8, 2},
        {"radix-8, 8-bit", ZC_COMPOSITE_RADIX_K, 8, ZC_PIXEL_RGBA8, 2},
        {"binary swap, auto", ZC_COMPOSITE_BINARY_SWAP, 0, ZC_PIXEL_RGBA_AUTO, 1},
        {"radix-8, auto", ZC_COMPOSITE_RADIX_K, 8, ZC_PIXEL_RGBA_AUTO, 1},
    };
    for (unsigned v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
        const struct variant *var = &variants[v];
        struct zc_composite_config cc = {.algo = var->algo,
                                         .mode = ZC_COMPOSITE_OVER,
                                         .wire = var->wire,
                                         .k = var->k,
                                         .width = W,
                                         .height = H,
                                         .root = 0};
        struct zc_composite *c;
        CHECK_OK(zc_composite_create(zc_sim_comm(sim), &cc, &c));
        CHECK(zc_composite_depth(c) == NULL);
        CHECK_OK(zc_sim_render(sim, &view, zc_composite_rgba(c)));
        struct zc_composite_stats st;
        CHECK_OK(zc_composite_run(c, dir, fb, &st));

        /* Rounds move at most (1 - 1/N) of the image at the wire's depth,
         * the gather this rank's 1/N at 8 bits; 4 bytes of kind per piece,
         * and a result and a length word, on top.  What a rank forwards
         * (all it receives in the gather) is apart: at most the image at
         * 8 bits, the same bound as the bytes into the root. */
        uint64_t bpp = var->wire == ZC_PIXEL_RGBA16 ? 8 : 4;
        uint64_t bound = bpp * W * H + 4 * W * H / (uint64_t)size + 4 * W + 8 * (st.rounds + 2);
        uint64_t forwarded = rank == 0 ? 0 : st.gather_received;
        uint64_t own = st.bytes_sent - forwarded, worst, gathered;
        unsigned rounds;
        MPI_Allreduce(&own, &worst, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&st.gather_received, &gathered, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&st.rounds, &rounds, 1, MPI_UNSIGNED, MPI_MAX, MPI_COMM_WORLD);
        CHECK(st.gather_sent <= st.bytes_sent && st.gather_received <= st.bytes_received);
        CHECK(own <= bound);
        CHECK(gathered <= 4 * W * H + 12 * (uint64_t)size);
        /* An odd offset from the root is a leaf of the gather tree: it
         * receives nothing to forward. */
        if (rank == size - 1 && size % 2 == 0)
            CHECK_EQ(st.gather_received, 0);
        /* 8-bit and auto stay within the image's bytes whatever N (auto: one
         * more 4-byte tag a piece). */
        if (var->wire == ZC_PIXEL_RGBA8)
            CHECK(worst <= 4 * W * H + 64);
        if (var->wire == ZC_PIXEL_RGBA_AUTO)
            CHECK(worst <= 4 * W * H + 64 + 4 * 8);
        /* 2x2x2 bricks: three rounds of pairs, or radix-8's one round of 8. */
        if (size == 8)
            CHECK_EQ(rounds, var->k == 8 ? 1 : 3);
        if (rank == 0) {
            int diff = max_channel_diff(fb, ref);
            fprintf(stderr,
                    "    N=%d view (%.0f, %.0f) %-20s max diff %d/255, max bytes sent by a rank "
                    "%llu (image %u) and forwarded or gathered %llu, %u rounds\n",
                    size, azimuth, elevation, var->name, diff, (unsigned long long)worst, 4 * W * H,
                    (unsigned long long)gathered, rounds);
            CHECK(diff <= var->max_diff);
        }
        zc_composite_destroy(c);
    }
    zc_fb_destroy(fb);
    zc_fb_destroy(ref);
}

static void test_over_equals_one_rank(void)
{
    struct zc_sim_config cfg;
    zc_sim_config_default(&cfg, GRID);
    cfg.source[0] = 0.4;
    cfg.pulse_width = 1.2;
    cfg.pulse_delay = 5;
    struct zc_sim *sim;
    CHECK_OK(zc_sim_create(MPI_COMM_WORLD, &cfg, &sim));
    CHECK_OK(zc_sim_step(sim, STEPS));
    CHECK_OK(zc_sim_exchange_ghosts(sim, NULL));
    double umax;
    CHECK_OK(zc_sim_energy_max(sim, &umax));
    /* The reference field: all of it on rank 0, one brick. */
    struct zc_sim *whole;
    CHECK_OK(zc_sim_gather(sim, 0, &whole, NULL));
    /* Two views from opposite octants: every axis' order flips. */
    check_view(sim, whole, umax, 30, 25);
    check_view(sim, whole, umax, 215, -40);
    zc_sim_destroy(whole);
    zc_sim_destroy(sim);
}

/* Depth mode: every rank draws an opaque synthetic surface with holes;
 * the result is, exactly, the nearest surface at each pixel. */
static float synth_depth(int r, unsigned p)
{
    unsigned h = (p * 2654435761u) ^ ((unsigned)r * 40503u);
    h ^= h >> 13;
    if (h % 5 == 0)
        return INFINITY;
    return (float)(h % 1024) + (float)r / 64.0f; /* distinct across ranks */
}

static uint32_t synth_colour(int r, unsigned p)
{
    return ZC_FB_RGBA((p * 3 + (unsigned)r * 50) % 256, (unsigned)r * 30 % 256, p % 200, 255);
}

/* The world's ranks on a 3-D grid, as the simulation lays its bricks. */
static MPI_Comm make_cart(void)
{
    int dims[3] = {0, 0, 0}, periods[3] = {0, 0, 0};
    MPI_Dims_create(size, 3, dims);
    MPI_Comm cart;
    CHECK(MPI_Cart_create(MPI_COMM_WORLD, 3, dims, periods, 0, &cart) == MPI_SUCCESS);
    return cart;
}

static void test_depth_exact(void)
{
    MPI_Comm cart = make_cart();
    struct zc_fb *fb = NULL;
    if (rank == size - 1)
        CHECK_OK(zc_fb_create(&fb, W, H, 0));
    for (int algo = 0; algo < 2; algo++) {
        struct zc_composite_config cc = {.algo = algo,
                                         .mode = ZC_COMPOSITE_DEPTH,
                                         .k = 3,
                                         .width = W,
                                         .height = H,
                                         .root = size - 1};
        struct zc_composite *c;
        CHECK_OK(zc_composite_create(cart, &cc, &c));
        float *rgba = zc_composite_rgba(c), *depth = zc_composite_depth(c);
        CHECK(depth);
        for (unsigned p = 0; p < W * H; p++) {
            depth[p] = synth_depth(rank, p);
            uint32_t col = synth_colour(rank, p);
            const uint8_t *b = (const uint8_t *)&col;
            for (int ch = 0; ch < 4; ch++)
                rgba[4 * p + ch] = isinf(depth[p]) ? 0.0f : b[ch] / 255.0f;
        }
        CHECK_OK(zc_composite_run(c, NULL, fb, NULL));
        if (fb)
            for (unsigned p = 0; p < W * H; p++) {
                int best = -1;
                for (int r = 0; r < size; r++)
                    if (!isinf(synth_depth(r, p)) &&
                        (best < 0 || synth_depth(r, p) < synth_depth(best, p)))
                        best = r;
                uint32_t want = best < 0 ? ZC_FB_RGBA(0, 0, 0, 255) : synth_colour(best, p);
                CHECK_EQ(zc_fb_visible_row(fb, p / W)[p % W], want);
            }
        zc_composite_destroy(c);
    }
    zc_fb_destroy(fb);
    MPI_Comm_free(&cart);
}

/* This rank's patch: a small rectangle of colour, empty for rank 0. */
static struct zc_composite_rect patch(void)
{
    unsigned x = (unsigned)rank * 7 % (W - 12), y = (unsigned)rank * 5 % (H - 8);
    return rank == 0 ? (struct zc_composite_rect){3, 3, 3, 3}
                     : (struct zc_composite_rect){x, y, x + 12, y + 8};
}

/* One frame of every rank's patch, told its bounds (or not): the image at
 * the root into fb, this rank's bytes into st. */
static void run_patches(struct zc_composite *c, bool bounded, struct zc_fb *fb,
                        struct zc_composite_stats *st)
{
    const struct zc_composite_rect r = patch();
    float *rgba = zc_composite_rgba(c);
    memset(rgba, 0, (size_t)W * H * 4 * sizeof(float));
    for (unsigned y = r.y0; y < r.y1; y++)
        for (unsigned x = r.x0; x < r.x1; x++)
            for (int ch = 0; ch < 4; ch++)
                rgba[4 * (y * W + x) + ch] = 0.5f * (float)((x + y + (unsigned)ch) % 3) / 2;
    /* Odd ranks vouch for whole rows, so that spans cross row ends. */
    const struct zc_composite_rect rows = {0, r.y0, W, r.y1};
    CHECK_OK(zc_composite_set_bounds(c, !bounded ? NULL : rank % 2 ? &rows : &r));
    double dir[3] = {0.3, -0.5, 0.8};
    CHECK_OK(zc_composite_run(c, dir, fb, st));
}

/* Bounds change where the compositor looks, never the image or the bytes. */
static void test_bounds(void)
{
    MPI_Comm cart = make_cart();
    struct zc_fb *with = NULL, *without = NULL;
    if (rank == 0) {
        CHECK_OK(zc_fb_create(&with, W, H, 0));
        CHECK_OK(zc_fb_create(&without, W, H, 0));
    }
    struct zc_composite_config cc = {.algo = ZC_COMPOSITE_RADIX_K,
                                     .wire = ZC_PIXEL_RGBA_AUTO,
                                     .width = W,
                                     .height = H,
                                     .root = 0};
    struct zc_composite *c;
    CHECK_OK(zc_composite_create(cart, &cc, &c));
    struct zc_composite_rect bad = {0, 0, W + 1, H};
    CHECK_EQ(zc_composite_set_bounds(c, &bad), -EINVAL);
    bad = (struct zc_composite_rect){5, 0, 4, H};
    CHECK_EQ(zc_composite_set_bounds(c, &bad), -EINVAL);
    bad = (struct zc_composite_rect){0, 2, W, 1};
    CHECK_EQ(zc_composite_set_bounds(c, &bad), -EINVAL);

    struct zc_composite_stats a, b;
    run_patches(c, true, with, &a);
    run_patches(c, false, without, &b);
    CHECK_EQ(a.bytes_sent, b.bytes_sent);
    CHECK_EQ(a.bytes_received, b.bytes_received);
    if (rank == 0) {
        CHECK_EQ(max_channel_diff(with, without), 0);
        CHECK(lit_pixels(with) > 0 || size == 1);
    }
    zc_composite_destroy(c);
    zc_fb_destroy(with);
    zc_fb_destroy(without);
    MPI_Comm_free(&cart);
}

static unsigned sink_calls;

static void count_frames(void *arg, const struct zc_fb *fb, unsigned frame)
{
    CHECK(arg == &sink_calls && fb != NULL && frame == sink_calls);
    sink_calls++;
}

/* Bad calls: refused, and a wrong fb at the root fails every rank alike. */
static void test_bad_calls(void)
{
    MPI_Comm cart = make_cart();
    struct zc_composite *c = NULL;
    struct zc_composite_config cc = {
        .algo = ZC_COMPOSITE_RADIX_K, .wire = ZC_PIXEL_RGBA8, .width = 16, .height = 8, .root = 0};
    CHECK_EQ(zc_composite_create(MPI_COMM_WORLD, &cc, &c), -EINVAL); /* no Cartesian grid */
    cc.k = 1;
    CHECK_EQ(zc_composite_create(cart, &cc, &c), -EINVAL);
    cc.k = 0;
    cc.root = size;
    CHECK_EQ(zc_composite_create(cart, &cc, &c), -EINVAL);
    cc.root = 0;
    cc.wire = ZC_PIXEL_RGBA8_DEPTH; /* over mode travels as RGBA */
    CHECK_EQ(zc_composite_create(cart, &cc, &c), -EINVAL);
    cc.wire = ZC_PIXEL_RGBA8;
    CHECK(c == NULL);

    CHECK_OK(zc_composite_create(cart, &cc, &c));
    zc_composite_set_sink(c, count_frames, &sink_calls);
    struct zc_fb *wrong = NULL, *right = NULL;
    if (rank == 0) {
        CHECK_OK(zc_fb_create(&wrong, 8, 8, 0));
        CHECK_OK(zc_fb_create(&right, 16, 8, 0));
    }
    double dir[3] = {1, 1, 1};
    CHECK_EQ(zc_composite_run(c, dir, wrong, NULL), -EINVAL);
    CHECK_EQ(zc_composite_run(c, dir, NULL, NULL), -EINVAL);
    CHECK_OK(zc_composite_run(c, dir, right, NULL));
    CHECK_OK(zc_composite_run(c, dir, right, NULL));
    CHECK_EQ(sink_calls, rank == 0 ? 2 : 0);
    zc_composite_destroy(c);
    zc_fb_destroy(wrong);
    zc_fb_destroy(right);
    MPI_Comm_free(&cart);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    RUN(test_over_equals_one_rank);
    RUN(test_depth_exact);
    RUN(test_bad_calls);
    RUN(test_bounds);
    MPI_Finalize();
    return 0;
}
