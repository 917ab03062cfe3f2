/* insitu.c - the in-situ context: the bricks' Cartesian communicator, the
 * compositor, the frame at rank 0 and its sinks.
 *
 * A frame: every rank fills its tile (the ray caster over its own array, or
 * the simulation's renderer), the compositor merges the tiles at the root
 * into fb, the root copies it into shown and annotates that, and the sinks
 * take shown.  fb stays as composited: zc_insitu_last_frame() is the image
 * a reference render is compared with.
 */
#include "insitu_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SINKS = 4 };

struct sink {
    char *dir; /* PNG folder, or NULL for a callback */
    zc_insitu_frame_fn fn;
    void *arg;
};

struct zc_insitu {
    struct zc_insitu_config cfg;
    MPI_Comm cart;
    bool root;
    struct zc_composite *comp;
    struct insitu_proj proj;
    struct zc_fb *fb, *shown; /* root only */
    unsigned *bricks;         /* root: 6 per cart rank, origin then size */
    unsigned nbricks;
    bool have_frame;
    struct zc_composite_stats stats;
    struct sink sinks[MAX_SINKS];
    unsigned nsinks;
};

void zc_insitu_config_default(struct zc_insitu_config *cfg, const unsigned global[3],
                              const unsigned origin[3], const unsigned size[3], unsigned ghost)
{
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->global, global, sizeof(cfg->global));
    memcpy(cfg->origin, origin, sizeof(cfg->origin));
    memcpy(cfg->size, size, sizeof(cfg->size));
    cfg->ghost = ghost;
    cfg->camera = (struct zc_insitu_camera){.azimuth = 30, .elevation = 25, .zoom = 1};
    cfg->width = cfg->height = 512;
    cfg->step = 0.7;
    cfg->algo = ZC_INSITU_AUTO;
    cfg->wire = ZC_PIXEL_RGBA_AUTO;
    snprintf(cfg->field, sizeof(cfg->field), "field");
    cfg->annotate = true;
}

static bool config_ok(const struct zc_insitu_config *c)
{
    if (c->width == 0 || c->height == 0 || c->width > 16384 || c->height > 16384 ||
        !(c->step > 0) || c->tf.n > ZC_TF_MAX_POINTS || !(c->camera.zoom >= 0))
        return false;
    for (int d = 0; d < 3; d++)
        if (c->size[d] == 0 || c->origin[d] >= c->global[d] ||
            c->size[d] > c->global[d] - c->origin[d])
            return false;
    return c->algo <= ZC_INSITU_RADIX_K && memchr(c->field, 0, sizeof(c->field));
}

/* The same error on every rank: the worst (most negative) of them. */
static int agree(MPI_Comm comm, int err)
{
    int all;
    if (MPI_Allreduce(&err, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return -EIO;
    return all;
}

/* Position of a brick along axis d among the distinct origins there; the
 * count of distinct origins is the grid's extent along d. */
static int brick_coords(const unsigned *all, int n, const unsigned *mine, int coords[3],
                        int dims[3])
{
    for (int d = 0; d < 3; d++) {
        dims[d] = coords[d] = 0;
        for (int r = 0; r < n; r++) {
            unsigned o = all[6 * r + d];
            bool first = true; /* the first rank with this origin along d */
            for (int q = 0; q < r && first; q++)
                first = all[6 * q + d] != o;
            dims[d] += first;
            coords[d] += first && o < mine[d];
        }
    }
    /* A Cartesian tiling has exactly one brick per coordinate triple. */
    return (long)dims[0] * dims[1] * dims[2] == n ? 0 : -EINVAL;
}

/* The bricks' Cartesian communicator, ranks ordered as MPI_Cart_create
 * numbers coordinates; the root is the cart rank of comm's rank 0. */
static int make_cart(struct zc_insitu *ctx, MPI_Comm comm, int *root)
{
    int n, me;
    MPI_Comm_size(comm, &n);
    MPI_Comm_rank(comm, &me);
    unsigned mine[6], *all = malloc(sizeof(unsigned) * 6 * (size_t)n);
    if (!all)
        return -ENOMEM;
    memcpy(mine, ctx->cfg.origin, sizeof(unsigned) * 3);
    memcpy(mine + 3, ctx->cfg.size, sizeof(unsigned) * 3);
    int err = 0, coords[3], dims[3], periods[3] = {0, 0, 0};
    if (MPI_Allgather(mine, 6, MPI_UNSIGNED, all, 6, MPI_UNSIGNED, comm) != MPI_SUCCESS)
        err = -EIO;
    if (!err)
        err = brick_coords(all, n, mine, coords, dims);
    MPI_Comm sorted = MPI_COMM_NULL;
    int key = (coords[0] * dims[1] + coords[1]) * dims[2] + coords[2];
    if (!err && MPI_Comm_split(comm, 0, key, &sorted) != MPI_SUCCESS)
        err = -EIO;
    if (!err && MPI_Cart_create(sorted, 3, dims, periods, 0, &ctx->cart) != MPI_SUCCESS)
        err = -EIO;
    if (sorted != MPI_COMM_NULL)
        MPI_Comm_free(&sorted);
    if (!err && me == 0)
        *root = key;
    if (!err)
        MPI_Bcast(root, 1, MPI_INT, 0, comm);
    if (!err && me == 0) { /* the root keeps every brick, in cart order */
        ctx->bricks = all;
        ctx->nbricks = (unsigned)n;
        return 0;
    }
    free(all);
    return err;
}

static enum zc_composite_algo composite_algo(enum zc_insitu_algo a)
{
    return a == ZC_INSITU_BINARY_SWAP ? ZC_COMPOSITE_BINARY_SWAP : ZC_COMPOSITE_RADIX_K;
}

int zc_insitu_open(MPI_Comm comm, const struct zc_insitu_config *cfg, struct zc_insitu **out)
{
    *out = NULL;
    struct zc_insitu *ctx = calloc(1, sizeof(*ctx));
    int err = ctx ? (config_ok(cfg) ? 0 : -EINVAL) : -ENOMEM;
    err = agree(comm, err);
    if (err) {
        free(ctx);
        return err;
    }
    ctx->cfg = *cfg;
    ctx->cart = MPI_COMM_NULL;
    int root = 0, rank;
    err = agree(comm, make_cart(ctx, comm, &root));
    if (!err) {
        MPI_Comm_rank(ctx->cart, &rank);
        ctx->root = rank == root;
        struct zc_composite_config cc = {.algo = composite_algo(cfg->algo),
                                         .mode = ZC_COMPOSITE_OVER,
                                         .wire = cfg->wire,
                                         .k = cfg->k,
                                         .width = cfg->width,
                                         .height = cfg->height,
                                         .root = root};
        err = agree(ctx->cart, zc_composite_create(ctx->cart, &cc, &ctx->comp));
    }
    if (!err && ctx->root) {
        err = zc_fb_create(&ctx->fb, cfg->width, cfg->height, 0);
        if (!err)
            err = zc_fb_create(&ctx->shown, cfg->width, cfg->height, 0);
    }
    if (!err)
        err = agree(ctx->cart, err);
    if (err) {
        zc_insitu_close(ctx);
        return err;
    }
    insitu_proj_init(&ctx->proj, &cfg->camera, cfg->global, cfg->width, cfg->height);
    *out = ctx;
    return 0;
}

void zc_insitu_close(struct zc_insitu *ctx)
{
    if (!ctx)
        return;
    for (unsigned i = 0; i < ctx->nsinks; i++)
        free(ctx->sinks[i].dir);
    zc_fb_destroy(ctx->fb);
    zc_fb_destroy(ctx->shown);
    zc_composite_destroy(ctx->comp);
    if (ctx->cart != MPI_COMM_NULL)
        MPI_Comm_free(&ctx->cart);
    free(ctx->bricks);
    free(ctx);
}

static int add_sink(struct zc_insitu *ctx, const char *dir, zc_insitu_frame_fn fn, void *arg)
{
    if (ctx->nsinks == MAX_SINKS)
        return -ENOSPC;
    struct sink s = {.fn = fn, .arg = arg};
    if (dir && !(s.dir = strdup(dir)))
        return -ENOMEM;
    ctx->sinks[ctx->nsinks++] = s;
    return 0;
}

int zc_insitu_sink_png(struct zc_insitu *ctx, const char *dir)
{
    return dir ? add_sink(ctx, dir, NULL, NULL) : -EINVAL;
}

int zc_insitu_sink_callback(struct zc_insitu *ctx, zc_insitu_frame_fn fn, void *arg)
{
    return fn ? add_sink(ctx, NULL, fn, arg) : -EINVAL;
}

void zc_insitu_set_tf(struct zc_insitu *ctx, const struct zc_tf *tf)
{
    ctx->cfg.tf = *tf;
}

const struct zc_fb *zc_insitu_last_frame(const struct zc_insitu *ctx)
{
    return ctx->root && ctx->have_frame ? ctx->fb : NULL;
}

void zc_insitu_last_stats(const struct zc_insitu *ctx, struct zc_composite_stats *st)
{
    *st = ctx->stats;
}

MPI_Comm zc_insitu_comm(const struct zc_insitu *ctx)
{
    return ctx->cart;
}

static int copy_fb(struct zc_fb *to, const struct zc_fb *from)
{
    int err = zc_fb_touch_rect(to, 0, 0, zc_fb_width(to), zc_fb_height(to));
    for (unsigned y = 0; !err && y < zc_fb_height(to); y++)
        memcpy(zc_fb_row(to, y), zc_fb_visible_row(from, y), zc_fb_width(to) * sizeof(uint32_t));
    return err;
}

/* Root: each sink in turn; PNG files unannotated are zc_fb_write_png's
 * bytes, annotated ones carry the facts as text. */
static int deliver(struct zc_insitu *ctx, uint64_t step, double time)
{
    const struct zc_tf *tf = &ctx->cfg.tf;
    struct zc_insitu_frame info = {.step = step,
                                   .time = time,
                                   .field = ctx->cfg.field,
                                   .lo = tf->n ? tf->value[0] : 0,
                                   .hi = tf->n ? tf->value[tf->n - 1] : 0};
    const struct zc_fb *frame = ctx->fb;
    if (ctx->cfg.annotate) {
        int err = copy_fb(ctx->shown, ctx->fb);
        if (err)
            return err;
        insitu_annotate(ctx->shown, &ctx->cfg, &ctx->proj, &info, ctx->bricks, ctx->nbricks);
        frame = ctx->shown;
    }
    for (unsigned i = 0; i < ctx->nsinks; i++) {
        const struct sink *s = &ctx->sinks[i];
        int err;
        if (s->dir) {
            char path[4096];
            if (snprintf(path, sizeof(path), "%s/frame_%08llu.png", s->dir,
                         (unsigned long long)step) >= (int)sizeof(path))
                return -ENAMETOOLONG;
            err = ctx->cfg.annotate ? insitu_write_png(frame, path, &info)
                                    : zc_fb_write_png(frame, path);
        } else {
            err = s->fn(s->arg, frame, &info);
        }
        if (err)
            return err < 0 ? err : -EIO;
    }
    return 0;
}

/* After every rank's tile is in place (err: this rank's render). */
static int finish(struct zc_insitu *ctx, int err, uint64_t step, double time)
{
    err = agree(ctx->cart, err);
    if (err)
        return err;
    err = zc_composite_run(ctx->comp, ctx->proj.dir, ctx->fb, &ctx->stats);
    if (err)
        return err;
    ctx->have_frame = true;
    return agree(ctx->cart, ctx->root ? deliver(ctx, step, time) : 0);
}

/* The pixels a ray through this rank's brick can start from: the box
 * around its corners' projections, a pixel wider each side (rounding), so
 * the compositor need not search the rest of the tile for active pixels. */
static struct zc_composite_rect brick_footprint(const struct zc_insitu *ctx)
{
    const struct zc_insitu_config *cfg = &ctx->cfg;
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (int corner = 0; corner < 8; corner++) {
        double w[3], x, y;
        for (int d = 0; d < 3; d++)
            w[d] = (double)cfg->origin[d] + (corner >> d & 1 ? cfg->size[d] : 0);
        insitu_proj_point(&ctx->proj, w, &x, &y);
        x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
    }
    const double wd = cfg->width, ht = cfg->height;
    x0 = fmin(fmax(floor(x0) - 1, 0), wd), x1 = fmin(fmax(ceil(x1) + 1, x0), wd);
    y0 = fmin(fmax(floor(y0) - 1, 0), ht), y1 = fmin(fmax(ceil(y1) + 1, y0), ht);
    return (struct zc_composite_rect){(unsigned)x0, (unsigned)y0, (unsigned)x1, (unsigned)y1};
}

int zc_insitu_publish(struct zc_insitu *ctx, const struct zc_insitu_field *f, uint64_t step,
                      double time)
{
    const struct zc_composite_rect fp = brick_footprint(ctx);
    int err = insitu_raycast(&ctx->cfg, &ctx->proj, f, zc_composite_rgba(ctx->comp));
    if (!err)
        err = zc_composite_set_bounds(ctx->comp, &fp);
    return finish(ctx, err, step, time);
}

int zc_insitu_publish_tiles(struct zc_insitu *ctx, zc_insitu_render_fn render, void *arg,
                            uint64_t step, double time)
{
    int err = render ? render(arg, ctx->proj.dir, zc_composite_rgba(ctx->comp)) : -EINVAL;
    /* The caller's renderer may draw anywhere in the tile. */
    if (!err)
        err = zc_composite_set_bounds(ctx->comp, NULL);
    return finish(ctx, err, step, time);
}
