/* fuzz_composite_decode.c - a peer's active-pixel message, whatever its
 * bytes: decoding either fails with -EBADMSG or yields exactly n pixels,
 * and a successful decode re-encodes to a message that decodes to the same
 * pixels (the encoding loses nothing it claims to keep).  The compositor's
 * own encoder, which walks only spans of possibly active pixels, must
 * write the very bytes of the whole-piece encoder for any image and any
 * split of it into spans (here: the decoded runs, each cut in two). */
#include "../../src/composite/composite_internal.h"
#include "zc/composite.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool empty(const float *rgba, const float *depth, size_t p)
{
    const float *q = rgba + 4 * p;
    return q[0] == 0 && q[1] == 0 && q[2] == 0 && q[3] == 0 && (!depth || depth[p] == INFINITY);
}

/* The decoded pixels that may be active (as the compositor finds them: any
 * colour, any depth but +INFINITY), as spans cut at their middles. */
static size_t spans_of(const float *rgba, const float *depth, size_t n, struct composite_span *out)
{
    size_t ns = 0;
    for (size_t p = 0; p < n;) {
        while (p < n && empty(rgba, depth, p))
            p++;
        size_t a = p;
        while (p < n && !empty(rgba, depth, p))
            p++;
        size_t mid = a + (p - a) / 2;
        if (mid > a)
            out[ns++] = (struct composite_span){a, mid, a};
        if (p > mid)
            out[ns++] = (struct composite_span){mid, p, mid};
    }
    return ns;
}

static void check_span_encoder(enum zc_composite_pixel px, const float *rgba, const float *depth,
                               size_t n, const uint8_t *want, size_t want_len, size_t cap)
{
    struct composite_span *spans = malloc((n + 1) * sizeof(*spans));
    uint8_t *got = malloc(cap);
    if (!spans || !got)
        abort();
    struct composite_spans img = {spans, spans_of(rgba, depth, n, spans), rgba, depth};
    ssize_t len = composite_encode_spans(px, &img, 0, n, got, cap);
    if (len != (ssize_t)want_len || memcmp(got, want, want_len) != 0)
        abort();
    free(spans);
    free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const enum zc_composite_pixel kinds[] = {ZC_PIXEL_RGBA8, ZC_PIXEL_RGBA16, ZC_PIXEL_RGBA8_DEPTH};
    enum zc_composite_pixel px = kinds[data[0] % 3];
    size_t n = (size_t)data[1] | (size_t)(data[2] & 0x0f) << 8; /* up to 4095 pixels */
    data += 3;
    size -= 3;

    float *rgba = malloc((n + 1) * 4 * sizeof(float));
    float *depth = malloc((n + 1) * sizeof(float));
    float *again = malloc((n + 1) * 4 * sizeof(float));
    float *again_depth = malloc((n + 1) * sizeof(float));
    size_t cap = zc_composite_encode_bound(px, n);
    uint8_t *buf = malloc(cap);
    bool has_depth = px == ZC_PIXEL_RGBA8_DEPTH;
    if (zc_composite_decode(px, data, size, n, rgba, has_depth ? depth : NULL) == 0) {
        ssize_t len = zc_composite_encode(px, rgba, has_depth ? depth : NULL, n, buf, cap);
        if (len < 0)
            abort();
        check_span_encoder(px, rgba, has_depth ? depth : NULL, n, buf, (size_t)len, cap);
        if (zc_composite_decode(px, buf, (size_t)len, n, again, has_depth ? again_depth : NULL))
            abort();
        if (memcmp(rgba, again, n * 4 * sizeof(float)) != 0)
            abort();
        /* Depth survives for every pixel with colour; an all-zero pixel is
         * empty by definition, whatever depth the peer claimed. */
        for (size_t i = 0; has_depth && i < n; i++) {
            const float *p = rgba + 4 * i;
            bool empty = p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0;
            if (!empty && depth[i] != again_depth[i] && !(isinf(depth[i]) && isinf(again_depth[i])))
                abort();
        }
    }
    free(rgba);
    free(depth);
    free(again);
    free(again_depth);
    free(buf);
    return 0;
}
