/* zc/sim.h - a distributed 3-D FDTD (Yee) Maxwell solver over MPI, and the
 * in-situ ray caster that renders each rank's brick straight from its field
 * arrays.
 *
 * Units: c = eps0 = mu0 = 1, cell size 1.  The domain is a cube of grid^3
 * cells with perfectly conducting (PEC) walls, split into bricks over a 3-D
 * Cartesian communicator (MPI_Dims_create).  Each component lives on its
 * Yee position (cell (i,j,k) spans [i,i+1] x [j,j+1] x [k,k+1]):
 *
 *   Ex (i+1/2, j, k)      Hx (i, j+1/2, k+1/2)
 *   Ey (i, j+1/2, k)      Hy (i+1/2, j, k+1/2)
 *   Ez (i, j, k+1/2)      Hz (i+1/2, j+1/2, k)
 *
 * A step updates H, exchanges H's tangential components with the next
 * brick up, updates E, adds the source, zeroes E inside conductors and
 * exchanges E's tangential components with the next brick down.
 *
 * Functions return 0 or a negative errno unless said otherwise; those marked
 * "collective" must be called by every rank of the communicator.
 */
#ifndef ZC_SIM_H
#define ZC_SIM_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "zc/vol.h"

#ifdef __cplusplus
extern "C" {
#endif

enum zc_sim_field { ZC_SIM_EX, ZC_SIM_EY, ZC_SIM_EZ, ZC_SIM_HX, ZC_SIM_HY, ZC_SIM_HZ };

struct zc_sim_config {
    unsigned grid;      /* cells along each side, >= 4 and >= 2 per rank */
    double courant;     /* dt = courant / sqrt(3); in (0, 1) for stability */
    double source[3];   /* dipole position, fractions of the side in [0, 1) */
    double pulse_width; /* Gaussian-derivative pulse width, in time units */
    double pulse_delay; /* time of the pulse's zero crossing */
    bool torus;         /* a conducting torus around the domain's z axis */
};

/* Defaults for a grid: Courant 0.99, the dipole at the centre inside the
 * torus' hole, a pulse of width grid / 16 and delay 4 widths, the torus on. */
void zc_sim_config_default(struct zc_sim_config *cfg, unsigned grid);

struct zc_sim;

/* Collective over comm: splits the domain, allocates the fields (zero) with
 * one ghost layer on every side.  0 with *out set; -EINVAL on a bad config
 * (grid too small for the rank count, Courant number out of range),
 * -ENOMEM or -EIO, the same on every rank. */
int zc_sim_create(MPI_Comm comm, const struct zc_sim_config *cfg, struct zc_sim **out);
/* Frees the fields and the communicator.  NULL is fine.  Collective. */
void zc_sim_destroy(struct zc_sim *sim);

/* Collective: advances nsteps time steps.  0, or -EIO when MPI fails. */
int zc_sim_step(struct zc_sim *sim, unsigned nsteps);

/* The 3-D Cartesian communicator the bricks live on (rank r owns brick r). */
MPI_Comm zc_sim_comm(const struct zc_sim *sim);
/* This rank's brick: first cell lo[] and cell counts n[] along x, y, z. */
void zc_sim_brick(const struct zc_sim *sim, unsigned lo[3], unsigned n[3]);
/* Cells along a side of the whole domain. */
unsigned zc_sim_grid(const struct zc_sim *sim);
/* Time step and simulated time so far. */
double zc_sim_dt(const struct zc_sim *sim);
double zc_sim_time(const struct zc_sim *sim);
/* Component f at global index (i, j, k) when this rank owns that cell
 * (true), else false and *v untouched. */
bool zc_sim_value(const struct zc_sim *sim, enum zc_sim_field f, unsigned i, unsigned j, unsigned k,
                  float *v);

/* Collective: fills every ghost layer (faces, edges, corners) of all six
 * components from the neighbouring bricks, so that a sampler reading one
 * cell past the brick sees exactly what the neighbour holds.  Adds the
 * bytes this rank sent to *bytes_sent when not NULL.  0 or -EIO. */
int zc_sim_exchange_ghosts(struct zc_sim *sim, uint64_t *bytes_sent);

/* Collective: the gather baseline.  Every rank sends its brick's six
 * components to root, which gets in *whole a one-rank simulation
 * (MPI_COMM_SELF) holding the whole field; other ranks get NULL.  Adds the
 * bytes this rank sent to *bytes_sent when not NULL.  0, -ENOMEM or -EIO
 * (on every rank). */
int zc_sim_gather(struct zc_sim *sim, int root, struct zc_sim **whole, uint64_t *bytes_sent);

/* Collective: the largest energy density (E^2 + H^2) / 2 over the cells of
 * the domain, each component taken at its own Yee position in the cell,
 * leaving out the dipole's near field (cells within max(2, grid / 16) of
 * it), in *umax: the scale for zc_sim_view.log_umax.  0 or -EIO. */
int zc_sim_energy_max(const struct zc_sim *sim, double *umax);

/* ---- in-situ rendering ----
 * An orthographic camera looking at the domain's centre from azimuth and
 * elevation (degrees), the whole cube in view.  Samples lie at fixed
 * distances along each ray whatever the brick, so a brick renders exactly
 * the samples inside it and the bricks' tiles, composited in visibility
 * order, equal a render of the whole field. */
struct zc_sim_view {
    unsigned width, height; /* image size */
    double azimuth, elevation;
    double step;         /* sample spacing in cells, > 0 */
    double log_umax;     /* log10 of the energy density drawn brightest */
    double decades;      /* decades below it that still show; less is clear */
    double opacity;      /* opacity per cell at the brightest */
    bool draw_conductor; /* the torus as a dense copper-coloured body */
};

/* Defaults for an image: 30 degrees azimuth, 25 elevation, step 0.7, 3
 * decades, opacity 0.25, the conductor drawn; log_umax must be set. */
void zc_sim_view_default(struct zc_sim_view *view, unsigned width, unsigned height);

/* The view's transfer function as control points over log10 of the energy
 * density, [log_umax - decades, log_umax]: the colours (straight, not
 * premultiplied) and the opacity a cell adds at each, for a legend. */
void zc_sim_view_tf(const struct zc_sim_view *view, struct zc_tf *tf);

/* The unit vector the camera looks along (world x, y, z). */
void zc_sim_view_dir(const struct zc_sim_view *view, double dir[3]);

/* Ray-casts this rank's brick into rgba (width * height * 4 floats,
 * premultiplied, row-major, top row first), overwriting it; pixels no
 * sample reached are 0.  The energy density is computed inside the sampler
 * from the field arrays; ghost layers must be current
 * (zc_sim_exchange_ghosts).  Blocks of the brick whose field cannot
 * reach the transfer function's floor are skipped without changing the
 * image.  0, -EINVAL on a bad view, -ENOMEM. */
int zc_sim_render(const struct zc_sim *sim, const struct zc_sim_view *view, float *rgba);

#ifdef __cplusplus
}
#endif

#endif /* ZC_SIM_H */
