/* test_progress.c - the progress line: silent off a terminal; on one (a
 * pseudo-terminal here) it shows percent, bytes, rate and ETA, and counts
 * exactly what several threads add at once. */
#define _GNU_SOURCE
#include "zc/base.h"
#include "progress.h"
#include "zc_test.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <unistd.h>

#define THREADS 4
#define ADDS    20000

static struct zc_progress p;

static void *adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < ADDS; i++)
        zc_progress_add(&p, 512);
    return NULL;
}

static void silent_off_a_terminal(void)
{
    int devnull = open("/dev/null", O_WRONLY);
    int saved = dup(STDERR_FILENO);
    dup2(devnull, STDERR_FILENO);
    zc_progress_start(&p, "x", 100, false);
    dup2(saved, STDERR_FILENO);
    CHECK(!p.enabled);
    zc_progress_add(&p, 40);
    CHECK_EQ(p.done, 40);
    zc_progress_finish(&p);
    CHECK(!p.drawn);
    close(devnull);
    close(saved);
}

static void drawn_on_a_terminal_by_many_threads(void)
{
    int master, slave;
    CHECK_OK(openpty(&master, &slave, NULL, NULL, NULL));
    int saved = dup(STDERR_FILENO);
    dup2(slave, STDERR_FILENO);
    zc_progress_start(&p, "test", (uint64_t)THREADS * ADDS * 512, false);
    CHECK(p.enabled);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_OK(-pthread_create(&t[i], NULL, adder, NULL));
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    zc_progress_finish(&p);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    CHECK_EQ(p.done, (uint64_t)THREADS * ADDS * 512);
    /* A terminal hands its output over in pieces: read until it is quiet. */
    static char out[1 << 16];
    size_t got = 0;
    struct pollfd pfd = {master, POLLIN, 0};
    while (got < sizeof(out) - 1 && poll(&pfd, 1, 200) > 0) {
        ssize_t n = read(master, out + got, sizeof(out) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    CHECK(got > 0);
    CHECK(strstr(out, "test 100.0%"));
    CHECK(strstr(out, "39.06 MiB / 39.06 MiB"));
    CHECK(strstr(out, "/s"));
    CHECK(strstr(out, "ETA 00:00"));
    close(master);
    close(slave);
    close(saved);
}

int main(void)
{
    RUN(silent_off_a_terminal);
    RUN(drawn_on_a_terminal_by_many_threads);
    return 0;
}
