/* test_seal_cli.c - `zc keygen`, `zc broker` and `zc channel` as processes:
 * a file crosses an honest broker intact; an evil broker (a flipped bit, a
 * cut stream) or a wrong key makes both endpoints exit 1 and the receiver
 * publish nothing; usage errors exit 2.  argv[1] is the zc binary, argv[2]
 * the test build of its broker with --evil (zc-evil-broker): zc itself has
 * no attack code. */
#include "zc_test.h"
#include "zc/base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *zc, *evil_broker;
static char dir[512];

static const char *in_dir(const char *name)
{
    static char p[16][600];
    static int i;
    i = (i + 1) % 16;
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
    return p[i];
}

/* Starts prog with up to 12 arguments, stdout and stderr to /dev/null. */
static pid_t spawn(const char *prog, const char *const *args)
{
    char *argv[16] = {(char *)prog};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    CHECK(posix_spawn(&pid, prog, &fa, NULL, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static pid_t start(const char *const *args)
{
    return spawn(zc, args);
}

static int finish(pid_t pid)
{
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int run(const char *const *args)
{
    return finish(start(args));
}

static void wait_for(const char *path)
{
    struct stat st;
    for (int i = 0; i < 1000 && stat(path, &st) != 0; i++)
        usleep(10000);
    CHECK(stat(path, &st) == 0);
}

static bool same_file(const char *a, const char *b)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

/* No file named out or out.* is left in dir. */
static bool nothing_published(void)
{
    DIR *d = opendir(dir);
    CHECK(d);
    bool none = true;
    struct dirent *e;
    while ((e = readdir(d)))
        none &= strncmp(e->d_name, "out", 3) != 0;
    closedir(d);
    return none;
}

struct result {
    int broker, sender, receiver;
};

/* One channel: broker (maybe evil), a sender of in.bin, a receiver into out. */
static struct result transfer(const char *evil, const char *sender_key, const char *receiver_peer)
{
    const char *sock = in_dir("s.sock");
    const char *bargs[] = {"broker",    "--socket", sock,     "--slots", "8",
                           "--max-msg", "16K",      "--evil", evil,      NULL};
    if (!evil)
        bargs[7] = NULL;
    pid_t b = evil ? spawn(evil_broker, bargs + 1) : start(bargs);
    wait_for(sock);
    const char *sargs[] = {
        "channel", "--socket",       sock,        "--key", sender_key, "--peer", in_dir("b.pub"),
        "--send",  in_dir("in.bin"), "--timeout", "20",    NULL};
    const char *rargs[] = {"channel",       "--socket",  sock,          "--key",
                           in_dir("b.key"), "--peer",    receiver_peer, "--recv",
                           in_dir("out"),   "--timeout", "20",          NULL};
    pid_t s = start(sargs), r = start(rargs);
    struct result res = {.receiver = finish(r), .sender = finish(s)};
    res.broker = finish(b);
    return res;
}

static void test_keygen(void)
{
    const char *a[] = {"keygen", "-o", in_dir("a"), NULL};
    CHECK_EQ(run(a), 0);
    const char *b[] = {"keygen", "-o", in_dir("b"), NULL};
    CHECK_EQ(run(b), 0);
    const char *c[] = {"keygen", "-o", in_dir("c"), NULL};
    CHECK_EQ(run(c), 0);
    struct stat st;
    CHECK(stat(in_dir("a.key"), &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(run(a), 1); /* never overwrites */
    const char *none[] = {"keygen", NULL};
    CHECK_EQ(run(none), 2);
    const char *help[] = {"keygen", "--help", NULL};
    CHECK_EQ(run(help), 0);
}

static void test_honest(void)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "head -c 300000 /dev/urandom > '%s'", in_dir("in.bin"));
    CHECK(system(cmd) == 0);
    struct result r = transfer(NULL, in_dir("a.key"), in_dir("a.pub"));
    CHECK_EQ(r.receiver, 0);
    CHECK_EQ(r.sender, 0);
    CHECK_EQ(r.broker, 0);
    CHECK(same_file(in_dir("in.bin"), in_dir("out")));
    CHECK(unlink(in_dir("out")) == 0);
}

static void test_evil(void)
{
    const char *modes[] = {"payload", "replay", "cut", "race"};
    for (size_t i = 0; i < ZC_ARRAY_SIZE(modes); i++) {
        fprintf(stderr, "    %s\n", modes[i]);
        struct result r = transfer(modes[i], in_dir("a.key"), in_dir("a.pub"));
        if (strcmp(modes[i], "race") == 0 && r.receiver == 0) {
            /* The race may miss every read; then the file must be exact. */
            CHECK(same_file(in_dir("in.bin"), in_dir("out")));
            CHECK(unlink(in_dir("out")) == 0);
            continue;
        }
        CHECK_EQ(r.receiver, 1);
        CHECK(nothing_published());
    }
}

static void test_wrong_keys(void)
{
    /* The receiver expects c, the sender is a. */
    struct result r = transfer(NULL, in_dir("a.key"), in_dir("c.pub"));
    CHECK_EQ(r.receiver, 1);
    CHECK_EQ(r.sender, 1);
    CHECK(nothing_published());
    /* A private key readable by others is refused before anything starts. */
    CHECK(chmod(in_dir("c.key"), 0644) == 0);
    const char *args[] = {"channel",       "--socket", in_dir("none.sock"), "--key",
                          in_dir("c.key"), "--peer",   in_dir("a.pub"),     "--recv",
                          in_dir("out"),   NULL};
    CHECK_EQ(run(args), 1);
    CHECK(nothing_published());
}

static void test_usage(void)
{
    const char *a[] = {"channel", NULL};
    CHECK_EQ(run(a), 2);
    /* zc's broker is honest only; the test build knows the modes. */
    const char *b[] = {"broker", "--socket", in_dir("x.sock"), "--evil", "payload", NULL};
    CHECK_EQ(run(b), 2);
    const char *nice[] = {"--socket", in_dir("x.sock"), "--evil", "nice", NULL};
    CHECK_EQ(finish(spawn(evil_broker, nice)), 2);
    const char *c[] = {"broker", "--socket", in_dir("x.sock"), "--slots", "3", NULL};
    CHECK_EQ(run(c), 2);
    const char *d[] = {"channel", "--socket", "s", "--key",  "k", "--peer",
                       "p",       "--send",   "x", "--recv", "y", NULL};
    CHECK_EQ(run(d), 2);
    const char *e[] = {"broker", "--help", NULL};
    CHECK_EQ(run(e), 0);
    const char *f[] = {"channel", "--help", NULL};
    CHECK_EQ(run(f), 0);
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    zc = argv[1];
    evil_broker = argv[2];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/zc-seal-cli-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    CHECK(mkdtemp(dir));
    RUN(test_keygen);
    RUN(test_usage);
    RUN(test_honest);
    RUN(test_evil);
    RUN(test_wrong_keys);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return 0;
}
