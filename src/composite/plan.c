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
 * A round finds its groups in one pass over the ranks, hashing each one's
 * (block, region): planning costs O(N) per round in the rank count.
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
static unsigned binary_swap_rounds(const int dims[3], struct composite_round_spec *out)
{
    unsigned n = 0;
    for (int d = 0; d < 3; d++) {
        unsigned q = pow2_floor((unsigned)dims[d]);
        if (q != (unsigned)dims[d])
            out[n++] = (struct composite_round_spec){{1, 1, 1}, d};
        for (; q > 1; q /= 2) {
            out[n] = (struct composite_round_spec){{1, 1, 1}, -1};
            out[n++].f[d] = 2;
        }
    }
    return n;
}

/* Radix-k: the prime factors of every axis' count, packed axis by axis
 * into rounds whose group size stays within kmax (a prime above kmax is
 * a round of its own). */
static unsigned radix_k_rounds(const int dims[3], unsigned kmax, struct composite_round_spec *out)
{
    unsigned f[3][32], nf[3], at[3] = {0, 0, 0}, n = 0;
    for (int d = 0; d < 3; d++)
        nf[d] = prime_factors((unsigned)dims[d], f[d]);
    for (;;) {
        struct composite_round_spec r = {{1, 1, 1}, -1};
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

unsigned composite_round_specs(const int dims[3], enum zc_composite_algo algo, unsigned kmax,
                               struct composite_round_spec *out)
{
    return algo == ZC_COMPOSITE_RADIX_K ? radix_k_rounds(dims, kmax, out)
                                        : binary_swap_rounds(dims, out);
}

struct rank_state {
    int coords[3];
    bool alive;
    size_t a, b;
};

void composite_next_units(const struct composite_round_spec *r, const int dims[3],
                          unsigned *unit[3])
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

/* What makes a group: the merged block (its units along each axis) and
 * the region its members hold. */
struct group_key {
    unsigned unit[3];
    size_t a;
};

/* A round's groups, found by hashing each live rank's key: one pass in
 * rank order, which is the grid order (MPI numbers a Cartesian grid
 * row-major), so a rank's index in its group is the group's count when
 * the rank arrives.  Open addressing, at most half full. */
struct group_table {
    struct group_key *keys;
    int *count;  /* members; 0: free slot */
    size_t mask; /* slots - 1, a power of two >= 2 * ranks */
    int *group;  /* per rank: its slot, or -1 when dead */
    int *index;  /* per rank: its position in the group */
};

static int group_table_init(struct group_table *t, int n)
{
    size_t slots = 2;
    while (slots < 2 * (size_t)n)
        slots *= 2;
    t->mask = slots - 1;
    t->keys = malloc(slots * sizeof(*t->keys));
    t->count = malloc(slots * sizeof(*t->count));
    t->group = malloc((size_t)n * sizeof(*t->group));
    t->index = malloc((size_t)n * sizeof(*t->index));
    return t->keys && t->count && t->group && t->index ? 0 : -ENOMEM;
}

static void group_table_free(struct group_table *t)
{
    free(t->keys);
    free(t->count);
    free(t->group);
    free(t->index);
}

static size_t key_hash(const struct group_key *k)
{
    uint64_t h = k->a * 0x9e3779b97f4a7c15u;
    for (int d = 0; d < 3; d++)
        h = (h ^ k->unit[d]) * 0xff51afd7ed558ccdu;
    return (size_t)(h ^ h >> 29);
}

static bool key_equal(const struct group_key *x, const struct group_key *y)
{
    return x->a == y->a && x->unit[0] == y->unit[0] && x->unit[1] == y->unit[1] &&
           x->unit[2] == y->unit[2];
}

/* The slot of key, claimed if new. */
static int group_slot(struct group_table *t, const struct group_key *key)
{
    size_t i = key_hash(key) & t->mask;
    while (t->count[i] && !key_equal(&t->keys[i], key))
        i = (i + 1) & t->mask;
    t->keys[i] = *key;
    return (int)i;
}

/* Every live rank's group and index in it. */
static void find_groups(struct group_table *t, const struct rank_state *st, int n,
                        unsigned *const unit[3])
{
    memset(t->count, 0, (t->mask + 1) * sizeof(*t->count));
    for (int r = 0; r < n; r++) {
        t->group[r] = -1;
        if (!st[r].alive)
            continue;
        struct group_key key = {.a = st[r].a};
        for (int d = 0; d < 3; d++)
            key.unit[d] = unit[d][st[r].coords[d]];
        int g = group_slot(t, &key);
        t->group[r] = g;
        t->index[r] = t->count[g]++;
    }
}

/* This rank's round: its group's members in grid order (member j receives
 * part j). */
static int record_round(const struct group_table *t, const struct rank_state *st, int n, int self,
                        struct composite_round *round, struct composite_plan *plan)
{
    const int g = t->group[self], k = round->nmembers;
    round->members = malloc((size_t)k * sizeof(int));
    round->coords = malloc((size_t)k * sizeof(*round->coords));
    if (!round->members || !round->coords) {
        free(round->members);
        free(round->coords);
        return -ENOMEM;
    }
    for (int s = 0, at = 0; s < n && at < k; s++)
        if (t->group[s] == g) {
            round->members[at] = s;
            memcpy(round->coords[at++], st[s].coords, sizeof(st[s].coords));
        }
    plan->rounds[plan->nrounds++] = *round;
    return 0;
}

/* Plays one round for every rank; records this rank's part of it. */
static int play_round(struct group_table *t, struct rank_state *st, int n, int self, int step,
                      bool fold, unsigned *const unit[3], struct composite_plan *plan)
{
    find_groups(t, st, n, unit);
    int err = 0;
    for (int r = 0; r < n; r++) {
        if (t->group[r] < 0 || t->count[t->group[r]] == 1)
            continue;
        struct composite_round round = {.step = step,
                                        .nmembers = t->count[t->group[r]],
                                        .me = t->index[r],
                                        .fold = fold,
                                        .a = st[r].a,
                                        .b = st[r].b};
        if (r == self)
            err = record_round(t, st, n, self, &round, plan);
        /* The groups were found from the states before the round, so each
         * rank's state can move on in place. */
        composite_part(&round, round.me, &st[r].a, &st[r].b);
        if (fold && round.me > 0)
            st[r].alive = false;
    }
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

    struct composite_round_spec specs[COMPOSITE_MAX_ROUNDS];
    unsigned nspecs = composite_round_specs(dims, algo, kmax, specs);

    struct rank_state *st = calloc((size_t)n, sizeof(*st));
    struct group_table groups;
    plan->rounds = calloc(nspecs + 1, sizeof(*plan->rounds));
    plan->final_a = calloc((size_t)n, sizeof(size_t));
    plan->final_b = calloc((size_t)n, sizeof(size_t));
    unsigned *unit[3];
    for (int d = 0; d < 3; d++)
        unit[d] = calloc((size_t)dims[d], sizeof(unsigned));
    int err = group_table_init(&groups, n) == 0 && st && plan->rounds && plan->final_a &&
                      plan->final_b && unit[0] && unit[1] && unit[2]
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
        composite_next_units(&specs[i], dims, unit);
        err = play_round(&groups, st, n, self, (int)i, specs[i].fold >= 0, unit, plan);
    }
    for (int r = 0; r < n && !err; r++) {
        plan->final_a[r] = st[r].alive ? st[r].a : 0;
        plan->final_b[r] = st[r].alive ? st[r].b : 0;
    }
    free(st);
    group_table_free(&groups);
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
