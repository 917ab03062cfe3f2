/* volume.c - volumes as read-only views of voxels where they already are.
 *
 * An uncompressed NIfTI-1 file or a raw file is mmap'd and its voxels are
 * used straight from the page cache: the sampler applies the voxel type and
 * the NIfTI scaling itself, so no converted copy ever exists.  libnifti
 * reads and checks the header; only a .nii.gz (or a file in the other byte
 * order, or with misaligned voxels) is loaded into memory, and
 * zc_vol_in_place() says so.  Every size from the header is checked against
 * the file before a voxel is touched, and a compressed file is inflated to
 * its end, every gzip check made (gzip.c), before any of it is used: a cut
 * or damaged file fails with its cause, never renders as a partial volume.
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

/* Maps the whole of path, as stored (an empty file maps nothing). */
static int map_file(struct zc_vol *v, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int err = fstat(fd, &st) != 0 ? -errno : 0;
    if (!err && !S_ISREG(st.st_mode))
        err = -EINVAL;
    if (!err && st.st_size > 0) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        err = map == MAP_FAILED ? -errno : 0;
        if (!err) {
            v->map = map;
            v->map_len = (size_t)st.st_size;
        }
    }
    close(fd);
    return err;
}

static void unmap_file(struct zc_vol *v)
{
    if (v->map)
        munmap(v->map, v->map_len);
    v->map = NULL;
    v->map_len = 0;
}

int zc_vol_open_raw(struct zc_vol **out, const char *path, const unsigned dims[3],
                    enum zc_vol_type type)
{
    struct zc_vol *v;
    int err = vol_new(&v, dims, type);
    if (err)
        return err;
    err = map_file(v, path);
    /* Voxels are used as stored: compressed bytes would render as noise. */
    if (!err && gz_magic(v->map, v->map_len))
        err = -ENOTSUP;
    else if (!err && v->map_len < v->nvox * vol_type_size(type))
        err = -ENODATA;
    if (err) {
        unmap_file(v);
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

/* Classifies the first n bytes of a header (h) that ends there: a file
 * that starts as a NIfTI-1 header (its size field says 348) was cut short;
 * anything else is not NIfTI. */
static int short_header(const nifti_1_header *h, size_t n)
{
    if (n < sizeof(h->sizeof_hdr))
        return n ? -EINVAL : -ENODATA;
    int size = h->sizeof_hdr;
    return size == 348 || (int)__builtin_bswap32((uint32_t)size) == 348 ? -ENODATA : -EINVAL;
}

/* Reads the header of the mapped file at buf: inflated when it is gzip, and
 * then (for a header file of its own, magic "ni1") the rest checked too. */
static int header_bytes(const uint8_t *buf, size_t len, nifti_1_header *h)
{
    size_t n = ZC_MIN(len, sizeof(*h));
    memset(h, 0, sizeof(*h));
    if (!gz_prefix(buf, len)) {
        if (n)
            memcpy(h, buf, n);
        return n < sizeof(*h) ? short_header(h, n) : 0;
    }
    struct gz_in g;
    int err = gz_init(&g, buf, len);
    if (!err)
        err = gz_pull(&g, h, sizeof(*h), &n);
    if (!err && n < sizeof(*h))
        err = short_header(h, n);
    uint64_t rest;
    if (!err && memcmp(h->magic, "ni1", 4) == 0)
        err = gz_skip(&g, UINT64_MAX, &rest);
    gz_end(&g);
    return err;
}

/* The header's first fields, read into private memory and checked before
 * libnifti sees the file (it would print its own complaints, and it reads
 * a .gz without checking it): its size field says 348 in one byte order or
 * the other, and dim[0] is 1..7.  A path that does not open as given is
 * left to libnifti (it completes extensions). */
static int check_header(const char *path)
{
    struct zc_vol probe = {0};
    int err = map_file(&probe, path);
    if (err)
        return err == -ENOENT ? 0 : err;
    nifti_1_header h;
    err = header_bytes(probe.map, probe.map_len, &h);
    unmap_file(&probe);
    if (err)
        return err;
    int size = h.sizeof_hdr;
    short ndim = h.dim[0];
    if (size != 348) {
        size = (int)__builtin_bswap32((uint32_t)size);
        ndim = (short)__builtin_bswap16((uint16_t)ndim);
    }
    return size == 348 && ndim >= 1 && ndim <= 7 ? 0 : -EINVAL;
}

/* Bytes of voxels the header says the image file holds after its offset:
 * every volume of every dimension, not only the first that is used. */
static int image_bytes(const nifti_image *nim, uint64_t *bytes)
{
    uint64_t n = (uint64_t)nim->nbyper;
    for (int d = 1; d <= nim->dim[0] && d < 8; d++)
        if (nim->dim[d] < 1 || __builtin_mul_overflow(n, (uint64_t)nim->dim[d], &n))
            return -EINVAL;
    if (nim->iname_offset < 0 || __builtin_add_overflow(n, (uint64_t)nim->iname_offset, &n))
        return -EINVAL;
    *bytes = n - (uint64_t)nim->iname_offset;
    return 0;
}

/* Deflate inflates at most 1032 bytes from one: a header that claims more
 * than that of its file cannot be whole, and is refused before allocation. */
#define DEFLATE_MAX_RATIO 1032

/* Inflates the first volume of a .gz image file into owned memory, and
 * the rest of the file to its end, so that every check is made before a
 * voxel is used. */
static int load_gzip(struct zc_vol *v, uint64_t offset, uint64_t total)
{
    size_t bytes = v->nvox * vol_type_size(v->type);
    if ((offset + total) / DEFLATE_MAX_RATIO > v->map_len)
        return -ENODATA;
    struct gz_in g;
    int err = gz_init(&g, v->map, v->map_len);
    if (err)
        return err;
    v->owned = malloc(bytes);
    uint64_t skipped = 0, rest = 0;
    err = v->owned ? gz_skip(&g, offset, &skipped) : -ENOMEM;
    if (!err && skipped < offset)
        err = -ENODATA;
    if (!err)
        err = gz_read(&g, v->owned, bytes);
    if (!err)
        err = gz_skip(&g, UINT64_MAX, &rest);
    if (!err && rest < total - bytes)
        err = -ENODATA;
    gz_end(&g);
    return err;
}

/* Copies the first volume of a stored image file into owned memory (to
 * be byte-swapped or aligned there). */
static int load_copy(struct zc_vol *v, uint64_t offset)
{
    size_t bytes = v->nvox * vol_type_size(v->type);
    v->owned = malloc(bytes);
    if (!v->owned)
        return -ENOMEM;
    memcpy(v->owned, (const uint8_t *)v->map + offset, bytes);
    return 0;
}

/* The voxels of the image file nim names: mapped in place when they can be
 * used as stored, else inflated or copied into memory (and byte-swapped). */
static int load_voxels(struct zc_vol *v, const nifti_image *nim)
{
    uint64_t total;
    int err = image_bytes(nim, &total);
    if (err)
        return err;
    if (!nim->iname)
        return -EINVAL;
    uint64_t offset = (uint64_t)nim->iname_offset;
    err = map_file(v, nim->iname);
    if (err)
        return err;
    bool native = nim->byteorder == nifti_short_order() || v->type == ZC_VOL_U8;
    bool one_file = nim->fname && strcmp(nim->iname, nim->fname) == 0;
    if (gz_prefix(v->map, v->map_len))
        err = load_gzip(v, offset, total);
    else if (v->map_len < offset + total)
        err = -ENODATA;
    else if (native && one_file && offset % vol_type_size(v->type) == 0)
        v->voxels = (const uint8_t *)v->map + offset;
    else
        err = load_copy(v, offset);
    if (err || !v->owned)
        return err;
    unmap_file(v);
    if (!native)
        nifti_swap_Nbytes(v->nvox, (int)vol_type_size(v->type), v->owned);
    v->voxels = v->owned;
    return 0;
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
    if (!err)
        err = load_voxels(v, nim);
    nifti_image_free(nim);
    if (err) {
        zc_vol_close(v);
        return err;
    }
    *out = v;
    return 0;
}

const char *zc_vol_strerror(int err)
{
    switch (err) {
    case -ENODATA:
        return "truncated: the file ends before the volume its header describes";
    case -EILSEQ:
        return "corrupt: bad deflate data or gzip framing";
    case -EBADMSG:
        return "corrupt: bad CRC-32 or size in the gzip trailer";
    case -ENOTSUP:
        return "not supported: a voxel type other than u8, i16, u16, f32, or compressed bytes "
               "given as raw voxels";
    default:
        return zc_strerror(err);
    }
}

void zc_vol_close(struct zc_vol *v)
{
    if (!v)
        return;
    unmap_file(v);
    free(v->owned);
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
    return v->owned == NULL;
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
