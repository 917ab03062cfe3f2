/* composite_icet_check.c - zc's compositing and IceT's on the same tiles:
 * the same image (every channel within 1 of 255), and their times and
 * bytes side by side.  Runs under mpirun and, built with smpicc, under
 * SimGrid's smpirun.
 *
 * Every rank owns one brick of the unit cube (MPI_Dims_create's grid, as
 * bench/composite_scale) and paints it as a fog of a colour and density of
 * its own seen along an oblique view, so that bricks overlap on screen and
 * the image depends on their order: a reversed or shuffled order shows at
 * once.  With three ranks or more the last one paints nothing (an empty
 * layer, an empty rectangle).  zc
 * composites along a view direction; IceT gets the ranks in the
 * visibility order zc's grid gives for that direction (along the first
 * axis where two bricks differ, the lower one first when the view looks
 * towards +axis).
 *
 * Output, at rank 0, per pair of algorithms:
 *   image,PAIR,N,WxH,zc HASH,icet HASH,maxdiff D
 *   time,PAIR,N,WxH,zc SECONDS SENT_MAX SENT_TOTAL,icet SECONDS SENT_MAX
 *        SENT_TOTAL COLLECTIVE_TOTAL
 * seconds the slowest rank's (simulated under SMPI), bytes the largest
 * rank's and all ranks' together.  The "image" lines do not depend on the
 * MPI underneath.  Exit status 1 when a difference exceeds 1.
 */
#include "composite_icet.h"
#include "zc/base.h"
#include "zc/composite.h"
#include "zc/fb.h"
#include "fb_hash.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pair {
    const char *name;
    enum zc_composite_algo zc_algo;
    unsigned zc_k;
    enum icet_peer_algo icet_algo;
    int magic_k;
};

/* zc's algorithms against IceT's nearest strategies; IceT's tree and its
 * own choice against zc's default. */
static const struct pair pairs[] = {
    {"binary-swap", ZC_COMPOSITE_BINARY_SWAP, 0, ICET_PEER_BSWAP, 0},
    {"radix-8", ZC_COMPOSITE_RADIX_K, 8, ICET_PEER_RADIXK, 8},
    {"tree", ZC_COMPOSITE_RADIX_K, 0, ICET_PEER_TREE, 0},
    {"auto", ZC_COMPOSITE_RADIX_K, 0, ICET_PEER_AUTO, 0},
};

static const double view_dir[3] = {0.48, 0.36, 0.8};

struct setup {
    MPI_Comm cart;
    int rank, size, dims[3];
    unsigned width, height;
    enum zc_composite_pixel wire; /* zc's pixels between rounds */
    int tolerance;                /* the largest channel difference allowed */
    enum icet_peer_color color;   /* IceT's pixels */
    unsigned frames;              /* composites timed; the last one's figures are printed */
    int *order;                   /* ranks front to back */
};

/* Whether brick a is in front of brick b for a camera looking along dir. */
static bool in_front(const int a[3], const int b[3], const double dir[3])
{
    for (int d = 0; d < 3; d++)
        if (a[d] != b[d])
            return dir[d] >= 0 ? a[d] < b[d] : a[d] > b[d];
    return false;
}

/* Every rank's brick, sorted front to back (insertion sort). */
static int visibility_order(struct setup *s)
{
    int(*coords)[3] = malloc((size_t)s->size * sizeof(*coords));
    s->order = malloc((size_t)s->size * sizeof(*s->order));
    if (!coords || !s->order) {
        free(coords);
        return -ENOMEM;
    }
    for (int r = 0; r < s->size; r++) {
        MPI_Cart_coords(s->cart, r, 3, coords[r]);
        int u = r;
        for (; u > 0 && in_front(coords[r], coords[s->order[u - 1]], view_dir); u--)
            s->order[u] = s->order[u - 1];
        s->order[u] = r;
    }
    free(coords);
    return 0;
}

/* An orthographic camera looking along view_dir at the unit cube, which
 * fits the image: right and up span the image plane through the centre. */
struct camera {
    double right[3], up[3], scale;
    unsigned width, height;
};

static void camera_init(struct camera *cam, unsigned w, unsigned h)
{
    const double *d = view_dir;
    double n = sqrt(d[0] * d[0] + d[1] * d[1]);
    double r[3] = {d[1] / n, -d[0] / n, 0}; /* view_dir x z, normalised */
    double dn = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    memcpy(cam->right, r, sizeof(r));
    cam->up[0] = (r[1] * d[2] - r[2] * d[1]) / dn;
    cam->up[1] = (r[2] * d[0] - r[0] * d[2]) / dn;
    cam->up[2] = (r[0] * d[1] - r[1] * d[0]) / dn;
    cam->scale = fmin(w, h) / sqrt(3.0);
    cam->width = w, cam->height = h;
}

/* The cube point that pixel (i, j)'s ray passes through at the centre's
 * depth. */
static void pixel_point(const struct camera *cam, unsigned i, unsigned j, double o[3])
{
    double u = (i + 0.5 - cam->width / 2.0) / cam->scale;
    double v = -(j + 0.5 - cam->height / 2.0) / cam->scale;
    for (int d = 0; d < 3; d++)
        o[d] = 0.5 + u * cam->right[d] + v * cam->up[d];
}

/* The length of the line o + t view_dir (any t) inside box [lo, hi]. */
static double chord(const double o[3], const double lo[3], const double hi[3])
{
    double dn =
        sqrt(view_dir[0] * view_dir[0] + view_dir[1] * view_dir[1] + view_dir[2] * view_dir[2]);
    double t0 = -INFINITY, t1 = INFINITY;
    for (int d = 0; d < 3; d++) {
        double ta = (lo[d] - o[d]) / view_dir[d], tb = (hi[d] - o[d]) / view_dir[d];
        t0 = fmax(t0, fmin(ta, tb));
        t1 = fmin(t1, fmax(ta, tb));
    }
    return t1 > t0 ? (t1 - t0) * dn : 0;
}

/* This rank's layer into rgba (cleared first) and the rectangle it covers:
 * its brick of the unit cube, filled with a fog of a colour and density of
 * its own, as an orthographic camera sees it.  Bricks are real boxes, so
 * any grouping that follows the grid composites to the same image, as for
 * a real renderer's bricks.  The last rank of three or more is empty. */
static void paint(const struct setup *s, float *rgba, struct zc_composite_rect *r)
{
    memset(rgba, 0, (size_t)s->width * s->height * 4 * sizeof(float));
    *r = (struct zc_composite_rect){0, 0, 0, 0};
    if (s->size >= 3 && s->rank == s->size - 1)
        return;
    struct camera cam;
    camera_init(&cam, s->width, s->height);
    int c[3];
    double lo[3], hi[3];
    MPI_Cart_coords(s->cart, s->rank, 3, c);
    for (int d = 0; d < 3; d++)
        lo[d] = (double)c[d] / s->dims[d], hi[d] = (double)(c[d] + 1) / s->dims[d];
    double density =
        1.2 * ZC_MAX(s->dims[0], ZC_MAX(s->dims[1], s->dims[2])) * (1 + 0.3 * (s->rank % 3));
    float rgb[3] = {(float)(s->rank * 37 % 11) / 10, (float)(s->rank * 53 % 7) / 6,
                    (float)(s->rank * 29 % 13) / 12};
    unsigned x0 = s->width, y0 = s->height, x1 = 0, y1 = 0;
    for (unsigned y = 0; y < s->height; y++)
        for (unsigned x = 0; x < s->width; x++) {
            double o[3];
            pixel_point(&cam, x, y, o);
            double len = chord(o, lo, hi);
            if (len <= 0)
                continue;
            float a = (float)(1 - exp(-density * len)), *px = rgba + 4 * ((size_t)y * s->width + x);
            px[0] = rgb[0] * a, px[1] = rgb[1] * a, px[2] = rgb[2] * a, px[3] = a;
            x0 = ZC_MIN(x0, x), y0 = ZC_MIN(y0, y), x1 = ZC_MAX(x1, x + 1), y1 = ZC_MAX(y1, y + 1);
        }
    if (x1 > x0)
        *r = (struct zc_composite_rect){x0, y0, x1, y1};
}

struct result {
    double seconds;
    uint64_t sent_max, sent_total, collective_total;
};

/* The slowest rank's seconds and the largest and total bytes, at rank 0. */
static void reduce(MPI_Comm comm, double seconds, uint64_t sent, uint64_t collective,
                   struct result *out)
{
    MPI_Reduce(&seconds, &out->seconds, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&sent, &out->sent_max, 1, MPI_UINT64_T, MPI_MAX, 0, comm);
    MPI_Reduce(&sent, &out->sent_total, 1, MPI_UINT64_T, MPI_SUM, 0, comm);
    MPI_Reduce(&collective, &out->collective_total, 1, MPI_UINT64_T, MPI_SUM, 0, comm);
}

static int run_zc(const struct setup *s, const struct pair *p, struct zc_fb *fb, struct result *out)
{
    struct zc_composite_config cc = {.algo = p->zc_algo,
                                     .mode = ZC_COMPOSITE_OVER,
                                     .wire = s->wire,
                                     .k = p->zc_k,
                                     .width = s->width,
                                     .height = s->height,
                                     .root = 0};
    struct zc_composite *c;
    int err = zc_composite_create(s->cart, &cc, &c);
    if (err)
        return err;
    struct zc_composite_rect r;
    paint(s, zc_composite_rgba(c), &r);
    struct zc_composite_stats st = {0};
    err = zc_composite_set_bounds(c, &r);
    /* The tile is the compositor's own buffer: paint it again each frame. */
    for (unsigned f = 0; f < s->frames && !err; f++) {
        if (f)
            paint(s, zc_composite_rgba(c), &r);
        MPI_Barrier(s->cart);
        double t0 = MPI_Wtime();
        err = zc_composite_run(c, view_dir, fb, &st);
        reduce(s->cart, MPI_Wtime() - t0, st.bytes_sent, 0, out);
    }
    zc_composite_destroy(c);
    return err;
}

static int run_icet(const struct setup *s, const struct pair *p, float *rgba, struct zc_fb *fb,
                    struct result *out)
{
    struct icet_peer *ip;
    int err = icet_peer_open(&ip, s->cart, (int)s->width, (int)s->height, p->icet_algo, p->magic_k,
                             s->color);
    if (err)
        return err;
    struct zc_composite_rect r;
    paint(s, rgba, &r);
    const int valid[4] = {(int)r.x0, (int)r.y0, (int)(r.x1 - r.x0), (int)(r.y1 - r.y0)};
    struct icet_peer_stats st = {0};
    for (unsigned f = 0; f < s->frames && !err; f++) {
        MPI_Barrier(s->cart);
        err = icet_peer_run(ip, rgba, valid, s->order, fb, &st);
        reduce(s->cart, st.seconds, st.bytes_sent, st.bytes_collective, out);
    }
    icet_peer_close(ip);
    return err;
}

/* The largest difference of one channel between the two images. */
static int max_diff(const struct zc_fb *a, const struct zc_fb *b)
{
    int worst = 0;
    for (unsigned y = 0; y < zc_fb_height(a); y++) {
        const uint8_t *ra = (const uint8_t *)zc_fb_visible_row(a, y);
        const uint8_t *rb = (const uint8_t *)zc_fb_visible_row(b, y);
        for (size_t i = 0; i < (size_t)zc_fb_width(a) * 4; i++)
            worst = ZC_MAX(worst, abs((int)ra[i] - (int)rb[i]));
    }
    return worst;
}

/* One pair: both compositors, then the root's verdict; 1 when the images
 * differ by more than 1, else 0 or -errno. */
static int run_pair(const struct setup *s, const struct pair *p, float *rgba, struct zc_fb *fb_zc,
                    struct zc_fb *fb_icet)
{
    struct result rz = {0}, ri = {0};
    int err = run_zc(s, p, fb_zc, &rz);
    if (!err)
        err = run_icet(s, p, rgba, fb_icet, &ri);
    if (err || s->rank != 0)
        return err;
    int d = max_diff(fb_zc, fb_icet);
    printf("image,%s,%d,%ux%u,zc %016llx,icet %016llx,maxdiff %d\n", p->name, s->size, s->width,
           s->height, (unsigned long long)bench_fb_hash(fb_zc),
           (unsigned long long)bench_fb_hash(fb_icet), d);
    printf("time,%s,%d,%ux%u,zc %.9f %llu %llu,icet %.9f %llu %llu %llu\n", p->name, s->size,
           s->width, s->height, rz.seconds, (unsigned long long)rz.sent_max,
           (unsigned long long)rz.sent_total, ri.seconds, (unsigned long long)ri.sent_max,
           (unsigned long long)ri.sent_total, (unsigned long long)ri.collective_total);
    return d > s->tolerance;
}

static const struct {
    const char *name;
    enum zc_composite_pixel px;
} wires[] = {{"16", ZC_PIXEL_RGBA16}, {"8", ZC_PIXEL_RGBA8}, {"auto", ZC_PIXEL_RGBA_AUTO}};

static int parse_wire(const char *arg, enum zc_composite_pixel *px)
{
    for (size_t i = 0; i < ZC_ARRAY_SIZE(wires); i++)
        if (strcmp(arg, wires[i].name) == 0) {
            *px = wires[i].px;
            return 0;
        }
    return -EINVAL;
}

/* One option and its argument into s. */
static int parse_option(const char *opt, const char *arg, struct setup *s)
{
    if (strcmp(opt, "--size") == 0)
        return sscanf(arg, "%ux%u", &s->width, &s->height) == 2 && s->width && s->height ? 0
                                                                                         : -EINVAL;
    if (strcmp(opt, "--wire") == 0)
        return parse_wire(arg, &s->wire);
    if (strcmp(opt, "--tolerance") == 0)
        return sscanf(arg, "%d", &s->tolerance) == 1 && s->tolerance >= 0 ? 0 : -EINVAL;
    if (strcmp(opt, "--frames") == 0)
        return sscanf(arg, "%u", &s->frames) == 1 && s->frames >= 1 && s->frames <= 100 ? 0
                                                                                        : -EINVAL;
    if (strcmp(opt, "--icet-color") == 0) {
        s->color = strcmp(arg, "ubyte") == 0 ? ICET_PEER_UBYTE : ICET_PEER_FLOAT;
        return strcmp(arg, "ubyte") == 0 || strcmp(arg, "float") == 0 ? 0 : -EINVAL;
    }
    return -EINVAL;
}

/* --size WxH (96x80), --wire 16|8|auto (16: zc's pieces at 16 bits against
 * IceT's floats, so only the final rounding differs), --tolerance D (1),
 * --icet-color float|ubyte (float), --frames F (1: the figures printed are
 * the last frame's, so F > 1 leaves out first touches). */
static int parse(int argc, char **argv, struct setup *s)
{
    s->width = 96, s->height = 80, s->wire = ZC_PIXEL_RGBA16, s->tolerance = 1, s->frames = 1;
    int err = argc % 2 ? 0 : -EINVAL;
    for (int i = 1; i + 1 < argc && !err; i += 2)
        err = parse_option(argv[i], argv[i + 1], s);
    return err;
}

static int setup_init(struct setup *s, int argc, char **argv)
{
    memset(s, 0, sizeof(*s));
    s->cart = MPI_COMM_NULL;
    MPI_Comm_rank(MPI_COMM_WORLD, &s->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s->size);
    if (parse(argc, argv, s))
        return -EINVAL;
    int periods[3] = {0, 0, 0};
    MPI_Dims_create(s->size, 3, s->dims);
    MPI_Cart_create(MPI_COMM_WORLD, 3, s->dims, periods, 0, &s->cart);
    return visibility_order(s);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    struct setup s;
    int err = setup_init(&s, argc, argv);
    float *rgba = err ? NULL : malloc((size_t)s.width * s.height * 4 * sizeof(float));
    struct zc_fb *fb_zc = NULL, *fb_icet = NULL;
    if (!err && !rgba)
        err = -ENOMEM;
    if (!err && s.rank == 0 && !(err = zc_fb_create(&fb_zc, s.width, s.height, 0)))
        err = zc_fb_create(&fb_icet, s.width, s.height, 0);
    int worse = 0;
    for (size_t i = 0; i < ZC_ARRAY_SIZE(pairs) && !err; i++) {
        err = run_pair(&s, &pairs[i], rgba, fb_zc, fb_icet);
        worse |= err == 1;
        err = err == 1 ? 0 : err;
    }
    if (err == -EINVAL && s.rank == 0)
        fprintf(stderr, "usage: [mpirun|smpirun ...] composite_icet_check [--size WxH]\n"
                        "       [--wire 16|8|auto] [--tolerance D] [--icet-color float|ubyte]\n"
                        "       [--frames F]\n");
    else if (err && s.rank == 0)
        fprintf(stderr, "composite_icet_check: %s\n", zc_strerror(err));
    if (worse && s.rank == 0)
        fprintf(stderr, "composite_icet_check: IceT's image differs from zc's by more than %d\n",
                s.tolerance);
    zc_fb_destroy(fb_icet);
    zc_fb_destroy(fb_zc);
    free(rgba);
    free(s.order);
    if (s.cart != MPI_COMM_NULL)
        MPI_Comm_free(&s.cart);
    MPI_Finalize();
    return err ? 2 : worse;
}
