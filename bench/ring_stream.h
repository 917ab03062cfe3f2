/* ring_stream.h - the two-process streaming engine behind `zc bench ring`
 * and `zc demo`: a producer (this process) and a consumer (a child) move
 * generated messages through the zc ring, a pipe or a UNIX stream socket,
 * the producer writing and the consumer reading every byte, the consumer's
 * checksum proving that it saw exactly what was written.
 */
#ifndef ZC_BENCH_RING_STREAM_H
#define ZC_BENCH_RING_STREAM_H

#include "plot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* STREAM_RING is the split virtqueue, STREAM_RING_PACKED the packed one
 * (ZC_RING_F_RING_PACKED), same engine otherwise. */
enum stream_transport { STREAM_RING, STREAM_PIPE, STREAM_UNIX, STREAM_DPDK, STREAM_RING_PACKED };

/* Is t one of the zc ring's formats? */
static inline bool stream_is_ring(enum stream_transport t)
{
    return t == STREAM_RING || t == STREAM_RING_PACKED;
}

struct stream_cfg {
    enum stream_transport transport;
    size_t msg_size;      /* bytes per message: a multiple of 8, 8..64 MiB */
    unsigned batch;       /* ring: messages staged per submit (1..256) */
    uint64_t duration_ns; /* stop after this long ... */
    uint64_t total_bytes; /* ... or after this many bytes (when non-zero) */
    bool progress;        /* a progress line on a TTY (total_bytes runs) */
};

struct stream_result {
    uint64_t msgs;    /* messages the consumer took and verified */
    uint64_t bytes;   /* their payload bytes */
    uint64_t ns;      /* from the first message to the consumer's report */
    uint64_t wakeups; /* ring: kicks and calls both ends sent (eventfd writes) */
};

/* Most runs stream_measure() takes a median over. */
#define STREAM_MAX_RUNS 15

/* The median figures of several runs. */
struct stream_figures {
    double msgs_per_s;
    double bytes_per_s;
    double wakeups_per_msg; /* ring only */
    /* Each run's rates, run r of every stream of one stream_measure_set()
     * being in the same round (so a ratio of two streams' run r compares
     * them under the same load). */
    unsigned runs;
    double run_msgs_per_s[STREAM_MAX_RUNS];
    double run_bytes_per_s[STREAM_MAX_RUNS];
};

/* Runs one stream with producer and consumer pinned on two CPUs (when two
 * are allowed).  0 with res filled in, -EBADMSG when the consumer's
 * checksum or count disagrees with what was sent, -errno. */
int stream_run(const struct stream_cfg *cfg, struct stream_result *res);

/* The same over DPDK's rte_ring (ring_dpdk.c): -ENOTSUP when zc was built
 * without DPDK; stream_have_dpdk() says which. */
int stream_run_dpdk(const struct stream_cfg *cfg, struct stream_result *res);
bool stream_have_dpdk(void);

/* ---- the data every transport carries ---- */
#define WORD_STEP 0x9e3779b97f4a7c15ull

/* Message seq: the 64-bit words seq * WORD_STEP + i. */
static inline void fill_msg(uint64_t *w, size_t words, uint64_t seq)
{
    uint64_t base = seq * WORD_STEP;
    for (size_t i = 0; i < words; i++)
        w[i] = base + i;
}

/* The sum of message seq's words, in closed form. */
static inline uint64_t expected_sum(size_t words, uint64_t seq)
{
    uint64_t n = words;
    return n * (seq * WORD_STEP) + n * (n - 1) / 2;
}

static inline uint64_t sum_msg(const uint64_t *w, size_t words)
{
    uint64_t s = 0;
    for (size_t i = 0; i < words; i++)
        s += w[i];
    return s;
}

/* The medians over runs (1..STREAM_MAX_RUNS) of stream_run().  0 or -errno. */
int stream_measure(const struct stream_cfg *cfg, unsigned runs, struct stream_figures *f);

/* Called before each run of stream_measure_set(): done runs of total. */
typedef void (*stream_progress_fn)(size_t done, size_t total, const struct stream_cfg *next,
                                   void *arg);

/* stream_measure() for n streams at once, run round-robin (each stream's
 * first run, then each one's second ...) so that outside load spreads
 * over all of them; out[k] for cfgs[k].  progress may be NULL.  0 or -errno. */
int stream_measure_set(const struct stream_cfg *cfgs, size_t n, unsigned runs,
                       struct stream_figures *out, stream_progress_fn progress, void *arg);

/* 64-byte request/reply round trips: the ring (either format) with both
 * ends spinning (spin true) or blocking on eventfds, or a pipe pair
 * (transport STREAM_PIPE).  0 with the median round trip in *median_ns, -errno. */
int stream_rtt(enum stream_transport transport, bool spin, unsigned rounds, double *median_ns);

/* Least-squares fit of cost = a + b / batch over n points.  0, or -EINVAL
 * for fewer than two distinct batch sizes. */
int stream_fit(const unsigned *batch, const double *ns_per_msg, size_t n, double *a, double *b);

/* Draws ns per message against batch size (log2 axis) with the fitted
 * curve into plot (bench_plot_open()ed before the measurement) and
 * publishes it; see bench_plot_draw(). */
int stream_plot_batch(struct bench_plot *plot, const unsigned *batch, const double *ns_per_msg,
                      size_t n, double a, double b, double pipe_ns);

#endif
