/* test_gzip.c - a damaged .nii.gz never opens: cut at ten points, a byte
 * flipped at ten points of its deflate data, a wrong CRC-32 or ISIZE,
 * garbage after it, a cut .nii or 4-D file; while what gzip itself accepts
 * (concatenated members, optional header fields, zero padding) opens and
 * reads the same voxels.  On a generated volume of a few MB, and on ch2 from
 * mricron-data when it is installed.
 */
#include "zc/vol.h"
#include "zc_test.h"

#include <errno.h>
#include <nifti1_io.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define CH2      "/usr/share/mricron/templates/ch2.nii.gz"
#define FHCRC    0x02
#define FEXTRA   0x04
#define FNAME    0x08
#define FCOMMENT 0x10

static char dir[4096];

struct buf {
    uint8_t *p;
    size_t len;
};

static const char *tmp_path(const char *name)
{
    static char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static void put(struct buf *b, const void *p, size_t len)
{
    b->p = realloc(b->p, b->len + len);
    CHECK(b->p);
    memcpy(b->p + b->len, p, len);
    b->len += len;
}

static void put_le32(struct buf *b, uint32_t x)
{
    const uint8_t le[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
    put(b, le, sizeof(le));
}

static struct buf slurp(const char *path)
{
    struct buf b = {0};
    FILE *f = fopen(path, "rb");
    CHECK(f);
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        put(&b, chunk, n);
    fclose(f);
    return b;
}

static void spill(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* One gzip member of data, its header written by hand with the optional
 * fields flags asks for, its trailer from zlib's CRC-32; *deflate_at gets
 * the offset of the deflate data in b. */
static void gzip_member(struct buf *b, const uint8_t *data, size_t len, uint8_t flags,
                        size_t *deflate_at)
{
    size_t start = b->len;
    const uint8_t fixed[10] = {0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3};
    put(b, fixed, sizeof(fixed));
    if (flags & FEXTRA)
        put(b, "\x04\x00zc01", 6);
    if (flags & FNAME)
        put(b, "vol.nii", 8);
    if (flags & FCOMMENT)
        put(b, "a test volume", 14);
    if (flags & FHCRC) {
        uint32_t crc = (uint32_t)crc32(0, b->p + start, (uInt)(b->len - start));
        const uint8_t h[2] = {(uint8_t)crc, (uint8_t)(crc >> 8)};
        put(b, h, 2);
    }
    if (deflate_at)
        *deflate_at = b->len;
    z_stream zs = {0};
    CHECK(deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    uLong bound = deflateBound(&zs, (uLong)len);
    uint8_t *out = malloc(bound);
    CHECK(out);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)bound;
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    put(b, out, zs.total_out);
    deflateEnd(&zs);
    free(out);
    put_le32(b, (uint32_t)crc32(0, data, (uInt)len));
    put_le32(b, (uint32_t)len);
}

/* A NIfTI-1 file in memory: nx x ny x nz (x nt) int16 voxels, a smooth
 * field with a little noise (so that it compresses like a scan). */
static struct buf make_nii(int nx, int ny, int nz, int nt)
{
    const int dims[8] = {nt > 1 ? 4 : 3, nx, ny, nz, nt, 1, 1, 1};
    nifti_image *nim = nifti_make_new_nim(dims, DT_INT16, 1);
    CHECK(nim);
    uint32_t seed = 12345;
    int16_t *v = nim->data;
    for (size_t i = 0; i < nim->nvox; i++) {
        seed = seed * 1664525u + 1013904223u;
        int x = (int)(i % (size_t)nx), y = (int)(i / (size_t)nx % (size_t)ny);
        v[i] = (int16_t)(x * 7 + y * 3 + (int)(seed >> 28));
    }
    const char *p = tmp_path("gen.nii");
    CHECK(nifti_set_filenames(nim, p, 0, 1) == 0);
    nifti_image_write(nim);
    nifti_image_free(nim);
    struct buf b = slurp(p);
    unlink(p);
    return b;
}

/* Writes p[0, len) as name and opens it; the error (or 0, closing it). */
static int open_bytes(const char *name, const uint8_t *p, size_t len)
{
    const char *path = tmp_path(name);
    spill(path, p, len);
    struct zc_vol *v;
    int err = zc_vol_open_nifti(&v, path);
    if (err == 0)
        zc_vol_close(v);
    unlink(path);
    return err;
}

/* nii written as name and opened, to compare against. */
static struct zc_vol *open_plain(const struct buf *nii, const char *name)
{
    spill(tmp_path(name), nii->p, nii->len);
    struct zc_vol *v;
    CHECK_OK(zc_vol_open_nifti(&v, tmp_path(name)));
    return v;
}

/* Cut at ten points over the whole file (header, deflate data, trailer):
 * each is truncated.  A flipped byte at ten points of the deflate data:
 * each truncated or corrupt, never opened. */
static void damage_ten_ways(const struct buf *gz, size_t deflate_at)
{
    static const size_t head[4] = {1, 5, 10, 200};
    for (int i = 0; i < 10; i++) {
        size_t cut = i < 4 ? head[i] : i < 9 ? gz->len * (size_t)(i - 3) / 6 : gz->len - 1;
        CHECK_EQ(open_bytes("cut.nii.gz", gz->p, cut), -ENODATA);
    }
    uint8_t *copy = malloc(gz->len);
    CHECK(copy);
    size_t span = gz->len - 8 - deflate_at;
    for (int i = 0; i < 10; i++) {
        size_t at = deflate_at + span * (size_t)i / 10 + 7;
        memcpy(copy, gz->p, gz->len);
        copy[at] ^= 0x10;
        int err = open_bytes("flip.nii.gz", copy, gz->len);
        CHECK(err == -EILSEQ || err == -EBADMSG || err == -ENODATA);
    }
    free(copy);
}

static void test_generated(void)
{
    struct buf nii = make_nii(160, 160, 80, 1); /* 4 MB */
    struct buf gz = {0};
    size_t deflate_at;
    gzip_member(&gz, nii.p, nii.len, 0, &deflate_at);
    CHECK(gz.len > (1u << 20));
    CHECK_EQ(open_bytes("whole.nii.gz", gz.p, gz.len), 0);
    damage_ten_ways(&gz, deflate_at);

    /* The trailer: CRC-32, then ISIZE, each wrong by one bit. */
    gz.p[gz.len - 8] ^= 1;
    CHECK_EQ(open_bytes("crc.nii.gz", gz.p, gz.len), -EBADMSG);
    gz.p[gz.len - 8] ^= 1;
    gz.p[gz.len - 4] ^= 1;
    CHECK_EQ(open_bytes("isize.nii.gz", gz.p, gz.len), -EBADMSG);
    gz.p[gz.len - 4] ^= 1;

    /* After the member: zeros are padding, anything else is corrupt, the
     * start of a member that ends early is truncated. */
    struct buf tail = {0};
    put(&tail, gz.p, gz.len);
    put(&tail, "\0\0\0\0\0\0\0\0", 8);
    CHECK_EQ(open_bytes("zeros.nii.gz", tail.p, tail.len), 0);
    put(&tail, "junk", 4);
    CHECK_EQ(open_bytes("junk.nii.gz", tail.p, tail.len), -EILSEQ);
    tail.len = gz.len;
    put(&tail, "\x1f\x8b\x08\x00", 4);
    CHECK_EQ(open_bytes("half.nii.gz", tail.p, tail.len), -ENODATA);
    free(tail.p);
    free(gz.p);
    free(nii.p);
}

/* What gzip accepts opens, with the same voxels as the plain file. */
static void test_gzip_variants(void)
{
    struct buf nii = make_nii(40, 30, 20, 1);
    struct zc_vol *ref = open_plain(&nii, "plain.nii");
    CHECK(zc_vol_in_place(ref));

    struct buf gz = {0};
    size_t half = nii.len / 2 + 3; /* members split inside the header would do too */
    gzip_member(&gz, nii.p, 100, FNAME | FHCRC, NULL);
    gzip_member(&gz, nii.p + 100, half - 100, FEXTRA | FCOMMENT, NULL);
    gzip_member(&gz, nii.p + half, nii.len - half, 0, NULL);
    gzip_member(&gz, nii.p, 0, 0, NULL); /* an empty member */
    const char *p = tmp_path("members.nii.gz");
    spill(p, gz.p, gz.len);
    struct zc_vol *v;
    CHECK_OK(zc_vol_open_nifti(&v, p));
    CHECK(!zc_vol_in_place(v));
    for (unsigned k = 0; k < 20; k += 7)
        for (unsigned j = 0; j < 30; j += 5)
            for (unsigned i = 0; i < 40; i += 3)
                CHECK(zc_vol_voxel(v, i, j, k) == zc_vol_voxel(ref, i, j, k));
    zc_vol_close(v);

    /* A header CRC that does not match its header. */
    gz.p[10 + 8] ^= 0xff;
    CHECK_EQ(open_bytes("hcrc.nii.gz", gz.p, gz.len), -EILSEQ);
    zc_vol_close(ref);
    free(gz.p);
    free(nii.p);
}

/* A .nii is checked against the size its header implies: every volume. */
static void test_plain_sizes(void)
{
    struct buf nii = make_nii(20, 20, 10, 3);
    CHECK_EQ(open_bytes("4d.nii", nii.p, nii.len), 0);
    CHECK_EQ(open_bytes("4d-cut.nii", nii.p, nii.len - 1), -ENODATA);
    CHECK_EQ(open_bytes("hdr-cut.nii", nii.p, 200), -ENODATA);
    CHECK_EQ(open_bytes("empty.nii", nii.p, 0), -ENODATA);
    put(&nii, "more", 4);
    CHECK_EQ(open_bytes("longer.nii", nii.p, nii.len), 0);

    /* The same cut inside a whole gzip stream. */
    struct buf gz = {0};
    gzip_member(&gz, nii.p, nii.len - 4 - 2, 0, NULL);
    CHECK_EQ(open_bytes("4d-cut.nii.gz", gz.p, gz.len), -ENODATA);
    free(gz.p);
    free(nii.p);
}

/* The other byte order, plain and compressed: the same values. */
static void test_swapped(void)
{
    struct buf nii = make_nii(12, 10, 8, 1);
    struct zc_vol *ref = open_plain(&nii, "native.nii"), *v;
    nifti_1_header h;
    memcpy(&h, nii.p, sizeof(h));
    size_t off = (size_t)h.vox_offset;
    swap_nifti_header(&h, 1);
    memcpy(nii.p, &h, sizeof(h));
    nifti_swap_2bytes((nii.len - off) / 2, nii.p + off);
    v = open_plain(&nii, "swapped.nii");
    CHECK(!zc_vol_in_place(v));
    CHECK(zc_vol_voxel(v, 11, 9, 7) == zc_vol_voxel(ref, 11, 9, 7));
    CHECK(zc_vol_voxel(v, 3, 2, 1) == zc_vol_voxel(ref, 3, 2, 1));
    zc_vol_close(v);
    struct buf gz = {0};
    gzip_member(&gz, nii.p, nii.len, 0, NULL);
    const char *p = tmp_path("swapped.nii.gz");
    spill(p, gz.p, gz.len);
    CHECK_OK(zc_vol_open_nifti(&v, p));
    CHECK(zc_vol_voxel(v, 11, 9, 7) == zc_vol_voxel(ref, 11, 9, 7));
    zc_vol_close(v);
    zc_vol_close(ref);

    /* Compressed bytes are never taken for raw voxels. */
    const unsigned dims[3] = {4, 4, 4};
    CHECK_EQ(zc_vol_open_raw(&v, p, dims, ZC_VOL_U8), -ENOTSUP);
    free(gz.p);
    free(nii.p);
}

/* A real scan, when installed: the same ten cuts and ten flips, a bad CRC. */
static void test_ch2(void)
{
    if (access(CH2, R_OK) != 0) {
        fprintf(stderr, "  (mricron-data not installed: ch2 skipped)\n");
        return;
    }
    struct buf gz = slurp(CH2);
    CHECK_EQ(open_bytes("ch2.nii.gz", gz.p, gz.len), 0);
    CHECK(gz.p[3] == 0 || gz.p[3] == FNAME);
    size_t deflate_at = 10;
    if (gz.p[3] & FNAME)
        deflate_at += strlen((const char *)gz.p + 10) + 1;
    damage_ten_ways(&gz, deflate_at);
    gz.p[gz.len - 6] ^= 0x40;
    CHECK_EQ(open_bytes("ch2-crc.nii.gz", gz.p, gz.len), -EBADMSG);
    free(gz.p);
}

static void test_messages(void)
{
    CHECK(strstr(zc_vol_strerror(-ENODATA), "truncated") != NULL);
    CHECK(strstr(zc_vol_strerror(-EILSEQ), "corrupt") != NULL);
    CHECK(strstr(zc_vol_strerror(-EBADMSG), "CRC") != NULL);
    CHECK(strcmp(zc_vol_strerror(-ENOENT), "No such file or directory") == 0);
}

int main(void)
{
    const char *tmpdir = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/zc-gzip-XXXXXX", tmpdir ? tmpdir : "/tmp");
    CHECK(mkdtemp(dir));
    RUN(test_generated);
    RUN(test_gzip_variants);
    RUN(test_plain_sizes);
    RUN(test_swapped);
    RUN(test_ch2);
    RUN(test_messages);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return 0;
}
