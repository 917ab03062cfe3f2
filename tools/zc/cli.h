/* cli.h - what every `zc` command shares beyond zc/base.h: one line for a
 * bad option, and the --json object of a failed job.
 *
 * A command parses with opterr = 0 and an optstring that starts with ':'
 * (so that getopt_long says nothing itself and tells a missing value from
 * an unknown option), and hands '?' and ':' to cli_bad_option().  A failed
 * job says why through cli_fail(); with --json (cli_json_failures()), main
 * then prints {"error":"<that message>","errno":<positive errno>} as the
 * last line of stdout.
 */
#ifndef ZC_TOOLS_CLI_H
#define ZC_TOOLS_CLI_H

#include <stdbool.h>

/* Exit codes of every `zc` command: done, failed (one line on stderr says
 * why), or the command line was wrong. */
enum { ZC_EXIT_OK = 0, ZC_EXIT_FAIL = 1, ZC_EXIT_USAGE = 2 };

/* Prints the library's messages on stderr as "zc CMD: text" ("zc CMD:
 * warning: text" for warnings), prefix being "zc CMD", escaped
 * (zc_escape()) so that no name a peer chose reaches the terminal raw;
 * the level comes from the ZC_LOG environment variable
 * (error|warn|info|debug; default info).  prefix is kept by pointer. */
void cli_log_to_stderr(const char *prefix);

/* "zc CMD: message" and "Try 'zc CMD --help'." on stderr; returns ZC_EXIT_USAGE. */
int zc_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "zc CMD: unknown option '--x'" (or "option '--x' needs a value", "takes
 * no value") and the --help hint, once; returns ZC_EXIT_USAGE.  c is what
 * getopt_long returned, '?' or ':'. */
int cli_bad_option(const char *cmd, int c, char **argv);

/* Logs the message as zc_error() does and keeps the first failure of the
 * job for --json; returns err (a negative errno). */
int cli_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same for a failure already logged (by code that tests link without
 * this file): kept for --json, not logged again. */
int cli_fail_said(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The command was asked for --json: a failed job ends with the object. */
void cli_json_failures(bool on);

/* A failed job in one call: cli_json_failures(json) and cli_fail(err, ...);
 * returns ZC_EXIT_FAIL. */
int cli_job_failed(bool json, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* What main returns: rc, after the --json failure object when rc is
 * ZC_EXIT_FAIL and the command asked for it. */
int cli_exit(int rc);

#endif
