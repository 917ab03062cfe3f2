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
#include "zc/base.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct run_header {
    uint32_t skip, count;
};

enum { KIND_RUNS = 0x736e7572, KIND_DENSE = 0x65736e64 }; /* "runs", "dnse" */

/* Bytes a pixel of px takes on the wire (inlined where px is a constant). */
static inline size_t bpp_of(enum zc_composite_pixel px)
{
    /* RGBA16: 4 x 2 bytes; RGBA8_DEPTH: 4 + 4 */
    return px == ZC_PIXEL_RGBA8 ? 4 : px == COMPOSITE_PIXEL_RGB8 ? 3 : 8;
}

size_t composite_bpp(enum zc_composite_pixel px)
{
    return bpp_of(px);
}

/* The one rounding: v clamped to [0, 1] (NaN to 0), times scale, plus
 * one half, truncated.  Two roundings in float, in this order, on every
 * path below, so the SIMD and scalar quantizers give the same bytes. */
static inline uint32_t quantize(float v, float scale)
{
    v = v > 0 ? v : 0;
    v = v < 1 ? v : 1;
    return (uint32_t)(v * scale + 0.5f);
}

uint8_t composite_to_u8(float v)
{
    return (uint8_t)quantize(v, 255.0f);
}

/* Pixel p's colour at px's depth, as its wire bytes in the low bytes of
 * the result (little-endian; the depth of RGBA8_DEPTH travels apart):
 * zero exactly when the colour quantizes to nothing. */
static inline uint64_t pack_colour(enum zc_composite_pixel px, const float *p)
{
    const float scale = px == ZC_PIXEL_RGBA16 ? 65535.0f : 255.0f;
#if defined(__SSE2__)
    /* maxps returns its second operand when the first is NaN. */
    __m128 v = _mm_max_ps(_mm_loadu_ps(p), _mm_setzero_ps());
    v = _mm_min_ps(v, _mm_set1_ps(1.0f));
    __m128i q = _mm_cvttps_epi32(_mm_add_ps(_mm_mul_ps(v, _mm_set1_ps(scale)), _mm_set1_ps(0.5f)));
    if (px == ZC_PIXEL_RGBA16) {
        /* SSE2 packs signed: shift [0, 65535] to [-32768, 32767] and back. */
        q = _mm_packs_epi32(_mm_sub_epi32(q, _mm_set1_epi32(32768)), q);
        q = _mm_xor_si128(q, _mm_set1_epi16((short)0x8000));
        return (uint64_t)_mm_cvtsi128_si64(q);
    }
    q = _mm_packus_epi16(_mm_packs_epi32(q, q), q);
    const uint32_t w = (uint32_t)_mm_cvtsi128_si32(q);
#else
    if (px == ZC_PIXEL_RGBA16) {
        uint64_t w = 0;
        for (int c = 0; c < 4; c++)
            w |= (uint64_t)quantize(p[c], scale) << (16 * c);
        return w;
    }
    uint32_t w = 0;
    for (int c = 0; c < 4; c++)
        w |= quantize(p[c], scale) << (8 * c);
#endif
    return px == COMPOSITE_PIXEL_RGB8 ? w & 0xffffff : w;
}

/* Quantizes pixel i into out (bpp bytes); false when it is empty. */
static inline bool pack_pixel(enum zc_composite_pixel px, const float *rgba, const float *depth,
                              size_t i, uint8_t *out)
{
    const uint64_t q = pack_colour(px, rgba + 4 * i);
    if (px != ZC_PIXEL_RGBA8_DEPTH) {
        memcpy(out, &q, bpp_of(px));
        return q != 0;
    }
    const uint32_t colour = (uint32_t)q;
    memcpy(out, &colour, 4);
    memcpy(out + 4, &depth[i], sizeof(float));
    return colour != 0 || !isinf(depth[i]);
}

/* Wire pixel in back to 4 floats (and its depth), the inverse scale of
 * the quantizer's: q * (1 / 65535) or q * (1 / 255), exactly. */
static inline void unpack_pixel(enum zc_composite_pixel px, const uint8_t *in, float *p,
                                float *depth)
{
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    __m128i q;
    float scale;
    if (px == ZC_PIXEL_RGBA16) {
        q = _mm_unpacklo_epi16(_mm_loadl_epi64((const __m128i *)(const void *)in), zero);
        scale = 1.0f / 65535.0f;
    } else {
        int32_t w;
        memcpy(&w, in, 4);
        q = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(w), zero), zero);
        scale = 1.0f / 255.0f;
    }
    _mm_storeu_ps(p, _mm_mul_ps(_mm_cvtepi32_ps(q), _mm_set1_ps(scale)));
#else
    if (px == ZC_PIXEL_RGBA16) {
        uint16_t q[4];
        memcpy(q, in, sizeof(q));
        for (int c = 0; c < 4; c++)
            p[c] = q[c] * (1.0f / 65535.0f);
    } else {
        for (int c = 0; c < 4; c++)
            p[c] = in[c] * (1.0f / 255.0f);
    }
#endif
    if (px == ZC_PIXEL_RGBA8_DEPTH) {
        float d;
        memcpy(&d, in + 4, sizeof(d));
        /* A NaN depth would never lose a comparison: make it empty. */
        *depth = isnan(d) ? INFINITY : d;
    }
}

static void clear_pixels(float *rgba, float *depth, size_t from, size_t n)
{
    memset(rgba + 4 * from, 0, n * 4 * sizeof(float));
    if (depth)
        for (size_t i = from; i < from + n; i++)
            depth[i] = INFINITY;
}

/* A pixel the codec knows (ZC_PIXEL_RGBA_AUTO is a wire choice, not a
 * pixel). */
static bool codec_pixel(enum zc_composite_pixel px)
{
    return px <= ZC_PIXEL_RGBA8_DEPTH || px == COMPOSITE_PIXEL_RGB8;
}

size_t zc_composite_encode_bound(enum zc_composite_pixel px, size_t n)
{
    return sizeof(uint32_t) + n * composite_bpp(px);
}

/* The first span of img that ends after pixel a. */
static size_t first_span(const struct composite_spans *img, size_t a)
{
    size_t lo = 0, hi = img->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (img->span[mid].b <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Packs pixel p of span s into out; false when it is empty. */
static bool pack_span_pixel(enum zc_composite_pixel px, const struct composite_spans *img,
                            const struct composite_span *s, size_t p, uint8_t *out)
{
    return pack_pixel(px, img->rgba, img->depth, s->off + (p - s->a), out);
}

/* The run records under construction: one open record at most. */
struct run_writer {
    uint8_t *out;
    size_t cap, used, hdr_at;
    bool open;
    struct run_header h;
};

static void close_run(struct run_writer *w)
{
    if (w->open)
        memcpy(w->out + w->hdr_at, &w->h, sizeof(w->h));
    w->open = false;
}

static int open_run(struct run_writer *w, size_t skip)
{
    if (w->cap - w->used < sizeof(struct run_header))
        return -ENOSPC;
    w->hdr_at = w->used;
    w->used += sizeof(struct run_header);
    w->h = (struct run_header){(uint32_t)skip, 0};
    w->open = true;
    return 0;
}

/* The records for pixels [a, b) of img into out (cap bytes); -ENOSPC when
 * they do not fit.  Only the spans are walked: a record's skip counts the
 * empty pixels since the last active one, whether they lie in a span or
 * between spans. */
static inline __attribute__((always_inline)) ssize_t
encode_runs_as(enum zc_composite_pixel px, const struct composite_spans *img, size_t a, size_t b,
               uint8_t *out, size_t cap)
{
    const size_t bpp = bpp_of(px);
    struct run_writer w = {.out = out, .cap = cap};
    uint8_t pixel[8];
    size_t end = a; /* after the last active pixel */
    for (size_t i = first_span(img, a); i < img->n && img->span[i].a < b; i++) {
        const struct composite_span *s = &img->span[i];
        for (size_t p = ZC_MAX(s->a, a); p < ZC_MIN(s->b, b); p++) {
            if (!pack_span_pixel(px, img, s, p, pixel)) {
                close_run(&w);
                continue;
            }
            if (w.open && p != end)
                close_run(&w);
            if (!w.open && open_run(&w, p - end))
                return -ENOSPC;
            if (w.cap - w.used < bpp)
                return -ENOSPC;
            memcpy(out + w.used, pixel, bpp);
            w.used += bpp;
            w.h.count++;
            end = p + 1;
        }
    }
    close_run(&w);
    if (end < b) {
        if (open_run(&w, b - end))
            return -ENOSPC;
        close_run(&w);
    }
    return (ssize_t)w.used;
}

/* encode_runs_as() made once for each pixel the codec knows, so that the
 * walk over the spans has no branch on the pixel. */
static ssize_t encode_runs(enum zc_composite_pixel px, const struct composite_spans *img, size_t a,
                           size_t b, uint8_t *out, size_t cap)
{
    switch (px) {
    case ZC_PIXEL_RGBA8:
        return encode_runs_as(ZC_PIXEL_RGBA8, img, a, b, out, cap);
    case ZC_PIXEL_RGBA16:
        return encode_runs_as(ZC_PIXEL_RGBA16, img, a, b, out, cap);
    case ZC_PIXEL_RGBA8_DEPTH:
        return encode_runs_as(ZC_PIXEL_RGBA8_DEPTH, img, a, b, out, cap);
    default:
        return encode_runs_as(COMPOSITE_PIXEL_RGB8, img, a, b, out, cap);
    }
}

/* All of pixels [a, b) of img into out, empty ones between spans
 * included. */
static void encode_dense(enum zc_composite_pixel px, const struct composite_spans *img, size_t a,
                         size_t b, uint8_t *out)
{
    const size_t bpp = composite_bpp(px);
    const float none_rgba[4] = {0, 0, 0, 0}, none_depth = INFINITY;
    uint8_t none[8];
    pack_pixel(px, none_rgba, &none_depth, 0, none);
    size_t p = a;
    for (size_t i = first_span(img, a); i < img->n && img->span[i].a < b; i++) {
        const struct composite_span *s = &img->span[i];
        for (; p < s->a; p++)
            memcpy(out + (p - a) * bpp, none, bpp);
        for (; p < ZC_MIN(s->b, b); p++)
            pack_span_pixel(px, img, s, p, out + (p - a) * bpp);
    }
    for (; p < b; p++)
        memcpy(out + (p - a) * bpp, none, bpp);
}

ssize_t composite_encode_spans(enum zc_composite_pixel px, const struct composite_spans *img,
                               size_t a, size_t b, void *buf, size_t cap)
{
    const size_t n = b - a, dense = n * composite_bpp(px);
    uint8_t *out = buf;
    if (n > UINT32_MAX || !codec_pixel(px))
        return -EINVAL;
    if (cap < sizeof(uint32_t) + dense)
        return -ENOSPC;
    uint32_t kind = KIND_RUNS;
    ssize_t len = encode_runs(px, img, a, b, out + sizeof(kind), dense);
    if (len < 0) {
        kind = KIND_DENSE;
        encode_dense(px, img, a, b, out + sizeof(kind));
        len = (ssize_t)dense;
    }
    memcpy(out, &kind, sizeof(kind));
    return (ssize_t)sizeof(kind) + len;
}

ssize_t zc_composite_encode(enum zc_composite_pixel px, const float *rgba, const float *depth,
                            size_t n, void *buf, size_t cap)
{
    const struct composite_span all = {0, n, 0};
    const struct composite_spans img = {&all, 1, rgba, depth};
    if (px == COMPOSITE_PIXEL_RGB8)
        return -EINVAL;
    return composite_encode_spans(px, &img, 0, n, buf, cap);
}

int composite_decode_runs(enum zc_composite_pixel px, const void *buf, size_t len, size_t n,
                          composite_run_fn run, void *arg)
{
    const size_t bpp = composite_bpp(px);
    const uint8_t *in = buf;
    uint32_t kind;
    if (!codec_pixel(px))
        return -EINVAL;
    if (len < sizeof(kind))
        return -EBADMSG;
    memcpy(&kind, in, sizeof(kind));
    size_t used = sizeof(kind), covered = 0;
    if (kind == KIND_DENSE) {
        if (len - used != n * bpp)
            return -EBADMSG;
        if (n > 0)
            run(arg, 0, n, in + used);
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
        covered += skip;
        if (count > 0)
            run(arg, covered, count, in + used);
        covered += count;
        used += count * bpp;
    }
    return used == len ? 0 : -EBADMSG;
}

static inline __attribute__((always_inline)) void
unpack_as(enum zc_composite_pixel px, const uint8_t *in, size_t count, float *rgba, float *depth)
{
    for (size_t k = 0; k < count; k++)
        unpack_pixel(px, in + k * bpp_of(px), rgba + 4 * k, depth ? depth + k : NULL);
}

void composite_unpack(enum zc_composite_pixel px, const uint8_t *in, size_t count, float *rgba,
                      float *depth)
{
    assert(px != COMPOSITE_PIXEL_RGB8);
    if (px == ZC_PIXEL_RGBA16)
        unpack_as(ZC_PIXEL_RGBA16, in, count, rgba, NULL);
    else if (px == ZC_PIXEL_RGBA8)
        unpack_as(ZC_PIXEL_RGBA8, in, count, rgba, NULL);
    else
        unpack_as(ZC_PIXEL_RGBA8_DEPTH, in, count, rgba, depth);
}

/* zc_composite_decode's receiver: pixels in place, the gaps emptied. */
struct full_image {
    enum zc_composite_pixel px;
    float *rgba, *depth;
    size_t covered;
};

static void place_run(void *arg, size_t at, size_t count, const uint8_t *pixels)
{
    struct full_image *img = arg;
    clear_pixels(img->rgba, img->depth, img->covered, at - img->covered);
    composite_unpack(img->px, pixels, count, img->rgba + 4 * at,
                     img->depth ? img->depth + at : NULL);
    img->covered = at + count;
}

int zc_composite_decode(enum zc_composite_pixel px, const void *buf, size_t len, size_t n,
                        float *rgba, float *depth)
{
    struct full_image img = {px, rgba, depth, 0};
    if (px == COMPOSITE_PIXEL_RGB8)
        return -EINVAL;
    int err = composite_decode_runs(px, buf, len, n, place_run, &img);
    if (!err)
        clear_pixels(rgba, depth, img.covered, n - img.covered);
    return err;
}
