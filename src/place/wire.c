/* wire.c - encoding and checking of place frames and of peers' paths.
 *
 * Pure functions over bytes already copied into private memory: nothing
 * here touches a socket or a file, so the fuzz target drives all of it.
 * A header is checked on its own first (what it can say without knowing
 * the session); the session then checks sequence, file id and range.
 */
#include "wire.h"

#include "zc/base.h"

#include <errno.h>
#include <string.h>

void place_hdr_encode(const struct place_hdr *h, uint8_t out[PLACE_HDR_BYTES])
{
    memset(out, 0, PLACE_HDR_BYTES);
    out[0] = h->type;
    out[1] = h->flags;
    zc_put_le32(out + 4, h->file_id);
    zc_put_le64(out + 8, h->offset);
    zc_put_le64(out + 16, h->seq);
    zc_put_le32(out + 24, h->length);
}

static uint32_t max_length(uint8_t type)
{
    switch (type) {
    case PLACE_DATA:
        return ZC_PLACE_MAX_CHUNK;
    case PLACE_OPEN:
    case PLACE_GET:
    case PLACE_ERROR:
        return PLACE_MAX_CTRL;
    default:
        return 0;
    }
}

int place_hdr_decode(const uint8_t in[PLACE_HDR_BYTES], struct place_hdr *out)
{
    struct place_hdr h = {
        .type = in[0],
        .flags = in[1],
        .file_id = zc_get_le32(in + 4),
        .offset = zc_get_le64(in + 8),
        .seq = zc_get_le64(in + 16),
        .length = zc_get_le32(in + 24),
    };
    if (in[2] || in[3] || zc_get_le32(in + 28))
        return -EPROTO;
    if (h.type < PLACE_OPEN || h.type > PLACE_END)
        return -EPROTO;
    if (h.flags & ~PLACE_FLAGS_KNOWN)
        return -EPROTO;
    if (h.length > max_length(h.type))
        return -EPROTO;
    *out = h;
    return 0;
}

int place_path_check(const char *path, size_t len)
{
    if (len == 0 || len > ZC_PLACE_MAX_PATH || path[0] == '/')
        return -EACCES;
    if (memchr(path, '\0', len))
        return -EACCES;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        size_t n = i - start;
        const char *c = path + start;
        if (n == 0 || n > PLACE_MAX_NAME)
            return -EACCES;
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return -EACCES;
        if (n >= 4 && memcmp(c, ".zc-", 4) == 0)
            return -EACCES;
        start = i + 1;
    }
    return 0;
}

int place_open_encode(const struct place_open *o, uint8_t *out, size_t outlen)
{
    size_t n = strlen(o->path);
    if (n > ZC_PLACE_MAX_PATH || outlen < PLACE_OPEN_FIXED + n)
        return -ENAMETOOLONG;
    zc_put_le64(out, o->size);
    zc_put_le64(out + 8, (uint64_t)o->mtime_sec);
    zc_put_le32(out + 16, o->mtime_nsec);
    zc_put_le32(out + 20, o->mode);
    zc_put_le32(out + 24, (uint32_t)n);
    memcpy(out + PLACE_OPEN_FIXED, o->path, n);
    if (!o->split)
        return (int)(PLACE_OPEN_FIXED + n);
    if (outlen < PLACE_OPEN_FIXED + n + PLACE_SPLIT_BYTES)
        return -ENAMETOOLONG;
    uint8_t *x = out + PLACE_OPEN_FIXED + n;
    memcpy(x, o->transfer, 16);
    zc_put_le32(x + 16, o->parts);
    zc_put_le32(x + 20, o->index);
    return (int)(PLACE_OPEN_FIXED + n + PLACE_SPLIT_BYTES);
}

void place_split_range(uint64_t size, uint32_t parts, uint32_t index, uint64_t *start,
                       uint64_t *end)
{
    uint64_t slice = size / parts + (size % parts != 0);
    slice = (slice + ZC_PLACE_MAX_CHUNK - 1) / ZC_PLACE_MAX_CHUNK * ZC_PLACE_MAX_CHUNK;
    *start = ZC_MIN(size, slice * index);
    *end = ZC_MIN(size, slice * (index + 1));
}

int place_open_decode(const uint8_t *in, size_t len, struct place_open *out)
{
    if (len < PLACE_OPEN_FIXED)
        return -EPROTO;
    uint32_t n = zc_get_le32(in + 24);
    if (n > ZC_PLACE_MAX_PATH)
        return -EPROTO;
    bool split = len == PLACE_OPEN_FIXED + n + PLACE_SPLIT_BYTES;
    if (!split && len != PLACE_OPEN_FIXED + n)
        return -EPROTO;
    const uint8_t *x = in + PLACE_OPEN_FIXED + n;
    uint32_t parts = split ? zc_get_le32(x + 16) : 0, index = split ? zc_get_le32(x + 20) : 0;
    if (split && (parts < 2 || parts > PLACE_MAX_PARTS || index >= parts))
        return -EPROTO;
    uint32_t nsec = zc_get_le32(in + 16);
    uint32_t mode = zc_get_le32(in + 20);
    if (nsec >= 1000000000u || (mode & ~0777u))
        return -EPROTO;
    int r = place_path_check((const char *)in + PLACE_OPEN_FIXED, n);
    if (r)
        return r;
    out->size = zc_get_le64(in);
    out->mtime_sec = (int64_t)zc_get_le64(in + 8);
    out->mtime_nsec = nsec;
    out->mode = mode;
    memcpy(out->path, in + PLACE_OPEN_FIXED, n);
    out->path[n] = '\0';
    out->split = split;
    out->parts = parts;
    out->index = index;
    if (split)
        memcpy(out->transfer, x, 16);
    return 0;
}
