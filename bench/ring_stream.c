/* ring_stream.c - two processes moving generated data through the zc ring,
 * a pipe or a UNIX stream socket, for `zc bench ring` and `zc demo`.
 *
 * The producer is this process, the consumer a forked child, each pinned
 * on its own CPU.  Message s carries the 64-bit words s*K + i; the
 * producer writes every word, the consumer reads every word and sums them,
 * and the sum it reports at the end must equal what the producer computed
 * in closed form: a transport that lost, duplicated or tore a message
 * fails the run.  Over the ring the words are written straight into the
 * shared buffer region and read there (zero copies); over a pipe or socket
 * they go through a private buffer and the kernel (two copies).
 */
#define _GNU_SOURCE
#include "ring_stream.h"
#include "plot.h"
#include "zc/base.h"
#include "progress.h"
#include "zc/ring.h"
#include "zc/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_BATCH       256
#define WAIT_NS         10000000000ll /* a peer silent this long is gone */
#define RING_SLOT_BYTES (2u << 20)    /* buffer region for large messages */

/* What the consumer reports when the stream ends. */
struct report {
    uint64_t msgs;
    uint64_t sum;
    uint64_t wakeups; /* calls the ring's device sent */
    int64_t err;
};

/* ---- two CPUs ---- */

struct pinning {
    cpu_set_t saved;
    int producer_cpu, consumer_cpu; /* -1: not pinned */
};

static void pin_begin(struct pinning *p)
{
    p->producer_cpu = p->consumer_cpu = -1;
    if (sched_getaffinity(0, sizeof(p->saved), &p->saved) != 0)
        return;
    int found[2], n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
        if (CPU_ISSET(cpu, &p->saved))
            found[n++] = cpu;
    if (n < 2)
        return;
    p->producer_cpu = found[0];
    p->consumer_cpu = found[1];
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(p->producer_cpu, &one);
    sched_setaffinity(0, sizeof(one), &one);
}

static void pin_child(const struct pinning *p)
{
    if (p->consumer_cpu < 0)
        return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(p->consumer_cpu, &one);
    sched_setaffinity(0, sizeof(one), &one);
}

static void pin_end(const struct pinning *p)
{
    if (p->producer_cpu >= 0)
        sched_setaffinity(0, sizeof(p->saved), &p->saved);
}

/* ---- the consumer (child) ---- */

/* One message from a pipe or socket: 1, 0 at a clean end of stream, -errno. */
static int read_msg(int fd, void *buf, size_t len)
{
    ssize_t n;
    do
        n = read(fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return 0;
    if ((size_t)n < len) {
        int err = zc_read_all(fd, (char *)buf + n, len - (size_t)n);
        if (err)
            return err;
    }
    return 1;
}

static void consume_fd(int fd, size_t msg_size, struct report *rep)
{
    uint64_t *buf = aligned_alloc(64, msg_size);
    if (!buf) {
        rep->err = -ENOMEM;
        return;
    }
    int r;
    while ((r = read_msg(fd, buf, msg_size)) == 1) {
        rep->sum += sum_msg(buf, msg_size / 8);
        rep->msgs++;
    }
    rep->err = r;
    free(buf);
}

static void consume_ring(int ctl, struct report *rep)
{
    struct zc_ring *dev;
    int err = zc_ring_recv(&dev, ZC_RING_DEVICE, ctl, getuid());
    if (err) {
        rep->err = err;
        return;
    }
    zc_ring_set_peer_fd(dev, ctl);
    char ready = 'r';
    err = zc_write_all(ctl, &ready, 1);
    struct zc_ring_chain *c = malloc(sizeof(*c) * MAX_BATCH);
    struct zc_ring_done done[MAX_BATCH];
    if (!c)
        err = -ENOMEM;
    bool end = false;
    while (!err && !end) {
        err = zc_ring_wait(dev, WAIT_NS);
        if (err)
            break;
        int n = zc_ring_pop_batch(dev, c, MAX_BATCH);
        if (n < 0) {
            err = n;
            break;
        }
        for (int i = 0; i < n; i++) {
            uint32_t len = c[i].readable_len;
            if (len == 0) {
                end = true;
            } else {
                rep->sum += sum_msg(zc_ring_ptr(dev, &c[i].seg[0]), len / 8);
                rep->msgs++;
            }
            done[i] = (struct zc_ring_done){c[i].head, 0};
        }
        int r = zc_ring_push_batch(dev, done, (unsigned)n);
        if (r < 0)
            err = r;
    }
    rep->err = err;
    struct zc_ring_stats st;
    zc_ring_get_stats(dev, &st);
    rep->wakeups = st.notifications;
    free(c);
    zc_ring_destroy(dev);
}

/* ---- the producer ---- */

struct producer {
    const struct stream_cfg *cfg;
    uint64_t seq, sum;
    uint64_t deadline;
    struct zc_progress progress;
};

/* Whether to send another message (checking the clock once in a while). */
static bool more(struct producer *p, unsigned *tick, unsigned every)
{
    if (p->cfg->total_bytes)
        return p->seq * p->cfg->msg_size < p->cfg->total_bytes;
    if (++*tick < every)
        return true;
    *tick = 0;
    return zc_now_ns() < p->deadline;
}

static int produce_fd(struct producer *p, int fd)
{
    size_t words = p->cfg->msg_size / 8;
    uint64_t *buf = aligned_alloc(64, p->cfg->msg_size);
    if (!buf)
        return -ENOMEM;
    unsigned tick = 0, every = p->cfg->msg_size >= 4096 ? 1 : 256;
    int err = 0;
    while (!err && more(p, &tick, every)) {
        fill_msg(buf, words, p->seq);
        err = zc_write_all(fd, buf, p->cfg->msg_size);
        p->sum += expected_sum(words, p->seq);
        p->seq++;
        zc_progress_add(&p->progress, p->cfg->msg_size);
    }
    free(buf);
    return err;
}

static int produce_ring(struct producer *p, struct zc_ring *drv, unsigned slots)
{
    const struct stream_cfg *c = p->cfg;
    size_t words = c->msg_size / 8;
    struct zc_ring_pool *pool;
    int err = zc_ring_pool_create(&pool, drv, 0, c->msg_size, slots);
    if (err)
        return err;
    unsigned batch = c->batch ? c->batch : 1, tick = 0;
    unsigned every = c->msg_size >= 4096 ? 1 : ZC_MAX(1u, 256 / batch);
    while (!err && more(p, &tick, every)) {
        unsigned want = batch;
        if (c->total_bytes)
            want = (unsigned)ZC_MIN((uint64_t)batch,
                                    (c->total_bytes - p->seq * c->msg_size) / c->msg_size);
        want = ZC_MAX(want, 1u);
        err = zc_ring_pool_wait(pool, want, WAIT_NS);
        for (unsigned k = 0; !err && k < want; k++) {
            uint32_t slot = (uint32_t)zc_ring_pool_get(pool);
            fill_msg(zc_ring_pool_ptr(pool, slot), words, p->seq);
            uint32_t len = (uint32_t)c->msg_size;
            err = zc_ring_pool_add(pool, slot, &len, 1);
            p->sum += expected_sum(words, p->seq);
            p->seq++;
        }
        if (!err) {
            int r = zc_ring_submit(drv);
            err = r < 0 ? r : 0;
        }
        zc_progress_add(&p->progress, (uint64_t)want * c->msg_size);
    }
    /* The end of the stream: an empty message. */
    if (!err)
        err = zc_ring_pool_wait(pool, 1, WAIT_NS);
    if (!err)
        err = zc_ring_pool_post(pool, (uint32_t)zc_ring_pool_get(pool), 0);
    zc_ring_pool_destroy(pool);
    return err;
}

/* The ring features a transport runs with: notifications by event index,
 * in the format it names. */
static uint64_t ring_features(enum stream_transport t)
{
    return ZC_RING_F_EVENT_IDX | (t == STREAM_RING_PACKED ? ZC_RING_F_RING_PACKED : 0);
}

static int ring_params(const struct stream_cfg *c, struct zc_ring_params *p, unsigned *slots)
{
    unsigned n;
    if (c->msg_size <= 4096) {
        n = 1024; /* room for four batches of 256 in flight */
    } else {
        n = (unsigned)ZC_MAX((size_t)4, RING_SLOT_BYTES / c->msg_size);
        n = 1u << (31 - __builtin_clz(n)); /* a power of two */
    }
    if ((uint64_t)n * c->msg_size > (1ull << 32))
        return -EINVAL;
    *slots = n;
    *p = (struct zc_ring_params){
        .num = n, .buf_size = (uint64_t)n * c->msg_size, .features = ring_features(c->transport)};
    return 0;
}

static int check_cfg(const struct stream_cfg *c)
{
    if (c->msg_size < 8 || c->msg_size % 8 || c->msg_size > (64u << 20))
        return -EINVAL;
    if (c->batch > MAX_BATCH || (!c->duration_ns && !c->total_bytes))
        return -EINVAL;
    return 0;
}

/* Forks the consumer; runs it to the end and exits there. */
static pid_t spawn_consumer(const struct stream_cfg *c, const struct pinning *pin, int ctl,
                            int data, int close_in_child[2])
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    pin_child(pin);
    for (int i = 0; i < 2; i++)
        if (close_in_child[i] >= 0)
            close(close_in_child[i]);
    struct report rep = {0};
    if (stream_is_ring(c->transport)) {
        consume_ring(ctl, &rep);
    } else {
        char ready = 'r';
        rep.err = zc_write_all(ctl, &ready, 1);
        if (!rep.err)
            consume_fd(data, c->msg_size, &rep);
    }
    _exit(zc_write_all(ctl, &rep, sizeof(rep)) == 0 ? 0 : 1);
}

int stream_run(const struct stream_cfg *c, struct stream_result *res)
{
    memset(res, 0, sizeof(*res));
    int err = check_cfg(c);
    if (err)
        return err;
    if (c->transport == STREAM_DPDK)
        return stream_run_dpdk(c, res);
    signal(SIGPIPE, SIG_IGN);
    int ctl[2], data[2] = {-1, -1};
    err = zc_shm_socketpair(ctl);
    if (err)
        return err;
    struct zc_ring *drv = NULL;
    unsigned slots = 0;
    if (stream_is_ring(c->transport)) {
        struct zc_ring_params p;
        err = ring_params(c, &p, &slots);
        if (!err)
            err = zc_ring_create(&drv, ZC_RING_DRIVER, &p);
    } else if (c->transport == STREAM_PIPE) {
        err = pipe2(data, O_CLOEXEC) < 0 ? -errno : 0;
    } else {
        err = zc_shm_socketpair(data);
    }
    if (err) {
        close(ctl[0]);
        close(ctl[1]);
        return err;
    }

    struct pinning pin;
    pin_begin(&pin);
    int child_closes[2] = {ctl[0], data[1]};
    pid_t pid = spawn_consumer(c, &pin, ctl[1], data[0], child_closes);
    if (pid < 0)
        err = -errno;
    close(ctl[1]);
    if (data[0] >= 0)
        close(data[0]);
    if (!err && drv) {
        err = zc_ring_send(drv, ctl[0]);
        zc_ring_set_peer_fd(drv, ctl[0]);
    }
    char ready;
    if (!err)
        err = zc_read_all(ctl[0], &ready, 1);

    struct producer p = {.cfg = c};
    zc_progress_start(&p.progress,
                      c->transport == STREAM_RING          ? "ring"
                      : c->transport == STREAM_RING_PACKED ? "packed ring"
                      : c->transport == STREAM_PIPE        ? "pipe"
                                                           : "unix socket",
                      c->total_bytes, !c->progress);
    uint64_t t0 = zc_now_ns();
    p.deadline = t0 + c->duration_ns;
    if (!err)
        err = drv ? produce_ring(&p, drv, slots) : produce_fd(&p, data[1]);
    if (data[1] >= 0)
        close(data[1]); /* the end of a pipe or socket stream */
    /* Nothing more goes to the consumer: a consumer still waiting on the
     * ring (the producer failed) sees the hang-up instead of a timeout. */
    shutdown(ctl[0], SHUT_WR);
    struct report rep = {0};
    int rerr = zc_read_all(ctl[0], &rep, sizeof(rep));
    uint64_t t1 = zc_now_ns();
    zc_progress_finish(&p.progress);
    struct zc_ring_stats st = {0};
    if (drv)
        zc_ring_get_stats(drv, &st);
    close(ctl[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    pin_end(&pin);
    zc_ring_destroy(drv);
    if (err)
        return err;
    if (rerr)
        return rerr;
    if (rep.err)
        return (int)rep.err;
    if (rep.msgs != p.seq || rep.sum != p.sum)
        return -EBADMSG;
    res->msgs = rep.msgs;
    res->bytes = rep.msgs * c->msg_size;
    res->ns = t1 - t0;
    res->wakeups = st.notifications + rep.wakeups;
    return 0;
}

int stream_measure_set(const struct stream_cfg *cfgs, size_t n, unsigned runs,
                       struct stream_figures *out, stream_progress_fn progress, void *arg)
{
    if (runs == 0 || runs > STREAM_MAX_RUNS || n == 0)
        return -EINVAL;
    double(*m)[STREAM_MAX_RUNS] = calloc(n, sizeof(*m));
    double(*b)[STREAM_MAX_RUNS] = calloc(n, sizeof(*b));
    double(*w)[STREAM_MAX_RUNS] = calloc(n, sizeof(*w));
    int err = m && b && w ? 0 : -ENOMEM;
    /* Round-robin: a burst of outside load hits every stream alike. */
    for (unsigned r = 0; !err && r < runs; r++) {
        for (size_t k = 0; !err && k < n; k++) {
            if (progress)
                progress(r * n + k, runs * n, &cfgs[k], arg);
            struct stream_result res;
            err = stream_run(&cfgs[k], &res);
            if (err)
                break;
            m[k][r] = (double)res.msgs / zc_ns_to_s(res.ns);
            b[k][r] = (double)res.bytes / zc_ns_to_s(res.ns);
            w[k][r] = res.msgs ? (double)res.wakeups / (double)res.msgs : 0;
        }
    }
    for (size_t k = 0; !err && k < n; k++) {
        out[k].msgs_per_s = zc_median(m[k], runs);
        out[k].bytes_per_s = zc_median(b[k], runs);
        out[k].wakeups_per_msg = zc_median(w[k], runs);
        out[k].runs = runs;
        memcpy(out[k].run_msgs_per_s, m[k], runs * sizeof(double));
        memcpy(out[k].run_bytes_per_s, b[k], runs * sizeof(double));
    }
    free(m);
    free(b);
    free(w);
    return err;
}

int stream_measure(const struct stream_cfg *cfg, unsigned runs, struct stream_figures *f)
{
    return stream_measure_set(cfg, 1, runs, f, NULL, NULL);
}

/* ---- round trips ---- */

#define RTT_MSG 64
/* "Spinning" round trips spin this long before they block: far longer than
 * a round trip between two busy CPUs, short enough that two processes that
 * had to share one CPU still take turns. */
#define RTT_SPIN_NS 200000

static void echo_ring(int ctl, bool spin, struct report *rep)
{
    struct zc_ring *dev;
    int err = zc_ring_recv(&dev, ZC_RING_DEVICE, ctl, getuid());
    if (err) {
        rep->err = err;
        return;
    }
    zc_ring_set_spin(dev, spin ? RTT_SPIN_NS : 0);
    zc_ring_set_peer_fd(dev, ctl);
    char ready = 'r';
    err = zc_write_all(ctl, &ready, 1);
    for (bool end = false; !err && !end;) {
        struct zc_ring_chain c;
        err = zc_ring_wait(dev, WAIT_NS);
        int n = err ? err : zc_ring_pop(dev, &c);
        if (n < 0) {
            err = n;
            break;
        }
        if (n == 0)
            continue;
        if (c.nseg != 2 || c.readable_len != RTT_MSG || c.writable_len != RTT_MSG) {
            err = -EBADMSG;
            break;
        }
        const uint64_t *q = zc_ring_ptr(dev, &c.seg[0]);
        uint64_t *a = zc_ring_ptr(dev, &c.seg[1]);
        end = q[0] == UINT64_MAX;
        memcpy(a, q, RTT_MSG);
        rep->msgs++;
        err = zc_ring_push(dev, c.head, RTT_MSG);
        if (!err) {
            int r = zc_ring_complete(dev);
            err = r < 0 ? r : 0;
        }
    }
    rep->err = err;
    zc_ring_destroy(dev);
}

static void echo_pipe(int in, int out, struct report *rep)
{
    uint64_t m[RTT_MSG / 8];
    int r;
    while ((r = read_msg(in, m, sizeof(m))) == 1) {
        rep->msgs++;
        if ((rep->err = zc_write_all(out, m, sizeof(m))) != 0)
            return;
    }
    rep->err = r;
}

/* One request and its reply through the ring; checks the echo. */
static int ring_round(struct zc_ring *drv, uint64_t seq)
{
    uint64_t *buf = zc_ring_buf_base(drv);
    for (unsigned i = 0; i < RTT_MSG / 8; i++)
        buf[i] = seq + i;
    struct zc_ring_seg s[2] = {{.off = 0, .len = RTT_MSG},
                               {.off = RTT_MSG, .len = RTT_MSG, .writable = true}};
    int err = zc_ring_post(drv, s, 2, NULL);
    struct zc_ring_used u;
    int n = 0;
    while (!err && n == 0) {
        err = zc_ring_wait(drv, WAIT_NS);
        if (!err)
            n = zc_ring_reap(drv, &u, 1);
        if (n < 0)
            err = n;
    }
    if (!err && (u.len != RTT_MSG || memcmp(buf, buf + RTT_MSG / 8, RTT_MSG) != 0))
        err = -EBADMSG;
    return err;
}

static int pipe_round(int out, int in, uint64_t seq)
{
    uint64_t m[RTT_MSG / 8], r[RTT_MSG / 8];
    for (unsigned i = 0; i < RTT_MSG / 8; i++)
        m[i] = seq + i;
    int err = zc_write_all(out, m, sizeof(m));
    if (!err)
        err = zc_read_all(in, r, sizeof(r));
    if (!err && memcmp(m, r, sizeof(m)) != 0)
        err = -EBADMSG;
    return err;
}

int stream_rtt(enum stream_transport transport, bool spin, unsigned rounds, double *median_ns)
{
    if (rounds == 0 || transport == STREAM_UNIX || transport == STREAM_DPDK)
        return -EINVAL;
    signal(SIGPIPE, SIG_IGN);
    double *t = malloc(sizeof(*t) * rounds);
    int ctl[2], req[2] = {-1, -1}, rsp[2] = {-1, -1};
    int err = t ? zc_shm_socketpair(ctl) : -ENOMEM;
    if (err) {
        free(t);
        return err;
    }
    struct zc_ring *drv = NULL;
    if (stream_is_ring(transport)) {
        struct zc_ring_params p = {
            .num = 8, .buf_size = 4096, .features = ring_features(transport)};
        err = zc_ring_create(&drv, ZC_RING_DRIVER, &p);
        if (!err)
            zc_ring_set_spin(drv, spin ? RTT_SPIN_NS : 0);
    } else if (pipe2(req, O_CLOEXEC) < 0 || pipe2(rsp, O_CLOEXEC) < 0) {
        err = -errno;
    }
    struct pinning pin;
    pin_begin(&pin);
    pid_t pid = err ? -1 : fork();
    if (pid == 0) {
        pin_child(&pin);
        close(ctl[0]);
        struct report rep = {0};
        if (stream_is_ring(transport)) {
            echo_ring(ctl[1], spin, &rep);
        } else {
            close(req[1]);
            close(rsp[0]);
            echo_pipe(req[0], rsp[1], &rep);
        }
        _exit(zc_write_all(ctl[1], &rep, sizeof(rep)) == 0 ? 0 : 1);
    }
    if (pid < 0 && !err)
        err = -errno;
    close(ctl[1]);
    if (!err && drv) {
        err = zc_ring_send(drv, ctl[0]);
        char ready;
        if (!err)
            err = zc_read_all(ctl[0], &ready, 1);
        zc_ring_set_peer_fd(drv, ctl[0]);
    }
    for (unsigned i = 0; !err && i < rounds; i++) {
        uint64_t t0 = zc_now_ns();
        err = drv ? ring_round(drv, i) : pipe_round(req[1], rsp[0], i);
        t[i] = (double)(zc_now_ns() - t0);
    }
    /* The last request tells the ring's echo to stop; the pipe's sees EOF. */
    if (!err && drv)
        err = ring_round(drv, UINT64_MAX);
    for (int i = 0; i < 2; i++) {
        if (req[i] >= 0)
            close(req[i]);
        if (rsp[i] >= 0)
            close(rsp[i]);
    }
    shutdown(ctl[0], SHUT_WR);
    struct report rep = {0};
    int rerr = pid > 0 ? zc_read_all(ctl[0], &rep, sizeof(rep)) : 0;
    close(ctl[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    pin_end(&pin);
    zc_ring_destroy(drv);
    if (!err)
        err = rerr ? rerr : (int)rep.err;
    if (!err)
        *median_ns = zc_median(t, rounds);
    free(t);
    return err;
}

/* ---- the batch curve ---- */

int stream_fit(const unsigned *batch, const double *ns_per_msg, size_t n, double *a, double *b)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double x = 1.0 / batch[i];
        sx += x;
        sy += ns_per_msg[i];
        sxx += x * x;
        sxy += x * ns_per_msg[i];
    }
    double d = (double)n * sxx - sx * sx;
    if (n < 2 || fabs(d) < 1e-12)
        return -EINVAL;
    *b = ((double)n * sxy - sx * sy) / d;
    *a = (sy - *b * sx) / (double)n;
    return 0;
}

int stream_plot_batch(struct bench_plot *plot, const unsigned *batch, const double *ns_per_msg,
                      size_t n, double a, double b, double pipe_ns)
{
    FILE *g = plot->script;
    fprintf(g, "$d << EOD\n");
    for (size_t i = 0; i < n; i++)
        fprintf(g, "%u %.3f\n", batch[i], ns_per_msg[i]);
    fprintf(g,
            "EOD\n"
            "set terminal pngcairo size 900,540 font ',11'\n"
            "set logscale x 2\nset logscale y 10\nset grid\n"
            "set xrange [0.8:%u]\n"
            "set xlabel 'batch size B (64-byte messages per submit)'\n"
            "set ylabel 'ns per message'\n"
            "set title 'zc ring: cost per message against batch size (notifications on)'\n"
            "a = %.6f; b = %.6f; p = %.6f\n"
            "plot $d using 1:2 with linespoints pt 7 lw 2 title 'zc ring (measured)', "
            "a + b / x with lines dt 2 lw 2 title sprintf('fit: %%.1f + %%.1f / B ns', a, b), "
            "p with lines lw 2 title sprintf('pipe, one write per message: %%.0f ns', p)\n",
            batch[n - 1] * 5 / 4, a, b, pipe_ns);
    return bench_plot_draw(plot);
}
