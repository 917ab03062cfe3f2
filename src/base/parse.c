/* parse.c - the one way to read sizes, numbers and addresses from a user. */
#include "zc/base.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int zc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int zc_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

int zc_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -EINVAL;
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        return -EINVAL;
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {
        {"", 1.0},
        {"b", 1.0},
        {"k", 1024.0},
        {"kb", 1024.0},
        {"kib", 1024.0},
        {"m", 1048576.0},
        {"mb", 1048576.0},
        {"mib", 1048576.0},
        {"g", 1073741824.0},
        {"gb", 1073741824.0},
        {"gib", 1073741824.0},
        {"t", 1099511627776.0},
        {"tb", 1099511627776.0},
        {"tib", 1099511627776.0},
    };
    for (size_t i = 0; i < ZC_ARRAY_SIZE(units); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            double bytes = v * units[i].mult;
            if (bytes >= 18446744073709551615.0)
                return -ERANGE;
            if (bytes != floor(bytes))
                return -EINVAL;
            *out = (uint64_t)bytes;
            return 0;
        }
    }
    return -EINVAL;
}

int zc_parse_wxh(const char *s, unsigned *w, unsigned *h)
{
    if (!s)
        return -EINVAL;
    const char *x = strchr(s, 'x');
    if (!x || x == s || strlen(x + 1) == 0 || x - s > 15)
        return -EINVAL;
    char first[16];
    memcpy(first, s, (size_t)(x - s));
    first[x - s] = '\0';
    uint64_t a, b;
    if (zc_parse_u64(first, 1, 65536, &a) || zc_parse_u64(x + 1, 1, 65536, &b))
        return -EINVAL;
    *w = (unsigned)a;
    *h = (unsigned)b;
    return 0;
}

int zc_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, const char **rest)
{
    if (!s || !*s || hostlen == 0)
        return -EINVAL;
    const char *hend, *p;
    if (*s == '[') { /* [v6]:port */
        hend = strchr(s, ']');
        if (!hend || hend[1] != ':')
            return -EINVAL;
        s++;
        p = hend + 2;
    } else {
        hend = strchr(s, ':');
        if (!hend)
            return -EINVAL;
        p = hend + 1;
    }
    size_t n = (size_t)(hend - s);
    if (n == 0 || n >= hostlen)
        return -EINVAL;
    memcpy(host, s, n);
    host[n] = '\0';

    const char *pend = strchr(p, ':');
    size_t plen = pend ? (size_t)(pend - p) : strlen(p);
    char num[8];
    if (plen == 0 || plen >= sizeof(num))
        return -EINVAL;
    memcpy(num, p, plen);
    num[plen] = '\0';
    uint64_t v;
    if (zc_parse_u64(num, 1, 65535, &v))
        return -EINVAL;
    *port = (uint16_t)v;
    if (rest)
        *rest = pend ? pend + 1 : NULL;
    return 0;
}
