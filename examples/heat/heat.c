/* heat.c - a 3-D heat diffusion on MPI ranks, watched in situ with libzc.
 *
 * The simulation is an ordinary one: a cube of N^3 cells split into bricks
 * over a Cartesian communicator, one ghost layer, an explicit 7-point
 * update, walls held at zero, three hot spots to start.  The in-situ part
 * is the dozen lines marked "zc": a context opened with the brick and a
 * transfer function, and one zc_insitu_publish() per output step that
 * hands over the array as it lies (doubles with ghosts, our own strides).
 *
 * Build it against an installed zc:
 *   mpicc -O2 heat.c $(pkg-config --cflags --libs zc-mpi) -lm -o heat
 *   mpirun -np 4 ./heat --out frames        then: zc view --frames frames
 */
#include <zc/base.h>
#include <zc/insitu.h>

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct brick {
    MPI_Comm cart;
    int dims[3], coords[3], lo_nb[3], hi_nb[3];
    unsigned global, origin[3], n[3];
    size_t sx, sy; /* strides of y and z in the ghosted array */
    double *u, *next;
    MPI_Datatype face[3]; /* one ghosted face per axis */
};

#define IDX(b, i, j, k)                                                                            \
    (((size_t)(k) + 1) * (b)->sy + ((size_t)(j) + 1) * (b)->sx + (size_t)(i) + 1)

static unsigned split(unsigned n, int parts, int at)
{
    return (unsigned)((unsigned long)n * at / parts);
}

/* Faces include the ghosts of the other axes, and the axes are exchanged
 * one after another, so edges and corners arrive too: the renderer may
 * sample near an edge, and then reads them. */
static void make_faces(struct brick *b)
{
    int full[3] = {(int)b->n[2] + 2, (int)b->n[1] + 2, (int)b->n[0] + 2}; /* C order: z y x */
    for (int d = 0; d < 3; d++) {
        int sub[3] = {full[0], full[1], full[2]}, start[3] = {0, 0, 0};
        sub[2 - d] = 1;
        MPI_Type_create_subarray(3, full, sub, start, MPI_ORDER_C, MPI_DOUBLE, &b->face[d]);
        MPI_Type_commit(&b->face[d]);
    }
}

/* Offset of the plane at local index i (-1 .. n) along axis d. */
static size_t plane(const struct brick *b, int d, long i)
{
    size_t stride = d == 0 ? 1 : d == 1 ? b->sx : b->sy;
    return (size_t)(i + 1) * stride;
}

static void exchange(struct brick *b)
{
    for (int d = 0; d < 3; d++) {
        long n = b->n[d];
        MPI_Sendrecv(b->u + plane(b, d, n - 1), 1, b->face[d], b->hi_nb[d], d,
                     b->u + plane(b, d, -1), 1, b->face[d], b->lo_nb[d], d, b->cart,
                     MPI_STATUS_IGNORE);
        MPI_Sendrecv(b->u + plane(b, d, 0), 1, b->face[d], b->lo_nb[d], 3 + d,
                     b->u + plane(b, d, n), 1, b->face[d], b->hi_nb[d], 3 + d, b->cart,
                     MPI_STATUS_IGNORE);
    }
}

static void init(struct brick *b)
{
    static const double spots[3][4] = {
        {0.3, 0.3, 0.6, 1.0}, {0.7, 0.5, 0.4, 0.8}, {0.4, 0.7, 0.3, 0.6}};
    for (unsigned k = 0; k < b->n[2]; k++)
        for (unsigned j = 0; j < b->n[1]; j++)
            for (unsigned i = 0; i < b->n[0]; i++) {
                double p[3] = {(b->origin[0] + i + 0.5) / b->global,
                               (b->origin[1] + j + 0.5) / b->global,
                               (b->origin[2] + k + 0.5) / b->global};
                double v = 0;
                for (int s = 0; s < 3; s++) {
                    double r2 = 0;
                    for (int d = 0; d < 3; d++)
                        r2 += (p[d] - spots[s][d]) * (p[d] - spots[s][d]);
                    v += spots[s][3] * exp(-r2 / 0.006);
                }
                b->u[IDX(b, i, j, k)] = v;
            }
}

/* One explicit step of du/dt = lap u (dt = 1/8, stable below 1/6); the
 * walls' ghosts stay zero. */
static void step(struct brick *b)
{
    exchange(b);
    for (unsigned k = 0; k < b->n[2]; k++)
        for (unsigned j = 0; j < b->n[1]; j++)
            for (unsigned i = 0; i < b->n[0]; i++) {
                size_t c = IDX(b, i, j, k);
                const double *u = b->u;
                double lap = u[c - 1] + u[c + 1] + u[c - b->sx] + u[c + b->sx] + u[c - b->sy] +
                             u[c + b->sy] - 6 * u[c];
                b->next[c] = u[c] + 0.125 * lap;
            }
    double *t = b->u;
    b->u = b->next;
    b->next = t;
}

static const char tf_text[] = "# temperature: value r g b opacity-per-cell\n"
                              "0.00  0.0 0.0 0.3  0.0\n"
                              "0.02  0.1 0.2 0.9  0.05\n"
                              "0.10  0.1 0.8 0.6  0.2\n"
                              "0.30  1.0 0.8 0.1  0.5\n"
                              "0.60  1.0 0.2 0.1  0.9\n";

int main(int argc, char **argv)
{
    unsigned n = 32, steps = 120, every = 20, size = 256;
    const char *out = "frames";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--grid"))
            n = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps"))
            steps = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--every"))
            every = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size"))
            size = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
    }
    MPI_Init(&argc, &argv);
    int nranks, rank, periods[3] = {0, 0, 0};
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    struct brick b = {.global = n};
    MPI_Dims_create(nranks, 3, b.dims);
    MPI_Cart_create(MPI_COMM_WORLD, 3, b.dims, periods, 0, &b.cart);
    MPI_Comm_rank(b.cart, &rank);
    MPI_Cart_coords(b.cart, rank, 3, b.coords);
    for (int d = 0; d < 3; d++) {
        MPI_Cart_shift(b.cart, d, 1, &b.lo_nb[d], &b.hi_nb[d]);
        b.origin[d] = split(n, b.dims[d], b.coords[d]);
        b.n[d] = split(n, b.dims[d], b.coords[d] + 1) - b.origin[d];
    }
    b.sx = b.n[0] + 2;
    b.sy = b.sx * (b.n[1] + 2);
    size_t cells = b.sy * (b.n[2] + 2);
    b.u = calloc(cells, sizeof(double));
    b.next = calloc(cells, sizeof(double));
    make_faces(&b);
    init(&b);

    /* zc: the brick, the camera's defaults, our transfer function. */
    unsigned global[3] = {n, n, n};
    struct zc_insitu_config cfg;
    zc_insitu_config_default(&cfg, global, b.origin, b.n, 1);
    cfg.width = cfg.height = size;
    unsigned line;
    int err = zc_tf_parse(&cfg.tf, tf_text, sizeof(tf_text) - 1, &line);
    snprintf(cfg.field, sizeof(cfg.field), "temperature");
    struct zc_insitu *ctx = NULL;
    if (!err)
        err = zc_insitu_open(b.cart, &cfg, &ctx);
    if (!err && rank == 0 && (mkdir(out, 0777) == 0 || access(out, W_OK) == 0))
        err = zc_insitu_sink_png(ctx, out);
    for (unsigned s = 0; s <= steps && !err; s++) {
        if (s % every == 0) {
            /* zc: the array as it lies, its first interior cell and strides. */
            exchange(&b);
            struct zc_insitu_field f = {
                ZC_INSITU_FLOAT64, b.u + IDX(&b, 0, 0, 0), {1, (ptrdiff_t)b.sx, (ptrdiff_t)b.sy}};
            err = zc_insitu_publish(ctx, &f, s, s * 0.125);
            if (!err && rank == 0)
                printf("step %u: %s/frame_%08u.png\n", s, out, s);
        }
        if (s < steps)
            step(&b);
    }
    if (err && rank == 0)
        fprintf(stderr, "heat: %s\n", zc_strerror(err));
    zc_insitu_close(ctx);
    for (int d = 0; d < 3; d++)
        MPI_Type_free(&b.face[d]);
    MPI_Comm_free(&b.cart);
    free(b.u);
    free(b.next);
    MPI_Finalize();
    return err ? 1 : 0;
}
