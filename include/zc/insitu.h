/* zc/insitu.h - in-situ visualization for any MPI simulation that owns a
 * regular brick of a global 3-D grid on each rank.
 *
 * A few lines in the simulation:
 *
 *   struct zc_insitu_config cfg;
 *   zc_insitu_config_default(&cfg, global, origin, size, 1);   // ghost 1
 *   zc_tf_parse(&cfg.tf, text, len, &line);   // or zc_tf_load
 *   snprintf(cfg.field, sizeof(cfg.field), "temperature");
 *   zc_insitu_open(cart, &cfg, &ctx);
 *   zc_insitu_sink_png(ctx, "frames");      // rank 0: frame_STEP.png
 *   every output step:
 *     struct zc_insitu_field f = {ZC_INSITU_FLOAT64, &u[first cell], {1, sx, sx * sy}};
 *     zc_insitu_publish(ctx, &f, step, time);
 *
 * The field is never copied: each rank ray-casts its brick straight from
 * the simulation's array (its own type and strides), the tiles are
 * composited sort-last (zc/composite.h) and rank 0 hands the frame to its
 * sinks.  Values are cell-centred: cell (i, j, k) of the global grid spans
 * [i, i+1] x [j, j+1] x [k, k+1] and its value sits at its centre.  Samples
 * lie at fixed distances along each ray whatever the brick, each inside
 * exactly one brick, so a frame on N ranks equals the one-rank frame up to
 * the rounding of compositing; a sample within half a cell of a brick face
 * reads the ghost layer, which must hold the neighbour's values (ghost
 * width >= 1 then; at the domain's walls the edge value is held).
 *
 * Frames carry what they show (unless config.annotate is false): the step,
 * the simulated time and the field's name, a legend of the transfer
 * function's colour and opacity over its value range, and the domain's
 * outline (its bricks too with config.brick_grid) are drawn into the image,
 * and the same facts go into each PNG as tEXt chunks (zc:step, zc:time,
 * zc:field, zc:range).
 *
 * Functions return 0 or a negative errno; "collective" ones must be called
 * by every rank of the communicator, and return the same error on all.
 */
#ifndef ZC_INSITU_H
#define ZC_INSITU_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zc/composite.h"
#include "zc/fb.h"
#include "zc/vol.h"

#ifdef __cplusplus
extern "C" {
#endif

enum zc_insitu_algo { ZC_INSITU_AUTO, ZC_INSITU_BINARY_SWAP, ZC_INSITU_RADIX_K };
enum zc_insitu_type { ZC_INSITU_FLOAT32, ZC_INSITU_FLOAT64 };

/* An orthographic camera looking at the domain's centre from azimuth
 * (degrees around +z, 0 looks along -x) and elevation (degrees above the
 * xy plane); zoom 1 fits the domain's diagonal in the image. */
struct zc_insitu_camera {
    double azimuth, elevation, zoom;
};

struct zc_insitu_config {
    unsigned global[3]; /* cells of the whole grid along x, y, z */
    unsigned origin[3]; /* this rank's first cell */
    unsigned size[3];   /* this rank's cell counts, each >= 1 */
    unsigned ghost;     /* ghost layers around the brick in the array */
    struct zc_insitu_camera camera;
    unsigned width, height; /* image size, 1 to 16384 */
    struct zc_tf tf;        /* value -> colour, opacity per cell */
    double step;            /* sample spacing in cells, > 0 */
    enum zc_insitu_algo algo;
    unsigned k;                   /* radix-k's largest group (0: 8) */
    enum zc_composite_pixel wire; /* RGBA8, RGBA16 or RGBA_AUTO between rounds */
    char field[32];               /* the field's name, shown and stored */
    bool annotate;                /* draw the legend, text and outline; PNG tEXt */
    bool brick_grid;              /* also outline every rank's brick */
};

/* Defaults for a brick: camera azimuth 30, elevation 25, zoom 1; 512x512;
 * an empty tf (set one); step 0.7; auto algorithm (radix-k), auto wire;
 * field "field"; annotated, no brick grid. */
void zc_insitu_config_default(struct zc_insitu_config *cfg, const unsigned global[3],
                              const unsigned origin[3], const unsigned size[3], unsigned ghost);

struct zc_insitu;

/* Collective over comm (any communicator; the context makes its own 3-D
 * Cartesian one, ranks in the order of their bricks, and comm's rank 0 is
 * the one that gets the frames).  The bricks must tile
 * the global grid as a Cartesian grid of bricks (what MPI_Dims_create and
 * an even split give).  0 with *out set; -EINVAL for a bad config or bricks
 * that do not tile the grid; -ENOMEM; -EIO when MPI fails. */
int zc_insitu_open(MPI_Comm comm, const struct zc_insitu_config *cfg, struct zc_insitu **out);
/* Frees the context and its sinks.  NULL is fine.  Collective. */
void zc_insitu_close(struct zc_insitu *ctx);

/* ---- sinks: consumers of each final frame, at rank 0 (elsewhere they
 * are accepted and ignored) ---- */

/* Writes each frame as DIR/frame_STEP.png (8 digits at least), through a
 * temporary name renamed over the final one: a folder `zc view` watches
 * only ever holds whole frames.  dir must exist; it is copied. */
int zc_insitu_sink_png(struct zc_insitu *ctx, const char *dir);

/* What a delivered frame shows. */
struct zc_insitu_frame {
    uint64_t step;
    double time;
    const char *field;
    float lo, hi; /* the transfer function's value range */
};
/* Called with each (annotated) frame; a nonzero return fails the frame. */
typedef int (*zc_insitu_frame_fn)(void *arg, const struct zc_fb *fb,
                                  const struct zc_insitu_frame *info);
int zc_insitu_sink_callback(struct zc_insitu *ctx, zc_insitu_frame_fn fn, void *arg);
/* The bytes the PNG sink writes for a frame, into buf (cap bytes, e.g. a
 * slot of shared memory): with info, the annotated form that carries the
 * facts as tEXt chunks; with NULL, zc_fb_encode_png's plain bytes.  The
 * length, -ENOSPC when cap is too small, or -EIO. */
ssize_t zc_insitu_encode_png(const struct zc_fb *fb, const struct zc_insitu_frame *info, void *buf,
                             size_t cap);

/* ---- frames ---- */

/* This rank's scalar field: data points at the value of the brick's
 * first cell (origin), stride[] are the element steps along x, y, z (so
 * the ghost cell before it is data - stride[0]).  Read, never written. */
struct zc_insitu_field {
    enum zc_insitu_type type;
    const void *data;
    ptrdiff_t stride[3];
};

/* Collective: renders every brick of the field, composites, annotates and
 * hands the frame to the sinks at rank 0.  -EINVAL for a bad field,
 * -ENOMEM, -EIO (MPI), or a sink's error. */
int zc_insitu_publish(struct zc_insitu *ctx, const struct zc_insitu_field *f, uint64_t step,
                      double time);

/* For a simulation that renders its own brick (zc's FDTD draws its
 * staggered fields and its conductor): fills rgba (width * height * 4
 * premultiplied floats, top row first) with this rank's tile, seen along
 * view_dir (the context's camera). */
typedef int (*zc_insitu_render_fn)(void *arg, const double view_dir[3], float *rgba);
/* Collective: zc_insitu_publish with the tile from render. */
int zc_insitu_publish_tiles(struct zc_insitu *ctx, zc_insitu_render_fn render, void *arg,
                            uint64_t step, double time);

/* Replaces the transfer function (all ranks, before a publish; the
 * legend and range follow it). */
void zc_insitu_set_tf(struct zc_insitu *ctx, const struct zc_tf *tf);

/* The camera's unit view direction (world x, y, z). */
void zc_insitu_view_dir(const struct zc_insitu_camera *cam, double dir[3]);

/* Rank 0: the last composited frame before annotation (NULL elsewhere or
 * before the first frame), and its compositing statistics on every rank. */
const struct zc_fb *zc_insitu_last_frame(const struct zc_insitu *ctx);
void zc_insitu_last_stats(const struct zc_insitu *ctx, struct zc_composite_stats *st);

/* The Cartesian communicator the context composites on. */
MPI_Comm zc_insitu_comm(const struct zc_insitu *ctx);

#ifdef __cplusplus
}
#endif

#endif /* ZC_INSITU_H */
