/* cmd_place.c - `zc serve`, `zc put`, `zc get`: secure direct-placement
 * file transfer (include/zc/place.h) on the command line. */
#define _GNU_SOURCE
#include "cli.h"
#include "cmd.h"
#include "zc/base.h"
#include "zc/crypto.h"
#include "zc/place.h"
#include "progress.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    OPT_JSON = 256,
    OPT_RESUME,
    OPT_INTEGRITY,
    OPT_MAX_SESSIONS,
    OPT_MAX_FILE,
    OPT_ONCE,
    OPT_HANDSHAKE_TIMEOUT,
    OPT_STREAMS,
    OPT_SENDFILE,
    OPT_FORCE,
    OPT_MAX_FILES,
    OPT_MAX_BYTES
};

/* Streams for a large file when --streams is not given (docs/BENCHMARKS.md). */
#define PUT_DEFAULT_STREAMS 2

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* Loads our private key; a failure says what is wrong with the file and
 * how to fix it. */
static int load_keypair(bool json, const char *path, struct zc_keypair *kp)
{
    struct zc_pubkey pk;
    int r = zc_keypair_load(path, kp);
    if (!r)
        return 0;
    if (!zc_pubkey_load(path, &pk))
        cli_job_failed(json, r, "%s is a public key: give the .key", path);
    else if (r == -EPERM)
        cli_job_failed(json, r, "%s is readable by others: chmod 600 %s", path, path);
    else if (r == -EINVAL)
        cli_job_failed(json, r, "%s is not a zc key file (expected a line 'zc-x25519-private ...')",
                       path);
    else
        cli_job_failed(json, r, "cannot load the key %s: %s", path, zc_strerror(r));
    return r;
}

/* getopt's own messages are off (opterr = 0, optstring starting with
 * ':'): one line with the command's prefix instead. */
static int option_error(const char *cmd, char **argv, int c)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return zc_usage_error(cmd, "option '%s' needs a value", arg);
    if (optopt > 0 && optopt < 128)
        return zc_usage_error(cmd, "unknown option '-%c'", optopt);
    return zc_usage_error(cmd, "unknown option '%s'", arg);
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
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:l:k:a:t:h", opts, NULL)) != -1) {
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
            return option_error("serve", argv, c);
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
    if (load_keypair(false, keyfile, &kp))
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
    const char *cmd;
    const char *keyfile, *serverfile;
    bool integrity_only, resume, json, quiet, force;
    unsigned timeout_ms, streams, max_files;
    uint64_t max_bytes;
    int sendfile;
};

static const struct option client_long_opts[] = {
    {"key", required_argument, NULL, 'k'},
    {"server-pub", required_argument, NULL, 's'},
    {"integrity-only", no_argument, NULL, OPT_INTEGRITY},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"streams", required_argument, NULL, OPT_STREAMS},
    {"sendfile", required_argument, NULL, OPT_SENDFILE},
    {"force", no_argument, NULL, OPT_FORCE},
    {"max-files", required_argument, NULL, OPT_MAX_FILES},
    {"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
    {"timeout", required_argument, NULL, 't'},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* One option of put or get; -1 to go on, or an exit code. */
static int client_option(struct client_opts *o, int c, char **argv, void (*usage)(FILE *))
{
    uint64_t v;
    switch (c) {
    case 'k':
        o->keyfile = optarg;
        return -1;
    case 's':
        o->serverfile = optarg;
        return -1;
    case OPT_INTEGRITY:
        o->integrity_only = true;
        return -1;
    case OPT_RESUME:
        o->resume = true;
        return -1;
    case OPT_STREAMS:
        if (zc_parse_u64(optarg, 1, 16, &v))
            return zc_usage_error(o->cmd, "--streams wants 1..16, not '%s'", optarg);
        o->streams = (unsigned)v;
        return -1;
    case OPT_SENDFILE:
        if (strcmp(optarg, "auto") == 0)
            o->sendfile = 0;
        else if (strcmp(optarg, "always") == 0)
            o->sendfile = 1;
        else if (strcmp(optarg, "never") == 0)
            o->sendfile = -1;
        else
            return zc_usage_error(o->cmd, "--sendfile wants auto, always or never, not '%s'",
                                  optarg);
        return -1;
    case OPT_FORCE:
        o->force = true;
        return -1;
    case OPT_MAX_FILES:
        if (zc_parse_u64(optarg, 1, UINT32_MAX, &v))
            return zc_usage_error(o->cmd, "--max-files wants 1..%u, not '%s'", UINT32_MAX, optarg);
        o->max_files = (unsigned)v;
        return -1;
    case OPT_MAX_BYTES:
        if (zc_parse_size(optarg, &o->max_bytes) || !o->max_bytes)
            return zc_usage_error(o->cmd, "--max-bytes wants a size (e.g. 10G), not '%s'", optarg);
        return -1;
    case 't':
        return parse_timeout(o->cmd, optarg, &o->timeout_ms) ? ZC_EXIT_USAGE : -1;
    case OPT_JSON:
        o->json = true;
        return -1;
    case 'q':
        o->quiet = true;
        return -1;
    case 'h':
        usage(stdout);
        return ZC_EXIT_OK;
    default:
        return option_error(o->cmd, argv, c);
    }
}

/* Parses the options; returns -1 to go on, or an exit code. */
static int parse_client(const char *cmd, int argc, char **argv, struct client_opts *o,
                        void (*usage)(FILE *))
{
    int c, r;
    o->cmd = cmd;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:s:t:qh", client_long_opts, NULL)) != -1)
        if ((r = client_option(o, c, argv, usage)) >= 0)
            return r;
    if (!o->keyfile || !o->serverfile)
        return zc_usage_error(cmd, "--key and --server-pub are required");
    return -1;
}

/* A path on the server (put's DEST, get's SRC) is relative to its root and
 * stays beneath it; checked before anything connects. */
static int check_remote_path(const char *cmd, const char *what, const char *path)
{
    if (path[0] == '/')
        return zc_usage_error(cmd, "%s must be relative (to the server's root): '%s'", what, path);
    for (const char *s = path; *s;) {
        const char *e = strchrnul(s, '/');
        size_t n = (size_t)(e - s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return zc_usage_error(cmd, "%s may not contain '..': '%s'", what, path);
        if (n == 0 || (n == 1 && s[0] == '.') || (n >= 4 && strncmp(s, ".zc-", 4) == 0))
            return zc_usage_error(
                cmd, "%s may not contain '.', '//' or names starting '.zc-': '%s'", what, path);
        s = *e ? e + 1 : e;
    }
    return 0;
}

/* "client.key" -> "client.pub": the file whose line the server wants. */
static const char *pub_of(const char *keyfile, char *buf, size_t len)
{
    size_t n = strlen(keyfile);
    if (n > 4 && strcmp(keyfile + n - 4, ".key") == 0 && n < len) {
        snprintf(buf, len, "%.*s.pub", (int)(n - 4), keyfile);
        return buf;
    }
    return "our public key";
}

/* Why a session could not start, pointing at the side to fix. */
static int connect_failed(const struct client_opts *o, const char *host, uint16_t port, int r)
{
    char pub[4096];
    switch (r) {
    case -EKEYREJECTED:
    case -EBADMSG:
        return cli_job_failed(o->json, r,
                              "the server did not prove it holds %s's key (is --server-pub this "
                              "server's key?)",
                              o->serverfile);
    case -EACCES:
        return cli_job_failed(o->json, r,
                              "the server refused our key: add %s's line to the server's "
                              "--authorized file",
                              pub_of(o->keyfile, pub, sizeof(pub)));
    case -EBUSY:
        return cli_job_failed(o->json, r, "the server is at its session limit; try again later");
    case -ESTALE:
        return cli_job_failed(o->json, r,
                              "the server saw a newer handshake from our key: is this machine's "
                              "clock set back?");
    default:
        return cli_job_failed(o->json, r, "cannot open a session with %s:%u: %s", host, port,
                              zc_strerror(r));
    }
}

static int load_server_pub(const struct client_opts *o, struct zc_pubkey *server)
{
    struct zc_keypair kp;
    int r = zc_pubkey_load(o->serverfile, server);
    if (!r)
        return 0;
    if (!zc_keypair_load(o->serverfile, &kp)) {
        zc_wipe(&kp, sizeof(kp));
        cli_job_failed(o->json, r, "%s is a private key: give the server's .pub", o->serverfile);
    } else if (r == -EINVAL) {
        cli_job_failed(o->json, r,
                       "%s is not a zc public key file (expected a line 'zc-x25519 ...')",
                       o->serverfile);
    } else {
        cli_job_failed(o->json, r, "cannot load the server key %s: %s", o->serverfile,
                       zc_strerror(r));
    }
    return r;
}

/* ^C or kill: one line (and the --json object), exit 1 like any failed
 * job.  Both texts are made before the handler is installed: it may only
 * write() and _exit(). */
static char interrupted_line[64], interrupted_json[64];

static void on_interrupt(int sig)
{
    (void)sig;
    ssize_t w = write(STDERR_FILENO, interrupted_line, strlen(interrupted_line));
    if (interrupted_json[0])
        w = write(STDOUT_FILENO, interrupted_json, strlen(interrupted_json));
    (void)w;
    _exit(ZC_EXIT_FAIL);
}

static void catch_interrupts(const struct client_opts *o)
{
    snprintf(interrupted_line, sizeof(interrupted_line), "%szc %s: interrupted\n",
             isatty(STDERR_FILENO) ? "\n" : "", o->cmd);
    if (o->json)
        snprintf(interrupted_json, sizeof(interrupted_json),
                 "{\"error\": \"interrupted\", \"errno\": %d}\n", EINTR);
    fflush(stdout);
    static const int sigs[] = {SIGINT, SIGTERM};
    struct sigaction sa = {.sa_handler = on_interrupt}, old;
    for (size_t i = 0; i < ZC_ARRAY_SIZE(sigs); i++) /* what our starter ignores stays ignored */
        if (!sigaction(sigs[i], NULL, &old) && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
}

static int client_open(struct zc_place_client **c, const struct client_opts *o, const char *host,
                       uint16_t port, struct zc_progress *progress)
{
    struct zc_keypair kp;
    struct zc_pubkey server;
    if (load_keypair(o->json, o->keyfile, &kp))
        return ZC_EXIT_FAIL;
    if (load_server_pub(o, &server)) {
        zc_wipe(&kp, sizeof(kp));
        return ZC_EXIT_FAIL;
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
        .progress = zc_progress_report,
        .progress_arg = progress,
        .force = o->force,
        .max_files = o->max_files,
        .max_bytes = o->max_bytes,
    };
    signal(SIGPIPE, SIG_IGN);
    int r = zc_place_client_connect(c, &cfg);
    zc_wipe(&kp, sizeof(kp));
    return r ? connect_failed(o, host, port, r) : 0;
}

/* what failed with r: the errno, the reason the library found, and the
 * option that changes the outcome where there is one. */
static int report_failure(const struct client_opts *o, struct zc_place_client *c, const char *what,
                          int r)
{
    const char *msg = zc_place_client_error(c);
    const char *hint = r == -EEXIST   ? "; --force replaces existing files"
                       : r == -EDQUOT ? "; see --max-files and --max-bytes"
                                      : "";
    if (msg[0] || hint[0])
        return cli_job_failed(o->json, r, "%s: %s (%s%s)", what, zc_strerror(r), msg,
                              msg[0] ? hint : hint + 2);
    return cli_job_failed(o->json, r, "%s: %s", what, zc_strerror(r));
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
            "directory that receives each SRC.  DEST is relative to the server's root.\n\n"
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
            "      --json              print a JSON summary as the last line (on failure\n"
            "                          {\"error\": MESSAGE, \"errno\": N})\n"
            "  -q, --quiet             no progress line\n"
            "  -h, --help              this text\n\n"
            "Exit 0 when all is in place, 1 when the transfer failed or was interrupted\n"
            "(SIGINT, SIGTERM), 2 on a usage error.\n",
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

/* Checks what only get takes, and --streams with --resume. */
static int put_options_usable(const struct client_opts *o)
{
    if (o->force || o->max_files || o->max_bytes)
        return zc_usage_error("put", "--force, --max-files and --max-bytes are for get");
    if (o->resume && o->streams > 1)
        return zc_usage_error("put",
                              "--streams %u and --resume do not go together (a resumed "
                              "file goes over one connection)",
                              o->streams);
    return -1;
}

int cmd_put(int argc, char **argv)
{
    struct client_opts o = {0};
    int r = parse_client("put", argc, argv, &o, put_usage);
    if (r >= 0 || (r = put_options_usable(&o)) >= 0)
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
        while (n > 1 && dest[n - 1] == '/')
            dest[--n] = '\0';
        if (check_remote_path("put", "DEST", dest))
            return ZC_EXIT_USAGE;
    }
    struct stat st;
    if (nsrc > 1 || stat(srcs[0], &st) || !S_ISREG(st.st_mode))
        dest_is_dir = true;

    sum_size_bytes = 0;
    for (int i = 0; i < nsrc; i++)
        if (nftw(srcs[i], sum_size, 32, FTW_PHYS))
            return cli_job_failed(o.json, -errno, "%s: %s", srcs[i], strerror(errno));
    catch_interrupts(&o);
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
            r = -EINVAL;
            cli_job_failed(o.json, r, "%s: cannot tell what to name it on the server", srcs[i]);
            break;
        }
        if (!dest[0])
            snprintf(path, sizeof(path), "%s", name);
        else if (dest_is_dir)
            snprintf(path, sizeof(path), "%s/%s", dest, name);
        else
            snprintf(path, sizeof(path), "%s", dest);
        if ((r = zc_place_put_path(c, srcs[i], path)))
            report_failure(&o, c, srcs[i], r);
    }
    if (!r && (r = zc_place_client_finish(c)))
        report_failure(&o, c, "the server did not confirm every file", r);
    zc_progress_finish(&progress);
    if (!r)
        print_summary(&o, c, t0);
    zc_place_client_close(c);
    return r ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}

/* ---- zc get ---- */

static void get_usage(FILE *f)
{
    fprintf(f, "usage: zc get [--integrity-only] [--resume] [--force] --key client.key\n"
               "              --server-pub server.pub HOST:PORT:SRC... LOCALDIR\n\n"
               "Fetches files or trees from `zc serve` into LOCALDIR, each verified and\n"
               "fsync'd before it appears under its name.  The server may place nothing but\n"
               "the last component of each SRC (a file, or a directory and what lies beneath\n"
               "it); modes apply only to directories the get made; an existing file is kept\n"
               "(an error) unless --force.\n\n"
               "  -k, --key FILE          our private key\n"
               "  -s, --server-pub FILE   the server's public key\n"
               "      --integrity-only    payload in clear with a MAC per chunk\n"
               "      --resume            keep what an interrupted get already placed in\n"
               "                          LOCALDIR (and skip files already there, same size\n"
               "                          and mtime)\n"
               "      --force             replace files that exist in LOCALDIR\n"
               "      --max-files N       refuse an answer of more than N files and directories\n"
               "      --max-bytes SIZE    refuse an answer of more than SIZE bytes (e.g. 10G)\n"
               "  -t, --timeout SECONDS   give up on a server silent this long (default 30)\n"
               "      --json              print a JSON summary as the last line (on failure\n"
               "                          {\"error\": MESSAGE, \"errno\": N})\n"
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
    char host[256], h2[256];
    uint16_t port = 0, p2;
    const char *rest;
    for (int i = optind; i < argc - 1; i++) {
        if (zc_parse_hostport(argv[i], h2, sizeof(h2), &p2, &rest) || !rest || !*rest ||
            (i > optind && (strcmp(h2, host) || p2 != port)))
            return zc_usage_error("get", "'%s' is not HOST:PORT:SRC (one server)", argv[i]);
        if (check_remote_path("get", "SRC", rest))
            return ZC_EXIT_USAGE;
        memcpy(host, h2, sizeof(host));
        port = p2;
    }
    struct stat st;
    if (stat(localdir, &st) || !S_ISDIR(st.st_mode))
        return cli_job_failed(o.json, -ENOTDIR, "%s: not a directory", localdir);
    catch_interrupts(&o);
    struct zc_progress progress;
    zc_progress_start(&progress, "get", 0, o.quiet);
    uint64_t t0 = zc_now_ns();
    struct zc_place_client *c;
    if (client_open(&c, &o, host, port, &progress))
        return ZC_EXIT_FAIL;
    for (int i = optind; i < argc - 1 && !r; i++) {
        zc_parse_hostport(argv[i], h2, sizeof(h2), &p2, &rest);
        if ((r = zc_place_get(c, rest, localdir)))
            report_failure(&o, c, rest, r);
    }
    if (!r && (r = zc_place_client_finish(c)))
        report_failure(&o, c, "closing the session", r);
    zc_progress_finish(&progress);
    if (!r)
        print_summary(&o, c, t0);
    zc_place_client_close(c);
    return r ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}
