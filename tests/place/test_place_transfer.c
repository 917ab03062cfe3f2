/* test_place_transfer.c - transfers end to end over loopback: files of
 * awkward sizes, trees with modes and mtimes, buffers, integrity-only, get,
 * --resume of finished files; and the refusals: an unauthorized key, paths
 * that would leave the root (lexically or through a symlink), a file over
 * the size limit, and a hostile client speaking raw frames. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static struct harness h;
static char src[300], path[600], path2[600];

static void same_file(const char *a, const char *b)
{
    uint8_t ha[32], hb[32];
    CHECK_OK(harness_sha256(a, ha));
    CHECK_OK(harness_sha256(b, hb));
    CHECK(memcmp(ha, hb, 32) == 0);
    struct stat sa, sb;
    CHECK_OK(stat(a, &sa) ? -errno : 0);
    CHECK_OK(stat(b, &sb) ? -errno : 0);
    CHECK_EQ(sa.st_mode & 0777, sb.st_mode & 0777);
    CHECK_EQ(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
    CHECK_EQ(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
}

static const struct {
    const char *name;
    uint64_t size;
    mode_t mode;
} files[] = {
    {"empty", 0, 0600},
    {"one", 1, 0644},
    {"chunks", 300 << 10, 0640},
    {"windows", (9u << 20) + 17, 0755},
    /* Either side of a page, a piece (512 KiB) and a chunk (1 MiB). */
    {"page-less", 4095, 0644},
    {"page-more", 4097, 0644},
    {"piece-more", (512u << 10) + 1, 0644},
    {"chunk-less", (1u << 20) - 1, 0644},
    {"odd-tail", (2u << 20) + (512u << 10) + 4097, 0644},
};
#define NFILES ZC_ARRAY_SIZE(files)

static void make_tree(void)
{
    snprintf(src, sizeof(src), "%s/src", h.dir);
    snprintf(path, sizeof(path), "%s/sub", src);
    CHECK_OK(mkdir(src, 0755) || mkdir(path, 0750) ? -errno : 0);
    for (size_t i = 0; i < NFILES; i++) {
        snprintf(path, sizeof(path), "%s/%s%s", src, i % 2 ? "sub/" : "", files[i].name);
        harness_make_file(path, files[i].size, (uint32_t)i, files[i].mode);
        struct timespec t[2] = {{.tv_nsec = UTIME_OMIT},
                                {.tv_sec = 1600000000 + (long)i, .tv_nsec = 123}};
        CHECK_OK(utimensat(AT_FDCWD, path, t, 0) ? -errno : 0);
    }
}

static void put_tree_and_get_it_back(void)
{
    struct zc_place_client *c;
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, false, 5000, &c));
    CHECK_OK(zc_place_put_path(c, src, "tree"));
    CHECK_OK(zc_place_client_finish(c));
    struct zc_place_stats st;
    zc_place_client_stats(c, &st);
    CHECK_EQ(st.files, NFILES);
    /* Every payload byte crossed the socket, plus the handshake, headers
     * and tags: a few hundred bytes a file, not the payload again. */
    CHECK(st.wire_bytes > st.bytes);
    CHECK(st.wire_bytes < st.bytes + NFILES * 4096 + 4096);
    zc_place_client_close(c);
    for (size_t i = 0; i < NFILES; i++) {
        const char *sub = i % 2 ? "sub/" : "";
        snprintf(path, sizeof(path), "%s/%s%s", src, sub, files[i].name);
        snprintf(path2, sizeof(path2), "%s/tree/%s%s", h.root, sub, files[i].name);
        same_file(path, path2);
    }
    struct stat sd;
    snprintf(path2, sizeof(path2), "%s/tree/sub", h.root);
    CHECK_OK(stat(path2, &sd) ? -errno : 0);
    CHECK_EQ(sd.st_mode & 0777, 0750);
    CHECK_EQ(harness_count(path2, ".zc-"), 0);

    /* And back, integrity-only, into a fresh directory. */
    snprintf(path2, sizeof(path2), "%s/back", h.dir);
    CHECK_OK(mkdir(path2, 0755) ? -errno : 0);
    CHECK_OK(harness_connect(&h, h.port, &h.client, true, false, 5000, &c));
    CHECK_OK(zc_place_get(c, "tree", path2));
    CHECK_OK(zc_place_client_finish(c));
    zc_place_client_close(c);
    for (size_t i = 0; i < NFILES; i++) {
        const char *sub = i % 2 ? "sub/" : "";
        snprintf(path, sizeof(path), "%s/%s%s", src, sub, files[i].name);
        snprintf(path2, sizeof(path2), "%s/back/tree/%s%s", h.dir, sub, files[i].name);
        same_file(path, path2);
    }
}

static void put_buffers_integrity_only(void)
{
    static uint8_t frame[3 << 20];
    for (size_t i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(i * 31 + 7);
    struct zc_place_client *c;
    CHECK_OK(harness_connect(&h, h.port, &h.client, true, false, 5000, &c));
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "frames/f%d.raw", i);
        CHECK_OK(zc_place_put_buffer(c, path, frame, sizeof(frame) >> i, 0644));
    }
    CHECK_EQ(zc_place_put_buffer(c, "../escape", frame, 1, 0644), -EINVAL);
    CHECK_OK(zc_place_client_finish(c));
    zc_place_client_close(c);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/frames/f%d.raw", h.root, i);
        int fd = open(path, O_RDONLY);
        CHECK(fd >= 0);
        static uint8_t back[3 << 20];
        CHECK_EQ(read(fd, back, sizeof(back)), sizeof(frame) >> i);
        CHECK(memcmp(back, frame, sizeof(frame) >> i) == 0);
        close(fd);
    }
}

static void resume_skips_finished_files(void)
{
    struct zc_place_client *c;
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, true, 5000, &c));
    CHECK_OK(zc_place_put_path(c, src, "tree"));
    CHECK_OK(zc_place_client_finish(c));
    struct zc_place_stats st;
    zc_place_client_stats(c, &st);
    uint64_t total = 0;
    for (size_t i = 0; i < NFILES; i++)
        total += files[i].size;
    CHECK_EQ(st.resumed_bytes, total);
    CHECK_EQ(st.files, NFILES);
    zc_place_client_close(c);
}

static void split_over_streams(void)
{
    /* Large enough to be split: parts land in parallel sessions, the last
     * to finish publishes the whole file. */
    char big[400];
    snprintf(big, sizeof(big), "%s/big.bin", h.dir);
    harness_make_file(big, (65u << 20) + 4097, 5, 0640);
    for (unsigned streams = 2; streams <= 3; streams++) {
        struct zc_place_client *c;
        CHECK_OK(harness_connect_streams(&h, streams, streams == 3, &c));
        snprintf(path, sizeof(path), "split%u.bin", streams);
        CHECK_OK(zc_place_put_path(c, big, path));
        CHECK_OK(zc_place_client_finish(c));
        struct zc_place_stats st;
        zc_place_client_stats(c, &st);
        CHECK(st.wire_bytes > (65u << 20) + 4097); /* every stream's bytes count */
        zc_place_client_close(c);
        snprintf(path2, sizeof(path2), "%s/split%u.bin", h.root, streams);
        same_file(big, path2);
        CHECK_EQ(harness_count(h.root, ".zc-"), 0);
    }
    CHECK_OK(unlink(big) ? -errno : 0);
}

static void unauthorized_key_refused(void)
{
    struct zc_place_client *c = NULL;
    CHECK_EQ(harness_connect(&h, h.port, &h.stranger, false, false, 5000, &c), -EACCES);
    CHECK(c == NULL);
}

static void symlink_escape_refused(void)
{
    char outside[300];
    snprintf(outside, sizeof(outside), "%s/outside", h.dir);
    CHECK_OK(mkdir(outside, 0755) ? -errno : 0);
    snprintf(path, sizeof(path), "%s/link", h.root);
    CHECK_OK(symlink(outside, path) ? -errno : 0);
    struct zc_place_client *c;
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, false, 5000, &c));
    int r = zc_place_put_buffer(c, "link/planted", "x", 1, 0644);
    if (!r)
        r = zc_place_client_finish(c);
    CHECK_EQ(r, -EACCES);
    CHECK(strstr(zc_place_client_error(c), "link/planted"));
    zc_place_client_close(c);
    CHECK_EQ(harness_count(outside, ""), 0);
}

static void size_limit_refused(void)
{
    harness_stop_server(&h);
    harness_start_server(&h, 5000, 1000);
    struct zc_place_client *c;
    static uint8_t big[1001];
    CHECK_OK(harness_connect(&h, h.port, &h.client, false, false, 5000, &c));
    int r = zc_place_put_buffer(c, "big", big, sizeof(big), 0644);
    if (!r)
        r = zc_place_client_finish(c);
    CHECK_EQ(r, -EFBIG);
    zc_place_client_close(c);
    snprintf(path, sizeof(path), "%s/big", h.root);
    CHECK(access(path, F_OK) != 0);
}

static void hostile_frames_refused(void)
{
    uint8_t b[PLACE_OPEN_FIXED + ZC_PLACE_MAX_PATH];
    /* A path with "..", bypassing the client library's own check. */
    struct place_open o = {.size = 4, .mode = 0644, .path = "../../escaped"};
    int n = place_open_encode(&o, b, sizeof(b));
    struct place_conn c = harness_raw_connect(&h);
    CHECK_OK(place_conn_send(&c, PLACE_OPEN, 0, 1, 0, b, (uint32_t)n));
    CHECK_EQ(harness_raw_answer(&c), -EACCES);
    place_conn_destroy(&c);
    snprintf(path, sizeof(path), "%s/escaped", h.dir);
    CHECK(access(path, F_OK) != 0);

    /* A chunk past the announced size. */
    o = (struct place_open){.size = 4, .mode = 0644, .path = "small"};
    n = place_open_encode(&o, b, sizeof(b));
    c = harness_raw_connect(&h);
    CHECK_OK(place_conn_send(&c, PLACE_OPEN, 0, 1, 0, b, (uint32_t)n));
    CHECK_OK(place_conn_send(&c, PLACE_DATA, 0, 1, 0, "12345678", 8));
    CHECK_EQ(harness_raw_answer(&c), -EPROTO);
    place_conn_destroy(&c);

    /* A chunk for a file never opened, then CLOSE before all data. */
    c = harness_raw_connect(&h);
    CHECK_OK(place_conn_send(&c, PLACE_DATA, 0, 9, 0, "1234", 4));
    CHECK_EQ(harness_raw_answer(&c), -EPROTO);
    place_conn_destroy(&c);
    c = harness_raw_connect(&h);
    CHECK_OK(place_conn_send(&c, PLACE_OPEN, 0, 1, 0, b, (uint32_t)n));
    CHECK_OK(place_conn_send(&c, PLACE_DATA, 0, 1, 0, "12", 2));
    CHECK_OK(place_conn_send(&c, PLACE_CLOSE, 0, 1, 0, NULL, 0));
    CHECK_EQ(harness_raw_answer(&c), -EPROTO);
    place_conn_destroy(&c);

    /* Clear data in a file announced as encrypted. */
    c = harness_raw_connect(&h);
    CHECK_OK(place_conn_send(&c, PLACE_OPEN, 0, 1, 0, b, (uint32_t)n));
    CHECK_OK(place_conn_send(&c, PLACE_DATA, PLACE_FLAG_CLEAR, 1, 0, "1234", 4));
    CHECK_EQ(harness_raw_answer(&c), -EPROTO);
    place_conn_destroy(&c);
    snprintf(path, sizeof(path), "%s/small", h.root);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ(harness_count(h.root, ".zc-"), 0);
}

static void split_part_sent_twice_refused(void)
{
    uint8_t b[PLACE_OPEN_FIXED + ZC_PLACE_MAX_PATH + PLACE_SPLIT_BYTES];
    struct place_open o = {
        .size = 8u << 20, .mode = 0644, .path = "twice", .split = true, .parts = 2, .index = 1};
    int n = place_open_encode(&o, b, sizeof(b));
    struct place_conn c = harness_raw_connect(&h);
    CHECK_OK(place_conn_send(&c, PLACE_OPEN, PLACE_FLAG_SPLIT, 1, 0, b, (uint32_t)n));
    CHECK_OK(place_conn_send(&c, PLACE_OPEN, PLACE_FLAG_SPLIT, 2, 0, b, (uint32_t)n));
    CHECK_EQ(harness_raw_answer(&c), -EPROTO); /* ids 1 and 2 both claim part 1 */
    place_conn_destroy(&c);
    /* A split part that says it is not split. */
    c = harness_raw_connect(&h);
    CHECK_OK(place_conn_send(&c, PLACE_OPEN, 0, 1, 0, b, (uint32_t)n));
    CHECK_EQ(harness_raw_answer(&c), -EPROTO);
    place_conn_destroy(&c);
    snprintf(path, sizeof(path), "%s/twice", h.root);
    CHECK(access(path, F_OK) != 0);
}

int main(void)
{
    harness_init(&h);
    harness_start_server(&h, 5000, 0);
    make_tree();
    RUN(put_tree_and_get_it_back);
    RUN(put_buffers_integrity_only);
    RUN(resume_skips_finished_files);
    RUN(unauthorized_key_refused);
    RUN(symlink_escape_refused);
    RUN(hostile_frames_refused);
    RUN(split_over_streams);
    RUN(split_part_sent_twice_refused);
    RUN(size_limit_refused);
    harness_stop_server(&h);
    return 0;
}
