/* test_place_log.c - the library prints nothing.  A server session whose
 * peer sends garbage fails; with no log handler set, nothing reaches
 * stderr (fd 2 is a pipe here, read afterwards), and with one set, the
 * handler hears why, as raw text at the warning level. */
#define _GNU_SOURCE
#include "zc/base.h"
#include "zc/crypto.h"
#include "zc/place.h"
#include "zc_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static struct zc_keypair key;
static char root[] = "/tmp/zc-place-log-XXXXXX";

/* One session on a socketpair whose client end sends 200 bytes of junk
 * and hangs up; the session's result. */
static int failed_session(void)
{
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    char junk[200];
    memset(junk, 0x5a, sizeof(junk));
    CHECK_EQ(write(sv[1], junk, sizeof(junk)), sizeof(junk));
    close(sv[1]);
    struct zc_place_server_config cfg = {.root = root, .key = &key, .idle_timeout_ms = 5000};
    return zc_place_serve_session(sv[0], &cfg, NULL);
}

static unsigned heard;
static enum zc_log_level heard_level;
static char heard_msg[1024];

static void hear(void *ctx, enum zc_log_level level, const char *msg)
{
    CHECK(ctx == &heard);
    heard++;
    heard_level = level;
    snprintf(heard_msg, sizeof(heard_msg), "%s", msg);
}

static void silent_without_handler(void)
{
    int p[2];
    CHECK_OK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
    int saved = dup(STDERR_FILENO);
    CHECK(saved >= 0);
    CHECK(dup2(p[1], STDERR_FILENO) == STDERR_FILENO);
    int r = failed_session();
    CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
    close(saved);
    close(p[1]);
    CHECK(r < 0);
    char buf[512];
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    if (n > 0) {
        buf[n] = '\0';
        fprintf(stderr, "the library wrote to stderr: %s\n", buf);
    }
    CHECK_EQ(n, 0); /* EOF: the pipe is empty and its writer closed */
    close(p[0]);
}

static void handler_hears_why(void)
{
    zc_log_set_handler(hear, &heard);
    CHECK(failed_session() < 0);
    zc_log_set_handler(NULL, NULL);
    CHECK_EQ(heard, 1);
    CHECK_EQ(heard_level, ZC_LOG_WARN);
    CHECK(strstr(heard_msg, "handshake failed"));
    /* Below the level set, the handler is not called at all. */
    zc_log_set_handler(hear, &heard);
    zc_log_set_level(ZC_LOG_ERROR);
    CHECK(failed_session() < 0);
    zc_log_set_handler(NULL, NULL);
    zc_log_set_level(ZC_LOG_INFO);
    CHECK_EQ(heard, 1);
}

int main(void)
{
    CHECK(mkdtemp(root));
    CHECK_OK(zc_keypair_generate(&key));
    RUN(silent_without_handler);
    RUN(handler_hears_why);
    rmdir(root);
    return 0;
}
