/* codec.c - active-pixel encoding of image pieces, and the one rounding
 * from float to 8 or 16 bits.
 *
 * The idea: most of a brick's tile is empty (rays that missed it, or saw
 * nothing above the transfer function's floor), and empty pixels need not
 * travel.  A piece of n pixels goes out as records
 *
 *   +-----------+------------+---------------------------+
 *   | skip: u32 | count: u32 | count pixels (bpp each)   |  ... until n covered
 *   +-----------+------------+---------------------------+
 *
 * where skip empty pixels precede count active ones, after a 4-byte kind.
 * When the records would cost more than the pixels themselves (a
 * checkerboard), the piece goes DENSE instead: all n pixels, no records, so
 * a piece never exceeds n pixels + 4 bytes.  The decoder trusts
 * none of it: each header is copied into locals and checked against the
 * pixels still to cover and the bytes still left before anything is
 * written, and the records must end exactly at n pixels and len bytes.
 */
#include "zc/composite.h"
#include "composite_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

struct run_header {
    uint32_t skip, count;
};

enum { KIND_RUNS = 0x736e7572, KIND_DENSE = 0x65736e64 }; /* "runs", "dnse" */

size_t composite_bpp(enum zc_composite_pixel px)
{
    return px == ZC_PIXEL_RGBA8 ? 4 : 8; /* RGBA16: 4 x 2 bytes; RGBA8_DEPTH: 4 + 4 */
}

uint8_t composite_to_u8(float v)
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    return (uint8_t)(v * 255.0f + 0.5f);
}

static uint16_t to_u16(float v)
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    return (uint16_t)(v * 65535.0f + 0.5f);
}

/* Quantizes pixel i into out (bpp bytes); false when it is empty. */
static bool pack_pixel(enum zc_composite_pixel px, const float *rgba, const float *depth, size_t i,
                       uint8_t *out)
{
    const float *p = rgba + 4 * i;
    if (px == ZC_PIXEL_RGBA16) {
        uint16_t q[4] = {to_u16(p[0]), to_u16(p[1]), to_u16(p[2]), to_u16(p[3])};
        memcpy(out, q, sizeof(q));
        return (q[0] | q[1] | q[2] | q[3]) != 0;
    }
    for (int c = 0; c < 4; c++)
        out[c] = composite_to_u8(p[c]);
    bool active = (out[0] | out[1] | out[2] | out[3]) != 0;
    if (px == ZC_PIXEL_RGBA8_DEPTH) {
        memcpy(out + 4, &depth[i], sizeof(float));
        active = active || !isinf(depth[i]);
    }
    return active;
}

static void unpack_pixel(enum zc_composite_pixel px, const uint8_t *in, float *rgba, float *depth,
                         size_t i)
{
    float *p = rgba + 4 * i;
    if (px == ZC_PIXEL_RGBA16) {
        uint16_t q[4];
        memcpy(q, in, sizeof(q));
        for (int c = 0; c < 4; c++)
            p[c] = q[c] * (1.0f / 65535.0f);
        return;
    }
    for (int c = 0; c < 4; c++)
        p[c] = in[c] * (1.0f / 255.0f);
    if (px == ZC_PIXEL_RGBA8_DEPTH) {
        float d;
        memcpy(&d, in + 4, sizeof(d));
        /* A NaN depth would never lose a comparison: make it empty. */
        depth[i] = isnan(d) ? INFINITY : d;
    }
}

static void clear_pixels(float *rgba, float *depth, size_t from, size_t n)
{
    memset(rgba + 4 * from, 0, n * 4 * sizeof(float));
    if (depth)
        for (size_t i = from; i < from + n; i++)
            depth[i] = INFINITY;
}

size_t zc_composite_encode_bound(enum zc_composite_pixel px, size_t n)
{
    return sizeof(uint32_t) + n * composite_bpp(px);
}

/* The records for n pixels into out (cap bytes); -ENOSPC when they do not fit. */
static ssize_t encode_runs(enum zc_composite_pixel px, const float *rgba, const float *depth,
                           size_t n, uint8_t *out, size_t cap)
{
    const size_t bpp = composite_bpp(px);
    uint8_t pixel[8];
    size_t used = 0, i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && !pack_pixel(px, rgba, depth, i, pixel))
            i++;
        size_t hdr_at = used;
        if (cap - used < sizeof(struct run_header))
            return -ENOSPC;
        used += sizeof(struct run_header);
        struct run_header h = {(uint32_t)(i - start), 0};
        /* pixel holds pixel i's packed bytes when i < n. */
        while (i < n) {
            if (h.count > 0 && !pack_pixel(px, rgba, depth, i, pixel))
                break;
            if (cap - used < bpp)
                return -ENOSPC;
            memcpy(out + used, pixel, bpp);
            used += bpp;
            h.count++;
            i++;
        }
        memcpy(out + hdr_at, &h, sizeof(h));
    }
    return (ssize_t)used;
}

ssize_t zc_composite_encode(enum zc_composite_pixel px, const float *rgba, const float *depth,
                            size_t n, void *buf, size_t cap)
{
    const size_t bpp = composite_bpp(px), dense = n * bpp;
    uint8_t *out = buf;
    if (n > UINT32_MAX || px > ZC_PIXEL_RGBA8_DEPTH) /* AUTO is a wire choice, not a pixel */
        return -EINVAL;
    if (cap < sizeof(uint32_t) + dense)
        return -ENOSPC;
    uint32_t kind = KIND_RUNS;
    ssize_t len = encode_runs(px, rgba, depth, n, out + sizeof(kind), dense);
    if (len < 0) {
        kind = KIND_DENSE;
        for (size_t i = 0; i < n; i++)
            pack_pixel(px, rgba, depth, i, out + sizeof(kind) + i * bpp);
        len = (ssize_t)dense;
    }
    memcpy(out, &kind, sizeof(kind));
    return (ssize_t)sizeof(kind) + len;
}

int zc_composite_decode(enum zc_composite_pixel px, const void *buf, size_t len, size_t n,
                        float *rgba, float *depth)
{
    const size_t bpp = composite_bpp(px);
    const uint8_t *in = buf;
    uint32_t kind;
    if (px > ZC_PIXEL_RGBA8_DEPTH)
        return -EINVAL;
    if (len < sizeof(kind))
        return -EBADMSG;
    memcpy(&kind, in, sizeof(kind));
    size_t used = sizeof(kind), covered = 0;
    if (kind == KIND_DENSE) {
        if (len - used != n * bpp)
            return -EBADMSG;
        for (size_t i = 0; i < n; i++)
            unpack_pixel(px, in + used + i * bpp, rgba, depth, i);
        return 0;
    }
    if (kind != KIND_RUNS)
        return -EBADMSG;
    while (covered < n) {
        struct run_header h;
        if (len - used < sizeof(h))
            return -EBADMSG;
        memcpy(&h, in + used, sizeof(h));
        used += sizeof(h);
        size_t skip = h.skip, count = h.count;
        if ((skip == 0 && count == 0) || skip > n - covered || count > n - covered - skip ||
            count > (len - used) / bpp)
            return -EBADMSG;
        clear_pixels(rgba, depth, covered, skip);
        covered += skip;
        for (size_t k = 0; k < count; k++)
            unpack_pixel(px, in + used + k * bpp, rgba, depth, covered + k);
        covered += count;
        used += count * bpp;
    }
    return used == len ? 0 : -EBADMSG;
}
