/* stream.c - `zc bench stream`: the streaming-store copy and fill against
 * the best ordinary copy and fill, from one page to far beyond the L3.
 *
 * Each size is copied into a destination that rotates through a region
 * larger than the L3, so that every copy lands in memory that is not cached,
 * as a frame from a sensor does; above the L3 the source is as large as the
 * destination and cold too.  Peers, run interleaved with zc in the same run:
 * glibc memcpy and, on x86-64, `rep movsb` (what the kernel and many
 * libraries use for large copies); the "best" ordinary copy is the faster of
 * the two at each size.  The figure is the median of --reps interleaved
 * rounds.  Rates are GB/s (10^9 bytes a second) throughout.
 *
 * The headline, streaming against ordinary copies above the L3, needs a
 * size above the L3: where none is (a VM may report a host's L3 of hundreds
 * of MiB), it says so, in text and as JSON null, and gives no figure.
 */
#include "zc/base.h"
#include "zc/stream.h"
#include "cli.h"
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define REGION_BYTES ((size_t)512 << 20)
#define MIN_SIZE     ((size_t)4 << 10)
#define MAX_SIZE     ((size_t)256 << 20)
#define MAX_REPS     51
/* Bytes each method moves per size and round (enough for a stable rate). */
#define ROUND_BYTES ((size_t)512 << 20)

enum method { M_MEMCPY, M_MOVSB, M_NT, M_MEMSET, M_FILL_NT, NMETHODS };
static const char *const method_name[NMETHODS] = {"memcpy", "rep_movsb", "zc_copy_nt", "memset",
                                                  "zc_fill_nt"};

static void copy_movsb(void *dst, const void *src, size_t len)
{
#if defined(__x86_64__)
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(len) : : "memory");
#else
    memcpy(dst, src, len);
#endif
}

struct bench_mem {
    unsigned char *src, *dst;
    size_t l3;
};

/* GB/s of one method moving `size`-byte blocks for ROUND_BYTES. */
static double run_method(const struct bench_mem *m, enum method me, size_t size)
{
    size_t n = ZC_MAX(ROUND_BYTES / size, 1);
    size_t span = REGION_BYTES - REGION_BYTES % size;
    /* Above the L3 the source walks its region as the destination does; below, one hot block. */
    bool big = size > m->l3;
    uint64_t t0 = zc_now_ns();
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *d = m->dst + off;
        const unsigned char *s = m->src + (big ? off : 0);
        switch (me) {
        case M_MEMCPY:
            memcpy(d, s, size);
            break;
        case M_MOVSB:
            copy_movsb(d, s, size);
            break;
        case M_NT:
            zc_copy_nt(d, s, size);
            break;
        case M_MEMSET:
            memset(d, (int)(0x5a ^ i), size);
            break;
        default:
            zc_fill_nt(d, (int)(0x5a ^ i), size);
            break;
        }
        off += size;
        if (off + size > span)
            off = 0;
    }
    uint64_t ns = zc_now_ns() - t0;
    return (double)(n * size) / (double)ns;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: zc bench stream [--reps N] [--max-size BYTES] [--l3 BYTES] [--json]\n\n"
               "Streaming-store copy and fill (zc_copy_nt, zc_fill_nt) against memcpy,\n"
               "rep movsb and memset, 4 KiB to 256 MiB, into destinations that are not cached.\n"
               "Rates in GB/s (10^9 bytes/s).\n\n"
               "      --reps N          interleaved rounds, the median reported (default 7)\n"
               "      --max-size BYTES  the largest block tested (4K to 256M; default 256M)\n"
               "      --l3 BYTES        the L3 size to assume (default: what sysfs reports)\n"
               "      --json            one JSON object per size, then a summary, as the last\n"
               "                        line ({\"error\":...,\"errno\":...} on failure)\n"
               "  -h, --help            this text\n");
}

static size_t l3_size(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "re");
    unsigned long kib = 0;
    if (f) {
        if (fscanf(f, "%luK", &kib) != 1)
            kib = 0;
        fclose(f);
    }
    return kib ? (size_t)kib << 10 : (size_t)32 << 20;
}

/* The last line: streaming against the best ordinary copy over the sizes
 * above the L3, or, where no size is above it, that it was not measured. */
struct ratio_spread {
    double min, median, max;
};

/* The streaming copy over the better ordinary copy within each round (the
 * methods take turns, so a round's ratio compares runs under one load). */
static struct ratio_spread round_ratios(double v[][MAX_REPS], uint64_t reps)
{
    double r[MAX_REPS];
    struct ratio_spread s = {INFINITY, 0, -INFINITY};
    for (uint64_t i = 0; i < reps; i++) {
        r[i] = v[M_NT][i] / ZC_MAX(v[M_MEMCPY][i], v[M_MOVSB][i]);
        s.min = ZC_MIN(s.min, r[i]);
        s.max = ZC_MAX(s.max, r[i]);
    }
    s.median = zc_median(r, reps);
    return s;
}

static void summary(const struct bench_mem *m, uint64_t reps, unsigned big_sizes, double worst,
                    double best, bool json)
{
    static const char no_size[] = "no size above the L3: streaming copies of uncached data "
                                  "not measured on this machine";
    if (json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        zc_json_str(&j, "copy", zc_copy_nt_impl());
        zc_json_u64(&j, "l3_bytes", m->l3);
        zc_json_u64(&j, "reps", reps);
        zc_json_u64(&j, "sizes_above_l3", big_sizes);
        zc_json_bool(&j, "destinations_uncached", REGION_BYTES > m->l3);
        zc_json_num(&j, "nt_vs_best_copy_above_l3_min", worst);
        zc_json_num(&j, "nt_vs_best_copy_above_l3_max", best);
        if (!big_sizes)
            zc_json_str(&j, "note", no_size);
        zc_json_end(&j);
        return;
    }
    char l3[32];
    zc_fmt_bytes((double)m->l3, l3, sizeof(l3));
    if (REGION_BYTES <= m->l3)
        printf("the destinations (%zu MiB) fit in the L3 (%s): every figure is of copies into "
               "cached memory\n",
               REGION_BYTES >> 20, l3);
    if (big_sizes)
        printf("streaming copy (%s) above the L3 (%s): %.2f to %.2f x the best ordinary copy\n",
               zc_copy_nt_impl(), l3, worst, best);
    else
        printf("streaming copy (%s): %s (L3 %s)\n", zc_copy_nt_impl(), no_size, l3);
}

int cmd_bench_stream(int argc, char **argv)
{
    static const struct option opts[] = {
        {"reps", required_argument, NULL, 'r'}, {"max-size", required_argument, NULL, 'm'},
        {"l3", required_argument, NULL, 'l'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},       {0},
    };
    uint64_t reps = 7, max_size = MAX_SIZE, l3 = 0;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (zc_parse_u64(optarg, 1, MAX_REPS, &reps) < 0)
                return zc_usage_error("bench stream", "bad --reps '%s' (1 to %d)", optarg,
                                      MAX_REPS);
            break;
        case 'm':
            if (zc_parse_size(optarg, &max_size) < 0 || max_size < MIN_SIZE || max_size > MAX_SIZE)
                return zc_usage_error("bench stream", "bad --max-size '%s' (4K to 256M)", optarg);
            break;
        case 'l':
            if (zc_parse_size(optarg, &l3) < 0 || l3 == 0 || l3 > (1ull << 40))
                return zc_usage_error("bench stream", "bad --l3 '%s' (bytes, 1 to 1T)", optarg);
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return ZC_EXIT_OK;
        default:
            return zc_usage_error("bench stream", "unknown option");
        }
    }
    if (optind < argc)
        return zc_usage_error("bench stream", "unexpected argument '%s'", argv[optind]);

    struct bench_mem m = {.l3 = l3 ? (size_t)l3 : l3_size()};
    unsigned char *region = mmap(NULL, 2 * REGION_BYTES, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (region == MAP_FAILED)
        return cli_job_failed(json, -errno, "cannot map %zu MiB: %s", 2 * REGION_BYTES >> 20,
                              zc_strerror(errno));
    m.src = region;
    m.dst = region + REGION_BYTES;
    memset(m.src, 0x5a, REGION_BYTES);

    static const size_t sizes[] = {MIN_SIZE, 8u << 10,  16u << 10, 64u << 10,  256u << 10, 1u << 20,
                                   4u << 20, 16u << 20, 64u << 20, 128u << 20, MAX_SIZE};
    /* Over the sizes above the L3 (NAN until there is one: JSON null). */
    double best_big_ratio = NAN, worst_big_ratio = NAN;
    unsigned big_sizes = 0;
    if (!json)
        printf("%10s %9s %9s %10s %9s %10s  %s\n", "size", "memcpy", "movsb", "copy_nt", "memset",
               "fill_nt", "nt / best copy: of the medians, and min / median / max of the rounds'");
    for (size_t k = 0; k < ZC_ARRAY_SIZE(sizes) && sizes[k] <= max_size; k++) {
        size_t size = sizes[k];
        double v[NMETHODS][MAX_REPS], med[NMETHODS];
        for (uint64_t r = 0; r < reps; r++)
            for (int me = 0; me < NMETHODS; me++) {
                /* Rotate which method goes first in each round. */
                int which = (int)((me + r) % NMETHODS);
                v[which][r] = run_method(&m, (enum method)which, size);
            }
        for (int me = 0; me < NMETHODS; me++)
            med[me] = zc_median(v[me], reps);
        double best = ZC_MAX(med[M_MEMCPY], med[M_MOVSB]);
        double ratio = med[M_NT] / best;
        struct ratio_spread rs = round_ratios(v, reps);
        if (size > m.l3) {
            best_big_ratio = big_sizes ? ZC_MAX(best_big_ratio, ratio) : ratio;
            worst_big_ratio = big_sizes ? ZC_MIN(worst_big_ratio, ratio) : ratio;
            big_sizes++;
        }
        if (json) {
            struct zc_json j;
            zc_json_begin(&j, stdout);
            zc_json_u64(&j, "size", size);
            for (int me = 0; me < NMETHODS; me++) {
                char key[40];
                snprintf(key, sizeof(key), "%s_GBps", method_name[me]);
                zc_json_num(&j, key, med[me]);
            }
            zc_json_num(&j, "nt_vs_best_copy", ratio);
            zc_json_num(&j, "nt_vs_best_copy_round_min", rs.min);
            zc_json_num(&j, "nt_vs_best_copy_round_median", rs.median);
            zc_json_num(&j, "nt_vs_best_copy_round_max", rs.max);
            zc_json_end(&j);
        } else {
            char b[32];
            printf("%10s %9.2f %9.2f %10.2f %9.2f %10.2f  %.2f  %.2f / %.2f / %.2f\n",
                   zc_fmt_bytes((double)size, b, sizeof(b)), med[M_MEMCPY], med[M_MOVSB], med[M_NT],
                   med[M_MEMSET], med[M_FILL_NT], ratio, rs.min, rs.median, rs.max);
        }
    }
    munmap(region, 2 * REGION_BYTES);
    summary(&m, reps, big_sizes, worst_big_ratio, best_big_ratio, json);
    return ZC_EXIT_OK;
}
