/* time.c - the one clock and the one statistics helper the benchmarks use. */
#include "zc/base.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t zc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double zc_median(const double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    double stackbuf[64];
    double *tmp = n <= ZC_ARRAY_SIZE(stackbuf) ? stackbuf : malloc(n * sizeof(*tmp));
    if (!tmp)
        return v[0];
    memcpy(tmp, v, n * sizeof(*tmp));
    qsort(tmp, n, sizeof(*tmp), cmp_double);
    double m = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
    if (tmp != stackbuf)
        free(tmp);
    return m;
}
