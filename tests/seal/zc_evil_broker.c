/* zc_evil_broker.c - `zc broker --evil MODE` for the tests: the same
 * socket and options as `zc broker`, with the relaying, tampering broker
 * of evil_broker.c in place of libzc's honest one.
 *
 *   zc-evil-broker --socket PATH --evil MODE [--slots N] [--max-msg SIZE]
 *
 * Exit 0 when the channel ended, 1 when it broke down, 2 on bad options.
 */
#include "evil_broker.h"
#include "zc/base.h"

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

static int usage(const char *why)
{
    fprintf(stderr,
            "zc-evil-broker: %s\nusage: zc-evil-broker --socket PATH --evil MODE [--slots N] "
            "[--max-msg SIZE]\n",
            why);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"evil", required_argument, NULL, 'e'},
        {"slots", required_argument, NULL, 'n'},
        {"max-msg", required_argument, NULL, 'm'},
        {0},
    };
    const char *path = NULL;
    enum evil_mode mode = EVIL_RELAY;
    bool have_mode = false;
    struct zc_seal_config cfg = {.slots = 64, .max_msg = 64 << 10};
    uint64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's')
            path = optarg;
        else if (c == 'e' && !evil_parse(optarg, &mode))
            have_mode = true;
        else if (c == 'n' && !zc_parse_u64(optarg, 2, 4096, &v))
            cfg.slots = (uint32_t)v;
        else if (c == 'm' && !zc_parse_size(optarg, &v) && v <= ZC_SEAL_MAX_MSG)
            cfg.max_msg = (uint32_t)v;
        else
            return usage("bad option");
    }
    if (!path || !have_mode || optind < argc)
        return usage("needs --socket PATH and --evil MODE");
    struct evil_broker *b;
    int r = evil_broker_create(&b, &cfg, mode);
    if (r)
        return usage(zc_strerror(r));
    int socks[2];
    r = zc_seal_broker_accept(path, 60, socks);
    if (!r) {
        r = evil_broker_serve(b, socks[0], socks[1]);
        close(socks[0]);
        close(socks[1]);
    }
    evil_broker_destroy(b);
    if (r)
        fprintf(stderr, "zc-evil-broker %s: %s\n", evil_name(mode), zc_strerror(r));
    return r ? 1 : 0;
}
