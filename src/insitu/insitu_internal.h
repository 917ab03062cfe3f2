/* insitu_internal.h - what the context, the ray caster and the annotation
 * share. */
#ifndef ZC_INSITU_INTERNAL_H
#define ZC_INSITU_INTERNAL_H

#include "zc/insitu.h"

/* The orthographic projection every part uses: a world point p lands at
 * image position (centre + pu * right + pv * up) with pu, pv in pixels
 * from the image centre. */
struct insitu_proj {
    double dir[3], right[3], up[3];
    double centre[3], reach, pixel; /* reach: the domain's diagonal */
    unsigned width, height;
};

void insitu_proj_init(struct insitu_proj *p, const struct zc_insitu_camera *cam,
                      const unsigned global[3], unsigned width, unsigned height);
/* Image position (x right, y down, pixel centres at +0.5) of world point w. */
void insitu_proj_point(const struct insitu_proj *p, const double w[3], double *x, double *y);

/* Ray-casts the brick [origin, origin + size) of field f into rgba
 * (premultiplied, width * height * 4 floats, overwritten).  0 or -EINVAL. */
int insitu_raycast(const struct zc_insitu_config *cfg, const struct insitu_proj *p,
                   const struct zc_insitu_field *f, float *rgba);

/* The colour and opacity (straight, not premultiplied) of value v. */
void insitu_tf_eval(const struct zc_tf *tf, float v, float rgba[4]);

/* Draws the step, time, field, legend and outline (and bricks: nb boxes of
 * 6 unsigned, origin then size) into fb. */
void insitu_annotate(struct zc_fb *fb, const struct zc_insitu_config *cfg,
                     const struct insitu_proj *p, const struct zc_insitu_frame *info,
                     const unsigned *bricks, unsigned nb);

/* Writes fb as a PNG with info as tEXt chunks to path (atomically). */
int insitu_write_png(const struct zc_fb *fb, const char *path, const struct zc_insitu_frame *info);

#endif
