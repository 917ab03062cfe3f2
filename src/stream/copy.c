/* copy.c - memcpy and memset with non-temporal (streaming) stores.
 *
 * A streaming store writes a whole cache line to memory through a
 * write-combining buffer without first reading the line into the cache
 * (no read-for-ownership) and without evicting anything to make room for
 * it.  That is what a device's DMA does, and what a firehose of sensor data
 * should do: the copy is as fast as memcpy for buffers larger than the last
 * level cache, and the other core's working set stays where it was.
 *
 * glibc's memcpy streams only above a threshold of a large fraction of the
 * last-level cache (192 MiB on the development machine), so zc issues the
 * stores itself.  The kernels are compiled with function-level target
 * attributes and picked at run time, so that the rest of zc builds for the
 * baseline x86-64 and non-x86 builds fall back to memcpy:
 *
 *   dst: [head: memcpy up to 32-byte alignment][body: 128 B per step, streamed][tail: memcpy]
 *
 * The head and tail are at most 31 and 127 bytes written with ordinary
 * stores; the body's loads are unaligned (as fast as aligned ones on
 * current cores) and its stores aligned, which streaming stores require.
 * Streaming stores are weakly ordered: every call ends with an sfence.
 */
#include "zc/stream.h"
#include "nt.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2"))) static void copy_body_avx2(char *d, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + i + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(s + i + 96));
        _mm256_stream_si256((__m256i *)(d + i), a);
        _mm256_stream_si256((__m256i *)(d + i + 32), b);
        _mm256_stream_si256((__m256i *)(d + i + 64), c);
        _mm256_stream_si256((__m256i *)(d + i + 96), e);
    }
}

/* The same loop with ordinary stores: the control that shows what streaming
 * changes, everything else being equal. */
__attribute__((target("avx2"))) static void copy_body_avx2_cached(char *d, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + i + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(s + i + 96));
        _mm256_store_si256((__m256i *)(d + i), a);
        _mm256_store_si256((__m256i *)(d + i + 32), b);
        _mm256_store_si256((__m256i *)(d + i + 64), c);
        _mm256_store_si256((__m256i *)(d + i + 96), e);
    }
}

__attribute__((target("avx2"))) static void fill_body_avx2(char *d, int c, size_t n)
{
    __m256i v = _mm256_set1_epi8((char)c);
    for (size_t i = 0; i < n; i += 128) {
        _mm256_stream_si256((__m256i *)(d + i), v);
        _mm256_stream_si256((__m256i *)(d + i + 32), v);
        _mm256_stream_si256((__m256i *)(d + i + 64), v);
        _mm256_stream_si256((__m256i *)(d + i + 96), v);
    }
}

static void copy_body_sse2(char *d, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + i + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + i + 48));
        _mm_stream_si128((__m128i *)(d + i), a);
        _mm_stream_si128((__m128i *)(d + i + 16), b);
        _mm_stream_si128((__m128i *)(d + i + 32), c);
        _mm_stream_si128((__m128i *)(d + i + 48), e);
    }
}

static void fill_body_sse2(char *d, int c, size_t n)
{
    __m128i v = _mm_set1_epi8((char)c);
    for (size_t i = 0; i < n; i += 64) {
        _mm_stream_si128((__m128i *)(d + i), v);
        _mm_stream_si128((__m128i *)(d + i + 16), v);
        _mm_stream_si128((__m128i *)(d + i + 32), v);
        _mm_stream_si128((__m128i *)(d + i + 48), v);
    }
}

enum nt_isa nt_isa_best(void)
{
    return __builtin_cpu_supports("avx2") ? NT_ISA_AVX2 : NT_ISA_SSE2;
}

/* Bytes from d to the next 32-byte boundary (both kernels' stores need 16 or 32). */
static size_t head_bytes(const char *d)
{
    return (size_t)(-(uintptr_t)d & 31);
}

void nt_copy_isa(enum nt_isa isa, void *dst, const void *src, size_t len)
{
    if (isa == NT_ISA_MEMCPY || len < ZC_COPY_NT_MIN) {
        memcpy(dst, src, len);
        return;
    }
    char *d = dst;
    const char *s = src;
    size_t head = head_bytes(d);
    memcpy(d, s, head);
    d += head, s += head, len -= head;
    size_t body = len & ~(size_t)127;
    if (isa == NT_ISA_AVX2)
        copy_body_avx2(d, s, body);
    else
        copy_body_sse2(d, s, body);
    memcpy(d + body, s + body, len - body);
    /* Orders the streaming stores before whatever the caller stores next: it
     * pairs with the consumer's acquire load of the index that publishes dst. */
    _mm_sfence();
}

void cached_copy(void *dst, const void *src, size_t len)
{
    if (nt_isa_best() != NT_ISA_AVX2 || len < ZC_COPY_NT_MIN) {
        memcpy(dst, src, len);
        return;
    }
    char *d = dst;
    const char *s = src;
    size_t head = head_bytes(d);
    memcpy(d, s, head);
    d += head, s += head, len -= head;
    size_t body = len & ~(size_t)127;
    copy_body_avx2_cached(d, s, body);
    memcpy(d + body, s + body, len - body);
}

void nt_fill_isa(enum nt_isa isa, void *dst, int c, size_t len)
{
    if (isa == NT_ISA_MEMCPY || len < ZC_COPY_NT_MIN) {
        memset(dst, c, len);
        return;
    }
    char *d = dst;
    size_t head = head_bytes(d);
    memset(d, c, head);
    d += head, len -= head;
    size_t body = len & ~(size_t)127;
    if (isa == NT_ISA_AVX2)
        fill_body_avx2(d, c, body);
    else
        fill_body_sse2(d, c, body);
    memset(d + body, c, len - body);
    /* Pairs with the consumer's acquire load, as in nt_copy_isa(). */
    _mm_sfence();
}

const char *zc_copy_nt_impl(void)
{
    return nt_isa_best() == NT_ISA_AVX2 ? "avx2" : "sse2";
}

#else /* no streaming stores this build knows of: plain memcpy/memset */

enum nt_isa nt_isa_best(void)
{
    return NT_ISA_MEMCPY;
}

void nt_copy_isa(enum nt_isa isa, void *dst, const void *src, size_t len)
{
    memcpy(dst, src, len);
}

void nt_fill_isa(enum nt_isa isa, void *dst, int c, size_t len)
{
    memset(dst, c, len);
}

void cached_copy(void *dst, const void *src, size_t len)
{
    memcpy(dst, src, len);
}

const char *zc_copy_nt_impl(void)
{
    return "memcpy";
}

#endif

void *zc_copy_nt(void *dst, const void *src, size_t len)
{
    nt_copy_isa(nt_isa_best(), dst, src, len);
    return dst;
}

void *zc_fill_nt(void *dst, int c, size_t len)
{
    nt_fill_isa(nt_isa_best(), dst, c, len);
    return dst;
}
