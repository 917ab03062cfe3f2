/* cli.c - what the `zc` command prints for the library and for itself:
 * its log lines, bad options and --json failures, the same for every
 * command.  The one place where a log message meets the terminal. */
#include "cli.h"
#include "zc/base.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct {
    bool json;
    int err; /* the first failure, positive; 0 while none */
    char message[1024];
} failure;

static void log_to_stderr(void *ctx, enum zc_log_level level, const char *msg)
{
    char safe[1024];
    /* Messages carry names peers chose: no raw control byte reaches stderr.
     * One write per line so that lines of concurrent processes do not interleave. */
    fprintf(stderr, "%s: %s%s\n", (const char *)ctx, level == ZC_LOG_WARN ? "warning: " : "",
            zc_escape(msg, safe, sizeof(safe)));
}

void cli_log_to_stderr(const char *prefix)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    const char *env = getenv("ZC_LOG");
    enum zc_log_level level = ZC_LOG_INFO;
    for (size_t i = 0; env && i < ZC_ARRAY_SIZE(names); i++)
        if (strcasecmp(env, names[i]) == 0)
            level = (enum zc_log_level)i;
    zc_log_set_level(level);
    zc_log_set_handler(log_to_stderr, (void *)prefix);
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

int cli_bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (strncmp(arg, "--", 2) != 0)
        return c == ':' ? zc_usage_error(cmd, "option '-%c' needs a value", optopt)
                        : zc_usage_error(cmd, "unknown option '-%c'", optopt);
    int len = (int)strcspn(arg, "=");
    if (c == ':' || (optopt && arg[len]))
        return zc_usage_error(cmd, "option '%.*s' %s", len, arg,
                              c == ':' ? "needs a value" : "takes no value");
    return zc_usage_error(cmd, "unknown option '%.*s'", len, arg);
}

/* Logs the message when asked, and keeps the first failure: the cause. */
static void __attribute__((format(printf, 3, 0)))
record(int err, bool log, const char *fmt, va_list ap)
{
    char line[sizeof(failure.message)];
    vsnprintf(line, sizeof(line), fmt, ap);
    if (log)
        zc_error("%s", line);
    if (failure.err)
        return;
    failure.err = err < 0 ? -err : err ? err : EIO;
    memcpy(failure.message, line, sizeof(line));
}

int cli_fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(err, true, fmt, ap);
    va_end(ap);
    return err;
}

int cli_fail_said(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(err, false, fmt, ap);
    va_end(ap);
    return err;
}

void cli_json_failures(bool on)
{
    failure.json = on;
}

int cli_job_failed(bool json, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(err, true, fmt, ap);
    va_end(ap);
    if (json)
        cli_json_failures(true);
    return ZC_EXIT_FAIL;
}

int cli_exit(int rc)
{
    if (rc != ZC_EXIT_FAIL || !failure.json)
        return rc;
    struct zc_json j;
    zc_json_begin(&j, stdout);
    zc_json_str(&j, "error", failure.err ? failure.message : "failed (the reason is on stderr)");
    zc_json_u64(&j, "errno", (uint64_t)(failure.err ? failure.err : EIO));
    zc_json_end(&j);
    return rc;
}
