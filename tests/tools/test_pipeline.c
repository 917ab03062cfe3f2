/* test_pipeline.c - the pieces of `zc demo`'s pipeline with synthetic
 * frames: rank 0's ring sink encodes frames into ring slots, the uploader
 * (a child process) sends them from there to a place server (another
 * child), and each placed file must be byte-identical to what
 * zc_fb_write_png() writes for the same frame.  Then the unhappy paths: a
 * hostile driver posting malformed chains (nothing may be placed), an
 * uploader that disappears, a sink with nobody listening, a frame of the
 * wrong size.  Last, zc insitu's report from rank 0 to the supervisor
 * through a FIFO: whole, missing, or not a report.
 */
#define _GNU_SOURCE
#include "place/harness.h"
#include "pipeline.h"
#include "zc/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define W 40
#define H 30

static struct harness h;

/* A listening UNIX socket at DIR/name. */
static int listen_at(const char *name, char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    CHECK(strlen(h.dir) + 1 + strlen(name) < sizeof(addr.sun_path));
    strcpy(path, h.dir);
    strcat(path, "/");
    strcat(path, name);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    CHECK_OK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0);
    CHECK_OK(listen(fd, 1) ? -errno : 0);
    return fd;
}

/* Forks the uploader on listen_fd, for a server with the public key
 * server; its report pipe's read end in *report. */
static pid_t start_uploader(int listen_fd, const struct zc_pubkey *server, int *report)
{
    int p[2];
    CHECK_OK(pipe(p) ? -errno : 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        struct pipeline_upload_config cfg = {.listen_fd = listen_fd,
                                             .host = "127.0.0.1",
                                             .port = h.port,
                                             .key = &h.client,
                                             .server = server,
                                             .report_fd = p[1],
                                             .idle_timeout_ns = 20 * 1000000000ll,
                                             .steps = 90,
                                             .every = 10};
        _exit(pipeline_upload(&cfg) ? 1 : 0);
    }
    close(p[1]);
    *report = p[0];
    return pid;
}

static int exit_code(pid_t pid)
{
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void draw(struct zc_fb *fb, unsigned seed)
{
    for (unsigned y = 0; y < H; y++)
        for (unsigned x = 0; x < W; x++)
            CHECK_OK(zc_fb_put(fb, x, y, ZC_FB_RGBA(x * 6 + seed, y * 8, (x ^ y) * seed, 255)));
}

static void read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK(f);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    CHECK(n > 0);
    rewind(f);
    *buf = malloc((size_t)n);
    CHECK(*buf);
    CHECK(fread(*buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
}

static void check_same_file(const char *a, const char *b)
{
    uint8_t *pa, *pb;
    size_t la, lb;
    read_file(a, &pa, &la);
    read_file(b, &pb, &lb);
    CHECK_EQ(la, lb);
    CHECK(memcmp(pa, pb, la) == 0);
    free(pa);
    free(pb);
}

/* More frames than slots, so that slots come back and are reused. */
static void test_frames_arrive_intact(void)
{
    char sock[108];
    int lfd = listen_at("ring.sock", sock);
    int report;
    pid_t up = start_uploader(lfd, &h.server_pub, &report);
    struct pipeline_sink *s;
    CHECK_OK(pipeline_sink_open(&s, sock, W, H));
    struct zc_fb *fb;
    CHECK_OK(zc_fb_create(&fb, W, H, 0));
    enum { FRAMES = 9 };
    uint64_t png_bytes = 0;
    for (unsigned i = 1; i <= FRAMES; i++) {
        draw(fb, i);
        CHECK_OK(pipeline_sink_frame(s, fb, i - 1, NULL));
        char ref[400];
        snprintf(ref, sizeof(ref), "%s/ref_%u.png", h.dir, i);
        CHECK_OK(zc_fb_write_png(fb, ref));
    }
    CHECK_OK(pipeline_sink_close(s));
    CHECK_EQ(exit_code(up), 0);

    struct pipeline_report r;
    for (unsigned i = 1; i <= FRAMES; i++) {
        CHECK_OK(zc_read_all(report, &r, sizeof(r)));
        CHECK_EQ(r.kind, PIPELINE_REPORT_FRAME);
        CHECK_EQ(r.a, 10 * i);
        CHECK(r.ring_bytes > PIPELINE_HEADER_BYTES && r.ring_bytes < 128);
        char got[400], ref[400];
        snprintf(got, sizeof(got), "%s/frame_%08u.png", h.root, 10 * i);
        snprintf(ref, sizeof(ref), "%s/ref_%u.png", h.dir, i);
        check_same_file(got, ref);
        struct stat st;
        CHECK_OK(stat(got, &st) ? -errno : 0);
        CHECK_EQ(st.st_size, r.b);
        png_bytes += r.b;
    }
    CHECK_OK(zc_read_all(report, &r, sizeof(r)));
    CHECK_EQ(r.kind, PIPELINE_REPORT_DONE);
    CHECK_EQ(r.b, png_bytes);
    CHECK(r.a > png_bytes); /* headers and tags on top of the payload */
    CHECK_EQ(zc_read_all(report, &r, sizeof(r)), -ECONNRESET);
    CHECK_EQ(harness_count(h.root, "frame_"), FRAMES);
    close(report);
    close(lfd);
    unlink(sock);
    zc_fb_destroy(fb);
}

/* A driver that is not the sink: each malformed chain must end the
 * uploader with an error before anything is placed. */
struct bad_chain {
    const char *what;
    unsigned nseg;
    uint32_t len0, len1;
    bool writable1;
    uint8_t header[PIPELINE_HEADER_BYTES];
    bool png;
};

static void post_hostile(const struct bad_chain *b, unsigned idx)
{
    char name[32], sock[108];
    snprintf(name, sizeof(name), "bad%u.sock", idx);
    int lfd = listen_at(name, sock);
    int report;
    pid_t up = start_uploader(lfd, &h.server_pub, &report);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_OK(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0);
    struct zc_ring_params p = {.num = 8, .buf_size = 1 << 16};
    struct zc_ring *r;
    CHECK_OK(zc_ring_create(&r, ZC_RING_DRIVER, &p));
    CHECK_OK(zc_ring_send(r, fd));
    uint8_t *buf = zc_ring_buf_base(r);
    memcpy(buf, b->header, sizeof(b->header));
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memset(buf + 64, 0x5a, 4096);
    if (b->png)
        memcpy(buf + 64, sig, sizeof(sig));
    struct zc_ring_seg segs[2] = {{.off = 0, .len = b->len0},
                                  {.off = 64, .len = b->len1, .writable = b->writable1}};
    CHECK_OK(zc_ring_post(r, segs, b->nseg, NULL));
    int code = exit_code(up);
    if (code != 1)
        fprintf(stderr, "    %s: uploader exit %d\n", b->what, code);
    CHECK_EQ(code, 1);
    struct pipeline_report rep;
    CHECK_EQ(zc_read_all(report, &rep, sizeof(rep)), -ECONNRESET);
    CHECK_EQ(harness_count(h.root, ""), 0);
    zc_ring_destroy(r);
    close(fd);
    close(report);
    close(lfd);
    unlink(sock);
}

static void test_hostile_driver(void)
{
    /* "zcf1", 0, frame 3 (of 9) */
    const uint8_t good[PIPELINE_HEADER_BYTES] = {'z', 'c', 'f', '1', 0, 0, 0, 0, 3};
    const struct bad_chain cases[] = {
        {"one segment", 1, 16, 0, false, {0}, true},
        {"short header", 2, 8, 100, false, {0}, true},
        {"device-writable payload", 2, 16, 100, true, {0}, true},
        {"bad magic", 2, 16, 100, false, {'z', 'c', 'f', '2'}, true},
        {"nonzero reserved", 2, 16, 100, false, {'z', 'c', 'f', '1', 1}, true},
        {"frame beyond the last", 2, 16, 100, false, {'z', 'c', 'f', '1', 0, 0, 0, 0, 9}, true},
        {"frame number overflowing the steps",
         2,
         16,
         100,
         false,
         {'z', 'c', 'f', '1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80},
         true},
        {"not a PNG", 2, 16, 100, false, {0}, false},
        {"PNG shorter than its signature", 2, 16, 4, false, {0}, true},
    };
    for (unsigned i = 0; i < ZC_ARRAY_SIZE(cases); i++) {
        struct bad_chain b = cases[i];
        if (b.header[0] == 0)
            memcpy(b.header, good, sizeof(good));
        fprintf(stderr, "    %s\n", b.what);
        post_hostile(&b, i);
    }
}

/* The uploader takes the ring and dies: the sink gets an error once its
 * slots are all out, never a hang. */
static void test_uploader_gone(void)
{
    char sock[108];
    int lfd = listen_at("gone.sock", sock);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = accept(lfd, NULL, NULL);
        struct zc_ring *r;
        _exit(fd >= 0 && zc_ring_recv(&r, ZC_RING_DEVICE, fd, geteuid()) == 0 ? 0 : 1);
    }
    struct pipeline_sink *s;
    CHECK_OK(pipeline_sink_open(&s, sock, W, H));
    CHECK_EQ(exit_code(pid), 0);
    struct zc_fb *fb;
    CHECK_OK(zc_fb_create(&fb, W, H, 0));
    int err = 0;
    for (unsigned i = 0; i < 16 && !err; i++)
        err = pipeline_sink_frame(s, fb, i, NULL);
    CHECK_EQ(err, -EPIPE);
    CHECK_EQ(pipeline_sink_close(s), -EPIPE);
    zc_fb_destroy(fb);
    close(lfd);
    unlink(sock);
}

/* The uploader cannot prove who zc serve is (a key it does not hold): it
 * fails, nothing is placed, and rank 0's sink gets an error, not a hang. */
static void test_server_not_proven(void)
{
    char sock[108];
    int lfd = listen_at("wrongkey.sock", sock);
    struct zc_pubkey stranger;
    memcpy(stranger.key, h.stranger.pub, ZC_KEY_BYTES);
    int report;
    pid_t up = start_uploader(lfd, &stranger, &report);
    struct pipeline_sink *s;
    CHECK_OK(pipeline_sink_open(&s, sock, W, H));
    struct zc_fb *fb;
    CHECK_OK(zc_fb_create(&fb, W, H, 0));
    draw(fb, 3);
    int err = 0;
    for (unsigned i = 0; i < 9 && !err; i++)
        err = pipeline_sink_frame(s, fb, i, NULL);
    CHECK_EQ(err, -EPIPE); /* at the latest when a fifth frame wants a slot */
    CHECK_EQ(pipeline_sink_close(s), -EPIPE);
    CHECK_EQ(exit_code(up), 1);
    struct pipeline_report rep;
    CHECK_EQ(zc_read_all(report, &rep, sizeof(rep)), -ECONNRESET);
    CHECK_EQ(harness_count(h.root, ""), 0);
    zc_fb_destroy(fb);
    close(report);
    close(lfd);
    unlink(sock);
}

static void test_sink_errors(void)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/nobody.sock", h.dir);
    struct pipeline_sink *s = NULL;
    CHECK_EQ(pipeline_sink_open(&s, path, W, H), -ENOENT);
    CHECK_EQ(pipeline_sink_open(&s, path, 65536, 65536), -EFBIG);
    char sock[108];
    int lfd = listen_at("size.sock", sock);
    CHECK_OK(pipeline_sink_open(&s, sock, W, H));
    struct zc_fb *fb;
    CHECK_OK(zc_fb_create(&fb, W + 1, H, 0));
    CHECK_EQ(pipeline_sink_frame(s, fb, 1, NULL), -EINVAL);
    CHECK_OK(pipeline_sink_close(s));
    zc_fb_destroy(fb);
    close(lfd);
    unlink(sock);
    CHECK(pipeline_png_bound(W, H) > (size_t)W * H * 4);
    struct pipeline_upload_config bad = {.listen_fd = -1, .steps = 10, .every = 0};
    CHECK_EQ(pipeline_upload(&bad), -EINVAL);
}

static void test_insitu_report(void)
{
    char fifo[400];
    snprintf(fifo, sizeof(fifo), "%s/report.fifo", h.dir);
    CHECK_OK(mkfifo(fifo, 0600) ? -errno : 0);
    const struct insitu_figures want = {.frames = 7,
                                        .image_bytes = 64 * 48 * 4,
                                        .composite_bytes = 5000000000ull, /* beyond 32 bits */
                                        .busiest_bytes = 123457,
                                        .gather_bytes = 49152};
    CHECK_EQ(pipeline_report_send(fifo, &want), -ENXIO); /* nobody reads */
    int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    CHECK(fd >= 0);
    struct insitu_figures got;
    CHECK_EQ(pipeline_report_read(fd, &got), -ENODATA);
    CHECK_OK(pipeline_report_send(fifo, &want));
    CHECK_OK(pipeline_report_read(fd, &got));
    CHECK_EQ(got.frames, want.frames);
    CHECK_EQ(got.image_bytes, want.image_bytes);
    CHECK_EQ(got.composite_bytes, want.composite_bytes);
    CHECK_EQ(got.busiest_bytes, want.busiest_bytes);
    CHECK_EQ(got.gather_bytes, want.gather_bytes);
    /* The record is little-endian on the wire, whatever the host. */
    CHECK_OK(pipeline_report_send(fifo, &want));
    uint8_t rec[PIPELINE_INSITU_REPORT_BYTES];
    CHECK_EQ(read(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
    CHECK(memcmp(rec, "zcr1\x07\0\0\0", 8) == 0);
    CHECK_EQ(rec[16], 0x00);
    CHECK_EQ(rec[19], 0x2a); /* 5000000000 = 0x12a05f200 */
    CHECK_EQ(rec[20], 0x01);
    /* Half a record, or a record with another magic, is no report. */
    int w = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    CHECK(w >= 0);
    CHECK_EQ(write(w, rec, 20), 20);
    CHECK_EQ(pipeline_report_read(fd, &got), -ENODATA);
    rec[0] = 'Z';
    CHECK_EQ(write(w, rec, sizeof(rec)), (ssize_t)sizeof(rec));
    CHECK_EQ(pipeline_report_read(fd, &got), -EPROTO);
    close(w);
    close(fd);
    unlink(fifo);
}

int main(void)
{
    harness_init(&h);
    harness_start_server(&h, 5000, 0);
    RUN(test_frames_arrive_intact);
    for (unsigned i = 10; i <= 90; i += 10) {
        char p[400];
        snprintf(p, sizeof(p), "%s/frame_%08u.png", h.root, i);
        CHECK_OK(unlink(p) ? -errno : 0);
    }
    RUN(test_hostile_driver);
    RUN(test_uploader_gone);
    RUN(test_server_not_proven);
    RUN(test_sink_errors);
    RUN(test_insitu_report);
    harness_stop_server(&h);
    return 0;
}
