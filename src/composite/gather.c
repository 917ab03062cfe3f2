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
 * A message is its subtree's parts as the ranks encoded them (never
 * decoded on the way), each offset's behind a result word:
 *
 *   +-----------+----------+-----------+-----------+----------+-----------+--
 *   | worst i32 | len: u32 | len bytes | worst i32 | len: u32 | len bytes | ...
 *   +-----------+----------+-----------+-----------+----------+-----------+--
 *     offset o: its subtree's worst        offset o + 1: its subtree's
 *     error, then its part                 message as it came
 *
 * (a rank that dropped out of the rounds has no part, and no length).
 * A child's message is its subtree's stretch of its parent's, so a
 * forwarder receives each child's message in place, in offset order
 * (probing its length first), and copies nothing: its own part goes in
 * front, and the worst of its own error and its children's first words
 * at the very front.  The root checks every word, and every length
 * against the part's pixels as it draws.  It so receives log2 N messages
 * and, once it has them all, knows the frame's result, which goes back
 * down the same tree (a broadcast: log2 N steps).  What a rank forwards is at most the whole
 * image at 8 bits (and the words), as the bytes into the root are
 * (zc/composite.h states the bound).
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

/* Bytes of a rank's part in a message at most: its length word and its
 * part's colour at 8 bits, or nothing when the rank holds no part. */
static size_t part_room(const struct composite_plan *plan, int rank)
{
    size_t n = plan->final_b[rank] - plan->final_a[rank];
    return n == 0 ? 0 : sizeof(uint32_t) + zc_composite_encode_bound(COMPOSITE_PIXEL_RGB8, n);
}

/* The message of the subtree [o, o + span) at most: a word and a part
 * an offset. */
static size_t message_room(const struct composite_gather *g, const struct composite_plan *plan,
                           size_t o, size_t span)
{
    size_t room = 0;
    for (size_t s = o; s < o + span; s++)
        room += sizeof(int32_t) + part_room(plan, rank_at(g, s));
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
    if (!g->child || !g->child_offset || !g->slot || !g->req)
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
    /* The root receives into slots; a forwarder, into its own message. */
    if (g->parent < 0)
        g->recv = malloc(g->slot[n] + 1);
    else
        g->msg = malloc(g->cap);
    return g->recv || g->msg ? 0 : -ENOMEM;
}

void composite_gather_free(struct composite_gather *g)
{
    free(g->child);
    free(g->child_offset);
    free(g->slot);
    free(g->req);
    free(g->recv);
    free(g->msg);
    memset(g, 0, sizeof(*g));
}

int composite_gather_post(struct composite_gather *g, MPI_Comm comm, int tag)
{
    for (int i = 0; i < g->nchildren && g->parent < 0; i++)
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
static int read_worst(int32_t e)
{
    return e <= 0 && e > -4096 ? (int)e : -EBADMSG;
}

static int worse(int a, int b)
{
    return ZC_MIN(a, b);
}

/* Child i's message, received in place at msg + *at (its length probed
 * first, so that it lands right after what came before it); the worst of
 * err and its first word.  A message that does not fit, or is shorter
 * than a word, is still consumed, and counts as malformed. */
static int take_child(struct composite_gather *g, MPI_Comm comm, int tag, int i, int err,
                      size_t *at, struct zc_composite_stats *st)
{
    MPI_Status status;
    int count = 0;
    /* The probed message is the one received: a child sends one a frame,
     * and its next cannot overtake it.  (MPI_Mprobe would say so without
     * the argument, but not every MPI implements it: SimGrid's SMPI.) */
    if (MPI_Probe(g->child[i], tag, comm, &status) != MPI_SUCCESS)
        return worse(err, -EIO);
    MPI_Get_count(&status, MPI_BYTE, &count);
    const size_t room = g->cap - *at;
    const bool fits = count >= (int)sizeof(int32_t) && (size_t)count <= room;
    const int take = fits ? count : (int)ZC_MIN(room, (size_t)ZC_MAX(count, 0));
    if (MPI_Recv(g->msg + *at, take, MPI_BYTE, g->child[i], tag, comm, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS &&
        fits)
        return worse(err, -EIO);
    st->gather_received += (uint64_t)count;
    if (!fits)
        return worse(err, -EBADMSG);
    int32_t w;
    memcpy(&w, g->msg + *at, sizeof(w));
    *at += (size_t)count;
    return worse(err, read_worst(w));
}

int composite_gather_forward(struct composite_gather *g, MPI_Comm comm, int tag, int err,
                             size_t len, struct zc_composite_stats *st)
{
    size_t at = sizeof(int32_t);
    if (g->own_room) {
        uint32_t n = (uint32_t)len;
        memcpy(g->msg + at, &n, sizeof(n));
        at += sizeof(n) + len;
    }
    for (int i = 0; i < g->nchildren; i++)
        err = take_child(g, comm, tag, i, err, &at, st);
    int32_t w = err;
    memcpy(g->msg, &w, sizeof(w));
    st->gather_sent += at;
    if (MPI_Send(g->msg, (int)at, MPI_BYTE, g->parent, tag, comm) != MPI_SUCCESS)
        return -EIO;
    return err;
}

int composite_gather_verdict(struct composite_gather *g, MPI_Comm comm, int tag, int err)
{
    int32_t w = err;
    if (g->parent >= 0)
        w = MPI_Recv(&w, sizeof(w), MPI_BYTE, g->parent, tag, comm, MPI_STATUS_IGNORE) ==
                    MPI_SUCCESS
                ? read_worst(w)
                : -EIO;
    bool sent = true;
    /* The largest subtree first: it has the longest way down. */
    for (int i = g->nchildren - 1; i >= 0; i--)
        sent = MPI_Send(&w, sizeof(w), MPI_BYTE, g->child[i], tag, comm) == MPI_SUCCESS && sent;
    return sent ? w : -EIO;
}

/* Reads a 4-byte word at *in (len bytes left): false when short. */
static bool take_word(const uint8_t **in, size_t *len, void *word)
{
    if (*len < sizeof(uint32_t))
        return false;
    memcpy(word, *in, sizeof(uint32_t));
    *in += sizeof(uint32_t);
    *len -= sizeof(uint32_t);
    return true;
}

/* One child's message (its subtree from offset o): every word checked,
 * every part handed to draw (NULL: none) and checked against its pixels
 * there.  The worst error it reports, or -EBADMSG when malformed; no part
 * is drawn once an error is known. */
static int draw_message(const struct composite_gather *g, const struct composite_plan *plan,
                        size_t o, const uint8_t *in, size_t len, composite_part_fn draw, void *arg)
{
    const size_t end = o + ZC_MIN(low_bit(o, g->size), g->size - o);
    int err = 0;
    for (size_t s = o; s < end; s++) {
        const int r = rank_at(g, s);
        const size_t a = plan->final_a[r], b = plan->final_b[r];
        int32_t w;
        uint32_t n;
        if (!take_word(&in, &len, &w))
            return -EBADMSG;
        err = worse(err, read_worst(w));
        if (a == b)
            continue;
        if (!take_word(&in, &len, &n) || n > len)
            return -EBADMSG;
        if (!err && draw)
            err = draw(arg, a, b, in, n);
        in += n;
        len -= n;
    }
    return len == 0 ? err : -EBADMSG;
}

int composite_gather_collect(struct composite_gather *g, const struct composite_plan *plan, int err,
                             composite_part_fn draw, void *arg, struct zc_composite_stats *st)
{
    /* Each message is drawn as it arrives, while the others travel. */
    for (int left = g->nchildren; left > 0; left--) {
        int i, count;
        MPI_Status status;
        const int rc = MPI_Waitany(g->nchildren, g->req, &i, &status);
        if (i == MPI_UNDEFINED)
            return -EIO;
        /* A message longer than its slot (truncated) is malformed; its
         * request is done all the same, and the others still wanted. */
        if (rc != MPI_SUCCESS) {
            err = worse(err, -EBADMSG);
            continue;
        }
        MPI_Get_count(&status, MPI_BYTE, &count);
        st->gather_received += (uint64_t)count;
        err = worse(err, draw_message(g, plan, g->child_offset[i], g->recv + g->slot[i],
                                      (size_t)count, err ? NULL : draw, arg));
    }
    return err;
}
