/* pipeline.c - the pipeline of DESIGN.md as `zc demo` runs it: the rank-0
 * ring sink of `zc insitu`, the uploader process, and the supervisor that
 * starts `zc serve`, the uploader and `mpirun zc demo --insitu-ring` (zc
 * insitu with the sink as one more frame consumer), watches them and
 * sums up the bytes each hop moved.
 *
 * The idea: a frame is written once, as PNG, straight into a slot of the
 * ring's shared buffer region; only a two-descriptor chain travels to the
 * uploader, which seals and sends the PNG from that very slot, and zc serve
 * receives it straight into the frame's file.  The copying alternative at
 * each hop is what the summary holds it against: gathering the whole field
 * at rank 0, pushing the frame bytes through a pipe (copied into the kernel
 * and out again), staging the frame in a file before sending it.
 *
 * The uploader trusts nothing in ring memory: the chain comes validated
 * from zc_ring_pop(), the header is read once into private memory and
 * checked, and a malformed frame ends the run before any of it is sent.
 */
#define _GNU_SOURCE
#include "pipeline.h"
#include "cli.h"

#include "zc/insitu.h"
#include "zc/place.h"
#include "zc/ring.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/virtio_ring.h>
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

#define FRAME_MAGIC     0x3166637au /* "zcf1" little-endian */
#define SINK_SLOTS      4
#define SINK_WAIT_NS    (60 * 1000000000ll)
#define MAX_STEP        99999999ull /* frame_%08llu.png */
#define PNG_SIGNATURE_N 8

/* Bytes besides the PNG that cross the ring for one frame: two descriptors,
 * one available-ring entry, one used-ring element and the frame header. */
#define FRAME_RING_BYTES                                                                           \
    (2 * sizeof(struct vring_desc) + sizeof(__virtio16) + sizeof(struct vring_used_elem) +         \
     PIPELINE_HEADER_BYTES)

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

size_t pipeline_png_bound(unsigned width, unsigned height)
{
    /* Filtered rows, plus deflate's overhead when it has to store them
     * (5 bytes a stored block; counted as if a block were 2 KiB), an IDAT
     * chunk's 12 bytes each 8 KiB (libpng's buffer), and the signature,
     * IHDR, IEND, zlib wrapper and zc insitu's four text chunks (at most
     * 340 bytes) with room to spare. */
    size_t raw = (size_t)height * ((size_t)width * 4 + 1);
    return raw + raw / 2048 * 5 + (raw / 8192 + 1) * 12 + 1024;
}

/* ---- the sink: PNG straight into a ring slot ---- */

struct pipeline_sink {
    struct zc_ring *ring;
    struct zc_ring_pool *pool;
    int sock;
    unsigned width, height;
    size_t slot_size;
};

int pipeline_sink_open(struct pipeline_sink **out, const char *sock_path, unsigned width,
                       unsigned height)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof(addr.sun_path))
        return -ENAMETOOLONG;
    strcpy(addr.sun_path, sock_path);
    struct pipeline_sink *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->width = width;
    s->height = height;
    s->slot_size = (PIPELINE_HEADER_BYTES + pipeline_png_bound(width, height) + 63) & ~(size_t)63;
    if (s->slot_size > UINT32_MAX) { /* a descriptor's length is 32 bits */
        free(s);
        return -EFBIG;
    }
    s->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err = s->sock < 0 ? -errno : 0;
    if (!err && connect(s->sock, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        err = -errno;
    /* Two descriptors a frame: the queue holds every slot's chain. */
    struct zc_ring_params p = {.num = 2 * SINK_SLOTS,
                               .buf_size = (uint64_t)s->slot_size * SINK_SLOTS,
                               .features = ZC_RING_F_EVENT_IDX};
    if (!err)
        err = zc_ring_create(&s->ring, ZC_RING_DRIVER, &p);
    if (!err)
        err = zc_ring_pool_create(&s->pool, s->ring, 0, s->slot_size, SINK_SLOTS);
    if (!err)
        err = zc_ring_send(s->ring, s->sock);
    if (err) {
        zc_ring_pool_destroy(s->pool);
        zc_ring_destroy(s->ring);
        if (s->sock >= 0)
            close(s->sock);
        free(s);
        return err;
    }
    zc_ring_set_peer_fd(s->ring, s->sock);
    *out = s;
    return 0;
}

int pipeline_sink_frame(struct pipeline_sink *s, const struct zc_fb *fb, uint64_t frame,
                        const struct zc_insitu_frame *png_info)
{
    if (zc_fb_width(fb) != s->width || zc_fb_height(fb) != s->height || frame > MAX_STEP)
        return -EINVAL;
    int err = zc_ring_pool_wait(s->pool, 1, SINK_WAIT_NS);
    if (err)
        return err;
    uint32_t slot = (uint32_t)zc_ring_pool_get(s->pool);
    uint8_t *base = zc_ring_pool_ptr(s->pool, slot);
    /* The same bytes zc insitu --out writes (its PNG text chunks too), so a
     * frame sent through the pipeline is byte-identical to that file. */
    ssize_t len = zc_insitu_encode_png(fb, png_info, base + PIPELINE_HEADER_BYTES,
                                       s->slot_size - PIPELINE_HEADER_BYTES);
    if (len < 0) {
        zc_ring_pool_put(s->pool, slot);
        return (int)len;
    }
    put_le32(base, FRAME_MAGIC);
    put_le32(base + 4, 0);
    put_le64(base + 8, frame);
    /* The header and the PNG as two descriptors, back to back in the slot. */
    uint32_t lens[2] = {PIPELINE_HEADER_BYTES, (uint32_t)len};
    err = zc_ring_pool_add(s->pool, slot, lens, 2);
    if (!err) {
        int n = zc_ring_submit(s->ring);
        err = n < 0 ? n : 0;
    }
    return err;
}

int pipeline_sink_close(struct pipeline_sink *s)
{
    if (!s)
        return 0;
    int err = zc_ring_pool_wait(s->pool, SINK_SLOTS, SINK_WAIT_NS);
    zc_ring_pool_destroy(s->pool);
    zc_ring_destroy(s->ring);
    close(s->sock);
    free(s);
    return err;
}

/* ---- the uploader ---- */

/* Waits up to timeout_ns for fd to become readable: 0, -ETIMEDOUT, -errno. */
static int wait_readable(int fd, int64_t timeout_ns)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ms = timeout_ns < 0 ? -1 : (int)ZC_MIN(timeout_ns / 1000000, INT_MAX);
    int n;
    do
        n = poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return n == 0 ? -ETIMEDOUT : 0;
}

static void report(int fd, const struct pipeline_report *r)
{
    if (fd >= 0 && zc_write_all(fd, r, sizeof(*r)) != 0)
        zc_warn("uploader: cannot report to the supervisor");
}

/* A popped chain as a frame: its header read once and checked, its PNG
 * segment found.  0 with *step (the simulation step the frame shows), *png
 * and *len set, or -EPROTO. */
static int frame_of_chain(const struct zc_ring *r, const struct zc_ring_chain *c,
                          const struct pipeline_upload_config *cfg, uint64_t *step,
                          const uint8_t **png, uint32_t *len)
{
    if (c->nseg != 2 || c->writable_len != 0 || c->seg[0].len != PIPELINE_HEADER_BYTES ||
        c->seg[1].len < PNG_SIGNATURE_N)
        return -EPROTO;
    uint8_t hdr[PIPELINE_HEADER_BYTES];
    memcpy(hdr, zc_ring_ptr(r, &c->seg[0]), sizeof(hdr));
    uint64_t frame = get_le64(hdr + 8);
    if (get_le32(hdr) != FRAME_MAGIC || get_le32(hdr + 4) != 0 ||
        frame >= (cfg->steps + cfg->every - 1) / cfg->every)
        return -EPROTO;
    *step = ZC_MIN((frame + 1) * cfg->every, cfg->steps);
    static const uint8_t sig[PNG_SIGNATURE_N] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t head[PNG_SIGNATURE_N];
    *png = zc_ring_ptr(r, &c->seg[1]);
    memcpy(head, *png, sizeof(head));
    if (memcmp(head, sig, sizeof(sig)) != 0)
        return -EPROTO;
    *len = c->seg[1].len;
    return 0;
}

/* Sends every frame the ring brings until rank 0 hangs up; logs why not. */
static int upload_frames(struct zc_ring *r, struct zc_place_client *c,
                         const struct pipeline_upload_config *cfg)
{
    bool gone = false;
    for (;;) {
        struct zc_ring_chain chain;
        int n = zc_ring_pop(r, &chain);
        if (n == 0 && gone)
            return 0;
        if (n == 0) {
            /* After a hang-up, one more look takes what was posted before it. */
            int err = zc_ring_wait(r, cfg->idle_timeout_ns);
            if (err == -EPIPE)
                gone = true;
            if (err == 0 || err == -EPIPE)
                continue;
            if (err == -ETIMEDOUT) {
                zc_error("uploader: rank 0 sent nothing for %lld s",
                         (long long)(cfg->idle_timeout_ns / 1000000000));
                return err;
            }
            n = err;
        }
        if (n < 0) {
            zc_error("uploader: the ring failed: %s", zc_strerror(n));
            return n;
        }
        uint64_t step;
        const uint8_t *png;
        uint32_t len;
        int err = frame_of_chain(r, &chain, cfg, &step, &png, &len);
        if (err) {
            zc_error("uploader: a malformed frame in the ring (chain %u)", chain.head);
            return err;
        }
        char name[32];
        snprintf(name, sizeof(name), "frame_%08llu.png", (unsigned long long)step);
        if ((err = zc_place_put_buffer(c, name, png, len, 0644))) {
            const char *why = zc_place_client_error(c);
            zc_error("uploader: cannot send %s: %s", name, *why ? why : zc_strerror(err));
            return err;
        }
        if ((err = zc_ring_push(r, chain.head, 0)) == 0)
            err = zc_ring_complete(r);
        if (err < 0) {
            zc_error("uploader: cannot hand frame %s back: %s", name, zc_strerror(err));
            return err;
        }
        report(cfg->report_fd, &(struct pipeline_report){.kind = PIPELINE_REPORT_FRAME,
                                                         .ring_bytes = FRAME_RING_BYTES,
                                                         .a = step,
                                                         .b = len});
    }
}

int pipeline_upload(const struct pipeline_upload_config *cfg)
{
    if (cfg->every == 0 || cfg->steps == 0 || cfg->steps > MAX_STEP)
        return -EINVAL;
    int err = wait_readable(cfg->listen_fd, cfg->idle_timeout_ns);
    int sock = err ? -1 : accept4(cfg->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (!err && sock < 0)
        err = -errno;
    struct zc_ring *r = NULL;
    if (!err)
        err = zc_ring_recv(&r, ZC_RING_DEVICE, sock, geteuid());
    if (err) {
        zc_error("uploader: no ring from zc insitu's rank 0: %s", zc_strerror(err));
        if (sock >= 0)
            close(sock);
        return err;
    }
    zc_ring_set_peer_fd(r, sock);
    struct zc_place_client_config pc = {
        .host = cfg->host,
        .port = cfg->port,
        .key = cfg->key,
        .server = cfg->server,
        .idle_timeout_ms = (unsigned)ZC_MIN(cfg->idle_timeout_ns / 1000000, UINT_MAX)};
    struct zc_place_client *c = NULL;
    if ((err = zc_place_client_connect(&c, &pc)))
        zc_error("uploader: cannot reach zc serve at %s:%u: %s", cfg->host, cfg->port,
                 zc_strerror(err));
    if (!err)
        err = upload_frames(r, c, cfg);
    if (!err && (err = zc_place_client_finish(c))) {
        const char *why = zc_place_client_error(c);
        zc_error("uploader: zc serve did not place the frames: %s", *why ? why : zc_strerror(err));
    }
    if (!err) {
        struct zc_place_stats st;
        zc_place_client_stats(c, &st);
        report(cfg->report_fd, &(struct pipeline_report){.kind = PIPELINE_REPORT_DONE,
                                                         .a = st.wire_bytes,
                                                         .b = st.bytes});
    }
    zc_place_client_close(c);
    zc_ring_destroy(r);
    close(sock);
    return err;
}

/* ---- the supervisor ---- */

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
    char self[PATH_MAX];
    char root[PATH_MAX]; /* OUT/frames, zc serve's root */
    struct child serve, uploader, mpirun;
    int report, mpi_out, listen_fd; /* -1 when closed */
    struct lines insitu_lines;      /* zc insitu's stdout */
    struct zc_keypair server_key;   /* zc serve's throwaway identity */
    struct zc_pubkey client_pub;    /* the uploader's, the one key zc serve lets in */
    char json[8192];                /* the last JSON line zc insitu printed */
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
    free(st->frames);
    if (!st->dir[0])
        return;
    if (st->sock[0])
        unlink(st->sock);
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
    char *argv[] = {"mpirun",
                    "-np",
                    np,
                    "--oversubscribe",
                    st->self,
                    "demo",
                    "--insitu-ring",
                    st->sock,
                    "--steps",
                    steps,
                    "--every",
                    every,
                    "--grid",
                    grid,
                    "--size",
                    size,
                    "--json",
                    NULL};
    st->mpirun = (struct child){.name = "mpirun zc insitu", .group = true};
    int err = spawn(&st->mpirun, argv, p[1], -1, mpirun_env);
    close(p[1]);
    st->mpi_out = p[0];
    return err;
}

/* A line of zc insitu's stdout: its JSON summary is kept, the rest passes
 * through. */
static void insitu_line(struct stage *st, char *line)
{
    if (line[0] == '{')
        snprintf(st->json, sizeof(st->json), "%s", line);
    else
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

/* A number from the one-line JSON object zc insitu printed. */
static int json_number(const char *json, const char *key, double *v)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *at = strstr(json, pat);
    if (!at)
        return -ENOENT;
    char *end;
    errno = 0;
    *v = strtod(at + strlen(pat), &end);
    return end == at + strlen(pat) || errno ? -EINVAL : 0;
}

/* What the stage measured, checked: every frame zc insitu composited was
 * placed whole by zc serve. */
static int summarize(struct stage *st, const struct pipeline_opts *o, struct pipeline_summary *s)
{
    double frames, image, comp, busiest, gather;
    if (json_number(st->json, "frames", &frames) || json_number(st->json, "image_bytes", &image) ||
        json_number(st->json, "composite_bytes_per_frame", &comp) ||
        json_number(st->json, "bytes_sent_per_rank_per_frame", &busiest) ||
        json_number(st->json, "gather_bytes_per_frame", &gather)) {
        zc_error("zc insitu printed no summary");
        return -EPROTO;
    }
    if (!st->done || (double)st->nframes != frames) {
        zc_error("zc insitu composited %.0f frames, the uploader placed %zu", frames, st->nframes);
        return -EPROTO;
    }
    *s = (struct pipeline_summary){.ranks = o->ranks,
                                   .frames = (unsigned)frames,
                                   .image_bytes = (uint64_t)image,
                                   .composite_bytes = comp,
                                   .busiest_rank_bytes = busiest,
                                   .gather_bytes = gather,
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
    st->report = st->mpi_out = st->listen_fd = -1;
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
