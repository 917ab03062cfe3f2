/* render.c - direct volume rendering: rays cast straight through the
 * source voxels.
 *
 * Nothing is built from the volume but small tables, so the memory is the
 * volume itself plus a few percent:
 *
 *   lut[]     the transfer function sampled over the volume's value range,
 *             colour and opacity, the opacity corrected for the step
 *             (a' = 1 - (1 - a)^step, a per unit of world length)
 *   cells     min and max of each macrocell of 8x8x8 voxels (its 9x9x9
 *             corner voxels, so a trilinear sample never reaches out of its
 *             cell); a property of the volume, made by the first render and
 *             kept with it
 *   dist[]    one byte a macrocell: 0 where the transfer function is not
 *             clear over the cell's [min, max], else the chessboard
 *             distance (in cells) to the nearest such cell: a ray in a
 *             cell at distance k is inside an empty cube of 2k - 1 cells
 *             a side and jumps to that cube's far side (a few jumps cross
 *             the empty space around a head); rays are clipped to the box
 *             around the cells not empty
 *
 * Each ray is clipped to the volume's box and marched front to back at a
 * fixed step from a start jittered by a fixed hash of its pixel (so that
 * neighbouring rays do not sample at the same depths, which draws
 * wood-grain rings): trilinear sample (voxel type and scaling applied here,
 * on the mapped voxels), lookup, shading from central differences
 * interpolated across the cell (the gradient of the trilinear interpolant
 * itself jumps at each voxel face, which bands every voxel layer a skin
 * crosses), "over" compositing, and an early exit once the ray is 98%
 * opaque.  Where a ray first meets something after clear space, it also
 * samples the middle of the step before: where a sharp surface begins is
 * then known to half a step, which takes half the jitter's noise off a
 * scan's skin.  Threads take image tiles (the framebuffer's
 * tiles) from a shared counter and write each tile in place through the
 * framebuffer, journaled if the caller opened a frame.
 * The voxel type is a compile-time constant inside each copy of the ray
 * loop (one per type), so the sampler's switch costs nothing.
 */
#include "vol_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LUT_SIZE   1024
#define CELL       8
#define OPAQUE     0.98f /* early termination: 2% left to see, as VTK's ray casters */
#define MAX_THREAD 64

struct dvr {
    const struct zc_vol *v;
    struct zc_fb *fb;
    struct view view;
    float lut[LUT_SIZE][4];
    float idx_scale, idx_bias; /* unscaled voxel value -> lut index */
    unsigned cdims[3];
    uint8_t *dist;       /* per macrocell: 0 not empty, else distance to one that is not */
    float lo[3], hi[3];  /* box around the cells that are not empty */
    float dt;            /* step, world units */
    float inv_sp[3];     /* world -> voxel */
    float light[3];      /* towards the viewer */
    float pixel_step[3]; /* orthographic: world distance between pixels of a row */
    bool shade;
    float bg[4];
    const unsigned *nonzero_prefix; /* lut entries with opacity, cumulative */
    float *minmax;                  /* the volume's macrocell min, max */
    atomic_uint next_cell, next_tile, tiles_done;
    const struct zc_render_opts *opts;
    atomic_uint_fast64_t samples;
    atomic_int err;
};

/* ---- the transfer function as a table ---- */

static void build_lut(struct dvr *d, const struct zc_tf *tf, float lo, float hi)
{
    float step_world = d->dt;
    for (int i = 0; i < LUT_SIZE; i++) {
        float x = lo + (hi - lo) * (float)i / (LUT_SIZE - 1);
        float c[4];
        if (x <= tf->value[0]) {
            memcpy(c, tf->rgba[0], sizeof(c));
        } else if (x >= tf->value[tf->n - 1]) {
            memcpy(c, tf->rgba[tf->n - 1], sizeof(c));
        } else {
            unsigned k = 1;
            while (tf->value[k] < x)
                k++;
            float f = (x - tf->value[k - 1]) / (tf->value[k] - tf->value[k - 1]);
            for (int q = 0; q < 4; q++)
                c[q] = tf->rgba[k - 1][q] + f * (tf->rgba[k][q] - tf->rgba[k - 1][q]);
        }
        float a = ZC_MIN(ZC_MAX(c[3], 0.0f), 1.0f);
        d->lut[i][0] = c[0];
        d->lut[i][1] = c[1];
        d->lut[i][2] = c[2];
        d->lut[i][3] = a >= 1 ? 1 : 1 - powf(1 - a, step_world);
    }
}

/* ---- macrocells ---- */

static inline __attribute__((always_inline)) float fetch(const void *vox, size_t i,
                                                         enum zc_vol_type t)
{
    switch (t) {
    case ZC_VOL_U8:
        return ((const uint8_t *)vox)[i];
    case ZC_VOL_I16:
        return ((const int16_t *)vox)[i];
    case ZC_VOL_U16:
        return ((const uint16_t *)vox)[i];
    default:
        return ((const float *)vox)[i];
    }
}

/* The minima and maxima of the macrocells of slab cz (all cx, cy), one
 * axis at a time so that the inner loops run along contiguous voxel rows
 * (vectorized: a voxel costs well under one instruction): the slab's 9
 * slices fold into one row a j (rowlo, rowhi: n[0] floats each), each row
 * into the cell rows cy it borders (collo, colhi: n[0] floats a cy), and
 * those last into cells, nine voxels apart. */
static inline __attribute__((always_inline)) void
cell_slab(struct dvr *d, unsigned cz, float *restrict rowlo, float *restrict rowhi,
          float *restrict collo, float *restrict colhi, enum zc_vol_type t)
{
    const struct zc_vol *v = d->v;
    const unsigned *n = v->dims;
    const size_t nx = n[0];
    const unsigned cx_n = d->cdims[0], cy_n = d->cdims[1];
    const unsigned k0 = cz * CELL, k1 = ZC_MIN(k0 + CELL, n[2] - 1);
    for (size_t i = 0; i < cy_n * nx; i++) {
        collo[i] = INFINITY;
        colhi[i] = -INFINITY;
    }
    for (unsigned j = 0; j < n[1]; j++) {
        for (size_t i = 0; i < nx; i++)
            rowlo[i] = rowhi[i] = fetch(v->voxels, ((size_t)k0 * n[1] + j) * nx + i, t);
        for (unsigned k = k0 + 1; k <= k1; k++) {
            size_t row = ((size_t)k * n[1] + j) * nx;
            for (size_t i = 0; i < nx; i++) {
                float x = fetch(v->voxels, row + i, t);
                rowlo[i] = x < rowlo[i] ? x : rowlo[i];
                rowhi[i] = x > rowhi[i] ? x : rowhi[i];
            }
        }
        /* Row j belongs to cell j / CELL, and to the cell before when it
         * is that cell's last corner row. */
        unsigned cy1 = ZC_MIN(j / CELL, cy_n - 1);
        unsigned cy0 = j % CELL == 0 && j > 0 ? j / CELL - 1 : cy1;
        for (unsigned cy = cy0; cy <= cy1; cy++) {
            float *restrict lo = collo + cy * nx, *restrict hi = colhi + cy * nx;
            for (size_t i = 0; i < nx; i++) {
                lo[i] = rowlo[i] < lo[i] ? rowlo[i] : lo[i];
                hi[i] = rowhi[i] > hi[i] ? rowhi[i] : hi[i];
            }
        }
    }
    float *mm = d->minmax + 2 * (size_t)cz * cx_n * cy_n;
    for (unsigned cy = 0; cy < cy_n; cy++)
        for (unsigned cx = 0; cx < cx_n; cx++) {
            const float *lo = collo + cy * nx, *hi = colhi + cy * nx;
            unsigned i0 = cx * CELL, i1 = ZC_MIN(i0 + CELL, n[0] - 1);
            float l = lo[i0], h = hi[i0];
            for (unsigned i = i0 + 1; i <= i1; i++) {
                l = lo[i] < l ? lo[i] : l;
                h = hi[i] > h ? hi[i] : h;
            }
            size_t c = (size_t)cy * cx_n + cx;
            mm[2 * c] = l;
            mm[2 * c + 1] = h;
        }
}

/* A macrocell is empty when the table is clear over its [min, max]: its
 * dist starts at 255 (0 when not empty), made exact by cell_distances. */
static void mark_empty(struct dvr *d, size_t ncells)
{
    for (size_t c = 0; c < ncells; c++) {
        float a = d->minmax[2 * c] * d->idx_scale + d->idx_bias;
        float b = d->minmax[2 * c + 1] * d->idx_scale + d->idx_bias;
        bool empty = false;
        if (isfinite(a) && isfinite(b)) {
            int i0 = (int)floorf(ZC_MAX(ZC_MIN(ZC_MIN(a, b), LUT_SIZE - 1.0f), 0.0f));
            int i1 = (int)ceilf(ZC_MAX(ZC_MIN(ZC_MAX(a, b), LUT_SIZE - 1.0f), 0.0f));
            empty = d->nonzero_prefix[i1 + 1] == d->nonzero_prefix[i0];
        }
        d->dist[c] = empty ? UINT8_MAX : 0;
    }
}

/* ---- ray casting ---- */

/* Distance along the ray to where it leaves the empty cube around cell c
 * (cells within k - 1 of it on every axis) from p; inv is 1 / dir.  Never
 * behind p, even where p was clamped into the cell. */
static inline float empty_exit(const float p[3], const float inv[3], const unsigned c[3],
                               unsigned k)
{
    float exit = INFINITY;
    for (int a = 0; a < 3; a++) {
        if (!isfinite(inv[a]))
            continue;
        float wall = inv[a] > 0 ? (float)(c[a] + k) * CELL : ((float)c[a] - (float)k + 1) * CELL;
        exit = ZC_MIN(exit, (wall - p[a]) * inv[a]);
    }
    return ZC_MAX(exit, 0.0f);
}

/* A fixed offset in [0, 1) a pixel, so that neighbouring rays do not sample
 * at the same depths (which draws wood-grain rings on surfaces). */
static inline float jitter(unsigned x, unsigned y)
{
    uint32_t h = x * 0x9e3779b1u ^ (y + 0x7f4a7c15u) * 0x85ebca77u;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

/* The next sample's distance; past the ray's end when dt is too small to
 * move t at all (float rounding far from the eye): a ray never stalls. */
static inline float advance(float t, float dt)
{
    float next = t + dt;
    return next > t ? next : INFINITY;
}

/* One component of the gradient below: along the axis of stride sa (b, c
 * the other two), central differences at the cell's eight corners
 * interpolated with the weights fa, fb, fc; below and above reach the
 * neighbours outside the cell, 0 and one stride at the volume's faces
 * (a one-sided difference there). */
static inline __attribute__((always_inline)) float
axis_gradient(const void *vox, size_t base, size_t sa, size_t sb, size_t sc, size_t below,
              size_t above, float fa, float fb, float fc, enum zc_vol_type t)
{
    float e[4]; /* the differences interpolated along a, at the four (b, c) corners */
    for (int k = 0; k < 4; k++) {
        size_t o = base + (k & 1 ? sb : 0) + (k & 2 ? sc : 0);
        float lo = fetch(vox, o + sa, t) - fetch(vox, o - below, t);
        float hi = fetch(vox, o + above, t) - fetch(vox, o, t);
        e[k] = lo + fa * (hi - lo);
    }
    float e0 = e[0] + fb * (e[1] - e[0]), e1 = e[2] + fb * (e[3] - e[2]);
    return e0 + fc * (e1 - e0);
}

/* The gradient at a sample: central differences at the eight voxels around
 * it, interpolated trilinearly with the sample's own weights f (the same as
 * central differences of the trilinear interpolant one voxel either side).
 * It is continuous across voxel faces, where the gradient of the
 * interpolant itself jumps: those jumps shade every voxel layer a surface
 * crosses at a shallow angle differently, the wood-grain rings on a scan's
 * skin.  24 voxels beyond the sample's eight; at the volume's faces the
 * difference is one-sided. */
static inline __attribute__((always_inline)) void
smooth_gradient(const void *vox, size_t base, const unsigned ix[3], const unsigned *n,
                const float f[3], enum zc_vol_type t, float g[3])
{
    const size_t sx = 1, sy = n[0], sz = (size_t)n[0] * n[1];
    g[0] = axis_gradient(vox, base, sx, sy, sz, ix[0] > 0 ? sx : 0, ix[0] + 2 < n[0] ? 2 * sx : sx,
                         f[0], f[1], f[2], t);
    g[1] = axis_gradient(vox, base, sy, sx, sz, ix[1] > 0 ? sy : 0, ix[1] + 2 < n[1] ? 2 * sy : sy,
                         f[1], f[0], f[2], t);
    g[2] = axis_gradient(vox, base, sz, sx, sy, ix[2] > 0 ? sz : 0, ix[2] + 2 < n[2] ? 2 * sz : sz,
                         f[2], f[0], f[1], t);
}

/* Light on a sample of gradient g (voxel units): ambient 0.25, diffuse
 * 0.75, specular 0.25 with power 16, two-sided, the light at the eye. */
static inline float shade(const struct dvr *d, float g[3])
{
    float gl = 0, nl = 0;
    for (int q = 0; q < 3; q++) {
        g[q] *= d->inv_sp[q];
        gl += g[q] * g[q];
        nl += g[q] * d->light[q];
    }
    if (!(gl > 1e-12f))
        return 1;
    float c = fabsf(nl) / sqrtf(gl);
    float s = c * c;
    s *= s;
    s *= s;
    return 0.25f + 0.75f * c + 0.25f * s * s;
}

/* Where the sample at distance tr lies: the voxel ix below it (the cell of
 * the trilinear interpolation) and the weights f inside that cell.  The ray
 * is clipped to the box: the position is in [0, n-1] but for rounding,
 * which far from the eye can exceed a voxel (a fuzzed spacing of 0.004
 * beside 12690): both ends are clamped. */
static inline void locate(const float org[3], const float dir[3], float tr, const int last[3],
                          unsigned ix[3], float f[3])
{
    for (int a = 0; a < 3; a++) {
        float q = ZC_MIN(ZC_MAX(org[a] + tr * dir[a], 0.0f), (float)last[a] + 1.0f);
        int i = (int)q;
        i = i > last[a] ? last[a] : i;
        ix[a] = (unsigned)i;
        f[a] = q - (float)i;
    }
}

/* The trilinear interpolant at weights f in the cell whose first corner is
 * voxel base. */
static inline __attribute__((always_inline)) float
trilinear(const void *vox, size_t base, const unsigned *n, const float f[3], enum zc_vol_type t)
{
    const size_t sx = 1, sy = n[0], sz = (size_t)n[0] * n[1];
    float c000 = fetch(vox, base, t), c100 = fetch(vox, base + sx, t);
    float c010 = fetch(vox, base + sy, t), c110 = fetch(vox, base + sy + sx, t);
    float c001 = fetch(vox, base + sz, t), c101 = fetch(vox, base + sz + sx, t);
    float c011 = fetch(vox, base + sz + sy, t), c111 = fetch(vox, base + sz + sy + sx, t);
    float x00 = c000 + f[0] * (c100 - c000), x10 = c010 + f[0] * (c110 - c010);
    float x01 = c001 + f[0] * (c101 - c001), x11 = c011 + f[0] * (c111 - c011);
    float y0 = x00 + f[1] * (x10 - x00), y1 = x01 + f[1] * (x11 - x01);
    return y0 + f[2] * (y1 - y0);
}

/* ---- the sampler, four voxels a vector ----
 *
 * Inside the volume (the 4x4x4 voxels around the cell all there) a sample
 * loads rows of four voxels (x-1 .. x+2) at once: four rows give the
 * sample's value and the x component of its gradient, four more each the
 * y and z components.  A vector holds one column of four rows, so the
 * interpolation along x is one multiply-add for four rows; what is left of
 * the trilinear weights is a dot product with wyz.  At the volume's faces
 * the scalar trilinear() and smooth_gradient() above do the same sums. */
typedef float v4f __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

struct probe {
    unsigned ix[3]; /* the cell (its first corner voxel) */
    float f[3];     /* the sample's weights inside it */
    size_t base;    /* voxel index of ix */
    bool inner;     /* the 4x4x4 voxels around the cell are in the volume */
    v4f col[4];     /* inner: rows (y, z) = (0,0) (1,0) (0,1) (1,1), by column x-1 .. x+2 */
    v4f wyz;        /* inner: the bilinear weights of those four rows */
};

static inline float dot4(v4f a, v4f b)
{
    v4f m = a * b;
    return (m[0] + m[1]) + (m[2] + m[3]);
}

/* Columns x-1 .. x+2 of the four rows that start (at x-1) at off[]. */
static inline __attribute__((always_inline)) void cols4(const void *vox, const size_t off[4],
                                                        enum zc_vol_type t, v4f col[4])
{
    if (t == ZC_VOL_U8) { /* a row is one 32-bit word; a column a byte of each */
        uint32_t w[4];
        for (int r = 0; r < 4; r++)
            memcpy(&w[r], (const uint8_t *)vox + off[r], 4);
        v4u rows = {w[0], w[1], w[2], w[3]};
        for (int k = 0; k < 4; k++) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            const int shift = 8 * k;
#else
            const int shift = 24 - 8 * k;
#endif
            /* Signed: one instruction, where unsigned to float is many. */
            col[k] = __builtin_convertvector((v4i)((rows >> shift) & 0xff), v4f);
        }
        return;
    }
    for (int k = 0; k < 4; k++)
        col[k] = (v4f){fetch(vox, off[0] + k, t), fetch(vox, off[1] + k, t),
                       fetch(vox, off[2] + k, t), fetch(vox, off[3] + k, t)};
}

/* Each row's value at the sample's x. */
static inline v4f xlerp(const v4f col[4], float fx)
{
    return col[1] + fx * (col[2] - col[1]);
}

/* The sample's value at p (ix and f filled in by locate). */
static inline __attribute__((always_inline)) float probe_value(const struct dvr *d, struct probe *p,
                                                               enum zc_vol_type t)
{
    const unsigned *n = d->v->dims;
    const size_t sy = n[0], sz = (size_t)n[0] * n[1];
    p->base = (p->ix[2] * (size_t)n[1] + p->ix[1]) * n[0] + p->ix[0];
    p->inner = (p->ix[0] - 1 < n[0] - 3) & (p->ix[1] - 1 < n[1] - 3) & (p->ix[2] - 1 < n[2] - 3);
    if (!p->inner)
        return trilinear(d->v->voxels, p->base, n, p->f, t);
    const size_t o = p->base - 1, off[4] = {o, o + sy, o + sz, o + sy + sz};
    cols4(d->v->voxels, off, t, p->col);
    const float fy = p->f[1], fz = p->f[2];
    p->wyz = (v4f){(1 - fy) * (1 - fz), fy * (1 - fz), (1 - fy) * fz, fy * fz};
    return dot4(xlerp(p->col, p->f[0]), p->wyz);
}

/* The gradient at a sample probe_value() looked at, as smooth_gradient. */
static inline __attribute__((always_inline)) void
probe_gradient(const struct dvr *d, const struct probe *p, enum zc_vol_type t, float g[3])
{
    const unsigned *n = d->v->dims;
    if (!p->inner) {
        smooth_gradient(d->v->voxels, p->base, p->ix, n, p->f, t, g);
        return;
    }
    const size_t sy = n[0], sz = (size_t)n[0] * n[1], o = p->base - 1;
    const float fx = p->f[0];
    const v4f *c = p->col;
    g[0] = dot4((1 - fx) * (c[2] - c[0]) + fx * (c[3] - c[1]), p->wyz);
    v4f x1 = xlerp(c, fx), ny[4], nz[4];
    /* Rows (y, z) = (-1,0) (2,0) (-1,1) (2,1), then (0,-1) (1,-1) (0,2) (1,2). */
    const size_t offy[4] = {o - sy, o + 2 * sy, o - sy + sz, o + 2 * sy + sz};
    const size_t offz[4] = {o - sz, o + sy - sz, o + 2 * sz, o + sy + 2 * sz};
    cols4(d->v->voxels, offy, t, ny);
    cols4(d->v->voxels, offz, t, nz);
    v4f x2 = xlerp(ny, fx), x3 = xlerp(nz, fx);
    /* Central differences at the four corner rows, in wyz's order. */
    v4f dy = (v4f){x1[1], x2[1], x1[3], x2[3]} - (v4f){x2[0], x1[0], x2[2], x1[2]};
    v4f dz = (v4f){x1[2], x1[3], x3[2], x3[3]} - (v4f){x3[0], x3[1], x1[0], x1[1]};
    g[1] = dot4(dy, p->wyz);
    g[2] = dot4(dz, p->wyz);
}

/* The table's entry for an unscaled value. */
static inline const float *classify(const struct dvr *d, float val)
{
    float li = val * d->idx_scale + d->idx_bias + 0.5f;
    if (!(li >= 0))
        li = 0;
    return d->lut[li > LUT_SIZE - 1 ? LUT_SIZE - 1 : (int)li];
}

/* "Over": the sample's colour e, lit, with opacity a, behind acc. */
static inline void blend(float acc[4], const float *e, float a, float light)
{
    float w = (1 - acc[3]) * a;
    acc[0] += w * ZC_MIN(e[0] * light, 1.0f);
    acc[1] += w * ZC_MIN(e[1] * light, 1.0f);
    acc[2] += w * ZC_MIN(e[2] * light, 1.0f);
    acc[3] += w;
}

/* Shades the sample p and blends its colour e with opacity a behind acc. */
static inline __attribute__((always_inline)) void shade_blend(const struct dvr *d,
                                                              const struct probe *p, const float *e,
                                                              float a, float acc[4],
                                                              enum zc_vol_type t)
{
    float light = 1;
    if (d->shade) {
        float g[3];
        probe_gradient(d, p, t, g);
        light = shade(d, g);
    }
    blend(acc, e, a, light);
}

/* A ray that meets something after clear space (t0 where it entered the
 * box, tr where the sample was not clear) also samples the middle of the
 * step before, with half a step's opacity: where a sharp surface (a scan's
 * skin) begins is then known to half a step, which takes half the jitter's
 * noise off it (a quarter-step version measured no better).  Returns the
 * samples taken. */
static inline __attribute__((always_inline)) unsigned
refine_entry(const struct dvr *d, const float org[3], const float dir[3], float t0, float tr,
             const int last[3], float acc[4], enum zc_vol_type t)
{
    float ts = tr - 0.5f * d->dt;
    if (ts < t0)
        return 0;
    struct probe p;
    locate(org, dir, ts, last, p.ix, p.f);
    const float *e = classify(d, probe_value(d, &p, t));
    if (e[3] > 0) /* the opacity of half a step: 1 - (1 - a)^(1/2) */
        shade_blend(d, &p, e, 1 - sqrtf(1 - e[3]), acc, t);
    return 1;
}

/* One ray (origin and direction in voxel units per unit of world length);
 * returns premultiplied rgba over the background. */
static inline __attribute__((always_inline)) uint32_t cast(struct dvr *d, const float org[3],
                                                           const float dir[3], float start,
                                                           enum zc_vol_type t, uint64_t *samples)
{
    const unsigned *n = d->v->dims;
    float t0 = 0, t1 = INFINITY, inv[3];
    for (int a = 0; a < 3; a++) {
        inv[a] = 1.0f / dir[a];
        if (dir[a] == 0) {
            if (org[a] < d->lo[a] || org[a] > d->hi[a])
                t1 = -1;
            continue;
        }
        float ta = (d->lo[a] - org[a]) * inv[a], tb = (d->hi[a] - org[a]) * inv[a];
        t0 = ZC_MAX(t0, ZC_MIN(ta, tb));
        t1 = ZC_MIN(t1, ZC_MAX(ta, tb));
    }
    float acc[4] = {0, 0, 0, 0};
    const float dt = d->dt;
    uint64_t taken = 0;
    const int last[3] = {(int)n[0] - 2, (int)n[1] - 2, (int)n[2] - 2};
    float cell_end = -INFINITY; /* samples before it are in the cell last found not empty */
    bool clear = true;          /* the step before this sample saw nothing */
    for (float tr = t0 + start * dt; tr <= t1; tr = advance(tr, dt)) {
        struct probe p;
        locate(org, dir, tr, last, p.ix, p.f);
        if (tr >= cell_end) {
            const unsigned c[3] = {p.ix[0] / CELL, p.ix[1] / CELL, p.ix[2] / CELL};
            const unsigned k = d->dist[((size_t)c[2] * d->cdims[1] + c[1]) * d->cdims[0] + c[0]];
            float at[3] = {org[0] + tr * dir[0], org[1] + tr * dir[1], org[2] + tr * dir[2]};
            if (k) {
                /* Whole steps to the far side, at most what an int holds:
                 * a thin axis can make it 1e10; the rest of the cube is
                 * then skipped on the next sample. */
                float steps = ZC_MIN(empty_exit(at, inv, c, k) / dt, 1e9f);
                tr += (float)(int)steps * dt;
                clear = true;
                continue;
            }
            cell_end = tr + empty_exit(at, inv, c, 1);
        }
        const float *e = classify(d, probe_value(d, &p, t));
        taken++;
        if (e[3] <= 0) {
            clear = true;
            continue;
        }
        if (clear)
            taken += refine_entry(d, org, dir, t0, tr, last, acc, t);
        clear = false;
        shade_blend(d, &p, e, e[3], acc, t);
        if (acc[3] >= OPAQUE)
            break;
    }
    *samples += taken;
    unsigned char out[4];
    for (int q = 0; q < 4; q++) {
        float x = acc[q] + (1 - acc[3]) * d->bg[q];
        out[q] = (unsigned char)(ZC_MIN(ZC_MAX(x, 0.0f), 1.0f) * 255.0f + 0.5f);
    }
    return ZC_FB_RGBA(out[0], out[1], out[2], out[3]);
}

static inline __attribute__((always_inline)) int tile(struct dvr *d, unsigned tx, unsigned ty,
                                                      enum zc_vol_type t, uint64_t *samples)
{
    unsigned ts = zc_fb_tile(d->fb), w = zc_fb_width(d->fb), h = zc_fb_height(d->fb);
    unsigned x0 = tx * ts, y0 = ty * ts, x1 = ZC_MIN(x0 + ts, w), y1 = ZC_MIN(y0 + ts, h);
    int err = zc_fb_touch_rect(d->fb, x0, y0, x1 - x0, y1 - y0);
    if (err)
        return err;
    for (unsigned y = y0; y < y1; y++) {
        uint32_t *row = zc_fb_row(d->fb, y);
        float org0[3], dir0[3];
        view_ray(&d->view, (float)x0, (float)y, org0, dir0);
        for (unsigned x = x0; x < x1; x++) {
            float org[3], dir[3];
            if (d->view.perspective) {
                view_ray(&d->view, (float)x, (float)y, org, dir);
            } else { /* parallel rays, origins a fixed step apart along the row */
                for (int a = 0; a < 3; a++) {
                    org[a] = org0[a] + (float)(x - x0) * d->pixel_step[a];
                    dir[a] = dir0[a];
                }
            }
            for (int a = 0; a < 3; a++) {
                org[a] *= d->inv_sp[a];
                dir[a] *= d->inv_sp[a];
            }
            row[x] = cast(d, org, dir, jitter(x, y), t, samples);
        }
    }
    return 0;
}

typedef int tile_fn(struct dvr *d, unsigned tx, unsigned ty, uint64_t *samples);

/* One copy of the ray loop a voxel type, and on x86-64 a second set built
 * for AVX2 + FMA (fused multiply-adds make the trilinear and shading
 * arithmetic about a fifth shorter), picked at run time. */
#define TILE_LOOP(name, type, attr)                                                                \
    attr static int name(struct dvr *d, unsigned tx, unsigned ty, uint64_t *samples)               \
    {                                                                                              \
        return tile(d, tx, ty, type, samples);                                                     \
    }
#define TILE_LOOPS(suffix, attr)                                                                   \
    TILE_LOOP(tile_u8##suffix, ZC_VOL_U8, attr)                                                    \
    TILE_LOOP(tile_i16##suffix, ZC_VOL_I16, attr)                                                  \
    TILE_LOOP(tile_u16##suffix, ZC_VOL_U16, attr)                                                  \
    TILE_LOOP(tile_f32##suffix, ZC_VOL_F32, attr)                                                  \
    static tile_fn *const tiles##suffix[] = {tile_u8##suffix, tile_i16##suffix, tile_u16##suffix,  \
                                             tile_f32##suffix};
TILE_LOOPS(, )
#if defined(__x86_64__)
TILE_LOOPS(_avx2, __attribute__((target("avx2,fma"))))
#endif

static tile_fn *tile_loop(enum zc_vol_type type)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return tiles_avx2[type];
#endif
    return tiles[type];
}

/* The chessboard distance transform of the cells (two raster passes over
 * the 26 neighbours, exact for this metric), capped at 255. */
static void cell_distances(struct dvr *d)
{
    const unsigned *cd = d->cdims;
    const size_t ncells = (size_t)cd[0] * cd[1] * cd[2];
    for (int pass = 0; pass < 2; pass++)
        for (size_t n = 0; n < ncells; n++) {
            size_t i = pass == 0 ? n : ncells - 1 - n;
            if (!d->dist[i])
                continue;
            const unsigned c[3] = {i % cd[0], i / cd[0] % cd[1], i / ((size_t)cd[0] * cd[1])};
            unsigned best = d->dist[i];
            for (int dz = -1; dz <= 1; dz++)
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        /* The neighbours this pass has already been to. */
                        int order = dz * 9 + dy * 3 + dx;
                        if (pass == 0 ? order >= 0 : order <= 0)
                            continue;
                        long x = (long)c[0] + dx, y = (long)c[1] + dy, z = (long)c[2] + dz;
                        if (x < 0 || y < 0 || z < 0 || x >= cd[0] || y >= cd[1] || z >= cd[2])
                            continue;
                        best = ZC_MIN(best, d->dist[((size_t)z * cd[1] + y) * cd[0] + x] + 1u);
                    }
            d->dist[i] = (uint8_t)best;
        }
}

/* The box around everything not empty (rays are clipped to it; an empty
 * volume gives an empty box and no samples). */
static void summarize_cells(struct dvr *d)
{
    unsigned lo[3] = {UINT32_MAX, UINT32_MAX, UINT32_MAX}, hi[3] = {0, 0, 0};
    for (unsigned cz = 0; cz < d->cdims[2]; cz++)
        for (unsigned cy = 0; cy < d->cdims[1]; cy++)
            for (unsigned cx = 0; cx < d->cdims[0]; cx++) {
                if (d->dist[((size_t)cz * d->cdims[1] + cy) * d->cdims[0] + cx])
                    continue;
                const unsigned c[3] = {cx, cy, cz};
                for (int a = 0; a < 3; a++) {
                    lo[a] = ZC_MIN(lo[a], c[a]);
                    hi[a] = ZC_MAX(hi[a], c[a]);
                }
            }
    for (int a = 0; a < 3; a++) {
        if (lo[a] > hi[a]) { /* nothing visible */
            d->lo[a] = 1;
            d->hi[a] = 0;
            continue;
        }
        d->lo[a] = (float)(lo[a] * CELL);
        d->hi[a] = ZC_MIN((float)((hi[a] + 1) * CELL), (float)(d->v->dims[a] - 1));
    }
}

#define SLAB_LOOP(name, type)                                                                      \
    static void name(struct dvr *d, unsigned cz, float *scratch)                                   \
    {                                                                                              \
        size_t nx = d->v->dims[0], ncol = nx * d->cdims[1];                                        \
        cell_slab(d, cz, scratch, scratch + nx, scratch + 2 * nx, scratch + 2 * nx + ncol, type);  \
    }
SLAB_LOOP(slab_u8, ZC_VOL_U8)
SLAB_LOOP(slab_i16, ZC_VOL_I16)
SLAB_LOOP(slab_u16, ZC_VOL_U16)
SLAB_LOOP(slab_f32, ZC_VOL_F32)

/* Bytes of scratch one thread needs for cell_slab. */
static size_t slab_scratch_bytes(const struct dvr *d)
{
    return 2 * ((size_t)d->v->dims[0] + (size_t)d->v->dims[0] * d->cdims[1]) * sizeof(float);
}

/* Macrocell slabs, taken from a shared counter. */
static void *cells_worker(void *arg)
{
    struct dvr *d = arg;
    void (*fn)(struct dvr *, unsigned, float *) = d->v->type == ZC_VOL_U8    ? slab_u8
                                                  : d->v->type == ZC_VOL_I16 ? slab_i16
                                                  : d->v->type == ZC_VOL_U16 ? slab_u16
                                                                             : slab_f32;
    float *scratch = malloc(slab_scratch_bytes(d));
    if (!scratch) {
        atomic_store(&d->err, -ENOMEM);
        return NULL;
    }
    unsigned cz;
    while ((cz = atomic_fetch_add(&d->next_cell, 1)) < d->cdims[2])
        fn(d, cz, scratch);
    free(scratch);
    return NULL;
}

/* Image tiles, taken from a shared counter. */
static void *tiles_worker(void *arg)
{
    struct dvr *d = arg;
    tile_fn *fn = tile_loop(d->v->type);
    unsigned tiles_x = zc_fb_tiles_x(d->fb), ntiles = tiles_x * zc_fb_tiles_y(d->fb);
    uint64_t samples = 0;
    unsigned t;
    while ((t = atomic_fetch_add(&d->next_tile, 1)) < ntiles) {
        int err = fn(d, t % tiles_x, t / tiles_x, &samples);
        if (err) {
            atomic_store(&d->err, err);
            break;
        }
        if (d->opts->progress)
            d->opts->progress(d->opts->progress_arg, atomic_fetch_add(&d->tiles_done, 1) + 1,
                              ntiles);
    }
    atomic_fetch_add(&d->samples, samples);
    return NULL;
}

/* Runs fn on nthreads threads, the caller being one of them.  A thread
 * that cannot start just leaves its share to the others. */
static void run_parallel(void *(*fn)(void *), struct dvr *d, unsigned nthreads)
{
    pthread_t th[MAX_THREAD];
    unsigned started = 0;
    while (started + 1 < nthreads && pthread_create(&th[started], NULL, fn, d) == 0)
        started++;
    fn(d);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

int zc_vol_render(struct zc_vol *v, struct zc_fb *fb, const struct zc_render_opts *opts,
                  struct zc_render_stats *stats)
{
    const struct zc_tf *tf = opts->tf;
    unsigned nthreads = opts->threads ? opts->threads : 1;
    if (!tf || tf->n == 0 || tf->n > ZC_TF_MAX_POINTS || nthreads > MAX_THREAD || opts->step < 0 ||
        !isfinite(opts->step) || v->dims[0] < 2 || v->dims[1] < 2 || v->dims[2] < 2)
        return -EINVAL;
    struct dvr *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->v = v;
    d->fb = fb;
    d->opts = opts;
    float extent[3], minsp = INFINITY;
    for (int a = 0; a < 3; a++) {
        extent[a] = (float)(v->dims[a] - 1) * v->spacing[a];
        d->inv_sp[a] = 1.0f / v->spacing[a];
        minsp = ZC_MIN(minsp, v->spacing[a]);
        d->cdims[a] = (v->dims[a] - 2) / CELL + 1;
    }
    view_setup(&d->view, &opts->camera, extent, zc_fb_width(fb), zc_fb_height(fb));
    for (int a = 0; a < 3; a++) {
        d->light[a] = -d->view.fwd[a];
        d->pixel_step[a] = d->view.right[a] * 2 * d->view.half_w / (float)zc_fb_width(fb);
    }
    d->dt = (opts->step > 0 ? opts->step : 1.0f) * minsp;
    d->shade = opts->shade;
    const unsigned char *bg = (const unsigned char *)&opts->background;
    for (int q = 0; q < 4; q++)
        d->bg[q] = bg[q] / 255.0f;

    /* The table spans the volume's scaled range; index = raw * s + b. */
    float lo, hi;
    zc_vol_range(v, &lo, &hi);
    if (!(hi > lo))
        hi = lo + 1;
    build_lut(d, tf, lo, hi);
    float per_value = (LUT_SIZE - 1) / (hi - lo);
    d->idx_scale = v->slope * per_value;
    d->idx_bias = (v->inter - lo) * per_value;

    size_t ncells = (size_t)d->cdims[0] * d->cdims[1] * d->cdims[2];
    unsigned *prefix = malloc((LUT_SIZE + 1) * sizeof(unsigned));
    d->dist = malloc(ncells);
    int err = 0;
    if (!prefix || !d->dist) {
        err = -ENOMEM;
        goto out;
    }
    prefix[0] = 0;
    for (int i = 0; i < LUT_SIZE; i++)
        prefix[i + 1] = prefix[i] + (d->lut[i][3] > 0);

    d->nonzero_prefix = prefix;
    if (!v->cells) {
        /* The macrocells' value ranges belong to the volume, not to the
         * view or the transfer function: made once, kept with it. */
        v->cells_bytes = 2 * ncells * sizeof(float);
        v->cells = malloc(v->cells_bytes);
        if (!v->cells) {
            err = -ENOMEM;
            goto out;
        }
        d->minmax = v->cells;
        run_parallel(cells_worker, d, nthreads);
        err = atomic_load(&d->err);
        if (err) {
            free(v->cells);
            v->cells = NULL;
            goto out;
        }
    }
    d->minmax = v->cells;
    mark_empty(d, ncells);
    summarize_cells(d);
    cell_distances(d);
    run_parallel(tiles_worker, d, nthreads);
    err = atomic_load(&d->err);
    if (stats) {
        stats->extra_bytes = sizeof(*d) + ncells + (LUT_SIZE + 1) * sizeof(unsigned) +
                             nthreads * slab_scratch_bytes(d) + v->cells_bytes;
        stats->samples = atomic_load(&d->samples);
    }
out:
    free(prefix);
    free(d->dist);
    free(d);
    return err;
}
