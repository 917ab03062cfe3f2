/* mc_table.h - the marching cubes case table (mc_table.c builds it). */
#ifndef ZC_MC_TABLE_H
#define ZC_MC_TABLE_H

#include <stdbool.h>

/* Case c (bit i set: corner i at or above the iso-value): ntri triangles,
 * each three cube edges, wound with the normal towards lower values. */
struct mc_case {
    unsigned char ntri;
    unsigned char tri[12][3];
};
extern struct mc_case mc_cases[256];
/* The two corners of each of the 12 edges, the lower-numbered axis end first. */
extern const unsigned char mc_edge_corners[12][2];

/* Builds mc_cases once (thread-safe). */
void mc_table_init(void);

#endif
