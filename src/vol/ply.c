/* ply.c - meshes to binary little-endian PLY.
 *
 * Written through zc_output: a regular file is published whole or not at
 * all (a temporary beside it, renamed into place once complete), so a
 * reader never sees half a mesh; a FIFO or a device is written through.  Values are stored byte by
 * byte in little-endian order whatever the host.
 */
#include "zc/base.h"
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

#define CHUNK 2048 /* records encoded per write */

static int write_header(struct zc_output *out, const struct zc_mesh *m)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "ply\nformat binary_little_endian 1.0\ncomment zc marching cubes\n"
                     "element vertex %zu\nproperty float x\nproperty float y\nproperty float z\n"
                     "property float nx\nproperty float ny\nproperty float nz\n"
                     "element face %zu\nproperty list uchar int vertex_indices\nend_header\n",
                     m->vertices, m->triangles);
    return zc_output_write(out, head, (size_t)n);
}

int zc_mesh_ply_to_output(const struct zc_mesh *m, struct zc_output *out)
{
    int err = write_header(out, m);
    unsigned char buf[CHUNK * 24];
    for (size_t i0 = 0; !err && i0 < m->vertices; i0 += CHUNK) {
        size_t n = ZC_MIN((size_t)CHUNK, m->vertices - i0);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) {
                le_float(buf + 24 * i + 4 * c, m->pos[(i0 + i) * 3 + c]);
                le_float(buf + 24 * i + 12 + 4 * c, m->normal[(i0 + i) * 3 + c]);
            }
        err = zc_output_write(out, buf, 24 * n);
    }
    for (size_t i0 = 0; !err && i0 < m->triangles; i0 += CHUNK) {
        size_t n = ZC_MIN((size_t)CHUNK, m->triangles - i0);
        for (size_t i = 0; i < n; i++) {
            buf[13 * i] = 3;
            for (int c = 0; c < 3; c++)
                le32(buf + 13 * i + 1 + 4 * c, m->tri[(i0 + i) * 3 + c]);
        }
        err = zc_output_write(out, buf, 13 * n);
    }
    return err;
}

int zc_mesh_write_ply(const struct zc_mesh *mesh, const char *path)
{
    struct zc_output out;
    int err = zc_output_open(&out, path);
    if (!err)
        err = zc_mesh_ply_to_output(mesh, &out);
    if (err) {
        zc_output_abort(&out);
        return err;
    }
    return zc_output_commit(&out);
}
