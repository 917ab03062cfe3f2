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
 * the image, and the parts (active pixels, colour at 8 bits) travel up a
 * two-level tree to the root (gather.c), which draws them into its fb.  Bytes a rank
 * sends: a round of k sends (k - 1)/k of its region, so over all rounds
 * less than the image, plus its final part once, plus the parts of its
 * subtree it forwards (at most the image at 8 bits).
 *
 * Work follows the active pixels: one walk over the rendered tile (over
 * the caller's bounds only, when it gave them) finds its spans of possibly
 * active pixels, and from there encoding, decoding and merging walk spans
 * only (a received piece keeps its runs as spans, its pixels packed), so a
 * sparse piece costs what its active pixels cost; the root draws only the
 * active pixels of the final image.  The images and the bytes are the
 * same as walking every pixel.
 *
 * Every buffer a frame needs is sized from the plan at create; a frame
 * allocates nothing.  MPI errors return (never abort) on a private
 * duplicate of the caller's communicator.  Every rank's error travels up
 * the gather tree with its part, so the root knows the frame's result
 * when it has the image, and one broadcast makes it every rank's.
 */
#include "zc/composite.h"
#include "zc/base.h"
#include "composite_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { TAG_VERDICT = 0, TAG_GATHER = 1, TAG_ROUND = 2 };

struct zc_composite {
    MPI_Comm comm;
    int rank, size;
    struct zc_composite_config cfg;
    enum zc_composite_pixel wire;
    size_t npix;
    float *rgba, *depth;
    struct composite_plan plan;

    size_t maxk, maxpart, buf_cap, span_cap;
    uint8_t *sendbuf, *recvbuf; /* maxk slots of buf_cap bytes each */
    float *scratch_rgba;        /* maxk slots of maxpart pixels */
    float *scratch_depth;
    MPI_Request *req;
    MPI_Status *status;
    int *order;      /* a group's visibility order */
    size_t *sendlen; /* each piece's encoded bytes */

    struct composite_gather gather; /* the final parts' tree (gather.c) */

    /* This rank's image as spans (npix / 2 + 1 of them at most), each
     * received piece's (slot j: span_cap, pixels compact in scratch slot
     * j), and two lists for their union (span_cap each). */
    struct composite_span *spans, *piece_spans, *union_spans[2];
    size_t nspans, *piece_nspans;

    struct zc_composite_rect bounds; /* where the rendered tile may be active */

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
        cfg->root < 0 || cfg->root >= g->size || cfg->k == 1 || cfg->k > 65536)
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
    c->order = calloc(c->maxk, sizeof(*c->order));
    c->sendlen = calloc(c->maxk, sizeof(*c->sendlen));
    /* Spans are separated by empty pixels: at most n / 2 + 1 in n pixels. */
    c->span_cap = c->maxpart / 2 + 1;
    c->spans = malloc((c->npix / 2 + 1) * sizeof(*c->spans));
    c->piece_spans = malloc(c->maxk * c->span_cap * sizeof(*c->piece_spans));
    c->piece_nspans = calloc(c->maxk, sizeof(*c->piece_nspans));
    for (int u = 0; u < 2; u++)
        c->union_spans[u] = malloc(c->span_cap * sizeof(*c->union_spans[u]));
    if (!c->sendbuf || !c->recvbuf || !c->scratch_rgba || !c->req || !c->status || !c->order ||
        !c->sendlen || !c->spans || !c->piece_spans || !c->piece_nspans || !c->union_spans[0] ||
        !c->union_spans[1] || (c->cfg.mode == ZC_COMPOSITE_DEPTH && !c->scratch_depth))
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
    c->bounds = (struct zc_composite_rect){0, 0, cfg->width, cfg->height};
    c->rank = grid.self;
    c->size = grid.size;
    int err = composite_plan_make(&grid, c->cfg.algo, c->cfg.k, c->npix, &c->plan);
    if (!err)
        err = allocate_buffers(c);
    if (!err)
        err = composite_gather_make(&c->gather, &c->plan, c->size, c->rank, c->cfg.root);
    /* MPI counts are ints. */
    if (!err && c->buf_cap > INT_MAX)
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
    free(c->order);
    free(c->sendlen);
    composite_gather_free(&c->gather);
    free(c->spans);
    free(c->piece_spans);
    free(c->piece_nspans);
    free(c->union_spans[0]);
    free(c->union_spans[1]);
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

int zc_composite_set_bounds(struct zc_composite *c, const struct zc_composite_rect *r)
{
    if (!r) {
        c->bounds = (struct zc_composite_rect){0, 0, c->cfg.width, c->cfg.height};
        return 0;
    }
    if (r->x1 < r->x0 || r->y1 < r->y0 || r->x1 > c->cfg.width || r->y1 > c->cfg.height)
        return -EINVAL;
    c->bounds = *r;
    return 0;
}

void zc_composite_set_sink(struct zc_composite *c, zc_composite_sink sink, void *arg)
{
    c->sink = sink;
    c->sink_arg = arg;
}

/* Pixel p is active somewhere in this frame's image: any colour, or in
 * depth mode any depth but +INFINITY (what the encoder sends). */
static inline bool maybe_active(const struct zc_composite *c, size_t p)
{
    const float *px = c->rgba + 4 * p;
#if defined(__SSE2__)
    /* cmpneq: true for NaN, false for -0, as the scalar test */
    if (_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(px), _mm_setzero_ps())))
        return true;
#else
    if (px[0] != 0 || px[1] != 0 || px[2] != 0 || px[3] != 0)
        return true;
#endif
    return c->depth && c->depth[p] != INFINITY;
}

/* Appends [a, b) to the sorted list out (n spans), joining it to the last
 * span when they touch or overlap. */
static void append_span(struct composite_span *out, size_t *n, size_t a, size_t b)
{
    if (*n > 0 && a <= out[*n - 1].b) {
        out[*n - 1].b = ZC_MAX(out[*n - 1].b, b);
        return;
    }
    out[(*n)++] = (struct composite_span){a, b, a};
}

/* Rows find_spans() asks for ahead of the one it walks. */
enum { SCAN_AHEAD = 4 };

/* Asks for row y of the bounds, a cache line (4 pixels) at a time. */
static void prefetch_row(const struct zc_composite *c, size_t y)
{
    const float *row = c->rgba + 4 * (y * c->cfg.width);
    for (size_t x = c->bounds.x0; x < c->bounds.x1; x += 4)
        __builtin_prefetch(row + 4 * x);
    if (c->depth)
        for (size_t x = c->bounds.x0; x < c->bounds.x1; x += 16)
            __builtin_prefetch(c->depth + y * c->cfg.width + x);
}

/* The spans of the rendered tile: the one walk over its pixels a frame
 * makes, over the rows and columns of the bounds only (the caller vouches
 * that the rest is empty); from here on, work follows the active pixels.
 * A span ending at a row's end joins one starting the next row. */
static void find_spans(struct zc_composite *c)
{
    const struct zc_composite_rect *r = &c->bounds;
    c->nspans = 0;
    for (size_t y = r->y0; y < r->y1; y++) {
        /* The tile is cold here (rendered a while ago, or by another
         * thread): ask for a row ahead while this one is walked, so the
         * walk waits on memory once per frame, not once per row. */
        if (y == r->y0)
            for (size_t ahead = y; ahead < ZC_MIN(y + SCAN_AHEAD, (size_t)r->y1); ahead++)
                prefetch_row(c, ahead);
        if (y + SCAN_AHEAD < r->y1)
            prefetch_row(c, y + SCAN_AHEAD);
        const size_t end = y * c->cfg.width + r->x1;
        for (size_t p = y * c->cfg.width + r->x0; p < end;) {
            while (p < end && !maybe_active(c, p))
                p++;
            size_t a = p;
            while (p < end && maybe_active(c, p))
                p++;
            if (p > a)
                append_span(c->spans, &c->nspans, a, p);
        }
    }
}

static struct composite_spans own_image(const struct zc_composite *c)
{
    return (struct composite_spans){c->spans, c->nspans, c->rgba, c->depth};
}

static struct composite_spans piece_image(const struct zc_composite *c, int j)
{
    return (struct composite_spans){c->piece_spans + (size_t)j * c->span_cap, c->piece_nspans[j],
                                    c->scratch_rgba + (size_t)j * c->maxpart * 4,
                                    c->depth ? c->scratch_depth + (size_t)j * c->maxpart : NULL};
}

/* The union of x's spans within [a, b) and y's into out; its count. */
static size_t union_spans(const struct composite_spans *x, const struct composite_spans *y,
                          size_t a, size_t b, struct composite_span *out)
{
    size_t n = 0, i = 0, j = 0;
    while (i < x->n && x->span[i].b <= a)
        i++;
    for (;;) {
        bool xi = i < x->n && x->span[i].a < b, yj = j < y->n;
        if (!xi && !yj)
            return n;
        if (xi && (!yj || x->span[i].a <= y->span[j].a)) {
            append_span(out, &n, ZC_MAX(x->span[i].a, a), ZC_MIN(x->span[i].b, b));
            i++;
        } else {
            append_span(out, &n, y->span[j].a, y->span[j].b);
            j++;
        }
    }
}

/* The union of this rank's spans in [a, b) and every received piece's:
 * where the merged part may be active.  Returns it (in c->union_spans). */
static struct composite_spans merged_spans(struct zc_composite *c, const struct composite_round *r,
                                           size_t a, size_t b)
{
    struct composite_spans u = own_image(c);
    int at = 0;
    for (int j = 0; j < r->nmembers; j++) {
        if (j == r->me)
            continue;
        struct composite_spans piece = piece_image(c, j);
        size_t n = union_spans(&u, &piece, a, b, c->union_spans[at]);
        u = (struct composite_spans){c->union_spans[at], n, c->rgba, c->depth};
        at = 1 - at;
    }
    return u;
}

/* This rank's spans become u (its image outside u is empty). */
static void keep_spans(struct zc_composite *c, const struct composite_spans *u)
{
    memmove(c->spans, u->span, u->n * sizeof(*u->span));
    c->nspans = u->n;
}

/* dst += (1 - dst.a) * src over n pixels, the transparency taken before
 * any channel changes: a multiply then an add a channel, never fused, so
 * every path gives the same floats. */
static void blend_over(float *dst, const float *src, size_t n)
{
#if defined(__SSE2__)
    const __m128 one = _mm_set1_ps(1.0f);
    for (size_t i = 0; i < n; i++, dst += 4, src += 4) {
        __m128 d = _mm_loadu_ps(dst);
        __m128 tr = _mm_sub_ps(one, _mm_shuffle_ps(d, d, _MM_SHUFFLE(3, 3, 3, 3)));
        _mm_storeu_ps(dst, _mm_add_ps(d, _mm_mul_ps(tr, _mm_loadu_ps(src))));
    }
#else
    for (size_t i = 0; i < n; i++, dst += 4, src += 4) {
        float tr = 1.0f - dst[3];
        for (int ch = 0; ch < 4; ch++)
            dst[ch] += tr * src[ch];
    }
#endif
}

/* Merges the k pieces of part [a, b) in visibility order into c->rgba,
 * pixel by pixel front to back over the union of their spans:
 *   acc += (1 - acc.a) * piece
 * A piece's empty pixel would add exactly nothing, so only its spans are
 * walked; acc (scratch slot me, free in a round) starts at 0 over the
 * union, and the sums are the same, in the same order, as over every
 * pixel. */
static void merge_over(struct zc_composite *c, const struct composite_round *r, const int *order,
                       size_t a, size_t b)
{
    float *acc = c->scratch_rgba + (size_t)r->me * c->maxpart * 4;
    struct composite_spans u = merged_spans(c, r, a, b);
    for (size_t i = 0; i < u.n; i++)
        memset(acc + 4 * (u.span[i].a - a), 0, (u.span[i].b - u.span[i].a) * 4 * sizeof(float));
    for (int t = 0; t < r->nmembers; t++) {
        int j = order[t];
        struct composite_spans img = j == r->me ? own_image(c) : piece_image(c, j);
        for (size_t i = 0; i < img.n; i++) {
            const struct composite_span *s = &img.span[i];
            const size_t lo = ZC_MAX(s->a, a), hi = ZC_MIN(s->b, b);
            if (lo < hi)
                blend_over(acc + 4 * (lo - a), img.rgba + 4 * (s->off + (lo - s->a)), hi - lo);
        }
    }
    for (size_t i = 0; i < u.n; i++)
        memcpy(c->rgba + 4 * u.span[i].a, acc + 4 * (u.span[i].a - a),
               (u.span[i].b - u.span[i].a) * 4 * sizeof(float));
    keep_spans(c, &u);
}

/* The nearest piece wins, the earlier member on a tie, this rank's own
 * pixel before any other: in place, over each piece's spans. */
static void merge_depth(struct zc_composite *c, const struct composite_round *r, size_t a, size_t b)
{
    for (int j = 0; j < r->nmembers; j++) {
        if (j == r->me)
            continue;
        struct composite_spans img = piece_image(c, j);
        for (size_t i = 0; i < img.n; i++) {
            const struct composite_span *s = &img.span[i];
            for (size_t p = s->a; p < s->b; p++) {
                size_t at = s->off + (p - s->a);
                if (img.depth[at] < c->depth[p]) {
                    c->depth[p] = img.depth[at];
                    memcpy(c->rgba + 4 * p, img.rgba + 4 * at, 4 * sizeof(float));
                }
            }
        }
    }
    struct composite_spans u = merged_spans(c, r, a, b);
    keep_spans(c, &u);
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
    const struct composite_spans img = own_image(c);
    if (c->wire != ZC_PIXEL_RGBA_AUTO)
        return composite_encode_spans(c->wire, &img, a, b, buf, c->buf_cap);
    const size_t tag = sizeof(uint32_t);
    uint32_t px = ZC_PIXEL_RGBA16;
    ssize_t len = composite_encode_spans(px, &img, a, b, buf + tag, c->buf_cap - tag);
    if (len > (ssize_t)zc_composite_encode_bound(ZC_PIXEL_RGBA8, b - a)) {
        px = ZC_PIXEL_RGBA8;
        len = composite_encode_spans(px, &img, a, b, buf + tag, c->buf_cap - tag);
    }
    if (len < 0)
        return len;
    memcpy(buf, &px, tag);
    return (ssize_t)tag + len;
}

/* Where a received piece's runs go: spans (from pixel origin) with their
 * pixels packed one after another. */
struct piece_writer {
    enum zc_composite_pixel px;
    size_t origin, npixels, nspans;
    struct composite_span *spans;
    float *rgba, *depth;
};

static void keep_run(void *arg, size_t at, size_t count, const uint8_t *pixels)
{
    struct piece_writer *w = arg;
    composite_unpack(w->px, pixels, count, w->rgba + 4 * w->npixels,
                     w->depth ? w->depth + w->npixels : NULL);
    size_t a = w->origin + at;
    if (w->nspans > 0 && w->spans[w->nspans - 1].b == a)
        w->spans[w->nspans - 1].b += count;
    else
        w->spans[w->nspans++] = (struct composite_span){a, a + count, w->npixels};
    w->npixels += count;
}

/* The inverse of encode_piece() for part [a, b) into slot j: 0 or
 * -EBADMSG. */
static int decode_piece(struct zc_composite *c, int j, const uint8_t *buf, size_t len, size_t a,
                        size_t b)
{
    enum zc_composite_pixel px = c->wire;
    if (c->wire == ZC_PIXEL_RGBA_AUTO) {
        uint32_t tag;
        if (len < sizeof(tag))
            return -EBADMSG;
        memcpy(&tag, buf, sizeof(tag));
        if (tag != ZC_PIXEL_RGBA8 && tag != ZC_PIXEL_RGBA16)
            return -EBADMSG;
        px = tag;
        buf += sizeof(tag);
        len -= sizeof(tag);
    }
    struct piece_writer w = {.px = px,
                             .origin = a,
                             .spans = c->piece_spans + (size_t)j * c->span_cap,
                             .rgba = c->scratch_rgba + (size_t)j * c->maxpart * 4,
                             .depth = c->depth ? c->scratch_depth + (size_t)j * c->maxpart : NULL};
    int err = composite_decode_runs(px, buf, len, b - a, keep_run, &w);
    c->piece_nspans[j] = err ? 0 : w.nspans;
    return err;
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
    /* Every piece is encoded before the first is sent: one stretch of
     * work over this rank's spans, not one between each two sends (each
     * MPI call may let other work run, and the next stretch then starts
     * with caches that work has taken). */
    const int nsend = r->fold ? 1 : r->nmembers;
    for (int j = 0; j < nsend; j++) {
        if (j == r->me)
            continue;
        size_t a, b;
        composite_part(r, j, &a, &b);
        ssize_t len = encode_piece(c, a, b, c->sendbuf + (size_t)j * c->buf_cap);
        if (len < 0)
            return (int)len;
        c->sendlen[j] = (size_t)len;
    }
    for (int j = 0; j < nsend; j++) {
        if (j == r->me)
            continue;
        if (MPI_Isend(c->sendbuf + (size_t)j * c->buf_cap, (int)c->sendlen[j], MPI_BYTE,
                      r->members[j], tag, c->comm, &c->req[nreq++]) != MPI_SUCCESS)
            return -EIO;
        st->bytes_sent += c->sendlen[j];
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
        int e = decode_piece(c, j, c->recvbuf + (size_t)j * c->buf_cap, (size_t)count, ma, mb);
        if (e && !err)
            err = e;
    }
    if (err)
        return err;
    if (c->depth) {
        merge_depth(c, r, ma, mb);
        return 0;
    }
    visibility_order(r, dir, c->order);
    merge_over(c, r, c->order, ma, mb);
    return 0;
}

static void put_opaque(struct zc_fb *fb, size_t w, size_t p, const float *px)
{
    zc_fb_row(fb, (unsigned)(p / w))[p % w] =
        ZC_FB_RGBA(composite_to_u8(px[0]), composite_to_u8(px[1]), composite_to_u8(px[2]), 255);
}

/* The root's own final part [a, b) into fb (already opaque black): its
 * spans only, since an empty pixel is black there. */
static void draw_own(struct zc_composite *c, struct zc_fb *fb, size_t a, size_t b)
{
    for (size_t i = 0; i < c->nspans; i++)
        for (size_t p = ZC_MAX(c->spans[i].a, a); p < ZC_MIN(c->spans[i].b, b); p++)
            put_opaque(fb, c->cfg.width, p, c->rgba + 4 * p);
}

/* Where a received final part's runs go: straight into fb, since a final
 * part's 8-bit colour is the opaque pixel's (quantized once, by the
 * sender): a run is a copy that sets alpha. */
struct fb_writer {
    struct zc_fb *fb;
    size_t width, origin;
};

static void draw_run(void *arg, size_t at, size_t count, const uint8_t *pixels)
{
    const struct fb_writer *w = arg;
    /* Row by row: one row lookup a row, not a division a pixel. */
    for (size_t p = w->origin + at; count > 0;) {
        size_t x = p % w->width, n = ZC_MIN(count, w->width - x);
        uint32_t *row = zc_fb_row(w->fb, (unsigned)(p / w->width)) + x;
        /* Four bytes a load, the fourth (the next pixel's, or the byte
         * after this row's last pixel, never past the run's last but one)
         * overwritten with alpha; a pixel is R, G, B, A in memory. */
        const size_t fast = count > n ? n : n - 1;
        size_t k = 0;
        for (; k < fast; k++, pixels += 3) {
            uint32_t px;
            memcpy(&px, pixels, sizeof(px));
            row[k] = px | ZC_FB_RGBA(0, 0, 0, 255);
        }
        for (; k < n; k++, pixels += 3)
            row[k] = ZC_FB_RGBA(pixels[0], pixels[1], pixels[2], 255);
        p += n;
        count -= n;
    }
}

/* composite_gather_collect()'s drawer: part [a, b) into the fb. */
static int draw_part(void *arg, size_t a, size_t b, const uint8_t *part, size_t len)
{
    struct fb_writer w = *(const struct fb_writer *)arg;
    w.origin = a;
    return composite_decode_runs(COMPOSITE_PIXEL_RGB8, part, len, b - a, draw_run, &w);
}

/* The root's side of the gather: fills fb with opaque black while the
 * children's messages travel (only active pixels are drawn after that:
 * the root's work follows them too), draws its own part, then each
 * message as it comes.  The frame's result: the worst of err and every
 * rank's. */
static int gather_root(struct zc_composite *c, struct zc_fb *fb, int err,
                       struct zc_composite_stats *st)
{
    if (!err)
        err = zc_fb_fill_rect(fb, 0, 0, c->cfg.width, c->cfg.height, ZC_FB_RGBA(0, 0, 0, 255));
    if (!err)
        draw_own(c, fb, c->plan.final_a[c->rank], c->plan.final_b[c->rank]);
    struct fb_writer w = {fb, c->cfg.width, 0};
    return composite_gather_collect(&c->gather, &c->plan, err, draw_part, &w, st);
}

/* Elsewhere: this rank's part (colour at 8 bits, active pixels only) and its
 * subtree's, to its parent in the tree; the subtree's worst error. */
static int gather_part(struct zc_composite *c, int err, struct zc_composite_stats *st)
{
    size_t cap, len = 0;
    uint8_t *buf = composite_gather_part(&c->gather, &cap);
    if (buf) {
        const struct composite_spans img = own_image(c);
        ssize_t n = composite_encode_spans(COMPOSITE_PIXEL_RGB8, &img, c->plan.final_a[c->rank],
                                           c->plan.final_b[c->rank], buf, cap);
        if (n < 0 && !err)
            err = (int)n;
        len = n < 0 ? 0 : (size_t)n;
    }
    return composite_gather_forward(&c->gather, c->comm, TAG_GATHER, err, len, st);
}

static double seconds_since(uint64_t *t)
{
    uint64_t now = zc_now_ns();
    double s = zc_ns_to_s(now - *t);
    *t = now;
    return s;
}

/* The frame's phases; every error, and a wrong fb at the root, travels
 * up the gather tree, so no phase is skipped and no peer waits forever;
 * the root's verdict is then broadcast, so every rank returns it. */
int zc_composite_run(struct zc_composite *c, const double view_dir[3], struct zc_fb *fb,
                     struct zc_composite_stats *st)
{
    struct zc_composite_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    const uint64_t t0 = zc_now_ns();
    uint64_t t = t0;

    const bool root = c->rank == c->cfg.root;
    int err = 0;
    if (root && !(fb && zc_fb_width(fb) == c->cfg.width && zc_fb_height(fb) == c->cfg.height))
        err = -EINVAL;
    find_spans(c);
    st->spans_seconds = seconds_since(&t);
    for (unsigned i = 0; i < c->plan.nrounds; i++) {
        int e = run_round(c, i, view_dir, st);
        if (e && !err)
            err = e;
        st->rounds++;
    }
    st->rounds_seconds = seconds_since(&t);
    /* Posted once the rounds are done, not before them: posting costs a
     * receive's overhead each (r - 1 of them, 2 (r - 1) at the root) that
     * would delay this rank's rounds, and with them its partners'; the
     * children's parts (1/r of the image at most) come eagerly anyway. */
    if (composite_gather_post(&c->gather, c->comm, TAG_GATHER))
        err = -EIO;
    err = root ? gather_root(c, fb, err, st) : gather_part(c, err, st);
    st->bytes_sent += st->gather_sent;
    st->bytes_received += st->gather_received;
    st->gather_seconds = seconds_since(&t);
    err = composite_gather_verdict(&c->gather, c->comm, TAG_VERDICT, err);
    st->agree_seconds = seconds_since(&t);
    st->seconds = zc_ns_to_s(t - t0);
    if (!err) {
        if (root && c->sink)
            c->sink(c->sink_arg, fb, c->frame);
        c->frame++;
    }
    return err;
}

int zc_composite_to_fb(const float *rgba, struct zc_fb *fb)
{
    unsigned w = zc_fb_width(fb), h = zc_fb_height(fb);
    int err = zc_fb_touch_rect(fb, 0, 0, w, h);
    for (size_t p = 0; p < (size_t)w * h && !err; p++)
        put_opaque(fb, w, p, rgba + 4 * p);
    return err;
}
