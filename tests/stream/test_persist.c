/* test_persist.c - frames written from the frame pool to a loop recording,
 * with O_DIRECT and through the page cache: every record read back from the
 * file is a whole frame whose checksum holds, the count matches, O_DIRECT
 * leaves the page cache alone, and bad requests are refused. */
#define _GNU_SOURCE 1
#include "zc/base.h"
#include "zc/stream.h"
#include "../../src/stream/frame.h"
#include "../../src/stream/persist.h"
#include "zc_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static char dir[4096];
/* O_DIRECT, unless the file system under TMPDIR refuses it (tmpfs does). */
static enum zc_persist_mode direct = ZC_PERSIST_DIRECT;
/* tmpfs keeps files in the page cache whatever the flags. */
static bool memory_fs;

static size_t record_bytes(const struct zc_frame_hdr *h)
{
    return (sizeof(*h) + h->payload_len + 4095) & ~(size_t)4095;
}

/* Walks the records from the start of the file while they are whole frames;
 * returns how many, and fails the test on a record that is not. */
static uint64_t walk_records(const char *path, uint64_t limit)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    struct stat sb;
    CHECK(fstat(fd, &sb) == 0);
    size_t max = zc_sensor_frame_bytes(ZC_SENSOR_CAMERA) + 4096 + 64;
    unsigned char *buf = malloc(max);
    CHECK(buf != NULL);
    uint64_t off = 0, n = 0;
    while (n < limit && off + sizeof(struct zc_frame_hdr) <= (uint64_t)sb.st_size) {
        struct zc_frame_hdr h;
        CHECK(pread(fd, &h, sizeof(h), (off_t)off) == (ssize_t)sizeof(h));
        CHECK(h.magic == ZC_FRAME_MAGIC);
        CHECK(h.kind < ZC_SENSOR_KINDS && h.payload_len == zc_sensor_frame_bytes(h.kind));
        size_t len = record_bytes(&h);
        CHECK(off + len <= (uint64_t)sb.st_size);
        CHECK(pread(fd, buf, len, (off_t)off) == (ssize_t)len);
        CHECK(zc_frame_checksum(buf + sizeof(h), h.payload_len) == h.checksum);
        off += len;
        n++;
    }
    free(buf);
    close(fd);
    return n;
}

static void check_recording(enum zc_persist_mode mode)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s.rec", dir, mode == ZC_PERSIST_DIRECT ? "direct" : "buf");
    struct zc_ingest_config cfg = {
        .sensors = {1, 1, 2},
        .rate = 48u << 20,
        .cpu = -1,
        .persist = mode,
        .persist_path = path,
        .persist_max_bytes = 256u << 20,
    };
    struct zc_ingest *in;
    CHECK_OK(zc_ingest_create(&in, &cfg));
    struct zc_ingest_stats st = {0};
    CHECK_OK(zc_ingest_run(in, ZC_STORE_NT, 500000000ull, &st));
    uint64_t cached;
    CHECK_OK(zc_ingest_persist_cached(in, &cached));
    zc_ingest_destroy(in);
    fprintf(stderr, "    %s: %llu frames, %llu written, %llu KiB cached\n",
            mode == ZC_PERSIST_DIRECT ? "direct" : "buffered", (unsigned long long)st.frames,
            (unsigned long long)st.persisted, (unsigned long long)cached >> 10);
    CHECK_EQ(st.bad_frames, 0);
    CHECK_EQ(st.persist_errors, 0);
    CHECK(st.frames >= 8);
    CHECK_EQ(st.persisted, st.frames);
    /* No wrap at this size: every frame is in the file, in order of writing. */
    CHECK_EQ(walk_records(path, UINT64_MAX), st.persisted);
    if (mode == ZC_PERSIST_DIRECT && !memory_fs)
        CHECK_EQ(cached, 0); /* the page cache never saw the recording */
    else
        CHECK(cached > 0);
    CHECK(unlink(path) == 0);
}

static void test_direct(void)
{
    check_recording(direct);
}

static void test_buffered(void)
{
    check_recording(ZC_PERSIST_BUFFERED);
}

static void test_wraps(void)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/loop.rec", dir);
    struct zc_ingest_config cfg = {
        .sensors = {0, 0, 2},
        .rate = 32u << 20,
        .cpu = -1,
        .persist = direct,
        .persist_path = path,
        .persist_max_bytes = 4u << 20,
    };
    struct zc_ingest *in;
    CHECK_OK(zc_ingest_create(&in, &cfg));
    struct zc_ingest_stats st = {0};
    CHECK_OK(zc_ingest_run(in, ZC_STORE_REGULAR, 400000000ull, &st));
    zc_ingest_destroy(in);
    CHECK_EQ(st.persist_errors, 0);
    CHECK_EQ(st.persisted, st.frames);
    /* 12 MiB of radar cubes through a 4 MiB loop: the file never grows past it. */
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK(st.frames * (512u << 10) > (8u << 20));
    CHECK(sb.st_size <= (4 << 20));
    CHECK(walk_records(path, 7) == 7);
    CHECK(unlink(path) == 0);
}

static void test_refusals(void)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/no/such/dir/x.rec", dir);
    struct zc_ingest_config cfg = {.sensors = {0, 0, 1},
                                   .rate = 1 << 20,
                                   .cpu = -1,
                                   .persist = ZC_PERSIST_DIRECT,
                                   .persist_path = path};
    struct zc_ingest *in = NULL;
    CHECK_EQ(zc_ingest_create(&in, &cfg), -ENOENT);
    cfg.persist_path = NULL;
    CHECK_EQ(zc_ingest_create(&in, &cfg), -EINVAL);
    cfg.persist = (enum zc_persist_mode)7;
    cfg.persist_path = path;
    CHECK_EQ(zc_ingest_create(&in, &cfg), -EINVAL);
    CHECK(in == NULL);

    snprintf(path, sizeof(path), "%s/direct.rec", dir);
    struct persist *p;
    CHECK_EQ(persist_open(&p, path, direct, 100, 4), -EINVAL);
    CHECK_EQ(persist_open(&p, path, direct, 1 << 20, 0), -EINVAL);
    CHECK_OK(persist_open(&p, path, direct, 1 << 20, 2));
    unsigned char *buf = aligned_alloc(4096, 3 * 4096);
    CHECK(buf != NULL);
    memset(buf, 0x42, 3 * 4096);
    /* Misaligned buffer or length, longer than the loop. */
    CHECK_EQ(persist_submit(p, buf + 512, 4096, NULL), -EINVAL);
    CHECK_EQ(persist_submit(p, buf, 4000, NULL), -EINVAL);
    CHECK_EQ(persist_submit(p, buf, 0, NULL), -EINVAL);
    /* Depth 2: the third write in flight is refused until one completes. */
    CHECK_OK(persist_submit(p, buf, 4096, (void *)1));
    CHECK_OK(persist_submit(p, buf + 4096, 4096, (void *)2));
    CHECK_EQ(persist_submit(p, buf + 8192, 4096, (void *)3), -EBUSY);
    void *tokens[4];
    int got = 0;
    while (got < 2) {
        int n = persist_reap(p, tokens + got, 4 - (unsigned)got, -1);
        CHECK(n > 0);
        got += n;
    }
    CHECK((tokens[0] == (void *)1 && tokens[1] == (void *)2) ||
          (tokens[0] == (void *)2 && tokens[1] == (void *)1));
    CHECK_EQ(persist_inflight(p), 0);
    struct persist_stats ps;
    persist_stats(p, &ps);
    CHECK_EQ(ps.writes, 2);
    CHECK_EQ(ps.bytes, 8192);
    CHECK_EQ(ps.errors, 0);
    persist_close(p);
    free(buf);
    CHECK(unlink(path) == 0);
    persist_close(NULL);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s/zc-persist-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : P_tmpdir);
    CHECK(mkdtemp(dir) != NULL);
    struct statfs sf;
    CHECK(statfs(dir, &sf) == 0);
    memory_fs = sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
    char probe[4200];
    snprintf(probe, sizeof(probe), "%s/probe", dir);
    int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EINVAL) {
        fprintf(stderr, "  %s refuses O_DIRECT: the direct cases run buffered\n", dir);
        direct = ZC_PERSIST_BUFFERED;
    } else {
        CHECK(fd >= 0);
        close(fd);
        CHECK(unlink(probe) == 0);
    }
    RUN(test_refusals);
    RUN(test_direct);
    RUN(test_buffered);
    RUN(test_wraps);
    CHECK(rmdir(dir) == 0);
    return 0;
}
