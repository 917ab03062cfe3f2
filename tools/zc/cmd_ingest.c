/* cmd_ingest.c - `zc ingest`: simulated sensors pour frames into a frame
 * pool at a set rate, and (with --corunner) what that does to a working-set
 * workload on the other core, with streaming stores against ordinary ones.
 *
 * The co-runner measurement interleaves short phases (alone, regular-store
 * ingest, streaming ingest, in a rotating order), compares each ingest phase
 * with the alone phase of its own round and takes the median over rounds,
 * so that a burst of unrelated load on the machine moves one round, not the
 * verdict; min and max over rounds show the spread.  Where the co-runner
 * alone does not run several times faster than from DRAM (other guests
 * hold the L3), where its alone rounds differ among themselves by more than
 * the effect, or where it shares its core with the ingest, the losses
 * measure nothing and are reported as not measurable, never as a figure.
 *
 * Rates are in binary units, as --rate reads them and the progress line
 * shows them (1G = 1 GiB/s); JSON gives bytes per second.
 */
#define _GNU_SOURCE 1
#include "cli.h"
#include "cmd.h"
#include "zc/base.h"
#include "progress.h"
#include "zc/stream.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The share of each phase left out of the co-runner's window while the
 * caches settle into the new phase. */
#define SETTLE_FRACTION 0.2
#define MIN_ROUNDS      5
#define MAX_ROUNDS      1000
/* The co-runner alone must run this many times as fast as from DRAM
 * (--min-ratio): otherwise its table is not in a cache it owns. */
#define MIN_RATIO 3.0

enum phase_kind { PHASE_ALONE, PHASE_REGULAR, PHASE_NT, PHASE_KINDS };
static const char *const phase_name[PHASE_KINDS] = {"alone", "regular", "nt"};

struct ingest_opts {
    struct zc_ingest_config cfg;
    double duration;
    double phase;
    enum zc_store store;
    bool corunner;
    int corunner_cpu; /* -1: no second CPU allowed */
    uint64_t table_bytes;
    double min_ratio;
    bool json;
};

static void ingest_usage(FILE *f)
{
    fprintf(
        f,
        "usage: zc ingest [--rate BYTES/s] [--duration S] [--store nt|regular] [--corunner]\n"
        "                 [--json] [options]\n\n"
        "Simulated cameras, LIDARs and radars write frames into a frame pool in shared\n"
        "memory (streaming stores with --store nt; with regular, the same copy loop with\n"
        "ordinary stores) and hand them to a consumer as ring descriptors.  Frames that\n"
        "find no free slot or that the producer reaches too late are dropped and counted.\n\n"
        "  -r, --rate R        ingest rate over all sensors, bytes/s (2G = 2 GiB/s; default 1G)\n"
        "  -d, --duration S    seconds to run (default 5)\n"
        "  -s, --store KIND    nt (default) or regular\n"
        "      --cameras N     camera sensors (1920x1080 YUV 4:2:2; default 4)\n"
        "      --lidars N      LIDAR sensors (2 MiB sweeps; default 1)\n"
        "      --radars N      radar sensors (512 KiB cubes; default 1)\n"
        "      --slots N       frame slots per sensor in the pool (default 8)\n"
        "      --verify        the consumer checksums every frame (it reads the payloads)\n"
        "      --cpu N         core of the producer and consumer (default: the first this\n"
        "                      process may use; the co-runner takes the next one)\n"
        "  -c, --corunner      measure a lookup workload on another core: alone, under\n"
        "                      regular and under streaming ingest, phases interleaved\n"
        "      --table BYTES   the co-runner's table (default: the largest that runs from\n"
        "                      cache here, measured at start)\n"
        "      --phase S       length of one measured phase (default 0.25); --duration\n"
        "                      must cover 5 rounds of 3 phases\n"
        "      --min-ratio R   the losses are measurable only where the co-runner alone\n"
        "                      runs R times as fast as on a table far larger than the\n"
        "                      L3 (default 3)\n"
        "      --persist FILE  the consumer writes every frame to FILE, a loop recording\n"
        "      --persist-mode direct|buffered\n"
        "                      with O_DIRECT (default) or through the page cache\n"
        "      --persist-max BYTES\n"
        "                      where the recording wraps (at least 64M; default 1G)\n"
        "      --json          print a JSON summary as the last line (rates in bytes/s;\n"
        "                      on failure {\"error\":MESSAGE,\"errno\":N})\n"
        "  -h, --help          this text\n");
}

static int parse_opts(int argc, char **argv, struct ingest_opts *o)
{
    enum {
        OPT_CAMERAS = 256,
        OPT_LIDARS,
        OPT_RADARS,
        OPT_SLOTS,
        OPT_VERIFY,
        OPT_CPU,
        OPT_TABLE,
        OPT_PHASE,
        OPT_MIN_RATIO,
        OPT_PERSIST,
        OPT_PERSIST_MODE,
        OPT_PERSIST_MAX,
        OPT_JSON
    };
    static const struct option opts[] = {
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"store", required_argument, NULL, 's'},
        {"cameras", required_argument, NULL, OPT_CAMERAS},
        {"lidars", required_argument, NULL, OPT_LIDARS},
        {"radars", required_argument, NULL, OPT_RADARS},
        {"slots", required_argument, NULL, OPT_SLOTS},
        {"verify", no_argument, NULL, OPT_VERIFY},
        {"cpu", required_argument, NULL, OPT_CPU},
        {"corunner", no_argument, NULL, 'c'},
        {"table", required_argument, NULL, OPT_TABLE},
        {"phase", required_argument, NULL, OPT_PHASE},
        {"min-ratio", required_argument, NULL, OPT_MIN_RATIO},
        {"persist", required_argument, NULL, OPT_PERSIST},
        {"persist-mode", required_argument, NULL, OPT_PERSIST_MODE},
        {"persist-max", required_argument, NULL, OPT_PERSIST_MAX},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    *o = (struct ingest_opts){
        .cfg = {.sensors = {4, 1, 1}, .rate = 1ull << 30, .cpu = -1},
        .duration = 5,
        .phase = 0.25,
        .min_ratio = MIN_RATIO,
        .store = ZC_STORE_NT,
    };
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:d:s:ch", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (zc_parse_size(optarg, &o->cfg.rate) < 0 || o->cfg.rate == 0 ||
                o->cfg.rate > (1ull << 40))
                return zc_usage_error("ingest", "bad --rate '%s' (bytes/s, 1 to 1T)", optarg);
            break;
        case 'd':
            if (zc_parse_double(optarg, &o->duration) < 0 || o->duration <= 0 || o->duration > 3600)
                return zc_usage_error("ingest", "bad --duration '%s' (seconds, up to 3600)",
                                      optarg);
            break;
        case 's':
            if (strcmp(optarg, "nt") == 0)
                o->store = ZC_STORE_NT;
            else if (strcmp(optarg, "regular") == 0)
                o->store = ZC_STORE_REGULAR;
            else
                return zc_usage_error("ingest", "bad --store '%s' (nt or regular)", optarg);
            break;
        case OPT_CAMERAS:
        case OPT_LIDARS:
        case OPT_RADARS:
            if (zc_parse_u64(optarg, 0, 16, &v) < 0)
                return zc_usage_error("ingest", "bad sensor count '%s' (0 to 16)", optarg);
            o->cfg.sensors[c - OPT_CAMERAS] = (unsigned)v;
            break;
        case OPT_SLOTS:
            if (zc_parse_u64(optarg, 1, 64, &v) < 0)
                return zc_usage_error("ingest", "bad --slots '%s' (1 to 64)", optarg);
            o->cfg.slots = (unsigned)v;
            break;
        case OPT_VERIFY:
            o->cfg.verify = true;
            break;
        case OPT_CPU:
            if (zc_parse_u64(optarg, 0, 1023, &v) < 0)
                return zc_usage_error("ingest", "bad --cpu '%s'", optarg);
            o->cfg.cpu = (int)v;
            break;
        case 'c':
            o->corunner = true;
            break;
        case OPT_TABLE:
            if (zc_parse_size(optarg, &o->table_bytes) < 0 || o->table_bytes < 4096 ||
                o->table_bytes > (1ull << 34))
                return zc_usage_error("ingest", "bad --table '%s' (4K to 16G)", optarg);
            break;
        case OPT_PHASE:
            if (zc_parse_double(optarg, &o->phase) < 0 || o->phase < 0.02 || o->phase > 60)
                return zc_usage_error("ingest", "bad --phase '%s' (0.02 to 60 s)", optarg);
            break;
        case OPT_MIN_RATIO:
            if (zc_parse_double(optarg, &o->min_ratio) < 0 || !(o->min_ratio >= 1) ||
                o->min_ratio > 1e9)
                return zc_usage_error("ingest", "bad --min-ratio '%s' (1 to 1e9)", optarg);
            break;
        case OPT_PERSIST:
            o->cfg.persist_path = optarg;
            break;
        case OPT_PERSIST_MODE:
            if (strcmp(optarg, "direct") == 0)
                o->cfg.persist = ZC_PERSIST_DIRECT;
            else if (strcmp(optarg, "buffered") == 0)
                o->cfg.persist = ZC_PERSIST_BUFFERED;
            else
                return zc_usage_error("ingest", "bad --persist-mode '%s' (direct or buffered)",
                                      optarg);
            break;
        case OPT_PERSIST_MAX:
            if (zc_parse_size(optarg, &o->cfg.persist_max_bytes) < 0 ||
                o->cfg.persist_max_bytes < (64u << 20))
                return zc_usage_error("ingest", "bad --persist-max '%s' (at least 64M)", optarg);
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case 'h':
            ingest_usage(stdout);
            return -1;
        default:
            return zc_usage_error("ingest", "unknown option");
        }
    }
    if (optind < argc)
        return zc_usage_error("ingest", "unexpected argument '%s'", argv[optind]);
    if (o->cfg.persist_path && o->cfg.persist == ZC_PERSIST_NONE)
        o->cfg.persist = ZC_PERSIST_DIRECT;
    if (o->cfg.persist != ZC_PERSIST_NONE && !o->cfg.persist_path)
        return zc_usage_error("ingest", "--persist-mode needs --persist FILE");
    if (!o->cfg.sensors[0] && !o->cfg.sensors[1] && !o->cfg.sensors[2])
        return zc_usage_error("ingest", "no sensors (--cameras, --lidars, --radars all 0)");
    if (o->corunner && o->duration < MIN_ROUNDS * PHASE_KINDS * o->phase)
        return zc_usage_error("ingest",
                              "--duration must cover %d rounds of three phases "
                              "(%d x --phase)",
                              MIN_ROUNDS, MIN_ROUNDS * PHASE_KINDS);
    return 0;
}

/* Bytes a second the sensors delivered; NAN (JSON null) when they never ran. */
static double achieved_rate(const struct zc_ingest_stats *st)
{
    return st->ns ? (double)st->bytes * 1e9 / (double)st->ns : NAN;
}

static const char *persist_name(enum zc_persist_mode m)
{
    return m == ZC_PERSIST_DIRECT ? "direct" : m == ZC_PERSIST_BUFFERED ? "buffered" : "none";
}

static void print_stats(const struct ingest_opts *o, const struct zc_ingest_stats *st,
                        uint64_t cached)
{
    char got[32], asked[32];
    zc_fmt_bytes(achieved_rate(st), got, sizeof(got));
    zc_fmt_bytes((double)o->cfg.rate, asked, sizeof(asked));
    printf("ingest: %s/s of %s/s asked, %llu frames, %llu dropped, %llu bad\n", got, asked,
           (unsigned long long)st->frames, (unsigned long long)st->dropped_frames,
           (unsigned long long)st->bad_frames);
    if (o->cfg.persist != ZC_PERSIST_NONE) {
        char b[32];
        printf("persist (%s): %llu frames written, %llu failed, %s of the recording in the "
               "page cache\n",
               persist_name(o->cfg.persist), (unsigned long long)st->persisted,
               (unsigned long long)st->persist_errors, zc_fmt_bytes((double)cached, b, sizeof(b)));
    }
}

static void json_stats(struct zc_json *j, const struct ingest_opts *o,
                       const struct zc_ingest_stats *st, uint64_t cached)
{
    zc_json_u64(j, "rate_Bps", o->cfg.rate);
    zc_json_num(j, "achieved_Bps", achieved_rate(st));
    zc_json_u64(j, "bytes", st->bytes);
    zc_json_num(j, "seconds", zc_ns_to_s(st->ns));
    zc_json_u64(j, "frames", st->frames);
    zc_json_u64(j, "dropped_frames", st->dropped_frames);
    zc_json_u64(j, "dropped_late", st->dropped_late);
    zc_json_u64(j, "missing_frames", st->missing_frames);
    zc_json_u64(j, "bad_frames", st->bad_frames);
    zc_json_str(j, "copy", zc_copy_nt_impl());
    zc_json_str(j, "persist", persist_name(o->cfg.persist));
    if (o->cfg.persist != ZC_PERSIST_NONE) {
        zc_json_u64(j, "persisted_frames", st->persisted);
        zc_json_u64(j, "persist_errors", st->persist_errors);
        zc_json_u64(j, "page_cache_bytes", cached);
    }
}

/* The recording's page-cache footprint now (0 when it cannot be read). */
static uint64_t cached_bytes(const struct zc_ingest *in)
{
    uint64_t b;
    int rc = zc_ingest_persist_cached(in, &b);
    if (rc < 0) {
        zc_warn("cannot read the page-cache footprint: %s", zc_strerror(rc));
        return 0;
    }
    return b;
}

/* One line on stderr for frames the consumer refused or could not write. */
static int verdict(const struct ingest_opts *o, const struct zc_ingest_stats *st)
{
    if (st->bad_frames)
        return cli_job_failed(o->json, -EBADMSG, "%llu frames failed the consumer's checks",
                              (unsigned long long)st->bad_frames);
    if (st->persist_errors)
        return cli_job_failed(o->json, -EIO, "%llu frames could not be written to the recording",
                              (unsigned long long)st->persist_errors);
    return ZC_EXIT_OK;
}

/* Counts bytes delivered on the progress line.  Each run's sensors deliver
 * their first frame at once, so a run can bring a little more than asked:
 * the total grows with it, and the line never passes 100 %. */
static void progress_add(struct zc_progress *pr, uint64_t bytes)
{
    if (pr->done + bytes > pr->total)
        zc_progress_grow(pr, pr->done + bytes - pr->total);
    zc_progress_add(pr, bytes);
}

/* Plain ingest with one store kind. */
static int ingest_only(const struct ingest_opts *o, struct zc_ingest *in)
{
    struct zc_ingest_stats st = {0};
    struct zc_progress pr;
    zc_progress_start(&pr, "ingest", (uint64_t)((double)o->cfg.rate * o->duration), o->json);
    /* One-second pieces so that the progress line moves. */
    int rc = 0;
    for (double left = o->duration; left > 0 && rc == 0; left -= 1) {
        uint64_t before = st.bytes;
        rc = zc_ingest_run(in, o->store, (uint64_t)(ZC_MIN(left, 1.0) * 1e9), &st);
        progress_add(&pr, st.bytes - before);
    }
    zc_progress_finish(&pr);
    if (rc < 0)
        return cli_job_failed(o->json, rc, "ingest failed: %s", zc_strerror(rc));
    uint64_t cached = cached_bytes(in);
    print_stats(o, &st, cached);
    if (o->json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        zc_json_str(&j, "store", o->store == ZC_STORE_NT ? "nt" : "regular");
        json_stats(&j, o, &st, cached);
        zc_json_end(&j);
    }
    return verdict(o, &st);
}

struct phase {
    size_t round;
    enum phase_kind kind;
    uint64_t t0, t1;
};

/* Median, least and greatest of n values. */
struct spread {
    double med, min, max;
};

static struct spread spread_of(double *v, size_t n)
{
    struct spread sp = {zc_median(v, n), v[0], v[0]};
    for (size_t i = 1; i < n; i++)
        sp.min = ZC_MIN(sp.min, v[i]), sp.max = ZC_MAX(sp.max, v[i]);
    return sp;
}

/* The co-runner's rate in each phase (rate[round * PHASE_KINDS + kind]),
 * the spread of each kind's rate over rounds into rate_sp[], and of each
 * kind's loss against the alone phase of the same round into loss_sp[]: a
 * paired comparison, so that load that drifts over the run cancels out.
 * A phase in which the co-runner got no CPU time has no rate (NAN) and sets
 * *starved.  0 or -ENOMEM. */
static int phase_results(const struct zc_corunner *cr, const struct phase *ph, size_t rounds,
                         struct spread rate_sp[PHASE_KINDS], struct spread loss_sp[PHASE_KINDS],
                         bool *starved)
{
    double *rate = calloc(rounds * PHASE_KINDS, sizeof(*rate));
    double *v = calloc(rounds, sizeof(*v));
    int rc = rate && v ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < rounds * PHASE_KINDS; i++) {
        uint64_t settle = (uint64_t)((double)(ph[i].t1 - ph[i].t0) * SETTLE_FRACTION);
        double *r = &rate[ph[i].round * PHASE_KINDS + ph[i].kind];
        rc = zc_corunner_rate(cr, ph[i].t0 + settle, ph[i].t1, r);
        if (rc == -ENODATA)
            *r = NAN, *starved = true, rc = 0;
    }
    for (int k = 0; rc == 0 && k < PHASE_KINDS; k++) {
        for (size_t r = 0; r < rounds; r++)
            v[r] = rate[r * PHASE_KINDS + k];
        rate_sp[k] = spread_of(v, rounds);
        for (size_t r = 0; r < rounds; r++)
            v[r] = 1 - rate[r * PHASE_KINDS + k] / rate[r * PHASE_KINDS + PHASE_ALONE];
        loss_sp[k] = spread_of(v, rounds);
    }
    free(rate);
    free(v);
    return rc;
}

struct corunner_result {
    size_t table, rounds;
    double far;                      /* lookups/s from DRAM (zc_corunner_far_rate) */
    double min_ratio;                /* --min-ratio */
    struct spread rate[PHASE_KINDS]; /* lookups/s of each phase kind over rounds */
    struct spread loss[PHASE_KINDS]; /* share lost against alone, paired per round */
    bool shared_cpu;                 /* the co-runner ran on the ingest's own core */
    bool starved;                    /* some phase gave the co-runner no CPU time */
};

/* How far apart the alone rounds are, as a share of their median. */
static double alone_spread(const struct corunner_result *r)
{
    const struct spread *a = &r->rate[PHASE_ALONE];
    return (a->max - a->min) / a->med;
}

/* Why the losses measure nothing on this machine, or NULL when they do:
 * a co-runner on the ingest's core loses time, not cache; one that alone
 * runs little faster than from DRAM has no cache for the ingest to take;
 * and alone rounds further apart than the larger loss drown the effect in
 * the machine's own noise. */
static const char *not_measurable(const struct corunner_result *r)
{
    if (r->shared_cpu)
        return "the co-runner shares its core with the ingest: cache effects not measurable here";
    if (r->starved)
        return "the co-runner got no CPU time in some phases: cache effects not measurable here";
    if (!(r->rate[PHASE_ALONE].med >= r->min_ratio * r->far))
        return "the co-runner alone runs less than --min-ratio times as fast as from DRAM (no "
               "cache it owns here): cache effects not measurable here";
    double effect = ZC_MAX(fabs(r->loss[PHASE_REGULAR].med), fabs(r->loss[PHASE_NT].med));
    if (!(alone_spread(r) <= effect))
        return "the co-runner's alone rounds differ more than the ingest changes them: cache "
               "effects not measurable here";
    return NULL;
}

static void print_corunner(const struct corunner_result *r)
{
    printf("co-runner (%zu KiB table, %zu rounds): alone %.1f M lookups/s (%.1f from DRAM, "
           "alone rounds %.1f%% apart), regular ingest %.1f, nt ingest %.1f\n",
           r->table >> 10, r->rounds, r->rate[PHASE_ALONE].med * 1e-6, r->far * 1e-6,
           alone_spread(r) * 100, r->rate[PHASE_REGULAR].med * 1e-6, r->rate[PHASE_NT].med * 1e-6);
    const char *why = not_measurable(r);
    if (why) {
        printf("co-runner losses: %s\n", why);
        return;
    }
    const struct spread *g = &r->loss[PHASE_REGULAR], *n = &r->loss[PHASE_NT];
    printf("co-runner losses (median [min, max] over rounds): %.1f%% [%.1f, %.1f] under "
           "regular ingest, %.1f%% [%.1f, %.1f] under nt ingest\n",
           g->med * 100, g->min * 100, g->max * 100, n->med * 100, n->min * 100, n->max * 100);
}

/* The co-runner's figures; the losses null, with the reason, where they
 * cannot be measured. */
static void json_corunner(struct zc_json *j, const struct corunner_result *r)
{
    const char *why = not_measurable(r);
    zc_json_u64(j, "corunner_table_bytes", r->table);
    zc_json_num(j, "corunner_far_Mlookups", r->far * 1e-6);
    zc_json_num(j, "corunner_min_ratio", r->min_ratio);
    zc_json_num(j, "corunner_alone_spread", alone_spread(r));
    zc_json_u64(j, "rounds", r->rounds);
    for (int k = 0; k < PHASE_KINDS; k++) {
        char key[48];
        snprintf(key, sizeof(key), "corunner_%s_Mlookups", phase_name[k]);
        zc_json_num(j, key, r->rate[k].med * 1e-6);
    }
    zc_json_bool(j, "corunner_measurable", why == NULL);
    for (int k = PHASE_REGULAR; k < PHASE_KINDS; k++) {
        static const char *const stat[] = {"", "_min", "_max"};
        const double v[] = {r->loss[k].med, r->loss[k].min, r->loss[k].max};
        for (int i = 0; i < 3; i++) {
            char key[48];
            snprintf(key, sizeof(key), "corunner_loss_%s%s", phase_name[k], stat[i]);
            zc_json_num(j, key, why ? NAN : v[i]);
        }
    }
    if (why)
        zc_json_str(j, "corunner_note", why);
}

/* The first CPU this process may run on at or after cpu + 1, wrapping
 * around (cpu -1: the first of all); -1 when none but cpu itself. */
static int next_allowed_cpu(int cpu)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return -1;
    for (int i = 1; i <= CPU_SETSIZE; i++) {
        int c = (cpu + i) % CPU_SETSIZE;
        if (c != cpu && CPU_ISSET(c, &set))
            return c;
    }
    return -1;
}

/* The co-runner alone, under regular ingest and under streaming ingest. */
static int ingest_corunner(const struct ingest_opts *o, struct zc_ingest *in)
{
    size_t rounds = (size_t)(o->duration / (3 * o->phase));
    rounds = ZC_MAX(rounds, MIN_ROUNDS);
    rounds = ZC_MIN(rounds, MAX_ROUNDS);
    int cpu = o->corunner_cpu;
    struct zc_corunner *cr;
    int rc = zc_corunner_start(&cr, cpu, o->table_bytes, o->duration * 2 + 10);
    if (rc < 0)
        return cli_job_failed(o->json, rc, "cannot start the co-runner: %s", zc_strerror(rc));
    struct phase *ph = calloc(rounds * PHASE_KINDS, sizeof(*ph));
    if (!ph) {
        zc_corunner_destroy(cr);
        return cli_job_failed(o->json, -ENOMEM, "out of memory");
    }
    struct zc_ingest_stats st[PHASE_KINDS] = {0};
    struct zc_progress pr;
    uint64_t phase_ns = (uint64_t)(o->phase * 1e9);
    zc_progress_start(&pr, "ingest + co-runner",
                      (uint64_t)((double)o->cfg.rate * o->phase * 2 * (double)rounds), o->json);
    size_t n = 0;
    for (size_t r = 0; r < rounds && rc == 0; r++)
        for (int i = 0; i < PHASE_KINDS && rc == 0; i++) {
            /* Rotate the order so that no kind always follows the same one. */
            enum phase_kind k = (enum phase_kind)((i + r) % PHASE_KINDS);
            uint64_t before = st[k].bytes;
            ph[n].round = r;
            ph[n].kind = k;
            ph[n].t0 = zc_now_ns();
            if (k == PHASE_ALONE)
                zc_stream_spin(phase_ns);
            else
                rc = zc_ingest_run(in, k == PHASE_NT ? ZC_STORE_NT : ZC_STORE_REGULAR, phase_ns,
                                   &st[k]);
            ph[n++].t1 = zc_now_ns();
            progress_add(&pr, st[k].bytes - before);
        }
    zc_progress_finish(&pr);
    zc_corunner_stop(cr);
    struct corunner_result res = {.table = zc_corunner_table_bytes(cr),
                                  .rounds = rounds,
                                  .far = zc_corunner_far_rate(cr),
                                  .min_ratio = o->min_ratio,
                                  .shared_cpu = cpu < 0};
    if (rc == 0)
        rc = phase_results(cr, ph, rounds, res.rate, res.loss, &res.starved);
    free(ph);
    zc_corunner_destroy(cr);
    if (rc < 0)
        return cli_job_failed(o->json, rc, "co-runner measurement failed: %s", zc_strerror(rc));
    struct zc_ingest_stats all = st[PHASE_REGULAR];
    all.frames += st[PHASE_NT].frames;
    all.bytes += st[PHASE_NT].bytes;
    all.dropped_frames += st[PHASE_NT].dropped_frames;
    all.dropped_late += st[PHASE_NT].dropped_late;
    all.missing_frames += st[PHASE_NT].missing_frames;
    all.bad_frames += st[PHASE_NT].bad_frames;
    all.ns += st[PHASE_NT].ns;
    all.persisted += st[PHASE_NT].persisted;
    all.persist_errors += st[PHASE_NT].persist_errors;
    uint64_t cached = cached_bytes(in);
    print_stats(o, &all, cached);
    print_corunner(&res);
    if (o->json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        json_stats(&j, o, &all, cached);
        zc_json_num(&j, "achieved_regular_Bps", achieved_rate(&st[PHASE_REGULAR]));
        zc_json_num(&j, "achieved_nt_Bps", achieved_rate(&st[PHASE_NT]));
        zc_json_u64(&j, "dropped_regular", st[PHASE_REGULAR].dropped_frames);
        zc_json_u64(&j, "dropped_nt", st[PHASE_NT].dropped_frames);
        json_corunner(&j, &res);
        zc_json_end(&j);
    }
    return verdict(o, &all);
}

int cmd_ingest(int argc, char **argv)
{
    struct ingest_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc < 0)
        return ZC_EXIT_OK; /* --help */
    if (rc > 0)
        return rc;
    if (o.cfg.cpu < 0)
        o.cfg.cpu = next_allowed_cpu(-1);
    /* Before pinning, which narrows what sched_getaffinity() reports. */
    o.corunner_cpu = next_allowed_cpu(o.cfg.cpu);
    if (o.cfg.cpu >= 0 && (rc = zc_stream_pin_cpu(o.cfg.cpu)) < 0)
        return cli_job_failed(o.json, rc, "cannot run on cpu %d: %s", o.cfg.cpu, zc_strerror(rc));
    struct zc_ingest *in;
    /* Measuring, the producer's core spins in every phase, ingest or not. */
    o.cfg.spin = o.corunner;
    rc = zc_ingest_create(&in, &o.cfg);
    if (rc < 0 && o.cfg.persist_path)
        return cli_job_failed(o.json, rc, "cannot set up the frame pool and the recording %s: %s",
                              o.cfg.persist_path, zc_strerror(rc));
    if (rc < 0)
        return cli_job_failed(o.json, rc, "cannot set up the frame pool: %s", zc_strerror(rc));
    rc = o.corunner ? ingest_corunner(&o, in) : ingest_only(&o, in);
    zc_ingest_destroy(in);
    return rc;
}
