/* test_place_faults.c - a hostile or broken network between client and
 * server, played by the user-space relay: one bit flipped in a header, a
 * payload or a tag; a chunk replayed; two chunks swapped; the link cut,
 * reset or stalled.  Each time the transfer must fail and nothing may
 * appear under the file's name; after a cut, --resume must finish the file
 * with an identical sha256 without resending what was verified, and a
 * resumed session that gets a corrupted chunk leaves nothing to resume.  And the
 * server's own limits: silent or trickling peers are dropped, sessions
 * beyond the limit refused. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#define FILE_BYTES (6u << 20) /* 24 chunks of 256 KiB */
#define IDLE_MS    1000

static struct harness h;
static char src[300], dst[600];

/* Sends src as name through a relay with fault, asking to resume when
 * resume; returns the client's result. */
static int put_via(const char *name, enum relay_fault fault, unsigned frame, bool integrity,
                   bool resume)
{
    struct relay *r;
    uint16_t port = relay_start(&r, h.port, fault, frame);
    struct zc_place_client *c;
    int ret = harness_connect(&h, port, &h.client, integrity, resume, IDLE_MS, &c);
    if (!ret) {
        ret = zc_place_put_path(c, src, name);
        if (!ret)
            ret = zc_place_client_finish(c);
        if (ret)
            fprintf(stderr, "    %s: %s (%s)\n", name, zc_strerror(ret), zc_place_client_error(c));
        zc_place_client_close(c);
    }
    CHECK(fault == RELAY_PASS || relay_fired(r));
    relay_stop(r);
    return ret;
}

static int put_through(const char *name, enum relay_fault fault, unsigned frame, bool integrity)
{
    return put_via(name, fault, frame, integrity, false);
}

static bool published(const char *name)
{
    snprintf(dst, sizeof(dst), "%s/%s", h.root, name);
    return access(dst, F_OK) == 0;
}

/* The session child has finished with name once it no longer holds the
 * lock of its temporary file (".zc-part.NAME.<random>"), if one is left. */
static void wait_released(const char *name)
{
    char prefix[128], part[256];
    snprintf(prefix, sizeof(prefix), ".zc-part.%s.", name);
    if (!harness_find(h.root, prefix, part, sizeof(part)))
        return;
    snprintf(dst, sizeof(dst), "%s/%s", h.root, part);
    int fd = open(dst, O_RDONLY);
    if (fd < 0)
        return;
    flock(fd, LOCK_EX);
    close(fd);
}

static void relay_passes_clean_transfer(void)
{
    CHECK_OK(put_through("clean", RELAY_PASS, 0, false));
    CHECK(published("clean"));
    uint8_t a[32], b[32];
    CHECK_OK(harness_sha256(src, a));
    CHECK_OK(harness_sha256(dst, b));
    CHECK(memcmp(a, b, 32) == 0);
}

static void fails_and_publishes_nothing(const char *name, enum relay_fault fault, bool integrity)
{
    int r = put_through(name, fault, 3, integrity);
    CHECK(r < 0);
    wait_released(name);
    CHECK(!published(name));
}

static void bit_flips(void)
{
    fails_and_publishes_nothing("flip-header", RELAY_FLIP_HEADER, false);
    fails_and_publishes_nothing("flip-payload", RELAY_FLIP_PAYLOAD, false);
    fails_and_publishes_nothing("flip-tag", RELAY_FLIP_TAG, false);
    fails_and_publishes_nothing("flip-payload-clear", RELAY_FLIP_PAYLOAD, true);
    fails_and_publishes_nothing("flip-tag-clear", RELAY_FLIP_TAG, true);
    /* An attacked session leaves no partial file behind either. */
    CHECK_EQ(harness_count(h.root, ".zc-part.flip"), 0);
}

static void replay_and_reorder(void)
{
    fails_and_publishes_nothing("replayed", RELAY_REPLAY, false);
    fails_and_publishes_nothing("reordered", RELAY_REORDER, false);
    fails_and_publishes_nothing("reordered-clear", RELAY_REORDER, true);
}

static void stall_and_reset(void)
{
    uint64_t t0 = zc_now_ns();
    fails_and_publishes_nothing("stalled", RELAY_STALL, false);
    CHECK(zc_now_ns() - t0 < 10ull * 1000000000); /* the idle timeout ended it */
    fails_and_publishes_nothing("reset", RELAY_RESET, false);
}

static void cut_then_resume(void)
{
    fails_and_publishes_nothing("resumed", RELAY_CUT, false);
    /* The server kept the verified prefix and a record of it. */
    snprintf(dst, sizeof(dst), "%s/.zc-state.resumed", h.root);
    CHECK(harness_wait_for(dst, 3000));
    wait_released("resumed");

    struct zc_place_client *c;
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, true, IDLE_MS, &c));
    CHECK_OK(zc_place_put_path(c, src, "resumed"));
    CHECK_OK(zc_place_client_finish(c));
    struct zc_place_stats st;
    zc_place_client_stats(c, &st);
    zc_place_client_close(c);
    CHECK(st.resumed_bytes > 0 && st.resumed_bytes < FILE_BYTES);
    CHECK(published("resumed"));
    uint8_t a[32], b[32];
    CHECK_OK(harness_sha256(src, a));
    CHECK_OK(harness_sha256(dst, b));
    CHECK(memcmp(a, b, 32) == 0);
    CHECK_EQ(harness_count(h.root, ".zc-"), harness_count(h.root, ".zc-part.stalled") +
                                                harness_count(h.root, ".zc-state.stalled") +
                                                harness_count(h.root, ".zc-part.reset") +
                                                harness_count(h.root, ".zc-state.reset"));
}

/* A get cut halfway leaves the client a verified prefix and its record;
 * get --resume fetches only the rest, and the file is the server's. */
static void get_cut_then_resume(void)
{
    struct zc_place_client *c;
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, false, IDLE_MS, &c));
    CHECK_OK(zc_place_put_path(c, src, "to-get"));
    CHECK_OK(zc_place_client_finish(c));
    zc_place_client_close(c);

    char local[400], got[500];
    snprintf(local, sizeof(local), "%s/fetched", h.dir);
    CHECK_OK(mkdir(local, 0755) ? -errno : 0);
    struct relay *r;
    uint16_t port = relay_start(&r, h.port, RELAY_CUT_DOWN, 12); /* about 3 of 6 MiB */
    CHECK_OK(harness_connect(&h, port, &h.client, false, true, IDLE_MS, &c));
    int ret = zc_place_get(c, "to-get", local);
    zc_place_client_close(c);
    CHECK(relay_fired(r));
    relay_stop(r);
    CHECK(ret < 0);
    snprintf(got, sizeof(got), "%s/to-get", local);
    CHECK(access(got, F_OK) != 0); /* nothing under its name yet */
    snprintf(got, sizeof(got), "%s/.zc-state.to-get", local);
    CHECK(access(got, F_OK) == 0);

    CHECK_OK(harness_connect(&h, h.port, &h.client, false, true, IDLE_MS, &c));
    CHECK_OK(zc_place_get(c, "to-get", local));
    struct zc_place_stats st;
    zc_place_client_stats(c, &st);
    zc_place_client_close(c);
    CHECK(st.resumed_bytes > 0 && st.resumed_bytes < FILE_BYTES);
    snprintf(got, sizeof(got), "%s/to-get", local);
    uint8_t a[32], b[32];
    CHECK_OK(harness_sha256(src, a));
    CHECK_OK(harness_sha256(got, b));
    CHECK(memcmp(a, b, 32) == 0);
    CHECK_EQ(harness_count(local, ".zc-"), 0);

    /* Again with --resume: the file is there, same size and mtime: nothing moves. */
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, true, IDLE_MS, &c));
    CHECK_OK(zc_place_get(c, "to-get", local));
    zc_place_client_stats(c, &st);
    zc_place_client_close(c);
    CHECK_EQ(st.resumed_bytes, FILE_BYTES);
}

/* A cut leaves a verified prefix and its record; the resumed session
 * then gets a corrupted chunk.  It fails, and the partial file and its
 * record are gone: no later resume may count bytes that failed their tag
 * (nor trust a file an attacker wrote into), so the next one starts over
 * and the file arrives whole. */
static void corrupted_resume_starts_over(const char *name, bool integrity)
{
    char rec[300], part[128];
    snprintf(rec, sizeof(rec), ".zc-state.%s", name);
    snprintf(part, sizeof(part), ".zc-part.%s.", name);
    CHECK(put_through(name, RELAY_CUT, 3, integrity) < 0);
    snprintf(dst, sizeof(dst), "%s/%s", h.root, rec);
    CHECK(harness_wait_for(dst, 3000));
    wait_released(name);
    CHECK(put_via(name, RELAY_FLIP_PAYLOAD, 1, integrity, true) < 0);
    wait_released(name);
    CHECK(!published(name));
    CHECK_EQ(harness_count(h.root, rec), 0);
    CHECK_EQ(harness_count(h.root, part), 0);

    struct zc_place_client *c;
    struct zc_place_stats st;
    CHECK_OK(harness_connect(&h, h.port, &h.client, integrity, true, IDLE_MS, &c));
    CHECK_OK(zc_place_put_path(c, src, name));
    CHECK_OK(zc_place_client_finish(c));
    zc_place_client_stats(c, &st);
    zc_place_client_close(c);
    CHECK_EQ(st.resumed_bytes, 0);
    CHECK(published(name));
    uint8_t a[32], b[32];
    CHECK_OK(harness_sha256(src, a));
    CHECK_OK(harness_sha256(dst, b));
    CHECK(memcmp(a, b, 32) == 0);
}

static void corrupted_resume(void)
{
    corrupted_resume_starts_over("corrupt", false);
    corrupted_resume_starts_over("corrupt-clear", true);
}

static void resume_record_bound_to_file(void)
{
    /* A cut, then a resume of a different file under the same name: the
     * old verified bytes must not be reused. */
    fails_and_publishes_nothing("changed", RELAY_CUT, false);
    snprintf(dst, sizeof(dst), "%s/.zc-state.changed", h.root);
    CHECK(harness_wait_for(dst, 3000));
    wait_released("changed");
    char other[400];
    snprintf(other, sizeof(other), "%s/other", h.dir);
    harness_make_file(other, FILE_BYTES, 99, 0644);
    struct zc_place_client *c;
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, true, IDLE_MS, &c));
    CHECK_OK(zc_place_put_path(c, other, "changed"));
    CHECK_OK(zc_place_client_finish(c));
    struct zc_place_stats st;
    zc_place_client_stats(c, &st);
    zc_place_client_close(c);
    CHECK_EQ(st.resumed_bytes, 0);
    uint8_t a[32], b[32];
    CHECK(published("changed"));
    CHECK_OK(harness_sha256(other, a));
    CHECK_OK(harness_sha256(dst, b));
    CHECK(memcmp(a, b, 32) == 0);
}

static int tcp_to_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(h.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_OK(connect(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0);
    return fd;
}

/* Waits for the server to hang up on fd; the seconds it took. */
static double seconds_until_hangup(int fd)
{
    uint64_t t0 = zc_now_ns();
    struct pollfd p = {fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 10000), 1);
    char c;
    CHECK(recv(fd, &c, 1, 0) <= 0);
    return zc_ns_to_s(zc_now_ns() - t0);
}

static void silent_peer_dropped(void)
{
    /* Connects and never starts the handshake: gone after the idle time. */
    int fd = tcp_to_server();
    double s = seconds_until_hangup(fd);
    CHECK(s < 5);
    close(fd);
    /* Starts the handshake, then trickles: the handshake deadline ends it. */
    fd = tcp_to_server();
    uint64_t t0 = zc_now_ns();
    for (int i = 0; i < 30 && zc_now_ns() - t0 < 6000000000ull; i++) {
        if (send(fd, "\x01", 1, MSG_NOSIGNAL) != 1)
            break;
        usleep(300000);
    }
    CHECK(zc_ns_to_s(zc_now_ns() - t0) < 5.5); /* the server hung up before 30 bytes */
    close(fd);
}

/* The source cut short by someone else while zc put has it mapped: the
 * transfer fails with a clear error (the process survives the SIGBUS the
 * lost pages raise) and nothing is published. */
struct shrink_put {
    const char *path;
    bool integrity;
    uint16_t port;
    int ret;
};

static void *shrink_put_main(void *arg)
{
    struct shrink_put *p = arg;
    struct zc_place_client *c;
    p->ret = harness_connect(&h, p->port, &h.client, p->integrity, false, IDLE_MS * 5, &c);
    if (!p->ret) {
        p->ret = zc_place_put_path(c, p->path, p->integrity ? "shrunk-clear" : "shrunk");
        if (!p->ret)
            p->ret = zc_place_client_finish(c);
        zc_place_client_close(c);
    }
    return NULL;
}

static void source_shrinks_during_send(bool integrity)
{
    char path[320];
    snprintf(path, sizeof(path), "%s/shrinking.bin", h.dir);
    harness_make_file(path, 24u << 20, 7, 0644); /* three mapped windows */
    struct relay *r;
    struct shrink_put p = {.path = path, .integrity = integrity};
    p.port = relay_start(&r, h.port, RELAY_PAUSE, 2);
    pthread_t t;
    CHECK_OK(-pthread_create(&t, NULL, shrink_put_main, &p));
    while (!relay_fired(r))
        usleep(1000);
    usleep(200000); /* the sender fills the link's buffers and blocks mid-file */
    CHECK_OK(truncate(path, 4096) ? -errno : 0);
    relay_resume(r);
    pthread_join(t, NULL);
    relay_stop(r);
    fprintf(stderr, "    shrunk source (%s): %s\n", integrity ? "integrity-only" : "encrypted",
            zc_strerror(p.ret));
    CHECK(p.ret < 0);
    const char *name = integrity ? "shrunk-clear" : "shrunk";
    wait_released(name);
    CHECK(!published(name));
    unlink(path);
}

static void source_shrinks(void)
{
    source_shrinks_during_send(false);
    source_shrinks_during_send(true);
}

static void session_limit(void)
{
    harness_stop_server(&h);
    h.max_sessions = 1;
    harness_start_server(&h, IDLE_MS * 3, 0);
    struct zc_place_client *busy, *c = NULL;
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, false, IDLE_MS, &busy));
    usleep(100000); /* the server has counted the first session */
    /* Busy, not "your key is refused". */
    CHECK_EQ(harness_connect(&h, h.port, &h.client, false, false, IDLE_MS, &c), -EBUSY);
    CHECK_OK(zc_place_client_finish(busy));
    zc_place_client_close(busy);
    /* Once the server has reaped that session, there is room again. */
    int r = -EBUSY;
    for (int i = 0; i < 50 && r == -EBUSY; i++) {
        usleep(100000);
        r = harness_connect(&h, h.port, &h.client, false, false, IDLE_MS, &c);
    }
    CHECK_OK(r);
    CHECK_OK(zc_place_client_finish(c));
    zc_place_client_close(c);
}

int main(void)
{
    harness_init(&h);
    snprintf(src, sizeof(src), "%s/source.bin", h.dir);
    harness_make_file(src, FILE_BYTES, 1, 0644);
    harness_start_server(&h, IDLE_MS, 0);
    RUN(relay_passes_clean_transfer);
    RUN(bit_flips);
    RUN(replay_and_reorder);
    RUN(stall_and_reset);
    RUN(cut_then_resume);
    RUN(corrupted_resume);
    RUN(resume_record_bound_to_file);
    RUN(get_cut_then_resume);
    RUN(silent_peer_dropped);
    RUN(source_shrinks);
    RUN(session_limit);
    harness_stop_server(&h);
    return 0;
}
