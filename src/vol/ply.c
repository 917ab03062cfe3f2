/* ply.c - meshes to binary little-endian PLY.
 *
 * The file is published whole or not at all (zc_fb_write_file: a temporary
 * beside it, renamed into place once complete), so a reader never sees half
 * a mesh.  Values are stored byte by byte in little-endian order whatever
 * the host.
 */
#include "zc/base.h"
#include "zc/fb.h"
#include "zc/vol.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void le32(unsigned char *p, uint32_t x)
{
    p[0] = (unsigned char)x;
    p[1] = (unsigned char)(x >> 8);
    p[2] = (unsigned char)(x >> 16);
    p[3] = (unsigned char)(x >> 24);
}

static void le_float(unsigned char *p, float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof(x));
    le32(p, x);
}

#define CHUNK 2048 /* records encoded per fwrite */

static int write_body(FILE *f, const struct zc_mesh *m)
{
    fprintf(f,
            "ply\nformat binary_little_endian 1.0\ncomment zc marching cubes\n"
            "element vertex %zu\nproperty float x\nproperty float y\nproperty float z\n"
            "property float nx\nproperty float ny\nproperty float nz\n"
            "element face %zu\nproperty list uchar int vertex_indices\nend_header\n",
            m->vertices, m->triangles);
    unsigned char buf[CHUNK * 24];
    for (size_t i0 = 0; i0 < m->vertices; i0 += CHUNK) {
        size_t n = ZC_MIN((size_t)CHUNK, m->vertices - i0);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) {
                le_float(buf + 24 * i + 4 * c, m->pos[(i0 + i) * 3 + c]);
                le_float(buf + 24 * i + 12 + 4 * c, m->normal[(i0 + i) * 3 + c]);
            }
        if (fwrite(buf, 24, n, f) != n)
            return -EIO;
    }
    for (size_t i0 = 0; i0 < m->triangles; i0 += CHUNK) {
        size_t n = ZC_MIN((size_t)CHUNK, m->triangles - i0);
        for (size_t i = 0; i < n; i++) {
            buf[13 * i] = 3;
            for (int c = 0; c < 3; c++)
                le32(buf + 13 * i + 1 + 4 * c, m->tri[(i0 + i) * 3 + c]);
        }
        if (fwrite(buf, 13, n, f) != n)
            return -EIO;
    }
    return 0;
}

static int fill_ply(FILE *f, void *arg)
{
    return write_body(f, arg);
}

int zc_mesh_write_ply(const struct zc_mesh *mesh, const char *path)
{
    return zc_fb_write_file(path, fill_ply, (void *)mesh);
}
