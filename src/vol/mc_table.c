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
/* Each face as its corners counter-clockwise seen from outside the cube. */
static const unsigned char face_corners[6][4] = {{0, 3, 2, 1}, {4, 5, 6, 7}, {0, 1, 5, 4},
                                                 {3, 7, 6, 2}, {0, 4, 7, 3}, {1, 2, 6, 5}};

static int edge_of(int a, int b)
{
    for (int e = 0; e < 12; e++)
        if ((mc_edge_corners[e][0] == a && mc_edge_corners[e][1] == b) ||
            (mc_edge_corners[e][0] == b && mc_edge_corners[e][1] == a))
            return e;
    return -1;
}

/* Loops of case c as edge sequences: next[e] is the edge after e.  Every
 * face segment runs from the edge where the iso-line enters the corners
 * above (walking the face counter-clockwise from outside) to the edge where
 * it leaves them, so two cubes sharing a face run its segments opposite
 * ways and the surface is consistently wound. */
static void face_segments(int c, int next[12])
{
    for (int e = 0; e < 12; e++)
        next[e] = -1;
    for (int f = 0; f < 6; f++) {
        const unsigned char *q = face_corners[f];
        bool up[4];
        for (int i = 0; i < 4; i++)
            up[i] = c >> q[i] & 1;
        for (int i = 0; i < 4; i++) {
            /* A run of corners above, starting at i, is cut off from the
             * edge before i to the edge after the run's last corner. */
            if (!up[i] || up[(i + 3) % 4])
                continue;
            int last = i;
            while (up[(last + 1) % 4])
                last = (last + 1) % 4;
            int in = edge_of(q[(i + 3) % 4], q[i]);
            int out = edge_of(q[last], q[(last + 1) % 4]);
            next[in] = out;
        }
    }
}

static bool flip; /* the winding rule gives normals towards higher values */

/* True when cube edges e and f lie on one face. */
static bool same_face(int e, int f)
{
    for (int k = 0; k < 6; k++) {
        int hits = 0;
        for (int i = 0; i < 4; i++) {
            int g = edge_of(face_corners[k][i], face_corners[k][(i + 1) % 4]);
            hits += g == e || g == f;
        }
        if (hits == 2)
            return true;
    }
    return false;
}

/* Where to start the fan so that no diagonal runs along a cube face: a
 * neighbour that fans across the same face would use the same diagonal,
 * and the surface would touch itself there.  Such a start exists for every
 * loop the rule makes; the first vertex otherwise. */
static int fan_start(const int *loop, int n)
{
    for (int s = 0; s < n; s++) {
        bool ok = true;
        for (int i = 2; i + 1 < n && ok; i++)
            ok = !same_face(loop[s], loop[(s + i) % n]);
        if (ok)
            return s;
    }
    return 0;
}

static void build_case(int c)
{
    int next[12];
    face_segments(c, next);
    bool seen[12] = {false};
    struct mc_case *mc = &mc_cases[c];
    mc->ntri = 0;
    for (int e0 = 0; e0 < 12; e0++) {
        if (next[e0] < 0 || seen[e0])
            continue;
        int loop[12], n = 0;
        for (int e = e0; !seen[e]; e = next[e]) {
            seen[e] = true;
            loop[n++] = e;
        }
        int s0 = fan_start(loop, n);
        for (int i = 1; i + 1 < n; i++) {
            unsigned char *t = mc->tri[mc->ntri++];
            t[0] = (unsigned char)loop[s0];
            t[1] = (unsigned char)loop[(s0 + (flip ? i + 1 : i)) % n];
            t[2] = (unsigned char)loop[(s0 + (flip ? i : i + 1)) % n];
        }
    }
}

static void edge_mid(int e, float p[3])
{
    for (int a = 0; a < 3; a++)
        p[a] = 0.5f * (corner_xyz[mc_edge_corners[e][0]][a] + corner_xyz[mc_edge_corners[e][1]][a]);
}

static void build_all(void)
{
    /* Case 1 (corner 0 alone above) decides the winding: its triangle's
     * normal must point away from corner 0, to lower values. */
    build_case(1);
    float a[3], b[3], q[3];
    edge_mid(mc_cases[1].tri[0][0], a);
    edge_mid(mc_cases[1].tri[0][1], b);
    edge_mid(mc_cases[1].tri[0][2], q);
    float u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    float w[3] = {q[0] - a[0], q[1] - a[1], q[2] - a[2]};
    float nsum =
        (u[1] * w[2] - u[2] * w[1]) + (u[2] * w[0] - u[0] * w[2]) + (u[0] * w[1] - u[1] * w[0]);
    flip = nsum < 0;
    for (int c = 0; c < 256; c++)
        build_case(c);
}

void mc_table_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build_all);
}
