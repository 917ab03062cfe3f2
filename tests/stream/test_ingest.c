/* test_ingest.c - the sensors, the frame pool and its consumer.
 *
 * At a rate the machine sustains, every frame arrives whole: the consumer
 * checksums every payload and follows every sensor's sequence numbers, and
 * nothing is dropped, missing or refused, with either store kind.  Beyond
 * what it sustains, frames are dropped and counted, never torn.  The
 * consumer's check refuses every kind of bad frame a producer (or anyone
 * who can write the shared pool) could hand it, and random garbage.
 */
#include "zc/base.h"
#include "zc/stream.h"
#include "../../src/stream/frame.h"
#include "zc_test.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* A rate this build sustains with every payload checksummed: the sanitizers
 * slow the consumer's checksum loop down several times. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SUSTAINED_RATE (32u << 20)
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SUSTAINED_RATE (32u << 20)
#endif
#endif
#ifndef SUSTAINED_RATE
#define SUSTAINED_RATE (128u << 20)
#endif

static void check_clean_run(enum zc_store store)
{
    struct zc_ingest_config cfg = {
        .sensors = {2, 1, 1}, .rate = SUSTAINED_RATE, .verify = true, .cpu = -1};
    struct zc_ingest *in;
    CHECK_OK(zc_ingest_create(&in, &cfg));
    CHECK(zc_ingest_pool_bytes(in) >=
          8 * (2 * zc_sensor_frame_bytes(ZC_SENSOR_CAMERA) +
               zc_sensor_frame_bytes(ZC_SENSOR_LIDAR) + zc_sensor_frame_bytes(ZC_SENSOR_RADAR)));
    struct zc_ingest_stats st = {0};
    /* Two runs: the sequence numbers carry on across them. */
    CHECK_OK(zc_ingest_run(in, store, 400000000ull, &st));
    CHECK_OK(zc_ingest_run(in, store, 400000000ull, &st));
    zc_ingest_destroy(in);
    fprintf(stderr, "    %s: %llu frames, %.2f GB/s, %llu dropped\n",
            store == ZC_STORE_NT ? "nt" : "regular", (unsigned long long)st.frames,
            (double)st.bytes / (double)st.ns, (unsigned long long)st.dropped_frames);
    CHECK_EQ(st.bad_frames, 0);
    CHECK_EQ(st.dropped_frames, 0);
    CHECK_EQ(st.missing_frames, 0);
    /* 0.8 s at 32 MiB/s at least, in frames of 0.5 to 4 MiB: a dozen frames or more, the
     * rate within what whole frames allow. */
    CHECK(st.frames >= 8);
    double rate = (double)st.bytes / zc_ns_to_s(st.ns);
    CHECK(rate > 0.6 * SUSTAINED_RATE && rate < 1.5 * SUSTAINED_RATE);
}

static void test_sustained_rate_nt(void)
{
    check_clean_run(ZC_STORE_NT);
}

static void test_sustained_rate_regular(void)
{
    check_clean_run(ZC_STORE_REGULAR);
}

static void test_overload_is_counted(void)
{
    /* Far beyond any memory system, with one slot per sensor. */
    struct zc_ingest_config cfg = {
        .sensors = {1, 1, 1}, .rate = 1ull << 40, .slots = 1, .verify = true, .cpu = -1};
    struct zc_ingest *in;
    CHECK_OK(zc_ingest_create(&in, &cfg));
    struct zc_ingest_stats st = {0};
    CHECK_OK(zc_ingest_run(in, ZC_STORE_NT, 200000000ull, &st));
    CHECK_OK(zc_ingest_run(in, ZC_STORE_REGULAR, 200000000ull, &st));
    zc_ingest_destroy(in);
    CHECK(st.frames > 0);
    CHECK(st.dropped_frames > st.frames);
    CHECK_EQ(st.bad_frames, 0);
    /* Drops show as gaps except those at the very end of the last run. */
    CHECK(st.missing_frames <= st.dropped_frames);
    CHECK(st.missing_frames > 0);
}

static void test_bad_config(void)
{
    struct zc_ingest *in = NULL;
    struct zc_ingest_config none = {.rate = 1 << 20, .cpu = -1};
    CHECK_EQ(zc_ingest_create(&in, &none), -EINVAL);
    struct zc_ingest_config no_rate = {.sensors = {1, 0, 0}, .cpu = -1};
    CHECK_EQ(zc_ingest_create(&in, &no_rate), -EINVAL);
    struct zc_ingest_config slots = {.sensors = {1, 0, 0}, .rate = 1 << 20, .slots = 65, .cpu = -1};
    CHECK_EQ(zc_ingest_create(&in, &slots), -EINVAL);
    struct zc_ingest_config many = {.sensors = {60, 5, 0}, .rate = 1 << 20, .cpu = -1};
    CHECK_EQ(zc_ingest_create(&in, &many), -EINVAL);
    CHECK(in == NULL);
    CHECK_EQ(zc_ingest_run(NULL, ZC_STORE_NT, 1, &(struct zc_ingest_stats){0}), -EINVAL);
    zc_ingest_destroy(NULL);
}

/* ---- the consumer's check, frame by frame ---- */

#define RADAR_BYTES (256 * 128 * 4 * 4)

static struct frame_pattern pattern;
static unsigned char frame[sizeof(struct zc_frame_hdr) + RADAR_BYTES];
static const uint8_t kinds[2] = {ZC_SENSOR_RADAR, ZC_SENSOR_RADAR};

static void make_frame(unsigned sensor, uint64_t seq, unsigned k)
{
    struct zc_frame_hdr h = {
        .magic = ZC_FRAME_MAGIC,
        .sensor = (uint16_t)sensor,
        .kind = ZC_SENSOR_RADAR,
        .seq = seq,
        .payload_len = RADAR_BYTES,
        .pattern = k,
        .checksum = pattern.checksum[ZC_SENSOR_RADAR][k],
    };
    memcpy(frame, &h, sizeof(h));
    frame_write_payload(&pattern, k, frame + sizeof(h), RADAR_BYTES, ZC_STORE_NT);
}

static struct zc_frame_hdr *hdr(void)
{
    return (struct zc_frame_hdr *)frame;
}

static void test_frame_check(void)
{
    CHECK_EQ(zc_sensor_frame_bytes(ZC_SENSOR_RADAR), RADAR_BYTES);
    CHECK_EQ(zc_sensor_frame_bytes(ZC_SENSOR_KINDS), 0);
    CHECK_OK(frame_pattern_init(&pattern, (const unsigned[ZC_SENSOR_KINDS]){0, 0, 1}));
    uint64_t expect[2] = {0, 0}, gap;
    struct frame_checker fc = {.nsensors = 2, .kind = kinds, .expect = expect, .verify = true};

    /* Whole frames pass; a gap in the sequence is reported, not refused. */
    make_frame(0, 0, 3);
    CHECK_OK(frame_check(&fc, frame, sizeof(frame), &gap));
    CHECK_EQ(gap, 0);
    make_frame(0, 4, 5);
    CHECK_OK(frame_check(&fc, frame, sizeof(frame), &gap));
    CHECK_EQ(gap, 3);
    CHECK_EQ(expect[0], 5);

    /* A replayed or older frame. */
    make_frame(0, 4, 5);
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    /* The last sequence number there is: taking it would wrap the expected
     * number to 0 and let every old frame in again. */
    make_frame(0, UINT64_MAX, 6);
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    CHECK_EQ(expect[0], 5);
    make_frame(0, 5, 6);

    /* Each header field a writer of the pool could spoil. */
    hdr()->magic ^= 1;
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    make_frame(2, 5, 6);
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    make_frame(0, 5, 6);
    hdr()->kind = ZC_SENSOR_CAMERA;
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    make_frame(0, 5, 6);
    hdr()->payload_len = RADAR_BYTES + 8;
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    make_frame(0, 5, 6);
    hdr()->payload_len = 0xffffffffu;
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    /* A descriptor shorter than the frame, or than a header. */
    make_frame(0, 5, 6);
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame) - 8, &gap), -EBADMSG);
    CHECK_EQ(frame_check(&fc, frame, sizeof(struct zc_frame_hdr) - 1, &gap), -EBADMSG);
    /* A descriptor longer than the frame: the consumer would persist the
     * pool beyond it (the next slot, another sensor's frame in flight). */
    static unsigned char longer[sizeof(frame) + 4096];
    memcpy(longer, frame, sizeof(frame));
    CHECK_EQ(frame_check(&fc, longer, sizeof(longer), &gap), -EBADMSG);
    CHECK_EQ(frame_check(&fc, longer, sizeof(frame) + 8, &gap), -EBADMSG);

    /* A flipped bit in the payload, a torn frame (its second half from the
     * next frame's pattern) and two swapped words. */
    frame[sizeof(struct zc_frame_hdr) + 1000] ^= 0x10;
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    make_frame(0, 5, 6);
    static unsigned char other[RADAR_BYTES];
    frame_write_payload(&pattern, 7, other, RADAR_BYTES, ZC_STORE_REGULAR);
    memcpy(frame + sizeof(struct zc_frame_hdr) + RADAR_BYTES / 2, other + RADAR_BYTES / 2,
           RADAR_BYTES / 2);
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    make_frame(0, 5, 6);
    uint64_t w[2];
    memcpy(w, frame + 64 + 512, 16);
    memcpy(frame + 64 + 512, &w[1], 8);
    memcpy(frame + 64 + 520, &w[0], 8);
    CHECK(w[0] != w[1]);
    CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);

    /* Nothing refused moved the expected sequence; the good frame passes. */
    CHECK_EQ(expect[0], 5);
    make_frame(0, 5, 6);
    CHECK_OK(frame_check(&fc, frame, sizeof(frame), &gap));
    CHECK_EQ(gap, 0);

    /* Without verify the consumer reads only the header. */
    fc.verify = false;
    make_frame(1, 0, 2);
    frame[sizeof(frame) - 1] ^= 0xff;
    CHECK_OK(frame_check(&fc, frame, sizeof(frame), &gap));
    frame_pattern_free(&pattern);
}

static void test_frame_check_garbage(void)
{
    uint64_t expect[2] = {0, 0}, gap;
    struct frame_checker fc = {.nsensors = 2, .kind = kinds, .expect = expect, .verify = true};
    static unsigned char junk[4096];
    uint32_t x = 2463534242u;
    for (int i = 0; i < 20000; i++) {
        for (size_t j = 0; j < sizeof(junk); j++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            junk[j] = (unsigned char)x;
        }
        /* Sometimes a valid magic, sensor and kind, so that the later checks run. */
        if (i & 1) {
            struct zc_frame_hdr h;
            memcpy(&h, junk, sizeof(h));
            h.magic = ZC_FRAME_MAGIC, h.sensor = (uint16_t)(i & 2) >> 1, h.kind = ZC_SENSOR_RADAR;
            memcpy(junk, &h, sizeof(h));
        }
        CHECK_EQ(frame_check(&fc, junk, x % sizeof(junk), &gap), -EBADMSG);
    }
    /* Whole-size frames with a plausible header and a payload of noise: only
     * the checksum stands between them and the consumer. */
    for (int i = 0; i < 16; i++) {
        for (size_t j = 0; j < sizeof(frame); j++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            frame[j] = (unsigned char)x;
        }
        struct zc_frame_hdr *h = hdr();
        h->magic = ZC_FRAME_MAGIC, h->sensor = 1, h->kind = ZC_SENSOR_RADAR;
        h->payload_len = RADAR_BYTES, h->seq = (uint64_t)i;
        CHECK_EQ(frame_check(&fc, frame, sizeof(frame), &gap), -EBADMSG);
    }
    CHECK_EQ(expect[1], 0);
}

/* ---- the co-runner ---- */

static void test_corunner(void)
{
    struct zc_corunner *c;
    CHECK_EQ(zc_corunner_start(&c, -1, 1 << 20, 0), -EINVAL);
    CHECK_OK(zc_corunner_start(&c, -1, 1 << 20, 2));
    CHECK_EQ(zc_corunner_table_bytes(c), 1 << 20);
    CHECK(zc_corunner_far_rate(c) > 1e4);
    uint64_t t0 = zc_now_ns();
    double rate;
    CHECK_EQ(zc_corunner_rate(c, t0, t0 + 1, &rate), -EBUSY);
    struct timespec ts = {0, 150000000};
    nanosleep(&ts, NULL);
    uint64_t t1 = zc_now_ns();
    zc_corunner_stop(c);
    zc_corunner_stop(c);
    CHECK_OK(zc_corunner_rate(c, t0, t1, &rate));
    CHECK(rate > 1e5);
    /* A window before it started, or too short to hold two samples. */
    CHECK_EQ(zc_corunner_rate(c, t0 - 1000000000ull, t0 - 500000000ull, &rate), -ENODATA);
    CHECK_EQ(zc_corunner_rate(c, t0 + 50000000ull, t0 + 50000001ull, &rate), -ENODATA);
    zc_corunner_destroy(c);
    zc_corunner_destroy(NULL);
}

int main(void)
{
    RUN(test_bad_config);
    RUN(test_frame_check);
    RUN(test_frame_check_garbage);
    RUN(test_sustained_rate_nt);
    RUN(test_sustained_rate_regular);
    RUN(test_overload_is_counted);
    RUN(test_corunner);
    return 0;
}
