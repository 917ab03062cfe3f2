/* test_copy.c - zc_copy_nt() and zc_fill_nt() against memcpy/memset, with
 * every kernel the CPU has, for every source and destination alignment
 * within a cache line and sizes around each boundary of the head / body /
 * tail split; guard bytes on both sides prove nothing outside is touched. */
#include "zc/base.h"
#include "zc/stream.h"
#include "../../src/stream/nt.h"
#include "zc_test.h"

#include <stdint.h>

#define GUARD  160
#define MAXLEN (3 * ZC_COPY_NT_MIN + 512)

static unsigned char src_buf[MAXLEN + 2 * GUARD];
static unsigned char dst_buf[MAXLEN + 2 * GUARD];

static void fill_pattern(unsigned char *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (unsigned char)(seed >> 24);
    }
}

/* dst_buf holds 0xA5 everywhere but [off, off+len), which must equal want. */
static void check_dst(size_t off, size_t len, const unsigned char *want, int c)
{
    for (size_t i = 0; i < off; i++)
        CHECK(dst_buf[i] == 0xA5);
    for (size_t i = 0; i < len; i++)
        CHECK(dst_buf[off + i] == (want ? want[i] : (unsigned char)c));
    for (size_t i = off + len; i < sizeof(dst_buf); i++)
        CHECK(dst_buf[i] == 0xA5);
}

static void one_copy(enum nt_isa isa, size_t soff, size_t doff, size_t len)
{
    memset(dst_buf, 0xA5, sizeof(dst_buf));
    nt_copy_isa(isa, dst_buf + doff, src_buf + soff, len);
    check_dst(doff, len, src_buf + soff, 0);
}

static void one_cached(size_t soff, size_t doff, size_t len)
{
    memset(dst_buf, 0xA5, sizeof(dst_buf));
    cached_copy(dst_buf + doff, src_buf + soff, len);
    check_dst(doff, len, src_buf + soff, 0);
}

static void one_fill(enum nt_isa isa, size_t doff, size_t len, int c)
{
    memset(dst_buf, 0xA5, sizeof(dst_buf));
    nt_fill_isa(isa, dst_buf + doff, c, len);
    check_dst(doff, len, NULL, c);
}

/* Sizes where the split between head, body and tail changes. */
static const size_t edge_sizes[] = {
    0,
    1,
    31,
    32,
    33,
    127,
    128,
    129,
    ZC_COPY_NT_MIN - 1,
    ZC_COPY_NT_MIN,
    ZC_COPY_NT_MIN + 1,
    ZC_COPY_NT_MIN + 31,
    ZC_COPY_NT_MIN + 32,
    ZC_COPY_NT_MIN + 127,
    ZC_COPY_NT_MIN + 128,
    ZC_COPY_NT_MIN + 159,
    2 * ZC_COPY_NT_MIN + 63,
    MAXLEN,
};

static void test_every_alignment(void)
{
    for (int isa = NT_ISA_MEMCPY; isa <= (int)nt_isa_best(); isa++)
        for (size_t s = 0; s < 64; s++)
            for (size_t d = 0; d < 64; d++)
                for (size_t k = 0; k < ZC_ARRAY_SIZE(edge_sizes); k++) {
                    one_copy((enum nt_isa)isa, GUARD + s, GUARD + d, edge_sizes[k]);
                    if (isa == NT_ISA_MEMCPY)
                        one_cached(GUARD + s, GUARD + d, edge_sizes[k]);
                    if (s == 0)
                        one_fill((enum nt_isa)isa, GUARD + d, edge_sizes[k], (int)(d * 7 + k));
                }
}

static void test_every_size(void)
{
    /* Every size across the threshold and a few body steps, odd alignments. */
    for (int isa = NT_ISA_MEMCPY; isa <= (int)nt_isa_best(); isa++)
        for (size_t len = ZC_COPY_NT_MIN - 300; len <= ZC_COPY_NT_MIN + 300; len++) {
            one_copy((enum nt_isa)isa, GUARD + (len % 61), GUARD + (len % 37), len);
            one_fill((enum nt_isa)isa, GUARD + (len % 53), len, (int)len);
        }
}

static void test_public_entry(void)
{
    memset(dst_buf, 0xA5, sizeof(dst_buf));
    CHECK(zc_copy_nt(dst_buf + GUARD + 3, src_buf + GUARD + 9, MAXLEN - 7) == dst_buf + GUARD + 3);
    check_dst(GUARD + 3, MAXLEN - 7, src_buf + GUARD + 9, 0);
    memset(dst_buf, 0xA5, sizeof(dst_buf));
    CHECK(zc_fill_nt(dst_buf + GUARD + 5, 0x3C, MAXLEN - 5) == dst_buf + GUARD + 5);
    check_dst(GUARD + 5, MAXLEN - 5, NULL, 0x3C);
    const char *impl = zc_copy_nt_impl();
    CHECK(strcmp(impl, "avx2") == 0 || strcmp(impl, "sse2") == 0 || strcmp(impl, "memcpy") == 0);
}

int main(void)
{
    fill_pattern(src_buf, sizeof(src_buf), 12345);
    RUN(test_every_alignment);
    RUN(test_every_size);
    RUN(test_public_entry);
    return 0;
}
