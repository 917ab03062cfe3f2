/* fdtd.c - the Yee FDTD solver, split into bricks over a Cartesian
 * communicator.
 *
 * The idea: the leapfrog Yee scheme only ever looks one cell across a brick
 * face, and only at the components tangential to that face.  H at the top
 * of a brick needs E one cell up; E at the bottom needs H one cell down.  So
 * each brick keeps one ghost layer on every side and a step sends two
 * face layers per axis: H's tangential pair up after the H update, E's
 * tangential pair down after the E update.  MPI subarray datatypes describe
 * the faces in place, so nothing is packed by hand.
 *
 * Each component is a float array of (nx+2)(ny+2)(nz+2) with x fastest and
 * index -1 and n the ghosts:
 *
 *        ghost  owned cells 0 .. n-1  ghost
 *   x:  [ -1 | 0 | 1 | ... | n-1 |  n ]
 *
 * PEC: E components tangential to a wall are zero on it.  The wall at 0 is
 * owned and kept zero by a mask; the wall at grid is a ghost layer no
 * neighbour writes.  The torus is the same mask on the E components whose
 * Yee positions lie inside it.
 */
#include "zc/sim.h"
#include "zc/base.h"
#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void zc_sim_config_default(struct zc_sim_config *cfg, unsigned grid)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->grid = grid;
    cfg->courant = 0.99;
    cfg->source[0] = cfg->source[1] = cfg->source[2] = 0.5;
    cfg->pulse_width = grid / 16.0 > 1.0 ? grid / 16.0 : 1.0;
    cfg->pulse_delay = 4.0 * cfg->pulse_width;
    cfg->torus = true;
}

/* First cell of part c of p parts of grid cells: the remainder is spread. */
static unsigned split_lo(unsigned grid, int p, int c)
{
    return (unsigned)((uint64_t)grid * (unsigned)c / (unsigned)p);
}

void sim_brick_of(const struct zc_sim *s, int rank, unsigned lo[3], unsigned n[3])
{
    int coords[3];
    MPI_Cart_coords(s->comm, rank, 3, coords);
    for (int d = 0; d < 3; d++) {
        lo[d] = split_lo(s->grid, s->dims[d], coords[d]);
        n[d] = split_lo(s->grid, s->dims[d], coords[d] + 1) - lo[d];
    }
}

bool sim_in_torus(unsigned grid, double x, double y, double z)
{
    double c = grid / 2.0, major = 0.3 * grid, minor = 0.07 * grid;
    double rho = hypot(x - c, y - c) - major;
    return rho * rho + (z - c) * (z - c) < minor * minor;
}

/* Yee position offsets (in cells) of each component. */
const double sim_offset[6][3] = {
    {0.5, 0, 0}, {0, 0.5, 0}, {0, 0, 0.5}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0},
};

/* A face layer (-1, 0, n-1 or n) along axis d as a subarray of a component. */
static int face_type(const struct zc_sim *s, int d, int layer, MPI_Datatype *t)
{
    int sizes[3], sub[3], start[3];
    for (int a = 0; a < 3; a++) {
        int c = 2 - a; /* C order: z slowest */
        sizes[c] = (int)s->n[a] + 2;
        sub[c] = a == d ? 1 : sizes[c];
        start[c] = a == d ? layer + 1 : 0;
    }
    if (MPI_Type_create_subarray(3, sizes, sub, start, MPI_ORDER_C, MPI_FLOAT, t) != MPI_SUCCESS ||
        MPI_Type_commit(t) != MPI_SUCCESS)
        return -EIO;
    return 0;
}

/* The owned cells of brick (lo, n) inside an array of sizes (m + 2). */
int sim_block_type(const unsigned m[3], const unsigned lo[3], const unsigned n[3], MPI_Datatype *t)
{
    int sizes[3], sub[3], start[3];
    for (int a = 0; a < 3; a++) {
        sizes[2 - a] = (int)m[a] + 2;
        sub[2 - a] = (int)n[a];
        start[2 - a] = (int)lo[a] + 1;
    }
    if (MPI_Type_create_subarray(3, sizes, sub, start, MPI_ORDER_C, MPI_FLOAT, t) != MPI_SUCCESS ||
        MPI_Type_commit(t) != MPI_SUCCESS)
        return -EIO;
    return 0;
}

static void build_mask(struct zc_sim *s)
{
    for (unsigned k = 0; k < s->n[2]; k++)
        for (unsigned j = 0; j < s->n[1]; j++)
            for (unsigned i = 0; i < s->n[0]; i++) {
                unsigned g[3] = {s->lo[0] + i, s->lo[1] + j, s->lo[2] + k};
                uint8_t m = 0;
                for (int c = 0; c < 3; c++) {
                    /* Tangential to the wall at 0 of another axis. */
                    if (g[(c + 1) % 3] == 0 || g[(c + 2) % 3] == 0)
                        m |= (uint8_t)(1u << c);
                    if (s->cfg.torus &&
                        sim_in_torus(s->grid, g[0] + sim_offset[c][0], g[1] + sim_offset[c][1],
                                     g[2] + sim_offset[c][2]))
                        m |= (uint8_t)(1u << c);
                }
                s->pec[SIM_IDX(s, i, j, k)] = m;
            }
}

static bool config_ok(const struct zc_sim_config *cfg)
{
    if (cfg->grid < 4 || cfg->grid > 4096 || !(cfg->courant > 0 && cfg->courant < 1) ||
        !(cfg->pulse_width > 0) || !(cfg->pulse_delay >= 0))
        return false;
    for (int d = 0; d < 3; d++)
        if (!(cfg->source[d] >= 0 && cfg->source[d] < 1))
            return false;
    return true;
}

int zc_sim_create(MPI_Comm comm, const struct zc_sim_config *cfg, struct zc_sim **out)
{
    *out = NULL;
    if (!config_ok(cfg))
        return -EINVAL;
    int size;
    MPI_Comm_size(comm, &size);
    int dims[3] = {0, 0, 0}, periods[3] = {0, 0, 0};
    MPI_Dims_create(size, 3, dims);
    for (int d = 0; d < 3; d++)
        if (cfg->grid < 2u * (unsigned)dims[d])
            return -EINVAL;

    struct zc_sim *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    s->grid = cfg->grid;
    memcpy(s->dims, dims, sizeof(dims));
    if (MPI_Cart_create(comm, 3, dims, periods, 0, &s->comm) != MPI_SUCCESS) {
        free(s);
        return -EIO;
    }
    MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(s->comm, &s->rank);
    MPI_Comm_size(s->comm, &s->size);
    for (int d = 0; d < 3; d++)
        MPI_Cart_shift(s->comm, d, 1, &s->lo_nb[d], &s->hi_nb[d]);
    sim_brick_of(s, s->rank, s->lo, s->n);
    s->sy = s->n[0] + 2;
    s->sz = s->sy * (s->n[1] + 2);
    s->cells = s->sz * (s->n[2] + 2);
    s->dt = cfg->courant / sqrt(3.0);

    int err = 0;
    for (int c = 0; c < 6 && !err; c++)
        if (!(s->f[c] = calloc(s->cells, sizeof(float))))
            err = -ENOMEM;
    if (!err && !(s->pec = calloc(s->cells, 1)))
        err = -ENOMEM;
    for (int d = 0; d < 3 && !err; d++) {
        int layers[4] = {-1, 0, (int)s->n[d] - 1, (int)s->n[d]};
        for (int l = 0; l < 4 && !err; l++)
            if ((err = face_type(s, d, layers[l], &s->face[d][l])) == 0)
                s->nfaces++;
    }
    /* Every rank fails alike, so that none waits on a peer that gave up. */
    int all;
    if (MPI_Allreduce(&err, &all, 1, MPI_INT, MPI_MIN, s->comm) != MPI_SUCCESS)
        all = -EIO;
    if (all) {
        zc_sim_destroy(s);
        return all;
    }
    build_mask(s);

    unsigned src[3];
    s->has_source = true;
    for (int d = 0; d < 3; d++) {
        src[d] = (unsigned)(cfg->source[d] * cfg->grid);
        if (src[d] < s->lo[d] || src[d] >= s->lo[d] + s->n[d])
            s->has_source = false;
    }
    if (s->has_source)
        s->source_idx = SIM_IDX(s, src[0] - s->lo[0], src[1] - s->lo[1], src[2] - s->lo[2]);
    *out = s;
    return 0;
}

void zc_sim_destroy(struct zc_sim *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->nfaces; i++)
        MPI_Type_free(&s->face[i / 4][i % 4]);
    for (int c = 0; c < 6; c++)
        free(s->f[c]);
    free(s->pec);
    MPI_Comm_free(&s->comm);
    free(s);
}

MPI_Comm zc_sim_comm(const struct zc_sim *s)
{
    return s->comm;
}

void zc_sim_brick(const struct zc_sim *s, unsigned lo[3], unsigned n[3])
{
    memcpy(lo, s->lo, sizeof(s->lo));
    memcpy(n, s->n, sizeof(s->n));
}

unsigned zc_sim_grid(const struct zc_sim *s)
{
    return s->grid;
}

double zc_sim_dt(const struct zc_sim *s)
{
    return s->dt;
}

double zc_sim_time(const struct zc_sim *s)
{
    return s->t;
}

bool zc_sim_value(const struct zc_sim *s, enum zc_sim_field f, unsigned i, unsigned j, unsigned k,
                  float *v)
{
    if ((unsigned)f > ZC_SIM_HZ || i < s->lo[0] || j < s->lo[1] || k < s->lo[2] ||
        i >= s->lo[0] + s->n[0] || j >= s->lo[1] + s->n[1] || k >= s->lo[2] + s->n[2])
        return false;
    *v = s->f[f][SIM_IDX(s, i - s->lo[0], j - s->lo[1], k - s->lo[2])];
    return true;
}

/* Layer slots in s->face[d][]: ghost low, first owned, last owned, ghost high. */
enum { GHOST_LO, OWNED_LO, OWNED_HI, GHOST_HI };

/* Sends component c's top owned layer along d up and receives the one from
 * below into the low ghost layer (up = true), or the other way round. */
static int shift_layer(struct zc_sim *s, int c, int d, bool up, uint64_t *bytes)
{
    int dst = up ? s->hi_nb[d] : s->lo_nb[d];
    int src = up ? s->lo_nb[d] : s->hi_nb[d];
    MPI_Datatype st = s->face[d][up ? OWNED_HI : OWNED_LO];
    MPI_Datatype rt = s->face[d][up ? GHOST_LO : GHOST_HI];
    if (MPI_Sendrecv(s->f[c], 1, st, dst, c, s->f[c], 1, rt, src, c, s->comm, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS)
        return -EIO;
    if (bytes && dst != MPI_PROC_NULL) {
        int sz;
        MPI_Type_size(st, &sz);
        *bytes += (uint64_t)sz;
    }
    return 0;
}

/* The two components of field base (0: E, 3: H) tangential to faces of d. */
static int exchange_tangential(struct zc_sim *s, int base, bool up)
{
    for (int d = 0; d < 3; d++)
        for (int t = 1; t <= 2; t++) {
            int err = shift_layer(s, base + (d + t) % 3, d, up, NULL);
            if (err)
                return err;
        }
    return 0;
}

static void update_h(struct zc_sim *s)
{
    float *ex = s->f[0], *ey = s->f[1], *ez = s->f[2];
    float *hx = s->f[3], *hy = s->f[4], *hz = s->f[5];
    const float dt = (float)s->dt;
    const size_t sy = s->sy, sz = s->sz;
    for (unsigned k = 0; k < s->n[2]; k++)
        for (unsigned j = 0; j < s->n[1]; j++) {
            size_t p = SIM_IDX(s, 0, j, k);
            for (unsigned i = 0; i < s->n[0]; i++, p++) {
                hx[p] -= dt * ((ez[p + sy] - ez[p]) - (ey[p + sz] - ey[p]));
                hy[p] -= dt * ((ex[p + sz] - ex[p]) - (ez[p + 1] - ez[p]));
                hz[p] -= dt * ((ey[p + 1] - ey[p]) - (ex[p + sy] - ex[p]));
            }
        }
}

static void update_e(struct zc_sim *s)
{
    float *ex = s->f[0], *ey = s->f[1], *ez = s->f[2];
    float *hx = s->f[3], *hy = s->f[4], *hz = s->f[5];
    const uint8_t *pec = s->pec;
    const float dt = (float)s->dt;
    const size_t sy = s->sy, sz = s->sz;
    for (unsigned k = 0; k < s->n[2]; k++)
        for (unsigned j = 0; j < s->n[1]; j++) {
            size_t p = SIM_IDX(s, 0, j, k);
            for (unsigned i = 0; i < s->n[0]; i++, p++) {
                float nx = ex[p] + dt * ((hz[p] - hz[p - sy]) - (hy[p] - hy[p - sz]));
                float ny = ey[p] + dt * ((hx[p] - hx[p - sz]) - (hz[p] - hz[p - 1]));
                float nz = ez[p] + dt * ((hy[p] - hy[p - 1]) - (hx[p] - hx[p - sy]));
                ex[p] = pec[p] & 1 ? 0.0f : nx;
                ey[p] = pec[p] & 2 ? 0.0f : ny;
                ez[p] = pec[p] & 4 ? 0.0f : nz;
            }
        }
}

/* The soft source: a Gaussian-derivative pulse added to Ez at one cell,
 * which has no DC part and so leaves no static charge behind. */
static void add_source(struct zc_sim *s, double t)
{
    if (!s->has_source || (s->pec[s->source_idx] & 4))
        return;
    double x = (t - s->cfg.pulse_delay) / s->cfg.pulse_width;
    s->f[ZC_SIM_EZ][s->source_idx] += (float)(-x * exp(0.5 - 0.5 * x * x));
}

int zc_sim_step(struct zc_sim *s, unsigned nsteps)
{
    for (unsigned n = 0; n < nsteps; n++) {
        update_h(s);
        int err = exchange_tangential(s, 3, true);
        if (err)
            return err;
        update_e(s);
        s->steps++;
        s->t = (double)s->steps * s->dt;
        add_source(s, s->t);
        if ((err = exchange_tangential(s, 0, false)))
            return err;
    }
    return 0;
}

int zc_sim_exchange_ghosts(struct zc_sim *s, uint64_t *bytes_sent)
{
    /* Axis by axis, each face layer spanning the other axes' ghosts too:
     * after x, the y exchange carries the x ghosts along, which fills the
     * edges, and z then fills the corners. */
    for (int d = 0; d < 3; d++)
        for (int c = 0; c < 6; c++) {
            int err = shift_layer(s, c, d, true, bytes_sent);
            if (!err)
                err = shift_layer(s, c, d, false, bytes_sent);
            if (err)
                return err;
        }
    return 0;
}

int zc_sim_gather(struct zc_sim *s, int root, struct zc_sim **whole, uint64_t *bytes_sent)
{
    *whole = NULL;
    struct zc_sim *w = NULL;
    int err = 0;
    if (s->rank == root)
        err = zc_sim_create(MPI_COMM_SELF, &s->cfg, &w);
    if (MPI_Bcast(&err, 1, MPI_INT, root, s->comm) != MPI_SUCCESS)
        return -EIO;
    if (err)
        return err;

    MPI_Datatype mine = MPI_DATATYPE_NULL;
    unsigned zero[3] = {0, 0, 0};
    err = sim_block_type(s->n, zero, s->n, &mine);
    int nreq = 0, ntypes = 0;
    MPI_Request *req = calloc((size_t)6 * (s->size + 1), sizeof(*req));
    MPI_Datatype *types = calloc((size_t)s->size, sizeof(*types));
    if (!req || !types)
        err = -ENOMEM;
    if (!err && s->rank == root) {
        for (int r = 0; r < s->size && !err; r++) {
            unsigned lo[3], n[3];
            sim_brick_of(s, r, lo, n);
            if ((err = sim_block_type(w->n, lo, n, &types[r])))
                break;
            ntypes++;
            for (int c = 0; c < 6; c++)
                MPI_Irecv(w->f[c], 1, types[r], r, c, s->comm, &req[nreq++]);
        }
    }
    if (!err)
        for (int c = 0; c < 6; c++)
            MPI_Isend(s->f[c], 1, mine, root, c, s->comm, &req[nreq++]);
    if (nreq && MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
        err = -EIO;
    if (!err && bytes_sent && s->rank != root)
        *bytes_sent += (uint64_t)6 * s->n[0] * s->n[1] * s->n[2] * sizeof(float);
    for (int r = 0; r < ntypes; r++)
        MPI_Type_free(&types[r]);
    if (mine != MPI_DATATYPE_NULL)
        MPI_Type_free(&mine);
    free(types);
    free(req);
    int all;
    if (MPI_Allreduce(&err, &all, 1, MPI_INT, MPI_MIN, s->comm) != MPI_SUCCESS)
        all = -EIO;
    if (all) {
        zc_sim_destroy(w);
        return all;
    }
    if (w) {
        w->t = s->t;
        w->steps = s->steps;
    }
    *whole = w;
    return 0;
}

int zc_sim_energy_max(const struct zc_sim *s, double *umax)
{
    /* The dipole's near field outshines the radiation by decades: the
     * scale comes from outside a cube of near_field cells around it. */
    const long near_field = ZC_MAX(2, (long)s->grid / 16);
    long src[3];
    for (int d = 0; d < 3; d++)
        src[d] = (long)(s->cfg.source[d] * s->grid);
    double m = 0;
    for (unsigned k = 0; k < s->n[2]; k++)
        for (unsigned j = 0; j < s->n[1]; j++) {
            size_t p = SIM_IDX(s, 0, j, k);
            for (unsigned i = 0; i < s->n[0]; i++, p++) {
                long g[3] = {(long)(s->lo[0] + i), (long)(s->lo[1] + j), (long)(s->lo[2] + k)};
                if (labs(g[0] - src[0]) < near_field && labs(g[1] - src[1]) < near_field &&
                    labs(g[2] - src[2]) < near_field)
                    continue;
                double u = 0;
                for (int c = 0; c < 6; c++)
                    u += (double)s->f[c][p] * s->f[c][p];
                if (u > m)
                    m = u;
            }
        }
    m *= 0.5;
    if (MPI_Allreduce(&m, umax, 1, MPI_DOUBLE, MPI_MAX, s->comm) != MPI_SUCCESS)
        return -EIO;
    return 0;
}
