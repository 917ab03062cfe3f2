/* vol_internal.h - what the volume, renderer and mesher share inside vol. */
#ifndef ZC_VOL_INTERNAL_H
#define ZC_VOL_INTERNAL_H

#include "zc/vol.h"

#include <nifti1_io.h>

struct zc_vol {
    enum zc_vol_type type;
    unsigned dims[3];
    float spacing[3];
    float slope, inter; /* value = raw * slope + inter */
    const void *voxels;
    size_t nvox;
    void *map; /* mmap'd file (in place) */
    size_t map_len;
    nifti_image *nim; /* owns inflated voxels when not in place */
    bool range_known;
    float lo, hi;
    float *cells; /* per 8^3 macrocell: unscaled min, max (made by the first render) */
    size_t cells_bytes;
};

/* Unscaled voxel value at linear index idx. */
static inline float vol_raw(const struct zc_vol *v, size_t idx)
{
    switch (v->type) {
    case ZC_VOL_U8:
        return ((const uint8_t *)v->voxels)[idx];
    case ZC_VOL_I16:
        return ((const int16_t *)v->voxels)[idx];
    case ZC_VOL_U16:
        return ((const uint16_t *)v->voxels)[idx];
    default:
        return ((const float *)v->voxels)[idx];
    }
}

/* Bytes of one voxel. */
size_t vol_type_size(enum zc_vol_type type);

/* The world-space camera frame for an image of width x height looking at
 * the box [0, extent]: ray origin and direction of pixel centre (px, py). */
struct view {
    float eye[3], fwd[3], right[3], up[3], centre[3];
    float half_w, half_h; /* orthographic: half extents; perspective: tan */
    bool perspective;
    unsigned width, height;
};
void view_setup(struct view *view, const struct zc_camera *cam, const float extent[3],
                unsigned width, unsigned height);
void view_ray(const struct view *view, float px, float py, float org[3], float dir[3]);

#endif
