/* main.c - `zc <command> [options]`: finds the command and runs it. */
#include "bench.h" /* zc bench NAME: the zc_bench library */
#include "cli.h"
#include "cmd.h"
#include "zc/base.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"keygen", cmd_keygen, "make an identity key pair (NAME.key, NAME.pub)"},
    {"serve", cmd_serve, "receive files: secure direct placement under --root"},
    {"put", cmd_put, "send files to a zc serve"},
    {"get", cmd_get, "fetch files from a zc serve"},
    {"broker", cmd_broker, "set up a sealed channel's shared memory (untrusted)"},
    {"channel", cmd_channel, "a sealed-channel endpoint"},
    {"ingest", cmd_ingest, "cache-polite sensor ingest and its co-runner measurement"},
    {"render", cmd_render, "render a volume (direct volume rendering or mesh)"},
    {"mesh", cmd_mesh, "marching cubes to a binary PLY"},
    {"insitu", cmd_insitu, "MPI simulation rendered in situ, sort-last composited"},
    {"view", cmd_view, "live web view of a frames folder (SSE, scrubber)"},
    {"demo", cmd_demo, "the whole pipeline on embedded defaults"},
    {"vhost", cmd_vhost, "vhost-user-net backend a virtio front end attaches to"},
    {"bench", NULL, "benchmarks: zc bench ring|seal|stream|fb|vhost [--json]"},
};

static const struct command benches[] = {
    {"ring", cmd_bench_ring, "shared-memory virtqueue vs pipe and UNIX socket"},
    {"seal", cmd_bench_seal, "sealed channel vs raw AEAD and the unsealed ring"},
    {"stream", cmd_bench_stream, "streaming (non-temporal) copy vs memcpy, by size"},
    {"fb", cmd_bench_fb, "tile journal vs back buffer, by touched fraction"},
    {"vhost", cmd_bench_vhost, "zc's vhost-user backend vs DPDK's vhost PMD (testpmd)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: zc <command> [options]     (zc <command> --help for each)\n\n");
    for (size_t i = 0; i < ZC_ARRAY_SIZE(commands); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nzc %s: moving data without copying it.\n", zc_version());
}

static int run_bench(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: zc bench <name> [--json] [options]\n\n");
        for (size_t i = 0; i < ZC_ARRAY_SIZE(benches); i++)
            fprintf(f, "  %-6s %s\n", benches[i].name, benches[i].summary);
        return argc < 2 ? ZC_EXIT_USAGE : ZC_EXIT_OK;
    }
    for (size_t i = 0; i < ZC_ARRAY_SIZE(benches); i++)
        if (strcmp(argv[1], benches[i].name) == 0) {
            static char prefix[32];
            snprintf(prefix, sizeof(prefix), "zc bench %s", argv[1]);
            cli_log_to_stderr(prefix);
            return benches[i].run(argc - 1, argv + 1);
        }
    return zc_usage_error("bench", "unknown benchmark '%s'", argv[1]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return ZC_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return ZC_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("zc %s\n", zc_version());
        return ZC_EXIT_OK;
    }
    for (size_t i = 0; i < ZC_ARRAY_SIZE(commands); i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        static char prefix[32];
        snprintf(prefix, sizeof(prefix), "zc %s", name);
        cli_log_to_stderr(prefix);
        if (!commands[i].run)
            return cli_exit(run_bench(argc - 1, argv + 1));
        return cli_exit(commands[i].run(argc - 1, argv + 1));
    }
    fprintf(stderr, "zc: unknown command '%s'\n", name);
    usage(stderr);
    return ZC_EXIT_USAGE;
}
