/* vol_internal.h - what the volume, renderer and mesher share inside vol. */
#ifndef ZC_VOL_INTERNAL_H
#define ZC_VOL_INTERNAL_H

#include "zc/vol.h"

#include <nifti1_io.h>
#include <zlib.h>

struct zc_vol {
    enum zc_vol_type type;
    unsigned dims[3];
    float spacing[3];
    float slope, inter; /* value = raw * slope + inter */
    const void *voxels;
    size_t nvox;
    void *map; /* mmap'd file (in place) */
    size_t map_len;
    void *owned; /* voxels inflated or byte-swapped into memory (not in place) */
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

/* A gzip file (gzip.c), mapped and inflated in order with every check of
 * `gzip -t`: each member's header, its deflate data, its CRC-32 and ISIZE;
 * members concatenate; only zero padding may follow the last.  Errors:
 * -ENODATA the file ends inside a member (truncated), -EILSEQ bad deflate
 * data or gzip framing, trailing bytes that are not a member (corrupt),
 * -EBADMSG a member's CRC-32 or ISIZE does not match its data (corrupt). */
struct gz_in {
    const uint8_t *buf; /* the whole compressed file */
    size_t len, pos;
    z_stream zs;
    bool in_member;
    uint32_t crc, isize; /* of the current member's output so far */
};
/* True when the len bytes at p start a gzip member (ID, deflate, flags). */
bool gz_magic(const uint8_t *p, size_t len);
/* The same, or (len < 4) they are the start of one cut short. */
bool gz_prefix(const uint8_t *p, size_t len);
/* Reads the len compressed bytes at buf (which must outlive g).  0 or
 * -ENOMEM; gz_end() frees the inflater. */
int gz_init(struct gz_in *g, const uint8_t *buf, size_t len);
void gz_end(struct gz_in *g);
/* Inflates up to len bytes into dst; *got < len only where the last member
 * ended cleanly.  0 or an error above. */
int gz_pull(struct gz_in *g, void *dst, size_t len, size_t *got);
/* Exactly len bytes into dst; -ENODATA when the data ends first. */
int gz_read(struct gz_in *g, void *dst, size_t len);
/* Inflates and drops up to len bytes (UINT64_MAX: to the end, every check
 * made), *skipped the bytes dropped.  0 or an error above. */
int gz_skip(struct gz_in *g, uint64_t len, uint64_t *skipped);

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
