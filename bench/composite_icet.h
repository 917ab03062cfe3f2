/* composite_icet.h - IceT, the compositing library of ParaView and VisIt,
 * as a peer of zc's compositing (zc/composite.h) in the benchmarks.
 *
 * Every rank hands in the same kind of tile zc composites (premultiplied
 * RGBA floats, top row first, with the rectangle outside which the tile is
 * empty) and the ranks' visibility order; IceT blends them front to back
 * with "over" (its ICET_COMPOSITE_MODE_BLEND with ordered compositing), one
 * tile covering the whole image, displayed at rank 0.  The final image is
 * made opaque over black with zc_composite_to_fb(), so both compositors'
 * images differ only by what each does between rounds.
 *
 * IceT talks to the network through a table of functions; the one here is
 * our own, over MPI, so that the peer builds with SimGrid's smpicc as well
 * as with mpicc, and it counts the bytes each rank sends, as zc's
 * statistics do.  Under SMPI, where all ranks share one process, each
 * simulated rank needs its own copy of IceT's core library, which keeps the
 * current context in a global: smpirun
 * --cfg=smpi/privatize-libs:libvtkIceTCore-pv5.11.so.1 (without it ranks
 * use each other's contexts and crash).
 *
 * Functions return 0 or a negative errno; "collective" ones must be called
 * by every rank of the communicator.
 */
#ifndef ZC_BENCH_COMPOSITE_ICET_H
#define ZC_BENCH_COMPOSITE_ICET_H

#include <mpi.h>
#include <stdint.h>

#include "zc/fb.h"

/* IceT's single-image strategies: binary swap, radix-k (groups of up to
 * magic_k), a binary tree, and IceT's own choice. */
enum icet_peer_algo { ICET_PEER_BSWAP, ICET_PEER_RADIXK, ICET_PEER_TREE, ICET_PEER_AUTO };

/* The colour IceT composites in: floats (as zc does between its rounds,
 * at its wire's precision) or 8-bit premultiplied RGBA, ParaView's usual
 * choice (a quarter of the bytes, each round rounding to 8 bits). */
enum icet_peer_color { ICET_PEER_FLOAT, ICET_PEER_UBYTE };

struct icet_peer_stats {
    double seconds;            /* wall time of the composite on this rank (MPI_Wtime;
                                * simulated seconds under SMPI) */
    uint64_t bytes_sent;       /* by this rank in the frame: every message it sent */
    uint64_t bytes_collective; /* the part of bytes_sent that went through collectives:
                                * IceT gathers the final image with a gatherv, and
                                * shares its per-frame bookkeeping with allgathers */
};

struct icet_peer;

/* Collective over comm: an IceT context compositing width x height images
 * with strategy algo (magic_k: radix-k's largest group, 0 for IceT's
 * default).  0 with *out set; -EINVAL for a bad size, algo or magic_k,
 * -ENOMEM, -EIO when MPI or IceT failed. */
int icet_peer_open(struct icet_peer **out, MPI_Comm comm, int width, int height,
                   enum icet_peer_algo algo, int magic_k, enum icet_peer_color color);
/* Collective: composites every rank's tile rgba (width * height * 4
 * premultiplied floats, top row first) in the visibility order order (the
 * communicator's ranks, front to back; the same on every rank).  Pixels
 * outside valid (x, y, w, h; x a column, y a row counted from the top) are
 * empty: IceT neither reads nor sends them.  In ICET_PEER_UBYTE the valid
 * rectangle is first rounded to 8 bits, outside the timed composite (a
 * renderer would have drawn it so).  At rank 0 writes the opaque
 * image into out (width x height; ignored elsewhere, may be NULL).  Fills
 * *st when not NULL.  0, -EINVAL (a bad order or rectangle, out missing at
 * rank 0) or -EIO (MPI or IceT failed). */
int icet_peer_run(struct icet_peer *p, const float *rgba, const int valid[4], const int *order,
                  struct zc_fb *out, struct icet_peer_stats *st);
/* Collective: frees the context and its communicators.  NULL is fine. */
void icet_peer_close(struct icet_peer *p);

#endif /* ZC_BENCH_COMPOSITE_ICET_H */
