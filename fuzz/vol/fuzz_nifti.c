/* fuzz_nifti.c - any bytes as a NIfTI file, stored and compressed: opening
 * must fail cleanly or give a volume the mesher and the ray caster can walk
 * without reading outside it.
 *
 * Input that starts like gzip (its first byte) is opened as a .nii.gz, so that mutations
 * reach the gzip checks (member headers, deflate data, trailers).  Any
 * other input is opened as a .nii and also gzipped here and opened as a
 * .nii.gz, so that the header and voxel checks run behind a valid stream
 * too; both must then agree: the same error, or the same voxels.
 */
#include "zc/fb.h"
#include "zc/vol.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* Writes data to a new temporary file ending in suffix; 0 or -1. */
static int spill(char *path, size_t cap, const char *suffix, const uint8_t *data, size_t size)
{
    const char *tmpdir = getenv("TMPDIR");
    snprintf(path, cap, "%s/zc-fuzz-XXXXXX%s", tmpdir ? tmpdir : "/tmp", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0)
        return -1;
    ssize_t put = write(fd, data, size);
    close(fd);
    if (put == (ssize_t)size)
        return 0;
    unlink(path);
    return -1;
}

/* Opens data stored as a file ending in suffix: 0 with *v, or the error. */
static int open_as(const char *suffix, const uint8_t *data, size_t size, struct zc_vol **v)
{
    char path[4096];
    if (spill(path, sizeof(path), suffix, data, size) != 0)
        return 1;
    int err = zc_vol_open_nifti(v, path);
    unlink(path);
    return err;
}

/* data in one gzip member (malloc'd into *out); 0 or -1. */
static int gzip_bytes(const uint8_t *data, size_t size, uint8_t **out, size_t *out_len)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 1, Z_DEFLATED, MAX_WBITS + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong bound = deflateBound(&zs, (uLong)size) + 32;
    *out = malloc(bound);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)size;
    zs.next_out = *out;
    zs.avail_out = (uInt)bound;
    int zr = *out ? deflate(&zs, Z_FINISH) : Z_MEM_ERROR;
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (zr == Z_STREAM_END)
        return 0;
    free(*out);
    return -1;
}

/* Meshes and renders a small volume. */
static void walk(struct zc_vol *v)
{
    unsigned d[3];
    zc_vol_dims(v, d);
    if ((uint64_t)d[0] * d[1] * d[2] > 4096)
        return;
    float lo, hi;
    zc_vol_range(v, &lo, &hi);
    struct zc_mesh m;
    if (zc_vol_mesh_extract(v, (lo + hi) / 2, &m) == 0)
        zc_mesh_free(&m);
    struct zc_tf tf;
    struct zc_fb *fb;
    if (zc_tf_preset(&tf, "mri", lo, hi) == 0 && zc_fb_create(&fb, 8, 8, 8) == 0) {
        struct zc_render_opts o = {.tf = &tf, .shade = true, .threads = 1};
        zc_camera_default(&o.camera);
        zc_vol_render(v, fb, &o, NULL);
        zc_fb_destroy(fb);
    }
}

/* The stored and the compressed volume hold the same voxels. */
static void check_same(struct zc_vol *a, struct zc_vol *b)
{
    unsigned da[3], db[3];
    zc_vol_dims(a, da);
    zc_vol_dims(b, db);
    if (memcmp(da, db, sizeof(da)) != 0)
        __builtin_trap();
    uint64_t n = (uint64_t)da[0] * da[1] * da[2];
    for (uint64_t i = 0; i < n && i < 4096; i++) {
        unsigned x = (unsigned)(i % da[0]), y = (unsigned)(i / da[0] % da[1]),
                 z = (unsigned)(i / da[0] / da[1]);
        float fa = zc_vol_voxel(a, x, y, z), fb = zc_vol_voxel(b, x, y, z);
        if (fa != fb && !(fa != fa && fb != fb)) /* NaN equals NaN here */
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zc_vol *v, *gz;
    /* Where the bytes could start a gzip member, stored and compressed
     * differ by design (a cut gzip is truncated, not "not NIfTI"). */
    if (size >= 1 && data[0] == 0x1f) {
        if (open_as(".nii.gz", data, size, &v) == 0) {
            walk(v);
            zc_vol_close(v);
        }
        return 0;
    }
    int err = open_as(".nii", data, size, &v);
    uint8_t *packed;
    size_t packed_len;
    if (gzip_bytes(data, size, &packed, &packed_len) == 0) {
        int gz_err = open_as(".nii.gz", packed, packed_len, &gz);
        free(packed);
        if (gz_err != err && gz_err != 1 && err != 1)
            __builtin_trap();
        if (gz_err == 0 && err == 0)
            check_same(v, gz);
        if (gz_err == 0) {
            walk(gz);
            zc_vol_close(gz);
        }
    }
    if (err == 0) {
        walk(v);
        zc_vol_close(v);
    }
    return 0;
}
