/* zc/composite.h - sort-last parallel image compositing over MPI.
 *
 * Every rank renders its own brick of the data into a full-size tile
 * (premultiplied RGBA floats, plus a depth per pixel in depth mode); the
 * compositor merges the tiles so that rank 0 (or another root) ends up
 * with the image of the whole data, and only image pieces travel:
 *
 *   binary swap  rounds of pairs; each pair splits its image region in
 *                two, keeps one half and receives the partner's copy of
 *                it.  A rank count that is not a power of two along an
 *                axis first folds the extra bricks into their neighbours.
 *   radix-k      rounds of groups of k (k factored from the rank count,
 *                at most the configured k when the count allows); each
 *                member keeps 1/k of the region and receives that piece
 *                from the k - 1 others.  k = N is direct send.
 *
 * Groups follow the bricks' Cartesian grid (one axis at a time), so the
 * members of a group are neighbouring slabs and their visibility order is
 * the sign of the view direction along that axis: 'over' is exact for any
 * rank count.  Depth mode keeps the nearest pixel and needs no order.
 *
 * Active-pixel encoding: a piece travels as runs (skip, count, count
 * pixels), so empty pixels cost nothing.  A received piece is decoded
 * with every length checked against what the round expects; a malformed
 * one fails the frame with -EBADMSG.
 *
 * The final gather: the finished parts (active pixels, their colour at 8
 * bits: the final image is opaque, so alpha stays behind) travel up a
 * two-level tree over the ranks (radix about sqrt(N)), forwarded as they
 * were encoded, so the root receives about 2 sqrt(N) messages rather
 * than N - 1 (62 at 1024 ranks); every message also
 * carries its subtree's worst error, so that the root knows the frame's
 * result with the image and one broadcast makes it every rank's.
 *
 * The final image is opaque: the premultiplied colour over black, alpha
 * 255, quantized once (the same rounding as zc_composite_to_fb()).
 * Functions return 0 or a negative errno unless said otherwise; "collective"
 * ones must be called by every rank of the communicator.
 */
#ifndef ZC_COMPOSITE_H
#define ZC_COMPOSITE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zc/fb.h"

#ifdef __cplusplus
extern "C" {
#endif

enum zc_composite_algo { ZC_COMPOSITE_BINARY_SWAP, ZC_COMPOSITE_RADIX_K };
enum zc_composite_mode { ZC_COMPOSITE_OVER, ZC_COMPOSITE_DEPTH };

/* How a pixel travels: premultiplied RGBA at 8 or 16 bits a channel (over
 * mode), or RGBA8 plus a float depth (depth mode).  ZC_PIXEL_RGBA_AUTO (over
 * mode, as a wire choice only) sends each piece at 16 bits when its active
 * pixels at 16 bits take no more bytes than the whole piece would at 8, and
 * at 8 bits otherwise, behind a 4-byte tag saying which: the bytes stay
 * within the 8-bit bound, and sparse images (the usual in-situ picture)
 * travel at full precision. */
enum zc_composite_pixel {
    ZC_PIXEL_RGBA8,
    ZC_PIXEL_RGBA16,
    ZC_PIXEL_RGBA8_DEPTH,
    ZC_PIXEL_RGBA_AUTO,
};

struct zc_composite_config {
    enum zc_composite_algo algo;
    enum zc_composite_mode mode;
    enum zc_composite_pixel wire; /* over mode: RGBA8 or RGBA16 between rounds */
    unsigned k;                   /* radix-k: largest group, 2..65536 (0: 8) */
    unsigned width, height;
    int root;
};

/* What a frame cost this rank.  Bytes: a round of k sends (k - 1)/k of
 * the rank's region at the wire's depth, so all rounds together send less
 * than the image at that depth.  Then the final parts travel up a tree to
 * the root (about 2 sqrt(N) messages reach it, not N - 1): a rank sends its own
 * part (its colour at 8 bits, 3 bytes a pixel, active pixels only) behind
 * a 4-byte result word and a 4-byte length, and forwards what its subtree
 * sent it, as it came.  The trade: a rank's bytes are no longer within
 * one image at 8 bits, but
 *
 *   bytes_sent - gather_received <= the rounds' bytes + its own part + 12
 *   gather_received              <= the image at 8 bits + 12 bytes a rank
 *
 * (all a rank receives in the gather it forwards; the root draws it), so
 * a rank near the root sends at most one more image at 8 bits (3/4 of one
 * in fact, alpha staying behind). */
struct zc_composite_stats {
    uint64_t bytes_sent;      /* by this rank in the frame: rounds and final gather */
    uint64_t bytes_received;  /* by this rank, the same */
    uint64_t gather_sent;     /* of bytes_sent: the final gather's */
    uint64_t gather_received; /* of bytes_received: the final gather's */
    unsigned rounds;          /* rounds this rank took part in */
    double seconds;           /* wall time of zc_composite_run on this rank */
    /* Parts of seconds: finding the tile's active spans; the rounds;
     * the gather (at the root: receiving and drawing the image); agreeing
     * on the frame's result (elsewhere mostly waiting for the root). */
    double spans_seconds, rounds_seconds, gather_seconds, agree_seconds;
};

struct zc_composite;

/* Collective over cart, a 3-D Cartesian communicator whose rank r renders
 * the brick at its Cartesian coordinates (zc_sim_comm gives one).  Plans
 * the rounds and allocates every buffer a frame needs.  0 with *out set;
 * -EINVAL for a bad config or a communicator without a 3-D Cartesian
 * topology, -ENOMEM; every rank given the same config gets the same. */
int zc_composite_create(MPI_Comm cart, const struct zc_composite_config *cfg,
                        struct zc_composite **out);
/* Frees the compositor.  NULL is fine. */
void zc_composite_destroy(struct zc_composite *c);

/* This rank's tile to render into: width * height * 4 premultiplied floats
 * (row-major, top row first); and in depth mode width * height depths
 * (INFINITY where empty; NULL in over mode). */
float *zc_composite_rgba(struct zc_composite *c);
float *zc_composite_depth(struct zc_composite *c);

/* A rectangle of the tile: columns [x0, x1), rows [y0, y1), top row 0. */
struct zc_composite_rect {
    unsigned x0, y0, x1, y1;
};

/* Promises that, in every tile this rank renders from now on, each pixel
 * outside r is empty (all four channels 0, and in depth mode depth
 * INFINITY): typically r is the screen footprint of the rank's brick, as
 * the renderer knows it.  zc_composite_run() then looks for active pixels
 * inside r only, rather than over the whole tile, which at scale (a brick
 * covering a small part of the image) is most of a frame's work.  The
 * image and the bytes sent are the same as without it.  NULL, the default:
 * the whole tile.  Not collective (each rank its own).  0, or -EINVAL
 * when r reaches outside the tile or has x1 < x0 or y1 < y0 (an empty
 * rectangle is fine: nothing rendered). */
int zc_composite_set_bounds(struct zc_composite *c, const struct zc_composite_rect *r);

/* A consumer of each final frame at the root, called inside
 * zc_composite_run() once fb holds the frame; frame counts the successful
 * runs from 0. */
typedef void (*zc_composite_sink)(void *arg, const struct zc_fb *fb, unsigned frame);
/* Sets (or with NULL clears) the root's frame consumer. */
void zc_composite_set_sink(struct zc_composite *c, zc_composite_sink sink, void *arg);

/* Collective: composites every rank's tile in the visibility order of a
 * camera looking along view_dir (ignored in depth mode) and, at the root,
 * writes the image into fb (width x height; ignored elsewhere, may be
 * NULL), then calls the sink.  The tiles are consumed.  Fills *st when not
 * NULL.  0, -EINVAL (fb missing or of the wrong size at the root),
 * -EBADMSG (a malformed piece arrived) or -EIO (MPI failed); the error is
 * the same on every rank (the worst, by the most negative value, of any
 * rank's; the frame still runs to its end, which is where it is known). */
int zc_composite_run(struct zc_composite *c, const double view_dir[3], struct zc_fb *fb,
                     struct zc_composite_stats *st);

/* The opaque final image of a whole premultiplied RGBA float image
 * (fb's size) into fb: what zc_composite_run() gives for one rank. */
int zc_composite_to_fb(const float *rgba, struct zc_fb *fb);

/* ---- active-pixel encoding (exposed for tests and the fuzzer) ----
 * A uint32 kind, then either records of (uint32 skip, uint32 count, count
 * pixels) covering exactly n pixels, or (when those would be longer) all n
 * pixels; host byte order.  A pixel is empty when all its quantized
 * channels are 0 (and, with depth, its depth is infinite). */

/* Bytes zc_composite_encode() may need for n pixels: 4 + n pixels. */
size_t zc_composite_encode_bound(enum zc_composite_pixel px, size_t n);
/* Encodes n pixels (rgba: 4 floats each; depth: NULL unless px has depth)
 * into buf; returns the bytes written, or -ENOSPC when cap is short. */
ssize_t zc_composite_encode(enum zc_composite_pixel px, const float *rgba, const float *depth,
                            size_t n, void *buf, size_t cap);
/* Decodes len bytes into n pixels (empty ones 0, depth INFINITY);
 * 0, or -EBADMSG unless the records cover exactly n pixels and len. */
int zc_composite_decode(enum zc_composite_pixel px, const void *buf, size_t len, size_t n,
                        float *rgba, float *depth);

#ifdef __cplusplus
}
#endif

#endif /* ZC_COMPOSITE_H */
