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

static int write_body(FILE *f, const struct zc_mesh *m)
{
    fprintf(f,
            "ply\nformat binary_little_endian 1.0\ncomment zc marching cubes\n"
            "element vertex %zu\nproperty float x\nproperty float y\nproperty float z\n"
            "property float nx\nproperty float ny\nproperty float nz\n"
            "element face %zu\nproperty list uchar int vertex_indices\nend_header\n",
            m->vertices, m->triangles);
    unsigned char rec[24];
    for (size_t i = 0; i < m->vertices; i++) {
        for (int c = 0; c < 3; c++) {
            le_float(rec + 4 * c, m->pos[i * 3 + c]);
            le_float(rec + 12 + 4 * c, m->normal[i * 3 + c]);
        }
        if (fwrite(rec, sizeof(rec), 1, f) != 1)
            return -EIO;
    }
    for (size_t i = 0; i < m->triangles; i++) {
        rec[0] = 3;
        for (int c = 0; c < 3; c++)
            le32(rec + 1 + 4 * c, m->tri[i * 3 + c]);
        if (fwrite(rec, 13, 1, f) != 1)
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
