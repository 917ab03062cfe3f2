/* zc/stream.h - cache-polite ingest of sensor-rate data.
 *
 * A sensor's firehose written with ordinary stores evicts the CPU's working
 * set from the shared caches.  Non-temporal (streaming) stores send it
 * around the caches straight to memory, the way a device's DMA lands: the
 * copy runs as fast and the rest of the machine keeps its caches.
 *
 *   zc_copy_nt / zc_fill_nt   memcpy / memset with streaming stores
 *   zc_corunner_*             a working-set workload that measures the damage
 *   zc_ingest_*               simulated sensors filling a frame pool, frames
 *                             handed to a consumer as descriptors
 *
 * Functions return 0 (or a count) on success and a negative errno on failure.
 */
#ifndef ZC_STREAM_H
#define ZC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- streaming copies ---- */

/* Below this many bytes zc_copy_nt() and zc_fill_nt() use memcpy/memset:
 * a short copy costs more in fences and partial lines than it saves (measured
 * by `zc bench stream`). */
#define ZC_COPY_NT_MIN 4096

/* Copies len bytes from src to dst (no overlap) with non-temporal stores,
 * then fences (sfence), so that a release store after it publishes the data.
 * Any alignment and size.  Returns dst. */
void *zc_copy_nt(void *dst, const void *src, size_t len);

/* Sets len bytes at dst to the byte c with non-temporal stores, then fences.
 * Returns dst. */
void *zc_fill_nt(void *dst, int c, size_t len);

/* Which streaming-store code the CPU got: "avx2", "sse2" or "memcpy". */
const char *zc_copy_nt_impl(void);

#endif /* ZC_STREAM_H */
