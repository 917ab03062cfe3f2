/* seal.c - `zc bench seal`: what sealing costs on a shared-memory channel.
 *
 * In one run, for 64 B, 4 KiB, 64 KiB and 1 MiB messages:
 *   sealed    a sealed channel through an honest broker, sender and receiver
 *             threads pinned to different cores (the receiver's read-once
 *             pass included), bytes delivered per second;
 *   OpenSSL   raw AES-GCM (or the session's cipher) through OpenSSL's EVP on
 *             one core, one message after another: the common yardstick;
 *   cipher    the same, through the implementation the channel's keys use
 *             (Intel's ipsec-mb where built in and the CPU has it): the
 *             ceiling for the sealed channel;
 *   ring      the unsealed ring: the same threads copying plaintext in and
 *             out of the shared buffers.
 * and the round trip of a 64 B sealed message.  The peers take turns within
 * each of --repeat rounds; each figure is the median, and each ratio is
 * taken within a round and shown as min / median / max.  The "per
 * CPU-second" ratio divides bytes by the CPU time the busier sealed thread
 * (or the raw loop) actually got: on a loaded machine it shows what the
 * wall-clock ratio would be on a quiet one.
 */
#define _GNU_SOURCE
#include "plot.h"
#include "zc/base.h"
#include "aead_impl.h"
#include "zc/crypto.h"
#include "zc/ring.h"
#include "zc/seal.h"
#include "zc/shm.h"
#include "cli.h"
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_MSG   (1u << 20)
#define NSIZES    4
#define MAX_REPS  15
#define TIMEOUT   (30ll * 1000000000)
#define RTT_ITERS 20000

static const size_t sizes[NSIZES] = {64, 4096, 65536, MAX_MSG};
static const char *const size_names[NSIZES] = {"64B", "4KiB", "64KiB", "1MiB"};

/* Messages per measurement: 500k small ones, else about 128 MiB. */
static uint64_t messages_for(size_t size, double scale)
{
    uint64_t n = size < 1024 ? 500000 : (128u << 20) / size;
    return ZC_MAX((uint64_t)((double)n * scale), 100);
}

static void pin_to_cpu(int cpu)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % ncpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* CPU time of the calling thread, ns: what a run cost, whatever the load. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- raw AEAD, one core ---- */

/* Bytes a second of wall time; *per_cpu gets them per second of CPU time.
 * OpenSSL's code when openssl is set, else the library's choice, which is
 * what the channel's keys get (src/seal/channel.c). */
static double raw_aead_gbps(enum zc_cipher c, bool openssl, size_t size, uint64_t n,
                            double *per_cpu)
{
    uint8_t key[ZC_KEY_BYTES] = {1}, tag[ZC_TAG_BYTES];
    uint8_t *in = malloc(size), *out = malloc(size);
    struct zc_aead *a;
    if (!in || !out || zc_aead_new_impl(&a, c, key, 0, openssl)) {
        free(in);
        free(out);
        return 0;
    }
    memset(in, 0x5a, size);
    uint8_t hdr[16] = {0};
    uint64_t t0 = zc_now_ns(), cpu0 = thread_cpu_ns();
    for (uint64_t i = 0; i < n; i++)
        zc_aead_seal(a, i, hdr, sizeof(hdr), in, out, size, tag);
    uint64_t t = zc_now_ns() - t0;
    *per_cpu = (double)(n * size) / (double)ZC_MAX(thread_cpu_ns() - cpu0, 1);
    zc_aead_free(a);
    free(in);
    free(out);
    return (double)(n * size) / (double)t;
}

/* ---- the sealed channel ---- */

struct channel {
    struct zc_seal_broker *b;
    int bsock[2], esock[2];
    pthread_t broker;
    struct zc_keypair k0, k1;
    struct zc_pubkey p0, p1;
    struct zc_seal *s0, *s1;
};

struct job {
    struct channel *ch;
    size_t size;
    uint64_t n;
    int result;
    uint64_t t_start, t_end, cpu_ns;
};

static void *broker_main(void *arg)
{
    struct channel *ch = arg;
    zc_seal_broker_serve(ch->b, ch->bsock[0], ch->bsock[1]);
    return NULL;
}

static void *connect_side1(void *arg)
{
    struct channel *ch = arg;
    intptr_t r = zc_seal_connect(&ch->s1, ch->esock[1], getuid(), &ch->k1, &ch->p0, TIMEOUT);
    return (void *)r;
}

static int channel_open(struct channel *ch)
{
    memset(ch, 0, sizeof(*ch));
    struct zc_seal_config cfg = {.slots = 64, .max_msg = MAX_MSG};
    int a[2], b[2];
    int r = zc_keypair_generate(&ch->k0);
    if (!r)
        r = zc_keypair_generate(&ch->k1);
    if (!r)
        r = zc_seal_broker_create(&ch->b, &cfg);
    if (!r)
        r = zc_shm_socketpair(a);
    if (!r)
        r = zc_shm_socketpair(b);
    if (r)
        return r;
    memcpy(ch->p0.key, ch->k0.pub, ZC_KEY_BYTES);
    memcpy(ch->p1.key, ch->k1.pub, ZC_KEY_BYTES);
    ch->bsock[0] = a[0];
    ch->esock[0] = a[1];
    ch->bsock[1] = b[0];
    ch->esock[1] = b[1];
    pthread_create(&ch->broker, NULL, broker_main, ch);
    pthread_t t;
    pthread_create(&t, NULL, connect_side1, ch);
    r = zc_seal_connect(&ch->s0, ch->esock[0], getuid(), &ch->k0, &ch->p1, TIMEOUT);
    void *r1;
    pthread_join(t, &r1);
    return r ? r : (int)(intptr_t)r1;
}

static void channel_close(struct channel *ch)
{
    zc_seal_destroy(ch->s0);
    zc_seal_destroy(ch->s1);
    close(ch->esock[0]);
    close(ch->esock[1]);
    pthread_join(ch->broker, NULL);
    close(ch->bsock[0]);
    close(ch->bsock[1]);
    zc_seal_broker_destroy(ch->b);
}

static void *sealed_sender(void *arg)
{
    struct job *j = arg;
    pin_to_cpu(0);
    uint8_t *buf = malloc(j->size);
    if (!buf) {
        j->result = -ENOMEM;
        return NULL;
    }
    memset(buf, 0x42, j->size);
    uint64_t cpu0 = thread_cpu_ns();
    j->t_start = zc_now_ns();
    for (uint64_t i = 0; i < j->n && !j->result; i++)
        j->result = zc_seal_send(j->ch->s0, buf, j->size);
    j->cpu_ns = thread_cpu_ns() - cpu0;
    free(buf);
    return NULL;
}

static void *sealed_receiver(void *arg)
{
    struct job *j = arg;
    pin_to_cpu(1);
    uint8_t *buf = malloc(MAX_MSG);
    if (!buf) {
        j->result = -ENOMEM;
        return NULL;
    }
    uint64_t cpu0 = thread_cpu_ns();
    for (uint64_t i = 0; i < j->n && !j->result; i++) {
        ssize_t n = zc_seal_recv(j->ch->s1, buf, MAX_MSG);
        if (n != (ssize_t)j->size)
            j->result = n < 0 ? (int)n : -EBADMSG;
    }
    j->t_end = zc_now_ns();
    j->cpu_ns = thread_cpu_ns() - cpu0;
    free(buf);
    return NULL;
}

/* Bytes a second of wall time; *per_cpu gets bytes per second of the busier
 * thread's CPU time (spinning included), the figure a loaded machine keeps. */
static double sealed_gbps(struct channel *ch, size_t size, uint64_t n, double *per_cpu)
{
    struct job tx = {.ch = ch, .size = size, .n = n}, rx = tx;
    pthread_t a, b;
    pthread_create(&b, NULL, sealed_receiver, &rx);
    pthread_create(&a, NULL, sealed_sender, &tx);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    if (tx.result || rx.result) {
        zc_error("sealed run failed: %s", zc_strerror(tx.result ? tx.result : rx.result));
        return 0;
    }
    *per_cpu = (double)(n * size) / (double)ZC_MAX(ZC_MAX(tx.cpu_ns, rx.cpu_ns), 1);
    return (double)(n * size) / (double)(rx.t_end - tx.t_start);
}

static void *echo_main(void *arg)
{
    struct job *j = arg;
    pin_to_cpu(1);
    uint8_t *buf = malloc(MAX_MSG);
    j->result = buf ? 0 : -ENOMEM;
    for (uint64_t i = 0; i < j->n && !j->result; i++) {
        ssize_t n = zc_seal_recv(j->ch->s1, buf, MAX_MSG);
        j->result = n < 0 ? (int)n : zc_seal_send(j->ch->s1, buf, (size_t)n);
    }
    free(buf);
    return NULL;
}

/* Median round trip of a 64 B message, microseconds. */
static double sealed_rtt_us(struct channel *ch, uint64_t n)
{
    struct job echo = {.ch = ch, .n = n};
    pthread_t t;
    pthread_create(&t, NULL, echo_main, &echo);
    pin_to_cpu(0);
    static uint8_t buf[MAX_MSG];
    double *lat = malloc(n * sizeof(double));
    int r = lat ? 0 : -ENOMEM;
    for (uint64_t i = 0; i < n && !r; i++) {
        uint64_t t0 = zc_now_ns();
        r = zc_seal_send(ch->s0, buf, 64);
        ssize_t got = r ? r : zc_seal_recv(ch->s0, buf, sizeof(buf));
        r = got == 64 ? 0 : (got < 0 ? (int)got : -EBADMSG);
        lat[i] = (double)(zc_now_ns() - t0) / 1e3;
    }
    pthread_join(t, NULL);
    double m = r || echo.result ? 0 : zc_median(lat, n);
    free(lat);
    return m;
}

/* ---- the unsealed ring ---- */

#define RING_SLOTS 64

struct ring_pair {
    struct zc_ring *drv, *dev;
    uint64_t slot;
};

static int ring_pair_open(struct ring_pair *rp)
{
    struct zc_ring_params p = {.num = RING_SLOTS,
                               .buf_size = RING_SLOTS * (uint64_t)MAX_MSG,
                               .features = ZC_RING_F_EVENT_IDX};
    rp->slot = MAX_MSG;
    return zc_ring_create_pair(&rp->drv, &rp->dev, &p);
}

struct ring_job {
    struct ring_pair *rp;
    size_t size;
    uint64_t n, t_start, t_end;
    int result;
};

/* The driver's side: each message copied into a slot of the ring's pool
 * and posted; a slot comes back when the receiver has copied it out.  All
 * of them are back before it returns, so the next run's pool starts on a
 * drained ring. */
static void *ring_sender(void *arg)
{
    struct ring_job *j = arg;
    pin_to_cpu(0);
    struct zc_ring_pool *pool = NULL;
    uint8_t *src = malloc(j->size);
    j->result = src ? zc_ring_pool_create(&pool, j->rp->drv, 0, j->rp->slot, RING_SLOTS) : -ENOMEM;
    if (!j->result)
        memset(src, 0x42, j->size);
    j->t_start = zc_now_ns();
    for (uint64_t i = 0; i < j->n && !j->result; i++) {
        if (!zc_ring_pool_free(pool) && (j->result = zc_ring_pool_wait(pool, 1, TIMEOUT)))
            break;
        uint32_t slot = (uint32_t)zc_ring_pool_get(pool);
        memcpy(zc_ring_pool_ptr(pool, slot), src, j->size);
        j->result = zc_ring_pool_post(pool, slot, (uint32_t)j->size);
    }
    if (!j->result)
        j->result = zc_ring_pool_wait(pool, RING_SLOTS, TIMEOUT);
    zc_ring_pool_destroy(pool);
    free(src);
    return NULL;
}

static void *ring_receiver(void *arg)
{
    struct ring_job *j = arg;
    pin_to_cpu(1);
    uint8_t *dst = malloc(MAX_MSG);
    if (!dst) {
        j->result = -ENOMEM;
        return NULL;
    }
    for (uint64_t i = 0; i < j->n && !j->result;) {
        struct zc_ring_chain c;
        int got = zc_ring_pop(j->rp->dev, &c);
        if (got == 0) {
            j->result = zc_ring_wait(j->rp->dev, TIMEOUT);
            continue;
        }
        if (got < 0) {
            j->result = got;
            break;
        }
        memcpy(dst, zc_ring_ptr(j->rp->dev, &c.seg[0]), c.seg[0].len);
        zc_ring_push(j->rp->dev, c.head, 0);
        zc_ring_complete(j->rp->dev);
        i++;
    }
    j->t_end = zc_now_ns();
    free(dst);
    return NULL;
}

static double ring_gbps(struct ring_pair *rp, size_t size, uint64_t n)
{
    struct ring_job tx = {.rp = rp, .size = size, .n = n}, rx = tx;
    pthread_t a, b;
    pthread_create(&b, NULL, ring_receiver, &rx);
    pthread_create(&a, NULL, ring_sender, &tx);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    if (tx.result || rx.result)
        return 0;
    return (double)(n * size) / (double)(rx.t_end - tx.t_start);
}

/* ---- rounds and their spread ---- */

enum peer { PEER_SEALED, PEER_OPENSSL, PEER_CIPHER, PEER_RING, NPEERS };
enum ratio { VS_OPENSSL, VS_CIPHER, VS_OPENSSL_CPU, VS_CIPHER_CPU, NRATIOS };

/* One size in one round: GB/s of wall time per peer, and the sealed and
 * raw figures per CPU-second. */
struct round_figures {
    double gbps[NPEERS], sealed_cpu, openssl_cpu, cipher_cpu;
};

struct spread {
    double min, median, max;
};

/* One size over all rounds: median GB/s per peer, each ratio's spread. */
struct size_summary {
    double fig[NPEERS];
    struct spread ratio[NRATIOS];
};

/* The implementation the channel's keys get: the library's choice. */
static const char *channel_impl(enum zc_cipher c)
{
    uint8_t key[ZC_KEY_BYTES] = {1};
    struct zc_aead *a;
    if (zc_aead_new(&a, c, key, 0))
        return "unknown";
    const char *name = zc_aead_impl(a);
    zc_aead_free(a);
    return name;
}

static void measure_round(struct channel *ch, struct ring_pair *rp, enum zc_cipher cipher,
                          size_t size, uint64_t n, struct round_figures *f)
{
    f->gbps[PEER_SEALED] = sealed_gbps(ch, size, n, &f->sealed_cpu);
    f->gbps[PEER_OPENSSL] = raw_aead_gbps(cipher, true, size, n, &f->openssl_cpu);
    f->gbps[PEER_CIPHER] = raw_aead_gbps(cipher, false, size, n, &f->cipher_cpu);
    f->gbps[PEER_RING] = ring_gbps(rp, size, n);
}

static double ratio_of(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static struct spread spread_of(double *v, size_t n)
{
    struct spread s = {v[0], zc_median(v, n), v[0]};
    for (size_t i = 1; i < n; i++) {
        s.min = v[i] < s.min ? v[i] : s.min;
        s.max = v[i] > s.max ? v[i] : s.max;
    }
    return s;
}

static void summarize(struct round_figures f[][NSIZES], uint64_t reps, int s,
                      struct size_summary *out)
{
    double v[MAX_REPS];
    for (int p = 0; p < NPEERS; p++) {
        for (uint64_t k = 0; k < reps; k++)
            v[k] = f[k][s].gbps[p];
        out->fig[p] = zc_median(v, reps);
    }
    for (int q = 0; q < NRATIOS; q++) {
        for (uint64_t k = 0; k < reps; k++) {
            const struct round_figures *r = &f[k][s];
            double sealed = q < VS_OPENSSL_CPU ? r->gbps[PEER_SEALED] : r->sealed_cpu;
            double raw = q == VS_OPENSSL       ? r->gbps[PEER_OPENSSL]
                         : q == VS_CIPHER      ? r->gbps[PEER_CIPHER]
                         : q == VS_OPENSSL_CPU ? r->openssl_cpu
                                               : r->cipher_cpu;
            v[k] = ratio_of(sealed, raw);
        }
        out->ratio[q] = spread_of(v, reps);
    }
}

static void print_table(enum zc_cipher cipher, const char *impl, const struct size_summary *sum,
                        uint64_t reps)
{
    static const char *const ratio_names[NRATIOS] = {"sealed/OpenSSL", "sealed/cipher",
                                                     "per CPU-s/OpenSSL", "per CPU-s/cipher"};
    printf("sealed channel (%s, keys on %s), GB/s, median of %llu rounds; sender and receiver "
           "on different cores\n",
           zc_cipher_name(cipher), impl, (unsigned long long)reps);
    printf("%-8s %10s %10s %10s %10s\n", "size", "sealed", "OpenSSL", impl, "ring");
    for (int s = 0; s < NSIZES; s++)
        printf("%-8s %10.3f %10.3f %10.3f %10.3f\n", size_names[s], sum[s].fig[PEER_SEALED],
               sum[s].fig[PEER_OPENSSL], sum[s].fig[PEER_CIPHER], sum[s].fig[PEER_RING]);
    printf("ratios per round, min / median / max (cipher: %s)\n", impl);
    printf("%-8s", "size");
    for (int q = 0; q < NRATIOS; q++)
        printf(" %20s", ratio_names[q]);
    printf("\n");
    for (int s = 0; s < NSIZES; s++) {
        printf("%-8s", size_names[s]);
        for (int q = 0; q < NRATIOS; q++) {
            const struct spread *r = &sum[s].ratio[q];
            printf("   %5.2f /%5.2f /%5.2f", r->min, r->median, r->max);
        }
        printf("\n");
    }
}

static void json_spread(struct zc_json *j, const char *name, const char *size,
                        const struct spread *r)
{
    char key[64];
    snprintf(key, sizeof(key), "%s_%s", name, size);
    zc_json_num(j, key, r->median);
    snprintf(key, sizeof(key), "%s_%s_min", name, size);
    zc_json_num(j, key, r->min);
    snprintf(key, sizeof(key), "%s_%s_max", name, size);
    zc_json_num(j, key, r->max);
}

static void print_json(enum zc_cipher cipher, const char *impl, const struct size_summary *sum,
                       double rtt, uint64_t reps)
{
    static const char *const peer_keys[NPEERS] = {"sealed", "raw_aead", "raw_cipher", "ring"};
    static const char *const ratio_keys[NRATIOS] = {
        "sealed_over_raw", "sealed_over_cipher", "sealed_over_raw_cpu", "sealed_over_cipher_cpu"};
    struct zc_json j;
    char key[64];
    zc_json_begin(&j, stdout);
    zc_json_str(&j, "cipher", zc_cipher_name(cipher));
    zc_json_str(&j, "cipher_impl", impl);
    for (int s = 0; s < NSIZES; s++) {
        for (int p = 0; p < NPEERS; p++) {
            snprintf(key, sizeof(key), "%s_%s_GBps", peer_keys[p], size_names[s]);
            zc_json_num(&j, key, sum[s].fig[p]);
        }
        for (int q = 0; q < NRATIOS; q++)
            json_spread(&j, ratio_keys[q], size_names[s], &sum[s].ratio[q]);
    }
    zc_json_num(&j, "sealed_rtt_64B_us", rtt);
    zc_json_u64(&j, "repeat", reps);
    zc_json_end(&j);
}

/* ---- the picture ---- */

/* Grouped bars (gnuplot, PNG): GB/s of the four peers at each size, log
 * scale, drawn into plot (opened before the measurement).  0 or -errno. */
static int plot_bars(struct bench_plot *plot, enum zc_cipher cipher, const char *impl,
                     const struct size_summary *sum)
{
    FILE *g = plot->script;
    fprintf(g, "$d << EOD\n");
    for (int s = 0; s < NSIZES; s++)
        fprintf(g, "%s %.4f %.4f %.4f %.4f\n", size_names[s], sum[s].fig[PEER_SEALED],
                sum[s].fig[PEER_OPENSSL], sum[s].fig[PEER_CIPHER], sum[s].fig[PEER_RING]);
    fprintf(g,
            "EOD\n"
            "set terminal pngcairo size 900,540 font ',11'\n"
            "set style data histograms\nset style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
            "set logscale y 10\nset yrange [0.01:*]\nset grid ytics\nset key top left\n"
            "set xlabel 'message size'\nset ylabel 'GB/s (log scale)'\n"
            "set title 'zc seal (%s): sealed channel vs raw AEAD on one core vs unsealed ring'\n"
            "plot $d using 2:xtic(1) title 'sealed channel (2 threads, 2 cores)', "
            "'' using 3 title 'raw OpenSSL, one core', '' using 4 title 'raw %s, one core', "
            "'' using 5 title 'unsealed ring'\n",
            zc_cipher_name(cipher), impl);
    return bench_plot_draw(plot);
}

/* ---- the command ---- */

/* A failed run: the plot, opened before it, gets nothing. */
static int give_up(struct bench_plot *plot)
{
    if (plot)
        bench_plot_abort(plot);
    return ZC_EXIT_FAIL;
}

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: zc bench seal [--json] [--plot FILE.png] [--repeat N] [--scale X]\n\n"
               "Sealed-channel throughput (64 B, 4 KiB, 64 KiB, 1 MiB) and 64 B round trip,\n"
               "against the raw AEAD of the same cipher on one core (OpenSSL's, and the one\n"
               "the channel's keys use) and the unsealed ring, in one run.\n\n"
               "      --json        print every figure as one JSON object (last line)\n"
               "      --plot FILE   draw the throughput bars as a PNG (gnuplot)\n"
               "      --repeat N    rounds, each running every peer in turn; medians and each\n"
               "                    ratio's min / median / max are shown (default 5, max 15)\n"
               "      --scale X     multiply the work per run (default 1: ~128 MiB a figure)\n"
               "  -h, --help        this text\n");
}

int cmd_bench_seal(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},         {"plot", required_argument, NULL, 'p'},
        {"repeat", required_argument, NULL, 'r'}, {"scale", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    bool json = false;
    const char *plot_path = NULL;
    uint64_t reps = 5;
    double scale = 1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'p':
            plot_path = optarg;
            break;
        case 'r':
            if (zc_parse_u64(optarg, 1, MAX_REPS, &reps))
                return zc_usage_error("bench seal", "--repeat wants 1..%d", MAX_REPS);
            break;
        case 's':
            if (zc_parse_double(optarg, &scale) || scale < 0.01 || scale > 100)
                return zc_usage_error("bench seal", "--scale wants 0.01..100");
            break;
        case 'h':
            bench_usage(stdout);
            return ZC_EXIT_OK;
        default: /* '?' or ':' */
            return cli_bad_option("bench seal", c, argv);
        }
    }
    if (optind < argc)
        return zc_usage_error("bench seal", "unexpected argument '%s'", argv[optind]);

    cli_json_failures(json);
    struct bench_plot plot;
    int r = plot_path ? bench_plot_open(&plot, plot_path) : 0;
    if (r) {
        cli_fail(r, "cannot write the plot %s: %s", plot_path, zc_strerror(r));
        return ZC_EXIT_FAIL;
    }
    struct channel ch;
    r = channel_open(&ch);
    if (r) {
        cli_fail(r, "cannot open a sealed channel: %s", zc_strerror(r));
        return give_up(plot_path ? &plot : NULL);
    }
    struct ring_pair rp = {0};
    r = ring_pair_open(&rp);
    if (r) {
        cli_fail(r, "cannot open a ring: %s", zc_strerror(r));
        channel_close(&ch);
        return give_up(plot_path ? &plot : NULL);
    }
    enum zc_cipher cipher = zc_seal_cipher(ch.s0);
    const char *impl = channel_impl(cipher);
    bool tty = isatty(STDERR_FILENO);
    /* Touch every shared buffer once, so that no figure pays the page
     * faults of first use. */
    double warm;
    sealed_gbps(&ch, MAX_MSG, 256, &warm);
    ring_gbps(&rp, MAX_MSG, 256);
    /* Every round runs every size and every peer in turn, so that a change
     * in the machine's load hits them all alike. */
    struct round_figures f[MAX_REPS][NSIZES];
    for (uint64_t k = 0; k < reps; k++)
        for (int s = 0; s < NSIZES; s++) {
            if (tty)
                fprintf(stderr, "\rround %llu/%llu %-6s ", (unsigned long long)k + 1,
                        (unsigned long long)reps, size_names[s]);
            measure_round(&ch, &rp, cipher, sizes[s], messages_for(sizes[s], scale), &f[k][s]);
        }
    double v[MAX_REPS];
    for (uint64_t k = 0; k < reps; k++)
        v[k] = sealed_rtt_us(&ch, (uint64_t)(RTT_ITERS * scale) + 1);
    double rtt = zc_median(v, reps);
    if (tty)
        fprintf(stderr, "\r%30s\r", "");
    zc_ring_destroy(rp.drv);
    zc_ring_destroy(rp.dev);
    channel_close(&ch);
    struct size_summary sum[NSIZES];
    bool failed = rtt == 0;
    for (int s = 0; s < NSIZES; s++) {
        summarize(f, reps, s, &sum[s]);
        for (uint64_t k = 0; k < reps; k++)
            failed |= f[k][s].gbps[PEER_SEALED] == 0;
    }
    if (failed) {
        cli_fail(-EIO, "a sealed run failed; no figures");
        return give_up(plot_path ? &plot : NULL);
    }
    print_table(cipher, impl, sum, reps);
    printf("64 B sealed round trip: %.2f us (median)\n", rtt);
    if (plot_path) {
        r = plot_bars(&plot, cipher, impl, sum);
        if (r) {
            cli_fail(r, "cannot write the plot %s: %s%s%s", plot_path, zc_strerror(r),
                     *plot.why ? "; gnuplot: " : "", plot.why);
            return ZC_EXIT_FAIL;
        }
        printf("plot: %s\n", plot_path);
    }
    if (json)
        print_json(cipher, impl, sum, rtt, reps);
    return ZC_EXIT_OK;
}
