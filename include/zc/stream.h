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

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- streaming copies ---- */

/* Below this many bytes zc_copy_nt() and zc_fill_nt() use memcpy/memset: a
 * short copy costs more in the fence and the write-combining flush than it
 * saves.  Measured with `zc bench stream`: into uncached memory, streaming
 * ran at 0.8-0.93x memcpy for 4 KiB blocks, on par at 8 KiB, faster above. */
#define ZC_COPY_NT_MIN 8192

/* Copies len bytes from src to dst (no overlap) with non-temporal stores,
 * then fences (sfence), so that a release store after it publishes the data.
 * Any alignment and size.  Returns dst. */
void *zc_copy_nt(void *dst, const void *src, size_t len);

/* Sets len bytes at dst to the byte c with non-temporal stores, then fences.
 * Returns dst. */
void *zc_fill_nt(void *dst, int c, size_t len);

/* Which streaming-store code the CPU got: "avx2", "sse2" or "memcpy". */
const char *zc_copy_nt_impl(void);

/* ---- the co-runner: the working set that ingest should leave alone ---- */

/* A thread doing dependent random lookups in a table sized to the caches
 * (larger than the private L2, most of the shared L3), as an index or a hash
 * join does.  It logs (time, CPU time, lookups) about every millisecond so
 * that the lookup rate of any time window can be read back afterwards. */
struct zc_corunner;

/* Starts the co-runner on cpu (-1: wherever the scheduler puts it) with a
 * table of table_bytes (0: the largest table, up to the L3, whose lookups
 * run at least 4 times as fast as from DRAM here, found by sweeping sizes), logging up
 * to max_seconds of samples; returns once the thread has measured its
 * rate from DRAM (zc_corunner_far_rate()).  0 on success (*cp set),
 * -EINVAL, -ENOMEM, -errno from pthread_create. */
int zc_corunner_start(struct zc_corunner **cp, int cpu, size_t table_bytes, double max_seconds);

/* Stops the thread (its samples stay readable).  Idempotent. */
void zc_corunner_stop(struct zc_corunner *c);

/* Lookups per second of the co-runner's own CPU time between the monotonic
 * times t0 and t1 (zc_now_ns()), from the samples nearest inside the window.
 * 0 on success; -ENODATA when the window holds fewer than two samples,
 * -EBUSY before zc_corunner_stop(). */
int zc_corunner_rate(const struct zc_corunner *c, uint64_t t0, uint64_t t1, double *rate);

/* Lookups per second of CPU time in a table far larger than the L3 (eight
 * times it, 64 MiB to 1 GiB), measured on the co-runner's core before
 * zc_corunner_start() returned: the rate from DRAM.  A table that lives in
 * cache runs several times faster; an alone rate close to this one means
 * the machine gives the co-runner no cache of its own (shared L3, other
 * guests), and ingest has nothing left to evict.  0 when the large table
 * could not be allocated. */
double zc_corunner_far_rate(const struct zc_corunner *c);

/* The table's size in bytes. */
size_t zc_corunner_table_bytes(const struct zc_corunner *c);

/* Stops it if needed and frees everything (NULL is fine). */
void zc_corunner_destroy(struct zc_corunner *c);

/* ---- sensors, the frame pool and its consumer ---- */

/* How frames are written: streaming stores (zc_copy_nt), or the same AVX2
 * copy loop with ordinary stores, so that the store is all that differs. */
enum zc_store { ZC_STORE_NT, ZC_STORE_REGULAR };

enum zc_sensor_kind {
    ZC_SENSOR_CAMERA, /* 1920x1080 YUV 4:2:2 frame, 4147200 bytes */
    ZC_SENSOR_LIDAR,  /* 128 beams x 1024 azimuth steps x 16-byte points, 2 MiB */
    ZC_SENSOR_RADAR,  /* 256 range x 128 Doppler x 4 channels x complex int16, 512 KiB */
    ZC_SENSOR_KINDS
};

/* Every frame starts with this header, written by the producer into the
 * frame pool (shared memory the consumer maps) and copied out, validated,
 * by the consumer before it believes any of it:
 *
 *   slot: [zc_frame_hdr, 64 B][payload, payload_len B][pad to 4 KiB]
 */
#define ZC_FRAME_MAGIC 0x7a636672u /* "zcfr" */
struct zc_frame_hdr {
    uint32_t magic;
    uint16_t sensor;      /* index among the configured sensors */
    uint16_t kind;        /* enum zc_sensor_kind */
    uint64_t seq;         /* per sensor from 0; a gap is a frame dropped at the source */
    uint64_t due_ns;      /* when the sensor produced it (zc_now_ns()) */
    uint32_t payload_len; /* the kind's frame size */
    uint32_t pattern;     /* which test pattern the payload holds */
    uint64_t checksum;    /* zc_frame_checksum() of the payload */
    uint8_t reserved[24];
};
static_assert(sizeof(struct zc_frame_hdr) == 64, "one cache line");

/* A position-dependent 64-bit sum of len bytes (len a multiple of 8): a
 * torn frame (lines of two frames mixed) or a moved block changes it. */
uint64_t zc_frame_checksum(const void *payload, size_t len);

/* Bytes of one frame's payload of this kind (0 for an unknown kind). */
size_t zc_sensor_frame_bytes(enum zc_sensor_kind kind);

/* Where the consumer persists frames: not at all, with O_DIRECT (the
 * device reads the frame pool itself) or through the page cache. */
enum zc_persist_mode { ZC_PERSIST_NONE, ZC_PERSIST_DIRECT, ZC_PERSIST_BUFFERED };

struct zc_ingest_config {
    unsigned sensors[ZC_SENSOR_KINDS]; /* how many of each kind (at least one in all) */
    uint64_t rate;                     /* bytes per second over all sensors (> 0) */
    unsigned slots;                    /* frame slots each sensor owns in the pool (0: 8) */
    bool verify;                       /* the consumer checksums every payload */
    int cpu;                           /* producer and consumer cpu, -1: unpinned */
    enum zc_persist_mode persist;      /* the consumer writes every frame to persist_path */
    const char *persist_path;          /* a loop recording: whole slots (4 KiB multiples) */
    uint64_t persist_max_bytes;        /* where the recording wraps (0: 1 GiB) */
    bool spin; /* the producer spins between frames instead of sleeping, so that its core
                  looks the same to the rest of the machine whatever the rate */
};

/* Spins on the calling thread's core for ns nanoseconds, as a spinning
 * producer does with no frame due: the "alone" phase of a measurement. */
void zc_stream_spin(uint64_t ns);

struct zc_ingest_stats {
    uint64_t frames;         /* delivered to the consumer and accepted */
    uint64_t bytes;          /* their bytes, headers included */
    uint64_t dropped_frames; /* due but never delivered: no free slot or producer too late */
    uint64_t dropped_late;   /* of those, the ones the producer reached too late */
    uint64_t missing_frames; /* sequence gaps the consumer saw (equals dropped_frames) */
    uint64_t bad_frames;     /* refused by the consumer: header, length, sequence or checksum */
    uint64_t ns;             /* time the sensors ran: at least the duration asked */
    uint64_t persisted;      /* frames written to the recording */
    uint64_t persist_errors; /* frames whose write failed (counted, the run goes on) */
};

struct zc_ingest;

/* Builds the frame pool (the buffer region of a ring, zc/ring.h) and the
 * sensors, and starts the consumer thread on the ring's device end.  0 on
 * success (*ip set), -EINVAL for a bad config, -ENOMEM, -errno. */
int zc_ingest_create(struct zc_ingest **ip, const struct zc_ingest_config *cfg);

/* Runs the sensors for duration_ns, their frames written into the pool with
 * store and posted to the consumer, then waits until the consumer has
 * returned every frame.  Adds what happened to *st.  0 on success, -EPROTO
 * when the ring broke, -ETIMEDOUT when the consumer stopped answering. */
int zc_ingest_run(struct zc_ingest *in, enum zc_store store, uint64_t duration_ns,
                  struct zc_ingest_stats *st);

/* Bytes of the recording resident in the page cache now (0 without
 * persistence).  0 or -errno. */
int zc_ingest_persist_cached(const struct zc_ingest *in, uint64_t *bytes);

/* Bytes of the frame pool. */
size_t zc_ingest_pool_bytes(const struct zc_ingest *in);

/* Stops the consumer and frees everything (NULL is fine). */
void zc_ingest_destroy(struct zc_ingest *in);

/* Pins the calling thread to cpu.  0 or -errno (-EINVAL: no such cpu). */
int zc_stream_pin_cpu(int cpu);

#ifdef __cplusplus
}
#endif

#endif /* ZC_STREAM_H */
