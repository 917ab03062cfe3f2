/* gather.c - the final parts up a tree to the root, and the frame's
 * result in the same messages.
 *
 * The idea: after the last round every rank holds one finished part of
 * the image.  Sending all of them straight to the root makes the root
 * post, wait for and handle N - 1 messages, one after another, which at
 * scale costs more than every round together.  Instead the parts travel
 * up a tree over the ranks' offsets from the root, written in base r
 * (a radix-r, "k-nomial", tree; r = 2 is the binomial one):
 *
 *   offset o's parent:    o with its lowest nonzero digit cleared
 *   offset o's children:  o + j r^l, j = 1 .. r - 1, for each r^l below
 *                         o's lowest nonzero digit's place
 *   offset o's subtree:   the offsets [o, o + min(that place, N - o))
 *
 *        0 <- 1                 N = 8, r = 2: the root gets 3 messages
 *        0 <- 2 <- 3            (1, 2, 4), each carrying its subtree's
 *        0 <- 4 <- 5            parts in offset order, so that every
 *             4 <- 6 <- 7       message is one range of offsets.
 *
 * r is 2^ceil(b/2) for N <= 2^b, so the tree is two levels deep (32 at
 * 1024 ranks: 62 messages reach the root, each rank of the second level
 * collects 31): a part is forwarded once, and the bytes stored and sent
 * on along the way are 1/r of the image a message, where a binomial
 * tree's top messages carry half of it, then a quarter..., each waiting
 * for the one below.
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
 * forwarder copies each child's message as it came behind its own part,
 * in offset order, and puts the worst of its own error and its children's
 * first words at the very front.  (Receiving each in place, its length
 * probed first, would spare that copy of 1/r of the image; but SimGrid's
 * SMPI charges every MPI_Probe its smpi/iprobe time, 0.1 ms by default,
 * which made a radix-32 gather cost 3.3 ms at 1024 simulated ranks, and
 * does not implement MPI_Mprobe.)  The root checks every word, and every
 * length against the part's pixels as it draws.  Once it has all 2 (r - 1)
 * messages it knows the frame's result, which goes back down a binomial
 * tree over the same offsets (a broadcast: log2 N steps, none with more
 * than log2 N messages to send).  What a rank forwards is at most the
 * whole image at 8 bits (and the words), as the bytes into the root are
 * (zc/composite.h states the bound).
 */
#include "composite_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The place of offset o's lowest nonzero digit in base radix: its
 * subtree's span before the end of the offsets; for the root, beyond
 * every offset. */
static size_t digit_place(size_t o, size_t n, size_t radix)
{
    size_t step = 1;
    if (o == 0) {
        while (step < n)
            step *= radix;
        return step;
    }
    while (o % (step * radix) == 0)
        step *= radix;
    return step;
}

/* Offset o's parent (o > 0), its lowest nonzero digit cleared. */
static size_t parent_offset(size_t o, size_t n, size_t radix)
{
    size_t step = digit_place(o, n, radix);
    return o - (o / step % radix) * step;
}

/* Offset o's children in offset order into out (NULL: only counted). */
static size_t child_offsets(size_t o, size_t n, size_t radix, size_t *out)
{
    const size_t place = digit_place(o, n, radix);
    size_t k = 0;
    for (size_t step = 1; step < place && o + step < n; step *= radix)
        for (size_t j = 1; j < radix && o + j * step < n; j++, k++)
            if (out)
                out[k] = o + j * step;
    return k;
}

/* The gather's radix for n ranks: 2^ceil(b/2) where n <= 2^b. */
static size_t gather_radix(size_t n)
{
    unsigned b = 0;
    while (((size_t)1 << b) < n)
        b++;
    return (size_t)1 << ((b + 1) / 2 > 0 ? (b + 1) / 2 : 1);
}

static int rank_at(const struct composite_gather *g, size_t o)
{
    return (int)(((size_t)g->root + o) % g->size);
}

static size_t digit_place(size_t o, size_t n, size_t radix);

/* Offsets in offset o's subtree of the gather's tree. */
static size_t subtree_span(const struct composite_gather *g, size_t o)
{
    return ZC_MIN(digit_place(o, g->size, g->radix), g->size - o);
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
    g->radix = gather_radix(g->size);
    g->parent = g->offset == 0 ? -1 : rank_at(g, parent_offset(g->offset, g->size, g->radix));
    /* The verdict's tree: binomial, as deep as log2 N but each rank
     * sending at most that many messages (r - 1 a level in the gather's). */
    g->verdict_parent = g->offset == 0 ? -1 : rank_at(g, parent_offset(g->offset, g->size, 2));
    size_t vchild[64];
    g->nverdict = (int)child_offsets(g->offset, g->size, 2, vchild);
    for (int i = 0; i < g->nverdict; i++)
        g->verdict_child[i] = rank_at(g, vchild[i]);
    const size_t n = child_offsets(g->offset, g->size, g->radix, NULL);
    g->nchildren = (int)n;
    g->child = calloc(n + 1, sizeof(*g->child));
    g->child_offset = calloc(n + 1, sizeof(*g->child_offset));
    g->slot = calloc(n + 1, sizeof(*g->slot));
    g->req = calloc(n + 1, sizeof(*g->req));
    g->status = calloc(n + 1, sizeof(*g->status));
    if (!g->child || !g->child_offset || !g->slot || !g->req || !g->status)
        return -ENOMEM;
    child_offsets(g->offset, g->size, g->radix, g->child_offset);
    for (size_t i = 0; i < n; i++) {
        const size_t o = g->child_offset[i];
        g->child[i] = rank_at(g, o);
        size_t room = message_room(g, plan, o, subtree_span(g, o));
        if (room > INT_MAX)
            return -EINVAL;
        g->slot[i + 1] = g->slot[i] + room;
    }
    g->own_room = part_room(plan, self);
    g->cap = message_room(g, plan, g->offset, subtree_span(g, g->offset));
    if (g->cap > INT_MAX)
        return -EINVAL;
    /* Children's messages land in slots; a forwarder's own goes out of msg. */
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
static int read_worst(int32_t e)
{
    return e <= 0 && e > -4096 ? (int)e : -EBADMSG;
}

static int worse(int a, int b)
{
    return ZC_MIN(a, b);
}

/* Whether a completed receive (rc: what the wait returned for the lot)
 * went wrong: a message longer than its slot is truncated. */
static bool failed(int rc, const MPI_Status *status)
{
    return rc != MPI_SUCCESS && (rc != MPI_ERR_IN_STATUS || status->MPI_ERROR != MPI_SUCCESS);
}

/* Child i's message, arrived in its slot (rc and status: its wait's), and
 * copied to msg + *at, after what came before it (the copy is 1/r of the
 * image at most); the worst of err and its first word.  A message longer
 * than its slot (truncated), or shorter than a word, is malformed. */
static int take_child(struct composite_gather *g, int i, int rc, int err, size_t *at,
                      struct zc_composite_stats *st)
{
    const MPI_Status *status = &g->status[i];
    int count = 0;
    if (failed(rc, status))
        return worse(err, -EBADMSG);
    MPI_Get_count(status, MPI_BYTE, &count);
    st->gather_received += (uint64_t)count;
    if (count < (int)sizeof(int32_t))
        return worse(err, -EBADMSG);
    const uint8_t *in = g->recv + g->slot[i];
    int32_t w;
    memcpy(&w, in, sizeof(w));
    /* Fits: the slot is the child's subtree's room in this message. */
    memcpy(g->msg + *at, in, (size_t)count);
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
    /* All children at once, then one pass of copies: one wait, not one a
     * child, each of which would let other work take the caches. */
    const int rc = MPI_Waitall(g->nchildren, g->req, g->status);
    for (int i = 0; i < g->nchildren; i++)
        err = take_child(g, i, rc, err, &at, st);
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
    if (g->verdict_parent >= 0)
        w = MPI_Recv(&w, sizeof(w), MPI_BYTE, g->verdict_parent, tag, comm, MPI_STATUS_IGNORE) ==
                    MPI_SUCCESS
                ? read_worst(w)
                : -EIO;
    bool sent = true;
    /* The largest subtree first: it has the longest way down. */
    for (int i = g->nverdict - 1; i >= 0; i--)
        sent = MPI_Send(&w, sizeof(w), MPI_BYTE, g->verdict_child[i], tag, comm) == MPI_SUCCESS &&
               sent;
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
    const size_t end = o + subtree_span(g, o);
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
    /* Each message is drawn as it arrives, while the others travel.  (One
     * MPI_Waitsome for the messages that came together would make fewer
     * calls, but SimGrid's SMPI charges it as it does MPI_Test: the gather
     * took 3.0 ms instead of 0.75 at 256 simulated ranks.) */
    for (int left = g->nchildren; left > 0; left--) {
        int i, count;
        const int rc = MPI_Waitany(g->nchildren, g->req, &i, &g->status[0]);
        if (i == MPI_UNDEFINED)
            return -EIO;
        /* A message longer than its slot (truncated) is malformed; its
         * request is done all the same, and the others still wanted. */
        if (rc != MPI_SUCCESS) {
            err = worse(err, -EBADMSG);
            continue;
        }
        MPI_Get_count(&g->status[0], MPI_BYTE, &count);
        st->gather_received += (uint64_t)count;
        err = worse(err, draw_message(g, plan, g->child_offset[i], g->recv + g->slot[i],
                                      (size_t)count, err ? NULL : draw, arg));
    }
    return err;
}
