/* corunner.c - the working set that cache-polite ingest should leave alone.
 *
 * The co-runner stands for whatever the CPU does while sensor data pours in
 * (planning, tracking, an index lookup): dependent random reads in a table
 * larger than its core's private L2 but inside the shared L3.  Each lookup
 * needs the one before it, so the loop runs at the speed of the cache the
 * table lives in: an L3 hit costs tens of nanoseconds, a line evicted by
 * someone else's stores costs a trip to DRAM.  Ingest written with ordinary
 * stores pushes the table out of the L3; streaming stores should not.
 *
 * The thread logs (time, its own CPU time, lookups) about once a millisecond
 * into a buffer sized up front, so that the caller can read back the rate of
 * any window afterwards without stopping or signalling the co-runner between
 * phases.  The rate is per second of the co-runner's own CPU time: time the
 * scheduler gives to other programs on its core is not counted as loss, only
 * what the caches do to it.
 */
#define _GNU_SOURCE 1
#include "zc/base.h"
#include "zc/stream.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Lookups between two looks at the clock and the stop flag. */
#define LOOKUP_BATCH 2048
#define SAMPLE_NS    1000000ull
/* One rate measurement: warm-up and measurement, CPU time. */
#define REF_WARM_NS    10000000ull
#define REF_MEASURE_NS 40000000ull
/* The table that runs from DRAM: FAR_FACTOR times the L3, within bounds. */
#define FAR_FACTOR    8
#define FAR_MIN_BYTES ((size_t)64 << 20)
#define FAR_MAX_BYTES ((size_t)1 << 30)
/* A table size is kept when its lookups run this many times as fast as
 * from DRAM: a margin over the check zc ingest applies (3x by default). */
#define CALIBRATE_RATIO 4

struct sample {
    uint64_t t_ns;   /* monotonic clock */
    uint64_t cpu_ns; /* the co-runner thread's own CPU time */
    uint64_t lookups;
};

struct zc_corunner {
    pthread_t thread;
    bool running;
    int cpu;
    bool calibrate; /* choose the table's size by measuring (calibrate_table) */
    uint64_t *table;
    uint64_t entries; /* in use: the whole table, or the prefix calibrate_table() kept */
    struct sample *samples;
    size_t max_samples;
    size_t nsamples; /* written by the thread, read after join */
    int stop;        /* atomic: set by zc_corunner_stop() */
    int ready;       /* atomic: set once far_rate is measured */
    double far_rate; /* lookups per CPU second in a table far larger than the L3 */
    uint64_t x, v;   /* the lookup chain (the thread's) */
};

int zc_stream_pin_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return -EINVAL;
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    return -rc;
}

/* The size of cache level (2 or 3) as the kernel reports it (sysfs), else
 * as the C library does (cpuid, which under a hypervisor may describe the
 * host), else 0. */
static size_t cache_bytes(int level)
{
    char path[64];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", level);
    FILE *f = fopen(path, "re");
    if (f) {
        unsigned long kib = 0;
        char unit = 0;
        int n = fscanf(f, "%lu%c", &kib, &unit);
        fclose(f);
        if (n == 2 && unit == 'K' && kib > 0)
            return (size_t)kib << 10;
    }
    long b = sysconf(level == 2 ? _SC_LEVEL2_CACHE_SIZE : _SC_LEVEL3_CACHE_SIZE);
    return b > 0 ? (size_t)b : 0;
}

/* The most a table may be: the L3 the CPU reports. */
static size_t max_table_bytes(void)
{
    size_t l3 = cache_bytes(3);
    return l3 ? l3 : (size_t)32 << 20;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* LOOKUP_BATCH dependent lookups in the first `entries` of the table. */
static void lookup_batch(struct zc_corunner *c, uint64_t entries)
{
    const uint64_t *t = c->table;
    uint64_t x = c->x, v = c->v;
    for (int i = 0; i < LOOKUP_BATCH; i++) {
        /* The next index depends on the value just read: one miss at a time. */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        v = t[(uint64_t)(((unsigned __int128)(x ^ v) * entries) >> 64)];
    }
    c->x = x, c->v = v;
}

/* Lookups per CPU second in the first `entries` of the table, after a
 * warm-up that brings them into the caches. */
static double lookup_rate(struct zc_corunner *c, uint64_t entries)
{
    uint64_t t0 = thread_cpu_ns(), n = 0;
    while (thread_cpu_ns() - t0 < REF_WARM_NS)
        lookup_batch(c, entries);
    t0 = thread_cpu_ns();
    uint64_t t1 = t0;
    while (t1 - t0 < REF_MEASURE_NS) {
        lookup_batch(c, entries);
        n += LOOKUP_BATCH;
        t1 = thread_cpu_ns();
    }
    return (double)n / zc_ns_to_s(t1 - t0);
}

/* Lookups per CPU second, the best of three: interference only ever slows a
 * measurement down. */
static double best_lookup_rate(struct zc_corunner *c, uint64_t entries)
{
    double best = 0;
    for (int i = 0; i < 3; i++)
        best = ZC_MAX(best, lookup_rate(c, entries));
    return best;
}

/* The rate from DRAM: the same lookups in a table FAR_FACTOR times the L3
 * (64 MiB to 1 GiB), allocated for this and freed.  Its pages are touched
 * (untouched ones would all read the one zero page, from cache); the values
 * do not matter, since each address depends on the value read before it
 * whatever that value is.  0 when the memory cannot be had. */
static double far_lookup_rate(struct zc_corunner *c)
{
    size_t bytes = ZC_MIN(ZC_MAX(FAR_FACTOR * max_table_bytes(), FAR_MIN_BYTES), FAR_MAX_BYTES);
    uint64_t *far = aligned_alloc(4096, bytes);
    if (!far)
        return 0;
    for (size_t i = 0; i < bytes / sizeof(uint64_t); i += 4096 / sizeof(uint64_t))
        far[i] = i;
    uint64_t *own = c->table;
    c->table = far;
    double r = best_lookup_rate(c, bytes / sizeof(uint64_t));
    c->table = own;
    free(far);
    return r;
}

/* The table the caches really hold.  The L3 a CPU reports may be shared
 * with other cores, other guests or a hypervisor, and a table bigger than
 * what is left runs from DRAM whatever ingest does.  So sweep the sizes from
 * twice the L2 up to the L3 and keep the largest whose lookups run at least
 * CALIBRATE_RATIO times as fast as from DRAM (far_rate): the largest working
 * set that lives in cache, the one ingest can hurt.  When none does, the
 * smallest is kept, and the caller's check against far_rate says so. */
static void calibrate_table(struct zc_corunner *c)
{
    uint64_t step = ZC_MAX(2 * cache_bytes(2), (size_t)1 << 20) / sizeof(uint64_t);
    uint64_t best = ZC_MIN(step, c->entries);
    for (uint64_t n = step; n <= c->entries; n *= 2) {
        double r = best_lookup_rate(c, n);
        zc_debug("co-runner: %.1f M lookups/s in %llu KiB (%.1f from DRAM)", r * 1e-6,
                 (unsigned long long)(n * sizeof(uint64_t) >> 10), c->far_rate * 1e-6);
        if (r < CALIBRATE_RATIO * c->far_rate)
            break;
        best = n;
    }
    c->entries = best;
}

static void *corunner_main(void *arg)
{
    struct zc_corunner *c = arg;
    if (c->cpu >= 0)
        zc_stream_pin_cpu(c->cpu);
    c->far_rate = far_lookup_rate(c);
    if (c->calibrate)
        calibrate_table(c);
    /* Publishes far_rate and entries to zc_corunner_start(), which waits
     * with an acquire load. */
    __atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
    uint64_t lookups = 0, next_sample = 0;
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        lookup_batch(c, c->entries);
        lookups += LOOKUP_BATCH;
        uint64_t now = zc_now_ns();
        if (now >= next_sample && c->nsamples < c->max_samples) {
            c->samples[c->nsamples++] = (struct sample){now, thread_cpu_ns(), lookups};
            next_sample = now + SAMPLE_NS;
        }
    }
    return NULL;
}

int zc_corunner_start(struct zc_corunner **cp, int cpu, size_t table_bytes, double max_seconds)
{
    if (!cp || !(max_seconds > 0 && max_seconds < 86400))
        return -EINVAL;
    bool calibrate = table_bytes == 0;
    if (calibrate)
        table_bytes = max_table_bytes();
    size_t entries = ZC_MAX(table_bytes / sizeof(uint64_t), 512);
    struct zc_corunner *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->cpu = cpu;
    c->calibrate = calibrate;
    c->entries = entries;
    c->x = 0x9e3779b97f4a7c15ull;
    c->max_samples = (size_t)(max_seconds * 1e9 / SAMPLE_NS) + 16;
    c->samples = calloc(c->max_samples, sizeof(*c->samples));
    c->table = aligned_alloc(4096, (entries * sizeof(uint64_t) + 4095) & ~(size_t)4095);
    if (!c->samples || !c->table) {
        zc_corunner_destroy(c);
        return -ENOMEM;
    }
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < entries; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        c->table[i] = x;
    }
    int rc = pthread_create(&c->thread, NULL, corunner_main, c);
    if (rc) {
        zc_corunner_destroy(c);
        return -rc;
    }
    c->running = true;
    /* Pairs with the release store after the measurements at start. */
    while (!__atomic_load_n(&c->ready, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    *cp = c;
    return 0;
}

void zc_corunner_stop(struct zc_corunner *c)
{
    if (!c || !c->running)
        return;
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
    pthread_join(c->thread, NULL);
    c->running = false;
}

int zc_corunner_rate(const struct zc_corunner *c, uint64_t t0, uint64_t t1, double *rate)
{
    *rate = 0;
    if (c->running)
        return -EBUSY;
    size_t a = 0;
    while (a < c->nsamples && c->samples[a].t_ns < t0)
        a++;
    size_t b = a;
    while (b + 1 < c->nsamples && c->samples[b + 1].t_ns <= t1)
        b++;
    if (b >= c->nsamples || b <= a)
        return -ENODATA;
    const struct sample *s = &c->samples[a], *e = &c->samples[b];
    if (e->cpu_ns <= s->cpu_ns)
        return -ENODATA;
    *rate = (double)(e->lookups - s->lookups) / zc_ns_to_s(e->cpu_ns - s->cpu_ns);
    return 0;
}

double zc_corunner_far_rate(const struct zc_corunner *c)
{
    return c->far_rate;
}

size_t zc_corunner_table_bytes(const struct zc_corunner *c)
{
    return c->entries * sizeof(uint64_t);
}

void zc_corunner_destroy(struct zc_corunner *c)
{
    if (!c)
        return;
    zc_corunner_stop(c);
    free(c->table);
    free(c->samples);
    free(c);
}
