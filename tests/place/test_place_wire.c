/* test_place_wire.c - the frame header and path checks on their own: what a
 * header may say before the session looks at it, and which peer paths may
 * name a file beneath the root. */
#include "wire.h"
#include "zc_test.h"

#include <errno.h>

static void header_round_trip(void)
{
    struct place_hdr h = {.type = PLACE_DATA,
                          .flags = PLACE_FLAG_CLEAR,
                          .file_id = 7,
                          .offset = 0x0102030405060708ull,
                          .seq = 42,
                          .length = 4096};
    uint8_t b[PLACE_HDR_BYTES];
    place_hdr_encode(&h, b);
    CHECK_EQ(b[0], PLACE_DATA);
    CHECK_EQ(b[8], 0x08); /* little-endian */
    struct place_hdr d;
    CHECK_OK(place_hdr_decode(b, &d));
    CHECK_EQ(d.type, h.type);
    CHECK_EQ(d.flags, h.flags);
    CHECK_EQ(d.file_id, 7);
    CHECK(d.offset == h.offset);
    CHECK_EQ(d.seq, 42);
    CHECK_EQ(d.length, 4096);
}

static void header_rejects(void)
{
    struct place_hdr h = {.type = PLACE_DATA, .length = ZC_PLACE_MAX_CHUNK};
    uint8_t b[PLACE_HDR_BYTES];
    struct place_hdr d;
    place_hdr_encode(&h, b);
    CHECK_OK(place_hdr_decode(b, &d));
    b[2] = 1; /* reserved */
    CHECK_EQ(place_hdr_decode(b, &d), -EPROTO);
    place_hdr_encode(&h, b);
    b[31] = 1; /* reserved */
    CHECK_EQ(place_hdr_decode(b, &d), -EPROTO);
    h.length = ZC_PLACE_MAX_CHUNK + 1; /* chunk too long */
    place_hdr_encode(&h, b);
    CHECK_EQ(place_hdr_decode(b, &d), -EPROTO);
    h = (struct place_hdr){.type = PLACE_CLOSE, .length = 1}; /* CLOSE carries nothing */
    place_hdr_encode(&h, b);
    CHECK_EQ(place_hdr_decode(b, &d), -EPROTO);
    h = (struct place_hdr){.type = 0};
    place_hdr_encode(&h, b);
    CHECK_EQ(place_hdr_decode(b, &d), -EPROTO);
    h = (struct place_hdr){.type = PLACE_END + 1};
    place_hdr_encode(&h, b);
    CHECK_EQ(place_hdr_decode(b, &d), -EPROTO);
    h = (struct place_hdr){.type = PLACE_DATA, .flags = 0x80}; /* unknown flag */
    place_hdr_encode(&h, b);
    CHECK_EQ(place_hdr_decode(b, &d), -EPROTO);
}

#define PATH_OK(s)  CHECK_EQ(place_path_check(s, strlen(s)), 0)
#define PATH_BAD(s) CHECK_EQ(place_path_check(s, strlen(s)), -EACCES)

static void paths(void)
{
    PATH_OK("a");
    PATH_OK("dir/sub/file.bin");
    PATH_OK("..a/b..");
    PATH_OK(".hidden");
    PATH_BAD("");
    PATH_BAD("/etc/passwd");
    PATH_BAD("..");
    PATH_BAD("../x");
    PATH_BAD("a/../../x");
    PATH_BAD("a/..");
    PATH_BAD("./a");
    PATH_BAD("a//b");
    PATH_BAD("a/");
    PATH_BAD("a/.zc-part.b"); /* the server's own temporary names */
    PATH_BAD(".zc-state.x");
    CHECK_EQ(place_path_check("a\0b", 3), -EACCES);
    char longname[PLACE_MAX_NAME + 2];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    PATH_BAD(longname);
    longname[PLACE_MAX_NAME] = '\0';
    PATH_OK(longname);
}

static void open_payload(void)
{
    struct place_open o = {.size = 123456789,
                           .mtime_sec = 1700000000,
                           .mtime_nsec = 5,
                           .mode = 0640,
                           .path = "d/file"};
    uint8_t b[PLACE_OPEN_FIXED + ZC_PLACE_MAX_PATH];
    int n = place_open_encode(&o, b, sizeof(b));
    CHECK_EQ(n, PLACE_OPEN_FIXED + 6);
    struct place_open d;
    CHECK_OK(place_open_decode(b, (size_t)n, &d));
    CHECK(d.size == o.size && d.mtime_sec == o.mtime_sec && d.mtime_nsec == 5);
    CHECK_EQ(d.mode, 0640);
    CHECK(strcmp(d.path, "d/file") == 0);
    CHECK_EQ(place_open_decode(b, (size_t)n - 1, &d), -EPROTO); /* length disagrees */
    CHECK_EQ(place_open_decode(b, 10, &d), -EPROTO);
    b[21] = 0x10; /* mode 010640: not permission bits */
    CHECK_EQ(place_open_decode(b, (size_t)n, &d), -EPROTO);
    struct place_open evil = {.size = 1, .path = "../../etc/cron.d/x"};
    n = place_open_encode(&evil, b, sizeof(b));
    CHECK_EQ(place_open_decode(b, (size_t)n, &d), -EACCES);
}

int main(void)
{
    RUN(header_round_trip);
    RUN(header_rejects);
    RUN(paths);
    RUN(open_payload);
    return 0;
}
