/* cmd_insitu.c - `zc insitu`: run under mpirun; a distributed FDTD
 * simulation rendered in situ and composited sort-last, frames at rank 0.
 *
 * Every --every steps each rank fills its ghost layers, ray-casts its own
 * brick straight from the field arrays, and the tiles are composited
 * (radix-k or binary swap) into an fb at rank 0, which a sink writes as
 * DIR/frame_STEP.png.  On the last frame the baseline runs from the same
 * binary: gather the whole field at rank 0 and render it there.  The
 * summary compares the bytes each approach moves.
 */
#include "cli.h"
#include "cmd.h"
#include "zc/base.h"
#include "zc/composite.h"
#include "zc/fb.h"
#include "zc/insitu.h"
#include "progress.h"
#include "zc/sim.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct insitu_opts {
    uint64_t steps, every, grid;
    unsigned width, height;
    const char *out;
    enum zc_composite_algo algo;
    uint64_t k;
    enum zc_composite_pixel wire;
    bool baseline, json, annotate, brick_grid;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mpirun -np N zc insitu [options]\n"
               "\n"
               "Simulates a dipole pulse around a conducting torus (3-D FDTD over N ranks),\n"
               "renders each rank's brick in situ every K steps and composites the tiles\n"
               "sort-last; frames are written at rank 0.\n"
               "\n"
               "  --steps S          time steps (default 240)\n"
               "  --every K          render every K steps and at the last (default 40)\n"
               "  --grid G           cells along each side of the domain (default 64)\n"
               "  --size WxH         image size (default 512x512)\n"
               "  --out DIR          write DIR/frame_STEP.png (created; an earlier run's\n"
               "                     frame_*.png there are replaced; default: no files)\n"
               "  --algo NAME        radix-k (default) or binary-swap\n"
               "  --k K              radix-k's largest group (default 8)\n"
               "  --precision P      bits a channel between rounds: auto (default: 16 where the\n"
               "                     active pixels allow it within the 8-bit byte bound), 8, 16\n"
               "  --plain            frames as rendered: no step, time, legend or outline drawn\n"
               "                     into them and no PNG text chunks\n"
               "  --brick-grid       outline every rank's brick too\n"
               "  --no-baseline      skip the gather-at-rank-0 baseline on the last frame\n"
               "                     (its bytes are then counted from the bricks, not sent)\n"
               "  --json             a JSON summary as the last line of stdout\n"
               "  -h, --help         this help\n");
}

static int parse(int argc, char **argv, struct insitu_opts *o)
{
    static const struct option longopts[] = {
        {"steps", required_argument, NULL, 's'}, {"every", required_argument, NULL, 'e'},
        {"grid", required_argument, NULL, 'g'},  {"size", required_argument, NULL, 'S'},
        {"out", required_argument, NULL, 'o'},   {"algo", required_argument, NULL, 'a'},
        {"k", required_argument, NULL, 'k'},     {"precision", required_argument, NULL, 'p'},
        {"no-baseline", no_argument, NULL, 'B'}, {"json", no_argument, NULL, 'j'},
        {"plain", no_argument, NULL, 'P'},       {"brick-grid", no_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    *o = (struct insitu_opts){.steps = 240,
                              .every = 40,
                              .grid = 64,
                              .width = 512,
                              .height = 512,
                              .algo = ZC_COMPOSITE_RADIX_K,
                              .k = 8,
                              .wire = ZC_PIXEL_RGBA_AUTO,
                              .baseline = true,
                              .annotate = true};
    int opt;
    uint64_t bits;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (zc_parse_u64(optarg, 1, 10000000, &o->steps))
                return zc_usage_error("insitu", "--steps: a count from 1 expected, not '%s'",
                                      optarg);
            break;
        case 'e':
            if (zc_parse_u64(optarg, 1, 10000000, &o->every))
                return zc_usage_error("insitu", "--every: a count from 1 expected, not '%s'",
                                      optarg);
            break;
        case 'g':
            if (zc_parse_u64(optarg, 4, 4096, &o->grid))
                return zc_usage_error("insitu", "--grid: 4 to 4096 cells expected, not '%s'",
                                      optarg);
            break;
        case 'S':
            if (zc_parse_wxh(optarg, &o->width, &o->height))
                return zc_usage_error("insitu", "--size: WxH expected, not '%s'", optarg);
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "radix-k") == 0)
                o->algo = ZC_COMPOSITE_RADIX_K;
            else if (strcmp(optarg, "binary-swap") == 0)
                o->algo = ZC_COMPOSITE_BINARY_SWAP;
            else
                return zc_usage_error("insitu", "--algo: radix-k or binary-swap, not '%s'", optarg);
            break;
        case 'k':
            if (zc_parse_u64(optarg, 2, 1024, &o->k))
                return zc_usage_error("insitu", "--k: 2 to 1024 expected, not '%s'", optarg);
            break;
        case 'p':
            if (strcmp(optarg, "auto") == 0)
                o->wire = ZC_PIXEL_RGBA_AUTO;
            else if (zc_parse_u64(optarg, 8, 16, &bits) == 0 && (bits == 8 || bits == 16))
                o->wire = bits == 8 ? ZC_PIXEL_RGBA8 : ZC_PIXEL_RGBA16;
            else
                return zc_usage_error("insitu", "--precision: auto, 8 or 16, not '%s'", optarg);
            break;
        case 'B':
            o->baseline = false;
            break;
        case 'j':
            o->json = true;
            break;
        case 'P':
            o->annotate = false;
            break;
        case 'G':
            o->brick_grid = true;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default: /* '?' or ':' */
            return cli_bad_option("insitu", opt, argv);
        }
    }
    if (optind < argc)
        return zc_usage_error("insitu", "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* A name this command gives a frame: frame_, at least 8 digits, .png. */
static bool is_frame_name(const char *name)
{
    size_t digits = strspn(name + (strncmp(name, "frame_", 6) == 0 ? 6 : 0), "0123456789");
    return strncmp(name, "frame_", 6) == 0 && digits >= 8 && strcmp(name + 6 + digits, ".png") == 0;
}

int insitu_prepare_frames(const char *dir, unsigned *removed)
{
    *removed = 0;
    if (mkdir(dir, 0777) == 0)
        return 0;
    int err = -errno;
    DIR *d = err == -EEXIST ? opendir(dir) : NULL;
    if (!d) {
        err = err == -EEXIST ? -errno : err;
        return cli_fail(err, "cannot create %s: %s", dir, zc_strerror(err));
    }
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d)) != NULL) {
        if (!is_frame_name(e->d_name) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue; /* not a frame file of ours */
        if (unlinkat(dirfd(d), e->d_name, 0) != 0) {
            err = -errno;
            cli_fail(err, "cannot remove the old frame %s/%s: %s", dir, e->d_name,
                     zc_strerror(err));
            closedir(d);
            return err;
        }
        (*removed)++;
    }
    closedir(d);
    return 0;
}

/* What a run measures; sums over frames on each rank. */
struct tally {
    unsigned frames;
    uint64_t composite_bytes, halo_bytes, gather_bytes;
    uint64_t busiest_bytes; /* rank 0: sum over frames of the most a rank sent */
    double render_s, composite_s, sim_s, baseline_s;
    int baseline_diff;
};

static int max_channel_diff(const struct zc_fb *a, const struct zc_fb *b)
{
    int worst = 0;
    for (unsigned y = 0; y < zc_fb_height(a); y++) {
        const uint8_t *pa = (const uint8_t *)zc_fb_visible_row(a, y);
        const uint8_t *pb = (const uint8_t *)zc_fb_visible_row(b, y);
        for (unsigned i = 0; i < zc_fb_width(a) * 4; i++) {
            int d = abs((int)pa[i] - (int)pb[i]);
            worst = d > worst ? d : worst;
        }
    }
    return worst;
}

/* The baseline: the whole field to rank 0, rendered there alone. */
static int run_baseline(struct zc_sim *sim, const struct zc_sim_view *view, const struct zc_fb *fb,
                        struct tally *t)
{
    uint64_t t0 = zc_now_ns(), sent = 0;
    struct zc_sim *whole;
    int err = zc_sim_gather(sim, 0, &whole, &sent);
    if (err)
        return err;
    MPI_Allreduce(&sent, &t->gather_bytes, 1, MPI_UINT64_T, MPI_SUM, zc_sim_comm(sim));
    if (!whole) {
        t->baseline_s = zc_ns_to_s(zc_now_ns() - t0);
        return 0;
    }
    struct zc_fb *ref = NULL;
    float *img = malloc((size_t)view->width * view->height * 4 * sizeof(float));
    err = img ? zc_sim_render(whole, view, img) : -ENOMEM;
    if (!err)
        err = zc_fb_create(&ref, view->width, view->height, 0);
    if (!err)
        err = zc_composite_to_fb(img, ref);
    t->baseline_s = zc_ns_to_s(zc_now_ns() - t0);
    if (!err)
        t->baseline_diff = max_channel_diff(fb, ref);
    zc_fb_destroy(ref);
    free(img);
    zc_sim_destroy(whole);
    return err;
}

/* The same error on every rank: the worst (most negative) of them. */
static int agree(MPI_Comm comm, int err)
{
    int all;
    MPI_Allreduce(&err, &all, 1, MPI_INT, MPI_MIN, comm);
    return all;
}

/* One frame's tile on this rank, as the in-situ context asks for it:
 * ghosts filled, the scale (the brightest energy anywhere) agreed, then
 * the brick ray-cast straight from the field arrays. */
struct fdtd_tile {
    struct zc_sim *sim;
    struct zc_sim_view *view;
    struct tally *t;
    uint64_t halo;
};

static int render_tile(void *arg, const double view_dir[3], float *rgba)
{
    struct fdtd_tile *ft = arg;
    uint64_t t0 = zc_now_ns();
    int err = zc_sim_render(ft->sim, ft->view, rgba);
    ft->t->render_s += zc_ns_to_s(zc_now_ns() - t0);
    return err;
}

static int render_frame(struct zc_sim *sim, struct zc_insitu *ctx, struct zc_sim_view *view,
                        struct tally *t, int rank, uint64_t step)
{
    uint64_t t0 = zc_now_ns();
    struct fdtd_tile ft = {.sim = sim, .view = view, .t = t};
    int err = zc_sim_exchange_ghosts(sim, &ft.halo);
    double umax = 0;
    if (!err)
        err = zc_sim_energy_max(sim, &umax);
    if (err)
        return err;
    t->render_s += zc_ns_to_s(zc_now_ns() - t0);
    view->log_umax = umax > 0 ? log10(umax) : 0;
    struct zc_tf tf;
    zc_sim_view_tf(view, &tf);
    zc_insitu_set_tf(ctx, &tf);
    if ((err = zc_insitu_publish_tiles(ctx, render_tile, &ft, step, zc_sim_time(sim))))
        return err;
    struct zc_composite_stats st;
    zc_insitu_last_stats(ctx, &st);
    t->frames++;
    t->halo_bytes += ft.halo;
    t->composite_bytes += st.bytes_sent;
    t->composite_s += st.seconds;
    uint64_t worst;
    double slowest;
    MPI_Reduce(&st.bytes_sent, &worst, 1, MPI_UINT64_T, MPI_MAX, 0, zc_sim_comm(sim));
    MPI_Reduce(&st.seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, zc_sim_comm(sim));
    t->busiest_bytes += rank == 0 ? worst : 0;
    /* Named as its file is (frame_STEP.png); simulated time in the
     * solver's units, light's time across a cell. */
    if (rank == 0)
        printf("frame_%08llu.png (step %llu, t = %.1f dx/c): composite %.4f s, at most %llu "
               "bytes sent by a rank\n",
               (unsigned long long)step, (unsigned long long)step, zc_sim_time(sim), slowest,
               (unsigned long long)worst);
    return 0;
}

static void report(const struct insitu_opts *o, const struct tally *t, MPI_Comm comm, int size,
                   const struct insitu_consumer *consumer)
{
    double comp_s, render_s, sim_s;
    uint64_t total_bytes, halo;
    MPI_Reduce(&t->composite_bytes, &total_bytes, 1, MPI_UINT64_T, MPI_SUM, 0, comm);
    MPI_Reduce(&t->halo_bytes, &halo, 1, MPI_UINT64_T, MPI_MAX, 0, comm);
    MPI_Reduce(&t->composite_s, &comp_s, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&t->render_s, &render_s, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&t->sim_s, &sim_s, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank != 0)
        return;
    double frames = t->frames, total_per_frame = total_bytes / frames;
    double worst_per_frame = t->busiest_bytes / frames;
    uint64_t image = (uint64_t)o->width * o->height * 4;
    double ratio = total_per_frame > 0 ? t->gather_bytes / total_per_frame : 0;
    if (consumer && consumer->done) {
        consumer->done(consumer->arg, &(struct insitu_figures){.frames = t->frames,
                                                               .image_bytes = image,
                                                               .composite_bytes = total_bytes,
                                                               .busiest_bytes = t->busiest_bytes,
                                                               .gather_bytes = t->gather_bytes});
        return;
    }
    if (!o->json) {
        char a[32], b[32], c[32];
        printf("%u frames on %d ranks: composite %.4f s/frame, render %.4f s/frame\n", t->frames,
               size, comp_s / frames, render_s / frames);
        printf("bytes a rank sends per frame: %s at most (image %s); all ranks: %s\n",
               zc_fmt_bytes(worst_per_frame, a, sizeof(a)), zc_fmt_bytes((double)image, b, 32),
               zc_fmt_bytes(total_per_frame, c, sizeof(c)));
        if (o->baseline)
            printf("gather baseline: %s per frame (%.1fx the compositing), %.3f s with the "
                   "render at rank 0; image differs by at most %d/255\n",
                   zc_fmt_bytes((double)t->gather_bytes, a, sizeof(a)), ratio, t->baseline_s,
                   t->baseline_diff);
        return;
    }
    struct zc_json j;
    zc_json_begin(&j, stdout);
    zc_json_u64(&j, "ranks", (uint64_t)size);
    zc_json_u64(&j, "grid", o->grid);
    zc_json_u64(&j, "width", o->width);
    zc_json_u64(&j, "height", o->height);
    zc_json_u64(&j, "steps", o->steps);
    zc_json_u64(&j, "frames", t->frames);
    zc_json_str(&j, "algorithm", o->algo == ZC_COMPOSITE_RADIX_K ? "radix-k" : "binary-swap");
    zc_json_str(&j, "precision",
                o->wire == ZC_PIXEL_RGBA_AUTO ? "auto"
                : o->wire == ZC_PIXEL_RGBA8   ? "8"
                                              : "16");
    zc_json_u64(&j, "image_bytes", image);
    zc_json_u64(&j, "bytes_sent_per_rank_per_frame", (uint64_t)llround(worst_per_frame));
    zc_json_u64(&j, "composite_bytes_per_frame", (uint64_t)llround(total_per_frame));
    zc_json_num(&j, "composite_seconds_per_frame", comp_s / frames);
    zc_json_num(&j, "render_seconds_per_frame", render_s / frames);
    zc_json_u64(&j, "halo_bytes_per_rank_per_frame", (uint64_t)llround((double)halo / frames));
    zc_json_num(&j, "simulate_seconds", sim_s);
    zc_json_bool(&j, "baseline_run", o->baseline);
    zc_json_u64(&j, "gather_bytes_per_frame", t->gather_bytes);
    if (o->baseline) {
        zc_json_num(&j, "gather_to_composite_bytes", ratio);
        zc_json_num(&j, "baseline_seconds_per_frame", t->baseline_s);
        zc_json_u64(&j, "baseline_max_channel_diff", (uint64_t)t->baseline_diff);
    }
    zc_json_end(&j);
}

/* The caller's consumer (cmd_insitu_with_sink) behind the context's
 * callback sink, counting frames. */
struct consumer {
    const struct insitu_consumer *c;
    bool annotated; /* frames carry their facts as PNG text */
    unsigned frames;
};

static int hand_on(void *arg, const struct zc_fb *fb, const struct zc_insitu_frame *info)
{
    struct consumer *c = arg;
    c->c->frame(c->c->arg, fb, c->frames++, c->annotated ? info : NULL);
    return 0;
}

/* The FDTD's brick and view as an in-situ configuration. */
static void insitu_config(const struct insitu_opts *o, struct zc_sim *sim,
                          const struct zc_sim_view *view, struct zc_insitu_config *ic)
{
    unsigned g = zc_sim_grid(sim), global[3] = {g, g, g}, lo[3], n[3];
    zc_sim_brick(sim, lo, n);
    zc_insitu_config_default(ic, global, lo, n, 1);
    ic->camera.azimuth = view->azimuth;
    ic->camera.elevation = view->elevation;
    ic->width = o->width;
    ic->height = o->height;
    ic->step = view->step;
    ic->algo = o->algo == ZC_COMPOSITE_RADIX_K ? ZC_INSITU_RADIX_K : ZC_INSITU_BINARY_SWAP;
    ic->k = (unsigned)o->k;
    ic->wire = o->wire;
    snprintf(ic->field, sizeof(ic->field), "log10 energy density");
    ic->annotate = o->annotate;
    ic->brick_grid = o->brick_grid;
}

static int run(const struct insitu_opts *o, int rank, int size,
               const struct insitu_consumer *consumer)
{
    struct zc_sim_config cfg;
    zc_sim_config_default(&cfg, (unsigned)o->grid);
    struct zc_sim *sim;
    int err = zc_sim_create(MPI_COMM_WORLD, &cfg, &sim);
    if (err) {
        if (rank == 0)
            cli_fail(err,
                     "a %llu-cell grid cannot be split over %d ranks (2 cells a brick at least): "
                     "%s",
                     (unsigned long long)o->grid, size, zc_strerror(err));
        return ZC_EXIT_FAIL;
    }
    MPI_Comm comm = zc_sim_comm(sim);
    struct zc_sim_view view;
    zc_sim_view_default(&view, o->width, o->height);
    struct zc_insitu_config ic;
    insitu_config(o, sim, &view, &ic);
    struct zc_insitu *ctx = NULL;
    struct consumer next = {.c = consumer, .annotated = o->annotate};
    bool said = false; /* rank 0 has already told what failed */
    if (rank == 0 && o->out) {
        unsigned removed;
        err = insitu_prepare_frames(o->out, &removed);
        said = err != 0;
    }
    err = agree(comm, err);
    if (!err)
        err = zc_insitu_open(comm, &ic, &ctx);
    if (!err && o->out)
        err = zc_insitu_sink_png(ctx, o->out);
    if (!err && consumer && consumer->frame)
        err = zc_insitu_sink_callback(ctx, hand_on, &next);
    err = agree(comm, err);

    struct tally t = {0};
    struct zc_progress prog;
    uint64_t field_bytes = o->grid * o->grid * o->grid * 6 * sizeof(float);
    zc_progress_start(&prog, "simulating", o->steps * field_bytes,
                      rank != 0 || o->json || (consumer && consumer->done));
    for (uint64_t step = 0; step < o->steps && !err;) {
        uint64_t next_step = ZC_MIN((step / o->every + 1) * o->every, o->steps);
        uint64_t t0 = zc_now_ns();
        err = zc_sim_step(sim, (unsigned)(next_step - step));
        t.sim_s += zc_ns_to_s(zc_now_ns() - t0);
        zc_progress_add(&prog, (next_step - step) * field_bytes);
        step = next_step;
        if (!err)
            err = render_frame(sim, ctx, &view, &t, rank, step);
    }
    zc_progress_finish(&prog);
    if (!err && o->baseline)
        err = agree(comm, run_baseline(sim, &view, zc_insitu_last_frame(ctx), &t));
    if (!err) {
        if (!o->baseline) {
            uint64_t mine = 0;
            unsigned lo[3], n[3];
            zc_sim_brick(sim, lo, n);
            if (rank != 0)
                mine = (uint64_t)n[0] * n[1] * n[2] * 6 * sizeof(float);
            MPI_Allreduce(&mine, &t.gather_bytes, 1, MPI_UINT64_T, MPI_SUM, comm);
        }
        report(o, &t, comm, size, consumer);
    } else if (rank == 0 && !said) {
        cli_fail(err, "frame %u failed: %s", t.frames + 1, zc_strerror(err));
    }
    zc_insitu_close(ctx);
    zc_sim_destroy(sim);
    return err ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}

/* The rank the launcher gave this process (Open MPI, PMIx, MPICH), known
 * before MPI starts; 0 when no launcher started it. */
static long launcher_rank(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < ZC_ARRAY_SIZE(vars); i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strtol(v, NULL, 10);
    }
    return 0;
}

/* Every rank parses the same arguments, but only rank 0 speaks of them:
 * a usage error or --help is said once, not once a rank. */
static int parse_once(int argc, char **argv, struct insitu_opts *o)
{
    if (launcher_rank() == 0)
        return parse(argc, argv, o);
    int saved[2] = {dup(STDOUT_FILENO), dup(STDERR_FILENO)};
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    bool quiet = saved[0] >= 0 && saved[1] >= 0 && null >= 0;
    if (quiet) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    int rc = parse(argc, argv, o);
    fflush(stdout);
    fflush(stderr);
    for (int fd = 0; fd < 2; fd++) {
        if (quiet)
            dup2(saved[fd], fd + 1);
        if (saved[fd] >= 0)
            close(saved[fd]);
    }
    if (null >= 0)
        close(null);
    return rc;
}

/* `zc insitu` with one more consumer of each final frame, called at rank
 * 0 after the frame's PNG is written (the pipeline demo hands frames on
 * through a shared-memory ring this way).  Returns the exit code. */
int cmd_insitu_with_sink(int argc, char **argv, const struct insitu_consumer *c)
{
    struct insitu_opts o;
    int rc = parse_once(argc, argv, &o);
    if (rc)
        return rc < 0 ? ZC_EXIT_OK : rc;
    cli_json_failures(o.json && launcher_rank() == 0);
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) {
        cli_fail(-EIO, "MPI failed to start");
        return ZC_EXIT_FAIL;
    }
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    cli_json_failures(o.json && rank == 0); /* the failure is said once, at rank 0 */
    rc = run(&o, rank, size, c);
    MPI_Finalize();
    return rc;
}

int cmd_insitu(int argc, char **argv)
{
    return cmd_insitu_with_sink(argc, argv, NULL);
}
