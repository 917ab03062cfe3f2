/* test_io.c - volumes in and out: NIfTI-1 (mapped in place, or inflated
 * from .nii.gz), scaling applied on read, raw files, and every malformed
 * input answered with an error; transfer function files good and bad.
 */
#include "zc/base.h"
#include "zc/vol.h"
#include "zc_test.h"

#include <errno.h>
#include <math.h>
#include <nifti1_io.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char dir[4096];

static const char *tmp_path(const char *name)
{
    static char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

/* A NIfTI-1 file of 5x4x3 voxels of datatype dt, voxel i a known function of i. */
static void write_nifti(const char *path, int dt, float slope, float inter)
{
    const int dims[8] = {3, 5, 4, 3, 1, 1, 1, 1};
    nifti_image *nim = nifti_make_new_nim(dims, dt, 1);
    CHECK(nim);
    for (size_t i = 0; i < nim->nvox; i++) {
        switch (dt) {
        case DT_UINT8:
            ((uint8_t *)nim->data)[i] = (uint8_t)(i * 3);
            break;
        case DT_INT16:
            ((int16_t *)nim->data)[i] = (int16_t)(i * 7 - 100);
            break;
        case DT_FLOAT32:
            ((float *)nim->data)[i] = (float)i * 0.25f;
            break;
        default:
            ((double *)nim->data)[i] = (double)i;
        }
    }
    nim->scl_slope = slope;
    nim->scl_inter = inter;
    nim->pixdim[1] = nim->dx = 1.5f;
    nim->pixdim[2] = nim->dy = 2.0f;
    nim->pixdim[3] = nim->dz = 0.5f;
    CHECK(nifti_set_filenames(nim, path, 0, 1) == 0);
    nifti_image_write(nim);
    nifti_image_free(nim);
}

static void test_nifti_u8_in_place(void)
{
    const char *p = tmp_path("a.nii");
    write_nifti(p, DT_UINT8, 0, 0);
    struct zc_vol *v;
    CHECK_OK(zc_vol_open_nifti(&v, p));
    CHECK(zc_vol_in_place(v));
    unsigned d[3];
    float sp[3], lo, hi;
    zc_vol_dims(v, d);
    zc_vol_spacing(v, sp);
    CHECK(d[0] == 5 && d[1] == 4 && d[2] == 3);
    CHECK(sp[0] == 1.5f && sp[1] == 2.0f && sp[2] == 0.5f);
    CHECK_EQ(zc_vol_bytes(v), 60);
    CHECK(zc_vol_voxel(v, 2, 1, 1) == (float)((1 * 20 + 1 * 5 + 2) * 3));
    zc_vol_range(v, &lo, &hi);
    CHECK(lo == 0 && hi == 177);
    zc_vol_close(v);
}

static void test_nifti_scaled(void)
{
    const char *p = tmp_path("b.nii");
    write_nifti(p, DT_INT16, 2.0f, -5.0f);
    struct zc_vol *v;
    CHECK_OK(zc_vol_open_nifti(&v, p));
    CHECK(zc_vol_in_place(v));
    CHECK(zc_vol_voxel(v, 0, 0, 0) == -100 * 2.0f - 5.0f);
    CHECK(zc_vol_voxel(v, 4, 3, 2) == (59 * 7 - 100) * 2.0f - 5.0f);
    float lo, hi;
    zc_vol_range(v, &lo, &hi);
    CHECK(lo == -205 && hi == (59 * 7 - 100) * 2.0f - 5.0f);
    zc_vol_close(v);

    /* Negative slope: the range is still lo <= hi. */
    write_nifti(p, DT_FLOAT32, -1.0f, 0);
    CHECK_OK(zc_vol_open_nifti(&v, p));
    zc_vol_range(v, &lo, &hi);
    CHECK(lo == -59 * 0.25f && hi == 0);
    zc_vol_close(v);
}

static void test_nifti_gz(void)
{
    const char *p = tmp_path("c.nii.gz");
    write_nifti(p, DT_UINT8, 0, 0);
    struct zc_vol *v;
    CHECK_OK(zc_vol_open_nifti(&v, p));
    CHECK(!zc_vol_in_place(v));
    CHECK(zc_vol_voxel(v, 4, 3, 2) == 59 * 3);
    zc_vol_close(v);
}

static void test_nifti_bad(void)
{
    struct zc_vol *v;
    CHECK_EQ(zc_vol_open_nifti(&v, tmp_path("missing.nii")), -ENOENT);

    const char *p = tmp_path("garbage.nii");
    FILE *f = fopen(p, "wb");
    CHECK(f);
    for (int i = 0; i < 400; i++)
        fputc(i * 37, f);
    fclose(f);
    CHECK(zc_vol_open_nifti(&v, p) < 0);

    /* A good header whose voxels were cut off. */
    p = tmp_path("short.nii");
    write_nifti(p, DT_FLOAT32, 0, 0);
    CHECK_OK(truncate(p, 352 + 100));
    CHECK_EQ(zc_vol_open_nifti(&v, p), -ENODATA);

    /* A compressed header that claims 4 GB: refused as truncated before any
     * allocation. */
    p = tmp_path("huge.nii.gz");
    const int small[8] = {3, 2, 2, 2, 1, 1, 1, 1};
    nifti_image *nim = nifti_make_new_nim(small, DT_FLOAT32, 1);
    CHECK(nim);
    nifti_1_header h = nifti_convert_nim2nhdr(nim);
    nifti_image_free(nim);
    h.dim[1] = h.dim[2] = h.dim[3] = 1024;
    gzFile gz = gzopen(p, "wb");
    CHECK(gz);
    const char ext[4] = {0}, body[64] = {0};
    CHECK(gzwrite(gz, &h, sizeof(h)) == (int)sizeof(h));
    CHECK(gzwrite(gz, ext, sizeof(ext)) == (int)sizeof(ext));
    CHECK(gzwrite(gz, body, sizeof(body)) == (int)sizeof(body));
    CHECK(gzclose(gz) == Z_OK);
    CHECK_EQ(zc_vol_open_nifti(&v, p), -ENODATA);

    /* A type the sampler does not know. */
    p = tmp_path("f64.nii");
    write_nifti(p, DT_FLOAT64, 0, 0);
    CHECK_EQ(zc_vol_open_nifti(&v, p), -ENOTSUP);
}

static void test_raw(void)
{
    const char *p = tmp_path("v.raw");
    uint16_t vox[4 * 3 * 2];
    for (int i = 0; i < 24; i++)
        vox[i] = (uint16_t)(1000 + i);
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(vox, sizeof(vox), 1, f) == 1);
    fclose(f);
    struct zc_vol *v;
    const unsigned dims[3] = {4, 3, 2}, big[3] = {4, 3, 3}, zero[3] = {4, 0, 2};
    CHECK_OK(zc_vol_open_raw(&v, p, dims, ZC_VOL_U16));
    CHECK(zc_vol_in_place(v));
    CHECK(zc_vol_voxel(v, 3, 2, 1) == 1023);
    zc_vol_close(v);
    CHECK_EQ(zc_vol_open_raw(&v, p, big, ZC_VOL_U16), -ENODATA);
    CHECK_EQ(zc_vol_open_raw(&v, p, zero, ZC_VOL_U16), -EINVAL);
    CHECK_EQ(zc_vol_open_raw(&v, p, dims, (enum zc_vol_type)9), -EINVAL);
    CHECK_EQ(zc_vol_open_raw(&v, dir, dims, ZC_VOL_U8), -EINVAL); /* a directory */

    enum zc_vol_type t;
    CHECK_OK(zc_vol_type_parse("f32", &t));
    CHECK_EQ(t, ZC_VOL_F32);
    CHECK_EQ(zc_vol_type_parse("f64", &t), -EINVAL);

    const float bad_sp[3] = {1, 0, 1}, nan_sp[3] = {1, NAN, 1};
    CHECK_EQ(zc_vol_wrap(&v, vox, dims, ZC_VOL_U16, bad_sp), -EINVAL);
    CHECK_EQ(zc_vol_wrap(&v, vox, dims, ZC_VOL_U16, nan_sp), -EINVAL);
}

static int parse(struct zc_tf *tf, const char *text, unsigned *line)
{
    return zc_tf_parse(tf, text, strlen(text), line);
}

static void test_tf(void)
{
    struct zc_tf tf;
    unsigned line;
    CHECK_OK(zc_tf_preset(&tf, "mri", 0, 255));
    CHECK(tf.n >= 2 && tf.value[0] == 0 && tf.value[tf.n - 1] == 255);
    CHECK_OK(zc_tf_preset(&tf, "ct", -1000, 3000));
    CHECK(tf.value[0] == -1000);
    CHECK_EQ(zc_tf_preset(&tf, "pet", 0, 1), -EINVAL);

    CHECK_OK(parse(&tf, "# bone\n0 0 0 0 0\n\n  100 1 0.5 0 0.2  # soft\n200 1 1 1 1", &line));
    CHECK_EQ(tf.n, 3);
    CHECK(tf.value[1] == 100 && tf.rgba[1][1] == 0.5f && tf.rgba[2][3] == 1);

    CHECK_EQ(parse(&tf, "0 0 0 0 0\n10 1 1 1 1\n5 1 1 1 1\n", &line), -EINVAL);
    CHECK_EQ(line, 3); /* not increasing */
    CHECK_EQ(parse(&tf, "0 0 0 0 1.5\n", &line), -EINVAL);
    CHECK_EQ(line, 1); /* opacity above 1 */
    CHECK_EQ(parse(&tf, "0 0 0 0\n", &line), -EINVAL);
    CHECK_EQ(parse(&tf, "0 0 0 0 0 0\n", &line), -EINVAL);
    CHECK_EQ(parse(&tf, "nan 0 0 0 0\n", &line), -EINVAL);
    CHECK_EQ(parse(&tf, "1e39 0 0 0 0\n", &line), -EINVAL);
    CHECK_EQ(parse(&tf, "# nothing\n\n", &line), -EINVAL);
    CHECK_EQ(parse(&tf, "", &line), -EINVAL);
    CHECK_EQ(zc_tf_parse(&tf, "0 0 0 0 0\0 1 1 1 1 1", 20, &line), -EINVAL);
    char many[4096] = "";
    for (int i = 0; i <= ZC_TF_MAX_POINTS; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%d 0 0 0 0\n", i);
    CHECK_EQ(parse(&tf, many, &line), -EINVAL);
    char longline[600];
    memset(longline, ' ', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    CHECK_EQ(parse(&tf, longline, &line), -EINVAL);

    const char *p = tmp_path("t.tf");
    FILE *f = fopen(p, "w");
    CHECK(f);
    fputs("0 0 0 0 0\n50 1 1 1 0.5\n", f);
    fclose(f);
    CHECK_OK(zc_tf_load(&tf, p, &line));
    CHECK_EQ(tf.n, 2);
    CHECK_EQ(zc_tf_load(&tf, tmp_path("none.tf"), &line), -ENOENT);
    CHECK_EQ(zc_tf_load(&tf, dir, &line), -EINVAL);
}

int main(void)
{
    const char *tmpdir = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/zc-vol-XXXXXX", tmpdir ? tmpdir : "/tmp");
    CHECK(mkdtemp(dir));
    RUN(test_nifti_u8_in_place);
    RUN(test_nifti_scaled);
    RUN(test_nifti_gz);
    RUN(test_nifti_bad);
    RUN(test_raw);
    RUN(test_tf);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return 0;
}
