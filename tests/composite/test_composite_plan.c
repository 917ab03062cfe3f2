/* test_composite_plan.c - the planner's schedules equal the brute force's.
 *
 * The brute force is the planner as it first was: a round's groups found
 * by comparing every live rank with every other (O(N^2) a round), every
 * rank's rounds played at once.  For every rank count up to 512 (the grid
 * MPI_Dims_create gives, and lines along each axis up to 64), binary swap
 * and radix-k at every k the project uses (2, 3, 4, 8, 16 and direct send),
 * a rank's plan must match member for member, region for region (every
 * rank's to 128 ranks, 17 spread over the grid above).
 */
#include "../../src/composite/composite_internal.h"
#include "zc/base.h"
#include "zc_test.h"

#include <stdlib.h>
#include <string.h>

/* Rounds a rank takes at most here: 9 pair rounds and 3 folds. */
enum { MAX_N = 512, MAX_ROUNDS = 12 };

struct brute_rank {
    int coords[3];
    bool alive;
    size_t a, b;
};

/* One rank's round as the brute force saw it. */
struct brute_round {
    int step, nmembers, me;
    bool fold;
    size_t a, b;
    int members[MAX_N];
};

struct brute_plan {
    struct brute_round *rounds[MAX_N]; /* per rank, MAX_ROUNDS each */
    unsigned nrounds[MAX_N];
    size_t final_a[MAX_N], final_b[MAX_N];
};

static bool same_group(const struct brute_rank *x, const struct brute_rank *y,
                       unsigned *const unit[3])
{
    for (int d = 0; d < 3; d++)
        if (unit[d][x->coords[d]] != unit[d][y->coords[d]])
            return false;
    return x->alive && y->alive && x->a == y->a;
}

static bool grid_before(const struct brute_rank *x, const struct brute_rank *y)
{
    for (int d = 0; d < 3; d++)
        if (x->coords[d] != y->coords[d])
            return x->coords[d] < y->coords[d];
    return false;
}

static void brute_round(struct brute_rank *st, int n, int step, bool fold, unsigned *const unit[3],
                        struct brute_plan *plan)
{
    static struct brute_rank next[MAX_N];
    static int k[MAX_N], j[MAX_N];
    memcpy(next, st, (size_t)n * sizeof(*next));
    for (int r = 0; r < n; r++) {
        k[r] = j[r] = 0;
        for (int s = 0; s < n && st[r].alive; s++)
            if (same_group(&st[r], &st[s], unit)) {
                k[r]++;
                j[r] += grid_before(&st[s], &st[r]);
            }
    }
    for (int r = 0; r < n; r++) {
        if (k[r] <= 1)
            continue;
        CHECK(plan->nrounds[r] < MAX_ROUNDS);
        struct brute_round *br = &plan->rounds[r][plan->nrounds[r]++];
        *br = (struct brute_round){
            .step = step, .nmembers = k[r], .me = j[r], .fold = fold, .a = st[r].a, .b = st[r].b};
        struct composite_round round = {.nmembers = k[r], .fold = fold, .a = st[r].a, .b = st[r].b};
        composite_part(&round, j[r], &next[r].a, &next[r].b);
        if (fold && j[r] > 0)
            next[r].alive = false;
        /* Members in grid order: a member's index is the count before it. */
        for (int s = 0; s < n; s++)
            if (same_group(&st[r], &st[s], unit))
                br->members[j[s]] = s;
    }
    memcpy(st, next, (size_t)n * sizeof(*next));
}

static void brute_plan(const struct composite_grid *g, enum zc_composite_algo algo, unsigned kmax,
                       size_t npix, struct brute_plan *plan)
{
    static struct brute_rank st[MAX_N];
    struct composite_round_spec specs[COMPOSITE_MAX_ROUNDS];
    unsigned nspecs = composite_round_specs(g->dims, algo, kmax, specs);
    unsigned *unit[3];
    for (int d = 0; d < 3; d++) {
        unit[d] = malloc((size_t)g->dims[d] * sizeof(unsigned));
        CHECK(unit[d]);
        for (int pos = 0; pos < g->dims[d]; pos++)
            unit[d][pos] = (unsigned)pos;
    }
    for (int r = 0; r < g->size; r++) {
        /* Row-major, as MPI numbers a Cartesian grid. */
        st[r] = (struct brute_rank){
            {r / (g->dims[1] * g->dims[2]), r / g->dims[2] % g->dims[1], r % g->dims[2]},
            true,
            0,
            npix};
        plan->nrounds[r] = 0;
    }
    for (unsigned i = 0; i < nspecs; i++) {
        composite_next_units(&specs[i], g->dims, unit);
        brute_round(st, g->size, (int)i, specs[i].fold >= 0, unit, plan);
    }
    for (int r = 0; r < g->size; r++) {
        plan->final_a[r] = st[r].alive ? st[r].a : 0;
        plan->final_b[r] = st[r].alive ? st[r].b : 0;
    }
    for (int d = 0; d < 3; d++)
        free(unit[d]);
}

static void compare(const struct composite_grid *g, enum zc_composite_algo algo, unsigned kmax,
                    const struct brute_plan *want)
{
    const size_t npix = 1000003; /* prime: uneven parts everywhere */
    struct composite_plan got;
    CHECK_OK(composite_plan_make(g, algo, kmax, npix, &got));
    const int self = g->self;
    CHECK_EQ(got.nrounds, want->nrounds[self]);
    for (unsigned i = 0; i < got.nrounds; i++) {
        const struct composite_round *r = &got.rounds[i];
        const struct brute_round *w = &want->rounds[self][i];
        CHECK_EQ(r->step, w->step);
        CHECK_EQ(r->nmembers, w->nmembers);
        CHECK_EQ(r->me, w->me);
        CHECK_EQ(r->fold, w->fold);
        CHECK_EQ(r->a, w->a);
        CHECK_EQ(r->b, w->b);
        for (int m = 0; m < r->nmembers; m++) {
            int s = w->members[m];
            CHECK_EQ(r->members[m], s);
            CHECK_EQ(r->coords[m][0], s / (g->dims[1] * g->dims[2]));
            CHECK_EQ(r->coords[m][1], s / g->dims[2] % g->dims[1]);
            CHECK_EQ(r->coords[m][2], s % g->dims[2]);
        }
    }
    for (int r = 0; r < g->size; r++) {
        CHECK_EQ(got.final_a[r], want->final_a[r]);
        CHECK_EQ(got.final_b[r], want->final_b[r]);
    }
    composite_plan_free(&got);
}

static void check_grid(int d0, int d1, int d2, struct brute_plan *want)
{
    static const unsigned ks[] = {2, 3, 4, 8, 16, 1024};
    struct composite_grid g = {.size = d0 * d1 * d2, .dims = {d0, d1, d2}};
    for (unsigned v = 0; v <= ZC_ARRAY_SIZE(ks); v++) {
        enum zc_composite_algo algo = v == 0 ? ZC_COMPOSITE_BINARY_SWAP : ZC_COMPOSITE_RADIX_K;
        unsigned kmax = v == 0 ? 0 : ks[v - 1];
        brute_plan(&g, algo, kmax, 1000003, want);
        /* Every rank's plan to 128 ranks; above, 16 ranks spread over the grid. */
        int stride = g.size <= 128 ? 1 : g.size / 16;
        for (g.self = 0; g.self < g.size; g.self += stride)
            compare(&g, algo, kmax, want);
        g.self = g.size - 1;
        compare(&g, algo, kmax, want);
    }
}

static void test_plans_equal_brute_force(void)
{
    struct brute_plan *want = calloc(1, sizeof(*want));
    CHECK(want);
    for (int r = 0; r < MAX_N; r++) {
        want->rounds[r] = malloc(MAX_ROUNDS * sizeof(struct brute_round));
        CHECK(want->rounds[r]);
    }
    for (int n = 1; n <= MAX_N; n++) {
        int dims[3] = {0, 0, 0};
        MPI_Dims_create(n, 3, dims);
        check_grid(dims[0], dims[1], dims[2], want);
        if (n <= 64 && n > 1) {
            check_grid(n, 1, 1, want);
            check_grid(1, n, 1, want);
            check_grid(1, 1, n, want);
        }
    }
    for (int r = 0; r < MAX_N; r++)
        free(want->rounds[r]);
    free(want);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    RUN(test_plans_equal_brute_force);
    MPI_Finalize();
    return 0;
}
