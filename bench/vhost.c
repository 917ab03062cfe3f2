/* vhost.c - `zc bench vhost`: zc's vhost-user-net backend against DPDK's own
 * vhost PMD, both driven by the same front end.
 *
 *   front end: dpdk-testpmd, virtio-user (--no-huge --no-pci, memfd memory)
 *        |  vhost-user socket
 *   backend:   zc (a forked child running zc_vhost_run, sink or source)
 *          or  dpdk-testpmd --vdev net_vhost0 (forward mode rxonly or txonly)
 *
 * Two directions, 64-byte frames: the front end in txonly mode transmits
 * into the backend (zc sink, DPDK rxonly), and the front end in rxonly mode
 * receives what the backend sources (zc source, DPDK txonly).  Each figure
 * is the front end's own rate over the window: testpmd (interactive, fed
 * through a pipe) is started forwarding, after a warm-up its port
 * statistics are shown once, --seconds later once more, and the second
 * show's "Throughput (since last show)" line is the rate over exactly that
 * window, timed by testpmd itself.  The front end is the same program with
 * the same settings for both backends, so its counters measure both alike.
 * The backends run interleaved (zc, DPDK, zc, DPDK ...) so that outside
 * load hits both alike; the median, minimum and maximum of --rounds runs
 * are reported with the ratio of the medians.
 *
 * One CPU each side: the front end's forwarding lcore on one, the
 * backend's (zc's thread, or the DPDK backend's forwarding lcore) on
 * another; testpmd's main lcores, idle while forwarding, share a third, or
 * with only two CPUs the CPU of their own side.  Every testpmd runs as
 * root in a mount namespace of its own with a fresh tmpfs on /run (as
 * another user with XDG_RUNTIME_DIR in the run's temporary folder), so
 * that DPDK's runtime files never reach the machine's /var/run/dpdk.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "cli.h"
#include "zc/base.h"
#include "zc/vhost.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 25
#define WARMUP_MS  1000
#define START_MS   30000 /* how long a testpmd or the zc backend may take to come up */

enum backend { ZC, DPDK };
enum direction { TXONLY, RXONLY }; /* the front end's forward mode */

static const char *const backend_names[] = {"zc", "dpdk"};
static const char *const dir_names[] = {"txonly", "rxonly"};

/* Which CPUs each side gets (see the top of the file). */
struct layout {
    int front_main, front_fwd, back_main, back_fwd;
    unsigned ncpu;
};

struct bench {
    double seconds;
    unsigned rounds;
    bool json;
    struct layout cpu;
    char dir[80];                  /* the run's temporary folder */
    char sock[108];                /* the vhost-user socket in it (sun_path's size) */
    double mpps[2][2][MAX_ROUNDS]; /* [backend][direction][round] */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zc bench vhost [--json] [--seconds S] [--rounds N]\n\n"
            "zc's vhost-user backend (zc vhost: sink, source) against DPDK's vhost PMD\n"
            "(testpmd --vdev net_vhost0: rxonly, txonly), the same dpdk-testpmd\n"
            "virtio-user front end driving both, one CPU each side, 64-byte frames:\n"
            "Mpps with the front end in txonly and in rxonly mode, from the front\n"
            "end's own counters, the backends interleaved round by round.\n\n"
            "  --json        print one JSON object as the last line\n"
            "  --seconds S   the measured window of each run (default 3)\n"
            "  --rounds N    runs of each backend and direction (1..%d, default 5)\n",
            MAX_ROUNDS);
}

/* ---- the machine ---- */

/* The CPU model from /proc/cpuinfo, or "unknown". */
static void cpu_model(char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(out, len, "%s", colon + 2);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    }
    fclose(f);
}

/* The CPUs this process may use, assigned to the two sides. */
static int plan_cpus(struct layout *l)
{
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof(all), &all))
        return -errno;
    int cpus[3];
    l->ncpu = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all) && l->ncpu++ < 3)
            cpus[l->ncpu - 1] = c;
    if (l->ncpu < 2)
        return -ENODEV;
    if (l->ncpu == 2)
        *l = (struct layout){cpus[0], cpus[0], cpus[1], cpus[1], 2};
    else
        *l = (struct layout){cpus[0], cpus[1], cpus[0], cpus[2], l->ncpu};
    return 0;
}

static void describe_layout(const struct layout *l, char *out, size_t len)
{
    if (l->ncpu == 2)
        snprintf(out, len,
                 "2 CPUs: front end on CPU %d (both lcores), backend on CPU %d (both lcores or "
                 "zc's thread)",
                 l->front_fwd, l->back_fwd);
    else
        snprintf(out, len,
                 "%u CPUs: front end forwarding on CPU %d, backend on CPU %d, testpmd main "
                 "lcores on CPU %d",
                 l->ncpu, l->front_fwd, l->back_fwd, l->front_main);
}

/* ---- child processes ---- */

struct child {
    pid_t pid;
    int in_fd;     /* its stdin (testpmd), or the stop eventfd (zc) */
    int stats_fd;  /* zc: where its counters come back */
    char log[128]; /* testpmd: its stdout and stderr */
};

/* In a forked child: DPDK's runtime files go to a private /run (root) or
 * the run's folder (anyone else).  Only returns on failure. */
static void exec_testpmd(const struct bench *b, char **argv)
{
    if (geteuid() == 0) {
        if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
            mount("zc-bench-run", "/run", "tmpfs", 0, "mode=0755"))
            return;
    } else if (setenv("XDG_RUNTIME_DIR", b->dir, 1)) {
        return;
    }
    execvp(argv[0], argv);
}

/* What differs between the testpmds: the front end and the DPDK backend. */
struct pmd_args {
    const char *name; /* its log is NAME.log, its file prefix zcNAME<pid> */
    int main_cpu, fwd_cpu;
    const char *vdev, *option, *mode;
};

/* Starts dpdk-testpmd (no hugepages, no PCI, one forwarding lcore), its
 * stdin a pipe we keep, its output into its log file. */
static int start_testpmd(const struct bench *b, const struct pmd_args *a, struct child *c)
{
    char lcores[64], prefix[64];
    snprintf(lcores, sizeof(lcores), "0@%d,1@%d", a->main_cpu, a->fwd_cpu);
    snprintf(prefix, sizeof(prefix), "zc%s%d", a->name, (int)getpid());
    char *argv[] = {"dpdk-testpmd",
                    "--no-huge",
                    "--no-pci",
                    "-m",
                    "256",
                    "--no-shconf",
                    "--file-prefix",
                    prefix,
                    "--lcores",
                    lcores,
                    "--vdev",
                    (char *)a->vdev,
                    "--",
                    "--total-num-mbufs=8192",
                    "--nb-cores=1",
                    (char *)a->option,
                    (char *)a->mode,
                    NULL};
    int in[2];
    snprintf(c->log, sizeof(c->log), "%s/%s.log", b->dir, a->name);
    int out = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        return -errno;
    if (pipe2(in, O_CLOEXEC)) {
        int err = -errno;
        close(out);
        return err;
    }
    c->pid = fork();
    if (c->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dup2(in[0], 0) == 0 && dup2(out, 1) == 1 && dup2(out, 2) == 2)
            exec_testpmd(b, argv);
        _exit(127);
    }
    int err = c->pid < 0 ? -errno : 0;
    close(in[0]);
    close(out);
    c->in_fd = in[1];
    c->stats_fd = -1;
    if (err)
        close(in[1]);
    return err;
}

/* The zc backend in a forked child pinned to the backend's CPU: serves
 * until its eventfd is written, then sends its counters back. */
static int start_zc(const struct bench *b, enum direction d, struct child *c)
{
    int st[2];
    int stop = eventfd(0, EFD_CLOEXEC);
    if (stop < 0)
        return -errno;
    if (pipe2(st, O_CLOEXEC)) {
        int err = -errno;
        close(stop);
        return err;
    }
    c->pid = fork();
    if (c->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(b->cpu.back_fwd, &one);
        struct zc_vhost_params p = {.socket_path = b->sock,
                                    .queues = 1,
                                    .mode = d == TXONLY ? ZC_VHOST_SINK : ZC_VHOST_SOURCE};
        struct zc_vhost *v;
        if (sched_setaffinity(0, sizeof(one), &one) || zc_vhost_create(&v, &p))
            _exit(1);
        int err = zc_vhost_run(v, stop, -1);
        struct zc_vhost_stats s;
        zc_vhost_get_stats(v, &s);
        zc_vhost_destroy(v);
        _exit(err || zc_write_all(st[1], &s, sizeof(s)) ? 1 : 0);
    }
    int err = c->pid < 0 ? -errno : 0;
    close(st[1]);
    c->in_fd = stop;
    c->stats_fd = st[0];
    c->log[0] = 0;
    if (err) {
        close(stop);
        close(st[0]);
    }
    return err;
}

/* Waits up to ms for the child to exit, then kills it.  0 when it exited 0. */
static int reap(struct child *c, int ms)
{
    int status = 0;
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid)
            break;
        if (r < 0)
            return -errno;
        if (waited >= ms) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            break;
        }
        usleep(10000);
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* Stops a backend: the zc child through its eventfd (its counters checked
 * to have moved frames), testpmd with SIGINT. */
static int stop_backend(struct child *c)
{
    int err;
    if (c->stats_fd >= 0) {
        uint64_t one = 1;
        struct zc_vhost_stats s = {0};
        err = zc_write_all(c->in_fd, &one, sizeof(one));
        if (!err)
            err = zc_read_all(c->stats_fd, &s, sizeof(s));
        int rerr = reap(c, 5000);
        close(c->stats_fd);
        if (!err && (rerr || s.bad_packets || s.rx_packets + s.tx_packets == 0))
            err = -EIO;
    } else {
        kill(c->pid, SIGINT);
        err = reap(c, 10000);
    }
    close(c->in_fd);
    return err;
}

/* ---- testpmd's output ---- */

/* The whole log file, NUL-terminated, in a malloc'ed buffer (NULL: none). */
static char *read_log(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    while (s) {
        n += fread(s + n, 1, cap - 1 - n, f);
        if (n < cap - 1)
            break;
        char *t = realloc(s, cap *= 2);
        if (!t)
            free(s);
        s = t;
    }
    fclose(f);
    if (s)
        s[n] = 0;
    return s;
}

static bool log_has(const char *path, const char *what)
{
    char *s = read_log(path);
    bool has = s && strstr(s, what);
    free(s);
    return has;
}

/* Waits up to ms for the file at path to exist (want_socket: a socket) or
 * the log to contain what. */
static int wait_for(const char *path, const char *what, const struct child *c, int ms)
{
    for (int waited = 0; waited < ms; waited += 20) {
        struct stat st;
        if (what ? log_has(path, what) : (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)))
            return 0;
        if (waitpid(c->pid, NULL, WNOHANG) == c->pid)
            return -ECHILD;
        usleep(20000);
    }
    return -ETIMEDOUT;
}

/* The rate in the last "show port stats" of the log: Rx-pps or Tx-pps of
 * its "Throughput (since last show)", in Mpps; -EBADMSG when the log does
 * not hold two shows (the first one only starts the window). */
static int window_mpps(const char *path, enum direction d, double *mpps)
{
    char *s = read_log(path);
    if (!s)
        return -errno;
    const char *last = NULL, *p = s;
    unsigned shows = 0;
    while ((p = strstr(p, "Throughput (since last show)"))) {
        last = p++;
        shows++;
    }
    unsigned long long pps = 0;
    const char *key = d == TXONLY ? "Tx-pps:" : "Rx-pps:";
    const char *at = last ? strstr(last, key) : NULL;
    int err = shows >= 2 && at && sscanf(at + strlen(key), "%llu", &pps) == 1 ? 0 : -EBADMSG;
    free(s);
    *mpps = (double)pps * 1e-6;
    return err;
}

/* Prints the end of a log that explains a failed run. */
static void show_log_tail(const char *path)
{
    char *s = read_log(path);
    if (!s)
        return;
    size_t n = strlen(s);
    fprintf(stderr, "--- %s (end)\n%s\n", path, s + (n > 1500 ? n - 1500 : 0));
    free(s);
}

/* ---- one run ---- */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

static int say(const struct child *c, const char *cmd)
{
    return zc_write_all(c->in_fd, cmd, strlen(cmd));
}

static int start_backend(const struct bench *b, enum backend k, enum direction d, struct child *c)
{
    if (k == ZC)
        return start_zc(b, d, c);
    char vdev[160];
    snprintf(vdev, sizeof(vdev), "net_vhost0,iface=%s,queues=1", b->sock);
    const char *mode = d == TXONLY ? "--forward-mode=rxonly" : "--forward-mode=txonly";
    struct pmd_args a = {"backend", b->cpu.back_main,       b->cpu.back_fwd,
                         vdev,      "--disable-link-check", mode};
    return start_testpmd(b, &a, c);
}

static int start_front(const struct bench *b, enum direction d, struct child *c)
{
    char vdev[160];
    snprintf(vdev, sizeof(vdev), "net_virtio_user0,path=%s,queues=1", b->sock);
    const char *mode = d == TXONLY ? "--forward-mode=txonly" : "--forward-mode=rxonly";
    struct pmd_args a = {"front", b->cpu.front_main, b->cpu.front_fwd, vdev, "-i", mode};
    return start_testpmd(b, &a, c);
}

/* The front end, once its port is up: forwarding, the warm-up, the window
 * between two shows of its port statistics, then it quits. */
static int drive_front(const struct bench *b, struct child *f)
{
    int err = wait_for(f->log, "Port 0: ", f, START_MS);
    if (err)
        return err;
    if ((err = say(f, "start\n")))
        return err;
    sleep_ms(WARMUP_MS);
    if ((err = say(f, "show port stats 0\n")))
        return err;
    sleep_ms((unsigned)(b->seconds * 1000));
    if ((err = say(f, "show port stats 0\n")))
        return err;
    sleep_ms(200);
    return say(f, "stop\nquit\n");
}

static int run_one(struct bench *b, enum backend k, enum direction d, double *mpps)
{
    struct child back, front = {.pid = -1};
    unlink(b->sock);
    int err = start_backend(b, k, d, &back);
    if (err)
        return err;
    err = wait_for(b->sock, NULL, &back, START_MS);
    if (!err)
        err = start_front(b, d, &front);
    if (!err)
        err = drive_front(b, &front);
    if (front.pid > 0) {
        int ferr = reap(&front, 10000);
        close(front.in_fd);
        err = err ? err : ferr;
        if (!err)
            err = window_mpps(front.log, d, mpps);
    }
    int berr = stop_backend(&back);
    err = err ? err : berr;
    if (err) {
        zc_error("%s backend, front end %s: %s", backend_names[k], dir_names[d], zc_strerror(err));
        if (front.pid > 0)
            show_log_tail(front.log);
        if (back.log[0])
            show_log_tail(back.log);
    }
    return err;
}

static int run_all(struct bench *b)
{
    for (unsigned r = 0; r < b->rounds; r++)
        for (unsigned d = TXONLY; d <= RXONLY; d++)
            for (unsigned k = ZC; k <= DPDK; k++) {
                if (isatty(STDERR_FILENO))
                    fprintf(stderr, "\r\033[Kround %u/%u: %s backend, front end %s", r + 1,
                            b->rounds, backend_names[k], dir_names[d]);
                int err = run_one(b, k, d, &b->mpps[k][d][r]);
                if (err)
                    return err;
            }
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r\033[K");
    return 0;
}

/* ---- figures ---- */

struct stat3 {
    double median, min, max;
};

static struct stat3 stat_of(const double *v, unsigned n)
{
    struct stat3 s = {zc_median(v, n), v[0], v[0]};
    for (unsigned i = 1; i < n; i++) {
        s.min = ZC_MIN(s.min, v[i]);
        s.max = ZC_MAX(s.max, v[i]);
    }
    return s;
}

static void report(const struct bench *b)
{
    static const char *const label[] = {"txonly -> zc sink / DPDK rxonly",
                                        "zc source / DPDK txonly -> rxonly"};
    char model[128], layout[192];
    cpu_model(model, sizeof(model));
    describe_layout(&b->cpu, layout, sizeof(layout));
    printf("zc vhost backend vs DPDK's vhost PMD: testpmd virtio-user front end, 64-byte "
           "frames,\nMpps from the front end's counters over %.1f s windows, %u rounds "
           "interleaved\n%s\n%s\n\n",
           b->seconds, b->rounds, model, layout);
    printf("  %-34s %22s %22s %8s\n", "front end mode", "zc Mpps med (min-max)",
           "DPDK Mpps med (min-max)", "zc/DPDK");
    struct stat3 s[2][2];
    for (unsigned d = TXONLY; d <= RXONLY; d++) {
        for (unsigned k = ZC; k <= DPDK; k++)
            s[k][d] = stat_of(b->mpps[k][d], b->rounds);
        printf("  %-34s %7.3f (%5.3f-%5.3f) %7.3f (%5.3f-%5.3f) %7.2fx\n", label[d],
               s[ZC][d].median, s[ZC][d].min, s[ZC][d].max, s[DPDK][d].median, s[DPDK][d].min,
               s[DPDK][d].max, s[ZC][d].median / s[DPDK][d].median);
    }
    if (!b->json)
        return;
    struct zc_json j;
    char key[64];
    zc_json_begin(&j, stdout);
    zc_json_str(&j, "cpu_model", model);
    zc_json_u64(&j, "cpus", b->cpu.ncpu);
    zc_json_str(&j, "layout", layout);
    zc_json_num(&j, "seconds", b->seconds);
    zc_json_u64(&j, "rounds", b->rounds);
    zc_json_u64(&j, "frame_bytes", 64);
    for (unsigned d = TXONLY; d <= RXONLY; d++) {
        for (unsigned k = ZC; k <= DPDK; k++) {
            static const char *const what[] = {"mpps", "mpps_min", "mpps_max"};
            const double v[] = {s[k][d].median, s[k][d].min, s[k][d].max};
            for (unsigned i = 0; i < 3; i++) {
                snprintf(key, sizeof(key), "%s_%s_%s", dir_names[d], backend_names[k], what[i]);
                zc_json_num(&j, key, v[i]);
            }
        }
        snprintf(key, sizeof(key), "%s_ratio", dir_names[d]);
        zc_json_num(&j, key, s[ZC][d].median / s[DPDK][d].median);
    }
    zc_json_end(&j);
}

/* A fresh folder under $TMPDIR (or /tmp) for the socket and the logs. */
static int make_run_dir(struct bench *b)
{
    const char *tmp = getenv("TMPDIR");
    int n =
        snprintf(b->dir, sizeof(b->dir), "%s/zc-bench-vhost.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof(b->dir))
        return -ENAMETOOLONG;
    if (!mkdtemp(b->dir))
        return -errno;
    snprintf(b->sock, sizeof(b->sock), "%s/vhost.sock", b->dir);
    return 0;
}

static void remove_run_dir(const struct bench *b)
{
    static const char *const names[] = {"front.log", "backend.log"};
    char path[sizeof(b->dir) + 16];
    for (unsigned i = 0; i < ZC_ARRAY_SIZE(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", b->dir, names[i]);
        unlink(path);
    }
    unlink(b->sock);
    rmdir(b->dir);
}

static int parse_args(int argc, char **argv, struct bench *b)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"seconds", required_argument, NULL, 's'},
                                             {"rounds", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    uint64_t v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            b->json = true;
            break;
        case 's':
            if (zc_parse_double(optarg, &b->seconds) || !(b->seconds >= 0.5 && b->seconds <= 600))
                return zc_usage_error("bench vhost", "--seconds wants 0.5..600, not '%s'", optarg);
            break;
        case 'r':
            if (zc_parse_u64(optarg, 1, MAX_ROUNDS, &v))
                return zc_usage_error("bench vhost", "--rounds wants 1..%d, not '%s'", MAX_ROUNDS,
                                      optarg);
            b->rounds = (unsigned)v;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default: /* '?' or ':' */
            return cli_bad_option("bench vhost", c, argv);
        }
    }
    if (optind < argc)
        return zc_usage_error("bench vhost", "unexpected argument '%s'", argv[optind]);
    return ZC_EXIT_OK;
}

int cmd_bench_vhost(int argc, char **argv)
{
    struct bench *b = calloc(1, sizeof(*b));
    if (!b)
        return ZC_EXIT_FAIL;
    b->seconds = 3;
    b->rounds = 5;
    int rc = parse_args(argc, argv, b);
    if (rc) {
        free(b);
        return rc < 0 ? ZC_EXIT_OK : rc;
    }
    cli_json_failures(b->json);
    int err = plan_cpus(&b->cpu);
    if (err)
        cli_fail(err, "needs at least 2 CPUs: %s", zc_strerror(err));
    else if ((err = make_run_dir(b)))
        cli_fail(err, "cannot make a folder for the run: %s", zc_strerror(err));
    if (err) {
        free(b);
        return ZC_EXIT_FAIL;
    }
    signal(SIGPIPE, SIG_IGN); /* a testpmd that died: its pipe's write fails, and we say why */
    err = run_all(b);
    if (err)
        cli_fail(err, "measurement failed: %s", zc_strerror(err));
    else
        report(b);
    remove_run_dir(b);
    free(b);
    return err ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}
