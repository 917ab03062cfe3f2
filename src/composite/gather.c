/* gather.c - the final parts up a tree to the root, and the frame's
 * result in the same messages.
 *
 * The idea: after the last round every rank holds one finished part of
 * the image.  Sending all of them straight to the root makes the root
 * post, wait for and handle N - 1 messages, one after another, which at
 * scale costs more than every round together.  Instead the parts travel
 * up a binomial tree over the ranks' offsets from the root:
 *
 *   offset o's parent:    o with its lowest set bit cleared
 *   offset o's children:  o + 1, o + 2, o + 4, ... below o's lowest set bit
 *   offset o's subtree:   the offsets [o, o + min(lowbit(o), N - o))
 *
 *        0 <- 1                 N = 8: the root gets 3 messages (1, 2, 4),
 *        0 <- 2 <- 3            each carrying its subtree's parts, in
 *        0 <- 4 <- 5            offset order, so that every message is
 *             4 <- 6 <- 7       one range of offsets.
 *
 * A message is this rank's subtree's parts, as the ranks encoded them
 * (no decoding on the way, only copying), behind the subtree's worst
 * error:
 *
 *   +------------+-----------+------------+-----------+------------+--
 *   | worst: i32 | len: u32  | len bytes  | len: u32  | len bytes  | ...
 *   +------------+-----------+------------+-----------+------------+--
 *                  offset o's part          offset o + 1's part
 *
 * (a rank that dropped out of the rounds has no part, and no length).
 * A forwarder keeps the worst of its own error and its children's words
 * and passes the rest on as it came; the root checks every length
 * against the part's pixels as it draws.  The root so receives log2 N
 * messages, and once it has them all it knows the frame's result, which
 * one broadcast tells every rank.  What a rank forwards is counted in its
 * gather bytes: together at most the whole image at 8 bits, the bytes
 * into the root (zc_composite.h states the bound).
 */
#include "composite_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The lowest set bit of o; for the root (offset 0), beyond every offset. */
static size_t low_bit(size_t o, size_t n)
{
    if (o == 0) {
        size_t b = 1;
        while (b < n)
            b *= 2;
        return b;
    }
    return o & (~o + 1);
}

static int rank_at(const struct composite_gather *g, size_t o)
{
    return (int)(((size_t)g->root + o) % g->size);
}

/* Bytes of offset o's part in a message at most: its length word and
 * its part at 8 bits, or nothing when the rank holds no part. */
static size_t part_room(const struct composite_plan *plan, int rank)
{
    size_t n = plan->final_b[rank] - plan->final_a[rank];
    return n == 0 ? 0 : sizeof(uint32_t) + zc_composite_encode_bound(ZC_PIXEL_RGBA8, n);
}

/* The message of the subtree [o, o + span) at most. */
static size_t message_room(const struct composite_gather *g, const struct composite_plan *plan,
                           size_t o, size_t span)
{
    size_t room = sizeof(int32_t);
    for (size_t s = o; s < o + span; s++)
        room += part_room(plan, rank_at(g, s));
    return room;
}

int composite_gather_make(struct composite_gather *g, const struct composite_plan *plan, int size,
                          int self, int root)
{
    memset(g, 0, sizeof(*g));
    g->size = (size_t)size;
    g->root = root;
    g->offset = ((size_t)self + g->size - (size_t)root) % g->size;
    g->parent = g->offset == 0 ? -1 : rank_at(g, g->offset & (g->offset - 1));
    const size_t low = low_bit(g->offset, g->size);
    size_t n = 0;
    for (size_t step = 1; step < low && g->offset + step < g->size; step *= 2)
        n++;
    g->nchildren = (int)n;
    g->child = calloc(n + 1, sizeof(*g->child));
    g->child_offset = calloc(n + 1, sizeof(*g->child_offset));
    g->slot = calloc(n + 1, sizeof(*g->slot));
    g->req = calloc(n + 1, sizeof(*g->req));
    g->status = calloc(n + 1, sizeof(*g->status));
    if (!g->child || !g->child_offset || !g->slot || !g->req || !g->status)
        return -ENOMEM;
    for (size_t i = 0, step = 1; i < n; i++, step *= 2) {
        size_t o = g->offset + step;
        g->child[i] = rank_at(g, o);
        g->child_offset[i] = o;
        size_t room = message_room(g, plan, o, ZC_MIN(step, g->size - o));
        if (room > INT_MAX)
            return -EINVAL;
        g->slot[i + 1] = g->slot[i] + room;
    }
    g->own_room = part_room(plan, self);
    g->cap = message_room(g, plan, g->offset, ZC_MIN(low, g->size - g->offset));
    if (g->cap > INT_MAX)
        return -EINVAL;
    g->recv = malloc(g->slot[n] + 1);
    g->msg = g->parent < 0 ? NULL : malloc(g->cap);
    return g->recv && (g->parent < 0 || g->msg) ? 0 : -ENOMEM;
}

void composite_gather_free(struct composite_gather *g)
{
    free(g->child);
    free(g->child_offset);
    free(g->slot);
    free(g->req);
    free(g->status);
    free(g->recv);
    free(g->msg);
    memset(g, 0, sizeof(*g));
}

int composite_gather_post(struct composite_gather *g, MPI_Comm comm, int tag)
{
    for (int i = 0; i < g->nchildren; i++)
        if (MPI_Irecv(g->recv + g->slot[i], (int)(g->slot[i + 1] - g->slot[i]), MPI_BYTE,
                      g->child[i], tag, comm, &g->req[i]) != MPI_SUCCESS)
            return -EIO;
    return 0;
}

uint8_t *composite_gather_part(struct composite_gather *g, size_t *cap)
{
    *cap = g->own_room ? g->own_room - sizeof(uint32_t) : 0;
    return g->own_room ? g->msg + sizeof(int32_t) + sizeof(uint32_t) : NULL;
}

/* A peer's error word: 0 or a negative errno, else the message is bad. */
static int read_worst(const uint8_t *in)
{
    int32_t e;
    memcpy(&e, in, sizeof(e));
    return e <= 0 && e > -4096 ? (int)e : -EBADMSG;
}

static int worse(int a, int b)
{
    return ZC_MIN(a, b);
}

int composite_gather_forward(struct composite_gather *g, MPI_Comm comm, int tag, int err,
                             size_t len, struct zc_composite_stats *st)
{
    /* Statuses after a failed wait say nothing: the error word alone. */
    const bool got =
        g->nchildren == 0 || MPI_Waitall(g->nchildren, g->req, g->status) == MPI_SUCCESS;
    if (!got)
        err = worse(err, -EIO);
    size_t at = sizeof(int32_t);
    if (g->own_room && got) {
        uint32_t n = (uint32_t)len;
        memcpy(g->msg + at, &n, sizeof(n));
        at += sizeof(n) + len;
    }
    for (int i = 0; i < g->nchildren && got; i++) {
        int count = 0;
        MPI_Get_count(&g->status[i], MPI_BYTE, &count);
        st->gather_received += (uint64_t)count;
        if (count < (int)sizeof(int32_t)) {
            err = worse(err, -EBADMSG);
            continue;
        }
        const uint8_t *in = g->recv + g->slot[i];
        err = worse(err, read_worst(in));
        /* Within cap: each child's message fits its slot, which is its
         * subtree's room in this rank's. */
        memcpy(g->msg + at, in + sizeof(int32_t), (size_t)count - sizeof(int32_t));
        at += (size_t)count - sizeof(int32_t);
    }
    int32_t w = err;
    memcpy(g->msg, &w, sizeof(w));
    st->gather_sent += at;
    if (MPI_Send(g->msg, (int)at, MPI_BYTE, g->parent, tag, comm) != MPI_SUCCESS)
        return -EIO;
    return err;
}

/* The parts of one child's message (its subtree from offset o, message
 * bytes after the error word) to draw, each checked against its pixels. */
static int draw_message(const struct composite_gather *g, const struct composite_plan *plan,
                        size_t o, const uint8_t *in, size_t len, composite_part_fn draw, void *arg)
{
    const size_t end = o + ZC_MIN(low_bit(o, g->size), g->size - o);
    for (size_t s = o; s < end; s++) {
        const int r = rank_at(g, s);
        const size_t a = plan->final_a[r], b = plan->final_b[r];
        if (a == b)
            continue;
        uint32_t n;
        if (len < sizeof(n))
            return -EBADMSG;
        memcpy(&n, in, sizeof(n));
        in += sizeof(n);
        len -= sizeof(n);
        if (n > len)
            return -EBADMSG;
        int err = draw(arg, a, b, in, n);
        if (err)
            return err;
        in += n;
        len -= n;
    }
    return len == 0 ? 0 : -EBADMSG;
}

int composite_gather_collect(struct composite_gather *g, const struct composite_plan *plan, int err,
                             composite_part_fn draw, void *arg, struct zc_composite_stats *st)
{
    /* Each message is drawn as it arrives, while the others travel. */
    for (int left = g->nchildren; left > 0; left--) {
        int i, count;
        MPI_Status status;
        if (MPI_Waitany(g->nchildren, g->req, &i, &status) != MPI_SUCCESS || i == MPI_UNDEFINED)
            return -EIO;
        MPI_Get_count(&status, MPI_BYTE, &count);
        st->gather_received += (uint64_t)count;
        const uint8_t *in = g->recv + g->slot[i];
        if (count < (int)sizeof(int32_t)) {
            err = worse(err, -EBADMSG);
            continue;
        }
        err = worse(err, read_worst(in));
        if (!err)
            err = draw_message(g, plan, g->child_offset[i], in + sizeof(int32_t),
                               (size_t)count - sizeof(int32_t), draw, arg);
    }
    return err;
}
