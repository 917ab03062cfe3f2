/* mc.c - marching cubes over a volume, slice by slice, with shared vertices.
 *
 * The volume is swept one layer of cells (z = k .. k+1) at a time.  Four
 * voxel layers, k-1 .. k+2, are held as scaled floats (the sampler's view,
 * and the central differences for the normals need the outer two) with a
 * byte a voxel saying whether it is at or above the iso-value (what the
 * cube cases and edge crossings are made of); the voxels themselves are
 * read in place.  Every grid edge the iso-surface
 * crosses gets exactly one vertex, made when its layer is reached and found
 * again through three small id tables:
 *
 *     xid[k&1][j][i]   edge (i,j,k)-(i+1,j,k)      layers k and k+1
 *     yid[k&1][j][i]   edge (i,j,k)-(i,j+1,k)      layers k and k+1
 *     zid[j][i]        edge (i,j,k)-(i,j,k+1)      between them
 *
 * so the mesh is indexed and closed (no duplicated vertex on a shared edge)
 * and each cell only looks up its 12 edges.  Normals are the negated
 * gradient (central differences, one-sided at the border) at the edge's two
 * voxels, interpolated like the position.
 */
#include "mc_table.h"
#include "vol_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NO_VERTEX UINT32_MAX

struct mc {
    const struct zc_vol *v;
    unsigned nx, ny, nz;
    float iso, sp[3];
    float *layer[4];   /* voxel layer z lives in layer[z & 3] */
    uint8_t *above[4]; /* and 1 where its voxel is at or above iso, 0 below */
    uint32_t *xid[2], *yid[2], *zid;
    struct zc_mesh *m;
    size_t vcap, tcap;
};

/* Voxel layer z as scaled floats; the type a constant in each loop (so it
 * vectorizes). */
#define LOAD_AS(T)                                                                                 \
    do {                                                                                           \
        const T *src = (const T *)v->voxels + base;                                                \
        for (size_t i = 0; i < n; i++)                                                             \
            dst[i] = (float)src[i] * v->slope + v->inter;                                          \
    } while (0)

static void load_layer(struct mc *mc, unsigned z)
{
    float *dst = mc->layer[z & 3];
    size_t n = (size_t)mc->nx * mc->ny, base = (size_t)z * n;
    const struct zc_vol *v = mc->v;
    switch (v->type) {
    case ZC_VOL_U8:
        LOAD_AS(uint8_t);
        break;
    case ZC_VOL_I16:
        LOAD_AS(int16_t);
        break;
    case ZC_VOL_U16:
        LOAD_AS(uint16_t);
        break;
    default:
        LOAD_AS(float);
    }
    uint8_t *up = mc->above[z & 3];
    for (size_t i = 0; i < n; i++)
        up[i] = dst[i] >= mc->iso;
}

static float at(const struct mc *mc, unsigned i, unsigned j, unsigned k)
{
    return mc->layer[k & 3][(size_t)j * mc->nx + i];
}

/* Gradient at voxel (i, j, k), world units. */
static void gradient(const struct mc *mc, unsigned i, unsigned j, unsigned k, float g[3])
{
    const unsigned p[3] = {i, j, k}, n[3] = {mc->nx, mc->ny, mc->nz};
    for (int a = 0; a < 3; a++) {
        unsigned lo = p[a] > 0 ? p[a] - 1 : p[a];
        unsigned hi = p[a] + 1 < n[a] ? p[a] + 1 : p[a];
        unsigned q0[3] = {i, j, k}, q1[3] = {i, j, k};
        q0[a] = lo;
        q1[a] = hi;
        float d = (float)(hi - lo) * mc->sp[a];
        g[a] = d > 0 ? (at(mc, q1[0], q1[1], q1[2]) - at(mc, q0[0], q0[1], q0[2])) / d : 0;
    }
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* The vertex on the edge from voxel (i,j,k) one step along axis. */
static int add_vertex(struct mc *mc, unsigned i, unsigned j, unsigned k, int axis, uint32_t *id)
{
    struct zc_mesh *m = mc->m;
    if (m->vertices >= NO_VERTEX)
        return -EFBIG;
    size_t cap = mc->vcap;
    int err = grow((void **)&m->pos, &cap, (m->vertices + 1) * 3, sizeof(float));
    if (!err && cap != mc->vcap) {
        float *nrm = realloc(m->normal, cap * sizeof(float));
        if (!nrm)
            err = -ENOMEM;
        else
            m->normal = nrm;
    }
    if (err)
        return err;
    mc->vcap = cap;
    unsigned q[3] = {i, j, k};
    q[axis]++;
    float a = at(mc, i, j, k), b = at(mc, q[0], q[1], q[2]);
    float t = (mc->iso - a) / (b - a);
    if (!(t >= 0 && t <= 1))
        t = 0.5f;
    float ga[3], gb[3], n[3], len = 0;
    gradient(mc, i, j, k, ga);
    gradient(mc, q[0], q[1], q[2], gb);
    float *pos = m->pos + m->vertices * 3, *nrm = m->normal + m->vertices * 3;
    const unsigned p[3] = {i, j, k};
    for (int c = 0; c < 3; c++) {
        pos[c] = ((float)p[c] + (c == axis ? t : 0)) * mc->sp[c];
        n[c] = -(ga[c] + t * (gb[c] - ga[c]));
        len += n[c] * n[c];
    }
    len = len > 0 ? 1.0f / sqrtf(len) : 0;
    for (int c = 0; c < 3; c++)
        nrm[c] = n[c] * len;
    *id = (uint32_t)m->vertices++;
    return 0;
}

/* Vertices on the x and y edges of voxel layer k. */
static int layer_edges(struct mc *mc, unsigned k)
{
    uint32_t *xid = mc->xid[k & 1], *yid = mc->yid[k & 1];
    unsigned nx = mc->nx, ny = mc->ny;
    const uint8_t *s = mc->above[k & 3];
    for (unsigned j = 0; j < ny; j++)
        for (unsigned i = 0; i < nx; i++) {
            uint8_t in = s[(size_t)j * nx + i];
            if (i + 1 < nx) {
                uint32_t *id = &xid[(size_t)j * (nx - 1) + i];
                *id = NO_VERTEX;
                if (in != s[(size_t)j * nx + i + 1]) {
                    int err = add_vertex(mc, i, j, k, 0, id);
                    if (err)
                        return err;
                }
            }
            if (j + 1 < ny) {
                uint32_t *id = &yid[(size_t)j * nx + i];
                *id = NO_VERTEX;
                if (in != s[(size_t)(j + 1) * nx + i]) {
                    int err = add_vertex(mc, i, j, k, 1, id);
                    if (err)
                        return err;
                }
            }
        }
    return 0;
}

/* Vertices on the z edges between layers k and k+1. */
static int z_edges(struct mc *mc, unsigned k)
{
    const uint8_t *s0 = mc->above[k & 3], *s1 = mc->above[(k + 1) & 3];
    size_t n = (size_t)mc->nx * mc->ny;
    for (size_t p = 0; p < n; p++) {
        mc->zid[p] = NO_VERTEX;
        if (s0[p] != s1[p]) {
            int err =
                add_vertex(mc, (unsigned)(p % mc->nx), (unsigned)(p / mc->nx), k, 2, &mc->zid[p]);
            if (err)
                return err;
        }
    }
    return 0;
}

/* Triangles of the cells between layers k and k+1. */
static int cells(struct mc *mc, unsigned k)
{
    unsigned nx = mc->nx, ny = mc->ny;
    const uint8_t *s0 = mc->above[k & 3], *s1 = mc->above[(k + 1) & 3];
    const uint32_t *x0 = mc->xid[k & 1], *x1 = mc->xid[(k + 1) & 1];
    const uint32_t *y0 = mc->yid[k & 1], *y1 = mc->yid[(k + 1) & 1];
    struct zc_mesh *m = mc->m;
    for (unsigned j = 0; j + 1 < ny; j++) {
        const uint8_t *a0 = s0 + (size_t)j * nx, *b0 = a0 + nx;
        const uint8_t *a1 = s1 + (size_t)j * nx, *b1 = a1 + nx;
        for (unsigned i = 0; i + 1 < nx; i++) {
            unsigned c = a0[i] | a0[i + 1] << 1 | b0[i + 1] << 2 | b0[i] << 3 | a1[i] << 4 |
                         a1[i + 1] << 5 | b1[i + 1] << 6 | (unsigned)b1[i] << 7;
            if (c == 0 || c == 255)
                continue;
            size_t xj = (size_t)j * (nx - 1) + i, yj = (size_t)j * nx + i;
            const uint32_t edge[12] = {
                x0[xj],      y0[yj + 1],      x0[xj + nx - 1],      y0[yj],
                x1[xj],      y1[yj + 1],      x1[xj + nx - 1],      y1[yj],
                mc->zid[yj], mc->zid[yj + 1], mc->zid[yj + nx + 1], mc->zid[yj + nx]};
            const struct mc_case *mcase = &mc_cases[c];
            if (grow((void **)&m->tri, &mc->tcap, (m->triangles + mcase->ntri) * 3,
                     sizeof(uint32_t)))
                return -ENOMEM;
            uint32_t *t = m->tri + m->triangles * 3;
            for (unsigned n = 0; n < mcase->ntri; n++)
                for (int q = 0; q < 3; q++)
                    *t++ = edge[mcase->tri[n][q]];
            m->triangles += mcase->ntri;
        }
    }
    return 0;
}

static int sweep(struct mc *mc)
{
    load_layer(mc, 0);
    load_layer(mc, 1);
    int err = 0;
    for (unsigned k = 0; k + 1 < mc->nz && !err; k++) {
        if (k + 2 < mc->nz)
            load_layer(mc, k + 2);
        if (k == 0)
            err = layer_edges(mc, 0);
        if (!err)
            err = layer_edges(mc, k + 1);
        if (!err)
            err = z_edges(mc, k);
        if (!err)
            err = cells(mc, k);
    }
    return err;
}

int zc_vol_mesh_extract(struct zc_vol *v, float iso, struct zc_mesh *mesh)
{
    memset(mesh, 0, sizeof(*mesh));
    if (v->dims[0] < 2 || v->dims[1] < 2 || v->dims[2] < 2)
        return 0;
    mc_table_init();
    struct mc mc = {
        .v = v, .nx = v->dims[0], .ny = v->dims[1], .nz = v->dims[2], .iso = iso, .m = mesh};
    memcpy(mc.sp, v->spacing, sizeof(mc.sp));
    size_t n = (size_t)mc.nx * mc.ny;
    int err = 0;
    for (int i = 0; i < 4; i++)
        if (!(mc.layer[i] = malloc(n * sizeof(float))) || !(mc.above[i] = malloc(n)))
            err = -ENOMEM;
    for (int i = 0; i < 2; i++) {
        if (!(mc.xid[i] = malloc((size_t)(mc.nx - 1) * mc.ny * sizeof(uint32_t))))
            err = -ENOMEM;
        if (!(mc.yid[i] = malloc((size_t)mc.nx * (mc.ny - 1) * sizeof(uint32_t))))
            err = -ENOMEM;
    }
    if (!(mc.zid = malloc(n * sizeof(uint32_t))))
        err = -ENOMEM;
    if (!err)
        err = sweep(&mc);
    for (int i = 0; i < 4; i++) {
        free(mc.layer[i]);
        free(mc.above[i]);
    }
    for (int i = 0; i < 2; i++) {
        free(mc.xid[i]);
        free(mc.yid[i]);
    }
    free(mc.zid);
    if (err)
        zc_mesh_free(mesh);
    return err;
}

void zc_mesh_free(struct zc_mesh *mesh)
{
    free(mesh->pos);
    free(mesh->normal);
    free(mesh->tri);
    memset(mesh, 0, sizeof(*mesh));
}

size_t zc_mesh_bytes(const struct zc_mesh *mesh)
{
    return mesh->vertices * 6 * sizeof(float) + mesh->triangles * 3 * sizeof(uint32_t);
}
