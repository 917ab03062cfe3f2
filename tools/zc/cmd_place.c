/* cmd_place.c - `zc serve`, `zc put`, `zc get`: secure direct-placement
 * file transfer (include/zc/place.h) on the command line. */
#define _GNU_SOURCE
#include "cmd.h"
#include "zc/base.h"
#include "zc/crypto.h"
#include "zc/place.h"
#include "zc/progress.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    OPT_JSON = 256,
    OPT_RESUME,
    OPT_INTEGRITY,
    OPT_MAX_SESSIONS,
    OPT_MAX_FILE,
    OPT_ONCE,
    OPT_HANDSHAKE_TIMEOUT,
    OPT_STREAMS,
    OPT_SENDFILE
};

/* Streams for a large file when --streams is not given (docs/BENCHMARKS.md). */
#define PUT_DEFAULT_STREAMS 2

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int load_keypair(const char *path, struct zc_keypair *kp)
{
    int r = zc_keypair_load(path, kp);
    if (r)
        zc_error("cannot load the key %s: %s", path, zc_strerror(r));
    return r;
}

static int parse_timeout(const char *cmd, const char *s, unsigned *ms)
{
    uint64_t secs;
    if (zc_parse_u64(s, 1, 86400, &secs))
        return zc_usage_error(cmd, "--timeout wants seconds in [1, 86400], not '%s'", s);
    *ms = (unsigned)secs * 1000;
    return 0;
}

/* ---- zc serve ---- */

static void serve_usage(FILE *f)
{
    fprintf(
        f,
        "usage: zc serve --root DIR --listen HOST:PORT --key server.key --authorized clients.pub\n"
        "                [--max-sessions N] [--timeout SECONDS] [--handshake-timeout SECONDS]\n"
        "                [--max-file-size SIZE] [--once]\n\n"
        "Receives files from `zc put` (and answers `zc get`) under DIR only.  Every chunk\n"
        "is verified before it counts; a file appears under its name only when all of it\n"
        "is verified and fsync'd.\n\n"
        "  -r, --root DIR          the directory every path is confined to\n"
        "  -l, --listen HOST:PORT  address to listen on (port 0: any free port; it is logged)\n"
        "  -k, --key FILE          the server's private key (zc keygen)\n"
        "  -a, --authorized FILE   client public keys allowed in, one a line (writable by\n"
        "                          you or root only)\n"
        "      --max-sessions N    concurrent authenticated sessions (default 16)\n"
        "  -t, --timeout SECONDS   drop a peer idle this long (default 30)\n"
        "      --handshake-timeout SECONDS  drop a connection that has not authenticated\n"
        "                          this soon (default 5, or --timeout if shorter)\n"
        "      --max-file-size SIZE  refuse larger files (e.g. 10G)\n"
        "      --once              serve one authenticated session, then exit with its result\n"
        "  -h, --help              this text\n");
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},
        {"listen", required_argument, NULL, 'l'},
        {"key", required_argument, NULL, 'k'},
        {"authorized", required_argument, NULL, 'a'},
        {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
        {"timeout", required_argument, NULL, 't'},
        {"max-file-size", required_argument, NULL, OPT_MAX_FILE},
        {"once", no_argument, NULL, OPT_ONCE},
        {"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct zc_place_server_config cfg = {0};
    const char *listen = NULL, *keyfile = NULL, *authfile = NULL;
    bool once = false;
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:l:k:a:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            cfg.root = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 'a':
            authfile = optarg;
            break;
        case OPT_MAX_SESSIONS:
            if (zc_parse_u64(optarg, 1, 4096, &v))
                return zc_usage_error("serve", "--max-sessions wants 1..4096, not '%s'", optarg);
            cfg.max_sessions = (unsigned)v;
            break;
        case 't':
            if (parse_timeout("serve", optarg, &cfg.idle_timeout_ms))
                return ZC_EXIT_USAGE;
            break;
        case OPT_MAX_FILE:
            if (zc_parse_size(optarg, &cfg.max_file_size))
                return zc_usage_error("serve", "bad --max-file-size '%s'", optarg);
            break;
        case OPT_ONCE:
            once = true;
            break;
        case OPT_HANDSHAKE_TIMEOUT:
            if (zc_parse_u64(optarg, 1, 3600, &v))
                return zc_usage_error("serve",
                                      "--handshake-timeout wants seconds in [1, 3600], "
                                      "not '%s'",
                                      optarg);
            cfg.handshake_timeout_ms = (unsigned)v * 1000;
            break;
        case 'h':
            serve_usage(stdout);
            return ZC_EXIT_OK;
        default:
            return zc_usage_error("serve", "unknown option");
        }
    }
    if (optind < argc)
        return zc_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!cfg.root || !listen || !keyfile || !authfile)
        return zc_usage_error("serve", "--root, --listen, --key and --authorized are required");
    /* Port 0 (any free port, logged) is valid for listening only: parse it as 1. */
    char host[256], addr[300];
    const char *rest;
    size_t n = strlen(listen);
    bool any_port = n > 2 && strcmp(listen + n - 2, ":0") == 0;
    snprintf(addr, sizeof(addr), "%.*s%s", (int)(any_port ? n - 1 : n), listen,
             any_port ? "1" : "");
    if (zc_parse_hostport(addr, host, sizeof(host), &cfg.port, &rest) || rest)
        return zc_usage_error("serve", "--listen wants HOST:PORT, not '%s'", listen);
    if (any_port)
        cfg.port = 0;
    cfg.host = host;

    struct zc_keypair kp;
    struct zc_pubkey *auth = NULL;
    size_t nauth = 0;
    if (load_keypair(keyfile, &kp))
        return ZC_EXIT_FAIL;
    int r = zc_pubkey_load_list(authfile, &auth, &nauth);
    if (r == -EPERM) {
        zc_error("%s: group or others may write it, or it is owned by neither you nor root: "
                 "whoever can write it can let themselves in (chmod go-w it)",
                 authfile);
    } else if (r || nauth == 0) {
        zc_error("%s: %s", authfile, r ? zc_strerror(r) : "no authorized keys");
    }
    if (r || nauth == 0) {
        zc_wipe(&kp, sizeof(kp));
        free(auth);
        return ZC_EXIT_FAIL;
    }
    cfg.key = &kp;
    cfg.authorized = auth;
    cfg.nauthorized = nauth;
    signal(SIGPIPE, SIG_IGN);

    struct zc_place_server *s;
    if ((r = zc_place_server_open(&s, &cfg))) {
        zc_error("cannot serve %s on %s: %s", cfg.root, listen, zc_strerror(r));
    } else {
        zc_info("listening on %s:%u, root %s", host, zc_place_server_port(s), cfg.root);
        if (once) {
            r = zc_place_server_accept_one(s);
        } else {
            struct sigaction sa = {.sa_handler = on_signal};
            sigaction(SIGINT, &sa, NULL);
            sigaction(SIGTERM, &sa, NULL);
            r = zc_place_server_run(s, &stop_flag);
            if (r)
                zc_error("serving stopped: %s", zc_strerror(r));
        }
        zc_place_server_close(s);
    }
    zc_wipe(&kp, sizeof(kp));
    free(auth);
    return r ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}

/* ---- the client side: common options ---- */

struct client_opts {
    const char *keyfile, *serverfile;
    bool integrity_only, resume, json, quiet;
    unsigned timeout_ms, streams;
    int sendfile;
};

static const struct option client_long_opts[] = {
    {"key", required_argument, NULL, 'k'},
    {"server-pub", required_argument, NULL, 's'},
    {"integrity-only", no_argument, NULL, OPT_INTEGRITY},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"streams", required_argument, NULL, OPT_STREAMS},
    {"sendfile", required_argument, NULL, OPT_SENDFILE},
    {"timeout", required_argument, NULL, 't'},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* Parses the options; returns -1 to go on, or an exit code. */
static int parse_client(const char *cmd, int argc, char **argv, struct client_opts *o,
                        void (*usage)(FILE *))
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:s:t:qh", client_long_opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            o->keyfile = optarg;
            break;
        case 's':
            o->serverfile = optarg;
            break;
        case OPT_INTEGRITY:
            o->integrity_only = true;
            break;
        case OPT_RESUME:
            o->resume = true;
            break;
        case OPT_STREAMS: {
            uint64_t v;
            if (zc_parse_u64(optarg, 1, 16, &v))
                return zc_usage_error(cmd, "--streams wants 1..16, not '%s'", optarg);
            o->streams = (unsigned)v;
            break;
        }
        case OPT_SENDFILE:
            if (strcmp(optarg, "auto") == 0)
                o->sendfile = 0;
            else if (strcmp(optarg, "always") == 0)
                o->sendfile = 1;
            else if (strcmp(optarg, "never") == 0)
                o->sendfile = -1;
            else
                return zc_usage_error(cmd, "--sendfile wants auto, always or never, not '%s'",
                                      optarg);
            break;
        case 't':
            if (parse_timeout(cmd, optarg, &o->timeout_ms))
                return ZC_EXIT_USAGE;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return ZC_EXIT_OK;
        default:
            return zc_usage_error(cmd, "unknown option");
        }
    }
    if (!o->keyfile || !o->serverfile)
        return zc_usage_error(cmd, "--key and --server-pub are required");
    return -1;
}

static int client_open(struct zc_place_client **c, const struct client_opts *o, const char *host,
                       uint16_t port, struct zc_progress *progress)
{
    struct zc_keypair kp;
    struct zc_pubkey server;
    if (load_keypair(o->keyfile, &kp))
        return -EINVAL;
    int r = zc_pubkey_load(o->serverfile, &server);
    if (r) {
        zc_error("cannot load the server key %s: %s", o->serverfile, zc_strerror(r));
        zc_wipe(&kp, sizeof(kp));
        return r;
    }
    struct zc_place_client_config cfg = {
        .host = host,
        .port = port,
        .key = &kp,
        .server = &server,
        .integrity_only = o->integrity_only,
        .resume = o->resume,
        .streams = o->streams,
        .sendfile = o->sendfile,
        .idle_timeout_ms = o->timeout_ms,
        .progress = progress,
    };
    signal(SIGPIPE, SIG_IGN);
    r = zc_place_client_connect(c, &cfg);
    zc_wipe(&kp, sizeof(kp));
    if (r)
        zc_error("cannot open a session with %s:%u: %s", host, port,
                 r == -EACCES ? "the server refused our key (not in its authorized list, or "
                                "it is at its session limit)"
                              : zc_strerror(r));
    return r;
}

static void report_failure(struct zc_place_client *c, const char *what, int r)
{
    const char *msg = zc_place_client_error(c);
    if (msg[0])
        zc_error("%s: %s (server: %s)", what, zc_strerror(r), msg);
    else
        zc_error("%s: %s", what, zc_strerror(r));
}

static void print_summary(const struct client_opts *o, struct zc_place_client *c, uint64_t t0)
{
    struct zc_place_stats st;
    zc_place_client_stats(c, &st);
    double secs = zc_ns_to_s(zc_now_ns() - t0);
    if (!o->json)
        return;
    struct zc_json j;
    zc_json_begin(&j, stdout);
    zc_json_u64(&j, "files", st.files);
    zc_json_u64(&j, "bytes", st.bytes);
    zc_json_u64(&j, "resumed_bytes", st.resumed_bytes);
    zc_json_num(&j, "seconds", secs);
    zc_json_num(&j, "MBps", secs > 0 ? (double)st.bytes / secs / 1e6 : 0);
    zc_json_str(&j, "mode", o->integrity_only ? "integrity-only" : "encrypted");
    zc_json_end(&j);
}

/* ---- zc put ---- */

static void put_usage(FILE *f)
{
    fprintf(f,
            "usage: zc put [--integrity-only] [--resume] --key client.key --server-pub server.pub\n"
            "              SRC... HOST:PORT[:DEST]\n\n"
            "Sends files and directory trees (modes and mtimes kept) to `zc serve`.  Exit 0\n"
            "only when the server confirmed every byte as verified, fsync'd and in place.\n"
            "Without DEST each SRC keeps its name at the server's root; with one regular\n"
            "file and a DEST not ending in '/', DEST is its new name; otherwise DEST is a\n"
            "directory that receives each SRC.\n\n"
            "  -k, --key FILE          our private key (zc keygen)\n"
            "  -s, --server-pub FILE   the server's public key\n"
            "      --integrity-only    payload in clear with a MAC per chunk (trusted networks)\n"
            "      --resume            keep what an interrupted transfer already placed\n"
            "      --streams N         send each file of 64 MiB or more over N connections\n"
            "                          at once (default %u; not with --resume)\n"
            "      --sendfile WHEN     integrity-only payloads by sendfile: auto (default:\n"
            "                          not to a loopback address, where a copy is cheaper),\n"
            "                          always or never\n"
            "  -t, --timeout SECONDS   give up on a server silent this long (default 30)\n"
            "      --json              print a JSON summary as the last line\n"
            "  -q, --quiet             no progress line\n"
            "  -h, --help              this text\n",
            PUT_DEFAULT_STREAMS);
}

static uint64_t sum_size_bytes;
static int sum_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (type == FTW_F && S_ISREG(st->st_mode))
        sum_size_bytes += (uint64_t)st->st_size;
    return 0;
}

/* The name SRC keeps: its last component. */
static const char *src_name(const char *src, char *buf, size_t len)
{
    snprintf(buf, len, "%s", src);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    const char *b = strrchr(buf, '/');
    b = b ? b + 1 : buf;
    return (!*b || !strcmp(b, ".") || !strcmp(b, "..")) ? NULL : b;
}

int cmd_put(int argc, char **argv)
{
    struct client_opts o = {0};
    int r = parse_client("put", argc, argv, &o, put_usage);
    if (r >= 0)
        return r;
    r = 0;
    if (argc - optind < 2)
        return zc_usage_error("put", "wants SRC... HOST:PORT[:DEST]");
    if (!o.streams)
        o.streams = PUT_DEFAULT_STREAMS;
    char host[256], dest[ZC_PLACE_MAX_PATH + 1] = "";
    uint16_t port;
    const char *rest;
    if (zc_parse_hostport(argv[argc - 1], host, sizeof(host), &port, &rest))
        return zc_usage_error("put", "'%s' is not HOST:PORT[:DEST]", argv[argc - 1]);
    int nsrc = argc - 1 - optind;
    char **srcs = argv + optind;
    bool dest_is_dir = true;
    if (rest && *rest) {
        snprintf(dest, sizeof(dest), "%s", rest);
        size_t n = strlen(dest);
        dest_is_dir = dest[n - 1] == '/';
        while (n && dest[n - 1] == '/')
            dest[--n] = '\0';
    }
    struct stat st;
    if (nsrc > 1 || stat(srcs[0], &st) || !S_ISREG(st.st_mode))
        dest_is_dir = true;

    sum_size_bytes = 0;
    for (int i = 0; i < nsrc; i++)
        if (nftw(srcs[i], sum_size, 32, FTW_PHYS)) {
            zc_error("%s: %s", srcs[i], strerror(errno));
            return ZC_EXIT_FAIL;
        }
    struct zc_progress progress;
    zc_progress_start(&progress, "put", sum_size_bytes, o.quiet);
    uint64_t t0 = zc_now_ns();
    struct zc_place_client *c;
    if (client_open(&c, &o, host, port, &progress))
        return ZC_EXIT_FAIL;
    for (int i = 0; i < nsrc && !r; i++) {
        char namebuf[ZC_PLACE_MAX_PATH + 1], path[ZC_PLACE_MAX_PATH + 2];
        const char *name = src_name(srcs[i], namebuf, sizeof(namebuf));
        if (!name) {
            zc_error("%s: cannot tell what to name it on the server", srcs[i]);
            r = -EINVAL;
            break;
        }
        if (!dest[0])
            snprintf(path, sizeof(path), "%s", name);
        else if (dest_is_dir)
            snprintf(path, sizeof(path), "%s/%s", dest, name);
        else
            snprintf(path, sizeof(path), "%s", dest);
        r = zc_place_put_path(c, srcs[i], path);
        if (r)
            report_failure(c, srcs[i], r);
    }
    if (!r && (r = zc_place_client_finish(c)))
        report_failure(c, "the server did not confirm every file", r);
    zc_progress_finish(&progress);
    if (!r)
        print_summary(&o, c, t0);
    zc_place_client_close(c);
    return r ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}

/* ---- zc get ---- */

static void get_usage(FILE *f)
{
    fprintf(f,
            "usage: zc get [--integrity-only] [--resume] --key client.key --server-pub server.pub\n"
            "              HOST:PORT:SRC... LOCALDIR\n\n"
            "Fetches files or trees from `zc serve` into LOCALDIR, each verified and\n"
            "fsync'd before it appears under its name.\n\n"
            "  -k, --key FILE          our private key\n"
            "  -s, --server-pub FILE   the server's public key\n"
            "      --integrity-only    payload in clear with a MAC per chunk\n"
            "      --resume            keep what an interrupted get already placed in\n"
            "                          LOCALDIR (and skip files already there, same size\n"
            "                          and mtime)\n"
            "  -t, --timeout SECONDS   give up on a server silent this long (default 30)\n"
            "      --json              print a JSON summary as the last line\n"
            "  -q, --quiet             no progress line\n"
            "  -h, --help              this text\n");
}

int cmd_get(int argc, char **argv)
{
    struct client_opts o = {0};
    int r = parse_client("get", argc, argv, &o, get_usage);
    if (r >= 0)
        return r;
    r = 0;
    if (o.streams || o.sendfile)
        return zc_usage_error("get", "--streams and --sendfile are for put");
    if (argc - optind < 2)
        return zc_usage_error("get", "wants HOST:PORT:SRC... LOCALDIR");
    const char *localdir = argv[argc - 1];
    struct stat st;
    if (stat(localdir, &st) || !S_ISDIR(st.st_mode)) {
        zc_error("%s: not a directory", localdir);
        return ZC_EXIT_FAIL;
    }
    char host[256], h2[256];
    uint16_t port = 0, p2;
    const char *rest;
    for (int i = optind; i < argc - 1; i++) {
        if (zc_parse_hostport(argv[i], h2, sizeof(h2), &p2, &rest) || !rest || !*rest ||
            (i > optind && (strcmp(h2, host) || p2 != port)))
            return zc_usage_error("get", "'%s' is not HOST:PORT:SRC (one server)", argv[i]);
        memcpy(host, h2, sizeof(host));
        port = p2;
    }
    struct zc_progress progress;
    zc_progress_start(&progress, "get", 0, o.quiet);
    uint64_t t0 = zc_now_ns();
    struct zc_place_client *c;
    if (client_open(&c, &o, host, port, &progress))
        return ZC_EXIT_FAIL;
    for (int i = optind; i < argc - 1 && !r; i++) {
        zc_parse_hostport(argv[i], h2, sizeof(h2), &p2, &rest);
        if ((r = zc_place_get(c, rest, localdir)))
            report_failure(c, rest, r);
    }
    if (!r && (r = zc_place_client_finish(c)))
        report_failure(c, "closing the session", r);
    zc_progress_finish(&progress);
    if (!r)
        print_summary(&o, c, t0);
    zc_place_client_close(c);
    return r ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}
