/* cmd_vhost.c - `zc vhost --socket PATH`: a vhost-user-net backend that a
 * virtio front end (DPDK virtio-user, a QEMU guest) attaches to.  It runs
 * until SIGINT/SIGTERM or --duration, then prints what it moved. */
#include "cli.h"
#include "cmd.h"
#include "zc/base.h"
#include "zc/vhost.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void vhost_usage(FILE *f)
{
    fprintf(f,
            "usage: zc vhost --socket PATH [--queues N] [--mode sink|echo|source]\n"
            "                [--duration S] [--json]\n\n"
            "A vhost-user-net backend (server mode) on a new UNIX socket at PATH.  One\n"
            "front end at a time; rx counts what the front end transmits, tx what the\n"
            "backend puts into its receive buffers.\n\n"
            "  -s, --socket PATH   the socket to create (must not exist)\n"
            "  -q, --queues N      queue pairs offered (1..%d, default 1)\n"
            "  -m, --mode MODE     sink: count and drop; echo: send each frame back;\n"
            "                      source: fill every receive buffer with a 64-byte frame\n"
            "  -d, --duration S    stop after S seconds (default: at SIGINT/SIGTERM)\n"
            "      --json          print the counters as one JSON line at the end\n"
            "  -h, --help          this text\n",
            ZC_VHOST_MAX_QUEUES);
}

static int parse_mode(const char *s, enum zc_vhost_mode *m)
{
    static const char *const names[] = {"sink", "echo", "source"};
    for (unsigned i = 0; i < ZC_ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (enum zc_vhost_mode)i;
            return 0;
        }
    return -EINVAL;
}

/* SIGINT and SIGTERM as a descriptor the backend's loop waits on. */
static int stop_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static void report(const struct zc_vhost_stats *s, bool json)
{
    double secs = (double)(s->last_frame_ns - s->first_frame_ns) / 1e9;
    double mpps = secs > 0 ? (double)(s->rx_packets + s->tx_packets) / secs / 1e6 : 0;
    if (!json) {
        printf("rx %llu packets %llu bytes, tx %llu packets %llu bytes, %llu bad, %.3f Mpps\n",
               (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes,
               (unsigned long long)s->tx_packets, (unsigned long long)s->tx_bytes,
               (unsigned long long)s->bad_packets, mpps);
        return;
    }
    struct zc_json j;
    zc_json_begin(&j, stdout);
    zc_json_u64(&j, "rx_packets", s->rx_packets);
    zc_json_u64(&j, "rx_bytes", s->rx_bytes);
    zc_json_u64(&j, "tx_packets", s->tx_packets);
    zc_json_u64(&j, "tx_bytes", s->tx_bytes);
    zc_json_u64(&j, "tx_dropped", s->tx_dropped);
    zc_json_u64(&j, "bad_packets", s->bad_packets);
    zc_json_u64(&j, "bad_messages", s->bad_messages);
    zc_json_u64(&j, "connections", s->connections);
    zc_json_u64(&j, "refused", s->refused);
    zc_json_num(&j, "seconds", secs);
    zc_json_num(&j, "mpps", mpps);
    zc_json_end(&j);
}

int cmd_vhost(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"queues", required_argument, NULL, 'q'},
        {"mode", required_argument, NULL, 'm'},
        {"duration", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct zc_vhost_params p = {.queues = 1, .mode = ZC_VHOST_SINK};
    double duration = -1;
    bool json = false;
    uint64_t u;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:q:m:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            p.socket_path = optarg;
            break;
        case 'q':
            if (zc_parse_u64(optarg, 1, ZC_VHOST_MAX_QUEUES, &u))
                return zc_usage_error("vhost", "--queues wants 1..%d", ZC_VHOST_MAX_QUEUES);
            p.queues = (unsigned)u;
            break;
        case 'm':
            if (parse_mode(optarg, &p.mode))
                return zc_usage_error("vhost", "--mode wants sink, echo or source");
            break;
        case 'd':
            if (zc_parse_double(optarg, &duration) || !(duration > 0))
                return zc_usage_error("vhost", "--duration wants seconds > 0");
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            vhost_usage(stdout);
            return ZC_EXIT_OK;
        default:
            return zc_usage_error("vhost", "unknown option");
        }
    }
    if (optind < argc)
        return zc_usage_error("vhost", "unexpected argument '%s'", argv[optind]);
    if (!p.socket_path || !*p.socket_path)
        return zc_usage_error("vhost", "missing --socket PATH");

    int stop = stop_signals();
    if (stop < 0) {
        zc_error("cannot set up signals: %s", zc_strerror(stop));
        return ZC_EXIT_FAIL;
    }
    struct zc_vhost *v;
    int err = zc_vhost_create(&v, &p);
    if (err) {
        zc_error("cannot listen on %s: %s", p.socket_path, zc_strerror(err));
        close(stop);
        return ZC_EXIT_FAIL;
    }
    err = zc_vhost_run(v, stop, duration > 0 ? (int64_t)(duration * 1e9) : -1);
    struct zc_vhost_stats s;
    zc_vhost_get_stats(v, &s);
    zc_vhost_destroy(v);
    close(stop);
    if (err) {
        zc_error("vhost backend failed: %s", zc_strerror(err));
        return ZC_EXIT_FAIL;
    }
    report(&s, json);
    return ZC_EXIT_OK;
}
