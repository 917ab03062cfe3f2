/* test_composite_gather.c - the final gather's tree delivers every part
 * exactly once, forwards nothing twice, and brings the worst error to the
 * root, whatever the rank count (powers of two or not) and the root.
 *
 * Run under mpirun with any rank count.  Each rank's final part is a
 * slice of a synthetic image (a few ranks hold none, as ranks that
 * dropped out of the rounds do), encoded as the compositor does (colour
 * at 8 bits); the tree is driven directly on MPI_COMM_WORLD.  The root
 * must see each slice once, with its pixels; each rank must send exactly
 * its subtree's parts (the radix-r tree over offsets from the root, r =
 * 2^ceil(b/2) for N <= 2^b: offset o's subtree is [o, o + the place of
 * its lowest nonzero digit in base r), within N); an error given
 * at the deepest rank, and hostile messages (a bad error word, a short
 * message, a length past the end, one longer than its room), must reach
 * the root as the frame's result, and the root's result every rank.
 */
#include "../../src/composite/composite_internal.h"
#include "zc/base.h"
#include "zc_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { NPIX = 300, TAG = 7 };

static int rank, size;

/* Rank r's slice of the image; ranks 2 and 5 hold none. */
static void slice(int r, size_t *a, size_t *b)
{
    *a = NPIX * (size_t)r / (size_t)size;
    *b = r == 2 || r == 5 ? *a : NPIX * ((size_t)r + 1) / (size_t)size;
}

/* Pixel p of the synthetic image: every third one empty. */
static void pixel(size_t p, float out[4])
{
    for (int ch = 0; ch < 4; ch++)
        out[ch] = p % 3 == 0 ? 0.0f : (float)((p * 7 + (size_t)ch * 13) % 256) / 255.0f;
}

static size_t plan_final_a[64], plan_final_b[64];

static struct composite_plan fake_plan(void)
{
    for (int r = 0; r < size; r++)
        slice(r, &plan_final_a[r], &plan_final_b[r]);
    return (struct composite_plan){NULL, 0, plan_final_a, plan_final_b};
}

/* Rank r's part as it encodes it: its length (into buf when not NULL). */
static size_t encode_slice(int r, uint8_t *buf, size_t cap)
{
    size_t a, b;
    slice(r, &a, &b);
    const size_t cap_needed = zc_composite_encode_bound(COMPOSITE_PIXEL_RGB8, b - a);
    float *rgba = calloc((b - a) * 4 + 1, sizeof(float));
    uint8_t *tmp = malloc(cap_needed);
    CHECK(rgba && tmp);
    for (size_t p = a; p < b; p++)
        pixel(p, rgba + 4 * (p - a));
    const struct composite_span all = {a, b, 0};
    const struct composite_spans img = {&all, 1, rgba, NULL};
    ssize_t n = composite_encode_spans(COMPOSITE_PIXEL_RGB8, &img, a, b, tmp, cap_needed);
    CHECK(n > 0);
    if (buf) {
        CHECK((size_t)n <= cap);
        memcpy(buf, tmp, (size_t)n);
    }
    free(rgba);
    free(tmp);
    return (size_t)n;
}

/* The root's record of what arrived. */
struct seen {
    unsigned times[NPIX];
    int bad;
    size_t origin;
    bool hit[NPIX]; /* in the part being read: a run held it */
};

/* A run of a part: each pixel's colour as the encoder quantized it. */
static void check_run(void *arg, size_t at, size_t count, const uint8_t *pixels)
{
    struct seen *s = arg;
    for (size_t p = s->origin + at; p < s->origin + at + count; p++, pixels += 3) {
        float want[4];
        pixel(p, want);
        for (int ch = 0; ch < 3; ch++)
            s->bad += composite_to_u8(want[ch]) != pixels[ch];
        s->hit[p] = true;
    }
}

/* A part: every active pixel (all but every third) in one of its runs,
 * its pixels counted once. */
static int record(void *arg, size_t a, size_t b, const uint8_t *part, size_t len)
{
    struct seen *s = arg;
    s->origin = a;
    memset(s->hit, 0, sizeof(s->hit));
    int err = composite_decode_runs(COMPOSITE_PIXEL_RGB8, part, len, b - a, check_run, s);
    for (size_t p = a; p < b && !err; p++) {
        s->bad += p % 3 != 0 && !s->hit[p];
        s->times[p]++;
    }
    return err;
}

/* The tree's radix: 2^ceil(b/2) for size <= 2^b. */
static size_t radix(void)
{
    unsigned b = 0;
    while ((1u << b) < (unsigned)size)
        b++;
    return (size_t)1 << ((b + 1) / 2 ? (b + 1) / 2 : 1);
}

/* Offset o's subtree: [o, o + span), the span the place of o's lowest
 * nonzero digit in base radix(). */
static size_t span(size_t o)
{
    size_t r = radix(), step = 1;
    if (o == 0)
        return (size_t)size;
    while (o % (step * r) == 0)
        step *= r;
    return ZC_MIN(step, (size_t)size - o);
}

/* What offset o sends: for each offset of its subtree a 4-byte word and,
 * where the rank holds a part, the part with a 4-byte length. */
static uint64_t expected_sent(int root, size_t o)
{
    uint64_t n = 0;
    size_t end = o + span(o);
    for (size_t s = o; s < end; s++) {
        int r = (int)(((size_t)root + s) % (size_t)size);
        size_t a, b;
        slice(r, &a, &b);
        n += 4 + (b > a ? 4 + encode_slice(r, NULL, 0) : 0);
    }
    return n;
}

/* The tree for root, its receives posted, st cleared; returns the plan. */
static struct composite_plan start(struct composite_gather *g, int root,
                                   struct zc_composite_stats *st)
{
    struct composite_plan plan = fake_plan();
    CHECK_OK(composite_gather_make(g, &plan, size, rank, root));
    CHECK_OK(composite_gather_post(g, MPI_COMM_WORLD, TAG));
    memset(st, 0, sizeof(*st));
    return plan;
}

/* A rank other than the root: its slice and its subtree's, behind err;
 * the length of its part into *len. */
static int send_slice(struct composite_gather *g, int err, struct zc_composite_stats *st,
                      size_t *len)
{
    size_t cap, a, b;
    uint8_t *part = composite_gather_part(g, &cap);
    slice(rank, &a, &b);
    CHECK_EQ(part != NULL, b > a);
    *len = part ? encode_slice(rank, part, cap) : 0;
    return composite_gather_forward(g, MPI_COMM_WORLD, TAG, err, *len, st);
}

/* The root's checks of a gather without faults: each part once, exactly
 * the bytes of its children's subtrees. */
static void check_root(const struct composite_plan *plan, int root, const struct seen *s,
                       const struct zc_composite_stats *st)
{
    unsigned want_times[NPIX] = {0};
    for (int r = 0; r < size; r++)
        for (size_t p = plan->final_a[r]; r != root && p < plan->final_b[r]; p++)
            want_times[p]++;
    for (size_t p = 0; p < NPIX; p++)
        CHECK_EQ(s->times[p], want_times[p]);
    CHECK_EQ(s->bad, 0);
    /* The root's children: o = j r^l; together every other offset. */
    uint64_t want = 0;
    for (size_t step = 1; step < (size_t)size; step *= radix())
        for (size_t o = step; o < step * radix() && o < (size_t)size; o += step)
            want += expected_sent(root, o);
    CHECK_EQ(st->gather_received, want);
}

/* One gather with root; rank `faulty` forwards error `fault`, the root
 * starts from root_err.  Returns the root's result (0 elsewhere). */
static int gather_once(int root, int faulty, int fault, int root_err)
{
    struct composite_gather g;
    struct zc_composite_stats st;
    struct composite_plan plan = start(&g, root, &st);
    int result = 0;
    if (rank == root) {
        struct seen s;
        memset(&s, 0, sizeof(s));
        result = composite_gather_collect(&g, &plan, root_err, record, &s, &st);
        if (!result)
            check_root(&plan, root, &s, &st);
        for (size_t p = 0; root_err && p < NPIX; p++)
            CHECK_EQ(s.times[p], 0); /* nothing drawn once an error is known */
    } else {
        size_t len, a, b;
        CHECK(send_slice(&g, rank == faulty ? fault : 0, &st, &len) <= 0);
        size_t o = ((size_t)rank + (size_t)size - (size_t)root) % (size_t)size;
        CHECK_EQ(st.gather_sent, expected_sent(root, o));
        /* Everything it received, it forwarded: its own share is its
         * word and its part. */
        slice(rank, &a, &b);
        CHECK_EQ(st.gather_sent - st.gather_received, 4 + (b > a ? 4 + len : 0));
    }
    /* The root's result down the tree: every rank's. */
    int verdict = composite_gather_verdict(&g, MPI_COMM_WORLD, TAG + 1, result), lo, hi;
    MPI_Allreduce(&verdict, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&verdict, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    CHECK_EQ(lo, hi);
    if (rank == root)
        CHECK_EQ(verdict, result);
    composite_gather_free(&g);
    return result;
}

/* Every root, no faults: every pixel of every part once. */
static void test_every_root(void)
{
    for (int root = 0; root < size; root++)
        CHECK_EQ(gather_once(root, -1, 0, 0), 0);
}

/* The deepest rank's error (the offset with the most nonzero digits:
 * that many messages away) reaches the root, and the worse of two wins. */
static void test_errors_travel(void)
{
    if (size < 2)
        return;
    int root = size / 2, deepest = root, most = 0;
    for (size_t o = 1; o < (size_t)size; o++) {
        int digits = 0;
        for (size_t x = o; x; x /= radix())
            digits += x % radix() != 0;
        if (digits > most) {
            most = digits;
            deepest = (int)((root + o) % (size_t)size);
        }
    }
    int r = gather_once(root, deepest, -EIO, 0);
    if (rank == root)
        CHECK_EQ(r, -EIO);
    r = gather_once(0, size - 1, -EBADMSG, -EINVAL);
    if (rank == 0)
        CHECK_EQ(r, -EBADMSG);
    r = gather_once(0, size - 1, -EIO, -EINVAL);
    if (rank == 0)
        CHECK_EQ(r, -EINVAL);
}

/* A hostile leaf: instead of its message, rank `from` (1: a child of the
 * root; radix() + 1: of rank radix(), a forwarder) sends raw bytes to its
 * parent; the root's result is -EBADMSG and nothing past a message is
 * read or written. */
static void hostile(int from, const void *msg, int len)
{
    if (size <= from)
        return;
    struct composite_gather g;
    struct zc_composite_stats st;
    struct composite_plan plan = start(&g, 0, &st);
    if (rank == 0) {
        struct seen s;
        memset(&s, 0, sizeof(s));
        CHECK_EQ(composite_gather_collect(&g, &plan, 0, record, &s, &st), -EBADMSG);
    } else if (rank == from) {
        CHECK_EQ(g.nchildren, 0); /* an odd offset is a leaf */
        MPI_Send(msg, len, MPI_BYTE, g.parent, TAG, MPI_COMM_WORLD);
    } else {
        size_t n;
        send_slice(&g, 0, &st, &n);
    }
    composite_gather_free(&g);
}

static void test_hostile_messages(void)
{
    if (size < 2)
        return;
    /* A leaf's message is its word and its part alone. */
    static uint8_t msg[4096];
    int32_t word = 5; /* not an errno */
    memcpy(msg, &word, 4);
    const int fwd = (int)radix() + 1; /* a forwarder's child */
    for (int from = 1; from <= fwd; from += fwd - 1) {
        hostile(from, msg, 4);
        hostile(from, msg, 2); /* shorter than the word */
    }
    word = 0;
    uint32_t len = 1000; /* past the message's end */
    memcpy(msg, &word, 4);
    memcpy(msg + 4, &len, 4);
    hostile(1, msg, 16);
    hostile(fwd, msg, 16);
    len = 4; /* a part too short to be a part */
    memcpy(msg + 4, &len, 4);
    memset(msg + 8, 0, 4);
    hostile(1, msg, 12);
    /* Longer than the room for it: consumed, not written past, and no
     * receive left behind (the next gathers still work). */
    hostile(fwd, msg, (int)sizeof(msg));
    hostile(1, msg, (int)sizeof(msg));
    CHECK_EQ(gather_once(0, -1, 0, 0), 0);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    CHECK(size <= 64);
    /* As on the compositor's own communicator: errors return. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    RUN(test_every_root);
    RUN(test_errors_travel);
    RUN(test_hostile_messages);
    MPI_Finalize();
    return 0;
}
