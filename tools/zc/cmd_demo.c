/* cmd_demo.c - `zc demo`: the main job, run as a sequence of stages that
 * each do real work and leave their results in the output folder.
 *
 *   ring   two processes stream a generated data set (512 MiB by default)
 *          through the shared-memory ring, the consumer reading and
 *          verifying every byte in place; the same data then goes through a
 *          pipe and a UNIX socket for comparison; a short batch sweep of
 *          64-byte messages draws OUT/ring_batch.png.
 *   pipeline the zc_demo library's pipeline (pipeline.h, drawn in
 *          docs/ARCHITECTURE.md): `zc insitu` under
 *          mpirun, each final frame at rank 0 encoded straight into a
 *          shared-memory ring slot, an uploader sending it from there to a
 *          local `zc serve`, which writes it into OUT/frames; a summary of
 *          the bytes each hop moved against the copying alternative.
 *
 * A stage is a function over the demo's options and its summary.  Under
 * mpirun the pipeline runs `zc demo --insitu-ring SOCK REPORT [zc insitu
 * options]`: zc insitu with one more consumer of the frames at rank 0, the
 * ring, whose figures go to the supervisor as one record in the FIFO REPORT.
 */
#include "ring_stream.h"
#include "cli.h"
#include "cmd.h"
#include "pipeline.h"
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
    bool ring, pipeline; /* the stages to run */
    const char *view;    /* zc view's address while the demo runs, or NULL */
    struct pipeline_opts pipe;
};

struct demo_summary {
    double ring_gbps, pipe_gbps, unix_gbps;
    double fit_a_ns, fit_b_ns;
    char plot[PATH_MAX];
    struct pipeline_summary pipeline;
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: zc demo [--out DIR] [--size BYTES] [--only STAGE] [pipeline options] [--json]\n\n"
        "Runs the main job and writes its pictures into DIR (default: out).\n"
        "ring: two processes stream a generated data set through the shared-memory\n"
        "ring, verifying every byte, beside the same through a pipe and a UNIX\n"
        "socket, and the ring's cost per message against batch size is drawn\n"
        "to DIR/ring_batch.png.\n"
        "pipeline: `zc insitu` runs under mpirun; rank 0 encodes each frame straight\n"
        "into a shared-memory ring slot, an uploader process sends it from there to\n"
        "a local `zc serve` (throwaway keys, a loopback port), which writes it into\n"
        "DIR/frames; a table compares the bytes each hop moved with the copying\n"
        "alternative.\n\n"
        "  --out DIR      output folder (created when missing; the frames of an\n"
        "                 earlier run in DIR/frames are removed first, and said so)\n"
        "  --size BYTES   ring: data set size, 64M .. 16G (default 512M)\n"
        "  --only STAGE   run only the ring or the pipeline stage\n"
        "  --ranks N      pipeline: MPI ranks, 1 .. 64 (default 4)\n"
        "  --grid G       pipeline: simulation cells a side (default 96)\n"
        "  --image WxH    pipeline: frame size (default 512x512)\n"
        "  --steps S      pipeline: time steps (default 240)\n"
        "  --every K      pipeline: a frame every K steps and at the last (default 40)\n"
        "  --timeout SEC  pipeline: give up after SEC seconds (default 300)\n"
        "  --view         run `zc view` on DIR/frames while the demo runs: open its\n"
        "                 address to watch each frame arrive\n"
        "  --listen HOST:PORT  --view: where (default 127.0.0.1:8080; port 0: any)\n"
        "  --json         print a JSON summary as the last line\n\n"
        "zc demo --insitu-ring SOCK REPORT [zc insitu options] is what the pipeline\n"
        "runs under mpirun: zc insitu, each frame at rank 0 handed to the uploader\n"
        "listening on the UNIX socket SOCK, its figures written into the FIFO REPORT.\n");
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

/* plot: OUT/ring_batch.png, opened before the stage. */
static int stage_ring(const struct demo_opts *o, struct demo_summary *s, struct bench_plot *plot)
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
        cli_fail(err, "streaming the data set failed: %s", zc_strerror(err));
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
        cli_fail(err, "the batch sweep failed: %s", zc_strerror(err));
        return err;
    }
    err = stream_plot_batch(plot, batches, ns, ZC_ARRAY_SIZE(batches), s->fit_a_ns, s->fit_b_ns,
                            pipe_ns);
    if (err) {
        cli_fail(err, "cannot write %s: %s%s%s", s->plot, zc_strerror(err),
                 *plot->why ? "; gnuplot: " : "", plot->why);
        return err;
    }
    printf("  64 B messages: %.1f ns each at batch 1, %.1f at batch 64 (pipe: %.0f);"
           " fit %.1f + %.1f/B ns\n",
           ns[0], ns[6], pipe_ns, s->fit_a_ns, s->fit_b_ns);
    printf("  picture: %s\n", s->plot);
    return 0;
}

/* Everything the stages write is checked before any of them starts: OUT
 * a folder (made when missing), the ring stage's picture opened, and
 * OUT/frames emptied of an earlier run's frames (said on the console), so
 * that what the pipeline reports as placed is all there is. */
static int prepare_out(const struct demo_opts *o, struct demo_summary *s, struct bench_plot *plot)
{
    struct stat st;
    int err = mkdir(o->out, 0755) == 0 || errno == EEXIST ? 0 : -errno;
    if (!err && stat(o->out, &st) != 0)
        err = -errno;
    else if (!err && !S_ISDIR(st.st_mode))
        err = -ENOTDIR;
    if (err)
        return cli_fail(err, "cannot create %s: %s", o->out, zc_strerror(err));
    if (o->pipeline) {
        char frames[PATH_MAX];
        unsigned removed = 0;
        if (snprintf(frames, sizeof(frames), "%s/frames", o->out) >= (int)sizeof(frames))
            return cli_fail(-ENAMETOOLONG, "%s/frames: %s", o->out, zc_strerror(-ENAMETOOLONG));
        if ((err = insitu_prepare_frames(frames, &removed)))
            return err; /* said by insitu_prepare_frames */
        if (removed)
            printf("%s: removed %u frame%s of an earlier run\n", frames, removed,
                   removed == 1 ? "" : "s");
    }
    if (o->ring) {
        snprintf(s->plot, sizeof(s->plot), "%s/ring_batch.png", o->out);
        if ((err = bench_plot_open(plot, s->plot)))
            return cli_fail(err, "cannot write %s: %s", s->plot, zc_strerror(err));
    }
    return 0;
}

static int stage_pipeline(const struct demo_opts *o, struct demo_summary *s)
{
    printf("pipeline: zc insitu on %u ranks -> rank 0 -> shared-memory ring -> uploader -> "
           "zc serve\n",
           o->pipe.ranks);
    fflush(stdout);
    int err = pipeline_run(&o->pipe, &s->pipeline);
    if (err)
        return cli_fail_said(err, "the pipeline stage failed: %s", zc_strerror(err));
    pipeline_print(&s->pipeline, stdout);
    if (o->ring)
        printf("  the ring itself streamed %.2f GB/s, the pipe %.2f GB/s (%.1fx)\n", s->ring_gbps,
               s->pipe_gbps, s->ring_gbps / s->pipe_gbps);
    return 0;
}

/* zc view on OUT/frames, from before the first stage to after the last. */
static int view_start_frames(const struct demo_opts *o, int *pid)
{
    char frames[PATH_MAX];
    snprintf(frames, sizeof(frames), "%s/frames", o->out); /* its length checked by prepare_out */
    return view_start(frames, o->view, pid);
}

/* Rank 0's end of the ring, as zc insitu's frame consumer: the ring is
 * opened at the first frame (its size is the frame's) and a failure is
 * kept for the exit code. */
struct ring_consumer {
    const char *sock;
    const char *report; /* the supervisor's FIFO */
    struct pipeline_sink *sink;
    int err;
};

static void hand_to_ring(void *arg, const struct zc_fb *fb, unsigned frame,
                         const struct zc_insitu_frame *png_info)
{
    struct ring_consumer *c = arg;
    if (c->err)
        return;
    if (!c->sink &&
        (c->err = pipeline_sink_open(&c->sink, c->sock, zc_fb_width(fb), zc_fb_height(fb)))) {
        zc_error("cannot reach the uploader at %s: %s", c->sock, zc_strerror(c->err));
        return;
    }
    if ((c->err = pipeline_sink_frame(c->sink, fb, frame, png_info)))
        zc_error("cannot hand frame %u to the uploader: %s", frame, zc_strerror(c->err));
}

/* zc insitu's figures at the end of the run, to the supervisor. */
static void report_figures(void *arg, const struct insitu_figures *f)
{
    struct ring_consumer *c = arg;
    int err = pipeline_report_send(c->report, f);
    if (err && !c->err) {
        zc_error("cannot report to the supervisor through %s: %s", c->report, zc_strerror(err));
        c->err = err;
    }
}

/* zc demo --insitu-ring SOCK REPORT [zc insitu options]; argv[0] is SOCK,
 * argv[1] REPORT (zc insitu's parser starts after it). */
static int insitu_ring(int argc, char **argv)
{
    struct ring_consumer c = {.sock = argv[0], .report = argv[1]};
    struct insitu_consumer consumer = {.frame = hand_to_ring, .done = report_figures, .arg = &c};
    int rc = cmd_insitu_with_sink(argc - 1, argv + 1, &consumer);
    int err = pipeline_sink_close(c.sink);
    if (err && !c.err)
        zc_error("the uploader did not take every frame: %s", zc_strerror(err));
    return rc ? rc : c.err || err ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}

int cmd_demo(int argc, char **argv)
{
    enum {
        OPT_ONLY = 256,
        OPT_RANKS,
        OPT_GRID,
        OPT_IMAGE,
        OPT_STEPS,
        OPT_EVERY,
        OPT_TIMEOUT,
        OPT_VIEW,
        OPT_LISTEN
    };
    static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                             {"size", required_argument, NULL, 's'},
                                             {"only", required_argument, NULL, OPT_ONLY},
                                             {"ranks", required_argument, NULL, OPT_RANKS},
                                             {"grid", required_argument, NULL, OPT_GRID},
                                             {"image", required_argument, NULL, OPT_IMAGE},
                                             {"steps", required_argument, NULL, OPT_STEPS},
                                             {"every", required_argument, NULL, OPT_EVERY},
                                             {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                             {"view", no_argument, NULL, OPT_VIEW},
                                             {"listen", required_argument, NULL, OPT_LISTEN},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    if (argc >= 4 && strcmp(argv[1], "--insitu-ring") == 0)
        return insitu_ring(argc - 2, argv + 2);
    struct demo_opts o = {.out = "out",
                          .bytes = 512ull << 20,
                          .ring = true,
                          .pipeline = true,
                          .pipe = {.ranks = 4,
                                   .width = 512,
                                   .height = 512,
                                   .grid = 96,
                                   .steps = 240,
                                   .every = 40,
                                   .timeout_s = 300}};
    const char *listen_spec = NULL;
    bool view = false;
    uint64_t v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.out = optarg;
            break;
        case 's':
            if (zc_parse_size(optarg, &o.bytes) || o.bytes < (64ull << 20) ||
                o.bytes > (16ull << 30))
                return zc_usage_error("demo", "--size wants 64M..16G, not '%s'", optarg);
            break;
        case OPT_ONLY:
            if (strcmp(optarg, "ring") != 0 && strcmp(optarg, "pipeline") != 0)
                return zc_usage_error("demo", "--only wants ring or pipeline, not '%s'", optarg);
            o.ring = strcmp(optarg, "ring") == 0;
            o.pipeline = !o.ring;
            break;
        case OPT_RANKS:
            if (zc_parse_u64(optarg, 1, 64, &v))
                return zc_usage_error("demo", "--ranks wants 1..64, not '%s'", optarg);
            o.pipe.ranks = (unsigned)v;
            break;
        case OPT_GRID:
            if (zc_parse_u64(optarg, 4, 1024, &o.pipe.grid))
                return zc_usage_error("demo", "--grid wants 4..1024 cells, not '%s'", optarg);
            break;
        case OPT_IMAGE:
            if (zc_parse_wxh(optarg, &o.pipe.width, &o.pipe.height))
                return zc_usage_error("demo", "--image wants WxH, not '%s'", optarg);
            break;
        case OPT_STEPS:
            if (zc_parse_u64(optarg, 1, 1000000, &o.pipe.steps))
                return zc_usage_error("demo", "--steps wants 1..1000000, not '%s'", optarg);
            break;
        case OPT_EVERY:
            if (zc_parse_u64(optarg, 1, 1000000, &o.pipe.every))
                return zc_usage_error("demo", "--every wants 1..1000000, not '%s'", optarg);
            break;
        case OPT_TIMEOUT:
            if (zc_parse_u64(optarg, 1, 86400, &v))
                return zc_usage_error("demo", "--timeout wants 1..86400 seconds, not '%s'", optarg);
            o.pipe.timeout_s = (unsigned)v;
            break;
        case OPT_VIEW:
            view = true;
            break;
        case OPT_LISTEN:
            listen_spec = optarg;
            break;
        case 'j':
            o.json = true;
            break;
        case 'h':
            usage(stdout);
            return ZC_EXIT_OK;
        default: /* '?' or ':' */
            return cli_bad_option("demo", c, argv);
        }
    }
    if (optind < argc)
        return zc_usage_error("demo", "unexpected argument '%s'", argv[optind]);
    if (listen_spec && !view)
        return zc_usage_error("demo", "--listen is where --view serves: give --view too");
    if (view && !o.pipeline)
        return zc_usage_error("demo", "--view watches the pipeline's frames: not with --only ring");
    o.view = view ? listen_spec ? listen_spec : "127.0.0.1:8080" : NULL;
    cli_json_failures(o.json);
    o.pipe.out = o.out;
    struct demo_summary s = {0};
    struct bench_plot plot;
    if (prepare_out(&o, &s, &plot))
        return ZC_EXIT_FAIL;
    int viewer = 0;
    if (o.view && view_start_frames(&o, &viewer)) {
        if (o.ring)
            bench_plot_abort(&plot);
        return ZC_EXIT_FAIL;
    }
    bool failed = o.ring && stage_ring(&o, &s, &plot);
    if (failed)
        bench_plot_abort(&plot); /* no temporary left in OUT */
    failed = failed || (o.pipeline && stage_pipeline(&o, &s));
    if (viewer && view_stop(viewer))
        zc_warn("zc view did not stop cleanly");
    if (failed)
        return ZC_EXIT_FAIL;
    if (o.pipeline && !o.view)
        printf("watch live: zc demo --view, then open http://127.0.0.1:8080/\n");

    if (o.json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        if (o.ring) {
            zc_json_num(&j, "ring_GBps", s.ring_gbps);
            zc_json_num(&j, "pipe_GBps", s.pipe_gbps);
            zc_json_num(&j, "unix_GBps", s.unix_gbps);
            zc_json_num(&j, "fit_a_ns", s.fit_a_ns);
            zc_json_num(&j, "fit_b_ns", s.fit_b_ns);
            zc_json_str(&j, "ring_batch_png", s.plot);
        }
        if (o.pipeline)
            pipeline_json(&s.pipeline, &j);
        zc_json_end(&j);
    }
    return ZC_EXIT_OK;
}
