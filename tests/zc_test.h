/* zc_test.h - the assertions every test executable uses.
 *
 * A test is a plain program run by ctest; it passes when it exits 0.
 * CHECK() reports file:line and the failed expression and exits 1, so a
 * test stops at its first broken guarantee.  CHECK_EQ/CHECK_ERR print both
 * values.
 */
#ifndef ZC_TEST_H
#define ZC_TEST_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", __FILE__,         \
                    __LINE__, #a, #b, check_a_, check_b_);                                         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* The call returned 0 (success); otherwise print the errno text. */
#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        long long check_r_ = (long long)(call);                                                    \
        if (check_r_ < 0) {                                                                        \
            fprintf(stderr, "%s:%d: %s failed: %lld (%s)\n", __FILE__, __LINE__, #call, check_r_,  \
                    strerror((int)-check_r_));                                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Run one named test function and say so. */
#define RUN(fn)                                                                                    \
    do {                                                                                           \
        fprintf(stderr, "  %s\n", #fn);                                                            \
        fn();                                                                                      \
    } while (0)

/* Descriptors this process has open (counting the one the count uses):
 * a test that must leave nothing open compares it before and after. */
static inline int zc_test_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

#ifdef ZC_TESTS_DIR /* set by zc_test() */
/* Field name of the JSON object json (a command's --json line) into value
 * (n bytes), as tests/json_field.py prints it: the tests read JSON with
 * Python's parser, never by searching the text.  0, or -ENOENT when json
 * is not an object or has no such field. */
static inline int zc_test_json_field(const char *json, const char *name, char *value, size_t n)
{
    int in[2], out[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execl("/usr/bin/python3", "python3", ZC_TESTS_DIR "/json_field.py", name, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    size_t len = strlen(json); /* a --json line fits a pipe's buffer */
    CHECK(write(in[1], json, len) == (ssize_t)len && write(in[1], "\n", 1) == 1);
    close(in[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < n && (r = read(out[0], value + got, n - 1 - got)) > 0)
        got += (size_t)r;
    close(out[0]);
    while (got > 0 && value[got - 1] == '\n')
        got--;
    value[got] = 0;
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ENOENT;
}
#endif

#endif
