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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
