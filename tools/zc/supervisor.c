/* supervisor.c - `zc demo`'s pipeline stage: it starts a place server on
 * a loopback port (through the library, so the port is known at once), the
 * uploader, and `mpirun zc demo --insitu-ring` (zc insitu with the ring
 * sink as one more frame consumer), watches them, and sums up the bytes
 * each hop moved.  It hears its children through two binary records: the
 * uploader's per-frame reports on a pipe, and zc insitu's figures, written
 * by rank 0 into a FIFO in the stage's private folder (mpirun does not
 * pass inherited descriptors on to its ranks, a path it does).
 *
 * The summary holds each hop against its copying alternative: gathering
 * the whole field at rank 0, pushing the frame bytes through a pipe
 * (copied into the kernel and out again), staging the frame in a file
 * before sending it.
 */
#define _GNU_SOURCE
#include "pipeline.h"
#include "cli.h"

#include "zc/place.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* Longest wait for a child asked to stop before it is killed. */
#define STOP_GRACE_MS 3000

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct child {
    const char *name;
    pid_t pid;  /* 0 once reaped */
    bool group; /* leads its own process group (mpirun and its ranks) */
    int status;
};

/* A child's output, split into lines as it comes. */
struct lines {
    char buf[8192];
    size_t len;
};

/* Everything the stage creates, so that one function can take it down. */
struct stage {
    char dir[PATH_MAX]; /* private temporary folder: keys, socket */
    char sock[PATH_MAX];
    char fifo[PATH_MAX]; /* zc insitu's report comes through here */
    char self[PATH_MAX];
    char root[PATH_MAX]; /* OUT/frames, zc serve's root */
    struct child serve, uploader, mpirun;
    int report, mpi_out, listen_fd; /* -1 when closed */
    int insitu_report;              /* the FIFO's read end, -1 when closed */
    struct lines insitu_lines;      /* zc insitu's stdout */
    struct zc_keypair server_key;   /* zc serve's throwaway identity */
    struct zc_pubkey client_pub;    /* the uploader's, the one key zc serve lets in */
    uint16_t port;                  /* zc serve's */
    struct pipeline_report *frames;
    size_t nframes, cap;
    bool done;
    uint64_t wire_bytes, placed_bytes;
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Forks a child that runs argv with stdout/stderr (when >= 0) on the given
 * descriptors, after env() has set its environment; it dies with us.
 * 0 or -errno. */
static int spawn(struct child *c, char *const argv[], int out_fd, int err_fd, void (*env)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGINT, c->group ? SIG_IGN : SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        if (c->group)
            setpgid(0, 0);
        env();
        if ((out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0) ||
            (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0))
            _exit(127);
        execvp(argv[0], argv);
        fprintf(stderr, "zc demo: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (c->group)
        setpgid(pid, pid);
    c->pid = pid;
    return 0;
}

/* Reaps c if it has exited: true when it is gone. */
static bool reaped(struct child *c)
{
    if (c->pid <= 0)
        return true;
    pid_t r = waitpid(c->pid, &c->status, WNOHANG);
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        c->pid = 0;
        return true;
    }
    return false;
}

static bool exited_ok(const struct child *c)
{
    return WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
}

/* Asks c to stop (SIGTERM), kills it after the grace period, reaps it. */
static void stop_child(struct child *c)
{
    if (reaped(c))
        return;
    kill(c->group ? -c->pid : c->pid, SIGTERM);
    for (int ms = 0; ms < STOP_GRACE_MS; ms += 10) {
        if (reaped(c))
            return;
        usleep(10000);
    }
    kill(c->group ? -c->pid : c->pid, SIGKILL);
    waitpid(c->pid, &c->status, 0);
    c->pid = 0;
}

/* A path inside the private folder; -ENAMETOOLONG. */
static int stage_path(const struct stage *st, char *out, const char *name)
{
    return snprintf(out, PATH_MAX, "%s/%s", st->dir, name) >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Throwaway identities, in memory only: the server's and the uploader's. */
static int make_keys(struct stage *st, struct zc_keypair *client)
{
    int err = zc_keypair_generate(&st->server_key);
    if (!err)
        err = zc_keypair_generate(client);
    memcpy(st->client_pub.key, client->pub, ZC_KEY_BYTES);
    return err;
}

/* Reads what is there on *fd and hands each complete line (a line too long
 * for the buffer in pieces) to fn; at end of file, the rest too, and *fd
 * is closed.  False at end of file. */
static bool read_lines(struct stage *st, int *fd, struct lines *l,
                       void (*fn)(struct stage *st, char *line))
{
    ssize_t n = read(*fd, l->buf + l->len, sizeof(l->buf) - 1 - l->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    bool eof = n <= 0;
    l->len += eof ? 0 : (size_t)n;
    char *nl;
    while ((nl = memchr(l->buf, '\n', l->len)) || l->len == sizeof(l->buf) - 1 || (eof && l->len)) {
        size_t len = nl ? (size_t)(nl - l->buf) : l->len;
        l->buf[len] = 0;
        fn(st, l->buf);
        size_t used = nl ? len + 1 : len;
        memmove(l->buf, l->buf + used, l->len - used);
        l->len -= used;
    }
    if (eof)
        close_fd(fd);
    return !eof;
}

static void teardown(struct stage *st)
{
    stop_child(&st->mpirun);
    stop_child(&st->uploader);
    stop_child(&st->serve);
    zc_wipe(&st->server_key, sizeof(st->server_key));
    close_fd(&st->report);
    close_fd(&st->mpi_out);
    close_fd(&st->listen_fd);
    close_fd(&st->insitu_report);
    free(st->frames);
    if (!st->dir[0])
        return;
    if (st->sock[0])
        unlink(st->sock);
    if (st->fifo[0])
        unlink(st->fifo);
    if (rmdir(st->dir) != 0)
        zc_warn("cannot remove %s: %s", st->dir, strerror(errno));
}

static volatile sig_atomic_t serve_stop;

static void on_serve_stop(int sig)
{
    (void)sig;
    serve_stop = 1;
}

/* Opens the place server on a loopback port of its choosing, here, so that
 * the port is known at once, and serves from a child process (zc serve's
 * loop: one more child per session) until it is asked to stop. */
static int start_serve(struct stage *st, unsigned timeout_s)
{
    struct zc_place_server_config cfg = {
        .root = st->root,
        .host = "127.0.0.1",
        .key = &st->server_key,
        .authorized = &st->client_pub,
        .nauthorized = 1,
        /* A session idle between two frames lasts as long as the stage may. */
        .idle_timeout_ms = (unsigned)ZC_MIN((uint64_t)timeout_s * 1000, UINT_MAX)};
    struct zc_place_server *srv;
    int err = zc_place_server_open(&srv, &cfg);
    if (err)
        return err;
    st->port = zc_place_server_port(srv);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        struct sigaction sa = {.sa_handler = on_serve_stop};
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGINT, SIG_DFL);
        err = zc_place_server_run(srv, &serve_stop);
        if (err)
            zc_error("zc serve: serving stopped: %s", zc_strerror(err));
        _exit(err ? ZC_EXIT_FAIL : ZC_EXIT_OK);
    }
    err = pid < 0 ? -errno : 0;
    zc_place_server_close(srv);
    st->serve = (struct child){.name = "zc serve", .pid = pid > 0 ? pid : 0};
    return err;
}

/* Forks the uploader (the ring's device, a place client). */
static int start_uploader(struct stage *st, const struct pipeline_opts *o,
                          const struct zc_keypair *client, const struct zc_pubkey *server_pub)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int err = -errno;
        close(p[0]);
        close(p[1]);
        return err;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        close(p[0]);
        struct pipeline_upload_config cfg = {.listen_fd = st->listen_fd,
                                             .host = "127.0.0.1",
                                             .port = st->port,
                                             .key = client,
                                             .server = server_pub,
                                             .report_fd = p[1],
                                             .idle_timeout_ns =
                                                 (int64_t)o->timeout_s * 1000000000ll,
                                             .steps = o->steps,
                                             .every = o->every};
        _exit(pipeline_upload(&cfg) ? ZC_EXIT_FAIL : ZC_EXIT_OK);
    }
    close(p[1]);
    st->report = p[0];
    st->uploader = (struct child){.name = "the uploader", .pid = pid};
    return 0;
}

static void mpirun_env(void)
{
    /* What Open MPI needs here: ranks that yield on a shared core, no
     * single-copy transport that wants ptrace rights, and running as root
     * allowed (containers and CI); a user's own settings win. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
    if (geteuid() == 0) {
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    }
}

static int start_insitu(struct stage *st, const struct pipeline_opts *o)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    char np[16], steps[24], every[24], grid[24], size[32];
    snprintf(np, sizeof(np), "%u", o->ranks);
    snprintf(steps, sizeof(steps), "%llu", (unsigned long long)o->steps);
    snprintf(every, sizeof(every), "%llu", (unsigned long long)o->every);
    snprintf(grid, sizeof(grid), "%llu", (unsigned long long)o->grid);
    snprintf(size, sizeof(size), "%ux%u", o->width, o->height);
    char *argv[] = {"mpirun",        "-np",    np,       "--oversubscribe", st->self, "demo",
                    "--insitu-ring", st->sock, st->fifo, "--steps",         steps,    "--every",
                    every,           "--grid", grid,     "--size",          size,     NULL};
    st->mpirun = (struct child){.name = "mpirun zc insitu", .group = true};
    int err = spawn(&st->mpirun, argv, p[1], -1, mpirun_env);
    close(p[1]);
    st->mpi_out = p[0];
    return err;
}

/* A line of zc insitu's stdout passes through, indented. */
static void insitu_line(struct stage *st, char *line)
{
    (void)st;
    printf("  %s\n", line);
}

/* The uploader's records (our own child's, still checked). */
static int read_report(struct stage *st)
{
    struct pipeline_report r;
    int err = zc_read_all(st->report, &r, sizeof(r));
    if (err) {
        close_fd(&st->report);
        return err == -ECONNRESET ? 0 : err;
    }
    if (r.kind == PIPELINE_REPORT_DONE) {
        st->done = true;
        st->wire_bytes = r.a;
        st->placed_bytes = r.b;
        return 0;
    }
    if (r.kind != PIPELINE_REPORT_FRAME)
        return -EPROTO;
    if (st->nframes == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 16;
        struct pipeline_report *f = realloc(st->frames, cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        st->frames = f;
        st->cap = cap;
    }
    st->frames[st->nframes++] = r;
    printf("  frame_%08llu.png  %llu bytes  rank 0 -> ring -> uploader -> zc serve\n",
           (unsigned long long)r.a, (unsigned long long)r.b);
    fflush(stdout);
    return 0;
}

/* Runs until zc insitu and the uploader have both ended, forwarding their
 * output; a child that fails or ends too early fails the stage. */
static int supervise(struct stage *st, unsigned timeout_s)
{
    uint64_t deadline = zc_now_ns() + (uint64_t)timeout_s * 1000000000ull;
    while (st->mpirun.pid || st->uploader.pid || st->mpi_out >= 0 || st->report >= 0) {
        struct pollfd p[2] = {{.fd = st->mpi_out, .events = POLLIN},
                              {.fd = st->report, .events = POLLIN}};
        if (poll(p, 2, 50) < 0 && errno != EINTR)
            return -errno;
        if (p[0].revents)
            read_lines(st, &st->mpi_out, &st->insitu_lines, insitu_line);
        int err = p[1].revents ? read_report(st) : 0;
        if (err) {
            zc_error("the uploader's report is unreadable: %s", zc_strerror(err));
            return err;
        }
        if (interrupted) {
            zc_error("interrupted");
            return -EINTR;
        }
        if (zc_now_ns() > deadline) {
            zc_error("the pipeline took longer than %u s", timeout_s);
            return -ETIMEDOUT;
        }
        struct child *kids[] = {&st->mpirun, &st->uploader, &st->serve};
        for (size_t i = 0; i < ZC_ARRAY_SIZE(kids); i++) {
            struct child *c = kids[i];
            bool was_running = c->pid > 0;
            if (!was_running || !reaped(c))
                continue;
            if (c == &st->serve) {
                zc_error("zc serve ended before the frames were in");
                return -ECHILD;
            }
            if (!exited_ok(c)) {
                if (WIFSIGNALED(c->status))
                    zc_error("%s was killed by signal %d", c->name, WTERMSIG(c->status));
                else
                    zc_error("%s failed (exit %d)%s", c->name, WEXITSTATUS(c->status),
                             WEXITSTATUS(c->status) == 127 ? ": is Open MPI installed?" : "");
                return -ECHILD;
            }
        }
    }
    return 0;
}

int pipeline_report_read(int fd, struct insitu_figures *f)
{
    uint8_t rec[PIPELINE_INSITU_REPORT_BYTES + 1]; /* one byte more: a longer record is not ours */
    ssize_t n = read(fd, rec, sizeof(rec));
    if (n < 0)
        return errno == EAGAIN ? -ENODATA : -errno;
    if (n < PIPELINE_INSITU_REPORT_BYTES)
        return -ENODATA;
    if (n != PIPELINE_INSITU_REPORT_BYTES || zc_get_le32(rec) != PIPELINE_INSITU_REPORT_MAGIC)
        return -EPROTO;
    *f = (struct insitu_figures){.frames = zc_get_le32(rec + 4),
                                 .image_bytes = zc_get_le64(rec + 8),
                                 .composite_bytes = zc_get_le64(rec + 16),
                                 .busiest_bytes = zc_get_le64(rec + 24),
                                 .gather_bytes = zc_get_le64(rec + 32)};
    return 0;
}

/* What the stage measured, checked: every frame zc insitu composited was
 * placed whole by zc serve. */
static int summarize(struct stage *st, const struct pipeline_opts *o, struct pipeline_summary *s)
{
    struct insitu_figures f;
    int err = pipeline_report_read(st->insitu_report, &f);
    if (err) {
        zc_error("zc insitu's report is unreadable: %s", zc_strerror(err));
        return err;
    }
    if (!st->done || f.frames == 0 || st->nframes != f.frames) {
        zc_error("zc insitu composited %u frames, the uploader placed %zu", f.frames, st->nframes);
        return -EPROTO;
    }
    *s = (struct pipeline_summary){.ranks = o->ranks,
                                   .frames = f.frames,
                                   .image_bytes = f.image_bytes,
                                   .composite_bytes = (double)f.composite_bytes / f.frames,
                                   .busiest_rank_bytes = (double)f.busiest_bytes / f.frames,
                                   .gather_bytes = (double)f.gather_bytes,
                                   .wire_bytes = st->wire_bytes,
                                   .placed_bytes = st->placed_bytes};
    snprintf(s->frames_dir, sizeof(s->frames_dir), "%s", st->root);
    for (size_t i = 0; i < st->nframes; i++) {
        const struct pipeline_report *r = &st->frames[i];
        char path[PATH_MAX + 32];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/frame_%08llu.png", s->frames_dir,
                 (unsigned long long)r->a);
        if (stat(path, &sb) != 0 || (uint64_t)sb.st_size != r->b) {
            zc_error("%s did not arrive whole", path);
            return -EIO;
        }
        s->ring_bytes += r->ring_bytes;
        s->png_bytes += r->b;
    }
    if (s->placed_bytes != s->png_bytes) {
        zc_error("zc serve confirmed %llu bytes of %llu", (unsigned long long)s->placed_bytes,
                 (unsigned long long)s->png_bytes);
        return -EIO;
    }
    return 0;
}

static int stage_setup(struct stage *st, const struct pipeline_opts *o)
{
    const char *tmp = getenv("TMPDIR");
    if (snprintf(st->dir, sizeof(st->dir), "%s/zc-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
        (int)sizeof(st->dir))
        return -ENAMETOOLONG;
    if (!mkdtemp(st->dir)) {
        int err = -errno;
        zc_error("cannot make a temporary folder in %s: %s", tmp && *tmp ? tmp : "/tmp",
                 strerror(errno));
        st->dir[0] = 0;
        return err;
    }
    int err = stage_path(st, st->sock, "ring.sock");
    if (!err)
        err = stage_path(st, st->fifo, "insitu.report");
    ssize_t n = readlink("/proc/self/exe", st->self, sizeof(st->self) - 1);
    if (!err && n <= 0)
        err = n < 0 ? -errno : -ENOENT;
    if (err) {
        zc_error("cannot lay out the temporary folder: %s", zc_strerror(err));
        return err;
    }
    st->self[n] = 0;
    if (snprintf(st->root, sizeof(st->root), "%s/frames", o->out) >= (int)sizeof(st->root))
        return -ENAMETOOLONG;
    if (mkdir(st->root, 0755) != 0 && errno != EEXIST) {
        err = -errno;
        zc_error("cannot create %s: %s", st->root, strerror(errno));
        return err;
    }
    return 0;
}

static int listen_unix(struct stage *st)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(st->sock) >= sizeof(addr.sun_path))
        return -ENAMETOOLONG;
    strcpy(addr.sun_path, st->sock);
    st->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (st->listen_fd < 0 || bind(st->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(st->listen_fd, 1) != 0)
        return -errno;
    return 0;
}

/* The FIFO rank 0 writes zc insitu's report into; its read end is held
 * open (not blocking) from before mpirun starts, so the record waits in
 * the pipe until summarize() reads it. */
static int open_report_fifo(struct stage *st)
{
    if (mkfifo(st->fifo, 0600) != 0)
        return -errno;
    st->insitu_report = open(st->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    return st->insitu_report < 0 ? -errno : 0;
}

static int run_stage(struct stage *st, const struct pipeline_opts *o, struct pipeline_summary *s)
{
    struct zc_keypair client;
    struct zc_pubkey server_pub;
    int err = stage_setup(st, o);
    if (err)
        return err;
    if ((err = make_keys(st, &client))) {
        zc_error("cannot make throwaway keys: %s", zc_strerror(err));
        zc_wipe(&client, sizeof(client));
        return err;
    }
    memcpy(server_pub.key, st->server_key.pub, ZC_KEY_BYTES);
    if ((err = start_serve(st, o->timeout_s))) {
        zc_error("zc serve did not start: %s", zc_strerror(err));
        zc_wipe(&client, sizeof(client));
        return err;
    }
    printf("pipeline: zc serve on 127.0.0.1:%u writes into %s; uploader and %u ranks start\n",
           st->port, st->root, o->ranks);
    fflush(stdout);
    if ((err = listen_unix(st)))
        zc_error("cannot listen on %s: %s", st->sock, zc_strerror(err));
    if (!err && (err = start_uploader(st, o, &client, &server_pub)))
        zc_error("cannot start the uploader: %s", zc_strerror(err));
    zc_wipe(&client, sizeof(client));
    if (!err && (err = open_report_fifo(st)))
        zc_error("cannot make %s: %s", st->fifo, zc_strerror(err));
    if (!err && (err = start_insitu(st, o)))
        zc_error("cannot start mpirun: %s", zc_strerror(err));
    if (!err)
        err = supervise(st, o->timeout_s);
    if (!err)
        err = summarize(st, o, s);
    return err;
}

int pipeline_run(const struct pipeline_opts *o, struct pipeline_summary *s)
{
    struct stage *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->report = st->mpi_out = st->listen_fd = st->insitu_report = -1;
    struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term, old_pipe;
    struct sigaction ign = {.sa_handler = SIG_IGN};
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGPIPE, &ign, &old_pipe);
    uint64_t t0 = zc_now_ns();
    int err = run_stage(st, o, s);
    if (!err)
        s->seconds = zc_ns_to_s(zc_now_ns() - t0);
    teardown(st);
    free(st);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    return err;
}

/* ---- the summary ---- */

static void hop(FILE *f, const char *name, double ours, double theirs, const char *alt)
{
    char a[32], b[32];
    fprintf(f, "  %-28s %12s %12s %9.1fx  %s\n", name, zc_fmt_bytes(ours, a, sizeof(a)),
            zc_fmt_bytes(theirs, b, sizeof(b)), ours > 0 ? theirs / ours : 0, alt);
}

void pipeline_print(const struct pipeline_summary *s, FILE *f)
{
    double n = s->frames ? s->frames : 1;
    fprintf(f, "pipeline: %u frames on %u ranks in %.1f s, all placed in %s\n", s->frames, s->ranks,
            s->seconds, s->frames_dir);
    fprintf(f, "  %-28s %12s %12s %10s  %s\n", "bytes per frame, at the hop", "zero-copy",
            "copying", "saved", "the copying alternative");
    hop(f, "ranks -> rank 0 (composite)", s->composite_bytes, s->gather_bytes,
        "gather the whole field at rank 0");
    hop(f, "rank 0 -> uploader (ring)", s->ring_bytes / n, 2.0 * s->png_bytes / n,
        "the PNG through a pipe: copied in, copied out");
    hop(f, "uploader -> zc serve (place)", s->wire_bytes / n,
        (s->wire_bytes + 2.0 * s->png_bytes) / n, "the PNG staged in a file: written, read back");
}

void pipeline_json(const struct pipeline_summary *s, struct zc_json *j)
{
    zc_json_u64(j, "pipeline_ranks", s->ranks);
    zc_json_u64(j, "pipeline_frames", s->frames);
    zc_json_u64(j, "pipeline_image_bytes", s->image_bytes);
    zc_json_u64(j, "composite_bytes_per_frame", (uint64_t)llround(s->composite_bytes));
    zc_json_u64(j, "composite_busiest_rank_bytes_per_frame",
                (uint64_t)llround(s->busiest_rank_bytes));
    zc_json_u64(j, "gather_bytes_per_frame", (uint64_t)llround(s->gather_bytes));
    zc_json_u64(j, "ring_bytes", s->ring_bytes);
    zc_json_u64(j, "pipe_copy_bytes", 2 * s->png_bytes);
    zc_json_u64(j, "png_bytes", s->png_bytes);
    zc_json_u64(j, "wire_bytes", s->wire_bytes);
    zc_json_u64(j, "placed_bytes", s->placed_bytes);
    zc_json_num(j, "pipeline_seconds", s->seconds);
    zc_json_str(j, "frames_dir", s->frames_dir);
}
