/* raster.c - the mesh's side of the comparison: a z-buffered triangle
 * rasterizer into the framebuffer.
 *
 * Vertices are projected once (screen x, y, depth and a two-sided diffuse
 * shade from the normal and a headlight); each triangle is then scanned
 * over its clipped bounding box with edge functions, depth and shade
 * interpolated barycentrically, nearest depth kept.  Its memory is what the
 * comparison is about: the mesh, the projected vertices and a float
 * z-buffer the size of the image, on top of the frame.
 */
#include "vol_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

struct projected {
    float x, y, z, shade;
};

static void project(const struct view *view, const float p[3], const float n[3],
                    struct projected *out)
{
    float rel[3], r = 0, u = 0, z = 0, c = 0;
    for (int a = 0; a < 3; a++) {
        rel[a] = p[a] - (view->perspective ? view->eye[a] : view->centre[a]);
        r += rel[a] * view->right[a];
        u += rel[a] * view->up[a];
        z += (p[a] - view->eye[a]) * view->fwd[a];
        c -= n[a] * view->fwd[a];
    }
    if (view->perspective) {
        float inv = z > 1e-6f ? 1.0f / z : 1e6f;
        r *= inv;
        u *= inv;
    }
    out->x = (r / view->half_w + 1) * 0.5f * (float)view->width - 0.5f;
    out->y = (1 - u / view->half_h) * 0.5f * (float)view->height - 0.5f;
    out->z = z;
    c = fabsf(c);
    out->shade = 0.25f + 0.75f * c;
}

static float edge(const struct projected *a, const struct projected *b, float x, float y)
{
    return (b->x - a->x) * (y - a->y) - (b->y - a->y) * (x - a->x);
}

static void triangle(struct zc_fb *fb, float *zbuf, const struct projected *a,
                     const struct projected *b, const struct projected *c, const float rgb[3])
{
    float area = edge(a, b, c->x, c->y);
    if (!(fabsf(area) > 1e-12f))
        return;
    int w = (int)zc_fb_width(fb), h = (int)zc_fb_height(fb);
    float fx0 = floorf(ZC_MIN(a->x, ZC_MIN(b->x, c->x))),
          fx1 = ceilf(ZC_MAX(a->x, ZC_MAX(b->x, c->x)));
    float fy0 = floorf(ZC_MIN(a->y, ZC_MIN(b->y, c->y))),
          fy1 = ceilf(ZC_MAX(a->y, ZC_MAX(b->y, c->y)));
    if (!(fx1 >= 0 && fy1 >= 0 && fx0 < (float)w && fy0 < (float)h))
        return;
    int x0 = (int)ZC_MAX(fx0, 0.0f), x1 = (int)ZC_MIN(fx1, (float)(w - 1));
    int y0 = (int)ZC_MAX(fy0, 0.0f), y1 = (int)ZC_MIN(fy1, (float)(h - 1));
    float inv = 1.0f / area;
    for (int y = y0; y <= y1; y++) {
        uint32_t *row = zc_fb_row(fb, (unsigned)y);
        for (int x = x0; x <= x1; x++) {
            float w0 = edge(b, c, (float)x, (float)y) * inv;
            float w1 = edge(c, a, (float)x, (float)y) * inv;
            float w2 = 1 - w0 - w1;
            if (w0 < 0 || w1 < 0 || w2 < 0)
                continue;
            float z = w0 * a->z + w1 * b->z + w2 * c->z;
            float *zp = &zbuf[(size_t)y * (size_t)w + (size_t)x];
            if (!(z < *zp))
                continue;
            *zp = z;
            float s = w0 * a->shade + w1 * b->shade + w2 * c->shade;
            unsigned char q[3];
            for (int k = 0; k < 3; k++)
                q[k] = (unsigned char)(ZC_MIN(rgb[k] * s, 1.0f) * 255.0f + 0.5f);
            row[x] = ZC_FB_RGBA(q[0], q[1], q[2], 255);
        }
    }
}

int zc_mesh_render(const struct zc_mesh *mesh, const float extent[3], struct zc_fb *fb,
                   const struct zc_camera *cam, uint32_t color, uint32_t background,
                   size_t *scratch_bytes)
{
    unsigned w = zc_fb_width(fb), h = zc_fb_height(fb);
    struct view view;
    view_setup(&view, cam, extent, w, h);
    size_t zn = (size_t)w * h;
    float *zbuf = malloc(zn * sizeof(float));
    struct projected *pv = malloc((mesh->vertices ? mesh->vertices : 1) * sizeof(*pv));
    if (!zbuf || !pv) {
        free(zbuf);
        free(pv);
        return -ENOMEM;
    }
    if (scratch_bytes)
        *scratch_bytes = zn * sizeof(float) + mesh->vertices * sizeof(*pv);
    int err = zc_fb_fill_rect(fb, 0, 0, w, h, background);
    if (err)
        goto out;
    for (size_t i = 0; i < zn; i++)
        zbuf[i] = INFINITY;
    for (size_t i = 0; i < mesh->vertices; i++)
        project(&view, mesh->pos + 3 * i, mesh->normal + 3 * i, &pv[i]);
    const unsigned char *c = (const unsigned char *)&color;
    const float rgb[3] = {c[0] / 255.0f, c[1] / 255.0f, c[2] / 255.0f};
    for (size_t t = 0; t < mesh->triangles; t++) {
        const uint32_t *tri = mesh->tri + 3 * t;
        if (tri[0] >= mesh->vertices || tri[1] >= mesh->vertices || tri[2] >= mesh->vertices) {
            err = -EINVAL;
            break;
        }
        triangle(fb, zbuf, &pv[tri[0]], &pv[tri[1]], &pv[tri[2]], rgb);
    }
out:
    free(zbuf);
    free(pv);
    return err;
}
