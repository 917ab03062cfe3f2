/* volume.c - volumes as read-only views of voxels where they already are.
 *
 * An uncompressed NIfTI-1 file or a raw file is mmap'd and its voxels are
 * used straight from the page cache: the sampler applies the voxel type and
 * the NIfTI scaling itself, so no converted copy ever exists.  libnifti
 * reads and checks the header; only a .nii.gz (or a file in the other byte
 * order, or with misaligned voxels) is loaded by libnifti into memory, and
 * zc_vol_in_place() says so.  Every size from the header is checked against
 * the file before a voxel is touched.
 */
#include "vol_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define VOL_MAX_DIM 65536

size_t vol_type_size(enum zc_vol_type type)
{
    switch (type) {
    case ZC_VOL_U8:
        return 1;
    case ZC_VOL_I16:
    case ZC_VOL_U16:
        return 2;
    default:
        return 4;
    }
}

int zc_vol_type_parse(const char *s, enum zc_vol_type *type)
{
    static const struct {
        const char *name;
        enum zc_vol_type type;
    } names[] = {{"u8", ZC_VOL_U8}, {"i16", ZC_VOL_I16}, {"u16", ZC_VOL_U16}, {"f32", ZC_VOL_F32}};
    for (size_t i = 0; i < ZC_ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i].name) == 0) {
            *type = names[i].type;
            return 0;
        }
    return -EINVAL;
}

/* A volume with checked dims (each in [1, 65536]) and unit scaling. */
static int vol_new(struct zc_vol **out, const unsigned dims[3], enum zc_vol_type type)
{
    if ((unsigned)type > ZC_VOL_F32)
        return -EINVAL;
    for (int a = 0; a < 3; a++)
        if (dims[a] < 1 || dims[a] > VOL_MAX_DIM)
            return -EINVAL;
    struct zc_vol *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->type = type;
    memcpy(v->dims, dims, sizeof(v->dims));
    v->nvox = (size_t)dims[0] * dims[1] * dims[2];
    v->spacing[0] = v->spacing[1] = v->spacing[2] = 1.0f;
    v->slope = 1.0f;
    *out = v;
    return 0;
}

/* Maps len bytes of path from offset 0; the file must hold at least need. */
static int map_file(struct zc_vol *v, const char *path, size_t need)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < need || need == 0) {
        close(fd);
        return -EINVAL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = map == MAP_FAILED ? -errno : 0;
    close(fd);
    if (err)
        return err;
    v->map = map;
    v->map_len = (size_t)st.st_size;
    return 0;
}

int zc_vol_open_raw(struct zc_vol **out, const char *path, const unsigned dims[3],
                    enum zc_vol_type type)
{
    struct zc_vol *v;
    int err = vol_new(&v, dims, type);
    if (err)
        return err;
    err = map_file(v, path, v->nvox * vol_type_size(type));
    if (err) {
        free(v);
        return err;
    }
    v->voxels = v->map;
    *out = v;
    return 0;
}

int zc_vol_wrap(struct zc_vol **out, const void *voxels, const unsigned dims[3],
                enum zc_vol_type type, const float spacing[3])
{
    struct zc_vol *v;
    int err = vol_new(&v, dims, type);
    if (err)
        return err;
    for (int a = 0; a < 3 && spacing; a++) {
        if (!(spacing[a] > 0) || !isfinite(spacing[a])) {
            free(v);
            return -EINVAL;
        }
        v->spacing[a] = spacing[a];
    }
    v->voxels = voxels;
    *out = v;
    return 0;
}

static int nifti_type(int datatype, enum zc_vol_type *type)
{
    switch (datatype) {
    case DT_UINT8:
        *type = ZC_VOL_U8;
        return 0;
    case DT_INT16:
        *type = ZC_VOL_I16;
        return 0;
    case DT_UINT16:
        *type = ZC_VOL_U16;
        return 0;
    case DT_FLOAT32:
        *type = ZC_VOL_F32;
        return 0;
    default:
        return -ENOTSUP;
    }
}

/* Checks the header libnifti read and fills v's geometry and scaling. */
static int from_header(struct zc_vol **out, const nifti_image *nim)
{
    enum zc_vol_type type;
    int err = nifti_type(nim->datatype, &type);
    if (err)
        return err;
    if (nim->ndim < 1 || nim->nx < 1 || nim->ny < 1 || nim->nz < 1 || nim->nx > VOL_MAX_DIM ||
        nim->ny > VOL_MAX_DIM || nim->nz > VOL_MAX_DIM ||
        (size_t)nim->nbyper != vol_type_size(type))
        return -EINVAL;
    const unsigned dims[3] = {(unsigned)nim->nx, (unsigned)nim->ny, (unsigned)nim->nz};
    err = vol_new(out, dims, type);
    if (err)
        return err;
    struct zc_vol *v = *out;
    const float d[3] = {nim->dx, nim->dy, nim->dz};
    for (int a = 0; a < 3; a++)
        v->spacing[a] = isfinite(d[a]) && d[a] > 1e-6f && d[a] < 1e6f ? d[a] : 1.0f;
    if (isfinite(nim->scl_slope) && nim->scl_slope != 0 && isfinite(nim->scl_inter)) {
        v->slope = nim->scl_slope;
        v->inter = nim->scl_inter;
    }
    return 0;
}

/* The header's first fields, read into private memory and checked before
 * libnifti sees the file (it would print its own complaints): its size
 * field says 348 in one byte order or the other, and dim[0] is 1..7.  A
 * path that does not open as given is left to libnifti (it completes
 * extensions). */
static int check_header(const char *path)
{
    znzFile z = znzopen(path, "rb", nifti_is_gzfile(path));
    if (znz_isnull(z))
        return 0;
    nifti_1_header h;
    size_t n = znzread(&h, 1, sizeof(h), z);
    znzclose(z);
    if (n != sizeof(h))
        return -EINVAL;
    int size = h.sizeof_hdr;
    short ndim = h.dim[0];
    if (size != 348) {
        size = (int)__builtin_bswap32((uint32_t)size);
        ndim = (short)__builtin_bswap16((uint16_t)ndim);
    }
    return size == 348 && ndim >= 1 && ndim <= 7 ? 0 : -EINVAL;
}

int zc_vol_open_nifti(struct zc_vol **out, const char *path)
{
    nifti_set_debug_level(0);
    int hdr = check_header(path);
    if (hdr)
        return hdr;
    nifti_image *nim = nifti_image_read(path, 0);
    if (!nim)
        return access(path, R_OK) != 0 ? -errno : -EINVAL;
    struct zc_vol *v = NULL;
    int err = from_header(&v, nim);
    if (err)
        goto fail;
    size_t bytes = v->nvox * vol_type_size(v->type);
    bool native = nim->byteorder == nifti_short_order() || v->type == ZC_VOL_U8;
    bool one_file = nim->iname && nim->fname && strcmp(nim->iname, nim->fname) == 0;
    if (!nifti_is_gzfile(nim->iname) && native && one_file && nim->iname_offset >= 0 &&
        (size_t)nim->iname_offset % vol_type_size(v->type) == 0) {
        err = map_file(v, nim->iname, (size_t)nim->iname_offset + bytes);
        if (err)
            goto fail;
        v->voxels = (const uint8_t *)v->map + nim->iname_offset;
        nifti_image_free(nim);
    } else {
        /* libnifti allocates what the header claims before reading: first
         * make sure the file can hold it (deflate inflates at most 1032:1). */
        struct stat st;
        uint64_t want = (uint64_t)nim->nvox * (uint64_t)nim->nbyper;
        uint64_t ratio = nifti_is_gzfile(nim->iname) ? 1032 : 1;
        if (stat(nim->iname, &st) != 0 || nim->iname_offset < 0 ||
            want / ratio + (uint64_t)nim->iname_offset / ratio > (uint64_t)st.st_size) {
            err = -EINVAL;
            goto fail;
        }
        if (nifti_image_load(nim) != 0 || !nim->data) {
            err = -EINVAL;
            goto fail;
        }
        v->nim = nim;
        v->voxels = nim->data;
    }
    *out = v;
    return 0;
fail:
    free(v);
    nifti_image_free(nim);
    return err;
}

void zc_vol_close(struct zc_vol *v)
{
    if (!v)
        return;
    if (v->map)
        munmap(v->map, v->map_len);
    if (v->nim)
        nifti_image_free(v->nim);
    free(v->cells);
    free(v);
}

void zc_vol_dims(const struct zc_vol *v, unsigned dims[3])
{
    memcpy(dims, v->dims, sizeof(v->dims));
}

void zc_vol_spacing(const struct zc_vol *v, float spacing[3])
{
    memcpy(spacing, v->spacing, sizeof(v->spacing));
}

size_t zc_vol_bytes(const struct zc_vol *v)
{
    return v->nvox * vol_type_size(v->type);
}

bool zc_vol_in_place(const struct zc_vol *v)
{
    return v->nim == NULL;
}

float zc_vol_voxel(const struct zc_vol *v, unsigned i, unsigned j, unsigned k)
{
    size_t idx = ((size_t)k * v->dims[1] + j) * v->dims[0] + i;
    return vol_raw(v, idx) * v->slope + v->inter;
}

/* Smallest and largest unscaled voxel, the type a constant in each copy
 * (so the loop vectorizes). */
#define RANGE_OF(T)                                                                                \
    do {                                                                                           \
        const T *p = v->voxels;                                                                    \
        T a = p[0], b = p[0];                                                                      \
        for (size_t i = 1; i < v->nvox; i++) {                                                     \
            a = p[i] < a ? p[i] : a;                                                               \
            b = p[i] > b ? p[i] : b;                                                               \
        }                                                                                          \
        *lo = (float)a;                                                                            \
        *hi = (float)b;                                                                            \
    } while (0)

static void raw_range(const struct zc_vol *v, float *lo, float *hi)
{
    switch (v->type) {
    case ZC_VOL_U8:
        RANGE_OF(uint8_t);
        break;
    case ZC_VOL_I16:
        RANGE_OF(int16_t);
        break;
    case ZC_VOL_U16:
        RANGE_OF(uint16_t);
        break;
    default: {
        /* NaN and infinities are left out: they have no place on a scale. */
        const float *p = v->voxels;
        float a = INFINITY, b = -INFINITY;
        for (size_t i = 0; i < v->nvox; i++)
            if (isfinite(p[i])) {
                a = p[i] < a ? p[i] : a;
                b = p[i] > b ? p[i] : b;
            }
        *lo = a;
        *hi = b;
    }
    }
}

void zc_vol_range(struct zc_vol *v, float *lo, float *hi)
{
    if (!v->range_known) {
        float a, b;
        raw_range(v, &a, &b);
        if (!(a <= b))
            a = b = 0;
        float s0 = a * v->slope + v->inter, s1 = b * v->slope + v->inter;
        v->lo = ZC_MIN(s0, s1);
        v->hi = ZC_MAX(s0, s1);
        v->range_known = true;
    }
    *lo = v->lo;
    *hi = v->hi;
}
