/* test_sim_mpi.c - the decomposed solver equals the one-rank solver, bit
 * for bit, and the gather baseline moves exactly the bricks' fields.
 *
 * Run under mpirun with any rank count.  Rank 0 also runs the same
 * configuration alone (MPI_COMM_SELF); the gathered field of the
 * distributed run must be identical to it: the halo exchange carries every
 * value a brick's update reads.
 */
#include "zc/sim.h"
#include "zc_test.h"

#include <errno.h>
#include <math.h>

enum { GRID = 14, STEPS = 60 };

static void test_matches_one_rank(void)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    struct zc_sim_config cfg;
    zc_sim_config_default(&cfg, GRID);
    cfg.source[0] = 0.37; /* off the brick boundaries' symmetry */
    cfg.pulse_width = 1.5;
    cfg.pulse_delay = 6;
    struct zc_sim *sim;
    CHECK_OK(zc_sim_create(MPI_COMM_WORLD, &cfg, &sim));
    CHECK_OK(zc_sim_step(sim, STEPS));

    uint64_t sent = 0;
    struct zc_sim *whole;
    CHECK_OK(zc_sim_gather(sim, 0, &whole, &sent));
    unsigned lo[3], n[3];
    zc_sim_brick(sim, lo, n);
    uint64_t mine = 6ull * n[0] * n[1] * n[2] * sizeof(float);
    CHECK_EQ(sent, rank == 0 ? 0 : mine);
    CHECK((rank == 0) == (whole != NULL));

    if (rank == 0) {
        struct zc_sim *alone;
        CHECK_OK(zc_sim_create(MPI_COMM_SELF, &cfg, &alone));
        CHECK_OK(zc_sim_step(alone, STEPS));
        double energy = 0;
        for (int f = ZC_SIM_EX; f <= ZC_SIM_HZ; f++)
            for (unsigned k = 0; k < GRID; k++)
                for (unsigned j = 0; j < GRID; j++)
                    for (unsigned i = 0; i < GRID; i++) {
                        float a, b;
                        CHECK(zc_sim_value(whole, f, i, j, k, &a));
                        CHECK(zc_sim_value(alone, f, i, j, k, &b));
                        if (a != b) {
                            fprintf(stderr, "field %d at (%u,%u,%u): %g != %g\n", f, i, j, k, a, b);
                            CHECK(a == b);
                        }
                        energy += (double)a * a;
                    }
        CHECK(energy > 0);
        zc_sim_destroy(alone);
        zc_sim_destroy(whole);
    }
    /* Every rank took part: the pulse reached beyond the source's brick. */
    double umax;
    CHECK_OK(zc_sim_energy_max(sim, &umax));
    CHECK(umax > 0);
    zc_sim_destroy(sim);
}

/* A rank count the grid cannot hold is refused on every rank alike. */
static void test_too_many_ranks(void)
{
    int size, dims[3] = {0, 0, 0};
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Dims_create(size, 3, dims);
    if (dims[0] < 3)
        return;
    struct zc_sim_config cfg;
    zc_sim_config_default(&cfg, 2u * (unsigned)dims[0] - 1); /* one cell short */
    struct zc_sim *sim = NULL;
    CHECK_EQ(zc_sim_create(MPI_COMM_WORLD, &cfg, &sim), -EINVAL);
    CHECK(sim == NULL);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    RUN(test_matches_one_rank);
    RUN(test_too_many_ranks);
    MPI_Finalize();
    return 0;
}
