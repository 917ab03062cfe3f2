/* view.c - the orbit camera both renderers share.
 *
 * The camera looks at the centre of the box [0, extent] from the direction
 * given by azimuth (around +z; 0 is the +y side) and elevation (above the
 * xy plane), with +z up on the screen.  Zoom 1 makes the box's bounding
 * sphere just fill the shorter side of the image, orthographic or
 * perspective alike, so the two modes frame the same picture.
 */
#include "vol_internal.h"
#include "zc/base.h"

#include <math.h>

void zc_camera_default(struct zc_camera *cam)
{
    cam->azimuth = 30;
    cam->elevation = 15;
    cam->zoom = 1;
    cam->perspective = false;
    cam->fov = 30;
}

static void normalize(float v[3])
{
    float l = sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (l > 0)
        for (int a = 0; a < 3; a++)
            v[a] /= l;
}

void view_setup(struct view *view, const struct zc_camera *cam, const float extent[3],
                unsigned width, unsigned height)
{
    const float deg = (float)M_PI / 180.0f;
    float az = cam->azimuth * deg;
    float el = ZC_MAX(-89.0f, ZC_MIN(89.0f, cam->elevation)) * deg;
    float zoom = cam->zoom > 0 ? cam->zoom : 1;
    float radius = 0;
    for (int a = 0; a < 3; a++) {
        view->centre[a] = extent[a] * 0.5f;
        radius += extent[a] * extent[a];
    }
    radius = ZC_MAX(sqrtf(radius) * 0.5f, 1e-3f);
    view->fwd[0] = -cosf(el) * sinf(az);
    view->fwd[1] = -cosf(el) * cosf(az);
    view->fwd[2] = -sinf(el);
    /* right = fwd x z, up = right x fwd */
    view->right[0] = view->fwd[1];
    view->right[1] = -view->fwd[0];
    view->right[2] = 0;
    normalize(view->right);
    view->up[0] = view->right[1] * view->fwd[2] - view->right[2] * view->fwd[1];
    view->up[1] = view->right[2] * view->fwd[0] - view->right[0] * view->fwd[2];
    view->up[2] = view->right[0] * view->fwd[1] - view->right[1] * view->fwd[0];
    view->width = width;
    view->height = height;
    view->perspective = cam->perspective;
    float aspect = (float)width / (float)height;
    float fov = (cam->fov > 1 && cam->fov < 170 ? cam->fov : 30) * deg;
    float dist;
    if (cam->perspective) {
        view->half_h = tanf(fov * 0.5f);
        dist = radius / sinf(fov * 0.5f) / zoom;
    } else {
        view->half_h = radius / zoom;
        dist = 2 * radius;
    }
    if (aspect < 1)
        view->half_h /= aspect;
    view->half_w = view->half_h * aspect;
    for (int a = 0; a < 3; a++)
        view->eye[a] = view->centre[a] - view->fwd[a] * dist;
}

void view_ray(const struct view *view, float px, float py, float org[3], float dir[3])
{
    float u = (2 * (px + 0.5f) / (float)view->width - 1) * view->half_w;
    float v = (1 - 2 * (py + 0.5f) / (float)view->height) * view->half_h;
    for (int a = 0; a < 3; a++) {
        if (view->perspective) {
            org[a] = view->eye[a];
            dir[a] = view->fwd[a] + u * view->right[a] + v * view->up[a];
        } else {
            org[a] = view->eye[a] + u * view->right[a] + v * view->up[a];
            dir[a] = view->fwd[a];
        }
    }
    normalize(dir);
}
