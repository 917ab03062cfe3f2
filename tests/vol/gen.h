/* gen.h - generated test volumes with known answers. */
#ifndef ZC_TEST_VOL_GEN_H
#define ZC_TEST_VOL_GEN_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* n^3 floats: r - distance from the centre c (positive inside the sphere). */
static inline float *gen_sphere(unsigned n, float c, float r)
{
    float *v = malloc((size_t)n * n * n * sizeof(float));
    for (unsigned k = 0; k < n; k++)
        for (unsigned j = 0; j < n; j++)
            for (unsigned i = 0; i < n; i++) {
                float x = (float)i - c, y = (float)j - c, z = (float)k - c;
                v[((size_t)k * n + j) * n + i] = r - sqrtf(x * x + y * y + z * z);
            }
    return v;
}

/* n^3 floats: tube radius minus the distance to the ring of radius R around
 * the z axis through the centre c. */
static inline float *gen_torus(unsigned n, float c, float R, float tube)
{
    float *v = malloc((size_t)n * n * n * sizeof(float));
    for (unsigned k = 0; k < n; k++)
        for (unsigned j = 0; j < n; j++)
            for (unsigned i = 0; i < n; i++) {
                float x = (float)i - c, y = (float)j - c, z = (float)k - c;
                float q = sqrtf(x * x + y * y) - R;
                v[((size_t)k * n + j) * n + i] = tube - sqrtf(q * q + z * z);
            }
    return v;
}

/* n^3 bytes: inside (value 200) a ball of radius r around c, 0 outside. */
static inline uint8_t *gen_ball_u8(unsigned n, float c, float r)
{
    uint8_t *v = malloc((size_t)n * n * n);
    for (unsigned k = 0; k < n; k++)
        for (unsigned j = 0; j < n; j++)
            for (unsigned i = 0; i < n; i++) {
                float x = (float)i - c, y = (float)j - c, z = (float)k - c;
                v[((size_t)k * n + j) * n + i] = x * x + y * y + z * z <= r * r ? 200 : 0;
            }
    return v;
}

#endif
