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

/* The documented rounding, written out plainly: clamp to [0, 1] (NaN to
 * 0), times the scale, plus one half, truncated; two float roundings. */
static uint32_t want_quantized(float v, float scale)
{
    if (!(v > 0))
        v = 0;
    if (v > 1)
        v = 1;
    float scaled = v * scale;
    return (uint32_t)(scaled + 0.5f);
}

/* The quantizer and its inverse are exact, bit for bit, on the values
 * where rounding turns: the half steps and their neighbours, the ends,
 * out of range, infinities and NaN; and every 16-bit and 8-bit level
 * decodes to level * (1 / max) exactly. */
static void test_quantize_exact(void)
{
    float vals[4096];
    size_t n = 0;
    const float specials[] = {0.0f,      -0.0f, 1.0f,   -1.0f,    2.0f,    INFINITY,
                              -INFINITY, NAN,   -NAN,   1e-30f,   -1e-30f, 0.999999f,
                              1.000001f, 0.5f,  1e-38f, 0x1p-149f};
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
        vals[n++] = specials[i];
    const float scales[] = {255.0f, 65535.0f};
    for (int s = 0; s < 2; s++)
        for (unsigned q = 0; q < 40; q++) {
            /* q + 1/2 levels up, and the floats either side of it. */
            float half = ((float)q + 0.5f) / scales[s];
            vals[n++] = half;
            vals[n++] = nextafterf(half, 0.0f);
            vals[n++] = nextafterf(half, 1.0f);
            float top = ((float)(scales[s] - (float)q) - 0.5f) / scales[s];
            vals[n++] = top;
            vals[n++] = nextafterf(top, 0.0f);
            vals[n++] = nextafterf(top, 2.0f);
        }
    uint32_t seed = 12345;
    while (n < sizeof(vals) / sizeof(vals[0])) {
        seed = seed * 1664525u + 1013904223u;
        vals[n++] = (float)(seed >> 8) / (float)(1u << 24) * 1.2f - 0.1f;
    }
    /* Four values a pixel, with one channel held at 1 so that no pixel is
     * empty and the piece goes dense: every value lands at a known byte. */
    enum { PIX = sizeof(vals) / sizeof(vals[0]) / 4 };
    static float img[PIX * 4];
    static uint8_t wire[4 + PIX * 8];
    for (int s = 0; s < 2; s++) {
        enum zc_composite_pixel px = s ? ZC_PIXEL_RGBA16 : ZC_PIXEL_RGBA8;
        for (size_t i = 0; i < PIX; i++)
            for (int c = 0; c < 4; c++)
                img[4 * i + c] = c == 3 ? 1.0f : vals[(4 * i + (size_t)c) % n];
        /* the alpha lane is checked too: rotate which value sits there */
        for (int rot = 0; rot < 2; rot++) {
            if (rot)
                for (size_t i = 0; i < PIX; i++) {
                    img[4 * i] = 1.0f;
                    img[4 * i + 3] = vals[i];
                }
            ssize_t len = zc_composite_encode(px, img, NULL, PIX, wire, sizeof(wire));
            CHECK(len > 0);
            /* no pixel is empty, so the piece is all pixels, in order */
            CHECK_EQ((size_t)len, 4 + PIX * (s ? 8u : 4u));
            const uint8_t *p = wire + 4;
            for (size_t i = 0; i < PIX; i++)
                for (int c = 0; c < 4; c++) {
                    uint32_t got =
                        s ? (uint32_t)(p[8 * i + 2 * c] | p[8 * i + 2 * c + 1] << 8) : p[4 * i + c];
                    CHECK_EQ(got, want_quantized(img[4 * i + c], scales[s]));
                }
        }
    }
    /* every level back: exactly level * (1 / max) */
    static uint8_t levels[4 + 65536 * 8];
    static float back[65536 * 4];
    uint32_t dense_kind = 0x65736e64; /* "dnse" */
    memcpy(levels, &dense_kind, 4);
    for (uint32_t q = 0; q < 65536; q++)
        for (int c = 0; c < 4; c++) {
            uint16_t v = (uint16_t)(c == 3 ? 65535 : q);
            memcpy(levels + 4 + 8 * q + 2 * c, &v, 2);
        }
    CHECK_OK(zc_composite_decode(ZC_PIXEL_RGBA16, levels, 4 + 65536 * 8, 65536, back, NULL));
    for (uint32_t q = 0; q < 65536; q++)
        CHECK(back[4 * q] == (float)q * (1.0f / 65535.0f));
    for (uint32_t q = 0; q < 256; q++)
        for (int c = 0; c < 4; c++)
            levels[4 + 4 * q + c] = (uint8_t)(c == 3 ? 255 : q);
    CHECK_OK(zc_composite_decode(ZC_PIXEL_RGBA8, levels, 4 + 256 * 4, 256, back, NULL));
    for (uint32_t q = 0; q < 256; q++)
        CHECK(back[4 * q + 1] == (float)q * (1.0f / 255.0f));
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_empty_and_full);
    RUN(test_hostile);
    RUN(test_unknown_kinds);
    RUN(test_quantize_exact);
    return 0;
}
