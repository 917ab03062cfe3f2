/* composite_scale.c - sort-last compositing at scale: the same program
 * under Open MPI (mpicc, mpirun) and under SimGrid's SMPI (smpicc,
 * smpirun), where thousands of simulated ranks run on a modelled network.
 *
 * Every rank owns one brick of the unit cube (MPI_Dims_create's grid) and
 * ray-casts it into its tile with an orthographic camera, front to back,
 * premultiplied, only over the brick's screen footprint (which the
 * compositor is told, so that it looks for active pixels there only):
 *
 *   shell   a spherical wave radiating from the centre: a thin bright
 *           shell with a decaying ripple inside; most bricks see little
 *           of it, so pieces are sparse (the in-situ picture)
 *   dense   a smooth field filling the cube: every pixel of every
 *           footprint is active (the worst case for active-pixel work)
 *   empty   nothing (a control: the same MPI calls as a frame with
 *           pixels, next to no computing; under SMPI, what a frame's
 *           calls cost alone)
 *
 * then composites the tiles with binary swap, radix-k (k = 2, 4, 8, and
 * the library's default, k = 0) and direct send (radix-k with k = N, one
 * round).  Per frame it prints one CSV row: seconds of zc_composite_run
 * (the slowest rank; simulated seconds under SMPI), bytes sent and
 * received (the largest rank, and all ranks together), rounds, and the
 * active pixels of the rendered tiles (all ranks together).
 *
 * --phases adds, per frame, the slowest rank's seconds in each phase of
 * zc_composite_run (span search, rounds, gather, agreement) and the
 * root's, as zc_composite_stats splits them, and when the slowest rank
 * had its final part (what is left of the frame after that is the gather
 * and the agreement).
 *
 * --check prints, instead of times, what must not depend on the MPI
 * underneath: a hash of each final image and every rank's byte counts,
 * so that a run under mpirun and one under smpirun compare with cmp.
 */
#include "zc/base.h"
#include "zc/composite.h"
#include "zc/fb.h"
#include "fb_hash.h"
#ifdef ZC_SMPI_CHARGE
#include "smpi_charge.h"
#endif

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* EMPTY: nothing rendered, a control (--field empty): the same MPI calls
 * as a frame with pixels, and next to nothing to compute. */
enum field { SHELL, DENSE, EMPTY };

#ifdef ZC_SMPI_CHARGE
/* --charge-own: charge simulated time for this program's own computing
 * only (smpi_charge.c); the smpicc build alone has it. */
static bool own_charge;
#endif

struct options {
    unsigned width, height, frames;
    bool check, full_tile, phases, empty;
    int fields;
    const char *algo; /* one variant by name, or NULL: all */ /* bit per enum field */
};

struct brick {
    int dims[3], coords[3];
    double lo[3], hi[3];
};

/* The shell: radius 0.35 from the cube's centre, width 0.04, with a ripple
 * inside it decaying towards the centre; values in [0, 1]. */
static double shell_field(const double x[3])
{
    double r = sqrt((x[0] - 0.5) * (x[0] - 0.5) + (x[1] - 0.5) * (x[1] - 0.5) +
                    (x[2] - 0.5) * (x[2] - 0.5));
    double front = exp(-((r - 0.35) * (r - 0.35)) / (2 * 0.02 * 0.02));
    double ripple = r < 0.35 ? 0.25 * r / 0.35 * cos(60 * r) * cos(60 * r) : 0;
    return front + ripple;
}

static double dense_field(const double x[3])
{
    return 0.55 + 0.45 * sin(7 * x[0]) * sin(5 * x[1] + 1) * sin(6 * x[2] + 2);
}

/* A transfer function: warm colours, opacity rising with the value, and
 * nothing below a floor. */
static void classify(double v, float out[4])
{
    float a = v < 0.08 ? 0.0f : (float)(0.5 * (v - 0.08));
    out[0] = a * (float)(0.4 + 0.6 * v);
    out[1] = a * (float)(0.2 + 0.5 * v * v);
    out[2] = a * (float)(0.6 - 0.4 * v);
    out[3] = a;
}

/* The camera: looks along dir; a pixel's ray starts on the plane through
 * the cube's centre spanned by right and up, scaled so the cube fits. */
struct camera {
    double dir[3], right[3], up[3];
    unsigned width, height;
};

static void camera_init(struct camera *cam, unsigned w, unsigned h)
{
    const double d[3] = {0.48, 0.36, 0.8}, n = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    for (int i = 0; i < 3; i++)
        cam->dir[i] = d[i] / n;
    /* right = dir x z-up, normalised; up = right x dir. */
    double rx = cam->dir[1], ry = -cam->dir[0], rn = sqrt(rx * rx + ry * ry);
    cam->right[0] = rx / rn, cam->right[1] = ry / rn, cam->right[2] = 0;
    cam->up[0] = cam->right[1] * cam->dir[2] - cam->right[2] * cam->dir[1];
    cam->up[1] = cam->right[2] * cam->dir[0] - cam->right[0] * cam->dir[2];
    cam->up[2] = cam->right[0] * cam->dir[1] - cam->right[1] * cam->dir[0];
    cam->width = w, cam->height = h;
}

static double dot(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* Pixel coordinates of point x (the cube's diagonal spans the image). */
static void project(const struct camera *cam, const double x[3], double *px, double *py)
{
    double c[3] = {x[0] - 0.5, x[1] - 0.5, x[2] - 0.5};
    double s = (double)ZC_MIN(cam->width, cam->height) / sqrt(3.0);
    *px = cam->width / 2.0 + dot(c, cam->right) * s;
    *py = cam->height / 2.0 - dot(c, cam->up) * s;
}

/* The ray of pixel (i, j) from far behind the cube. */
static void pixel_ray(const struct camera *cam, unsigned i, unsigned j, double o[3])
{
    double s = (double)ZC_MIN(cam->width, cam->height) / sqrt(3.0);
    double u = (i + 0.5 - cam->width / 2.0) / s, v = -(j + 0.5 - cam->height / 2.0) / s;
    for (int d = 0; d < 3; d++)
        o[d] = 0.5 + u * cam->right[d] + v * cam->up[d] - 2 * cam->dir[d];
}

/* Where the ray o + t dir is inside the brick: false when it misses. */
static bool clip(const struct brick *b, const double o[3], const double dir[3], double *t0,
                 double *t1)
{
    *t0 = 0, *t1 = 1e9;
    for (int d = 0; d < 3; d++) {
        double ta = (b->lo[d] - o[d]) / dir[d], tb = (b->hi[d] - o[d]) / dir[d];
        *t0 = fmax(*t0, fmin(ta, tb));
        *t1 = fmin(*t1, fmax(ta, tb));
    }
    return *t0 < *t1;
}

/* Samples on a global lattice along the ray (t = k * step), so that
 * neighbouring bricks split every ray's samples between them exactly. */
static void cast(const struct brick *b, const double o[3], const double dir[3], enum field f,
                 float *out)
{
    const double step = 1.0 / 256;
    double t0, t1;
    if (!clip(b, o, dir, &t0, &t1))
        return;
    float acc[4] = {0, 0, 0, 0};
    for (double k = ceil(t0 / step); k * step < t1 && acc[3] < 0.995f; k++) {
        double x[3] = {o[0] + k * step * dir[0], o[1] + k * step * dir[1],
                       o[2] + k * step * dir[2]};
        float s[4];
        classify(f == SHELL ? shell_field(x) : dense_field(x), s);
        float tr = 1.0f - acc[3];
        for (int c = 0; c < 4; c++)
            acc[c] += tr * s[c];
    }
    memcpy(out, acc, sizeof(acc));
}

/* Renders the brick into the tile (cleared first) over its screen
 * footprint, which *fp receives; returns its active pixels. */
static uint64_t render(const struct brick *b, const struct camera *cam, enum field f, float *rgba,
                       struct zc_composite_rect *fp)
{
    memset(rgba, 0, (size_t)cam->width * cam->height * 4 * sizeof(float));
    double x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
    for (int corner = 0; corner < 8; corner++) {
        double x[3], px, py;
        for (int d = 0; d < 3; d++)
            x[d] = corner >> d & 1 ? b->hi[d] : b->lo[d];
        project(cam, x, &px, &py);
        x0 = fmin(x0, px), x1 = fmax(x1, px), y0 = fmin(y0, py), y1 = fmax(y1, py);
    }
    unsigned i0 = (unsigned)fmax(0, floor(x0) - 1), i1 = (unsigned)fmin(cam->width, ceil(x1) + 1);
    unsigned j0 = (unsigned)fmax(0, floor(y0) - 1), j1 = (unsigned)fmin(cam->height, ceil(y1) + 1);
    *fp = (struct zc_composite_rect){i0, j0, ZC_MAX(i0, i1), ZC_MAX(j0, j1)};
    if (f == EMPTY)
        *fp = (struct zc_composite_rect){0, 0, 0, 0};
    uint64_t active = 0;
    for (unsigned j = j0; j < j1 && f != EMPTY; j++)
        for (unsigned i = i0; i < i1; i++) {
            double o[3];
            float *px = rgba + 4 * ((size_t)j * cam->width + i);
            pixel_ray(cam, i, j, o);
            cast(b, o, cam->dir, f, px);
            active += px[3] > 0;
        }
    return active;
}

struct variant {
    const char *name;
    enum zc_composite_algo algo;
    unsigned k; /* 0: the library's default; UINT_MAX: every rank (direct send) */
};

static const struct variant variants[] = {
    {"binary-swap", ZC_COMPOSITE_BINARY_SWAP, 0}, {"radix-2", ZC_COMPOSITE_RADIX_K, 2},
    {"radix-4", ZC_COMPOSITE_RADIX_K, 4},         {"radix-8", ZC_COMPOSITE_RADIX_K, 8},
    {"radix-auto", ZC_COMPOSITE_RADIX_K, 0},      {"direct-send", ZC_COMPOSITE_RADIX_K, ~0u},
};

/* The phases of zc_composite_stats, in order. */
enum { PHASES = 4 };
static const char *const phase_names[PHASES] = {"spans", "rounds", "gather", "agree"};

struct frame_result {
    double seconds, phase_max[PHASES], phase_root[PHASES];
    double ready; /* when the slowest rank had its final part (spans and rounds) */
    uint64_t sent_max, sent_total, recv_max, recv_total, active;
    unsigned rounds;
};

/* From a barrier: the clock at the start of a timed stretch (with
 * --charge-own, charging starts here too). */
static double timed_start(MPI_Comm comm)
{
    MPI_Barrier(comm);
#ifdef ZC_SMPI_CHARGE
    if (own_charge)
        smpi_charge_begin();
#endif
    return MPI_Wtime();
}

/* Seconds since timed_start() gave t0; charging stops. */
static double timed_stop(double t0)
{
    double dt = MPI_Wtime() - t0;
#ifdef ZC_SMPI_CHARGE
    if (own_charge)
        smpi_charge_end();
#endif
    return dt;
}

/* One frame: render, then time zc_composite_run alone (from a barrier,
 * so rendering never counts), told the brick's footprint unless full
 * says to scan the whole tile; the figures at rank 0, this rank's in st. */
static int run_frame(MPI_Comm cart, struct zc_composite *c, const struct brick *b,
                     const struct camera *cam, enum field f, struct zc_fb *fb, bool full,
                     struct frame_result *out, struct zc_composite_stats *st)
{
    struct zc_composite_rect fp;
    uint64_t active = render(b, cam, f, zc_composite_rgba(c), &fp);
    int err = zc_composite_set_bounds(c, full ? NULL : &fp);
    if (err)
        return err;
    double t0 = timed_start(cart);
    err = zc_composite_run(c, cam->dir, fb, st);
    double dt = timed_stop(t0);
    if (err)
        return err;
    MPI_Reduce(&dt, &out->seconds, 1, MPI_DOUBLE, MPI_MAX, 0, cart);
    MPI_Reduce(&st->bytes_sent, &out->sent_max, 1, MPI_UINT64_T, MPI_MAX, 0, cart);
    MPI_Reduce(&st->bytes_sent, &out->sent_total, 1, MPI_UINT64_T, MPI_SUM, 0, cart);
    MPI_Reduce(&st->bytes_received, &out->recv_max, 1, MPI_UINT64_T, MPI_MAX, 0, cart);
    MPI_Reduce(&st->bytes_received, &out->recv_total, 1, MPI_UINT64_T, MPI_SUM, 0, cart);
    MPI_Reduce(&st->rounds, &out->rounds, 1, MPI_UNSIGNED, MPI_MAX, 0, cart);
    MPI_Reduce(&active, &out->active, 1, MPI_UINT64_T, MPI_SUM, 0, cart);
    const double phase[PHASES] = {st->spans_seconds, st->rounds_seconds, st->gather_seconds,
                                  st->agree_seconds};
    MPI_Reduce(phase, out->phase_max, PHASES, MPI_DOUBLE, MPI_MAX, 0, cart);
    memcpy(out->phase_root, phase, sizeof(phase)); /* rank 0 is the root */
    const double ready = phase[0] + phase[1];
    MPI_Reduce(&ready, &out->ready, 1, MPI_DOUBLE, MPI_MAX, 0, cart);
    return 0;
}

/* Every rank's byte counts, hashed at rank 0 (FNV-1a). */
static uint64_t bytes_hash(MPI_Comm cart, const struct zc_composite_stats *st, int size)
{
    uint64_t mine[2] = {st->bytes_sent, st->bytes_received}, h = 0xcbf29ce484222325u;
    uint64_t *all = malloc((size_t)size * sizeof(mine));
    MPI_Gather(mine, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, 0, cart);
    for (int i = 0; all && i < 2 * size; i++)
        h = (h ^ all[i]) * 0x100000001b3u;
    free(all);
    return h;
}

static int run_variant(MPI_Comm cart, const struct brick *b, const struct options *o,
                       const struct variant *v, enum field f, int rank, int size)
{
    struct zc_composite_config cc = {.algo = v->algo,
                                     .mode = ZC_COMPOSITE_OVER,
                                     .wire = ZC_PIXEL_RGBA_AUTO,
                                     .k = v->k == ~0u ? (unsigned)ZC_MAX(size, 2) : v->k,
                                     .width = o->width,
                                     .height = o->height,
                                     .root = 0};
    struct zc_composite *c;
    int err = zc_composite_create(cart, &cc, &c);
    if (err)
        return err;
    struct zc_fb *fb = NULL;
    if (rank == 0 && (err = zc_fb_create(&fb, o->width, o->height, 0))) {
        zc_composite_destroy(c);
        return err;
    }
    struct camera cam;
    camera_init(&cam, o->width, o->height);
    const char *fname = f == SHELL ? "shell" : f == DENSE ? "dense" : "empty";
    for (unsigned frame = 0; frame < o->frames && !err; frame++) {
        struct frame_result r;
        struct zc_composite_stats st;
        if ((err = run_frame(cart, c, b, &cam, f, fb, o->full_tile, &r, &st)))
            break;
        if (o->check) {
            uint64_t bh = bytes_hash(cart, &st, size);
            if (rank == 0)
                printf("%s,%s,%d,%ux%u,image %016llx,bytes %016llx,sent %llu,received %llu,"
                       "rounds %u\n",
                       fname, v->name, size, o->width, o->height,
                       (unsigned long long)bench_fb_hash(fb), (unsigned long long)bh,
                       (unsigned long long)r.sent_total, (unsigned long long)r.recv_total,
                       r.rounds);
        } else if (rank == 0) {
            printf("%s,%s,%d,%ux%u,%u,%.9f,%llu,%llu,%llu,%llu,%u,%llu\n", fname, v->name, size,
                   o->width, o->height, frame, r.seconds, (unsigned long long)r.sent_max,
                   (unsigned long long)r.sent_total, (unsigned long long)r.recv_max,
                   (unsigned long long)r.recv_total, r.rounds, (unsigned long long)r.active);
            for (int p = 0; o->phases && p < PHASES; p++)
                printf("# phase %s: slowest rank %.6f s, root %.6f s\n", phase_names[p],
                       r.phase_max[p], r.phase_root[p]);
            if (o->phases)
                printf("# every final part ready after %.6f s (spans and rounds, slowest rank)\n",
                       r.ready);
        }
    }
    zc_fb_destroy(fb);
    zc_composite_destroy(c);
    return err;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: [mpirun|smpirun ...] composite_scale [--size WxH] [--frames F]\n"
               "       [--field shell|dense|both|empty] [--algo NAME] [--check] [--full-tile]\n"
               "       [--phases] [--charge-own] [--empty-rounds]\n"
               "--algo: one of binary-swap, radix-2, radix-4, radix-8, radix-auto,\n"
               "        direct-send (default: all)\n"
               "--full-tile: do not tell the compositor the brick's screen footprint\n"
               "--phases: after each row, the slowest rank's and the root's seconds in\n"
               "          each phase (lines starting with #)\n"
               "--charge-own: under smpirun with --cfg=smpi/simulate-computation:0 and\n"
               "          --cfg=smpi/wtime:0, charge only the frame's own computing (this\n"
               "          machine's clock between MPI calls) instead of SMPI's stretch\n"
               "          timing, which also charges the simulator's code (smpicc build only)\n"
               "--empty-rounds: instead of compositing, time a round with nothing to\n"
               "          compute (7 MPI_Irecv, 7 MPI_Isend of 64 bytes to ring\n"
               "          neighbours, MPI_Waitall), the slowest rank's mean over 10: what\n"
               "          the MPI calls of a radix-8 round cost alone\n"
               "CSV to stdout: field,algo,ranks,size,frame,seconds,sent_max,sent_total,\n"
               "recv_max,recv_total,rounds,active_pixels\n");
}

static int parse(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {{"size", required_argument, NULL, 's'},
                                             {"frames", required_argument, NULL, 'f'},
                                             {"field", required_argument, NULL, 'F'},
                                             {"check", no_argument, NULL, 'c'},
                                             {"full-tile", no_argument, NULL, 't'},
                                             {"algo", required_argument, NULL, 'a'},
                                             {"phases", no_argument, NULL, 'p'},
                                             {"charge-own", no_argument, NULL, 'o'},
                                             {"empty-rounds", no_argument, NULL, 'e'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (struct options){256, 256, 3, false, false, false, false, 1 << SHELL | 1 << DENSE, NULL};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (sscanf(optarg, "%ux%u", &o->width, &o->height) != 2 || !o->width || !o->height)
                return 2;
            break;
        case 'f':
            o->frames = (unsigned)atoi(optarg);
            break;
        case 'F':
            o->fields = strcmp(optarg, "shell") == 0   ? 1 << SHELL
                        : strcmp(optarg, "dense") == 0 ? 1 << DENSE
                        : strcmp(optarg, "both") == 0  ? 1 << SHELL | 1 << DENSE
                        : strcmp(optarg, "empty") == 0 ? 1 << EMPTY
                                                       : 0;
            if (!o->fields)
                return 2;
            break;
        case 'c':
            o->check = true;
            break;
        case 't':
            o->full_tile = true;
            break;
        case 'p':
            o->phases = true;
            break;
        case 'e':
            o->empty = true;
            break;
        case 'a':
            o->algo = optarg;
            break;
        case 'o':
#ifdef ZC_SMPI_CHARGE
            own_charge = true;
            break;
#else
            fprintf(stderr, "composite_scale: --charge-own needs the smpicc build "
                            "(composite_scale_smpi)\n");
            return 2;
#endif
        case 'h':
            usage(stdout);
            return 1;
        default:
            return 2;
        }
    }
    bool known = !o->algo;
    for (size_t v = 0; v < ZC_ARRAY_SIZE(variants) && !known; v++)
        known = strcmp(o->algo, variants[v].name) == 0;
    return optind == argc && o->frames > 0 && known ? 0 : 2;
}

/* --empty-rounds: the slowest rank's mean seconds of a round of MPI
 * calls with no computing between them. */
static void empty_rounds(int rank, int size)
{
    enum { K = 8, ROUNDS = 10 };
    char out[K - 1][64] = {{0}}, in[K - 1][64];
    MPI_Request req[2 * (K - 1)];
    double t0 = timed_start(MPI_COMM_WORLD);
    for (int r = 0; r < ROUNDS; r++) {
        for (int j = 0; j < K - 1; j++)
            MPI_Irecv(in[j], sizeof(in[j]), MPI_BYTE, (rank + j + 1) % size, 1, MPI_COMM_WORLD,
                      &req[j]);
        for (int j = 0; j < K - 1; j++)
            MPI_Isend(out[j], sizeof(out[j]), MPI_BYTE, ((rank - j - 1) % size + size) % size, 1,
                      MPI_COMM_WORLD, &req[K - 1 + j]);
        MPI_Waitall(2 * (K - 1), req, MPI_STATUSES_IGNORE);
    }
    double dt = timed_stop(t0) / ROUNDS, slowest;
    MPI_Reduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("empty round,%d ranks,%.9f s\n", size, slowest);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    struct options o;
    int rc = parse(argc, argv, &o);
    if (rc) {
        if (rank == 0 && rc == 2)
            usage(stderr);
        MPI_Finalize();
        return rc == 1 ? 0 : 2;
    }
    if (o.empty) {
        empty_rounds(rank, size);
        MPI_Finalize();
        return 0;
    }
    struct brick b;
    memset(&b, 0, sizeof(b));
    int periods[3] = {0, 0, 0};
    MPI_Dims_create(size, 3, b.dims);
    MPI_Comm cart;
    MPI_Cart_create(MPI_COMM_WORLD, 3, b.dims, periods, 0, &cart);
    MPI_Cart_coords(cart, rank, 3, b.coords);
    for (int d = 0; d < 3; d++) {
        b.lo[d] = (double)b.coords[d] / b.dims[d];
        b.hi[d] = (double)(b.coords[d] + 1) / b.dims[d];
    }
    if (rank == 0 && !o.check)
        printf("field,algo,ranks,size,frame,seconds,sent_max,sent_total,recv_max,recv_total,"
               "rounds,active_pixels\n");
    int err = 0;
    for (int f = SHELL; f <= EMPTY && !err; f++)
        for (size_t v = 0; o.fields >> f & 1 && v < ZC_ARRAY_SIZE(variants) && !err; v++)
            if (!o.algo || strcmp(o.algo, variants[v].name) == 0)
                err = run_variant(cart, &b, &o, &variants[v], (enum field)f, rank, size);
    if (err && rank == 0)
        fprintf(stderr, "composite_scale: %s\n", zc_strerror(err));
    MPI_Comm_free(&cart);
    MPI_Finalize();
    return err ? 1 : 0;
}
