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

struct sample {
    uint64_t t_ns;   /* monotonic clock */
    uint64_t cpu_ns; /* the co-runner thread's own CPU time */
    uint64_t lookups;
};

struct zc_corunner {
    pthread_t thread;
    bool running;
    int cpu;
    uint64_t *table;
    size_t table_bytes;
    uint64_t entries;
    struct sample *samples;
    size_t max_samples;
    size_t nsamples; /* written by the thread, read after join */
    int stop;        /* atomic: set by zc_corunner_stop() */
    uint64_t sink;   /* keeps the lookups from being optimized away */
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

/* The L3's size as the kernel reports it (sysfs), else as the C library
 * does (cpuid, which under a hypervisor may describe the host), else 0. */
static size_t l3_bytes(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "re");
    if (f) {
        unsigned long kib = 0;
        char unit = 0;
        int n = fscanf(f, "%lu%c", &kib, &unit);
        fclose(f);
        if (n == 2 && unit == 'K' && kib > 0)
            return (size_t)kib << 10;
    }
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return l3 > 0 ? (size_t)l3 : 0;
}

/* Most of the L3: the co-runner alone runs from it, and a stream of
 * ordinary stores through the other core's L2 pushes it out. */
static size_t default_table_bytes(void)
{
    size_t l3 = l3_bytes();
    return l3 ? l3 / 8 * 7 : (size_t)28 << 20;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *corunner_main(void *arg)
{
    struct zc_corunner *c = arg;
    if (c->cpu >= 0)
        zc_stream_pin_cpu(c->cpu);
    const uint64_t *t = c->table;
    uint64_t x = 0x9e3779b97f4a7c15ull, v = 0, lookups = 0, next_sample = 0;
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        for (int i = 0; i < LOOKUP_BATCH; i++) {
            /* The next index depends on the value just read: one miss at a time. */
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            v = t[(uint64_t)(((unsigned __int128)(x ^ v) * c->entries) >> 64)];
        }
        lookups += LOOKUP_BATCH;
        uint64_t now = zc_now_ns();
        if (now >= next_sample && c->nsamples < c->max_samples) {
            c->samples[c->nsamples++] = (struct sample){now, thread_cpu_ns(), lookups};
            next_sample = now + SAMPLE_NS;
        }
    }
    c->sink = v;
    return NULL;
}

int zc_corunner_start(struct zc_corunner **cp, int cpu, size_t table_bytes, double max_seconds)
{
    if (!cp || !(max_seconds > 0 && max_seconds < 86400))
        return -EINVAL;
    if (table_bytes == 0)
        table_bytes = default_table_bytes();
    size_t entries = ZC_MAX(table_bytes / sizeof(uint64_t), 512);
    struct zc_corunner *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->cpu = cpu;
    c->table_bytes = entries * sizeof(uint64_t);
    c->entries = entries;
    c->max_samples = (size_t)(max_seconds * 1e9 / SAMPLE_NS) + 16;
    c->samples = calloc(c->max_samples, sizeof(*c->samples));
    c->table = aligned_alloc(4096, (c->table_bytes + 4095) & ~(size_t)4095);
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

size_t zc_corunner_table_bytes(const struct zc_corunner *c)
{
    return c->table_bytes;
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
