/* sim_internal.h - the solver's state, shared by fdtd.c and render.c. */
#ifndef ZC_SIM_INTERNAL_H
#define ZC_SIM_INTERNAL_H

#include "zc/sim.h"

#include <stddef.h>

struct zc_sim {
    MPI_Comm comm; /* Cartesian, no reordering */
    int rank, size, dims[3];
    int lo_nb[3], hi_nb[3]; /* neighbours along each axis, MPI_PROC_NULL at walls */
    struct zc_sim_config cfg;
    unsigned grid, lo[3], n[3];
    size_t sy, sz, cells; /* strides of y and z, array length with ghosts */
    float *f[6];          /* Ex Ey Ez Hx Hy Hz */
    uint8_t *pec;         /* bit c: E component c is held at zero here */
    MPI_Datatype face[3][4];
    unsigned nfaces; /* face types committed, in face[][] order */
    double dt, t;
    uint64_t steps;
    bool has_source;
    size_t source_idx;
};

/* Array index of local cell (i, j, k); -1 and n are the ghosts. */
#define SIM_IDX(s, i, j, k)                                                                        \
    (((size_t)(k) + 1) * (s)->sz + ((size_t)(j) + 1) * (s)->sy + ((size_t)(i) + 1))

/* Yee position offsets, in cells, of Ex Ey Ez Hx Hy Hz. */
extern const double sim_offset[6][3];

/* Brick (first cell, cell counts) of a rank of the Cartesian communicator. */
void sim_brick_of(const struct zc_sim *s, int rank, unsigned lo[3], unsigned n[3]);
/* Whether world point (x, y, z) lies inside the conducting torus. */
bool sim_in_torus(unsigned grid, double x, double y, double z);
/* The n cells at lo of an array with m cells (+ ghosts) a side, committed. */
int sim_block_type(const unsigned m[3], const unsigned lo[3], const unsigned n[3], MPI_Datatype *t);

#endif
