/* test_output.c - zc_output: what is at the path decides how it is
 * written.  A regular file (or nothing) is replaced whole or not at all,
 * its mode kept, a symlink to it stays a link; a FIFO, a device node (made
 * with mknod in the test's own folder, as root) or a symlink to one is
 * written through and survives; "-" is standard output; write errors
 * (ENOSPC from a "full" node, EPIPE from a FIFO left by its reader) come
 * back as -errno.
 */
#include "zc/base.h"
#include "zc_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[4096];

static const char *at(const char *name)
{
    static char path[2][4200];
    static int i;
    i ^= 1;
    snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
    return path[i];
}

static void put(const char *name, const char *text)
{
    struct zc_output o;
    CHECK_OK(zc_output_open(&o, at(name)));
    CHECK_OK(zc_output_write(&o, text, strlen(text)));
    CHECK_OK(zc_output_commit(&o));
}

static void check_text(const char *path, const char *want)
{
    char got[256] = {0};
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = read(fd, got, sizeof(got) - 1);
    close(fd);
    CHECK(n >= 0);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "%s holds '%s', not '%s'\n", path, got, want);
        exit(1);
    }
}

/* Nothing but the named entries in dir: no temporary left behind. */
static int entries(void)
{
    DIR *d = opendir(dir);
    CHECK(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_regular(void)
{
    struct zc_output o;
    CHECK_OK(zc_output_open(&o, at("a")));
    CHECK_OK(zc_output_write(&o, "new", 3));
    CHECK(access(at("a"), F_OK) != 0); /* nothing published before commit */
    CHECK_OK(zc_output_commit(&o));
    check_text(at("a"), "new");
    struct stat st;
    CHECK_OK(stat(at("a"), &st));
    CHECK_EQ(st.st_mode & 0777, 0644);

    /* Replaced by rename: a new inode, the old mode. */
    CHECK_OK(chmod(at("a"), 0600));
    ino_t old = st.st_ino;
    put("a", "second");
    CHECK_OK(stat(at("a"), &st));
    CHECK(st.st_ino != old);
    CHECK_EQ(st.st_mode & 0777, 0600);
    check_text(at("a"), "second");

    /* Aborted: the older file as it was. */
    CHECK_OK(zc_output_open(&o, at("a")));
    CHECK_OK(zc_output_write(&o, "half", 4));
    zc_output_abort(&o);
    zc_output_abort(&o); /* twice is fine */
    check_text(at("a"), "second");

    /* A link to a file: the file is replaced, the link stays. */
    CHECK_OK(symlink("a", at("link")));
    put("link", "through the link");
    CHECK_OK(lstat(at("link"), &st));
    CHECK(S_ISLNK(st.st_mode));
    check_text(at("a"), "through the link");
    CHECK_EQ(entries(), 2);
    CHECK_OK(unlink(at("link")));
    CHECK_OK(unlink(at("a")));
}

static void test_bad_paths(void)
{
    struct zc_output o;
    CHECK_OK(mkdir(at("sub"), 0755));
    CHECK_EQ(zc_output_open(&o, at("sub")), -EISDIR);
    CHECK_EQ(zc_output_open(&o, at("missing/x")), -ENOENT);
    put("file", "x");
    CHECK_EQ(zc_output_open(&o, at("file/x")), -ENOTDIR);
    CHECK_OK(chmod(at("sub"), 0500));
    if (geteuid() != 0) /* root writes anywhere */
        CHECK_EQ(zc_output_open(&o, at("sub/x")), -EACCES);
    CHECK_OK(rmdir(at("sub")));
    CHECK_OK(unlink(at("file")));

    /* A UNIX socket cannot be written as a file; it is not replaced either. */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", at("sock"));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK_EQ(zc_output_open(&o, at("sock")), -ENXIO);
    struct stat st;
    CHECK_OK(lstat(at("sock"), &st));
    CHECK(S_ISSOCK(st.st_mode));
    close(s);
    CHECK_OK(unlink(at("sock")));
    CHECK_EQ(entries(), 0);
}

/* A child reads the FIFO to its end (or leaves after one byte when quit). */
static pid_t reader(const char *fifo, const char *into, bool quit)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int in = open(fifo, O_RDONLY);
        int out = open(into, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char buf[4096];
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, quit ? 1 : sizeof(buf))) > 0) {
            if (write(out, buf, (size_t)n) != n)
                _exit(1);
            if (quit)
                _exit(0);
        }
        _exit(in >= 0 && out >= 0 ? 0 : 1);
    }
    return pid;
}

static void wait_ok(pid_t pid)
{
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_fifo(void)
{
    CHECK_OK(mkfifo(at("fifo"), 0600));
    CHECK_OK(symlink("fifo", at("fifolink")));
    const char *names[] = {"fifo", "fifolink"};
    for (int i = 0; i < 2; i++) {
        pid_t pid = reader(at("fifo"), at("got"), false);
        put(names[i], "through the fifo");
        wait_ok(pid);
        check_text(at("got"), "through the fifo");
        struct stat st;
        CHECK_OK(lstat(at("fifo"), &st));
        CHECK(S_ISFIFO(st.st_mode));
        CHECK_OK(lstat(at("fifolink"), &st));
        CHECK(S_ISLNK(st.st_mode));
    }
    /* The reader leaves: -EPIPE, and this process is not killed by SIGPIPE. */
    pid_t pid = reader(at("fifo"), at("got"), true);
    struct zc_output o;
    CHECK_OK(zc_output_open(&o, at("fifo")));
    CHECK_OK(zc_output_write(&o, "x", 1));
    wait_ok(pid);
    static char big[1 << 20];
    CHECK_EQ(zc_output_write(&o, big, sizeof(big)), -EPIPE);
    zc_output_abort(&o);
    sigset_t pending;
    CHECK_OK(sigpending(&pending));
    CHECK(!sigismember(&pending, SIGPIPE));
    CHECK_OK(unlink(at("fifo")));
    CHECK_OK(unlink(at("fifolink")));
    CHECK_OK(unlink(at("got")));
}

static void test_devices(void)
{
    if (mknod(at("null"), S_IFCHR | 0666, makedev(1, 3)) != 0 ||
        mknod(at("full"), S_IFCHR | 0666, makedev(1, 7)) != 0) {
        fprintf(stderr, "    skipped: mknod needs root (%s)\n", strerror(errno));
        unlink(at("null"));
        return;
    }
    put("null", "into the void");
    struct zc_output o;
    CHECK_OK(zc_output_open(&o, at("full")));
    CHECK_EQ(zc_output_write(&o, "x", 1), -ENOSPC);
    zc_output_abort(&o);
    CHECK_OK(symlink("null", at("nulllink")));
    put("nulllink", "through the link");
    const char *nodes[] = {"null", "full"};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        CHECK_OK(lstat(at(nodes[i]), &st));
        CHECK(S_ISCHR(st.st_mode));
    }
    CHECK_EQ(entries(), 3);
    CHECK_OK(unlink(at("null")));
    CHECK_OK(unlink(at("full")));
    CHECK_OK(unlink(at("nulllink")));
}

/* "-": standard output, here a pipe to this process. */
static void test_stdout(void)
{
    int p[2];
    CHECK_OK(pipe(p));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        struct zc_output o;
        int err = zc_output_open(&o, "-");
        if (!err)
            err = zc_output_write(&o, "on stdout", 9);
        if (!err)
            err = zc_output_commit(&o);
        _exit(err || write(STDOUT_FILENO, "!", 1) != 1 ? 1 : 0); /* still open */
    }
    close(p[1]);
    char got[32] = {0};
    CHECK_OK(zc_read_all(p[0], got, 10));
    close(p[0]);
    wait_ok(pid);
    CHECK(strcmp(got, "on stdout!") == 0);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/zc-output-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir));
    RUN(test_regular);
    RUN(test_bad_paths);
    RUN(test_fifo);
    RUN(test_devices);
    RUN(test_stdout);
    CHECK_EQ(entries(), 0);
    CHECK_OK(rmdir(dir));
    return 0;
}
