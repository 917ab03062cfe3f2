/* zc/base.h - what every part shares: errors, logging, time, parsing of
 * sizes and addresses, and the --json writer.
 *
 * One way to do each thing: functions return 0 (or a count) on success and
 * a negative errno on failure, as liburing does; zc_strerror() turns that
 * into text.  There is no global error state, and no output: messages go
 * to the log handler the program sets (none by default).
 */
#ifndef ZC_BASE_H
#define ZC_BASE_H

#include <endian.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZC_VERSION_STRING "0.1.0"

#define ZC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ZC_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define ZC_MAX(a, b)     ((a) > (b) ? (a) : (b))
#define ZC_CACHELINE     64
#define zc_likely(x)     __builtin_expect(!!(x), 1)
#define zc_unlikely(x)   __builtin_expect(!!(x), 0)

/* Library version, "MAJOR.MINOR.PATCH". */
const char *zc_version(void);

/* Text for a negative errno returned by any zc function (or a positive one). */
const char *zc_strerror(int err);

/* ---- logging: one helper, through a handler the program sets ----
 * The library never writes to stderr itself: what it has to say (a
 * skipped symlink, a refused connection of a server) goes to the handler
 * the embedding program installed, and nowhere while there is none (the
 * default).  The message is raw text, possibly with names a peer chose:
 * a handler that prints it escapes it first (zc_escape()). */
enum zc_log_level { ZC_LOG_ERROR, ZC_LOG_WARN, ZC_LOG_INFO, ZC_LOG_DEBUG };
typedef void (*zc_log_fn)(void *ctx, enum zc_log_level level, const char *msg);

/* Sends every message at or below the level to fn(ctx, level, msg), from
 * the thread that logs it; fn NULL (the default): messages are dropped.
 * Set it once, before the threads that log start. */
void zc_log_set_handler(zc_log_fn fn, void *ctx);
/* Messages above this level are dropped before they are formatted; default ZC_LOG_INFO. */
void zc_log_set_level(enum zc_log_level level);
void zc_log(enum zc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define zc_error(...) zc_log(ZC_LOG_ERROR, __VA_ARGS__)
#define zc_warn(...)  zc_log(ZC_LOG_WARN, __VA_ARGS__)
#define zc_info(...)  zc_log(ZC_LOG_INFO, __VA_ARGS__)
#define zc_debug(...) zc_log(ZC_LOG_DEBUG, __VA_ARGS__)

/* Copies s into out (len bytes, always NUL-terminated, cut if too long)
 * with every control byte, DEL and backslash written as an escape ("\\n",
 * "\\x1b", "\\\\"), so that a name chosen by a peer cannot forge a log
 * line or drive the terminal; returns out. */
const char *zc_escape(const char *s, char *out, size_t len);

/* ---- little-endian fields of wire formats: the one set ----
 * Unaligned loads and stores of the byte order every zc format uses. */
static inline void zc_put_le16(uint8_t *p, uint16_t v)
{
    v = htole16(v);
    memcpy(p, &v, sizeof(v));
}
static inline void zc_put_le32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}
static inline void zc_put_le64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}
static inline uint16_t zc_get_le16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return le16toh(v);
}
static inline uint32_t zc_get_le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}
static inline uint64_t zc_get_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

/* ---- geometry ---- */
/* The ray o + t dir against the box [lo, hi]: true with [*t0, *t1] the
 * parameter interval inside it (slab method), false when it misses. */
static inline bool zc_ray_box(const double o[3], const double dir[3], const double lo[3],
                              const double hi[3], double *t0, double *t1)
{
    double a = -__builtin_inf(), b = __builtin_inf();
    for (int d = 0; d < 3; d++) {
        if (dir[d] == 0) {
            if (o[d] < lo[d] || o[d] > hi[d])
                return false;
            continue;
        }
        double ta = (lo[d] - o[d]) / dir[d], tb = (hi[d] - o[d]) / dir[d];
        if (ta > tb) {
            double tmp = ta;
            ta = tb;
            tb = tmp;
        }
        a = ta > a ? ta : a;
        b = tb < b ? tb : b;
    }
    *t0 = a;
    *t1 = b;
    return a <= b;
}

/* ---- time ---- */
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t zc_now_ns(void);
/* Seconds as a double, for reports. */
static inline double zc_ns_to_s(uint64_t ns)
{
    return (double)ns * 1e-9;
}
/* Median of n values (sorts a private copy); 0 when n == 0. */
double zc_median(const double *v, size_t n);

/* ---- parsing: sizes, rates, counts, addresses ---- */
/* "4096", "64K", "64KiB", "1M", "2G", "1.5GiB" -> bytes (binary multiples).
 * 0 on success, -EINVAL on a malformed value, -ERANGE on overflow. */
int zc_parse_size(const char *s, uint64_t *out);
/* Decimal unsigned integer within [min, max]; 0, -EINVAL or -ERANGE. */
int zc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Finite double; 0 or -EINVAL. */
int zc_parse_double(const char *s, double *out);
/* "WxH" (e.g. 512x512) with both in [1, 65536]; 0 or -EINVAL. */
int zc_parse_wxh(const char *s, unsigned *w, unsigned *h);

/* "HOST:PORT" or "HOST:PORT:REST" ("[v6]:PORT[:REST]" too).  host is copied
 * into host (hostlen bytes), rest points into s (NULL when absent).
 * 0 or -EINVAL. */
int zc_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, const char **rest);

/* ---- --json: one JSON object on one line ---- */
struct zc_json {
    FILE *f;
    bool first;
};
void zc_json_begin(struct zc_json *j, FILE *f);
void zc_json_num(struct zc_json *j, const char *key, double v);
void zc_json_u64(struct zc_json *j, const char *key, uint64_t v);
void zc_json_str(struct zc_json *j, const char *key, const char *v);
void zc_json_bool(struct zc_json *j, const char *key, bool v);
/* Closes the object, writes '\n' and flushes. */
void zc_json_end(struct zc_json *j);

/* ---- small I/O helpers (retry on EINTR, loop on short transfers) ---- */
/* 0 when all len bytes moved; -errno; -EPIPE (write) / -ECONNRESET (read at EOF). */
int zc_write_all(int fd, const void *buf, size_t len);
int zc_read_all(int fd, void *buf, size_t len);
/* The same at a file offset: -ENOSPC when a write makes no progress,
 * -ENODATA when the file ends before len bytes. */
int zc_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int zc_pread_all(int fd, void *buf, size_t len, uint64_t off);

/* Human-readable byte count ("1.50 GiB") into buf; returns buf. */
const char *zc_fmt_bytes(double bytes, char *buf, size_t len);

/* ---- outputs given by name (-o PATH, --plot PATH): never clobber a node ----
 * A regular file at path (or nothing yet) is replaced whole or not at all:
 * the bytes go to a temporary beside it (beside the file a symlink points
 * to: the link stays), synced and renamed over it at commit, keeping the
 * old file's mode (new files 0644).  Anything else is written through,
 * never removed or renamed over: a FIFO (open waits for a reader, as a
 * shell's '>' does), a character device, a terminal, a symlink to one of
 * them (/dev/stdout).  "-" is standard output.  A write error, such as
 * ENOSPC from /dev/full or EPIPE from a FIFO whose reader left, is
 * returned, never raised as SIGPIPE. */
struct zc_output {
    int fd;       /* where the bytes go; -1 when not open */
    bool owned;   /* fd is ours to close (not standard output) */
    char *tmp;    /* the temporary, NULL when written through */
    char *target; /* what tmp replaces at commit */
    unsigned mode;
};
/* 0 with o open; -EISDIR, -ENXIO (a socket), or -errno of the path or of
 * the temporary (ENOENT, ENOTDIR, EACCES for its folder): call it before
 * the work whose result it will hold, so a bad path fails first. */
int zc_output_open(struct zc_output *o, const char *path);
/* All len bytes or -errno (-ENOSPC, -EPIPE, -EIO, ...). */
int zc_output_write(struct zc_output *o, const void *buf, size_t len);
/* Publishes: renames the temporary into place, or closes the node.
 * 0 or -errno; on failure nothing was published.  o is closed either way. */
int zc_output_commit(struct zc_output *o);
/* Drops what was written (the temporary is removed; a node keeps what it
 * got).  Safe on a closed or committed o. */
void zc_output_abort(struct zc_output *o);

#ifdef __cplusplus
}
#endif

#endif /* ZC_BASE_H */
