/* raycast.c - each rank's brick ray-cast straight from the simulation's
 * own array.
 *
 * Every ray carries samples at t = s * step from a fixed origin outside the
 * domain; a brick takes the samples that fall in its half-open box
 * [origin, origin + size) (closed at the domain's far walls), so a sample
 * belongs to exactly one brick and reads the same values (its ghosts hold
 * the neighbour's) in whichever brick takes it.  The brick's samples are
 * composited front to back into its tile; 'over' of the tiles in
 * visibility order is the whole render.
 */
#include "insitu_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <math.h>
#include <string.h>

void insitu_proj_init(struct insitu_proj *p, const struct zc_insitu_camera *cam,
                      const unsigned global[3], unsigned width, unsigned height)
{
    zc_insitu_view_dir(cam, p->dir);
    /* right = dir x z, up = right x dir */
    double rl = hypot(p->dir[1], p->dir[0]);
    if (rl < 1e-9) {
        p->right[0] = 1, p->right[1] = 0, p->right[2] = 0;
    } else {
        p->right[0] = p->dir[1] / rl, p->right[1] = -p->dir[0] / rl, p->right[2] = 0;
    }
    p->up[0] = p->right[1] * p->dir[2] - p->right[2] * p->dir[1];
    p->up[1] = p->right[2] * p->dir[0] - p->right[0] * p->dir[2];
    p->up[2] = p->right[0] * p->dir[1] - p->right[1] * p->dir[0];
    double d2 = 0;
    for (int d = 0; d < 3; d++) {
        p->centre[d] = global[d] / 2.0;
        d2 += (double)global[d] * global[d];
    }
    p->reach = sqrt(d2);
    unsigned side = width < height ? width : height;
    p->pixel = p->reach * 1.02 / side / (cam->zoom > 0 ? cam->zoom : 1);
    p->width = width;
    p->height = height;
}

void zc_insitu_view_dir(const struct zc_insitu_camera *cam, double dir[3])
{
    double az = cam->azimuth * M_PI / 180, el = cam->elevation * M_PI / 180;
    dir[0] = -cos(el) * cos(az);
    dir[1] = -cos(el) * sin(az);
    dir[2] = -sin(el);
}

void insitu_proj_point(const struct insitu_proj *p, const double w[3], double *x, double *y)
{
    double pu = 0, pv = 0;
    for (int d = 0; d < 3; d++) {
        pu += (w[d] - p->centre[d]) * p->right[d];
        pv += (w[d] - p->centre[d]) * p->up[d];
    }
    *x = pu / p->pixel + p->width / 2.0;
    *y = p->height / 2.0 - pv / p->pixel;
}

void insitu_tf_eval(const struct zc_tf *tf, float v, float rgba[4])
{
    unsigned n = tf->n;
    if (n == 0) {
        memset(rgba, 0, 4 * sizeof(float));
        return;
    }
    if (!(v > tf->value[0])) {
        memcpy(rgba, tf->rgba[0], 4 * sizeof(float));
        return;
    }
    if (v >= tf->value[n - 1]) {
        memcpy(rgba, tf->rgba[n - 1], 4 * sizeof(float));
        return;
    }
    unsigned i = 1;
    while (v > tf->value[i])
        i++;
    float w = (v - tf->value[i - 1]) / (tf->value[i] - tf->value[i - 1]);
    for (int c = 0; c < 4; c++)
        rgba[c] = tf->rgba[i - 1][c] + w * (tf->rgba[i][c] - tf->rgba[i - 1][c]);
}

/* Where a sample reads along one axis: two local indices (clamped to the
 * array's ghosts and the domain) and the weight of the second. */
struct axis {
    long i0, i1;
    float w;
};

static struct axis axis_at(double p, unsigned lo, unsigned n, unsigned ghost, unsigned global)
{
    double q = p - 0.5 - lo; /* cell centres sit at index + 0.5 */
    double fl = floor(q);
    long first = -(long)(ghost < lo ? ghost : lo);
    long last = (long)n - 1 + (long)(ghost < global - lo - n ? ghost : global - lo - n);
    struct axis a = {(long)fl, (long)fl + 1, (float)(q - fl)};
    if (a.i0 < first)
        a.i0 = first;
    if (a.i1 > last)
        a.i1 = last;
    if (a.i0 > last)
        a.i0 = last;
    if (a.i1 < first)
        a.i1 = first;
    return a;
}

static float value_at(const struct zc_insitu_field *f, long i, long j, long k)
{
    ptrdiff_t o = i * f->stride[0] + j * f->stride[1] + k * f->stride[2];
    return f->type == ZC_INSITU_FLOAT32 ? ((const float *)f->data)[o]
                                        : (float)((const double *)f->data)[o];
}

static float sample(const struct zc_insitu_field *f, const struct axis a[3])
{
    float c[2][2];
    for (int z = 0; z < 2; z++)
        for (int y = 0; y < 2; y++) {
            long j = y ? a[1].i1 : a[1].i0, k = z ? a[2].i1 : a[2].i0;
            float v0 = value_at(f, a[0].i0, j, k), v1 = value_at(f, a[0].i1, j, k);
            c[z][y] = v0 + a[0].w * (v1 - v0);
        }
    float c0 = c[0][0] + a[1].w * (c[0][1] - c[0][0]);
    float c1 = c[1][0] + a[1].w * (c[1][1] - c[1][0]);
    return c0 + a[2].w * (c1 - c0);
}

/* One ray through the brick, front to back, into acc (premultiplied). */
static void cast_ray(const struct zc_insitu_config *cfg, const struct zc_insitu_field *f,
                     const double o[3], const double dir[3], const double lo[3], const double hi[3],
                     float step, float acc[4])
{
    double t0, t1;
    if (!zc_ray_box(o, dir, lo, hi, &t0, &t1))
        return;
    long s0 = (long)floor(t0 / cfg->step) - 1, s1 = (long)ceil(t1 / cfg->step) + 1;
    for (long s = s0 < 0 ? 0 : s0; s <= s1 && acc[3] < 0.999f; s++) {
        double t = (double)s * cfg->step, p[3];
        bool inside = true;
        for (int d = 0; d < 3; d++) {
            p[d] = o[d] + t * dir[d];
            /* Half-open ownership, closed at the far wall. */
            if (p[d] < lo[d] || p[d] > hi[d] || (p[d] == hi[d] && hi[d] < cfg->global[d]))
                inside = false;
        }
        if (!inside)
            continue;
        struct axis a[3];
        for (int d = 0; d < 3; d++)
            a[d] = axis_at(p[d], cfg->origin[d], cfg->size[d], cfg->ghost, cfg->global[d]);
        float c[4];
        insitu_tf_eval(&cfg->tf, sample(f, a), c);
        float op = c[3] >= 1 ? 1 : 1 - powf(1 - c[3], step);
        float tr = (1.0f - acc[3]) * op;
        acc[0] += tr * c[0];
        acc[1] += tr * c[1];
        acc[2] += tr * c[2];
        acc[3] += tr;
    }
}

int insitu_raycast(const struct zc_insitu_config *cfg, const struct insitu_proj *p,
                   const struct zc_insitu_field *f, float *rgba)
{
    if (!f || !f->data || (f->type != ZC_INSITU_FLOAT32 && f->type != ZC_INSITU_FLOAT64))
        return -EINVAL;
    double lo[3], hi[3];
    for (int d = 0; d < 3; d++) {
        lo[d] = cfg->origin[d];
        hi[d] = (double)cfg->origin[d] + cfg->size[d];
    }
    memset(rgba, 0, (size_t)p->width * p->height * 4 * sizeof(float));
    for (unsigned y = 0; y < p->height; y++)
        for (unsigned x = 0; x < p->width; x++) {
            double pu = (x + 0.5 - p->width / 2.0) * p->pixel;
            double pv = (p->height / 2.0 - y - 0.5) * p->pixel;
            double o[3];
            for (int d = 0; d < 3; d++)
                o[d] = p->centre[d] + pu * p->right[d] + pv * p->up[d] - p->reach * p->dir[d];
            cast_ray(cfg, f, o, p->dir, lo, hi, (float)cfg->step,
                     rgba + ((size_t)y * p->width + x) * 4);
        }
    return 0;
}
