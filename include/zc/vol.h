/* zc/vol.h - volumes rendered where they lie: NIfTI-1 and raw volumes,
 * direct volume rendering (ray casting over the source voxels) and, to
 * compare against, marching cubes + a z-buffered mesh rasterizer.
 *
 *   zc_vol     a read-only view of voxels: an mmap'd .nii or raw file, a
 *              .nii.gz inflated once into memory, or caller memory (a
 *              simulation's field array).  The voxel type and the NIfTI
 *              scaling (value = raw * slope + inter) are applied inside the
 *              sampler: there is never a converted copy.
 *   DVR        zc_vol_render(): trilinear samples, a 1-D transfer function,
 *              front-to-back compositing with opacity corrected for the
 *              step, early ray termination, min/max macrocells to skip
 *              empty space, gradient shading, threads over image tiles.
 *   mesh       zc_vol_mesh_extract(): marching cubes (256-case table),
 *              one vertex per intersected edge, gradient normals;
 *              zc_mesh_write_ply() and zc_mesh_render().
 *
 * Coordinates: voxel (i, j, k) sits at world (i * sx, j * sy, k * sz),
 * mm for NIfTI (pixdim).  The camera orbits the volume's centre with +z up.
 * Functions return 0 or a negative errno unless said otherwise.
 */
#ifndef ZC_VOL_H
#define ZC_VOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zc/fb.h"

#ifdef __cplusplus
extern "C" {
#endif

enum zc_vol_type { ZC_VOL_U8, ZC_VOL_I16, ZC_VOL_U16, ZC_VOL_F32 };

struct zc_vol;

/* ---- volumes ---- */
/* Opens a NIfTI-1 file (.nii mmap'd in place; .nii.gz inflated once into
 * memory; the other byte order swapped into memory).  Voxel types u8, i16,
 * u16, f32.  A compressed file (told by its content, not its name) is
 * inflated to its very end and checked as `gzip -t` checks it before any
 * voxel is used; members may be concatenated, zero padding may follow.  A
 * file may hold more than its header describes (the rest is ignored), not
 * less.  Errors, one per cause:
 *   -ENODATA   truncated: the file, or its gzip stream, ends before the
 *              header's voxels (every volume of a 4-D file counts)
 *   -EILSEQ    corrupt: bad deflate data or gzip framing, or bytes after the
 *              last gzip member that are neither a member nor zeros
 *   -EBADMSG   corrupt: a gzip member's CRC-32 or length (ISIZE) does not
 *              match the data it inflates to
 *   -EINVAL    not a NIfTI-1 file (or a malformed header)
 *   -ENOTSUP   a voxel type other than the four
 *   -errno     the file could not be opened or mapped
 * zc_vol_strerror() names each. */
int zc_vol_open_nifti(struct zc_vol **out, const char *path);
/* Maps a raw file of dims[0] x dims[1] x dims[2] voxels (x fastest), native
 * byte order, unit spacing; longer files are fine.  -ENODATA when the file
 * is shorter than that, -ENOTSUP when it is gzip-compressed (raw voxels
 * are used as stored, never inflated), -EINVAL for bad dims or type or a
 * file that is not regular. */
int zc_vol_open_raw(struct zc_vol **out, const char *path, const unsigned dims[3],
                    enum zc_vol_type type);
/* A sentence for an error of the zc_vol_open_* functions ("truncated: ...",
 * "corrupt: ..."); zc_strerror()'s text for the others.  Never NULL. */
const char *zc_vol_strerror(int err);
/* A view of caller memory (not copied; it must outlive the volume). */
int zc_vol_wrap(struct zc_vol **out, const void *voxels, const unsigned dims[3],
                enum zc_vol_type type, const float spacing[3]);
/* Unmaps or frees what the volume holds.  NULL is fine. */
void zc_vol_close(struct zc_vol *v);

/* Parses "u8", "i16", "u16" or "f32"; 0 or -EINVAL. */
int zc_vol_type_parse(const char *s, enum zc_vol_type *type);
void zc_vol_dims(const struct zc_vol *v, unsigned dims[3]);
void zc_vol_spacing(const struct zc_vol *v, float spacing[3]);
/* Bytes of voxels (dims product x voxel size). */
size_t zc_vol_bytes(const struct zc_vol *v);
/* True when the voxels are the file's own pages (mmap) or caller memory;
 * false when a compressed file was inflated into memory. */
bool zc_vol_in_place(const struct zc_vol *v);
/* Scaled value of voxel (i, j, k), which must be inside. */
float zc_vol_voxel(const struct zc_vol *v, unsigned i, unsigned j, unsigned k);
/* Smallest and largest scaled value (computed once, then remembered). */
void zc_vol_range(struct zc_vol *v, float *lo, float *hi);

/* ---- transfer functions ---- */
/* A 1-D transfer function: control points (value, r, g, b, a), linear in
 * between, colours and opacity in [0, 1]; opacity per unit of world length
 * (mm) before correction for the step. */
#define ZC_TF_MAX_POINTS 64
struct zc_tf {
    unsigned n;
    float value[ZC_TF_MAX_POINTS];
    float rgba[ZC_TF_MAX_POINTS][4];
};
/* Presets: "mri" (T1 head: skin, brain) and "ct" (soft tissue, bone),
 * spread over [lo, hi].  -EINVAL for an unknown name. */
int zc_tf_preset(struct zc_tf *tf, const char *name, float lo, float hi);
/* Reads a transfer function file: one control point a line,
 * "value r g b a", increasing values, '#' comments.  -EINVAL (with the line
 * number in *line) for a malformed file, -errno. */
int zc_tf_load(struct zc_tf *tf, const char *path, unsigned *line);
/* Parses the same format from memory (len bytes). */
int zc_tf_parse(struct zc_tf *tf, const char *text, size_t len, unsigned *line);

/* ---- camera ---- */
struct zc_camera {
    float azimuth;    /* degrees around +z, 0 looks along +y */
    float elevation;  /* degrees above the xy plane */
    float zoom;       /* 1: the volume's bounding sphere fills the view */
    bool perspective; /* else orthographic */
    float fov;        /* perspective vertical field of view, degrees */
};
/* The default view: azimuth 30, elevation 15, zoom 1, orthographic. */
void zc_camera_default(struct zc_camera *cam);

/* ---- direct volume rendering ---- */
struct zc_render_opts {
    struct zc_camera camera;
    const struct zc_tf *tf;
    float step;          /* sample spacing in voxels (0: 1.0) */
    bool shade;          /* gradient (Blinn-Phong) shading */
    unsigned threads;    /* 0: 1 */
    uint32_t background; /* 0: premultiplied colour and opacity, for compositing */
    /* Called (may be NULL) after each finished image tile, from the thread
     * that drew it: done of total tiles. */
    void (*progress)(void *arg, unsigned done, unsigned total);
    void *progress_arg;
};
struct zc_render_stats {
    size_t extra_bytes; /* peak memory beyond the volume and the frame */
    uint64_t samples;   /* trilinear samples taken */
};
/* Ray casts v into the whole of fb (tile by tile, journaled if a frame is
 * open).  The first render of a volume also finds its macrocells' value
 * ranges and keeps them with the volume (counted in extra_bytes); renders
 * of one volume must not run at the same time.  stats may be NULL.
 * -EINVAL for bad options, -ENOMEM. */
int zc_vol_render(struct zc_vol *v, struct zc_fb *fb, const struct zc_render_opts *opts,
                  struct zc_render_stats *stats);

/* ---- marching cubes ---- */
struct zc_mesh {
    float *pos;    /* 3 floats a vertex, world coordinates */
    float *normal; /* 3 floats a vertex, unit, pointing to lower values */
    uint32_t *tri; /* 3 vertex indices a triangle */
    size_t vertices, triangles;
};
/* Extracts the iso-surface at iso into mesh (arrays malloc'd; free with
 * zc_mesh_free).  -ENOMEM, -EFBIG past 2^32 vertices. */
int zc_vol_mesh_extract(struct zc_vol *v, float iso, struct zc_mesh *mesh);
void zc_mesh_free(struct zc_mesh *mesh);
/* Bytes the mesh holds. */
size_t zc_mesh_bytes(const struct zc_mesh *mesh);
/* Binary little-endian PLY (vertex x y z nx ny nz float, face uchar/int)
 * to path as zc_output_open() (zc/base.h) treats it: a regular file is
 * published whole or not at all, a FIFO or a device written through.
 * 0 or -errno. */
int zc_mesh_write_ply(const struct zc_mesh *mesh, const char *path);
/* The same PLY into an output opened before the mesh was made; the caller
 * commits or aborts it.  0 or -errno. */
struct zc_output;
int zc_mesh_ply_to_output(const struct zc_mesh *mesh, struct zc_output *out);
/* Rasterizes mesh into fb with a z-buffer and two-sided diffuse shading,
 * the camera framing the box [0, extent] like zc_vol_render frames a
 * volume of that extent.  *scratch_bytes (may be NULL) gets the bytes of
 * its z-buffer and projected vertices.  -ENOMEM, -EINVAL for a triangle
 * naming a vertex the mesh does not have. */
int zc_mesh_render(const struct zc_mesh *mesh, const float extent[3], struct zc_fb *fb,
                   const struct zc_camera *cam, uint32_t color, uint32_t background,
                   size_t *scratch_bytes);

#ifdef __cplusplus
}
#endif

#endif /* ZC_VOL_H */
