/* cmd_keygen.c - `zc keygen -o NAME`: a fresh X25519 identity as NAME.key
 * (private, mode 0600) and NAME.pub (the line to give peers). */
#include "cli.h"
#include "cmd.h"
#include "zc/base.h"
#include "zc/crypto.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void keygen_usage(FILE *f)
{
    fprintf(f, "usage: zc keygen -o NAME [--json]\n\n"
               "Writes NAME.key (private key, mode 0600; never overwritten) and NAME.pub\n"
               "(public key, one line: add it to a peer's authorized list).\n\n"
               "  -o, --output NAME   base name of the two files\n"
               "      --json          print {\"key\",\"pub\",\"public_key\"} as the last line\n"
               "  -h, --help          this text\n");
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *base = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            base = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            keygen_usage(stdout);
            return ZC_EXIT_OK;
        default:
            return zc_usage_error("keygen", "unknown option");
        }
    }
    if (optind < argc)
        return zc_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
    if (!base || !*base)
        return zc_usage_error("keygen", "missing -o NAME");

    struct zc_keypair kp;
    int r = zc_keypair_generate(&kp);
    if (!r)
        r = zc_keypair_save(base, &kp);
    struct zc_pubkey pk;
    memcpy(pk.key, kp.pub, sizeof(pk.key));
    zc_wipe(&kp, sizeof(kp));
    if (r) {
        zc_error("cannot write %s.key / %s.pub: %s", base, base, zc_strerror(r));
        return ZC_EXIT_FAIL;
    }
    char line[96];
    zc_pubkey_format(&pk, line, sizeof(line));
    if (json) {
        char keypath[4096], pubpath[4096];
        snprintf(keypath, sizeof(keypath), "%s.key", base);
        snprintf(pubpath, sizeof(pubpath), "%s.pub", base);
        struct zc_json j;
        zc_json_begin(&j, stdout);
        zc_json_str(&j, "key", keypath);
        zc_json_str(&j, "pub", pubpath);
        zc_json_str(&j, "public_key", line);
        zc_json_end(&j);
    } else {
        printf("%s\n", line);
    }
    return ZC_EXIT_OK;
}
