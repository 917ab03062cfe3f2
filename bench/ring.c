/* ring.c - `zc bench ring`: the shared-memory virtqueue, split and packed
 * (VIRTIO_F_RING_PACKED), against a pipe and a UNIX stream socket (and
 * DPDK's rte_ring where built), every peer in the same run, two processes
 * on two CPUs.
 *
 *   1. 64-byte messages with notifications on, batch sizes 1, 2, 4 ... 256,
 *      and the fit cost per message = a + b / B (a: what a message costs,
 *      b: what a batch costs: index publish, barrier, maybe a wake-up);
 *      the pipe and the socket move the same messages one write each.
 *   2. 4 KiB, 64 KiB and 1 MiB messages: the producer writes and the
 *      consumer reads every byte (in place on the ring, through a buffer
 *      and two kernel copies on a pipe or a socket).
 *   3. 64-byte round trips: the ring spinning (both formats), the ring
 *      blocking on its eventfds, and a pipe pair.
 * Each figure is the median of --runs runs; the consumer verifies every
 * message (ring_stream.c), so a figure is never that of a broken stream.
 */
#include "cli.h"
#include "bench.h"
#include "ring_stream.h"
#include "zc/base.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBATCH 9
#define NSIZES 3

static const unsigned batches[NBATCH] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
static const size_t sizes[NSIZES] = {4096, 65536, 1 << 20};
static const char *const size_names[NSIZES] = {"4KiB", "64KiB", "1MiB"};

struct opts {
    bool json;
    const char *plot;
    unsigned runs;
    uint64_t run_ns;
};

#define NDPDK 4
static const unsigned dpdk_batches[NDPDK] = {1, 8, 64, 256}; /* ring batches 0, 3, 6, 8 */
static const unsigned dpdk_vs[NDPDK] = {0, 3, 6, 8};

struct figures {
    struct stream_figures ring64[NBATCH], pipe64, unix64;
    struct stream_figures ring[NSIZES], pipe[NSIZES], unix_[NSIZES];
    struct stream_figures packed64[NBATCH], packed[NSIZES]; /* the packed format */
    bool dpdk; /* DPDK's rte_ring measured (built with it) */
    struct stream_figures dpdk64[NDPDK], dpdk_[NSIZES];
    double ns64[NBATCH];                  /* ns per 64 B message on the ring */
    double a, b;                          /* the fit, ns */
    double rtt_spin, rtt_block, rtt_pipe; /* ns */
    double rtt_packed_spin;               /* ns */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: zc bench ring [--json] [--plot FILE.png] [--runs N] [--time MS]\n\n"
               "The zc ring, split and packed, against a pipe, a UNIX stream socket and\n"
               "(where zc was built with libdpdk) DPDK's rte_ring, two processes pinned\n"
               "on two CPUs: 64 B message rate at batch 1..256 (fit a + b/B), 4 KiB / 64 KiB /\n"
               "1 MiB throughput with every byte written and read, 64 B round trips.\n\n"
               "  --json        print one JSON object as the last line\n"
               "  --plot FILE   write the cost-per-message curve as a PNG (gnuplot)\n"
               "  --runs N      runs per figure, the median is reported (default 5)\n"
               "  --time MS     length of each streaming run (default 100)\n");
}

/* Progress on a TTY: which stream is being measured. */
static void show_progress(size_t done, size_t total, const struct stream_cfg *next, void *arg)
{
    static const char *const names[] = {"ring", "pipe", "unix socket", "DPDK rte_ring",
                                        "packed ring"};
    if (!isatty(STDERR_FILENO))
        return;
    char size[32];
    zc_fmt_bytes((double)next->msg_size, size, sizeof(size));
    fprintf(stderr, "\r\033[K[%3zu/%zu] %s, %s messages, batch %u", done + 1, total,
            names[next->transport], size, next->batch);
    fflush(stderr);
}

static void show_step(const char *what)
{
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\r\033[K%s", what);
        fflush(stderr);
    }
}

static int run_all(const struct opts *o, struct figures *f)
{
    /* The streams: 64 B at every batch size, 64 B over pipe and socket,
     * then each large size over all three; the packed ring's at every
     * batch and size; DPDK's. */
    enum { NSTREAMS = NBATCH + 2 + 3 * NSIZES + NBATCH + NSIZES + NDPDK + NSIZES };
    struct stream_cfg cfg[NSTREAMS];
    struct stream_figures res[NSTREAMS];
    size_t n = 0;
    for (unsigned i = 0; i < NBATCH; i++)
        cfg[n++] = (struct stream_cfg){STREAM_RING, 64, batches[i], o->run_ns, 0, false};
    cfg[n++] = (struct stream_cfg){STREAM_PIPE, 64, 1, o->run_ns, 0, false};
    cfg[n++] = (struct stream_cfg){STREAM_UNIX, 64, 1, o->run_ns, 0, false};
    for (unsigned i = 0; i < NSIZES; i++)
        for (unsigned t = STREAM_RING; t <= STREAM_UNIX; t++)
            cfg[n++] = (struct stream_cfg){t, sizes[i], 1, o->run_ns, 0, false};
    for (unsigned i = 0; i < NBATCH; i++)
        cfg[n++] = (struct stream_cfg){STREAM_RING_PACKED, 64, batches[i], o->run_ns, 0, false};
    for (unsigned i = 0; i < NSIZES; i++)
        cfg[n++] = (struct stream_cfg){STREAM_RING_PACKED, sizes[i], 1, o->run_ns, 0, false};
    f->dpdk = stream_have_dpdk();
    for (unsigned i = 0; f->dpdk && i < NDPDK; i++)
        cfg[n++] = (struct stream_cfg){STREAM_DPDK, 64, dpdk_batches[i], o->run_ns, 0, false};
    for (unsigned i = 0; f->dpdk && i < NSIZES; i++)
        cfg[n++] = (struct stream_cfg){STREAM_DPDK, sizes[i], 1, o->run_ns, 0, false};
    int err = stream_measure_set(cfg, n, o->runs, res, show_progress, NULL);
    if (err)
        return err;
    n = 0;
    for (unsigned i = 0; i < NBATCH; i++) {
        f->ring64[i] = res[n++];
        f->ns64[i] = 1e9 / f->ring64[i].msgs_per_s;
    }
    f->pipe64 = res[n++];
    f->unix64 = res[n++];
    for (unsigned i = 0; i < NSIZES; i++) {
        f->ring[i] = res[n++];
        f->pipe[i] = res[n++];
        f->unix_[i] = res[n++];
    }
    for (unsigned i = 0; i < NBATCH; i++)
        f->packed64[i] = res[n++];
    for (unsigned i = 0; i < NSIZES; i++)
        f->packed[i] = res[n++];
    for (unsigned i = 0; f->dpdk && i < NDPDK; i++)
        f->dpdk64[i] = res[n++];
    for (unsigned i = 0; f->dpdk && i < NSIZES; i++)
        f->dpdk_[i] = res[n++];
    show_step("round trips: ring spinning");
    err = stream_rtt(STREAM_RING, true, 20000, &f->rtt_spin);
    if (!err) {
        show_step("round trips: packed ring spinning");
        err = stream_rtt(STREAM_RING_PACKED, true, 20000, &f->rtt_packed_spin);
    }
    if (!err) {
        show_step("round trips: ring blocking");
        err = stream_rtt(STREAM_RING, false, 4000, &f->rtt_block);
    }
    if (!err) {
        show_step("round trips: pipe");
        err = stream_rtt(STREAM_PIPE, false, 4000, &f->rtt_pipe);
    }
    show_step("");
    if (err)
        return err;
    return stream_fit(batches, f->ns64, NBATCH, &f->a, &f->b);
}

static double gbps(const struct stream_figures *f)
{
    return f->bytes_per_s * 1e-9;
}

/* The headline ratios, each also taken within every round (the streams
 * run round-robin, so run r of each saw the same load): min / median /
 * max of those. */
struct spread {
    const char *name;
    double median_ratio; /* of the medians */
    double min, median, max;
};

static struct spread ratio_spread(const char *name, const struct stream_figures *a,
                                  const struct stream_figures *b, bool bytes)
{
    double r[STREAM_MAX_RUNS];
    unsigned n = ZC_MIN(a->runs, b->runs);
    struct spread s = {
        name, bytes ? a->bytes_per_s / b->bytes_per_s : a->msgs_per_s / b->msgs_per_s, 0, 0, 0};
    for (unsigned i = 0; i < n; i++) {
        r[i] = bytes ? a->run_bytes_per_s[i] / b->run_bytes_per_s[i]
                     : a->run_msgs_per_s[i] / b->run_msgs_per_s[i];
        s.min = i ? ZC_MIN(s.min, r[i]) : r[i];
        s.max = i ? ZC_MAX(s.max, r[i]) : r[i];
    }
    s.median = n ? zc_median(r, n) : s.median_ratio;
    return s;
}

#define NSPREAD 9

/* The ratios the benchmark exists for; the DPDK ones only where measured. */
static unsigned headline_spreads(const struct figures *f, struct spread *out)
{
    unsigned n = 0;
    out[n++] = ratio_spread("ring_vs_pipe_64B_batch64", &f->ring64[6], &f->pipe64, false);
    out[n++] = ratio_spread("packed_vs_split_64B_batch1", &f->packed64[0], &f->ring64[0], false);
    out[n++] = ratio_spread("packed_vs_split_64B_batch64", &f->packed64[6], &f->ring64[6], false);
    if (f->dpdk) {
        out[n++] = ratio_spread("ring_vs_dpdk_64B_batch64", &f->ring64[6], &f->dpdk64[2], false);
        out[n++] = ratio_spread("packed_vs_dpdk_64B_batch1", &f->packed64[0], &f->dpdk64[0], false);
        out[n++] =
            ratio_spread("packed_vs_dpdk_64B_batch64", &f->packed64[6], &f->dpdk64[2], false);
        out[n++] = ratio_spread("packed_vs_dpdk_4KiB", &f->packed[0], &f->dpdk_[0], true);
        out[n++] = ratio_spread("packed_vs_dpdk_64KiB", &f->packed[1], &f->dpdk_[1], true);
        out[n++] = ratio_spread("packed_vs_dpdk_1MiB", &f->packed[2], &f->dpdk_[2], true);
    }
    return n;
}

static void print_table(const struct figures *f)
{
    printf("zc ring vs pipe and UNIX socket (two processes on two CPUs, median of runs)\n\n");
    printf("64 B messages, notifications on (EVENT_IDX, spin then block); split ring,\n"
           "and the packed ring (VIRTIO_F_RING_PACKED) beside it\n");
    printf("  %-24s %10s %10s %16s %14s %10s\n", "", "Mmsg/s", "ns/msg", "wake-ups/1k msg",
           "packed Mmsg/s", "packed/split");
    for (unsigned i = 0; i < NBATCH; i++) {
        char label[32];
        snprintf(label, sizeof(label), "ring, batch %u", batches[i]);
        printf("  %-24s %10.2f %10.1f %16.2f %14.2f %11.2fx\n", label,
               f->ring64[i].msgs_per_s * 1e-6, f->ns64[i], f->ring64[i].wakeups_per_msg * 1e3,
               f->packed64[i].msgs_per_s * 1e-6,
               f->packed64[i].msgs_per_s / f->ring64[i].msgs_per_s);
    }
    printf("  %-24s %10.2f %10.1f\n", "pipe, write each", f->pipe64.msgs_per_s * 1e-6,
           1e9 / f->pipe64.msgs_per_s);
    printf("  %-24s %10.2f %10.1f\n", "unix socket, send each", f->unix64.msgs_per_s * 1e-6,
           1e9 / f->unix64.msgs_per_s);
    printf("  fit cost/msg = a + b/B:  a = %.1f ns, b = %.1f ns\n", f->a, f->b);
    printf("  ring batch 64 / pipe = %.1fx\n\n", f->ring64[6].msgs_per_s / f->pipe64.msgs_per_s);

    printf("throughput, every byte written and read (GB/s)\n");
    printf("  %-8s %8s %8s %8s %8s %10s %10s\n", "message", "ring", "packed", "pipe", "unix",
           "ring/pipe", "ring/unix");
    for (unsigned i = 0; i < NSIZES; i++)
        printf("  %-8s %8.2f %8.2f %8.2f %8.2f %9.1fx %9.1fx\n", size_names[i], gbps(&f->ring[i]),
               gbps(&f->packed[i]), gbps(&f->pipe[i]), gbps(&f->unix_[i]),
               gbps(&f->ring[i]) / gbps(&f->pipe[i]), gbps(&f->ring[i]) / gbps(&f->unix_[i]));
    if (f->dpdk) {
        printf("\nDPDK rte_ring (SP/SC rings of buffer indices in shared memory, both ends\n"
               "polling) against the zc ring (notifications on), the same messages\n");
        printf("  %-16s %12s %12s %12s %10s %12s\n", "64 B, batch", "ring Mmsg/s", "packed",
               "DPDK Mmsg/s", "ring/DPDK", "packed/DPDK");
        for (unsigned i = 0; i < NDPDK; i++) {
            double d = f->dpdk64[i].msgs_per_s;
            printf("  %-16u %12.2f %12.2f %12.2f %9.2fx %11.2fx\n", dpdk_batches[i],
                   f->ring64[dpdk_vs[i]].msgs_per_s * 1e-6,
                   f->packed64[dpdk_vs[i]].msgs_per_s * 1e-6, d * 1e-6,
                   f->ring64[dpdk_vs[i]].msgs_per_s / d, f->packed64[dpdk_vs[i]].msgs_per_s / d);
        }
        printf("  %-16s %12s %12s %12s %10s %12s\n", "message", "ring GB/s", "packed", "DPDK GB/s",
               "ring/DPDK", "packed/DPDK");
        for (unsigned i = 0; i < NSIZES; i++)
            printf("  %-16s %12.2f %12.2f %12.2f %9.2fx %11.2fx\n", size_names[i],
                   gbps(&f->ring[i]), gbps(&f->packed[i]), gbps(&f->dpdk_[i]),
                   gbps(&f->ring[i]) / gbps(&f->dpdk_[i]),
                   gbps(&f->packed[i]) / gbps(&f->dpdk_[i]));
    } else {
        printf("\nDPDK rte_ring: not measured (zc built without libdpdk; dpdk-dev)\n");
    }
    struct spread sp[NSPREAD];
    unsigned nsp = headline_spreads(f, sp);
    printf("\nratios within each round (%u rounds): min / median / max, and of the medians\n",
           f->ring64[0].runs);
    for (unsigned i = 0; i < nsp; i++)
        printf("  %-28s %6.2f / %6.2f / %6.2f   %6.2f\n", sp[i].name, sp[i].min, sp[i].median,
               sp[i].max, sp[i].median_ratio);
    printf("\n64 B round trip (median)\n");
    printf("  ring, spinning   %10.2f us\n", f->rtt_spin * 1e-3);
    printf("  packed, spinning %10.2f us\n", f->rtt_packed_spin * 1e-3);
    printf("  ring, blocking   %10.2f us\n", f->rtt_block * 1e-3);
    printf("  pipe pair        %10.2f us\n", f->rtt_pipe * 1e-3);
}

static void print_json(const struct figures *f)
{
    struct zc_json j;
    char key[64];
    zc_json_begin(&j, stdout);
    /* Every batch size (ring_64B_batch64_msgs_per_s among them) and every
     * message size (ring_64KiB_GBps, pipe_64KiB_GBps, unix_64KiB_GBps). */
    for (unsigned i = 0; i < NBATCH; i++) {
        snprintf(key, sizeof(key), "ring_64B_batch%u_msgs_per_s", batches[i]);
        zc_json_num(&j, key, f->ring64[i].msgs_per_s);
        snprintf(key, sizeof(key), "ring_64B_batch%u_wakeups_per_msg", batches[i]);
        zc_json_num(&j, key, f->ring64[i].wakeups_per_msg);
    }
    /* The packed ring's under the same names with "packed_" for "ring_". */
    for (unsigned i = 0; i < NBATCH; i++) {
        snprintf(key, sizeof(key), "packed_64B_batch%u_msgs_per_s", batches[i]);
        zc_json_num(&j, key, f->packed64[i].msgs_per_s);
        snprintf(key, sizeof(key), "packed_64B_batch%u_wakeups_per_msg", batches[i]);
        zc_json_num(&j, key, f->packed64[i].wakeups_per_msg);
    }
    zc_json_num(&j, "pipe_64B_msgs_per_s", f->pipe64.msgs_per_s);
    zc_json_num(&j, "unix_64B_msgs_per_s", f->unix64.msgs_per_s);
    zc_json_num(&j, "fit_a_ns", f->a);
    zc_json_num(&j, "fit_b_ns", f->b);
    for (unsigned i = 0; i < NSIZES; i++) {
        static const char *const t[4] = {"ring", "packed", "pipe", "unix"};
        const struct stream_figures *v[4] = {&f->ring[i], &f->packed[i], &f->pipe[i], &f->unix_[i]};
        for (unsigned k = 0; k < 4; k++) {
            snprintf(key, sizeof(key), "%s_%s_GBps", t[k], size_names[i]);
            zc_json_num(&j, key, gbps(v[k]));
        }
    }
    zc_json_num(&j, "ring_vs_pipe_64B_batch64", f->ring64[6].msgs_per_s / f->pipe64.msgs_per_s);
    zc_json_num(&j, "ring_vs_pipe_64KiB", gbps(&f->ring[1]) / gbps(&f->pipe[1]));
    zc_json_num(&j, "ring_vs_unix_64KiB", gbps(&f->ring[1]) / gbps(&f->unix_[1]));
    zc_json_num(&j, "packed_vs_split_64B_batch1",
                f->packed64[0].msgs_per_s / f->ring64[0].msgs_per_s);
    zc_json_num(&j, "packed_vs_split_64B_batch64",
                f->packed64[6].msgs_per_s / f->ring64[6].msgs_per_s);
    if (f->dpdk) {
        for (unsigned i = 0; i < NDPDK; i++) {
            snprintf(key, sizeof(key), "dpdk_64B_batch%u_msgs_per_s", dpdk_batches[i]);
            zc_json_num(&j, key, f->dpdk64[i].msgs_per_s);
        }
        for (unsigned i = 0; i < NSIZES; i++) {
            snprintf(key, sizeof(key), "dpdk_%s_GBps", size_names[i]);
            zc_json_num(&j, key, gbps(&f->dpdk_[i]));
        }
        zc_json_num(&j, "ring_vs_dpdk_64B_batch64",
                    f->ring64[6].msgs_per_s / f->dpdk64[2].msgs_per_s);
        zc_json_num(&j, "ring_vs_dpdk_64KiB", gbps(&f->ring[1]) / gbps(&f->dpdk_[1]));
        zc_json_num(&j, "packed_vs_dpdk_64B_batch1",
                    f->packed64[0].msgs_per_s / f->dpdk64[0].msgs_per_s);
        zc_json_num(&j, "packed_vs_dpdk_64B_batch64",
                    f->packed64[6].msgs_per_s / f->dpdk64[2].msgs_per_s);
        zc_json_num(&j, "packed_vs_dpdk_64KiB", gbps(&f->packed[1]) / gbps(&f->dpdk_[1]));
    }
    struct spread sp[NSPREAD];
    unsigned nsp = headline_spreads(f, sp);
    for (unsigned i = 0; i < nsp; i++) {
        static const char *const suffix[3] = {"round_min", "round_median", "round_max"};
        const double v[3] = {sp[i].min, sp[i].median, sp[i].max};
        for (unsigned k = 0; k < 3; k++) {
            snprintf(key, sizeof(key), "%s_%s", sp[i].name, suffix[k]);
            zc_json_num(&j, key, v[k]);
        }
    }
    zc_json_num(&j, "ring_rtt_spin_ns", f->rtt_spin);
    zc_json_num(&j, "packed_rtt_spin_ns", f->rtt_packed_spin);
    zc_json_num(&j, "ring_rtt_block_ns", f->rtt_block);
    zc_json_num(&j, "pipe_rtt_ns", f->rtt_pipe);
    zc_json_end(&j);
}

int cmd_bench_ring(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},       {"plot", required_argument, NULL, 'p'},
        {"runs", required_argument, NULL, 'r'}, {"time", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    struct opts o = {.runs = 5, .run_ns = 100 * 1000000ull};
    uint64_t v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o.json = true;
            break;
        case 'p':
            o.plot = optarg;
            break;
        case 'r':
            if (zc_parse_u64(optarg, 1, STREAM_MAX_RUNS, &v))
                return zc_usage_error("bench ring", "--runs wants 1..15, not '%s'", optarg);
            o.runs = (unsigned)v;
            break;
        case 't':
            if (zc_parse_u64(optarg, 10, 5000, &v))
                return zc_usage_error("bench ring", "--time wants 10..5000 ms, not '%s'", optarg);
            o.run_ns = v * 1000000ull;
            break;
        case 'h':
            usage(stdout);
            return ZC_EXIT_OK;
        default: /* '?' or ':' */
            return cli_bad_option("bench ring", c, argv);
        }
    }
    if (optind < argc)
        return zc_usage_error("bench ring", "unexpected argument '%s'", argv[optind]);

    cli_json_failures(o.json);
    struct bench_plot plot;
    int err = o.plot ? bench_plot_open(&plot, o.plot) : 0;
    if (err) {
        cli_fail(err, "cannot write the plot %s: %s", o.plot, zc_strerror(err));
        return ZC_EXIT_FAIL;
    }
    struct figures f;
    err = run_all(&o, &f);
    if (err) {
        cli_fail(err, "measurement failed: %s", zc_strerror(err));
        if (o.plot)
            bench_plot_abort(&plot);
        return ZC_EXIT_FAIL;
    }
    print_table(&f);
    if (o.plot) {
        err =
            stream_plot_batch(&plot, batches, f.ns64, NBATCH, f.a, f.b, 1e9 / f.pipe64.msgs_per_s);
        if (err) {
            cli_fail(err, "cannot write the plot %s: %s%s%s", o.plot, zc_strerror(err),
                     *plot.why ? "; gnuplot: " : "", plot.why);
            return ZC_EXIT_FAIL;
        }
        printf("\nplot: %s\n", o.plot);
    }
    if (o.json)
        print_json(&f);
    return ZC_EXIT_OK;
}
