/* cmd_view.c - `zc view`: a live, read-only web viewer of a frames folder.
 *
 * HTTP is libmicrohttpd's (a thread per connection).  A watcher thread
 * follows DIR with inotify (a frame counts when it is closed after writing
 * or renamed in: zc's writers rename whole files in) and wakes the
 * Server-Sent Events streams, which push each new frame's name, step, time,
 * field and range to the page; nothing polls the folder.
 *
 *   /              the page: newest frame, its facts, a scrubber over all
 *   /frames        JSON list of the frames there now (the scrubber's start)
 *   /events        text/event-stream, one "frame" event per new frame
 *   /f/NAME        a frame file
 *
 * Only names of frames (frame_DIGITS.png) are served, opened inside DIR
 * with O_NOFOLLOW and O_NONBLOCK and served only when a regular file:
 * no path, no symlink, no FIFO or device.  A listen address other than
 * loopback needs --token, which then every request must carry
 * (?token=T).
 */
#define _GNU_SOURCE /* pipe2 */
#include "cli.h"
#include "cmd.h"
#include "zc/base.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The newest frames, so that a stream that is behind when several arrive
 * at once sends each of them, not only the newest; and so that a frame
 * seen twice (zc serve renames it in, then closes the descriptor it wrote
 * through: IN_MOVED_TO, then IN_CLOSE_WRITE) counts once. */
#define VIEW_RECENT 64

struct recent_frame {
    char name[64];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct view {
    int dirfd;
    const char *token;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint64_t seq;                            /* frames seen by the watcher */
    struct recent_frame recent[VIEW_RECENT]; /* frame number seq at [seq % VIEW_RECENT] */
    bool stopping;
};

/* frame_, digits, .png: the only names served. */
static bool frame_name(const char *s)
{
    if (strncmp(s, "frame_", 6) != 0)
        return false;
    size_t d = strspn(s + 6, "0123456789");
    return d >= 1 && d <= 20 && strcmp(s + 6 + d, ".png") == 0;
}

/* A frame opened inside DIR: -ENOENT, -ELOOP (a symlink), -EACCES (not a
 * regular file), or the fd with *size. */
static int open_frame(const struct view *v, const char *name, off_t *size)
{
    if (!frame_name(name))
        return -ENOENT;
    int fd = openat(v->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EACCES;
    }
    *size = st.st_size;
    return fd;
}

/* The frame's facts from its tEXt chunks (before the image data), as a
 * JSON object into buf; values kept to printable ASCII without quotes. */
static void frame_facts(const struct view *v, const char *name, char *buf, size_t cap)
{
    char step[32] = "", time[32] = "", field[64] = "", range[64] = "";
    off_t size;
    int fd = open_frame(v, name, &size);
    uint8_t head[8192];
    ssize_t n = fd >= 0 ? pread(fd, head, sizeof(head), 0) : -1;
    if (fd >= 0)
        close(fd);
    for (size_t pos = 8; n > 0 && pos + 12 <= (size_t)n;) {
        uint32_t len =
            (uint32_t)head[pos] << 24 | head[pos + 1] << 16 | head[pos + 2] << 8 | head[pos + 3];
        if (len > (size_t)n - pos - 12 || memcmp(head + pos + 4, "IDAT", 4) == 0)
            break;
        if (memcmp(head + pos + 4, "tEXt", 4) == 0) {
            const char *key = (const char *)head + pos + 8;
            size_t klen = strnlen(key, len);
            char *to = !strncmp(key, "zc:step", klen) && klen == 7    ? step
                       : !strncmp(key, "zc:time", klen) && klen == 7  ? time
                       : !strncmp(key, "zc:field", klen) && klen == 8 ? field
                       : !strncmp(key, "zc:range", klen) && klen == 8 ? range
                                                                      : NULL;
            size_t tcap = to == field || to == range ? 64 : 32, t = 0;
            for (size_t i = klen + 1; to && i < len && t + 1 < tcap; i++) {
                char c = (char)head[pos + 8 + i];
                to[t++] = isprint((unsigned char)c) && c != '"' && c != '\\' ? c : '?';
            }
            if (to)
                to[t] = 0;
        }
        pos += 12 + (size_t)len;
    }
    if (!step[0]) /* no text: the step from the name */
        snprintf(step, sizeof(step), "%llu", strtoull(name + 6, NULL, 10));
    snprintf(buf, cap,
             "{\"name\":\"%s\",\"step\":\"%s\",\"time\":\"%s\",\"field\":\"%s\","
             "\"range\":\"%s\"}",
             name, step, time, field, range);
}

/* ---- the watcher ---- */

/* name as it is in DIR now, when a regular file: false when gone, not a
 * frame, or the very file (inode, size, mtime) already counted. */
static bool new_frame(const struct view *v, const char *name, struct recent_frame *f)
{
    struct stat st;
    if (!frame_name(name) || strlen(name) >= sizeof(f->name) ||
        fstatat(v->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        return false;
    *f = (struct recent_frame){
        .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size, .mtime = st.st_mtim};
    snprintf(f->name, sizeof(f->name), "%s", name);
    for (unsigned i = 0; i < VIEW_RECENT; i++) {
        const struct recent_frame *r = &v->recent[i];
        if (r->ino == f->ino && r->dev == f->dev && r->size == f->size &&
            r->mtime.tv_sec == f->mtime.tv_sec && r->mtime.tv_nsec == f->mtime.tv_nsec &&
            strcmp(r->name, f->name) == 0)
            return false;
    }
    return true;
}

static void *watch(void *arg)
{
    struct view *v = arg;
    int in = inotify_init1(IN_CLOEXEC);
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", v->dirfd);
    if (in < 0 || inotify_add_watch(in, path, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
        zc_log(ZC_LOG_ERROR, "zc view: cannot watch the frames folder: %s", strerror(errno));
        return NULL;
    }
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        struct pollfd p = {.fd = in, .events = POLLIN};
        pthread_mutex_lock(&v->lock);
        bool stop = v->stopping;
        pthread_mutex_unlock(&v->lock);
        if (stop)
            break;
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(in, buf, sizeof(buf));
        for (ssize_t i = 0; i < n;) {
            const struct inotify_event *e = (const void *)(buf + i);
            i += (ssize_t)(sizeof(*e) + e->len);
            struct recent_frame f;
            if (!e->len || !new_frame(v, e->name, &f))
                continue;
            pthread_mutex_lock(&v->lock);
            v->seq++;
            v->recent[v->seq % VIEW_RECENT] = f;
            pthread_cond_broadcast(&v->changed);
            pthread_mutex_unlock(&v->lock);
        }
    }
    close(in);
    return NULL;
}

/* ---- Server-Sent Events ---- */

struct stream {
    struct view *v;
    uint64_t seen; /* the frame number last sent */
};

static ssize_t events(void *arg, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = arg;
    struct view *v = s->v;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 15;
    char name[64] = "";
    pthread_mutex_lock(&v->lock);
    while (!v->stopping && v->seq == s->seen &&
           pthread_cond_timedwait(&v->changed, &v->lock, &until) == 0) {
    }
    bool stop = v->stopping, fresh = v->seq != s->seen;
    if (v->seq - s->seen > VIEW_RECENT) /* too far behind: the oldest kept next */
        s->seen = v->seq - VIEW_RECENT;
    if (fresh)
        memcpy(name, v->recent[++s->seen % VIEW_RECENT].name, sizeof(name));
    pthread_mutex_unlock(&v->lock);
    if (stop && !fresh) /* frames seen before the stop still go out */
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (!fresh) /* a comment keeps proxies and the browser from timing out */
        return snprintf(buf, max, ": idle\n\n");
    char facts[512];
    frame_facts(v, name, facts, sizeof(facts));
    int n = snprintf(buf, max, "event: frame\ndata: %s\n\n", facts);
    return n > 0 && (size_t)n < max ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* ---- requests ---- */

extern const char view_page[];

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status)
{
    static const char msg[] = "refused\n";
    return send_text(c, status, "text/plain", msg, sizeof(msg) - 1, MHD_RESPMEM_PERSISTENT);
}

/* The frames in DIR now, with their facts, oldest step first. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int only_frames(const struct dirent *e)
{
    return frame_name(e->d_name);
}

static enum MHD_Result list_frames(struct MHD_Connection *c, struct view *v)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", v->dirfd);
    struct dirent **names;
    int n = scandir(path, &names, only_frames, by_name);
    if (n < 0)
        return refuse(c, MHD_HTTP_INTERNAL_SERVER_ERROR);
    size_t cap = 16 + (size_t)n * 512, len = 0;
    char *body = malloc(cap);
    if (body)
        len += (size_t)snprintf(body, cap, "[");
    for (int i = 0; i < n; i++) {
        if (body)
            frame_facts(v, names[i]->d_name, body + len + (i > 0), 500);
        if (body && i > 0)
            body[len] = ',';
        if (body)
            len += strlen(body + len);
        free(names[i]);
    }
    free(names);
    if (!body)
        return refuse(c, MHD_HTTP_INTERNAL_SERVER_ERROR);
    len += (size_t)snprintf(body + len, cap - len, "]");
    return send_text(c, MHD_HTTP_OK, "application/json", body, len, MHD_RESPMEM_MUST_FREE);
}

static bool token_ok(struct MHD_Connection *c, const struct view *v)
{
    if (!v->token)
        return true;
    const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    size_t n = strlen(v->token);
    if (!t || strlen(t) != n)
        return false;
    unsigned char diff = 0; /* constant time over the token's length */
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(t[i] ^ v->token[i]);
    return diff == 0;
}

static void free_stream(void *arg)
{
    free(arg);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **state)
{
    struct view *v = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED);
    if (!token_ok(c, v))
        return refuse(c, MHD_HTTP_FORBIDDEN);
    if (strcmp(url, "/") == 0)
        return send_text(c, MHD_HTTP_OK, "text/html; charset=utf-8", view_page, strlen(view_page),
                         MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/frames") == 0)
        return list_frames(c, v);
    if (strcmp(url, "/events") == 0) {
        struct stream *s = malloc(sizeof(*s));
        if (!s)
            return refuse(c, MHD_HTTP_INTERNAL_SERVER_ERROR);
        pthread_mutex_lock(&v->lock);
        *s = (struct stream){.v = v, .seen = v->seq};
        pthread_mutex_unlock(&v->lock);
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, events, s, free_stream);
        if (!r) {
            free(s);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strncmp(url, "/f/", 3) != 0)
        return refuse(c, MHD_HTTP_NOT_FOUND);
    off_t size;
    int fd = open_frame(v, url + 3, &size);
    if (fd < 0)
        return refuse(c, fd == -ENOENT ? MHD_HTTP_NOT_FOUND : MHD_HTTP_FORBIDDEN);
    struct MHD_Response *r = MHD_create_response_from_fd((size_t)size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "image/png");
    MHD_add_response_header(r, "Cache-Control", "max-age=3600");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- the command ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: zc view --frames DIR [--listen HOST:PORT] [--token T]\n"
               "\n"
               "Serves a live web view of the frames written into DIR (zc insitu --out,\n"
               "a simulation's zc_insitu_sink_png, zc serve): the newest frame the moment it\n"
               "is placed, a scrubber over the earlier ones, step, time and scale.\n"
               "\n"
               "  --frames DIR       the folder of frame_STEP.png files\n"
               "  --listen HOST:PORT address to serve on (default 127.0.0.1:8080; port 0: any)\n"
               "  --token T          required of every request (?token=T); needed for any\n"
               "                     address other than loopback\n"
               "  -h, --help         this help\n");
}

static int listen_on(const char *spec, int *fd_out, bool *loopback)
{
    char host[128];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof(host))
        return -EINVAL;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    uint64_t port;
    if (zc_parse_u64(colon + 1, 0, 65535, &port))
        return -EINVAL;
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = 0;
        h++;
    }
    socklen_t len;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
        len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
        len = sizeof(*a6);
    } else {
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    *fd_out = fd;
    return ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
}

int cmd_view(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"frames", required_argument, NULL, 'f'},
        {"listen", required_argument, NULL, 'l'},
        {"token", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *frames = NULL, *listen_spec = "127.0.0.1:8080", *token = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            frames = optarg;
            break;
        case 'l':
            listen_spec = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 'h':
            usage(stdout);
            return ZC_EXIT_OK;
        default:
            return cli_bad_option("view", opt, argv);
        }
    }
    if (optind < argc)
        return zc_usage_error("view", "unexpected argument '%s'", argv[optind]);
    if (!frames)
        return zc_usage_error("view", "--frames DIR is required");
    if (token && !*token)
        return zc_usage_error("view", "--token: an empty token protects nothing");
    struct view v = {.token = token};
    v.dirfd = open(frames, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (v.dirfd < 0) {
        int err = -errno;
        cli_fail(err, "cannot open %s: %s", frames, zc_strerror(err));
        return ZC_EXIT_FAIL;
    }
    int lfd = -1;
    bool loopback = false;
    int port = listen_on(listen_spec, &lfd, &loopback);
    if (port == -EINVAL) {
        close(v.dirfd);
        return zc_usage_error("view", "--listen: HOST:PORT with a numeric address, not '%s'",
                              listen_spec);
    }
    if (port >= 0 && !loopback && !token) {
        close(lfd);
        close(v.dirfd);
        return zc_usage_error("view", "--token is required to serve on %s (not loopback)",
                              listen_spec);
    }
    if (port < 0) {
        close(v.dirfd);
        cli_fail(port, "cannot listen on %s: %s", listen_spec, zc_strerror(port));
        return ZC_EXIT_FAIL;
    }
    pthread_mutex_init(&v.lock, NULL);
    pthread_cond_init(&v.changed, NULL);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* every thread from here on */
    signal(SIGPIPE, SIG_IGN);
    pthread_t watcher;
    pthread_create(&watcher, NULL, watch, &v);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, handle, &v, MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_END);
    int rc = ZC_EXIT_OK;
    if (!d) {
        cli_fail(-EIO, "the HTTP server did not start");
        rc = ZC_EXIT_FAIL;
    } else {
        printf("zc view: http://%.*s:%d/%s%s (frames from %s; Ctrl-C stops)\n",
               (int)(strrchr(listen_spec, ':') - listen_spec), listen_spec, port,
               token ? "?token=" : "", token ? token : "", frames);
        fflush(stdout);
        int sig;
        sigwait(&sigs, &sig);
    }
    pthread_mutex_lock(&v.lock);
    v.stopping = true;
    pthread_cond_broadcast(&v.changed);
    pthread_mutex_unlock(&v.lock);
    if (d)
        MHD_stop_daemon(d); /* closes the listening socket too */
    else
        close(lfd);
    pthread_join(watcher, NULL);
    close(v.dirfd);
    return rc;
}

/* ---- the viewer beside another command ---- */

int view_start(const char *frames, const char *listen_spec, int *pid)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        int err = -errno;
        return cli_fail(err, "zc view: %s", zc_strerror(err));
    }
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        int err = -errno;
        close(p[0]);
        close(p[1]);
        return cli_fail(err, "zc view: %s", zc_strerror(err));
    }
    if (child == 0) {
        dup2(p[1], STDOUT_FILENO);
        execl("/proc/self/exe", "zc", "view", "--frames", frames, "--listen", listen_spec,
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    /* Its one line says where it serves; none: it did not start. */
    char line[512];
    size_t len = 0;
    while (len + 1 < sizeof(line)) {
        ssize_t n = read(p[0], line + len, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || line[len++] == '\n')
            break;
    }
    close(p[0]);
    if (len == 0 || line[len - 1] != '\n') {
        view_stop(child);
        return cli_fail(-EIO, "zc view did not start on %s", listen_spec);
    }
    fwrite(line, 1, len, stdout);
    fflush(stdout);
    *pid = child;
    return 0;
}

int view_stop(int pid)
{
    int status;
    kill(pid, SIGTERM);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}
