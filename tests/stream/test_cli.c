/* test_cli.c - `zc ingest` as a user and the checks see it: exit codes,
 * usage errors, and the JSON summary of a short run, plain and with the
 * co-runner.  argv[1] is the zc binary. */
#include "cli.h"
#include "zc/base.h"
#include "zc_test.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *zc_bin;
static char out[1 << 16];

/* Runs zc with args, stdout into out[]; returns the exit code. */
static int run(const char *const *args)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        const char *argv[32] = {zc_bin};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        execv(zc_bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The last line of out, which --json makes a JSON object. */
static const char *last_line(void)
{
    size_t n = strlen(out);
    CHECK(n > 0 && out[n - 1] == '\n');
    out[n - 1] = 0;
    const char *nl = strrchr(out, '\n');
    const char *line = nl ? nl + 1 : out;
    CHECK(line[0] == '{' && line[strlen(line) - 1] == '}');
    return line;
}

static void test_usage(void)
{
    CHECK_EQ(run((const char *[]){"ingest", "--help", NULL}), ZC_EXIT_OK);
    CHECK(strstr(out, "--corunner") != NULL);
    CHECK(strstr(out, "--persist-mode") != NULL && strstr(out, "--persist-max") != NULL);
    static const char *const bad[][4] = {
        {"ingest", "--rate", "fast", NULL},    {"ingest", "--rate", "0", NULL},
        {"ingest", "--store", "cached", NULL}, {"ingest", "--duration", "-1", NULL},
        {"ingest", "--cameras", "99", NULL},   {"ingest", "--persist-mode", "direct", NULL},
        {"ingest", "--bogus", NULL},           {"ingest", "extra", NULL},
    };
    for (size_t i = 0; i < ZC_ARRAY_SIZE(bad); i++)
        CHECK_EQ(run(bad[i]), ZC_EXIT_USAGE);
    CHECK_EQ(
        run((const char *[]){"ingest", "--cameras", "0", "--lidars", "0", "--radars", "0", NULL}),
        ZC_EXIT_USAGE);
    CHECK_EQ(run((const char *[]){"ingest", "--corunner", "--duration", "0.5", NULL}),
             ZC_EXIT_USAGE);
    /* Fewer than five rounds of three phases: no spread to speak of. */
    CHECK_EQ(
        run((const char *[]){"ingest", "--corunner", "--duration", "1", "--phase", "0.1", NULL}),
        ZC_EXIT_USAGE);
    CHECK_EQ(run((const char *[]){"ingest", "--corunner", "--min-ratio", "0.5", NULL}),
             ZC_EXIT_USAGE);
}

static void test_bad_recording(void)
{
    /* A recording that cannot be created: a clear failure, not a usage error. */
    CHECK_EQ(run((const char *[]){"ingest", "--duration", "0.1", "--persist",
                                  "/nonexistent-dir/rec", NULL}),
             ZC_EXIT_FAIL);
}

static void test_json_run(void)
{
    CHECK_EQ(run((const char *[]){"ingest", "--rate", "32M", "--duration", "0.5", "--verify",
                                  "--json", NULL}),
             ZC_EXIT_OK);
    const char *j = last_line();
    char v[64];
    CHECK_OK(zc_test_json_field(j, "achieved_Bps", v, sizeof(v)));
    CHECK_OK(zc_test_json_field(j, "dropped_frames", v, sizeof(v)));
    CHECK(strcmp(v, "0") == 0);
    CHECK_OK(zc_test_json_field(j, "bad_frames", v, sizeof(v)));
    CHECK(strcmp(v, "0") == 0);
}

static void test_json_corunner(void)
{
    CHECK_EQ(run((const char *[]){"ingest", "--rate", "128M", "--duration", "0.6", "--phase",
                                  "0.04", "--table", "4M", "--corunner", "--json", NULL}),
             ZC_EXIT_OK);
    const char *j = last_line();
    static const char *const keys[] = {"achieved_Bps",
                                       "dropped_frames",
                                       "corunner_loss_regular",
                                       "corunner_loss_nt",
                                       "corunner_alone_Mlookups",
                                       "corunner_loss_nt_min",
                                       "corunner_loss_regular_max",
                                       "corunner_far_Mlookups"};
    char v[64];
    for (size_t i = 0; i < ZC_ARRAY_SIZE(keys); i++)
        CHECK_OK(zc_test_json_field(j, keys[i], v, sizeof(v)));
    CHECK_EQ(zc_test_json_field(j, "no_such_field", v, sizeof(v)), -ENOENT);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    zc_bin = argv[1];
    RUN(test_usage);
    RUN(test_bad_recording);
    RUN(test_json_run);
    RUN(test_json_corunner);
    return 0;
}
