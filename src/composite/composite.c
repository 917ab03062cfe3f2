/* composite.c - running a frame of the compositing schedule (plan.c).
 *
 * The idea: a round is one exchange inside each group.  Every member
 * encodes, for every other receiver, only the receiver's part of its
 * region (active pixels only, codec.c) and sends it; each receiver decodes
 * the k - 1 pieces it gets and merges all k, its own included, pixel by
 * pixel in the group's visibility order:
 *
 *   over (premultiplied, front to back):  acc += (1 - acc.a) * piece
 *   depth:                                the nearest piece wins
 *
 * so after the last round every surviving rank holds one finished part of
 * the image, and the root gathers the parts (active pixels, 8 bits) into
 * its fb.  Bytes a rank sends: a round of k sends (k - 1)/k of its region,
 * so over all rounds less than the image, plus its final part once.
 *
 * Every buffer a frame needs is sized from the plan at create; a frame
 * allocates nothing.  MPI errors return (never abort) on a private
 * duplicate of the caller's communicator, and a frame ends with one
 * reduction so that every rank returns the same result.
 */
#include "zc/composite.h"
#include "zc/base.h"
#include "composite_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_GATHER = 1, TAG_ROUND = 2 };

/* The largest group a round may have (a prime rank count above it cannot
 * be split into smaller groups). */
#define MAX_GROUP 1024

struct zc_composite {
    MPI_Comm comm;
    int rank, size;
    struct zc_composite_config cfg;
    enum zc_composite_pixel wire;
    size_t npix;
    float *rgba, *depth;
    struct composite_plan plan;

    size_t maxk, maxpart, buf_cap;
    uint8_t *sendbuf, *recvbuf; /* maxk slots of buf_cap bytes each */
    float *scratch_rgba;        /* maxk slots of maxpart pixels */
    float *scratch_depth;
    MPI_Request *req;
    MPI_Status *status;

    zc_composite_sink sink;
    void *sink_arg;
    unsigned frame;
};

/* The grid of comm's bricks: 0, or -EINVAL unless comm has a 3-D Cartesian
 * topology.  comm returns errors, so a communicator without one is an
 * answer here, not an abort; asking the dimension count first needs no
 * MPI_Topo_test, which not every MPI implements (SimGrid's SMPI). */
static int read_grid(MPI_Comm comm, struct composite_grid *g)
{
    int ndims, periods[3], coords[3];
    if (MPI_Cartdim_get(comm, &ndims) != MPI_SUCCESS || ndims != 3 ||
        MPI_Cart_get(comm, 3, g->dims, periods, coords) != MPI_SUCCESS)
        return -EINVAL;
    MPI_Comm_size(comm, &g->size);
    MPI_Comm_rank(comm, &g->self);
    return 0;
}

static bool config_ok(const struct composite_grid *g, const struct zc_composite_config *cfg)
{
    if (cfg->width == 0 || cfg->height == 0 || cfg->width > 65536 || cfg->height > 65536 ||
        cfg->root < 0 || cfg->root >= g->size || cfg->k == 1 || cfg->k > 1024)
        return false;
    if (cfg->algo != ZC_COMPOSITE_BINARY_SWAP && cfg->algo != ZC_COMPOSITE_RADIX_K)
        return false;
    if (cfg->mode == ZC_COMPOSITE_OVER)
        return cfg->wire == ZC_PIXEL_RGBA8 || cfg->wire == ZC_PIXEL_RGBA16 ||
               cfg->wire == ZC_PIXEL_RGBA_AUTO;
    return cfg->mode == ZC_COMPOSITE_DEPTH;
}

/* Sizes the per-frame buffers from the plan. */
static int allocate_buffers(struct zc_composite *c)
{
    c->maxk = 1;
    c->maxpart = 0;
    for (unsigned i = 0; i < c->plan.nrounds; i++) {
        const struct composite_round *r = &c->plan.rounds[i];
        c->maxk = ZC_MAX(c->maxk, (size_t)r->nmembers);
        for (int j = 0; j < r->nmembers; j++) {
            size_t a, b;
            composite_part(r, j, &a, &b);
            c->maxpart = ZC_MAX(c->maxpart, b - a);
        }
    }
    if (c->rank == c->cfg.root)
        for (int r = 0; r < c->size; r++)
            c->maxpart = ZC_MAX(c->maxpart, c->plan.final_b[r] - c->plan.final_a[r]);
    c->maxpart = ZC_MAX(c->maxpart, c->plan.final_b[c->rank] - c->plan.final_a[c->rank]);
    c->buf_cap = ZC_MAX(zc_composite_encode_bound(c->wire, c->maxpart),
                        zc_composite_encode_bound(ZC_PIXEL_RGBA8, c->maxpart));
    if (c->wire == ZC_PIXEL_RGBA_AUTO)
        c->buf_cap = sizeof(uint32_t) + zc_composite_encode_bound(ZC_PIXEL_RGBA16, c->maxpart);
    c->sendbuf = malloc(c->maxk * c->buf_cap);
    c->recvbuf = malloc(c->maxk * c->buf_cap);
    c->scratch_rgba = malloc(c->maxk * c->maxpart * 4 * sizeof(float) + 1);
    if (c->cfg.mode == ZC_COMPOSITE_DEPTH)
        c->scratch_depth = malloc(c->maxk * c->maxpart * sizeof(float) + 1);
    c->req = calloc(2 * c->maxk, sizeof(*c->req));
    c->status = calloc(2 * c->maxk, sizeof(*c->status));
    if (!c->sendbuf || !c->recvbuf || !c->scratch_rgba || !c->req || !c->status ||
        (c->cfg.mode == ZC_COMPOSITE_DEPTH && !c->scratch_depth))
        return -ENOMEM;
    return 0;
}

int zc_composite_create(MPI_Comm cart, const struct zc_composite_config *cfg,
                        struct zc_composite **out)
{
    *out = NULL;
    struct zc_composite *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    if (MPI_Comm_dup(cart, &c->comm) != MPI_SUCCESS) {
        free(c);
        return -EIO;
    }
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    struct composite_grid grid;
    if (read_grid(c->comm, &grid) || !config_ok(&grid, cfg)) {
        MPI_Comm_free(&c->comm);
        free(c);
        return -EINVAL;
    }
    c->cfg = *cfg;
    if (c->cfg.k == 0)
        c->cfg.k = 8;
    c->wire = cfg->mode == ZC_COMPOSITE_DEPTH ? ZC_PIXEL_RGBA8_DEPTH : cfg->wire;
    c->npix = (size_t)cfg->width * cfg->height;
    c->rank = grid.self;
    c->size = grid.size;
    int err = composite_plan_make(&grid, c->cfg.algo, c->cfg.k, c->npix, &c->plan);
    if (!err)
        err = allocate_buffers(c);
    /* Group arrays are on the stack, and MPI counts are ints. */
    if (!err && (c->maxk > MAX_GROUP || c->buf_cap > INT_MAX))
        err = -EINVAL;
    if (!err) {
        c->rgba = calloc(c->npix * 4, sizeof(float));
        if (cfg->mode == ZC_COMPOSITE_DEPTH)
            c->depth = malloc(c->npix * sizeof(float));
        if (!c->rgba || (cfg->mode == ZC_COMPOSITE_DEPTH && !c->depth))
            err = -ENOMEM;
        for (size_t i = 0; !err && c->depth && i < c->npix; i++)
            c->depth[i] = INFINITY;
    }
    int all;
    if (MPI_Allreduce(&err, &all, 1, MPI_INT, MPI_MIN, c->comm) != MPI_SUCCESS)
        all = -EIO;
    if (all) {
        zc_composite_destroy(c);
        return all;
    }
    *out = c;
    return 0;
}

void zc_composite_destroy(struct zc_composite *c)
{
    if (!c)
        return;
    composite_plan_free(&c->plan);
    free(c->sendbuf);
    free(c->recvbuf);
    free(c->scratch_rgba);
    free(c->scratch_depth);
    free(c->req);
    free(c->status);
    free(c->rgba);
    free(c->depth);
    MPI_Comm_free(&c->comm);
    free(c);
}

float *zc_composite_rgba(struct zc_composite *c)
{
    return c->rgba;
}

float *zc_composite_depth(struct zc_composite *c)
{
    return c->depth;
}

void zc_composite_set_sink(struct zc_composite *c, zc_composite_sink sink, void *arg)
{
    c->sink = sink;
    c->sink_arg = arg;
}

/* Merges the k pieces of part [a, b) in visibility order into c->rgba. */
static void merge_over(struct zc_composite *c, const struct composite_round *r, const int *order,
                       size_t a, size_t b)
{
    const float *src[MAX_GROUP];
    for (size_t p = a; p < b; p++) {
        for (int t = 0; t < r->nmembers; t++) {
            int j = order[t];
            src[t] = j == r->me ? c->rgba + 4 * p
                                : c->scratch_rgba + ((size_t)j * c->maxpart + (p - a)) * 4;
        }
        float acc[4] = {0, 0, 0, 0};
        for (int t = 0; t < r->nmembers; t++) {
            float tr = 1.0f - acc[3];
            for (int ch = 0; ch < 4; ch++)
                acc[ch] += tr * src[t][ch];
        }
        memcpy(c->rgba + 4 * p, acc, sizeof(acc));
    }
}

static void merge_depth(struct zc_composite *c, const struct composite_round *r, size_t a, size_t b)
{
    for (size_t p = a; p < b; p++) {
        float best = c->depth[p];
        const float *col = NULL;
        for (int j = 0; j < r->nmembers; j++) {
            size_t at = (size_t)j * c->maxpart + (p - a);
            if (j == r->me || !(c->scratch_depth[at] < best))
                continue;
            best = c->scratch_depth[at];
            col = c->scratch_rgba + 4 * at;
        }
        if (col) {
            c->depth[p] = best;
            memcpy(c->rgba + 4 * p, col, 4 * sizeof(float));
        }
    }
}

/* Whether member x is in front of member y for a camera looking along
 * dir: along the first axis where their bricks differ, the ray meets the
 * lower position first when it travels towards +axis. */
static bool in_front(const struct composite_round *r, const double dir[3], int x, int y)
{
    for (int d = 0; d < 3; d++)
        if (r->coords[x][d] != r->coords[y][d])
            return dir[d] >= 0 ? r->coords[x][d] < r->coords[y][d]
                               : r->coords[x][d] > r->coords[y][d];
    return false;
}

/* The group's members front to back (insertion sort: groups are small). */
static void visibility_order(const struct composite_round *r, const double dir[3], int *order)
{
    for (int t = 0; t < r->nmembers; t++) {
        int u = t;
        for (; u > 0 && in_front(r, dir, t, order[u - 1]); u--)
            order[u] = order[u - 1];
        order[u] = t;
    }
}

/* One piece [a, b) of this rank's image into buf (buf_cap bytes) at the
 * wire's depth; with ZC_PIXEL_RGBA_AUTO a 4-byte tag names the depth chosen
 * (16 bits when that is no longer than the piece all active at 8).  The
 * bytes written, or -errno. */
static ssize_t encode_piece(struct zc_composite *c, size_t a, size_t b, uint8_t *buf)
{
    const float *rgba = c->rgba + 4 * a, *depth = c->depth ? c->depth + a : NULL;
    if (c->wire != ZC_PIXEL_RGBA_AUTO)
        return zc_composite_encode(c->wire, rgba, depth, b - a, buf, c->buf_cap);
    const size_t tag = sizeof(uint32_t);
    uint32_t px = ZC_PIXEL_RGBA16;
    ssize_t len = zc_composite_encode(px, rgba, NULL, b - a, buf + tag, c->buf_cap - tag);
    if (len > (ssize_t)zc_composite_encode_bound(ZC_PIXEL_RGBA8, b - a)) {
        px = ZC_PIXEL_RGBA8;
        len = zc_composite_encode(px, rgba, NULL, b - a, buf + tag, c->buf_cap - tag);
    }
    if (len < 0)
        return len;
    memcpy(buf, &px, tag);
    return (ssize_t)tag + len;
}

/* The inverse of encode_piece() for n pixels: 0 or -EBADMSG. */
static int decode_piece(const struct zc_composite *c, const uint8_t *buf, size_t len, size_t n,
                        float *rgba, float *depth)
{
    if (c->wire != ZC_PIXEL_RGBA_AUTO)
        return zc_composite_decode(c->wire, buf, len, n, rgba, depth);
    uint32_t px;
    if (len < sizeof(px))
        return -EBADMSG;
    memcpy(&px, buf, sizeof(px));
    if (px != ZC_PIXEL_RGBA8 && px != ZC_PIXEL_RGBA16)
        return -EBADMSG;
    return zc_composite_decode(px, buf + sizeof(px), len - sizeof(px), n, rgba, NULL);
}

/* One round of this rank's plan; accumulates bytes and the first error. */
static int run_round(struct zc_composite *c, unsigned idx, const double dir[3],
                     struct zc_composite_stats *st)
{
    const struct composite_round *r = &c->plan.rounds[idx];
    const int tag = TAG_ROUND + r->step;
    const bool receiver = !r->fold || r->me == 0;
    size_t ma, mb;
    composite_part(r, r->me, &ma, &mb);
    int nreq = 0, err = 0;

    if (receiver)
        for (int j = 0; j < r->nmembers; j++)
            if (j != r->me &&
                MPI_Irecv(c->recvbuf + (size_t)j * c->buf_cap, (int)c->buf_cap, MPI_BYTE,
                          r->members[j], tag, c->comm, &c->req[nreq++]) != MPI_SUCCESS)
                return -EIO;
    int nrecv = nreq;
    for (int j = 0; j < (r->fold ? 1 : r->nmembers); j++) {
        if (j == r->me)
            continue;
        size_t a, b;
        composite_part(r, j, &a, &b);
        uint8_t *buf = c->sendbuf + (size_t)j * c->buf_cap;
        ssize_t len = encode_piece(c, a, b, buf);
        if (len < 0)
            return (int)len;
        if (MPI_Isend(buf, (int)len, MPI_BYTE, r->members[j], tag, c->comm, &c->req[nreq++]) !=
            MPI_SUCCESS)
            return -EIO;
        st->bytes_sent += (uint64_t)len;
    }
    if (MPI_Waitall(nreq, c->req, c->status) != MPI_SUCCESS)
        return -EIO;
    if (!receiver)
        return 0;

    for (int j = 0, q = 0; j < r->nmembers && q < nrecv; j++) {
        if (j == r->me)
            continue;
        int count;
        MPI_Get_count(&c->status[q++], MPI_BYTE, &count);
        st->bytes_received += (uint64_t)count;
        float *depth = c->depth ? c->scratch_depth + (size_t)j * c->maxpart : NULL;
        int e = decode_piece(c, c->recvbuf + (size_t)j * c->buf_cap, (size_t)count, mb - ma,
                             c->scratch_rgba + (size_t)j * c->maxpart * 4, depth);
        if (e && !err)
            err = e;
    }
    if (err)
        return err;
    if (c->depth) {
        merge_depth(c, r, ma, mb);
        return 0;
    }
    int order[MAX_GROUP];
    visibility_order(r, dir, order);
    merge_over(c, r, order, ma, mb);
    return 0;
}

static void put_opaque(struct zc_fb *fb, size_t w, size_t p, const float *px)
{
    zc_fb_row(fb, (unsigned)(p / w))[p % w] =
        ZC_FB_RGBA(composite_to_u8(px[0]), composite_to_u8(px[1]), composite_to_u8(px[2]), 255);
}

/* The final parts to the root, 8 bits a channel, active pixels only. */
static int gather(struct zc_composite *c, struct zc_fb *fb, struct zc_composite_stats *st)
{
    const size_t fa = c->plan.final_a[c->rank], fb_ = c->plan.final_b[c->rank];
    if (c->rank != c->cfg.root) {
        if (fb_ == fa)
            return 0;
        ssize_t len = zc_composite_encode(ZC_PIXEL_RGBA8, c->rgba + 4 * fa, NULL, fb_ - fa,
                                          c->sendbuf, c->buf_cap);
        if (len < 0)
            return (int)len;
        st->bytes_sent += (uint64_t)len;
        return MPI_Send(c->sendbuf, (int)len, MPI_BYTE, c->cfg.root, TAG_GATHER, c->comm) ==
                       MPI_SUCCESS
                   ? 0
                   : -EIO;
    }
    int err = zc_fb_touch_rect(fb, 0, 0, c->cfg.width, c->cfg.height);
    for (size_t p = fa; p < fb_ && !err; p++)
        put_opaque(fb, c->cfg.width, p, c->rgba + 4 * p);
    for (int r = 0; r < c->size; r++) {
        size_t a = c->plan.final_a[r], b = c->plan.final_b[r];
        if (r == c->rank || a == b)
            continue;
        MPI_Status status;
        int count;
        if (MPI_Recv(c->recvbuf, (int)c->buf_cap, MPI_BYTE, r, TAG_GATHER, c->comm, &status) !=
            MPI_SUCCESS)
            return -EIO;
        MPI_Get_count(&status, MPI_BYTE, &count);
        st->bytes_received += (uint64_t)count;
        int e = zc_composite_decode(ZC_PIXEL_RGBA8, c->recvbuf, (size_t)count, b - a,
                                    c->scratch_rgba, NULL);
        for (size_t p = a; p < b && !e && !err; p++)
            put_opaque(fb, c->cfg.width, p, c->scratch_rgba + 4 * (p - a));
        if (e && !err)
            err = e;
    }
    return err;
}

int zc_composite_run(struct zc_composite *c, const double view_dir[3], struct zc_fb *fb,
                     struct zc_composite_stats *st)
{
    struct zc_composite_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    uint64_t t0 = zc_now_ns();

    int ok = 1;
    if (c->rank == c->cfg.root)
        ok = fb && zc_fb_width(fb) == c->cfg.width && zc_fb_height(fb) == c->cfg.height;
    if (MPI_Bcast(&ok, 1, MPI_INT, c->cfg.root, c->comm) != MPI_SUCCESS)
        return -EIO;
    if (!ok)
        return -EINVAL;

    /* A failed round still lets the later ones run (with what the rank
     * holds) so that no peer waits forever; the first error is kept. */
    int err = 0;
    for (unsigned i = 0; i < c->plan.nrounds; i++) {
        int e = run_round(c, i, view_dir, st);
        if (e && !err)
            err = e;
        st->rounds++;
    }
    int e = gather(c, fb, st);
    if (e && !err)
        err = e;
    int all;
    if (MPI_Allreduce(&err, &all, 1, MPI_INT, MPI_MIN, c->comm) != MPI_SUCCESS)
        all = -EIO;
    st->seconds = zc_ns_to_s(zc_now_ns() - t0);
    if (!all) {
        if (c->rank == c->cfg.root && c->sink)
            c->sink(c->sink_arg, fb, c->frame);
        c->frame++;
    }
    return all;
}

int zc_composite_to_fb(const float *rgba, struct zc_fb *fb)
{
    unsigned w = zc_fb_width(fb), h = zc_fb_height(fb);
    int err = zc_fb_touch_rect(fb, 0, 0, w, h);
    for (size_t p = 0; p < (size_t)w * h && !err; p++)
        put_opaque(fb, w, p, rgba + 4 * p);
    return err;
}
