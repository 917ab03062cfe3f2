/* cmd_seal.c - `zc broker` and `zc channel`: a sealed channel between two
 * processes through shared memory that a third, untrusted one sets up.
 *
 *   zc broker  --socket PATH                          (the untrusted party)
 *   zc channel --socket PATH --key me.key --peer them.pub --send FILE
 *   zc channel --socket PATH --key me.key --peer them.pub --recv FILE
 *
 * The first endpoint to connect is side 0 (it starts the handshake).  A
 * receiver writes into a temporary file next to FILE and renames it only
 * after the sender's authenticated close: a tampered, cut or refused stream
 * leaves nothing behind (FILE is written through zc_output: a FIFO or a
 * device there is written through instead, and gets what arrived).
 */
#define _GNU_SOURCE
#include "cli.h"
#include "progress.h"
#include "cmd.h"
#include "zc/base.h"
#include "zc/crypto.h"
#include "zc/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- zc broker ---- */

static void broker_usage(FILE *f)
{
    fprintf(
        f,
        "usage: zc broker --socket PATH [--slots N] [--max-msg SIZE] [--json]\n\n"
        "Sets up one sealed channel: listens on the UNIX socket PATH, takes two endpoints\n"
        "(`zc channel`; the first is side 0), gives each its shared-memory rings, and\n"
        "stays until one leaves.  The broker is untrusted: it sees only ciphertext.\n\n"
        "  -s, --socket PATH    where the endpoints connect (created; removed when both came)\n"
        "      --slots N        buffers per direction, a power of two (default 64)\n"
        "      --max-msg SIZE   largest message (default 64KiB, at most 16MiB)\n"
        "      --timeout S      give up when an endpoint has not come in S seconds (default 60)\n"
        "      --json           print a summary as the last line\n"
        "  -h, --help           this text\n");
}

int cmd_broker(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"slots", required_argument, NULL, 'n'},
        {"max-msg", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *path = NULL;
    uint64_t timeout_s = 60;
    struct zc_seal_config cfg = {.slots = 64, .max_msg = 64 << 10};
    bool json = false;
    uint64_t v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            path = optarg;
            break;
        case 'n':
            if (zc_parse_u64(optarg, 2, 4096, &v) || (v & (v - 1)))
                return zc_usage_error("broker", "--slots wants a power of two in 2..4096");
            cfg.slots = (uint32_t)v;
            break;
        case 'm':
            if (zc_parse_size(optarg, &v) || v < 1 || v > ZC_SEAL_MAX_MSG)
                return zc_usage_error("broker", "--max-msg wants a size in 1..16MiB");
            cfg.max_msg = (uint32_t)v;
            break;
        case 't':
            if (zc_parse_u64(optarg, 1, 86400, &timeout_s))
                return zc_usage_error("broker", "--timeout wants seconds in 1..86400");
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            broker_usage(stdout);
            return ZC_EXIT_OK;
        default: /* '?' or ':' */
            return cli_bad_option("broker", c, argv);
        }
    }
    if (optind < argc)
        return zc_usage_error("broker", "unexpected argument '%s'", argv[optind]);
    if (!path)
        return zc_usage_error("broker", "missing --socket PATH");

    cli_json_failures(json);
    struct zc_seal_broker *b;
    int r = zc_seal_broker_create(&b, &cfg);
    if (r) {
        cli_fail(r, "cannot set up the channel's shared memory: %s", zc_strerror(r));
        return ZC_EXIT_FAIL;
    }
    int socks[2];
    r = zc_seal_broker_accept(path, timeout_s, socks);
    if (r) {
        cli_fail(r, "cannot take endpoints on %s: %s", path, zc_strerror(r));
        zc_seal_broker_destroy(b);
        return ZC_EXIT_FAIL;
    }
    r = zc_seal_broker_serve(b, socks[0], socks[1]);
    close(socks[0]);
    close(socks[1]);
    zc_seal_broker_destroy(b);
    if (r) {
        cli_fail(r, "channel broke down: %s", zc_strerror(r));
        return ZC_EXIT_FAIL;
    }
    if (json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        zc_json_u64(&j, "slots", cfg.slots);
        zc_json_u64(&j, "max_msg", cfg.max_msg);
        zc_json_end(&j);
    }
    return ZC_EXIT_OK;
}

/* ---- zc channel ---- */

static void channel_usage(FILE *f)
{
    fprintf(f, "usage: zc channel --socket PATH --key ME.key --peer THEM.pub\n"
               "                  (--send FILE | --recv FILE) [--timeout S] [--json]\n\n"
               "One endpoint of a sealed channel set up by `zc broker`: authenticates as ME,\n"
               "accepts only THEM, then sends FILE as sealed messages or receives into FILE\n"
               "('-' is stdin / stdout).  A received file appears only once the sender closed\n"
               "the channel and every message verified; tampering ends it with an error.\n\n"
               "  -s, --socket PATH   the broker's socket\n"
               "  -k, --key FILE      this endpoint's private key (zc keygen)\n"
               "  -p, --peer FILE     the other endpoint's public key\n"
               "      --send FILE     send FILE, then close the channel\n"
               "      --recv FILE     receive into FILE until the peer closes\n"
               "      --timeout S     give up after S seconds without progress (default 30)\n"
               "      --json          print a summary as the last line\n"
               "  -h, --help          this text\n");
}

static int send_file(struct zc_seal *s, const char *path, uint64_t *bytes, uint64_t *msgs,
                     struct zc_progress *pg)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t max = zc_seal_max_msg(s);
    uint8_t *buf = malloc(max);
    int r = buf ? 0 : -ENOMEM;
    while (!r) {
        size_t have = 0;
        while (have < max) {
            ssize_t n = read(fd, buf + have, max - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                r = n < 0 ? -errno : 0;
                break;
            }
            have += (size_t)n;
        }
        if (r || !have)
            break;
        r = zc_seal_send(s, buf, have);
        if (r)
            break;
        *bytes += have;
        *msgs += 1;
        zc_progress_add(pg, have);
    }
    if (!r)
        r = zc_seal_close(s);
    if (!r)
        r = zc_seal_flush(s);
    free(buf);
    if (fd != STDIN_FILENO)
        close(fd);
    return r;
}

/* Receives into out (opened before the channel was joined) until the
 * sender closes; the output is published only after that close. */
static int recv_file(struct zc_seal *s, struct zc_output *out, uint64_t *bytes, uint64_t *msgs,
                     struct zc_progress *pg)
{
    size_t max = zc_seal_max_msg(s);
    uint8_t *buf = malloc(max);
    ssize_t n = buf ? 0 : -ENOMEM;
    while (n >= 0) {
        n = zc_seal_recv(s, buf, max);
        if (n >= 0) {
            int w = zc_output_write(out, buf, (size_t)n);
            if (w)
                n = w;
            *bytes += (uint64_t)(n >= 0 ? n : 0);
            *msgs += 1;
            zc_progress_add(pg, (uint64_t)(n >= 0 ? n : 0));
        }
    }
    free(buf);
    int r = n == -ESHUTDOWN ? 0 : (int)n;
    if (r)
        zc_output_abort(out);
    else
        r = zc_output_commit(out);
    return r;
}

int cmd_channel(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"peer", required_argument, NULL, 'p'},
        {"send", required_argument, NULL, 'S'},
        {"recv", required_argument, NULL, 'R'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *path = NULL, *keyfile = NULL, *peerfile = NULL, *send = NULL, *recv = NULL;
    uint64_t timeout_s = 30;
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:k:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            path = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 'p':
            peerfile = optarg;
            break;
        case 'S':
            send = optarg;
            break;
        case 'R':
            recv = optarg;
            break;
        case 't':
            if (zc_parse_u64(optarg, 1, 86400, &timeout_s))
                return zc_usage_error("channel", "--timeout wants seconds in 1..86400");
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            channel_usage(stdout);
            return ZC_EXIT_OK;
        default: /* '?' or ':' */
            return cli_bad_option("channel", c, argv);
        }
    }
    if (optind < argc)
        return zc_usage_error("channel", "unexpected argument '%s'", argv[optind]);
    if (!path || !keyfile || !peerfile)
        return zc_usage_error("channel", "--socket, --key and --peer are required");
    if (!send == !recv)
        return zc_usage_error("channel", "give exactly one of --send FILE and --recv FILE");

    cli_json_failures(json);
    struct zc_keypair self;
    struct zc_pubkey peer;
    int r = zc_keypair_load(keyfile, &self);
    if (r) {
        cli_fail(r, "cannot load private key %s: %s%s", keyfile, zc_strerror(r),
                 r == -EPERM ? " (it must be ours and mode 0600)" : "");
        return ZC_EXIT_FAIL;
    }
    r = zc_pubkey_load(peerfile, &peer);
    if (r) {
        zc_wipe(&self, sizeof(self));
        cli_fail(r, "cannot load public key %s: %s", peerfile, zc_strerror(r));
        return ZC_EXIT_FAIL;
    }
    /* The file received into is opened before the channel is joined. */
    struct zc_output out = {.fd = -1};
    if (recv && (r = zc_output_open(&out, recv))) {
        zc_wipe(&self, sizeof(self));
        cli_fail(r, "cannot write %s: %s", recv, zc_strerror(r));
        return ZC_EXIT_FAIL;
    }
    bool replaced = out.tmp != NULL; /* a failure leaves nothing behind */
    int sock = zc_seal_broker_dial(path);
    r = sock < 0 ? sock : 0;
    struct zc_seal *s = NULL;
    if (!r)
        r = zc_seal_connect(&s, sock, getuid(), &self, &peer, (int64_t)timeout_s * 1000000000);
    zc_wipe(&self, sizeof(self));
    if (r) {
        zc_output_abort(&out);
        cli_fail(r, "cannot join the channel at %s: %s%s", path, zc_strerror(r),
                 r == -EACCES    ? " (the peer is not the key given with --peer)"
                 : r == -EBADMSG ? " (handshake failed: wrong keys or a tampering broker)"
                                 : "");
        if (sock >= 0)
            close(sock);
        return ZC_EXIT_FAIL;
    }
    struct zc_progress pg;
    zc_progress_start(&pg, send ? "send" : "recv", 0, false);
    uint64_t bytes = 0, msgs = 0;
    r = send ? send_file(s, send, &bytes, &msgs, &pg) : recv_file(s, &out, &bytes, &msgs, &pg);
    zc_progress_finish(&pg);
    double secs = zc_ns_to_s(zc_now_ns() - pg.start_ns);
    enum zc_cipher cipher = zc_seal_cipher(s);
    zc_seal_destroy(s);
    close(sock);
    if (r) {
        const char *why = r == -EBADMSG ? " (tampered, replayed, reordered or dropped in transit)"
                          : r != -EPIPE ? ""
                          : send        ? " (the receiver or the broker went away)"
                                        : " (the stream was cut before the sender closed it)";
        cli_fail(r, "%s failed after %llu messages: %s%s%s", send ? "sending" : "receiving",
                 (unsigned long long)msgs, zc_strerror(r), why,
                 replaced ? "; nothing written" : "");
        return ZC_EXIT_FAIL;
    }
    if (json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        zc_json_str(&j, "direction", send ? "send" : "recv");
        zc_json_u64(&j, "bytes", bytes);
        zc_json_u64(&j, "messages", msgs);
        zc_json_num(&j, "seconds", secs);
        zc_json_str(&j, "cipher", zc_cipher_name(cipher));
        zc_json_end(&j);
    }
    return ZC_EXIT_OK;
}
