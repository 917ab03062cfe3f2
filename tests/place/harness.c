/* harness.c - scratch space, keys, a server child and the fault relay.
 *
 * The relay is a loopback TCP proxy in a thread.  It forwards the
 * handshake untouched: the client's first message is everything the client
 * sent before the server's first byte came back (the handshake is one round
 * trip, and the client sends no frame before it has the answer).  From then
 * on it parses the client's stream as place frames (the header is in
 * clear: 32 bytes, length at offset 24, then payload and a 16-byte tag) and
 * applies its one fault to the chosen DATA frame.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char cleanup_dir[256];
static pid_t cleanup_server;

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    if (cleanup_server > 0) { /* a failed CHECK must not leave the server running */
        kill(cleanup_server, SIGTERM);
        waitpid(cleanup_server, NULL, 0);
    }
    if (cleanup_dir[0])
        nftw(cleanup_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void harness_init(struct harness *h)
{
    memset(h, 0, sizeof(*h));
    const char *tmp = getenv("TMPDIR");
    snprintf(h->dir, sizeof(h->dir), "%s/zc-place-test.XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    CHECK(mkdtemp(h->dir));
    snprintf(cleanup_dir, sizeof(cleanup_dir), "%s", h->dir);
    atexit(cleanup);
    snprintf(h->root, sizeof(h->root), "%s/root", h->dir);
    CHECK_OK(mkdir(h->root, 0755) ? -errno : 0);
    CHECK_OK(zc_keypair_generate(&h->server));
    CHECK_OK(zc_keypair_generate(&h->client));
    CHECK_OK(zc_keypair_generate(&h->stranger));
    memcpy(h->server_pub.key, h->server.pub, ZC_KEY_BYTES);
    signal(SIGPIPE, SIG_IGN);
}

static volatile sig_atomic_t server_stop;
static void on_term(int sig)
{
    (void)sig;
    server_stop = 1;
}

void harness_start_server(struct harness *h, unsigned idle_ms, uint64_t max_file_size)
{
    static struct zc_pubkey authorized;
    memcpy(authorized.key, h->client.pub, ZC_KEY_BYTES);
    struct zc_place_server_config cfg = {
        .root = h->root,
        .host = "127.0.0.1",
        .key = &h->server,
        .authorized = &authorized,
        .nauthorized = 1,
        .idle_timeout_ms = idle_ms,
        .max_file_size = max_file_size,
        .max_sessions = h->max_sessions,
    };
    struct zc_place_server *s;
    CHECK_OK(zc_place_server_open(&s, &cfg));
    h->port = zc_place_server_port(s);
    h->server_pid = fork();
    CHECK(h->server_pid >= 0);
    if (h->server_pid == 0) {
        struct sigaction sa = {.sa_handler = on_term};
        sigaction(SIGTERM, &sa, NULL);
        zc_place_server_run(s, &server_stop);
        zc_place_server_close(s);
        _exit(0);
    }
    cleanup_server = h->server_pid;
    zc_place_server_close(s);
}

void harness_stop_server(struct harness *h)
{
    if (h->server_pid <= 0)
        return;
    kill(h->server_pid, SIGTERM);
    waitpid(h->server_pid, NULL, 0);
    h->server_pid = cleanup_server = 0;
}

int harness_connect(struct harness *h, uint16_t port, const struct zc_keypair *key, bool integrity,
                    bool resume, unsigned idle_ms, struct zc_place_client **c)
{
    struct zc_place_client_config cfg = {
        .host = "127.0.0.1",
        .port = port,
        .key = key,
        .server = &h->server_pub,
        .integrity_only = integrity,
        .resume = resume,
        .idle_timeout_ms = idle_ms,
    };
    return zc_place_client_connect(c, &cfg);
}

int harness_connect_streams(struct harness *h, unsigned streams, bool integrity,
                            struct zc_place_client **c)
{
    struct zc_place_client_config cfg = {
        .host = "127.0.0.1",
        .port = h->port,
        .key = &h->client,
        .server = &h->server_pub,
        .integrity_only = integrity,
        .streams = streams,
        .idle_timeout_ms = 5000,
    };
    return zc_place_client_connect(c, &cfg);
}

struct place_conn harness_raw_connect(struct harness *h)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(h->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_OK(connect(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0);
    struct place_conn c;
    CHECK_OK(place_conn_init(&c, fd, 5000));
    CHECK_OK(place_conn_handshake_client(&c, &h->client, &h->server_pub));
    return c;
}

int harness_raw_answer(struct place_conn *c)
{
    static uint8_t buf[PLACE_MAX_CTRL];
    int r = place_conn_recv_ctrl(c, buf);
    if (r)
        return r;
    if (c->rx_cur.type != PLACE_ERROR)
        return 0;
    int err;
    char msg[128];
    place_error_decode(buf, c->rx_cur.length, &err, msg, sizeof(msg));
    return -err;
}

void harness_make_file(const char *path, uint64_t size, uint32_t seed, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0);
    uint8_t buf[65536];
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (uint64_t done = 0; done < size;) {
        size_t n = (size_t)ZC_MIN((uint64_t)sizeof(buf), size - done);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        CHECK_OK(zc_write_all(fd, buf, n));
        done += n;
    }
    CHECK_OK(fchmod(fd, mode) ? -errno : 0);
    close(fd);
}

int harness_sha256(const char *path, uint8_t out[32])
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -errno;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    uint8_t buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        EVP_DigestUpdate(md, buf, (size_t)n);
    unsigned len = 32;
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    close(fd);
    return n < 0 ? -EIO : 0;
}

int harness_count(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

bool harness_find(const char *dir, const char *prefix, char *out, size_t outlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            found = (size_t)snprintf(out, outlen, "%s", e->d_name) < outlen;
    closedir(d);
    return found;
}

bool harness_wait_for(const char *path, unsigned ms)
{
    for (unsigned i = 0; i < ms / 10; i++) {
        if (access(path, F_OK) == 0)
            return true;
        usleep(10000);
    }
    return access(path, F_OK) == 0;
}

/* ---- the relay ---- */

#define FRAME_HDR 32
#define FRAME_TAG 16

struct relay {
    int lfd, cfd, sfd;
    uint16_t to_port;
    enum relay_fault fault;
    unsigned frame;
    pthread_t thread;
    atomic_bool stop, fired, resumed;
    uint8_t *acc, *held; /* client bytes not yet forwarded; a frame held back (reorder) */
    size_t acc_len, held_len;
    unsigned data_seen;
    uint64_t server_bytes; /* from the server, after the handshake */
    bool frames, server_spoke, dead;
};

static int write_full(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void kill_link(struct relay *r, bool reset)
{
    if (reset) {
        struct linger l = {1, 0};
        setsockopt(r->cfd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        setsockopt(r->sfd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    close(r->cfd);
    close(r->sfd);
    r->cfd = r->sfd = -1;
    r->dead = true;
}

/* One whole client frame f of n bytes; returns -1 when the link is gone. */
static int relay_frame(struct relay *r, uint8_t *f, size_t n)
{
    if (f[0] != 2 /* DATA */ || r->data_seen++ != r->frame) {
        if (r->held_len) { /* reorder: the frame after the held one goes first */
            if (write_full(r->sfd, f, n) || write_full(r->sfd, r->held, r->held_len))
                return -1;
            r->held_len = 0;
            return 0;
        }
        return write_full(r->sfd, f, n);
    }
    uint32_t len = n - FRAME_HDR - FRAME_TAG;
    r->fired = true;
    switch (r->fault) {
    case RELAY_PASS:
        break;
    case RELAY_FLIP_HEADER:
        f[9] ^= 0x01; /* the offset moves by 256 bytes */
        break;
    case RELAY_FLIP_PAYLOAD:
        f[FRAME_HDR + len / 2] ^= 0x10;
        break;
    case RELAY_FLIP_TAG:
        f[FRAME_HDR + len + 5] ^= 0x80;
        break;
    case RELAY_REPLAY:
        if (write_full(r->sfd, f, n))
            return -1;
        break;
    case RELAY_REORDER:
        memcpy(r->held, f, n);
        r->held_len = n; /* goes out after the next frame */
        return 0;
    case RELAY_CUT:
    case RELAY_RESET:
        kill_link(r, r->fault == RELAY_RESET);
        return -1;
    case RELAY_STALL:
        r->dead = true; /* both sockets stay open; nothing moves any more */
        return -1;
    case RELAY_PAUSE:
        while (!r->resumed && !r->stop) /* the sender's buffers fill; it blocks */
            usleep(1000);
        break;
    case RELAY_CUT_DOWN: /* acts on the server's bytes (relay_main) */
        break;
    }
    return write_full(r->sfd, f, n);
}

static int relay_client_bytes(struct relay *r, const uint8_t *buf, size_t n)
{
    if (!r->frames) {
        if (!r->server_spoke)
            return write_full(r->sfd, buf, n);
        r->frames = true; /* the handshake is over: frames from here on */
    }
    memcpy(r->acc + r->acc_len, buf, n);
    r->acc_len += n;
    size_t off = 0;
    while (r->acc_len - off >= FRAME_HDR) {
        uint8_t *f = r->acc + off;
        uint32_t len =
            (uint32_t)f[24] | (uint32_t)f[25] << 8 | (uint32_t)f[26] << 16 | (uint32_t)f[27] << 24;
        size_t total = FRAME_HDR + (size_t)len + FRAME_TAG;
        if (len > ZC_PLACE_MAX_CHUNK)
            return -1;
        if (r->acc_len - off < total)
            break;
        if (relay_frame(r, f, total))
            return -1;
        off += total;
    }
    memmove(r->acc, r->acc + off, r->acc_len - off);
    r->acc_len -= off;
    return 0;
}

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    struct pollfd lp = {r->lfd, POLLIN, 0};
    while (!r->stop && poll(&lp, 1, 50) <= 0)
        ;
    if (r->stop)
        return NULL;
    r->cfd = accept(r->lfd, NULL, NULL);
    r->sfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(r->to_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(r->cfd >= 0 && r->sfd >= 0);
    CHECK_OK(connect(r->sfd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0);
    static uint8_t buf[1 << 20];
    while (!r->stop && !r->dead) {
        struct pollfd p[2] = {{r->cfd, POLLIN, 0}, {r->sfd, POLLIN, 0}};
        if (poll(p, 2, 50) <= 0)
            continue;
        if (p[1].revents) {
            ssize_t n = recv(r->sfd, buf, sizeof(buf), 0);
            if (n <= 0) {
                shutdown(r->cfd, SHUT_WR);
                break;
            }
            r->server_spoke = true;
            if (r->fault == RELAY_CUT_DOWN && r->frames &&
                (r->server_bytes += (uint64_t)n) >= (uint64_t)r->frame << 18) {
                r->fired = true;
                kill_link(r, false);
                break;
            }
            if (write_full(r->cfd, buf, (size_t)n))
                break;
        }
        if (p[0].revents) {
            ssize_t n = recv(r->cfd, buf, sizeof(buf), 0);
            if (n <= 0) {
                shutdown(r->sfd, SHUT_WR);
                break;
            }
            if (relay_client_bytes(r, buf, (size_t)n))
                break;
        }
    }
    while (!r->stop) /* keep a stalled link open until the test is done */
        usleep(10000);
    return NULL;
}

uint16_t relay_start(struct relay **out, uint16_t to_port, enum relay_fault fault, unsigned frame)
{
    struct relay *r = calloc(1, sizeof(*r));
    CHECK(r);
    r->to_port = to_port;
    r->fault = fault;
    r->frame = frame;
    r->cfd = r->sfd = -1;
    r->acc = malloc(2 * (ZC_PLACE_MAX_CHUNK + 64) + (1 << 20));
    r->held = malloc(ZC_PLACE_MAX_CHUNK + 64);
    CHECK(r->acc && r->held);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    CHECK_OK(bind(r->lfd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0);
    CHECK_OK(listen(r->lfd, 4) ? -errno : 0);
    CHECK_OK(getsockname(r->lfd, (struct sockaddr *)&a, &al) ? -errno : 0);
    CHECK_OK(-pthread_create(&r->thread, NULL, relay_main, r));
    *out = r;
    return ntohs(a.sin_port);
}

void relay_resume(struct relay *r)
{
    r->resumed = true;
}

bool relay_fired(struct relay *r)
{
    return r->fired;
}

void relay_stop(struct relay *r)
{
    r->stop = true;
    pthread_join(r->thread, NULL);
    if (r->cfd >= 0)
        close(r->cfd);
    if (r->sfd >= 0)
        close(r->sfd);
    close(r->lfd);
    free(r->acc);
    free(r->held);
    free(r);
}
