/* test_mc.c - marching cubes: closed, consistently wound surfaces with
 * shared vertices and the right topology on generated volumes; the case
 * table against VTK's triangle counts; vertices on the known surface;
 * normals pointing out; PLY output; the real brain against VTK's count.
 */
#include "gen.h"
#include "zc/base.h"
#include "zc/vol.h"
#include "zc_test.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* vtkMarchingCubes' triangle count for each of the 256 cube cases (corner i
 * at or above the iso-value sets bit i), taken from VTK 9.1 on 2x2x2
 * volumes. */
static const unsigned char vtk_counts[256] = {
    0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 2, 1, 2, 2, 3, 2, 3, 3, 4, 2, 3, 3, 4, 3, 4, 4, 3,
    1, 2, 2, 3, 2, 3, 3, 4, 2, 3, 3, 4, 3, 4, 4, 3, 2, 3, 3, 2, 3, 4, 4, 3, 3, 4, 4, 3, 4, 5, 5, 2,
    1, 2, 2, 3, 2, 3, 3, 4, 2, 3, 3, 4, 3, 4, 4, 3, 2, 3, 3, 4, 3, 4, 4, 5, 3, 4, 4, 5, 4, 5, 5, 4,
    2, 3, 3, 4, 3, 4, 2, 3, 3, 4, 4, 5, 4, 5, 3, 2, 3, 4, 4, 3, 4, 5, 3, 2, 4, 5, 5, 4, 5, 2, 4, 1,
    1, 2, 2, 3, 2, 3, 3, 4, 2, 3, 3, 4, 3, 4, 4, 3, 2, 3, 3, 4, 3, 4, 4, 5, 3, 2, 4, 3, 4, 3, 5, 2,
    2, 3, 3, 4, 3, 4, 4, 5, 3, 4, 4, 5, 4, 5, 5, 4, 3, 4, 4, 3, 4, 5, 5, 4, 4, 3, 5, 2, 5, 4, 2, 1,
    2, 3, 3, 4, 3, 4, 4, 5, 3, 4, 4, 5, 2, 3, 3, 2, 3, 4, 4, 5, 4, 5, 5, 2, 4, 3, 5, 4, 3, 2, 4, 1,
    3, 4, 4, 5, 4, 5, 3, 4, 4, 5, 5, 2, 3, 4, 2, 1, 2, 3, 3, 2, 3, 4, 2, 1, 3, 2, 4, 1, 2, 1, 1, 0};

struct edge {
    uint32_t a, b; /* a < b */
    int dir;       /* +1 when the triangle ran a -> b */
};

static int edge_cmp(const void *x, const void *y)
{
    const struct edge *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    if (p->b != q->b)
        return p->b < q->b ? -1 : 1;
    return 0;
}

static int pos_cmp(const void *x, const void *y)
{
    return memcmp(x, y, 3 * sizeof(float));
}

/* Closed and consistently wound: every edge in exactly two triangles, run
 * once each way.  No vertex twice.  Returns the Euler characteristic. */
static long check_closed(const struct zc_mesh *m)
{
    CHECK(m->triangles > 0);
    size_t ne = m->triangles * 3;
    struct edge *e = malloc(ne * sizeof(*e));
    CHECK(e);
    for (size_t t = 0; t < m->triangles; t++)
        for (int q = 0; q < 3; q++) {
            uint32_t u = m->tri[3 * t + q], w = m->tri[3 * t + (q + 1) % 3];
            CHECK(u < m->vertices && w < m->vertices && u != w);
            e[3 * t + q] = (struct edge){u < w ? u : w, u < w ? w : u, u < w ? 1 : -1};
        }
    qsort(e, ne, sizeof(*e), edge_cmp);
    size_t edges = 0;
    for (size_t i = 0; i < ne; i += 2) {
        CHECK(i + 1 < ne && edge_cmp(&e[i], &e[i + 1]) == 0);
        CHECK(i + 2 >= ne || edge_cmp(&e[i], &e[i + 2]) != 0);
        CHECK(e[i].dir + e[i + 1].dir == 0);
        edges++;
    }
    free(e);
    float *p = malloc(m->vertices * 3 * sizeof(float));
    CHECK(p);
    memcpy(p, m->pos, m->vertices * 3 * sizeof(float));
    qsort(p, m->vertices, 3 * sizeof(float), pos_cmp);
    for (size_t i = 1; i < m->vertices; i++)
        CHECK(pos_cmp(p + 3 * (i - 1), p + 3 * i) != 0);
    free(p);
    return (long)m->vertices - (long)edges + (long)m->triangles;
}

static void test_sphere(void)
{
    const unsigned n = 40;
    const float c = 19.3f, r = 12.0f;
    float *vox = gen_sphere(n, c, r);
    struct zc_vol *v;
    const unsigned dims[3] = {n, n, n};
    CHECK_OK(zc_vol_wrap(&v, vox, dims, ZC_VOL_F32, NULL));
    struct zc_mesh m;
    CHECK_OK(zc_vol_mesh_extract(v, 0, &m));
    CHECK_EQ(check_closed(&m), 2); /* a sphere */
    for (size_t i = 0; i < m.vertices; i++) {
        float d[3], len = 0, dot = 0;
        for (int a = 0; a < 3; a++) {
            d[a] = m.pos[3 * i + a] - c;
            len += d[a] * d[a];
        }
        len = sqrtf(len);
        CHECK(fabsf(len - r) < 0.05f); /* on the surface */
        for (int a = 0; a < 3; a++)
            dot += m.normal[3 * i + a] * d[a] / len;
        CHECK(dot > 0.95f); /* pointing out, to lower values */
    }
    /* Triangles wound with the normals: the face normal points out. */
    for (size_t t = 0; t < m.triangles; t += 97) {
        const float *a = m.pos + 3 * m.tri[3 * t], *b = m.pos + 3 * m.tri[3 * t + 1],
                    *q = m.pos + 3 * m.tri[3 * t + 2];
        float u[3], w[3], nrm[3], out = 0;
        for (int k = 0; k < 3; k++) {
            u[k] = b[k] - a[k];
            w[k] = q[k] - a[k];
        }
        nrm[0] = u[1] * w[2] - u[2] * w[1];
        nrm[1] = u[2] * w[0] - u[0] * w[2];
        nrm[2] = u[0] * w[1] - u[1] * w[0];
        for (int k = 0; k < 3; k++)
            out += nrm[k] * (a[k] - c);
        CHECK(out > 0);
    }
    zc_mesh_free(&m);
    /* An iso-value nothing reaches: an empty mesh, not an error. */
    CHECK_OK(zc_vol_mesh_extract(v, 1000, &m));
    CHECK_EQ(m.triangles, 0);
    CHECK_EQ(m.vertices, 0);
    zc_vol_close(v);
    free(vox);
}

static void test_torus(void)
{
    const unsigned n = 48;
    float *vox = gen_torus(n, 23.6f, 13.0f, 5.0f);
    struct zc_vol *v;
    const unsigned dims[3] = {n, n, n};
    const float sp[3] = {1.0f, 1.5f, 0.8f};
    CHECK_OK(zc_vol_wrap(&v, vox, dims, ZC_VOL_F32, sp));
    struct zc_mesh m;
    CHECK_OK(zc_vol_mesh_extract(v, 0, &m));
    CHECK_EQ(check_closed(&m), 0); /* a torus */
    float hi[3] = {0, 0, 0};
    for (size_t i = 0; i < m.vertices; i++)
        for (int a = 0; a < 3; a++)
            hi[a] = ZC_MAX(hi[a], m.pos[3 * i + a]);
    /* Spacing is applied: the ring reaches 23.6 + 18 voxels along x and y. */
    CHECK(fabsf(hi[0] - 41.6f * 1.0f) < 0.2f);
    CHECK(fabsf(hi[1] - 41.6f * 1.5f) < 0.3f);
    zc_mesh_free(&m);
    zc_vol_close(v);
    free(vox);
}

/* Each of the 256 cases alone in a 2x2x2 volume: VTK's count. */
static void test_cases(void)
{
    for (int c = 0; c < 256; c++) {
        uint8_t vox[8];
        static const int corner[8] = {0, 1, 3, 2, 4, 5, 7, 6}; /* case bit -> x + 2y + 4z */
        for (int i = 0; i < 8; i++)
            vox[corner[i]] = c >> i & 1 ? 10 : 0;
        struct zc_vol *v;
        const unsigned dims[3] = {2, 2, 2};
        CHECK_OK(zc_vol_wrap(&v, vox, dims, ZC_VOL_U8, NULL));
        struct zc_mesh m;
        CHECK_OK(zc_vol_mesh_extract(v, 5, &m));
        if (m.triangles != vtk_counts[c])
            fprintf(stderr, "case %d: %zu triangles, VTK %d\n", c, m.triangles, vtk_counts[c]);
        CHECK_EQ(m.triangles, vtk_counts[c]);
        zc_mesh_free(&m);
        zc_vol_close(v);
    }
}

/* Random fields are full of ambiguous faces: still closed inside. */
static void test_random_closed(void)
{
    const unsigned n = 20;
    float *vox = malloc(n * n * n * sizeof(float));
    CHECK(vox);
    uint32_t s = 12345;
    for (unsigned k = 0; k < n; k++)
        for (unsigned j = 0; j < n; j++)
            for (unsigned i = 0; i < n; i++) {
                s = s * 1664525u + 1013904223u;
                bool border = i == 0 || j == 0 || k == 0 || i == n - 1 || j == n - 1 || k == n - 1;
                vox[((size_t)k * n + j) * n + i] = border ? -1.0f : (float)(s >> 8) / 16777216.0f;
            }
    struct zc_vol *v;
    const unsigned dims[3] = {n, n, n};
    CHECK_OK(zc_vol_wrap(&v, vox, dims, ZC_VOL_F32, NULL));
    struct zc_mesh m;
    CHECK_OK(zc_vol_mesh_extract(v, 0.5f, &m));
    check_closed(&m);
    zc_mesh_free(&m);
    zc_vol_close(v);
    free(vox);
}

static void test_ply(void)
{
    float *vox = gen_sphere(16, 7.5f, 5.0f);
    struct zc_vol *v;
    const unsigned dims[3] = {16, 16, 16};
    CHECK_OK(zc_vol_wrap(&v, vox, dims, ZC_VOL_F32, NULL));
    struct zc_mesh m;
    CHECK_OK(zc_vol_mesh_extract(v, 0, &m));
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/zc-mc-XXXXXX", tmpdir ? tmpdir : "/tmp");
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s.ply", dir);
    CHECK_OK(zc_mesh_write_ply(&m, path));
    FILE *f = fopen(path, "rb");
    CHECK(f);
    char line[128];
    size_t nv = 0, nf = 0;
    while (fgets(line, sizeof(line), f) && strcmp(line, "end_header\n") != 0) {
        sscanf(line, "element vertex %zu", &nv);
        sscanf(line, "element face %zu", &nf);
    }
    CHECK_EQ(nv, m.vertices);
    CHECK_EQ(nf, m.triangles);
    long body = ftell(f);
    fseek(f, 0, SEEK_END);
    CHECK_EQ(ftell(f) - body, (long)(nv * 24 + nf * 13));
    fseek(f, body + (long)nv * 24, SEEK_SET);
    unsigned char rec[13];
    CHECK(fread(rec, 13, 1, f) == 1);
    CHECK_EQ(rec[0], 3);
    CHECK_EQ(rec[1] | rec[2] << 8 | rec[3] << 16 | (uint32_t)rec[4] << 24, m.tri[0]);
    fclose(f);
    char bad[4300];
    snprintf(bad, sizeof(bad), "%s/no/such/dir.ply", dir);
    CHECK_EQ(zc_mesh_write_ply(&m, bad), -ENOENT);
    CHECK_OK(unlink(path));
    CHECK_OK(rmdir(dir)); /* nothing else left behind */
    zc_mesh_free(&m);
    zc_vol_close(v);
    free(vox);
}

/* The real brain: VTK's vtkMarchingCubes gives these counts. */
static void test_ch2(void)
{
    const char *path = "/usr/share/mricron/templates/ch2.nii.gz";
    struct zc_vol *v;
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "    %s missing (mricron-data): skipped\n", path);
        return;
    }
    CHECK_OK(zc_vol_open_nifti(&v, path));
    struct zc_mesh m;
    CHECK_OK(zc_vol_mesh_extract(v, 50.5f, &m));
    CHECK_EQ(m.triangles, 1440560);
    CHECK_EQ(m.vertices, 723423);
    zc_mesh_free(&m);
    CHECK_OK(zc_vol_mesh_extract(v, 100.5f, &m));
    CHECK_EQ(m.triangles, 1486202);
    zc_mesh_free(&m);
    zc_vol_close(v);
}

int main(void)
{
    RUN(test_cases);
    RUN(test_sphere);
    RUN(test_torus);
    RUN(test_random_closed);
    RUN(test_ply);
    RUN(test_ch2);
    return 0;
}
