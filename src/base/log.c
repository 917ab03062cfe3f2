/* log.c - the one logging helper, the error text and usage errors.
 *
 * Messages go to stderr as "PREFIX: text"; the level comes from
 * zc_log_set_level() or the ZC_LOG environment variable.
 */
#include "zc/base.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>

static const char *log_prefix = "zc";
static int log_level = -1; /* -1: not read from ZC_LOG yet */

void zc_log_set_prefix(const char *prefix)
{
    log_prefix = prefix ? prefix : "zc";
}

void zc_log_set_level(enum zc_log_level level)
{
    log_level = (int)level;
}

static int current_level(void)
{
    if (log_level < 0) {
        static const char *const names[] = {"error", "warn", "info", "debug"};
        const char *env = getenv("ZC_LOG");
        log_level = ZC_LOG_INFO;
        for (size_t i = 0; env && i < ZC_ARRAY_SIZE(names); i++)
            if (strcasecmp(env, names[i]) == 0)
                log_level = (int)i;
    }
    return log_level;
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
    if ((int)level > current_level())
        return;
    char line[1024], safe[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* Messages carry names peers chose: no raw control byte reaches stderr.
     * One write per line so that lines of concurrent processes do not interleave. */
    fprintf(stderr, "%s: %s%s\n", log_prefix, level == ZC_LOG_WARN ? "warning: " : "",
            zc_escape(line, safe, sizeof(safe)));
}

int zc_usage_error(const char *cmd, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "zc %s: %s\nTry 'zc %s --help'.\n", cmd, line, cmd);
    return ZC_EXIT_USAGE;
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
