/* mc_table.c - the 256-case marching cubes table, generated at first use.
 *
 * Instead of a transcribed table, each case is worked out from the cube's
 * faces.  Cube corners and edges are numbered as in Lorensen & Cline (and
 * VTK, Bourke):
 *
 *        7 ------6-------- 6          corner c at (c&1 ^ c>>1&1, c>>1&1, c>>2)
 *       /|               / |          edges 0-3: bottom ring 0-1-2-3
 *      7 |              5  |          edges 4-7: top ring 4-5-6-7
 *     /  11            /   10         edges 8-11: verticals 0-4 1-5 2-6 3-7
 *    4 -------4------ 5    |
 *    |   |            |    |
 *    |   3 ------2----|--- 2
 *    8  /             9   /
 *    | 3              |  1
 *    |/               | /
 *    0 ------0------- 1
 *
 * On every face the iso-line crosses 0, 2 or 4 of its edges.  Two crossings
 * make one segment; four (the ambiguous face: diagonal corners alike) make
 * two segments that cut off either the two corners above the iso-value or
 * the two below.  The segments of the six faces close into loops around the
 * cube; each loop is a polygon of n vertices, fanned into n - 2 triangles
 * oriented with their normal towards lower values.
 *
 * Which corners an ambiguous face cuts off decides the triangle count.
 * The rule here is one for every face: the corners at or above the
 * iso-value are cut off.  It gives, case by case, the triangle counts of
 * the classic table as VTK's vtkMarchingCubes uses it, and since a face's
 * choice depends only on that face's four corners, the two cubes sharing
 * the face agree on it: the surface has no cracks.
 */
#include "mc_table.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

struct mc_case mc_cases[256];

static const unsigned char corner_xyz[8][3] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0},
                                               {0, 0, 1}, {1, 0, 1}, {1, 1, 1}, {0, 1, 1}};
const unsigned char mc_edge_corners[12][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 0}, {4, 5}, {5, 6},
                                              {6, 7}, {7, 4}, {0, 4}, {1, 5}, {2, 6}, {3, 7}};
/* Each face as its corners in cyclic order. */
static const unsigned char face_corners[6][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}, {0, 1, 5, 4},
                                                 {3, 2, 6, 7}, {0, 3, 7, 4}, {1, 2, 6, 5}};

static int edge_of(int a, int b)
{
    for (int e = 0; e < 12; e++)
        if ((mc_edge_corners[e][0] == a && mc_edge_corners[e][1] == b) ||
            (mc_edge_corners[e][0] == b && mc_edge_corners[e][1] == a))
            return e;
    return -1;
}

static void edge_mid(int e, float p[3])
{
    for (int a = 0; a < 3; a++)
        p[a] = 0.5f * (corner_xyz[mc_edge_corners[e][0]][a] + corner_xyz[mc_edge_corners[e][1]][a]);
}

static void build_case(int c)
{
    bool above[8];
    for (int i = 0; i < 8; i++)
        above[i] = c >> i & 1;

    /* Segments (pairs of edges) from every face. */
    int seg[12][2], nseg = 0;
    for (int f = 0; f < 6; f++) {
        const unsigned char *q = face_corners[f];
        int cross[4], n = 0;
        for (int i = 0; i < 4; i++)
            if (above[q[i]] != above[q[(i + 1) % 4]])
                cross[n++] = i; /* edge from q[i] to q[i+1] */
        if (n == 2) {
            seg[nseg][0] = edge_of(q[cross[0]], q[(cross[0] + 1) % 4]);
            seg[nseg][1] = edge_of(q[cross[1]], q[(cross[1] + 1) % 4]);
            nseg++;
        } else if (n == 4) {
            for (int i = 0; i < 4; i++) {
                if (!above[q[i]])
                    continue;
                seg[nseg][0] = edge_of(q[(i + 3) % 4], q[i]);
                seg[nseg][1] = edge_of(q[i], q[(i + 1) % 4]);
                nseg++;
            }
        }
    }

    /* Walk segments into loops, fan each loop into triangles. */
    bool used[12] = {false};
    struct mc_case *mc = &mc_cases[c];
    mc->ntri = 0;
    for (int s0 = 0; s0 < nseg; s0++) {
        if (used[s0])
            continue;
        int loop[12], n = 0;
        used[s0] = true;
        loop[n++] = seg[s0][0];
        int cur = seg[s0][1];
        while (cur != loop[0] && n < 12) {
            loop[n++] = cur;
            for (int s = 0; s < nseg; s++) {
                if (used[s] || (seg[s][0] != cur && seg[s][1] != cur))
                    continue;
                used[s] = true;
                cur = seg[s][0] == cur ? seg[s][1] : seg[s][0];
                break;
            }
        }
        /* Orient: the normal (Newell) must point from above to below. */
        float nrm[3] = {0, 0, 0}, p[12][3];
        for (int i = 0; i < n; i++)
            edge_mid(loop[i], p[i]);
        for (int i = 0; i < n; i++) {
            const float *a = p[i], *b = p[(i + 1) % n];
            nrm[0] += (a[1] - b[1]) * (a[2] + b[2]);
            nrm[1] += (a[2] - b[2]) * (a[0] + b[0]);
            nrm[2] += (a[0] - b[0]) * (a[1] + b[1]);
        }
        int e = loop[0], a0 = mc_edge_corners[e][0], a1 = mc_edge_corners[e][1];
        int hi = above[a0] ? a0 : a1, lo = above[a0] ? a1 : a0;
        float down = 0;
        for (int a = 0; a < 3; a++)
            down += nrm[a] * ((float)corner_xyz[lo][a] - corner_xyz[hi][a]);
        bool flip = down < 0;
        for (int i = 1; i + 1 < n; i++) {
            unsigned char *t = mc->tri[mc->ntri++];
            t[0] = (unsigned char)loop[0];
            t[1] = (unsigned char)loop[flip ? i + 1 : i];
            t[2] = (unsigned char)loop[flip ? i : i + 1];
        }
    }
}

static void build_all(void)
{
    for (int c = 0; c < 256; c++)
        build_case(c);
}

void mc_table_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build_all);
}
