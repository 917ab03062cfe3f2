/* nt.h - the streaming-store kernels behind zc_copy_nt() and zc_fill_nt(),
 * one per instruction set, so that the tests can run each one the CPU has. */
#ifndef ZC_STREAM_NT_H
#define ZC_STREAM_NT_H

#include <stddef.h>

enum nt_isa { NT_ISA_MEMCPY, NT_ISA_SSE2, NT_ISA_AVX2 };

/* The best kernel this CPU runs (checked once per call, cheaply). */
enum nt_isa nt_isa_best(void);

/* zc_copy_nt() / zc_fill_nt() with the kernel isa (at most nt_isa_best()). */
void nt_copy_isa(enum nt_isa isa, void *dst, const void *src, size_t len);
void nt_fill_isa(enum nt_isa isa, void *dst, int c, size_t len);

/* The AVX2 copy loop of zc_copy_nt() with ordinary stores instead of
 * streaming ones, no fence (memcpy without AVX2): the control for measuring
 * what streaming changes. */
void cached_copy(void *dst, const void *src, size_t len);

#endif
