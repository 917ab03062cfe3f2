/* test_sim_cavity.c - the solver against analytic cases on one rank: the
 * lowest resonance of a PEC cube, and bad configurations refused.
 *
 * A cube of side L with perfectly conducting walls rings at
 * f = (c / 2L) sqrt(m^2 + n^2 + p^2); with a z-directed dipole off the
 * symmetry planes the lowest mode Ez excites is TM110, f = sqrt(2) / (2L).
 * The probe's spectrum (Hann window, a fine DFT scan between the half
 * frequency and the next mode, TM111) must peak within 1% of it.
 */
#include "zc/sim.h"
#include "zc_test.h"

#include <errno.h>
#include <math.h>

static void test_cavity_resonance(void)
{
    const unsigned grid = 16;
    struct zc_sim_config cfg;
    zc_sim_config_default(&cfg, grid);
    cfg.torus = false;
    cfg.source[0] = 0.3;
    cfg.source[1] = 0.2;
    cfg.source[2] = 0.55;
    cfg.pulse_width = 2.0;
    cfg.pulse_delay = 8.0;
    struct zc_sim *sim;
    CHECK_OK(zc_sim_create(MPI_COMM_SELF, &cfg, &sim));

    enum { STEPS = 6000 };
    static float probe[STEPS];
    for (unsigned n = 0; n < STEPS; n++) {
        CHECK_OK(zc_sim_step(sim, 1));
        CHECK(zc_sim_value(sim, ZC_SIM_EZ, 11, 6, 8, &probe[n]));
        CHECK(isfinite(probe[n]));
    }
    double dt = zc_sim_dt(sim);
    CHECK(fabs(zc_sim_time(sim) - STEPS * dt) < 1e-9 * STEPS);

    const double expect = sqrt(2.0) / (2.0 * grid), next = sqrt(3.0) / (2.0 * grid);
    double best_f = 0, best_p = -1;
    for (double f = 0.5 * expect; f < 0.5 * (expect + next); f += expect * 1e-4) {
        double re = 0, im = 0;
        for (unsigned n = 0; n < STEPS; n++) {
            double w = 0.5 - 0.5 * cos(2 * M_PI * n / (STEPS - 1));
            re += w * probe[n] * cos(2 * M_PI * f * n * dt);
            im -= w * probe[n] * sin(2 * M_PI * f * n * dt);
        }
        if (re * re + im * im > best_p) {
            best_p = re * re + im * im;
            best_f = f;
        }
    }
    double rel = fabs(best_f - expect) / expect;
    fprintf(stderr, "    TM110: measured %.6f, analytic %.6f (%.3f%%)\n", best_f, expect,
            100 * rel);
    CHECK(rel < 0.01);
    /* The scan's peak is a real resonance, not the edge of the range. */
    CHECK(best_f > 0.6 * expect && best_f < 0.95 * next);
    zc_sim_destroy(sim);
}

/* The field stays bounded (Courant-stable) and PEC walls stay zero. */
static void test_walls_and_stability(void)
{
    struct zc_sim_config cfg;
    zc_sim_config_default(&cfg, 12);
    struct zc_sim *sim;
    CHECK_OK(zc_sim_create(MPI_COMM_SELF, &cfg, &sim));
    CHECK_OK(zc_sim_step(sim, 400));
    float v, peak = 0;
    for (unsigned k = 0; k < 12; k++)
        for (unsigned j = 0; j < 12; j++)
            for (unsigned i = 0; i < 12; i++) {
                CHECK(zc_sim_value(sim, ZC_SIM_EX, i, j, k, &v));
                if (j == 0 || k == 0)
                    CHECK(v == 0.0f);
                CHECK(zc_sim_value(sim, ZC_SIM_EZ, i, j, k, &v));
                if (i == 0 || j == 0)
                    CHECK(v == 0.0f);
                CHECK(isfinite(v));
                peak = fabsf(v) > peak ? fabsf(v) : peak;
            }
    CHECK(peak > 0 && peak < 10);
    /* Inside the torus' tube (centre radius 0.3 grid) E is held at zero. */
    CHECK(zc_sim_value(sim, ZC_SIM_EZ, 6 + 3, 6, 6, &v));
    CHECK(v == 0.0f);
    /* Outside the brick: not owned. */
    CHECK(!zc_sim_value(sim, ZC_SIM_EZ, 12, 0, 0, &v));
    CHECK(!zc_sim_value(sim, (enum zc_sim_field)9, 0, 0, 0, &v));
    double umax;
    CHECK_OK(zc_sim_energy_max(sim, &umax));
    CHECK(umax > 0 && isfinite(umax));
    zc_sim_destroy(sim);
}

static void test_bad_configs(void)
{
    struct zc_sim_config cfg;
    struct zc_sim *sim = (struct zc_sim *)&cfg;
    zc_sim_config_default(&cfg, 3);
    CHECK_EQ(zc_sim_create(MPI_COMM_SELF, &cfg, &sim), -EINVAL);
    CHECK(sim == NULL);
    zc_sim_config_default(&cfg, 16);
    cfg.courant = 1.0; /* at the Courant limit: unstable */
    CHECK_EQ(zc_sim_create(MPI_COMM_SELF, &cfg, &sim), -EINVAL);
    zc_sim_config_default(&cfg, 16);
    cfg.source[1] = 1.0;
    CHECK_EQ(zc_sim_create(MPI_COMM_SELF, &cfg, &sim), -EINVAL);
    zc_sim_config_default(&cfg, 16);
    cfg.pulse_width = NAN;
    CHECK_EQ(zc_sim_create(MPI_COMM_SELF, &cfg, &sim), -EINVAL);
}

/* The renderer refuses a bad view, and draws nothing from a still field
 * except the conductor. */
static void test_render_views(void)
{
    struct zc_sim_config cfg;
    zc_sim_config_default(&cfg, 12);
    struct zc_sim *sim;
    CHECK_OK(zc_sim_create(MPI_COMM_SELF, &cfg, &sim));
    enum { W = 40, H = 30 };
    static float img[W * H * 4];
    struct zc_sim_view view;
    zc_sim_view_default(&view, W, H);
    view.log_umax = 0;
    struct zc_sim_view bad = view;
    bad.width = 0;
    CHECK_EQ(zc_sim_render(sim, &bad, img), -EINVAL);
    bad = view;
    bad.step = 0;
    CHECK_EQ(zc_sim_render(sim, &bad, img), -EINVAL);
    bad = view;
    bad.log_umax = NAN;
    CHECK_EQ(zc_sim_render(sim, &bad, img), -EINVAL);
    bad = view;
    bad.decades = -1;
    CHECK_EQ(zc_sim_render(sim, &bad, img), -EINVAL);

    CHECK_OK(zc_sim_exchange_ghosts(sim, NULL));
    view.draw_conductor = false;
    CHECK_OK(zc_sim_render(sim, &view, img));
    for (unsigned i = 0; i < W * H * 4; i++)
        CHECK(img[i] == 0.0f);
    view.draw_conductor = true;
    CHECK_OK(zc_sim_render(sim, &view, img));
    unsigned lit = 0;
    for (unsigned i = 0; i < W * H; i++) {
        CHECK(img[4 * i + 3] >= 0.0f && img[4 * i + 3] <= 1.0f);
        CHECK(img[4 * i] <= img[4 * i + 3] + 1e-6f); /* premultiplied */
        lit += img[4 * i + 3] > 0.3f;
    }
    CHECK(lit > W * H / 40 && lit < W * H / 2); /* the torus, and only it */
    zc_sim_destroy(sim);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    RUN(test_cavity_resonance);
    RUN(test_walls_and_stability);
    RUN(test_bad_configs);
    RUN(test_render_views);
    MPI_Finalize();
    return 0;
}
