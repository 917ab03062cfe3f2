/* test_composite_codec.c - active-pixel encoding: round trips, the size
 * bound, and hostile pieces refused before anything is written past the
 * expected pixels.
 */
#include "zc/composite.h"
#include "zc_test.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { N = 97 };

static float rgba[N * 4], depth[N], out_rgba[(N + 8) * 4], out_depth[N + 8];
static uint8_t buf[4 + N * 8 + 64];

/* A pattern: runs of empty and active pixels of varied lengths. */
static void fill(unsigned period)
{
    for (unsigned i = 0; i < N; i++) {
        bool active = (i / period) % 2 == 1 || i == N - 1;
        for (int c = 0; c < 4; c++)
            rgba[4 * i + c] = active ? (float)((i * 7 + (unsigned)c * 31) % 256) / 255.0f : 0.0f;
        depth[i] = active ? (float)i * 0.5f : INFINITY;
    }
}

static void test_round_trip(void)
{
    const enum zc_composite_pixel kinds[] = {ZC_PIXEL_RGBA8, ZC_PIXEL_RGBA16, ZC_PIXEL_RGBA8_DEPTH};
    for (unsigned period = 1; period <= 40; period += 13)
        for (unsigned k = 0; k < 3; k++) {
            enum zc_composite_pixel px = kinds[k];
            fill(period);
            const float *d = px == ZC_PIXEL_RGBA8_DEPTH ? depth : NULL;
            ssize_t len = zc_composite_encode(px, rgba, d, N, buf, sizeof(buf));
            CHECK(len > 0);
            CHECK((size_t)len <= zc_composite_encode_bound(px, N));
            /* Long empty runs are not sent: the piece is smaller than dense. */
            if (period > 1)
                CHECK((size_t)len < zc_composite_encode_bound(px, N));
            out_depth[N] = 42.0f;
            CHECK_OK(zc_composite_decode(px, buf, (size_t)len, N, out_rgba, d ? out_depth : NULL));
            for (unsigned i = 0; i < 4 * N; i++)
                CHECK(fabsf(out_rgba[i] - rgba[i]) < 0.5f / 255.0f);
            if (d) {
                for (unsigned i = 0; i < N; i++)
                    CHECK(out_depth[i] == depth[i] || (isinf(out_depth[i]) && isinf(depth[i])));
                CHECK(out_depth[N] == 42.0f);
            }
            /* Too small a buffer is refused, not overrun. */
            CHECK_EQ(zc_composite_encode(px, rgba, d, N, buf, (size_t)len / 2), -ENOSPC);
        }
}

static void test_empty_and_full(void)
{
    for (unsigned i = 0; i < 4 * N; i++)
        rgba[i] = 0;
    ssize_t len = zc_composite_encode(ZC_PIXEL_RGBA8, rgba, NULL, N, buf, sizeof(buf));
    CHECK_EQ(len, 4 + 8); /* one record: skip N */
    CHECK_OK(zc_composite_decode(ZC_PIXEL_RGBA8, buf, (size_t)len, N, out_rgba, NULL));
    for (unsigned i = 0; i < 4 * N; i++)
        rgba[i] = 1.0f;
    len = zc_composite_encode(ZC_PIXEL_RGBA8, rgba, NULL, N, buf, sizeof(buf));
    CHECK_EQ(len, 4 + 4 * N); /* dense: a record would only add */
    /* Zero pixels: no record at all. */
    CHECK_EQ(zc_composite_encode(ZC_PIXEL_RGBA8, rgba, NULL, 0, buf, sizeof(buf)), 4);
    CHECK_OK(zc_composite_decode(ZC_PIXEL_RGBA8, buf, 4, 0, out_rgba, NULL));
}

static void put32(size_t at, uint32_t v)
{
    memcpy(buf + at, &v, sizeof(v));
}

static void test_hostile(void)
{
    fill(5);
    ssize_t len = zc_composite_encode(ZC_PIXEL_RGBA8, rgba, NULL, N, buf, sizeof(buf));
    CHECK(len > 12);
    /* Truncated anywhere, or one byte too many. */
    for (ssize_t cut = 0; cut < len; cut++)
        CHECK_EQ(zc_composite_decode(ZC_PIXEL_RGBA8, buf, (size_t)cut, N, out_rgba, NULL),
                 -EBADMSG);
    CHECK_EQ(zc_composite_decode(ZC_PIXEL_RGBA8, buf, (size_t)len + 1, N, out_rgba, NULL),
             -EBADMSG);
    /* The same piece claimed for fewer or more pixels than the round expects. */
    CHECK_EQ(zc_composite_decode(ZC_PIXEL_RGBA8, buf, (size_t)len, N - 1, out_rgba, NULL),
             -EBADMSG);
    CHECK_EQ(zc_composite_decode(ZC_PIXEL_RGBA8, buf, (size_t)len, N + 1, out_rgba, NULL),
             -EBADMSG);

    uint32_t runs;
    memcpy(&runs, buf, 4);
    out_rgba[4 * N] = 7.0f;
    /* A skip past the end, a count past the end, huge values that would
     * wrap, an empty record (would never progress), an unknown kind. */
    const uint32_t bad[][2] = {{N + 1, 0}, {1, N}, {UINT32_MAX, 1}, {1, UINT32_MAX}, {0, 0}};
    for (unsigned b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
        put32(0, runs);
        put32(4, bad[b][0]);
        put32(8, bad[b][1]);
        CHECK_EQ(zc_composite_decode(ZC_PIXEL_RGBA8, buf, sizeof(buf), N, out_rgba, NULL),
                 -EBADMSG);
        CHECK(out_rgba[4 * N] == 7.0f);
    }
    put32(0, 0x12345678);
    CHECK_EQ(zc_composite_decode(ZC_PIXEL_RGBA8, buf, (size_t)len, N, out_rgba, NULL), -EBADMSG);
    /* A dense piece of the wrong length. */
    put32(0, 0x65736e64);
    CHECK_EQ(zc_composite_decode(ZC_PIXEL_RGBA8, buf, 4 + 4 * N - 1, N, out_rgba, NULL), -EBADMSG);
    CHECK_OK(zc_composite_decode(ZC_PIXEL_RGBA8, buf, 4 + 4 * N, N, out_rgba, NULL));
    /* A NaN depth from a peer becomes empty, never a pixel that wins. */
    float nan_depth = NAN;
    uint8_t px[4 + 8 + 8] = {0};
    put32(0, 0x736e7572);
    memcpy(px, buf, 4);
    uint32_t hdr[2] = {0, 1};
    memcpy(px + 4, hdr, 8);
    px[12 + 3] = 255;
    memcpy(px + 16, &nan_depth, 4);
    CHECK_OK(zc_composite_decode(ZC_PIXEL_RGBA8_DEPTH, px, sizeof(px), 1, out_rgba, out_depth));
    CHECK(isinf(out_depth[0]));
}

/* Kinds that are no pixel of the public codec: the wire choice AUTO, and
 * the compositor's internal final-part kind just past it. */
static void test_unknown_kinds(void)
{
    fill(5);
    for (int px = ZC_PIXEL_RGBA_AUTO; px <= ZC_PIXEL_RGBA_AUTO + 2; px++) {
        CHECK_EQ(zc_composite_encode((enum zc_composite_pixel)px, rgba, NULL, N, buf, sizeof(buf)),
                 -EINVAL);
        CHECK_EQ(
            zc_composite_decode((enum zc_composite_pixel)px, buf, 4 + N * 4, N, out_rgba, NULL),
            -EINVAL);
    }
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_empty_and_full);
    RUN(test_hostile);
    RUN(test_unknown_kinds);
    return 0;
}
