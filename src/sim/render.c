/* render.c - the in-situ ray caster: each rank renders its own brick where
 * the field lies.
 *
 * The idea: there is no visualization copy of the field.  The sampler
 * interpolates each of the six Yee components trilinearly from its own
 * staggered grid and squares them into the energy density on the spot.  A
 * sample near a brick face reads one cell into the ghost layer, which holds
 * exactly the neighbour's values, so a sample gives the same float in
 * whichever brick (or the one-rank whole field) computes it, and seams
 * cannot show.
 *
 * Every ray carries samples at t = s * step from a fixed origin outside the
 * domain; a brick takes the samples whose position falls inside its
 * half-open box [lo, lo + n) (closed at the domain's far wall), so each
 * sample belongs to exactly one brick.  A convex brick holds one contiguous
 * run of a ray's samples, composited front to back into a premultiplied
 * RGBA tile; 'over' of the tiles in visibility order gives the whole
 * render.
 */
#include "zc/sim.h"
#include "zc/base.h"
#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void zc_sim_view_default(struct zc_sim_view *v, unsigned width, unsigned height)
{
    memset(v, 0, sizeof(*v));
    v->width = width;
    v->height = height;
    v->azimuth = 30;
    v->elevation = 25;
    v->step = 0.7;
    v->decades = 3;
    v->opacity = 0.25;
    v->draw_conductor = true;
}

static void view_basis(const struct zc_sim_view *v, double dir[3], double right[3], double up[3])
{
    double az = v->azimuth * M_PI / 180, el = v->elevation * M_PI / 180;
    dir[0] = -cos(el) * cos(az);
    dir[1] = -cos(el) * sin(az);
    dir[2] = -sin(el);
    /* right = dir x z, up = right x dir */
    double rl = hypot(dir[1], dir[0]);
    if (rl < 1e-9) {
        right[0] = 1, right[1] = 0, right[2] = 0;
    } else {
        right[0] = dir[1] / rl, right[1] = -dir[0] / rl, right[2] = 0;
    }
    up[0] = right[1] * dir[2] - right[2] * dir[1];
    up[1] = right[2] * dir[0] - right[0] * dir[2];
    up[2] = right[0] * dir[1] - right[1] * dir[0];
}

void zc_sim_view_dir(const struct zc_sim_view *v, double dir[3])
{
    double right[3], up[3];
    view_basis(v, dir, right, up);
}

/* Interpolation position along one axis for offset 0 or 1/2: the lower
 * index (>= -1) and weight, with q = n (the far wall) folded onto n-1. */
struct axis_pos {
    int i;
    float f;
};

static struct axis_pos axis_pos(double q, unsigned n)
{
    double fl = floor(q);
    struct axis_pos a = {(int)fl, (float)(q - fl)};
    if (a.i >= (int)n) {
        a.i = (int)n - 1;
        a.f = 1.0f;
    }
    return a;
}

static float trilinear(const struct zc_sim *s, const float *f, struct axis_pos x, struct axis_pos y,
                       struct axis_pos z)
{
    const float *p = f + SIM_IDX(s, x.i, y.i, z.i);
    size_t sy = s->sy, sz = s->sz;
    float c00 = p[0] + x.f * (p[1] - p[0]);
    float c10 = p[sy] + x.f * (p[sy + 1] - p[sy]);
    float c01 = p[sz] + x.f * (p[sz + 1] - p[sz]);
    float c11 = p[sz + sy] + x.f * (p[sz + sy + 1] - p[sz + sy]);
    float c0 = c00 + y.f * (c10 - c00);
    float c1 = c01 + y.f * (c11 - c01);
    return c0 + z.f * (c1 - c0);
}

/* Energy density (E^2 + H^2) / 2 at local position q (cells from the
 * brick's first cell), straight from the six staggered arrays. */
static float energy_at(const struct zc_sim *s, const double q[3])
{
    struct axis_pos pos[3][2];
    for (int d = 0; d < 3; d++) {
        pos[d][0] = axis_pos(q[d], s->n[d]);
        pos[d][1] = axis_pos(q[d] - 0.5, s->n[d]);
    }
    float u = 0;
    for (int c = 0; c < 6; c++) {
        float v = trilinear(s, s->f[c], pos[0][sim_offset[c][0] > 0], pos[1][sim_offset[c][1] > 0],
                            pos[2][sim_offset[c][2] > 0]);
        u += v * v;
    }
    return 0.5f * u;
}

static float clamp01(float x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

struct sample {
    float r, g, b, a;
};

/* The transfer function: log energy over the view's decades to colour
 * (deep red through orange to white) and opacity; below them, nothing. */
static bool shade_energy(const struct zc_sim_view *v, float u, struct sample *out)
{
    if (!(u > 0))
        return false;
    float x = (float)((log10(u) - v->log_umax) / v->decades + 1.0);
    if (x <= 0)
        return false;
    x = clamp01(x);
    float a = 1.0f - expf(-(float)(v->opacity * v->step) * x * x);
    out->r = a * clamp01(0.35f + 1.6f * x);
    out->g = a * clamp01(1.7f * x - 0.45f);
    out->b = a * clamp01(2.5f * x - 1.6f + 0.25f * (1 - x));
    out->a = a;
    return true;
}

void zc_sim_view_tf(const struct zc_sim_view *v, struct zc_tf *tf)
{
    enum { POINTS = 17 };
    tf->n = POINTS;
    for (unsigned i = 0; i < POINTS; i++) {
        float x = (float)i / (POINTS - 1);
        struct sample s;
        double u = pow(10.0, v->log_umax + (x - 1.0) * v->decades);
        struct zc_sim_view cell = *v;
        cell.step = 1; /* opacity per cell */
        bool shown = x > 0 && shade_energy(&cell, (float)u, &s) && s.a > 0;
        tf->value[i] = (float)(v->log_umax + (x - 1.0) * v->decades);
        tf->rgba[i][0] = shown ? s.r / s.a : 0;
        tf->rgba[i][1] = shown ? s.g / s.a : 0;
        tf->rgba[i][2] = shown ? s.b / s.a : 0;
        tf->rgba[i][3] = shown ? s.a : 0;
    }
}

/* Copper, lit from over the viewer's shoulder by the torus' own normal. */
static bool shade_conductor(const struct zc_sim_view *v, unsigned grid, const double p[3],
                            const double light[3], struct sample *out)
{
    if (!sim_in_torus(grid, p[0], p[1], p[2]))
        return false;
    double c = grid / 2.0, dx = p[0] - c, dy = p[1] - c, rho = hypot(dx, dy);
    double k = rho > 0 ? (rho - 0.3 * grid) / rho : 0;
    double nrm[3] = {k * dx, k * dy, p[2] - c};
    double len = sqrt(nrm[0] * nrm[0] + nrm[1] * nrm[1] + nrm[2] * nrm[2]);
    double lambert = 0;
    if (len > 0)
        lambert = (nrm[0] * light[0] + nrm[1] * light[1] + nrm[2] * light[2]) / len;
    float lit = (float)(0.3 + 0.7 * (lambert > 0 ? lambert : 0));
    float a = 1.0f - expf(-1.5f * (float)v->step);
    out->r = a * lit * 0.85f;
    out->g = a * lit * 0.5f;
    out->b = a * lit * 0.25f;
    out->a = a;
    return true;
}

/* Empty-space skipping: the brick in blocks of SKIP_BLOCK^3 cells, each
 * marked when no sample in it can reach the transfer function's floor.  A
 * trilinear sample never exceeds the largest magnitude among the values it
 * reads, so (E^2 + H^2) / 2 of the blockwise maxima bounds every sample in
 * the block; a skipped sample is one the transfer function would have made
 * transparent, and the image is exactly the same. */
enum { SKIP_BLOCK = 8 };

struct skip_table {
    unsigned nb[3];
    uint8_t *empty;
};

static int skip_build(const struct zc_sim *s, double floor_u, struct skip_table *t)
{
    for (int d = 0; d < 3; d++)
        t->nb[d] = (s->n[d] + SKIP_BLOCK - 1) / SKIP_BLOCK;
    t->empty = malloc((size_t)t->nb[0] * t->nb[1] * t->nb[2]);
    if (!t->empty)
        return -ENOMEM;
    size_t b = 0;
    for (unsigned bz = 0; bz < t->nb[2]; bz++)
        for (unsigned by = 0; by < t->nb[1]; by++)
            for (unsigned bx = 0; bx < t->nb[0]; bx++, b++) {
                /* The indices a sample in the block reads: one cell below
                 * (half-cell offsets) to one past its last cell. */
                int from[3], to[3];
                unsigned bi[3] = {bx, by, bz};
                for (int d = 0; d < 3; d++) {
                    from[d] = (int)(bi[d] * SKIP_BLOCK) - 1;
                    to[d] = (int)ZC_MIN((bi[d] + 1) * SKIP_BLOCK, s->n[d]);
                }
                double bound = 0;
                for (int c = 0; c < 6; c++) {
                    float m = 0;
                    for (int k = from[2]; k <= to[2]; k++)
                        for (int j = from[1]; j <= to[1]; j++) {
                            const float *row = s->f[c] + SIM_IDX(s, 0, j, k);
                            for (int i = from[0]; i <= to[0]; i++)
                                m = fabsf(row[i]) > m ? fabsf(row[i]) : m;
                        }
                    bound += 0.5 * (double)m * m;
                }
                /* Margins for the float rounding of interpolation and log. */
                t->empty[b] = bound * 1.001 < floor_u * 0.999;
            }
    return 0;
}

static bool skip_sample(const struct skip_table *t, const double q[3])
{
    size_t b[3];
    for (int d = 0; d < 3; d++)
        b[d] = ZC_MIN((size_t)q[d] / SKIP_BLOCK, (size_t)t->nb[d] - 1);
    return t->empty[(b[2] * t->nb[1] + b[1]) * t->nb[0] + b[0]];
}

int zc_sim_render(const struct zc_sim *s, const struct zc_sim_view *v, float *rgba)
{
    if (v->width == 0 || v->height == 0 || v->width > 65536 || v->height > 65536 ||
        !(v->step > 0) || !(v->decades > 0) || !(v->opacity >= 0) || !isfinite(v->log_umax))
        return -EINVAL;
    double dir[3], right[3], up[3];
    view_basis(v, dir, right, up);
    const double grid = s->grid, centre = grid / 2, reach = grid * sqrt(3.0);
    const double pixel = reach * 1.02 / ZC_MIN(v->width, v->height);
    double lo[3], hi[3];
    for (int d = 0; d < 3; d++) {
        lo[d] = s->lo[d];
        hi[d] = s->lo[d] + s->n[d];
    }
    double light[3];
    for (int d = 0; d < 3; d++)
        light[d] = 0.6 * up[d] - 0.8 * dir[d];
    struct skip_table skip;
    if (skip_build(s, pow(10.0, v->log_umax - v->decades), &skip))
        return -ENOMEM;

    memset(rgba, 0, (size_t)v->width * v->height * 4 * sizeof(float));
    for (unsigned y = 0; y < v->height; y++)
        for (unsigned x = 0; x < v->width; x++) {
            double pu = (x + 0.5 - v->width / 2.0) * pixel;
            double pv = (v->height / 2.0 - y - 0.5) * pixel;
            double o[3];
            for (int d = 0; d < 3; d++)
                o[d] = centre + pu * right[d] + pv * up[d] - reach * dir[d];
            double t0, t1;
            if (!zc_ray_box(o, dir, lo, hi, &t0, &t1))
                continue;
            long s0 = (long)floor(t0 / v->step) - 1, s1 = (long)ceil(t1 / v->step) + 1;
            float acc[4] = {0, 0, 0, 0};
            for (long i = s0 < 0 ? 0 : s0; i <= s1; i++) {
                double t = (double)i * v->step, p[3], q[3];
                bool inside = true;
                for (int d = 0; d < 3; d++) {
                    p[d] = o[d] + t * dir[d];
                    /* Half-open ownership, closed at the far wall. */
                    if (p[d] < lo[d] || p[d] > hi[d] || (p[d] == hi[d] && hi[d] < grid))
                        inside = false;
                    q[d] = p[d] - lo[d];
                }
                if (!inside)
                    continue;
                struct sample smp;
                bool hit = v->draw_conductor && shade_conductor(v, s->grid, p, light, &smp);
                if (!hit && !skip_sample(&skip, q))
                    hit = shade_energy(v, energy_at(s, q), &smp);
                if (!hit)
                    continue;
                float tr = 1.0f - acc[3];
                acc[0] += tr * smp.r;
                acc[1] += tr * smp.g;
                acc[2] += tr * smp.b;
                acc[3] += tr * smp.a;
            }
            memcpy(rgba + ((size_t)y * v->width + x) * 4, acc, sizeof(acc));
        }
    free(skip.empty);
    return 0;
}
