/* gzip.c - a .gz file read the way `gzip -t` checks it, never trusted early.
 *
 * zlib's gzread() inflates what it can and reports a truncated stream, a bad
 * CRC-32 or a wrong length only to a caller that reads to the end and then
 * asks; libnifti stops reading at the last voxel and never asks, so a cut
 * or damaged .nii.gz used to render as if whole.  Here the compressed file
 * is read from its mapping and parsed member by member (RFC 1952): each header checked,
 * the deflate data inflated raw, and each trailer's CRC-32 and ISIZE
 * compared with what came out.  Members may follow one another (their
 * contents concatenate, as gzip -d does); after the last one only zero
 * bytes (tape or block padding, which gzip also ignores) may remain.
 *
 *   file: [member][member]...[zero padding]
 *   member: 1f 8b 08 FLG MTIME(4) XFL OS [EXTRA][NAME\0][COMMENT\0][HCRC(2)]
 *           deflate data
 *           CRC-32(4, LE) ISIZE(4, LE: length mod 2^32)
 */
#include "vol_internal.h"
#include "zc/base.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define GZ_FHCRC        0x02
#define GZ_FEXTRA       0x04
#define GZ_FNAME        0x08
#define GZ_FCOMMENT     0x10
#define GZ_FRESERVED    0xe0
#define GZ_FIXED_HEADER 10
#define GZ_TRAILER      8
#define GZ_SCRATCH      65536

/* True when the len bytes at h could begin a gzip member: its ID bytes,
 * method deflate, no reserved flag. */
static bool member_prefix(const uint8_t *h, size_t len)
{
    static const uint8_t id[3] = {0x1f, 0x8b, 8};
    for (size_t i = 0; i < len && i < sizeof(id); i++)
        if (h[i] != id[i])
            return false;
    return len <= sizeof(id) || (h[3] & GZ_FRESERVED) == 0;
}

bool gz_magic(const uint8_t *p, size_t len)
{
    return len >= 4 && member_prefix(p, len);
}

bool gz_prefix(const uint8_t *p, size_t len)
{
    return len > 0 && member_prefix(p, len);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int gz_init(struct gz_in *g, const uint8_t *buf, size_t len)
{
    memset(g, 0, sizeof(*g));
    g->buf = buf;
    g->len = len;
    return inflateInit2(&g->zs, -MAX_WBITS) == Z_OK ? 0 : -ENOMEM;
}

void gz_end(struct gz_in *g)
{
    inflateEnd(&g->zs);
}

/* Skips a zero-terminated field of the header at *pos; -ENODATA when the
 * file ends inside it. */
static int skip_string(const struct gz_in *g, size_t *pos)
{
    const uint8_t *end = memchr(g->buf + *pos, 0, g->len - *pos);
    if (!end)
        return -ENODATA;
    *pos = (size_t)(end - g->buf) + 1;
    return 0;
}

/* Parses the member header at g->pos and readies the inflater for its
 * deflate data.  -ENODATA when the file ends inside the header, -EILSEQ
 * when it is not a gzip member (bad magic, method, flags or header CRC). */
static int member_begin(struct gz_in *g)
{
    const uint8_t *h = g->buf + g->pos;
    size_t left = g->len - g->pos;
    if (!member_prefix(h, left))
        return -EILSEQ;
    if (left < GZ_FIXED_HEADER)
        return -ENODATA;
    uint8_t flags = h[3];
    size_t pos = g->pos + GZ_FIXED_HEADER;
    if (flags & GZ_FEXTRA) {
        if (g->len - pos < 2)
            return -ENODATA;
        size_t xlen = (size_t)g->buf[pos] | (size_t)g->buf[pos + 1] << 8;
        if (g->len - pos - 2 < xlen)
            return -ENODATA;
        pos += 2 + xlen;
    }
    int err = 0;
    if (flags & GZ_FNAME)
        err = skip_string(g, &pos);
    if (!err && (flags & GZ_FCOMMENT))
        err = skip_string(g, &pos);
    if (err)
        return err;
    if (flags & GZ_FHCRC) {
        if (g->len - pos < 2)
            return -ENODATA;
        uint32_t crc = (uint32_t)crc32(0, h, (uInt)(pos - g->pos));
        if ((crc & 0xffff) != ((uint32_t)g->buf[pos] | (uint32_t)g->buf[pos + 1] << 8))
            return -EILSEQ;
        pos += 2;
    }
    if (inflateReset(&g->zs) != Z_OK)
        return -EILSEQ;
    g->pos = pos;
    g->crc = (uint32_t)crc32(0, NULL, 0);
    g->isize = 0;
    g->in_member = true;
    return 0;
}

/* Checks the trailer after a member's deflate data: the CRC-32 and the
 * length of what was inflated.  -ENODATA when it is cut off, -EBADMSG when
 * either disagrees. */
static int member_end(struct gz_in *g)
{
    if (g->len - g->pos < GZ_TRAILER)
        return -ENODATA;
    const uint8_t *t = g->buf + g->pos;
    if (le32(t) != g->crc || le32(t + 4) != g->isize)
        return -EBADMSG;
    g->pos += GZ_TRAILER;
    g->in_member = false;
    return 0;
}

/* True when nothing but zero padding follows the last member. */
static bool only_padding(const struct gz_in *g)
{
    for (size_t i = g->pos; i < g->len; i++)
        if (g->buf[i])
            return false;
    return true;
}

/* One inflate call into dst[0, len): *out gets the bytes it produced. */
static int inflate_some(struct gz_in *g, uint8_t *dst, size_t len, size_t *out)
{
    size_t in_left = g->len - g->pos;
    g->zs.next_in = (Bytef *)(uintptr_t)(g->buf + g->pos);
    g->zs.avail_in = (uInt)ZC_MIN(in_left, (size_t)UINT_MAX);
    g->zs.next_out = dst;
    g->zs.avail_out = (uInt)ZC_MIN(len, (size_t)UINT_MAX);
    uInt in_before = g->zs.avail_in, out_before = g->zs.avail_out;
    int zr = inflate(&g->zs, Z_NO_FLUSH);
    g->pos += in_before - g->zs.avail_in;
    *out = out_before - g->zs.avail_out;
    g->crc = (uint32_t)crc32(g->crc, dst, (uInt)*out);
    g->isize += (uint32_t)*out;
    switch (zr) {
    case Z_STREAM_END:
        return member_end(g);
    case Z_OK:
        return 0;
    case Z_BUF_ERROR: /* no progress: the input ran out inside the member */
        return g->pos == g->len ? -ENODATA : -EILSEQ;
    case Z_MEM_ERROR:
        return -ENOMEM;
    default: /* Z_DATA_ERROR, Z_NEED_DICT: not valid deflate data */
        return -EILSEQ;
    }
}

int gz_pull(struct gz_in *g, void *dst, size_t len, size_t *got)
{
    uint8_t *d = dst;
    *got = 0;
    while (*got < len) {
        if (!g->in_member) {
            if (only_padding(g))
                return 0;
            int err = member_begin(g);
            if (err)
                return err;
        }
        size_t out;
        int err = inflate_some(g, d + *got, len - *got, &out);
        *got += out;
        if (err)
            return err;
    }
    return 0;
}

int gz_read(struct gz_in *g, void *dst, size_t len)
{
    size_t got;
    int err = gz_pull(g, dst, len, &got);
    return err ? err : got < len ? -ENODATA : 0;
}

int gz_skip(struct gz_in *g, uint64_t len, uint64_t *skipped)
{
    uint8_t *scratch = malloc(GZ_SCRATCH);
    if (!scratch)
        return -ENOMEM;
    int err = 0;
    *skipped = 0;
    while (!err && *skipped < len) {
        size_t want = (size_t)ZC_MIN(len - *skipped, (uint64_t)GZ_SCRATCH), got;
        err = gz_pull(g, scratch, want, &got);
        *skipped += got;
        if (got < want)
            break; /* the last member's end, or an error */
    }
    free(scratch);
    return err;
}
