/* cmd_demo.c - `zc demo`: the main job, run as a sequence of stages that
 * each do real work and leave their results in the output folder.
 *
 *   ring   two processes stream a generated data set (512 MiB by default)
 *          through the shared-memory ring, the consumer reading and
 *          verifying every byte in place; the same data then goes through a
 *          pipe and a UNIX socket for comparison; a short batch sweep of
 *          64-byte messages draws OUT/ring_batch.png.
 *
 * A stage is a function over the demo's options and its summary; the
 * pipeline of DESIGN.md grows here as one stage after another.
 */
#include "../../bench/ring_stream.h"
#include "cmd.h"
#include "zc/base.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct demo_opts {
    const char *out;
    uint64_t bytes; /* size of the streamed data set */
    bool json;
};

struct demo_summary {
    double ring_gbps, pipe_gbps, unix_gbps;
    double fit_a_ns, fit_b_ns;
    char plot[PATH_MAX];
};

static void usage(FILE *f)
{
    fprintf(f, "usage: zc demo [--out DIR] [--size BYTES] [--json]\n\n"
               "Runs the main job and writes its pictures into DIR (default: out):\n"
               "two processes stream a generated data set through the shared-memory\n"
               "ring, verifying every byte, beside the same through a pipe and a UNIX\n"
               "socket, and the ring's cost per message against batch size is drawn\n"
               "to DIR/ring_batch.png.\n\n"
               "  --out DIR      output folder (created when missing)\n"
               "  --size BYTES   data set size, 64M .. 16G (default 512M)\n"
               "  --json         print a JSON summary as the last line\n");
}

/* Streams the data set over one transport; GB/s in *gbps. */
static int stream_data_set(const struct demo_opts *o, enum stream_transport t, double *gbps)
{
    struct stream_cfg cfg = {.transport = t,
                             .msg_size = 64 * 1024,
                             .batch = 1,
                             .total_bytes = o->bytes,
                             .progress = true};
    struct stream_result r;
    int err = stream_run(&cfg, &r);
    if (err)
        return err;
    *gbps = (double)r.bytes / (double)r.ns;
    return 0;
}

static int stage_ring(const struct demo_opts *o, struct demo_summary *s)
{
    char size[32];
    zc_fmt_bytes((double)o->bytes, size, sizeof(size));
    printf("ring: streaming %s in 64 KiB messages between two processes, every byte verified\n",
           size);
    fflush(stdout);
    int err = stream_data_set(o, STREAM_RING, &s->ring_gbps);
    if (!err)
        err = stream_data_set(o, STREAM_PIPE, &s->pipe_gbps);
    if (!err)
        err = stream_data_set(o, STREAM_UNIX, &s->unix_gbps);
    if (err) {
        zc_error("streaming the data set failed: %s", zc_strerror(err));
        return err;
    }
    printf("  zc ring       %7.2f GB/s\n", s->ring_gbps);
    printf("  pipe          %7.2f GB/s   (ring %.1fx faster)\n", s->pipe_gbps,
           s->ring_gbps / s->pipe_gbps);
    printf("  unix socket   %7.2f GB/s   (ring %.1fx faster)\n", s->unix_gbps,
           s->ring_gbps / s->unix_gbps);

    static const unsigned batches[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    double ns[ZC_ARRAY_SIZE(batches)];
    struct stream_figures fig, pipe_fig;
    for (size_t i = 0; i < ZC_ARRAY_SIZE(batches); i++) {
        struct stream_cfg cfg = {.transport = STREAM_RING,
                                 .msg_size = 64,
                                 .batch = batches[i],
                                 .duration_ns = 100 * 1000000ull};
        err = stream_measure(&cfg, 1, &fig);
        if (err)
            break;
        ns[i] = 1e9 / fig.msgs_per_s;
    }
    struct stream_cfg pcfg = {
        .transport = STREAM_PIPE, .msg_size = 64, .batch = 1, .duration_ns = 100 * 1000000ull};
    if (!err)
        err = stream_measure(&pcfg, 1, &pipe_fig);
    double pipe_ns = err ? 0 : 1e9 / pipe_fig.msgs_per_s;
    if (!err)
        err = stream_fit(batches, ns, ZC_ARRAY_SIZE(batches), &s->fit_a_ns, &s->fit_b_ns);
    if (err) {
        zc_error("the batch sweep failed: %s", zc_strerror(err));
        return err;
    }
    snprintf(s->plot, sizeof(s->plot), "%s/ring_batch.png", o->out);
    err = stream_plot_batch(s->plot, batches, ns, ZC_ARRAY_SIZE(batches), s->fit_a_ns, s->fit_b_ns,
                            pipe_ns);
    if (err) {
        zc_error("cannot write %s: %s", s->plot, zc_strerror(err));
        return err;
    }
    printf("  64 B messages: %.1f ns each at batch 1, %.1f at batch 64 (pipe: %.0f);"
           " fit %.1f + %.1f/B ns\n",
           ns[0], ns[6], pipe_ns, s->fit_a_ns, s->fit_b_ns);
    printf("  picture: %s\n", s->plot);
    return 0;
}

int cmd_demo(int argc, char **argv)
{
    static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                             {"size", required_argument, NULL, 's'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct demo_opts o = {.out = "out", .bytes = 512ull << 20};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.out = optarg;
            break;
        case 's':
            if (zc_parse_size(optarg, &o.bytes) || o.bytes < (64ull << 20) ||
                o.bytes > (16ull << 30))
                return zc_usage_error("demo", "--size wants 64M..16G, not '%s'", optarg);
            break;
        case 'j':
            o.json = true;
            break;
        case 'h':
            usage(stdout);
            return ZC_EXIT_OK;
        default:
            return zc_usage_error("demo", "unknown option");
        }
    }
    if (optind < argc)
        return zc_usage_error("demo", "unexpected argument '%s'", argv[optind]);
    if (mkdir(o.out, 0755) < 0 && errno != EEXIST) {
        zc_error("cannot create %s: %s", o.out, strerror(errno));
        return ZC_EXIT_FAIL;
    }

    struct demo_summary s = {0};
    if (stage_ring(&o, &s))
        return ZC_EXIT_FAIL;

    if (o.json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        zc_json_num(&j, "ring_GBps", s.ring_gbps);
        zc_json_num(&j, "pipe_GBps", s.pipe_gbps);
        zc_json_num(&j, "unix_GBps", s.unix_gbps);
        zc_json_num(&j, "fit_a_ns", s.fit_a_ns);
        zc_json_num(&j, "fit_b_ns", s.fit_b_ns);
        zc_json_str(&j, "ring_batch_png", s.plot);
        zc_json_end(&j);
    }
    return ZC_EXIT_OK;
}
