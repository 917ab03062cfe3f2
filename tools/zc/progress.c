/* progress.c - the progress line of long jobs: bytes, rate, ETA.
 *
 * Drawn with '\r' on stderr only when stderr is a terminal, and at most
 * every 100 ms, so that the cost per update is one clock read.
 */
#include "progress.h"
#include "zc/base.h"

#include <stdio.h>
#include <unistd.h>

#define PROGRESS_REDRAW_NS 100000000ull

void zc_progress_start(struct zc_progress *p, const char *label, uint64_t total, bool quiet)
{
    p->label = label ? label : "";
    p->unit = NULL;
    p->total = total;
    p->done = 0;
    p->start_ns = zc_now_ns();
    p->last_draw_ns = 0;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->drawn = false;
}

void zc_progress_grow(struct zc_progress *p, uint64_t bytes)
{
    /* Relaxed: read only for display. */
    __atomic_fetch_add(&p->total, bytes, __ATOMIC_RELAXED);
}

/* A count of units ("12 / 64 tiles") instead of bytes. */
static void draw_count(struct zc_progress *p, uint64_t n)
{
    double pct = p->total ? 100.0 * (double)n / (double)p->total : 0;
    fprintf(stderr, "\r%s %5.1f%%  %llu / %llu %s  ", p->label, pct, (unsigned long long)n,
            (unsigned long long)p->total, p->unit);
}

static void draw(struct zc_progress *p, uint64_t now)
{
    if (p->unit) {
        draw_count(p, __atomic_load_n(&p->done, __ATOMIC_RELAXED));
        __atomic_store_n(&p->drawn, true, __ATOMIC_RELAXED);
        return;
    }
    char done[32], total[32], rate[32];
    double secs = zc_ns_to_s(now - p->start_ns);
    uint64_t n = __atomic_load_n(&p->done, __ATOMIC_RELAXED);
    double bps = secs > 0 ? (double)n / secs : 0;
    zc_fmt_bytes((double)n, done, sizeof(done));
    zc_fmt_bytes(bps, rate, sizeof(rate));
    if (p->total) {
        zc_fmt_bytes((double)p->total, total, sizeof(total));
        double pct = 100.0 * (double)n / (double)p->total;
        double eta = bps > 0 && p->total > n ? (double)(p->total - n) / bps : 0;
        fprintf(stderr, "\r%s %5.1f%%  %s / %s  %s/s  ETA %02u:%02u  ", p->label, pct, done, total,
                rate, (unsigned)(eta / 60), (unsigned)eta % 60);
    } else {
        fprintf(stderr, "\r%s %s  %s/s  ", p->label, done, rate);
    }
    __atomic_store_n(&p->drawn, true, __ATOMIC_RELAXED);
}

void zc_progress_add(struct zc_progress *p, uint64_t bytes)
{
    /* Relaxed: a counter read only for display, no other memory depends on it. */
    __atomic_fetch_add(&p->done, bytes, __ATOMIC_RELAXED);
    if (!p->enabled)
        return;
    uint64_t now = zc_now_ns();
    uint64_t last = __atomic_load_n(&p->last_draw_ns, __ATOMIC_RELAXED);
    /* Whoever moves last_draw_ns forward draws; relaxed for the same reason. */
    if (now - last >= PROGRESS_REDRAW_NS &&
        __atomic_compare_exchange_n(&p->last_draw_ns, &last, now, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
        draw(p, now);
}

void zc_progress_finish(struct zc_progress *p)
{
    if (!p->enabled || !p->drawn)
        return;
    uint64_t now = zc_now_ns();
    __atomic_store_n(&p->last_draw_ns, now, __ATOMIC_RELAXED);
    draw(p, now);
    fputc('\n', stderr);
}

void zc_progress_report(void *arg, uint64_t done, uint64_t more_total)
{
    struct zc_progress *p = arg;
    if (more_total)
        zc_progress_grow(p, more_total);
    zc_progress_add(p, done);
}

void zc_progress_tiles(void *arg, unsigned done, unsigned total)
{
    struct zc_progress *p = arg;
    (void)done; /* each call is one more tile, from whichever thread drew it */
    __atomic_store_n(&p->total, total, __ATOMIC_RELAXED);
    zc_progress_add(p, 1);
}
