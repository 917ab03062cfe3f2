/* log.c - the one logging helper, the escape of peer-chosen text, and
 * the error text.
 *
 * The library prints nothing: zc_log() formats a message only when the
 * program set a handler (zc_log_set_handler()) and the level lets it
 * through, and hands it over as it is.
 */
#include "zc/base.h"

#include <stdlib.h>
#include <string.h>
#include <errno.h>

static enum zc_log_level log_level = ZC_LOG_INFO;
static zc_log_fn log_fn; /* NULL: silent */
static void *log_ctx;

void zc_log_set_handler(zc_log_fn fn, void *ctx)
{
    log_fn = fn;
    log_ctx = ctx;
}

void zc_log_set_level(enum zc_log_level level)
{
    log_level = level;
}

const char *zc_escape(const char *s, char *out, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (!len)
        return out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[5] = {(char)*p, 0};
        if (*p == '\\' || *p == '\n' || *p == '\t' || *p == '\r') {
            e[0] = '\\';
            e[1] = *p == '\n' ? 'n' : *p == '\t' ? 't' : *p == '\r' ? 'r' : '\\';
        } else if (*p < 0x20 || *p == 0x7f) {
            e[0] = '\\', e[1] = 'x', e[2] = hex[*p >> 4], e[3] = hex[*p & 15];
        }
        size_t n = strlen(e);
        if (o + n >= len)
            break; /* never half an escape */
        memcpy(out + o, e, n);
        o += n;
    }
    out[o] = '\0';
    return out;
}

void zc_log(enum zc_log_level level, const char *fmt, ...)
{
    if (!log_fn || level > log_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_fn(log_ctx, level, line);
}

const char *zc_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0:
        return "success";
    case EBADMSG:
        return "authentication failed (bad tag or tampered data)";
    case EPROTO:
        return "protocol violation by the peer";
    default:
        return strerror(err);
    }
}
