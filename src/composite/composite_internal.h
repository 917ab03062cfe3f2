/* composite_internal.h - what the compositor's files share. */
#ifndef ZC_COMPOSITE_INTERNAL_H
#define ZC_COMPOSITE_INTERNAL_H

#include "zc/composite.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The final gather's pixel: the colour alone at 8 bits a channel (the
 * final image is opaque, so alpha need not travel).  Internal: never a
 * config's wire, refused by zc_composite_encode() and _decode(). */
#define COMPOSITE_PIXEL_RGB8 ((enum zc_composite_pixel)(ZC_PIXEL_RGBA_AUTO + 1))

/* Bytes a pixel takes on the wire. */
size_t composite_bpp(enum zc_composite_pixel px);
/* The one rounding of a [0, 1] channel to 8 bits (clamped). */
uint8_t composite_to_u8(float v);

/* Pixels [a, b) of an image, stored from index off of its arrays: the
 * image's active pixels all lie in its spans (some pixels of a span may
 * be empty), and every pixel outside them is empty. */
struct composite_span {
    size_t a, b, off;
};

/* An image as sorted, disjoint spans: pixel p of span s
 * is rgba[4 * (s.off + p - s.a)] and depth[s.off + p - s.a]. */
struct composite_spans {
    const struct composite_span *span;
    size_t n;
    const float *rgba, *depth;
};

/* zc_composite_encode() of pixels [a, b) of img, walking only its spans
 * (and, for a piece sent dense, its length): the same bytes. */
ssize_t composite_encode_spans(enum zc_composite_pixel px, const struct composite_spans *img,
                               size_t a, size_t b, void *buf, size_t cap);
/* Receives a decoded piece's active runs in order: count pixels (bpp
 * each, as on the wire) starting at pixel at. */
typedef void (*composite_run_fn)(void *arg, size_t at, size_t count, const uint8_t *pixels);
/* Checks len bytes as zc_composite_decode() does, handing each run to run
 * (a piece sent dense is one run of all n); 0 or -EBADMSG (runs before the
 * fault have been handed over). */
int composite_decode_runs(enum zc_composite_pixel px, const void *buf, size_t len, size_t n,
                          composite_run_fn run, void *arg);
/* count wire pixels into rgba (4 floats each) and, with depth, depth
 * (not COMPOSITE_PIXEL_RGB8: the root draws those straight). */
void composite_unpack(enum zc_composite_pixel px, const uint8_t *in, size_t count, float *rgba,
                      float *depth);

/* One round as this rank sees it: the group of ranks merging one image
 * region, in grid order (x, then y, then z; member j receives part j). */
struct composite_round {
    int step; /* the round's number in the whole schedule (its message tag) */
    int nmembers;
    int *members;     /* ranks */
    int (*coords)[3]; /* their bricks' Cartesian coordinates */
    int me;           /* this rank's index in members */
    bool fold;        /* members[0] receives the whole region, the others drop out */
    size_t a, b;      /* the region, in pixels (row-major index) */
};

/* The whole schedule: this rank's rounds, and where every rank's final
 * piece lies (empty when it dropped out). */
struct composite_plan {
    struct composite_round *rounds;
    unsigned nrounds;
    size_t *final_a, *final_b; /* per rank */
};

/* The bricks' Cartesian grid, read once from the communicator. */
struct composite_grid {
    int size, self;
    int dims[3];
};

/* A round of the schedule: units merged per block along each axis; fold
 * >= 0 instead folds the extra bricks of that axis into their neighbours. */
struct composite_round_spec {
    unsigned f[3];
    int fold;
};

/* At most 31 prime factors an axis, and a fold: 3 * 32 rounds. */
#define COMPOSITE_MAX_ROUNDS (3 * 32)

/* The rounds of algo for a grid of dims into out (COMPOSITE_MAX_ROUNDS);
 * returns their number. */
unsigned composite_round_specs(const int dims[3], enum zc_composite_algo algo, unsigned kmax,
                               struct composite_round_spec *out);
/* Moves unit[d][pos], the unit of the brick at pos along axis d, to its
 * unit after round r. */
void composite_next_units(const struct composite_round_spec *r, const int dims[3],
                          unsigned *unit[3]);

/* Part j of the region split among a round's receivers. */
void composite_part(const struct composite_round *r, int j, size_t *a, size_t *b);
/* Plans the rounds of algo (radix-k groups at most kmax unless a prime
 * count forces more) for the bricks of grid over npixels; rank r's brick
 * sits at r's row-major position in dims (MPI's Cartesian order).
 * 0, -ENOMEM. */
int composite_plan_make(const struct composite_grid *grid, enum zc_composite_algo algo,
                        unsigned kmax, size_t npixels, struct composite_plan *plan);
void composite_plan_free(struct composite_plan *plan);

/* The final gather's tree (gather.c): radix-r over offsets from the
 * root, each message one subtree's parts, each behind a result word; and
 * the binomial tree the frame's result goes down. */
struct composite_gather {
    size_t size, offset, radix; /* ranks; this rank's offset from the root; r */
    int root, parent;           /* ranks; parent -1 at the root */
    int verdict_parent, nverdict, verdict_child[64]; /* the binomial tree's */
    int nchildren;
    int *child;           /* ranks, in offset order */
    size_t *child_offset; /* their offsets */
    size_t *slot;         /* nchildren + 1: child i's message lands at recv + slot[i] */
    size_t own_room;      /* this rank's part and its length word at most (0: no part) */
    size_t cap;           /* this rank's message at most */
    uint8_t *recv, *msg;  /* the children's slots; this rank's message (not at the root) */
    MPI_Request *req;
    MPI_Status *status; /* nchildren + 1 */
};

/* The tree as rank self of size sees it, its buffers sized from the
 * plan's final parts.  0, -ENOMEM, or -EINVAL when a message could exceed
 * an MPI count. */
int composite_gather_make(struct composite_gather *g, const struct composite_plan *plan, int size,
                          int self, int root);
void composite_gather_free(struct composite_gather *g);
/* Posts the receives of the children's messages (tag).  0 or -EIO. */
int composite_gather_post(struct composite_gather *g, MPI_Comm comm, int tag);
/* Where a rank other than the root encodes its own part (cap bytes at
 * most), or NULL when it holds none. */
uint8_t *composite_gather_part(struct composite_gather *g, size_t *cap);
/* Not at the root: takes the children's messages behind this rank's
 * part (len bytes, encoded where composite_gather_part said) and sends it
 * all to the parent, headed by the worst of err and their errors.
 * Returns that worst error (-EIO if sending failed); counts gather bytes
 * in st. */
int composite_gather_forward(struct composite_gather *g, MPI_Comm comm, int tag, int err,
                             size_t len, struct zc_composite_stats *st);
/* The frame's result, err at the root, down the tree: every rank
 * returns the root's (or -EIO where MPI failed on the way). */
int composite_gather_verdict(struct composite_gather *g, MPI_Comm comm, int tag, int err);
/* Receives a final part at the root: pixels [a, b) of the image encoded
 * as COMPOSITE_PIXEL_RGB8 in len bytes; 0 or -EBADMSG. */
typedef int (*composite_part_fn)(void *arg, size_t a, size_t b, const uint8_t *part, size_t len);
/* At the root: hands every child's parts to draw as its message arrives
 * (none once an error is known), and returns the worst of err, the
 * messages' error words and draw's results: the frame's result. */
int composite_gather_collect(struct composite_gather *g, const struct composite_plan *plan, int err,
                             composite_part_fn draw, void *arg, struct zc_composite_stats *st);

#endif
