/* plan.c - the compositing schedule: which ranks merge which image region
 * in which round.
 *
 * The idea: run the whole schedule in every rank's head before the first
 * frame.  Bricks sit on a Cartesian grid; the rounds take the axes one at
 * a time, and along an axis they merge neighbouring "units" (runs of brick
 * positions that have already been merged):
 *
 *   radix-k, p = 6, k = 3:   units 0 1 2 3 4 5  ->  [0 1 2] [3 4 5]  ->  [0 .. 5]
 *                            (a round of 3, then a round of 2)
 *   binary swap, p = 3:      fold 1 into 0: [0 1] [2], then a round of 2
 *
 * In a round, the ranks in one merge set that hold the same image region
 * form a group; a group's members are slabs side by side along the axis,
 * so one plane separates each from the next and their visibility order is
 * their position order (or its reverse).  Every row of bricks runs the same
 * schedule, so the regions line up across rows for the next axis.  The
 * planning is O(N^2) per round in the rank count, done once.
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

/* Radix-k's factors of p: the largest divisor <= kmax each time, or the
 * smallest prime factor when p has none that small. */
static unsigned radix_factors(unsigned p, unsigned kmax, unsigned *f)
{
    unsigned n = 0;
    while (p > 1) {
        unsigned best = 0;
        for (unsigned k = ZC_MIN(kmax, p); k >= 2 && !best; k--)
            if (p % k == 0)
                best = k;
        for (unsigned k = 2; !best; k++)
            if (p % k == 0)
                best = k;
        f[n++] = best;
        p /= best;
    }
    return n;
}

struct axis_round {
    unsigned factor; /* units merged per set; 0: the binary-swap fold */
};

/* The rounds along an axis of p bricks. */
static unsigned axis_rounds(enum zc_composite_algo algo, unsigned p, unsigned kmax,
                            struct axis_round *out)
{
    unsigned f[32], n = 0;
    if (algo == ZC_COMPOSITE_RADIX_K) {
        unsigned nf = radix_factors(p, kmax, f);
        for (unsigned i = 0; i < nf; i++)
            out[n++].factor = f[i];
        return n;
    }
    unsigned q = 1;
    while (q * 2 <= p)
        q *= 2;
    if (q != p)
        out[n++].factor = 0;
    for (; q > 1; q /= 2)
        out[n++].factor = 2;
    return n;
}

struct rank_state {
    int coords[3];
    bool alive;
    size_t a, b;
};

static void next_units(const struct axis_round *r, unsigned p, unsigned *unit)
{
    if (r->factor == 0) {
        unsigned q = 1;
        while (q * 2 <= p)
            q *= 2;
        unsigned extra = p - q;
        for (unsigned pos = 0; pos < p; pos++)
            unit[pos] = pos < 2 * extra ? pos / 2 : pos - extra;
        return;
    }
    for (unsigned pos = 0; pos < p; pos++)
        unit[pos] /= r->factor;
}

static bool same_group(const struct rank_state *x, const struct rank_state *y, int d,
                       const unsigned *unit)
{
    for (int a = 0; a < 3; a++)
        if (a != d && x->coords[a] != y->coords[a])
            return false;
    return x->alive && y->alive && unit[x->coords[d]] == unit[y->coords[d]] && x->a == y->a;
}

/* Plays one round for every rank; records this rank's part of it. */
static int play_round(struct rank_state *st, int n, int self, int step, int d,
                      const struct axis_round *ar, const unsigned *unit,
                      struct composite_plan *plan)
{
    int *members = malloc((size_t)n * sizeof(int));
    struct rank_state *next = malloc((size_t)n * sizeof(*next));
    if (!members || !next) {
        free(members);
        free(next);
        return -ENOMEM;
    }
    memcpy(next, st, (size_t)n * sizeof(*next));
    for (int r = 0; r < n; r++) {
        if (!st[r].alive)
            continue;
        int k = 0, j = 0;
        for (int s = 0; s < n; s++)
            if (same_group(&st[r], &st[s], d, unit)) {
                k++;
                if (st[s].coords[d] < st[r].coords[d])
                    j++;
            }
        if (k == 1)
            continue;
        struct composite_round round = {
            .axis = d, .nmembers = k, .me = j, .fold = ar->factor == 0, .a = st[r].a, .b = st[r].b};
        composite_part(&round, j, &next[r].a, &next[r].b);
        if (round.fold && j > 0)
            next[r].alive = false;
        if (r != self)
            continue;
        for (int s = 0, m = 0; s < n; s++)
            if (same_group(&st[r], &st[s], d, unit))
                members[m++] = s;
        /* Ranks ascend in Cartesian order, but sort by position to be sure. */
        for (int x = 1; x < k; x++)
            for (int y = x; y > 0 && st[members[y]].coords[d] < st[members[y - 1]].coords[d]; y--) {
                int t = members[y];
                members[y] = members[y - 1];
                members[y - 1] = t;
            }
        round.members = members;
        members = NULL;
        plan->rounds[plan->nrounds++] = round;
    }
    memcpy(st, next, (size_t)n * sizeof(*next));
    free(members);
    free(next);
    return 0;
}

int composite_plan_make(MPI_Comm cart, enum zc_composite_algo algo, unsigned kmax, size_t npixels,
                        struct composite_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    int n, self, dims[3], periods[3], mycoords[3];
    MPI_Comm_size(cart, &n);
    MPI_Comm_rank(cart, &self);
    MPI_Cart_get(cart, 3, dims, periods, mycoords);

    struct rank_state *st = calloc((size_t)n, sizeof(*st));
    plan->rounds = calloc(3 * 64, sizeof(*plan->rounds));
    plan->final_a = calloc((size_t)n, sizeof(size_t));
    plan->final_b = calloc((size_t)n, sizeof(size_t));
    unsigned *unit = calloc((size_t)n + 1, sizeof(unsigned));
    int err = st && plan->rounds && plan->final_a && plan->final_b && unit ? 0 : -ENOMEM;
    for (int r = 0; r < n && !err; r++) {
        MPI_Cart_coords(cart, r, 3, st[r].coords);
        st[r].alive = true;
        st[r].b = npixels;
    }
    int step = 0;
    for (int d = 0; d < 3 && !err; d++) {
        unsigned p = (unsigned)dims[d];
        struct axis_round ar[64];
        unsigned nr = axis_rounds(algo, p, kmax, ar);
        for (unsigned pos = 0; pos < p; pos++)
            unit[pos] = pos;
        for (unsigned i = 0; i < nr && !err; i++) {
            next_units(&ar[i], p, unit);
            err = play_round(st, n, self, step++, d, &ar[i], unit, plan);
        }
    }
    for (int r = 0; r < n && !err; r++) {
        plan->final_a[r] = st[r].alive ? st[r].a : 0;
        plan->final_b[r] = st[r].alive ? st[r].b : 0;
    }
    free(st);
    free(unit);
    if (err)
        composite_plan_free(plan);
    return err;
}

void composite_plan_free(struct composite_plan *plan)
{
    for (unsigned i = 0; plan->rounds && i < plan->nrounds; i++)
        free(plan->rounds[i].members);
    free(plan->rounds);
    free(plan->final_a);
    free(plan->final_b);
    memset(plan, 0, sizeof(*plan));
}
