/* plan.c - the compositing schedule: which ranks merge which image region
 * in which round.
 *
 * The idea: run the whole schedule in every rank's head before the first
 * frame.  Bricks sit on a Cartesian grid; a round merges blocks of
 * neighbouring "units" (boxes of bricks already merged), f[0] x f[1] x f[2]
 * of them:
 *
 *   radix-k, 3x2x2 bricks, k = 8:   round 1 merges 3x2x1 (k = 6), round 2 1x1x2
 *   radix-k, 2x2x2 bricks, k = 8:   one round of 8 (direct send)
 *   binary swap, 3x1x1 bricks:      fold brick 1 into 0, then [0 1] with [2]
 *
 * In a round, the ranks of one merged block that hold the same image
 * region form a group.  Its members are boxes of a grid, so for a parallel
 * projection their visibility order is their grid order, axis by axis,
 * each axis taken in the direction the camera looks along it (a ray
 * crosses the slabs of an axis in that order, so whichever box it meets
 * first along the first axis where two boxes differ is in front).  Every
 * block runs the same schedule, so the regions line up for the next round.
 * Planning costs O(N^2) per round in the rank count, once.
 */
#include "composite_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void composite_part(const struct composite_round *r, int j, size_t *a, size_t *b)
{
    if (r->fold) {
        *a = r->a;
        *b = j == 0 ? r->b : r->a;
        return;
    }
    size_t len = r->b - r->a, k = (size_t)r->nmembers;
    *a = r->a + len * (size_t)j / k;
    *b = r->a + len * ((size_t)j + 1) / k;
}

/* A round: units merged per block along each axis; fold >= 0 instead
 * folds the extra bricks of that axis into their neighbours. */
struct round_spec {
    unsigned f[3];
    int fold;
};

static unsigned pow2_floor(unsigned p)
{
    unsigned q = 1;
    while (q * 2 <= p)
        q *= 2;
    return q;
}

static unsigned prime_factors(unsigned p, unsigned *f)
{
    unsigned n = 0;
    for (unsigned k = 2; p > 1;)
        if (p % k == 0) {
            f[n++] = k;
            p /= k;
        } else {
            k++;
        }
    return n;
}

/* Binary swap: per axis, a fold when the count is not a power of two,
 * then rounds of 2. */
static unsigned binary_swap_rounds(const int dims[3], struct round_spec *out)
{
    unsigned n = 0;
    for (int d = 0; d < 3; d++) {
        unsigned q = pow2_floor((unsigned)dims[d]);
        if (q != (unsigned)dims[d])
            out[n++] = (struct round_spec){{1, 1, 1}, d};
        for (; q > 1; q /= 2) {
            out[n] = (struct round_spec){{1, 1, 1}, -1};
            out[n++].f[d] = 2;
        }
    }
    return n;
}

/* Radix-k: the prime factors of every axis' count, packed axis by axis
 * into rounds whose group size stays within kmax (a prime above kmax is
 * a round of its own). */
static unsigned radix_k_rounds(const int dims[3], unsigned kmax, struct round_spec *out)
{
    unsigned f[3][32], nf[3], at[3] = {0, 0, 0}, n = 0;
    for (int d = 0; d < 3; d++)
        nf[d] = prime_factors((unsigned)dims[d], f[d]);
    for (;;) {
        struct round_spec r = {{1, 1, 1}, -1};
        unsigned k = 1;
        for (int d = 0; d < 3; d++)
            while (at[d] < nf[d] && k * f[d][at[d]] <= kmax) {
                k *= f[d][at[d]];
                r.f[d] *= f[d][at[d]++];
            }
        for (int d = 0; d < 3 && k == 1; d++)
            if (at[d] < nf[d]) {
                k = f[d][at[d]];
                r.f[d] = f[d][at[d]++];
            }
        if (k == 1)
            return n;
        out[n++] = r;
    }
}

struct rank_state {
    int coords[3];
    bool alive;
    size_t a, b;
};

/* Units after the round along each axis, indexed by brick position. */
static void next_units(const struct round_spec *r, const int dims[3], unsigned *unit[3])
{
    for (int d = 0; d < 3; d++) {
        unsigned p = (unsigned)dims[d];
        if (r->fold == d) {
            unsigned extra = p - pow2_floor(p);
            for (unsigned pos = 0; pos < p; pos++)
                unit[d][pos] = pos < 2 * extra ? pos / 2 : pos - extra;
        } else {
            for (unsigned pos = 0; pos < p; pos++)
                unit[d][pos] /= r->f[d];
        }
    }
}

static bool same_group(const struct rank_state *x, const struct rank_state *y,
                       unsigned *const unit[3])
{
    for (int d = 0; d < 3; d++)
        if (unit[d][x->coords[d]] != unit[d][y->coords[d]])
            return false;
    return x->alive && y->alive && x->a == y->a;
}

/* Grid order: x, then y, then z. */
static bool grid_before(const struct rank_state *x, const struct rank_state *y)
{
    for (int d = 0; d < 3; d++)
        if (x->coords[d] != y->coords[d])
            return x->coords[d] < y->coords[d];
    return false;
}

/* Plays one round for every rank; records this rank's part of it. */
static int play_round(struct rank_state *st, int n, int self, int step, bool fold,
                      unsigned *const unit[3], struct composite_plan *plan)
{
    struct rank_state *next = malloc((size_t)n * sizeof(*next));
    if (!next)
        return -ENOMEM;
    memcpy(next, st, (size_t)n * sizeof(*next));
    int err = 0;
    for (int r = 0; r < n && !err; r++) {
        if (!st[r].alive)
            continue;
        int k = 0, j = 0;
        for (int s = 0; s < n; s++)
            if (same_group(&st[r], &st[s], unit)) {
                k++;
                j += grid_before(&st[s], &st[r]);
            }
        if (k == 1)
            continue;
        struct composite_round round = {
            .step = step, .nmembers = k, .me = j, .fold = fold, .a = st[r].a, .b = st[r].b};
        composite_part(&round, j, &next[r].a, &next[r].b);
        if (fold && j > 0)
            next[r].alive = false;
        if (r != self)
            continue;
        round.members = malloc((size_t)k * sizeof(int));
        round.coords = malloc((size_t)k * sizeof(*round.coords));
        if (!round.members || !round.coords) {
            free(round.members);
            free(round.coords);
            err = -ENOMEM;
            break;
        }
        /* Members in grid order: member j receives part j. */
        for (int s = 0; s < n; s++) {
            if (!same_group(&st[r], &st[s], unit))
                continue;
            int at = 0;
            for (int o = 0; o < n; o++)
                at += same_group(&st[r], &st[o], unit) && grid_before(&st[o], &st[s]);
            round.members[at] = s;
            memcpy(round.coords[at], st[s].coords, sizeof(st[s].coords));
        }
        plan->rounds[plan->nrounds++] = round;
    }
    if (!err)
        memcpy(st, next, (size_t)n * sizeof(*next));
    free(next);
    return err;
}

/* Rank r's brick: MPI numbers a Cartesian grid's ranks in row-major order. */
static void grid_coords(const struct composite_grid *g, int r, int coords[3])
{
    coords[2] = r % g->dims[2];
    coords[1] = r / g->dims[2] % g->dims[1];
    coords[0] = r / g->dims[2] / g->dims[1];
}

int composite_plan_make(const struct composite_grid *grid, enum zc_composite_algo algo,
                        unsigned kmax, size_t npixels, struct composite_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    const int n = grid->size, self = grid->self, *dims = grid->dims;

    /* At most 31 prime factors an axis, and a fold: 3 * 32 rounds. */
    struct round_spec specs[3 * 32];
    unsigned nspecs = algo == ZC_COMPOSITE_RADIX_K ? radix_k_rounds(dims, kmax, specs)
                                                   : binary_swap_rounds(dims, specs);

    struct rank_state *st = calloc((size_t)n, sizeof(*st));
    plan->rounds = calloc(nspecs + 1, sizeof(*plan->rounds));
    plan->final_a = calloc((size_t)n, sizeof(size_t));
    plan->final_b = calloc((size_t)n, sizeof(size_t));
    unsigned *unit[3];
    for (int d = 0; d < 3; d++)
        unit[d] = calloc((size_t)dims[d], sizeof(unsigned));
    int err = st && plan->rounds && plan->final_a && plan->final_b && unit[0] && unit[1] && unit[2]
                  ? 0
                  : -ENOMEM;
    for (int r = 0; r < n && !err; r++) {
        grid_coords(grid, r, st[r].coords);
        st[r].alive = true;
        st[r].b = npixels;
    }
    for (int d = 0; d < 3 && !err; d++)
        for (int pos = 0; pos < dims[d]; pos++)
            unit[d][pos] = (unsigned)pos;
    for (unsigned i = 0; i < nspecs && !err; i++) {
        next_units(&specs[i], dims, unit);
        err = play_round(st, n, self, (int)i, specs[i].fold >= 0, unit, plan);
    }
    for (int r = 0; r < n && !err; r++) {
        plan->final_a[r] = st[r].alive ? st[r].a : 0;
        plan->final_b[r] = st[r].alive ? st[r].b : 0;
    }
    free(st);
    for (int d = 0; d < 3; d++)
        free(unit[d]);
    if (err)
        composite_plan_free(plan);
    return err;
}

void composite_plan_free(struct composite_plan *plan)
{
    for (unsigned i = 0; plan->rounds && i < plan->nrounds; i++) {
        free(plan->rounds[i].members);
        free(plan->rounds[i].coords);
    }
    free(plan->rounds);
    free(plan->final_a);
    free(plan->final_b);
    memset(plan, 0, sizeof(*plan));
}
