/* The one parser of sizes, numbers and addresses, and the --json writer. */
#include "zc/base.h"
#include "zc_test.h"

#include <errno.h>

static void sizes(void)
{
    uint64_t v;
    CHECK_OK(zc_parse_size("4096", &v));
    CHECK_EQ(v, 4096);
    CHECK_OK(zc_parse_size("64KiB", &v));
    CHECK_EQ(v, 65536);
    CHECK_OK(zc_parse_size("2G", &v));
    CHECK_EQ(v, 2147483648ull);
    CHECK_OK(zc_parse_size("1.5k", &v));
    CHECK_EQ(v, 1536);
    CHECK_EQ(zc_parse_size("", &v), -EINVAL);
    CHECK_EQ(zc_parse_size("-1", &v), -EINVAL);
    CHECK_EQ(zc_parse_size("12Q", &v), -EINVAL);
    CHECK_EQ(zc_parse_size("1.3", &v), -EINVAL);
    CHECK_EQ(zc_parse_size("99999999999T", &v), -ERANGE);
}

static void numbers(void)
{
    uint64_t v;
    unsigned w, h;
    CHECK_OK(zc_parse_u64("17", 1, 100, &v));
    CHECK_EQ(v, 17);
    CHECK_EQ(zc_parse_u64("0", 1, 100, &v), -ERANGE);
    CHECK_EQ(zc_parse_u64("7x", 1, 100, &v), -EINVAL);
    CHECK_EQ(zc_parse_u64("-3", 0, 100, &v), -EINVAL);
    CHECK_OK(zc_parse_wxh("512x256", &w, &h));
    CHECK_EQ(w, 512);
    CHECK_EQ(h, 256);
    CHECK_EQ(zc_parse_wxh("512x", &w, &h), -EINVAL);
    CHECK_EQ(zc_parse_wxh("0x5", &w, &h), -EINVAL);
}

static void hostports(void)
{
    char host[64];
    uint16_t port;
    const char *rest;
    CHECK_OK(zc_parse_hostport("127.0.0.1:9000", host, sizeof(host), &port, &rest));
    CHECK(strcmp(host, "127.0.0.1") == 0);
    CHECK_EQ(port, 9000);
    CHECK(rest == NULL);
    CHECK_OK(zc_parse_hostport("localhost:22:dir/sub", host, sizeof(host), &port, &rest));
    CHECK(strcmp(rest, "dir/sub") == 0);
    CHECK_OK(zc_parse_hostport("[::1]:80:x", host, sizeof(host), &port, &rest));
    CHECK(strcmp(host, "::1") == 0);
    CHECK_EQ(port, 80);
    CHECK_EQ(zc_parse_hostport("host", host, sizeof(host), &port, &rest), -EINVAL);
    CHECK_EQ(zc_parse_hostport("host:0", host, sizeof(host), &port, &rest), -EINVAL);
    CHECK_EQ(zc_parse_hostport("host:70000", host, sizeof(host), &port, &rest), -EINVAL);
    CHECK_EQ(zc_parse_hostport(":80", host, sizeof(host), &port, &rest), -EINVAL);
}

static void json(void)
{
    char buf[256] = {0};
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    struct zc_json j;
    zc_json_begin(&j, f);
    zc_json_num(&j, "rate", 2.5);
    zc_json_u64(&j, "n", 7);
    zc_json_str(&j, "s", "a\"b");
    zc_json_bool(&j, "ok", true);
    zc_json_end(&j);
    fclose(f);
    CHECK(strcmp(buf, "{\"rate\":2.5,\"n\":7,\"s\":\"a\\\"b\",\"ok\":true}\n") == 0);
}

static void median(void)
{
    double v[] = {5, 1, 4, 2, 3};
    CHECK(zc_median(v, 5) == 3.0);
    CHECK(zc_median(v, 4) == 3.0); /* 5 1 4 2 -> (2+4)/2 */
}

/* Names from peers reach logs and terminals only escaped. */
static void escapes(void)
{
    char out[32];
    CHECK(!strcmp(zc_escape("a\nb\x1b[2Jc\\", out, sizeof(out)), "a\\nb\\x1b[2Jc\\\\"));
    CHECK(!strcmp(zc_escape("caf\xc3\xa9\x7f", out, sizeof(out)), "caf\xc3\xa9\\x7f"));
    CHECK(!strcmp(zc_escape("abc\x01", out, 6), "abc")); /* no half escape */
    CHECK(!strcmp(zc_escape("abcdefgh", out, 4), "abc"));
}

int main(void)
{
    RUN(escapes);
    RUN(sizes);
    RUN(numbers);
    RUN(hostports);
    RUN(json);
    RUN(median);
    return 0;
}
